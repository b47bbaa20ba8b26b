"""Tests of the protocol dataclasses in CalSciPy.bruker.xml_objects."""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy.bruker.validation import DingusException
from CalSciPy.bruker.xml_objects import (
    GalvoPoint,
    GalvoPointElement,
    GalvoPointGroup,
    GalvoPointList,
    MarkPointElement,
    MarkPointSeriesElements,
    Point,
    format_indices,
    parse_indices,
)


def _defaults(cls):
    return {f.name: f.default for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING}


def test_documented_defaults():
    point = GalvoPoint()
    assert (point.x, point.y, point.name, point.index) == (0.0, 0.0, "Point 0", 0)
    assert point.activity_type == "MarkPoints" and point.uncaging_laser == "Uncaging"
    assert point.duration == 100 and point.is_spiral is True and point.z == 0.0
    element = GalvoPointElement()
    assert element.points == "Point 0" and element.indices == (0,)  # int 0 → one index
    assert _defaults(GalvoPointElement)["indices"] == 0
    mark = MarkPointElement(points=(element,))
    assert mark.trigger_selection == "PFI0" and mark.parameter_set == "CurrentSettings"
    assert mark.async_sync_frequency == "FirstRepetition"
    assert mark.voltage_rec_category_name == "Current" and mark.repetitions == 1
    series = MarkPointSeriesElements(marks=(mark,))
    assert series.iterations == 1 and series.iteration_delay == 0.0
    assert series.calc_funct_map is False
    pt = Point()
    assert pt.index == 1 and pt.x == 0.5 and pt.spiral_width == 0.0340461221379181
    assert pt.spiral_size_in_microns == 20


def test_keyword_only():
    with pytest.raises(TypeError):
        GalvoPoint(1.0, 2.0)  # noqa: B018 - positional arguments refused


def test_ints_for_floats_are_converted():
    point = GalvoPoint(x=1, y=-2, uncaging_laser_power=5, duration=10)
    assert isinstance(point.x, float) and point.y == -2.0
    assert isinstance(point.uncaging_laser_power, float)
    point.duration = 7
    assert isinstance(point.duration, float) and point.duration == 7.0
    point.x = np.float32(0.5)
    assert type(point.x) is float


def test_lists_and_numpy_become_tuples():
    group = GalvoPointGroup(indices=np.array([0, 2, 4]))
    assert group.indices == (0, 2, 4) and all(type(i) is int for i in group.indices)
    element = GalvoPointElement(indices=[1, 2])
    mark = MarkPointElement(points=[element])
    assert mark.points == (element,)


def test_calc_func_map_alias():
    mark = MarkPointElement(points=(GalvoPointElement(),))
    a = MarkPointSeriesElements(marks=(mark,), calc_func_map=True)
    b = MarkPointSeriesElements(marks=(mark,), calc_funct_map=True)
    assert a == b and a.calc_funct_map is True and a.calc_func_map is True
    a.calc_func_map = False
    assert a.calc_funct_map is False
    assert "calc_func_map" in inspect.signature(MarkPointSeriesElements).parameters
    assert [f.name for f in dataclasses.fields(a)].count("calc_funct_map") == 1
    with pytest.raises(TypeError, match="disagree"):
        MarkPointSeriesElements(marks=(mark,), calc_funct_map=True, calc_func_map=False)


def test_wrong_types_on_construction_list_every_problem():
    with pytest.raises(DingusException) as info:
        GalvoPoint(x="left", name=3, is_spiral="yes", uncaging_laser_power=2000, duration=-1)
    message = str(info.value)
    for needle in ("x:", "name:", "is_spiral:", "uncaging_laser_power=2000.0",
                   "0.0 to 1000.0", "duration=-1.0"):
        assert needle in message
    assert "5 invalid" in message


def test_wrong_value_on_assignment_is_refused_and_object_unchanged():
    point = GalvoPoint(duration=50)
    with pytest.raises(DingusException, match="duration"):
        point.duration = -3
    assert point.duration == 50.0
    with pytest.raises(DingusException, match="is_spiral"):
        point.is_spiral = 1
    with pytest.raises(AttributeError):
        point.durration = 4  # typo: no such field
    with pytest.raises(DingusException):
        point.x = float("inf")


def test_bool_is_not_an_int():
    with pytest.raises(DingusException, match="index"):
        GalvoPoint(index=True)


@pytest.mark.timeout(5)
def test_empty_groups_and_empty_containers():
    with pytest.raises(DingusException, match="empty group"):
        GalvoPointGroup(indices=())
    with pytest.raises(DingusException, match="empty group"):
        GalvoPointElement(indices=())
    with pytest.raises(DingusException, match="at least one"):
        MarkPointElement(points=())
    with pytest.raises(DingusException, match="at least one"):
        MarkPointSeriesElements(marks=())
    assert GalvoPointList(galvo_points=()).groups == ()


def test_wrong_child_types():
    with pytest.raises(DingusException, match="points"):
        MarkPointElement(points=(GalvoPoint(),))
    with pytest.raises(DingusException, match="marks"):
        MarkPointSeriesElements(marks=(1, 2))


def test_group_indices_must_name_existing_points():
    points = tuple(GalvoPoint(index=i, name=f"Point {i}") for i in range(3))
    GalvoPointList(galvo_points=points, groups=(GalvoPointGroup(indices=(0, 2)),))
    with pytest.raises(DingusException, match=r"do not exist.*\[5\]"):
        GalvoPointList(galvo_points=points, groups=(GalvoPointGroup(indices=(0, 5)),))


def test_point_children_must_cover_indices():
    points = (Point(index=1), Point(index=2))
    GalvoPointElement(indices=(0, 1), point_elements=points)
    with pytest.raises(DingusException, match="do not exist"):
        GalvoPointElement(indices=(0, 1, 2), point_elements=points)


def test_find_point_or_group():
    gpl = GalvoPointList(galvo_points=(GalvoPoint(name="Point 0"),),
                         groups=(GalvoPointGroup(indices=(0,), name="Group 1"),))
    assert gpl.find("Group 1").indices == (0,)
    with pytest.raises(KeyError, match="Point 0"):
        gpl.find("Point 9")


def test_extra_attributes_validated():
    GalvoPoint(extra_attributes=(("Custom", "1"),))
    assert GalvoPoint(extra_attributes={"Custom": "1"}).extra_attributes == (("Custom", "1"),)
    with pytest.raises(DingusException, match="extra_attributes"):
        GalvoPoint(extra_attributes=(("X", "1"),))  # known attribute
    with pytest.raises(DingusException, match="extra_attributes"):
        GalvoPoint(extra_attributes=(("bad name", "1"),))


def test_text_must_be_xml_safe():
    with pytest.raises(DingusException, match="XML"):
        GalvoPoint(name="bad\x00name")


@pytest.mark.parametrize(("text", "one_based", "expected"), [
    ("1", True, (0,)),
    ("1-30", True, tuple(range(30))),
    ("1, 3, 5, 7", True, (0, 2, 4, 6)),
    ("1-3, 7", True, (0, 1, 2, 6)),
    (" 2 ", True, (1,)),
    ("0,1,2", False, (0, 1, 2)),
    ("0,", False, (0,)),            # PrairieView 5.5 one-point group
    ("1, 3,", True, (0, 2)),
])
def test_parse_indices(text, one_based, expected):
    assert parse_indices(text, one_based=one_based) == expected


@pytest.mark.parametrize("text", ["3-1", "a", "", "1,,2", "1-", "0", "-1", "1.5", ",", "1,,",
                                  ",1"])
def test_parse_indices_malformed(text):
    with pytest.raises(ValueError, match="malformed|Indices"):
        parse_indices(text)


@pytest.mark.timeout(5)
def test_parse_indices_refuses_absurd_ranges():
    with pytest.raises(ValueError, match="more than"):
        parse_indices("1-999999999999")


def test_format_indices():
    assert format_indices(tuple(range(30))) == "1-30"
    assert format_indices((0, 2, 4, 6)) == "1, 3, 5, 7"
    assert format_indices((1,)) == "2"
    assert format_indices((0, 1, 2, 6)) == "1-3, 7"
    assert format_indices((0, 1, 2), one_based=False, compact=False) == "0,1,2"


@settings(max_examples=200, deadline=None)
@given(indices=st.lists(st.integers(0, 5000), min_size=1, max_size=40).map(tuple),
       one_based=st.booleans(), compact=st.booleans())
def test_indices_format_parse_round_trip(indices, one_based, compact):
    text = format_indices(indices, one_based=one_based, compact=compact)
    assert parse_indices(text, one_based=one_based) == indices


def test_galvo_element_forms():
    GalvoPointElement(points=None, indices=None)                      # no points at all
    GalvoPointElement(points=None, indices=None, previous_points="Rand 1")
    GalvoPointElement(points=None, indices=None, x=0.0, y=0.0, spiral_size=1.07)
    with pytest.raises(DingusException, match="no Indices"):
        GalvoPointElement(points="Point 3", indices=None)
    with pytest.raises(DingusException, match="inline x and y"):
        GalvoPointElement(indices=(0,), y=1.0)
