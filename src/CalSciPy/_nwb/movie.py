"""Streaming a lazy ``(frames, y, x)`` stack into a chunked, compressed HDF5 dataset.

The NWB file is first written by pynwb with the movie datasets *allocated* empty (hdmf's
``H5DataIO(shape=, dtype=)``), then each dataset is filled here, block by block, from the
project's lazy stack. For gzip (HDF5's deflate filter), chunks are compressed in a thread pool
(zlib releases the GIL) and stored with ``write_direct_chunk``: each chunk is a standard zlib
stream at the requested level, exactly the format the deflate filter stores, so any HDF5
reader decompresses it, but the compression runs on every core instead of one. The DEFLATE
implementation is libdeflate (the ``deflate`` package) when installed, else ``zlib-ng``, else
the standard ``zlib``: same format and level, the streams differ in bytes, not in what they
decompress to. libdeflate needs about half the CPU time of zlib at level 4 on raw two-photon
frames for the same size (measured: 86 vs 46 MB/s per core, 52.4 % vs 52.6 %). Other
compressions (``lzf``, none, or a gzip with extra filters) go through h5py's own filter
pipeline, one block at a time. Memory is bounded by a few blocks whatever the movie size.

NWB stores image series as ``(frames, x, y)`` (column index second), so blocks are transposed
on the way in; :class:`NWBStack` transposes back on the way out.
"""
from __future__ import annotations

import collections
import queue
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from CalSciPy._io.source import FrameSource, iter_frame_blocks

__all__ = ["NWBStack", "chunk_frames_for", "fill_movie", "MovieJob"]

#: target size of one HDF5 chunk (bytes): small enough to read a few frames cheaply, large
#: enough that per-chunk overhead is negligible and compression has context
CHUNK_BYTES = 4 << 20
#: bytes read from the source per block (bounded memory: at most 4 blocks exist at once, the
#: one being compressed, two queued and the one being read), whatever the thread count
BLOCK_BYTES = 32 << 20
#: uncompressed bytes of the chunks in flight (two per compression thread, capped here so
#: that memory does not grow with the core count: 32 threads would hold 64 chunks)
WINDOW_BYTES = 64 << 20


def _deflate() -> Callable[[Any, int], bytes | bytearray]:
    """``compress(data, level)`` → zlib stream: libdeflate, zlib-ng or zlib (first installed).

    All three release the GIL while compressing, so the thread pool runs them in parallel.
    """
    try:
        import deflate
    except ImportError:
        pass
    else:
        return deflate.zlib_compress
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return zlib.compress
    return zlib_ng.compress


def chunk_frames_for(frame_shape: tuple[int, ...], itemsize: int, n_frames: int) -> int:
    """Frames per chunk so one chunk holds about :data:`CHUNK_BYTES` (at least 1)."""
    frame_bytes = max(1, int(np.prod(frame_shape)) * int(itemsize))
    return int(max(1, min(n_frames, CHUNK_BYTES // frame_bytes)))


class MovieJob:
    """One movie to stream: the HDF5 dataset path, its lazy source and its chunk frames."""

    def __init__(self, dataset_path: str, source: Any, chunk_frames: int):
        self.dataset_path = dataset_path
        self.source = source
        self.chunk_frames = int(chunk_frames)


def _blocks(source: Any, block_frames: int, stop: threading.Event,
            out: queue.Queue) -> None:
    """Producer thread: read blocks ahead (at most ``out.maxsize`` waiting)."""
    try:
        for start, block in iter_frame_blocks(source, block_frames):
            if stop.is_set():
                return
            out.put((start, block))
        out.put(None)
    except BaseException as err:  # handed to the consumer, which re-raises it
        out.put(err)


def fill_movie(dataset: Any, source: Any, *, chunk_frames: int, compression: str | None,
               compression_opts: Any, direct_gzip: bool, workers: int,
               on_frames: Callable[[int], None] | None = None) -> None:
    """Copy ``source`` ``(frames, y, x)`` into ``dataset`` ``(frames, x, y)``.

    Parameters
    ----------
    dataset
        Open, allocated ``h5py.Dataset`` of shape ``(frames, x, y)``, chunks
        ``(chunk_frames, x, y)``.
    source
        Frames-first lazy stack (anything :func:`iter_frame_blocks` reads).
    chunk_frames
        Frames per HDF5 chunk (the dataset's).
    compression, compression_opts
        The dataset's filter (``"gzip"`` + level uses the parallel path when ``direct_gzip``).
    direct_gzip
        Compress chunks with zlib in ``workers`` threads and store them directly.
    workers
        Compression threads.
    on_frames
        Called with the number of frames stored after each block (progress bar).
    """
    _, y, x = (int(v) for v in source.shape)
    frame_bytes = max(1, y * x * np.dtype(source.dtype).itemsize)
    # blocks are a whole number of chunks so every chunk is written exactly once
    chunks = max(1, BLOCK_BYTES // (frame_bytes * chunk_frames))
    per_block = chunks * chunk_frames
    level = 4 if compression_opts is None else int(compression_opts)
    pending: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    reader = threading.Thread(target=_blocks, args=(source, per_block, stop, pending),
                              daemon=True, name="calscipy-nwb-reader")
    reader.start()
    pool = ThreadPoolExecutor(max(1, workers)) if direct_gzip else None
    deflate = _deflate()
    # compressed chunks in flight, oldest first: the workers never wait for a block boundary,
    # and at most this many chunks (plus the queued blocks) are held
    in_flight: collections.deque = collections.deque()
    window = max(1, min(2 * max(1, workers), WINDOW_BYTES // (frame_bytes * chunk_frames)))

    def store(done: int) -> None:
        while len(in_flight) > done:
            frame, frames, future = in_flight.popleft()
            dataset.id.write_direct_chunk((frame, 0, 0), future.result())
            if on_frames is not None:
                on_frames(frames)

    try:
        while True:
            item = pending.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            start, block = item
            block = np.asarray(block)
            if block.shape[1:] != (y, x):
                raise ValueError(f"source block of shape {block.shape} does not match the "
                                 f"movie frame shape {(y, x)}")
            if block.dtype != dataset.dtype:
                raise ValueError(f"source block of dtype {block.dtype} does not match the "
                                 f"dataset's {dataset.dtype}")
            if pool is None:
                dataset[start:start + len(block)] = block.transpose(0, 2, 1)
                if on_frames is not None:
                    on_frames(len(block))
                continue

            def compress(offset: int, block: np.ndarray = block) -> bytes | bytearray:
                # the (frames, x, y) copy is made here, in the worker, in parallel too
                part = block[offset:offset + chunk_frames]
                piece = np.empty((chunk_frames, x, y), dtype=block.dtype)
                piece[:len(part)] = part.transpose(0, 2, 1)
                piece[len(part):] = 0  # the last chunk is stored full size
                return deflate(piece.data, level)

            for offset in range(0, len(block), chunk_frames):
                frames = min(chunk_frames, len(block) - offset)
                in_flight.append((start + offset, frames, pool.submit(compress, offset)))
                store(window)
        store(0)
    finally:
        stop.set()
        while reader.is_alive():  # unblock a producer waiting on a full queue
            try:
                pending.get_nowait()
            except queue.Empty:
                reader.join(0.05)
        if pool is not None:
            pool.shutdown(cancel_futures=True)


class NWBStack(FrameSource):
    """Lazy ``(frames, y, x)`` view of an NWB ``(frames, x, y)`` image series dataset.

    Parameters
    ----------
    dataset
        The open ``h5py.Dataset`` (3-D, frames first, NWB's ``(frames, x, y)`` order).
    name
        Series name, shown in ``repr``.
    """

    def __init__(self, dataset: Any, name: str = ""):
        if len(dataset.shape) != 3:
            raise ValueError(f"{name}: expected a (frames, x, y) image series, got shape "
                             f"{dataset.shape}")
        self._dataset = dataset
        self.name = name
        frames, width, height = (int(v) for v in dataset.shape)
        self.shape = (frames, height, width)
        self.dtype = np.dtype(dataset.dtype)

    def _read(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        return np.ascontiguousarray(self._dataset[start:stop].transpose(0, 2, 1))

    def __repr__(self) -> str:
        return f"<NWBStack {self.name!r} shape={self.shape} dtype={self.dtype}>"
