"""``calscipy filter SRC DST --median | --gaussian SIGMA``: denoise a stack file into a new one.

A PrairieView folder is read through the session reader, one channel and plane at a time
(``--channel``/``--plane``), never as one interleaved folder of TIFFs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _sigma(text: str) -> float | tuple[float, ...]:
    """``"1.5"`` or per-axis ``"0.5,1,1"`` (frames, y, x)."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number or 3 numbers: {text!r}") from err
    if len(values) not in (1, 3):
        raise argparse.ArgumentTypeError(f"give one sigma or 3 (frames,y,x), got {text!r}")
    return values[0] if len(values) == 1 else values


def _whole(minimum: int, unit: str):
    """An argparse type: an integer >= ``minimum`` (argparse names the option on error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from err
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum} {unit}, got {value}")
        return value

    return parse


_index = _whole(0, "(zero-indexed)")
_block_size = _whole(1, "frame")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``filter`` subcommand."""
    parser = subparsers.add_parser(
        "filter",
        help="median or gaussian filter a stack file (TIFF, binary, Zarr) into a new file",
        description="Filter a (frames, y, x) stack over frames, y and x with reflect borders "
                    "and write the result in the format DST names (.tif, .bin, .zarr or a "
                    "folder for binary). Works block by block, so stacks larger than memory "
                    "are fine. A PrairieView folder is filtered one channel and plane at a "
                    "time (--channel, --plane).",
    )
    parser.add_argument("src", help="input stack: .tif/.tiff, folder of TIFFs, .bin/.json, "
                                    "binary folder, .zarr, or a PrairieView folder")
    parser.add_argument("dst", help="output stack (format by suffix)")
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--median", action="store_true", help="3x3x3 median filter")
    kind.add_argument("--gaussian", type=_sigma, metavar="SIGMA",
                      help="gaussian filter, sigma in frames/pixels (one value or f,y,x)")
    parser.add_argument("--channel", type=_index, default=None, metavar="C",
                        help="PrairieView folders: zero-indexed channel (i-th channel "
                             "recorded; default 0)")
    parser.add_argument("--plane", type=_index, default=None, metavar="P",
                        help="PrairieView folders: zero-indexed plane (default 0)")
    parser.add_argument("--excerpt", action="store_true",
                        help="PrairieView folders without their first frames: read them as "
                             "an excerpt (frame 0 is the first file present)")
    parser.add_argument("--block-size", type=_block_size, default=None, metavar="N",
                        help="frames filtered per step (default: about 64 MiB)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DST")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def _is_prairieview(src: Path) -> bool:
    """A folder holding PrairieView images or its master XML (``<base>.xml``, root PVScan)."""
    if src.is_file():
        return src.suffix.lower() == ".xml"
    if not src.is_dir():
        return False
    from CalSciPy.bruker._naming import parse_image_names

    names = [p.name for p in src.iterdir() if p.is_file()]
    if len(parse_image_names(names)):
        return True
    return any(_is_master_xml(src / name) for name in names if name.lower().endswith(".xml"))


def _is_master_xml(path: Path) -> bool:
    # a look at the first bytes, not a parse: parsing is bruker._xml's job (defusedxml)
    try:
        with open(path, "rb") as handle:
            return b"<PVScan" in handle.read(4096)
    except OSError:
        return False


def _source(args: argparse.Namespace):
    """What to filter: the path itself, or one channel/plane of a PrairieView session."""
    from CalSciPy.errors import InvalidArgumentError

    src = Path(args.src)
    session_wanted = args.channel is not None or args.plane is not None or args.excerpt
    if not _is_prairieview(src):
        if session_wanted:
            raise InvalidArgumentError(
                f"--channel/--plane/--excerpt apply to PrairieView folders; {src} is not one")
        return args.src
    from CalSciPy.bruker.session import read_prairieview_session

    session = read_prairieview_session(src, excerpt=args.excerpt)
    channel = 0 if args.channel is None else args.channel
    plane = 0 if args.plane is None else args.plane
    if not session_wanted and (session.n_channels > 1 or session.n_planes > 1):
        raise InvalidArgumentError(
            f"{src} is a PrairieView session with {session.n_channels} channel(s) and "
            f"{session.n_planes} plane(s); choose one with --channel C --plane P "
            f"(zero-indexed)")
    return session.stack(channel, plane)


def run(args: argparse.Namespace) -> int:
    """Filter ``args.src`` into ``args.dst``; returns the exit code."""
    import warnings

    from CalSciPy.errors import CalSciPyError
    from CalSciPy.image_processing import filter_to_file

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            source = _source(args)
            written = filter_to_file(
                source,
                args.dst,
                "median" if args.median else "gaussian",
                sigma=1.0 if args.median else args.gaussian,
                block_size=args.block_size,
                overwrite=args.overwrite,
                progress=not args.no_progress,
            )
    except FileExistsError as err:
        print(f"calscipy filter: error: {err} (use --overwrite)", file=sys.stderr)
        return 1
    except CalSciPyError as err:  # bad file content or argument: one line, no traceback
        print(f"calscipy filter: error: {err}", file=sys.stderr)
        return 1
    for warning in {str(w.message) for w in caught}:
        print(f"calscipy filter: warning: {warning}", file=sys.stderr)
    print(f"wrote {written}")
    return 0
