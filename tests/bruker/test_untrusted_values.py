"""Values read from PrairieView files are untrusted (issue 12, items 6, 7, 8, 13, 14).

Each case was a silent wrong answer or a library's bare message before; now it is one error
naming the file and the element/row (or argument).
"""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from CalSciPy.bruker.data import (
    align_data,
    determine_imaging_content,
    extract_frame_times,
    load_bruker_tifs,
    load_voltage_recording,
)
from CalSciPy.bruker.session import read_prairieview_session, read_prairieview_xml
from CalSciPy.bruker.xml_load import get_voltage_recording
from CalSciPy.cli import main
from CalSciPy.errors import DataFormatError, InvalidArgumentError, MissingFramesError
from CalSciPy.synthetic import write_prairieview_session

RNG = np.random.default_rng(3)


def _images(frames=4, planes=1, shape=(8, 12)):
    return RNG.integers(0, 8192, (frames, planes, 1, *shape), dtype=np.uint16)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return write_prairieview_session(tmp_path_factory.mktemp("t") / "s", _images(4),
                                     frame_rate=10.0)


@pytest.fixture
def session(template, tmp_path):
    folder = tmp_path / "s"
    shutil.copytree(template.folder, folder)
    return folder


def _edit(folder, old, new, count=1):
    xml = folder / "s.xml"
    text = xml.read_text(encoding="utf-8-sig")
    assert old in text
    xml.write_text(text.replace(old, new, count), encoding="utf-8")
    return xml


# ------------------------------------------------- item 6: first frames missing, no XML
def test_missing_first_frames_without_xml(session):
    (session / "s.xml").unlink()
    for i in (1, 2):
        (session / f"s_Cycle00001_Ch2_00000{i}.ome.tif").unlink()
    for call in (read_prairieview_session, determine_imaging_content,
                 lambda f: load_bruker_tifs(f, progress=False)):
        with pytest.raises(MissingFramesError,
                           match=r"first expected file s_Cycle00001_Ch2_000001\.ome\.tif"):
            call(session)
    with pytest.warns(UserWarning, match="starts at s_Cycle00001_Ch2_000003"):
        (images,) = load_bruker_tifs(session, progress=False, excerpt=True)
    assert images.shape[0] == 2


def test_missing_first_cycle_without_xml(tmp_path):
    written = write_prairieview_session(tmp_path / "v", _images(3, 2), voltage=False)
    written.xml_path.unlink()
    for plane in (1, 2):
        (written.folder / f"v_Cycle00001_Ch2_00000{plane}.ome.tif").unlink()
    with pytest.raises(MissingFramesError, match=r"v_Cycle00001_Ch2_000001\.ome\.tif"):
        read_prairieview_session(written.folder)
    with pytest.warns(UserWarning, match="excerpt"):
        session = read_prairieview_session(written.folder, excerpt=True)
    assert (session.n_frames, session.n_planes) == (2, 2)


# ------------------------------------------------------ item 7: master XML values
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.sampled_from(["nan", "NaN", "inf", "-inf", "1e300", "-1e300", "abc", ""])
       | st.floats(allow_nan=True, allow_infinity=True).filter(
           lambda v: not np.isfinite(v) or abs(v) > 1e7).map(repr),
       attribute=st.sampled_from(["relativeTime", "absoluteTime"]))
def test_bad_frame_time_named(template, value, attribute):
    text = template.xml_path.read_text(encoding="utf-8-sig")
    frames = re.findall(rf'{attribute}="[^"]*"', text)
    bad = text.replace(frames[2], f'{attribute}="{value}"', 1)
    path = template.folder.parent / f"bad_{attribute}.xml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(DataFormatError,
                       match=rf"{path.name}: <Frame .*{attribute}=.*Sequence cycle=\"1\""
                             rf".*finite time"):
        read_prairieview_xml(path)


def test_nan_time_is_an_error_not_a_huge_negative_frame_time(session, capsys):
    xml = _edit(session, 'relativeTime="0.2"', 'relativeTime="nan"')
    with pytest.raises(DataFormatError, match=r"s\.xml.*index=\"3\".*relativeTime='nan'"):
        extract_frame_times(xml)
    assert main(["info", str(session), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "relativeTime='nan'" in captured.err


@pytest.mark.parametrize("page", ["0", "-4", "x", "1.5"])
def test_bad_page_named(session, page):
    _edit(session, 'page="1"', f'page="{page}"')
    with pytest.raises(DataFormatError, match=rf"s\.xml: <File .*page=\"{re.escape(page)}\""
                                              r".*expected an integer >= 1"):
        load_bruker_tifs(session, progress=False)


@pytest.mark.parametrize("name", ["../../other/x.ome.tif", "/etc/passwd", "sub/x.ome.tif",
                                  "..\\x.ome.tif", "C:x.ome.tif", ".."])
def test_file_outside_the_session_folder_refused(session, name):
    _edit(session, 's_Cycle00001_Ch2_000002.ome.tif', name)
    with pytest.raises(DataFormatError, match=r"s\.xml: <File .*not a file of the session "
                                              r"folder"):
        read_prairieview_session(session)


@pytest.mark.parametrize("key,value", [("linesPerFrame", "9"), ("pixelsPerLine", "512")])
def test_frame_size_disagreeing_with_the_files(session, capsys, key, value):
    original = {"linesPerFrame": "8", "pixelsPerLine": "12"}[key]
    _edit(session, f'key="{key}" value="{original}"', f'key="{key}" value="{value}"')
    with pytest.raises(DataFormatError, match=rf"s\.xml: <PVStateValue key=\"{key}\" "
                                              rf"value=\"{value}\"> disagrees with the images"):
        read_prairieview_session(session).frame_shape()
    with pytest.raises(DataFormatError, match=key):
        load_bruker_tifs(session, progress=False)
    assert main(["info", str(session)]) == 1
    assert key in capsys.readouterr().err


def test_info_json_is_strict_json(session, capsys):
    assert main(["info", str(session), "--json"]) == 0
    out = capsys.readouterr().out
    json.loads(out, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))


# --------------------------------------------------------- item 8: voltage CSV cells
def _rewrite_cell(csv, row, column, value):
    lines = csv.read_text().splitlines()
    cells = lines[row + 1].split(",")
    cells[column] = value
    lines[row + 1] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 30), value=st.sampled_from(["", "nan", "NaN", " ", "inf", "abc",
                                                       "1.2.3", "--"]))
def test_bad_time_cell_named(template, tmp_path_factory, row, value):
    folder = tmp_path_factory.mktemp("v")
    csv = folder / template.voltage_csv.name
    shutil.copy(template.voltage_csv, csv)
    _rewrite_cell(csv, row, 0, value)
    with pytest.raises(DataFormatError, match=rf"{csv.name}: row {row + 1} \(line {row + 2}\), "
                                              r"column 'Time\(ms\)'.*finite time"):
        load_voltage_recording(csv)


def test_non_numeric_signal_cell_named(session):
    csv = next(session.glob("*VoltageRecording_001.csv"))
    _rewrite_cell(csv, 7, 2, "oops")
    with pytest.raises(DataFormatError, match=r"row 8 \(line 9\), column 'Locomotion' is "
                                              r"'oops', expected a number"):
        load_voltage_recording(csv)


def test_nan_time_no_longer_aligns_zero_frames_silently(session):
    csv = next(session.glob("*VoltageRecording_001.csv"))
    _rewrite_cell(csv, 3, 0, "")
    with pytest.raises(DataFormatError, match="row 4"):
        align_data(load_voltage_recording(csv), extract_frame_times(session / "s.xml"))


# ----------------------------------------------------------------- item 13: clear errors
def test_nan_samples_acquired_named(session):
    xml = next(session.glob("*VoltageRecording_001.xml"))
    text = re.sub(r"<SamplesAcquired>\d+</SamplesAcquired>", "<SamplesAcquired>nan"
                  "</SamplesAcquired>", xml.read_text(encoding="utf-8-sig"))
    xml.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"VoltageRecording_001\.xml: <SamplesAcquired> "
                                              r"is 'nan'"):
        get_voltage_recording(xml)


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, b"Time(ms),a\n\xff\xfe1,2\n"])
def test_binary_file_as_voltage_csv(tmp_path, content):
    path = tmp_path / "rec.csv"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=r"rec\.csv: binary content at byte \d+") as err:
        load_voltage_recording(path)
    assert "codec" not in str(err.value)


def test_align_data_multiindex_named():
    analog = pd.DataFrame({"v": np.arange(4.0)},
                          index=pd.MultiIndex.from_product([[0, 1], [0.0, 1.0]],
                                                           names=["trial", "Time(ms)"]))
    frames = pd.DataFrame({"Imaging Frame": [0, 1]}, index=pd.Index([0, 1], name="Time (ms)"))
    with pytest.raises(InvalidArgumentError, match=r"analog_data has a MultiIndex \(2 levels"):
        align_data(analog, frames)
    with pytest.raises(InvalidArgumentError, match=r"frame_times has a MultiIndex"):
        align_data(analog.iloc[:2].droplevel(0), frames.set_index(
            pd.MultiIndex.from_tuples([(0, 0), (0, 1)])))


# ------------------------------------------------- item 14: voltage-only, XML-only folders
def test_binary_only_voltage_recording_said_exactly(session):
    csv = next(session.glob("*VoltageRecording_001.csv"))
    csv.unlink()
    xml = csv.with_suffix(".xml")
    xml.write_text(xml.read_text(encoding="utf-8-sig").replace("<IsCSV>true</IsCSV>",
                                                               "<IsCSV>false</IsCSV>"),
                   encoding="utf-8")
    for target in (session, xml):
        with pytest.raises(FileNotFoundError, match=r"saved by PrairieView in binary form "
                                                    r"\(<IsCSV>false</IsCSV>\)"):
            load_voltage_recording(target)
    assert get_voltage_recording(xml)["is_csv"] is False


def test_info_on_a_voltage_only_folder(session, capsys):
    for image in session.glob("*.ome.tif"):
        image.unlink()
    (session / "s.xml").unlink()
    assert main(["info", str(session), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"].startswith("none")
    assert summary["voltage_signals"] == {
        "s_Cycle00001_VoltageRecording_001.csv": ["Stimulus", "Locomotion"]}
    (recording,) = summary["voltage_recordings"]
    assert recording["rate_hz"] == 1000.0 and recording["signals"] == ["Stimulus", "Locomotion"]
    assert recording["samples"] == 401 and recording["duration_s"] == pytest.approx(0.401)


def test_a_folder_holding_only_the_master_xml_can_be_inspected(session, capsys):
    for other in session.iterdir():
        if other.name != "s.xml":
            shutil.rmtree(other) if other.is_dir() else other.unlink()
    assert main(["info", str(session), "--json"]) == 0
    by_folder = json.loads(capsys.readouterr().out)
    assert main(["info", str(session / "s.xml"), "--json"]) == 0
    by_xml = json.loads(capsys.readouterr().out)
    assert by_folder == by_xml
    assert (by_xml["frames"], by_xml["height"], by_xml["width"]) == (4, 8, 12)
    assert by_xml["images_present"] is False
    loaded = read_prairieview_session(session / "s.xml")
    assert loaded.n_frames == 4 and loaded.frame_times_s.shape == (4, 1)
    with pytest.raises(FileNotFoundError, match=r"s_Cycle00001_Ch2_000001\.ome\.tif"):
        loaded.stack()[0]
