"""Spike inference by OASIS deconvolution, event detection from it, and event-onset scoring."""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from CalSciPy._checks import as_traces, check_frame_rate
from CalSciPy._events.validation import as_event_lists
from CalSciPy._optional import optional_import

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
        ``(neurons, frames)`` float64, non-negative inferred activity per frame, in ΔF/F0 units
        (the size of the calcium jump the model attributes to that frame). Pass it to
        :func:`CalSciPy.event_processing.calculate_firing_rates` for a rate-like trace.
    denoised : numpy.ndarray
        ``(neurons, frames)`` float64, the fitted noise-free calcium trace (without baseline).
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
    denoised: np.ndarray
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
    denoised = np.zeros((n, frames))
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
        # OASIS's compiled AR(2) solver: as accurate here as the pure-Python
        # constrained_onnlsAR2 that oasis.functions.deconvolve uses, and about 2x faster
        methods = optional_import("oasis.oasis_methods", "spike inference")
        c, s, b, g_fit, _ = methods.constrained_oasisAR2(
            y, float(g[0]), float(g[1]), float(sn), optimize_b=True, b_nonneg=False,
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
        Worker processes (OASIS holds the GIL, so threads would not help). Default: all CPUs
        when there are at least 32 neurons, else 1.
    progress : bool, default True
        Show a tqdm progress bar over neurons (False hides it).

    Returns
    -------
    SpikeInference
        ``spikes`` ``(neurons, frames)`` non-negative activity, ``tau_decay`` ``(neurons,)`` in
        seconds, plus the denoised traces, baselines, noise levels and AR coefficients (see
        :class:`SpikeInference`). For 1-D input the arrays have no neuron axis.

    Notes
    -----
    Results are deterministic and identical for any ``n_jobs``: OASIS's occasional random
    restarts of the AR estimate use a fixed seed per trace (the global numpy RNG state of the
    caller is restored), and BLAS runs single-threaded inside the solver.

    Raises
    ------
    CalSciPy.errors.MissingDependencyError
        ``oasis-deconv`` is not installed (``pip install 'calscipy[spikes]'``).
    ValueError
        Non-finite traces, fewer than 10 frames, unknown ``method``, bad options.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    frame_rate = check_frame_rate(frame_rate)
    array, was_1d = _finite(dfof, "dfof", min_frames=10)
    if isinstance(ar_order, bool) or ar_order not in (1, 2):
        raise ValueError(f"ar_order must be 1 or 2, got {ar_order!r}")
    if tau_decay is not None:
        tau_decay = _positive(tau_decay, "tau_decay")
        if ar_order == 2:
            if tau_rise is None:
                raise ValueError("ar_order=2 with a fixed tau_decay also needs tau_rise")
            tau_rise = _positive(tau_rise, "tau_rise")
            if tau_rise >= tau_decay:
                raise ValueError(f"tau_rise ({tau_rise}) must be < tau_decay ({tau_decay})")
    elif tau_rise is not None:
        raise ValueError("tau_rise needs tau_decay as well")
    if isinstance(optimize_g, bool) or not isinstance(optimize_g, Integral) or optimize_g < 0:
        raise ValueError(f"optimize_g must be an integer >= 0, got {optimize_g!r}")
    optional_import("oasis.functions", "spike inference")  # fail early, in this process
    options = {
        "ar_order": int(ar_order),
        "tau_decay": tau_decay,
        "tau_rise": tau_rise,
        "frame_rate": frame_rate,
        "optimize_g": int(optimize_g),
    }
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
                  np.zeros((0, int(ar_order))))]
    spikes, denoised, baseline, noise, coefficients = (
        np.concatenate([part[k] for part in parts]) for k in range(5)
    )
    tau = np.array([_decay_from_ar(g, frame_rate) for g in coefficients])
    if was_1d:
        spikes, denoised, baseline, noise, coefficients, tau = (
            spikes[0], denoised[0], baseline[0], noise[0], coefficients[0], tau[0]
        )
    return SpikeInference(spikes, denoised, baseline, noise, coefficients, tau, frame_rate)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # respects CPU pinning / container limits
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _n_workers(n_jobs, n: int) -> int:
    if n_jobs is None:
        return min(_available_cpus(), n) if n >= _MIN_NEURONS_FOR_POOL else 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all CPUs), got {n_jobs!r}")
    wanted = _available_cpus() if n_jobs < 0 else int(n_jobs)
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


def _finite(traces, name: str, *, min_frames: int):
    array, was_1d = as_traces(traces, name, min_frames=min_frames)
    if not np.isfinite(array).all():
        bad = np.unique(np.nonzero(~np.isfinite(array))[0])
        raise ValueError(
            f"{name} contains NaN or infinite values (neurons {bad[:10].tolist()}"
            f"{'...' if bad.size > 10 else ''}); interpolate or drop them first"
        )
    return array, was_1d


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
        raise TypeError(f"{name} must be a number (s), got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 s, got {value!r}")
    return value


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
) -> list[np.ndarray]:
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
    array, was_1d = _finite(dfof, "dfof", min_frames=10)
    threshold = _positive(threshold, "threshold")
    if isinstance(merge_s, bool) or not isinstance(merge_s, (Real, np.number)) \
            or not (math.isfinite(float(merge_s)) and merge_s >= 0):
        raise ValueError(f"merge_s must be a finite number >= 0 (s), got {merge_s!r}")
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
    if isinstance(tolerance, bool) or not isinstance(tolerance, Integral) or tolerance < 0:
        raise ValueError(f"tolerance must be an integer >= 0 (frames), got {tolerance!r}")
    merge_window = tolerance if merge_window is None else merge_window
    if isinstance(merge_window, bool) or not isinstance(merge_window, Integral) or merge_window < 0:
        raise ValueError(f"merge_window must be an integer >= 0 (frames), got {merge_window!r}")
    is_counts = isinstance(true_frames, np.ndarray) and true_frames.dtype != object
    if is_counts and true_frames.ndim == 2:
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
