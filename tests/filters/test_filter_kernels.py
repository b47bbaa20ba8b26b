"""Numba kernels against scipy.ndimage: exact median, gaussian within 1 unit / 1e-5."""
from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from CalSciPy._filters.cpu import gaussian_cpu, median_cpu, reflect_indices
from CalSciPy._smoothing import gaussian_kernel as gaussian_kernel1d

CUBE = np.ones((3, 3, 3))
KERNEL_SETTINGS = settings(max_examples=60, deadline=None,
                           suppress_health_check=[HealthCheck.too_slow])

shapes = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=9)


@given(n=st.integers(1, 12), radius=st.integers(0, 30))
@settings(max_examples=80, deadline=None)
def test_reflect_indices_match_scipy(n, radius):
    # correlate a ramp with a one-hot kernel at each offset: scipy reads index i+offset
    ramp = np.arange(n, dtype=np.float64)
    indices = reflect_indices(n, radius)
    for offset in range(-radius, radius + 1):
        weights = np.zeros(2 * radius + 1)
        weights[radius + offset] = 1.0
        shifted = ndi.correlate1d(ramp, weights, mode="reflect")
        assert np.array_equal(shifted, indices[radius + offset:radius + offset + n])


@given(images=hnp.arrays(np.uint16, shapes, elements=st.integers(0, 6)))
@KERNEL_SETTINGS
def test_median_uint16_with_ties(images):
    assert np.array_equal(median_cpu(images, CUBE),
                          ndi.median_filter(images, size=3, mode="reflect"))


@given(images=hnp.arrays(np.float32, shapes,
                         elements=st.floats(-1e6, 1e6, width=32, allow_subnormal=False)))
@KERNEL_SETTINGS
def test_median_float32(images):
    assert np.array_equal(median_cpu(images, CUBE),
                          ndi.median_filter(images, size=3, mode="reflect"))


def test_median_extreme_values():
    rng = np.random.default_rng(3)
    ints = rng.choice(np.array([0, 1, 65534, 65535], np.uint16), (6, 7, 8))
    assert np.array_equal(median_cpu(ints, CUBE), ndi.median_filter(ints, size=3))
    floats = rng.choice(np.array([-np.inf, -1.0, 0.0, 2.5, np.inf], np.float32), (6, 7, 8))
    assert np.array_equal(median_cpu(floats, CUBE), ndi.median_filter(floats, size=3))


def test_median_non_contiguous_input():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 100, (8, 12, 20)).astype(np.uint16)[:, ::2, ::3]
    assert np.array_equal(median_cpu(images, CUBE), ndi.median_filter(images, size=3))


def test_gaussian_kernel_is_scipys():
    weights = gaussian_kernel1d(1.0, 4.0)
    assert weights.size == 9
    impulse = np.zeros(21)
    impulse[10] = 1.0
    assert np.allclose(ndi.gaussian_filter1d(impulse, 1.0)[6:15], weights[::-1], atol=1e-15)
    assert np.array_equal(gaussian_kernel1d(0.0, 4.0), [1.0])


@given(
    images=hnp.arrays(np.uint16, shapes, elements=st.integers(0, 65535)),
    sigma=st.tuples(*[st.floats(0.0, 2.5)] * 3),
)
@KERNEL_SETTINGS
def test_gaussian_uint16_truncates_per_axis(images, sigma):
    # like scipy, each of the 3 axes truncates (loses < 1 unit): exact - 3 < ours <= exact
    ours = gaussian_cpu(images, sigma, 4.0)
    exact = ndi.gaussian_filter(images.astype(np.float64), sigma, mode="reflect")
    assert ours.dtype == np.uint16
    assert np.all(ours <= exact * (1 + 1e-5) + 1e-3)
    assert np.all(ours > exact - 3)


def test_gaussian_uint16_sigma_one_within_one_unit_of_scipy():
    rng = np.random.default_rng(6)
    for shape in [(1, 1, 1), (2, 3, 4), (9, 31, 40)]:
        images = rng.integers(0, 65536, shape).astype(np.uint16)
        ours = gaussian_cpu(images, (1.0, 1.0, 1.0), 4.0)
        ref = ndi.gaussian_filter(images, 1.0, mode="reflect")
        assert np.abs(ours.astype(np.int64) - ref).max() <= 1


@given(value=st.integers(-32768, 32767), sigma=st.floats(0.1, 3.0))
@settings(max_examples=40, deadline=None)
def test_gaussian_keeps_flat_integer_stacks_flat(value, sigma):
    # scipy's float64 truncation turns a flat 1000 into 997 for some sigma; ours must not
    images = np.full((4, 5, 6), value, np.int16)
    assert np.array_equal(gaussian_cpu(images, (sigma,) * 3, 4.0), images)


@given(
    images=hnp.arrays(np.float32, shapes, elements=st.floats(-1e4, 1e4, width=32)),
    sigma=st.tuples(*[st.floats(0.0, 2.5)] * 3),
)
@KERNEL_SETTINGS
def test_gaussian_float32_relative(images, sigma):
    ours = gaussian_cpu(images, sigma, 4.0)
    ref = ndi.gaussian_filter(images, sigma, mode="reflect")
    assert ours.dtype == np.float32
    scale = max(1.0, float(np.abs(images).max()))
    assert np.abs(ours.astype(np.float64) - ref).max() <= 1e-5 * scale


def test_unsupported_dtype_falls_back_to_scipy():
    images = (np.random.default_rng(5).random((4, 5, 6)) > 0.5)
    assert np.array_equal(median_cpu(images, CUBE), ndi.median_filter(images, size=3))


def test_float16_goes_through_float32():
    images = np.random.default_rng(8).random((5, 6, 7)).astype(np.float16)
    median = median_cpu(images, CUBE)
    assert median.dtype == np.float16
    assert np.array_equal(median, ndi.median_filter(images.astype(np.float32), size=3))
    gauss = gaussian_cpu(images, (1.0, 1.0, 1.0), 4.0)
    assert gauss.dtype == np.float16
    ref = ndi.gaussian_filter(images.astype(np.float32), 1.0)
    assert np.allclose(gauss, ref, rtol=1e-3, atol=1e-3)


def test_gaussian_wide_integers_are_not_pushed_up():
    # the float-noise snap must stay far below one unit for 32-bit values (a float32-sized
    # margin turned a flat 10_000_000 into 10_000_027)
    for dtype, value in [(np.int32, 10_000_000), (np.uint32, 3_000_000_000),
                         (np.int64, 123_456_789_012)]:
        images = np.full((3, 4, 5), value, dtype)
        assert np.array_equal(gaussian_cpu(images, (1.0, 1.0, 1.0), 4.0), images)
    rng = np.random.default_rng(9)
    images = rng.integers(2_000_000_000, 4_000_000_000, (4, 6, 7)).astype(np.uint32)
    ref = ndi.gaussian_filter(images, 1.0, mode="reflect")
    assert np.abs(gaussian_cpu(images, (1.0,) * 3, 4.0).astype(np.int64) - ref).max() <= 1


_INT_DTYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")


@st.composite
def _constant_stacks(draw):
    dtype = np.dtype(draw(st.sampled_from(_INT_DTYPES)))
    info = np.iinfo(dtype)
    value = draw(st.integers(int(info.min), int(info.max))
                 | st.sampled_from([int(info.min), int(info.max), 10**15 % int(info.max)]))
    shape = draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6))
    return np.full(shape, value, dtype)


@given(images=_constant_stacks(), sigma=st.tuples(*[st.floats(0.0, 3.0)] * 3))
@settings(max_examples=40, deadline=None)
def test_gaussian_constant_stays_constant_for_every_integer_dtype(images, sigma):
    # issue 12.10: a constant int64 image of 10**15 came back as 10**15 + 681
    assert np.array_equal(gaussian_cpu(images, sigma, 4.0), images)


def test_gaussian_large_int64_plateau_in_a_varying_stack():
    # not the constant shortcut: a flat 10**15 region next to other values stays flat inside
    images = np.full((9, 12, 12), 10**15, np.int64)
    images[:, :, :2] = 10**15 - 1000
    result = gaussian_cpu(images, (1.0, 1.0, 1.0), 4.0)
    assert np.array_equal(result[:, :, 8:], images[:, :, 8:])
    ref = ndi.gaussian_filter(images, 1.0, mode="reflect")
    assert np.abs(result - ref).max() <= 1
