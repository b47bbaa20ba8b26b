"""Events, firing rates, waveforms and spike inference for ``(neurons, frames)`` traces.

Event lists
-----------
Functions that find events return, and functions that take ``event_indices`` accept, one sorted
1-D integer array of frame indices per neuron (a list with one entry per neuron). Both
:func:`identify_events` (documented 0.3.4 algorithm) and :func:`detect_events` (deconvolution)
produce it, so every downstream function accepts either.

Spike inference (extension)
---------------------------
:func:`infer_spikes` deconvolves ΔF/F0 with OASIS (``pip install 'calscipy[spikes]'``),
:func:`detect_events` turns the inferred activity into event onsets, and :func:`score_events`
measures detected onsets against known spike frames (precision, recall, F1).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from CalSciPy._checks import (
    as_event_lists,
    as_traces,
    check_frame_rate,
    check_int,
    check_real,
    check_window,
    float_dtype_for,
    in_place_result,
    prepare_output,
    restore_ndim,
)
from CalSciPy._peaks import find_peaks_exact
from CalSciPy._smoothing import gaussian_radius, gaussian_smooth_reflect
from CalSciPy._spikes.inference import (
    EventScore,
    SpikeInference,
    detect_events,
    infer_spikes,
    score_events,
)
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError
from CalSciPy.misc import _accepts_axis

__all__ = [
    "EventScore",
    "SpikeInference",
    "bin_data",
    "calculate_firing_rates",
    "calculate_mean_firing_rates",
    "collect_waveforms",
    "convert_tau",
    "detect_events",
    "get_event_onset_intensities",
    "get_inter_event_intervals",
    "get_num_events",
    "identify_events",
    "infer_spikes",
    "normalize_firing_rates",
    "scale_waveforms",
    "score_events",
]


# ---------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------
def identify_events(
    traces: np.ndarray,
    timeout: int = 15,
    frame_rate: float = 30.0,
    smooth: bool = True,
    force_nonneg: bool = True,
) -> list[np.ndarray] | np.ndarray:
    """Event onsets as peaks of the smoothed, non-negative first derivative of each trace.

    Per neuron, in float64: ``Δ[0] = 0``, ``Δ[t] = x[t] - x[t-1]``; if ``smooth``, ``Δ`` is
    Gaussian-smoothed with ``σ = frame_rate`` frames (one second, reflected borders, kernel
    truncated at 4σ as in :func:`scipy.ndimage.gaussian_filter1d`); if ``force_nonneg``,
    negative values are set to 0. Events are the peaks found by
    ``scipy.signal.find_peaks(Δ, prominence=nanstd(Δ) / 2, distance=timeout)``.

    The derivative, smoothing (a numba kernel that is bit-identical to ``gaussian_filter1d``:
    ``find_peaks`` on plateaus depends on the last bit) and thresholds are computed for blocks
    of 64 neurons at once; the peaks are found per neuron by a compiled equivalent of
    ``find_peaks`` (same indices, without its per-call overhead; see :mod:`CalSciPy._peaks`).

    Parameters
    ----------
    traces : numpy.ndarray
        ``(neurons, frames)`` (or one ``(frames,)`` trace), e.g. ΔF/F0.
    timeout : int, default 15
        Minimum distance between events (frames).
    frame_rate : float, default 30.0
        Frame rate (Hz); sets the smoothing width.
    smooth : bool, default True
        Smooth the derivative.
    force_nonneg : bool, default True
        Clip negative derivative values to 0.

    Returns
    -------
    list of numpy.ndarray
        One sorted int64 array of event frames per neuron; for 1-D input, that one array.

    Raises
    ------
    InvalidArgumentError
        Traces not 1-D/2-D, containing NaN/inf, or bad ``timeout``/``frame_rate`` (a
        ``frame_rate`` whose smoothing kernel would be far longer than the traces included).

    Notes
    -----
    These are the times of steepest rise of a heavily smoothed trace, typically several
    hundred ms before or after the true onset; use :func:`detect_events` for spike-level timing.
    """
    array, was_1d = as_traces(traces, finite=True)
    timeout = check_int(timeout, "timeout", minimum=1)
    frame_rate = check_frame_rate(frame_rate)
    if smooth:
        # the kernel (and each padded row) grows with σ = frame_rate frames: bound it up front
        check_window(2 * gaussian_radius(frame_rate) + 1,
                     f"frame_rate={frame_rate:g} (smoothing σ in frames)", array.shape[1],
                     what="smoothing kernel")
    events: list[np.ndarray] = []
    # blocks of neurons small enough to stay in cache through every step (the whole-array
    # version streams several float64 copies of the recording through memory)
    for start in range(0, array.shape[0], _EVENT_BLOCK_ROWS):
        events.extend(
            _identify_block(
                array[start:start + _EVENT_BLOCK_ROWS], timeout, frame_rate, smooth, force_nonneg
            )
        )
    return events[0] if was_1d else events


#: neurons per block in identify_events (bounds the float64 temporaries to a few MB; large
#: enough that the parallel smoothing kernel's start-up cost is negligible)
_EVENT_BLOCK_ROWS = 64


def _identify_block(block, timeout, frame_rate, smooth, force_nonneg) -> list[np.ndarray]:
    delta = np.empty(block.shape, dtype=np.float64)
    delta[:, 0] = 0.0
    np.subtract(block[:, 1:], block[:, :-1], out=delta[:, 1:], dtype=np.float64)
    if smooth:
        delta = gaussian_smooth_reflect(delta, sigma=frame_rate)
    if force_nonneg:
        np.maximum(delta, 0.0, out=delta)
    # traces were checked finite, so nanstd reduces to std (which skips the NaN masking)
    thresholds = np.std(delta, axis=1) / 2
    return [
        find_peaks_exact(row, distance=timeout, prominence=float(threshold))
        for row, threshold in zip(delta, thresholds)
    ]


def get_num_events(event_indices: Iterable[Iterable[int]]) -> np.ndarray:
    """Number of events per neuron → int64 ``(neurons,)``."""
    events = as_event_lists(event_indices)
    return np.array([e.size for e in events], dtype=np.int64)


def get_inter_event_intervals(
    event_indices: Iterable[Iterable[int]], frame_rate: float = 30.0
) -> tuple[np.ndarray, ...]:
    """Intervals between consecutive events of each neuron, in seconds.

    Returns
    -------
    tuple of numpy.ndarray
        Per neuron ``np.diff(events) / frame_rate`` (float64; empty for fewer than 2 events).
        Events are taken in the given order (sorted lists give non-negative intervals).
    """
    frame_rate = check_frame_rate(frame_rate)
    events = as_event_lists(event_indices)
    return tuple(np.diff(e).astype(np.float64) / frame_rate for e in events)


def get_event_onset_intensities(
    traces: np.ndarray, event_indices: Iterable[Iterable[int]]
) -> tuple[np.ndarray, ...]:
    """Trace value at each event frame: per neuron ``traces[i, events_i]``.

    For a 1-D trace (with a flat list of its events) the one array is returned.

    Raises
    ------
    ValueError
        Event lists that do not match the neuron count, or events beyond the recording.
    """
    array, was_1d = as_traces(traces)
    events = as_event_lists(
        event_indices, n_frames=array.shape[1], n_neurons=array.shape[0], allow_flat=was_1d
    )
    intensities = tuple(array[i, e] for i, e in enumerate(events))
    return intensities[0] if was_1d else intensities


# ---------------------------------------------------------------------------------------------
# firing rates
# ---------------------------------------------------------------------------------------------
def calculate_firing_rates(
    spike_probability_matrix: np.ndarray, frame_rate: float = 30.0, in_place: bool = False
) -> np.ndarray:
    """Convert per-frame spike probabilities (or counts, or inferred activity) to rates in Hz.

    Returns ``spike_probability_matrix * frame_rate``: float32 stays float32, other inputs give
    float64; with ``in_place=True`` the (float) input is overwritten and returned. NaNs propagate.
    """
    frame_rate = check_frame_rate(frame_rate)
    array, was_1d = as_traces(spike_probability_matrix, "spike_probability_matrix")
    out = prepare_output(array, in_place, "spike_probability_matrix")
    np.multiply(array, frame_rate, out=out, casting="unsafe")
    return in_place_result(spike_probability_matrix, out, was_1d, in_place)


def calculate_mean_firing_rates(firing_matrix: np.ndarray) -> np.ndarray:
    """Mean firing rate of each neuron over frames (``nanmean``) → ``(neurons,)``.

    A neuron whose frames are all NaN gives NaN (without a warning). 1-D input gives a scalar.
    """
    array, was_1d = as_traces(firing_matrix, "firing_matrix")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(array, axis=1, dtype=np.float64)
    return restore_ndim(means.astype(float_dtype_for(array.dtype), copy=False), was_1d)


def normalize_firing_rates(firing_matrix: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Scale each neuron to a maximum of 1.0, with negatives set to 0.

    Per neuron: ``max(x, 0) / nanmax(max(x, 0))``; a neuron that never exceeds 0 becomes all
    zeros (no NaN). NaNs stay NaN.
    """
    array, was_1d = as_traces(firing_matrix, "firing_matrix")
    out = prepare_output(array, in_place, "firing_matrix")
    np.maximum(array, 0, out=out, casting="unsafe")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        peak = np.nanmax(out, axis=1, keepdims=True)
    peak = np.where(np.isfinite(peak) & (peak > 0), peak, 1.0).astype(out.dtype)
    np.divide(out, peak, out=out)
    return in_place_result(firing_matrix, out, was_1d, in_place)


# ---------------------------------------------------------------------------------------------
# waveforms
# ---------------------------------------------------------------------------------------------
def collect_waveforms(
    traces: np.ndarray, event_indices: Iterable[Iterable[int]], pre: int = 150, post: int = 450
) -> tuple[np.ndarray, ...] | np.ndarray:
    """Cut a window around every event: ``pre`` frames before to ``post`` frames after.

    Returns
    -------
    tuple of numpy.ndarray
        Per neuron an ``(events, pre + post + 1)`` float array (float32 for float32 traces,
        else float64); column ``pre`` is the event frame. Samples outside the recording are NaN
        (windows stay aligned near both ends). A neuron without events gets ``(0, pre+post+1)``.
        For a 1-D trace (with a flat list of its events) the one array is returned.

    Raises
    ------
    InvalidArgumentError
        Negative ``pre``/``post`` (or far longer than the recording: at most
        ``max(4 * frames, 100000)`` each), event lists not matching the neurons, events beyond
        the recording.
    """
    array, was_1d = as_traces(traces)
    neurons, frames = array.shape
    pre = check_int(pre, "pre", minimum=0)
    post = check_int(post, "post", minimum=0)
    check_window(pre, f"pre={pre}", frames)
    check_window(post, f"post={post}", frames)
    events = as_event_lists(
        event_indices, n_frames=frames, n_neurons=neurons, allow_flat=was_1d
    )
    dtype = float_dtype_for(array.dtype)
    # one padded row at a time: the temporary stays (pre + frames + post,), not the whole array
    padded = np.full(pre + frames + post, np.nan, dtype=dtype)
    offsets = np.arange(pre + post + 1)
    waveforms = []
    for i, e in enumerate(events):
        padded[pre:pre + frames] = array[i]
        # event e in padded coordinates starts its window at e (its own frame sits at e + pre)
        waveforms.append(padded[e[:, np.newaxis] + offsets])
    return waveforms[0] if was_1d else tuple(waveforms)


class Standardizer:
    """The default scaler of :func:`scale_waveforms`: z-scores one feature (column).

    A minimal scikit-learn style transformer with the numbers of
    ``sklearn.preprocessing.StandardScaler`` (population variance; NaNs ignored when fitting
    and kept; (near-)constant features only centred, by StandardScaler's own test), so the
    default needs no scikit-learn. :func:`scale_waveforms` computes it vectorised over rows.
    """

    def fit_transform(self, values) -> np.ndarray:
        """Standardise each column of ``values`` ``(samples, features)``."""
        values = np.asarray(values, dtype=np.float64)
        return _standard_scale_rows(values.T).T


def _is_standard_scaler(scaler) -> bool:
    """The default, or scikit-learn's StandardScaler class itself (checked without importing
    scikit-learn): both are computed by the vectorised standardiser."""
    return scaler is Standardizer or (
        isinstance(scaler, type) and scaler.__name__ == "StandardScaler"
        and scaler.__module__.startswith("sklearn.")
    )


def scale_waveforms(
    waveforms: Iterable[np.ndarray], scaler: Callable = Standardizer
) -> tuple[np.ndarray, ...]:
    """Scale every waveform (row) on its own with a fresh ``scaler()`` fitted to that row.

    Parameters
    ----------
    waveforms : Iterable[numpy.ndarray]
        Per neuron an ``(events, samples)`` array, e.g. from :func:`collect_waveforms`.
    scaler : Callable, default Standardizer
        A scikit-learn style transformer class (or factory); each row's samples are one
        feature: ``scaler().fit_transform(row[:, None])``. NaNs are ignored when fitting and
        kept in the output (as scikit-learn scalers do). The default, :class:`Standardizer`,
        gives the numbers of ``sklearn.preprocessing.StandardScaler`` without needing
        scikit-learn; both are computed vectorised (zero-variance rows are only centred).

    Returns
    -------
    tuple of numpy.ndarray
        Same shapes as the input, float64.

    Raises
    ------
    InvalidArgumentTypeError
        ``scaler`` not callable (e.g. ``None``), or its ``fit_transform`` returning something
        that is not an array of real numbers (e.g. ``None``).
    InvalidArgumentError
        A waveform block that is not 2-D, or a scaler result of the wrong size.
    """
    if isinstance(waveforms, np.ndarray) and waveforms.dtype != object:
        waveforms = [waveforms] if waveforms.ndim == 2 else list(waveforms)
    if not callable(scaler):
        raise InvalidArgumentTypeError(
            f"scaler must be a scikit-learn style transformer class, got {scaler!r}"
        )
    out = []
    for i, block in enumerate(waveforms):
        block = np.asarray(block, dtype=np.float64)
        if block.ndim != 2:
            raise InvalidArgumentError(
                f"waveforms[{i}] must be 2-D (events, samples), got shape {block.shape}"
            )
        if _is_standard_scaler(scaler):
            out.append(_standard_scale_rows(block))
        else:
            scaled = np.empty_like(block)
            for r, row in enumerate(block):
                scaled[r] = _scaled_row(scaler, row, f"waveforms[{i}][{r}]")
            out.append(scaled)
    return tuple(out)


def _scaled_row(scaler: Callable, row: np.ndarray, where: str) -> np.ndarray:
    """``scaler().fit_transform(row[:, None])`` as a 1-D float array, checked."""
    result = scaler().fit_transform(row[:, np.newaxis])
    if result is None:
        raise InvalidArgumentTypeError(
            f"scaler {scaler!r}: fit_transform returned None for {where}; it must return the "
            "scaled samples"
        )
    values = np.asarray(result)
    if values.dtype == bool or values.dtype.kind not in "iuf":
        raise InvalidArgumentTypeError(
            f"scaler {scaler!r}: fit_transform must return real numbers, got dtype "
            f"{values.dtype} for {where}"
        )
    if values.size != row.size:
        raise InvalidArgumentError(
            f"scaler {scaler!r}: fit_transform returned {values.size} values for the "
            f"{row.size} samples of {where}"
        )
    return values.ravel()


def _standard_scale_rows(block: np.ndarray) -> np.ndarray:
    if block.size == 0:
        return block.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        mean = np.nanmean(block, axis=1, keepdims=True)
        var = np.nanvar(block, axis=1, keepdims=True)
    # StandardScaler leaves (near-)constant features unscaled instead of dividing by ~0, with
    # its own test: var <= n·eps·var + (n·mean·eps)², n the non-NaN samples
    n = np.sum(~np.isnan(block), axis=1, keepdims=True)
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    std = np.where(constant | ~np.isfinite(var), 1.0, np.sqrt(var))
    return (block - mean) / std


def convert_tau(tau: float, dt: float) -> float:
    """AR(1) coefficient → continuous decay time constant: ``-dt / ln(tau)`` (seconds).

    Parameters
    ----------
    tau : float
        Discrete decay constant (AR(1) coefficient), in (0, 1).
    dt : float
        Time step (s), > 0.

    Raises
    ------
    InvalidArgumentError
        ``tau`` outside (0, 1) or ``dt`` not a positive finite number.
    """
    tau_value = check_real(tau, "tau")
    dt = check_real(dt, "dt", positive=True, unit="s")
    if not 0.0 < tau_value < 1.0:
        raise InvalidArgumentError(
            f"tau must lie in (0, 1) (an AR(1) coefficient), got {tau!r}"
        )
    return -dt / math.log(tau_value)


# ---------------------------------------------------------------------------------------------
# binning
# ---------------------------------------------------------------------------------------------
_BIN_FUNCTIONS = ("mean", "median", "sum", "std")


def bin_data(
    data: pd.DataFrame | np.ndarray | Iterable, bin_length: int, fun: Callable | str
) -> pd.DataFrame | np.ndarray:
    """Reduce consecutive groups of ``bin_length`` rows (samples) with ``fun``.

    Parameters
    ----------
    data : pandas.DataFrame, numpy.ndarray or Iterable
        ``(samples, columns)``; a 1-D input is one column. Binning runs along rows (axis 0),
        so pass ``traces.T`` to bin ``(neurons, frames)`` traces over time.
    bin_length : int
        Rows per bin; the last bin may be shorter (``ceil(n / bin_length)`` bins).
    fun : str or Callable
        ``"mean"``, ``"median"``, ``"sum"``, ``"std"`` (ddof=1; a 1-row bin gives NaN) or a
        callable reducing along axis 0 (called as ``fun(block, axis=0)`` when it takes
        ``axis``, else ``fun(block)``).

    Returns
    -------
    numpy.ndarray or pandas.DataFrame
        ndarray in (or other iterable) → float ndarray ``(bins, columns)`` (1-D in → 1-D out);
        DataFrame in → DataFrame with the same columns, indexed by the bins' row-position
        intervals ``[start, stop)`` (a left-closed ``pandas.IntervalIndex``).
    """
    bin_length = check_int(bin_length, "bin_length", minimum=1)
    if isinstance(fun, str):
        if fun not in _BIN_FUNCTIONS:
            raise InvalidArgumentError(
                f"fun must be one of {_BIN_FUNCTIONS} or a callable, got {fun!r}"
            )
    elif not callable(fun):
        raise InvalidArgumentTypeError(
            f"fun must be one of {_BIN_FUNCTIONS} or a callable, got {fun!r}"
        )
    frame = data if isinstance(data, pd.DataFrame) else None
    if frame is not None:
        # pandas' own test: numpy's issubdtype cannot interpret extension dtypes (strings,
        # categoricals) and would raise a cryptic TypeError of its own
        bad = [str(c) for c, t in frame.dtypes.items()
               if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_complex_dtype(t)]
        if bad:
            raise InvalidArgumentTypeError(
                f"data (DataFrame) must have real numeric columns only; not numeric: "
                f"{', '.join(bad)}"
            )
        values = frame.to_numpy()
    else:
        try:
            values = np.asarray(data)
        except ValueError as err:
            raise InvalidArgumentError(f"data is ragged: {err}") from err
        # complex would lose its imaginary part in the float64 bins: refuse it
        if values.dtype.kind not in "biuf":
            raise InvalidArgumentTypeError(
                f"data must hold real numbers, got dtype {values.dtype}"
            )
    was_1d = values.ndim == 1
    if was_1d:
        values = values[:, np.newaxis]
    if values.ndim != 2:
        raise InvalidArgumentError(
            f"data must be 1-D or 2-D (samples, columns), got shape {values.shape}"
        )
    n = values.shape[0]
    if n == 0:
        raise InvalidArgumentError("data has no rows to bin")
    starts = np.arange(0, n, bin_length)
    stops = np.minimum(starts + bin_length, n)
    result = _reduce_bins(values, starts, stops, bin_length, fun)
    if frame is not None:
        index = pd.IntervalIndex.from_arrays(starts, stops, closed="left")
        return pd.DataFrame(result, index=index, columns=frame.columns)
    return result[:, 0] if was_1d else result


def _reduce_bins(values, starts, stops, bin_length, fun) -> np.ndarray:
    n, cols = values.shape
    full = n // bin_length
    if isinstance(fun, str):
        values = values.astype(np.float64, copy=False)
        reducer = {
            "mean": lambda b: np.mean(b, axis=1),
            "median": lambda b: np.median(b, axis=1),
            "sum": lambda b: np.sum(b, axis=1),
            "std": lambda b: np.std(b, axis=1, ddof=1),
        }[fun]
        out = np.empty((starts.size, cols), dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # std of a 1-row last bin → NaN
            if full:
                out[:full] = reducer(values[: full * bin_length].reshape(full, bin_length, cols))
            if full < starts.size:
                out[full] = reducer(values[full * bin_length:][np.newaxis])[0]
        return out
    takes_axis = _accepts_axis(fun)
    rows = []
    for a, b in zip(starts, stops):
        row = np.asarray(fun(values[a:b], axis=0) if takes_axis else fun(values[a:b]))
        # one value per column (a scalar is one value for a single column); anything else
        # would be silently reshaped or fail inside numpy
        if row.dtype.kind not in "biuf":
            raise InvalidArgumentTypeError(
                f"fun must reduce a bin to real numbers, got dtype {row.dtype} for rows {a}:{b}"
            )
        if row.size != cols or row.ndim > 1:
            raise InvalidArgumentError(
                f"fun must reduce a (rows, {cols}) bin along axis 0 to {cols} value(s), "
                f"got shape {row.shape} for rows {a}:{b}"
            )
        rows.append(row.reshape(cols))
    return np.stack(rows)

