"""plot_rois, SyntheticMovie.rois and ROI ids in the browsers."""
from __future__ import annotations

import numpy as np
import pytest

from CalSciPy._visuals.traces import TracePlot
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError
from CalSciPy.roi_tools import ROI, ROISet, neuropil_masks, plot_rois
from CalSciPy.synthetic.movies import generate_movie


def test_plot_rois_labels_every_id_and_draws_contours():
    labels = np.zeros((40, 50), int)
    labels[5:10, 5:12] = 3
    labels[25:32, 30:36] = 11
    rois = ROISet.from_labels(labels)
    ax = plot_rois(rois, np.random.default_rng(0).random((40, 50)), managed=False)
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert set(texts) == {"3", "11"}
    # each label sits at the ROI's centroid, in (x, y) = (col, row) plot coordinates
    assert texts["11"] == pytest.approx((rois.by_id(11).centroid[1], rois.by_id(11).centroid[0]))
    (collection,) = ax.collections
    assert len(collection.get_segments()) == 2
    ax = plot_rois(rois, neuropil=neuropil_masks(rois, min_neuropil_pixels=50), managed=False,
                   labels=False)
    assert len(ax.collections) == 2 and not ax.texts
    ax = plot_rois(rois, neuropil=True, managed=False)
    assert len(ax.collections) == 2
    with pytest.raises(InvalidArgumentError, match="image has shape"):
        plot_rois(rois, np.zeros((4, 4)))
    with pytest.raises(InvalidArgumentTypeError, match="ROISet"):
        plot_rois([ROI([0], [0], id=0)])
    with pytest.raises(InvalidArgumentTypeError, match="numeric"):
        plot_rois(rois, np.full(rois.shape, "a"))
    with pytest.raises(InvalidArgumentTypeError, match="neuropil must be an ROISet"):
        plot_rois(rois, neuropil="yes")
    with pytest.raises(InvalidArgumentError, match="neuropil masks are on 3×3"):
        plot_rois(rois, neuropil=ROISet([ROI([0], [0], id=0)], (3, 3)))


def test_synthetic_movie_rois_are_its_footprints():
    m = generate_movie(20, (64, 64), 5, seed=2)
    rois = m.rois
    assert rois.ids.tolist() == [0, 1, 2, 3, 4] and rois.shape == (64, 64)
    for i, roi in enumerate(rois):
        assert np.array_equal(roi.mask((64, 64)), m.masks[i])
        assert np.array_equal(roi.lam, m.footprints[i][m.masks[i]].astype(np.float64))
        assert roi.centroid == pytest.approx(tuple(m.centroids[i]), abs=1.0)


def test_browsers_show_roi_ids(tmp_path):
    traces = np.random.default_rng(0).random((3, 30))
    rois = ROISet([ROI([i], [i], id=i * 7 + 2) for i in range(3)], (4, 4))
    plot = TracePlot(traces, ids=rois, interactive=False)
    assert plot.title.startswith("ROI 2 ")
    plot.set_neuron(2)
    assert plot.axes[0].get_title(loc="left").startswith("ROI 16 ")
    names = [p.name for p in plot.save_all(tmp_path, progress=False)]
    assert names == ["roi_0002.png", "roi_0009.png", "roi_0016.png"]
    assert [p.name for p in TracePlot(traces, interactive=False).save_all(
        tmp_path / "rows", progress=False)] == ["neuron_0000.png", "neuron_0001.png",
                                                 "neuron_0002.png"]
    with pytest.raises(ValueError, match="3 neurons"):
        TracePlot(traces, ids=[1, 2], interactive=False)
    with pytest.raises(ValueError, match="unique"):
        TracePlot(traces, ids=[1, 1, 2], interactive=False)


def test_plot_functions_take_ids_and_stacked_y_labels(tmp_path):
    from CalSciPy.interactive_visuals import plot_spikes, plot_traces, plot_trials

    rng = np.random.default_rng(1)
    raw = rng.random((2, 60))
    plot = plot_traces([raw, raw * 2], mode="stacked", y_label=["F (a.u.)", "ΔF/F0"],
                       ids=[40, 41])
    assert [ax.get_ylabel() for ax in plot.axes] == ["F (a.u.)", "ΔF/F0"]
    assert plot.title.startswith("ROI 40 ")
    plot.close()
    with pytest.raises(ValueError, match="stacked"):
        plot_traces([raw, raw], mode="overlay", y_label=["a", "b"])
    with pytest.raises(ValueError, match="y_label"):
        plot_traces([raw, raw], mode="stacked", y_label=["a", "b", "c"])
    spikes = plot_spikes(spike_prob=raw, traces=raw, ids=np.array([7, 8]))
    assert spikes.title.startswith("ROI 7 ")
    spikes.close()
    trials = plot_trials(raw, np.array([10, 30]), ids=[3, 5])
    trials.set_neuron(1)
    assert trials.title.startswith("ROI 5 ")
    trials.close()
