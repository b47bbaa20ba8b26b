"""Processing of fluorescence traces ``(neurons, frames)``: ΔF/F0, noise, detrending, smoothing.

All functions accept a 2-D ``(neurons, frames)`` array or a single 1-D trace (returned 1-D).
Float32 input gives float32 output, float64 gives float64, integer input is computed and
returned as float64. ``in_place=True`` writes into the caller's (float) array and returns it.

The per-neuron work runs in numba kernels parallel over neurons, so both cores are used, and
the working memory is a few row-sized buffers per thread (``calculate_dfof(in_place=True)``
allocates essentially nothing beyond the input).
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.signal import firwin

from CalSciPy._checks import (
    as_traces,
    check_finite_traces,
    check_frame_rate,
    check_int,
    check_real,
    check_window,
    float_dtype_for,
    in_place_result,
    prepare_output,
    restore_ndim,
)
from CalSciPy._smoothing import gaussian_kernel, gaussian_radius, gaussian_smooth_reflect
from CalSciPy._trace_kernels import (
    dfof_baseline_kernel,
    dfof_maximin_kernel,
    dfof_sliding_kernel,
    median_abs_diff_kernel,
    perona_malik_kernel,
    project_out_kernel,
)
from CalSciPy.errors import InvalidArgumentError

__all__ = [
    "calculate_dfof",
    "calculate_standardized_noise",
    "detrend_polynomial",
    "perona_malik_diffusion",
]

#: accepted spellings of the two ΔF/F0 methods
_BASELINE_METHODS = ("baseline", "filter", "low-pass", "low_pass")
_SLIDING_METHODS = ("sliding",)
_MAXIMIN_METHODS = ("maximin",)
#: default window (s) of each time-varying baseline: 30 s sliding percentile, suite2p's 60 s
_DEFAULT_WINDOW_S = {"sliding": 30.0, "maximin": 60.0}

#: rows handled per chunk where numpy (not numba) does the work, to bound temporary memory
_CHUNK_BYTES = 8 * 2**20


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------
def _as_float_input(traces: np.ndarray) -> np.ndarray:
    """Input as float32/float64 for the numba kernels (integers → float64, floats kept)."""
    dtype = float_dtype_for(traces.dtype)
    return traces if traces.dtype == dtype else traces.astype(dtype)


def _lowpass_design(n_frames: int, frame_rate: float) -> tuple[np.ndarray, int, int]:
    """FIR taps, their count and the filtfilt ``padlen`` of the documented baseline recipe.

    ``taps = min(30, N // 3)``, made odd by subtracting one; ``padlen = 3 * taps``; when
    ``padlen == N`` one more tap is removed (the tap count may then be even, as documented).
    """
    taps = min(30, n_frames // 3)
    if taps % 2 == 0:
        taps -= 1
    padlen = 3 * taps
    if padlen == n_frames:
        taps -= 1
        padlen = 3 * taps
    b = firwin(taps, cutoff=1.0, fs=frame_rate)
    return b, taps, padlen


def _filtfilt_kernel(b: np.ndarray) -> np.ndarray:
    """Impulse response of ``filtfilt(b, [1.0], ·)`` away from the ends: ``b ⊛ b[::-1]``.

    For an FIR filter and ``padlen ≥ taps − 1`` (always true here, padlen = 3·taps), every
    output sample of ``scipy.signal.filtfilt`` equals this symmetric kernel (length
    ``2·taps − 1``) applied to the odd extension of the row: the padding samples that
    filtfilt's initial conditions act on are cut off again before the result is returned.
    """
    return np.convolve(b, b[::-1])


def _sliding_windows(n_frames: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Window starts (a tenth of a window apart, the last one flush with the end) and
    centres (frames) of the sliding baseline."""
    step = max(1, window // 10)
    starts = np.arange(0, n_frames - window + 1, step, dtype=np.int64)
    if starts[-1] != n_frames - window:
        starts = np.append(starts, n_frames - window)
    return starts, starts + (window - 1) / 2.0


def _prepare_reference(external_reference, traces2d: np.ndarray, min_frames: int,
                       same_length: bool, method: str = "sliding") -> np.ndarray:
    ref2d, _ = as_traces(external_reference, "external_reference")
    if ref2d.shape[0] != traces2d.shape[0]:
        raise InvalidArgumentError(
            f"external_reference has {ref2d.shape[0]} neuron(s) but traces has "
            f"{traces2d.shape[0]} (shapes {np.shape(external_reference)} and "
            f"{traces2d.shape})"
        )
    if same_length and ref2d.shape[1] != traces2d.shape[1]:
        raise InvalidArgumentError(
            f"method={method!r} needs an external_reference with as many frames as traces "
            f"({traces2d.shape[1]}), got {ref2d.shape[1]}"
        )
    if ref2d.shape[1] < min_frames:
        raise InvalidArgumentError(
            f"external_reference needs at least {min_frames} frames (filter padlen + 1) for "
            f"traces of {traces2d.shape[1]} frames, got {ref2d.shape[1]}"
        )
    check_finite_traces(ref2d, "external_reference")
    return np.ascontiguousarray(_as_float_input(ref2d))


def _maximin_dfof(source: np.ndarray, values: np.ndarray, out: np.ndarray, frame_rate: float,
                  window_s: float, sigma_frames: float, offset: float) -> np.ndarray:
    """suite2p's maximin baseline of ``source`` → ΔF/F0 of ``values`` into ``out``; blocks of
    rows keep the float64 smoothed copy to ``_CHUNK_BYTES``. Returns each row's min F0."""
    n_rows, n_frames = values.shape
    window = int(window_s * frame_rate)
    if window < 1:
        raise InvalidArgumentError(
            f"window_s={window_s} s at {frame_rate} Hz is {window} frames; maximin needs >= 1"
        )
    rows = max(1, _CHUNK_BYTES // (8 * n_frames))
    f0_min = np.empty(n_rows)
    for first in range(0, n_rows, rows):
        block = slice(first, min(n_rows, first + rows))
        smoothed = gaussian_smooth_reflect(source[block], sigma_frames)
        f0_min[block] = dfof_maximin_kernel(smoothed, values[block], out[block], window, offset)
    return f0_min


def _warn_nonpositive(f0_min: np.ndarray) -> None:
    bad = np.flatnonzero(~(f0_min > 0))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:5])
        warnings.warn(
            f"baseline F0 <= 0 for {bad.size} neuron(s) ({shown}{', ...' if bad.size > 5 else ''})"
            "; ΔF/F0 is meaningless there. Pass offset=... to shift the baseline above zero "
            "(e.g. for background-subtracted traces)",
            RuntimeWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def calculate_dfof(
    traces: np.ndarray,
    frame_rate: float = 30.0,
    in_place: bool = False,
    offset: float = 0.0,
    external_reference: np.ndarray | None = None,
    method="baseline",
    *,
    window_s: float | None = None,
    percentile: float = 8.0,
    sigma_frames: float = 10.0,
) -> np.ndarray:
    """Calculate the fractional change in fluorescence ΔF/F0 of each neuron.

    Parameters
    ----------
    traces
        Raw fluorescence, ``(neurons, frames)`` or one trace ``(frames,)``; at least 4 frames,
        all values finite.
    frame_rate
        Sampling rate in Hz; must be > 2 Hz (the 1 Hz low-pass cutoff must lie below Nyquist).
    in_place
        Write ΔF/F0 into ``traces`` (float32/float64 only) and return it.
    offset
        Added to the baseline F0 (same units as ``traces``), e.g. to keep F0 positive for
        background-subtracted traces.
    external_reference
        Optional ``(neurons, frames_ref)`` array the baseline is estimated from instead of
        ``traces`` (e.g. a longer recording of the same neurons, or a red channel).
    method
        ``"baseline"`` (aliases ``"filter"``, ``"low-pass"``, ``"low_pass"``): one scalar F0
        per neuron. ``"sliding"``: a time-varying F0(t), for bleaching or drifting recordings.
        ``"maximin"``: suite2p's time-varying baseline (Gaussian smoothing, then running
        minimum and running maximum), to reproduce a suite2p analysis.
    window_s
        ``"sliding"`` and ``"maximin"``: length of the running window in seconds (default 30 s
        for ``"sliding"``, clipped to the recording; 60 s for ``"maximin"``, suite2p's
        ``win_baseline``).
    percentile
        ``"sliding"`` only: the low percentile of the window taken as F0 (default 8).
    sigma_frames
        ``"maximin"`` only: standard deviation of the Gaussian smoothing in frames (default
        10, suite2p's ``sig_baseline``).

    Returns
    -------
    numpy.ndarray
        ΔF/F0 = (F − F0) / F0, dimensionless, same shape as ``traces``; float32 for float32
        input, float64 otherwise; ``traces`` itself when ``in_place``.

    Raises
    ------
    ValueError
        Fewer than 4 frames, more than 2 dimensions, non-finite values, ``frame_rate`` ≤ 2 Hz
        or not finite, an unknown ``method``, or an ``external_reference`` with a different
        neuron count or shorter than ``padlen + 1`` frames.
    TypeError
        Non-numeric input, or ``in_place=True`` on an integer array.

    Notes
    -----
    ``"baseline"`` (default), per neuron: low-pass the source row (``traces`` or
    ``external_reference``) with ``scipy.signal.firwin(taps, cutoff=1.0, fs=frame_rate)``
    applied forwards and backwards as ``scipy.signal.filtfilt(b, [1.0], x, padlen=padlen)``
    does, where ``taps = min(30, N // 3)`` made odd and ``padlen = 3 * taps`` (if
    ``padlen == N``, one tap fewer), N being the number of frames of ``traces``; then
    ``F0 = percentile(filtered, 5) + offset`` and ΔF/F0 = (F − F0) / F0 computed in float64.
    The zero-phase filter is evaluated as one symmetric FIR kernel ``b ⊛ b[::-1]`` on the
    odd-extended row, which equals filtfilt's output exactly (its padding is cut off again),
    in a numba kernel parallel over neurons. For 4–8 frames the rule gives a single tap,
    ``b = [1.0]`` (which ``filtfilt`` itself refuses): the filter is then the identity.

    ``"sliding"``: the source row is low-passed the same way (which keeps shot noise from
    dragging a low percentile down), then the ``percentile``-th percentile of every window of
    ``window_s`` seconds is taken at window centres spaced a tenth of a window apart and
    linearly interpolated to every frame (held constant before the first and after the last
    centre). A second pass applies the same running percentile to the residual (filtered
    minus first estimate) and adds it: on a bleaching (sloping) baseline a window's low
    percentile lies below the value at its centre, and this removes that offset.
    ``F0(t) = estimate + offset``. ``external_reference`` must then have as many frames as
    ``traces``. The running percentile is exact (the same order statistics as
    ``np.percentile`` on each window); for low (high) percentiles only the window's values
    near the quantile are tracked from one window to the next.

    ``"maximin"`` (suite2p's ``baseline="maximin"``): ``F0 = maximum_filter1d(
    minimum_filter1d(gaussian_filter1d(source, sigma_frames), w), w) + offset`` along frames,
    with ``w = int(window_s * frame_rate)`` and scipy.ndimage's defaults (mode ``"reflect"``,
    Gaussian truncated at 4 σ), computed in float64; this is the rule of suite2p's scipy
    implementation (suite2p 1.x computes it with torch, padding by edge replication, an odd
    window and a 3 σ kernel, so its first and last window differ slightly). suite2p subtracts
    this baseline; here ΔF/F0 = (F − F0) / F0 as for the other methods.

    A baseline ≤ 0 gives a ``RuntimeWarning`` (suggesting ``offset``), not an error.
    """
    traces2d, was_1d = as_traces(traces, "traces", min_frames=4)
    frame_rate = check_frame_rate(frame_rate, above=2.0)
    offset = check_real(offset, "offset")
    method_name = method.lower() if isinstance(method, str) else method
    methods = _BASELINE_METHODS + _SLIDING_METHODS + _MAXIMIN_METHODS
    if method_name not in methods:
        raise InvalidArgumentError(
            f"unknown method {method!r}; valid methods are "
            f"{', '.join(repr(m) for m in methods)}"
        )
    sliding = method_name in _SLIDING_METHODS
    maximin = method_name in _MAXIMIN_METHODS
    window_seconds = 0.0
    if sliding or maximin:
        default = _DEFAULT_WINDOW_S["maximin" if maximin else "sliding"]
        window_seconds = check_frame_rate(default if window_s is None else window_s,
                                          "window_s", unit="s")
    if sliding:
        percentile = check_real(percentile, "percentile", minimum=0.0, maximum=100.0)
    if maximin:
        sigma_frames = check_real(sigma_frames, "sigma_frames", positive=True)

    n_frames = traces2d.shape[1]
    b, taps, padlen = _lowpass_design(n_frames, frame_rate)
    check_finite_traces(traces2d, "traces")
    out = prepare_output(traces2d, in_place)
    values = traces2d if in_place else _as_float_input(traces2d)
    if external_reference is not None:
        source = _prepare_reference(external_reference, traces2d, padlen + 1,
                                    sliding or maximin, method_name)
    else:
        source = values
    h = _filtfilt_kernel(b)

    with np.errstate(divide="ignore", invalid="ignore"):
        if maximin:
            f0_min = _maximin_dfof(source, values, out, frame_rate, window_seconds,
                                   sigma_frames, offset)
        elif sliding:
            window = int(min(n_frames, max(1, round(window_seconds * frame_rate))))
            starts, centres = _sliding_windows(n_frames, window)
            f0_min = dfof_sliding_kernel(
                source, values, out, h, float(percentile) / 100.0, offset, starts, centres,
                window,
            )
        else:
            f0_min = np.empty(traces2d.shape[0])
            dfof_baseline_kernel(source, values, out, h, 0.05, offset, f0_min)
    _warn_nonpositive(f0_min)
    return in_place_result(traces, out, was_1d, in_place)


def calculate_standardized_noise(
    fold_fluorescence_over_baseline: np.ndarray, frame_rate: float = 30.0
) -> np.ndarray:
    """Frame-rate independent noise level of ΔF/F0 traces (Rupprecht et al., 2021).

    ``ν = 100 · median_t |x[t+1] − x[t]| / sqrt(frame_rate)`` per neuron, in % Hz^-1/2.
    It is robust against transients; the best Allen Brain Institute recordings reach about
    1 % Hz^-1/2. As in published CalSciPy, it is the median absolute first difference,
    not rescaled to a standard deviation.

    Parameters
    ----------
    fold_fluorescence_over_baseline
        ΔF/F0 traces ``(neurons, frames)`` or one trace ``(frames,)``; at least 2 frames.
        NaNs are ignored; an all-NaN neuron gives NaN.
    frame_rate
        Sampling rate in Hz (> 0).

    Returns
    -------
    numpy.ndarray
        ``(neurons,)`` noise levels (a 0-d value for 1-D input); float32 for float32 input
        (computed in float32), float64 otherwise.
    """
    x, was_1d = as_traces(fold_fluorescence_over_baseline, "fold_fluorescence_over_baseline",
                          min_frames=2)
    frame_rate = check_frame_rate(frame_rate)
    dtype = float_dtype_for(x.dtype)
    median = np.empty(x.shape[0], dtype=dtype)
    median_abs_diff_kernel(_as_float_input(x), median)
    noise = dtype.type(100) * median / dtype.type(np.sqrt(frame_rate))
    return restore_ndim(noise.astype(dtype, copy=False), was_1d)


def detrend_polynomial(traces: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Remove a fourth-order polynomial trend from each neuron's trace.

    Per neuron, the least-squares polynomial of degree 4 in the frame index ``x = 0..N−1``
    (what ``np.polyfit(x, trace, 4)`` fits) is evaluated and subtracted.

    Parameters
    ----------
    traces
        ``(neurons, frames)`` or one trace ``(frames,)``; finite values, at least 1 frame.
    in_place
        Subtract the trend from ``traces`` itself (float32/float64 only) and return it.

    Returns
    -------
    numpy.ndarray
        Detrended traces, same shape; float32 for float32 input, float64 otherwise.

    Notes
    -----
    All neurons share the design matrix, so the fit is one orthogonal projection: the
    Vandermonde matrix of the (rescaled) frame index is QR-factorised once and the trend of
    every neuron is ``(Y Q) Qᵀ`` (float64, a numba kernel parallel over neurons, no
    temporaries). This spans the same
    polynomials as ``polyfit`` and agrees with it to floating-point precision (better
    conditioned than the unscaled fit). With fewer than 5 frames the polynomial interpolates
    the data and the result is zero.
    """
    traces2d, was_1d = as_traces(traces, "traces", min_frames=1)
    check_finite_traces(traces2d, "traces")
    out = prepare_output(traces2d, in_place)
    n_frames = traces2d.shape[1]
    degree = min(4, n_frames - 1)
    # the rescaling to [-1, 1] keeps the Vandermonde columns comparable; the polynomial space
    # (and so the least-squares fit) is unchanged
    x = np.linspace(-1.0, 1.0, n_frames) if n_frames > 1 else np.zeros(1)
    q, _ = np.linalg.qr(np.vander(x, degree + 1))
    project_out_kernel(_as_float_input(traces2d), np.ascontiguousarray(q.T), out)
    return in_place_result(traces, out, was_1d, in_place)


def perona_malik_diffusion(
    traces: np.ndarray,
    iters: int = 25,
    kappa: float = 0.15,
    gamma: float = 0.25,
    sigma: float = 0,
    in_place: bool = False,
) -> np.ndarray:
    """Edge-preserving smoothing of traces by 1-D Perona–Malik diffusion.

    Smooths where the trace changes slowly (noise) and preserves fast, large changes
    (transient onsets), unlike Gaussian smoothing, which blurs them in time.

    Per trace x (length N), with zero-flux ends: ``K = kappa · (max(x) − min(x))`` from the
    input; then ``iters`` times: ``d[i] = x[i+1] − x[i]`` (``d[N−1] = 0``), optionally
    ``d = gaussian_filter1d(d, sigma)``, flux ``φ = d · exp(−(d/K)²)``, divergence
    ``δ[0] = φ[0]``, ``δ[i] = φ[i] − φ[i−1]``, and ``x += gamma · δ``. Everything except x
    is computed in float64. A constant trace (K = 0, also for ``kappa=0``) is returned
    unchanged.

    Parameters
    ----------
    traces
        ``(neurons, frames)`` or one trace ``(frames,)``; finite values.
    iters
        Number of iterations (≥ 1).
    kappa
        Edge threshold as a fraction of each trace's dynamic range, in [0, 1].
    gamma
        Step size (rate of diffusion) per iteration, in [0, 1].
    sigma
        Standard deviation (frames) of a Gaussian applied to the differences before the
        diffusion coefficient is computed (``scipy.ndimage.gaussian_filter1d`` semantics:
        truncated at 4 σ, mode ``"reflect"``); 0 disables it.
    in_place
        Smooth ``traces`` itself (float32/float64 only) and return it.

    Returns
    -------
    numpy.ndarray
        Smoothed traces, same shape; float32 for float32 input, float64 otherwise.
    """
    iters = check_int(iters, "iters", minimum=1)
    kappa = check_real(kappa, "kappa", minimum=0.0, maximum=1.0)
    gamma = check_real(gamma, "gamma", minimum=0.0, maximum=1.0)
    sigma = check_real(sigma, "sigma", minimum=0.0)
    traces2d, was_1d = as_traces(traces, "traces", min_frames=1, finite=True)
    if sigma > 0:
        check_window(2 * gaussian_radius(sigma) + 1, f"sigma={sigma:g}", traces2d.shape[1],
                     what="smoothing kernel")
    _check_diffusion_range(traces2d, float_dtype_for(traces2d.dtype))
    out = prepare_output(traces2d, in_place)
    if not in_place:
        out[...] = traces2d
    if sigma > 0:
        # the same truncated, normalised kernel as scipy.ndimage.gaussian_filter1d
        weights = gaussian_kernel(sigma)
    else:
        weights = np.ones(1)
    perona_malik_kernel(out, iters, kappa, gamma, weights)
    return in_place_result(traces, out, was_1d, in_place)


def _check_diffusion_range(traces2d: np.ndarray, dtype: np.dtype) -> None:
    """Refuse values whose range overflows ``dtype`` in the diffusion (±1e308 gave all NaN).

    The edge threshold is ``kappa · (max − min)`` and an iteration moves a sample by up to
    ``2 · gamma · (max − min)``: both must stay finite, with a margin for the iterations.
    """
    if traces2d.size == 0:
        return
    limit = np.finfo(dtype).max / 8
    with np.errstate(over="ignore", invalid="ignore"):
        low = np.min(traces2d, axis=1).astype(np.float64)
        high = np.max(traces2d, axis=1).astype(np.float64)
        span = high - low
    bad = np.flatnonzero(~(span <= limit) | ~(np.maximum(np.abs(low), np.abs(high)) <= limit))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:5])
        raise InvalidArgumentError(
            f"traces hold values too large for the diffusion in {np.dtype(dtype).name} "
            f"(neuron(s) {shown}{', ...' if bad.size > 5 else ''}: range "
            f"{low[bad[0]]:g} to {high[bad[0]]:g}; the range must stay below {limit:.3g}); "
            "rescale the traces first"
        )
