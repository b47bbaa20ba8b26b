"""Sphinx configuration for the CalSciPy documentation (built offline: ``make docs``)."""
from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
os.environ.setdefault("MPLBACKEND", "Agg")

import CalSciPy  # noqa: E402

project = "CalSciPy"
author = "CalSciPy developers"
copyright = "2026, CalSciPy developers"  # noqa: A001 (Sphinx's name)
release = CalSciPy.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**/README.rst", "gallery/**", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.json"]
autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
suppress_warnings = ["config.cache"]

# Built offline: no intersphinx, no remote images, MathJax served locally when present.
html_theme = "pydata_sphinx_theme"
html_title = f"CalSciPy {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}

sphinx_gallery_conf = {
    "examples_dirs": str(HERE / "gallery"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "abort_on_example_error": True,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
}

# --- API reference, grouped as users think --------------------------------------------------
# Each group lists modules; every public function/class of each module gets an autosummary
# entry and a page of its own. Modules that do not exist yet are skipped with a note so the
# build never documents something that is not there.
API_GROUPS: list[tuple[str, str, list[str]]] = [
    ("sessions", "PrairieView sessions", [
        "CalSciPy.bruker.session", "CalSciPy.bruker.data", "CalSciPy.bruker.bruker",
        "CalSciPy.bruker.xml_load", "CalSciPy.bruker.configuration_values",
        "CalSciPy.bruker.prairie_link"]),
    ("photostimulation", "Photostimulation protocols", [
        "CalSciPy.bruker.mark_points", "CalSciPy.bruker.xml_objects",
        "CalSciPy.bruker.factories", "CalSciPy.bruker.bruker_meta_objects",
        "CalSciPy.bruker.meta_objects", "CalSciPy.bruker.validation",
        "CalSciPy.bruker.xml_mappings.xml_mapping"]),
    ("traces", "Traces: ΔF/F0, noise, detrending", ["CalSciPy.trace_processing"]),
    ("events", "Events and spikes", ["CalSciPy.event_processing"]),
    ("rois", "ROIs and trace extraction", ["CalSciPy.roi_tools"]),
    ("trials", "Trials and responsive neurons", ["CalSciPy.trials", "CalSciPy.reorganization"]),
    ("filters", "Filters and scale-out", ["CalSciPy.image_processing", "CalSciPy.misc"]),
    ("io", "Image I/O", ["CalSciPy.io_tools"]),
    ("visuals", "Visuals", ["CalSciPy.interactive_visuals", "CalSciPy.coloring"]),
    ("nwb", "NWB", ["CalSciPy.nwb"]),
    ("report", "HTML report", ["CalSciPy.report"]),
    ("synthetic", "Synthetic ground truth", ["CalSciPy.synthetic"]),
    ("errors", "Errors", ["CalSciPy.errors"]),
]


def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                 and getattr(obj, "__module__", "").startswith(module.__name__)]
    return sorted(n for n in names if not n.startswith("_")
                  and not inspect.ismodule(getattr(module, n, None)))


def _write_api_pages() -> None:
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    index = ["API reference", "=============", "",
             "Every documented function and class, grouped by task. Each entry links to its",
             "full docstring (parameters with units and shapes, returns, errors).", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    seen: dict[int, str] = {}
    for slug, title, modules in API_GROUPS:
        lines = [title, "=" * len(title), ""]
        found = False
        for name in modules:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            found = True
            doc = (inspect.getdoc(module) or "").strip().splitlines()
            lines += [f"``{name}``", "-" * (len(name) + 4), ""]
            if doc:
                lines += [doc[0], ""]
            own, aliases = [], []
            for n in _public_names(module):
                obj = getattr(module, n)
                first = seen.setdefault(id(obj), f"{name}.{n}")
                (own if first == f"{name}.{n}" else aliases).append((n, first))
            lines += [f".. currentmodule:: {name}", ""]
            if own:
                lines += [".. autosummary::", "   :toctree: generated", ""]
                lines += [f"   {n}" for n, _ in own]
                lines.append("")
            if aliases:
                # re-exports (documented 0.3.x paths): one page per object, linked from here
                lines += ["Also importable from this module: " + ", ".join(
                    f":obj:`{n} <{first}>`" for n, first in aliases) + ".", ""]
        if not found:
            continue
        page = api / f"{slug}.rst"
        text = "\n".join(lines) + "\n"
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
        index.append(f"   {slug}")
    text = "\n".join(index) + "\n"
    target = api / "index.rst"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def _write_cli_page() -> None:
    """The command-line reference, from the parsers themselves (never out of date)."""
    import argparse

    from CalSciPy.cli import build_parser

    parser = build_parser()
    lines = ["Command line", "============", "",
             "``calscipy COMMAND ...`` (or ``python -m CalSciPy COMMAND ...``). Exit codes: 0",
             "success, 1 error (one message on stderr; ``-v`` logs the traceback), 2 usage,",
             "130 interrupted.", "", "::", ""]
    lines += ["   " + line for line in parser.format_help().splitlines()]
    lines.append("")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        title = f"calscipy {name}"
        lines += [title, "-" * len(title), "", "::", ""]
        lines += ["   " + line for line in command.format_help().splitlines()]
        lines.append("")
    text = "\n".join(lines) + "\n"
    target = HERE / "cli.rst"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


# Written at configuration time, before autosummary scans the sources for its tables.
_write_api_pages()
_write_cli_page()
# Explicit list: the pages above may be new in this build, and autosummary must scan them.
autosummary_generate = sorted(str(p.relative_to(HERE)) for p in (HERE / "api").glob("*.rst"))
