"""The documented small modules: align, meta_objects, bruker_meta_objects."""
from __future__ import annotations

import importlib

import pytest

from CalSciPy.bruker import bruker_meta_objects, factories, meta_objects


def test_align_reexports_align_data():
    align = importlib.import_module("CalSciPy.bruker.align")
    data = importlib.import_module("CalSciPy.bruker.data")
    assert align.align_data is data.align_data
    with pytest.raises(AttributeError):
        align.no_such_function  # noqa: B018


def test_bruker_meta_objects_reexports():
    assert bruker_meta_objects.BrukerElementFactory is factories.BrukerElementFactory
    assert bruker_meta_objects.BrukerXMLFactory is factories.BrukerXMLFactory
    assert bruker_meta_objects.BrukerMeta is meta_objects.BrukerMeta


def test_bruker_meta_is_abstract():
    with pytest.raises(TypeError):
        meta_objects.BrukerMeta(None, None)

    class Minimal(meta_objects.BrukerMeta):
        def _build_meta(self, root, factory):
            self.root = root

        def generate_protocol(self, path):
            return None

    meta = Minimal("root", "factory")
    assert meta.root == "root" and meta.factory == "factory"


def test_protocol_io_does_not_import_mark_points():
    """No _protocol_io <-> mark_points cycle, not even through a lazy import (issue 11)."""
    import ast
    import inspect

    from CalSciPy.bruker import _protocol_io

    tree = ast.parse(inspect.getsource(_protocol_io))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not any("mark_points" in (name or "") for name in imported)
    from CalSciPy.bruker import mark_points, xml_load
    assert xml_load.read_mark_points_xml is mark_points.read_mark_points_xml
