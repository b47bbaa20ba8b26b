"""Frame blocks for extraction: each read once, the next one read while the current is used.

In-memory numpy arrays are used in place (views). Anything else — memmaps, lazy stacks
(:class:`~CalSciPy._io.source.FrameSource`), dask/Zarr arrays, other array-likes — is read one
block ahead in a background thread (the extraction kernel releases the GIL), so reading the
movie and computing overlap. A read-only or shared memmap's pages are handed back to the
kernel after their block is copied (``madvise(MADV_DONTNEED)``; the data stays in the page
cache), so resident memory stays bounded by the block size instead of growing to the size of
the file.
"""
from __future__ import annotations

import mmap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["read_blocks"]

#: numpy memmap modes whose mapping is shared with the page cache (MADV_DONTNEED loses nothing)
_SHARED_MODES = ("r", "r+", "w+", "readonly", "readwrite", "write")


def _release(view: Any) -> None:
    """Best effort: drop the pages of the memmap ``view`` from this process's resident set."""
    mm = getattr(view, "_mmap", None)
    if mm is None or getattr(view, "mode", None) not in _SHARED_MODES:
        return
    if not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    try:
        base = np.frombuffer(mm, dtype=np.uint8).__array_interface__["data"][0]
        start = view.__array_interface__["data"][0] - base
        stop = start + view.nbytes
        if start < 0 or stop > len(mm):
            return
        lo = (start // mmap.PAGESIZE) * mmap.PAGESIZE
        hi = min(len(mm), -(-stop // mmap.PAGESIZE) * mmap.PAGESIZE)
        if hi > lo:
            mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
    except (OSError, ValueError, TypeError, BufferError):
        pass


def _prepare(block: Any) -> np.ndarray:
    """``(frames, pixels)`` C-contiguous, native byte order, a dtype the kernel compiles for."""
    block = np.asarray(block)
    flat = block.reshape(block.shape[0], -1)
    if flat.dtype == np.float16:
        flat = flat.astype(np.float32)
    elif not flat.dtype.isnative:
        flat = flat.astype(flat.dtype.newbyteorder("="))
    return np.ascontiguousarray(flat)


def _load(images: Any, start: int, stop: int) -> np.ndarray:
    block = images[start:stop]
    if hasattr(block, "compute"):
        block = block.compute()
    if isinstance(block, np.memmap):
        copy = np.array(block)
        _release(block)
        return _prepare(copy)
    return _prepare(block)


def read_blocks(images: Any, batch_frames: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, block)`` with ``block`` of shape ``(frames, Ly * Lx)`` covering
    ``images`` in order, each frame read exactly once."""
    n = int(images.shape[0])
    starts = list(range(0, n, batch_frames))
    if isinstance(images, np.ndarray) and not isinstance(images, np.memmap):
        for start in starts:
            yield start, _prepare(images[start:start + batch_frames])
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="calscipy-read") as pool:
        pending = pool.submit(_load, images, starts[0], min(n, starts[0] + batch_frames))
        try:
            for i, start in enumerate(starts):
                block = pending.result()
                if i + 1 < len(starts):
                    nxt = starts[i + 1]
                    pending = pool.submit(_load, images, nxt, min(n, nxt + batch_frames))
                yield start, block
        finally:
            pending.cancel()
