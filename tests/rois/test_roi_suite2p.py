"""suite2p readers: the real 0.12 fixture, synthetic folders of both layouts, roots, data.bin,
bad folders and pickles that are not suite2p's."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from s2p_reference import reference_neuropil

from CalSciPy._io.source import FrameSource
from CalSciPy.errors import DataFormatError, InvalidArgumentError
from CalSciPy.roi_tools import (
    extract_traces,
    load_suite2p,
    load_suite2p_binary,
    neuropil_masks,
)

LY, LX = 32, 40


# --- real suite2p 0.12 output ----------------------------------------------------------------
def test_real_suite2p_fixture(suite2p_fixture):
    data = load_suite2p(suite2p_fixture)
    stat = np.load(suite2p_fixture / "stat.npy", allow_pickle=True)
    iscell = np.load(suite2p_fixture / "iscell.npy")
    assert len(data.rois) == len(stat) == 107
    assert data.ids.tolist() == list(range(107))
    assert data.F is None and data.Fneu is None and data.spks is None
    assert np.array_equal(data.iscell, iscell[:, 0].astype(bool))
    assert np.array_equal(data.iscell_prob, iscell[:, 1])
    s = data.settings
    assert (s.fs, s.Ly, s.Lx, s.nplanes, s.nchannels, s.tau, s.neucoeff) == (
        30.0, 512, 512, 1, 1, 1.5, 0.7)
    assert s.nframes == 5322 and s.meanImg.shape == (512, 512)
    for roi, entry in zip(data.rois, stat):
        assert np.array_equal(roi.ypix, entry["ypix"]) and np.array_equal(roi.xpix, entry["xpix"])
        assert np.array_equal(roi.overlap, entry["overlap"])
        assert roi.radius == entry["radius"]


def test_real_suite2p_neuropil_masks_are_suite2ps(suite2p_fixture):
    """Our masks equal the neuropil_mask suite2p 0.12 itself stored in stat.npy, also when only
    the cells are selected (suite2p computes the exclusion map over every ROI)."""
    data = load_suite2p(suite2p_fixture)
    stat = np.load(suite2p_fixture / "stat.npy", allow_pickle=True)
    options = data.settings.extraction_options
    masks = neuropil_masks(data.rois, inner_radius=options["inner_radius"],
                           min_neuropil_pixels=options["min_neuropil_pixels"],
                           lam_percentile=options["lam_percentile"])
    for mask, entry in zip(masks, stat):
        assert np.array_equal(mask.ypix * 512 + mask.xpix, np.sort(entry["neuropil_mask"]))
    cells = neuropil_masks(data.rois.select(mask=data.iscell))
    for mask, entry in zip(cells, stat[data.iscell]):
        assert np.array_equal(mask.ypix * 512 + mask.xpix, np.sort(entry["neuropil_mask"]))


# --- synthetic folders ---------------------------------------------------------------------
def _stat(rng, n):
    stat = []
    for _ in range(n):
        r, c = rng.integers(3, LY - 6), rng.integers(3, LX - 6)
        yy, xx = np.mgrid[r:r + 3, c:c + 4]
        stat.append({"ypix": yy.ravel().astype(np.int32), "xpix": xx.ravel().astype(np.int32),
                     "lam": rng.uniform(0.1, 1, 12).astype(np.float32),
                     "med": [r + 1, c + 1], "radius": 2.0, "npix": 12,
                     "overlap": np.zeros(12, bool)})
    return np.array(stat, dtype=object)


def write_plane(folder, rng, *, n=4, frames=25, layout="ops", chan2=False, fs=15.0):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "stat.npy", _stat(rng, n), allow_pickle=True)
    for name in ("F", "Fneu", "spks") + (("F_chan2", "Fneu_chan2") if chan2 else ()):
        np.save(folder / f"{name}.npy", rng.normal(100, 5, (n, frames)).astype(np.float32))
    iscell = np.column_stack([rng.integers(0, 2, n), rng.uniform(0, 1, n)])
    np.save(folder / "iscell.npy", iscell)
    if chan2:
        np.save(folder / "redcell.npy", np.column_stack([np.ones(n), np.full(n, 0.9)]))
    mean = rng.uniform(0, 100, (LY, LX)).astype(np.float32)
    if layout == "ops":
        ops = {"fs": fs, "nplanes": 1, "nchannels": 2 if chan2 else 1, "Ly": LY, "Lx": LX,
               "meanImg": mean, "tau": 1.25, "neucoeff": 0.75, "nframes": frames,
               "inner_neuropil_radius": 1, "min_neuropil_pixels": 100, "lam_percentile": 40.0,
               "allow_overlap": False, "suite2p_version": "0.14.4"}
        np.save(folder / "ops.npy", ops, allow_pickle=True)
    else:  # suite2p >= 1.0
        np.save(folder / "db.npy", {"nplanes": 1, "nchannels": 2 if chan2 else 1,
                                    "data_path": ["/data"]}, allow_pickle=True)
        np.save(folder / "settings.npy", {
            "fs": fs, "tau": 1.25, "diameter": [12.0, 12.0],
            "extraction": {"neuropil_coefficient": 0.75, "inner_neuropil_radius": 1,
                           "min_neuropil_pixels": 100, "lam_percentile": 40.0,
                           "allow_overlap": False}}, allow_pickle=True)
        np.save(folder / "reg_outputs.npy", {"meanImg": mean, "Ly": LY, "Lx": LX,
                                             "yrange": [0, LY]}, allow_pickle=True)
        np.save(folder / "detect_outputs.npy", {"nframes": frames, "Vcorr": np.zeros((4, 4))},
                allow_pickle=True)
    return folder


@pytest.mark.parametrize("layout", ["ops", "split"])
def test_synthetic_plane_both_layouts(tmp_path, layout):
    rng = np.random.default_rng(0)
    folder = write_plane(tmp_path / "suite2p" / "plane0", rng, layout=layout, chan2=True)
    data = load_suite2p(folder)
    assert data.F.shape == (4, 25) and data.F.dtype == np.float32
    assert np.array_equal(data.F, np.load(folder / "F.npy"))
    assert np.array_equal(data.Fneu_chan2, np.load(folder / "Fneu_chan2.npy"))
    assert data.redcell.all() and data.redcell_prob == pytest.approx([0.9] * 4)
    s = data.settings
    assert (s.fs, s.tau, s.neucoeff, s.Ly, s.Lx, s.nchannels, s.nframes) == (
        15.0, 1.25, 0.75, LY, LX, 2, 25)
    assert s.extraction_options == {"inner_radius": 1, "min_neuropil_pixels": 100,
                                    "lam_percentile": 40.0, "allow_overlap": False}
    assert data.path == folder and data.frame_rate == 15.0
    # the stat.npy path reads the same folder
    assert load_suite2p(folder / "stat.npy").ids.tolist() == [0, 1, 2, 3]


def test_root_with_planes_concatenates(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "suite2p"
    write_plane(root / "plane0", rng, n=3)
    write_plane(root / "plane1", rng, n=2, layout="split")
    (root / "combined").mkdir()  # ignored when planes exist
    data = load_suite2p(root)
    assert data.ids.tolist() == [0, 1, 2, 3, 4]
    assert data.rois.planes.tolist() == [0, 0, 0, 1, 1]
    assert data.F.shape == (5, 25)
    assert np.array_equal(data.F[3:], np.load(root / "plane1" / "F.npy"))
    assert len(data.plane_settings) == 2
    assert load_suite2p(tmp_path).ids.tolist() == [0, 1, 2, 3, 4]  # the folder above
    one = load_suite2p(root, plane=1)
    assert one.ids.tolist() == [0, 1] and one.rois.planes.tolist() == [1, 1]
    with pytest.raises(InvalidArgumentError, match="no plane7"):
        load_suite2p(root, plane=7)
    with pytest.raises(InvalidArgumentError, match="planes"):
        extract_traces(np.zeros((2, LY, LX)), data.rois, progress=False)
    movie = rng.integers(0, 100, (6, LY, LX)).astype(np.int16)
    F, _ = extract_traces(movie, data.rois.select(plane=1), min_neuropil_pixels=50,
                          progress=False)
    assert F.shape == (2, 6)


def test_combined_only_warns_about_tiling(tmp_path):
    rng = np.random.default_rng(2)
    write_plane(tmp_path / "suite2p" / "combined", rng)
    with pytest.warns(UserWarning, match="tiled"):
        data = load_suite2p(tmp_path / "suite2p")
    assert len(data.rois) == 4


def test_not_suite2p_output_says_what_was_expected(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataFormatError, match="expected a suite2p plane folder"):
        load_suite2p(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_suite2p(tmp_path / "missing")
    np.save(tmp_path / "stat.npy", _stat(np.random.default_rng(0), 2), allow_pickle=True)
    with pytest.raises(DataFormatError, match="no ops.npy or settings.npy"):
        load_suite2p(tmp_path)


@pytest.mark.parametrize("name, value, match", [
    ("iscell.npy", np.ones((3, 2)), "3 rows but stat.npy has 4 ROIs"),
    ("F.npy", np.ones((4, 7), np.float32), "7 frames"),
    ("Fneu.npy", np.ones((5, 25), np.float32), "5 rows"),
    ("stat.npy", {"not": "a list"}, "not suite2p's stat.npy"),
    ("stat.npy", [1, 2, 3], "not suite2p's stat.npy"),
    ("ops.npy", [1, 2], "not a suite2p settings file"),
    ("F.npy", np.array([{"a": 1}] * 4, dtype=object), "Python objects"),
])
def test_inconsistent_files(tmp_path, name, value, match):
    folder = write_plane(tmp_path / "plane0", np.random.default_rng(3))
    np.save(folder / name, value, allow_pickle=True)
    with pytest.raises(DataFormatError, match=match):
        load_suite2p(folder)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_that_is_not_suite2ps_is_refused_unexecuted(tmp_path, monkeypatch):
    folder = write_plane(tmp_path / "plane0", np.random.default_rng(4))
    stat = np.empty(1, dtype=object)
    stat[0] = _Evil()
    np.save(folder / "stat.npy", stat, allow_pickle=True)
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(DataFormatError, match="refusing to unpickle"):
        load_suite2p(folder)
    assert called == []
    # a pickle file that is not even .npy
    (folder / "stat.npy").write_bytes(pickle.dumps({"ypix": 1}))
    with pytest.raises(DataFormatError, match="not a .npy file"):
        load_suite2p(folder)


def test_bad_settings_values(tmp_path):
    folder = write_plane(tmp_path / "plane0", np.random.default_rng(5))
    ops = np.load(folder / "ops.npy", allow_pickle=True).item()
    for key, value, match in (("fs", -1.0, "'fs'"), ("Ly", 0, "'Ly'"), ("fs", "fast", "'fs'"),
                              ("meanImg", np.zeros((3, 3)), "meanImg")):
        bad = dict(ops, **{key: value})
        np.save(folder / "ops.npy", bad, allow_pickle=True)
        with pytest.raises(DataFormatError, match=match):
            load_suite2p(folder)


def test_stat_outside_plane_is_an_error(tmp_path):
    folder = write_plane(tmp_path / "plane0", np.random.default_rng(6))
    stat = np.load(folder / "stat.npy", allow_pickle=True)
    stat[2]["ypix"] = stat[2]["ypix"] + LY
    np.save(folder / "stat.npy", stat, allow_pickle=True)
    with pytest.raises(DataFormatError, match="ROI 2 lies outside"):
        load_suite2p(folder)


# --- data.bin ----------------------------------------------------------------------------------
def test_binary_lazy_stack_and_halving(tmp_path):
    rng = np.random.default_rng(7)
    folder = write_plane(tmp_path / "plane0", rng)
    original = rng.integers(0, 65535, (25, LY, LX)).astype(np.uint16)
    halved = (original // 2).astype(np.int16)  # what suite2p writes for uint16 input
    halved.tofile(folder / "data.bin")
    stack = load_suite2p_binary(folder)
    assert isinstance(stack, FrameSource)
    assert stack.shape == (25, LY, LX) and stack.dtype == np.int16
    assert np.array_equal(stack[3], halved[3])
    assert np.array_equal(stack[5:9, 2:4], halved[5:9, 2:4])
    undone = load_suite2p_binary(folder, undo_uint16_halving=True)
    assert undone.dtype == np.uint16
    assert np.abs(undone[:].astype(int) - original.astype(int)).max() <= 1
    # extraction through the binary equals extraction of the array
    data = load_suite2p(folder)
    opts = data.settings.extraction_options
    F_bin = extract_traces(stack, data.rois, batch_frames=7, progress=False, **opts)
    F_arr = extract_traces(halved, data.rois, progress=False, **opts)
    for a, b in zip(F_bin, F_arr):
        assert np.array_equal(a, b)
    masks = neuropil_masks(data.rois, inner_radius=1, min_neuropil_pixels=100,
                           lam_percentile=40.0)
    stats = np.load(folder / "stat.npy", allow_pickle=True)
    ref = reference_neuropil(list(stats), LY, LX, 1, 100, 40.0)
    for mask, want in zip(masks, ref):
        assert np.array_equal(mask.ypix * LX + mask.xpix, want)


def test_binary_bad_input(tmp_path):
    folder = write_plane(tmp_path / "plane0", np.random.default_rng(8))
    with pytest.raises(FileNotFoundError, match="data.bin"):
        load_suite2p_binary(folder)
    np.zeros(LY * LX * 25 + 3, np.int16).tofile(folder / "data.bin")
    with pytest.raises(DataFormatError, match="whole number"):
        load_suite2p_binary(folder)
    np.zeros((24, LY, LX), np.int16).tofile(folder / "data.bin")
    with pytest.raises(DataFormatError, match="nframes = 25"):
        load_suite2p_binary(folder)
    for bad in ("../data.bin", "/etc/passwd", "", ".."):
        with pytest.raises(InvalidArgumentError, match="file name inside"):
            load_suite2p_binary(folder, file=bad)


@settings(max_examples=25, deadline=None)
@given(frames=st.integers(1, 9), start=st.integers(-9, 9), stop=st.integers(-9, 12),
       step=st.integers(1, 3))
def test_binary_indexes_like_numpy(tmp_path_factory, frames, start, stop, step):
    folder = tmp_path_factory.mktemp("bin")
    data = np.arange(frames * 4 * 5, dtype=np.int16).reshape(frames, 4, 5)
    data.tofile(folder / "data.bin")
    np.save(folder / "ops.npy", {"Ly": 4, "Lx": 5}, allow_pickle=True)
    stack = load_suite2p_binary(folder)
    assert np.array_equal(stack[start:stop:step], data[start:stop:step])
    if -frames <= start < frames:
        assert np.array_equal(stack[start], data[start])


def test_truncated_trace_file_is_refused_before_allocating(tmp_path):
    folder = write_plane(tmp_path / "plane0", np.random.default_rng(9))
    np.save(folder / "F.npy", np.zeros((4, 25), np.float32))
    raw = (folder / "F.npy").read_bytes()
    # same header with a shape of 10^12 frames, data cut short
    (folder / "F.npy").write_bytes(raw.replace(b"(4, 25)", b"(4, 1000000000000)", 1)[:200])
    with pytest.raises(DataFormatError, match="header promises"):
        load_suite2p(folder)
