"""The ``python -m analysis`` command line: one subcommand per analysis step.

Each CLI module listed in :data:`COMMAND_MODULES` exposes ``add_parsers(subparsers)``, which
adds its subcommands with a ``handler`` default taking the parsed arguments and returning the
exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = ("analysis.cli_effect", "analysis.cli_export")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every module's subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Consumer financial-literacy survey analysis.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parsers(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns its exit status (2 for bad input)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return int(args.handler(args))
