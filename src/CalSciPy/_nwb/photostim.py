"""MarkPoints photostimulation protocols in NWB, as standard DynamicTables.

Why standard tables and not an extension: ``ndx-patterned-ogen`` (0.1.0, 2024) and
``ndx-photostim`` (0.0.4, 2024) each have a single early release line and model holographic
(SLM) patterns; ``ndx-optogenetics`` (0.4.x, maintained) models fibre-based optogenetics
(viruses, fibres, epochs) and has no notion of galvo spiral targets. A PrairieView MarkPoints
protocol is a list of points (position, spiral) and of marks (power, duration, repetitions,
delays); tables in a ``photostimulation`` processing module hold that exactly, open in any NWB
reader without installing an extension, and pass nwbinspector. The protocol XML (saved series
and galvo point list, PrairieView's own format) is kept verbatim as well, so
:func:`~CalSciPy.nwb.read_nwb` rebuilds the identical
:class:`~CalSciPy.bruker.mark_points.PhotostimulationMeta`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["add_photostimulation", "read_photostimulation", "MODULE"]

MODULE = "photostimulation"


def add_photostimulation(nwbfile: Any, meta: Any) -> None:
    """Add the ``photostimulation`` module (targets, marks, protocol XML) to ``nwbfile``."""
    from hdmf.common import DynamicTable, VectorData

    from CalSciPy.bruker._protocol_io import DEFAULT_VERSION, _xml_bytes
    from CalSciPy.bruker.mark_points import PhotostimulationMeta

    if not isinstance(meta, PhotostimulationMeta):
        raise TypeError("photostimulation must be a CalSciPy.bruker.mark_points."
                        f"PhotostimulationMeta, not {type(meta).__name__}")
    version = getattr(meta.factory, "version", DEFAULT_VERSION)
    module = nwbfile.create_processing_module(
        MODULE, "Two-photon photostimulation (PrairieView MarkPoints): stimulated targets, "
                "marks and the protocol files")
    rois = meta.rois
    targets = DynamicTable(
        name="targets",
        description="Stimulated targets (galvo points). x, y: centre as fractions of the "
                    "field of view width/height; row, col: centre in pixels; spiral_width, "
                    "spiral_height: spiral diameter as fractions of the field of view",
        id=[int(r.index) for r in rois],
        columns=[
            VectorData(name="point_name", description="name in the galvo point list",
                       data=[r.name for r in rois]),
            VectorData(name="x", description="centre x, fraction of the field-of-view width",
                       data=[r.x for r in rois]),
            VectorData(name="y", description="centre y, fraction of the field-of-view height",
                       data=[r.y for r in rois]),
            VectorData(name="row", description="centre row (pixels)",
                       data=[r.coordinates[1] for r in rois]),
            VectorData(name="col", description="centre column (pixels)",
                       data=[r.coordinates[0] for r in rois]),
            VectorData(name="spiral_width", description="spiral diameter, fraction of the "
                       "field-of-view width", data=[r.spiral_width for r in rois]),
            VectorData(name="spiral_height", description="spiral diameter, fraction of the "
                       "field-of-view height", data=[r.spiral_height for r in rois]),
            VectorData(name="spiral_size_um", description="spiral diameter (µm), NaN when "
                       "the protocol does not state it",
                       data=[np.nan if r.spiral_size_in_microns is None
                             else float(r.spiral_size_in_microns) for r in rois]),
            VectorData(name="is_spiral", description="stimulated with a spiral",
                       data=[bool(r.is_spiral) for r in rois]),
        ],
    )
    groups = meta.groups
    marks = DynamicTable(
        name="marks",
        description="One row per galvo element of every mark, in protocol order: which "
                    "points are stimulated, with which power, duration and spiral",
        id=list(range(len(groups))),
        columns=[
            VectorData(name="points", description="point or group name in the galvo point "
                       "list", data=[g.name for g in groups]),
            VectorData(name="target_ids", description="1-based indices of the stimulated "
                       "targets (ids of the targets table), comma separated",
                       data=[",".join(str(i + 1) for i in g.indices) for g in groups]),
            VectorData(name="laser_power", description="uncaging laser power (PrairieView "
                       "0-1000 scale)", data=[float(g.mark.uncaging_laser_power)
                                              for g in groups]),
            VectorData(name="uncaging_laser", description="uncaging laser",
                       data=[str(g.mark.uncaging_laser) for g in groups]),
            VectorData(name="repetitions", description="repetitions of the mark",
                       data=[int(g.mark.repetitions) for g in groups]),
            VectorData(name="duration_ms", description="stimulation per point (ms)",
                       data=[float(g.element.duration) for g in groups]),
            VectorData(name="initial_delay_ms", description="delay before the stimulation "
                       "(ms)", data=[float(g.element.initial_delay) for g in groups]),
            VectorData(name="inter_point_delay_ms", description="delay between points (ms)",
                       data=[float(g.element.inter_point_delay) for g in groups]),
            VectorData(name="spiral_revolutions", description="spiral revolutions",
                       data=[float(g.element.spiral_revolutions) for g in groups]),
            VectorData(name="all_points_at_once", description="all points stimulated at "
                       "once", data=[bool(g.element.all_points_at_once) for g in groups]),
        ],
    )
    gpl = meta.galvo_point_list
    volts = meta.voltage_range
    protocol = DynamicTable(
        name="protocol",
        description="The MarkPoints protocol as PrairieView files (UTF-8 XML text), the "
                    "PrairieView version of their format, the field of view (pixels) and the "
                    "galvo volts at its edges (NaN when unknown)",
        id=[0],
        columns=[
            VectorData(name="series_xml", description="MarkPoints series XML",
                       data=[_xml_bytes(meta.series, version)[3:].decode("utf-8")]),
            VectorData(name="galvo_point_list_xml", description="galvo point list (.gpl) XML,"
                       " empty when not known",
                       data=["" if gpl is None else
                             _xml_bytes(gpl, version)[3:].decode("utf-8")]),
            VectorData(name="version", description="PrairieView version", data=[version]),
            VectorData(name="width", description="field of view width (pixels)",
                       data=[int(meta.width)]),
            VectorData(name="height", description="field of view height (pixels)",
                       data=[int(meta.height)]),
            VectorData(name="voltage_range", description="galvo volts at the field-of-view "
                       "edges: x_min, x_max, y_min, y_max",
                       data=[np.asarray(volts, dtype=float).ravel() if volts is not None
                             else np.full(4, np.nan)]),
        ],
    )
    for table in (targets, marks, protocol):
        module.add(table)


def read_photostimulation(nwbfile: Any) -> Any:
    """The :class:`PhotostimulationMeta` stored by :func:`add_photostimulation`, or None."""
    from CalSciPy.bruker._xml import parse_xml_string
    from CalSciPy.bruker.factories import BrukerElementFactory
    from CalSciPy.bruker.mark_points import PhotostimulationMeta
    from CalSciPy.bruker.xml_objects import GalvoPointList, MarkPointSeriesElements
    from CalSciPy.errors import DataFormatError

    module = nwbfile.processing.get(MODULE)
    if module is None or "protocol" not in module.data_interfaces:
        return None
    table = module["protocol"]
    version = str(table["version"][0])
    factory = BrukerElementFactory(version)
    source = f"{MODULE}/protocol"
    try:
        series = factory.constructor(parse_xml_string(str(table["series_xml"][0]),
                                                      source=source))
        gpl_text = str(table["galvo_point_list_xml"][0])
        gpl = factory.constructor(parse_xml_string(gpl_text, source=source)) \
            if gpl_text else None
    except DataFormatError as err:
        raise DataFormatError(f"{source}: stored protocol XML is not readable ({err})") from err
    # the factory builds whatever class the stored root tag maps to: a file edited by hand
    # may hold another protocol element than the one its column names
    if not isinstance(series, MarkPointSeriesElements):
        raise DataFormatError(f"{source}: series_xml holds a {type(series).__name__}, not a "
                              "MarkPoints series")
    if gpl is not None and not isinstance(gpl, GalvoPointList):
        raise DataFormatError(f"{source}: galvo_point_list_xml holds a {type(gpl).__name__}, "
                              "not a galvo point list")
    volts = np.asarray(table["voltage_range"][0], dtype=float)
    voltage_range = None if not np.all(np.isfinite(volts)) else volts.reshape(2, 2).tolist()
    return PhotostimulationMeta(series, factory, int(table["width"][0]),
                                int(table["height"][0]), galvo_point_list=gpl,
                                voltage_range=voltage_range)
