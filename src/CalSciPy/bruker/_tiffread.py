"""Fast reading of many single-frame TIFFs that share one layout (PrairieView sessions).

Every frame of a PrairieView session is written by the same code with the same settings, so the
TIFF layout (where the pixel strips are, dtype, shape) is identical in every file. The layout is
parsed once with :mod:`tifffile`; each further file is checked cheaply (file size, header, every
IFD tag code, the layout-defining IFD entries and their out-of-line values such as strip offsets
must be byte-identical to the first file) and its pixel bytes are
read straight into the destination array with ``os.preadv``/``os.pread`` from a thread pool (the
system calls release the GIL). A file that fails the check is read with :mod:`tifffile`, so the
result is always what ``tifffile.imread`` returns for each file; a frame whose pixel type cannot
be held exactly by the destination (e.g. float32 or int16 into uint16) is refused.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import tifffile

from CalSciPy._io.tiffnoise import quiet_tifffile  # the one tifffile-noise policy
from CalSciPy.errors import DataFormatError

__all__ = ["TiffLayout", "TiffProbe", "probe", "probe_layout", "read_frames", "quiet_tifffile"]

# IFD tags that decide where the pixels are and how to decode them
_LAYOUT_TAGS = frozenset({254, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 322,
                          323, 324, 325, 338, 339})
_HAS_PREADV = hasattr(os, "preadv")
_O_BINARY = getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class TiffLayout:
    """Byte layout of a single-page, uncompressed TIFF.

    Attributes
    ----------
    shape
        ``(y, x)`` pixels.
    dtype
        Pixel dtype in the file's byte order.
    file_size
        Size of the file in bytes.
    segments
        ``(offset, nbytes)`` of each run of pixel bytes, in image order (contiguous strips merged).
    signature
        ``(offset, bytes)`` pieces of the file that must be identical for another file to share
        this layout (header, IFD entry count, every tag code, layout tag entries), all within
        the IFD except the header.
    signature_span
        ``(offset, nbytes)`` of the IFD.
    outside
        ``(offset, bytes)`` of layout tag values stored outside the IFD (strip offsets and
        byte counts of multi-strip images): identical in every file sharing the layout.
    """

    shape: tuple[int, int]
    dtype: np.dtype
    file_size: int
    segments: tuple[tuple[int, int], ...]
    signature: tuple[tuple[int, bytes], ...]
    signature_span: tuple[int, int]
    outside: tuple[tuple[int, bytes], ...] = ()


def _merge_segments(offsets: Sequence[int], counts: Sequence[int]) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for offset, count in zip(offsets, counts):
        if merged and merged[-1][0] + merged[-1][1] == offset:
            merged[-1][1] += count
        else:
            merged.append([int(offset), int(count)])
    return tuple((o, c) for o, c in merged)


@dataclass(frozen=True)
class TiffProbe:
    """What one read of a session's first image file tells: frame shape, pages and layout.

    Attributes
    ----------
    path
        The file probed.
    shape
        Shape of the first page (``(y, x)`` for a grayscale frame).
    pages
        Number of pages (frames) in the file.
    dtype
        Pixel dtype of the first page (native byte order).
    layout
        The raw-offset layout shared by the session's single-page files, or None when the
        file cannot be read by raw offsets (multi-page, compressed, tiled...).
    """

    path: Path
    shape: tuple[int, ...]
    pages: int
    dtype: np.dtype
    layout: TiffLayout | None


def probe(path: str | Path) -> TiffProbe:
    """Open ``path`` once: frame shape, page count, dtype and raw layout.

    Raises
    ------
    DataFormatError
        ``path`` is not a readable TIFF, or is truncated.
    """
    path = Path(path)
    size = os.path.getsize(path)
    try:
        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            n_pages = len(tif.pages)
            page = tif.pages.first
            shape = tuple(int(n) for n in page.shape)
            dtype = np.dtype(page.dtype)
            _check_page(path, page, size)
            raw = None
            if n_pages == 1 and not (
                    page.compression != 1 or page.predictor != 1 or len(page.shape) != 2
                    or page.is_tiled or page.fillorder != 1 or page.bitspersample % 8):
                raw = (tif.byteorder, _merge_segments(page.dataoffsets, page.databytecounts),
                       page.offset, tif.is_bigtiff)
    except DataFormatError:
        raise
    except Exception as err:  # tifffile raises many types for corrupt files
        raise DataFormatError(f"{path}: not a readable TIFF image ({err})") from err
    layout = None if raw is None else _layout_of(path, size, shape, dtype, *raw)
    return TiffProbe(path, shape, n_pages, dtype.newbyteorder("="), layout)


def probe_layout(path: str | Path) -> TiffLayout | None:
    """Parse ``path``'s layout, or return None when it cannot be read by raw offsets.

    Raises
    ------
    DataFormatError
        ``path`` is not a readable TIFF, or is truncated.
    """
    return probe(path).layout


def _layout_of(path: Path, size: int, shape: tuple[int, ...], page_dtype: np.dtype,
               byteorder: str, segments: tuple[tuple[int, int], ...], ifd_offset: int,
               bigtiff: bool) -> TiffLayout | None:
    dtype = np.dtype(page_dtype).newbyteorder(byteorder)  # type: ignore[arg-type]
    expected = int(np.prod(shape)) * dtype.itemsize
    if sum(c for _, c in segments) != expected:
        return None
    with open(path, "rb") as handle:
        head = handle.read(16 if bigtiff else 8)
        handle.seek(ifd_offset)
        count_size, entry_size = (8, 20) if bigtiff else (2, 12)
        count_raw = handle.read(count_size)
        count = struct.unpack(byteorder + ("Q" if bigtiff else "H"), count_raw)[0]
        entries = handle.read(count * entry_size + (8 if bigtiff else 4))
        signature = [(0, head), (ifd_offset, count_raw)]
        outside = []
        for i in range(count):
            entry = entries[i * entry_size:(i + 1) * entry_size]
            at = ifd_offset + count_size + i * entry_size
            code = struct.unpack(byteorder + "H", entry[:2])[0]
            if code not in _LAYOUT_TAGS:
                # the tag codes themselves must match: another file could hold a layout tag
                # (e.g. SampleFormat) where this one holds a harmless one
                signature.append((at, entry[:2]))
                continue
            signature.append((at, entry))
            stored = _out_of_line(entry, byteorder, bigtiff)
            if stored is not None:
                # values too long for the entry (e.g. the offsets of many strips) live
                # elsewhere in the file: they must be identical too
                handle.seek(stored[0])
                outside.append((stored[0], handle.read(stored[1])))
    # the next-IFD pointer must be 0 in every file (single page)
    signature.append((ifd_offset + count_size + count * entry_size, entries[count * entry_size:]))
    span = (ifd_offset, count_size + len(entries))
    return TiffLayout((int(shape[0]), int(shape[1])), dtype, size, segments, tuple(signature),
                      span, tuple(outside))


# bytes per value of the TIFF field types that layout tags use
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
               16: 8, 17: 8, 18: 8}


def _out_of_line(entry: bytes, byteorder: str, bigtiff: bool) -> tuple[int, int] | None:
    """``(offset, nbytes)`` of an IFD entry's values when they do not fit in the entry."""
    if bigtiff:
        kind, count, value = struct.unpack(byteorder + "HQQ", entry[2:20])
        inline = 8
    else:
        kind, count, value = struct.unpack(byteorder + "HII", entry[2:12])
        inline = 4
    nbytes = _TYPE_SIZES.get(kind, 8) * count
    return (value, nbytes) if nbytes > inline else None


def _check_page(path: str | Path, page, size: int) -> None:
    end = max((o + c for o, c in zip(page.dataoffsets, page.databytecounts)), default=0)
    if end > size:
        raise DataFormatError(
            f"{path}: truncated TIFF, the image data needs {end} bytes but the file has {size}"
        )


def _read_with_tifffile(path: str | Path, page: int, shape: tuple[int, int],
                        out: np.ndarray) -> None:
    try:
        # numpy's error state is per thread: each pool thread quiets its own tifffile calls
        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            if page >= len(tif.pages):
                raise DataFormatError(
                    f"{path}: has {len(tif.pages)} page(s), page {page + 1} was expected"
                )
            tiff_page = tif.pages[page]
            _check_page(path, tiff_page, os.path.getsize(path))
            frame = tiff_page.asarray()
    except DataFormatError:
        raise
    except Exception as err:
        raise DataFormatError(f"{path}: not a readable TIFF image ({err})") from err
    _check_frame(path, None, frame, shape, out.dtype)
    out[...] = frame


def _check_frame(path: str | Path, page: int | None, frame: np.ndarray,
                 shape: tuple[int, int], dtype: np.dtype) -> None:
    """Refuse a frame of another size, or whose values the destination cannot hold exactly."""
    where = f"{path}" if page is None else f"{path}: page {page + 1}"
    if frame.shape != tuple(shape):
        size = "x".join(str(n) for n in frame.shape)
        raise DataFormatError(
            f"{where}: frame is {size} pixels but the session's frames are "
            f"{shape[0]}x{shape[1]} (mixed frame sizes)"
        )
    if not np.can_cast(frame.dtype, dtype, "safe"):
        # e.g. a float32 or int16 export among uint16 frames: casting would corrupt values
        raise DataFormatError(
            f"{where}: pixels are {frame.dtype} but the session is read as {np.dtype(dtype)} "
            "(mixed pixel types)"
        )


def _read_pages_with_tifffile(path: str | Path, pages: list[tuple[int, np.ndarray]],
                              shape: tuple[int, int]) -> None:
    size = os.path.getsize(path)
    try:
        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            n_pages = len(tif.pages)
            for page, out in sorted(pages, key=lambda item: item[0]):
                if page >= n_pages:
                    raise DataFormatError(
                        f"{path}: has {n_pages} page(s), page {page + 1} was expected"
                    )
                tiff_page = tif.pages[page]
                _check_page(path, tiff_page, size)
                frame = tiff_page.asarray()
                _check_frame(path, page, frame, shape, out.dtype)
                out[...] = frame
    except DataFormatError:
        raise
    except Exception as err:
        raise DataFormatError(f"{path}: not a readable TIFF image ({err})") from err


def _read_raw(path: str | Path, layout: TiffLayout, out: np.ndarray) -> bool:
    """Read one frame by raw offsets into ``out``; False when the file's layout differs."""
    fd = os.open(path, os.O_RDONLY | _O_BINARY)
    try:
        if os.fstat(fd).st_size != layout.file_size:
            return False
        start, length = layout.signature_span
        ifd = os.pread(fd, length, start)
        head_offset, head = layout.signature[0]
        if os.pread(fd, len(head), head_offset) != head:
            return False
        for offset, expected in layout.signature[1:]:
            rel = offset - start
            if ifd[rel:rel + len(expected)] != expected:
                return False
        for offset, expected in layout.outside:
            if os.pread(fd, len(expected), offset) != expected:
                return False
        buffer = memoryview(out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        position = 0
        for offset, nbytes in layout.segments:
            target = buffer[position:position + nbytes]
            got = os.preadv(fd, [target], offset) if _HAS_PREADV else _pread_into(fd, target,
                                                                                  offset)
            if got != nbytes:
                return False
            position += nbytes
    finally:
        os.close(fd)
    if not layout.dtype.isnative:
        out.byteswap(inplace=True)
    return True


def _pread_into(fd: int, target: memoryview, offset: int) -> int:
    data = os.pread(fd, len(target), offset)
    target[:len(data)] = data
    return len(data)


def read_frames(
    jobs: Sequence[tuple[str | Path, int, np.ndarray]],
    shape: tuple[int, int],
    *,
    layout: TiffLayout | None,
    workers: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> None:
    """Read every ``(path, page, out)`` job: frame ``page`` of ``path`` into the view ``out``.

    ``out`` must be a C-contiguous ``(y, x)`` view of the destination with the layout's dtype.
    Files that do not share ``layout`` (or multi-page files) are read with tifffile; a frame of
    another size raises :class:`~CalSciPy.errors.DataFormatError` naming the file.
    """
    if not jobs:
        return
    workers = workers or min(32, 4 * (os.cpu_count() or 1))
    chunk = max(1, min(64, len(jobs) // (workers * 4) or 1))

    # multi-page files (PrairieView >= 5.6) are opened once each and their pages read in order
    multi = {path for path, page, _ in jobs if page > 0}
    single = [job for job in jobs if job[0] not in multi] if multi else list(jobs)
    grouped: dict = {}
    for path, page, out in (job for job in jobs if job[0] in multi):
        grouped.setdefault(path, []).append((page, out))

    def run_file(path, pages: list[tuple[int, np.ndarray]]) -> int:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"image file not found: {path}")
        _read_pages_with_tifffile(path, pages, shape)
        return len(pages)

    def run(batch: Sequence[tuple[str | Path, int, np.ndarray]]) -> int:
        for path, page, out in batch:
            done = False
            if layout is not None and page == 0 and out.dtype == layout.dtype.newbyteorder("="):
                try:
                    done = _read_raw(path, layout, out)
                except FileNotFoundError as err:
                    raise FileNotFoundError(f"image file not found: {path}") from err
            if not done:
                if not os.path.isfile(path):
                    raise FileNotFoundError(f"image file not found: {path}")
                _read_with_tifffile(path, page, shape, out)
        return len(batch)

    tasks = [partial(run, single[i:i + chunk]) for i in range(0, len(single), chunk)]
    tasks += [partial(run_file, path, pages) for path, pages in grouped.items()]
    with quiet_tifffile():
        _run_tasks(tasks, workers, on_done)


def _run_tasks(tasks: Sequence[Callable[[], int]], workers: int,
               on_done: Callable[[int], None] | None) -> None:
    """Run each task (returning frames read) on a thread pool, reporting progress in order."""
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            n = task()
            if on_done:
                on_done(n)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(task) for task in tasks]
        try:
            for future in futures:
                n = future.result()
                if on_done:
                    on_done(n)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
