"""The ``calscipy`` command line (also ``python -m CalSciPy``).

Each subcommand lives in its own module of this package, exposing ``register(subparsers)``,
which adds its parser and sets ``func`` (called with the parsed arguments, returns an exit code).
Subcommands are thin: a few library calls, no logic of their own.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from CalSciPy import __version__

#: subcommand modules, in the order ``calscipy --help`` lists them
_COMMANDS = ("demo", "analyze", "info", "filter", "convert")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``calscipy`` command."""
    parser = argparse.ArgumentParser(
        prog="calscipy",
        description="CalSciPy: two-photon calcium-imaging toolbox.",
    )
    parser.add_argument("--version", action="version", version=f"calscipy {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``calscipy`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)  # a usage error: help goes to stderr, exit code 2
        return 2
    try:
        return int(args.func(args) or 0)
    except (OSError, ValueError, TypeError, ImportError, ArithmeticError, MemoryError) as err:
        # bad input, unreadable/unwritable paths (FileExistsError, PermissionError...),
        # missing extras: one line on stderr, no traceback (--verbose logs it)
        logging.getLogger(__name__).info("calscipy %s failed", args.command, exc_info=True)
        print(f"calscipy {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"calscipy {args.command}: interrupted", file=sys.stderr)
        return 130
