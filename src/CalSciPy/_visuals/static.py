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
    check_labels,
    check_mode,
    optional_frame_rate,
    plot_event_lists,
    time_axis,
)
from CalSciPy._visuals.onsets import as_onsets, mark_onsets
from CalSciPy.coloring import COLORS, cutoff_images, get_color, get_colormap
from CalSciPy.errors import InvalidArgumentError

__all__ = [
    "spikes_figure",
    "trials_figure",
    "traces_figure",
    "histogram_figure",
    "raster_figure",
    "frames_figure",
    "stimulus_figure",
    "trial_heatmap_figure",
    "response_order",
    "save_figure",
]


def _select_neurons(n_neurons: int, neurons) -> list[int]:
    if neurons is None:
        return list(range(min(n_neurons, 5)))
    chosen = [int(n) for n in np.atleast_1d(neurons)]
    if not chosen:
        raise InvalidArgumentError("neurons is empty")
    bad = [n for n in chosen if not -n_neurons <= n < n_neurons]
    if bad:
        raise InvalidArgumentError(f"neuron {bad[0]} is out of range: 0 to {n_neurons - 1}")
    return [n % n_neurons for n in chosen]


def _canvas(figure, size):
    """The figure to draw into: a new headless one, or the caller's Figure/SubFigure."""
    if figure is None:
        return new_figure(size, managed=False)
    if not hasattr(figure, "add_subplot") or not hasattr(figure, "subplots"):
        raise TypeError(f"figure must be a matplotlib Figure or SubFigure, got {figure!r}")
    return figure


def _frame_window(frames, n_frames: int) -> slice:
    if frames is None:
        return slice(0, n_frames)
    if isinstance(frames, slice):
        window = slice(*frames.indices(n_frames)[:2])
    else:
        try:
            start, stop = (int(v) for v in frames)
        except (TypeError, ValueError) as err:
            raise InvalidArgumentError(
                f"frames must be a slice or (start, stop), got {frames!r}"
            ) from err
        window = slice(*slice(start, stop).indices(n_frames)[:2])
    if window.stop <= window.start:
        raise InvalidArgumentError(
            f"frames {frames!r} selects no frames of the {n_frames} available"
        )
    return window


def traces_figure(
    traces,
    frame_rate: float | None = None,
    *,
    neurons: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | str | None = None,
    mode: str = "stacked",
    columns: Sequence[int] | None = None,
    column_titles: Sequence[str] | None = None,
    frames: slice | tuple[int, int] | None = None,
    line_styles: Sequence[dict | None] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    figure=None,
    onsets=None,
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
        One name per dataset: the legend (columns holding several datasets) or the column
        title (columns holding one).
    y_labels
        One y-axis label per column, or one label for all.
    mode
        ``'stacked'``: one column per dataset, so datasets with different units (raw F and
        ΔF/F0) each get their own scale; ``'overlay'``: all datasets on one axis per neuron.
    columns
        Column index of each dataset, overriding ``mode`` (e.g. ``[0, 0, 1, 1]``: raw F and its
        baseline on the left, two ΔF/F0 versions on the right).
    column_titles
        Title of each column (default: the dataset label when a column holds one dataset).
    frames
        Frame window to draw, a slice or ``(start, stop)`` (x values stay absolute).
    line_styles
        Per-dataset :class:`~matplotlib.lines.Line2D` keyword dicts (color, linewidth,
        linestyle, alpha...), over the default palette colour.
    title
        Figure title.
    figsize
        Inches; default scales with rows and columns. Ignored with ``figure``.
    figure
        Draw into this Figure or SubFigure (e.g. one panel of a composite) instead of a new one.
    onsets
        Stimulus onsets in x units (seconds with ``frame_rate``, else frames), drawn as dashed
        vertical lines on every panel (e.g. ``Onsets.times_s``).

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.figure.SubFigure
        The headless figure drawn into (save it with :func:`save_figure`). Axes are
        ``fig.axes`` in row-major order.
    """
    datasets = as_datasets(traces)
    mode = check_mode(mode)
    labels = check_labels(labels, len(datasets))
    rate = optional_frame_rate(frame_rate)
    rows = _select_neurons(datasets[0].shape[0], neurons)
    if columns is None:
        columns = list(range(len(datasets))) if mode == "stacked" else [0] * len(datasets)
    columns = [int(c) for c in columns]
    if len(columns) != len(datasets):
        raise InvalidArgumentError(f"got {len(columns)} columns for {len(datasets)} datasets")
    n_columns = max(columns) + 1
    if min(columns) < 0 or sorted(set(columns)) != list(range(n_columns)):
        raise InvalidArgumentError(
            f"columns must number the columns 0, 1, ... without gaps, got {columns}"
        )
    if y_labels is None or isinstance(y_labels, str):
        y_labels = [y_labels or ""] * n_columns
    y_labels = check_labels(y_labels, n_columns, "y_labels")
    column_titles = check_labels(column_titles, n_columns, "column_titles")
    if line_styles is not None and len(line_styles) != len(datasets):
        raise InvalidArgumentError(
            f"got {len(line_styles)} line_styles for {len(datasets)} datasets"
        )
    window = _frame_window(frames, datasets[0].shape[1])
    x, x_label = time_axis(datasets[0].shape[1], rate)
    x = x[window]
    marks = as_onsets(onsets)
    if marks is not None:
        marks = marks[(marks >= x[0]) & (marks <= x[-1])]
    members = [[k for k, c in enumerate(columns) if c == column] for column in range(n_columns)]
    size = figsize or (4.0 * n_columns + 1.0, 1.4 * len(rows) + 1.0)
    with style_context():
        fig = _canvas(figure, size)
        axes = fig.subplots(len(rows), n_columns, sharex=True, squeeze=False)
        for r, neuron in enumerate(rows):
            for k, data in enumerate(datasets):
                ax = axes[r, columns[k]]
                style = {"color": get_color(k), "label": labels[k] if labels else None}
                style.update((line_styles[k] or {}) if line_styles is not None else {})
                ax.plot(x, data[neuron, window], **style)
            for c in range(n_columns):
                mark_onsets(axes[r, c], marks)
                ylabel = f"#{neuron}\n{y_labels[c]}".rstrip() if c == 0 else y_labels[c]
                axes[r, c].set_ylabel(ylabel)
        for c, ks in enumerate(members):
            if column_titles:
                axes[0, c].set_title(column_titles[c])
            elif labels and len(ks) == 1:
                axes[0, c].set_title(labels[ks[0]])
            if labels and len(ks) > 1:
                axes[0, c].legend(loc="upper right", frameon=True, framealpha=0.85,
                                  edgecolor="none")
        for ax in axes[-1]:
            ax.set_xlabel(x_label)
        if title:
            fig.suptitle(title)
    return fig


def spikes_figure(
    spike_prob: np.ndarray | None = None,
    spike_times=None,
    traces: np.ndarray | None = None,
    frame_rate: float | None = None,
    y_label: str = "Δf/f0",
    *,
    neuron: int = 0,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
):
    """Static counterpart of ``plot_spikes``: one neuron's trace, probability and spike ticks.

    Same inputs and checks as :func:`CalSciPy.interactive_visuals.plot_spikes`; returns a
    headless :class:`matplotlib.figure.Figure` (no pyplot, no slider, no key handling).
    """
    from CalSciPy._visuals.spikes import SpikePlot

    return SpikePlot(
        spike_prob, spike_times, traces, frame_rate, y_label, neuron=neuron, figsize=figsize,
        dpi=dpi, slider=False, interactive=False,
    ).figure


def trials_figure(
    data: np.ndarray | None,
    trials: np.ndarray,
    trial_conditions: Sequence | None = None,
    bin_duration: float | None = None,
    y_label: str = "Firing Rate (Hz)",
    *,
    pre: int | None = None,
    post: int | None = None,
    neuron: int = 0,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
):
    """Static counterpart of ``plot_trials``: one neuron's condition means ± SEM and heat map.

    Same inputs and checks as :func:`CalSciPy.interactive_visuals.plot_trials`; returns a
    headless :class:`matplotlib.figure.Figure`.
    """
    from CalSciPy._visuals.trials import TrialPlot

    return TrialPlot(
        data, trials, trial_conditions, bin_duration, y_label, pre=pre, post=post,
        neuron=neuron, figsize=figsize, dpi=dpi, slider=False, interactive=False,
    ).figure


def histogram_figure(
    values,
    *,
    bins: int | str = "auto",
    x_label: str = "",
    y_label: str = "Neurons",
    title: str | None = None,
    markers: dict[str, float] | None = None,
    figsize: tuple[float, float] = (5.0, 3.5),
    figure=None,
):
    """Histogram of per-neuron values (e.g. standardized noise), NaNs left out.

    ``markers`` maps a legend label to an x position drawn as a vertical line (e.g. the
    median). ``figure``: draw into this Figure/SubFigure instead of a new one. Returns the
    headless figure drawn into.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise InvalidArgumentError("values has no finite entries to histogram")
    with style_context():
        fig = _canvas(figure, figsize)
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
    figure=None,
    onsets=None,
    labels: Sequence | None = None,
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
    title
        Axes title.
    figsize
        Inches. Ignored with ``figure``.
    figure
        Draw into this Figure/SubFigure instead of a new one.
    onsets
        Stimulus onsets in x units (seconds with ``frame_rate``, else frames), drawn as
        dashed vertical lines.
    labels
        One y tick label per row (e.g. ROI ids); default row numbers.

    Returns
    -------
    matplotlib.figure.Figure
        Headless figure; the raster is ``fig.axes[0].collections`` (one EventCollection per
        neuron, positions in x units).
    """
    if isinstance(events, np.ndarray) and events.ndim == 2:
        n_frames = events.shape[1]
    lists = plot_event_lists(events, None, n_frames, "events")
    rate = optional_frame_rate(frame_rate)
    if n_frames is None:
        n_frames = 1 + max((int(f.max()) for f in lists if f.size), default=0)
    scale = 1.0 / rate if rate else 1.0
    with style_context():
        fig = _canvas(figure, figsize)
        ax = fig.add_subplot()
        ax.eventplot(
            [f * scale for f in lists], colors=COLORS["grey"], linelengths=0.8, linewidths=0.8
        )
        mark_onsets(ax, as_onsets(onsets))
        ax.set_xlim(0, n_frames * scale)
        ax.set_ylim(len(lists) - 0.5, -0.5)
        if labels is not None:
            if len(labels) != len(lists):
                raise InvalidArgumentError(f"got {len(labels)} labels for {len(lists)} raster rows")
            step = max(1, len(lists) // 20)  # at most ~20 readable tick labels
            ax.set_yticks(range(0, len(lists), step), [str(v) for v in labels][::step])
        ax.set_xlabel("Time (s)" if rate else "Frame")
        ax.set_ylabel("Neuron")
        if title:
            ax.set_title(title)
    return fig


def response_order(average: np.ndarray, time_s: np.ndarray, baseline_s, response_s
                   ) -> np.ndarray:
    """Row order of a ``(neurons, frames)`` trial average, largest response first: the mean
    over ``response_s`` minus the mean over ``baseline_s`` (``start ≤ t < stop``, seconds);
    neurons without data last."""
    import warnings

    def window_mean(window):
        start, stop = (float(v) for v in window)
        inside = (time_s >= start - 1e-9) & (time_s < stop - 1e-9)
        if not inside.any():
            raise InvalidArgumentError(f"window {window!r} holds no frame of the time axis "
                             f"({time_s[0]:g} to {time_s[-1]:g} s)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(average[:, inside], axis=1)

    score = window_mean(response_s) - window_mean(baseline_s)
    return np.argsort(np.where(np.isfinite(score), -score, np.inf), kind="stable")


def trial_heatmap_figure(
    average,
    time_s,
    *,
    baseline_s: tuple[float, float] | None = None,
    response_s: tuple[float, float] | None = None,
    titles: Sequence[str] | None = None,
    labels: Sequence | None = None,
    colorbar_label: str = "ΔF/F0",
    cmap: str = "coolwarm",
    figsize: tuple[float, float] | None = None,
    figure=None,
):
    """Trial-averaged responses of every neuron as a heat map, sorted by response.

    Parameters
    ----------
    average
        ``(neurons, frames)`` trial average, or ``(conditions, neurons, frames)`` (one panel
        per condition, e.g. ``TrialAverage.mean``).
    time_s
        ``(frames,)`` time relative to onset (s); onset (t = 0) is marked.
    baseline_s, response_s
        Windows (s) defining the response used for sorting (default ``(t0, 0)`` and
        ``(0, t_end)``); each panel is sorted on its own, largest response on top.
    titles
        One title per panel (condition names).
    labels
        ``(neurons,)`` neuron ids for the y ticks (default row numbers).
    colorbar_label
        Label of the colour bar (the unit of ``average``).
    cmap
        Colour map; limits are symmetric about 0 (the 99th percentile of ``|values|``).
    figsize
        Inches; default scales with panels and neurons. Ignored with ``figure``.
    figure
        Draw into this Figure/SubFigure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
        Headless figure, one axes per panel (``fig.axes[:panels]``, then colour bars); the row
        order of panel k is ``fig.calscipy_orders[k]`` (indices into the neurons).
    """
    data = np.asarray(average, dtype=np.float64)
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3 or data.shape[1] == 0 or data.shape[2] == 0:
        raise InvalidArgumentError(f"average must be (neurons, frames) or (conditions, neurons, "
                                   f"frames), got shape {np.shape(average)}")
    time = np.asarray(time_s, dtype=np.float64).ravel()
    if time.size != data.shape[2]:
        raise InvalidArgumentError(f"time_s has {time.size} values for {data.shape[2]} frames")
    baseline_s = baseline_s or (float(time[0]), 0.0)
    response_s = response_s or (0.0, float(time[-1]) + 1e-6)
    titles = check_labels(titles, data.shape[0], "titles")
    if labels is not None and len(labels) != data.shape[1]:
        raise InvalidArgumentError(f"got {len(labels)} labels for {data.shape[1]} neurons")
    finite = np.abs(data[np.isfinite(data)])
    limit = float(np.percentile(finite, 99)) if finite.size else 1.0
    limit = limit or 1.0
    step = time[1] - time[0] if time.size > 1 else 1.0
    extent = (time[0] - step / 2, time[-1] + step / 2, data.shape[1] - 0.5, -0.5)
    size = figsize or (3.8 * data.shape[0] + 1.2, 1.5 + min(6.0, 0.06 * data.shape[1] + 2))
    orders = []
    with style_context():
        fig = _canvas(figure, size)
        axes = fig.subplots(1, data.shape[0], squeeze=False)[0]  # rows differ per panel
        for k, ax in enumerate(axes):
            order = response_order(data[k], time, baseline_s, response_s)
            orders.append(order)
            image = ax.imshow(data[k][order], aspect="auto", cmap=cmap, vmin=-limit,
                              vmax=limit, extent=extent, interpolation="nearest")
            ax.axvline(0.0, color="black", linewidth=0.8, linestyle="--")
            ax.set_xlabel("Time from onset (s)")
            if titles:
                ax.set_title(titles[k])
            if labels is not None:
                tick = max(1, data.shape[1] // 20)
                rows = np.arange(0, data.shape[1], tick)
                ax.set_yticks(rows, [str(labels[i]) for i in order[rows]])
        axes[0].set_ylabel("Neuron (sorted by response)")
        fig.colorbar(image, ax=list(axes), shrink=0.8, label=colorbar_label)
    fig.calscipy_orders = orders
    return fig


def _as_frame(image, name: str) -> np.ndarray:
    frame = np.asarray(image)
    if frame.ndim == 3 and frame.shape[0] == 1:
        frame = frame[0]
    if frame.ndim != 2 or frame.size == 0:
        raise InvalidArgumentError(
            f"{name} must be one non-empty (y, x) frame, got shape {frame.shape}"
        )
    if not (np.issubdtype(frame.dtype, np.integer) or np.issubdtype(frame.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {frame.dtype}")
    return frame


def frames_figure(
    before,
    after,
    *,
    titles: Sequence[str] = ("Before", "After"),
    cutoffs: Sequence[float] = (0.5, 99.5),
    shared_limits: bool = False,
    cmap: str = "calscipy_fluorescence",
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 4.2),
    figure=None,
):
    """Two frames side by side (e.g. before/after denoising) with display contrast.

    Both frames are clipped to the ``cutoffs`` percentiles
    (:func:`CalSciPy.coloring.cutoff_images`). By default each panel has its own colour
    limits and colour bar (two frames of different brightness, e.g. raw and ΔF/F0, both stay
    readable); ``shared_limits=True`` draws both with the limits of ``before`` and one colour
    bar, for a fair before/after comparison of the same quantity. ``figure``: draw into this
    Figure/SubFigure instead of a new one. Returns the
    headless figure drawn into.
    """
    first = _as_frame(before, "before")
    second = _as_frame(after, "after")
    if first.shape != second.shape:
        raise InvalidArgumentError(f"before {first.shape} and after {second.shape} differ in shape")
    if len(titles) != 2:
        raise InvalidArgumentError(f"titles must name the two frames, got {titles!r}")
    shown = [cutoff_images(f.astype(np.float64), cutoffs) for f in (first, second)]
    limits = [(np.nanmin(f), np.nanmax(f)) for f in shown]
    if shared_limits:
        limits = [limits[0], limits[0]]
    colormap = get_colormap(cmap)
    with style_context():
        fig = _canvas(figure, figsize)
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        for ax, frame, label, (vmin, vmax) in zip(axes, shown, titles, limits):
            image = ax.imshow(frame, cmap=colormap, vmin=vmin, vmax=vmax)
            ax.set_title(label)
            ax.set_xticks([])
            ax.set_yticks([])
            if not shared_limits:
                fig.colorbar(image, ax=ax, shrink=0.8)
        if shared_limits:
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
    figure=None,
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
    y_label
        Label of the voltage axis.
    title
        Figure title (none by default).
    figsize
        Figure size in inches ``(width, height)`` when a new figure is created.
    figure
        Draw into this Figure/SubFigure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
        Headless figure: ``axes[0]`` the voltage lines, ``axes[1]`` the frame ticks (if any).
    """
    t = np.asarray(time, dtype=np.float64).ravel()
    volts = as_dataset(voltage, "voltage")
    if t.size == 0:
        raise InvalidArgumentError("time is empty")
    if volts.shape[1] != t.size:
        raise InvalidArgumentError(f"voltage has {volts.shape[1]} samples but time has {t.size}")
    labels = check_labels(channel_labels, volts.shape[0], "channel_labels")
    ticks = None if frame_times is None else np.asarray(frame_times, dtype=np.float64).ravel()
    with style_context():
        fig = _canvas(figure, figsize)
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

    The image is ``figsize × dpi`` pixels (no tight cropping); a SubFigure saves its whole
    parent figure. Existing files raise
    ``FileExistsError`` unless ``overwrite=True``. Returns the path written.
    """
    target = as_path(path)
    root = figure if hasattr(figure, "savefig") else figure.figure  # SubFigure → its Figure
    with style_context(), atomic_path(target, overwrite=overwrite) as staged:
        root.savefig(staged, dpi=dpi or root.dpi, format=format)
    return target
