"""The compiled peak finder against ``scipy.signal.find_peaks`` (distance + prominence)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.signal import find_peaks

from CalSciPy._peaks import find_peaks_exact


def scipy_peaks(x, distance, prominence):
    return find_peaks(x, distance=distance, prominence=prominence)[0]


# small integer-valued signals: plenty of plateaus, equal heights and equal prominences
signals = arrays(np.float64, st.integers(0, 80), elements=st.integers(-3, 3).map(float))


@settings(max_examples=400, deadline=None)
@given(x=signals, distance=st.integers(1, 12),
       prominence=st.sampled_from([0.0, 0.5, 1.0, 2.0, 7.0]))
def test_equals_scipy_on_plateaus_and_ties(x, distance, prominence):
    got = find_peaks_exact(np.ascontiguousarray(x), distance, prominence)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, scipy_peaks(x, distance, prominence))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 3000), distance=st.integers(1, 40))
def test_equals_scipy_on_smooth_noisy_traces(seed, n, distance):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=n)) + rng.normal(scale=0.3, size=n)
    prominence = float(np.std(x) / 2)
    np.testing.assert_array_equal(find_peaks_exact(x, distance, prominence),
                                  scipy_peaks(x, distance, prominence))


def test_known_answer():
    # peaks at 2 (height 3, prominence 3) and 6 (plateau 5..7, middle 6, prominence 1.5);
    # a distance of 5 keeps only the higher one
    x = np.array([0, 1, 3, 1, 2, 2.5, 2.5, 2.5, 0], dtype=np.float64)
    np.testing.assert_array_equal(find_peaks_exact(x, 1, 0.0), [2, 6])
    np.testing.assert_array_equal(find_peaks_exact(x, 1, 2.0), [2])
    np.testing.assert_array_equal(find_peaks_exact(x, 5, 0.0), [2])


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_short_for_a_peak(n):
    assert find_peaks_exact(np.zeros(n), 1, 0.0).size == 0
