"""XML tag → protocol class mappings, one JSON file per PrairieView version (package data).

See :mod:`CalSciPy.bruker.xml_mappings.xml_mapping`.
"""
from CalSciPy.bruker.xml_mappings.xml_mapping import known_versions, load_mapping, write_mapping

__all__ = ["known_versions", "load_mapping", "write_mapping"]
