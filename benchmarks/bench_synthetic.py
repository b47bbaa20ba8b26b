"""Speed of the synthetic ground-truth generators (targets from the foundation issue).

* traces: 1000 neurons × 30 000 frames in "a few seconds" (target here: ≤ 5 s);
* movie: 2000 frames × 256 × 256 with 50 neurons "well under a minute" (target: ≤ 20 s).

No reference implementation exists to compare against; the table lists our time and the
target. Run: ``python benchmarks/bench_synthetic.py``
"""
from __future__ import annotations

import sys
import time

from CalSciPy.synthetic import generate_movie, generate_spike_trains, generate_traces


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main() -> int:
    generate_traces(2, 100)  # import/initialisation outside the timings
    rows = [
        ("generate_spike_trains 1000 × 30 000", timed(generate_spike_trains, 1000, 30_000), 2.0),
        ("generate_traces 1000 × 30 000", timed(generate_traces, 1000, 30_000), 5.0),
        ("generate_movie 2000 × 256 × 256, 50 neurons",
         timed(generate_movie, 2000, (256, 256), 50), 20.0),
    ]
    print(f"{'generator':46s} {'time [s]':>9s} {'target':>8s} {'met':>4s}")
    print("-" * 70)
    failures = 0
    for name, seconds, target in rows:
        met = seconds <= target
        failures += not met
        print(f"{name:46s} {seconds:9.2f} {f'≤{target:g} s':>8s} {'yes' if met else 'NO':>4s}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
