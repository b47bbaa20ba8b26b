"""GPU (through a numpy/scipy stand-in for cupy), dask and distributed backends agree with CPU."""
from __future__ import annotations

import types

import numpy as np
import pytest
import scipy.ndimage as ndi

from CalSciPy import _backend
from CalSciPy.image_processing import gaussian_filter, median_filter

da = pytest.importorskip("dask.array")

RNG = np.random.default_rng(21)
STACK = RNG.integers(0, 3000, (14, 12, 13)).astype(np.uint16)


class FakeDeviceArray(np.ndarray):
    """A numpy array that CalSciPy._backend takes for a cupy array (by its module name)."""

    def get(self):
        return np.asarray(self)


FakeDeviceArray.__module__ = "cupy"


@pytest.fixture
def fake_gpu(monkeypatch):
    """Swap cupy / cupyx.scipy.ndimage for numpy / scipy.ndimage and count the GPU calls."""
    calls = []

    def to_device(array, dtype=None):
        return np.asarray(array, dtype=dtype).view(FakeDeviceArray)

    def device_call(name):
        def call(data, **kwargs):
            assert isinstance(data, FakeDeviceArray), "GPU code must move data to the device"
            calls.append(name)
            kwargs = {k: np.asarray(v) if isinstance(v, np.ndarray) else v
                      for k, v in kwargs.items()}
            return to_device(getattr(ndi, name)(np.asarray(data), **kwargs))
        return call

    xp = types.SimpleNamespace(
        asarray=to_device,
        asnumpy=lambda array: np.asarray(array),
        concatenate=lambda arrays: to_device(np.concatenate([np.asarray(a) for a in arrays])),
        empty_like=lambda array: to_device(np.empty_like(np.asarray(array))),
    )
    ndimage = types.SimpleNamespace(median_filter=device_call("median_filter"),
                                    gaussian_filter=device_call("gaussian_filter"))
    monkeypatch.setattr(_backend, "cupy_module", lambda: xp)
    monkeypatch.setattr(_backend, "cupy_ndimage", lambda: ndimage)
    return types.SimpleNamespace(calls=calls, to_device=to_device)


def test_gpu_backend_on_numpy_input(fake_gpu):
    result = median_filter(STACK, backend="gpu")
    assert type(result) is np.ndarray and result.dtype == STACK.dtype
    assert np.array_equal(result, median_filter(STACK))
    assert fake_gpu.calls == ["median_filter"]


def test_gpu_blocks_move_one_block_at_a_time(fake_gpu):
    result = median_filter(STACK, block_size=4, block_buffer=1, backend="gpu")
    assert np.array_equal(result, median_filter(STACK))
    assert fake_gpu.calls == ["median_filter"] * 4


def test_device_arrays_pick_the_gpu_and_stay_there(fake_gpu):
    device = fake_gpu.to_device(STACK)
    result = gaussian_filter(device, sigma=(0.5, 1.0, 1.5), truncate=3.0)
    assert isinstance(result, FakeDeviceArray)
    ref = ndi.gaussian_filter(STACK, (0.5, 1.0, 1.5), truncate=3.0, mode="reflect")
    assert np.array_equal(np.asarray(result), ref)
    assert fake_gpu.calls == ["gaussian_filter"]


def test_device_in_place_and_blocks(fake_gpu):
    device = fake_gpu.to_device(STACK.copy())
    returned = median_filter(device, block_size=3, block_buffer=1, in_place=True)
    assert returned is device
    assert np.array_equal(np.asarray(device), median_filter(STACK))
    device = fake_gpu.to_device(STACK.copy())
    assert median_filter(device, in_place=True) is device
    assert np.array_equal(np.asarray(device), median_filter(STACK))


def test_device_array_forced_to_cpu(fake_gpu):
    device = fake_gpu.to_device(STACK.copy())
    result = median_filter(device, backend="cpu")
    assert isinstance(result, FakeDeviceArray)  # returned where the input lives
    assert np.array_equal(np.asarray(result), median_filter(STACK))
    assert fake_gpu.calls == []


def test_dask_chunks_on_the_gpu(fake_gpu):
    lazy = da.from_array(STACK, chunks=(5, 6, 13))
    result = median_filter(lazy, backend="gpu")
    assert isinstance(result, da.Array)
    assert np.array_equal(np.asarray(result.compute()), median_filter(STACK))
    assert fake_gpu.calls and set(fake_gpu.calls) == {"median_filter"}


@pytest.mark.parametrize("chunks", [(5, 12, 13), (3, 5, 4), (1, 2, 2), (14, 12, 13)])
def test_dask_equals_in_memory(chunks):
    lazy = da.from_array(STACK, chunks=chunks)
    median = median_filter(lazy)
    gauss = gaussian_filter(lazy, sigma=(1.0, 0.7, 1.3))
    assert isinstance(median, da.Array) and median.dtype == STACK.dtype
    assert np.array_equal(median.compute(), median_filter(STACK))
    assert np.array_equal(gauss.compute(), gaussian_filter(STACK, sigma=(1.0, 0.7, 1.3)))


def test_dask_backend_on_numpy_and_rechunking():
    assert np.array_equal(median_filter(STACK, backend="dask", block_size=4),
                          median_filter(STACK))
    lazy = da.from_array(STACK, chunks=(7, 12, 13))
    assert np.array_equal(median_filter(lazy, block_size=3).compute(), median_filter(STACK))
    image = STACK[0]
    assert np.array_equal(median_filter(da.from_array(image, chunks=5)).compute(),
                          median_filter(image))
    copy = STACK.copy()
    assert median_filter(copy, backend="dask", in_place=True) is copy
    assert np.array_equal(copy, median_filter(STACK))


def test_dask_other_footprint_and_in_place_error():
    mask = np.ones((1, 5, 3))
    lazy = da.from_array(STACK, chunks=(4, 5, 5))
    assert np.array_equal(median_filter(lazy, mask=mask).compute(),
                          ndi.median_filter(STACK, footprint=mask, mode="reflect"))
    with pytest.raises(TypeError, match="dask"):
        median_filter(lazy, in_place=True)


def test_dask_reflect_boundary_is_scipy_reflect():
    # the reason map_overlap can be trusted at the edges: dask's 'reflect' padding is
    # half-sample symmetric like scipy's 'reflect' (numpy's 'symmetric'), not 'mirror'
    data = np.arange(10)
    padded = da.overlap.overlap(da.from_array(data, chunks=5), depth={0: 2},
                                boundary={0: "reflect"}).compute()
    assert np.array_equal(padded[:2], np.pad(data, 2, mode="symmetric")[:2])
    assert np.array_equal(padded[-2:], np.pad(data, 2, mode="symmetric")[-2:])


def test_three_backends_agree(fake_gpu):
    cpu = median_filter(STACK, backend="cpu")
    gpu = median_filter(STACK, backend="gpu")
    dask = median_filter(STACK, backend="dask", block_size=5)
    assert np.array_equal(cpu, gpu) and np.array_equal(cpu, dask)
    g_cpu = gaussian_filter(STACK, backend="cpu")
    g_gpu = gaussian_filter(STACK, backend="gpu")  # scipy's float64 through the stand-in
    g_dask = gaussian_filter(STACK, backend="dask", block_size=5)
    assert np.array_equal(g_cpu, g_dask)
    assert np.abs(g_cpu.astype(int) - g_gpu).max() <= 1


def test_distributed_local_cluster():
    distributed = pytest.importorskip("distributed")
    lazy = da.from_array(STACK, chunks=(4, 12, 13))
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        median = client.compute(median_filter(lazy)).result()
        gauss = gaussian_filter(lazy).compute()  # the active client runs it
    assert np.array_equal(median, median_filter(STACK))
    assert np.array_equal(gauss, gaussian_filter(STACK))
