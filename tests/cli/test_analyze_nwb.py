"""``calscipy analyze --nwb``: the analysis also lands in one NWB file."""
from __future__ import annotations

import numpy as np
import pytest

from CalSciPy.cli import main


def test_analyze_writes_trials_rois_and_traces_to_nwb(demo_session, tmp_path):
    pynwb = pytest.importorskip("pynwb", reason="pynwb (the nwb extra) is not installed")
    written, truth, labels = demo_session
    out = tmp_path / "out"
    assert main(["analyze", str(written.folder), "--rois", str(labels), "--out", str(out),
                 "--no-progress", "--post", "1", "--nwb", "--indicator", "GCaMP6s",
                 "--location", "V1", "--emission-nm", "510"]) == 0
    with pynwb.NWBHDF5IO(str(out / "session.nwb"), "r") as io:
        nwb = io.read()
        onsets = truth["onsets_s"][: truth["onset_frames"].size]
        # trials start pre_s before each onset's frame and stop post_s after it
        frame_starts = truth["onset_frames"] / 30.0
        np.testing.assert_allclose(nwb.trials["start_time"][:], frame_starts - 1.0, atol=1e-6)
        np.testing.assert_allclose(nwb.trials["stop_time"][:], frame_starts + 1.0, atol=1e-6)
        assert len(onsets) == len(nwb.trials)
        assert list(nwb.trials["condition"][:]) == ["Stimulus"] * len(onsets)
        ophys = nwb.processing["ophys"]
        dfof = ophys["DfOverF"].roi_response_series
        series = next(iter(dfof.values()))
        assert series.data.shape[1] == 12  # (frames, rois) in NWB


def test_nwb_without_the_metadata_it_needs_is_one_line(demo_session, tmp_path, capsys):
    written, _, labels = demo_session
    code = main(["analyze", str(written.folder), "--rois", str(labels), "--out",
                 str(tmp_path / "o"), "--nwb", "--indicator", "GCaMP6s"])
    assert code == 1
    err = capsys.readouterr().err
    assert "--location" in err and "--emission-nm" in err
    assert not (tmp_path / "o").exists()  # refused before any work
