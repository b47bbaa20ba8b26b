"""Validation of the photostimulation protocol dataclasses (:mod:`CalSciPy.bruker.xml_objects`).

Every protocol object is checked field by field on construction and on each later assignment;
all problems found are collected by a :class:`DingusLogger` and raised together as one
:class:`DingusException`, so a user fixing a protocol sees every mistake at once.

Type expectations are written as strings with at most one level of nesting
(``"int"``, ``"Tuple[int]"``, ``"Tuple[int, str]"``, ``"Tuple[GalvoPoint, ...]"``,
``"Optional[float]"``); checking is a single linear pass, so it cannot loop forever.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from collections.abc import Callable, Collection, Iterable
from typing import Any

from CalSciPy._checks import is_integer, is_real_number

__all__ = [
    "DingusException",
    "DingusLogger",
    "field_validator",
    "format_fields",
    "type_check_nested_types",
    "validate_fields",
]


class DingusException(TypeError, ValueError):
    """A protocol object holds a value of the wrong type or outside its allowed range.

    It derives from both :class:`TypeError` and :class:`ValueError` (and so from
    :class:`Exception`), so callers may catch it as either.

    Parameters
    ----------
    message
        Description of the problem(s).
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class DingusLogger:
    """Collects validation exceptions and raises them together.

    Parameters
    ----------
    exceptions
        Exceptions already found (copied; the caller's list is never modified).
    """

    def __init__(self, exceptions: list[Exception] | None = None):
        self.exceptions: list[Exception] = []
        if exceptions is not None:
            self.add_exception(exceptions)

    def add_exception(self, other: Exception | Iterable[Exception]) -> DingusLogger:
        """Add one exception or an iterable of exceptions; returns the logger (chainable)."""
        if isinstance(other, BaseException):
            self.exceptions.append(other)
            return self
        if isinstance(other, (str, bytes)) or not isinstance(other, Iterable):
            raise TypeError(
                f"add_exception expects an exception or an iterable of exceptions, "
                f"not {type(other).__name__}"
            )
        for item in other:
            if not isinstance(item, BaseException):
                raise TypeError(
                    f"add_exception expects exceptions, got an item of type "
                    f"{type(item).__name__}"
                )
            self.exceptions.append(item)
        return self

    def raise_exceptions(self) -> DingusLogger:
        """Raise one :class:`DingusException` listing every collected message, if any.

        Returns
        -------
        DingusLogger
            The logger itself when nothing was collected.
        """
        if self.exceptions:
            count = len(self.exceptions)
            lines = "\n".join(f"  - {exc}" for exc in self.exceptions)
            raise DingusException(f"{count} invalid field value(s):\n{lines}")
        return self

    def __len__(self) -> int:
        return len(self.exceptions)

    def __repr__(self) -> str:
        return f"DingusLogger({len(self.exceptions)} exception(s))"


# ---------------------------------------------------------------------------------------------
# type checking
_BUILTIN_NAMES: dict[str, Any] = {
    "int": int, "float": float, "str": str, "bool": bool, "bytes": bytes,
    "object": object, "Any": object, "None": type(None), "NoneType": type(None),
    "tuple": tuple, "list": list, "dict": dict,
}
_CONTAINERS: dict[str, type[Collection[Any]] | tuple[type[Collection[Any]], ...]] = {
    "Tuple": tuple, "tuple": tuple, "List": list, "list": list,
    "Sequence": (tuple, list), "Set": set, "set": set,
    "FrozenSet": frozenset, "frozenset": frozenset,
}
_NESTED = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*\[(.*)\]\s*$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_][\w.]*$")


def _leaf(name: str) -> Callable[[Any], bool]:
    """Predicate for one type *name*: builtins by type, anything else by class name in the MRO.

    ``int`` excludes ``bool``; ``float`` accepts any real number except ``bool`` (ints are
    converted to floats by the protocol objects).
    """
    name = name.strip().rsplit(".", 1)[-1]
    if name == "int":
        return is_integer
    if name == "float":
        return is_real_number
    if name == "bool":
        return lambda v: isinstance(v, bool)
    if name in _BUILTIN_NAMES:
        cls = _BUILTIN_NAMES[name]
        return lambda v: isinstance(v, cls)
    if not _NAME.match(name):
        raise ValueError(f"cannot interpret type name {name!r}")
    return lambda v: any(klass.__name__ == name for klass in type(v).__mro__)


def _split_top_level(expected: str) -> list[str]:
    """Split ``"A[x, y] | B"`` at ``|`` signs outside brackets."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(expected):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(expected[start:position].strip())
            start = position + 1
    parts.append(expected[start:].strip())
    return parts


@functools.lru_cache(maxsize=512)
def _compile(expected: str) -> Callable[[Any], bool]:
    """Predicate for a type string (parsed once, then cached); ValueError when unsupported."""
    alternatives = _split_top_level(expected)
    if len(alternatives) > 1:
        if any(not alt or "|" in alt for alt in alternatives):
            raise ValueError(f"empty or nested alternative in {expected!r}")
        checks = tuple(_compile(alt) for alt in alternatives)
        return lambda v: any(check(v) for check in checks)
    match = _NESTED.match(expected)
    if match is None:
        return _leaf(expected)
    outer, inner = match.group(1).rsplit(".", 1)[-1], match.group(2)
    if "[" in inner or "]" in inner:
        raise ValueError(f"type_check_nested_types handles one nesting level only: {expected!r}")
    args = [arg.strip() for arg in inner.split(",")]
    if any(not arg for arg in args):
        raise ValueError(f"empty type argument in {expected!r}")
    if outer in ("Optional", "Union"):
        inner_checks = tuple(_leaf(arg) for arg in args)
        allow_none = outer == "Optional"
        return lambda v: (allow_none and v is None) or any(c(v) for c in inner_checks)
    if outer not in _CONTAINERS:
        raise ValueError(f"unsupported container {outer!r} in {expected!r}")
    container = _CONTAINERS[outer]
    if len(args) == 2 and args[1] == "...":
        args = args[:1]
    if len(args) == 1:
        item = _leaf(args[0])
        return lambda v: isinstance(v, container) and all(item(i) for i in v)
    if "..." in args:
        raise ValueError(f"'...' is only allowed as the second of two arguments: {expected!r}")
    items = tuple(_leaf(arg) for arg in args)
    return lambda v: (isinstance(v, container) and len(v) == len(items)
                      and all(check(i) for check, i in zip(items, v)))


def type_check_nested_types(var: Any, expected: str) -> bool:
    """Check ``var`` against a type written as a string, with at most one level of nesting.

    Parameters
    ----------
    var
        Value to check.
    expected
        ``"T"`` (a builtin name or a class name), ``"Tuple[T]"`` / ``"Tuple[T, ...]"``
        (a tuple of any length, including empty, whose items are all ``T``),
        ``"Tuple[T1, T2]"`` (exactly two items of those types), the same for ``List``/``Set``,
        ``"Optional[T]"`` / ``"Union[T1, T2]"`` with plain inner names, or alternatives
        ``"A | B"`` each of which may be one of the forms above (``"tuple[int, ...] | None"``).
        Each distinct string is parsed once and cached; checking is one linear pass.

    Returns
    -------
    bool
        Whether ``var`` matches.

    Raises
    ------
    ValueError
        ``expected`` nests more than one level or is not a type expression.
    """
    if not isinstance(expected, str):
        raise TypeError(f"expected must be a str such as 'Tuple[int]', not {type(expected)!r}")
    return bool(_compile(expected)(var))


def annotation_to_string(annotation: Any) -> str:
    """Write a ``typing`` annotation as the string form :func:`type_check_nested_types` reads."""
    if isinstance(annotation, str):
        return annotation
    if annotation is type(None) or annotation is None:
        return "None"
    if annotation is Any:
        return "Any"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is None:
        return getattr(annotation, "__name__", str(annotation))
    names = ["..." if arg is Ellipsis else annotation_to_string(arg) for arg in args]
    if origin is typing.Union or origin is types.UnionType:
        non_none = [n for n in names if n != "None"]
        if len(non_none) < len(names):
            return f"Optional[{', '.join(non_none)}]"
        return f"Union[{', '.join(names)}]"
    if origin is typing.Literal:
        return "object"
    outer = {tuple: "Tuple", list: "List", set: "Set", frozenset: "FrozenSet"}.get(origin)
    if outer is None:
        outer = getattr(origin, "__name__", str(origin))
    return f"{outer}[{', '.join(names)}]" if names else outer


# ---------------------------------------------------------------------------------------------
# field validation
def _describe_range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f">= {low}"
    return f"<= {high}"


def field_validator(key: str, value: Any, var: dataclasses.Field) -> list[Exception]:
    """Check one dataclass field value: its type and, for numbers, its allowed range.

    The field's ``metadata`` may hold ``"range": (low, high)`` (inclusive; ``None`` for an
    open end) and ``"units"`` (used in messages). Floats must be finite.

    Parameters
    ----------
    key
        Field name (used in messages).
    value
        Value to check.
    var
        The :class:`dataclasses.Field` describing the field.

    Returns
    -------
    list of Exception
        One :class:`DingusException` per problem; empty when the value is valid.
    """
    problems: list[Exception] = []
    expected = annotation_to_string(var.type)
    try:
        ok = type_check_nested_types(value, expected)
    except ValueError as err:
        return [DingusException(f"{key}: cannot check type {expected!r} ({err})")]
    if not ok:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        problems.append(DingusException(
            f"{key}: expected {expected}, got {type(value).__name__} {shown}"
        ))
        return problems
    numbers_to_check: Iterable[Any]
    if isinstance(value, (tuple, list)):
        numbers_to_check = value
    else:
        numbers_to_check = (value,)
    low, high = var.metadata.get("range", (None, None))
    units = var.metadata.get("units", "")
    suffix = f" {units}" if units else ""
    for number in numbers_to_check:
        if not is_real_number(number):
            continue
        if isinstance(number, float) and not math.isfinite(number):
            problems.append(DingusException(f"{key}: must be a finite number, got {number!r}"))
            continue
        if (low is not None and number < low) or (high is not None and number > high):
            problems.append(DingusException(
                f"{key}={number!r} is outside the allowed range "
                f"{_describe_range(low, high)}{suffix}"
            ))
    return problems


def format_fields(var: object) -> tuple:
    """Return ``((name, value, field), ...)`` for every field of dataclass instance ``var``."""
    if not dataclasses.is_dataclass(var) or isinstance(var, type):
        raise TypeError(f"format_fields expects a dataclass instance, not {type(var).__name__}")
    return tuple((f.name, getattr(var, f.name), f) for f in dataclasses.fields(var))


def validate_fields(data_class: object) -> bool:
    """Validate every field of a dataclass instance (plus its cross-field checks).

    Objects may define ``_cross_field_problems()`` returning a list of exceptions for rules
    that involve several fields (e.g. group indices that must name existing points).

    Returns
    -------
    bool
        ``True`` when valid.

    Raises
    ------
    DingusException
        Listing every problem found.
    """
    logger = DingusLogger()
    for name, value, var in format_fields(data_class):
        logger.add_exception(field_validator(name, value, var))
    if not logger.exceptions:
        extra = getattr(data_class, "_cross_field_problems", None)
        if callable(extra):
            logger.add_exception(extra())
    if logger.exceptions:
        problems = "\n".join(f"  - {exc}" for exc in logger.exceptions)
        raise DingusException(
            f"{type(data_class).__name__}: {len(logger.exceptions)} invalid field value(s):\n"
            f"{problems}"
        )
    return True
