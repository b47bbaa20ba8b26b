"""ROI objects: one region of interest (:class:`ROI`) and an ordered set of them (:class:`ROISet`).

Coordinates are ``(row, col)`` everywhere: ``ypix`` are rows (the first image axis, y), ``xpix``
columns (the second axis, x), pixel ``(r, c)`` is ``image[r, c]`` and has flat index
``r * Lx + c`` (C order), centroids are ``(row, col)``, bounding boxes
``(row_start, col_start, row_stop, col_stop)`` with exclusive stops.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import Any, cast

import numpy as np
from scipy import sparse

from CalSciPy.errors import DataFormatError, InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["ROI", "ROISet", "check_shape"]

#: the largest image a ROISet accepts (pixels); bounds the dense maps built from its shape
MAX_PIXELS = 2**31 - 1


def check_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    """Return ``shape`` as a ``(Ly, Lx)`` pair of positive ints or raise InvalidArgumentError."""
    try:
        values = tuple(shape)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be a (Ly, Lx) pair, got {shape!r}") from None
    if len(values) != 2:
        raise InvalidArgumentError(f"{name} must be a (Ly, Lx) pair, got {shape!r}")
    out = []
    for value in values:
        if isinstance(value, (bool, np.bool_)):
            raise InvalidArgumentTypeError(f"{name} must hold integers, got {shape!r}")
        try:
            value = operator.index(value)
        except TypeError:
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                value = int(value)
            else:
                raise InvalidArgumentTypeError(
                    f"{name} must hold integers, got {shape!r}") from None
        if value < 1:
            raise InvalidArgumentError(f"{name} must be positive, got {shape!r}")
        out.append(int(value))
    if out[0] * out[1] > MAX_PIXELS:
        raise InvalidArgumentError(f"{name} {tuple(out)} has more than {MAX_PIXELS} pixels")
    return out[0], out[1]


def _as_index_array(values: Any, name: str, what: str) -> np.ndarray:
    """1-D int64 array of non-negative pixel indices (integral floats accepted)."""
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentTypeError(f"{what}: {name} must be array-like: {err}") from None
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{what}: {name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == bool:
        raise InvalidArgumentTypeError(f"{what}: {name} must hold integers, got booleans")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InvalidArgumentError(f"{what}: {name} must hold whole numbers")
        if arr.size and np.max(np.abs(arr)) > 2**62:
            raise InvalidArgumentError(f"{what}: {name} is out of range")
    elif not np.issubdtype(arr.dtype, np.integer):
        raise InvalidArgumentTypeError(f"{what}: {name} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise InvalidArgumentError(
            f"{what}: {name} has negative pixel coordinates (min {arr.min()})"
        )
    return arr


def _check_id(value: Any, what: str = "ROI") -> int:
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentTypeError(f"{what} id must be an integer, got {value!r}")
    try:
        return int(operator.index(value))
    except TypeError:
        raise InvalidArgumentTypeError(f"{what} id must be an integer, got {value!r}") from None


def _stat_plane(value: Any) -> int:
    """suite2p's ``stat['iplane']`` as an int (integral floats accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        try:
            return int(operator.index(value))
        except TypeError:
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                return int(value)
    raise InvalidArgumentTypeError(f"iplane must be a whole number, got {value!r}")


class ROI:
    """One region of interest: pixels, their weights, an id and a plane.

    Parameters
    ----------
    ypix, xpix
        ``(pixels,)`` integer row and column of each pixel (``(row, col)`` convention: pixel
        ``i`` is ``image[ypix[i], xpix[i]]``). Non-negative, same length, at least one pixel, no
        pixel twice.
    lam
        ``(pixels,)`` non-negative finite weights (suite2p's ``lam``, CaImAn's footprint values);
        ``None`` gives every pixel weight 1. Their sum must be positive.
    id
        The identifier every plot, table and file name shows: suite2p's row number, CaImAn's
        component index, a label value.
    plane
        Imaging plane (0-based).
    radius
        Radius in pixels when the source provides one (suite2p's ``stat['radius']``); otherwise
        computed (see :attr:`radius`).
    overlap
        ``(pixels,)`` bool, True for pixels shared with another ROI of the segmentation
        (suite2p's ``stat['overlap']``). ``None``: filled in by the :class:`ROISet` that holds it.
    """

    def __init__(self, ypix: Any, xpix: Any, lam: Any = None, *, id: int, plane: int = 0,
                 radius: float | None = None, overlap: Any = None) -> None:
        self.id = _check_id(id)
        what = f"ROI {self.id}"
        self.ypix = _as_index_array(ypix, "ypix", what)
        self.xpix = _as_index_array(xpix, "xpix", what)
        if self.ypix.size != self.xpix.size:
            raise InvalidArgumentError(
                f"{what}: ypix and xpix differ in length ({self.ypix.size} vs {self.xpix.size})"
            )
        if self.ypix.size == 0:
            raise InvalidArgumentError(f"{what} has no pixels")
        width = int(self.xpix.max()) + 1
        flat = self.ypix * width + self.xpix
        if np.unique(flat).size != flat.size:
            raise InvalidArgumentError(f"{what} lists a pixel more than once")
        if lam is None:
            self.lam = np.ones(self.ypix.size, dtype=np.float64)
        else:
            try:
                lam_arr = np.asarray(lam, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise InvalidArgumentTypeError(
                    f"{what}: lam must hold real numbers: {err}") from None
            if lam_arr.shape != self.ypix.shape:
                raise InvalidArgumentError(
                    f"{what}: lam has shape {lam_arr.shape}, expected ({self.ypix.size},)"
                )
            if not np.all(np.isfinite(lam_arr)) or np.any(lam_arr < 0):
                raise InvalidArgumentError(f"{what}: lam must be finite and non-negative")
            if lam_arr.sum() <= 0:
                raise InvalidArgumentError(f"{what}: lam must have a positive sum")
            self.lam = lam_arr
        self.plane = _check_id(plane, f"{what} plane")
        if self.plane < 0:
            raise InvalidArgumentError(f"{what}: plane must be >= 0, got {plane!r}")
        if radius is not None:
            if isinstance(radius, (bool, np.bool_)):
                raise InvalidArgumentTypeError(f"{what}: radius must be a number, got {radius!r}")
            try:
                radius = float(radius)
            except (TypeError, ValueError):
                raise InvalidArgumentTypeError(
                    f"{what}: radius must be a number, got {radius!r}") from None
            if not math.isfinite(radius) or radius < 0:
                raise InvalidArgumentError(f"{what}: radius must be finite and >= 0")
        self._radius = radius
        if overlap is not None:
            overlap = np.asarray(overlap)
            if overlap.shape != self.ypix.shape or overlap.dtype != bool:
                raise InvalidArgumentError(
                    f"{what}: overlap must be a bool array of shape ({self.ypix.size},)"
                )
        self.overlap = overlap
        for arr in (self.ypix, self.xpix, self.lam):
            arr.flags.writeable = False

    def __repr__(self) -> str:
        row, col = self.centroid
        return (f"ROI(id={self.id}, plane={self.plane}, pixels={self.npix}, "
                f"centroid=({row:.1f}, {col:.1f}))")

    def __len__(self) -> int:
        return int(self.ypix.size)

    @property
    def npix(self) -> int:
        """Number of pixels."""
        return int(self.ypix.size)

    @cached_property
    def centroid(self) -> tuple[float, float]:
        """Weighted centre ``(row, col)`` in pixels (weights ``lam``)."""
        w = self.lam / self.lam.sum()
        return float(w @ self.ypix), float(w @ self.xpix)

    @property
    def radius(self) -> float:
        """Radius in pixels.

        The source's value when it gave one (suite2p's ``stat['radius']``), else suite2p's
        definition computed here: twice the standard deviation along the major axis of the
        ``lam``-weighted pixel distribution, ``2 * sqrt(largest eigenvalue of the weighted
        covariance of (row, col))`` (0 for a single pixel).
        """
        if self._radius is None:
            w = self.lam / self.lam.sum()
            d = np.stack([self.ypix - self.centroid[0], self.xpix - self.centroid[1]])
            cov = (w * d) @ d.T
            self._radius = float(2.0 * np.sqrt(max(0.0, np.linalg.eigvalsh(cov)[-1])))
        return self._radius

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """``(row_start, col_start, row_stop, col_stop)``, stops exclusive:
        ``image[r0:r1, c0:c1]`` holds every pixel of the ROI."""
        return (int(self.ypix.min()), int(self.xpix.min()),
                int(self.ypix.max()) + 1, int(self.xpix.max()) + 1)

    def _check_fits(self, shape: tuple[int, int]) -> None:
        r1, c1 = self.bbox[2:]
        if r1 > shape[0] or c1 > shape[1]:
            raise InvalidArgumentError(
                f"ROI {self.id} lies outside the {shape[0]}×{shape[1]} image: it reaches "
                f"row {r1 - 1}, column {c1 - 1}"
            )

    def mask(self, shape: Sequence[int]) -> np.ndarray:
        """``(Ly, Lx)`` bool image, True on the ROI's pixels."""
        shape = check_shape(shape)
        self._check_fits(shape)
        out = np.zeros(shape, dtype=bool)
        out[self.ypix, self.xpix] = True
        return out

    def weights_image(self, shape: Sequence[int]) -> np.ndarray:
        """``(Ly, Lx)`` float64 image holding ``lam`` on the ROI's pixels, 0 elsewhere."""
        shape = check_shape(shape)
        self._check_fits(shape)
        out = np.zeros(shape, dtype=np.float64)
        out[self.ypix, self.xpix] = self.lam
        return out

    def contour(self) -> list[np.ndarray]:
        """Outline of the ROI's pixels: a list of closed ``(points, 2)`` float arrays of
        ``(row, col)`` image coordinates (pixel centres are integers), one per boundary (an ROI
        of several pieces or with holes has several). For plotting: ``plt.plot(c[:, 1], c[:, 0])``.
        """
        import contourpy

        r0, c0, r1, c1 = self.bbox
        local = np.zeros((r1 - r0 + 2, c1 - c0 + 2), dtype=np.float64)
        local[self.ypix - r0 + 1, self.xpix - c0 + 1] = 1.0
        gen = contourpy.contour_generator(z=local, name="serial", line_type="Separate")
        # contourpy types lines() as the union over every line_type; Separate is a list of
        # (points, 2) arrays
        lines = cast("list[np.ndarray]", gen.lines(0.5))
        return [np.column_stack([line[:, 1] + r0 - 1, line[:, 0] + c0 - 1]) for line in lines]

    def with_overlap(self, overlap: np.ndarray) -> ROI:
        """A copy of this ROI whose ``overlap`` flags are ``overlap``."""
        return ROI(self.ypix, self.xpix, self.lam, id=self.id, plane=self.plane,
                   radius=self._radius, overlap=overlap)


class ROISet:
    """An ordered set of ROIs on one image shape, with their ids and a sparse weights matrix.

    Parameters
    ----------
    rois
        The ROIs (at least one, unique ids, every pixel inside ``shape``).
    shape
        ``(Ly, Lx)`` image shape in pixels.

    Notes
    -----
    ROIs without ``overlap`` flags get them from this set: a pixel is overlapping when two or
    more ROIs of the set contain it. A set made by :meth:`select` keeps the flags and the
    neuropil exclusion map of the set it was selected from (suite2p computes both over every ROI
    it detected, not only the ones classified as cells), so extracting a selection gives the
    same traces as extracting everything and then selecting rows.
    """

    def __init__(self, rois: Iterable[ROI], shape: Sequence[int], *,
                 _parent: ROISet | None = None) -> None:
        self.shape = check_shape(shape)
        rois = list(rois)
        if not rois:
            raise InvalidArgumentError("an ROISet needs at least one ROI, got none")
        for roi in rois:
            if not isinstance(roi, ROI):
                raise InvalidArgumentTypeError(
                    f"ROISet holds ROI objects, got {type(roi).__name__}"
                )
            roi._check_fits(self.shape)
        ids = np.fromiter((roi.id for roi in rois), dtype=np.int64, count=len(rois))
        unique, counts = np.unique(ids, return_counts=True)
        if unique.size != ids.size:
            raise InvalidArgumentError(
                f"ROI ids must be unique; repeated: {unique[counts > 1][:10].tolist()}"
            )
        if any(roi.overlap is None for roi in rois):
            # per plane, as suite2p: ROIs of different planes never share a pixel
            plane_counts: dict[int, np.ndarray] = {}
            for roi in rois:
                count = plane_counts.setdefault(
                    roi.plane, np.zeros(self.shape[0] * self.shape[1], dtype=np.int32))
                np.add.at(count, roi.ypix * self.shape[1] + roi.xpix, 1)
            rois = [roi if roi.overlap is not None else
                    roi.with_overlap(
                        plane_counts[roi.plane][roi.ypix * self.shape[1] + roi.xpix] > 1)
                    for roi in rois]
        self._rois = tuple(rois)
        self._ids = ids
        self._ids.flags.writeable = False
        self._parent: ROISet | None = (
            _parent._parent if _parent is not None and _parent._parent else _parent)

    # --- container -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rois)

    def __iter__(self) -> Iterator[ROI]:
        return iter(self._rois)

    def __getitem__(self, index: int) -> ROI:
        """The ROI at position ``index`` (not its id: use :meth:`by_id` for that)."""
        return self._rois[index]

    def __repr__(self) -> str:
        return f"<ROISet {len(self)} ROIs on {self.shape[0]}×{self.shape[1]} px>"

    @property
    def ids(self) -> np.ndarray:
        """``(rois,)`` int64 ids, in order (read-only)."""
        return self._ids

    @property
    def planes(self) -> np.ndarray:
        """``(rois,)`` int64 plane of each ROI."""
        return np.fromiter((roi.plane for roi in self._rois), dtype=np.int64, count=len(self))

    def by_id(self, roi_id: int) -> ROI:
        """The ROI whose id is ``roi_id``."""
        hit = np.flatnonzero(self._ids == _check_id(roi_id))
        if hit.size == 0:
            raise KeyError(f"no ROI with id {roi_id}")
        return self._rois[int(hit[0])]

    @property
    def centroids(self) -> np.ndarray:
        """``(rois, 2)`` float64 weighted centres ``(row, col)``."""
        return np.array([roi.centroid for roi in self._rois], dtype=np.float64)

    @property
    def radii(self) -> np.ndarray:
        """``(rois,)`` float64 radius of each ROI (pixels, see :attr:`ROI.radius`)."""
        return np.array([roi.radius for roi in self._rois], dtype=np.float64)

    @cached_property
    def weights(self) -> sparse.csr_matrix:
        """``(rois, Ly * Lx)`` CSR matrix of the raw weights ``lam`` (row i: ROI ``self[i]``;
        column ``row * Lx + col``), built once. Rows are not normalised."""
        ly, lx = self.shape
        indptr = np.zeros(len(self) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([roi.npix for roi in self._rois])
        indices = np.concatenate([roi.ypix * lx + roi.xpix for roi in self._rois])
        data = np.concatenate([roi.lam for roi in self._rois])
        matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(self), ly * lx))
        matrix.sort_indices()
        return matrix

    def masks(self) -> np.ndarray:
        """``(rois, Ly, Lx)`` bool masks (dense: ``rois × Ly × Lx`` bytes); a pixel of weight 0
        is still the ROI's, as in :meth:`ROI.mask`."""
        out = np.zeros((len(self), *self.shape), dtype=bool)
        for k, roi in enumerate(self._rois):
            out[k, roi.ypix, roi.xpix] = True
        return out

    def label_image(self) -> np.ndarray:
        """``(Ly, Lx)`` int64 image of ids (``-1`` where no ROI; an overlapping pixel shows the
        last ROI containing it)."""
        out = np.full(self.shape, -1, dtype=np.int64)
        for roi in self._rois:
            out[roi.ypix, roi.xpix] = roi.id
        return out

    # --- selection -------------------------------------------------------------------------
    def select(self, ids: Any = None, *, mask: Any = None, plane: int | None = None) -> ROISet:
        """A new set holding some of these ROIs, in this set's order.

        Parameters
        ----------
        ids
            Ids to keep (each must exist).
        mask
            ``(rois,)`` bool, True to keep (e.g. suite2p's ``iscell``).
        plane
            Keep the ROIs of this plane.
        """
        keep = np.ones(len(self), dtype=bool)
        if ids is not None:
            wanted = np.atleast_1d(np.asarray(ids))
            if wanted.size == 0:
                raise InvalidArgumentError("ids is empty: the selection keeps no ROI")
            if wanted.dtype == bool or not np.issubdtype(wanted.dtype, np.integer):
                raise InvalidArgumentTypeError(
                    f"ids must be integers (use mask= for booleans), got dtype {wanted.dtype}"
                )
            missing = np.setdiff1d(wanted, self._ids)
            if missing.size:
                raise InvalidArgumentError(f"no ROI with id(s) {missing[:10].tolist()}")
            keep &= np.isin(self._ids, wanted)
        if mask is not None:
            mask_arr = np.asarray(mask)
            if mask_arr.dtype != bool:
                raise InvalidArgumentTypeError(
                    f"mask must be boolean, got dtype {mask_arr.dtype}")
            if mask_arr.shape != (len(self),):
                raise InvalidArgumentError(
                    f"mask has shape {mask_arr.shape}, expected ({len(self)},): one per ROI"
                )
            keep &= mask_arr
        if plane is not None:
            keep &= self.planes == _check_id(plane, "plane")
        if not keep.any():
            raise InvalidArgumentError("the selection keeps no ROI")
        return ROISet([roi for roi, k in zip(self._rois, keep) if k], self.shape, _parent=self)

    @cached_property
    def context(self) -> ROISet:
        """The ROIs of the set this one was selected from (itself when it was not made by
        :meth:`select`) that lie on this set's planes: those whose pixels the neuropil masks
        avoid (suite2p works plane by plane: another plane's cells are not cells here)."""
        parent = self._parent if self._parent is not None else self
        planes = set(self.planes.tolist())
        if all(roi.plane in planes for roi in parent):
            return parent
        return ROISet([roi for roi in parent if roi.plane in planes], self.shape)

    # --- constructors ----------------------------------------------------------------------
    @classmethod
    def from_suite2p(cls, stat: Any, shape: Sequence[int], *, ids: Any = None,
                     plane: int | None = None) -> ROISet:
        """ROIs from suite2p's ``stat`` (the list or object array in ``stat.npy``).

        Parameters
        ----------
        stat
            Sequence of dicts with ``ypix``, ``xpix`` and optionally ``lam``, ``radius``,
            ``overlap`` and ``iplane``.
        shape
            ``(Ly, Lx)`` of the plane (``ops['Ly'], ops['Lx']``).
        ids
            Ids; default the row numbers ``0 .. len(stat) - 1``, as in suite2p's GUI.
        plane
            Plane of every ROI; default ``stat['iplane']`` when present, else 0.
        """
        try:
            entries = list(stat)
        except TypeError:
            raise DataFormatError(
                f"suite2p stat must be a sequence of dicts, got {type(stat).__name__}"
            ) from None
        if not entries:
            raise DataFormatError("suite2p stat holds no ROIs")
        id_values = np.arange(len(entries)) if ids is None else np.asarray(ids)
        if id_values.shape != (len(entries),):
            raise InvalidArgumentError(
                f"ids has shape {id_values.shape}, expected ({len(entries)},)"
            )
        rois = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or "ypix" not in entry or "xpix" not in entry:
                raise DataFormatError(
                    f"suite2p stat entry {i} is not a dict with 'ypix' and 'xpix'"
                )
            try:
                roi_plane = plane if plane is not None else _stat_plane(entry.get("iplane", 0))
                rois.append(ROI(entry["ypix"], entry["xpix"], entry.get("lam"),
                                id=id_values[i], plane=roi_plane, radius=entry.get("radius"),
                                overlap=entry.get("overlap")))
            except (InvalidArgumentError, InvalidArgumentTypeError) as err:
                raise DataFormatError(f"suite2p stat entry {i}: {err}") from None
        return cls(rois, shape)

    @classmethod
    def from_caiman(cls, A: Any, dims: Sequence[int], *, ids: Any = None,
                    plane: int = 0) -> ROISet:
        """ROIs from a CaImAn footprint matrix ``A`` (``estimates.A``).

        Parameters
        ----------
        A
            ``(pixels, components)`` sparse or dense matrix; pixel index ``p`` of a ``(d1, d2)``
            field is row ``p % d1``, column ``p // d1`` (CaImAn flattens in Fortran order).
            Each column's positive entries become the ROI's pixels and weights.
        dims
            ``(d1, d2)`` field of view (``estimates.dims``).
        ids
            Ids; default the component indices ``0 .. components - 1``.
        plane
            Plane of every ROI.
        """
        shape = check_shape(dims, "dims")
        kind = A.dtype.kind if sparse.issparse(A) else np.asarray(A).dtype.kind
        if kind not in "biuf":
            raise InvalidArgumentTypeError(f"A must hold real numbers, got dtype kind {kind!r}")
        matrix = sparse.csc_matrix(A) if not sparse.issparse(A) else A.tocsc()
        if matrix.shape[0] != shape[0] * shape[1]:
            raise InvalidArgumentError(
                f"A has {matrix.shape[0]} rows but dims {shape} has {shape[0] * shape[1]} pixels"
            )
        n = matrix.shape[1]
        id_values = np.arange(n) if ids is None else np.asarray(ids)
        if id_values.shape != (n,):
            raise InvalidArgumentError(f"ids has shape {id_values.shape}, expected ({n},)")
        matrix.sort_indices()
        rois = []
        for k in range(n):
            lo, hi = matrix.indptr[k], matrix.indptr[k + 1]
            pix = np.asarray(matrix.indices[lo:hi], dtype=np.int64)
            val = np.asarray(matrix.data[lo:hi], dtype=np.float64)
            if not np.all(np.isfinite(val)):
                raise DataFormatError(f"CaImAn component {k} has non-finite footprint values")
            keep = val > 0
            if not keep.any():
                raise DataFormatError(f"CaImAn component {k} has an empty footprint")
            pix, val = pix[keep], val[keep]
            rois.append(ROI(pix % shape[0], pix // shape[0], val, id=id_values[k], plane=plane))
        return cls(rois, shape)

    @classmethod
    def from_labels(cls, labels: Any, *, plane: int = 0) -> ROISet:
        """ROIs from a label image (Cellpose or ImageJ masks): ``(Ly, Lx)`` non-negative
        integers, 0 = background, each other value one ROI whose id is that value (weights 1).
        """
        arr = np.asarray(labels)
        if arr.ndim != 2:
            raise InvalidArgumentError(
                f"labels must be a 2-D (Ly, Lx) image, got shape {arr.shape}"
            )
        if arr.dtype == bool:
            arr = arr.astype(np.int64)
        elif np.issubdtype(arr.dtype, np.floating):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise InvalidArgumentError("labels must hold whole numbers")
        elif not np.issubdtype(arr.dtype, np.integer):
            raise InvalidArgumentTypeError(f"labels must hold integers, got dtype {arr.dtype}")
        # ids are int64: a larger label (float 1e20, uint64 above 2**63) would wrap on the cast
        if arr.size and arr.max() > 2**62:
            raise InvalidArgumentError(f"labels must be <= 2**62, max {arr.max()}")
        if arr.size and arr.min() < 0:
            raise InvalidArgumentError(f"labels must be >= 0 (0 = background), min {arr.min()}")
        arr = arr.astype(np.int64)
        shape = check_shape(arr.shape, "labels shape")
        flat = arr.ravel()
        order = np.argsort(flat, kind="stable")
        values = flat[order]
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        stops = np.r_[starts[1:], values.size]
        rois = []
        for start, stop in zip(starts, stops):
            value = int(values[start])
            if value == 0:
                continue
            pix = order[start:stop]
            rois.append(ROI(pix // shape[1], pix % shape[1], id=value, plane=plane))
        if not rois:
            raise InvalidArgumentError("labels holds no ROI (every pixel is 0 = background)")
        return cls(rois, shape)

    @classmethod
    def from_masks(cls, masks: Any, *, ids: Any = None, plane: int = 0) -> ROISet:
        """ROIs from a ``(rois, Ly, Lx)`` stack of boolean masks (weights 1).

        ``ids`` default to the positions ``0 .. rois - 1``.
        """
        arr = np.asarray(masks)
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        if arr.ndim != 3:
            raise InvalidArgumentError(
                f"masks must be a (rois, Ly, Lx) stack, got shape {np.shape(masks)}"
            )
        if arr.dtype != bool:
            if np.issubdtype(arr.dtype, np.number) and np.all((arr == 0) | (arr == 1)):
                arr = arr.astype(bool)
            else:
                raise InvalidArgumentError(
                    f"masks must be boolean (or 0/1), got dtype {arr.dtype}"
                )
        if arr.shape[0] == 0:
            raise InvalidArgumentError("masks holds no ROI (zero masks)")
        shape = check_shape(arr.shape[1:], "masks shape")
        id_values = np.arange(arr.shape[0]) if ids is None else np.asarray(ids)
        if id_values.shape != (arr.shape[0],):
            raise InvalidArgumentError(
                f"ids has shape {id_values.shape}, expected ({arr.shape[0]},)"
            )
        rois = []
        for k in range(arr.shape[0]):
            rows, cols = np.nonzero(arr[k])
            if rows.size == 0:
                raise InvalidArgumentError(f"mask {k} (id {id_values[k]}) is empty")
            rois.append(ROI(rows, cols, id=id_values[k], plane=plane))
        return cls(rois, shape)
