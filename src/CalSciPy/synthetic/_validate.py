"""Argument checks of the synthetic-data generators, in the words of :mod:`CalSciPy._checks`.

``check_count`` and ``check_positive`` are :func:`~CalSciPy._checks.check_int` and
:func:`~CalSciPy._checks.check_real` under the names the generators use; only the
``(low, high)`` range check is particular to them.
"""
from __future__ import annotations

import math

from CalSciPy._checks import check_int, check_real
from CalSciPy.errors import InvalidArgumentError

__all__ = ["check_count", "check_positive", "check_range"]


def check_count(value, name: str, minimum: int = 1) -> int:
    """An integer count ``>= minimum`` (:func:`~CalSciPy._checks.check_int`)."""
    return check_int(value, name, minimum=minimum)


def check_positive(value, name: str, *, allow_zero: bool = False, unit: str = "") -> float:
    """A finite real number ``> 0`` (``>= 0`` with ``allow_zero``)."""
    if allow_zero:
        return check_real(value, name, minimum=0.0, unit=unit)
    return check_real(value, name, positive=True, unit=unit)


def check_range(value, name: str, *, low: float = 0.0) -> tuple[float, float]:
    """A finite ``(low, high)`` pair with ``low_bound <= low <= high``."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(
            f"{name} must be a (low, high) pair of numbers, got {value!r}"
        ) from err
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < low or hi < lo:
        raise InvalidArgumentError(
            f"{name} must satisfy {low:g} <= low <= high (finite), got {value!r}"
        )
    return lo, hi
