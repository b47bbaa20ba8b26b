"""Reading a session's images: the lazy per-channel/plane stack and the bulk reader."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from CalSciPy._io.source import FrameSource
from CalSciPy.bruker._tiffread import read_frames

if TYPE_CHECKING:
    from CalSciPy.bruker._session.model import PrairieViewSession

__all__ = ["SessionStack", "read_stacks"]


def read_stacks(session: PrairieViewSession, pairs: Sequence[tuple[int, int]], start: int,
                stop: int, on_done: Callable[[int], None] | None = None,
                out: Sequence[np.ndarray] | None = None,
                workers: int | None = None) -> list[np.ndarray]:
    """Frames ``start:stop`` of each ``(channel, plane)`` in ``pairs`` as uint16 arrays: new
    ones, or ``out`` (one C-contiguous ``(stop - start, y, x)`` uint16 array per pair, filled).
    ``workers``: reader threads (None: :func:`~CalSciPy.bruker._tiffread.read_frames`'s
    default).

    The first file's layout (probed once per session) lets every single-page file be read by
    raw offsets; files that differ fall back to tifffile (see :mod:`CalSciPy.bruker._tiffread`).
    """
    height, width = session.frame_shape()
    probed = session.probe
    layout = probed.layout if session.pages.flat[0] == 0 else None
    if layout is not None and np.dtype(layout.dtype).newbyteorder("=") != np.uint16:
        layout = None  # e.g. 8-bit exports: read through tifffile, stored as uint16
    frame_ids = range(start, stop)
    expected = (len(frame_ids), height, width)
    if out is None:
        stacks = [np.empty(expected, dtype=np.uint16) for _ in pairs]
    else:
        stacks = list(out)
        if len(stacks) != len(pairs) or any(
                a.shape != expected or a.dtype != np.uint16 or not a.flags.c_contiguous
                for a in stacks):
            raise ValueError(f"out must be {len(pairs)} C-contiguous uint16 arrays of shape "
                             f"{expected}")
    jobs = []
    for stack, (c, p) in zip(stacks, pairs):
        for i, f in enumerate(frame_ids):
            jobs.append((session.files[f, p, c], int(session.pages[f, p, c]), stack[i]))
    read_frames(jobs, (height, width), layout=layout, workers=workers, on_done=on_done)
    return stacks


def _beside_compute_workers() -> int:
    """Reader threads for blocks read while extraction computes: the cores the kernel leaves
    (it takes half, rounded down); more threads than cores only cost CPU in switching (from
    the page cache, 9 000 512 × 512 frames: 1.1 s of CPU with 1 thread, 1.6 s with 8)."""
    cores = os.cpu_count() or 1
    return max(2, cores - cores // 2)


class SessionStack(FrameSource):
    """Lazy ``(frames, y, x)`` uint16 stack of one channel and plane of a session.

    Returned by :meth:`PrairieViewSession.stack`; indexing reads only the frames asked for.

    Attributes
    ----------
    session
        The :class:`~CalSciPy.bruker.session.PrairieViewSession`.
    channel, plane
        Zero-indexed channel and plane.
    """

    def __init__(self, session: PrairieViewSession, channel: int, plane: int) -> None:
        self.session, self.channel, self.plane = session, channel, plane
        self.shape = (session.n_frames, *session.frame_shape())
        self.dtype = np.dtype(np.uint16)

    @property
    def frame_times_s(self) -> np.ndarray | None:
        """``(frames,)`` start time (s) of each frame of this plane, or None without an XML."""
        times = self.session.frame_times_s
        return None if times is None else times[:, self.plane]

    def _read(self, start: int, stop: int) -> np.ndarray:
        (block,) = read_stacks(self.session, [(self.channel, self.plane)], start, stop)
        return block

    def _read_into(self, start: int, stop: int, out: np.ndarray) -> None:
        """Frames ``start:stop`` into ``out`` (C-contiguous ``(stop - start, y, x)`` uint16):
        extraction reads its blocks into reused buffers this way, on half the cores (at least
        two threads) while its kernel computes on the other half (see
        :meth:`CalSciPy._rois.blocks.BlockReader.compute_threads`)."""
        read_stacks(self.session, [(self.channel, self.plane)], start, stop, out=[out],
                    workers=_beside_compute_workers())

    def __repr__(self) -> str:
        return (f"<SessionStack {self.session.folder.name} channel={self.channel} "
                f"plane={self.plane} shape={self.shape} dtype=uint16>")
