"""Pausing Python's cyclic garbage collector around bulk creation of objects that are not
cyclic garbage (parsed XML trees, per-frame records).

Each collector pass traverses every tracked object of the process; building ~10⁵ objects
triggers many passes, and in a process that has imported pandas, scipy and matplotlib (10⁵
objects more) they cost a third of the work. Reference counting still frees everything at
once; only the search for cycles waits until the block ends.
"""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["paused_gc"]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the ``with`` block; restore its state afterwards.

    Nested and concurrent uses are safe: the collector is re-enabled only by the block that
    disabled it, so it ends enabled if (and only if) it was enabled before the outermost one.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
