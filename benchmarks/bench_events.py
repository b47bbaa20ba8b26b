"""Benchmark of CalSciPy.event_processing: event detection + firing rates, and spike inference.

1. ``identify_events`` + ``generate_raster`` + ``calculate_firing_rates`` on 500 neurons x 18 000
   frames (10 min at 30 Hz) of synthetic ΔF/F0, against a per-neuron loop of the same
   documented algorithm written plainly with scipy (``np.diff``, ``gaussian_filter1d``,
   ``np.clip``, ``np.nanstd``, ``find_peaks``, then raster row x frame rate). Both must give
   identical events (checked). Target: ours >= 3x faster.
2. ``infer_spikes`` (compiled OASIS, threads) on ``--infer-neurons`` x ``--frames`` synthetic
   ΔF/F0 (default 500 x 18 000, float64), AR(1) and AR(2), against
   ``oasis.functions.deconvolve`` (oasis-deconv, the reference implementation) in a process
   pool over all CPUs with BLAS at one thread per worker (a warm pool, created before timing),
   same parameter estimation (``b_nonneg=False``; AR(2): ``tau_r=None``, which is oasis'
   ``constrained_onnlsAR2``), global RNG seeded per trace. Reported: neurons/s, speed-up, the
   largest per-trace relative difference of the AR(1) spikes (target <= 1e-6), and for both
   orders the accuracy against the synthetic truth (correlation of the inferred activity
   with the true spike counts, per neuron, median; and detect_events F1 within ±3 frames),
   for AR(2) also of oasis' compiled greedy solver ``oasis_methods.constrained_oasisAR2``
   (same parameter estimation, run once in the pool, timed once).
   Targets: >= 5x the pool; AR(2) accuracy no worse than oasis deconvolve's.
3. suite2p's numba OASIS (``suite2p.extraction.dcnv.oasis``: one unconstrained AR(1) pass, no
   noise constraint, no baseline, float32) on the same traces and the same kernel
   (``tau = 0.5 s``, ``fs = 30``), against the same problem in CalSciPy,
   ``infer_spikes(ar_order=1, tau_decay=0.5, lam=0)`` (which also estimates each trace's
   noise level, reported in its result), and, for scale, against the default
   noise-constrained ``infer_spikes(ar_order=1, tau_decay=0.5)``. suite2p runs in
   its own environment (``--suite2p-python``, default ``/tmp/s2p-venv/bin/python``): one fresh
   process per round, timed inside it after a warm-up call, so its start-up is excluded.
   The column is skipped with a message when that interpreter or suite2p is missing.
   Target: >= 1.5x.
4. Peak memory of ``infer_spikes`` (AR(2), default options, and with ``denoised=True``)
   beyond the input: growth of the peak RSS during the call (VmHWM reset through
   /proc/self/clear_refs just before it), in a fresh process per case that loads the same
   traces (float64 and float32), with ``MALLOC_MMAP_THRESHOLD_=65536`` so that freed
   temporaries of the set-up go back to the system instead of staying in the heap, where the
   call would reuse them unseen. Split into the returned results and the working memory (the
   rest). Target: extra memory <= 2x the input. By default only the spikes are returned
   (1x the input); with ``denoised=True`` the two results alone are 2x for either dtype, so
   the growth including them cannot stay within 2x there; both verdicts are printed.

Timings: the variants run in turn (interleaved) ``--repeats`` / ``--infer-repeats`` times
after a warm-up, so each round sees the same background load; every figure is the median of
the rounds with the range (min-max), and each speed-up is the median of the per-round ratios.
Run:
``python benchmarks/bench_events.py [--neurons 500] [--frames 18000] [--repeats 5]
[--infer-neurons 500] [--infer-repeats 3] [--skip-identify]``
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _peers import suite2p_missing
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from CalSciPy.event_processing import calculate_firing_rates, identify_events, infer_spikes
from CalSciPy.reorganization import generate_raster
from CalSciPy.synthetic import generate_traces
from CalSciPy.trace_processing import calculate_dfof


def paired(funcs: dict, repeats: int) -> dict:
    """Run the functions in turn ``repeats`` times (after a warm-up); times per function.

    Interleaving keeps every variant under the same background load (the benchmark machine
    is shared), so ratios of runs from the same round are comparable.
    """
    results = {name: func() for name, func in funcs.items()}  # warm-up
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            start = time.perf_counter()
            results[name] = func()
            times[name].append(time.perf_counter() - start)
    return {"times": {k: np.array(v) for k, v in times.items()}, "results": results}


def reference_loop(dfof: np.ndarray, frame_rate: float = 30.0, timeout: int = 15):
    """The documented identify_events algorithm one neuron at a time, then firing rates."""
    events = []
    rates = np.zeros(dfof.shape, dtype=np.float64)
    for i, trace in enumerate(dfof):
        x = trace.astype(np.float64)
        delta = np.concatenate([[0.0], np.diff(x)])
        delta = gaussian_filter1d(delta, sigma=frame_rate, mode="reflect")
        delta = np.clip(delta, 0, None)
        peaks, _ = find_peaks(delta, prominence=np.nanstd(delta) / 2, distance=timeout)
        events.append(peaks)
        rates[i, peaks] = 1.0 * frame_rate
    return events, rates


def ours(dfof: np.ndarray, frame_rate: float = 30.0):
    events = identify_events(dfof, 15, frame_rate)
    rates = calculate_firing_rates(generate_raster(events, dfof.shape[1]), frame_rate)
    return events, rates


def identify_benchmark(dfof: np.ndarray, repeats: int) -> None:
    run = paired({"ref": lambda: reference_loop(dfof), "ours": lambda: ours(dfof)}, repeats)
    (ref_events, ref_rates), (our_events, our_rates) = run["results"]["ref"], run["results"]["ours"]
    same = all(np.array_equal(a, b) for a, b in zip(ref_events, our_events)) and np.array_equal(
        ref_rates, our_rates
    )
    t_ref, t_ours = run["times"]["ref"], run["times"]["ours"]
    ratios = t_ref / t_ours
    n_events = sum(len(e) for e in our_events)
    print()
    print(f"| identify_events + firing rates ({repeats} interleaved rounds) | median (s) "
          "(min-max) | speed-up, median of rounds (min-max) |")
    print("|---|---|---|")
    print(f"| per-neuron loop (reference) | {_fmt(t_ref)} | 1.00 |")
    print(f"| CalSciPy (vectorised) | {_fmt(t_ours)} | {_fmt_ratio(ratios)} |")
    print(f"identical events and rates: {same} ({n_events} events); target >= 3x: "
          f"{'met' if np.median(ratios) >= 3 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=500)
    parser.add_argument("--frames", type=int, default=18000)
    parser.add_argument("--infer-neurons", type=int, default=500,
                        help="neurons for the spike-inference part (0 skips it)")
    parser.add_argument("--infer-repeats", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-identify", action="store_true")
    parser.add_argument("--suite2p-python", default="/tmp/s2p-venv/bin/python",
                        help="interpreter of an environment with suite2p installed")
    args = parser.parse_args()

    synthetic = generate_traces(args.neurons, args.frames, seed=0)
    dfof = calculate_dfof(synthetic.traces, 30.0, method="sliding")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"data: {args.neurons} neurons x {args.frames} frames, {dfof.dtype}, "
          f"{os.cpu_count()} CPUs, 1-min load average at start {load:.1f}")

    if not args.skip_identify:
        identify_benchmark(dfof, args.repeats)
    if args.infer_neurons:
        infer_benchmark(synthetic, dfof, args)


# ----------------------------------------------------------------------------- inference
def _limit_blas() -> None:
    from threadpoolctl import threadpool_limits

    # kept for the worker's lifetime (the pool initializer's frame ends, the limit stays)
    _limit_blas.keep = threadpool_limits(limits=1, user_api="blas")


def _oasis_rows(rows: np.ndarray, order: int) -> list:
    import warnings

    from oasis.functions import deconvolve, estimate_parameters
    from oasis.oasis_methods import constrained_oasisAR2

    out = []
    for y in rows:
        np.random.seed(0)  # noqa: NPY002 - oasis' AR estimate uses the legacy global RNG
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if order == 1:
                c, s, b, g, _ = deconvolve(y, penalty=1, b_nonneg=False)
            elif order == 2:
                c, s, b, g, _ = deconvolve(y, tau_r=None, penalty=1, b_nonneg=False)
            else:  # "greedy": oasis' compiled AR(2) solver, deconvolve's parameters
                g, sn = estimate_parameters(y, p=2, fudge_factor=0.98)
                c, s, b, g, _ = constrained_oasisAR2(
                    y, float(g[0]), float(g[1]), float(sn), optimize_b=True, b_nonneg=False,
                    penalty=1,
                )
        out.append(np.maximum(np.nan_to_num(s), 0))
    return out


def _oasis_pool(pool, data: np.ndarray, order: int, workers: int) -> np.ndarray:
    chunks = np.array_split(np.arange(data.shape[0]), workers * 4)
    parts = pool.map(_oasis_rows, [data[c] for c in chunks if c.size],
                     [order] * len(chunks))
    return np.array([s for part in parts for s in part])


_SUITE2P_CHILD = r"""
import sys, time, logging
import numpy as np
logging.disable(logging.WARNING)
from suite2p.extraction.dcnv import oasis
F = np.load(sys.argv[1]).astype(np.float32)
tau, fs = float(sys.argv[2]), float(sys.argv[3])
oasis(F[:8], 500, tau, fs)  # warm-up: numba compiles or loads its cache
start = time.perf_counter()
S = oasis(F, 500, tau, fs)
elapsed = time.perf_counter() - start
np.save(sys.argv[4], S)
print(elapsed)
"""


def _suite2p_round(python: str, traces: str, tau: float, out: str) -> float:
    result = subprocess.run([python, "-c", _SUITE2P_CHILD, traces, str(tau), "30.0", out],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _fmt(times: np.ndarray) -> str:
    return f"{np.median(times):.2f} ({times.min():.2f}-{times.max():.2f})"


def _fmt_ratio(ratios: np.ndarray) -> str:
    return f"**{np.median(ratios):.1f}×** ({ratios.min():.1f}-{ratios.max():.1f})"


def _accuracy(spikes: np.ndarray, truth: np.ndarray) -> float:
    """Median over neurons of the correlation of the inferred activity with the true spike
    counts, both summed over 2-frame bins (a spike inferred one frame early still counts)."""
    frames = spikes.shape[1] // 2 * 2
    a = spikes[:, :frames].reshape(spikes.shape[0], -1, 2).sum(-1)
    b = truth[:, :frames].reshape(truth.shape[0], -1, 2).sum(-1).astype(np.float64)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    denom = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return float(np.median((a * b).sum(1) / np.where(denom > 0, denom, np.nan)))


def _f1(spikes: np.ndarray, dfof: np.ndarray, synthetic, n: int) -> float:
    from CalSciPy.event_processing import SpikeInference, detect_events, score_events

    noise = infer_spikes(dfof, 30.0, ar_order=1, progress=False).noise  # any: same GetSn
    fake = SpikeInference(spikes, spikes, np.zeros(n), noise, np.zeros((n, 1)), np.zeros(n),
                          30.0)
    events = detect_events(dfof, 30.0, inference=fake)
    return score_events(events, synthetic.event_frames[:n], tolerance=3).f1


def infer_benchmark(synthetic, dfof: np.ndarray, args) -> None:
    from concurrent.futures import ProcessPoolExecutor

    data = np.ascontiguousarray(dfof[: args.infer_neurons], dtype=np.float64)
    n, frames = data.shape
    truth = synthetic.spikes[:n]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print()
    print(f"infer_spikes: {n} neurons x {frames} frames float64 "
          f"({data.nbytes / 2**20:.0f} MiB), {cpus} CPUs, {args.infer_repeats} interleaved "
          "rounds after a warm-up; median (min-max)")
    infer_spikes(data[:4], 30.0, ar_order=1, progress=False)  # compile / load the kernels
    infer_spikes(data[:4], 30.0, ar_order=2, progress=False)
    with ProcessPoolExecutor(max_workers=cpus, initializer=_limit_blas) as pool:
        _oasis_pool(pool, data[: 2 * cpus], 1, cpus)  # start the workers
        print()
        print("| AR order | CalSciPy infer_spikes (s) | oasis deconvolve pool (s) | speed-up | "
              "CalSciPy neurons/s | oasis neurons/s |")
        print("|---|---|---|---|---|---|")
        results = {}
        for order in (1, 2):
            t_ours, t_ref = [], []
            for _ in range(args.infer_repeats):
                start = time.perf_counter()
                ours = infer_spikes(data, 30.0, ar_order=order, progress=False)
                t_ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                ref = _oasis_pool(pool, data, order, cpus)
                t_ref.append(time.perf_counter() - start)
            t_ours, t_ref = np.array(t_ours), np.array(t_ref)
            results[order] = (ours, ref)
            print(f"| AR({order}) | {_fmt(t_ours)} | {_fmt(t_ref)} | {_fmt_ratio(t_ref / t_ours)}"
                  f" | {n / np.median(t_ours):.0f} | {n / np.median(t_ref):.0f} |")
        start = time.perf_counter()
        greedy = _oasis_pool(pool, data, 3, cpus)
        t_greedy = time.perf_counter() - start
    ours, ref = results[1]
    scale = np.maximum(np.abs(ref).max(axis=1), 1e-9 * np.abs(data).max(axis=1))
    worst = float((np.abs(ours.spikes - ref).max(axis=1) / scale).max())
    print()
    print(f"AR(1) spikes vs oasis deconvolve: largest per-trace relative difference "
          f"{worst:.1e} (target <= 1e-6: {'met' if worst <= 1e-6 else 'NOT met'})")
    print()
    print("| accuracy vs synthetic truth | CalSciPy | oasis deconvolve | oasis "
          "constrained_oasisAR2 (greedy) |")
    print("|---|---|---|---|")
    for order in (1, 2):
        ours, ref = results[order]
        extra = (f"{_accuracy(greedy, truth):.3f}", f"{_f1(greedy, data, synthetic, n):.3f}") \
            if order == 2 else ("", "")
        print(f"| AR({order}) spike correlation (median) | {_accuracy(ours.spikes, truth):.3f} "
              f"| {_accuracy(ref, truth):.3f} | {extra[0]} |")
        print(f"| AR({order}) detect_events F1 (±3 frames) | "
              f"{_f1(ours.spikes, data, synthetic, n):.3f} | {_f1(ref, data, synthetic, n):.3f} "
              f"| {extra[1]} |")
    print(f"oasis constrained_oasisAR2 in the same pool: {t_greedy:.2f} s (one run)")

    python = args.suite2p_python
    reason = suite2p_missing(python)
    print()
    if reason:
        print(f"suite2p column skipped: {reason}")
    else:
        tau = 0.5
        with tempfile.TemporaryDirectory() as tmp:
            traces = str(Path(tmp) / "F.npy")
            out = str(Path(tmp) / "S.npy")
            np.save(traces, data)
            _suite2p_round(python, traces, tau, out)  # first run: numba cache, imports
            t_same, t_constrained, t_s2p = [], [], []
            for _ in range(args.infer_repeats):
                start = time.perf_counter()
                same = infer_spikes(data, 30.0, ar_order=1, tau_decay=tau, lam=0.0,
                                    progress=False)
                t_same.append(time.perf_counter() - start)
                start = time.perf_counter()
                infer_spikes(data, 30.0, ar_order=1, tau_decay=tau, progress=False)
                t_constrained.append(time.perf_counter() - start)
                t_s2p.append(_suite2p_round(python, traces, tau, out))
            s2p = np.load(out).astype(np.float64)
            t_same, t_constrained, t_s2p = (np.array(t) for t in (t_same, t_constrained, t_s2p))
        print(f"| AR(1), tau = {tau} s fixed, {n} x {frames} | wall s | suite2p's time / ours |")
        print("|---|---|---|")
        print(f"| suite2p oasis (numba, float32) | {_fmt(t_s2p)} | 1 |")
        print(f"| CalSciPy infer_spikes(lam=0): the same problem | {_fmt(t_same)} | "
              f"{_fmt_ratio(t_s2p / t_same)} |")
        print(f"| CalSciPy infer_spikes: noise-constrained, fitted baseline | "
              f"{_fmt(t_constrained)} | {_fmt_ratio(t_s2p / t_constrained)} |")
        # suite2p does not clip a negative first pool at 0 (OASIS does): compare after it
        first = np.argmax(same.spikes > 0, axis=1).max() + 1
        scale = np.abs(s2p[:, first:]).max(axis=1, keepdims=True)
        diff = np.abs(same.spikes[:, first:] - np.maximum(s2p[:, first:], 0)) / scale
        print(f"lam=0 spikes vs suite2p's (after the first pool): median of per-trace largest "
              f"relative difference {np.median(diff.max(axis=1)):.1e}, largest "
              f"{diff.max():.1e} (suite2p computes in float32)")

    print()
    with tempfile.TemporaryDirectory() as tmp:
        traces = str(Path(tmp) / "F.npy")
        np.save(traces, data)
        for keep in (False, True):
            for dtype in ("float64", "float32"):
                measured = _rss_extra(traces, dtype, keep)
                if measured is None:
                    continue
                extra, size, results = measured
                what = "spikes and denoised (denoised=True)" if keep else "default (spikes only)"
                working = extra - results
                print(f"infer_spikes, {what}: peak RSS growth with the {dtype} input "
                      f"({size / 2**20:.0f} MiB) {extra / size:.3f}x the input = the "
                      f"returned results {results / size:.3f}x + working memory "
                      f"{working / size:.3f}x ({working / 2**20:.1f} MiB); target <= 2x: "
                      f"working memory {'met' if working <= 2 * size else 'NOT met'}, "
                      f"results included {'met' if extra <= 2 * size else 'NOT met'}")


_RSS_CHILD = r"""
import sys
import numpy as np
from CalSciPy.event_processing import infer_spikes


def status(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024


x = np.load(sys.argv[1]).astype(sys.argv[2])
infer_spikes(x[:4], 30.0, progress=False)  # load the compiled kernels
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
before = status("VmRSS")
result = infer_spikes(x, 30.0, progress=False, denoised=sys.argv[3] == "1")
kept = 0 if result.denoised is None else result.denoised.nbytes
print(status("VmHWM") - before, x.nbytes, result.spikes.nbytes + kept)
"""


def _rss_extra(traces: str, dtype: str, keep: bool) -> tuple[int, int, int] | None:
    """(peak RSS growth, input bytes, result bytes) of one call in a fresh process."""
    if not sys.platform.startswith("linux"):
        return None
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    result = subprocess.run([sys.executable, "-c", _RSS_CHILD, traces, dtype,
                             str(int(keep))],
                            capture_output=True, text=True, check=True, env=env)
    extra, size, results = result.stdout.strip().splitlines()[-1].split()
    return int(extra), int(size), int(results)


if __name__ == "__main__":
    main()
