"""Frame blocks for extraction: each read once, the next ones read while the current is used.

:func:`open_blocks` starts reading as soon as it is called (the caller builds its operator
meanwhile) and yields ``(start, block)`` pairs in order:

* in-memory numpy arrays are used in place (views);
* a memmap whose frames are contiguous in its file (``np.load(..., mmap_mode="r")``,
  ``np.memmap``) is read from the file straight into a few reused buffers by a background
  thread: a block that is mostly in the page cache (``mincore``) is copied from it
  (``os.preadv``); one that is not is read with ``O_DIRECT`` (the disk writes into the buffer,
  almost no CPU, the page cache untouched); where ``O_DIRECT`` is not available the kernel is
  asked (``posix_fadvise(WILLNEED)``) to read the next ~:data:`READAHEAD_BYTES` ahead
  asynchronously. Either way the disk stays busy while the caller computes, no page of the
  movie is mapped (resident memory stays bounded by the buffers) and no CPU goes to page
  faults. A copy-on-write memmap, one whose frames are not contiguous, or one whose file
  cannot be read back identically, is read as any other array-like;
* a stack with a ``_read_into(start, stop, out)`` method (a PrairieView session's
  :class:`~CalSciPy.bruker.session.SessionStack`) fills the same reused buffers;
* anything else — lazy stacks (:class:`~CalSciPy._io.source.FrameSource`), dask/Zarr arrays,
  other array-likes — is read up to :data:`AHEAD` blocks ahead in the background thread. A
  read-only or shared memmap's pages are handed back to the kernel after their block is
  copied (``madvise(MADV_DONTNEED)``; the data stays in the page cache).

A yielded block is valid until the next one is asked for (its buffer is then reused).
Where the reader thread itself needs CPU (``_read_into`` stacks: many small files parsed and
copied), :meth:`BlockReader.compute_threads` tells the caller, block by block, how many threads
to compute on, so that reader and kernel do not contend for the same cores.
"""
from __future__ import annotations

import ctypes
import mmap
import os
import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy.errors import DataFormatError

__all__ = ["AHEAD", "READAHEAD_BYTES", "BlockReader", "open_blocks"]

#: numpy memmap modes whose mapping is shared with the page cache (MADV_DONTNEED loses nothing,
#: and a read of the file sees what was written through the mapping)
_SHARED_MODES = ("r", "r+", "w+", "readonly", "readwrite", "write")
#: blocks read ahead of the one in use (memory: ``AHEAD + 1`` blocks)
AHEAD = 2
#: bytes of a file the kernel is asked to read ahead of the reader (page cache, not this
#: process's memory)
READAHEAD_BYTES = 256 * 2**20
#: bytes compared between a memmap and its file before the file is read directly
_CHECK_BYTES = 4096
_HAS_FADVISE = hasattr(os, "posix_fadvise") and hasattr(os, "POSIX_FADV_WILLNEED")
#: file offsets, lengths and buffers of O_DIRECT reads are multiples of this (any device's
#: logical block size divides it)
_ALIGN = 4096
#: a block with at least this fraction of its pages in the page cache is copied from the cache
_CACHED = 0.5


def _libc_mincore() -> Any:
    if not sys.platform.startswith("linux") or not hasattr(os, "O_DIRECT"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).mincore
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    return fn


_MINCORE = _libc_mincore()


def _resident(address: int, nbytes: int) -> float | None:
    """Fraction of the mapped bytes ``[address, address + nbytes)`` in the page cache, or None
    when it cannot be told."""
    if _MINCORE is None or nbytes <= 0:
        return None
    lo = address - address % mmap.PAGESIZE
    pages = -(-(address + nbytes - lo) // mmap.PAGESIZE)
    vec = np.zeros(pages, dtype=np.uint8)
    if _MINCORE(lo, address + nbytes - lo, vec.ctypes.data) != 0:
        return None
    return float(np.count_nonzero(vec & 1)) / pages


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


def file_span(images: Any) -> tuple[Path, int, int, tuple[int, int]] | None:
    """``(path, byte offset of frame 0 in the file, its address in the mapping, (device,
    inode) of the file)`` when the memmap ``images`` can be read from its file directly
    (frames contiguous, mapping shared, file readable and equal to the mapping at both ends),
    else None."""
    if not isinstance(images, np.memmap) or images.ndim < 1 or images.size == 0:
        return None
    if not (hasattr(os, "preadv") and hasattr(os, "pread")):  # e.g. Windows
        return None
    mm = getattr(images, "_mmap", None)
    name = getattr(images, "filename", None)
    offset = getattr(images, "offset", None)
    if mm is None or name is None or offset is None or images.mode not in _SHARED_MODES:
        return None
    if not images.flags.c_contiguous:
        return None
    try:
        base = np.frombuffer(mm, dtype=np.uint8).__array_interface__["data"][0]
        rel = images.__array_interface__["data"][0] - base
        if rel < 0 or rel + images.nbytes > len(mm):
            return None
        position = int(offset) - int(offset) % mmap.ALLOCATIONGRANULARITY + rel
        path = Path(name)
        with open(path, "rb", buffering=0) as handle:
            info = os.fstat(handle.fileno())
            if info.st_size < position + images.nbytes:
                return None
            flat = images.reshape(-1).view(np.uint8)
            check = min(_CHECK_BYTES, images.nbytes)
            for at in (0, images.nbytes - check):
                if os.pread(handle.fileno(), check, position + at) != flat[at:at + check].tobytes():
                    return None
        _release(images[:1])
        _release(images[-1:])
        return path, position, base + rel, (info.st_dev, info.st_ino)
    except (OSError, ValueError, TypeError, BufferError):
        return None


class BlockReader:
    """Iterator of ``(start, block)`` over ``images`` (see the module docstring); reading
    starts at construction. Use as a context manager, or call :meth:`close`, so the reader
    thread stops when the caller does.
    """

    def __init__(self, images: Any, batch_frames: int) -> None:
        self.images = images
        self.batch = int(batch_frames)
        self.n = int(images.shape[0])
        self.starts = list(range(0, self.n, self.batch))
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready: queue.Queue = queue.Queue()
        self._free: queue.Queue = queue.Queue()
        self._held: Any = None
        self._next = 0
        self._fd = -1
        self._direct: int | None = None
        self.kind = "views"
        self._reading = False  # the reader thread uses CPU while it reads (read_into)
        if isinstance(images, np.ndarray) and not isinstance(images, np.memmap):
            return
        span = file_span(images)
        if span is not None:
            self.kind = "file"
            self._span = span
        elif callable(getattr(images, "_read_into", None)):
            self.kind = "read_into"
            self._reading = True
        else:
            self.kind = "generic"
        shape = (min(self.batch, self.n), *(int(v) for v in images.shape[1:]))
        self._frame_bytes = images.nbytes // max(1, self.n)
        for _ in range(min(AHEAD + 1, len(self.starts))):
            # buffers for the paths that fill them (page-aligned anonymous memory with room for
            # an O_DIRECT read's aligned ends for files); a token for the generic one
            if self.kind == "file":
                token: Any = mmap.mmap(-1, shape[0] * self._frame_bytes + 2 * _ALIGN)
            elif self.kind == "read_into":
                token = np.empty(shape, dtype=images.dtype)
            else:
                token = None
            self._free.put(token)
        self._buffers = self._free.qsize()
        self._thread = threading.Thread(target=self._run, name="calscipy-read", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ reader thread
    def _run(self) -> None:
        handles: list = []
        try:
            if self.kind == "file":
                fd = os.open(self._span[0], os.O_RDONLY)
                handles.append(fd)
                direct = None
                if _MINCORE is not None:
                    try:
                        direct = os.open(self._span[0], os.O_RDONLY | os.O_DIRECT)
                        handles.append(direct)
                    except OSError:  # e.g. tmpfs: buffered reads with read-ahead advice
                        direct = None
                for opened in handles:
                    info = os.fstat(opened)
                    if (info.st_dev, info.st_ino) != self._span[3]:
                        raise DataFormatError(
                            f"{self._span[0]}: the file was replaced while extraction started "
                            "(it is no longer the memmap's file)")
                self._fd, self._direct = fd, direct
            advised = 0
            for start in self.starts:
                token = self._free.get()
                if self._stop.is_set():
                    return
                stop = min(self.n, start + self.batch)
                if self.kind == "file":
                    block, advised = self._read_file(token, start, stop, advised)
                    self._ready.put((start, (block, token)))
                elif self.kind == "read_into":
                    out = token[:stop - start]
                    self.images._read_into(start, stop, out)
                    self._ready.put((start, (_prepare(out), token)))
                else:
                    self._ready.put((start, (_load(self.images, start, stop), None)))
        except BaseException as err:  # handed to the consumer, raised there
            self._ready.put((-1, err))
        finally:
            for fd in handles:
                os.close(fd)

    def _read_file(self, raw: mmap.mmap, start: int, stop: int,
                   advised: int) -> tuple[np.ndarray, int]:
        """Frames ``start:stop`` into ``raw``; returns the block and the read-ahead mark."""
        fd = self._fd
        direct = self._direct
        _, first, address, _ = self._span
        position = first + start * self._frame_bytes
        nbytes = (stop - start) * self._frame_bytes
        at = position % _ALIGN  # where the block starts in raw, for both kinds of read
        view = memoryview(raw)
        if direct is not None:
            cached = _resident(address + start * self._frame_bytes, nbytes)
            if cached is not None and cached < _CACHED:
                lo = position - at
                hi = -(-(position + nbytes) // _ALIGN) * _ALIGN
                try:
                    self._fill(direct, view, 0, lo, hi - lo, at + nbytes, start, stop)
                    return self._block(raw, at, stop - start), advised
                except OSError:
                    # O_DIRECT refused at read time: buffered reads from now on
                    self._direct = None
        elif _HAS_FADVISE:
            upto = min(first + self.images.nbytes, position + nbytes + READAHEAD_BYTES)
            if upto > advised:
                lo = max(advised, position)
                try:
                    os.posix_fadvise(fd, lo, upto - lo, os.POSIX_FADV_WILLNEED)
                except OSError:
                    pass
                advised = upto
        self._fill(fd, view, at, position, nbytes, nbytes, start, stop)
        return self._block(raw, at, stop - start), advised

    def _fill(self, fd: int, view: memoryview, into: int, position: int, length: int,
              needed: int, start: int, stop: int) -> None:
        """Read ``length`` bytes at ``position`` into ``view[into:]``; at least ``needed`` must
        come back (the file may end inside the aligned tail of an O_DIRECT read)."""
        done = 0
        while done < needed:
            got = os.preadv(fd, [view[into + done:into + length]], position + done)
            if got <= 0:
                raise DataFormatError(
                    f"{self._span[0]}: file ended at byte {position + done} while reading "
                    f"frames {start}:{stop} (was it truncated?)")
            done += got

    def _block(self, raw: mmap.mmap, at: int, frames: int) -> np.ndarray:
        dtype = np.dtype(self.images.dtype)
        count = frames * (self._frame_bytes // dtype.itemsize)
        block = np.frombuffer(raw, dtype=dtype, count=count, offset=at)
        if at % dtype.itemsize:
            block = block.copy()  # a header of odd length: numba wants aligned items
        return _prepare(block.reshape(frames, *self.images.shape[1:]))

    # ------------------------------------------------------------------ consumer side
    def compute_threads(self, available: int) -> int:
        """Threads (of ``available``) the caller should compute the current block on: half
        (at least one) while a ``_read_into`` reader is busy reading (it takes the other half
        of the cores: on 2 cores, a 9 000-frame 512 × 512 PrairieView session extracts in
        ~1.5 s instead of ~1.9 s), all of them once it is waiting for a buffer or done."""
        if not self._reading or self._thread is None:
            return available
        ready = self._ready.qsize()
        if ready >= self._buffers - 1 or self._next + ready >= len(self.starts):
            return available  # every other buffer filled (it waits), or every block read
        return max(1, available // 2)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        return self

    def __next__(self) -> tuple[int, np.ndarray]:
        if self._next >= len(self.starts):
            self._give_back()
            raise StopIteration
        if self.kind == "views":
            start = self.starts[self._next]
            self._next += 1
            return start, _prepare(self.images[start:start + self.batch])
        self._give_back()
        start, item = self._ready.get()
        if start < 0:
            self.close()
            raise item
        block, buffer = item
        self._held = (buffer,)
        self._next += 1
        return start, block

    def _give_back(self) -> None:
        if self._held is not None:
            self._free.put(self._held[0])
            self._held = None

    def close(self) -> None:
        """Stop the reader thread (idempotent)."""
        if self._thread is None:
            return
        self._stop.set()
        for _ in range(AHEAD + 2):
            self._free.put(None)  # wakes a reader waiting for a buffer
        self._thread.join()
        self._thread = None

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def open_blocks(images: Any, batch_frames: int) -> BlockReader:
    """Start reading ``images`` in blocks of ``batch_frames``; see :class:`BlockReader`."""
    return BlockReader(images, batch_frames)
