"""One parsed model of a PrairieView acquisition folder: the only place that walks one.

:func:`read_prairieview_session` reads the master XML (``<base>.xml``, root ``PVScan``) when it is
present and falls back to the image file names when it is not; :func:`read_prairieview_xml`
parses a master XML alone. Everything else in :mod:`CalSciPy.bruker` (loading images, frame
times, ``calscipy info``) works from the :class:`PrairieViewSession` these return.

The implementation lives in :mod:`CalSciPy.bruker._session` (master-XML parsing, the model, the
XML-driven and names-only layout builders, the stack reader); this module is its public face.

Conventions
-----------
- ``channel`` arguments and :attr:`PrairieViewSession.channels` positions are zero-indexed *in
  the list of channels present* (a Ch2-only session has channel 0 = hardware ``Ch2``).
- Planes are ordered as in the z-stroke of odd cycles (plane ``p`` is the file index ``p + 1``
  of odd cycles, also when the series starts with an even cycle); with
  ``bidirectionalZ="True"`` even cycles run the stroke in reverse and are re-ordered to match
  (by their z position when the XML records it).
- Times are seconds from the first frame of the series
  (:attr:`PrairieViewSession.frame_times_s` has one per frame and plane).
"""
from __future__ import annotations

import os
from pathlib import Path

from CalSciPy._checks import as_path
from CalSciPy._gc import paused_gc
from CalSciPy.bruker._naming import VOLTAGE_RECORDING_PATTERN
from CalSciPy.bruker._session.layout_names import session_from_names
from CalSciPy.bruker._session.layout_xml import session_from_xml
from CalSciPy.bruker._session.master_xml import (
    PrairieViewFrame,
    PrairieViewSequence,
    PrairieViewXML,
    find_master,
    find_master_xml,
    parse_state_shard,  # noqa: F401 - importable from here as in the single-module layout
    read_prairieview_xml,
    xml_from_root,
)
from CalSciPy.bruker._session.model import PrairieViewSession
from CalSciPy.bruker._session.stack import SessionStack
from CalSciPy.bruker._xml import parse_xml
from CalSciPy.bruker.configuration_values import MASTER_XML_ROOT

__all__ = [
    "PrairieViewFrame",
    "PrairieViewSequence",
    "PrairieViewXML",
    "PrairieViewSession",
    "SessionStack",
    "read_prairieview_xml",
    "read_prairieview_session",
    "find_master_xml",
]

# kept for code and tests that used the names of the single-module layout
_session_from_names = session_from_names
_session_from_xml = session_from_xml
_xml_from_root = xml_from_root
_find_master = find_master


def read_prairieview_session(folder: str | os.PathLike, *, use_xml: bool = True,
                             excerpt: bool = False) -> PrairieViewSession:
    """Read a PrairieView acquisition folder into a :class:`PrairieViewSession`.

    Parameters
    ----------
    folder
        The acquisition folder (holding ``<base>.xml`` and the ``*.ome.tif`` images), or its
        master XML itself. Given the XML with its images, it reads like the folder; when none
        of the images is next to it (e.g. deleted after repackaging) the session is built
        from the XML alone: it can be inspected, and reading an image raises
        ``FileNotFoundError`` naming it.
    use_xml
        Use the master XML when present (file order, channels, planes, pages, frame times).
        ``False`` (or no XML) infers the layout from the file names: one cycle = a single-plane
        T-series (index = frame); several cycles = volumetric (cycle = volume, index = plane).
        The names cannot tell a bidirectional z-stroke: without the XML every cycle's planes
        are taken in file-index order.
    excerpt
        Keyword-only, names-only sessions: accept numbering that does not start at cycle 1,
        index 1 (an excerpt of a longer acquisition) with a ``UserWarning``; by default it is
        a :class:`~CalSciPy.errors.MissingFramesError` (the first frames are missing).

    Raises
    ------
    FileNotFoundError
        The folder does not exist, is empty, or holds no PrairieView images.
    MissingFramesError
        A gap in the frame/plane index, numbering that does not start at 1 without the XML
        (naming the first expected file), or a file listed in the XML is missing.
    SessionError
        Duplicate frames, images of several acquisitions mixed in one folder, channels with
        different frames, a master XML that lists no images.
    DataFormatError
        The master XML is malformed, not a PVScan file, or holds invalid values (naming the
        element).

    Warns
    -----
    UserWarning
        An incomplete last volume (aborted acquisition) was dropped; an excerpt was accepted.
    """
    path = as_path(folder, "folder")
    # ~10^5 XML elements and frame records, none of them cyclic garbage: collector passes
    # over the growing heap cost about a quarter of the read in a process that has imported
    # pandas, scipy and matplotlib. Inline (no helper frame): warnings keep their stacklevel.
    with paused_gc():
        if path.is_file() and path.suffix.lower() == ".xml":
            xml = xml_from_root(path, parse_xml(path, expected_root=MASTER_XML_ROOT))
            names = os.listdir(path.parent)
            # images next to it: the folder's rules (an aborted last volume is dropped, a missing
            # file named); none at all: inspection of the XML alone
            listed = {f[2] for seq in xml.sequences for fr in seq.frames for f in fr.files}
            return session_from_xml(path.parent, xml, _voltage_files(path.parent, names),
                                    require_files=not listed.isdisjoint(names))
        names = _scan_folder(path)
        if not names:
            raise FileNotFoundError(
                f"{path} is empty: expected PrairieView images named "
                "<base>_Cycle00001_Ch<c>_000001.ome.tif"
            )
        voltage = _voltage_files(path, names)
        found = find_master(path, names) if use_xml else None
        if found is not None:
            return session_from_xml(path, xml_from_root(*found), voltage)
        return session_from_names(path, names, voltage, excerpt=excerpt)


def _scan_folder(folder: Path) -> list[str]:
    if not folder.exists():
        raise FileNotFoundError(f"PrairieView folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(
            f"expected a PrairieView folder or its master XML, got a file: {folder}")
    with os.scandir(folder) as entries:
        return [entry.name for entry in entries]


def voltage_xmls_without_csv(folder: Path) -> list[Path]:
    """VoltageRecording XMLs of ``folder`` whose CSV is not there (e.g. excerpts), sorted."""
    found = []
    for name in sorted(os.listdir(folder)):
        match = VOLTAGE_RECORDING_PATTERN.match(name)
        if match and match["ext"].lower() == "xml":
            xml = folder / name
            if not xml.with_suffix(".csv").is_file():
                found.append(xml)
    return found


def _voltage_files(folder: Path, names: list[str]) -> tuple[Path, ...]:
    found = (n for n in names if "VoltageRecording" in n)
    return tuple(folder / n for n in sorted(found)
                 if (m := VOLTAGE_RECORDING_PATTERN.match(n)) and m["ext"].lower() == "csv")
