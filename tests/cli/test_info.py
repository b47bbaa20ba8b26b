"""``calscipy info FOLDER``."""
from __future__ import annotations

import json

import numpy as np
import pytest

from CalSciPy.cli import main
from CalSciPy.synthetic import write_prairieview_session


def test_info_prints_summary(tmp_path, capsys):
    images = np.zeros((12, 2, 1, 8, 10), np.uint16)
    written = write_prairieview_session(tmp_path / "TSeries-9", images, frame_rate=4.0)
    assert main(["info", str(written.folder), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["version"] == "5.5.64.600"
    assert summary["channels"] == ["0 = Ch2 (Ch2)"]
    assert (summary["planes"], summary["frames"]) == (2, 12)
    assert (summary["height"], summary["width"]) == (8, 10)
    assert abs(summary["frame_rate_hz"] - 4.0) < 1e-9
    assert abs(summary["duration_s"] - 3.0) < 1e-9
    assert summary["voltage_signals"] == {
        "TSeries-9_Cycle00001_VoltageRecording_001.csv": ["Stimulus", "Locomotion"]}
    assert main(["info", str(written.folder)]) == 0
    text = capsys.readouterr().out
    assert "planes: 2" in text and "Stimulus, Locomotion" in text


def test_info_names_only_and_errors(tmp_path, capsys):
    written = write_prairieview_session(tmp_path / "s", np.zeros((3, 4, 4), np.uint16),
                                        voltage=False)
    written.xml_path.unlink()
    assert main(["info", str(written.folder)]) == 0
    assert "master_xml: None" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "missing")]) == 1
    assert "not found" in capsys.readouterr().err


def test_info_refuses_multipage_files_without_xml(tmp_path, capsys):
    written = write_prairieview_session(tmp_path / "mp", np.zeros((5, 4, 4), np.uint16),
                                        multipage=True, voltage=False)
    assert main(["info", str(written.folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 5
    written.xml_path.unlink()
    assert main(["info", str(written.folder)]) == 1
    assert "holds 5 frames" in capsys.readouterr().err


def test_info_lists_voltage_xml_without_csv(tmp_path, capsys):
    written = write_prairieview_session(tmp_path / "v", np.zeros((3, 4, 4), np.uint16))
    written.voltage_csv.unlink()  # an excerpt: the recording's XML without its CSV
    assert main(["info", str(written.folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["voltage_signals"] == {
        "v_Cycle00001_VoltageRecording_001.xml": ["Stimulus", "Locomotion"]}


def test_info_on_real_excerpt(prairieview_fixtures, capsys):
    folder = prairieview_fixtures / "tseries_4plane_excerpt"
    if not folder.is_dir():
        pytest.skip(f"real 4-plane excerpt not available: {folder}")
    assert main(["info", str(folder), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["planes"], summary["frames"], summary["height"]) == (4, 3, 256)
    assert list(summary["voltage_signals"].values()) == [
        ["PicoSpritzer", "PhotoDiode", "Locomotion", "VISstim"]]
    # the real recording was saved in PrairieView's binary form only: said exactly
    (recording,) = summary["voltage_recordings"]
    assert recording["saved"].startswith("binary form only (<IsCSV>false</IsCSV>)")
    assert recording["samples"] == 1200090 and recording["duration_s"] == 1200.09
    assert "loaded as an excerpt" in summary["warnings"][0]
