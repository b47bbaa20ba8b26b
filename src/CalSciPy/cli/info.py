"""``calscipy info PATH``: summary of a PrairieView acquisition folder (or its master XML).

The summary text lives here, not in the session model: the model answers questions, the CLI
decides what a person is shown. A folder holding only voltage recordings is summarised as such;
a master XML whose images are gone can still be inspected (pass the XML, or a folder holding
only it).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="summarise a PrairieView folder",
        description="Print version, channels, planes, frames, frame size, frame rate, duration "
                    "and voltage signals of a PrairieView acquisition folder (or of its master "
                    "XML; a folder of voltage recordings only gets a summary of those).",
    )
    parser.add_argument("folder", help="PrairieView acquisition folder, or its master XML")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _stated_size(session, key: str) -> int | None:
    """The master XML's ``linesPerFrame``/``pixelsPerLine``: a positive integer, or an error."""
    from CalSciPy._checks import is_integer
    from CalSciPy.errors import DataFormatError

    value = session.state.get(key)
    if value is None:
        return None
    if not is_integer(value) or value < 1:
        raise DataFormatError(
            f"{session.xml.path}: <PVStateValue key=\"{key}\" value=\"{value}\"> is not a "
            "positive whole number of pixels"
        )
    return int(value)


def voltage_summary(folder: Path, csvs: tuple[Path, ...] | list[Path]) -> dict[str, list[str]]:
    """Enabled signal names of each VoltageRecording CSV, and of each XML whose CSV is absent."""
    from CalSciPy.bruker._voltage import get_voltage_recording, voltage_signal_names
    from CalSciPy.bruker.session import voltage_xmls_without_csv

    signals: dict[str, list[str]] = {}
    for csv in csvs:
        signals[csv.name] = voltage_signal_names(csv)
    for xml in voltage_xmls_without_csv(folder):
        signals[xml.name] = list(get_voltage_recording(xml)["enabled"])
    return signals


def voltage_details(folder: Path) -> list[dict[str, Any]]:
    """Per VoltageRecording XML: samples, rate (Hz), duration (s), CSV or binary-only."""
    from CalSciPy.bruker._naming import VOLTAGE_RECORDING_PATTERN
    from CalSciPy.bruker._voltage import get_voltage_recording

    out = []
    for name in sorted(os.listdir(folder)):
        match = VOLTAGE_RECORDING_PATTERN.match(name)
        if not match or match["ext"].lower() != "xml":
            continue
        meta = get_voltage_recording(folder / name)
        rate, samples = meta["rate"], meta["samples_acquired"]
        csv = (folder / name).with_suffix(".csv")
        if csv.is_file():
            saved = f"CSV {csv.name}"
        elif meta["is_csv"] is False:
            saved = "binary form only (<IsCSV>false</IsCSV>), which CalSciPy does not read"
        else:
            saved = "CSV not in the folder"
        out.append({
            "xml": name,
            "signals": meta["enabled"],
            "samples": samples,
            "rate_hz": rate,
            "duration_s": _finite(samples / rate) if samples is not None and rate else None,
            "date_time": meta["date_time"],
            "saved": saved,
        })
    return out


def session_summary(session, warned: list[str]) -> dict[str, Any]:
    """JSON-able overview of a :class:`~CalSciPy.bruker.session.PrairieViewSession`.

    ``frame_rate_hz`` and ``duration_s`` are per plane (per volume for volumetric data) and
    None without a master XML; ``voltage_signals`` maps each VoltageRecording CSV to its enabled
    signal names (from its XML, else the CSV header), and each VoltageRecording XML whose CSV is
    absent to the enabled names it lists.
    """
    session.check_single_page()
    first = session.files.flat[0]
    images_present = os.path.isfile(first)
    if images_present:
        height, width = session.frame_shape()
    else:
        # an XML whose images are gone: its stated frame size is all there is
        height, width = _stated_size(session, "linesPerFrame"), _stated_size(session,
                                                                             "pixelsPerLine")
    period = session.frame_period
    return {
        "folder": str(session.folder),
        "base_name": session.base_name,
        "master_xml": str(session.xml.path) if session.xml else None,
        "version": session.version,
        "date": session.date,
        "channels": [f"{i} = Ch{c} ({n})" for i, (c, n) in
                     enumerate(zip(session.channels, session.channel_names))],
        "planes": session.n_planes,
        "frames": session.n_frames,
        "height": height,
        "width": width,
        "images_present": images_present,
        "plane_z_um": None if session.plane_z is None else [float(z) for z in session.plane_z],
        "frame_rate_hz": None if not period else _finite(1.0 / period),
        "duration_s": None if not period else _finite(session.n_frames * period),
        "dropped_frames": session.dropped_frames,
        "voltage_signals": voltage_summary(session.folder, session.voltage_recordings),
        "voltage_recordings": voltage_details(session.folder),
        "warnings": warned,
    }


def summarize(path: str | os.PathLike) -> dict[str, Any]:
    """The summary ``calscipy info`` prints for a folder or master XML."""
    from CalSciPy.bruker._naming import parse_image_names
    from CalSciPy.bruker.session import find_master_xml, read_prairieview_session

    target = Path(os.fspath(path)).expanduser()
    if target.is_dir():
        names = os.listdir(target)
        if len(parse_image_names(names)) == 0:
            master = find_master_xml(target, names)
            if master is not None:
                target = master  # only the master XML (images gone): inspect it
            elif any("VoltageRecording" in n for n in names):
                from CalSciPy.bruker.session import _voltage_files

                return {
                    "folder": str(target),
                    "images": "none (a folder of voltage recordings)",
                    "voltage_signals": voltage_summary(target, _voltage_files(target, names)),
                    "voltage_recordings": voltage_details(target),
                }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # info inspects what is there: an excerpt is reported, not refused
        session = read_prairieview_session(target, excerpt=True)
    return session_summary(session, [str(w.message) for w in caught])


def run(args: argparse.Namespace) -> int:
    """Read the folder and print its summary; returns the exit code."""
    summary = summarize(args.folder)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
        return 0
    for key, value in summary.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for name, items in value.items():
                print(f"  {name}: {', '.join(items)}")
        elif isinstance(value, float):
            print(f"{key}: {value:.6g}")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{key}:")
            for item in value:
                print("  " + "; ".join(f"{k}: {v}" for k, v in item.items()))
        elif isinstance(value, list):
            print(f"{key}: {', '.join(str(v) for v in value)}")
        else:
            print(f"{key}: {value}")
    return 0
