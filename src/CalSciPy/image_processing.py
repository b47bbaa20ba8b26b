"""3-D denoising filters for ``(frames, y, x)`` imaging stacks, on CPU, GPU, dask or from disk.

:func:`median_filter` and :func:`gaussian_filter` filter over frames, y and x together with
``reflect`` borders in the ``scipy.ndimage`` sense (half-sample symmetric,
``d c b a | a b c d | d c b a``) and return the input's dtype.

Backends, chosen by the input (or forced with the keyword-only ``backend=``):

``"cpu"`` (numpy input)
    Numba kernels, exactly ``scipy.ndimage.median_filter`` for every median footprint (a
    sorting network for 3×3×3, a sliding histogram for any other: 5×5×5, 3×5×5, balls...;
    see :mod:`CalSciPy._filters.median`), and the gaussian (within 1 unit of scipy for
    integers except on flat stretches, see :func:`gaussian_filter`; ~1e-6 relative for
    float32), parallel over frames or rows.
``"gpu"`` (cupy input; needs ``calscipy[gpu]``)
    ``cupyx.scipy.ndimage``. A numpy stack forced onto the GPU is sent block by block
    (``block_size``) and the result returned as numpy. Written against the array-module
    switch (:mod:`CalSciPy._backend`); the tests run its logic with a numpy stand-in for cupy,
    it has not been run on a GPU in this project yet.
``"dask"`` (dask input; needs ``calscipy[dask]``)
    ``map_overlap`` with the filter's radius as overlap, identical to the in-memory result;
    a dask input gives a lazy dask array (call ``.compute()``), which runs on whatever
    scheduler is active, e.g. a ``distributed`` cluster (``Client("tcp://host:8786")``).
    ``backend="gpu"`` with a dask input filters every chunk on the GPU.

Blockwise (``block_size``, ``block_buffer``)
    Frames are processed ``block_size`` at a time, each core block read together with
    ``block_buffer`` frames on either side (the layout of
    :func:`CalSciPy.misc.generate_overlapping_blocks`); only the core is kept. A buffer at least
    the filter's temporal radius (1 for the 3×3×3 median, ``int(4σ + 0.5)`` for the gaussian)
    gives exactly the whole-stack result; with ``block_buffer=0`` every block is filtered on
    its own, as if its first and last frames were the ends of the stack, so frames within the
    radius of a seam differ from the whole-stack result. Overlaps are always read unfiltered,
    also in place.

Out of core
    :func:`filter_to_file` filters a file (TIFF, binary, Zarr) or a ``np.memmap``/Zarr array
    into a new file block by block, with memory bounded by a few blocks.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy import _backend
from CalSciPy._checks import as_path, check_int
from CalSciPy._filters import blocks as _blocks
from CalSciPy._filters import dask as _dask
from CalSciPy._filters.spec import BACKENDS, FilterSpec, gaussian_spec, median_spec
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["filter_to_file", "gaussian_filter", "median_filter"]

#: default bytes of source frames filtered per step by :func:`filter_to_file`
_FILE_BLOCK_BYTES = 64 * 2**20


def median_filter(
    images: np.ndarray,
    mask: np.ndarray = np.ones((3, 3, 3)),
    block_size: int | None = None,
    block_buffer: int = 0,
    in_place: bool = False,
    *,
    backend: str | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Median filter over ``(frames, y, x)`` with a footprint, ``reflect`` borders.

    Parameters
    ----------
    images : numpy.ndarray, numpy.memmap, cupy.ndarray or dask.array.Array
        ``(frames, y, x)`` stack (a 2-D image is filtered as one frame and returned 2-D).
        Real integer, float or bool dtype.
    mask : numpy.ndarray, default ``np.ones((3, 3, 3))``
        Footprint ``(frames, y, x)``, nonzero where values enter the median, origin at the
        centre. A 2-D mask is a per-frame ``(1, y, x)`` footprint. The full 3×3×3 footprint
        runs a sorting-network kernel, any other a sliding-histogram kernel (both equal to
        ``scipy.ndimage.median_filter``); bool and other dtypes call scipy.
    block_size : int, optional
        Filter this many frames at a time (bounded memory, or GPU memory for a numpy stack on
        the GPU). None: all at once. For the dask backend: frames per chunk.
    block_buffer : int, default 0
        Extra unfiltered frames read on each side of a block. ``>= mask.shape[0] // 2`` gives
        the whole-stack result exactly; 0 filters blocks independently (see module notes).
        Needs ``block_size``; not used by the dask backend, which always overlaps exactly.
    in_place : bool, default False
        Write the result into ``images`` (a writable numpy or cupy array; not for dask, and
        not for a list or other array-like, which is a ``TypeError``) and return it.
    backend : {"cpu", "gpu", "dask"}, optional
        Keyword-only. Force a backend; default from the input type.
    progress : bool, default False
        Keyword-only. Show a tqdm bar over blocks.

    Returns
    -------
    numpy.ndarray (or cupy/dask array like the input)
        Filtered stack, same shape and dtype as ``images``; ``images`` itself when in place.

    Raises
    ------
    TypeError
        Non-numeric stack, bad ``mask`` dtype, ``in_place`` with a dask array.
    ValueError
        Wrong dimensions, empty axis, bad block arguments, read-only stack with ``in_place``,
        unknown backend.
    CalSciPy.errors.MissingDependencyError
        The backend's optional package (``gpu``: cupy; ``dask``: dask) is not installed.

    Notes
    -----
    NaN values: the median of a window holding a NaN is unspecified (as in scipy); a
    ``RuntimeWarning`` is issued when the CPU kernel sees NaNs.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).integers(0, 4096, (20, 16, 16), dtype=np.uint16)
    >>> denoised = median_filter(images)               # 3 x 3 x 3, same shape and dtype
    >>> denoised.shape, denoised.dtype
    ((20, 16, 16), dtype('uint16'))
    >>> blockwise = median_filter(images, block_size=8, block_buffer=1)  # 8 frames at a time
    >>> np.array_equal(blockwise, denoised)
    True
    """
    spec = median_spec(mask)
    return _filter(images, spec, block_size, block_buffer, in_place, backend, progress)


def gaussian_filter(
    images: np.ndarray,
    sigma: float | np.ndarray = 1.0,
    block_size: int | None = None,
    block_buffer: int = 0,
    in_place: bool = False,
    *,
    truncate: float = 4.0,
    backend: str | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Gaussian filter over ``(frames, y, x)``, ``reflect`` borders, dtype kept.

    Parameters
    ----------
    images : numpy.ndarray, numpy.memmap, cupy.ndarray or dask.array.Array
        ``(frames, y, x)`` stack (a 2-D image is filtered as one frame and returned 2-D).
    sigma : float or sequence of 3 floats, default 1.0
        Standard deviation in frames and pixels: one for all axes or ``(frames, y, x)``;
        0 leaves an axis unfiltered.
    block_size : int, optional
        Filter this many frames at a time. None: all at once. Dask backend: frames per chunk.
    block_buffer : int, default 0
        Extra unfiltered frames read on each side of a block; ``>= int(truncate*sigma_t + 0.5)``
        (4 for σ = 1) gives the whole-stack result exactly, 0 filters blocks independently.
    in_place : bool, default False
        Write the result into ``images`` and return it.
    truncate : float, default 4.0
        Keyword-only. Kernel radius in standard deviations (as scipy).
    backend : {"cpu", "gpu", "dask"}, optional
        Keyword-only. Force a backend; default from the input type.
    progress : bool, default False
        Keyword-only. Show a tqdm bar over blocks.

    Returns
    -------
    numpy.ndarray (or cupy/dask array like the input)
        Filtered stack of the input's shape and dtype. Integer stacks are truncated to their
        dtype after each axis, as ``scipy.ndimage.gaussian_filter`` does; the CPU kernel
        computes in float32 for float32 and 8/16-bit integers (at most 1 unit from scipy for
        integers, about 1e-6 relative for float32) and float64 otherwise. One exception: for
        some ``sigma`` scipy's float64 weights sum to slightly below 1, so on flat stretches
        scipy's truncation loses up to one unit per axis (a constant 46 can come back as 44);
        this kernel keeps the constant, and differs from scipy by up to one unit per axis
        there.

    Raises
    ------
    TypeError, ValueError, CalSciPy.errors.MissingDependencyError
        As for :func:`median_filter`; negative or non-finite ``sigma``.
    """
    spec = gaussian_spec(sigma, truncate)
    return _filter(images, spec, block_size, block_buffer, in_place, backend, progress)


def filter_to_file(
    src: Any,
    dst: str | os.PathLike,
    filter: str = "median",
    *,
    mask: np.ndarray | None = None,
    sigma: float | np.ndarray = 1.0,
    truncate: float = 4.0,
    block_size: int | None = None,
    backend: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Filter a stack into a new file block by block, with bounded memory.

    Parameters
    ----------
    src : str, os.PathLike or array-like
        A stack file or folder any :func:`CalSciPy.io_tools.open_stack` format (TIFF, binary,
        Zarr), or a ``(frames, y, x)`` ``np.memmap`` (e.g. ``load_binary(path, mapped=True)``),
        Zarr or dask array. Read lazily: a binary memmap through file reads, TIFF page by page,
        Zarr through dask.
    dst : str or os.PathLike
        Output named as for :func:`CalSciPy.io_tools.save_stack` (``.tif``, ``.bin``,
        ``.zarr``, a folder for binary); written atomically.
    filter : {"median", "gaussian"}
        Which filter.
    mask : numpy.ndarray, optional
        Median footprint (default 3×3×3 ones).
    sigma, truncate : float
        Gaussian parameters, as :func:`gaussian_filter`.
    block_size : int, optional
        Frames filtered per step (default: about 64 MiB of source frames). Each step reads
        the frames the filter reaches beyond it, so the output equals the whole-stack filter.
    backend : {"cpu", "gpu"}, default "cpu"
        Where each block is filtered.
    overwrite : bool, default False
        Replace an existing ``dst``; False raises ``FileExistsError``.
    progress : bool, default True
        Show a tqdm bar (for outputs over a few hundred MB).

    Returns
    -------
    pathlib.Path
        Where the filtered pixels were written.

    Notes
    -----
    Peak memory is a few blocks whatever the stack size: about 0.4 GB for the whole process
    (0.11 GB of it imports) filtering a 4 GB uint16 memmap with the default block size,
    measured by ``benchmarks/bench_filters.py``. A memmap source is read with file reads, so
    its pages do not accumulate in the process.
    """
    from CalSciPy import io_tools
    from CalSciPy._io.stack import stack_format

    dst = as_path(dst, "dst")  # before any work: filter_to_file(src, None) names dst
    if filter == "median":
        spec = median_spec(np.ones((3, 3, 3)) if mask is None else mask)
    elif filter == "gaussian":
        spec = gaussian_spec(sigma, truncate)
    else:
        raise InvalidArgumentError(f"filter must be 'median' or 'gaussian', got {filter!r}")
    if backend not in ("cpu", "gpu"):
        raise InvalidArgumentError(
            f"backend must be 'cpu' or 'gpu' for filter_to_file, got {backend!r}"
        )
    if isinstance(src, (str, os.PathLike)):
        src_path = Path(src)
        if not src_path.exists():
            raise FileNotFoundError(f"src {str(src_path)!r} does not exist")
        dst_path = Path(dst)
        if dst_path.exists() and dst_path.resolve() == src_path.resolve():
            raise InvalidArgumentError(f"src and dst are the same path: {str(src_path)!r}")
        if stack_format(src_path, exists=True) == "tiff":
            source = io_tools.TiffStack.open(src_path)
        else:
            source = io_tools.open_stack(src_path, lazy=True)
    else:
        source = src
    if len(getattr(source, "shape", ())) != 3:
        raise InvalidArgumentError(
            f"src must be a (frames, y, x) stack, got shape {getattr(source, 'shape', None)}"
        )
    _check_dtype(np.dtype(source.dtype), spec)
    if block_size is None:
        frame_bytes = int(np.prod(source.shape[1:])) * np.dtype(source.dtype).itemsize
        block_size = max(1, _FILE_BLOCK_BYTES // max(frame_bytes, 1))
    block_size = check_int(block_size, "block_size", minimum=1)
    lazy = _blocks.FilteredStack(source, spec.runner(backend), spec.radius[0], block_size)
    return io_tools.save_stack(dst, lazy, overwrite=overwrite, progress=progress)


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------
def _check_dtype(dtype: np.dtype, spec: FilterSpec) -> None:
    kinds = "buif" if spec.kind == "median" else "uif"
    if dtype.kind not in kinds:
        raise InvalidArgumentTypeError(
            f"images must hold real numbers for a {spec.kind} filter, got {dtype}"
        )


def _as_stack(images):
    """Return ``(stack, squeeze)``: the input as a 3-D array of its own kind."""
    if not (_backend.is_dask_array(images) or _backend.is_cupy_array(images)
            or isinstance(images, np.ndarray)):
        try:
            images = np.asarray(images)
        except (TypeError, ValueError) as err:
            raise TypeError(f"images must be an array, got {type(images).__name__}") from err
    if np.dtype(images.dtype).kind not in "buif":
        raise InvalidArgumentTypeError(f"images must hold real numbers, got dtype {images.dtype}")
    if images.ndim == 2:
        return images[np.newaxis], True
    if images.ndim != 3:
        raise InvalidArgumentError(
            f"images must be (frames, y, x) (or 2-D), got shape {images.shape}"
        )
    return images, False


def _filter(images, spec: FilterSpec, block_size, block_buffer, in_place, backend, progress):
    original = images
    if in_place and not (isinstance(images, np.ndarray) or _backend.is_cupy_array(images)
                         or _backend.is_dask_array(images)):
        # a list (or another array-like) would be filtered in a temporary copy and the
        # caller's object returned unfiltered
        raise InvalidArgumentTypeError(
            f"in_place=True needs a writeable numpy (or cupy) array to write into, got "
            f"{type(images).__name__}; pass np.asarray(images) or use the returned array")
    stack, squeeze = _as_stack(images)
    _check_dtype(np.dtype(stack.dtype), spec)
    if 0 in stack.shape:
        raise InvalidArgumentError(f"images has an empty axis: shape {tuple(original.shape)}")
    if block_size is not None:
        block_size = check_int(block_size, "block_size", minimum=1)
    block_buffer = check_int(block_buffer, "block_buffer", minimum=0)
    if block_buffer and block_size is None:
        raise InvalidArgumentError("block_buffer needs block_size (frames per block)")
    is_dask = _backend.is_dask_array(stack)
    is_cupy = _backend.is_cupy_array(stack)
    if backend is None:
        backend = "dask" if is_dask else "gpu" if is_cupy else "cpu"
    elif backend not in BACKENDS:
        raise InvalidArgumentError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if in_place:
        if is_dask:
            raise TypeError("in_place=True is impossible for a dask array (dask arrays are "
                            "immutable); use the returned array")
        if isinstance(stack, np.ndarray) and not stack.flags.writeable:
            raise InvalidArgumentError(
                "in_place=True needs a writable array; images is read-only "
                "(e.g. a memmap opened with mode='r')"
            )

    if backend == "dask" or (is_dask and backend == "gpu"):
        result = _run_dask(stack, spec, block_size, is_dask, gpu=backend == "gpu")
    elif backend == "gpu":
        result = _run_blocks(stack, spec.run_gpu, block_size, block_buffer, in_place, progress)
    else:
        if isinstance(stack, np.ndarray):
            host = stack
        else:  # cupy copied to the host; dask computed
            host = _backend.to_numpy(stack) if is_cupy else np.asarray(stack)
        writes_back = in_place and host is stack
        result = _run_blocks(host, spec.run_cpu, block_size, block_buffer, writes_back, progress)
    if is_dask and backend in ("dask", "gpu"):
        return result[0] if squeeze else result
    if in_place:
        if result is not stack:
            stack[...] = _like(stack, result)
        return original
    result = _like(stack, result)
    return result[0] if squeeze else result


def _run_blocks(stack, run, block_size, block_buffer, in_place, progress):
    """Whole stack or blockwise; returns ``stack`` itself when it was written in place."""
    if block_size is None or block_size >= stack.shape[0]:
        result = run(stack)
        if in_place:
            stack[...] = result
            return stack
        return result
    if in_place:
        out = stack
    elif isinstance(stack, np.ndarray):
        out = np.empty(stack.shape, dtype=stack.dtype)
    else:
        out = _backend.get_array_module(stack).empty_like(stack)
    return _blocks.filter_blockwise(stack, out, run, block_size, block_buffer,
                                    progress=progress)


def _run_dask(stack, spec: FilterSpec, block_size, is_dask, *, gpu: bool):
    if is_dask:
        if block_size is not None:
            stack = stack.rechunk({0: block_size})
        return _dask.filter_dask(stack, spec, gpu=gpu)
    host = _backend.to_numpy(stack)
    return _dask.filter_dask(_dask.from_numpy(host, block_size), spec).compute()


def _like(stack, result):
    """Put ``result`` where ``stack`` lives (device for cupy input, host otherwise)."""
    if _backend.is_cupy_array(stack) and not _backend.is_cupy_array(result):
        return _backend.cupy_module().asarray(result)
    if isinstance(stack, np.ndarray) and not isinstance(result, np.ndarray):
        return _backend.to_numpy(result)
    return result
