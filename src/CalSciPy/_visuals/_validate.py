"""Input checks shared by the plot kinds (traces are ``(neurons, frames)``)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from CalSciPy._checks import as_traces, check_frame_rate

MODES = ("overlay", "stacked")


def as_dataset(values, name: str) -> np.ndarray:
    """Return a non-empty 2-D ``(neurons, frames)`` array (1-D input is one neuron)."""
    array, _ = as_traces(values, name)
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {np.shape(values)})")
    return array


def as_datasets(traces, name: str = "traces") -> list[np.ndarray]:
    """One array, or a list/tuple of 2-D arrays (several datasets), → list of 2-D arrays.

    A list whose items are not all 2-D arrays is read as one dataset (e.g. a list of rows).
    """
    if isinstance(traces, (list, tuple)) and len(traces) == 0:
        raise ValueError(f"{name} is empty")
    if isinstance(traces, (list, tuple)) and all(
        isinstance(item, np.ndarray) and item.ndim == 2 for item in traces
    ):
        datasets = [as_dataset(item, f"{name}[{k}]") for k, item in enumerate(traces)]
    else:
        datasets = [as_dataset(traces, name)]
    shape = datasets[0].shape
    for k, item in enumerate(datasets[1:], start=1):
        if item.shape != shape:
            raise ValueError(
                f"all {name} must have the same (neurons, frames) shape: {name}[0] is {shape}, "
                f"{name}[{k}] is {item.shape}"
            )
    return datasets


def check_labels(labels, count: int, name: str = "labels") -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = [labels]
    labels = [str(label) for label in labels]
    if len(labels) != count:
        raise ValueError(f"got {len(labels)} {name} for {count} datasets")
    return labels


def check_mode(mode) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
    return mode


def optional_frame_rate(frame_rate) -> float | None:
    return None if frame_rate is None else check_frame_rate(frame_rate)


def time_axis(n_frames: int, frame_rate: float | None) -> tuple[np.ndarray, str]:
    """x values for ``n_frames`` samples and the axis label (seconds when ``frame_rate``)."""
    frames = np.arange(n_frames, dtype=np.float64)
    if frame_rate is None:
        return frames, "Frame"
    return frames / frame_rate, "Time (s)"


def as_event_lists(
    spike_times, n_neurons: int | None, n_frames: int | None, name: str = "spike_times"
) -> list[np.ndarray]:
    """Binary/count matrix ``(neurons, frames)`` or per-neuron frame lists → list of int arrays.

    Non-zero matrix entries are events (nested lists of booleans count as a matrix). A 1-D
    array is one neuron: a binary/count row when it is boolean or exactly ``n_frames`` long,
    otherwise that neuron's frame numbers. Frame lists must hold whole, non-negative frame
    numbers below ``n_frames`` (when known).
    """
    if (
        isinstance(spike_times, (list, tuple))
        and len(spike_times) > 0
        and all(np.asarray(item).dtype == bool and np.ndim(item) == 1 for item in spike_times)
        and len({len(item) for item in spike_times}) == 1
    ):
        spike_times = np.asarray(spike_times, dtype=bool)  # nested lists of booleans: a matrix
    if (
        isinstance(spike_times, np.ndarray)
        and spike_times.ndim == 1
        and (spike_times.dtype == bool or (n_frames is not None and spike_times.size == n_frames))
    ):
        # one neuron's binary/count row (as long as the recording), not a list of frames
        spike_times = spike_times[np.newaxis, :]
    if isinstance(spike_times, np.ndarray) and spike_times.ndim == 2:
        matrix = spike_times
        if not (matrix.dtype == bool or np.issubdtype(matrix.dtype, np.number)):
            raise TypeError(f"{name} matrix must be boolean or numeric, got {matrix.dtype}")
        if matrix.size == 0:
            raise ValueError(f"{name} is empty (shape {matrix.shape})")
        if n_neurons is not None and matrix.shape[0] != n_neurons:
            raise ValueError(
                f"{name} has {matrix.shape[0]} neurons but the other inputs have {n_neurons}"
            )
        if n_frames is not None and matrix.shape[1] != n_frames:
            raise ValueError(
                f"{name} has {matrix.shape[1]} frames but the other inputs have {n_frames}"
            )
        with np.errstate(invalid="ignore"):
            active = np.nan_to_num(matrix.astype(np.float64, copy=False)) != 0
        return [np.flatnonzero(row) for row in active]
    one_neuron = isinstance(spike_times, np.ndarray) and spike_times.ndim == 1
    if one_neuron and spike_times.dtype != object:
        spike_times = [spike_times]  # one neuron's frames
    if not isinstance(spike_times, (Sequence, np.ndarray)) or isinstance(spike_times, str):
        raise TypeError(
            f"{name} must be a (neurons, frames) matrix or a list of per-neuron frame arrays"
        )
    if len(spike_times) == 0:
        raise ValueError(f"{name} is empty")
    if n_neurons is not None and len(spike_times) != n_neurons:
        raise ValueError(
            f"{name} has {len(spike_times)} neurons but the other inputs have {n_neurons}"
        )
    events = []
    for k, item in enumerate(spike_times):
        values = np.asarray(item, dtype=np.float64).ravel()
        if values.size and (
            not np.all(np.isfinite(values)) or np.any(values != np.round(values))
        ):
            raise ValueError(f"{name}[{k}] must hold whole frame numbers")
        frames = values.astype(np.int64)
        if frames.size and frames.min() < 0:
            raise ValueError(f"{name}[{k}] has a negative frame {frames.min()}")
        if n_frames is not None and frames.size and frames.max() >= n_frames:
            raise ValueError(
                f"{name}[{k}] has frame {frames.max()} but the recording has {n_frames} frames"
            )
        events.append(np.sort(frames))
    return events


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
