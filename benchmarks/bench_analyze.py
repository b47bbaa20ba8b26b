"""Benchmark: the whole ``calscipy analyze`` run against its two unavoidable costs.

A synthetic PrairieView session (``--frames`` × ``--size`` × ``--size`` uint16, ``--rois``
somata, 30 % of them responding to a voltage stimulus every 2 s; written by the demo's
``make_session``) in a temporary folder (``CALSCIPY_BENCH_DIR`` picks the disk; removed at the
end). Each round, interleaved:

* ``load``: reading the movie once through the session's lazy stack in blocks of 500 frames
  (what extraction has to read anyway; page cache warm, as in every round);
* ``spikes``: ``infer_spikes`` alone on the pipeline's ΔF/F0 (OASIS, all cores);
* ``analyze``: :func:`CalSciPy.report.analyze_session` (what ``calscipy analyze FOLDER --rois
  labels.npy`` runs) in this process, after one warm-up run (numba kernels compiled and their
  disk cache written, as for any later run of the installed package); per-stage times from its
  summary.

Peak memory: one more ``calscipy analyze`` in a fresh process, its peak RSS (``VmHWM``: the
interpreter, the imported libraries and any file pages the process mapped).

The target of issue 15: analyze total ≤ 2 × (load + spikes), peak memory < 2 GB.

Writing the 9 000-frame session takes minutes: ``--keep`` keeps it (``CALSCIPY_BENCH_DIR`` picks
the parent folder) and ``--reuse DIR`` runs on a kept one without rewriting it. The machine's
load average is printed with each round: other work evicting the movie from the page cache
shows as a slow ``load``.

Run: ``python benchmarks/bench_analyze.py [--frames 9000] [--size 512] [--rois 300]
[--rounds 5] [--keep | --reuse DIR]``
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# Peak RSS from /proc/self/status VmHWM (this process's own high-water mark). ru_maxrss is not
# used on Linux: exec records the parent's RSS at fork in it, so a child started from this
# benchmark (which holds the generated movie) would report the parent's memory.
_CHILD = """
import json, resource, sys, time
from CalSciPy.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
try:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
except OSError:
    pass
print(json.dumps({"code": code, "wall": wall, "peak": peak}))
"""


def load_once(stack) -> float:
    start = time.perf_counter()
    total = 0
    for begin in range(0, stack.shape[0], 500):
        block = stack[begin:begin + 500]
        total += int(block[0, 0, 0])  # touch the data
    return time.perf_counter() - start


def analyze_in_process(folder: Path, rois, out: Path) -> dict:
    from CalSciPy.report import analyze_session

    result = analyze_session(folder, out, rois=rois, post_s=1.0, overwrite=True)
    return result.summary["timings_s"]


def analyze_peak_rss(folder: Path, labels: Path, out: Path) -> tuple[float, float]:
    """Wall time and peak RSS (bytes) of ``calscipy analyze`` in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, "analyze", str(folder), "--rois", str(labels),
         "--out", str(out), "--overwrite", "--no-progress", "--post", "1"],
        capture_output=True, text=True, check=False, env={**os.environ, "MPLBACKEND": "Agg"})
    if result.returncode != 0:
        raise SystemExit(f"analyze failed:\n{result.stderr[-3000:]}")
    child = json.loads(result.stdout.strip().splitlines()[-1])
    return child["wall"], child["peak"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=9000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rois", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the session folder")
    parser.add_argument("--reuse", metavar="DIR", help="a folder kept by --keep (no rewrite)")
    args = parser.parse_args()

    from CalSciPy.bruker.session import read_prairieview_session
    from CalSciPy.cli import demo
    from CalSciPy.event_processing import infer_spikes
    from CalSciPy.roi_tools import extract_traces, subtract_neuropil
    from CalSciPy.trace_processing import calculate_dfof

    if args.reuse:
        root = Path(args.reuse)
        args.keep = True
    else:
        root = Path(tempfile.mkdtemp(prefix="bench_analyze_",
                                     dir=os.environ.get("CALSCIPY_BENCH_DIR")))
    try:
        labels = root / "labels.npy"
        if not args.reuse:
            demo.SESSION_SHAPE = (args.size, args.size)
            demo.SESSION_MAX_FRAMES = args.frames
            start = time.perf_counter()
            written, truth = demo.make_session(root, neurons=args.rois,
                                               seconds=args.frames / 30.0, frame_rate=30.0,
                                               seed=0, progress=False)
            np.save(labels, truth["movie"].rois.label_image() + 1)  # label = id + 1, 0 = none
            del truth, written
            print(f"session written in {time.perf_counter() - start:.1f} s")
        folder = root / demo.SESSION_FOLDER / "TSeries-demo-001"
        session = read_prairieview_session(folder)
        stack = session.stack(0, 0)
        n, height, width = stack.shape
        print(f"session: {n} frames {height}×{width} uint16 ({n * height * width * 2 / 1e9:.2f} "
              f"GB), {int(np.load(labels).max())} ROIs")
        from CalSciPy.roi_tools import ROISet

        label_rois = ROISet.from_labels(np.load(labels))
        F, Fneu = extract_traces(stack, label_rois, progress=False)
        dfof = calculate_dfof(subtract_neuropil(F, Fneu), 30.0, method="sliding")
        load_once(stack)  # warm the page cache like every later round
        start = time.perf_counter()
        analyze_in_process(folder, label_rois, root / "out")  # warm-up: numba compile + cache
        print(f"warm-up analyze (compiles numba kernels on a first run): "
              f"{time.perf_counter() - start:.1f} s")
        rows = []
        for r in range(args.rounds):
            t_load = load_once(stack)
            start = time.perf_counter()
            with warnings.catch_warnings():  # the analysis records them; here they are noise
                warnings.simplefilter("ignore")
                infer_spikes(np.nan_to_num(dfof), 30.0, progress=False)
            t_spikes = time.perf_counter() - start
            stages = analyze_in_process(folder, label_rois, root / "out")
            rows.append((t_load, t_spikes, stages))
            print(f"round {r + 1}: load {t_load:.2f} s, spikes {t_spikes:.2f} s, analyze "
                  f"{stages['total']:.2f} s (ratio {stages['total'] / (t_load + t_spikes):.2f}; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        wall, peak = analyze_peak_rss(folder, labels, root / "out")

        def med(values):
            values = np.asarray(values, dtype=np.float64)
            return f"{np.median(values):.2f} s (range {values.min():.2f}–{values.max():.2f})"

        loads = [r[0] for r in rows]
        spikes = [r[1] for r in rows]
        totals = [r[2]["total"] for r in rows]
        ratios = [t / (lo + sp) for t, lo, sp in zip(totals, loads, spikes)]
        print(f"\n{args.rounds} interleaved rounds, medians (range):")
        print(f"  load movie once       {med(loads)}")
        print(f"  infer_spikes alone    {med(spikes)}")
        print(f"  analyze total         {med(totals)}")
        for stage in rows[0][2]:
            if stage != "total":
                print(f"    {stage:12s}        {med([r[2][stage] for r in rows])}")
        print(f"  ratio analyze / (load + spikes): median {np.median(ratios):.2f} "
              f"(range {min(ratios):.2f}–{max(ratios):.2f}); target ≤ 2")
        print(f"  calscipy analyze in a fresh process: {wall:.2f} s (numba cache warm, "
              f"imports included), peak RSS {peak / 2**30:.2f} GiB; target < 2 GB")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
