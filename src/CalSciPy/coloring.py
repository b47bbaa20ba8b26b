"""Package palette, colormaps and display-contrast helpers for calcium-imaging figures.

The palette is colour-blind safe (based on the Okabe–Ito set) and is also the colour cycle of the
package Matplotlib style (``CalSciPy/styles/calscipy.mplstyle``). Colormaps are built on demand;
importing this module does not import :mod:`matplotlib.pyplot` and never selects a backend.

:func:`cutoff_images` and :func:`rescale_images` adjust the contrast of an image stack
``(frames, y, x)`` (or any array) for display: clip to percentiles, then map to a range.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from CalSciPy._checks import as_real_array
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.colors import Colormap

__all__ = [
    "COLORS",
    "PALETTE",
    "COLORMAPS",
    "get_color",
    "get_colormap",
    "register_colormaps",
    "cutoff_images",
    "rescale_images",
]

#: Named package colours (hex). Order of :data:`PALETTE` follows this dict.
COLORS: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "grey": "#595959",
}

#: The package colour cycle: distinct, colour-blind safe colours for datasets/conditions.
PALETTE: tuple[str, ...] = tuple(COLORS.values())

#: Colormap name -> colour stops (low → high). Built lazily by :func:`get_colormap`.
COLORMAPS: dict[str, tuple[str, ...]] = {
    # dark background → green → white: GCaMP-like fluorescence images
    "calscipy_fluorescence": ("#000000", "#003b1f", "#00a050", "#8cf08c", "#ffffff"),
    # blue → white → vermillion: signed values such as ΔF/F0 or z-scores around zero
    "calscipy_diverging": ("#0b3c78", "#0072B2", "#f7f7f7", "#D55E00", "#7a2500"),
    # white → blue → black: firing rates / probabilities in heat maps
    "calscipy_activity": ("#ffffff", "#9ecae9", "#0072B2", "#08306b", "#000000"),
}

_COLORMAP_CACHE: dict[str, Colormap] = {}


def get_color(index: int) -> str:
    """Return palette colour ``index`` (cycling), as a hex string."""
    return PALETTE[int(index) % len(PALETTE)]


def get_colormap(name: str = "calscipy_fluorescence", *, reverse: bool = False) -> Colormap:
    """Return a package colormap (a :class:`matplotlib.colors.LinearSegmentedColormap`).

    Parameters
    ----------
    name
        One of :data:`COLORMAPS` (the ``calscipy_`` prefix may be omitted).
    reverse
        Return the reversed colormap (name suffixed with ``_r``).

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid ones).
    TypeError
        ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise InvalidArgumentTypeError(f"colormap name must be a string, got {name!r}")
    key = name[:-2] if name.endswith("_r") else name
    reverse = reverse != name.endswith("_r")
    if key not in COLORMAPS and f"calscipy_{key}" in COLORMAPS:
        key = f"calscipy_{key}"
    if key not in COLORMAPS:
        raise InvalidArgumentError(f"unknown colormap {name!r}; valid names: {sorted(COLORMAPS)}")
    if key not in _COLORMAP_CACHE:
        from matplotlib.colors import LinearSegmentedColormap

        _COLORMAP_CACHE[key] = LinearSegmentedColormap.from_list(key, list(COLORMAPS[key]))
    cmap = _COLORMAP_CACHE[key]
    return cmap.reversed() if reverse else cmap


def register_colormaps() -> tuple[str, ...]:
    """Register the package colormaps (and reversed versions) with Matplotlib by name.

    Afterwards e.g. ``imshow(..., cmap="calscipy_fluorescence")`` works. Safe to call repeatedly.
    Returns the registered names.
    """
    import matplotlib

    names = []
    for key in COLORMAPS:
        for cmap in (get_colormap(key), get_colormap(key, reverse=True)):
            if cmap.name not in matplotlib.colormaps:
                matplotlib.colormaps.register(cmap, name=cmap.name)
            names.append(cmap.name)
    return tuple(names)


def _as_numeric_array(images, name: str = "images") -> np.ndarray:
    images = as_real_array(images, name)
    if images.size == 0:
        raise InvalidArgumentError(f"{name} is empty (shape {images.shape})")
    return images


def _reduce_axes(images: np.ndarray, per_frame: bool) -> tuple[int, ...] | None:
    if not per_frame:
        return None
    if images.ndim < 2:
        raise InvalidArgumentError(
            f"per_frame=True needs images of shape (frames, y, x), got shape {images.shape}"
        )
    return tuple(range(1, images.ndim))


def _check_writable(images: np.ndarray) -> None:
    if not images.flags.writeable:
        raise InvalidArgumentError("in_place=True but images is read-only")


def cutoff_images(
    images: np.ndarray,
    cutoffs: Sequence[float] = (0.0, 99.9),
    in_place: bool = False,
    *,
    per_frame: bool = False,
) -> np.ndarray:
    """Clip images to percentile cut-offs (for display contrast).

    Values below the ``cutoffs[0]`` percentile are set to it, values above the ``cutoffs[1]``
    percentile are set to it. NaNs are ignored when computing the percentiles and stay NaN.

    Parameters
    ----------
    images
        Array of any shape, usually ``(frames, y, x)``; integer or float.
    cutoffs
        ``(low, high)`` percentiles in ``[0, 100]`` with ``low <= high``.
    in_place
        Clip the caller's array and return it; otherwise the input is not modified.
    per_frame
        Compute the percentiles per frame (first axis) instead of over the whole stack.

    Returns
    -------
    numpy.ndarray
        Clipped images, same shape and dtype as the input (clipping creates no fractions, so
        integer images stay integer: the bounds are rounded to the nearest integer).

    Raises
    ------
    ValueError
        Empty input, bad cut-offs, read-only array with ``in_place=True``.
    TypeError
        Non-numeric input.
    """
    images = _as_numeric_array(images)
    try:
        low, high = (float(c) for c in cutoffs)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(
            f"cutoffs must be two percentiles (low, high), got {cutoffs!r}"
        ) from err
    if not (0.0 <= low <= high <= 100.0):
        raise InvalidArgumentError(f"cutoffs must satisfy 0 <= low <= high <= 100, got {cutoffs!r}")
    axes = _reduce_axes(images, per_frame)
    if in_place:
        _check_writable(images)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # an all-NaN frame has NaN bounds and stays NaN: documented, so no "All-NaN" warning
        warnings.simplefilter("ignore", RuntimeWarning)
        if images.dtype.kind == "f":
            bounds = np.nanpercentile(images, [low, high], axis=axes, keepdims=True)
        else:  # integers hold no NaN: no float64 copy of the stack (8x the memory of uint16)
            bounds = np.percentile(images, [low, high], axis=axes, keepdims=True)
    lo, hi = bounds[0], bounds[1]
    if images.dtype.kind in "iu":
        info = np.iinfo(images.dtype)
        lo = np.clip(np.rint(lo), info.min, info.max).astype(images.dtype)
        hi = np.clip(np.rint(hi), info.min, info.max).astype(images.dtype)
    else:
        lo = lo.astype(images.dtype)
        hi = hi.astype(images.dtype)
    out = images if in_place else np.empty_like(images)
    # all-NaN frames give NaN bounds; np.clip then leaves NaN, which is what we want
    np.clip(images, lo, hi, out=out)
    return out


def rescale_images(
    images: np.ndarray,
    low: float = 0.0,
    high: float = 1.0,
    in_place: bool = False,
    *,
    per_frame: bool = False,
    dtype: np.dtype | type | str | None = None,
) -> np.ndarray:
    """Linearly map images so that their minimum becomes ``low`` and maximum ``high``.

    Parameters
    ----------
    images
        Array of any shape, usually ``(frames, y, x)``.
    low, high
        Target range (``low < high``, finite).
    in_place
        Write into the caller's array (must be float32/float64: fractional results cannot be
        stored in integers) and return it.
    per_frame
        Use each frame's own minimum/maximum instead of the whole stack's.
    dtype
        Output dtype (keyword-only). ``None``: float32 stays float32, float64 stays float64,
        integer input gives float64. An integer dtype (e.g. ``np.uint8`` with ``low=0,
        high=255``) rounds and clips to that type's range. Not allowed with ``in_place``.

    Returns
    -------
    numpy.ndarray
        Rescaled images. A constant image (or frame) maps to ``low``; NaNs stay NaN (an integer
        ``dtype`` then stores ``low`` for them).

    Raises
    ------
    ValueError
        Empty input, ``low >= high`` or non-finite bounds, read-only array with ``in_place``.
    TypeError
        Non-numeric input or bounds, or ``in_place=True`` with an integer array or with
        ``dtype``.
    """
    images = _as_numeric_array(images)
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentTypeError(
            f"low and high must be real numbers, got {low!r}, {high!r}"
        ) from err
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        raise InvalidArgumentError(f"need finite low < high, got low={low!r}, high={high!r}")
    axes = _reduce_axes(images, per_frame)
    if in_place:
        if dtype is not None:
            raise InvalidArgumentTypeError("dtype cannot be combined with in_place=True")
        if images.dtype not in (np.float32, np.float64):
            raise InvalidArgumentTypeError(
                f"in_place=True needs a float32 or float64 images array, got {images.dtype}: "
                "rescaled values are fractional; use in_place=False"
            )
        _check_writable(images)
    work_dtype = np.dtype(images.dtype if images.dtype in (np.float32, np.float64) else np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames stay NaN (documented)
        vmin = np.nanmin(images, axis=axes, keepdims=True).astype(np.float64)
        vmax = np.nanmax(images, axis=axes, keepdims=True).astype(np.float64)
        span = vmax - vmin
        positive = span > 0
        scale = np.where(positive, (high - low) / np.where(positive, span, 1.0), 0.0)
        vmin = vmin.astype(work_dtype)
        if in_place:
            out = images
            out -= vmin
        else:
            out = np.subtract(images, vmin, dtype=work_dtype)
        if np.all(np.isfinite(scale)):
            out *= scale.astype(work_dtype)
        else:  # a subnormal span overflows (high - low) / span: divide first, then scale
            out /= np.where(positive, span, 1.0).astype(work_dtype)
            out *= np.where(positive, high - low, 0.0).astype(work_dtype)
        out += work_dtype.type(low)
        # float32 rounding can land the maximum an ulp above ``high`` (or the minimum below
        # ``low``); the promised range is exact (NaN stays NaN)
        np.clip(out, work_dtype.type(low), work_dtype.type(high), out=out)
    if dtype is None:
        return out
    target = np.dtype(dtype)
    if target.kind in "iu":
        info = np.iinfo(target)
        np.rint(out, out=out)
        out = np.nan_to_num(out, nan=low)
        return np.clip(out, info.min, info.max).astype(target)
    if target.kind != "f":
        raise InvalidArgumentTypeError(f"dtype must be an integer or float dtype, got {target}")
    return out.astype(target, copy=False)
