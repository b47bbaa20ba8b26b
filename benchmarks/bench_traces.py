"""Benchmark of CalSciPy.trace_processing against straightforward references.

Data: 500 neurons × 18 000 frames (10 min at 30 Hz), float32, from CalSciPy.synthetic.
References (written here): a per-neuron loop (``filtfilt`` + ``np.percentile`` per row for
ΔF/F0, ``np.polyfit``/``np.polyval`` per row for detrending) and a numpy-vectorised
Perona–Malik diffusion (all neurons at once, float64 internals). Each timing is the best of
``--repeats`` runs after one warm-up call (numba compiles on first use; the compiled kernels
are cached on disk). Also reports the peak memory of ``calculate_dfof(in_place=True)``
relative to the input, by tracemalloc (numpy allocations) and by the growth of the peak RSS
(VmHWM, reset through /proc/self/clear_refs) in a fresh subprocess (everything, including
numba's buffers), with a copying call as control.

Run: ``python benchmarks/bench_traces.py [--neurons 500] [--frames 18000] [--repeats 3]``
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np
from scipy.signal import filtfilt, firwin

from CalSciPy.synthetic import generate_traces
from CalSciPy.trace_processing import (
    calculate_dfof,
    calculate_standardized_noise,
    detrend_polynomial,
    perona_malik_diffusion,
)

FRAME_RATE = 30.0


# ----------------------------------------------------------------------------- references
def loop_dfof(traces: np.ndarray, frame_rate: float = FRAME_RATE) -> np.ndarray:
    n = traces.shape[1]
    taps = min(30, n // 3)
    taps -= taps % 2 == 0
    padlen = 3 * taps
    if padlen == n:
        taps -= 1
        padlen = 3 * taps
    b = firwin(taps, cutoff=1.0, fs=frame_rate)
    out = np.empty_like(traces)
    for i, row in enumerate(traces):
        f0 = np.percentile(filtfilt(b, [1.0], row, padlen=padlen), 5)
        out[i] = (row.astype(np.float64) - f0) / f0
    return out


def loop_detrend(traces: np.ndarray) -> np.ndarray:
    x = np.arange(traces.shape[1])
    out = np.empty_like(traces)
    for i, row in enumerate(traces):
        out[i] = row - np.polyval(np.polyfit(x, row, 4), x)
    return out


def numpy_perona_malik(traces: np.ndarray, iters: int = 25, kappa: float = 0.15,
                       gamma: float = 0.25) -> np.ndarray:
    x = traces.copy()
    k = kappa * (x.max(axis=1, keepdims=True) - x.min(axis=1, keepdims=True)).astype(np.float64)
    d = np.zeros(x.shape)
    for _ in range(iters):
        d[:, :-1] = np.diff(x, axis=1)
        phi = d * np.exp(-((d / k) ** 2))
        delta = phi.copy()
        delta[:, 1:] -= phi[:, :-1]
        x += (gamma * delta).astype(x.dtype)
    return x


def loop_noise(dfof: np.ndarray, frame_rate: float = FRAME_RATE) -> np.ndarray:
    return np.array([100 * np.median(np.abs(np.diff(r))) / np.sqrt(frame_rate) for r in dfof])


# ----------------------------------------------------------------------------- timing
def best_time(fn, *args, repeats: int = 3, **kwargs) -> float:
    fn(*args, **kwargs)  # warm-up (numba compilation, caches)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best


def tracemalloc_peak(traces: np.ndarray) -> float:
    """Peak numpy/Python allocation during calculate_dfof(in_place=True), in bytes."""
    work = traces.copy()
    calculate_dfof(work[:2].copy(), in_place=True)
    tracemalloc.start()
    tracemalloc.reset_peak()
    calculate_dfof(work, in_place=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return float(peak)


_RSS_CHILD = r"""
import sys
import numpy as np
from CalSciPy.trace_processing import calculate_dfof


def status(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024


def peak_growth(fn):
    # writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    before = status("VmRSS")
    fn()
    return status("VmHWM") - before


n, t = int(sys.argv[1]), int(sys.argv[2])
calculate_dfof(np.random.default_rng(0).normal(100, 5, (4, t)).astype(np.float32),
               in_place=True)  # load the compiled kernels and numba's thread pool
x = np.random.default_rng(1).standard_normal((n, t), dtype=np.float32)
x *= 5
x += 100
extra = peak_growth(lambda: calculate_dfof(x, in_place=True))
# control: a copying call must show about one input size of growth
control = peak_growth(lambda: calculate_dfof(x, in_place=False))
print(extra, control)
"""


def rss_peak_extra(n_neurons: int, n_frames: int) -> tuple[float, float] | None:
    """Growth of the peak RSS during the in-place call in a fresh process, and (control)
    during a following copying call, in bytes (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    result = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(n_neurons), str(n_frames)],
        capture_output=True, text=True, check=True, env=os.environ.copy(),
    )
    extra, control = (float(v) for v in result.stdout.strip().splitlines()[-1].split())
    return extra, control


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=500)
    parser.add_argument("--frames", type=int, default=18_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    sim = generate_traces(args.neurons, args.frames, FRAME_RATE, seed=0)
    traces = sim.traces  # float32
    dfof = calculate_dfof(traces)
    print(f"data: {traces.shape[0]} neurons × {traces.shape[1]} frames float32 at "
          f"{FRAME_RATE:g} Hz ({traces.nbytes / 2**20:.1f} MiB); cores: {os.cpu_count()}; "
          f"best of {args.repeats}")

    # correctness of each pair on this data, before timing
    np.testing.assert_allclose(calculate_dfof(traces), loop_dfof(traces), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(detrend_polynomial(traces), loop_detrend(traces), atol=1e-2)
    np.testing.assert_allclose(perona_malik_diffusion(traces), numpy_perona_malik(traces),
                               atol=1e-2)

    rows = [
        ("calculate_dfof (baseline)", best_time(calculate_dfof, traces, repeats=args.repeats),
         "per-neuron filtfilt + np.percentile loop",
         best_time(loop_dfof, traces, repeats=args.repeats), 2.0),
        ("detrend_polynomial", best_time(detrend_polynomial, traces, repeats=args.repeats),
         "per-row np.polyfit loop", best_time(loop_detrend, traces, repeats=args.repeats), 5.0),
        ("perona_malik_diffusion", best_time(perona_malik_diffusion, traces,
                                             repeats=args.repeats),
         "numpy-vectorised Perona-Malik",
         best_time(numpy_perona_malik, traces, repeats=args.repeats), 3.0),
        ("calculate_standardized_noise", best_time(calculate_standardized_noise, dfof,
                                                   repeats=args.repeats),
         "per-row np.median loop", best_time(loop_noise, dfof, repeats=args.repeats), None),
        ("calculate_dfof (sliding, 30 s)", best_time(calculate_dfof, traces, method="sliding",
                                                     repeats=args.repeats),
         "(no reference; ours only)", float("nan"), None),
    ]
    header = f"{'function':32s} {'ours [s]':>9s}  {'reference':42s} {'ref [s]':>8s} " \
             f"{'speed-up':>9s} {'target':>7s} {'met':>4s}"
    print(header)
    print("-" * len(header))
    failures = 0
    for name, ours, ref_name, ref, target in rows:
        ratio = ref / ours if np.isfinite(ref) else float("nan")
        met = "" if target is None else ("yes" if ratio >= target else "NO")
        failures += met == "NO"
        print(f"{name:32s} {ours:9.3f}  {ref_name:42s} {ref:8.3f} {ratio:8.1f}× "
              f"{'' if target is None else f'≥{target:g}×':>7s} {met:>4s}")

    peak = tracemalloc_peak(traces)
    rss = rss_peak_extra(args.neurons, args.frames)
    ratio_tm = (traces.nbytes + peak) / traces.nbytes
    print()
    print(f"calculate_dfof(in_place=True) peak memory, input {traces.nbytes / 2**20:.1f} MiB:")
    print(f"  tracemalloc: +{peak / 2**20:.2f} MiB → peak/input = {ratio_tm:.3f} "
          f"(target ≤ 1.5: {'yes' if ratio_tm <= 1.5 else 'NO'})")
    if rss is not None:
        rss, control = rss
        ratio_rss = (traces.nbytes + rss) / traces.nbytes
        print(f"  peak RSS growth (fresh process): +{rss / 2**20:.2f} MiB → peak/input = "
              f"{ratio_rss:.3f} (target ≤ 1.5: {'yes' if ratio_rss <= 1.5 else 'NO'})")
        print(f"  control, in_place=False in the same process: +{control / 2**20:.2f} MiB "
              f"(the new output array)")
        failures += ratio_rss > 1.5
    failures += ratio_tm > 1.5
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
