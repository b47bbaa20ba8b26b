"""What the NWB writer needs from a PrairieView session: lazy stacks, per-plane times, optics.

Works from :class:`~CalSciPy.bruker.session.PrairieViewSession` (its ``stack(channel, plane)``
and ``frame_times_s`` when present; the image reader and the master XML otherwise).
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from CalSciPy.errors import DataFormatError, SessionError

__all__ = ["SessionOptics", "plane_frame_times", "session_optics", "session_stack",
           "session_start_time"]


def session_stack(session: Any, channel: int, plane: int) -> Any:
    """The session's lazy ``(frames, y, x)`` stack for ``channel``/``plane`` (zero-indexed)."""
    return session.stack(channel, plane)


def plane_frame_times(session: Any) -> np.ndarray:
    """``(frames, planes)`` float64 start time (s from the first frame) of every frame.

    Each plane of a volume has its own time. Raises :class:`SessionError` for a session
    without frame times (no master XML) and :class:`DataFormatError` for non-finite or
    non-increasing times.
    """
    times = getattr(session, "frame_times_s", None)
    if times is None:
        raise SessionError(
            f"{session.folder}: the session has no frame times (no master XML <base>.xml); "
            "NWB needs the exact time of every frame, keep the XML with the images")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim == 1:
        times = times[:, None]
    expected = (int(session.n_frames), int(session.n_planes))
    if times.shape != expected:
        raise SessionError(f"{session.folder}: frame times of shape {times.shape}, expected "
                           f"(frames, planes) = {expected}")
    if not np.all(np.isfinite(times)):
        raise DataFormatError(f"{session.folder}: the master XML holds non-finite frame times")
    if np.any(np.diff(times, axis=0) <= 0):
        raise DataFormatError(f"{session.folder}: frame times in the master XML do not "
                              "increase from frame to frame")
    return times


@dataclass(frozen=True)
class SessionOptics:
    """Optical settings of a session, from its master XML.

    Attributes
    ----------
    grid_spacing_um
        ``(x, y)`` µm per pixel (Sequence-level ``micronsPerPixel`` when present), or None.
    excitation_nm
        Imaging laser wavelength (``laserWavelength`` index 0), or None.
    stage_um
        ``(x, y, z)`` stage position (``positionCurrent``), or None.
    objective
        ``objectiveLens``, or ``""``.
    """

    grid_spacing_um: tuple[float, float] | None
    excitation_nm: float | None
    stage_um: tuple[float, float, float] | None
    objective: str


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _axis(entry: Any, axis: str) -> float | None:
    if not isinstance(entry, dict):
        return None
    value = entry.get(axis)
    if isinstance(value, dict):  # SubindexedValues: summed (e.g. piezo + motor z)
        parts = [_finite(v) for v in value.values()]
        finite = [part for part in parts if part is not None]
        return float(sum(finite)) if parts and len(finite) == len(parts) else None
    return _finite(value)


def _sequence_state(session: Any) -> dict[str, Any]:
    """``PVStateShard`` of the first Sequence (and its first Frame), parsed from the XML."""
    from CalSciPy.bruker._xml import parse_xml

    try:
        from CalSciPy.bruker._session.master_xml import parse_state_shard
    except ImportError:  # the single-module layout of CalSciPy.bruker.session
        from CalSciPy.bruker.session import parse_state_shard  # type: ignore[no-redef]

    root = parse_xml(session.xml.path, expected_root="PVScan")
    sequence = root.find("Sequence")
    if sequence is None:
        return {}
    state = parse_state_shard(sequence.find("PVStateShard"))
    frame = sequence.find("Frame")
    if frame is not None:
        for key, value in parse_state_shard(frame.find("PVStateShard")).items():
            state.setdefault(key, value)
    return state


def session_optics(session: Any) -> SessionOptics:
    """Grid spacing, excitation wavelength and stage position from the master XML."""
    state = dict(getattr(session, "state", {}) or {})
    sequence = _sequence_state(session) if getattr(session, "xml", None) is not None else {}
    spacing = None
    for source in (sequence, state):  # the Sequence's own values describe these frames
        mpp = source.get("micronsPerPixel")
        x, y = _axis(mpp, "XAxis"), _axis(mpp, "YAxis")
        if x is not None and y is not None:
            if x <= 0 or y <= 0:
                raise DataFormatError(f"{session.folder}: micronsPerPixel {x}, {y} must be > 0")
            spacing = (x, y)
            break
    wavelength = state.get("laserWavelength")
    excitation = _axis(wavelength, "0") if isinstance(wavelength, dict) else _finite(wavelength)
    if excitation is not None and excitation <= 0:
        excitation = None
    position = state.get("positionCurrent")
    stage = None
    x_um, y_um, z_um = (_axis(position, a) for a in ("XAxis", "YAxis", "ZAxis"))
    if x_um is not None and y_um is not None and z_um is not None:
        stage = (x_um, y_um, z_um)
    objective = state.get("objectiveLens")
    return SessionOptics(spacing, excitation, stage, objective if isinstance(objective, str)
                         else "")


def session_start_time(session: Any, timezone: Any) -> _dt.datetime | None:
    """``PVScan date`` (e.g. ``"12/1/2021 10:52:35 AM"``) in ``timezone`` (tzinfo), or None."""
    text = getattr(session, "date", None)
    if not text:
        return None
    for fmt in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            naive = _dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=timezone)
    raise DataFormatError(f"{session.xml.path}: PVScan date {text!r} is not a date PrairieView "
                          "writes (month/day/year h:m:s AM/PM)")
