"""The ``python -m analysis`` command line: one subcommand per analysis step.

Each CLI module listed in :data:`COMMAND_MODULES` exposes ``add_parsers(subparsers)``, which
adds its subcommands with a ``handler`` default taking the parsed arguments and returning the
exit status.

Conventions shared by every subcommand: bad input (a usage error, an unknown column or
questionnaire, a file that is missing or not CSV/Parquet, a value out of range) prints one
line ``error: ...`` on standard error and exits with status 2; warnings print one line each,
``warning: ...``; progress bars go to standard error, only when it is a terminal.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

COMMAND_MODULES: tuple[str, ...] = (
    "analysis.cli_survey",
    "analysis.cli_effect",
    "analysis.cli_export",
)

EXIT_BAD_INPUT = 2


def one_line(text: str) -> str:
    """``text`` with all white space (newlines included) collapsed to single spaces."""
    return " ".join(str(text).split())


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("python -m analysis").strip()
        where = f"{command}: " if command else ""
        hint = f" (see 'python -m analysis {command} --help')" if command else (
            " (see 'python -m analysis --help')"
        )
        self.exit(EXIT_BAD_INPUT, f"error: {where}{one_line(message)}{hint}\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every module's subcommands."""
    parser = ArgumentParser(
        prog="python -m analysis",
        description="Consumer financial-literacy survey analysis.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parsers(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns its exit status (2 for bad input).

    Usage errors raise ``SystemExit(2)`` after printing one line; errors found while running
    (the project's own ``ValueError`` subclasses, an unknown questionnaire, a file that cannot
    be read or written) print one line and return 2.
    """
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.handler(args))
    except KeyError as error:  # registry look-ups: the message is the key error's argument
        text = error.args[0] if error.args else str(error)
        print(f"error: {one_line(str(text))}", file=sys.stderr)
    except (ValueError, OSError) as error:
        print(f"error: {one_line(str(error)) or type(error).__name__}", file=sys.stderr)
    return EXIT_BAD_INPUT
