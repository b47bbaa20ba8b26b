"""``calscipy demo``: ``calscipy analyze`` on a synthetic session, scored against its truth.

The demo writes a seeded synthetic PrairieView session (:mod:`CalSciPy.synthetic`): a movie of
somata whose ground truth is known, in which a random fraction of the neurons answer every
stimulus pulse with a calcium transient, and a VoltageRecording whose ``Stimulus`` channel
carries the pulses. It then runs exactly the pipeline of ``calscipy analyze``
(:func:`CalSciPy.report.analyze_session`) with the synthetic somata as ROIs: onsets found from
the voltage trace, traces extracted from the pixels, neuropil correction, ΔF/F0, noise, events,
trial tensor and responsive neurons. What the pipeline found is scored against the truth and
added to ``summary.json`` (``"demo"``) and to the report:

* onsets: every true onset found within one frame (and the largest timing error, ms);
* traces: correlation of the extracted ΔF/F0 with the true ΔF/F0 per neuron;
* responsive neurons: precision and recall against the neurons that were made to respond;
* events: precision, recall and F1 of the detected events (±3 frames) against the true spikes
  and stimulus responses;
* denoising: RMS error of the movie before and after the 3×3×3 median filter against the
  noise-free movie.

Outputs in ``--out``: the analysis outputs (``report.html``, ``summary.json``, CSV tables),
``stimulus_figure.png`` (voltage, found onsets and frame ticks), ``denoise_frame.png`` and the
synthetic session folder ``prairieview/``. The demo's own files are replaced on re-runs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from CalSciPy._atomic import atomic_write

SESSION_FOLDER = "prairieview"
STIMULUS_FIGURE_NAME = "stimulus_figure.png"
DENOISE_FIGURE_NAME = "denoise_frame.png"
#: frame size of the synthetic session (small, so the demo stays well under a minute)
SESSION_SHAPE = (128, 128)
#: longest synthetic session (frames), whatever --seconds says
SESSION_MAX_FRAMES = 3600
#: fraction of neurons that respond to the stimulus, and their peak ΔF/F0
RESPONDER_FRACTION = 0.3
RESPONSE_AMPLITUDE = 0.8
STIMULUS_INTERVAL_S = 2.0
STIMULUS_DURATION_S = 0.5
#: fewest stimulus pulses a demo session may hold (trials for the paired test)
MIN_PULSES = 5
#: highest --frame-rate: half the 1 kHz sampling rate of the synthetic voltage recording
MAX_FRAME_RATE = 500.0


def _round(value: float, digits: int = 4) -> float | None:
    return None if not np.isfinite(value) else round(float(value), digits)


def make_session(out: Path, *, neurons: int, seconds: float, frame_rate: float, seed: int,
                 progress: bool):
    """Write the synthetic session; return it with the truth the demo scores against."""
    from CalSciPy.synthetic import generate_movie, write_prairieview_session
    from CalSciPy.synthetic.traces import gcamp_kernel

    n_frames = min(SESSION_MAX_FRAMES, max(60, int(round(seconds * frame_rate))))
    movie = generate_movie(n_frames, SESSION_SHAPE, n_neurons=neurons, frame_rate=frame_rate,
                           seed=seed)
    rng = np.random.default_rng(seed + 100)
    n_resp = max(1, int(round(RESPONDER_FRACTION * neurons)))
    responders = np.sort(rng.choice(neurons, n_resp, replace=False))
    # the same pulse train write_prairieview_session writes into the Stimulus channel
    onsets_s = np.arange(STIMULUS_INTERVAL_S / 2, n_frames / frame_rate, STIMULUS_INTERVAL_S)
    onset_frames = np.ceil(onsets_s * frame_rate - 1e-6).astype(int)  # first frame at/after
    onset_frames = onset_frames[onset_frames < n_frames]
    traces = movie.traces
    dfof_true = traces.dfof_true.astype(np.float64).copy()
    images = movie.images  # changed in place, soma by soma (no float copy of the movie)
    added = []
    impulses = np.zeros(n_frames)
    impulses[onset_frames] = 1.0
    for i in responders:
        kernel = gcamp_kernel(traces.tau_rise[i], traces.tau_decay[i], frame_rate)
        response = RESPONSE_AMPLITUDE * np.convolve(impulses, kernel / kernel.max())[:n_frames]
        dfof_true[i] += response
        # brightness added to the soma's pixels, with its shot noise (variance = signal)
        rows, cols = np.nonzero(movie.footprints[i])
        extra = (traces.baseline[i] * response)[:, None] * movie.footprints[i, rows, cols]
        noisy = images[:, rows, cols] + extra + np.sqrt(extra) * rng.standard_normal(extra.shape)
        images[:, rows, cols] = np.clip(np.rint(noisy), 0, 65535)
        added.append((rows, cols, extra.astype(np.float32)))
    folder = out / SESSION_FOLDER / "TSeries-demo-001"
    folder.parent.mkdir(parents=True, exist_ok=True)
    written = write_prairieview_session(folder, images, frame_rate=frame_rate, seed=seed,
                                        stimulus_interval=STIMULUS_INTERVAL_S,
                                        stimulus_duration=STIMULUS_DURATION_S,
                                        overwrite=True, progress=progress)
    events = [np.sort(np.concatenate([traces.event_frames[i],
                                      onset_frames if i in responders else []]).astype(int))
              for i in range(neurons)]
    truth = {"movie": movie, "responders": responders, "onsets_s": written.stimulus_onsets,
             "onset_frames": onset_frames, "dfof_true": dfof_true, "event_frames": events,
             "added": added, "images": images}
    return written, truth


def score(data: dict, truth: dict, rate: float) -> dict:
    """The pipeline's results against the synthetic truth (see the module docstring)."""
    from CalSciPy.event_processing import score_events

    found = data["onsets"]["Stimulus"]
    true_frames = truth["onset_frames"]
    true_ms = 1000.0 * truth["onsets_s"][: true_frames.size]
    matched = 0
    worst_ms = 0.0
    for frame, t_ms in zip(true_frames, true_ms):
        distance = np.abs(found.frames - frame)
        if distance.size and distance.min() <= 1:
            matched += 1
            worst_ms = max(worst_ms, float(np.min(np.abs(found.times_ms - t_ms))))
    ids = np.asarray(data["ids"])
    dfof = np.asarray(data["dfof"], dtype=np.float64)
    corr = np.array([np.corrcoef(dfof[row], truth["dfof_true"][int(i)])[0, 1]
                     for row, i in enumerate(ids)])
    table = data["responsive"]
    called = set(int(i) for i in table[table.responsive].neuron)
    actual = set(int(i) for i in truth["responders"])
    hits = len(called & actual)
    events = score_events(data["events"], [truth["event_frames"][int(i)] for i in ids],
                          tolerance=3)
    return {
        "true_onsets": int(true_frames.size),
        "onsets_found": len(found),
        "onsets_within_one_frame": matched,
        "onset_time_error_max_ms": _round(worst_ms, 3),
        "trace_correlation_median": _round(np.median(corr)),
        "trace_correlation_min": _round(np.min(corr)),
        "trace_correlation_per_roi": [_round(c) for c in corr],
        "true_responders": sorted(actual),
        "responsive_found": sorted(called),
        "responsive_precision": _round(hits / len(called)) if called else None,
        "responsive_recall": _round(hits / len(actual)) if actual else None,
        "events_precision": _round(events.precision),
        "events_recall": _round(events.recall),
        "events_f1": _round(events.f1),
    }


def denoise(out: Path, truth: dict) -> dict:
    """Median 3×3×3 of the raw movie scored against the noise-free movie; figure."""
    from CalSciPy.image_processing import median_filter
    from CalSciPy.interactive_visuals import frames_figure, save_figure

    raw = truth["images"]
    clean = truth["movie"].expected_images()
    for rows, cols, extra in truth["added"]:  # the stimulus responses, noise-free
        clean[:, rows, cols] += extra
    start = time.perf_counter()
    denoised = median_filter(raw)
    elapsed = time.perf_counter() - start
    before = float(np.sqrt(np.mean((raw - clean) ** 2)))
    after = float(np.sqrt(np.mean((denoised - clean) ** 2)))
    frame = raw.shape[0] // 2
    figure = frames_figure(raw[frame], denoised[frame], shared_limits=True,
                           titles=(f"raw, frame {frame}", "median 3×3×3 (frames, y, x)"))
    save_figure(figure, out / DENOISE_FIGURE_NAME, overwrite=True, dpi=100)
    return {"filter": "median_filter(images), mask 3×3×3, reflect borders",
            "seconds": round(elapsed, 4), "rms_error_raw_adu": round(before, 3),
            "rms_error_denoised_adu": round(after, 3)}


def stimulus_figure(out: Path, data: dict) -> None:
    """The stimulus channel (first 10 s) with the onsets found and the frame ticks."""
    from CalSciPy.interactive_visuals import save_figure
    from CalSciPy.interactive_visuals import stimulus_figure as draw

    voltage = data["voltage"]
    t = voltage.index.to_numpy() / 1000.0
    window = t <= min(10.0, t[-1])
    frames = data["frame_times"]
    fig = draw(t[window], voltage["Stimulus"].to_numpy()[window], frames[frames <= t[window][-1]],
               channel_labels=["Stimulus"],
               title="voltage recording, onsets found (dashed) and imaging frames (first 10 s)")
    found = data["onsets"]["Stimulus"].times_s
    for x in found[found <= t[window][-1]]:
        fig.axes[0].axvline(x, color="black", linestyle="--", linewidth=0.8)
    save_figure(fig, out / STIMULUS_FIGURE_NAME, overwrite=True, dpi=100)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``calscipy demo``."""
    from CalSciPy._report.analysis import SUMMARY_NAME
    from CalSciPy.report import analyze_session

    if args.neurons < 1:
        raise ValueError(f"--neurons must be >= 1, got {args.neurons}")
    if not 0 < args.seconds < float("inf"):
        raise ValueError(f"--seconds must be a finite number > 0, got {args.seconds}")
    if not 2 < args.frame_rate <= MAX_FRAME_RATE:
        raise ValueError(f"--frame-rate must be a finite number > 2 Hz and <= "
                         f"{MAX_FRAME_RATE:g} Hz (half the synthetic voltage sampling rate), "
                         f"got {args.frame_rate}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    n_frames = min(SESSION_MAX_FRAMES, max(60, int(round(args.seconds * args.frame_rate))))
    if n_frames / args.frame_rate < MIN_PULSES * STIMULUS_INTERVAL_S:
        raise ValueError(
            f"the demo needs at least {MIN_PULSES * STIMULUS_INTERVAL_S:g} s of recording "
            f"({MIN_PULSES} stimulus pulses, one every {STIMULUS_INTERVAL_S:g} s); --seconds "
            f"{args.seconds:g} at --frame-rate {args.frame_rate:g} Hz gives "
            f"{n_frames / args.frame_rate:.3g} s (at most {SESSION_MAX_FRAMES} frames)")
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    start = time.perf_counter()

    def show(stage: str, message: str) -> None:
        print(f"calscipy demo: {stage}: {message}", file=sys.stderr, flush=True)

    written, truth = make_session(out, neurons=args.neurons, seconds=args.seconds,
                                  frame_rate=args.frame_rate, seed=args.seed,
                                  progress=progress)
    show("synthetic session", f"{written.images.shape[0]} frames "
         f"{SESSION_SHAPE[0]}×{SESSION_SHAPE[1]}, {args.neurons} neurons "
         f"({truth['responders'].size} respond to the stimulus) in {written.folder} "
         f"({time.perf_counter() - start:.2f} s)")
    scores: dict = {}

    def evaluate(data: dict) -> dict:
        scores.update(score(data, truth, args.frame_rate))
        return {
            "demo: onsets within one frame of the truth":
                f"{scores['onsets_within_one_frame']} of {scores['true_onsets']}",
            "demo: extracted vs true ΔF/F0 correlation (median, min)":
                f"{scores['trace_correlation_median']}, {scores['trace_correlation_min']}",
            "demo: responsive precision, recall":
                f"{scores['responsive_precision']}, {scores['responsive_recall']}",
            "demo: events F1 (±3 frames)": scores["events_f1"],
        }

    result = analyze_session(
        written.folder, out, rois=truth["movie"].rois, stimulus=["Stimulus"], pre_s=1.0,
        post_s=1.0, overwrite=True, progress=progress, on_stage=show,
        title="CalSciPy demo: synthetic session", evaluate=evaluate,
    )
    stimulus_figure(out, result.data)
    denoised = denoise(out, truth)
    summary = result.summary
    summary["demo"] = {"seed": args.seed, "neurons": args.neurons, **scores,
                       "denoise": denoised}
    summary["timings_s"]["demo_total"] = round(time.perf_counter() - start, 4)
    with atomic_write(out / SUMMARY_NAME, overwrite=True, mode="w") as handle:
        json.dump(summary, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print("CalSciPy demo: synthetic PrairieView session → onsets from the voltage → traces "
          "from pixels → ΔF/F0 → noise → events → trials → responsive neurons")
    print(f"  onsets: {scores['onsets_within_one_frame']} of {scores['true_onsets']} true "
          f"onsets found within one frame (largest timing error "
          f"{scores['onset_time_error_max_ms']} ms)")
    print(f"  traces: extracted vs true ΔF/F0 correlation median "
          f"{scores['trace_correlation_median']} (min {scores['trace_correlation_min']})")
    print(f"  responsive: {len(scores['responsive_found'])} found, "
          f"{len(scores['true_responders'])} true; precision {scores['responsive_precision']}, "
          f"recall {scores['responsive_recall']}")
    print(f"  events: precision {scores['events_precision']}, recall "
          f"{scores['events_recall']}, F1 {scores['events_f1']} within ±3 frames")
    print(f"  denoise: RMS error vs the noise-free movie {denoised['rms_error_raw_adu']:.1f} → "
          f"{denoised['rms_error_denoised_adu']:.1f} ADU")
    print(f"  total {summary['timings_s']['demo_total']:.2f} s; wrote report.html, "
          f"{SUMMARY_NAME}, CSV tables, {STIMULUS_FIGURE_NAME}, {DENOISE_FIGURE_NAME} into {out}")
    return 0


def register(subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="run 'calscipy analyze' on a synthetic session and score it against the truth",
        description="Write a seeded synthetic PrairieView session (somata of which some respond "
        "to a voltage stimulus), run the analyze pipeline on it (onsets from the voltage trace, "
        "traces extracted from the pixels, ΔF/F0, noise, events, trials, responsive neurons) "
        "and score onsets, traces, responsive neurons and events against the ground truth; "
        "writes report.html, summary.json, CSV tables and PNG figures into --out.",
    )
    parser.add_argument("--out", default="demo_output", metavar="DIR",
                        help="output folder (default: demo_output)")
    parser.add_argument("--neurons", type=int, default=30, metavar="N",
                        help="number of neurons in the synthetic movie (default: 30)")
    parser.add_argument("--seconds", type=float, default=60.0, metavar="S",
                        help=f"recording length in seconds (default: 60; at most "
                        f"{SESSION_MAX_FRAMES} frames)")
    parser.add_argument("--seed", type=int, default=0, metavar="K",
                        help="random seed (default: 0)")
    parser.add_argument("--frame-rate", type=float, default=30.0, metavar="HZ",
                        help="imaging rate in Hz (default: 30)")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide progress bars of long stages")
    parser.set_defaults(func=run)
