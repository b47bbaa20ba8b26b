"""Tests for the documented functions of CalSciPy.event_processing."""
from __future__ import annotations

import platform

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from CalSciPy import event_processing as ep


def _reference_identify(trace, timeout=15, frame_rate=30.0, smooth=True, force_nonneg=True):
    """The documented algorithm for one trace, written plainly with scipy."""
    x = np.asarray(trace, dtype=np.float64)
    delta = np.concatenate([[0.0], np.diff(x)])
    if smooth:
        delta = gaussian_filter1d(delta, sigma=frame_rate, mode="reflect")
    if force_nonneg:
        delta = np.clip(delta, 0, None)
    peaks, _ = find_peaks(delta, prominence=np.nanstd(delta) / 2, distance=timeout)
    return peaks


def _bumpy_traces(neurons=70, frames=2000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(frames)
    traces = rng.normal(0, 0.05, size=(neurons, frames))
    for i in range(neurons):
        for onset in rng.choice(frames - 100, size=5, replace=False):
            traces[i, onset:] += np.exp(-(t[onset:] - onset) / 20.0)
    return traces


# --------------------------------------------------------------------------- identify_events
@pytest.mark.parametrize(
    "options",
    [{}, {"smooth": False}, {"force_nonneg": False}, {"timeout": 40, "frame_rate": 10.0}],
)
def test_identify_events_matches_per_neuron_reference(options):
    traces = _bumpy_traces()
    events = ep.identify_events(traces, **options)
    assert len(events) == traces.shape[0]
    for trace, got in zip(traces, events):
        np.testing.assert_array_equal(got, _reference_identify(trace, **options))
        assert got.dtype == np.int64 and np.all(np.diff(got) > 0)


def _piecewise_traces():
    # exact plateaus in the smoothed derivative: find_peaks takes a plateau's middle, so the
    # smoothing must reproduce gaussian_filter1d bit for bit (an FFT convolution's ~1e-16
    # ripple moved and added events on these)
    rng = np.random.default_rng(7)
    steps = np.where(rng.random((5, 5000)) < 0.002, 1.0, 0.0).cumsum(axis=1)
    saw = np.tile((np.arange(6000) % 500).astype(float), (2, 1))
    return {"steps": steps, "saw": saw}


# bit-identity with scipy's compiled ndimage needs both sides to round the same way: true for
# x86-64 wheels (no FMA contraction in the baseline instruction set)
_SAME_ROUNDING = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="scipy's C code may be compiled with FMA contraction on this architecture",
)


@_SAME_ROUNDING
@pytest.mark.parametrize("kind", ["steps", "saw"])
@pytest.mark.parametrize("frame_rate", [10.0, 30.0, 60.0])
def test_identify_events_exact_on_piecewise_constant_traces(kind, frame_rate):
    traces = _piecewise_traces()[kind]
    for trace, got in zip(traces, ep.identify_events(traces, frame_rate=frame_rate)):
        np.testing.assert_array_equal(got, _reference_identify(trace, frame_rate=frame_rate))


@_SAME_ROUNDING
def test_gaussian_smoothing_is_bit_identical_to_ndimage():
    from CalSciPy._smoothing import gaussian_smooth_reflect

    rng = np.random.default_rng(2)
    for sigma in (0.4, 3.0, 10.0, 30.0, 75.0):
        for n in (1, 2, 7, 130, 600, 1500):  # shorter and longer than the kernel radius
            data = np.vstack([rng.normal(size=n), rng.integers(0, 3, n).astype(float)])
            np.testing.assert_array_equal(
                gaussian_smooth_reflect(data, sigma),
                gaussian_filter1d(data, sigma, axis=-1, mode="reflect"),
            )


def test_identify_events_one_step_hand_checked():
    trace = np.zeros(300)
    trace[150:] = 1.0  # a single step: steepest rise of the smoothed derivative at frame 150
    events = ep.identify_events(trace)
    assert isinstance(events, np.ndarray)  # 1-D in -> the one event array
    np.testing.assert_array_equal(events, [150])
    assert ep.identify_events(np.ones(300)).size == 0  # constant trace: no events


def test_identify_events_dtype_independent():
    traces = _bumpy_traces(3, 800)
    for a, b in zip(ep.identify_events(traces), ep.identify_events(traces.astype(np.float32))):
        np.testing.assert_array_equal(a, b)


def test_identify_events_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        ep.identify_events(np.array([[0.0, np.nan, 1.0, 2.0]]))
    with pytest.raises(ValueError, match="traces"):
        ep.identify_events(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="timeout"):
        ep.identify_events(np.zeros((2, 40)), timeout=0)
    with pytest.raises(ValueError, match="frame_rate"):
        ep.identify_events(np.zeros((2, 40)), frame_rate=-1)
    with pytest.raises(TypeError, match="traces"):
        ep.identify_events(np.array([["a", "b"]]))


# --------------------------------------------------------------------------- event statistics
def test_event_statistics_hand_computed():
    events = [[3, 9, 12], [], [0]]
    np.testing.assert_array_equal(ep.get_num_events(events), [3, 0, 1])
    intervals = ep.get_inter_event_intervals(events, frame_rate=3.0)
    np.testing.assert_allclose(intervals[0], [2.0, 1.0])
    assert intervals[1].size == 0 and intervals[2].size == 0
    traces = np.arange(45, dtype=float).reshape(3, 15)
    onsets = ep.get_event_onset_intensities(traces, events)
    np.testing.assert_array_equal(onsets[0], [3, 9, 12])
    assert onsets[1].size == 0
    np.testing.assert_array_equal(onsets[2], [30])
    np.testing.assert_array_equal(ep.get_event_onset_intensities(traces[0], [1, 2]), [1, 2])
    # a single trace with no events, as a list or as an array (identify_events' output)
    for none in ([], np.zeros(0, dtype=np.int64)):
        assert ep.get_event_onset_intensities(traces[0], none).shape == (0,)
        assert ep.collect_waveforms(traces[0], none, pre=2, post=3).shape == (0, 6)


def test_event_statistics_bad_input():
    traces = np.zeros((2, 10))
    with pytest.raises(ValueError, match="beyond the recording"):
        ep.get_event_onset_intensities(traces, [[1], [10]])
    with pytest.raises(ValueError, match="negative"):
        ep.get_num_events([[1, -2]])
    with pytest.raises(ValueError, match="2 neurons"):
        ep.get_event_onset_intensities(traces, [[1]])
    with pytest.raises(ValueError, match="2 neurons"):
        ep.get_event_onset_intensities(traces, [])
    with pytest.raises(ValueError, match="event_indices\\[0\\]"):
        ep.get_inter_event_intervals([[1, [2, 3]]])
    with pytest.raises(TypeError, match="event_indices"):
        ep.get_num_events(3)


# --------------------------------------------------------------------------- firing rates
def test_firing_rates():
    spikes = np.array([[0, 1, 0, 2], [0, 0, 0, 0]])
    rates = ep.calculate_firing_rates(spikes, frame_rate=10.0)
    assert rates.dtype == np.float64
    np.testing.assert_array_equal(rates, [[0, 10, 0, 20], [0, 0, 0, 0]])
    f32 = spikes.astype(np.float32)
    out = ep.calculate_firing_rates(f32, 10.0, in_place=True)
    assert out is f32 and out.dtype == np.float32 and out[0, 3] == 20
    with pytest.raises(TypeError, match="in_place"):
        ep.calculate_firing_rates(spikes, in_place=True)
    np.testing.assert_allclose(ep.calculate_mean_firing_rates(rates), [7.5, 0])
    nan_rates = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    means = ep.calculate_mean_firing_rates(nan_rates)
    assert means[0] == 2.0 and np.isnan(means[1])
    assert ep.calculate_mean_firing_rates(np.array([1.0, 3.0])) == 2.0


def test_normalize_firing_rates():
    rates = np.array([[2.0, -1.0, 4.0], [0.0, 0.0, 0.0], [-3.0, -1.0, -2.0], [1.0, np.nan, 2.0]])
    norm = ep.normalize_firing_rates(rates)
    np.testing.assert_array_equal(norm[:3], [[0.5, 0, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(norm[3], [0.5, np.nan, 1.0])
    assert rates[0, 1] == -1.0  # input untouched
    same = ep.normalize_firing_rates(rates, in_place=True)
    assert same is rates and rates[0, 2] == 1.0
    one = np.array([1.0, -2.0, 4.0])  # 1-D: the caller's own object comes back too
    assert ep.normalize_firing_rates(one, in_place=True) is one
    np.testing.assert_array_equal(one, [0.25, 0, 1])
    assert ep.calculate_firing_rates(one, 4.0, in_place=True) is one
    np.testing.assert_array_equal(one, [1, 0, 4])


# --------------------------------------------------------------------------- waveforms
def test_collect_waveforms_alignment_at_edges():
    traces = np.arange(20, dtype=np.float32).reshape(2, 10)
    waves = ep.collect_waveforms(traces, [[1, 8], []], pre=3, post=2)
    assert len(waves) == 2 and waves[0].dtype == np.float32
    np.testing.assert_array_equal(waves[0][0], [np.nan, np.nan, 0, 1, 2, 3])
    np.testing.assert_array_equal(waves[0][1], [5, 6, 7, 8, 9, np.nan])
    assert waves[1].shape == (0, 6)
    assert waves[0][:, 3].tolist() == [1, 8]  # column ``pre`` is the event frame
    ints = ep.collect_waveforms(np.arange(5), [0], pre=1, post=1)
    assert ints.dtype == np.float64
    np.testing.assert_array_equal(ints, [[np.nan, 0, 1]])
    with pytest.raises(ValueError, match="beyond the recording"):
        ep.collect_waveforms(traces, [[10], []], pre=1, post=1)
    with pytest.raises(ValueError, match="pre"):
        ep.collect_waveforms(traces, [[1], []], pre=-1)


def _sklearn_scalers():
    preprocessing = pytest.importorskip(
        "sklearn.preprocessing", reason="scikit-learn (test extra) compares the default scaler"
    )
    return preprocessing.StandardScaler, preprocessing.MinMaxScaler


def test_scale_waveforms_matches_sklearn():
    StandardScaler, MinMaxScaler = _sklearn_scalers()
    rng = np.random.default_rng(1)
    waves = (rng.normal(size=(4, 9)), np.zeros((0, 9)), np.ones((2, 9)))
    waves[0][1, 2] = np.nan
    scaled = ep.scale_waveforms(waves)
    assert len(scaled) == 3 and scaled[1].shape == (0, 9)
    for block, got in zip(waves, scaled):
        for row, out in zip(block, got):
            expected = StandardScaler().fit_transform(row[:, None]).ravel()
            np.testing.assert_allclose(out, expected, atol=1e-12)
    assert np.isnan(scaled[0][1, 2])
    minmax = ep.scale_waveforms(waves[:1], scaler=MinMaxScaler)
    np.testing.assert_allclose(np.nanmax(minmax[0], axis=1), 1.0)
    # sklearn's own class passed explicitly gives the same numbers as the default
    explicit = ep.scale_waveforms(waves, scaler=StandardScaler)
    for got, default in zip(explicit, scaled):
        np.testing.assert_array_equal(got, default)
    with pytest.raises(ValueError, match="2-D"):
        ep.scale_waveforms([np.zeros(3)])


def test_scale_waveforms_near_constant_rows_follow_sklearn():
    # StandardScaler's own "constant feature" rule decides whether a row is only centred:
    # a tiny-but-real spread around 0 is scaled, rounding noise around 1 or 1000 is not
    rng = np.random.default_rng(3)
    rows = np.stack([
        1e-18 * rng.normal(size=601),
        1.0 + 1e-13 * rng.normal(size=601),
        1e3 + 1e-10 * rng.normal(size=601),
        5.0 + rng.normal(size=601),
    ])
    StandardScaler, _ = _sklearn_scalers()
    scaled = ep.scale_waveforms([rows])[0]
    for row, got in zip(rows, scaled):
        expected = StandardScaler().fit_transform(row[:, None]).ravel()
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_convert_tau():
    assert ep.convert_tau(np.exp(-1 / 30), 1 / 30) == pytest.approx(1.0)
    assert ep.convert_tau(0.5, 0.1) == pytest.approx(0.1 / np.log(2))
    for bad in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(ValueError, match="tau"):
            ep.convert_tau(bad, 0.1)
    with pytest.raises(ValueError, match="dt"):
        ep.convert_tau(0.5, 0)


# --------------------------------------------------------------------------- bin_data
def test_bin_data_hand_computed():
    data = np.arange(10, dtype=float).reshape(5, 2)  # rows = samples
    np.testing.assert_array_equal(ep.bin_data(data, 2, "sum"), [[2, 4], [10, 12], [8, 9]])
    np.testing.assert_array_equal(ep.bin_data(data, 2, "mean"), [[1, 2], [5, 6], [8, 9]])
    np.testing.assert_array_equal(ep.bin_data(data, 3, "median"), [[2, 3], [7, 8]])
    std = ep.bin_data(data, 2, "std")
    np.testing.assert_allclose(std[:2], np.full((2, 2), np.sqrt(2)))
    assert np.isnan(std[2]).all()  # one row, ddof=1
    np.testing.assert_array_equal(ep.bin_data(data, 2, np.max), [[2, 3], [6, 7], [8, 9]])
    np.testing.assert_array_equal(ep.bin_data(data, 2, lambda b: b[0]), [[0, 1], [4, 5], [8, 9]])
    np.testing.assert_array_equal(ep.bin_data(np.arange(5), 2, "sum"), [1, 5, 4])


def test_bin_data_dataframe():
    frame = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [0, 0, 1, 1, 1]})
    binned = ep.bin_data(frame, 2, "sum")
    assert isinstance(binned, pd.DataFrame) and list(binned.columns) == ["a", "b"]
    assert list(binned["a"]) == [3, 7, 5]
    assert isinstance(binned.index, pd.IntervalIndex)
    assert binned.index[2].left == 4 and binned.index[2].right == 5


def test_bin_data_bad_input():
    with pytest.raises(ValueError, match="fun"):
        ep.bin_data(np.zeros((4, 2)), 2, "max")
    with pytest.raises(ValueError, match="bin_length"):
        ep.bin_data(np.zeros((4, 2)), 0, "sum")
    with pytest.raises(ValueError, match="data"):
        ep.bin_data(np.zeros((2, 2, 2)), 2, "sum")
    with pytest.raises(TypeError, match="data"):
        ep.bin_data(["a", "b"], 1, "sum")
    # string (extension-dtype) columns: a clear error naming them, not numpy's own
    with pytest.raises(TypeError, match="not numeric: name"):
        ep.bin_data(pd.DataFrame({"x": [1, 2], "name": pd.array(["a", "b"], dtype="string")}),
                    1, "sum")
    with pytest.raises(TypeError, match="not numeric: kind"):
        ep.bin_data(pd.DataFrame({"kind": pd.Categorical(["a", "b"])}), 1, "sum")
    # a callable that does not reduce to one value per column: an error naming fun, not a
    # silent (bins, bin_length * columns) reshape or a numpy stacking error
    with pytest.raises(ValueError, match="fun must reduce"):
        ep.bin_data(np.zeros((4, 2)), 2, lambda b: b)
    with pytest.raises(ValueError, match="fun must reduce"):
        ep.bin_data(np.zeros((5, 2)), 2, lambda b: b)
    with pytest.raises(ValueError, match="fun must reduce"):
        ep.bin_data(np.zeros((4, 2)), 2, lambda b: b.sum())
    np.testing.assert_array_equal(ep.bin_data(np.arange(4.0), 2, lambda b: b.sum()), [1, 5])


@settings(max_examples=100, deadline=None)
@given(
    data=arrays(np.int64, st.tuples(st.integers(1, 60), st.integers(1, 4)),
                elements=st.integers(-1000, 1000)),
    bin_length=st.integers(1, 70),
)
def test_bin_data_sum_preserves_total(data, bin_length):
    binned = ep.bin_data(data, bin_length, "sum")
    assert binned.shape == (-(-data.shape[0] // bin_length), data.shape[1])
    np.testing.assert_array_equal(binned.sum(axis=0), data.sum(axis=0))
