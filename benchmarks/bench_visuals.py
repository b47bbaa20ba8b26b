"""Benchmark: neuron browsing and per-neuron export of CalSciPy.interactive_visuals (Agg).

Reference: the straightforward way to look at neuron after neuron, i.e. building a new figure
for each neuron (``plt.subplots`` + ``plot`` + draw/savefig + ``plt.close``). Ours updates the
line data of one existing figure (slider and key handling included). Both render the same
stacked layout of 9 000-frame traces of two datasets (raw F and ΔF/F0) at the same size and dpi.

Run: ``python benchmarks/bench_visuals.py [--neurons 40] [--frames 9000]``
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from CalSciPy.interactive_visuals import plot_traces  # noqa: E402
from CalSciPy.synthetic import generate_traces  # noqa: E402

FIGSIZE, DPI = (9.0, 4.5), 80


def naive_draw(datasets, neuron: int, path: Path | None = None) -> None:
    """The same stacked layout as ours, built from scratch for one neuron."""
    fig, axes = plt.subplots(len(datasets), 1, figsize=FIGSIZE, dpi=DPI, sharex=True,
                             layout="constrained")
    x = np.arange(datasets[0].shape[1]) / 30.0
    for ax, data in zip(axes, datasets):
        ax.plot(x, data[neuron])
        ax.set_ylabel("Δf/f0")
    axes[0].set_title(f"Neuron {neuron}", loc="left")
    axes[-1].set_xlabel("Time (s)")
    if path is None:
        fig.canvas.draw()
    else:
        fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=40)
    parser.add_argument("--frames", type=int, default=9000)
    args = parser.parse_args()
    sim = generate_traces(args.neurons, args.frames, 30.0, seed=0)
    raw = sim.traces
    dfof = (raw / sim.f0[:, None] - 1).astype(np.float32)
    datasets = [raw, dfof]
    rows = []

    plot = plot_traces(datasets, 30.0, mode="stacked", figsize=FIGSIZE, dpi=DPI)
    plot.figure.canvas.draw()
    start = time.perf_counter()
    for neuron in range(args.neurons):
        plot.set_neuron(neuron)  # Agg: draw_idle renders at once, like a GUI's next frame
    ours_browse = (time.perf_counter() - start) / args.neurons
    start = time.perf_counter()
    for neuron in range(args.neurons):
        naive_draw(datasets, neuron)
    ref_browse = (time.perf_counter() - start) / args.neurons
    rows.append(("next neuron + redraw (ms/neuron)", ours_browse, ref_browse))

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        plot.save_all(Path(tmp) / "ours", progress=False)
        ours_save = (time.perf_counter() - start) / args.neurons
        (Path(tmp) / "ref").mkdir()
        start = time.perf_counter()
        for neuron in range(args.neurons):
            naive_draw(datasets, neuron, Path(tmp) / "ref" / f"neuron_{neuron:04d}.png")
        ref_save = (time.perf_counter() - start) / args.neurons
    rows.append(("save_all PNG (ms/neuron)", ours_save, ref_save))
    plot.close()

    print(f"interactive_visuals, {args.neurons} neurons x {args.frames} frames, 2 datasets, "
          f"{FIGSIZE[0]:g}x{FIGSIZE[1]:g} in @ {DPI} dpi, Agg")
    print(f"{'operation':36s} {'ours':>9s} {'new figure':>11s} {'ratio':>7s}")
    for name, ours, ref in rows:
        print(f"{name:36s} {1e3 * ours:9.1f} {1e3 * ref:11.1f} {ref / ours:6.2f}x")
    print("ratio = reference time / our time (>1: ours faster). save_all writes atomically "
          "(temp file + fsync + rename); the reference writes in place.")


if __name__ == "__main__":
    main()
