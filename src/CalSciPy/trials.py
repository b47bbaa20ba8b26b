"""Stimulus onsets, trial tensors, trial averages and responsive neurons.

From a stimulus signal (a PrairieView voltage channel, a photodiode, any 1-D signal with its
time index) to which neurons respond:

1. :func:`find_onsets` — onset times (ms) of the pulses, with an automatic threshold and
   hysteresis, and the imaging frame of each onset under one rule: **the first frame that
   starts at or after the onset** (a frame that started before the stimulus did not see all of
   it; this is ``numpy.searchsorted(frame_times, onset, side="left")``);
2. :func:`generate_trial_tensor` — ``(trials, neurons, frames)`` windows around the onsets,
   NaN where a window leaves the recording, and the time axis relative to onset;
3. :func:`trial_average` — mean and SEM over trials per condition;
4. :func:`responsive_neurons` — per neuron and condition, a Wilcoxon signed-rank test of the
   response window against the baseline window across trials, Benjamini–Hochberg FDR across
   neurons, and an effect size, as a :class:`pandas.DataFrame`.

This is its own module rather than part of :mod:`CalSciPy.reorganization`: that module
reshapes arrays without knowing about time (``generate_tensor`` cuts equal chunks), while
everything here is about time relative to a stimulus. ``reorganization.generate_tensor`` keeps
its documented 0.3.4 behaviour.

Conventions: traces ``(neurons, frames)``, tensors ``(trials, neurons, frames)``, times in
seconds unless a name ends in ``_ms`` (onset times are milliseconds, PrairieView's voltage
time base).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from CalSciPy._checks import as_real_array, as_traces, check_frame_rate, check_real
from CalSciPy.errors import InvalidArgumentError

__all__ = [
    "Onsets",
    "TrialAverage",
    "benjamini_hochberg",
    "find_onsets",
    "frames_of_onsets",
    "generate_trial_tensor",
    "responsive_neurons",
    "trial_average",
]

#: frame and onset times closer than this (s) count as equal: PrairieView writes times with
#: finite precision, so a frame "at" the onset may be a rounding error away from it
TIME_TOLERANCE_S = 1e-6
#: ``(trials × neurons × frames)`` elements a trial tensor may hold (4 GiB of float32)
MAX_TENSOR_ELEMENTS = 2**30


def _seconds(value, name: str, *, allow_zero: bool = False) -> float:
    if allow_zero:
        return check_real(value, name, minimum=0.0, unit="s")
    return check_real(value, name, positive=True, unit="s")


# ----------------------------------------------------------------------------- onsets
@dataclass(frozen=True)
class Onsets:
    """Stimulus onsets found by :func:`find_onsets`.

    Attributes
    ----------
    times_ms
        ``(onsets,)`` float64 onset times (ms, the signal's time base): the first sample at or
        above the threshold of each pulse (below it, for ``rising=False``).
    frames
        ``(onsets,)`` int64 (``(onsets, planes)`` for per-plane frame times) index of the first
        frame that starts at or after each onset, or None without frame times.
    threshold
        The threshold used (signal units).
    hysteresis
        ``(low, high)`` levels of the Schmitt trigger: a pulse starts when the signal reaches
        ``high`` and the next one can start only after it has gone back to ``low``.
    levels
        ``(low, high)`` levels of the two modes of the signal (automatic threshold), or None.
    signal_range
        ``(minimum, maximum)`` of the finite signal values.
    """

    times_ms: np.ndarray
    frames: np.ndarray | None
    threshold: float
    hysteresis: tuple[float, float]
    levels: tuple[float, float] | None
    signal_range: tuple[float, float]

    def __len__(self) -> int:
        return int(self.times_ms.size)

    @property
    def times_s(self) -> np.ndarray:
        """``(onsets,)`` onset times in seconds."""
        return self.times_ms / 1000.0

    def describe(self) -> str:
        """One line: how many onsets, the threshold and the signal range (for messages)."""
        low, high = self.signal_range
        return (f"{len(self)} onset(s); threshold {self.threshold:.4g}, signal range "
                f"{low:.4g} to {high:.4g}")


def _two_levels(values: np.ndarray) -> tuple[float, float, float]:
    """Levels of the two modes of ``values`` by iterative 2-means (Ridler–Calvard) and the
    spread within them; raises when the signal has no two separated levels."""
    # start from the extremes, not percentiles: a few short pulses are a tiny fraction of
    # the samples and would fall inside any percentile bracket
    low, high = float(values.min()), float(values.max())
    if not high > low:
        raise InvalidArgumentError(
            f"signal is flat (range {values.min():.4g} to {values.max():.4g}): no pulses to "
            "find an automatic threshold from; pass threshold="
        )
    threshold = 0.5 * (low + high)
    for _ in range(100):
        below, above = values[values < threshold], values[values >= threshold]
        if below.size == 0 or above.size == 0:
            break
        new = 0.5 * (float(np.median(below)) + float(np.median(above)))
        if new == threshold:
            break
        threshold = new
    below, above = values[values < threshold], values[values >= threshold]
    if below.size == 0 or above.size == 0:
        raise InvalidArgumentError("signal has no two levels to set an automatic threshold; "
                                   "pass threshold=")
    lo, hi = float(np.median(below)), float(np.median(above))
    spread = float(np.median(np.abs(below - lo)) + np.median(np.abs(above - hi)))
    # Gaussian noise split in two gives modes ~1.7 spreads apart; pulses, many more
    if hi - lo <= 4.0 * spread:
        raise InvalidArgumentError(
            f"signal has no two separated levels (modes {lo:.4g} and {hi:.4g}, spread within "
            f"them {spread:.4g}; range {values.min():.4g} to {values.max():.4g}): it looks like "
            "noise without pulses; pass threshold= if it does hold pulses"
        )
    return lo, hi, 0.5 * (lo + hi)


def _schmitt_onsets(signal: np.ndarray, threshold: float, low: float, high: float
                    ) -> np.ndarray:
    """Sample index of each rising pulse: a Schmitt trigger (up at ``high``, down at
    ``low``); the onset is the first sample at or above ``threshold`` of the rise."""
    n = signal.size
    index = np.arange(n)
    known = (signal >= high) | (signal <= low)
    last_known = np.maximum.accumulate(np.where(known, index, -1))
    # before the first decisive sample the state is "low": a signal that starts inside a
    # pulse has no onset there (its start was not recorded)
    state = np.where(last_known >= 0, signal[np.maximum(last_known, 0)] >= high, False)
    rises = np.flatnonzero(state[1:] & ~state[:-1]) + 1
    last_below = np.maximum.accumulate(np.where(signal < threshold, index, -1))
    return last_below[rises] + 1


def _as_frame_times(frame_times) -> np.ndarray:
    times = np.asarray(as_real_array(frame_times, "frame_times"), dtype=np.float64)
    if times.ndim not in (1, 2) or times.shape[0] == 0:
        raise InvalidArgumentError(
            f"frame_times must be (frames,) or (frames, planes) seconds, got shape {times.shape}"
        )
    if not np.all(np.isfinite(times)):
        raise InvalidArgumentError("frame_times holds NaN or infinite values")
    if times.shape[0] > 1 and np.any(np.diff(times, axis=0) <= 0):
        raise InvalidArgumentError("frame_times must increase strictly from frame to frame")
    return times


def frames_of_onsets(onset_times_s, frame_times, *, outside: str = "raise") -> np.ndarray:
    """Frame of each onset: the first frame that starts at or after it.

    Parameters
    ----------
    onset_times_s
        ``(onsets,)`` onset times (s), on the clock of ``frame_times``.
    frame_times
        ``(frames,)`` frame start times (s), or ``(frames, planes)`` with each plane's own time.
    outside
        What to do with onsets before the first frame's start or after the last frame's start
        (outside the imaging period, no frame under the rule): ``"raise"`` (default) or
        ``"drop"`` (leave them out).

    Returns
    -------
    numpy.ndarray
        ``(onsets,)`` int64 (``(onsets, planes)`` for 2-D frame times) frame indices.
        Times within :data:`TIME_TOLERANCE_S` of a frame start count as at it.

    Raises
    ------
    InvalidArgumentError
        Bad frame times, or onsets outside the imaging period with ``outside="raise"``.
    """
    frames, inside = _frames_and_inside(onset_times_s, frame_times, outside)
    return frames[inside]


def _frames_and_inside(onset_times_s, frame_times, outside: str
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Frames of all onsets and the mask of those inside the imaging period."""
    if outside not in ("raise", "drop"):
        raise InvalidArgumentError(f"outside must be 'raise' or 'drop', got {outside!r}")
    times = _as_frame_times(frame_times)
    onsets = np.asarray(onset_times_s, dtype=np.float64).ravel()
    columns = times if times.ndim == 2 else times[:, None]
    frames = np.empty((onsets.size, columns.shape[1]), dtype=np.int64)
    bad = np.zeros(onsets.size, dtype=bool)
    for p in range(columns.shape[1]):
        start = columns[:, p]
        frames[:, p] = np.searchsorted(start, onsets - TIME_TOLERANCE_S, side="left")
        bad |= (onsets < start[0] - TIME_TOLERANCE_S) | (frames[:, p] >= start.size)
    if bad.any() and outside == "raise":
        first, last = float(columns[0].min()), float(columns[-1].max())
        shown = ", ".join(f"{t:.4g}" for t in onsets[bad][:5])
        more = " ..." if bad.sum() > 5 else ""
        raise InvalidArgumentError(
            f"{int(bad.sum())} of {onsets.size} onset(s) are outside the imaging period "
            f"({first:.4g} s to {last:.4g} s, the first and last frame starts): at "
            f"{shown}{more} s; pass outside='drop' to leave them out"
        )
    return (frames[:, 0] if times.ndim == 1 else frames), ~bad


def find_onsets(
    signal,
    threshold: float | None = None,
    *,
    min_interval_s: float = 0.1,
    rising: bool = True,
    time_ms=None,
    sample_rate: float | None = None,
    frame_times=None,
    hysteresis: float = 0.25,
    outside: str = "raise",
) -> Onsets:
    """Find the onsets of stimulus pulses in a TTL, photodiode or any 1-D signal.

    Parameters
    ----------
    signal
        A :class:`pandas.Series` whose index is the time in ms (a column of
        :func:`CalSciPy.bruker.data.load_voltage_recording`), or a 1-D array with ``time_ms``
        or ``sample_rate``.
    threshold
        Crossing level (signal units). None: automatic, the midpoint between the signal's two
        modes (the levels between and during pulses, found by iterative 2-means of the values).
    min_interval_s
        Onsets less than this many seconds after the previous accepted onset are dropped
        (a photodiode flickering within one stimulus gives one onset).
    rising
        Onsets are rising crossings (default); False for falling ones (active-low TTLs).
    time_ms
        ``(samples,)`` sample times (ms) of an array ``signal``.
    sample_rate
        Samples per second of an array ``signal`` whose first sample is at time 0.
    frame_times
        Imaging frame start times (s) on the same clock (e.g.
        ``PrairieViewSession.frame_times``), ``(frames,)`` or ``(frames, planes)``; gives
        ``Onsets.frames``: the first frame that starts at or after each onset.
    hysteresis
        Half-width of the hysteresis band as a fraction of ``span``, the distance between the
        two modes (automatic threshold) or twice the distance from a given threshold to the
        nearer end of the signal range (so the band stays inside the signal): a pulse starts at
        ``threshold + hysteresis · span`` and the signal must fall to
        ``threshold − hysteresis · span`` before the next one, so noise on the edges gives one
        onset per pulse. In ``[0, 0.5)``.
    outside
        Onsets outside the imaging period (``frame_times`` given): ``"raise"`` or ``"drop"``,
        see :func:`frames_of_onsets`.

    Returns
    -------
    Onsets
        Onset times (ms), frames (with ``frame_times``), the threshold, hysteresis band, modes
        and signal range. No pulse gives an empty result (see :meth:`Onsets.describe`).

    Raises
    ------
    InvalidArgumentError
        Not 1-D, times missing or not increasing, no finite values, an automatic threshold on
        a signal without two separated levels, onsets outside the imaging period.
    """
    if isinstance(signal, pd.DataFrame):
        raise InvalidArgumentError(
            f"signal must be one column, got a DataFrame with columns {list(signal.columns)}; "
            "pass e.g. voltage['Stimulus']"
        )
    if isinstance(signal, pd.Series):
        if time_ms is not None or sample_rate is not None:
            raise InvalidArgumentError("a Series carries its time index; do not pass time_ms "
                                       "or sample_rate")
        times = np.asarray(as_real_array(signal.index.to_numpy(), "signal index"), np.float64)
        values = np.asarray(as_real_array(signal.to_numpy(), "signal"), dtype=np.float64)
    else:
        values = np.asarray(as_real_array(signal, "signal"), dtype=np.float64)
        if values.ndim != 1:
            raise InvalidArgumentError(f"signal must be 1-D (samples,), got shape {values.shape}")
        if (time_ms is None) == (sample_rate is None):
            raise InvalidArgumentError("an array signal needs exactly one of time_ms (ms per "
                                       "sample) or sample_rate (Hz)")
        if time_ms is not None:
            times = np.asarray(as_real_array(time_ms, "time_ms"), dtype=np.float64).ravel()
        else:
            rate = check_frame_rate(sample_rate, "sample_rate")
            times = np.arange(values.size, dtype=np.float64) * (1000.0 / rate)
    if times.size != values.size:
        raise InvalidArgumentError(f"signal has {values.size} samples but its time has "
                                   f"{times.size}")
    finite = np.isfinite(values)
    if not finite.any():
        raise InvalidArgumentError("signal has no finite values")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise InvalidArgumentError("signal time must be finite and strictly increasing")
    min_interval_s = _seconds(min_interval_s, "min_interval_s", allow_zero=True)
    hysteresis = check_real(hysteresis, "hysteresis", minimum=0.0)
    if not hysteresis < 0.5:
        raise InvalidArgumentError(f"hysteresis must be a fraction in [0, 0.5), got "
                                   f"{hysteresis!r}")
    signal_range = (float(values[finite].min()), float(values[finite].max()))
    sign = 1.0 if rising else -1.0
    if not finite.all():  # NaN samples (dropouts) hold the last finite value
        last = np.maximum.accumulate(np.where(finite, np.arange(values.size), 0))
        values = values[last]
    levels = None
    if threshold is None:
        lo, hi, thr = _two_levels(values[np.isfinite(values)])
        levels = (lo, hi)
        span = hi - lo
    else:
        thr = check_real(threshold, "threshold")
        # the band must stay inside the signal: scale it by the nearer extreme
        span = 2.0 * max(0.0, min(thr - signal_range[0], signal_range[1] - thr))
    band = (thr - hysteresis * span, thr + hysteresis * span)
    if rising:
        index = _schmitt_onsets(values, thr, band[0], band[1])
    else:
        index = _schmitt_onsets(sign * values, sign * thr, sign * band[1], sign * band[0])
    onset_ms = times[index]
    if onset_ms.size and min_interval_s > 0:
        keep = [0]
        for k in range(1, onset_ms.size):
            if onset_ms[k] - onset_ms[keep[-1]] >= 1000.0 * min_interval_s:
                keep.append(k)
        onset_ms = onset_ms[keep]
    frames = None
    if frame_times is not None:
        frames, inside = _frames_and_inside(onset_ms / 1000.0, frame_times, outside)
        frames, onset_ms = frames[inside], onset_ms[inside]
    return Onsets(times_ms=onset_ms, frames=frames, threshold=thr, hysteresis=band,
                  levels=levels, signal_range=signal_range)


# ----------------------------------------------------------------------------- tensors
def _onset_frames(onset_frames, n_frames: int) -> np.ndarray:
    frames = np.asarray(onset_frames)
    if frames.ndim != 1:
        raise InvalidArgumentError(f"onset_frames must be 1-D (trials,), got shape "
                                   f"{frames.shape}")
    if frames.size and not np.issubdtype(frames.dtype, np.integer):
        as_float = np.asarray(as_real_array(frames, "onset_frames"), dtype=np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise InvalidArgumentError("onset_frames must be whole frame indices")
        frames = as_float.astype(np.int64)
    frames = frames.astype(np.int64, copy=False)
    bad = frames[(frames < 0) | (frames >= n_frames)]
    if bad.size:
        raise InvalidArgumentError(
            f"onset frame {int(bad[0])} is outside the recording (frames 0 to {n_frames - 1})"
        )
    return frames


def window_frames(pre_s: float, post_s: float, frame_rate: float) -> tuple[int, int]:
    """Frames before and from the onset of a ``(pre_s, post_s)`` window:
    ``round(pre_s · frame_rate)`` and ``round(post_s · frame_rate)``."""
    pre_s = _seconds(pre_s, "pre_s", allow_zero=True)
    post_s = _seconds(post_s, "post_s")
    rate = check_frame_rate(frame_rate)
    n_pre, n_post = int(round(pre_s * rate)), int(round(post_s * rate))
    if n_post < 1:
        raise InvalidArgumentError(f"post_s = {post_s:g} s is less than one frame at "
                                   f"{rate:g} Hz")
    return n_pre, n_post


def generate_trial_tensor(
    traces,
    onset_frames,
    pre_s: float,
    post_s: float,
    frame_rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut windows around stimulus onsets into a ``(trials, neurons, frames)`` tensor.

    Window of trial k: frames ``onset_frames[k] − n_pre`` to ``onset_frames[k] + n_post − 1``
    with ``n_pre = round(pre_s · frame_rate)`` and ``n_post = round(post_s · frame_rate)``;
    the onset frame is at time 0. Frames of a window outside the recording are NaN (no
    ``IndexError`` at either end).

    Parameters
    ----------
    traces
        ``(neurons, frames)`` (or ``(frames,)`` for one neuron), e.g. ΔF/F0.
    onset_frames
        ``(trials,)`` onset frame indices (:attr:`Onsets.frames`), each in the recording.
    pre_s, post_s
        Seconds before (≥ 0) and after (> 0) each onset.
    frame_rate
        Imaging rate (Hz).

    Returns
    -------
    tensor : numpy.ndarray
        ``(trials, neurons, n_pre + n_post)``, float32 for float32 traces, else float64.
    time_s : numpy.ndarray
        ``(n_pre + n_post,)`` time of each window frame relative to onset (s):
        ``arange(−n_pre, n_post) / frame_rate``.

    Raises
    ------
    InvalidArgumentError
        Bad window, onset frames not whole or outside the recording, a window longer than the
        recording, or a tensor larger than :data:`MAX_TENSOR_ELEMENTS`.
    """
    data, _ = as_traces(traces)
    n_neurons, n_frames = data.shape
    n_pre, n_post = window_frames(pre_s, post_s, frame_rate)
    width = n_pre + n_post
    if width > n_frames:
        raise InvalidArgumentError(
            f"the window ({n_pre} + {n_post} frames) is longer than the recording "
            f"({n_frames} frames)"
        )
    frames = _onset_frames(onset_frames, n_frames)
    if frames.size * n_neurons * width > MAX_TENSOR_ELEMENTS:
        raise InvalidArgumentError(
            f"a {frames.size} × {n_neurons} × {width} trial tensor exceeds "
            f"{MAX_TENSOR_ELEMENTS} elements; use fewer neurons or a shorter window"
        )
    dtype = np.float32 if data.dtype == np.float32 else np.float64
    tensor = np.full((frames.size, n_neurons, width), np.nan, dtype=dtype)
    for k, onset in enumerate(frames):
        start, stop = onset - n_pre, onset + n_post
        lo, hi = max(start, 0), min(stop, n_frames)
        tensor[k, :, lo - start:hi - start] = data[:, lo:hi]
    time_s = np.arange(-n_pre, n_post) / float(frame_rate)
    return tensor, time_s


def _as_tensor(tensor) -> np.ndarray:
    data = as_real_array(tensor, "tensor")
    if data.ndim != 3:
        raise InvalidArgumentError(f"tensor must be (trials, neurons, frames), got shape "
                                   f"{data.shape}")
    if data.shape[0] == 0:
        raise InvalidArgumentError("tensor has no trials")
    return data


def _conditions(conditions, n_trials: int) -> tuple[np.ndarray, list]:
    if conditions is None:
        labels = np.zeros(n_trials, dtype=np.int64)
        return labels, [0]
    labels = np.asarray(conditions)
    if labels.ndim != 1 or labels.size != n_trials:
        raise InvalidArgumentError(
            f"conditions must give one label per trial ({n_trials}), got shape {labels.shape}"
        )
    order = list(dict.fromkeys(labels.tolist()))  # first appearance, like plot_trials
    return labels, order


@dataclass(frozen=True)
class TrialAverage:
    """Per-condition trial averages from :func:`trial_average`.

    Attributes
    ----------
    conditions
        Condition labels, in order of first appearance.
    mean, sem
        ``(conditions, neurons, frames)`` NaN-aware mean and standard error of the mean over
        the trials of each condition (SEM: sample s.d. / √n; NaN below two trials).
    n_trials
        ``(conditions, neurons, frames)`` number of finite values averaged.
    time_s
        ``(frames,)`` time relative to onset (s), when given.
    """

    conditions: list
    mean: np.ndarray
    sem: np.ndarray
    n_trials: np.ndarray
    time_s: np.ndarray | None = None


def trial_average(tensor, conditions: Sequence | np.ndarray | None = None, *,
                  time_s=None) -> TrialAverage:
    """Mean ± SEM over trials, per condition.

    Parameters
    ----------
    tensor
        ``(trials, neurons, frames)`` from :func:`generate_trial_tensor` (NaN = no data).
    conditions
        ``(trials,)`` condition label of each trial; None: all trials one condition (label 0).
    time_s
        The tensor's time axis, kept in the result for plotting.

    Returns
    -------
    TrialAverage
        ``mean``, ``sem`` and ``n_trials`` of shape ``(conditions, neurons, frames)``.
    """
    data = _as_tensor(tensor)
    labels, order = _conditions(conditions, data.shape[0])
    shape = (len(order), *data.shape[1:])
    mean = np.full(shape, np.nan)
    sem = np.full(shape, np.nan)
    count = np.zeros(shape, dtype=np.int64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, as meant
        for c, label in enumerate(order):
            group = np.asarray(data[labels == label], dtype=np.float64)
            count[c] = np.isfinite(group).sum(axis=0)
            mean[c] = np.nanmean(group, axis=0)
            std = np.nanstd(group, axis=0, ddof=1)
            sem[c] = np.where(count[c] > 1, std / np.sqrt(np.maximum(count[c], 1)), np.nan)
    time = None if time_s is None else np.asarray(time_s, dtype=np.float64)
    if time is not None and time.shape != (data.shape[2],):
        raise InvalidArgumentError(f"time_s must have one value per tensor frame "
                                   f"({data.shape[2]}), got shape {time.shape}")
    return TrialAverage(conditions=order, mean=mean, sem=sem, n_trials=count, time_s=time)


# ----------------------------------------------------------------------------- statistics
def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries stay NaN and do not count.

    ``q_(i) = min_{j ≥ i} min(1, m · p_(j) / j)`` over the ``m`` finite p-values sorted
    ascending; the same as :func:`scipy.stats.false_discovery_control` (``method='bh'``) on
    the finite entries.
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    values = p[finite]
    if values.size == 0:
        return q
    if np.any((values < 0) | (values > 1)):
        raise InvalidArgumentError("p-values must lie in [0, 1]")
    order = np.argsort(values, kind="stable")
    m = values.size
    scaled = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    q[finite] = result
    return q


def _window(time: np.ndarray, window, name: str) -> np.ndarray:
    try:
        start, stop = (float(v) for v in window)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a (start, stop) pair of seconds, got "
                                   f"{window!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop) and stop > start):
        raise InvalidArgumentError(f"{name} must be finite seconds with stop > start, got "
                                   f"{window!r}")
    # a nanosecond of slack: window edges written in seconds land on frame times
    inside = (time >= start - 1e-9) & (time < stop - 1e-9)
    if not inside.any():
        raise InvalidArgumentError(
            f"{name} ({start:g} s to {stop:g} s) holds no frame of the tensor (time axis "
            f"{time[0]:g} s to {time[-1]:g} s)"
        )
    return inside


def _wilcoxon_columns(diff: np.ndarray, paired: np.ndarray, columns: np.ndarray,
                      alternative: str, stat: np.ndarray, p: np.ndarray) -> None:
    """``scipy.stats.wilcoxon`` of each column's paired values, into ``stat`` and ``p``.

    Columns with the same paired trials and no zero or tied differences are tested in one
    vectorised call (scipy picks its method, exact or normal, from the sample alone for
    them, so the result is that of one call per column); the others one by one, as scipy
    decides per sample how to treat their ties and zeros.
    """
    from scipy import stats

    groups: dict[bytes, list[int]] = {}
    for column in columns:
        groups.setdefault(np.packbits(paired[:, column]).tobytes(), []).append(int(column))
    for members in groups.values():
        cols = np.asarray(members)
        x = diff[paired[:, cols[0]]][:, cols]  # (paired trials, columns)
        ordered = np.sort(np.abs(x), axis=0)
        clean = np.all(ordered != 0, axis=0) & np.all(np.diff(ordered, axis=0) != 0, axis=0)
        if clean.any():
            result = stats.wilcoxon(x[:, clean], alternative=alternative,
                                    zero_method="wilcox", axis=0)
            stat[cols[clean]] = result.statistic
            p[cols[clean]] = result.pvalue
        for k in np.flatnonzero(~clean):
            result = stats.wilcoxon(x[:, k], alternative=alternative, zero_method="wilcox")
            stat[cols[k]], p[cols[k]] = result.statistic, result.pvalue


def responsive_neurons(
    tensor,
    baseline_s: tuple[float, float],
    response_s: tuple[float, float],
    *,
    time_s,
    conditions: Sequence | np.ndarray | None = None,
    ids: Sequence | np.ndarray | None = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> pd.DataFrame:
    """Which neurons respond to each condition: a paired test per neuron across trials.

    For each trial, neuron and condition the mean of the tensor in the baseline window and in
    the response window are taken (NaN frames left out); the trials' response − baseline
    differences are tested with the Wilcoxon signed-rank test
    (:func:`scipy.stats.wilcoxon`; trials without data in either window are left out), the
    p-values of one condition are corrected across neurons with Benjamini–Hochberg
    (:func:`benjamini_hochberg`), and a neuron is responsive when ``q < alpha``.

    Parameters
    ----------
    tensor
        ``(trials, neurons, frames)`` from :func:`generate_trial_tensor`.
    baseline_s, response_s
        ``(start, stop)`` seconds relative to onset; a frame at time t is in the window when
        ``start ≤ t < stop``. Typically ``(-pre, 0)`` and ``(0, post)``.
    time_s
        ``(frames,)`` the tensor's time axis (s, relative to onset).
    conditions
        ``(trials,)`` condition labels; None: one condition (label 0).
    ids
        ``(neurons,)`` neuron ids for the ``neuron`` column (e.g. ROI ids); default 0 … n−1.
    alpha
        False-discovery rate for ``responsive``.
    alternative
        ``"two-sided"`` (default: excited or suppressed), ``"greater"`` (response > baseline)
        or ``"less"``.

    Returns
    -------
    pandas.DataFrame
        One row per condition and neuron: ``condition``, ``neuron``, ``n_trials`` (paired
        trials used), ``baseline`` and ``response`` (mean over trials of the window means),
        ``delta`` (mean of response − baseline), ``effect_size`` (Cohen's d_z: mean difference
        / its sample s.d.; NaN when the differences do not vary), ``statistic`` and ``p_value``
        (Wilcoxon), ``q_value`` (BH within the condition), ``responsive`` (``q_value < alpha``).
        A neuron with fewer than two paired trials or only zero differences gets p = NaN and
        is not responsive.
    """
    data = _as_tensor(tensor)
    time = np.asarray(as_real_array(time_s, "time_s"), dtype=np.float64)
    if time.shape != (data.shape[2],):
        raise InvalidArgumentError(f"time_s must have one value per tensor frame "
                                   f"({data.shape[2]}), got shape {time.shape}")
    base = _window(time, baseline_s, "baseline_s")
    resp = _window(time, response_s, "response_s")
    if alternative not in ("two-sided", "greater", "less"):
        raise InvalidArgumentError(f"alternative must be 'two-sided', 'greater' or 'less', got "
                                   f"{alternative!r}")
    alpha = check_real(alpha, "alpha", above=0.0, maximum=1.0)
    labels, order = _conditions(conditions, data.shape[0])
    n_neurons = data.shape[1]
    neuron_ids = np.arange(n_neurons) if ids is None else np.asarray(ids)
    if neuron_ids.shape != (n_neurons,):
        raise InvalidArgumentError(f"ids must give one id per neuron ({n_neurons}), got shape "
                                   f"{neuron_ids.shape}")
    tables = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for label in order:
            group = np.asarray(data[labels == label], dtype=np.float64)
            b = np.nanmean(group[:, :, base], axis=2)  # (trials, neurons)
            r = np.nanmean(group[:, :, resp], axis=2)
            diff = r - b
            paired = np.isfinite(diff)
            n = paired.sum(axis=0)
            d = np.where(paired, diff, np.nan)
            mean_diff = np.nanmean(d, axis=0)
            sd = np.nanstd(d, axis=0, ddof=1)
            effect = np.where((n > 1) & (sd > 0), mean_diff / np.where(sd > 0, sd, 1.0), np.nan)
            p = np.full(n_neurons, np.nan)
            stat = np.full(n_neurons, np.nan)
            nonzero = np.sum(paired & (diff != 0), axis=0)
            testable = (n >= 2) & (nonzero >= 1)
            _wilcoxon_columns(diff, paired, np.flatnonzero(testable), alternative, stat, p)
            q = benjamini_hochberg(p)
            tables.append(pd.DataFrame({
                "condition": [label] * n_neurons,
                "neuron": neuron_ids,
                "n_trials": n.astype(np.int64),
                "baseline": np.nanmean(np.where(paired, b, np.nan), axis=0),
                "response": np.nanmean(np.where(paired, r, np.nan), axis=0),
                "delta": mean_diff,
                "effect_size": effect,
                "statistic": stat,
                "p_value": p,
                "q_value": q,
                "responsive": np.nan_to_num(q, nan=1.0) < alpha,
            }))
    return pd.concat(tables, ignore_index=True)

