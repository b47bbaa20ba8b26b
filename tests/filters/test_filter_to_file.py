"""Out-of-core filtering into files (memmap, Zarr, TIFF); the CLI is tested in tests/cli."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from CalSciPy import io_tools
from CalSciPy.image_processing import filter_to_file, gaussian_filter, median_filter

RNG = np.random.default_rng(31)
STACK = RNG.integers(0, 3000, (17, 10, 12)).astype(np.uint16)


@pytest.fixture
def binary_stack(tmp_path):
    io_tools.save_binary(tmp_path / "raw.bin", STACK)
    return tmp_path / "raw.bin"


def test_memmap_to_binary_in_blocks(tmp_path, binary_stack):
    source = io_tools.load_binary(binary_stack, mapped=True)
    assert isinstance(source, np.memmap)
    written = filter_to_file(source, tmp_path / "out.bin", block_size=4, progress=False)
    result = io_tools.load_binary(written)
    assert result.dtype == STACK.dtype
    assert np.array_equal(result, median_filter(STACK))
    assert np.array_equal(np.asarray(source), STACK)  # source untouched


@pytest.mark.parametrize("suffix", [".tif", ".zarr", ".bin"])
def test_paths_of_every_format(tmp_path, binary_stack, suffix):
    pytest.importorskip("zarr")
    src = tmp_path / f"src{suffix}"
    io_tools.save_stack(src, STACK, progress=False)
    dst = tmp_path / f"dst{suffix}"
    filter_to_file(src, dst, "gaussian", sigma=(1.0, 0.5, 0.5), block_size=5, progress=False)
    result = np.asarray(io_tools.open_stack(dst, lazy=False))
    assert np.array_equal(result, gaussian_filter(STACK, sigma=(1.0, 0.5, 0.5)))


def test_zarr_array_source(tmp_path):
    zarr = pytest.importorskip("zarr")
    store = zarr.open_array(str(tmp_path / "z.zarr"), mode="w", shape=STACK.shape,
                            chunks=(3, 10, 12), dtype=STACK.dtype)
    store[:] = STACK
    filter_to_file(store, tmp_path / "out.tif", block_size=2, progress=False)
    assert np.array_equal(io_tools.load_images(tmp_path / "out.tif"), median_filter(STACK))


def test_refuses_to_overwrite_and_bad_arguments(tmp_path, binary_stack):
    dst = tmp_path / "out.bin"
    filter_to_file(binary_stack, dst, progress=False)
    with pytest.raises(FileExistsError):
        filter_to_file(binary_stack, dst, progress=False)
    filter_to_file(binary_stack, dst, "gaussian", overwrite=True, progress=False)
    assert np.array_equal(io_tools.load_binary(dst), gaussian_filter(STACK))
    with pytest.raises(ValueError, match="same path"):
        filter_to_file(binary_stack, binary_stack, overwrite=True, progress=False)
    with pytest.raises(ValueError, match="filter"):
        filter_to_file(binary_stack, tmp_path / "x.bin", "mean", progress=False)
    with pytest.raises(FileNotFoundError):
        filter_to_file(tmp_path / "missing.bin", tmp_path / "x.bin", progress=False)
    with pytest.raises(ValueError, match="frames, y, x"):
        filter_to_file(np.zeros((3, 4)), tmp_path / "x.bin", progress=False)
    with pytest.raises(ValueError, match="backend"):
        filter_to_file(binary_stack, tmp_path / "x.bin", backend="dask", progress=False)
    with pytest.raises(ValueError, match="block_size"):
        filter_to_file(binary_stack, tmp_path / "x.bin", block_size=0, progress=False)
    assert not (tmp_path / "x.bin").exists()


_MEMORY_CHILD = """
import sys
import numpy as np
from CalSciPy.io_tools import load_binary
from CalSciPy.image_processing import filter_to_file, median_filter

def status(key):
    with open("/proc/self/status") as handle:
        return next(int(r.split()[1]) // 1024 for r in handle if r.startswith(key))

median_filter(np.zeros((3, 4, 4), np.uint16))  # load the kernel before the baseline
base = status("VmRSS:")
filter_to_file(load_binary(sys.argv[1], mapped=True), sys.argv[2], block_size=32,
               progress=False)
print(base, status("VmHWM:"))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_out_of_core_memory_is_bounded(tmp_path):
    # 600 MB source: if its pages (or the output) stayed resident the peak would grow by that
    frames, shape = 4600, (256, 256)
    pool = RNG.integers(0, 4000, (50, *shape)).astype(np.uint16)
    with io_tools.create_binary(tmp_path / "big.bin", (frames, *shape), np.uint16) as stack:
        for start in range(0, frames, 50):
            stack[start:start + 50] = pool
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(tmp_path / "big.bin"),
         str(tmp_path / "out.bin")],
        check=True, capture_output=True, text=True,
    )
    base_mb, peak_mb = map(int, out.stdout.split())
    assert peak_mb - base_mb < 300, (base_mb, peak_mb)
    result = io_tools.load_binary(tmp_path / "out.bin", mapped=True, mode="r")
    # frames 48..52 span a seam of the cycled pool; their neighbourhoods are frames 47..53
    window = pool[[47, 48, 49, 0, 1, 2, 3]]
    assert np.array_equal(result[48:53], median_filter(window)[1:6])
