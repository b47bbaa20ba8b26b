"""CPU filters: numba kernels for the 3×3×3 median and the separable gaussian, scipy otherwise.

Both kernels reproduce ``scipy.ndimage`` with ``mode="reflect"`` (half-sample symmetric,
``d c b a | a b c d | d c b a``) on ``(frames, y, x)`` stacks and run in parallel over frames.

Median 3×3×3
    For every output row ``(t, y)`` the nine values of each ``(t±1, y±1)`` column at ``x`` are
    sorted once with a 28-comparator network; each sorted column is shared by the outputs at
    ``x-1``, ``x`` and ``x+1``. For the three sorted columns ``A, B, C`` of an output, sorting
    the three values of every rank ``i`` gives ``L_i <= M_i <= H_i`` whose columns stay sorted.
    In that 9×3 matrix the element ``(i, j)`` has at least ``(i+1)(j+1)`` values at or below it
    and ``(9-i)(3-j)`` at or above it, which rules out 14 of the 27 values: 7 certainly below
    the median and 7 above. The median is the 7th smallest of the 13 candidates
    ``L_5..L_8``, ``M_2..M_6``, ``H_0..H_3`` (three sorted lists): merge ``L`` and ``H``
    (Batcher, 9 comparators) and take the 7th of the union of two sorted lists as
    ``min_i max(P_i, M_(7-i))``. Everything is branch-free min/max over contiguous ``x``, so
    LLVM vectorises it. Results equal ``scipy.ndimage.median_filter(size=3, mode="reflect")``
    exactly for NaN-free data.

Gaussian
    Separable correlation with scipy's kernel (``exp(-x²/2σ²)`` normalised, radius
    ``int(truncate·σ + 0.5)``), axes in scipy's order (frames, y, x), symmetric taps
    ``w_0·v_0 + Σ w_k·(v_-k + v_k)`` as in scipy's symmetric path, in two passes:

    * the frame axis, parallel over bands of rows: each band walks every output frame in
      turn, so the ``2r_t + 1`` input rows an output row needs stay in cache and each input
      row comes from memory once; the result goes into the output array. Output frames go
      four at a time, which share most of their input rows (fourteen row loads per four taps
      of the four outputs instead of thirty-two), and the rows the next four bring in are
      prefetched (:mod:`CalSciPy._prefetch`): the hardware prefetcher does not follow a
      stride of a whole frame, and without the hints the memory time adds to the arithmetic.
      Each row is swept from the column where the input's loads reach a 32-byte boundary
      (the columns before it separately): numpy places large arrays 16 bytes past one, and
      every other load would cross a cache line. Large float outputs are written with
      streaming stores (:data:`_STREAM_MIN_BYTES`).
    * y and x in place, frame by frame, through a ring of ``2r_y + 4`` converted rows; where
      the y window is wide (r_y >= 10) the rows go four at a time as well.

    Taps go in groups of four, so that each accumulator row is loaded and stored once per
    four taps. Grouped and single outputs use the same tap groups in the same order, so
    their results are identical, and so are the results of every schedule. (A third path,
    all three axes in one trip through memory by stripes of rows, was faster at σ ≲ 1.5
    before the grouped outputs and prefetches; it re-filtered the stripe halos along frames
    and, measured afterwards on 512 × 512 uint16 and float32 stacks of 4 to 500 frames at
    σ = 0.5 to 3, lost to the two passes on every one of them, so it was removed.)

    Loops are written so LLVM vectorises them: explicit conversions to the work type (numba
    would add uint16 to float32 in float64), slices instead of computed indices (numba's
    negative-index check blocks vectorisation), dynamic scheduling of bands and frames
    (a static split waits for a thread that shares its core with other work).
    Like scipy, an integer stack is truncated to its dtype after every axis (values within
    1e-6 relative, at most 0.49, of an integer count as that integer, so a flat region stays
    flat; scipy's float64 kernel for some σ sums to slightly below 1 and loses up to one unit
    per axis there). The arithmetic is float32 for 8/16-bit integers and float32 input,
    float64 otherwise (scipy uses float64 throughout, hence the differences: at most 1 unit
    for integers, about 1e-6 relative for float32).
"""
from __future__ import annotations

import threading
import warnings

import numba
import numpy as np
import scipy.ndimage as ndi
from numba import njit, prange

from CalSciPy._cachehints import (
    prefetch_read,
    prefetch_write,
    store_fence,
    store_row,
)
from CalSciPy._filters.median import median_histogram
from CalSciPy._smoothing import gaussian_kernel

__all__ = [
    "FAST_DTYPES",
    "gaussian_cpu",
    "median_cpu",
    "reflect_indices",
]

#: numba's workqueue threading layer aborts on concurrent calls of parallel kernels (e.g. from
#: dask worker threads); calls are serialised, each one already uses every core
_KERNEL_LOCK = threading.Lock()

#: dtypes the numba kernels are compiled for; anything else goes to scipy
FAST_DTYPES = tuple(
    np.dtype(d)
    for d in ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
              "float32", "float64")
)


def reflect_indices(n: int, radius: int) -> np.ndarray:
    """Source index of each padded position ``-radius .. n+radius-1`` under scipy's 'reflect'.

    The extension is symmetric about the half-sample edges and periodic with period ``2n``,
    which is also what scipy does when ``radius > n``.

    Parameters
    ----------
    n : int
        Axis length (>= 1).
    radius : int
        Padding on each side (>= 0).

    Returns
    -------
    numpy.ndarray
        int64 ``(n + 2*radius,)``; entry ``p`` is the source of padded position ``p - radius``.
    """
    positions = np.arange(-radius, n + radius, dtype=np.int64) % (2 * n)
    return np.where(positions >= n, 2 * n - 1 - positions, positions)


# ---------------------------------------------------------------------------------------------
# median 3×3×3
# ---------------------------------------------------------------------------------------------
@njit(cache=True)
def _cs(a, b):
    """Compare-swap: ``(min, max)``."""
    return (a, b) if a <= b else (b, a)


@njit(cache=True)
def _min3(a, b, c):
    m = a if a <= b else b
    return m if m <= c else c


@njit(cache=True)
def _max3(a, b, c):
    m = a if a >= b else b
    return m if m >= c else c


@njit(cache=True)
def _med3(a, b, c):
    lo = a if a <= b else b
    hi = a if a >= b else b
    m = hi if hi <= c else c
    return m if m >= lo else lo


@njit(cache=True)
def _mn(a, b):
    return a if a <= b else b


@njit(cache=True)
def _mx(a, b):
    return a if a >= b else b


@njit(parallel=True, cache=True)
def _median27(images, out, t_src, y_src):  # pragma: no cover - compiled by numba
    for t in prange(images.shape[0]):
        # sorted (t±1, y±1) columns, padded by one reflected column on each side
        col = np.empty((9, images.shape[2] + 2), dtype=images.dtype)
        _median_frame(images, out, t, t_src[t], t_src[t + 2], y_src, col)


@njit(cache=True)
def _median_frame(images, out, t, ta, tc, y_src, col):  # pragma: no cover - compiled by numba
    # the per-frame body is a separate (LLVM-inlined) function: numba's parfor passes on one
    # big prange body would take tens of seconds to compile
    n_y, n_x = images.shape[1], images.shape[2]
    for y in range(n_y):
        ya = y_src[y]
        yc = y_src[y + 2]
        for x in range(n_x):
            v0 = images[ta, ya, x]
            v1 = images[ta, y, x]
            v2 = images[ta, yc, x]
            v3 = images[t, ya, x]
            v4 = images[t, y, x]
            v5 = images[t, yc, x]
            v6 = images[tc, ya, x]
            v7 = images[tc, y, x]
            v8 = images[tc, yc, x]
            # Batcher odd-even merge sort of 16, restricted to 9 inputs (28 comparators)
            v0, v1 = _cs(v0, v1)
            v2, v3 = _cs(v2, v3)
            v0, v2 = _cs(v0, v2)
            v1, v3 = _cs(v1, v3)
            v1, v2 = _cs(v1, v2)
            v4, v5 = _cs(v4, v5)
            v6, v7 = _cs(v6, v7)
            v4, v6 = _cs(v4, v6)
            v5, v7 = _cs(v5, v7)
            v5, v6 = _cs(v5, v6)
            v0, v4 = _cs(v0, v4)
            v2, v6 = _cs(v2, v6)
            v2, v4 = _cs(v2, v4)
            v1, v5 = _cs(v1, v5)
            v3, v7 = _cs(v3, v7)
            v3, v5 = _cs(v3, v5)
            v1, v2 = _cs(v1, v2)
            v3, v4 = _cs(v3, v4)
            v5, v6 = _cs(v5, v6)
            v0, v8 = _cs(v0, v8)
            v4, v8 = _cs(v4, v8)
            v2, v4 = _cs(v2, v4)
            v6, v8 = _cs(v6, v8)
            v3, v5 = _cs(v3, v5)
            v1, v2 = _cs(v1, v2)
            v3, v4 = _cs(v3, v4)
            v5, v6 = _cs(v5, v6)
            v7, v8 = _cs(v7, v8)
            col[0, x + 1] = v0
            col[1, x + 1] = v1
            col[2, x + 1] = v2
            col[3, x + 1] = v3
            col[4, x + 1] = v4
            col[5, x + 1] = v5
            col[6, x + 1] = v6
            col[7, x + 1] = v7
            col[8, x + 1] = v8
        for k in range(9):
            col[k, 0] = col[k, 1]
            col[k, n_x + 1] = col[k, n_x]
        for x in range(n_x):
            # candidates (see module docstring): L_5..L_8, M_2..M_6, H_0..H_3
            s0 = _min3(col[5, x], col[5, x + 1], col[5, x + 2])
            s1 = _min3(col[6, x], col[6, x + 1], col[6, x + 2])
            s2 = _min3(col[7, x], col[7, x + 1], col[7, x + 2])
            s3 = _min3(col[8, x], col[8, x + 1], col[8, x + 2])
            s4 = _max3(col[0, x], col[0, x + 1], col[0, x + 2])
            s5 = _max3(col[1, x], col[1, x + 1], col[1, x + 2])
            s6 = _max3(col[2, x], col[2, x + 1], col[2, x + 2])
            s7 = _max3(col[3, x], col[3, x + 1], col[3, x + 2])
            m1 = _med3(col[2, x], col[2, x + 1], col[2, x + 2])
            m2 = _med3(col[3, x], col[3, x + 1], col[3, x + 2])
            m3 = _med3(col[4, x], col[4, x + 1], col[4, x + 2])
            m4 = _med3(col[5, x], col[5, x + 1], col[5, x + 2])
            m5 = _med3(col[6, x], col[6, x + 1], col[6, x + 2])
            # Batcher merge of the sorted halves s0..s3 and s4..s7
            s0, s4 = _cs(s0, s4)
            s2, s6 = _cs(s2, s6)
            s2, s4 = _cs(s2, s4)
            s1, s5 = _cs(s1, s5)
            s3, s7 = _cs(s3, s7)
            s3, s5 = _cs(s3, s5)
            s1, s2 = _cs(s1, s2)
            s3, s4 = _cs(s3, s4)
            s5, s6 = _cs(s5, s6)
            # 7th smallest of the sorted lists s (8) and m (5)
            r = _mn(_mx(s1, m5), _mx(s2, m4))
            r = _mn(r, _mx(s3, m3))
            r = _mn(r, _mx(s4, m2))
            r = _mn(r, _mx(s5, m1))
            out[t, y, x] = _mn(r, s6)


def median_cpu(images: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Median filter of a ``(frames, y, x)`` numpy stack with ``footprint``, reflect borders.

    A full 3×3×3 footprint on a supported dtype runs the sorting-network kernel, any other
    footprint the sliding-histogram kernel (:mod:`CalSciPy._filters.median`); other dtypes
    call ``scipy.ndimage.median_filter`` (float16 goes through float32, which scipy lacks).
    Returns a new array of the input dtype.
    """
    footprint = np.asarray(footprint, dtype=bool)
    if images.dtype == np.float16:  # scipy has no float16 kernels; float32 holds it exactly
        return median_cpu(images.astype(np.float32), footprint).astype(np.float16)
    if footprint.shape == (3, 3, 3) and footprint.all() and images.dtype in FAST_DTYPES:
        images = np.ascontiguousarray(images)
        if images.dtype.kind == "f" and np.isnan(images).any():
            warnings.warn("images contain NaN: the median of windows holding NaN is unspecified",
                          RuntimeWarning, stacklevel=3)
        out = np.empty(images.shape, dtype=images.dtype)
        with _KERNEL_LOCK:
            _median27(images, out, reflect_indices(images.shape[0], 1),
                      reflect_indices(images.shape[1], 1))
        return out
    if images.dtype in FAST_DTYPES and footprint.sum() < 65536:
        if images.dtype.kind == "f" and np.isnan(images).any():
            warnings.warn("images contain NaN: the median of windows holding NaN is unspecified",
                          RuntimeWarning, stacklevel=3)
        with _KERNEL_LOCK:
            return median_histogram(images, footprint)
    return ndi.median_filter(images, footprint=footprint, mode="reflect")


# ---------------------------------------------------------------------------------------------
# gaussian
# ---------------------------------------------------------------------------------------------
#: values this close (relative) to an integer count as that integer before truncation, so
#: float rounding in the weights never turns a flat region ``c`` into ``c - 1``. The margin is
#: a few thousand ulps of the working float type: float32 work only sees 8/16-bit values
#: (< 2**16, so the margin stays below 0.07 units); float64 work sees 32/64-bit values and gets
#: its own. It is capped at 0.49 units, so that huge values (64-bit integers around 10**15,
#: where a relative margin would span hundreds of units) are rounded to the nearest integer
#: when within half a unit of it instead of being pushed up.
_SNAP = {np.dtype(np.float32): 2.0**-20, np.dtype(np.float64): 2.0**-42}

#: how a pass stores its sums: as they are (float input), truncated after a float32 snap
#: (8/16-bit integers), truncated after a capped float64 snap (32/64-bit integers)
_STORE_FLOAT, _STORE_NARROW, _STORE_WIDE = 0, 1, 2


@njit(cache=True, inline="always")
def _wide_integral(value, snap):
    """Truncate toward zero like scipy's store into an integer array, snapping float noise:
    ``value`` is moved away from zero by ``min(|value| * snap, 0.49)`` first."""
    return np.trunc(value + np.copysign(min(abs(value) * snap, 0.49), value))


@njit(cache=True, inline="always")
def _finish(acc, mode, factor, snap):  # pragma: no cover - compiled by numba
    # integer modes: truncate the sums in place (they stay in the work type)
    if mode == _STORE_NARROW:
        for x in range(acc.size):
            acc[x] = np.trunc(acc[x] * factor)
    elif mode == _STORE_WIDE:
        for x in range(acc.size):
            acc[x] = _wide_integral(acc[x], snap)


@njit(cache=True, inline="always")
def _correlate_rows(half, acc, rows, y, index, offset, wt):  # pragma: no cover - compiled
    # acc = half[0]·row(c) + Σ_k half[k]·(row(c-k) + row(c+k)) along contiguous x, where
    # c = offset and row(p) = rows[index[p], y]; symmetric taps halve the multiplies and, as
    # in scipy's symmetric path, add the two mirrored values first
    # ``wt`` is the work type (float32 or float64): numba would do uint16 + float32 in float64
    n_x = acc.size
    c = half[0]
    a = rows[index[offset], y]
    for x in range(n_x):
        acc[x] = c * wt(a[x])
    k = 1
    while k + 3 < half.size:
        c0, c1, c2, c3 = half[k], half[k + 1], half[k + 2], half[k + 3]
        lo0 = rows[index[offset - k], y]
        hi0 = rows[index[offset + k], y]
        lo1 = rows[index[offset - k - 1], y]
        hi1 = rows[index[offset + k + 1], y]
        lo2 = rows[index[offset - k - 2], y]
        hi2 = rows[index[offset + k + 2], y]
        lo3 = rows[index[offset - k - 3], y]
        hi3 = rows[index[offset + k + 3], y]
        for x in range(n_x):
            acc[x] += (c0 * (wt(lo0[x]) + wt(hi0[x])) + c1 * (wt(lo1[x]) + wt(hi1[x]))
                       + c2 * (wt(lo2[x]) + wt(hi2[x])) + c3 * (wt(lo3[x]) + wt(hi3[x])))
        k += 4
    while k < half.size:
        c = half[k]
        lo = rows[index[offset - k], y]
        hi = rows[index[offset + k], y]
        for x in range(n_x):
            acc[x] += c * (wt(lo[x]) + wt(hi[x]))
        k += 1


@njit(cache=True, inline="always")
def _correlate_row_quad(half, acc0, acc1, acc2, acc3, rows, y, index, offset, wt,
                        x0=0):  # pragma: no cover - compiled
    # _correlate_rows for the centres ``offset`` .. ``offset + 3`` in one sweep: a group of
    # four taps loads fourteen rows for the four outputs (L_d = row(c - k + d), d = -3..3,
    # and H_e = row(c + k + e), e = 0..6) where four single sweeps load thirty-two. Output j
    # adds c_i·(L_(j-i) + H_(j+i)), the groups and order of _correlate_rows. The outputs
    # are columns ``x0 .. x0 + acc0.size`` of the rows (so a caller can split a row)
    n_x = acc0.size
    c = half[0]
    a0 = rows[index[offset], y, x0:x0 + n_x]
    a1 = rows[index[offset + 1], y, x0:x0 + n_x]
    a2 = rows[index[offset + 2], y, x0:x0 + n_x]
    a3 = rows[index[offset + 3], y, x0:x0 + n_x]
    for x in range(n_x):
        acc0[x] = c * wt(a0[x])
        acc1[x] = c * wt(a1[x])
        acc2[x] = c * wt(a2[x])
        acc3[x] = c * wt(a3[x])
    k = 1
    while k + 3 < half.size:
        c0, c1, c2, c3 = half[k], half[k + 1], half[k + 2], half[k + 3]
        lm3 = rows[index[offset - k - 3], y, x0:x0 + n_x]
        lm2 = rows[index[offset - k - 2], y, x0:x0 + n_x]
        lm1 = rows[index[offset - k - 1], y, x0:x0 + n_x]
        l0 = rows[index[offset - k], y, x0:x0 + n_x]
        l1 = rows[index[offset - k + 1], y, x0:x0 + n_x]
        l2 = rows[index[offset - k + 2], y, x0:x0 + n_x]
        l3 = rows[index[offset - k + 3], y, x0:x0 + n_x]
        h0 = rows[index[offset + k], y, x0:x0 + n_x]
        h1 = rows[index[offset + k + 1], y, x0:x0 + n_x]
        h2 = rows[index[offset + k + 2], y, x0:x0 + n_x]
        h3 = rows[index[offset + k + 3], y, x0:x0 + n_x]
        h4 = rows[index[offset + k + 4], y, x0:x0 + n_x]
        h5 = rows[index[offset + k + 5], y, x0:x0 + n_x]
        h6 = rows[index[offset + k + 6], y, x0:x0 + n_x]
        for x in range(n_x):
            vm3, vm2, vm1 = wt(lm3[x]), wt(lm2[x]), wt(lm1[x])
            v0, v1, v2, v3 = wt(l0[x]), wt(l1[x]), wt(l2[x]), wt(l3[x])
            w0, w1, w2, w3 = wt(h0[x]), wt(h1[x]), wt(h2[x]), wt(h3[x])
            w4, w5, w6 = wt(h4[x]), wt(h5[x]), wt(h6[x])
            acc0[x] += (c0 * (v0 + w0) + c1 * (vm1 + w1) + c2 * (vm2 + w2) + c3 * (vm3 + w3))
            acc1[x] += (c0 * (v1 + w1) + c1 * (v0 + w2) + c2 * (vm1 + w3) + c3 * (vm2 + w4))
            acc2[x] += (c0 * (v2 + w2) + c1 * (v1 + w3) + c2 * (v0 + w4) + c3 * (vm1 + w5))
            acc3[x] += (c0 * (v3 + w3) + c1 * (v2 + w4) + c2 * (v1 + w5) + c3 * (v0 + w6))
        k += 4
    while k < half.size:
        c = half[k]
        lo0 = rows[index[offset - k], y, x0:x0 + n_x]
        hi0 = rows[index[offset + k], y, x0:x0 + n_x]
        lo1 = rows[index[offset + 1 - k], y, x0:x0 + n_x]
        hi1 = rows[index[offset + 1 + k], y, x0:x0 + n_x]
        lo2 = rows[index[offset + 2 - k], y, x0:x0 + n_x]
        hi2 = rows[index[offset + 2 + k], y, x0:x0 + n_x]
        lo3 = rows[index[offset + 3 - k], y, x0:x0 + n_x]
        hi3 = rows[index[offset + 3 + k], y, x0:x0 + n_x]
        for x in range(n_x):
            acc0[x] += c * (wt(lo0[x]) + wt(hi0[x]))
            acc1[x] += c * (wt(lo1[x]) + wt(hi1[x]))
            acc2[x] += c * (wt(lo2[x]) + wt(hi2[x]))
            acc3[x] += c * (wt(lo3[x]) + wt(hi3[x]))
        k += 1


@njit(cache=True, inline="always")
def _prefetch_rows(images, t, y0, y1, write):  # pragma: no cover - compiled by numba
    # one hint per 64-byte line of rows y0..y1-1 of frame t
    step = max(1, 64 // images.itemsize)
    for y in range(y0, y1):
        row = images[t, y]
        for x in range(0, row.size, step):
            if write:
                prefetch_write(row, x)
            else:
                prefetch_read(row, x)


@njit(cache=True, inline="always")
def _shifted(row, align, n):  # pragma: no cover - compiled by numba
    # ``row[s:s + n]`` with the smallest s >= 0 that puts its start ``align`` bytes past a
    # 32-byte boundary (``row`` has at least n + 32 / itemsize elements)
    shift = ((align - row.ctypes.data) % 32) // row.itemsize
    return row[shift:shift + n]


@njit(parallel=True, cache=True, fastmath={"contract"})
def _gaussian_frames(images, out, half, t_src, mode, factor, snap, wt, band,
                     stream):  # pragma: no cover - compiled by numba
    # the frame axis, parallel over bands of ``band`` rows: the 2r + 1 input rows an output
    # row needs stay in cache while every output frame of the band is computed, so each
    # input row is read from memory once (a frame-parallel loop would re-read each frame
    # 2r + 1 times); a band of a few KB per frame keeps the reads and writes of one frame
    # contiguous (one row per task was 2x slower on 500-frame stacks: a TLB miss per row).
    # Output frames go four at a time (_correlate_row_quad), and the input row and output row
    # per frame that the next four bring in from memory are prefetched: the hardware
    # prefetcher does not follow a stride of a whole frame, and without the hints the memory
    # time adds to the arithmetic instead of overlapping it. With ``stream`` (a large float
    # output) the output rows are written with streaming stores instead:
    # the y/x pass reads them back only after the whole stack, from memory anyway, so
    # reading each output line in before writing it (as a plain store does) is wasted
    n_t, n_y, n_x = images.shape
    r = half.size - 1
    n_bands = (n_y + band - 1) // band
    last = t_src.size - 1
    # columns to peel: every row starts at the same offset from a 32-byte boundary when the
    # row length is a multiple of 32 bytes; otherwise nothing is peeled
    address = images.ctypes.data
    peel = 0
    if (n_x * images.itemsize) % 32 == 0 and address % images.itemsize == 0:
        peel = min(n_x, ((32 - address % 32) % 32) // images.itemsize)
    align = (32 - (peel * half.itemsize) % 32) % 32  # wanted offset of the sums' start
    for b in prange(n_bands):
        y0 = b * band
        y1 = min(n_y, y0 + band)
        # the four sums live in rows of ``work`` shifted so that their column ``peel``
        # starts on a 32-byte boundary, like the input rows' column ``peel``
        work = np.empty((4, n_x + 8), dtype=half.dtype)
        s0 = _shifted(work[0], align, n_x)
        s1 = _shifted(work[1], align, n_x)
        s2 = _shifted(work[2], align, n_x)
        s3 = _shifted(work[3], align, n_x)
        sums = (s0, s1, s2, s3)
        for t in range(0, n_t - 3, 4):
            # the next quad's new inputs: padded positions t + 4 + 2r .. t + 7 + 2r
            for j in range(4, 8):
                _prefetch_rows(images, t_src[min(t + j + 2 * r, last)], y0, y1, False)
                if not stream:
                    _prefetch_rows(out, min(t + j, n_t - 1), y0, y1, True)
            for y in range(y0, y1):
                # columns before ``peel`` first, so that the long sweep's loads of the input
                # rows and of the sums start on 32-byte boundaries (numpy places large arrays
                # 16 bytes past one: every other load would cross a cache line)
                _correlate_row_quad(half, s0[:peel], s1[:peel], s2[:peel], s3[:peel], images,
                                    y, t_src, t + r, wt, 0)
                _correlate_row_quad(half, s0[peel:], s1[peel:], s2[peel:], s3[peel:], images,
                                    y, t_src, t + r, wt, peel)
                for j in range(4):
                    _finish(sums[j], mode, factor, snap)
                    store_row(out[t + j, y], sums[j], stream)
        for t in range(n_t - n_t % 4, n_t):
            for y in range(y0, y1):
                _correlate_rows(half, s0, images, y, t_src, t + r, wt)
                _finish(s0, mode, factor, snap)
                store_row(out[t, y], s0, stream)
        if stream:
            store_fence()  # the streamed rows are complete before the y/x pass reads them


@njit(parallel=True, cache=True, fastmath={"contract"})
def _gaussian_planes(out, half_y, half_x, y_src, x_src, mode, factor, snap, wt,
                     quads):  # pragma: no cover - compiled by numba
    # y then x on every frame of ``out`` (already filtered along frames), in place, parallel
    # over frames. Rows of the frame are converted once into a ring of 2r_y + 4 work-type
    # rows (which also keeps the rows a later output still needs after its own row was
    # overwritten); with ``quads`` output rows go four at a time (_correlate_row_quad along
    # y), otherwise one by one; each y-filtered row goes into a reflect-padded row buffer
    # and is filtered along x straight away, so a frame makes one trip through memory
    n_t, n_y, n_x = out.shape
    r_y = half_y.size - 1
    r_x = half_x.size - 1
    m = min(2 * r_y + 4, n_y)
    for t in prange(n_t):
        frame = out[t]
        ring = np.empty((m, 1, n_x), dtype=half_y.dtype)  # rows ring[i, 0]
        slots = np.empty(y_src.size, dtype=np.int64)
        for p in range(y_src.size):
            slots[p] = y_src[p] % m
        padded = np.empty((4, n_x + 2 * r_x), dtype=half_y.dtype)
        acc = np.empty((4, n_x), dtype=half_y.dtype)
        _plane(frame, ring, slots, padded, acc, half_y, half_x, x_src, r_y, mode, factor,
               snap, wt, quads)


@njit(cache=True, fastmath={"contract"})
def _plane(frame, ring, slots, padded, acc, half_y, half_x, x_src, r_y, mode, factor, snap,
           wt, quads):  # pragma: no cover - compiled by numba
    # the per-frame body is a separate function: numba's parfor passes on one big prange
    # body compile slowly and vectorise less
    n_y, n_x = frame.shape
    m = ring.shape[0]
    loaded = 0  # rows [0, loaded) of the frame have been copied into the ring
    y = 0
    while y < n_y:
        quad = quads and y + 3 < n_y
        need = min(n_y, y + r_y + (4 if quad else 1))
        while loaded < need:
            for x in range(n_x):
                ring[loaded % m, 0, x] = frame[loaded, x]
            loaded += 1
        if quad:
            _yx_row_quad(ring, slots, y + r_y, half_y, half_x, x_src, padded, acc, mode,
                         factor, snap, wt)
            done = 4
        else:
            _yx_row(ring, slots, y + r_y, half_y, half_x, x_src, padded[0], acc[0], mode,
                    factor, snap, wt)
            done = 1
        for j in range(done):
            for x in range(n_x):
                frame[y + j, x] = acc[j, x]
        y += done


@njit(cache=True, inline="always", fastmath={"contract"})
def _x_pass(padded, half_x, x_src, acc, mode, factor,
            snap):  # pragma: no cover - compiled by numba
    # ``acc`` = the middle of ``padded`` filtered along x: the ends of ``padded`` are filled
    # by reflection first
    n_x = acc.size
    r_x = half_x.size - 1
    inner = padded[r_x:r_x + n_x]
    for q in range(r_x):
        padded[q] = inner[x_src[q]]
        padded[r_x + n_x + q] = inner[x_src[r_x + n_x + q]]
    c = half_x[0]
    for x in range(n_x):
        acc[x] = c * inner[x]
    # slices, not ``padded[x + r_x - k]``: numba's negative-index check on computed indices
    # stops LLVM from vectorising (14x slower); taps go in groups of four, so that ``acc``
    # is loaded and stored once per four taps
    k = 1
    while k + 3 <= r_x:
        c0, c1, c2, c3 = half_x[k], half_x[k + 1], half_x[k + 2], half_x[k + 3]
        lo0 = padded[r_x - k:r_x - k + n_x]
        hi0 = padded[r_x + k:r_x + k + n_x]
        lo1 = padded[r_x - k - 1:r_x - k - 1 + n_x]
        hi1 = padded[r_x + k + 1:r_x + k + 1 + n_x]
        lo2 = padded[r_x - k - 2:r_x - k - 2 + n_x]
        hi2 = padded[r_x + k + 2:r_x + k + 2 + n_x]
        lo3 = padded[r_x - k - 3:r_x - k - 3 + n_x]
        hi3 = padded[r_x + k + 3:r_x + k + 3 + n_x]
        for x in range(n_x):
            acc[x] += (c0 * (lo0[x] + hi0[x]) + c1 * (lo1[x] + hi1[x])
                       + c2 * (lo2[x] + hi2[x]) + c3 * (lo3[x] + hi3[x]))
        k += 4
    while k <= r_x:
        c = half_x[k]
        lo = padded[r_x - k:r_x - k + n_x]
        hi = padded[r_x + k:r_x + k + n_x]
        for x in range(n_x):
            acc[x] += c * (lo[x] + hi[x])
        k += 1
    _finish(acc, mode, factor, snap)


@njit(cache=True, inline="always", fastmath={"contract"})
def _yx_row(rows, slots, offset, half_y, half_x, x_src, padded, acc, mode, factor, snap,
            wt):  # pragma: no cover - compiled by numba
    # one output row: y from ``rows[slots[p], 0]`` (padded y position ``p``, centre
    # ``offset``) into the middle of the reflect-padded ``padded``, then x into ``acc``
    n_x = acc.size
    r_x = half_x.size - 1
    inner = padded[r_x:r_x + n_x]
    _correlate_rows(half_y, inner, rows, 0, slots, offset, wt)
    _finish(inner, mode, factor, snap)
    _x_pass(padded, half_x, x_src, acc, mode, factor, snap)


@njit(cache=True, inline="always", fastmath={"contract"})
def _yx_row_quad(rows, slots, offset, half_y, half_x, x_src, padded, acc, mode, factor, snap,
                 wt):  # pragma: no cover - compiled by numba
    # _yx_row for the centres ``offset`` .. ``offset + 3`` into the rows of ``acc`` (and of
    # ``padded``), the y part in one sweep; same arithmetic
    n_x = acc.shape[1]
    r_x = half_x.size - 1
    _correlate_row_quad(half_y, padded[0, r_x:r_x + n_x], padded[1, r_x:r_x + n_x],
                        padded[2, r_x:r_x + n_x], padded[3, r_x:r_x + n_x], rows, 0, slots,
                        offset, wt)
    for j in range(4):
        _finish(padded[j, r_x:r_x + n_x], mode, factor, snap)
        _x_pass(padded[j], half_x, x_src, acc[j], mode, factor, snap)


@njit(cache=True)
def _is_constant(images):  # pragma: no cover - compiled by numba
    # stops at the first value that differs from the first one (at once on real data)
    flat = images.reshape(-1)
    first = flat[0]
    for i in range(flat.size):
        if flat[i] != first:
            return False
    return True


#: smallest y radius at which the y pass computes rows four at a time: below it the rows of
#: the window sit in L1 and sharing their loads does not pay (measured on 512 × 512 frames:
#: 6 % slower at r_y = 4, 11 % faster at r_y = 12)
_QUAD_RADIUS = 10

#: bytes per frame of the band of rows one task of the two-pass frame axis filters
_BAND_BYTES = 4096

#: smallest float stack whose frame pass writes with streaming stores: a smaller one may
#: still be in cache when the y/x pass reads it back, which streaming stores would prevent
#: (measured on 512 × 512 float32: 15 % slower at 20 frames, level at 50, 4 % faster at 100,
#: 8 % at 200 and 9 % at 500)
_STREAM_MIN_BYTES = 2**26


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` whose data starts on a 64-byte boundary; numpy's allocator
    guarantees 16, and streaming stores into rows that start off a 32-byte boundary leave a
    partial line at each end of every row (measured: the frame pass of a 500 × 512 × 512
    float32 stack 13 ms slower). A view of a slightly larger byte buffer (so ``owndata``
    is False)."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def gaussian_cpu(images: np.ndarray, sigmas: tuple[float, float, float],
                 truncate: float, *, row_quads: bool | None = None) -> np.ndarray:
    """Gaussian filter of a ``(frames, y, x)`` numpy stack, reflect borders, dtype kept.

    Supported dtypes run the numba kernels (float16 through float32), others
    ``scipy.ndimage.gaussian_filter``. ``row_quads`` forces the y pass to compute output
    rows four at a time (``True``) or one by one (``False``); the default groups them where
    the y radius is at least :data:`_QUAD_RADIUS`. Both give identical results (tested).
    """
    dtype = images.dtype
    if dtype == np.float16:  # scipy has no float16 kernels
        return gaussian_cpu(images.astype(np.float32), sigmas, truncate,
                            row_quads=row_quads).astype(np.float16)
    if dtype not in FAST_DTYPES:
        return ndi.gaussian_filter(images, sigmas, mode="reflect", truncate=truncate)
    narrow = dtype == np.float32 or (dtype.kind in "iu" and dtype.itemsize <= 2)
    work = np.dtype(np.float32) if narrow else np.dtype(np.float64)
    kernels = [gaussian_kernel(s, truncate) for s in sigmas]
    radii = [(w.size - 1) // 2 for w in kernels]
    halves = [w[r:].astype(work) for w, r in zip(kernels, radii)]  # scipy's are symmetric
    sources = [reflect_indices(n, r) for n, r in zip(images.shape, radii)]
    images = np.ascontiguousarray(images)
    if dtype.kind in "iu":
        if images.size and _is_constant(images):
            return images.copy()  # a constant stays exactly constant, whatever its magnitude
        mode = _STORE_NARROW if narrow else _STORE_WIDE
    else:
        mode = _STORE_FLOAT
    snap = _SNAP[work]
    factor = work.type(1.0 + snap)
    stream = dtype == work and images.nbytes >= _STREAM_MIN_BYTES
    out = _aligned_empty(images.shape, dtype) if stream else np.empty(images.shape, dtype)
    if out.size == 0:
        return out
    if row_quads is None:
        row_quads = radii[1] >= _QUAD_RADIUS
    threads = numba.get_num_threads()
    band = max(1, min(_BAND_BYTES // (images.shape[2] * dtype.itemsize),
                      -(-images.shape[1] // (4 * threads))))
    # dynamic scheduling (one band or frame per chunk): with other work on the machine a
    # static split waits for the thread that shares its core
    with _KERNEL_LOCK, numba.parallel_chunksize(1):
        # frames first, then y and x, each truncated for integers: scipy's axis order
        _gaussian_frames(images, out, halves[0], sources[0], mode, factor, snap, work.type,
                         band, stream)
        _gaussian_planes(out, halves[1], halves[2], sources[1], sources[2], mode, factor,
                         snap, work.type, bool(row_quads))
    return out
