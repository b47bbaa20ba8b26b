"""Trace extraction: one sparse operator applied per block of frames (see :class:`Operator`)."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from scipy import sparse

from CalSciPy._checks import check_int, check_real
from CalSciPy._rois.blocks import open_blocks
from CalSciPy._rois.neuropil import neuropil_pixels, neuropil_rects
from CalSciPy._rois.roi import ROI, ROISet
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["FloatForm", "IntegerForm", "Operator", "apply_operator", "build_operator",
           "cell_weights", "extract_traces", "integer_kernel", "neuropil_masks",
           "subtract_neuropil"]

#: bytes of movie per block when ``batch_frames`` is not given (a numpy array's block is a view;
#: anything else is read into memory, a few blocks ahead: see :mod:`CalSciPy._rois.blocks`)
_BLOCK_BYTES = 64 * 2**20


def _check_rois(rois: Any) -> ROISet:
    if isinstance(rois, ROI):
        raise InvalidArgumentTypeError(
            "rois must be an ROISet; wrap a single ROI: ROISet([roi], shape)")
    if not isinstance(rois, ROISet):
        raise InvalidArgumentTypeError(
            f"rois must be an ROISet (see ROISet.from_suite2p/from_labels/...), "
            f"got {type(rois).__name__}"
        )
    return rois


def _concat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    """``np.concatenate(parts)``, or an empty ``dtype`` array when there are no parts."""
    return np.concatenate(parts) if parts else np.empty(0, dtype)


def cell_weights(rois: ROISet, allow_overlap: bool = False) -> tuple[sparse.csr_matrix, list[int]]:
    """``(rois, Ly * Lx)`` float64 CSR of normalised cell weights (suite2p's
    ``create_cell_mask``): each row is ``lam`` over the ROI's kept pixels divided by its sum;
    pixels flagged ``overlap`` are dropped unless ``allow_overlap``. Also returns the ids of ROIs
    left without pixels (their row is empty)."""
    ly, lx = rois.shape
    indices, data, counts, empty = [], [], [], []
    for roi in rois:
        keep = np.ones(roi.npix, dtype=bool) if allow_overlap else ~roi.overlap
        lam = roi.lam[keep]
        total = lam.sum()
        if total <= 0:
            empty.append(roi.id)
            counts.append(0)
            continue
        indices.append(roi.ypix[keep] * lx + roi.xpix[keep])
        data.append(lam / total)
        counts.append(int(keep.sum()))
    indptr = np.zeros(len(rois) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(counts)
    matrix = sparse.csr_matrix((_concat(data, np.float64), _concat(indices, np.int64), indptr),
                               shape=(len(rois), ly * lx))
    matrix.sort_indices()
    return matrix, empty


def integer_kernel(dtype: Any) -> bool:
    """Whether blocks of ``dtype`` go through the exact integer kernel (:func:`_project_int`):
    integers of up to 32 bits, whose sums of a whole image fit an int64."""
    dtype = np.dtype(dtype)
    return dtype.kind in "ui" and dtype.itemsize <= 4


@dataclass(frozen=True)
class IntegerForm:
    """The operator for integer movies: cell weights as CSR, neuropil sums from the column
    integral ``I[r, c] = Σ_{row < r} valid · x[row, c]`` of each frame (exact, in integers).

    A neuropil sum is ``Σ_{c0 <= c < c1} I[r1, c] - I[r0, c]`` over the rectangle minus
    ``Σ I[hi] - I[lo]`` over the column runs of the dilated ROI's valid pixels (runs bridge
    invalid pixels, which the integral does not count), so a ROI costs about the width of
    its rectangle plus two lookups per column of its dilated shape, and the image one
    vectorised pass per frame. The integral is never stored: one row of it (``Lx`` integers,
    in L1 cache) is swept down the image and each lookup is an *event* taken when the sweep
    passes its row (range events: a rectangle's top or bottom edge; point events: a run's
    ends), which saves writing and re-reading an image-sized integral per frame.
    """

    cptr: np.ndarray     # (rois + 1,) CSR of the cell weights
    cidx: np.ndarray
    cw: np.ndarray
    rects: np.ndarray    # (rois, 4) int64 row_start, row_stop, col_start, col_stop
    counts: np.ndarray   # (rois,) float64 neuropil pixels (0: no neuropil)
    dptr: np.ndarray     # (rois + 1,) column runs of the dilated ROI, as flat indices of I
    dlo: np.ndarray
    dhi: np.ndarray
    order: np.ndarray    # (rois,) ROIs by their first pixel: the gathers walk the image in order
    rptr: np.ndarray     # (Ly + 2,) range events by integral row: roi, col_start, col_stop, sign
    rroi: np.ndarray
    rc0: np.ndarray
    rc1: np.ndarray
    rsign: np.ndarray
    pptr: np.ndarray     # (Ly + 2,) point events by integral row: roi, col, sign
    proi: np.ndarray
    pcol: np.ndarray
    psign: np.ndarray


@dataclass(frozen=True)
class FloatForm:
    """The operator for float movies (:func:`_project`).

    Rows ``0..n-1`` are the ROIs' weighted means, rows ``n..2n-1`` (with neuropil) their
    neuropil means. A neuropil mean is not stored pixel by pixel: it is
    ``(Σ_rows S[row, c1] - S[row, c0] - Σ_{dilated ∩ valid} x) / count``, with ``S`` the
    running sum of ``valid · x`` along each image row, so each neuropil rectangle costs two
    *events* per row instead of one matrix entry per pixel.
    """

    colptr: np.ndarray   # (pixels + 1,) CSC over pixels: cell weights and -1/count entries
    rows: np.ndarray
    data: np.ndarray
    evptr: np.ndarray    # (Ly * (Lx + 1) + 1,) events per row position (col Lx = row end)
    evrows: np.ndarray
    evdata: np.ndarray


@dataclass(frozen=True)
class Operator:
    """Everything the kernels need to turn a block of frames into ``(rows, frames)`` traces:
    rows ``0..n-1`` the ROIs' weighted means, rows ``n..2n-1`` (with neuropil) their neuropil
    means. Holds the :class:`IntegerForm` and/or the :class:`FloatForm` (built for the movie's
    dtype, see :func:`build_operator`)."""

    n_rows: int
    ly: int
    lx: int
    neuropil: bool
    valid: np.ndarray    # (pixels,) uint8: 1 where no cell claims the pixel
    empty_cells: tuple
    empty_neuropil: tuple
    integer: IntegerForm | None
    floating: FloatForm | None


def _column_runs(flat: np.ndarray, lx: int, vcol: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column runs ``[lo, hi)`` (as flat indices ``row * Lx + col`` of the ``(Ly + 1, Lx)``
    integral) covering the pixels ``flat``; a gap of pixels that are all invalid (``vcol`` the
    column cumulative count of valid pixels, ``(Ly + 1, Lx)``) is bridged."""
    if flat.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ys, xs = flat // lx, flat % lx
    order = np.lexsort((ys, xs))
    ys, xs = ys[order], xs[order]
    new = np.ones(ys.size, dtype=bool)
    same_col = xs[1:] == xs[:-1]
    gap_valid = vcol[ys[1:], xs[1:]] - vcol[ys[:-1] + 1, xs[1:]]
    new[1:] = ~same_col | (gap_valid > 0)
    starts = np.flatnonzero(new)
    stops = np.r_[starts[1:], ys.size] - 1
    return ys[starts] * lx + xs[starts], (ys[stops] + 1) * lx + xs[starts]


def build_operator(rois: ROISet, *, neuropil: bool, inner_radius: int,
                   min_neuropil_pixels: int, lam_percentile: float,
                   allow_overlap: bool, dtype: Any = np.uint16) -> Operator:
    """The :class:`Operator` of ``rois`` (validated arguments) for movies of ``dtype``."""
    ly, lx = rois.shape
    n = len(rois)
    cells, empty = cell_weights(rois, allow_overlap)
    empty_neu: list[int] = []
    valid = np.zeros(ly * lx, dtype=np.uint8)
    found = None
    if neuropil:
        found = neuropil_rects(rois, inner_radius=inner_radius,
                               min_neuropil_pixels=min_neuropil_pixels,
                               lam_percentile=lam_percentile)
        valid = found.valid.ravel().astype(np.uint8)
        empty_neu = [int(rois.ids[i]) for i in np.flatnonzero(found.counts <= 0)]
    integer = floating = None
    if integer_kernel(dtype):
        integer = _integer_form(cells, found, ly, lx, n)
    else:
        floating = _float_form(cells, found, ly, lx, n)
    return Operator(n_rows=2 * n if neuropil else n, ly=ly, lx=lx, neuropil=bool(neuropil),
                    valid=valid, empty_cells=tuple(empty), empty_neuropil=tuple(empty_neu),
                    integer=integer, floating=floating)


def _integer_form(cells: sparse.csr_matrix, found: Any, ly: int, lx: int, n: int) -> IntegerForm:
    rects = np.zeros((n, 4), dtype=np.int64)
    counts = np.zeros(n, dtype=np.float64)
    dptr = np.zeros(n + 1, dtype=np.int64)
    lo_parts: list[np.ndarray] = []
    hi_parts: list[np.ndarray] = []
    if found is not None:
        vcol = np.zeros((ly + 1, lx), dtype=np.int64)
        np.cumsum(found.valid, axis=0, out=vcol[1:])
        rects[:] = found.rects
        counts[:] = np.maximum(found.counts, 0)
        for i, dilated in enumerate(found.dilated):
            lo, hi = _column_runs(np.asarray(dilated, dtype=np.int64), lx, vcol)
            lo_parts.append(lo)
            hi_parts.append(hi)
            dptr[i + 1] = dptr[i] + lo.size
    first = np.full(n, -1, dtype=np.int64)
    nonempty = np.diff(cells.indptr) > 0
    first[nonempty] = cells.indices[cells.indptr[:-1][nonempty]]
    dlo, dhi = _concat(lo_parts, np.int64), _concat(hi_parts, np.int64)
    ranges, points = _sweep_events(rects, counts, dptr, dlo, dhi, ly, lx)
    return IntegerForm(cptr=cells.indptr.astype(np.int64), cidx=cells.indices.astype(np.int64),
                       cw=cells.data.astype(np.float64), rects=rects, counts=counts, dptr=dptr,
                       dlo=dlo, dhi=dhi, order=np.argsort(first, kind="stable").astype(np.int64),
                       rptr=ranges[0], rroi=ranges[1], rc0=ranges[2], rc1=ranges[3],
                       rsign=ranges[4], pptr=points[0], proi=points[1], pcol=points[2],
                       psign=points[3])


def _sweep_events(rects: np.ndarray, counts: np.ndarray, dptr: np.ndarray, dlo: np.ndarray,
                  dhi: np.ndarray, ly: int, lx: int) -> tuple[tuple, tuple]:
    """The integral lookups of every ROI with neuropil as events grouped by integral row
    ``0..Ly``: ``(ptr, roi, col_start, col_stop, sign)`` for rectangle edges and
    ``(ptr, roi, col, sign)`` for the ends of the dilated ROI's column runs."""
    idx = np.flatnonzero(counts > 0).astype(np.int64)
    ones = np.ones(idx.size, dtype=np.int64)
    r_rows = np.r_[rects[idx, 0], rects[idx, 1]]
    r_cols = (np.r_[idx, idx], np.r_[rects[idx, 2], rects[idx, 2]],
              np.r_[rects[idx, 3], rects[idx, 3]], np.r_[-ones, ones])
    run_roi = np.repeat(np.arange(counts.size, dtype=np.int64), np.diff(dptr))
    keep = counts[run_roi] > 0 if run_roi.size else np.zeros(0, dtype=bool)
    hi, lo, owner = dhi[keep], dlo[keep], run_roi[keep]
    signs = np.ones(owner.size, dtype=np.int64)
    p_rows = np.r_[hi // lx, lo // lx]
    p_cols = (np.r_[owner, owner], np.r_[hi % lx, lo % lx], np.r_[-signs, signs])

    def by_row(rows: np.ndarray, cols: tuple) -> tuple:
        rows = rows.astype(np.int64)
        order = np.argsort(rows, kind="stable")
        ptr = np.zeros(ly + 2, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=ly + 1), out=ptr[1:])
        return (ptr, *(np.ascontiguousarray(c, dtype=np.int64)[order] for c in cols))

    return by_row(r_rows, r_cols), by_row(p_rows, p_cols)


def _float_form(cells: sparse.csr_matrix, found: Any, ly: int, lx: int, n: int) -> FloatForm:
    coo = cells.tocoo()
    rows_parts = [coo.row.astype(np.int64)]
    cols_parts = [coo.col.astype(np.int64)]
    data_parts = [coo.data]
    ev_pos = np.empty(0, np.int64)
    ev_rows = np.empty(0, np.int64)
    ev_data = np.empty(0)
    if found is not None:
        pos: list[np.ndarray] = []
        erow: list[np.ndarray] = []
        edata: list[np.ndarray] = []
        for i, ((r0, r1, c0, c1), dilated, count) in enumerate(
                zip(found.rects, found.dilated, found.counts)):
            if count <= 0:
                continue
            ys = np.arange(r0, r1, dtype=np.int64) * (lx + 1)
            pos.extend((ys + c0, ys + c1))
            erow.append(np.full(2 * ys.size, n + i, dtype=np.int64))
            edata.append(np.r_[np.full(ys.size, -1.0 / count), np.full(ys.size, 1.0 / count)])
            rows_parts.append(np.full(dilated.size, n + i, dtype=np.int64))
            cols_parts.append(dilated)
            data_parts.append(np.full(dilated.size, -1.0 / count))
        if pos:
            ev_pos, ev_rows, ev_data = np.concatenate(pos), np.concatenate(erow), \
                np.concatenate(edata)
    n_rows = 2 * n if found is not None else n
    matrix = sparse.csc_matrix(
        (np.concatenate(data_parts), (np.concatenate(rows_parts), np.concatenate(cols_parts))),
        shape=(n_rows, ly * lx))
    matrix.sort_indices()
    order = np.argsort(ev_pos, kind="stable")
    evptr = np.zeros(ly * (lx + 1) + 1, dtype=np.int64)
    np.cumsum(np.bincount(ev_pos, minlength=ly * (lx + 1)), out=evptr[1:])
    return FloatForm(colptr=matrix.indptr.astype(np.int64),
                     rows=matrix.indices.astype(np.int32), data=matrix.data.astype(np.float64),
                     evptr=evptr, evrows=ev_rows[order].astype(np.int32),
                     evdata=ev_data[order])


def apply_operator(op: Operator, block: np.ndarray, out: np.ndarray) -> None:
    """``out[:, :frames]`` ← the traces of ``block`` (``(frames, pixels)``, C-contiguous).

    Integer blocks (:func:`integer_kernel`) need the operator's :class:`IntegerForm`, others
    its :class:`FloatForm`.
    """
    if integer_kernel(block.dtype):
        form = op.integer
        if form is None:
            raise ValueError("operator was built for float movies, got an integer block")
        # column sums of up to Ly frames rows fit an int32 for 16-bit pixels of images under
        # 32768 rows; wider pixels or taller images sum in int64
        wide = block.dtype.itemsize > 2 or op.ly >= 32768
        template = np.zeros(1, dtype=np.int64 if wide else np.int32)
        _project_int(block, op.lx, op.valid, form.cptr, form.cidx, form.cw, form.counts,
                     form.rptr, form.rroi, form.rc0, form.rc1, form.rsign, form.pptr, form.proi,
                     form.pcol, form.psign, form.order, op.neuropil, template, out)
        return
    flt = op.floating
    if flt is None:
        raise ValueError("operator was built for integer movies, got a float block")
    _project(block, op.lx, flt.colptr, flt.rows, flt.data, flt.evptr, flt.evrows, flt.evdata,
             op.valid, out)


def neuropil_masks(rois: ROISet, *, inner_radius: int = 2, min_neuropil_pixels: int = 350,
                   lam_percentile: float = 50.0) -> ROISet:
    """Each ROI's neuropil mask (suite2p's rule, see :func:`extract_traces`) as an ROISet with
    the same ids and equal weights, e.g. for plotting. An ROI without any neuropil pixel is
    left out (with a warning)."""
    rois = _check_rois(rois)
    inner_radius = check_int(inner_radius, "inner_radius", minimum=0)
    min_neuropil_pixels = check_int(min_neuropil_pixels, "min_neuropil_pixels", minimum=0)
    lam_percentile = check_real(lam_percentile, "lam_percentile", minimum=0, maximum=100)
    lx = rois.shape[1]
    pixels = neuropil_pixels(rois, inner_radius=inner_radius,
                             min_neuropil_pixels=min_neuropil_pixels,
                             lam_percentile=lam_percentile)
    out, empty = [], []
    for roi, flat in zip(rois, pixels):
        if flat.size == 0:
            empty.append(roi.id)
            continue
        out.append(ROI(flat // lx, flat % lx, id=roi.id, plane=roi.plane,
                       overlap=np.zeros(flat.size, dtype=bool)))
    if not out:
        raise InvalidArgumentError(
            f"no ROI has a neuropil pixel: with inner_radius={inner_radius} and "
            f"lam_percentile={lam_percentile} every pixel of the {rois.shape[0]}×"
            f"{rois.shape[1]} image is a cell or next to one")
    if empty:
        warnings.warn(f"ROIs {empty[:10]} have no neuropil pixels", RuntimeWarning,
                      stacklevel=3)
    return ROISet(out, rois.shape)


#: frames per thread task in the kernel: the (2 · rois, _CHUNK) float64 accumulator of 1000 ROIs
#: (256 KiB) and a (_TILE, _CHUNK) tile of pixels stay in a core's L2 cache (a multiple of 4)
_CHUNK = 16
#: pixels per tile: one contiguous stretch of each frame is read at a time (prefetch-friendly)
_TILE = 256


@numba.njit(parallel=True, cache=True, nogil=True)
def _project(block, lx, colptr, rows, data, evptr, evrows, evdata, valid,
             out):  # pragma: no cover - compiled
    """Apply an :class:`Operator` to ``block`` (``(frames, pixels)``) into ``out``.

    Frames are split into chunks of ``_CHUNK`` (one thread task each). Each image row is
    visited in tiles of up to ``_TILE`` pixels, transposed into a small pixel-major buffer (four
    frames per pass, each read as one contiguous stretch); then, pixel by pixel and for all
    frames of the chunk at once: the row's events add ``±1/count`` times the running sum of
    valid pixels, every matrix entry adds ``weight · value``, and a valid pixel adds its value
    to the running sum.
    """
    n_frames = block.shape[0]
    n_pixels = block.shape[1]
    ly = n_pixels // lx
    n_rows = out.shape[0]
    n_chunks = (n_frames + _CHUNK - 1) // _CHUNK
    for c in numba.prange(n_chunks):
        t0 = c * _CHUNK
        width = min(n_frames, t0 + _CHUNK) - t0
        acc = np.zeros((n_rows, _CHUNK))
        tile = np.zeros((_TILE, _CHUNK))
        run = np.zeros(_CHUNK)
        for y in range(ly):
            row_events = evptr[(y + 1) * (lx + 1)] > evptr[y * (lx + 1)]
            if not row_events and colptr[(y + 1) * lx] == colptr[y * lx]:
                continue
            run[:] = 0.0
            for x0 in range(0, lx, _TILE):
                x1 = min(lx, x0 + _TILE)
                p0 = y * lx + x0
                p1 = y * lx + x1
                if not row_events and colptr[p1] == colptr[p0]:
                    continue
                if width == _CHUNK:
                    for q in range(0, _CHUNK, 4):
                        f0 = block[t0 + q]
                        f1 = block[t0 + q + 1]
                        f2 = block[t0 + q + 2]
                        f3 = block[t0 + q + 3]
                        for j in range(p1 - p0):
                            v = tile[j]
                            v[q] = f0[p0 + j]
                            v[q + 1] = f1[p0 + j]
                            v[q + 2] = f2[p0 + j]
                            v[q + 3] = f3[p0 + j]
                else:
                    for j in range(p1 - p0):
                        for t in range(width):
                            tile[j, t] = block[t0 + t, p0 + j]
                for p in range(p0, p1):
                    values = tile[p - p0]
                    if row_events:
                        e_at = y * (lx + 1) + (p - y * lx)
                        for e in range(evptr[e_at], evptr[e_at + 1]):
                            target = acc[evrows[e]]
                            w = evdata[e]
                            for t in range(_CHUNK):
                                target[t] += w * run[t]
                    for k in range(colptr[p], colptr[p + 1]):
                        target = acc[rows[k]]
                        w = data[k]
                        for t in range(_CHUNK):
                            target[t] += w * values[t]
                    if row_events and valid[p]:
                        for t in range(_CHUNK):
                            run[t] += values[t]
            if row_events:
                e_at = y * (lx + 1) + lx
                for e in range(evptr[e_at], evptr[e_at + 1]):
                    target = acc[evrows[e]]
                    w = evdata[e]
                    for t in range(_CHUNK):
                        target[t] += w * run[t]
        for r in range(n_rows):
            for t in range(width):
                out[r, t0 + t] = acc[r, t]


#: frames per thread task of the integer kernel (each task owns one column integral)
_TASK_FRAMES = 4


@numba.njit(parallel=True, cache=True, nogil=True)
def _project_int(block, lx, valid, cptr, cidx, cw, counts, rptr, rroi, rc0, rc1, rsign, pptr,
                 proi, pcol, psign, order, neuropil, template,
                 out):  # pragma: no cover - compiled
    """Apply an :class:`IntegerForm` to the integer ``block`` (``(frames, pixels)``).

    Frame by frame: each ROI's weighted mean of its cell pixels, and each neuropil sum from
    the column integral of ``valid · x`` (one row of it swept down the image, exact in
    ``template``'s integer type; the events of a row read it as the sweep passes: rectangle
    columns minus the dilated ROI's column runs, in int64) divided by its pixel count; the
    neuropil sums are exact.
    """
    n_frames = block.shape[0]
    n_pixels = block.shape[1]
    ly = n_pixels // lx
    n = cptr.size - 1
    n_tasks = (n_frames + _TASK_FRAMES - 1) // _TASK_FRAMES
    last = n_frames - 1
    for task in numba.prange(n_tasks):
        t0 = task * _TASK_FRAMES
        # four frames per pass over the weights: four independent sums hide the latency of
        # the gathered loads (a short last task repeats its last frame, not stored)
        x0 = block[t0]
        x1 = block[min(t0 + 1, last)]
        x2 = block[min(t0 + 2, last)]
        x3 = block[min(t0 + 3, last)]
        width = min(n_frames, t0 + _TASK_FRAMES) - t0
        for i in order:
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            for k in range(cptr[i], cptr[i + 1]):
                w = cw[k]
                p = cidx[k]
                s0 += w * x0[p]
                s1 += w * x1[p]
                s2 += w * x2[p]
                s3 += w * x3[p]
            out[i, t0] = s0
            if width > 1:
                out[i, t0 + 1] = s1
            if width > 2:
                out[i, t0 + 2] = s2
            if width > 3:
                out[i, t0 + 3] = s3
    if not neuropil:
        return
    # a loop of its own, one frame per task (in the cell loop's tasks it ran ~20 % slower):
    # one row of the column integral (in L1 cache) swept down the image, each row's events
    # taken as it passes
    for t in numba.prange(n_frames):
        x = block[t]
        row = np.zeros(lx, dtype=template.dtype)
        totals = np.zeros(n, dtype=np.int64)
        for y in range(ly + 1):
            # row == I[y] here
            for e in range(rptr[y], rptr[y + 1]):
                part = np.int64(0)
                for c in range(rc0[e], rc1[e]):
                    part += row[c]
                totals[rroi[e]] += rsign[e] * part
            for e in range(pptr[y], pptr[y + 1]):
                totals[proi[e]] += psign[e] * np.int64(row[pcol[e]])
            if y < ly:
                at = y * lx
                for c in range(lx):
                    # a select, not a multiply: vectorises without 64-bit products
                    row[c] += x[at + c] if valid[at + c] else 0
        for i in range(n):
            count = counts[i]
            out[n + i, t] = totals[i] / count if count > 0 else 0.0


def _explicit_neuropil(rois: ROISet, **rule: Any) -> sparse.csr_matrix:
    """``(rois, Ly * Lx)`` CSR of equal neuropil weights (``1 / count`` on each mask pixel)."""
    pixels = neuropil_pixels(rois, **rule)
    indptr = np.zeros(len(pixels) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([p.size for p in pixels])
    data = np.concatenate([np.full(p.size, 1.0 / max(1, p.size)) for p in pixels])
    return sparse.csr_matrix((data, np.concatenate(pixels).astype(np.int64), indptr),
                             shape=(len(rois), rois.shape[0] * rois.shape[1]))


def _movie_shape(images: Any) -> tuple[int, ...]:
    if isinstance(images, (list, tuple)):
        raise InvalidArgumentTypeError(
            "images must be a (frames, Ly, Lx) array or lazy stack, got a "
            f"{type(images).__name__}; pass np.asarray(images)")
    shape = getattr(images, "shape", None)
    if shape is None:
        raise InvalidArgumentTypeError(
            f"images must be a (frames, Ly, Lx) array or lazy stack, got {type(images).__name__}"
        )
    shape = tuple(int(v) for v in shape)
    if len(shape) != 3:
        raise InvalidArgumentError(f"images must be (frames, Ly, Lx), got shape {shape}")
    dtype = np.dtype(getattr(images, "dtype", np.float64))
    if dtype.kind == "b" or not (np.issubdtype(dtype, np.integer)
                                 or np.issubdtype(dtype, np.floating)):
        raise InvalidArgumentTypeError(f"images must hold real numbers, got dtype {dtype}")
    return shape


def _block_dtype(images: Any) -> np.dtype:
    """The dtype of the blocks :func:`open_blocks` yields for ``images``."""
    dtype = np.dtype(getattr(images, "dtype", np.float64))
    return np.dtype(np.float32) if dtype == np.float16 else dtype.newbyteorder("=")


def _default_batch(images: Any, shape: tuple[int, ...]) -> int:
    chunks = getattr(images, "chunks", None)
    if chunks is not None and not callable(chunks):
        first = chunks[0]
        size = first[0] if isinstance(first, tuple) else first
        if isinstance(size, (int, np.integer)) and size > 0:
            return int(size)
    frame_bytes = shape[1] * shape[2] * np.dtype(getattr(images, "dtype", np.float64)).itemsize
    return max(1, _BLOCK_BYTES // max(1, frame_bytes))


def _run_blocks(blocks: Any, op: Operator, rois: ROISet, shape: tuple[int, ...],
                batch_frames: int, rule: dict, progress: bool, threads: int) -> np.ndarray:
    """``(rows, frames)`` float32 traces of every block of ``blocks`` (see :func:`open_blocks`),
    computed on up to ``threads`` numba threads (the caller restores numba's count)."""
    n, n_frames = len(rois), shape[0]
    pixels = shape[1] * shape[2]
    traces = np.empty((op.n_rows, n_frames), dtype=np.float32)
    bar = None
    explicit = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_frames, desc="extracting traces", unit="frame")
    try:
        for start, block in blocks:
            frames = block.shape[0]
            if frames != min(batch_frames, n_frames - start) or block.shape[1] != pixels:
                raise InvalidArgumentError(
                    f"images[{start}:{start + batch_frames}] gave a block of shape "
                    f"{block.shape}, expected ({min(batch_frames, n_frames - start)}, "
                    f"{pixels}) pixels"
                )
            if integer_kernel(block.dtype) != (op.integer is not None):
                # a lazy stack whose blocks are not of its declared dtype
                op = build_operator(rois, dtype=block.dtype, **rule)
            # a reader that needs CPU keeps its share of the cores while it reads (the result
            # does not depend on the thread count: each frame is one task's)
            numba.set_num_threads(blocks.compute_threads(threads))
            apply_operator(op, block, traces[:, start:start + frames])
            if rule["neuropil"] and not np.isfinite(traces[n:, start:start + frames]).all():
                # a NaN/inf pixel poisons the float kernel's running row sums, hence every
                # neuropil rectangle to its right: recompute this block's neuropil pixel by pixel
                if explicit is None:
                    explicit = _explicit_neuropil(
                        rois, inner_radius=rule["inner_radius"],
                        min_neuropil_pixels=rule["min_neuropil_pixels"],
                        lam_percentile=rule["lam_percentile"])
                traces[n:, start:start + frames] = explicit @ block.T
            if bar is not None:
                bar.update(frames)
    finally:
        if bar is not None:
            bar.close()
    return traces


def extract_traces(images: Any, rois: ROISet, *, neuropil: bool = True, inner_radius: int = 2,
                   min_neuropil_pixels: int = 350, lam_percentile: float = 50.0,
                   allow_overlap: bool = False, batch_frames: int | None = None,
                   progress: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """See :func:`CalSciPy.roi_tools.extract_traces`."""
    rois = _check_rois(rois)
    shape = _movie_shape(images)
    if shape[1:] != rois.shape:
        raise InvalidArgumentError(
            f"images have frames of {shape[1]}×{shape[2]} px but the ROIs were drawn on "
            f"{rois.shape[0]}×{rois.shape[1]} px"
        )
    planes = np.unique(rois.planes)
    if planes.size > 1:
        raise InvalidArgumentError(
            f"rois span planes {planes.tolist()}; a movie is one plane: extract each with "
            "rois.select(plane=k)"
        )
    inner_radius = check_int(inner_radius, "inner_radius", minimum=0)
    min_neuropil_pixels = check_int(min_neuropil_pixels, "min_neuropil_pixels", minimum=0)
    lam_percentile = check_real(lam_percentile, "lam_percentile", minimum=0, maximum=100)
    batch_frames = (_default_batch(images, shape) if batch_frames is None
                    else check_int(batch_frames, "batch_frames", minimum=1))
    if shape[0] == 0:
        raise InvalidArgumentError("images has no frames")

    rule: dict[str, Any] = dict(neuropil=bool(neuropil), inner_radius=inner_radius,
                                min_neuropil_pixels=min_neuropil_pixels,
                                lam_percentile=lam_percentile, allow_overlap=bool(allow_overlap))
    # the first blocks are read (and the file read ahead) while the masks are built
    with open_blocks(images, batch_frames) as blocks:
        op = build_operator(rois, dtype=_block_dtype(images), **rule)
        if op.empty_cells:
            warnings.warn(
                f"ROIs {list(op.empty_cells[:10])} have no pixel left after dropping pixels "
                "shared with other ROIs (allow_overlap=False); their F is NaN", RuntimeWarning,
                stacklevel=3)
        if op.empty_neuropil:
            warnings.warn(f"ROIs {list(op.empty_neuropil[:10])} have no neuropil pixels; their "
                          "Fneu is NaN", RuntimeWarning, stacklevel=3)
        threads = numba.get_num_threads()
        try:
            traces = _run_blocks(blocks, op, rois, shape, batch_frames, rule, progress, threads)
        finally:
            numba.set_num_threads(threads)
    n = len(rois)
    F, Fneu = traces[:n], (traces[n:] if neuropil else None)
    for ids, target in ((op.empty_cells, F), (op.empty_neuropil, Fneu)):
        if ids:
            # empty_neuropil is only ever filled when neuropil is on, so Fneu is an array here
            assert target is not None
            target[np.isin(rois.ids, ids)] = np.nan
    return F, Fneu


def _check_pair(F: Any, Fneu: Any) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for name, value in (("F", F), ("Fneu", Fneu)):
        arr = np.asarray(value)
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                     or np.issubdtype(arr.dtype, np.floating)):
            raise InvalidArgumentTypeError(
                f"{name} must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim not in (1, 2):
            raise InvalidArgumentError(
                f"{name} must be (frames,) or (rois, frames), got shape {arr.shape}"
            )
        arrays.append(arr)
    if arrays[0].shape != arrays[1].shape:
        raise InvalidArgumentError(
            f"F has shape {arrays[0].shape} but Fneu has shape {arrays[1].shape}: they must "
            "be the same (rois, frames)"
        )
    return arrays[0], arrays[1]


#: fallback of coefficient="estimate" (suite2p's default neucoeff)
DEFAULT_COEFFICIENT = 0.7
#: estimate accepted when the quiet-frame fit explains at least this fraction of F's variance
_MIN_R2 = 0.2
_MIN_QUIET_FRAMES = 20


def _estimate_one(f: np.ndarray, g: np.ndarray) -> tuple[float, bool]:
    """Slope of F on Fneu over quiet frames (transients excluded iteratively); (value, ok)."""
    finite = np.isfinite(f) & np.isfinite(g)
    if finite.sum() < _MIN_QUIET_FRAMES:
        return DEFAULT_COEFFICIENT, False
    f, g = f[finite], g[finite]
    quiet = np.ones(f.size, dtype=bool)
    slope = DEFAULT_COEFFICIENT
    for _ in range(5):
        gq, fq = g[quiet], f[quiet]
        gc = gq - gq.mean()
        var = gc @ gc
        if var <= 0 or quiet.sum() < _MIN_QUIET_FRAMES:
            return DEFAULT_COEFFICIENT, False
        slope = float(gc @ (fq - fq.mean()) / var)
        resid = f - slope * g
        centre = np.median(resid[quiet])
        mad = 1.4826 * np.median(np.abs(resid[quiet] - centre))
        if mad == 0:
            break
        # calcium transients are positive excursions of F: frames above 2 robust s.d. are not
        # quiet (a symmetric cut would also keep the fit robust to negative outliers)
        new_quiet = (resid - centre) < 2.0 * mad
        if np.array_equal(new_quiet, quiet):
            break
        quiet = new_quiet
    gq, fq = g[quiet], f[quiet]
    gc, fc = gq - gq.mean(), fq - fq.mean()
    denom = (gc @ gc) * (fc @ fc)
    r2 = (gc @ fc) ** 2 / denom if denom > 0 else 0.0
    if not math.isfinite(slope) or r2 < _MIN_R2 or quiet.sum() < _MIN_QUIET_FRAMES:
        return DEFAULT_COEFFICIENT, False
    return float(min(1.0, max(0.0, slope))), True


def subtract_neuropil(F: Any, Fneu: Any, coefficient: float | str = DEFAULT_COEFFICIENT, *,
                      return_coefficients: bool = False) -> Any:
    """See :func:`CalSciPy.roi_tools.subtract_neuropil`."""
    F_arr, G_arr = _check_pair(F, Fneu)
    was_1d = F_arr.ndim == 1
    F2 = F_arr[np.newaxis] if was_1d else F_arr
    G2 = G_arr[np.newaxis] if was_1d else G_arr
    dtype = np.float32 if F2.dtype == np.float32 and G2.dtype == np.float32 else np.float64
    if isinstance(coefficient, str):
        if coefficient != "estimate":
            raise InvalidArgumentError(
                f"coefficient must be a number >= 0 or 'estimate', got {coefficient!r}"
            )
        coefs = np.empty(F2.shape[0], dtype=np.float64)
        poor = []
        for i in range(F2.shape[0]):
            coefs[i], ok = _estimate_one(F2[i].astype(np.float64), G2[i].astype(np.float64))
            if not ok:
                poor.append(i)
        if poor:
            warnings.warn(
                f"neuropil coefficient: poor fit for {len(poor)} of {F2.shape[0]} ROIs "
                f"(rows {poor[:10]}{'...' if len(poor) > 10 else ''}); used "
                f"{DEFAULT_COEFFICIENT}", RuntimeWarning, stacklevel=3)
    else:
        value = check_real(coefficient, "coefficient", minimum=0.0)
        coefs = np.full(F2.shape[0], value)
    result = (F2 - coefs[:, None].astype(dtype) * G2).astype(dtype, copy=False)
    result = result[0] if was_1d else result
    if return_coefficients:
        return result, (coefs[0] if was_1d else coefs)
    return result
