"""Tests of CalSciPy.bruker.xml_mappings (tag → class mapping per PrairieView version)."""
from __future__ import annotations

import json

import pytest

from CalSciPy.bruker import xml_mappings
from CalSciPy.bruker.xml_mappings.xml_mapping import known_versions, load_mapping, write_mapping
from CalSciPy.bruker.xml_objects import PROTOCOL_CLASSES


def test_shipped_mapping():
    mapping = load_mapping("5.5.64.600")
    assert mapping["PVSavedMarkPointSeriesElements"] == "MarkPointSeriesElements"
    assert mapping["PVGalvoPointGroup"] == "GalvoPointGroup"
    assert set(mapping.values()) == set(PROTOCOL_CLASSES)
    assert "5.5.64.600" in known_versions()
    assert xml_mappings.load_mapping is load_mapping


def test_mapping_is_read_only():
    mapping = load_mapping("5.5.64.600")
    with pytest.raises(TypeError):
        mapping["PVGalvoPoint"] = "Point"  # type: ignore[index]


def test_unknown_version_lists_known_ones():
    with pytest.raises(FileNotFoundError, match="5.5.64.600"):
        load_mapping("9.9.9.9")


@pytest.mark.parametrize("version", ["5.5", "../etc", "", "5.5.64.600.json"])
def test_malformed_version(version):
    if version == "5.5":
        with pytest.raises(FileNotFoundError):
            load_mapping(version)
    else:
        with pytest.raises(ValueError, match="version"):
            load_mapping(version)


def test_write_then_load(tmp_path):
    mapping = dict(load_mapping("5.5.64.600"))
    path = write_mapping(mapping, "5.6.1.0", folder=tmp_path)
    assert path.name == "5_6_1_0.json"
    assert json.loads(path.read_text(encoding="utf-8")) == mapping
    assert dict(load_mapping("5.6.1.0", folder=tmp_path)) == mapping
    assert known_versions(tmp_path) == ("5.6.1.0",)
    with pytest.raises(FileExistsError):
        write_mapping(mapping, "5.6.1.0", folder=tmp_path)
    write_mapping({"PVGalvoPoint": "GalvoPoint"}, "5.6.1.0", folder=tmp_path, overwrite=True)
    assert dict(load_mapping("5.6.1.0", folder=tmp_path)) == {"PVGalvoPoint": "GalvoPoint"}


def test_write_refuses_bad_mappings(tmp_path):
    with pytest.raises(ValueError, match="not one of"):
        write_mapping({"PVGalvoPoint": "NoSuchClass"}, "1.0", folder=tmp_path)
    with pytest.raises(ValueError, match="valid XML tag"):
        write_mapping({"bad tag": "GalvoPoint"}, "1.0", folder=tmp_path)
    with pytest.raises(ValueError):
        write_mapping({}, "1.0", folder=tmp_path)
    assert not list(tmp_path.iterdir())


def test_corrupt_mapping_file(tmp_path):
    (tmp_path / "1_0.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON"):
        load_mapping("1.0", folder=tmp_path)
