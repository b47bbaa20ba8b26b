"""Shared test fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

# Tests never open windows; the Tk screenshot test opts back in explicitly.
os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use(os.environ["MPLBACKEND"], force=True)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures`` (real PrairieView files); skips the test when it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real fixtures not available: {SHARED_FIXTURES} does not exist")
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def prairieview_fixtures(shared_fixtures: Path) -> Path:
    """``../shared/fixtures/prairieview``."""
    folder = shared_fixtures / "prairieview"
    if not folder.is_dir():
        pytest.skip(f"real PrairieView fixtures not available: {folder} does not exist")
    return folder


@pytest.fixture(scope="module")
def volume_session(tmp_path_factory):
    """A synthetic PrairieView session of 5 volumes of 3 planes (8x10 px, one channel)."""
    from CalSciPy.synthetic import write_prairieview_session

    rng = np.random.default_rng(3)
    images = rng.integers(0, 4000, (5, 3, 1, 8, 10), dtype=np.uint16)  # 5 volumes of 3 planes
    return write_prairieview_session(tmp_path_factory.mktemp("pv") / "vol", images,
                                     voltage=False)
