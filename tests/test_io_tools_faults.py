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


def test_sigkill_mid_write_leaves_no_target(tmp_path):
    target = tmp_path / "fresh.tif"
    _kill_mid_write(target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
