"""Tests for CalSciPy.coloring: palette, colormaps and display-contrast helpers."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from CalSciPy import coloring
from CalSciPy.coloring import cutoff_images, get_colormap, rescale_images


def test_palette_is_distinct_hex_colours_and_matches_style_cycle():
    import matplotlib.style

    from CalSciPy.interactive_visuals import STYLE

    assert len(set(coloring.PALETTE)) == len(coloring.PALETTE) >= 6
    assert all(c.startswith("#") and len(c) == 7 for c in coloring.PALETTE)
    assert STYLE.is_file()
    with matplotlib.style.context(str(STYLE)):
        import matplotlib

        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    assert [c.upper() for c in cycle] == [c.upper() for c in coloring.PALETTE]
    assert coloring.get_color(len(coloring.PALETTE)) == coloring.PALETTE[0]


def test_colormaps_build_reverse_and_register():
    import matplotlib

    cmap = get_colormap("calscipy_fluorescence")
    assert cmap.name == "calscipy_fluorescence"
    np.testing.assert_allclose(cmap(0.0)[:3], (0, 0, 0))
    np.testing.assert_allclose(cmap(1.0)[:3], (1, 1, 1))
    np.testing.assert_allclose(get_colormap("fluorescence_r")(0.0)[:3], (1, 1, 1))
    names = coloring.register_colormaps()
    assert coloring.register_colormaps() == names  # idempotent
    for name in coloring.COLORMAPS:
        assert name in matplotlib.colormaps and f"{name}_r" in matplotlib.colormaps
    with pytest.raises(ValueError, match="valid names"):
        get_colormap("nope")


def test_import_does_not_import_pyplot():
    code = (
        "import sys, CalSciPy.coloring, CalSciPy.interactive_visuals;"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported';"
        "import matplotlib; assert matplotlib.get_backend() is not None"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cutoff_images_clips_to_percentiles_and_preserves_input():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(4, 16, 16)).astype(np.float32)
    original = images.copy()
    out = cutoff_images(images, (5, 95))
    low, high = np.percentile(images, [5, 95])
    np.testing.assert_allclose(out, np.clip(images, low, high), rtol=1e-6)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(images, original)


def test_cutoff_images_per_frame_and_in_place():
    images = np.stack([np.arange(100.0).reshape(10, 10), np.arange(100.0).reshape(10, 10) * 10])
    result = cutoff_images(images, (0, 50), in_place=True, per_frame=True)
    assert result is images
    assert images[0].max() == pytest.approx(np.percentile(np.arange(100.0), 50))
    assert images[1].max() == pytest.approx(np.percentile(np.arange(100.0) * 10, 50))


def test_cutoff_images_integer_stays_integer_and_nan_ignored():
    images = np.arange(101, dtype=np.uint16).reshape(1, 1, 101)
    out = cutoff_images(images, (10, 90))
    assert out.dtype == np.uint16
    assert out.min() == 10 and out.max() == 90
    floats = np.array([[np.nan, 0.0, 1.0, 2.0, 3.0, 4.0]])
    clipped = cutoff_images(floats, (0, 50))
    assert np.isnan(clipped[0, 0])
    assert np.nanmax(clipped) == pytest.approx(2.0)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"cutoffs": (50, 10)}, ValueError),
        ({"cutoffs": (-1, 10)}, ValueError),
        ({"cutoffs": (1,)}, ValueError),
    ],
)
def test_cutoff_images_rejects_bad_cutoffs(kwargs, error):
    with pytest.raises(error):
        cutoff_images(np.ones((2, 3, 3)), **kwargs)


def test_cutoff_and_rescale_reject_empty_non_numeric_read_only():
    for func in (cutoff_images, rescale_images):
        with pytest.raises(ValueError, match="empty"):
            func(np.zeros((0, 4, 4)))
        with pytest.raises(TypeError):
            func(np.array([["a", "b"]]))
        frozen = np.ones((2, 2, 2))
        frozen.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            func(frozen, in_place=True)
    with pytest.raises(ValueError, match="per_frame"):
        cutoff_images(np.ones(5), per_frame=True)


def test_rescale_images_maps_min_max_to_range():
    images = np.array([[[2.0, 4.0], [6.0, 10.0]]])
    out = rescale_images(images, -1.0, 1.0)
    np.testing.assert_allclose(out, [[[-1.0, -0.5], [0.0, 1.0]]])
    assert out.dtype == np.float64


def test_rescale_images_integer_input_returns_float64_and_uint8_option():
    images = np.array([[0, 128, 255, 1000]], dtype=np.uint16)
    out = rescale_images(images)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, images / 1000.0)
    as_bytes = rescale_images(images, 0, 255, dtype=np.uint8)
    assert as_bytes.dtype == np.uint8
    np.testing.assert_array_equal(as_bytes, np.rint(images / 1000.0 * 255).astype(np.uint8))
    with pytest.raises(TypeError, match="in_place"):
        rescale_images(images, in_place=True)
    with pytest.raises(TypeError, match="dtype"):
        rescale_images(images.astype(np.float32), in_place=True, dtype=np.uint8)


def test_rescale_images_in_place_per_frame_constant_and_nan():
    images = np.array([[[1.0, 3.0]], [[5.0, 5.0]], [[np.nan, 2.0]]], dtype=np.float32)
    result = rescale_images(images, in_place=True, per_frame=True)
    assert result is images and images.dtype == np.float32
    np.testing.assert_allclose(images[0], [[0.0, 1.0]])
    np.testing.assert_allclose(images[1], [[0.0, 0.0]])  # constant frame → low, no NaN
    assert np.isnan(images[2, 0, 0]) and images[2, 0, 1] == 0.0
    with pytest.raises(ValueError, match="low < high"):
        rescale_images(np.ones(3), 1.0, 1.0)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
           elements=st.floats(-1e6, 1e6)),
    st.floats(-10, 10),
    st.floats(0.1, 10),
)
def test_rescale_images_property_range(images, low, width):
    out = rescale_images(images, low, low + width)
    assert out.shape == images.shape
    assert np.all(out >= low - 1e-9 * max(1, abs(low))) and np.all(out <= low + width + 1e-6)
    if np.ptp(images) > 0:
        assert out.min() == pytest.approx(low, abs=1e-6)
        assert out.max() == pytest.approx(low + width, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.int32, st.tuples(st.integers(1, 3), st.integers(1, 8)),
           elements=st.integers(-1000, 1000)),
    st.floats(0, 50),
    st.floats(50, 100),
)
def test_cutoff_images_property_bounds(images, low, high):
    out = cutoff_images(images, (low, high))
    lo, hi = np.percentile(images.astype(float), [low, high])
    assert out.dtype == images.dtype
    assert out.min() >= np.rint(lo) and out.max() <= np.rint(hi)


def test_rescale_images_float32_stays_exactly_within_range():
    # float32 rounding of (x - min) * scale + low used to land the maximum an ulp above high
    # (e.g. 0.90000004 for high=0.9) for most random stacks
    for seed in range(20):
        rng = np.random.default_rng(seed)
        images = (rng.random((3, 20, 20)) * (seed + 1) * 7.7 + seed * 13.1).astype(np.float32)
        out = rescale_images(images, low=0.1, high=0.9)
        assert out.dtype == np.float32
        assert out.max() <= np.float32(0.9) and out.min() >= np.float32(0.1)
        assert out.max() == np.float32(0.9) and out.min() == np.float32(0.1)


def test_all_nan_frames_stay_nan_without_warnings():
    images = np.full((2, 3, 3), np.nan, dtype=np.float32)
    images[1] = np.arange(9).reshape(3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clipped = cutoff_images(images, (0, 50), per_frame=True)
        rescaled = rescale_images(images, per_frame=True)
        whole = rescale_images(np.full((2, 2), np.nan))
    assert np.isnan(clipped[0]).all() and np.isnan(rescaled[0]).all() and np.isnan(whole).all()
    np.testing.assert_array_equal(clipped[1], np.minimum(np.arange(9), 4).reshape(3, 3))
    np.testing.assert_allclose(rescaled[1], np.arange(9).reshape(3, 3) / 8)


def test_rescale_images_non_numeric_bounds_name_them():
    with pytest.raises(TypeError, match="low and high"):
        rescale_images(np.ones(3), low="a")


def test_cutoff_images_integer_stack_matches_float_percentiles_per_frame():
    rng = np.random.default_rng(5)
    images = rng.integers(0, 4096, size=(3, 17, 13), dtype=np.uint16)
    out = cutoff_images(images, (2.5, 97.5), per_frame=True)
    assert out.dtype == np.uint16
    for frame, clipped in zip(images, out):
        lo, hi = np.rint(np.percentile(frame.astype(np.float64), [2.5, 97.5]))
        np.testing.assert_array_equal(clipped, np.clip(frame, lo, hi).astype(np.uint16))


def test_get_colormap_rejects_non_string_names():
    with pytest.raises(TypeError, match="string"):
        get_colormap(None)


def test_rescale_images_tiny_subnormal_range_maps_to_low_and_high():
    # (high - low) / 2.2e-311 overflows to inf and 0 * inf gave NaN for the minimum
    images = np.array([[[2.22507386e-311, 0.0]]])
    np.testing.assert_array_equal(rescale_images(images), [[[1.0, 0.0]]])
    np.testing.assert_array_equal(rescale_images(images, per_frame=True), [[[1.0, 0.0]]])
