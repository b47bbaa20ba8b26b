"""``responsive_neurons`` tests many neurons at once: its p-values and statistics must be those
of one ``scipy.stats.wilcoxon`` call per neuron, whatever the ties, zeros, missing trials and
sample sizes (scipy switches between exact, permutation and normal methods on these)."""
from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from CalSciPy.trials import responsive_neurons


def _reference(tensor, base, resp, alternative):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # trials without data: NaN
        b = np.nanmean(tensor[:, :, base], axis=2)
        r = np.nanmean(tensor[:, :, resp], axis=2)
    diff = r - b
    p = np.full(tensor.shape[1], np.nan)
    s = np.full(tensor.shape[1], np.nan)
    for neuron in range(tensor.shape[1]):
        x = diff[np.isfinite(diff[:, neuron]), neuron]
        if x.size >= 2 and np.any(x != 0):
            result = stats.wilcoxon(x, alternative=alternative, zero_method="wilcox")
            s[neuron], p[neuron] = result.statistic, result.pvalue
    return s, p


@settings(max_examples=40, deadline=None)
@given(trials=st.sampled_from([3, 8, 13, 14, 30, 51, 70]), neurons=st.integers(1, 12),
       seed=st.integers(0, 2**32 - 1), rounding=st.sampled_from([None, 1, 0]),
       missing=st.floats(0.0, 0.3), alternative=st.sampled_from(["two-sided", "greater",
                                                                  "less"]))
def test_p_values_and_statistics_are_scipy_s_per_neuron(trials, neurons, seed, rounding,
                                                        missing, alternative):
    rng = np.random.default_rng(seed)
    time = np.arange(-3, 3) / 3.0  # 3 baseline, 3 response frames
    tensor = rng.normal(size=(trials, neurons, time.size)) + rng.normal(size=neurons)[:, None]
    if rounding is not None:  # ties and exact zero differences
        tensor = np.round(tensor * 3, rounding)
    tensor[rng.random((trials, neurons)) < missing] = np.nan  # trials missing per neuron
    tensor[:, rng.random(neurons) < 0.2] = 1.0  # neurons whose differences are all zero
    if trials > 3:
        tensor[: trials // 3] = np.nan  # some trials missing for every neuron (one pattern)
    table = responsive_neurons(tensor, (-1.0, 0.0), (0.0, 1.0), time_s=time,
                               alternative=alternative)
    s, p = _reference(tensor, time < 0, time >= 0, alternative)
    np.testing.assert_allclose(table.p_value, p, rtol=1e-12, atol=0)
    np.testing.assert_allclose(table.statistic, s, rtol=1e-12, atol=0)
    assert np.array_equal(np.isnan(table.p_value), np.isnan(p))


def test_a_batch_mixing_exact_and_tied_neurons():
    # 20 trials: exact for the untied neurons, normal approximation for the tied ones
    rng = np.random.default_rng(1)
    time = np.array([-1.0, 0.0])
    tensor = rng.normal(size=(20, 6, 2))
    tensor[:, 3:, :] = np.round(tensor[:, 3:, :])
    table = responsive_neurons(tensor, (-1.0, 0.0), (0.0, 1.0), time_s=time)
    s, p = _reference(tensor, time < 0, time >= 0, "two-sided")
    np.testing.assert_allclose(table.p_value, p, rtol=1e-12, atol=0)
    np.testing.assert_allclose(table.statistic, s, rtol=1e-12, atol=0)
