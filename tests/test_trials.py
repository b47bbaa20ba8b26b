"""Tests of CalSciPy.trials: onsets, trial tensors, averages and responsive neurons."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from CalSciPy.errors import InvalidArgumentError
from CalSciPy.trials import (
    benjamini_hochberg,
    find_onsets,
    frames_of_onsets,
    generate_trial_tensor,
    responsive_neurons,
    trial_average,
)


def _pulses(onsets_ms, width_ms=500.0, duration_ms=20000.0, rate=1000.0, high=5.0, noise=0.0,
            seed=0):
    t = np.arange(0, duration_ms, 1000.0 / rate)
    values = np.zeros_like(t)
    for onset in onsets_ms:
        values[(t >= onset) & (t < onset + width_ms)] = high
    values += np.random.default_rng(seed).normal(0, noise, t.size)
    return pd.Series(values, index=pd.Index(t, name="Time(ms)"))


# ----------------------------------------------------------------------------- onsets
def test_clean_ttl_gives_the_pulse_starts_and_the_midpoint_threshold():
    signal = _pulses([1000, 3000, 5000.5 - 0.5])
    found = find_onsets(signal)
    np.testing.assert_array_equal(found.times_ms, [1000, 3000, 5000])
    assert found.threshold == pytest.approx(2.5)
    assert found.levels == (0.0, 5.0)
    assert found.frames is None and len(found) == 3


def test_noisy_ttl_gives_one_onset_per_pulse_thanks_to_hysteresis():
    onsets = np.arange(1000, 20000, 2000)
    signal = _pulses(onsets, noise=0.8, seed=4)
    # without hysteresis, noise crossing the midpoint on the edges and inside pulses of
    # this signal gives extra onsets; with the default band it gives exactly one per pulse
    assert len(find_onsets(signal, hysteresis=0.0, min_interval_s=0)) > onsets.size
    found = find_onsets(signal, min_interval_s=0)
    assert len(found) == onsets.size
    assert np.all(np.abs(found.times_ms - onsets) <= 5)


def test_photodiode_flicker_within_a_stimulus_is_one_onset_with_min_interval():
    t = np.arange(0, 10000.0)
    flicker = ((t % 16) < 8).astype(float)  # 60 Hz refresh inside each 1 s stimulus
    values = np.where(((t >= 2000) & (t < 3000)) | ((t >= 6000) & (t < 7000)), flicker, 0.0)
    signal = pd.Series(values, index=t)
    assert len(find_onsets(signal, min_interval_s=0)) > 100
    found = find_onsets(signal, min_interval_s=1.5)
    np.testing.assert_array_equal(found.times_ms, [2000, 6000])


def test_falling_edges_and_explicit_threshold():
    signal = 5.0 - _pulses([1000, 4000])  # active-low TTL
    found = find_onsets(signal, 1.0, rising=False)
    np.testing.assert_array_equal(found.times_ms, [1000, 4000])
    assert found.threshold == 1.0


def test_array_signal_with_sample_rate_or_times():
    values = _pulses([250, 1250], width_ms=100, duration_ms=2000).to_numpy()
    by_rate = find_onsets(values, sample_rate=1000.0)
    by_time = find_onsets(values, time_ms=np.arange(values.size) * 1.0)
    np.testing.assert_array_equal(by_rate.times_ms, [250, 1250])
    np.testing.assert_array_equal(by_time.times_ms, by_rate.times_ms)


def test_a_pulse_in_progress_at_the_first_sample_is_not_an_onset():
    signal = _pulses([0, 3000])
    np.testing.assert_array_equal(find_onsets(signal).times_ms, [3000])


def test_onset_frames_are_the_first_frame_starting_at_or_after_the_onset():
    frame_times = np.arange(100) / 30.0
    onsets_s = np.array([0.0, 1.0, 1.01, 2.5, 1 / 30.0 + 1e-9])
    # by hand: 0 → 0; 1.0 = 30/30 → 30; 1.01 → 31 (frame 30 started before it); 2.5 → 75;
    # a rounding error after frame 1's start is frame 1
    np.testing.assert_array_equal(frames_of_onsets(onsets_s, frame_times), [0, 30, 31, 75, 1])
    found = find_onsets(_pulses([1010.0, 2500.0], duration_ms=3300.0),
                        frame_times=frame_times)
    np.testing.assert_array_equal(found.frames, [31, 75])


def test_per_plane_frame_times_give_one_frame_per_plane():
    volume = np.arange(20) / 10.0
    frame_times = np.stack([volume, volume + 0.025, volume + 0.05], axis=1)
    frames = frames_of_onsets([0.52], frame_times)
    # plane 0 started at 0.5 (before the onset) → volume 6; planes 1, 2 start at 0.525, 0.55
    np.testing.assert_array_equal(frames, [[6, 5, 5]])


def test_onsets_outside_the_imaging_period_raise_or_are_dropped():
    frame_times = 2.0 + np.arange(30) / 30.0  # imaging from 2 s to 2.97 s
    with pytest.raises(InvalidArgumentError, match="outside the imaging period"):
        frames_of_onsets([1.0, 2.5], frame_times)
    with pytest.raises(InvalidArgumentError, match="outside the imaging period"):
        frames_of_onsets([2.99], frame_times)
    np.testing.assert_array_equal(frames_of_onsets([1.0, 2.5], frame_times, outside="drop"),
                                  [15])
    found = find_onsets(_pulses([1000, 2500], duration_ms=4000), frame_times=frame_times,
                        outside="drop")
    np.testing.assert_array_equal(found.times_ms, [2500])
    np.testing.assert_array_equal(found.frames, [15])


def test_no_onsets_describes_threshold_and_range():
    found = find_onsets(_pulses([]), threshold=2.0)
    assert len(found) == 0
    assert "threshold 2" in found.describe() and "0 to 0" in found.describe()


@pytest.mark.parametrize("signal, message", [
    (pd.Series(np.zeros(100)), "flat"),
    (pd.Series(np.random.default_rng(1).normal(size=5000)), "no two separated levels"),
    (pd.DataFrame({"a": [0.0, 1.0]}), "one column"),
    (pd.Series([np.nan, np.nan]), "no finite"),
])
def test_signals_without_an_automatic_threshold_are_clear_errors(signal, message):
    with pytest.raises(InvalidArgumentError, match=message):
        find_onsets(signal)


def test_bad_arguments():
    good = _pulses([1000])
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        find_onsets(good.to_numpy())
    with pytest.raises(InvalidArgumentError, match="hysteresis"):
        find_onsets(good, hysteresis=0.5)
    with pytest.raises(InvalidArgumentError, match="min_interval_s"):
        find_onsets(good, min_interval_s=-1)
    with pytest.raises(InvalidArgumentError, match="increasing"):
        find_onsets(pd.Series([0.0, 5.0, 0.0], index=[0.0, 2.0, 1.0]), 1.0)
    with pytest.raises(InvalidArgumentError, match="increase strictly"):
        find_onsets(good, frame_times=[0.0, 0.0, 1.0])
    with pytest.raises(AssertionError):  # 0.3.x code catching assert-style errors
        find_onsets(good, threshold=float("nan"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 180), min_size=1, max_size=12, unique=True),
       st.floats(0.2, 3.0), st.floats(-1.0, 1.0))
def test_property_onsets_of_pulses_on_any_level(starts, high, offset):
    starts = np.sort(np.array(starts)) * 100 + 50  # ≥ 100 ms apart, 20 ms wide
    signal = _pulses(starts, width_ms=20, duration_ms=18200, high=high) + offset
    found = find_onsets(signal, min_interval_s=0.05)
    np.testing.assert_array_equal(found.times_ms, starts)
    frame_times = np.arange(0, 18.2, 1 / 30.0)
    expected = np.ceil(starts / 1000 * 30 - 1e-6).astype(int)  # first frame at or after
    frames = frames_of_onsets(found.times_s, frame_times, outside="drop")
    np.testing.assert_array_equal(frames, expected[expected < frame_times.size])


# ----------------------------------------------------------------------------- tensors
def test_trial_tensor_windows_and_time_axis_by_hand():
    traces = np.arange(2 * 10, dtype=np.float32).reshape(2, 10)
    tensor, time = generate_trial_tensor(traces, [1, 5, 9], 2 / 10, 3 / 10, 10.0)
    assert tensor.shape == (3, 2, 5) and tensor.dtype == np.float32
    np.testing.assert_allclose(time, [-0.2, -0.1, 0.0, 0.1, 0.2])
    nan = np.nan
    np.testing.assert_array_equal(tensor[0, 0], [nan, 0, 1, 2, 3])  # starts before frame 0
    np.testing.assert_array_equal(tensor[1, 1], [13, 14, 15, 16, 17])
    np.testing.assert_array_equal(tensor[2, 0], [7, 8, 9, nan, nan])  # runs past the end


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(5, 40), st.integers(0, 6), st.integers(1, 6),
       st.lists(st.integers(0, 39), min_size=1, max_size=8), st.sampled_from([1.0, 7.5, 30.0]))
def test_property_tensor_equals_a_per_element_reference(neurons, frames, pre, post, onsets,
                                                       rate):
    if pre + post > frames:
        return
    onsets = [o % frames for o in onsets]
    traces = np.random.default_rng(0).normal(size=(neurons, frames))
    tensor, time = generate_trial_tensor(traces, onsets, pre / rate, post / rate, rate)
    assert tensor.shape == (len(onsets), neurons, pre + post)
    np.testing.assert_allclose(time * rate, np.arange(-pre, post), atol=1e-9)
    for k, onset in enumerate(onsets):
        for j, offset in enumerate(range(-pre, post)):
            frame = onset + offset
            expected = traces[:, frame] if 0 <= frame < frames else np.full(neurons, np.nan)
            np.testing.assert_array_equal(tensor[k, :, j], expected)


def test_trial_tensor_bad_input():
    traces = np.zeros((2, 10))
    with pytest.raises(InvalidArgumentError, match="outside the recording"):
        generate_trial_tensor(traces, [10], 0.1, 0.1, 10)
    with pytest.raises(InvalidArgumentError, match="whole"):
        generate_trial_tensor(traces, [1.5], 0.1, 0.1, 10)
    with pytest.raises(InvalidArgumentError, match="longer than the recording"):
        generate_trial_tensor(traces, [1], 1.0, 1.0, 10)
    with pytest.raises(InvalidArgumentError, match="less than one frame"):
        generate_trial_tensor(traces, [1], 0.1, 0.01, 10)
    with pytest.raises(InvalidArgumentError, match="pre_s"):
        generate_trial_tensor(traces, [1], -0.1, 0.1, 10)


def test_trial_average_mean_and_sem_per_condition_with_nan():
    tensor = np.array([[[1.0, 2.0]], [[3.0, np.nan]], [[5.0, 6.0]], [[10.0, 10.0]]])
    average = trial_average(tensor, ["a", "a", "a", "b"], time_s=[0.0, 0.1])
    assert average.conditions == ["a", "b"]
    np.testing.assert_allclose(average.mean[0, 0], [3.0, 4.0])
    np.testing.assert_allclose(average.sem[0, 0], [2.0 / np.sqrt(3), np.sqrt(8) / np.sqrt(2)])
    np.testing.assert_array_equal(average.n_trials[:, 0], [[3, 2], [1, 1]])
    assert np.all(np.isnan(average.sem[1]))  # one trial: no SEM
    with pytest.raises(InvalidArgumentError, match="one label per trial"):
        trial_average(tensor, ["a"])


# ----------------------------------------------------------------------------- statistics
@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=60))
def test_property_benjamini_hochberg_equals_scipy(p):
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p),
                               rtol=1e-12, atol=0)


def test_benjamini_hochberg_leaves_nan_out():
    p = np.array([0.01, np.nan, 0.04, 0.03])
    q = benjamini_hochberg(p)
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3]], stats.false_discovery_control([0.01, 0.04, 0.03]))


def _response_tensor(seed=0, trials=20, neurons=30, responders=(0, 1, 2), amplitude=1.0):
    rng = np.random.default_rng(seed)
    time = np.arange(-10, 20) / 10.0
    tensor = rng.normal(0, 0.3, (trials, neurons, time.size))
    tensor[:, list(responders), 10:15] += amplitude
    return tensor, time


def test_responsive_neurons_finds_the_responders_and_matches_scipy():
    tensor, time = _response_tensor()
    table = responsive_neurons(tensor, (-1.0, 0.0), (0.0, 0.5), time_s=time,
                               ids=np.arange(100, 130))
    assert list(table.columns) == ["condition", "neuron", "n_trials", "baseline", "response",
                                   "delta", "effect_size", "statistic", "p_value", "q_value",
                                   "responsive"]
    found = set(table.loc[table.responsive, "neuron"])
    # the three responders, and at most one false discovery among 27 null neurons at FDR 5 %
    assert {100, 101, 102} <= found and len(found) <= 4
    # independent reference: window means by hand, scipy's test and FDR
    b = tensor[:, :, :10].mean(axis=2)
    r = tensor[:, :, 10:15].mean(axis=2)
    p = [stats.wilcoxon(r[:, i] - b[:, i]).pvalue for i in range(30)]
    np.testing.assert_allclose(table.p_value, p)
    np.testing.assert_allclose(table.q_value, stats.false_discovery_control(p))
    d = r - b
    np.testing.assert_allclose(table.effect_size, d.mean(0) / d.std(0, ddof=1))
    np.testing.assert_allclose(table.delta, d.mean(0))


def test_responsive_neurons_per_condition_and_direction():
    tensor, time = _response_tensor(trials=24)
    conditions = np.array(["on", "off"] * 12)
    tensor[conditions == "off"] = np.random.default_rng(9).normal(0, 0.3, (12, 30, 30))
    tensor[conditions == "off", 5, 10:15] -= 1.0  # suppressed by "off"
    table = responsive_neurons(tensor, (-1, 0), (0, 0.5), time_s=time, conditions=conditions)
    assert list(dict.fromkeys(table.condition)) == ["on", "off"]
    on = table[table.condition == "on"]
    off = table[table.condition == "off"]
    assert set(on.loc[on.responsive, "neuron"]) == {0, 1, 2}
    assert set(off.loc[off.responsive, "neuron"]) == {5}
    assert (off.loc[off.neuron == 5, "effect_size"] < 0).all()
    greater = responsive_neurons(tensor, (-1, 0), (0, 0.5), time_s=time,
                                 conditions=conditions, alternative="greater")
    assert not greater[(greater.condition == "off") & (greater.neuron == 5)].responsive.any()


def test_responsive_neurons_nan_trials_and_untestable_neurons():
    tensor, time = _response_tensor(trials=12, neurons=3)
    tensor[:3, 0, :] = np.nan  # trials without data for neuron 0
    tensor[:, 2, :] = 0.0  # a constant neuron: no differences to test
    table = responsive_neurons(tensor, (-1, 0), (0, 0.5), time_s=time)
    assert list(table.n_trials) == [9, 12, 12]
    assert np.isnan(table.p_value[2]) and not table.responsive[2]
    assert np.isnan(table.effect_size[2])


def test_responsive_neurons_bad_windows():
    tensor, time = _response_tensor(neurons=3)
    with pytest.raises(InvalidArgumentError, match="holds no frame"):
        responsive_neurons(tensor, (-5, -4), (0, 1), time_s=time)
    with pytest.raises(InvalidArgumentError, match="stop > start"):
        responsive_neurons(tensor, (0, -1), (0, 1), time_s=time)
    with pytest.raises(InvalidArgumentError, match="time_s"):
        responsive_neurons(tensor, (-1, 0), (0, 1), time_s=time[:-1])
    with pytest.raises(InvalidArgumentError, match="alternative"):
        responsive_neurons(tensor, (-1, 0), (0, 1), time_s=time, alternative="up")
