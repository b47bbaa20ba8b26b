"""Validation of per-neuron event lists (``event_indices``): one 1-D int sequence per neuron."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["as_event_lists"]


def _is_flat(obj) -> bool:
    """True for a flat sequence of scalars (e.g. the events of a single neuron)."""
    if isinstance(obj, np.ndarray):
        return obj.ndim == 1 and obj.dtype != object
    try:
        first = next(iter(obj))
    except StopIteration:
        return False
    return np.ndim(first) == 0


def as_event_lists(
    event_indices,
    name: str = "event_indices",
    *,
    n_frames: int | None = None,
    n_neurons: int | None = None,
    allow_flat: bool = False,
) -> list[np.ndarray]:
    """Return ``event_indices`` as a list of 1-D int64 arrays, one per neuron.

    Parameters
    ----------
    event_indices
        Iterable with one iterable of integer frame indices per neuron.
    name
        Argument name used in error messages.
    n_frames
        When given, every index must be ``< n_frames`` (events beyond the recording are errors).
    n_neurons
        When given, the number of event lists must match it.
    allow_flat
        Accept a flat sequence of ints as the events of a single neuron (for 1-D traces).

    Raises
    ------
    TypeError
        Not an iterable of iterables, or non-integer indices.
    ValueError
        Nested (ragged) entries, negative indices, indices ``>= n_frames``, or a neuron-count
        mismatch.
    """
    if isinstance(event_indices, (str, bytes)) or not isinstance(event_indices, Iterable):
        raise TypeError(
            f"{name} must be an iterable with one sequence of frame indices per neuron, "
            f"got {type(event_indices).__name__}"
        )
    if isinstance(event_indices, np.ndarray) and event_indices.dtype != object:
        if event_indices.ndim == 1 and allow_flat:
            rows = [event_indices]
        elif event_indices.ndim == 2:
            rows = list(event_indices)
        else:
            raise ValueError(
                f"{name} must hold one 1-D sequence of frame indices per neuron, "
                f"got an array of shape {event_indices.shape}"
            )
    else:
        rows = list(event_indices)
        # for a single trace an empty list means "no events", as an empty array does
        if allow_flat and (not rows or _is_flat(rows)):
            rows = [rows]
    out = []
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
            raise TypeError(
                f"{name}[{i}] must be a sequence of frame indices (one per neuron), got {row!r}"
            )
        try:
            arr = np.asarray(row)
        except ValueError as err:
            raise ValueError(f"{name}[{i}] is ragged/nested: {err}") from err
        if arr.ndim != 1:
            raise ValueError(
                f"{name}[{i}] must be a flat 1-D sequence of frame indices, got shape {arr.shape}"
            )
        if arr.size == 0:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        if arr.dtype == bool or arr.dtype == object:
            raise TypeError(f"{name}[{i}] must hold integer frame indices, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.floating):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise TypeError(f"{name}[{i}] must hold integer frame indices, got {arr.dtype} "
                                "values that are not whole numbers")
        elif not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}[{i}] must hold integer frame indices, got dtype {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        low = int(arr.min())
        if low < 0:
            raise ValueError(f"{name}[{i}] contains a negative frame index ({low})")
        if n_frames is not None:
            high = int(arr.max())
            if high >= n_frames:
                raise ValueError(
                    f"{name}[{i}] contains frame {high}, beyond the recording of {n_frames} frames"
                )
        out.append(arr)
    if n_neurons is not None and len(out) != n_neurons:
        raise ValueError(
            f"{name} has {len(out)} event lists but the traces have {n_neurons} neurons"
        )
    return out
