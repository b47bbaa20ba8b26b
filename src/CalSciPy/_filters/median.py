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
    minimum, shifted right until the stack's range fits 16 bits. The histogram finds the
    median's coarse bin; the median itself is then selected exactly among the window's
    values in that bin (few, for real data). The answer is always one of the window's values,
    at rank ``K // 2`` (scipy's rank for a median), so results equal scipy's exactly (for
    floats: equal values; ``-0.0`` and ``0.0`` count as equal, as in scipy's comparisons).

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
#: bytes of bins built at a time for dtypes other than (u)int8/16 (8 bytes per voxel)
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


@njit(parallel=True, cache=True)
def _median_rows(images, out, every, entering, leaving, t_src, y_src, x_src,
                 radius):  # pragma: no cover - compiled by numba
    """uint8/uint16: the values are the bins."""
    for t in prange(images.shape[0]):
        hist = np.zeros(_BINS, dtype=np.int32)
        blocks = np.zeros(256, dtype=np.int32)
        _median_frame(images, out, t, every, entering, leaving, t_src, y_src, x_src,
                      radius, hist, blocks)


@njit(cache=True)
def _row_sources(t, y, table, t_src, y_src, radius, n_y, n_x, rows):  # pragma: no cover
    """Flat offset of the source row of every footprint entry for output row (t, y)."""
    for f in range(table.shape[0]):
        rows[f] = (t_src[t + table[f, 0] + radius[0]] * n_y
                   + y_src[y + table[f, 1] + radius[1]]) * n_x


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
def _median_frame(images, out, t, every, entering, leaving, t_src, y_src, x_src,
                  radius, hist, blocks):  # pragma: no cover - compiled by numba
    n_y, n_x = images.shape[1], images.shape[2]
    k = every.shape[0]
    rank = k // 2
    images = images.reshape(-1)
    all_r = np.empty(k, dtype=np.int64)
    in_r = np.empty(entering.shape[0], dtype=np.int64)
    out_r = np.empty(leaving.shape[0], dtype=np.int64)
    all_x = every[:, 2] + radius[2]
    in_x = entering[:, 2] + radius[2]
    out_x = leaving[:, 2] + radius[2] - 1
    for y in range(n_y):
        _row_sources(t, y, every, t_src, y_src, radius, n_y, n_x, all_r)
        _row_sources(t, y, entering, t_src, y_src, radius, n_y, n_x, in_r)
        _row_sources(t, y, leaving, t_src, y_src, radius, n_y, n_x, out_r)
        for f in range(k):
            v = images[all_r[f] + x_src[all_x[f]]]
            hist[v] += 1
            blocks[v >> 8] += 1
        c = 0
        below = 0
        for x in range(n_x):
            if x > 0:
                for f in range(leaving.shape[0]):
                    v = images[out_r[f] + x_src[x + out_x[f]]]
                    hist[v] -= 1
                    blocks[v >> 8] -= 1
                    below -= v < c
                for f in range(entering.shape[0]):
                    v = images[in_r[f] + x_src[x + in_x[f]]]
                    hist[v] += 1
                    blocks[v >> 8] += 1
                    below += v < c
            c, below = _track(hist, blocks, c, below, rank)
            out[t, y, x] = c
        for f in range(k):  # empty the histogram for the next row
            v = images[all_r[f] + x_src[n_x - 1 + all_x[f]]]
            hist[v] -= 1
            blocks[v >> 8] -= 1


@njit(parallel=True, cache=True)
def _coarse_bins(bits, kind, shift, base, out, pack):  # pragma: no cover - compiled by numba
    """Bin of every value, (order-preserving key >> shift) - base clipped to 16 bits; with
    ``pack`` stored as ``bin << 32 | bits`` (4-byte dtypes, ``out`` uint64)."""
    flat_in = bits.reshape(-1)
    flat_out = out.reshape(-1)
    one = bits.dtype.type(1)
    sign = one << bits.dtype.type(8 * bits.itemsize - 1)
    ushift = bits.dtype.type(shift)
    ubase = bits.dtype.type(base)
    for i in prange(flat_in.size):
        b = flat_in[i]
        if kind == 2:
            c = _clip(_key(b, 2, sign) >> ushift, ubase)
        elif kind == 1:
            c = _clip(_key(b, 1, sign) >> ushift, ubase)
        else:
            c = _clip(b >> ushift, ubase)
        if pack:
            flat_out[i] = (np.uint64(c) << np.uint64(32)) | np.uint64(b)
        else:
            flat_out[i] = c


@njit(cache=True, inline="always")
def _clip(value, base):  # pragma: no cover - compiled by numba
    """``value - base`` clipped to the bins; both unsigned of one type (no wrap-around)."""
    if value < base:
        return 0
    c = value - base
    return np.int64(c) if c < _BINS else _BINS - 1


@njit(parallel=True, cache=True)
def _median_rows_binned(images, bits, bins, bin_shift, low, out, out_bits, every, entering,
                        leaving, t_src, y_src, x_src, radius):  # pragma: no cover - compiled
    """Other dtypes: bins of order-preserving keys; each bin also sums its values' bits.

    ``bins >> bin_shift`` is a value's bin and ``bits & low`` its bits: 4-byte dtypes pass
    one packed uint64 array as both (bin in the high half: one load per voxel), 8-byte
    dtypes their bits and a separate uint16 array of bins.
    """
    for t in prange(out.shape[0]):
        hist = np.zeros(_BINS, dtype=np.int32)
        blocks = np.zeros(256, dtype=np.int32)
        sums = np.zeros(_BINS, dtype=bits.dtype)
        _median_frame_binned(images, bits, bins, bin_shift, low, out, out_bits, t, every,
                             entering, leaving, t_src, y_src, x_src, radius, hist, blocks,
                             sums)


@njit(cache=True)
def _median_frame_binned(images, bits, bins, bin_shift, low, out, out_bits, t, every,
                         entering, leaving, t_src, y_src, x_src, radius, hist, blocks,
                         sums):  # pragma: no cover - compiled by numba
    # A bin holding one value has that value's bits as its sum (unsigned arithmetic wraps,
    # exactly); a bin holding more is resolved by selecting among the window's values in it.
    n_y, n_x = images.shape[1], images.shape[2]
    k = every.shape[0]
    rank = k // 2
    buffer = np.empty(k, dtype=images.dtype)
    images = images.reshape(-1)
    bits = bits.reshape(-1)
    bins = bins.reshape(-1)
    all_r = np.empty(k, dtype=np.int64)
    in_r = np.empty(entering.shape[0], dtype=np.int64)
    out_r = np.empty(leaving.shape[0], dtype=np.int64)
    all_x = every[:, 2] + radius[2]
    in_x = entering[:, 2] + radius[2]
    out_x = leaving[:, 2] + radius[2] - 1
    for y in range(n_y):
        _row_sources(t, y, every, t_src, y_src, radius, n_y, n_x, all_r)
        _row_sources(t, y, entering, t_src, y_src, radius, n_y, n_x, in_r)
        _row_sources(t, y, leaving, t_src, y_src, radius, n_y, n_x, out_r)
        for f in range(k):
            xx = x_src[all_x[f]]
            v = np.int64(bins[all_r[f] + xx] >> bin_shift)
            hist[v] += 1
            blocks[v >> 8] += 1
            sums[v] += bits[all_r[f] + xx]
        c = 0
        below = 0
        for x in range(n_x):
            if x > 0:
                for f in range(leaving.shape[0]):
                    xx = x_src[x + out_x[f]]
                    v = np.int64(bins[out_r[f] + xx] >> bin_shift)
                    hist[v] -= 1
                    blocks[v >> 8] -= 1
                    sums[v] -= bits[out_r[f] + xx]
                    below -= v < c
                for f in range(entering.shape[0]):
                    xx = x_src[x + in_x[f]]
                    v = np.int64(bins[in_r[f] + xx] >> bin_shift)
                    hist[v] += 1
                    blocks[v >> 8] += 1
                    sums[v] += bits[in_r[f] + xx]
                    below += v < c
            c, below = _track(hist, blocks, c, below, rank)
            if hist[c] == 1:
                out_bits[t, y, x] = sums[c] & low
            else:
                wanted = hist[c]
                n = 0
                for f in range(k):
                    xx = x_src[x + all_x[f]]
                    if np.int64(bins[all_r[f] + xx] >> bin_shift) == c:
                        buffer[n] = images[all_r[f] + xx]
                        n += 1
                        if n == wanted:
                            break
                out[t, y, x] = _select(buffer, n, rank - below)
        for f in range(k):  # empty the bins for the next row
            xx = x_src[n_x - 1 + all_x[f]]
            v = np.int64(bins[all_r[f] + xx] >> bin_shift)
            hist[v] -= 1
            blocks[v >> 8] -= 1
            sums[v] -= bits[all_r[f] + xx]


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
    Extra memory: none for uint8/uint16, one copy for int8/int16, about 64 MB of bins (built
    chunk by chunk of frames) plus a copy of that chunk for the other dtypes.
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
        frame_bytes = images.shape[1] * images.shape[2] * 8
        chunk = max(1, _CHUNK_BYTES // frame_bytes)
        rt = int(radius[0])
        for t0 in range(0, images.shape[0], chunk):
            t1 = min(t0 + chunk, images.shape[0])
            frames = sources[0][t0:t1 + 2 * rt]  # padded positions t0 - rt .. t1 + rt - 1
            part = images[frames]
            part_bits = bits[frames]
            local = np.arange(frames.size, dtype=np.int64)
            target = out[t0:t1]
            if images.dtype.itemsize <= 4:
                packed = np.empty(part.shape, dtype=np.uint64)
                _coarse_bins(part_bits, kind, shift, base, packed, True)
                _median_rows_binned(part, packed, packed, np.uint64(32), np.uint64(0xFFFFFFFF),
                                    target, target.view(bits.dtype), every, entering, leaving,
                                    local, sources[1], sources[2], radius)
            else:
                part_bins = np.empty(part.shape, dtype=np.uint16)
                _coarse_bins(part_bits, kind, shift, base, part_bins, False)
                _median_rows_binned(part, part_bits, part_bins, np.uint16(0), ~np.uint64(0),
                                    target, target.view(bits.dtype), every, entering, leaving,
                                    local, sources[1], sources[2], radius)
    return out
