"""Tests of the report's figure embedding (CalSciPy._report.page) and of what its figures draw
(CalSciPy._report.figures): PNG pixels equal to ``savefig``'s, events and contours drawn
where the data say."""
from __future__ import annotations

import base64
import io
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread

from CalSciPy._report import figures
from CalSciPy._visuals._style import style_context
from CalSciPy.errors import InvalidArgumentError
from CalSciPy.report import figure_to_data_uri


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    pixels = imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    return pixels[..., :3] if pixels.shape[-1] == 4 else pixels


def _savefig(fig, dpi: float) -> np.ndarray:
    buffer = io.BytesIO()
    with style_context():
        fig.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    pixels = imread(buffer, format="png")
    assert np.all(pixels[..., 3] == 1.0)  # savefig's background is opaque white
    return pixels[..., :3]


def _busy_figure(fig):
    axes = fig.subplots(1, 2)
    x = np.linspace(0, 10, 500)
    axes[0].plot(x, np.sin(x), label="sin")
    axes[0].legend()
    axes[0].set_title("a title")
    axes[1].imshow(np.arange(64.0).reshape(8, 8))
    axes[1].text(2, 3, "label", color="white")
    fig.suptitle("figure")
    return fig


@pytest.mark.parametrize("make", [
    lambda: Figure(figsize=(4, 2.5), layout="constrained"),  # bare canvas
    lambda: FigureCanvasAgg(Figure(figsize=(4, 2.5), layout="constrained")).figure,
    lambda: Figure(figsize=(4, 2.5), facecolor="none"),  # transparent: savefig paints white
])
@pytest.mark.parametrize("dpi", [50, 100])
def test_data_uri_has_the_pixels_savefig_draws(make, dpi):
    # two identical figures: constrained layout moves things by a fraction of a pixel on a
    # figure's second draw, whichever way it is drawn
    fig = _busy_figure(make())
    canvas = fig.canvas
    face = fig.get_facecolor()
    fast = _decode(figure_to_data_uri(fig, dpi=dpi))
    assert fig.canvas is canvas and fig.get_facecolor() == face and fig.dpi == 100
    reference = _savefig(_busy_figure(make()), dpi)
    assert fast.shape == reference.shape == (int(2.5 * dpi), 4 * dpi, 3)
    np.testing.assert_array_equal(fast, reference)


def test_data_uri_of_a_gui_canvas_neither_redraws_nor_blits_it():
    class WindowCanvas(FigureCanvasAgg):  # stands for TkAgg/QtAgg: draw() updates a window
        shown = 0

        def draw(self):
            super().draw()
            WindowCanvas.shown += 1

    fig = WindowCanvas(_busy_figure(Figure(figsize=(4, 2.5), layout="constrained"))).figure
    fast = _decode(figure_to_data_uri(fig, dpi=50))
    assert WindowCanvas.shown == 0 and fig.canvas.figure is fig and fig.dpi == 100
    reference = _savefig(_busy_figure(Figure(figsize=(4, 2.5), layout="constrained")), 50)
    np.testing.assert_array_equal(fast, reference)


def test_data_uri_keeps_transparency_that_is_drawn():
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1])
    fig.patch.set_visible(False)  # no background: transparent pixels, as savefig leaves them
    uri = figure_to_data_uri(fig)
    pixels = imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    assert pixels.shape[-1] == 4 and pixels[..., 3].min() == 0  # RGBA kept, not blackened
    assert type(fig.canvas) is FigureCanvasBase
    buffer = io.BytesIO()
    with style_context():
        fig.savefig(buffer, format="png")
    buffer.seek(0)
    np.testing.assert_array_equal(pixels, imread(buffer, format="png"))


def test_data_uri_compress_level_is_checked_and_changes_only_the_bytes():
    fig = _busy_figure(Figure(figsize=(3, 2)))  # no constrained layout: redraws are equal
    small, large = (figure_to_data_uri(fig, compress_level=k) for k in (9, 0))
    assert len(small) < len(large)
    np.testing.assert_array_equal(_decode(small), _decode(large))
    for bad in (-1, 10):
        with pytest.raises(InvalidArgumentError, match="compress_level"):
            figure_to_data_uri(fig, compress_level=bad)
    with pytest.raises(TypeError, match="compress_level"):
        figure_to_data_uri(fig, compress_level=2.5)


def _line(fig, gid):
    found = [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == gid]
    assert len(found) == 1, [line.get_gid() for ax in fig.axes for line in ax.get_lines()]
    return found[0]


def _polylines(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """The NaN-separated pieces of one line as ``(n, 2)`` arrays."""
    breaks = np.flatnonzero(np.isnan(x))
    assert np.array_equal(breaks, np.flatnonzero(np.isnan(y)))
    pieces = np.split(np.column_stack([x, y]), breaks)
    return [p[~np.isnan(p[:, 0])] for p in pieces if np.isfinite(p[:, 0]).any()]


def test_raster_draws_one_tick_per_event_in_the_first_two_minutes():
    rate = 10.0
    events = [np.array([0, 5, 1199, 1200, 1500]), np.array([], dtype=int), np.array([42])]
    data = {"dfof": np.zeros((3, 1600)), "ids": np.array([7, 8, 9]), "events": events,
            "onsets": {"a": SimpleNamespace(times_s=np.array([1.0, 50.0, 130.0]))}}
    fig = figures.raster_with_onsets_figure(data, rate)
    ticks = _polylines(*(np.asarray(v, dtype=float) for v in _line(fig, "events").get_data()))
    expected = [(f / rate, row) for row, frames in enumerate(events) for f in frames
                if f < 1200]
    assert len(ticks) == len(expected) == 4
    for tick, (t, row) in zip(ticks, expected):
        np.testing.assert_allclose(tick, [[t, row - 0.4], [t, row + 0.4]])
    onsets = [c for c in fig.axes[0].collections if c.get_gid() == "onsets"]
    assert len(onsets) == 1 and len(onsets[0].get_segments()) == 2  # 130 s is not shown
    figure_to_data_uri(fig)  # draws
    data["events"] = [np.array([], dtype=int)] * 3  # no events at all: an empty line
    fig = figures.raster_with_onsets_figure(data, rate)
    assert _line(fig, "events").get_xydata().size == 0
    assert _decode(figure_to_data_uri(fig)).shape[:2] == (int(2.15 * 100), 1100)


def test_contours_figure_draws_every_contour_in_its_roi_s_colour():
    from matplotlib.colors import to_rgba

    from CalSciPy.roi_tools import ROISet

    labels = np.zeros((40, 50), dtype=int)
    labels[5:12, 5:14] = 1
    labels[20:30, 30:36] = 2
    labels[30:36, 4:10] = 3
    labels[31:34, 6:8] = 0  # a hole: two contours for ROI 2
    rois = ROISet.from_labels(labels)
    responsive = {int(rois[1].id)}
    image = np.random.default_rng(0).random((40, 50))
    fig = figures.contours_figure(image, rois, responsive)
    for gid, colour, members in (
            ("responsive", figures.RESPONSIVE_COLOR, [r for r in rois if r.id in responsive]),
            ("not responsive", figures.OTHER_COLOR,
             [r for r in rois if r.id not in responsive])):
        line = _line(fig, gid)
        assert to_rgba(line.get_color()) == to_rgba(colour)
        drawn = _polylines(*(np.asarray(v, dtype=float) for v in line.get_data()))
        wanted = [c[:, ::-1] for roi in members for c in roi.contour()]  # (row, col) → (x, y)
        assert len(drawn) == len(wanted)
        for got, want in zip(drawn, wanted):
            np.testing.assert_allclose(got, want)
    labels_drawn = sorted(t.get_text() for t in fig.axes[0].texts)
    assert labels_drawn == sorted(str(r.id) for r in rois)  # few ROIs: all labelled
    assert fig.axes[0].get_xlim() == (-0.5, 49.5) and fig.axes[0].get_ylim() == (39.5, -0.5)
