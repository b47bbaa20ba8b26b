"""The gaussian CPU kernel against scipy, and its grouped outputs against single ones."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from CalSciPy._filters import cpu
from CalSciPy._filters.cpu import gaussian_cpu
from CalSciPy.image_processing import gaussian_filter

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

_DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")


@st.composite
def _stacks(draw):
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=14))
    if dtype.kind == "f":
        elements = st.floats(-1e4, 1e4, width=8 * dtype.itemsize, allow_subnormal=False)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(max(info.min, -10**6)), int(min(info.max, 10**6)))
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _check_against_scipy(ours, images, sigma, truncate, strict=False):
    ref = ndi.gaussian_filter(images, sigma, mode="reflect", truncate=truncate)
    assert ours.dtype == images.dtype and ours.shape == images.shape
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    if images.dtype.kind in "iu":
        # like scipy, every axis truncates toward zero (moves < 1 unit)
        exact = ndi.gaussian_filter(images.astype(np.float64), sigma, mode="reflect",
                                    truncate=truncate)
        assert np.all(np.abs(ours - exact) < 3 + 1e-5 * np.abs(exact) + 1e-3)
        # scipy's float64 kernel for some sigma sums to slightly below 1, so on flat
        # stretches it loses a unit per axis (a 1x1 image of 46 becomes 44); ours keeps the
        # value there, otherwise ours and scipy are within 1 unit
        assert diff.max(initial=0) <= (1 if strict else 3)
    else:
        scale = max(1.0, float(np.abs(images).max()))
        rtol = 1e-5 if images.dtype == np.float32 else 1e-12
        assert diff.max(initial=0) <= rtol * scale


# the first example compiles the numba kernels of every dtype the strategy draws (no cache in
# a fresh checkout): on a contended 2-core machine that alone took over the 300 s default
@pytest.mark.timeout(1200)
@given(images=_stacks(), sigma=st.tuples(*[st.floats(0.0, 3.0)] * 3),
       truncate=st.floats(0.5, 4.0))
@SETTINGS
def test_grouped_and_single_rows_are_identical_and_match_scipy(images, sigma, truncate):
    grouped = gaussian_cpu(images, sigma, truncate, row_quads=True)
    single = gaussian_cpu(images, sigma, truncate, row_quads=False)
    assert np.array_equal(grouped, single, equal_nan=True)
    _check_against_scipy(grouped, images, sigma, truncate)


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
@pytest.mark.parametrize("sigma", [1.0, 3.0, (1.0, 2.0, 0.5), (0.0, 1.0, 1.0)])
def test_movie_sized_frames_match_scipy(dtype, sigma):
    # wide frames: several bands per thread, frame and row counts that are not multiples of
    # four (single outputs after the groups of four)
    rng = np.random.default_rng(11)
    background = 800 + 400 * np.sin(np.arange(150) / 20.0)
    images = rng.poisson(background[None, None, :], size=(7, 91, 150)).astype(dtype)
    sigmas = (sigma,) * 3 if np.isscalar(sigma) else sigma
    ours = gaussian_cpu(images, sigmas, 4.0)
    assert np.array_equal(ours, gaussian_cpu(images, sigmas, 4.0, row_quads=True))
    assert np.array_equal(ours, gaussian_cpu(images, sigmas, 4.0, row_quads=False))
    _check_against_scipy(ours, images, sigma, 4.0, strict=True)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32", "float32", "float64"])
@pytest.mark.parametrize("radius", [0, 1, 2, 3, 4, 5, 7, 8, 12, 21])
def test_four_grouped_outputs_equal_four_single_outputs_bit_for_bit(dtype, radius):
    # the grouped kernel shares row loads between neighbouring outputs; each output's sum
    # must still be computed exactly as the single kernel does (same tap groups, same
    # order), which is what makes the result independent of where groups start
    rng = np.random.default_rng(radius)
    rows = (rng.random((29, 2, 37)) * 4000).astype(dtype)
    work = np.float64 if np.dtype(dtype).itemsize > 4 or dtype == "int32" else np.float32
    weights = rng.random(radius + 1).astype(work)
    index = cpu.reflect_indices(rows.shape[0], radius + 3)
    for centre in range(rows.shape[0] - 3):
        offset = centre + radius + 3
        grouped = np.empty((4, 37), work)
        cpu._correlate_row_quad(weights, grouped[0], grouped[1], grouped[2], grouped[3],
                                rows, 1, index, offset, work)
        for j in range(4):
            single = np.empty(37, work)
            cpu._correlate_rows(weights, single, rows, 1, index, offset + j, work)
            assert np.array_equal(grouped[j], single)
            at = offset + j
            expected = weights[0] * rows[index[at], 1].astype(np.float64) + sum(
                weights[k] * (rows[index[at - k], 1].astype(np.float64)
                              + rows[index[at + k], 1].astype(np.float64))
                for k in range(1, radius + 1))
            assert np.allclose(grouped[j], expected,
                               rtol=1e-5 if work == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64", "uint16"])
@pytest.mark.parametrize("frames", [1, 3, 4, 9])
def test_streaming_stores_change_no_value(monkeypatch, dtype, frames):
    # large float stacks write the frame pass with streaming stores; forced on here for
    # small ones (rows of 61 values: a plain head and tail around the aligned blocks)
    rng = np.random.default_rng(frames)
    images = (rng.random((frames, 21, 61)) * 3000).astype(dtype)
    monkeypatch.setattr(cpu, "_STREAM_MIN_BYTES", 2**62)
    plain = gaussian_cpu(images, (1.5, 1.0, 2.0), 4.0)
    monkeypatch.setattr(cpu, "_STREAM_MIN_BYTES", 0)
    streamed = gaussian_cpu(images, (1.5, 1.0, 2.0), 4.0)
    assert np.array_equal(plain, streamed)
    _check_against_scipy(streamed, images, (1.5, 1.0, 2.0), 4.0, strict=True)
    if dtype != "uint16":  # streamed outputs are allocated on a 64-byte boundary
        assert streamed.ctypes.data % 64 == 0
    assert streamed.flags.c_contiguous and streamed.flags.writeable
    assert streamed.shape == images.shape and streamed.dtype == images.dtype


@pytest.mark.parametrize("dtype", ["float32", "uint16", "float64"])
def test_results_do_not_depend_on_where_the_input_lies(dtype):
    # the frame pass splits each row where the input's loads reach a 32-byte boundary,
    # which depends on the array's address: every placement must give the same bits
    rng = np.random.default_rng(7)
    shape = (9, 5, 64)
    values = (rng.random(shape) * 3000).astype(dtype)
    size = values.size
    buffer = np.empty(size + 64, dtype)
    expected = gaussian_cpu(values, (2.0, 1.0, 1.0), 4.0)
    _check_against_scipy(expected, values, (2.0, 1.0, 1.0), 4.0, strict=True)
    for offset in range(1, 33 // np.dtype(dtype).itemsize + 1):
        placed = buffer[offset:offset + size].reshape(shape)
        placed[...] = values
        assert np.array_equal(gaussian_cpu(placed, (2.0, 1.0, 1.0), 4.0), expected)


def test_only_large_float_stacks_stream(monkeypatch):
    calls = []
    real = cpu._gaussian_frames
    monkeypatch.setattr(cpu, "_gaussian_frames", lambda *a: calls.append(a[-1]) or real(*a))
    monkeypatch.setattr(cpu, "_STREAM_MIN_BYTES", 4 * 6 * 60 * 4)
    rng = np.random.default_rng(5)
    for shape, dtype in (((4, 6, 60), np.float32), ((4, 6, 59), np.float32),
                         ((4, 6, 60), np.uint16), ((4, 6, 60), np.float64)):
        images = (rng.random(shape) * 1000).astype(dtype)
        _check_against_scipy(gaussian_cpu(images, (1.0, 1.0, 1.0), 4.0), images,
                             (1.0, 1.0, 1.0), 4.0, strict=True)
    # float32 at the threshold, float32 below it, an integer stack, float64 above it
    assert calls == [True, False, False, True]


def test_scipy_losing_units_on_a_flat_image_is_not_copied():
    # the case hypothesis found: scipy's weights for sigma 1.9375, truncate 3 sum below 1
    images = np.full((1, 1, 1), 46, np.uint8)
    ref = ndi.gaussian_filter(images, (0.0, 1.0, 1.9375), mode="reflect", truncate=3.0)
    assert ref[0, 0, 0] == 44
    for quads in (True, False):
        assert gaussian_cpu(images, (0.0, 1.0, 1.9375), 3.0, row_quads=quads)[0, 0, 0] == 46


def test_rows_go_four_at_a_time_where_the_y_window_is_wide(monkeypatch):
    calls = []
    real = cpu._gaussian_planes
    monkeypatch.setattr(cpu, "_gaussian_planes", lambda *a: calls.append(a[-1]) or real(*a))
    images = np.random.default_rng(2).integers(0, 4000, (5, 64, 80)).astype(np.uint16)
    gaussian_cpu(images, (1.0, 1.0, 1.0), 4.0)  # r_y = 4
    gaussian_cpu(images, (1.0, 3.0, 1.0), 4.0)  # r_y = 12
    assert calls == [False, True]


def test_float32_nan_and_inf_propagate_like_scipy():
    images = np.random.default_rng(3).random((5, 12, 13)).astype(np.float32)
    images[2, 6, 6] = np.nan
    images[4, 0, 12] = np.inf
    for sigma in ((1.0, 1.0, 1.0), (3.0, 3.0, 3.0)):
        ours = gaussian_cpu(images, sigma, 4.0)
        ref = ndi.gaussian_filter(images, sigma, mode="reflect")
        assert np.array_equal(np.isnan(ours), np.isnan(ref))
        assert np.array_equal(np.isinf(ours), np.isinf(ref))
        finite = np.isfinite(ref)
        assert np.allclose(ours[finite], ref[finite], rtol=1e-5, atol=1e-6)


def test_public_filter_uses_the_kernels_and_keeps_2d_images():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 60000, (40, 50)).astype(np.uint16)
    result = gaussian_filter(image, 2.0)
    assert result.shape == image.shape and result.dtype == np.uint16
    ref = ndi.gaussian_filter(image[None], 2.0, mode="reflect")[0]
    assert np.abs(result.astype(np.int64) - ref).max() <= 1
