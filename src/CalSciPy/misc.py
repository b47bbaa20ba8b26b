"""Small general-purpose helpers: blocks, sliding windows, time vectors, file names, GPU wrapping.

Block generators
----------------
:func:`generate_blocks` and :func:`generate_overlapping_blocks` split a sequence (typically
``range(frames)``) into blocks for out-of-core or GPU processing. Both validate their arguments
when *called* (not lazily on the first ``next``) and yield slices of the sequence: slicing a
``range`` gives a ``range``, slicing an ndarray gives a view.
"""
from __future__ import annotations

import functools
import inspect
import math
import operator
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import DTypeLike

from CalSciPy import _backend
from CalSciPy._checks import as_path, check_int, check_real
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "PatternMatching",
    "calculate_frames_per_file",
    "generate_blocks",
    "generate_overlapping_blocks",
    "generate_padded_filename",
    "generate_sliding_window",
    "generate_time_vector",
    "sliding_window",
    "wrap_cupy_block",
]


def _as_sliceable(sequence, name: str = "sequence") -> Any:
    """Return ``sequence`` if it supports ``len`` and slicing, else a list of its items."""
    if isinstance(sequence, (str, bytes)):
        raise InvalidArgumentTypeError(
            f"{name} must be a sequence of items, not {type(sequence).__name__}"
        )
    if hasattr(sequence, "__len__") and hasattr(sequence, "__getitem__"):
        return sequence
    if not isinstance(sequence, Iterable):
        raise InvalidArgumentTypeError(f"{name} must be iterable, got {type(sequence).__name__}")
    return list(sequence)


# ---------------------------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------------------------
def generate_blocks(sequence: Iterable, block_size: int, block_buffer: int = 0) -> Iterator:
    """Split a sequence into consecutive blocks that overlap by ``block_buffer`` items.

    With step ``s = block_size - block_buffer``, block ``k`` covers items
    ``[k*s, k*s + block_size)``. After the last full block, any remaining ``r`` items are
    yielded as one final, shorter block made of the last ``block_buffer + r`` items, so every
    item is covered and consecutive blocks always overlap by exactly ``block_buffer`` items.

    Parameters
    ----------
    sequence : Iterable
        Sequence to split (e.g. ``range(n_frames)`` or an array, split along its first axis).
        Iterables without ``len``/slicing are materialised into a list first.
    block_size : int
        Items per block (> 1 and < ``len(sequence)``).
    block_buffer : int, default 0
        Items shared by consecutive blocks (0 <= block_buffer < block_size).

    Returns
    -------
    Iterator
        Generator yielding slices ``sequence[start:stop]``.

    Raises
    ------
    ValueError
        ``block_size <= 1``, ``block_buffer`` negative or ``>= block_size``, or
        ``block_size >= len(sequence)``. Raised immediately when called.

    Examples
    --------
    >>> [list(b) for b in generate_blocks(range(10), 4, 1)]
    [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    >>> [list(b) for b in generate_blocks(range(10), 3)]
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """
    items = _as_sliceable(sequence)
    block_size = check_int(block_size, "block_size", minimum=0)
    block_buffer = check_int(block_buffer, "block_buffer", minimum=0)
    n = len(items)
    if block_size <= 1:
        raise InvalidArgumentError(f"block_size must be > 1, got {block_size}")
    if block_buffer >= block_size:
        raise InvalidArgumentError(
            f"block_buffer ({block_buffer}) must be smaller than block_size ({block_size})"
        )
    if block_size >= n:
        raise InvalidArgumentError(
            f"block_size ({block_size}) must be smaller than the sequence length ({n})"
        )
    return _iter_blocks(items, n, block_size, block_size - block_buffer)


def _iter_blocks(sequence, n: int, block_size: int, step: int) -> Iterator:
    start = 0
    while True:
        stop = start + block_size
        if stop >= n:
            yield sequence[start:n]
            return
        yield sequence[start:stop]
        start += step


def generate_overlapping_blocks(sequence: Iterable, block_size: int, block_buffer: int) -> Iterator:
    """Split a sequence into non-overlapping core blocks, each padded by ``block_buffer`` items.

    Core block ``k`` covers ``[k*block_size, (k+1)*block_size)`` (the last one may be shorter);
    the yielded block extends it by ``block_buffer`` items on both sides, clipped to the
    sequence: ``[max(0, k*block_size - block_buffer), min(n, (k+1)*block_size + block_buffer))``.
    This is the layout for filtering in blocks: filter the padded block, keep the core.

    Parameters
    ----------
    sequence : Iterable
        Sequence to split (e.g. ``range(n_frames)``).
    block_size : int
        Size of each core block (>= 1).
    block_buffer : int
        Items added on each side of a core block (>= 0).

    Returns
    -------
    Iterator
        Generator yielding slices ``sequence[start:stop]``.

    Raises
    ------
    ValueError
        ``block_size < 1`` or ``block_buffer < 0``; raised immediately when called.

    Examples
    --------
    >>> [list(b) for b in generate_overlapping_blocks(range(7), 3, 1)]
    [[0, 1, 2, 3], [2, 3, 4, 5, 6], [5, 6]]
    """
    items = _as_sliceable(sequence)
    block_size = check_int(block_size, "block_size", minimum=1)
    block_buffer = check_int(block_buffer, "block_buffer", minimum=0)
    return _iter_overlapping(items, len(items), block_size, block_buffer)


def _iter_overlapping(sequence, n: int, block_size: int, block_buffer: int) -> Iterator:
    for core_start in range(0, n, block_size):
        start = max(0, core_start - block_buffer)
        stop = min(n, core_start + block_size + block_buffer)
        yield sequence[start:stop]


# ---------------------------------------------------------------------------------------------
# windows
# ---------------------------------------------------------------------------------------------
def generate_sliding_window(
    sequence: Iterable, window_length: int, step_size: int = 1
) -> np.ndarray:
    """All full windows of ``window_length`` items along the first axis, ``step_size`` apart.

    Parameters
    ----------
    sequence : Iterable
        Array-like; windows are taken along its first axis.
    window_length : int
        Items per window (1 <= window_length <= len(sequence)).
    step_size : int, default 1
        Distance between the starts of consecutive windows (>= 1).

    Returns
    -------
    numpy.ndarray
        ``(windows, window_length, *sequence.shape[1:])`` with
        ``windows = (len - window_length) // step_size + 1``. A read-only view of the input
        when it is an ndarray (copy it before writing).
    """
    array = np.asarray(sequence)
    if array.ndim == 0:
        raise InvalidArgumentError("sequence must have at least one dimension")
    window_length = check_int(window_length, "window_length", minimum=1)
    step_size = check_int(step_size, "step_size", minimum=1)
    if window_length > array.shape[0]:
        raise InvalidArgumentError(
            f"window_length ({window_length}) exceeds the sequence length ({array.shape[0]})"
        )
    windows = sliding_window_view(array, window_length, axis=0)[::step_size]
    # sliding_window_view appends the window axis last; put it right after the window index
    return np.moveaxis(windows, -1, 1)


def _accepts_axis(function: Callable) -> bool:
    try:
        return "axis" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def sliding_window(
    sequence: np.ndarray, window_length: int, function: Callable, *args, **kwargs
) -> np.ndarray:
    """Apply ``function`` to every full window (step 1) along the last axis of ``sequence``.

    Parameters
    ----------
    sequence : numpy.ndarray
        Array whose last axis is sliced into windows, e.g. traces ``(neurons, frames)``.
    window_length : int
        Samples per window (1 <= window_length <= sequence.shape[-1]).
    function : Callable
        Called as ``function(window, *args, **kwargs)``. When it takes an ``axis`` keyword
        (``np.mean``, ``np.median``, ``np.percentile``, ``np.sort``, ...) and none is given,
        it works along the window (``axis=-1``) and is called once on all windows at once
        (vectorised); the result is checked against the per-window calls on the first and
        last windows (its window axis found and moved first), and if that does not match the
        windows are processed one by one. Otherwise it is called once per window.
    *args, **kwargs
        Passed on to ``function``.

    Returns
    -------
    numpy.ndarray
        Window index first: ``(windows, *result_shape)`` with
        ``windows = sequence.shape[-1] - window_length + 1``; e.g. ``np.mean`` on
        ``(neurons, frames)`` gives ``(windows, neurons)``.
    """
    array = np.asarray(sequence)
    if array.ndim == 0:
        raise InvalidArgumentError("sequence must have at least one dimension")
    if not callable(function):
        raise InvalidArgumentTypeError(f"function must be callable, got {function!r}")
    window_length = check_int(window_length, "window_length", minimum=1)
    if window_length > array.shape[-1]:
        raise InvalidArgumentError(
            f"window_length ({window_length}) exceeds the sequence length ({array.shape[-1]})"
        )
    # (windows, ..., window_length): the window index first, as in the result
    windows = np.moveaxis(sliding_window_view(array, window_length, axis=-1), -2, 0)
    if "axis" not in kwargs and _accepts_axis(function):
        kwargs = {**kwargs, "axis": -1}
        result = _window_axis_first(
            np.asarray(function(windows, *args, **kwargs)),
            np.asarray(function(windows[0], *args, **kwargs)),
            np.asarray(function(windows[-1], *args, **kwargs)),
        )
        if result is not None:
            return result
    return np.stack([np.asarray(function(window, *args, **kwargs)) for window in windows])


def _window_axis_first(result: np.ndarray, first: np.ndarray, last: np.ndarray):
    """``result`` of one call on all windows, rearranged to ``(windows, *first.shape)``, or
    None when no axis of it holds the per-window results ``first`` ... ``last``.

    Reductions keep the window axis first; functions such as ``np.percentile`` with several
    ``q`` put their own axes in front of it.
    """
    for k in range(result.ndim):
        if result.shape[:k] + result.shape[k + 1:] != first.shape:
            continue
        candidate = np.moveaxis(result, k, 0)
        if _same(candidate[0], first) and _same(candidate[-1], last):
            return candidate
    return None


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        # one vectorised call and a call per window may round differently (pairwise sums)
        return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
    return bool(np.array_equal(a, b))


# ---------------------------------------------------------------------------------------------
# sizes, names, time
# ---------------------------------------------------------------------------------------------
def generate_time_vector(
    num_samples: int,
    sampling_frequency: float = 30.0,
    start: float = 0.0,
    step: float | None = None,
) -> np.ndarray:
    """Sample times ``start + k * step`` for ``k`` from 0 to ``num_samples - 1`` (seconds).

    Parameters
    ----------
    num_samples : int
        Number of samples (>= 0).
    sampling_frequency : Number, default 30.0
        Sampling rate in Hz; gives the default ``step = 1 / sampling_frequency``.
    start : Number, default 0.0
        Time of the first sample (s).
    step : Number, optional
        Time between samples (s); overrides ``sampling_frequency`` when given.

    Returns
    -------
    numpy.ndarray
        float64 ``(num_samples,)``.
    """
    num_samples = check_int(num_samples, "num_samples", minimum=0)
    start = check_real(start, "start", unit="s")
    if step is None:
        step = 1.0 / check_real(sampling_frequency, "sampling_frequency", positive=True, unit="Hz")
    else:
        step = check_real(step, "step", unit="s")
    return float(start) + np.arange(num_samples, dtype=np.float64) * float(step)


def calculate_frames_per_file(
    y_pixels: int, x_pixels: int, bit_depth: DTypeLike = np.uint16, size_cap: float = 3.9
) -> int:
    """Most frames of ``(y_pixels, x_pixels)`` images of ``bit_depth`` that fit in ``size_cap`` GB.

    Returns ``floor(size_cap * 1e9 / (y_pixels * x_pixels * itemsize))`` (GB = 1e9 bytes).

    Raises
    ------
    ValueError
        Non-positive sizes or cap, or a single frame larger than ``size_cap``.
    """
    y_pixels = check_int(y_pixels, "y_pixels", minimum=1)
    x_pixels = check_int(x_pixels, "x_pixels", minimum=1)
    try:
        itemsize = np.dtype(bit_depth).itemsize
    except TypeError as err:
        raise InvalidArgumentTypeError(
            f"bit_depth must be a numpy dtype, got {bit_depth!r}"
        ) from err
    size_cap = check_real(size_cap, "size_cap", positive=True, unit="GB")
    frames = math.floor(float(size_cap) * 1e9 / (y_pixels * x_pixels * itemsize))
    if frames < 1:
        raise InvalidArgumentError(
            f"a single {y_pixels}x{x_pixels} {np.dtype(bit_depth).name} frame exceeds "
            f"size_cap={size_cap} GB"
        )
    return int(frames)


def generate_padded_filename(
    output_folder: Path, index: int, base: str = "images", digits: int = 2, ext: str = ".tif"
) -> Path:
    """``output_folder / f"{base}_{index:0{digits}d}{ext}"``.

    Raises
    ------
    ValueError
        Negative ``index``, or ``index`` needing more than ``digits`` digits.
    """
    as_path(output_folder, "output_folder")  # type check only: the result is not ~-expanded
    index = check_int(index, "index", minimum=0)
    digits = check_int(digits, "digits", minimum=1)
    if len(str(index)) > digits:
        raise InvalidArgumentError(f"index {index} has more than digits={digits} digits")
    return Path(output_folder) / f"{base}_{index:0{digits}d}{ext}"


# ---------------------------------------------------------------------------------------------
# GPU
# ---------------------------------------------------------------------------------------------
def wrap_cupy_block(copy_function: Callable) -> Callable:
    """Wrap a cupy function so it takes numpy arrays and returns numpy arrays.

    On each call, numpy arrays among the positional and keyword arguments are copied to the GPU
    with the array module from :func:`CalSciPy._backend.cupy_module`, ``copy_function`` runs,
    and GPU arrays in the result (also inside tuples, lists and dicts) come back as numpy arrays.
    cupy is imported on the first call, so wrapping works without it; calling without it raises
    :class:`CalSciPy.errors.MissingDependencyError` naming the ``gpu`` extra.

    Parameters
    ----------
    copy_function : Callable
        Any function that accepts cupy arrays.

    Returns
    -------
    Callable
        The wrapped function.
    """
    if not callable(copy_function):
        raise InvalidArgumentTypeError(f"copy_function must be callable, got {copy_function!r}")

    @functools.wraps(copy_function)
    def wrapper(*args, **kwargs):
        xp = _backend.cupy_module()
        args = tuple(xp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
        kwargs = {k: xp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        return _to_host(copy_function(*args, **kwargs), xp)

    return wrapper


def _to_host(result, xp):
    if isinstance(result, xp.ndarray):
        return xp.asnumpy(result)
    if isinstance(result, tuple) and hasattr(result, "_fields"):  # namedtuple
        return type(result)(*(_to_host(r, xp) for r in result))
    if isinstance(result, (tuple, list)):
        return type(result)(_to_host(r, xp) for r in result)
    if isinstance(result, dict):
        return {k: _to_host(v, xp) for k, v in result.items()}
    return result


# ---------------------------------------------------------------------------------------------
# pattern matching
# ---------------------------------------------------------------------------------------------
class PatternMatching:
    """Compare a tuple of values against cases, one comparison per value.

    Parameters
    ----------
    value : Any
        The values to match (a tuple; a single non-tuple value is treated as a 1-tuple).
    comparison_expressions : Iterable[Any]
        One binary callable per value, ``compare(value_i, case_i) -> bool`` (e.g.
        ``operator.eq``, ``operator.ge``, ``isinstance``). ``None`` entries mean equality.

    Notes
    -----
    A case matches when every comparison holds; ``...`` in a case matches anything.
    Use as a context manager that yields the matcher; calling it (or ``==``) tests a case.

    Examples
    --------
    >>> import operator
    >>> with PatternMatching((3, "tif"), [operator.ge, operator.eq]) as case:
    ...     if case((5, "tif")):
    ...         kind = "small tif"
    ...     elif case((0, ...)):
    ...         kind = "anything else"
    >>> kind
    'anything else'
    """

    def __init__(self, value: Any, comparison_expressions: Iterable[Any]):
        self.value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        self.comparison_expressions = tuple(
            operator.eq if expr is None else expr for expr in comparison_expressions
        )
        if len(self.comparison_expressions) != len(self.value):
            raise InvalidArgumentError(
                f"need one comparison per value: {len(self.value)} values, "
                f"{len(self.comparison_expressions)} comparison_expressions"
            )
        for expr in self.comparison_expressions:
            if not callable(expr):
                raise InvalidArgumentTypeError(
                    f"comparison_expressions must be callables, got {expr!r}"
                )

    def __enter__(self) -> PatternMatching:
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def __call__(self, case: Any) -> bool:
        case = tuple(case) if isinstance(case, (tuple, list)) else (case,)
        if len(case) != len(self.value):
            raise InvalidArgumentError(
                f"case {case!r} has {len(case)} items, expected {len(self.value)}"
            )
        return all(
            c is Ellipsis or bool(compare(v, c))
            for compare, v, c in zip(self.comparison_expressions, self.value, case)
        )

    def __eq__(self, case: Any) -> bool:
        return self(case)

    __hash__ = None  # type: ignore[assignment]  # equality by pattern: not hashable

    def __repr__(self) -> str:
        return f"PatternMatching(value={self.value!r})"
