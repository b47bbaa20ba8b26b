"""Tests of the seeded synthetic ground-truth generators."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

from CalSciPy.synthetic import (
    SyntheticMovie,
    SyntheticTraces,
    gcamp_kernel,
    generate_movie,
    generate_spike_trains,
    generate_traces,
)


# ----------------------------------------------------------------------------- spike trains
def test_spike_trains_shape_dtype_and_seed():
    a = generate_spike_trains(20, 3000, 30.0, seed=1)
    b = generate_spike_trains(20, 3000, 30.0, seed=1)
    c = generate_spike_trains(20, 3000, 30.0, seed=2)
    assert a.shape == (20, 3000)
    assert np.issubdtype(a.dtype, np.integer)
    assert a.min() >= 0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_spike_trains_mean_rate_matches_rate_range():
    # a fixed rate (low == high): the mean count over many neurons is rate × duration
    counts = generate_spike_trains(200, 30 * 600, 30.0, rate_range=(0.4, 0.4), seed=3)
    rate = counts.sum(axis=1).mean() / 600.0
    assert rate == pytest.approx(0.4, rel=0.05)


def test_spike_trains_rates_within_range():
    counts = generate_spike_trains(300, 30 * 1000, 30.0, rate_range=(0.1, 0.3), seed=4)
    rates = counts.sum(axis=1) / 1000.0
    # Poisson scatter of 100–300 spikes is < 10 %: allow a generous margin
    assert rates.min() > 0.1 * 0.7
    assert rates.max() < 0.3 * 1.3


def test_refractory_period_respected():
    sim = generate_traces(50, 30 * 300, 30.0, rate_range=(5.0, 10.0), refractory=0.05,
                          seed=5)
    for times in sim.spike_times:
        if times.size > 1:
            assert np.diff(times).min() >= 0.05 - 1e-12


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n_neurons=0, n_frames=10), ValueError),
        (dict(n_neurons=2, n_frames=0), ValueError),
        (dict(n_neurons=2.5, n_frames=10), TypeError),
        (dict(n_neurons=2, n_frames=10, frame_rate=0.0), ValueError),
        (dict(n_neurons=2, n_frames=10, rate_range=(1.0, 0.5)), ValueError),
        (dict(n_neurons=2, n_frames=10, rate_range=(10.0, 60.0)), ValueError),
        (dict(n_neurons=2, n_frames=10, refractory=-1.0), ValueError),
    ],
)
def test_spike_trains_bad_arguments(kwargs, error):
    with pytest.raises(error):
        generate_spike_trains(**kwargs)


# ----------------------------------------------------------------------------- traces
@pytest.fixture(scope="module")
def sim() -> SyntheticTraces:
    return generate_traces(40, 30 * 200, 30.0, seed=11)


def test_traces_fields_shapes_and_dtypes(sim):
    n, t = 40, 6000
    assert sim.n_neurons == n and sim.n_frames == t
    for name in ("traces", "baseline", "dfof_true"):
        arr = getattr(sim, name)
        assert arr.shape == (n, t) and arr.dtype == np.float32, name
    assert sim.spikes.shape == (n, t) and np.issubdtype(sim.spikes.dtype, np.integer)
    for name in ("f0", "tau_rise", "tau_decay", "amplitude", "rates", "noise_sd"):
        assert getattr(sim, name).shape == (n,), name
    assert sim.frame_rate == 30.0
    assert len(sim.event_frames) == n and len(sim.spike_times) == n
    assert sim.time[1] == pytest.approx(1 / 30)


def test_traces_are_reproducible():
    a = generate_traces(5, 900, seed=7)
    b = generate_traces(5, 900, seed=7)
    c = generate_traces(5, 900, seed=8)
    np.testing.assert_array_equal(a.traces, b.traces)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    assert not np.array_equal(a.traces, c.traces)


def test_defaults_are_realistic(sim):
    assert np.all((sim.tau_rise >= 0.04) & (sim.tau_rise <= 0.07))
    assert np.all((sim.tau_decay >= 0.3) & (sim.tau_decay <= 1.5))
    assert np.all((sim.amplitude >= 0.2) & (sim.amplitude <= 1.0))
    assert np.all((sim.noise_sd > 0.03) & (sim.noise_sd < 0.12))
    assert np.all(sim.rates >= 0.05) and np.all(sim.rates <= 0.5)
    assert np.all(sim.f0 > 0)
    assert np.all(sim.dfof_true >= 0)


def test_ground_truth_is_consistent(sim):
    for i in range(sim.n_neurons):
        np.testing.assert_array_equal(
            np.bincount(sim.event_frames[i], minlength=sim.n_frames), sim.spikes[i]
        )
        np.testing.assert_array_equal(
            np.floor(sim.spike_times[i] * sim.frame_rate).astype(int), sim.event_frames[i]
        )
        assert np.all(np.diff(sim.event_frames[i]) >= 0)
    np.testing.assert_allclose(sim.baseline[:, 0], sim.f0, rtol=1e-5)


def test_dfof_true_is_spikes_convolved_with_kernel():
    sim = generate_traces(6, 1500, 30.0, amplitude_cv=0.0, rate_range=(0.5, 2.0), seed=2)
    kernels = gcamp_kernel(sim.tau_rise, sim.tau_decay, sim.frame_rate, n_samples=1500)
    for i in range(6):
        expected = sim.amplitude[i] * np.convolve(sim.spikes[i], kernels[i])[:1500]
        np.testing.assert_allclose(sim.dfof_true[i], expected, atol=1e-5)


def test_noise_free_traces_and_noise_level():
    clean = generate_traces(10, 3000, noise=False, seed=3)
    np.testing.assert_allclose(
        clean.traces, clean.baseline * (1 + clean.dfof_true), rtol=1e-5
    )
    assert np.all(clean.noise_sd == 0)
    noisy = generate_traces(10, 3000, seed=3)
    np.testing.assert_array_equal(noisy.dfof_true, clean.dfof_true)
    residual = noisy.traces / noisy.baseline - 1 - noisy.dfof_true
    # noise s.d. grows slightly with ΔF/F0 (shot noise) and shrinks with bleaching: ±15 %
    np.testing.assert_allclose(residual.std(axis=1), noisy.noise_sd, rtol=0.15)


def test_bleaching_and_drift_switches():
    flat = generate_traces(4, 3000, bleach_tau_range=None, drift=0.0, seed=1)
    np.testing.assert_allclose(flat.baseline, np.repeat(flat.f0[:, None], 3000, 1), rtol=1e-6)
    bleached = generate_traces(4, 3000, bleach_tau_range=(50.0, 50.0), drift=0.0, seed=1)
    expected = bleached.f0[:, None] * np.exp(-bleached.time / 50.0)
    np.testing.assert_allclose(bleached.baseline, expected, rtol=1e-4)


def _double_exp(t, amp, tau_rise, tau_decay):
    return amp * (np.exp(-t / tau_decay) - np.exp(-t / tau_rise))


def test_kernel_time_constants_recovered():
    fs = 100.0
    sim = generate_traces(5, 3000, fs, noise=False, amplitude_cv=0.0, seed=9,
                          rate_range=(0.01, 0.02), refractory=0.0)
    fitted = 0
    for i in range(sim.n_neurons):
        frames = sim.event_frames[i]
        if frames.size == 0:
            continue
        start = frames[0]
        gap = 10 * sim.tau_decay[i] * fs
        if frames.size > 1 and frames[1] - start < gap or start + gap > sim.n_frames:
            continue
        seg = sim.dfof_true[i, start:int(start + gap)].astype(np.float64)
        t = (np.arange(seg.size) + 0.5) / fs
        popt, _ = curve_fit(_double_exp, t, seg, p0=(1.0, 0.03, 0.5))
        assert popt[1] == pytest.approx(sim.tau_rise[i], rel=0.05)
        assert popt[2] == pytest.approx(sim.tau_decay[i], rel=0.05)
        fitted += 1
    assert fitted >= 1


def test_gcamp_kernel_peak_and_shape():
    k = gcamp_kernel(0.05, 1.0, 1000.0)
    assert k.ndim == 1
    assert k.max() == pytest.approx(1.0, abs=1e-3)
    # peak time of the double exponential: ln(τd/τr)·τr·τd/(τd−τr)
    t_peak = np.log(20) * 0.05 / 0.95
    assert (np.argmax(k) + 0.5) / 1000 == pytest.approx(t_peak, abs=1e-3)
    with pytest.raises(ValueError):
        gcamp_kernel(1.0, 0.5, 30.0)


def test_traces_bad_arguments():
    with pytest.raises(ValueError):
        generate_traces(2, 10, tau_rise_range=(0.5, 0.6), tau_decay_range=(0.3, 0.4))
    with pytest.raises(ValueError):
        generate_traces(2, 10, f0_range=(0.0, 1.0))
    with pytest.raises(TypeError):
        generate_traces(2, "10")


# ----------------------------------------------------------------------------- movies
@pytest.fixture(scope="module")
def movie() -> SyntheticMovie:
    return generate_movie(300, (96, 128), 12, seed=5)


def test_movie_shapes_and_dtypes(movie):
    assert movie.images.shape == (300, 96, 128) and movie.images.dtype == np.uint16
    assert movie.footprints.shape == (12, 96, 128) and movie.footprints.dtype == np.float32
    assert movie.masks.shape == (12, 96, 128) and movie.masks.dtype == bool
    assert movie.centroids.shape == (12, 2)
    assert movie.traces.traces.shape == (12, 300)
    assert movie.frame_rate == 30.0
    assert movie.background.shape == movie.neuropil.shape == (96, 128)
    assert movie.neuropil_trace.shape == (300,)


def test_movie_footprints_masks_and_centroids(movie):
    np.testing.assert_allclose(movie.footprints.max(axis=(1, 2)), 1.0)
    assert np.all(movie.masks.sum(axis=(1, 2)) > 20)
    for i, (cy, cx) in enumerate(movie.centroids):
        assert movie.masks[i, int(round(cy)), int(round(cx))]
        assert np.all(movie.footprints[i][movie.masks[i]] > 0.3)
    # somata do not overlap
    assert movie.masks.sum(axis=0).max() == 1


def test_movie_is_reproducible():
    a = generate_movie(20, (64, 64), 4, seed=1)
    b = generate_movie(20, (64, 64), 4, seed=1)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, generate_movie(20, (64, 64), 4, seed=2).images)


def test_movie_pixels_follow_the_model(movie):
    mean_image = movie.images.mean(axis=0, dtype=np.float64)
    expected = (
        movie.background
        + movie.neuropil * movie.neuropil_trace.mean()
        + np.tensordot(movie.traces.traces.mean(axis=1), movie.footprints, axes=1)
    )
    # 300-frame average: shot-noise s.e. sqrt(mean / 300) (plus the pixel's own activity
    # variance, which is already in the expected mean); allow 5 s.e.; rounding is unbiased
    tolerance = 5 * np.sqrt((expected + 16) / 300) + 0.1
    assert np.all(np.abs(mean_image - expected) < tolerance)
    # soma pixels follow the neuron's trace
    for i in range(movie.traces.n_neurons):
        roi = movie.images[:, movie.masks[i]].mean(axis=1)
        if movie.traces.spikes[i].sum() >= 2:
            corr = np.corrcoef(roi, movie.traces.traces[i])[0, 1]
            assert corr > 0.8


def test_movie_bad_arguments():
    with pytest.raises(ValueError, match="cannot place"):
        generate_movie(5, (24, 24), 50)
    with pytest.raises(ValueError):
        generate_movie(5, (8, 8), 1)
    with pytest.raises(TypeError):
        generate_movie(5, (64, 64), 2, noise=True)


def test_movie_expected_images_is_the_mean_of_the_noisy_movie():
    from CalSciPy.synthetic import generate_movie

    movie = generate_movie(n_frames=400, shape=(32, 32), n_neurons=3, seed=4)
    expected = movie.expected_images()
    assert expected.shape == movie.images.shape and expected.dtype == np.float32
    # noise is zero-mean: averaged over frames and pixels the residual vanishes, while a
    # wrong model (e.g. missing the neuropil term) leaves a bias of several ADU
    residual = movie.images.astype(np.float64) - expected
    assert abs(residual.mean()) < 0.5
    assert abs((movie.images.astype(np.float64) - expected
                + movie.neuropil[None] * movie.neuropil_trace[:, None, None]).mean()) > 2
