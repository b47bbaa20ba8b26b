"""Dask backend: ``map_overlap`` with the filter's radius as depth, exact at chunk seams.

Each chunk is extended by the filter's reach along every axis (``depth = radius``) and filtered
with the in-memory kernels; the extension is trimmed again. ``boundary="none"`` leaves the
array's own edges unpadded, so the per-chunk filter reflects there exactly as scipy does on the
whole array (scipy's 'reflect' is half-sample symmetric, ``d c b a | a b c d``); dask's own
``boundary="reflect"`` pads the same way, but ``"none"`` avoids relying on that and on chunks
being at least ``depth`` long at the edges. The result equals the in-memory result
bit for bit. Works on any dask scheduler, including a ``distributed`` cluster.
"""
from __future__ import annotations

import numpy as np

from CalSciPy import _backend
from CalSciPy._filters.spec import FilterSpec
from CalSciPy._optional import optional_import

__all__ = ["filter_dask", "from_numpy"]


def filter_dask(stack, spec: FilterSpec, *, gpu: bool = False):
    """Lazily filter a ``(frames, y, x)`` dask array; returns a dask array of the same dtype.

    Chunks are filtered on the GPU when ``gpu`` is True or they hold cupy arrays (numpy chunks
    then travel to the device and back), else with the CPU kernels.
    """
    meta = getattr(stack, "_meta", None)
    run = spec.run_gpu if gpu or _backend.is_cupy_array(meta) else spec.run_cpu
    depth = {axis: r for axis, r in enumerate(spec.radius)}
    return stack.map_overlap(
        run, depth=depth, boundary="none", dtype=stack.dtype, meta=meta, trim=True
    )


def from_numpy(images: np.ndarray, block_size: int | None):
    """Wrap an in-memory stack as a dask array of whole-frame chunks (``block_size`` frames)."""
    da = optional_import("dask.array", "dask filtering")
    frames = block_size if block_size else "auto"
    return da.from_array(images, chunks=(frames, -1, -1))
