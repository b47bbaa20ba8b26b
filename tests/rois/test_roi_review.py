"""Review findings: each test pins a defect found when attacking roi_tools with unusual input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from s2p_reference import reference_extract, reference_neuropil, stats_of

from CalSciPy.errors import DataFormatError, InvalidArgumentError, InvalidArgumentTypeError
from CalSciPy.roi_tools import ROI, ROISet, extract_traces, load_caiman, neuropil_masks


def _two_plane_set():
    # plane 0: one pixel; plane 1: a large ROI right next to it and one sharing its pixel
    a = ROI([10], [10], id=0, plane=0)
    rows, cols = np.mgrid[0:20, 13:30]
    b = ROI(rows.ravel(), cols.ravel(), id=1, plane=1)
    c = ROI([10, 10], [10, 11], id=2, plane=1)
    return ROISet([a, b, c], (30, 30))


def test_other_planes_do_not_shape_neuropil_or_overlap():
    # suite2p computes overlap and cell pixels plane by plane: an ROI of plane 1 is no cell
    # in plane 0's image
    both = _two_plane_set()
    assert not both[0].overlap.any() and not both[2].overlap.any()
    alone = ROISet([ROI([10], [10], id=0)], (30, 30))
    kwargs = dict(inner_radius=1, min_neuropil_pixels=50, lam_percentile=0)
    ref = reference_neuropil(stats_of(alone), 30, 30, **kwargs)[0]
    (sel,) = neuropil_masks(both.select(plane=0), **kwargs)
    assert np.array_equal(np.sort(sel.ypix * 30 + sel.xpix), ref)
    # the set of both planes gives each ROI its own plane's masks
    masks = neuropil_masks(both, **kwargs)
    assert np.array_equal(np.sort(masks.by_id(0).ypix * 30 + masks.by_id(0).xpix), ref)
    plane1 = ROISet([both[1], both[2]], (30, 30))
    expected = neuropil_masks(plane1, **kwargs)
    for roi_id in (1, 2):
        assert np.array_equal(masks.by_id(roi_id).mask((30, 30)),
                              expected.by_id(roi_id).mask((30, 30)))
    movie = np.random.default_rng(0).normal(size=(4, 30, 30)).astype(np.float32)
    F, Fneu = extract_traces(movie, both.select(plane=0), progress=False, **kwargs)
    F1, Fneu1 = extract_traces(movie, alone, progress=False, **kwargs)
    assert np.array_equal(F, F1) and np.array_equal(Fneu, Fneu1)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), bad=st.lists(st.tuples(st.integers(0, 23), st.integers(0, 23),
                                                         st.sampled_from([np.nan, np.inf])),
                                               min_size=1, max_size=4))
def test_non_finite_pixels_reach_only_the_traces_that_use_them(seed, bad):
    # NaN borders (motion correction) or a hot inf pixel must not turn the neuropil of ROIs
    # whose masks do not contain them into NaN
    rng = np.random.default_rng(seed)
    labels = np.zeros((24, 24), int)
    for k in range(1, 4):
        r, c = rng.integers(2, 20, 2)
        labels[r:r + 2, c:c + 2] = k
    rois = ROISet.from_labels(labels)
    movie = rng.normal(100, 5, (5, 24, 24))
    for r, c, value in bad:
        movie[int(rng.integers(0, 5)), r, c] = value
    kwargs = dict(inner_radius=1, min_neuropil_pixels=40, lam_percentile=0)
    stats = stats_of(rois)
    ref_np = reference_neuropil(stats, 24, 24, **kwargs)
    with np.errstate(invalid="ignore"):
        F_ref, Fneu_ref = reference_extract(movie, stats, ref_np)
    F, Fneu = extract_traces(movie, rois, progress=False, batch_frames=2, **kwargs)
    np.testing.assert_allclose(F, F_ref, rtol=1e-6)
    np.testing.assert_allclose(Fneu, Fneu_ref, rtol=1e-6)


def test_caiman_frame_rate_that_is_not_a_number_names_the_file(tmp_path):
    h5py = pytest.importorskip("h5py")
    for bad in ("abc", np.array([1.0, 2.0])):
        path = tmp_path / "cnm.hdf5"
        with h5py.File(path, "w") as f:
            f["estimates/A/data"] = np.ones(2)
            f["estimates/A/indices"] = np.array([0, 5])
            f["estimates/A/indptr"] = np.array([0, 1, 2])
            f["estimates/A/shape"] = np.array([16, 2])
            f["estimates/dims"] = np.array([4, 4])
            f["params/data/fr"] = bad
        with pytest.raises(DataFormatError, match="cnm.hdf5.*fr"):
            load_caiman(path)


def test_neuropil_masks_when_no_roi_has_neuropil_names_the_settings():
    rois = ROISet([ROI([2], [2], id=0), ROI([0], [4], id=1)], (5, 5))
    with pytest.raises(InvalidArgumentError, match="no ROI has a neuropil pixel.*inner_radius=9"):
        neuropil_masks(rois, inner_radius=9, lam_percentile=0)
    # extraction itself gives NaN rows with a warning, as documented
    with pytest.warns(RuntimeWarning, match="no neuropil"):
        _, Fneu = extract_traces(np.ones((2, 5, 5)), rois, inner_radius=9, progress=False)
    assert np.isnan(Fneu).all()


def test_root_whose_planes_differ_by_one_frame_says_how_to_read_it(tmp_path):
    from test_roi_suite2p import write_plane

    from CalSciPy.roi_tools import load_suite2p

    rng = np.random.default_rng(1)
    write_plane(tmp_path / "suite2p" / "plane0", rng, frames=26)
    write_plane(tmp_path / "suite2p" / "plane1", rng, frames=25)
    with pytest.raises(DataFormatError, match=r"\[25, 26\].*plane="):
        load_suite2p(tmp_path / "suite2p")
    assert load_suite2p(tmp_path / "suite2p", plane=1).F.shape[1] == 25


def test_plane_of_a_root_holding_only_combined_is_not_ignored(tmp_path):
    from test_roi_suite2p import write_plane

    from CalSciPy.roi_tools import load_suite2p

    write_plane(tmp_path / "suite2p" / "combined", np.random.default_rng(2))
    with pytest.raises(InvalidArgumentError, match="no plane0 folder, only combined"):
        load_suite2p(tmp_path / "suite2p", plane=0)


def _rss_file_kib():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssFile:"):
                    return int(line.split()[1])
    except OSError:
        pass
    pytest.skip("needs Linux /proc/self/status RssFile")


def test_reading_data_bin_keeps_its_pages_out_of_resident_memory(tmp_path):
    from CalSciPy.roi_tools import load_suite2p_binary

    ly = lx = 128
    frames = 1024  # 32 MiB of int16
    np.save(tmp_path / "ops.npy", {"Ly": ly, "Lx": lx, "nframes": frames}, allow_pickle=True)
    data = np.memmap(tmp_path / "data.bin", dtype="<i2", mode="w+", shape=(frames, ly, lx))
    data[:] = np.arange(frames, dtype=np.int16)[:, None, None]
    data.flush()
    del data
    stack = load_suite2p_binary(tmp_path)
    rois = ROISet([ROI([3], [4], id=0)], (ly, lx))
    extract_traces(stack[:4], rois, neuropil=False, progress=False)
    before = _rss_file_kib()
    F, _ = extract_traces(stack, rois, neuropil=False, progress=False, batch_frames=64)
    grown = _rss_file_kib() - before
    assert np.array_equal(F[0], np.arange(frames))
    assert grown < 12 * 1024, f"data.bin pages stayed resident: +{grown} KiB of a 32 MiB file"


@pytest.mark.parametrize("labels", [np.array([[0, 1e20]]),
                                    np.array([[0, 2**63 + 5]], dtype=np.uint64)])
def test_label_values_too_large_for_int64_ids_are_refused(labels):
    # were cast with wrap-around: 'labels must be >= 0, min -9223372036854775808' or a bare
    # OverflowError
    with pytest.raises(InvalidArgumentError, match="labels must be <= 2\\*\\*62"):
        ROISet.from_labels(labels)
    assert ROISet.from_labels(np.array([[0, 2**40]], dtype=np.uint64)).ids.tolist() == [2**40]


@pytest.mark.parametrize("field, value", [("iplane", "x"), ("iplane", 1.5), ("radius", "x"),
                                          ("radius", [1, 2])])
def test_stat_entry_with_a_non_numeric_field_is_a_format_error(field, value):
    stat = [{"ypix": [0], "xpix": [0]}, {"ypix": [1], "xpix": [1], field: value}]
    with pytest.raises(DataFormatError, match=f"stat entry 1.*{field}"):
        ROISet.from_suite2p(stat, (2, 2))


def test_stat_iplane_may_be_an_integral_float():
    stat = [{"ypix": [0], "xpix": [0], "iplane": 2.0}]
    assert ROISet.from_suite2p(stat, (2, 2)).planes.tolist() == [2]


def test_roi_radius_of_wrong_type():
    with pytest.raises(InvalidArgumentTypeError, match="radius must be a number"):
        ROI([0], [0], id=0, radius="big")


def test_from_caiman_of_strings_and_empty_id_selection():
    with pytest.raises(InvalidArgumentTypeError, match="A must hold real numbers"):
        ROISet.from_caiman(np.full((4, 1), "a"), (2, 2))
    rois = ROISet([ROI([0], [0], id=3)], (2, 2))
    with pytest.raises(InvalidArgumentError, match="ids is empty"):
        rois.select(ids=[])  # was 'ids must be integers ..., got dtype float64'


def test_roiset_masks_keep_pixels_of_weight_zero():
    roi = ROI([0, 0, 1], [0, 1, 1], [1.0, 0.0, 2.0], id=5)
    rois = ROISet([roi, ROI([2], [2], id=6)], (3, 3))
    assert np.array_equal(rois.masks()[0], roi.mask((3, 3)))
    assert rois.masks().sum() == 4
