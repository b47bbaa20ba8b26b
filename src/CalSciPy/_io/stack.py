"""Format-agnostic entry points: open, save and convert stacks by path suffix."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from CalSciPy._atomic import as_path
from CalSciPy._io.binary import DEFAULT_STEM as BINARY_STEM
from CalSciPy._io.binary import binary_paths, load_binary, save_binary
from CalSciPy._io.common import check_images, existing_path
from CalSciPy._io.tiff import (
    TIFF_SUFFIXES,
    TiffStack,
    load_images,
    memmap_tif,
    save_tiff_set,
)
from CalSciPy._io.zarr import load_zarr, save_zarr
from CalSciPy.errors import InvalidArgumentError

__all__ = ["open_stack", "save_stack", "convert_images", "stack_format"]

_BINARY_SUFFIXES = (".bin", ".json")


def stack_format(path: Path, *, exists: bool) -> str:
    """``"tiff"``, ``"binary"`` or ``"zarr"`` for a path, by suffix (and content if a folder).

    A folder is a Zarr store when named ``*.zarr`` or holding ``zarr.json``/``.zarray``, a
    binary folder when holding ``binary_video.json``, else a folder of TIFFs. For a path that
    does not exist yet (``exists=False``) a suffix-less name means a binary folder.
    """
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return "tiff"
    if suffix in _BINARY_SUFFIXES:
        return "binary"
    if suffix == ".zarr":
        return "zarr"
    if exists and path.is_dir():
        if (path / "zarr.json").exists() or (path / ".zarray").exists():
            return "zarr"
        if (path / f"{BINARY_STEM}.json").exists():
            return "binary"
        return "tiff"
    if not suffix:
        return "binary"
    raise InvalidArgumentError(
        f"cannot tell the image format of {str(path)!r}: use .tif/.tiff, .bin/.json, .zarr "
        f"or a folder"
    )


def open_stack(path: str | os.PathLike, *, lazy: bool = True, progress: bool = True) -> Any:
    """Open a ``(frames, y, x)`` stack in any supported format, chosen by suffix.

    Parameters
    ----------
    path
        ``.tif``/``.tiff`` file or folder of TIFFs; ``.bin``/``.json`` or a folder holding
        ``binary_video.*``; a Zarr store (``*.zarr`` or a folder with Zarr metadata).
    lazy
        Avoid reading into memory where the format allows: binary → read-only ``np.memmap``;
        an uncompressed contiguous TIFF → read-only memmap (other TIFFs and TIFF folders are
        read into memory); Zarr → dask array. False always returns a numpy array in memory.
    progress
        Show a tqdm bar when a large TIFF folder is read.

    Returns
    -------
    numpy.ndarray, numpy.memmap or dask.array.Array
        ``(frames, y, x)``.
    """
    path = existing_path(path)
    kind = stack_format(path, exists=True)
    if kind == "zarr":
        return load_zarr(path, lazy=lazy)
    if kind == "binary":
        return load_binary(path, mapped=lazy, mode="r")
    if lazy and path.is_file():
        mapped = memmap_tif(path)
        if mapped is not None:
            return mapped
    return load_images(path, progress=progress)


def save_stack(
    path: str | os.PathLike,
    images: Any,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Save a ``(frames, y, x)`` stack in the format its path names.

    Parameters
    ----------
    path
        ``.tif``/``.tiff``: one TIFF file (ImageJ metadata for uint8/uint16/float32, BigTIFF
        above 4 GB, never split); ``.bin``/``.json``: binary + sidecar; ``.zarr``: Zarr store;
        no suffix: a binary folder (``binary_video.*``). Parent folders are created.
    images
        numpy, ``np.memmap`` or dask array (2-D is one frame); non-numpy input is written
        block by block, so memory stays bounded.
    overwrite
        Replace existing output (atomically, only once the new data are complete); False
        raises ``FileExistsError``. For ``.tif`` the parts of an earlier split
        :func:`save_images` of the same stack are replaced too (never files this package did
        not write).
    progress
        Show a tqdm bar for writes over a few hundred MB.

    Returns
    -------
    pathlib.Path
        The file (or store) holding the pixels.
    """
    target = as_path(path)
    images = check_images(images)
    kind = stack_format(target, exists=target.exists())
    if kind == "zarr":
        save_zarr(target, images, overwrite=overwrite, progress=progress)
        return target
    if kind == "binary":
        save_binary(target, images, overwrite=overwrite, progress=progress)
        return binary_paths(target)[0]
    if target.is_dir():
        raise IsADirectoryError(
            f"{str(target)!r} is an existing folder; name a .tif, .bin or .zarr output"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # one file, never split; parts of an earlier save_images of this stack go with overwrite
    # (otherwise the folder would hold a mixed set), a user's own files are never touched
    save_tiff_set(target, images, int(images.shape[0]), overwrite=overwrite, progress=progress,
                  split_names=False, remove_stale=True)
    return target


def convert_images(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert a stack between TIFF, binary and Zarr, streaming blocks of frames.

    Parameters
    ----------
    src
        Any input :func:`open_stack` accepts (TIFF file or folder, binary, Zarr).
    dst
        Output named as for :func:`save_stack` (``.tif``, ``.bin``, ``.zarr``, folder).
    overwrite
        Replace an existing ``dst``; False raises ``FileExistsError``.
    progress
        Show a tqdm bar for conversions over a few hundred MB.

    Returns
    -------
    pathlib.Path
        Where the pixels were written.

    Notes
    -----
    The source is read lazily (TIFF pages on demand, binary memory-mapped, Zarr through dask)
    and written about 64 MiB at a time, so stacks larger than memory convert. Pixel values and
    dtype are kept exactly.
    """
    src_path = existing_path(src, "src")
    dst_path = as_path(dst, "dst")
    if dst_path.exists() and dst_path.resolve() == src_path.resolve():
        raise InvalidArgumentError(f"src and dst are the same path: {str(src_path)!r}")
    kind = stack_format(src_path, exists=True)
    if kind == "tiff":
        images = TiffStack.open(src_path)
    else:
        images = open_stack(src_path, lazy=True)
    return save_stack(dst_path, images, overwrite=overwrite, progress=progress)
