"""A straightforward re-implementation of suite2p's mask rules (``suite2p.extraction.masks``,
0.12-1.x, default non-circular neuropil), written loop by loop from suite2p's description, as
the reference the vectorised code in ``CalSciPy._rois`` is checked against."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import percentile_filter


def extend_roi(ypix, xpix, ly, lx, niter):
    """suite2p's extendROI: add the 4 neighbours ``niter`` times, dropping pixels outside."""
    for _ in range(niter):
        yx = np.array(((ypix, ypix, ypix, ypix - 1, ypix + 1),
                       (xpix, xpix + 1, xpix - 1, xpix, xpix))).reshape(2, -1)
        yu = np.unique(yx, axis=1)
        inside = (yu[0] >= 0) & (yu[0] < ly) & (yu[1] >= 0) & (yu[1] < lx)
        ypix, xpix = yu[:, inside]
    return ypix, xpix


def reference_cell_pix(stats, ly, lx, lam_percentile=50.0):
    lammap = np.zeros((ly, lx))
    radii = []
    for st in stats:
        lammap[st["ypix"], st["xpix"]] = np.maximum(lammap[st["ypix"], st["xpix"]], st["lam"])
        radii.append(st["radius"])
    if lam_percentile > 0:
        filt = percentile_filter(lammap, percentile=lam_percentile,
                                 size=max(1, int(np.median(radii) * 5)))
        return ~np.logical_or(lammap < filt, lammap == 0)
    return lammap > 0


def reference_neuropil(stats, ly, lx, inner_radius=2, min_neuropil_pixels=350,
                       lam_percentile=50.0, cell_stats=None):
    """One sorted flat-index array per ROI of ``stats``; cell pixels from ``cell_stats``."""
    cell_pix = reference_cell_pix(cell_stats if cell_stats is not None else stats, ly, lx,
                                  lam_percentile)
    out = []
    for st in stats:
        ypix, xpix = extend_roi(np.asarray(st["ypix"]), np.asarray(st["xpix"]), ly, lx,
                                inner_radius)
        nring = np.sum(~cell_pix[ypix, xpix])
        y1, x1 = ypix.copy(), xpix.copy()
        reps = 0
        while reps < 100 and np.sum(~cell_pix[y1, x1]) - nring <= min_neuropil_pixels:
            reps += 1
            y1, x1 = np.meshgrid(np.arange(max(0, y1.min() - 5), min(ly, y1.max() + 6)),
                                 np.arange(max(0, x1.min() - 5), min(lx, x1.max() + 6)),
                                 indexing="ij")
        mask = np.zeros((ly, lx), bool)
        keep = ~cell_pix[y1, x1]
        mask[y1[keep], x1[keep]] = True
        mask[ypix, xpix] = False
        out.append(np.flatnonzero(mask))
    return out


def reference_extract(movie, stats, neuropil_pixels, allow_overlap=False):
    """Per-ROI loops: F = normalised-lam weighted mean of kept pixels, Fneu = plain mean."""
    frames = movie.shape[0]
    flat = movie.reshape(frames, -1).astype(np.float64)
    lx = movie.shape[2]
    F = np.zeros((len(stats), frames))
    Fneu = np.zeros((len(stats), frames))
    for i, st in enumerate(stats):
        keep = np.ones(len(st["ypix"]), bool) if allow_overlap else ~np.asarray(st["overlap"])
        idx = np.asarray(st["ypix"])[keep] * lx + np.asarray(st["xpix"])[keep]
        lam = np.asarray(st["lam"], dtype=np.float64)[keep]
        F[i] = flat[:, idx] @ (lam / lam.sum())
        Fneu[i] = flat[:, neuropil_pixels[i]].mean(axis=1)
    return F, Fneu


def stats_of(rois):
    """suite2p-style stat dicts of an ROISet (radius and overlap as the ROIs have them)."""
    return [{"ypix": r.ypix, "xpix": r.xpix, "lam": r.lam, "radius": r.radius,
             "overlap": r.overlap} for r in rois]
