"""Zarr stores chunked by frames (optional extra ``dask``: dask, zarr)."""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from CalSciPy._atomic import as_path, atomic_path
from CalSciPy._checks import is_integer
from CalSciPy._io.common import (
    BLOCK_BYTES,
    check_dtype,
    check_images,
    existing_path,
    frames_per_block,
    iter_blocks,
    nbytes_of,
    progress_bar,
)
from CalSciPy._optional import optional_import
from CalSciPy.errors import DataFormatError, InvalidArgumentError

__all__ = ["save_zarr", "load_zarr", "default_frame_chunks"]

#: target bytes of one chunk when ``chunks`` is not given
CHUNK_BYTES = 16 * 2**20
#: largest chunk accepted (compressors such as blosc handle at most 2 GiB in one piece)
MAX_CHUNK_BYTES = 2**31 - 2**16
#: most dask blocks :func:`load_zarr` makes: the graph costs memory per block, and a store's
#: shape and chunks are untrusted (metadata of a few bytes can claim 10**9 one-frame chunks)
MAX_DASK_BLOCKS = 2**17


def default_frame_chunks(shape: tuple[int, ...], dtype: Any) -> tuple[int, int, int]:
    """Whole-frame chunks of about 16 MiB: ``(n, y, x)``."""
    n = min(int(shape[0]), frames_per_block(tuple(shape[1:]), dtype, CHUNK_BYTES))
    return n, int(shape[1]), int(shape[2])


def _chunks(chunks: Any, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, int, int]:
    """Validate ``chunks`` and bound it by the data, before anything is allocated.

    A chunk larger than the stack along an axis is clipped to the stack (the store holds the
    same pixels, and zarr would otherwise allocate the whole oversized chunk per write:
    ``chunks=10**9`` asked for 1.86 TiB). A chunk that still exceeds :data:`MAX_CHUNK_BYTES`
    (what the compressors handle in one piece) is refused.
    """
    if chunks is None:
        return default_frame_chunks(shape, dtype)
    if is_integer(chunks):
        chunks = (int(chunks), shape[1], shape[2])
    try:
        if isinstance(chunks, (str, bytes)) or not all(is_integer(c) for c in chunks):
            raise TypeError
        chunks = tuple(int(c) for c in chunks)
    except TypeError as err:
        raise TypeError(f"chunks must be None, an int or 3 ints, got {chunks!r}") from err
    if len(chunks) != 3 or min(chunks) < 1:
        raise InvalidArgumentError(
            f"chunks must be frames per chunk or (frames, y, x), each >= 1, got {chunks}")
    bounded = tuple(min(c, int(n)) for c, n in zip(chunks, shape))
    nbytes = int(np.prod(bounded, dtype=object)) * np.dtype(dtype).itemsize
    if nbytes > MAX_CHUNK_BYTES:
        raise InvalidArgumentError(
            f"chunks {chunks} make chunks of {nbytes / 2**30:.1f} GiB for this "
            f"{np.dtype(dtype).name} stack; at most {MAX_CHUNK_BYTES / 2**30:.0f} GiB per chunk"
        )
    return bounded  # type: ignore[return-value]


class _CheckedChunks:
    """Array-like over a Zarr array whose reads name the store when a chunk is corrupt.

    Decompression errors surface as bare ``RuntimeError``/``ValueError`` from the codec
    (e.g. "Zstd decompression error"), deep inside dask's threads; this turns them into a
    :class:`~CalSciPy.errors.DataFormatError` naming the store and the frames being read.
    """

    def __init__(self, array: Any, path: Any):
        self.array, self.path = array, path
        self.shape, self.dtype, self.ndim = tuple(array.shape), np.dtype(array.dtype), array.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self.array[key])
        except (RuntimeError, ValueError, OSError, KeyError) as err:
            raise DataFormatError(
                f"{self.path}: cannot read the Zarr chunks holding {_describe(key)} "
                f"({type(err).__name__}: {err}); the store is corrupt or truncated"
            ) from err


def _describe(key: Any) -> str:
    first = key[0] if isinstance(key, tuple) and key else key
    if isinstance(first, slice):
        return f"frames {first.start or 0}:{'' if first.stop is None else first.stop}"
    if first is Ellipsis:
        return "all frames"
    return f"index {key!r}"


def save_zarr(
    path: str | os.PathLike,
    images: Any,
    chunks: int | tuple[int, int, int] | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> int:
    """Save a ``(frames, y, x)`` stack as a Zarr array chunked by frames (needs ``[dask]``).

    Parameters
    ----------
    path
        Store folder to create, conventionally ``name.zarr`` (parent folders are created).
    images
        ``(frames, y, x)`` (2-D is one frame) numpy, ``np.memmap`` or dask array; written one
        block of whole chunks at a time, so memory stays bounded.
    chunks
        Frames per chunk (int), or a full ``(frames, y, x)`` chunk shape; default: whole frames,
        about 16 MiB per chunk, so dask reads frame blocks in parallel. Sizes beyond the stack
        are clipped to it; a chunk over 2 GiB raises ``InvalidArgumentError``.
    overwrite
        Replace an existing store (only after the new one is complete); False raises
        ``FileExistsError``.
    progress
        Show a tqdm bar for writes over a few hundred MB.

    Returns
    -------
    int
        0 on success.

    Notes
    -----
    Written with the installed zarr's default format (v3 for zarr 3, v2 for zarr 2) and codecs
    (lossless compression), into a temporary folder beside ``path``; every file is fsynced and
    the folder renamed into place, so ``path`` never holds a partial store.
    """
    zarr = optional_import("zarr", "save_zarr")
    images = check_images(images)
    dtype = check_dtype(images.dtype)
    chunks = _chunks(chunks, tuple(images.shape), dtype)
    if hasattr(images, "rechunk"):  # dask: compute whole Zarr chunks, never half of one
        images = images.rechunk((chunks[0], -1, -1))
    target = as_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # blocks of whole chunks so no chunk is written twice
    per_block = max(1, frames_per_block(tuple(images.shape[1:]), dtype, BLOCK_BYTES)
                    // chunks[0]) * chunks[0]
    with (
        atomic_path(target, overwrite=overwrite, directory=True) as staged,
        progress_bar(nbytes_of(images), f"saving {target.name}", progress) as bar,
    ):
        store = zarr.open_array(
            str(staged), mode="w", shape=tuple(images.shape), chunks=chunks, dtype=dtype
        )
        for start, block in iter_blocks(images, per_block * _frame_bytes(images), dtype):
            store[start:start + block.shape[0]] = block
            bar.update(block.nbytes)
    return 0


def _frame_bytes(images: Any) -> int:
    return int(np.prod(images.shape[1:])) * np.dtype(images.dtype).itemsize


def load_zarr(path: str | os.PathLike, lazy: bool = True) -> Any:
    """Open a Zarr array saved by :func:`save_zarr` (needs ``[dask]``).

    Parameters
    ----------
    path
        The store folder.
    lazy
        True: a dask array with the stored chunks (whole frames for :func:`save_zarr` output;
        several chunks per block when they would make more than :data:`MAX_DASK_BLOCKS`
        blocks), nothing read yet. False: a numpy array read into memory.

    Returns
    -------
    dask.array.Array or numpy.ndarray
        ``(frames, y, x)``; a 2-D store is returned as one frame.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    calscipy.errors.DataFormatError (a ValueError)
        ``path`` is not a Zarr array, or not 2-D/3-D; a corrupt chunk (when it is read, also
        through the dask array) names the store.
    """
    zarr = optional_import("zarr", "load_zarr")
    path = existing_path(path)
    try:
        store = zarr.open_array(str(path), mode="r")
    except Exception as err:  # zarr raises several unrelated types for "not an array"
        raise DataFormatError(f"{path} is not a readable Zarr array: {err}") from err
    if store.ndim not in (2, 3):
        raise DataFormatError(f"{path} holds a {store.ndim}-D array, expected (frames, y, x)")
    checked = _CheckedChunks(store, path)
    if lazy:
        da = optional_import("dask.array", "load_zarr(lazy=True)")
        images = da.from_array(checked, chunks=_dask_chunks(store), asarray=True,
                               name=f"zarr-{path.name}-{id(store):x}", lock=False)
    else:
        images = checked[...]
    return images[np.newaxis] if store.ndim == 2 else images


def _dask_chunks(store: Any) -> tuple[int, ...]:
    """The store's chunks, or blocks of several whole chunks when they make too many blocks.

    Each dask block still reads whole Zarr chunks (none is read twice); only the number of
    blocks is bounded by :data:`MAX_DASK_BLOCKS`: frames are grouped first, and whole frames
    are taken when the chunks of one frame alone are too many.
    """
    shape, chunks = tuple(int(n) for n in store.shape), tuple(int(c) for c in store.chunks)
    counts = [-(-n // c) for n, c in zip(shape, chunks)]
    if math.prod(counts) <= MAX_DASK_BLOCKS:
        return chunks
    if len(shape) == 2:  # one frame
        return shape
    inner = chunks[1:]
    if counts[1] * counts[2] > MAX_DASK_BLOCKS:
        inner, counts[1:] = shape[1:], [1, 1]
    groups = -(-counts[0] // (MAX_DASK_BLOCKS // (counts[1] * counts[2])))
    return (groups * chunks[0], *inner)
