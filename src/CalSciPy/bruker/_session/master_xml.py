"""Parsing of a PrairieView master XML (``<base>.xml``, root ``PVScan``) into plain records.

Values read from the XML are untrusted: times must be finite seconds, pages positive integers,
file names plain names inside the session folder; anything else is a
:class:`~CalSciPy.errors.DataFormatError` naming the XML and the element.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from CalSciPy._checks import as_path
from CalSciPy.bruker._xml import parse_xml
from CalSciPy.bruker.configuration_values import MASTER_XML_ROOT
from CalSciPy.errors import DataFormatError

__all__ = [
    "PrairieViewFrame",
    "PrairieViewSequence",
    "PrairieViewXML",
    "parse_state_shard",
    "read_prairieview_xml",
    "xml_from_root",
    "find_master_xml",
    "find_master",
]

#: largest time (s) accepted from relativeTime/absoluteTime: about 115 days
MAX_TIME_S = 1e7
#: largest magnitude accepted for an integer attribute (page, channel, index): the values go
#: into int64 arrays, and no acquisition comes near it
MAX_INT_ATTR = 2**31 - 1


@dataclass(frozen=True)
class PrairieViewFrame:
    """One ``<Frame>`` of a master XML.

    Attributes
    ----------
    index
        1-based ``index`` attribute (the frame in a T-series, the plane in a z-series).
    relative_time, absolute_time
        ``relativeTime`` and ``absoluteTime`` attributes, seconds.
    files
        ``(channel, channel_name, filename, page)`` per ``<File>``: hardware channel (1-based),
        user-editable channel name, file name, 0-based page within the file.
    z
        ``positionCurrent`` ZAxis of the frame (µm, summed over sub-indices), or None.
    parameter_set
        ``parameterSet`` attribute.
    """

    index: int
    relative_time: float
    absolute_time: float
    files: tuple[tuple[int, str, str, int], ...]
    z: float | None = None
    parameter_set: str = ""


@dataclass(frozen=True)
class PrairieViewSequence:
    """One ``<Sequence>``: ``type``, ``cycle`` (1-based), ``bidirectionalZ`` and its frames.

    ``voltage_recording`` and ``voltage_trigger_mode`` are the ``dataFile`` and
    ``triggerMode`` of its ``<VoltageRecording>`` child (None without one).
    """

    type: str
    cycle: int
    bidirectional_z: bool
    frames: tuple[PrairieViewFrame, ...]
    voltage_recording: str | None = None
    voltage_trigger_mode: str | None = None


@dataclass(frozen=True)
class PrairieViewXML:
    """A parsed master XML (``PVScan``).

    Attributes
    ----------
    path
        The XML file.
    version, date, notes
        ``PVScan`` attributes (e.g. ``"5.5.64.600"``).
    state
        The session-level ``PVStateShard`` as a dict: ``key -> value`` where value is a number,
        bool or str for ``PVStateValue value=``; a dict ``index -> value`` for ``IndexedValue``
        children; a dict ``index -> {subindex -> value}`` for ``SubindexedValues``.
    sequences
        The ``Sequence`` elements in file order.
    """

    path: Path
    version: str
    date: str
    notes: str
    state: dict[str, Any]
    sequences: tuple[PrairieViewSequence, ...]

    @property
    def volumetric(self) -> bool:
        """True for a ``TSeries ZSeries Element`` acquisition (cycle = volume, index = plane)."""
        return any("ZSeries" in seq.type for seq in self.sequences)

    @property
    def channels(self) -> tuple[int, ...]:
        """Hardware channels (1-based) that have files, sorted."""
        return tuple(sorted({f[0] for s in self.sequences for fr in s.frames for f in fr.files}))

    @property
    def channel_names(self) -> tuple[str, ...]:
        """``channelName`` of each of :attr:`channels`."""
        names: dict[int, str] = {}
        for seq in self.sequences:
            for frame in seq.frames:
                for channel, name, _, _ in frame.files:
                    names.setdefault(channel, name)
        return tuple(names[c] for c in self.channels)

    def frame_times(self) -> np.ndarray:
        """Start time (s, from the first frame) of every ``Frame`` in file order.

        ``relativeTime`` counts from the start of its own Sequence and restarts in every
        Sequence of a burst/cycled or triggered recording; ``absoluteTime`` counts from the
        start of the acquisition, so a Sequence that waited for a trigger is placed on the
        common clock by its first frame's ``absoluteTime - relativeTime`` (the wait is kept,
        not collapsed). Time 0 is the start of the first frame listed.
        """
        times: list[float] = []
        origin: float | None = None
        for seq in self.sequences:
            if not seq.frames:
                continue
            first = seq.frames[0]
            offset = first.absolute_time - first.relative_time
            if origin is None:
                origin = offset + first.relative_time
            times.extend(fr.relative_time + offset - origin for fr in seq.frames)
        return np.asarray(times, dtype=np.float64)


def _number(text: str) -> Any:
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_state_shard(shard: Element | None) -> dict[str, Any]:
    """Turn a ``PVStateShard`` element into a dict (see :attr:`PrairieViewXML.state`)."""
    state: dict[str, Any] = {}
    if shard is None:
        return state
    for value in shard.iter("PVStateValue"):
        key = value.get("key")
        if key is None:
            continue
        if "value" in value.attrib:
            state[key] = _number(value.get("value", ""))
            continue
        entry: dict[str, Any] = {}
        for child in value:
            if child.tag == "IndexedValue":
                entry[child.get("index", "")] = _number(child.get("value", ""))
            elif child.tag == "SubindexedValues":
                entry[child.get("index", "")] = {
                    sub.get("subindex", ""): _number(sub.get("value", ""))
                    for sub in child.iter("SubindexedValue")
                }
        state[key] = entry
    return state


def _z_of(shard_state: dict[str, Any]) -> float | None:
    z = shard_state.get("positionCurrent", {})
    z = z.get("ZAxis") if isinstance(z, dict) else None
    if isinstance(z, dict):
        values = [v for v in z.values() if isinstance(v, (int, float))]
        return float(sum(values)) if values else None
    if isinstance(z, (int, float)):
        return float(z)
    return None


def _where(element: Element, seq_cycle: str | None = None) -> str:
    attrs = " ".join(f'{k}="{v}"' for k, v in element.attrib.items()
                     if k in ("index", "relativeTime", "absoluteTime", "channel", "page",
                              "filename", "cycle"))
    tag = f"<{element.tag} {attrs}>" if attrs else f"<{element.tag}>"
    return tag if seq_cycle is None else f'{tag} of <Sequence cycle="{seq_cycle}">'


def _time_attr(element: Element, name: str, path: Path, cycle: str) -> float:
    """A ``relativeTime``/``absoluteTime`` in seconds: finite and within :data:`MAX_TIME_S`."""
    text = element.get(name)
    if text is None:
        raise DataFormatError(f"{path}: {_where(element, cycle)} without the {name} attribute")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > MAX_TIME_S:
        raise DataFormatError(
            f"{path}: {_where(element, cycle)} has {name}={text!r}, expected a finite time in "
            f"seconds (|t| <= {MAX_TIME_S:g})"
        )
    return value


def _int_attr(element: Element, name: str, default: str | None, path: Path, cycle: str,
              *, minimum: int) -> int:
    text = element.get(name, default)
    try:
        value = int(text) if text is not None else None
    except ValueError:
        value = None
    if value is None or not minimum <= value <= MAX_INT_ATTR:
        raise DataFormatError(
            f"{path}: {_where(element, cycle)} has {name}={text!r}, expected an integer "
            f">= {minimum} and <= {MAX_INT_ATTR}"
        )
    return value


def _file_name(element: Element, path: Path, cycle: str) -> str:
    """A ``<File filename=...>``: a plain name inside the session folder (no path)."""
    name = element.get("filename")
    if not name:
        raise DataFormatError(f"{path}: {_where(element, cycle)} without a filename attribute")
    plain = (name not in (".", "..") and "/" not in name and "\\" not in name
             and not os.path.isabs(name) and os.path.basename(name) == name
             and ":" not in name and "\0" not in name)
    if not plain:
        raise DataFormatError(
            f"{path}: {_where(element, cycle)} names {name!r}, which is not a file of the "
            f"session folder {path.parent} (expected a plain file name, no folders)"
        )
    return name


def read_prairieview_xml(path: str | os.PathLike) -> PrairieViewXML:
    """Parse a PrairieView master XML (root ``PVScan``).

    Parameters
    ----------
    path
        The ``<base>.xml`` file of an acquisition.

    Returns
    -------
    PrairieViewXML
        Version, date, session settings, sequences and frames.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        Not well-formed, unsafe (entities), not a ``PVScan`` file; a Frame/File lacks a
        required attribute or holds an invalid value (a time that is not finite seconds, a
        page below 1, a file name with a folder part or outside the session folder), naming
        the XML and the element.
    """
    path = as_path(path, "path")
    return xml_from_root(path, parse_xml(path, expected_root=MASTER_XML_ROOT))


def xml_from_root(path: Path, root: Element) -> PrairieViewXML:
    """Build :class:`PrairieViewXML` from the parsed root of ``path`` (see
    :func:`read_prairieview_xml`)."""
    state = parse_state_shard(root.find("PVStateShard"))
    sequences: list[PrairieViewSequence] = []
    for seq in root.iter("Sequence"):
        cycle_text = seq.get("cycle", str(len(sequences) + 1))
        try:
            cycle = int(cycle_text)
        except ValueError as err:
            raise DataFormatError(
                f"{path}: <Sequence cycle={cycle_text!r}> is not an integer cycle"
            ) from err
        frames: list[PrairieViewFrame] = []
        for frame in seq.iter("Frame"):
            files: list[tuple[int, str, str, int]] = []
            for file in frame.iter("File"):
                name = _file_name(file, path, cycle_text)
                channel = _int_attr(file, "channel", "1", path, cycle_text, minimum=1)
                page = _int_attr(file, "page", "1", path, cycle_text, minimum=1) - 1
                files.append((channel, file.get("channelName", f"Ch{channel}"), name, page))
            frame_state = parse_state_shard(frame.find("PVStateShard"))
            z = _z_of(frame_state)
            try:
                index = int(frame.get("index", ""))
            except ValueError as err:
                raise DataFormatError(
                    f"{path}: {_where(frame, cycle_text)} without an integer index") from err
            if abs(index) > MAX_INT_ATTR:
                raise DataFormatError(
                    f"{path}: {_where(frame, cycle_text)} has index={index}, beyond "
                    f"+-{MAX_INT_ATTR}")
            frames.append(PrairieViewFrame(
                index=index,
                relative_time=_time_attr(frame, "relativeTime", path, cycle_text),
                absolute_time=_time_attr(frame, "absoluteTime", path, cycle_text),
                files=tuple(files),
                z=z if z is not None and math.isfinite(z) else None,
                parameter_set=frame.get("parameterSet", ""),
            ))
        voltage = seq.find("VoltageRecording")
        sequences.append(PrairieViewSequence(
            type=seq.get("type", ""),
            cycle=cycle,
            bidirectional_z=seq.get("bidirectionalZ", "False").lower() == "true",
            frames=tuple(frames),
            voltage_recording=None if voltage is None else voltage.get("dataFile"),
            voltage_trigger_mode=None if voltage is None else voltage.get("triggerMode"),
        ))
    return PrairieViewXML(
        path=path,
        version=root.get("version", ""),
        date=root.get("date", ""),
        notes=root.get("notes", ""),
        state=state,
        sequences=tuple(sequences),
    )


def find_master_xml(folder: Path, names: list[str] | None = None) -> Path | None:
    """The folder's master XML: ``<folder name>.xml``, else the one non-cycle XML with root PVScan.

    Raises
    ------
    DataFormatError
        ``<folder name>.xml`` exists but is not a PVScan file.
    """
    found = find_master(folder, names)
    return None if found is None else found[0]


def find_master(folder: Path, names: list[str] | None) -> tuple[Path, Element] | None:
    names = os.listdir(folder) if names is None else names
    preferred = folder / f"{folder.name}.xml"
    if preferred.is_file():
        return preferred, parse_xml(preferred, expected_root=MASTER_XML_ROOT)
    for name in sorted(n for n in names if n.lower().endswith(".xml")):
        if "_Cycle" in name:
            continue
        candidate = folder / name
        try:
            return candidate, parse_xml(candidate, expected_root=MASTER_XML_ROOT)
        except DataFormatError:
            continue
    return None

