"""Multi-page TIFF stacks (tifffile): single files, folders of files, split saving."""
from __future__ import annotations

import errno
import json
import math
import os
import re
import struct
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from CalSciPy._atomic import as_path, atomic_path, atomic_paths, remove_stale_partials
from CalSciPy._checks import check_real, is_integer
from CalSciPy._io.common import (
    BLOCK_BYTES,
    check_dtype,
    check_images,
    existing_path,
    frame_range,
    iter_blocks,
    natural_key,
    nbytes_of,
    progress_bar,
    remove_quietly,
)
from CalSciPy._io.source import FrameSource
from CalSciPy._io.tiffnoise import quiet_tifffile
from CalSciPy.errors import DataFormatError, InvalidArgumentError

__all__ = [
    "load_images",
    "save_images",
    "TiffStack",
    "tiff_files",
    "memmap_tif",
    "save_tiff_set",
    "check_part_sets",
    "_load_single_tif",
    "_load_many_tif",
    "_save_single_tif",
    "_save_many_tif",
]

TIFF_SUFFIXES = (".tif", ".tiff")
#: dtypes that ImageJ/Fiji hyperstacks hold natively; others are written as plain TIFF
IMAGEJ_DTYPES = frozenset({np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)})
#: tifffile's own threshold for switching to BigTIFF (4 GiB minus room for the page tables)
BIGTIFF_BYTES = 2**32 - 2**25
#: name of the file ``save_images`` writes into a folder
DEFAULT_STEM = "images"
#: threads reading a folder; I/O and decoding release the GIL
MAX_READ_THREADS = 8
#: private TIFF tag (ASCII JSON, first page) recording which saved stack a file belongs to
PART_TAG = 65400
#: numpy's errno-less message for a short write (what a full disk gives ``ndarray.tofile``)
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
#: the record's ``kind``; other uses of the tag number are not ours and are ignored
PART_KIND = "calscipy.tiff-part/1"



#: errors tifffile raises on corrupt or truncated files
_TIFF_ERRORS = (tifffile.TiffFileError, ValueError, struct.error, IndexError, KeyError, EOFError)


def _corrupt(path: Path, err: BaseException) -> DataFormatError:
    return DataFormatError(f"cannot read TIFF {path}: {err}")


def _stack_shape(series: Any, path: Path) -> tuple[int, int, int]:
    """(frames, y, x) of a series; everything before the last two axes counts as frames."""
    shape, axes = tuple(series.shape), series.axes
    if "S" in axes and series.shape[axes.index("S")] > 1:
        raise DataFormatError(
            f"{path} holds multi-sample (e.g. RGB) images with axes {axes!r}; "
            f"only single-channel grayscale stacks are supported"
        )
    shape = tuple(n for n, ax in zip(shape, axes) if ax != "S")
    if len(shape) < 2:
        raise DataFormatError(f"{path} holds {len(shape)}-D data, not images")
    return math.prod(shape[:-2]), shape[-2], shape[-1]


def _main_series(tif: tifffile.TiffFile, path: Path) -> Any:
    series = tif.series
    if not series:
        raise DataFormatError(f"{path} holds no images")
    if len(series) > 1:
        shapes = sorted({tuple(s.shape[-2:]) for s in series})
        if len(shapes) > 1 or len({s.dtype for s in series}) > 1:
            raise DataFormatError(
                f"{path} holds pages of different shapes or dtypes ({shapes}); "
                f"cannot return one (frames, y, x) stack"
            )
    return series


def _check_complete(tif: tifffile.TiffFile, series: Sequence[Any], path: Path) -> None:
    """Raise when the file is shorter than its pages claim (a truncated copy or write)."""
    size = tif.filehandle.size
    imagej = tif.imagej_metadata if tif.is_imagej else None
    if imagej and isinstance(imagej.get("images"), int):
        # tifffile falls back to the readable pages when ImageJ's frame count is not met
        found = sum(_stack_shape(s, path)[0] for s in series)
        if found != imagej["images"]:
            raise DataFormatError(
                f"{path} is truncated or corrupt: ImageJ metadata promise {imagej['images']} "
                f"frames, {found} are readable"
            )
    for s in series:
        if s.dataoffset is not None:
            end = s.dataoffset + s.nbytes
        else:
            end = max(
                (o + c for page in s.pages if page is not None
                 for o, c in zip(page.dataoffsets, page.databytecounts)),
                default=0,
            )
        if end > size:
            raise DataFormatError(
                f"{path} is truncated: its image data ends at byte {end} but the file holds "
                f"{size} bytes"
            )


def _open(path: Path) -> tifffile.TiffFile:
    # is_ome=False: Bruker single-frame OME-TIFFs describe the whole multi-file acquisition in
    # every file; reading one file must return that file's pages only.
    try:
        return tifffile.TiffFile(path, is_ome=False)
    except FileNotFoundError:
        raise
    except (*_TIFF_ERRORS, OSError) as err:
        raise _corrupt(path, err) from err


def _layout(tif: tifffile.TiffFile, path: Path) -> tuple[list[Any], list[int], tuple, np.dtype]:
    """Series, frames per series, stack shape ``(frames, y, x)`` and dtype of an open file.

    Validates that the file is complete; any tifffile error becomes a DataFormatError naming
    the file.
    """
    try:
        series = _main_series(tif, path)
        shapes = [_stack_shape(s, path) for s in series]
        _check_complete(tif, series, path)
    except DataFormatError:
        raise
    except _TIFF_ERRORS as err:
        raise _corrupt(path, err) from err
    shape = (sum(n for n, _, _ in shapes), shapes[0][1], shapes[0][2])
    return list(series), [n for n, _, _ in shapes], shape, np.dtype(series[0].dtype)


def _part_record(tif: tifffile.TiffFile, path: Path) -> dict[str, Any] | None:
    """The part-set record :func:`save_images` wrote into ``path``, or None (not ours).

    A record only counts under the file name it was saved as (``name``): a saved stack that
    the user renamed (``trial.tif`` kept as ``trial_01.tif`` or ``trial_day1.tif``) is the
    user's file now, not a part of the next save of ``trial`` (which would delete it as
    stale, or call the folder a mixed set).
    """
    try:
        tag = tif.pages.first.tags.get(PART_TAG)
    except _TIFF_ERRORS:
        return None
    if tag is None or not isinstance(tag.value, str):
        return None
    try:
        record = json.loads(tag.value)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("kind") != PART_KIND:
        return None
    stem, set_id = record.get("stem"), record.get("set")
    part, parts = record.get("part"), record.get("parts")
    if (not isinstance(stem, str) or not isinstance(set_id, str)
            or not is_integer(part) or not is_integer(parts)):
        return None
    if not 0 <= int(part) < int(parts):  # type: ignore[arg-type]
        return None
    return record if path.name == record.get("name") else None


def _record_text(stem: str, set_id: str, part: int, parts: int, frames: int, name: str) -> str:
    return json.dumps({"kind": PART_KIND, "stem": stem, "set": set_id, "part": part,
                       "parts": parts, "frames": int(frames), "name": name})


def _tif_info(path: Path) -> tuple[tuple[int, int, int], np.dtype]:
    """Shape ``(frames, y, x)`` and dtype of a TIFF file without reading pixel data."""
    shape, dtype, _ = _tif_info_record(path)
    return shape, dtype


def _tif_info_record(path: Path) -> tuple[tuple[int, int, int], np.dtype, dict | None]:
    """:func:`_tif_info` plus the file's part-set record (None for files not saved here)."""
    with quiet_tifffile(), _open(path) as tif:
        _, _, shape, dtype = _layout(tif, path)
        record = _part_record(tif, path)
    return shape, dtype, record


def check_part_sets(
    files: Sequence[Path], records: Sequence[dict | None], *, complete: bool
) -> None:
    """Refuse a mixed (or, with ``complete``, an incomplete) set of parts of a saved stack.

    :func:`save_images` records in every file it writes the stack (``stem``), the save
    (``set``, a random id), the part number and the number of parts. Files of one stem from
    different saves mean a save was interrupted while its parts were being renamed into place,
    so the files hold neither the old nor the new stack; a missing part (``complete``: a whole
    folder is read) means frames are missing. Files without a record are not checked.

    Raises
    ------
    calscipy.errors.DataFormatError
        Naming the folder, the stack and the files concerned.
    """
    groups: dict[tuple[Path, str], list[tuple[Path, dict]]] = defaultdict(list)
    for path, record in zip(files, records):
        if record is not None:
            groups[(path.parent, record["stem"])].append((path, record))
    for (folder, stem), members in groups.items():
        by_set: dict[tuple[str, int], list[str]] = defaultdict(list)
        for path, record in members:
            by_set[(record["set"], record["parts"])].append(path.name)
        if len(by_set) > 1:
            described = "; ".join(
                f"{', '.join(sorted(names))} (one save of {parts} part(s))"
                for (_, parts), names in by_set.items()
            )
            raise DataFormatError(
                f"{folder} holds a mixed set of parts of the stack {stem!r}, written by "
                f"different saves: {described}. A save was interrupted while replacing the "
                f"files, so they hold neither stack; save the stack again or remove the stale "
                f"files"
            )
        parts = members[0][1]["parts"]
        count = Counter(record["part"] for _, record in members)
        twice = sorted(p for p, n in count.items() if n > 1)
        if twice:
            names = sorted(path.name for path, r in members if r["part"] in twice)
            raise DataFormatError(
                f"{folder} holds part(s) {twice} of the stack {stem!r} more than once "
                f"({', '.join(names)}): copies of the same frames"
            )
        missing = [i for i in range(parts) if i not in count]
        if complete and missing:
            suffix = members[0][0].suffix
            expected = ([folder / f"{stem}{suffix}"] if parts == 1
                        else _part_names(folder / f"{stem}{suffix}", parts))
            raise DataFormatError(
                f"{folder} holds an incomplete set of parts of the stack {stem!r}: "
                f"{', '.join(expected[i].name for i in missing)} "
                f"({len(missing)} of {parts} parts) missing"
            )


def _refuse_prairieview(folder: Path, files: Sequence[Path]) -> None:
    """A multi-plane or multi-channel PrairieView folder is not one time series: refuse it."""
    from CalSciPy.bruker._naming import parse_image_names

    names = parse_image_names([p.name for p in files])
    if len(names) == 0:
        return
    channels = np.unique(names.channels)
    per_cycle = max(Counter(names.cycles.tolist()).values())
    planes = len(np.unique(names.cycles)) > 1 and per_cycle > 1
    if len(channels) <= 1 and not planes:
        return  # one channel, one plane: the natural order is the time order
    what = []
    if planes:
        what.append(f"{per_cycle} images per cycle (planes)")
    if len(channels) > 1:
        what.append(f"{len(channels)} channels ({', '.join(f'Ch{c}' for c in channels)})")
    raise DataFormatError(
        f"{folder} is a PrairieView session with {' and '.join(what)}; read as one folder of "
        f"TIFFs its planes/channels would be interleaved as if they were time points. Load "
        f"it with CalSciPy.bruker.load_bruker_tifs(folder, channel=C, plane=P) or lazily "
        f"with read_prairieview_session(folder).stack(channel, plane); on the command line: "
        f"calscipy filter FOLDER DST --channel C --plane P"
    )


def _read_into(
    tif: tifffile.TiffFile, path: Path, series: list[Any], counts: list[int], out: np.ndarray
) -> None:
    start = 0
    try:
        for s, n in zip(series, counts):
            # a fresh view: tifffile reshapes the array it is given in place
            s.asarray(out=out[start:start + n].view())
            start += n
    except _TIFF_ERRORS as err:
        raise _corrupt(path, err) from err


def _load_single_tif(path: str | os.PathLike, out: np.ndarray | None = None) -> np.ndarray:
    """Read one TIFF file into a ``(frames, y, x)`` array (a single page is ``(1, y, x)``).

    Parameters
    ----------
    path
        The file.
    out
        Optional preallocated C-contiguous array of the right size and dtype that receives the
        pages directly (no intermediate copy); returned reshaped to ``(frames, y, x)``.
    """
    path = existing_path(path)
    with quiet_tifffile(), _open(path) as tif:
        series, counts, shape, dtype = _layout(tif, path)
        if out is None:
            out = np.empty(shape, dtype)
        elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
            raise InvalidArgumentError(
                f"out must be a C-contiguous {shape} {dtype} array to read {path}, "
                f"got {out.shape} {out.dtype}"
            )
        _read_into(tif, path, series, counts, out)
    return out


def tiff_files(folder: Path) -> list[Path]:
    """``*.tif``/``*.tiff`` files directly in ``folder`` (any case), in natural sort order."""
    files = [
        p for p in folder.iterdir()
        if p.suffix.lower() in TIFF_SUFFIXES and p.is_file() and not p.name.startswith(".")
    ]
    return sorted(files, key=natural_key)


def _threads(n_files: int) -> int:
    return max(1, min(n_files, MAX_READ_THREADS, 2 * (os.cpu_count() or 1)))


def _check_same(files: Sequence[Path], infos: Sequence[tuple[tuple, np.dtype]]) -> None:
    """Raise naming the first file whose frame size or dtype differs from the first file's."""
    (_, y, x), dtype = infos[0]
    for path, ((_, fy, fx), fdtype) in zip(files, infos):
        if (fy, fx) != (y, x) or fdtype != dtype:
            raise DataFormatError(
                f"{path} holds {fy}x{fx} {fdtype} images but {files[0].name} holds "
                f"{y}x{x} {dtype}; all files in {path.parent} must match"
            )


def _scan(
    files: Sequence[Path], *, complete: bool = False
) -> tuple[list[int], tuple[int, int], np.dtype]:
    """Frames per file, common (y, x) and dtype; raises naming the first odd file.

    Mixed part sets are refused; ``complete`` (a whole folder) also refuses missing parts.
    """
    with ThreadPoolExecutor(_threads(len(files))) as pool:
        infos = list(pool.map(_tif_info_record, files))
    _check_same(files, [info[:2] for info in infos])
    check_part_sets(files, [info[2] for info in infos], complete=complete)
    (_, y, x), dtype, _ = infos[0]
    return [info[0][0] for info in infos], (y, x), dtype


def _tiff_list(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    if isinstance(path, (str, os.PathLike)):
        folder = existing_path(path)
        if not folder.is_dir():
            raise NotADirectoryError(f"{str(folder)!r} is not a folder")
        files = tiff_files(folder)
        if not files:
            raise DataFormatError(f"folder {str(folder)!r} holds no .tif/.tiff files")
        _refuse_prairieview(folder, files)
        return files
    files = [existing_path(p) for p in path]
    if not files:
        raise InvalidArgumentError("no TIFF files given")
    return files


def _load_many_tif(
    path: str | os.PathLike | Sequence[str | os.PathLike], *, progress: bool = True
) -> np.ndarray:
    """Read every TIFF of a folder (or a list of files) into one ``(frames, y, x)`` array.

    Files are taken in natural sort order (``images_2`` before ``images_10``) when a folder is
    given and read in parallel threads straight into one preallocated array (peak memory ≈ the
    result). The array is sized from the first file, so a uniform folder (e.g. PrairieView's
    single-frame files) opens each file once; from the first file with another frame count on
    (e.g. the short last part of a split stack) files are read again at their true offsets.
    """
    files = _tiff_list(path)
    first_shape, dtype = _tif_info(files[0])
    per_file = first_shape[0]
    images = np.empty((per_file * len(files), *first_shape[1:]), dtype)

    def read_uniform(i: int) -> tuple[tuple, np.dtype, int, dict | None]:
        with quiet_tifffile(), _open(files[i]) as tif:
            series, counts, shape, fdtype = _layout(tif, files[i])
            record = _part_record(tif, files[i])
            if shape != first_shape or fdtype != dtype:
                return shape, fdtype, 0, record
            out = images[i * per_file:(i + 1) * per_file]
            _read_into(tif, files[i], series, counts, out)
            return shape, fdtype, out.nbytes, record

    with (
        progress_bar(images.nbytes, "loading TIFFs", progress) as bar,
        ThreadPoolExecutor(_threads(len(files))) as pool,
    ):
        infos, records = [], []
        for shape, fdtype, nbytes, record in pool.map(read_uniform, range(len(files))):
            infos.append((shape, fdtype))
            records.append(record)
            bar.update(nbytes)
    _check_same(files, infos)
    # a folder must hold whole stacks; a list given by the caller may be a deliberate subset
    check_part_sets(files, records, complete=isinstance(path, (str, os.PathLike)))
    if all(shape == first_shape for shape, _ in infos):
        return images
    # frame counts differ (e.g. the short last part of a split stack): files before the first
    # odd one are already in place; re-read the rest at their true offsets
    counts = [shape[0] for shape, _ in infos]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    total = int(offsets[-1])
    first_odd = next(i for i, (shape, _) in enumerate(infos) if shape != first_shape)
    if total > images.shape[0]:
        del images
        images = np.empty((total, *first_shape[1:]), dtype)
        first_odd = 0

    def read(i: int) -> int:
        _load_single_tif(files[i], out=images[offsets[i]:offsets[i + 1]])
        return images[offsets[i]:offsets[i + 1]].nbytes

    with (
        progress_bar(int(offsets[-1] - offsets[first_odd]) * images[0].nbytes, "loading TIFFs",
                     progress) as bar,
        ThreadPoolExecutor(_threads(len(files))) as pool,
    ):
        for nbytes in pool.map(read, range(first_odd, len(files))):
            bar.update(nbytes)
    return images if images.shape[0] == total else images[:total]


def load_images(path: str | os.PathLike, *, progress: bool = True) -> np.ndarray:
    """Load a TIFF file, or every TIFF in a folder, as one ``(frames, y, x)`` array.

    Parameters
    ----------
    path
        A ``.tif``/``.tiff`` file (all its pages; a single page is still ``(1, y, x)``), or a
        folder: all ``*.tif``/``*.tiff`` directly inside (not recursive), in natural sort
        order (``images_2`` before ``images_10``), concatenated along frames.
    progress
        Keyword-only. Show a tqdm bar when a folder holds more than a few hundred MB.

    Returns
    -------
    numpy.ndarray
        ``(frames, y, x)``, dtype as stored.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    calscipy.errors.DataFormatError (a ValueError)
        Empty folder, files of different shapes/dtypes (names the first offending file),
        truncated or corrupt TIFF, RGB images; a mixed or incomplete set of parts of a stack
        saved by :func:`save_images`; a multi-plane or multi-channel PrairieView folder
        (interleaved planes are not a time series: the message says how to load it).

    Notes
    -----
    Folder files are read in parallel threads directly into one preallocated array, so peak
    memory is about the size of the result. OME metadata is ignored: each file contributes
    its own pages (Bruker OME-TIFFs otherwise describe the whole acquisition).
    """
    path = existing_path(path)
    if path.is_dir():
        return _load_many_tif(path, progress=progress)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        raise InvalidArgumentError(
            f"load_images reads .tif/.tiff files or folders, got {str(path)!r}")
    return _load_single_tif(path)


def _tiff_kwargs(images: Any) -> dict[str, Any]:
    """ImageJ hyperstack metadata where ImageJ can hold the dtype; BigTIFF above 4 GB."""
    big = nbytes_of(images) > BIGTIFF_BYTES
    # tifffile's ImageJ writer takes a trailing axis of length 1 for samples: 1-px-wide
    # stacks go to plain TIFF
    imagej = np.dtype(images.dtype) in IMAGEJ_DTYPES and not big and images.shape[-1] > 1
    return {
        "imagej": imagej,
        "bigtiff": big,
        "photometric": "minisblack",
        "metadata": {"axes": "TYX"},
    }


def _frames(images: Any, bar: Any) -> Iterator[np.ndarray]:
    native = check_dtype(images.dtype)
    for _, block in iter_blocks(images, BLOCK_BYTES, native):
        yield from block
        bar.update(block.nbytes)


def _write_tiff(file: Path, images: Any, bar: Any, record: str | None = None) -> None:
    kwargs = _tiff_kwargs(images)
    if record is not None:  # first page only: which stack, save and part this file is
        kwargs["extratags"] = [(PART_TAG, "s", 0, record, True)]
    try:
        if type(images) is np.ndarray and images.dtype.isnative and images.flags.c_contiguous:
            tifffile.imwrite(file, images, **kwargs)
            bar.update(images.nbytes)
        else:  # memmap, dask, lazy readers: stream block by block, memory stays bounded
            tifffile.imwrite(
                file,
                _frames(images, bar),
                shape=tuple(images.shape),
                dtype=check_dtype(images.dtype),
                **kwargs,
            )
    except OSError as err:
        if err.errno is None and _SHORT_WRITE.search(str(err)):
            # numpy's tofile reports a full disk as a bare "N requested and M written"
            raise OSError(errno.ENOSPC, f"No space left on device ({err})", str(file)) from err
        raise


def _save_single_tif(
    path: str | os.PathLike,
    images: Any,
    *,
    overwrite: bool = True,
    progress: bool = True,
) -> None:
    """Write ``images`` to one TIFF file atomically (temporary file, fsync, rename).

    ImageJ hyperstack (``TYX``) metadata for uint8/uint16/float32 so Fiji shows the right
    frame count; other dtypes (e.g. int16, float64) as plain TIFF with tifffile's shape
    metadata; BigTIFF (no ImageJ metadata) above 4 GB. ``overwrite=False`` refuses an existing
    file. The file records that it is the whole stack (a set of one part).
    """
    images = check_images(images)
    path = as_path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; name the .tif file to write")
    record = _record_text(path.stem, uuid.uuid4().hex, 0, 1, images.shape[0], path.name)
    with (
        progress_bar(nbytes_of(images), f"saving {path.name}", progress) as bar,
        atomic_path(path, overwrite=overwrite) as staged,
    ):
        _write_tiff(staged, images, bar, record)


def _frames_per_file(images: Any, size_cap: float) -> int:
    size_cap = check_real(size_cap, "size_cap", positive=True, unit="GB")
    frame_bytes = math.prod(images.shape[1:]) * np.dtype(images.dtype).itemsize
    # GB = 1e9 bytes, as CalSciPy.misc.calculate_frames_per_file counts it; a frame larger
    # than the cap still gets a file of its own
    return max(1, math.floor(float(size_cap) * 1e9 / frame_bytes))


def _part_names(path: Path, n_files: int) -> list[Path]:
    digits = max(2, len(str(n_files - 1)))
    return [path.with_name(f"{path.stem}_{i:0{digits}d}{path.suffix}") for i in range(n_files)]


def _candidate_parts(path: Path) -> list[Path]:
    """Files whose *names* fit ``<stem>.tif`` or ``<stem>_NN.tif`` beside ``path``."""
    pattern = re.compile(re.escape(path.stem) + r"(_\d{2,})?" + re.escape(path.suffix))
    if not path.parent.is_dir():
        return []
    return sorted((p for p in path.parent.iterdir()
                   if pattern.fullmatch(p.name) and p.is_file()), key=natural_key)


def _own_parts(path: Path) -> tuple[list[Path], list[Path]]:
    """Split the candidate part names beside ``path`` into (written here for this stem, other).

    Only a file whose part-set record names this stem was written by :func:`save_images` as
    part of this stack; a user's ``trial_01.tif`` beside ``trial.tif`` is someone else's.
    """
    ours: list[Path] = []
    others: list[Path] = []
    for candidate in _candidate_parts(path):
        try:
            with quiet_tifffile(), _open(candidate) as tif:
                record = _part_record(tif, candidate)
        except (DataFormatError, OSError):
            record = None
        (ours if record is not None and record["stem"] == path.stem else others).append(
            candidate)
    return ours, others


def _remove_killed_saves(target: Path) -> None:
    """Remove temporary parts left by killed saves of this stack (any part count)."""
    pattern = re.compile(r"\.(" + re.escape(target.stem) + r"(?:_\d{2,})?"
                         + re.escape(target.suffix) + r")\..+")
    if not target.parent.is_dir():
        return
    names = {m[1] for p in target.parent.iterdir() if (m := pattern.fullmatch(p.name))}
    for name in names:
        remove_stale_partials(target.parent / name)


def save_tiff_set(
    target: Path,
    images: Any,
    per_file: int,
    *,
    overwrite: bool,
    progress: bool,
    split_names: bool,
    remove_stale: bool,
) -> list[Path]:
    """Write ``images`` as one set of files, atomically as a set; return the files written.

    Rules: a file this package did not write for this stack is never replaced or deleted,
    except ``target`` itself, which the caller named (replaced only with ``overwrite``). With
    ``remove_stale`` the parts of an earlier save of the same stack that this save does not
    rewrite are deleted once the new set is in place.
    """
    n_files = math.ceil(images.shape[0] / per_file)
    names = _part_names(target, n_files) if split_names or n_files > 1 else [target]
    ours, others = _own_parts(target)
    foreign = [p for p in others if p in names and p != target]
    if foreign:
        raise FileExistsError(
            f"{', '.join(str(p) for p in foreign)} already exist(s) and were not written by "
            f"CalSciPy as parts of {target.name}; they are never replaced or deleted: move "
            f"them away or choose another name"
        )
    stale = [p for p in ours if p not in names] if remove_stale else []
    if remove_stale and target.exists() and target not in names and target not in stale:
        stale.append(target)  # the named file itself (it would shadow the parts' stem)
    if not overwrite:
        existing = [p for p in [*names, *stale] if p.exists()]
        if existing:
            raise FileExistsError(
                f"{', '.join(str(p) for p in existing)} already exist(s); pass "
                f"overwrite=True to replace"
            )
    _remove_killed_saves(target)
    set_id = uuid.uuid4().hex
    with (
        progress_bar(nbytes_of(images), f"saving {target.stem}", progress) as bar,
        atomic_paths(names, overwrite=overwrite) as staged,
    ):
        for i, file in enumerate(staged):
            chunk = frame_range(images, i * per_file, (i + 1) * per_file)
            record = _record_text(target.stem, set_id, i, n_files, chunk.shape[0],
                                  names[i].name)
            try:
                _write_tiff(file, chunk, bar, record)
            except OSError as err:
                if err.errno is None or err.filename not in (None, str(file)):
                    raise
                # name the part being written (a full disk says which file did not fit)
                raise OSError(err.errno, f"{err.strerror or err} (while writing)",
                              str(names[i])) from err
    remove_quietly(*stale)
    return names


def _save_many_tif(
    path: str | os.PathLike,
    images: Any,
    size_cap: float = 3.9,
    *,
    overwrite: bool = True,
    progress: bool = True,
) -> list[Path]:
    """Split ``images`` into ``<stem>_00.tif, <stem>_01.tif, …`` of at most ``size_cap`` GB.

    ``path`` is the unsplit name (``folder/stem.tif``); the parts are written atomically as a
    set (see :func:`save_images`). The real itemsize sets the frames per file
    (``floor(size_cap * 1e9 / frame bytes)``, as :func:`CalSciPy.misc.calculate_frames_per_file`).
    Returns the written paths.
    """
    images = check_images(images)
    path = as_path(path)
    per_file = _frames_per_file(images, size_cap)
    return save_tiff_set(path, images, per_file, overwrite=overwrite, progress=progress,
                     split_names=True, remove_stale=False)


def _tiff_target(path: Path) -> Path:
    if path.suffix.lower() in TIFF_SUFFIXES:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    if path.suffix and not path.is_dir():
        raise InvalidArgumentError(
            f"save_images writes .tif/.tiff files or into a folder, got {str(path)!r}"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{DEFAULT_STEM}.tif"


def save_images(
    path: str | os.PathLike,
    images: np.ndarray,
    size_cap: float = 3.9,
    *,
    overwrite: bool = True,
    progress: bool = True,
) -> int:
    """Save a ``(frames, y, x)`` stack as multi-page TIFF readable by ImageJ/Fiji.

    Parameters
    ----------
    path
        ``x.tif``/``x.tiff`` names the file (its folder is created when missing); any other
        path is a folder (created when missing) that receives ``images.tif``.
    images
        ``(frames, y, x)`` stack, or a 2-D ``(y, x)`` image saved as one page; numpy,
        ``np.memmap`` or dask (streamed block by block). Unsigned/signed integers or floats.
    size_cap
        Maximum size of one file in GB (1e9 bytes). Larger stacks are split into
        ``<stem>_00.tif, <stem>_01.tif, …`` with ``floor(size_cap * 1e9 / frame bytes)``
        frames each (the real itemsize), the count
        :func:`CalSciPy.misc.calculate_frames_per_file` gives.
    overwrite
        Keyword-only. True (the documented behaviour) replaces existing output: the named file
        and the parts of an earlier save of the same stack. Only files this package wrote as
        parts of that stack (recorded in each file, see Notes) are replaced or deleted; a file
        of yours that merely fits the naming (``trial_01.tif`` beside ``trial.tif``) is left
        alone, and a save that would have to replace one raises ``FileExistsError`` naming
        it. False raises ``FileExistsError`` if any file would be replaced or deleted.
    progress
        Keyword-only. Show a tqdm bar for writes over a few hundred MB.

    Returns
    -------
    int
        0 on success.

    Notes
    -----
    uint8, uint16 and float32 stacks get ImageJ hyperstack metadata (Fiji shows ``frames``
    time points); ImageJ cannot hold other dtypes (int16, int32, float64, …), which are written
    as plain TIFF that tifffile, Fiji (Bio-Formats) and this module read back exactly. A single
    file above 4 GB (``size_cap`` > 4) is written as BigTIFF, without ImageJ metadata. Every
    file is written to a temporary file in the destination folder, fsynced and renamed; on an
    error the target is untouched and the temporary file removed.

    Every file records (private TIFF tag 65400, JSON) the stack it belongs to, a random id of
    the save, its part number, the number of parts and its own file name (a saved file you
    rename is yours from then on: never replaced or deleted as a part). A split stack is
    written atomically as a set: all parts are complete on disk under temporary names before
    the first is renamed into place, then parts of the earlier save that were not rewritten
    are deleted. A reader (:func:`load_images` on the folder, :class:`TiffStack`) that finds
    parts of one stack from different saves (a save killed during its final renames) or a
    missing part raises
    :class:`~CalSciPy.errors.DataFormatError` naming them instead of returning mixed frames.
    """
    images = check_images(images)
    target = _tiff_target(as_path(path))
    per_file = _frames_per_file(images, size_cap)
    save_tiff_set(target, images, per_file, overwrite=overwrite, progress=progress,
              split_names=False, remove_stale=True)
    return 0


class TiffStack(FrameSource):
    """Read-only, lazily read ``(frames, y, x)`` view of one TIFF file or a list of them.

    Indexing along frames (``stack[i]``, ``stack[a:b:s]``, ``stack[a:b, y0:y1]``) behaves as
    on a numpy array and reads only the pages it needs, so a stack far larger than memory can
    be streamed block by block (used by :func:`convert_images`).
    """

    def __init__(self, files: Sequence[Path], *, complete: bool = False):
        self.files = list(files)
        if not self.files:
            raise InvalidArgumentError("TiffStack needs at least one file")
        counts, (y, x), self.dtype = _scan(self.files, complete=complete)
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        self.shape = (int(self._offsets[-1]), y, x)

    @classmethod
    def open(cls, path: str | os.PathLike) -> TiffStack:
        """A file, or a folder of TIFFs (natural sort order)."""
        path = existing_path(path)
        files = tiff_files(path) if path.is_dir() else [path]
        if not files:
            raise DataFormatError(f"folder {str(path)!r} holds no .tif/.tiff files")
        if path.is_dir():
            _refuse_prairieview(path, files)
        return cls(files, complete=path.is_dir())

    def _read(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self.shape[1:]), self.dtype)
        for i, path in enumerate(self.files):
            lo, hi = self._offsets[i], self._offsets[i + 1]
            a, b = max(start, lo), min(stop, hi)
            if a >= b:
                continue
            if a == lo and b == hi:
                _load_single_tif(path, out=out[a - start:b - start])
            else:
                out[a - start:b - start] = _read_pages(path, a - lo, b - lo)
        return out


def memmap_tif(path: str | os.PathLike) -> np.memmap | None:
    """Read-only ``(frames, y, x)`` memmap of an uncompressed, contiguous TIFF; else None."""
    path = existing_path(path)
    with quiet_tifffile(), _open(path) as tif:
        series, _, shape, _ = _layout(tif, path)
        if len(series) != 1 or series[0].dataoffset is None:
            return None
        offset = series[0].dataoffset
        dtype = np.dtype(series[0].dtype).newbyteorder(tif.byteorder)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def _read_pages(path: Path, start: int, stop: int) -> np.ndarray:
    """Frames ``start:stop`` of one file (memory-mapped when contiguous, else page by page)."""
    mapped = memmap_tif(path)
    if mapped is not None:
        return np.array(mapped[start:stop])
    with quiet_tifffile(), _open(path) as tif:
        try:
            pages = tif.asarray(key=range(start, stop))
        except _TIFF_ERRORS as err:
            raise _corrupt(path, err) from err
    return pages.reshape(stop - start, *pages.shape[-2:])
