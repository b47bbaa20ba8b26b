"""Tests for CalSciPy.interactive_visuals (Agg backend; one Tk test on a virtual display)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from CalSciPy import interactive_visuals as iv
from CalSciPy.interactive_visuals import plot_spikes, plot_traces, plot_trials


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture()
def traces():
    rng = np.random.default_rng(0)
    return rng.normal(1.0, 0.2, size=(6, 120)).astype(np.float32)


def press(plot, *keys):
    from matplotlib.backend_bases import KeyEvent

    canvas = plot.figure.canvas
    for key in keys:
        canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", canvas, key=key))


def read_png(path: Path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(str(path))


# -- plot_traces -------------------------------------------------------------------------------
def test_plot_traces_overlay_draws_rows_in_seconds(traces):
    dfof = traces * 2 - 1
    plot = plot_traces([traces, dfof], frame_rate=20.0, labels=["F", "dF/F0"])
    assert isinstance(plot, iv.TracePlot)
    assert len(plot.axes) == 1 and len(plot.lines) == 2
    np.testing.assert_array_equal(plot.lines[0].get_ydata(), traces[0])
    np.testing.assert_array_equal(plot.lines[1].get_ydata(), dfof[0])
    np.testing.assert_allclose(plot.lines[0].get_xdata(), np.arange(120) / 20.0)
    assert plot.axes[0].get_xlabel() == "Time (s)"
    assert plot.axes[0].get_ylabel() == "Δf/f0"
    assert "Neuron 0" in plot.axes[0].get_title(loc="left")
    legend = [t.get_text() for t in plot.axes[0].get_legend().get_texts()]
    assert legend == ["F", "dF/F0"]
    assert plot.lines[0].get_color() != plot.lines[1].get_color()


def test_plot_traces_stacked_one_axis_per_dataset_shared_x(traces):
    plot = plot_traces([traces, traces * 3, traces - 1], mode="stacked", neuron=2)
    assert len(plot.axes) == 3
    assert all(line.axes is ax for line, ax in zip(plot.lines, plot.axes))
    assert plot.axes[0].get_shared_x_axes().joined(plot.axes[0], plot.axes[2])
    np.testing.assert_array_equal(plot.lines[1].get_ydata(), traces[2] * 3)
    assert plot.axes[-1].get_xlabel() == "Frame"
    lo, hi = plot.axes[1].get_ylim()
    assert lo <= (traces[2] * 3).min() and hi >= (traces[2] * 3).max()


def test_plot_traces_single_1d_trace_and_y_label():
    plot = plot_traces(np.arange(10.0), y_label="F (a.u.)", slider=False)
    assert plot.n_neurons == 1 and plot.slider is None
    assert plot.axes[0].get_ylabel() == "F (a.u.)"
    assert plot.axes[0].get_legend() is None


def test_keys_change_neuron_without_recreating_figure(traces):
    plot = plot_traces(traces)
    figure, line, ax = plot.figure, plot.lines[0], plot.axes[0]
    press(plot, "right")
    assert plot.neuron == 1
    assert plot.figure is figure and plot.lines[0] is line and plot.axes[0] is ax
    np.testing.assert_array_equal(line.get_ydata(), traces[1])
    assert "Neuron 1" in ax.get_title(loc="left")
    press(plot, "down")
    assert plot.neuron == 2
    press(plot, "left", "up")
    assert plot.neuron == 0
    press(plot, "left")  # stays at the first neuron
    assert plot.neuron == 0
    press(plot, "end")
    assert plot.neuron == 5
    np.testing.assert_array_equal(line.get_ydata(), traces[5])
    press(plot, "right")
    assert plot.neuron == 5
    press(plot, "home")
    assert plot.neuron == 0
    press(plot, "pagedown")
    assert plot.neuron == 5
    assert plot.figure.axes.count(ax) == 1


def test_digits_enter_jump_and_editing(traces):
    plot = plot_traces(traces)
    press(plot, "4", "enter")
    assert plot.neuron == 4
    np.testing.assert_array_equal(plot.lines[0].get_ydata(), traces[4])
    press(plot, "1", "2", "backspace", "enter")
    assert plot.neuron == 1
    press(plot, "9", "enter")  # out of range: message, neuron kept
    assert plot.neuron == 1
    assert "no neuron 9" in plot._status.get_text()
    press(plot, "3", "escape", "enter")
    assert plot.neuron == 1


_KEYS = ["left", "right", "up", "down", "home", "end", "pageup", "pagedown", "enter",
         "backspace", "escape", "0", "1", "2", "7"]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_KEYS), max_size=12))
def test_key_sequences_follow_the_navigation_model(traces, keys):
    plot = plot_traces(traces, slider=False)
    plot.figure.canvas.draw_idle = lambda *args, **kwargs: None  # logic only, no rendering
    expected, typed, last = 0, "", plot.n_neurons - 1
    for key in keys:
        press(plot, key)
        if key in ("left", "up"):
            expected, typed = max(expected - 1, 0), ""
        elif key in ("right", "down"):
            expected, typed = min(expected + 1, last), ""
        elif key == "pageup":
            expected, typed = max(expected - 10, 0), ""
        elif key == "pagedown":
            expected, typed = min(expected + 10, last), ""
        elif key == "home":
            expected, typed = 0, ""
        elif key == "end":
            expected, typed = last, ""
        elif key.isdigit():
            typed += key
        elif key == "enter" and typed:
            expected = int(typed) if int(typed) <= last else expected
            typed = ""
        elif key == "backspace":
            typed = typed[:-1]
        elif key == "escape":
            typed = ""
        assert plot.neuron == expected
    np.testing.assert_array_equal(plot.lines[0].get_ydata(), traces[expected])
    plot.close()


def test_slider_and_set_neuron_stay_in_sync(traces):
    plot = plot_traces(traces)
    assert plot.slider is not None
    plot.slider.set_val(3)
    assert plot.neuron == 3
    np.testing.assert_array_equal(plot.lines[0].get_ydata(), traces[3])
    plot.set_neuron(-1)
    assert plot.neuron == 5 and int(plot.slider.val) == 5
    with pytest.raises(ValueError, match="out of range"):
        plot.set_neuron(6)
    with pytest.raises(TypeError):
        plot.set_neuron(1.5)


def test_other_keys_reach_matplotlib_default_handler(traces, monkeypatch):
    import matplotlib.backend_bases as bb

    seen = []
    monkeypatch.setattr(bb, "key_press_handler", lambda event, *a, **k: seen.append(event.key))
    plot = plot_traces(traces)
    press(plot, "g", "right")
    assert seen == ["g"] and plot.neuron == 1


def test_nan_traces_draw_gaps_and_all_nan_neuron(tmp_path):
    data = np.ones((2, 50))
    data[0, 10:20] = np.nan
    data[1] = np.nan
    plot = plot_traces(data)
    ydata = plot.lines[0].get_ydata()
    assert np.isnan(ydata[10:20]).all() and np.isfinite(ydata[:10]).all()
    plot.set_neuron(1)
    assert np.isnan(plot.lines[0].get_ydata()).all()
    plot.save(tmp_path / "nan.png")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda t: plot_traces(t, mode="sideways"), "unknown mode"),
        (lambda t: plot_traces([t, t[:, :50]]), "same"),
        (lambda t: plot_traces([t, t[:3]]), "same"),
        (lambda t: plot_traces(np.zeros((0, 10))), "empty"),
        (lambda t: plot_traces(np.zeros((3, 0))), "frames"),
        (lambda t: plot_traces([]), "empty"),
        (lambda t: plot_traces([t, t], labels=["one"]), "labels"),
        (lambda t: plot_traces(t, frame_rate=-1), "frame_rate"),
        (lambda t: plot_traces(t, neuron=99), "out of range"),
        (lambda t: plot_traces(np.zeros((2, 3, 4))), "2-D"),
    ],
)
def test_plot_traces_bad_input(traces, call, message):
    with pytest.raises(ValueError, match=message):
        call(traces)


def test_plot_traces_non_numeric_is_type_error():
    with pytest.raises(TypeError):
        plot_traces(np.array([["a", "b"]]))


# -- plot_spikes -------------------------------------------------------------------------------
def test_plot_spikes_ticks_equal_spike_frames_lists(traces):
    frames = [np.array([3, 40, 99]), np.array([], int), [7], [0, 119], [5], [60, 61]]
    prob = np.abs(traces - 1)
    plot = plot_spikes(prob, frames, traces)
    np.testing.assert_array_equal(plot.events.get_positions(), [3, 40, 99])
    np.testing.assert_array_equal(plot.trace_line.get_ydata(), traces[0])
    np.testing.assert_allclose(plot.prob_line.get_ydata(), prob[0] + plot.prob_offset)
    # probability sits below the trace and the ticks below the probability
    assert np.nanmax(plot.prob_line.get_ydata()) < traces[0].min()
    assert plot.events.get_lineoffset() < np.nanmin(plot.prob_line.get_ydata())
    ylim = plot.axes[0].get_ylim()
    assert ylim[0] < plot.events.get_lineoffset() < ylim[1]
    press(plot, "right")
    assert len(plot.events.get_positions()) == 0
    press(plot, "3", "enter")
    np.testing.assert_array_equal(plot.events.get_positions(), [0, 119])
    np.testing.assert_allclose(plot.prob_line.get_ydata(), prob[3] + plot.prob_offset)
    assert "Neuron 3" in plot.axes[0].get_title(loc="left")


def test_plot_spikes_binary_matrix_in_seconds():
    matrix = np.zeros((3, 90), dtype=bool)
    matrix[1, [10, 30, 31]] = True
    plot = plot_spikes(spike_times=matrix, frame_rate=30.0, neuron=1)
    np.testing.assert_allclose(plot.events.get_positions(), np.array([10, 30, 31]) / 30.0)
    assert plot.trace_line is None and plot.prob_line is None
    assert plot.axes[0].get_xlabel() == "Time (s)"


def test_plot_spikes_count_matrix_and_only_prob():
    counts = np.zeros((2, 20), dtype=np.int64)
    counts[0, [2, 5]] = [1, 2]
    plot = plot_spikes(spike_times=counts, traces=np.ones((2, 20)))
    np.testing.assert_array_equal(plot.events.get_positions(), [2, 5])
    nested = plot_spikes(spike_times=[[False, True, True], [True, False, False]])
    np.testing.assert_array_equal(nested.events.get_positions(), [1, 2])
    only = plot_spikes(spike_prob=np.linspace(0, 1, 40).reshape(2, 20))
    assert only.prob_offset == 0.0 and only.events is None


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(2, 40), st.data())
def test_spike_ticks_match_matrix_and_lists_property(n_neurons, n_frames, data):
    matrix = data.draw(
        st.lists(st.lists(st.booleans(), min_size=n_frames, max_size=n_frames),
                 min_size=n_neurons, max_size=n_neurons).map(np.array)
    )
    neuron = data.draw(st.integers(0, n_neurons - 1))
    lists = [np.flatnonzero(row) for row in matrix]
    for spike_times in (matrix, lists):
        plot = plot_spikes(spike_times=spike_times, traces=np.zeros((n_neurons, n_frames)),
                           frame_rate=5.0, neuron=neuron, slider=False)
        np.testing.assert_allclose(plot.events.get_positions(), lists[neuron] / 5.0)
        plot.close()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "at least one"),
        ({"spike_prob": np.ones((3, 10)), "traces": np.ones((3, 11))}, "same"),
        ({"spike_prob": np.ones((3, 10)), "traces": np.ones((2, 10))}, "same"),
        ({"traces": np.ones((2, 10)), "spike_times": [[1], [2], [3]]}, "neurons"),
        ({"traces": np.ones((2, 10)), "spike_times": np.ones((2, 9))}, "frames"),
        ({"traces": np.ones((2, 10)), "spike_times": [[1], [10]]}, "10 frames"),
        ({"traces": np.ones((2, 10)), "spike_times": [[1], [-1]]}, "negative"),
        ({"traces": np.ones((2, 10)), "spike_times": [[1.5], [2]]}, "whole"),
        ({"spike_times": []}, "empty"),
        ({"traces": np.zeros((0, 5))}, "empty"),
    ],
)
def test_plot_spikes_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_spikes(**kwargs)


# -- plot_trials -------------------------------------------------------------------------------
def test_plot_trials_mean_sem_and_heat_map_per_condition():
    n_frames = 200
    data = np.zeros((2, n_frames))
    onsets = np.array([20, 60, 100, 140])
    conditions = ["a", "b", "a", "b"]
    for k, onset in enumerate(onsets):
        data[1, onset: onset + 10] = 1.0 + k  # neuron 1 responds, growing
    plot = plot_trials(data, onsets, conditions, bin_duration=0.1, pre=10, post=30, neuron=1)
    assert plot.conditions == ["a", "b"]
    np.testing.assert_allclose(plot.mean_lines[0].get_xdata(), (np.arange(40) - 10) * 0.1)
    windows = np.stack([data[1, o - 10: o + 30] for o in onsets])
    np.testing.assert_allclose(plot.mean_lines[0].get_ydata(), windows[[0, 2]].mean(0))
    np.testing.assert_allclose(plot.mean_lines[1].get_ydata(), windows[[1, 3]].mean(0))
    sem_a = windows[[0, 2]].std(0, ddof=1) / np.sqrt(2)
    np.testing.assert_allclose(plot.sems[0], sem_a)
    np.testing.assert_array_equal(plot.trial_order, [0, 2, 1, 3])
    np.testing.assert_allclose(plot.image.get_array(), windows[[0, 2, 1, 3]])
    assert plot.axes[1].get_xlabel() == "Time from onset (s)"
    assert plot.axes[0].get_ylabel() == "Firing Rate (Hz)"
    press(plot, "left")
    assert plot.neuron == 0
    np.testing.assert_allclose(plot.mean_lines[0].get_ydata(), 0.0)
    assert "Neuron 0" in plot.axes[0].get_title(loc="left")


def test_plot_trials_edges_are_nan_and_default_window():
    data = np.arange(100.0)[None, :]
    plot = plot_trials(data, [2, 52], slider=False)
    assert plot.pre == 12 and plot.post == 38  # quarter of the 50-frame interval before
    windows = plot.windows(0)
    assert np.isnan(windows[0, :10]).all()
    np.testing.assert_allclose(windows[0, 10:], np.arange(0, 40))
    assert plot.conditions == ["all trials"]
    assert plot.axes[1].get_xlabel() == "Frames from onset"


def test_plot_trials_tensor_input():
    rng = np.random.default_rng(3)
    tensor = rng.normal(size=(6, 3, 25))
    plot = plot_trials(None, tensor, [0, 1, 2, 0, 1, 2], pre=5, neuron=2)
    np.testing.assert_allclose(plot.mean_lines[1].get_ydata(), tensor[[1, 4], 2].mean(0))
    np.testing.assert_allclose(plot.mean_lines[0].get_xdata(), np.arange(25) - 5)
    with pytest.raises(ValueError, match="neurons"):
        plot_trials(np.ones((4, 10)), tensor)


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.ones((2, 50)), [5, 20], ["a"]), "trial_conditions"),
        ((np.ones((2, 50)), [5, 20], ["a", "b", "c"]), "trial_conditions"),
        ((np.ones((2, 50)), []), "empty"),
        ((np.ones((2, 50)), [5, 60]), "outside"),
        ((np.ones((2, 50)), [5.5]), "whole"),
        ((np.zeros((2, 0)), [1]), "frames"),
        ((np.ones((2, 50)), np.ones((2, 2))), "tensor"),
    ],
)
def test_plot_trials_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        plot_trials(*args)


# -- saving ------------------------------------------------------------------------------------
def test_save_png_has_requested_size_and_is_not_blank(traces, tmp_path):
    plot = plot_traces(traces, figsize=(4.0, 3.0), dpi=50)
    path = plot.save(tmp_path / "one.png")
    image = read_png(path)
    assert image.shape[:2] == (150, 200)
    assert image[..., :3].var() > 1e-4
    assert plot.slider.ax.get_visible()  # hidden only while saving
    with pytest.raises(FileExistsError):
        plot.save(path)
    plot.save(path, overwrite=True, dpi=100)
    assert read_png(path).shape[:2] == (300, 400)


def test_save_svg(traces, tmp_path):
    plot = plot_spikes(traces=traces, spike_times=traces > 1.3)
    path = plot.save(tmp_path / "spikes.svg")
    assert "<svg" in path.read_text()[:2000]


def test_save_all_one_image_per_neuron(traces, tmp_path, capsys):
    plot = plot_traces(traces, figsize=(3, 2), dpi=40)
    plot.set_neuron(2)
    paths = plot.save_all(tmp_path / "out", progress=True)
    assert [p.name for p in paths] == [f"neuron_{k:04d}.png" for k in range(6)]
    assert plot.neuron == 2
    np.testing.assert_array_equal(plot.lines[0].get_ydata(), traces[2])
    images = [read_png(p) for p in paths]
    assert all(im.shape[:2] == (80, 120) for im in images)
    assert not np.array_equal(images[0], images[1])  # each file shows its own neuron
    assert "saving" in capsys.readouterr().err  # tqdm bar
    assert not list((tmp_path / "out").glob(".*"))  # no temporary leftovers
    with pytest.raises(FileExistsError, match="overwrite"):
        plot.save_all(tmp_path / "out", progress=False)
    svgs = plot.save_all(tmp_path / "svg", progress=False, fmt="svg", neurons=[1, 3])
    assert [p.name for p in svgs] == ["neuron_0001.svg", "neuron_0003.svg"]
    with pytest.raises(ValueError, match="format"):
        plot.save_all(tmp_path / "x", fmt="doc")


def test_show_true_calls_pyplot_show(traces, monkeypatch):
    import matplotlib.pyplot as plt

    calls = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append(k))
    plot_traces(traces, show=True)
    assert calls == [{"block": None}]


def test_style_is_not_applied_globally(traces):
    before = dict(matplotlib.rcParams)
    plot_traces(traces)
    iv.traces_figure(traces)
    assert dict(matplotlib.rcParams) == before


# -- static figures ----------------------------------------------------------------------------
def test_static_figures_are_headless_and_saved_atomically(traces, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    open_before = plt.get_fignums()
    rng = np.random.default_rng(2)
    frame = rng.normal(size=(32, 32))
    events = [np.array([1, 50]), np.array([], int), np.array([7])]
    figures = {
        "traces": iv.traces_figure([traces * 100, traces], 30.0, neurons=[0, 3],
                                   labels=["F", "ΔF/F0"], title="t"),
        "overlay": iv.traces_figure(traces, mode="overlay"),
        "hist": iv.histogram_figure(rng.normal(size=50), x_label="noise",
                                    markers={"median": 0.0}),
        "raster": iv.raster_figure(events, 10.0, n_frames=120),
        "frames": iv.frames_figure(frame, frame * 0.5),
        "stim": iv.stimulus_figure(np.arange(100) / 100, np.sin(np.arange(100)),
                                   np.arange(0, 1, 0.1)),
    }
    assert plt.get_fignums() == open_before
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        path = iv.save_figure(fig, tmp_path / f"{name}.png")
        image = read_png(path)
        width, height = fig.get_size_inches() * fig.dpi
        assert image.shape[:2] == (round(height), round(width))
        assert image[..., :3].var() > 1e-4, name
    assert len(figures["traces"].axes) == 4
    np.testing.assert_array_equal(figures["traces"].axes[2].lines[0].get_ydata(), traces[3] * 100)
    raster = figures["raster"].axes[0].collections
    np.testing.assert_allclose(raster[0].get_positions(), [0.1, 5.0])
    assert len(raster[1].get_positions()) == 0
    with pytest.raises(FileExistsError):
        iv.save_figure(figures["hist"], tmp_path / "hist.png")


def test_spikes_and_trials_figures_are_static_counterparts(traces, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    open_before = plt.get_fignums()
    frames = [np.array([3, 40]), [], [7], [0], [5], [60]]
    fig = iv.spikes_figure(np.abs(traces - 1), frames, traces, 10.0, neuron=0,
                           figsize=(5, 3), dpi=40)
    trial_fig = iv.trials_figure(traces, [10, 50, 90], ["a", "b", "a"], neuron=4, pre=5,
                                 post=20)
    assert plt.get_fignums() == open_before
    assert isinstance(fig, Figure) and isinstance(trial_fig, Figure)
    ax = fig.axes[0]
    assert "Neuron 0" in ax.get_title(loc="left") and len(fig.axes) == 1  # no slider
    np.testing.assert_allclose(ax.collections[0].get_positions(), [0.3, 4.0])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), traces[0])
    windows = np.stack([traces[4, o - 5: o + 20] for o in (10, 90)])
    np.testing.assert_allclose(trial_fig.axes[0].lines[0].get_ydata(), windows.mean(0),
                               rtol=1e-6)
    image = read_png(iv.save_figure(fig, tmp_path / "spikes.png"))
    assert image.shape[:2] == (120, 200) and image[..., :3].var() > 1e-4


def test_traces_figure_columns_window_styles_into_subfigure(traces, tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=(3, 1))
    drawn = iv.traces_figure(
        [traces, traces + 1, traces * 2], 10.0, neurons=[1, 4], columns=[0, 0, 1],
        frames=(20, 50), labels=["F", "F0", "dF"], column_titles=["raw", "ΔF/F0"],
        line_styles=[None, {"color": "black", "linestyle": "--"}, {"linewidth": 2.0}],
        figure=left,
    )
    iv.histogram_figure(traces.mean(axis=1), figure=right)
    assert drawn is left and len(left.axes) == 4 and len(right.axes) == 1
    top_left, top_right = left.axes[0], left.axes[1]
    assert len(top_left.lines) == 2 and len(top_right.lines) == 1
    np.testing.assert_allclose(top_left.lines[0].get_xdata(), np.arange(20, 50) / 10.0)
    np.testing.assert_array_equal(top_left.lines[1].get_ydata(), traces[1, 20:50] + 1)
    np.testing.assert_array_equal(left.axes[3].lines[0].get_ydata(), traces[4, 20:50] * 2)
    assert top_left.lines[1].get_linestyle() == "--"
    assert top_right.lines[0].get_linewidth() == 2.0
    assert top_left.get_title() == "raw" and top_left.get_legend() is not None
    image = read_png(iv.save_figure(right, tmp_path / "composite.png", dpi=50))
    assert image.shape[:2] == (200, 400)
    with pytest.raises(ValueError, match="columns"):
        iv.traces_figure([traces, traces], columns=[0, 2])
    with pytest.raises(ValueError, match="columns"):
        iv.traces_figure([traces, traces], columns=[0])
    with pytest.raises(ValueError, match="selects no frames"):
        iv.traces_figure(traces, frames=(50, 50))
    with pytest.raises(ValueError, match="line_styles"):
        iv.traces_figure(traces, line_styles=[None, None])
    with pytest.raises(TypeError, match="Figure"):
        iv.traces_figure(traces, figure="nope")


def test_static_figure_bad_input(traces):
    with pytest.raises(ValueError, match="shape"):
        iv.frames_figure(np.ones((4, 4)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="samples"):
        iv.stimulus_figure(np.arange(5), np.ones(6))
    with pytest.raises(ValueError, match="finite"):
        iv.histogram_figure([np.nan])
    with pytest.raises(ValueError, match="out of range"):
        iv.traces_figure(traces, neurons=[10])
    with pytest.raises(ValueError, match="frames"):
        iv.raster_figure([[5]], n_frames=3)


# -- a real interactive backend ----------------------------------------------------------------
_TK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import matplotlib
    matplotlib.use("TkAgg")
    import matplotlib.pyplot as plt
    from CalSciPy.interactive_visuals import plot_traces

    out = sys.argv[1]
    traces = np.sin(np.linspace(0, 20, 300))[None, :] * np.arange(1, 6)[:, None]
    plot = plot_traces(traces, frame_rate=30.0, figsize=(6, 4), dpi=80)
    plt.show(block=False)
    plt.pause(0.5)
    widget = plot.figure.canvas.get_tk_widget()
    widget.focus_force()
    plt.pause(0.2)
    widget.event_generate("<KeyPress>", keysym="Right", when="now")
    widget.event_generate("<KeyPress>", keysym="3", when="now")
    widget.event_generate("<KeyPress>", keysym="Return", when="now")
    plt.pause(0.5)
    result = {
        "backend": matplotlib.get_backend(),
        "neuron": plot.neuron,
        "ydata_matches": bool(np.allclose(plot.lines[0].get_ydata(), traces[plot.neuron])),
    }
    try:
        from PIL import ImageGrab
        shot = ImageGrab.grab(xdisplay=None)
        shot.save(out + "/screen.png")
        result["screenshot"] = "screen"
    except Exception as err:  # Pillow without XCB: fall back to the canvas' own pixels
        result["grab_error"] = repr(err)
        plot.figure.savefig(out + "/screen.png")
        result["screenshot"] = "canvas"
    plt.close("all")
    print(json.dumps(result))
    """
)


def _tk_available() -> str | None:
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (apt-get install xvfb)"
    try:
        import tkinter  # noqa: F401
    except ImportError as err:
        return f"tkinter is not available: {err}"
    return None


@pytest.mark.slow
def test_tkagg_on_virtual_display_keys_and_screenshot(tmp_path):
    reason = _tk_available()
    if reason:
        pytest.skip(reason)
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            display = pipe.readline().strip()
        if not display:
            pytest.skip("Xvfb did not start")
        env = dict(os.environ, DISPLAY=f":{display}", MPLBACKEND="TkAgg")
        script = tmp_path / "tk_run.py"
        script.write_text(_TK_SCRIPT)
        run = subprocess.run(
            [sys.executable, str(script), str(tmp_path)], env=env, capture_output=True,
            text=True, timeout=120,
        )
        if run.returncode != 0 and "TclError" in run.stderr and "display" in run.stderr:
            pytest.skip(f"Tk could not open the virtual display: {run.stderr[-300:]}")
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    assert result["backend"].lower() == "tkagg"
    assert result["neuron"] == 3  # → moved to 1, then "3" + Enter jumped to 3
    assert result["ydata_matches"]
    screenshot = read_png(tmp_path / "screen.png")
    assert screenshot[..., :3].var() > 1e-4


def test_non_ascii_digit_keys_are_not_typed_numbers(traces):
    # "²".isdigit() is True but int("²") fails: it used to crash the key callback on Enter
    plot = plot_traces(traces, slider=False)
    press(plot, "²", "enter", "3", "enter")
    assert plot.neuron == 3
    np.testing.assert_array_equal(plot.lines[0].get_ydata(), traces[3])


def test_plot_trials_repeated_single_onset_uses_rest_of_recording():
    data = np.arange(100, dtype=float)[None].repeat(2, axis=0)
    plot = plot_trials(data, [20, 20])  # used to crash: min of an empty diff
    assert (plot.pre, plot.post) == (20, 60)  # quarter of the 80 frames left, before onset
    np.testing.assert_allclose(plot.mean_lines[0].get_ydata(), np.arange(0, 80))


def test_plot_trials_clear_messages_for_missing_data_and_bad_bin_duration():
    with pytest.raises(ValueError, match="data .* is required"):
        plot_trials(None, [10, 20])
    with pytest.raises(ValueError, match="bin_duration must be a finite number of seconds"):
        plot_trials(np.ones((2, 50)), [5, 20], bin_duration=0)


def test_plot_spikes_one_neuron_binary_row_is_not_read_as_frame_numbers():
    # a 1-D 0/1 spike vector next to a 1-D trace used to be drawn as ticks at frames 0 and 1
    trace = np.random.default_rng(4).normal(size=100)
    row = np.zeros(100, dtype=np.int64)
    row[[10, 50, 70]] = 1
    for spikes in (row, row.astype(bool), np.array([10, 50, 70])):
        plot = plot_spikes(traces=trace, spike_times=spikes, slider=False)
        np.testing.assert_array_equal(plot.events.get_positions(), [10, 50, 70])
    only = plot_spikes(spike_times=row.astype(bool), slider=False)  # no trace: bool = row
    np.testing.assert_array_equal(only.events.get_positions(), [10, 50, 70])
    assert only.n_frames == 100
    with pytest.raises(ValueError, match="frames"):
        plot_spikes(traces=trace, spike_times=row[:99].astype(bool))


def test_plot_spikes_matrix_alone_spans_the_whole_recording():
    matrix = np.zeros((2, 90), dtype=bool)
    matrix[0, [5, 20]] = True
    plot = plot_spikes(spike_times=matrix, frame_rate=30.0, slider=False)
    assert plot.n_frames == 90  # used to end at the last spike (frame 21)
    assert plot.axes[0].get_xlim() == pytest.approx((0.0, 89 / 30.0))


def test_import_and_static_figures_leave_the_backend_unselected(tmp_path):
    # the user's (or Jupyter's) backend choice must stay open: no matplotlib.use(), no pyplot
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import matplotlib
        import CalSciPy.coloring, CalSciPy.interactive_visuals as iv
        iv.save_figure(iv.traces_figure(np.ones((2, 10))), {str(tmp_path / "f.png")!r})
        assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
        getter = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
        assert getter is None or getter() is None, f"backend forced: {{getter()}}"
    """)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert (tmp_path / "f.png").stat().st_size > 0


def test_plot_trials_missing_condition_labels_form_one_condition():
    data = np.arange(200, dtype=float).reshape(2, 100)
    plot = plot_trials(data, [10, 40, 70], np.array([np.nan, 1.0, np.nan]), pre=0, post=5)
    # used to be three conditions (NaN != NaN), two of them named "nan"
    assert len(plot.conditions) == 2 and np.isnan(plot.conditions[0])
    np.testing.assert_array_equal(plot.trial_order, [0, 2, 1])
    np.testing.assert_allclose(plot.mean_lines[0].get_ydata(), np.arange(40, 45))
    with_none = plot_trials(data, [10, 40, 70], ["a", None, None], pre=0, post=5)
    assert len(with_none.conditions) == 2


def test_plot_trials_window_must_be_whole_frames_and_fit_a_tensor():
    data = np.ones((2, 100))
    with pytest.raises(ValueError, match="pre must be a whole number"):
        plot_trials(data, [10, 40], pre=2.5)  # used to be truncated to 2 silently
    with pytest.raises(ValueError, match="post must be a whole number"):
        plot_trials(data, [10, 40], post=np.nan)
    assert plot_trials(data, [10, 40], pre=2.0, post=np.int64(5)).x.size == 7
    tensor = np.zeros((3, 2, 20))
    with pytest.raises(ValueError, match="does not fit the trial tensor"):
        plot_trials(None, tensor, pre=5, post=10)  # used to be ignored
    assert plot_trials(None, tensor, pre=5, post=15).post == 15


def test_navigation_clears_a_half_typed_number_and_its_prompt(traces):
    plot = plot_traces(traces)
    press(plot, "4")
    assert plot._status.get_text() == "go to neuron: 4"
    press(plot, "right")  # the prompt used to stay on screen, stale
    assert plot.neuron == 1 and plot._status.get_text() == ""
    press(plot, "9", "enter")
    assert "no neuron 9" in plot._status.get_text()
    plot.slider.set_val(3)
    assert plot.neuron == 3 and plot._status.get_text() == ""
    press(plot, "2", "pagedown", "enter")  # the typed 2 is gone: Enter does nothing
    assert plot.neuron == 5
