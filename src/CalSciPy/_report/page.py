"""The HTML page of :mod:`CalSciPy.report` (see there): :class:`Report` and figure embedding."""
from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Report", "figure_to_data_uri"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1150px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
.subtitle { color: #666; margin-top: 0; }
.headlines { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 1em 0; }
.card { background: #f4f6f8; border-radius: 6px; padding: 0.6em 1em; min-width: 9em; }
.card .headline { display: block; font-size: 1.7em; font-weight: 600; color: #1f4e79; }
.card .label { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.5em 0 1em 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25em 0.7em; text-align: left; }
th { background: #f4f6f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.note { color: #666; font-size: 0.9em; }
"""


def figure_to_data_uri(figure, *, dpi: float = 100, compress_level: int = 6) -> str:
    """PNG ``data:`` URI of a matplotlib Figure (or SubFigure: its whole figure).

    The figure is drawn at ``dpi`` (dots per inch) on the ``savefig`` background of the
    package style (white), as ``savefig`` would draw it. On an Agg canvas (every headless
    figure of the package, a bare ``Figure()``, pyplot's Agg and inline backends) it is drawn
    once, layout included, and stored as RGB when fully opaque: the same pixels as
    ``savefig`` (which lays a constrained-layout figure out in a draw of its own first, and
    stores RGBA) in about 40 % less time and 10 % fewer bytes. Other canvases (GUI backends)
    go through ``savefig``. ``compress_level``: zlib level, 0 (none) to 9.
    """
    from CalSciPy._checks import check_int

    compress_level = check_int(compress_level, "compress_level", minimum=0, maximum=9)
    root = figure if hasattr(figure, "savefig") else figure.figure
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from CalSciPy._visuals._style import style_context

    buffer = io.BytesIO()
    with style_context():
        canvas = root.canvas
        if isinstance(canvas, FigureCanvasAgg):
            _agg_png(root, buffer, dpi, compress_level)
        elif type(canvas) is FigureCanvasBase:  # a bare Figure(): draw it on Agg, then back
            try:
                FigureCanvasAgg(root)
                _agg_png(root, buffer, dpi, compress_level)
            finally:
                root.set_canvas(canvas)
        else:
            root.savefig(buffer, format="png", dpi=dpi,
                         pil_kwargs={"compress_level": compress_level})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _agg_png(root, buffer: io.BytesIO, dpi: float, compress_level: int) -> None:
    """One Agg draw of ``root`` at ``dpi`` on the ``savefig`` background, written as PNG."""
    import matplotlib as mpl
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    saved = root.dpi, root.get_facecolor(), root.get_edgecolor()
    try:
        root.dpi = dpi
        root.set_facecolor(mpl.rcParams["savefig.facecolor"] if
                           mpl.rcParams["savefig.facecolor"] != "auto" else saved[1])
        root.set_edgecolor(mpl.rcParams["savefig.edgecolor"] if
                           mpl.rcParams["savefig.edgecolor"] != "auto" else saved[2])
        # Agg's own draw, as savefig's print_png: a GUI canvas built on Agg (TkAgg, QtAgg,
        # ipympl) must not blit or send this export-dpi frame to its window
        FigureCanvasAgg.draw(root.canvas)
        pixels = np.asarray(FigureCanvasAgg.buffer_rgba(root.canvas))
        image = Image.fromarray(pixels[..., :3] if np.all(pixels[..., 3] == 255) else pixels)
        image.save(buffer, format="png", compress_level=compress_level,
                   dpi=(round(dpi), round(dpi)))
    finally:
        root.dpi = saved[0]
        root.set_facecolor(saved[1])
        root.set_edgecolor(saved[2])


def _format(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value)
    return str(value)


@dataclass
class Report:
    """An HTML report under construction (see the module docstring).

    Attributes
    ----------
    title
        Page title and heading.
    subtitle
        One line under the heading (e.g. the folder analysed).
    headlines
        ``key → (label, value)`` numbers shown first, each readable back by its ``data-key``.
    """

    title: str
    subtitle: str = ""
    headlines: dict[str, tuple[str, Any]] = field(default_factory=dict)
    _body: list[str] = field(default_factory=list)

    def add_headline(self, key: str, label: str, value: Any) -> None:
        """A number shown in the headline cards (``key``: its ``data-key``)."""
        self.headlines[str(key)] = (str(label), value)

    def add_heading(self, text: str) -> None:
        """Start a section."""
        self._body.append(f"<h2>{html.escape(text)}</h2>")

    def add_text(self, text: str, *, note: bool = False) -> None:
        """A paragraph (escaped; ``note``: smaller, grey)."""
        css = ' class="note"' if note else ""
        self._body.append(f"<p{css}>{html.escape(text)}</p>")

    def add_facts(self, facts: Mapping[str, Any]) -> None:
        """A two-column table of ``name → value``."""
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_format(v))}</td>"
                       "</tr>" for k, v in facts.items())
        self._body.append(f"<table class=\"facts\">{rows}</table>")

    def add_figure(self, figure, caption: str = "", *, dpi: float = 100,
                   compress_level: int = 6) -> None:
        """Embed a matplotlib figure as a PNG (the figure is not closed or changed; ``dpi``
        and ``compress_level`` as in :func:`figure_to_data_uri`)."""
        uri = figure_to_data_uri(figure, dpi=dpi, compress_level=compress_level)
        alt = html.escape(caption or "figure", quote=True)
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._body.append(f'<figure><img src="{uri}" alt="{alt}">{cap}</figure>')

    def add_table(self, table, caption: str = "", *, max_rows: int = 50) -> None:
        """A pandas DataFrame as an HTML table (first ``max_rows`` rows; the CSV has all)."""
        shown = table.head(max_rows)
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
        rows = []
        for _, row in shown.iterrows():
            cells = []
            for value in row:
                numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                css = ' class="num"' if numeric else ""
                cells.append(f"<td{css}>{html.escape(_format(value))}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        more = (f'<p class="note">first {max_rows} of {len(table)} rows</p>'
                if len(table) > max_rows else "")
        cap = f"<p>{html.escape(caption)}</p>" if caption else ""
        self._body.append(f"{cap}<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
                          f"</tbody></table>{more}")

    def to_html(self) -> str:
        """The whole page as one string."""
        cards = "".join(
            f'<div class="card"><span class="headline" data-key="{html.escape(key, quote=True)}"'
            f">{html.escape(_format(value))}</span><span class=\"label\">"
            f"{html.escape(label)}</span></div>"
            for key, (label, value) in self.headlines.items()
        )
        subtitle = f'<p class="subtitle">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>{subtitle}"
            f"<div class=\"headlines\">{cards}</div>"
            + "\n".join(self._body)
            + "</body></html>\n"
        )

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the page atomically (UTF-8); an existing file needs ``overwrite=True``."""
        from CalSciPy._atomic import atomic_write
        from CalSciPy._checks import as_path

        target = as_path(path)
        with atomic_write(target, overwrite=overwrite, mode="w") as handle:
            handle.write(self.to_html())
        return target


