"""Render the README screenshots of CalSciPy.interactive_visuals into docs/ (headless).

Run from the project root:  .venv/bin/python docs/make_screenshots.py
All data are synthetic (CalSciPy.synthetic), so the images are reproducible. Existing images are
replaced. Spike inference uses the optional OASIS extra (calscipy[spikes]) when installed; without
it the spike screenshot shows the trace and the ground-truth spikes only.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

from CalSciPy import interactive_visuals as iv  # noqa: E402
from CalSciPy.errors import MissingDependencyError  # noqa: E402
from CalSciPy.image_processing import gaussian_filter  # noqa: E402
from CalSciPy.synthetic import generate_movie, generate_traces  # noqa: E402
from CalSciPy.trace_processing import (  # noqa: E402
    calculate_dfof,
    calculate_standardized_noise,
)

DOCS = Path(__file__).resolve().parent
FRAME_RATE = 30.0
DPI = 72


def _save_plot(plot, name: str) -> Path:
    path = plot.save(DOCS / name, dpi=DPI, overwrite=True)
    plot.close()
    return path


def _save_figure(figure, name: str) -> Path:
    return iv.save_figure(figure, DOCS / name, dpi=DPI, overwrite=True)


def _spike_probability(dfof: np.ndarray) -> np.ndarray | None:
    try:
        from CalSciPy.event_processing import infer_spikes

        return infer_spikes(dfof, FRAME_RATE).spikes
    except (MissingDependencyError, ImportError):
        return None


def _trial_responses(dfof: np.ndarray, onsets: np.ndarray, conditions: list[str]) -> np.ndarray:
    """Add an illustrative stimulus-locked response (stronger for condition 'A') to ΔF/F0."""
    rng = np.random.default_rng(7)
    data = dfof.astype(np.float64).copy()
    t = np.arange(int(2 * FRAME_RATE)) / FRAME_RATE
    kernel = (1 - np.exp(-t / 0.1)) * np.exp(-t / 0.6)
    gains = rng.uniform(0.2, 1.0, size=data.shape[0])
    for onset, condition in zip(onsets, conditions):
        scale = 1.0 if condition == "A" else 0.3
        stop = min(onset + kernel.size, data.shape[1])
        data[:, onset:stop] += (gains[:, None] * scale) * kernel[None, : stop - onset]
    return data


def main() -> list[Path]:
    synthetic = generate_traces(n_neurons=12, n_frames=int(60 * FRAME_RATE),
                                frame_rate=FRAME_RATE, seed=1)
    raw = synthetic.traces
    dfof = calculate_dfof(raw, FRAME_RATE, method="sliding")
    written = []

    # interactive browsers (saved as they look on screen, minus the slider)
    plot = iv.plot_traces([raw, dfof], FRAME_RATE, mode="stacked", labels=["F (raw)", "ΔF/F0"],
                          neuron=3, figsize=(9, 4.5))
    plot.axes[0].set_ylabel("F (a.u.)")
    written.append(_save_plot(plot, "screenshot_plot_traces.png"))

    probability = _spike_probability(dfof)
    plot = iv.plot_spikes(probability, synthetic.event_frames, dfof, FRAME_RATE, neuron=3,
                          figsize=(9, 4))
    plot.axes[0].set_xlim(10, 30)
    written.append(_save_plot(plot, "screenshot_plot_spikes.png"))

    onsets = np.arange(int(2 * FRAME_RATE), dfof.shape[1] - int(3 * FRAME_RATE),
                       int(3 * FRAME_RATE))
    conditions = ["A" if k % 2 == 0 else "B" for k in range(onsets.size)]
    responses = _trial_responses(dfof, onsets, conditions)
    plot = iv.plot_trials(responses, onsets, conditions, 1 / FRAME_RATE, "ΔF/F0",
                          pre=int(0.5 * FRAME_RATE), post=int(2.5 * FRAME_RATE), neuron=3,
                          figsize=(6.5, 6))
    written.append(_save_plot(plot, "screenshot_plot_trials.png"))

    # static report figures (the demo's counterparts)
    written.append(_save_figure(
        iv.traces_figure([raw, dfof], FRAME_RATE, neurons=[0, 3, 7],
                         labels=["F (raw)", "ΔF/F0"], y_labels=["a.u.", ""],
                         title="Raw fluorescence and ΔF/F0"),
        "figure_traces.png"))
    noise = calculate_standardized_noise(dfof, FRAME_RATE)
    written.append(_save_figure(
        iv.histogram_figure(noise, x_label="Standardized noise (% Hz$^{-1/2}$)",
                            markers={"median": float(np.nanmedian(noise))},
                            title="Noise per neuron"),
        "figure_noise.png"))
    written.append(_save_figure(
        iv.raster_figure(synthetic.event_frames, FRAME_RATE, n_frames=raw.shape[1],
                         title="Spike raster (ground truth)"),
        "figure_raster.png"))
    movie = generate_movie(n_frames=20, shape=(96, 96), n_neurons=12, frame_rate=FRAME_RATE,
                           seed=2)
    smoothed = gaussian_filter(movie.images, sigma=1.0)
    written.append(_save_figure(
        iv.frames_figure(movie.images[10], smoothed[10], titles=("Raw frame", "Gaussian σ=1"),
                         figsize=(7, 3.4)),
        "figure_frames.png"))
    time = np.arange(0, 2.0, 1e-3)
    voltage = np.where((time % 0.5) < 0.1, 5.0, 0.0)
    written.append(_save_figure(
        iv.stimulus_figure(time, voltage, np.arange(0, 2.0, 1 / FRAME_RATE),
                           channel_labels=["stimulus TTL"], title="Voltage recording"),
        "figure_stimulus.png"))
    return written


if __name__ == "__main__":
    for path in main():
        print(f"wrote {path.relative_to(DOCS.parent)} ({path.stat().st_size // 1024} KiB)",
              file=sys.stderr)
