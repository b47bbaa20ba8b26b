"""The tifffile-noise policy is scoped: nothing changes at import, the block restores state."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from CalSciPy._io.tiffnoise import ZERO_DATE_MESSAGE, quiet_tifffile

LIST = """
import importlib, json, sys
for name in %r:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] != "CalSciPy")))
"""

PROBE = """
import contextlib, importlib, json, logging, sys, warnings
# third-party modules first (they may install their own filters at import; not ours to judge)
for name in json.loads(sys.argv[1]):
    with contextlib.suppress(Exception):
        importlib.import_module(name)
import numpy as np
def state():
    logger = logging.getLogger("tifffile")
    return {"filters": [repr(f) for f in warnings.filters],
            "logger_filters": [type(f).__name__ for f in logger.filters],
            "level": logger.level, "disabled": logger.disabled,
            "errstate": np.geterr()}
before = state()
import importlib
for name in %r:
    importlib.import_module(name)
print(json.dumps({"before": before, "after": state()}))
"""

MODULES = ["CalSciPy", "CalSciPy.io_tools", "CalSciPy.bruker", "CalSciPy.bruker.data",
           "CalSciPy.bruker.session", "CalSciPy.bruker._tiffread", "CalSciPy.image_processing",
           "CalSciPy.cli"]


def test_import_changes_no_process_wide_state():
    # a fresh interpreter: this test process has imported everything long ago
    third_party = subprocess.run([sys.executable, "-c", LIST % (MODULES,)],
                                 capture_output=True, text=True, check=True).stdout
    out = subprocess.run([sys.executable, "-c", PROBE % (MODULES,), third_party.strip()],
                         capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["after"] == report["before"]


def _noise() -> None:
    logging.getLogger("tifffile").error(
        "<tifffile.read_uic_tag> reading CreateTime raised ValueError('%s (julianday=0)')",
        ZERO_DATE_MESSAGE)
    np.zeros(1) / np.zeros(1)  # what tifffile does with Bruker's zeroed UIC2 fields


def test_block_silences_only_the_bruker_noise_and_restores(caplog):
    logger = logging.getLogger("tifffile")
    filters, errstate = list(logger.filters), np.geterr()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING, logger="tifffile"):
            with quiet_tifffile(), quiet_tifffile():  # nests
                _noise()
                logger.warning("another tifffile message")
            assert [r.getMessage() for r in caplog.records] == ["another tifffile message"]
            assert seen == []
            _noise()  # outside the block everything is reported again
    assert any(ZERO_DATE_MESSAGE in r.getMessage() for r in caplog.records)
    assert [w.category for w in seen] == [RuntimeWarning]
    assert logger.filters == filters and np.geterr() == errstate


def test_concurrent_blocks_leave_no_filter_behind():
    logger = logging.getLogger("tifffile")
    filters = list(logger.filters)
    barrier = threading.Barrier(4)

    def work():
        for _ in range(50):
            with quiet_tifffile():
                barrier.wait(timeout=10) if _ == 0 else None
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    np.zeros(1) / np.zeros(1)  # quiet in this thread too

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert logger.filters == filters


def test_real_bruker_file_reads_without_noise(prairieview_fixtures, caplog):
    from CalSciPy.io_tools import load_images

    folder = prairieview_fixtures / "tseries_4plane_excerpt"
    first = sorted(folder.glob("*.ome.tif"))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING, logger="tifffile"):
            images = load_images(first)
    assert images.shape == (1, 256, 256)
    assert [r.getMessage() for r in caplog.records] == []
    with pytest.raises(Exception):  # noqa: B017  the noise is real without the block
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            import tifffile
            with tifffile.TiffFile(first, is_ome=False) as tif:
                tif.series[0].asarray()
                tif.stk_metadata  # noqa: B018
