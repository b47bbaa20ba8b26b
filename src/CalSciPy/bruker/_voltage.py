"""PrairieView voltage files: VoltageRecording CSVs and the XMLs of recordings and outputs.

:func:`get_voltage_recording` and :func:`get_voltage_output` are the documented readers of
:mod:`CalSciPy.bruker.xml_load` (re-exported there); :func:`read_voltage_recording` is
:func:`CalSciPy.bruker.data.load_voltage_recording`. Values read from the files are untrusted:
a time that is empty, NaN or not a number is a :class:`~CalSciPy.errors.DataFormatError`
naming the file and row.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np
import pandas as pd

from CalSciPy._checks import as_path
from CalSciPy.bruker._naming import VOLTAGE_RECORDING_PATTERN
from CalSciPy.bruker._xml import parse_xml
from CalSciPy.bruker.configuration_values import VOLTAGE_RECORDING_ROOT, VOLTAGE_TIME_COLUMN
from CalSciPy.errors import DataFormatError

__all__ = [
    "find_voltage_csv",
    "read_voltage_recording",
    "get_voltage_recording",
    "get_voltage_output",
    "voltage_signal_names",
]


# ---------------------------------------------------------------------------------------- XML
def _text(element: Element | None, tag: str) -> str | None:
    if element is None:
        return None
    child = element.find(tag)
    return None if child is None or child.text is None else child.text.strip()


def _to_number(text: str | None, what: str, path: Any) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataFormatError(f"{path}: <{what}> is {text!r}, expected a finite number")
    return value


def _to_rate(text: str | None, what: str, path: Any) -> float | None:
    value = _to_number(text, what, path)
    if value is not None and value <= 0:
        raise DataFormatError(f"{path}: <{what}> is {text!r}, expected a rate > 0 (Hz)")
    return value


def _to_count(text: str | None, what: str, path: Any) -> int | None:
    value = _to_number(text, what, path)
    if value is None:
        return None
    if value < 0 or value != int(value) or value > 2**53:
        raise DataFormatError(f"{path}: <{what}> is {text!r}, expected a whole number >= 0")
    return int(value)


def get_voltage_recording(xml_file: str | os.PathLike) -> dict[str, Any]:
    """Metadata of a PrairieView VoltageRecording (``VRecSessionEntry``) XML.

    Parameters
    ----------
    xml_file
        A ``*_VoltageRecording_*.xml`` file.

    Returns
    -------
    dict
        ``"samples_acquired"`` (int), ``"date_time"`` (str, ISO 8601 as written),
        ``"acquisition_time"`` (ms, int), ``"rate"`` (Hz, float), ``"data_file"`` (CSV stem),
        ``"is_csv"`` (bool: ``<IsCSV>``; False when PrairieView saved the samples in its
        binary form only), ``"signals"``: list of dicts ``name, channel, enabled, unit`` for
        every ``VRecSignal``, ``"enabled"``: names of the enabled signals in SignalList order
        (the CSV's columns). Values missing from the file are None.

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing file; malformed/unsafe XML, a root other than ``VRecSessionEntry``, a
        count that is not a whole number >= 0 or a rate that is not a finite number > 0
        (naming the element).
    """
    root = parse_xml(xml_file, expected_root=VOLTAGE_RECORDING_ROOT)
    experiment = root.find("Experiment")
    signals = []
    for signal in root.iter("VRecSignal"):
        unit = signal.find("Unit")
        channel = _text(signal, "Channel")
        signals.append({
            "name": _text(signal, "Name") or "",
            "channel": int(channel) if channel and channel.lstrip("-").isdigit() else None,
            "enabled": (_text(signal, "Enabled") or "").lower() == "true",
            "unit": _text(unit, "UnitName"),
        })
    is_csv = _text(root, "IsCSV")
    return {
        "samples_acquired": _to_count(_text(root, "SamplesAcquired"), "SamplesAcquired",
                                      xml_file),
        "date_time": _text(root, "DateTime"),
        "acquisition_time": _to_count(_text(experiment, "AcquisitionTime"), "AcquisitionTime",
                                      xml_file),
        "rate": _to_rate(_text(experiment, "Rate"), "Rate", xml_file),
        "data_file": _text(root, "DataFile"),
        "is_csv": None if is_csv is None else is_csv.lower() == "true",
        "signals": signals,
        "enabled": [s["name"] for s in signals if s["enabled"]],
    }


def get_voltage_output(xml_file: str | os.PathLike) -> dict[str, Any]:
    """Rate, names and units of the enabled waveforms of a PrairieView VoltageOutput XML.

    Parameters
    ----------
    xml_file
        A ``*_VoltageOutput_*.xml`` file (root ``Experiment`` with ``Waveform`` children).

    Returns
    -------
    dict
        ``"name"`` (experiment name), ``"rate"`` (``UpdateRate``, Hz), ``"names"``,
        ``"units"``, ``"lines"`` (AO line numbers): one entry per enabled waveform, in file
        order; ``"waveforms"``: every waveform as a dict (``name, enabled, line, units,
        components`` where components maps each ``WaveformComponent_*`` element to a dict of
        its children's text).

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing file; malformed/unsafe XML, a root other than ``Experiment``, or an
        ``UpdateRate`` that is not a finite number > 0.
    """
    root = parse_xml(xml_file, expected_root="Experiment")
    waveforms = []
    for waveform in root.iter("Waveform"):
        line = _text(waveform, "AOLine")
        components = [
            {"type": child.tag.removeprefix("WaveformComponent_"),
             **{sub.tag: (sub.text or "").strip() for sub in child}}
            for child in waveform if child.tag.startswith("WaveformComponent_")
        ]
        waveforms.append({
            "name": _text(waveform, "Name") or "",
            "enabled": (_text(waveform, "Enabled") or "").lower() == "true",
            "line": int(line) if line and line.isdigit() else None,
            "units": _text(waveform, "Units"),
            "components": components,
        })
    enabled = [w for w in waveforms if w["enabled"]]
    return {
        "name": _text(root, "Name"),
        "rate": _to_rate(_text(root, "UpdateRate"), "UpdateRate", xml_file),
        "names": [w["name"] for w in enabled],
        "units": [w["units"] for w in enabled],
        "lines": [w["line"] for w in enabled],
        "waveforms": waveforms,
    }


# ---------------------------------------------------------------------------------------- CSV
def _binary_only(xml: Path) -> bool:
    """True when ``xml`` says the recording was saved in PrairieView's binary form only."""
    try:
        return get_voltage_recording(xml)["is_csv"] is False
    except (DataFormatError, OSError):
        return False


def _no_csv_error(where: Path, xmls: list[Path]) -> FileNotFoundError:
    binary = [x for x in xmls if _binary_only(x)]
    if binary:
        return FileNotFoundError(
            f"{where}: the voltage recording {binary[0].name} was saved by PrairieView in "
            "binary form (<IsCSV>false</IsCSV>), which CalSciPy does not read; export it as "
            "CSV (or enable CSV saving in PrairieView's voltage recording settings)"
        )
    return FileNotFoundError(
        f"{where} holds no VoltageRecording CSV (expected <base>_Cycle00001_"
        "VoltageRecording_001.csv)"
    )


def find_voltage_csv(path: str | os.PathLike) -> Path:
    """The VoltageRecording CSV ``path`` names: the file itself, the CSV of a VoltageRecording
    XML, or the only one in a folder."""
    path = as_path(path, "path")
    if not path.exists():
        raise FileNotFoundError(f"voltage recording not found: {path}")
    if path.is_file():
        if path.suffix.lower() == ".xml" and VOLTAGE_RECORDING_PATTERN.match(path.name):
            csv = path.with_suffix(".csv")
            if not csv.is_file():
                raise _no_csv_error(path, [path])
            return csv
        return path
    found = sorted(p for p in path.iterdir()
                   if "VoltageRecording" in p.name and p.suffix.lower() == ".csv")
    if not found:
        xmls = sorted(p for p in path.iterdir() if VOLTAGE_RECORDING_PATTERN.match(p.name)
                      and p.suffix.lower() == ".xml")
        raise _no_csv_error(path, xmls)
    if len(found) > 1:
        raise ValueError(
            f"{path} holds {len(found)} VoltageRecording CSVs where one was expected: "
            f"{', '.join(p.name for p in found)}; pass the file to load"
        )
    return found[0]


def _check_text(csv: Path) -> None:
    """Refuse binary content before pandas decodes it (its message names no file)."""
    with open(csv, "rb") as handle:
        head = handle.read(65536)
    at = head.find(b"\0")
    if at < 0:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as err:
            # a cut multi-byte character at the end of the block is not binary content
            at = err.start if err.start < len(head) - 4 else -1
    if at >= 0:
        raise DataFormatError(
            f"{csv}: binary content at byte {at}, not a text (UTF-8) VoltageRecording CSV"
        )


def _bad_cell(csv: Path, column: str, raw: pd.Series) -> DataFormatError | None:
    """The first cell of ``raw`` that is not a number (or, for the time, not finite)."""
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy().copy()
    if column == VOLTAGE_TIME_COLUMN:
        bad |= ~np.isfinite(values.to_numpy(dtype=np.float64))
    elif not pd.api.types.is_numeric_dtype(raw):
        # empty cells are NaN for a signal; only text that is not a number is refused
        bad &= raw.notna().to_numpy()
    else:
        return None
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad)[0])
    cell = raw.iloc[row]
    shown = "empty" if cell is None or (isinstance(cell, float) and math.isnan(cell)) \
        or str(cell).strip() == "" else repr(cell)
    what = "a finite time in ms" if column == VOLTAGE_TIME_COLUMN else "a number"
    return DataFormatError(
        f"{csv}: row {row + 1} (line {row + 2}), column {column!r} is {shown}, expected {what}"
    )


def read_voltage_recording(path: str | os.PathLike) -> pd.DataFrame:
    """See :func:`CalSciPy.bruker.data.load_voltage_recording`."""
    csv = find_voltage_csv(path)
    _check_text(csv)
    try:
        frame = pd.read_csv(csv, skipinitialspace=True, engine="c")
    except UnicodeDecodeError as err:
        raise DataFormatError(
            f"{csv}: binary content at byte {err.start}, not a text (UTF-8) VoltageRecording "
            "CSV") from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataFormatError(f"{csv}: not a readable VoltageRecording CSV ({err})") from err
    if frame.shape[1] < 1 or str(frame.columns[0]).strip().replace(" ", "") != \
            VOLTAGE_TIME_COLUMN:
        raise DataFormatError(
            f"{csv}: first column is {frame.columns[0] if frame.shape[1] else None!r}, "
            f"expected {VOLTAGE_TIME_COLUMN!r} (PrairieView VoltageRecording CSV)"
        )
    frame.columns = [VOLTAGE_TIME_COLUMN] + [str(c).strip() for c in frame.columns[1:]]
    for column in frame.columns:
        error = _bad_cell(csv, column, frame[column])
        if error is not None:
            raise error
    frame = frame.set_index(VOLTAGE_TIME_COLUMN).astype("float64")
    frame.index = frame.index.astype("float64")
    frame.index.name = VOLTAGE_TIME_COLUMN
    xml = csv.with_suffix(".xml")
    matched = VOLTAGE_RECORDING_PATTERN.match(csv.name)
    if matched and xml.is_file():
        enabled = get_voltage_recording(xml)["enabled"]
        if len(enabled) != frame.shape[1]:
            raise DataFormatError(
                f"{csv} has {frame.shape[1]} signal column(s) {list(frame.columns)} but "
                f"{xml.name} lists {len(enabled)} enabled signal(s) {enabled}"
            )
        frame.columns = enabled
    return frame


def voltage_signal_names(csv: Path) -> list[str]:
    """Enabled signal names of a VoltageRecording CSV: from its XML, else its header."""
    xml = csv.with_suffix(".xml")
    if xml.is_file():
        return list(get_voltage_recording(xml)["enabled"])
    with open(csv, encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    return [name.strip() for name in header.split(",")[1:]]
