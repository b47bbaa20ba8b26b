"""CalSciPy: a toolbox for two-photon calcium-imaging experiments.

Importing the package is cheap: submodules (and their heavy dependencies such as matplotlib,
numba, dask or cupy) load on first attribute access, e.g. ``CalSciPy.trace_processing``.
"""
from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("calscipy")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

_SUBMODULES = {
    "bruker",
    "coloring",
    "errors",
    "event_processing",
    "image_processing",
    "interactive_visuals",
    "io_tools",
    "misc",
    "nwb",
    "reorganization",
    "report",
    "roi_tools",
    "synthetic",
    "trace_processing",
    "trials",
}

__all__ = ["__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'CalSciPy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
