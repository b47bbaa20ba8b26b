"""Benchmark: loading a PrairieView T-series (bruker.data) against per-file tifffile reads.

A synthetic 3 000-frame 512×512 single-channel session (1.5 GB of single-frame OME-TIFFs,
written by ``CalSciPy.synthetic.write_prairieview_session``) in a temporary folder (removed at
the end; ``CALSCIPY_BENCH_DIR`` picks the disk). All reads are from the page cache (the files
were just written and read once to warm it); ``cat`` of all files to /dev/null is the
page-cache limit.

Run: ``python benchmarks/bench_bruker.py [--frames 3000] [--size 512] [--repeats 3]``
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import tifffile

from CalSciPy.bruker._naming import image_name
from CalSciPy.bruker.data import (
    determine_imaging_content,
    load_bruker_tifs,
    repackage_bruker_tifs,
)
from CalSciPy.synthetic import write_prairieview_session


def _spread(values, digits: int = 3) -> str:
    """``median (min-max)`` of a list of timings or ratios."""
    values = np.asarray(values, dtype=float)
    return (f"{np.median(values):.{digits}f} ({values.min():.{digits}f}-"
            f"{values.max():.{digits}f})")


def best_of(repeats: int, func) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        result = None
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def traced_peak(func) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = func()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def reference_load(files: list[Path]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.stack([tifffile.imread(f) for f in files])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--names", type=int, default=30000)
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench_bruker_",
                                     dir=os.environ.get("CALSCIPY_BENCH_DIR")) as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        images = rng.integers(0, 8192, (args.frames, args.size, args.size), dtype=np.uint16)
        start = time.perf_counter()
        written = write_prairieview_session(tmp / "TSeries-bench", images, frame_rate=30.0)
        write_s = time.perf_counter() - start
        del images
        files = sorted(written.folder.glob("*_Ch2_*.ome.tif"))
        total_bytes = sum(f.stat().st_size for f in files)
        print(f"session: {len(files)} files, {total_bytes / 2**30:.2f} GiB, written in "
              f"{write_s:.1f} s ({tmp})", file=sys.stderr)

        def cat() -> None:
            subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)

        cat()
        # interleaved rounds: on a shared machine the load changes over time, so each round
        # times all three back to back; medians of the rounds and of the per-round ratios are
        # reported, with the range
        cat_t, ref_t, ours_t = [], [], []
        for _ in range(args.repeats):
            t, _ = best_of(1, cat)
            cat_t.append(t)
            t, ref = best_of(1, lambda: reference_load(files))
            ref_t.append(t)
            del ref
            t, ours = best_of(1, lambda: load_bruker_tifs(written.folder, progress=False))
            ours_t.append(t)
            del ours
        cat_s, ref_s, ours_s = (float(np.median(t)) for t in (cat_t, ref_t, ours_t))
        speedup = np.asarray(ref_t) / np.asarray(ours_t)
        vs_cat = np.asarray(ours_t) / np.asarray(cat_t)
        ref = reference_load(files)
        ours = load_bruker_tifs(written.folder, progress=False)
        identical = np.array_equal(ours[0], ref)
        del ref, ours
        ref_peak, ref_arr = traced_peak(lambda: reference_load(files))
        ref_nbytes = ref_arr.nbytes
        del ref_arr
        our_peak, our_arr = traced_peak(lambda: load_bruker_tifs(written.folder, progress=False))
        our_nbytes = our_arr[0].nbytes
        del our_arr
        gbps = total_bytes / 2**30
        rows += [
            ("cat files > /dev/null (page-cache limit)", _spread(cat_t),
             f"{gbps / cat_s:.2f}", "1.00 (reference point)"),
            ("tifffile.imread per file + np.stack", _spread(ref_t), f"{gbps / ref_s:.2f}",
             f"{ref_s / cat_s:.2f}x cat"),
            ("load_bruker_tifs", _spread(ours_t), f"{gbps / ours_s:.2f}",
             f"{_spread(vs_cat, 2)}x cat; {_spread(speedup, 2)}x faster than tifffile "
             f"(medians of the per-round ratios, range; target >= 3x); "
             f"identical={identical}"),
            ("peak memory: tifffile + stack", f"{ref_peak / 2**30:.2f} GiB", "",
             f"{ref_peak / ref_nbytes:.2f}x result"),
            ("peak memory: load_bruker_tifs", f"{our_peak / 2**30:.2f} GiB", "",
             f"{our_peak / our_nbytes:.3f}x result (target <= 1.15x)"),
        ]

        out = tmp / "repackaged"
        start = time.perf_counter()
        rep_peak, _ = traced_peak(lambda: repackage_bruker_tifs(written.folder, out,
                                                                 progress=False))
        rep_s = time.perf_counter() - start
        out_bytes = sum(f.stat().st_size for f in out.iterdir())
        rows.append(("repackage_bruker_tifs (peak memory)", f"{rep_s:.3f}",
                     f"{gbps / rep_s:.2f}",
                     f"peak {rep_peak / 2**20:.0f} MiB = {rep_peak / out_bytes:.3f}x the "
                     f"{out_bytes / 2**30:.2f} GiB output file (bound: <= 1x)"))

        names_dir = tmp / "names"
        names_dir.mkdir()
        tifffile.imwrite(names_dir / image_name("big", 1, 2, 1), np.zeros((512, 512), np.uint16))
        for i in range(2, args.names + 1):
            (names_dir / image_name("big", 1, 2, i)).touch()
        content_t = []
        for _ in range(args.repeats):
            t, content = best_of(1, lambda: determine_imaging_content(names_dir))
            content_t.append(t)
        rows.append((f"determine_imaging_content, {args.names} names", _spread(content_t), "",
                     f"target < 0.5 s; {content}"))

    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'time (s)':>24}  {'GiB/s':>6}  ratio / note")
    for name, secs, rate, note in rows:
        print(f"{name:<{width}}  {secs:>24}  {rate:>6}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
