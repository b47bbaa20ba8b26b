"""Documented home of the protocol factories and the metadata base class (re-exports).

:class:`BrukerElementFactory` and :class:`BrukerXMLFactory` live in
:mod:`CalSciPy.bruker.factories`, :class:`BrukerMeta` in :mod:`CalSciPy.bruker.meta_objects`.
"""
from CalSciPy.bruker.factories import BrukerElementFactory, BrukerXMLFactory
from CalSciPy.bruker.meta_objects import BrukerMeta

__all__ = ["BrukerElementFactory", "BrukerMeta", "BrukerXMLFactory"]
