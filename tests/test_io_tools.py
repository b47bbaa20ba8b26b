"""Tests of CalSciPy.io_tools: TIFF, binary + JSON, Zarr, open/save/convert, bad input."""
from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from CalSciPy import io_tools
from CalSciPy._io import common as _common
from CalSciPy._io import tiff as _tiff
from CalSciPy.errors import DataFormatError, MissingDependencyError
from CalSciPy.io_tools import (
    _load_many_tif,
    _load_single_tif,
    _save_many_tif,
    _save_single_tif,
    convert_images,
    create_binary,
    load_binary,
    load_images,
    load_zarr,
    open_stack,
    save_binary,
    save_images,
    save_stack,
    save_zarr,
)

DTYPES = [np.uint8, np.uint16, np.int16, np.float32]


def stack(shape=(7, 12, 10), dtype=np.uint16, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1000).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def leftovers(folder: Path) -> list[str]:
    """Temporary files/folders an interrupted writer could leave behind."""
    return sorted(p.name for p in folder.rglob("*") if ".partial" in p.name or ".old" in p.name)


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", DTYPES)
def test_tiff_round_trip_bit_exact(tmp_path, dtype):
    images = stack(dtype=dtype)
    assert save_images(tmp_path / "a.tif", images) == 0
    back = load_images(tmp_path / "a.tif")
    assert back.dtype == images.dtype and back.shape == images.shape
    np.testing.assert_array_equal(back, images)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_round_trip_bit_exact(tmp_path, dtype):
    images = stack(dtype=dtype)
    assert save_binary(tmp_path / "a.bin", images) == 0
    for source in (tmp_path / "a.bin", tmp_path / "a.json"):
        back = load_binary(source)
        assert type(back) is np.ndarray and back.dtype == images.dtype
        np.testing.assert_array_equal(back, images)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zarr_round_trip_bit_exact(tmp_path, dtype):
    images = stack(dtype=dtype)
    assert save_zarr(tmp_path / "a.zarr", images) == 0
    back = load_zarr(tmp_path / "a.zarr", lazy=False)
    assert type(back) is np.ndarray and back.dtype == images.dtype
    np.testing.assert_array_equal(back, images)


_shapes = st.tuples(st.integers(1, 6), st.integers(1, 9), st.integers(1, 9))
_dtypes = st.sampled_from(DTYPES + [np.int32, np.float64])
_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_settings
@given(shape=_shapes, dtype=_dtypes, seed=st.integers(0, 2**16))
def test_binary_round_trip_property(tmp_path, shape, dtype, seed):
    images = stack(shape, dtype, seed)
    save_binary(tmp_path / "p", images)
    np.testing.assert_array_equal(load_binary(tmp_path / "p"), images)
    np.testing.assert_array_equal(load_binary(tmp_path / "p", mapped=True, mode="r"), images)


@_settings
@given(shape=_shapes, dtype=_dtypes, seed=st.integers(0, 2**16))
def test_tiff_round_trip_property(tmp_path, shape, dtype, seed):
    images = stack(shape, dtype, seed)
    save_images(tmp_path / "p.tif", images)
    back = load_images(tmp_path / "p.tif")
    assert back.shape == shape and back.dtype == images.dtype
    np.testing.assert_array_equal(back, images)


def test_2d_image_is_one_frame(tmp_path):
    frame = stack((12, 10))
    save_images(tmp_path / "one.tif", frame)
    assert load_images(tmp_path / "one.tif").shape == (1, 12, 10)
    save_binary(tmp_path / "one.bin", frame)
    assert load_binary(tmp_path / "one.bin").shape == (1, 12, 10)


def test_paths_positional_keyword_str_pathlike_unicode(tmp_path):
    images = stack()
    folder = tmp_path / "dossier été - 2 photons"
    folder.mkdir()
    name = folder / "mäus-1 Ω.tif"
    save_images(str(name), images)
    np.testing.assert_array_equal(load_images(path=name), images)
    save_images(path=folder / "b ü-2.tiff", images=images, size_cap=3.9)
    np.testing.assert_array_equal(load_images(str(folder / "b ü-2.tiff")), images)
    save_binary(path=str(folder / "bin ñ-3"), images=images)
    np.testing.assert_array_equal(load_binary(path=folder / "bin ñ-3", mapped=False), images)
    with pytest.raises(TypeError, match="str or os.PathLike"):
        load_images(123)


# ----------------------------------------------------------------------------- TIFF details
def test_save_images_folder_gets_images_tif(tmp_path):
    images = stack()
    save_images(tmp_path / "out", images)
    assert (tmp_path / "out" / "images.tif").is_file()
    np.testing.assert_array_equal(load_images(tmp_path / "out"), images)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_imagej_hyperstack_metadata(tmp_path, dtype):
    save_images(tmp_path / "ij.tif", stack((9, 8, 6), dtype))
    with tifffile.TiffFile(tmp_path / "ij.tif") as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["frames"] == 9 and tif.imagej_metadata["images"] == 9
        assert tif.series[0].axes == "TYX"


@pytest.mark.parametrize("dtype", [np.int16, np.float64, np.int32])
def test_non_imagej_dtypes_written_as_plain_tiff(tmp_path, dtype):
    images = stack((4, 5, 6), dtype)
    save_images(tmp_path / "plain.tif", images)
    with tifffile.TiffFile(tmp_path / "plain.tif") as tif:
        assert not tif.is_imagej
    np.testing.assert_array_equal(load_images(tmp_path / "plain.tif"), images)


def test_bigtiff_chosen_above_4gb():
    class Huge:  # shape/dtype only: nothing is allocated
        shape = (20000, 512, 512)
        dtype = np.dtype(np.uint16)

    kwargs = _tiff._tiff_kwargs(Huge())
    assert kwargs["bigtiff"] and not kwargs["imagej"]
    Huge.shape = (100, 512, 512)
    kwargs = _tiff._tiff_kwargs(Huge())
    assert not kwargs["bigtiff"] and kwargs["imagej"]


@pytest.mark.parametrize("dtype, per_file", [(np.uint8, 6), (np.float32, 1)])
def test_split_by_size_cap_uses_real_itemsize(tmp_path, dtype, per_file):
    images = stack((13, 16, 16), dtype)
    cap = 6 * 16 * 16 / 1e9  # six uint8 frames, one and a half float32 frames
    save_images(tmp_path / "rec.tif", images, size_cap=cap)
    parts = sorted(p.name for p in tmp_path.glob("rec_*.tif"))
    n_files = -(-13 // per_file)
    digits = max(2, len(str(n_files - 1)))
    assert parts == [f"rec_{i:0{digits}d}.tif" for i in range(n_files)]
    assert not (tmp_path / "rec.tif").exists()
    assert load_images(tmp_path / parts[0]).shape[0] == per_file
    np.testing.assert_array_equal(load_images(tmp_path), images)


def test_size_cap_counts_gb_like_calculate_frames_per_file(tmp_path):
    from CalSciPy.misc import calculate_frames_per_file

    # GB = 1e9 bytes: 1.4e5 bytes / 1e4-byte frames = 14 per file (2**30 would give 15)
    per_file = calculate_frames_per_file(100, 100, np.uint8, size_cap=1.4e-4)
    assert per_file == 14
    images = stack((15, 100, 100), np.uint8)
    save_images(tmp_path, images, size_cap=1.4e-4)
    parts = sorted(tmp_path.glob("images_*.tif"))
    assert [p.name for p in parts] == ["images_00.tif", "images_01.tif"]
    assert [load_images(p).shape[0] for p in parts] == [14, 1]
    np.testing.assert_array_equal(load_images(tmp_path), images)


def test_resave_removes_stale_parts(tmp_path):
    images = stack((12, 8, 8), np.uint8)
    save_images(tmp_path / "rec.tif", images, size_cap=4 * 64 / 1e9)
    assert len(list(tmp_path.glob("rec_*.tif"))) == 3
    save_images(tmp_path / "rec.tif", images[:5])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.tif"]
    np.testing.assert_array_equal(load_images(tmp_path), images[:5])


def test_private_helpers(tmp_path):
    images = stack((10, 6, 5))
    _save_single_tif(tmp_path / "s.tif", images)
    np.testing.assert_array_equal(_load_single_tif(tmp_path / "s.tif"), images)
    out = np.empty_like(images)
    assert _load_single_tif(tmp_path / "s.tif", out=out) is out
    np.testing.assert_array_equal(out, images)
    (tmp_path / "m").mkdir()
    parts = _save_many_tif(tmp_path / "m" / "many.tif", images, (4 * 60 + 0.5) / 1e9)
    assert [p.name for p in parts] == ["many_00.tif", "many_01.tif", "many_02.tif"]
    np.testing.assert_array_equal(_load_many_tif(tmp_path / "m"), images)
    np.testing.assert_array_equal(_load_many_tif(parts[::-1])[:2], images[8:])


def test_folder_natural_sort_order(tmp_path):
    for i in (10, 2, 1):
        save_images(tmp_path / f"images_{i}.tif", np.full((2, 3, 4), i, np.uint16))
    (tmp_path / "notes.txt").write_text("ignored")
    loaded = load_images(tmp_path)
    assert loaded[:, 0, 0].tolist() == [1, 1, 2, 2, 10, 10]
    assert _common.natural_key(Path("a_2.tif")) < _common.natural_key(Path("a_10.tif"))
    # digit-like characters that are not decimal digits ("²") sort as text, never crash
    names = ["t1²2.tif", "t1²10.tif", "t1².tif", "t٣.tif", "t10.tif"]
    assert sorted(names, key=lambda n: _common.natural_key(Path(n))) == [
        "t1²2.tif", "t1²10.tif", "t1².tif", "t٣.tif", "t10.tif"]


@pytest.mark.parametrize("counts", [[3, 3, 3, 1], [3, 1, 3, 3], [1, 3, 2, 5], [4, 4, 9, 4]])
def test_folder_files_with_different_frame_counts(tmp_path, counts):
    images = stack((sum(counts), 5, 4))
    bounds = np.cumsum([0, *counts])
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        save_images(tmp_path / f"part_{i}.tif", images[a:b])
    loaded = load_images(tmp_path)
    assert loaded.shape == images.shape
    np.testing.assert_array_equal(loaded, images)


def test_folder_parallel_read_many_files(tmp_path):
    images = stack((40, 6, 7))
    for i in range(20):
        save_images(tmp_path / f"f_{i}.tif", images[2 * i:2 * i + 2])
    np.testing.assert_array_equal(load_images(tmp_path, progress=False), images)


def test_tiffstack_partial_reads(tmp_path):
    images = stack((11, 5, 4), np.int16)
    for i, start in enumerate(range(0, 11, 4)):
        save_images(tmp_path / f"t_{i}.tif", images[start:start + 4])
    lazy = io_tools.TiffStack.open(tmp_path)
    assert lazy.shape == images.shape and lazy.dtype == images.dtype
    np.testing.assert_array_equal(lazy[2:9], images[2:9])
    np.testing.assert_array_equal(lazy[:], images)


def test_compressed_and_page_by_page_tiffs(tmp_path):
    images = stack((9, 6, 5), np.uint16)
    tifffile.imwrite(tmp_path / "z.tif", images, compression="zlib", photometric="minisblack")
    with tifffile.TiffWriter(tmp_path / "pages.tif") as writer:  # generic pages, no metadata
        for frame in images:
            writer.write(frame, photometric="minisblack", metadata=None, compression="zlib")
    for name in ("z.tif", "pages.tif"):
        np.testing.assert_array_equal(load_images(tmp_path / name), images)
        assert type(open_stack(tmp_path / name)) is np.ndarray  # not memory-mappable
        lazy = io_tools.TiffStack.open(tmp_path / name)
        np.testing.assert_array_equal(lazy[3:7], images[3:7])
    convert_images(tmp_path / "pages.tif", tmp_path / "pages.bin")
    np.testing.assert_array_equal(load_binary(tmp_path / "pages.bin"), images)


# Bruker files carry a MetaMorph UIC2 tag with zero denominators that tifffile divides by
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_real_prairieview_single_page_files(prairieview_fixtures):
    folder = prairieview_fixtures / "tseries_4plane_excerpt"
    files = sorted(folder.glob("*.ome.tif"))
    one = load_images(files[0])
    assert one.shape == (1, 256, 256) and one.dtype == np.uint16
    # the excerpt has 4 planes per cycle: as one folder of TIFFs they would be interleaved as
    # if they were time points, so the folder is refused with directions (issue 12.5)
    with pytest.raises(DataFormatError, match="4 images per cycle.*load_bruker_tifs"):
        load_images(folder)
    with pytest.raises(DataFormatError, match="PrairieView session"):
        io_tools.TiffStack.open(folder)
    both = _load_many_tif(files)  # an explicit list of files is read as given
    assert both.shape == (len(files), 256, 256)
    first = sorted(files, key=_common.natural_key)[0]
    np.testing.assert_array_equal(both[0], _load_single_tif(first)[0])
    plain = load_images(prairieview_fixtures / "single_page_512x512_uint16.tif")
    assert plain.shape == (1, 512, 512) and plain.dtype == np.uint16


# ----------------------------------------------------------------------------- binary details
def test_binary_layout_and_sidecar(tmp_path):
    images = stack((3, 4, 5), np.uint16)
    save_binary(tmp_path / "rec", images)
    meta = json.loads((tmp_path / "rec" / "binary_video.json").read_text())
    assert meta == {"frames": 3, "y": 4, "x": 5, "dtype": "uint16"}
    raw = (tmp_path / "rec" / "binary_video.bin").read_bytes()
    assert raw == images.astype("<u2").tobytes(order="C")


def test_binary_big_endian_input_written_little_endian(tmp_path):
    images = stack((2, 3, 4), np.uint16).astype(">u2")
    save_binary(tmp_path / "be.bin", images)
    assert (tmp_path / "be.bin").read_bytes() == images.astype("<u2").tobytes()
    np.testing.assert_array_equal(load_binary(tmp_path / "be.bin"), images)


def test_load_binary_mapped_modes(tmp_path):
    images = stack((3, 4, 5))
    save_binary(tmp_path / "m.bin", images)
    ro = load_binary(tmp_path / "m.bin", mapped=True, mode="r")
    assert isinstance(ro, np.memmap) and not ro.flags.writeable
    rw = load_binary(tmp_path / "m.json", mapped=True)  # documented default mode r+
    rw[0, 0, 0] = 7
    rw.flush()
    del rw
    assert load_binary(tmp_path / "m.bin")[0, 0, 0] == 7
    with pytest.raises(ValueError, match="mode"):
        load_binary(tmp_path / "m.bin", mapped=True, mode="w+")


def test_create_binary_appears_atomically(tmp_path):
    target = tmp_path / "made.bin"
    with create_binary(target, (4, 3, 2), np.float32) as out:
        assert isinstance(out, np.memmap)
        assert not target.exists() and not (tmp_path / "made.json").exists()
        out[:] = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    np.testing.assert_array_equal(load_binary(target), np.arange(24).reshape(4, 3, 2))
    assert json.loads((tmp_path / "made.json").read_text())["dtype"] == "float32"
    assert leftovers(tmp_path) == []
    with pytest.raises(FileExistsError), create_binary(target, (1, 1, 1), "uint8"):
        pass
    with create_binary(tmp_path / "folder", (1, 2, 2), "uint16", overwrite=True) as out:
        out[:] = 3
    assert load_binary(tmp_path / "folder").sum() == 12


def test_create_binary_error_leaves_nothing_and_keeps_old(tmp_path):
    target = tmp_path / "keep.bin"
    old = stack((2, 3, 3))
    save_binary(target, old)
    with pytest.raises(RuntimeError), create_binary(target, (5, 3, 3), "uint16",
                                                     overwrite=True) as out:
        out[:] = 1
        raise RuntimeError("boom")
    np.testing.assert_array_equal(load_binary(target), old)
    assert leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="shape"), create_binary(tmp_path / "z.bin", (0, 2, 2),
                                                                 "uint8"):
        pass
    with pytest.raises(TypeError), create_binary(tmp_path / "c.bin", (1, 2, 2), complex):
        pass


# ----------------------------------------------------------------------------- Zarr details
def test_load_zarr_lazy_dask_chunked_by_frames(tmp_path):
    images = stack((20, 8, 6))
    save_zarr(tmp_path / "s.zarr", images, chunks=6)
    lazy = load_zarr(tmp_path / "s.zarr")
    assert type(lazy).__module__.startswith("dask")
    assert lazy.chunks == ((6, 6, 6, 2), (8,), (6,))
    np.testing.assert_array_equal(lazy.compute(), images)
    assert save_zarr(tmp_path / "d.zarr", lazy[:7]) == 0
    np.testing.assert_array_equal(load_zarr(tmp_path / "d.zarr", lazy=False), images[:7])
    save_zarr(tmp_path / "default.zarr", images)
    assert load_zarr(tmp_path / "default.zarr").chunks[1:] == ((8,), (6,))


def test_reads_zarr_v2_stores(tmp_path):
    zarr = pytest.importorskip("zarr")
    images = stack((5, 4, 3), np.int16)
    kwargs = {"zarr_format": 2} if int(zarr.__version__.split(".")[0]) >= 3 else {}
    store = zarr.open_array(str(tmp_path / "v2"), mode="w", shape=images.shape,
                            chunks=(2, 4, 3), dtype=images.dtype, **kwargs)
    store[:] = images
    assert (tmp_path / "v2" / ".zarray").exists()
    np.testing.assert_array_equal(open_stack(tmp_path / "v2").compute(), images)
    np.testing.assert_array_equal(load_zarr(tmp_path / "v2", lazy=False), images)


def test_zarr_refuses_existing_unless_overwrite(tmp_path):
    save_zarr(tmp_path / "s.zarr", stack((2, 3, 3)))
    with pytest.raises(FileExistsError):
        save_zarr(tmp_path / "s.zarr", stack((4, 3, 3)))
    save_zarr(tmp_path / "s.zarr", stack((4, 3, 3), seed=1), overwrite=True)
    np.testing.assert_array_equal(load_zarr(tmp_path / "s.zarr", lazy=False),
                                  stack((4, 3, 3), seed=1))
    assert leftovers(tmp_path) == []


def test_zarr_missing_extra_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(MissingDependencyError, match=r"calscipy\[dask\]"):
        save_zarr(tmp_path / "x.zarr", stack())


def test_load_zarr_bad_store(tmp_path):
    (tmp_path / "fake.zarr").mkdir()
    with pytest.raises(DataFormatError, match="Zarr"):
        load_zarr(tmp_path / "fake.zarr")


# ----------------------------------------------------------------------------- open/save/convert
def test_open_stack_by_suffix(tmp_path):
    images = stack((6, 5, 4))
    save_images(tmp_path / "a.tif", images)
    save_binary(tmp_path / "a.bin", images)
    save_binary(tmp_path / "binfolder", images)
    save_zarr(tmp_path / "a.zarr", images)
    save_images(tmp_path / "tiffs", images)
    kinds = {
        "a.tif": np.memmap, "a.bin": np.memmap, "a.json": np.memmap, "binfolder": np.memmap,
        "tiffs": np.ndarray,
    }
    for name, kind in kinds.items():
        opened = open_stack(tmp_path / name)
        assert type(opened) is kind, name
        np.testing.assert_array_equal(opened, images)
    assert type(open_stack(tmp_path / "a.tif", lazy=False)) is np.ndarray
    np.testing.assert_array_equal(open_stack(tmp_path / "a.zarr").compute(), images)
    assert type(open_stack(tmp_path / "a.zarr", lazy=False)) is np.ndarray
    with pytest.raises(ValueError, match="format"):
        (tmp_path / "x.png").write_bytes(b"")
        open_stack(tmp_path / "x.png")


def test_save_stack_accepts_numpy_memmap_dask(tmp_path):
    import dask.array as da

    images = stack((9, 6, 5), np.int16)
    save_binary(tmp_path / "src.bin", images)
    sources = {
        "numpy": images,
        "memmap": load_binary(tmp_path / "src.bin", mapped=True, mode="r"),
        "dask": da.from_array(images, chunks=(2, 6, 5)),
    }
    for label, source in sources.items():
        for suffix in (".tif", ".bin", ".zarr", ""):
            dst = tmp_path / f"{label}_out{suffix}"
            save_stack(dst, source)
            back = open_stack(dst, lazy=False)
            np.testing.assert_array_equal(back, images, err_msg=f"{label}{suffix}")
            with pytest.raises(FileExistsError):
                save_stack(dst, source)


@pytest.mark.parametrize("src_kind", ["tif", "tiff_folder", "bin", "zarr"])
@pytest.mark.parametrize("dst_suffix", [".tif", ".bin", ".zarr"])
def test_convert_images_bit_exact(tmp_path, src_kind, dst_suffix):
    images = stack((10, 7, 5), np.float32)
    src = {
        "tif": tmp_path / "s.tif",
        "tiff_folder": tmp_path / "sfold",
        "bin": tmp_path / "s.bin",
        "zarr": tmp_path / "s.zarr",
    }[src_kind]
    if src_kind == "tiff_folder":
        save_images(src, images, size_cap=3 * 7 * 5 * 4 / 1e9)
    elif src_kind == "tif":
        save_images(src, images)
    elif src_kind == "bin":
        save_binary(src, images)
    else:
        save_zarr(src, images, chunks=3)
    dst = tmp_path / f"d{dst_suffix}"
    convert_images(src, dst, progress=False)
    np.testing.assert_array_equal(open_stack(dst, lazy=False), images)
    with pytest.raises(FileExistsError):
        convert_images(src, dst)


def test_convert_streams_in_bounded_blocks(tmp_path, monkeypatch):
    images = stack((30, 16, 16), np.uint16)
    save_images(tmp_path / "s.tif", images)
    seen = []
    real = _common.iter_blocks

    def small_blocks(arr, block_bytes=_common.BLOCK_BYTES, dtype=None):
        for start, block in real(arr, 4 * 16 * 16 * 2, dtype):
            seen.append(block.shape[0])
            yield start, block

    monkeypatch.setattr("CalSciPy._io.binary.iter_blocks", small_blocks)
    convert_images(tmp_path / "s.tif", tmp_path / "d.bin")
    assert max(seen) == 4 and sum(seen) == 30
    np.testing.assert_array_equal(load_binary(tmp_path / "d.bin"), images)


class SlowLazyStack:
    """A custom lazy stack (like a PrairieView reader) that records every read."""

    def __init__(self, images):
        self.images, self.shape, self.dtype, self.ndim = images, images.shape, images.dtype, 3
        self.reads = []

    def __getitem__(self, key):
        self.reads.append(len(range(*key.indices(self.shape[0]))))
        return self.images[key]


def test_split_save_of_lazy_stack_streams_blocks(tmp_path, monkeypatch):
    images = stack((20, 8, 8), np.uint16)
    lazy = SlowLazyStack(images)
    real = _common.iter_blocks
    monkeypatch.setattr(
        _tiff, "iter_blocks", lambda arr, block_bytes=0, dtype=None: real(arr, 2 * 128, dtype)
    )
    save_images(tmp_path, lazy, size_cap=5 * 128 / 1e9)  # 5 frames per file, 2 per read
    assert len(list(tmp_path.glob("images_*.tif"))) == 4
    assert max(lazy.reads) == 2 and sum(lazy.reads) == 20
    np.testing.assert_array_equal(load_images(tmp_path), images)
    save_stack(tmp_path / "one.bin", SlowLazyStack(images))
    np.testing.assert_array_equal(load_binary(tmp_path / "one.bin"), images)


def test_progress_bar_shown_only_when_large(tmp_path, monkeypatch, capsys):
    images = stack((4, 8, 8))
    save_binary(tmp_path / "a.bin", images)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_common, "PROGRESS_MIN_BYTES", 0)
    save_binary(tmp_path / "b.bin", images, progress=False)
    assert capsys.readouterr().err == ""
    save_binary(tmp_path / "c.bin", images)
    assert "c.bin" in capsys.readouterr().err
    for i in range(3):
        save_images(tmp_path / "tiffs" / f"t_{i}.tif", images, progress=False)
    assert capsys.readouterr().err == ""
    load_images(tmp_path / "tiffs")
    assert "loading TIFFs" in capsys.readouterr().err
    load_images(tmp_path / "tiffs", progress=False)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- overwrite rules
def test_documented_savers_replace_new_ones_refuse(tmp_path):
    old, new = stack((2, 4, 4), seed=1), stack((3, 4, 4), seed=2)
    save_images(tmp_path / "a.tif", old)
    save_images(tmp_path / "a.tif", new)
    np.testing.assert_array_equal(load_images(tmp_path / "a.tif"), new)
    with pytest.raises(FileExistsError):
        save_images(tmp_path / "a.tif", old, overwrite=False)
    save_binary(tmp_path / "b", old)
    save_binary(tmp_path / "b", new)
    np.testing.assert_array_equal(load_binary(tmp_path / "b"), new)
    with pytest.raises(FileExistsError):
        save_binary(tmp_path / "b", old, overwrite=False)
    np.testing.assert_array_equal(load_binary(tmp_path / "b"), new)
    with pytest.raises(FileExistsError):
        save_stack(tmp_path / "a.tif", old)
    save_stack(tmp_path / "a.tif", old, overwrite=True)
    np.testing.assert_array_equal(load_images(tmp_path / "a.tif"), old)
    assert leftovers(tmp_path) == []


def test_never_replaces_a_folder_with_a_file(tmp_path):
    save_images(tmp_path / "tiffs", stack())
    for overwrite in (False, True):
        with pytest.raises(IsADirectoryError):
            save_stack(tmp_path / "tiffs", stack(), overwrite=overwrite)
    (tmp_path / "odd.tif").mkdir()
    with pytest.raises(IsADirectoryError):
        save_images(tmp_path / "odd.tif", stack())
    assert (tmp_path / "tiffs" / "images.tif").is_file()


def test_replacing_a_file_is_one_rename(tmp_path, monkeypatch):
    """The final name never disappears: an existing file is replaced by a single os.replace."""
    save_images(tmp_path / "a.tif", stack(seed=1))
    calls = []
    real = os.replace

    def spy(src, dst):
        calls.append(Path(dst).name)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_images(tmp_path / "a.tif", stack(seed=2))
    assert calls == ["a.tif"]
    monkeypatch.undo()
    np.testing.assert_array_equal(load_images(tmp_path / "a.tif"), stack(seed=2))


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_saved_files_get_ordinary_permissions(tmp_path):
    """Private 0600/0700 temporaries must not end up as the saved files' permissions."""
    umask = os.umask(0o022)
    os.umask(umask)
    save_binary(tmp_path / "b.bin", stack())
    save_images(tmp_path / "t.tif", stack())
    save_zarr(tmp_path / "z.zarr", stack())
    for name, default in [("b.bin", 0o666), ("b.json", 0o666), ("t.tif", 0o666),
                          ("z.zarr", 0o777)]:
        assert (tmp_path / name).stat().st_mode & 0o777 == default & ~umask, name
    for name in ("b.bin", "t.tif"):  # a replaced file keeps its permissions
        (tmp_path / name).chmod(0o640)
    save_binary(tmp_path / "b.bin", stack(seed=3))
    save_images(tmp_path / "t.tif", stack(seed=3))
    for name in ("b.bin", "t.tif"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640, name


def test_failed_folder_replacement_restores_the_old_folder(tmp_path, monkeypatch):
    from CalSciPy import _atomic

    save_zarr(tmp_path / "z.zarr", stack(seed=1))
    real = os.replace

    def refuse_final(src, dst):
        if Path(dst).name == "z.zarr" and ".partial" in Path(src).name:
            raise OSError(errno.EIO, "simulated failure of the final rename")
        return real(src, dst)

    monkeypatch.setattr(_atomic.os, "replace", refuse_final)
    with pytest.raises(OSError, match="simulated"):
        save_zarr(tmp_path / "z.zarr", stack(seed=2), overwrite=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.zarr"]
    np.testing.assert_array_equal(load_zarr(tmp_path / "z.zarr", lazy=False), stack(seed=1))


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call",
    [
        load_images,
        load_binary,
        load_zarr,
        open_stack,
        lambda p: convert_images(p, p.with_suffix(".bin")),
    ],
)
def test_missing_path_names_it(tmp_path, call):
    missing = tmp_path / "nowhere here.tif"
    with pytest.raises(FileNotFoundError, match="nowhere here"):
        call(missing)


def test_empty_folder(tmp_path):
    with pytest.raises(DataFormatError, match="no .tif"):
        load_images(tmp_path)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=str(tmp_path.name)):
        load_images(tmp_path)


@pytest.mark.parametrize("odd", ["shape", "dtype"])
def test_folder_mixed_shapes_or_dtypes_names_first_offender(tmp_path, odd):
    good = stack((2, 5, 5))
    bad = stack((2, 5, 6)) if odd == "shape" else good.astype(np.float32)
    save_images(tmp_path / "f_1.tif", good)
    save_images(tmp_path / "f_2.tif", good)
    save_images(tmp_path / "f_10.tif", bad)
    save_images(tmp_path / "f_11.tif", bad)
    with pytest.raises(DataFormatError, match="f_10.tif"):
        load_images(tmp_path)


@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
@pytest.mark.parametrize("keep", [0.75, 0.5, 0.1, 0.001])
def test_truncated_tiff(tmp_path, dtype, keep):
    save_images(tmp_path / "t.tif", stack((20, 16, 16), dtype))
    data = (tmp_path / "t.tif").read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: max(3, int(len(data) * keep))])
    with pytest.raises(DataFormatError, match="t.tif"):
        load_images(tmp_path / "t.tif")
    with pytest.raises(DataFormatError, match="t.tif"):
        load_images(tmp_path)


def test_not_a_tiff(tmp_path):
    (tmp_path / "fake.tif").write_bytes(b"this is not a tiff file at all")
    with pytest.raises(DataFormatError, match="fake.tif"):
        load_images(tmp_path / "fake.tif")
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(ValueError, match="data.csv"):
        load_images(tmp_path / "data.csv")


def test_truncated_bin_reports_both_sizes(tmp_path):
    save_binary(tmp_path / "t.bin", stack((4, 5, 6)))
    os.truncate(tmp_path / "t.bin", 100)
    for mapped in (False, True):
        with pytest.raises(ValueError, match=r"100 bytes.*240 bytes"):
            load_binary(tmp_path / "t.bin", mapped=mapped)


def test_bin_without_json(tmp_path):
    save_binary(tmp_path / "t.bin", stack())
    (tmp_path / "t.json").unlink()
    with pytest.raises(FileNotFoundError, match="t.json"):
        load_binary(tmp_path / "t.bin")


@pytest.mark.parametrize(
    "meta, match",
    [
        ({"frames": 1, "y": 2, "x": 2}, "dtype"),
        ({"y": 2, "x": 2, "dtype": "uint16"}, "frames"),
        ({"frames": 1, "y": -2, "x": 2, "dtype": "uint16"}, "'y'"),
        ({"frames": 1, "y": 2, "x": 2.5, "dtype": "uint16"}, "'x'"),
        ({"frames": 1, "y": 2, "x": 2, "dtype": "complex64"}, "complex"),
        ({"frames": 1, "y": 2, "x": 2, "dtype": "nonsense"}, "nonsense"),
        ([1, 2, 3], "object"),
    ],
)
def test_bad_json_sidecar(tmp_path, meta, match):
    (tmp_path / "b.bin").write_bytes(b"\0" * 8)
    (tmp_path / "b.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match=match):
        load_binary(tmp_path / "b.json")


def test_json_not_json(tmp_path):
    (tmp_path / "b.bin").write_bytes(b"\0" * 8)
    (tmp_path / "b.json").write_text("{frames: 1")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        load_binary(tmp_path / "b.bin")


@pytest.mark.parametrize("dtype", [np.complex64, object, bool, "U3"])
@pytest.mark.parametrize("writer", [save_images, save_binary, save_zarr, save_stack])
def test_unsupported_dtype(tmp_path, writer, dtype):
    images = np.zeros((2, 3, 3), dtype=dtype)
    name = "x.tif" if writer is save_stack else "x"
    with pytest.raises(TypeError, match="real numbers"):
        writer(tmp_path / name, images)
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "x"])


@pytest.mark.parametrize("bad", [np.arange(5), np.zeros((2, 2, 2, 2)), np.zeros((0, 3, 3))])
@pytest.mark.parametrize("writer", [save_images, save_binary, save_zarr])
def test_wrong_ndim_or_empty(tmp_path, writer, bad):
    with pytest.raises(ValueError, match="images"):
        writer(tmp_path / "x.zarr", bad)


def test_bad_size_cap(tmp_path):
    with pytest.raises(ValueError, match="size_cap"):
        save_images(tmp_path / "x.tif", stack(), size_cap=0)


def _read_only(folder: Path, monkeypatch) -> None:
    """Make ``folder`` unwritable; as root chmod is ignored, so refuse temp files instead."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import tempfile

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == folder:
                raise PermissionError(errno.EACCES, "Permission denied", str(folder))
            return real(*args, dir=dir, **kwargs)

        real = tempfile.mkstemp
        real_dir = tempfile.mkdtemp

        def refuse_dir(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == folder:
                raise PermissionError(errno.EACCES, "Permission denied", str(folder))
            return real_dir(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        monkeypatch.setattr(tempfile, "mkdtemp", refuse_dir)
    else:
        folder.chmod(0o555)


@pytest.mark.parametrize("suffix", [".tif", ".bin", ".zarr"])
def test_read_only_destination(tmp_path, monkeypatch, suffix):
    folder = tmp_path / "ro"
    folder.mkdir()
    old = stack((2, 4, 4))
    save_stack(folder / f"old{suffix}", old)
    _read_only(folder, monkeypatch)
    try:
        with pytest.raises(PermissionError):
            save_stack(folder / f"new{suffix}", stack())
        with pytest.raises(PermissionError):
            save_stack(folder / f"old{suffix}", stack(), overwrite=True)
    finally:
        folder.chmod(0o755)
    np.testing.assert_array_equal(open_stack(folder / f"old{suffix}", lazy=False), old)
    assert not (folder / f"new{suffix}").exists()


class _FullDisk:
    """File object wrapper that raises ENOSPC once ``limit`` bytes were written."""

    def __init__(self, handle, limit):
        self._handle, self._left = handle, limit

    def write(self, data):
        size = memoryview(data).nbytes
        if size > self._left:
            self._handle.write(memoryview(data).cast("B")[: self._left])
            self._left = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._left -= size
        return self._handle.write(data)

    def fileno(self):  # numpy.tofile would bypass write(); make it use write()
        import io

        raise io.UnsupportedOperation("fileno")

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)


def test_disk_full_binary_leaves_no_partial_file(tmp_path, monkeypatch):
    old = stack((2, 16, 16))
    save_binary(tmp_path / "rec.bin", old)
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        os, "fdopen", lambda fd, mode="r", **kw: _FullDisk(real_fdopen(fd, mode, **kw), 1000)
        if "b" in mode else real_fdopen(fd, mode, **kw)
    )
    with pytest.raises(OSError) as err:
        save_binary(tmp_path / "rec.bin", stack((50, 16, 16)))
    assert err.value.errno == errno.ENOSPC
    with pytest.raises(OSError):
        save_binary(tmp_path / "new.bin", stack((50, 16, 16)))
    monkeypatch.undo()
    np.testing.assert_array_equal(load_binary(tmp_path / "rec.bin"), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.bin", "rec.json"]


@pytest.mark.parametrize("lazy_input", [False, True])
def test_disk_full_tiff_leaves_no_partial_file(tmp_path, monkeypatch, lazy_input):
    old = stack((2, 16, 16))
    save_images(tmp_path / "rec.tif", old)
    written = {"n": 0}
    real_write = tifffile.FileHandle.write
    real_write_array = tifffile.FileHandle.write_array

    def count(n):
        written["n"] += n
        if written["n"] > 4000:
            raise OSError(errno.ENOSPC, "No space left on device")

    def write(self, data):
        count(len(memoryview(data).cast("B")))
        return real_write(self, data)

    def write_array(self, data, dtype=None):
        count(np.asarray(data).nbytes)
        return real_write_array(self, data, dtype)

    monkeypatch.setattr(tifffile.FileHandle, "write", write)
    monkeypatch.setattr(tifffile.FileHandle, "write_array", write_array)
    new = stack((50, 16, 16))
    if lazy_input:
        new = np.memmap(tmp_path.parent / f"{tmp_path.name}.mm", np.uint16, "w+", shape=new.shape)
    with pytest.raises(OSError) as err:
        save_images(tmp_path / "rec.tif", new)
    assert err.value.errno == errno.ENOSPC
    with pytest.raises(OSError):
        save_images(tmp_path / "other", new)
    monkeypatch.undo()
    np.testing.assert_array_equal(load_images(tmp_path / "rec.tif"), old)
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "other" / "images.tif").exists()
