"""Review findings in the TIFF/binary writers (issue 12 follow-up).

Each test failed on the code as first delivered.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from CalSciPy.io_tools import load_images, save_images

STACK = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(new_name=st.sampled_from(["trial_00.tif", "trial_01.tif", "trial_12.tif",
                                 "trial_100.tif", "trial_day1.tif", "trial_1.tif"]))
def test_a_renamed_earlier_save_is_the_users_file(tmp_path_factory, new_name):
    # save, keep the result under another name, save again: the kept file was deleted as a
    # stale part (names fitting <stem>_NN) or the folder was called a mixed set of parts
    folder = tmp_path_factory.mktemp("renamed")
    save_images(folder / "trial.tif", STACK, progress=False)
    os.rename(folder / "trial.tif", folder / new_name)
    save_images(folder / "trial.tif", STACK + 1, progress=False)
    assert sorted(os.listdir(folder)) == sorted(["trial.tif", new_name])
    np.testing.assert_array_equal(load_images(folder / new_name), STACK)
    np.testing.assert_array_equal(load_images(folder / "trial.tif"), STACK + 1)
    loaded = load_images(folder, progress=False)
    assert loaded.shape == (6, 4, 5)


def test_a_renamed_part_of_a_split_save_is_left_alone(tmp_path):
    frame_gb = STACK[0].nbytes / 1e9
    save_images(tmp_path / "trial.tif", STACK, size_cap=frame_gb, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["trial_00.tif", "trial_01.tif", "trial_02.tif"]
    os.rename(tmp_path / "trial_02.tif", tmp_path / "trial_07.tif")
    save_images(tmp_path / "trial.tif", STACK[:1], progress=False)
    # the two parts still at their saved names are stale and go; the renamed one stays
    assert sorted(os.listdir(tmp_path)) == ["trial.tif", "trial_07.tif"]
    np.testing.assert_array_equal(load_images(tmp_path / "trial_07.tif"), STACK[2:])


def _refuse_temporaries(monkeypatch):
    """Make creating any temporary file fail as a folder without write permission does."""
    import tempfile

    def refuse(*args, prefix="", suffix="", dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(dir, f"{prefix}x{suffix}"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)


@pytest.mark.parametrize("write", ["tiff", "tiff_split", "binary", "zarr"])
def test_an_unwritable_folder_is_named_not_the_hidden_temporary(tmp_path, monkeypatch, write):
    # the error named '.trial.tif.<host>-<pid>.<random>.partial', a file the user never sees
    from CalSciPy.io_tools import save_binary, save_zarr

    calls = {
        "tiff": lambda: save_images(tmp_path / "trial.tif", STACK, progress=False),
        "tiff_split": lambda: save_images(tmp_path / "trial.tif", STACK,
                                          size_cap=STACK[0].nbytes / 1e9, progress=False),
        "binary": lambda: save_binary(tmp_path / "trial.bin", STACK, progress=False),
        "zarr": lambda: save_zarr(tmp_path / "trial.zarr", STACK),
    }
    _refuse_temporaries(monkeypatch)
    with pytest.raises(PermissionError) as caught:
        calls[write]()
    message = str(caught.value)
    assert ".partial" not in message
    assert str(tmp_path / "trial") in message
    assert caught.value.errno == 13
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_a_folder_refusing_new_files_is_named(tmp_path):
    # /proc exists but no file can be created in it: a real failure of the temporary file
    with pytest.raises(OSError) as caught:
        save_images("/proc/calscipy-review.tif", STACK, progress=False)
    assert ".partial" not in str(caught.value)
    assert "/proc/calscipy-review.tif" in str(caught.value)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.floats(0.5, 50).filter(lambda v: v != int(v)) | st.just(True)
       | st.sampled_from(["3", np.float64(2.5)]),
       axis=st.integers(0, 2))
def test_create_binary_refuses_a_shape_that_is_not_whole_numbers(tmp_path_factory, bad, axis):
    # (10.7, 4, 4) silently made a 10-frame stack; True made one of 1
    from CalSciPy.io_tools import create_binary

    folder = tmp_path_factory.mktemp("shape")
    shape = [3, 4, 5]
    shape[axis] = bad
    with pytest.raises(TypeError, match=rf"shape\[{axis}\]"):
        with create_binary(folder / "x.bin", tuple(shape), np.uint16):
            pass
    assert os.listdir(folder) == []


@pytest.mark.parametrize("pid", ["99999999999999999999", "9" * 200])
def test_a_leftover_with_an_impossible_pid_does_not_block_writes(tmp_path, pid):
    # os.kill(pid, 0) raised OverflowError: every later save of the target failed
    from CalSciPy._atomic import _HOST
    from CalSciPy.io_tools import save_binary

    odd = tmp_path / f".rec.bin.{_HOST}-{pid}.abc123.partial"
    odd.write_bytes(b"x")
    save_binary(tmp_path / "rec.bin", STACK, progress=False)
    assert odd.exists()  # not ours to judge: left alone


@pytest.mark.parametrize("shape,chunks", [((10**9, 4, 4), (1, 4, 4)),
                                          ((10**9, 4, 4), (1, 2, 2)),
                                          ((10**6, 1000, 1000), (1, 1, 1)),
                                          ((10**9, 3), (1, 1))])
def test_load_zarr_bounds_the_dask_graph_of_untrusted_metadata(tmp_path, shape, chunks):
    # a store's metadata (a few hundred bytes) claiming 10**9 one-frame chunks made
    # load_zarr build a 10**9-block dask graph: tens of GB before anything was read
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("dask.array")
    from CalSciPy._io.zarr import MAX_DASK_BLOCKS
    from CalSciPy.io_tools import load_zarr

    store = tmp_path / "claims.zarr"
    z = zarr.open_array(str(store), mode="w", shape=shape, chunks=chunks, dtype="uint16")
    lazy = load_zarr(store)
    assert lazy.shape == (shape if len(shape) == 3 else (1, *shape))
    assert math.prod(lazy.numblocks) <= MAX_DASK_BLOCKS
    if shape[1:] == (4, 4):  # small frames: read back through the coarser blocks
        z[1] = 7
        np.testing.assert_array_equal(lazy[:3, :2, :2].compute(),
                                      np.array([0, 7, 0], np.uint16)[:, None, None]
                                      * np.ones((3, 2, 2), np.uint16))


def test_load_zarr_keeps_the_stored_chunks_of_an_ordinary_store(tmp_path):
    pytest.importorskip("zarr")
    pytest.importorskip("dask.array")
    from CalSciPy.io_tools import load_zarr, save_zarr

    save_zarr(tmp_path / "s.zarr", STACK, chunks=(1, 2, 5))
    lazy = load_zarr(tmp_path / "s.zarr")
    assert lazy.chunks == ((1, 1, 1), (2, 2), (5,))
    np.testing.assert_array_equal(lazy.compute(), STACK)


def test_a_leftover_of_another_pid_namespace_with_the_same_hostname_is_left_alone(tmp_path):
    # containers sharing a hostname and a folder (docker --network host) have separate pid
    # namespaces: the other writer's pid looks dead here, and its live temporary file was
    # deleted as a leftover
    import socket

    from CalSciPy._atomic import _HOST, _machine_token, remove_stale_partials

    other = _machine_token(socket.gethostname(), "pid:[4026500001]")
    if other == _HOST:
        pytest.skip("this process runs in the namespace used as the other one")
    live_elsewhere = tmp_path / f".rec.bin.{other}-{2**22 + 12345}.abc123.partial"
    live_elsewhere.write_bytes(b"x")
    assert remove_stale_partials(tmp_path / "rec.bin") == []
    assert live_elsewhere.exists()
