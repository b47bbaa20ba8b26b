"""``calscipy filter``: results equal the library calls, one error line, usage errors exit 2."""
from __future__ import annotations

import numpy as np
import pytest

from CalSciPy import io_tools
from CalSciPy.cli import main
from CalSciPy.image_processing import gaussian_filter, median_filter

RNG = np.random.default_rng(31)
STACK = RNG.integers(0, 3000, (17, 10, 12)).astype(np.uint16)


@pytest.fixture
def binary_stack(tmp_path):
    io_tools.save_binary(tmp_path / "raw.bin", STACK)
    return tmp_path / "raw.bin"


def test_cli_median_and_gaussian(tmp_path, binary_stack, capsys):
    dst = tmp_path / "median.tif"
    assert main(["filter", str(binary_stack), str(dst), "--median", "--no-progress"]) == 0
    assert np.array_equal(io_tools.load_images(dst), median_filter(STACK))
    assert "median.tif" in capsys.readouterr().out
    dst = tmp_path / "gauss.bin"
    assert main(["filter", str(binary_stack), str(dst), "--gaussian", "0,1,1.5",
                 "--block-size", "3", "--no-progress"]) == 0
    assert np.array_equal(io_tools.load_binary(dst), gaussian_filter(STACK, (0, 1, 1.5)))
    assert main(["filter", str(binary_stack), str(dst), "--gaussian", "2",
                 "--no-progress"]) == 1
    assert "overwrite" in capsys.readouterr().err
    assert main(["filter", str(binary_stack), str(dst), "--gaussian", "2", "--overwrite",
                 "--no-progress"]) == 0


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "one of the arguments --median --gaussian is required"),
        (["--median", "--gaussian", "1"],
         "argument --gaussian: not allowed with argument --median"),
        (["--gaussian", "1,2"], "argument --gaussian: give one sigma or 3 (frames,y,x), got '1,2'"),
    ],
)
def test_cli_usage_errors_exit_2_with_the_message(tmp_path, binary_stack, capsys, extra, message):
    with pytest.raises(SystemExit) as info:
        main(["filter", str(binary_stack), str(tmp_path / "o.bin"), *extra])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"calscipy filter: error: {message}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o.bin").exists()


def test_cli_missing_source_is_one_error_line(tmp_path, capsys):
    assert main(["filter", str(tmp_path / "nope.bin"), str(tmp_path / "o.bin"), "--median"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("calscipy filter: error:") and "nope.bin" in err[0]
