"""Tests of the trial plots: onsets on traces and rasters, the sorted heat map, frame limits."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from CalSciPy import interactive_visuals as iv  # noqa: E402


def _onset_positions(ax):
    marks = [c for c in ax.collections if c.get_gid() == "onsets"]
    assert len(marks) <= 1  # one artist for all onsets
    if not marks:
        return []
    return sorted(float(segment[0, 0]) for segment in marks[0].get_segments())


def test_onsets_are_dashed_lines_on_every_trace_panel_and_in_the_window_only():
    traces = np.random.default_rng(0).normal(size=(3, 300))
    fig = iv.traces_figure([traces, traces * 2], 30.0, neurons=[0, 2], frames=(0, 150),
                           onsets=[1.0, 4.0, 7.0])
    assert len(fig.axes) == 4
    for ax in fig.axes:  # 7 s is outside the 0–5 s window
        assert _onset_positions(ax) == [1.0, 4.0]


def test_trace_browser_and_raster_mark_onsets():
    plot = iv.plot_traces(np.zeros((2, 100)), 10.0, onsets=[2.5])
    assert _onset_positions(plot.axes[0]) == [2.5]
    plot.set_neuron(1)  # the marks stay while browsing
    assert _onset_positions(plot.axes[0]) == [2.5]
    plot.close()
    spikes = iv.plot_spikes(spike_times=[np.array([3, 40])], frame_rate=10.0, onsets=[1.0, 2.0])
    assert _onset_positions(spikes.axes[0]) == [1.0, 2.0]
    spikes.close()
    fig = iv.raster_figure([np.array([3, 40]), np.array([10])], 10.0, n_frames=100,
                           onsets=[0.5, 6.0], labels=[17, 42])
    ax = fig.axes[0]
    assert _onset_positions(ax) == [0.5, 6.0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["17", "42"]
    with pytest.raises(ValueError, match="NaN"):
        iv.raster_figure([np.array([1])], 10.0, n_frames=10, onsets=[np.nan])


def test_heat_map_rows_are_sorted_by_response_per_condition():
    time = np.arange(-5, 10) / 5.0
    average = np.zeros((2, 4, time.size))
    average[0, :, time >= 0] = np.array([0.1, 0.5, -0.2, 0.3])  # condition a
    average[1, :, time >= 0] = np.array([0.0, -1.0, 2.0, 1.0])  # condition b
    fig = iv.trial_heatmap_figure(average, time, titles=["a", "b"], labels=[10, 11, 12, 13])
    np.testing.assert_array_equal(fig.calscipy_orders[0], [1, 3, 0, 2])
    np.testing.assert_array_equal(fig.calscipy_orders[1], [2, 3, 0, 1])
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(image[:, -1], [0.5, 0.3, 0.1, -0.2])  # top row responds most
    assert fig.axes[0].get_title() == "a"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["11", "13", "10", "12"]
    with pytest.raises(ValueError, match="time_s"):
        iv.trial_heatmap_figure(average, time[:-1])


def test_frames_figure_panels_have_their_own_limits_unless_shared():
    dim = np.arange(100.0).reshape(10, 10)
    fig = iv.frames_figure(dim, dim * 100)
    lows_highs = [ax.images[0].get_clim() for ax in fig.axes if ax.images][:2]
    assert lows_highs[1][1] == pytest.approx(100 * lows_highs[0][1])
    shared = iv.frames_figure(dim, dim * 100, shared_limits=True)
    clims = [ax.images[0].get_clim() for ax in shared.axes if ax.images][:2]
    assert clims[0] == clims[1]
