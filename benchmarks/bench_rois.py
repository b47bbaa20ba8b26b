"""Benchmark of CalSciPy.roi_tools.extract_traces (suite2p-rule ROI + neuropil traces).

Data: ``--rois`` (default 1 000) disk-shaped ROIs with random weights (some overlapping) on a
``--frames × --size × --size`` (default 10 000 × 512 × 512, 5.2 GB) uint16 movie written to a
memmap on disk (``--dir``, default the system temp folder; removed afterwards unless
``--keep``).

Measured, in interleaved rounds (``--rounds``, median and range reported):

1. *read*: a fresh process reads the whole movie once with numpy (block copies out of the
   memmap); *disk*: a fresh process reads the file once with 64 MiB ``O_DIRECT`` reads (the
   disk's own speed, nothing copied or computed); and *extract*: a fresh process runs
   ``extract_traces`` on the memmap (masks included). The file's pages are dropped from the
   page cache before each (``posix_fadvise DONTNEED`` on this file only), so all read from
   disk. Ratios extract / read (target ≤ 1.25) and extract / disk, and the extracting
   process's peak RSS (VmHWM; target < 1 GB). ``extract_traces`` reads a cold memmap with
   ``O_DIRECT`` itself, so it can beat the numpy read; extract / disk says how close it is
   to the disk.
2. *loop*: a straightforward per-ROI numpy loop over the same masks — for each block of
   frames read once, each ROI's ``block[:, pixels] @ weights`` and neuropil
   ``block[:, pixels].mean(1)`` — against ``extract_traces`` on the same first ``--loop-frames``
   frames (warm cache; both timed on the traces only, masks built beforehand, and ours also
   with mask construction included). Target ≥ 10× faster.
3. *values*: the neuropil masks of a loop-by-loop suite2p-rule reference written here (suite2p's
   extendROI / expanding-rectangle loops) must equal ours exactly, and the loop's float64 traces
   must equal ours to 1e-5 relative (largest |ours - ref| / |ref| reported).

Run: ``python benchmarks/bench_rois.py [--frames 10000] [--size 512] [--rois 1000]
[--rounds 3] [--loop-frames 1000] [--dir /tmp] [--keep]``
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.ndimage import percentile_filter

# a ROI whose pixels are all shared gets NaN traces with a warning, in ours and the reference
warnings.filterwarnings("ignore", "ROIs .* no pixel left", RuntimeWarning)
warnings.filterwarnings("ignore", "invalid value encountered in divide", RuntimeWarning)

BLOCK = 256  # frames per block for the numpy read and the reference loop


# ----------------------------------------------------------------------------- data
def make_rois(size: int, n: int, seed: int = 0):
    from CalSciPy.roi_tools import ROI, ROISet

    rng = np.random.default_rng(seed)
    rois = []
    for i in range(n):
        cy, cx = rng.uniform(8, size - 8, 2)
        r = rng.uniform(3.0, 6.0)
        yy, xx = np.mgrid[int(cy - r) - 1:int(cy + r) + 2, int(cx - r) - 1:int(cx + r) + 2]
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        rois.append(ROI(yy[inside], xx[inside], rng.uniform(0.2, 1.0, inside.sum()), id=i))
    return ROISet(rois, (size, size))


def write_movie(path: Path, frames: int, size: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16,
                                   shape=(frames, size, size))
    for start in range(0, frames, BLOCK):
        stop = min(frames, start + BLOCK)
        mm[start:stop] = rng.integers(100, 4000, (stop - start, size, size), dtype=np.uint16)
    mm.flush()
    del mm


def drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- references
def extend_roi(ypix, xpix, ly, lx, niter):
    for _ in range(niter):
        yx = np.array(((ypix, ypix, ypix, ypix - 1, ypix + 1),
                       (xpix, xpix + 1, xpix - 1, xpix, xpix))).reshape(2, -1)
        yu = np.unique(yx, axis=1)
        inside = (yu[0] >= 0) & (yu[0] < ly) & (yu[1] >= 0) & (yu[1] < lx)
        ypix, xpix = yu[:, inside]
    return ypix, xpix


def reference_masks(rois, inner=2, min_pixels=350, lam_percentile=50.0):
    """suite2p's rules, loop by loop: (cell pixel indices, weights, neuropil indices) per ROI."""
    ly, lx = rois.shape
    lammap = np.zeros((ly, lx))
    count = np.zeros((ly, lx), int)
    for roi in rois:
        lammap[roi.ypix, roi.xpix] = np.maximum(lammap[roi.ypix, roi.xpix], roi.lam)
        count[roi.ypix, roi.xpix] += 1
    filt = percentile_filter(lammap, percentile=lam_percentile,
                             size=max(1, int(np.median([r.radius for r in rois]) * 5)))
    cell_pix = ~((lammap < filt) | (lammap == 0))
    out = []
    for roi in rois:
        keep = count[roi.ypix, roi.xpix] == 1  # overlapping pixels dropped
        cell = roi.ypix[keep] * lx + roi.xpix[keep]
        # suite2p gives 0 for a ROI without pixels of its own; extract_traces gives NaN
        lam = roi.lam[keep] / roi.lam[keep].sum() if keep.any() else np.full(1, np.nan)
        if not keep.any():
            cell = np.zeros(1, dtype=np.int64)
        ypix, xpix = extend_roi(roi.ypix, roi.xpix, ly, lx, inner)
        nring = np.sum(~cell_pix[ypix, xpix])
        y1, x1 = ypix, xpix
        reps = 0
        while reps < 100 and np.sum(~cell_pix[y1, x1]) - nring <= min_pixels:
            reps += 1
            y1, x1 = np.meshgrid(np.arange(max(0, y1.min() - 5), min(ly, y1.max() + 6)),
                                 np.arange(max(0, x1.min() - 5), min(lx, x1.max() + 6)),
                                 indexing="ij")
        mask = np.zeros((ly, lx), bool)
        ok = ~cell_pix[y1, x1]
        mask[y1[ok], x1[ok]] = True
        mask[ypix, xpix] = False
        out.append((cell, lam, np.flatnonzero(mask)))
    return out


def loop_extract(movie, masks, frames):
    F = np.empty((len(masks), frames))
    Fneu = np.empty((len(masks), frames))
    for start in range(0, frames, BLOCK):
        stop = min(frames, start + BLOCK)
        block = np.array(movie[start:stop]).reshape(stop - start, -1)
        for i, (cell, lam, neu) in enumerate(masks):
            F[i, start:stop] = block[:, cell] @ lam
            Fneu[i, start:stop] = block[:, neu].mean(axis=1)
    return F, Fneu


# ----------------------------------------------------------------------------- children
def child(mode: str, path: str, size: int, n_rois: int, out: str) -> None:
    movie = np.load(path, mmap_mode="r")
    cpu_s = float("nan")
    if mode == "read":
        buf = np.empty((BLOCK, size, size), dtype=movie.dtype)
        t = time.perf_counter()
        for start in range(0, movie.shape[0], BLOCK):
            stop = min(movie.shape[0], start + BLOCK)
            buf[:stop - start] = movie[start:stop]
        elapsed = time.perf_counter() - t
    elif mode == "disk":
        # the disk's own speed: the whole file in 64 MiB O_DIRECT reads (no page cache, no
        # copy; buffered where the filesystem refuses O_DIRECT), nothing computed
        import mmap

        raw = mmap.mmap(-1, 64 * 2**20)
        view = memoryview(raw)
        t = time.perf_counter()
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECT", 0))
        except OSError:
            fd = os.open(path, os.O_RDONLY)
        try:
            position = 0
            while True:
                got = os.preadv(fd, [view], position)
                if got <= 0:
                    break
                position += got
        finally:
            os.close(fd)
        elapsed = time.perf_counter() - t
    else:
        from CalSciPy.roi_tools import extract_traces

        rois = make_rois(size, n_rois)
        extract_traces(np.zeros((2, size, size), np.uint16), rois, progress=False)  # compile
        t = time.perf_counter()
        cpu = time.process_time()
        F, Fneu = extract_traces(movie, rois, progress=False)
        elapsed = time.perf_counter() - t
        cpu_s = time.process_time() - cpu
        np.save(out + "_F.npy", F)
        np.save(out + "_Fneu.npy", Fneu)
    print(json.dumps({"elapsed": elapsed, "rss_mb": peak_rss_mb(), "cpu_s": cpu_s}))


def run_child(mode: str, path: Path, size: int, n_rois: int, out: str) -> dict:
    drop_cache(path)
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), str(size), str(n_rois), out],
        check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def relative_difference(ours: np.ndarray, ref: np.ndarray) -> float:
    """Largest |ours - ref| / |ref|; NaN (an ROI left without pixels) must be NaN in both."""
    if not np.array_equal(np.isnan(ours), np.isnan(ref)):
        return float("inf")
    valid = ~np.isnan(ref)
    return float(np.max(np.abs(ours[valid] - ref[valid]) / np.abs(ref[valid])))


def summary(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{np.median(values):.3g} (range {values.min():.3g}–{values.max():.3g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rois", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop-frames", type=int, default=1000)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true", help="keep the movie file")
    args = parser.parse_args()

    from CalSciPy._rois.extract import apply_operator, build_operator
    from CalSciPy.roi_tools import extract_traces, neuropil_masks

    path = Path(args.dir) / f"bench_rois_{args.frames}x{args.size}x{args.size}.npy"
    if not path.exists():
        t = time.perf_counter()
        write_movie(path, args.frames, args.size)
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - t:.1f} s")
    out = str(Path(args.dir) / f"bench_rois_out_{os.getpid()}")
    try:
        rois = make_rois(args.size, args.rois)
        movie = np.load(path, mmap_mode="r")
        loop_frames = min(args.loop_frames, args.frames)
        print(f"{args.rois} ROIs, movie {args.frames} × {args.size} × {args.size} uint16 "
              f"({path.stat().st_size / 1e9:.2f} GB memmap), {args.rounds} interleaved rounds, "
              f"{os.cpu_count()} CPUs (shared with other jobs: timings are noisy)")

        # masks: reference (loops) vs ours, exact equality
        t = time.perf_counter()
        ref_masks = reference_masks(rois)
        ref_mask_s = time.perf_counter() - t
        ours_np = neuropil_masks(rois)
        same_masks = all(np.array_equal(m.ypix * args.size + m.xpix, ref[2])
                         for m, ref in zip(ours_np, ref_masks))

        reads, extracts, rss, disks, cpus = [], [], [], [], []
        loops, kernels, fulls = [], [], []
        op = build_operator(rois, neuropil=True, inner_radius=2, min_neuropil_pixels=350,
                            lam_percentile=50.0, allow_overlap=False)
        extract_traces(movie[:2], rois, progress=False)  # compile outside the timings
        for _ in range(args.rounds):
            disks.append(run_child("disk", path, args.size, args.rois, out)["elapsed"])
            reads.append(run_child("read", path, args.size, args.rois, out)["elapsed"])
            result = run_child("extract", path, args.size, args.rois, out)
            extracts.append(result["elapsed"])
            rss.append(result["rss_mb"])
            cpus.append(result["cpu_s"])
            # warm: the loop vs our kernel (masks prebuilt) vs our whole call, same frames
            np.array(movie[:loop_frames])
            t = time.perf_counter()
            F_loop, Fneu_loop = loop_extract(movie, ref_masks, loop_frames)
            loops.append(time.perf_counter() - t)
            t = time.perf_counter()
            traces = np.empty((op.n_rows, loop_frames), np.float32)
            for start in range(0, loop_frames, BLOCK):
                stop = min(loop_frames, start + BLOCK)
                block = np.ascontiguousarray(movie[start:stop]).reshape(stop - start, -1)
                apply_operator(op, block, traces[:, start:stop])
            kernels.append(time.perf_counter() - t)
            t = time.perf_counter()
            extract_traces(movie[:loop_frames], rois, progress=False)
            fulls.append(time.perf_counter() - t)

        F = np.load(out + "_F.npy")
        Fneu = np.load(out + "_Fneu.npy")
        rel = max(relative_difference(F[:, :loop_frames], F_loop),
                  relative_difference(Fneu[:, :loop_frames], Fneu_loop))
        ratio_read = np.array(extracts) / np.array(reads)
        print(f"read once (numpy, cold)     : {summary(reads)} s")
        print(f"read once (O_DIRECT, cold)  : {summary(disks)} s (the disk alone)")
        print(f"extract_traces (cold)       : {summary(extracts)} s  -> "
              f"{summary(ratio_read)} × the numpy read (target ≤ 1.25), "
              f"{summary(np.array(extracts) / np.array(disks))} × the disk alone")
        print(f"extract_traces CPU time     : {summary(cpus)} s (all threads; 2 cores give "
              f"2 s of CPU per second)")
        print(f"load average (1, 5, 15 min) : {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        print(f"extract_traces peak RSS     : {summary(rss)} MB (target < 1024)")
        print(f"per-ROI numpy loop, {loop_frames} frames: {summary(loops)} s; ours (traces) "
              f"{summary(kernels)} s -> {summary(np.array(loops) / np.array(kernels))}× faster; "
              f"ours incl. masks {summary(fulls)} s -> "
              f"{summary(np.array(loops) / np.array(fulls))}× (target ≥ 10)")
        print(f"neuropil masks equal the loop reference: {same_masks} "
              f"(reference masks took {ref_mask_s:.1f} s)")
        print(f"largest relative difference to the reference traces: {rel:.2e} "
              f"(target ≤ 1e-5): {'ok' if rel <= 1e-5 else 'FAIL'}")
    finally:
        for suffix in ("_F.npy", "_Fneu.npy"):
            Path(out + suffix).unlink(missing_ok=True)
        if not args.keep:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        main()
