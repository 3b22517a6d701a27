"""Command-line subcommands ``export`` and ``export-tables`` (``python -m analysis ...``).

::

    python -m analysis export --format csv|xlsx|parquet|dta|sav|codebook --out PATH
        --questionnaire ID [--version V] [--store DIR] [--from DATE] [--to DATE]
        [--province 11,31] [--region East,West] [--group sex=female --group age_group=18-24]
        [--exclude-flagged] [--language zh|en] [--include-text]
        [--top-code-income X] [--top-code-age X] [--actor NAME]
    python -m analysis export-tables --format csv|xlsx --out PATH --questionnaire ID ...
        [--min-cell N]

Bad input (an unknown questionnaire, a malformed date, a filter that selects nothing, a folder
that does not exist) prints one line ``error: ...`` on standard error and exits with status 2;
other failures (disk full) exit with 1. Warnings print one line each, ``warning: ...``. Every
export is written to the audit log of the data folder, with ``--actor`` (default: the
operating-system user) as who.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis.codebook import build_codebook
from analysis.errors import AnalysisError
from analysis.exports import (
    FORMATS,
    GROUP_COLUMNS,
    TABLE_FORMATS,
    ExportError,
    ExportFilter,
    ExportOptions,
    prepare_export,
    resolve_questionnaire,
    write_codebook,
)

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="file to write")
    parser.add_argument("--questionnaire", required=True, metavar="ID", help="questionnaire id")
    parser.add_argument("--version", help="questionnaire version (default: the newest with data)")
    parser.add_argument(
        "--store", metavar="DIR", help="data folder (default: the configured data_dir)"
    )
    parser.add_argument(
        "--from", dest="date_from", metavar="YYYY-MM-DD", help="first submission day (China time)"
    )
    parser.add_argument(
        "--to", dest="date_to", metavar="YYYY-MM-DD", help="last submission day (China time)"
    )
    parser.add_argument("--province", default="", help="comma-separated GB/T 2260 codes")
    parser.add_argument("--region", default="", help="comma-separated: East,Central,West,Northeast")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="COLUMN=V1,V2",
        help=f"keep these values of a grouping column ({', '.join(GROUP_COLUMNS)}); repeatable",
    )
    parser.add_argument(
        "--exclude-flagged", action="store_true", help="leave out responses with a quality flag"
    )
    parser.add_argument("--language", default="zh", choices=["zh", "en"], help="label language")
    parser.add_argument("--actor", help="who exports, for the audit log (default: OS user)")
    parser.add_argument("--chunk-rows", type=int, default=None, help=argparse.SUPPRESS)


def add_parsers(subparsers: Any) -> None:
    """Add ``export`` and ``export-tables`` to an argparse subparsers object."""
    export = subparsers.add_parser(
        "export",
        help="microdata or codebook for researchers (CSV, Excel, Parquet, Stata, SPSS)",
        description=(
            "Export one questionnaire version's responses with labels, scores, census weights "
            "and quality flags, pseudonymised; or its codebook (.html, .md, .json)."
        ),
    )
    export.add_argument(
        "--format", required=True, choices=[*FORMATS, "codebook"], help="file format"
    )
    _filters(export)
    export.add_argument(
        "--include-text",
        action="store_true",
        help="include free-text answers (review them before sharing)",
    )
    export.add_argument(
        "--top-code-income",
        type=float,
        metavar="X",
        help="top-code income at X (a value, or an option code)",
    )
    export.add_argument("--top-code-age", type=float, metavar="X", help="top-code age at X")
    export.set_defaults(handler=run_export)

    tables = subparsers.add_parser(
        "export-tables",
        help="estimate tables by province, region and group (CSV, Excel)",
        description=(
            "Weighted means of the dimension scores and the index with SE, 95% CI, n, "
            "effective n and flags, small cells suppressed."
        ),
    )
    tables.add_argument("--format", required=True, choices=list(TABLE_FORMATS))
    _filters(tables)
    tables.add_argument(
        "--min-cell",
        type=int,
        default=10,
        help="suppress cells with fewer respondents (default 10)",
    )
    tables.set_defaults(handler=run_tables)


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ExportError(f"{option} {text!r} is not a date; write it as YYYY-MM-DD.") from None


def _codes(text: str) -> list[int]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not part.isdigit():
            raise ExportError(
                f"--province {part!r} is not a province code; give GB/T 2260 codes such as 11,44."
            )
        out.append(int(part))
    return out


def _groups(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        column, sep, values = item.partition("=")
        if not sep or not column.strip() or not values.strip():
            raise ExportError(
                f"--group {item!r} must read COLUMN=VALUE[,VALUE...], e.g. --group sex=female."
            )
        out.setdefault(column.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return out


def _filter(args: argparse.Namespace) -> ExportFilter:
    return ExportFilter(
        args.questionnaire,
        version=args.version,
        date_from=_date(args.date_from, "--from"),
        date_to=_date(args.date_to, "--to"),
        provinces=tuple(_codes(args.province)),
        regions=tuple(r.strip() for r in args.region.split(",") if r.strip()),
        groups=_groups(args.group),
        exclude_flagged=args.exclude_flagged,
    )


def _store(args: argparse.Namespace) -> Any:
    from responses.config import load_config
    from responses.store import ParquetResponseStore

    if args.store is not None:
        root = Path(args.store)
        if not root.is_dir():
            raise ExportError(f"--store {root} is not a folder; give the data folder.")
        return ParquetResponseStore(root)
    return ParquetResponseStore.from_config(load_config())


def _actor(args: argparse.Namespace) -> str:
    if args.actor:
        return str(args.actor)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in this environment
        return "cli"


def _options(args: argparse.Namespace, **extra: Any) -> ExportOptions:
    kw: dict[str, Any] = {"language": args.language, **extra}
    if args.chunk_rows is not None:
        kw["chunk_rows"] = args.chunk_rows
    return ExportOptions(**kw)


def _guarded(body: Callable[[], str]) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = body()
        except (AnalysisError, ValueError) as error:
            _report(caught)
            print(f"error: {_line(str(error))}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except OSError as error:
            _report(caught)
            print(f"error: {_line(str(error))}", file=sys.stderr)
            return EXIT_FAILED
    _report(caught)
    print(text)
    return 0


def _report(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for w in caught:
        line = _line(str(w.message))
        if line not in seen:
            seen.add(line)
            print(f"warning: {line}", file=sys.stderr)


def _line(text: str) -> str:
    return " ".join(text.split())


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``export``."""

    def body() -> str:
        from questionnaires import load_registry

        store = _store(args)
        flt = _filter(args)
        registry = load_registry(store.root)
        options = _options(
            args,
            include_text=args.include_text,
            top_code_income=args.top_code_income,
            top_code_age=args.top_code_age,
        )
        actor = _actor(args)
        if args.format == "codebook":
            questionnaire = resolve_questionnaire(store, registry, flt)
            codebook = build_codebook(
                questionnaire,
                include_text=options.include_text,
                top_code_income=options.top_code_income,
                top_code_age=options.top_code_age,
            )
            result = write_codebook(codebook, args.out, language=options.language)
            store.state.append_audit(
                "export",
                actor=actor,
                target=questionnaire.id,
                details={
                    "version": questionnaire.version,
                    "format": "codebook",
                    "rows": 0,
                    "file": result.path.name,
                },
            )
            return (
                f"wrote the codebook of {result.questionnaire_id} {result.version} "
                f"({result.columns} variables) to {result.path}"
            )
        with prepare_export(store, registry, flt, options=options) as prepared:
            result = prepared.write(args.out, args.format, actor=actor)
        shortened = (
            f"; {len(result.shortened)} label(s) shortened to fit the format (listed in the "
            "codebook)"
            if result.shortened
            else ""
        )
        return (
            f"wrote {result.rows} rows x {result.columns} columns of {result.questionnaire_id} "
            f"{result.version} to {result.path} ({result.format}){shortened}"
        )

    return _guarded(body)


def run_tables(args: argparse.Namespace) -> int:
    """Handler of ``export-tables``."""

    def body() -> str:
        from questionnaires import load_registry

        store = _store(args)
        flt = _filter(args)
        registry = load_registry(store.root)
        options = _options(args, min_cell=args.min_cell)
        with prepare_export(store, registry, flt, options=options) as prepared:
            result = prepared.write_estimates(args.out, args.format, actor=_actor(args))
        return (
            f"wrote {result.rows} estimates of {result.questionnaire_id} {result.version} to "
            f"{result.path} ({result.format})"
        )

    return _guarded(body)
