"""``calscipy demo``: synthetic recordings run through the whole CalSciPy pipeline.

The demo is a list of *stages* (:data:`STAGES`), each a small function of a shared
:class:`DemoContext` that calls library functions, keeps arrays for later stages in
``ctx.data`` and returns a JSON-able dict that is merged into ``summary.json``. New pipeline
steps are added as further stage functions; the runner times every stage.

Pipeline: a synthetic PrairieView session on disk → :func:`~CalSciPy.bruker.data.load_bruker_tifs`,
frame times and aligned voltage → 3×3×3 median denoising → (traces of a synthetic population,
until trace extraction exists) → ΔF/F0 with both baselines → standardized noise → events two
ways, firing rates, rasters and their accuracy against the ground truth.

Outputs, in ``--out`` (created if missing; the demo's own files are replaced atomically):
``summary.json`` (every stage's numbers and timings), ``demo_figure.png`` (raw traces, ΔF/F0,
noise histogram), ``stimulus_figure.png`` (voltage stimulus channel with frame ticks),
``denoise_frame.png`` (a frame before/after denoising), ``events_figure.png`` (event rasters),
and the synthetic session folder ``prairieview/``.
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy import __version__
from CalSciPy._atomic import atomic_write

SUMMARY_NAME = "summary.json"
FIGURE_NAME = "demo_figure.png"
STIMULUS_FIGURE_NAME = "stimulus_figure.png"
DENOISE_FIGURE_NAME = "denoise_frame.png"
EVENTS_FIGURE_NAME = "events_figure.png"
SESSION_FOLDER = "prairieview"
#: size of the synthetic imaging session (frames are capped to keep the demo quick)
SESSION_SHAPE = (128, 128)
SESSION_MAX_FRAMES = 600
#: bounds of the CLI options: spike inference needs 10 frames; the session's voltage recording
#: samples at 1 kHz; traces are float64 (1e8 neuron-frames are 0.8 GB)
DEMO_MIN_FRAMES = 10
DEMO_MAX_FRAME_RATE = 1000.0
DEMO_MAX_SAMPLES = 1e8


@dataclass
class DemoContext:
    """State shared by the demo stages."""

    out: Path
    neurons: int
    seconds: float
    seed: int
    frame_rate: float = 30.0
    progress: bool = True
    #: arrays and objects handed from stage to stage (not written to the summary)
    data: dict[str, Any] = field(default_factory=dict)
    #: human-readable lines printed at the end
    report: list[str] = field(default_factory=list)


def _round(values, digits: int = 5) -> list:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in np.ravel(values)]


# ----------------------------------------------------------------------------- stages
def stage_prairieview(ctx: DemoContext) -> dict:
    """Write a synthetic PrairieView session, load it back, get its frame times and align the
    voltage recording (:func:`CalSciPy.synthetic.write_prairieview_session`,
    :mod:`CalSciPy.bruker.data`); figure of the stimulus channel with frame ticks."""
    from CalSciPy.bruker.data import (
        align_data,
        extract_frame_times,
        load_bruker_tifs,
        load_voltage_recording,
    )
    from CalSciPy.interactive_visuals import save_figure, stimulus_figure
    from CalSciPy.synthetic import write_prairieview_session

    n_frames = min(SESSION_MAX_FRAMES, max(4, int(round(ctx.seconds * ctx.frame_rate))))
    folder = ctx.out / SESSION_FOLDER / "TSeries-demo-001"
    folder.parent.mkdir(exist_ok=True)
    # the folder is the demo's own output of an earlier run
    written = write_prairieview_session(folder, n_frames=n_frames, shape=SESSION_SHAPE,
                                        frame_rate=ctx.frame_rate, seed=ctx.seed,
                                        overwrite=True, progress=ctx.progress)
    start = time.perf_counter()
    (images,) = load_bruker_tifs(folder, progress=ctx.progress)
    load_s = time.perf_counter() - start
    frame_times = extract_frame_times(written.xml_path)  # index: time (ms)
    analog = load_voltage_recording(folder)  # index: time (ms), one column per signal
    aligned = align_data(analog, frame_times, fill=True)
    frame_of_sample = aligned["Imaging Frame (interpolated)"].to_numpy()
    onset_ms = 1000 * np.asarray(written.stimulus_onsets)
    onset_rows = np.searchsorted(aligned.index.to_numpy(), onset_ms)
    onset_frames = [int(frame_of_sample[min(r, len(frame_of_sample) - 1)]) for r in onset_rows]
    identical = bool(np.array_equal(images, written.images[:, 0, 0]))
    ctx.data["images"] = images
    ctx.data["session"] = written

    window = analog.index.to_numpy() <= min(6000.0, float(analog.index[-1]))
    figure = stimulus_figure(analog.index.to_numpy()[window] / 1000.0,
                             analog["Stimulus"].to_numpy()[window],
                             frame_times.index.to_numpy() / 1000.0,
                             channel_labels=["Stimulus"],
                             title="voltage recording aligned to imaging frames (first 6 s)")
    save_figure(figure, ctx.out / STIMULUS_FIGURE_NAME, overwrite=True, dpi=100)
    ctx.report.append(
        f"PrairieView session: {images.shape[0]} frames {images.shape[1]}×{images.shape[2]} "
        f"loaded in {load_s:.2f} s (identical to what was written: {identical}); "
        f"{analog.shape[1]} voltage signals; stimulus onsets at frames {onset_frames[:5]}"
    )
    return {
        "prairieview": {
            "folder": str(folder),
            "frames": int(images.shape[0]),
            "shape": [int(images.shape[1]), int(images.shape[2])],
            "load_seconds": round(load_s, 4),
            "identical_to_written": identical,
            "voltage_signals": [str(c) for c in analog.columns],
            "stimulus_onset_frames": onset_frames,
            "first_frame_times_ms": [float(t) for t in frame_times.index[:5]],
        }
    }


def stage_denoise(ctx: DemoContext) -> dict:
    """Denoise the loaded session with the 3×3×3 median
    (:func:`CalSciPy.image_processing.median_filter`), scored against the noise-free movie;
    figure of one frame before/after."""
    from CalSciPy.image_processing import median_filter
    from CalSciPy.interactive_visuals import frames_figure, save_figure

    raw = ctx.data["images"]
    movie = ctx.data["session"].movie
    start = time.perf_counter()
    denoised = median_filter(raw)  # (frames, y, x) uint16 in → uint16 out, reflect borders
    elapsed = time.perf_counter() - start
    ctx.data["denoised"] = denoised
    clean = movie.expected_images()
    before = float(np.sqrt(np.mean((raw - clean) ** 2)))
    after = float(np.sqrt(np.mean((denoised - clean) ** 2)))
    frame = raw.shape[0] // 2
    figure = frames_figure(raw[frame], denoised[frame],
                           titles=(f"raw, frame {frame}", "median 3×3×3 (frames, y, x)"))
    save_figure(figure, ctx.out / DENOISE_FIGURE_NAME, overwrite=True, dpi=100)
    ctx.report.append(
        f"denoise: median 3×3×3 of {raw.shape} uint16 in {elapsed:.2f} s; RMS error vs the "
        f"noise-free movie {before:.1f} → {after:.1f} ADU"
    )
    return {
        "denoise": {
            "filter": "median_filter(images), mask 3×3×3, reflect borders",
            "seconds": round(elapsed, 4),
            "rms_error_raw_adu": round(before, 3),
            "rms_error_denoised_adu": round(after, 3),
        }
    }


def stage_traces(ctx: DemoContext) -> dict:
    """Generate the synthetic recording (:func:`CalSciPy.synthetic.generate_traces`)."""
    from CalSciPy.synthetic import generate_traces

    n_frames = max(4, int(round(ctx.seconds * ctx.frame_rate)))
    sim = generate_traces(ctx.neurons, n_frames, ctx.frame_rate, seed=ctx.seed)
    ctx.data["sim"] = sim
    n_spikes = int(sim.spikes.sum())
    ctx.report.append(
        f"recording: {sim.n_neurons} neurons × {sim.n_frames} frames "
        f"({sim.n_frames / sim.frame_rate:.0f} s at {sim.frame_rate:g} Hz), {n_spikes} spikes"
    )
    return {
        "recording": {
            "neurons": sim.n_neurons,
            "frames": sim.n_frames,
            "frame_rate_hz": sim.frame_rate,
            "duration_s": sim.n_frames / sim.frame_rate,
            "seed": ctx.seed,
            "spikes": n_spikes,
            "true_f0": _round(sim.f0, 3),
            "true_noise_sd_dfof": _round(sim.noise_sd),
        }
    }


def _baseline_error(traces: np.ndarray, dfof: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per neuron: median over frames of |F0_est(t) / F0_true(t) − 1|, F0_est = F / (1 + ΔF/F0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f0_est = traces.astype(np.float64) / (1.0 + dfof.astype(np.float64))
        return np.median(np.abs(f0_est / truth - 1.0), axis=1)


def stage_dfof(ctx: DemoContext) -> dict:
    """ΔF/F0 with the documented low-pass baseline and the sliding baseline
    (:func:`CalSciPy.trace_processing.calculate_dfof`), scored against the true F0(t)."""
    from CalSciPy.trace_processing import calculate_dfof

    sim = ctx.data["sim"]
    result = {}
    for method in ("baseline", "sliding"):
        start = time.perf_counter()
        dfof = calculate_dfof(sim.traces, frame_rate=sim.frame_rate, method=method)
        elapsed = time.perf_counter() - start
        ctx.data[f"dfof_{method}"] = dfof
        error = _baseline_error(sim.traces, dfof, sim.baseline)
        result[method] = {
            "seconds": round(elapsed, 4),
            "baseline_error_median": round(float(np.median(error)), 5),
            "baseline_error_per_neuron": _round(error),
            "dfof_abs_error_median": round(float(np.median(np.abs(dfof - sim.dfof_true))), 5),
        }
        ctx.report.append(
            f"ΔF/F0 ({method:8s}): F0 error vs truth median {100 * np.median(error):5.2f} %, "
            f"worst neuron {100 * np.max(error):5.2f} % ({elapsed:.2f} s)"
        )
    return {"dfof": result}


def stage_noise(ctx: DemoContext) -> dict:
    """Standardized noise of the (sliding-baseline) ΔF/F0
    (:func:`CalSciPy.trace_processing.calculate_standardized_noise`)."""
    from CalSciPy.trace_processing import calculate_standardized_noise

    sim = ctx.data["sim"]
    noise = calculate_standardized_noise(ctx.data["dfof_sliding"], frame_rate=sim.frame_rate)
    ctx.data["noise"] = noise
    # white noise of s.d. σ has median |Δ| = 0.6745·√2·σ: the value ν would have at rest
    expected = 100 * 0.6745 * np.sqrt(2.0) * sim.noise_sd / np.sqrt(sim.frame_rate)
    ctx.report.append(
        f"standardized noise: median {np.median(noise):.2f} % Hz^-1/2 "
        f"(range {np.min(noise):.2f}–{np.max(noise):.2f}; noise model at rest "
        f"{np.median(expected):.2f})"
    )
    return {
        "noise": {
            "units": "% Hz^-1/2",
            "method": "calculate_standardized_noise of the sliding-baseline ΔF/F0",
            "median": round(float(np.median(noise)), 5),
            "per_neuron": _round(noise),
            "expected_at_rest_per_neuron": _round(expected),
        }
    }


def stage_events(ctx: DemoContext) -> dict:
    """Events two ways, the documented :func:`~CalSciPy.event_processing.identify_events` and
    OASIS deconvolution (:func:`~CalSciPy.event_processing.infer_spikes` +
    :func:`~CalSciPy.event_processing.detect_events`), event rasters and firing rates, and the
    accuracy of both against the true spikes (:func:`~CalSciPy.event_processing.score_events`)."""
    from CalSciPy.event_processing import (
        calculate_firing_rates,
        calculate_mean_firing_rates,
        detect_events,
        identify_events,
        infer_spikes,
        score_events,
    )
    from CalSciPy.reorganization import generate_raster

    sim = ctx.data["sim"]
    dfof = ctx.data["dfof_sliding"]
    rate = sim.frame_rate
    timings = {}
    start = time.perf_counter()
    events = {"identify_events": identify_events(dfof, frame_rate=rate)}
    timings["identify_events"] = time.perf_counter() - start
    start = time.perf_counter()
    inference = infer_spikes(dfof, rate, progress=ctx.progress)
    events["detect_events"] = detect_events(dfof, rate, inference=inference)
    timings["detect_events"] = time.perf_counter() - start
    ctx.data["events"] = events
    ctx.data["inference"] = inference
    result = {}
    for name, found in events.items():
        raster = generate_raster(found, sim.n_frames)  # (neurons, frames) 0/1
        mean_rates = calculate_mean_firing_rates(calculate_firing_rates(raster, rate))  # Hz
        score = score_events(found, sim.event_frames, tolerance=3)
        ctx.data[f"raster_{name}"] = raster
        result[name] = {
            **score.as_dict(),
            "seconds": round(timings[name], 4),
            "events": int(raster.sum()),
            "event_rate_hz_per_neuron": _round(mean_rates),
            "event_rate_abs_error_median_hz": round(
                float(np.median(np.abs(mean_rates - sim.rates))), 5
            ),
        }
        ctx.report.append(
            f"events ({name:15s}): precision {score.precision:.3f}, recall {score.recall:.3f}, "
            f"F1 {score.f1:.3f} within ±3 frames ({timings[name]:.2f} s)"
        )
    result["matching"] = (
        "greedy one-to-one matching of detected onsets to true spike frames within ±3 frames; "
        "spikes within 3 frames of the previous spike count as one event"
    )
    result["fitted_tau_decay_s_per_neuron"] = _round(inference.tau_decay, 4)
    write_events_figure(ctx, ctx.out / EVENTS_FIGURE_NAME)
    return {"events": result}


#: the pipeline, in order; each stage returns a dict merged into summary.json
STAGES: list[Callable[[DemoContext], dict]] = [
    stage_prairieview,
    stage_denoise,
    stage_traces,
    stage_dfof,
    stage_noise,
    stage_events,
]


# ----------------------------------------------------------------------------- outputs
def write_figure(ctx: DemoContext, path: Path) -> None:
    """PNG of a few raw traces, their ΔF/F0 (both methods, truth) and the noise histogram,
    drawn with :mod:`CalSciPy.interactive_visuals`' static figures."""
    from matplotlib.figure import Figure  # lazily: no pyplot, no backend forced

    from CalSciPy.coloring import COLORS
    from CalSciPy.interactive_visuals import histogram_figure, save_figure, traces_figure

    sim = ctx.data["sim"]
    noise = ctx.data["noise"]
    # four neurons from quiet to busy, over the first minute (readable)
    order = np.argsort(sim.rates)
    picks = np.unique(np.round(np.array([0.2, 0.5, 0.8, 0.97]) * (sim.n_neurons - 1)))
    shown = order[picks.astype(int)]
    fig = Figure(figsize=(12, 8), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=(3, 1))
    traces_figure(
        [sim.traces, sim.baseline, sim.dfof_true, ctx.data["dfof_baseline"],
         ctx.data["dfof_sliding"]],
        sim.frame_rate, neurons=shown, frames=(0, int(60 * sim.frame_rate)),
        columns=[0, 0, 1, 1, 1],
        labels=["F", "true F0(t)", "true ΔF/F0", "ΔF/F0 low-pass baseline", "ΔF/F0 sliding"],
        column_titles=["raw fluorescence, first minute", "ΔF/F0"],
        y_labels=["F (a.u.)", "ΔF/F0"],
        line_styles=[{"linewidth": 0.6}, {"color": "black", "linestyle": "--"},
                     {"color": "black", "linewidth": 1.2},
                     {"color": COLORS["grey"], "linewidth": 0.6},
                     {"color": COLORS["blue"], "linewidth": 0.6}],
        figure=left,
    )
    histogram_figure(noise, bins=min(30, max(5, sim.n_neurons // 4)),
                     x_label="standardized noise (% Hz$^{-1/2}$)",
                     title="noise level per neuron", markers={"median": float(np.median(noise))},
                     figure=right)
    save_figure(fig, path, overwrite=True, dpi=100)


def write_events_figure(ctx: DemoContext, path: Path) -> None:
    """PNG: event rasters of the first minute (true spikes, ``detect_events``,
    ``identify_events``), drawn with :func:`CalSciPy.interactive_visuals.raster_figure`."""
    from matplotlib.figure import Figure

    from CalSciPy.interactive_visuals import raster_figure, save_figure

    sim = ctx.data["sim"]
    frames = min(sim.n_frames, int(60 * sim.frame_rate))
    shown = min(sim.n_neurons, 40)
    rows = [
        ("true spikes", sim.event_frames),
        ("detect_events (OASIS deconvolution)", ctx.data["events"]["detect_events"]),
        ("identify_events (documented 0.3.4 algorithm)", ctx.data["events"]["identify_events"]),
    ]
    fig = Figure(figsize=(12, 9), layout="constrained")
    for panel, (title, found) in zip(fig.subfigures(len(rows), 1), rows):
        first_minute = [np.asarray(found[i])[np.asarray(found[i]) < frames] for i in range(shown)]
        raster_figure(first_minute, sim.frame_rate, n_frames=frames, title=title, figure=panel)
    save_figure(fig, path, overwrite=True, dpi=100)


def run_pipeline(ctx: DemoContext, stages=None) -> dict:
    """Run the stages in order, timing each; return the merged summary."""
    summary: dict[str, Any] = {"calscipy_version": __version__, "timings_s": {}}
    total = time.perf_counter()
    for stage in STAGES if stages is None else stages:
        start = time.perf_counter()
        summary.update(stage(ctx))
        summary["timings_s"][stage.__name__.removeprefix("stage_")] = round(
            time.perf_counter() - start, 4
        )
    summary["timings_s"]["total"] = round(time.perf_counter() - total, 4)
    return summary


def run(args: argparse.Namespace) -> int:
    """Entry point of ``calscipy demo``."""
    if args.neurons < 1:
        raise ValueError(f"--neurons must be >= 1, got {args.neurons}")
    if not 0 < args.seconds < float("inf"):
        raise ValueError(f"--seconds must be a finite number > 0, got {args.seconds}")
    if not 2 < args.frame_rate <= DEMO_MAX_FRAME_RATE:
        raise ValueError(f"--frame-rate must be a number in (2, {DEMO_MAX_FRAME_RATE:g}] Hz "
                         f"(the synthetic voltage rate), got {args.frame_rate:g}")
    n_frames = args.seconds * args.frame_rate
    if not DEMO_MIN_FRAMES <= n_frames <= DEMO_MAX_SAMPLES / args.neurons:
        raise ValueError(
            f"--seconds {args.seconds:g} at --frame-rate {args.frame_rate:g} Hz gives "
            f"{n_frames:.0f} frames for --neurons {args.neurons}; the demo needs at least "
            f"{DEMO_MIN_FRAMES} frames and at most {DEMO_MAX_SAMPLES:.0e} neuron-frames"
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out=out, neurons=args.neurons, seconds=args.seconds, seed=args.seed,
                      frame_rate=args.frame_rate, progress=not args.no_progress)
    summary = run_pipeline(ctx)
    start = time.perf_counter()
    write_figure(ctx, out / FIGURE_NAME)
    summary["timings_s"]["figure"] = round(time.perf_counter() - start, 4)
    with atomic_write(out / SUMMARY_NAME, overwrite=True, mode="w") as handle:
        json.dump(summary, handle, indent=1)
        handle.write("\n")
    print("CalSciPy demo: PrairieView session → frames, voltage → denoise → ΔF/F0 → noise "
          "→ events")
    for line in ctx.report:
        print(f"  {line}")
    written = ", ".join((SUMMARY_NAME, FIGURE_NAME, STIMULUS_FIGURE_NAME, DENOISE_FIGURE_NAME,
                         EVENTS_FIGURE_NAME))
    print(f"  total {summary['timings_s']['total']:.2f} s; wrote {written} into {out}")
    return 0


def register(subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="run the pipeline on synthetic data and write a summary and figures",
        description="Write a seeded synthetic PrairieView session and load it back (frames, "
        "frame times, aligned voltage), denoise it, compute ΔF/F0 (low-pass and sliding "
        "baselines), the standardized noise and events (two methods) of a synthetic "
        "population, and write summary.json and PNG figures into --out.",
    )
    parser.add_argument("--out", default="demo_output", metavar="DIR",
                        help="output folder (default: demo_output)")
    parser.add_argument("--neurons", type=int, default=200, metavar="N",
                        help="number of neurons (default: 200)")
    parser.add_argument("--seconds", type=float, default=300.0, metavar="S",
                        help="recording length in seconds (default: 300)")
    parser.add_argument("--seed", type=int, default=0, metavar="K",
                        help="random seed (default: 0)")
    parser.add_argument("--frame-rate", type=float, default=30.0, metavar="HZ",
                        help="imaging rate in Hz (default: 30)")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide progress bars of long stages")
    parser.set_defaults(func=run)
