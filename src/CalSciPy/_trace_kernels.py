"""Numba kernels of :mod:`CalSciPy.trace_processing` (one row = one neuron, parallel over rows).

Private: the public functions validate inputs and choose dtypes before calling these. Every
kernel is compiled on first use and cached on disk (``cache=True``).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from CalSciPy._smoothing import reflect_index


@numba.njit(cache=True, nogil=True)
def _select_inplace(buf, k):  # pragma: no cover - compiled
    """Partially order ``buf`` in place so ``buf[k]`` is its k-th smallest value (quickselect
    with a median-of-three pivot; no allocation, unlike ``np.partition``)."""
    lo = 0
    hi = buf.shape[0] - 1
    while hi > lo:
        mid = (lo + hi) // 2
        # median of three to buf[mid]
        if buf[mid] < buf[lo]:
            buf[mid], buf[lo] = buf[lo], buf[mid]
        if buf[hi] < buf[lo]:
            buf[hi], buf[lo] = buf[lo], buf[hi]
        if buf[hi] < buf[mid]:
            buf[hi], buf[mid] = buf[mid], buf[hi]
        pivot = buf[mid]
        i = lo
        j = hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@numba.njit(cache=True, nogil=True)
def _order_stats(src, k, work):  # pragma: no cover - compiled
    """The k-th and (k+1)-th smallest values of ``src`` (0-based; the second equals the
    first when k is the last index). ``src`` is not modified; ``work`` needs ``len(src)``.

    Inputs of 2048 values or more use sample-based bracketing (Floyd–Rivest style): pivots
    from a sorted, evenly strided sample of 512 values bracket rank k with > 4 standard
    deviations of margin, one branch-free pass counts the values below the bracket and
    gathers those inside it, and quickselect runs on that small set only. If the bracket
    misses (rare), or for short inputs, it falls back to quickselect on a full copy. Exact
    either way.
    """
    n = src.shape[0]
    if n >= 2048:
        n_sample = 512
        stride = n // n_sample
        sample = work[:n_sample]
        for j in range(n_sample):
            sample[j] = src[j * stride]
        sample.sort()
        p = (k + 0.5) / n
        pos = p * n_sample
        margin = 4.0 * math.sqrt(n_sample * p * (1.0 - p)) + 3.0
        lo_i = int(math.floor(pos - margin))
        hi_i = int(math.ceil(pos + margin))
        lo_p = sample[lo_i] if lo_i >= 0 else -np.inf
        hi_p = sample[hi_i] if hi_i < n_sample else np.inf
        below = 0
        m = 0
        for t in range(n):
            v = src[t]
            # branch-free: always store, advance only for values inside the bracket
            work[m] = v
            below += v < lo_p
            m += (v >= lo_p) & (v <= hi_p)
        kk = k - below
        if kk >= 0 and kk + 1 < m:
            mid = work[:m]
            _select_inplace(mid, kk)
            second = mid[kk + 1]
            for j in range(kk + 2, m):
                if mid[j] < second:
                    second = mid[j]
            return mid[kk], second
    for t in range(n):
        work[t] = src[t]
    full = work[:n]
    _select_inplace(full, k)
    if k + 1 >= n:
        return full[k], full[k]
    # everything after position k is ≥ full[k]: the next order statistic is their minimum
    second = full[k + 1]
    for j in range(k + 2, n):
        if full[j] < second:
            second = full[j]
    return full[k], second


# numpy's "linear" percentile: virtual index n·q + 1 − q − 1, then a lerp that is evaluated
# from the upper neighbour when the fraction is ≥ 0.5 (numpy does the same for accuracy)
@numba.njit(cache=True, nogil=True)
def _percentile(src, q, work):  # pragma: no cover - compiled
    """The q-quantile (0–1) of ``src`` as ``np.percentile(src, 100 q)``; ``work`` is scratch
    of ``len(src)`` values."""
    n = src.shape[0]
    virtual = n * q + (1.0 - q) - 1.0
    lo = int(math.floor(virtual))
    if lo < 0:
        lo = 0
    if lo > n - 1:
        lo = n - 1
    frac = virtual - lo
    below, above = _order_stats(src, lo, work)
    if lo + 1 >= n or frac <= 0.0:
        return below
    diff = above - below
    if frac >= 0.5:
        return above - diff * (1.0 - frac)
    return below + diff * frac


#: frames per tile of the zero-phase FIR filter (accumulators stay in L1)
_FILTER_TILE = 512


@numba.njit(cache=True, nogil=True)
def _odd_filter_row(src, h, half, padded, filtered):  # pragma: no cover - compiled
    """``filtered = filtfilt(b, 1, src)`` through the symmetric kernel ``h`` (see above):
    ``filtered[t] = 0 + h[0]·p[t] + h[1]·p[t+1] + …`` summed in that order on the odd
    extension ``p`` of the row."""
    n = src.shape[0]
    first = np.float64(src[0])
    last = np.float64(src[n - 1])
    for k in range(half):
        # odd extension: 2·x[0] − x[k], mirrored about the first/last sample
        padded[half - 1 - k] = 2.0 * first - np.float64(src[k + 1])
        padded[half + n + k] = 2.0 * last - np.float64(src[n - 2 - k])
    for t in range(n):
        padded[half + t] = src[t]
    taps = h.shape[0]
    # Tiles of frames, eight taps per sweep: each accumulator takes eight updates in a
    # register instead of a load and a store per tap (the per-frame order of the sum is
    # unchanged, so the result is bit-identical to one sweep per tap). Slices keep every
    # index provably non-negative, which lets LLVM vectorise over frames.
    for start in range(0, n, _FILTER_TILE):
        m = min(n - start, _FILTER_TILE)
        dst = filtered[start:start + m]
        for t in range(m):
            dst[t] = 0.0
        k = 0
        while k + 8 <= taps:
            wa = h[k]
            wb = h[k + 1]
            wc = h[k + 2]
            wd = h[k + 3]
            we = h[k + 4]
            wf = h[k + 5]
            wg = h[k + 6]
            wh = h[k + 7]
            pa = padded[start + k:start + k + m]
            pb = padded[start + k + 1:start + k + 1 + m]
            pc = padded[start + k + 2:start + k + 2 + m]
            pd = padded[start + k + 3:start + k + 3 + m]
            pe = padded[start + k + 4:start + k + 4 + m]
            pf = padded[start + k + 5:start + k + 5 + m]
            pg = padded[start + k + 6:start + k + 6 + m]
            ph = padded[start + k + 7:start + k + 7 + m]
            for t in range(m):
                acc = dst[t]
                acc += wa * pa[t]
                acc += wb * pb[t]
                acc += wc * pc[t]
                acc += wd * pd[t]
                acc += we * pe[t]
                acc += wf * pf[t]
                acc += wg * pg[t]
                acc += wh * ph[t]
                dst[t] = acc
            k += 8
        while k < taps:
            w = h[k]
            pa = padded[start + k:start + k + m]
            for t in range(m):
                dst[t] += w * pa[t]
            k += 1


@numba.njit(cache=True, parallel=True)
def dfof_baseline_kernel(source, values, out, h, q, offset, f0_out):  # pragma: no cover
    n_rows = values.shape[0]
    m = source.shape[1]
    half = (h.shape[0] - 1) // 2
    for i in numba.prange(n_rows):
        padded = np.empty(m + 2 * half)
        filtered = np.empty(m)
        _odd_filter_row(source[i], h, half, padded, filtered)
        f0 = _percentile(filtered, q, padded) + offset
        f0_out[i] = f0
        row = values[i]
        dst = out[i]
        for t in range(row.shape[0]):
            dst[t] = (np.float64(row[t]) - f0) / f0


@numba.njit(cache=True, nogil=True)
def _insertion_sort(buf, lo, hi):  # pragma: no cover - compiled
    """Sort ``buf[lo:hi]`` in place (few values, or values already near their place)."""
    for i in range(lo + 1, hi):
        v = buf[i]
        j = i - 1
        while j >= lo and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v


#: below this many values a plain insertion sort wins (on smooth and on random input)
_INSERTION_MAX = 48
#: shortest run of the natural merge sort (shorter ones are extended by insertion)
_MIN_RUN = 16


@numba.njit(cache=True, nogil=True)
def _sort_prefix(buf, m, tmp, bounds):  # pragma: no cover - compiled
    """Sort ``buf[:m]`` ascending in place; no NaN. ``tmp`` holds ``m`` values, ``bounds``
    ``m + 1`` integers.

    The keys come in frame order from a low-passed trace, so they form long monotone runs:
    a natural merge sort (descending runs reversed, runs shorter than ``_MIN_RUN`` extended
    by insertion, then branch-free pairwise merges) is faster on them than quicksort or
    numba's ``ndarray.sort``, and no slower on random input. A few values: insertion."""
    if m <= _INSERTION_MAX:
        _insertion_sort(buf, 0, m)
        return
    n_runs = 0
    i = 0
    while i < m:
        j = i + 1
        if j < m and buf[j] < buf[i]:
            while j < m and buf[j] < buf[j - 1]:
                j += 1
            a = i
            z = j - 1
            while a < z:
                buf[a], buf[z] = buf[z], buf[a]
                a += 1
                z -= 1
        else:
            while j < m and buf[j] >= buf[j - 1]:
                j += 1
        if j - i < _MIN_RUN:
            j = min(m, i + _MIN_RUN)
            _insertion_sort(buf, i, j)
        bounds[n_runs] = i
        n_runs += 1
        i = j
    bounds[n_runs] = m
    src = buf
    dst = tmp
    flipped = False
    while n_runs > 1:
        w = 0
        for r in range(0, n_runs, 2):
            lo = bounds[r]
            if r + 1 < n_runs:
                mid = bounds[r + 1]
                hi = bounds[r + 2]
                _merge_sorted(src[lo:mid], mid - lo, src[mid:hi], hi - mid, dst[lo:hi])
            else:
                for k in range(lo, bounds[r + 1]):
                    dst[k] = src[k]
            bounds[w] = lo
            w += 1
        bounds[w] = m
        n_runs = w
        src, dst = dst, src
        flipped = not flipped
    if flipped:
        for k in range(m):
            buf[k] = src[k]


#: strided sample of a window that guesses the low set's threshold
_SAMPLE = 64


@numba.njit(cache=True, nogil=True)
def _collect(series, sign, s, window, floor, tau, above, dst):  # pragma: no cover
    """The keys ``sign · series[f]`` of the window ``[s, s + window)`` that are ``≤ tau``
    (and ``> floor`` when ``above``) into ``dst``, unsorted; returns the count."""
    c = 0
    for t in range(window):
        v = sign * series[s + t]
        # branch-free: always store, advance only for kept keys (NaN never is)
        dst[c] = v
        c += (v <= tau) & ((v > floor) | (not above))
    return c


@numba.njit(cache=True, nogil=True)
def _merge_sorted(a, n_a, b, n_b, dst):  # pragma: no cover - compiled
    """``dst[:n_a + n_b]`` = the sorted ``a[:n_a]`` and ``b[:n_b]`` merged (branch-free)."""
    i = 0
    j = 0
    k = 0
    while i < n_a and j < n_b:
        x = a[i]
        y = b[j]
        take = y < x
        dst[k] = y if take else x
        j += take
        i += 1 - take
        k += 1
    while i < n_a:
        dst[k] = a[i]
        i += 1
        k += 1
    while j < n_b:
        dst[k] = b[j]
        j += 1
        k += 1
    return k


@numba.njit(cache=True, nogil=True)
def _remove_sorted(kept, c, outs, n_out):  # pragma: no cover - compiled
    """Remove the sorted sub-multiset ``outs[:n_out]`` from the sorted ``kept[:c]`` in place
    (branch-free; ``outs[n_out]`` must hold NaN, a sentinel no value equals); returns the new
    size. Equal values are interchangeable, so a leaving value is removed by value."""
    b = 0
    m = 0
    for i in range(c):
        v = kept[i]
        kept[m] = v
        hit = outs[b] == v
        m += 1 - hit
        b += hit
    return m


@numba.njit(cache=True, nogil=True)
def _update_sorted(kept, c, ins, n_in, outs, n_out, dst):  # pragma: no cover - compiled
    """``dst`` = the sorted multiset ``kept[:c] − outs[:n_out] + ins[:n_in]`` in one
    branch-free pass (all sorted, ``outs`` a sub-multiset of ``kept``); ``ins[n_in]`` must
    hold +inf and ``outs[n_out]`` NaN (sentinels); returns its size."""
    i = 0
    a = 0
    b = 0
    k = 0
    while i < c:
        x = kept[i]
        y = ins[a]
        take = y < x  # the +inf sentinel is never taken
        hit = (not take) & (outs[b] == x)  # x leaves: the next value overwrites it
        dst[k] = y if take else x
        k += 1 - hit
        a += take
        i += 1 - take
        b += hit
    while a < n_in:
        dst[k] = ins[a]
        a += 1
        k += 1
    return k


@numba.njit(cache=True, nogil=True)
def _gather_low(series, sign, s, window, target, need, kept, c, tau, grow, work, extra,
                tmp, bounds, guess=np.nan):  # pragma: no cover - compiled
    """Make ``kept`` the sorted keys ``sign · series[f] ≤ tau'`` of the window ``[s, s +
    window)`` for a new threshold ``tau'`` that keeps about ``target`` and at least ``need``
    of them (when the window has no NaN); returns ``(tau', count)``.

    ``grow``: ``kept[:c]`` already holds every key ``≤ tau`` of this window, too few; only
    the keys in ``(tau, tau']`` are then collected, sorted and merged in, and ``guess`` (the
    threshold before the last cut) is tried first. Otherwise the threshold is guessed from a
    sorted strided sample of the window (a little above the sample quantile of ``target``);
    only if that keeps fewer than ``need`` keys, or far too many, is it selected exactly
    (rank ``target − 1``) from the whole window."""
    stride = window // _SAMPLE
    new_tau = guess
    if grow and guess > tau:
        n_new = _collect(series, sign, s, window, tau, guess, True, extra)
        total = c + n_new
        if need <= total <= 3 * target:
            _sort_prefix(extra, n_new, tmp, bounds)
            _merge_sorted(kept, c, extra, n_new, work)
            for k in range(total):
                kept[k] = work[k]
            return guess, total
    new_tau = np.nan
    if stride >= 2:
        finite = True
        for k in range(_SAMPLE):
            v = sign * series[s + k * stride]
            work[k] = v
            finite &= v == v
        if finite:
            _sort_prefix(work, _SAMPLE, tmp, bounds)
            new_tau = work[min(_SAMPLE - 1, (target * _SAMPLE) // window + 1)]
    for attempt in range(2):
        if attempt == 1:
            # exact: the target-th smallest key (above tau when growing: the c keys at or
            # below tau are the window's c smallest)
            for t in range(window):
                work[t] = sign * series[s + t]
            sub = work[:window]
            _select_inplace(sub, target - 1)
            new_tau = sub[target - 1]
        if grow:
            if not new_tau > tau:
                continue
            n_new = _collect(series, sign, s, window, tau, new_tau, True, extra)
            total = c + n_new
        else:
            total = _collect(series, sign, s, window, tau, new_tau, False, kept)
        if attempt == 0 and (total < need or total > 3 * target):
            continue
        if grow:
            _sort_prefix(extra, n_new, tmp, bounds)
            _merge_sorted(kept, c, extra, n_new, work)
            for k in range(total):
                kept[k] = work[k]
        else:
            _sort_prefix(kept, total, tmp, bounds)
        return new_tau, total
    return new_tau, 0  # unreachable: the exact threshold always keeps target keys


@numba.njit(cache=True, nogil=True)
def _window_levels(series, q, window, start, level):  # pragma: no cover - compiled
    """``level[j]``: the q-quantile of ``series[start[j] : start[j] + window]``, exactly as
    :func:`_percentile` finds it.

    Consecutive windows overlap by ~90 % and the quantile moves little. For a quantile in
    the lowest (highest) eighth, the window's values at or below (at or above: keys
    ``−value``) a threshold a few ranks beyond the quantile are kept as a sorted multiset:
    the c smallest keys of the window, every other key above the threshold. Sliding on, the
    leaving and the entering keys at or below the threshold (a few per step) are sorted;
    the leaving ones are removed and the entering ones merged in, each in one branch-free
    linear pass, and both order statistics are read off at their ranks. Equal values are
    interchangeable, so a leaving value is removed by value. The set is cut back at a lower
    threshold when it has grown large (it is sorted: no selection), and topped up from the
    window (:func:`_gather_low`) only when it no longer holds both statistics. Other
    quantiles are selected from each whole window.
    """
    n_centres = start.shape[0]
    virtual = window * q + (1.0 - q) - 1.0
    lo = int(math.floor(virtual))
    if lo < 0:
        lo = 0
    if lo > window - 1:
        lo = window - 1
    frac = virtual - lo
    hi = min(lo + 1, window - 1)
    upper = window - 1 - lo < lo
    sign = -1.0 if upper else 1.0
    # ranks of the two order statistics among the keys (sign · value), ascending
    r_lo = window - 1 - lo if upper else lo
    r_hi = window - 1 - hi if upper else hi
    need = max(r_lo, r_hi) + 1  # keys the low set must hold
    spare = max(16, window // 32)
    incremental = need + spare <= window // 8
    target = min(window, need + spare)  # size of a fresh low set
    limit = need + 2 * spare  # cut back beyond this size
    work = np.empty(window)
    kept = np.empty(window)
    merged = np.empty(window)
    ins = np.empty(window + 1)
    outs = np.empty(window + 1)
    tmp = np.empty(window)
    bounds = np.empty(window + 1, dtype=np.int64)
    tau = 0.0
    tau_before_cut = np.nan
    c = 0
    valid = False
    for j in range(n_centres):
        s = start[j]
        if not incremental:
            below, above = _order_stats(series[s:s + window], lo, work)
        else:
            delta = s - start[j - 1] if j > 0 else window
            if valid and delta < window:
                first = start[j - 1]
                n_out = 0
                n_in = 0
                for t in range(delta):
                    v = sign * series[first + t]
                    outs[n_out] = v
                    n_out += v <= tau
                    v = sign * series[first + window + t]
                    ins[n_in] = v
                    n_in += v <= tau
                if n_out:
                    _sort_prefix(outs, n_out, tmp, bounds)
                    outs[n_out] = np.nan
                if n_in:
                    _sort_prefix(ins, n_in, tmp, bounds)
                    ins[n_in] = np.inf
                    c = _update_sorted(kept, c, ins, n_in, outs, n_out, merged)
                    kept, merged = merged, kept
                elif n_out:
                    c = _remove_sorted(kept, c, outs, n_out)
            else:
                valid = False
            if not valid or c < need:
                tau, c = _gather_low(series, sign, s, window, target, need, kept, c, tau,
                                     valid, work, ins, tmp, bounds, tau_before_cut)
                valid = True
            if c > limit:
                # cut back to a lower threshold; all its ties stay (the set is sorted). The
                # old threshold is the first guess when the set must grow again
                tau_before_cut = tau
                cut = target - 1
                tau = kept[cut]
                cut += 1
                while cut < c and kept[cut] == tau:
                    cut += 1
                c = cut
            if c >= need:
                below = sign * kept[r_lo]
                above = sign * kept[r_hi]
            else:  # only with NaN in the window (non-finite filter output)
                below, above = _order_stats(series[s:s + window], lo, work)
                valid = False
        if lo + 1 >= window or frac <= 0.0:
            level[j] = below
        else:
            diff = above - below
            if frac >= 0.5:
                level[j] = above - diff * (1.0 - frac)
            else:
                level[j] = below + diff * frac


@numba.njit(cache=True, nogil=True)
def _interpolation_plan(centre, n):  # pragma: no cover - compiled
    """Frames ``first[j] ≤ t < first[j + 1]`` lie between window centres ``j`` and ``j +
    1``, at ``weight[t] = (t − centre[j]) / (centre[j + 1] − centre[j])``; frames before
    ``first[0]`` (at or before the first centre) and from ``first[-1]`` on (at or after the
    last) take the first/last level. The same for every row: computed once per call."""
    n_centres = centre.shape[0]
    first = np.empty(n_centres, dtype=np.int64)
    weight = np.zeros(n)
    t = 0
    while t < n and t <= centre[0]:
        t += 1
    j = 0
    first[0] = t
    for k in range(1, n_centres):
        first[k] = t
    while t < n and t < centre[n_centres - 1]:
        while centre[j + 1] < t:
            j += 1
            first[j] = t
        weight[t] = (t - centre[j]) / (centre[j + 1] - centre[j])
        t += 1
    for k in range(j + 1, n_centres):
        first[k] = t
    return first, weight


@numba.njit(cache=True, nogil=True)
def _interpolate(level, first, weight, est):  # pragma: no cover - compiled
    """``est[t]`` = the levels linearly interpolated between window centres (see
    :func:`_interpolation_plan`), ``level[j] + (level[j + 1] − level[j]) · w``."""
    n = est.shape[0]
    n_centres = level.shape[0]
    for t in range(first[0]):
        est[t] = level[0]
    for j in range(n_centres - 1):
        a = level[j]
        d = level[j + 1] - a
        for t in range(first[j], first[j + 1]):
            est[t] = a + d * weight[t]
    for t in range(first[n_centres - 1], n):
        est[t] = level[n_centres - 1]


@numba.njit(cache=True, nogil=True)
def _running_level(series, q, window, start, centre, level, est):  # pragma: no cover
    """``level[j]``: the q-quantile of the window starting at ``start[j]``
    (:func:`_window_levels`); ``est[t]``: the levels linearly interpolated between the window
    centres, held constant beyond the first/last."""
    first, weight = _interpolation_plan(centre, series.shape[0])
    _window_levels(series, q, window, start, level)
    _interpolate(level, first, weight, est)


@numba.njit(cache=True, parallel=True)
def dfof_sliding_kernel(source, values, out, h, q, offset, start, centre,
                         window):  # pragma: no cover - compiled
    n_rows, n = values.shape
    half = (h.shape[0] - 1) // 2
    n_centres = start.shape[0]
    first, weight = _interpolation_plan(centre, n)
    min_f0 = np.empty(n_rows)
    for i in numba.prange(n_rows):
        padded = np.empty(n + 2 * half)
        filtered = np.empty(n)
        level = np.empty(n_centres)
        est = np.empty(n)
        correction = np.empty(n)
        _odd_filter_row(source[i], h, half, padded, filtered)
        _window_levels(filtered, q, window, start, level)
        _interpolate(level, first, weight, est)
        # second pass on the residual: a window's low quantile of a sloping baseline sits
        # below the value at the window centre (by ~ (0.5 − q) · slope · window); the
        # quantile of the residual measures that offset locally and removes it
        for t in range(n):
            filtered[t] -= est[t]
        _window_levels(filtered, q, window, start, level)
        _interpolate(level, first, weight, correction)
        lowest = np.inf
        for t in range(n):
            f0 = est[t] + correction[t] + offset
            est[t] = f0
            if f0 < lowest:
                lowest = f0
        min_f0[i] = lowest
        # a loop of its own (no running minimum in it) vectorises the divisions
        row = values[i]
        dst = out[i]
        for t in range(n):
            dst[t] = (np.float64(row[t]) - est[t]) / est[t]
    return min_f0


@numba.njit(cache=True, nogil=True)
def _running_extreme(src, size, out, pad, pre, suf, take_max):  # pragma: no cover - compiled
    """``scipy.ndimage.minimum_filter1d(src, size)`` (or ``maximum_filter1d``), mode
    'reflect', origin 0: ``out[t]`` = extreme of ``src[t - size//2 : t - size//2 + size]``.

    van Herk / Gil–Werman: on the reflect-padded row, extremes running forwards within
    blocks of ``size`` and backwards within the same blocks give every window's extreme as
    one comparison of two of them (three comparisons per frame, no branches on the data).
    ``pad``, ``pre`` and ``suf`` hold ``len(src) + size - 1`` values."""
    n = src.shape[0]
    left = size // 2
    total = n + size - 1
    for k in range(total):
        pad[k] = src[reflect_index(k - left, n)]
    for b0 in range(0, total, size):
        b1 = min(total, b0 + size)
        acc = pad[b0]
        pre[b0] = acc
        for k in range(b0 + 1, b1):
            v = pad[k]
            acc = max(acc, v) if take_max else min(acc, v)
            pre[k] = acc
        acc = pad[b1 - 1]
        suf[b1 - 1] = acc
        for k in range(b1 - 2, b0 - 1, -1):
            v = pad[k]
            acc = max(acc, v) if take_max else min(acc, v)
            suf[k] = acc
    for t in range(n):
        a = suf[t]
        b = pre[t + size - 1]
        out[t] = max(a, b) if take_max else min(a, b)


@numba.njit(cache=True, parallel=True)
def dfof_maximin_kernel(smoothed, values, out, window, offset):  # pragma: no cover
    """F0 = running max of the running min (``window`` frames, mode 'reflect') of the
    smoothed source rows, plus ``offset``; ``out = (values - F0) / F0``. Returns min F0."""
    n_rows, n = values.shape
    min_f0 = np.empty(n_rows)
    for i in numba.prange(n_rows):
        low = np.empty(n)
        f0 = np.empty(n)
        pad = np.empty(n + window - 1)
        pre = np.empty(n + window - 1)
        suf = np.empty(n + window - 1)
        _running_extreme(smoothed[i], window, low, pad, pre, suf, False)
        _running_extreme(low, window, f0, pad, pre, suf, True)
        row = values[i]
        dst = out[i]
        lowest = np.inf
        for t in range(n):
            base = f0[t] + offset
            if base < lowest:
                lowest = base
            dst[t] = (np.float64(row[t]) - base) / base
        min_f0[i] = lowest
    return min_f0


@numba.njit(cache=True, parallel=True)
def project_out_kernel(x, basis, out):  # pragma: no cover - compiled
    """``out[i] = x[i] − Σ_k (x[i] · basis[k]) basis[k]`` for orthonormal rows ``basis``."""
    n_rows, n = x.shape
    n_basis = basis.shape[0]
    for i in numba.prange(n_rows):
        row = x[i]
        coef = np.zeros(n_basis)
        # one sweep over the row for all coefficients (independent accumulators)
        for t in range(n):
            v = np.float64(row[t])
            for k in range(n_basis):
                coef[k] += v * basis[k, t]
        dst = out[i]
        for t in range(n):
            trend = 0.0
            for k in range(n_basis):
                trend += coef[k] * basis[k, t]
            dst[t] = np.float64(row[t]) - trend


@numba.njit(cache=True, nogil=True, inline="always")
def exp_neg(y):  # pragma: no cover - compiled
    """``exp(−y)`` for ``y ≥ 0`` in float64, relative error < 1e-12 (tested).

    ``exp(−y/1024)`` from its Taylor series (z ≤ 0.73: truncation < 1e-18), then squared ten
    times. Unlike a call to libm's ``exp`` this is plain arithmetic the compiler vectorises
    (SIMD), which makes the diffusion about 2–3× faster. Explicit Horner steps: a loop over
    a coefficient tuple is not unrolled by numba and loses the vectorisation.
    """
    z = min(y, 745.0) * (1.0 / 1024.0)
    p = -2.8114572543455206e-15  # -1/17!
    p = p * z + 4.779477332387385e-14  # 1/16!
    p = p * z - 7.647163731819816e-13  # 1/15!
    p = p * z + 1.1470745597729725e-11  # 1/14!
    p = p * z - 1.6059043836821613e-10  # 1/13!
    p = p * z + 2.08767569878681e-09  # 1/12!
    p = p * z - 2.505210838544172e-08  # 1/11!
    p = p * z + 2.755731922398589e-07  # 1/10!
    p = p * z - 2.7557319223985893e-06  # 1/9!
    p = p * z + 2.48015873015873e-05  # 1/8!
    p = p * z - 0.0001984126984126984  # 1/7!
    p = p * z + 0.001388888888888889  # 1/6!
    p = p * z - 0.008333333333333333  # 1/5!
    p = p * z + 0.041666666666666664  # 1/4!
    p = p * z - 0.16666666666666666  # 1/3!
    p = p * z + 0.5  # 1/2!
    p = p * z - 1.0  # 1/1!
    p = p * z + 1.0  # 1/0!
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p


@numba.njit(cache=True, parallel=True)
def perona_malik_kernel(x, iters, kappa, gamma, weights):  # pragma: no cover - compiled
    n_rows, n = x.shape
    radius = (weights.shape[0] - 1) // 2
    for i in numba.prange(n_rows):
        row = x[i]
        lo = np.float64(row[0])
        hi = np.float64(row[0])
        for t in range(n):
            v = np.float64(row[t])
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        k = kappa * (hi - lo)
        if k == 0.0:
            continue
        d = np.empty(n)
        smooth = np.empty(n)
        phi = np.empty(n)
        for _ in range(iters):
            for t in range(n - 1):
                d[t] = np.float64(row[t + 1]) - np.float64(row[t])
            d[n - 1] = 0.0
            if radius > 0:
                for t in range(n):
                    acc = 0.0
                    for m in range(weights.shape[0]):
                        acc += weights[m] * d[reflect_index(t + m - radius, n)]
                    smooth[t] = acc
                for t in range(n):
                    d[t] = smooth[t]
            for t in range(n):
                r = d[t] / k
                phi[t] = d[t] * exp_neg(r * r)
            row[0] = row[0] + gamma * phi[0]
            for t in range(1, n):
                row[t] = row[t] + gamma * (phi[t] - phi[t - 1])


@numba.njit(cache=True, parallel=True)
def median_abs_diff_kernel(x, out):  # pragma: no cover - compiled
    """``out[i] = nanmedian(|x[i, t+1] − x[i, t]|)`` in the dtype of ``x`` (NaN if none).

    Same value as numpy's (nan)median: the middle order statistic, or for an even count the
    sum of the two middle ones halved.
    """
    n_rows, n = x.shape
    for i in numba.prange(n_rows):
        row = x[i]
        buf = np.empty(n - 1, dtype=x.dtype)
        work = np.empty(n - 1, dtype=x.dtype)
        m = 0
        for t in range(n - 1):
            step = abs(row[t + 1] - row[t])
            if not np.isnan(step):
                buf[m] = step
                m += 1
        if m == 0:
            out[i] = np.nan
            continue
        # numpy: the middle value, or the two middle values summed and halved
        lower, upper = _order_stats(buf[:m], (m - 1) // 2, work)
        if m % 2 == 1:
            out[i] = lower
        else:
            out[i] = (lower + upper) * 0.5
