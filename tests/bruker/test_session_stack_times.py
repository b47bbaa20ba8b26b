"""PrairieViewSession.stack (lazy FrameSource), frame_times_s and the one TIFF probe."""
from __future__ import annotations

import pickle
import re
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy._io.source import FrameSource
from CalSciPy.bruker import _tiffread
from CalSciPy.bruker.data import BrukerImages, extract_frame_times, load_bruker_tifs
from CalSciPy.bruker.session import SessionStack, read_prairieview_session
from CalSciPy.errors import InvalidArgumentError
from CalSciPy.synthetic import write_prairieview_session

RNG = np.random.default_rng(11)


def _images(frames=6, planes=1, channels=1, shape=(8, 12)):
    return RNG.integers(0, 8192, (frames, planes, channels, *shape), dtype=np.uint16)


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    return write_prairieview_session(tmp_path_factory.mktemp("s") / "vol", _images(7, 3, 2),
                                     frame_rate=5.0, bidirectional_z=True, z_step=5.0,
                                     voltage=False)


# ------------------------------------------------------------------------------------ stack
def test_stack_is_a_lazy_frame_source(volume):
    session = read_prairieview_session(volume.folder)
    stack = session.stack(channel=1, plane=2)
    assert isinstance(stack, FrameSource) and isinstance(stack, SessionStack)
    assert stack.shape == (7, 8, 12) and stack.dtype == np.uint16 and stack.ndim == 3
    assert len(stack) == 7
    expected = volume.images[:, 2, 1]
    np.testing.assert_array_equal(stack[3], expected[3])
    np.testing.assert_array_equal(stack[-1], expected[-1])
    np.testing.assert_array_equal(stack[2:5, 1:3], expected[2:5, 1:3])
    np.testing.assert_array_equal(np.asarray(stack), expected)
    blocks = [block for _, block in stack.iter_blocks(3)]
    np.testing.assert_array_equal(np.concatenate(blocks), expected)
    with pytest.raises(IndexError):
        stack[7]


def test_stack_reads_only_the_frames_asked_for(volume):
    session = read_prairieview_session(volume.folder)
    stack = session.stack(0, 1)
    with mock.patch("CalSciPy.bruker._session.stack.read_frames",
                    wraps=_tiffread.read_frames) as spy:
        stack[4:6]
    jobs = spy.call_args.args[0]
    assert [int(re.search(r"Cycle(\d+)", p)[1]) for p, _, _ in jobs] == [5, 6]


@settings(max_examples=40, deadline=None)
@given(start=st.integers(-9, 9) | st.none(), stop=st.integers(-9, 9) | st.none(),
       step=st.sampled_from([None, 1, 2, 3, -1, -2]))
def test_stack_slices_like_numpy(volume, start, stop, step):
    stack = read_prairieview_session(volume.folder).stack(0, 0)
    key = slice(start, stop, step)
    np.testing.assert_array_equal(stack[key], volume.images[:, 0, 0][key])


def test_stack_argument_errors(volume):
    session = read_prairieview_session(volume.folder)
    for channel, plane in ((2, 0), (0, 3), (-1, 0)):
        with pytest.raises(InvalidArgumentError, match="out of range"):
            session.stack(channel, plane)
    with pytest.raises(AssertionError):  # code written for 0.3.x catches AssertionError
        session.stack(0, 9)
    with pytest.raises(TypeError):
        session.stack(0.0, 0)


# ------------------------------------------------------------------------------ frame times
def test_frame_times_s_single_plane(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(5), frame_rate=30.0,
                                        voltage=False)
    session = read_prairieview_session(written.folder)
    times = session.frame_times_s
    assert times.shape == (5, 1) and times.dtype == np.float64
    np.testing.assert_allclose(times[:, 0], np.arange(5) / 30.0, atol=1e-12)
    with pytest.raises(ValueError):
        times[0, 0] = 1.0  # read-only: the session's own times
    np.testing.assert_array_equal(session.stack().frame_times_s, times[:, 0])


def test_frame_times_s_every_plane_its_own_time(volume):
    session = read_prairieview_session(volume.folder)
    times = session.frame_times_s
    n_planes, period = 3, 1.0 / (5.0 * 3)
    # odd cycles (f even) run the stroke shallow-to-deep, even cycles deep-to-shallow: plane p
    # of an even cycle is the (n_planes - 1 - p)-th frame acquired in it
    f, p = np.meshgrid(np.arange(7), np.arange(n_planes), indexing="ij")
    order = np.where(f % 2 == 0, p, n_planes - 1 - p)
    expected = (f * n_planes + order) * period
    assert times.shape == (7, 3)
    np.testing.assert_allclose(times, expected, atol=1e-9)
    np.testing.assert_allclose(session.frame_times, times.min(axis=1))
    ms = extract_frame_times(volume.xml_path).index.to_numpy()
    np.testing.assert_array_equal(ms, np.rint(times.min(axis=1) * 1000).astype(np.int64))


def test_frame_times_s_keeps_a_trigger_wait(tmp_path):
    written = write_prairieview_session(tmp_path / "t", _images(2, 2), frame_rate=10.0)
    text = written.xml_path.read_text(encoding="utf-8-sig")
    # the second cycle waited 3 s for its trigger: only absoluteTime shows it
    head, sep, tail = text.partition('<Sequence type="TSeries ZSeries Element" cycle="2"')
    tail = re.sub(r'absoluteTime="([^"]*)"', lambda m: f'absoluteTime="{float(m[1]) + 3.0}"',
                  tail)
    written.xml_path.write_text(head + sep + tail, encoding="utf-8")
    session = read_prairieview_session(written.folder)
    np.testing.assert_allclose(session.frame_times_s, [[0, 0.05], [3.1, 3.15]], atol=1e-9)
    assert session.voltage_trigger_mode == "Start with next scan (PFI0)"


def test_frame_times_s_none_without_xml(volume):
    assert read_prairieview_session(volume.folder, use_xml=False).frame_times_s is None


# ---------------------------------------------------------------------------- one probe
def test_first_file_is_probed_once(volume):
    with mock.patch("CalSciPy.bruker._session.model.probe", wraps=_tiffread.probe) as spy:
        load_bruker_tifs(volume.folder, progress=False)
    assert spy.call_count == 1


# ------------------------------------------------------------------------- BrukerImages
def test_bruker_images_named_tuple(volume):
    images = load_bruker_tifs(volume.folder, progress=False)
    assert isinstance(images, tuple) and isinstance(images, BrukerImages) and len(images) == 6
    assert images.keys[:4] == ((0, 0), (0, 1), (0, 2), (1, 0))
    assert images.names[5] == "ch1_pl2"
    np.testing.assert_array_equal(images.ch1_pl2, volume.images[:, 2, 1])
    assert images.get(0, 1) is images[1] and images._asdict()["ch0_pl0"] is images[0]
    with pytest.raises(KeyError, match="channel 3, plane 0"):
        images.get(3, 0)
    with pytest.raises(AttributeError):
        _ = images.ch3_pl0
    again = pickle.loads(pickle.dumps(images))
    assert again.keys == images.keys and np.array_equal(again[5], images[5])
    (one,) = load_bruker_tifs(volume.folder, channel=1, plane=0, progress=False)
    np.testing.assert_array_equal(one, volume.images[:, 0, 1])
