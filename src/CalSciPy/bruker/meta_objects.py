"""Base class of metadata objects built from PrairieView XML (e.g. photostimulation protocols)."""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any

__all__ = ["BrukerMeta"]


class BrukerMeta(ABC):
    """Metadata built from a parsed PrairieView XML tree.

    Subclasses implement :meth:`_build_meta` (called by ``__init__``) and
    :meth:`generate_protocol`.

    Parameters
    ----------
    root
        Parsed XML (``ElementTree`` or its root ``Element``), or an already constructed
        protocol object where the subclass supports it.
    factory
        The :class:`~CalSciPy.bruker.factories.BrukerElementFactory` that converts elements.
    """

    def __init__(self, root: Any, factory: object):
        self.factory = factory
        self._build_meta(root, factory)

    @abstractmethod
    def _build_meta(self, root: Any, factory: object) -> None:
        """Populate the object from ``root`` using ``factory``."""

    @abstractmethod
    def generate_protocol(self, path: str | os.PathLike) -> None:
        """Generates a protocol for the metadata to be imported into PrairieView.

        Parameters
        ----------
        path
            Path to write the protocol to.
        """
