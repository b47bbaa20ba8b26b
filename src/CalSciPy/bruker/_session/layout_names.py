"""Session layout from the image file names alone (no master XML)."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from CalSciPy.bruker._naming import image_name, parse_image_names
from CalSciPy.bruker._session.model import PrairieViewSession
from CalSciPy.errors import MissingFramesError, SessionError

__all__ = ["session_from_names"]


def _raise_no_images(folder: Path, names: list[str]) -> None:
    shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    raise FileNotFoundError(
        f"{folder} holds no PrairieView images (expected names like "
        f"<base>_Cycle00001_Ch2_000001.ome.tif; found: {shown})"
    )


def session_from_names(folder: Path, names: list[str], voltage: tuple[Path, ...], *,
                       excerpt: bool = False) -> PrairieViewSession:
    """Build the session of ``folder`` from its file ``names`` (see
    :func:`~CalSciPy.bruker.session.read_prairieview_session`, ``use_xml=False``)."""
    parsed = parse_image_names(names)
    if len(parsed) == 0:
        _raise_no_images(folder, names)
    bases = sorted(set(parsed.bases))
    if len(bases) > 1:
        raise SessionError(
            f"{folder} mixes images of {len(bases)} acquisitions ({', '.join(bases[:4])}); "
            "expected one base name per folder"
        )
    # vectorised over files: cycle-major, then channel, then index
    order = np.lexsort((parsed.indices, parsed.channels, parsed.cycles))
    cyc, ch, idx = parsed.cycles[order], parsed.channels[order], parsed.indices[order]
    prefix = os.path.join(str(folder), "")
    paths = np.array([prefix + parsed.names[i] for i in order.tolist()], dtype=object)
    same = (cyc[1:] == cyc[:-1]) & (ch[1:] == ch[:-1]) & (idx[1:] == idx[:-1])
    if same.any():
        k = int(np.flatnonzero(same)[0])
        # the same frame written twice (e.g. different zero padding) would silently replace one
        raise SessionError(
            f"duplicate frame in {folder}: {os.path.basename(paths[k])} and "
            f"{os.path.basename(paths[k + 1])} are both cycle {cyc[k]}, Ch{ch[k]}, "
            f"index {idx[k]}"
        )
    channels = np.unique(ch)
    cycles = np.unique(cyc)
    planes = np.unique(idx)
    n_ch = len(channels)
    dropped = 0
    _check_start(folder, bases[0], cycles, planes, channels, excerpt)
    if len(cycles) == 1:
        _check_contiguous(folder, planes, "frame index",
                          lambda i: _expected_name(bases[0], int(cycles[0]), int(channels[0]), i))
        n_frames, n_planes = len(planes), 1
        for c in channels.tolist():
            got = idx[ch == c]
            if got.size != n_frames:
                missing = int(np.setdiff1d(planes, got)[0])
                raise MissingFramesError(
                    f"missing frame in {folder}: Ch{c} has no image for index {missing} "
                    f"(expected {_expected_name(bases[0], int(cycles[0]), c, missing)})"
                )
        files = paths.reshape(n_ch, n_frames).T[:, None, :]
    else:
        _check_contiguous(folder, cycles, "cycle (volume)",
                          lambda c: _expected_name(bases[0], c, int(channels[0]), int(planes[0])))
        _check_contiguous(folder, planes, "plane index",
                          lambda i: _expected_name(bases[0], int(cycles[0]), int(channels[0]), i))
        n_planes = len(planes)
        per_cycle = n_planes * n_ch
        counts = np.bincount(cyc - cycles[0], minlength=len(cycles))
        incomplete = np.flatnonzero(counts != per_cycle)
        if incomplete.size and incomplete[0] == len(cycles) - 1:
            dropped = int(counts[-1])
            warnings.warn(
                f"{folder}: the last volume (cycle {int(cycles[-1])}) is incomplete "
                f"({dropped} of {per_cycle} images); it was dropped",
                UserWarning, stacklevel=3,
            )
            keep = cyc != cycles[-1]
            cyc, ch, idx, paths = cyc[keep], ch[keep], idx[keep], paths[keep]
            cycles = cycles[:-1]
        elif incomplete.size:
            bad = int(cycles[incomplete[0]])
            sel = cyc == bad
            have = set(zip(ch[sel].tolist(), idx[sel].tolist()))
            c, p = next((c, p) for c in channels.tolist() for p in planes.tolist()
                        if (c, p) not in have)
            raise MissingFramesError(
                f"missing frame in {folder}: cycle {bad} Ch{c} has no image for plane index "
                f"{p} (expected {_expected_name(bases[0], bad, c, p)})"
            )
        n_frames = len(cycles)
        files = paths.reshape(n_frames, n_ch, n_planes).transpose(0, 2, 1)
    files = np.ascontiguousarray(files)
    return PrairieViewSession(
        folder=folder,
        base_name=bases[0],
        xml=None,
        channels=tuple(int(c) for c in channels),
        channel_names=tuple(f"Ch{int(c)}" for c in channels),
        n_planes=n_planes,
        n_frames=n_frames,
        files=files,
        pages=np.zeros(files.shape, dtype=np.int64),
        frame_times=None,
        plane_z=None,
        voltage_recordings=voltage,
        dropped_frames=dropped,
    )


def _expected_name(base: str, cycle: int, channel: int, index: int) -> str:
    return image_name(base, cycle, channel, index)


def _check_start(folder: Path, base: str, cycles: np.ndarray, indices: np.ndarray,
                 channels: np.ndarray, excerpt: bool) -> None:
    """Numbering must start at cycle 1, index 1: otherwise the first frames are missing.

    Without the master XML nothing else tells that frame 0 is really frame 3 (a copy that
    lost its first files, or an excerpt); ``excerpt=True`` accepts it with a warning.
    """
    if int(cycles[0]) == 1 and int(indices[0]) == 1:
        return
    expected = _expected_name(base, 1, int(channels[0]), 1)
    found = _expected_name(base, int(cycles[0]), int(channels[0]), int(indices[0]))
    if excerpt:
        warnings.warn(
            f"{folder}: the numbering starts at {found} instead of {expected}; loaded as an "
            "excerpt (frame 0 is the first file present)",
            UserWarning, stacklevel=4,
        )
        return
    raise MissingFramesError(
        f"missing frames in {folder}: the first expected file {expected} is not there (the "
        f"numbering starts at {found}); pass excerpt=True to load an excerpt of a longer "
        "acquisition anyway"
    )


def _check_contiguous(folder: Path, values: np.ndarray, what: str,
                      name_of: Callable[[int], str]) -> None:
    """Raise naming the first missing file when ``values`` (sorted, unique) has a gap."""
    gaps = np.flatnonzero(np.diff(values) != 1)
    if gaps.size:
        before, after = int(values[gaps[0]]), int(values[gaps[0] + 1])
        raise MissingFramesError(
            f"missing frames in {folder}: the {what} jumps from {before} to {after} "
            f"(expected {before + 1}..{after - 1} to exist, e.g. {name_of(before + 1)})"
        )

