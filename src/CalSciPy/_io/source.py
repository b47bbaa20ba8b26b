"""The one lazy frame-source base: every read-only ``(frames, y, x)`` stack implements it.

TIFF stacks, binary/memmap wrappers, PrairieView session stacks, suite2p ``data.bin``, filtered
views and frame windows all subclass :class:`FrameSource` and implement a single method,
:meth:`FrameSource._read`, that returns frames ``start:stop`` as a new in-memory array. Indexing
semantics (integers, negative integers, slices with any step, tuples whose first element indexes
frames) are defined here once, so every stack answers ``stack[i]``, ``stack[a:b]`` and
``stack[a:b, y0:y1]`` the way a numpy array would. Extraction and the NWB writer read movies
through :meth:`FrameSource.iter_blocks`.
"""
from __future__ import annotations

import abc
import operator
from collections.abc import Iterator
from typing import Any

import numpy as np

from CalSciPy._checks import check_int

__all__ = ["FrameSource", "iter_frame_blocks", "SPAN_BYTES"]

#: most bytes one internal read of a stepped slice (``stack[::k]``) asks :meth:`_read` for
SPAN_BYTES = 64 * 2**20


class FrameSource(abc.ABC):
    """Abstract read-only, lazily read ``(frames, *frame_shape)`` stack.

    Subclasses set :attr:`shape` (a tuple of ints, frames first) and :attr:`dtype`, and
    implement :meth:`_read`. Nothing is read until the stack is indexed.
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    @abc.abstractmethod
    def _read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` (``0 <= start <= stop <= len(self)``) as a new array.

        The result has shape ``(stop - start, *self.shape[1:])`` and dtype :attr:`dtype`.
        """

    @property
    def ndim(self) -> int:
        """Number of dimensions (3 for a ``(frames, y, x)`` movie)."""
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        """Size of the whole stack in bytes, from shape and dtype (nothing is read)."""
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def __len__(self) -> int:
        return int(self.shape[0])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} shape={self.shape} dtype={np.dtype(self.dtype)}>"

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            if not key:
                return self._frames_for(slice(None))
            first, rest = key[0], key[1:]
        else:
            first, rest = key, ()
        if first is Ellipsis:
            first, rest = slice(None), (Ellipsis,) + tuple(rest)
        block = self._frames_for(first)
        if not rest:
            return block
        # a slice keeps the frame axis, an integer removed it
        return block[(slice(None),) + tuple(rest)] if block.ndim == self.ndim else block[rest]

    def _frames_for(self, first: Any) -> np.ndarray:
        n = len(self)
        if isinstance(first, slice):
            start, stop, step = first.indices(n)
            if step == 1:
                return self._checked(self._read(start, max(start, stop)), max(0, stop - start))
            return self._stepped(range(start, stop, step))
        if isinstance(first, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__} cannot be indexed by a boolean")
        try:
            index = operator.index(first)
        except TypeError:
            raise TypeError(
                f"{type(self).__name__} supports integer frame indices and slices, "
                f"got {first!r}"
            ) from None
        if not -n <= index < n:
            raise IndexError(f"frame index {index} is out of range for {n} frames")
        index %= n
        return self._checked(self._read(index, index + 1), 1)[0]

    def _stepped(self, picks: range) -> np.ndarray:
        """Frames ``picks`` (a range with step != 1): contiguous reads of bounded size.

        Picks closer together than one read block are read as one span and subsampled, so a
        ``[::2]`` costs one pass over the data; sparser picks are read one frame at a time.
        Memory stays bounded by :data:`SPAN_BYTES` whatever the step.
        """
        out = np.empty((len(picks), *self.shape[1:]), dtype=self.dtype)
        if not picks:
            return out
        ascending = picks if picks.step > 0 else picks[::-1]
        step = ascending.step
        frame_bytes = max(1, self.nbytes // max(1, len(self)))
        per_span = max(1, (SPAN_BYTES // frame_bytes) // step)  # picks per contiguous read
        for i in range(0, len(ascending), per_span):
            chunk = ascending[i:i + per_span]
            lo, hi = chunk[0], chunk[-1] + 1
            block = self._checked(self._read(lo, hi), hi - lo)[::step]
            if picks.step > 0:
                out[i:i + len(chunk)] = block
            else:  # descending picks: fill from the end
                out[len(picks) - i - len(chunk):len(picks) - i] = block[::-1]
        return out

    def _checked(self, block: np.ndarray, frames: int) -> np.ndarray:
        expected = (frames, *self.shape[1:])
        if block.shape != expected:
            raise RuntimeError(
                f"{type(self).__name__}._read returned shape {block.shape}, expected {expected}"
            )
        return block

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self._read(0, len(self))
        return data if dtype is None else data.astype(dtype, copy=False)

    def iter_blocks(self, block_frames: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, frames[start:start + block_frames])`` over the whole stack."""
        yield from iter_frame_blocks(self, block_frames)


def iter_frame_blocks(images: Any, block_frames: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, block)`` pairs covering ``images`` along frames, each read once.

    Works for any frames-first array-like: numpy arrays and memmaps (a view is copied into
    memory per block), dask/Zarr arrays (each block computed), and :class:`FrameSource`
    subclasses. ``block_frames`` must be a positive integer.
    """
    block_frames = check_int(block_frames, "block_frames", minimum=1)
    n = int(images.shape[0])
    for start in range(0, n, int(block_frames)):
        stop = min(n, start + int(block_frames))
        block = images[start:stop]
        if hasattr(block, "compute"):
            block = block.compute()
        yield start, np.asarray(block)
