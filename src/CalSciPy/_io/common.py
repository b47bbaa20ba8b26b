"""Validation, block iteration and progress bars shared by the image readers and writers."""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from CalSciPy._atomic import as_path
from CalSciPy._io.source import FrameSource
from CalSciPy.errors import InvalidArgumentError

#: below this many bytes a read or write shows no progress bar (it is over in well under a second)
PROGRESS_MIN_BYTES = 256 * 2**20

#: bytes per block when streaming a stack (memmap, dask, lazy TIFF) through a writer
BLOCK_BYTES = 64 * 2**20

#: numpy dtype kinds every format stores bit-exactly: unsigned, signed integers and floats
SUPPORTED_KINDS = "uif"


def existing_path(path: str | os.PathLike, name: str = "path") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, raising ``FileNotFoundError`` if missing."""
    path = as_path(path, name)
    if not path.exists():
        raise FileNotFoundError(f"{name} {str(path)!r} does not exist")
    return path


def check_dtype(dtype: Any, what: str = "images") -> np.dtype:
    """Return ``dtype`` as a native-order numpy dtype or raise ``TypeError``.

    Only real numbers are stored (unsigned/signed integers, floats); booleans, complex numbers,
    strings and objects have no agreed meaning as image intensities in TIFF/binary/Zarr.
    """
    try:
        dtype = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{what}: {dtype!r} is not a numpy dtype") from err
    if dtype.kind not in SUPPORTED_KINDS or dtype.fields is not None:
        raise TypeError(
            f"{what} must hold real numbers (unsigned/signed integers or floats), "
            f"got dtype {dtype}"
        )
    return dtype.newbyteorder("=")


def is_lazy_array(images: Any) -> bool:
    """True for array-likes that are not in memory (dask arrays, lazy TIFF readers)."""
    return not isinstance(images, np.ndarray) and hasattr(images, "shape") and hasattr(
        images, "dtype"
    )


def check_images(images: Any, name: str = "images") -> Any:
    """Validate an image stack and return it as ``(frames, y, x)``.

    ``numpy`` arrays (incl. ``np.memmap``) and lazy arrays with ``shape``/``dtype``/slicing
    (dask) are accepted without reading them; other array-likes go through ``np.asarray``.
    A 2-D image is one frame. Raises ``TypeError`` for unsupported dtypes and ``ValueError``
    for anything not 2-D or 3-D or with an empty axis.
    """
    if not isinstance(images, np.ndarray) and not is_lazy_array(images):
        try:
            images = np.asarray(images)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be array-like: {err}") from err
    check_dtype(images.dtype, name)
    if images.ndim == 2:
        images = images[np.newaxis]
    if images.ndim != 3:
        raise InvalidArgumentError(
            f"{name} must be 2-D (y, x) or 3-D (frames, y, x), got shape {tuple(images.shape)}"
        )
    if 0 in images.shape:
        raise InvalidArgumentError(f"{name} has an empty axis: shape {tuple(images.shape)}")
    return images


def frames_per_block(frame_shape: tuple[int, ...], dtype: np.dtype, block_bytes: int) -> int:
    """Number of whole frames that fit in ``block_bytes`` (at least one)."""
    frame_bytes = int(np.prod(frame_shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return max(1, block_bytes // max(frame_bytes, 1))


def block_bounds(images: Any, block_bytes: int = BLOCK_BYTES) -> list[tuple[int, int]]:
    """``(start, stop)`` frame ranges of about ``block_bytes``, aligned to dask chunks if any."""
    n = int(images.shape[0])
    chunks = getattr(images, "chunks", None)
    if isinstance(chunks, tuple) and chunks and isinstance(chunks[0], tuple):
        # dask: group whole chunks so no chunk is computed twice
        bounds, start, stop = [], 0, 0
        frame_bytes = int(np.prod(images.shape[1:])) * images.dtype.itemsize
        for size in chunks[0]:
            if stop > start and (stop - start + size) * frame_bytes > block_bytes:
                bounds.append((start, stop))
                start = stop
            stop += size
        if stop > start:
            bounds.append((start, stop))
        return bounds
    step = frames_per_block(tuple(images.shape[1:]), images.dtype, block_bytes)
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def iter_blocks(
    images: Any, block_bytes: int = BLOCK_BYTES, dtype: np.dtype | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, block)`` C-contiguous in-memory frame blocks of ``images``.

    Memory stays bounded by one block whatever ``images`` is (numpy, memmap, dask, lazy TIFF).
    ``dtype`` converts each block (e.g. to little-endian) on the fly.
    """
    for start, stop in block_bounds(images, block_bytes):
        block = images[start:stop]
        if hasattr(block, "compute"):
            block = block.compute()
        yield start, np.ascontiguousarray(np.asarray(block), dtype=dtype)


class FrameWindow(FrameSource):
    """Lazy view of frames ``start:stop`` of a lazy stack (nothing is read until indexed).

    Slicing a custom lazy stack usually reads it; splitting one into files must not read a
    whole file's worth of frames at once, so the split keeps this view and streams it. The
    source is only ever asked for contiguous frame slices (``source[a:b]``), so any
    frames-first array-like that slices along frames will do.
    """

    def __init__(self, source: Any, start: int, stop: int):
        n = int(source.shape[0])
        if not 0 <= start <= stop <= n:
            raise InvalidArgumentError(
                f"frame window {start}:{stop} is outside a stack of {n} frames")
        self.source, self.start = source, int(start)
        self.shape = (int(stop) - int(start), *(int(k) for k in source.shape[1:]))
        self.dtype = np.dtype(source.dtype)

    def _read(self, start: int, stop: int) -> np.ndarray:
        block = self.source[self.start + start:self.start + stop]
        if hasattr(block, "compute"):
            block = block.compute()
        return np.asarray(block, dtype=self.dtype)


def frame_range(images: Any, start: int, stop: int) -> Any:
    """Frames ``start:stop`` without reading: a view for numpy/dask, a FrameWindow otherwise."""
    if isinstance(images, np.ndarray) or hasattr(images, "compute"):
        return images[start:stop]
    return FrameWindow(images, start, min(stop, int(images.shape[0])))


def nbytes_of(images: Any) -> int:
    """Size of ``images`` in bytes, from its shape and dtype (nothing is read)."""
    return int(np.prod(images.shape, dtype=np.int64)) * np.dtype(images.dtype).itemsize


def progress_bar(total_bytes: int, desc: str, enabled: bool) -> tqdm:
    """A byte-counting tqdm bar, shown only when ``enabled`` and the job is large."""
    return tqdm(
        total=total_bytes,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not enabled or total_bytes < PROGRESS_MIN_BYTES,
        leave=False,
    )


_DIGITS = re.compile(r"(\d+)")


def natural_key(path: Path) -> tuple:
    """Sort key putting ``images_2`` before ``images_10`` (digit runs compare as numbers)."""
    parts = _DIGITS.split(path.name)
    key = tuple((0, int(p), "") if p.isdecimal() else (1, 0, p.casefold()) for p in parts)
    return key, path.name


def remove_quietly(*paths: Path) -> None:
    """Delete files, ignoring ones that are already gone."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
