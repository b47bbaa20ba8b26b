"""Photostimulation (MarkPoints) metadata: targets as ROIs, groups, masks and protocol files.

Coordinates: pixel positions are array indices (``image[row, col]``; pixel ``i`` spans
``i - 0.5`` to ``i + 0.5``), so a normalised PrairieView position ``x`` (0 = left edge of the
field of view, 1 = right edge) is pixel ``x * width - 0.5``. Spiral widths/heights are
diameters as fractions of the field of view.

Typical use::

    from CalSciPy.bruker.mark_points import PhotostimulationMeta
    meta = PhotostimulationMeta.from_targets(centroids, fov_size=(512, 512),
                                             voltage_range=(-7.6, 7.6), laser_power=300)
    meta.generate_protocol("targets")   # writes targets.xml + targets.gpl
"""
from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ElementTree

import numpy as np

from CalSciPy._atomic import as_path
from CalSciPy.bruker._protocol_io import (
    DEFAULT_VERSION,
    Protocol,
    build_protocol,
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
from CalSciPy.errors import DataFormatError

__all__ = [
    "Group",
    "PhotostimulationMeta",
    "Protocol",
    "ROI",
    "build_protocol",
    "generate_photostimulation_mask",
    "write_protocol",
]


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
    rows = np.arange(np.floor(row0 - radius_row), np.ceil(row0 + radius_row) + 1, dtype=np.int64)
    cols = np.arange(np.floor(col0 - radius_col), np.ceil(col0 + radius_col) + 1, dtype=np.int64)
    rows = rows[rows >= 0]
    cols = cols[cols >= 0]
    if limits is not None:
        rows = rows[rows < limits[0]]
        cols = cols[cols < limits[1]]
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
        ``(x, y)`` centre in pixels.
    mask : numpy.ndarray
        ``(2, n)`` ``(rows, cols)`` of the pixels inside the spiral.
    vertices : numpy.ndarray
        ``(m, 2)`` ``(row, col)`` convex-hull vertices of the mask.
    """

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
        groups = []
        rois: dict[int, ROI] = {}
        for mark in series.marks:
            for element in mark.points:
                if element.point_elements:
                    members = [ROI.from_point(point, self.width, self.height)
                               for point in element.point_elements]
                else:
                    members = [from_list[i] for i in (element.indices or ()) if i in from_list]
                for roi in members:
                    rois.setdefault(roi.index, roi)
                groups.append(Group(element.points or "", element.indices or (),
                                    tuple(members), mark, element))
        self.groups = tuple(groups)
        self.rois = tuple(rois[i] for i in sorted(rois))

    def _rois_from_list(self) -> dict[int, ROI]:
        """ROIs of the galvo point list's points (0-based index → ROI), given volts."""
        if self.galvo_point_list is None or self.voltage_range is None:
            return {}
        (x_min, x_max), (y_min, y_max) = self.voltage_range
        out = {}
        for point in self.galvo_point_list.galvo_points:
            size = point.spiral_size / abs(x_max - x_min)
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
        height, width = (fov_size, fov_size) if isinstance(fov_size, numbers.Integral) \
            else tuple(int(v) for v in fov_size)
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

