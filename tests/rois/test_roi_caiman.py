"""load_caiman on HDF5 files laid out like CaImAn's ``cnm.save`` (save_dict_to_hdf5)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from CalSciPy.errors import DataFormatError
from CalSciPy.roi_tools import extract_traces, load_caiman

h5py = pytest.importorskip("h5py")

D1, D2, K, T = 12, 9, 3, 20


def _footprints(rng):
    images = np.zeros((K, D1, D2))
    images[0, 2:5, 1:4] = rng.uniform(0.2, 1, (3, 3))
    images[1, 7:10, 5:8] = rng.uniform(0.2, 1, (3, 3))
    images[2, 0, 8] = 1.0
    # CaImAn flattens each (d1, d2) footprint in Fortran order into a column of A
    A = sparse.csc_matrix(np.column_stack([im.reshape(-1, order="F") for im in images]))
    return images, A


def write_caiman(path, rng, *, idx=(0, 2), f_dff=None, dims_where="estimates"):
    images, A = _footprints(rng)
    with h5py.File(path, "w") as f:
        est = f.create_group("estimates")
        est["A/data"] = A.data
        est["A/indices"] = A.indices
        est["A/indptr"] = A.indptr
        est["A/shape"] = np.array(A.shape)
        for name in ("C", "S", "YrA"):
            est[name] = rng.normal(size=(K, T))
        est["F_dff"] = "NoneType" if f_dff is None else f_dff
        est["b"] = rng.uniform(size=(D1 * D2, 1))
        est["f"] = rng.uniform(size=(1, T))
        est["idx_components"] = "NoneType" if idx is None else np.array(idx)
        est["R"] = "NoneType"
        target = est if dims_where == "estimates" else f.require_group("params/data")
        target["dims"] = np.array([D1, D2])
        f["params/data/fr"] = 7.5
    return images


def test_load_caiman_reads_estimates(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "results.hdf5"
    images = write_caiman(path, rng)
    data = load_caiman(path)
    assert data.dims == (D1, D2) and data.frame_rate == 7.5
    assert data.rois.ids.tolist() == [0, 1, 2]
    for k, roi in enumerate(data.rois):
        assert np.array_equal(roi.weights_image((D1, D2)), images[k])
    assert data.C.shape == data.S.shape == data.YrA.shape == (K, T)
    assert data.F_dff is None  # stored as 'NoneType'
    assert data.b.shape == (D1 * D2, 1) and data.f.shape == (1, T)
    assert data.accepted.tolist() == [True, False, True]
    assert data.idx_components.tolist() == [0, 2]
    cells = data.rois.select(mask=data.accepted)
    movie = rng.integers(0, 100, (4, D1, D2)).astype(np.uint16)
    F, _ = extract_traces(movie, cells, neuropil=False, progress=False)
    expected = [(movie * images[k]).sum(axis=(1, 2)) / images[k].sum() for k in (0, 2)]
    np.testing.assert_allclose(F, expected, rtol=1e-6)


def test_load_caiman_without_quality_evaluation(tmp_path):
    path = tmp_path / "r.hdf5"
    write_caiman(path, np.random.default_rng(1), idx=None, f_dff=np.ones((K, T)),
                 dims_where="params")
    data = load_caiman(path)
    assert data.accepted.all() and data.idx_components is None
    assert data.F_dff.shape == (K, T) and data.dims == (D1, D2)


def test_load_caiman_bad_files(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(DataFormatError, match="no 'estimates' group"):
        load_caiman(path)
    text = tmp_path / "x.hdf5"
    text.write_text("not hdf5")
    with pytest.raises(DataFormatError, match="not an HDF5 file"):
        load_caiman(text)
    with pytest.raises(FileNotFoundError):
        load_caiman(tmp_path / "missing.hdf5")
    rng = np.random.default_rng(2)
    for edit, match in (
        (lambda f: f["estimates/dims"].__setitem__(Ellipsis, [D1, D2 + 1]), "pixels"),
        (lambda f: f["estimates"].__delitem__("A"), "estimates/A"),
        (lambda f: (f["estimates"].__delitem__("C"),
                    f["estimates"].__setitem__("C", np.ones((K + 1, T)))), "rows"),
        (lambda f: (f["estimates"].__delitem__("idx_components"),
                    f["estimates"].__setitem__("idx_components", [0, 9])), "idx_components"),
    ):
        bad = tmp_path / "bad.hdf5"
        write_caiman(bad, rng)
        with h5py.File(bad, "a") as f:
            edit(f)
        with pytest.raises(DataFormatError, match=match):
            load_caiman(bad)
