"""Fuzzing: whatever a respondent, an uploader or an operator types, the platform answers with
its own errors (``ValueError`` subclasses worded for people), never a traceback.

- the questionnaire loader, on random text and bytes (YAML bombs, deep nesting, foreign tags,
  binary, random workbooks);
- the expression evaluator: any text either parses or raises ``ExpressionError``; a parsed
  expression evaluates for any values without raising;
- answer validation, on random answer mappings of any types;
- every subcommand of every command line (``python -m responses``, ``python -m access``,
  ``python -m analysis``), found by walking their argument parsers, so a subcommand added
  later is fuzzed too: ``main(argv)`` is called in-process and must return (or exit with) a
  documented status and print at most one line of error, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import math
import os
import shutil
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from questionnaires import QuestionnaireError, load_questionnaire, parse_questionnaire
from questionnaires.errors import ExpressionError
from questionnaires.expressions import parse
from responses.errors import ResponseError
from responses.store import ParquetResponseStore
from responses.validation import check_answers, validate_answers
from tests.security.conftest import SURVEY, SURVEY_YAML, submit

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Fewer examples per command-line subcommand: there are some 30 of them, and each call
#: opens the store or reads files (about 0.1-0.5 s).
FUZZ_CLI = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY = [
    "",
    " ",
    "..",
    "../",
    "../../",
    "/",
    "\x00",
    "a\x00b",
    "\u202e",  # right-to-left override
    "\ufeff",
    "ｃｆｌ",  # full-width
    "cfl\u0301",  # combining accent
    "\ud800",  # lone surrogate
    "%2e%2e%2f",
    "..\\..\\",
    "-1",
    "--",
    "-h",
    "=1+1",
    "@SUM(A1)",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "${x}",
    "NaN",
    "inf",
    "1e309",
    "99999999999999999999999999",
    "名字",
    "\n",
    "a\nb",
]
nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=24),
    st.text(alphabet="./\\\x00-_=%$~ 0123456789aZ", max_size=16),
)


# --- the questionnaire loader --------------------------------------------------------------

YAML_PIECES = [
    "id: cfl\n",
    'version: "1"\n',
    "version: 1.0\n",
    "title: {zh: 题, en: T}\n",
    "sections:\n",
    "  - name: s\n",
    "    questions:\n",
    "      - {name: q, type: integer, label: {zh: 问}}\n",
    "      - {name: q, type: text, max_length: 999999999999}\n",
    # "billion laughs": 9 levels of 9 aliases expand to 9**9 (387 million) nodes
    "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)),
    "x: !!python/object/apply:os.system ['echo pwned']\n",
    "x: !!binary aGVsbG8=\n",
    "x: !custom 1\n",
    "[" * 200 + "]" * 200 + "\n",
    "{" * 100 + "\n",
    "- " * 80 + "x\n",
    "\t\x00\x01\n",
    "---\n---\n",
    "... \n",
    "? [a]\n: b\n",
    "<<: *nowhere\n",
    "relevant: \"${a} >= \"\n",
]


@FUZZ
@given(pieces=st.lists(st.sampled_from(YAML_PIECES) | nasty_text, max_size=12))
def test_loader_raises_only_questionnaire_error_on_any_text(pieces: list[str]) -> None:
    text = "".join(pieces)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with contextlib.suppress(QuestionnaireError):
            parse_questionnaire(text, source="fuzz.yaml")


@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".yaml", ".yml", ".xlsx", ".txt"]))
@example(data=b"Z", suffix=".xlsx")  # a manifest that is no XML at all (once a traceback)
@example(data=b"Z\x01", suffix=".xlsx")
def test_loader_raises_only_questionnaire_error_on_any_file(
    tmp_path: Path, data: bytes, suffix: str
) -> None:
    path = tmp_path / f"upload{suffix}"
    if suffix == ".xlsx" and data[:1] == b"Z":
        # a zip archive that is not a workbook, and one whose member is garbage
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("[Content_Types].xml", data)
            z.writestr("xl/workbook.xml", data[::-1])
        data = buffer.getvalue()
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with contextlib.suppress(QuestionnaireError):
            load_questionnaire(path)


def test_a_workbook_with_a_broken_sheet_is_a_questionnaire_error(tmp_path: Path) -> None:
    """A real workbook whose sheet XML is garbage: read-only openpyxl parses sheets lazily,
    so the error comes while reading rows, and is reported like any unreadable file."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label::English (en)"])
    for i in range(300):
        sheet.append(["text", f"q{i}", f"Question {i}"])
    good = tmp_path / "good.xlsx"
    book.save(good)
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = data[: len(data) // 2]  # the sheet's XML cut off half way
            dst.writestr(item, data)
    with pytest.raises(QuestionnaireError, match="sheet of the workbook cannot be read"):
        load_questionnaire(broken)


def test_yaml_alias_bomb_and_code_tags_are_refused_quickly() -> None:
    bomb = "".join(YAML_PIECES[9:10])
    with pytest.raises(QuestionnaireError, match="too large"):
        parse_questionnaire(bomb + "id: x\n", source="bomb.yaml")
    with pytest.raises(QuestionnaireError) as exc:
        parse_questionnaire("id: x\n" + YAML_PIECES[10], source="tag.yaml")
    assert "python/object" in str(exc.value) or "tag" in str(exc.value).lower()


# --- the expression evaluator ---------------------------------------------------------------

EXPRESSION_TOKENS = [
    "${age}", "${comment}", "${province}", "${x}", ".", "(", ")", ",", " and ", " or ", "not ",
    " = ", " != ", " < ", " >= ", " + ", " - ", " * ", " / ", " div ", " mod ", "-", "0", "1",
    "2.5", "99999999999999999999999", "'a'", '"b"', "'", "true", "false", "selected(",
    "count-selected(", "string-length(", "answered(", "if(", "min(", "max(", "abs(",
    "round(", "int(", "coalesce(", "'dont_know'", "__import__", "eval(", "${", "}", "$",
]  # fmt: skip

values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.binary(max_size=4),
        st.sampled_from(["dont_know", "prefer_not", "a", "b", ""]),
    ),
    lambda inner: st.one_of(
        st.frozensets(st.text(max_size=3), max_size=3),
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=3), inner, max_size=2),
    ),
    max_leaves=6,
)


@FUZZ
@given(
    tokens=st.lists(st.sampled_from(EXPRESSION_TOKENS) | nasty_text, min_size=1, max_size=14),
    answers=st.dictionaries(st.sampled_from(["age", "comment", "province", "x"]), values),
    self_value=values,
)
def test_expressions_parse_or_refuse_and_never_raise_when_evaluated(
    tokens: list[str], answers: dict[str, Any], self_value: object
) -> None:
    text = "".join(tokens)
    try:
        expression = parse(text)
    except ExpressionError:
        return
    expression.evaluate(answers, self_value=self_value)
    assert isinstance(expression.evaluate_condition(answers, self_value=self_value), bool)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    for text in ("(" * 5000 + "1" + ")" * 5000, "not " * 5000 + "true", "-" * 5000 + "1"):
        with pytest.raises(ExpressionError, match="levels"):
            parse(text)


# --- answer validation ----------------------------------------------------------------------

answer_keys = st.sampled_from(["province", "age", "savings", "comment", "phone", "nope", ""])


@FUZZ
@given(
    answers=st.one_of(
        st.dictionaries(answer_keys | st.text(max_size=6), values, max_size=8),
        values,
    ),
    language=st.sampled_from(["zh", "en", "fr", ""]),
)
def test_answer_validation_raises_only_response_error(answers: Any, language: str) -> None:
    try:
        cleaned = check_answers(SURVEY, answers, language=language)
    except ResponseError as exc:
        assert exc.details, "a refusal lists its problems"
        return
    assert set(cleaned) <= {"province", "age", "savings", "comment", "phone"}
    try:
        problems = validate_answers(SURVEY, answers, language=language)
    except ResponseError:
        return
    assert problems == []


# --- every command line ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cli:
    """A command line to fuzz: its module, how to call it and the exit statuses it documents."""

    module: str
    statuses: frozenset[int]
    data: str = "data"
    """The playground's data folder it works on (the analysis one is a copy: ``demo`` and
    ``simulate`` add thousands of responses)."""

    def main(self) -> Callable[..., int]:
        return importlib.import_module(self.module).main  # type: ignore[no-any-return]

    def parser(self) -> argparse.ArgumentParser:
        mod = importlib.import_module(self.module)
        build = getattr(mod, "build_parser", None) or mod._parser
        return build()  # type: ignore[no-any-return]


CLIS = {
    "responses": Cli("responses.cli", frozenset({0, 1, 2})),
    "access": Cli("access.cli", frozenset({0, 2})),
    "analysis": Cli("analysis.cli", frozenset({0, 2}), data="analysis-data"),
    "questionnaires": Cli("questionnaires.cli", frozenset({0, 1, 2})),
}
#: Examples for subcommands that do much work per call (``demo`` stores 4,200 responses).
EXAMPLES = {"demo": 8, "simulate": 25}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError(f"{parser.prog} has no subcommands")


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]


def cli_cases() -> Iterator[tuple[str, str]]:
    for name, cli in CLIS.items():
        for sub in _subparsers(cli.parser()):
            yield name, sub


CASES = sorted(set(cli_cases()))


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a data folder holding responses, a CSV, a Parquet file and junk; the
    command lines run with their working folder two levels below it, so that relative paths
    with ``..`` stay inside."""
    base = tmp_path_factory.mktemp("cli")
    data = base / "data"
    with ParquetResponseStore(data) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for age in (20, 30, 40):
            submit(store, answers={"province": "bj", "age": age})
    (base / "questionnaires").mkdir()
    (base / "questionnaires" / "secq.yaml").write_text(
        SURVEY_YAML.format(id="secq", invitation_only="false"), encoding="utf-8"
    )
    frame = pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "t": [0, 1, 0, 1, 0, 1],
            "w": [1.0, 2.0, 1.0, 2.0, 1.0, 2.0],
            "id": ["a", "b", "c", "a", "b", "c"],
            "province": [11, 11, 31, 31, 44, 44],
        }
    )
    frame.to_csv(base / "table.csv", index=False)
    frame.to_parquet(base / "table.parquet")
    (base / "junk.csv").write_bytes(b"\xff\xfe\x00garbage,\n\"unterminated")
    (base / "junk.parquet").write_bytes(b"PAR1 not really")
    work = base / "work" / "deeper"
    work.mkdir(parents=True)
    shutil.copytree(data, base / "analysis-data")
    return base


def _path_values(base: Path) -> st.SearchStrategy[str]:
    existing = [
        "../../data",
        str(base / "data"),
        str(base / "table.csv"),
        "../../table.parquet",
        "../../junk.csv",
        str(base / "junk.parquet"),
        "../../questionnaires/secq.yaml",
        str(base / "questionnaires"),
    ]
    fresh = st.builds(
        lambda parts: "/".join(parts) or ".",
        st.lists(st.sampled_from(["new", "..", ".", "out.csv", "名字", "x\x00y", " ", "a" * 300]),
                 max_size=3),
    )
    return st.one_of(st.sampled_from(existing), fresh)


def _value(action: argparse.Action, base: Path) -> st.SearchStrategy[str]:
    plain = st.one_of(
        nasty_text,
        _path_values(base),
        st.sampled_from(["cfl", "secq", "edu_quiz", "1", "2026.1", "y", "t", "w", "id",
                         "province", "admin", "analyst", "li.na@example.org", "wang.li"]),
        st.integers(-3, 60).map(str),
        st.sampled_from(["0", "-1", "1e400", str(2**64), "0.5", "nan"]),
    )
    if action.choices:
        return st.sampled_from([str(c) for c in action.choices]) | plain
    return plain


@st.composite
def _argv(
    draw: st.DrawFn, parser: argparse.ArgumentParser, sub: str, base: Path, data: Path
) -> list[str]:
    subparser = _subparsers(parser)[sub]
    argv = [sub]
    for action in _arguments(subparser):
        # the data folder with responses (a random one would still be inside the
        # playground, but the interesting cases need data)
        if "--data-dir" in action.option_strings:
            argv += ["--data-dir", str(data)]
            continue
        wanted = action.required or draw(st.booleans())
        if not wanted or draw(st.integers(0, 19)) == 0:  # sometimes drop even a required one
            continue
        if action.option_strings:
            argv.append(draw(st.sampled_from(action.option_strings)))
            if action.nargs == 0:
                continue
        count = 1 if action.nargs in (None, "?") else draw(st.integers(0, 3))
        argv += [draw(_value(action, base)) for _ in range(count)]
    if draw(st.integers(0, 9)) == 0:
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(["--bogus", "-x"])))
    return argv


def _run(cli: Cli, argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO("a long enough passphrase for the fuzzer 1\n")
    main = cli.main()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        try:
            kwargs = {"stdin": stdin} if cli.module == "access.cli" else {}
            code = main(argv, **kwargs)
        except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
            code = exc.code if isinstance(exc.code, int) else 2
    for w in caught:
        assert issubclass(w.category, UserWarning), (argv, w)
    return int(code), err.getvalue()


@pytest.mark.parametrize(("cli_name", "sub"), CASES, ids=[f"{c}-{s}" for c, s in CASES])
def test_every_cli_subcommand_answers_bad_arguments_with_one_line(
    cli_name: str, sub: str, playground: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = CLIS[cli_name]
    monkeypatch.chdir(playground / "work" / "deeper")
    for name in list(os.environ):
        if name.startswith("SURVEY_"):
            monkeypatch.delenv(name)
    data = playground / cli.data
    monkeypatch.setenv("SURVEY_DATA_DIR", str(data))
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_MEMORY_KIB", "1024")  # fast hashing for fuzzing
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_TIME_COST", "1")
    parser = cli.parser()
    calls: list[list[str]] = []

    @settings(FUZZ_CLI, max_examples=EXAMPLES.get(sub, FUZZ_CLI.max_examples))
    @given(argv=_argv(parser, sub, playground, data))
    def check(argv: list[str]) -> None:
        calls.append(argv)
        code, err = _run(cli, argv)
        assert code in cli.statuses, (argv, code, err)
        assert "Traceback" not in err, (argv, err)
        if code != 0:
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1, (argv, err)

    check()
    assert len(calls) >= EXAMPLES.get(sub, 8)  # the examples really ran


def test_the_fuzzer_reaches_every_subcommand() -> None:
    """The cases come from the parsers themselves: a new subcommand cannot be missed."""
    for name, cli in CLIS.items():
        found = {s for c, s in CASES if c == name}
        assert found == set(_subparsers(cli.parser())), name
    assert len(CASES) >= 20


def test_numbers_and_infinities_are_refused_by_name() -> None:
    """Out-of-range numbers name the question and the rule (and never become inf); NaN is
    documented as "not answered" and stays out of the cleaned answers."""
    answers = {"province": "bj", "age": 30, "savings": math.nan}
    assert "savings" not in check_answers(SURVEY, answers, language="en")
    for value in (math.inf, -math.inf, 10**400, "1e309", 100_000.01, -0.01):
        answers = {"province": "bj", "age": 30, "savings": value}
        with pytest.raises(ResponseError) as exc:
            check_answers(SURVEY, answers, language="en")
        assert [p.question for p in exc.value.details] == ["savings"], value
