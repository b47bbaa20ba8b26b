"""The parsed session model: master XML, names-only fallback, ordering and bad folders."""
from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy.bruker import data
from CalSciPy.bruker._naming import image_name
from CalSciPy.bruker.session import (
    _session_from_names,
    read_prairieview_session,
    read_prairieview_xml,
)
from CalSciPy.errors import DataFormatError, MissingFramesError, SessionError
from CalSciPy.synthetic import write_prairieview_session

RNG = np.random.default_rng(7)


def _images(frames=6, planes=1, channels=1, shape=(8, 12)):
    return RNG.integers(0, 8192, (frames, planes, channels, *shape), dtype=np.uint16)


@pytest.fixture
def single(tmp_path):
    return write_prairieview_session(tmp_path / "TSeries-001", _images(), frame_rate=10.0)


def test_xml_model_settings(single):
    xml = read_prairieview_xml(single.xml_path)
    assert xml.version == "5.5.64.600" and xml.date
    assert xml.state["framePeriod"] == pytest.approx(0.1)
    assert xml.state["linesPerFrame"] == 8 and xml.state["pixelsPerLine"] == 12
    assert xml.state["micronsPerPixel"]["XAxis"] == pytest.approx(1.0048)
    assert xml.state["laserPower"]["0"] == 230
    assert xml.state["positionCurrent"]["ZAxis"] == {"0": -150}
    assert xml.channels == (2,) and xml.channel_names == ("Ch2",)
    assert not xml.volumetric
    assert xml.sequences[0].type == "TSeries Timed Element"
    assert single.xml_path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_session_from_xml(single):
    session = read_prairieview_session(single.folder)
    assert session.xml is not None and session.version == "5.5.64.600"
    assert (session.n_channels, session.n_planes, session.n_frames) == (1, 1, 6)
    np.testing.assert_allclose(session.frame_times, np.arange(6) * 0.1)
    assert session.frame_period == pytest.approx(0.1)
    assert [p.name for p in session.voltage_recordings] == [
        "TSeries-001_Cycle00001_VoltageRecording_001.csv"]
    assert os.path.basename(session.files[3, 0, 0]) == "TSeries-001_Cycle00001_Ch2_000004.ome.tif"


def test_names_fallback_matches_xml(single):
    by_xml = read_prairieview_session(single.folder)
    by_names = read_prairieview_session(single.folder, use_xml=False)
    assert by_names.xml is None and by_names.frame_times is None
    assert np.array_equal(by_xml.files, by_names.files)


def test_volumetric_bidirectional_plane_order(tmp_path):
    written = write_prairieview_session(tmp_path / "vol", _images(4, 3, 1),
                                        bidirectional_z=True, z_step=10.0)
    session = read_prairieview_session(written.folder)
    assert session.n_planes == 3 and session.n_frames == 4
    np.testing.assert_allclose(session.plane_z, [-150, -140, -130])
    # even cycles are acquired deep-to-shallow: file index 1 is plane 2
    assert os.path.basename(session.files[1, 2, 0]).endswith("_Cycle00002_Ch2_000001.ome.tif")
    assert os.path.basename(session.files[0, 2, 0]).endswith("_Cycle00001_Ch2_000003.ome.tif")
    # volume times: first acquired plane of each cycle
    np.testing.assert_allclose(session.frame_times, written.frame_times)


def test_bidirectional_without_z_uses_cycle_parity(tmp_path):
    written = write_prairieview_session(tmp_path / "vol", _images(2, 3, 1),
                                        bidirectional_z=True)
    text = written.xml_path.read_text(encoding="utf-8-sig")
    # remove per-frame z so only bidirectionalZ + cycle parity decide the order
    text = re.sub(r'\s*<PVStateValue key="positionCurrent">\s*<SubindexedValues index="ZAxis">'
                  r'<SubindexedValue subindex="0" value="[^"]*" /></SubindexedValues>\s*'
                  r'</PVStateValue>(?=\s*</PVStateShard>\s*</Frame>)', "", text)
    written.xml_path.write_text(text, encoding="utf-8")
    session = read_prairieview_session(written.folder)
    assert session.plane_z is None
    assert os.path.basename(session.files[1, 0, 0]).endswith("_Cycle00002_Ch2_000003.ome.tif")


def test_incomplete_last_volume_dropped(tmp_path):
    written = write_prairieview_session(tmp_path / "vol", _images(3, 4, 1), aborted_planes=2)
    with pytest.warns(UserWarning, match="incomplete"):
        session = read_prairieview_session(written.folder)
    assert session.n_frames == 3 and session.dropped_frames == 2 == written.dropped_frames
    with pytest.warns(UserWarning, match="incomplete"):
        names = read_prairieview_session(written.folder, use_xml=False)
    assert names.n_frames == 3


def test_multipage_files(tmp_path):
    written = write_prairieview_session(tmp_path / "mp", _images(5, 1, 2), multipage=True)
    session = read_prairieview_session(written.folder)
    assert session.pages[:, 0, 0].tolist() == [0, 1, 2, 3, 4]
    assert {os.path.basename(p) for p in session.files.ravel()} == {
        "mp_Cycle00001_Ch1_000001.ome.tif", "mp_Cycle00001_Ch2_000001.ome.tif"}


def test_sequences_with_restarting_relative_time(tmp_path):
    written = write_prairieview_session(tmp_path / "burst", _images(4), frame_rate=10.0)
    text = written.xml_path.read_text(encoding="utf-8-sig")
    # split into two Sequences; the second restarts relativeTime and starts 5 s later
    frames = re.findall(r"    <Frame .*?</Frame>", text, flags=re.S)
    second = []
    for k, frame in enumerate(frames[2:]):
        frame = re.sub(r'relativeTime="[^"]*"', f'relativeTime="{k * 0.1}"', frame)
        frame = re.sub(r'absoluteTime="[^"]*"', f'absoluteTime="{7.957 + k * 0.1}"', frame)
        frame = re.sub(r'index="\d+"', f'index="{k + 1}"', frame)
        second.append(frame)
    head, _, _ = text.partition(frames[2])
    text = (head.rstrip() + "\n  </Sequence>\n  <Sequence type=\"TSeries Timed Element\" "
            'cycle="2">\n' + "\n".join(second) + "\n  </Sequence>\n</PVScan>\n")
    written.xml_path.write_text(text, encoding="utf-8")
    session = read_prairieview_session(written.folder)
    np.testing.assert_allclose(session.frame_times, [0, 0.1, 5.0, 5.1], atol=1e-9)


# ------------------------------------------------------------------------------- bad folders
def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_prairieview_session(tmp_path / "nope")


def test_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="is empty"):
        read_prairieview_session(tmp_path)


def test_folder_without_prairieview_images(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((2, 4, 4), np.uint16))
    with pytest.raises(FileNotFoundError, match=r"no PrairieView images.*stack\.tif"):
        read_prairieview_session(tmp_path)


@pytest.mark.parametrize("use_xml", [True, False])
def test_missing_frame(tmp_path, use_xml):
    written = write_prairieview_session(tmp_path / "s", _images(6), voltage=False)
    (written.folder / "s_Cycle00001_Ch2_000004.ome.tif").unlink()
    with pytest.raises(MissingFramesError, match="s_Cycle00001_Ch2_000004"):
        read_prairieview_session(written.folder, use_xml=use_xml)


def test_missing_frame_in_xml_index(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(4), voltage=False)
    text = written.xml_path.read_text(encoding="utf-8-sig").replace('index="3"', 'index="9"')
    written.xml_path.write_text(text, encoding="utf-8")
    with pytest.raises(MissingFramesError, match="jumps from 2 to 9"):
        read_prairieview_session(written.folder)


def test_missing_plane_in_middle_volume(tmp_path):
    written = write_prairieview_session(tmp_path / "v", _images(3, 3), voltage=False)
    (written.folder / "v_Cycle00002_Ch2_000002.ome.tif").unlink()
    with pytest.raises(MissingFramesError, match="Cycle00002_Ch2_000002"):
        read_prairieview_session(written.folder, use_xml=False)
    with pytest.raises(MissingFramesError, match="Cycle00002_Ch2_000002"):
        read_prairieview_session(written.folder)


def test_duplicate_frame_by_names(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(3), voltage=False)
    os.link(written.folder / "s_Cycle00001_Ch2_000002.ome.tif",
            written.folder / "s_Cycle00001_Ch2_0000002.ome.tif")
    with pytest.raises(SessionError, match="duplicate frame.*index 2"):
        read_prairieview_session(written.folder, use_xml=False)


def test_duplicate_frame_in_xml(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(3), voltage=False)
    text = written.xml_path.read_text(encoding="utf-8-sig").replace(
        "s_Cycle00001_Ch2_000003.ome.tif", "s_Cycle00001_Ch2_000002.ome.tif")
    written.xml_path.write_text(text, encoding="utf-8")
    with pytest.raises(SessionError, match="duplicate frame.*000002"):
        read_prairieview_session(written.folder)


def test_mixed_acquisitions(tmp_path):
    for base in ("a", "b"):
        tifffile.imwrite(tmp_path / f"{base}_Cycle00001_Ch2_000001.ome.tif",
                         np.zeros((4, 4), np.uint16))
    with pytest.raises(SessionError, match="mixes images of 2 acquisitions"):
        read_prairieview_session(tmp_path)


def test_non_pvscan_master_xml(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(2), voltage=False)
    written.xml_path.write_text('<?xml version="1.0"?><Other />', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"s\.xml.*<Other>.*<PVScan>"):
        read_prairieview_session(written.folder)


@pytest.mark.parametrize("payload", [
    '<!DOCTYPE PVScan [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    '<PVScan version="&b;" />',
    '<!DOCTYPE PVScan [<!ENTITY ext SYSTEM "file:///etc/passwd">]><PVScan notes="&ext;" />',
])
def test_unsafe_xml_refused(tmp_path, payload):
    path = tmp_path / "evil.xml"
    path.write_text('<?xml version="1.0"?>' + payload, encoding="utf-8")
    with pytest.raises(DataFormatError, match="refused unsafe XML"):
        read_prairieview_xml(path)


def test_no_warning_for_complete_session(single):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_prairieview_session(single.folder)


# ------------------------------------------------------------------ names-only properties
@settings(max_examples=60, deadline=None)
@given(hw_channels=st.sets(st.integers(1, 4), min_size=1, max_size=3),
       planes=st.integers(1, 12), frames=st.integers(1, 15), first_cycle=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_names_layout_property(tmp_path_factory, hw_channels, planes, frames, first_cycle, seed):
    folder = tmp_path_factory.mktemp("names")
    channels = sorted(hw_channels)
    volumetric = planes > 1 and frames > 1
    n_planes = planes if volumetric else 1
    expected = {}
    for f in range(frames):
        for p in range(n_planes):
            for ci, c in enumerate(channels):
                cycle, index = (first_cycle + f, p + 1) if volumetric else (first_cycle, f + 1)
                expected[f, p, ci] = image_name("T-1", cycle, c, index)
    names = list(expected.values()) + ["T-1.xml", "T-1_Cycle00001_VoltageRecording_001.csv"]
    np.random.default_rng(seed).shuffle(names)
    if first_cycle > 1:
        # the first cycles are missing: refused naming cycle 1, accepted as an excerpt
        with pytest.raises(MissingFramesError, match=image_name("T-1", 1, channels[0], 1)):
            _session_from_names(folder, names, ())
        with pytest.warns(UserWarning, match="excerpt"):
            session = _session_from_names(folder, names, (), excerpt=True)
    else:
        session = _session_from_names(folder, names, ())
    assert session.channels == tuple(channels)
    assert (session.n_frames, session.n_planes) == (frames, n_planes)
    for (f, p, ci), name in expected.items():
        assert os.path.basename(session.files[f, p, ci]) == name


@pytest.mark.parametrize("keep_z", [True, False])
def test_bidirectional_series_starting_with_an_even_cycle(tmp_path, keep_z):
    # an excerpt whose XML starts at cycle 2 (run deep-to-shallow): plane p is still file index
    # p + 1 of odd cycles, with or without per-frame z positions
    written = write_prairieview_session(tmp_path / "vol", _images(3, 3, 1),
                                        bidirectional_z=True, z_step=10.0)
    text = written.xml_path.read_text(encoding="utf-8-sig")
    start = text.index('<Sequence type="TSeries ZSeries Element" cycle="1"')
    end = text.index("</Sequence>", start) + len("</Sequence>")
    text = text[:start] + text[end:]
    if not keep_z:
        text = re.sub(r'\s*<PVStateValue key="positionCurrent">\s*<SubindexedValues '
                      r'index="ZAxis"><SubindexedValue subindex="0" value="[^"]*" />'
                      r'</SubindexedValues>\s*</PVStateValue>(?=\s*</PVStateShard>\s*</Frame>)',
                      "", text)
    written.xml_path.write_text(text, encoding="utf-8")
    session = read_prairieview_session(written.folder)
    assert session.n_frames == 2
    names = [[os.path.basename(p).split("_", 1)[1] for p in vol[:, 0]] for vol in session.files]
    assert names == [[f"Cycle0000{c}_Ch2_00000{i}.ome.tif" for i in order]
                     for c, order in ((2, (3, 2, 1)), (3, (1, 2, 3)))]
    if keep_z:
        np.testing.assert_allclose(session.plane_z, [-150, -140, -130])
    stacks = data.load_bruker_tifs(written.folder, progress=False)
    for p in range(3):
        np.testing.assert_array_equal(stacks[p], written.images[1:, p, 0])


def test_non_integer_cycle_named(tmp_path):
    path = tmp_path / "odd.xml"
    path.write_text('<PVScan><Sequence type="TSeries Timed Element" cycle="one" /></PVScan>',
                    encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"odd\.xml.*cycle='one'"):
        read_prairieview_xml(path)


def test_missing_volume_names_the_file(tmp_path):
    written = write_prairieview_session(tmp_path / "v", _images(4, 2), voltage=False)
    for plane in (1, 2):
        (written.folder / f"v_Cycle00002_Ch2_00000{plane}.ome.tif").unlink()
    with pytest.raises(MissingFramesError, match=r"cycle \(volume\) jumps from 1 to 3.*"
                                                 r"v_Cycle00002_Ch2_000001\.ome\.tif"):
        read_prairieview_session(written.folder, use_xml=False)
