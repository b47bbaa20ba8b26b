"""Tests of CalSciPy.trace_processing against hand-checked values and plain per-row loops."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter1d
from scipy.signal import filtfilt, firwin

from CalSciPy.synthetic import generate_traces
from CalSciPy.trace_processing import (
    calculate_dfof,
    calculate_standardized_noise,
    detrend_polynomial,
    perona_malik_diffusion,
)


# ----------------------------------------------------------------------------- references
def design(n_frames, frame_rate):
    """The documented taps/padlen rule, written out independently."""
    taps = min(30, n_frames // 3)
    if taps % 2 == 0:
        taps -= 1
    padlen = 3 * taps
    if padlen == n_frames:
        taps -= 1
        padlen = 3 * taps
    return taps, padlen


def reference_dfof(traces, frame_rate=30.0, offset=0.0, reference=None):
    """Plain per-neuron loop: filtfilt + np.percentile, as documented."""
    traces = np.atleast_2d(traces)
    taps, padlen = design(traces.shape[1], frame_rate)
    b = firwin(taps, cutoff=1.0, fs=frame_rate)
    out = np.empty(traces.shape)
    for i, row in enumerate(traces):
        src = (row if reference is None else np.atleast_2d(reference)[i]).astype(np.float64)
        # scipy's filtfilt cannot run a one-tap filter (b = [1.0], the identity)
        filtered = filtfilt(b, [1.0], src, padlen=padlen) if taps > 1 else src * b[0]
        f0 = np.percentile(filtered, 5) + offset
        out[i] = (row.astype(np.float64) - f0) / f0
    return out


def reference_perona_malik(x, iters=25, kappa=0.15, gamma=0.25, sigma=0.0):
    """Numpy version of the documented scheme, one row at a time."""
    x = np.array(x, dtype=np.float64, copy=True)
    for row in np.atleast_2d(x):
        k = kappa * (row.max() - row.min())
        if k == 0:
            continue
        for _ in range(iters):
            d = np.zeros(row.size)
            d[:-1] = np.diff(row)
            if sigma > 0:
                d = gaussian_filter1d(d, sigma)
            phi = d * np.exp(-((d / k) ** 2))
            delta = phi.copy()
            delta[1:] -= phi[:-1]
            row += gamma * delta
    return x


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(1234)


# ----------------------------------------------------------------------------- calculate_dfof
def test_dfof_constant_trace_is_zero():
    out = calculate_dfof(np.full((3, 300), 250.0))
    np.testing.assert_allclose(out, 0.0, atol=1e-12)


def test_dfof_step_hand_checked():
    # 90 % of the frames at 100, a step to 150: the 5th percentile of the low-passed trace is
    # 100, so ΔF/F0 is 0 before and 0.5 after the step
    x = np.full(1000, 100.0)
    x[900:] = 150.0
    out = calculate_dfof(x)
    assert out.shape == (1000,)
    np.testing.assert_allclose(out[:850], 0.0, atol=1e-9)
    np.testing.assert_allclose(out[900:], 0.5, atol=1e-9)


def test_dfof_known_sinusoid():
    # F = 100 + 10 sin(2π·0.1 t): the 1 Hz low-pass keeps the 0.1 Hz sinusoid; the 5th
    # percentile of a sinusoid is −sin(π/2 − ... ) = −cos(0.05·π)·amplitude ≈ −9.877
    fs = 30.0
    t = np.arange(3000) / fs
    x = 100 + 10 * np.sin(2 * np.pi * 0.1 * t)
    f0 = 100 - 10 * np.cos(np.pi * 0.05)
    out = calculate_dfof(x, frame_rate=fs)
    np.testing.assert_allclose(out, (x - f0) / f0, atol=2e-3)


@pytest.mark.parametrize("n_frames", [4, 5, 6, 8, 9, 10, 15, 21, 87, 88, 90, 93, 500])
def test_dfof_matches_per_neuron_loop(rng, n_frames):
    x = rng.normal(200, 10, (4, n_frames))
    np.testing.assert_allclose(calculate_dfof(x), reference_dfof(x), rtol=1e-10, atol=1e-12)


def test_dfof_matches_loop_on_synthetic_data_with_offset_and_rate():
    sim = generate_traces(8, 2000, 15.0, seed=4)
    got = calculate_dfof(sim.traces, frame_rate=15.0, offset=5.0)
    want = reference_dfof(sim.traces, frame_rate=15.0, offset=5.0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dfof_external_reference_longer(rng):
    x = rng.normal(100, 5, (3, 400))
    ref = rng.normal(120, 5, (3, 1000))
    got = calculate_dfof(x, external_reference=ref)
    np.testing.assert_allclose(got, reference_dfof(x, reference=ref), rtol=1e-10)
    # taps/padlen come from the traces' length, so a short reference only needs padlen + 1
    _, padlen = design(400, 30.0)
    calculate_dfof(x, external_reference=ref[:, : padlen + 1])
    with pytest.raises(ValueError, match="at least"):
        calculate_dfof(x, external_reference=ref[:, :padlen])
    with pytest.raises(ValueError, match="neuron"):
        calculate_dfof(x, external_reference=ref[:2])


def test_dfof_in_place_identity_and_dtypes(rng):
    x32 = rng.normal(100, 5, (3, 600)).astype(np.float32)
    expected = calculate_dfof(x32.copy())
    assert expected.dtype == np.float32
    out = calculate_dfof(x32, in_place=True)
    assert out is x32
    np.testing.assert_array_equal(out, expected)

    x64 = rng.normal(100, 5, (3, 600))
    before = x64.copy()
    out64 = calculate_dfof(x64)
    assert out64.dtype == np.float64 and out64 is not x64
    np.testing.assert_array_equal(x64, before)

    xint = np.round(x64).astype(np.int16)
    outint = calculate_dfof(xint)
    assert outint.dtype == np.float64
    np.testing.assert_allclose(outint, reference_dfof(xint), rtol=1e-10)
    with pytest.raises(TypeError, match="in_place"):
        calculate_dfof(xint, in_place=True)


def test_dfof_1d_equals_2d_row(rng):
    x = rng.normal(100, 5, (3, 700))
    np.testing.assert_array_equal(calculate_dfof(x[1]), calculate_dfof(x)[1])
    row = x[2].copy()
    out = calculate_dfof(row, in_place=True)
    assert out is row and out.ndim == 1


def test_dfof_strided_and_fortran_input(rng):
    x = rng.normal(100, 5, (6, 900))
    np.testing.assert_allclose(calculate_dfof(x[::2, ::3]), reference_dfof(x[::2, ::3]),
                               rtol=1e-10)
    xf = np.asfortranarray(x)
    np.testing.assert_array_equal(calculate_dfof(xf), calculate_dfof(x))
    view = x[:, 100:700]
    out = calculate_dfof(view, in_place=True)
    assert out is view
    np.testing.assert_allclose(x[:, 100:700], reference_dfof(xf[:, 100:700]), rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(n_neurons=st.integers(1, 3), n_frames=st.integers(4, 400),
       frame_rate=st.floats(2.5, 100.0), seed=st.integers(0, 2**16))
def test_dfof_property_matches_loop_and_rows(n_neurons, n_frames, frame_rate, seed):
    x = np.random.default_rng(seed).uniform(50, 150, (n_neurons, n_frames))
    got = calculate_dfof(x, frame_rate=frame_rate)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, reference_dfof(x, frame_rate), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(calculate_dfof(x[-1], frame_rate=frame_rate), got[-1])


def test_dfof_method_aliases(rng):
    x = rng.normal(100, 5, (2, 300))
    base = calculate_dfof(x)
    for alias in ("filter", "low-pass", "low_pass"):
        np.testing.assert_array_equal(calculate_dfof(x, method=alias), base)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(traces=np.ones((2, 3))), ValueError, "at least 4"),
        (dict(traces=np.ones((2, 3, 4))), ValueError, "1-D"),
        (dict(traces=np.ones((2, 50)), frame_rate=2.0), ValueError, "frame_rate"),
        (dict(traces=np.ones((2, 50)), frame_rate=float("nan")), ValueError, "frame_rate"),
        (dict(traces=np.ones((2, 50)), method="median"), ValueError, "sliding"),
        (dict(traces=np.array(["a", "b", "c", "d"])), TypeError, "dtype"),
        (dict(traces=np.ones((2, 50)), offset=float("inf")), ValueError, "offset"),
    ],
)
def test_dfof_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        calculate_dfof(**kwargs)


def test_dfof_nan_rows_are_rejected():
    x = np.ones((3, 100))
    x[1] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*neuron\(s\) 1"):
        calculate_dfof(x)
    x = np.ones((3, 100))
    x[2, 10] = np.inf
    with pytest.raises(ValueError, match="2"):
        calculate_dfof(x, in_place=True)
    assert np.all(x[:2] == 1)  # nothing written before the error


def test_dfof_nonpositive_baseline_warns():
    x = np.zeros((2, 200))
    x[0, 100:] = 1.0
    with pytest.warns(RuntimeWarning, match="offset"):
        calculate_dfof(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calculate_dfof(x, offset=10.0)


def test_dfof_rejects_bad_sliding_options():
    x = np.ones((1, 100))
    with pytest.raises(ValueError, match="percentile"):
        calculate_dfof(x, method="sliding", percentile=120)
    with pytest.raises(ValueError, match=r"window_s must be a finite number > 0 s,"):
        calculate_dfof(x, method="sliding", window_s=0)  # seconds, not Hz
    with pytest.raises(ValueError, match="frames"):
        calculate_dfof(x, method="sliding", external_reference=np.ones((1, 200)))


# ----------------------------------------------------------------------------- sliding
def reference_sliding(x, frame_rate, window_s, percentile):
    """Per-row loop of the documented sliding recipe (low-pass; running percentile at window
    centres a tenth of a window apart, linearly interpolated; the same on the residual)."""
    taps, padlen = design(x.shape[1], frame_rate)
    b = firwin(taps, cutoff=1.0, fs=frame_rate)
    n = x.shape[1]
    window = min(n, max(1, round(window_s * frame_rate)))
    step = max(1, window // 10)
    starts = list(range(0, n - window + 1, step))
    if starts[-1] != n - window:
        starts.append(n - window)
    centres = np.array(starts) + (window - 1) / 2

    def running(series):
        levels = [np.percentile(series[s:s + window], percentile) for s in starts]
        return np.interp(np.arange(n), centres, levels)

    out = np.empty(x.shape)
    for i, row in enumerate(x):
        filtered = filtfilt(b, [1.0], row, padlen=padlen)
        first = running(filtered)
        f0 = first + running(filtered - first)
        out[i] = (row - f0) / f0
    return out


def test_sliding_matches_reference_loop(rng):
    x = rng.normal(100, 5, (3, 2000)) + np.linspace(0, 30, 2000)
    got = calculate_dfof(x, method="sliding", window_s=10.0, percentile=8.0)
    np.testing.assert_allclose(got, reference_sliding(x, 30.0, 10.0, 8.0), rtol=1e-9,
                               atol=1e-12)


def test_sliding_constant_trace_and_window_longer_than_recording():
    np.testing.assert_allclose(calculate_dfof(np.full((2, 100), 7.0), method="sliding"), 0.0,
                               atol=1e-12)


def test_sliding_recovers_drifting_baseline():
    # strong bleaching (τ 200–400 s: 50–75 % lost over 300 s) and drift: a scalar F0 cannot
    # follow it
    sim = generate_traces(30, 30 * 300, 30.0, bleach_tau_range=(200.0, 400.0), drift=0.05,
                          seed=21)
    sliding = calculate_dfof(sim.traces, method="sliding")
    scalar = calculate_dfof(sim.traces)
    f0_sliding = sim.traces / (1.0 + sliding.astype(np.float64))
    f0_scalar = sim.traces / (1.0 + scalar.astype(np.float64))
    err_sliding = np.median(np.abs(f0_sliding / sim.baseline - 1.0), axis=1)
    err_scalar = np.median(np.abs(f0_scalar / sim.baseline - 1.0), axis=1)
    assert np.median(err_sliding) < 0.03
    assert np.all(err_sliding < 0.08)
    assert np.median(err_scalar) > 0.15
    # and the recovered ΔF/F0 is much closer to the truth (what remains is mostly noise)
    assert np.median(np.abs(sliding - sim.dfof_true)) \
        < 0.5 * np.median(np.abs(scalar - sim.dfof_true))


# ----------------------------------------------------------------------------- noise
def test_standardized_noise_hand_checked():
    # |diff| = 0.01 everywhere: ν = 100 · 0.01 / sqrt(25) = 0.2
    x = np.tile(np.array([0.0, 0.01]), 50)[None, :]
    np.testing.assert_allclose(calculate_standardized_noise(x, frame_rate=25.0), [0.2])


def test_standardized_noise_matches_formula_and_dtypes(rng):
    x = rng.normal(0, 0.1, (5, 1000))
    want = 100 * np.median(np.abs(np.diff(x, axis=1)), axis=1) / np.sqrt(30.0)
    got = calculate_standardized_noise(x)
    assert got.shape == (5,) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12)
    x32 = x.astype(np.float32)
    got32 = calculate_standardized_noise(x32)
    assert got32.dtype == np.float32
    want32 = np.float32(100) * np.median(np.abs(np.diff(x32, axis=1)), axis=1) \
        / np.float32(np.sqrt(30.0))
    np.testing.assert_array_equal(got32, want32)
    assert calculate_standardized_noise(x[2]) == pytest.approx(want[2])
    assert calculate_standardized_noise((x * 1000).astype(np.int32)).dtype == np.float64


def test_standardized_noise_nan_handling(rng):
    x = rng.normal(0, 0.1, (3, 500))
    x[0, 10] = np.nan
    x[1] = np.nan
    got = calculate_standardized_noise(x)
    d = np.abs(np.diff(x[0]))
    assert got[0] == pytest.approx(100 * np.nanmedian(d) / np.sqrt(30.0))
    assert np.isnan(got[1])
    assert np.isfinite(got[2])


def test_standardized_noise_of_white_noise_scales_with_sigma():
    # for Gaussian white noise of s.d. σ, median |Δ| = 0.6745·√2·σ
    x = np.random.default_rng(0).normal(0, 0.05, (1, 200_000))
    nu = calculate_standardized_noise(x, frame_rate=30.0)[0]
    assert nu == pytest.approx(100 * 0.6745 * np.sqrt(2) * 0.05 / np.sqrt(30), rel=0.02)


def test_standardized_noise_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        calculate_standardized_noise(np.ones((2, 1)))
    with pytest.raises(ValueError):
        calculate_standardized_noise(np.ones((2, 2, 2)))
    with pytest.raises(ValueError):
        calculate_standardized_noise(np.ones((2, 20)), frame_rate=0)


# ----------------------------------------------------------------------------- detrend
def reference_detrend(x):
    idx = np.arange(x.shape[-1])
    return np.array([row - np.polyval(np.polyfit(idx, row, 4), idx)
                     for row in np.atleast_2d(x).astype(np.float64)])


def test_detrend_removes_quartic_exactly():
    idx = np.arange(500, dtype=np.float64)
    poly = 3.0 - 0.2 * idx + 1e-3 * idx**2 - 2e-6 * idx**3 + 1e-9 * idx**4
    out = detrend_polynomial(np.vstack([poly, 2 * poly]))
    np.testing.assert_allclose(out, 0.0, atol=1e-8)


def test_detrend_matches_per_row_polyfit(rng):
    x = rng.normal(0, 1, (6, 5000)).cumsum(axis=1) * 10
    got = detrend_polynomial(x)
    np.testing.assert_allclose(got, reference_detrend(x), atol=1e-8 * np.abs(x).max())


def test_detrend_dtypes_in_place_and_1d(rng):
    x32 = (rng.normal(0, 1, (3, 800)).cumsum(axis=1) + 100).astype(np.float32)
    ref = reference_detrend(x32)
    out = detrend_polynomial(x32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-4)
    same = detrend_polynomial(x32, in_place=True)
    assert same is x32
    np.testing.assert_array_equal(same, out)
    xi = np.arange(40, dtype=np.int64).reshape(2, 20) ** 2
    assert detrend_polynomial(xi).dtype == np.float64
    with pytest.raises(TypeError):
        detrend_polynomial(xi, in_place=True)
    np.testing.assert_array_equal(detrend_polynomial(out[1]), detrend_polynomial(out)[1])


def test_detrend_short_and_bad_input():
    # ≤ 5 frames: the polynomial interpolates the data
    np.testing.assert_allclose(detrend_polynomial(np.array([[1.0, 5.0, 2.0]])), 0.0,
                               atol=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        detrend_polynomial(np.array([[1.0, np.nan, 2.0, 3.0]]))
    with pytest.raises(ValueError):
        detrend_polynomial(np.ones((1, 2, 3)))


@settings(max_examples=30, deadline=None)
@given(n_neurons=st.integers(1, 4), n_frames=st.integers(1, 60),
       seed=st.integers(0, 2**16))
def test_detrend_property_orthogonal_to_polynomials(n_neurons, n_frames, seed):
    x = np.random.default_rng(seed).normal(0, 1, (n_neurons, n_frames))
    out = detrend_polynomial(x)
    assert out.shape == x.shape
    # the residual of a least-squares fit is orthogonal to every fitted basis function
    idx = np.linspace(-1, 1, n_frames)
    for power in range(min(5, n_frames)):
        np.testing.assert_allclose(out @ idx**power, 0.0, atol=1e-9)


# ----------------------------------------------------------------------------- Perona–Malik
@pytest.mark.parametrize("sigma", [0, 0.7, 2.0, 50.0])
def test_perona_malik_matches_reference(rng, sigma):
    x = rng.normal(0, 1, (4, 300)).cumsum(axis=1)
    got = perona_malik_diffusion(x, sigma=sigma)
    np.testing.assert_allclose(got, reference_perona_malik(x, sigma=sigma), atol=1e-10)


def test_perona_malik_float32_agrees_with_float64_reference(rng):
    x = rng.normal(0, 1, (3, 500)).cumsum(axis=1).astype(np.float32)
    got = perona_malik_diffusion(x, iters=40, kappa=0.2, gamma=0.2)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference_perona_malik(x, 40, 0.2, 0.2), atol=1e-5)


def test_perona_malik_hand_checked_single_iteration():
    # x = [0, 1, 1], K = 0.15: d = [1, 0, 0], φ = [e^{-(1/0.15)^2}, 0, 0]
    x = np.array([0.0, 1.0, 1.0])
    phi = np.exp(-((1 / 0.15) ** 2))
    want = x + 0.25 * np.array([phi, -phi, 0.0])
    np.testing.assert_allclose(perona_malik_diffusion(x, iters=1), want, rtol=1e-12)


def test_perona_malik_smooths_noise_but_keeps_steps(rng):
    step = np.r_[np.zeros(500), np.ones(500)]
    noisy = step + rng.normal(0, 0.05, 1000)
    out = perona_malik_diffusion(noisy, iters=50)
    assert np.std(out[:450]) < 0.6 * np.std(noisy[:450])
    assert out[510:].mean() - out[:490].mean() == pytest.approx(1.0, abs=0.05)


def test_perona_malik_conserves_sum_and_constants(rng):
    x = rng.normal(0, 1, (2, 400))
    np.testing.assert_allclose(perona_malik_diffusion(x).sum(axis=1), x.sum(axis=1),
                               rtol=1e-12, atol=1e-9)
    flat = np.full((2, 50), 3.0)
    np.testing.assert_array_equal(perona_malik_diffusion(flat), flat)
    np.testing.assert_array_equal(perona_malik_diffusion(x, kappa=0), x)


def test_perona_malik_in_place_dtype_and_1d(rng):
    x = rng.normal(0, 1, (3, 200)).astype(np.float32)
    copy = perona_malik_diffusion(x)
    assert copy is not x
    same = perona_malik_diffusion(x, in_place=True)
    assert same is x
    np.testing.assert_array_equal(same, copy)
    np.testing.assert_array_equal(perona_malik_diffusion(copy[0]), perona_malik_diffusion(copy)[0])
    xi = np.arange(100).reshape(2, 50) % 7
    assert perona_malik_diffusion(xi).dtype == np.float64
    with pytest.raises(TypeError):
        perona_malik_diffusion(xi, in_place=True)


@pytest.mark.parametrize(
    "kwargs",
    [dict(iters=0), dict(iters=2.5), dict(kappa=-0.1), dict(kappa=1.5), dict(gamma=2.0),
     dict(sigma=-1.0)],
)
def test_perona_malik_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        perona_malik_diffusion(np.ones((2, 10)), **kwargs)


def test_perona_malik_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        perona_malik_diffusion(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError):
        perona_malik_diffusion(np.ones((2, 2, 2)))


def test_vectorisable_exp_is_accurate():
    from CalSciPy._trace_kernels import exp_neg as _exp_neg

    y = np.concatenate([np.linspace(0, 1, 2001), np.linspace(1, 700, 20001)])
    got = np.array([_exp_neg(v) for v in y])
    np.testing.assert_allclose(got, np.exp(-y), rtol=1e-12, atol=0)
    assert _exp_neg(1e6) < 1e-320 and _exp_neg(np.inf) < 1e-320


def test_read_only_and_memmap_inputs(tmp_path, rng):
    x = rng.normal(100, 5, (3, 300)).astype(np.float32)
    frozen = x.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(calculate_dfof(frozen), calculate_dfof(x))
    np.testing.assert_array_equal(perona_malik_diffusion(frozen), perona_malik_diffusion(x))
    with pytest.raises(ValueError, match="read-only"):
        detrend_polynomial(frozen, in_place=True)
    mapped = np.memmap(tmp_path / "traces.bin", dtype=np.float32, mode="w+", shape=x.shape)
    mapped[:] = x
    expected = calculate_dfof(x, method="sliding")
    assert calculate_dfof(mapped, method="sliding", in_place=True) is mapped
    mapped.flush()
    reread = np.fromfile(tmp_path / "traces.bin", dtype=np.float32).reshape(x.shape)
    np.testing.assert_array_equal(reread, expected)


@settings(max_examples=40, deadline=None)
@given(n_frames=st.integers(2, 50), dtype=st.sampled_from([np.float32, np.float64]),
       nan_fraction=st.sampled_from([0.0, 0.2, 1.0]), seed=st.integers(0, 2**16))
def test_standardized_noise_property_equals_numpy(n_frames, dtype, nan_fraction, seed):
    gen = np.random.default_rng(seed)
    x = gen.normal(0, 1, (3, n_frames)).astype(dtype)
    x[gen.uniform(size=x.shape) < nan_fraction] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(np.abs(np.diff(x, axis=1)), axis=1)
    want = dtype(100) * median.astype(dtype) / dtype(np.sqrt(30.0))
    got = calculate_standardized_noise(x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n", [5, 900, 2047, 2048, 5000, 18_000])
@pytest.mark.parametrize("kind", ["normal", "ties", "sorted", "stride_adversarial"])
def test_order_statistics_are_exact(n, kind):
    from CalSciPy._trace_kernels import _order_stats

    gen = np.random.default_rng(n)
    if kind == "normal":
        x = gen.normal(size=n)
    elif kind == "ties":
        x = gen.integers(0, 7, n).astype(np.float64)
    elif kind == "sorted":
        x = np.sort(gen.normal(size=n))[::-1].copy()
    else:
        # the sampled positions (multiples of the stride) hold outliers: the bracket misses
        x = gen.normal(size=n)
        x[:: max(1, n // 512)] = 1e6
    ordered = np.sort(x)
    work = np.empty(n)
    for k in sorted({0, 1, n // 20, n // 2, n - 2, n - 1}):
        first, second = _order_stats(x, k, work)
        assert first == ordered[k]
        assert second == ordered[min(k + 1, n - 1)]


# ----------------------------------------------------------------------------- maximin
def reference_maximin(x, frame_rate, window_s, sigma, offset=0.0):
    """suite2p's scipy maximin (gaussian_filter(F, [0, sig]) → minimum_filter1d →
    maximum_filter1d, scipy's default modes), then ΔF/F0."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    window = int(window_s * frame_rate)
    low = gaussian_filter1d(x, sigma, axis=1)
    f0 = maximum_filter1d(minimum_filter1d(low, window, axis=1), window, axis=1) + offset
    return (x - f0) / f0


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 4), st.integers(4, 400)),
    window_s=st.floats(0.05, 30.0),
    sigma=st.floats(0.3, 25.0),
    dtype=st.sampled_from(["float64", "float32", "uint16"]),
)
def test_maximin_equals_scipy_ndimage(seed, shape, window_s, sigma, dtype):
    rng = np.random.default_rng(seed)
    x = (rng.normal(500, 40, shape) + rng.exponential(50, shape)).astype(dtype)
    frame_rate = 10.0
    if int(window_s * frame_rate) < 1:
        with pytest.raises(ValueError, match="window_s"):
            calculate_dfof(x, frame_rate, method="maximin", window_s=window_s)
        return
    got = calculate_dfof(x, frame_rate, method="maximin", window_s=window_s,
                         sigma_frames=sigma, offset=3.0)
    expected = reference_maximin(x, frame_rate, window_s, sigma, offset=3.0)
    assert got.dtype == (np.float32 if dtype == "float32" else np.float64)
    if dtype == "float32":
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, expected)  # same float64 operations


def test_maximin_defaults_are_suite2ps_and_options():
    sim = generate_traces(3, 3000, 30.0, seed=4)
    got = calculate_dfof(sim.traces, 30.0, method="maximin")
    np.testing.assert_allclose(got, reference_maximin(sim.traces, 30.0, 60.0, 10.0),
                               rtol=1e-6, atol=1e-6)
    x = sim.traces.astype(np.float64)
    ref = np.abs(sim.traces.astype(np.float64)) + 1.0
    got = calculate_dfof(x, 30.0, method="maximin", external_reference=ref, window_s=5.0)
    f0 = x / (1.0 + got)
    expected = reference_maximin(ref, 30.0, 5.0, 10.0)
    np.testing.assert_allclose(f0, ref / (1.0 + expected), rtol=1e-9)
    inplace = x.copy()
    assert calculate_dfof(inplace, 30.0, method="maximin", in_place=True) is inplace
    np.testing.assert_array_equal(inplace, calculate_dfof(x, 30.0, method="maximin"))
    one = calculate_dfof(x[0], 30.0, method="maximin")
    assert one.shape == (3000,)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="sigma_frames"):
            calculate_dfof(x, 30.0, method="maximin", sigma_frames=bad)
    with pytest.raises(ValueError, match="maximin"):
        calculate_dfof(x, 30.0, method="maximin", external_reference=ref[:, :100])


# ----------------------------------------------------------------------------- running level
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    frames=st.integers(1, 700),
    window=st.integers(1, 700),
    q=st.sampled_from([0.0, 0.01, 0.08, 0.2, 0.5, 0.9, 0.99, 1.0]),
    kind=st.sampled_from(["noise", "ramp_up", "ramp_down", "ties", "walk"]),
)
def test_running_level_is_exact_np_percentile(seed, frames, window, q, kind):
    # the kernel behind the sliding baseline tracks only the values near the quantile from
    # window to window; its levels must be the same order statistics as a selection on every
    # whole window (bit for bit) and np.percentile's (whose lerp may round 1 ulp apart)
    from CalSciPy._trace_kernels import _percentile, _running_level
    from CalSciPy.trace_processing import _sliding_windows

    rng = np.random.default_rng(seed)
    window = min(window, frames)
    t = np.arange(frames, dtype=np.float64)
    series = {
        "noise": rng.normal(size=frames),
        "ramp_up": t * 0.05 + rng.normal(size=frames),
        "ramp_down": -t * 0.05 + rng.normal(size=frames),
        "ties": np.round(rng.normal(size=frames)),
        "walk": np.cumsum(rng.normal(size=frames)),
    }[kind]
    starts, centres = _sliding_windows(frames, window)
    level = np.empty(starts.size)
    est = np.empty(frames)
    _running_level(series, q, window, starts, centres, level, est)
    selected = [_percentile(series[s:s + window], q, np.empty(window)) for s in starts]
    np.testing.assert_array_equal(level, selected)
    expected = [np.percentile(series[s:s + window], 100 * q) for s in starts]
    # np.percentile rounds the rank q * (n - 1) before taking its fraction (0.99 * 340 is
    # 336.59999999999997), so its lerp weight can be ~n ulp away from ours: the bound is
    # n * eps times the gap between the two order statistics
    tolerance = window * np.finfo(float).eps * max(1.0, float(np.ptp(series)))
    np.testing.assert_allclose(level, expected, rtol=0, atol=tolerance)
    # the interpolation between centres is written as level + (next - level) * w: np.interp
    # rounds its own formula, ~1 ulp apart
    np.testing.assert_allclose(est, np.interp(t, centres, expected), rtol=0, atol=2 * tolerance)
