"""``calscipy convert FOLDER OUT.nwb``: a PrairieView session (and its suite2p ROIs) → NWB.

A few library calls (:func:`CalSciPy.bruker.session.read_prairieview_session`,
:func:`CalSciPy.nwb.write_nwb`); one line per stage, a progress bar for the movie, and errors
as one line by :func:`CalSciPy.cli.main`.
"""
from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a PrairieView session to NWB",
        description="Write a PrairieView acquisition folder (movies with exact frame times, "
                    "optics, voltage recordings) and optionally its suite2p ROIs and traces "
                    "to one NWB file. The XML does not record the indicator, brain location "
                    "or emission wavelength: give them.",
    )
    parser.add_argument("folder", help="PrairieView acquisition folder")
    parser.add_argument("out", help="NWB file to write (.nwb)")
    parser.add_argument("--suite2p", metavar="DIR", help="suite2p output folder (ROIs, F, "
                        "Fneu, spks, iscell)")
    parser.add_argument("--indicator", required=True, help="calcium indicator, e.g. GCaMP6s")
    parser.add_argument("--location", required=True, help="brain location, e.g. VISp")
    parser.add_argument("--emission-wavelength", type=float, action="append", required=True,
                        metavar="NM", help="emission wavelength (nm); once, or once per "
                        "channel in channel order")
    parser.add_argument("--excitation-wavelength", type=float, metavar="NM",
                        help="excitation wavelength (nm); default the XML's laserWavelength")
    parser.add_argument("--timezone", help="IANA time zone of the acquisition (default: this "
                        "computer's local zone, stated in the file)")
    parser.add_argument("--subject-id")
    parser.add_argument("--species", help="Latin binomial, e.g. 'Mus musculus'")
    parser.add_argument("--sex", choices=("M", "F", "U", "O"))
    parser.add_argument("--age", help="ISO 8601 duration, e.g. P90D")
    parser.add_argument("--experimenter", action="append", help="'Last, First' (repeatable)")
    parser.add_argument("--lab")
    parser.add_argument("--institution")
    parser.add_argument("--session-description")
    parser.add_argument("--dandi", action="store_true", help="require what DANDI requires "
                        "(subject id, species, sex, age)")
    parser.add_argument("--compression", default="gzip", choices=("gzip", "lzf", "none"))
    parser.add_argument("--compression-level", type=int, metavar="0-9",
                        help="gzip level (default 4)")
    parser.add_argument("--no-voltage", action="store_true", help="leave voltage recordings out")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert; returns the exit code."""
    from CalSciPy.bruker.session import read_prairieview_session
    from CalSciPy.nwb import write_nwb

    if os.path.exists(args.out) and not args.overwrite:
        raise FileExistsError(f"{args.out} already exists; pass --overwrite to replace it")
    session = read_prairieview_session(args.folder)
    print(f"session: {session.folder} ({session.n_channels} channel(s), {session.n_planes} "
          f"plane(s), {session.n_frames} frames, PrairieView {session.version})")
    extra = {}
    if args.suite2p:
        print(f"suite2p: {args.suite2p}")
        extra["suite2p"] = args.suite2p
    emission = args.emission_wavelength
    print(f"writing: {args.out}")
    path = write_nwb(
        args.out, session, indicator=args.indicator, location=args.location,
        emission_wavelength=emission[0] if len(emission) == 1 else emission,
        excitation_wavelength=args.excitation_wavelength, timezone=args.timezone,
        subject_id=args.subject_id, species=args.species, sex=args.sex, age=args.age,
        experimenter=args.experimenter, lab=args.lab, institution=args.institution,
        session_description=args.session_description, dandi=args.dandi,
        compression=None if args.compression == "none" else args.compression,
        compression_opts=args.compression_level, voltage=not args.no_voltage,
        overwrite=args.overwrite, progress=not args.no_progress, **extra)
    size = os.path.getsize(path)
    zone = "" if args.timezone else " (session start in this computer's local zone)"
    print(f"done: {path} ({size / 1e6:.1f} MB){zone}")
    return 0
