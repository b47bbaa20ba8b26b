"""Tests for spike inference, deconvolution-based event detection and event scoring."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy import event_processing as ep
from CalSciPy.errors import MissingDependencyError

pytest.importorskip("oasis.functions")


@pytest.fixture(scope="module")
def recording():
    synthetic = pytest.importorskip("CalSciPy.synthetic")
    traces = synthetic.generate_traces(16, 3000, seed=11)
    try:
        from CalSciPy.trace_processing import calculate_dfof

        dfof = calculate_dfof(traces.traces, 30.0, method="sliding")
    except (ImportError, ValueError, TypeError):  # ΔF/F0 module not available: use the truth
        dfof = traces.dfof_true + np.random.default_rng(0).normal(
            0, 0.06, traces.dfof_true.shape
        )
    return traces, np.asarray(dfof, dtype=np.float64)


@pytest.fixture(scope="module")
def inference(recording):
    return ep.infer_spikes(recording[1], 30.0, n_jobs=1, denoised=True)


# --------------------------------------------------------------------------- infer_spikes
def test_infer_spikes_result(recording, inference):
    traces, dfof = recording
    assert isinstance(inference, ep.SpikeInference)
    assert inference.spikes.shape == dfof.shape and inference.denoised.shape == dfof.shape
    assert np.all(inference.spikes >= 0)
    assert inference.ar_coefficients.shape == (dfof.shape[0], 2)
    assert inference.baseline.shape == inference.noise.shape == (dfof.shape[0],)
    assert np.all(inference.noise > 0)
    tau = inference.tau_decay
    assert tau.shape == (dfof.shape[0],) and np.nanmin(tau) > 0
    # fitted decays are in the range of the simulated ones (0.3-1.5 s), loosely
    assert 0.1 < np.nanmedian(tau) < 3.0
    # the inferred activity is usable as a firing-rate input
    rates = ep.calculate_firing_rates(inference.spikes, 30.0)
    assert rates.shape == dfof.shape


def test_infer_spikes_process_pool_matches_serial(recording, inference):
    dfof = recording[1][:6]
    threads = ep.infer_spikes(dfof, 30.0, n_jobs=2)
    np.testing.assert_array_equal(threads.spikes, inference.spikes[:6])
    np.testing.assert_array_equal(threads.tau_decay, inference.tau_decay[:6])
    # AR refinement runs oasis-deconv in a process pool
    serial = ep.infer_spikes(dfof, 30.0, ar_order=1, optimize_g=2, n_jobs=1, progress=False)
    pooled = ep.infer_spikes(dfof, 30.0, ar_order=1, optimize_g=2, n_jobs=2, progress=False)
    np.testing.assert_allclose(pooled.spikes, serial.spikes, atol=1e-10)
    np.testing.assert_allclose(pooled.tau_decay, serial.tau_decay)


def test_infer_spikes_pool_after_numba_parallel_kernels(recording, inference):
    # the workers are forked; numba's parallel kernels (GNU OpenMP layer) ran in this parent
    # just before, and a forked child that re-entered that runtime would abort the pool
    from CalSciPy.trace_processing import calculate_dfof

    calculate_dfof(np.random.default_rng(0).normal(100, 1, (8, 600)), 30.0)
    serial = ep.infer_spikes(recording[1][:4], 30.0, ar_order=1, optimize_g=2, n_jobs=1,
                             progress=False)
    pooled = ep.infer_spikes(recording[1][:4], 30.0, ar_order=1, optimize_g=2, n_jobs=2,
                             progress=False)
    np.testing.assert_allclose(pooled.spikes, serial.spikes, atol=1e-10)


_THREADS_AT_FORK: list[set] | None = None


def _record_threads_at_fork():
    if _THREADS_AT_FORK is not None:
        import threading

        _THREADS_AT_FORK.append({t.ident for t in threading.enumerate()})


def test_infer_spikes_forks_before_starting_the_progress_bar(recording, inference):
    # tqdm's monitor is a thread: it must not exist yet when the pool forks its workers
    import os
    import threading

    global _THREADS_AT_FORK
    if not hasattr(os, "register_at_fork"):
        pytest.skip("no os.register_at_fork")
    if not getattr(test_infer_spikes_forks_before_starting_the_progress_bar, "hooked", False):
        os.register_at_fork(before=_record_threads_at_fork)
        test_infer_spikes_forks_before_starting_the_progress_bar.hooked = True
    from tqdm.auto import tqdm

    if tqdm.monitor is not None:  # left running by an earlier bar: stop it (joins the thread)
        tqdm.monitor.exit()
        tqdm.monitor = None
    before = {t.ident for t in threading.enumerate()}
    _THREADS_AT_FORK = []
    try:
        pooled = ep.infer_spikes(recording[1][:4], 30.0, ar_order=1, optimize_g=2, n_jobs=2,
                                 progress=True)
    finally:
        seen, _THREADS_AT_FORK = _THREADS_AT_FORK, None
    assert pooled.spikes.shape == (4, recording[1].shape[1])
    for threads in seen:  # empty unless the start method forks (Linux up to Python 3.13)
        assert threads <= before, "infer_spikes forked while a thread of its own was running"


def test_deconvolution_workers_limit_only_blas(monkeypatch, recording):
    # the worker must not call into the OpenMP runtime at all (it is forked after numba's
    # OpenMP threads may have started): only the BLAS pools are limited
    import threadpoolctl

    from CalSciPy._spikes import inference as module

    calls = []
    real = threadpoolctl.threadpool_limits

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", spy)
    options = {"ar_order": 1, "tau_decay": None, "tau_rise": None, "frame_rate": 30.0,
               "optimize_g": 0, "denoised": True}
    module._deconvolve_rows(recording[1][:1], options)
    assert calls == [{"limits": 1, "user_api": "blas"}]


def test_infer_spikes_fixed_ar1_kernel_and_1d(recording):
    one = ep.infer_spikes(recording[1][0], 30.0, ar_order=1, tau_decay=0.5)
    assert one.spikes.shape == (recording[1].shape[1],) and one.ar_coefficients.shape == (1,)
    assert one.tau_decay == pytest.approx(0.5, rel=1e-6)
    two = ep.infer_spikes(recording[1][:2], 30.0, tau_decay=0.8, tau_rise=0.05, n_jobs=1)
    np.testing.assert_allclose(two.tau_decay, 0.8, rtol=1e-6)
    d, r = np.exp(-1 / (0.8 * 30)), np.exp(-1 / (0.05 * 30))
    np.testing.assert_allclose(two.ar_coefficients, [[d + r, -d * r]] * 2, rtol=1e-9)


def test_infer_spikes_flat_and_short_traces():
    flat = np.vstack([np.zeros(300), np.full(300, 2.0)])
    for order in (1, 2):
        result = ep.infer_spikes(flat, ar_order=order, n_jobs=1)
        assert np.all(result.spikes == 0) and np.all(np.isnan(result.tau_decay))
        np.testing.assert_array_equal(result.baseline, [0.0, 2.0])
        assert [e.size for e in ep.detect_events(flat, inference=result)] == [0, 0]
    empty = ep.infer_spikes(np.zeros((0, 50)), progress=False, denoised=True)  # no neurons
    assert empty.spikes.shape == empty.denoised.shape == (0, 50)
    assert empty.ar_coefficients.shape == (0, 2) and empty.tau_decay.shape == (0,)
    assert ep.detect_events(np.zeros((0, 50)), progress=False) == []
    short = ep.infer_spikes(np.random.default_rng(0).normal(size=(2, 10)), n_jobs=1)
    assert short.spikes.shape == (2, 10) and np.all(np.isfinite(short.spikes))


@settings(max_examples=15, deadline=None)
@given(
    order=st.sampled_from([1, 2]),
    lam=st.sampled_from([None, 0.0, 0.05]),
    dtype=st.sampled_from(["float64", "float32"]),
    n_jobs=st.sampled_from([1, 2]),
    neurons=st.sampled_from([1, 20]),
)
def test_without_denoised_every_other_result_is_identical(recording, order, lam, dtype, n_jobs,
                                                         neurons):
    dfof = recording[1][:, :600].astype(dtype)
    dfof = np.vstack([dfof] * 2)[:neurons]  # 20 neurons: more than one thread-pool block
    options = dict(ar_order=order, lam=lam, n_jobs=n_jobs, progress=False)
    if lam is not None:
        options.update(tau_decay=0.6, tau_rise=0.05 if order == 2 else None)
    full = ep.infer_spikes(dfof, 30.0, denoised=True, **options)
    lean = ep.infer_spikes(dfof, 30.0, denoised=False, **options)
    assert lean.denoised is None and full.denoised.shape == dfof.shape
    default = ep.infer_spikes(dfof, 30.0, **options)  # the default keeps the spikes only
    assert default.denoised is None
    np.testing.assert_array_equal(default.spikes, full.spikes)
    for name in ("spikes", "baseline", "noise", "ar_coefficients", "tau_decay"):
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name), err_msg=name)
    assert lean.spikes.dtype == full.spikes.dtype
    one = ep.infer_spikes(dfof[0], 30.0, denoised=False, **options)  # 1-D input
    assert one.denoised is None
    np.testing.assert_array_equal(one.spikes, full.spikes[0])


def test_without_denoised_oasis_deconv_path_and_bad_flag(recording):
    dfof = recording[1][:3, :900]
    full = ep.infer_spikes(dfof, 30.0, ar_order=1, optimize_g=2, n_jobs=1, progress=False,
                           denoised=True)
    lean = ep.infer_spikes(dfof, 30.0, ar_order=1, optimize_g=2, n_jobs=1, progress=False,
                           denoised=False)
    assert lean.denoised is None and full.denoised.shape == dfof.shape
    np.testing.assert_array_equal(lean.spikes, full.spikes)
    np.testing.assert_array_equal(lean.ar_coefficients, full.ar_coefficients)
    # events need only the spikes and noise levels
    assert [e.tolist() for e in ep.detect_events(dfof, 30.0, inference=lean)] == [
        e.tolist() for e in ep.detect_events(dfof, 30.0, inference=full)]
    for bad in ("no", 0, None):
        with pytest.raises(ValueError, match="denoised must be True or False"):
            ep.infer_spikes(dfof, 30.0, denoised=bad)


def test_infer_spikes_bad_input(recording):
    dfof = recording[1][:2].copy()
    with pytest.raises(ValueError, match="method"):
        ep.infer_spikes(dfof, method="mlspike")
    with pytest.raises(ValueError, match="ar_order"):
        ep.infer_spikes(dfof, ar_order=3)
    with pytest.raises(ValueError, match="tau_rise"):
        ep.infer_spikes(dfof, tau_decay=0.5)
    with pytest.raises(ValueError, match="n_jobs"):
        ep.infer_spikes(dfof, n_jobs=0)
    dfof[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ep.infer_spikes(dfof)
    with pytest.raises(ValueError, match="dfof"):
        ep.infer_spikes(np.zeros((2, 3, 40)))


def test_missing_oasis_names_the_spikes_extra(monkeypatch, recording, inference):
    # a None entry in sys.modules makes ``import oasis.functions`` raise ImportError
    monkeypatch.setitem(sys.modules, "oasis", None)
    monkeypatch.setitem(sys.modules, "oasis.functions", None)
    # the compiled solver does not need oasis-deconv: same result without it
    without = ep.infer_spikes(recording[1][:3], 30.0, n_jobs=1, progress=False)
    np.testing.assert_array_equal(without.spikes, inference.spikes[:3])
    # AR refinement runs oasis-deconv itself
    with pytest.raises(MissingDependencyError, match=r"calscipy\[spikes\]"):
        ep.infer_spikes(np.random.default_rng(0).normal(size=(2, 100)), optimize_g=1)


# --------------------------------------------------------------------------- vs oasis-deconv
def _oasis_deconvolve(dfof: np.ndarray, ar_order: int):
    """Independent reference: ``oasis.functions.deconvolve`` per trace (AR(1); AR(2):
    ``tau_r=None``, its ``constrained_onnlsAR2``), with oasis' own parameter estimation;
    global RNG seeded per trace as infer_spikes documents."""
    from oasis import functions

    out = []
    state = np.random.get_state()  # noqa: NPY002 - oasis draws from the legacy global RNG
    try:
        for y in np.asarray(dfof, dtype=np.float64):
            np.random.seed(0)  # noqa: NPY002
            if ar_order == 1:
                c, s, b, g, _ = functions.deconvolve(y, penalty=1, b_nonneg=False)
            else:
                c, s, b, g, _ = functions.deconvolve(y, tau_r=None, penalty=1, b_nonneg=False)
            out.append((np.maximum(s, 0), c, b, np.ravel(g), np.abs(y).max(),
                        functions.GetSn(y)))
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return out


def _ar2_target(y: np.ndarray, g: np.ndarray, sn: float) -> np.ndarray:
    """oasis-deconv's AR(2) problem (``constrained_onnlsAR2``): baseline b and penalty λ from
    ``constrained_oasisAR1`` on the 5x decimated trace; returns the penalised target ``yl``
    of ``min ½|c - yl|² s.t. c[t] - g1 c[t-1] - g2 c[t-2] >= 0``."""
    from oasis import functions

    frames = y.size
    d = (g[0] + np.sqrt(g[0] ** 2 + 4 * g[1])) / 2
    _, _, b, _, lam = functions.constrained_oasisAR1(
        y[: frames // 5 * 5].reshape(-1, 5).mean(1), d**5, sn / np.sqrt(5),
        optimize_b=True, b_nonneg=False, optimize_g=0,
    )
    lam *= (1 - d**5) / (1 - g[0] - g[1])
    target = y - b - lam * (1 - g[0] - g[1])
    target[-2] = y[-2] - b - lam * (1 - g[0])
    target[-1] = y[-1] - b - lam
    return target


def _assert_ar2_optimal(result, dfof: np.ndarray, reference) -> None:
    """Our AR(2) calcium solves oasis' problem: feasible, and at or below the objective of
    oasis' own solutions of it (its windowed NNLS in ``deconvolve``, its greedy
    ``oasisAR2``); parameters and noise are oasis' estimates; baseline = mean(y - c).
    (The exact optimum itself is checked against scipy's NNLS in
    ``test_exact_ar2_step_equals_nnls``.)"""
    from oasis import oasis_methods
    from scipy.signal import lfilter

    spikes = np.atleast_2d(result.spikes)
    denoised = np.atleast_2d(result.denoised).astype(np.float64)
    for i, (s_ref, _c, _b, g, size, sn) in enumerate(reference):
        y = np.asarray(dfof[i], dtype=np.float64)
        np.testing.assert_allclose(np.atleast_1d(result.noise)[i], sn, rtol=1e-9)
        np.testing.assert_allclose(np.atleast_2d(result.ar_coefficients)[i], g, rtol=1e-9)
        target = _ar2_target(y, g, sn)
        c = denoised[i]
        s = c - g[0] * np.concatenate([[0], c[:-1]]) - g[1] * np.concatenate([[0, 0], c[:-2]])
        # relative to the activity, or to the data where there is none (rounding level)
        tol = max(1e-6 * s.max(), 1e-9 * size, 1e-300)
        assert s.min() >= -tol, i  # feasible
        np.testing.assert_allclose(spikes[i], np.maximum(s, 0), rtol=1e-6, atol=tol)
        c_greedy = oasis_methods.oasisAR2(target + 0, float(g[0]), float(g[1]), lam=0.0)[0]
        ours = 0.5 * np.sum((c - target) ** 2)
        slack = 1e-9 * np.sum(target**2) + 1e-12
        # oasis' NNLS truncates the kernel after its window (~200 frames): its calcium is the
        # calcium of its spikes under the full kernel, a feasible point of the same problem
        c_oasis = lfilter([1.0], [1.0, -g[0], -g[1]], s_ref)
        assert ours <= 0.5 * np.sum((c_oasis - target) ** 2) + slack, i
        # the greedy pass lets its first pool decay freely from any value (s[1] < 0 is
        # allowed there): it solves the same problem only where that pool is feasible
        if c_greedy.size < 2 or c_greedy[1] - g[0] * c_greedy[0] >= 0:
            assert ours <= 0.5 * np.sum((c_greedy - target) ** 2) + slack, i
        np.testing.assert_allclose(np.atleast_1d(result.baseline)[i], np.mean(y - c),
                                   rtol=1e-6, atol=1e-9 * max(size, 1e-300))


def _assert_matches_reference(result, reference, rtol=1e-6):
    spikes = np.atleast_2d(result.spikes)
    denoised = np.atleast_2d(result.denoised)
    for i, (s, c, b, g, size, sn) in enumerate(reference):
        # the noise level (Welch PSD, compiled) is oasis' GetSn
        np.testing.assert_allclose(np.atleast_1d(result.noise)[i], sn, rtol=1e-9)
        # relative to the trace's activity; a trace without any has rounding-level spikes
        # (~1e-17 of the data) on both sides
        floor = 1e-9 * max(size, 1e-300)
        assert np.abs(spikes[i] - s).max() <= rtol * max(np.abs(s).max(), floor), i
        assert np.abs(denoised[i] - c).max() <= rtol * max(np.abs(c).max(), floor), i
        assert abs(np.atleast_1d(result.baseline)[i] - b) <= rtol * max(1.0, abs(b)), i
        np.testing.assert_allclose(np.atleast_2d(result.ar_coefficients)[i], g, rtol=1e-9)


def test_ar1_equals_oasis_deconvolve(recording, inference):
    dfof = recording[1][:6]
    ours = ep.infer_spikes(dfof, 30.0, ar_order=1, n_jobs=2, progress=False, denoised=True)
    _assert_matches_reference(ours, _oasis_deconvolve(dfof, 1))


def test_ar2_solves_oasis_problem_at_least_as_well(recording, inference):
    dfof = recording[1][:6]
    _assert_ar2_optimal(inference, dfof, _oasis_deconvolve(dfof, 2))


def _exact_ar2(target: np.ndarray, g1: float, g2: float) -> np.ndarray:
    """Direct reference: ``min ½|K s - target|², s >= 0`` with ``K = G⁻¹`` (scipy's NNLS)."""
    from scipy.optimize import nnls

    frames = target.size
    G = np.eye(frames) - g1 * np.eye(frames, k=-1) - g2 * np.eye(frames, k=-2)
    K = np.linalg.inv(G)
    s, _ = nnls(K, target, maxiter=50 * frames)
    return K @ s


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    frames=st.integers(3, 160),
    decay=st.floats(0.5, 0.99),
    rise=st.floats(0.0, 0.9),
    rate=st.floats(0.0, 0.3),
)
def test_exact_ar2_step_equals_nnls(seed, frames, decay, rise, rate):
    # the compiled exact step from OASIS' greedy start against scipy's NNLS on the same problem
    from CalSciPy._spikes import oasis

    rng = np.random.default_rng(seed)
    d, r = decay, decay * rise * 0.999
    g1, g2 = d + r, -d * r
    spikes = (rng.random(frames) < rate) * rng.uniform(0.2, 2, frames)
    calcium = np.zeros(frames)
    for t in range(frames):
        calcium[t] = spikes[t] + (g1 * calcium[t - 1] if t else 0) + (
            g2 * calcium[t - 2] if t > 1 else 0)
    target = calcium + rng.normal(0, 0.2, frames) - 0.05
    g11, g12, g11g11, g11g12, yl, pv, pw, sd, sr, c, s = (np.empty(frames) for _ in range(11))
    hd, hr = np.empty(frames + 1), np.empty(frames + 1)
    pt, pl = np.empty(frames, dtype=np.int64), np.empty(frames, dtype=np.int64)
    if r > 0:
        oasis._kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, hd, hr)
        oasis._pav_ar2(target, 0.0, g1, g2, 0.0, d, r, g11, g12, g11g11, g11g12, hd, hr,
                       yl, pv, pw, pt, pl, sd, sr, c, s)
        s[0] = c[0]
        if frames > 1:
            s[1] = c[1] - g1 * c[0]
    else:  # AR(1)-like kernel: start from nothing (all frames clamped)
        s[:] = 0.0
    np.testing.assert_allclose(yl if r > 0 else target, target)
    scratch = [np.empty(frames) for _ in range(4)]
    iterations = oasis.project_ar2(target, g1, g2, c, s, pt, pl, *scratch,
                                   oasis.MAX_PROJECT_ITER)
    assert iterations > 0
    expected = _exact_ar2(target, g1, g2)
    scale = max(np.abs(target).max(), 1e-12)
    np.testing.assert_allclose(c, expected, atol=1e-7 * scale)
    assert s.min() >= 0.0
    np.testing.assert_allclose(s[2:], (c[2:] - g1 * c[1:-1] - g2 * c[:-2]), atol=1e-9 * scale)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    neurons=st.integers(1, 3),
    frames=st.sampled_from([10, 37, 255, 256, 400, 1000]),
    dtype=st.sampled_from(["float64", "float32", "int16"]),
    order=st.sampled_from([1, 2]),
)
def test_matches_oasis_for_any_shape_and_dtype(seed, neurons, frames, dtype, order):
    # calcium-like traces: sparse spikes through an AR(1) kernel plus noise; int16 traces are
    # ΔF/F0 in thousandths (ties between equal samples)
    rng = np.random.default_rng(seed)
    spikes = (rng.random((neurons, frames)) < 0.02) * rng.uniform(0.5, 2, (neurons, frames))
    calcium = np.zeros_like(spikes)
    for t in range(frames):
        calcium[:, t] = spikes[:, t] + (0.95 * calcium[:, t - 1] if t else 0)
    dfof = calcium + rng.normal(0, rng.uniform(0.05, 0.3), (neurons, frames))
    if dtype == "int16":
        dfof = np.round(dfof * 1000).astype(np.int16)
    else:
        dfof = dfof.astype(dtype)
    ours = ep.infer_spikes(dfof, 30.0, ar_order=order, n_jobs=1, progress=False, denoised=True)
    # float32 traces give float32 results (half the memory), anything else float64
    expected_dtype = np.float32 if dtype == "float32" else np.float64
    assert ours.spikes.dtype == expected_dtype and ours.denoised.dtype == expected_dtype
    assert ours.spikes.shape == dfof.shape
    assert np.all(ours.spikes >= 0) and np.all(np.isfinite(ours.denoised))
    reference = _oasis_deconvolve(dfof, order)
    if order == 1:
        _assert_matches_reference(ours, reference)
        return
    # where oasis' kernel has a double/complex root pair it returns NaN; we move roots
    # closer than 0.1 % apart (see infer_spikes' notes): compare the regular traces only
    def distinct(g):
        root = np.sqrt(max(g[0] ** 2 + 4 * g[1], 0.0))
        d, r = (g[0] + root) / 2, (g[0] - root) / 2
        return d - r >= 1e-3 * d and r > 0

    keep = [i for i, ref in enumerate(reference)
            if np.isfinite(ref[1]).all() and distinct(ref[3])]
    if dtype == "float32":  # the calcium is stored rounded: compare in float64
        ours = ep.infer_spikes(dfof.astype(np.float64), 30.0, n_jobs=1, progress=False,
                               denoised=True)
    ours = ep.SpikeInference(ours.spikes[keep], ours.denoised[keep], ours.baseline[keep],
                             ours.noise[keep], ours.ar_coefficients[keep],
                             ours.tau_decay[keep], 30.0)
    _assert_ar2_optimal(ours, dfof[keep], [reference[i] for i in keep])


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    frames=st.sampled_from([10, 99, 400]),
    lam=st.sampled_from([0.0, 0.01, 0.2]),
    order=st.sampled_from([1, 2]),
)
def test_fixed_penalty_equals_oasis_plain_solvers(seed, frames, lam, order):
    # lam: oasis' unconstrained solvers (deconvolve(..., penalty=None)), baseline 0
    from oasis import oasis_methods

    rng = np.random.default_rng(seed)
    dfof = rng.normal(0, 0.1, (2, frames))
    dfof[:, frames // 3] += 1.5
    kwargs = dict(tau_decay=0.5) if order == 1 else dict(tau_decay=0.5, tau_rise=0.05)
    ours = ep.infer_spikes(dfof, 30.0, ar_order=order, lam=lam, n_jobs=1, progress=False,
                           denoised=True, **kwargs)
    g = ours.ar_coefficients
    for i, y in enumerate(dfof):
        if order == 1:
            c, s = oasis_methods.oasisAR1(y, float(g[i, 0]), lam=lam)
        else:
            c, s = oasis_methods.oasisAR2(y, float(g[i, 0]), float(g[i, 1]), lam=lam)
        scale = max(np.abs(s).max(), 1e-9)
        assert np.abs(ours.spikes[i] - np.maximum(s, 0)).max() <= 1e-6 * scale
        assert np.abs(ours.denoised[i] - c).max() <= 1e-6 * max(np.abs(c).max(), 1e-9)
    np.testing.assert_array_equal(ours.baseline, 0.0)
    assert np.all(ours.noise > 0)


def test_fixed_penalty_bad_values():
    dfof = np.random.default_rng(0).normal(size=(2, 50))
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lam"):
            ep.infer_spikes(dfof, lam=bad, progress=False)
    with pytest.raises(ValueError, match="optimize_g"):
        ep.infer_spikes(dfof, lam=0.0, optimize_g=1, progress=False)


def test_ar2_double_root_kernel_gives_finite_results():
    # white noise: the estimated AR(2) kernels of many traces have a complex or double root
    # pair, where oasis-deconv returns NaN calcium and baseline
    noise = np.random.default_rng(0).normal(0, 1, (24, 600))
    result = ep.infer_spikes(noise, 30.0, n_jobs=2, progress=False, denoised=True)
    assert np.isfinite(result.denoised).all() and np.isfinite(result.baseline).all()
    g = result.ar_coefficients
    disc = g[:, 0] ** 2 + 4 * g[:, 1]
    assert np.all(disc > 0)  # two distinct real roots for every trace


def test_n_jobs_values(recording, inference):
    from CalSciPy.errors import InvalidArgumentError

    dfof = recording[1][:4]
    for jobs in (None, 1, 2, 3, -1):
        result = ep.infer_spikes(dfof, 30.0, n_jobs=jobs, progress=False)
        np.testing.assert_array_equal(result.spikes, inference.spikes[:4])
    for bad in (0, -2, -3):  # joblib's "all CPUs but k" is refused, naming the argument
        with pytest.raises(InvalidArgumentError, match="n_jobs"):
            ep.infer_spikes(dfof, 30.0, n_jobs=bad, progress=False)
    for bad in (1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs"):
            ep.infer_spikes(dfof, 30.0, n_jobs=bad, progress=False)


def test_infer_spikes_leaves_global_rng_alone(recording):
    np.random.seed(123)  # noqa: NPY002 - the legacy global RNG is what oasis used
    expected = np.random.random(3)  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    ep.infer_spikes(np.random.default_rng(5).normal(size=(4, 300)), 30.0, progress=False)
    np.testing.assert_array_equal(np.random.random(3), expected)  # noqa: NPY002


# --------------------------------------------------------------------------- detect_events
def test_detect_events_quality_floor(recording, inference):
    traces, dfof = recording
    detected = ep.detect_events(dfof, 30.0, inference=inference)
    assert len(detected) == dfof.shape[0]
    assert all(d.dtype == np.int64 and np.all(np.diff(d) > 0) for d in detected)
    score = ep.score_events(detected, traces.event_frames, tolerance=3)
    assert score.f1 >= 0.8, score  # the benchmark measures ~0.96 on 200 x 9000
    # same format as identify_events: downstream functions take either
    assert ep.get_num_events(detected).sum() == score.true_positives + score.false_positives
    waves = ep.collect_waveforms(dfof, detected, pre=5, post=10)
    assert waves[0].shape == (len(detected[0]), 16)


def test_detect_events_one_trace_and_errors(recording, inference):
    dfof = recording[1]
    single = ep.detect_events(dfof[0], 30.0, ar_order=1)
    assert isinstance(single, np.ndarray) and single.ndim == 1
    with pytest.raises(ValueError, match="shape"):
        ep.detect_events(dfof[:3], inference=inference)
    with pytest.raises(TypeError, match="either"):
        ep.detect_events(dfof, inference=inference, ar_order=1)
    with pytest.raises(ValueError, match="threshold"):
        ep.detect_events(dfof, inference=inference, threshold=0)
    with pytest.raises(ValueError, match="Hz"):
        ep.detect_events(dfof, 15.0, inference=inference)
    with pytest.raises(TypeError, match="SpikeInference"):
        ep.detect_events(dfof, inference=inference.spikes)
    for bad in (-0.1, float("nan"), float("inf")):  # not numpy's cast error
        with pytest.raises(ValueError, match="merge_s"):
            ep.detect_events(dfof, inference=inference, merge_s=bad)


# --------------------------------------------------------------------------- score_events
def test_score_events_hand_computed():
    # truth: spikes 0 and 2 merge (2 frames apart <= 3) -> events 0, 11, 30
    score = ep.score_events([[1, 10, 20]], [[0, 2, 11, 30]], tolerance=3)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (2, 1, 1)
    assert score.precision == pytest.approx(2 / 3) and score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 / 3)
    # without merging, spike 2 is an event of its own and is missed
    unmerged = ep.score_events([[1, 10, 20]], [[0, 2, 11, 30]], tolerance=3, merge_window=0)
    assert unmerged.false_negatives == 2


def test_score_events_greedy_one_to_one():
    # both detections are 1 frame from the true event at 6; the closest-first greedy
    # matching pairs 5<->6 and then 7<->9 (2 frames)
    score = ep.score_events([[5, 7]], [[6, 9]], tolerance=3, merge_window=0)
    assert score.true_positives == 2 and score.f1 == 1.0
    tight = ep.score_events([[5, 7]], [[6, 9]], tolerance=1, merge_window=0)
    assert (tight.true_positives, tight.false_positives, tight.false_negatives) == (1, 1, 1)


def test_score_events_counts_matrix_and_edge_cases():
    counts = np.zeros((2, 20), dtype=int)
    counts[0, [3, 15]] = 1
    counts[1, 8] = 2
    score = ep.score_events([[4, 15], [8]], counts)
    assert score.f1 == 1.0 and score.true_positives == 3
    empty = ep.score_events([[], []], [[], []])
    assert empty.precision == empty.recall == empty.f1 == 1.0
    none_found = ep.score_events([[]], [[5]])
    assert none_found.recall == 0.0 and none_found.f1 == 0.0
    assert ep.score_events([[1]], [[5]], tolerance=4).as_dict()["true_positives"] == 1
    with pytest.raises(ValueError, match="neurons"):
        ep.score_events([[1]], [[1], [2]])
    with pytest.raises(ValueError, match="tolerance"):
        ep.score_events([[1]], [[1]], tolerance=-1)


def test_detect_events_clustering_hand_computed():
    # frames 2-4: one event (onset 3: frame 2 holds < 20 % of the peak); frames 9 and 11 are
    # 2 frames apart -> merged (merge_s 0.07 s = 2 frames at 30 Hz); frame 20 is too small
    activity = np.zeros((1, 30))
    activity[0, [2, 3, 4]] = [0.05, 1.0, 0.3]
    activity[0, [9, 11]] = [0.3, 0.3]
    activity[0, 20] = 0.1
    fake = ep.SpikeInference(
        spikes=activity, denoised=activity, baseline=np.zeros(1), noise=np.array([0.1]),
        ar_coefficients=np.array([[0.9]]), tau_decay=np.array([0.3]), frame_rate=30.0,
    )
    detected = ep.detect_events(np.zeros((1, 30)), 30.0, inference=fake)
    np.testing.assert_array_equal(detected[0], [3, 9])
    split = ep.detect_events(np.zeros((1, 30)), 30.0, inference=fake, merge_s=0.0)
    np.testing.assert_array_equal(split[0], [3, 9, 11])


@settings(max_examples=100, deadline=None)
@given(
    spikes=st.lists(st.lists(st.integers(0, 500), max_size=30), min_size=1, max_size=5),
    jitter=st.integers(-1, 1),
)
def test_score_events_properties(spikes, jitter):
    # detections = the merged true events (>= 4 frames apart) shifted by one frame at most, so
    # each is strictly closest to its own event: a perfect score
    merged = []
    for frames in spikes:
        unique = sorted(set(frames))
        merged.append([f for k, f in enumerate(unique) if k == 0 or f - unique[k - 1] > 3])
    shifted = [[e + jitter + 10 for e in events] for events in merged]
    truth = [[f + 10 for f in frames] for frames in spikes]
    perfect = ep.score_events(shifted, truth, tolerance=3)
    assert perfect.false_positives == perfect.false_negatives == 0
    assert perfect.true_positives == sum(map(len, merged))
    # dropping detections lowers recall only; true positives never exceed either count
    partial = ep.score_events([events[::2] for events in shifted], truth, tolerance=3)
    assert partial.false_positives == 0
    assert partial.true_positives == sum(len(events[::2]) for events in shifted)


def test_ar2_refinement_is_oasis_deconvolve(recording):
    # optimize_g > 0 runs oasis-deconv itself; AR(2): deconvolve's constrained_onnlsAR2
    # (its compiled constrained_oasisAR2 returned NaN activity for many traces)
    import warnings

    from oasis import functions

    dfof = recording[1][:2, :900]
    ours = ep.infer_spikes(dfof, 30.0, ar_order=2, optimize_g=1, n_jobs=1, progress=False)
    state = np.random.get_state()  # noqa: NPY002
    try:
        for i, y in enumerate(dfof):
            np.random.seed(0)  # noqa: NPY002
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c, s, b, g, _ = functions.deconvolve(y, tau_r=None, optimize_g=1, penalty=1,
                                                     b_nonneg=False)
            np.testing.assert_allclose(ours.spikes[i], np.maximum(s, 0), rtol=1e-9,
                                       atol=1e-12)
            np.testing.assert_allclose(ours.baseline[i], b, rtol=1e-9)
    finally:
        np.random.set_state(state)  # noqa: NPY002


#: 100 frames of a synthetic trace's AR(2) target (generate_traces(500, 18000, seed=0),
#: neuron 382, frames 2780-2879) on which changing every violating frame at once cycles
_CYCLING_TARGET = np.array([
    0.0085132925324927795, -0.040251641532327631, 0.0019808544331084716,
    -0.059772860024045804, 0.004860325019885205, -0.030702585119675496,
    -0.020678758386443952, -0.10984056978292356, -0.067379705373119214,
    0.027068400990296504, -0.010433112967680789, -0.026001376796435216,
    -0.059397507224153379, -0.13780973641939054, -0.08155677630371938,
    -0.0056209207958687318, -0.022183439459573129, -0.094114625591706136,
    -0.17449768422908674, -0.078007044035862783, -0.081703791160057881,
    -0.18514301418132673, -0.090347939867447713, -0.1218639218694676, -0.097531949866484502,
    -0.17615248798198591, -0.16591181396312604, -0.13885417370862851, -0.27450646995372663,
    -0.10104986815519224, -0.12736975191898237, -0.14483317523069272, -0.094208681721161702,
    -0.20493233739204297, -0.19753124355144391, -0.067408531669448712, -0.14635555981464277,
    -0.24042623280353437, -0.091865436870526174, -0.17958771227664838, -0.13785166828699003,
    -0.17701912461585889, -0.20502198277778516, -0.25001790164775739, -0.088295412946413854,
    -0.0098370944596041215, 0.12119639874630085, 0.2673662400358211, 0.1841697639339458,
    0.18674715818100085, 0.17248364747696032, 0.30949313403301348, 0.22729871631794085,
    0.21899841190509906, 0.1757863855474483, 0.22508240700893511, 0.21032955707244982,
    0.20523063303165545, 0.12746273935966601, 0.16507780016594042, 0.066171581160355708,
    0.07982768328123202, 0.1743680483215343, 0.12531084777050128, 0.091735506665040156,
    0.088172639023591182, 0.092993671309281489, 0.0030763729029189574, 0.077049436282445094,
    0.011726206403304242, 0.05542008788519015, 0.047458531569768092, -0.039880248948853114,
    -0.10671232431001554, -0.068182907763789991, -0.073277851331900457,
    -0.056789723921488622, -0.015055523950528003, -0.052310859549712041,
    0.093414211880494258, 0.19449686468772998, 0.31035385490589251, 0.36448861123256793,
    0.32422740222149005, 0.50120631815128436, 0.6004067456834804, 0.69814215065174212,
    0.62070874334507098, 0.67986051202945819, 0.6572113430612575, 0.64442584873371234,
    0.59252283931903948, 0.52320394874744525, 0.54010866047077288, 0.56710437894992938,
    0.76629076362781634, 0.77108983160190692, 0.73312268615894427, 0.91049180389576068,
    0.76553461910419573
])
_CYCLING_G = (np.float64(1.5906189825966872), np.float64(-0.6088970753037687))


def test_exact_ar2_step_does_not_cycle():
    # from the greedy start, simultaneous active-set changes alternate between two sets
    # here; the least-index rule after SIMULTANEOUS_ITER iterations ends at the optimum
    from CalSciPy._spikes import oasis

    target = _CYCLING_TARGET
    g1, g2 = _CYCLING_G
    frames = target.size
    g11, g12, g11g11, g11g12, yl, pv, pw, sd, sr, c, s = (np.empty(frames) for _ in range(11))
    hd, hr = np.empty(frames + 1), np.empty(frames + 1)
    pt, pl = np.empty(frames, dtype=np.int64), np.empty(frames, dtype=np.int64)
    d, r = oasis._kernels_ar2(g1, g2, g11, g12, g11g11, g11g12, hd, hr)
    oasis._pav_ar2(target, 0.0, g1, g2, 0.0, d, r, g11, g12, g11g11, g11g12, hd, hr,
                   yl, pv, pw, pt, pl, sd, sr, c, s)
    s[0] = c[0]
    s[1] = c[1] - g1 * c[0]
    scratch = [np.empty(frames) for _ in range(4)]
    iterations = oasis.project_ar2(target, g1, g2, c, s, pt, pl, *scratch,
                                   oasis.MAX_PROJECT_ITER)
    assert iterations > oasis.SIMULTANEOUS_ITER  # the least-index rule was needed
    np.testing.assert_allclose(c, _exact_ar2(target, g1, g2), atol=1e-7 * np.abs(target).max())
