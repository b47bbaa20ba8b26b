"""Spike inference by OASIS deconvolution, event detection from it, and event-onset scoring."""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from CalSciPy._checks import (
    as_event_lists,
    as_traces,
    check_frame_rate,
    check_int,
    check_real,
    is_integer,
)
from CalSciPy._optional import optional_import
from CalSciPy.errors import InvalidArgumentError

__all__ = ["EventScore", "SpikeInference", "detect_events", "infer_spikes", "score_events"]

_METHODS = ("oasis",)
#: below this many neurons a process pool costs more than it saves
_MIN_NEURONS_FOR_POOL = 32
#: an event's onset is its first frame with at least this fraction of its largest frame
_ONSET_FRACTION = 0.2


@dataclass(frozen=True)
class SpikeInference:
    """Result of :func:`infer_spikes`.

    Attributes
    ----------
    spikes : numpy.ndarray
        ``(neurons, frames)`` non-negative inferred activity per frame, in ΔF/F0 units
        (the size of the calcium jump the model attributes to that frame). Pass it to
        :func:`CalSciPy.event_processing.calculate_firing_rates` for a rate-like trace.
    denoised : numpy.ndarray or None
        ``(neurons, frames)`` the fitted noise-free calcium trace (without baseline), when
        :func:`infer_spikes` was called with ``denoised=True``; None otherwise (the default).
        ``spikes`` and ``denoised`` are float32 for float32 input, float64 otherwise.
    baseline : numpy.ndarray
        ``(neurons,)`` fitted constant baseline of each ΔF/F0 trace.
    noise : numpy.ndarray
        ``(neurons,)`` estimated noise standard deviation of each trace (ΔF/F0 units).
    ar_coefficients : numpy.ndarray
        ``(neurons, p)`` fitted AR(p) coefficients (p = 1 or 2).
    tau_decay : numpy.ndarray
        ``(neurons,)`` decay time constants (s) of the fitted kernels; NaN where the fit is not
        a decaying kernel.
    frame_rate : float
        Frame rate (Hz) of the traces.

    Notes
    -----
    A flat (constant) trace gets zero activity, its median as baseline, noise 0 and NaN AR
    coefficients and decay.
    """

    spikes: np.ndarray
    denoised: np.ndarray | None
    baseline: np.ndarray
    noise: np.ndarray
    ar_coefficients: np.ndarray
    tau_decay: np.ndarray
    frame_rate: float


@dataclass(frozen=True)
class EventScore:
    """Detection quality from :func:`score_events` (pooled over neurons).

    ``precision = tp / (tp + fp)``, ``recall = tp / (tp + fn)``, ``f1`` their harmonic mean
    (each 0 when undefined, except that no detections and no true events give 1.0).
    """

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    tolerance: int

    def as_dict(self) -> dict:
        """The fields as a plain dict (for tables)."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "tolerance": self.tolerance,
        }


# ---------------------------------------------------------------------------------------------
# inference
# ---------------------------------------------------------------------------------------------
def _decay_from_ar(g: np.ndarray, frame_rate: float) -> float:
    """Decay time constant (s) of the AR(1)/AR(2) kernel with coefficients ``g``."""
    if g.size == 1:
        roots = [g[0]]
    else:
        disc = g[0] ** 2 + 4 * g[1]
        if disc < 0:
            return math.nan
        roots = [g[0] / 2 + math.sqrt(disc) / 2]
    root = roots[0]
    if not 0 < root < 1:
        return math.nan
    return -1.0 / (math.log(root) * frame_rate)


def _deconvolve_rows(rows: np.ndarray, options: dict, first: int = 0) -> tuple[np.ndarray, ...]:
    """Run OASIS on each row (module-level so a process pool can pickle it).

    ``first`` is the index of ``rows[0]`` among all neurons (for error messages).
    """
    from threadpoolctl import threadpool_limits

    # OASIS's AR(2) solver makes thousands of tiny BLAS calls: BLAS threads only add overhead
    # (and oversubscribe the CPUs in worker processes), and one thread keeps results identical
    # whether or not a process pool is used.
    # Only the BLAS pools are limited: OASIS does not use OpenMP, and the workers are forked
    # from a parent whose numba kernels may have started GNU OpenMP threads, a runtime that
    # must not be entered again in a forked child (see infer_spikes' pool comment).
    # OASIS's AR estimate draws from numpy's global RNG when a fitted root is out of range:
    # reseed it per trace (and restore the caller's state) so results are reproducible and
    # independent of how neurons are split between processes.
    state = np.random.get_state()  # noqa: NPY002 - OASIS uses the legacy global RNG
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return _deconvolve_rows_serial(rows, options, first)
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _deconvolve_rows_serial(rows: np.ndarray, options: dict, first: int) -> tuple[np.ndarray, ...]:
    functions = optional_import("oasis.functions", "spike inference")
    n, frames = rows.shape
    p = options["ar_order"]
    spikes = np.zeros((n, frames))
    denoised = np.zeros((n if options["denoised"] else 0, frames))
    baseline = np.empty(n)
    noise = np.zeros(n)
    coefficients = np.full((n, p), np.nan)
    for i in range(n):
        y = np.ascontiguousarray(rows[i], dtype=np.float64)
        baseline[i] = float(np.median(y))
        if np.ptp(y) <= 1e-12 * max(1.0, abs(baseline[i])):
            continue  # a flat trace has no activity (and no noise to fit a model to)
        np.random.seed(0)  # noqa: NPY002
        try:
            with warnings.catch_warnings():
                # OASIS warns about its own AR(2) heuristics, welch about short traces
                warnings.simplefilter("ignore")
                c, s, b, g_fit, sn = _deconvolve_one(functions, y, options)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as err:
            raise ValueError(
                f"OASIS deconvolution failed for neuron {first + i} of dfof: {err}"
            ) from err
        spikes[i] = np.maximum(np.nan_to_num(s, nan=0.0), 0.0)
        if options["denoised"]:
            denoised[i] = c
        baseline[i] = float(b)
        noise[i] = float(sn)
        coefficients[i] = np.asarray(g_fit, dtype=np.float64).ravel()[:p]
    return spikes, denoised, baseline, noise, coefficients


def _deconvolve_one(functions, y: np.ndarray, options: dict):
    p = options["ar_order"]
    # data-driven AR(p) and noise, then noise-constrained L1 deconvolution with a fitted baseline
    if options["tau_decay"] is None:
        g, sn = functions.estimate_parameters(y, p=p, fudge_factor=0.98)
    else:
        sn = functions.GetSn(y)
        # the AR kernel with these time constants: roots exp(-1 / (tau * frame_rate))
        decay = math.exp(-1.0 / (options["tau_decay"] * options["frame_rate"]))
        if p == 1:
            g = [decay]
        else:
            rise = math.exp(-1.0 / (options["tau_rise"] * options["frame_rate"]))
            g = [decay + rise, -decay * rise]
    g = np.asarray(g, dtype=np.float64).ravel()
    if p == 1:
        c, s, b, g_fit, _ = functions.constrained_oasisAR1(
            y, float(g[0]), float(sn), optimize_b=True, b_nonneg=False,
            optimize_g=options["optimize_g"], penalty=1,
        )
    else:
        # constrained_onnlsAR2, the solver of oasis.functions.deconvolve. Measured with
        # optimize_g=1 on 24 synthetic 18 000-frame traces: OASIS' compiled
        # constrained_oasisAR2 took about as long (279 vs 299 ms per trace, loaded machine)
        # but returned NaN (all-zero activity) for 9 of them
        c, s, b, g_fit, _ = functions.constrained_onnlsAR2(
            y, [float(g[0]), float(g[1])], float(sn), optimize_b=True, b_nonneg=False,
            optimize_g=options["optimize_g"], penalty=1,
        )
    return c, s, b, g_fit, sn


def infer_spikes(
    dfof: np.ndarray,
    frame_rate: float = 30.0,
    *,
    method: str = "oasis",
    ar_order: int = 2,
    tau_decay: float | None = None,
    tau_rise: float | None = None,
    optimize_g: int = 0,
    n_jobs: int | None = None,
    progress: bool = True,
    lam: float | None = None,
    denoised: bool = False,
) -> SpikeInference:
    """Infer spiking activity from ΔF/F0 by sparse non-negative deconvolution (OASIS).

    Each trace is modelled as ``y = b + c + noise`` with calcium ``c`` following an AR(p)
    process driven by non-negative activity ``s`` (``c[t] = g1 c[t-1] (+ g2 c[t-2]) + s[t]``).
    By default the AR coefficients and the noise level are estimated from each trace
    (autocovariance and the high-frequency power spectrum) and ``s`` is found by OASIS's
    noise-constrained L1 deconvolution with a fitted baseline ``b`` (Friedrich et al., 2017).

    Parameters
    ----------
    dfof : numpy.ndarray
        ``(neurons, frames)`` ΔF/F0 (or a single ``(frames,)`` trace); must be finite. Remove slow
        drift first (e.g. ``calculate_dfof(..., method="sliding")``): the model's baseline is
        constant.
    frame_rate : float, default 30.0
        Frame rate (Hz).
    method : {"oasis"}
        Inference method.
    ar_order : {1, 2}, default 2
        AR order of the calcium kernel: 2 = rise and decay (better onset timing), 1 =
        instantaneous rise and exponential decay (faster, less precise onsets).
    tau_decay, tau_rise : float, optional
        Fix the kernel instead of estimating it: decay (and, for ``ar_order=2``, rise) time
        constants in seconds.
    optimize_g : int, default 0
        Number of large isolated events OASIS uses to refine the AR coefficients (0: keep
        the estimate).
    n_jobs : int, optional
        Threads over neurons (compiled OASIS); -1 or ``None`` (default): all CPUs available to
        the process. Other negative values (joblib's "all but k") are refused. With
        ``optimize_g > 0`` these are worker processes of ``oasis-deconv`` instead (default
        there: all CPUs when there are at least 32 neurons, else 1).
    progress : bool, default True
        Show a tqdm progress bar over neurons (False hides it).
    lam : float, optional
        Solve with this fixed sparsity penalty λ ≥ 0 (``min ½|c − y|² + λ|s|₁``, ΔF/F0 units)
        instead of the noise constraint, with baseline 0: ``dfof`` must then already be
        baseline-subtracted (``oasis.functions.deconvolve(..., penalty=None, lam=lam)``).
        ``lam=0`` with a fixed ``tau_decay`` and ``ar_order=1`` is suite2p's deconvolution
        (``suite2p.extraction.dcnv.oasis``). Default: the noise-constrained problem.
    denoised : bool, default False
        Also return the fitted calcium traces (``SpikeInference.denoised``, an array the size
        of ``spikes``). By default only the activity is kept (``denoised`` is None), so the
        call needs about one input's worth of memory beyond the input instead of two;
        every other result is identical either way.

    Returns
    -------
    SpikeInference
        ``spikes`` ``(neurons, frames)`` non-negative activity, ``tau_decay`` ``(neurons,)`` in
        seconds, plus the denoised traces, baselines, noise levels and AR coefficients (see
        :class:`SpikeInference`). For 1-D input the arrays have no neuron axis.

    Raises
    ------
    CalSciPy.errors.MissingDependencyError
        ``optimize_g > 0`` and ``oasis-deconv`` is not installed
        (``pip install 'calscipy[spikes]'``).
    ValueError
        Non-finite traces, fewer than 10 frames, unknown ``method``, bad options
        (``n_jobs`` other than a positive integer, -1 or ``None``: ``InvalidArgumentError``).

    Warns
    -----
    RuntimeWarning
        When the exact AR(2) step does not converge for some neurons (never seen on
        synthetic data; the active-set rule cannot cycle), naming them; they keep OASIS'
        greedy AR(2) solution.

    Notes
    -----
    The solvers are compiled (numba, threads over neurons, float64 inside, results written
    into preallocated arrays), with the parameter estimation of
    ``oasis.functions.estimate_parameters(y, p, fudge_factor=0.98)``; ``oasis-deconv`` is
    not needed. AR(1) is a port of ``oasis-deconv``'s ``constrained_oasisAR1`` and gives its
    spikes to rounding (tested to 1e-6 relative, measured ~1e-13). AR(2) solves the problem
    ``oasis.functions.deconvolve(y, tau_r=None, penalty=1, b_nonneg=False)`` sets up
    (baseline and penalty from AR(1) OASIS on 5x decimated data, then the L1 problem at that
    baseline, then the baseline refitted as ``mean(y - denoised)``) exactly, where
    ``oasis-deconv`` runs a windowed NNLS (kernel cut after the window): tested to equal
    scipy's NNLS on small problems and to reach an objective at or below that of
    ``oasis-deconv``'s spikes and of OASIS' greedy AR(2) pass (``constrained_oasisAR2``),
    which stops above the optimum and correlates less with the true spikes on synthetic
    data (``benchmarks/bench_events.py``). For AR(2), ``spikes[0]`` and ``spikes[1]`` are
    the model's first two innovations (``c[0]``, ``c[1] - g1 c[0]``, clipped at 0), as in
    ``oasis-deconv``'s AR(2) result. Where an estimated AR(2) kernel has a double or complex
    root pair (noise-like traces), both solvers divide by the difference of the roots
    (``oasis-deconv`` returns NaN calcium and baseline there); the roots are moved 0.1 %
    apart instead (``ar_coefficients`` reports the kernel used). AR refinement
    (``optimize_g > 0``) runs ``oasis-deconv`` itself in a process pool (AR(2): its
    ``constrained_onnlsAR2``, as ``deconvolve`` does).

    Results are deterministic and identical for any ``n_jobs``: OASIS's occasional random
    restarts of the AR estimate use a fixed seed per trace (the caller's global numpy RNG is
    left alone).

    Memory: besides the input, the results (``spikes``, plus ``denoised`` with
    ``denoised=True``: ``(neurons, frames)`` arrays, float32 for float32 input, else float64)
    and about 20 float64 arrays of ``frames`` per thread; the input is converted to float64
    one row at a time. Measured on 500 x 18 000 traces (2 threads): peak RSS growth during the
    call 1.05x a float64 input and 1.11x a float32 input by default, of which the spikes are
    1.00x (2.05x and 2.09x with ``denoised=True``); the rest (about 4 MiB) does not grow with
    the number of neurons (``benchmarks/bench_events.py``, 4 December 2026).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    frame_rate = check_frame_rate(frame_rate)
    array, was_1d = as_traces(dfof, "dfof", min_frames=10, finite=True)
    if not is_integer(ar_order) or ar_order not in (1, 2):
        raise ValueError(f"ar_order must be 1 or 2, got {ar_order!r}")
    if tau_decay is not None:
        tau_decay = check_real(tau_decay, "tau_decay", positive=True, unit="s")
        if ar_order == 2:
            if tau_rise is None:
                raise ValueError("ar_order=2 with a fixed tau_decay also needs tau_rise")
            tau_rise = check_real(tau_rise, "tau_rise", positive=True, unit="s")
            if tau_rise >= tau_decay:
                raise ValueError(f"tau_rise ({tau_rise}) must be < tau_decay ({tau_decay})")
    elif tau_rise is not None:
        raise ValueError("tau_rise needs tau_decay as well")
    optimize_g = check_int(optimize_g, "optimize_g", minimum=0)
    if lam is not None:
        lam = check_real(lam, "lam", minimum=0.0)
        if optimize_g:
            raise InvalidArgumentError("lam (a fixed penalty) cannot be combined with optimize_g")
    options = {
        "ar_order": int(ar_order),
        "tau_decay": tau_decay,
        "tau_rise": tau_rise,
        "frame_rate": frame_rate,
        "optimize_g": int(optimize_g),
        "lam": -1.0 if lam is None else float(lam),
        "denoised": _check_flag(denoised, "denoised"),
    }
    if optimize_g:
        # AR refinement (scipy optimizers inside OASIS's Cython loop): oasis-deconv itself
        optional_import("oasis.functions", "spike inference")  # fail early, in this process
        spikes, calcium, baseline, noise, coefficients = _infer_with_oasis_deconv(
            array, options, n_jobs, progress
        )
    else:
        spikes, calcium, baseline, noise, coefficients = _infer_compiled(
            array, options, n_jobs, progress
        )
    tau = np.array([_decay_from_ar(g, frame_rate) for g in coefficients])
    if was_1d:
        spikes, baseline, noise, coefficients, tau = (
            spikes[0], baseline[0], noise[0], coefficients[0], tau[0]
        )
        calcium = None if calcium is None else calcium[0]
    return SpikeInference(spikes, calcium, baseline, noise, coefficients, tau, frame_rate)


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be True or False, got {value!r}")
    return bool(value)


#: neurons per thread-pool task (one progress-bar step; bounds the per-task temporaries)
_BLOCK = 16
#: oasis.functions.estimate_parameters' defaults, as infer_spikes has always called it
_NOISE_RANGE = (0.25, 0.5)
_AR_LAGS = 10
_FUDGE = 0.98


def _infer_compiled(array: np.ndarray, options: dict, n_jobs, progress: bool):
    """OASIS compiled with numba (``CalSciPy._spikes.oasis``), blocks of neurons on threads."""
    n, frames = array.shape
    p = options["ar_order"]
    dtype = _result_dtype(array)
    spikes = np.zeros((n, frames), dtype=dtype)
    # without denoised traces the solver is handed no rows to store them in
    denoised = np.zeros((n, frames) if options["denoised"] else (0, frames), dtype=dtype)
    baseline = np.empty(n)
    noise = np.zeros(n)
    coefficients = np.full((n, p), np.nan)
    results = (spikes, denoised, baseline, noise, coefficients)
    threads = _n_threads(n_jobs)
    starts = range(0, n, _BLOCK)
    bar = _progress_bar(n, progress)
    try:
        if threads > 1 and n > _BLOCK:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = [pool.submit(_infer_block, array, start, options, results)
                           for start in starts]
                for future in futures:
                    bar.update(future.result())
        else:
            for start in starts:
                bar.update(_infer_block(array, start, options, results))
    finally:
        bar.close()
    return (spikes, denoised if options["denoised"] else None, baseline, noise, coefficients)


def _infer_block(array: np.ndarray, start: int, options: dict, results: tuple) -> int:
    """Infer neurons ``start : start + _BLOCK`` into ``results``; returns their number."""
    from CalSciPy._spikes import oasis

    spikes, denoised, baseline, noise, coefficients = results
    stop = min(array.shape[0], start + _BLOCK)
    rows = array[start:stop]
    ptp = np.empty(stop - start)
    oasis.row_ptp(rows, ptp)
    # a flat trace (ptp <= 1e-12 max(1, |median|)) has no activity and no noise to fit a
    # model to; its baseline is its median. |median| <= |y[0]| + ptp, so the median is
    # computed only where that bound leaves the test open
    first = np.abs(np.asarray(rows[:, 0], dtype=np.float64))
    active = ptp > 1e-12 * np.maximum(1.0, first + ptp)
    for i in np.flatnonzero(~active):
        median = float(np.median(np.asarray(rows[i], dtype=np.float64)))
        baseline[start + i] = median
        active[i] = ptp[i] > 1e-12 * max(1.0, abs(median))
    if active.any():
        sn = _noise_levels(rows, active)
        g = _ar_parameters(rows, active, sn, options)
        greedy = oasis.deconvolve_rows(rows, active, g, sn, options["lam"],
                                       spikes[start:stop], denoised[start:stop],
                                       baseline[start:stop])
        if greedy:
            warnings.warn(
                f"{greedy} of neurons {start}-{stop - 1}: the exact AR(2) step did not "
                "converge; they keep OASIS' greedy AR(2) solution", RuntimeWarning,
                stacklevel=2,
            )
        bad = np.flatnonzero(active & ~np.isfinite(baseline[start:stop]))
        if bad.size:
            raise ValueError(
                f"OASIS deconvolution failed for neuron {start + int(bad[0])} of dfof: "
                f"non-finite fit (AR coefficients {g[bad[0]].tolist()})"
            )
        noise[start:stop][active] = sn[active]
        coefficients[start:stop][active] = g[active]
    return stop - start


#: scipy.signal.welch's default segment length (oasis calls it with the defaults)
_WELCH_SEGMENT = 256
#: rows per Welch batch (its temporaries are ~4x the rows in float64, per thread)
_WELCH_ROWS = 1


def _noise_levels(rows: np.ndarray, active: np.ndarray) -> np.ndarray:
    """``oasis.functions.GetSn`` of each active row: sqrt of half the mean Welch power
    spectral density (Hann window of 256 frames, half overlap, segment means removed) between
    0.25 and 0.5 of the sampling rate (both exclusive).

    The segments and the band sum are compiled (numba), the FFTs are scipy's; traces shorter
    than one segment go through scipy's ``welch`` itself.
    """
    import scipy.fft
    from scipy.signal import get_window, welch

    from CalSciPy._spikes import oasis

    sn = np.zeros(rows.shape[0])
    index = np.flatnonzero(active)
    frames = rows.shape[1]
    if frames < _WELCH_SEGMENT:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # welch: nperseg larger than the trace
            ff, pxx = welch(np.asarray(rows[index], dtype=np.float64), axis=-1)
        band = (ff > _NOISE_RANGE[0]) & (ff < _NOISE_RANGE[1])
        sn[index] = np.sqrt(np.mean(pxx[:, band] / 2, axis=1))
        return sn
    window = get_window("hann", _WELCH_SEGMENT)
    step = _WELCH_SEGMENT // 2
    n_seg = (frames - _WELCH_SEGMENT) // step + 1
    ff = scipy.fft.rfftfreq(_WELCH_SEGMENT)
    band = np.flatnonzero((ff > _NOISE_RANGE[0]) & (ff < _NOISE_RANGE[1]))
    scale = 1.0 / float((window**2).sum())
    # a few rows at a time: segments and spectra are each ~2x the rows they come from
    for first in range(0, index.size, _WELCH_ROWS):
        part = index[first:first + _WELCH_ROWS]
        segments = np.empty((part.size, n_seg, _WELCH_SEGMENT))
        oasis.welch_segments(rows, part, window, step, segments)
        spectra = scipy.fft.rfft(segments, axis=-1, overwrite_x=True)
        del segments
        out = np.empty(part.size)
        oasis.band_noise(spectra, int(band[0]), int(band[-1]) + 1, scale, out)
        sn[part] = out
    return sn


def _ar_parameters(rows: np.ndarray, active: np.ndarray, sn: np.ndarray,
                   options: dict) -> np.ndarray:
    """AR(p) coefficients per row: fixed by ``tau_decay``/``tau_rise``, or
    ``oasis.functions.estimate_time_constant(y, p, sn, lags=10, fudge_factor=0.98)``."""
    from CalSciPy._spikes import oasis

    n = rows.shape[0]
    p = options["ar_order"]
    g = np.full((n, p), np.nan)
    if options["tau_decay"] is not None:
        decay = math.exp(-1.0 / (options["tau_decay"] * options["frame_rate"]))
        if p == 1:
            g[:] = [decay]
        else:
            rise = math.exp(-1.0 / (options["tau_rise"] * options["frame_rate"]))
            g[:] = _distinct_roots_ar2(np.array([[decay, rise]]))
        return g
    lags = _AR_LAGS + p
    index = np.flatnonzero(active)
    xc_all = np.zeros((n, lags + 1))
    oasis.autocovariance(rows, active, lags, xc_all)
    xc = xc_all[index]
    # least squares on the Toeplitz system of the autocovariance, all rows at once
    k = np.arange(lags)
    design = xc[:, np.abs(k[:, None] - np.arange(p)[None, :])]
    design -= sn[index, None, None] ** 2 * np.eye(lags, p)
    fit = np.einsum("nij,nj->ni", np.linalg.pinv(design), xc[:, 1:])
    if p == 1:
        roots = fit.copy()
    else:
        # roots of z^2 - g1 z - g2; a complex pair becomes its real part twice (oasis'
        # (gr + conj(gr)) / 2)
        disc = fit[:, 0] ** 2 + 4 * fit[:, 1]
        half = np.sqrt(np.maximum(disc, 0.0)) / 2
        roots = np.stack([fit[:, 0] / 2 + half, fit[:, 0] / 2 - half], axis=1)
    # oasis replaces roots outside [0, 1] by 0.95 / 0.15 plus N(0, 0.01) noise drawn from the
    # global RNG, which infer_spikes seeded with 0 for each trace: the same draws here
    for j in np.flatnonzero(((roots > 1) | (roots < 0)).any(axis=1)):
        rng = np.random.RandomState(0)  # noqa: NPY002 - the legacy stream oasis used
        above = roots[j] > 1
        roots[j, above] = 0.95 + rng.normal(0, 0.01, int(above.sum()))
        below = roots[j] < 0
        roots[j, below] = 0.15 + rng.normal(0, 0.01, int(below.sum()))
    roots = _FUDGE * roots
    if p == 1:
        g[index] = roots
    else:
        g[index] = _distinct_roots_ar2(roots)
    return g


#: AR(2) kernels need two distinct roots (the compiled solver, like oasis-deconv's, divides by
#: their difference); closer roots are moved this far apart (relative), which changes g2 by
#: ~(sep / 2)^2 relative and g1 not at all
_MIN_ROOT_SEPARATION = 1e-3


def _distinct_roots_ar2(roots: np.ndarray) -> np.ndarray:
    """AR(2) coefficients ``(g1, g2) = (d + r, -d r)`` of the roots ``(n, 2)``, with ``d > r``
    moved apart symmetrically where they (nearly) coincide (a double or complex pair)."""
    d = roots.max(axis=1)
    r = roots.min(axis=1)
    close = d - r < _MIN_ROOT_SEPARATION * d
    mid = (d[close] + r[close]) / 2
    d[close] = mid * (1 + _MIN_ROOT_SEPARATION / 2)
    r[close] = mid * (1 - _MIN_ROOT_SEPARATION / 2)
    return np.stack([d + r, -d * r], axis=1)


def _n_threads(n_jobs) -> int:
    if n_jobs is None:
        return _available_cpus()
    _check_n_jobs(n_jobs)
    return _available_cpus() if n_jobs == -1 else int(n_jobs)


def _check_n_jobs(n_jobs) -> None:
    n_jobs = check_int(n_jobs, "n_jobs")
    if not (n_jobs >= 1 or n_jobs == -1):
        raise InvalidArgumentError(
            f"n_jobs must be a positive integer, -1 (all CPUs) or None, got {n_jobs!r} "
            "(joblib-style negatives other than -1 are not supported)"
        )


def _infer_with_oasis_deconv(array: np.ndarray, options: dict, n_jobs, progress: bool):
    """oasis-deconv's Cython solvers per neuron, in a process pool (they hold the GIL)."""
    n = array.shape[0]
    workers = _n_workers(n_jobs, n)
    chunks = np.array_split(np.arange(n), max(1, min(n, workers * 4)))
    chunks = [c for c in chunks if c.size]
    if workers > 1:
        # The platform's default start method (fork on Linux up to Python 3.13). Forking
        # after numba's parallel kernels ran here is safe for this worker: it runs only
        # OASIS (Cython, no OpenMP) and numpy with OpenBLAS (pthreads, fork handlers), so it
        # never re-enters the parent's GNU OpenMP runtime, the one thing that aborts a
        # forked child (tested). 'forkserver'/'spawn' would cost 1.5-4 s of interpreter
        # start-up per call (measured, 200 x 9000 traces: fork 4.1 s, forkserver 5.5 s
        # cold, spawn 7.6 s) and re-import the caller's __main__ in every worker.
        with ProcessPoolExecutor(max_workers=workers) as pool:
            # the first submit forks every worker; the progress bar (whose monitor is a
            # thread) starts only afterwards, so no Python thread of ours is forked
            futures = [
                pool.submit(_deconvolve_rows, array[c], options, int(c[0])) for c in chunks
            ]
            bar = _progress_bar(n, progress)
            try:
                parts = []
                for c, future in zip(chunks, futures):
                    parts.append(future.result())
                    bar.update(c.size)
            finally:
                bar.close()
    else:
        bar = _progress_bar(n, progress)
        try:
            parts = []
            for c in chunks:
                parts.append(_deconvolve_rows(array[c], options, int(c[0])))
                bar.update(c.size)
        finally:
            bar.close()
    if not parts:  # no neurons: empty results of the documented shapes
        frames = array.shape[1]
        parts = [(np.zeros((0, frames)), np.zeros((0, frames)), np.zeros(0), np.zeros(0),
                  np.zeros((0, options["ar_order"])))]
    spikes, denoised, baseline, noise, coefficients = (
        np.concatenate([part[k] for part in parts]) for k in range(5)
    )
    dtype = _result_dtype(array)
    calcium = denoised.astype(dtype, copy=False) if options["denoised"] else None
    return (spikes.astype(dtype, copy=False), calcium, baseline,
            noise, coefficients)


def _result_dtype(array: np.ndarray) -> np.dtype:
    """float32 results for float32 input (half the memory), float64 for anything else."""
    return np.dtype(np.float32) if array.dtype == np.float32 else np.dtype(np.float64)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # respects CPU pinning / container limits
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _n_workers(n_jobs, n: int) -> int:
    if n_jobs is None:
        return min(_available_cpus(), n) if n >= _MIN_NEURONS_FOR_POOL else 1
    _check_n_jobs(n_jobs)
    wanted = _available_cpus() if n_jobs == -1 else int(n_jobs)
    return max(1, min(wanted, n))


class _NoBar:
    def update(self, _n: int) -> None:
        return None

    def close(self) -> None:
        return None


def _progress_bar(total: int, progress: bool):
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="inferring spikes", unit="neuron")


# ---------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------
def detect_events(
    dfof: np.ndarray,
    frame_rate: float = 30.0,
    *,
    threshold: float = 1.75,
    merge_s: float = 0.07,
    inference: SpikeInference | None = None,
    **infer_options,
) -> list[np.ndarray] | np.ndarray:
    """Event onsets from deconvolved activity, with spike-level (sub-100 ms) timing.

    Runs :func:`infer_spikes` (unless ``inference`` is given), then per neuron groups frames of
    positive inferred activity that lie at most ``merge_s`` apart into clusters, keeps clusters
    whose total activity reaches ``threshold`` noise standard deviations, and reports as the
    onset of each cluster its first frame holding at least 20 % of the cluster's largest
    per-frame activity. On synthetic recordings (200 neurons x 9 000 frames, realistic noise
    and drift) this finds events within ±3 frames (100 ms at 30 Hz) with F1 ≈ 0.96; see
    ``benchmarks/bench_event_quality.py``.

    Parameters
    ----------
    dfof : numpy.ndarray
        ``(neurons, frames)`` ΔF/F0, or one ``(frames,)`` trace.
    frame_rate : float, default 30.0
        Frame rate (Hz).
    threshold : float, default 1.75
        Minimum cluster activity, in units of each trace's noise s.d.
    merge_s : float, default 0.07
        Activity within this many seconds (rounded to frames, at least 1; 2 frames at 30 Hz)
        of the previous active frame joins its event (spikes closer than this are one event).
    inference : SpikeInference, optional
        A result of :func:`infer_spikes` for the same ``dfof``, to avoid recomputing it.
    **infer_options
        Keyword options of :func:`infer_spikes` (``ar_order``, ``n_jobs``, ...).

    Returns
    -------
    list of numpy.ndarray
        One sorted int64 array of onset frames per neuron (for 1-D input: that one array), the
        format of :func:`CalSciPy.event_processing.identify_events`.
    """
    frame_rate = check_frame_rate(frame_rate)
    array, was_1d = as_traces(dfof, "dfof", min_frames=10, finite=True)
    threshold = check_real(threshold, "threshold", positive=True, unit="noise s.d.")
    merge_s = check_real(merge_s, "merge_s", minimum=0.0, unit="s")
    if inference is None:
        inference = infer_spikes(array, frame_rate, **infer_options)
    elif infer_options:
        raise TypeError("pass either inference or infer_spikes options, not both")
    if not isinstance(inference, SpikeInference):
        raise TypeError(f"inference must be a SpikeInference, got {type(inference).__name__}")
    if not math.isclose(inference.frame_rate, frame_rate):
        raise ValueError(
            f"inference was computed at {inference.frame_rate} Hz but frame_rate is {frame_rate}"
        )
    spikes = np.atleast_2d(inference.spikes)
    noise = np.atleast_1d(inference.noise)
    if spikes.shape != array.shape:
        raise ValueError(
            f"inference.spikes has shape {spikes.shape} but dfof has shape {array.shape}"
        )
    gap = max(1, int(round(merge_s * frame_rate)))
    events = [_cluster_onsets(spikes[i], threshold * noise[i], gap) for i in range(len(spikes))]
    return events[0] if was_1d else events


def _cluster_onsets(activity: np.ndarray, minimum: float, gap: int) -> np.ndarray:
    # tiny positive values are numerical leftovers of the L1 solution, not activity
    active = np.flatnonzero(activity > 1e-3 * max(minimum, 1e-12))
    if active.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(active) > gap) + 1])
    values = activity[active]
    totals = np.add.reduceat(values, starts)
    peaks = np.maximum.reduceat(values, starts)
    cluster = np.repeat(np.arange(starts.size), np.diff(np.append(starts, active.size)))
    # onset: first frame carrying a real share of the cluster's activity (the L1 solution
    # smears a little activity onto the frames just before a spike)
    strong = np.flatnonzero(values >= _ONSET_FRACTION * peaks[cluster])
    _, first = np.unique(cluster[strong], return_index=True)
    onsets = active[strong[first]]
    return onsets[totals >= minimum].astype(np.int64)


# ---------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------
def _merge_true_events(frames: np.ndarray, merge_window: int) -> np.ndarray:
    frames = np.unique(frames)
    if frames.size == 0:
        return frames
    keep = np.concatenate([[True], np.diff(frames) > merge_window])
    return frames[keep]


def _match_greedy(detected: np.ndarray, truth: np.ndarray, tolerance: int) -> int:
    """Number of one-to-one matches, pairing the closest (detected, true) pairs first."""
    if detected.size == 0 or truth.size == 0:
        return 0
    lo = np.searchsorted(truth, detected - tolerance, side="left")
    hi = np.searchsorted(truth, detected + tolerance, side="right")
    pairs = [
        (abs(int(truth[j]) - int(d)), int(truth[j]), k, j)
        for k, (d, a, b) in enumerate(zip(detected, lo, hi))
        for j in range(a, b)
    ]
    pairs.sort()
    used_d, used_t = set(), set()
    for _dist, _t, k, j in pairs:
        if k not in used_d and j not in used_t:
            used_d.add(k)
            used_t.add(j)
    return len(used_d)


def score_events(
    detected: Iterable[Iterable[int]],
    true_frames: Iterable[Iterable[int]] | np.ndarray,
    tolerance: int = 3,
    *,
    merge_window: int | None = None,
) -> EventScore:
    """Precision, recall and F1 of detected event onsets against known spike frames.

    Ground truth: per neuron, the sorted unique spike frames, where a spike that follows the
    previous spike by at most ``merge_window`` frames belongs to the same event (a burst is
    one event, timed by its first spike). Matching: per neuron, detected onsets and true events
    within ``±tolerance`` frames are paired one-to-one, closest pairs first (greedy).
    Counts are pooled over neurons.

    Parameters
    ----------
    detected : Iterable[Iterable[int]]
        Per-neuron onset frames (from ``identify_events`` or ``detect_events``).
    true_frames : Iterable[Iterable[int]] or numpy.ndarray
        Per-neuron true spike frames, or a ``(neurons, frames)`` spike-count array.
    tolerance : int, default 3
        Largest allowed timing error (frames); 3 frames = 100 ms at 30 Hz.
    merge_window : int, optional
        Spikes at most this many frames after the previous one form one event; default
        ``tolerance``.

    Returns
    -------
    EventScore
    """
    tolerance = check_int(tolerance, "tolerance", minimum=0)
    merge_window = check_int(tolerance if merge_window is None else merge_window,
                             "merge_window", minimum=0)
    if (isinstance(true_frames, np.ndarray) and true_frames.dtype != object
            and true_frames.ndim == 2):  # a (neurons, frames) spike-count matrix
        true_frames = [np.flatnonzero(row) for row in true_frames]
    truth = as_event_lists(true_frames, "true_frames")
    found = as_event_lists(detected, "detected", n_neurons=len(truth))
    tp = fp = fn = 0
    for d, t in zip(found, truth):
        events = _merge_true_events(t, int(merge_window))
        d = np.unique(d)
        matched = _match_greedy(d, events, int(tolerance))
        tp += matched
        fp += d.size - matched
        fn += events.size - matched
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return EventScore(precision, recall, f1, tp, fp, fn, int(tolerance))
