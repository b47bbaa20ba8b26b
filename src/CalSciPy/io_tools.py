"""Load and save imaging stacks: multi-page TIFF, raw binary + JSON, Zarr.

Every stack is ``(frames, y, x)``. Every writer writes to a temporary file (or folder) in the
destination folder, fsyncs it and renames it into place, so a crash, a kill or a full disk never
leaves a partial file under the final name; on an error the temporary data are removed, and
leftovers of a killed writer are removed by the next write of the same target. A split TIFF
stack is written atomically as a set, and only files this package wrote as parts of that stack
are ever replaced or deleted; readers refuse mixed or incomplete part sets (see
:func:`save_images`). Binary targets: ``x.bin``/``x.json`` name a pair, any other path is a
folder holding ``binary_video.*`` (see :func:`save_binary`).

Documented (0.3.4) functions
    :func:`load_images`, :func:`save_images` (TIFF), :func:`load_binary`, :func:`save_binary`.
    They replace an existing target (atomically); pass ``overwrite=False`` to refuse instead.
Additions
    :func:`save_zarr`/:func:`load_zarr` (extra ``dask``), :func:`open_stack`/:func:`save_stack`
    and :func:`convert_images` (format chosen by suffix), :func:`create_binary` (fill a binary
    stack frame by frame through a memmap). New writers refuse to overwrite unless
    ``overwrite=True``.

Examples
--------
>>> import numpy as np
>>> from CalSciPy.io_tools import load_binary, load_images, save_binary, save_images
>>> images = np.arange(4 * 8 * 8, dtype=np.uint16).reshape(4, 8, 8)
>>> _ = save_images("stack.tif", images)           # multi-page TIFF, written atomically
>>> np.array_equal(load_images("stack.tif"), images)
True
>>> _ = save_binary("binary", images)              # binary/binary_video.bin + .json
>>> stack = load_binary("binary", mapped=True, mode="r")  # read-only memmap: nothing read
>>> stack.shape, stack.dtype == np.uint16
((4, 8, 8), True)
"""
from __future__ import annotations

from CalSciPy._io.binary import create_binary, load_binary, save_binary
from CalSciPy._io.stack import convert_images, open_stack, save_stack
from CalSciPy._io.tiff import (  # noqa: F401  (private helpers kept importable)
    TiffStack,
    _load_many_tif,
    _load_single_tif,
    _save_many_tif,
    _save_single_tif,
    load_images,
    save_images,
)
from CalSciPy._io.zarr import load_zarr, save_zarr

__all__ = [
    "load_images",
    "save_images",
    "load_binary",
    "save_binary",
    "create_binary",
    "load_zarr",
    "save_zarr",
    "open_stack",
    "save_stack",
    "convert_images",
    "TiffStack",
]
# ``_load_single_tif``, ``_load_many_tif``, ``_save_single_tif`` and ``_save_many_tif`` stay
# importable from here (0.3.x code imported them) but are private: not in ``__all__``.
