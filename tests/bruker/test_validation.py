"""Tests of CalSciPy.bruker.validation: exceptions, logger, type checks, field validation."""
from __future__ import annotations

import dataclasses

import pytest

from CalSciPy.bruker.validation import (
    DingusException,
    DingusLogger,
    field_validator,
    format_fields,
    type_check_nested_types,
    validate_fields,
)


def test_dingus_exception_is_exception_value_and_type_error():
    err = DingusException("bad power")
    assert isinstance(err, Exception)
    assert isinstance(err, ValueError) and isinstance(err, TypeError)
    assert str(err) == "bad power"


def test_logger_collects_and_raises_every_message():
    logger = DingusLogger()
    assert logger.raise_exceptions() is logger  # nothing collected: returns itself
    returned = logger.add_exception(DingusException("first"))
    assert returned is logger
    logger.add_exception([ValueError("second"), TypeError("third")])
    assert len(logger) == 3
    with pytest.raises(DingusException) as info:
        logger.raise_exceptions()
    message = str(info.value)
    assert "first" in message and "second" in message and "third" in message
    assert "3 invalid" in message


def test_logger_does_not_alias_callers_list():
    mine = [ValueError("a")]
    logger = DingusLogger(mine)
    logger.add_exception(ValueError("b"))
    assert len(mine) == 1


def test_logger_rejects_non_exceptions():
    with pytest.raises(TypeError):
        DingusLogger().add_exception("not an exception")
    with pytest.raises(TypeError):
        DingusLogger().add_exception([ValueError("ok"), 3])


@pytest.mark.parametrize(("value", "expected", "result"), [
    (3, "int", True),
    (True, "int", False),          # bool is not an int field value
    (3, "float", True),            # ints are accepted for floats (converted by objects)
    ("a", "float", False),
    ((), "Tuple[int]", True),      # empty tuples are fine and never loop
    ((1, 2, 3), "Tuple[int]", True),
    ((1, "a"), "Tuple[int]", False),
    ((1, "a"), "Tuple[int, str]", True),
    ((1, "a", 2), "Tuple[int, str]", False),
    ((1, 2), "tuple[int, ...]", True),
    ([1, 2], "Tuple[int]", False),
    ([1, 2], "List[int]", True),
    (None, "Optional[float]", True),
    (1.5, "float | None", True),
    ("x", "float | None", False),
    ((1, "a"), "Tuple[object]", True),
])
def test_type_check_nested_types(value, expected, result):
    assert type_check_nested_types(value, expected) is result


def test_type_check_by_class_name():
    class GalvoPoint:
        pass

    assert type_check_nested_types((GalvoPoint(), GalvoPoint()), "Tuple[GalvoPoint, ...]")
    assert not type_check_nested_types((GalvoPoint(), 1), "Tuple[GalvoPoint, ...]")


@pytest.mark.timeout(5)
def test_type_check_refuses_deeper_nesting_instead_of_hanging():
    with pytest.raises(ValueError, match="one nesting level"):
        type_check_nested_types(((1,),), "Tuple[Tuple[int]]")
    with pytest.raises(ValueError):
        type_check_nested_types((1,), "Tuple[]")
    with pytest.raises(TypeError):
        type_check_nested_types(1, int)  # expected must be a string


@dataclasses.dataclass
class _Example:
    count: int = dataclasses.field(default=1, metadata={"range": (1, 10)})
    power: float = dataclasses.field(default=0.0, metadata={"range": (0.0, 1000.0)})
    names: tuple[str, ...] = ()

    def _cross_field_problems(self):
        return [DingusException("names and count disagree")] if len(self.names) > self.count \
            else []


def _field(name):
    return {f.name: f for f in dataclasses.fields(_Example)}[name]


def test_field_validator_type_and_range():
    assert field_validator("count", 5, _field("count")) == []
    (problem,) = field_validator("count", 11, _field("count"))
    assert "count=11" in str(problem) and "1 to 10" in str(problem)
    (problem,) = field_validator("count", "5", _field("count"))
    assert "expected int" in str(problem)
    (problem,) = field_validator("power", float("nan"), _field("power"))
    assert "finite" in str(problem)
    assert field_validator("names", ("a", "b"), _field("names")) == []
    assert field_validator("names", ("a", 2), _field("names"))


def test_format_fields_and_validate_fields():
    example = _Example(count=2, power=5.0, names=("a",))
    names = [name for name, _, _ in format_fields(example)]
    assert names == ["count", "power", "names"]
    assert format_fields(example)[1][1] == 5.0
    assert validate_fields(example) is True
    with pytest.raises(TypeError):
        format_fields(_Example)  # the class, not an instance


def test_validate_fields_lists_every_problem():
    bad = _Example(count=0, power=2000.0, names=(1,))
    with pytest.raises(DingusException) as info:
        validate_fields(bad)
    message = str(info.value)
    assert "count=0" in message and "power=2000.0" in message and "names" in message
    assert "3 invalid" in message


def test_validate_fields_runs_cross_field_checks():
    with pytest.raises(DingusException, match="disagree"):
        validate_fields(_Example(count=1, names=("a", "b")))


def test_alternatives_with_one_nesting_level():
    assert type_check_nested_types(None, "tuple[int, ...] | None")
    assert type_check_nested_types((1, 2), "tuple[int, ...] | None")
    assert not type_check_nested_types((1, "a"), "tuple[int, ...] | None")
    with pytest.raises(ValueError):
        type_check_nested_types(1, "int | ")


def test_typing_annotations_are_understood():
    import typing

    from CalSciPy.bruker.validation import annotation_to_string

    assert annotation_to_string(typing.Optional[float]) == "Optional[float]"  # noqa: UP045
    assert annotation_to_string(float | None) == "Optional[float]"
    assert annotation_to_string(tuple[int, ...]) == "Tuple[int, ...]"
    assert annotation_to_string(typing.Union[int, str]) == "Union[int, str]"  # noqa: UP007
    var = dataclasses.field(default=0, metadata={"range": (0, 5)})
    var.name, var.type = "count", tuple[int, ...]
    assert field_validator("count", (1, 2), var) == []
    problems = field_validator("count", (1, 9), var)
    assert len(problems) == 1 and "count=9" in str(problems[0])
