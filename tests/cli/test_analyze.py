"""Tests of ``calscipy analyze``: the pipeline's outputs and its bad-input messages."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from CalSciPy.cli import main


@pytest.fixture(scope="module")
def analyzed(demo_session, tmp_path_factory):
    import contextlib
    import io

    written, truth, labels = demo_session
    out = tmp_path_factory.mktemp("out") / "analysis"
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = main(["analyze", str(written.folder), "--rois", str(labels), "--out", str(out),
                     "--no-progress", "--post", "1"])
    return code, out, err.getvalue(), std.getvalue(), truth


def test_analyze_writes_report_summary_and_tables(analyzed):
    code, out, err, std, truth = analyzed
    assert code == 0 and std == ""
    assert sorted(p.name for p in out.iterdir()) == [
        "neurons.csv", "onsets.csv", "report.html", "responsive.csv", "summary.json"]
    lines = err.strip().splitlines()
    assert len(lines) == 10  # one line per stage, nothing else
    assert [line.split(":")[1].split("]")[0].strip() for line in lines] == \
        [f"[{k}/10" for k in range(1, 11)]
    summary = json.loads((out / "summary.json").read_text())
    stimulus = summary["stimulus"]["conditions"]["Stimulus"]
    # onsets from the voltage trace, frames under the documented rule: equal to the truth
    assert stimulus["onset_frames"] == [int(f) for f in truth["onset_frames"]]
    np.testing.assert_allclose(stimulus["onset_times_ms"], 1000 * truth["onsets_s"])
    assert summary["headline"]["neurons"] == 12
    assert summary["headline"]["stimuli"] == len(truth["onset_frames"])
    table = pd.read_csv(out / "responsive.csv")
    # ROI ids are the label values: neuron i of the movie is label i + 1
    assert len(table) == 12 and set(table.neuron) == set(range(1, 13))
    found = set(table[table.responsive].neuron)
    assert summary["headline"]["responsive:Stimulus"] == len(found)
    assert set(truth["responders"] + 1) <= found  # every true responder is found
    onsets = pd.read_csv(out / "onsets.csv")
    assert list(onsets.onset_frame) == stimulus["onset_frames"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # no network needed
    assert html.count('<img src="data:image/png;base64,') == 6


def test_analyze_with_suite2p_traces_of_the_session(demo_session, analyzed, tmp_path):
    written, truth, labels = demo_session
    from CalSciPy.roi_tools import extract_traces

    rois = truth["movie"].rois
    F, Fneu = extract_traces(truth["images"], rois, progress=False)
    plane = tmp_path / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    stat = np.array([{"ypix": r.ypix.astype(np.int32), "xpix": r.xpix.astype(np.int32),
                      "lam": np.asarray(r.lam, np.float32), "med": [int(r.centroid[0]),
                      int(r.centroid[1])], "npix": len(r), "radius": float(r.radius),
                      "overlap": np.zeros(len(r), bool)} for r in rois], dtype=object)
    np.save(plane / "stat.npy", stat, allow_pickle=True)
    np.save(plane / "F.npy", F)
    np.save(plane / "Fneu.npy", Fneu)
    np.save(plane / "spks.npy", np.zeros_like(F))
    np.save(plane / "iscell.npy", np.column_stack([np.ones(len(F)), np.ones(len(F))]))
    ops = {"fs": 30.0, "nplanes": 1, "nchannels": 1, "Ly": 128, "Lx": 128,
           "meanImg": truth["images"].mean(0).astype(np.float32), "nframes": F.shape[1],
           "tau": 1.0, "neucoeff": 0.7}
    np.save(plane / "ops.npy", ops, allow_pickle=True)
    out = tmp_path / "out"
    # the suite2p/ root: the analysed plane (0) is read from it
    assert main(["analyze", str(written.folder), "--suite2p", str(plane.parent), "--out",
                 str(out), "--no-progress", "--post", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    # suite2p's ids are its row numbers, here the movie's neuron numbers
    assert summary["traces"]["roi_ids"] == list(range(12))
    assert set(truth["responders"]) <= set(summary["responsive"]["ids_per_condition"]["Stimulus"])
    # another session's suite2p output: a frame-count mismatch, one clear line
    np.save(plane / "F.npy", F[:, :-7])
    np.save(plane / "Fneu.npy", Fneu[:, :-7])
    np.save(plane / "spks.npy", np.zeros_like(F[:, :-7]))
    ops["nframes"] = F.shape[1] - 7
    np.save(plane / "ops.npy", ops, allow_pickle=True)
    _fails([written.folder, "--suite2p", plane, "--out", tmp_path / "o2"],
           f"has {F.shape[1] - 7} frames but the session has {F.shape[1]}")


def _fails(args, message, capsys=None):
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["analyze", *map(str, args), "--no-progress"])
    text = err.getvalue()
    assert code == 1, text
    errors = [line for line in text.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], text
    assert "Traceback" not in text
    return errors[0]


def test_bad_stimulus_channel_lists_those_that_exist(demo_session, tmp_path):
    written, _, labels = demo_session
    line = _fails([written.folder, "--rois", labels, "--out", tmp_path / "o", "--stimulus",
                   "LED"], "no stimulus channel 'LED'")
    assert "Stimulus, Locomotion" in line


def test_no_onsets_says_threshold_or_signal_range(demo_session, tmp_path):
    written, _, labels = demo_session
    line = _fails([written.folder, "--rois", labels, "--out", tmp_path / "o", "--stimulus",
                   "Locomotion"], "no onsets found in stimulus channel 'Locomotion'")
    assert "range" in line


def test_onsets_outside_the_imaging_period(demo_session, tmp_path):
    written, _, labels = demo_session
    folder = tmp_path / written.folder.name
    shutil.copytree(written.folder, folder)
    csv = next(folder.glob("*VoltageRecording*.csv"))
    lines = csv.read_text().splitlines()
    last = float(lines[-1].split(",")[0])
    # the voltage recording runs 3 s past the last frame, with one more pulse in it
    extra = [f"{last + k},{5 if 1000 <= k < 1500 else 0},0" for k in range(1, 3000)]
    csv.write_text("\n".join(lines + extra) + "\n")
    line = _fails([folder, "--rois", labels, "--out", tmp_path / "o"],
                  "outside the imaging period")
    assert "stimulus channel 'Stimulus'" in line and "--drop-outside" in line


def test_existing_output_folder_needs_overwrite(demo_session, tmp_path):
    written, _, labels = demo_session
    out = tmp_path / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("user data")
    _fails([written.folder, "--rois", labels, "--out", out], "pass --overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


@pytest.mark.parametrize("args, message", [
    (["--pre", "0"], "--pre must be > 0"),
    (["--nwb"], "--nwb needs"),
])
def test_bad_options_are_one_line(demo_session, tmp_path, args, message):
    written, _, labels = demo_session
    _fails([written.folder, "--rois", labels, "--out", tmp_path / "o", *args], message)


def test_label_image_of_another_shape(demo_session, tmp_path):
    import tifffile

    written, _, _ = demo_session
    labels = tmp_path / "small.tif"
    tifffile.imwrite(labels, np.ones((64, 64), np.uint16))
    _fails([written.folder, "--rois", labels, "--out", tmp_path / "o"], "label image has shape")


def test_volumetric_session_uses_the_plane_s_own_frame_times(tmp_path):
    import tifffile

    from CalSciPy.bruker.session import read_prairieview_session
    from CalSciPy.synthetic import write_prairieview_session

    written = write_prairieview_session(tmp_path / "TSeries-vol", n_frames=150, shape=(48, 48),
                                        n_planes=3, frame_rate=10.0, seed=2,
                                        stimulus_interval=1.9)
    labels = np.zeros((48, 48), np.uint16)
    labels[5:12, 5:12], labels[20:28, 30:38], labels[35:42, 10:17] = 1, 2, 3
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, labels)
    out = tmp_path / "out"
    assert main(["analyze", str(written.folder), "--rois", str(path), "--out", str(out),
                 "--plane", "2", "--no-progress", "--pre", "0.5", "--post", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    plane_times = read_prairieview_session(written.folder).frame_times_s[:, 2]
    onsets = written.stimulus_onsets
    onsets = onsets[onsets <= plane_times[-1]]
    # by the rule, against plane 2's own start times (not the volume's first plane)
    expected = [int(np.flatnonzero(plane_times >= t - 1e-6)[0]) for t in onsets]
    found = summary["stimulus"]["conditions"]["Stimulus"]["onset_frames"]
    assert found == expected
    # pulses at 0.95 + 1.9 k s fall between plane 2's and the next volume's start: plane 0's
    # times would give the next volume
    first_plane = read_prairieview_session(written.folder).frame_times_s[:, 0]
    assert found != [int(np.flatnonzero(first_plane >= t - 1e-6)[0]) for t in onsets]
    assert summary["session"]["planes"] == 3 and summary["session"]["plane_analysed"] == 2
    assert summary["session"]["frame_rate_hz"] == pytest.approx(10.0)


def test_two_stimulus_channels_are_two_conditions(demo_session, tmp_path):
    written, truth, labels = demo_session
    folder = tmp_path / written.folder.name
    shutil.copytree(written.folder, folder)
    csv = next(folder.glob("*VoltageRecording*.csv"))
    lines = csv.read_text().splitlines()
    rows = []
    for line in lines[1:]:  # the second channel: 0.3 s pulses 1 s after each Stimulus pulse
        t, stim, _ = line.split(",")
        phase = (float(t) - 2000.0) % 2000.0
        rows.append(f"{t},{stim},{5 if float(t) >= 2000 and phase < 300 else 0}")
    csv.write_text("\n".join([lines[0], *rows]) + "\n")
    out = tmp_path / "out"
    assert main(["analyze", str(folder), "--rois", str(labels), "--out", str(out),
                 "--stimulus", "Stimulus", "--stimulus", "Locomotion", "--post", "0.9",
                 "--pre", "0.9", "--no-progress", "--drop-outside"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    conditions = summary["stimulus"]["conditions"]
    # the second channel's last pulse starts with the voltage recording's last sample, after
    # the last frame: left out (--drop-outside) and listed
    assert summary["stimulus"]["dropped_outside_imaging_ms"] == {"Locomotion": [20000.0]}
    assert list(conditions) == ["Stimulus", "Locomotion"]
    assert conditions["Locomotion"]["onset_times_ms"] == \
        [2000.0 + 2000.0 * k for k in range(conditions["Locomotion"]["count"])]
    assert summary["trials"]["trials"] == conditions["Stimulus"]["count"] + \
        conditions["Locomotion"]["count"]
    table = pd.read_csv(out / "responsive.csv")
    assert list(dict.fromkeys(table.condition)) == ["Stimulus", "Locomotion"]
    assert set(summary["headline"]) == {"neurons", "stimuli", "responsive:Stimulus",
                                        "responsive:Locomotion"}
    # the responders answer the Stimulus pulses, not the second channel's
    stim = set(summary["responsive"]["ids_per_condition"]["Stimulus"])
    assert set(truth["responders"] + 1) <= stim
