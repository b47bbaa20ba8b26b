"""Session layout from a parsed master XML (file order, channels, planes, pages, times)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from CalSciPy.bruker._session.master_xml import (
    PrairieViewFrame,
    PrairieViewSequence,
    PrairieViewXML,
)
from CalSciPy.bruker._session.model import PrairieViewSession
from CalSciPy.errors import MissingFramesError, SessionError

__all__ = ["session_from_xml"]


def session_from_xml(folder: Path, xml: PrairieViewXML, voltage: tuple[Path, ...], *,
                     require_files: bool = True) -> PrairieViewSession:
    """Build the session of ``folder`` from its parsed master XML (see
    :func:`~CalSciPy.bruker.session.read_prairieview_session`).

    ``require_files=False`` does not check that the listed images exist (inspection of an
    XML whose images are elsewhere or gone).
    """
    frames_all = [(seq, fr) for seq in xml.sequences for fr in seq.frames]
    if not frames_all or not any(fr.files for _, fr in frames_all):
        raise SessionError(f"{xml.path}: the master XML lists no image files")
    channels = xml.channels
    names = dict(zip(xml.channels, xml.channel_names))
    ch_pos = {c: i for i, c in enumerate(channels)}
    times = xml.frame_times()
    seen: dict[tuple[str, int], str] = {}

    def file_row(seq: PrairieViewSequence, frame: PrairieViewFrame) -> tuple[list, list]:
        row: list = [None] * len(channels)
        pages = [0] * len(channels)
        for channel, _, name, page in frame.files:
            where = f"cycle {seq.cycle} frame index {frame.index} Ch{channel}"
            previous = seen.get((name, page))
            if previous is not None:
                raise SessionError(
                    f"{xml.path}: duplicate frame, {name} page {page + 1} is listed for both "
                    f"{previous} and {where}"
                )
            seen[(name, page)] = where
            row[ch_pos[channel]] = os.path.join(str(folder), name)
            pages[ch_pos[channel]] = page
        missing = [channels[i] for i, r in enumerate(row) if r is None]
        if missing:
            raise MissingFramesError(
                f"{xml.path}: cycle {seq.cycle} frame index {frame.index} has no file for "
                f"Ch{missing[0]} (expected one <File> per channel {list(channels)})"
            )
        return row, pages

    dropped = 0
    plane_z = None
    if not xml.volumetric:
        rows, pages, frame_times = [], [], []
        for seq in xml.sequences:
            indices = [fr.index for fr in seq.frames]
            _check_index_sequence(xml.path, seq, indices, "frame")
        for k, (seq, frame) in enumerate(frames_all):
            row, page = file_row(seq, frame)
            rows.append([row])
            pages.append([page])
            frame_times.append(times[k])
        files = _object_rows(rows)
        page_arr = np.asarray(pages, dtype=np.int64)
        n_planes = 1
        frame_times_arr = np.asarray(frame_times)
        plane_times = frame_times_arr[:, None].copy()
    else:
        seqs = [s for s in xml.sequences if s.frames]
        n_planes = max(len(s.frames) for s in seqs)
        for seq in seqs:
            _check_index_sequence(xml.path, seq, [fr.index for fr in seq.frames], "plane")
        if len(seqs[-1].frames) < n_planes and all(len(s.frames) == n_planes for s in seqs[:-1]):
            dropped = len(seqs[-1].frames) * len(channels)
            warnings.warn(
                f"{xml.path}: the last volume (cycle {seqs[-1].cycle}) is incomplete "
                f"({len(seqs[-1].frames)} of {n_planes} planes); it was dropped",
                UserWarning, stacklevel=3,
            )
            seqs = seqs[:-1]
        for seq in seqs:
            if len(seq.frames) != n_planes:
                raise MissingFramesError(
                    f"{xml.path}: cycle {seq.cycle} has {len(seq.frames)} planes, expected "
                    f"{n_planes} like the other volumes"
                )
        # the reference z-stroke is that of odd cycles, also when the XML starts with an even
        # one (an excerpt): otherwise the z and the no-z paths would disagree on plane order
        reference = sorted(seqs[0].frames, key=lambda fr: fr.index)
        if seqs[0].bidirectional_z and seqs[0].cycle % 2 == 0:
            reference.reverse()
        first_z = [fr.z for fr in reference]
        have_z = all(z is not None for s in seqs for z in (fr.z for fr in s.frames))
        plane_z = np.asarray(first_z, dtype=np.float64) if have_z else None
        start = {id(fr): times[k] for k, (_, fr) in enumerate(frames_all)}
        rows, pages, frame_times, per_plane = [], [], [], []
        for seq in seqs:
            ordered = _order_planes(seq, n_planes, plane_z)
            vol_rows, vol_pages = [], []
            per_plane.append([start[id(fr)] for fr in ordered])
            for frame in ordered:
                row, page = file_row(seq, frame)
                vol_rows.append(row)
                vol_pages.append(page)
            rows.append(vol_rows)
            pages.append(vol_pages)
            frame_times.append(min(start[id(fr)] for fr in seq.frames))
        files = _object_rows(rows)
        page_arr = np.asarray(pages, dtype=np.int64)
        frame_times_arr = np.asarray(frame_times)
        plane_times = np.asarray(per_plane, dtype=np.float64).reshape(-1, n_planes)
    n_frames = _files_on_disk(folder, files, xml) if require_files else files.shape[0]
    dropped += int(np.prod(files.shape[1:])) * (files.shape[0] - n_frames)
    files, page_arr, frame_times_arr = (files[:n_frames], page_arr[:n_frames],
                                        frame_times_arr[:n_frames])
    plane_times = plane_times[:n_frames]
    first = next(f for f in files.flat if f is not None)
    base = os.path.basename(first).split("_Cycle")[0]
    return PrairieViewSession(
        folder=folder,
        base_name=base,
        xml=xml,
        channels=channels,
        channel_names=tuple(names[c] for c in channels),
        n_planes=n_planes,
        n_frames=n_frames,
        files=files,
        pages=page_arr,
        frame_times=frame_times_arr,
        plane_times=plane_times,
        plane_z=plane_z,
        voltage_recordings=voltage,
        dropped_frames=dropped,
    )


def _object_rows(rows: list) -> np.ndarray:
    """Nested ``[frame][plane][channel]`` lists of paths as an object array (no str splitting)."""
    out = np.empty((len(rows), len(rows[0]), len(rows[0][0])), dtype=object)
    for i, vol in enumerate(rows):
        for j, row in enumerate(vol):
            for k, value in enumerate(row):
                out[i, j, k] = value
    return out


def _files_on_disk(folder: Path, files: np.ndarray, xml: PrairieViewXML) -> int:
    """Number of leading frames/volumes whose files all exist.

    An aborted volumetric acquisition may list a last volume whose files were never (or only
    partly) written: that volume is left out with a warning. A missing file anywhere else
    raises :class:`~CalSciPy.errors.MissingFramesError` naming it.
    """
    existing = set(os.listdir(folder))
    rows = files.reshape(files.shape[0], -1).tolist()
    missing = [i for i, row in enumerate(rows)
               if any(os.path.basename(p) not in existing for p in row)]
    if not missing:
        return len(rows)
    last = len(rows) - 1
    if missing == [last] and files.shape[1] > 1 and last > 0:
        warnings.warn(
            f"{xml.path}: the files of the last volume are incomplete; it was dropped",
            UserWarning, stacklevel=4,
        )
        return last
    name = next(p for p in rows[missing[0]] if os.path.basename(p) not in existing)
    raise MissingFramesError(
        f"missing frame: {name} is listed in {xml.path} but does not exist"
    )


def _check_index_sequence(path: Path, seq: PrairieViewSequence, indices: list[int],
                          what: str) -> None:
    arr = np.asarray(indices, dtype=np.int64)
    if arr.size == 0:
        return
    dup = np.flatnonzero(np.diff(np.sort(arr)) == 0)
    if dup.size:
        raise SessionError(
            f"{path}: duplicate frame, cycle {seq.cycle} lists {what} index "
            f"{int(np.sort(arr)[dup[0]])} twice"
        )
    gaps = np.flatnonzero(np.diff(arr) != 1)
    if gaps.size:
        raise MissingFramesError(
            f"{path}: missing frames in cycle {seq.cycle}: the {what} index jumps from "
            f"{int(arr[gaps[0]])} to {int(arr[gaps[0] + 1])}"
        )


def _order_planes(seq: PrairieViewSequence, n_planes: int, plane_z: np.ndarray | None
                  ) -> list[PrairieViewFrame]:
    frames = list(seq.frames)
    if plane_z is not None and len(np.unique(plane_z)) == n_planes:
        # match each frame to the plane with the nearest z of the first volume
        zs = np.asarray([fr.z for fr in frames], dtype=np.float64)
        order = np.argsort(np.abs(zs[None, :] - plane_z[:, None]), axis=1)[:, 0]
        if len(set(order.tolist())) == n_planes:
            return [frames[i] for i in order]
    frames.sort(key=lambda fr: fr.index)
    if seq.bidirectional_z and seq.cycle % 2 == 0:
        frames.reverse()
    return frames

