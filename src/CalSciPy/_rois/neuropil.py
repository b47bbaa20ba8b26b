"""suite2p's neuropil rule (``suite2p.extraction.masks``, default non-circular masks).

For each ROI:

1. *cell pixels* of the whole segmentation: ``lammap`` is the largest weight of any ROI at each
   pixel; a pixel is a cell pixel when ``lammap > 0`` and ``lammap`` is not below the
   ``lam_percentile`` percentile of ``lammap`` in a ``int(5 × median radius)`` square window
   around it (``scipy.ndimage.percentile_filter``, so dim edge pixels of a cell stay usable as
   neuropil); ``lam_percentile = 0`` makes every ROI pixel a cell pixel;
2. the ROI is dilated ``inner_radius`` times (4-connected) — the ring next to the cell is
   never neuropil;
3. a rectangle, the dilated ROI's bounding box grown by 5 px per step (at most 100 steps,
   clipped to the image), grows until it holds more than ``min_neuropil_pixels`` non-cell pixels
   beyond those in the dilated ROI;
4. the neuropil mask is the rectangle's non-cell pixels outside the dilated ROI, equal weights.

This reproduces the ``neuropil_mask`` entries of real suite2p 0.12 ``stat.npy`` exactly (tested
on the fixture). Counts use a summed-area table, so each ROI costs O(its rectangle).
The percentile filter is evaluated only at ROI pixels (where its result matters).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy import ndimage

from CalSciPy._rois.roi import ROISet

__all__ = ["NeuropilRects", "cell_pixels", "neuropil_pixels", "neuropil_rects"]

#: suite2p grows the neuropil rectangle by this many pixels per side and step ...
_EXTEND_BY = 5
#: ... for at most this many steps
_MAX_STEPS = 100


def _reflect_table(length: int, half: int, size: int) -> np.ndarray:
    """Index ``j + half`` -> scipy's 'reflect' index of ``j`` (d c b a | a b c d | d c b a)
    for ``j`` in ``[-half, length + size)``."""
    j = np.arange(-half, length + size, dtype=np.int64) % (2 * length)
    return np.where(j >= length, 2 * length - 1 - j, j)


@numba.njit(cache=True, parallel=True)
def _rank_at(image, rows, cols, size, rank, rmap, cmap):  # pragma: no cover - compiled
    """``scipy.ndimage.rank_filter(image, rank, size)[rows, cols]`` computed only at the
    given pixels (the ROI pixels, a few percent of the image); ``rmap``/``cmap`` map shifted
    indices to reflected ones."""
    out = np.empty(rows.size)
    for i in numba.prange(rows.size):
        # weights are >= 0 and mostly 0 around an ROI: count the zeros (the smallest values)
        # and select among the non-zero ones only
        window = np.empty(size * size)
        n = 0
        zeros = 0
        for dr in range(size):
            r = rmap[rows[i] + dr]
            for dc in range(size):
                value = image[r, cmap[cols[i] + dc]]
                if value == 0:
                    zeros += 1
                else:
                    window[n] = value
                    n += 1
        if rank < zeros:
            out[i] = 0.0
        else:
            out[i] = np.partition(window[:n], rank - zeros)[rank - zeros]
    return out


def cell_pixels(rois: ROISet, lam_percentile: float = 50.0) -> np.ndarray:
    """``(Ly, Lx)`` bool map of the pixels no neuropil mask may use (step 1 of the rule),
    computed over ``rois`` (pass the segmentation's full set, :attr:`ROISet.context`).

    Equals suite2p's ``~((lammap < percentile_filter(lammap, lam_percentile, size)) |
    (lammap == 0))``; the filter is only evaluated where ``lammap > 0`` (the result is False
    elsewhere), with scipy's window, rank and 'reflect' edges.
    """
    ly, lx = rois.shape
    lammap: np.ndarray = np.zeros(ly * lx, dtype=np.float64)
    for roi in rois:
        flat = roi.ypix * lx + roi.xpix
        np.maximum.at(lammap, flat, roi.lam)
    lammap = lammap.reshape(ly, lx)
    if lam_percentile <= 0:
        return lammap > 0
    size = max(1, int(float(np.median(rois.radii)) * 5))
    filter_size = size * size
    # scipy.ndimage.percentile_filter's rank for this percentile
    rank = filter_size - 1 if lam_percentile == 100 else int(
        float(filter_size) * lam_percentile / 100.0)
    rows, cols = np.nonzero(lammap)
    half = size // 2
    local = _rank_at(lammap, rows.astype(np.int64), cols.astype(np.int64), size, rank,
                     _reflect_table(ly, half, size), _reflect_table(lx, half, size))
    out = np.zeros((ly, lx), dtype=bool)
    out[rows, cols] = ~(lammap[rows, cols] < local)
    return out


def _dilate(ypix: np.ndarray, xpix: np.ndarray, shape: tuple[int, int],
            iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels within 4-connected distance ``iterations`` of the ROI, inside the image."""
    if iterations == 0:
        return ypix, xpix
    ly, lx = shape
    r0, r1 = max(0, ypix.min() - iterations), min(ly, ypix.max() + iterations + 1)
    c0, c1 = max(0, xpix.min() - iterations), min(lx, xpix.max() + iterations + 1)
    local = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    local[ypix - r0, xpix - c0] = True
    local = ndimage.binary_dilation(local, structure=ndimage.generate_binary_structure(2, 1),
                                    iterations=iterations)
    rows, cols = np.nonzero(local)
    return rows + r0, cols + c0


@dataclass(frozen=True)
class NeuropilRects:
    """Each ROI's neuropil as ``valid ∩ rectangle − dilated ROI`` (the rule's own form).

    Attributes
    ----------
    valid
        ``(Ly, Lx)`` bool: pixels no cell claims.
    rects
        ``(rois, 4)`` int64 ``(row_start, row_stop, col_start, col_stop)`` of each rectangle.
    dilated
        Per ROI, sorted flat indices of the dilated ROI's ``valid`` pixels (inside its
        rectangle, excluded from the neuropil).
    counts
        ``(rois,)`` int64 neuropil pixels: ``valid`` pixels of the rectangle minus ``dilated``.
    """

    valid: np.ndarray
    rects: np.ndarray
    dilated: list
    counts: np.ndarray


def neuropil_rects(rois: ROISet, *, inner_radius: int = 2, min_neuropil_pixels: int = 350,
                   lam_percentile: float = 50.0) -> NeuropilRects:
    """Steps 1-3 of the rule for every ROI (cell pixels from ``rois.context``)."""
    ly, lx = rois.shape
    valid = ~cell_pixels(rois.context, lam_percentile)
    table = np.zeros((ly + 1, lx + 1), dtype=np.int64)
    table[1:, 1:] = valid.cumsum(axis=0, dtype=np.int64).cumsum(axis=1)
    steps = np.arange(1, _MAX_STEPS + 1) * _EXTEND_BY
    rects = np.empty((len(rois), 4), dtype=np.int64)
    counts = np.empty(len(rois), dtype=np.int64)
    dilated = []
    for i, roi in enumerate(rois):
        ypix, xpix = _dilate(roi.ypix, roi.xpix, (ly, lx), inner_radius)
        inside = valid[ypix, xpix]
        nring = int(inside.sum())
        r0 = np.maximum(0, ypix.min() - steps)
        r1 = np.minimum(ly, ypix.max() + 1 + steps)
        c0 = np.maximum(0, xpix.min() - steps)
        c1 = np.minimum(lx, xpix.max() + 1 + steps)
        totals = table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0]
        enough = np.flatnonzero(totals - nring > min_neuropil_pixels)
        k = int(enough[0]) if enough.size else _MAX_STEPS - 1
        rects[i] = r0[k], r1[k], c0[k], c1[k]
        counts[i] = totals[k] - nring
        dilated.append(np.sort(ypix[inside] * lx + xpix[inside]))
    return NeuropilRects(valid=valid, rects=rects, dilated=dilated, counts=counts)


def neuropil_pixels(rois: ROISet, *, inner_radius: int = 2, min_neuropil_pixels: int = 350,
                    lam_percentile: float = 50.0) -> list[np.ndarray]:
    """Flat pixel indices (``row * Lx + col``, sorted) of each ROI's neuropil mask, in order.

    The cell pixels excluded are those of ``rois.context`` (the full segmentation).
    """
    lx = rois.shape[1]
    planes = rois.planes
    if np.unique(planes).size > 1:
        # each plane's masks avoid that plane's cells only
        out: list = [None] * len(rois)
        for plane in np.unique(planes):
            where = np.flatnonzero(planes == plane)
            part = neuropil_pixels(rois.select(plane=int(plane)), inner_radius=inner_radius,
                                   min_neuropil_pixels=min_neuropil_pixels,
                                   lam_percentile=lam_percentile)
            for i, flat in zip(where, part):
                out[i] = flat
        return out
    found = neuropil_rects(rois, inner_radius=inner_radius,
                           min_neuropil_pixels=min_neuropil_pixels,
                           lam_percentile=lam_percentile)
    out = []
    for (r0, r1, c0, c1), dilated in zip(found.rects, found.dilated):
        local = found.valid[r0:r1, c0:c1].copy()
        rows, cols = dilated // lx - r0, dilated % lx - c0
        local[rows, cols] = False
        rows, cols = np.nonzero(local)
        out.append((rows + r0) * lx + cols + c0)
    return out
