"""``calscipy analyze FOLDER``: from a PrairieView folder to responsive neurons and a report.

The whole pipeline is :func:`CalSciPy.report.analyze_session`; this module only maps options
to its arguments and prints one line per stage on stderr (stdout stays empty, so the command
can be scripted). Outputs in ``--out``: ``report.html`` (self-contained), ``summary.json``,
``responsive.csv``, ``onsets.csv``, ``neurons.csv`` and, with ``--nwb``, ``session.nwb``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _stage_printer(total: int):
    count = [0]

    def show(stage: str, message: str) -> None:
        count[0] += 1
        print(f"calscipy analyze: [{count[0]}/{total}] {stage}: {message}", file=sys.stderr,
              flush=True)

    return show


#: stages analyze_session reports (session … outputs)
STAGE_COUNT = 10


def run(args: argparse.Namespace) -> int:
    """Entry point of ``calscipy analyze``."""
    from CalSciPy.report import analyze_session

    folder = Path(args.folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such PrairieView folder")
    out = Path(args.out) if args.out else Path(f"{folder.resolve().name}_analysis")
    nwb_options = {"indicator": args.indicator, "location": args.location,
                   "emission_wavelength": args.emission_nm}
    analyze_session(
        folder, out, suite2p=args.suite2p, rois=args.rois, stimulus=args.stimulus,
        channel=args.channel, plane=args.plane, pre_s=args.pre, post_s=args.post,
        neuropil_coefficient=args.neuropil, alpha=args.alpha,
        drop_outside=args.drop_outside, nwb=args.nwb,
        nwb_options=nwb_options, overwrite=args.overwrite, progress=not args.no_progress,
        on_stage=_stage_printer(STAGE_COUNT),
    )
    return 0


def register(subparsers) -> None:
    """Add the ``analyze`` subcommand."""
    parser = subparsers.add_parser(
        "analyze",
        help="find stimulus onsets, responsive neurons and write a report for a folder",
        description="Analyse a PrairieView folder: frame times, stimulus onsets from a voltage "
        "channel, traces (suite2p's, or extracted from the movie with a label image), neuropil "
        "correction, ΔF/F0, noise, events, trial tensor and responsive neurons (Wilcoxon "
        "signed-rank, Benjamini–Hochberg FDR). Writes report.html (self-contained), "
        "summary.json and CSV tables into --out; progress on stderr, one line per stage.",
    )
    parser.add_argument("folder", metavar="FOLDER", help="PrairieView acquisition folder")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--suite2p", metavar="DIR",
                        help="suite2p output (plane folder or suite2p/ root) of this session")
    source.add_argument("--rois", metavar="LABELS.tif",
                        help="label image (0 = background, one value per ROI; .tif or .npy) "
                        "to extract traces from the movie with")
    parser.add_argument("--stimulus", metavar="CHANNEL", action="append",
                        help="voltage channel with the stimulus; repeat for several conditions "
                        "(default: the one channel whose name contains 'stim')")
    parser.add_argument("--pre", type=float, default=1.0, metavar="S",
                        help="seconds before each onset: trial window and baseline (default 1)")
    parser.add_argument("--post", type=float, default=2.0, metavar="S",
                        help="seconds after each onset: trial window and response (default 2)")
    parser.add_argument("--drop-outside", action="store_true",
                        help="leave out stimulus onsets outside the imaging period (listed in "
                        "summary.json) instead of stopping")
    parser.add_argument("--channel", type=int, default=0, metavar="C",
                        help="imaging channel, 0-based (default 0)")
    parser.add_argument("--plane", type=int, default=0, metavar="P",
                        help="imaging plane, 0-based (default 0)")
    parser.add_argument("--neuropil", type=float, default=0.7, metavar="C",
                        help="neuropil coefficient of F − c·Fneu (default 0.7)")
    parser.add_argument("--alpha", type=float, default=0.05, metavar="Q",
                        help="false-discovery rate for 'responsive' (default 0.05)")
    parser.add_argument("--out", metavar="DIR",
                        help="output folder (default: ./<FOLDER name>_analysis)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an existing non-empty --out (replaces the analysis "
                        "files only)")
    parser.add_argument("--nwb", action="store_true",
                        help="also write session.nwb (needs --indicator, --location, "
                        "--emission-nm and the nwb extra)")
    parser.add_argument("--indicator", metavar="NAME", help="calcium indicator, for --nwb")
    parser.add_argument("--location", metavar="AREA", help="brain area imaged, for --nwb")
    parser.add_argument("--emission-nm", type=float, metavar="NM",
                        help="emission wavelength (nm), for --nwb")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide progress bars of long stages")
    parser.set_defaults(func=run)
