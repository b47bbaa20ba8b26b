"""Real PrairieView files (../shared/fixtures): skipped with a reason when absent."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from CalSciPy.bruker.data import (
    determine_imaging_content,
    load_bruker_tifs,
    load_voltage_recording,
)
from CalSciPy.bruker.session import read_prairieview_session
from CalSciPy.bruker.xml_load import get_voltage_output, get_voltage_recording
from CalSciPy.errors import MissingFramesError

BASE = "reg1_x300_y009n_z1425t1530_p110t131_APr_VSleft-007"


@pytest.fixture(scope="module")
def excerpt(prairieview_fixtures: Path) -> Path:
    folder = prairieview_fixtures / "tseries_4plane_excerpt"
    if not folder.is_dir():
        pytest.skip(f"real 4-plane excerpt not available: {folder}")
    return folder


# the excerpt holds cycles 2-4 and no master XML: without excerpt=True that is a folder whose
# first volume is missing (frame 0 would really be volume 2)
pytestmark = pytest.mark.filterwarnings("ignore:.*loaded as an excerpt:UserWarning")


def test_excerpt_refused_without_the_flag(excerpt):
    first = f"{BASE}_Cycle00001_Ch2_000001.ome.tif"
    for call in (determine_imaging_content, read_prairieview_session,
                 lambda f: load_bruker_tifs(f, progress=False)):
        with pytest.raises(MissingFramesError, match=rf"first expected file {first}.*"
                                                     r"excerpt=True"):
            call(excerpt)
    with pytest.warns(UserWarning, match=r"starts at .*Cycle00002_Ch2_000001.*excerpt"):
        read_prairieview_session(excerpt, excerpt=True)


def test_content_detection(excerpt):
    # 3 cycles (volumes 2-4) x 4 planes of Ch2, 256x256; References/ is ignored
    assert determine_imaging_content(excerpt, excerpt=True) == (1, 4, 3, 256, 256)


def test_lazy_stack_reads_real_files(excerpt):
    stack = read_prairieview_session(excerpt, excerpt=True).stack(0, 2)
    assert stack.shape == (3, 256, 256) and stack.dtype == np.uint16 and len(stack) == 3
    np.testing.assert_array_equal(
        stack[-1], tifffile.imread(excerpt / f"{BASE}_Cycle00004_Ch2_000003.ome.tif"))
    assert stack.frame_times_s is None  # no master XML: no times


def test_load_pixel_identical_to_tifffile(excerpt):
    stacks = load_bruker_tifs(excerpt, progress=False, excerpt=True)
    assert len(stacks) == 4
    for plane, stack in enumerate(stacks):
        assert stack.shape == (3, 256, 256) and stack.dtype == np.uint16
        for volume, cycle in enumerate((2, 3, 4)):
            name = f"{BASE}_Cycle{cycle:05d}_Ch2_{plane + 1:06d}.ome.tif"
            np.testing.assert_array_equal(stack[volume], tifffile.imread(excerpt / name))


def test_single_channel_plane_selection(excerpt):
    (plane2,) = load_bruker_tifs(excerpt, channel=0, plane=2, progress=False, excerpt=True)
    assert isinstance(plane2, np.ndarray)
    np.testing.assert_array_equal(
        plane2[0], tifffile.imread(excerpt / f"{BASE}_Cycle00002_Ch2_000003.ome.tif"))
    with pytest.raises(ValueError, match=r"channel 1 is out of range.*0 \(Ch2\)"):
        load_bruker_tifs(excerpt, channel=1, progress=False, excerpt=True)
    with pytest.raises(ValueError, match=r"plane 4 is out of range.*4 plane"):
        load_bruker_tifs(excerpt, plane=4, progress=False, excerpt=True)


def test_session_ordering(excerpt):
    session = read_prairieview_session(excerpt, excerpt=True)
    assert session.xml is None and session.channels == (2,)
    names = [os.path.basename(p) for p in session.files[:, :, 0].ravel()]
    expected = [f"{BASE}_Cycle{c:05d}_Ch2_{i:06d}.ome.tif" for c in (2, 3, 4) for i in (1, 2, 3, 4)]
    assert names == expected


def test_excerpt_with_incomplete_last_volume(excerpt, tmp_path):
    folder = tmp_path / "excerpt"
    shutil.copytree(excerpt, folder)
    (folder / f"{BASE}_Cycle00004_Ch2_000004.ome.tif").unlink()
    with pytest.warns(UserWarning, match="last volume .*incomplete"):
        stacks = load_bruker_tifs(folder, progress=False, excerpt=True)
    assert [s.shape[0] for s in stacks] == [2, 2, 2, 2]


def test_voltage_recording_xml(excerpt):
    meta = get_voltage_recording(excerpt / f"{BASE}_Cycle00001_VoltageRecording_001.xml")
    assert meta["samples_acquired"] == 1200090
    assert meta["acquisition_time"] == 1200090
    assert meta["rate"] == 1000.0
    assert meta["date_time"] == "2021-12-01T10:52:35.3717813-05:00"
    assert meta["enabled"] == ["PicoSpritzer", "PhotoDiode", "Locomotion", "VISstim"]
    assert len(meta["signals"]) == 8 and meta["signals"][2]["enabled"] is False


def test_voltage_output_xml(excerpt):
    # this file starts with a UTF-8 byte-order mark
    meta = get_voltage_output(excerpt / f"{BASE}_Cycle00001_VoltageOutput_001.xml")
    assert meta["rate"] == 10000.0
    assert meta["names"] == ["Voltage Output 0"]
    assert meta["units"] == ["V"]
    assert meta["lines"] == [0]
    assert len(meta["waveforms"]) == 8
    pulse = meta["waveforms"][0]["components"][0]
    assert pulse["type"] == "PulseTrain" and pulse["PulseCount"] == "4"


def test_binary_only_voltage_recording_is_said_exactly(excerpt):
    # the real recording's XML says <IsCSV>false</IsCSV> and the folder has no CSV
    with pytest.raises(FileNotFoundError, match=r"saved by PrairieView in binary form "
                                                r"\(<IsCSV>false</IsCSV>\)"):
        load_voltage_recording(excerpt)
    meta = get_voltage_recording(excerpt / f"{BASE}_Cycle00001_VoltageRecording_001.xml")
    assert meta["is_csv"] is False
