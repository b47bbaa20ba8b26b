"""Reading PrairieView VoltageRecording CSVs (with their paired XML's signal names)."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from CalSciPy._atomic import as_path
from CalSciPy.bruker._naming import VOLTAGE_RECORDING_PATTERN
from CalSciPy.errors import DataFormatError

__all__ = ["find_voltage_csv", "read_voltage_recording"]


def find_voltage_csv(path: str | os.PathLike) -> Path:
    """The VoltageRecording CSV ``path`` names: the file itself, or the only one in a folder."""
    path = as_path(path, "path")
    if not path.exists():
        raise FileNotFoundError(f"voltage recording not found: {path}")
    if path.is_file():
        return path
    found = sorted(p for p in path.iterdir()
                   if "VoltageRecording" in p.name and p.suffix.lower() == ".csv")
    if not found:
        raise FileNotFoundError(
            f"{path} holds no VoltageRecording CSV (expected <base>_Cycle00001_"
            "VoltageRecording_001.csv)"
        )
    if len(found) > 1:
        raise ValueError(
            f"{path} holds {len(found)} VoltageRecording CSVs where one was expected: "
            f"{', '.join(p.name for p in found)}; pass the file to load"
        )
    return found[0]


def read_voltage_recording(path: str | os.PathLike) -> pd.DataFrame:
    """See :func:`CalSciPy.bruker.data.load_voltage_recording`."""
    from CalSciPy.bruker.xml_load import get_voltage_recording

    csv = find_voltage_csv(path)
    try:
        frame = pd.read_csv(csv, skipinitialspace=True, engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{csv}: not a readable VoltageRecording CSV ({err})") from err
    if frame.shape[1] < 1 or frame.columns[0].strip().replace(" ", "") != "Time(ms)":
        raise DataFormatError(
            f"{csv}: first column is {frame.columns[0] if frame.shape[1] else None!r}, "
            "expected 'Time(ms)' (PrairieView VoltageRecording CSV)"
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.set_index(frame.columns[0])
    frame.index = frame.index.astype("float64")
    frame.index.name = "Time(ms)"
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise DataFormatError(f"{csv}: non-numeric values in column(s) {non_numeric}")
    frame = frame.astype("float64")
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
