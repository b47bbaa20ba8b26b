"""Interactive neuron browsers (Jupyter, desktop, headless) and static report figures.

``plot_traces``, ``plot_spikes`` and ``plot_trials`` open one figure that shows one neuron at a
time and return the plot object holding it (``.figure``). Keys: ←/↑ previous, →/↓ next,
PageUp/PageDown ±10, Home/End first/last, digits then Enter jump to that neuron, Esc clears the
typed number; a slider under the plot does the same. Changing neuron updates the existing
artists (the figure is not re-created). Other Matplotlib shortcuts (s = save, q = quit, ...)
keep working.

Nothing blocks: call ``plt.show()`` yourself in a script, or pass ``show=True``. Importing this
module imports neither :mod:`matplotlib.pyplot` nor selects a backend; the package style
(:data:`STYLE`) is applied through a style context only while the figure is built, updated and
saved. Headless use (``MPLBACKEND=Agg``) works for ``.save(path)`` and ``.save_all(folder)``.

The ``*_figure`` functions build static figures without pyplot (no GUI, nothing to close),
for reports and the demo: ``spikes_figure``/``trials_figure`` are one-neuron counterparts of
the browsers, ``traces_figure`` draws several neurons and datasets in a grid, and
``histogram_figure``, ``raster_figure``, ``frames_figure`` (before/after images) and
``stimulus_figure`` (voltage channel + frame ticks) cover the rest of a report. Pass
``figure=`` a SubFigure to compose panels; :func:`save_figure` writes them atomically.

Examples
--------
>>> import numpy as np
>>> from CalSciPy.interactive_visuals import plot_traces
>>> raw = np.random.default_rng(0).normal(100.0, 5.0, (20, 300))   # (neurons, frames)
>>> dfof = (raw - 100.0) / 100.0
>>> plot = plot_traces([raw, dfof], frame_rate=30.0, mode="stacked")
>>> plot.set_neuron(12)
>>> plot.neuron
12
>>> plot.save("neuron12.png")
PosixPath('neuron12.png')
>>> files = plot.save_all("figures/traces", progress=False)     # one PNG per neuron
>>> len(files), files[0].name
(20, 'neuron_0000.png')
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from CalSciPy._visuals._style import STYLE, style_context
from CalSciPy._visuals.browser import KEY_HELP, NeuronBrowser
from CalSciPy._visuals.spikes import SpikePlot
from CalSciPy._visuals.static import (
    frames_figure,
    histogram_figure,
    raster_figure,
    save_figure,
    spikes_figure,
    stimulus_figure,
    traces_figure,
    trial_heatmap_figure,
    trials_figure,
)
from CalSciPy._visuals.traces import TracePlot
from CalSciPy._visuals.trials import TrialPlot

__all__ = [
    "plot_traces",
    "plot_spikes",
    "plot_trials",
    "NeuronBrowser",
    "TracePlot",
    "SpikePlot",
    "TrialPlot",
    "traces_figure",
    "spikes_figure",
    "trials_figure",
    "histogram_figure",
    "raster_figure",
    "frames_figure",
    "stimulus_figure",
    "trial_heatmap_figure",
    "save_figure",
    "STYLE",
    "style_context",
    "KEY_HELP",
]


def plot_traces(
    traces: np.ndarray | Sequence[np.ndarray],
    frame_rate: float | None = None,
    y_label: str | Sequence[str] = "Δf/f0",
    mode: str = "overlay",
    *,
    labels: Sequence[str] | None = None,
    neuron: int = 0,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
    slider: bool = True,
    show: bool = False,
    onsets=None,
    ids=None,
) -> TracePlot:
    """Browse traces one neuron at a time.

    Parameters
    ----------
    traces
        ``(neurons, frames)`` array (1-D: one neuron), or a list/tuple of same-shape 2-D arrays
        (e.g. raw, ΔF/F0, smoothed) drawn together.
    frame_rate
        Hz. When given the x axis is time in seconds, otherwise frame number.
    y_label
        y-axis label; in ``'stacked'`` mode also one label per dataset (one per panel).
    mode
        ``'overlay'``: all datasets on one axis in distinct colours with a legend;
        ``'stacked'``: one axis per dataset, sharing x.
    labels
        Legend name per dataset (keyword-only; default ``dataset k`` when several).
    neuron
        Neuron shown first.
    figsize, dpi
        Figure size (inches) and resolution; saved images are ``figsize × dpi`` pixels.
    slider
        Add a neuron slider under the plot.
    show
        Call :func:`matplotlib.pyplot.show` before returning.
    onsets
        Stimulus onsets in x units (seconds with ``frame_rate``, else frames; e.g.
        ``CalSciPy.trials.find_onsets(...).times_s``), drawn as dashed vertical lines.
    ids
        ROI id of each row (a sequence of integers or a :class:`CalSciPy.roi_tools.ROISet`,
        e.g. ``data.rois``): titles read ``ROI <id>`` and ``save_all`` writes
        ``roi_<id>.png``; default rows are named by their index.

    Returns
    -------
    TracePlot
        Holds ``.figure``, ``.axes``, ``.lines`` (one per dataset); navigate with
        ``.set_neuron(i)``, ``.next()``, ``.previous()``; save with ``.save(path)`` /
        ``.save_all(folder)``.

    Raises
    ------
    ValueError
        Empty arrays, datasets of different shapes, unknown ``mode``, wrong number of
        ``labels``, bad ``frame_rate``.
    TypeError
        Non-numeric data.

    Notes
    -----
    NaN samples are drawn as gaps; an all-NaN neuron shows an empty axis.
    """
    return TracePlot(
        traces, frame_rate, y_label, mode, labels=labels, neuron=neuron, figsize=figsize,
        dpi=dpi, slider=slider, show=show, onsets=onsets, ids=ids,
    )


def plot_spikes(
    spike_prob: np.ndarray | None = None,
    spike_times: np.ndarray | Sequence[Sequence[int]] | None = None,
    traces: np.ndarray | None = None,
    frame_rate: float | None = None,
    y_label: str = "Δf/f0",
    *,
    neuron: int = 0,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
    slider: bool = True,
    show: bool = False,
    ids=None,
    onsets=None,
) -> SpikePlot:
    """Browse spike inference one neuron at a time: trace, probability and spike ticks.

    The trace is drawn as is; the spike probability is shifted below it (offset in
    ``.prob_offset``) and the spikes are tick marks below both.

    Parameters
    ----------
    spike_prob
        ``(neurons, frames)`` spike probability (or inferred spike amplitude).
    spike_times
        ``(neurons, frames)`` binary/count matrix (non-zero = spike) or a list holding one
        array of spike frames per neuron. A 1-D array is one neuron: its binary/count row
        when boolean or as long as the recording, otherwise its spike frames.
    traces
        ``(neurons, frames)`` fluorescence/ΔF/F0 traces.
    frame_rate
        Hz; x axis (and tick positions) in seconds when given, otherwise frames.
    y_label
        y-axis label.
    neuron, figsize, dpi, slider, show, ids, onsets
        As for :func:`plot_traces` (keyword-only).

    Returns
    -------
    SpikePlot
        With ``.trace_line``, ``.prob_line``, ``.events`` (EventCollection), ``.figure``.

    Raises
    ------
    ValueError
        Nothing given, neuron or frame counts that disagree, empty arrays, spike frames that
        are negative, fractional or beyond the recording.
    """
    return SpikePlot(
        spike_prob, spike_times, traces, frame_rate, y_label, neuron=neuron, figsize=figsize,
        dpi=dpi, slider=slider, show=show, ids=ids, onsets=onsets,
    )


def plot_trials(
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
    slider: bool = True,
    show: bool = False,
    ids=None,
) -> TrialPlot:
    """Browse trial-aligned responses one neuron at a time.

    Top: per-condition mean ± SEM around trial onset; bottom: a trial × time heat map (trials
    grouped by condition, boundaries marked).

    Parameters
    ----------
    data
        ``(neurons, frames)`` activity (e.g. firing rate, ΔF/F0). With a trial tensor it is only
        used to check the neuron count and may be None.
    trials
        Trial onset frames ``(trials,)``, or an already cut ``(trials, neurons, frames)`` tensor.
    trial_conditions
        One label per trial (default: all trials one condition).
    bin_duration
        Seconds per frame/bin; x axis in seconds from onset when given, else frames.
    y_label
        Label of the response axis and colour bar.
    pre, post
        Keyword-only window around each onset, frames: from ``onset - pre`` to
        ``onset + post - 1`` (samples outside the recording are NaN). Default: a quarter of
        the shortest inter-onset interval before and the rest after. For a tensor, ``pre`` is
        the index of the onset within the window (default 0) and ``post``, if given, must be
        the remaining frames. Whole numbers only.
    neuron, figsize, dpi, slider, show, ids
        As for :func:`plot_traces`.

    Returns
    -------
    TrialPlot
        With ``.mean_lines`` (one per condition), ``.image`` (heat map), ``.means``/``.sems``
        of the neuron on display, ``.figure``.

    Raises
    ------
    ValueError
        Empty data or trials, onsets outside the recording, condition labels not matching the
        number of trials, neuron counts that disagree.
    """
    return TrialPlot(
        data, trials, trial_conditions, bin_duration, y_label, pre=pre, post=post,
        neuron=neuron, figsize=figsize, dpi=dpi, slider=slider, show=show, ids=ids,
    )
