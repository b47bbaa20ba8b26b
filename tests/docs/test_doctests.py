"""The ``Examples`` sections of every docstring in ``src/CalSciPy`` run and give their output."""
from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import CalSciPy

# Modules that cannot be imported without hardware or an optional extra are reported as skips
# (with the reason) rather than silently left out.
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    """Modules whose source holds a ``>>>`` prompt (found by reading, nothing imported)."""
    names = []
    for info in pkgutil.walk_packages(CalSciPy.__path__, prefix=f"{CalSciPy.__name__}."):
        if info.name.endswith("__main__"):
            continue  # importing it runs the command line
        spec = info.module_finder.find_spec(info.name, None)  # type: ignore[call-arg]
        origin = getattr(spec, "origin", None)
        if origin and origin.endswith(".py") and ">>>" in Path(origin).read_text("utf-8"):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _module_names())
def test_docstring_examples(name: str, tmp_path, monkeypatch) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as err:
        pytest.skip(f"{name} needs an optional dependency: {err}")
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, name)
             if t.examples and t.name.split(".")[:-1] != [] and _defined_here(t, module)]
    if not tests:
        pytest.skip(f"{name} has no docstring examples")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    runner = doctest.DocTestRunner(optionflags=_FLAGS)
    failures: list[str] = []
    for test in tests:
        runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)


def _defined_here(test: doctest.DocTest, module) -> bool:
    """Keep a doctest only in the module whose source holds it (re-exports run once)."""
    filename = getattr(module, "__file__", None)
    return test.filename is None or filename is None or test.filename == filename
