"""Figure of an aligned voltage recording: one analog signal with the imaging frame starts."""
from __future__ import annotations

import numpy as np
import pandas as pd

from CalSciPy.bruker.configuration_values import FRAME_COLUMN
from CalSciPy.errors import InvalidArgumentError

__all__ = ["plot_voltage_alignment"]


def plot_voltage_alignment(aligned: pd.DataFrame, signal: str, *, ax=None,
                           window_ms: tuple[float, float] | None = None):
    """Plot ``signal`` of an :func:`~CalSciPy.bruker.data.align_data` result with frame ticks.

    Parameters
    ----------
    aligned
        Output of ``align_data`` (index time in ms, an ``Imaging Frame`` column).
    signal
        Column to draw (e.g. ``"Stimulus"``).
    ax
        Matplotlib axes to draw into (a new figure when None).
    window_ms
        ``(start, stop)`` time range to show (ms); None shows everything.

    Returns
    -------
    matplotlib.axes.Axes
        The axes: the signal (V) against time (s) with a short tick under the trace at every
        imaging frame start.
    """
    import matplotlib.pyplot as plt

    if signal not in aligned.columns:
        raise InvalidArgumentError(
            f"{signal!r} is not a column of the aligned data: {list(aligned.columns)}"
        )
    if FRAME_COLUMN not in aligned.columns:
        raise InvalidArgumentError(
            f"aligned must come from align_data (no {FRAME_COLUMN!r} column)"
        )
    data = aligned
    if window_ms is not None:
        data = aligned.loc[window_ms[0]:window_ms[1]]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.5))
    t_s = data.index.to_numpy(dtype=np.float64) / 1000.0
    values = data[signal].to_numpy(dtype=np.float64)
    ax.plot(t_s, values, lw=1.0, color="tab:blue", label=signal)
    frames = data[FRAME_COLUMN].to_numpy()
    starts = t_s[~np.isnan(frames)]
    low, high = (np.nanmin(values), np.nanmax(values)) if values.size else (0.0, 1.0)
    span = (high - low) or 1.0
    ax.vlines(starts, low - 0.15 * span, low - 0.05 * span, color="0.3", lw=0.6,
              label="frame starts")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"{signal} (V)")
    ax.set_ylim(low - 0.2 * span, high + 0.1 * span)
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax
