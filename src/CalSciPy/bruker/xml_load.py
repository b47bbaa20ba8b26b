"""Readers of PrairieView XML files (documented module ``CalSciPy.bruker.xml_load``).

All XML goes through :func:`CalSciPy.bruker._xml.parse_xml` (defusedxml: entity expansion and
external entities are refused; a UTF-8 byte-order mark is accepted).

- :func:`get_image_xml`: frame times, indices and channel names of a master ``<base>.xml``;
  :func:`read_prairieview_xml` returns the whole parsed file (settings, sequences, frames).
- :func:`get_voltage_recording`: a ``*_VoltageRecording_*.xml`` (samples, date-time, rate,
  signals).
- :func:`get_voltage_output`: a ``*_VoltageOutput_*.xml`` (rate, enabled waveforms and units).
- Photostimulation protocols: :func:`read_mark_points_xml`, :func:`read_saved_mark_points`,
  :func:`read_galvo_point_list`.
"""
from __future__ import annotations

import os
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from CalSciPy.bruker._xml import parse_xml
from CalSciPy.bruker.session import PrairieViewXML, read_prairieview_xml
from CalSciPy.errors import DataFormatError

__all__ = [
    "get_image_xml",
    "get_voltage_recording",
    "get_voltage_output",
    "read_prairieview_xml",
    "PrairieViewXML",
    "read_mark_points_xml",
    "read_saved_mark_points",
    "read_galvo_point_list",
]


def get_image_xml(xml_file: str | os.PathLike) -> dict[str, Any]:
    """Frame times, indices and channel names from a PrairieView master XML.

    Parameters
    ----------
    xml_file
        The acquisition's ``<base>.xml`` (root ``PVScan``).

    Returns
    -------
    dict
        ``"frame_times"``: ``(n,)`` float64 seconds from the first frame for every ``Frame`` in
        file order (Sequences placed on one clock via ``absoluteTime``);
        ``"relative_times"``/``"absolute_times"``: the raw attributes (s);
        ``"indices"``: 1-based ``index`` of each Frame; ``"cycles"``: its Sequence's cycle;
        ``"channels"``: hardware channels (1-based); ``"channel_names"``: their
        ``channelName``; ``"version"``, ``"date"``; ``"frame_period"`` (s, or None).

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing file; malformed, unsafe or non-PVScan XML.
    """
    xml = read_prairieview_xml(xml_file)
    frames = [(seq.cycle, fr) for seq in xml.sequences for fr in seq.frames]
    period = xml.state.get("framePeriod")
    return {
        "frame_times": xml.frame_times(),
        "relative_times": np.array([fr.relative_time for _, fr in frames], dtype=np.float64),
        "absolute_times": np.array([fr.absolute_time for _, fr in frames], dtype=np.float64),
        "indices": np.array([fr.index for _, fr in frames], dtype=np.int64),
        "cycles": np.array([cycle for cycle, _ in frames], dtype=np.int64),
        "channels": xml.channels,
        "channel_names": xml.channel_names,
        "version": xml.version,
        "date": xml.date,
        "frame_period": float(period) if isinstance(period, (int, float)) else None,
    }


def _text(element: Element | None, tag: str) -> str | None:
    if element is None:
        return None
    child = element.find(tag)
    return None if child is None or child.text is None else child.text.strip()


def _to_number(text: str | None, what: str, path: Any) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError as err:
        raise DataFormatError(f"{path}: {what} is {text!r}, expected a number") from err


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
        ``"signals"``: list of dicts ``name, channel, enabled, unit`` for every ``VRecSignal``,
        ``"enabled"``: names of the enabled signals in SignalList order (the CSV's columns).
        Values missing from the file are None.

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing file; malformed/unsafe XML or a root other than ``VRecSessionEntry``.
    """
    root = parse_xml(xml_file, expected_root="VRecSessionEntry")
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
    samples = _to_number(_text(root, "SamplesAcquired"), "SamplesAcquired", xml_file)
    acquisition = _to_number(_text(experiment, "AcquisitionTime"), "AcquisitionTime", xml_file)
    return {
        "samples_acquired": None if samples is None else int(samples),
        "date_time": _text(root, "DateTime"),
        "acquisition_time": None if acquisition is None else int(acquisition),
        "rate": _to_number(_text(experiment, "Rate"), "Rate", xml_file),
        "data_file": _text(root, "DataFile"),
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
        Missing file; malformed/unsafe XML or a root other than ``Experiment``.
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
        "rate": _to_number(_text(root, "UpdateRate"), "UpdateRate", xml_file),
        "names": [w["name"] for w in enabled],
        "units": [w["units"] for w in enabled],
        "lines": [w["line"] for w in enabled],
        "waveforms": waveforms,
    }


# Photostimulation protocol readers: file readers in _protocol_io, the MarkPoints file as a
# PhotostimulationMeta next to that class (mark_points).
from CalSciPy.bruker._protocol_io import (  # noqa: E402,F401
    read_galvo_point_list,
    read_saved_mark_points,
)
from CalSciPy.bruker.mark_points import read_mark_points_xml  # noqa: E402,F401
