"""The validation vocabulary of CalSciPy: the one place where arguments are checked.

Every public function validates its arguments through these helpers, so the same bad input gets
the same exception type and the same wording wherever it goes in:

- a value of the wrong *type* (a string where a number is expected, complex or object arrays)
  raises :class:`~CalSciPy.errors.InvalidArgumentTypeError`, a ``TypeError`` that is also a
  ``ValueError`` (0.3.x reported some of these as ``ValueError``);
- a value of the right type that is out of range, of the wrong shape, not finite... raises
  :class:`~CalSciPy.errors.InvalidArgumentError`, a ``ValueError`` that is also an
  ``AssertionError`` (0.3.x checked arguments with ``assert``).

Traces are ``(neurons, frames)``; event lists hold one 1-D sequence of frame indices per neuron.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import TypeGuard

import numpy as np

from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "as_event_lists",
    "as_path",
    "as_real_array",
    "as_traces",
    "check_finite_traces",
    "check_frame_rate",
    "check_int",
    "check_real",
    "WINDOW_FLOOR",
    "check_window",
    "float_dtype_for",
    "in_place_result",
    "is_integer",
    "is_real_number",
    "prepare_output",
    "restore_ndim",
]

#: rows scanned per chunk by :func:`check_finite_traces`, to bound the boolean temporary
_CHUNK_BYTES = 8 * 2**20

#: frame indices must fit in int64 (a float 1e20 would otherwise wrap to -2**63)
_INT64_LIMIT = float(2**63)


# ---------------------------------------------------------------------------------------------
# scalars
# ---------------------------------------------------------------------------------------------
def is_integer(value: object) -> TypeGuard[int]:
    """True for a Python or numpy integer that is not a ``bool`` (booleans are not counts)."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def is_real_number(value: object) -> TypeGuard[float]:
    """True for a Python or numpy real number (integer or float) that is not a ``bool``."""
    return (isinstance(value, (Real, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def check_int(value, name: str, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Return ``value`` as ``int``, requiring an integer (not bool) in ``[minimum, maximum]``.

    Parameters
    ----------
    value : object
        The argument to check (Python or numpy integer).
    name : str
        Argument name used in the error messages.
    minimum, maximum : int, optional
        Inclusive bounds; ``None`` for no bound.

    Returns
    -------
    int
        ``value`` as a Python integer.

    Raises
    ------
    InvalidArgumentTypeError
        Not an integer (``bool``, float, string...): "``name`` must be an integer, got ...".
    InvalidArgumentError
        Out of bounds: "``name`` must be >= ``minimum``, got ..." (or ``<= maximum``).
    """
    if not is_integer(value):
        raise InvalidArgumentTypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgumentError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_real(value, name: str, *, positive: bool = False, finite: bool = True,
               minimum: float | None = None, maximum: float | None = None,
               above: float | None = None, unit: str = "") -> float:
    """Return ``value`` as ``float``, requiring a real number (not bool) within the bounds.

    Parameters
    ----------
    value : object
        The argument to check (Python or numpy real number).
    name : str
        Argument name used in the error messages.
    positive : bool
        Require ``value > 0``.
    finite : bool
        Require a finite value (NaN is always refused; ``finite=False`` allows ±inf).
    minimum, maximum : float, optional
        Inclusive bounds.
    above : float, optional
        Exclusive lower bound (``positive`` is ``above=0``).
    unit : str
        Unit shown in the error messages (e.g. ``"Hz"``, ``"s"``).

    Returns
    -------
    float
        ``value`` as a Python float.

    Raises
    ------
    InvalidArgumentTypeError
        Not a real number: "``name`` must be a real number (``unit``), got ...".
    InvalidArgumentError
        NaN, infinite (with ``finite``) or out of bounds: "``name`` must be a finite number
        > 0 ``unit``, got ...".
    """
    if not is_real_number(value):
        shown = f" ({unit})" if unit else ""
        raise InvalidArgumentTypeError(f"{name} must be a real number{shown}, got {value!r}")
    number = float(value)
    if positive:
        above = 0.0 if above is None else max(above, 0.0)
    bounds = []
    ok = not math.isnan(number) and (math.isfinite(number) or not finite)
    if above is not None:
        bounds.append(f"> {above:g}")
        ok = ok and number > above
    if minimum is not None:
        bounds.append(f">= {minimum:g}")
        ok = ok and number >= minimum
    if maximum is not None:
        bounds.append(f"<= {maximum:g}")
        ok = ok and number <= maximum
    if not ok:
        what = "a finite number" if finite else "a number"
        rule = " and ".join(bounds)
        rule = f" {rule}" if rule else ""
        shown = f" {unit}" if unit else ""
        raise InvalidArgumentError(f"{name} must be {what}{rule}{shown}, got {value!r}")
    return number


def check_frame_rate(frame_rate, name: str = "frame_rate", *, above: float = 0.0,
                     unit: str = "Hz") -> float:
    """Return ``frame_rate`` as float, requiring a finite real number > ``above`` (``unit``).

    A :func:`check_real` with the wording of rates; it also serves other positive quantities.
    """
    return check_real(frame_rate, name, above=above, unit=unit)


#: windows and kernels up to this many samples are always accepted (short test traces)
WINDOW_FLOOR = 100_000


def check_window(size: int, name: str, n_samples: int, *, what: str = "window") -> int:
    """Refuse a window or kernel far longer than the data before allocating it.

    A window may span up to ``max(4 * n_samples, WINDOW_FLOOR)`` samples: beyond that every
    extra sample lies outside the data (or repeats its reflection), while the allocation grows
    with the argument (``pre=10**9`` or ``sigma=1e9`` would ask for gigabytes).

    Parameters
    ----------
    size : int
        Samples the argument asks for.
    name : str
        The argument that sets the size (with its value), named in the error.
    n_samples : int
        Samples (frames) of the data the window runs over.
    what : str
        What is bounded (``"window"``, ``"kernel"``), shown in the error.

    Returns
    -------
    int
        ``size``.

    Raises
    ------
    InvalidArgumentError
        ``size`` above the limit.
    """
    limit = max(4 * int(n_samples), WINDOW_FLOOR)
    if size > limit:
        raise InvalidArgumentError(
            f"{name} asks for a {what} of {size} samples, far longer than the data "
            f"({n_samples} samples; at most {limit} are accepted)"
        )
    return size


# ---------------------------------------------------------------------------------------------
# paths
# ---------------------------------------------------------------------------------------------
def as_path(path: str | os.PathLike, name: str = "path") -> Path:
    """Convert ``str``/``os.PathLike`` to :class:`~pathlib.Path` (``~`` expanded).

    Raises
    ------
    InvalidArgumentTypeError
        Not a ``str`` or ``os.PathLike`` (e.g. ``None``).
    """
    if isinstance(path, (str, os.PathLike)):
        return Path(os.fspath(path)).expanduser()
    raise InvalidArgumentTypeError(
        f"{name} must be a str or os.PathLike, not {type(path).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# arrays
# ---------------------------------------------------------------------------------------------
def as_real_array(values, name: str) -> np.ndarray:
    """Return ``values`` as an ndarray of real numbers (integer or float; no copy of an ndarray).

    Raises
    ------
    InvalidArgumentTypeError
        Not array-like, or its dtype is not real numeric (bool, complex, object, strings).
    """
    if not isinstance(values, np.ndarray):
        try:
            values = np.asarray(values)
        except (TypeError, ValueError) as err:
            raise InvalidArgumentTypeError(f"{name} must be array-like: {err}") from err
    if values.dtype == bool or not (
        np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)
    ):
        raise InvalidArgumentTypeError(f"{name} must hold real numbers, got dtype {values.dtype}")
    return values


def check_finite_traces(traces: np.ndarray, name: str = "traces") -> None:
    """Refuse ``(neurons, frames)`` traces holding NaN or ±inf, naming the first such neurons.

    Scans in row chunks so the boolean temporary stays small for large inputs.

    Raises
    ------
    InvalidArgumentError
        "``name`` contains NaN or infinite values (neuron(s) 1, 4); interpolate or drop them
        first".
    """
    if traces.dtype.kind not in "fc":
        return
    if traces.ndim == 1:
        traces = traces[np.newaxis, :]
    rows = max(1, _CHUNK_BYTES // max(1, traces.shape[-1] * traces.itemsize))
    bad: list[int] = []
    for start in range(0, traces.shape[0], rows):
        block = traces[start:start + rows].reshape(min(rows, traces.shape[0] - start), -1)
        finite = np.isfinite(block).all(axis=1)
        bad.extend((start + np.flatnonzero(~finite)).tolist())
        if len(bad) > 5:
            break
    if bad:
        shown = ", ".join(str(i) for i in bad[:5])
        raise InvalidArgumentError(
            f"{name} contains NaN or infinite values (neuron(s) {shown}"
            f"{', ...' if len(bad) > 5 else ''}); interpolate or drop them first"
        )


def as_traces(traces, name: str = "traces", *, min_frames: int = 1,
              finite: bool = False) -> tuple[np.ndarray, bool]:
    """Return ``traces`` as a 2-D ``(neurons, frames)`` ndarray and whether it was 1-D.

    The returned array is a view of the input where possible (no copy), so ``in_place``
    semantics are preserved.

    Parameters
    ----------
    traces : array_like
        ``(frames,)`` or ``(neurons, frames)`` real numbers.
    name : str
        Argument name used in the error messages.
    min_frames : int
        Fewest frames accepted.
    finite : bool
        Also refuse NaN and ±inf (:func:`check_finite_traces`).

    Returns
    -------
    traces : numpy.ndarray
        ``(neurons, frames)`` view of the input.
    was_1d : bool
        Whether the input was 1-D (undo with :func:`restore_ndim`).

    Raises
    ------
    InvalidArgumentTypeError
        Not array-like, or a dtype that is not real numeric (complex, object, strings).
    InvalidArgumentError
        Not 1-D or 2-D, fewer than ``min_frames`` frames, or (with ``finite``) NaN/inf values.
    """
    traces = as_real_array(traces, name)
    if traces.ndim not in (1, 2):
        raise InvalidArgumentError(
            f"{name} must be 1-D (frames,) or 2-D (neurons, frames), got shape {traces.shape}"
        )
    was_1d = traces.ndim == 1
    traces2d = traces[np.newaxis, :] if was_1d else traces
    if traces2d.shape[1] < min_frames:
        raise InvalidArgumentError(
            f"{name} needs at least {min_frames} frames, got shape {traces.shape}"
        )
    if finite:
        check_finite_traces(traces2d, name)
    return traces2d, was_1d


def restore_ndim(result: np.ndarray, was_1d: bool) -> np.ndarray:
    """Undo the 1-D → 2-D promotion of :func:`as_traces`."""
    return result[0] if was_1d else result


def in_place_result(original, out: np.ndarray, was_1d: bool, in_place: bool) -> np.ndarray:
    """Return what a function with ``in_place`` returns.

    That is the caller's own array object when ``in_place`` (also for 1-D input, where ``out``
    is a 2-D view of it), else ``out`` with the 1-D → 2-D promotion of :func:`as_traces` undone.
    """
    if in_place and isinstance(original, np.ndarray):
        return original
    return restore_ndim(out, was_1d)


def float_dtype_for(dtype: np.dtype) -> np.dtype:
    """Output dtype of a function producing fractions: float32/float64 kept, others → float64."""
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):
        return dtype
    return np.dtype(np.float64)


def prepare_output(traces: np.ndarray, in_place: bool, name: str = "traces") -> np.ndarray:
    """Array to write results into: ``traces`` itself when ``in_place``, else a new float array.

    Raises
    ------
    TypeError
        ``in_place=True`` on a non-float array, since fractional results cannot be stored in
        integers without silent truncation.
    InvalidArgumentError
        ``in_place=True`` on a read-only array.
    """
    if in_place:
        if traces.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"in_place=True needs a float32 or float64 {name} array, got {traces.dtype}: "
                "fractional results cannot be stored in it; use in_place=False"
            )
        if not traces.flags.writeable:
            raise InvalidArgumentError(f"in_place=True but {name} is read-only")
        return traces
    return np.empty(traces.shape, dtype=float_dtype_for(traces.dtype))


# ---------------------------------------------------------------------------------------------
# event lists
# ---------------------------------------------------------------------------------------------
def _is_flat(obj) -> bool:
    """True for a flat sequence of scalars (e.g. the events of a single neuron)."""
    if isinstance(obj, np.ndarray):
        return obj.ndim == 1 and obj.dtype != object
    try:
        first = next(iter(obj))
    except StopIteration:
        return False
    return np.ndim(first) == 0


def _is_bool_matrix(obj) -> bool:
    """True for a non-empty list/tuple of equally long 1-D boolean rows."""
    return (
        isinstance(obj, (list, tuple))
        and len(obj) > 0
        and all(np.ndim(item) == 1 and np.asarray(item).dtype == bool for item in obj)
        and len({len(item) for item in obj}) == 1
    )


def _matrix_events(matrix: np.ndarray, name: str, n_frames: int | None) -> list[np.ndarray]:
    if not (matrix.dtype == bool or np.issubdtype(matrix.dtype, np.integer)
            or np.issubdtype(matrix.dtype, np.floating)):
        raise InvalidArgumentTypeError(
            f"{name} matrix must be boolean or real numeric, got dtype {matrix.dtype}"
        )
    if n_frames is not None and matrix.shape[1] != n_frames:
        raise InvalidArgumentError(
            f"{name} has {matrix.shape[1]} frames but the other inputs have {n_frames}"
        )
    with np.errstate(invalid="ignore"):
        active = np.nan_to_num(matrix.astype(np.float64, copy=False)) != 0
    return [np.flatnonzero(row).astype(np.int64) for row in active]


def _row_events(row, name: str, i: int, n_frames: int | None) -> np.ndarray:
    if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
        raise InvalidArgumentTypeError(
            f"{name}[{i}] must be a sequence of frame indices (one per neuron), got {row!r}"
        )
    try:
        arr = np.asarray(row)
    except ValueError as err:
        raise InvalidArgumentError(f"{name}[{i}] is ragged/nested: {err}") from err
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"{name}[{i}] must be a flat 1-D sequence of frame indices, got shape {arr.shape}"
        )
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise InvalidArgumentTypeError(
            f"{name}[{i}] must hold integer frame indices, got dtype {arr.dtype}"
        )
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InvalidArgumentTypeError(
                f"{name}[{i}] must hold integer frame indices, got {arr.dtype} values that are "
                "not whole numbers"
            )
        # beyond int64 the cast wraps (1e20 -> -9223372036854775808): refuse, showing the value
        huge = np.abs(arr) >= _INT64_LIMIT
        if huge.any():
            raise InvalidArgumentError(
                f"{name}[{i}] contains frame index {float(arr[huge][0]):g}, beyond any recording"
            )
    elif arr.dtype == np.uint64 and arr.max() >= np.uint64(2**63):
        raise InvalidArgumentError(
            f"{name}[{i}] contains frame index {int(arr.max())}, beyond any recording"
        )
    arr = arr.astype(np.int64, copy=False)
    low = int(arr.min())
    if low < 0:
        raise InvalidArgumentError(f"{name}[{i}] contains a negative frame index ({low})")
    if n_frames is not None:
        high = int(arr.max())
        if high >= n_frames:
            raise InvalidArgumentError(
                f"{name}[{i}] contains frame {high}, beyond the recording of {n_frames} frames"
            )
    return arr


def as_event_lists(
    event_indices,
    name: str = "event_indices",
    *,
    n_frames: int | None = None,
    n_neurons: int | None = None,
    allow_flat: bool = False,
    allow_matrix: bool = False,
) -> list[np.ndarray]:
    """Return ``event_indices`` as a list of 1-D int64 arrays of frame indices, one per neuron.

    The order of each neuron's indices is kept (sort them where order matters).

    Parameters
    ----------
    event_indices : iterable
        One iterable of integer frame indices per neuron (whole-number floats accepted); with
        ``allow_matrix`` also a ``(neurons, frames)`` binary/count matrix.
    name : str
        Argument name used in error messages.
    n_frames : int, optional
        When given, every index must be ``< n_frames`` (events beyond the recording are errors)
        and a matrix must have ``n_frames`` columns.
    n_neurons : int, optional
        When given, the number of event lists must match it.
    allow_flat : bool
        Accept a flat sequence of ints as the events of a single neuron (for 1-D traces).
    allow_matrix : bool
        Read a 2-D numeric array (or a list of equally long boolean rows) as a ``(neurons,
        frames)`` matrix whose non-zero entries are events; a 1-D boolean array, or one exactly
        ``n_frames`` long, is one neuron's row. Without it a 2-D array is one row of frame
        indices per neuron.

    Returns
    -------
    list of numpy.ndarray
        One int64 array of frame indices per neuron.

    Raises
    ------
    InvalidArgumentTypeError
        Not an iterable of iterables, or non-integer indices (a ``TypeError`` and a
        ``ValueError``).
    InvalidArgumentError
        Nested (ragged) entries, negative indices, indices ``>= n_frames`` or beyond int64, or a
        neuron-count mismatch.
    """
    if allow_matrix:
        if _is_bool_matrix(event_indices):
            event_indices = np.asarray(event_indices, dtype=bool)
        if (isinstance(event_indices, np.ndarray) and event_indices.ndim == 1
                and (event_indices.dtype == bool
                     or (n_frames is not None and event_indices.size == n_frames))):
            event_indices = event_indices[np.newaxis, :]  # one neuron's binary/count row
    if isinstance(event_indices, (str, bytes)) or not isinstance(event_indices, Iterable):
        raise InvalidArgumentTypeError(
            f"{name} must be an iterable with one sequence of frame indices per neuron, "
            f"got {type(event_indices).__name__}"
        )
    out: list[np.ndarray] = []
    rows: Sequence = []
    if isinstance(event_indices, np.ndarray) and event_indices.dtype != object:
        if event_indices.ndim == 2 and allow_matrix:
            out = _matrix_events(event_indices, name, n_frames)
        elif event_indices.ndim == 1 and allow_flat:
            rows = [event_indices]
        elif event_indices.ndim == 2:
            rows = list(event_indices)
        else:
            raise InvalidArgumentError(
                f"{name} must hold one 1-D sequence of frame indices per neuron, "
                f"got an array of shape {event_indices.shape}"
            )
    else:
        rows = list(event_indices)
        # for a single trace an empty list means "no events", as an empty array does
        if allow_flat and (not rows or _is_flat(rows)):
            rows = [rows]
    for i, row in enumerate(rows):
        out.append(_row_events(row, name, i, n_frames))
    if n_neurons is not None and len(out) != n_neurons:
        raise InvalidArgumentError(
            f"{name} has {len(out)} event lists but the traces have {n_neurons} neurons"
        )
    return out
