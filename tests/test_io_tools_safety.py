"""Nothing lost, nothing silently wrong (issue 12, the io_tools items).

Each test here failed on the code before the fix: a user's ``trial_01.tif`` deleted by
``save_images(folder / "trial.tif")``, mixed part sets read as one stack, ``mouse1.day2``
overwriting ``mouse1.bin``, SIGBUS on a full disk, a multi-plane PrairieView folder read as one
time series, ``save_zarr(chunks=10**9)`` allocating terabytes, bare codec/overflow errors.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from CalSciPy import io_tools
from CalSciPy._atomic import remove_stale_partials
from CalSciPy._io import tiff as _tiff
from CalSciPy._io import zarr as _zarr
from CalSciPy.cli import main as cli_main
from CalSciPy.errors import DataFormatError, InvalidArgumentError
from CalSciPy.io_tools import (
    create_binary,
    load_binary,
    load_images,
    load_zarr,
    save_binary,
    save_images,
    save_zarr,
)

PART_BYTES = 4 * 8 * 8  # size_cap giving 4 uint8 8x8 frames per part, in bytes


def stack(frames=12, seed=0, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 200, (frames, 8, 8)).astype(dtype)


def user_tiff(path: Path, seed: int) -> bytes:
    """A TIFF the user wrote themselves (not through CalSciPy); returns its bytes."""
    tifffile.imwrite(path, stack(2, seed), photometric="minisblack")
    return path.read_bytes()


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------ 12.1 only our own parts
def test_user_files_that_fit_the_part_names_are_not_deleted(tmp_path):
    names = [f"trial_{i:02d}.tif" for i in range(1, 13)] + ["trial_100.tif"]
    mine = {name: user_tiff(tmp_path / name, i) for i, name in enumerate(names)}
    images = stack()
    save_images(tmp_path / "trial.tif", images)  # default overwrite=True
    assert {name: (tmp_path / name).read_bytes() for name in names} == mine
    np.testing.assert_array_equal(load_images(tmp_path / "trial.tif"), images)


def test_a_save_that_would_replace_a_user_file_refuses_naming_it(tmp_path):
    mine = user_tiff(tmp_path / "trial_01.tif", 1)
    with pytest.raises(FileExistsError, match="trial_01.tif.*not written by CalSciPy"):
        save_images(tmp_path / "trial.tif", stack(), size_cap=PART_BYTES / 1e9)
    assert (tmp_path / "trial_01.tif").read_bytes() == mine
    assert visible(tmp_path) == ["trial_01.tif"] and hidden(tmp_path) == []


def test_resave_removes_our_stale_parts_only(tmp_path):
    mine = user_tiff(tmp_path / "rec_07.tif", 7)
    images = stack()
    save_images(tmp_path / "rec.tif", images, size_cap=PART_BYTES / 1e9)  # rec_00..rec_02
    assert visible(tmp_path) == ["rec_00.tif", "rec_01.tif", "rec_02.tif", "rec_07.tif"]
    save_images(tmp_path / "rec.tif", images[:5])  # one file now: our three parts go
    assert visible(tmp_path) == ["rec.tif", "rec_07.tif"]
    assert (tmp_path / "rec_07.tif").read_bytes() == mine
    with pytest.raises(FileExistsError, match="rec.tif"):
        save_images(tmp_path / "rec.tif", images, size_cap=PART_BYTES / 1e9, overwrite=False)
    assert visible(tmp_path) == ["rec.tif", "rec_07.tif"]


name_numbers = st.sets(st.integers(0, 120), max_size=6)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user_numbers=name_numbers, digits=st.sampled_from([2, 3]),
       first_parts=st.integers(1, 4), second_parts=st.integers(1, 4))
def test_user_files_survive_any_sequence_of_saves(tmp_path_factory, user_numbers, digits,
                                                  first_parts, second_parts):
    folder = tmp_path_factory.mktemp("saves")
    users = {f"s_{n:0{digits}d}.tif" for n in user_numbers}
    mine = {name: user_tiff(folder / name, i) for i, name in enumerate(sorted(users))}
    for parts, seed in ((first_parts, 1), (second_parts, 2)):
        images = stack(4 * parts, seed)
        ours = ({"s.tif"} if parts == 1 else {f"s_{i:02d}.tif" for i in range(parts)})
        before = set(visible(folder))
        if ours & users:
            with pytest.raises(FileExistsError, match="not written by CalSciPy"):
                save_images(folder / "s.tif", images, size_cap=PART_BYTES / 1e9)
            assert set(visible(folder)) == before
            continue
        save_images(folder / "s.tif", images, size_cap=PART_BYTES / 1e9)
        # exactly the new stack and the user's files: earlier parts of ours are gone
        assert set(visible(folder)) == ours | users
        read = [load_images(folder / name) for name in sorted(ours, key=_natural)]
        np.testing.assert_array_equal(np.concatenate(read), images)
    assert {name: (folder / name).read_bytes() for name in users} == mine
    assert hidden(folder) == []


def _natural(name: str):
    return _tiff.natural_key(Path(name))


# ------------------------------------------------------------ 12.2 part sets atomic, checked
def _ten_parts(folder: Path, seed: int) -> np.ndarray:
    images = stack(40, seed)
    folder.mkdir(exist_ok=True)
    save_images(folder / "run.tif", images, size_cap=PART_BYTES / 1e9)
    assert len(visible(folder)) == 10
    return images


def test_mixed_part_set_is_an_error_naming_it(tmp_path):
    _ten_parts(tmp_path / "a", 1)
    _ten_parts(tmp_path / "b", 2)
    for name in ("run_00.tif", "run_01.tif"):  # 2 new parts beside 8 old ones
        shutil.copy2(tmp_path / "b" / name, tmp_path / "a" / name)
    with pytest.raises(DataFormatError, match=r"mixed set of parts of the stack 'run'.*"
                                              r"run_00.tif, run_01.tif"):
        load_images(tmp_path / "a")
    with pytest.raises(DataFormatError, match="mixed set"):
        io_tools.TiffStack.open(tmp_path / "a")
    with pytest.raises(DataFormatError, match="mixed set"):
        io_tools.convert_images(tmp_path / "a", tmp_path / "out.bin")


def test_incomplete_part_set_is_an_error_naming_the_missing_part(tmp_path):
    images = _ten_parts(tmp_path / "a", 1)
    (tmp_path / "a" / "run_03.tif").unlink()
    with pytest.raises(DataFormatError, match=r"incomplete set.*run_03.tif \(1 of 10"):
        load_images(tmp_path / "a")
    # single files are still readable one by one
    np.testing.assert_array_equal(load_images(tmp_path / "a" / "run_04.tif"), images[16:20])


def test_failed_split_save_keeps_the_whole_old_set(tmp_path, monkeypatch):
    old = _ten_parts(tmp_path, 1)
    real, calls = _tiff._write_tiff, {"n": 0}

    def fail_third(file, images, bar, record=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(file, images, bar, record)

    monkeypatch.setattr(_tiff, "_write_tiff", fail_third)
    with pytest.raises(OSError) as err:
        save_images(tmp_path / "run.tif", stack(40, 2), size_cap=PART_BYTES / 1e9)
    assert err.value.errno == errno.ENOSPC and "run_02.tif" in str(err.value)
    assert ".partial" not in str(err.value)  # the target, not the hidden temporary file
    monkeypatch.undo()
    np.testing.assert_array_equal(load_images(tmp_path), old)
    assert hidden(tmp_path) == []


# -------------------------------------------------------------- 12.3 one rule for binary paths
def test_dotted_binary_name_is_a_folder_not_another_datasets_file(tmp_path):
    other = stack(3, 9, np.uint16)
    save_binary(tmp_path / "mouse1.bin", other)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    images = stack(5, 1, np.uint16)
    save_binary(tmp_path / "mouse1.day2", images)
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in (tmp_path / "mouse1.day2").iterdir()) == [
        "binary_video.bin", "binary_video.json"]
    np.testing.assert_array_equal(load_binary(tmp_path / "mouse1.day2"), images)
    np.testing.assert_array_equal(load_binary(tmp_path / "mouse1.bin"), other)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(NotADirectoryError, match="notes.txt"):
        save_binary(tmp_path / "notes.txt", images)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@settings(max_examples=40, deadline=None)
@given(stem=st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
       suffix=st.from_regex(r"\.[A-Za-z0-9]{1,5}", fullmatch=True))
def test_binary_paths_rule(stem, suffix):
    bin_path, json_path = io_tools_binary_paths(Path("/nonexistent") / f"{stem}{suffix}")
    if suffix.lower() in (".bin", ".json"):
        assert (bin_path.name, json_path.name) == (f"{stem}.bin", f"{stem}.json")
    else:  # never the stem's own pair: another dataset's files
        assert bin_path.parent.name == f"{stem}{suffix}"
        assert (bin_path.name, json_path.name) == ("binary_video.bin", "binary_video.json")


def io_tools_binary_paths(path):
    from CalSciPy._io.binary import binary_paths

    return binary_paths(path)


# ------------------------------------------------------- 12.4 full disk: no SIGBUS, no leftovers
def test_create_binary_on_full_disk_is_an_oserror_naming_the_target(tmp_path, monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    with pytest.raises(OSError) as err:
        with create_binary(tmp_path / "big.bin", (100, 64, 64), np.uint16):
            pytest.fail("the body must not run without the space reserved")
    assert err.value.errno == errno.ENOSPC
    assert "big.bin" in str(err.value) and ".partial" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (root and a kernel that allows the mount), else skip."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a real full disk needs root to mount a 1 MiB tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_real_full_disk(tiny_disk):
    big = np.ones((40, 128, 128), np.uint16)  # 1.25 MiB: does not fit
    with pytest.raises(OSError) as err:
        with create_binary(tiny_disk / "big.bin", big.shape, big.dtype) as out:
            out[:] = big  # with a sparse file this was SIGBUS
    assert err.value.errno == errno.ENOSPC and "big.bin" in str(err.value)
    for writer, target in ((save_binary, "b.bin"), (save_images, "t.tif")):
        with pytest.raises(OSError) as err:
            writer(tiny_disk / target, big)
        assert err.value.errno == errno.ENOSPC
        assert target in str(err.value) and ".partial" not in str(err.value)
    assert list(tiny_disk.iterdir()) == []
    small = big[:2]
    save_images(tiny_disk / "t.tif", small)  # the disk is usable again: nothing left behind
    np.testing.assert_array_equal(load_images(tiny_disk / "t.tif"), small)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftover_partials_of_killed_writers_are_removed_on_next_write(tmp_path):
    from CalSciPy._atomic import _HOST

    dead = tmp_path / f".rec.bin.{_HOST}-{_dead_pid()}.abc123.partial"
    dead.mkdir()
    (dead / "rec.bin").write_bytes(b"x" * 100)
    alive = tmp_path / f".rec.bin.{_HOST}-{os.getpid()}.def456.partial"  # a running writer
    alive.write_bytes(b"y")
    foreign = tmp_path / f".rec.bin.ffffff-{_dead_pid()}.ghi789.partial"  # another host
    foreign.write_bytes(b"z")
    other_target = tmp_path / f".rec.bin.json.{_HOST}-{_dead_pid()}.jkl012.partial"
    other_target.write_bytes(b"w")
    save_binary(tmp_path / "rec.bin", stack(2, 0, np.uint16))
    assert not dead.exists()
    assert alive.exists() and foreign.exists() and other_target.exists()
    assert remove_stale_partials(tmp_path / "rec.bin.json") == [other_target]


# ------------------------------------------------------------ 12.5 PrairieView folders
def test_multiplane_prairieview_folder_is_not_one_time_series(volume_session):
    with pytest.raises(DataFormatError, match=r"3 images per cycle.*load_bruker_tifs.*"
                                              r"--channel C --plane P"):
        load_images(volume_session.folder)


# ------------------------------------------------------------ 12.12 zarr chunks bounded
def test_zarr_chunks_bounded_by_the_data(tmp_path, monkeypatch):
    images = stack(20, 1, np.uint16)
    save_zarr(tmp_path / "a.zarr", images, chunks=10**9)  # asked for 1.86 TiB
    lazy = load_zarr(tmp_path / "a.zarr")
    assert lazy.chunks == ((20,), (8,), (8,))
    np.testing.assert_array_equal(np.asarray(lazy), images)
    save_zarr(tmp_path / "b.zarr", images, chunks=(3, 10**6, 10**6))
    assert load_zarr(tmp_path / "b.zarr").chunks[0][:2] == (3, 3)
    monkeypatch.setattr(_zarr, "MAX_CHUNK_BYTES", 500)
    with pytest.raises(InvalidArgumentError, match="chunks"):
        save_zarr(tmp_path / "c.zarr", images, chunks=5)  # 5 frames = 640 bytes
    assert not (tmp_path / "c.zarr").exists()
    for bad in (0, (1, 0, 8), (1, 8)):
        with pytest.raises(InvalidArgumentError, match="chunks"):
            save_zarr(tmp_path / "d.zarr", images, chunks=bad)
    with pytest.raises(TypeError, match="chunks"):
        save_zarr(tmp_path / "d.zarr", images, chunks=(1.5, 8, 8))


# ------------------------------------------------------------ 12.13 one clear error each
def _corrupt_one_chunk(store: Path) -> None:
    chunks = sorted(p for p in store.rglob("*") if p.is_file()
                    and p.name not in ("zarr.json", ".zarray", ".zattrs", ".zgroup"))
    data = bytearray(chunks[1].read_bytes())
    data[len(data) // 2:] = bytes(len(data) - len(data) // 2)
    chunks[1].write_bytes(bytes(data))


def test_corrupt_zarr_chunk_names_the_store(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    save_zarr(store, stack(20, 1, np.uint16), chunks=4)
    _corrupt_one_chunk(store)
    with pytest.raises(DataFormatError, match=r"s\.zarr.*corrupt"):
        load_zarr(store, lazy=False)
    with pytest.raises(DataFormatError, match=r"s\.zarr.*frames \d+:\d+"):
        np.asarray(load_zarr(store))
    code = cli_main(["filter", str(store), str(tmp_path / "out.tif"), "--median",
                     "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "s.zarr" in err and "Traceback" not in err
    assert visible(tmp_path) == ["s.zarr"]


@pytest.mark.parametrize("frames", [2**64, 2**63, 2**62])
def test_binary_sidecar_with_absurd_size(tmp_path, frames):
    save_binary(tmp_path / "a.bin", stack(2, 0, np.uint16))
    meta = json.loads((tmp_path / "a.json").read_text())
    meta["frames"] = frames
    (tmp_path / "a.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match=r"a\.json"):
        load_binary(tmp_path / "a.bin")
    with pytest.raises(DataFormatError, match=r"a\.json"):
        load_binary(tmp_path / "a.bin", mapped=True)


def test_filter_to_file_dst_none_names_dst(tmp_path):
    from CalSciPy.image_processing import filter_to_file

    save_images(tmp_path / "a.tif", stack())
    for src in (tmp_path / "a.tif", stack()):
        with pytest.raises(TypeError, match="dst"):
            filter_to_file(src, None)


# ------------------------------------------- 12.15 argument values: ValueError and AssertionError
@pytest.mark.parametrize("call", [
    lambda d: save_images(d / "a.tif", stack(), size_cap=-1),
    lambda d: save_images(d / "a.png", stack()),
    lambda d: save_zarr(d / "a.zarr", stack(), chunks=0),
    lambda d: load_binary(d / "a.bin", mode="w"),
    lambda d: create_binary(d / "a.bin", (0, 4, 4), np.uint16).__enter__(),
    lambda d: list(io_tools_iter_blocks(stack(), 0)),
    lambda d: io_tools.save_stack(d / "a.day2", stack()),
])
def test_invalid_argument_values_are_value_and_assertion_errors(tmp_path, call):
    save_binary(tmp_path / "a.bin", stack(2, 0, np.uint16))
    with pytest.raises(InvalidArgumentError) as err:
        call(tmp_path)
    assert isinstance(err.value, ValueError) and isinstance(err.value, AssertionError)


def io_tools_iter_blocks(images, n):
    from CalSciPy._io.source import iter_frame_blocks

    return iter_frame_blocks(images, n)


def test_save_stack_tif_replaces_our_split_stack_as_a_whole(tmp_path):
    mine = user_tiff(tmp_path / "rec_05.tif", 5)
    save_images(tmp_path / "rec.tif", stack(), size_cap=PART_BYTES / 1e9)  # rec_00..rec_02
    with pytest.raises(FileExistsError, match="rec_00.tif"):
        io_tools.save_stack(tmp_path / "rec.tif", stack(3))  # new writers: overwrite=False
    new = stack(3, 4)
    io_tools.save_stack(tmp_path / "rec.tif", new, overwrite=True)
    assert visible(tmp_path) == ["rec.tif", "rec_05.tif"]  # no mixed set left behind
    assert (tmp_path / "rec_05.tif").read_bytes() == mine
    np.testing.assert_array_equal(load_images(tmp_path / "rec.tif"), new)


@settings(max_examples=200, deadline=None)
@given(parts=st.integers(1, 6), data=st.data())
def test_part_set_check_property(parts, data):
    """Refused exactly when saves are mixed, a part repeats, or (whole folder) one is missing."""
    present = data.draw(st.lists(st.integers(0, parts - 1), max_size=8), label="parts present")
    sets = data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=len(present),
                              max_size=len(present)), label="save of each")
    complete = data.draw(st.booleans(), label="complete")
    files = [Path(f"/data/s_{i:02d}_{k}.tif") for k, i in enumerate(present)]
    records = [{"kind": _tiff.PART_KIND, "stem": "s", "set": set_id, "part": i, "parts": parts,
                "frames": 1} for i, set_id in zip(present, sets)]
    files.append(Path("/data/mine.tif"))  # a file without a record is never judged
    records.append(None)
    mixed = len(set(sets)) > 1
    repeated = len(set(present)) < len(present)
    missing = complete and bool(present) and set(present) != set(range(parts))
    if mixed or repeated or missing:
        with pytest.raises(DataFormatError, match="'s'"):
            _tiff.check_part_sets(files, records, complete=complete)
    else:
        _tiff.check_part_sets(files, records, complete=complete)
