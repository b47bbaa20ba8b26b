"""Fixtures of the roi_tools tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def suite2p_fixture(shared_fixtures):
    folder = shared_fixtures / "suite2p" / "plane0"
    if not (folder / "stat.npy").is_file():
        pytest.skip(f"real suite2p output not available: {folder} does not exist")
    return folder
