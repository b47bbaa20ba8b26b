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


def _aligned(shape, dtype):
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + nbytes].view(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("stream", [True, False])
def test_streamed_rows_equal_the_source(dtype, stream):
    width = 3 * STREAM_BYTES // np.dtype(dtype).itemsize
    src = np.random.default_rng(0).random((5, width)).astype(dtype)
    src[1, 2] = np.nan
    dst = _aligned(src.shape, dtype)
    _copy_rows(dst, src, stream)
    assert np.array_equal(dst, src, equal_nan=True)


def test_rows_of_another_dtype_are_converted_plainly():
    # the overload only streams between equal float dtypes; uint16 output converts
    src = np.array([[1.0, 2.9, 65535.0, 0.0]], np.float32)
    dst = np.zeros((1, 4), np.uint16)
    _copy_rows(dst, src, True)
    assert dst.tolist() == [[1, 2, 65535, 0]]
