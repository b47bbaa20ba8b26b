"""Compiled OASIS (Friedrich, Zhou & Paninski 2017) behind ``infer_spikes``.

A port of ``oasis-deconv``'s ``constrained_oasisAR1`` and ``constrained_oasisAR2``
(``oasis/oasis_methods.pyx``) for the options ``infer_spikes`` uses (fitted baseline that may be
negative, L1 penalty, ``max_iter=5``, AR(2) warm-started on 5x decimated data, no AR
refinement), run in parallel over neurons with numba. Operations follow the Cython code in
the same order, so AR(1) results agree with ``oasis-deconv`` to rounding (tested); the
differences are where they make the same algorithm faster or fix it:

* ``exp(log(g) * l)`` of pool lengths comes from per-trace tables, not one libm call per
  comparison (same values: the table entries are computed by the same expression);
* a pool merge in AR(2) updates two running sums (``Σ d^k y``, ``Σ r^k y``, the kernel is
  ``g11[k] = (d^(k+1) - r^(k+1)) / (d - r)``) in O(1) instead of a dot product over the whole
  pool (O(pool length)), which makes the AR(2) pass linear in the frames;
* AR(2)'s baseline step takes ``-b/a`` when the quadratic has no real root (the Cython code
  meant to, but C's ``sqrt`` of a negative number returns NaN instead of raising, and the NaN
  baseline then spreads to the whole result).

Every kernel works in float64 on one row at a time, writes into preallocated outputs and
releases the GIL (``nogil``): ``infer_spikes`` runs blocks of neurons on a thread pool, which
under load costs less than a parallel region per stage. The working memory is a few arrays
of ``frames`` per thread.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from CalSciPy._trace_kernels import _percentile

#: maximal number of noise-constraint iterations (oasis-deconv's default)
MAX_ITER = 5
#: AR(2) hyper-parameters are first estimated on data decimated by this factor (oasis default)
DECIMATE = 5


# ---------------------------------------------------------------------------------------------
# AR(1)
# ---------------------------------------------------------------------------------------------
#: powers up to this are exp(lg * k) exactly as the Cython code computes them; above, products
#: of two table entries (a few ulp off, 30x fewer exp calls on long traces)
_EXACT_POWERS = 512


@numba.njit(cache=True, nogil=True)
def _powers(lg, h, h2):  # pragma: no cover - compiled
    """``h[k] = exp(lg*k)`` and ``h2[k] = exp(lg*2*k)`` (``h2[k] = h[k]**2`` up to rounding)."""
    n = h.shape[0]
    m = min(n, _EXACT_POWERS)
    for k in range(m):
        h[k] = math.exp(lg * k)
        h2[k] = math.exp(lg * 2 * k)
    if n > m:
        step = math.exp(lg * m)
        step2 = math.exp(lg * 2 * m)
        for k in range(m, n):
            h[k] = h[k - m] * step
            h2[k] = h2[k - m] * step2


@numba.njit(cache=True, nogil=True)
def _power_table(lg, h):  # pragma: no cover - compiled
    """``h[k] = exp(lg*k)`` (exactly so up to ``_EXACT_POWERS``, then table products)."""
    n = h.shape[0]
    m = min(n, _EXACT_POWERS)
    for k in range(m):
        h[k] = math.exp(lg * k)
    if n > m:
        step = math.exp(lg * m)
        for k in range(m, n):
            h[k] = h[k - m] * step


@numba.njit(cache=True, nogil=True)
def _pav_ar1(y, h, h2, pv, pw, pt, pl):  # pragma: no cover - compiled
    """First pass (``oasis1strun``): pools of ``y``; returns the number of pools.

    ``pv[i] / pw[i]`` is kept in ``ratio`` (the second half of ``pw``, which needs twice the
    frames) and recomputed only when a pool changes: the same quotient the Cython code forms
    at every comparison, one division per merge instead of two per comparison."""
    T = y.shape[0]
    ratio = pw[pw.shape[0] // 2:]
    pv[0] = y[0]
    pw[0] = 1.0
    ratio[0] = y[0] / 1.0
    pt[0] = 0
    pl[0] = 1
    i = 0
    for t in range(1, T):
        i += 1
        pv[i] = y[t]
        pw[i] = 1.0
        ratio[i] = y[t] / 1.0
        pt[i] = t
        pl[i] = 1
        while i > 0 and ratio[i - 1] * h[pl[i - 1]] > ratio[i]:
            i -= 1
            pv[i] += pv[i + 1] * h[pl[i]]
            pw[i] += pw[i + 1] * h2[pl[i]]
            pl[i] += pl[i + 1]
            ratio[i] = pv[i] / pw[i]
    return i + 1


@numba.njit(cache=True, nogil=True)
def _repav_ar1(n, h, h2, pv, pw, pt, pl):  # pragma: no cover - compiled
    """Later passes (``oasis``): merge shifted pools that now violate the constraint.

    The Cython code erases merged pools from a vector; compacting in place (read index
    ``k``, write index ``i``) visits the same pairs in the same order. The second half of
    ``pw`` holds the ratios as in :func:`_pav_ar1`."""
    ratio = pw[pw.shape[0] // 2:]
    for k in range(n):
        ratio[k] = pv[k] / pw[k]
    i = 0
    for k in range(1, n):
        i += 1
        if i != k:
            pv[i] = pv[k]
            pw[i] = pw[k]
            ratio[i] = ratio[k]
            pt[i] = pt[k]
            pl[i] = pl[k]
        while i > 0 and ratio[i - 1] * h[pl[i - 1]] > ratio[i]:
            i -= 1
            pv[i] += pv[i + 1] * h[pl[i]]
            pw[i] += pw[i + 1] * h2[pl[i]]
            pl[i] += pl[i + 1]
            ratio[i] = pv[i] / pw[i]
    return i + 1


@numba.njit(cache=True, nogil=True)
def _fix_last_ar1(c, h, n, pv, pw, pt, pl):  # pragma: no cover - compiled
    i = n - 1
    value = max(0.0, pv[i]) / pw[i]
    for k in range(pl[i]):
        c[pt[i] + k] = value * h[k]


@numba.njit(cache=True, nogil=True)
def _mean_diff(y, c):  # pragma: no cover - compiled
    total = 0.0
    for t in range(y.shape[0]):
        total += y[t] - c[t]
    return total / y.shape[0]


@numba.njit(cache=True, nogil=True)
def _fill_mean_ar1(c, y, g, n, pv, pw, pt, pl):  # pragma: no cover - compiled
    """``_fill_ar1`` and, in the same pass, ``mean(y - c)``."""
    total = 0.0
    for j in range(n):
        tmp = max(pv[j], 0.0) / pw[j]
        t0 = pt[j]
        for k in range(pl[j]):
            c[t0 + k] = tmp
            total += y[t0 + k] - tmp
            tmp *= g
    return total / y.shape[0]


@numba.njit(cache=True, nogil=True)
def constrained_ar1(y, g, sn, c, s, work, pv, pw, pt, pl, h, h2):  # pragma: no cover
    """Noise-constrained AR(1) OASIS with a fitted (possibly negative) baseline.

    ``oasis.oasis_methods.constrained_oasisAR1(y, g, sn, optimize_b=True, b_nonneg=False)``.
    Writes the calcium ``c`` and activity ``s`` (``frames``); ``work``, ``pv``, ``pt`` and
    ``pl`` need ``frames``, ``pw`` twice that, ``h``/``h2`` ``frames + 1``. Returns
    ``(b, lam)``. The Cython code's full-length temporaries (the residual, the shift
    direction ``tmp``) are computed on the fly inside the passes that use them, with the same
    operations, so each iteration makes three passes over the frames instead of eight.
    """
    T = y.shape[0]
    lg = math.log(g)
    _powers(lg, h, h2)
    thresh = sn * sn * T
    b = _percentile(y, 0.15, work)  # np.percentile(y, 15) without sorting a copy
    for t in range(T):
        work[t] = y[t] - b
    n = _pav_ar1(work, h, h2, pv, pw, pt, pl)
    db = _fill_mean_ar1(c, y, g, n, pv, pw, pt, pl) - b
    b += db
    lam = -db / (1 - g)
    pv[n - 1] -= lam * h[pl[n - 1]]
    _fix_last_ar1(c, h, n, pv, pw, pt, pl)
    rss = 0.0
    csum = 0.0
    for t in range(T):
        r = y[t] - b - c[t]
        rss += r * r
        csum += c[t]
    first = True  # the first residual is (y - b) - c, later ones (y - c) - b (as in Cython)
    count = 0
    while abs(rss - thresh) > thresh * 1e-4 and csum > 1e-9 and count < MAX_ITER:
        count += 1
        # total shift dphi from the baseline and lambda
        shift = 0.0
        for i in range(n):
            shift += (1 - h[pl[i]]) ** 2 / pw[i]
        shift = 1.0 / T / (1 - g) * shift
        aa = 0.0
        bb = 0.0
        for i in range(n):
            step = 1 / pw[i] if i == n - 1 else (1 - h[pl[i]]) / pw[i]
            t0 = pt[i]
            for j in range(pl[i]):
                t = t0 + j
                direction = step - shift
                r = y[t] - b - c[t] if first else y[t] - c[t] - b
                aa += direction * direction
                bb += r * direction
                step *= g
        first = False
        cc = rss - thresh
        disc = bb * bb - aa * cc
        dphi = (-bb + math.sqrt(disc)) / aa if disc > 0 else -bb / aa
        b += dphi * (1 - g)
        for i in range(n):
            pv[i] -= dphi * (1 - h[pl[i]])
        n = _repav_ar1(n, h, h2, pv, pw, pt, pl)
        db = _fill_mean_ar1(c, y, g, n, pv, pw, pt, pl) - b
        b += db
        dlam = -db / (1 - g)
        lam += dlam
        pv[n - 1] -= dlam * h[pl[n - 1]]
        _fix_last_ar1(c, h, n, pv, pw, pt, pl)
        rss = 0.0
        csum = 0.0
        for t in range(T):
            r = y[t] - c[t] - b
            rss += r * r
            csum += c[t]
    s[0] = 0.0
    for t in range(1, T):
        s[t] = c[t] - g * c[t - 1]
    return b, lam


# ---------------------------------------------------------------------------------------------
# AR(2)
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, sg11, hd, hr):  # pragma: no cover
    """The AR(2) kernel tables of the Cython code, plus ``hd[k] = d^k`` and ``hr[k] = r^k``."""
    T = g11.shape[0]
    root = math.sqrt(g1 * g1 + 4 * g2)
    d = (g1 + root) / 2
    r = (g1 - root) / 2
    _power_table(math.log(d), hd)
    _power_table(math.log(r), hr)
    for k in range(T):
        g11[k] = (hd[k + 1] - hr[k + 1]) / (d - r)
    g12[0] = 0.0
    for k in range(1, T):
        g12[k] = g2 * g11[k - 1]
    a = 0.0
    b = 0.0
    c = 0.0
    for k in range(T):
        a += g11[k] * g11[k]
        b += g11[k] * g12[k]
        c += g11[k]
        g11g11[k] = a
        g11g12[k] = b
        sg11[k] = c
    return d, r


@numba.njit(cache=True, nogil=True)
def _pav_ar2(y, g1, g2, lam, d, r, g11, g12, g11g11, g11g12, hd, hr,
             yl, pv, pw, pt, pl, sd, sr, c, s):  # pragma: no cover - compiled
    """``oasis.oasis_methods.oasisAR2(y, g1, g2, lam)`` (no ``s_min``, no jitter).

    A pool ``i`` keeps ``sd[i] = Σ_k d^k yl[t+k]`` and ``sr[i] = Σ_k r^k yl[t+k]``, so
    ``g11[:l].dot(yl[t:t+l]) = (d sd - r sr) / (d - r)`` and merging two pools is O(1).
    """
    T = y.shape[0]
    for t in range(T):
        yl[t] = y[t] - lam * (1 - g1 - g2)
    yl[T - 2] = y[T - 2] - lam * (1 - g1)
    yl[T - 1] = y[T - 1] - lam
    pv[0] = max(0.0, yl[0])
    pw[0] = pv[0]
    pt[0] = 0
    pl[0] = 1
    sd[0] = yl[0]
    sr[0] = yl[0]
    i = 0
    for t in range(1, T):
        i += 1
        pv[i] = yl[t]
        pw[i] = yl[t]
        pt[i] = t
        pl[i] = 1
        sd[i] = yl[t]
        sr[i] = yl[t]
        while i > 0 and (
            (g11[pl[i - 1]] * pv[i - 1] + g12[pl[i - 1]] * pw[i - 2] > pv[i]) if i > 1
            else (pw[i - 1] * d > pv[i])
        ):
            i -= 1
            # merge pool i + 1 into pool i
            sd[i] += hd[pl[i]] * sd[i + 1]
            sr[i] += hr[pl[i]] * sr[i + 1]
            pl[i] += pl[i + 1]
            last = pl[i] - 1
            if i > 0:
                dot = (d * sd[i] - r * sr[i]) / (d - r)
                pv[i] = (dot - g11g12[last] * pw[i - 1]) / g11g11[last]
                pw[i] = g11[last] * pv[i] + g12[last] * pw[i - 1]
            else:  # the first pool is refitted too
                pv[i] = max(0.0, sd[i] * (1 - d * d) / (1 - hd[2 * (last + 1)]))
                pw[i] = hd[last] * pv[i]
    n = i + 1
    # construct c and s
    tmp = max(pv[0], 0.0)
    for j in range(pl[0]):
        c[j] = tmp
        tmp *= d
    for i in range(1, n):
        t0 = pt[i]
        c[t0] = pv[i]
        for j in range(t0 + 1, t0 + pl[i] - 1):
            c[j] = g1 * c[j - 1] + g2 * c[j - 2]
        c[t0 + pl[i] - 1] = pw[i]
    s[0] = 0.0
    s[1] = 0.0
    for t in range(2, T):
        s[t] = c[t] - (g1 * c[t - 1] + g2 * c[t - 2])


@numba.njit(cache=True, nogil=True)
def constrained_ar2(y, g1, g2, sn, c, s, work, iwork):  # pragma: no cover - compiled
    """Noise-constrained AR(2) OASIS with a fitted (possibly negative) baseline.

    ``oasis.oasis_methods.constrained_oasisAR2(y, g1, g2, sn, optimize_b=True,
    b_nonneg=False)``: baseline and lambda from AR(1) OASIS on the data decimated 5x, then up
    to ``MAX_ITER - 1`` baseline corrections. ``y`` needs at least ``DECIMATE`` frames;
    frames beyond a multiple of ``DECIMATE`` are left out of the decimated warm start (the
    Cython code refuses such traces). ``work`` needs ``19 * frames + 8`` floats, ``iwork``
    ``2 * frames``. Returns the baseline.
    """
    T = y.shape[0]
    f = work
    g11 = f[0:T]
    g12 = f[T:2 * T]
    g11g11 = f[2 * T:3 * T]
    g11g12 = f[3 * T:4 * T]
    sg11 = f[4 * T:5 * T]
    hd = f[5 * T:7 * T + 3]
    hr = f[7 * T + 3:9 * T + 6]
    yl = f[9 * T + 6:10 * T + 6]
    pv = f[10 * T + 6:11 * T + 6]
    pw = f[11 * T + 6:12 * T + 6]
    sd = f[12 * T + 6:13 * T + 6]
    sr = f[13 * T + 6:14 * T + 6]
    yb = f[14 * T + 6:15 * T + 6]
    tmp = f[15 * T + 6:16 * T + 6]
    pt = iwork[:T]
    pl = iwork[T:2 * T]
    thresh = sn * sn * T
    d, r = _kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, sg11, hd, hr)
    ld = math.log(d)
    # warm start: AR(1) OASIS on the decimated trace
    m = T // DECIMATE
    yd = f[16 * T + 6:16 * T + 6 + m]
    for k in range(m):
        acc = 0.0
        for j in range(DECIMATE):
            acc += y[k * DECIMATE + j]
        yd[k] = acc / DECIMATE
    cd = f[16 * T + 6 + m:16 * T + 6 + 2 * m]
    sdd = f[16 * T + 6 + 2 * m:16 * T + 6 + 3 * m]
    w1 = f[17 * T + 6:19 * T + 6]  # 2 m <= 2 T / 5
    h1 = f[19 * T + 6 - 2 * (m + 1):19 * T + 6]
    ha = h1[:m + 1]
    hb = h1[m + 1:]
    b, lam = constrained_ar1(yd, math.exp(ld * DECIMATE), sn / math.sqrt(DECIMATE), cd, sdd,
                             w1[:m], pv, pw, pt, pl, ha, hb)
    lam *= 1 - math.exp(ld * DECIMATE)
    for t in range(T):
        yb[t] = y[t] - b
    _pav_ar2(yb, g1, g2, lam / (1 - g1 - g2), d, r, g11, g12, g11g11, g11g12, hd, hr,
             yl, pv, pw, pt, pl, sd, sr, c, s)
    db = _mean_diff(y, c) - b
    b += db
    lam -= db
    for _ in range(MAX_ITER - 1):
        rss = 0.0
        for t in range(T):
            rss += (y[t] - c[t] - b) ** 2
        if abs(rss - thresh) < 1e-3 * thresh:
            break
        # shift db of the solution per unit baseline change; pools start where s > 1e-6
        first = T
        for t in range(T):
            if s[t] > 1e-6:
                first = t
                break
        scale = (1 + d) / (1 + math.exp(ld * first))
        for t in range(first):
            tmp[t] = scale * hd[t]
        t0 = first
        while t0 < T:
            t1 = t0 + 1
            while t1 < T and not s[t1] > 1e-6:
                t1 += 1
            length = t1 - t0
            tmp[t0] = (
                (sg11[length] - g11g12[length] * tmp[t0 - 1]) / g11g11[length]
                if length < T else 0.0
            )
            for j in range(1, length):
                tmp[t0 + j] = g11[j] * tmp[t0] + g12[j] * tmp[t0 - 1]
            t0 = t1
        mean = 0.0
        for t in range(T):
            mean += tmp[t]
        mean /= T
        aa = 0.0
        bb = 0.0
        for t in range(T):
            tmp[t] -= mean
            aa += tmp[t] * tmp[t]
            bb += (y[t] - c[t] - b) * tmp[t]
        cc = rss - thresh
        disc = bb * bb - aa * cc
        db = (-bb + math.sqrt(disc)) / aa if disc >= 0 else -bb / aa
        b += db
        for t in range(T):
            yb[t] = y[t] - b
        _pav_ar2(yb, g1, g2, lam / (1 - g1 - g2), d, r, g11, g12, g11g11, g11g12, hd, hr,
                 yl, pv, pw, pt, pl, sd, sr, c, s)
        db = _mean_diff(y, c) - b
        b += db
        lam -= db
    return b


# ---------------------------------------------------------------------------------------------
# rows in parallel
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _row_copy(src, dst):  # pragma: no cover - compiled
    for t in range(src.shape[0]):
        dst[t] = src[t]


@numba.njit(cache=True, nogil=True)
def row_ptp(rows, ptp):  # pragma: no cover - compiled
    """Peak-to-peak of every row, in float64."""
    n, T = rows.shape
    for i in range(n):
        lo = np.float64(rows[i, 0])
        hi = lo
        for t in range(1, T):
            v = np.float64(rows[i, t])
            lo = min(lo, v)
            hi = max(hi, v)
        ptp[i] = hi - lo


@numba.njit(cache=True, nogil=True)
def autocovariance(rows, active, lags, out):  # pragma: no cover - compiled
    """``out[i, k] = Σ_t y[t+k] y[t] / T`` of each mean-removed active row, ``k <= lags``
    (``oasis.functions.estimate_time_constant``'s ``xc``)."""
    n, T = rows.shape
    for i in range(n):
        if not active[i]:
            continue
        y = np.empty(T)
        _row_copy(rows[i], y)
        mean = y.mean()
        for t in range(T):
            y[t] -= mean
        for k in range(lags + 1):
            acc = 0.0
            for t in range(T - k):
                acc += y[t + k] * y[t]
            out[i, k] = acc / T


@numba.njit(cache=True, nogil=True)
def plain_ar1(y, g, lam, c, s, work, pv, pw, pt, pl, h, h2):  # pragma: no cover - compiled
    """``oasis.oasis_methods.oasisAR1(y, g, lam)``: OASIS with a fixed sparsity penalty
    (``lam = 0``: suite2p's deconvolution), no noise constraint, no baseline."""
    T = y.shape[0]
    _powers(math.log(g), h, h2)
    for t in range(T - 1):
        work[t] = y[t] - lam * (1 - g)
    work[T - 1] = y[T - 1] - lam
    n = _pav_ar1(work, h, h2, pv, pw, pt, pl)
    _fill_mean_ar1(c, y, g, n, pv, pw, pt, pl)
    s[0] = 0.0
    for t in range(1, T):
        s[t] = c[t] - g * c[t - 1]


@numba.njit(cache=True, nogil=True)
def plain_ar2(y, g1, g2, lam, c, s, work, iwork):  # pragma: no cover - compiled
    """``oasis.oasis_methods.oasisAR2(y, g1, g2, lam)`` (fixed penalty, no baseline)."""
    T = y.shape[0]
    f = work
    g11 = f[0:T]
    g12 = f[T:2 * T]
    g11g11 = f[2 * T:3 * T]
    g11g12 = f[3 * T:4 * T]
    sg11 = f[4 * T:5 * T]
    hd = f[5 * T:7 * T + 3]
    hr = f[7 * T + 3:9 * T + 6]
    d, r = _kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, sg11, hd, hr)
    _pav_ar2(y, g1, g2, lam, d, r, g11, g12, g11g11, g11g12, hd, hr,
             f[9 * T + 6:10 * T + 6], f[10 * T + 6:11 * T + 6], f[11 * T + 6:12 * T + 6],
             iwork[:T], iwork[T:2 * T], f[12 * T + 6:13 * T + 6], f[13 * T + 6:14 * T + 6],
             c, s)


@numba.njit(cache=True, nogil=True)
def deconvolve_rows(rows, active, g, sn, lam, spikes, denoised, baseline):  # pragma: no cover
    """OASIS on every active row; writes ``spikes`` (clipped at 0), ``denoised`` and
    ``baseline`` of those rows. ``g`` is ``(rows, 1)`` (AR(1)) or ``(rows, 2)`` (AR(2)).
    ``lam < 0``: noise-constrained with a fitted baseline; ``lam >= 0``: that fixed sparsity
    penalty, baseline 0."""
    n, T = rows.shape
    p = g.shape[1]
    # buffers for all rows of the block (fresh pages per row would cost page faults)
    y = np.empty(T)
    if p == 1:
        work = np.empty(T)
        pv = np.empty(T)
        pw = np.empty(2 * T)
        pt = np.empty(T, dtype=np.int64)
        pl = np.empty(T, dtype=np.int64)
        h = np.empty(T + 1)
        h2 = np.empty(T + 1)
    else:
        work = np.empty(19 * T + 8)
        iwork = np.empty(2 * T, dtype=np.int64)
    for i in range(n):
        if not active[i]:
            continue
        _row_copy(rows[i], y)
        c = denoised[i]
        s = spikes[i]
        b = 0.0
        if p == 1:
            if lam < 0:
                b, _lam = constrained_ar1(y, g[i, 0], sn[i], c, s, work, pv, pw, pt, pl, h,
                                          h2)
            else:
                plain_ar1(y, g[i, 0], lam, c, s, work, pv, pw, pt, pl, h, h2)
        else:
            if lam < 0:
                b = constrained_ar2(y, g[i, 0], g[i, 1], sn[i], c, s, work, iwork)
            else:
                plain_ar2(y, g[i, 0], g[i, 1], lam, c, s, work, iwork)
        baseline[i] = b
        for t in range(T):
            if not s[t] > 0.0:  # also NaN -> 0
                s[t] = 0.0


# ---------------------------------------------------------------------------------------------
# noise level (oasis.functions.GetSn: Welch power spectral density, mean over a band)
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def welch_segments(rows, index, window, step, out):  # pragma: no cover - compiled
    """``out[j, s] = window * (seg - mean(seg))`` for the segments ``seg`` of ``rows[index[j]]``
    starting every ``step`` frames (scipy.signal.welch's detrend='constant' and window)."""
    n_seg = out.shape[1]
    nper = window.shape[0]
    for j in range(index.shape[0]):
        row = rows[index[j]]
        for s in range(n_seg):
            first = s * step
            total = 0.0
            for k in range(nper):
                total += np.float64(row[first + k])
            mean = total / nper
            for k in range(nper):
                out[j, s, k] = window[k] * (np.float64(row[first + k]) - mean)


@numba.njit(cache=True, nogil=True)
def band_noise(spectra, lo, hi, scale, out):  # pragma: no cover - compiled
    """``sqrt(mean over bins lo..hi-1 of (segment-mean of 2 scale |X|^2) / 2)`` per row."""
    n, n_seg, _ = spectra.shape
    for j in range(n):
        acc = 0.0
        for f in range(lo, hi):
            power = 0.0
            for s in range(n_seg):
                x = spectra[j, s, f]
                power += (x.real * x.real + x.imag * x.imag) * scale * 2
            acc += (power / n_seg) / 2
        out[j] = math.sqrt(acc / (hi - lo))
