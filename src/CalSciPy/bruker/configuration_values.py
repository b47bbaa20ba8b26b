"""Constants describing PrairieView and its files: the one home for them.

The readers and writers of :mod:`CalSciPy.bruker` and :mod:`CalSciPy.synthetic` import these
names instead of retyping the values.
"""
from __future__ import annotations

__all__ = [
    "DEFAULT_PRAIRIEVIEW_VERSION",
    "SUPPORTED_PRAIRIEVIEW_VERSIONS",
    "IMAGE_SUFFIX",
    "IMAGE_DTYPE",
    "SINGLE_PLANE_SEQUENCE",
    "VOLUMETRIC_SEQUENCE",
    "MASTER_XML_ROOT",
    "VOLTAGE_RECORDING_ROOT",
    "VOLTAGE_TIME_COLUMN",
    "FRAME_TIME_INDEX",
    "FRAME_COLUMN",
    "FRAME_FILL_COLUMN",
    "MAX_STACK_GB",
    "COM_PROG_ID",
]

#: PrairieView version assumed when a caller does not name one (protocol mappings, writers)
DEFAULT_PRAIRIEVIEW_VERSION: str = "5.5.64.600"
#: versions whose file formats CalSciPy has been checked against
SUPPORTED_PRAIRIEVIEW_VERSIONS: tuple[str, ...] = ("5.5.64.600",)
#: suffix of PrairieView images (``<base>_Cycle00001_Ch2_000001.ome.tif``)
IMAGE_SUFFIX: str = ".ome.tif"
#: dtype of loaded images (PrairieView stores 12/13-bit samples in 16-bit words)
IMAGE_DTYPE: str = "uint16"
#: ``Sequence type`` of a single-plane T-series (cycle fixed, index = frame)
SINGLE_PLANE_SEQUENCE: str = "TSeries Timed Element"
#: ``Sequence type`` of a volumetric T-series (cycle = volume, index = plane)
VOLUMETRIC_SEQUENCE: str = "TSeries ZSeries Element"
#: root element of a master XML
MASTER_XML_ROOT: str = "PVScan"
#: root element of a VoltageRecording XML
VOLTAGE_RECORDING_ROOT: str = "VRecSessionEntry"
#: index name of a loaded voltage recording (ms): the header PrairieView writes in the CSV
VOLTAGE_TIME_COLUMN: str = "Time(ms)"
#: index name of frame times (ms), as 0.3.x named it. The two names differ on purpose: each is
#: what 0.3.x returned (one copied from the CSV header, one chosen for frame times), and code
#: written for 0.3.x selects them by name (``df.reset_index()["Time(ms)"]``); renaming either
#: would break it. Both hold milliseconds on the same clock when the recording was started by
#: the first frame (``triggerMode="Start with next scan"``); ``align_data`` matches by value.
FRAME_TIME_INDEX: str = "Time (ms)"
#: frame number column of frame times and aligned data
FRAME_COLUMN: str = "Imaging Frame"
#: frame column filled for every analog sample by ``align_data(fill=True)``
FRAME_FILL_COLUMN: str = "Imaging Frame (interpolated)"
#: largest stack written by ``repackage_bruker_tifs`` (GB, 1e9 bytes): stays below 4 GB TIFF
MAX_STACK_GB: float = 3.9
#: COM programmatic identifier of PrairieView's automation server (``prairie_link``)
COM_PROG_ID: str = "PrairieLink.Application"
