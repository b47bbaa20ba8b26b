"""Tests of the ``calscipy`` command line: ``demo`` and the entry point."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from CalSciPy.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    code = main(["demo", "--out", str(out), "--neurons", "12", "--seconds", "30", "--seed", "3",
                 "--no-progress"])
    return code, out


def test_demo_runs_analyze_and_scores_it_against_the_truth(demo_run, capsys):
    code, out = demo_run
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "denoise_frame.png", "neurons.csv", "onsets.csv", "prairieview", "report.html",
        "responsive.csv", "stimulus_figure.png", "summary.json"]  # no temporary files left
    for name in ("stimulus_figure.png", "denoise_frame.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    demo = summary["demo"]
    # onsets from the synthetic voltage trace, each within one frame of the truth
    assert demo["true_onsets"] == 15 and demo["onsets_within_one_frame"] == 15
    assert demo["onsets_found"] == 15
    # traces from pixels follow the true ΔF/F0
    assert demo["trace_correlation_median"] > 0.9
    assert len(demo["trace_correlation_per_roi"]) == 12
    assert demo["responsive_recall"] == 1.0
    assert set(demo["true_responders"]) <= set(demo["responsive_found"])
    assert demo["denoise"]["rms_error_denoised_adu"] < demo["denoise"]["rms_error_raw_adu"]
    assert summary["session"]["frames"] == 900 and summary["headline"]["neurons"] == 12
    assert {"session", "onsets", "traces", "responsive", "outputs", "demo_total"} <= \
        set(summary["timings_s"])


def test_demo_is_reproducible_and_overwrites_its_own_output(demo_run):
    _, out = demo_run
    first = json.loads((out / "summary.json").read_text())
    assert main(["demo", "--out", str(out), "--neurons", "12", "--seconds", "30", "--seed", "3",
                 "--no-progress"]) == 0
    second = json.loads((out / "summary.json").read_text())
    for key in ("stimulus", "noise", "responsive", "headline"):
        assert first[key] == second[key]
    assert first["demo"]["trace_correlation_per_roi"] == \
        second["demo"]["trace_correlation_per_roi"]


@pytest.mark.parametrize("bad, message", [
    (["--neurons", "0"], "--neurons"), (["--seconds", "-1"], "--seconds"),
    (["--frame-rate", "1"], "--frame-rate"), (["--frame-rate", "1e6"], "500 Hz"),
    (["--seconds", "5"], "at least 10 s"),
    (["--seconds", "1000", "--frame-rate", "400"], "at most 3600 frames"),
])
def test_demo_rejects_bad_arguments(tmp_path, bad, message, capsys):
    code = main(["demo", "--out", str(tmp_path / "x"), *bad])
    assert code == 1
    err = capsys.readouterr().err
    assert "error" in err and message in err
    assert not (tmp_path / "x").exists()  # refused before writing anything


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "CalSciPy", "demo", "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "--neurons" in result.stdout
    result = subprocess.run([sys.executable, "-m", "CalSciPy", "analyze", "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "--suite2p" in result.stdout


@pytest.mark.parametrize("bad", [["--seconds", "inf"], ["--seconds", "nan"],
                                 ["--frame-rate", "inf"]])
def test_demo_rejects_non_finite_numbers_without_traceback(tmp_path, bad, capsys):
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
