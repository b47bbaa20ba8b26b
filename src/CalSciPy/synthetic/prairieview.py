"""Write realistic synthetic PrairieView acquisition folders (tests, benchmarks, the demo).

The folder looks like what PrairieView 5.5 writes: a master ``<base>.xml`` (UTF-8 with BOM,
root ``PVScan`` with ``version``/``date``/``notes``, a ``PVStateShard`` of session settings,
``Sequence``/``Frame``/``File`` elements), single-frame OME-TIFFs named
``<base>_Cycle<CCCCC>_Ch<c>_<IIIIII>.ome.tif`` (8-row strips, OME description, ``Software``
tag), optionally multi-page files as PrairieView ≥ 5.6 writes them, a VoltageRecording CSV with
its XML (enabled and disabled signals), a ``<base>.env`` and a ``References/`` folder.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
import tifffile
from tqdm.auto import tqdm

from CalSciPy._atomic import atomic_write
from CalSciPy._checks import as_path
from CalSciPy.bruker.configuration_values import DEFAULT_PRAIRIEVIEW_VERSION, VOLTAGE_TIME_COLUMN
from CalSciPy.errors import InvalidArgumentError
from CalSciPy.synthetic._validate import check_count, check_positive

__all__ = ["SyntheticPrairieViewSession", "write_prairieview_session"]

_BOM = "\ufeff"


@dataclass(frozen=True)
class SyntheticPrairieViewSession:
    """What :func:`write_prairieview_session` wrote, with its ground truth.

    Attributes
    ----------
    folder
        The acquisition folder.
    xml_path
        The master XML.
    images
        ``(frames, planes, channels, y, x)`` uint16: plane ``p`` is the p-th plane of the
        z-stroke of odd cycles (what ``load_bruker_tifs`` returns for that plane).
    frame_times
        ``(frames,)`` start time (s) of each frame (of the first acquired plane of each volume).
    channels
        Hardware channel numbers (1-based) written.
    voltage
        The voltage recording written (index ``Time(ms)``, one column per enabled signal), or
        None.
    voltage_csv
        The VoltageRecording CSV, or None.
    stimulus_onsets
        Start times (s) of the stimulus pulses in the ``Stimulus`` signal.
    movie
        The :class:`~CalSciPy.synthetic.SyntheticMovie` the images came from, or None when
        ``images`` was passed.
    dropped_frames
        Images of the incomplete extra volume written (``aborted_planes``), not in ``images``.
    """

    folder: Path
    xml_path: Path
    images: np.ndarray
    frame_times: np.ndarray
    channels: tuple[int, ...]
    voltage: pd.DataFrame | None
    voltage_csv: Path | None
    stimulus_onsets: np.ndarray
    movie: object | None = None
    dropped_frames: int = 0


def _as_5d(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint16:
        raise TypeError(f"images must be uint16 (as PrairieView writes), not {images.dtype}")
    if images.ndim == 3:
        return images[:, None, None]
    if images.ndim == 4:
        return images[:, :, None]
    if images.ndim == 5:
        return images
    raise InvalidArgumentError(
        "images must be (frames, y, x), (frames, planes, y, x) or "
        f"(frames, planes, channels, y, x); got shape {images.shape}"
    )


def _make_images(n_frames: int, shape: tuple[int, int], n_planes: int, n_channels: int,
                 frame_rate: float, seed: int):
    from CalSciPy.synthetic.movies import generate_movie

    movie = generate_movie(n_frames * n_planes, shape, n_neurons=max(1, shape[0] * shape[1] // 800),
                           frame_rate=frame_rate * n_planes, seed=seed)
    base = movie.images.reshape(n_frames, n_planes, 1, *shape)
    images = np.empty((n_frames, n_planes, n_channels, *shape), dtype=np.uint16)
    images[:, :, :1] = base
    for c in range(1, n_channels):
        # a second channel (e.g. a structural red label): the same scene, dimmer and offset
        images[:, :, c] = np.clip(base[:, :, 0].astype(np.uint32) // 2 + 100 * c, 0, 65535)
    return images, movie


def _ome_description(first_file: str) -> str:
    return (
        '<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2012-06" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation='
        '"http://www.openmicroscopy.org/Schemas/OME/2012-06 '
        'http://www.openmicroscopy.org/Schemas/OME/2012-06/ome.xsd" '
        f'UUID="urn:uuid:{uuid.uuid4()}"><BinaryOnly MetadataFile="{first_file}" '
        f'UUID="urn:uuid:{uuid.uuid4()}"/></OME>'
    )


def _fmt(value: float) -> str:
    """PrairieView's number style: shortest round-trip form, no trailing ``.0``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def write_prairieview_session(
    folder: str | os.PathLike,
    images: np.ndarray | None = None,
    *,
    n_frames: int = 100,
    shape: tuple[int, int] = (64, 64),
    n_planes: int = 1,
    n_channels: int = 1,
    frame_rate: float = 30.0,
    channels: tuple[int, ...] | None = None,
    channel_names: tuple[str, ...] | None = None,
    bidirectional_z: bool = False,
    z_start: float = -150.0,
    z_step: float = 25.0,
    multipage: bool = False,
    aborted_planes: int = 0,
    voltage: bool = True,
    voltage_rate: float = 1000.0,
    stimulus_interval: float = 2.0,
    stimulus_duration: float = 0.5,
    base_name: str | None = None,
    version: str = DEFAULT_PRAIRIEVIEW_VERSION,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
) -> SyntheticPrairieViewSession:
    """Write a synthetic PrairieView T-series folder that CalSciPy's readers accept.

    Parameters
    ----------
    folder
        Acquisition folder to create (its name is the default base name). Must not exist or
        be empty unless ``overwrite``.
    images
        uint16 ``(frames, y, x)``, ``(frames, planes, y, x)`` or ``(frames, planes, channels,
        y, x)``; sets the number of frames, planes and channels. None: a
        :func:`~CalSciPy.synthetic.generate_movie` movie of ``n_frames`` × ``n_planes`` frames of
        ``shape`` (channel c > 0 is a dimmer, offset copy).
    n_frames, shape, n_planes, n_channels
        Size of the generated movie when ``images`` is None.
    frame_rate
        Frames (volumes, for several planes) per second of the returned stack; planes are
        acquired at ``frame_rate * n_planes`` Hz (``framePeriod`` in the XML).
    channels
        Hardware channel numbers (1-based); default ``(2,)`` for one channel (PrairieView's usual
        green PMT), ``(1, 2, …)`` otherwise.
    channel_names
        ``channelName`` of each channel (default ``"Ch<c>"``).
    bidirectional_z
        Even cycles run the z-stroke in reverse (``bidirectionalZ="True"``): their file index 1 is
        the last plane.
    z_start, z_step
        z position (µm) of plane 0 and the spacing of planes.
    multipage
        Write one multi-page file per (cycle, channel) instead of one file per frame (5.8 style).
    aborted_planes
        For volumetric sessions, add an incomplete last volume with this many planes (as an
        aborted acquisition leaves); readers drop it.
    voltage
        Write a VoltageRecording CSV + XML with an enabled ``Stimulus`` (0/5 V pulses) and
        ``Locomotion`` signal and a disabled ``Input 2`` signal.
    voltage_rate
        Voltage sampling rate (Hz).
    stimulus_interval, stimulus_duration
        Pulse period and width (s); the first pulse starts at ``stimulus_interval / 2``.
    base_name
        Base of every file name (default: the folder name).
    version
        ``PVScan version``.
    seed
        Seed of the generated movie and the voltage noise.
    overwrite
        Allow writing into a non-empty folder (files of the same names are replaced).
    progress
        Show a progress bar while writing images.

    Returns
    -------
    SyntheticPrairieViewSession
        Paths and the ground truth (images in plane order, frame times, voltage).
    """
    folder = as_path(folder, "folder")
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} is not empty; pass overwrite=True to write into it")
    frame_rate = check_positive(frame_rate, "frame_rate", unit="Hz")
    voltage_rate = check_positive(voltage_rate, "voltage_rate", unit="Hz")
    movie = None
    if images is None:
        n_frames = check_count(n_frames, "n_frames")
        n_planes = check_count(n_planes, "n_planes")
        n_channels = check_count(n_channels, "n_channels")
        try:
            height, width = shape
        except (TypeError, ValueError) as err:
            raise InvalidArgumentError(f"shape must be a (y, x) pair, got {shape!r}") from err
        size = (check_count(height, "shape[0]"), check_count(width, "shape[1]"))
        stack, movie = _make_images(n_frames, size, n_planes, n_channels, frame_rate, seed)
    else:
        stack = _as_5d(images)
    n_frames, n_planes, n_channels, height, width = stack.shape
    if voltage and n_frames * n_planes / (frame_rate * n_planes) * voltage_rate < 2:
        # a recording shorter than two voltage samples cannot be aligned to the frames
        raise InvalidArgumentError(
            f"frame_rate={frame_rate:g} Hz: {n_frames} frame(s) last "
            f"{n_frames / frame_rate:.3g} s, shorter than two samples of the voltage recording "
            f"at voltage_rate={voltage_rate:g} Hz; lower frame_rate or write more frames"
        )
    if channels is None:
        channels = (2,) if n_channels == 1 else tuple(range(1, n_channels + 1))
    channels = tuple(int(c) for c in channels)
    if len(channels) != n_channels:
        raise InvalidArgumentError(
            f"channels {channels} does not match {n_channels} image channel(s)"
        )
    names = tuple(channel_names) if channel_names else tuple(f"Ch{c}" for c in channels)
    if not 0 <= aborted_planes < max(n_planes, 1) or (aborted_planes and n_planes == 1):
        raise InvalidArgumentError(
            f"aborted_planes must be in 0..{n_planes - 1} for a volumetric session"
        )
    folder.mkdir(parents=True, exist_ok=True)
    base = base_name or folder.name
    volumetric = n_planes > 1
    plane_period = 1.0 / (frame_rate * n_planes)
    t_abs0 = 2.957
    n_cycles = n_frames if volumetric else 1
    if aborted_planes:
        n_cycles += 1

    # acquisition plan: (cycle, acquisition position k, frame, plane) for every frame written
    plan = []
    for cyc in range(1, n_cycles + 1):
        if volumetric:
            planes_here = n_planes if cyc <= n_frames else aborted_planes
            reverse = bidirectional_z and cyc % 2 == 0
            for k in range(planes_here):
                plane = (n_planes - 1 - k) if reverse else k
                plan.append((cyc, k, cyc - 1, plane))
        else:
            plan.extend((1, f, f, 0) for f in range(n_frames))

    first_file = f"{base}_Cycle00001_Ch{channels[0]}_000001.ome.tif"
    description = _ome_description(first_file)
    software = f"Prairie View {version}"
    extra_rng = np.random.default_rng(seed + 1)
    aborted_frame = extra_rng.integers(0, 4096, (height, width), dtype=np.uint16)

    def frame_of(frame: int, plane: int, ci: int) -> np.ndarray:
        if frame < n_frames:
            return stack[frame, plane, ci]
        return aborted_frame

    bar = tqdm(total=len(plan) * n_channels, desc="write PrairieView", unit="file",
               disable=not progress)
    file_of: dict[tuple[int, int, int], tuple[str, int]] = {}
    if multipage:
        groups: dict[tuple[int, int], list] = {}
        for cyc, k, frame, plane in plan:
            for ci in range(len(channels)):
                groups.setdefault((cyc, ci), []).append((k, frame, plane))
        for (cyc, ci), members in groups.items():
            name = f"{base}_Cycle{cyc:05d}_Ch{channels[ci]}_000001.ome.tif"
            with tifffile.TiffWriter(folder / name) as tif:
                for page, (k, frame, plane) in enumerate(members):
                    tif.write(frame_of(frame, plane, ci), photometric="minisblack",
                              description=description if page == 0 else None,
                              software=software, rowsperstrip=8, metadata=None,
                              contiguous=False)
                    file_of[(cyc, k, ci)] = (name, page + 1)
                    bar.update(1)
    else:
        for cyc, k, frame, plane in plan:
            index = k + 1 if volumetric else frame + 1
            for ci, ch in enumerate(channels):
                name = f"{base}_Cycle{cyc:05d}_Ch{ch}_{index:06d}.ome.tif"
                tifffile.imwrite(folder / name, frame_of(frame, plane, ci),
                                 photometric="minisblack", description=description,
                                 software=software, rowsperstrip=8, metadata=None)
                file_of[(cyc, k, ci)] = (name, 1)
                bar.update(1)
    bar.close()

    # times: planes at plane_period; relativeTime restarts in every Sequence of a z-series
    cycle_start = {cyc: (cyc - 1) * n_planes * plane_period for cyc in range(1, n_cycles + 1)}
    frame_times = np.array([cycle_start[c + 1] for c in range(n_frames)] if volumetric
                           else [f * plane_period for f in range(n_frames)])
    duration = (n_cycles * n_planes if volumetric else n_frames) * plane_period

    voltage_df = None
    csv_path = None
    onsets = np.arange(stimulus_interval / 2, duration, stimulus_interval)
    seq_voltage = ""
    if voltage:
        voltage_df, csv_path = _write_voltage(folder, base, duration, voltage_rate, onsets,
                                              stimulus_duration, seed, version)
        seq_voltage = (
            f'    <VoltageRecording name="VoltageRecording_001" triggerMode="Start with next '
            f'scan (PFI0)" cycle="1" index="1" configurationFile='
            f'"{base}_Cycle00001_VoltageRecording_001.xml" dataFile='
            f'"{csv_path.name}" />\n'
        )

    xml_path = folder / f"{base}.xml"
    lines = [
        _BOM + '<?xml version="1.0" encoding="utf-8"?>',
        f'<PVScan version="{version}" date="12/1/2021 10:52:35 AM" notes="">',
        '  <SystemIDs SystemID="4321"><SystemID SystemID="4321" Description="Synthetic" />'
        '</SystemIDs>',
        "  <PVStateShard>",
        '    <PVStateValue key="activeMode" value="Galvo" />',
        '    <PVStateValue key="bitDepth" value="13" />',
        '    <PVStateValue key="dwellTime" value="0.4" />',
        f'    <PVStateValue key="framePeriod" value="{_fmt(plane_period)}" />',
        '    <PVStateValue key="laserPower">',
        '      <IndexedValue index="0" value="230" description="Imaging" />',
        '      <IndexedValue index="1" value="0" description="Uncaging" />',
        "    </PVStateValue>",
        '    <PVStateValue key="laserWavelength">',
        '      <IndexedValue index="0" value="920" description="InSight" />',
        "    </PVStateValue>",
        f'    <PVStateValue key="linesPerFrame" value="{height}" />',
        '    <PVStateValue key="micronsPerPixel">',
        '      <IndexedValue index="XAxis" value="1.0048" />',
        '      <IndexedValue index="YAxis" value="1.0048" />',
        '      <IndexedValue index="ZAxis" value="1" />',
        "    </PVStateValue>",
        '    <PVStateValue key="objectiveLens" value="Nikon 16X" />',
        '    <PVStateValue key="opticalZoom" value="1" />',
        f'    <PVStateValue key="pixelsPerLine" value="{width}" />',
        '    <PVStateValue key="positionCurrent">',
        '      <SubindexedValues index="XAxis"><SubindexedValue subindex="0" value="300" />'
        "</SubindexedValues>",
        '      <SubindexedValues index="YAxis"><SubindexedValue subindex="0" value="-9" />'
        "</SubindexedValues>",
        '      <SubindexedValues index="ZAxis"><SubindexedValue subindex="0" '
        f'value="{_fmt(z_start)}" /></SubindexedValues>',
        "    </PVStateValue>",
        '    <PVStateValue key="scanLinePeriod" value="6.3177E-05" />',
        "  </PVStateShard>",
    ]
    seq_type = "TSeries ZSeries Element" if volumetric else "TSeries Timed Element"
    by_cycle: dict[int, list] = {}
    for cyc, k, frame, plane in plan:
        by_cycle.setdefault(cyc, []).append((k, frame, plane))
    for cyc, members in by_cycle.items():
        t_seq = cycle_start[cyc] if volumetric else 0.0
        bidir = f' bidirectionalZ="{bidirectional_z}"' if volumetric else ""
        lines.append(f'  <Sequence type="{seq_type}" cycle="{cyc}" time="10:52:35.2877"'
                     f'{bidir} xYStageGridDefined="False">')
        if cyc == 1 and seq_voltage:
            lines.append(seq_voltage.rstrip("\n"))
        for k, frame, plane in members:
            rel = k * plane_period if volumetric else frame * plane_period
            absolute = t_abs0 + t_seq + rel
            index = k + 1 if volumetric else frame + 1
            lines.append(f'    <Frame relativeTime="{_fmt(rel)}" absoluteTime="{_fmt(absolute)}"'
                         f' index="{index}" parameterSet="CurrentSettings">')
            for ci, ch in enumerate(channels):
                name, page = file_of[(cyc, k, ci)]
                lines.append(f'      <File channel="{ch}" channelName={quoteattr(names[ci])} '
                             f'page="{page}" filename={quoteattr(name)} />')
            lines.append('      <ExtraParameters lastGoodFrame="0" />')
            lines.append("      <PVStateShard>")
            lines.append(f'        <PVStateValue key="framePeriod" value="{_fmt(plane_period)}" />')
            if volumetric:
                z = z_start + plane * z_step
                lines.append('        <PVStateValue key="positionCurrent">')
                lines.append('          <SubindexedValues index="ZAxis"><SubindexedValue '
                             f'subindex="0" value="{_fmt(z)}" /></SubindexedValues>')
                lines.append("        </PVStateValue>")
            lines.append("      </PVStateShard>")
            lines.append("    </Frame>")
        lines.append("  </Sequence>")
    lines.append("</PVScan>")
    with atomic_write(xml_path, overwrite=overwrite, mode="w") as handle:
        handle.write("\r\n".join(lines) + "\r\n")

    env = folder / f"{base}.env"
    with atomic_write(env, overwrite=overwrite, mode="w") as handle:
        handle.write(_BOM + '<?xml version="1.0" encoding="utf-8"?>\r\n'
                     f'<Environment version="{version}" />\r\n')
    references = folder / "References"
    references.mkdir(exist_ok=True)
    tifffile.imwrite(references / f"{base}-Ch{channels[0]}-16bit-Reference.tif",
                     stack[0, 0, 0], photometric="minisblack", metadata=None)
    return SyntheticPrairieViewSession(
        folder=folder,
        xml_path=xml_path,
        images=stack,
        frame_times=frame_times,
        channels=channels,
        voltage=voltage_df,
        voltage_csv=csv_path,
        stimulus_onsets=onsets,
        movie=movie,
        dropped_frames=aborted_planes * n_channels,
    )


def _write_voltage(folder: Path, base: str, duration: float, rate: float, onsets: np.ndarray,
                   width: float, seed: int, version: str) -> tuple[pd.DataFrame, Path]:
    n = int(np.floor(duration * rate)) + 1
    t_ms = np.arange(n) * (1000.0 / rate)
    t_s = t_ms / 1000.0
    stim = np.zeros(n)
    for onset in onsets:
        stim[(t_s >= onset) & (t_s < onset + width)] = 5.0
    rng = np.random.default_rng(seed + 2)
    width_smooth = min(50, n)  # "same" returns max(n, kernel) samples: keep the kernel <= n
    locomotion = np.round(np.convolve(rng.normal(0, 1, n), np.ones(width_smooth) / width_smooth,
                                      "same") + 0.1, 6)
    frame = pd.DataFrame({"Stimulus": stim, "Locomotion": locomotion},
                         index=pd.Index(t_ms, name=VOLTAGE_TIME_COLUMN))
    csv = folder / f"{base}_Cycle00001_VoltageRecording_001.csv"
    body = "\n".join(f"{_fmt(t)},{_fmt(s)},{_fmt(v)}" for t, s, v in zip(t_ms, stim, locomotion))
    with atomic_write(csv, overwrite=True, mode="w") as handle:
        handle.write(f"{VOLTAGE_TIME_COLUMN}, Stimulus, Locomotion\n" + body + "\n")
    signals = [("Stimulus", 0, True), ("Locomotion", 1, True), ("Input 2", 2, False)]
    parts = [_BOM + '<?xml version="1.0" encoding="utf-8"?>', "<VRecSessionEntry>",
             "  <Experiment>", "    <Name>Current</Name>", "    <SignalList>"]
    for name, channel, enabled in signals:
        parts += [
            "      <VRecSignal>", "        <Type>Physical</Type>",
            f"        <Name>{name}</Name>", "        <Gain>-1</Gain>",
            "        <Unit>", "          <UnitName>Volt</UnitName>",
            "          <Multiplier>1</Multiplier>", "          <Divisor>1</Divisor>",
            "        </Unit>", "        <Card>1</Card>",
            f"        <Channel>{channel}</Channel>",
            f"        <Enabled>{str(enabled).lower()}</Enabled>", "      </VRecSignal>",
        ]
    parts += [
        "    </SignalList>", f"    <Rate>{_fmt(rate)}</Rate>", "    <Divider>20000</Divider>",
        f"    <AcquisitionTime>{int(round(duration * 1000))}</AcquisitionTime>",
        "    <Trigger>None</Trigger>", "  </Experiment>",
        f"  <SamplesAcquired>{n}</SamplesAcquired>",
        f"  <DataFile>{csv.stem}</DataFile>",
        "  <DateTime>2021-12-01T10:52:35.3717813-05:00</DateTime>",
        "  <IsCSV>true</IsCSV>", "  <LostData>false</LostData>", "</VRecSessionEntry>",
    ]
    with atomic_write(csv.with_suffix(".xml"), overwrite=True, mode="w") as handle:
        handle.write("\r\n".join(parts) + "\r\n")
    return frame, csv
