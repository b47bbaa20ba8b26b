"""Zarr stores chunked by frames (optional extra ``dask``: dask, zarr)."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from CalSciPy._atomic import as_path, atomic_path
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
from CalSciPy._checks import is_integer
from CalSciPy.errors import DataFormatError

__all__ = ["save_zarr", "load_zarr", "default_frame_chunks"]

#: target bytes of one chunk when ``chunks`` is not given
CHUNK_BYTES = 16 * 2**20


def default_frame_chunks(shape: tuple[int, ...], dtype: Any) -> tuple[int, int, int]:
    """Whole-frame chunks of about 16 MiB: ``(n, y, x)``."""
    n = min(int(shape[0]), frames_per_block(tuple(shape[1:]), dtype, CHUNK_BYTES))
    return n, int(shape[1]), int(shape[2])


def _chunks(chunks: Any, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, int, int]:
    if chunks is None:
        return default_frame_chunks(shape, dtype)
    if is_integer(chunks):
        chunks = (int(chunks), shape[1], shape[2])
    try:
        chunks = tuple(int(c) for c in chunks)
    except TypeError as err:
        raise TypeError(f"chunks must be None, an int or 3 ints, got {chunks!r}") from err
    if len(chunks) != 3 or min(chunks) < 1:
        raise ValueError(f"chunks must be frames per chunk or (frames, y, x) >= 1, got {chunks}")
    return chunks


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
        about 16 MiB per chunk, so dask reads frame blocks in parallel.
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
        True: a dask array with the stored chunks (whole frames for :func:`save_zarr` output),
        nothing read yet. False: a numpy array read into memory.

    Returns
    -------
    dask.array.Array or numpy.ndarray
        ``(frames, y, x)``; a 2-D store is returned as one frame.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    calscipy.errors.DataFormatError (a ValueError)
        ``path`` is not a Zarr array, or not 2-D/3-D.
    """
    zarr = optional_import("zarr", "load_zarr")
    path = existing_path(path)
    try:
        store = zarr.open_array(str(path), mode="r")
    except Exception as err:  # zarr raises several unrelated types for "not an array"
        raise DataFormatError(f"{path} is not a readable Zarr array: {err}") from err
    if store.ndim not in (2, 3):
        raise DataFormatError(f"{path} holds a {store.ndim}-D array, expected (frames, y, x)")
    if lazy:
        da = optional_import("dask.array", "load_zarr(lazy=True)")
        images = da.from_zarr(store)
    else:
        images = store[...]
    return images[np.newaxis] if store.ndim == 2 else images
