"""Photostimulation (MarkPoints) metadata: targets as ROIs, groups, masks and protocol files.

Coordinates: pixel positions are array indices (``image[row, col]``; pixel ``i`` spans
``i - 0.5`` to ``i + 0.5``), so a normalised PrairieView position ``x`` (0 = left edge of the
field of view, 1 = right edge) is pixel ``x * width - 0.5``. Spiral widths/heights are
diameters as fractions of the field of view.

The project's coordinate convention is ``(row, col)``; :attr:`ROI.coordinates` keeps the
documented 0.3.x order ``(x, y)`` = ``(col, row)``, and :attr:`ROI.centroid` gives
``(row, col)``.

Typical use::

    from CalSciPy.bruker.mark_points import PhotostimulationMeta
    meta = PhotostimulationMeta.from_targets(centroids, fov_size=(512, 512),
                                             voltage_range=(-7.6, 7.6), laser_power=300)
    meta.generate_protocol("targets")   # writes targets.xml + targets.gpl

    # straight from ROIs (a CalSciPy.roi_tools.ROISet, or objects with .id and .centroid)
    meta = PhotostimulationMeta.from_rois(rois, voltage_range=(-7.6, 7.6))
"""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ElementTree

import numpy as np

from CalSciPy._checks import as_path
from CalSciPy.bruker._protocol_io import (
    DEFAULT_VERSION,
    Protocol,
    build_protocol,
    read_saved_mark_points,
    saved_form,
    write_protocol,
    write_protocol_pair,
)
from CalSciPy.bruker.factories import BrukerElementFactory
from CalSciPy.bruker.meta_objects import BrukerMeta
from CalSciPy.bruker.xml_objects import (
    GalvoPoint,
    GalvoPointElement,
    GalvoPointGroup,
    GalvoPointList,
    MarkPointElement,
    MarkPointSeriesElements,
    Point,
)
from CalSciPy.errors import DataFormatError, InvalidArgumentError

__all__ = [
    "Group",
    "PhotostimulationMeta",
    "Protocol",
    "ROI",
    "build_protocol",
    "generate_photostimulation_mask",
    "read_mark_points_xml",
    "write_protocol",
]

#: most pixels a spiral's bounding box may span (after clipping to the image): 2**28 is a
#: 16384 x 16384 field of view; a larger box means a wrong radius, not a real spiral
_MAX_MASK_PIXELS = 2 ** 28


def _pair(value: Any, name: str, *, positive: bool = False) -> tuple[float, float]:
    array = np.array(value, dtype=float, copy=True).ravel()  # copy: never touch the input
    if array.size == 1:
        array = np.repeat(array, 2)
    if array.size != 2 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be one finite number or a pair, got {value!r}")
    if positive and np.any(array <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(array[0]), float(array[1])


def generate_photostimulation_mask(center: Sequence[float], radii: float | Sequence[float],
                                   shape: int | Sequence[int] | None = None) -> np.ndarray:
    """Pixels strictly inside an ellipse: the area a spiral stimulates.

    Parameters
    ----------
    center
        ``(row, col)`` centre in pixels (array-index coordinates, may be fractional).
    radii
        Radius in pixels, or ``(row_radius, col_radius)``; > 0.
    shape
        Image ``(height, width)`` (or one int for a square) to clip to; without it only
        negative indices are dropped.

    Returns
    -------
    numpy.ndarray
        ``(2, n)`` int array: ``rows, cols = mask`` (so ``image[tuple(mask)]`` selects the
        pixels), ordered row by row. Pixel ``(r, c)`` is inside when
        ``((r - row0) / row_radius) ** 2 + ((c - col0) / col_radius) ** 2 < 1``; a circle of
        radius ``r`` holds about ``pi * r ** 2`` pixels. Inputs are never modified.
    """
    row0, col0 = _pair(center, "center")
    radius_row, radius_col = _pair(radii, "radii", positive=True)
    limits = None
    if shape is not None:
        if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
            shape = (int(shape), int(shape))
        try:
            limits = tuple(int(v) for v in shape)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            limits = ()
        if len(limits) != 2 or min(limits) <= 0:
            raise ValueError(f"shape must be a positive int or (height, width), got {shape!r}")
    # clip the bounding box before allocating anything: a radius read from a file may be huge
    bounds = []
    for centre, radius, axis in ((row0, radius_row, 0), (col0, radius_col, 1)):
        low = max(math.floor(centre - radius), 0)
        high = math.ceil(centre + radius)
        if limits is not None:
            high = min(high, limits[axis] - 1)
        bounds.append((low, high))
    extent = [max(high - low + 1, 0) for low, high in bounds]
    if extent[0] * extent[1] > _MAX_MASK_PIXELS:
        raise InvalidArgumentError(
            f"radii={radii!r} around center={center!r} span {extent[0]} x {extent[1]} pixels "
            f"(more than {_MAX_MASK_PIXELS}); give the image shape to clip to, or check the "
            "radius units (pixels)")
    if 0 in extent:  # entirely outside the image
        return np.empty((2, 0), dtype=np.int64)
    rows = np.arange(bounds[0][0], bounds[0][1] + 1, dtype=np.int64)
    cols = np.arange(bounds[1][0], bounds[1][1] + 1, dtype=np.int64)
    grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
    inside = ((grid_rows - row0) / radius_row) ** 2 + ((grid_cols - col0) / radius_col) ** 2 < 1
    return np.stack([grid_rows[inside], grid_cols[inside]]).astype(np.int64)


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex-hull vertices (counter-clockwise) of ``(n, 2)`` points; degenerate sets as is."""
    unique = np.unique(points, axis=0)
    if len(unique) < 3:
        return unique
    from scipy.spatial import ConvexHull, QhullError

    try:
        return unique[ConvexHull(unique).vertices]
    except QhullError:  # all points on one line: its two ends span the hull
        order = np.lexsort((unique[:, 1], unique[:, 0]))
        return unique[order[[0, -1]]]


class ROI:
    """One stimulated target: a spiral ellipse in the field of view.

    Parameters
    ----------
    index
        1-based index of the point in the galvo point list.
    x, y
        Centre as fractions of the field of view's width/height.
    spiral_width, spiral_height
        Spiral diameter as fractions of the field of view's width/height.
    spiral_size_in_microns
        Spiral diameter in µm, when known.
    is_spiral
        Whether the point is stimulated with a spiral.
    name
        Name of the point in the galvo point list (default ``"Point <index - 1>"``).
    width, height
        Field of view in pixels, used for :attr:`coordinates`, :attr:`mask` and
        :meth:`generate_hull_vertices`.

    Attributes
    ----------
    coordinates : tuple of float
        ``(x, y)`` = ``(col, row)`` centre in pixels: the documented 0.3.x order, the reverse
        of the project's ``(row, col)`` convention; use :attr:`centroid` for ``(row, col)``.
    mask : numpy.ndarray
        ``(2, n)`` ``(rows, cols)`` of the pixels inside the spiral.
    vertices : numpy.ndarray
        ``(m, 2)`` ``(row, col)`` convex-hull vertices of the mask.
    """

    index: int
    x: float
    y: float
    spiral_width: float
    spiral_height: float
    spiral_size_in_microns: float | None
    is_spiral: bool
    name: str
    width: int
    height: int
    coordinates: tuple[float, float]
    mask: np.ndarray
    vertices: np.ndarray

    def __init__(self, index: int = 1, x: float = 0.5, y: float = 0.5,
                 spiral_width: float = 0.0340461221379181,
                 spiral_height: float = 0.0340461221379181,
                 spiral_size_in_microns: float | None = None, is_spiral: bool = True,
                 name: str | None = None, *, width: int = 512, height: int = 512):
        if not isinstance(index, numbers.Integral) or isinstance(index, bool) or index < 1:
            raise ValueError(f"index must be a 1-based int, got {index!r}")
        for label, value in (("x", x), ("y", y), ("spiral_width", spiral_width),
                             ("spiral_height", spiral_height)):
            if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not np.isfinite(value)):
                raise ValueError(f"{label} must be a finite number, got {value!r}")
        if spiral_width < 0 or spiral_height < 0:
            raise ValueError(f"spiral_width and spiral_height must be >= 0, got "
                             f"{spiral_width!r}, {spiral_height!r}")
        self.width, self.height = _image_size(width, height)
        self.index = int(index)
        self.x, self.y = float(x), float(y)
        self.spiral_width, self.spiral_height = float(spiral_width), float(spiral_height)
        self.spiral_size_in_microns = spiral_size_in_microns
        self.is_spiral = bool(is_spiral)
        self.name = name if name is not None else f"Point {self.index - 1}"
        self.coordinates = self.generate_coordinates(self.width, self.height)
        self.mask = self.generate_mask(self.width, self.height)
        self.vertices = self.generate_hull_vertices()

    @property
    def centroid(self) -> tuple[float, float]:
        """``(row, col)`` centre in pixels (the project's convention; :attr:`coordinates`
        reversed), as ``CalSciPy.roi_tools.ROI.centroid``."""
        col, row = self.coordinates
        return row, col

    @classmethod
    def from_point(cls, point: Point, width: int = 512, height: int = 512) -> ROI:
        """ROI of an acquisition-time ``<Point>``."""
        return cls(point.index, point.x, point.y, point.spiral_width, point.spiral_height,
                   point.spiral_size_in_microns, point.is_spiral, width=width, height=height)

    def generate_coordinates(self, width: int, height: int) -> tuple[float, float]:
        """Converts the normalized coordinates to image coordinates.

        Parameters
        ----------
        width, height
            Image size in pixels.

        Returns
        -------
        tuple of float
            ``(x, y)`` = ``(col, row)`` of the centre in pixels.
        """
        width, height = _image_size(width, height)
        return float(self.x * width - 0.5), float(self.y * height - 0.5)

    def generate_mask(self, width: int, height: int) -> np.ndarray:
        """Converts spiral center & radii to a coordinate mask.

        Returns
        -------
        numpy.ndarray
            ``(2, n)`` ``(rows, cols)`` (``y, x``) of the pixels strictly inside the spiral's
            ellipse, clipped to the image (see :func:`generate_photostimulation_mask`).
        """
        width, height = _image_size(width, height)
        col, row = self.generate_coordinates(width, height)
        if self.spiral_width == 0 or self.spiral_height == 0:
            return np.empty((2, 0), dtype=np.int64)
        radii = (self.spiral_height * height / 2, self.spiral_width * width / 2)
        return generate_photostimulation_mask((row, col), radii, (height, width))

    def generate_hull_vertices(self) -> np.ndarray:
        """Identifies the vertices of the convex-hull approximation of the mask.

        Returns
        -------
        numpy.ndarray
            ``(m, 2)`` ``(row, col)`` vertices, counter-clockwise; empty when the spiral lies
            outside the image.
        """
        mask = self.generate_mask(self.width, self.height)
        if mask.shape[1] == 0:
            return np.empty((0, 2), dtype=np.int64)
        return _hull(mask.T)

    def __repr__(self) -> str:
        return (f"ROI(index={self.index}, name={self.name!r}, x={self.x:.4g}, y={self.y:.4g}, "
                f"pixels={self.mask.shape[1]})")


def _fov_pair(fov_size: Any) -> tuple[int, int]:
    """``(height, width)`` of a validated ``fov_size`` (one int or a pair)."""
    if isinstance(fov_size, numbers.Integral):
        return int(fov_size), int(fov_size)
    height, width = (int(v) for v in fov_size)
    return height, width


def _image_size(width: Any, height: Any) -> tuple[int, int]:
    for label, value in (("width", width), ("height", height)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{label} must be a positive int (pixels), got {value!r}")
    return int(width), int(height)


@dataclass
class Group:
    """ROIs stimulated together by one galvo element of one mark.

    Attributes
    ----------
    name : str
        Point or group name in the galvo point list (``Points``; empty for inline points).
    indices : tuple of int
        0-based indices of the stimulated points (empty for inline points).
    rois : tuple of ROI
        The stimulated targets (empty when the file holds no coordinates and no galvo point
        list was given).
    mark : MarkPointElement
        The mark (repetitions, laser power…).
    element : GalvoPointElement
        The galvo element (delays, duration, spiral revolutions…).
    """

    name: str
    indices: tuple[int, ...]
    rois: tuple[ROI, ...]
    mark: MarkPointElement
    element: GalvoPointElement

    @property
    def uncaging_laser_power(self) -> float:
        """Laser power (PrairieView's 0–1000 scale)."""
        return self.mark.uncaging_laser_power

    @property
    def duration(self) -> float:
        """Stimulation duration per point, ms."""
        return self.element.duration

    @property
    def repetitions(self) -> int:
        """Repetitions of the mark."""
        return self.mark.repetitions


class PhotostimulationMeta(BrukerMeta):
    """Photostimulation metadata: the MarkPoints series, its groups and ROIs.

    Parameters
    ----------
    root
        Parsed MarkPoints XML (``ElementTree`` / root ``Element`` of a saved series or an
        acquisition-time MarkPoints file), or a :class:`MarkPointSeriesElements`.
    factory
        :class:`~CalSciPy.bruker.factories.BrukerElementFactory` (``None``: PrairieView
        5.5.64.600).
    width, height
        Field of view in pixels.
    galvo_point_list
        The series' galvo point list, when known (needed to write a protocol from a saved
        series, and with ``voltage_range`` to locate its ROIs).
    voltage_range
        Galvo volts at the field-of-view edges, ``(v_min, v_max)`` or
        ``((x_min, x_max), (y_min, y_max))`` (see
        :func:`~CalSciPy.bruker.mark_points.build_protocol`).

    Attributes
    ----------
    series : MarkPointSeriesElements
    groups : tuple of Group
        One per galvo element of every mark, in order.
    rois : tuple of ROI
        Every located target once, by index.
    """

    def __init__(self, root: Element | ElementTree | MarkPointSeriesElements, factory: object,
                 width: int = 512, height: int = 512, *,
                 galvo_point_list: GalvoPointList | None = None,
                 voltage_range: Sequence | None = None):
        self.width, self.height = _image_size(width, height)
        if galvo_point_list is not None and not isinstance(galvo_point_list, GalvoPointList):
            raise TypeError("galvo_point_list must be a GalvoPointList, not "
                            f"{type(galvo_point_list).__name__}")
        self.galvo_point_list = galvo_point_list
        self.voltage_range = None if voltage_range is None else _volts(voltage_range)
        super().__init__(root, factory if factory is not None else BrukerElementFactory())

    def _build_meta(self, root: Any, factory: Any) -> None:
        if isinstance(root, MarkPointSeriesElements):
            series = root
        else:
            if not hasattr(factory, "constructor"):
                raise TypeError(f"factory must be a BrukerElementFactory, not "
                                f"{type(factory).__name__}")
            series = factory.constructor(root)
            if not isinstance(series, MarkPointSeriesElements):
                raise DataFormatError(
                    f"expected a MarkPoints series, got <{getattr(root, 'tag', root)}> "
                    f"({type(series).__name__})")
        self.series = series
        from_list = self._rois_from_list()
        groups: list[Group] = []
        rois: dict[int, ROI] = {}
        for m, mark in enumerate(series.marks):
            for e, element in enumerate(mark.points):
                if element.point_elements:
                    members = [self._roi_of_point(point, f"marks[{m}].points[{e}]")
                               for point in element.point_elements]
                    name, indices = element.points or "", element.indices or ()
                elif element.previous_points is not None:
                    # repeats the points of the latest earlier element of that name
                    earlier = [g for g in groups if g.name == element.previous_points]
                    if earlier:
                        name, indices = element.previous_points, earlier[-1].indices
                        members = list(earlier[-1].rois)
                    else:
                        name, indices = element.previous_points, self._list_indices(
                            element.previous_points)
                        members = [from_list[i] for i in indices if i in from_list]
                else:
                    name, indices = element.points or "", element.indices or ()
                    members = [from_list[i] for i in indices if i in from_list]
                for roi in members:
                    rois.setdefault(roi.index, roi)
                groups.append(Group(name, tuple(indices), tuple(members), mark, element))
        self.groups = tuple(groups)
        self.rois = tuple(rois[i] for i in sorted(rois))

    def _roi_of_point(self, point: Point, where: str) -> ROI:
        """ROI of a ``<Point>``; a spiral wider than the field of view is a format error."""
        for label, value in (("SpiralWidth", point.spiral_width),
                             ("SpiralHeight", point.spiral_height)):
            if value > 1:
                raise DataFormatError(
                    f"{where} <Point Index=\"{point.index}\">: {label}={value!r} is larger than "
                    "the field of view (a fraction of it, at most 1)")
        return ROI.from_point(point, self.width, self.height)

    def _list_indices(self, name: str) -> tuple[int, ...]:
        if self.galvo_point_list is None:
            return ()
        try:
            item = self.galvo_point_list.find(name)
        except KeyError:
            return ()
        return tuple(item.indices) if isinstance(item, GalvoPointGroup) else (item.index,)

    def _rois_from_list(self) -> dict[int, ROI]:
        """ROIs of the galvo point list's points (0-based index → ROI), given volts."""
        if self.galvo_point_list is None or self.voltage_range is None:
            return {}
        (x_min, x_max), (y_min, y_max) = self.voltage_range
        out = {}
        for point in self.galvo_point_list.galvo_points:
            size = point.spiral_size / abs(x_max - x_min)
            if size > 1:
                raise DataFormatError(
                    f"galvo point list <PVGalvoPoint Name={point.name!r}>: SpiralSize="
                    f"{point.spiral_size!r} V is larger than the field of view "
                    f"({abs(x_max - x_min)!r} V across)")
            out[point.index] = ROI(
                point.index + 1, (point.x - x_min) / (x_max - x_min),
                (point.y - y_min) / (y_max - y_min), size, size * self.width / self.height,
                is_spiral=point.is_spiral, name=point.name, width=self.width,
                height=self.height)
        return out

    @classmethod
    def from_targets(cls, targets: Sequence | np.ndarray, fov_size: int | Sequence[int],
                     voltage_range: Sequence, *, version: str = DEFAULT_VERSION,
                     **parameters: Any) -> PhotostimulationMeta:
        """Design a protocol from target centres in pixels (see :func:`build_protocol`).

        Parameters
        ----------
        targets
            ``(n, 2)`` ``(row, col)`` target centres in pixels.
        fov_size
            ``(height, width)`` in pixels, or one int.
        voltage_range
            Galvo volts at the field-of-view edges.
        version
            PrairieView version.
        **parameters
            Keyword arguments of :func:`build_protocol` (``groups``, ``laser_power``,
            ``duration``, ``spiral_size``, ``repetitions``…).
        """
        gpl, series = build_protocol(targets, fov_size, voltage_range, **parameters)
        height, width = _fov_pair(fov_size)
        return cls(series, BrukerElementFactory(version), int(width), int(height),
                   galvo_point_list=gpl, voltage_range=voltage_range)

    @classmethod
    def from_rois(cls, rois: Iterable[Any], voltage_range: Sequence, *,
                  fov_size: int | Sequence[int] | None = None,
                  groups: Sequence[Sequence[Any]] | None = None,
                  version: str = DEFAULT_VERSION, **parameters: Any) -> PhotostimulationMeta:
        """Design a protocol that stimulates ROIs at their centroids, points named by ROI id.

        Parameters
        ----------
        rois
            A ``CalSciPy.roi_tools.ROISet`` (whose ``shape`` gives the field of view), or any
            iterable of objects with ``.id`` and ``.centroid`` (``(row, col)`` pixels), e.g.
            ``CalSciPy.roi_tools.ROI`` or this module's :class:`ROI`; ids must be unique.
        voltage_range
            Galvo volts at the field-of-view edges (see :func:`build_protocol`).
        fov_size
            ``(height, width)`` in pixels, or one int; default ``rois.shape``.
        groups
            ``None``: one mark per ROI. Otherwise groups of ROI *ids* stimulated together.
        version
            PrairieView version.
        **parameters
            Other keyword arguments of :func:`build_protocol` (``laser_power``,
            ``duration``, ``spiral_size``, ``repetitions``...).

        Returns
        -------
        PhotostimulationMeta
            Its galvo point list names point ``i`` ``"ROI <id>"`` (the ids in iteration order);
            :meth:`generate_protocol` writes it.

        Raises
        ------
        InvalidArgumentError
            No ROIs, duplicate ids, non-finite centroids, no field of view, or a group naming
            an id that is not among the ROIs.
        TypeError
            An item without ``id``/``centroid``.
        """
        if "names" in parameters or "targets" in parameters:
            raise TypeError("from_rois names the points after the ROI ids itself; "
                            "use build_protocol for other names")
        if fov_size is None:
            fov_size = getattr(rois, "shape", None)
            if fov_size is None:
                raise InvalidArgumentError(
                    "fov_size: needed when the ROIs carry no image shape (pass "
                    "fov_size=(height, width) in pixels)")
            fov_size = tuple(int(v) for v in fov_size)[-2:]
        items = list(rois)
        if not items:
            raise InvalidArgumentError("rois: no ROIs to stimulate")
        ids: list[Any] = []
        centres = np.empty((len(items), 2), dtype=float)
        for i, roi in enumerate(items):
            if not hasattr(roi, "id") or not hasattr(roi, "centroid"):
                raise TypeError(f"rois[{i}]: expected an ROI with .id and .centroid "
                                f"(row, col), got {type(roi).__name__}")
            try:
                centres[i] = np.asarray(roi.centroid, dtype=float).reshape(2)
            except (TypeError, ValueError) as err:
                raise InvalidArgumentError(
                    f"rois[{i}] (id {roi.id!r}): centroid {roi.centroid!r} is not a "
                    "(row, col) pair") from err
            if not np.all(np.isfinite(centres[i])):
                raise InvalidArgumentError(
                    f"rois[{i}] (id {roi.id!r}): centroid {roi.centroid!r} is not finite")
            ids.append(roi.id)
        keys = [str(i) for i in ids]
        if len(set(keys)) != len(keys):
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            raise InvalidArgumentError(f"rois: ids must be unique, repeated: {repeated}")
        target_groups = None
        if groups is not None:
            position = {key: i for i, key in enumerate(keys)}
            target_groups = []
            for k, members in enumerate(groups):
                missing = [m for m in members if str(m) not in position]
                if missing:
                    raise InvalidArgumentError(
                        f"groups[{k}]: ROI ids {missing} are not among the ROIs")
                target_groups.append([position[str(m)] for m in members])
        gpl, series = build_protocol(centres, fov_size, voltage_range, groups=target_groups,
                                     names=[f"ROI {key}" for key in keys], **parameters)
        height, width = _fov_pair(fov_size)
        return cls(series, BrukerElementFactory(version), int(width), int(height),
                   galvo_point_list=gpl, voltage_range=voltage_range)

    def protocol(self) -> Protocol:
        """``(galvo_point_list, series)`` ready to write: the series in saved form.

        For an acquisition-time file without a galvo point list, the list is derived from the
        ``<Point>`` positions, which needs ``voltage_range``.
        """
        series = saved_form(self.series)
        if self.galvo_point_list is not None:
            return Protocol(self.galvo_point_list, series)
        if not self.rois:
            raise ValueError(
                "cannot write a protocol: the series holds no point positions and no "
                "galvo_point_list was given")
        if self.voltage_range is None:
            raise ValueError(
                "cannot write a galvo point list from normalised positions without "
                "voltage_range (galvo volts at the field-of-view edges)")
        return Protocol(self._derive_point_list(), series)

    def _derive_point_list(self) -> GalvoPointList:
        (x_min, x_max), (y_min, y_max) = self.voltage_range  # type: ignore[misc]
        names: dict[int, str] = {}
        settings: dict[int, tuple[MarkPointElement, GalvoPointElement]] = {}
        group_defs: dict[str, tuple[tuple[int, ...], MarkPointElement, GalvoPointElement]] = {}
        for group in self.groups:
            if not group.indices:  # inline point: not part of the list
                continue
            for i in group.indices:
                settings.setdefault(i, (group.mark, group.element))
            if len(group.indices) == 1:
                names.setdefault(group.indices[0], group.name)
            else:
                group_defs.setdefault(group.name, (group.indices, group.mark, group.element))
        points = []
        for roi in self.rois:
            i = roi.index - 1
            mark, element = settings[i]
            points.append(GalvoPoint(
                x=x_min + roi.x * (x_max - x_min), y=y_min + roi.y * (y_max - y_min),
                name=names.get(i, f"Point {i}"), index=i,
                uncaging_laser=mark.uncaging_laser,
                uncaging_laser_power=mark.uncaging_laser_power, duration=element.duration,
                is_spiral=roi.is_spiral, spiral_size=roi.spiral_width * abs(x_max - x_min),
                spiral_revolutions=element.spiral_revolutions))
        groups = tuple(
            GalvoPointGroup(indices=indices, name=name, index=len(points),
                            uncaging_laser=mark.uncaging_laser,
                            uncaging_laser_power=mark.uncaging_laser_power,
                            duration=element.duration,
                            spiral_size=points[0].spiral_size if points else 0.0,
                            spiral_revolutions=element.spiral_revolutions)
            for name, (indices, mark, element) in group_defs.items())
        return GalvoPointList(galvo_points=tuple(points), groups=groups)

    def generate_protocol(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Generates a protocol for the metadata to be imported into PrairieView.

        Writes the saved series ``<path>.xml`` and its galvo point list ``<path>.gpl``
        (``path`` may end in ``.xml``/``.gpl`` or have no such suffix), atomically; existing
        files are only replaced with ``overwrite=True``.

        Parameters
        ----------
        path
            Path to write the protocol to.
        overwrite
            Replace existing files.
        """
        gpl, series = self.protocol()
        version = getattr(self.factory, "version", DEFAULT_VERSION)
        write_protocol_pair(series, gpl, as_path(path), overwrite=overwrite, version=version)

    def __repr__(self) -> str:
        return (f"PhotostimulationMeta(marks={len(self.series.marks)}, "
                f"groups={len(self.groups)}, rois={len(self.rois)}, "
                f"fov={self.height}x{self.width})")


def _volts(voltage_range: Sequence) -> tuple[tuple[float, float], tuple[float, float]]:
    array = np.asarray(voltage_range, dtype=float)
    if array.shape == (2,):
        array = np.stack([array, array])
    if array.shape != (2, 2) or not np.all(np.isfinite(array)) or np.any(
            array[:, 0] == array[:, 1]):
        raise ValueError("voltage_range must be (v_min, v_max) or ((x_min, x_max), "
                         f"(y_min, y_max)) with distinct finite volts, got {voltage_range!r}")
    return (float(array[0, 0]), float(array[0, 1])), (float(array[1, 0]), float(array[1, 1]))



def read_mark_points_xml(file_path: str | os.PathLike, version: str = DEFAULT_VERSION, *,
                         width: int = 512, height: int = 512,
                         galvo_point_list: GalvoPointList | None = None,
                         voltage_range: Sequence | None = None) -> PhotostimulationMeta:
    """Read a MarkPoints XML file into a :class:`PhotostimulationMeta`.

    Also available as :func:`CalSciPy.bruker.xml_load.read_mark_points_xml`.

    Parameters
    ----------
    file_path
        Saved series ``.xml`` or acquisition-time MarkPoints ``.xml``.
    version
        PrairieView version.
    width, height
        Size of the imaging field of view in pixels (for ROI coordinates and masks).
    galvo_point_list, voltage_range
        Optional galvo point list (and the galvo volts at the field-of-view edges) used to
        locate the ROIs of a saved series, whose file holds no coordinates.

    Returns
    -------
    PhotostimulationMeta
        Photostimulation metadata.

    Raises
    ------
    FileNotFoundError, DataFormatError
        As :func:`~CalSciPy.bruker.xml_load.read_saved_mark_points`; also a ``<Point>`` whose
        spiral is wider or taller than the field of view (checked before any mask is
        allocated; the message names the file and the element).
    """
    series = read_saved_mark_points(file_path, version, galvo_point_list=galvo_point_list)
    try:
        return PhotostimulationMeta(series, BrukerElementFactory(version), width, height,
                                    galvo_point_list=galvo_point_list,
                                    voltage_range=voltage_range)
    except DataFormatError as err:
        raise DataFormatError(f"{file_path}: {err}") from err
