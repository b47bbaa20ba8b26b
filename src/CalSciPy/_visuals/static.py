"""Static, headless figures (no pyplot, no GUI): the counterparts of the browsers for reports."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from CalSciPy._atomic import as_path, atomic_path
from CalSciPy._visuals._style import new_figure, style_context
from CalSciPy._visuals._validate import (
    as_dataset,
    as_datasets,
    as_event_lists,
    check_labels,
    check_mode,
    optional_frame_rate,
    time_axis,
)
from CalSciPy.coloring import COLORS, cutoff_images, get_color, get_colormap

__all__ = [
    "traces_figure",
    "histogram_figure",
    "raster_figure",
    "frames_figure",
    "stimulus_figure",
    "save_figure",
]


def _select_neurons(n_neurons: int, neurons) -> list[int]:
    if neurons is None:
        return list(range(min(n_neurons, 5)))
    chosen = [int(n) for n in np.atleast_1d(neurons)]
    if not chosen:
        raise ValueError("neurons is empty")
    bad = [n for n in chosen if not -n_neurons <= n < n_neurons]
    if bad:
        raise ValueError(f"neuron {bad[0]} is out of range: 0 to {n_neurons - 1}")
    return [n % n_neurons for n in chosen]


def traces_figure(
    traces,
    frame_rate: float | None = None,
    *,
    neurons: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | str | None = None,
    mode: str = "stacked",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
):
    """A few neurons' traces, one row per neuron, from one or several datasets.

    Parameters
    ----------
    traces
        ``(neurons, frames)`` array or a list of same-shape arrays (e.g. ``[raw, dfof]``).
    frame_rate
        Hz; x axis in seconds when given, else frames.
    neurons
        Neuron indices to draw (default: the first five).
    labels
        One name per dataset (column titles in ``'stacked'`` mode, legend in ``'overlay'``).
    y_labels
        y-axis label per dataset (``'stacked'``) or one label.
    mode
        ``'stacked'``: one column per dataset, so datasets with different units (raw F and
        ΔF/F0) each get their own scale; ``'overlay'``: all datasets on one axis per neuron.
    title
        Figure title.
    figsize
        Inches; default scales with the number of rows.

    Returns
    -------
    matplotlib.figure.Figure
        A headless figure (save it with :func:`save_figure` or ``Figure.savefig``).
    """
    datasets = as_datasets(traces)
    mode = check_mode(mode)
    labels = check_labels(labels, len(datasets))
    rate = optional_frame_rate(frame_rate)
    rows = _select_neurons(datasets[0].shape[0], neurons)
    columns = len(datasets) if mode == "stacked" else 1
    if y_labels is None or isinstance(y_labels, str):
        y_labels = [y_labels or ""] * len(datasets)
    y_labels = check_labels(y_labels, len(datasets), "y_labels")
    x, x_label = time_axis(datasets[0].shape[1], rate)
    size = figsize or (4.0 * columns + 1.0, 1.4 * len(rows) + 1.0)
    with style_context():
        fig = new_figure(size, managed=False)
        axes = fig.subplots(len(rows), columns, sharex=True, squeeze=False)
        for r, neuron in enumerate(rows):
            for k, data in enumerate(datasets):
                c = k if mode == "stacked" else 0
                ax = axes[r, c]
                label = labels[k] if labels else None
                ax.plot(x, data[neuron], color=get_color(k), label=label)
                if c == 0:
                    ax.set_ylabel(f"#{neuron}\n{y_labels[k]}".rstrip())
                elif y_labels[k]:
                    ax.set_ylabel(y_labels[k])
                if r == 0 and mode == "stacked" and labels:
                    ax.set_title(labels[k])
            if mode == "overlay" and labels and r == 0:
                axes[0, 0].legend(loc="upper right")
        for ax in axes[-1]:
            ax.set_xlabel(x_label)
        if title:
            fig.suptitle(title)
    return fig


def histogram_figure(
    values,
    *,
    bins: int | str = "auto",
    x_label: str = "",
    y_label: str = "Neurons",
    title: str | None = None,
    markers: dict[str, float] | None = None,
    figsize: tuple[float, float] = (5.0, 3.5),
):
    """Histogram of per-neuron values (e.g. standardized noise), NaNs left out.

    ``markers`` maps a legend label to an x position drawn as a vertical line (e.g. the
    median). Returns a headless :class:`matplotlib.figure.Figure`.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise ValueError("values has no finite entries to histogram")
    with style_context():
        fig = new_figure(figsize, managed=False)
        ax = fig.add_subplot()
        from matplotlib.ticker import MaxNLocator

        ax.hist(finite, bins=bins, color=COLORS["blue"], edgecolor="white", linewidth=0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        for k, (label, position) in enumerate((markers or {}).items()):
            ax.axvline(position, color=get_color(k + 1), linestyle="--", label=label)
        if markers:
            ax.legend(loc="upper right")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if title:
            ax.set_title(title)
    return fig


def raster_figure(
    events,
    frame_rate: float | None = None,
    *,
    n_frames: int | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 4.0),
):
    """Event raster: one row per neuron, a tick per event.

    Parameters
    ----------
    events
        Binary/count matrix ``(neurons, frames)`` (non-zero = event) or a list with one array
        of event frames per neuron.
    frame_rate
        Hz; x axis in seconds when given, else frames.
    n_frames
        Recording length in frames (x extent) when ``events`` is a list.

    Returns
    -------
    matplotlib.figure.Figure
        Headless figure; the raster is ``fig.axes[0].collections`` (one EventCollection per
        neuron, positions in x units).
    """
    if isinstance(events, np.ndarray) and events.ndim == 2:
        n_frames = events.shape[1]
    lists = as_event_lists(events, None, n_frames, "events")
    rate = optional_frame_rate(frame_rate)
    if n_frames is None:
        n_frames = 1 + max((int(f.max()) for f in lists if f.size), default=0)
    scale = 1.0 / rate if rate else 1.0
    with style_context():
        fig = new_figure(figsize, managed=False)
        ax = fig.add_subplot()
        ax.eventplot(
            [f * scale for f in lists], colors=COLORS["grey"], linelengths=0.8, linewidths=0.8
        )
        ax.set_xlim(0, n_frames * scale)
        ax.set_ylim(len(lists) - 0.5, -0.5)
        ax.set_xlabel("Time (s)" if rate else "Frame")
        ax.set_ylabel("Neuron")
        if title:
            ax.set_title(title)
    return fig


def _as_frame(image, name: str) -> np.ndarray:
    frame = np.asarray(image)
    if frame.ndim == 3 and frame.shape[0] == 1:
        frame = frame[0]
    if frame.ndim != 2 or frame.size == 0:
        raise ValueError(f"{name} must be one non-empty (y, x) frame, got shape {frame.shape}")
    if not (np.issubdtype(frame.dtype, np.integer) or np.issubdtype(frame.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {frame.dtype}")
    return frame


def frames_figure(
    before,
    after,
    *,
    titles: Sequence[str] = ("Before", "After"),
    cutoffs: Sequence[float] = (0.5, 99.5),
    shared_limits: bool = True,
    cmap: str = "calscipy_fluorescence",
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 4.2),
):
    """Two frames side by side (e.g. before/after denoising) with display contrast.

    Both frames are clipped to the ``cutoffs`` percentiles (:func:`CalSciPy.coloring.cutoff_images`)
    and, with ``shared_limits``, drawn with the same colour limits (taken from ``before``) so
    the comparison is fair. Returns a headless :class:`matplotlib.figure.Figure`.
    """
    first = _as_frame(before, "before")
    second = _as_frame(after, "after")
    if first.shape != second.shape:
        raise ValueError(f"before {first.shape} and after {second.shape} differ in shape")
    if len(titles) != 2:
        raise ValueError(f"titles must name the two frames, got {titles!r}")
    shown = [cutoff_images(f.astype(np.float64), cutoffs) for f in (first, second)]
    limits = [(np.nanmin(f), np.nanmax(f)) for f in shown]
    if shared_limits:
        limits = [limits[0], limits[0]]
    colormap = get_colormap(cmap)
    with style_context():
        fig = new_figure(figsize, managed=False)
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        for ax, frame, label, (vmin, vmax) in zip(axes, shown, titles, limits):
            image = ax.imshow(frame, cmap=colormap, vmin=vmin, vmax=vmax)
            ax.set_title(label)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(image, ax=list(axes), shrink=0.8, label="Fluorescence (a.u.)")
        if title:
            fig.suptitle(title)
    return fig


def stimulus_figure(
    time,
    voltage,
    frame_times=None,
    *,
    channel_labels: Sequence[str] | None = None,
    y_label: str = "Voltage (V)",
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 3.5),
):
    """Voltage-recording channel(s) over time with imaging-frame ticks underneath.

    Parameters
    ----------
    time
        Sample times, seconds, shape ``(samples,)``.
    voltage
        ``(samples,)`` or ``(channels, samples)`` volts.
    frame_times
        Frame acquisition times in seconds, drawn as ticks on a strip below.
    channel_labels
        Legend names per channel.

    Returns
    -------
    matplotlib.figure.Figure
        Headless figure: ``axes[0]`` the voltage lines, ``axes[1]`` the frame ticks (if any).
    """
    t = np.asarray(time, dtype=np.float64).ravel()
    volts = as_dataset(voltage, "voltage")
    if t.size == 0:
        raise ValueError("time is empty")
    if volts.shape[1] != t.size:
        raise ValueError(f"voltage has {volts.shape[1]} samples but time has {t.size}")
    labels = check_labels(channel_labels, volts.shape[0], "channel_labels")
    ticks = None if frame_times is None else np.asarray(frame_times, dtype=np.float64).ravel()
    with style_context():
        fig = new_figure(figsize, managed=False)
        if ticks is not None:
            grid = fig.add_gridspec(2, 1, height_ratios=[4, 1])
            ax = fig.add_subplot(grid[0])
            ax_frames = fig.add_subplot(grid[1], sharex=ax)
        else:
            ax = fig.add_subplot()
            ax_frames = None
        for k, row in enumerate(volts):
            ax.plot(t, row, color=get_color(k), label=labels[k] if labels else None)
        if labels:
            ax.legend(loc="upper right")
        ax.set_ylabel(y_label)
        ax.set_xlim(t[0], t[-1] if t.size > 1 else t[0] + 1)
        if ax_frames is not None:
            ax_frames.eventplot([ticks], colors=COLORS["grey"], linelengths=0.8, linewidths=0.6)
            ax_frames.set_yticks([])
            ax_frames.set_ylabel("Frames", rotation=0, ha="right", va="center")
            ax_frames.set_xlabel("Time (s)")
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("Time (s)")
        if title:
            ax.set_title(title)
    return fig


def save_figure(
    figure,
    path: str | os.PathLike,
    *,
    dpi: float | None = None,
    overwrite: bool = False,
    format: str | None = None,
) -> Path:
    """Save ``figure`` atomically (temporary file + rename) under the package style.

    The image is ``figsize × dpi`` pixels (no tight cropping). Existing files raise
    ``FileExistsError`` unless ``overwrite=True``. Returns the path written.
    """
    target = as_path(path)
    with style_context(), atomic_path(target, overwrite=overwrite) as staged:
        figure.savefig(staged, dpi=dpi or figure.dpi, format=format)
    return target
