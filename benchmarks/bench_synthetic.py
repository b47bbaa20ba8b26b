"""Speed of the synthetic ground-truth generators (targets from the foundation issue).

* traces: 1000 neurons × 30 000 frames in "a few seconds" (target here: ≤ 5 s);
* movie: 2000 frames × 256 × 256 with 50 neurons "well under a minute" (target: ≤ 20 s).

No reference implementation exists to compare against; the table lists our time (median of
``ROUNDS`` rounds, range) and the target. Run: ``python benchmarks/bench_synthetic.py``
"""
from __future__ import annotations

import sys
import time

import numpy as np

from CalSciPy.synthetic import generate_movie, generate_spike_trains, generate_traces

ROUNDS = 3


def timed(fn, *args, **kwargs) -> np.ndarray:
    """Wall time of ``ROUNDS`` calls (s)."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return np.asarray(times)


def main() -> int:
    generate_traces(2, 100)  # import/initialisation outside the timings
    rows = [
        ("generate_spike_trains 1000 × 30 000", timed(generate_spike_trains, 1000, 30_000), 2.0),
        ("generate_traces 1000 × 30 000", timed(generate_traces, 1000, 30_000), 5.0),
        ("generate_movie 2000 × 256 × 256, 50 neurons",
         timed(generate_movie, 2000, (256, 256), 50), 20.0),
    ]
    print(f"{'generator':46s} {'time [s]: median (range)':>26s} {'target':>8s} {'met':>4s}")
    print("-" * 88)
    failures = 0
    for name, times, target in rows:
        seconds = float(np.median(times))
        met = seconds <= target
        failures += not met
        spread = f"{seconds:.2f} ({times.min():.2f}-{times.max():.2f})"
        print(f"{name:46s} {spread:>26s} {f'≤{target:g} s':>8s} {'yes' if met else 'NO':>4s}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
