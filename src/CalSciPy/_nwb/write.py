"""Building and writing the NWB file (see :func:`CalSciPy.nwb.write_nwb`)."""
from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy._atomic import as_path, atomic_path
from CalSciPy._nwb.movie import MovieJob, chunk_frames_for, fill_movie
from CalSciPy.errors import InvalidArgumentError, SessionError

log = logging.getLogger("CalSciPy.nwb")

#: trace keyword -> (container, series name, description)
TRACE_KINDS = {
    "fluorescence": ("Fluorescence", "RoiResponseSeries", "raw fluorescence F of each ROI"),
    "neuropil": ("Fluorescence", "Neuropil", "neuropil fluorescence of each ROI"),
    "corrected": ("Fluorescence", "Corrected", "neuropil-corrected fluorescence of each ROI"),
    "dfof": ("DfOverF", "DfOverF", "dF/F0 of each ROI: (F - F0) / F0"),
    "f0": ("DfOverF", "F0", "baseline F0 of each ROI used for dF/F0 (same units as F)"),
    "deconvolved": ("Deconvolved", "Deconvolved", "deconvolved activity of each ROI"),
}
_TRACE_UNITS = {"dfof": "n.a.", "deconvolved": "n.a."}
_SEX = ("M", "F", "U", "O")
_AGE = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
                  r"(/P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?)?$|^P.*/$")
_SPECIES = re.compile(r"^([A-Z][a-z]+ [a-z]+( [a-z]+)?|http://purl\.obolibrary\.org/obo/"
                      r"NCBITaxon_\d+)$")


def _name(text: str) -> str:
    """An NWB object name from free text (no '/' or ':')."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_")
    return cleaned or "channel"


@dataclass
class Acquisition:
    """Geometry and timing of the imaging: from a session or from arguments."""

    channel_names: tuple[str, ...]
    n_planes: int
    n_frames: int
    frame_shape: tuple[int, int] | None
    times: np.ndarray  # (frames, planes)
    imaging_rate: float
    grid_spacing_um: tuple[float, float] | None
    origins_um: list[list[float]] | None  # per plane (x, y, z)
    excitation_nm: float | None
    device_description: str
    stacks: dict[tuple[int, int], Any] = field(default_factory=dict)
    voltage: list[tuple[Path, Any, dict]] = field(default_factory=list)
    start_time: _dt.datetime | None = None
    voltage_clock_note: str = ""  # said in each voltage series when its clock is not ours
    channel_indices: tuple[int, ...] = ()  # the session's zero-indexed channel of each


def _tz(timezone: Any) -> Any:
    if timezone is None or isinstance(timezone, _dt.tzinfo):
        return timezone
    if isinstance(timezone, str):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise InvalidArgumentError(
                f"timezone {timezone!r} is not an IANA time zone name (e.g. 'Europe/Berlin')"
            ) from err
    raise TypeError(f"timezone must be a str (IANA name) or datetime.tzinfo, not "
                    f"{type(timezone).__name__}")


def acquisition_from_session(session: Any, channels: Sequence[int] | None, timezone: Any,
                             include_voltage: bool) -> Acquisition:
    """Collect what the writer needs from a PrairieView session (nothing is read yet)."""
    from CalSciPy._nwb.session import (
        plane_frame_times,
        session_optics,
        session_stack,
        session_start_time,
    )

    if isinstance(session, (str, os.PathLike)):
        from CalSciPy.bruker.session import read_prairieview_session

        session = read_prairieview_session(session)
    if not hasattr(session, "n_frames") or not hasattr(session, "channels"):
        raise TypeError("session must be a PrairieView folder or a PrairieViewSession, not "
                        f"{type(session).__name__}")
    session.check_single_page()
    times = plane_frame_times(session)
    picks = list(range(session.n_channels)) if channels is None else [int(c) for c in channels]
    for c in picks:
        session.check_channel_plane(c, None)
    if len(set(picks)) != len(picks) or not picks:
        raise InvalidArgumentError(f"channels must list distinct channels, got {channels!r}")
    optics = session_optics(session)
    period = session.frame_period
    if not period or not np.isfinite(period) or period <= 0:
        raise SessionError(f"{session.folder}: cannot tell the imaging rate (frame period "
                           f"{period!r})")
    stage = optics.stage_um
    origins = None
    if stage is not None:
        zs = (session.plane_z if session.plane_z is not None
              else np.full(session.n_planes, stage[2]))
        origins = [[stage[0], stage[1], float(z)] for z in zs]
    elif session.plane_z is not None:
        origins = [[np.nan, np.nan, float(z)] for z in session.plane_z]
    tz = _tz(timezone)
    start = session_start_time(session, tz)
    if start is not None and tz is None:
        start = start.astimezone()  # the naive PVScan date in the local zone (DST included)
    height, width = session.frame_shape(use_xml=False)
    acq = Acquisition(
        channel_names=tuple(session.channel_names[c] for c in picks),
        channel_indices=tuple(picks),
        n_planes=int(session.n_planes),
        n_frames=int(session.n_frames),
        frame_shape=(int(height), int(width)),
        times=times,
        imaging_rate=1.0 / float(period),
        grid_spacing_um=optics.grid_spacing_um,
        origins_um=origins,
        excitation_nm=optics.excitation_nm,
        device_description=(f"Bruker two-photon microscope, acquired with PrairieView "
                            f"{session.version or '(version not recorded)'}"
                            + (f"; objective {optics.objective}" if optics.objective else "")),
        start_time=start,
    )
    for i, c in enumerate(picks):
        for p in range(session.n_planes):
            acq.stacks[(i, p)] = session_stack(session, c, p)
    if include_voltage:
        acq.voltage = _voltage(session)
        mode = getattr(session, "voltage_trigger_mode", None)
        if acq.voltage and not str(mode or "").lower().startswith("start with next scan"):
            # only a recording started by the first scan shares the imaging's time 0
            acq.voltage_clock_note = (
                f"; recorded with triggerMode {mode!r}: its time 0 is the recording's own "
                "start, which need not be the first imaging frame")
            log.warning("%s: voltage recording triggerMode %r does not start with the "
                        "imaging; its times are written from its own start (stated in the "
                        "file)", session.folder, mode)
    return acq


def _voltage(session: Any) -> list[tuple[Path, Any, dict]]:
    from CalSciPy.bruker._voltage import read_voltage_recording
    from CalSciPy.bruker.xml_load import get_voltage_recording

    found = []
    for csv in session.voltage_recordings:
        frame = read_voltage_recording(csv)
        xml = csv.with_suffix(".xml")
        units = {}
        if xml.is_file():
            meta = get_voltage_recording(xml)
            units = {s["name"]: s["unit"] for s in meta["signals"] if s["enabled"]}
        found.append((csv, frame, units))
    return found


def _regular(times: np.ndarray) -> tuple[float, float] | None:
    """``(start, rate)`` when ``times`` are regular to the ns (nwbinspector's own test) and
    ``start + i / rate`` reproduces them to 0.1 µs; else None (timestamps are stored)."""
    if times.size < 3:
        return None
    if np.unique(np.diff(times).round(9)).size != 1:
        return None
    rate = (times.size - 1) / (times[-1] - times[0])
    rebuilt = times[0] + np.arange(times.size) / rate
    if np.max(np.abs(rebuilt - times)) > 1e-7:
        return None
    return float(times[0]), float(rate)


def _timing(times: np.ndarray) -> dict[str, Any]:
    regular = _regular(times)
    if regular is None:
        return {"timestamps": np.ascontiguousarray(times, dtype=np.float64)}
    return {"starting_time": regular[0], "rate": regular[1]}


def _check_metadata(meta: dict[str, Any], dandi: bool) -> None:
    if dandi:
        missing = [k for k in ("subject_id", "species", "sex", "age") if not meta.get(k)
                   and not (k == "age" and meta.get("date_of_birth"))]  # either one, as DANDI
        if missing:
            raise InvalidArgumentError(
                f"dandi=True needs {', '.join(missing)} (DANDI requires subject id, species, "
                "sex and age or date_of_birth); pass them or dandi=False")
    if meta.get("sex") is not None and meta["sex"] not in _SEX:
        raise InvalidArgumentError(f"sex must be one of {_SEX} (NWB/DANDI), got {meta['sex']!r}")
    if meta.get("age") is not None and not _AGE.match(str(meta["age"])):
        raise InvalidArgumentError(
            f"age must be an ISO 8601 duration such as 'P90D' or 'P12W' (or a range "
            f"'P90D/P120D'), got {meta['age']!r}")
    if meta.get("species") is not None and not _SPECIES.match(str(meta["species"])):
        raise InvalidArgumentError(
            f"species must be a Latin binomial such as 'Mus musculus' or an NCBI taxonomy URL, "
            f"got {meta['species']!r}")
    for key in ("subject_id", "session_id"):
        if meta.get(key) is not None and ("/" in str(meta[key]) or "\\" in str(meta[key])):
            raise InvalidArgumentError(f"{key} must not contain slashes, got {meta[key]!r}")


def _as_trace(values: Any, name: str, n_rois: int, n_frames: int) -> np.ndarray:
    from CalSciPy._checks import as_real_array

    arr = as_real_array(values, name)
    if arr.ndim == 1 and n_rois == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidArgumentError(f"{name} must be (rois, frames), got shape {arr.shape}")
    if arr.shape[0] != n_rois:
        raise InvalidArgumentError(f"{name} has {arr.shape[0]} rows but there are {n_rois} "
                                   "ROIs (traces are (rois, frames))")
    if arr.shape[1] != n_frames:
        raise InvalidArgumentError(f"{name} has {arr.shape[1]} frames but the imaging has "
                                   f"{n_frames} frames")
    return arr


def _roi_plane(roi: Any, n_planes: int) -> int:
    plane = getattr(roi, "plane", None)
    plane = 0 if plane is None else int(plane)
    if not 0 <= plane < n_planes:
        raise InvalidArgumentError(f"ROI {getattr(roi, 'id', '?')} is in plane {plane} but the "
                                   f"imaging has {n_planes} plane(s)")
    return plane


def _check_roi(roi: Any, shape: tuple[int, int] | None) -> tuple[np.ndarray, ...]:
    ypix = np.asarray(roi.ypix)
    xpix = np.asarray(roi.xpix)
    lam = np.asarray(getattr(roi, "lam", None) if getattr(roi, "lam", None) is not None
                     else np.ones(ypix.shape), dtype=np.float64)
    rid = getattr(roi, "id", "?")
    if ypix.shape != xpix.shape or lam.shape != ypix.shape or ypix.ndim != 1 or not ypix.size:
        raise InvalidArgumentError(f"ROI {rid}: ypix, xpix and lam must be 1-D of one length "
                                   "(at least one pixel)")
    if not (np.issubdtype(ypix.dtype, np.integer) and np.issubdtype(xpix.dtype, np.integer)):
        raise InvalidArgumentError(f"ROI {rid}: pixel coordinates must be integers")
    if not np.all(np.isfinite(lam)):
        raise InvalidArgumentError(f"ROI {rid}: pixel weights (lam) must be finite")
    if shape is not None:
        height, width = shape
        if ypix.min() < 0 or xpix.min() < 0 or ypix.max() >= height or xpix.max() >= width:
            raise InvalidArgumentError(
                f"ROI {rid} lies outside the imaging plane: rows {ypix.min()}..{ypix.max()}, "
                f"cols {xpix.min()}..{xpix.max()} but frames are {height} x {width} pixels")
    return ypix, xpix, lam


def build_and_write(path: Any, *, acq: Acquisition | None, rois: Any, traces: dict[str, Any],
                    iscell: Any, iscell_prob: Any, events: Any, trials: Any,
                    trial_descriptions: Mapping[str, str] | None, photostim: Any,
                    indicator: str | None, location: str | None,
                    emission_nm: float | Sequence[float] | None, meta: dict[str, Any],
                    dandi: bool, compression: str | None, compression_opts: Any,
                    chunk_frames: int | None, overwrite: bool, progress: bool,
                    workers: int | None) -> Path:
    """Validate everything, then write the file atomically (see ``write_nwb``)."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.file import Subject
    from pynwb.ophys import OpticalChannel, TwoPhotonSeries
    from tqdm.auto import tqdm

    path = as_path(path, "path")
    if path.suffix.lower() != ".nwb":
        raise InvalidArgumentError(f"path must end in .nwb, got {path.name!r}")
    if path.is_dir():  # e.g. an NWB Zarr store: overwrite=True would delete the whole folder
        raise IsADirectoryError(f"{path} is a folder; an NWB file never replaces a folder")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if compression not in (None, "gzip", "lzf"):
        raise InvalidArgumentError(f"compression must be 'gzip', 'lzf' or None, got "
                                   f"{compression!r}")
    if compression == "gzip":
        level = 4 if compression_opts is None else compression_opts
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not (
                0 <= level <= 9):
            raise InvalidArgumentError(f"gzip compression_opts must be a level 0..9, got "
                                       f"{compression_opts!r}")
        compression_opts = int(level)
    elif compression_opts is not None:
        raise InvalidArgumentError(f"compression_opts applies to gzip only, got "
                                   f"{compression_opts!r} for {compression!r}")
    for label, value in (("chunk_frames", chunk_frames), ("workers", workers)):
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, (int, np.integer)) or not 1 <= value <= 1_000_000):
            raise InvalidArgumentError(f"{label} must be a positive integer, got {value!r}")
    _check_metadata(meta, dandi)
    has_rois = rois is not None
    n_rois = 0
    roi_list: list = []
    if has_rois:
        roi_list = list(rois)
        n_rois = len(roi_list)
        if not n_rois:
            raise InvalidArgumentError("rois is empty")
        ids = [int(r.id) for r in roi_list]
        if len(set(ids)) != len(ids):
            raise InvalidArgumentError("ROI ids must be unique")
    given_traces = {k: v for k, v in traces.items() if v is not None}
    if (given_traces or iscell is not None or events is not None) and not has_rois:
        raise InvalidArgumentError("traces, iscell and events need the ROIs they belong to "
                                   "(rois= or suite2p=)")
    if has_rois and acq is None:
        raise InvalidArgumentError("ROIs need the imaging they were drawn on: pass the session")
    if acq is not None:
        if not indicator or not isinstance(indicator, str):
            raise InvalidArgumentError("indicator is required with the imaging (e.g. "
                                       "'GCaMP6s'): PrairieView's XML does not record it")
        if not location or not isinstance(location, str):
            raise InvalidArgumentError("location is required with the imaging (brain area, "
                                       "e.g. 'VISp layer 2/3'): the XML does not record it")
        if emission_nm is None:
            raise InvalidArgumentError(
                "emission_wavelength (nm) is required with the imaging, one value or one per "
                f"channel {list(acq.channel_names)}: the XML does not record it")
        # np.ndim tells a number (numpy scalars and 0-d arrays included) from a sequence;
        # mypy cannot narrow the union on it
        emissions = ([float(emission_nm)] * len(acq.channel_names)  # type: ignore[arg-type]
                     if np.ndim(emission_nm) == 0
                     else [float(v) for v in emission_nm])  # type: ignore[union-attr]
        if len(emissions) != len(acq.channel_names) or not all(
                np.isfinite(e) and e > 0 for e in emissions):
            raise InvalidArgumentError(
                f"emission_wavelength must be a positive number or one per channel "
                f"{list(acq.channel_names)} (nm), got {emission_nm!r}")
        excitation = meta.get("excitation_wavelength")
        if excitation is None:  # not ``or``: a given 0 is an error, not "use the XML's"
            excitation = acq.excitation_nm
        if excitation is None:
            raise InvalidArgumentError("the master XML holds no laserWavelength: pass "
                                       "excitation_wavelength (nm)")
        excitation = float(excitation)
        if not np.isfinite(excitation) or excitation <= 0:
            raise InvalidArgumentError(f"excitation_wavelength must be > 0 nm, got {excitation}")
    plane_of: list[int] = []
    masks: list[tuple[np.ndarray, ...]] = []
    arrays: dict[str, np.ndarray] = {}  # traces without ROIs were refused above
    if has_rois:
        assert acq is not None  # ROIs without the imaging were refused above
        plane_of = [_roi_plane(r, acq.n_planes) for r in roi_list]
        masks = [_check_roi(r, acq.frame_shape) for r in roi_list]
        arrays = {k: _as_trace(v, k, n_rois, acq.n_frames) for k, v in given_traces.items()}
    iscell_arr = iscell_prob_arr = None
    if iscell is not None:
        iscell_arr = np.asarray(iscell)
        if iscell_arr.ndim == 2 and iscell_arr.shape[1] == 2 and iscell_prob is None:
            iscell_prob = iscell_arr[:, 1]  # suite2p's (rois, 2): label, probability
            iscell_arr = iscell_arr[:, 0]
        if iscell_arr.dtype != bool and not (
                iscell_arr.dtype.kind in "iuf" and np.all(np.isin(iscell_arr, (0, 1)))):
            # a probability passed as the label would all become True
            raise InvalidArgumentError("iscell must hold labels (bool or 0/1; probabilities go "
                                       "to iscell_prob or suite2p's (rois, 2) form)")
        iscell_arr = iscell_arr.astype(bool).ravel()
        if iscell_arr.shape != (n_rois,):
            raise InvalidArgumentError(f"iscell must hold one value per ROI ({n_rois}), got "
                                       f"shape {np.shape(iscell)}")
    if iscell_prob is not None:
        iscell_prob_arr = np.asarray(iscell_prob, dtype=np.float64).ravel()
        if iscell_prob_arr.shape != (n_rois,):
            raise InvalidArgumentError(f"iscell_prob must hold one value per ROI ({n_rois})")
    events_df = _check_events(events, roi_list) if events is not None else None
    trials_df = _check_trials(trials) if trials is not None else None

    given_start = meta.get("session_start_time")
    if given_start is not None and not isinstance(given_start, _dt.datetime):
        raise InvalidArgumentError(f"session_start_time must be a datetime.datetime, got "
                                   f"{type(given_start).__name__} {given_start!r}")
    start = given_start or (acq.start_time if acq is not None else None)
    if start is None:
        raise InvalidArgumentError("session_start_time is required (no session XML to read "
                                   "it from)")
    # the local zone is a guess whenever no zone came with the time or as ``timezone``
    local_zone = meta.get("timezone") is None and (given_start is None
                                                   or given_start.tzinfo is None)
    if start.tzinfo is None:
        tz = _tz(meta.get("timezone"))
        start = start.replace(tzinfo=tz) if tz is not None else start.astimezone()
    zone_note = (f"Session start time zone: {start.tzname()} (UTC{start.strftime('%z')})"
                 + (", the local zone of the converting computer (no timezone given)"
                    if local_zone else ""))
    notes = "; ".join(x for x in (meta.get("notes"), zone_note,
                                  "Times are seconds from the first imaging frame.") if x)
    nwbfile = NWBFile(
        session_description=meta.get("session_description") or "Two-photon imaging session "
        "(PrairieView), converted by CalSciPy",
        identifier=meta.get("identifier") or str(uuid.uuid4()),
        session_start_time=start,
        experimenter=_listify(meta.get("experimenter")),
        lab=meta.get("lab"),
        institution=meta.get("institution"),
        session_id=meta.get("session_id"),
        experiment_description=meta.get("experiment_description"),
        keywords=_listify(meta.get("keywords")),
        notes=notes,
        source_script="CalSciPy.nwb.write_nwb",
        source_script_file_name="CalSciPy/nwb.py",
    )
    subject_keys = ("subject_id", "species", "sex", "age", "date_of_birth", "strain",
                    "genotype", "subject_description")
    if any(meta.get(k) for k in subject_keys):
        nwbfile.subject = Subject(
            subject_id=meta.get("subject_id"), species=meta.get("species"),
            sex=meta.get("sex"), age=meta.get("age"), date_of_birth=meta.get("date_of_birth"),
            strain=meta.get("strain"), genotype=meta.get("genotype"),
            description=meta.get("subject_description"))

    jobs: list[MovieJob] = []
    planes: list[Any] = []
    if acq is not None:
        if hasattr(nwbfile, "create_device_model"):  # pynwb >= 3.1: the maker is the model's
            model = nwbfile.create_device_model(
                name="Bruker two-photon microscope", manufacturer="Bruker",
                description="Bruker (Prairie Technologies) two-photon microscope")
            device = nwbfile.create_device(name="Microscope",
                                           description=acq.device_description, model=model)
        else:
            device = nwbfile.create_device(name="Microscope",
                                           description=acq.device_description,
                                           manufacturer="Bruker")
        for p in range(acq.n_planes):
            optical = [OpticalChannel(name=_name(n), description=f"PrairieView channel {n!r}",
                                      emission_lambda=e)
                       for n, e in zip(acq.channel_names, emissions)]
            extra: dict[str, Any] = {}
            if acq.grid_spacing_um is not None:
                extra.update(grid_spacing=list(acq.grid_spacing_um),
                             grid_spacing_unit="micrometers")
            if acq.origins_um is not None:
                extra.update(origin_coords=acq.origins_um[p], origin_coords_unit="micrometers")
            planes.append(nwbfile.create_imaging_plane(
                name=f"ImagingPlane_plane{p}" if acq.n_planes > 1 else "ImagingPlane",
                optical_channel=optical,
                description=f"plane {p} of {acq.n_planes} (z-stroke order of odd cycles)"
                            + ("" if acq.origins_um is None else
                               f"; stage position x, y, z = {acq.origins_um[p]} µm"),
                device=device, excitation_lambda=excitation, imaging_rate=acq.imaging_rate,
                indicator=indicator, location=location, **extra))
        for (c, p), stack in sorted(acq.stacks.items()):
            frames, height, width = (int(v) for v in stack.shape)
            cf = chunk_frames or chunk_frames_for((height, width), np.dtype(stack.dtype)
                                                  .itemsize, frames)
            cf = int(max(1, min(cf, frames)))
            name = f"TwoPhotonSeries_ch{c}_plane{p}"
            data = H5DataIO(shape=(frames, width, height), dtype=np.dtype(stack.dtype),
                            chunks=(cf, width, height), compression=compression,
                            compression_opts=compression_opts)
            nwbfile.add_acquisition(TwoPhotonSeries(
                name=name, imaging_plane=planes[p], data=data, unit="n.a.",
                description=f"raw movie of channel {acq.channel_names[c]!r} (session channel "
                            f"index {acq.channel_indices[c] if acq.channel_indices else c}), "
                            f"plane {p}, stored (frames, x, y) as NWB specifies",
                dimension=[width, height], **_timing(acq.times[:, p])))
            jobs.append(MovieJob(f"acquisition/{name}/data", stack, cf))
        for k, (csv, frame, units) in enumerate(acq.voltage):
            t = frame.index.to_numpy(dtype=np.float64) / 1000.0
            for position, column in enumerate(frame.columns):
                name = _name(column) if len(acq.voltage) == 1 else f"{_name(column)}_{k + 1}"
                unit = units.get(column) or "V"
                nwbfile.add_acquisition(TimeSeries(
                    name=name, data=H5DataIO(frame[column].to_numpy(dtype=np.float64),
                                             compression="gzip"),
                    unit=unit, description=f"PrairieView voltage recording signal "
                    f"{column!r} from {csv.name}" + ("" if units.get(column) else
                                                     " (unit not in its XML: volts assumed)")
                    + acq.voltage_clock_note,
                    comments=f"signal {column!r}, column {position} of {csv.name}",
                    **_timing(t)))
    if has_rois:
        assert acq is not None  # ROIs without the imaging were refused above
        _add_ophys(nwbfile, planes, acq, roi_list, plane_of, masks, arrays, iscell_arr,
                   iscell_prob_arr, events_df)
    if trials_df is not None:
        _add_trials(nwbfile, trials_df, trial_descriptions or {})
    if photostim is not None:
        from CalSciPy._nwb.photostim import add_photostimulation

        add_photostimulation(nwbfile, photostim)

    total = sum(len(job.source) for job in jobs)
    direct = compression == "gzip"
    threads = workers or min(32, os.cpu_count() or 1)
    with atomic_path(path, overwrite=overwrite) as staged:
        with NWBHDF5IO(str(staged), "w") as io:
            io.write(nwbfile)
        if jobs:
            import h5py

            with h5py.File(staged, "r+") as h5, tqdm(total=total, unit="frame",
                                                     desc="NWB movie", disable=not progress
                                                     ) as bar:
                for job in jobs:
                    fill_movie(h5[job.dataset_path], job.source, chunk_frames=job.chunk_frames,
                               compression=compression, compression_opts=compression_opts,
                               direct_gzip=direct, workers=threads, on_frames=bar.update)
    return path


def _listify(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


#: names a DynamicTable column cannot take: the table's own fields (hdmf fails mid-write
#: with an obscure error); TimeIntervals also reserves its typed ``timeseries``/``tags``
_RESERVED = frozenset({"id", "description", "colnames", "object_id", "neurodata_type",
                       "namespace"})


def _check_column_names(frame: Any, label: str, reserved: frozenset) -> None:
    clash = sorted(str(c) for c in frame.columns if str(c) in reserved)
    if clash:
        raise InvalidArgumentError(
            f"{label} column(s) {clash} cannot be stored under that name in NWB (reserved by "
            f"the table itself: {sorted(reserved)}); rename them")


def _check_trials(trials: Any) -> Any:
    import pandas as pd

    if not isinstance(trials, pd.DataFrame):
        raise TypeError(f"trials must be a pandas DataFrame, not {type(trials).__name__}")
    for col in ("start_time", "stop_time"):
        if col not in trials.columns:
            raise InvalidArgumentError(f"trials needs a {col!r} column (seconds); it has "
                                       f"{list(trials.columns)}")
    start = trials["start_time"].to_numpy(dtype=np.float64)
    stop = trials["stop_time"].to_numpy(dtype=np.float64)
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(stop))):
        raise InvalidArgumentError("trials start_time/stop_time must be finite seconds")
    if np.any(stop < start):
        raise InvalidArgumentError("trials: stop_time before start_time in row "
                                   f"{int(np.flatnonzero(stop < start)[0])}")
    if trials.empty:
        raise InvalidArgumentError("trials is empty")
    _check_column_names(trials, "trials", _RESERVED | {"timeseries", "tags"})
    return trials.reset_index(drop=True)


def _check_events(events: Any, rois: list) -> Any:
    import pandas as pd

    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a pandas DataFrame, not {type(events).__name__}")
    for col in ("roi_id", "start_time"):
        if col not in events.columns:
            raise InvalidArgumentError(f"events needs a {col!r} column; it has "
                                       f"{list(events.columns)}")
    events = events.reset_index(drop=True)
    _check_column_names(events, "events", _RESERVED)
    known = {int(r.id) for r in rois}
    try:
        ids = events["roi_id"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        ids = np.array([np.nan])
    if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
        raise InvalidArgumentError("events roi_id must hold integer ROI ids (no missing or "
                                   "fractional values)")
    unknown = sorted(set(events["roi_id"].astype(int)) - known)
    if unknown:
        raise InvalidArgumentError(f"events name ROI ids that are not among the ROIs: "
                                   f"{unknown[:5]}")
    start = events["start_time"].to_numpy(dtype=np.float64)
    stop = (events["stop_time"] if "stop_time" in events.columns else events["start_time"]
            ).to_numpy(dtype=np.float64)
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(stop))) or np.any(stop < start):
        raise InvalidArgumentError("events start_time/stop_time must be finite seconds with "
                                   "stop_time >= start_time")
    return events


def _column_data(series: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.to_numpy()
    if series.isna().any():
        # text columns have no missing value in NWB: astype(str) wrote "None"/"nan" text
        raise InvalidArgumentError(
            f"column {series.name!r} has missing values (row "
            f"{int(np.flatnonzero(series.isna().to_numpy())[0])}) in a text column; NWB text "
            "columns cannot hold them: fill them (e.g. with '') or make the column numeric")
    return series.astype(str).to_numpy(dtype=object)


def _add_trials(nwbfile: Any, trials: Any, descriptions: Mapping[str, str]) -> None:
    from hdmf.common import VectorData
    from pynwb.epoch import TimeIntervals

    columns = [VectorData(name="start_time", description="trial start (s)",
                          data=trials["start_time"].to_numpy(dtype=np.float64)),
               VectorData(name="stop_time", description="trial end (s)",
                          data=trials["stop_time"].to_numpy(dtype=np.float64))]
    for col in trials.columns:
        if col in ("start_time", "stop_time"):
            continue
        columns.append(VectorData(name=str(col), description=descriptions.get(
            col, f"trial condition {col!r}"), data=_column_data(trials[col])))
    nwbfile.trials = TimeIntervals(name="trials", description="trials (stimulus onsets) with "
                                   "their condition columns", columns=columns,
                                   id=list(range(len(trials))))


def _add_ophys(nwbfile: Any, planes: list, acq: Acquisition, rois: list, plane_of: list,
               masks: list, arrays: dict, iscell: Any, iscell_prob: Any, events: Any) -> None:
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import DynamicTable, VectorData
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, RoiResponseSeries

    module = nwbfile.create_processing_module("ophys", "optical physiology: ROIs and traces")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    module.add(segmentation)
    order = np.arange(len(rois))
    plane_arr = np.asarray(plane_of)
    used = sorted(set(plane_of))
    multi = acq.n_planes > 1
    containers: dict[str, Any] = {}
    for p in used:
        rows = order[plane_arr == p]
        suffix = f"_plane{p}" if multi else ""
        segment = segmentation.create_plane_segmentation(
            name=f"PlaneSegmentation{suffix}", description=f"ROIs of plane {p}; ids are the "
            "ROI ids; pixel_mask (x = column, y = row, weight)", imaging_plane=planes[p])
        for i in rows:
            ypix, xpix, lam = masks[i]
            segment.add_roi(pixel_mask=list(zip(xpix.tolist(), ypix.tolist(), lam.tolist())),
                            id=int(rois[i].id))
        if any(not np.array_equal(masks[i][2].astype(np.float32), masks[i][2]) for i in rows):
            # the spec's pixel_mask weight is float32: keep float64 weights exactly as well
            segment.add_column("pixel_weight", "exact float64 weight of each pixel of "
                               "pixel_mask (which stores them as float32)",
                               data=[masks[i][2] for i in rows], index=True)
        segment.add_column("order", "position of the ROI in the written ROI set (the row of "
                           "its traces)", data=rows.astype(np.int64))
        if iscell is not None:
            segment.add_column("iscell", "classified as a cell", data=iscell[rows])
        if iscell_prob is not None:
            segment.add_column("iscell_prob", "probability of being a cell (classifier)",
                               data=iscell_prob[rows])
        region = segment.create_roi_table_region(description=f"ROIs of plane {p}",
                                                 region=list(range(len(rows))))
        for kind, values in arrays.items():
            container_name, series_name, description = TRACE_KINDS[kind]
            if container_name not in containers:
                cls = DfOverF if container_name == "DfOverF" else Fluorescence
                containers[container_name] = cls(name=container_name)
                module.add(containers[container_name])
            containers[container_name].add_roi_response_series(RoiResponseSeries(
                name=series_name + suffix, data=H5DataIO(np.ascontiguousarray(
                    values[rows].T), compression="gzip"),
                rois=region, unit=_TRACE_UNITS.get(kind, "a.u."),
                description=f"{description}, plane {p}, (frames, rois)",
                **_timing(acq.times[:, p])))
    if events is not None:
        # a plain table, not TimeIntervals: point events have no stop time and a zero-length
        # interval would be a made-up one (nwbinspector rightly flags stop == start)
        columns = [VectorData(name="roi_id", description="id of the ROI the event belongs to",
                              data=events["roi_id"].to_numpy(dtype=np.int64)),
                   VectorData(name="start_time", description="event onset (s)",
                              data=events["start_time"].to_numpy(dtype=np.float64))]
        if "stop_time" in events.columns:
            columns.append(VectorData(name="stop_time", description="event end (s)",
                                      data=events["stop_time"].to_numpy(dtype=np.float64)))
        for col in events.columns:
            if col not in ("roi_id", "start_time", "stop_time"):
                columns.append(VectorData(name=str(col), description=f"event property {col!r}",
                                          data=_column_data(events[col])))
        module.add(DynamicTable(name="Events", description="calcium events of the ROIs: one "
                                "row per event", columns=columns,
                                id=list(range(len(events)))))
