"""GPU filters through the array-module switch (:mod:`CalSciPy._backend`).

The code only touches ``xp.asarray``/``xp.asnumpy`` and ``ndimage.median_filter``/
``ndimage.gaussian_filter``, looked up on each call from :func:`CalSciPy._backend.cupy_module`
and :func:`CalSciPy._backend.cupy_ndimage`; tests swap those for a numpy/scipy stand-in, so the
logic runs on machines without a GPU. A numpy block is copied to the device and its result
copied back; a cupy block stays on the device.
"""
from __future__ import annotations

import numpy as np

from CalSciPy import _backend

__all__ = ["gaussian_gpu", "median_gpu"]


def _run(block, call):
    xp = _backend.cupy_module()
    ndimage = _backend.cupy_ndimage()
    on_host = not _backend.is_cupy_array(block)
    result = call(xp, ndimage, xp.asarray(block))
    return xp.asnumpy(result) if on_host else result


def median_gpu(block, footprint: np.ndarray):
    """``cupyx.scipy.ndimage.median_filter`` with ``footprint``, reflect borders, dtype kept."""
    return _run(
        block,
        lambda xp, ndimage, data: ndimage.median_filter(
            data, footprint=xp.asarray(footprint), mode="reflect"
        ),
    )


def gaussian_gpu(block, sigmas: tuple[float, float, float], truncate: float):
    """``cupyx.scipy.ndimage.gaussian_filter`` per-axis ``sigmas``, reflect borders, dtype kept."""
    return _run(
        block,
        lambda xp, ndimage, data: ndimage.gaussian_filter(
            data, sigma=tuple(sigmas), mode="reflect", truncate=truncate
        ),
    )
