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

import numpy as np

from CalSciPy.bruker._session.master_xml import PrairieViewXML, read_prairieview_xml
from CalSciPy.bruker._voltage import get_voltage_output, get_voltage_recording

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


# Photostimulation protocol readers: file readers in _protocol_io, the MarkPoints file as a
# PhotostimulationMeta next to that class (mark_points).
from CalSciPy.bruker._protocol_io import (  # noqa: E402,F401
    read_galvo_point_list,
    read_saved_mark_points,
)
from CalSciPy.bruker.mark_points import read_mark_points_xml  # noqa: E402,F401
