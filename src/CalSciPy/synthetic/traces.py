"""Seeded synthetic fluorescence traces with their ground truth (spikes, F0, kernels)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from CalSciPy.errors import InvalidArgumentError
from CalSciPy.synthetic._validate import check_count, check_positive, check_range
from CalSciPy.synthetic.spikes import draw_rates, spike_times, spike_times_to_counts

__all__ = ["SyntheticTraces", "generate_traces", "gcamp_kernel"]

@dataclass
class SyntheticTraces:
    """A synthetic recording of fluorescence traces and its ground truth.

    Shapes: ``(neurons, frames)`` unless stated; times in seconds.

    Attributes
    ----------
    traces
        Raw fluorescence F (arbitrary units ≈ photons), float32, noise included.
    spikes
        Spike counts per frame, int32.
    f0
        ``(neurons,)`` resting baseline F0 at the start of the recording.
    baseline
        True time-varying baseline F0(t) (bleaching and slow drift), float32.
    dfof_true
        Noise-free ΔF/F0 = (F_clean − F0(t)) / F0(t), float32.
    tau_rise, tau_decay
        ``(neurons,)`` rise and decay time constants of the calcium kernel (s).
    frame_rate
        Imaging rate (Hz).
    event_frames
        One int64 array per neuron: the frame of every spike (a frame appears once per spike in
        it, so ``np.bincount(event_frames[i], minlength=frames) == spikes[i]``).
    amplitude
        ``(neurons,)`` mean peak ΔF/F0 of a single spike.
    rates
        ``(neurons,)`` mean firing rates (Hz) the spikes were drawn with.
    spike_times
        One float64 array per neuron: spike times (s) within the recording.
    noise_sd
        ``(neurons,)`` standard deviation of the noise of ΔF/F0 at rest (at F0 of the first
        frame), dimensionless; 0 when generated without noise.
    """

    traces: np.ndarray
    spikes: np.ndarray
    f0: np.ndarray
    baseline: np.ndarray
    dfof_true: np.ndarray
    tau_rise: np.ndarray
    tau_decay: np.ndarray
    frame_rate: float
    event_frames: list[np.ndarray]
    amplitude: np.ndarray = field(default_factory=lambda: np.empty(0))
    rates: np.ndarray = field(default_factory=lambda: np.empty(0))
    spike_times: list[np.ndarray] = field(default_factory=list)
    noise_sd: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def n_neurons(self) -> int:
        """Number of neurons."""
        return int(self.traces.shape[0])

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.traces.shape[1])

    @property
    def time(self) -> np.ndarray:
        """``(frames,)`` time of each frame's start (s)."""
        return np.arange(self.n_frames) / self.frame_rate


def gcamp_kernel(tau_rise, tau_decay, frame_rate: float, n_samples: int | None = None
                 ) -> np.ndarray:
    """Double-exponential calcium kernel(s) sampled at frame centres, peak normalised to 1.

    ``h(t) = exp(−t/τ_decay) − exp(−t/τ_rise)`` at ``t = (k + 0.5) / frame_rate``
    (a spike's response sampled half a frame after the start of the frame it falls in),
    divided by the continuous-time peak value so one spike gives a peak of about 1.

    Parameters
    ----------
    tau_rise, tau_decay
        Time constants in seconds, scalars or ``(neurons,)`` arrays (``tau_decay > tau_rise``).
    frame_rate
        Sampling rate in Hz.
    n_samples
        Kernel length in frames; default: until the kernel has decayed below 1e-4.

    Returns
    -------
    numpy.ndarray
        ``(n_samples,)`` for scalar time constants, else ``(neurons, n_samples)``; float64.
    """
    rise = np.atleast_1d(np.asarray(tau_rise, dtype=np.float64))
    decay = np.atleast_1d(np.asarray(tau_decay, dtype=np.float64))
    if np.any(rise <= 0) or np.any(decay <= rise):
        raise InvalidArgumentError("gcamp_kernel needs 0 < tau_rise < tau_decay")
    if n_samples is None:
        n_samples = int(np.ceil(decay.max() * np.log(1e4) * frame_rate)) + 1
    t = (np.arange(n_samples) + 0.5) / frame_rate
    t_peak = np.log(decay / rise) * rise * decay / (decay - rise)
    peak = np.exp(-t_peak / decay) - np.exp(-t_peak / rise)
    kernel = (np.exp(-t / decay[:, None]) - np.exp(-t / rise[:, None])) / peak[:, None]
    scalar = np.ndim(tau_rise) == 0 and np.ndim(tau_decay) == 0
    return kernel[0] if scalar else kernel


@numba.njit(cache=True, parallel=True)
def _kernel_response(row_ptr, cols, vals, decay_step, rise_step, decay_scale, rise_scale,
                     out):  # pragma: no cover - compiled
    """``out[i] = Σ_spikes val · kernel_i(t − frame)`` with the double-exponential kernel.

    Each exponential is a first-order recursion (``y[t] = a · y[t−1] + w[t]``), so the
    untruncated kernel costs two multiply-adds per frame; spikes come as sorted CSR rows.
    """
    n_rows, n_frames = out.shape
    for i in numba.prange(n_rows):
        slow = 0.0
        fast = 0.0
        p = row_ptr[i]
        end = row_ptr[i + 1]
        for t in range(n_frames):
            slow *= decay_step[i]
            fast *= rise_step[i]
            while p < end and cols[p] == t:
                slow += vals[p]
                fast += vals[p]
                p += 1
            value = decay_scale[i] * slow - rise_scale[i] * fast
            out[i, t] = value if value > 0.0 else 0.0


@numba.njit(cache=True, parallel=True)
def _compose(envelope, coarse_step, dfof, normal, gain, read_var, baseline, traces
             ):  # pragma: no cover - compiled
    """Baseline (linear interpolation of the coarse envelope), F = F0 · (1 + ΔF/F0) and,
    when ``normal`` has rows, Poisson–Gaussian noise ``sqrt(gain · F + read_var) · normal``."""
    n_rows, n_frames = dfof.shape
    noisy = normal.shape[0] > 0
    for i in numba.prange(n_rows):
        for t in range(n_frames):
            left = t // coarse_step
            frac = (t - left * coarse_step) / coarse_step
            base = envelope[i, left] + (envelope[i, left + 1] - envelope[i, left]) * frac
            baseline[i, t] = base
            clean = base * (1.0 + dfof[i, t])
            if noisy:
                clean += math.sqrt(gain * clean + read_var) * normal[i, t]
            traces[i, t] = clean


def generate_traces(
    n_neurons: int = 100,
    n_frames: int = 9000,
    frame_rate: float = 30.0,
    *,
    seed: int | np.random.Generator | None = 0,
    rate_range: tuple[float, float] = (0.05, 0.5),
    refractory: float = 0.02,
    tau_rise_range: tuple[float, float] = (0.04, 0.07),
    tau_decay_range: tuple[float, float] = (0.3, 1.5),
    amplitude_range: tuple[float, float] = (0.2, 1.0),
    amplitude_cv: float = 0.15,
    f0_range: tuple[float, float] = (200.0, 500.0),
    bleach_tau_range: tuple[float, float] | None = (1000.0, 5000.0),
    drift: float = 0.03,
    drift_period_range: tuple[float, float] = (60.0, 300.0),
    gain: float = 1.0,
    read_noise: float = 8.0,
    noise: bool = True,
) -> SyntheticTraces:
    """Generate a seeded synthetic recording of GCaMP-like fluorescence traces.

    Model, per neuron i and frame t (time ``t / frame_rate`` s):

    * spikes: Poisson with a refractory period at a rate drawn log-uniformly from
      ``rate_range`` (see :func:`generate_spike_trains`);
    * ΔF/F0: every spike adds a double-exponential kernel (:func:`gcamp_kernel`, rise
      ``tau_rise`` ≈ 50 ms, decay ``tau_decay`` 0.3–1.5 s, drawn uniformly per neuron) of
      peak ``amplitude_i · max(0, 1 + amplitude_cv · z)`` (per-spike jitter), with
      ``amplitude_i`` uniform in ``amplitude_range``; responses add linearly;
    * baseline: ``F0_i(t) = f0_i · exp(−t / τ_bleach,i) · (1 + drift_i(t))`` with ``f0_i``
      uniform in ``f0_range``, ``τ_bleach`` uniform in ``bleach_tau_range`` (s; None: no
      bleaching) and ``drift_i`` a sum of three slow sinusoids (periods in
      ``drift_period_range`` s, zero at t = 0) of total standard deviation ≈ ``drift``;
    * fluorescence: ``F = F0(t) · (1 + ΔF/F0)`` plus Poisson–Gaussian noise: shot noise of
      variance ``gain · F`` (ADU per photon × signal) and read noise of s.d. ``read_noise``,
      drawn with the Gaussian approximation of the Poisson distribution (accurate for the
      hundreds of photons per frame simulated here).

    The defaults give sparse firing (0.05–0.5 Hz), single-spike ΔF/F0 of 0.2–1.0 and ΔF/F0
    noise s.d. of about 0.05–0.09, i.e. realistic cellular GCaMP6/7 recordings.

    Parameters
    ----------
    n_neurons, n_frames
        Size of the recording (≥ 1 each).
    frame_rate
        Imaging rate in Hz.
    seed
        Seed (or ``numpy.random.Generator``); the same arguments and seed give identical
        output.
    rate_range, refractory
        Firing rates (Hz) and absolute refractory period (s).
    tau_rise_range, tau_decay_range
        Ranges (s) of the per-neuron kernel time constants.
    amplitude_range, amplitude_cv
        Range of the per-neuron mean single-spike peak ΔF/F0 and the coefficient of variation
        of individual spike amplitudes.
    f0_range
        Range of the resting fluorescence (≈ photons per frame when ``gain`` is 1).
    bleach_tau_range
        Range (s) of the bleaching time constants, or None for no bleaching.
    drift, drift_period_range
        Relative s.d. of the slow baseline drift (0 disables it) and its periods (s).
    gain, read_noise
        Detector gain (ADU per photon) and read-noise s.d. (ADU).
    noise
        False gives noise-free traces (``traces`` = F0(t) · (1 + ΔF/F0)).

    Returns
    -------
    SyntheticTraces
        The traces and their ground truth.
    """
    n_neurons = check_count(n_neurons, "n_neurons")
    n_frames = check_count(n_frames, "n_frames")
    frame_rate = check_positive(frame_rate, "frame_rate")
    rate_range = check_range(rate_range, "rate_range")
    refractory = check_positive(refractory, "refractory", allow_zero=True)
    if rate_range[1] * refractory >= 1.0:
        raise InvalidArgumentError(f"rate_range high {rate_range[1]:g} Hz needs < 1 / refractory")
    tau_rise_range = check_range(tau_rise_range, "tau_rise_range")
    tau_decay_range = check_range(tau_decay_range, "tau_decay_range")
    if tau_rise_range[0] <= 0 or tau_decay_range[0] <= tau_rise_range[1]:
        raise InvalidArgumentError(
            f"need 0 < tau_rise < tau_decay, got tau_rise_range={tau_rise_range} and "
            f"tau_decay_range={tau_decay_range}"
        )
    amplitude_range = check_range(amplitude_range, "amplitude_range")
    amplitude_cv = check_positive(amplitude_cv, "amplitude_cv", allow_zero=True)
    f0_range = check_range(f0_range, "f0_range")
    if f0_range[0] <= 0:
        raise InvalidArgumentError(f"f0_range must be positive, got {f0_range}")
    if bleach_tau_range is not None:
        bleach_tau_range = check_range(bleach_tau_range, "bleach_tau_range")
        if bleach_tau_range[0] <= 0:
            raise InvalidArgumentError(f"bleach_tau_range must be positive, got {bleach_tau_range}")
    drift = check_positive(drift, "drift", allow_zero=True)
    drift_period_range = check_range(drift_period_range, "drift_period_range")
    if drift_period_range[0] <= 0:
        raise InvalidArgumentError(f"drift_period_range must be positive, got {drift_period_range}")
    gain = check_positive(gain, "gain", allow_zero=True)
    read_noise = check_positive(read_noise, "read_noise", allow_zero=True)

    rng = np.random.default_rng(seed)
    duration = n_frames / frame_rate
    # every per-neuron parameter is drawn before any per-frame array, in a fixed order, so a
    # seed gives the same neurons whatever the recording length
    rates = draw_rates(rng, n_neurons, rate_range)
    tau_rise = rng.uniform(*tau_rise_range, n_neurons)
    tau_decay = rng.uniform(*tau_decay_range, n_neurons)
    amplitude = rng.uniform(*amplitude_range, n_neurons)
    f0 = rng.uniform(*f0_range, n_neurons)
    bleach_tau = (rng.uniform(*bleach_tau_range, n_neurons) if bleach_tau_range is not None
                  else np.full(n_neurons, np.inf))
    periods = rng.uniform(*drift_period_range, (n_neurons, 3))
    phases = rng.uniform(0.0, 2.0 * np.pi, (n_neurons, 3))
    drift_weights = rng.normal(0.0, 1.0, (n_neurons, 3))
    # a unit sinusoid has s.d. 1/√2: scale so the summed drift has s.d. ≈ drift
    drift_weights *= drift * np.sqrt(2.0 / 3.0)

    times = spike_times(rng, rates, duration, refractory)
    # spike times are sorted, so their frames are too; a time that rounds onto frame
    # n_frames (just below the end) is dropped so times, frames and counts agree
    event_frames = [np.floor(ts * frame_rate).astype(np.int64) for ts in times]
    keep = [frames < n_frames for frames in event_frames]
    times = [ts[k] for ts, k in zip(times, keep)]
    event_frames = [frames[k] for frames, k in zip(event_frames, keep)]
    spikes = spike_times_to_counts(times, n_frames, frame_rate)

    # per-spike amplitudes on the nonzero entries only (spikes are sparse); np.nonzero
    # returns them row by row in frame order, i.e. as sorted CSR rows
    rows, cols = np.nonzero(spikes)
    counts = spikes[rows, cols].astype(np.float64)
    jitter = np.maximum(0.0, 1.0 + amplitude_cv * rng.standard_normal(rows.size))
    # several spikes in one frame: the jitter of their sum scales with √count
    vals = amplitude[rows] * (counts + (jitter - 1.0) * np.sqrt(counts))
    row_ptr = np.zeros(n_neurons + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_neurons), out=row_ptr[1:])
    # gcamp_kernel sampled at t = (k + 0.5) / frame_rate and divided by its peak
    t_peak = np.log(tau_decay / tau_rise) * tau_rise * tau_decay / (tau_decay - tau_rise)
    peak = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
    dfof_true = np.empty((n_neurons, n_frames), dtype=np.float32)
    _kernel_response(
        row_ptr, cols.astype(np.int64), vals,
        np.exp(-1.0 / (tau_decay * frame_rate)), np.exp(-1.0 / (tau_rise * frame_rate)),
        np.exp(-0.5 / (tau_decay * frame_rate)) / peak,
        np.exp(-0.5 / (tau_rise * frame_rate)) / peak,
        dfof_true,
    )

    # bleaching and drift vary over tens of seconds: evaluate them on a coarse grid (10 Hz)
    # and interpolate linearly to the frames (error < 1e-6 of F0)
    coarse_step = max(1, int(frame_rate // 10))
    coarse_t = np.arange(0, n_frames + coarse_step, coarse_step) / frame_rate
    envelope = f0[:, None] * np.exp(-coarse_t / bleach_tau[:, None])
    if drift > 0:
        wobble = np.zeros_like(envelope)
        for k in range(3):
            arg = 2.0 * np.pi / periods[:, k, None] * coarse_t + phases[:, k, None]
            wobble += drift_weights[:, k, None] * (np.sin(arg) - np.sin(phases[:, k, None]))
        envelope *= 1.0 + wobble
    baseline = np.empty((n_neurons, n_frames), dtype=np.float32)
    traces = np.empty((n_neurons, n_frames), dtype=np.float32)
    noise_sd = np.sqrt(gain * f0 + read_noise**2) / f0 if noise else np.zeros(n_neurons)
    # row chunks bound the memory of the normal draws and fix their order
    chunk = max(1, (32 * 2**20) // (4 * n_frames))
    no_noise = np.empty((0, n_frames), dtype=np.float32)
    for start in range(0, n_neurons, chunk):
        sl = slice(start, min(n_neurons, start + chunk))
        normal = (rng.standard_normal((sl.stop - sl.start, n_frames), dtype=np.float32)
                  if noise else no_noise)
        _compose(envelope[sl], coarse_step, dfof_true[sl], normal, gain, read_noise**2,
                 baseline[sl], traces[sl])
    return SyntheticTraces(
        traces=traces,
        spikes=spikes,
        f0=f0,
        baseline=baseline,
        dfof_true=dfof_true,
        tau_rise=tau_rise,
        tau_decay=tau_decay,
        frame_rate=frame_rate,
        event_frames=event_frames,
        amplitude=amplitude,
        rates=rates,
        spike_times=times,
        noise_sd=noise_sd,
    )
