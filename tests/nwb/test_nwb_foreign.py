"""read_nwb on files laid out the way suite2p's ``save_nwb`` and neuroconv write them.

Built here with plain pynwb, following those writers' code: suite2p stores ``(ypix, xpix,
lam)`` in ``pixel_mask`` (``(ypix, xpix, plane, lam)`` in ``voxel_mask`` for several planes),
an ``external_file`` TwoPhotonSeries, and one series ``plane{i}`` per plane in containers named
Fluorescence/Neuropil/Deconvolved; neuroconv's default masks are ``image_mask`` ``(x, y)``.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

pytest.importorskip("pynwb")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from CalSciPy.errors import InvalidArgumentError  # noqa: E402
from CalSciPy.nwb import read_nwb  # noqa: E402

HEIGHT, WIDTH, FRAMES = 12, 10, 30


def _file():
    from pynwb import NWBFile
    from pynwb.ophys import OpticalChannel

    nwbfile = NWBFile("suite2p_proc", "id-1", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    device = nwbfile.create_device(name="Microscope")
    plane = nwbfile.create_imaging_plane(
        name="ImagingPlane", optical_channel=OpticalChannel(
            name="OpticalChannel", description="an optical channel", emission_lambda=500.0),
        description="standard", device=device, excitation_lambda=600.0, imaging_rate=15.0,
        indicator="GCaMP", location="V1")
    return nwbfile, plane


def _write(nwbfile, path):
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)


masks = st.lists(st.sets(st.tuples(st.integers(0, HEIGHT - 1), st.integers(0, WIDTH - 1)),
                         min_size=1, max_size=6), min_size=1, max_size=4)


def _suite2p_file(path, pixels, planes):
    from pynwb.ophys import Fluorescence, ImageSegmentation, RoiResponseSeries, TwoPhotonSeries

    nwbfile, plane = _file()
    n_planes = max(planes) + 1
    series = TwoPhotonSeries(name="TwoPhotonSeries", dimension=[HEIGHT, WIDTH],
                             external_file=[""], imaging_plane=plane, starting_frame=[0],
                             format="external", starting_time=0.0, rate=15.0 * n_planes,
                             num_samples=FRAMES)
    nwbfile.add_acquisition(series)
    module = nwbfile.create_processing_module("ophys", "optical physiology processed data")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    ps = segmentation.create_plane_segmentation(name="PlaneSegmentation",
                                                description="suite2p output",
                                                imaging_plane=plane, reference_images=series)
    stats = []
    for k, (cells, p) in enumerate(zip(pixels, planes)):
        ypix, xpix = (np.array(v) for v in zip(*sorted(cells)))
        lam = (np.arange(len(ypix)) + 1.0) / 2.0 ** (k + 1)  # float32-exact (mask weights)
        stats.append((ypix, xpix, lam, p))
        if n_planes > 1:
            ps.add_roi(voxel_mask=np.array([ypix, xpix, p * np.ones(len(ypix)), lam]).T)
        else:
            ps.add_roi(pixel_mask=np.array([ypix, xpix, lam]).T)
    iscell = np.array([[k % 2, 0.1 * k] for k in range(len(pixels))], dtype=np.float64)
    ps.add_column("iscell", "two columns - iscell & probcell", iscell)
    rng = np.random.default_rng(len(pixels))
    traces = {kind: rng.random((len(pixels), FRAMES)).astype(np.float32)
              for kind in ("fluorescence", "neuropil", "deconvolved")}
    planes_arr = np.asarray(planes)
    regions = [ps.create_roi_table_region(region=np.flatnonzero(planes_arr == p).tolist(),
                                          description=f"ROIs for plane{p}")
               for p in range(n_planes)]
    for kind, name in (("fluorescence", "Fluorescence"), ("neuropil", "Neuropil"),
                       ("deconvolved", "Deconvolved")):
        container = Fluorescence(name=name)
        for p in range(n_planes):
            container.add_roi_response_series(RoiResponseSeries(
                name=f"plane{p}", data=np.transpose(traces[kind][planes_arr == p]),
                rois=regions[p], unit="lumens", rate=15.0))
        module.add(container)
    _write(nwbfile, path)
    return stats, iscell, traces


@settings(max_examples=8, deadline=None)
@given(pixels=masks, data=st.data())
def test_reads_suite2p_save_nwb_layout(tmp_path_factory, pixels, data):
    pixels = [sorted(p) for p in pixels]
    planes = data.draw(st.lists(st.integers(0, 2), min_size=len(pixels), max_size=len(pixels)))
    path = tmp_path_factory.mktemp("s2p") / "ophys.nwb"
    stats, iscell, traces = _suite2p_file(path, pixels, planes)
    with read_nwb(path) as nwb:
        assert nwb.stacks == {}  # the movie is an external file: no pixels in this one
        assert len(nwb.rois) == len(stats)
        for roi, (ypix, xpix, lam, p) in zip(nwb.rois, stats):
            np.testing.assert_array_equal(roi.ypix, ypix)  # suite2p's first field is the row
            np.testing.assert_array_equal(roi.xpix, xpix)
            np.testing.assert_array_equal(roi.lam, lam)
            assert roi.plane == (p if max(planes) > 0 else 0)
        np.testing.assert_array_equal(nwb.iscell, iscell[:, 0].astype(bool))
        np.testing.assert_array_equal(nwb.iscell_prob, iscell[:, 1])
        assert set(nwb.traces) == set(traces)
        for kind, values in traces.items():
            np.testing.assert_array_equal(nwb.traces[kind], values, err_msg=kind)


@settings(max_examples=8, deadline=None)
@given(pixels=masks)
def test_reads_image_mask_rois(tmp_path_factory, pixels):
    from pynwb.ophys import ImageSegmentation, TwoPhotonSeries

    nwbfile, plane = _file()
    movie = np.arange(FRAMES * HEIGHT * WIDTH, dtype=np.uint16).reshape(FRAMES, HEIGHT, WIDTH)
    nwbfile.add_acquisition(TwoPhotonSeries(name="TwoPhotonSeries", imaging_plane=plane,
                                            data=movie.transpose(0, 2, 1), unit="n.a.",
                                            rate=15.0))
    module = nwbfile.create_processing_module("ophys", "processed")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    ps = segmentation.create_plane_segmentation(name="PlaneSegmentation", description="rois",
                                                imaging_plane=plane)
    expected = []
    for k, cells in enumerate(pixels):
        image = np.zeros((HEIGHT, WIDTH))  # (y, x) here, stored (x, y) as NWB specifies
        for n, (row, col) in enumerate(sorted(cells)):
            image[row, col] = (n + 1) / 8.0
        expected.append(image)
        ps.add_roi(image_mask=image.T, id=10 + k)
    path = tmp_path_factory.mktemp("nc") / "nc.nwb"
    _write(nwbfile, path)
    with read_nwb(path) as nwb:
        np.testing.assert_array_equal(nwb.stack()[:], movie)
        assert list(nwb.rois.ids) == [10 + k for k in range(len(pixels))]
        assert nwb.rois.shape == (HEIGHT, WIDTH)
        for roi, image in zip(nwb.rois, expected):
            rebuilt = np.zeros((HEIGHT, WIDTH))
            rebuilt[roi.ypix, roi.xpix] = roi.lam
            np.testing.assert_array_equal(rebuilt, image)


def test_trial_and_event_columns_named_like_table_attributes(tmp_path):
    """Columns called ``name``/``parent`` come back as written (not the table's own); names
    the table itself reserves are refused before writing, naming the column."""
    import pandas as pd

    from CalSciPy.synthetic import write_prairieview_session

    try:
        from CalSciPy.roi_tools import ROI, ROISet
    except ImportError:
        from CalSciPy._rois.roi import ROI, ROISet

    session = write_prairieview_session(tmp_path / "TSeries-t", n_frames=8, shape=(24, 20),
                                        seed=3)
    trials = pd.DataFrame({"start_time": [0.0, 0.1], "stop_time": [0.05, 0.2],
                           "name": ["grating", "blank"], "parent": ["up", "down"],
                           "contrast": [0.5, 1.0]})
    events = pd.DataFrame({"roi_id": [4, 4], "start_time": [0.01, 0.1],
                           "name": ["a", "b"]})
    rois = ROISet([ROI(np.array([1, 2]), np.array([3, 3]), id=4)], (24, 20))
    path = write_nwb_small(tmp_path / "t.nwb", session.folder, trials=trials, rois=rois,
                           events=events)
    with read_nwb(path) as nwb:
        pd.testing.assert_frame_equal(nwb.trials, trials, check_dtype=False)
        pd.testing.assert_frame_equal(nwb.events, events, check_dtype=False)
    for column in ("description", "id", "tags"):  # hdmf failed mid-write on these
        with pytest.raises(InvalidArgumentError, match=column):
            write_nwb_small(tmp_path / "x.nwb", session.folder,
                            trials=trials.assign(**{column: ["a", "b"]}))
    with pytest.raises(InvalidArgumentError, match="description"):
        write_nwb_small(tmp_path / "x.nwb", session.folder, rois=rois,
                        events=events.assign(description=["a", "b"]))
    assert not (tmp_path / "x.nwb").exists()


def write_nwb_small(path, folder, **kwargs):
    from CalSciPy.nwb import write_nwb

    options = dict(indicator="GCaMP6s", location="VISp", emission_wavelength=520.0,
                   timezone="UTC", progress=False)
    return write_nwb(path, folder, **{**options, **kwargs})


@settings(max_examples=6, deadline=None)
@given(dtype=st.sampled_from(["float16", "float32", "float64", "int16", "uint8", "int64"]),
       covered=st.booleans())
def test_trace_dtype_kept_and_uncovered_rows_nan(tmp_path_factory, dtype, covered):
    from pynwb.ophys import Fluorescence, ImageSegmentation, RoiResponseSeries, TwoPhotonSeries

    nwbfile, plane = _file()
    nwbfile.add_acquisition(TwoPhotonSeries(name="TwoPhotonSeries", imaging_plane=plane,
                                            data=np.zeros((FRAMES, WIDTH, HEIGHT), np.uint16),
                                            unit="n.a.", rate=15.0))
    module = nwbfile.create_processing_module("ophys", "processed")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    ps = segmentation.create_plane_segmentation(name="PlaneSegmentation", description="rois",
                                                imaging_plane=plane)
    for k in range(3):
        ps.add_roi(pixel_mask=[(k, k, 1.0)])
    rows = [0, 1, 2] if covered else [0, 2]
    region = ps.create_roi_table_region(description="some", region=rows)
    values = (np.arange(FRAMES * len(rows)).reshape(FRAMES, len(rows)) % 50).astype(dtype)
    container = Fluorescence(name="Fluorescence")
    container.add_roi_response_series(RoiResponseSeries(name="RoiResponseSeries", data=values,
                                                        rois=region, unit="a.u.", rate=15.0))
    module.add(container)
    path = tmp_path_factory.mktemp("dt") / "dt.nwb"
    _write(nwbfile, path)
    with read_nwb(path) as nwb:
        got = nwb.traces["fluorescence"]
        assert got.shape == (3, FRAMES)
        np.testing.assert_array_equal(got[rows], values.T)
        if covered:
            assert got.dtype == np.dtype(dtype)
        else:
            assert got.dtype.kind == "f" and np.all(np.isnan(got[1]))


def test_naive_start_time_without_timezone_is_stated(tmp_path):
    from CalSciPy.nwb import write_nwb

    naive = dt.datetime(2024, 5, 6, 7, 8, 9)
    path = write_nwb(tmp_path / "t.nwb", session_start_time=naive, progress=False)
    with read_nwb(path) as nwb:
        assert "local zone of the converting computer" in nwb.nwbfile.notes
        assert nwb.metadata["session_start_time"] == naive.astimezone()
    aware = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    path = write_nwb(tmp_path / "u.nwb", session_start_time=aware, progress=False)
    with read_nwb(path) as nwb:
        assert "local zone" not in nwb.nwbfile.notes
    with pytest.raises(InvalidArgumentError, match="session_start_time"):
        write_nwb(tmp_path / "v.nwb", session_start_time="2024-05-06", progress=False)
    assert not (tmp_path / "v.nwb").exists()


@pytest.mark.parametrize("workers", [1, 32])
def test_fill_movie_memory_does_not_grow_with_threads(tmp_path, monkeypatch, workers):
    """Blocks read and chunks in flight stay within BLOCK_BYTES/WINDOW_BYTES for any thread
    count (blocks used to be raised to 2 chunks per thread: 1 GB held with 32 threads)."""
    import tracemalloc

    import h5py

    from CalSciPy._nwb import movie as mv

    frames, side, chunk = 600, 32, 2
    frame_bytes = side * side * 2
    monkeypatch.setattr(mv, "BLOCK_BYTES", 8 * frame_bytes)
    monkeypatch.setattr(mv, "WINDOW_BYTES", 8 * frame_bytes, raising=False)
    reads = []

    class Source:
        shape, dtype = (frames, side, side), np.dtype(np.uint16)

        def __len__(self):
            return frames

        def __getitem__(self, index):
            start, stop, _ = index.indices(frames)
            reads.append(stop - start)
            return np.full((stop - start, side, side), start, np.uint16)

    with h5py.File(tmp_path / "m.h5", "w") as h5:
        ds = h5.create_dataset("m", shape=(frames, side, side), dtype=np.uint16,
                               chunks=(chunk, side, side), compression="gzip")
        tracemalloc.start()
        try:
            mv.fill_movie(ds, Source(), chunk_frames=chunk, compression="gzip",
                          compression_opts=1, direct_gzip=True, workers=workers)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert max(reads) <= 8
        # 4 blocks + the window's chunks and their compressed copies, far below the old
        # 2 chunks per thread (128 frames a block with 32 threads)
        assert peak < 64 * frame_bytes + (256 << 10), peak
        np.testing.assert_array_equal(ds[::97, 0, 0], np.arange(frames)[::97] // 8 * 8)


def test_never_replaces_a_folder(tmp_path):
    from CalSciPy.nwb import write_nwb

    store = tmp_path / "session.nwb"  # e.g. an NWB Zarr store
    store.mkdir()
    (store / "keep.txt").write_text("data")
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(IsADirectoryError, match="folder"):
        write_nwb(store, session_start_time=start, overwrite=True, progress=False)
    assert (store / "keep.txt").read_text() == "data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.nwb"]


@pytest.mark.parametrize("bad", [0, 0.0, -920.0, float("nan")])
def test_bad_excitation_wavelength_is_refused(tmp_path, bad):
    from CalSciPy.synthetic import write_prairieview_session

    session = write_prairieview_session(tmp_path / "TSeries-x", n_frames=4, shape=(24, 20),
                                        seed=5)
    with pytest.raises(InvalidArgumentError, match="excitation_wavelength"):
        write_nwb_small(tmp_path / "x.nwb", session.folder, excitation_wavelength=bad)
    assert not (tmp_path / "x.nwb").exists()


def test_names_with_quotes_survive(tmp_path):
    """Channel and voltage signal names are read back whole (they were cut at a quote)."""
    from CalSciPy.synthetic import write_prairieview_session

    session = write_prairieview_session(tmp_path / "TSeries-q", n_frames=6, shape=(24, 20),
                                        channel_names=("Mouse's green",), seed=6)
    signal = "Mouse's lick"
    for file in session.folder.glob("*VoltageRecording*"):
        if file.suffix in (".csv", ".xml"):
            file.write_text(file.read_text().replace("Stimulus", signal.replace(
                "'", "&apos;") if file.suffix == ".xml" else signal))
    path = write_nwb_small(tmp_path / "q.nwb", session.folder)
    with read_nwb(path) as nwb:
        assert nwb.channel_names == ("Mouse's green",)
        assert list(nwb.voltage.columns) == [signal, "Locomotion"]
        assert set(nwb.voltage_units) == {signal, "Locomotion"}


def test_voltage_on_another_clock_is_stated(tmp_path, caplog):
    from CalSciPy.synthetic import write_prairieview_session

    session = write_prairieview_session(tmp_path / "TSeries-c", n_frames=6, shape=(24, 20),
                                        seed=7)
    xml = session.folder / "TSeries-c.xml"
    xml.write_text(xml.read_text().replace('triggerMode="Start with next scan (PFI0)"',
                                           'triggerMode="Immediate"'))
    with caplog.at_level("WARNING", logger="CalSciPy.nwb"):
        path = write_nwb_small(tmp_path / "c.nwb", session.folder)
    assert "triggerMode 'Immediate'" in caplog.text
    with read_nwb(path) as nwb:
        for name in ("Stimulus", "Locomotion"):
            assert "need not be the first imaging frame" in \
                nwb.nwbfile.acquisition[name].description
    path = write_nwb_small(tmp_path / "d.nwb", write_prairieview_session(
        tmp_path / "TSeries-d", n_frames=6, shape=(24, 20), seed=7).folder)
    with read_nwb(path) as nwb:
        assert "need not be" not in nwb.nwbfile.acquisition["Stimulus"].description


@pytest.mark.parametrize("with_rois", [False, True])
def test_nwbinspector_dandi_clean_volumetric(tmp_path, with_rois):
    """2 channels x 3 planes, bidirectional z, with and without ROIs/traces/events."""
    import pandas as pd
    from nwbinspector import Importance, inspect_nwbfile, load_config

    from CalSciPy.synthetic import write_prairieview_session

    try:
        from CalSciPy.roi_tools import ROI, ROISet
    except ImportError:
        from CalSciPy._rois.roi import ROI, ROISet

    session = write_prairieview_session(tmp_path / "TSeries-v", n_frames=30, shape=(24, 20),
                                        n_planes=3, n_channels=2, bidirectional_z=True,
                                        seed=8)
    extra = {}
    if with_rois:
        rois = ROISet([ROI(np.array([1, 2, 2]), np.array([3, 3, 4]), id=5, plane=2),
                       ROI(np.array([9, 9]), np.array([8, 9]), id=1, plane=0),
                       ROI(np.array([14]), np.array([15]), id=3, plane=0)], (24, 20))
        rng = np.random.default_rng(0)
        extra = dict(rois=rois, fluorescence=rng.random((3, 30)).astype(np.float32),
                     deconvolved=rng.random((3, 30)),
                     events=pd.DataFrame({"roi_id": [5, 1], "start_time": [0.1, 0.3]}))
    path = write_nwb_small(tmp_path / "v.nwb", session.folder,
                           emission_wavelength=[595.0, 520.0], dandi=True,
                           subject_id="m-2", species="Mus musculus", sex="M", age="P60D",
                           experimenter="Doe, Jane", lab="Lab", institution="University",
                           experiment_description="tests", keywords=["two-photon"],
                           **extra)
    messages = list(inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")))
    bad = [m for m in messages if m.importance in (Importance.CRITICAL,
                                                   Importance.BEST_PRACTICE_VIOLATION)]
    assert not bad, [(m.check_function_name, m.object_name, m.message) for m in bad]


def test_one_channel_of_two_keeps_its_identity(tmp_path):
    from CalSciPy.synthetic import write_prairieview_session

    session = write_prairieview_session(tmp_path / "TSeries-2", n_frames=6, shape=(24, 20),
                                        n_channels=2, seed=9)
    path = write_nwb_small(tmp_path / "c.nwb", session.folder, channels=[1], voltage=False)
    with read_nwb(path) as nwb:
        assert nwb.channel_names == ("Ch2",)
        np.testing.assert_array_equal(nwb.stack(0, 0)[:], session.images[:, 0, 1])
        series = nwb.nwbfile.acquisition["TwoPhotonSeries_ch0_plane0"]
        assert "'Ch2' (session channel index 1)" in series.description


def test_missing_text_values_are_refused(tmp_path):
    import pandas as pd

    from CalSciPy.synthetic import write_prairieview_session

    session = write_prairieview_session(tmp_path / "TSeries-n", n_frames=6, shape=(24, 20),
                                        seed=10)
    trials = pd.DataFrame({"start_time": [0.0, 0.1], "stop_time": [0.05, 0.2],
                           "stimulus": ["grating", None]})
    with pytest.raises(InvalidArgumentError, match="'stimulus' has missing values"):
        write_nwb_small(tmp_path / "x.nwb", session.folder, trials=trials)
    assert not (tmp_path / "x.nwb").exists()
    numeric = trials.assign(stimulus=["a", "b"], contrast=[np.nan, 1.0])  # NaN is a number
    path = write_nwb_small(tmp_path / "y.nwb", session.folder, trials=numeric)
    with read_nwb(path) as nwb:
        pd.testing.assert_frame_equal(nwb.trials, numeric, check_dtype=False)


def test_roi_outside_the_movie_is_a_format_error_naming_the_file(tmp_path):
    from pynwb.ophys import ImageSegmentation, TwoPhotonSeries

    from CalSciPy.errors import DataFormatError

    nwbfile, plane = _file()
    nwbfile.add_acquisition(TwoPhotonSeries(name="TwoPhotonSeries", imaging_plane=plane,
                                            data=np.zeros((FRAMES, WIDTH, HEIGHT), np.uint16),
                                            unit="n.a.", rate=15.0))
    module = nwbfile.create_processing_module("ophys", "processed")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    ps = segmentation.create_plane_segmentation(name="PlaneSegmentation", description="rois",
                                                imaging_plane=plane)
    ps.add_roi(pixel_mask=[(50, 3, 1.0)])  # column 50 of a 10-pixel-wide movie
    _write(nwbfile, tmp_path / "bad.nwb")
    with pytest.raises(DataFormatError, match="bad.nwb"):
        read_nwb(tmp_path / "bad.nwb")


@pytest.mark.parametrize("bad", [[4, np.nan], [4.5, 4], ["a", 4]])
def test_bad_event_roi_ids_are_refused(tmp_path, bad):
    import pandas as pd

    from CalSciPy.synthetic import write_prairieview_session

    try:
        from CalSciPy.roi_tools import ROI, ROISet
    except ImportError:
        from CalSciPy._rois.roi import ROI, ROISet

    session = write_prairieview_session(tmp_path / "TSeries-e", n_frames=6, shape=(24, 20),
                                        seed=11)
    rois = ROISet([ROI(np.array([1, 2]), np.array([3, 3]), id=4)], (24, 20))
    events = pd.DataFrame({"roi_id": bad, "start_time": [0.01, 0.1]})
    with pytest.raises(InvalidArgumentError, match="roi_id"):
        write_nwb_small(tmp_path / "x.nwb", session.folder, rois=rois, events=events)
    assert not (tmp_path / "x.nwb").exists()


@pytest.mark.parametrize("bad", [[0.2], [np.nan], ["yes"]])
def test_iscell_must_be_labels(tmp_path, bad):
    from CalSciPy.synthetic import write_prairieview_session

    try:
        from CalSciPy.roi_tools import ROI, ROISet
    except ImportError:
        from CalSciPy._rois.roi import ROI, ROISet

    session = write_prairieview_session(tmp_path / "TSeries-i", n_frames=6, shape=(24, 20),
                                        seed=12)
    rois = ROISet([ROI(np.array([1, 2]), np.array([3, 3]), id=4)], (24, 20))
    with pytest.raises(InvalidArgumentError, match="iscell"):
        write_nwb_small(tmp_path / "x.nwb", session.folder, rois=rois, iscell=bad)
    path = write_nwb_small(tmp_path / "y.nwb", session.folder, rois=rois, iscell=[[1, 0.2]])
    with read_nwb(path) as nwb:
        assert nwb.iscell.tolist() == [True] and nwb.iscell_prob.tolist() == [0.2]


def test_dandi_accepts_date_of_birth_instead_of_age(tmp_path):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    from CalSciPy.nwb import write_nwb

    start = dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)
    born = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    path = write_nwb(tmp_path / "b.nwb", session_start_time=start, dandi=True,
                     subject_id="m-3", species="Mus musculus", sex="F", date_of_birth=born,
                     progress=False)
    with read_nwb(path) as nwb:
        assert nwb.nwbfile.subject.date_of_birth == born
    messages = inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi"))
    assert not [m for m in messages if m.importance == Importance.CRITICAL]
    with pytest.raises(InvalidArgumentError, match="age or date_of_birth"):
        write_nwb(tmp_path / "c.nwb", session_start_time=start, dandi=True,
                  subject_id="m-3", species="Mus musculus", sex="F", progress=False)


def test_unreadable_file_error_stays_short(tmp_path):
    from pynwb.ophys import ImageSegmentation

    from CalSciPy.errors import DataFormatError

    nwbfile, plane = _file()
    module = nwbfile.create_processing_module("ophys", "processed")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    segmentation.create_plane_segmentation(name="PlaneSegmentation", description="none",
                                           imaging_plane=plane)  # no mask column: pynwb fails
    _write(nwbfile, tmp_path / "empty.nwb")
    with pytest.raises(DataFormatError, match="empty.nwb: not a readable NWB file") as info:
        read_nwb(tmp_path / "empty.nwb")
    assert len(str(info.value)) < 400 + len(str(tmp_path))
