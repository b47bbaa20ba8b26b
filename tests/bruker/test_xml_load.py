"""Documented XML readers on synthetic files (real files: test_fixtures_real.py)."""
from __future__ import annotations

import numpy as np
import pytest

from CalSciPy.bruker.xml_load import (
    get_image_xml,
    get_voltage_output,
    get_voltage_recording,
    read_prairieview_xml,
)
from CalSciPy.errors import DataFormatError
from CalSciPy.synthetic import write_prairieview_session


def test_get_image_xml(tmp_path):
    written = write_prairieview_session(tmp_path / "v", np.zeros((2, 3, 2, 4, 4), np.uint16),
                                        frame_rate=10.0, channel_names=("Red", "Green"))
    info = get_image_xml(written.xml_path)
    assert info["channels"] == (1, 2) and info["channel_names"] == ("Red", "Green")
    assert info["indices"].tolist() == [1, 2, 3, 1, 2, 3]
    assert info["cycles"].tolist() == [1, 1, 1, 2, 2, 2]
    np.testing.assert_allclose(info["frame_times"], np.arange(6) / 30.0, atol=1e-9)
    np.testing.assert_allclose(info["relative_times"][3:], np.arange(3) / 30.0, atol=1e-9)
    assert info["frame_period"] == pytest.approx(1 / 30)
    assert read_prairieview_xml(written.xml_path).volumetric


def test_get_voltage_recording_synthetic(tmp_path):
    written = write_prairieview_session(tmp_path / "s", np.zeros((10, 4, 4), np.uint16),
                                        frame_rate=10.0)
    meta = get_voltage_recording(written.voltage_csv.with_suffix(".xml"))
    assert meta["samples_acquired"] == len(written.voltage)
    assert meta["rate"] == 1000.0 and meta["acquisition_time"] == 1000
    assert meta["enabled"] == ["Stimulus", "Locomotion"]


def test_wrong_roots(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text("<PVScan />")
    with pytest.raises(DataFormatError, match="VRecSessionEntry"):
        get_voltage_recording(path)
    with pytest.raises(DataFormatError, match="Experiment"):
        get_voltage_output(path)
    path.write_text("<Experiment><Waveform>")
    with pytest.raises(DataFormatError, match="not well-formed"):
        get_voltage_output(path)
    with pytest.raises(FileNotFoundError):
        get_image_xml(tmp_path / "missing.xml")


def test_entity_expansion_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE VRecSessionEntry [<!ENTITY a "xxxxxxxx">'
                    '<!ENTITY b "&a;&a;&a;&a;">]><VRecSessionEntry><DateTime>&b;</DateTime>'
                    "</VRecSessionEntry>")
    with pytest.raises(DataFormatError, match="refused unsafe XML"):
        get_voltage_recording(path)
