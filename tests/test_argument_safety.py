"""Bad arguments get one clear error naming them, before any large allocation (issue 12: items
11, 12, 13 and 15 for the trace, event and reorganization functions)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy import event_processing as ep
from CalSciPy import reorganization, trace_processing
from CalSciPy.errors import CalSciPyError, InvalidArgumentError, InvalidArgumentTypeError

RNG = np.random.default_rng(12)
TRACES = RNG.random((3, 200))


# --------------------------------------------------------------------------------- item 11
@pytest.mark.parametrize("data", [
    np.ones(6) + 1j,
    np.ones((6, 2), dtype=np.complex64),
    pd.DataFrame({"a": np.ones(4) + 2j, "b": np.ones(4)}),
])
def test_bin_data_refuses_complex_input_instead_of_dropping_the_imaginary_part(data):
    with pytest.raises(TypeError, match="real") as info:
        ep.bin_data(data, 2, "mean")
    assert isinstance(info.value, ValueError)  # also catchable as 0.3.x-style ValueError


@pytest.mark.parametrize("fun", [
    lambda block: np.array(["x"] * block.shape[1]),
    lambda block, axis=0: np.full(block.shape[1], None, dtype=object),
])
def test_bin_data_refuses_a_function_returning_non_numbers(fun):
    with pytest.raises(TypeError, match="fun must reduce a bin to real numbers"):
        ep.bin_data(np.arange(8.0).reshape(4, 2), 2, fun)


@settings(max_examples=40, deadline=None)
@given(st.floats(1e300, 1.7e308), st.floats(-1.7e308, -1e300), st.floats(-10, 10))
def test_perona_malik_never_returns_nan_for_finite_input(high, low, middle):
    trace = np.array([middle, high, low, middle, 0.5 * high, middle])
    try:
        out = trace_processing.perona_malik_diffusion(trace)
    except InvalidArgumentError as err:
        assert "traces" in str(err) and "rescale" in str(err)
    else:
        assert np.isfinite(out).all()


def test_perona_malik_large_but_safe_values_still_work():
    trace = np.array([0.0, 1e300, 0.0, -1e300, 0.0])
    out = trace_processing.perona_malik_diffusion(trace, iters=3)
    assert np.isfinite(out).all() and out.max() <= 1e300


# --------------------------------------------------------------------------------- item 12
_BOUNDED_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))  # 3 GiB: no 8-60 GB request fits
import numpy as np
from CalSciPy import event_processing as ep, trace_processing as tp
from CalSciPy.errors import InvalidArgumentError
x = np.random.default_rng(0).random((2, 500))
calls = {
    "pre": lambda: ep.collect_waveforms(x, [[10], [20]], pre=10**9),
    "post": lambda: ep.collect_waveforms(x, [[10], [20]], post=10**9),
    "frame_rate": lambda: ep.identify_events(x, frame_rate=1e8),
    "sigma": lambda: tp.perona_malik_diffusion(x, sigma=1e9),
}
out = {}
for name, call in calls.items():
    try:
        call()
        out[name] = "no error"
    except InvalidArgumentError as err:
        out[name] = str(err)
    except MemoryError as err:
        out[name] = "MemoryError: " + str(err)
print(__import__("json").dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses RLIMIT_AS")
def test_window_and_kernel_sizes_are_bounded_before_allocating():
    result = subprocess.run([sys.executable, "-c", _BOUNDED_CHILD], capture_output=True,
                            text=True, check=True, timeout=240)
    messages = json.loads(result.stdout.strip().splitlines()[-1])
    for name, message in messages.items():
        assert message.startswith(name), (name, message)  # names the argument first
        assert "500 samples" in message, message  # and the data it was bounded by


def test_modest_windows_and_kernels_still_work():
    waves = ep.collect_waveforms(TRACES, [[5], [], [199]], pre=300, post=300)
    assert waves[0].shape == (1, 601) and np.isnan(waves[0][0, :295]).all()
    assert waves[0][0, 300] == TRACES[0, 5]
    assert len(ep.identify_events(TRACES, frame_rate=1000.0)) == 3  # σ = 1000 frames > 200
    assert np.isfinite(trace_processing.perona_malik_diffusion(TRACES, sigma=500.0)).all()


# --------------------------------------------------------------------------------- item 13
class _ReturnsNone:
    def fit_transform(self, values):
        return None


class _Halves:
    """A user scaler without scikit-learn: divides each feature by 2."""

    def fit_transform(self, values):
        return np.asarray(values) / 2


@pytest.mark.parametrize("scaler, error, message", [
    (None, TypeError, "scaler must be a scikit-learn style transformer class, got None"),
    (_ReturnsNone, TypeError, "fit_transform returned None for waveforms\\[0\\]\\[0\\]"),
    (lambda: type("Strings", (), {"fit_transform": lambda self, v: np.array(["a"] * len(v))})(),
     TypeError, "must return real numbers"),
    (lambda: type("Short", (), {"fit_transform": lambda self, v: v[:1]})(),
     ValueError, "returned 1 values for the 3 samples"),
])
def test_scale_waveforms_bad_scalers_are_named(scaler, error, message):
    with pytest.raises(error, match=message) as info:
        ep.scale_waveforms([np.arange(6.0).reshape(2, 3)], scaler=scaler)
    assert isinstance(info.value, CalSciPyError)


def test_scale_waveforms_user_scaler_still_works():
    block = np.arange(6.0).reshape(2, 3)
    (scaled,) = ep.scale_waveforms([block], scaler=_Halves)
    np.testing.assert_array_equal(scaled, block / 2)


@pytest.mark.parametrize("value", [1e20, -1e20, 2.0**63, 1e300])
@pytest.mark.parametrize("call", [
    lambda events: reorganization.generate_raster(events, total_frames=10),
    lambda events: ep.get_num_events(events),
    lambda events: ep.collect_waveforms(TRACES[:1], events, pre=1, post=1),
])
def test_huge_event_index_is_refused_showing_its_value(call, value):
    with pytest.raises(InvalidArgumentError) as info:
        call([[1, value]])
    assert "-9223372036854775808" not in str(info.value)
    assert f"{value:g}" in str(info.value)


# --------------------------------------------------------------------------------- item 15
def test_error_classes_are_catchable_as_0_3_x_code_expects():
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(InvalidArgumentError, AssertionError)
    assert issubclass(InvalidArgumentTypeError, TypeError)
    assert issubclass(InvalidArgumentTypeError, ValueError)
    assert issubclass(InvalidArgumentTypeError, CalSciPyError)


_VALUE_ERRORS = [
    lambda: reorganization.generate_tensor(np.ones((2, 10)), 3),  # does not divide
    lambda: reorganization.generate_tensor(np.ones((2, 10, 1)), 5),  # wrong rank
    lambda: reorganization.merge_tensor(np.ones((2, 10))),
    lambda: reorganization.generate_raster([[0, 12]], total_frames=10),
    lambda: reorganization.generate_raster([[-1]]),
    lambda: ep.bin_data(np.ones((4, 2)), 0, "mean"),
    lambda: ep.bin_data(np.ones((4, 2)), 2, "mode"),
    lambda: ep.identify_events(TRACES, timeout=0),
    lambda: ep.identify_events(np.array([[1.0, np.nan, 2.0]])),
    lambda: ep.convert_tau(1.5, 0.1),
    lambda: ep.collect_waveforms(TRACES, [[1], [2]]),  # 2 event lists for 3 neurons
    lambda: trace_processing.calculate_dfof(TRACES, frame_rate=1.0),
    lambda: trace_processing.calculate_dfof(TRACES, method="nope"),
    lambda: trace_processing.perona_malik_diffusion(TRACES, kappa=2.0),
    lambda: trace_processing.perona_malik_diffusion(TRACES, iters=0),
    lambda: trace_processing.calculate_standardized_noise(TRACES, frame_rate=-3),
]


@pytest.mark.parametrize("call", _VALUE_ERRORS)
def test_invalid_argument_values_are_value_and_assertion_errors(call):
    with pytest.raises(InvalidArgumentError) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, AssertionError)


@pytest.mark.parametrize("call", [
    lambda: reorganization.generate_raster(np.array([[1.5, "a"]], dtype=object)),
    lambda: reorganization.generate_raster([["a", "b"]]),
    lambda: reorganization.generate_raster([[0.5]]),
    lambda: reorganization.generate_tensor(np.ones((2, 10)), 2.0),
    lambda: ep.get_num_events(np.array([[True, False]])),
    lambda: ep.bin_data(np.array(["a", "b"]), 1, "sum"),
    lambda: trace_processing.detrend_polynomial(np.array([1 + 1j, 2, 3])),
    lambda: trace_processing.perona_malik_diffusion(TRACES, iters=True),
])
def test_argument_type_errors_are_also_value_errors(call):
    with pytest.raises(InvalidArgumentTypeError) as info:
        call()
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
