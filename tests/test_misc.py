"""Tests for CalSciPy.misc."""
from __future__ import annotations

import operator
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy import _backend, misc
from CalSciPy.errors import MissingDependencyError


# --------------------------------------------------------------------------- generate_blocks
def _blocks(n, size, buffer=0):
    return [list(b) for b in misc.generate_blocks(range(n), size, buffer)]


def test_generate_blocks_documented_examples():
    assert _blocks(10, 3, 0) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert _blocks(10, 4, 1) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]


def test_generate_blocks_final_block_holds_buffer_plus_remainder():
    # step 3: [0,4) [3,7) [6,10) then r=1 left → last block_buffer + r = 2 items
    assert _blocks(11, 4, 1) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [9, 10]]


def test_generate_blocks_slices_arrays_and_iterables():
    data = np.arange(20).reshape(10, 2)
    blocks = list(misc.generate_blocks(data, 4, 2))
    assert all(isinstance(b, np.ndarray) for b in blocks)
    np.testing.assert_array_equal(blocks[1], data[2:6])
    assert [list(b) for b in misc.generate_blocks(iter(range(5)), 2)] == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize(
    ("size", "buffer", "match"),
    [(1, 0, "block_size"), (0, 0, "block_size"), (3, 3, "block_buffer"), (3, 4, "block_buffer"),
     (10, 0, "block_size"), (12, 0, "block_size"), (3, -1, "block_buffer")],
)
def test_generate_blocks_rejects_bad_sizes_eagerly(size, buffer, match):
    with pytest.raises(ValueError, match=match):
        misc.generate_blocks(range(10), size, buffer)  # no next(): raised when called


def test_generate_blocks_type_errors():
    with pytest.raises(TypeError, match="block_size"):
        misc.generate_blocks(range(10), 2.5)
    with pytest.raises(TypeError, match="sequence"):
        misc.generate_blocks(5, 2)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_generate_blocks_properties(data):
    n = data.draw(st.integers(3, 300), label="n")
    size = data.draw(st.integers(2, n - 1), label="block_size")
    buffer = data.draw(st.integers(0, size - 1), label="block_buffer")
    blocks = [list(b) for b in misc.generate_blocks(range(n), size, buffer)]
    covered = sorted(set().union(*map(set, blocks)))
    assert covered == list(range(n))  # every index covered
    for block in blocks:
        assert block == list(range(block[0], block[-1] + 1))  # contiguous, within bounds
        assert 0 <= block[0] and block[-1] < n and len(block) <= size
    assert all(len(b) == size for b in blocks[:-1])
    for first, second in zip(blocks, blocks[1:]):
        assert len(set(first) & set(second)) == buffer  # overlap exactly block_buffer
        assert second[0] > first[0]
    assert blocks[-1][-1] == n - 1


# --------------------------------------------------------------------------- overlapping blocks
def test_generate_overlapping_blocks_hand_computed():
    got = [list(b) for b in misc.generate_overlapping_blocks(range(7), 3, 1)]
    assert got == [[0, 1, 2, 3], [2, 3, 4, 5, 6], [5, 6]]
    got = [list(b) for b in misc.generate_overlapping_blocks(range(6), 3, 0)]
    assert got == [[0, 1, 2], [3, 4, 5]]


def test_generate_overlapping_blocks_errors():
    with pytest.raises(ValueError, match="block_size"):
        misc.generate_overlapping_blocks(range(5), 0, 1)
    with pytest.raises(ValueError, match="block_buffer"):
        misc.generate_overlapping_blocks(range(5), 2, -1)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 300), size=st.integers(1, 80), buffer=st.integers(0, 40))
def test_generate_overlapping_blocks_properties(n, size, buffer):
    blocks = [list(b) for b in misc.generate_overlapping_blocks(range(n), size, buffer)]
    assert len(blocks) == -(-n // size)
    covered = set()
    for k, block in enumerate(blocks):
        core_start, core_stop = k * size, min(n, (k + 1) * size)
        assert block[0] == max(0, core_start - buffer)  # extended by buffer, clipped at 0
        assert block[-1] + 1 == min(n, core_stop + buffer)  # extended by buffer, clipped at n
        assert block == list(range(block[0], block[-1] + 1))
        covered.update(range(core_start, core_stop))
    assert covered == set(range(n))
    for k, (first, second) in enumerate(zip(blocks, blocks[1:])):
        # neighbours share the buffers on both sides of their core boundary (clipped)
        boundary = (k + 1) * size
        shared = set(range(max(0, boundary - buffer), min(n, boundary + buffer)))
        assert set(first) & set(second) == shared


# --------------------------------------------------------------------------- windows
def test_generate_sliding_window_full_windows_only():
    got = misc.generate_sliding_window(np.arange(7), 3, 2)
    np.testing.assert_array_equal(got, [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    got = misc.generate_sliding_window(range(6), 4)
    assert got.shape == (3, 4)
    two_d = misc.generate_sliding_window(np.arange(10).reshape(5, 2), 2)
    assert two_d.shape == (4, 2, 2)
    np.testing.assert_array_equal(two_d[1], [[2, 3], [4, 5]])


def test_generate_sliding_window_errors():
    with pytest.raises(ValueError, match="window_length"):
        misc.generate_sliding_window(range(3), 4)
    with pytest.raises(ValueError, match="step_size"):
        misc.generate_sliding_window(range(3), 2, 0)


def test_sliding_window_vectorised_matches_loop():
    rng = np.random.default_rng(0)
    traces = rng.normal(size=(3, 20))
    got = misc.sliding_window(traces, 5, np.mean)
    expected = np.stack([traces[:, k:k + 5].mean(axis=-1) for k in range(16)])
    assert got.shape == (16, 3)
    np.testing.assert_allclose(got, expected)
    # a function without ``axis`` goes through the per-window path
    got_loop = misc.sliding_window(traces, 5, lambda w, scale: scale * w.mean(axis=-1), 2.0)
    np.testing.assert_allclose(got_loop, 2 * expected)
    got_pct = misc.sliding_window(traces[0], 4, np.percentile, 50)
    np.testing.assert_allclose(got_pct, [np.median(traces[0, k:k + 4]) for k in range(17)])


@pytest.mark.parametrize("function, args", [
    (np.sort, ()), (np.diff, ()), (np.cumsum, ()), (np.percentile, ([10, 50, 90],)),
    (np.quantile, (0.25,)), (np.argmax, ()),
])
@pytest.mark.parametrize("shape", [(9,), (2, 9), (3, 2, 9)])
def test_sliding_window_window_index_first_for_any_output(function, args, shape):
    # shape-preserving functions (sort, diff, cumsum) and functions that put their own axes
    # first (percentile with several q) were returned transposed by the vectorised call
    x = np.random.default_rng(4).normal(size=shape)
    got = misc.sliding_window(x, 4, function, *args)
    expected = np.stack([function(x[..., k:k + 4], *args, axis=-1) for k in range(6)])
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_sliding_window_errors():
    with pytest.raises(TypeError, match="function"):
        misc.sliding_window(np.arange(5), 2, "mean")
    with pytest.raises(ValueError, match="window_length"):
        misc.sliding_window(np.arange(5), 6, np.mean)


# --------------------------------------------------------------------------- sizes, names, time
def test_generate_time_vector():
    np.testing.assert_allclose(misc.generate_time_vector(4), [0, 1 / 30, 2 / 30, 3 / 30])
    np.testing.assert_allclose(misc.generate_time_vector(3, 10.0, start=1.0), [1.0, 1.1, 1.2])
    np.testing.assert_allclose(misc.generate_time_vector(3, step=0.5, start=-1), [-1, -0.5, 0])
    assert misc.generate_time_vector(0).shape == (0,)
    with pytest.raises(ValueError, match="sampling_frequency"):
        misc.generate_time_vector(3, 0.0)
    with pytest.raises(ValueError, match="num_samples"):
        misc.generate_time_vector(-1)


def test_calculate_frames_per_file():
    assert misc.calculate_frames_per_file(512, 512) == int(3.9e9 // (512 * 512 * 2))
    assert misc.calculate_frames_per_file(100, 100, np.float32, 1.0) == 25000
    with pytest.raises(ValueError, match="size_cap"):
        misc.calculate_frames_per_file(10, 10, size_cap=0)
    with pytest.raises(ValueError, match="exceeds"):
        misc.calculate_frames_per_file(1000, 1000, np.float64, 1e-6)
    with pytest.raises(ValueError, match="y_pixels"):
        misc.calculate_frames_per_file(0, 10)


def test_generate_padded_filename(tmp_path):
    assert misc.generate_padded_filename(tmp_path, 3) == tmp_path / "images_03.tif"
    got = misc.generate_padded_filename(str(tmp_path), 7, base="x", digits=4, ext=".bin")
    assert got == Path(tmp_path) / "x_0007.bin"
    assert misc.generate_padded_filename(tmp_path, 99).name == "images_99.tif"
    with pytest.raises(ValueError, match="digits"):
        misc.generate_padded_filename(tmp_path, 100)
    with pytest.raises(ValueError, match="index"):
        misc.generate_padded_filename(tmp_path, -1)
    with pytest.raises(TypeError, match="output_folder"):
        misc.generate_padded_filename(3, 1)


# --------------------------------------------------------------------------- GPU wrapper
class _Device:
    """Stand-in for a cupy array: wraps a numpy array so host/device moves are visible."""

    def __init__(self, array):
        self.array = np.array(array)


def _fake_cupy():
    calls = {"to_device": 0, "to_host": 0}

    def asarray(a):
        calls["to_device"] += 1
        return a if isinstance(a, _Device) else _Device(a)

    def asnumpy(a):
        calls["to_host"] += 1
        return a.array

    return types.SimpleNamespace(ndarray=_Device, asarray=asarray, asnumpy=asnumpy), calls


def test_wrap_cupy_block_moves_arrays_both_ways(monkeypatch):
    fake, calls = _fake_cupy()
    monkeypatch.setattr(_backend, "cupy_module", lambda: fake)
    seen = {}

    def device_fn(x, scale=1.0, *, offset=None):
        seen["x"], seen["offset"] = type(x), type(offset)
        return _Device(x.array * scale + offset.array), [_Device(x.array)], "meta"

    wrapped = misc.wrap_cupy_block(device_fn)
    assert wrapped.__name__ == "device_fn"
    out, extras, meta = wrapped(np.arange(3.0), 2.0, offset=np.ones(3))
    assert seen == {"x": _Device, "offset": _Device}  # numpy inputs went to the device
    assert isinstance(out, np.ndarray) and isinstance(extras[0], np.ndarray)
    np.testing.assert_array_equal(out, [1.0, 3.0, 5.0])
    assert meta == "meta"
    assert calls == {"to_device": 2, "to_host": 2}


def test_wrap_cupy_block_without_cupy_names_gpu_extra(monkeypatch):
    def missing():
        raise MissingDependencyError("optional dependency 'cupy' is not installed; calscipy[gpu]")

    monkeypatch.setattr(_backend, "cupy_module", missing)
    wrapped = misc.wrap_cupy_block(lambda x: x)  # wrapping itself needs no GPU
    with pytest.raises(MissingDependencyError, match="gpu"):
        wrapped(np.zeros(2))
    with pytest.raises(TypeError, match="callable"):
        misc.wrap_cupy_block(3)


# --------------------------------------------------------------------------- PatternMatching
def test_pattern_matching():
    with misc.PatternMatching((3, "tif"), [operator.ge, None]) as case:
        assert case((2, "tif"))
        assert not case((5, "tif"))
        assert case((..., "tif"))
        assert not case((0, "bin"))
        assert case == (3, "tif")
    single = misc.PatternMatching(5, [operator.eq])
    assert single(5) and not single(4)
    with pytest.raises(ValueError, match="comparison"):
        misc.PatternMatching((1, 2), [operator.eq])
    with pytest.raises(ValueError, match="items"):
        single((1, 2))
