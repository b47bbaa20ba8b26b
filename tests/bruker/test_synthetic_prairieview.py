"""The synthetic PrairieView writer: realistic files that round-trip through the readers."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile

from CalSciPy.bruker._xml import parse_xml
from CalSciPy.bruker.data import load_bruker_tifs
from CalSciPy.bruker.xml_load import get_voltage_recording
from CalSciPy.synthetic import write_prairieview_session


def test_generated_movie_session(tmp_path):
    written = write_prairieview_session(tmp_path / "gen", n_frames=12, shape=(24, 32),
                                        n_channels=2, seed=1)
    assert written.movie is not None
    assert written.images.shape == (12, 1, 2, 24, 32)
    np.testing.assert_array_equal(written.images[:, 0, 0], written.movie.images)
    stacks = load_bruker_tifs(written.folder, progress=False)
    np.testing.assert_array_equal(stacks[1], written.images[:, 0, 1])
    again = write_prairieview_session(tmp_path / "gen2", n_frames=12, shape=(24, 32),
                                      n_channels=2, seed=1)
    np.testing.assert_array_equal(again.images, written.images)


def test_files_look_like_prairieview(tmp_path):
    written = write_prairieview_session(tmp_path / "TSeries-1", np.ones((3, 16, 16), np.uint16))
    names = sorted(p.name for p in written.folder.iterdir())
    assert names == [
        "References", "TSeries-1.env", "TSeries-1.xml",
        "TSeries-1_Cycle00001_Ch2_000001.ome.tif", "TSeries-1_Cycle00001_Ch2_000002.ome.tif",
        "TSeries-1_Cycle00001_Ch2_000003.ome.tif",
        "TSeries-1_Cycle00001_VoltageRecording_001.csv",
        "TSeries-1_Cycle00001_VoltageRecording_001.xml",
    ]
    with tifffile.TiffFile(written.folder / names[3]) as tif:
        page = tif.pages.first
        assert page.tags["Software"].value == "Prairie View 5.5.64.600"
        assert page.rowsperstrip == 8 and page.compression == 1
        assert "BinaryOnly" in page.description
    root = parse_xml(written.xml_path, expected_root="PVScan")
    frame = root.find("Sequence/Frame")
    assert frame.get("parameterSet") == "CurrentSettings"
    assert frame.find("File").get("channelName") == "Ch2"
    assert written.voltage_csv.read_text().startswith("Time(ms), Stimulus, Locomotion\n")
    meta = get_voltage_recording(written.voltage_csv.with_suffix(".xml"))
    assert [s["enabled"] for s in meta["signals"]] == [True, True, False]


def test_stimulus_pulses(tmp_path):
    written = write_prairieview_session(tmp_path / "s", np.zeros((100, 4, 4), np.uint16),
                                        frame_rate=20.0, stimulus_interval=2.0,
                                        stimulus_duration=0.25)
    stim = written.voltage["Stimulus"]
    np.testing.assert_allclose(written.stimulus_onsets, [1.0, 3.0])
    rising = stim.index[np.flatnonzero(np.diff(stim.to_numpy()) > 0) + 1]
    np.testing.assert_allclose(rising, [1000.0, 3000.0])
    assert stim.loc[1000.0:1249.0].eq(5.0).all() and stim.loc[1250.0] == 0.0


def test_writer_refuses_bad_input(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        write_prairieview_session(tmp_path / "full", np.zeros((2, 4, 4), np.uint16))
    with pytest.raises(TypeError, match="uint16"):
        write_prairieview_session(tmp_path / "a", np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="shape"):
        write_prairieview_session(tmp_path / "b", np.zeros((4, 4), np.uint16))
    with pytest.raises(ValueError, match="channels"):
        write_prairieview_session(tmp_path / "c", np.zeros((2, 4, 4), np.uint16),
                                  channels=(1, 2))
    with pytest.raises(ValueError, match="aborted_planes"):
        write_prairieview_session(tmp_path / "d", np.zeros((2, 4, 4), np.uint16),
                                  aborted_planes=1)
