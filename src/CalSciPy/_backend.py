"""The array-module switch: numpy on the CPU, cupy on the GPU.

GPU code in CalSciPy is written once against an *array module* ``xp`` (and its
``ndimage``-like companion) obtained here, so the same logic runs on numpy in tests.
"""
from __future__ import annotations

from types import ModuleType

import numpy as np

from CalSciPy._optional import optional_import

__all__ = [
    "get_array_module",
    "is_cupy_array",
    "is_dask_array",
    "to_numpy",
    "cupy_module",
    "cupy_ndimage",
]


def is_cupy_array(array) -> bool:
    """True for a ``cupy.ndarray`` (checked without importing cupy)."""
    return type(array).__module__.split(".")[0] == "cupy"


def is_dask_array(array) -> bool:
    """True for a ``dask.array.Array`` (checked without importing dask)."""
    return type(array).__module__.split(".")[0] == "dask"


def cupy_module() -> ModuleType:
    """Import and return ``cupy`` or raise an error naming the ``gpu`` extra."""
    return optional_import("cupy", "GPU processing")


def cupy_ndimage() -> ModuleType:
    """Import and return ``cupyx.scipy.ndimage`` (the GPU twin of ``scipy.ndimage``)."""
    return optional_import("cupyx.scipy.ndimage", "GPU filtering")


def get_array_module(array) -> ModuleType:
    """Return ``cupy`` for cupy arrays, else ``numpy``."""
    return cupy_module() if is_cupy_array(array) else np


def to_numpy(array) -> np.ndarray:
    """Bring an array back to host memory as a numpy array (no copy for numpy input)."""
    if is_cupy_array(array):
        return array.get()
    return np.asarray(array)
