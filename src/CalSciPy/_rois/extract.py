"""Trace extraction: one sparse ``(2 · rois, pixels)`` × ``(pixels, frames)`` product per block."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numba
import numpy as np
from scipy import sparse

from CalSciPy._checks import check_int, check_real
from CalSciPy._rois.blocks import read_blocks
from CalSciPy._rois.neuropil import neuropil_pixels
from CalSciPy._rois.roi import ROI, ROISet
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["cell_weights", "extract_traces", "neuropil_masks", "subtract_neuropil"]

#: bytes of movie per block when ``batch_frames`` is not given (the block is read into memory
#: for lazy stacks and dask arrays; for numpy arrays and memmaps it is a view)
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

    def cat(parts: list, dtype: Any) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype)

    matrix = sparse.csr_matrix((cat(data, np.float64), cat(indices, np.int64), indptr),
                               shape=(len(rois), ly * lx))
    matrix.sort_indices()
    return matrix, empty


def _neuropil_matrix(rois: ROISet, inner_radius: int, min_neuropil_pixels: int,
                     lam_percentile: float) -> tuple[sparse.csr_matrix, list[int]]:
    pixels = neuropil_pixels(rois, inner_radius=inner_radius,
                             min_neuropil_pixels=min_neuropil_pixels,
                             lam_percentile=lam_percentile)
    indptr = np.zeros(len(rois) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([p.size for p in pixels])
    data = np.concatenate([np.full(p.size, 1.0 / p.size) if p.size else np.empty(0)
                           for p in pixels])
    matrix = sparse.csr_matrix((data, np.concatenate(pixels), indptr),
                               shape=(len(rois), rois.shape[0] * rois.shape[1]))
    empty = [int(i) for i, p in zip(rois.ids, pixels) if p.size == 0]
    return matrix, empty


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
    if empty:
        warnings.warn(f"ROIs {empty[:10]} have no neuropil pixels", RuntimeWarning,
                      stacklevel=3)
    return ROISet(out, rois.shape)


#: frames per thread task in the kernel: the (2 · rois, _CHUNK) float64 accumulator of 1000 ROIs
#: (256 KiB) and a (_TILE, _CHUNK) tile of pixels stay in a core's L2 cache
_CHUNK = 16
#: pixels per tile: one contiguous stretch of each frame is read at a time (prefetch-friendly)
_TILE = 256


@numba.njit(parallel=True, cache=True, nogil=True)
def _project(block, colptr, rows, data, out):  # pragma: no cover - compiled
    """``out[r, t] = Σ_p W[r, p] · block[t, p]`` for a CSC ``W`` (``colptr``, ``rows``, ``data``).

    Frames are split into chunks of ``_CHUNK`` (one thread task each). Within a chunk the pixels
    are visited in tiles of ``_TILE``: the tile is transposed into a small pixel-major buffer
    (each frame read as one contiguous stretch), then every non-zero ``(r, p)`` adds
    ``W[r, p] · frames`` to row ``r`` of the accumulator in one vectorisable loop over frames.
    Compared with gathering ``block[t, p]`` per non-zero and frame this reads the movie
    sequentially and does ``_CHUNK`` multiply-adds per matrix entry read.
    """
    n_frames = block.shape[0]
    n_pixels = block.shape[1]
    n_rows = out.shape[0]
    n_chunks = (n_frames + _CHUNK - 1) // _CHUNK
    for c in numba.prange(n_chunks):
        t0 = c * _CHUNK
        width = min(n_frames, t0 + _CHUNK) - t0
        acc = np.zeros((n_rows, _CHUNK))
        tile = np.zeros((_TILE, _CHUNK))
        for p0 in range(0, n_pixels, _TILE):
            p1 = min(n_pixels, p0 + _TILE)
            if colptr[p1] == colptr[p0]:
                continue
            for t in range(width):
                frame = block[t0 + t]
                for j in range(p1 - p0):
                    tile[j, t] = frame[p0 + j]
            for p in range(p0, p1):
                values = tile[p - p0]
                for k in range(colptr[p], colptr[p + 1]):
                    row = acc[rows[k]]
                    w = data[k]
                    for t in range(_CHUNK):
                        row[t] += w * values[t]
        for r in range(n_rows):
            for t in range(width):
                out[r, t0 + t] = acc[r, t]


def _movie_shape(images: Any) -> tuple[int, ...]:
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


def _default_batch(images: Any, shape: tuple[int, ...]) -> int:
    chunks = getattr(images, "chunks", None)
    if chunks is not None and not callable(chunks):
        first = chunks[0]
        size = first[0] if isinstance(first, tuple) else first
        if isinstance(size, (int, np.integer)) and size > 0:
            return int(size)
    frame_bytes = shape[1] * shape[2] * np.dtype(getattr(images, "dtype", np.float64)).itemsize
    return max(1, _BLOCK_BYTES // max(1, frame_bytes))


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

    cells, empty = cell_weights(rois, bool(allow_overlap))
    if empty:
        warnings.warn(
            f"ROIs {empty[:10]} have no pixel left after dropping pixels shared with other ROIs "
            "(allow_overlap=False); their F is NaN", RuntimeWarning, stacklevel=3)
    blocks = [cells]
    if neuropil:
        neu, empty_neu = _neuropil_matrix(rois, inner_radius, min_neuropil_pixels,
                                          lam_percentile)
        if empty_neu:
            warnings.warn(f"ROIs {empty_neu[:10]} have no neuropil pixels; their Fneu is NaN",
                          RuntimeWarning, stacklevel=3)
        blocks.append(neu)
    matrix = sparse.vstack(blocks, format="csc")
    matrix.sort_indices()
    colptr = matrix.indptr.astype(np.int64)
    rows = matrix.indices.astype(np.int32)
    data = matrix.data.astype(np.float64)

    n, n_frames = len(rois), shape[0]
    traces = np.empty((matrix.shape[0], n_frames), dtype=np.float32)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_frames, desc="extracting traces", unit="frame")
    try:
        for start, block in read_blocks(images, batch_frames):
            frames = block.shape[0]
            if frames != min(batch_frames, n_frames - start) or block.shape[1] != matrix.shape[1]:
                raise InvalidArgumentError(
                    f"images[{start}:{start + batch_frames}] gave a block of shape "
                    f"{block.shape}, expected ({min(batch_frames, n_frames - start)}, "
                    f"{matrix.shape[1]}) pixels"
                )
            _project(block, colptr, rows, data, traces[:, start:start + frames])
            if bar is not None:
                bar.update(frames)
    finally:
        if bar is not None:
            bar.close()
    F, Fneu = traces[:n], (traces[n:] if neuropil else None)
    for ids, target in ((empty, F), (empty_neu if neuropil else [], Fneu)):
        if ids:
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
