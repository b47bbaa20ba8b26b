"""Reading, building and writing PrairieView photostimulation protocols.

Public entry points are re-exported by :mod:`CalSciPy.bruker.xml_load` (readers) and
:mod:`CalSciPy.bruker.mark_points` (builder and writers). This module never imports
:mod:`~CalSciPy.bruker.mark_points`: reading a file into a ``PhotostimulationMeta``
(``read_mark_points_xml``) lives next to that class.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from CalSciPy._atomic import atomic_write
from CalSciPy._checks import as_path
from CalSciPy.bruker._xml import parse_xml
from CalSciPy.bruker.configuration_values import DEFAULT_PRAIRIEVIEW_VERSION
from CalSciPy.bruker.factories import BrukerElementFactory, BrukerXMLFactory
from CalSciPy.bruker.validation import DingusException, DingusLogger
from CalSciPy.bruker.xml_objects import (
    GalvoPoint,
    GalvoPointElement,
    GalvoPointGroup,
    GalvoPointList,
    MarkPointElement,
    MarkPointSeriesElements,
    _BrukerObject,
)
from CalSciPy.errors import DataFormatError

__all__ = [
    "Protocol",
    "build_protocol",
    "check_protocol",
    "read_galvo_point_list",
    "read_saved_mark_points",
    "write_protocol",
    "write_protocol_pair",
]

DEFAULT_VERSION = DEFAULT_PRAIRIEVIEW_VERSION
_BOM = b"\xef\xbb\xbf"


# ---------------------------------------------------------------------------------------------
# reading
def _read(file_path: str | os.PathLike, version: str, cls: type) -> object:
    path = as_path(file_path, "file_path")
    factory = BrukerElementFactory(version)
    roots = tuple(tag for tag, mapped in factory.element_class_mapping.items() if mapped is cls)
    root = parse_xml(path, expected_root=roots)
    try:
        return factory.constructor(root)
    except DataFormatError as err:
        raise DataFormatError(f"{path}: {err}") from err


def read_saved_mark_points(file_path: str | os.PathLike, version: str = DEFAULT_VERSION, *,
                           galvo_point_list: GalvoPointList | None = None
                           ) -> MarkPointSeriesElements:
    """Read a MarkPoints series: a saved series ``.xml`` or an acquisition-time MarkPoints XML.

    Parameters
    ----------
    file_path
        ``<PVSavedMarkPointSeriesElements>`` or ``<PVMarkPointSeriesElements>`` file
        (UTF-8, BOM accepted).
    version
        PrairieView version (selects the XML mapping).
    galvo_point_list
        When given, check that every mark names a point/group of this list and that its
        ``Indices`` refer to points that exist (:func:`check_protocol`).

    Returns
    -------
    MarkPointSeriesElements
        The series with its marks and galvo point elements (``Indices`` as 0-based tuples).

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing file, malformed/unsafe XML, wrong root element, missing required attribute,
        malformed ``Indices`` or invalid values (the message names the file).
    ValueError
        Indices that refer to points missing from ``galvo_point_list``.
    """
    series = _read(file_path, version, MarkPointSeriesElements)
    assert isinstance(series, MarkPointSeriesElements)  # the root tags of that class only
    if galvo_point_list is not None:
        check_protocol(series, galvo_point_list)
    return series


def read_galvo_point_list(file_path: str | os.PathLike, version: str = DEFAULT_VERSION
                          ) -> GalvoPointList:
    """Read a PrairieView galvo point list (``.gpl``) with its points and groups.

    Raises
    ------
    FileNotFoundError, DataFormatError
        As :func:`read_saved_mark_points`; also groups naming points that do not exist.
    """
    return _read(file_path, version, GalvoPointList)  # type: ignore[return-value]


def check_protocol(series: MarkPointSeriesElements, galvo_point_list: GalvoPointList) -> None:
    """Check that a series and a galvo point list fit together.

    Every galvo element must name a point or group of the list (``points``), and its
    ``indices`` must be the indices of existing points: that point's own index, or the
    group's members.

    Raises
    ------
    ValueError
        Listing every mismatch.
    """
    if not isinstance(series, MarkPointSeriesElements):
        raise TypeError(f"series must be MarkPointSeriesElements, not {type(series).__name__}")
    if not isinstance(galvo_point_list, GalvoPointList):
        raise TypeError("galvo_point_list must be GalvoPointList, not "
                        f"{type(galvo_point_list).__name__}")
    points = {p.index for p in galvo_point_list.galvo_points}
    items: tuple[GalvoPoint | GalvoPointGroup, ...] = (*galvo_point_list.galvo_points,
                                                       *galvo_point_list.groups)
    named = {item.name: item for item in items}
    problems = []
    for m, mark in enumerate(series.marks):
        for e, element in enumerate(mark.points):
            where = f"marks[{m}].points[{e}] ({element.points!r})"
            if element.indices is None:  # inline X/Y point: nothing to look up
                continue
            missing = sorted(set(element.indices) - points)
            if missing:
                problems.append(
                    f"{where}: Indices refer to points that do not exist: 1-based "
                    f"{[i + 1 for i in missing]} (the list has {len(points)} points)")
            target = named.get(element.points) if element.points is not None else None
            if target is None:
                problems.append(f"{where}: no point or group of that name in the list")
                continue
            expected = target.indices if isinstance(target, GalvoPointGroup) else (target.index,)
            if not missing and tuple(element.indices) != tuple(expected):
                problems.append(
                    f"{where}: Indices (1-based) {[i + 1 for i in element.indices]} differ "
                    f"from the list's {[i + 1 for i in expected]}")
    if problems:
        raise ValueError("protocol does not match its galvo point list:\n  - "
                         + "\n  - ".join(problems))


# ---------------------------------------------------------------------------------------------
# writing
def _xml_bytes(obj: _BrukerObject, version: str) -> bytes:
    return _BOM + "".join(BrukerXMLFactory(version).constructor(obj)).encode("utf-8")


def write_protocol(obj: MarkPointSeriesElements | GalvoPointList, path: str | os.PathLike, *,
                   overwrite: bool = False, version: str = DEFAULT_VERSION) -> Path:
    """Write a protocol object as a PrairieView XML file (series ``.xml`` or ``.gpl``).

    The text is ``"".join(BrukerXMLFactory(version).constructor(obj))``, encoded as UTF-8
    with a byte-order mark as PrairieView writes it; the file appears atomically.

    Parameters
    ----------
    obj
        Any protocol object (usually a series or a galvo point list).
    path
        Destination file.
    overwrite
        Replace an existing file (refused by default).
    version
        PrairieView version.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = as_path(path)
    data = _xml_bytes(obj, version)
    with atomic_write(path, overwrite=overwrite) as handle:
        handle.write(data)
    return path


def write_protocol_pair(series: MarkPointSeriesElements, galvo_point_list: GalvoPointList,
                        path: str | os.PathLike, *, overwrite: bool = False,
                        version: str = DEFAULT_VERSION) -> tuple[Path, Path]:
    """Write a series ``<path>.xml`` and its galvo point list ``<path>.gpl``.

    ``path`` may end in ``.xml`` or ``.gpl`` (replaced) or have no such suffix. The pair is
    checked with :func:`check_protocol`, and neither file is written if either exists (unless
    ``overwrite``) or the pair does not fit together.

    Returns
    -------
    tuple of pathlib.Path
        ``(series_path, gpl_path)``.
    """
    path = as_path(path)
    base = path.with_suffix("") if path.suffix.lower() in (".xml", ".gpl") else path
    xml_path = base.with_name(base.name + ".xml")
    gpl_path = base.with_name(base.name + ".gpl")
    check_protocol(series, galvo_point_list)
    if not overwrite:
        for target in (xml_path, gpl_path):
            if target.exists():
                raise FileExistsError(f"{target} already exists; pass overwrite=True")
    payloads = [(gpl_path, _xml_bytes(galvo_point_list, version)),
                (xml_path, _xml_bytes(series, version))]
    for target, data in payloads:
        with atomic_write(target, overwrite=overwrite) as handle:
            handle.write(data)
    return xml_path, gpl_path


# ---------------------------------------------------------------------------------------------
# building
class Protocol(NamedTuple):
    """A galvo point list and the series that stimulates its points."""

    galvo_point_list: GalvoPointList
    series: MarkPointSeriesElements


def _axis_ranges(voltage_range: Sequence, logger: DingusLogger
                 ) -> tuple[tuple[float, float], tuple[float, float]] | None:
    try:
        array = np.asarray(voltage_range, dtype=float)
    except (TypeError, ValueError):
        array = None
    if array is not None and array.shape == (2,):
        array = np.stack([array, array])
    if array is None or array.shape != (2, 2):
        logger.add_exception(DingusException(
            "voltage_range: expected (v_min, v_max) or ((x_min, x_max), (y_min, y_max)) in "
            f"galvo volts, got {voltage_range!r}"))
        return None
    if not np.all(np.isfinite(array)) or np.any(array[:, 0] == array[:, 1]):
        logger.add_exception(DingusException(
            f"voltage_range: needs finite, distinct minimum and maximum volts, got "
            f"{array.tolist()}"))
        return None
    return (float(array[0, 0]), float(array[0, 1])), (float(array[1, 0]), float(array[1, 1]))


def _fov(fov_size: int | Sequence[int], logger: DingusLogger) -> tuple[int, int] | None:
    sizes = (fov_size, fov_size) if isinstance(fov_size, numbers.Integral) else fov_size
    try:
        height, width = sizes  # type: ignore[misc]
    except (TypeError, ValueError):
        height = width = None
    ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
             and int(v) > 0 for v in (height, width))
    if not ok:
        logger.add_exception(DingusException(
            f"fov_size: expected a positive int or (height, width) in pixels, got {fov_size!r}"))
        return None
    return int(height), int(width)  # type: ignore[arg-type]


def _check_number(logger: DingusLogger, name: str, value: object, low: float,
                  high: float | None, units: str, integer: bool = False) -> None:
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        logger.add_exception(DingusException(
            f"{name}: expected {'an int' if integer else 'a number'}, got {value!r}"))
        return
    span = f"{low} to {high}" if high is not None else f">= {low}"
    number = float(value)
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        logger.add_exception(DingusException(
            f"{name}={value!r} is outside the allowed range {span}{units}"))


def build_protocol(targets: Sequence | np.ndarray, fov_size: int | Sequence[int],
                   voltage_range: Sequence, *, groups: Sequence[Sequence[int]] | None = None,
                   spiral_size: float = 10.0, spiral_revolutions: float = 5.0,
                   duration: float = 100.0, laser_power: float = 0.0, repetitions: int = 1,
                   iterations: int = 1, iteration_delay: float = 0.0,
                   initial_delay: float = 0.0, inter_point_delay: float = 0.12,
                   all_points_at_once: bool = False, z: float = 0.0,
                   uncaging_laser: str = "Uncaging",
                   names: Sequence[str] | None = None) -> Protocol:
    """Build a galvo point list and a MarkPoints series from target centres in pixels.

    Pixel coordinates are array indices (pixel ``i`` spans ``i - 0.5`` to ``i + 0.5``); the
    field of view's left/top edge sits at the first volts of ``voltage_range`` and its
    right/bottom edge at the second (give a reversed pair to flip an axis). Galvo volts are
    ``v_min + (pixel + 0.5) / size * (v_max - v_min)``.

    Parameters
    ----------
    targets
        ``(n, 2)`` target centres as ``(row, col)`` pixels, e.g. ROI centroids.
    fov_size
        Field of view in pixels, ``(height, width)`` or one int for a square.
    voltage_range
        Galvo volts at the field-of-view edges: ``(v_min, v_max)`` for both axes or
        ``((x_min, x_max), (y_min, y_max))``.
    groups
        ``None``: one mark per target, stimulated alone. Otherwise a sequence of groups of
        0-based target indices: the list gets ``Group 1``, ``Group 2``… and the series one mark
        per group.
    spiral_size
        Spiral diameter in pixels (converted to the volts of the x axis), > 0.
    spiral_revolutions
        Revolutions per spiral, >= 0.
    duration
        Stimulation duration per point, ms, >= 0.
    laser_power
        Uncaging laser power on PrairieView's 0–1000 scale.
    repetitions
        Repetitions of each mark, >= 1.
    iterations, iteration_delay
        Iterations of the whole series (>= 1) and the delay between them (ms, >= 0).
    initial_delay, inter_point_delay
        Delay before each mark and between its points, ms, >= 0.
    all_points_at_once
        Stimulate a group's points simultaneously.
    z
        Focus position written to the galvo points, µm.
    uncaging_laser
        Laser name as configured in PrairieView.
    names
        Point names, one per target, unique and non-empty (default ``"Point <i>"``).

    Returns
    -------
    Protocol
        ``(galvo_point_list, series)``.

    Raises
    ------
    DingusException
        (A ``ValueError`` and ``TypeError``) listing every invalid argument with its allowed
        range, e.g. a power above 1000, a negative duration or a target outside the field of
        view.
    """
    logger = DingusLogger()
    fov = _fov(fov_size, logger)
    axes = _axis_ranges(voltage_range, logger)
    try:
        centres = np.array(targets, dtype=float, copy=True)
    except (TypeError, ValueError):
        centres = None
    if centres is not None and centres.ndim == 1 and centres.size == 2:
        centres = centres[np.newaxis]
    if centres is None or centres.ndim != 2 or centres.shape[1] != 2 or len(centres) == 0:
        logger.add_exception(DingusException(
            f"targets: expected (n, 2) (row, col) pixel centres with n >= 1, got "
            f"{np.shape(targets) if centres is not None else type(targets).__name__}"))
        centres = None
    elif fov is not None:
        for i, (row, col) in enumerate(centres):
            for label, value, size in (("row", float(row), fov[0]), ("col", float(col), fov[1])):
                if not math.isfinite(value) or not -0.5 <= value <= size - 0.5:
                    logger.add_exception(DingusException(
                        f"targets[{i}] {label}={value!r} is outside the field of view: "
                        f"allowed range -0.5 to {size - 0.5} pixels (fov_size {fov})"))
    _check_number(logger, "laser_power", laser_power, 0, 1000, " (PrairieView power scale)")
    _check_number(logger, "duration", duration, 0, None, " ms")
    _check_number(logger, "spiral_revolutions", spiral_revolutions, 0, None, "")
    _check_number(logger, "iteration_delay", iteration_delay, 0, None, " ms")
    _check_number(logger, "initial_delay", initial_delay, 0, None, " ms")
    _check_number(logger, "inter_point_delay", inter_point_delay, 0, None, " ms")
    _check_number(logger, "repetitions", repetitions, 1, None, "", integer=True)
    _check_number(logger, "iterations", iterations, 1, None, "", integer=True)
    if isinstance(z, bool) or not isinstance(z, numbers.Real) or not math.isfinite(z):
        logger.add_exception(DingusException(f"z: expected a finite number of µm, got {z!r}"))
    if fov is not None:
        _check_number(logger, "spiral_size", spiral_size, 0, min(fov), " pixels")
        if isinstance(spiral_size, numbers.Real) and spiral_size == 0:
            logger.add_exception(DingusException("spiral_size: must be > 0 pixels"))
    if not isinstance(all_points_at_once, (bool, np.bool_)):
        logger.add_exception(DingusException(
            f"all_points_at_once: expected a bool, got {all_points_at_once!r}"))
    if not isinstance(uncaging_laser, str) or not uncaging_laser:
        logger.add_exception(DingusException(
            f"uncaging_laser: expected a non-empty str, got {uncaging_laser!r}"))
    point_names = None
    if names is not None:
        n = len(centres) if centres is not None else None
        if isinstance(names, str) or not isinstance(names, Sequence):
            logger.add_exception(DingusException(
                f"names: expected a sequence of str, one per target, got {names!r}"))
        else:
            point_names = list(names)
            if n is not None and len(point_names) != n:
                logger.add_exception(DingusException(
                    f"names: {len(point_names)} names for {n} targets"))
            if not all(isinstance(v, str) and v for v in point_names) or len(
                    set(point_names)) != len(point_names):
                logger.add_exception(DingusException(
                    f"names: must be unique, non-empty str, got {point_names!r}"))
    group_lists: list[tuple[int, ...]] = []
    if groups is not None:
        n = len(centres) if centres is not None else None
        if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups:
            logger.add_exception(DingusException(
                f"groups: expected a non-empty sequence of target-index sequences, got "
                f"{groups!r}"))
        else:
            for k, members in enumerate(groups):
                try:
                    indices = tuple(int(i) for i in members if not isinstance(i, bool))
                    valid = len(indices) == len(members) and all(
                        isinstance(i, numbers.Integral) for i in members)
                except (TypeError, ValueError):
                    indices, valid = (), False
                if not valid or not indices:
                    logger.add_exception(DingusException(
                        f"groups[{k}]: expected a non-empty sequence of int target indices, "
                        f"got {members!r}"))
                    continue
                bad = [i for i in indices if i < 0 or (n is not None and i >= n)]
                if bad:
                    logger.add_exception(DingusException(
                        f"groups[{k}]: target indices {bad} do not exist (allowed range 0 to "
                        f"{(n - 1) if n else 'n-1'})"))
                group_lists.append(indices)
    logger.raise_exceptions()
    assert fov is not None and axes is not None and centres is not None

    (x_min, x_max), (y_min, y_max) = axes
    height, width = fov
    volts_x = x_min + (centres[:, 1] + 0.5) / width * (x_max - x_min)
    volts_y = y_min + (centres[:, 0] + 0.5) / height * (y_max - y_min)
    spiral_volts = float(spiral_size) / width * abs(x_max - x_min)
    common: dict[str, Any] = {
        "uncaging_laser": uncaging_laser,
        "uncaging_laser_power": float(laser_power),
        "duration": float(duration),
        "is_spiral": True,
        "spiral_size": spiral_volts,
        "spiral_revolutions": float(spiral_revolutions),
        "z": float(z),
    }
    galvo_points = tuple(
        GalvoPoint(x=float(vx), y=float(vy),
                   name=point_names[i] if point_names else f"Point {i}", index=i, **common)
        for i, (vx, vy) in enumerate(zip(volts_x, volts_y))
    )
    point_groups = tuple(
        GalvoPointGroup(indices=members, name=f"Group {k + 1}", index=len(galvo_points),
                        **common)
        for k, members in enumerate(group_lists)
    )
    gpl = GalvoPointList(galvo_points=galvo_points, groups=point_groups)

    if group_lists:
        stimulated = [(f"Group {k + 1}", members) for k, members in enumerate(group_lists)]
    else:
        stimulated = [(point.name, (point.index,)) for point in galvo_points]
    marks = tuple(
        MarkPointElement(
            points=(GalvoPointElement(
                initial_delay=float(initial_delay), inter_point_delay=float(inter_point_delay),
                duration=float(duration), spiral_revolutions=float(spiral_revolutions),
                all_points_at_once=bool(all_points_at_once), points=name, indices=members),),
            repetitions=int(repetitions), uncaging_laser=uncaging_laser,
            uncaging_laser_power=float(laser_power), trigger_frequency="None",
            trigger_selection="None", trigger_count=1, async_sync_frequency="None",
            voltage_output_category_name="None", voltage_rec_category_name="None",
            parameter_set="CurrentSettings")
        for name, members in stimulated
    )
    series = MarkPointSeriesElements(marks=marks, iterations=int(iterations),
                                     iteration_delay=float(iteration_delay))
    return Protocol(gpl, series)


def saved_form(series: MarkPointSeriesElements) -> MarkPointSeriesElements:
    """The series without ``<Point>`` children, i.e. as a saved series PrairieView imports."""
    marks = tuple(
        dataclasses.replace(mark, points=tuple(
            dataclasses.replace(element, point_elements=()) for element in mark.points))
        for mark in series.marks)
    return dataclasses.replace(series, marks=marks)

