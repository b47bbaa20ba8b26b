"""Benchmark CalSciPy.image_processing against scipy.ndimage, and out-of-core peak memory.

Prints one table: median 3×3×3 and gaussian σ=1 on ``(frames, 512, 512)`` uint16 and float32
stacks (ours vs ``scipy.ndimage`` with ``mode="reflect"``, ratio, agreement), then the peak
resident memory of :func:`CalSciPy.image_processing.filter_to_file` on a ~4 GB binary stack
(``load_binary(mapped=True)`` source, measured as ``VmHWM`` in a fresh subprocess; the
stack lives in a temporary folder on disk and is removed afterwards).

Usage: ``python benchmarks/bench_filters.py [--frames 100] [--oc-gb 4.0] [--repeats 3]``
(``--oc-gb 0`` skips the out-of-core part).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi

from CalSciPy import io_tools
from CalSciPy.image_processing import gaussian_filter, median_filter

SHAPE_YX = (512, 512)

# Peak memory of the child's own address space: VmHWM (ru_maxrss would also count the parent's
# pages at fork time, which Linux carries across exec).
_CHILD = """
import json, resource, sys, time
from CalSciPy.io_tools import load_binary
from CalSciPy.image_processing import filter_to_file
start = time.perf_counter()
if sys.argv[1] == "filter":
    source = load_binary(sys.argv[2], mapped=True)
    filter_to_file(source, sys.argv[3], "median", progress=False)
seconds = time.perf_counter() - start
try:
    with open("/proc/self/status") as status:
        line = next(row for row in status if row.startswith("VmHWM:"))
    peak_mb = int(line.split()[1]) / 1024
except OSError:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"maxrss_mb": peak_mb, "seconds": seconds}))
"""


def _best(function, repeats: int) -> tuple[float, np.ndarray]:
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _movie(frames: int, dtype) -> np.ndarray:
    """Noisy uint16-range movie: smooth background, bright blobs, shot noise."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:SHAPE_YX[0], :SHAPE_YX[1]]
    background = 800 + 400 * np.sin(x / 60.0) * np.cos(y / 45.0)
    movie = rng.poisson(background[None], size=(frames, *SHAPE_YX)).astype(np.float64)
    movie += rng.normal(0, 30, movie.shape)
    return np.clip(movie, 0, 65535).astype(dtype)


def bench_in_memory(frames: int, repeats: int) -> list[tuple]:
    rows = []
    for dtype in (np.uint16, np.float32):
        images = _movie(frames, dtype)
        median_filter(images[:3, :16, :16])  # compile outside the timing
        gaussian_filter(images[:3, :16, :16])
        ours_t, ours = _best(lambda x=images: median_filter(x), repeats)
        ref_t, ref = _best(lambda x=images: ndi.median_filter(x, size=3, mode="reflect"), 1)
        same = "identical" if np.array_equal(ours, ref) else "DIFFERENT"
        rows.append((f"median 3x3x3 {np.dtype(dtype).name}", ours_t, ref_t, same,
                     ref_t / ours_t >= 5 and same == "identical", 5))
        ours_t, ours = _best(lambda x=images: gaussian_filter(x, 1.0), repeats)
        ref_t, ref = _best(lambda x=images: ndi.gaussian_filter(x, 1.0, mode="reflect"),
                           repeats)
        diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
        if np.dtype(dtype).kind == "f":
            error = float(diff.max() / np.abs(ref).max())
            agree, ok = f"max rel diff {error:.1e}", error <= 1e-5
        else:
            error = float(diff.max())
            agree, ok = f"max diff {error:.0f} LSB", error <= 1
        rows.append((f"gaussian s=1 {np.dtype(dtype).name}", ours_t, ref_t, agree,
                     ref_t / ours_t >= 1.5 and ok, 1.5))
    return rows


def _write_big_stack(path: Path, gigabytes: float) -> tuple[int, int, int]:
    frame_bytes = SHAPE_YX[0] * SHAPE_YX[1] * 2
    frames = int(gigabytes * 1e9 // frame_bytes)
    pool = _movie(32, np.uint16)
    with open(path.with_suffix(".bin"), "wb") as handle:
        for start in range(0, frames, pool.shape[0]):
            handle.write(pool[:min(pool.shape[0], frames - start)].tobytes())
    meta = {"frames": frames, "y": SHAPE_YX[0], "x": SHAPE_YX[1], "dtype": "uint16"}
    path.with_suffix(".json").write_text(json.dumps(meta))
    return (frames, *SHAPE_YX)


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spot_check(src: Path, dst: Path, shape: tuple[int, int, int]) -> bool:
    """Compare frames around block seams with the in-memory filter of a window."""
    source = io_tools.load_binary(src, mapped=True, mode="r")
    result = io_tools.load_binary(dst, mapped=True, mode="r")
    n = shape[0]
    for centre in (0, 127, 128, 129, n // 2, n - 1):
        lo, hi = max(0, centre - 3), min(n, centre + 4)
        expected = median_filter(np.array(source[lo:hi]))
        # frames whose whole 3-frame neighbourhood lies in the window (or at the stack ends)
        inner = [f for f in range(lo, hi)
                 if (f - 1 >= lo or f == 0) and (f + 1 < hi or f == n - 1)]
        for f in inner:
            if not np.array_equal(result[f], expected[f - lo]):
                return False
    return True


def bench_out_of_core(gigabytes: float) -> list[tuple]:
    folder = Path(tempfile.mkdtemp(prefix="calscipy_bench_filters_"))
    try:
        src, dst = folder / "big.bin", folder / "filtered.bin"
        shape = _write_big_stack(src, gigabytes)
        size_gb = np.prod(shape) * 2 / 1e9
        baseline = _child("import")
        run = _child("filter", str(src), str(dst))
        exact = _spot_check(src, dst, shape)
        return [(f"filter_to_file median, {size_gb:.1f} GB memmap {shape}",
                 run["seconds"], run["maxrss_mb"], baseline["maxrss_mb"], exact)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--oc-gb", type=float, default=4.0)
    args = parser.parse_args()

    rows = bench_in_memory(args.frames, args.repeats)
    print(f"in memory: ({args.frames}, {SHAPE_YX[0]}, {SHAPE_YX[1]}), reflect borders, "
          f"best of {args.repeats} (scipy median: 1 run)")
    print(f"{'case':<24} {'ours s':>8} {'scipy s':>8} {'ratio':>7} {'target':>7}  "
          f"{'agreement':<22} met")
    for name, ours, ref, agree, met, target in rows:
        print(f"{name:<24} {ours:8.3f} {ref:8.3f} {ref / ours:6.1f}x {target:6.1f}x  "
              f"{agree:<22} {'yes' if met else 'NO'}")
    if args.oc_gb > 0:
        print()
        print(f"{'out of core':<56} {'s':>7} {'peak RSS MB':>12} {'import-only MB':>15} "
              f"{'exact':>6} {'< 1 GB':>7}")
        for name, seconds, rss, base, exact in bench_out_of_core(args.oc_gb):
            print(f"{name:<56} {seconds:7.1f} {rss:12.0f} {base:15.0f} "
                  f"{'yes' if exact else 'NO':>6} {'yes' if rss < 1000 else 'NO':>7}")


if __name__ == "__main__":
    main()
