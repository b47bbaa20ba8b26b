"""Neuron browser: one figure showing one neuron at a time, driven by keys or a slider."""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy._atomic import as_path, atomic_path
from CalSciPy._checks import is_integer
from CalSciPy._visuals._style import new_figure, style_context
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["NeuronBrowser", "KEY_HELP"]

KEY_HELP = (
    "←/↑ previous · →/↓ next · PageUp/PageDown ±10 · Home/End first/last · "
    "digits + Enter jump · Esc clears"
)

#: legend placement above the top-right corner, clear of the data and of the left title
LEGEND_ABOVE = {"loc": "lower right", "bbox_to_anchor": (1.0, 1.0), "ncols": 3,
                "borderaxespad": 0.2}

_PREVIOUS = {"left", "up"}
_NEXT = {"right", "down"}
_IMAGE_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "tif", "tiff", "eps", "webp")


def _check_ids(ids, n_neurons: int):
    """``ids`` (None, a sequence of integers or an object with ``.ids``) as a unique int64
    array of ``n_neurons`` entries, or None."""
    if ids is None:
        return None
    ids = getattr(ids, "ids", ids)
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidArgumentError(f"ids must be a 1-D sequence of integer ROI ids, got {ids!r}")
    if arr.size != n_neurons:
        raise InvalidArgumentError(f"ids has {arr.size} entries but there are {n_neurons} neurons")
    if np.unique(arr).size != arr.size:
        raise InvalidArgumentError("ids must be unique")
    return arr.astype(np.int64)


class NeuronBrowser(ABC):
    """Base class: figure, neuron index, key handling, optional slider and saving.

    Subclasses implement :meth:`_height_ratios`, :meth:`_build` (create axes and artists once)
    and :meth:`_update` (put neuron ``i``'s data into the existing artists). Changing neuron
    never re-creates the figure or its axes.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The figure (created through :mod:`matplotlib.pyplot`, so any backend can show it).
    axes : list of matplotlib.axes.Axes
        Data axes, top to bottom.
    neuron : int
        Index of the neuron on display (0-based).
    n_neurons : int
        Number of neurons that can be browsed.
    ids : numpy.ndarray or None
        ``(neurons,)`` int64 ROI id of each row (from ``ids=``: a sequence of integers or an
        :class:`~CalSciPy.roi_tools.ROISet`), shown in titles and ``save_all`` file names;
        None: rows are named by their index.
    interactive : bool
        False: a bare headless Figure (no pyplot, no slider, no keys) for static output;
        ``set_neuron``/``save``/``save_all`` still work.
    """

    def __init__(
        self,
        n_neurons: int,
        *,
        neuron: int = 0,
        figsize: tuple[float, float] | None = None,
        dpi: float | None = None,
        slider: bool = True,
        show: bool = False,
        interactive: bool = True,
        ids=None,
    ) -> None:
        if n_neurons < 1:
            raise InvalidArgumentError("there are no neurons to plot")
        self.n_neurons = int(n_neurons)
        self.ids = _check_ids(ids, self.n_neurons)
        self.neuron = self._check_index(neuron)
        self.interactive = bool(interactive)
        self._typed = ""
        self._slider: Any = None
        self.axes: list = []
        with style_context():
            self.figure = new_figure(
                figsize or self._default_figsize(), managed=interactive, dpi=dpi
            )
            ratios = list(self._height_ratios())
            use_slider = slider and interactive and self.n_neurons > 1
            if use_slider:
                ratios.append(0.06 * sum(ratios))
            grid = self.figure.add_gridspec(len(ratios), 1, height_ratios=ratios)
            self._build([grid[k, 0] for k in range(len(self._height_ratios()))])
            if use_slider:
                self._add_slider(grid[-1, 0])
            self._status = self.figure.text(
                0.5, 0.995, "", ha="center", va="top", fontsize=8, color="#595959"
            )
            self._redraw(draw=False)
        if interactive:
            self._connect_keys()
        if show:
            self.show()

    # -- subclass hooks -------------------------------------------------------------------
    def _default_figsize(self) -> tuple[float, float]:
        return (9.0, 4.5)

    @abstractmethod
    def _height_ratios(self) -> Sequence[float]:
        """Relative heights of the data rows (one SubplotSpec each is passed to ``_build``)."""

    @abstractmethod
    def _build(self, specs: list) -> None:
        """Create the axes (append to ``self.axes``) and artists, once."""

    @abstractmethod
    def _update(self, neuron: int) -> None:
        """Put ``neuron``'s data into the existing artists (no new figure or axes)."""

    # -- navigation -----------------------------------------------------------------------
    @property
    def title(self) -> str:
        """Title naming the neuron on display: its ROI id when ``ids`` were given, else its
        row number."""
        if self.ids is not None:
            return f"ROI {self.ids[self.neuron]}  [{self.neuron + 1} of {self.n_neurons}]"
        return f"Neuron {self.neuron}  [{self.neuron + 1} of {self.n_neurons}]"

    def _check_index(self, neuron) -> int:
        if not is_integer(neuron):
            raise InvalidArgumentTypeError(f"neuron must be an integer index, got {neuron!r}")
        index = int(neuron)
        if index < 0:
            index += self.n_neurons
        if not 0 <= index < self.n_neurons:
            raise InvalidArgumentError(
                f"neuron {neuron} is out of range: 0 to {self.n_neurons - 1}"
            )
        return index

    def set_neuron(self, neuron: int) -> None:
        """Show neuron ``neuron`` (negative counts from the end) by updating the artists.

        Any half-typed neuron number and its prompt are discarded (they would be stale).
        """
        self.neuron = self._check_index(neuron)
        self._typed = ""
        self._set_status("")
        self._redraw()

    def next(self, step: int = 1) -> None:
        """Move ``step`` neurons forward (stops at the last one)."""
        self.set_neuron(min(self.neuron + step, self.n_neurons - 1))

    def previous(self, step: int = 1) -> None:
        """Move ``step`` neurons back (stops at the first one)."""
        self.set_neuron(max(self.neuron - step, 0))

    def _redraw(self, draw: bool = True) -> None:
        with style_context():
            self._update(self.neuron)
            self.axes[0].set_title(self.title, loc="left")
            if self._slider is not None and int(self._slider.val) != self.neuron:
                # no callbacks (we are the callback) and no draw of its own (we draw below)
                self._slider.eventson = self._slider.drawon = False
                try:
                    self._slider.set_val(self.neuron)
                finally:
                    self._slider.eventson = self._slider.drawon = True
        if draw and self.interactive:  # a headless figure renders when it is saved
            self.figure.canvas.draw_idle()

    # -- slider ---------------------------------------------------------------------------
    def _add_slider(self, spec) -> None:
        from matplotlib.widgets import Slider

        ax = self.figure.add_subplot(spec)
        self._slider = Slider(
            ax, "Neuron", 0, self.n_neurons - 1, valinit=self.neuron, valstep=1, valfmt="%d"
        )
        self._slider.on_changed(self._on_slider)

    def _on_slider(self, value) -> None:
        index = int(round(float(value)))
        if index != self.neuron:
            self.set_neuron(index)

    @property
    def slider(self):
        """The :class:`matplotlib.widgets.Slider` (None when disabled or for one neuron)."""
        return self._slider

    # -- keys -----------------------------------------------------------------------------
    def _connect_keys(self) -> None:
        canvas = self.figure.canvas
        manager = getattr(canvas, "manager", None)
        # Matplotlib binds ←/→/Home to toolbar navigation; take those keys over and forward
        # every other key (save, fullscreen, quit, grid...) to the default handler ourselves.
        self._forward_default = False
        handler_id = getattr(manager, "key_press_handler_id", None)
        if handler_id is not None and manager is not None:
            canvas.mpl_disconnect(handler_id)
            manager.key_press_handler_id = None
            self._forward_default = True
        self._key_cid = canvas.mpl_connect("key_press_event", self._on_key)

    def _set_status(self, text: str) -> None:
        self._status.set_text(text)

    def _on_key(self, event) -> None:
        key = event.key
        handled = True
        if key in _PREVIOUS:
            self._typed = ""
            self.previous()
        elif key in _NEXT:
            self._typed = ""
            self.next()
        elif key == "pageup":
            self.previous(10)
        elif key == "pagedown":
            self.next(10)
        elif key == "home":
            self._typed = ""
            self.set_neuron(0)
        elif key == "end":
            self._typed = ""
            self.set_neuron(self.n_neurons - 1)
        elif key is not None and len(key) == 1 and key in "0123456789":  # not "²", "٣"...
            self._typed += key
            self._set_status(f"go to neuron: {self._typed}")
            self.figure.canvas.draw_idle()
        elif key in ("enter", "return") and self._typed:
            typed, self._typed = self._typed, ""
            target = int(typed)
            if target < self.n_neurons:
                self._set_status("")
                self.set_neuron(target)
            else:
                self._set_status(f"no neuron {target} (0 to {self.n_neurons - 1})")
                self.figure.canvas.draw_idle()
        elif key == "backspace" and self._typed:
            self._typed = self._typed[:-1]
            self._set_status(f"go to neuron: {self._typed}" if self._typed else "")
            self.figure.canvas.draw_idle()
        elif key == "escape" and self._typed:
            self._typed = ""
            self._set_status("")
            self.figure.canvas.draw_idle()
        else:
            handled = False
        if not handled and self._forward_default:
            from matplotlib.backend_bases import key_press_handler

            key_press_handler(event, self.figure.canvas, getattr(event.canvas, "toolbar", None))

    # -- output ---------------------------------------------------------------------------
    def show(self, *, block: bool | None = None) -> None:
        """Show the figure with :func:`matplotlib.pyplot.show` (blocks in scripts by default)."""
        import matplotlib.pyplot as plt

        plt.show(block=block)

    def close(self) -> None:
        """Close the figure and release it from :mod:`matplotlib.pyplot`."""
        if not self.interactive:
            return  # pyplot never knew this figure
        import matplotlib.pyplot as plt

        plt.close(self.figure)

    def _decorations(self) -> list:
        items = [self._status]
        if self._slider is not None:
            items.append(self._slider.ax)
        return items

    def save(
        self,
        path: str | os.PathLike,
        *,
        dpi: float | None = None,
        overwrite: bool = False,
        format: str | None = None,
    ) -> Path:
        """Save the current view atomically (slider and status text hidden).

        Parameters
        ----------
        path
            Output file; the format follows its suffix (``.png``, ``.svg``, ``.pdf``...).
        dpi
            Resolution; default the figure's, so the image is ``figsize × dpi`` pixels.
        overwrite
            Replace an existing file (otherwise ``FileExistsError``).
        format
            Explicit format overriding the suffix.
        """
        target = as_path(path)
        hidden = [item for item in self._decorations() if item.get_visible()]
        for item in hidden:
            item.set_visible(False)
        try:
            with style_context(), atomic_path(target, overwrite=overwrite) as staged:
                self.figure.savefig(staged, dpi=dpi or self.figure.dpi, format=format)
        finally:
            for item in hidden:
                item.set_visible(True)
        return target

    def save_all(
        self,
        folder: str | os.PathLike,
        *,
        progress: bool = True,
        fmt: str = "png",
        dpi: float | None = None,
        overwrite: bool = False,
        neurons: Iterable[int] | None = None,
        prefix: str | None = None,
    ) -> list[Path]:
        """Write one image per neuron into ``folder`` (created if missing).

        Files are named ``{prefix}{index:04d}.{fmt}`` (default prefix ``neuron_``), or, when the
        browser has ROI ``ids``, ``{prefix}{id:04d}.{fmt}`` (default prefix ``roi_``), and
        written atomically. Existing files
        raise ``FileExistsError`` before anything is written unless ``overwrite=True``. The
        neuron on display is restored afterwards.

        Parameters
        ----------
        folder
            Output folder.
        progress
            Show a tqdm progress bar.
        fmt
            Image format: png, svg, pdf, jpg, tif, eps or webp.
        dpi
            Resolution (default: the figure's).
        overwrite
            Replace existing files.
        neurons
            Subset of neuron indices (default: all).
        prefix
            File-name prefix (default ``roi_`` with ids, else ``neuron_``).

        Returns
        -------
        list of pathlib.Path
            The written files, in order.
        """
        from tqdm.auto import tqdm

        fmt = str(fmt).lower().lstrip(".")
        if fmt not in _IMAGE_FORMATS:
            raise InvalidArgumentError(
                f"unknown image format {fmt!r}; valid: {', '.join(_IMAGE_FORMATS)}"
            )
        folder = as_path(folder, "folder")
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"{folder} exists and is not a folder")
        indices = (
            list(range(self.n_neurons))
            if neurons is None
            else [self._check_index(n) for n in neurons]
        )
        if prefix is None:
            prefix = "neuron_" if self.ids is None else "roi_"
        names = list(indices) if self.ids is None else [int(self.ids[i]) for i in indices]
        width = max(4, len(str(self.n_neurons - 1)) if self.ids is None else
                    max(len(str(abs(int(v)))) for v in self.ids))
        targets = [folder / f"{prefix}{name:0{width}d}.{fmt}" for name in names]
        if not overwrite:
            existing = [t for t in targets if t.exists()]
            if existing:
                raise FileExistsError(
                    f"{len(existing)} file(s) already exist in {folder}, e.g. {existing[0].name}; "
                    "pass overwrite=True to replace them"
                )
        folder.mkdir(parents=True, exist_ok=True)
        original = self.neuron
        try:
            for index, target in tqdm(
                list(zip(indices, targets)), disable=not progress, desc="saving", unit="neuron"
            ):
                self.neuron = index
                self._redraw(draw=False)
                self.save(target, dpi=dpi, overwrite=overwrite, format=fmt)
        finally:
            self.neuron = original
            self._redraw()
        return targets

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: neuron {self.neuron} of {self.n_neurons}>"
