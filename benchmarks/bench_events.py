"""Benchmark of CalSciPy.event_processing: event detection + firing rates, and spike inference.

1. ``identify_events`` + ``generate_raster`` + ``calculate_firing_rates`` on 500 neurons x 18 000
   frames (10 min at 30 Hz) of synthetic ΔF/F0, against a per-neuron loop of the same
   documented algorithm written plainly with scipy (``np.diff``, ``gaussian_filter1d``,
   ``np.clip``, ``np.nanstd``, ``find_peaks``, then raster row x frame rate). Both must give
   identical events (checked). Target: ours >= 3x faster.
2. ``infer_spikes`` throughput (neurons per second) on 64 neurons x 18 000 frames for AR(1)
   and AR(2), one process vs a process pool over all CPUs, plus a thread pool for comparison
   (OASIS holds the GIL, so threads do not help).

Timings: the variants run in turn (interleaved) ``--repeats`` times after a warm-up, so each
round sees the same background load; the speed ratio is the median of the per-round ratios.
Run:
``python benchmarks/bench_events.py [--neurons 500] [--frames 18000] [--repeats 5]``
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=500)
    parser.add_argument("--frames", type=int, default=18000)
    parser.add_argument("--infer-neurons", type=int, default=64)
    parser.add_argument("--infer-repeats", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    synthetic = generate_traces(args.neurons, args.frames, seed=0)
    dfof = calculate_dfof(synthetic.traces, 30.0, method="sliding")
    print(f"data: {args.neurons} neurons x {args.frames} frames, {dfof.dtype}, "
          f"{os.cpu_count()} CPUs")

    run = paired({"ref": lambda: reference_loop(dfof), "ours": lambda: ours(dfof)}, args.repeats)
    (ref_events, ref_rates), (our_events, our_rates) = run["results"]["ref"], run["results"]["ours"]
    same = all(np.array_equal(a, b) for a, b in zip(ref_events, our_events)) and np.array_equal(
        ref_rates, our_rates
    )
    t_ref, t_ours = run["times"]["ref"], run["times"]["ours"]
    ratio = float(np.median(t_ref / t_ours))
    n_events = sum(len(e) for e in our_events)
    print()
    print("| identify_events + firing rates | best (s) | median (s) | median paired ratio |")
    print("|---|---|---|---|")
    print(f"| per-neuron loop (reference) | {t_ref.min():.3f} | {np.median(t_ref):.3f} | 1.00 |")
    print(f"| CalSciPy (vectorised) | {t_ours.min():.3f} | {np.median(t_ours):.3f} | "
          f"{ratio:.2f} |")
    print(f"identical events and rates: {same} ({n_events} events); target >= 3x: "
          f"{'met' if ratio >= 3 else 'NOT met'}")

    sub = dfof[: args.infer_neurons].astype(np.float64)
    n = sub.shape[0]
    cpus = os.cpu_count() or 1
    print()
    print(f"| infer_spikes ({n} x {args.frames}) | median (s) | neurons / s | speed-up |")
    print("|---|---|---|---|")
    for order in (1, 2):
        def infer(jobs, o=order, rows=None):
            data = sub if rows is None else sub[rows]
            return infer_spikes(data, 30.0, ar_order=o, n_jobs=jobs, progress=False)

        def threaded(infer=infer):
            chunks = np.array_split(np.arange(n), max(1, min(n, cpus * 4)))
            with ThreadPoolExecutor(cpus) as pool:
                list(pool.map(lambda c: infer(1, rows=c), chunks))

        variants = {
            "1 process": lambda infer=infer: infer(1),
            f"{cpus} threads": threaded,
            f"{cpus} processes (default)": lambda infer=infer: infer(-1),
        }
        times = paired(variants, args.infer_repeats)["times"]
        one = float(np.median(times["1 process"]))
        for name, t in times.items():
            t = float(np.median(t))
            print(f"| AR({order}), {name} | {t:.2f} | {n / t:.0f} | {one / t:.2f} |")


if __name__ == "__main__":
    main()
