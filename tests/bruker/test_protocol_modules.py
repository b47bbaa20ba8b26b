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
