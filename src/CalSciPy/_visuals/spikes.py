"""Spike browser: trace, spike probability (offset below) and event ticks of one neuron."""
from __future__ import annotations

from typing import Any

import numpy as np

from CalSciPy._visuals._validate import (
    as_dataset,
    finite_range,
    optional_frame_rate,
    plot_event_lists,
    time_axis,
)
from CalSciPy._visuals.browser import LEGEND_ABOVE, NeuronBrowser
from CalSciPy._visuals.onsets import as_onsets, mark_onsets
from CalSciPy.coloring import COLORS
from CalSciPy.errors import InvalidArgumentError

__all__ = ["SpikePlot"]


class SpikePlot(NeuronBrowser):
    """Browse inferred spikes one neuron at a time (see ``plot_spikes``).

    Attributes
    ----------
    trace_line : matplotlib.lines.Line2D or None
        The trace; its y data is ``traces[neuron]``.
    prob_line : matplotlib.lines.Line2D or None
        Spike probability drawn at ``spike_prob[neuron] + prob_offset`` (below the trace).
    prob_offset : float
        Vertical offset applied to the probability of the neuron on display.
    events : matplotlib.collections.EventCollection or None
        Event ticks; ``events.get_positions()`` are the spike frames (seconds with frame_rate).
    event_frames : list of numpy.ndarray
        Spike frames per neuron.
    onsets : numpy.ndarray or None
        Stimulus onsets (x units) marked by dashed vertical lines.
    """

    def __init__(
        self,
        spike_prob=None,
        spike_times=None,
        traces=None,
        frame_rate: float | None = None,
        y_label: str = "Δf/f0",
        *,
        onsets=None,
        **kwargs,
    ) -> None:
        self.onsets = as_onsets(onsets)
        if spike_prob is None and spike_times is None and traces is None:
            raise InvalidArgumentError("give at least one of spike_prob, spike_times or traces")
        self.traces = None if traces is None else as_dataset(traces, "traces")
        self.spike_prob = None if spike_prob is None else as_dataset(spike_prob, "spike_prob")
        shapes = {
            name: array.shape
            for name, array in (("traces", self.traces), ("spike_prob", self.spike_prob))
            if array is not None
        }
        if len(set(shapes.values())) > 1:
            raise InvalidArgumentError(
                "traces and spike_prob must have the same (neurons, frames) shape, got "
                + ", ".join(f"{name} {shape}" for name, shape in shapes.items())
            )
        shape = next(iter(shapes.values()), None)
        n_neurons = None if shape is None else shape[0]
        n_frames = None if shape is None else shape[1]
        self.event_frames: list[np.ndarray] | None = (
            None
            if spike_times is None
            else plot_event_lists(spike_times, n_neurons, n_frames, "spike_times")
        )
        if n_neurons is None or n_frames is None:
            # only spike_times was given (the check above needs at least one input)
            events: list[np.ndarray] = self.event_frames or []
            n_neurons = len(events)
            if isinstance(spike_times, np.ndarray) and (
                spike_times.ndim == 2 or (spike_times.ndim == 1 and spike_times.dtype == bool)
            ):
                n_frames = spike_times.shape[-1]  # a matrix/row knows the recording length
            else:
                n_frames = 1 + max((int(f.max()) for f in events if f.size), default=0)
        self.n_frames = n_frames
        self.frame_rate = optional_frame_rate(frame_rate)
        self.y_label = str(y_label)
        self.x, self.x_label = time_axis(n_frames, self.frame_rate)
        self.trace_line: Any = None
        self.prob_line: Any = None
        self.events: Any = None
        self.prob_offset = 0.0
        super().__init__(n_neurons, **kwargs)

    def _height_ratios(self) -> list[float]:
        return [1.0]

    def _build(self, specs: list) -> None:
        from matplotlib.collections import EventCollection

        ax = self.figure.add_subplot(specs[0])
        self.axes.append(ax)
        mark_onsets(ax, self.onsets)
        if self.traces is not None:
            (self.trace_line,) = ax.plot(
                self.x, self.traces[0], color=COLORS["blue"], label="trace"
            )
        if self.spike_prob is not None:
            (self.prob_line,) = ax.plot(
                self.x, self.spike_prob[0], color=COLORS["orange"], label="spike probability"
            )
        if self.event_frames is not None:
            self.events = EventCollection(
                [], orientation="horizontal", color=COLORS["vermillion"], linewidth=1.2,
                label="spikes",
            )
            ax.add_collection(self.events, autolim=False)
        ax.set_ylabel(self.y_label)
        ax.set_xlabel(self.x_label)
        ax.set_xlim(self.x[0], self.x[-1] if len(self.x) > 1 else self.x[0] + 1)
        if sum(item is not None for item in (self.trace_line, self.prob_line, self.events)) > 1:
            ax.legend(**LEGEND_ABOVE)

    def _update(self, neuron: int) -> None:
        trace = None if self.traces is None else self.traces[neuron]
        prob = None if self.spike_prob is None else self.spike_prob[neuron]
        trace_range = finite_range(trace) if trace is not None else None
        prob_range = finite_range(prob) if prob is not None else None
        spans = [r[1] - r[0] for r in (trace_range, prob_range) if r is not None]
        unit = max(max(spans, default=0.0), 1e-9) if spans and max(spans) > 0 else 1.0
        gap = 0.1 * unit
        bottom = top = None
        if trace is not None:
            self.trace_line.set_ydata(trace)
            if trace_range is not None:
                bottom, top = trace_range
        self.prob_offset = 0.0
        if prob is not None:
            if prob_range is not None:
                if bottom is not None:
                    self.prob_offset = bottom - gap - prob_range[1]
                low = prob_range[0] + self.prob_offset
                high = prob_range[1] + self.prob_offset
                bottom = low if bottom is None else min(bottom, low)
                top = high if top is None else max(top, high)
            self.prob_line.set_ydata(prob + self.prob_offset)
        if self.events is not None and self.event_frames is not None:
            length = 0.15 * unit
            center = (bottom - gap - length / 2) if bottom is not None else 0.0
            frames = self.event_frames[neuron]
            positions = frames / self.frame_rate if self.frame_rate else frames.astype(float)
            self.events.set_positions(positions)
            self.events.set_lineoffset(center)
            self.events.set_linelength(length)
            bottom = center - length / 2 if bottom is None else center - length / 2
            top = center + length / 2 if top is None else top
        if bottom is None or top is None:
            bottom, top = 0.0, 1.0
        margin = 0.05 * (top - bottom) if top > bottom else 0.5
        self.axes[0].set_ylim(bottom - margin, top + margin)
