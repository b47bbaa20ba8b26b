"""Readers of PrairieView XML files (documented module ``CalSciPy.bruker.xml_load``)."""

# Photostimulation protocol readers (MarkPoints series, galvo point lists) live in _protocol_io.
from CalSciPy.bruker._protocol_io import (  # noqa: E402,F401
    read_galvo_point_list,
    read_mark_points_xml,
    read_saved_mark_points,
)
