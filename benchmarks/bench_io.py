"""Benchmark CalSciPy.io_tools against plain numpy / tifffile on a 1 GB stack.

Stack: 2000 x 512 x 512 uint16 (1 GiB), written to a temporary folder under benchmarks/_out
(same disk as the project), removed afterwards. Reads run with a warm page cache (the files
were just written; dropping caches needs root privileges the benchmark does not assume), so
they measure memory bandwidth and per-file overhead more than the disk.

Rows (``REPEATS`` interleaved rounds of ours and the reference; medians of the times, and the
median (min-max) of the per-round ratios; writes create a new file each time after an untimed
``os.sync``; ratio = ours / reference, < 1 means faster):
- save_binary vs ndarray.tofile + fsync; load_binary vs np.fromfile
- save_images vs tifffile.imwrite (plain, and + fsync: every CalSciPy writer fsyncs)
- load_images (one multi-page file) vs tifffile.imread
- load_images on a folder of 20 files vs reading them one after another (tifffile.imread in a
  loop + np.concatenate), and vs our own reader limited to one thread
- peak memory of load_images (file and folder) in a fresh subprocess, as a multiple of the
  array size (VmHWM minus the RSS before the call)

Usage: python benchmarks/bench_io.py [--frames N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile

from CalSciPy._io import tiff as _tiff
from CalSciPy.io_tools import load_binary, load_images, save_binary, save_images

REPEATS = 7
OUT = Path(__file__).resolve().parent / "_out"


def compare(
    ours: Callable[[], object],
    ref: Callable[[], object],
    setup: Callable[[], object] | None = None,
) -> tuple[list[float], list[float]]:
    """``REPEATS`` times each of ``ours`` and ``ref``, interleaved so drift hits both.

    ``setup`` runs untimed before every call (delete outputs so each write creates a new file,
    ``os.sync`` so no earlier write-back competes with the timed one).
    """
    times: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(REPEATS):
        for i, func in enumerate((ref, ours)):
            if setup is not None:
                setup()
            start = time.perf_counter()
            func()
            times[i].append(time.perf_counter() - start)
    return times[1], times[0]


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tofile_fsync(images: np.ndarray, path: Path) -> None:
    with open(path, "wb") as handle:
        images.tofile(handle)
        handle.flush()
        os.fsync(handle.fileno())


PEAK_SCRIPT = """
import sys
from CalSciPy.io_tools import load_images

def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

before = status_kib("VmRSS")
images = load_images(sys.argv[1], progress=False)
# VmHWM belongs to this process image (ru_maxrss would include the parent's RSS at fork)
print((status_kib("VmHWM") - before) * 1024 / images.nbytes)
"""


def peak_ratio(path: Path) -> float:
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_io_", dir=OUT))
    rows: list[tuple[str, list[float], str, list[float], str]] = []
    try:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 4096, (args.frames, 512, 512), dtype=np.uint16)
        gib = images.nbytes / 2**30

        def add(name, ours, ref_name, ref, target=None):
            rows.append((name, ours, ref_name, ref, target or ""))

        def fresh(*paths: Path) -> Callable[[], None]:
            def setup() -> None:
                for path in paths:
                    path.unlink(missing_ok=True)
                os.sync()
            return setup

        # --- binary: both sides write a new file and fsync it
        ref_bin, ours_bin = work / "ref.bin", work / "ours.bin"
        t_ours, t_ref = compare(
            lambda: save_binary(ours_bin, images, progress=False),
            lambda: tofile_fsync(images, ref_bin),
            fresh(ref_bin, ours_bin, work / "ours.json"),
        )
        add("save_binary", t_ours, "tofile+fsync", t_ref, "<= 1.25")
        tofile_fsync(images, ref_bin)
        save_binary(ours_bin, images, progress=False)
        t_ours, t_ref = compare(lambda: load_binary(ours_bin),
                                lambda: np.fromfile(ref_bin, dtype=np.uint16))
        add("load_binary", t_ours, "np.fromfile", t_ref, "<= 1.25")
        t_ours, _ = compare(lambda: load_binary(ours_bin, mapped=True), lambda: None)
        add("load_binary(mapped=True)", t_ours, "np.fromfile", t_ref)
        ref_bin.unlink()
        ours_bin.unlink()

        # --- single multi-page TIFF
        ref_tif, ours_tif = work / "ref.tif", work / "ours.tif"
        kwargs = {"imagej": True, "photometric": "minisblack", "metadata": {"axes": "TYX"}}
        t_ours, t_plain = compare(
            lambda: save_images(ours_tif, images, progress=False),
            lambda: tifffile.imwrite(ref_tif, images, **kwargs),
            fresh(ref_tif, ours_tif),
        )
        add("save_images", t_ours, "tifffile.imwrite", t_plain, "<= 1.25")
        t_ours, t_sync = compare(
            lambda: save_images(ours_tif, images, progress=False),
            lambda: (tifffile.imwrite(ref_tif, images, **kwargs), fsync_file(ref_tif)),
            fresh(ref_tif, ours_tif),
        )
        add("save_images", t_ours, "tifffile.imwrite+fsync", t_sync, "<= 1.25")
        tifffile.imwrite(ref_tif, images, **kwargs)
        save_images(ours_tif, images, progress=False)
        t_ours, t_ref = compare(lambda: load_images(ours_tif), lambda: tifffile.imread(ref_tif))
        add("load_images (1 file)", t_ours, "tifffile.imread", t_ref, "<= 1.25")
        peak_file = peak_ratio(ours_tif)
        ref_tif.unlink()
        ours_tif.unlink()

        # --- folder of 20 files
        folder = work / "folder"
        folder.mkdir()
        for i, block in enumerate(np.array_split(images, 20)):
            tifffile.imwrite(folder / f"images_{i}.tif", block, **kwargs)
        files = _tiff.tiff_files(folder)

        def sequential():
            return np.concatenate([tifffile.imread(f) for f in files])

        def one_thread():
            saved = _tiff.MAX_READ_THREADS
            _tiff.MAX_READ_THREADS = 1
            try:
                return load_images(folder, progress=False)
            finally:
                _tiff.MAX_READ_THREADS = saved

        t_ours, t_seq = compare(lambda: load_images(folder, progress=False), sequential)
        _, t_one = compare(lambda: None, one_thread)
        add("load_images (20 files)", t_ours, "imread loop+concatenate", t_seq, ">= 1.5x faster")
        add("load_images (20 files)", t_ours, "our reader, 1 thread", t_one)
        peak_folder = peak_ratio(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"bench_io: {args.frames} x 512 x 512 uint16 = {gib:.2f} GiB, temp folder on the "
          f"project disk, warm page cache, {os.cpu_count()} CPUs, median of {REPEATS} "
          f"interleaved rounds (range of the per-round ratios)")
    header = (f"{'operation':<26} {'ours s':>8} {'reference':<25} {'ref s':>8} "
              f"{'ratio (range)':>20}  target")
    print(header)
    print("-" * len(header))
    for name, ours, ref_name, ref, target in rows:
        per_round = np.asarray(ours) / np.asarray(ref)
        suffix = ""
        if "faster" in target:
            per_round, suffix = 1.0 / per_round, "x"
        shown = (f"{np.median(per_round):.2f}{suffix} ({per_round.min():.2f}-"
                 f"{per_round.max():.2f})")
        print(f"{name:<26} {np.median(ours):8.3f} {ref_name:<25} {np.median(ref):8.3f} "
              f"{shown:>20}  {target}")
    print(f"peak memory of load_images: 1 file {peak_file:.2f}x array size, "
          f"20-file folder {peak_folder:.2f}x array size (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
