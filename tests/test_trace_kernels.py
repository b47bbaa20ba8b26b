"""The sliding ΔF/F0 baseline's kernels (CalSciPy._trace_kernels) against direct references.

The running percentile tracks a sorted low set of each window from one window to the next;
every level must be the exact order statistics of the whole window (numpy's sort), combined
with the documented lerp, and the whole ΔF/F0 must equal, bit for bit, the same filter
followed by that per-window selection and the interpolation written out per frame.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import filtfilt

from CalSciPy import _trace_kernels as kernels
from CalSciPy.trace_processing import (
    _filtfilt_kernel,
    _lowpass_design,
    _sliding_windows,
    calculate_dfof,
)


# ----------------------------------------------------------------------------- references
def reference_levels(series: np.ndarray, q: float, window: int, starts) -> np.ndarray:
    """numpy's 'linear' percentile of each window from a full sort, with the kernel's lerp
    (evaluated from the upper neighbour when the fraction is >= 0.5, as numpy does)."""
    virtual = window * q + (1.0 - q) - 1.0
    lo = min(max(int(math.floor(virtual)), 0), window - 1)
    frac = virtual - lo
    out = []
    for s in starts:
        ordered = np.sort(series[s:s + window])
        below, above = ordered[lo], ordered[min(lo + 1, window - 1)]
        if lo + 1 >= window or frac <= 0.0:
            out.append(below)
        else:
            diff = above - below
            out.append(above - diff * (1.0 - frac) if frac >= 0.5 else below + diff * frac)
    return np.array(out)


def reference_interpolation(level: np.ndarray, centres: np.ndarray, n: int) -> np.ndarray:
    """The levels interpolated frame by frame (held beyond the first and last centre)."""
    est = np.empty(n)
    j = 0
    for t in range(n):
        if t <= centres[0]:
            est[t] = level[0]
        elif t >= centres[-1]:
            est[t] = level[-1]
        else:
            while centres[j + 1] < t:
                j += 1
            w = (t - centres[j]) / (centres[j + 1] - centres[j])
            est[t] = level[j] + (level[j + 1] - level[j]) * w
    return est


def reference_sliding_dfof(source, values, frame_rate, window_s, percentile, offset=0.0):
    """The documented sliding recipe with the kernel's filter and numpy's sort per window:
    every float operation the kernel performs, in the same order."""
    n = values.shape[1]
    b, _, _ = _lowpass_design(n, frame_rate)
    h = _filtfilt_kernel(b)
    half = (h.size - 1) // 2
    window = int(min(n, max(1, round(window_s * frame_rate))))
    starts, centres = _sliding_windows(n, window)
    q = float(percentile) / 100.0
    out = np.empty(values.shape)
    for i in range(values.shape[0]):
        filtered = np.empty(n)
        kernels._odd_filter_row(source[i], h, half, np.empty(n + 2 * half), filtered)
        est = reference_interpolation(reference_levels(filtered, q, window, starts), centres, n)
        residual = filtered - est
        correction = reference_interpolation(reference_levels(residual, q, window, starts),
                                             centres, n)
        f0 = est + correction + offset
        out[i] = (values[i].astype(np.float64) - f0) / f0
    return out


def series_of(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n, dtype=np.float64)
    noise = rng.normal(size=n)
    smooth = np.convolve(noise, np.ones(15) / 15)[7:7 + n]  # length n for any n
    return {
        "noise": noise,
        "smooth": smooth,
        "ramp_up": smooth + 0.01 * t,
        "ramp_down": smooth - 0.01 * t,
        "steps": smooth + 3.0 * np.floor(t / max(1, n // 5)) * (-1) ** np.floor(t / 700),
        "ties": np.round(2 * smooth),
        # ties that drift: the low set is cut back and topped up at tied thresholds
        "ties_ramp": np.round(3 * smooth + 4 * t / n * (-1) ** int(rng.integers(0, 2))),
        "plateau": np.where((t // 400) % 2 == 0, 1.0, smooth),
        "walk": np.cumsum(noise) * 0.1,
    }[kind]


KINDS = ["noise", "smooth", "ramp_up", "ramp_down", "steps", "ties", "ties_ramp", "plateau",
         "walk"]


# ----------------------------------------------------------------------------- building blocks
@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(0, 400), kind=st.sampled_from(KINDS))
def test_sort_prefix_equals_numpy_sort(seed, m, kind):
    rng = np.random.default_rng(seed)
    x = series_of(kind, max(m, 1), rng)[:m]
    if m > 3 and rng.random() < 0.3:
        x[rng.integers(0, m, 2)] = [-np.inf, np.inf]
    buf = np.concatenate([x, [123.0]])  # a value past m must stay untouched
    kernels._sort_prefix(buf, m, np.empty(m + 1), np.empty(m + 2, dtype=np.int64))
    np.testing.assert_array_equal(buf[:m], np.sort(x))
    assert buf[m] == 123.0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_a=st.integers(0, 200), n_b=st.integers(0, 60),
       ties=st.booleans())
def test_merge_and_remove_sorted_are_multiset_operations(seed, n_a, n_b, ties):
    rng = np.random.default_rng(seed)

    def draw(k):
        return rng.integers(0, 6, k).astype(float) if ties else rng.normal(size=k)

    a = np.sort(draw(n_a))
    b = np.sort(draw(n_b))
    merged = np.empty(n_a + n_b)
    assert kernels._merge_sorted(a, n_a, b, n_b, merged) == n_a + n_b
    np.testing.assert_array_equal(merged, np.sort(np.concatenate([a, b])))
    # remove a random sub-multiset (with its NaN sentinel)
    take = np.sort(rng.choice(n_a, size=rng.integers(0, n_a + 1), replace=False)).astype(int)
    outs = np.concatenate([a[take], [np.nan]])
    kept = a.copy()
    size = kernels._remove_sorted(kept, n_a, outs, len(take))
    np.testing.assert_array_equal(kept[:size], np.delete(a, take))
    # both at once (with the +inf sentinel after the entering values)
    ins = np.concatenate([b, [np.inf]])
    both = np.empty(n_a + n_b)
    size = kernels._update_sorted(a, n_a, ins, n_b, outs, len(take), both)
    np.testing.assert_array_equal(both[:size], np.sort(np.concatenate([np.delete(a, take), b])))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), window=st.integers(140, 1200),
       kind=st.sampled_from(KINDS), upper=st.booleans(), grow=st.booleans())
def test_gather_low_keeps_every_key_at_or_below_its_threshold(seed, window, kind, upper, grow):
    rng = np.random.default_rng(seed)
    series = series_of(kind, window + 50, rng)
    sign = -1.0 if upper else 1.0
    s = int(rng.integers(0, 51))
    keys = np.sort(sign * series[s:s + window])
    need = int(rng.integers(1, window // 10))
    target = min(window, need + int(rng.integers(0, window // 10)))
    kept = np.empty(window)
    c, tau = 0, 0.0
    if grow:  # the low set of a lower threshold, too small
        tau = keys[int(rng.integers(0, need))]
        c = int(np.sum(keys <= tau))
        if c >= need:
            return
        kept[:c] = keys[:c]
    # a first guess of the threshold (any value, or none) changes the work, not the result
    guess = keys[int(rng.integers(0, window))] if rng.random() < 0.5 else np.nan
    new_tau, count = kernels._gather_low(
        series, sign, s, window, target, need, kept, c, tau, grow, np.empty(window),
        np.empty(window), np.empty(window), np.empty(window + 1, dtype=np.int64), guess)
    assert count >= need
    np.testing.assert_array_equal(kept[:count], keys[keys <= new_tau])


@settings(max_examples=60, deadline=None)
@given(frames=st.integers(1, 3000), window=st.integers(1, 3000))
def test_interpolation_plan_is_the_per_frame_formula(frames, window):
    window = min(window, frames)
    starts, centres = _sliding_windows(frames, window)
    level = np.random.default_rng(frames).normal(size=starts.size)
    first, weight = kernels._interpolation_plan(centres, frames)
    est = np.empty(frames)
    kernels._interpolate(level, first, weight, est)
    np.testing.assert_array_equal(est, reference_interpolation(level, centres, frames))


# ----------------------------------------------------------------------------- levels
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    frames=st.integers(150, 4000),
    window=st.integers(136, 1500),
    q=st.sampled_from([0.0, 0.005, 0.02, 0.05, 0.08, 0.92, 0.95, 0.995, 1.0]),
    kind=st.sampled_from(KINDS),
)
def test_window_levels_are_exact_order_statistics(seed, frames, window, q, kind):
    # windows and quantiles where the low set is tracked incrementally (the fast path)
    rng = np.random.default_rng(seed)
    window = min(window, frames)
    series = series_of(kind, frames, rng)
    starts, _ = _sliding_windows(frames, window)
    level = np.empty(starts.size)
    kernels._window_levels(series, q, window, starts, level)
    np.testing.assert_array_equal(level, reference_levels(series, q, window, starts))


def test_window_levels_on_a_long_bleaching_trace_take_every_path():
    # strong downward and upward drift (the low set is cut back, topped up, regathered)
    rng = np.random.default_rng(3)
    n = 18_000
    t = np.arange(n)
    series = (np.convolve(rng.normal(size=n), np.ones(20) / 20, "same")
              + 40 * np.exp(-t / 3000) + 5 * np.sin(t / 900))
    for window in (900, 905, 1800):
        starts, _ = _sliding_windows(n, window)
        for q in (0.08, 0.03, 0.97):
            level = np.empty(starts.size)
            kernels._window_levels(series, q, window, starts, level)
            np.testing.assert_array_equal(level, reference_levels(series, q, window, starts))


def test_window_levels_terminate_with_nan_and_stay_exact_elsewhere():
    # non-finite values cannot come from calculate_dfof (checked inputs) but could from an
    # overflowing filter: the kernel must not hang, and NaN-free windows stay exact
    rng = np.random.default_rng(5)
    series = series_of("smooth", 6000, rng)
    series[2000:2100] = np.nan
    starts, _ = _sliding_windows(series.size, 900)
    level = np.empty(starts.size)
    kernels._window_levels(series, 0.08, 900, starts, level)
    clean = [j for j, s in enumerate(starts) if not np.isnan(series[s:s + 900]).any()]
    np.testing.assert_array_equal(level[clean],
                                  reference_levels(series, 0.08, 900, starts[clean]))


# ----------------------------------------------------------------------------- calculate_dfof
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 3), st.integers(4, 3000)),
    window_s=st.floats(0.1, 60.0),
    percentile=st.sampled_from([0.0, 1.0, 5.0, 8.0, 20.0, 50.0, 95.0, 100.0]),
    dtype=st.sampled_from(["float64", "float32", "uint16"]),
    drift=st.sampled_from([-0.05, 0.0, 0.05]),
    external=st.booleans(),
)
def test_sliding_dfof_is_bit_identical_to_the_direct_recipe(seed, shape, window_s, percentile,
                                                           dtype, drift, external):
    rng = np.random.default_rng(seed)
    raw = 500 + np.cumsum(rng.normal(0, 2, shape), axis=1) + drift * np.arange(shape[1])
    x = np.clip(raw, 1, 60_000).astype(dtype)
    if rng.random() < 0.3:
        x = (np.round(x.astype(float) / 20) * 20).astype(dtype)  # ties
    ref = (np.abs(rng.normal(800, 30, shape)) + 1.0) if external else None
    got = calculate_dfof(x, 30.0, method="sliding", window_s=window_s, percentile=percentile,
                         external_reference=ref, offset=2.0)
    values = x.astype(np.float32 if dtype == "float32" else np.float64)
    source = values if ref is None else ref
    expected = reference_sliding_dfof(source, values, 30.0, window_s, percentile, offset=2.0)
    assert got.dtype == values.dtype
    np.testing.assert_array_equal(got, expected.astype(values.dtype))


def test_sliding_filter_is_filtfilt():
    # the kernel's zero-phase filter equals scipy's filtfilt (to rounding): the recipe above
    # is the documented one
    rng = np.random.default_rng(8)
    x = rng.normal(100, 5, 2000)
    b, _, padlen = _lowpass_design(x.size, 30.0)
    h = _filtfilt_kernel(b)
    half = (h.size - 1) // 2
    out = np.empty(x.size)
    kernels._odd_filter_row(x, h, half, np.empty(x.size + 2 * half), out)
    np.testing.assert_allclose(out, filtfilt(b, [1.0], x, padlen=padlen), rtol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sliding_rejects_non_finite_traces(bad):
    x = np.full((2, 300), 100.0)
    x[1, 7] = bad
    with pytest.raises(ValueError, match="finite"):
        calculate_dfof(x, method="sliding")
