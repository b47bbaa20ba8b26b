"""The cache hints compile for the arrays the kernels pass and change no value."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from CalSciPy._cachehints import (
    STREAM_BYTES,
    prefetch_read,
    prefetch_write,
    store_fence,
    store_row,
)


@njit(cache=False)
def _hinted_sum(values, step):
    total = 0.0
    for i in range(0, values.size, step):
        prefetch_read(values, i)
        prefetch_write(values, i)
        total += values[i]
    return total


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int64", "float32", "float64"])
def test_hints_leave_values_and_results_unchanged(dtype):
    values = np.arange(1000).astype(dtype)
    before = values.copy()
    assert _hinted_sum(values, 7) == float(values[::7].astype(np.float64).sum())
    assert np.array_equal(values, before)


def test_hints_reject_what_is_not_an_array_and_an_index():
    @njit(cache=False)
    def bad(value):
        prefetch_read(value, 0)

    with pytest.raises(Exception, match="prefetch"):
        bad(1.0)


@njit(cache=False)
def _copy_rows(dst, src, stream):
    for i in range(dst.shape[0]):
        store_row(dst[i], src[i], stream)
    store_fence()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("stream", [True, False])
def test_streamed_rows_equal_the_source_at_every_offset_and_width(dtype, stream):
    # the rows start anywhere relative to a 32-byte boundary: plain head, streamed blocks,
    # plain tail, and rows too short for a block
    itemsize = np.dtype(dtype).itemsize
    buffer = np.zeros(4096 // itemsize, dtype)
    rng = np.random.default_rng(0)
    for offset in range(STREAM_BYTES // itemsize + 1):
        for width in (0, 1, 3, 7, 8, 9, 31, 64, 65):
            dst = buffer[offset:offset + 2 * width].reshape(2, width)
            src = rng.random((2, width)).astype(dtype)
            if width > 2:
                src[1, 2] = np.nan
            dst[...] = -1
            _copy_rows(dst, src, stream)
            assert np.array_equal(dst, src, equal_nan=True)
    assert not np.any(buffer[offset + 2 * 65:] != 0)  # nothing written past the rows


def test_rows_not_aligned_to_their_itemsize_are_stored_plainly():
    # a float32 view at an odd byte offset: a streaming store there would fault
    raw = np.zeros(4 * 40 + 1, np.uint8)
    dst = raw[1:].view(np.float32).reshape(1, 40)
    src = np.arange(40, dtype=np.float32).reshape(1, 40)
    _copy_rows(dst, src, True)
    assert np.array_equal(dst, src)


def test_rows_of_another_dtype_are_converted_plainly():
    # the overload only streams between equal float dtypes; uint16 output converts
    src = np.array([[1.0, 2.9, 65535.0, 0.0]], np.float32)
    dst = np.zeros((1, 4), np.uint16)
    _copy_rows(dst, src, True)
    assert dst.tolist() == [[1, 2, 65535, 0]]


def test_store_row_outside_numba_is_a_plain_copy():
    dst = np.zeros(5, np.uint16)
    store_row(dst, np.array([1.0, 2.9, 3.0, 0.0, 7.5], np.float32), True)
    assert dst.tolist() == [1, 2, 3, 0, 7]
