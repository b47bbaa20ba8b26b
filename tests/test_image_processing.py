"""Documented API of CalSciPy.image_processing: median_filter and gaussian_filter."""
from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi

from CalSciPy._optional import is_available
from CalSciPy.errors import MissingDependencyError
from CalSciPy.image_processing import gaussian_filter, median_filter

RNG = np.random.default_rng(7)


def _stack(shape=(12, 20, 24), dtype=np.uint16, high=4000):
    data = RNG.integers(0, high, shape)
    return data.astype(dtype)


def _close_to_scipy(ours, ref, dtype):
    """At most 1 unit for integers, 1e-5 relative (of the data range) for float32."""
    assert ours.dtype == ref.dtype == np.dtype(dtype)
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    if np.dtype(dtype).kind in "iu":
        assert diff.max() <= 1
    elif np.dtype(dtype) == np.float32:
        assert diff.max() <= 1e-5 * max(1.0, np.abs(ref).max())
    else:
        assert diff.max() <= 1e-10 * max(1.0, np.abs(ref).max())


def test_documented_defaults():
    median = inspect.signature(median_filter).parameters
    assert np.array_equal(median["mask"].default, np.ones((3, 3, 3)))
    assert median["block_size"].default is None
    assert median["block_buffer"].default == 0
    assert median["in_place"].default is False
    gauss = inspect.signature(gaussian_filter).parameters
    assert gauss["sigma"].default == 1.0
    assert gauss["block_size"].default is None
    assert gauss["block_buffer"].default == 0
    assert gauss["in_place"].default is False
    assert median["backend"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32,
                                   np.float64])
def test_median_equals_scipy_reflect(dtype):
    images = _stack(dtype=dtype, high=50)  # many ties
    original = images.copy()
    result = median_filter(images)
    assert result.dtype == np.dtype(dtype)
    assert np.array_equal(result, ndi.median_filter(images, size=3, mode="reflect"))
    assert np.array_equal(images, original)  # input untouched


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32, np.float64])
def test_gaussian_matches_scipy(dtype):
    images = _stack(dtype=dtype)
    if np.dtype(dtype).kind == "f":
        images = images / 7.3 - 100.0
        images = images.astype(dtype)
    result = gaussian_filter(images)
    _close_to_scipy(result, ndi.gaussian_filter(images, 1.0, mode="reflect"), dtype)


def test_gaussian_per_axis_sigma_and_truncate():
    images = _stack(dtype=np.float32)
    result = gaussian_filter(images, sigma=(0.0, 1.5, 0.7), truncate=3.0)
    ref = ndi.gaussian_filter(images, (0.0, 1.5, 0.7), mode="reflect", truncate=3.0)
    _close_to_scipy(result, ref, np.float32)
    # sigma 0 along frames: every frame filtered on its own
    frame = ndi.gaussian_filter(images[3], (1.5, 0.7), mode="reflect", truncate=3.0)
    _close_to_scipy(result[3], frame, np.float32)


def test_other_footprints_match_scipy():
    images = _stack(dtype=np.uint16)
    cross = np.zeros((3, 3, 3), bool)
    cross[1, 1, :] = cross[1, :, 1] = cross[:, 1, 1] = True
    assert np.array_equal(median_filter(images, mask=cross),
                          ndi.median_filter(images, footprint=cross, mode="reflect"))
    wide = np.ones((1, 5, 5))
    assert np.array_equal(median_filter(images, mask=wide),
                          ndi.median_filter(images, size=(1, 5, 5), mode="reflect"))
    # a 2-D mask is a per-frame footprint
    assert np.array_equal(median_filter(images, mask=np.ones((3, 3))),
                          ndi.median_filter(images, size=(1, 3, 3), mode="reflect"))


@pytest.mark.parametrize("filt", [median_filter, gaussian_filter])
def test_in_place_writes_into_input(filt):
    images = _stack()
    expected = filt(images)
    result = filt(images, in_place=True)
    assert result is images
    assert np.array_equal(images, expected)
    blocked = _stack()
    expected = filt(blocked)
    result = filt(blocked, block_size=5, block_buffer=4, in_place=True)
    assert result is blocked
    assert np.array_equal(blocked, expected)


@pytest.mark.parametrize("filt", [median_filter, gaussian_filter])
def test_blocks_with_buffer_equal_whole(filt):
    images = _stack()
    whole = filt(images)
    assert np.array_equal(filt(images, block_size=5, block_buffer=4), whole)
    assert np.array_equal(filt(images, block_size=100), whole)


def test_blocks_without_buffer_have_seams():
    images = _stack()
    blocked = median_filter(images, block_size=4)
    expected = np.concatenate([median_filter(images[k:k + 4]) for k in range(0, 12, 4)])
    assert np.array_equal(blocked, expected)
    assert not np.array_equal(blocked, median_filter(images))


def test_two_dimensional_input_is_one_frame():
    image = _stack(shape=(16, 18))
    result = median_filter(image)
    assert result.shape == image.shape
    assert np.array_equal(result, ndi.median_filter(image[None], size=3, mode="reflect")[0])
    assert gaussian_filter(image).shape == image.shape


def test_single_pixel_and_tiny_stacks():
    for shape in [(1, 1, 1), (1, 1, 5), (2, 1, 1), (3, 2, 2)]:
        images = _stack(shape=shape)
        assert np.array_equal(median_filter(images),
                              ndi.median_filter(images, size=3, mode="reflect"))
        _close_to_scipy(gaussian_filter(images), ndi.gaussian_filter(images, 1.0), np.uint16)


def test_memmap_input(tmp_path):
    images = _stack()
    mapped = np.memmap(tmp_path / "x.bin", dtype=images.dtype, mode="w+", shape=images.shape)
    mapped[:] = images
    assert np.array_equal(median_filter(mapped, block_size=3, block_buffer=1),
                          median_filter(images))
    median_filter(mapped, block_size=3, block_buffer=1, in_place=True)
    mapped.flush()
    assert np.array_equal(np.fromfile(tmp_path / "x.bin", images.dtype).reshape(images.shape),
                          median_filter(images))


def test_nan_warns():
    images = _stack(dtype=np.float32)
    images[2, 3, 4] = np.nan
    with pytest.warns(RuntimeWarning, match="NaN"):
        median_filter(images)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"block_size": 0}, ValueError, "block_size"),
        ({"block_size": 2.5}, TypeError, "block_size"),
        ({"block_size": 4, "block_buffer": -1}, ValueError, "block_buffer"),
        ({"block_buffer": 2}, ValueError, "block_size"),
        ({"backend": "fpga"}, ValueError, "backend"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        median_filter(_stack(), **kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="frames, y, x"):
        median_filter(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="empty"):
        median_filter(np.zeros((0, 3, 4)))
    with pytest.raises(TypeError, match="real numbers"):
        gaussian_filter(np.zeros((3, 4, 4), complex))
    with pytest.raises(TypeError):
        median_filter("not an array")
    with pytest.raises(ValueError, match="sigma"):
        gaussian_filter(_stack(), sigma=-1.0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_filter(_stack(), sigma=(1.0, 2.0))
    with pytest.raises(TypeError, match="sigma"):
        gaussian_filter(_stack(), sigma=np.nan)
    with pytest.raises(ValueError, match="truncate"):
        gaussian_filter(_stack(), truncate=float("inf"))
    with pytest.raises(ValueError, match="radius"):
        gaussian_filter(_stack(), sigma=1e300)
    with pytest.raises(ValueError, match="mask"):
        median_filter(_stack(), mask=np.ones(3))
    with pytest.raises(ValueError, match="mask"):
        median_filter(_stack(), mask=np.zeros((3, 3, 3)))


def test_in_place_on_read_only_array():
    images = _stack()
    images.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        median_filter(images, in_place=True)


@pytest.mark.skipif(is_available("cupy"), reason="cupy is installed")
def test_gpu_without_cupy_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r"calscipy\[gpu\]"):
        median_filter(_stack(), backend="gpu")
    with pytest.raises(ImportError, match="gpu"):  # MissingDependencyError is an ImportError
        gaussian_filter(_stack(), backend="gpu")


def test_dask_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(MissingDependencyError, match=r"calscipy\[dask\]"):
        median_filter(_stack(), backend="dask")


@pytest.mark.parametrize("filt", [median_filter, gaussian_filter])
def test_in_place_on_a_list_is_a_type_error(filt):
    # issue 12.9: the list came back unfiltered (the filter ran on a temporary copy)
    images = _stack().tolist()
    with pytest.raises(TypeError, match="in_place=True needs a writeable numpy"):
        filt(images, in_place=True)
    assert np.array_equal(filt(images), filt(np.asarray(images)))  # not in place: fine
