"""Review findings on values read from PrairieView files (issue 12 follow-up).

Each test failed on the code as first delivered: an untrusted value gave a bare library
exception, or a silent wrong answer, instead of one error naming the file and element.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from CalSciPy.bruker.data import load_bruker_tifs
from CalSciPy.bruker.session import read_prairieview_session, read_prairieview_xml
from CalSciPy.errors import DataFormatError
from CalSciPy.synthetic import write_prairieview_session

RNG = np.random.default_rng(11)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    images = RNG.integers(0, 8192, (4, 1, 1, 8, 12), dtype=np.uint16)
    return write_prairieview_session(tmp_path_factory.mktemp("t") / "s", images,
                                     frame_rate=10.0, voltage=False)


def _copy_with(template, tmp_path, old, new):
    folder = tmp_path / "s"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(template.folder, folder)
    xml = folder / "s.xml"
    text = xml.read_text(encoding="utf-8-sig")
    assert old in text
    xml.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.integers(2**31, 10**40).map(str) | st.just("9" * 400))
def test_huge_page_named(template, tmp_path, value):
    # a 20-digit page gave a bare OverflowError from numpy
    folder = _copy_with(template, tmp_path, 'page="1"', f'page="{value}"')
    with pytest.raises(DataFormatError, match=r"s\.xml: <File .*page="):
        load_bruker_tifs(folder, progress=False)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.integers(2**31, 10**40).map(str) | st.integers(-10**40, -2**31).map(str))
def test_huge_frame_index_named(template, tmp_path, value):
    folder = _copy_with(template, tmp_path, 'index="1" parameterSet',
                        f'index="{value}" parameterSet')
    with pytest.raises(DataFormatError, match=r"s\.xml: <Frame .*index="):
        read_prairieview_session(folder)
    with pytest.raises(DataFormatError, match=r"s\.xml: <Frame .*index="):
        read_prairieview_xml(folder / "s.xml")


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.integers(2**31, 10**40).map(str))
def test_huge_channel_named(template, tmp_path, value):
    folder = _copy_with(template, tmp_path, 'channel="2"', f'channel="{value}"')
    with pytest.raises(DataFormatError, match=r"s\.xml: <File .*channel="):
        read_prairieview_session(folder)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["cycle", "channel", "index"]),
       value=st.integers(10**18, 10**30))
def test_image_name_with_a_huge_number_is_not_an_image(template, tmp_path, field, value):
    # a stray 's_Cycle<20 digits>_Ch2_000001.ome.tif' made every folder reader (and
    # load_images on any folder holding it) fail with a bare OverflowError
    import tifffile

    from CalSciPy.bruker._naming import image_name
    from CalSciPy.io_tools import load_images

    folder = tmp_path / "s"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(template.folder, folder)
    (folder / "s.xml").unlink()
    numbers = {"cycle": 1, "channel": 2, "index": 1, field: value}
    stray = image_name("s", numbers["cycle"], numbers["channel"], numbers["index"])
    tifffile.imwrite(folder / stray, np.zeros((8, 12), np.uint16), photometric="minisblack")
    session = read_prairieview_session(folder)
    assert (session.n_frames, session.n_planes, session.channels) == (4, 1, (2,))
    assert stray not in {p.rsplit("/", 1)[-1] for p in session.files.ravel()}
    np.testing.assert_array_equal(load_bruker_tifs(folder, progress=False)[0],
                                  template.images[:, 0, 0])
    assert load_images(folder, progress=False).shape == (5, 8, 12)


@settings(max_examples=30, deadline=None)
@given(channel=st.floats(0.01, 1.99).filter(lambda v: v != 1.0) | st.just(True)
       | st.just("0"), plane=st.sampled_from([0, 1]))
def test_bruker_images_get_takes_whole_indices_only(channel, plane):
    # get(0.9, 0) silently returned channel 0 (int() truncated it); True was taken for 1
    from CalSciPy.bruker.data import BrukerImages

    images = BrukerImages([np.zeros((1, 2, 2)), np.ones((1, 2, 2)), np.full((1, 2, 2), 2.0),
                           np.full((1, 2, 2), 3.0)], [(0, 0), (0, 1), (1, 0), (1, 1)])
    with pytest.raises(TypeError, match="channel"):
        images.get(channel, plane)
    with pytest.raises(TypeError, match="plane"):
        images.get(plane, channel)
    assert images.get(np.int64(1), plane) is images[2 + plane]


def test_the_master_xml_path_reads_like_its_folder(tmp_path):
    # an aborted acquisition (last volume's files partly written): the folder dropped the
    # volume with a warning, its XML path raised FileNotFoundError when the images were read
    images = RNG.integers(0, 8192, (3, 2, 1, 8, 12), dtype=np.uint16)
    written = write_prairieview_session(tmp_path / "s", images, voltage=False)
    (written.folder / "s_Cycle00003_Ch2_000002.ome.tif").unlink()
    for where in (written.folder, written.xml_path):
        with pytest.warns(UserWarning, match="last volume"):
            loaded = load_bruker_tifs(where, progress=False)
        for plane in range(2):
            np.testing.assert_array_equal(loaded[plane], images[:2, plane, 0])
    # a file missing in the middle is named at once, by either path
    (written.folder / "s_Cycle00001_Ch2_000001.ome.tif").unlink()
    from CalSciPy.errors import MissingFramesError
    for where in (written.folder, written.xml_path):
        with pytest.raises(MissingFramesError, match="s_Cycle00001_Ch2_000001"):
            read_prairieview_session(where)


def test_the_master_xml_alone_can_still_be_inspected(tmp_path):
    images = RNG.integers(0, 8192, (3, 2, 1, 8, 12), dtype=np.uint16)
    written = write_prairieview_session(tmp_path / "s", images, voltage=False)
    for tif in written.folder.glob("*.ome.tif"):
        tif.unlink()
    session = read_prairieview_session(written.xml_path)
    assert (session.n_frames, session.n_planes) == (3, 2)


@pytest.mark.parametrize("rate", ["0", "-1000", "0.0"])
def test_a_voltage_rate_that_is_not_positive_is_named(tmp_path, capsys, rate):
    # get_voltage_recording returned rate=-1000 and `calscipy info` printed a negative duration
    from CalSciPy.bruker.xml_load import get_voltage_recording
    from CalSciPy.cli import main

    images = RNG.integers(0, 8192, (4, 1, 1, 8, 12), dtype=np.uint16)
    written = write_prairieview_session(tmp_path / "s", images, frame_rate=10.0)
    xml = written.voltage_csv.with_suffix(".xml")
    text = xml.read_text(encoding="utf-8-sig")
    assert "<Rate>1000</Rate>" in text
    xml.write_text(text.replace("<Rate>1000</Rate>", f"<Rate>{rate}</Rate>"), encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"{xml.name}: <Rate> is '{rate}'"):
        get_voltage_recording(xml)
    assert main(["info", str(written.folder)]) == 1
    assert "<Rate>" in capsys.readouterr().err


@settings(max_examples=25, deadline=None)
@given(sample_ms=st.sampled_from([50.0, 100.0, 40.0]), frame_ms=st.sampled_from([10, 20, 33]))
def test_align_data_says_when_frames_share_a_sample(sample_ms, frame_ms):
    # a recording sampled more slowly than the frames: several frames are nearest one sample
    # and all but the last were silently dropped from the Imaging Frame column
    import pandas as pd

    from CalSciPy.bruker.data import align_data

    analog = pd.DataFrame({"v": np.zeros(20)},
                          index=pd.Index(np.arange(20) * sample_ms, name="Time(ms)"))
    n = int(19 * sample_ms // frame_ms) + 1
    frames = pd.DataFrame({"Imaging Frame": np.arange(n)},
                          index=pd.Index(np.arange(n) * frame_ms, name="Time (ms)"))
    with pytest.warns(UserWarning, match=r"frame\(s\) .*share.*fill=True"):
        aligned = align_data(analog, frames)
    placed = aligned["Imaging Frame"].dropna().to_numpy()
    assert placed.size < n and np.all(np.diff(placed) > 0)
