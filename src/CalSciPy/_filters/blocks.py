"""Blockwise and out-of-core filtering along the frame axis.

Blocks follow :func:`CalSciPy.misc.generate_overlapping_blocks`: core ``k`` is frames
``[k*block_size, (k+1)*block_size)``, filtered together with ``block_buffer`` extra frames on
each side (clipped to the stack); only the core is kept. With ``block_buffer`` at least the
filter's temporal radius every core frame sees all the frames it needs, so the result equals
filtering the whole stack at once. With a smaller buffer (0: independent blocks) each block's
ends are treated as stack ends (reflected), so frames within the radius of a seam differ.

Overlaps always read *unfiltered* frames, also when writing into the input: the frames of
the previous block that the next one needs are kept from the previous (unfiltered) read.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from CalSciPy import _backend
from CalSciPy._io.source import FrameSource
from CalSciPy.errors import InvalidArgumentError
from CalSciPy.misc import generate_overlapping_blocks

__all__ = ["FilteredStack", "filter_blockwise", "read_frames"]


def filter_blockwise(
    images,
    out,
    run: Callable,
    block_size: int,
    block_buffer: int,
    *,
    progress: bool = False,
):
    """Filter ``images`` block by block into ``out`` (which may be ``images`` itself).

    Parameters
    ----------
    images
        ``(frames, y, x)`` numpy, memmap or cupy array (anything sliceable along frames).
    out
        Array of the same shape receiving the result; ``images`` for in-place filtering.
    run
        Filters one ``(frames, y, x)`` block, returning a new array of the same shape.
    block_size, block_buffer
        Core frames per block and extra frames read on each side.
    progress
        Show a tqdm bar over blocks.

    Returns
    -------
    The ``out`` array.
    """
    n = images.shape[0]
    xp = _backend.get_array_module(images)
    in_place = out is images
    spans = generate_overlapping_blocks(range(n), block_size, block_buffer)
    previous: Any = None  # the block before (its tail is the next block's leading overlap)
    previous_start = 0
    bar = tqdm(spans, total=math.ceil(n / block_size), desc="filtering", unit="block",
               disable=not progress)
    for k, span in enumerate(bar):
        start, stop = span.start, span.stop
        core_start = k * block_size
        core_stop = min(n, core_start + block_size)
        tail = images[core_start:stop]
        if start < core_start:
            # the leading overlap was read (unfiltered) with the previous block
            lead = previous[start - previous_start:core_start - previous_start]
            block = xp.concatenate((lead, tail))
        else:
            block = tail.copy() if in_place else tail
        result = run(block)
        out[core_start:core_stop] = result[core_start - start:core_stop - start]
        previous, previous_start = block, start
    return out


def read_frames(source, start: int, stop: int) -> np.ndarray:
    """Frames ``[start, stop)`` of a lazy stack as an in-memory numpy array.

    A file-backed ``np.memmap`` is read with ordinary file reads rather than through the
    mapping, so the pages of a huge stack do not pile up in this process's resident memory.
    """
    if (
        isinstance(source, np.memmap)
        and getattr(source, "filename", None)
        and source.mode != "c"
        and source.flags.c_contiguous
        and source.ndim == 3
        and isinstance(source.offset, int)
        and _is_whole_file_view(source)
    ):
        frame = int(np.prod(source.shape[1:]))
        count = (stop - start) * frame
        data = np.fromfile(str(source.filename), dtype=source.dtype, count=count,
                           offset=source.offset + start * frame * source.dtype.itemsize)
        return data.reshape((stop - start, *source.shape[1:]))
    block = source[start:stop]
    if hasattr(block, "compute"):
        block = block.compute()
    return np.asarray(block)


def _is_whole_file_view(source: np.memmap) -> bool:
    """True when ``source`` is the memmap numpy created (not a slice or view of one)."""
    base = source.base
    return base is not None and not isinstance(base, np.ndarray)


class FilteredStack(FrameSource):
    """A lazy, read-only ``(frames, y, x)`` view of a stack passed through a filter.

    Indexing behaves as on the filtered numpy array (the :class:`~CalSciPy._io.source.FrameSource`
    rules: integers, negative integers, slices with steps, tuples). Slicing frames ``[a:b]`` reads
    frames ``[a - r, b + r)`` of the source (``r`` the temporal
    radius, clipped to the stack), filters them in memory ``block_size`` frames at a time and
    returns exactly the frames the whole-stack filter would give. Writers that stream blocks
    (:func:`CalSciPy.io_tools.save_stack`) therefore produce the filtered file with memory
    bounded by one block.

    Parameters
    ----------
    source
        ``(frames, y, x)`` numpy array, ``np.memmap``, Zarr/dask array or lazy TIFF reader.
    run
        Filters one in-memory block, returning a new array of the same shape and dtype.
    radius
        Frames the filter reaches on each side.
    block_size
        Core frames filtered per step.
    """

    def __init__(self, source, run: Callable, radius: int, block_size: int):
        self.source = source
        self.run = run
        self.radius = int(radius)
        self.block_size = int(block_size)
        if self.radius < 0 or self.block_size < 1:
            raise InvalidArgumentError(
                f"FilteredStack needs radius >= 0 and block_size >= 1, got {radius}, {block_size}"
            )
        self.shape = tuple(int(n) for n in source.shape)
        self.dtype = np.dtype(source.dtype)

    def _read(self, start: int, stop: int) -> np.ndarray:
        n = self.shape[0]
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        for core_start in range(start, stop, self.block_size):
            core_stop = min(stop, core_start + self.block_size)
            lo = max(0, core_start - self.radius)
            hi = min(n, core_stop + self.radius)
            result = self.run(read_frames(self.source, lo, hi))
            out[core_start - start:core_stop - start] = result[core_start - lo:core_stop - lo]
        return out
