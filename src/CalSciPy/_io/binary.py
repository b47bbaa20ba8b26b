"""Raw binary stacks: C-order little-endian ``.bin`` plus a ``.json`` sidecar.

The sidecar holds exactly ``{"frames": F, "y": Y, "x": X, "dtype": "<numpy dtype name>"}``.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy._atomic import as_path, atomic_path, atomic_write, reserve_space
from CalSciPy._checks import check_int, is_integer
from CalSciPy._io.common import (
    BLOCK_BYTES,
    check_dtype,
    check_images,
    existing_path,
    iter_blocks,
    nbytes_of,
    progress_bar,
)
from CalSciPy.errors import DataFormatError, InvalidArgumentError

__all__ = ["load_binary", "save_binary", "create_binary", "binary_paths", "read_binary_meta"]

#: file stem used when the path names a folder
DEFAULT_STEM = "binary_video"
META_KEYS = ("frames", "y", "x", "dtype")
#: no stack description may exceed this many bytes (numpy's limit, 2**63)
MAX_BYTES = 2**63


def binary_paths(path: str | os.PathLike, *, create: bool = False) -> tuple[Path, Path]:
    """Return the ``(.bin, .json)`` pair a path names.

    One rule, by the last suffix only: a path ending in ``.bin`` or ``.json`` (any case) names
    the pair ``stem.bin``/``stem.json`` side by side; **any other path** (``session``,
    ``mouse1.day2``, an existing folder) is a folder holding ``binary_video.bin``/
    ``binary_video.json``. So ``mouse1.day2`` never becomes ``mouse1.bin`` (another dataset's
    file). ``create=True`` makes that folder (with parents) when it is missing.

    Raises
    ------
    NotADirectoryError
        ``path`` is an existing file that is neither ``.bin`` nor ``.json``.
    """
    path = as_path(path)
    if path.suffix.lower() in (".bin", ".json") and not path.is_dir():
        return path.with_suffix(".bin"), path.with_suffix(".json")
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"{str(path)!r} is an existing file: a binary stack is a .bin/.json pair or a "
            f"folder holding {DEFAULT_STEM}.bin/.json"
        )
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path / f"{DEFAULT_STEM}.bin", path / f"{DEFAULT_STEM}.json"


def _meta(shape: tuple[int, int, int], dtype: np.dtype) -> dict[str, Any]:
    frames, y, x = (int(n) for n in shape)
    return {"frames": frames, "y": y, "x": x, "dtype": np.dtype(dtype).name}


def read_binary_meta(json_path: Path) -> tuple[tuple[int, int, int], np.dtype]:
    """Read and validate a sidecar; returns ``((frames, y, x), little-endian dtype)``."""
    if not json_path.is_file():
        raise FileNotFoundError(f"binary metadata {str(json_path)!r} does not exist")
    try:
        with open(json_path, encoding="utf-8") as handle:  # read-only: never touch metadata
            meta = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(f"binary metadata {json_path} is not valid JSON: {err}") from err
    if not isinstance(meta, dict):
        raise DataFormatError(f"binary metadata {json_path} must hold a JSON object")
    missing = [key for key in META_KEYS if key not in meta]
    if missing:
        raise DataFormatError(
            f"binary metadata {json_path} lacks key(s) {missing}; "
            f"expected {list(META_KEYS)}, found {sorted(meta)}"
        )
    shape = []
    for key in ("frames", "y", "x"):
        value = meta[key]
        if not is_integer(value) or value < 0:
            raise DataFormatError(
                f"binary metadata {json_path}: {key!r} must be a non-negative integer, "
                f"got {value!r}"
            )
        shape.append(value)
    try:
        dtype = check_dtype(meta["dtype"], f"binary metadata {json_path}")
    except TypeError as err:
        raise DataFormatError(str(err)) from err
    # values read from a file are untrusted: numpy cannot even describe an array past 2**63
    # bytes (frames=2**64 gave a bare OverflowError)
    if math.prod(shape) * dtype.itemsize >= MAX_BYTES or max(shape) >= MAX_BYTES:
        raise DataFormatError(
            f"binary metadata {json_path}: frames={shape[0]}, y={shape[1]}, x={shape[2]} of "
            f"{dtype.name} describe more than 2**63 bytes; the sidecar is corrupt"
        )
    return (shape[0], shape[1], shape[2]), dtype.newbyteorder("<")


def _locate(path: str | os.PathLike) -> tuple[Path, Path]:
    path = existing_path(path)
    if path.is_dir():
        bin_path, json_path = binary_paths(path)
        if not json_path.exists():
            raise FileNotFoundError(
                f"{str(path)!r} is a folder without {json_path.name}; pass the .bin or .json file"
            )
        return bin_path, json_path
    if path.suffix.lower() not in (".bin", ".json"):
        raise InvalidArgumentError(
            f"binary path {str(path)!r} must be a folder, a .bin or a .json file")
    return path.with_suffix(".bin"), path.with_suffix(".json")


def load_binary(
    path: str | os.PathLike, mapped: bool = False, mode: str = "r+"
) -> np.ndarray | np.memmap:
    """Load a binary stack saved by :func:`save_binary` (or any raw C-order stack + sidecar).

    Parameters
    ----------
    path
        The folder holding ``binary_video.bin``/``binary_video.json``, the ``.bin`` file or its
        ``.json`` sidecar.
    mapped
        Return a :class:`numpy.memmap` of the file (nothing is read until indexed).
    mode
        Memory-map access mode (``"r"``, ``"r+"`` or ``"c"``) when ``mapped``; ``"r+"`` writes
        changes through to the file. The metadata file is always opened read-only.

    Returns
    -------
    numpy.ndarray or numpy.memmap
        ``(frames, y, x)`` stack with the dtype named in the metadata.

    Raises
    ------
    FileNotFoundError
        The path, the ``.bin`` or the ``.json`` does not exist.
    calscipy.errors.DataFormatError (a ValueError)
        Metadata lacks a key or has bad values, or the ``.bin`` size differs from
        ``frames * y * x * itemsize`` (the message gives both sizes).
    """
    if mode not in ("r", "r+", "c"):
        raise InvalidArgumentError(f"mode must be 'r', 'r+' or 'c', got {mode!r}")
    bin_path, json_path = _locate(path)
    shape, dtype = read_binary_meta(json_path)
    if not bin_path.is_file():
        raise FileNotFoundError(f"binary data {str(bin_path)!r} does not exist")
    expected = math.prod(shape) * dtype.itemsize
    actual = bin_path.stat().st_size
    if actual != expected:
        raise DataFormatError(
            f"{bin_path} holds {actual} bytes but its metadata {json_path.name} describes "
            f"{shape[0]}x{shape[1]}x{shape[2]} {dtype.name} = {expected} bytes "
            f"(truncated or mismatched file)"
        )
    if expected == 0:  # mmap cannot map an empty file
        return np.empty(shape, dtype)
    if mapped:
        return np.memmap(bin_path, dtype=dtype, mode=mode,  # type: ignore[call-overload]
                         shape=shape)
    images = np.empty(shape, dtype)
    view = memoryview(images.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
    with open(bin_path, "rb", buffering=0) as handle:
        done = 0
        while done < expected:
            n = handle.readinto(view[done:done + 2**30])
            if not n:
                raise DataFormatError(f"{bin_path} ended after {done} of {expected} bytes")
            done += n
    return images


def save_binary(
    path: str | os.PathLike,
    images: np.ndarray,
    *,
    overwrite: bool = True,
    progress: bool = True,
) -> int:
    """Save a stack as raw C-order little-endian ``.bin`` plus a ``.json`` sidecar.

    Parameters
    ----------
    path
        ``stem.bin`` or ``stem.json`` names the pair ``stem.bin``/``stem.json``; any other path
        (``session``, ``mouse1.day2``: other suffixes are part of the name) is a folder,
        created when missing, receiving ``binary_video.bin``/``binary_video.json``.
    images
        ``(frames, y, x)`` stack (a 2-D image is one frame); numpy, ``np.memmap`` or dask.
        Unsigned/signed integers or floats; written block by block, so memory stays bounded.
    overwrite
        Keyword-only. True (the documented behaviour) replaces an existing pair atomically;
        False raises ``FileExistsError`` instead.
    progress
        Keyword-only. Show a tqdm bar for writes over a few hundred MB.

    Returns
    -------
    int
        0 on success.

    Notes
    -----
    Both files are written to temporary files in the destination folder, fsynced and renamed
    into place (the ``.bin`` first), so a crash never leaves a partial file under either name;
    an existing pair stays intact until the new one is complete. On any error the temporary
    files are removed. Replacing a pair takes two renames microseconds apart; a crash exactly
    between them leaves the new ``.bin`` beside the old ``.json``, which :func:`load_binary`
    reports as a size mismatch unless both stacks have the same number of bytes.
    """
    images = check_images(images)
    bin_path, json_path = binary_paths(path, create=True)
    _refuse_existing(bin_path, json_path, overwrite)
    dtype = check_dtype(images.dtype).newbyteorder("<")
    total = nbytes_of(images)
    meta = json.dumps(_meta(images.shape, dtype))
    with atomic_write(json_path, overwrite=overwrite, mode="w") as json_handle:
        json_handle.write(meta)
        with (
            atomic_write(bin_path, overwrite=overwrite) as handle,
            progress_bar(total, f"saving {bin_path.name}", progress) as bar,
        ):
            for _, block in iter_blocks(images, BLOCK_BYTES, dtype):
                flat = block.reshape(-1).view(np.uint8)
                handle.write(memoryview(flat))  # type: ignore[arg-type]
                bar.update(block.nbytes)
    return 0


def _refuse_existing(bin_path: Path, json_path: Path, overwrite: bool) -> None:
    if overwrite:
        return
    for target in (bin_path, json_path):
        if target.exists():
            raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")


@contextlib.contextmanager
def create_binary(
    path: str | os.PathLike,
    shape: tuple[int, ...],
    dtype: Any,
    *,
    overwrite: bool = False,
) -> Iterator[np.memmap]:
    """Create a binary stack to fill frame by frame; it appears atomically on success.

    Yields a writable :class:`numpy.memmap` backed by a temporary file in the destination
    folder. On a clean exit the map is flushed, the file fsynced and renamed into place
    together with its JSON sidecar (same layout as :func:`save_binary`); if the ``with`` body
    raises, the temporary file is removed and any existing target is left as it was.

    Parameters
    ----------
    path
        As for :func:`save_binary` (``stem.bin``/``stem.json``, or a folder receiving
        ``binary_video.*``).
    shape
        ``(frames, y, x)`` (a 2-D ``(y, x)`` shape is one frame); every axis ≥ 1.
    dtype
        Unsigned/signed integer or float dtype, stored little-endian.
    overwrite
        Replace an existing pair (only once the new one is complete); False raises
        ``FileExistsError`` before anything is created.

    Notes
    -----
    The temporary file's blocks are reserved up front (``os.posix_fallocate``), so a disk
    without room fails at once with ``OSError`` (``ENOSPC``) naming the target and the
    temporary file is removed; filesystems that cannot reserve get a sparse file.
    On POSIX the memmap stays usable after the block (it then maps the final file). Windows
    refuses to rename a file that is still mapped, so there the final rename fails with
    ``PermissionError`` (and the temporary file is removed).

    Examples
    --------
    >>> with create_binary(tmp / "out.bin", (100, 64, 64), "uint16") as stack:  # doctest: +SKIP
    ...     for i, frame in enumerate(frames):
    ...         stack[i] = frame
    """
    try:
        dims = tuple(shape)
    except TypeError as err:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from err
    # int() would truncate 10.7 to 10 frames (and take True for 1): whole numbers only
    shape = tuple(check_int(n, f"shape[{i}]") for i, n in enumerate(dims))
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise InvalidArgumentError(
            f"shape must be (frames, y, x) with every axis >= 1, got {shape}")
    dtype = check_dtype(dtype, "create_binary").newbyteorder("<")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes >= MAX_BYTES:
        raise InvalidArgumentError(f"shape {shape} of {dtype.name} exceeds 2**63 bytes")
    bin_path, json_path = binary_paths(path, create=True)
    _refuse_existing(bin_path, json_path, overwrite)
    with atomic_write(json_path, overwrite=overwrite, mode="w") as json_handle:
        json_handle.write(json.dumps(_meta(shape, dtype)))
        with atomic_path(bin_path, overwrite=overwrite) as staged:
            # reserve every block now: writing through a map into a sparse file on a full
            # disk kills the process with SIGBUS; this way it is an OSError naming bin_path
            fd = os.open(staged, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
            try:
                reserve_space(fd, nbytes, bin_path)
            finally:
                os.close(fd)
            stack = np.memmap(staged, dtype=dtype, mode="r+", shape=shape)
            yield stack
            stack.flush()
