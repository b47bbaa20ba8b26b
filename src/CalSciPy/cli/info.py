"""``calscipy info FOLDER``: summary of a PrairieView acquisition folder."""
from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="summarise a PrairieView folder",
        description="Print version, channels, planes, frames, frame size, frame rate, duration "
                    "and voltage signals of a PrairieView acquisition folder.",
    )
    parser.add_argument("folder", help="PrairieView acquisition folder")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the folder and print its summary; returns the exit code."""
    from CalSciPy.bruker.session import read_prairieview_session

    summary = read_prairieview_session(args.folder).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for key, value in summary.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for name, items in value.items():
                print(f"  {name}: {', '.join(items)}")
        elif isinstance(value, float):
            print(f"{key}: {value:.6g}")
        elif isinstance(value, list):
            print(f"{key}: {', '.join(str(v) for v in value)}")
        else:
            print(f"{key}: {value}")
    return 0
