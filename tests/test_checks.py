"""``CalSciPy._checks``: the one validation vocabulary, and the promise that the same bad input
gets the same exception type and wording wherever it goes in."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy import _atomic, _checks, event_processing, image_processing, misc, reorganization
from CalSciPy._checks import (
    as_event_lists,
    as_path,
    as_traces,
    check_finite_traces,
    check_int,
    check_real,
    check_window,
)
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

NOT_INTEGERS = st.one_of(
    st.booleans(), st.just(np.bool_(True)), st.floats(allow_nan=True), st.text(max_size=3),
    st.none(), st.just(1 + 0j), st.lists(st.integers(), max_size=2),
)
NOT_REALS = st.one_of(
    st.booleans(), st.text(max_size=3), st.none(), st.just(1 + 2j), st.just(np.complex64(1)),
    st.lists(st.floats(), max_size=2),
)


# ----------------------------------------------------------------------------- the helpers
@given(st.integers(-10**30, 10**30), st.integers(-100, 100))
def test_check_int_accepts_integers_and_applies_the_bound(value, minimum):
    if value < minimum:
        with pytest.raises(InvalidArgumentError, match=f"^n must be >= {minimum}, got {value}$"):
            check_int(value, "n", minimum=minimum)
    else:
        assert check_int(value, "n", minimum=minimum) == value
        assert type(check_int(np.int64(min(value, 2**62)), "n")) is int


@given(NOT_INTEGERS)
def test_check_int_refuses_non_integers_with_one_wording(value):
    with pytest.raises(InvalidArgumentTypeError) as info:
        check_int(value, "n")
    assert str(info.value) == f"n must be an integer, got {value!r}"


def test_check_int_maximum():
    assert check_int(5, "n", maximum=5) == 5
    with pytest.raises(InvalidArgumentError, match="^n must be <= 5, got 6$"):
        check_int(6, "n", maximum=5)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_check_real_positive_finite(value):
    if np.isfinite(value) and value > 0:
        assert check_real(value, "x", positive=True, unit="s") == value
    else:
        with pytest.raises(InvalidArgumentError) as info:
            check_real(value, "x", positive=True, unit="s")
        assert str(info.value) == f"x must be a finite number > 0 s, got {value!r}"


def test_check_real_bounds_and_infinity():
    assert check_real(np.float32(0.5), "k", minimum=0, maximum=1) == 0.5
    assert check_real(np.inf, "x", finite=False) == np.inf
    for bad in (np.nan, -0.1, 1.1):
        with pytest.raises(InvalidArgumentError, match=r"^k must be a finite number >= 0 and "
                                                        r"<= 1, got"):
            check_real(bad, "k", minimum=0, maximum=1)
    with pytest.raises(InvalidArgumentError, match="must be a number"):
        check_real(np.nan, "x", finite=False)  # NaN is never a value


@given(NOT_REALS)
def test_check_real_refuses_non_reals(value):
    with pytest.raises(InvalidArgumentTypeError) as info:
        check_real(value, "x", unit="Hz")
    assert str(info.value) == f"x must be a real number (Hz), got {value!r}"


def test_check_window_bound():
    assert check_window(_checks.WINDOW_FLOOR, "w", 10) == _checks.WINDOW_FLOOR
    assert check_window(4 * 10**6, "w", 10**6) == 4 * 10**6
    with pytest.raises(InvalidArgumentError, match=r"^w=9 asks for a kernel of 400001 samples"):
        check_window(400_001, "w=9", 100_000, what="kernel")


def test_as_path_lives_in_checks_and_atomic_reexports_it(tmp_path):
    assert _atomic.as_path is as_path
    assert as_path(os.fspath(tmp_path)) == tmp_path
    assert as_path("~/x") == Path.home() / "x"
    with pytest.raises(InvalidArgumentTypeError, match="^dst must be a str or os.PathLike, "
                                                       "not NoneType$"):
        as_path(None, "dst")


def test_as_traces_and_finite_check():
    traces, was_1d = as_traces([1, 2, 3])
    assert traces.shape == (1, 3) and was_1d
    data = np.ones((12, 5))
    data[[3, 7, 8, 9, 10, 11], 2] = np.nan
    with pytest.raises(InvalidArgumentError, match=r"^traces contains NaN or infinite values "
                                                   r"\(neuron\(s\) 3, 7, 8, 9, 10, \.\.\.\)"):
        as_traces(data, finite=True)
    check_finite_traces(np.ones((2, 3), dtype=int))  # integers are always finite
    with pytest.raises(InvalidArgumentTypeError, match="real numbers"):
        as_traces(np.ones(3, dtype=complex))
    with pytest.raises(InvalidArgumentError, match="1-D .* or 2-D"):
        as_traces(np.ones((2, 2, 2)))


# ----------------------------------------------------------------------------- event lists
@settings(max_examples=60)
@given(st.lists(st.lists(st.integers(0, 49), max_size=6), min_size=1, max_size=4))
def test_event_lists_keep_order_and_matrix_mode_reads_rasters(lists):
    events = as_event_lists(lists, n_frames=50)
    assert [e.tolist() for e in events] == lists and all(e.dtype == np.int64 for e in events)
    raster = reorganization.generate_raster(lists, total_frames=50)
    from_matrix = as_event_lists(raster, allow_matrix=True, n_frames=50)
    assert [e.tolist() for e in from_matrix] == [sorted(set(row)) for row in lists]
    # without allow_matrix a 2-D array is one row of frame indices per neuron
    assert [e.tolist() for e in as_event_lists(np.array([[3, 1]]))] == [[3, 1]]


def test_event_lists_one_neuron_forms():
    assert [e.tolist() for e in as_event_lists([4, 2], allow_flat=True)] == [[4, 2]]
    assert [e.tolist() for e in as_event_lists(np.array([False, True, True]),
                                               allow_matrix=True)] == [[1, 2]]
    assert [e.tolist() for e in as_event_lists([[True, False]], allow_matrix=True)] == [[0]]
    assert [e.tolist() for e in as_event_lists([[2.0, 5.0]])] == [[2, 5]]


@pytest.mark.parametrize("bad, error, message", [
    ([[1.5]], InvalidArgumentTypeError, r"event_indices\[0\] must hold integer frame indices"),
    ([["a"]], InvalidArgumentTypeError, r"event_indices\[0\] must hold integer frame indices"),
    ([[True]], InvalidArgumentTypeError, r"event_indices\[0\] must hold integer frame indices"),
    ([3], InvalidArgumentTypeError, r"event_indices\[0\] must be a sequence"),
    ("abc", InvalidArgumentTypeError, "must be an iterable"),
    ([[-1]], InvalidArgumentError, r"event_indices\[0\] contains a negative frame index \(-1\)"),
    ([[1e20]], InvalidArgumentError, r"frame index 1e\+20, beyond any recording"),
    ([np.array([2**63], dtype=np.uint64)], InvalidArgumentError, "beyond any recording"),
    ([[[1, 2]]], InvalidArgumentError, "flat 1-D sequence"),
])
def test_event_list_errors(bad, error, message):
    with pytest.raises(error, match=message):
        as_event_lists(bad)


# ------------------------------------------------ the same bad input, the same error everywhere
_INTEGER_ARGUMENTS = {
    "block_size": lambda v: misc.generate_blocks(range(10), v),
    "window_length": lambda v: misc.generate_sliding_window(np.arange(10), v),
    "index": lambda v: misc.generate_padded_filename("folder", v),
    "chunk_size": lambda v: reorganization.generate_tensor(np.ones((2, 10)), v),
    "total_frames": lambda v: reorganization.generate_raster([[1]], v),
    "bin_length": lambda v: event_processing.bin_data(np.ones((4, 2)), v, "mean"),
    "timeout": lambda v: event_processing.identify_events(np.ones((1, 20)), timeout=v),
    "pre": lambda v: event_processing.collect_waveforms(np.ones((1, 20)), [[1]], pre=v),
    "image block_size": lambda v: image_processing.median_filter(np.ones((3, 4, 4)),
                                                                 block_size=v),
}


@settings(max_examples=25, deadline=None)
@given(NOT_INTEGERS.filter(lambda v: v is not None))  # None means "default" for some of them
def test_a_non_integer_gets_the_same_error_from_every_integer_argument(value):
    for name, call in _INTEGER_ARGUMENTS.items():
        with pytest.raises(InvalidArgumentTypeError) as info:
            call(value)
        argument = name.split()[-1]
        assert str(info.value) == f"{argument} must be an integer, got {value!r}", name


@settings(max_examples=15, deadline=None)
@given(st.integers(-10**6, -1))
def test_a_negative_integer_gets_the_same_error_from_every_integer_argument(value):
    for name, call in _INTEGER_ARGUMENTS.items():
        with pytest.raises(InvalidArgumentError, match=r" must be >= [01], got -\d+$") as info:
            call(value)
        assert str(info.value).startswith(name.split()[-1]), name


_RATE_ARGUMENTS = {
    "calculate_dfof": lambda v: __import__("CalSciPy.trace_processing").trace_processing
    .calculate_dfof(np.ones((1, 50)), frame_rate=v),
    "identify_events": lambda v: event_processing.identify_events(np.ones((1, 20)),
                                                                  frame_rate=v),
    "calculate_firing_rates": lambda v: event_processing.calculate_firing_rates(np.ones(3), v),
    "get_inter_event_intervals": lambda v: event_processing.get_inter_event_intervals([[1]], v),
}


@settings(max_examples=25, deadline=None)
@given(st.one_of(NOT_REALS, st.floats(allow_nan=True).filter(lambda f: not f > 0)))
def test_a_bad_frame_rate_gets_the_same_error_type_from_every_function(value):
    errors = set()
    for name, call in _RATE_ARGUMENTS.items():
        with pytest.raises((InvalidArgumentError, InvalidArgumentTypeError)) as info:
            call(value)
        assert str(info.value).startswith("frame_rate must be a "), name
        errors.add(type(info.value))
    assert len(errors) == 1, errors


def _path_entry_points():
    from CalSciPy import io_tools
    from CalSciPy.bruker.data import load_bruker_tifs, load_voltage_recording
    from CalSciPy.bruker.session import read_prairieview_session

    x = np.zeros((2, 4, 4), np.uint16)
    return {
        "save_images": ("path", lambda p: io_tools.save_images(p, x)),
        "load_images": ("path", lambda p: io_tools.load_images(p)),
        "save_binary": ("path", lambda p: io_tools.save_binary(p, x)),
        "load_binary": ("path", lambda p: io_tools.load_binary(p)),
        "filter_to_file": ("dst", lambda p: image_processing.filter_to_file(x, p)),
        "load_bruker_tifs": ("folder", lambda p: load_bruker_tifs(p)),
        "read_prairieview_session": ("folder", lambda p: read_prairieview_session(p)),
        "load_voltage_recording": ("path", lambda p: load_voltage_recording(p)),
        "generate_padded_filename": ("output_folder",
                                     lambda p: misc.generate_padded_filename(p, 1)),
    }


@settings(max_examples=10, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.floats(), st.just(b"bytes"), st.just([])))
def test_a_non_path_gets_the_same_error_from_every_path_argument(value):
    for function, (name, call) in _path_entry_points().items():
        with pytest.raises(InvalidArgumentTypeError) as info:
            call(value)
        expected = f"{name} must be a str or os.PathLike, not {type(value).__name__}"
        assert str(info.value) == expected, function
