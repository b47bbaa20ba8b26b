"""suite2p output folders (no suite2p import): plane folders, ``suite2p/`` roots, ``data.bin``."""
from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy._io.source import FrameSource
from CalSciPy._rois.blocks import _release
from CalSciPy._rois.npy import load_npy
from CalSciPy._rois.roi import ROI, ROISet, check_shape
from CalSciPy.errors import DataFormatError, InvalidArgumentError

__all__ = ["Suite2pBinary", "Suite2pData", "Suite2pSettings", "load_suite2p",
           "load_suite2p_binary", "read_settings"]

#: files suite2p writes that hold pickled Python objects (read with the restricted unpickler)
_PICKLED = ("stat.npy", "ops.npy", "db.npy", "settings.npy", "reg_outputs.npy",
            "detect_outputs.npy")
#: suite2p >= 1.0 splits ops.npy into these
_SPLIT = ("db.npy", "settings.npy", "reg_outputs.npy", "detect_outputs.npy")
_EXPECTED = ("a suite2p plane folder (stat.npy with ops.npy or settings.npy/db.npy, and "
             "usually F.npy, Fneu.npy, spks.npy, iscell.npy) or a suite2p/ folder holding "
             "plane0, plane1, ...")
_PLANE_RE = re.compile(r"^plane(\d+)$")


@dataclass(frozen=True)
class Suite2pSettings:
    """The suite2p settings that matter downstream (from ``ops.npy`` or the 1.x split files).

    Attributes
    ----------
    fs
        Imaging rate per plane (Hz).
    nplanes, nchannels
        Planes and channels of the recording.
    Ly, Lx
        Plane size in pixels (rows, columns).
    meanImg
        ``(Ly, Lx)`` float mean image of the registered movie (``None`` when absent).
    tau
        Indicator decay time used for deconvolution (s).
    neucoeff
        Neuropil coefficient suite2p used for ``spks`` and its classifier (0.7 by default).
    nframes
        Frames per plane (``None`` when not recorded).
    inner_neuropil_radius, min_neuropil_pixels, lam_percentile, allow_overlap
        suite2p's extraction settings (defaults when absent), to reproduce its masks with
        :func:`~CalSciPy.roi_tools.extract_traces`.
    raw
        Every key read, merged (``{**db, **settings, **reg_outputs, **detect_outputs}`` for 1.x).
    """

    fs: float
    nplanes: int
    nchannels: int
    Ly: int
    Lx: int
    meanImg: np.ndarray | None
    tau: float
    neucoeff: float
    nframes: int | None = None
    inner_neuropil_radius: int = 2
    min_neuropil_pixels: int = 350
    lam_percentile: float = 50.0
    allow_overlap: bool = False
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(Ly, Lx)``."""
        return self.Ly, self.Lx

    @property
    def extraction_options(self) -> dict:
        """Keyword arguments of :func:`~CalSciPy.roi_tools.extract_traces` matching this run."""
        return {"inner_radius": self.inner_neuropil_radius,
                "min_neuropil_pixels": self.min_neuropil_pixels,
                "lam_percentile": self.lam_percentile, "allow_overlap": self.allow_overlap}


@dataclass
class Suite2pData:
    """One suite2p plane (or all planes of a ``suite2p/`` root, concatenated in plane order).

    Attributes
    ----------
    F, Fneu, spks
        ``(rois, frames)`` float32 ROI, neuropil and deconvolved traces (``None`` when the
        folder has no ``F.npy``/``Fneu.npy``/``spks.npy``).
    iscell
        ``(rois,)`` bool cell label (``None`` without ``iscell.npy``).
    iscell_prob
        ``(rois,)`` float classifier probability.
    redcell, redcell_prob
        ``(rois,)`` bool / float second-channel labels (``None`` without ``redcell.npy``).
    F_chan2, Fneu_chan2
        ``(rois, frames)`` second-channel traces, or ``None``.
    rois
        :class:`~CalSciPy.roi_tools.ROISet` of every ROI in ``stat.npy`` (ids = suite2p's row
        numbers; for a root, the row in the concatenation, which is the numbering of suite2p's
        ``combined`` folder). Select cells with ``data.rois.select(mask=data.iscell)``.
    settings
        :class:`Suite2pSettings` (for a root: of ``plane0``).
    plane_settings
        Settings of every plane read, in order.
    path
        Folder read.
    """

    F: np.ndarray | None
    Fneu: np.ndarray | None
    spks: np.ndarray | None
    iscell: np.ndarray | None
    iscell_prob: np.ndarray | None
    redcell: np.ndarray | None
    redcell_prob: np.ndarray | None
    F_chan2: np.ndarray | None
    Fneu_chan2: np.ndarray | None
    rois: ROISet
    settings: Suite2pSettings
    path: Path
    plane_settings: tuple[Suite2pSettings, ...] = ()

    @property
    def ids(self) -> np.ndarray:
        """``(rois,)`` ROI ids, the row labels of every trace array."""
        return self.rois.ids

    @property
    def frame_rate(self) -> float:
        """Imaging rate per plane (Hz), ``settings.fs``."""
        return self.settings.fs


# --- settings ------------------------------------------------------------------------------
def _lookup(merged: dict, *keys: str) -> Any:
    """First of ``keys`` found at the top level or one level down (1.x nests groups)."""
    for key in keys:
        if key in merged:
            return merged[key]
    for value in merged.values():
        if isinstance(value, dict):
            for key in keys:
                if key in value:
                    return value[key]
    return None


def _number(value: Any, name: str, source: Path, *, integer: bool = False,
            default: Any = None, positive: bool = False) -> Any:
    if value is None:
        if default is None:
            return None
        return default
    try:
        arr = np.asarray(value)
        if arr.size != 1 or arr.dtype.kind not in "biuf":
            raise TypeError
        number = float(arr.reshape(()))
    except (TypeError, ValueError):
        raise DataFormatError(f"{source}: setting {name!r} is not a number: {value!r}") from None
    if not math.isfinite(number) or number < 0 or (positive and number <= 0):
        raise DataFormatError(f"{source}: setting {name!r} has an invalid value {value!r}")
    if integer:
        if number != int(number):
            raise DataFormatError(f"{source}: setting {name!r} must be a whole number, "
                                  f"got {value!r}")
        return int(number)
    return number


def _as_dict(value: Any, path: Path) -> dict:
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        value = value.item()
    if not isinstance(value, dict):
        raise DataFormatError(
            f"{path} is not a suite2p settings file: it holds a {type(value).__name__}, "
            "expected a dict"
        )
    return value


def read_settings(folder: Path) -> Suite2pSettings:
    """The settings of one suite2p plane folder: the 1.x split files when present, else
    ``ops.npy`` (suite2p <= 0.14, also written by 1.x by default)."""
    folder = Path(folder)
    split = [folder / name for name in _SPLIT if (folder / name).is_file()]
    if any(p.name in ("db.npy", "settings.npy") for p in split):
        merged: dict = {}
        for p in split:
            merged.update(_as_dict(load_npy(p, pickled=True, what="suite2p settings"), p))
        source = folder / "settings.npy"
    elif (folder / "ops.npy").is_file():
        source = folder / "ops.npy"
        merged = _as_dict(load_npy(source, pickled=True, what="suite2p ops"), source)
    else:
        raise DataFormatError(f"{folder}: no ops.npy or settings.npy/db.npy; expected "
                              f"{_EXPECTED}")
    mean = _lookup(merged, "meanImg")
    if mean is not None:
        mean = np.asarray(mean)
        if mean.ndim != 2 or mean.dtype.kind not in "biuf":
            raise DataFormatError(f"{source}: meanImg must be a 2-D numeric image, "
                                  f"got shape {mean.shape}")
    ly = _number(_lookup(merged, "Ly"), "Ly", source, integer=True, positive=True)
    lx = _number(_lookup(merged, "Lx"), "Lx", source, integer=True, positive=True)
    if ly is None or lx is None:
        if mean is None:
            raise DataFormatError(f"{source}: neither Ly/Lx nor meanImg gives the plane size")
        ly, lx = mean.shape
    if mean is not None and mean.shape != (ly, lx):
        raise DataFormatError(f"{source}: meanImg has shape {mean.shape} but Ly, Lx = {ly}, {lx}")
    try:
        check_shape((ly, lx))
    except InvalidArgumentError as err:
        raise DataFormatError(f"{source}: {err}") from None
    fs = _number(_lookup(merged, "fs"), "fs", source, default=10.0, positive=True)
    tau = _number(_lookup(merged, "tau"), "tau", source, default=1.0)
    neucoeff = _number(_lookup(merged, "neucoeff", "neuropil_coefficient"), "neucoeff",
                       source, default=0.7)
    nframes = _number(_lookup(merged, "nframes"), "nframes", source, integer=True)
    allow_overlap = _lookup(merged, "allow_overlap")
    return Suite2pSettings(
        fs=fs,
        nplanes=_number(_lookup(merged, "nplanes"), "nplanes", source, integer=True,
                        default=1, positive=True),
        nchannels=_number(_lookup(merged, "nchannels"), "nchannels", source, integer=True,
                          default=1, positive=True),
        Ly=int(ly), Lx=int(lx), meanImg=mean, tau=tau, neucoeff=neucoeff, nframes=nframes,
        inner_neuropil_radius=_number(_lookup(merged, "inner_neuropil_radius"),
                                      "inner_neuropil_radius", source, integer=True, default=2),
        min_neuropil_pixels=_number(_lookup(merged, "min_neuropil_pixels"),
                                    "min_neuropil_pixels", source, integer=True, default=350),
        lam_percentile=min(100.0, _number(_lookup(merged, "lam_percentile"), "lam_percentile",
                                          source, default=50.0)),
        allow_overlap=bool(allow_overlap) if allow_overlap is not None else False,
        raw=merged,
    )


# --- one plane -----------------------------------------------------------------------------
def _traces(folder: Path, name: str, n_rois: int, frames: int | None) -> np.ndarray | None:
    path = folder / name
    if not path.is_file():
        return None
    arr = load_npy(path, pickled=False, what="a (rois, frames) trace array")
    if arr.ndim != 2 or arr.dtype.kind not in "iuf":
        raise DataFormatError(f"{path}: expected a (rois, frames) numeric array, "
                              f"got shape {arr.shape} dtype {arr.dtype}")
    if arr.shape[0] != n_rois:
        raise DataFormatError(f"{path} has {arr.shape[0]} rows but stat.npy has {n_rois} ROIs")
    if frames is not None and arr.shape[1] != frames:
        other = "the settings say nframes =" if name == "F.npy" else "the other traces have"
        raise DataFormatError(f"{path} has {arr.shape[1]} frames but {other} {frames}")
    return arr.astype(np.float32, copy=False)


def _labels(folder: Path, name: str, n_rois: int) -> tuple[np.ndarray, np.ndarray] | None:
    path = folder / name
    if not path.is_file():
        return None
    arr = load_npy(path, pickled=False, what="a (rois, 2) label/probability array")
    if arr.ndim == 1:
        arr = np.column_stack([arr, arr])
    if arr.ndim != 2 or arr.shape[1] < 1 or arr.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: expected (rois, 2) labels and probabilities, "
                              f"got shape {arr.shape}")
    if arr.shape[0] != n_rois:
        raise DataFormatError(f"{path} has {arr.shape[0]} rows but stat.npy has {n_rois} ROIs")
    label = arr[:, 0]
    if not np.all(np.isin(label, (0, 1))):
        raise DataFormatError(f"{path}: the label column must be 0 or 1")
    prob = arr[:, 1] if arr.shape[1] > 1 else label.astype(np.float64)
    return label.astype(bool), prob.astype(np.float64)


def _stat_rois(folder: Path, settings: Suite2pSettings, *, plane: int,
               first_id: int = 0, tiled: bool = False) -> ROISet:
    path = folder / "stat.npy"
    stat = load_npy(path, pickled=True, what="suite2p ROI statistics (stat.npy)")
    if isinstance(stat, np.ndarray):
        stat = list(stat) if stat.dtype == object and stat.ndim == 1 else None
    if not isinstance(stat, list) or not all(
            isinstance(s, dict) and "ypix" in s and "xpix" in s for s in stat):
        raise DataFormatError(f"{path} is not suite2p's stat.npy: expected a list of dicts "
                              "with 'ypix', 'xpix', 'lam'")
    if not stat:
        raise DataFormatError(f"{path} holds no ROIs")
    try:
        rois = ROISet.from_suite2p(stat, settings.shape,
                                   ids=np.arange(first_id, first_id + len(stat)),
                                   plane=None if tiled else plane)
    except (InvalidArgumentError, DataFormatError) as err:
        raise DataFormatError(f"{path}: {err}") from None
    return rois


def _load_plane(folder: Path, *, plane: int, first_id: int = 0,
                tiled: bool = False) -> Suite2pData:
    if not (folder / "stat.npy").is_file():
        raise DataFormatError(f"{folder} has no stat.npy; expected {_EXPECTED}")
    settings = read_settings(folder)
    rois = _stat_rois(folder, settings, plane=plane, first_id=first_id, tiled=tiled)
    n = len(rois)
    F = _traces(folder, "F.npy", n, settings.nframes)
    frames = None if F is None else F.shape[1]
    Fneu = _traces(folder, "Fneu.npy", n, frames)
    frames = frames if frames is not None or Fneu is None else Fneu.shape[1]
    spks = _traces(folder, "spks.npy", n, frames)
    F2 = _traces(folder, "F_chan2.npy", n, frames)
    Fneu2 = _traces(folder, "Fneu_chan2.npy", n, frames)
    iscell = _labels(folder, "iscell.npy", n)
    redcell = _labels(folder, "redcell.npy", n)
    return Suite2pData(
        F=F, Fneu=Fneu, spks=spks,
        iscell=None if iscell is None else iscell[0],
        iscell_prob=None if iscell is None else iscell[1],
        redcell=None if redcell is None else redcell[0],
        redcell_prob=None if redcell is None else redcell[1],
        F_chan2=F2, Fneu_chan2=Fneu2, rois=rois, settings=settings, path=folder,
        plane_settings=(settings,),
    )


def _plane_folders(root: Path) -> list[tuple[int, Path]]:
    found = []
    for entry in os.scandir(root):
        match = _PLANE_RE.match(entry.name)
        if match and entry.is_dir() and (Path(entry.path) / "stat.npy").is_file():
            found.append((int(match.group(1)), Path(entry.path)))
    return sorted(found)


def _cat(parts: list[np.ndarray | None], name: str, root: Path) -> np.ndarray | None:
    if all(p is None for p in parts):
        return None
    if any(p is None for p in parts):
        raise DataFormatError(f"{root}: {name} is present in some plane folders but not all")
    arrays = [p for p in parts if p is not None]
    if arrays[0].ndim == 2 and len({p.shape[1] for p in arrays}) > 1:
        raise DataFormatError(f"{root}: the planes' {name} differ in frame count "
                              f"{sorted({p.shape[1] for p in arrays})} (suite2p gives the first "
                              "planes one frame more when the frames do not divide by nplanes); "
                              "read the planes one at a time with plane=")
    return np.concatenate(arrays, axis=0)


def load_suite2p(path: str | os.PathLike, *, plane: int | None = None) -> Suite2pData:
    """See :func:`CalSciPy.roi_tools.load_suite2p`."""
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"suite2p folder not found: {folder}")
    if folder.is_file():
        if folder.name == "stat.npy":
            folder = folder.parent
        else:
            raise DataFormatError(f"{folder} is a file; expected {_EXPECTED}")
    if (folder / "stat.npy").is_file():
        if plane is not None:
            raise InvalidArgumentError(f"plane= selects a plane of a suite2p/ root, but {folder}"
                                       " is already a plane folder")
        match = _PLANE_RE.match(folder.name)
        tiled = folder.name == "combined"
        if tiled:
            warnings.warn(
                f"{folder} is suite2p's combined folder: its ROI coordinates are tiled across "
                "planes (one canvas), so they do not index any single plane's movie; read the "
                "plane folders for extraction", UserWarning, stacklevel=3)
        return _load_plane(folder, plane=int(match.group(1)) if match else 0, tiled=tiled)
    planes = _plane_folders(folder)
    if not planes and (folder / "suite2p").is_dir():
        folder = folder / "suite2p"
        planes = _plane_folders(folder)
    if not planes:
        if (folder / "combined" / "stat.npy").is_file():
            if plane is not None:
                raise InvalidArgumentError(
                    f"{folder} has no plane{plane} folder, only combined/ (ROIs tiled across "
                    "planes); read it without plane=")
            return load_suite2p(folder / "combined")
        raise DataFormatError(f"{folder} is not suite2p output; expected {_EXPECTED}")
    if plane is not None:
        chosen = [p for p in planes if p[0] == plane]
        if not chosen:
            raise InvalidArgumentError(f"{folder} has no plane{plane} (found planes "
                                       f"{[p[0] for p in planes]})")
        return _load_plane(chosen[0][1], plane=plane)
    datasets = []
    first = 0
    for number, sub in planes:
        datasets.append(_load_plane(sub, plane=number, first_id=first))
        first += len(datasets[-1].rois)
    if len(datasets) == 1:
        return datasets[0]
    shapes = {d.settings.shape for d in datasets}
    if len(shapes) > 1:
        raise DataFormatError(f"{folder}: planes differ in size {sorted(shapes)}; read them one "
                              "at a time with plane=")
    rois = ROISet([roi for d in datasets for roi in d.rois], datasets[0].settings.shape)

    def cat(attr: str) -> np.ndarray | None:
        return _cat([getattr(d, attr) for d in datasets], attr, folder)

    return Suite2pData(
        F=cat("F"), Fneu=cat("Fneu"), spks=cat("spks"), iscell=cat("iscell"),
        iscell_prob=cat("iscell_prob"), redcell=cat("redcell"), redcell_prob=cat("redcell_prob"),
        F_chan2=cat("F_chan2"), Fneu_chan2=cat("Fneu_chan2"), rois=rois,
        settings=datasets[0].settings, path=folder,
        plane_settings=tuple(d.settings for d in datasets),
    )


# --- binary --------------------------------------------------------------------------------
class Suite2pBinary(FrameSource):
    """suite2p's headerless int16 ``(frames, Ly, Lx)`` binary, read lazily.

    Parameters
    ----------
    path
        The ``.bin`` file.
    shape
        ``(Ly, Lx)``.
    undo_uint16_halving
        suite2p stores uint16 input as ``uint16 // 2`` in int16 (its movies never exceed
        32767); True returns ``2 × value`` as uint16, the original to within the lost lowest
        bit. Negative values (possible after registration's interpolation) become 0.
    """

    def __init__(self, path: Path, shape: tuple[int, int], *,
                 undo_uint16_halving: bool = False) -> None:
        self.path = Path(path)
        ly, lx = check_shape(shape)
        size = self.path.stat().st_size
        frame_bytes = ly * lx * 2
        if size % frame_bytes:
            raise DataFormatError(
                f"{self.path}: {size} bytes is not a whole number of {ly}×{lx} int16 frames "
                f"({frame_bytes} bytes each); Ly/Lx in the settings do not match the binary"
            )
        self.shape = (size // frame_bytes, ly, lx)
        self.undo_uint16_halving = bool(undo_uint16_halving)
        self.dtype = np.dtype(np.uint16 if self.undo_uint16_halving else np.int16)
        self._memmap: np.memmap | None = None

    def _read(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        if self._memmap is None:
            self._memmap = np.memmap(self.path, dtype="<i2", mode="r", shape=self.shape)
        view = self._memmap[start:stop]
        block = np.array(view, dtype=np.int16)
        # hand the pages back: reading a whole data.bin must not make it all resident
        _release(view)
        if not self.undo_uint16_halving:
            return block
        out = block.astype(np.int32)
        out *= 2
        np.clip(out, 0, np.iinfo(np.uint16).max, out=out)
        return out.astype(np.uint16)

    def __getstate__(self) -> dict:  # memmaps do not pickle; reopen in the worker
        state = dict(self.__dict__)
        state["_memmap"] = None
        return state


def load_suite2p_binary(plane_folder: str | os.PathLike, *, file: str = "data.bin",
                        undo_uint16_halving: bool = False) -> Suite2pBinary:
    """See :func:`CalSciPy.roi_tools.load_suite2p_binary`."""
    folder = Path(plane_folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"suite2p plane folder not found: {folder}")
    if not isinstance(file, str) or Path(file).name != file or file in ("", ".", ".."):
        raise InvalidArgumentError(
            f"file must be a file name inside the plane folder (e.g. 'data.bin', "
            f"'data_raw.bin', 'data_chan2.bin'), got {file!r}"
        )
    path = folder / file
    if not path.is_file():
        present = sorted(p.name for p in folder.glob("*.bin"))
        raise FileNotFoundError(f"{path} not found (binaries in the folder: {present})")
    settings = read_settings(folder)
    stack = Suite2pBinary(path, settings.shape, undo_uint16_halving=undo_uint16_halving)
    if settings.nframes is not None and settings.nframes != stack.shape[0] \
            and file in ("data.bin", "data_raw.bin"):
        raise DataFormatError(f"{path} holds {stack.shape[0]} frames but the settings say "
                              f"nframes = {settings.nframes}")
    return stack


# keep ROI importable from here for type checkers reading signatures
_ = ROI
