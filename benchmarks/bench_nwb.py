"""PrairieView session → NWB: CalSciPy's ``write_nwb`` against neuroconv's Bruker TIFF converter.

Both convert the same synthetic PrairieView folder (single plane, one channel, single-frame
OME-TIFFs as PrairieView 5.5 writes them) to an NWB file with the movie gzip-compressed at
the same level (4, neuroconv's default, checked in the written files). CalSciPy compresses
chunks in parallel threads, with libdeflate when installed (same format and level).
Each conversion runs in a fresh process of its own environment: CalSciPy in the project's
venv, neuroconv in a separate benchmark venv (default ``/tmp/neuroconv-venv``; create it with
``python3 -m venv /tmp/neuroconv-venv && /tmp/neuroconv-venv/bin/pip install
'neuroconv[brukertiff]'``). The neuroconv column is skipped, with a message, when that venv
cannot import it. Rounds are interleaved; reported are the median and range of the
conversion time measured inside each process (imports excluded), the peak resident memory of
each process (``VmHWM``; ``ru_maxrss`` would include the parent's pages inherited at fork),
the file sizes, and a check that both files open with pynwb and that ``read_nwb`` gives back
the TIFF pixels (read by tifffile) from either file.

Usage::

    python benchmarks/bench_nwb.py [--frames 3000] [--size 512] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

OURS = r"""
import json, resource, sys, time
import pynwb  # imported before the clock starts, as neuroconv's is
from CalSciPy.nwb import write_nwb
folder, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
write_nwb(out, folder, indicator="GCaMP6s", location="VISp", emission_wavelength=520.0,
          voltage=False, overwrite=True, progress=False, timezone="UTC")
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
rss = int(hwm[0].split()[1]) / 1024 if hwm else (
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": time.perf_counter() - t, "rss_mb": rss,
                  "cpu_s": use.ru_utime + use.ru_stime}))
"""

NEUROCONV = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
from neuroconv.datainterfaces import BrukerTiffSinglePlaneImagingInterface
import roiextractors  # imported before the clock starts
folder, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
interface = BrukerTiffSinglePlaneImagingInterface(folder_path=folder)
metadata = interface.get_metadata()
interface.run_conversion(nwbfile_path=out, metadata=metadata, overwrite=True)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
rss = int(hwm[0].split()[1]) / 1024 if hwm else (
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": time.perf_counter() - t, "rss_mb": rss,
                  "cpu_s": use.ru_utime + use.ru_stime}))
"""


def make_session(folder: Path, frames: int, size: int, seed: int = 0) -> None:
    """A PrairieView folder whose movie is a compressible, noisy scene (built in blocks)."""
    from CalSciPy.synthetic import write_prairieview_session

    rng = np.random.default_rng(seed)
    store = np.lib.format.open_memmap(folder.parent / "movie.npy", mode="w+",
                                      dtype=np.uint16, shape=(frames, size, size))
    yy, xx = np.mgrid[:size, :size]
    scene = np.zeros((size, size), dtype=np.float32)
    for row, col in rng.uniform(0, size, (max(1, size * size // 2000), 2)):
        scene += 800 * np.exp(-((yy - row) ** 2 + (xx - col) ** 2) / 18.0)
    for start in range(0, frames, 100):
        n = min(100, frames - start)
        gain = 1 + 0.3 * rng.random((n, 1, 1), dtype=np.float32)
        store[start:start + n] = rng.poisson(200 + scene * gain).astype(np.uint16)
    store.flush()
    write_prairieview_session(folder, store, voltage=False)
    del store
    (folder.parent / "movie.npy").unlink()


def run(python: str, code: str, folder: Path, out: Path) -> dict:
    done = subprocess.run([python, "-c", code, str(folder), str(out)], capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(path: Path, folder: Path) -> str:
    """Open with pynwb; read back with CalSciPy.nwb.read_nwb and compare frames with tifffile."""
    import h5py
    import tifffile
    from pynwb import NWBHDF5IO

    from CalSciPy.bruker.session import read_prairieview_session
    from CalSciPy.nwb import read_nwb

    with NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        series = next(iter(nwbfile.acquisition.values()))
        shape = series.data.shape
    with h5py.File(path, "r") as h5:
        name = next(iter(h5["acquisition"]))
        data = h5[f"acquisition/{name}/data"]
        info = f"{data.compression} {data.compression_opts}, chunks {data.chunks}"
    files = read_prairieview_session(folder).files[:, 0, 0]
    with read_nwb(path) as nwb:
        stack = nwb.stack(0, 0)
        for f in np.linspace(0, len(files) - 1, 12).astype(int):
            if not np.array_equal(stack[int(f)], tifffile.imread(files[f])):
                raise AssertionError(f"{path.name}: frame {f} differs from its TIFF")
    return (f"readable by pynwb, data {shape}, {info}; read_nwb frames equal the TIFFs "
            "(tifffile)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--neuroconv-python", default="/tmp/neuroconv-venv/bin/python")
    parser.add_argument("--workdir", help="folder for the session and files (default: temp)")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_nwb_"))
    work.mkdir(parents=True, exist_ok=True)
    folder = work / "TSeries-bench"
    print(f"session: {args.frames} frames of {args.size}x{args.size} uint16 in {folder} "
          f"({os.cpu_count()} CPUs; the machine may be loaded by other jobs)")
    if not folder.exists():
        make_session(folder, args.frames, args.size)
    peer = args.neuroconv_python
    have_peer = Path(peer).exists() and subprocess.run(
        [peer, "-c", "import neuroconv, roiextractors"], capture_output=True).returncode == 0
    if not have_peer:
        print(f"neuroconv: skipped ({peer} cannot import neuroconv and roiextractors; install "
              "them in a separate venv, see the module docstring)")
    ours_file, peer_file = work / "calscipy.nwb", work / "neuroconv.nwb"
    results: dict[str, list[dict]] = {"calscipy": [], "neuroconv": []}
    for r in range(args.rounds):
        results["calscipy"].append(run(sys.executable, OURS, folder, ours_file))
        if have_peer:
            results["neuroconv"].append(run(peer, NEUROCONV, folder, peer_file))
        print(f"round {r + 1}: " + ", ".join(
            f"{k} {v[-1]['s']:.1f} s (CPU {v[-1]['cpu_s']:.1f} s)" for k, v in results.items()
            if v) + f", load average {os.getloadavg()[0]:.1f}")
    for name, file in (("calscipy", ours_file), ("neuroconv", peer_file)):
        rows = results[name]
        if not rows:
            continue
        times = [row["s"] for row in rows]
        rss = max(row["rss_mb"] for row in rows)
        cpu = statistics.median(row["cpu_s"] for row in rows)
        print(f"{name}: median {statistics.median(times):.2f} s (range {min(times):.2f}-"
              f"{max(times):.2f}, {len(times)} rounds), CPU time {cpu:.1f} s (median, process "
              f"incl. imports), peak memory {rss:.0f} MB, file "
              f"{file.stat().st_size / 1e6:.1f} MB; {check(file, folder)}")
    if results["neuroconv"]:
        ratio = (statistics.median(r["s"] for r in results["calscipy"])
                 / statistics.median(r["s"] for r in results["neuroconv"]))
        print(f"time ratio calscipy / neuroconv: {ratio:.2f} (target <= 0.5)")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
