"""The one tifffile-noise policy: :func:`quiet_tifffile`, scoped to the tifffile calls it wraps.

PrairieView writes MetaMorph (UIC) tags whose dates are Julian day 0 and whose Z-distance
fields are 0/0. For every such file tifffile logs several "no datetime before year 1" errors
and numpy warns "invalid value encountered in divide" while tifffile parses the tags; a
20 000-file session floods the log (and is slowed down by it), while the pixels are fine.

Nothing here runs at import: a library must not change process-wide state that its users
(or their other libraries) rely on. Inside the ``with`` block:

- numpy's floating-point error state ignores invalid/divide (``np.errstate``, which is local to
  the calling thread, so other threads keep their own warnings);
- a filter on the ``tifffile`` logger drops only the zero-date messages. Logger filters are
  shared by all threads, so the filter is installed by the first active block and removed by
  the last one (reference counted under a lock); every other tifffile message still goes out.

``warnings.filters`` is never touched (``warnings.catch_warnings`` is not thread-safe and the
readers call tifffile from thread pools).
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import numpy as np

__all__ = ["quiet_tifffile", "ZERO_DATE_MESSAGE"]

#: the part of tifffile's message about Bruker's zeroed MetaMorph dates that is dropped
ZERO_DATE_MESSAGE = "no datetime before year 1"


class _ZeroDateFilter(logging.Filter):
    """Drop tifffile's complaints about zeroed MetaMorph (UIC/STK) dates; keep all else."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return ZERO_DATE_MESSAGE not in record.getMessage()
        except Exception:  # a malformed record is not ours to judge: let logging report it
            return True


_FILTER = _ZeroDateFilter()
_LOCK = threading.Lock()
_active = 0


@contextlib.contextmanager
def quiet_tifffile() -> Iterator[None]:
    """Silence tifffile's Bruker MetaMorph-tag noise for the calls inside the block only.

    Safe to nest and to enter from several threads at once; on exit the ``tifffile`` logger
    and numpy's error state are exactly as before.
    """
    global _active
    logger = logging.getLogger("tifffile")
    with _LOCK:
        if _active == 0:
            logger.addFilter(_FILTER)
        _active += 1
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            yield
    finally:
        with _LOCK:
            _active -= 1
            if _active == 0:
                logger.removeFilter(_FILTER)
