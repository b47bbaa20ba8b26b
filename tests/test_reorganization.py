"""Tests for CalSciPy.reorganization."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy.reorganization import (
    generate_raster,
    generate_tensor,
    merge_factorized_matrices,
    merge_tensor,
)


# --------------------------------------------------------------------------- rasters
def test_generate_raster_hand_computed():
    raster = generate_raster([[0, 3], [], [1, 1, 4]])
    assert raster.dtype == np.int32
    np.testing.assert_array_equal(
        raster, [[1, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 1]]
    )
    assert generate_raster([[2]], total_frames=6).shape == (1, 6)
    assert generate_raster([[], []], total_frames=3).sum() == 0


@pytest.mark.parametrize(
    ("events", "total", "error", "match"),
    [
        ([[0, -1]], None, ValueError, "negative"),
        ([[0, 5]], 5, ValueError, "beyond the recording"),
        ([[0, [1, 2]]], None, ValueError, "event_frames\\[0\\]"),
        ([[[0, 1], [2, 3]]], None, ValueError, "1-D"),
        ([[], []], None, ValueError, "total_frames"),
        ([], None, ValueError, "total_frames"),
        ([[0.5]], None, TypeError, "integer"),
        ([1, 2, 3], None, TypeError, "event_frames\\[0\\]"),
        ([[1]], -1, ValueError, "total_frames"),
        ([[1]], 2.0, TypeError, "total_frames"),
        (5, None, TypeError, "event_frames"),
    ],
)
def test_generate_raster_bad_input(events, total, error, match):
    with pytest.raises(error, match=match):
        generate_raster(events, total)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 49), max_size=20), min_size=1, max_size=8),
)
def test_raster_event_list_round_trip(events):
    raster = generate_raster(events, total_frames=50)
    back = [np.flatnonzero(row) for row in raster]
    assert [sorted(set(e)) for e in events] == [b.tolist() for b in back]
    np.testing.assert_array_equal(generate_raster(back, total_frames=50), raster)


# --------------------------------------------------------------------------- tensors
def test_generate_tensor_hand_computed():
    matrix = np.arange(12).reshape(2, 6)
    tensor = generate_tensor(matrix, 3)
    assert tensor.shape == (2, 2, 3)
    np.testing.assert_array_equal(tensor[0], [[0, 1, 2], [6, 7, 8]])
    np.testing.assert_array_equal(tensor[1], [[3, 4, 5], [9, 10, 11]])
    assert tensor.flags.c_contiguous
    np.testing.assert_array_equal(merge_tensor(tensor), matrix)


@settings(max_examples=60, deadline=None)
@given(neurons=st.integers(1, 5), chunks=st.integers(1, 6), chunk=st.integers(1, 7))
def test_tensor_round_trip(neurons, chunks, chunk):
    matrix = np.random.default_rng(0).normal(size=(neurons, chunks * chunk)).astype(np.float32)
    tensor = generate_tensor(matrix, chunk)
    assert tensor.shape == (chunks, neurons, chunk) and tensor.dtype == np.float32
    np.testing.assert_array_equal(merge_tensor(tensor), matrix)
    np.testing.assert_array_equal(generate_tensor(merge_tensor(tensor), chunk), tensor)


def test_tensor_bad_input():
    with pytest.raises(ValueError, match="does not divide"):
        generate_tensor(np.zeros((2, 10)), 3)
    with pytest.raises(ValueError, match="2-D"):
        generate_tensor(np.zeros(10), 5)
    with pytest.raises(ValueError, match="chunk_size"):
        generate_tensor(np.zeros((2, 10)), 0)
    with pytest.raises(TypeError, match="chunk_size"):
        generate_tensor(np.zeros((2, 10)), 2.0)
    with pytest.raises(ValueError, match="3-D"):
        merge_tensor(np.zeros((2, 10)))


# --------------------------------------------------------------------------- factorized
def _factorized():
    # 2 neurons x 2 chunks (of 3 and 2 frames), 2 components each
    fac = np.empty((2, 2), dtype=object)
    for i in range(2):
        for k, length in enumerate((3, 2)):
            fac[i, k] = np.array([np.full(length, 10 * i + k), np.full(length, -(10 * i + k))])
    return fac


def test_merge_factorized_matrices_single_and_many():
    fac = _factorized()
    merged = merge_factorized_matrices(fac)
    assert merged.dtype == np.float64 and merged.shape == (2, 5)
    np.testing.assert_array_equal(merged, [[0, 0, 0, 1, 1], [10, 10, 10, 11, 11]])
    both = merge_factorized_matrices(fac, [0, 1])
    assert both.shape == (2, 2, 5)
    np.testing.assert_array_equal(both[1], -merged)
    np.testing.assert_array_equal(merge_factorized_matrices(fac, component=1), -merged)
    numeric = np.stack([np.stack([np.ones((2, 4)), 2 * np.ones((2, 4))])] * 3)  # (3, 2, 2, 4)
    np.testing.assert_array_equal(merge_factorized_matrices(numeric, 1)[0], [1] * 4 + [2] * 4)


def test_merge_factorized_matrices_bad_input():
    fac = _factorized()
    with pytest.raises(TypeError, match="factorized_traces"):
        merge_factorized_matrices([[np.zeros((1, 2))]])
    with pytest.raises(TypeError, match="object array"):
        merge_factorized_matrices(np.empty(3, dtype=object))
    with pytest.raises(TypeError, match="4-D"):
        merge_factorized_matrices(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="component 2"):
        merge_factorized_matrices(fac, 2)
    with pytest.raises(TypeError, match="components"):
        merge_factorized_matrices(fac, 0.5)
    bad = fac.copy()
    bad[1, 0] = np.zeros((2, 4))
    with pytest.raises(ValueError, match="chunk 0"):
        merge_factorized_matrices(bad)
    bad[1, 0] = np.zeros(3)
    with pytest.raises(TypeError, match="2-D"):
        merge_factorized_matrices(bad)
    bad[1, 0] = [[1.0, 2.0, 3.0], [4.0]]  # ragged nested lists: named, not numpy's message
    with pytest.raises(TypeError, match=r"factorized_traces\[1, 0\]"):
        merge_factorized_matrices(bad)
