"""CalSciPy.nwb: write → read round trips, nwbinspector, foreign layouts, bad input."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pynwb")
h5py = pytest.importorskip("h5py")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from CalSciPy.bruker.session import read_prairieview_session  # noqa: E402
from CalSciPy.errors import InvalidArgumentError, SessionError  # noqa: E402
from CalSciPy.nwb import read_nwb, write_nwb  # noqa: E402
from CalSciPy.synthetic import write_prairieview_session  # noqa: E402

try:
    from CalSciPy.roi_tools import ROI, ROISet
except ImportError:  # until the public module lands
    from CalSciPy._rois.roi import ROI, ROISet

FRAMES, SHAPE = 40, (24, 20)  # frames > pixels per side: nwbinspector's orientation check
OPTICS = dict(indicator="GCaMP6s", location="VISp", emission_wavelength=520.0)
SUBJECT = dict(subject_id="mouse-1", species="Mus musculus", sex="F", age="P90D",
               experimenter="Doe, Jane", lab="Lab", institution="University",
               session_description="synthetic session", experiment_description="tests",
               keywords=["two-photon"], timezone="America/New_York")


def _disc(row: int, col: int, radius: int, shape=SHAPE):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    inside = (yy - row) ** 2 + (xx - col) ** 2 <= radius ** 2
    ypix, xpix = np.nonzero(inside)
    lam = np.exp(-((ypix - row) ** 2 + (xpix - col) ** 2) / 4.0)
    return ypix, xpix, lam


def _rois(planes=(0, 0, 0)):
    spots = [(5, 5, 3), (12, 14, 2), (18, 6, 3)]
    ids = [7, 2, 11]  # not sorted, not contiguous: ids must survive as they are
    return ROISet([ROI(*_disc(*spot), id=i, plane=p) for spot, i, p in
                   zip(spots, ids, planes)], SHAPE)


def _protocol():
    from CalSciPy.bruker.mark_points import PhotostimulationMeta

    return PhotostimulationMeta.from_targets([[5.0, 5.0], [12.0, 14.0]], fov_size=SHAPE,
                                             voltage_range=(-7.6, 7.6))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return write_prairieview_session(tmp_path_factory.mktemp("s") / "TSeries-single",
                                     n_frames=FRAMES, shape=SHAPE, seed=1)


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    return write_prairieview_session(tmp_path_factory.mktemp("v") / "TSeries-volume",
                                     n_frames=FRAMES, shape=SHAPE, n_planes=3, n_channels=2,
                                     bidirectional_z=True, seed=2)


def _traces(n_rois, n_frames, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(100, 5, (n_rois, n_frames)).astype(np.float32)
    fneu = rng.normal(50, 2, (n_rois, n_frames)).astype(np.float32)
    corrected = f - np.float32(0.7) * fneu
    f0 = np.repeat(np.percentile(corrected, 10, axis=1, keepdims=True), n_frames, axis=1)
    return dict(fluorescence=f, neuropil=fneu, corrected=corrected, f0=f0,
                dfof=(corrected - f0) / f0, deconvolved=rng.exponential(1, (n_rois, n_frames)))


@pytest.fixture(scope="module")
def written_single(single, tmp_path_factory):
    rois = _rois()
    traces = _traces(len(rois), FRAMES)
    trials = pd.DataFrame({"start_time": [0.1, 0.5, 0.9], "stop_time": [0.3, 0.7, 1.1],
                           "orientation": [0.0, 90.0, 45.0],
                           "stimulus": ["grating", "grating", "blank"]})
    events = pd.DataFrame({"roi_id": [7, 11, 11], "start_time": [0.2, 0.4, 1.0],
                           "amplitude": [1.5, 0.5, 2.0]})
    iscell = np.array([[1.0, 0.9], [0.0, 0.2], [1.0, 0.7]])
    protocol = _protocol()
    path = tmp_path_factory.mktemp("out") / "single.nwb"
    write_nwb(path, single.folder, rois=rois, iscell=iscell, trials=trials, events=events,
              photostimulation=protocol, progress=False, dandi=True, **traces, **OPTICS,
              **SUBJECT)
    return path, rois, traces, trials, events, iscell, protocol


def test_round_trip_single_plane(single, written_single):
    path, rois, traces, trials, events, iscell, protocol = written_single
    session = read_prairieview_session(single.folder)
    with read_nwb(path) as nwb:
        assert sorted(nwb.stacks) == [(0, 0)]
        movie = nwb.stack(0, 0)
        assert movie.shape == (FRAMES, *SHAPE) and movie.dtype == np.uint16
        np.testing.assert_array_equal(movie[:], single.images[:, 0, 0])
        np.testing.assert_array_equal(movie[3:9, 2:5], single.images[3:9, 0, 0, 2:5])
        assert nwb.frame_times_s.shape == (FRAMES, 1)
        assert np.max(np.abs(nwb.frame_times_s - session.frame_times_s)) < 1e-6
        pd.testing.assert_frame_equal(nwb.voltage, single.voltage, check_exact=False,
                                      rtol=0, atol=1e-9)
        assert list(nwb.voltage.columns) == ["Stimulus", "Locomotion"]
        assert nwb.voltage_units == {"Stimulus": "Volt", "Locomotion": "Volt"}
        assert list(nwb.rois.ids) == [7, 2, 11]
        assert nwb.rois.shape == SHAPE
        for got, want in zip(nwb.rois, rois):
            np.testing.assert_array_equal(got.ypix, want.ypix)
            np.testing.assert_array_equal(got.xpix, want.xpix)
            np.testing.assert_array_equal(got.lam, want.lam)
        assert set(nwb.traces) == set(traces)
        for kind, values in traces.items():
            assert nwb.traces[kind].dtype == values.dtype, kind
            np.testing.assert_array_equal(nwb.traces[kind], values, err_msg=kind)
        np.testing.assert_array_equal(nwb.iscell, iscell[:, 0].astype(bool))
        np.testing.assert_array_equal(nwb.iscell_prob, iscell[:, 1])
        pd.testing.assert_frame_equal(nwb.trials, trials, check_dtype=False)
        assert nwb.events["roi_id"].tolist() == [7, 11, 11]
        np.testing.assert_array_equal(nwb.events["start_time"], events["start_time"])
        assert list(nwb.events.columns) == ["roi_id", "start_time", "amplitude"]
        np.testing.assert_array_equal(nwb.events["amplitude"], events["amplitude"])
        from CalSciPy.bruker._protocol_io import _xml_bytes

        got = nwb.photostimulation
        assert _xml_bytes(got.series, "5.5.64.600") == _xml_bytes(protocol.series, "5.5.64.600")
        assert _xml_bytes(got.galvo_point_list, "5.5.64.600") == _xml_bytes(
            protocol.galvo_point_list, "5.5.64.600")
        assert [r.coordinates for r in got.rois] == [r.coordinates for r in protocol.rois]
        meta = nwb.metadata
        assert meta["indicator"] == "GCaMP6s" and meta["location"] == "VISp"
        assert meta["excitation_wavelength"] == 920.0  # laserWavelength of the XML
        assert meta["grid_spacing_um"] == (1.0048, 1.0048)  # micronsPerPixel
        assert meta["subject_id"] == "mouse-1" and meta["age"] == "P90D"
        # PVScan date 12/1/2021 10:52:35 AM in New York (EST, UTC-5)
        assert meta["session_start_time"] == dt.datetime(2021, 12, 1, 15, 52, 35,
                                                         tzinfo=dt.timezone.utc)
        plane = nwb.nwbfile.imaging_planes["ImagingPlane"]
        assert list(plane.origin_coords[:]) == [300.0, -9.0, -150.0]  # positionCurrent
        assert "5.5.64.600" in nwb.nwbfile.devices["Microscope"].description


def test_nwbinspector_dandi_clean(written_single):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    messages = list(inspect_nwbfile(nwbfile_path=str(written_single[0]),
                                    config=load_config("dandi")))
    bad = [m for m in messages if m.importance in (Importance.CRITICAL,
                                                   Importance.BEST_PRACTICE_VIOLATION)]
    assert not bad, [(m.check_function_name, m.object_name, m.message) for m in bad]


def test_round_trip_volumetric_bidirectional(volume, tmp_path):
    session = read_prairieview_session(volume.folder)
    rois = _rois(planes=(2, 0, 1))
    traces = _traces(len(rois), FRAMES, seed=3)
    path = write_nwb(tmp_path / "volume.nwb", volume.folder, rois=rois, progress=False,
                     fluorescence=traces["fluorescence"], dfof=traces["dfof"],
                     emission_wavelength=[595.0, 520.0], chunk_frames=7, workers=2,
                     indicator="GCaMP6s", location="VISp", timezone="UTC")
    with read_nwb(path) as nwb:
        assert sorted(nwb.stacks) == [(c, p) for c in range(2) for p in range(3)]
        for (c, p), movie in nwb.stacks.items():
            # ground truth in z-stroke order: even cycles of the bidirectional stroke re-ordered
            np.testing.assert_array_equal(movie[:], volume.images[:, p, c])
        np.testing.assert_array_equal(nwb.frame_times_s.shape, (FRAMES, 3))
        assert np.max(np.abs(nwb.frame_times_s - session.frame_times_s)) < 1e-6
        assert nwb.channel_names == ("Ch1", "Ch2")
        assert list(nwb.rois.ids) == [7, 2, 11]
        assert [r.plane for r in nwb.rois] == [2, 0, 1]
        for kind in ("fluorescence", "dfof"):
            np.testing.assert_array_equal(nwb.traces[kind], traces[kind])
        segs = nwb.nwbfile.processing["ophys"]["ImageSegmentation"].plane_segmentations
        assert sorted(segs) == ["PlaneSegmentation_plane0", "PlaneSegmentation_plane1",
                                "PlaneSegmentation_plane2"]
        planes = nwb.nwbfile.imaging_planes
        assert [float(planes[f"ImagingPlane_plane{p}"].origin_coords[2]) for p in range(3)] \
            == [-150.0, -125.0, -100.0]
        ch = [oc.emission_lambda for oc in planes["ImagingPlane_plane0"].optical_channel]
        assert ch == [595.0, 520.0]
        # each plane's series carries its own times (planes acquired one after the other)
        series = nwb.nwbfile.acquisition
        t1 = series["TwoPhotonSeries_ch0_plane1"].get_timestamps()
        t0 = series["TwoPhotonSeries_ch0_plane0"].get_timestamps()
        assert not np.allclose(t0, t1)


@pytest.mark.parametrize("compression,opts", [("lzf", None), (None, None), ("gzip", 1)])
def test_compression_options(single, tmp_path, compression, opts):
    path = write_nwb(tmp_path / "c.nwb", single.folder, compression=compression,
                     compression_opts=opts, chunk_frames=9, voltage=False, progress=False,
                     timezone="UTC", **OPTICS)
    with h5py.File(path, "r") as h5:
        data = h5["acquisition/TwoPhotonSeries_ch0_plane0/data"]
        assert data.compression == compression and data.chunks == (9, SHAPE[1], SHAPE[0])
        # NWB's (frames, x, y) order, read here with plain h5py
        np.testing.assert_array_equal(data[:].transpose(0, 2, 1), single.images[:, 0, 0])
        assert "acquisition/Stimulus" not in h5


@settings(max_examples=10, deadline=None)
@given(frames=st.integers(1, 30), chunk=st.integers(1, 12), height=st.integers(1, 6),
       width=st.integers(1, 6), gzip=st.booleans())
def test_fill_movie_any_chunking(tmp_path_factory, frames, chunk, height, width, gzip):
    from CalSciPy._nwb.movie import NWBStack, fill_movie

    rng = np.random.default_rng(frames * 31 + chunk)
    movie = rng.integers(0, 65535, (frames, height, width), dtype=np.uint16)
    chunk = min(chunk, frames)
    path = tmp_path_factory.mktemp("fill") / "m.h5"
    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("m", shape=(frames, width, height), dtype=np.uint16,
                               chunks=(chunk, width, height),
                               compression="gzip" if gzip else None)
        fill_movie(ds, movie, chunk_frames=chunk, compression="gzip" if gzip else None,
                   compression_opts=None, direct_gzip=gzip, workers=2)
    with h5py.File(path, "r") as h5:
        stack = NWBStack(h5["m"], "m")
        np.testing.assert_array_equal(stack[:], movie)
        np.testing.assert_array_equal(stack[frames - 1], movie[-1])


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_existing_target_needs_overwrite(single, tmp_path):
    target = tmp_path / "x.nwb"
    target.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_nwb(target, single.folder, progress=False, timezone="UTC", **OPTICS)
    assert target.read_bytes() == b"keep me" and _listing(tmp_path) == ["x.nwb"]
    write_nwb(target, single.folder, progress=False, overwrite=True, voltage=False,
              timezone="UTC", **OPTICS)
    with read_nwb(target) as nwb:
        assert nwb.stack().shape == (FRAMES, *SHAPE)


@pytest.mark.parametrize("missing", ["indicator", "location", "emission_wavelength"])
def test_refuses_missing_optics(single, tmp_path, missing):
    kwargs = {k: v for k, v in OPTICS.items() if k != missing}
    with pytest.raises(InvalidArgumentError, match=missing):
        write_nwb(tmp_path / "x.nwb", single.folder, progress=False, **kwargs)
    assert _listing(tmp_path) == []


def test_refuses_bad_traces_and_rois(single, tmp_path):
    rois = _rois()
    with pytest.raises(InvalidArgumentError, match="frames"):
        write_nwb(tmp_path / "x.nwb", single.folder, rois=rois, progress=False,
                  fluorescence=np.zeros((3, FRAMES - 1)), **OPTICS)
    with pytest.raises(InvalidArgumentError, match="rows"):
        write_nwb(tmp_path / "x.nwb", single.folder, rois=rois, progress=False,
                  fluorescence=np.zeros((2, FRAMES)), **OPTICS)
    big = ROISet([ROI([30], [3], id=1)], (40, 40))  # row 30 is outside the 24-row frames
    with pytest.raises(InvalidArgumentError, match="outside the imaging plane"):
        write_nwb(tmp_path / "x.nwb", single.folder, rois=big, progress=False, **OPTICS)
    with pytest.raises(InvalidArgumentError, match="plane"):
        write_nwb(tmp_path / "x.nwb", single.folder, rois=_rois((0, 1, 0)), progress=False,
                  **OPTICS)
    with pytest.raises(InvalidArgumentError, match="ROIs they belong to"):
        write_nwb(tmp_path / "x.nwb", single.folder, progress=False,
                  fluorescence=np.zeros((3, FRAMES)), **OPTICS)
    assert _listing(tmp_path) == []


def test_refuses_session_without_frame_times(single, tmp_path):
    session = read_prairieview_session(single.folder, use_xml=False)
    with pytest.raises(SessionError, match="no frame times"):
        write_nwb(tmp_path / "x.nwb", session, progress=False, **OPTICS)
    assert _listing(tmp_path) == []


def test_dandi_mode_requires_subject(single, tmp_path):
    with pytest.raises(InvalidArgumentError, match="species, sex, age"):
        write_nwb(tmp_path / "x.nwb", single.folder, dandi=True, subject_id="m1",
                  progress=False, **OPTICS)
    with pytest.raises(InvalidArgumentError, match="ISO 8601"):
        write_nwb(tmp_path / "x.nwb", single.folder, age="90 days", progress=False, **OPTICS)
    with pytest.raises(InvalidArgumentError, match="chunk_frames"):
        write_nwb(tmp_path / "x.nwb", single.folder, chunk_frames=0, progress=False, **OPTICS)
    with pytest.raises(InvalidArgumentError, match="sex"):
        write_nwb(tmp_path / "x.nwb", single.folder, sex="female", progress=False, **OPTICS)
    assert _listing(tmp_path) == []


def test_failure_while_streaming_leaves_nothing(single, tmp_path, monkeypatch):
    import CalSciPy._nwb.write as writer

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "fill_movie", broken)
    with pytest.raises(OSError, match="disk full"):
        write_nwb(tmp_path / "x.nwb", single.folder, progress=False, timezone="UTC",
                  **OPTICS)
    assert _listing(tmp_path) == []


def test_local_timezone_is_stated(single, tmp_path):
    path = write_nwb(tmp_path / "x.nwb", single.folder, progress=False, voltage=False,
                     **OPTICS)
    with read_nwb(path) as nwb:
        assert "local zone of the converting computer" in nwb.nwbfile.notes
        assert nwb.metadata["session_start_time"].tzinfo is not None


def _foreign_file(path, layout):
    """A file laid out the way neuroconv (roiextractors) or suite2p write them."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ophys import (
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        RoiResponseSeries,
        TwoPhotonSeries,
    )

    rng = np.random.default_rng(5)
    movie = rng.integers(0, 4000, (30, 12, 10), dtype=np.uint16)  # (frames, y, x)
    nwbfile = NWBFile("foreign", "id-1", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    device = nwbfile.create_device(name="Microscope")
    plane = nwbfile.create_imaging_plane(
        name="ImagingPlane", optical_channel=OpticalChannel(
            name="OpticalChannel", description="green", emission_lambda=500.0),
        description="plane", device=device, excitation_lambda=920.0, imaging_rate=15.0,
        indicator="GCaMP", location="cortex")
    nwbfile.add_acquisition(TwoPhotonSeries(
        name="TwoPhotonSeries", imaging_plane=plane, data=movie.transpose(0, 2, 1),
        unit="n.a.", rate=15.0, starting_time=0.0))
    module = nwbfile.create_processing_module("ophys", "processed")
    seg = ImageSegmentation()
    module.add(seg)
    ps = seg.create_plane_segmentation(description="rois", imaging_plane=plane,
                                       name="PlaneSegmentation")
    masks = [[(1, 2, 1.0), (2, 2, 0.5)], [(5, 9, 1.0)], [(8, 11, 0.25), (9, 11, 0.75)]]
    if layout == "suite2p":
        ps.add_column("iscell", "two columns - iscell & probcell")
        for mask, cell in zip(masks, [[1.0, 0.8], [0.0, 0.1], [1.0, 0.6]]):
            ps.add_roi(pixel_mask=mask, iscell=cell)
    else:
        for mask in masks:
            ps.add_roi(pixel_mask=mask)
    region = ps.create_roi_table_region("all", region=[0, 1, 2])
    f = rng.normal(size=(30, 3)).astype(np.float32)
    neu = rng.normal(size=(30, 3)).astype(np.float32)
    fluo = Fluorescence(name="Fluorescence")
    names = ("Fluorescence", "Neuropil") if layout == "suite2p" else ("RoiResponseSeries",
                                                                       "Neuropil")
    for name, data in zip(names, (f, neu)):
        fluo.add_roi_response_series(RoiResponseSeries(name=name, data=data, rois=region,
                                                       unit="lumens", rate=15.0))
    module.add(fluo)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return movie, masks, f, neu


@pytest.mark.parametrize("layout", ["neuroconv", "suite2p"])
def test_reads_foreign_layouts(tmp_path, layout):
    movie, masks, f, neu = _foreign_file(tmp_path / "f.nwb", layout)
    with read_nwb(tmp_path / "f.nwb") as nwb:
        np.testing.assert_array_equal(nwb.stack(0, 0)[:], movie)
        np.testing.assert_allclose(nwb.frame_times_s[:, 0], np.arange(30) / 15.0)
        assert list(nwb.rois.ids) == [0, 1, 2] and nwb.rois.shape == (12, 10)
        np.testing.assert_array_equal(nwb.rois[0].xpix, [1, 2])  # pixel_mask x = column
        np.testing.assert_array_equal(nwb.rois[0].ypix, [2, 2])
        np.testing.assert_array_equal(nwb.rois[2].lam, [0.25, 0.75])
        np.testing.assert_array_equal(nwb.traces["fluorescence"], f.T)
        np.testing.assert_array_equal(nwb.traces["neuropil"], neu.T)
        if layout == "suite2p":
            np.testing.assert_array_equal(nwb.iscell, [True, False, True])
            np.testing.assert_array_equal(nwb.iscell_prob, [0.8, 0.1, 0.6])


def test_read_errors(tmp_path):
    from CalSciPy.errors import DataFormatError

    with pytest.raises(FileNotFoundError):
        read_nwb(tmp_path / "none.nwb")
    (tmp_path / "bad.nwb").write_bytes(b"not hdf5")
    with pytest.raises(DataFormatError, match="not a readable NWB file"):
        read_nwb(tmp_path / "bad.nwb")


def test_import_stays_light():
    code = ("import sys, CalSciPy, CalSciPy.nwb; "
            "print(any(m in sys.modules for m in ('pynwb', 'hdmf', 'h5py')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_missing_extra_names_it(tmp_path):
    code = ("import sys; sys.modules['pynwb'] = None\n"
            "from CalSciPy.nwb import read_nwb\n"
            "try:\n    read_nwb('x.nwb')\n"
            "except ImportError as err:\n    print(type(err).__name__, err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert "MissingDependencyError" in out.stdout and "calscipy[nwb]" in out.stdout


def test_cli_convert(single, tmp_path, capsys):
    from CalSciPy.cli import main

    out = tmp_path / "cli.nwb"
    args = ["convert", str(single.folder), str(out), "--indicator", "GCaMP6s", "--location",
            "VISp", "--emission-wavelength", "520", "--timezone", "UTC", "--no-progress",
            "--subject-id", "m1", "--species", "Mus musculus", "--sex", "M", "--age", "P60D",
            "--dandi"]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("session: ") and lines[-1].startswith(f"done: {out}")
    with read_nwb(out) as nwb:
        np.testing.assert_array_equal(nwb.stack()[:], single.images[:, 0, 0])
        assert nwb.metadata["subject_id"] == "m1"
    assert main(args) == 1  # exists: one line, no traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0]
    assert main(args[:-1] + ["--dandi", "--overwrite"]) == 0
    bad = ["convert", str(single.folder), str(tmp_path / "b.nwb"), "--indicator", "G",
           "--location", "VISp", "--emission-wavelength", "520", "--age", "ninety days",
           "--no-progress"]
    assert main(bad) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ISO 8601" in err[0]
    assert not (tmp_path / "b.nwb").exists()


def test_sequence_spacing_and_jittered_times(single, tmp_path):
    """Sequence-level micronsPerPixel wins over the session's; irregular frame times are
    stored as timestamps, exactly."""
    import re
    import shutil

    folder = tmp_path / single.folder.name
    shutil.copytree(single.folder, folder)
    xml = folder / f"{folder.name}.xml"
    text = xml.read_text(encoding="utf-8-sig")
    text = text.replace('xYStageGridDefined="False">', 'xYStageGridDefined="False">'
                        '<PVStateShard><PVStateValue key="micronsPerPixel">'
                        '<IndexedValue index="XAxis" value="0.5" />'
                        '<IndexedValue index="YAxis" value="0.625" /></PVStateValue>'
                        '</PVStateShard>', 1)
    count = iter(range(10 ** 6))

    def jitter(match):
        k = next(count)
        shift = (k * 7919 % 13) * 1e-5  # sub-frame jitter as real scanners show
        return (f'relativeTime="{float(match[1]) + shift!r}" '
                f'absoluteTime="{float(match[2]) + shift!r}"')

    text = re.sub(r'relativeTime="([^"]+)" absoluteTime="([^"]+)"', jitter, text)
    xml.write_text(text, encoding="utf-8-sig")
    session = read_prairieview_session(folder)
    path = write_nwb(tmp_path / "j.nwb", session, progress=False, voltage=False,
                     timezone="UTC", **OPTICS)
    with read_nwb(path) as nwb:
        series = nwb.nwbfile.acquisition["TwoPhotonSeries_ch0_plane0"]
        assert series.rate is None and series.timestamps is not None
        np.testing.assert_array_equal(nwb.frame_times_s, session.frame_times_s)
        assert nwb.metadata["grid_spacing_um"] == (0.5, 0.625)


def _suite2p_folder(folder, n=3, frames=FRAMES, seed=4):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    stat = []
    for k in range(n):
        yy, xx = np.mgrid[2 + 6 * k:5 + 6 * k, 3 + 5 * k:7 + 5 * k]
        stat.append({"ypix": yy.ravel().astype(np.int32), "xpix": xx.ravel().astype(np.int32),
                     "lam": rng.uniform(0.1, 1, 12).astype(np.float32), "med": [0, 0],
                     "radius": 2.0, "npix": 12, "overlap": np.zeros(12, bool)})
    np.save(folder / "stat.npy", np.array(stat, dtype=object), allow_pickle=True)
    traces = {name: rng.normal(100, 5, (n, frames)).astype(np.float32)
              for name in ("F", "Fneu", "spks")}
    for name, values in traces.items():
        np.save(folder / f"{name}.npy", values)
    iscell = np.column_stack([[1, 0, 1], [0.9, 0.3, 0.8]]).astype(float)
    np.save(folder / "iscell.npy", iscell)
    np.save(folder / "ops.npy", {"fs": 30.0, "nplanes": 1, "nchannels": 1, "Ly": SHAPE[0],
                                 "Lx": SHAPE[1], "meanImg": np.zeros(SHAPE, np.float32),
                                 "tau": 1.0, "neucoeff": 0.7, "nframes": frames},
            allow_pickle=True)
    return stat, traces, iscell


def test_suite2p_folder_round_trip(single, tmp_path):
    pytest.importorskip("CalSciPy.roi_tools")
    stat, traces, iscell = _suite2p_folder(tmp_path / "suite2p" / "plane0")
    path = write_nwb(tmp_path / "s2p.nwb", single.folder, suite2p=tmp_path / "suite2p",
                     progress=False, voltage=False, timezone="UTC", **OPTICS)
    with read_nwb(path) as nwb:
        assert list(nwb.rois.ids) == [0, 1, 2]
        for roi, entry in zip(nwb.rois, stat):
            np.testing.assert_array_equal(roi.ypix, entry["ypix"])
            np.testing.assert_array_equal(roi.xpix, entry["xpix"])
            np.testing.assert_array_equal(roi.lam, entry["lam"].astype(np.float64))
        np.testing.assert_array_equal(nwb.traces["fluorescence"], traces["F"])
        np.testing.assert_array_equal(nwb.traces["neuropil"], traces["Fneu"])
        np.testing.assert_array_equal(nwb.traces["deconvolved"], traces["spks"])
        np.testing.assert_array_equal(nwb.iscell, iscell[:, 0].astype(bool))
        np.testing.assert_array_equal(nwb.iscell_prob, iscell[:, 1])


def test_real_markpoints_protocol_round_trip(single, tmp_path):
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"
    series_xml = fixtures / "prairieview" / "markpoints" / "saved_series.xml"
    if not series_xml.is_file():
        pytest.skip(f"real PrairieView fixtures not found at {fixtures}")
    from CalSciPy.bruker._protocol_io import _xml_bytes, read_galvo_point_list
    from CalSciPy.bruker.xml_load import read_mark_points_xml

    gpl = read_galvo_point_list(series_xml.with_name("saved_gpl.gpl"))
    meta = read_mark_points_xml(series_xml, width=SHAPE[1], height=SHAPE[0],
                                galvo_point_list=gpl, voltage_range=(-7.6, 7.6))
    path = write_nwb(tmp_path / "p.nwb", single.folder, photostimulation=meta, voltage=False,
                     progress=False, timezone="UTC", **OPTICS)
    with read_nwb(path) as nwb:
        got = nwb.photostimulation
        assert _xml_bytes(got.series, "5.5.64.600") == _xml_bytes(meta.series, "5.5.64.600")
        assert _xml_bytes(got.galvo_point_list, "5.5.64.600") == _xml_bytes(gpl, "5.5.64.600")
        assert len(got.rois) == len(meta.rois) == 30
        targets = nwb.nwbfile.processing["photostimulation"]["targets"].to_dataframe()
        np.testing.assert_allclose(targets["x"], [r.x for r in meta.rois])
        marks = nwb.nwbfile.processing["photostimulation"]["marks"].to_dataframe()
        assert len(marks) == len(meta.groups)
        np.testing.assert_array_equal(marks["laser_power"],
                                      [g.mark.uncaging_laser_power for g in meta.groups])


def test_fill_movie_source_error_propagates(tmp_path):
    from CalSciPy._io.source import FrameSource
    from CalSciPy._nwb.movie import fill_movie

    class Broken(FrameSource):
        shape, dtype = (50, 4, 3), np.dtype(np.uint16)

        def _read(self, start, stop):
            if start >= 20:
                raise OSError("frame 20: unreadable TIFF")
            return np.zeros((stop - start, 4, 3), dtype=np.uint16)

    with h5py.File(tmp_path / "m.h5", "w") as h5:
        ds = h5.create_dataset("m", shape=(50, 3, 4), dtype=np.uint16, chunks=(5, 3, 4),
                               compression="gzip")
        import CalSciPy._nwb.movie as movie

        old = movie.BLOCK_BYTES
        movie.BLOCK_BYTES = 10 * 4 * 3 * 2  # 10-frame blocks: the third one fails
        try:
            with pytest.raises(OSError, match="frame 20"):
                fill_movie(ds, Broken(), chunk_frames=5, compression="gzip",
                           compression_opts=None, direct_gzip=True, workers=1)
        finally:
            movie.BLOCK_BYTES = old


def test_read_photostimulation_refuses_swapped_protocol_xml():
    # a protocol table whose XML columns hold the wrong protocol element (a file edited by
    # hand): a DataFormatError naming the column, not a TypeError blaming an argument
    from types import SimpleNamespace

    from CalSciPy._nwb.photostim import read_photostimulation
    from CalSciPy.bruker._protocol_io import _xml_bytes
    from CalSciPy.errors import DataFormatError

    meta, version = _protocol(), "5.5.64.600"
    series = _xml_bytes(meta.series, version)[3:].decode("utf-8")
    gpl = _xml_bytes(meta.galvo_point_list, version)[3:].decode("utf-8")

    def nwbfile(series_xml, gpl_xml):
        table = {"version": [version], "series_xml": [series_xml],
                 "galvo_point_list_xml": [gpl_xml], "width": [SHAPE[1]],
                 "height": [SHAPE[0]], "voltage_range": [np.array([-7.6, 7.6, -7.6, 7.6])]}
        return SimpleNamespace(processing={"photostimulation": _Module(table)})

    got = read_photostimulation(nwbfile(series, gpl))
    assert [r.coordinates for r in got.rois] == [r.coordinates for r in meta.rois]
    assert got.voltage_range == ((-7.6, 7.6), (-7.6, 7.6))
    with pytest.raises(DataFormatError, match="series_xml holds a GalvoPointList"):
        read_photostimulation(nwbfile(gpl, gpl))
    with pytest.raises(DataFormatError, match="galvo_point_list_xml holds a "
                                              "MarkPointSeriesElements"):
        read_photostimulation(nwbfile(series, series))


class _Module:
    """The two things read_photostimulation asks of a processing module."""

    def __init__(self, table):
        self.data_interfaces = {"protocol": table}

    def __getitem__(self, name):
        return self.data_interfaces[name]
