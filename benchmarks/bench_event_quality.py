"""Event-detection quality on synthetic recordings with known spikes.

Data: ``CalSciPy.synthetic.generate_traces`` (default 200 neurons x 9 000 frames at 30 Hz, seed
0): Poisson spiking at 0.05-0.5 Hz, GCaMP-like kernels (rise 40-70 ms, decay 0.3-1.5 s), spike
amplitudes 0.2-1.0 ΔF/F0, shot + read noise (ΔF/F0 noise s.d. ~0.05-0.09), bleaching and slow
drift. ΔF/F0 is computed from the raw fluorescence with
``calculate_dfof(method="sliding")`` (running 8th percentile over 30 s), as a user would.

Ground truth: the true spike frames of each neuron, where a spike at most ``--tolerance``
frames after the previous spike belongs to the same event (a burst counts once, timed by its
first spike). Matching: greedy one-to-one pairing of detected onsets with true events within
``±tolerance`` frames, closest pairs first (``CalSciPy.event_processing.score_events``); counts
pooled over neurons. Target for ``detect_events``: F1 >= 0.9 at ±3 frames (100 ms).

Run: ``python benchmarks/bench_event_quality.py [--neurons 200] [--frames 9000] [--seed 0]``
"""
from __future__ import annotations

import argparse
import time

from CalSciPy.event_processing import detect_events, identify_events, infer_spikes, score_events
from CalSciPy.synthetic import generate_traces
from CalSciPy.trace_processing import calculate_dfof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=200)
    parser.add_argument("--frames", type=int, default=9000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=int, default=3)
    args = parser.parse_args()

    synthetic = generate_traces(args.neurons, args.frames, 30.0, seed=args.seed)
    dfof = calculate_dfof(synthetic.traces, 30.0, method="sliding")
    truth = synthetic.event_frames
    n_spikes = sum(len(set(e)) for e in truth)
    print(f"data: {args.neurons} neurons x {args.frames} frames, seed {args.seed}, "
          f"{n_spikes} spikes; tolerance ±{args.tolerance} frames, bursts merged within "
          f"{args.tolerance} frames")
    print()
    print("| method | precision | recall | F1 | TP | FP | FN | time (s) |")
    print("|---|---|---|---|---|---|---|---|")

    def row(name, events, seconds):
        s = score_events(events, truth, tolerance=args.tolerance)
        print(f"| {name} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | "
              f"{s.true_positives} | {s.false_positives} | {s.false_negatives} | {seconds:.2f} |")
        return s

    start = time.perf_counter()
    events = identify_events(dfof, frame_rate=30.0)
    row("identify_events (documented 0.3.4 algorithm)", events, time.perf_counter() - start)

    scores = {}
    for order in (2, 1):
        start = time.perf_counter()
        inference = infer_spikes(dfof, 30.0, ar_order=order, progress=False)
        events = detect_events(dfof, 30.0, inference=inference)
        name = f"detect_events (OASIS AR({order}){', default' if order == 2 else ''})"
        scores[order] = row(name, events, time.perf_counter() - start)
    print()
    print(f"target detect_events F1 >= 0.9 at ±{args.tolerance} frames: "
          f"{'met' if scores[2].f1 >= 0.9 else 'NOT met'} (F1 = {scores[2].f1:.3f})")


if __name__ == "__main__":
    main()
