"""CaImAn CNMF/CNMF-E results saved with ``cnm.save(...)`` (HDF5), read with h5py only."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from CalSciPy._optional import optional_import
from CalSciPy._rois.roi import ROISet, check_shape
from CalSciPy.errors import DataFormatError, InvalidArgumentError

__all__ = ["CaimanData", "load_caiman"]


@dataclass
class CaimanData:
    """CaImAn estimates.

    Attributes
    ----------
    rois
        :class:`~CalSciPy.roi_tools.ROISet` of every component (ids = component index).
    C, S, YrA
        ``(components, frames)`` denoised traces, deconvolved activity and residuals
        (``C + YrA`` is the raw trace); ``None`` when absent.
    F_dff
        ``(components, frames)`` ΔF/F from ``detrend_df_f``, or ``None``.
    b, f
        Background: ``(pixels, nb)`` spatial (Fortran-order pixels, like ``A``) and
        ``(nb, frames)`` temporal components, or ``None``.
    dims
        ``(d1, d2)`` field of view (rows, columns).
    frame_rate
        ``params['data']['fr']`` in Hz, or ``None``.
    accepted
        ``(components,)`` bool: True for components in ``idx_components`` (all True when the
        file has no quality evaluation).
    idx_components
        Accepted component indices as stored, or ``None``.
    path
        The file read.
    """

    rois: ROISet
    C: np.ndarray | None
    S: np.ndarray | None
    YrA: np.ndarray | None
    F_dff: np.ndarray | None
    b: np.ndarray | None
    f: np.ndarray | None
    dims: tuple[int, int]
    frame_rate: float | None
    accepted: np.ndarray
    idx_components: np.ndarray | None
    path: Path


def _is_none(value: Any) -> bool:
    if isinstance(value, bytes):
        value = value.decode("latin1")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SOU" and value.size == 1:
        return _is_none(value.reshape(()).item())
    return isinstance(value, str) and value == "NoneType"


def _read(group: Any, name: str) -> Any:
    """Dataset ``name`` of ``group`` as numpy (None when absent or stored as 'NoneType')."""
    if name not in group:
        return None
    node = group[name]
    if not hasattr(node, "shape"):  # a group
        return node
    value = node[()]
    if _is_none(value):
        return None
    return value


def _numeric(value: Any, name: str, path: Path, ndim: tuple[int, ...]) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.ndim not in ndim:
        raise DataFormatError(f"{path}: estimates/{name} must be a numeric array with "
                              f"{' or '.join(map(str, ndim))} dimensions, got shape "
                              f"{arr.shape} dtype {arr.dtype}")
    return arr


def _footprints(node: Any, path: Path) -> sparse.csc_matrix:
    if hasattr(node, "shape"):  # stored dense
        arr = _numeric(node[()], "A", path, (2,))
        return sparse.csc_matrix(arr)
    try:
        data = np.asarray(node["data"][()])
        indices = np.asarray(node["indices"][()])
        indptr = np.asarray(node["indptr"][()])
        shape = tuple(int(v) for v in np.asarray(node["shape"][()]).ravel())
    except KeyError as err:
        raise DataFormatError(f"{path}: estimates/A lacks {err}; expected the CSC arrays "
                              "data, indices, indptr and shape") from None
    if len(shape) != 2 or min(shape) < 0:
        raise DataFormatError(f"{path}: estimates/A/shape is {shape}, expected (pixels, "
                              "components)")
    try:
        return sparse.csc_matrix((data, indices, indptr), shape=shape)
    except (ValueError, TypeError) as err:
        raise DataFormatError(f"{path}: estimates/A is not a valid CSC matrix: {err}") from None


def load_caiman(path: str | os.PathLike) -> CaimanData:
    """See :func:`CalSciPy.roi_tools.load_caiman`."""
    h5py = optional_import("h5py", "reading CaImAn HDF5 files")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CaImAn file not found: {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise DataFormatError(f"{path} is not an HDF5 file (CaImAn's cnm.save output): "
                              f"{err}") from None
    with handle:
        if "estimates" not in handle:
            raise DataFormatError(
                f"{path} has no 'estimates' group: not a CaImAn results file (saved with "
                f"cnm.save); top-level entries: {sorted(handle.keys())[:10]}"
            )
        est = handle["estimates"]
        dims = _read(est, "dims")
        if dims is None:
            dims = _read(handle, "dims")
        if dims is None and "params" in handle and "data" in handle["params"]:
            dims = _read(handle["params"]["data"], "dims")
        if dims is None:
            raise DataFormatError(f"{path}: no dims (estimates/dims, dims or params/data/dims)")
        try:
            dims = check_shape(np.asarray(dims).ravel()[:3], "dims")
        except InvalidArgumentError as err:
            raise DataFormatError(f"{path}: {err} (3-D CaImAn results are not supported)"
                                  ) from None
        if "A" not in est or _read(est, "A") is None:
            raise DataFormatError(f"{path}: estimates/A (the spatial footprints) is missing")
        A = _footprints(est["A"], path)
        if A.shape[0] != dims[0] * dims[1]:
            raise DataFormatError(f"{path}: estimates/A has {A.shape[0]} pixels but dims "
                                  f"{dims} has {dims[0] * dims[1]}")
        try:
            rois = ROISet.from_caiman(A, dims)
        except (InvalidArgumentError, DataFormatError) as err:
            raise DataFormatError(f"{path}: {err}") from None
        n = A.shape[1]
        arrays = {}
        for name in ("C", "S", "YrA", "F_dff", "f"):
            arr = _numeric(_read(est, name), name, path, (1, 2))
            if arr is not None and arr.ndim == 1:
                arr = arr[np.newaxis]
            arrays[name] = arr
        for name in ("C", "S", "YrA", "F_dff"):
            arr = arrays[name]
            if arr is not None and arr.shape[0] != n:
                raise DataFormatError(f"{path}: estimates/{name} has {arr.shape[0]} rows but "
                                      f"A has {n} components")
        frames = {arr.shape[1] for name, arr in arrays.items() if arr is not None}
        if len(frames) > 1:
            raise DataFormatError(f"{path}: the estimates' traces differ in frame count "
                                  f"{sorted(frames)}")
        b = _numeric(_read(est, "b"), "b", path, (1, 2))
        if b is not None and b.ndim == 1:
            b = b[:, np.newaxis]
        idx = _read(est, "idx_components")
        accepted = np.ones(n, dtype=bool)
        if idx is not None:
            idx = np.asarray(idx).ravel()
            if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= n)):
                raise DataFormatError(f"{path}: estimates/idx_components must be indices in "
                                      f"[0, {n})")
            accepted = np.zeros(n, dtype=bool)
            accepted[idx] = True
        fr = None
        if "params" in handle and "data" in handle["params"]:
            value = _read(handle["params"]["data"], "fr")
            if value is not None:
                arr = np.asarray(value)
                fr = float(arr.reshape(())) if arr.size == 1 and arr.dtype.kind in "iuf" \
                    else math.nan
                if not math.isfinite(fr) or fr <= 0:
                    raise DataFormatError(f"{path}: params/data/fr = {value!r} is not a "
                                          "positive frame rate")
    return CaimanData(rois=rois, C=arrays["C"], S=arrays["S"], YrA=arrays["YrA"],
                      F_dff=arrays["F_dff"], b=b, f=arrays["f"], dims=dims, frame_rate=fr,
                      accepted=accepted, idx_components=idx, path=path)
