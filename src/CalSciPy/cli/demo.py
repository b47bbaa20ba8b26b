"""``calscipy demo``: a synthetic recording run through the CalSciPy pipeline.

The demo is a list of *stages* (:data:`STAGES`), each a small function of a shared
:class:`DemoContext` that calls library functions, keeps arrays for later stages in
``ctx.data`` and returns a JSON-able dict that is merged into ``summary.json``. New pipeline
steps are added as further stage functions; the runner times every stage.

Outputs, in ``--out`` (created if missing; the demo's own files are replaced atomically):
``summary.json`` (recording, per-neuron noise, baseline error vs truth, timings) and
``demo_figure.png`` (raw traces, their ΔF/F0 with both methods, the noise histogram).
"""
from __future__ import annotations

import argparse
import io
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


#: the pipeline, in order; each stage returns a dict merged into summary.json
STAGES: list[Callable[[DemoContext], dict]] = [stage_traces, stage_dfof, stage_noise]


# ----------------------------------------------------------------------------- outputs
def write_figure(ctx: DemoContext, path: Path) -> None:
    """PNG of a few raw traces, their ΔF/F0 (both methods, truth) and the noise histogram."""
    from matplotlib.figure import Figure  # lazily: no pyplot, no backend forced

    sim = ctx.data["sim"]
    # the first minute (readable), four neurons from quiet to busy
    window = slice(0, min(sim.n_frames, int(60 * sim.frame_rate)))
    t = sim.time[window]
    order = np.argsort(sim.rates)
    picks = np.unique(np.round(np.array([0.2, 0.5, 0.8, 0.97]) * (sim.n_neurons - 1)))
    shown = order[picks.astype(int)]
    fig = Figure(figsize=(12, 8), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=(3, 1))
    ax_raw = fig.add_subplot(grid[0, 0])
    ax_dfof = fig.add_subplot(grid[1, 0], sharex=ax_raw)
    ax_noise = fig.add_subplot(grid[:, 1])
    step = 0.0
    for k, i in enumerate(shown):
        ax_raw.plot(t, sim.traces[i, window], lw=0.6, color=f"C{k}")
        ax_raw.plot(t, sim.baseline[i, window], lw=1.0, color="k", ls="--")
        sliding = ctx.data["dfof_sliding"][i, window]
        ax_dfof.plot(t, sim.dfof_true[i, window] + step, lw=1.2, color="k")
        ax_dfof.plot(t, ctx.data["dfof_baseline"][i, window] + step, lw=0.6, color="0.6")
        ax_dfof.plot(t, sliding + step, lw=0.6, color=f"C{k}")
        step += 1.2 * max(float(sliding.max()), 1.0)
    ax_raw.set(ylabel="F (a.u.)", title="raw fluorescence, first minute (dashed: true F0(t))")
    ax_dfof.set(xlabel="time (s)", ylabel="ΔF/F0 (stacked)",
                title="ΔF/F0: sliding (colour), low-pass baseline (grey), truth (black)")
    ax_noise.hist(ctx.data["noise"], bins=min(30, max(5, sim.n_neurons // 4)), color="C0")
    ax_noise.set(xlabel="standardized noise (% Hz$^{-1/2}$)", ylabel="neurons",
                 title="noise level per neuron")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    with atomic_write(path, overwrite=True) as handle:
        handle.write(buffer.getvalue())


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
    if not args.seconds > 0:
        raise ValueError(f"--seconds must be > 0, got {args.seconds}")
    if not args.frame_rate > 2:
        raise ValueError(f"--frame-rate must be > 2 Hz, got {args.frame_rate}")
    out = Path(args.out)
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
    print("CalSciPy demo: synthetic recording → ΔF/F0 → noise")
    for line in ctx.report:
        print(f"  {line}")
    print(f"  total {summary['timings_s']['total']:.2f} s; wrote {out / SUMMARY_NAME} and "
          f"{out / FIGURE_NAME}")
    return 0


def register(subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="run the pipeline on a synthetic recording and write a summary and a figure",
        description="Generate a seeded synthetic recording, compute ΔF/F0 (low-pass and "
        "sliding baselines) and the standardized noise, and write summary.json and "
        "demo_figure.png into --out.",
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
