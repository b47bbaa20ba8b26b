"""Dataclasses for PrairieView photostimulation protocols (MarkPoints series and galvo point lists).

Each class mirrors one PrairieView XML element; its fields are the element's attributes in
snake_case (``parameterSet`` → ``parameter_set``), in PrairieView's attribute order, followed by
its children. All classes take keyword arguments only, convert ints given for float fields to
floats and lists to tuples, and validate every field on construction and on each later
assignment, raising one :class:`~CalSciPy.bruker.validation.DingusException` that lists every
problem (an invalid assignment leaves the object unchanged).

Attributes PrairieView writes that this module does not know are kept in ``extra_attributes``
(name, text) pairs, and child elements it does not know in ``extra_elements``
(:class:`UnknownElement`, with their position among the children), so that reading and writing
a file never loses them: they are written back in place. An object read from a file also
remembers the file's attribute order and the text of each attribute, which the writer reuses
for every value that is still equal (so ``Indices="0,"`` or ``IterationDelay="0.00"`` come back
as written); both are ignored by ``==``.

========================  ==========================================  ===========================
class                     XML element                                 children
========================  ==========================================  ===========================
MarkPointSeriesElements   PVSavedMarkPointSeriesElements (saved .xml)  marks: MarkPointElement
                          or PVMarkPointSeriesElements (acquisition)
MarkPointElement          PVMarkPointElement                          points: GalvoPointElement
GalvoPointElement         PVGalvoPointElement                         point_elements: Point
Point                     Point (acquisition-time files only)
GalvoPointList            PVGalvoPointList (.gpl)                     galvo_points, groups
GalvoPoint                PVGalvoPoint
GalvoPointGroup           PVGalvoPointGroup
UnknownElement            any element the mapping does not know       children: UnknownElement
========================  ==========================================  ===========================

Units: times are milliseconds, ``GalvoPoint.x``/``y`` galvo volts (negative allowed), ``z`` µm,
``Point.x``/``y``/``spiral_width``/``spiral_height`` fractions of the field of view, laser powers
PrairieView's 0–1000 scale.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import numbers
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from CalSciPy.bruker.validation import DingusException, validate_fields

__all__ = [
    "GalvoPoint",
    "GalvoPointElement",
    "GalvoPointGroup",
    "GalvoPointList",
    "MarkPointElement",
    "MarkPointSeriesElements",
    "Point",
    "UnknownElement",
    "format_indices",
    "parse_indices",
]

_POWER = (0.0, 1000.0)
_NON_NEGATIVE = (0.0, None)
_MAX_INDICES = 1_000_000
_XML_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# ---------------------------------------------------------------------------------------------
# Indices
def parse_indices(text: str, *, one_based: bool = True) -> tuple[int, ...]:
    """Parse a PrairieView ``Indices`` attribute into a tuple of 0-based ints.

    Parameters
    ----------
    text
        ``"1"``, ``"1-30"``, ``"1, 3, 5, 7"`` or a mixture (``"1-3, 7"``); one trailing comma
        is allowed (PrairieView writes one-point groups as ``"0,"``).
    one_based
        Whether the text counts from 1 (MarkPoints series) or from 0 (``.gpl`` groups).

    Raises
    ------
    ValueError
        Empty text, a part that is not ``N`` or ``N-M``, a descending range (``"3-1"``),
        index 0 in a 1-based list, or more than a million indices.
    """
    if not isinstance(text, str):
        raise TypeError(f"Indices must be text, not {type(text).__name__}")
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > 1 and not parts[-1]:  # one trailing comma: "0,"
        parts.pop()
    if not text.strip() or any(not part for part in parts):
        raise ValueError(f"malformed Indices {text!r}: empty entry")
    first = 1 if one_based else 0
    out: list[int] = []
    for part in parts:
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if match is None:
            raise ValueError(
                f"malformed Indices {text!r}: {part!r} is not a number N or a range N-M"
            )
        start = int(match.group(1))
        stop = int(match.group(2)) if match.group(2) is not None else start
        if stop < start:
            raise ValueError(f"malformed Indices {text!r}: range {part!r} runs backwards")
        if start < first:
            raise ValueError(
                f"malformed Indices {text!r}: {start} is below the first index {first}"
            )
        if len(out) + stop - start + 1 > _MAX_INDICES:
            raise ValueError(f"Indices {text!r} lists more than {_MAX_INDICES} points")
        out.extend(range(start - first, stop - first + 1))
    return tuple(out)


def format_indices(indices: tuple[int, ...], *, one_based: bool = True,
                   compact: bool = True) -> str:
    """Write 0-based ``indices`` as a PrairieView ``Indices`` attribute.

    Parameters
    ----------
    indices
        0-based indices.
    one_based
        Write counting from 1 (MarkPoints series) instead of 0 (``.gpl`` groups).
    compact
        Series style: runs of consecutive indices as ``N-M`` and items joined by ``", "``
        (``"1-30"``, ``"1, 3, 5, 7"``); otherwise ``.gpl`` style, every index joined by ``","``.
    """
    shift = 1 if one_based else 0
    values = [int(i) + shift for i in indices]
    if not compact:
        return ",".join(str(v) for v in values)
    items: list[str] = []
    start = 0
    while start < len(values):
        stop = start
        while stop + 1 < len(values) and values[stop + 1] == values[stop] + 1:
            stop += 1
        if stop > start:
            items.append(f"{values[start]}-{values[stop]}")
        else:
            items.append(str(values[start]))
        start = stop + 1
    return ", ".join(items)


# ---------------------------------------------------------------------------------------------
# field helpers
def _attr(xml: str, default: Any = dataclasses.MISSING, *, doc: str = "",
          bounds: tuple | None = None, units: str = "", required: bool = False,
          fmt: str | None = None, indices: str | None = None,
          absent_is_none: bool = False) -> Any:
    """A dataclass field mapped to XML attribute ``xml``.

    ``absent_is_none``: when reading, a missing attribute gives ``None`` (not written back)
    instead of the default.
    """
    metadata: dict[str, Any] = {"xml": xml, "doc": doc, "required": required,
                                "absent_is_none": absent_is_none}
    if bounds is not None:
        metadata["range"] = bounds
    if units:
        metadata["units"] = units
    if fmt is not None:
        metadata["fmt"] = fmt
    if indices is not None:
        metadata["indices"] = indices
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def _children(default: Any = dataclasses.MISSING, *, doc: str = "") -> Any:
    metadata = {"children": True, "doc": doc}
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def _extra() -> Any:
    return field(default=(), metadata={
        "extra": True,
        "doc": "(name, text) pairs of XML attributes this version does not know; written back",
    })


def _extra_elements() -> Any:
    return field(default=(), metadata={
        "extra_elements": True,
        "doc": "child elements this version does not know (UnknownElement); written back in place",
    })


def _kind(annotation: Any) -> str:
    """Coarse kind of a (string) field annotation, used to pick the conversion."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    text = text.replace(" ", "")
    if text in ("float|None", "None|float"):
        return "opt_float"
    if text in ("bool|None", "None|bool"):
        return "opt_bool"
    if text.startswith("tuple[") and text.endswith("]|None"):
        return "opt_tuple"
    if text.startswith("tuple["):
        return "tuple"
    return text if text in ("float", "int", "bool", "str") else "other"


def _coerce(kind: str, metadata: Any, value: Any) -> Any:
    """Convert harmless representations (ints for floats, lists for tuples, numpy scalars)."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if kind in ("float", "opt_float") and is_number:
        return float(value)
    if kind == "int" and isinstance(value, numbers.Integral) and not isinstance(
            value, (bool, np.bool_)):
        return int(value)
    if kind in ("bool", "opt_bool") and isinstance(value, np.bool_):
        return bool(value)
    if kind in ("tuple", "opt_tuple"):
        if metadata.get("indices") and isinstance(value, numbers.Integral) and not isinstance(
                value, (bool, np.bool_)):
            return (int(value),)
        if (metadata.get("extra") or metadata.get("unknown_attributes")) and isinstance(
                value, dict):
            return tuple((str(k), str(v)) for k, v in value.items())
        if isinstance(value, (list, tuple, range, np.ndarray)):
            items = list(value.tolist() if isinstance(value, np.ndarray) else value)
            if metadata.get("indices"):
                items = [int(i) if isinstance(i, numbers.Integral) and not isinstance(i, bool)
                         else i for i in items]
            if metadata.get("extra") or metadata.get("unknown_attributes"):
                items = [tuple(i) if isinstance(i, list) else i for i in items]
            return tuple(items)
    return value


class _BrukerObject:
    """Base of the protocol dataclasses: conversion and validation on construction/assignment."""

    #: attribute-name alternatives of which at least one set must be present when reading XML
    _xml_required: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: set on objects read from XML (instance attribute, not a field: ``==`` and
    #: ``dataclasses.replace`` ignore it): the file's attribute order and attribute text
    _xml_layout: ClassVar[XmlLayout | None] = None
    if TYPE_CHECKING:  # every subclass is a dataclass with these fields
        __dataclass_fields__: ClassVar[dict[str, Any]]
        extra_attributes: tuple[tuple, ...]
        extra_elements: tuple[UnknownElement, ...]

    @classmethod
    @functools.cache
    def _field_kinds(cls) -> dict[str, tuple[str, Any]]:
        return {f.name: (_kind(f.type), f.metadata) for f in dataclasses.fields(cls)}

    def __post_init__(self) -> None:
        for name, (kind, metadata) in self._field_kinds().items():
            object.__setattr__(self, name, _coerce(kind, metadata, getattr(self, name)))
        validate_fields(self)
        object.__setattr__(self, "_ready", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if not self.__dict__.get("_ready"):
            object.__setattr__(self, name, value)
            return
        kinds = self._field_kinds()
        if name not in kinds:
            if hasattr(type(self), name):
                object.__setattr__(self, name, value)
                return
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        old = getattr(self, name)
        kind, metadata = kinds[name]
        object.__setattr__(self, name, _coerce(kind, metadata, value))
        try:
            validate_fields(self)
        except DingusException:
            object.__setattr__(self, name, old)
            raise

    def _cross_field_problems(self) -> list[Exception]:
        """Checks the field types cannot express: XML-safe text, well-formed extra attributes."""
        problems: list[Exception] = []
        known = {f.metadata.get("xml") for f in dataclasses.fields(self)}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and _XML_INVALID.search(value):
                problems.append(DingusException(
                    f"{f.name}: contains characters XML cannot hold: {value!r}"))
        for item in self.extra_attributes:
            if (not isinstance(item, tuple) or len(item) != 2
                    or not all(isinstance(part, str) for part in item)):
                problems.append(DingusException(
                    f"extra_attributes: items must be (name, text) pairs of str, got {item!r}"))
                continue
            name, text = item
            if not _XML_NAME.match(name) or name in known:
                problems.append(DingusException(
                    f"extra_attributes: {name!r} is not a valid, otherwise unused XML name"))
            if _XML_INVALID.search(text):
                problems.append(DingusException(
                    f"extra_attributes: {name} contains characters XML cannot hold"))
        names = [item[0] for item in self.extra_attributes if isinstance(item, tuple) and item]
        if len(set(names)) != len(names):
            problems.append(DingusException("extra_attributes: duplicate attribute names"))
        return problems


@dataclass(frozen=True)
class XmlLayout:
    """How an object was written in its file: its tag, attribute names in order, their text."""

    tag: str
    order: tuple[str, ...]
    text: tuple[tuple[str, str], ...]


def _check_indices(owner: str, indices: tuple[int, ...]) -> list[Exception]:
    if not indices:
        return [DingusException(f"{owner}.indices: must list at least one point (empty group)")]
    return []


@dataclass(kw_only=True)
class UnknownElement(_BrukerObject):
    """An XML element the PrairieView mapping does not know, kept verbatim to be written back.

    Real PrairieView 5.5 files hold such elements (e.g. ``<PVGalvoPointGrid ... />`` in a galvo
    point list); they are kept in the parent's ``extra_elements`` and written back at
    ``position``, so a file read and written again holds the same elements.

    Attributes
    ----------
    tag : str
        Element name.
    extra_attributes : tuple of (str, str)
        All its attributes, in file order, as (name, text).
    text : str
        Its text content (``""`` when it has none or only whitespace).
    children : tuple of UnknownElement
        Its child elements, in order.
    position : int
        Index among the parent's child elements (known and unknown) at which it is written;
        beyond the last child means at the end.
    """

    tag: str = "Unknown"
    text: str = ""
    children: tuple[UnknownElement, ...] = ()
    position: int = field(default=0, metadata={"range": (0, None)})
    extra_attributes: tuple[tuple, ...] = field(default=(), metadata={
        "unknown_attributes": True, "doc": "(name, text) pairs of the element's attributes"})

    def _cross_field_problems(self) -> list[Exception]:
        problems: list[Exception] = []
        if not _XML_NAME.match(self.tag):
            problems.append(DingusException(f"UnknownElement.tag {self.tag!r} is not an XML name"))
        if _XML_INVALID.search(self.text):
            problems.append(DingusException(
                f"UnknownElement <{self.tag}>: text contains characters XML cannot hold"))
        for item in self.extra_attributes:
            if (not isinstance(item, tuple) or len(item) != 2
                    or not all(isinstance(part, str) for part in item)):
                problems.append(DingusException(
                    f"UnknownElement <{self.tag}>: attributes must be (name, text) pairs of "
                    f"str, got {item!r}"))
            elif not _XML_NAME.match(item[0]) or _XML_INVALID.search(item[1]):
                problems.append(DingusException(
                    f"UnknownElement <{self.tag}>: attribute {item[0]!r} is not a valid XML "
                    "name or holds characters XML cannot hold"))
        names = [item[0] for item in self.extra_attributes if isinstance(item, tuple) and item]
        if len(set(names)) != len(names):
            problems.append(DingusException(
                f"UnknownElement <{self.tag}>: duplicate attribute names"))
        return problems


# ---------------------------------------------------------------------------------------------
# MarkPoints series
@dataclass(kw_only=True)
class Point(_BrukerObject):
    """One stimulated point of an acquisition-time MarkPoints file (``<Point>``).

    Attributes
    ----------
    index : int
        1-based index in the galvo point list (``Index``).
    x, y : float
        Position as a fraction of the field of view's width/height (``X``, ``Y``).
    is_spiral : bool
        Whether the point is stimulated with a spiral (``IsSpiral``).
    spiral_width, spiral_height : float
        Spiral diameter as a fraction of the field of view's width/height.
    spiral_size_in_microns : float
        Spiral diameter in µm (``SpiralSizeInMicrons``).
    z : float or None
        Focus position in µm (``Z``), written only when set.
    extra_attributes : tuple of (str, str)
        Unknown attributes kept verbatim.
    extra_elements : tuple of UnknownElement
        Unknown child elements kept verbatim (written back at their position).
    """

    _xml_required: ClassVar[tuple[tuple[str, ...], ...]] = (("Index", "X", "Y"),)

    index: int = _attr("Index", 1, doc="1-based index in the galvo point list",
                       bounds=(1, None), required=True)
    x: float = _attr("X", 0.5, doc="normalized x position", required=True)
    y: float = _attr("Y", 0.5, doc="normalized y position", required=True)
    is_spiral: bool = _attr("IsSpiral", True, doc="whether the point is a spiral")
    spiral_width: float = _attr("SpiralWidth", 0.0340461221379181,
                                doc="spiral width (fraction of field of view)",
                                bounds=_NON_NEGATIVE)
    spiral_height: float = _attr("SpiralHeight", 0.0340461221379181,
                                 doc="spiral height (fraction of field of view)",
                                 bounds=_NON_NEGATIVE)
    spiral_size_in_microns: float = _attr("SpiralSizeInMicrons", 20.0,
                                          doc="spiral size", bounds=_NON_NEGATIVE, units="µm")
    z: float | None = _attr("Z", None, doc="focus position", units="µm")
    extra_attributes: tuple[tuple, ...] = _extra()
    extra_elements: tuple[UnknownElement, ...] = _extra_elements()


@dataclass(kw_only=True)
class GalvoPointElement(_BrukerObject):
    """One galvo stimulation within a mark (``<PVGalvoPointElement>``).

    Attributes
    ----------
    initial_delay : float
        Delay before the stimulation, ms (``InitialDelay``).
    inter_point_delay : float
        Delay between points, ms (``InterPointDelay``).
    duration : float
        Stimulation duration per point, ms (``Duration``).
    spiral_revolutions : float
        Number of spiral revolutions (``SpiralRevolutions``; PrairieView allows fractions).
    all_points_at_once : bool
        Stimulate all points simultaneously (``AllPointsAtOnce``).
    points : str or None
        Name of the point or group in the galvo point list (``Points``), e.g. ``"Group 1"``.
    indices : tuple of int or None
        0-based indices of the stimulated points in the galvo point list (``Indices`` holds
        them 1-based: ``"1"``, ``"1-30"``, ``"1, 3, 5, 7"``). An int is taken as one index.
        ``points``/``indices`` are ``None`` for an element read without those attributes
        and are then not written.
    x, y, is_spiral, spiral_size : optional
        A point given by its galvo coordinates (``X``, ``Y`` in volts, ``IsSpiral``,
        ``SpiralSize``), written only when set; ``x`` and ``y`` come together.
    previous_points : str or None
        ``PreviousPoints``: the element repeats the points of an earlier element of the series
        named so (e.g. ``"Rand 1"``) instead of carrying ``Indices``/``X``/``Y``.

    PrairieView 5.5 writes five forms, all read and written back: points of the galvo point
    list (``Points`` + ``Indices``), a point by galvo coordinates (``X``/``Y``), a repeat of
    earlier points (``PreviousPoints``), ``<Point>`` children (acquisition-time files), and an
    element with no points at all (only its delays/duration: nothing is stimulated).
    point_elements : tuple of Point
        ``<Point>`` children (acquisition-time files); when present every index must have one.
    extra_attributes : tuple of (str, str)
        Unknown attributes kept verbatim.
    extra_elements : tuple of UnknownElement
        Unknown child elements kept verbatim (written back at their position).
    """


    initial_delay: float = _attr("InitialDelay", 0.0, doc="initial delay for stimulation",
                                 bounds=_NON_NEGATIVE, units="ms")
    inter_point_delay: float = _attr("InterPointDelay", 0.0, doc="inter point delay",
                                     bounds=_NON_NEGATIVE, units="ms")
    duration: float = _attr("Duration", 0.0, doc="duration of stimulation",
                            bounds=_NON_NEGATIVE, units="ms")
    spiral_revolutions: float = _attr("SpiralRevolutions", 0.0,
                                      doc="number of spiral revolutions", bounds=_NON_NEGATIVE)
    all_points_at_once: bool = _attr("AllPointsAtOnce", False,
                                     doc="whether to do all points at once")
    points: str | None = _attr("Points", "Point 0", doc="id from galvo point list",
                               absent_is_none=True)
    indices: tuple[int, ...] | None = _attr("Indices", 0,
                                            doc="0-based indices into the galvo point list",
                                            bounds=(0, None), indices="one_based",
                                            absent_is_none=True)
    x: float | None = _attr("X", None, doc="inline x position (galvo volts)")
    y: float | None = _attr("Y", None, doc="inline y position (galvo volts)")
    is_spiral: bool | None = _attr("IsSpiral", None,
                                      doc="inline point is a spiral")
    spiral_size: float | None = _attr("SpiralSize", None,
                                         doc="inline spiral size", bounds=_NON_NEGATIVE)
    previous_points: str | None = _attr("PreviousPoints", None,
                                        doc="name of the earlier points this element repeats")
    point_elements: tuple[Point, ...] = _children((), doc="Point children")
    extra_attributes: tuple[tuple, ...] = _extra()
    extra_elements: tuple[UnknownElement, ...] = _extra_elements()

    def _cross_field_problems(self) -> list[Exception]:
        problems = super()._cross_field_problems()
        if (self.x is None) != (self.y is None):
            problems.append(DingusException(
                "GalvoPointElement: a point by galvo coordinates needs both an inline x and y "
                f"(got x={self.x!r}, y={self.y!r})"))
        if self.indices is None:
            if self.points is not None and self.x is None and self.previous_points is None:
                problems.append(DingusException(
                    f"GalvoPointElement: Points={self.points!r} names points of the galvo "
                    "point list but there are no Indices"))
            if self.point_elements:
                problems.append(DingusException(
                    "GalvoPointElement: Point children need indices"))
            return problems
        problems += _check_indices("GalvoPointElement", self.indices)
        if self.point_elements:
            known = {point.index for point in self.point_elements}
            missing = sorted({i + 1 for i in self.indices} - known)
            if missing:
                problems.append(DingusException(
                    f"GalvoPointElement.indices refer to points that do not exist: 1-based "
                    f"{missing} (Point children have Index {sorted(known)})"))
        return problems


@dataclass(kw_only=True)
class MarkPointElement(_BrukerObject):
    """One mark (stimulation event) of a series (``<PVMarkPointElement>``).

    Attributes
    ----------
    points : tuple of GalvoPointElement
        The galvo stimulations of this mark (at least one).
    repetitions : int
        Repetitions of this stimulation event (``Repetitions``).
    uncaging_laser : str
        Identity of the uncaging laser (``UncagingLaser``).
    uncaging_laser_power : float
        Laser power, 0–1000 (``UncagingLaserPower``).
    trigger_frequency, trigger_selection : str
        Trigger settings (``TriggerFrequency``, ``TriggerSelection``).
    trigger_count : int
        Number of triggers (``TriggerCount``).
    async_sync_frequency : str
        Synchronisation (``AsyncSyncFrequency``).
    voltage_output_category_name, voltage_rec_category_name : str
        Voltage output / recording experiments (``VoltageOutputCategoryName``,
        ``VoltageRecCategoryName``).
    parameter_set : str
        Parameter set id (``parameterSet``, lower-case p as PrairieView writes it).
    extra_attributes : tuple of (str, str)
        Unknown attributes kept verbatim.
    extra_elements : tuple of UnknownElement
        Unknown child elements kept verbatim (written back at their position).
    """

    points: tuple[GalvoPointElement, ...] = _children(
        doc="Tuple of galvo point elements")
    repetitions: int = _attr("Repetitions", 1, doc="repetitions of this stimulation event",
                             bounds=(1, None))
    uncaging_laser: str = _attr("UncagingLaser", "Uncaging", doc="identity of uncaging laser")
    uncaging_laser_power: float = _attr("UncagingLaserPower", 0.0, doc="uncaging laser power",
                                        bounds=_POWER)
    trigger_frequency: str = _attr("TriggerFrequency", "None", doc="trigger frequency")
    trigger_selection: str = _attr("TriggerSelection", "PFI0", doc="trigger selection")
    trigger_count: int = _attr("TriggerCount", 0, doc="number of triggers", bounds=(0, None))
    async_sync_frequency: str = _attr("AsyncSyncFrequency", "FirstRepetition", doc="sync")
    voltage_output_category_name: str = _attr("VoltageOutputCategoryName", "None",
                                              doc="name of voltage output experiment")
    voltage_rec_category_name: str = _attr("VoltageRecCategoryName", "Current",
                                           doc="name of voltage recording experiment")
    parameter_set: str = _attr("parameterSet", "CurrentSettings", doc="id of parameter set")
    extra_attributes: tuple[tuple, ...] = _extra()
    extra_elements: tuple[UnknownElement, ...] = _extra_elements()

    def _cross_field_problems(self) -> list[Exception]:
        problems = super()._cross_field_problems()
        if not self.points:
            problems.append(DingusException(
                "MarkPointElement.points: needs at least one GalvoPointElement"))
        return problems


@dataclass(kw_only=True)
class MarkPointSeriesElements(_BrukerObject):
    """A MarkPoints series (``<PVSavedMarkPointSeriesElements>`` or, when its galvo elements
    carry ``<Point>`` children, the acquisition-time ``<PVMarkPointSeriesElements>``).

    ``calc_func_map`` is accepted as a keyword and attribute alias of ``calc_funct_map``
    (the documentation spells it both ways); the value is stored once, in ``calc_funct_map``.

    Attributes
    ----------
    marks : tuple of MarkPointElement
        The marks of the series, in order (at least one).
    iterations : int
        Number of times the series is iterated (``Iterations``).
    iteration_delay : float
        Delay between iterations, ms (``IterationDelay``).
    calc_funct_map : bool
        Whether to calculate a functional map (``CalcFunctMap``).
    extra_attributes : tuple of (str, str)
        Unknown attributes kept verbatim.
    extra_elements : tuple of UnknownElement
        Unknown child elements kept verbatim (written back at their position).
    """

    marks: tuple[MarkPointElement, ...] = _children(
        doc="series of mark point elements")
    iterations: int = _attr("Iterations", 1, doc="number of times this series is iterated",
                            bounds=(1, None))
    iteration_delay: float = _attr("IterationDelay", 0.0, doc="delay between iterations",
                                   bounds=_NON_NEGATIVE, units="ms", fmt="{:.2f}")
    calc_funct_map: bool = _attr("CalcFunctMap", False,
                                 doc="whether to calculate functional map")
    extra_attributes: tuple[tuple, ...] = _extra()
    extra_elements: tuple[UnknownElement, ...] = _extra_elements()

    @property
    def calc_func_map(self) -> bool:
        """Alias of :attr:`calc_funct_map`."""
        return self.calc_funct_map

    @calc_func_map.setter
    def calc_func_map(self, value: bool) -> None:
        self.calc_funct_map = value

    @property
    def is_acquisition_record(self) -> bool:
        """True when galvo elements carry ``<Point>`` children (acquisition-time file)."""
        return any(element.point_elements for mark in self.marks for element in mark.points)

    def _cross_field_problems(self) -> list[Exception]:
        problems = super()._cross_field_problems()
        if not self.marks:
            problems.append(DingusException(
                "MarkPointSeriesElements.marks: needs at least one MarkPointElement"))
        return problems


def _accept_alias(cls: type, alias: str, name: str) -> None:
    """Let ``cls(alias=...)`` set field ``name`` (documented alternative spelling)."""
    generated = cls.__init__  # type: ignore[misc]

    @functools.wraps(generated)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if alias in kwargs:
            value = kwargs.pop(alias)
            if name in kwargs and kwargs[name] != value:
                raise TypeError(f"{cls.__name__}: {name}={kwargs[name]!r} and "
                                f"{alias}={value!r} disagree (they are one field)")
            kwargs[name] = value
        generated(self, *args, **kwargs)

    signature = inspect.signature(generated)
    params = list(signature.parameters.values())
    params.append(inspect.Parameter(alias, inspect.Parameter.KEYWORD_ONLY, default=None))
    __init__.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


_accept_alias(MarkPointSeriesElements, "calc_func_map", "calc_funct_map")


# ---------------------------------------------------------------------------------------------
# Galvo point list
@dataclass(kw_only=True)
class GalvoPoint(_BrukerObject):
    """One point of a galvo point list (``<PVGalvoPoint>`` in a ``.gpl``).

    Attributes
    ----------
    x, y : float
        Galvo position in volts (``X``, ``Y``; negative allowed).
    name : str
        Point name (``Name``), e.g. ``"Point 0"``.
    index : int
        0-based index in the list (``Index``).
    activity_type : str
        ``ActivityType`` (``"MarkPoints"``).
    uncaging_laser : str
        ``UncagingLaser``.
    uncaging_laser_power : float
        ``UncagingLaserPower``, 0–1000.
    duration : float
        Stimulation duration, ms (``Duration``).
    is_spiral : bool
        ``IsSpiral``.
    spiral_size : float
        Spiral diameter in the units of ``x``/``y`` (``SpiralSize``).
    spiral_revolutions : float
        ``SpiralRevolutions``.
    z : float
        Focus position, µm (``Z``).
    extra_attributes : tuple of (str, str)
        Unknown attributes kept verbatim.
    extra_elements : tuple of UnknownElement
        Unknown child elements kept verbatim (written back at their position).
    """

    _xml_required: ClassVar[tuple[tuple[str, ...], ...]] = (("X", "Y", "Index"),)

    x: float = _attr("X", 0.0, doc="x galvo position", units="V", required=True)
    y: float = _attr("Y", 0.0, doc="y galvo position", units="V", required=True)
    name: str = _attr("Name", "Point 0", doc="point name")
    index: int = _attr("Index", 0, doc="0-based index", bounds=(0, None), required=True)
    activity_type: str = _attr("ActivityType", "MarkPoints", doc="activity type")
    uncaging_laser: str = _attr("UncagingLaser", "Uncaging", doc="identity of uncaging laser")
    uncaging_laser_power: float = _attr("UncagingLaserPower", 0.0, doc="uncaging laser power",
                                        bounds=_POWER)
    duration: float = _attr("Duration", 100.0, doc="stimulation duration",
                            bounds=_NON_NEGATIVE, units="ms")
    is_spiral: bool = _attr("IsSpiral", True, doc="whether the point is a spiral")
    spiral_size: float = _attr("SpiralSize", 0.0, doc="spiral size", bounds=_NON_NEGATIVE)
    spiral_revolutions: float = _attr("SpiralRevolutions", 0.0, doc="spiral revolutions",
                                      bounds=_NON_NEGATIVE)
    z: float = _attr("Z", 0.0, doc="focus position", units="µm")
    extra_attributes: tuple[tuple, ...] = _extra()
    extra_elements: tuple[UnknownElement, ...] = _extra_elements()


@dataclass(kw_only=True)
class GalvoPointGroup(_BrukerObject):
    """A named group of galvo points stimulated together (``<PVGalvoPointGroup>``).

    Attributes
    ----------
    indices : tuple of int
        0-based ``Index`` values of the member points (``Indices="0,1,2"``); at least one.
    name : str
        Group name (``Name``), e.g. ``"Group 1"``, referred to by ``GalvoPointElement.points``.
    index : int
        ``Index`` (PrairieView writes the number of points for every group).
    activity_type, uncaging_laser, uncaging_laser_power, duration, is_spiral, spiral_size,
    spiral_revolutions, z
        Stimulation settings as in :class:`GalvoPoint`.
    extra_attributes : tuple of (str, str)
        Unknown attributes kept verbatim.
    extra_elements : tuple of UnknownElement
        Unknown child elements kept verbatim (written back at their position).
    """

    _xml_required: ClassVar[tuple[tuple[str, ...], ...]] = (("Indices",),)

    indices: tuple[int, ...] = _attr("Indices", doc="0-based member point indices",
                                     bounds=(0, None), indices="zero_based", required=True)
    name: str = _attr("Name", "Group 1", doc="group name")
    index: int = _attr("Index", 0, doc="index", bounds=(0, None))
    activity_type: str = _attr("ActivityType", "MarkPoints", doc="activity type")
    uncaging_laser: str = _attr("UncagingLaser", "Uncaging", doc="identity of uncaging laser")
    uncaging_laser_power: float = _attr("UncagingLaserPower", 0.0, doc="uncaging laser power",
                                        bounds=_POWER)
    duration: float = _attr("Duration", 100.0, doc="stimulation duration",
                            bounds=_NON_NEGATIVE, units="ms")
    is_spiral: bool = _attr("IsSpiral", True, doc="whether the points are spirals")
    spiral_size: float = _attr("SpiralSize", 0.0, doc="spiral size", bounds=_NON_NEGATIVE)
    spiral_revolutions: float = _attr("SpiralRevolutions", 0.0, doc="spiral revolutions",
                                      bounds=_NON_NEGATIVE)
    z: float = _attr("Z", 0.0, doc="focus position", units="µm")
    extra_attributes: tuple[tuple, ...] = _extra()
    extra_elements: tuple[UnknownElement, ...] = _extra_elements()

    def _cross_field_problems(self) -> list[Exception]:
        return super()._cross_field_problems() + _check_indices("GalvoPointGroup", self.indices)


@dataclass(kw_only=True)
class GalvoPointList(_BrukerObject):
    """A galvo point list (``<PVGalvoPointList>``, a ``.gpl`` file).

    Attributes
    ----------
    galvo_points : tuple of GalvoPoint
        The points.
    groups : tuple of GalvoPointGroup
        Point groups; every member index must be the ``index`` of one of ``galvo_points``.
    extra_attributes : tuple of (str, str)
        Unknown attributes kept verbatim.
    extra_elements : tuple of UnknownElement
        Unknown child elements kept verbatim (written back at their position).
    """

    galvo_points: tuple[GalvoPoint, ...] = _children(doc="galvo points")
    groups: tuple[GalvoPointGroup, ...] = _children((), doc="galvo point groups")
    extra_attributes: tuple[tuple, ...] = _extra()
    extra_elements: tuple[UnknownElement, ...] = _extra_elements()

    def _cross_field_problems(self) -> list[Exception]:
        problems = super()._cross_field_problems()
        known = {point.index for point in self.galvo_points}
        for group in self.groups:
            missing = sorted(set(group.indices) - known)
            if missing:
                problems.append(DingusException(
                    f"GalvoPointList: group {group.name!r} refers to points that do not exist: "
                    f"indices {missing} (points have Index {sorted(known)})"))
        return problems

    def find(self, name: str) -> GalvoPoint | GalvoPointGroup:
        """Return the point or group called ``name`` (``KeyError`` listing the names if none)."""
        items: tuple[GalvoPoint | GalvoPointGroup, ...] = (*self.galvo_points, *self.groups)
        for item in items:
            if item.name == name:
                return item
        names = [item.name for item in items]
        raise KeyError(f"no point or group named {name!r}; the list holds {names}")


#: XML-mapped protocol classes by name (the mapping JSON refers to these names)
PROTOCOL_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (
        MarkPointSeriesElements, MarkPointElement, GalvoPointElement, Point,
        GalvoPointList, GalvoPoint, GalvoPointGroup,
    )
}
