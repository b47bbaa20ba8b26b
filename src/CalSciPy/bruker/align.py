"""Alignment of analog recordings with imaging frames (documented module path).

The implementation lives in :mod:`CalSciPy.bruker.data`; ``align_data`` is re-exported here on
first access so this module imports even where the data readers are unavailable.
"""
from __future__ import annotations

from typing import Any

__all__ = ["align_data"]  # noqa: F822 - provided by __getattr__


def __getattr__(name: str) -> Any:
    if name == "align_data":
        from CalSciPy.bruker.data import align_data

        return align_data
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
