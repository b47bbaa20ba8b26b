"""Lazy import of optional dependencies with an error that names the extra to install."""
from __future__ import annotations

import importlib
from types import ModuleType

from CalSciPy.errors import MissingDependencyError

#: module name -> the ``calscipy[extra]`` that installs it
EXTRAS = {
    "cupy": "gpu",
    "cupyx": "gpu",
    "cupyx.scipy.ndimage": "gpu",
    "dask": "dask",
    "dask.array": "dask",
    "distributed": "dask",
    "zarr": "dask",
    "pynwb": "nwb",
    "hdmf": "nwb",
    "h5py": "nwb",
    "oasis": "spikes",
    "oasis.functions": "spikes",
}


def optional_import(module: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra.

    Parameters
    ----------
    module
        Dotted module name, e.g. ``"dask.array"``.
    purpose
        Short description of what needed it, added to the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        extra = EXTRAS.get(module, EXTRAS.get(module.split(".")[0]))
        hint = f"pip install 'calscipy[{extra}]'" if extra else f"pip install {module}"
        what = f" (needed for {purpose})" if purpose else ""
        raise MissingDependencyError(
            f"optional dependency '{module}' is not installed{what}; install it with: {hint}"
        ) from err


def is_available(module: str) -> bool:
    """Return True when ``module`` can be imported (without raising)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
