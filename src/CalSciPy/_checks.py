"""Input validation shared by the trace-level modules (traces are ``(neurons, frames)``)."""
from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = [
    "as_real_array",
    "as_traces",
    "check_frame_rate",
    "float_dtype_for",
    "in_place_result",
    "prepare_output",
    "restore_ndim",
]


def as_real_array(values, name: str) -> np.ndarray:
    """Return ``values`` as an ndarray of real numbers (integer or float; no copy of an ndarray).

    Raises ``TypeError`` when it is not array-like or its dtype is not real numeric
    (bool, complex, object, strings).
    """
    if not isinstance(values, np.ndarray):
        try:
            values = np.asarray(values)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be array-like: {err}") from err
    if values.dtype == bool or not (
        np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {values.dtype}")
    return values


def as_traces(traces, name: str = "traces", *, min_frames: int = 1) -> tuple[np.ndarray, bool]:
    """Return ``traces`` as a 2-D ``(neurons, frames)`` ndarray and whether it was 1-D.

    The returned array is a view of the input where possible (no copy), so ``in_place``
    semantics are preserved.

    Raises
    ------
    TypeError
        Not array-like, or a dtype that is not real numeric (complex, object, strings).
    ValueError
        Not 1-D or 2-D, or fewer than ``min_frames`` frames.
    """
    traces = as_real_array(traces, name)
    if traces.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (frames,) or 2-D (neurons, frames), got shape {traces.shape}"
        )
    was_1d = traces.ndim == 1
    traces2d = traces[np.newaxis, :] if was_1d else traces
    if traces2d.shape[1] < min_frames:
        raise ValueError(
            f"{name} needs at least {min_frames} frames, got shape {traces.shape}"
        )
    return traces2d, was_1d


def restore_ndim(result: np.ndarray, was_1d: bool) -> np.ndarray:
    """Undo the 1-D → 2-D promotion of :func:`as_traces`."""
    return result[0] if was_1d else result


def in_place_result(original, out: np.ndarray, was_1d: bool, in_place: bool) -> np.ndarray:
    """What a function with ``in_place`` returns: the caller's own array object when
    ``in_place`` (also for 1-D input, where ``out`` is a 2-D view of it), else ``out``
    with the 1-D → 2-D promotion of :func:`as_traces` undone."""
    if in_place and isinstance(original, np.ndarray):
        return original
    return restore_ndim(out, was_1d)


def check_frame_rate(frame_rate, name: str = "frame_rate", *, above: float = 0.0,
                     unit: str = "Hz") -> float:
    """Return ``frame_rate`` as float, requiring a finite real number > ``above`` (``unit``,
    used in the error messages: the check also serves other positive quantities)."""
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (Real, np.number)):
        raise TypeError(f"{name} must be a real number ({unit}), got {frame_rate!r}")
    value = float(frame_rate)
    if not math.isfinite(value) or value <= above:
        raise ValueError(f"{name} must be a finite number > {above:g} {unit}, got {frame_rate!r}")
    return value


def float_dtype_for(dtype: np.dtype) -> np.dtype:
    """Output dtype of a function producing fractions: float32/float64 kept, others → float64."""
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):
        return dtype
    return np.dtype(np.float64)


def prepare_output(traces: np.ndarray, in_place: bool, name: str = "traces") -> np.ndarray:
    """Array to write results into: ``traces`` itself when ``in_place``, else a new float array.

    Raises ``TypeError`` for ``in_place=True`` on a non-float array, since fractional results
    cannot be stored in integers without silent truncation.
    """
    if in_place:
        if traces.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"in_place=True needs a float32 or float64 {name} array, got {traces.dtype}: "
                "fractional results cannot be stored in it; use in_place=False"
            )
        if not traces.flags.writeable:
            raise ValueError(f"in_place=True but {name} is read-only")
        return traces
    return np.empty(traces.shape, dtype=float_dtype_for(traces.dtype))
