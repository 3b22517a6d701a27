"""Command line for questionnaire authors: ``python -m questionnaires COMMAND ...``.

``check FILE ...`` loads each questionnaire file (YAML or XLSForm ``.xlsx``) with the same
rules as the app's upload page and lists every problem; ``convert SRC DEST`` writes a
questionnaire in the other format (YAML to XLSForm for editing in Excel, XLSForm back to YAML
for review and version control), refusing to overwrite a file unless asked.

Exit status: 0 every file is valid (or written), 1 a questionnaire has problems or a file
cannot be written (the problems on standard output, one line on standard error), 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from questionnaires.errors import QuestionnaireError, QuestionnaireWarning
from questionnaires.loader import load_questionnaire
from questionnaires.model import Questionnaire

__all__ = ["main"]

PROG = "python -m questionnaires"
_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".xlsx": "xlsform"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Failed(Exception):
    """A command failed: the one-line message for standard error."""


def _one_line(text: str) -> str:
    """The message on one line, control characters (from a typed path) shown escaped."""
    text = text.replace("\n", " ")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Check questionnaire files and convert them between YAML and XLSForm "
        "(see questionnaires/FORMAT.md).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p = sub.add_parser("check", help="load questionnaire files and list every problem")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".yaml, .yml or .xlsx")
    p = sub.add_parser("convert", help="write a questionnaire as YAML or XLSForm")
    p.add_argument("src", type=Path, help="the questionnaire (.yaml, .yml or .xlsx)")
    p.add_argument("dest", type=Path, help="the file to write; its ending chooses the format")
    p.add_argument("--force", action="store_true", help="overwrite DEST if it exists")
    return parser


def _path(path: Path, what: str) -> Path:
    """``path``, unless the operating system could not take it (a NUL character)."""
    if "\x00" in str(path):
        raise _Failed(f"{what} {str(path)!r} holds a NUL character; give a real file name")
    return path


def _load(path: Path) -> tuple[Questionnaire, list[str]]:
    """The questionnaire and the text of the warnings raised while loading it."""
    _path(path, "FILE")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QuestionnaireWarning)
        questionnaire = load_questionnaire(path)
    return questionnaire, [str(w.message) for w in caught]


def _summary(q: Questionnaire) -> str:
    questions = sum(len(s.questions) for s in q.sections)
    return (
        f"{q.id} {q.version}: {len(q.sections)} sections, {questions} questions, "
        f"{len(q.dimensions)} dimensions, languages {', '.join(q.languages)}, "
        f"{len(q.columns())} data columns"
    )


def _check(args: argparse.Namespace) -> int:
    failed = []
    for path in args.files:
        try:
            questionnaire, notes = _load(path)
        except QuestionnaireError as exc:
            print(str(exc))
            failed.append(path.name)
            continue
        print(f"{path.name}: ok, {_summary(questionnaire)}")
        for note in notes:
            print(f"{path.name}: warning: {note}")
    if failed:
        raise _Failed(
            f"{len(failed)} of {len(args.files)} file(s) have problems ({', '.join(failed)}); "
            "fix the lines listed above and check again"
        )
    return 0


def _convert(args: argparse.Namespace) -> int:
    _path(args.dest, "DEST")
    target = _FORMATS.get(args.dest.suffix.lower())
    if target is None:
        raise _Failed(
            f"DEST {str(args.dest)!r} must end in .yaml, .yml or .xlsx (the ending chooses "
            "the format)"
        )
    if args.dest.exists() and not args.force:
        raise _Failed(f"{str(args.dest)!r} exists; choose another name or add --force")
    try:
        questionnaire, notes = _load(args.src)
    except QuestionnaireError as exc:
        print(str(exc))
        raise _Failed(f"{args.src.name} has problems (listed above); nothing was written") from None
    for note in notes:
        print(f"{args.src.name}: warning: {note}")
    if target == "xlsform":
        from questionnaires.xlsform import write_xlsform as write
    else:
        from questionnaires.yaml_writer import write_yaml as write
    temporary = args.dest.with_name(f".{args.dest.name}.{os.getpid()}.tmp")
    try:
        write(questionnaire, temporary)
        os.replace(temporary, args.dest)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise _Failed(f"cannot write {str(args.dest)!r}: {exc.strerror or exc}") from None
    print(f"wrote {questionnaire.id} {questionnaire.version} to {args.dest} ({target})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("choose a command: check, convert")
    try:
        return _check(args) if args.command == "check" else _convert(args)
    except _Failed as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
