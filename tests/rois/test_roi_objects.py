"""ROI and ROISet: coordinates, derived properties, constructors, selection, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse

from CalSciPy.errors import DataFormatError, InvalidArgumentError, InvalidArgumentTypeError
from CalSciPy.roi_tools import ROI, ROISet


def test_roi_row_col_convention_and_derived_properties():
    # an L of 4 pixels: rows 2..4 at column 5, plus (4, 6)
    roi = ROI([2, 3, 4, 4], [5, 5, 5, 6], id=17, plane=1)
    assert roi.id == 17 and roi.plane == 1 and roi.npix == 4
    assert roi.lam.tolist() == [1, 1, 1, 1]
    assert roi.centroid == pytest.approx((13 / 4, 21 / 4))
    assert roi.bbox == (2, 5, 5, 7)
    mask = roi.mask((8, 9))
    assert mask.shape == (8, 9) and mask.sum() == 4
    assert mask[2, 5] and mask[4, 6] and not mask[5, 2]
    weights = ROI([0, 1], [0, 1], [2.0, 6.0], id=0).weights_image((2, 2))
    assert weights.tolist() == [[2.0, 0.0], [0.0, 6.0]]
    assert ROI([0, 1], [0, 1], [2.0, 6.0], id=0).centroid == pytest.approx((0.75, 0.75))


def test_roi_radius_is_suite2p_definition():
    # 2 · sqrt(largest eigenvalue of the weighted covariance): a horizontal bar of 5 pixels has
    # column variance 2 and row variance 0 -> radius 2·sqrt(2)
    bar = ROI([3] * 5, [0, 1, 2, 3, 4], id=0)
    assert bar.radius == pytest.approx(2 * np.sqrt(2.0))
    assert ROI([1], [1], id=0).radius == 0.0
    assert ROI([1], [1], id=0, radius=4.5).radius == 4.5


def test_contour_encloses_the_pixels():
    from matplotlib.path import Path

    rows, cols = np.nonzero(np.pad(np.ones((3, 4), bool), 2))
    roi = ROI(rows, cols, id=0)
    (line,) = roi.contour()
    path = Path(line)
    inside = path.contains_points(np.column_stack([rows, cols]))
    assert inside.all()
    assert not path.contains_points([[0.0, 0.0], [rows.max() + 1.0, cols.max() + 1.0]]).any()
    # a ring has an outer and an inner boundary
    ring = np.ones((5, 5), bool)
    ring[2, 2] = False
    assert len(ROI(*np.nonzero(ring), id=1).contour()) == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"ypix": [], "xpix": []}, "no pixels"),
    ({"ypix": [0, 1], "xpix": [0]}, "differ in length"),
    ({"ypix": [-1], "xpix": [0]}, "negative"),
    ({"ypix": [0.5], "xpix": [0]}, "whole numbers"),
    ({"ypix": [1, 1], "xpix": [2, 2]}, "more than once"),
    ({"ypix": [0], "xpix": [0], "lam": [np.nan]}, "finite"),
    ({"ypix": [0], "xpix": [0], "lam": [0.0]}, "positive sum"),
    ({"ypix": [0], "xpix": [0], "lam": [1.0, 2.0]}, "shape"),
])
def test_roi_bad_input(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        ROI(id=3, **kwargs)


def test_roi_id_must_be_integer():
    with pytest.raises(InvalidArgumentTypeError, match="id"):
        ROI([0], [0], id=1.5)
    with pytest.raises(InvalidArgumentTypeError, match="id"):
        ROI([0], [0], id=True)


def test_roiset_basics_weights_and_overlap():
    a = ROI([0, 0, 1], [0, 1, 1], [1.0, 2.0, 3.0], id=10)
    b = ROI([1, 2], [1, 2], id=20)  # shares pixel (1, 1) with a
    rois = ROISet([a, b], (3, 4))
    assert len(rois) == 2 and rois.ids.tolist() == [10, 20] and rois.shape == (3, 4)
    assert [r.id for r in rois] == [10, 20] and rois[1].id == 20
    assert rois.by_id(20).npix == 2
    w = rois.weights
    assert sparse.isspmatrix_csr(w) and w.shape == (2, 12)
    assert w.toarray()[0].tolist() == [1, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0]
    assert rois.weights is w  # built once
    assert rois[0].overlap.tolist() == [False, False, True]
    assert rois[1].overlap.tolist() == [True, False]
    labels = rois.label_image()
    assert labels[0, 0] == 10 and labels[2, 2] == 20 and labels[2, 0] == -1
    assert rois.masks().sum(axis=(1, 2)).tolist() == [3, 2]


def test_roiset_select_keeps_context_and_order():
    rois = ROISet([ROI([i], [i], id=i * 10) for i in range(5)], (5, 5))
    sel = rois.select(mask=np.array([True, False, True, False, True]))
    assert sel.ids.tolist() == [0, 20, 40]
    assert sel.context is rois
    assert rois.select(ids=[40, 10]).ids.tolist() == [10, 40]  # this set's order
    assert sel.select(ids=[20]).context is rois
    with pytest.raises(InvalidArgumentError, match="no ROI with id"):
        rois.select(ids=[99])
    with pytest.raises(InvalidArgumentError, match="one per ROI"):
        rois.select(mask=np.ones(4, bool))
    with pytest.raises(InvalidArgumentError, match="keeps no ROI"):
        rois.select(mask=np.zeros(5, bool))
    with pytest.raises(InvalidArgumentTypeError, match="boolean"):
        rois.select(mask=np.ones(5))


def test_roiset_bad_input():
    with pytest.raises(InvalidArgumentError, match="at least one ROI"):
        ROISet([], (4, 4))
    with pytest.raises(InvalidArgumentError, match=r"ROI 7 lies outside the 4×4 image"):
        ROISet([ROI([4], [0], id=7)], (4, 4))
    with pytest.raises(InvalidArgumentError, match="unique"):
        ROISet([ROI([0], [0], id=1), ROI([1], [1], id=1)], (4, 4))
    with pytest.raises(InvalidArgumentError, match="shape"):
        ROISet([ROI([0], [0], id=1)], (4, 0))
    with pytest.raises(InvalidArgumentTypeError, match="ROI objects"):
        ROISet([np.zeros(3)], (4, 4))


def test_from_suite2p_honours_stat_overlap_and_radius():
    stat = [{"ypix": np.array([0, 1]), "xpix": np.array([0, 0]), "lam": np.array([1., 2.]),
             "radius": 3.0, "overlap": np.array([False, True])},
            {"ypix": np.array([3]), "xpix": np.array([3]), "lam": np.array([1.0])}]
    rois = ROISet.from_suite2p(np.array(stat, dtype=object), (5, 5))
    assert rois.ids.tolist() == [0, 1]
    assert rois[0].overlap.tolist() == [False, True]  # as stored, not recomputed
    assert rois[0].radius == 3.0
    with pytest.raises(DataFormatError, match="entry 1"):
        ROISet.from_suite2p([stat[0], {"xpix": [1]}], (5, 5))
    with pytest.raises(DataFormatError, match="no ROIs"):
        ROISet.from_suite2p([], (5, 5))


def test_from_caiman_is_fortran_order():
    d1, d2 = 4, 3
    image = np.zeros((d1, d2))
    image[1, 2] = 0.5
    image[3, 0] = 2.0
    A = sparse.csc_matrix(image.reshape(-1, 1, order="F"))
    (roi,) = ROISet.from_caiman(A, (d1, d2))
    assert roi.id == 0
    assert roi.weights_image((d1, d2)).tolist() == image.tolist()
    with pytest.raises(InvalidArgumentError, match="dims"):
        ROISet.from_caiman(A, (3, 3))
    with pytest.raises(DataFormatError, match="component 1 has an empty footprint"):
        ROISet.from_caiman(sparse.hstack([A, sparse.csc_matrix((12, 1))]), (d1, d2))


def test_from_labels_and_masks_bad_input():
    with pytest.raises(InvalidArgumentError, match="2-D"):
        ROISet.from_labels(np.zeros((2, 3, 3), int))
    with pytest.raises(InvalidArgumentError, match="no ROI"):
        ROISet.from_labels(np.zeros((3, 3), int))
    with pytest.raises(InvalidArgumentError, match=">= 0"):
        ROISet.from_labels(-np.ones((3, 3), int))
    with pytest.raises(InvalidArgumentError, match="mask 1"):
        ROISet.from_masks(np.array([np.eye(3, dtype=bool), np.zeros((3, 3), bool)]))
    with pytest.raises(InvalidArgumentError, match="boolean"):
        ROISet.from_masks(np.full((1, 3, 3), 0.5))


@settings(max_examples=40, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 12), st.integers(1, 12)),
              elements=st.integers(0, 6)))
def test_from_labels_round_trip(labels):
    if not labels.any():
        with pytest.raises(InvalidArgumentError):
            ROISet.from_labels(labels)
        return
    rois = ROISet.from_labels(labels)
    assert rois.ids.tolist() == sorted(set(labels[labels > 0].tolist()))
    back = rois.label_image()
    assert np.array_equal(np.where(back < 0, 0, back), labels)
    for roi in rois:
        assert np.array_equal(roi.mask(labels.shape), labels == roi.id)
        assert not roi.overlap.any()


@settings(max_examples=40, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))))
def test_from_masks_round_trip(masks):
    if not masks.any(axis=(1, 2)).all():
        with pytest.raises(InvalidArgumentError, match="empty"):
            ROISet.from_masks(masks)
        return
    rois = ROISet.from_masks(masks)
    assert np.array_equal(rois.masks(), masks)
    count = masks.sum(axis=0)
    for k, roi in enumerate(rois):
        assert np.array_equal(roi.overlap, count[roi.ypix, roi.xpix] > 1)
        assert roi.id == k
    assert np.array_equal(np.asarray(rois.weights.sum(axis=1)).ravel(), masks.sum(axis=(1, 2)))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_from_caiman_matches_dense_reshape(data):
    d1 = data.draw(st.integers(1, 8))
    d2 = data.draw(st.integers(1, 8))
    k = data.draw(st.integers(1, 4))
    dense = data.draw(arrays(np.float64, (d1 * d2, k),
                             elements=st.sampled_from([0.0, 0.0, 0.25, 1.0, 3.0])))
    dense[0, :] = np.where(dense.any(axis=0), dense[0, :], 1.0)  # no empty component
    rois = ROISet.from_caiman(sparse.csc_matrix(dense), (d1, d2))
    for j, roi in enumerate(rois):
        assert np.array_equal(roi.weights_image((d1, d2)),
                              dense[:, j].reshape((d1, d2), order="F"))
