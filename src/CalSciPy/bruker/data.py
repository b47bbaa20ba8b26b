"""Load PrairieView T-series: images, frame times and voltage recordings (documented API).

The folder is read once into a :class:`~CalSciPy.bruker.session.PrairieViewSession` (master XML
when present, file names otherwise); these functions are thin layers over it, the fast TIFF
reader and :mod:`CalSciPy.io_tools`.

``channel`` and ``plane`` arguments are **zero-indexed**: channel ``i`` is the i-th channel
present (sorted by hardware number), so ``channel=0`` on a Ch2-only session is ``Ch2``.

Examples
--------
>>> from CalSciPy.bruker.data import (align_data, extract_frame_times, load_bruker_tifs,
...                                   load_voltage_recording)
>>> from CalSciPy.synthetic import write_prairieview_session
>>> _ = write_prairieview_session("TSeries-001", n_frames=20, shape=(32, 32))
>>> (images,) = load_bruker_tifs("TSeries-001", progress=False)   # one channel, one plane
>>> images.shape, images.dtype
((20, 32, 32), dtype('uint16'))
>>> times = extract_frame_times("TSeries-001/TSeries-001.xml")     # integer ms per frame
>>> len(times)
20
>>> analog = load_voltage_recording("TSeries-001")
>>> aligned = align_data(analog, times, fill=True)
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from CalSciPy._checks import as_path, check_int
from CalSciPy.bruker._session.stack import read_stacks
from CalSciPy.bruker._voltage import read_voltage_recording
from CalSciPy.bruker.configuration_values import (
    FRAME_COLUMN,
    FRAME_FILL_COLUMN,
    FRAME_TIME_INDEX,
    MAX_STACK_GB,
)
from CalSciPy.bruker.session import (
    PrairieViewSession,
    find_master_xml,
    read_prairieview_session,
    read_prairieview_xml,
)
from CalSciPy.errors import InvalidArgumentError, MissingFramesError, SessionError

__all__ = [
    "generate_bruker_naming_convention",
    "determine_imaging_content",
    "load_bruker_tifs",
    "BrukerImages",
    "repackage_bruker_tifs",
    "extract_frame_times",
    "load_voltage_recording",
    "align_data",
]


def _check_index(value: int, name: str) -> int:
    return check_int(value, f"{name} (zero-indexed)", minimum=0)


def generate_bruker_naming_convention(channel: int, plane: int, num_channels: int = 1,
                                      num_planes: int = 1) -> str:
    """Glob pattern matching exactly the image files of one channel and plane.

    PrairieView names images ``<base>_Cycle<CCCCC>_Ch<c>_<IIIIII>.ome.tif``: for a single-plane
    T-series the 6-digit index is the frame; for volumetric data the 5-digit cycle is the
    volume and the index is the plane.

    Parameters
    ----------
    channel
        Zero-indexed channel; hardware channel ``channel + 1`` (``Ch{channel + 1}``).
    plane
        Zero-indexed plane; file index ``plane + 1`` when ``num_planes > 1``.
    num_channels
        Number of channels in the session (validates ``channel``).
    num_planes
        Number of planes in the session (validates ``plane``; 1 = every index is a frame).

    Returns
    -------
    str
        e.g. ``"*_Ch2_*.ome.tif"`` (single plane) or ``"*_Ch1_000012.ome.tif"`` (plane 11).

    Raises
    ------
    InvalidArgumentError
        ``channel``/``plane`` negative or not below ``num_channels``/``num_planes``
        (a ``ValueError`` and ``AssertionError``).
    """
    channel = _check_index(channel, "channel")
    plane = _check_index(plane, "plane")
    num_channels = check_int(num_channels, "num_channels", minimum=1)
    num_planes = check_int(num_planes, "num_planes", minimum=1)
    if channel >= num_channels:
        raise InvalidArgumentError(
            f"channel {channel} is out of range for {num_channels} channel(s)")
    if plane >= num_planes:
        raise InvalidArgumentError(f"plane {plane} is out of range for {num_planes} plane(s)")
    if num_planes == 1:
        return f"*_Cycle*_Ch{channel + 1}_*.ome.tif"
    return f"*_Cycle*_Ch{channel + 1}_{plane + 1:06d}.ome.tif"


def determine_imaging_content(folder: str | Path, *, excerpt: bool = False
                              ) -> tuple[int, int, int, int, int]:
    """Channels, planes, frames and frame size of a PrairieView folder, from its file names.

    The names are parsed with one strict regular expression (no substring counts) and only
    the first image's header is read (no pixels, no XML), so 30 000 files take milliseconds.
    One cycle = single-plane T-series (index = frame); several cycles = volumetric (cycle =
    volume, index = plane); an incomplete last volume is not counted (with a warning).

    Parameters
    ----------
    folder
        Folder containing Bruker imaging data.
    excerpt
        Keyword-only: accept numbering that does not start at 1 (an excerpt of a longer
        acquisition) with a warning instead of raising ``MissingFramesError``.

    Returns
    -------
    tuple of int
        ``(channels, planes, frames, height, width)``; frames per plane (volumes).

    Raises
    ------
    FileNotFoundError
        The folder does not exist, is empty or holds no PrairieView images.
    MissingFramesError
        A gap in the frame/plane/cycle numbering, or numbering that does not start at 1
        (the message names the first expected file).
    DataFormatError
        Multi-page image files without the master XML that maps their pages.
    """
    session = read_prairieview_session(folder, use_xml=False, excerpt=excerpt)
    height, width = session.frame_shape(use_xml=False)
    if session.probe.pages > 1:
        # multi-page files (PrairieView >= 5.6): the names cannot tell the frames, the XML can
        session = read_prairieview_session(folder)
        session.check_single_page()
    return session.n_channels, session.n_planes, session.n_frames, height, width


class BrukerImages(tuple):
    """What :func:`load_bruker_tifs` returns: a tuple of ``(frames, y, x)`` arrays, named.

    A plain tuple (``images[0]``, ``len``, unpacking ``(a, b) = ...`` all work) whose items are
    also reachable by name: ``images.ch0_pl3`` is channel 0, plane 3 (both zero-indexed, as
    the ``channel``/``plane`` arguments). :attr:`keys` gives the ``(channel, plane)`` of each
    item and :meth:`get` looks one up.
    """

    _keys: tuple[tuple[int, int], ...]

    def __new__(cls, arrays, keys) -> BrukerImages:
        obj = super().__new__(cls, arrays)
        keys = tuple((int(c), int(p)) for c, p in keys)
        if len(keys) != len(obj):
            raise ValueError(f"{len(obj)} arrays but {len(keys)} (channel, plane) keys")
        obj._keys = keys
        return obj

    def __reduce__(self):
        return (type(self), (tuple(self), self._keys))

    @property
    def keys(self) -> tuple[tuple[int, int], ...]:
        """``(channel, plane)`` of each array, zero-indexed, in tuple order."""
        return self._keys

    @property
    def names(self) -> tuple[str, ...]:
        """Field name of each array: ``"ch{channel}_pl{plane}"``."""
        return tuple(f"ch{c}_pl{p}" for c, p in self._keys)

    def get(self, channel: int, plane: int) -> np.ndarray:
        """The array of zero-indexed ``channel`` and ``plane``; ``KeyError`` when not loaded.

        A non-integer index (``0.9``, ``True``) is an ``InvalidArgumentTypeError`` (a
        ``TypeError``), never truncated to another channel or plane.
        """
        key = (check_int(channel, "channel"), check_int(plane, "plane"))
        try:
            return self[self._keys.index(key)]
        except ValueError:
            raise KeyError(f"channel {channel}, plane {plane} was not loaded; loaded: "
                           f"{', '.join(self.names)}") from None

    def _asdict(self) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self))

    def __getattr__(self, name: str) -> np.ndarray:
        match = re.fullmatch(r"ch(\d+)_pl(\d+)", name)
        if match is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        try:
            return self.get(int(match[1]), int(match[2]))
        except KeyError as err:
            raise AttributeError(str(err)) from None

    def __repr__(self) -> str:
        items = ", ".join(f"{n}={a.shape}" if hasattr(a, "shape") else n
                          for n, a in zip(self.names, self))
        return f"BrukerImages({items})"


def _selection(session: PrairieViewSession, channel: int | None, plane: int | None
               ) -> list[tuple[int, int]]:
    session.check_channel_plane(channel, plane)
    channels = range(session.n_channels) if channel is None else [int(channel)]
    planes = range(session.n_planes) if plane is None else [int(plane)]
    return [(c, p) for c in channels for p in planes]


def load_bruker_tifs(folder: str | Path, channel: int | None = None, plane: int | None = None,
                     *, progress: bool = True, excerpt: bool = False) -> BrukerImages:
    """Load the images of a PrairieView T-series into one array per channel and plane.

    The layout of the TIFFs is parsed once; every file is then read straight into a
    preallocated array by a thread pool (files whose layout differs fall back to tifffile),
    giving exactly what ``tifffile.imread`` returns for each file. For a lazy stack (frames
    read only when indexed) use ``read_prairieview_session(folder).stack(channel, plane)``.

    Parameters
    ----------
    folder
        Folder containing a sequence of single-frame (or multi-page) ``.ome.tif`` files, or
        its master XML.
    channel
        Zero-indexed channel to load (i-th channel present); None loads every channel.
    plane
        Zero-indexed plane to load; None loads every plane.
    progress
        Keyword-only: show a tqdm progress bar.
    excerpt
        Keyword-only, folders without the master XML: accept numbering that does not start
        at 1 (an excerpt) with a warning instead of raising ``MissingFramesError``.

    Returns
    -------
    BrukerImages
        Always a tuple (also when both ``channel`` and ``plane`` are given:
        ``(images,) = load_bruker_tifs(folder, channel=1, plane=3)``) of ``(frames, y, x)``
        uint16 arrays, one per (channel, plane) in channel-major order
        (``[(c0, p0), (c0, p1), …, (c1, p0), …]``), each also reachable by name
        (``result.ch1_pl3``; :attr:`BrukerImages.keys`). Frames are in acquisition order;
        volumetric planes in z-stroke order (bidirectional z handled); an incomplete last
        volume is dropped with a warning.

    Raises
    ------
    FileNotFoundError
        Missing/empty folder or no PrairieView images.
    InvalidArgumentError
        ``channel`` or ``plane`` out of range (the message lists those that exist; a
        ``ValueError`` and ``AssertionError``).
    MissingFramesError
        A gap in the frames, or (without the XML) numbering that does not start at 1.
    SessionError
        Duplicate frames.
    DataFormatError
        A truncated/unreadable TIFF, frames of different sizes (naming the file), or
        multi-page files without the master XML that maps their pages.
    """
    session = read_prairieview_session(folder, excerpt=excerpt)
    pairs = _selection(session, channel, plane)
    session.check_single_page()
    total = session.n_frames * len(pairs)
    with tqdm(total=total, desc="loading PrairieView images", unit="frame",
              disable=not progress or total < 200) as bar:
        stacks = read_stacks(session, pairs, 0, session.n_frames, on_done=bar.update)
    return BrukerImages(stacks, pairs)


def repackage_bruker_tifs(input_folder: str | Path, output_folder: str | Path, channel: int = 0,
                          plane: int = 0, *, progress: bool = True) -> None:
    """Repackage one channel/plane of a PrairieView folder into < 4 GB multi-page TIFF stacks.

    Writes ``images.tif``, or ``images_00.tif, images_01.tif, …`` of at most
    :data:`~CalSciPy.bruker.configuration_values.MAX_STACK_GB` (3.9) GB each, through
    :func:`CalSciPy.io_tools.save_images`; frames are streamed from the session's lazy
    :meth:`~CalSciPy.bruker.session.PrairieViewSession.stack` in blocks of about 64 MB, so
    memory never holds more than one block (well under one output file). Every file is written
    atomically.

    Parameters
    ----------
    input_folder
        Folder containing the single-frame ``.ome.tif`` files exported by PrairieView.
    output_folder
        Folder receiving the stacks; created when missing.
    channel
        Zero-indexed channel.
    plane
        Zero-indexed plane.
    progress
        Keyword-only: show a tqdm progress bar.

    Raises
    ------
    FileExistsError
        ``output_folder`` already holds ``images.tif``/``images_NN.tif`` (remove them first).
    InvalidArgumentError
        ``channel``/``plane`` out of range (a ``ValueError`` and ``AssertionError``).
    """
    from CalSciPy.io_tools import save_images

    _check_index(channel, "channel")
    _check_index(plane, "plane")
    session = read_prairieview_session(input_folder)
    stack = session.stack(channel, plane)
    output = as_path(output_folder, "output_folder")
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(f"output_folder {output} exists and is not a folder")
    if output.is_dir():
        existing = sorted(p.name for p in output.iterdir()
                          if re.fullmatch(r"images(_\d{2,})?\.tiff?", p.name))
        if existing:
            raise FileExistsError(
                f"{output} already holds image stacks ({', '.join(existing)}); remove them "
                "before repackaging"
            )
    output.mkdir(parents=True, exist_ok=True)
    save_images(output, stack, MAX_STACK_GB, overwrite=False,  # type: ignore[arg-type]
                progress=progress)  # save_images streams any FrameSource


def extract_frame_times(filename: str | Path) -> pd.DataFrame:
    """Frame start times from a PrairieView session's master XML.

    The times are rounded to whole milliseconds, as 0.3.x documented. The exact float times
    (seconds) of every frame and, in volumetric sessions, of every plane are
    :attr:`~CalSciPy.bruker.session.PrairieViewSession.frame_times_s`
    (``read_prairieview_session(folder).frame_times_s``, shape ``(frames, planes)``).

    Parameters
    ----------
    filename
        The master ``<base>.xml`` (or the acquisition folder holding it).

    Returns
    -------
    pandas.DataFrame
        Index ``Time (ms)`` (int64, milliseconds from the first frame, rounded), one column
        ``Imaging Frame`` (0 … n−1), one row per frame of the stack :func:`load_bruker_tifs`
        returns: every Frame of a single-plane T-series across all Sequences (relativeTime
        restarts are offset by absoluteTime), one row per complete volume (its first plane's
        time) for volumetric data.

    Raises
    ------
    FileNotFoundError
        No such file, or the folder has no master XML.
    DataFormatError
        Not a PVScan XML, malformed or unsafe XML.
    MissingFramesError
        A volume other than the last has fewer planes than the others.

    Warns
    -----
    UserWarning
        An incomplete last volume (aborted acquisition) was dropped.
    """
    path = as_path(filename, "filename")
    if path.is_dir():
        xml_path = find_master_xml(path)
        if xml_path is None:
            raise FileNotFoundError(
                f"{path} has no PrairieView master XML (<base>.xml with root PVScan)"
            )
        path = xml_path
    xml = read_prairieview_xml(path)
    times = xml.frame_times()
    if xml.volumetric:
        volumes = [s for s in xml.sequences if s.frames]
        per_volume = [len(s.frames) for s in volumes]
        n_planes = max(per_volume)
        short = [i for i, count in enumerate(per_volume) if count != n_planes]
        if short and short != [len(volumes) - 1]:
            # dropping a volume in the middle would shift every later frame number
            bad = volumes[short[0]]
            raise MissingFramesError(
                f"{path}: cycle {bad.cycle} has {len(bad.frames)} planes, expected {n_planes} "
                "like the other volumes"
            )
        if short:
            warnings.warn(
                f"{path}: the last volume (cycle {volumes[-1].cycle}) is incomplete "
                f"({per_volume[-1]} of {n_planes} planes); it was dropped",
                UserWarning, stacklevel=2,
            )
        starts, k = [], 0
        for count in per_volume:
            if count == n_planes:
                starts.append(times[k:k + count].min())
            k += count
        complete = [s for s in volumes if len(s.frames) == n_planes]
        if len(complete) > 1 and _last_volume_not_written(path.parent, complete):
            # as load_bruker_tifs: an aborted acquisition may list a last volume whose files
            # were never written; it is not in the loaded stack, so it gets no row
            warnings.warn(
                f"{path}: the files of the last volume (cycle {complete[-1].cycle}) are "
                "incomplete; it was dropped",
                UserWarning, stacklevel=2,
            )
            starts = starts[:-1]
        times = np.asarray(starts)
    if times.size == 0:
        raise SessionError(f"{path}: the master XML lists no frames")
    ms = np.rint(times * 1000.0).astype(np.int64)
    return pd.DataFrame(
        {FRAME_COLUMN: np.arange(ms.size, dtype=np.int64)},
        index=pd.Index(ms, name=FRAME_TIME_INDEX),
    )


def _last_volume_not_written(folder: Path, volumes: list) -> bool:
    """True when the images are next to the XML but the last volume's are (partly) missing.

    Without the images (e.g. deleted after repackaging) nothing can be told: False.
    """
    try:
        existing = set(os.listdir(folder))
    except OSError:
        return False

    def written(seq) -> bool:
        return all(name in existing for frame in seq.frames for _, _, name, _ in frame.files)

    return written(volumes[0]) and not written(volumes[-1])


def load_voltage_recording(path: str | Path) -> pd.DataFrame:
    """Load a PrairieView VoltageRecording (analog inputs) as a DataFrame.

    Parameters
    ----------
    path
        The ``*_VoltageRecording_*.csv`` file, or a folder holding exactly one.

    Returns
    -------
    pandas.DataFrame
        Index ``Time(ms)`` (float, ms), one float column per enabled signal. When the paired
        ``.xml`` exists its enabled signal names replace the CSV header's (some rigs write
        wrong header names). The index keeps the name PrairieView writes in the CSV header
        (``Time(ms)``, no space) while frame times use 0.3.x's ``Time (ms)``: code written for
        0.3.x looks both up by name, so neither is renamed (see
        :mod:`CalSciPy.bruker.configuration_values`); :func:`align_data` matches by value.

    Raises
    ------
    FileNotFoundError
        No such file, or no VoltageRecording CSV in the folder (saying so when the XML shows
        the recording was saved in PrairieView's binary form, ``<IsCSV>false</IsCSV>``).
    ValueError
        Several CSVs in the folder (listed).
    DataFormatError
        Binary content, a time cell that is empty, NaN or not a number, a signal cell that is
        not a number (naming the file and row), or columns that disagree with the XML.
    """
    return read_voltage_recording(path)


def align_data(analog_data: pd.DataFrame, frame_times: pd.DataFrame, fill: bool = False, *,
               method: str = "nearest") -> pd.DataFrame:
    """Attach imaging frames to analog samples by time.

    Each frame start is matched to the nearest analog sample (not by exact label equality).

    Parameters
    ----------
    analog_data
        Analog data indexed by time in ms (e.g. from :func:`load_voltage_recording`).
    frame_times
        Frame times indexed by time in ms with an ``Imaging Frame`` column (from
        :func:`extract_frame_times`).
    fill
        Also add ``Imaging Frame (interpolated)``: a frame for every sample.
    method
        Keyword-only, for ``fill``: ``"nearest"`` (frame whose start is nearest in time) or
        ``"previous"`` (the frame being acquired: last frame started at or before the sample;
        NaN before the first frame).

    Returns
    -------
    pandas.DataFrame
        A copy of ``analog_data`` with the column ``Imaging Frame`` (float: the frame that
        starts at that sample, NaN elsewhere; frames starting more than half a sample interval
        before the first or after the last sample are not placed) and, with ``fill``,
        ``Imaging Frame (interpolated)``.

    Raises
    ------
    TypeError
        Inputs are not DataFrames.
    InvalidArgumentError
        ``frame_times`` lacks ``Imaging Frame``; an index that is not one level of finite,
        increasing times in ms (a MultiIndex, NaN, text), naming the argument and row; or
        ``method`` unknown (a ``ValueError`` and ``AssertionError``).

    Warns
    -----
    UserWarning
        Several frames share their nearest sample (a recording sampled more slowly than the
        frames): only the last of them is in ``Imaging Frame``.
    """
    if not isinstance(analog_data, pd.DataFrame) or not isinstance(frame_times, pd.DataFrame):
        raise TypeError("analog_data and frame_times must be pandas DataFrames")
    if FRAME_COLUMN not in frame_times.columns:
        raise InvalidArgumentError(f"frame_times must have an {FRAME_COLUMN!r} column "
                                   "(see extract_frame_times)")
    if method not in ("nearest", "previous"):
        raise InvalidArgumentError(f"method must be 'nearest' or 'previous', got {method!r}")
    sample_t = _time_index(analog_data, "analog_data")
    frame_t = _time_index(frame_times, "frame_times")
    frames = frame_times[FRAME_COLUMN].to_numpy(dtype=np.float64)
    out = analog_data.copy()
    column = np.full(sample_t.size, np.nan)
    if sample_t.size and frame_t.size:
        nearest = _nearest(sample_t, frame_t)
        # a frame that starts outside the recording (beyond half a sample interval) starts at
        # no sample: without this every such frame would be piled onto the first/last sample
        half = 0.5 * float(np.median(np.diff(sample_t))) if sample_t.size > 1 else 0.0
        inside = (frame_t >= sample_t[0] - half) & (frame_t <= sample_t[-1] + half)
        column[nearest[inside]] = frames[inside]
        shared = int(inside.sum()) - np.unique(nearest[inside]).size
        if shared:
            # frames closer together than the samples: only the last of each group can be
            # written into one sample's row
            warnings.warn(
                f"align_data: {shared} frame(s) share their nearest analog sample with a later "
                f"frame and are not in {FRAME_COLUMN!r} (the recording is sampled more slowly "
                "than the frames); use fill=True for the frame at every sample",
                UserWarning, stacklevel=2,
            )
    out[FRAME_COLUMN] = column
    if fill:
        filled = np.full(sample_t.size, np.nan)
        if sample_t.size and frame_t.size:
            if method == "nearest":
                filled = frames[_nearest(frame_t, sample_t)]
            else:
                pos = np.searchsorted(frame_t, sample_t, side="right") - 1
                valid = pos >= 0
                filled[valid] = frames[pos[valid]]
        out[FRAME_FILL_COLUMN] = filled
    return out


def _time_index(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The index of ``frame`` as finite increasing times (ms), or an error naming ``name``."""
    index = frame.index
    if isinstance(index, pd.MultiIndex):
        raise InvalidArgumentError(
            f"{name} has a MultiIndex ({index.nlevels} levels: {list(index.names)}); expected "
            "one index level of time in ms (e.g. reset_index() the other levels)"
        )
    try:
        values = index.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(
            f"{name} index ({index.name!r}, dtype {index.dtype}) is not numeric time in ms"
        ) from err
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidArgumentError(
            f"{name} index ({index.name!r}) holds {values[row]} at row {row}; expected finite "
            "times in ms"
        )
    if values.size > 1 and np.any(np.diff(values) < 0):
        raise InvalidArgumentError(f"{name} must be indexed by increasing time (ms)")
    return values


def _nearest(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index into sorted ``grid`` of the element nearest each of ``values`` (ties: earlier)."""
    right = np.clip(np.searchsorted(grid, values), 0, grid.size - 1)
    left = np.clip(right - 1, 0, grid.size - 1)
    pick_left = np.abs(values - grid[left]) <= np.abs(grid[right] - values)
    return np.where(pick_left, left, right)

