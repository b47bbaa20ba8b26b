"""Blockwise filtering: exact with enough buffer, documented seams without, also in place."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from CalSciPy._filters.blocks import FilteredStack, read_frames
from CalSciPy.image_processing import gaussian_filter, median_filter

BLOCK_SETTINGS = settings(max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
RNG = np.random.default_rng(11)
STACK = RNG.integers(0, 3000, (25, 9, 11)).astype(np.uint16)


def _expected_blocks(images, filt, block_size, block_buffer):
    """The documented layout: core k filtered together with block_buffer frames each side."""
    n = images.shape[0]
    parts = []
    for core in range(0, n, block_size):
        lo, hi = max(0, core - block_buffer), min(n, core + block_size + block_buffer)
        parts.append(filt(images[lo:hi])[core - lo:min(n, core + block_size) - lo])
    return np.concatenate(parts)


@given(n=st.integers(1, 25), block_size=st.integers(1, 27), block_buffer=st.integers(0, 4),
       in_place=st.booleans())
@BLOCK_SETTINGS
def test_median_blocks(n, block_size, block_buffer, in_place):
    images = STACK[:n].copy()
    whole = median_filter(images)
    expected = _expected_blocks(images, median_filter, block_size, block_buffer)
    result = median_filter(images, block_size=block_size, block_buffer=block_buffer,
                           in_place=in_place)
    assert np.array_equal(result, expected)
    if block_buffer >= 1:  # temporal radius of the 3×3×3 median
        assert np.array_equal(result, whole)
    assert (result is images) == in_place


@given(n=st.integers(1, 25), block_size=st.integers(1, 27), block_buffer=st.integers(0, 6),
       sigma_t=st.sampled_from([0.0, 0.5, 1.0]), in_place=st.booleans())
@BLOCK_SETTINGS
def test_gaussian_blocks(n, block_size, block_buffer, sigma_t, in_place):
    images = STACK[:n].copy()
    sigma = (sigma_t, 1.0, 1.0)
    radius = int(4.0 * sigma_t + 0.5) if sigma_t else 0
    whole = gaussian_filter(images, sigma)
    expected = _expected_blocks(images, lambda x: gaussian_filter(x, sigma),
                                block_size, block_buffer)
    result = gaussian_filter(images, sigma, block_size=block_size, block_buffer=block_buffer,
                             in_place=in_place)
    assert np.array_equal(result, expected)
    if block_buffer >= radius:
        assert np.array_equal(result, whole)


def test_buffer_larger_than_block_in_place_reads_unfiltered_frames():
    images = STACK.copy()
    whole = median_filter(images)
    median_filter(images, block_size=2, block_buffer=5, in_place=True)
    assert np.array_equal(images, whole)


def test_progress_bar_can_be_shown(capsys):
    median_filter(STACK, block_size=5, block_buffer=1, progress=True)
    assert "filtering" in capsys.readouterr().err


@given(start=st.integers(0, 25), stop=st.integers(0, 25), block_size=st.integers(1, 30))
@settings(max_examples=40, deadline=None)
def test_filtered_stack_slices_are_exact(start, stop, block_size):
    whole = median_filter(STACK)
    lazy = FilteredStack(STACK, median_filter, radius=1, block_size=block_size)
    assert lazy.shape == STACK.shape and lazy.dtype == STACK.dtype
    assert np.array_equal(lazy[start:stop], whole[start:stop])


def test_filtered_stack_indexing():
    whole = median_filter(STACK)
    lazy = FilteredStack(STACK, median_filter, radius=1, block_size=4)
    assert np.array_equal(lazy[3], whole[3])
    assert np.array_equal(lazy[-1], whole[-1])
    assert np.array_equal(lazy[::3], whole[::3])
    assert np.array_equal(np.asarray(lazy), whole)
    assert len(lazy) == STACK.shape[0]
    # a tuple indexes frames first, then (y, x), as on the filtered numpy array (FrameSource)
    assert np.array_equal(lazy[1, 2], whole[1, 2])
    with pytest.raises(TypeError):
        lazy[[1, 2]]


def test_read_frames_of_memmaps(tmp_path):
    path = tmp_path / "stack.bin"
    header = 64
    with open(path, "wb") as handle:
        handle.write(b"\0" * header)
        handle.write(STACK.tobytes())
    mapped = np.memmap(path, dtype=STACK.dtype, mode="r", offset=header, shape=STACK.shape)
    assert np.array_equal(read_frames(mapped, 3, 11), STACK[3:11])
    assert type(read_frames(mapped, 3, 11)) is np.ndarray
    view = mapped[5:]  # a view of a memmap is read by slicing
    assert np.array_equal(read_frames(view, 0, 4), STACK[5:9])
    assert np.array_equal(read_frames(STACK, 2, 4), STACK[2:4])
