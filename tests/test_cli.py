"""Tests of the ``calscipy`` command line (``demo`` subcommand)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from CalSciPy.cli import main
from CalSciPy.cli.demo import STAGES, DemoContext, run_pipeline


def test_demo_writes_summary_and_figure(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--neurons", "12", "--seconds", "60",
                 "--seed", "3"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    png = (out / "demo_figure.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    rec = summary["recording"]
    assert rec["neurons"] == 12 and rec["frames"] == 1800 and rec["seed"] == 3
    for method in ("baseline", "sliding"):
        per_neuron = summary["dfof"][method]["baseline_error_per_neuron"]
        assert len(per_neuron) == 12
        assert all(0 <= e < 1 for e in per_neuron)
    assert len(summary["noise"]["per_neuron"]) == 12
    assert summary["noise"]["median"] > 0
    assert {"prairieview", "denoise", "traces", "dfof", "noise", "events", "total",
            "figure"} <= set(summary["timings_s"])
    printed = capsys.readouterr().out
    assert "ΔF/F0" in printed and "summary.json" in printed
    # no temporary files left behind
    assert sorted(p.name for p in out.iterdir()) == [
        "demo_figure.png", "denoise_frame.png", "events_figure.png", "prairieview",
        "stimulus_figure.png", "summary.json"]
    for name in ("stimulus_figure.png", "denoise_frame.png", "events_figure.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_pipeline_stages_report_ground_truth_agreement(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--neurons", "16", "--seconds", "100",
                 "--seed", "2", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    session = summary["prairieview"]
    assert session["identical_to_written"] is True
    assert session["frames"] == 600 and session["shape"] == [128, 128]
    assert "Stimulus" in session["voltage_signals"]
    # stimulus pulses every 2 s at 30 Hz: onset frames 60 apart
    assert np.all(np.diff(session["stimulus_onset_frames"]) == 60)
    denoise = summary["denoise"]
    assert denoise["rms_error_denoised_adu"] < denoise["rms_error_raw_adu"]
    events = summary["events"]
    assert events["detect_events"]["f1"] > 0.8
    assert len(events["fitted_tau_decay_s_per_neuron"]) == 16


def test_demo_is_reproducible_and_overwrites_its_own_output(tmp_path):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--neurons", "5", "--seconds", "20", "--seed", "1"]
    assert main(args) == 0
    first = json.loads((out / "summary.json").read_text())
    assert main(args) == 0
    second = json.loads((out / "summary.json").read_text())
    for key in ("recording", "noise"):
        assert first[key] == second[key]
    assert first["dfof"]["sliding"]["baseline_error_per_neuron"] == \
        second["dfof"]["sliding"]["baseline_error_per_neuron"]


def test_demo_sliding_beats_scalar_baseline_on_default_like_data(tmp_path):
    ctx = DemoContext(out=tmp_path, neurons=20, seconds=300, seed=0)
    summary = run_pipeline(ctx, STAGES)
    assert summary["dfof"]["sliding"]["baseline_error_median"] < 0.03
    assert summary["dfof"]["sliding"]["baseline_error_median"] \
        < summary["dfof"]["baseline"]["baseline_error_median"]
    # the measured noise agrees with the noise model within a factor of ~1.5
    ratio = np.median(summary["noise"]["per_neuron"]) / \
        np.median(summary["noise"]["expected_at_rest_per_neuron"])
    assert 0.8 < ratio < 1.5


@pytest.mark.parametrize("bad", [["--neurons", "0"], ["--seconds", "-1"],
                                 ["--frame-rate", "1"]])
def test_demo_rejects_bad_arguments(tmp_path, bad, capsys):
    code = main(["demo", "--out", str(tmp_path / "x"), *bad])
    assert code == 1
    assert "error" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "CalSciPy", "demo", "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "--neurons" in result.stdout


@pytest.mark.parametrize("bad", [["--seconds", "inf"], ["--seconds", "nan"],
                                 ["--frame-rate", "inf"]])
def test_demo_rejects_non_finite_numbers_without_traceback(tmp_path, bad, capsys):
    # --seconds inf used to end in an OverflowError traceback
    code = main(["demo", "--out", str(tmp_path / "x"), *bad])
    assert code == 1
    err = capsys.readouterr().err
    assert "finite" in err and "Traceback" not in err


def test_demo_out_that_is_a_file_is_a_clean_error(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("user data")
    code = main(["demo", "--out", str(target), "--neurons", "2", "--seconds", "1"])
    assert code == 1
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "user data"


def test_os_errors_of_a_command_are_reported_on_stderr(monkeypatch, capsys):
    import CalSciPy.cli.demo as demo

    def fail(args):
        raise PermissionError(13, "Permission denied", "/nope/summary.json")

    monkeypatch.setattr(demo, "run", fail)  # register() binds demo.run when main() builds
    assert main(["demo", "--out", "x"]) == 1
    captured = capsys.readouterr()
    assert "calscipy demo: error:" in captured.err and "Permission denied" in captured.err
    assert captured.out == ""


def test_no_command_prints_help_on_stderr_with_exit_code_2(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert "usage: calscipy" in captured.err and captured.out == ""
