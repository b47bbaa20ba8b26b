"""Tests of CalSciPy._gc.paused_gc: the collector is paused inside, restored after (also on
errors, nested, and when it was already disabled)."""
from __future__ import annotations

import gc

import pytest

from CalSciPy._gc import paused_gc


@pytest.fixture(autouse=True)
def _restore_gc():
    enabled = gc.isenabled()
    yield
    (gc.enable if enabled else gc.disable)()


def test_paused_inside_restored_after_even_on_error():
    gc.enable()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():  # nested: the inner block must not re-enable it
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), paused_gc():
        raise KeyError("x")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_reading_a_session_leaves_the_collector_as_it_was(tmp_path):
    from CalSciPy.bruker.session import read_prairieview_session

    for state in (True, False):
        (gc.enable if state else gc.disable)()
        with pytest.raises(FileNotFoundError):
            read_prairieview_session(tmp_path / "missing")
        assert gc.isenabled() is state
