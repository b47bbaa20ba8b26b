"""Trace browser: one or several datasets of one neuron, overlaid or stacked."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from CalSciPy._visuals._validate import (
    as_datasets,
    check_labels,
    check_mode,
    finite_range,
    optional_frame_rate,
    time_axis,
)
from CalSciPy._visuals.browser import LEGEND_ABOVE, NeuronBrowser
from CalSciPy._visuals.onsets import as_onsets, mark_onsets
from CalSciPy.coloring import get_color
from CalSciPy.errors import InvalidArgumentError

__all__ = ["TracePlot"]


def _pad_limits(limits: tuple[float, float] | None) -> tuple[float, float]:
    if limits is None:  # nothing finite to show (all-NaN neuron)
        return (0.0, 1.0)
    low, high = limits
    margin = 0.05 * (high - low) if high > low else max(abs(high), 1.0) * 0.05
    return (low - margin, high + margin)


class TracePlot(NeuronBrowser):
    """Browse ``(neurons, frames)`` traces one neuron at a time (see ``plot_traces``).

    Attributes
    ----------
    datasets : list of numpy.ndarray
        The ``(neurons, frames)`` arrays on display (not copied).
    lines : list of matplotlib.lines.Line2D
        One line per dataset; ``lines[k].get_ydata()`` is ``datasets[k][neuron]``.
    x : numpy.ndarray
        x values: seconds when ``frame_rate`` was given, else frame numbers.
    onsets : numpy.ndarray or None
        Stimulus onsets (x units) marked by dashed vertical lines on every axis.
    """

    def __init__(
        self,
        traces,
        frame_rate: float | None = None,
        y_label: str | Sequence[str] = "Δf/f0",
        mode: str = "overlay",
        *,
        labels: Sequence[str] | None = None,
        onsets=None,
        **kwargs,
    ) -> None:
        self.datasets = as_datasets(traces)
        self.onsets = as_onsets(onsets)
        self.mode = check_mode(mode)
        self.labels = check_labels(labels, len(self.datasets))
        self.frame_rate = optional_frame_rate(frame_rate)
        if y_label is None or isinstance(y_label, str):
            self.y_labels = [y_label or ""] * len(self.datasets)
        else:
            if self.mode != "stacked":
                raise InvalidArgumentError(
                    "one y_label per dataset needs mode='stacked' (one axis each)")
            self.y_labels = check_labels(y_label, len(self.datasets), "y_label")
        self.y_label = self.y_labels[0]
        self.x, self.x_label = time_axis(self.datasets[0].shape[1], self.frame_rate)
        self.lines: list = []
        super().__init__(self.datasets[0].shape[0], **kwargs)

    def _height_ratios(self) -> list[float]:
        return [1.0] * (len(self.datasets) if self.mode == "stacked" else 1)

    def _label(self, k: int) -> str | None:
        if self.labels is not None:
            return self.labels[k]
        return f"dataset {k}" if len(self.datasets) > 1 else None

    def _build(self, specs: list) -> None:
        first = None
        for k, spec in enumerate(specs):
            ax = self.figure.add_subplot(spec, sharex=first)
            first = first or ax
            ax.set_ylabel(self.y_labels[k])
            mark_onsets(ax, self.onsets)
            self.axes.append(ax)
        for k, data in enumerate(self.datasets):
            ax = self.axes[k if self.mode == "stacked" else 0]
            (line,) = ax.plot(self.x, data[0], color=get_color(k), label=self._label(k))
            self.lines.append(line)
        for ax in self.axes:
            if self.mode == "stacked" and ax is not self.axes[-1]:
                ax.tick_params(labelbottom=False)
            if any(line.axes is ax and self._label(k) for k, line in enumerate(self.lines)):
                ax.legend(**(LEGEND_ABOVE if self.mode == "overlay" else {"loc": "upper right"}))
            ax.set_xlim(self.x[0], self.x[-1] if len(self.x) > 1 else self.x[0] + 1)
        self.axes[-1].set_xlabel(self.x_label)

    def _update(self, neuron: int) -> None:
        for k, (line, data) in enumerate(zip(self.lines, self.datasets)):
            line.set_ydata(data[neuron])
            if self.mode == "stacked":
                self.axes[k].set_ylim(_pad_limits(finite_range(data[neuron])))
        if self.mode == "overlay":
            rows = [np.asarray(data[neuron], dtype=np.float64) for data in self.datasets]
            self.axes[0].set_ylim(_pad_limits(finite_range(*rows)))
