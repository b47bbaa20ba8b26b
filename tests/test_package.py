"""Package-level promises: version, lazy submodules, cheap import."""
from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

import CalSciPy

HEAVY = ("matplotlib", "sklearn", "dask", "distributed", "zarr", "cupy", "oasis")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return {name.split(".")[0] for name in result.stdout.split()}


def test_version_is_the_installed_distribution_version():
    assert CalSciPy.__version__ == version("calscipy")


def test_import_calscipy_loads_no_heavy_dependency():
    loaded = _modules_after("import CalSciPy")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "scipy" not in loaded and "numba" not in loaded


@pytest.mark.parametrize("module", ["trace_processing", "event_processing", "io_tools",
                                    "image_processing", "interactive_visuals", "bruker.data"])
def test_documented_modules_do_not_import_optional_or_plotting_stacks(module):
    loaded = _modules_after(f"import CalSciPy.{module}")
    assert not loaded & {"dask", "distributed", "zarr", "cupy", "oasis"}
    if module != "interactive_visuals":
        assert "matplotlib" not in loaded


def test_scale_waveforms_default_needs_no_scikit_learn():
    # scikit-learn is optional (test extra only): the default scaler is CalSciPy's own
    loaded = _modules_after(
        "import numpy as np; from CalSciPy.event_processing import scale_waveforms; "
        "scale_waveforms([np.arange(6.0).reshape(2, 3)])"
    )
    assert "sklearn" not in loaded


def test_submodules_load_on_attribute_access():
    assert CalSciPy.trace_processing.calculate_dfof.__module__ == "CalSciPy.trace_processing"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        CalSciPy.nope  # noqa: B018


def test_optional_import_names_the_extra_and_errors_keep_builtin_bases():
    from CalSciPy._optional import is_available, optional_import
    from CalSciPy.errors import (
        CalSciPyError,
        DataFormatError,
        MissingDependencyError,
        MissingFramesError,
    )

    assert optional_import("json").dumps([1]) == "[1]"
    assert is_available("json") and not is_available("calscipy_no_such_module")
    with pytest.raises(MissingDependencyError, match=r"calscipy\[gpu\].*") as info:
        optional_import("cupyx.no_such_submodule_for_test", "GPU filtering")
    assert "GPU filtering" in str(info.value)
    assert isinstance(info.value, ImportError) and isinstance(info.value, CalSciPyError)
    with pytest.raises(MissingDependencyError, match="pip install calscipy_no_such_module"):
        optional_import("calscipy_no_such_module")
    assert issubclass(MissingFramesError, DataFormatError)
    assert issubclass(DataFormatError, ValueError)
