"""Documented bruker.data functions on synthetic PrairieView sessions."""
from __future__ import annotations

import fnmatch
import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from CalSciPy.bruker import bruker as bruker_module
from CalSciPy.bruker import data
from CalSciPy.bruker._naming import image_name
from CalSciPy.bruker.data import (
    align_data,
    determine_imaging_content,
    extract_frame_times,
    generate_bruker_naming_convention,
    load_bruker_tifs,
    load_voltage_recording,
    repackage_bruker_tifs,
)
from CalSciPy.errors import DataFormatError, MissingFramesError
from CalSciPy.synthetic import write_prairieview_session

RNG = np.random.default_rng(3)


def _images(frames=6, planes=1, channels=1, shape=(16, 20)):
    return RNG.integers(0, 8192, (frames, planes, channels, *shape), dtype=np.uint16)


def test_bruker_module_reexports_data():
    for name in data.__all__:
        assert getattr(bruker_module, name) is getattr(data, name)


# ----------------------------------------------------------------------- naming convention
def test_naming_convention_examples():
    assert generate_bruker_naming_convention(0, 0) == "*_Cycle*_Ch1_*.ome.tif"
    assert generate_bruker_naming_convention(1, 11, 2, 12) == "*_Cycle*_Ch2_000012.ome.tif"
    with pytest.raises(ValueError, match="channel 2 is out of range"):
        generate_bruker_naming_convention(2, 0, 2, 1)
    with pytest.raises(ValueError, match="zero-indexed"):
        generate_bruker_naming_convention(0, -1)


@settings(max_examples=40, deadline=None)
@given(channels=st.integers(1, 3), planes=st.integers(1, 14), cycles=st.integers(1, 12),
       data_=st.data())
def test_naming_convention_matches_exactly_its_files(channels, planes, cycles, data_):
    channel = data_.draw(st.integers(0, channels - 1))
    plane = data_.draw(st.integers(0, planes - 1))
    if planes == 1:
        names = [image_name("TSeries-1", 1, c + 1, i + 1)
                 for c in range(channels) for i in range(cycles)]
        wanted = {image_name("TSeries-1", 1, channel + 1, i + 1) for i in range(cycles)}
    else:
        names = [image_name("TSeries-1", k + 1, c + 1, p + 1)
                 for c in range(channels) for p in range(planes) for k in range(cycles)]
        wanted = {image_name("TSeries-1", k + 1, channel + 1, plane + 1) for k in range(cycles)}
    pattern = generate_bruker_naming_convention(channel, plane, channels, planes)
    assert set(fnmatch.filter(names, pattern)) == wanted


# ----------------------------------------------------------------------------- loading
@pytest.mark.parametrize("planes,channels,multipage", [(1, 1, False), (3, 2, False),
                                                       (1, 2, True), (2, 1, True)])
def test_load_round_trip(tmp_path, planes, channels, multipage):
    written = write_prairieview_session(tmp_path / "s", _images(5, planes, channels),
                                        multipage=multipage, voltage=False,
                                        bidirectional_z=planes > 1)
    stacks = load_bruker_tifs(written.folder, progress=False)
    assert len(stacks) == planes * channels
    for c in range(channels):
        for p in range(planes):
            np.testing.assert_array_equal(stacks[c * planes + p], written.images[:, p, c])
    # always a tuple, also for one channel and plane (0.3.x documented Tuple[ndarray])
    (one,) = load_bruker_tifs(written.folder, channel=channels - 1, plane=planes - 1,
                              progress=False)
    np.testing.assert_array_equal(one, written.images[:, -1, -1])
    by_channel = load_bruker_tifs(written.folder, channel=0, progress=False)
    assert len(by_channel) == planes
    assert by_channel.keys == tuple((0, p) for p in range(planes))
    assert stacks.names[-1] == f"ch{channels - 1}_pl{planes - 1}"
    assert getattr(stacks, f"ch{channels - 1}_pl{planes - 1}") is stacks[-1]


def test_load_equals_tifffile_per_file(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(7), voltage=False)
    (stack,) = load_bruker_tifs(written.folder, progress=False)
    files = sorted(written.folder.glob("*_Ch2_*.ome.tif"))
    np.testing.assert_array_equal(stack, np.stack([tifffile.imread(f) for f in files]))


def test_layout_variants_fall_back_to_tifffile(tmp_path):
    # a big-endian file and a compressed file among raw-readable ones: same pixels
    written = write_prairieview_session(tmp_path / "s", _images(5), voltage=False)
    f2 = written.folder / "s_Cycle00001_Ch2_000002.ome.tif"
    f4 = written.folder / "s_Cycle00001_Ch2_000004.ome.tif"
    tifffile.imwrite(f2, written.images[1, 0, 0], byteorder=">", metadata=None)
    tifffile.imwrite(f4, written.images[3, 0, 0], compression="zlib", metadata=None)
    (stack,) = load_bruker_tifs(written.folder, progress=False)
    np.testing.assert_array_equal(stack, written.images[:, 0, 0])


def test_big_endian_session(tmp_path):
    images = _images(3)
    folder = tmp_path / "be"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / image_name("be", 1, 2, i + 1), images[i, 0, 0], byteorder=">")
    (stack,) = load_bruker_tifs(folder, progress=False)
    np.testing.assert_array_equal(stack, images[:, 0, 0])


def test_truncated_tiff_named(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(4), voltage=False)
    bad = written.folder / "s_Cycle00001_Ch2_000003.ome.tif"
    raw = bad.read_bytes()
    bad.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(DataFormatError, match="s_Cycle00001_Ch2_000003"):
        load_bruker_tifs(written.folder, progress=False)


def test_truncated_first_tiff_named(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(3), voltage=False)
    bad = written.folder / "s_Cycle00001_Ch2_000001.ome.tif"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(DataFormatError, match="s_Cycle00001_Ch2_000001"):
        load_bruker_tifs(written.folder, progress=False)


def test_mixed_frame_sizes_named(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(4), voltage=False)
    odd = written.folder / "s_Cycle00001_Ch2_000004.ome.tif"
    tifffile.imwrite(odd, np.zeros((10, 20), np.uint16))
    with pytest.raises(DataFormatError, match=r"000004.*10x20.*16x20"):
        load_bruker_tifs(written.folder, progress=False)


def test_channel_plane_out_of_range(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(2, 2, 1), voltage=False)
    with pytest.raises(ValueError, match=r"channel 1 .* 1 channel\(s\).*0 \(Ch2\)"):
        load_bruker_tifs(written.folder, channel=1, progress=False)
    with pytest.raises(ValueError, match=r"plane 2 .* 2 plane\(s\).*0\.\.1"):
        load_bruker_tifs(written.folder, plane=2, progress=False)
    with pytest.raises(TypeError):
        load_bruker_tifs(written.folder, channel=0.5, progress=False)


def test_load_peak_memory_close_to_result(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(60, shape=(64, 64)),
                                        voltage=False)
    tracemalloc.start()
    (stack,) = load_bruker_tifs(written.folder, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= 1.15 * stack.nbytes + 2**20  # + 1 MiB of bookkeeping


# ----------------------------------------------------------------------- imaging content
def test_determine_imaging_content(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(4, 3, 2), voltage=False)
    assert determine_imaging_content(written.folder) == (2, 3, 4, 16, 20)
    single = write_prairieview_session(tmp_path / "t", _images(9), voltage=False)
    assert determine_imaging_content(single.folder) == (1, 1, 9, 16, 20)


def test_determine_imaging_content_multipage_uses_xml(tmp_path):
    written = write_prairieview_session(tmp_path / "mp", _images(5, 1, 2), multipage=True,
                                        voltage=False)
    assert determine_imaging_content(written.folder) == (2, 1, 5, 16, 20)


def test_determine_imaging_content_planes_over_ten(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    frame = np.zeros((4, 6), np.uint16)
    for cycle in range(1, 3):
        for plane in range(1, 13):
            tifffile.imwrite(folder / image_name("many", cycle, 2, plane), frame)
    assert determine_imaging_content(folder) == (1, 12, 2, 4, 6)


def test_determine_imaging_content_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="empty"):
        determine_imaging_content(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no PrairieView images"):
        determine_imaging_content(tmp_path)


# ------------------------------------------------------------------------------ repackage
def test_repackage_round_trip_and_refuses_overwrite(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(6, 2, 2), voltage=False)
    out = tmp_path / "out" / "nested"
    repackage_bruker_tifs(written.folder, out, channel=1, plane=1)
    assert sorted(p.name for p in out.iterdir()) == ["images.tif"]
    np.testing.assert_array_equal(tifffile.imread(out / "images.tif"), written.images[:, 1, 1])
    with pytest.raises(FileExistsError, match="images.tif"):
        repackage_bruker_tifs(written.folder, out)
    with pytest.raises(ValueError, match="plane 5"):
        repackage_bruker_tifs(written.folder, tmp_path / "o2", plane=5)


def test_repackage_splits_below_cap(tmp_path, monkeypatch):
    import CalSciPy.io_tools as io_tools

    written = write_prairieview_session(tmp_path / "s", _images(10), voltage=False)
    original = io_tools.save_images

    def small_cap(path, images, size_cap=3.9, **kwargs):
        return original(path, images, 4 * 16 * 20 * 2 / 1e9, **kwargs)

    monkeypatch.setattr(io_tools, "save_images", small_cap)
    repackage_bruker_tifs(written.folder, tmp_path / "out")
    parts = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in parts] == ["images_00.tif", "images_01.tif", "images_02.tif"]
    stacked = np.concatenate([tifffile.imread(p).reshape(-1, 16, 20) for p in parts])
    np.testing.assert_array_equal(stacked, written.images[:, 0, 0])


# --------------------------------------------------------------------------- frame times
def test_extract_frame_times_single_plane(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(5), frame_rate=30.0,
                                        voltage=False)
    times = extract_frame_times(written.xml_path)
    assert times.index.name == "Time (ms)" and times.index.dtype == np.int64
    assert times.index.tolist() == [0, 33, 67, 100, 133]
    assert times["Imaging Frame"].tolist() == [0, 1, 2, 3, 4]
    assert extract_frame_times(written.folder).equals(times)


def test_extract_frame_times_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        extract_frame_times(tmp_path / "missing.xml")
    other = tmp_path / "other.xml"
    other.write_text("<VRecSessionEntry />")
    with pytest.raises(DataFormatError, match="expected <PVScan>"):
        extract_frame_times(other)
    with pytest.raises(FileNotFoundError, match="no PrairieView master XML"):
        extract_frame_times(tmp_path)


# ------------------------------------------------------------------------ voltage recording
def test_load_voltage_recording(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(30), frame_rate=10.0)
    analog = load_voltage_recording(written.folder)
    assert analog.index.name == "Time(ms)" and analog.index.dtype == np.float64
    assert list(analog.columns) == ["Stimulus", "Locomotion"]
    pd.testing.assert_frame_equal(analog, written.voltage)
    assert load_voltage_recording(written.voltage_csv).equals(analog)


def test_voltage_xml_names_win_over_header(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(3))
    csv = written.voltage_csv
    text = csv.read_text().replace("Time(ms), Stimulus, Locomotion", "Time(ms), Input 0, Input 1")
    csv.write_text(text)
    assert list(load_voltage_recording(csv).columns) == ["Stimulus", "Locomotion"]


def test_voltage_columns_disagree_with_xml(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(3))
    lines = written.voltage_csv.read_text().splitlines()
    written.voltage_csv.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    with pytest.raises(DataFormatError, match=r"1 signal column.*2 enabled signal"):
        load_voltage_recording(written.voltage_csv)


def test_two_voltage_csvs(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(3))
    second = written.folder / "s_Cycle00002_VoltageRecording_001.csv"
    second.write_text(written.voltage_csv.read_text())
    with pytest.raises(ValueError, match=r"2 VoltageRecording CSVs.*Cycle00002"):
        load_voltage_recording(written.folder)


def test_no_voltage_csv(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(3), voltage=False)
    with pytest.raises(FileNotFoundError, match="no VoltageRecording CSV"):
        load_voltage_recording(written.folder)
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DataFormatError, match="Time\\(ms\\)"):
        load_voltage_recording(bad)


# -------------------------------------------------------------------------------- align
def _analog():
    return pd.DataFrame({"v": np.arange(10.0)}, index=pd.Index(np.arange(10.0), name="Time(ms)"))


def _frames(times):
    return pd.DataFrame({"Imaging Frame": np.arange(len(times))},
                        index=pd.Index(np.asarray(times, np.int64), name="Time (ms)"))


def test_align_nearest_sample_and_fill():
    aligned = align_data(_analog(), _frames([0, 3, 7]), fill=True)
    assert aligned["v"].tolist() == list(np.arange(10.0))
    frame = aligned["Imaging Frame"].to_numpy()
    np.testing.assert_array_equal(np.flatnonzero(~np.isnan(frame)), [0, 3, 7])
    # nearest frame start: 0,1 -> 0; 2..5 -> 1 (tie at 5 goes to the earlier); 6.. -> 2
    assert aligned["Imaging Frame (interpolated)"].tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    previous = align_data(_analog(), _frames([2, 5]), fill=True, method="previous")
    filled = previous["Imaging Frame (interpolated)"].to_numpy()
    np.testing.assert_array_equal(filled[2:], [0, 0, 0, 1, 1, 1, 1, 1])
    assert np.isnan(filled[:2]).all()


def test_align_matches_non_exact_times():
    analog = pd.DataFrame({"v": np.zeros(5)}, index=pd.Index([0.0, 0.5, 1.0, 1.5, 2.0]))
    aligned = align_data(analog, _frames([1, 2]))
    np.testing.assert_array_equal(aligned["Imaging Frame"].to_numpy()[[2, 4]], [0, 1])
    assert "Imaging Frame (interpolated)" not in aligned


def test_align_bad_input():
    with pytest.raises(TypeError):
        align_data(np.zeros(3), _frames([0]))
    with pytest.raises(ValueError, match="Imaging Frame"):
        align_data(_analog(), pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="method"):
        align_data(_analog(), _frames([0]), fill=True, method="cubic")


def test_demo_pipeline(tmp_path):
    written = write_prairieview_session(tmp_path / "demo", _images(60), frame_rate=30.0)
    (stack,) = load_bruker_tifs(written.folder, progress=False)
    times = extract_frame_times(written.xml_path)
    analog = load_voltage_recording(written.folder)
    aligned = align_data(analog, times, fill=True)
    assert stack.shape[0] == len(times) == 60
    # the frame acquired at each stimulus onset is the one whose start is nearest
    onset_ms = written.stimulus_onsets[0] * 1000
    frame_at_onset = aligned.loc[onset_ms, "Imaging Frame (interpolated)"]
    assert frame_at_onset == round(written.stimulus_onsets[0] * 30.0)
    assert os.path.exists(written.voltage_csv)


def test_regular_sessions_use_raw_reads(tmp_path, monkeypatch):
    import CalSciPy.bruker._tiffread as tiffread

    written = write_prairieview_session(tmp_path / "s", _images(8), voltage=False)

    def forbidden(*args, **kwargs):
        raise AssertionError("tifffile fallback used for a file sharing the layout")

    monkeypatch.setattr(tiffread, "_read_with_tifffile", forbidden)
    (stack,) = load_bruker_tifs(written.folder, progress=False)
    np.testing.assert_array_equal(stack, written.images[:, 0, 0])


def test_real_layout_data_before_ifd(tmp_path, monkeypatch):
    # PrairieView writes pixels at offset 8 and the IFD at the end; tifffile the opposite
    import CalSciPy.bruker._tiffread as tiffread

    folder = tmp_path / "pv"
    folder.mkdir()
    images = _images(4)
    for i in range(4):
        with open(folder / image_name("pv", 1, 2, i + 1), "wb") as handle:
            _write_strip_tiff(handle, images[i, 0, 0], last_tag=None)
    monkeypatch.setattr(tiffread, "_read_with_tifffile",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("fallback")))
    (stack,) = load_bruker_tifs(folder, progress=False)
    np.testing.assert_array_equal(stack, images[:, 0, 0])
    for i in range(4):
        np.testing.assert_array_equal(
            tifffile.imread(folder / image_name("pv", 1, 2, i + 1)), images[i, 0, 0])


def test_voltage_alignment_figure(tmp_path):
    import matplotlib.pyplot as plt

    from CalSciPy._visuals.voltage import plot_voltage_alignment

    written = write_prairieview_session(tmp_path / "f", _images(30), frame_rate=10.0)
    aligned = align_data(load_voltage_recording(written.folder),
                         extract_frame_times(written.xml_path))
    ax = plot_voltage_alignment(aligned, "Stimulus", window_ms=(0, 2000))
    assert len(ax.collections[0].get_segments()) == 21  # frame ticks at 0, 100, ..., 2000 ms
    assert ax.get_lines()[0].get_ydata().max() == 5.0
    with pytest.raises(ValueError, match="Nope"):
        plot_voltage_alignment(aligned, "Nope")
    plt.close("all")


def test_multipage_page_missing_named(tmp_path):
    written = write_prairieview_session(tmp_path / "mp", _images(3), multipage=True,
                                        voltage=False)
    text = written.xml_path.read_text(encoding="utf-8-sig").replace('page="3"', 'page="7"')
    written.xml_path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"mp_Cycle00001_Ch2_000001.*3 page.*page 7"):
        load_bruker_tifs(written.folder, progress=False)


def _write_strip_tiff(handle, frame: np.ndarray, *, rows: int = 8, reverse: bool = False,
                      last_tag: tuple[int, int, int, int] | None = (305, 2, 4, 0x636261)
                      ) -> None:
    """A little-endian TIFF with pixels first, then the strip arrays, then the IFD.

    ``reverse`` stores the strips in reverse order in the file (the offsets still point at the
    right ones); ``last_tag`` is the final IFD entry ``(code, type, count, inline value)``
    (None: no entry after the layout tags, as PrairieView writes them).
    """
    import struct

    height, width = frame.shape
    strips = -(-height // rows)
    raw = frame.astype("<u2").tobytes()
    pieces = [raw[k * rows * width * 2:(k + 1) * rows * width * 2] for k in range(strips)]
    order = list(range(strips))[::-1] if reverse else list(range(strips))
    offsets, position = [0] * strips, 8
    for k in order:
        offsets[k] = position
        position += len(pieces[k])
    data = b"".join(pieces[k] for k in order)
    arrays_at = 8 + len(data)
    ifd_at = arrays_at + 8 * strips
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 16), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, strips, arrays_at), (277, 3, 1, 1), (278, 4, 1, rows),
               (279, 4, strips, arrays_at + 4 * strips)] + ([last_tag] if last_tag else [])
    out = b"II*\x00" + struct.pack("<I", ifd_at) + data
    out += struct.pack(f"<{strips}I", *offsets)
    out += struct.pack(f"<{strips}I", *(len(p) for p in pieces))
    out += struct.pack("<H", len(entries))
    for code, kind, count, value in entries:
        if kind == 3 and count == 1:
            out += struct.pack("<HHIHH", code, kind, count, value, 0)
        else:
            out += struct.pack("<HHII", code, kind, count, value)
    out += struct.pack("<I", 0)
    handle.write(out)


def test_same_size_file_with_other_strip_order_is_not_read_raw(tmp_path):
    # identical IFD bytes, but the strip offsets (stored outside the IFD) differ: a raw read
    # with the first file's offsets would return the strips in the wrong order
    folder = tmp_path / "pv"
    folder.mkdir()
    images = _images(3)
    for i in range(3):
        with open(folder / image_name("pv", 1, 2, i + 1), "wb") as handle:
            _write_strip_tiff(handle, images[i, 0, 0], reverse=i == 1)
    np.testing.assert_array_equal(tifffile.imread(folder / image_name("pv", 1, 2, 2)),
                                  images[1, 0, 0])
    (stack,) = load_bruker_tifs(folder, progress=False)
    np.testing.assert_array_equal(stack, images[:, 0, 0])


def test_same_size_file_with_a_layout_tag_elsewhere_is_refused(tmp_path):
    # file 2 replaces a harmless tag by SampleFormat=2 (int16) at the same IFD position:
    # same size, same layout-tag entries; its pixels must not be read as uint16
    folder = tmp_path / "pv"
    folder.mkdir()
    images = _images(3)
    signed = images[1, 0, 0].astype(np.int16)
    signed[0, :3] = [-1, -2, -3]
    for i in range(3):
        with open(folder / image_name("pv", 1, 2, i + 1), "wb") as handle:
            if i == 1:
                _write_strip_tiff(handle, signed, last_tag=(339, 3, 1, 2))
            else:
                _write_strip_tiff(handle, images[i, 0, 0])
    assert tifffile.imread(folder / image_name("pv", 1, 2, 2)).dtype == np.int16
    with pytest.raises(DataFormatError, match=r"pv_Cycle00001_Ch2_000002.*int16.*uint16"):
        load_bruker_tifs(folder, progress=False)


def test_float_frame_among_uint16_is_refused(tmp_path):
    written = write_prairieview_session(tmp_path / "s", _images(4), voltage=False)
    odd = written.folder / "s_Cycle00001_Ch2_000003.ome.tif"
    tifffile.imwrite(odd, np.full((16, 20), 1.5, np.float32))
    with pytest.raises(DataFormatError, match=r"000003.*float32"):
        load_bruker_tifs(written.folder, progress=False)


def test_align_frames_outside_the_recording_are_not_piled_on_its_ends():
    # samples 0..9 ms; frames at -5, 0, 4, 9.4, 12, 30 ms: only those within half a sample
    # interval of the recording start at a sample
    aligned = align_data(_analog(), _frames([-5, 0, 4, 9, 12, 30]))
    frame = aligned["Imaging Frame"].to_numpy()
    np.testing.assert_array_equal(np.flatnonzero(~np.isnan(frame)), [0, 4, 9])
    np.testing.assert_array_equal(frame[[0, 4, 9]], [1, 2, 3])
    filled = align_data(_analog(), _frames([-5, 0, 4, 9, 12, 30]), fill=True,
                        method="previous")["Imaging Frame (interpolated)"]
    assert filled.tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 2, 3]


def test_extract_frame_times_incomplete_volumes(tmp_path):
    written = write_prairieview_session(tmp_path / "v", _images(3, 4), frame_rate=5.0,
                                        aborted_planes=1, voltage=False)
    with pytest.warns(UserWarning, match="last volume.*cycle 4.*1 of 4"):
        times = extract_frame_times(written.xml_path)
    assert times.index.tolist() == [0, 200, 400]  # complete volumes only
    assert times["Imaging Frame"].tolist() == [0, 1, 2]
    # a short volume in the middle would shift every later frame number: refused
    text = written.xml_path.read_text(encoding="utf-8-sig")
    start = text.index('<Sequence type="TSeries ZSeries Element" cycle="2"')
    frame = text.index("<Frame ", start)
    end = text.index("</Frame>", frame) + len("</Frame>")
    written.xml_path.write_text(text[:frame] + text[end:], encoding="utf-8")
    with pytest.raises(MissingFramesError, match=r"v\.xml: cycle 2 has 3 planes, expected 4"):
        extract_frame_times(written.xml_path)


def test_same_size_file_with_other_fill_order_is_not_read_raw(tmp_path):
    # FillOrder=2 (bit-reversed bytes) in one file, 1 in the others, same size and tag codes
    folder = tmp_path / "pv"
    folder.mkdir()
    images = _images(3)
    for i in range(3):
        with open(folder / image_name("pv", 1, 2, i + 1), "wb") as handle:
            _write_strip_tiff(handle, images[i, 0, 0], last_tag=(266, 3, 1, 2 if i == 1 else 1))
    expected = np.stack([tifffile.imread(folder / image_name("pv", 1, 2, i + 1))
                         for i in range(3)])
    assert not np.array_equal(expected[1], images[1, 0, 0])  # tifffile reverses the bits
    (stack,) = load_bruker_tifs(folder, progress=False)
    np.testing.assert_array_equal(stack, expected)


def test_multipage_files_without_master_xml_are_refused(tmp_path):
    # page 0 of each file would be a fraction of the frames: refuse, naming file and folder
    written = write_prairieview_session(tmp_path / "mp", _images(6), multipage=True,
                                        voltage=False)
    assert determine_imaging_content(written.folder)[2] == 6
    written.xml_path.unlink()
    for call in (lambda: determine_imaging_content(written.folder),
                 lambda: load_bruker_tifs(written.folder, progress=False),
                 lambda: repackage_bruker_tifs(written.folder, tmp_path / "out")):
        with pytest.raises(DataFormatError, match=r"mp_Cycle00001_Ch2_000001.*6 frames.*XML"):
            call()


def test_extract_frame_times_matches_stack_when_last_volume_files_are_missing(tmp_path):
    # the XML lists 3 complete volumes, the last one's files were never written: the loaded
    # stack has 2 volumes, so the frame times have 2 rows
    written = write_prairieview_session(tmp_path / "v", _images(3, 4), frame_rate=5.0,
                                        voltage=False)
    for name in ("v_Cycle00003_Ch2_000003.ome.tif", "v_Cycle00003_Ch2_000004.ome.tif"):
        (written.folder / name).unlink()
    with pytest.warns(UserWarning, match="last volume"):
        stacks = load_bruker_tifs(written.folder, progress=False)
    with pytest.warns(UserWarning, match=r"last volume \(cycle 3\)"):
        times = extract_frame_times(written.xml_path)
    assert times.index.tolist() == [0, 200] and stacks[0].shape[0] == len(times)
    # without the images (deleted after repackaging) the XML alone decides
    for path in written.folder.glob("*.ome.tif"):
        path.unlink()
    assert extract_frame_times(written.xml_path).index.tolist() == [0, 200, 400]


@settings(max_examples=25, deadline=None)
@given(variants=st.lists(st.tuples(st.sampled_from(["<", ">"]),
                                   st.sampled_from([None, "zlib"]),
                                   st.sampled_from([1, 4, 16]),
                                   st.booleans(),
                                   st.sampled_from(["uint16", "uint8", "int16", "float32"])),
                         min_size=2, max_size=5),
       seed=st.integers(0, 2**16))
def test_fast_reader_never_returns_garbage(tmp_path_factory, variants, seed):
    # any mix of byte orders, compression, strip sizes, BigTIFF and pixel types: the result is
    # tifffile's for every file, or a DataFormatError naming a file whose pixels uint16 can't
    # hold exactly
    folder = tmp_path_factory.mktemp("mix")
    rng = np.random.default_rng(seed)
    expected = []
    for i, (order, compression, rows, bigtiff, dtype) in enumerate(variants):
        frame = rng.integers(0, 200, (16, 20)).astype(dtype)
        path = folder / image_name("m", 1, 2, i + 1)
        tifffile.imwrite(path, frame, byteorder=order, compression=compression,
                         rowsperstrip=rows, bigtiff=bigtiff, metadata=None)
        expected.append(tifffile.imread(path))
    unsafe = [i for i, frame in enumerate(expected)
              if not np.can_cast(frame.dtype, np.uint16, "safe")]
    if unsafe:
        with pytest.raises(DataFormatError, match=r"m_Cycle00001_Ch2_00000\d.*pixels are"):
            load_bruker_tifs(folder, progress=False)
    else:
        (stack,) = load_bruker_tifs(folder, progress=False)
        np.testing.assert_array_equal(stack, np.stack(expected).astype(np.uint16))
