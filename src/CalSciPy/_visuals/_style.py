"""Package Matplotlib style, applied through a context (never globally), and figure creation."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Path of the package Matplotlib style file (shipped in the wheel).
STYLE = Path(__file__).resolve().parent.parent / "styles" / "calscipy.mplstyle"


@contextlib.contextmanager
def style_context(style: str | Path | None = None) -> Iterator[None]:
    """Apply the package style (or ``style``) for the duration of the ``with`` block only."""
    import matplotlib.style

    with matplotlib.style.context(str(style if style is not None else STYLE)):
        yield


def new_figure(figsize: tuple[float, float] | None, *, managed: bool, dpi: float | None = None):
    """Create a figure with constrained layout.

    ``managed=True`` goes through :mod:`matplotlib.pyplot` so the current backend (Jupyter
    inline/widget, TkAgg, Qt, Agg...) displays it; ``managed=False`` creates a bare
    :class:`matplotlib.figure.Figure` that no GUI or pyplot state knows about (headless use).
    Call inside :func:`style_context`.
    """
    kwargs: dict[str, Any] = {"figsize": figsize, "layout": "constrained"}
    if dpi is not None:
        kwargs["dpi"] = dpi
    if managed:
        import matplotlib.pyplot as plt

        return plt.figure(**kwargs)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure
