"""What a filter is (median footprint or gaussian sigmas) and how to run it on one block."""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from CalSciPy._checks import check_real, is_real_number
from CalSciPy._filters import cpu, gpu
from CalSciPy._smoothing import gaussian_radius
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["BACKENDS", "FilterSpec", "gaussian_spec", "median_spec"]

#: the ``backend=`` values the public filters accept
BACKENDS = ("cpu", "gpu", "dask")


@dataclass(frozen=True)
class FilterSpec:
    """A validated 3-D filter over ``(frames, y, x)``.

    Attributes
    ----------
    kind : str
        ``"median"`` or ``"gaussian"``.
    footprint : numpy.ndarray or None
        Boolean 3-D footprint (median).
    sigmas : tuple of float or None
        Per-axis standard deviations in pixels/frames (gaussian).
    truncate : float
        Gaussian radius in standard deviations (scipy's ``truncate``).
    """

    kind: str
    footprint: np.ndarray | None = None
    sigmas: tuple[float, float, float] | None = None
    truncate: float = 4.0

    @property
    def _mask(self) -> np.ndarray:
        """The footprint of a median spec (``median_spec`` always sets it)."""
        return cast(np.ndarray, self.footprint)

    @property
    def _sigma3(self) -> tuple[float, float, float]:
        """The sigmas of a gaussian spec (``gaussian_spec`` always sets them)."""
        return cast("tuple[float, float, float]", self.sigmas)

    @property
    def radius(self) -> tuple[int, int, int]:
        """How far the filter reaches along each axis (the overlap blocks need)."""
        if self.kind == "median":
            t, y, x = (int(n) // 2 for n in self._mask.shape)
        else:
            t, y, x = (0 if s <= 1e-15 else gaussian_radius(s, self.truncate)
                       for s in self._sigma3)
        return t, y, x

    def run_cpu(self, block: np.ndarray) -> np.ndarray:
        """Filter a numpy block in memory; returns a new array of the same dtype."""
        if self.kind == "median":
            return cpu.median_cpu(block, self._mask)
        return cpu.gaussian_cpu(block, self._sigma3, self.truncate)

    def run_gpu(self, block):
        """Filter a block with ``cupyx.scipy.ndimage``; numpy in → numpy out."""
        if self.kind == "median":
            return gpu.median_gpu(block, self._mask)
        return gpu.gaussian_gpu(block, self._sigma3, self.truncate)

    def runner(self, backend: str):
        """The per-block function of ``backend`` (``"dask"`` blocks run on the CPU kernels)."""
        return self.run_gpu if backend == "gpu" else self.run_cpu


def median_spec(mask) -> FilterSpec:
    """Validate a median ``mask``: a 3-D footprint, or 2-D for a per-frame ``(1, y, x)`` one."""
    try:
        footprint = np.asarray(mask)
    except (TypeError, ValueError) as err:
        raise TypeError(f"mask must be an array of 0/1 values, got {mask!r}") from err
    if footprint.dtype.kind not in "biuf":
        raise TypeError(f"mask must hold booleans or numbers, got dtype {footprint.dtype}")
    if footprint.ndim == 2:
        footprint = footprint[np.newaxis]
    if footprint.ndim != 3 or 0 in footprint.shape:
        raise InvalidArgumentError(
            f"mask must be a non-empty 3-D (frames, y, x) footprint (or 2-D per frame), "
            f"got shape {footprint.shape}"
        )
    footprint = footprint.astype(bool)
    if not footprint.any():
        raise InvalidArgumentError("mask selects no element; the median of nothing is undefined")
    return FilterSpec("median", footprint=footprint)


def gaussian_spec(sigma, truncate: float = 4.0) -> FilterSpec:
    """Validate ``sigma`` (one value or one per axis, >= 0) and ``truncate`` (> 0)."""
    values = np.atleast_1d(np.asarray(sigma, dtype=object))
    if values.ndim != 1 or values.size not in (1, 3):
        raise InvalidArgumentError(f"sigma must be one number or 3 (frames, y, x), got {sigma!r}")
    sigmas = []
    for value in values:
        if not is_real_number(value) or not np.isfinite(value):
            raise InvalidArgumentTypeError(f"sigma must hold finite real numbers, got {sigma!r}")
        if value < 0:
            raise InvalidArgumentError(f"sigma must be >= 0, got {sigma!r}")
        sigmas.append(float(value))
    if len(sigmas) == 1:
        sigmas *= 3
    truncate = check_real(truncate, "truncate", positive=True)
    spec = FilterSpec("gaussian", sigmas=(sigmas[0], sigmas[1], sigmas[2]),
                      truncate=float(truncate))
    if max(spec.radius) > _MAX_RADIUS:
        raise InvalidArgumentError(
            f"sigma {sigma!r} with truncate {truncate!r} gives a kernel radius of "
            f"{max(spec.radius)} pixels/frames (at most {_MAX_RADIUS} supported)"
        )
    return spec


#: largest gaussian kernel radius accepted (a kernel far larger than any stack axis is a typo)
_MAX_RADIUS = 2**20
