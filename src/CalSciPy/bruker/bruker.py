"""Documented module path ``CalSciPy.bruker.bruker``: the objects of :mod:`.data`."""
from __future__ import annotations

from CalSciPy.bruker.data import (
    BrukerImages,
    align_data,
    determine_imaging_content,
    extract_frame_times,
    generate_bruker_naming_convention,
    load_bruker_tifs,
    load_voltage_recording,
    repackage_bruker_tifs,
)

__all__ = [
    "BrukerImages",
    "align_data",
    "determine_imaging_content",
    "extract_frame_times",
    "generate_bruker_naming_convention",
    "load_bruker_tifs",
    "load_voltage_recording",
    "repackage_bruker_tifs",
]
