"""ROI contours over an image, labelled with ROI ids.

Public entry point: :func:`CalSciPy.roi_tools.plot_rois`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from CalSciPy._visuals._style import new_figure, style_context
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["plot_rois"]


def _segments(rois: Any) -> list[np.ndarray]:
    """Every contour of every ROI as ``(points, 2)`` ``(x, y)`` = ``(col, row)`` for plotting."""
    out: list[np.ndarray] = []
    for roi in rois:
        out.extend(line[:, ::-1] for line in roi.contour())
    return out


def plot_rois(rois: Any, image: Any = None, *, neuropil: Any = None, labels: bool = True,
              ax: Any = None, cmap: str = "gray", color: str = "#f0c419",
              neuropil_color: str = "#2fa4e7", linewidth: float = 0.8,
              fontsize: float = 6.0, managed: bool = True) -> Any:
    """Draw ``rois`` (and optionally ``neuropil``) as contours over ``image``; returns the axes."""
    from matplotlib.collections import LineCollection

    from CalSciPy._rois.roi import ROISet

    if not isinstance(rois, ROISet):
        raise InvalidArgumentTypeError(f"rois must be an ROISet, got {type(rois).__name__}")
    ly, lx = rois.shape
    if image is not None:
        image = np.asarray(image)
        if image.shape != (ly, lx):
            raise InvalidArgumentError(
                f"image has shape {image.shape} but the ROIs were drawn on {ly}×{lx} px"
            )
        if image.dtype.kind not in "biuf":
            raise InvalidArgumentTypeError(f"image must be numeric, got dtype {image.dtype}")
    if neuropil is not None and not isinstance(neuropil, ROISet):
        raise InvalidArgumentTypeError(
            f"neuropil must be an ROISet or True/False, got {type(neuropil).__name__}")
    if neuropil is not None and neuropil.shape != (ly, lx):
        raise InvalidArgumentError(f"neuropil masks are on {neuropil.shape[0]}×"
                                   f"{neuropil.shape[1]} px but the ROIs on {ly}×{lx} px")
    with style_context():
        if ax is None:
            figure = new_figure((6.0, 6.0 * ly / lx), managed=managed)
            ax = figure.add_subplot(1, 1, 1)
        if image is None:
            ax.imshow(np.zeros((ly, lx)), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            finite = image[np.isfinite(image)] if image.dtype.kind == "f" else image
            lo, hi = (np.percentile(finite, [1, 99.5]) if finite.size else (0, 1))
            ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi if hi > lo else lo + 1,
                      interpolation="nearest")
        if neuropil is not None:
            ax.add_collection(LineCollection(_segments(neuropil), colors=neuropil_color,
                                             linewidths=linewidth * 0.7, alpha=0.8))
        ax.add_collection(LineCollection(_segments(rois), colors=color, linewidths=linewidth))
        if labels:
            for roi in rois:
                row, col = roi.centroid
                ax.text(col, row, str(roi.id), color=color, fontsize=fontsize,
                        ha="center", va="center")
        ax.set_xlim(-0.5, lx - 0.5)
        ax.set_ylim(ly - 0.5, -0.5)
        ax.set_xlabel("column (px)")
        ax.set_ylabel("row (px)")
        ax.set_title(f"{len(rois)} ROIs")
    return ax
