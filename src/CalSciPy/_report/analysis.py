"""The analysis behind ``calscipy analyze``: PrairieView folder → responsive neurons → report.

Stages (each reported through ``on_stage`` once, with its duration):

session → onsets (voltage channel(s) → :func:`CalSciPy.trials.find_onsets`, one condition per
channel) → traces (suite2p's, or extracted from the movie with the given ROIs) → neuropil
(``F − c·Fneu``) → ΔF/F0 (sliding percentile baseline) → noise → events (OASIS when the
``spikes`` extra is installed, else the documented ``identify_events``) → trials (tensor) →
responsive (Wilcoxon + BH) → outputs (``report.html``, ``summary.json``, CSV tables, NWB).
"""
from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy.errors import InvalidArgumentError

__all__ = ["AnalysisResult", "analyze_session", "OUTPUT_FILES"]

REPORT_NAME = "report.html"
SUMMARY_NAME = "summary.json"
RESPONSIVE_CSV = "responsive.csv"
ONSETS_CSV = "onsets.csv"
NEURONS_CSV = "neurons.csv"
NWB_NAME = "session.nwb"
#: every file ``analyze_session`` may write into ``out`` (only these are ever replaced)
OUTPUT_FILES = (REPORT_NAME, SUMMARY_NAME, RESPONSIVE_CSV, ONSETS_CSV, NEURONS_CSV, NWB_NAME)
#: frames averaged for the mean image when the ROIs come without one (evenly spaced)
MEAN_IMAGE_FRAMES = 200
#: zlib level of the report's PNGs: level 6 (the default) makes them ~9 % smaller for ~70 %
#: more encoding time
PNG_LEVEL = 3


@dataclass
class AnalysisResult:
    """What :func:`analyze_session` computed and wrote.

    Attributes
    ----------
    out
        Output folder.
    summary
        The content of ``summary.json``.
    files
        Paths written.
    data
        Arrays of the stages, for callers that score or plot them further: ``frame_times``
        (s), ``onsets`` (condition → :class:`~CalSciPy.trials.Onsets`), ``F``, ``Fneu``,
        ``corrected``, ``dfof`` (``(rois, frames)``), ``noise``, ``events``, ``tensor``,
        ``time_s``, ``conditions``, ``responsive`` (DataFrame), ``rois``, ``ids``,
        ``mean_image``.
    """

    out: Path
    summary: dict
    files: list[Path] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def _round(values, digits: int = 5) -> list:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in np.ravel(values)]


def _pick_stimulus(columns: Sequence[str], stimulus: Sequence[str] | None, csv: str) -> list:
    names = [str(c) for c in columns]
    if stimulus:
        missing = [s for s in stimulus if s not in names]
        if missing:
            raise InvalidArgumentError(
                f"no stimulus channel {missing[0]!r} in {csv}; channels: {', '.join(names)}"
            )
        return list(stimulus)
    guesses = [n for n in names if "stim" in n.lower()]
    if len(guesses) == 1:
        return guesses
    raise InvalidArgumentError(
        f"say which voltage channel holds the stimulus (--stimulus); {csv} has: "
        f"{', '.join(names)}"
    )


def _mean_image(stack, n_frames: int) -> np.ndarray:
    picks = np.unique(np.linspace(0, n_frames - 1, min(MEAN_IMAGE_FRAMES, n_frames)).astype(int))
    total = np.zeros(tuple(int(v) for v in stack.shape[1:]), dtype=np.float64)
    for index in picks:
        np.add(total, stack[int(index)], out=total)  # no float64 copy of each frame
    return total / picks.size


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"output folder {out} exists and is not empty; pass --overwrite "
                              "to replace the analysis files in it")


def _load_rois(rois, shape: tuple[int, int]):
    """An ROISet from an ROISet or a label image file (TIFF or .npy)."""
    from CalSciPy.roi_tools import ROISet

    if isinstance(rois, ROISet):
        return rois
    path = Path(rois)
    if not path.is_file():
        raise FileNotFoundError(f"--rois {path}: no such label image")
    if path.suffix.lower() == ".npy":
        labels = np.load(path, allow_pickle=False)
    else:
        import tifffile

        try:
            labels = tifffile.imread(path)
        except Exception as err:  # tifffile raises many types for corrupt files
            raise InvalidArgumentError(f"--rois {path}: not a readable TIFF ({err})") from err
    labels = np.squeeze(labels)
    if labels.shape != tuple(shape):
        raise InvalidArgumentError(
            f"--rois {path}: label image has shape {labels.shape} but the session's frames "
            f"are {shape[0]}×{shape[1]}"
        )
    return ROISet.from_labels(labels)


def analyze_session(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    suite2p: str | os.PathLike | None = None,
    rois=None,
    stimulus: Sequence[str] | None = None,
    channel: int = 0,
    plane: int = 0,
    pre_s: float = 1.0,
    post_s: float = 2.0,
    neuropil_coefficient: float = 0.7,
    alpha: float = 0.05,
    drop_outside: bool = False,
    nwb: bool = False,
    nwb_options: dict | None = None,
    overwrite: bool = False,
    progress: bool = False,
    on_stage: Callable[[str, str], None] | None = None,
    title: str | None = None,
    extra_facts: dict | None = None,
    evaluate: Callable[[dict], dict] | None = None,
) -> AnalysisResult:
    """Analyse a PrairieView folder from voltage stimulus to responsive neurons; write a report.

    Parameters
    ----------
    folder
        PrairieView acquisition folder (master XML, images, a VoltageRecording CSV).
    out
        Output folder; created when missing. An existing non-empty folder needs ``overwrite``
        (then only the files in :data:`OUTPUT_FILES` are replaced).
    suite2p
        A suite2p plane folder (or ``suite2p/`` root): its F, Fneu, ``iscell`` ROIs and mean
        image are used (cells only). Exclusive with ``rois``.
    rois
        A :class:`CalSciPy.roi_tools.ROISet`, or a label image file (TIFF or ``.npy``, 0 =
        background, one value per ROI): traces are extracted from the movie with neuropil.
    stimulus
        Voltage channel name(s); each is one condition. None: the one channel whose name
        contains "stim".
    channel, plane
        Imaging channel (0-based position) and plane analysed.
    pre_s, post_s
        Trial window (s) before and after each onset; the baseline window is ``(−pre_s, 0)``
        and the response window ``(0, post_s)``.
    neuropil_coefficient
        ``c`` of ``F − c·Fneu``.
    alpha
        False-discovery rate for "responsive".
    drop_outside
        Leave out onsets outside the imaging period (e.g. a voltage recording that ran on
        after the last frame; listed in ``summary.json``) instead of refusing them.
    nwb
        Also write ``session.nwb`` with :func:`CalSciPy.nwb.write_nwb` (the movie, voltage,
        ROIs, F, Fneu, corrected F, ΔF/F0, trials and events; needs the ``nwb`` extra).
    nwb_options
        Keyword arguments of ``write_nwb`` the session cannot supply: ``indicator``,
        ``location``, ``emission_wavelength`` (required), subject fields...
    overwrite
        Allow an existing non-empty ``out``.
    progress
        Show tqdm bars of the long stages (extraction, spike inference).
    on_stage
        Called as ``on_stage(stage, message)`` once per finished stage (the CLI prints it).
    title, extra_facts
        Report title, and extra ``name → value`` facts for its overview.
    evaluate
        Called with :attr:`AnalysisResult.data` once the analysis is done, before the outputs
        are written; the ``name → value`` facts it returns join the report's overview (the demo
        scores the pipeline against its ground truth this way).

    Returns
    -------
    AnalysisResult
        The summary, the files written and the stage arrays. Warnings of the library
        during the run are recorded (``summary["warnings"]``, per stage) and passed to
        ``on_stage`` with their stage's message, not shown.

    Raises
    ------
    InvalidArgumentError
        No such stimulus channel (the message lists those that exist), no onsets found (says
        the threshold and the signal range), onsets outside the imaging period, suite2p traces
        of another length than the session, a label image of another shape.
    FileExistsError
        ``out`` exists and is not empty, without ``overwrite``.
    """

    folder = Path(folder)
    out = Path(out)
    if suite2p is not None and rois is not None:
        raise InvalidArgumentError("give --suite2p or --rois, not both")
    if suite2p is None and rois is None:
        raise InvalidArgumentError("give the ROIs: --suite2p DIR (suite2p output) or --rois "
                                   "LABELS.tif (a label image to extract traces with)")
    _check_out(out, overwrite)
    if not pre_s > 0:
        raise InvalidArgumentError(f"--pre must be > 0 s (the baseline window is (−pre, 0)), "
                                   f"got {pre_s}")
    if nwb:
        _nwb_writer()  # fail before the work, not after it
        flags = {"indicator": "--indicator", "location": "--location",
                 "emission_wavelength": "--emission-nm"}
        missing = [k for k in flags if (nwb_options or {}).get(k) is None]
        if missing:
            raise InvalidArgumentError(
                "--nwb needs what the PrairieView folder does not record: "
                + ", ".join(f"{flags[k]} (nwb_options['{k}'])" for k in missing))
    notify = on_stage or (lambda stage, message: None)
    timings: dict[str, float] = {}
    data: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    clock = [time.perf_counter()]

    seen = [0]
    caught: list = []

    def done(stage: str, message: str) -> None:
        now = time.perf_counter()
        timings[stage] = round(now - clock[0], 4)
        clock[0] = now
        # library warnings of the stage go into its one line and the summary, not to stderr
        new = [str(w.message) for w in caught[seen[0]:]]
        seen[0] = len(caught)
        if new:
            summary.setdefault("warnings", {})[stage] = new
        note = "".join(f"; warning: {text}" for text in new)
        notify(stage, f"{message} ({timings[stage]:.2f} s){note}")

    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        caught = recorded
        return _run(folder, out, suite2p, rois, stimulus, channel, plane, pre_s, post_s,
                    neuropil_coefficient, alpha, drop_outside, nwb, nwb_options, progress, title,
                    extra_facts, evaluate, done, timings, data, summary)


def _run(folder, out, suite2p, rois, stimulus, channel, plane, pre_s, post_s,
         neuropil_coefficient, alpha, drop_outside, nwb, nwb_options, progress, title,
         extra_facts,
         evaluate, done, timings, data, summary) -> AnalysisResult:
    from CalSciPy.bruker.data import load_voltage_recording
    from CalSciPy.bruker.session import read_prairieview_session
    from CalSciPy.trials import (
        _frames_and_inside,
        find_onsets,
        generate_trial_tensor,
        responsive_neurons,
    )

    # ------------------------------------------------------------------ session
    session = read_prairieview_session(folder)
    stack = session.stack(channel, plane)
    height, width = (int(v) for v in stack.shape[1:])
    info: dict[str, Any] = {
        "channels": [f"{i} = Ch{c} ({n})" for i, (c, n) in
                     enumerate(zip(session.channels, session.channel_names))],
        "planes": int(session.n_planes), "height": height, "width": width,
        "voltage_signals": [p.name for p in session.voltage_recordings],
    }
    n_frames = int(stack.shape[0])
    times = session.frame_times_s
    if times is None:
        raise InvalidArgumentError(f"{folder} has no master XML: frame times are needed to "
                                   "place stimulus onsets")
    frame_times = np.asarray(times[:, plane], dtype=np.float64)
    period = float(np.median(np.diff(frame_times))) if n_frames > 1 else None
    if not period or period <= 0:
        raise InvalidArgumentError(f"{folder}: cannot tell the frame rate from "
                                   f"{n_frames} frame time(s)")
    rate = 1.0 / period
    summary["session"] = {
        "folder": str(folder), "channels": info["channels"], "planes": info["planes"],
        "frames": n_frames, "height": info["height"], "width": info["width"],
        "frame_rate_hz": round(rate, 6), "duration_s": round(n_frames * period, 4),
        "channel_analysed": int(channel), "plane_analysed": int(plane),
        "voltage_recordings": info["voltage_signals"],
    }
    data["frame_times"] = frame_times
    done("session", f"{folder.name}: {info['planes']} plane(s), {len(info['channels'])} "
                    f"channel(s), {n_frames} frames {info['height']}×{info['width']} at "
                    f"{rate:.3g} Hz ({n_frames * period:.1f} s)")

    # ------------------------------------------------------------------ onsets
    if not session.voltage_recordings:
        raise InvalidArgumentError(f"{folder} has no VoltageRecording CSV to find stimulus "
                                   "onsets in")
    csv = session.voltage_recordings[0]
    voltage = load_voltage_recording(csv)
    names = _pick_stimulus(voltage.columns, stimulus, csv.name)
    onsets: dict[str, Any] = {}
    dropped: dict[str, list] = {}
    for name in names:
        try:
            found = find_onsets(voltage[name])
        except InvalidArgumentError as err:
            raise InvalidArgumentError(f"no onsets found in stimulus channel {name!r}: "
                                       f"{err}") from None
        if len(found) == 0:
            raise InvalidArgumentError(f"no onsets found in stimulus channel {name!r}: "
                                       f"{found.describe()}")
        try:
            frames, inside = _frames_and_inside(found.times_s, frame_times,
                                                "drop" if drop_outside else "raise")
        except InvalidArgumentError as err:
            raise InvalidArgumentError(f"stimulus channel {name!r}: {err}; or pass "
                                       "--drop-outside") from None
        if not inside.all():
            dropped[name] = _round(found.times_ms[~inside], 3)
        if not inside.any():
            raise InvalidArgumentError(f"stimulus channel {name!r}: all {len(found)} onsets "
                                       "are outside the imaging period")
        onsets[name] = replace(found, times_ms=found.times_ms[inside], frames=frames[inside])
    summary["stimulus"] = {
        "voltage_csv": csv.name,
        "rule": "onset = first sample at or above the threshold; onset frame = first frame "
                "that starts at or after the onset",
        "dropped_outside_imaging_ms": dropped,
        "conditions": {
            name: {"count": len(o), "threshold": round(o.threshold, 6),
                   "levels": None if o.levels is None else _round(o.levels, 6),
                   "onset_times_ms": _round(o.times_ms, 3),
                   "onset_frames": [int(f) for f in np.asarray(o.frames)]}
            for name, o in onsets.items()
        },
    }
    data["onsets"] = onsets
    data["voltage"] = voltage
    done("onsets", "; ".join(f"{len(o)} in {n!r} (threshold {o.threshold:.3g})"
                             for n, o in onsets.items()))

    # ------------------------------------------------------------------ traces
    from CalSciPy import roi_tools

    mean_image = None
    if suite2p is not None:
        s2p_path = Path(suite2p)
        # a suite2p/ root holds every plane: read the analysed one (a plane folder is one)
        is_plane = (s2p_path / "stat.npy").is_file() or s2p_path.name == "stat.npy"
        s2p = roi_tools.load_suite2p(s2p_path, plane=None if is_plane else plane)
        cells = np.asarray(s2p.iscell)
        cells = cells[:, 0] if cells.ndim == 2 else cells
        cells = cells.astype(bool)
        F = np.asarray(s2p.F)[cells]
        Fneu = np.asarray(s2p.Fneu)[cells]
        if F.shape[1] != n_frames:
            raise InvalidArgumentError(
                f"--suite2p {suite2p} has {F.shape[1]} frames but the session has {n_frames} "
                f"(plane {plane}): output of another session?"
            )
        roi_set = s2p.rois.select(mask=cells) if hasattr(s2p.rois, "select") else s2p.rois
        settings = getattr(s2p, "settings", {}) or {}
        mean_image = settings.get("meanImg") if hasattr(settings, "get") else None
        source = f"suite2p ({suite2p}), {int(cells.sum())} cells of {cells.size} ROIs"
    else:
        roi_set = _load_rois(rois, (int(stack.shape[1]), int(stack.shape[2])))
        F, Fneu = roi_tools.extract_traces(stack, roi_set, progress=progress)
        source = f"extracted from the movie (channel {channel}, plane {plane}) with " \
                 f"{len(roi_set)} ROIs"
    if mean_image is None:
        mean_image = _mean_image(stack, n_frames)
    ids = np.asarray(roi_set.ids)
    summary["traces"] = {"source": source, "rois": int(F.shape[0]),
                         "roi_ids": [int(i) for i in ids]}
    data.update(F=F, Fneu=Fneu, rois=roi_set, ids=ids, mean_image=np.asarray(mean_image))
    if F.shape[0] == 0:
        raise InvalidArgumentError("no ROIs to analyse (empty ROI set or no suite2p cells)")
    done("traces", f"{F.shape[0]} ROIs, {source}")

    # ------------------------------------------------------------------ neuropil, ΔF/F0
    corrected = roi_tools.subtract_neuropil(F, Fneu, neuropil_coefficient)
    data["corrected"] = corrected
    summary["neuropil"] = {"coefficient": neuropil_coefficient, "rule": "F − c·Fneu"}
    done("neuropil", f"F − {neuropil_coefficient:g}·Fneu")

    from CalSciPy.trace_processing import calculate_dfof, calculate_standardized_noise

    duration = n_frames / rate
    window_s = min(30.0, duration / 2)  # a baseline window longer than the recording is moot
    dfof = calculate_dfof(corrected, frame_rate=rate, method="sliding", window_s=window_s)
    data["dfof"] = dfof
    summary["dfof"] = {"method": "sliding 8th-percentile baseline", "window_s": window_s}
    done("dfof", f"ΔF/F0 with a sliding {window_s:.3g} s baseline")

    noise = calculate_standardized_noise(dfof, frame_rate=rate)
    data["noise"] = noise
    summary["noise"] = {"units": "% Hz^-1/2", "median": round(float(np.nanmedian(noise)), 5),
                        "per_neuron": _round(noise)}
    done("noise", f"standardized noise median {np.nanmedian(noise):.3g} % Hz^-1/2")

    # ------------------------------------------------------------------ events
    from CalSciPy.errors import MissingDependencyError
    from CalSciPy.event_processing import detect_events, identify_events, infer_spikes

    events: Any
    try:
        inference = infer_spikes(np.nan_to_num(dfof), rate, progress=progress)
        events = detect_events(dfof, rate, inference=inference)
        method = "OASIS deconvolution (infer_spikes + detect_events)"
        data["inference"] = inference
    except MissingDependencyError:
        events = identify_events(np.nan_to_num(dfof), frame_rate=rate)
        method = "identify_events (OASIS not installed: pip install 'calscipy[spikes]')"
    counts = np.array([len(e) for e in events])
    data["events"] = events
    summary["events"] = {"method": method, "count": int(counts.sum()),
                         "rate_hz_per_neuron": _round(counts / duration)}
    done("events", f"{int(counts.sum())} events, {method}")

    # ------------------------------------------------------------------ trials
    onset_frames = np.concatenate([o.frames for o in onsets.values()])
    conditions = np.concatenate([[n] * len(o) for n, o in onsets.items()])
    order = np.argsort(onset_frames, kind="stable")
    onset_frames, conditions = onset_frames[order], conditions[order]
    tensor, time_s = generate_trial_tensor(dfof, onset_frames, pre_s, post_s, rate)
    data.update(tensor=tensor, time_s=time_s, conditions=conditions,
                onset_frames=onset_frames)
    summary["trials"] = {"pre_s": pre_s, "post_s": post_s, "frames": int(time_s.size),
                         "trials": int(tensor.shape[0]),
                         "incomplete_windows": int(np.isnan(tensor).any(axis=(1, 2)).sum())}
    done("trials", f"tensor {tensor.shape[0]} trials × {tensor.shape[1]} neurons × "
                   f"{tensor.shape[2]} frames ({-pre_s:g} to {post_s:g} s)")

    baseline_s, response_s = (-pre_s, 0.0), (0.0, post_s)
    table = responsive_neurons(tensor, baseline_s, response_s, time_s=time_s,
                               conditions=conditions, ids=ids, alpha=alpha)
    data["responsive"] = table
    per_condition = {str(c): int(table[table.condition == c].responsive.sum())
                     for c in onsets}
    summary["responsive"] = {
        "test": "Wilcoxon signed-rank of response − baseline window means across trials",
        "fdr": "Benjamini–Hochberg across neurons, per condition", "alpha": alpha,
        "baseline_s": list(baseline_s), "response_s": list(response_s),
        "per_condition": per_condition,
        "ids_per_condition": {str(c): [int(i) for i in
                                       table[(table.condition == c) & table.responsive].neuron]
                              for c in onsets},
    }
    done("responsive", "; ".join(f"{k} of {F.shape[0]} neurons respond to {c!r}"
                                 for c, k in per_condition.items()) + f" (FDR {alpha:g})")

    # ------------------------------------------------------------------ outputs
    summary["headline"] = {"neurons": int(F.shape[0]),
                           "stimuli": int(sum(len(o) for o in onsets.values())),
                           **{f"responsive:{c}": k for c, k in per_condition.items()}}
    if evaluate is not None:
        extra_facts = {**(extra_facts or {}), **evaluate(data)}
    out.mkdir(parents=True, exist_ok=True)
    files = _write_outputs(out, folder, summary, data, timings, overwrite=True,
                           title=title, extra_facts=extra_facts, rate=rate)
    if nwb:
        files.append(_write_nwb(out / NWB_NAME, session, data, dict(nwb_options or {}), pre_s,
                                post_s, progress))
        summary["nwb"] = NWB_NAME
    done("outputs", f"wrote {', '.join(p.name for p in files)} into {out}")
    summary["timings_s"] = dict(timings)
    summary["timings_s"]["total"] = round(sum(timings.values()), 4)
    _write_json(out / SUMMARY_NAME, summary)
    return AnalysisResult(out=out, summary=summary, files=files, data=data)


def _write_json(path: Path, summary: dict) -> None:
    from CalSciPy._atomic import atomic_write

    with atomic_write(path, overwrite=True, mode="w") as handle:
        json.dump(summary, handle, indent=1, ensure_ascii=False)
        handle.write("\n")


def _write_csv(path: Path, frame) -> Path:
    from CalSciPy._atomic import atomic_write

    with atomic_write(path, overwrite=True, mode="w") as handle:
        frame.to_csv(handle, index=False)
    return path


def _nwb_writer():
    try:
        from CalSciPy import nwb
    except ImportError as err:
        raise InvalidArgumentError(f"--nwb: NWB output is not available in this CalSciPy "
                                   f"({err})") from None
    return nwb.write_nwb


def _write_nwb(path: Path, session, data: dict, nwb_options: dict, pre_s: float,
               post_s: float, progress: bool) -> Path:
    """The session, ROIs, traces, trials and events as one NWB file (``CalSciPy.nwb``)."""
    import pandas as pd

    write_nwb = _nwb_writer()
    frame_times = data["frame_times"]
    onset_s = frame_times[np.asarray(data["onset_frames"])]
    trials = pd.DataFrame({"start_time": onset_s - pre_s, "stop_time": onset_s + post_s,
                           "condition": [str(c) for c in data["conditions"]]})
    ids = data["ids"]
    events = pd.DataFrame(
        [(int(ids[i]), float(frame_times[f])) for i, e in enumerate(data["events"]) for f in e],
        columns=["roi_id", "start_time"])
    write_nwb(path, session.folder, rois=data["rois"], fluorescence=data["F"],
              neuropil=data["Fneu"], corrected=data["corrected"], dfof=data["dfof"],
              trials=trials, trial_descriptions={"condition": "stimulus voltage channel"},
              events=events, overwrite=True, progress=progress, **nwb_options)
    return path


def _add_figure(report, figure, caption: str) -> None:
    """Embed ``figure`` in the report as a PNG of zlib level :data:`PNG_LEVEL`."""
    report.add_figure(figure, caption, compress_level=PNG_LEVEL)


def _write_outputs(out: Path, folder: Path, summary: dict, data: dict, timings: dict, *,
                   overwrite: bool, title: str | None, extra_facts: dict | None,
                   rate: float) -> list[Path]:
    import pandas as pd

    from CalSciPy._report.figures import (
        contours_figure,
        examples_figure,
        heatmap_figure,
        noise_figure,
        raster_with_onsets_figure,
        responses_figure,
    )
    from CalSciPy._report.page import Report

    table = data["responsive"]
    ids = data["ids"]
    onsets = data["onsets"]
    files = [_write_csv(out / RESPONSIVE_CSV, table)]
    rows = [(name, k, float(t), int(f)) for name, o in onsets.items()
            for k, (t, f) in enumerate(zip(o.times_ms, o.frames))]
    files.append(_write_csv(out / ONSETS_CSV, pd.DataFrame(
        rows, columns=["condition", "trial", "onset_time_ms", "onset_frame"])))
    centroids = np.asarray(data["rois"].centroids)
    neurons = pd.DataFrame({
        "neuron": ids, "centroid_row": centroids[:, 0], "centroid_col": centroids[:, 1],
        "noise_pct_per_sqrt_hz": data["noise"],
        "events": [len(e) for e in data["events"]],
        "responsive_any": np.isin(ids, table.loc[table.responsive, "neuron"].to_numpy()),
    })
    files.append(_write_csv(out / NEURONS_CSV, neurons))

    session = summary["session"]
    report = Report(title or "CalSciPy analysis", subtitle=str(folder))
    head = summary["headline"]
    report.add_headline("neurons", "neurons analysed", head["neurons"])
    report.add_headline("stimuli", "stimulus onsets", head["stimuli"])
    for condition in onsets:
        report.add_headline(f"responsive:{condition}", f"responsive to {condition}",
                            head[f"responsive:{condition}"])
    report.add_heading("What was analysed")
    facts = {
        "folder": str(folder),
        "imaging channels": ", ".join(session["channels"]),
        "planes": session["planes"],
        "frames": session["frames"],
        "frame size (px)": f"{session['height']} × {session['width']}",
        "frame rate (Hz)": session["frame_rate_hz"],
        "duration (s)": session["duration_s"],
        "channel, plane analysed": f"{session['channel_analysed']}, "
                                   f"{session['plane_analysed']}",
        "stimulus channel(s)": ", ".join(f"{n} ({len(o)} onsets)" for n, o in onsets.items()),
        "traces": summary["traces"]["source"],
        "neuropil": f"F − {summary['neuropil']['coefficient']:g}·Fneu",
        "ΔF/F0": f"{summary['dfof']['method']}, {summary['dfof']['window_s']:.3g} s window",
        "events": summary["events"]["method"],
        "trial window (s)": f"{-summary['trials']['pre_s']:g} to {summary['trials']['post_s']:g}",
        "test": f"{summary['responsive']['test']}; {summary['responsive']['fdr']}, "
                f"FDR {summary['responsive']['alpha']:g}",
    }
    facts.update(extra_facts or {})
    report.add_facts(facts)
    responsive_ids = set(int(i) for i in table[table.responsive].neuron)
    report.add_heading("Where the responsive neurons are")
    _add_figure(report, contours_figure(data["mean_image"], data["rois"], responsive_ids),
                      "Mean image with ROI contours: responsive to any condition (orange), "
                      "not responsive (blue); labels are ROI ids.")
    report.add_heading("Trial-averaged responses")
    _add_figure(report, responses_figure(data, table),
                      "Mean ΔF/F0 ± SEM over trials, averaged over responsive and over "
                      "non-responsive neurons, per condition; the shaded band is the response "
                      "window.")
    _add_figure(report, heatmap_figure(data, table),
                      "Trial-averaged ΔF/F0 of every neuron, sorted by response (response − "
                      "baseline), per condition.")
    report.add_heading("Example traces")
    _add_figure(report, examples_figure(data, table, rate),
                      "ΔF/F0 of the most responsive neurons and one non-responsive neuron; "
                      "dashed lines mark stimulus onsets.")
    _add_figure(report, raster_with_onsets_figure(data, rate),
                      "Detected events (one row per neuron); dashed lines mark stimulus "
                      "onsets.")
    report.add_heading("Noise")
    _add_figure(report, noise_figure(data["noise"]),
                      "Standardized noise per neuron (Rupprecht et al. 2021).")
    report.add_heading("Responsive neurons")
    shown = table.sort_values(["condition", "q_value"]).reset_index(drop=True)
    report.add_table(shown, f"Per neuron and condition (all rows in {RESPONSIVE_CSV}).",
                     max_rows=40)
    report.add_text(f"Onset times and frames per condition: {ONSETS_CSV} and {SUMMARY_NAME}; "
                    f"per-neuron noise and events: {NEURONS_CSV}.", note=True)
    files.append(report.write(out / REPORT_NAME, overwrite=True))
    files.append(out / SUMMARY_NAME)  # written last, with the timings
    return files
