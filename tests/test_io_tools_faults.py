"""Crash safety of the io_tools writers: a writer killed with SIGKILL mid-write.

The child process streams a stack from a deliberately slow lazy source, so the kill is sure to
land while the temporary file is half written. Afterwards the target name must either not
exist or still hold the previous complete content.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from CalSciPy.io_tools import load_binary, load_images, load_zarr, open_stack, save_stack

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX-only")

CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from CalSciPy.io_tools import save_stack

    class SlowStack:  # a lazy source: every block takes a while to "compute"
        shape = (1024, 256, 256)  # 128 MiB of uint16, two 64 MiB blocks
        dtype = np.dtype(np.uint16)
        ndim = 3

        def __getitem__(self, key):
            n = len(range(*key.indices(self.shape[0])))
            time.sleep(0.5)
            return np.full((n, 256, 256), 7, np.uint16)

    print("start", flush=True)
    save_stack(sys.argv[1], SlowStack(), overwrite=True, progress=False)
    print("done", flush=True)
    """
)


def _partial_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()
               and any(".partial" in part for part in p.relative_to(folder).parts))


def _kill_mid_write(target: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(target)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "start"
        deadline = time.monotonic() + 60
        while _partial_bytes(target.parent) == 0:  # first block on disk, second still coming
            assert child.poll() is None, "writer finished before it could be killed"
            assert time.monotonic() < deadline, "writer never started writing"
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("suffix", [".bin", ".tif", ".zarr"])
def test_sigkill_mid_write_keeps_previous_content(tmp_path, suffix):
    target = tmp_path / f"stack{suffix}"
    previous = np.arange(2 * 8 * 8, dtype=np.uint16).reshape(2, 8, 8)
    save_stack(target, previous)
    _kill_mid_write(target)
    np.testing.assert_array_equal(open_stack(target, lazy=False), previous)
    if suffix == ".bin":
        np.testing.assert_array_equal(load_binary(target), previous)
    elif suffix == ".tif":
        np.testing.assert_array_equal(load_images(tmp_path), previous)  # temp data ignored
    else:
        np.testing.assert_array_equal(load_zarr(target, lazy=False), previous)
    # the killed writer's temporary data are removed by the next write of the same target
    assert _partial_bytes(tmp_path) > 0
    save_stack(target, previous[:1], overwrite=True)
    assert _partial_bytes(tmp_path) == 0
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_sigkill_mid_write_leaves_no_target(tmp_path):
    target = tmp_path / "fresh.tif"
    _kill_mid_write(target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


SPLIT_CHILD = CHILD.replace(
    "save_stack(sys.argv[1], SlowStack(), overwrite=True, progress=False)",
    "from CalSciPy.io_tools import save_images\n"
    "save_images(sys.argv[1], SlowStack(), size_cap=256 * 256 * 2 * 200 / 1e9, progress=False)",
)


def test_sigkill_mid_split_save_keeps_the_whole_previous_set(tmp_path):
    """Overwriting a 10-part stack and killing the writer midway: the old set, whole.

    Before, each part was renamed into place as soon as it was written, so a kill left new
    parts beside old ones and the folder read back as a silent mix of both stacks.
    """
    from CalSciPy._io.common import natural_key
    from CalSciPy.io_tools import save_images

    previous = np.arange(20 * 8 * 8, dtype=np.uint16).reshape(20, 8, 8)
    save_images(tmp_path / "run.tif", previous, size_cap=2 * 8 * 8 * 2 / 1e9)  # 10 parts
    names = sorted((p.name for p in tmp_path.iterdir()), key=lambda n: natural_key(Path(n)))
    assert len(names) == 10
    child = subprocess.Popen([sys.executable, "-c", SPLIT_CHILD, str(tmp_path / "run.tif")],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "start"
        deadline = time.monotonic() + 60
        while _partial_bytes(tmp_path) == 0:
            assert child.poll() is None, "writer finished before it could be killed"
            assert time.monotonic() < deadline, "writer never started writing"
            time.sleep(0.005)
        time.sleep(0.2)  # well into the set: some parts complete under temporary names
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        names)
    np.testing.assert_array_equal(load_images(tmp_path), previous)
    assert _partial_bytes(tmp_path) > 0  # the killed writer could not clean up...
    save_images(tmp_path / "run.tif", previous[:3])
    assert _partial_bytes(tmp_path) == 0  # ...the next save of the same stack did
    assert [p.name for p in tmp_path.iterdir()] == ["run.tif"]
    np.testing.assert_array_equal(load_images(tmp_path), previous[:3])
