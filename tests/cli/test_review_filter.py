"""``calscipy filter`` option errors name the option (review of issue 12, item 13)."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile

from CalSciPy.cli import main


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many"])
def test_block_size_error_names_the_option(tmp_path, capsys, value):
    # "-3" and "0" got filter_to_file's "block_size must be >= 1", not the option's name
    src = tmp_path / "a.tif"
    tifffile.imwrite(src, np.zeros((4, 6, 6), np.uint16), photometric="minisblack")
    with pytest.raises(SystemExit) as info:
        main(["filter", str(src), str(tmp_path / "b.tif"), "--median", "--block-size", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--block-size" in err and value in err
    assert not (tmp_path / "b.tif").exists()
