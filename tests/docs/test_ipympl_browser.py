"""The neuron browsers under Jupyter's ipympl widget backend (``%matplotlib widget``).

ipympl sends the browser's key presses and mouse clicks to the kernel as comm messages that
end in ``Canvas._handle_message``; these tests deliver the same messages, without a browser,
and check that the browser reacts as it does under a desktop backend.
"""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

pytest.importorskip("ipympl", reason="ipympl (the 'jupyter' extra) is not installed")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:traitlets")


@pytest.fixture()
def widget_backend():
    previous = matplotlib.get_backend()
    matplotlib.use("module://ipympl.backend_nbagg", force=True)
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
    matplotlib.use(previous, force=True)


def _send(canvas, content: dict) -> None:
    canvas._handle_message(canvas, {"guiEvent": {}, **content}, [])


def _key(canvas, key: str) -> None:
    # The front end prefixes key names with "k" (after any modifiers), as matplotlib's webagg
    # JavaScript does.
    _send(canvas, {"type": "key_press", "key": f"k{key}"})
    _send(canvas, {"type": "key_release", "key": f"k{key}"})


def test_keys_navigate_under_ipympl(widget_backend) -> None:
    from ipympl.backend_nbagg import Canvas

    from CalSciPy.interactive_visuals import plot_traces

    traces = np.random.default_rng(0).random((12, 200))
    plot = plot_traces(traces, frame_rate=10.0)
    canvas = plot.figure.canvas
    assert isinstance(canvas, Canvas)
    assert plot.neuron == 0
    _key(canvas, "ArrowRight")
    assert plot.neuron == 1
    _key(canvas, "PageDown")
    assert plot.neuron == 11
    _key(canvas, "Home")
    assert plot.neuron == 0
    for key in ("7", "Enter"):
        _key(canvas, key)
    assert plot.neuron == 7
    # what is drawn follows: the line shows neuron 7's trace
    np.testing.assert_allclose(plot.lines[0].get_ydata(), traces[7])


def test_slider_click_under_ipympl(widget_backend) -> None:
    from CalSciPy.interactive_visuals import plot_traces

    plot = plot_traces(np.random.default_rng(1).random((9, 50)), frame_rate=10.0)
    canvas = plot.figure.canvas
    canvas.draw()
    slider = plot.slider
    assert slider is not None
    bbox = slider.ax.get_window_extent()
    height = canvas.figure.bbox.height
    # a click at the right end of the slider track; webagg's y axis points down
    x, y = bbox.x0 + 0.999 * bbox.width, height - (bbox.y0 + bbox.height / 2)
    ratio = canvas.device_pixel_ratio
    for kind in ("button_press", "button_release"):
        _send(canvas, {"type": kind, "x": x * ratio, "y": y * ratio, "button": 0,
                       "buttons": 1, "modifiers": []})
    assert plot.neuron == 8


def test_save_all_under_ipympl(widget_backend, tmp_path) -> None:
    from CalSciPy.interactive_visuals import plot_traces

    plot = plot_traces(np.random.default_rng(2).random((3, 40)), frame_rate=10.0)
    plot.save_all(tmp_path, progress=False)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 3 and all(name.endswith(".png") for name in files)
    assert plot.neuron == 0  # saving every neuron leaves the browser where it was
