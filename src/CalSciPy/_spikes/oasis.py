"""Compiled OASIS (Friedrich, Zhou & Paninski 2017) behind ``infer_spikes``.

AR(1): a port of ``oasis-deconv``'s ``constrained_oasisAR1`` (``oasis/oasis_methods.pyx``)
for the options ``infer_spikes`` uses (fitted baseline that may be negative, L1 penalty,
``max_iter=5``, no AR refinement), operations in the same order, so the results agree with
``oasis-deconv`` to rounding (tested). Differences that make the same algorithm faster:

* ``exp(log(g) * l)`` of pool lengths comes from per-trace tables, not one libm call per
  comparison (same values: the table entries are computed by the same expression);
* the residual and the shift direction are computed inside the passes that use them.

AR(2): the problem ``oasis.functions.deconvolve(y, tau_r=None, penalty=1, b_nonneg=False)``
sets up (baseline and penalty from AR(1) OASIS on 5x decimated data), solved exactly on the
whole trace: OASIS' greedy AR(2) pass (``oasisAR2``; a pool merge updates two running sums
in O(1) instead of a dot product over the pool) as the warm start of an active-set solver
(:func:`project_ar2`, banded ``L D L'`` solves, only the blocks around changes re-solved).
The greedy pass alone (``oasis-deconv``'s ``constrained_oasisAR2``) stops above the
optimum: on synthetic data with known spikes its activity correlates less with the truth
than oasis' windowed NNLS (``onnls``), which the exact solution matches or beats
(``benchmarks/bench_events.py``).

Every kernel works in float64 on one row at a time (converted from the input's dtype row by
row), writes into preallocated outputs and releases the GIL (``nogil``): ``infer_spikes`` runs
blocks of neurons on a thread pool, which under load costs less than a parallel region per
stage. The working memory is a few float64 arrays of ``frames`` per thread.
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
def _roots_ar2(g1, g2):  # pragma: no cover - compiled
    """The roots ``d > r`` of ``z^2 - g1 z - g2`` (real and distinct: see ``infer_spikes``)."""
    root = math.sqrt(g1 * g1 + 4 * g2)
    return (g1 + root) / 2, (g1 - root) / 2


@numba.njit(cache=True, nogil=True)
def _kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, hd, hr):  # pragma: no cover
    """The AR(2) kernel tables of the Cython code, plus ``hd[k] = d^k`` and ``hr[k] = r^k``
    (``frames + 1`` entries each)."""
    T = g11.shape[0]
    d, r = _roots_ar2(g1, g2)
    _power_table(math.log(d), hd)
    _power_table(math.log(r), hr)
    for k in range(T):
        g11[k] = (hd[k + 1] - hr[k + 1]) / (d - r)
    g12[0] = 0.0
    for k in range(1, T):
        g12[k] = g2 * g11[k - 1]
    a = 0.0
    b = 0.0
    for k in range(T):
        a += g11[k] * g11[k]
        b += g11[k] * g12[k]
        g11g11[k] = a
        g11g12[k] = b
    return d, r


@numba.njit(cache=True, nogil=True)
def _pav_ar2(y, b, g1, g2, lam, d, r, g11, g12, g11g11, g11g12, hd, hr,
             yl, pv, pw, pt, pl, sd, sr, c, s):  # pragma: no cover - compiled
    """``oasis.oasis_methods.oasisAR2(y - b, g1, g2, lam)`` (no ``s_min``, no jitter), the
    greedy pool-adjacent-violators pass; also leaves the penalised target in ``yl``.

    A pool ``i`` keeps ``sd[i] = Σ_k d^k yl[t+k]`` and ``sr[i] = Σ_k r^k yl[t+k]``, so
    ``g11[:l].dot(yl[t:t+l]) = (d sd - r sr) / (d - r)`` and merging two pools is O(1).
    """
    T = y.shape[0]
    for t in range(T):
        yl[t] = y[t] - b - lam * (1 - g1 - g2)
    yl[T - 2] = y[T - 2] - b - lam * (1 - g1)
    yl[T - 1] = y[T - 1] - b - lam
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
                pv[i] = max(0.0, sd[i] * (1 - d * d) / (1 - hd[last + 1] * hd[last + 1]))
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


#: active-set iterations of the exact AR(2) step that change every violating frame at once
#: (measured: 3-10 from the greedy start suffice for almost every trace) ...
SIMULTANEOUS_ITER = 10
#: ... then one frame per iteration, the first violating one (Murty's least-index rule, which
#: cannot cycle: the problem is a linear complementarity problem with a positive definite
#: matrix); this many iterations in all, else the greedy solution is kept
MAX_PROJECT_ITER = 400


@numba.njit(cache=True, nogil=True)
def project_ar2(yl, g1, g2, c, s, state, z, nu, inv0, l1, l2, max_iter):  # pragma: no cover
    """Exact ``min ½|c - yl|²`` subject to ``s = Gc >= 0`` (``s[t] = c[t] - g1 c[t-1] -
    g2 c[t-2]``, ``c[-1] = c[-2] = 0``): the L1 problem ``oasis.functions.onnls`` solves in
    windows, here on the whole trace.

    Primal-dual active set, warm-started from the support ``s > tol`` of ``s`` (OASIS'
    greedy AR(2) pass, whose merges only look one pool back, so it stops above the
    optimum). With the set ``Z`` of frames where ``s = 0``, stationarity ``c = yl + G_Z' ν``
    and ``G_Z c = 0`` give ``(G_Z G_Z') ν = -G_Z yl``, a pentadiagonal system (rows of
    ``G`` overlap within two frames) solved by a banded ``L D L'`` factorisation; frames of
    ``Z`` with ``ν < 0`` leave it, free frames with ``s < 0`` join it, until nothing changes
    (the KKT conditions then hold). Changing all violating frames at once can cycle (seen on
    2 of 500 traces); after ``SIMULTANEOUS_ITER`` iterations only the first violating frame
    changes per iteration (Murty's least-index principal pivoting, finite for this
    positive definite problem).

    Two consecutive free frames decouple the system, so it is solved block by block, and an
    iteration re-solves only the blocks within two frames of a change (after the first
    rounds a handful of frames change: a small part of the trace).

    ``state`` (int64), ``z`` (int64), ``nu``, ``inv0``, ``l1``, ``l2`` are ``frames``-long
    scratch. Writes ``c`` and ``s`` (exact zeros on ``Z``); returns the number of iterations,
    or -1 when they did not converge within ``max_iter`` (``c`` and ``s`` are then not a
    solution).
    """
    T = yl.shape[0]
    scale = 0.0
    for t in range(T):
        scale = max(scale, abs(yl[t]))
    tol = 1e-10 * scale
    # state bit 1: clamped (in Z); bits 2 / 4: to be re-solved in even / odd iterations
    for t in range(T):
        state[t] = (0 if s[t] > tol else 1) | 2
    pick = np.empty(2, dtype=np.int64)  # single mode: first violating frame, violations
    for iteration in range(max_iter):
        now = 2 << (iteration & 1)
        later = 2 << ((iteration + 1) & 1)
        changed = 0
        single = iteration >= SIMULTANEOUS_ITER
        pick[0] = T
        pick[1] = 0
        stale = 0  # s of frames before this one uses calcium re-solved in this iteration
        start = 0
        while start < T:
            # the block: up to the next pair of free frames
            dirty = (state[start] & now) != 0
            stop = start + 1
            while stop < T and not (
                stop + 1 < T and (state[stop] & 1) == 0 and (state[stop + 1] & 1) == 0
            ):
                if state[stop] & now:
                    dirty = True
                stop += 1
            if dirty:
                rows = _solve_block(yl, g1, g2, state, z, nu, inv0, l1, l2, start, stop)
                if rows < 0:
                    return -1
                changed += _check_block(yl, g1, g2, c, s, state, z, nu, inv0, l1, l2, start,
                                        stop, rows, tol, later, single, pick)
                stale = stop + 2
            else:  # the activity of its first two frames uses the two frames before
                for t in range(start, min(stop, stale)):
                    changed += _check_spike(c, s, state, t, g1, g2, tol, later, single, pick)
            for t in range(start, stop):
                state[t] &= ~now
            start = stop
        if single and pick[1]:
            t = pick[0]
            state[t] ^= 1
            _mark(state, t, later)
            changed = pick[1]
        if changed == 0:
            return iteration + 1
    return -1


@numba.njit(cache=True, nogil=True)
def _solve_block(yl, g1, g2, state, z, nu, inv0, l1, l2, start, stop):  # pragma: no cover
    """Rows of the ``L D L'`` factorisation of ``G_Z G_Z'`` (``inv0`` = 1 / D) and forward
    substitution over the clamped frames of ``start:stop``, stored in rows ``start:end`` of
    ``z``, ``nu``, ``inv0``, ``l1``, ``l2``.
    Returns ``end``, or -1 when rounding broke positive definiteness."""
    m = start  # rows of the block are stored from index `start` on (at most stop - start)
    # the previous two rows in registers (a sentinel frame far back: no coupling)
    a1 = -10
    a2 = -10
    inv1 = 0.0
    inv2 = 0.0
    x1_before = 0.0
    u1 = 0.0
    u2 = 0.0
    e_next = -g1 + g1 * g2
    diag_full = 1.0 + g1 * g1 + g2 * g2
    for a in range(start, stop):
        if (state[a] & 1) == 0:
            continue
        if a >= 2:
            diag = diag_full
            rhs = yl[a] - g1 * yl[a - 1] - g2 * yl[a - 2]
        elif a == 1:
            diag = 1.0 + g1 * g1
            rhs = yl[1] - g1 * yl[0]
        else:
            diag = 1.0
            rhs = yl[0]
        gap = a - a1
        if gap == 1:
            e1 = e_next if a >= 2 else -g1
        elif gap == 2:
            e1 = -g2
        else:
            e1 = 0.0
        e2 = -g2 if a - a2 == 2 else 0.0
        # unit lower triangular L and diagonal D (A = L D L', no square roots):
        # L[k, k-2] = e2 / D[k-2], L[k, k-1] = (e1 - e2 L[k-1, k-2]) / D[k-1]
        x2 = e2 * inv2
        t1 = e1 - e2 * x1_before
        x1 = t1 * inv1
        dd = diag - x1 * t1 - x2 * e2
        if not dd > 0.0:
            return -1
        inv = 1.0 / dd
        u = -rhs - x1 * u1 - x2 * u2
        nu[m] = u
        inv0[m] = inv
        l1[m] = x1
        l2[m] = x2
        z[m] = a
        m += 1
        a2 = a1
        a1 = a
        inv2 = inv1
        inv1 = inv
        x1_before = x1
        u2 = u1
        u1 = u
    return m


@numba.njit(cache=True, nogil=True)
def _check_block(yl, g1, g2, c, s, state, z, nu, inv0, l1, l2, start, stop, m, tol,
                 later, single, pick):  # pragma: no cover - compiled
    """Back substitution of a solved block, ``c = yl + G_Z' ν`` and ``s = Gc`` over
    ``start:stop`` (reverse frame order; the block's rows end at ``m``), with the
    active-set updates; returns the number of frames that changed sides (``single``: the
    number of violating frames, which are only recorded, see :func:`_violation`)."""
    changed = 0
    k = m - 1
    n1 = 0.0  # nu at frames t + 1, t + 2 (0 on free frames, and past the block)
    n2 = 0.0
    q1 = 0.0  # nu of the next two rows (k + 1, k + 2) and their L entries
    q2 = 0.0
    l1_next = 0.0
    l2_next = 0.0
    l2_after = 0.0
    for t in range(stop - 1, start - 1, -1):
        n0 = 0.0
        if k >= start and z[k] == t:
            n0 = nu[k] * inv0[k] - l1_next * q1 - l2_next * q2
            nu[k] = n0
            q2 = q1
            q1 = n0
            l2_next = l2_after
            l2_after = l2[k]
            l1_next = l1[k]
            k -= 1
            if n0 < -tol:  # its multiplier has the wrong sign: free the frame
                changed += _violation(state, t, later, single, pick)
        c[t] = yl[t] + n0 - g1 * n1 - g2 * n2
        n2 = n1
        n1 = n0
        if t + 2 < stop:
            changed += _check_spike(c, s, state, t + 2, g1, g2, tol, later, single, pick)
    for t in range(min(start + 1, stop - 1), start - 1, -1):
        changed += _check_spike(c, s, state, t, g1, g2, tol, later, single, pick)
    return changed


@numba.njit(cache=True, nogil=True)
def _violation(state, t, later, single, pick):  # pragma: no cover - compiled
    """Frame ``t`` is on the wrong side: move it (``single``: record it as a candidate and
    keep its block to be checked again). Returns 1."""
    if single:
        pick[0] = min(pick[0], t)
        pick[1] += 1
        state[t] |= later
    else:
        state[t] ^= 1
        _mark(state, t, later)
    return 1


@numba.njit(cache=True, nogil=True)
def _mark(state, t, later):  # pragma: no cover - compiled
    for u in range(max(0, t - 2), min(state.shape[0], t + 3)):
        state[u] |= later


@numba.njit(cache=True, nogil=True)
def _check_spike(c, s, state, t, g1, g2, tol, later, single, pick):  # pragma: no cover
    """``s[t] = (Gc)[t]`` on a free frame (clamped ones: exactly 0); a negative one is
    clamped. Returns 1 for a change."""
    if state[t] & 1:
        s[t] = 0.0
        return 0
    value = c[t]
    if t >= 1:
        value -= g1 * c[t - 1]
    if t >= 2:
        value -= g2 * c[t - 2]
    s[t] = value
    if value < -tol:
        return _violation(state, t, later, single, pick)
    return 0


@numba.njit(cache=True, nogil=True, inline="always")
def _ar2_buffers(work, T):  # pragma: no cover - compiled
    """The AR(2) solvers' views of ``work`` (``11 * T + 2`` floats): the kernel tables
    ``g11, g12, g11g11, g11g12`` (``T`` each), ``hd, hr`` (``T + 1`` each) and ``5 * T`` more."""
    return (work[0:T], work[T:2 * T], work[2 * T:3 * T], work[3 * T:4 * T],
            work[4 * T:5 * T + 1], work[5 * T + 1:6 * T + 2], work[6 * T + 2:11 * T + 2])


@numba.njit(cache=True, nogil=True)
def constrained_ar2(y, g1, g2, sn, c, s, work, iwork):  # pragma: no cover - compiled
    """Noise-constrained AR(2) deconvolution with a fitted (possibly negative) baseline, as
    ``oasis.functions.deconvolve(y, tau_r=None, penalty=1, b_nonneg=False)``
    (``constrained_onnlsAR2``) sets it up, solved exactly.

    Baseline ``b`` and penalty ``λ`` come from AR(1) OASIS on the data decimated 5x
    (``constrained_oasisAR1``, root ``d^5``, noise ``sn / √5``) as in ``oasis-deconv``, which
    then runs one windowed NNLS (``onnls``) at that ``b`` and ``λ`` and refits the
    baseline as ``mean(y - c)``. Here the L1 problem at that ``b`` and ``λ`` is solved on
    the whole trace: OASIS' greedy AR(2) pass (``oasisAR2``), then :func:`project_ar2` to
    the exact optimum (the greedy pass alone is kept if that fails to converge). ``s[0]``
    and ``s[1]`` are the model's first two innovations (``c[0]``, ``c[1] - g1 c[0]``), as
    in ``onnls``. ``y`` needs at least ``2 * DECIMATE`` frames; frames beyond a multiple of
    ``DECIMATE`` are left out of the decimated warm start. ``work`` needs ``11 * frames +
    2`` floats, ``iwork`` ``2 * frames``. Returns ``(baseline, iterations)`` (``-1``: the
    exact step did not converge).
    """
    T = y.shape[0]
    g11, g12, g11g11, g11g12, hd, hr, rest = _ar2_buffers(work, T)
    yl = rest[0:T]
    pv = rest[T:2 * T]
    pw = rest[2 * T:3 * T]
    sd = rest[3 * T:4 * T]
    sr = rest[4 * T:5 * T]
    pt = iwork[:T]
    pl = iwork[T:2 * T]
    d, r = _roots_ar2(g1, g2)
    # warm start: AR(1) OASIS on the decimated trace (its scratch: the pool arrays, free now)
    m = T // DECIMATE
    yd = rest[0:m]
    for k in range(m):
        acc = 0.0
        for j in range(DECIMATE):
            acc += y[k * DECIMATE + j]
        yd[k] = acc / DECIMATE
    dm = math.exp(math.log(d) * DECIMATE)
    b, lam = constrained_ar1(yd, dm, sn / math.sqrt(DECIMATE), rest[m:2 * m],
                             rest[2 * m:3 * m], rest[3 * m:4 * m], rest[4 * m:5 * m],
                             rest[5 * m:7 * m], pt[:m], pl[:m], rest[7 * m:8 * m + 1],
                             rest[8 * m + 1:9 * m + 2])
    lam *= (1 - dm) / (1 - g1 - g2)
    _kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, hd, hr)
    _pav_ar2(y, b, g1, g2, lam, d, r, g11, g12, g11g11, g11g12, hd, hr,
             yl, pv, pw, pt, pl, sd, sr, c, s)
    s[0] = c[0]
    s[1] = c[1] - g1 * c[0]
    # the kernel tables are free now: they are the exact step's scratch
    iterations = project_ar2(yl, g1, g2, c, s, pt, pl, g11, g12, g11g11, g11g12,
                             MAX_PROJECT_ITER)
    if iterations < 0:  # keep the greedy solution
        _kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, hd, hr)
        _pav_ar2(y, b, g1, g2, lam, d, r, g11, g12, g11g11, g11g12, hd, hr,
                 yl, pv, pw, pt, pl, sd, sr, c, s)
        s[0] = c[0]
        s[1] = c[1] - g1 * c[0]
    return _mean_diff(y, c), iterations


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
    """``oasis.oasis_methods.oasisAR2(y, g1, g2, lam)`` (fixed penalty, no baseline, the
    greedy pass as in ``oasis-deconv``). ``work``/``iwork`` as for :func:`constrained_ar2`."""
    T = y.shape[0]
    g11, g12, g11g11, g11g12, hd, hr, rest = _ar2_buffers(work, T)
    d, r = _kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, hd, hr)
    _pav_ar2(y, 0.0, g1, g2, lam, d, r, g11, g12, g11g11, g11g12, hd, hr,
             rest[0:T], rest[T:2 * T], rest[2 * T:3 * T], iwork[:T], iwork[T:2 * T],
             rest[3 * T:4 * T], rest[4 * T:5 * T], c, s)


@numba.njit(cache=True, nogil=True)
def deconvolve_rows(rows, active, g, sn, lam, spikes, denoised, baseline):  # pragma: no cover
    """OASIS on every active row; writes ``spikes`` (clipped at 0), ``denoised`` (unless it
    has no rows: calcium not kept) and ``baseline`` of those rows. ``g`` is ``(rows, 1)``
    (AR(1)) or ``(rows, 2)`` (AR(2)).
    ``lam < 0``: noise-constrained with a fitted baseline; ``lam >= 0``: that fixed sparsity
    penalty, baseline 0. Rows are converted to float64 one at a time; the solvers work in
    float64 and the results are stored in the dtype of ``spikes``/``denoised``. Returns the
    number of rows whose exact AR(2) step did not converge (they keep the greedy pass)."""
    n, T = rows.shape
    p = g.shape[1]
    # one set of buffers for all rows of the block (fresh pages per row would cost page
    # faults): the row, its calcium and activity in float64, the solver's scratch
    y = np.empty(T)
    c = np.empty(T)
    s = np.empty(T)
    if p == 1:
        work = np.empty(T)
        pv = np.empty(T)
        pw = np.empty(2 * T)
        pt = np.empty(T, dtype=np.int64)
        pl = np.empty(T, dtype=np.int64)
        h = np.empty(T + 1)
        h2 = np.empty(T + 1)
    else:
        work = np.empty(11 * T + 2)
        iwork = np.empty(2 * T, dtype=np.int64)
    keep_c = denoised.shape[0] > 0
    greedy = 0
    for i in range(n):
        if not active[i]:
            continue
        _row_copy(rows[i], y)
        b = 0.0
        if p == 1:
            if lam < 0:
                b, _lam = constrained_ar1(y, g[i, 0], sn[i], c, s, work, pv, pw, pt, pl, h,
                                          h2)
            else:
                plain_ar1(y, g[i, 0], lam, c, s, work, pv, pw, pt, pl, h, h2)
        else:
            if lam < 0:
                b, iterations = constrained_ar2(y, g[i, 0], g[i, 1], sn[i], c, s, work, iwork)
                if iterations < 0:
                    greedy += 1
            else:
                plain_ar2(y, g[i, 0], g[i, 1], lam, c, s, work, iwork)
        baseline[i] = b
        if keep_c:
            out_c = denoised[i]
            for t in range(T):
                out_c[t] = c[t]
        out_s = spikes[i]
        for t in range(T):
            out_s[t] = s[t] if s[t] > 0.0 else 0.0  # also NaN -> 0
    return greedy


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
