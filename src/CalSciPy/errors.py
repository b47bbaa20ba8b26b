"""Exceptions raised by CalSciPy.

Every project exception subclasses the built-in exception a user would catch anyway
(``ValueError``, ``FileNotFoundError``, ...) so ``except ValueError`` keeps working, and
``except CalSciPyError`` catches all of them.

Compatibility with code written for CalSciPy 0.3.x
--------------------------------------------------
0.3.x checked arguments with ``assert`` (so callers catch ``AssertionError``) and reported some
wrong argument *types* (e.g. an object array given to ``generate_raster``) as ``ValueError``.
Hence two double-based classes, on the precedent of numpy's ``AxisError(ValueError,
IndexError)``:

- :class:`InvalidArgumentError` (``ValueError`` and ``AssertionError``): an argument has an
  invalid *value* (out of range, wrong shape or rank, not dividing, too large to allocate...).
- :class:`InvalidArgumentTypeError` (``TypeError`` and ``ValueError``): an argument has the
  wrong *type* (a string for a number, ``bool`` for an integer, complex/object/string arrays,
  ``None`` for a path or a scaler).

Both are raised by the validation helpers in ``CalSciPy._checks``, so the same bad input gets
the same exception and wording wherever it goes in.
"""
from __future__ import annotations

__all__ = [
    "CalSciPyError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
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


class InvalidArgumentTypeError(CalSciPyError, TypeError, ValueError):
    """An argument has the wrong type (a string for a number, ``bool`` for an integer, a
    complex, object or string array where real numbers are expected, ``None`` for a path).

    It is a ``TypeError`` and also a ``ValueError``: CalSciPy 0.3.x reported several of these
    (e.g. ``generate_raster`` on an object array) as ``ValueError``.
    """


class DataFormatError(CalSciPyError, ValueError):
    """A file's content does not match what its format or its metadata promise."""


class SessionError(DataFormatError):
    """A PrairieView folder is not a readable, self-consistent session."""


class MissingFramesError(SessionError):
    """Frames are missing from an acquisition (a gap in the frame index)."""


class MissingDependencyError(CalSciPyError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""
