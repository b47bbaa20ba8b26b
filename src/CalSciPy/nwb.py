"""Neurodata Without Borders: a whole two-photon experiment in one standard file, and back.

:func:`write_nwb` takes any subset of: a PrairieView acquisition (movies of every channel and
plane with their exact per-frame times, the microscope, optical channels and imaging planes
from the master XML), its voltage recordings, trials with condition columns, ROIs and their
traces (``roi_tools``/suite2p), calcium events, a MarkPoints photostimulation protocol, and
subject/session metadata (with a DANDI-ready mode). :func:`read_nwb` gives back CalSciPy's own
objects, so that write → read is identical (pixels bit-exact, traces exact, times to well under
a microsecond); it also reads the TwoPhotonSeries, PlaneSegmentation and RoiResponseSeries of
files written by neuroconv or suite2p.

Layout written (names that neuroconv/suite2p readers expect where one exists)::

    acquisition/TwoPhotonSeries_ch{c}_plane{p}   movie, (frames, x, y) as NWB specifies
    acquisition/<signal>                         one TimeSeries per enabled voltage signal
    processing/ophys/ImageSegmentation/PlaneSegmentation[_plane{p}]
                                                 pixel_mask (x=col, y=row, weight), ids = ROI
                                                 ids, columns order, iscell, iscell_prob
    processing/ophys/Fluorescence/{RoiResponseSeries, Neuropil, Corrected}[_plane{p}]
    processing/ophys/DfOverF/{DfOverF, F0}[_plane{p}]
    processing/ophys/Deconvolved/Deconvolved[_plane{p}]
    processing/ophys/Events                      TimeIntervals: roi_id, start_time, stop_time
    intervals/trials                             start_time, stop_time + condition columns
    processing/photostimulation/{targets, marks, protocol}

Every RoiResponseSeries is ``(frames, rois)`` (time first). Series whose times are regular to
the nanosecond are stored as ``starting_time`` + ``rate`` (nwbinspector's best practice; the
times rebuilt from them match to 0.1 µs, checked before choosing it), all others with their
exact ``timestamps``. Times are seconds from the first imaging frame; the session start time
is the master XML's ``PVScan date``, in the ``timezone`` given or, stated in the file's
notes, the local zone of the computer converting it.

Photostimulation is stored in standard DynamicTables rather than an NWB extension; see
:mod:`CalSciPy._nwb.photostim` for why.

The movie is streamed: the file is written by pynwb with the movie datasets allocated empty,
then every chunk is read from the lazy stack, compressed (gzip by default, in a thread pool)
and stored, so a movie larger than memory converts with bounded memory and a progress bar.
The file appears atomically under its name (a temporary file in the target folder, renamed
at the end) and never replaces an existing file without ``overwrite=True``.

Needs the ``nwb`` extra (``pip install 'calscipy[nwb]'``: pynwb, hdmf, h5py).
"""
from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from CalSciPy._atomic import as_path
from CalSciPy._optional import optional_import

if TYPE_CHECKING:
    from CalSciPy._nwb.read import NWBContents

__all__ = ["write_nwb", "read_nwb", "NWBContents"]


def _require() -> None:
    for module in ("pynwb", "hdmf", "h5py"):
        optional_import(module, "reading and writing NWB files")


def write_nwb(
    path: str | os.PathLike,
    session: Any = None,
    *,
    indicator: str | None = None,
    location: str | None = None,
    emission_wavelength: float | Sequence[float] | None = None,
    excitation_wavelength: float | None = None,
    channels: Sequence[int] | None = None,
    voltage: bool = True,
    trials: Any = None,
    trial_descriptions: Mapping[str, str] | None = None,
    rois: Any = None,
    fluorescence: Any = None,
    neuropil: Any = None,
    corrected: Any = None,
    dfof: Any = None,
    f0: Any = None,
    deconvolved: Any = None,
    iscell: Any = None,
    iscell_prob: Any = None,
    events: Any = None,
    suite2p: str | os.PathLike | None = None,
    photostimulation: Any = None,
    subject_id: str | None = None,
    species: str | None = None,
    sex: str | None = None,
    age: str | None = None,
    date_of_birth: _dt.datetime | None = None,
    strain: str | None = None,
    genotype: str | None = None,
    experimenter: str | Sequence[str] | None = None,
    lab: str | None = None,
    institution: str | None = None,
    session_description: str | None = None,
    experiment_description: str | None = None,
    session_id: str | None = None,
    identifier: str | None = None,
    keywords: Sequence[str] | None = None,
    session_start_time: _dt.datetime | None = None,
    timezone: str | _dt.tzinfo | None = None,
    dandi: bool = False,
    compression: str | None = "gzip",
    compression_opts: int | None = None,
    chunk_frames: int | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write an experiment (any subset of its parts) to one NWB file, atomically.

    Parameters
    ----------
    path
        Destination ``.nwb`` file. Its folder must exist.
    session
        PrairieView acquisition folder or :class:`~CalSciPy.bruker.session.PrairieViewSession`.
        Gives the movies (one ``TwoPhotonSeries`` per channel and plane, timestamps from the
        per-frame times of the master XML), the microscope (PrairieView version), one optical
        channel per channel (XML names), one imaging plane per plane (µm per pixel, preferring
        the Sequence's ``micronsPerPixel``; imaging rate; ``laserWavelength``; stage position
        as origin), the session start time and the voltage recordings.
    indicator, location
        Calcium indicator (e.g. ``"GCaMP6s"``) and brain location of the imaging: required with
        ``session`` (the XML does not hold them; no placeholder is written). For mice use an
        Allen CCF acronym (``"VISp"``), which nwbinspector checks.
    emission_wavelength
        Emission wavelength (nm) of the optical channels: one value or one per written channel.
        Required with ``session``.
    excitation_wavelength
        Excitation wavelength (nm); default the XML's ``laserWavelength`` (required when the XML
        lacks it).
    channels
        Zero-indexed channels to write (default all).
    voltage
        Write the session's voltage recordings (one ``TimeSeries`` per enabled signal, units
        from the recording's XML).
    trials
        DataFrame with ``start_time`` and ``stop_time`` (s) and any condition columns.
    trial_descriptions
        ``{column: description}`` for the condition columns.
    rois
        :class:`~CalSciPy.roi_tools.ROISet` (each ROI's ``plane`` picks its imaging plane).
        Needs ``session``. Every ROI must lie inside the frames.
    fluorescence, neuropil, corrected, dfof, f0, deconvolved
        ``(rois, frames)`` traces in the order of ``rois``: raw F, neuropil, neuropil-corrected
        F, ΔF/F0, the F0 it was computed with, deconvolved activity. Each must have one row per
        ROI and one column per frame of the session. Stored exactly (same dtype).
    iscell, iscell_prob
        ``(rois,)`` cell label and probability (suite2p's ``(rois, 2)`` ``iscell`` accepted).
    events
        DataFrame ``roi_id``, ``start_time`` (s), optional ``stop_time`` (default: zero-length
        events) and any other columns.
    suite2p
        A suite2p output folder (``plane0`` or its parent): its ROIs, F, Fneu, spks and iscell
        are written (explicit arguments take precedence).
    photostimulation
        :class:`~CalSciPy.bruker.mark_points.PhotostimulationMeta`: targets, marks (power,
        duration, spiral settings) and the protocol files.
    subject_id, species, sex, age, date_of_birth, strain, genotype
        Subject fields. ``species``: Latin binomial (``"Mus musculus"``) or NCBI taxonomy URL;
        ``sex``: ``"M"``, ``"F"``, ``"U"`` or ``"O"``; ``age``: ISO 8601 duration (``"P90D"``).
    experimenter, lab, institution
        Who recorded it and where (``experimenter``: ``"Last, First"``, one or several).
    session_description, experiment_description, session_id, identifier, keywords
        Session fields (``identifier`` default: a new UUID).
    session_start_time
        Overrides the XML's ``PVScan date`` (required without ``session``).
    timezone
        IANA name (``"America/New_York"``) or ``tzinfo`` of the acquisition; default the local
        zone of this computer, which the file's notes then state.
    dandi
        Require what DANDI requires (subject id, species, sex, and age or date of birth), so
        the file passes nwbinspector's DANDI configuration.
    compression
        ``"gzip"`` (default), ``"lzf"`` or None, for the movies and traces.
    compression_opts
        gzip level 0–9 (default 4, h5py's).
    chunk_frames
        Frames per HDF5 chunk of the movies (default: about 4 MB per chunk).
    workers
        Threads compressing the movie (default: CPU count).
    overwrite
        Replace an existing file.
    progress
        Show a tqdm bar while the movie is written.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    InvalidArgumentError
        Missing indicator/location/emission wavelength, traces whose shape does not match the
        ROIs or the frame count, ROIs outside the imaging plane, bad metadata (or missing
        DANDI fields with ``dandi=True``).
    SessionError
        A session without frame times (no master XML).
    MissingDependencyError
        The ``nwb`` extra is not installed.

    Notes
    -----
    Nothing is left under ``path`` when anything fails: the file is assembled under a
    temporary name in the same folder and renamed only when complete.

    Examples
    --------
    >>> write_nwb("session.nwb", "TSeries-001", indicator="GCaMP6s",  # doctest: +SKIP
    ...           location="VISp", emission_wavelength=510, subject_id="m1",
    ...           species="Mus musculus", sex="F", age="P90D", dandi=True)
    """
    _require()
    from CalSciPy._nwb.write import acquisition_from_session, build_and_write

    if suite2p is not None:
        loaded = _load_suite2p(suite2p)
        rois = rois if rois is not None else loaded.rois
        fluorescence = fluorescence if fluorescence is not None else loaded.F
        neuropil = neuropil if neuropil is not None else loaded.Fneu
        deconvolved = deconvolved if deconvolved is not None else loaded.spks
        if iscell is None:
            iscell = getattr(loaded, "iscell", None)
            iscell_prob = iscell_prob if iscell_prob is not None else getattr(
                loaded, "iscell_prob", None)
    acq = None
    if session is not None:
        acq = acquisition_from_session(session, channels, timezone, voltage)
    meta = dict(subject_id=subject_id, species=species, sex=sex, age=age,
                date_of_birth=date_of_birth, strain=strain, genotype=genotype,
                experimenter=experimenter, lab=lab, institution=institution,
                session_description=session_description,
                experiment_description=experiment_description, session_id=session_id,
                identifier=identifier, keywords=keywords, session_start_time=session_start_time,
                timezone=timezone, excitation_wavelength=excitation_wavelength)
    traces = dict(fluorescence=fluorescence, neuropil=neuropil, corrected=corrected, dfof=dfof,
                  f0=f0, deconvolved=deconvolved)
    return build_and_write(
        path, acq=acq, rois=rois, traces=traces, iscell=iscell, iscell_prob=iscell_prob,
        events=events, trials=trials, trial_descriptions=trial_descriptions,
        photostim=photostimulation, indicator=indicator, location=location,
        emission_nm=emission_wavelength, meta=meta, dandi=dandi, compression=compression,
        compression_opts=compression_opts, chunk_frames=chunk_frames, overwrite=overwrite,
        progress=progress, workers=workers)


def _load_suite2p(folder: str | os.PathLike) -> Any:
    try:
        from CalSciPy.roi_tools import load_suite2p
    except ImportError as err:
        raise ImportError("reading suite2p folders needs CalSciPy.roi_tools") from err
    return load_suite2p(folder)


def read_nwb(path: str | os.PathLike) -> NWBContents:
    """Read an NWB file into CalSciPy objects (movies stay on disk until indexed).

    Parameters
    ----------
    path
        An NWB file written by :func:`write_nwb`, neuroconv or suite2p (their TwoPhotonSeries,
        PlaneSegmentation with ``pixel_mask``, ``image_mask`` or single-plane ``voxel_mask``,
        and RoiResponseSeries are read; suite2p's masks, which hold the row in ``x``, are
        recognised by its ``"suite2p output"`` description). A movie kept in an
        ``external_file`` gives no stack.

    Returns
    -------
    NWBContents
        Lazy ``(frames, y, x)`` stacks per (channel, plane), ``(frames, planes)`` frame times,
        the voltage DataFrame, the :class:`~CalSciPy.roi_tools.ROISet`, ``(rois, frames)``
        traces, iscell, events, trials, the photostimulation protocol and the metadata. The
        file stays open for the lazy stacks: use ``with read_nwb(path) as nwb:`` or call
        ``close()``.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        Not a readable NWB file, or ROIs/traces that do not fit together.
    MissingDependencyError
        The ``nwb`` extra is not installed.
    """
    _require()
    from CalSciPy._nwb.read import read

    return read(as_path(path, "path"))


def __getattr__(name: str) -> Any:
    if name == "NWBContents":  # the class lives with the reader (which needs no pynwb import)
        from CalSciPy._nwb.read import NWBContents

        return NWBContents
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
