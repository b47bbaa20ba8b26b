"""Load and write the XML tag → protocol class mapping of a PrairieView version.

Each supported version has a JSON file in this package named after the version with dots
replaced by underscores (``5_5_64_600.json`` for PrairieView 5.5.64.600), mapping an XML element
tag to the name of a class in :mod:`CalSciPy.bruker.xml_objects`. The files ship as package data.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from CalSciPy._atomic import atomic_write
from CalSciPy._checks import as_path
from CalSciPy.errors import InvalidArgumentError

__all__ = ["known_versions", "load_mapping", "write_mapping"]

_VERSION = re.compile(r"^\d+(\.\d+)*$")
_TAG = re.compile(r"^[A-Za-z_][\w.\-]*$")
_PACKAGE = "CalSciPy.bruker.xml_mappings"


def _file_name(version: str) -> str:
    if not isinstance(version, str) or not _VERSION.match(version):
        raise InvalidArgumentError(
            f"version must look like '5.5.64.600' (numbers separated by dots), got {version!r}"
        )
    return version.replace(".", "_") + ".json"


def _package_folder() -> Path:
    return Path(str(resources.files(_PACKAGE)))


def known_versions(folder: str | os.PathLike | None = None) -> tuple[str, ...]:
    """PrairieView versions with a mapping file (in the package, or in ``folder``)."""
    where = _package_folder() if folder is None else as_path(folder, "folder")
    found = [p.stem.replace("_", ".") for p in where.glob("*.json")
             if _VERSION.match(p.stem.replace("_", "."))]
    return tuple(sorted(found, key=lambda v: tuple(int(n) for n in v.split("."))))


def load_mapping(version: str, *, folder: str | os.PathLike | None = None
                 ) -> Mapping[str, str]:
    """Return the read-only mapping XML tag → protocol class name for a PrairieView version.

    Parameters
    ----------
    version
        PrairieView version, e.g. ``"5.5.64.600"``.
    folder
        Read ``<version>.json`` from this folder instead of the package data.

    Returns
    -------
    Mapping[str, str]
        Read-only (:class:`types.MappingProxyType`).

    Raises
    ------
    FileNotFoundError
        No mapping for ``version``; the message lists the known versions.
    ValueError
        Malformed version string or mapping file.
    """
    name = _file_name(version)
    path = (_package_folder() if folder is None else as_path(folder, "folder")) / name
    if not path.is_file():
        known = ", ".join(known_versions(folder)) or "none"
        raise FileNotFoundError(
            f"no XML mapping for PrairieView version {version} ({path} does not exist); "
            f"known versions: {known}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    _check_mapping(data, str(path))
    return MappingProxyType(dict(data))


def _check_mapping(mapping: object, source: str) -> None:
    from CalSciPy.bruker.xml_objects import PROTOCOL_CLASSES

    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError(f"{source}: a mapping must be a non-empty dict of tag -> class name")
    for tag, cls in mapping.items():
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise ValueError(f"{source}: {tag!r} is not a valid XML tag")
        if cls not in PROTOCOL_CLASSES:
            raise ValueError(
                f"{source}: tag {tag!r} maps to {cls!r}, which is not one of "
                f"{sorted(PROTOCOL_CLASSES)}"
            )


def write_mapping(mapping: Mapping[str, str], version: str, *,
                  folder: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write a mapping XML tag → protocol class name for a PrairieView version.

    Parameters
    ----------
    mapping
        Tag → name of a class in :mod:`CalSciPy.bruker.xml_objects`.
    version
        PrairieView version, e.g. ``"5.6.64.100"``.
    folder
        Destination folder; by default this package's folder (where :func:`load_mapping`
        looks), which needs write access to the installation.
    overwrite
        Replace an existing mapping file (refused by default).

    Returns
    -------
    pathlib.Path
        The written file (written atomically, UTF-8 JSON).
    """
    name = _file_name(version)
    _check_mapping(mapping, "mapping")
    path = (_package_folder() if folder is None else as_path(folder, "folder")) / name
    text = json.dumps(dict(mapping), indent=2) + "\n"
    with atomic_write(path, overwrite=overwrite, mode="w") as handle:
        handle.write(text)
    return path
