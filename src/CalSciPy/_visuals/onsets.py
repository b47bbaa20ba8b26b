"""Stimulus onsets drawn on trace and raster axes (the ``onsets=`` argument of the plots)."""
from __future__ import annotations

import numpy as np

from CalSciPy._checks import as_real_array
from CalSciPy.coloring import COLORS
from CalSciPy.errors import InvalidArgumentError

__all__ = ["as_onsets", "mark_onsets"]


def as_onsets(onsets, name: str = "onsets") -> np.ndarray | None:
    """``onsets`` as a finite 1-D float array in x units (None stays None)."""
    if onsets is None:
        return None
    values = np.asarray(as_real_array(onsets, name), dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise InvalidArgumentError(f"{name} holds NaN or infinite values")
    return values


def mark_onsets(ax, onsets: np.ndarray | None):
    """Dashed vertical lines at ``onsets`` (x units) over the axis' full height, behind the
    data: one :class:`~matplotlib.collections.LineCollection` (gid ``"onsets"``; one artist
    however many onsets, so long recordings draw fast), or None without onsets."""
    if onsets is None or onsets.size == 0:
        return None
    lines = ax.vlines(onsets, 0.0, 1.0, transform=ax.get_xaxis_transform(),
                      colors=COLORS["vermillion"], linestyles="--", linewidths=0.7, alpha=0.6,
                      zorder=0)
    lines.set_gid("onsets")
    return lines
