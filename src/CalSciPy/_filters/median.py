"""Median filter for any footprint: a sliding histogram along x, exact as ``scipy.ndimage``.

``scipy.ndimage.median_filter`` copies the whole window of every output voxel and selects
its median (O(K) per voxel with a large constant, K = footprint size). Here every output row
``(t, y)`` slides its window along x and updates a histogram of the window: only the voxels
entering and leaving the window are touched (two per footprint line ``(dt, dy)`` for a
convex footprint: 50 of 125 for 5×5×5, in the spirit of Huang / Perreault & Hébert), and the
median's bin is tracked from one x to the next (the median moves a few bins at a time; a
second level of 256 bins skips empty stretches).

Histogram bins
    uint8/uint16 values are their own bins (65 536 bins), so the median is the bin. Any other
    dtype is first mapped to an order-preserving 16-bit *coarse* key: the value's bits as an
    order-preserving unsigned integer (floats: sign-flipped IEEE bits), minus the stack's
    minimum, shifted right until the stack's range fits 16 bits. The histogram of the coarse
    keys gives the median's bin and its rank among the window's values in that bin; one
    branch-free pass over the footprint per row (SIMD along x) then takes the smallest and
    the largest of the window's values in that bin, which is the answer whenever the bin
    holds one or two values (bins are narrow, so nearly always) or the median is at either
    end of it; the remaining voxels select among the bin's values. The answer is always one
    of the window's values, at rank ``K // 2`` (scipy's rank for a median), so results equal
    scipy's exactly (for floats: equal values; ``-0.0`` and ``0.0`` count as equal, as in
    scipy's comparisons).

scipy computes the median of 64-bit integers through float64 (values beyond 2**53 come back
rounded); here they stay exact.

Borders are scipy's ``mode="reflect"`` on every axis, the footprint's centre is at
``shape // 2`` on each axis (scipy's ``origin=0``), also for even sizes.
NaN: the median of a window holding NaN is unspecified (as in scipy).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["median_histogram", "HISTOGRAM_DTYPES"]

#: dtypes this kernel handles (the others go to scipy)
HISTOGRAM_DTYPES = tuple(
    np.dtype(d)
    for d in ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
              "float32", "float64")
)
_BINS = 1 << 16
#: relative width of a float bin: 2**-FLOAT_BITS of the value
FLOAT_BITS = 12
#: bytes of bins and values built at a time for dtypes other than (u)int8/16
_CHUNK_BYTES = 64 * 2**20


def _reflect(n: int, radius: int) -> np.ndarray:
    positions = np.arange(-radius, n + radius, dtype=np.int64) % (2 * n)
    return np.where(positions >= n, 2 * n - 1 - positions, positions)


def _offsets(footprint: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(all, entering, leaving) ``(n, 3)`` int64 offsets ``(dt, dy, dx)`` of the footprint.

    Entering at x: ``dx`` with ``dx + 1`` not in its line (at position ``x + dx``); leaving
    at x: ``dx`` with ``dx - 1`` not in its line (the voxel at ``x - 1 + dx``).
    """
    centre = np.array(footprint.shape) // 2
    every = np.argwhere(footprint) - centre
    members = {tuple(o) for o in every.tolist()}
    entering = [o for o in every.tolist() if (o[0], o[1], o[2] + 1) not in members]
    leaving = [o for o in every.tolist() if (o[0], o[1], o[2] - 1) not in members]
    return (every.astype(np.int64), np.array(entering, dtype=np.int64).reshape(-1, 3),
            np.array(leaving, dtype=np.int64).reshape(-1, 3))


# ---------------------------------------------------------------------------------------------
# order-preserving keys
@njit(cache=True, inline="always")
def _key(b, kind, sign):  # pragma: no cover - compiled by numba
    """Order-preserving unsigned key of a value's bits (kind 0 unsigned, 1 signed, 2 float)."""
    if kind == 2:
        return ~b if b & sign else b | sign
    if kind == 1:
        return b ^ sign
    return b


def _key_plan(images: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """``(bits, kind, shift, base)``: the unsigned view and how keys map to 16-bit bins."""
    width = images.dtype.itemsize
    unsigned = np.dtype(f"u{width}")
    bits = images.view(unsigned)
    sign = 1 << (8 * width - 1)
    mask = (1 << (8 * width)) - 1
    kind = {"u": 0, "i": 1, "f": 2}[images.dtype.kind]
    if kind == 2:
        finite = images[np.isfinite(images)] if not np.isfinite(images).all() else images
        if finite.size == 0:
            finite = np.zeros(1, images.dtype)
        ends = np.array([finite.min(), finite.max()], dtype=images.dtype).view(unsigned)
        keys = [(~int(v) & mask) if int(v) & sign else int(v) | sign for v in ends]
        # bins no finer than 2**-FLOAT_BITS of the value: finer bins only make the median's
        # bin travel further from one x to the next, coarser ones hold several values more often
        floor = np.finfo(images.dtype).nmant - FLOAT_BITS
    else:
        ends = np.array([images.min(), images.max()], dtype=images.dtype).view(unsigned)
        keys = [int(v) ^ sign if kind == 1 else int(v) for v in ends]
        floor = 0
    shift = max(floor, 0)
    while (keys[1] >> shift) - (keys[0] >> shift) >= _BINS:
        shift += 1
    return bits, kind, shift, keys[0] >> shift


# ---------------------------------------------------------------------------------------------
# the sliding-histogram kernel
@njit(cache=True)
def _select(buffer, n, r):  # pragma: no cover - compiled by numba
    """``r``-th smallest of ``buffer[:n]`` (in place; Hoare quickselect, NaN-safe ending)."""
    lo, hi = 0, n - 1
    while hi > lo:
        pivot = buffer[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while buffer[i] < pivot:
                i += 1
            while pivot < buffer[j]:
                j -= 1
            if i <= j:
                tmp = buffer[i]
                buffer[i] = buffer[j]
                buffer[j] = tmp
                i += 1
                j -= 1
        if r <= j:
            hi = j
        elif r >= i:
            lo = i
        else:
            break
    return buffer[r]


@njit(cache=True)
def _row_sources(t, y, table, t_src, y_src, radius, n_y, n_x, rows):  # pragma: no cover
    """Flat offset of the source row of every footprint entry for output row (t, y)."""
    for f in range(table.shape[0]):
        rows[f] = (t_src[t + table[f, 0] + radius[0]] * n_y
                   + y_src[y + table[f, 1] + radius[1]]) * n_x


@njit(cache=True)
def _window_scratch(k, n_in, n_out):  # pragma: no cover - compiled by numba
    """A thread's histogram, its 256-bin blocks and the source-row tables of one window."""
    return (np.zeros(_BINS, dtype=np.int32), np.zeros(256, dtype=np.int32),
            np.empty(k, dtype=np.int64), np.empty(n_in, dtype=np.int64),
            np.empty(n_out, dtype=np.int64))


@njit(cache=True)
def _window_rows(t, y, every, entering, leaving, t_src, y_src, radius, n_y, n_x, all_r, in_r,
                 out_r):  # pragma: no cover - compiled by numba
    """Source rows of output row (t, y): all the footprint's entries, entering, leaving."""
    _row_sources(t, y, every, t_src, y_src, radius, n_y, n_x, all_r)
    _row_sources(t, y, entering, t_src, y_src, radius, n_y, n_x, in_r)
    _row_sources(t, y, leaving, t_src, y_src, radius, n_y, n_x, out_r)


@njit(cache=True, inline="always")
def _track(hist, blocks, c, below, rank):  # pragma: no cover - compiled by numba
    """Move bin ``c`` until ``below <= rank < below + hist[c]`` (``below``: count under c)."""
    while below > rank:
        c -= 1
        if blocks[c >> 8] == 0:
            c &= ~255  # an empty block: jump to its start
            continue
        below -= hist[c]
    while below + hist[c] <= rank:
        below += hist[c]
        c += 1
        if blocks[c >> 8] == 0:
            c |= 255  # an empty block: jump to its end
    return c, below


@njit(cache=True)
def _histogram_row(bins, all_r, in_r, out_r, all_x, in_x, out_x, x_src, rank, hist, blocks,
                   c_row, r_row, n_row, want_rank):  # pragma: no cover - compiled by numba
    """Slide the window's histogram of 16-bit ``bins`` along one output row.

    Writes the bin of the window's rank-``rank`` value to ``c_row[x]``; with ``want_rank``
    also its rank among the window's values in that bin (``r_row``) and their number
    (``n_row``). ``*_r`` are the flat offsets of the entries' source rows (all, entering,
    leaving), ``*_x`` their positions in ``x_src``. Leaves ``hist`` and ``blocks`` empty.
    """
    n_x = c_row.shape[0]
    k = all_r.shape[0]
    for f in range(k):
        v = np.int64(bins[all_r[f] + x_src[all_x[f]]])
        hist[v] += 1
        blocks[v >> 8] += 1
    c = 0
    below = 0
    for x in range(n_x):
        if x > 0:
            for f in range(out_r.shape[0]):
                v = np.int64(bins[out_r[f] + x_src[x + out_x[f]]])
                hist[v] -= 1
                blocks[v >> 8] -= 1
                below -= v < c
            for f in range(in_r.shape[0]):
                v = np.int64(bins[in_r[f] + x_src[x + in_x[f]]])
                hist[v] += 1
                blocks[v >> 8] += 1
                below += v < c
        c, below = _track(hist, blocks, c, below, rank)
        c_row[x] = c
        if want_rank:
            r_row[x] = rank - below
            n_row[x] = hist[c]
    for f in range(k):  # empty the histogram for the next row
        v = np.int64(bins[all_r[f] + x_src[n_x - 1 + all_x[f]]])
        hist[v] -= 1
        blocks[v >> 8] -= 1


@njit(parallel=True, cache=True)
def _median_rows(images, out, every, entering, leaving, t_src, y_src, x_src,
                 radius):  # pragma: no cover - compiled by numba
    """uint8/uint16: the values are the bins, so the median's bin is the median."""
    n_y, n_x = images.shape[1], images.shape[2]
    k = every.shape[0]
    flat = images.reshape(-1)
    all_x = every[:, 2] + radius[2]
    in_x = entering[:, 2] + radius[2]
    out_x = leaving[:, 2] + radius[2] - 1
    for t in prange(out.shape[0]):
        hist, blocks, all_r, in_r, out_r = _window_scratch(k, entering.shape[0],
                                                           leaving.shape[0])
        c_row = np.empty(n_x, dtype=np.int32)
        unused = np.empty(0, dtype=np.int32)
        for y in range(n_y):
            _window_rows(t, y, every, entering, leaving, t_src, y_src, radius, n_y, n_x, all_r,
                         in_r, out_r)
            _histogram_row(flat, all_r, in_r, out_r, all_x, in_x, out_x, x_src, k // 2, hist,
                           blocks, c_row, unused, unused, False)
            for x in range(n_x):
                out[t, y, x] = c_row[x]


@njit(parallel=True, cache=True)
def _coarse_bins(bits, kind, shift, base, out):  # pragma: no cover - compiled by numba
    """16-bit bin of every value: (order-preserving key >> shift) - base, clipped."""
    flat_in = bits.reshape(-1)
    flat_out = out.reshape(-1)
    one = bits.dtype.type(1)
    sign = one << bits.dtype.type(8 * bits.itemsize - 1)
    ushift = bits.dtype.type(shift)
    ubase = bits.dtype.type(base)
    for i in prange(flat_in.size):
        b = flat_in[i]
        if kind == 2:
            flat_out[i] = _clip(_key(b, 2, sign) >> ushift, ubase)
        elif kind == 1:
            flat_out[i] = _clip(_key(b, 1, sign) >> ushift, ubase)
        else:
            flat_out[i] = _clip(b >> ushift, ubase)


@njit(cache=True, inline="always")
def _clip(value, base):  # pragma: no cover - compiled by numba
    """``value - base`` clipped to the bins; both unsigned of one type (no wrap-around)."""
    if value < base:
        return 0
    c = value - base
    return np.int64(c) if c < _BINS else _BINS - 1


@njit(cache=True)
def _bin_extreme(values, bins, all_r, all_x, x_src, every_x, c_row, extreme, start,
                 smallest):  # pragma: no cover - compiled by numba
    """Per x, the smallest (or largest) window value in bin ``c_row[x]``, into ``extreme``.

    ``start`` is the dtype's largest (smallest) value: ties with it are harmless, the answer
    is compared by value. Inside the row the footprint's entries are contiguous along x and
    the loop is branch-free with one output array, so it runs in SIMD lanes; slices indexed
    from 0 let the compiler drop negative-index checks.
    """
    n_x = c_row.shape[0]
    extreme[:] = start
    for f in range(all_r.shape[0]):
        first = all_r[f]
        d = every_x[f]
        x0 = min(max(0, -d), n_x)
        x1 = max(min(n_x, n_x - d), x0)
        vs = values[first + d + x0:first + d + x1]
        bs = bins[first + d + x0:first + d + x1]
        cs = c_row[x0:x1]
        es = extreme[x0:x1]
        if smallest:
            for i in range(x1 - x0):
                v = vs[i] if bs[i] == cs[i] else start
                e = es[i]
                es[i] = v if v < e else e
        else:
            for i in range(x1 - x0):
                v = vs[i] if bs[i] == cs[i] else start
                e = es[i]
                es[i] = v if v > e else e
        for j in range(n_x - (x1 - x0)):  # the reflected border: x < x0 or x >= x1
            x = j if j < x0 else j + x1 - x0
            p = first + x_src[x + all_x[f]]
            if bins[p] == c_row[x]:
                v = values[p]
                if (v < extreme[x]) if smallest else (v > extreme[x]):
                    extreme[x] = v


@njit(cache=True)
def _resolve_row(values, bins, all_r, all_x, x_src, every_x, c_row, r_row, n_row, low, high,
                 buffer, top, bottom, out_row):  # pragma: no cover - compiled by numba
    """The ``r_row[x]``-th smallest window value in bin ``c_row[x]``, for every x of a row.

    The smallest and the largest value of the median's bin answer every voxel whose bin
    holds one or two values (most of them: bins are narrow) and any rank at either end of
    the bin; the rest select among the bin's values.
    """
    _bin_extreme(values, bins, all_r, all_x, x_src, every_x, c_row, low, top, True)
    _bin_extreme(values, bins, all_r, all_x, x_src, every_x, c_row, high, bottom, False)
    for x in range(c_row.shape[0]):
        r = r_row[x]
        if r == 0:
            out_row[x] = low[x]
        elif r == n_row[x] - 1:
            out_row[x] = high[x]
        else:
            n = 0
            for f in range(all_r.shape[0]):
                p = all_r[f] + x_src[x + all_x[f]]
                if bins[p] == c_row[x]:
                    buffer[n] = values[p]
                    n += 1
            out_row[x] = _select(buffer, n, r)


@njit(parallel=True, cache=True)
def _median_rows_binned(values, bins, out, every, entering, leaving, t_src, y_src, x_src,
                        radius, top, bottom):  # pragma: no cover - compiled by numba
    """Other dtypes: the histogram of 16-bit order-preserving bins finds the median's bin,
    :func:`_resolve_row` the median among the window's values in it."""
    n_y, n_x = values.shape[1], values.shape[2]
    k = every.shape[0]
    flat_values = values.reshape(-1)
    flat_bins = bins.reshape(-1)
    all_x = every[:, 2] + radius[2]
    in_x = entering[:, 2] + radius[2]
    out_x = leaving[:, 2] + radius[2] - 1
    every_x = every[:, 2].copy()
    for t in prange(out.shape[0]):
        hist, blocks, all_r, in_r, out_r = _window_scratch(k, entering.shape[0],
                                                           leaving.shape[0])
        c_row = np.empty(n_x, dtype=bins.dtype)
        r_row = np.empty(n_x, dtype=np.int32)
        n_row = np.empty(n_x, dtype=np.int32)
        low = np.empty(n_x, dtype=values.dtype)
        high = np.empty(n_x, dtype=values.dtype)
        buffer = np.empty(k, dtype=values.dtype)
        for y in range(n_y):
            _window_rows(t, y, every, entering, leaving, t_src, y_src, radius, n_y, n_x, all_r,
                         in_r, out_r)
            _histogram_row(flat_bins, all_r, in_r, out_r, all_x, in_x, out_x, x_src, k // 2,
                           hist, blocks, c_row, r_row, n_row, True)
            _resolve_row(flat_values, flat_bins, all_r, all_x, x_src, every_x, c_row, r_row,
                         n_row, low, high, buffer, top, bottom, out[t, y])


def median_histogram(images: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Median of a ``(frames, y, x)`` stack over a boolean ``footprint``, reflect borders.

    Parameters
    ----------
    images
        ``(frames, y, x)`` array of one of :data:`HISTOGRAM_DTYPES`.
    footprint
        Boolean ``(ft, fy, fx)`` footprint with at least one True value (at most 65 535).

    Returns
    -------
    numpy.ndarray
        New array of the input's shape and dtype, equal to
        ``scipy.ndimage.median_filter(images, footprint=footprint, mode="reflect")``.

    Notes
    -----
    Extra memory: none for uint8/uint16, one copy for int8/int16; for the other dtypes about
    64 MB: the 16-bit bins and a copy of the values, chunk by chunk of frames.
    """
    footprint = np.asarray(footprint, dtype=bool)
    images = np.ascontiguousarray(images)
    every, entering, leaving = _offsets(footprint)
    radius = (np.abs(every).max(axis=0) + np.array([0, 0, 1])).astype(np.int64)
    sources = [_reflect(n, int(r)) for n, r in zip(images.shape, radius)]
    out = np.empty(images.shape, dtype=images.dtype)
    if images.dtype in (np.dtype(np.uint8), np.dtype(np.uint16)):
        _median_rows(images, out, every, entering, leaving, *sources, radius)
    elif images.dtype in (np.dtype(np.int8), np.dtype(np.int16)):
        # flipping the sign bit maps int8/int16 onto uint8/uint16 in order: the value bins
        unsigned = np.dtype(f"u{images.dtype.itemsize}")
        flip = unsigned.type(1 << (8 * images.dtype.itemsize - 1))
        shifted = images.view(unsigned) ^ flip
        result = np.empty(images.shape, dtype=unsigned)
        _median_rows(shifted, result, every, entering, leaving, *sources, radius)
        np.bitwise_xor(result, flip, out=out.view(unsigned))
    else:
        bits, kind, shift, base = _key_plan(images)
        base = bits.dtype.type(base)  # may exceed int64: keep it unsigned
        # bins are built per chunk of frames (with the frames the footprint reaches), so the
        # extra memory stays near _CHUNK_BYTES whatever the stack's length
        frame_bytes = images.shape[1] * images.shape[2] * (2 + images.dtype.itemsize)
        chunk = max(1, _CHUNK_BYTES // frame_bytes)
        rt = int(radius[0])
        if images.dtype.kind == "f":
            top, bottom = images.dtype.type(np.inf), images.dtype.type(-np.inf)
        else:
            info = np.iinfo(images.dtype)
            top, bottom = images.dtype.type(info.max), images.dtype.type(info.min)
        for t0 in range(0, images.shape[0], chunk):
            t1 = min(t0 + chunk, images.shape[0])
            frames = sources[0][t0:t1 + 2 * rt]  # padded positions t0 - rt .. t1 + rt - 1
            part = images[frames]
            part_bins = np.empty(part.shape, dtype=np.uint16)
            _coarse_bins(bits[frames], kind, shift, base, part_bins)
            local = np.arange(frames.size, dtype=np.int64)
            _median_rows_binned(part, part_bins, out[t0:t1], every, entering, leaving, local,
                                sources[1], sources[2], radius, top, bottom)
    return out
