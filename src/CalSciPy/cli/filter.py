"""``calscipy filter SRC DST --median | --gaussian SIGMA``: denoise a stack file into a new one."""
from __future__ import annotations

import argparse
import sys


def _sigma(text: str) -> float | tuple[float, ...]:
    """``"1.5"`` or per-axis ``"0.5,1,1"`` (frames, y, x)."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number or 3 numbers: {text!r}") from err
    if len(values) not in (1, 3):
        raise argparse.ArgumentTypeError(f"give one sigma or 3 (frames,y,x), got {text!r}")
    return values[0] if len(values) == 1 else values


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``filter`` subcommand."""
    parser = subparsers.add_parser(
        "filter",
        help="median or gaussian filter a stack file (TIFF, binary, Zarr) into a new file",
        description="Filter a (frames, y, x) stack over frames, y and x with reflect borders "
                    "and write the result in the format DST names (.tif, .bin, .zarr or a "
                    "folder for binary). Works block by block, so stacks larger than memory "
                    "are fine.",
    )
    parser.add_argument("src", help="input stack: .tif/.tiff, folder of TIFFs, .bin/.json, "
                                    "binary folder or .zarr")
    parser.add_argument("dst", help="output stack (format by suffix)")
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--median", action="store_true", help="3x3x3 median filter")
    kind.add_argument("--gaussian", type=_sigma, metavar="SIGMA",
                      help="gaussian filter, sigma in frames/pixels (one value or f,y,x)")
    parser.add_argument("--block-size", type=int, default=None, metavar="N",
                        help="frames filtered per step (default: about 64 MiB)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DST")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Filter ``args.src`` into ``args.dst``; returns the exit code."""
    from CalSciPy.image_processing import filter_to_file

    try:
        written = filter_to_file(
            args.src,
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
    print(f"wrote {written}")
    return 0
