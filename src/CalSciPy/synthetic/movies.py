"""Seeded synthetic imaging movies ``(frames, y, x)`` with neuron footprints and ground truth."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter

from CalSciPy.errors import InvalidArgumentError
from CalSciPy.synthetic._validate import check_count, check_positive, check_range
from CalSciPy.synthetic.traces import SyntheticTraces, generate_traces

__all__ = ["SyntheticMovie", "generate_movie"]

#: pixels per frame chunk when the movie is assembled (bounds float32 temporaries to ~32 MB)
_CHUNK_PIXELS = 8 * 2**20


@dataclass
class SyntheticMovie:
    """A synthetic two-photon movie and its ground truth.

    Attributes
    ----------
    images
        ``(frames, y, x)`` uint16 movie (ADU), shot and read noise included.
    footprints
        ``(neurons, y, x)`` float32 spatial weight of each neuron, peak 1 (a soma with a dimmer,
        nucleus-excluded centre and a soft edge).
    masks
        ``(neurons, y, x)`` bool: the pixels inside each soma outline.
    centroids
        ``(neurons, 2)`` float64 soma centres ``(y, x)`` in pixels.
    traces
        The neurons' :class:`SyntheticTraces`, generated without trace-level noise: pixel
        ``(y, x)`` of neuron i has expected brightness ``footprints[i, y, x] *
        traces.traces[i]`` above background and neuropil; all noise is in ``images``.
    background
        ``(y, x)`` float32 static background (ADU).
    neuropil
        ``(y, x)`` float32 neuropil brightness at rest (ADU).
    neuropil_trace
        ``(frames,)`` float32 relative neuropil time course (1 at rest): shared bleaching and
        a smoothed fraction of the population activity.
    """

    images: np.ndarray
    footprints: np.ndarray
    masks: np.ndarray
    centroids: np.ndarray
    traces: SyntheticTraces
    background: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    neuropil: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    neuropil_trace: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))

    @property
    def frame_rate(self) -> float:
        """Imaging rate (Hz)."""
        return self.traces.frame_rate

    @property
    def rois(self):
        """The ground-truth somata as an :class:`~CalSciPy.roi_tools.ROISet`: ROI ``i`` (id
        ``i``, row ``i`` of ``traces``) holds the pixels of ``masks[i]`` weighted by
        ``footprints[i]`` there (built on each access)."""
        from CalSciPy.roi_tools import ROI, ROISet

        rois = []
        for i in range(self.masks.shape[0]):
            rows, cols = np.nonzero(self.masks[i])
            rois.append(ROI(rows, cols, self.footprints[i, rows, cols], id=i))
        return ROISet(rois, self.masks.shape[1:])

    def expected_images(self) -> np.ndarray:
        """The noise-free movie: expected brightness of every pixel, ``(frames, y, x)`` float32
        ADU (``background + neuropil · neuropil_trace(t) + Σ_i footprints_i · F_i(t)``), the
        reference for scoring denoising."""
        signal = np.tensordot(self.traces.traces.T, self.footprints, axes=1)
        signal += self.background[None]
        signal += self.neuropil[None] * self.neuropil_trace[:, None, None]
        return signal.astype(np.float32, copy=False)


def _place_neurons(rng: np.random.Generator, n_neurons: int, shape: tuple[int, int],
                   radii: np.ndarray) -> np.ndarray:
    """Soma centres at least ``1.6 × (r_i + r_j) / 2`` apart and ``r + 1`` px from the edge."""
    centres = np.empty((n_neurons, 2))
    placed = 0
    attempts = 0
    while placed < n_neurons:
        r = radii[placed]
        batch = rng.uniform([r + 1, r + 1], [shape[0] - r - 1, shape[1] - r - 1], (256, 2))
        for cand in batch:
            attempts += 1
            if placed:
                dist = np.hypot(*(centres[:placed] - cand).T)
                if np.any(dist < 0.8 * (radii[:placed] + r)):
                    continue
            centres[placed] = cand
            placed += 1
            break
        if attempts > 2000 * n_neurons:
            raise InvalidArgumentError(
                f"cannot place {n_neurons} neurons of radius up to {radii.max():.1f} px without "
                f"overlap in a {shape[0]}×{shape[1]} field; use fewer neurons or a larger shape"
            )
    return centres


def _footprints(rng: np.random.Generator, centres: np.ndarray, radii: np.ndarray,
                shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Elliptical somata: soft-edged disk, dimmer nucleus; computed in each bounding box."""
    n = int(centres.shape[0])
    footprints = np.zeros((n, *shape), dtype=np.float32)
    masks = np.zeros((n, *shape), dtype=bool)
    aspect = rng.uniform(0.75, 1.0, n)
    angle = rng.uniform(0.0, np.pi, n)
    for i in range(n):
        cy, cx = centres[i]
        half = int(np.ceil(radii[i] * 1.5)) + 1
        y0, y1 = max(0, int(cy) - half), min(shape[0], int(cy) + half + 2)
        x0, x1 = max(0, int(cx) - half), min(shape[1], int(cx) + half + 2)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        dy, dx = yy - cy, xx - cx
        c, s = np.cos(angle[i]), np.sin(angle[i])
        u = (c * dx + s * dy) / radii[i]
        v = (-s * dx + c * dy) / (radii[i] * aspect[i])
        q = np.sqrt(u * u + v * v)
        # cytosolic GCaMP: soft edge at q = 1, the nucleus (q < 0.5) about half as bright
        profile = 1.0 / (1.0 + np.exp((q - 1.0) / 0.12))
        profile *= 1.0 - 0.5 * np.exp(-((q / 0.45) ** 4))
        footprints[i, y0:y1, x0:x1] = profile / profile.max()
        masks[i, y0:y1, x0:x1] = q <= 1.0
    return footprints, masks


def generate_movie(
    n_frames: int = 500,
    shape: tuple[int, int] = (256, 256),
    n_neurons: int = 50,
    frame_rate: float = 30.0,
    *,
    seed: int | np.random.Generator | None = 0,
    radius_range: tuple[float, float] = (4.0, 7.0),
    f0_range: tuple[float, float] = (80.0, 200.0),
    background: float = 60.0,
    neuropil: float = 40.0,
    neuropil_coupling: float = 0.3,
    gain: float = 1.0,
    read_noise: float = 4.0,
    progress: bool = False,
    **trace_options,
) -> SyntheticMovie:
    """Generate a seeded synthetic two-photon movie of somata, neuropil and background.

    Expected brightness of pixel p in frame t (ADU):
    ``background[p] + neuropil[p] · neuropil_trace[t] + Σ_i footprints[i, p] · F_i(t)``,
    where ``F_i`` are noise-free :func:`generate_traces` fluorescence traces (spikes, GCaMP
    kernel, bleaching, drift) with resting brightness in ``f0_range``; each pixel then gets
    Poisson–Gaussian noise (shot noise of variance ``gain ·`` brightness, Gaussian
    approximation, plus read noise) and is rounded and clipped to uint16.

    Parameters
    ----------
    n_frames
        Number of frames (≥ 1).
    shape
        ``(y, x)`` frame size in pixels.
    n_neurons
        Number of somata (≥ 1); they are placed without overlapping.
    frame_rate
        Imaging rate in Hz.
    seed
        Seed (or ``numpy.random.Generator``); the same arguments and seed give the same movie.
    radius_range
        Range of soma radii in pixels.
    f0_range
        Range of the resting soma brightness above background at the footprint peak (ADU).
    background
        Mean static background (ADU); smooth vignetting makes the corners ~30 % darker.
    neuropil
        Mean neuropil brightness at rest (ADU), spatially smooth and patchy.
    neuropil_coupling
        How much of the (smoothed) mean population ΔF/F0 appears in the neuropil.
    gain, read_noise
        ADU per photon and read-noise s.d. (ADU).
    progress
        Show a tqdm progress bar while the frames are assembled.
    **trace_options
        Passed to :func:`generate_traces` (e.g. ``rate_range``, ``tau_decay_range``,
        ``bleach_tau_range``, ``drift``).

    Returns
    -------
    SyntheticMovie
        The movie with footprints, masks, centroids, neuron traces and the background and
        neuropil ground truth.
    """
    n_frames = check_count(n_frames, "n_frames")
    n_neurons = check_count(n_neurons, "n_neurons")
    try:
        ny, nx = (int(v) for v in shape)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(
            f"shape must be a (y, x) pair of integers, got {shape!r}"
        ) from err
    radius_range = check_range(radius_range, "radius_range")
    if radius_range[0] < 1.0:
        raise InvalidArgumentError(f"radius_range must be >= 1 px, got {radius_range}")
    if ny < 2 * radius_range[1] + 3 or nx < 2 * radius_range[1] + 3:
        raise InvalidArgumentError(
            f"shape {shape} is too small for somata of radius {radius_range[1]} px"
        )
    f0_range = check_range(f0_range, "f0_range")
    if f0_range[0] <= 0:
        raise InvalidArgumentError(f"f0_range must be positive, got {f0_range}")
    background = check_positive(background, "background", allow_zero=True)
    neuropil = check_positive(neuropil, "neuropil", allow_zero=True)
    neuropil_coupling = check_positive(neuropil_coupling, "neuropil_coupling", allow_zero=True)
    gain = check_positive(gain, "gain", allow_zero=True)
    read_noise = check_positive(read_noise, "read_noise", allow_zero=True)
    for key in ("noise", "f0_range", "gain", "read_noise"):
        if key in trace_options:
            raise TypeError(f"generate_movie sets {key!r} of the traces itself")

    rng = np.random.default_rng(seed)
    traces = generate_traces(
        n_neurons, n_frames, frame_rate, seed=rng, f0_range=f0_range, noise=False,
        **trace_options,
    )
    radii = rng.uniform(*radius_range, n_neurons)
    centres = _place_neurons(rng, n_neurons, (ny, nx), radii)
    footprints, masks = _footprints(rng, centres, radii, (ny, nx))

    yy, xx = np.mgrid[0:ny, 0:nx]
    r2 = ((yy - (ny - 1) / 2) / ny) ** 2 + ((xx - (nx - 1) / 2) / nx) ** 2
    vignette = np.exp(-r2 / 1.4)
    bg = (background * vignette / vignette.mean()).astype(np.float32)
    patches = gaussian_filter(rng.standard_normal((ny, nx)), sigma=max(ny, nx) / 16, mode="wrap")
    patches = np.clip(1.0 + 0.5 * patches / (patches.std() or 1.0), 0.1, None)
    np_map = (neuropil * patches / patches.mean()).astype(np.float32)
    population = traces.dfof_true.mean(axis=0, dtype=np.float64)
    population = gaussian_filter(population, sigma=frame_rate, mode="nearest")
    bleach = (traces.baseline / traces.f0[:, None].astype(np.float32)).mean(axis=0)
    np_trace = (bleach * (1.0 + neuropil_coupling * population)).astype(np.float32)

    images = np.empty((n_frames, ny, nx), dtype=np.uint16)
    flat_fp = footprints.reshape(n_neurons, -1)
    flat_bg = bg.ravel()
    flat_np = np_map.ravel()
    chunk = max(1, _CHUNK_PIXELS // (ny * nx))
    starts = range(0, n_frames, chunk)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="synthetic movie", unit="chunk")
    variance_floor = np.float32(read_noise**2)
    for start in starts:
        stop = min(n_frames, start + chunk)
        frames = traces.traces[:, start:stop].T @ flat_fp
        frames += flat_bg
        frames += np_trace[start:stop, None] * flat_np
        sd = np.sqrt(np.float32(gain) * frames + variance_floor)
        sd *= rng.standard_normal(frames.shape, dtype=np.float32)
        frames += sd
        np.rint(frames, out=frames)
        np.clip(frames, 0, np.iinfo(np.uint16).max, out=frames)
        images[start:stop] = frames.reshape(stop - start, ny, nx)
    return SyntheticMovie(
        images=images,
        footprints=footprints,
        masks=masks,
        centroids=centres,
        traces=traces,
        background=bg,
        neuropil=np_map,
        neuropil_trace=np_trace,
    )
