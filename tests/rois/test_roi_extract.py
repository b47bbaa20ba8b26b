"""extract_traces / neuropil_masks / subtract_neuropil: known answers, the suite2p-rule
reference (tests/rois/conftest.py), every movie type, bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from s2p_reference import reference_extract, reference_neuropil, stats_of

from CalSciPy._io.source import FrameSource
from CalSciPy.errors import InvalidArgumentError, InvalidArgumentTypeError
from CalSciPy.roi_tools import (
    ROI,
    ROISet,
    extract_traces,
    neuropil_masks,
    subtract_neuropil,
)
from CalSciPy.synthetic.movies import generate_movie


def test_neuropil_mask_by_hand():
    # one pixel at (10, 10) in 20×20, inner radius 1: the plus of 5 pixels is excluded and the
    # first rectangle (the plus' box 9..11 grown by 5 -> rows/cols 4..16) already has
    # 169 - 5 = 164 > 10 usable pixels
    rois = ROISet([ROI([10], [10], id=4)], (20, 20))
    (mask,) = neuropil_masks(rois, inner_radius=1, min_neuropil_pixels=10, lam_percentile=0)
    expected = np.zeros((20, 20), bool)
    expected[4:17, 4:17] = True
    expected[[10, 9, 11, 10, 10], [10, 10, 10, 9, 11]] = False
    assert mask.id == 4
    assert np.array_equal(mask.mask((20, 20)), expected)
    # in the corner the rectangle is clipped: rows/cols 0..6 minus the 3 dilated pixels
    corner = ROISet([ROI([0], [0], id=0)], (20, 20))
    (mask,) = neuropil_masks(corner, inner_radius=1, min_neuropil_pixels=10, lam_percentile=0)
    assert mask.npix == 49 - 3


def test_neuropil_grows_until_enough_pixels():
    rois = ROISet([ROI([30], [30], id=0)], (61, 61))
    for need, side in ((100, 11 + 2), (200, 21 + 2), (600, 31 + 2)):
        (mask,) = neuropil_masks(rois, inner_radius=0, min_neuropil_pixels=need,
                                 lam_percentile=0)
        # box = 1 px ± 5k; usable = box - 1 (the cell); grows while usable <= need
        k = 1
        while (1 + 10 * k) ** 2 - 1 <= need:
            k += 1
        assert mask.npix == (1 + 10 * k) ** 2 - 1
        assert side > 0


def test_fneu_and_f_known_answers():
    ly = lx = 24
    movie = np.broadcast_to(np.arange(ly * lx, dtype=np.float32).reshape(1, ly, lx),
                            (3, ly, lx)).copy()
    movie[1] *= 2
    movie[2] = 5
    roi = ROI([12, 12], [12, 13], [1.0, 3.0], id=0)
    rois = ROISet([roi], (ly, lx))
    F, Fneu = extract_traces(movie, rois, inner_radius=1, min_neuropil_pixels=20,
                             lam_percentile=0, progress=False)
    expected_f = (12 * lx + 12) * 0.25 + (12 * lx + 13) * 0.75
    assert F.dtype == np.float32 and F.shape == (1, 3)
    assert F[0].tolist() == pytest.approx([expected_f, 2 * expected_f, 5.0])
    (mask,) = neuropil_masks(rois, inner_radius=1, min_neuropil_pixels=20, lam_percentile=0)
    flat = mask.ypix * lx + mask.xpix
    assert Fneu[0].tolist() == pytest.approx([flat.mean(), 2 * flat.mean(), 5.0])


def test_overlapping_pixels_dropped_unless_allowed():
    movie = np.zeros((1, 8, 8), np.float32)
    movie[0, 2, 2], movie[0, 2, 3], movie[0, 2, 4] = 1.0, 10.0, 100.0
    a = ROI([2, 2], [2, 3], id=0)
    b = ROI([2, 2], [3, 4], id=1)  # (2, 3) shared
    rois = ROISet([a, b], (8, 8))
    F, _ = extract_traces(movie, rois, neuropil=False, progress=False)
    assert F[:, 0].tolist() == [1.0, 100.0]
    F, none = extract_traces(movie, rois, neuropil=False, allow_overlap=True, progress=False)
    assert none is None
    assert F[:, 0].tolist() == [5.5, 55.0]
    # a ROI made only of shared pixels has nothing left: NaN with a warning
    c = ROI([2], [3], id=2)
    with pytest.warns(RuntimeWarning, match="no pixel left"):
        F, _ = extract_traces(movie, ROISet([a, b, c], (8, 8)), neuropil=False, progress=False)
    assert np.isnan(F[2]).all() and np.isfinite(F[:2]).all()


def _random_rois(rng, shape, n):
    labels = np.zeros(shape, int)
    for k in range(1, n + 1):
        r, c = rng.integers(0, shape[0] - 4), rng.integers(0, shape[1] - 4)
        h, w = rng.integers(1, 5, 2)
        labels[r:r + h, c:c + w] = k
    rois = ROISet.from_labels(labels)
    # random weights, and overlapping extra ROIs, so weights and overlap both matter
    rois = [ROI(r.ypix, r.xpix, rng.uniform(0.1, 1.0, r.npix), id=r.id) for r in rois]
    r0, c0, r1, c1 = rois[0].bbox
    rows, cols = np.mgrid[r1 - 1:r1 + 1, c1 - 1:c1 + 1]  # ROI 0's bottom-right corner and more
    extra = ROI(rows.ravel(), cols.ravel(), id=1000)
    return ROISet([*rois, extra], shape)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), inner=st.integers(0, 3), need=st.integers(0, 400),
       percentile=st.sampled_from([0.0, 30.0, 50.0, 90.0]), allow=st.booleans(),
       batch=st.integers(1, 7))
def test_extract_matches_suite2p_rule_reference(seed, inner, need, percentile, allow, batch):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(12, 40)), int(rng.integers(12, 40)))
    rois = _random_rois(rng, shape, int(rng.integers(1, 6)))
    movie = rng.integers(0, 4000, (9, *shape)).astype(np.uint16)
    stats = stats_of(rois)
    ref_np = reference_neuropil(stats, *shape, inner_radius=inner, min_neuropil_pixels=need,
                                lam_percentile=percentile)
    masks = neuropil_masks(rois, inner_radius=inner, min_neuropil_pixels=need,
                           lam_percentile=percentile) if all(p.size for p in ref_np) else None
    if masks is not None:
        for got, want in zip(masks, ref_np):
            assert np.array_equal(got.ypix * shape[1] + got.xpix, want)
    if not all(p.size for p in ref_np):
        return  # a neuropil-free ROI (the whole field is cells): covered elsewhere
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        F, Fneu = extract_traces(movie, rois, inner_radius=inner, min_neuropil_pixels=need,
                                 lam_percentile=percentile, allow_overlap=allow,
                                 batch_frames=batch, progress=False)
        F_ref, Fneu_ref = reference_extract(movie, stats, ref_np, allow_overlap=allow)
    valid = np.isfinite(F[:, 0])
    np.testing.assert_allclose(F[valid], F_ref[valid], rtol=1e-6)
    np.testing.assert_allclose(Fneu, Fneu_ref, rtol=1e-6)


def test_selection_extracts_the_same_rows():
    m = generate_movie(40, (64, 64), 8, seed=3)
    rois = m.rois
    keep = np.array([True, False, True, True, False, False, True, True])
    F, Fneu = extract_traces(m.images, rois, min_neuropil_pixels=150, progress=False)
    F2, Fneu2 = extract_traces(m.images, rois.select(mask=keep), min_neuropil_pixels=150,
                               progress=False)
    assert np.array_equal(F2, F[keep]) and np.array_equal(Fneu2, Fneu[keep])


def test_synthetic_movie_traces_recovered():
    m = generate_movie(300, (96, 96), 10, seed=5)
    F, Fneu = extract_traces(m.images, m.rois, min_neuropil_pixels=200, progress=False)
    corrected = subtract_neuropil(F, Fneu)
    true = m.traces.traces
    active = true.std(axis=1) > 0.05 * true.mean(axis=1)  # a neuron without spikes is noise
    assert active.sum() >= 8
    r = [np.corrcoef(corrected[i], true[i])[0, 1] for i in np.flatnonzero(active)]
    assert min(r) > 0.95


class CountingStack(FrameSource):
    def __init__(self, data):
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.reads = np.zeros(data.shape[0], int)

    def _read(self, start, stop):
        self.reads[start:stop] += 1
        return self.data[start:stop].copy()


def test_frame_source_blocks_read_once_and_same_result():
    rng = np.random.default_rng(1)
    movie = rng.integers(0, 1000, (23, 30, 30)).astype(np.uint16)
    rois = _random_rois(rng, (30, 30), 4)
    expected = extract_traces(movie, rois, min_neuropil_pixels=50, progress=False)
    stack = CountingStack(movie)
    got = extract_traces(stack, rois, min_neuropil_pixels=50, batch_frames=5, progress=False)
    assert stack.reads.tolist() == [1] * 23
    for a, b in zip(got, expected):
        assert np.array_equal(a, b, equal_nan=True)


def test_memmap_big_endian_and_float_movies(tmp_path):
    rng = np.random.default_rng(2)
    movie = rng.normal(100, 10, (12, 20, 20)).astype(np.float32)
    rois = _random_rois(rng, (20, 20), 3)
    expected = extract_traces(movie, rois, min_neuropil_pixels=30, progress=False)
    path = tmp_path / "movie.dat"
    big = movie.astype(">f4")
    big.tofile(path)
    mm = np.memmap(path, dtype=">f4", mode="r", shape=movie.shape)
    got = extract_traces(mm, rois, min_neuropil_pixels=30, batch_frames=4, progress=False)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_dask_zarr_and_distributed(tmp_path):
    da = pytest.importorskip("dask.array")
    zarr = pytest.importorskip("zarr")
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(4)
    movie = rng.integers(0, 3000, (30, 24, 24)).astype(np.uint16)
    rois = _random_rois(rng, (24, 24), 3)
    expected = extract_traces(movie, rois, min_neuropil_pixels=40, progress=False)
    store = zarr.open(str(tmp_path / "movie.zarr"), mode="w", shape=movie.shape,
                      chunks=(7, 24, 24), dtype=movie.dtype)
    store[:] = movie
    lazy = da.from_zarr(str(tmp_path / "movie.zarr"))
    got = extract_traces(lazy, rois, min_neuropil_pixels=40, progress=False)
    for a, b in zip(got, expected):
        assert np.array_equal(a, b, equal_nan=True)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        got = extract_traces(lazy, rois, min_neuropil_pixels=40, progress=False)
    for a, b in zip(got, expected):
        assert np.array_equal(a, b, equal_nan=True)


def test_progress_bar_is_optional(capsys):
    movie = np.ones((4, 10, 10), np.uint16)
    rois = ROISet([ROI([5], [5], id=0)], (10, 10))
    extract_traces(movie, rois, min_neuropil_pixels=5, progress=False)
    assert capsys.readouterr().err == ""
    extract_traces(movie, rois, min_neuropil_pixels=5, progress=True)
    assert "extracting traces" in capsys.readouterr().err


@pytest.mark.parametrize("movie, kwargs, match", [
    (np.zeros((3, 10, 11)), {}, r"10×11 px but the ROIs were drawn on 10×10"),
    (np.zeros((10, 10)), {}, r"\(frames, Ly, Lx\)"),
    (np.zeros((3, 10, 10), complex), {}, "real numbers"),  # InvalidArgumentTypeError
    (np.zeros((3, 10, 10)), {"inner_radius": -1}, "inner_radius"),
    (np.zeros((3, 10, 10)), {"min_neuropil_pixels": 2.5}, "min_neuropil_pixels"),
    (np.zeros((3, 10, 10)), {"lam_percentile": 101}, "lam_percentile"),
    (np.zeros((3, 10, 10)), {"batch_frames": 0}, "batch_frames"),
    (np.zeros((0, 10, 10)), {}, "no frames"),
])
def test_extract_bad_input(movie, kwargs, match):
    rois = ROISet([ROI([5], [5], id=0)], (10, 10))
    with pytest.raises((InvalidArgumentError, InvalidArgumentTypeError), match=match):
        extract_traces(movie, rois, progress=False, **kwargs)


def test_extract_refuses_mixed_planes_and_non_roisets():
    rois = ROISet([ROI([1], [1], id=0, plane=0), ROI([5], [5], id=1, plane=1)], (10, 10))
    with pytest.raises(InvalidArgumentError, match="planes"):
        extract_traces(np.zeros((2, 10, 10)), rois, progress=False)
    with pytest.raises(InvalidArgumentTypeError, match="ROISet"):
        extract_traces(np.zeros((2, 10, 10)), [ROI([1], [1], id=0)], progress=False)


# --- subtract_neuropil ---------------------------------------------------------------------
def test_subtract_fixed_coefficient():
    F = np.array([[10.0, 20.0, 30.0]])
    Fneu = np.array([[1.0, 2.0, 4.0]])
    assert subtract_neuropil(F, Fneu).tolist() == [[9.3, 18.6, 27.2]]
    assert subtract_neuropil(F[0], Fneu[0], 0.5).tolist() == [9.5, 19.0, 28.0]
    f32 = subtract_neuropil(F.astype(np.float32), Fneu.astype(np.float32))
    assert f32.dtype == np.float32
    with pytest.warns(RuntimeWarning, match="inflates"):
        subtract_neuropil(F, Fneu, 1.2)


@pytest.mark.parametrize("args, match", [
    ((np.ones((2, 5)), np.ones((2, 4))), "same"),
    ((np.ones((2, 5)), np.ones((3, 5))), "same"),
    ((np.ones((2, 5)), np.ones((2, 5)), -0.1), ">= 0"),
    ((np.ones((2, 5)), np.ones((2, 5)), "fit"), "estimate"),
    ((np.ones((2, 5)), np.ones((2, 5)), np.nan), "finite"),
    ((np.ones((2, 2, 5)), np.ones((2, 2, 5))), "frames"),
])
def test_subtract_bad_input(args, match):
    with pytest.raises((InvalidArgumentError, InvalidArgumentTypeError), match=match):
        subtract_neuropil(*args)


def _coupled(rng, coefficient, frames=3000):
    t = np.arange(frames)
    neuropil = 50 + 10 * np.sin(t / 150) + 5 * np.sin(t / 37) + rng.normal(0, 0.5, frames)
    transients = np.zeros(frames)
    for onset in rng.choice(frames - 100, 15, replace=False):
        transients[onset:onset + 100] += 40 * np.exp(-np.arange(100) / 20)
    return 30 + coefficient * neuropil + transients + rng.normal(0, 1.0, frames), neuropil


def test_estimate_recovers_coefficient_clips_and_falls_back():
    rng = np.random.default_rng(7)
    rows = [_coupled(rng, c) for c in (0.4, 0.8, 1.6)]
    F = np.array([r[0] for r in rows])
    Fneu = np.array([r[1] for r in rows])
    flat = np.full_like(F[0], 50.0)  # constant neuropil: no fit possible
    F = np.vstack([F, rng.normal(30, 1, F.shape[1])])
    Fneu = np.vstack([Fneu, flat])
    with pytest.warns(RuntimeWarning, match="poor fit for 1 of 4 ROIs"):
        corrected, coefs = subtract_neuropil(F, Fneu, "estimate", return_coefficients=True)
    assert coefs[0] == pytest.approx(0.4, abs=0.03)
    assert coefs[1] == pytest.approx(0.8, abs=0.03)
    assert coefs[2] == 1.0  # clipped
    assert coefs[3] == 0.7  # fallback
    np.testing.assert_allclose(corrected, F - coefs[:, None] * Fneu)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), ly=st.integers(1, 14), lx=st.integers(1, 14),
       radius=st.floats(0.0, 5.0), percentile=st.sampled_from([10.0, 50.0, 73.0, 100.0]))
def test_cell_pixels_equal_scipy_percentile_filter(seed, ly, lx, radius, percentile):
    """Also for windows larger than the image (scipy's 'reflect' edges repeated)."""
    from scipy.ndimage import percentile_filter

    from CalSciPy._rois.neuropil import cell_pixels

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, (ly, lx))
    if not labels.any():
        labels[0, 0] = 1
    rois = ROISet([ROI(r.ypix, r.xpix, rng.choice([0.25, 0.5, 1.0], r.npix), id=r.id,
                       radius=radius) for r in ROISet.from_labels(labels)], (ly, lx))
    lammap = np.zeros((ly, lx))
    for r in rois:
        lammap[r.ypix, r.xpix] = np.maximum(lammap[r.ypix, r.xpix], r.lam)
    size = max(1, int(radius * 5))
    # reference: the window over numpy's 'symmetric' padding (= scipy's 'reflect'), rank as
    # scipy computes it; scipy itself (1.17) gives run-to-run different answers once half the
    # window exceeds the image, so it is compared only where it is reliable
    half = size // 2
    padded = np.pad(lammap, ((half, size - 1 - half),) * 2, mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size))
    rank = size * size - 1 if percentile == 100 else int(float(size * size) * percentile / 100)
    filt = np.sort(windows.reshape(ly, lx, -1), axis=-1)[..., rank]
    if half <= min(ly, lx):
        assert np.array_equal(percentile_filter(lammap, percentile, size=size), filt)
    expected = ~((lammap < filt) | (lammap == 0))
    assert np.array_equal(cell_pixels(rois, percentile), expected)


def test_prairieview_session_stack(tmp_path):
    from CalSciPy.bruker.session import read_prairieview_session
    from CalSciPy.synthetic.prairieview import write_prairieview_session

    movie = generate_movie(30, (48, 48), 4, seed=9)
    write_prairieview_session(tmp_path / "TSeries-001", movie.images, voltage=False)
    stack = read_prairieview_session(tmp_path / "TSeries-001").stack(0, 0)
    assert isinstance(stack, FrameSource) and stack.shape == movie.images.shape
    got = extract_traces(stack, movie.rois, min_neuropil_pixels=100, batch_frames=7,
                         progress=False)
    expected = extract_traces(movie.images, movie.rois, min_neuropil_pixels=100,
                              progress=False)
    for a, b in zip(got, expected):
        assert np.array_equal(a, b)


def test_lazy_tiff_stack(tmp_path):
    from CalSciPy.io_tools import open_stack, save_images

    movie = generate_movie(24, (40, 40), 3, seed=11)
    save_images(tmp_path / "movie.tif", movie.images)
    from CalSciPy._io.tiff import TiffStack

    expected = extract_traces(movie.images, movie.rois, min_neuropil_pixels=80, progress=False)
    for stack in (open_stack(tmp_path / "movie.tif", lazy=True, progress=False),  # memmap
                  TiffStack([tmp_path / "movie.tif"])):                          # FrameSource
        got = extract_traces(stack, movie.rois, min_neuropil_pixels=80, batch_frames=5,
                             progress=False)
        for a, b in zip(got, expected):
            assert np.array_equal(a, b)
