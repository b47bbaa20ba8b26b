"""Factories converting between PrairieView protocol XML and :mod:`~CalSciPy.bruker.xml_objects`.

:class:`BrukerElementFactory` turns a parsed XML element (and its children) into protocol
dataclasses; :class:`BrukerXMLFactory` writes protocol dataclasses as XML lines in PrairieView's
own style (attribute names such as ``parameterSet``, attribute order, two-space indentation,
self-closing ``" />"`` elements, numbers in shortest form, booleans ``True``/``False``), so a
file read from PrairieView and written back holds the same elements, attributes and values.

Nothing is dropped: attributes and elements the version's mapping does not know are kept
(``extra_attributes``, ``extra_elements``) and written back in place, and the attribute order
and text of a file are reused for every value that is unchanged.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element, ElementTree
from xml.sax.saxutils import escape

from CalSciPy._checks import check_int
from CalSciPy.bruker.configuration_values import DEFAULT_PRAIRIEVIEW_VERSION
from CalSciPy.bruker.validation import DingusException, validate_fields
from CalSciPy.bruker.xml_mappings.xml_mapping import load_mapping
from CalSciPy.bruker.xml_objects import (
    PROTOCOL_CLASSES,
    UnknownElement,
    XmlLayout,
    _BrukerObject,
    _kind,
    format_indices,
    parse_indices,
)
from CalSciPy.errors import DataFormatError

__all__ = ["BrukerElementFactory", "BrukerXMLFactory", "UnknownAttributeWarning"]

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
_INDENT = "  "
_ATTRIBUTE_ESCAPES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


_log = logging.getLogger(__name__)


class UnknownAttributeWarning(UserWarning):
    """An XML attribute or element this PrairieView version's mapping does not know.

    No longer issued when reading: such attributes and elements are kept and written back
    (a lossless round trip), and reported at ``logging.DEBUG`` level. Kept for code that
    filters it.
    """


def _unknown_element(element: Element, position: int) -> UnknownElement:
    text = element.text or ""
    children = [child for child in element if isinstance(child.tag, str)]
    if children:  # the writer indents children: trailing whitespace is layout, not content
        text = text.rstrip()
    return UnknownElement(
        tag=element.tag, extra_attributes=tuple(element.attrib.items()),
        text="" if not text.strip() else text,
        children=tuple(_unknown_element(child, i) for i, child in enumerate(children)),
        position=position)


def _class_mapping(version: str) -> dict[str, type[_BrukerObject]]:
    return {tag: PROTOCOL_CLASSES[name] for tag, name in load_mapping(version).items()}


# per-class caches (dicts keyed by the class: functools.cache would want the classes typed
# Hashable, which dataclasses with eq=True are not, for a type checker)
_ATTRIBUTE_FIELDS: dict[type, dict[str, dataclasses.Field]] = {}
_CHILD_FIELDS: dict[type, tuple[dataclasses.Field, ...]] = {}


def _attribute_fields(cls: type) -> dict[str, dataclasses.Field]:
    found = _ATTRIBUTE_FIELDS.get(cls)
    if found is None:
        found = _ATTRIBUTE_FIELDS[cls] = {f.metadata["xml"]: f for f in dataclasses.fields(cls)
                                          if "xml" in f.metadata}
    return found


def _child_fields(cls: type) -> tuple[dataclasses.Field, ...]:
    found = _CHILD_FIELDS.get(cls)
    if found is None:
        found = _CHILD_FIELDS[cls] = tuple(f for f in dataclasses.fields(cls)
                                           if f.metadata.get("children"))
    return found


def _element_type(child_field: dataclasses.Field) -> str:
    """Class name inside a ``tuple[Name, ...]`` child annotation."""
    text = str(child_field.type)
    return text[text.index("[") + 1:].split(",")[0].strip()


class BrukerElementFactory:
    """Factory class for constructing Bruker element objects.

    Parameters
    ----------
    version
        PrairieView version whose mapping (:func:`~CalSciPy.bruker.xml_mappings.load_mapping`)
        decides which XML tags become which classes.

    Attributes
    ----------
    element_class_mapping : dict
        Mapping from Bruker XML tags to CalSciPy's Bruker XML classes.
    """

    def __init__(self, version: str = DEFAULT_PRAIRIEVIEW_VERSION):
        self.version = version
        self.element_class_mapping: dict[str, type[_BrukerObject]] = _class_mapping(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(version={self.version!r})"

    def constructor(self, element: Element) -> object:
        """Construct the protocol object of an XML element, children included.

        Attributes become snake_case fields converted to the field types (``Indices`` become
        0-based tuples); attributes the mapping does not know are kept in
        ``extra_attributes`` and unknown child elements in ``extra_elements``
        (:class:`~CalSciPy.bruker.xml_objects.UnknownElement`, with their position), so that
        writing the object back loses nothing.

        Parameters
        ----------
        element
            Parsed XML element (or an ``ElementTree``, whose root is used).

        Returns
        -------
        object
            A :mod:`~CalSciPy.bruker.xml_objects` dataclass.

        Raises
        ------
        DataFormatError
            Unknown element, missing required attribute, unreadable or invalid value.
        """
        if isinstance(element, ElementTree):
            element = element.getroot()
        if not hasattr(element, "tag") or not hasattr(element, "attrib"):
            raise TypeError(f"expected an XML Element, not {type(element).__name__}")
        cls = self.element_class_mapping.get(element.tag)
        if cls is None:
            known = ", ".join(f"<{tag}>" for tag in self.element_class_mapping)
            raise DataFormatError(
                f"<{element.tag}> is not a protocol element of PrairieView {self.version} "
                f"(known: {known})"
            )
        required = cls._xml_required
        if required and not any(all(a in element.attrib for a in alt) for alt in required):
            wanted = " or ".join("+".join(alt) for alt in required)
            raise DataFormatError(
                f"<{element.tag}> lacks required attribute(s) {wanted} "
                f"(has {sorted(element.attrib)})"
            )
        attribute_fields = _attribute_fields(cls)
        kwargs: dict[str, Any] = {}
        extras: list[tuple[str, str]] = []
        for name, text in element.attrib.items():
            target = attribute_fields.get(name)
            if target is None:
                _log.debug("<%s>: attribute %s=%r is not in the mapping; kept",
                           element.tag, name, text)
                extras.append((name, text))
                continue
            kwargs[target.name] = _from_text(target, text, element.tag)
        for name, target in attribute_fields.items():
            if target.metadata.get("absent_is_none") and name not in element.attrib:
                kwargs[target.name] = None
        if extras:
            kwargs["extra_attributes"] = tuple(extras)
        children: dict[str, list] = {f.name: [] for f in _child_fields(cls)}
        by_type = {_element_type(f): f.name for f in _child_fields(cls)}
        unknown: list[UnknownElement] = []
        position = 0
        for child in element:
            if not isinstance(child.tag, str):  # comments / processing instructions
                continue
            child_cls = self.element_class_mapping.get(child.tag)
            slot = by_type.get(child_cls.__name__) if child_cls is not None else None
            if slot is None:
                _log.debug("<%s>: child element <%s> is not in the mapping; kept",
                           element.tag, child.tag)
                unknown.append(_unknown_element(child, position))
            else:
                children[slot].append(self.constructor(child))
            position += 1
        kwargs.update({name: tuple(items) for name, items in children.items()})
        if unknown:
            kwargs["extra_elements"] = tuple(unknown)
        try:
            obj = cls(**kwargs)
        except DingusException as err:
            raise DataFormatError(f"<{element.tag}>: {err}") from err
        object.__setattr__(obj, "_xml_layout", XmlLayout(
            tag=element.tag, order=tuple(element.attrib), text=tuple(element.attrib.items())))
        return obj


def _from_text(target: dataclasses.Field, text: str, tag: str) -> Any:
    """Convert attribute text to the field's type (DataFormatError naming the attribute)."""
    name = target.metadata["xml"]
    kind = _kind(target.type)
    try:
        if target.metadata.get("indices"):
            return parse_indices(text, one_based=target.metadata["indices"] == "one_based")
        if kind in ("float", "opt_float"):
            return float(text)
        if kind == "int":
            number = float(text)
            if not number.is_integer():
                raise ValueError("not a whole number")
            return int(number)
        if kind in ("bool", "opt_bool"):
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError("not True or False")
            return lowered == "true"
    except ValueError as err:
        raise DataFormatError(f"<{tag} {name}={text!r}>: cannot read as {kind} ({err})") from err
    return text


def format_number(value: float | int, fmt: str | None = None) -> str:
    """PrairieView number style: shortest text that reads back as the same value.

    Whole numbers are written without decimals (``5``), others in the shortest round-trip form
    (``0.12``, ``-4.7465701381138``); ``fmt`` (e.g. ``"{:.2f}"``) is used when it is exact.
    """
    if isinstance(value, int):
        return str(value)
    if fmt is not None:
        text = fmt.format(value)
        if float(text) == value:
            return text
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _attribute_text(target: dataclasses.Field, value: Any, source: str | None = None,
                    tag: str = "") -> str:
    """Text of an attribute: the file's own text while it still reads as ``value``."""
    if source is not None:
        try:
            if _from_text(target, source, tag) == value:
                return escape(source, _ATTRIBUTE_ESCAPES)
        except DataFormatError:
            pass
    if target.metadata.get("indices"):
        one_based = target.metadata["indices"] == "one_based"
        return format_indices(value, one_based=one_based, compact=one_based)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return format_number(value, target.metadata.get("fmt"))
    return escape(str(value), _ATTRIBUTE_ESCAPES)


def _series_tag(obj: Any) -> str:
    return ("PVMarkPointSeriesElements" if obj.is_acquisition_record
            else "PVSavedMarkPointSeriesElements")


#: classes mapped from several tags: which tag to write for a given object
_PREFERRED_TAG: dict[str, Callable[[Any], str]] = {"MarkPointSeriesElements": _series_tag}


class BrukerXMLFactory:
    """Factory class for writing CalSciPy's protocol objects as PrairieView XML.

    Usage: ``"".join(BrukerXMLFactory(version).constructor(obj))`` is the file's text.

    Parameters
    ----------
    version
        PrairieView version whose mapping decides the XML tags.

    Attributes
    ----------
    element_class_mapping : dict
        Mapping from Bruker XML tags to CalSciPy's Bruker XML classes.
    """

    def __init__(self, version: str = DEFAULT_PRAIRIEVIEW_VERSION):
        self.version = version
        self.element_class_mapping: dict[str, type[_BrukerObject]] = _class_mapping(version)
        self._tags: dict[str, list[str]] = {}
        for tag, cls in self.element_class_mapping.items():
            self._tags.setdefault(cls.__name__, []).append(tag)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(version={self.version!r})"

    def constructor(self, element: _BrukerObject) -> list[str]:
        """XML lines (each ending in a newline) of a protocol file holding ``element``.

        The first line is the XML declaration; join the list to get the file's text. As in
        PrairieView's files, the last line (the root's closing tag) has no trailing newline.
        """
        self.validate_element(element)
        lines = [XML_DECLARATION, *self.construct_element(element).splitlines(keepends=True)]
        lines[-1] = lines[-1].rstrip("\n")
        return lines

    def tag_for(self, element: _BrukerObject) -> str:
        """The XML tag written for ``element``."""
        name = type(element).__name__
        tags = self._tags.get(name)
        if not tags:
            raise ValueError(
                f"{name} has no XML tag in the mapping of PrairieView {self.version}")
        layout = element._xml_layout
        if layout is not None and layout.tag in tags:  # as read (dropped by replace())
            return layout.tag
        chooser = _PREFERRED_TAG.get(name)
        if chooser is not None and chooser(element) in tags:
            return chooser(element)
        return tags[0]

    def construct_element(self, element: _BrukerObject, level: int = 0) -> str:
        """XML text of ``element`` and its children, indented by ``level`` (two spaces each).

        Returns
        -------
        str
            One or more lines, each ending in a newline.
        """
        self.validate_element(element)
        level = check_int(level, "level", minimum=0)
        indent = _INDENT * level
        if isinstance(element, UnknownElement):
            return self._construct_unknown(element, indent)
        # every protocol class is a dataclass with extra_attributes/extra_elements fields
        obj: Any = element
        tag = self.tag_for(element)
        attributes: dict[str, str] = {}
        layout = obj._xml_layout
        source = dict(layout.text) if layout is not None else {}
        for f in dataclasses.fields(obj):
            if "xml" not in f.metadata:
                continue
            value = getattr(obj, f.name)
            if value is None:
                continue
            name = f.metadata["xml"]
            if layout is not None and name not in source and value == f.default:
                continue  # absent from the file, and reading it back gives the same default
            attributes[name] = _attribute_text(f, value, source.get(name), tag)
        for name, text in obj.extra_attributes:
            attributes[name] = escape(text, _ATTRIBUTE_ESCAPES)
        names = list(attributes)
        if layout is not None:  # the file's order for the attributes it had, new ones after
            rank = {name: i for i, name in enumerate(layout.order)}
            names.sort(key=lambda n: rank.get(n, len(rank)))
        parts = [tag, *(f'{name}="{attributes[name]}"' for name in names)]
        children: list[_BrukerObject] = [child for f in _child_fields(type(obj))
                                         for child in getattr(obj, f.name)]
        for extra in sorted(obj.extra_elements, key=lambda e: e.position):
            children.insert(min(extra.position, len(children)), extra)
        opening = " ".join(parts)
        if not children:
            return f"{indent}<{opening} />\n"
        lines = [f"{indent}<{opening}>\n"]
        lines += [self.construct_element(child, level + 1) for child in children]
        lines.append(f"{indent}</{tag}>\n")
        return "".join(lines)

    def _construct_unknown(self, element: UnknownElement, indent: str) -> str:
        parts = [element.tag, *(f'{name}="{escape(text, _ATTRIBUTE_ESCAPES)}"'
                                for name, text in element.extra_attributes)]
        opening = " ".join(parts)
        text = escape(element.text)
        if not element.children:
            if not text:
                return f"{indent}<{opening} />\n"
            return f"{indent}<{opening}>{text}</{element.tag}>\n"
        lines = [f"{indent}<{opening}>{text}\n"]
        lines += [self._construct_unknown(child, indent + _INDENT) for child in element.children]
        lines.append(f"{indent}</{element.tag}>\n")
        return "".join(lines)

    @classmethod
    def validate_element(cls, element: Any) -> None:
        """Check that ``element`` is a valid protocol object.

        Raises
        ------
        TypeError
            ``element`` is not a protocol object of :mod:`~CalSciPy.bruker.xml_objects`.
        DingusException
            Its fields are invalid (e.g. after changes that bypassed validation).
        """
        if not isinstance(element, _BrukerObject):
            raise TypeError(
                f"cannot write {type(element).__name__} as PrairieView XML: only protocol "
                f"objects from CalSciPy.bruker.xml_objects are supported"
            )
        validate_fields(element)
