"""Composition root: parses the command line, builds the pieces, maps errors to exit codes.

Exit codes: 0 all settled, 1 some POs failed, 2 configuration or authorization problem.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reconciler import __version__

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="Keep QuickBooks Online purchase orders in step with Luminous.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK
