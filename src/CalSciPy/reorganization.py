"""Reshaping traces and events: rasters, trial tensors and factorized matrices.

Shapes: traces ``(neurons, frames)``; tensors ``(chunks, neurons, chunk_size)``.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from CalSciPy._checks import as_event_lists, check_int, float_dtype_for, is_integer
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["generate_raster", "generate_tensor", "merge_factorized_matrices", "merge_tensor"]


def generate_raster(
    event_frames: Iterable[Iterable[int]], total_frames: int | None = None
) -> np.ndarray:
    """Binary event raster from per-neuron event (or spike) frames.

    Parameters
    ----------
    event_frames : Iterable[Iterable[int]]
        One sequence of frame indices per neuron (the format returned by
        :func:`CalSciPy.event_processing.identify_events`).
    total_frames : int, optional
        Frames in the recording; inferred as the largest event frame + 1 when omitted.

    Returns
    -------
    numpy.ndarray
        int32 ``(neurons, total_frames)``: 1 where a neuron has an event, else 0 (several events
        in one frame still give 1).

    Raises
    ------
    InvalidArgumentError
        Negative or nested indices, an event outside ``[0, total_frames)``, ``total_frames``
        < 0, or no events at all with ``total_frames`` omitted.
    InvalidArgumentTypeError
        Non-integer indices or ``total_frames`` (also a ``ValueError``, as in 0.3.x).
    """
    if total_frames is not None:
        total_frames = check_int(total_frames, "total_frames", minimum=0)
    events = as_event_lists(event_frames, "event_frames", n_frames=total_frames)
    if total_frames is None:
        non_empty = [e for e in events if e.size]
        if not non_empty:
            raise InvalidArgumentError(
                "event_frames holds no events, so total_frames cannot be inferred: pass it"
            )
        total_frames = int(max(e.max() for e in non_empty)) + 1
    raster = np.zeros((len(events), total_frames), dtype=np.int32)
    if events:
        rows = np.repeat(np.arange(len(events)), [e.size for e in events])
        raster[rows, np.concatenate(events)] = 1
    return raster


def generate_tensor(traces_as_matrix: np.ndarray, chunk_size: int) -> np.ndarray:
    """Split ``(neurons, frames)`` traces into consecutive chunks (trials) of ``chunk_size`` frames.

    Parameters
    ----------
    traces_as_matrix : numpy.ndarray
        ``(neurons, frames)``.
    chunk_size : int
        Frames per chunk; must divide ``frames``.

    Returns
    -------
    numpy.ndarray
        ``(frames // chunk_size, neurons, chunk_size)``, same dtype, a new C-contiguous array:
        ``tensor[k, i] == traces_as_matrix[i, k*chunk_size:(k+1)*chunk_size]``.

    Raises
    ------
    ValueError
        Not 2-D, or ``chunk_size`` does not divide the number of frames.
    """
    matrix = np.asarray(traces_as_matrix)
    if matrix.ndim != 2:
        raise InvalidArgumentError(
            f"traces_as_matrix must be 2-D (neurons, frames), got shape {matrix.shape}"
        )
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    neurons, frames = matrix.shape
    if frames % chunk_size:
        raise InvalidArgumentError(
            f"chunk_size ({chunk_size}) does not divide the number of frames ({frames})"
        )
    chunks = frames // chunk_size
    return np.ascontiguousarray(matrix.reshape(neurons, chunks, chunk_size).transpose(1, 0, 2))


def merge_tensor(traces_as_tensor: np.ndarray) -> np.ndarray:
    """Concatenate ``(chunks, neurons, frames)`` back into ``(neurons, chunks * frames)``.

    Exact inverse of :func:`generate_tensor`.

    Raises
    ------
    ValueError
        The input is not 3-D.
    """
    tensor = np.asarray(traces_as_tensor)
    if tensor.ndim != 3:
        raise InvalidArgumentError(
            f"traces_as_tensor must be 3-D (chunks, neurons, frames), got shape {tensor.shape}"
        )
    chunks, neurons, frames = tensor.shape
    return np.ascontiguousarray(tensor.transpose(1, 0, 2)).reshape(neurons, chunks * frames)


def _as_cell(cell, i: int, k: int) -> np.ndarray:
    try:
        return np.asarray(cell)
    except ValueError as err:  # ragged nested lists
        raise InvalidArgumentTypeError(
            f"factorized_traces[{i}, {k}] must be a 2-D real (components, frames) array: {err}"
        ) from err


def merge_factorized_matrices(
    factorized_traces: np.ndarray,
    components: int | Iterable[int] = 0,
    *,
    component: int | Iterable[int] | None = None,
) -> np.ndarray:
    """Concatenate per-chunk factorizations of each neuron's trace along time.

    Parameters
    ----------
    factorized_traces : numpy.ndarray
        Object array ``(neurons, chunks)`` whose elements are ``(components, frames_in_chunk)``
        arrays (chunks may differ in length, but a chunk has the same length for every
        neuron). A numeric ``(neurons, chunks, components, frames_in_chunk)`` array is accepted
        too.
    components : int or Iterable[int], default 0
        Component(s) to extract.
    component : int or Iterable[int], optional
        Keyword alias of ``components`` (the name used in the 0.3.4 docs); wins when given.

    Returns
    -------
    numpy.ndarray
        For an int: float ``(neurons, total_frames)``; for an iterable: float
        ``(len(components), neurons, total_frames)``. float32 when every element is float32,
        else float64.

    Raises
    ------
    TypeError
        Not an ndarray of the layout above, elements that are not 2-D numeric arrays, or
        non-integer components.
    ValueError
        A component index out of range, or chunk lengths that differ between neurons.
    """
    if component is not None:
        components = component
    if not isinstance(factorized_traces, np.ndarray):
        raise InvalidArgumentTypeError(
            "factorized_traces must be a numpy object array (neurons, chunks) of "
            f"(components, frames) arrays, got {type(factorized_traces).__name__}"
        )
    if factorized_traces.dtype != object:
        if factorized_traces.ndim != 4:
            raise InvalidArgumentTypeError(
                "a numeric factorized_traces must be 4-D (neurons, chunks, components, frames), "
                f"got shape {factorized_traces.shape}"
            )
        neurons, chunks = factorized_traces.shape[:2]
        cells = [[factorized_traces[i, k] for k in range(chunks)] for i in range(neurons)]
    else:
        if factorized_traces.ndim != 2:
            raise InvalidArgumentTypeError(
                "factorized_traces must be a 2-D object array (neurons, chunks), got shape "
                f"{factorized_traces.shape}"
            )
        neurons, chunks = factorized_traces.shape
        cells = [[_as_cell(factorized_traces[i, k], i, k) for k in range(chunks)]
                 for i in range(neurons)]
    single = is_integer(components)
    if single:
        wanted = [check_int(components, "components")]
    else:
        if not isinstance(components, Iterable):
            raise InvalidArgumentTypeError(
                f"components must be an int or an iterable of ints, got {components!r}"
            )
        wanted = [check_int(c, "components", minimum=None) for c in components]
    if neurons == 0 or chunks == 0:
        raise InvalidArgumentError(f"factorized_traces is empty (shape {factorized_traces.shape})")
    n_components = 0
    lengths: list[int] = []
    for k in range(chunks):
        length = -1
        for i in range(neurons):
            cell = cells[i][k]
            real = np.issubdtype(cell.dtype, np.integer) or np.issubdtype(
                cell.dtype, np.floating
            )
            if cell.ndim != 2 or not real:
                raise InvalidArgumentTypeError(
                    f"factorized_traces[{i}, {k}] must be a 2-D real (components, frames) array, "
                    f"got {cell.dtype} shape {cell.shape}"
                )
            n_components = cell.shape[0] if i == 0 and k == 0 else min(n_components,
                                                                       cell.shape[0])
            if length < 0:
                length = cell.shape[1]
            elif cell.shape[1] != length:
                raise InvalidArgumentError(
                    f"chunk {k} has {length} frames for neuron 0 but {cell.shape[1]} "
                    f"for neuron {i}"
                )
        lengths.append(length)
    for c in wanted:
        if not -n_components <= c < n_components:
            raise InvalidArgumentError(
                f"component {c} out of range: the factorizations have {n_components} components"
            )
    dtype = float_dtype_for(np.result_type(*[cells[i][k].dtype for i in range(neurons)
                                             for k in range(chunks)]))
    out = np.empty((len(wanted), neurons, sum(lengths)), dtype=dtype)
    stops = np.cumsum(lengths, dtype=np.int64)
    for k, (start, stop) in enumerate(zip(stops - lengths, stops)):
        # (len(wanted), neurons, frames) for this chunk
        out[:, :, start:stop] = np.stack([cells[i][k][wanted] for i in range(neurons)], axis=1)
    return out[0] if single else out
