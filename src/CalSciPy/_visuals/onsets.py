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


def mark_onsets(ax, onsets: np.ndarray | None) -> list:
    """Dashed vertical lines at ``onsets`` (x units) behind the data; returns the lines."""
    if onsets is None:
        return []
    style = {"color": COLORS["vermillion"], "linestyle": "--",
             "linewidth": 0.7, "alpha": 0.6, "zorder": 0}
    return [ax.axvline(x, **style) for x in onsets]
