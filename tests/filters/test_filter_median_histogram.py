"""The sliding-histogram median (any footprint) against scipy.ndimage.median_filter: identical."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from CalSciPy._filters.cpu import median_cpu
from CalSciPy._filters.median import HISTOGRAM_DTYPES, median_histogram

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
shapes = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=8)
footprints = hnp.arrays(bool, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=5),
                        elements=st.booleans()).filter(lambda f: f.any())


def _scipy(images, footprint):
    return ndi.median_filter(images, footprint=footprint, mode="reflect")


def _values(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        info = np.finfo(dtype)
        return st.floats(float(info.min), float(info.max), width=8 * dtype.itemsize,
                         allow_nan=False) | st.sampled_from([0.0, -0.0, 1.5, -2.25])
    info = np.iinfo(dtype)
    # scipy takes 64-bit integers through float64: compare where that is exact (2**53)
    low, high = max(int(info.min), -2**53), min(int(info.max), 2**53)
    # extremes and a narrow band: both wide ranges (shifted bins) and ties
    return st.integers(low, high) | st.integers(max(low, -3), min(high, 5))


@st.composite
def _cases(draw):
    dtype = draw(st.sampled_from(HISTOGRAM_DTYPES))
    images = draw(hnp.arrays(dtype, shapes, elements=_values(dtype)))
    return images, draw(footprints)


@given(case=_cases())
@SETTINGS
def test_identical_to_scipy_for_any_footprint_and_dtype(case):
    images, footprint = case
    ours = median_histogram(images, footprint)
    assert ours.dtype == images.dtype
    assert np.array_equal(ours, _scipy(images, footprint))


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.int16, np.float64, np.uint8,
                                   np.int64])
@pytest.mark.parametrize("shape", [(5, 5, 5), (3, 5, 5), (7, 7, 7), (1, 5, 5), (2, 4, 6)])
def test_boxes_on_noisy_data(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    images = 200 + 30 * rng.standard_normal((9, 17, 23))
    if np.dtype(dtype).kind != "f":
        images = np.clip(images, 0, 255 if dtype == np.uint8 else None)
    images = images.astype(dtype)
    footprint = np.ones(shape, bool)
    assert np.array_equal(median_histogram(images, footprint), _scipy(images, footprint))


def test_ball_footprint_and_sparse_values():
    z, y, x = np.mgrid[-2:3, -2:3, -2:3]
    ball = z ** 2 + y ** 2 + x ** 2 <= 4
    rng = np.random.default_rng(1)
    # values far apart (empty histogram blocks to skip) and a wide float range
    sparse = rng.choice(np.array([0, 300, 40000, 65535], np.uint16), (6, 10, 12))
    assert np.array_equal(median_histogram(sparse, ball), _scipy(sparse, ball))
    wide = (rng.standard_normal((6, 10, 12)) * 10.0 ** rng.integers(-30, 30, (6, 10, 12)))
    assert np.array_equal(median_histogram(wide, ball), _scipy(wide, ball))
    assert np.array_equal(median_histogram(wide.astype(np.float32), ball),
                          _scipy(wide.astype(np.float32), ball))


def test_infinities_and_constant_stacks():
    images = np.full((4, 6, 7), -np.inf, np.float32)
    images[:, ::2] = np.inf
    images[1, 2, 3] = 0.0
    fp = np.ones((3, 5, 5), bool)
    assert np.array_equal(median_histogram(images, fp), _scipy(images, fp))
    flat = np.full((4, 6, 7), 7, np.int32)
    assert np.array_equal(median_histogram(flat, fp), flat)


def test_median_cpu_routes_footprints():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 4000, (6, 9, 10)).astype(np.uint16)
    for footprint in (np.ones((5, 5, 5)), np.ones((3, 3, 3)), np.ones((1, 3, 3))):
        assert np.array_equal(median_cpu(images, footprint),
                              ndi.median_filter(images, footprint=footprint, mode="reflect"))
    with pytest.warns(RuntimeWarning, match="NaN"):
        median_cpu(np.full((3, 4, 5), np.nan, np.float32), np.ones((1, 5, 5)))


def test_64_bit_integers_stay_exact():
    # scipy rounds these through float64; the median of a window is one of its values
    rng = np.random.default_rng(5)
    for dtype in (np.int64, np.uint64):
        info = np.iinfo(dtype)
        images = rng.integers(info.min, info.max, (2, 3, 9), endpoint=True, dtype=dtype)
        footprint = np.ones((1, 1, 3), bool)
        padded = np.pad(images, ((0, 0), (0, 0), (1, 1)), mode="symmetric")
        windows = np.lib.stride_tricks.sliding_window_view(padded, 3, axis=2)
        assert np.array_equal(median_histogram(images, footprint),
                              np.sort(windows, axis=-1)[..., 1])


def test_bins_built_chunk_by_chunk_give_the_same_result(monkeypatch):
    from CalSciPy._filters import median as module

    monkeypatch.setattr(module, "_CHUNK_BYTES", 1)  # one frame per chunk
    rng = np.random.default_rng(11)
    images = (100 * rng.standard_normal((7, 6, 5))).astype(np.float32)
    for footprint in (np.ones((5, 3, 3), bool), np.ones((9, 1, 1), bool)):
        assert np.array_equal(median_histogram(images, footprint), _scipy(images, footprint))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint64])
@pytest.mark.parametrize("shape", [(3, 3, 5), (5, 5, 5)])
def test_crowded_bins_select_inside_the_bin(dtype, shape, monkeypatch):
    # coarse bins hold many of a window's values: the median sits at every rank inside its
    # bin, not only at the bin's ends (which the smallest / largest value answer)
    from CalSciPy._filters import median as module

    monkeypatch.setattr(module, "FLOAT_BITS", 2)
    rng = np.random.default_rng(len(shape) + shape[-1])
    noise = rng.standard_normal((6, 9, 11))
    if np.dtype(dtype).kind == "f":
        images = (1000 + 50 * noise).astype(dtype)
    else:  # a 2**(b + 16) range: 16-bit bins 2**b wide, the window's spread a few bins
        b = 14 if dtype == np.int32 else 24
        images = (2**(b + 15) + 2**(b + 2) * noise).astype(dtype)
        images[0, 0, 0] = 0
        images[-1, -1, -1] = 2**(b + 16)
    footprint = np.ones(shape, bool)
    assert np.array_equal(median_histogram(images, footprint), _scipy(images, footprint))
