"""Every lazy frame source indexes exactly like the numpy array it stands for.

``FrameWindow``, ``TiffStack`` and ``FilteredStack`` subclass ``CalSciPy._io.source.FrameSource``;
before, each had its own ``__getitem__`` and they disagreed (TiffStack refused integers and steps,
FrameWindow refused integers, FilteredStack filtered the whole stack for a step).
"""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from CalSciPy._filters.blocks import FilteredStack
from CalSciPy._io import source as source_module
from CalSciPy._io.common import FrameWindow, frame_range
from CalSciPy._io.source import FrameSource, iter_frame_blocks
from CalSciPy._io.tiff import TiffStack

FRAMES, Y, X = 11, 5, 4
DATA = np.arange(FRAMES * Y * X, dtype=np.uint16).reshape(FRAMES, Y, X) * 7 % 1000


class SliceOnly:
    """A custom lazy stack that only answers contiguous frame slices (like a user's reader)."""

    def __init__(self, data):
        self.data, self.shape, self.dtype = data, data.shape, data.dtype

    def __getitem__(self, key):
        assert isinstance(key, slice) and key.step in (None, 1), key
        return self.data[key].copy()


def _median(block):
    return ndimage.median_filter(block, size=3, mode="reflect")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """(lazy source, the numpy array it must index like) for each subclass."""
    folder = tmp_path_factory.mktemp("tiffs")
    files, start = [], 0
    for i, count in enumerate([3, 1, 5, 2]):  # unequal files, so indices cross file borders
        path = folder / f"part_{i}.tif"
        tifffile.imwrite(path, DATA[start:start + count], photometric="minisblack")
        files.append(path)
        start += count
    padded = np.concatenate([DATA[:2] + 1, DATA, DATA[:3] + 2])
    return {
        "FrameWindow": (FrameWindow(SliceOnly(padded), 2, 2 + FRAMES), DATA),
        "TiffStack": (TiffStack(files), DATA),
        "FilteredStack": (FilteredStack(DATA, _median, radius=1, block_size=3), _median(DATA)),
    }


index = st.integers(-FRAMES - 2, FRAMES + 1)
step = st.one_of(st.none(), st.integers(-4, 4).filter(bool))
bound = st.one_of(st.none(), st.integers(-FRAMES - 3, FRAMES + 3))
slices = st.builds(slice, bound, bound, step)
first = st.one_of(index, slices, st.just(Ellipsis))
inner = st.one_of(st.integers(-Y, Y - 1), st.builds(slice, st.none() | st.integers(-4, 4),
                                                     st.none() | st.integers(-4, 4), step))
keys = st.one_of(first, st.tuples(first), st.tuples(first, inner), st.tuples(first, inner, inner),
                 st.tuples(first, st.just(Ellipsis), inner))


@pytest.mark.parametrize("kind", ["FrameWindow", "TiffStack", "FilteredStack"])
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=keys, span_frames=st.sampled_from([1, 2, 3, 1000]))
def test_indexes_like_numpy(sources, kind, key, span_frames):
    lazy, reference = sources[kind]
    assert isinstance(lazy, FrameSource)
    assert (lazy.shape, lazy.dtype, lazy.ndim, len(lazy)) == (
        reference.shape, reference.dtype, reference.ndim, len(reference))
    saved = source_module.SPAN_BYTES  # small spans exercise the chunked stepped read
    source_module.SPAN_BYTES = span_frames * Y * X * 2
    try:
        try:
            expected = reference[key]
        except IndexError:
            with pytest.raises(IndexError):
                lazy[key]
            return
        got = lazy[key]
    finally:
        source_module.SPAN_BYTES = saved
    assert isinstance(got, np.ndarray) or np.isscalar(got)
    assert np.shape(got) == np.shape(expected)
    assert np.asarray(got).dtype == reference.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", ["FrameWindow", "TiffStack", "FilteredStack"])
def test_array_blocks_and_refusals(sources, kind):
    lazy, reference = sources[kind]
    np.testing.assert_array_equal(np.asarray(lazy), reference)
    blocks = list(iter_frame_blocks(lazy, 4))
    assert [start for start, _ in blocks] == [0, 4, 8]
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), reference)
    for bad in (True, 1.5, [0, 1], "0", None):
        with pytest.raises(TypeError):
            lazy[bad]


def test_frame_range_keeps_custom_lazy_stacks_lazy():
    window = frame_range(SliceOnly(DATA), 4, 100)  # clipped to the stack
    assert isinstance(window, FrameWindow) and window.shape == (FRAMES - 4, Y, X)
    np.testing.assert_array_equal(window[-1], DATA[-1])
    with pytest.raises(ValueError, match="outside"):
        FrameWindow(SliceOnly(DATA), 5, 3)
