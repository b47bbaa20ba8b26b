"""Exceptions raised by CalSciPy.

Every project exception subclasses the built-in exception a user would catch anyway
(``ValueError``, ``FileNotFoundError``, ...) so ``except ValueError`` keeps working, and
``except CalSciPyError`` catches all of them.
"""
from __future__ import annotations

__all__ = [
    "CalSciPyError",
    "InvalidArgumentError",
    "DataFormatError",
    "MissingDependencyError",
    "SessionError",
    "MissingFramesError",
]


class CalSciPyError(Exception):
    """Base class of every exception raised deliberately by CalSciPy."""


class InvalidArgumentError(CalSciPyError, ValueError, AssertionError):
    """An argument has an invalid value (out of range, wrong shape or rank, not dividing...).

    It is a ``ValueError`` and also an ``AssertionError``: the published CalSciPy 0.3.x checked
    arguments with ``assert``, so code and test suites written for it catch ``AssertionError``
    (numpy's ``AxisError(ValueError, IndexError)`` is the precedent for a double base).
    """


class DataFormatError(CalSciPyError, ValueError):
    """A file's content does not match what its format or its metadata promise."""


class SessionError(DataFormatError):
    """A PrairieView folder is not a readable, self-consistent session."""


class MissingFramesError(SessionError):
    """Frames are missing from an acquisition (a gap in the frame index)."""


class MissingDependencyError(CalSciPyError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""
