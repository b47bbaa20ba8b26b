"""One parsed model of a PrairieView acquisition folder: the only place that walks one.

:func:`read_prairieview_session` reads the master XML (``<base>.xml``, root ``PVScan``) when it is
present and falls back to the image file names when it is not; :func:`read_prairieview_xml`
parses a master XML alone. Everything else in :mod:`CalSciPy.bruker` (loading images, frame
times, ``calscipy info``) works from the :class:`PrairieViewSession` these return.

Conventions
-----------
- ``channel`` arguments and :attr:`PrairieViewSession.channels` positions are zero-indexed *in
  the list of channels present* (a Ch2-only session has channel 0 = hardware ``Ch2``).
- Planes are ordered as in the z-stroke of odd cycles (plane ``p`` is the file index ``p + 1``
  of odd cycles, also when the series starts with an even cycle); with
  ``bidirectionalZ="True"`` even cycles run the stroke in reverse and are re-ordered to match
  (by their z position when the XML records it).
- Times are seconds from the first frame of the series.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from CalSciPy._atomic import as_path
from CalSciPy.bruker._naming import VOLTAGE_RECORDING_PATTERN, parse_image_names
from CalSciPy.bruker._xml import parse_xml
from CalSciPy.errors import DataFormatError, MissingFramesError, SessionError

__all__ = [
    "PrairieViewFrame",
    "PrairieViewSequence",
    "PrairieViewXML",
    "PrairieViewSession",
    "read_prairieview_xml",
    "read_prairieview_session",
    "find_master_xml",
]


# ----------------------------------------------------------------------------------------------
# master XML
# ----------------------------------------------------------------------------------------------
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
    """One ``<Sequence>``: ``type``, ``cycle`` (1-based), ``bidirectionalZ`` and its frames."""

    type: str
    cycle: int
    bidirectional_z: bool
    frames: tuple[PrairieViewFrame, ...]
    voltage_recording: str | None = None


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

        ``relativeTime`` restarts in every Sequence of a burst/cycled recording; each Sequence
        is placed on the common clock by its ``absoluteTime``.
        """
        times = []
        origin = None
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


def _float_attr(element: Element, name: str, path: Path) -> float:
    text = element.get(name)
    if text is None:
        raise DataFormatError(f"{path}: <{element.tag}> without the {name} attribute")
    try:
        return float(text)
    except ValueError as err:
        raise DataFormatError(f"{path}: <{element.tag} {name}={text!r}> is not a number") from err


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
        Not well-formed, unsafe (entities), not a ``PVScan`` file, or a Frame/File lacks a
        required attribute.
    """
    path = as_path(path, "path")
    return _xml_from_root(path, parse_xml(path, expected_root="PVScan"))


def _xml_from_root(path: Path, root: Element) -> PrairieViewXML:
    state = parse_state_shard(root.find("PVStateShard"))
    sequences = []
    for seq in root.iter("Sequence"):
        frames = []
        for frame in seq.iter("Frame"):
            files = []
            for file in frame.iter("File"):
                name = file.get("filename")
                if not name:
                    raise DataFormatError(f"{path}: <File> without a filename attribute")
                try:
                    channel = int(file.get("channel", "1"))
                    page = int(file.get("page", "1")) - 1
                except ValueError as err:
                    raise DataFormatError(f"{path}: bad channel/page in <File {name}>") from err
                files.append((channel, file.get("channelName", f"Ch{channel}"), name, page))
            frame_state = parse_state_shard(frame.find("PVStateShard"))
            z = _z_of(frame_state)
            try:
                index = int(frame.get("index", ""))
            except ValueError as err:
                raise DataFormatError(f"{path}: <Frame> without an integer index") from err
            frames.append(PrairieViewFrame(
                index=index,
                relative_time=_float_attr(frame, "relativeTime", path),
                absolute_time=_float_attr(frame, "absoluteTime", path),
                files=tuple(files),
                z=z if z is not None else None,
                parameter_set=frame.get("parameterSet", ""),
            ))
        voltage = seq.find("VoltageRecording")
        cycle_text = seq.get("cycle", str(len(sequences) + 1))
        try:
            cycle = int(cycle_text)
        except ValueError as err:
            raise DataFormatError(
                f"{path}: <Sequence cycle={cycle_text!r}> is not an integer cycle"
            ) from err
        sequences.append(PrairieViewSequence(
            type=seq.get("type", ""),
            cycle=cycle,
            bidirectional_z=seq.get("bidirectionalZ", "False").lower() == "true",
            frames=tuple(frames),
            voltage_recording=None if voltage is None else voltage.get("dataFile"),
        ))
    return PrairieViewXML(
        path=path,
        version=root.get("version", ""),
        date=root.get("date", ""),
        notes=root.get("notes", ""),
        state=state,
        sequences=tuple(sequences),
    )


# ----------------------------------------------------------------------------------------------
# session
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrairieViewSession:
    """Everything CalSciPy knows about one PrairieView acquisition folder.

    Attributes
    ----------
    folder
        The acquisition folder.
    base_name
        Common prefix of the image names.
    xml
        The parsed master XML, or None when the folder has none (names-only session).
    channels
        Hardware channel numbers present (1-based, sorted); position = CalSciPy channel index.
    channel_names
        Name of each channel (``channelName`` from the XML, else ``"Ch<c>"``).
    n_planes
        Planes per volume (1 for a single-plane T-series).
    n_frames
        Frames per plane (volumes for volumetric data), complete volumes only.
    files
        ``(n_frames, n_planes, n_channels)`` object array of file paths (``str``; strings, not
        ``Path`` objects, keep sessions of 100 000 files fast).
    pages
        ``(n_frames, n_planes, n_channels)`` int array: 0-based page of each frame in its file.
    frame_times
        ``(n_frames,)`` start time (s) of each frame (first plane of each volume), or None
        without a master XML.
    plane_z
        ``(n_planes,)`` z position (µm) of each plane when the XML records it, else None.
    voltage_recordings
        ``*_VoltageRecording_*.csv`` files in the folder, sorted.
    dropped_frames
        Images (one per frame, plane and channel) of an incomplete last volume left out.
    """

    folder: Path
    base_name: str
    xml: PrairieViewXML | None
    channels: tuple[int, ...]
    channel_names: tuple[str, ...]
    n_planes: int
    n_frames: int
    files: np.ndarray
    pages: np.ndarray
    frame_times: np.ndarray | None
    plane_z: np.ndarray | None
    voltage_recordings: tuple[Path, ...] = field(default=())
    dropped_frames: int = 0

    @property
    def n_channels(self) -> int:
        """Number of channels present."""
        return len(self.channels)

    @property
    def volumetric(self) -> bool:
        """True when the session has more than one plane."""
        return self.n_planes > 1

    @property
    def version(self) -> str | None:
        """PrairieView version from the master XML (None without one)."""
        return self.xml.version if self.xml else None

    @property
    def date(self) -> str | None:
        """Acquisition date from the master XML (None without one)."""
        return self.xml.date if self.xml else None

    @property
    def state(self) -> dict[str, Any]:
        """Session settings (``PVStateShard``) from the master XML (empty without one)."""
        return dict(self.xml.state) if self.xml else {}

    @property
    def frame_period(self) -> float | None:
        """Seconds between frames of one plane (between volumes for volumetric data)."""
        if self.frame_times is not None and len(self.frame_times) > 1:
            return float(np.median(np.diff(self.frame_times)))
        period = self.state.get("framePeriod")
        if isinstance(period, (int, float)):
            return float(period) * self.n_planes
        return None

    def frame_shape(self, *, use_xml: bool = True) -> tuple[int, int]:
        """``(y, x)`` pixels of a frame, from the XML settings or the first image's header."""
        state = self.state
        height, width = state.get("linesPerFrame"), state.get("pixelsPerLine")
        if use_xml and isinstance(height, int) and isinstance(width, int):
            return height, width
        import tifffile

        from CalSciPy.bruker._tiffread import quiet_tifffile

        first = self.files.flat[0]
        try:
            with quiet_tifffile(), tifffile.TiffFile(first) as tif:
                shape = tif.pages.first.shape
        except Exception as err:  # tifffile raises many types for corrupt files
            raise DataFormatError(f"{first}: not a readable TIFF image ({err})") from err
        if len(shape) != 2:
            raise DataFormatError(
                f"{first}: expected one (y, x) grayscale frame per page, got shape {shape}"
            )
        return int(shape[0]), int(shape[1])

    def check_single_page(self) -> None:
        """Without a master XML only single-frame files can be placed; refuse multi-page ones.

        Taking one frame per multi-page file would silently miss most of the frames; only the
        first file's header is read.

        Raises
        ------
        DataFormatError
            Names-only session whose first image file holds several pages.
        """
        if self.xml is not None:
            return
        import tifffile

        from CalSciPy.bruker._tiffread import quiet_tifffile

        first = self.files.flat[0]
        try:
            with quiet_tifffile(), tifffile.TiffFile(first) as tif:
                pages = len(tif.pages)
        except Exception as err:  # tifffile raises many types for corrupt files
            raise DataFormatError(f"{first}: not a readable TIFF image ({err})") from err
        if pages > 1:
            raise DataFormatError(
                f"{first} holds {pages} frames (a multi-page PrairieView file) but "
                f"{self.folder} has no master XML (<base>.xml with root PVScan) to tell which "
                "frame, plane and channel each page is; keep the XML with the images"
            )

    def summary(self) -> dict[str, Any]:
        """JSON-able overview: version, channels, planes, frames, size, rate, duration, signals.

        ``frame_rate`` (Hz) and ``duration`` (s) are per plane (per volume for volumetric
        data) and None without a master XML; ``voltage_signals`` maps each VoltageRecording CSV
        to its enabled signal names (from its XML, else the CSV header), and each
        VoltageRecording XML whose CSV is absent to the enabled names it lists.
        """
        self.check_single_page()
        height, width = self.frame_shape()
        period = self.frame_period
        signals: dict[str, list[str]] = {}
        for csv in self.voltage_recordings:
            signals[csv.name] = _voltage_signal_names(csv)
        for xml in _voltage_xmls_without_csv(self.folder):
            from CalSciPy.bruker.xml_load import get_voltage_recording

            signals[xml.name] = list(get_voltage_recording(xml)["enabled"])
        return {
            "folder": str(self.folder),
            "base_name": self.base_name,
            "master_xml": str(self.xml.path) if self.xml else None,
            "version": self.version,
            "date": self.date,
            "channels": [f"{i} = Ch{c} ({n})" for i, (c, n) in
                         enumerate(zip(self.channels, self.channel_names))],
            "planes": self.n_planes,
            "frames": self.n_frames,
            "height": height,
            "width": width,
            "plane_z_um": None if self.plane_z is None else [float(z) for z in self.plane_z],
            "frame_rate_hz": None if not period else 1.0 / period,
            "duration_s": None if not period else self.n_frames * period,
            "dropped_frames": self.dropped_frames,
            "voltage_signals": signals,
        }

    def check_channel_plane(self, channel: int | None, plane: int | None) -> None:
        """Raise ``ValueError`` naming the channels/planes that exist when one is out of range."""
        if channel is not None:
            if not isinstance(channel, (int, np.integer)) or isinstance(channel, bool):
                raise TypeError(f"channel must be an int or None, not {type(channel).__name__}")
            if not 0 <= channel < self.n_channels:
                have = ", ".join(f"{i} (Ch{c})" for i, c in enumerate(self.channels))
                raise ValueError(
                    f"channel {channel} is out of range for {self.folder}: it has "
                    f"{self.n_channels} channel(s), zero-indexed: {have}"
                )
        if plane is not None:
            if not isinstance(plane, (int, np.integer)) or isinstance(plane, bool):
                raise TypeError(f"plane must be an int or None, not {type(plane).__name__}")
            if not 0 <= plane < self.n_planes:
                raise ValueError(
                    f"plane {plane} is out of range for {self.folder}: it has {self.n_planes} "
                    f"plane(s), zero-indexed 0..{self.n_planes - 1}"
                )


def _voltage_signal_names(csv: Path) -> list[str]:
    xml = csv.with_suffix(".xml")
    if xml.is_file():
        from CalSciPy.bruker.xml_load import get_voltage_recording

        return list(get_voltage_recording(xml)["enabled"])
    with open(csv, encoding="utf-8-sig") as handle:
        header = handle.readline()
    return [name.strip() for name in header.split(",")[1:]]


def find_master_xml(folder: Path, names: list[str] | None = None) -> Path | None:
    """The folder's master XML: ``<folder name>.xml``, else the one non-cycle XML with root PVScan.

    Raises
    ------
    DataFormatError
        ``<folder name>.xml`` exists but is not a PVScan file.
    """
    found = _find_master(folder, names)
    return None if found is None else found[0]


def _find_master(folder: Path, names: list[str] | None) -> tuple[Path, Element] | None:
    names = os.listdir(folder) if names is None else names
    preferred = folder / f"{folder.name}.xml"
    if preferred.is_file():
        return preferred, parse_xml(preferred, expected_root="PVScan")
    for name in sorted(n for n in names if n.lower().endswith(".xml")):
        if "_Cycle" in name:
            continue
        candidate = folder / name
        try:
            return candidate, parse_xml(candidate, expected_root="PVScan")
        except DataFormatError:
            continue
    return None


def _scan_folder(folder: Path) -> list[str]:
    if not folder.exists():
        raise FileNotFoundError(f"PrairieView folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"expected a PrairieView folder, got a file: {folder}")
    with os.scandir(folder) as entries:
        return [entry.name for entry in entries]


def _voltage_xmls_without_csv(folder: Path) -> list[Path]:
    """VoltageRecording XMLs of ``folder`` whose CSV is not there (e.g. excerpts), sorted."""
    found = []
    for name in sorted(os.listdir(folder)):
        match = VOLTAGE_RECORDING_PATTERN.match(name)
        if match and match["ext"].lower() == "xml":
            xml = folder / name
            if not xml.with_suffix(".csv").is_file():
                found.append(xml)
    return found


def _voltage_files(folder: Path, names: list[str]) -> tuple[Path, ...]:
    found = (n for n in names if "VoltageRecording" in n)
    return tuple(folder / n for n in sorted(found)
                 if (m := VOLTAGE_RECORDING_PATTERN.match(n)) and m["ext"].lower() == "csv")


def read_prairieview_session(folder: str | os.PathLike, *, use_xml: bool = True
                             ) -> PrairieViewSession:
    """Read a PrairieView acquisition folder into a :class:`PrairieViewSession`.

    Parameters
    ----------
    folder
        The acquisition folder (holding ``<base>.xml`` and the ``*.ome.tif`` images).
    use_xml
        Use the master XML when present (file order, channels, planes, pages, frame times).
        ``False`` (or no XML) infers the layout from the file names: one cycle = a single-plane
        T-series (index = frame); several cycles = volumetric (cycle = volume, index = plane).
        The names cannot tell a bidirectional z-stroke: without the XML every cycle's planes
        are taken in file-index order.

    Raises
    ------
    FileNotFoundError
        The folder does not exist, is empty, or holds no PrairieView images.
    MissingFramesError
        A gap in the frame/plane index, or a file listed in the XML is missing.
    SessionError
        Duplicate frames, images of several acquisitions mixed in one folder, channels with
        different frames.
    DataFormatError
        The master XML is malformed or not a PVScan file.

    Warns
    -----
    UserWarning
        An incomplete last volume (aborted acquisition) was dropped.
    """
    folder = as_path(folder, "folder")
    names = _scan_folder(folder)
    if not names:
        raise FileNotFoundError(
            f"{folder} is empty: expected PrairieView images named "
            "<base>_Cycle00001_Ch<c>_000001.ome.tif"
        )
    voltage = _voltage_files(folder, names)
    found = _find_master(folder, names) if use_xml else None
    if found is not None:
        return _session_from_xml(folder, _xml_from_root(*found), voltage)
    return _session_from_names(folder, names, voltage)


def _raise_no_images(folder: Path, names: list[str]) -> None:
    shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    raise FileNotFoundError(
        f"{folder} holds no PrairieView images (expected names like "
        f"<base>_Cycle00001_Ch2_000001.ome.tif; found: {shown})"
    )


def _session_from_names(folder: Path, names: list[str], voltage: tuple[Path, ...]
                        ) -> PrairieViewSession:
    parsed = parse_image_names(names)
    if len(parsed) == 0:
        _raise_no_images(folder, names)
    bases = sorted(set(parsed.bases))
    if len(bases) > 1:
        raise SessionError(
            f"{folder} mixes images of {len(bases)} acquisitions ({', '.join(bases[:4])}); "
            "expected one base name per folder"
        )
    # vectorised over files: cycle-major, then channel, then index
    order = np.lexsort((parsed.indices, parsed.channels, parsed.cycles))
    cyc, ch, idx = parsed.cycles[order], parsed.channels[order], parsed.indices[order]
    prefix = os.path.join(str(folder), "")
    paths = np.array([prefix + parsed.names[i] for i in order.tolist()], dtype=object)
    same = (cyc[1:] == cyc[:-1]) & (ch[1:] == ch[:-1]) & (idx[1:] == idx[:-1])
    if same.any():
        k = int(np.flatnonzero(same)[0])
        # the same frame written twice (e.g. different zero padding) would silently replace one
        raise SessionError(
            f"duplicate frame in {folder}: {os.path.basename(paths[k])} and "
            f"{os.path.basename(paths[k + 1])} are both cycle {cyc[k]}, Ch{ch[k]}, "
            f"index {idx[k]}"
        )
    channels = np.unique(ch)
    cycles = np.unique(cyc)
    planes = np.unique(idx)
    n_ch = len(channels)
    dropped = 0
    if len(cycles) == 1:
        _check_contiguous(folder, planes, "frame index",
                          lambda i: _expected_name(bases[0], int(cycles[0]), int(channels[0]), i))
        n_frames, n_planes = len(planes), 1
        for c in channels.tolist():
            got = idx[ch == c]
            if got.size != n_frames:
                missing = int(np.setdiff1d(planes, got)[0])
                raise MissingFramesError(
                    f"missing frame in {folder}: Ch{c} has no image for index {missing} "
                    f"(expected {_expected_name(bases[0], int(cycles[0]), c, missing)})"
                )
        files = paths.reshape(n_ch, n_frames).T[:, None, :]
    else:
        _check_contiguous(folder, cycles, "cycle (volume)",
                          lambda c: _expected_name(bases[0], c, int(channels[0]), int(planes[0])))
        _check_contiguous(folder, planes, "plane index",
                          lambda i: _expected_name(bases[0], int(cycles[0]), int(channels[0]), i))
        n_planes = len(planes)
        per_cycle = n_planes * n_ch
        counts = np.bincount(cyc - cycles[0], minlength=len(cycles))
        incomplete = np.flatnonzero(counts != per_cycle)
        if incomplete.size and incomplete[0] == len(cycles) - 1:
            dropped = int(counts[-1])
            warnings.warn(
                f"{folder}: the last volume (cycle {int(cycles[-1])}) is incomplete "
                f"({dropped} of {per_cycle} images); it was dropped",
                UserWarning, stacklevel=3,
            )
            keep = cyc != cycles[-1]
            cyc, ch, idx, paths = cyc[keep], ch[keep], idx[keep], paths[keep]
            cycles = cycles[:-1]
        elif incomplete.size:
            bad = int(cycles[incomplete[0]])
            sel = cyc == bad
            have = set(zip(ch[sel].tolist(), idx[sel].tolist()))
            c, p = next((c, p) for c in channels.tolist() for p in planes.tolist()
                        if (c, p) not in have)
            raise MissingFramesError(
                f"missing frame in {folder}: cycle {bad} Ch{c} has no image for plane index "
                f"{p} (expected {_expected_name(bases[0], bad, c, p)})"
            )
        n_frames = len(cycles)
        files = paths.reshape(n_frames, n_ch, n_planes).transpose(0, 2, 1)
    files = np.ascontiguousarray(files)
    return PrairieViewSession(
        folder=folder,
        base_name=bases[0],
        xml=None,
        channels=tuple(int(c) for c in channels),
        channel_names=tuple(f"Ch{int(c)}" for c in channels),
        n_planes=n_planes,
        n_frames=n_frames,
        files=files,
        pages=np.zeros(files.shape, dtype=np.int64),
        frame_times=None,
        plane_z=None,
        voltage_recordings=voltage,
        dropped_frames=dropped,
    )


def _expected_name(base: str, cycle: int, channel: int, index: int) -> str:
    from CalSciPy.bruker._naming import image_name

    return image_name(base, cycle, channel, index)


def _check_contiguous(folder: Path, values: np.ndarray, what: str,
                      name_of: Callable[[int], str]) -> None:
    """Raise naming the first missing file when ``values`` (sorted, unique) has a gap."""
    gaps = np.flatnonzero(np.diff(values) != 1)
    if gaps.size:
        before, after = int(values[gaps[0]]), int(values[gaps[0] + 1])
        raise MissingFramesError(
            f"missing frames in {folder}: the {what} jumps from {before} to {after} "
            f"(expected {before + 1}..{after - 1} to exist, e.g. {name_of(before + 1)})"
        )


def _session_from_xml(folder: Path, xml: PrairieViewXML, voltage: tuple[Path, ...]
                      ) -> PrairieViewSession:
    frames_all = [(seq, fr) for seq in xml.sequences for fr in seq.frames]
    if not frames_all or not any(fr.files for _, fr in frames_all):
        raise SessionError(f"{xml.path}: the master XML lists no image files")
    channels = xml.channels
    names = dict(zip(xml.channels, xml.channel_names))
    ch_pos = {c: i for i, c in enumerate(channels)}
    times = xml.frame_times()
    seen: dict[tuple[str, int], str] = {}

    def file_row(seq: PrairieViewSequence, frame: PrairieViewFrame) -> tuple[list, list]:
        row: list = [None] * len(channels)
        pages = [0] * len(channels)
        for channel, _, name, page in frame.files:
            where = f"cycle {seq.cycle} frame index {frame.index} Ch{channel}"
            previous = seen.get((name, page))
            if previous is not None:
                raise SessionError(
                    f"{xml.path}: duplicate frame, {name} page {page + 1} is listed for both "
                    f"{previous} and {where}"
                )
            seen[(name, page)] = where
            row[ch_pos[channel]] = os.path.join(str(folder), name)
            pages[ch_pos[channel]] = page
        missing = [channels[i] for i, r in enumerate(row) if r is None]
        if missing:
            raise MissingFramesError(
                f"{xml.path}: cycle {seq.cycle} frame index {frame.index} has no file for "
                f"Ch{missing[0]} (expected one <File> per channel {list(channels)})"
            )
        return row, pages

    dropped = 0
    plane_z = None
    if not xml.volumetric:
        rows, pages, frame_times = [], [], []
        for seq in xml.sequences:
            indices = [fr.index for fr in seq.frames]
            _check_index_sequence(xml.path, seq, indices, "frame")
        for k, (seq, frame) in enumerate(frames_all):
            row, page = file_row(seq, frame)
            rows.append([row])
            pages.append([page])
            frame_times.append(times[k])
        files = _object_rows(rows)
        page_arr = np.asarray(pages, dtype=np.int64)
        n_planes = 1
        frame_times_arr = np.asarray(frame_times)
    else:
        seqs = [s for s in xml.sequences if s.frames]
        n_planes = max(len(s.frames) for s in seqs)
        for seq in seqs:
            _check_index_sequence(xml.path, seq, [fr.index for fr in seq.frames], "plane")
        if len(seqs[-1].frames) < n_planes and all(len(s.frames) == n_planes for s in seqs[:-1]):
            dropped = len(seqs[-1].frames) * len(channels)
            warnings.warn(
                f"{xml.path}: the last volume (cycle {seqs[-1].cycle}) is incomplete "
                f"({len(seqs[-1].frames)} of {n_planes} planes); it was dropped",
                UserWarning, stacklevel=3,
            )
            seqs = seqs[:-1]
        for seq in seqs:
            if len(seq.frames) != n_planes:
                raise MissingFramesError(
                    f"{xml.path}: cycle {seq.cycle} has {len(seq.frames)} planes, expected "
                    f"{n_planes} like the other volumes"
                )
        # the reference z-stroke is that of odd cycles, also when the XML starts with an even
        # one (an excerpt): otherwise the z and the no-z paths would disagree on plane order
        reference = sorted(seqs[0].frames, key=lambda fr: fr.index)
        if seqs[0].bidirectional_z and seqs[0].cycle % 2 == 0:
            reference.reverse()
        first_z = [fr.z for fr in reference]
        have_z = all(z is not None for s in seqs for z in (fr.z for fr in s.frames))
        plane_z = np.asarray(first_z, dtype=np.float64) if have_z else None
        start = {id(fr): times[k] for k, (_, fr) in enumerate(frames_all)}
        rows, pages, frame_times = [], [], []
        for seq in seqs:
            ordered = _order_planes(seq, n_planes, plane_z)
            vol_rows, vol_pages = [], []
            for frame in ordered:
                row, page = file_row(seq, frame)
                vol_rows.append(row)
                vol_pages.append(page)
            rows.append(vol_rows)
            pages.append(vol_pages)
            frame_times.append(min(start[id(fr)] for fr in seq.frames))
        files = _object_rows(rows)
        page_arr = np.asarray(pages, dtype=np.int64)
        frame_times_arr = np.asarray(frame_times)
    n_frames = _files_on_disk(folder, files, xml)
    dropped += int(np.prod(files.shape[1:])) * (files.shape[0] - n_frames)
    files, page_arr, frame_times_arr = (files[:n_frames], page_arr[:n_frames],
                                        frame_times_arr[:n_frames])
    first = next(f for f in files.flat if f is not None)
    base = os.path.basename(first).split("_Cycle")[0]
    return PrairieViewSession(
        folder=folder,
        base_name=base,
        xml=xml,
        channels=channels,
        channel_names=tuple(names[c] for c in channels),
        n_planes=n_planes,
        n_frames=n_frames,
        files=files,
        pages=page_arr,
        frame_times=frame_times_arr,
        plane_z=plane_z,
        voltage_recordings=voltage,
        dropped_frames=dropped,
    )


def _object_rows(rows: list) -> np.ndarray:
    """Nested ``[frame][plane][channel]`` lists of paths as an object array (no str splitting)."""
    out = np.empty((len(rows), len(rows[0]), len(rows[0][0])), dtype=object)
    for i, vol in enumerate(rows):
        for j, row in enumerate(vol):
            for k, value in enumerate(row):
                out[i, j, k] = value
    return out


def _files_on_disk(folder: Path, files: np.ndarray, xml: PrairieViewXML) -> int:
    """Number of leading frames/volumes whose files all exist.

    An aborted volumetric acquisition may list a last volume whose files were never (or only
    partly) written: that volume is left out with a warning. A missing file anywhere else
    raises :class:`~CalSciPy.errors.MissingFramesError` naming it.
    """
    existing = set(os.listdir(folder))
    rows = files.reshape(files.shape[0], -1).tolist()
    missing = [i for i, row in enumerate(rows)
               if any(os.path.basename(p) not in existing for p in row)]
    if not missing:
        return len(rows)
    last = len(rows) - 1
    if missing == [last] and files.shape[1] > 1 and last > 0:
        warnings.warn(
            f"{xml.path}: the files of the last volume are incomplete; it was dropped",
            UserWarning, stacklevel=4,
        )
        return last
    name = next(p for p in rows[missing[0]] if os.path.basename(p) not in existing)
    raise MissingFramesError(
        f"missing frame: {name} is listed in {xml.path} but does not exist"
    )


def _check_index_sequence(path: Path, seq: PrairieViewSequence, indices: list[int],
                          what: str) -> None:
    arr = np.asarray(indices, dtype=np.int64)
    if arr.size == 0:
        return
    dup = np.flatnonzero(np.diff(np.sort(arr)) == 0)
    if dup.size:
        raise SessionError(
            f"{path}: duplicate frame, cycle {seq.cycle} lists {what} index "
            f"{int(np.sort(arr)[dup[0]])} twice"
        )
    gaps = np.flatnonzero(np.diff(arr) != 1)
    if gaps.size:
        raise MissingFramesError(
            f"{path}: missing frames in cycle {seq.cycle}: the {what} index jumps from "
            f"{int(arr[gaps[0]])} to {int(arr[gaps[0] + 1])}"
        )


def _order_planes(seq: PrairieViewSequence, n_planes: int, plane_z: np.ndarray | None
                  ) -> list[PrairieViewFrame]:
    frames = list(seq.frames)
    if plane_z is not None and len(np.unique(plane_z)) == n_planes:
        # match each frame to the plane with the nearest z of the first volume
        zs = np.asarray([fr.z for fr in frames], dtype=np.float64)
        order = np.argsort(np.abs(zs[None, :] - plane_z[:, None]), axis=1)[:, 0]
        if len(set(order.tolist())) == n_planes:
            return [frames[i] for i in order]
    frames.sort(key=lambda fr: fr.index)
    if seq.bidirectional_z and seq.cycle % 2 == 0:
        frames.reverse()
    return frames
