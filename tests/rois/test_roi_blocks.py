"""The fast paths of extract_traces: the exact integer kernel against the suite2p-rule
reference and the float kernel, and the block reader (memmap files read directly, cold and
warm, O_DIRECT or not; reused buffers; stacks with ``_read_into``; errors and early exit)."""
from __future__ import annotations

import os
import threading
import time
import warnings

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from s2p_reference import reference_extract, reference_neuropil, stats_of

from CalSciPy._io.source import FrameSource
from CalSciPy._rois import blocks as blocks_mod
from CalSciPy._rois.blocks import AHEAD, open_blocks
from CalSciPy._rois.extract import _column_runs, integer_kernel
from CalSciPy.errors import DataFormatError
from CalSciPy.roi_tools import ROI, ROISet, extract_traces

DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32]


def _rois(rng, shape, n):
    rois = []
    for k in range(n):
        r, c = rng.integers(0, shape[0] - 3), rng.integers(0, shape[1] - 3)
        h, w = rng.integers(1, 4, 2)
        rows, cols = np.mgrid[r:r + h, c:c + w]
        rois.append(ROI(rows.ravel(), cols.ravel(), rng.uniform(0.1, 1.0, rows.size), id=k))
    return ROISet(rois, shape)


def _movie(rng, dtype, shape):
    info = np.iinfo(dtype)
    # the full range, extremes included: sums of whole columns must not overflow
    movie = rng.integers(info.min, int(info.max) + 1, shape, dtype=np.int64).astype(dtype)
    movie.reshape(-1)[:2] = info.max, info.min
    return movie


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), dtype=st.sampled_from(DTYPES), inner=st.integers(0, 2),
       need=st.integers(0, 300), percentile=st.sampled_from([0.0, 50.0]),
       allow=st.booleans(), batch=st.integers(1, 6), n=st.integers(1, 6))
def test_integer_kernel_matches_reference(seed, dtype, inner, need, percentile, allow, batch, n):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(10, 36)), int(rng.integers(10, 36)))
    rois = _rois(rng, shape, n)
    movie = _movie(rng, dtype, (int(rng.integers(1, 11)), *shape))
    assert integer_kernel(movie.dtype)
    stats = stats_of(rois)
    ref_np = reference_neuropil(stats, *shape, inner_radius=inner, min_neuropil_pixels=need,
                                lam_percentile=percentile)
    if not all(p.size for p in ref_np):
        return  # a neuropil-free ROI: covered by the extraction tests
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        F, Fneu = extract_traces(movie, rois, inner_radius=inner, min_neuropil_pixels=need,
                                 lam_percentile=percentile, allow_overlap=allow,
                                 batch_frames=batch, progress=False)
        F_float, Fneu_float = extract_traces(movie.astype(np.float64), rois,
                                             inner_radius=inner, min_neuropil_pixels=need,
                                             lam_percentile=percentile, allow_overlap=allow,
                                             batch_frames=batch, progress=False)
    F_ref, Fneu_ref = reference_extract(movie, stats, ref_np, allow_overlap=allow)
    valid = np.isfinite(F[:, 0])
    scale = float(np.iinfo(dtype).max)  # values near 0 of signed movies: absolute tolerance
    np.testing.assert_allclose(F[valid], F_ref[valid], rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(Fneu, Fneu_ref, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_array_equal(np.isnan(F), np.isnan(F_float))
    np.testing.assert_allclose(F[valid], F_float[valid], rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(Fneu, Fneu_float, rtol=1e-6, atol=1e-6 * scale)


def test_integer_kernel_choice():
    assert all(integer_kernel(d) for d in DTYPES)
    assert not any(integer_kernel(d) for d in (np.int64, np.uint64, np.float32, np.float64))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), ly=st.integers(1, 12), lx=st.integers(1, 12),
       density=st.floats(0.0, 1.0))
def test_column_runs_sum_the_valid_pixels_of_a_set(seed, ly, lx, density):
    rng = np.random.default_rng(seed)
    valid = rng.random((ly, lx)) < density
    chosen = np.flatnonzero(rng.random(ly * lx) < 0.5)
    image = rng.integers(0, 1000, (ly, lx))
    integral = np.zeros((ly + 1, lx), dtype=np.int64)
    integral[1:] = np.cumsum(image * valid, axis=0)
    vcol = np.zeros((ly + 1, lx), dtype=np.int64)
    vcol[1:] = np.cumsum(valid, axis=0)
    lo, hi = _column_runs(chosen, lx, vcol)
    flat = integral.ravel()
    assert (flat[hi] - flat[lo]).sum() == (image * valid).ravel()[chosen].sum()
    # runs never overlap and each covers one column
    assert np.all(lo % lx == hi % lx) and np.all(hi > lo)
    assert lo.size <= chosen.size


# ----------------------------------------------------------------------------- block reader
def _write(path, movie, offset=0):
    with open(path, "wb") as fh:
        fh.write(b"\x07" * offset)
        fh.write(movie.tobytes())
        fh.flush()
        os.fsync(fh.fileno())


def _drop_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _collect(images, batch):
    out = []
    with open_blocks(images, batch) as reader:
        kind = reader.kind
        for start, block in reader:
            out.append((start, block.copy()))  # a block is valid until the next one
    return kind, out


def _check_blocks(got, movie, batch):
    starts = [s for s, _ in got]
    assert starts == list(range(0, movie.shape[0], batch))
    flat = np.concatenate([b for _, b in got])
    assert flat.dtype == movie.dtype.newbyteorder("=")
    assert np.array_equal(flat, movie.reshape(movie.shape[0], -1))


@pytest.mark.parametrize("residency", ["real", "cold", "warm", "no-odirect"])
@pytest.mark.parametrize("offset,dtype", [(0, np.uint16), (128, np.uint16), (4096 + 6, ">u2"),
                                          (1, np.uint16), (3, np.float32)])
def test_memmap_file_read_directly(tmp_path, monkeypatch, residency, offset, dtype):
    rng = np.random.default_rng(offset)
    movie = rng.integers(0, 60000, (23, 9, 13)).astype(dtype)
    path = tmp_path / "movie.raw"
    _write(path, movie, offset)
    _drop_cache(path)
    if residency == "cold":  # every block read with O_DIRECT where the filesystem has it
        monkeypatch.setattr(blocks_mod, "_resident", lambda address, nbytes: 0.0)
    elif residency == "warm":  # every block copied from the page cache
        monkeypatch.setattr(blocks_mod, "_resident", lambda address, nbytes: 1.0)
    elif residency == "no-odirect":  # buffered reads with read-ahead advice
        monkeypatch.setattr(blocks_mod, "_MINCORE", None)
    mm = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=movie.shape)
    for view, expected in ((mm, movie), (mm[5:], movie[5:]), (mm[3:17], movie[3:17])):
        for batch in (1, 4, 100):
            kind, got = _collect(view, batch)
            assert kind == "file"
            _check_blocks(got, expected, batch)


def test_memmap_npy_written_through_shared_mapping(tmp_path):
    # what was written through a shared mapping and not flushed is what the file read sees
    mm = np.lib.format.open_memmap(tmp_path / "m.npy", mode="w+", dtype=np.uint16,
                                   shape=(11, 8, 8))
    mm[:] = np.arange(mm.size, dtype=np.uint16).reshape(mm.shape)
    kind, got = _collect(mm, 3)
    assert kind == "file"
    _check_blocks(got, np.asarray(mm), 3)
    ro = np.load(tmp_path / "m.npy", mmap_mode="r")
    kind, got = _collect(ro, 5)
    assert kind == "file"
    _check_blocks(got, np.asarray(mm), 5)


def test_memmaps_not_read_from_the_file(tmp_path):
    movie = np.arange(6 * 4 * 4, dtype=np.uint16).reshape(6, 4, 4)
    path = tmp_path / "m.raw"
    _write(path, movie)
    cow = np.memmap(path, dtype=np.uint16, mode="c", shape=movie.shape)
    cow[0] = 7  # private to this mapping: the file does not have it
    expected = movie.copy()
    expected[0] = 7
    for images, want in ((cow, expected), (cow[:, :, ::2], expected[:, :, ::2]),
                         (np.memmap(path, dtype=np.uint16, mode="r", shape=movie.shape)[:, 1:],
                          movie[:, 1:])):
        kind, got = _collect(images, 4)
        assert kind == "generic"
        _check_blocks(got, want, 4)
    kind, got = _collect(movie, 4)
    assert kind == "views"
    _check_blocks(got, movie, 4)


def test_file_replaced_under_the_memmap_is_not_trusted(tmp_path):
    movie = np.arange(5 * 4 * 4, dtype=np.uint16).reshape(5, 4, 4)
    path = tmp_path / "m.raw"
    _write(path, movie)
    mm = np.memmap(path, dtype=np.uint16, mode="r", shape=movie.shape)
    os.replace(_other(tmp_path, movie + 1), path)  # the name now holds other data
    kind, got = _collect(mm, 2)
    assert kind == "generic"  # read through the mapping, which still has the old data
    _check_blocks(got, movie, 2)


def _other(folder, movie):
    path = folder / "other.raw"
    _write(path, movie)
    return path


def test_truncated_file_is_an_error_naming_it(tmp_path):
    movie = np.arange(40 * 64 * 64, dtype=np.uint16).reshape(40, 64, 64)
    path = tmp_path / "m.raw"
    _write(path, movie)
    mm = np.memmap(path, dtype=np.uint16, mode="r", shape=movie.shape)
    reader = open_blocks(mm, 1)
    assert reader.kind == "file"
    os.truncate(path, 10 * 64 * 64 * 2)  # the reader holds at most AHEAD + 1 blocks
    with pytest.raises(DataFormatError, match="m.raw.*truncated"):
        for _ in reader:
            pass
    reader.close()


class IntoStack(FrameSource):
    """A stack with ``_read_into`` (as SessionStack); counts its reads."""

    def __init__(self, data, fail_at=None):
        self.data, self.shape, self.dtype = data, data.shape, data.dtype
        self.reads = np.zeros(data.shape[0], int)
        self.fail_at = fail_at

    def _read(self, start, stop):
        raise AssertionError("blocks must be read into the reader's buffers")

    def _read_into(self, start, stop, out):
        if self.fail_at is not None and start >= self.fail_at:
            raise OSError(f"disk error at frame {start}")
        self.reads[start:stop] += 1
        out[...] = self.data[start:stop]


def test_read_into_stacks_fill_reused_buffers():
    rng = np.random.default_rng(3)
    movie = rng.integers(0, 5000, (17, 10, 10)).astype(np.uint16)
    stack = IntoStack(movie)
    kind, got = _collect(stack, 3)
    assert kind == "read_into"
    _check_blocks(got, movie, 3)
    assert stack.reads.tolist() == [1] * 17
    rois = _rois(rng, (10, 10), 3)
    expected = extract_traces(movie, rois, min_neuropil_pixels=20, progress=False)
    got = extract_traces(IntoStack(movie), rois, min_neuropil_pixels=20, batch_frames=2,
                         progress=False)
    for a, b in zip(got, expected):
        assert np.array_equal(a, b, equal_nan=True)


class GatedStack(IntoStack):
    """An IntoStack whose reads of frames ``>= gate_at`` wait until ``gate`` is set."""

    def __init__(self, data, gate_at):
        super().__init__(data)
        self.gate, self.gate_at = threading.Event(), gate_at
        self.waiting = threading.Event()

    def _read_into(self, start, stop, out):
        if start >= self.gate_at:
            self.waiting.set()
            assert self.gate.wait(10)
        super()._read_into(start, stop, out)


def test_compute_threads_leave_the_busy_reader_its_share_of_the_cores():
    movie = np.arange(10 * 4 * 4, dtype=np.uint16).reshape(10, 4, 4)
    # arrays and memmaps: the reader needs no CPU of its own, the caller computes on all
    with open_blocks(movie, 2) as reader:
        next(reader)
        assert reader.compute_threads(4) == 4
    stack = GatedStack(movie, gate_at=4)
    with open_blocks(stack, 2) as reader:
        next(reader)
        assert stack.waiting.wait(10)
        # blocks 0..1 read, block 2 in progress: the reader is busy
        assert reader.compute_threads(4) == 2 and reader.compute_threads(1) == 1
        stack.gate.set()
        for _ in reader:
            pass
        # all read: nothing left to share with
        assert reader.compute_threads(4) == 4
    # a reader that has filled every buffer waits for the caller: all threads
    stack = IntoStack(movie)
    with open_blocks(stack, 1) as reader:
        next(reader)
        for _ in range(1000):
            if stack.reads.sum() == AHEAD + 1:
                break
            time.sleep(0.01)
        assert stack.reads.sum() == AHEAD + 1
        assert reader.compute_threads(4) == 4


def test_extraction_restores_numbas_thread_count():
    rng = np.random.default_rng(4)
    movie = rng.integers(0, 5000, (12, 10, 10)).astype(np.uint16)
    rois = _rois(rng, (10, 10), 3)
    before = numba.get_num_threads()
    expected = extract_traces(movie, rois, min_neuropil_pixels=20, progress=False)
    got = extract_traces(GatedStack(movie, gate_at=10**9), rois, min_neuropil_pixels=20,
                         batch_frames=2, progress=False)
    assert numba.get_num_threads() == before
    for a, b in zip(got, expected):
        assert np.array_equal(a, b, equal_nan=True)


def test_reader_errors_reach_the_caller_and_early_exit_stops_reading():
    movie = np.zeros((30, 4, 4), np.uint16)
    stack = IntoStack(movie, fail_at=12)
    with pytest.raises(OSError, match="frame 12"):
        _collect(stack, 3)
    stack = IntoStack(movie)
    with open_blocks(stack, 1) as reader:
        next(reader)
    # the thread stopped: it read the first block and at most AHEAD + 1 more
    assert stack.reads.sum() <= AHEAD + 2


def test_session_stack_read_into_equals_read(tmp_path):
    from CalSciPy.bruker.session import read_prairieview_session
    from CalSciPy.synthetic.prairieview import write_prairieview_session

    rng = np.random.default_rng(5)
    images = rng.integers(0, 4000, (9, 16, 16)).astype(np.uint16)
    write_prairieview_session(tmp_path / "TSeries-001", images, voltage=False)
    stack = read_prairieview_session(tmp_path / "TSeries-001").stack(0, 0)
    out = np.empty((4, 16, 16), np.uint16)
    stack._read_into(3, 7, out)
    assert np.array_equal(out, images[3:7]) and np.array_equal(stack[3:7], images[3:7])
    with pytest.raises(ValueError, match="C-contiguous uint16"):
        stack._read_into(3, 7, np.empty((3, 16, 16), np.uint16))
    kind, got = _collect(stack, 4)
    assert kind == "read_into"
    _check_blocks(got, images, 4)


def test_extract_from_cold_memmap_equals_in_memory(tmp_path, monkeypatch):
    rng = np.random.default_rng(8)
    movie = rng.integers(0, 4000, (21, 24, 24)).astype(np.uint16)
    path = tmp_path / "movie.npy"
    np.save(path, movie)
    rois = _rois(rng, (24, 24), 5)
    expected = extract_traces(movie, rois, min_neuropil_pixels=40, progress=False)
    monkeypatch.setattr(blocks_mod, "_resident", lambda address, nbytes: 0.0)
    _drop_cache(path)
    got = extract_traces(np.load(path, mmap_mode="r"), rois, min_neuropil_pixels=40,
                         batch_frames=4, progress=False)
    for a, b in zip(got, expected):
        assert np.array_equal(a, b, equal_nan=True)


def test_file_replaced_after_the_check_is_an_error(tmp_path, monkeypatch):
    movie = np.arange(5 * 4 * 4, dtype=np.uint16).reshape(5, 4, 4)
    path = tmp_path / "m.raw"
    _write(path, movie)
    mm = np.memmap(path, dtype=np.uint16, mode="r", shape=movie.shape)
    real = blocks_mod.file_span

    def elsewhere(images):  # the checked file is not the one the reader opens
        found = real(images)
        return None if found is None else (*found[:3], (-1, -1))

    monkeypatch.setattr(blocks_mod, "file_span", elsewhere)
    with pytest.raises(DataFormatError, match="m.raw: the file was replaced"):
        _collect(mm, 2)
