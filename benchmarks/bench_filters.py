"""Benchmark CalSciPy.image_processing against scipy.ndimage and OpenCV, and out-of-core memory.

Prints one table of in-memory filters on ``(frames, 512, 512)`` uint16 and float32 stacks:
the median (3×3×3 on ``--frames`` frames; 5×5×5 and 7×7×7 on ``--wide-frames`` frames, scipy
being slow there) against ``scipy.ndimage.median_filter`` (identical output required), and the
gaussian at σ = 1, 3, 5 against ``scipy.ndimage.gaussian_filter`` (agreement) and against a
separable OpenCV 3-D filter (``cv2.sepFilter2D`` along frames on the ``(frames, y·x)`` image,
then ``cv2.GaussianBlur`` per frame; reflect borders, scipy's radius) on ``--gaussian-frames``
frames. Every case runs ``--rounds`` interleaved rounds (ours, scipy, OpenCV, ours, ...) and
reports the median wall time, the median ratio with its range over the rounds, and the median
ratio of CPU time (process time of all threads: less sensitive to other load on the machine,
and it shows the work done where wall time shows the waiting). Then the peak resident memory of
:func:`CalSciPy.image_processing.filter_to_file` on a ~4 GB binary stack (``VmHWM`` of a fresh
subprocess; the stack lives in a temporary folder and is removed afterwards).

OpenCV is a benchmark peer only, never a dependency: install ``opencv-python-headless`` in a
separate place (``pip install --target /tmp/peers opencv-python-headless``, or a git-ignored
``benchmarks/.venv-peers``) and point ``--peers`` at its site-packages; without it the OpenCV
column is skipped with a message.

Usage: ``python benchmarks/bench_filters.py [--frames 100] [--wide-frames 8]
[--gaussian-frames 100] [--rounds 3] [--only median|gaussian] [--oc-gb 4.0]
[--peers /tmp/peers] [--no-warm]`` (``--oc-gb 0`` skips the out-of-core part; before each
timed call twice the input's bytes of memory are touched and freed, outside the timing, unless
``--no-warm``: see :func:`_warm`).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
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


def _timed(function) -> tuple[float, float, np.ndarray]:
    """Wall seconds, CPU seconds (all threads of this process) and the result."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - start, time.process_time() - cpu, result


def _import_cv2(peers: str | None):
    if peers:
        sys.path.append(peers)  # appended: the project's numpy stays first
    try:
        import cv2
    except ImportError as err:
        return None, f"OpenCV column skipped: cv2 not importable ({err}); see --peers"
    return cv2, None


def _cv2_gaussian(cv2, images: np.ndarray, sigma: float) -> np.ndarray:
    """Separable OpenCV 3-D gaussian: frames on the (frames, y*x) image, then y and x."""
    from CalSciPy._smoothing import gaussian_kernel, gaussian_radius

    weights = gaussian_kernel(sigma).astype(np.float32)
    flat = images.reshape(images.shape[0], -1)
    out = cv2.sepFilter2D(flat, -1, np.ones(1, np.float32), weights,
                          borderType=cv2.BORDER_REFLECT).reshape(images.shape)
    size = 2 * gaussian_radius(sigma) + 1
    for t in range(out.shape[0]):
        out[t] = cv2.GaussianBlur(out[t], (size, size), sigma, borderType=cv2.BORDER_REFLECT)
    return out


def _warm(nbytes: int) -> None:
    """Touch ``nbytes`` of new memory and free it, so that the next allocations get pages the
    host has already provided.

    On a virtual machine with a memory balloon (virtio-balloon free-page reporting, as on the
    machines these figures come from) memory a process frees goes back to the host after a
    couple of seconds, and the first touch of it afterwards costs the host's allocation: up
    to 13 s per GB measured there, against 0.1 s per GB for warm pages. Which timed call
    meets that depends on what ran just before it (a slow scipy call leaves time for the
    pages to go), so without this step the rounds measure the host, not the filters.
    """
    if nbytes > 0:
        np.ones(nbytes, dtype=np.uint8)


def _rounds(functions: dict, rounds: int, warm_bytes: int = 0) -> tuple[dict, dict, dict]:
    """Interleaved rounds; returns per-name wall times, CPU times and the last results.

    Before each timed call, ``warm_bytes`` of memory are touched and freed (:func:`_warm`;
    outside the timing, the same for every function).
    """
    times: dict = {name: [] for name in functions}
    cpu: dict = {name: [] for name in functions}
    results: dict = {}
    for _ in range(rounds):
        for name, function in functions.items():
            results.pop(name, None)  # its pages are what the warm-up and this call reuse
            _warm(warm_bytes)
            seconds, cpu_seconds, results[name] = _timed(function)
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
    return times, cpu, results


def _ratio(times: dict, reference: str) -> tuple[float, float, float]:
    ratios = [r / o for r, o in zip(times[reference], times["ours"])]
    return statistics.median(ratios), min(ratios), max(ratios)


def _spread(values: list) -> tuple[float, float, float]:
    """``(median, min, max)`` of one variant's times over the rounds."""
    return statistics.median(values), min(values), max(values)


def _cpu_ratio(cpu: dict, reference: str) -> float:
    return statistics.median(r / max(o, 1e-9) for r, o in zip(cpu[reference], cpu["ours"]))


def _shown(spread: tuple[float, float, float]) -> str:
    return f"{spread[0]:.3f} ({spread[1]:.3f}-{spread[2]:.3f})"


def _movie(frames: int, dtype) -> np.ndarray:
    """Noisy uint16-range movie: smooth background, bright blobs, shot noise."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:SHAPE_YX[0], :SHAPE_YX[1]]
    background = 800 + 400 * np.sin(x / 60.0) * np.cos(y / 45.0)
    movie = rng.poisson(background[None], size=(frames, *SHAPE_YX)).astype(np.float64)
    movie += rng.normal(0, 30, movie.shape)
    return np.clip(movie, 0, 65535).astype(dtype)


def bench_in_memory(frames: int, wide_frames: int, gaussian_frames: int, rounds: int, cv2,
                    only: str | None = None, warm: bool = True) -> list[tuple]:
    """Rows ``(case, ours s, ref name, ref s, ratio, CPU-time ratio, agreement, target)``,
    times and ratio each as ``(median, low, high)`` over the rounds. With ``warm``, twice
    the input's bytes are touched before each timed call (:func:`_warm`)."""
    rows = []
    for dtype in (np.uint16, np.float32):
        name = np.dtype(dtype).name
        movie = _movie(max(frames, wide_frames, gaussian_frames), dtype)
        median_filter(movie[:3, :16, :16])  # compile outside the timing
        median_filter(movie[:3, :16, :16], mask=np.ones((5, 5, 5)))
        for sigma in (1.0, 3.0, 5.0):  # single and paired y rows
            gaussian_filter(movie[:9, :64, :64], sigma)
        for size, n, target in ((3, frames, 5), (5, wide_frames, 5), (7, wide_frames, 5)):
            if only == "gaussian":
                break
            images = movie[:n]
            warm_bytes = 2 * images.nbytes if warm else 0
            mask = np.ones((size,) * 3)
            times, cpu, out = _rounds({
                "ours": lambda x=images, m=mask: median_filter(x, mask=m),
                "scipy": lambda x=images, s=size: ndi.median_filter(x, size=s, mode="reflect"),
            }, rounds, warm_bytes)
            same = "identical" if np.array_equal(out["ours"], out["scipy"]) else "DIFFERENT"
            rows.append((f"median {size}x{size}x{size} {name} ({n} fr)",
                         _spread(times["ours"]), "scipy",
                         _spread(times["scipy"]), _ratio(times, "scipy"),
                         _cpu_ratio(cpu, "scipy"), same, target))
        images = movie[:gaussian_frames]
        warm_bytes = 2 * images.nbytes if warm else 0
        for sigma in (1.0, 3.0, 5.0):
            if only == "median":
                break
            functions = {
                "ours": lambda x=images, s=sigma: gaussian_filter(x, s),
                "scipy": lambda x=images, s=sigma: ndi.gaussian_filter(x, s, mode="reflect"),
            }
            if cv2 is not None:
                functions["opencv"] = lambda x=images, s=sigma: _cv2_gaussian(cv2, x, s)
            times, cpu, out = _rounds(functions, rounds, warm_bytes)
            diff = np.abs(out["ours"].astype(np.float64) - out["scipy"].astype(np.float64))
            if np.dtype(dtype).kind == "f":
                agree = f"max rel diff {diff.max() / np.abs(out['scipy']).max():.1e}"
            else:
                agree = f"max diff {diff.max():.0f} LSB"
            case = f"gaussian s={sigma:g} {name} ({gaussian_frames} fr)"
            rows.append((case, _spread(times["ours"]), "scipy",
                         _spread(times["scipy"]), _ratio(times, "scipy"),
                         _cpu_ratio(cpu, "scipy"), agree, 1.5))
            if cv2 is not None:
                rows.append((case, _spread(times["ours"]), "opencv",
                             _spread(times["opencv"]), _ratio(times, "opencv"),
                             _cpu_ratio(cpu, "opencv"), "", 2))
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
    parser.add_argument("--wide-frames", type=int, default=8)
    parser.add_argument("--gaussian-frames", type=int, default=None,
                        help="frames of the gaussian cases (default: --frames)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("median", "gaussian"), default=None,
                        help="run only the median or only the gaussian in-memory cases")
    parser.add_argument("--oc-gb", type=float, default=4.0)
    parser.add_argument("--peers", default=None,
                        help="site-packages folder holding cv2 (benchmark peer only)")
    parser.add_argument("--no-warm", action="store_true",
                        help="do not touch fresh memory before each timed call (see _warm)")
    args = parser.parse_args()

    cv2, message = _import_cv2(args.peers)
    if message:
        print(message)
    gaussian_frames = args.frames if args.gaussian_frames is None else args.gaussian_frames
    rows = bench_in_memory(args.frames, args.wide_frames, gaussian_frames, args.rounds, cv2,
                           args.only, not args.no_warm)
    print(f"in memory: (frames, {SHAPE_YX[0]}, {SHAPE_YX[1]}), reflect borders, median of "
          f"{args.rounds} interleaved rounds; ratio = reference time / ours (median, range); "
          f"cpu = the same for CPU time; "
          f"{'no memory warm-up' if args.no_warm else 'memory warmed before each call'}")
    print(f"{'case':<36} {'ours s (range)':>21} {'vs':<7} {'ref s (range)':>21} {'ratio':>7} "
          f"{'range':>14} {'cpu':>6} {'target':>6}  {'agreement':<22} met")
    for case, ours, ref_name, ref, (ratio, low, high), cpu, agree, target in rows:
        met = ratio >= target and agree != "DIFFERENT"
        # two decimals: a ratio next to its target must not round onto it
        print(f"{case:<36} {_shown(ours):>21} {ref_name:<7} {_shown(ref):>21} {ratio:6.2f}x "
              f"{low:6.2f}-{high:5.2f}x {cpu:5.2f}x {target:5.1f}x  {agree:<22} "
              f"{'yes' if met else 'NO'}")
    if args.oc_gb > 0:
        print()
        print(f"{'out of core':<56} {'s':>7} {'peak RSS MB':>12} {'import-only MB':>15} "
              f"{'exact':>6} {'< 1 GB':>7}")
        for name, seconds, rss, base, exact in bench_out_of_core(args.oc_gb):
            print(f"{name:<56} {seconds:7.1f} {rss:12.0f} {base:15.0f} "
                  f"{'yes' if exact else 'NO':>6} {'yes' if rss < 1000 else 'NO':>7}")


if __name__ == "__main__":
    main()
