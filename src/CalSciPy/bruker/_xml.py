"""The single place where CalSciPy parses XML: defusedxml, BOM-tolerant, errors name the file.

PrairieView XML is treated as untrusted input: entity declarations (billion laughs), external
entities and DTD retrieval are refused by ``defusedxml`` and reported as
:class:`~CalSciPy.errors.DataFormatError`.
"""
from __future__ import annotations

import os
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from CalSciPy._atomic import as_path
from CalSciPy.errors import DataFormatError

__all__ = ["parse_xml", "parse_xml_string"]


def parse_xml(path: str | os.PathLike, *, expected_root: str | tuple[str, ...] | None = None
              ) -> Element:
    """Parse an XML file safely and return its root element.

    Parameters
    ----------
    path
        The XML file (UTF-8, with or without a byte-order mark).
    expected_root
        Tag name(s) the root element must have, e.g. ``"PVScan"``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        Malformed XML, forbidden entities/DTDs, or an unexpected root element.
    """
    path = as_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"XML file not found: {path}")
    return parse_xml_string(path.read_bytes(), source=path, expected_root=expected_root)


def parse_xml_string(data: bytes | str, *, source: str | Path = "<string>",
                     expected_root: str | tuple[str, ...] | None = None) -> Element:
    """Parse XML text safely (see :func:`parse_xml`); ``source`` names it in errors."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        root = DET.fromstring(data, forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
    except DefusedXmlException as err:
        raise DataFormatError(
            f"{source}: refused unsafe XML ({type(err).__name__}: {err})"
        ) from err
    except ParseError as err:
        raise DataFormatError(f"{source}: not well-formed XML ({err})") from err
    if expected_root is not None:
        allowed = (expected_root,) if isinstance(expected_root, str) else expected_root
        if root.tag not in allowed:
            raise DataFormatError(
                f"{source}: root element is <{root.tag}>, expected "
                + " or ".join(f"<{tag}>" for tag in allowed)
            )
    return root
