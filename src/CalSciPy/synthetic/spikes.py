"""Seeded spike trains: Poisson firing with an absolute refractory period, per-neuron rates."""
from __future__ import annotations

import math

import numpy as np

from CalSciPy.errors import InvalidArgumentError
from CalSciPy.synthetic._validate import check_count, check_positive, check_range

__all__ = ["generate_spike_trains", "spike_times_to_counts"]


def draw_rates(rng: np.random.Generator, n_neurons: int, rate_range: tuple[float, float]
               ) -> np.ndarray:
    """Per-neuron firing rates (Hz), log-uniform in ``rate_range`` (uniform if it includes 0)."""
    lo, hi = rate_range
    if lo > 0:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n_neurons))
    return rng.uniform(lo, hi, n_neurons)


def spike_times(rng: np.random.Generator, rates: np.ndarray, duration: float,
                refractory: float) -> list[np.ndarray]:
    """Spike times (s) in ``[0, duration)`` per neuron: refractory-shifted exponential ISIs.

    Each inter-spike interval is ``refractory + Exponential(1/rate − refractory)``, so the mean
    rate is exactly ``rate`` and no two spikes are closer than ``refractory``. The first spike
    time is drawn from the stationary (equilibrium) distribution so the train has no onset
    transient. Vectorised: all intervals of all neurons are drawn in one array.
    """
    n_neurons = rates.shape[0]
    if n_neurons == 0:
        return []
    mean_isi = np.full(n_neurons, np.inf)
    active = rates > 0
    mean_isi[active] = 1.0 / rates[active]
    free = np.where(active, mean_isi - refractory, np.inf)
    # enough intervals to cover the duration with overwhelming probability; topped up below
    expected = np.where(active, duration / np.where(active, mean_isi, 1.0), 0.0)
    n_draw = int(math.ceil(expected.max() + 6.0 * math.sqrt(expected.max()) + 8.0))
    scale = np.where(active, free, 1.0)[:, None]
    isi = refractory + rng.exponential(1.0, (n_neurons, n_draw)) * scale
    # stationary start: the forward recurrence time of this renewal process is uniform on
    # [0, refractory) with probability refractory / mean_isi, else refractory + exponential
    in_refractory = rng.uniform(0.0, 1.0, n_neurons) * np.where(active, mean_isi, 1.0) \
        < refractory
    isi[:, 0] = np.where(in_refractory, rng.uniform(0.0, refractory, n_neurons), isi[:, 0])
    times = np.cumsum(isi, axis=1)
    while True:
        short = active & (times[:, -1] < duration)
        if not short.any():
            break
        more = refractory + rng.exponential(1.0, (n_neurons, n_draw)) * scale
        times = np.concatenate([times, times[:, -1:] + np.cumsum(more, axis=1)], axis=1)
    result = []
    for i in range(n_neurons):
        if not active[i]:
            result.append(np.empty(0))
            continue
        row = times[i]
        result.append(row[: np.searchsorted(row, duration)])
    return result


def spike_times_to_counts(times: list[np.ndarray], n_frames: int, frame_rate: float,
                          dtype=np.int32) -> np.ndarray:
    """Bin spike times (s) into per-frame counts ``(neurons, n_frames)``; frame k is
    ``[k / frame_rate, (k + 1) / frame_rate)``."""
    frames = [np.floor(np.asarray(t) * frame_rate).astype(np.int64) for t in times]
    flat = np.concatenate(
        [i * n_frames + f[(f >= 0) & (f < n_frames)] for i, f in enumerate(frames)]
        or [np.empty(0, dtype=np.int64)]
    )
    counts = np.zeros((len(times), n_frames), dtype=dtype)
    # spikes are sparse: count the few occupied frames instead of bincounting every frame
    occupied, per_frame = np.unique(flat, return_counts=True)
    counts.reshape(-1)[occupied] = per_frame
    return counts

def generate_spike_trains(
    n_neurons: int,
    n_frames: int,
    frame_rate: float = 30.0,
    *,
    rate_range: tuple[float, float] = (0.05, 0.5),
    refractory: float = 0.02,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Generate seeded spike trains binned into imaging frames.

    Each neuron fires as a Poisson process with an absolute refractory period (a renewal
    process with intervals ``refractory + exponential``), at a rate drawn log-uniformly from
    ``rate_range``.

    Parameters
    ----------
    n_neurons
        Number of neurons (≥ 1).
    n_frames
        Number of imaging frames (≥ 1).
    frame_rate
        Imaging rate in Hz; frame k covers ``[k, k + 1) / frame_rate`` seconds.
    rate_range
        ``(low, high)`` mean firing rates in Hz (``high < 1 / refractory``).
    refractory
        Absolute refractory period in seconds (≥ 0).
    seed
        Seed (or ``numpy.random.Generator``); the same seed gives the same trains.

    Returns
    -------
    numpy.ndarray
        ``(n_neurons, n_frames)`` int32 spike counts per frame (more than one per frame is
        possible when ``refractory < 1 / frame_rate``).
    """
    n_neurons = check_count(n_neurons, "n_neurons")
    n_frames = check_count(n_frames, "n_frames")
    frame_rate = check_positive(frame_rate, "frame_rate")
    rate_range = check_range(rate_range, "rate_range")
    refractory = check_positive(refractory, "refractory", allow_zero=True)
    if rate_range[1] * refractory >= 1.0:
        raise InvalidArgumentError(
            f"rate_range high {rate_range[1]:g} Hz is impossible with a refractory period of "
            f"{refractory:g} s (needs rate < 1 / refractory)"
        )
    rng = np.random.default_rng(seed)
    rates = draw_rates(rng, n_neurons, rate_range)
    times = spike_times(rng, rates, n_frames / frame_rate, refractory)
    return spike_times_to_counts(times, n_frames, frame_rate)
