"""``calscipy filter`` on PrairieView folders and broken stacks (issue 12, items 5 and 13).

A multi-plane PrairieView folder is filtered one plane at a time through the session reader
(``--channel``/``--plane``), never as one interleaved folder of TIFFs; every failure is one line
on stderr (a corrupt Zarr chunk printed two tracebacks before).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from CalSciPy.cli import main as cli_main
from CalSciPy.io_tools import load_images, save_images, save_zarr


def stack(frames=12, seed=0, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 200, (frames, 8, 8)).astype(dtype)


def _corrupt_one_chunk(store: Path) -> None:
    chunks = sorted(p for p in store.rglob("*") if p.is_file()
                    and p.name not in ("zarr.json", ".zarray", ".zattrs", ".zgroup"))
    data = bytearray(chunks[1].read_bytes())
    data[len(data) // 2:] = bytes(len(data) - len(data) // 2)
    chunks[1].write_bytes(bytes(data))


def test_cli_filter_prairieview_plane(volume_session, tmp_path, capsys):
    from scipy import ndimage

    dst = tmp_path / "plane1.tif"
    code = cli_main(["filter", str(volume_session.folder), str(dst), "--median",
                     "--plane", "1", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    plane = volume_session.images[:, 1, 0]
    np.testing.assert_array_equal(load_images(dst),
                                  ndimage.median_filter(plane, size=3, mode="reflect"))
    code = cli_main(["filter", str(volume_session.folder), str(tmp_path / "x.tif"), "--median"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "--channel C --plane P" in err
    assert not (tmp_path / "x.tif").exists()
    code = cli_main(["filter", str(volume_session.folder), str(tmp_path / "y.tif"), "--median",
                     "--plane", "7"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "plane" in err


def test_cli_channel_plane_need_a_prairieview_folder(tmp_path, capsys):
    save_images(tmp_path / "a.tif", stack())
    code = cli_main(["filter", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "--median",
                     "--channel", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "PrairieView" in err and err.count("\n") == 1


def test_cli_filter_corrupt_zarr_prints_one_line_in_a_real_process(tmp_path):
    store = tmp_path / "s.zarr"
    save_zarr(store, stack(20, 1, np.uint16), chunks=4)
    _corrupt_one_chunk(store)
    done = subprocess.run([sys.executable, "-m", "CalSciPy", "filter", str(store),
                           str(tmp_path / "o.bin"), "--median", "--no-progress"],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
