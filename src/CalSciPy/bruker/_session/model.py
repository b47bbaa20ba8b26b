"""The parsed model of one PrairieView acquisition folder: :class:`PrairieViewSession`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy._checks import check_int, is_real_number
from CalSciPy.bruker._session.master_xml import PrairieViewXML
from CalSciPy.bruker._session.stack import SessionStack
from CalSciPy.bruker._tiffread import TiffProbe, probe
from CalSciPy.errors import DataFormatError, InvalidArgumentError

__all__ = ["PrairieViewSession"]


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
    plane_times
        ``(n_frames, n_planes)`` start time (s) of every frame of every plane, or None
        without a master XML; read it through :attr:`frame_times_s`.
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
    plane_times: np.ndarray | None = None

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
        if not is_real_number(period):
            return None
        if not math.isfinite(period) or period <= 0 or period > 1e6:
            raise DataFormatError(
                f"{self.xml.path if self.xml else self.folder}: <PVStateValue "
                f"key=\"framePeriod\" value=\"{period}\"> is not a positive finite period (s)"
            )
        return float(period) * self.n_planes


    @property
    def frame_times_s(self) -> np.ndarray | None:
        """Exact start time (s) of every frame of every plane, ``(frames, planes)`` float64.

        ``frame_times_s[f, p]`` is when frame ``f`` of plane ``p`` (in the order of
        :meth:`stack` / ``load_bruker_tifs``) started, from the master XML's
        ``relativeTime``/``absoluteTime``: in volumetric sessions every plane has its own time
        (plane order follows the z-stroke, bidirectional cycles included). Time 0 is the start
        of the first frame listed in the master XML; each Sequence is placed on that clock by
        its ``absoluteTime``, so cycles that waited for a trigger keep their real gap. A
        VoltageRecording started with ``triggerMode="Start with next scan"`` (see
        :attr:`voltage_trigger_mode`) shares this time 0. The array is read-only.

        None without a master XML (file names carry no times).
        :func:`~CalSciPy.bruker.data.extract_frame_times` gives the documented integer-ms
        table (one row per frame or volume) rounded from these.
        """
        if self.plane_times is None:
            return None
        times = np.array(self.plane_times, dtype=np.float64)
        times.flags.writeable = False
        return times

    @property
    def voltage_trigger_mode(self) -> str | None:
        """``triggerMode`` of the master XML's ``<VoltageRecording>`` (e.g. ``"Start with next
        scan (PFI0)"``), or None."""
        if self.xml is None:
            return None
        return next((s.voltage_trigger_mode for s in self.xml.sequences
                     if s.voltage_trigger_mode), None)

    @cached_property
    def probe(self) -> TiffProbe:
        """One read of the first image file (shape, pages, dtype, raw layout), cached."""
        return probe(self.files.flat[0])

    def frame_shape(self, *, use_xml: bool = True) -> tuple[int, int]:
        """``(y, x)`` pixels of a frame, from the first image file (read once per session).

        With ``use_xml`` the master XML's ``linesPerFrame``/``pixelsPerLine`` are checked
        against the file.

        Raises
        ------
        DataFormatError
            The first file is not one grayscale frame per page, or the XML's frame size
            disagrees with it (naming the XML and the ``PVStateValue``).
        """
        probed = self.probe
        shape = probed.shape
        if len(shape) != 2:
            raise DataFormatError(
                f"{probed.path}: expected one (y, x) grayscale frame per page, got shape {shape}"
            )
        height, width = int(shape[0]), int(shape[1])
        if use_xml and self.xml is not None:
            for key, value in (("linesPerFrame", height), ("pixelsPerLine", width)):
                stated = self.state.get(key)
                if stated is not None and stated != value:
                    raise DataFormatError(
                        f"{self.xml.path}: <PVStateValue key=\"{key}\" value=\"{stated}\"> "
                        f"disagrees with the images ({probed.path.name} is {height}x{width} "
                        "pixels)"
                    )
        return height, width

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
        pages = self.probe.pages
        if pages > 1:
            raise DataFormatError(
                f"{self.files.flat[0]} holds {pages} frames (a multi-page PrairieView file) but "
                f"{self.folder} has no master XML (<base>.xml with root PVScan) to tell which "
                "frame, plane and channel each page is; keep the XML with the images"
            )

    def stack(self, channel: int = 0, plane: int = 0) -> SessionStack:
        """Lazy ``(frames, y, x)`` uint16 stack of one channel and plane.

        Nothing is read until it is indexed; ``stack[a:b]`` reads only frames ``a..b-1``
        (with the fast raw-offset reader). It is a :class:`CalSciPy._io.source.FrameSource`
        (``shape``, ``dtype``, ``len``, integer/slice indexing, ``iter_blocks``).

        Parameters
        ----------
        channel
            Zero-indexed channel (position in :attr:`channels`).
        plane
            Zero-indexed plane.

        Raises
        ------
        InvalidArgumentError
            ``channel`` or ``plane`` out of range (catchable as ``ValueError`` and
            ``AssertionError``; the message lists those that exist).
        DataFormatError
            Multi-page image files without the master XML, or an unreadable first image.
        """
        self.check_channel_plane(channel, plane)
        self.check_single_page()
        return SessionStack(self, int(channel), int(plane))

    def check_channel_plane(self, channel: int | None, plane: int | None) -> None:
        """Raise naming the channels/planes that exist when one is out of range.

        Raises
        ------
        InvalidArgumentTypeError
            Not an integer (a ``TypeError`` and ``ValueError``).
        InvalidArgumentError
            Out of range (a ``ValueError`` and ``AssertionError``).
        """
        if channel is not None:
            channel = check_int(channel, "channel")
            if not 0 <= channel < self.n_channels:
                have = ", ".join(f"{i} (Ch{c})" for i, c in enumerate(self.channels))
                raise InvalidArgumentError(
                    f"channel {channel} is out of range for {self.folder}: it has "
                    f"{self.n_channels} channel(s), zero-indexed: {have}"
                )
        if plane is not None:
            plane = check_int(plane, "plane")
            if not 0 <= plane < self.n_planes:
                raise InvalidArgumentError(
                    f"plane {plane} is out of range for {self.folder}: it has {self.n_planes} "
                    f"plane(s), zero-indexed 0..{self.n_planes - 1}"
                )


