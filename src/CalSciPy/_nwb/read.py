"""Reading NWB files back into CalSciPy objects (see :func:`CalSciPy.nwb.read_nwb`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy._nwb.movie import NWBStack
from CalSciPy.bruker.configuration_values import VOLTAGE_TIME_COLUMN
from CalSciPy.errors import DataFormatError, InvalidArgumentError

_SERIES = re.compile(r"^TwoPhotonSeries_ch(\d+)_plane(\d+)$")
_PLANE = re.compile(r"^(.*?)(?:_plane(\d+))?$")
#: (container name, series base name) -> trace kind; the names CalSciPy, neuroconv and suite2p
#: write
_KINDS = {
    ("Fluorescence", "RoiResponseSeries"): "fluorescence",
    ("Fluorescence", "Fluorescence"): "fluorescence",
    ("Fluorescence", "F"): "fluorescence",
    ("Fluorescence", "Neuropil"): "neuropil",
    ("Fluorescence", "Corrected"): "corrected",
    ("Fluorescence", "Deconvolved"): "deconvolved",
    ("Deconvolved", "Deconvolved"): "deconvolved",
    ("Deconvolved", "RoiResponseSeries"): "deconvolved",
    ("Neuropil", "Neuropil"): "neuropil",
    ("Neuropil", "RoiResponseSeries"): "neuropil",
    ("DfOverF", "DfOverF"): "dfof",
    ("DfOverF", "RoiResponseSeries"): "dfof",
    ("DfOverF", "F0"): "f0",
}
#: suite2p's containers (its series are named ``plane0``, ``plane1``, ...)
_SUITE2P_KINDS = {"Fluorescence": "fluorescence", "Neuropil": "neuropil",
                  "Deconvolved": "deconvolved", "DfOverF": "dfof"}


@dataclass
class NWBContents:
    """What :func:`~CalSciPy.nwb.read_nwb` found in a file; keeps the file open for the stacks.

    Use as a context manager (or call :meth:`close`) to close the file.

    Attributes
    ----------
    path
        The file.
    nwbfile
        The ``pynwb.NWBFile`` (for anything not mapped here).
    stacks
        ``{(channel, plane): NWBStack}``: lazy ``(frames, y, x)`` movies (nothing read until
        indexed). Files not written by CalSciPy: channel 0, plane = order of the series.
    channel_names
        Name of each channel (the optical channels of the imaging plane).
    frame_times_s
        ``(frames, planes)`` float64 time (s) of every frame of every plane, or None.
    voltage
        Voltage recordings: index ``Time(ms)``, one column per signal (as
        :func:`~CalSciPy.bruker.data.load_voltage_recording`), or None.
    voltage_units
        ``{signal: unit}``.
    rois
        :class:`~CalSciPy.roi_tools.ROISet` of every plane's ROIs in the order they were
        written (their traces' rows), or None.
    traces
        ``{"fluorescence", "neuropil", "corrected", "dfof", "f0", "deconvolved"}`` → ``(rois,
        frames)`` arrays (those present).
    iscell, iscell_prob
        ``(rois,)`` classifier label / probability, or None.
    events
        DataFrame ``roi_id, start_time, stop_time, ...`` or None.
    trials
        DataFrame ``start_time, stop_time`` and the condition columns, or None.
    photostimulation
        :class:`~CalSciPy.bruker.mark_points.PhotostimulationMeta`, or None.
    metadata
        Session and subject fields (``session_start_time``, ``subject_id``, ``species``, …).
    """

    path: Path
    nwbfile: Any
    stacks: dict[tuple[int, int], NWBStack] = field(default_factory=dict)
    channel_names: tuple[str, ...] = ()
    frame_times_s: np.ndarray | None = None
    voltage: Any = None
    voltage_units: dict[str, str] = field(default_factory=dict)
    rois: Any = None
    traces: dict[str, np.ndarray] = field(default_factory=dict)
    iscell: np.ndarray | None = None
    iscell_prob: np.ndarray | None = None
    events: Any = None
    trials: Any = None
    photostimulation: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    _io: Any = None

    def stack(self, channel: int = 0, plane: int = 0) -> NWBStack:
        """The lazy ``(frames, y, x)`` movie of ``channel``/``plane`` (zero-indexed)."""
        try:
            return self.stacks[(channel, plane)]
        except KeyError:
            raise KeyError(f"{self.path} has no movie for channel {channel}, plane {plane}; it "
                           f"has {sorted(self.stacks)}") from None

    def close(self) -> None:
        """Close the file (the stacks cannot be read afterwards)."""
        if self._io is not None:
            self._io.close()
            self._io = None

    def __enter__(self) -> NWBContents:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: the texts the writer puts a channel's / a voltage signal's name in (as its ``repr``)
_REPR = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_CHANNEL_TEXT = re.compile(r"^PrairieView channel " + _REPR + "$")
_SIGNAL_TEXT = re.compile(r"^signal " + _REPR + r", column (\d+) of ")


def _quoted(text: Any, pattern: re.Pattern) -> str | None:
    """The name the writer stored as a ``repr`` in ``text``, or None (other writers' texts)."""
    import ast

    match = pattern.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    try:
        value = ast.literal_eval(match[1])
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _times(series: Any) -> np.ndarray:
    if series.timestamps is not None:
        ts = series.timestamps
        ts = ts.timestamps if hasattr(ts, "timestamps") else ts  # linked TimeSeries
        return np.asarray(ts[:], dtype=np.float64)
    n = int(series.data.shape[0])
    return float(series.starting_time or 0.0) + np.arange(n, dtype=np.float64) / float(
        series.rate)


def _roi_classes() -> tuple[type, type]:
    try:
        from CalSciPy.roi_tools import ROI, ROISet
    except ImportError:  # before the public module exists
        from CalSciPy._rois.roi import ROI, ROISet
    return ROI, ROISet


def read(path: Path) -> NWBContents:
    """Open ``path`` and map its contents (see :class:`NWBContents`)."""
    from pynwb import NWBHDF5IO
    from pynwb.ophys import PlaneSegmentation, RoiResponseSeries, TwoPhotonSeries

    if not path.is_file():
        raise FileNotFoundError(f"NWB file not found: {path}")
    try:
        io = NWBHDF5IO(str(path), "r")
        nwbfile = io.read()
    except Exception as err:  # h5py/hdmf raise many types for non-NWB or broken files
        text = str(err)
        if len(text) > 300:  # hdmf puts whole builder reprs in its messages: keep one line
            text = f"{text[:140]} ... {text[-140:]}"
        raise DataFormatError(f"{path}: not a readable NWB file ({text})") from err
    out = NWBContents(path=path, nwbfile=nwbfile, _io=io)
    try:
        _read_into(out, nwbfile, TwoPhotonSeries, PlaneSegmentation, RoiResponseSeries)
    except BaseException:
        io.close()
        raise
    return out


def _read_into(out: NWBContents, nwbfile: Any, TwoPhotonSeries: Any,
               PlaneSegmentation: Any, RoiResponseSeries: Any) -> None:
    # the pynwb classes are Any (pynwb ships no type information): ``type`` here would make
    # every object they select a plain ``object`` for the type checker
    import pandas as pd

    objects = list(nwbfile.objects.values())
    movies = [o for o in objects if isinstance(o, TwoPhotonSeries)]
    planes_order = sorted({m.imaging_plane.name for m in movies})
    times_by_plane: dict[int, np.ndarray] = {}
    for m in sorted(movies, key=lambda s: s.name):
        match = _SERIES.match(m.name)
        if match:
            key = (int(match[1]), int(match[2]))
        else:
            key = (0, planes_order.index(m.imaging_plane.name))
            while key in out.stacks:
                key = (key[0] + 1, key[1])
        if m.data is None or len(m.data.shape) != 3 or 0 in m.data.shape:
            continue  # e.g. suite2p's external_file series: no pixels in the file
        out.stacks[key] = NWBStack(m.data, m.name)
        times_by_plane.setdefault(key[1], _times(m))
        if not out.channel_names:
            out.channel_names = tuple(
                _quoted(oc.description, _CHANNEL_TEXT) or oc.name
                for oc in m.imaging_plane.optical_channel)
    if times_by_plane:
        n = min(len(t) for t in times_by_plane.values())
        out.frame_times_s = np.stack([times_by_plane[p][:n] for p in sorted(times_by_plane)],
                                     axis=1)
    # voltage: TimeSeries in acquisition that are plain TimeSeries with a 1-D signal
    from pynwb import TimeSeries

    voltage: list[tuple[int, str, np.ndarray]] = []  # (column, signal name, samples)
    index = None
    for name, obj in nwbfile.acquisition.items():
        if type(obj) is not TimeSeries or obj.data is None or len(obj.data.shape) != 1:
            continue
        t_ms = _times(obj) * 1000.0
        signal = _quoted(obj.comments, _SIGNAL_TEXT) or name
        if index is None:
            index = t_ms
        elif len(t_ms) != len(index) or not np.allclose(t_ms, index, rtol=0, atol=1e-6):
            continue  # a second recording on another clock: left in nwbfile
        column = _SIGNAL_TEXT.match(obj.comments or "")
        voltage.append((int(column[2]) if column else len(voltage), signal,
                        np.asarray(obj.data[:], dtype=np.float64)))
        out.voltage_units[signal] = obj.unit
    if voltage:
        voltage.sort(key=lambda item: item[0])
        out.voltage = pd.DataFrame({name: data for _, name, data in voltage},
                                   index=pd.Index(index, name=VOLTAGE_TIME_COLUMN))
    _read_ophys(out, nwbfile, PlaneSegmentation, RoiResponseSeries)
    if nwbfile.trials is not None:
        out.trials = _table_frame(nwbfile.trials)
    from CalSciPy._nwb.photostim import read_photostimulation

    out.photostimulation = read_photostimulation(nwbfile)
    meta: dict[str, Any] = {
        "session_start_time": nwbfile.session_start_time,
        "session_description": nwbfile.session_description,
        "identifier": nwbfile.identifier,
        "session_id": nwbfile.session_id,
        "experimenter": list(nwbfile.experimenter) if nwbfile.experimenter else None,
        "lab": nwbfile.lab, "institution": nwbfile.institution,
    }
    if nwbfile.subject is not None:
        s = nwbfile.subject
        meta.update(subject_id=s.subject_id, species=s.species, sex=s.sex, age=s.age)
    planes = {ip.name: ip for ip in nwbfile.imaging_planes.values()}
    if planes:
        first = planes[sorted(planes)[0]]
        meta.update(indicator=first.indicator, location=first.location,
                    excitation_wavelength=first.excitation_lambda,
                    emission_wavelength=[oc.emission_lambda for oc in first.optical_channel],
                    imaging_rate=first.imaging_rate)
        if first.grid_spacing is not None:
            meta["grid_spacing_um"] = tuple(float(v) for v in first.grid_spacing[:])
    out.metadata = meta


def _table_frame(table: Any) -> Any:
    """A DynamicTable's columns as a DataFrame (default index), read column by column.

    Not ``to_dataframe()``: it puts the table's own attributes in place of columns that share
    their names (a trials column ``name`` came back as ``"trials"`` in every row).
    """
    import pandas as pd

    return pd.DataFrame({str(col): list(values) if isinstance(values, list) else values
                         for col in table.colnames for values in [table[col][:]]},
                        columns=[str(col) for col in table.colnames])


def _plane_index(segment: Any, ordered_planes: list[str]) -> int:
    match = _PLANE.match(segment.name)
    if match and match[2] is not None:
        return int(match[2])
    name = segment.imaging_plane.name
    return ordered_planes.index(name) if name in ordered_planes else 0


def _read_ophys(out: NWBContents, nwbfile: Any, PlaneSegmentation: Any,
                RoiResponseSeries: Any) -> None:
    import pandas as pd

    ROI, ROISet = _roi_classes()
    objects = list(nwbfile.objects.values())
    segments = sorted((o for o in objects if isinstance(o, PlaneSegmentation)),
                      key=lambda s: s.name)
    if not segments:
        return
    ordered_planes = sorted(nwbfile.imaging_planes)
    rois: list[Any] = []
    positions: list[int] = []
    iscell: list[bool] = []
    prob: list[float] = []
    shape = [0, 0]
    offsets: dict[int, int] = {}
    start = 0
    for seg in segments:
        plane = _plane_index(seg, ordered_planes)
        offsets[id(seg)] = start
        ids = np.asarray(seg.id[:], dtype=np.int64)
        columns = set(seg.colnames)
        if not {"pixel_mask", "voxel_mask", "image_mask"} & columns:
            raise DataFormatError(f"{out.path}: {seg.name} has no pixel_mask, voxel_mask or "
                                  "image_mask")
        # suite2p's save_nwb stores (ypix, xpix, lam) in pixel_mask's (x, y, weight) and
        # (ypix, xpix, plane, lam) in voxel_mask (its own reader reads them back that way)
        swapped = str(seg.description or "").strip().lower() == "suite2p output"
        order = np.asarray(seg["order"][:]) if "order" in columns else np.arange(
            start, start + len(ids))
        for k in range(len(ids)):
            y, x, w, roi_plane = _mask(seg, k, columns, swapped, out.path)
            if "pixel_weight" in columns:
                w = np.asarray(seg["pixel_weight"][k], dtype=np.float64)
            try:
                rois.append(ROI(y, x, w, id=int(ids[k]),
                                plane=plane if roi_plane is None else roi_plane))
            except (InvalidArgumentError, ValueError) as err:  # file content, not an argument
                raise DataFormatError(f"{out.path}: {seg.name} ROI {k}: {err}") from err
            shape[0] = max(shape[0], int(y.max()) + 1)
            shape[1] = max(shape[1], int(x.max()) + 1)
        positions.extend(int(v) for v in order)
        if "iscell" in columns:
            iscell.extend(np.asarray(seg["iscell"][:]).astype(bool).ravel()[:len(ids)]
                          if np.ndim(seg["iscell"][0]) == 0 else
                          [bool(v[0]) for v in seg["iscell"][:]])
        if "iscell_prob" in columns:
            prob.extend(np.asarray(seg["iscell_prob"][:], dtype=np.float64).ravel())
        elif "iscell" in columns and np.ndim(seg["iscell"][0]) == 1:  # suite2p (rois, 2)
            prob.extend(float(v[1]) for v in seg["iscell"][:])
        start += len(ids)
    plane_shape = _plane_shape(out, shape)
    sort = np.argsort(np.asarray(positions), kind="stable")
    try:
        out.rois = ROISet([rois[i] for i in sort], plane_shape)
    except (InvalidArgumentError, ValueError) as err:
        raise DataFormatError(f"{out.path}: ROIs do not fit the {plane_shape[0]} x "
                              f"{plane_shape[1]} imaging plane ({err})") from err
    if len(iscell) == len(rois):
        out.iscell = np.asarray(iscell, dtype=bool)[sort]
    if len(prob) == len(rois):
        out.iscell_prob = np.asarray(prob, dtype=np.float64)[sort]
    n_rois = len(rois)
    pieces: dict[str, list] = {}
    for obj in objects:
        if not isinstance(obj, RoiResponseSeries):
            continue
        container = obj.parent.name if obj.parent is not None else ""
        named = _PLANE.match(obj.name)
        if named is None:  # a name with a line break inside: none of the known series names
            continue
        base = named[1]
        kind = _KINDS.get((container, base)) or _KINDS.get((type(obj.parent).__name__, base))
        if kind is None and re.fullmatch(r"plane\d+", obj.name):
            # suite2p: one container per kind, one series "plane{i}" per plane
            kind = _SUITE2P_KINDS.get(container)
        if kind is None:
            continue
        table = obj.rois.table
        rows = offsets.get(id(table))
        if rows is None:
            continue
        region = np.asarray(obj.rois.data[:], dtype=np.int64) + rows
        data = np.asarray(obj.data[:])
        if data.ndim == 1:
            data = data[:, None]
        if data.shape[1] != len(region):
            # a few writers store (rois, frames): accept it when unambiguous
            if data.shape[0] == len(region):
                data = data.T
            else:
                raise DataFormatError(f"{out.path}: {obj.name} has shape {data.shape} for "
                                      f"{len(region)} ROIs")
        pieces.setdefault(kind, []).append((region, data))
    for kind, parts in pieces.items():
        n_frames = min(d.shape[0] for _, d in parts)
        # the stored dtype, kept (float16 and integer traces included); rows no series
        # covers are NaN, which needs a float type
        dtype = np.result_type(*[d.dtype for _, d in parts])
        covered = np.zeros(n_rois, dtype=bool)
        for region, _ in parts:
            covered[region] = True
        if not covered.all() and dtype.kind != "f":
            dtype = np.dtype(np.float64)
        full = np.empty((n_rois, n_frames), dtype=dtype)
        if not covered.all():
            full[~covered] = np.nan
        for region, data in parts:
            full[region] = data[:n_frames].T
        out.traces[kind] = full[sort]
    module = nwbfile.processing.get("ophys")
    if module is not None and "Events" in module.data_interfaces:
        out.events = _table_frame(module["Events"])
    del pd


def _fields(mask: Any, names: tuple[str, ...]) -> list[np.ndarray]:
    """The named fields of one ROI's pixel/voxel mask (a compound array or a list of tuples)."""
    if hasattr(mask, "dtype") and mask.dtype.names:
        return [np.asarray(mask[n]) for n in names]
    rows = np.asarray([tuple(m) for m in mask], dtype=np.float64).reshape(-1, len(names))
    return [rows[:, i] for i in range(len(names))]


def _mask(seg: Any, k: int, columns: set, swapped: bool,
          path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int | None]:
    """``(ypix, xpix, lam, plane or None)`` of ROI ``k`` of ``seg`` (pixel, voxel or image mask).

    NWB's masks index ``x`` (column) first; suite2p's (``swapped``) store the row first.
    """
    plane = None
    if "pixel_mask" in columns:
        x, y, w = _fields(seg["pixel_mask"][k], ("x", "y", "weight"))
    elif "voxel_mask" in columns:
        x, y, z, w = _fields(seg["voxel_mask"][k], ("x", "y", "z", "weight"))
        zs = np.unique(np.asarray(z, dtype=np.int64))
        if zs.size != 1:
            raise DataFormatError(f"{path}: {seg.name} ROI {k} spans planes {zs.tolist()}; "
                                  "only single-plane ROIs are read")
        plane = int(zs[0])
    else:
        image = np.asarray(seg["image_mask"][k])
        if image.ndim != 2:
            raise DataFormatError(f"{path}: {seg.name} ROI {k} has a {image.ndim}-D image_mask; "
                                  "only 2-D (x, y) masks are read")
        x, y = np.nonzero(image)  # image_mask is (x, y) as NWB specifies
        w = image[x, y]
    if swapped:
        x, y = y, x
    y = np.asarray(y, dtype=np.int64)
    x = np.asarray(x, dtype=np.int64)
    if not y.size:
        raise DataFormatError(f"{path}: {seg.name} ROI {k} has an empty mask")
    return y, x, np.asarray(w, dtype=np.float64), plane


def _plane_shape(out: NWBContents, seen: list[int]) -> tuple[int, int]:
    if out.stacks:
        first = next(iter(out.stacks.values()))
        return tuple(int(v) for v in first.shape[1:])  # type: ignore[return-value]
    return int(seen[0]), int(seen[1])
