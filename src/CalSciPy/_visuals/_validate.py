"""Input checks shared by the plot kinds (traces are ``(neurons, frames)``)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, overload

import numpy as np

from CalSciPy._checks import as_event_lists, as_traces, check_frame_rate
from CalSciPy.errors import InvalidArgumentError

MODES = ("overlay", "stacked")


def as_dataset(values, name: str) -> np.ndarray:
    """Return a non-empty 2-D ``(neurons, frames)`` array (1-D input is one neuron)."""
    array, _ = as_traces(values, name)
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidArgumentError(f"{name} is empty (shape {np.shape(values)})")
    return array


def as_datasets(traces, name: str = "traces") -> list[np.ndarray]:
    """One array, or a list/tuple of 2-D arrays (several datasets), → list of 2-D arrays.

    A list whose items are not all 2-D arrays is read as one dataset (e.g. a list of rows).
    """
    if isinstance(traces, (list, tuple)) and len(traces) == 0:
        raise InvalidArgumentError(f"{name} is empty")
    if isinstance(traces, (list, tuple)) and all(
        isinstance(item, np.ndarray) and item.ndim == 2 for item in traces
    ):
        datasets = [as_dataset(item, f"{name}[{k}]") for k, item in enumerate(traces)]
    else:
        datasets = [as_dataset(traces, name)]
    shape = datasets[0].shape
    for k, item in enumerate(datasets[1:], start=1):
        if item.shape != shape:
            raise InvalidArgumentError(
                f"all {name} must have the same (neurons, frames) shape: {name}[0] is {shape}, "
                f"{name}[{k}] is {item.shape}"
            )
    return datasets


@overload
def check_labels(labels: None, count: int, name: str = ...) -> None: ...
@overload
def check_labels(labels: str | Iterable[Any], count: int, name: str = ...) -> list[str]: ...
def check_labels(labels, count: int, name: str = "labels") -> list[str] | None:
    """``labels`` as ``count`` strings (one string is one label); None stays None."""
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = [labels]
    labels = [str(label) for label in labels]
    if len(labels) != count:
        raise InvalidArgumentError(f"got {len(labels)} {name} for {count} datasets")
    return labels


def check_mode(mode) -> str:
    if mode not in MODES:
        raise InvalidArgumentError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
    return mode


def optional_frame_rate(frame_rate) -> float | None:
    return None if frame_rate is None else check_frame_rate(frame_rate)


def time_axis(n_frames: int, frame_rate: float | None) -> tuple[np.ndarray, str]:
    """x values for ``n_frames`` samples and the axis label (seconds when ``frame_rate``)."""
    frames = np.arange(n_frames, dtype=np.float64)
    if frame_rate is None:
        return frames, "Frame"
    return frames / frame_rate, "Time (s)"


def plot_event_lists(
    spike_times, n_neurons: int | None, n_frames: int | None, name: str = "spike_times"
) -> list[np.ndarray]:
    """Events to plot → one sorted int64 array of frames per neuron (never empty input).

    A binary/count matrix ``(neurons, frames)`` (non-zero = event; nested lists of booleans
    count as a matrix), one neuron's binary row or frame list, or one frame list per neuron:
    :func:`CalSciPy._checks.as_event_lists` with ``allow_matrix`` and ``allow_flat``.
    """
    if isinstance(spike_times, np.ndarray) and spike_times.size == 0 \
            or isinstance(spike_times, (list, tuple)) and len(spike_times) == 0:
        raise InvalidArgumentError(f"{name} is empty (shape {np.shape(spike_times)})")
    events = as_event_lists(spike_times, name, n_frames=n_frames, n_neurons=n_neurons,
                            allow_flat=True, allow_matrix=True)
    return [np.sort(frames) for frames in events]


def finite_range(*rows: np.ndarray) -> tuple[float, float] | None:
    """(min, max) over the finite values of ``rows``; None when there are none."""
    lows, highs = [], []
    for row in rows:
        if row is None:
            continue
        finite = row[np.isfinite(row)]
        if finite.size:
            lows.append(finite.min())
            highs.append(finite.max())
    if not lows:
        return None
    return float(min(lows)), float(max(highs))
