"""Tests of analysis.exports: microdata in five formats read back, filters, weights, flags,
disclosure control, estimate tables, the audit log and the command line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import export_formats
from analysis.cli import main as cli_main
from analysis.codebook import FLAG_VARIABLES, SPECIAL_MISSING, Variable, shorten_labels
from analysis.design import Design
from analysis.estimation import estimate_mean
from analysis.export_formats import neutralise, neutralise_array
from analysis.exports import (
    FORMATS,
    KEY_FILE,
    ExportError,
    ExportFilter,
    ExportOptions,
    ExportWarning,
    PreparedExport,
    export_estimates,
    export_microdata,
    prepare_export,
    pseudonym_key,
    pseudonymise,
)
from analysis.quality import quality_flags
from analysis.scoring import score_responses
from analysis.targets import census_targets
from questionnaires import Questionnaire
from responses.store import ParquetResponseStore
from tests.analysis.export_support import (
    TEXT_SAMPLES,
    edge,
    fill_store,
    lenient_store,
    shipped,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET_COLUMNS = (
    "response_id",
    "token_hash",
    "submitted_at",
    "started_at",
    "page_seconds",
    "option_order",
    "consent_version",
    "phone",
)
TRIGGERS = "=+-@\uff1d\uff0b\uff0d\uff20"


@dataclass
class Data:
    root: Path
    store: ParquetResponseStore
    questionnaire: Questionnaire
    records: list
    tokens: tuple[str, ...]


@pytest.fixture(scope="module")
def cfl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    """240 cfl responses in four provinces: one invitation used twice, a copied answer sheet,
    a speeder; 200 compacted, 40 still one file each."""
    root = tmp_path_factory.mktemp("cfl") / "data"
    root.mkdir()
    store = lenient_store(root)
    q = shipped("cfl")
    tokens = ("tok-shared-1", "tok-single-2")
    records = fill_store(
        store,
        q,
        200,
        seed=7,
        tokens={3: tokens[0], 10: tokens[0], 12: tokens[1]},
        copies={20: 5},
        durations={30: 30.0},
    )
    store.compact("cfl", actor="test")
    records += fill_store(store, q, 40, seed=8, provinces=(44, 51, 11, 31))
    yield Data(root, store, q, records, tokens)
    store.close()


@pytest.fixture(scope="module")
def prepared(cfl: Data) -> Iterator[PreparedExport]:
    with prepare_export(cfl.store, cfl.questionnaire, ExportFilter("cfl")) as p:
        yield p


@pytest.fixture(scope="module")
def edge_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    """120 responses to the edge-case questionnaire, with free text and a leaked contact."""
    root = tmp_path_factory.mktemp("edge") / "data"
    root.mkdir()
    store = lenient_store(root)
    q = edge()
    records = fill_store(store, q, 120, seed=3, special_rate=0.15)
    yield Data(root, store, q, records, ())
    store.close()


def by_pid(frame: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Stored rows indexed by their pseudonymous id."""
    out = frame.copy()
    out.index = pd.Index(pseudonymise(frame["response_id"].tolist(), key, purpose="response"))
    return out


def exported_values(frame: pd.DataFrame, v: Variable) -> np.ndarray:
    return frame[v.name].to_numpy(dtype=np.float64, na_value=np.nan)


# ============================================================================ content
def test_rows_hold_the_stored_answers_scores_and_flags(cfl: Data, prepared: PreparedExport):
    key = pseudonym_key(cfl.root)
    stored = cfl.store.read("cfl")
    ref = by_pid(stored, key)
    scored = score_responses(stored, cfl.questionnaire).frame
    scored.index = ref.index
    flags = quality_flags(stored, cfl.questionnaire)
    flags.index = ref.index
    out = prepared.to_frame().set_index("pid")
    assert len(out) == len(stored) == 240
    assert set(out.index) == set(ref.index)
    ref, scored, flags = ref.loc[out.index], scored.loc[out.index], flags.loc[out.index]
    checked = 0
    for v in prepared.variables:
        if v.group == "answer":
            np.testing.assert_array_equal(
                out[v.name].to_numpy(dtype=float, na_value=np.nan),
                ref[v.source].to_numpy(dtype=float, na_value=np.nan),
                err_msg=v.name,
            )
            checked += 1
        elif v.group in ("item_score", "dimension", "index", "derived", "item_count", "exposure"):
            np.testing.assert_allclose(
                out[v.name].to_numpy(dtype=float, na_value=np.nan),
                scored[v.source].to_numpy(dtype=float, na_value=np.nan),
                rtol=1e-12,
                err_msg=v.name,
            )
            checked += 1
        elif v.group == "flag":
            flag = FLAG_VARIABLES[v.source][0]
            np.testing.assert_array_equal(
                out[v.name].to_numpy(dtype=int), flags[flag].to_numpy(dtype=int), err_msg=v.name
            )
            checked += 1
    assert checked > 100
    # the planted problems are found
    assert out["flag_duplicate_token"].sum() == 1
    assert out["flag_duplicate_answers"].sum() >= 1
    assert out["flag_speeder"].sum() >= 1
    np.testing.assert_array_equal(
        out["province"].to_numpy(dtype=int), ref["province"].to_numpy(dtype=int)
    )
    assert (
        out["duration_seconds"].to_numpy() == np.round(ref["duration_seconds"].to_numpy())
    ).all()
    assert (out["device_class"] == ref["device_class"]).all()
    assert set(out["province_name_zh"]) == {"北京市", "上海市", "广东省", "四川省"}


def test_no_secret_column_is_prepared(prepared: PreparedExport):
    names = {v.name for v in prepared.variables}
    assert not names & set(SECRET_COLUMNS)
    assert not any(v.source in SECRET_COLUMNS for v in prepared.variables)


def test_weights_meet_the_census_margins_of_the_provinces_covered(
    cfl: Data, prepared: PreparedExport
):
    out = prepared.to_frame()
    assert prepared.weighting.method == "rake"
    assert prepared.weighting.margins == (
        "province",
        "province*sex",
        "province*age_band",
        "province*urban",
    )
    targets = census_targets(margins=("province", "province*sex", "province*urban"))
    weighted = out[out["weight"].notna()]
    by_province = weighted.groupby("province")["weight"].sum()
    for code, total in by_province.items():
        assert total == pytest.approx(targets.margins["province"][int(code)], rel=1e-6)
    sexes = {1: "male", 2: "female"}
    for (code, sex), total in weighted.groupby(["province", "sex"])["weight"].sum().items():
        expected = targets.margins["province*sex"][(int(code), sexes[int(sex)])]
        assert total == pytest.approx(expected, rel=1e-6)
    # base weight N/n
    n = len(weighted)
    assert weighted["base_weight"].to_numpy() == pytest.approx(np.full(n, by_province.sum() / n))


def test_chunk_size_does_not_change_the_rows(cfl: Data, prepared: PreparedExport):
    with prepare_export(
        cfl.store, cfl.questionnaire, ExportFilter("cfl"), options=ExportOptions(chunk_rows=100)
    ) as small:
        a = small.to_frame()
    b = prepared.to_frame()
    pd.testing.assert_frame_equal(a, b)


# ============================================================================ formats
def written(prepared: PreparedExport, tmp_path: Path, fmt: str, **kw) -> Path:
    path = tmp_path / f"export.{fmt}"
    result = prepared.write(path, fmt, actor="li.na", **kw)
    assert result.rows == prepared.n_selected
    assert result.columns == len(prepared.variables)
    assert path.stat().st_size == result.bytes
    return path


def test_parquet_reads_back_equal_with_labels_in_the_schema(prepared: PreparedExport, tmp_path):
    path = written(prepared, tmp_path, "parquet")
    table = pq.read_table(path)
    expected = prepared.to_frame()
    got = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    field = table.schema.field("k_inflation")
    assert field.metadata[b"label"].decode() == prepared.questionnaire.question(
        "k_inflation"
    ).label.get("zh")
    value_labels = json.loads(field.metadata[b"value_labels"])
    assert value_labels["-1"] == "不知道"
    assert json.loads(field.metadata[b"missing_codes"]) == [-1]
    codebook = json.loads(table.schema.metadata[b"codebook"])
    assert codebook["questionnaire_id"] == "cfl"
    assert [v["name"] for v in codebook["variables"]] == list(expected.columns)


def test_csv_has_a_bom_and_reads_back_equal(prepared: PreparedExport, tmp_path):
    path = written(prepared, tmp_path, "csv")
    raw = path.read_bytes()
    assert raw.startswith(b'\xef\xbb\xbf"pid"')
    text = {v.name: str for v in prepared.variables if v.storage == "text"}
    got = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""], dtype=text)
    expected = prepared.to_frame()
    assert list(got.columns) == list(expected.columns)
    for v in prepared.variables:
        if v.storage == "text":
            assert got[v.name].fillna("").tolist() == [
                neutralise(x) if isinstance(x, str) else "" for x in expected[v.name].tolist()
            ], v.name
        else:
            np.testing.assert_allclose(
                got[v.name].to_numpy(dtype=float),
                expected[v.name].to_numpy(dtype=float, na_value=np.nan),
                rtol=1e-15,
                err_msg=v.name,
            )
    # negative codes stay numbers
    assert (
        pd.api.types.is_integer_dtype(got["k_inflation"].dropna())
        or (got["k_inflation"].dropna() == got["k_inflation"].dropna().round()).all()
    )
    assert (got["k_inflation"] == -1).any()


def test_xlsx_has_data_variables_and_values_sheets(prepared: PreparedExport, tmp_path):
    path = written(prepared, tmp_path, "xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["data", "variables", "values"]
    rows = list(book["data"].iter_rows(values_only=True))
    expected = prepared.to_frame()
    assert list(rows[0]) == list(expected.columns)
    assert len(rows) == len(expected) + 1
    for j, v in enumerate(prepared.variables):
        column = [r[j] for r in rows[1:]]
        if v.storage == "text":
            assert column == [None if pd.isna(x) else neutralise(x) for x in expected[v.name]]
        else:
            np.testing.assert_allclose(
                np.array([np.nan if x is None else x for x in column], dtype=float),
                expected[v.name].to_numpy(dtype=float, na_value=np.nan),
                rtol=1e-15,
                err_msg=v.name,
            )
    labels = {r[0]: r[1] for r in book["variables"].iter_rows(min_row=2, values_only=True)}
    assert labels["k_inflation"] == prepared.questionnaire.question("k_inflation").label.get("zh")
    values = [r for r in book["values"].iter_rows(min_row=2, values_only=True)]
    assert ("k_inflation", -1, "不知道") in values
    book.close()


def stata_expected(v: Variable, values: pd.Series) -> list:
    out = []
    for x in values.tolist():
        if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
            out.append(None if v.storage != "text" else "")
        elif v.storage == "text":
            out.append(x)
        elif int(x) == x and int(x) in v.missing_codes:
            out.append(SPECIAL_MISSING[int(x)])
        else:
            out.append(float(x))
    return out


def test_stata_file_reads_back_with_extended_missing_and_chinese_labels(
    prepared: PreparedExport, tmp_path
):
    path = written(prepared, tmp_path, "dta")
    assert path.read_bytes()[:40] == b"<stata_dta><header><release>118</release"
    data, meta = pyreadstat.read_dta(str(path), user_missing=True, output_format="dict")
    expected = prepared.to_frame()
    assert list(data) == list(expected.columns)
    for v in prepared.variables:
        got = [
            None
            if (isinstance(x, float) and np.isnan(x))
            else (float(x) if isinstance(x, int | float) else x)
            for x in data[v.name]
        ]
        assert got == stata_expected(v, expected[v.name]), v.name
    labels, _, _ = shorten_labels(prepared.variables, "dta", "zh")
    assert dict(zip(meta.column_names, meta.column_labels, strict=True)) == labels
    assert meta.variable_value_labels["k_inflation"]["a"] == "不知道"
    assert meta.variable_value_labels["province"][44] == "广东省"
    assert meta.missing_user_values["k_inflation"] == ["a"]
    # a second reader: pandas sees .a as a Stata missing value
    frame = pd.read_stata(path, convert_missing=True, convert_categoricals=False)
    first = expected["k_inflation"].tolist().index(-1)
    assert str(frame["k_inflation"].iloc[first]) == ".a"


def test_spss_file_reads_back_with_user_missing_values(prepared: PreparedExport, tmp_path):
    path = written(prepared, tmp_path, "sav")
    data, meta = pyreadstat.read_sav(str(path), user_missing=True)
    expected = prepared.to_frame()
    assert list(data.columns) == list(expected.columns)
    for v in prepared.variables:
        if v.storage == "text":
            assert data[v.name].tolist() == expected[v.name].fillna("").tolist(), v.name
        else:
            np.testing.assert_allclose(
                data[v.name].to_numpy(dtype=float),
                expected[v.name].to_numpy(dtype=float, na_value=np.nan),
                rtol=1e-15,
                err_msg=v.name,
            )
    labels, _, _ = shorten_labels(prepared.variables, "sav", "zh")
    assert dict(zip(meta.column_names, meta.column_labels, strict=True)) == labels
    assert meta.variable_value_labels["k_inflation"][-1.0] == "不知道"
    assert meta.missing_ranges["k_inflation"] == [{"lo": -1.0, "hi": -1.0}]
    assert meta.missing_ranges["household_income"] == [{"lo": -2.0, "hi": -2.0}]
    assert meta.file_encoding == "UTF-8"
    # read without user-missing: the special answers become missing
    plain, _ = pyreadstat.read_sav(str(path))
    assert plain.loc[expected["k_inflation"] == -1, "k_inflation"].isna().all()


def test_english_labels(prepared: PreparedExport, cfl: Data, tmp_path):
    with prepare_export(
        cfl.store,
        cfl.questionnaire,
        ExportFilter("cfl", provinces=(11,)),
        options=ExportOptions(language="en"),
    ) as p:
        path = tmp_path / "en.sav"
        p.write(path, "sav", actor="li.na")
    _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["province"] == "Province (GB/T 2260 code)"
    assert meta.variable_value_labels["province"][11.0] == "Beijing"


# ============================================================================ labels too long
def test_labels_too_long_are_shortened_visibly_and_listed(edge_data: Data, tmp_path):
    with pytest.warns(ExportWarning, match="free-text"):
        p = prepare_export(
            edge_data.store,
            edge_data.questionnaire,
            ExportFilter("edge"),
            options=ExportOptions(include_text=True),
        )
    with p:
        dta = p.write(tmp_path / "e.dta", "dta", actor="li.na")
        sav = p.write(tmp_path / "e.sav", "sav", actor="li.na")
        codebook = p.codebook()
    _, meta = pyreadstat.read_dta(str(tmp_path / "e.dta"), metadataonly=True)
    label = dict(zip(meta.column_names, meta.column_labels, strict=True))["in_"]
    assert len(label) == 80 and label.endswith("…") and label[:79] == "金" * 79
    assert meta.variable_value_labels["in_"][1] == "值" * 60  # fits in 32,000 bytes
    _, meta = pyreadstat.read_sav(str(tmp_path / "e.sav"), metadataonly=True)
    label = dict(zip(meta.column_names, meta.column_labels, strict=True))["in_"]
    assert len(label.encode()) <= 256 and label.endswith("…") and label.startswith("金" * 84)
    value = meta.variable_value_labels["in_"][1.0]
    assert len(value.encode()) <= 120 and value == "值" * 39 + "…"
    listed = {(s.format, s.variable, s.kind, s.code) for s in dta.shortened + sav.shortened}
    assert listed == {
        ("dta", "in_", "variable", None),
        ("sav", "in_", "variable", None),
        ("sav", "in_", "value", 1),
        ("dta", "score__in", "variable", None),  # "Item score (0-1): <the long text>"
        ("sav", "score__in", "variable", None),
    }
    in_codebook = {(s.format, s.variable, s.kind, s.code, s.language) for s in codebook.shortened}
    assert ("dta", "in_", "variable", None, "en") in in_codebook  # 300 Latin letters
    assert ("sav", "in_", "value", 1, "zh") in in_codebook
    assert "值" * 60 in codebook.to_markdown("zh")


def test_names_are_valid_for_stata_and_spss(edge_data: Data):
    with pytest.warns(ExportWarning):
        p = prepare_export(
            edge_data.store,
            edge_data.questionnaire,
            ExportFilter("edge"),
            options=ExportOptions(include_text=True),
        )
    with p:
        names = [v.name for v in p.variables]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 32 for n in names)
    assert "in_" in names and "in" not in names
    long = [v for v in p.variables if v.source.startswith("products_with_a_long_name__")]
    assert len(long) == 2 and all(len(v.name) == 28 for v in long)


# ============================================================================ disclosure
def cells_of(path: Path, fmt: str) -> str:
    """Everything a reader of the file sees, as one text: cells and metadata."""
    if fmt == "csv":
        return path.read_text(encoding="utf-8-sig")
    if fmt == "xlsx":
        with zipfile.ZipFile(path) as z:
            return "\n".join(z.read(n).decode("utf-8") for n in z.namelist())
    if fmt == "parquet":
        table = pq.read_table(path)
        meta = json.dumps({k.decode(): v.decode() for k, v in table.schema.metadata.items()})
        return meta + table.to_pandas().to_csv()
    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    data, meta = reader(str(path))
    return (
        data.to_csv()
        + json.dumps(meta.column_labels, ensure_ascii=False)
        + json.dumps(meta.variable_value_labels, ensure_ascii=False, default=str)
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_secret_reaches_any_export(edge_data: Data, tmp_path, fmt: str):
    store, q = edge_data.store, edge_data.questionnaire
    from responses.record import ResponseRecord, hash_token, new_response_id

    leaked = ResponseRecord(
        "edge",
        "1.0",
        {**edge_data.records[0].answers, "phone": "13812345678"},
        response_id=new_response_id(),
        started_at=dt.datetime(2026, 4, 1, 1, 2, 3, tzinfo=dt.UTC),
        submitted_at=dt.datetime(2026, 4, 1, 1, 22, 3, tzinfo=dt.UTC),
        province=11,
        token_hash=hash_token("secret-invitation-token"),
        page_seconds={"p1": 77.25},
        option_order={"in": ["b", "a"]},
        consent_version="2026-1",
        device_class="phone",
    )
    if not any(r.response_id == leaked.response_id for r in edge_data.records):
        store.submit(leaked)
        edge_data.records.append(leaked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        result = export_microdata(
            store,
            q,
            tmp_path / f"x.{fmt}",
            fmt=fmt,
            flt=ExportFilter("edge"),
            actor="li.na",
            options=ExportOptions(include_text=True),
        )
    text = cells_of(result.path, fmt)
    key = pseudonym_key(edge_data.root).hex()
    assert "13812345678" not in text
    assert key not in text
    assert (
        "secret-invitation-token" not in text and hash_token("secret-invitation-token") not in text
    )
    for record in edge_data.records:
        assert record.response_id not in text
        assert record.started_at is not None and record.started_at.isoformat()[:19] not in text
        assert record.submitted_at.isoformat()[:19] not in text
    assert "77.25" not in text and '"p1"' not in text


def test_free_text_only_when_asked(edge_data: Data, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = prepare_export(edge_data.store, edge_data.questionnaire, ExportFilter("edge"))
    assert not any("free-text" in str(w.message) for w in caught)
    with p:
        assert "comment" not in {v.name for v in p.variables}
    with pytest.warns(ExportWarning, match="free-text answers are included"):
        p = prepare_export(
            edge_data.store,
            edge_data.questionnaire,
            ExportFilter("edge"),
            options=ExportOptions(include_text=True),
        )
    with p:
        frame = p.to_frame()
        assert set(frame["comment"].dropna()) <= set(TEXT_SAMPLES)
        path = p.write(tmp_path / "t.csv", "csv", actor="li.na").path
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    j = rows[0].index("comment")
    cells = {r[j] for r in rows[1:]}
    assert '\'=HYPERLINK("http://x")' in cells and "'-2+3" in cells and "'  +1" in cells
    assert "还可以" in cells


def test_participant_codes_become_keyed_pseudonyms(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    store = ParquetResponseStore(root)
    q = shipped("edu_quiz")
    records = fill_store(store, q, 60, seed=2, provinces=(None,))
    with pytest.warns(ExportWarning, match="weights"):
        p = prepare_export(store, q, ExportFilter("edu_quiz"))
    with p:
        frame = p.to_frame()
        path = p.write(tmp_path / "q.csv", "csv", actor="li.na").path
    assert "participant_code" not in frame.columns
    codes = {r.response_id: r.answers["participant_code"] for r in records}
    key = pseudonym_key(root)
    pid = dict(zip(pseudonymise(list(codes), key, purpose="response"), codes.values(), strict=True))
    pseudonym = dict(zip(frame["pid"], frame["participant_code_pseudonym"], strict=True))
    by_code: dict[str, set[str]] = {}
    for p_id, code in pid.items():
        by_code.setdefault(code.strip().upper(), set()).add(pseudonym[p_id])
    assert all(len(s) == 1 for s in by_code.values())  # one pseudonym per code
    assert len({next(iter(s)) for s in by_code.values()}) == len(by_code)
    text = path.read_text(encoding="utf-8-sig")
    assert not any(code in text for code in codes.values())
    assert frame["weight"].isna().all()
    store.close()


def test_pseudonym_key_is_private_stable_and_replaceable(cfl: Data, tmp_path):
    path = cfl.root / KEY_FILE
    key = pseudonym_key(cfl.root)
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pseudonym_key(cfl.root) == key
    other = tmp_path / "other"
    other.mkdir()
    assert pseudonym_key(other) != key
    a = pseudonymise(["abc", None], key, purpose="response")
    assert a[1] is None and len(a[0]) == 24
    assert a == pseudonymise(["abc", None], key, purpose="response")
    assert a[0] != pseudonymise(["abc"], key, purpose="participant")[0]
    (other / KEY_FILE).write_text("not hex\n")
    with pytest.raises(ExportError, match="damaged"):
        pseudonym_key(other)


def test_ids_are_stable_across_exports_with_one_key(cfl: Data, prepared: PreparedExport):
    with prepare_export(cfl.store, cfl.questionnaire, ExportFilter("cfl", provinces=(31,))) as p:
        again = p.to_frame()
    first = prepared.to_frame().set_index("pid")
    assert set(again["pid"]) <= set(first.index)
    assert (
        first.loc[again["pid"], "k_inflation"].to_numpy(dtype=float, na_value=-9)
        == again["k_inflation"].to_numpy(dtype=float, na_value=-9)
    ).all()


def test_top_coding(cfl: Data, prepared: PreparedExport):
    with prepare_export(
        cfl.store,
        cfl.questionnaire,
        ExportFilter("cfl"),
        options=ExportOptions(top_code_income=3, top_code_age=70),
    ) as p:
        topped = p.to_frame().set_index("pid")
        variables = {v.name: v for v in p.variables}
    plain = prepared.to_frame().set_index("pid").loc[topped.index]
    income = topped["household_income"].dropna()
    assert income.max() == 3 and (income[plain["household_income"].dropna() == -2] == -2).all()
    assert (plain["household_income"] > 3).any()
    assert topped["age"].max() == 70 and (plain["age"] > 70).any()
    assert (topped["age"] == plain["age"].clip(upper=70)).all()
    np.testing.assert_array_equal(topped["weight"].to_numpy(), plain["weight"].to_numpy())
    assert dict(variables["household_income"].value_labels)[3].get("zh").endswith("及以上")
    assert 4 not in dict(variables["household_income"].value_labels)
    with pytest.raises(ExportError, match="option codes"):
        prepare_export(
            cfl.store,
            cfl.questionnaire,
            ExportFilter("cfl"),
            options=ExportOptions(top_code_income=2.5),
        )


def test_top_coding_needs_the_question(tmp_path):
    store = ParquetResponseStore(tmp_path)
    with pytest.raises(ExportError, match="has no income question"):
        prepare_export(
            store,
            shipped("edu_quiz"),
            ExportFilter("edu_quiz"),
            options=ExportOptions(top_code_income=5),
        )


# ============================================================================ filters
def test_filters_select_rows(cfl: Data, prepared: PreparedExport):
    everything = prepared.to_frame()
    cases = [
        (ExportFilter("cfl", provinces=(11, 44)), everything["province"].isin([11, 44])),
        (ExportFilter("cfl", regions=("West",)), everything["province"] == 51),
        (ExportFilter("cfl", groups={"sex": ["female"]}), everything["sex"] == 2),
        (ExportFilter("cfl", exclude_flagged=True), everything["flag_any"] == 0),
        (
            ExportFilter("cfl", groups={"age_group": ["65+"], "urban": ["rural"]}),
            (everything["age"] >= 65) & (everything["urban"] == 2),
        ),
    ]
    for flt, expected in cases:
        with prepare_export(cfl.store, cfl.questionnaire, flt) as p:
            frame = p.to_frame()
            assert p.n_total == 240
        assert sorted(frame["pid"]) == sorted(everything.loc[expected.fillna(False), "pid"]), flt
        # weights are those of the whole sample
        np.testing.assert_array_equal(
            frame.set_index("pid")["weight"].to_numpy(),
            everything.set_index("pid").loc[frame["pid"], "weight"].to_numpy(),
        )


def test_date_filter_uses_china_calendar_days(cfl: Data):
    key = pseudonym_key(cfl.root)
    stored = by_pid(cfl.store.read("cfl"), key)
    local = stored["submitted_at"].dt.tz_convert("Asia/Shanghai").dt.date
    day = sorted(set(local))[3]
    with prepare_export(
        cfl.store, cfl.questionnaire, ExportFilter("cfl", date_from=day, date_to=day)
    ) as p:
        frame = p.to_frame()
    assert sorted(frame["pid"]) == sorted(stored.index[local == day])
    utc_day = stored["submitted_at"].dt.date
    assert (local != utc_day).any()  # the test data cross midnight in China


@pytest.mark.parametrize(
    ("qid", "kwargs", "message"),
    [
        ("cfl", {"groups": {"sex": ["woman"]}}, "unknown value.*'woman'.*male, female"),
        ("cfl", {"provinces": (99,)}, "unknown province code.*99"),
        ("cfl", {"groups": {"phase": ["pre"]}}, "has no phase question"),
        ("cfl", {"version": "9.9"}, "has no version '9.9'"),
        ("cfll", {}, "unknown questionnaire 'cfll' \\(did you mean 'cfl'\\?\\)"),
    ],
)
def test_bad_filters_are_refused_with_the_fix(cfl: Data, qid, kwargs, message):
    from questionnaires import load_registry

    with pytest.raises(ExportError, match=message):
        prepare_export(cfl.store, load_registry(cfl.root), ExportFilter(qid, **kwargs))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"regions": ["North"]}, "unknown region.*'North'.*East, Central, West, Northeast"),
        ({"date_from": dt.date(2026, 5, 2), "date_to": dt.date(2026, 5, 1)}, "swap them"),
        ({"provinces": ["11"]}, "GB/T 2260 codes"),
        ({"groups": {"sex": []}}, "lists no values"),
        ({"groups": {"sexx": ["female"]}}, "did you mean 'sex'"),
        ({"date_from": "2026-05-01"}, "must be a date"),
    ],
)
def test_bad_filter_values(kwargs, message):
    with pytest.raises(ExportError, match=message):
        ExportFilter("cfl", **kwargs)


def test_a_filter_that_selects_nothing_is_an_error(cfl: Data):
    flt = ExportFilter("cfl", date_from=dt.date(2030, 1, 1))
    with pytest.raises(ExportError, match=r"no response to cfl 2026\.1 matches the filter"):
        prepare_export(cfl.store, cfl.questionnaire, flt)


def test_no_temporary_files_are_left(cfl: Data, tmp_path):
    with prepare_export(cfl.store, cfl.questionnaire, ExportFilter("cfl"), workdir=tmp_path) as p:
        assert len(list(tmp_path.iterdir())) == 1
        p.write(tmp_path / "a.csv", "csv", actor="li.na")
    assert [x.name for x in tmp_path.iterdir()] == ["a.csv"]
    with pytest.raises(ExportError):
        prepare_export(
            cfl.store,
            cfl.questionnaire,
            ExportFilter("cfl", date_from=dt.date(2030, 1, 1)),
            workdir=tmp_path,
        )
    assert [x.name for x in tmp_path.iterdir()] == ["a.csv"]


# ============================================================================ formula injection
TEXT = st.text(
    alphabet=st.sampled_from(list("=+-@\t\r\n ab1中'\"\u3000\uff1d\uff0d,;")), max_size=8
) | st.text(max_size=12)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_neutralised_text_never_starts_a_formula(text: str):
    out = neutralise(text)
    assert out in (text, "'" + text)
    stripped = out.lstrip(" \t\r\n\u00a0\u3000")
    assert not out.startswith(("\t", "\r"))
    assert not (stripped[:1] and stripped[0] in TRIGGERS)
    if text and (text[0] in TRIGGERS or text[0] in "\t\r"):
        assert out == "'" + text


@given(st.lists(TEXT | st.none(), max_size=20))
@settings(max_examples=200, deadline=None)
def test_arrow_and_python_rules_agree(values):
    got = neutralise_array(pa.array(values, pa.string())).to_pylist()
    assert got == [None if v is None else neutralise(v) for v in values]


def variable(name: str, storage: str) -> Variable:
    from questionnaires.model import Text

    return Variable(name, name, "answer", storage, Text.of({"zh": name, "en": name}))  # type: ignore[arg-type]


@given(
    st.lists(
        st.tuples(
            TEXT,
            st.integers(-(2**53), 2**53),
            st.floats(allow_nan=False, allow_infinity=False, width=64),
        ),
        min_size=1,
        max_size=15,
    )
)
@settings(max_examples=60, deadline=None)
def test_csv_cells_never_start_a_formula_and_numbers_stay_numbers(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "x.csv"
    variables = [variable("t", "text"), variable("i", "int"), variable("f", "float")]
    writer = export_formats.open_writer(
        "csv", path, variables, rows=len(rows), language="zh", file_label="x", metadata={}
    )
    writer.write(
        pa.table(
            {
                "t": pa.array([r[0] for r in rows], pa.string()),
                "i": pa.array([r[1] for r in rows], pa.int64()),
                "f": pa.array([r[2] for r in rows], pa.float64()),
            }
        )
    )
    writer.close()
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert parsed[0] == ["t", "i", "f"]
    for (text, number, real), cells in zip(rows, parsed[1:], strict=True):
        cell = cells[0]
        assert cell == neutralise(text)
        stripped = cell.lstrip(" \t\r\n\u00a0\u3000")
        assert not cell.startswith(("\t", "\r")) and not (stripped and stripped[0] in TRIGGERS)
        assert int(cells[1]) == number  # negative numbers are numbers, unquoted
        assert float(cells[2]) == real


# ============================================================================ xlsx limit
def test_xlsx_continues_on_further_sheets_past_the_row_limit(
    prepared: PreparedExport, tmp_path, monkeypatch
):
    monkeypatch.setattr(export_formats, "EXCEL_MAX_ROWS", 100)
    path = written(prepared, tmp_path, "xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["data", "data_2", "data_3", "variables", "values"]
    counts = [sum(1 for _ in book[s].iter_rows()) - 1 for s in ("data", "data_2", "data_3")]
    assert counts == [100, 100, 40]
    book.close()


# ============================================================================ audit
def test_every_export_is_in_the_audit_log(cfl: Data, tmp_path):
    before = len(cfl.store.state.read_audit(action="export"))
    flt = ExportFilter("cfl", provinces=(44,), exclude_flagged=True)
    result = export_microdata(
        cfl.store, cfl.questionnaire, tmp_path / "g.dta", fmt="dta", flt=flt, actor="wang.li"
    )
    entries = cfl.store.state.read_audit(action="export")
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry.actor == "wang.li" and entry.target == "cfl"
    assert entry.details["format"] == "dta" and entry.details["rows"] == result.rows > 0
    assert entry.details["filter"] == flt.describe()
    assert entry.details["file"] == "g.dta"
    tables = export_estimates(
        cfl.store, cfl.questionnaire, tmp_path / "t.csv", fmt="csv", flt=flt, actor="wang.li"
    )
    last = cfl.store.state.read_audit(action="export_estimates")[-1]
    assert last.actor == "wang.li" and last.details["rows"] == tables.rows


def test_an_actor_is_required(prepared: PreparedExport, tmp_path):
    with pytest.raises(ExportError, match="actor"):
        prepared.write(tmp_path / "a.csv", "csv", actor=" ")
    with pytest.raises(ExportError, match="did you mean 'dta'"):
        prepared.write(tmp_path / "a.csv", "dtaa", actor="x")
    with pytest.raises(ExportError, match="does not exist"):
        prepared.write(tmp_path / "no" / "a.csv", "csv", actor="x")


# ============================================================================ estimate tables
def test_estimate_tables_equal_direct_estimates_and_suppress_small_cells(
    cfl: Data, prepared: PreparedExport
):
    tables = prepared.estimate_tables()
    assert tables.names[:3] == ("overall", "province", "region")
    assert {
        "sex",
        "age_group",
        "urban",
        "education",
        "income",
        "occupation",
        "exposure_any",
    } <= set(tables.names)
    frame = prepared.to_frame()
    from analysis.design import CalibrationModel

    data = frame.copy()
    data["province"] = data["province"].astype("int64")
    data["sex"] = data["sex"].map({1: "male", 2: "female"})
    data["urban"] = data["urban"].map({1: "urban", 2: "rural"})
    design = Design(data, weights="weight", calibration=prepared.weighting.model)
    direct = estimate_mean(design, "dim__knowledge", by="province", na_rm=True).to_frame()
    table = tables.table("province")
    rows = table[table["variable"] == "dim__knowledge"].set_index("group")
    for _, row in direct.iterrows():
        got = rows.loc[str(int(row["province"]))]
        assert got["estimate"] == pytest.approx(row["estimate"], rel=1e-12)
        assert got["se"] == pytest.approx(row["se"], rel=1e-9)
        assert got["ci_lower"] == pytest.approx(row["ci_lower"], rel=1e-9)
        assert got["n"] == row["n"]
        assert got["n_effective"] == pytest.approx(row["n"] / row["deff"], rel=1e-9)
    assert set(rows["group_label"]) == {"北京市", "上海市", "广东省", "四川省"}
    assert isinstance(rows["flags"].iloc[0], str)
    assert CalibrationModel is not None
    # suppression
    with prepare_export(
        cfl.store, cfl.questionnaire, ExportFilter("cfl"), options=ExportOptions(min_cell=61)
    ) as p:
        suppressed = p.estimate_tables()
    province = suppressed.table("province")
    small = province["flags"].str.contains("suppressed")
    assert small.any() and (~small).any()
    assert (
        province.loc[small, ["estimate", "se", "ci_lower", "ci_upper", "n_effective", "cv"]]
        .isna()
        .all()
        .all()
    )
    assert province.loc[small, "n"].isna().all()
    assert (province.loc[~small, "n"] >= 61).all()
    overall = suppressed.table("overall")
    assert not overall["flags"].str.contains("suppressed").any()


def test_estimate_tables_honour_the_filter_as_a_domain(cfl: Data, prepared: PreparedExport):
    with prepare_export(cfl.store, cfl.questionnaire, ExportFilter("cfl", provinces=(11,))) as p:
        overall = p.estimate_tables().table("overall")
    province = prepared.estimate_tables().table("province")
    a = overall.set_index("variable")
    b = province[province["group"] == "11"].set_index("variable")
    for var in a.index:
        assert a.loc[var, "estimate"] == pytest.approx(b.loc[var, "estimate"], rel=1e-12)
        assert a.loc[var, "se"] == pytest.approx(b.loc[var, "se"], rel=1e-12)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_estimate_table_files(prepared: PreparedExport, tmp_path, fmt):
    result = prepared.write_estimates(tmp_path / f"t.{fmt}", fmt, actor="li.na")
    tables = prepared.estimate_tables()
    if fmt == "csv":
        assert result.path.read_bytes().startswith(b"\xef\xbb\xbf")
        got = pd.read_csv(result.path, encoding="utf-8-sig")
        assert len(got) == len(tables.to_frame()) == result.rows
        assert "北京市" in set(got["group_label"])
    else:
        book = openpyxl.load_workbook(result.path, read_only=True)
        assert book.sheetnames == [*tables.names, "notes"]
        rows = list(book["province"].iter_rows(values_only=True))
        assert len(rows) == len(tables.table("province")) + 1
        book.close()


# ============================================================================ command line
def run_cli(*args: str) -> int:
    return cli_main(list(args))


def test_cli_writes_each_format(cfl: Data, tmp_path, capsys):
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"c.{fmt}"
        code = run_cli(
            "export",
            "--format",
            fmt,
            "--out",
            str(out),
            "--store",
            str(cfl.root),
            "--questionnaire",
            "cfl",
            "--province",
            "11,31",
            "--group",
            "sex=female",
            "--actor",
            "cli.user",
        )
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert out.is_file() and f"to {out}" in captured.out
    assert cfl.store.state.read_audit(action="export")[-1].actor == "cli.user"
    code = run_cli(
        "export",
        "--format",
        "codebook",
        "--out",
        str(tmp_path / "cb.html"),
        "--store",
        str(cfl.root),
        "--questionnaire",
        "cfl",
    )
    assert code == 0 and "<html" in (tmp_path / "cb.html").read_text(encoding="utf-8")
    code = run_cli(
        "export-tables",
        "--format",
        "xlsx",
        "--out",
        str(tmp_path / "t.xlsx"),
        "--store",
        str(cfl.root),
        "--questionnaire",
        "cfl",
        "--min-cell",
        "5",
    )
    assert code == 0 and (tmp_path / "t.xlsx").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--questionnaire", "nope"], "unknown questionnaire 'nope'"),
        (["--questionnaire", "cfl", "--from", "2026-13-01"], "--from '2026-13-01' is not a date"),
        (["--questionnaire", "cfl", "--group", "sex"], "must read COLUMN=VALUE"),
        (["--questionnaire", "cfl", "--province", "bj"], "--province 'bj' is not a province code"),
        (["--questionnaire", "cfl", "--top-code-income", "2.5"], "option codes"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(cfl: Data, tmp_path, capsys, args, message):
    code = run_cli(
        "export",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "x.csv"),
        "--store",
        str(cfl.root),
        *args,
    )
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "x.csv").exists()


def test_cli_usage_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_cli(
            "export", "--format", "stata", "--out", str(tmp_path / "x"), "--questionnaire", "cfl"
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1
    assert err[0].startswith("error: export: argument --format: invalid choice: 'stata'")


def test_python_m_analysis_export(cfl: Data, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEY_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "export",
            "--format",
            "sav",
            "--out",
            str(tmp_path / "s.sav"),
            "--store",
            str(cfl.root),
            "--questionnaire",
            "cfl",
            "--language",
            "en",
            "--actor",
            "ops",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 240 rows" in done.stdout
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "export",
            "--format",
            "sav",
            "--out",
            str(tmp_path / "s.sav"),
            "--store",
            str(tmp_path / "missing"),
            "--questionnaire",
            "cfl",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: --store {tmp_path / 'missing'} is not a folder; give the data folder."
    )


# ============================================================================ against R
REFERENCE = ROOT / "tests" / "reference"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    """The sample of tests/reference/exports_data.py (240 cfl responses, seed 11)."""
    from tests.reference import exports_data

    root = tmp_path_factory.mktemp("ref") / "data"
    root.mkdir()
    store = ParquetResponseStore(root)
    records = fill_store(store, shipped("cfl"), exports_data.N, seed=exports_data.SEED)
    yield Data(root, store, shipped("cfl"), records, ())
    store.close()


def r_estimates() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "exports_r.csv", dtype={"group": str}, keep_default_na=False)


def test_the_r_input_is_what_the_export_computes(reference: Data):
    from tests.reference import exports_data

    committed = pd.read_csv(REFERENCE / "data" / "exports_sample.csv")
    with prepare_export(reference.store, reference.questionnaire, ExportFilter("cfl")) as p:
        frame = p.to_frame()
    ids = [r.response_id for r in reference.records]
    rid = dict(
        zip(pseudonymise(ids, pseudonym_key(reference.root), purpose="response"), ids, strict=True)
    )
    frame = frame.assign(response_id=frame["pid"].map(rid)).set_index("response_id")
    committed = committed.set_index("response_id").loc[frame.index]
    for v in exports_data.VARIABLES:
        np.testing.assert_allclose(
            frame[v].to_numpy(dtype=float, na_value=np.nan), committed[v].to_numpy(), rtol=1e-15
        )
    assert (frame["age_band"] == committed["age_band"]).all()
    targets = pd.read_csv(REFERENCE / "data" / "exports_targets.csv", dtype={"level": str})
    pd.testing.assert_frame_equal(exports_data.targets(), targets, check_exact=False, rtol=1e-15)


def test_weights_and_estimate_tables_match_r(reference: Data):
    """R (tests/reference/exports.R): ``rake(svydesign(ids = ~1, weights = ~N/n), list(~province,
    ~province + sex, ~province + age_band, ~province + urban), census margins)``, then
    ``svymean`` overall, ``svyby(~v, ~province / ~sex, svymean)`` and ``svymean`` on
    ``subset(raked, province %in% c(11, 31))``, each variable from the rows that have it."""
    r = r_estimates()
    r_weights = pd.read_csv(REFERENCE / "exports_r_weights.csv").set_index("response_id")["weight"]
    ids = [x.response_id for x in reference.records]
    rid = dict(
        zip(pseudonymise(ids, pseudonym_key(reference.root), purpose="response"), ids, strict=True)
    )
    with prepare_export(reference.store, reference.questionnaire, ExportFilter("cfl")) as p:
        frame = p.to_frame()
        tables = p.estimate_tables()
    weights = frame.set_index(frame["pid"].map(rid))["weight"]
    np.testing.assert_allclose(
        weights.to_numpy(), r_weights.loc[weights.index].to_numpy(), rtol=1e-6
    )
    with prepare_export(
        reference.store, reference.questionnaire, ExportFilter("cfl", provinces=(11, 31))
    ) as p:
        domain = p.estimate_tables().table("overall")
    cases = {
        "overall": tables.table("overall"),
        "province": tables.table("province"),
        "sex": tables.table("sex"),
        "domain_11_31": domain,
    }
    compared = 0
    for case, table in cases.items():
        expected = r[r["case"] == case]
        for _, row in expected.iterrows():
            got = table[(table["variable"] == row["variable"])]
            if case in ("province", "sex"):
                got = got[got["group"] == row["group"]]
            assert len(got) == 1, (case, row["group"], row["variable"])
            got = got.iloc[0]
            assert got["estimate"] == pytest.approx(row["estimate"], rel=1e-6), (
                case,
                row["variable"],
            )
            assert got["se"] == pytest.approx(row["se"], rel=1e-5), (case, row["variable"])
            t = stats_t(row["df"])
            assert got["ci_lower"] == pytest.approx(row["estimate"] - t * row["se"], rel=1e-7)
            compared += 1
    assert compared == len(r) == 5 * (1 + 4 + 2 + 1)


def stats_t(df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


@pytest.mark.r
def test_r_script_reproduces_the_committed_reference(tmp_path: Path):
    """Rerun ``Rscript tests/reference/exports.R <tmp>`` and compare with the committed output
    (needs R with the survey package; deselect with ``-m "not r"`` where R is absent)."""
    import shutil

    rscript = shutil.which("Rscript")
    assert rscript is not None, (
        "Rscript is not on PATH: install R and the survey package (Debian: r-base-core, "
        "r-cran-survey), or deselect this test with -m 'not r'."
    )
    subprocess.run(
        [rscript, str(REFERENCE / "exports.R"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for name in ("exports_r.csv", "exports_r_weights.csv"):
        fresh = pd.read_csv(tmp_path / name, keep_default_na=False, dtype={"group": str})
        committed = pd.read_csv(REFERENCE / name, keep_default_na=False, dtype={"group": str})
        pd.testing.assert_frame_equal(fresh, committed, check_exact=False, rtol=1e-12)


# ============================================================================ more questionnaires
def read_back(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(path, encoding="utf-8-sig")
    if fmt == "xlsx":
        return pd.read_excel(path, sheet_name="data")
    if fmt == "parquet":
        return pd.read_parquet(path)
    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    return reader(str(path))[0]


@pytest.mark.parametrize("name", ["oecd_infe", "edu_quiz"])
def test_every_shipped_questionnaire_exports_in_every_format(tmp_path, name):
    root = tmp_path / "data"
    root.mkdir()
    store = ParquetResponseStore(root)
    q = shipped(name)
    fill_store(store, q, 80, seed=9, provinces=PROVINCES_OR_NONE[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)  # edu_quiz has nothing to weight by
        prepared = prepare_export(store, q, ExportFilter(name))
    with prepared:
        expected = prepared.to_frame()
        for fmt in FORMATS:
            result = prepared.write(tmp_path / f"x.{fmt}", fmt, actor="li.na")
            got = read_back(result.path, fmt)
            assert list(got.columns) == list(expected.columns), fmt
            assert len(got) == len(expected) == 80, fmt
        tables = prepared.estimate_tables()
    assert tables.weighted == (name == "oecd_infe")
    if name == "oecd_infe":
        derived = set(tables.table("overall")["variable"])
        assert {"oecd_knowledge", "oecd_total", "oecd_knowledge_target"} <= derived
    store.close()


PROVINCES_OR_NONE = {"oecd_infe": (11, 31, 44, 51), "edu_quiz": (None,)}


def test_control_characters_in_free_text_reach_excel_safely(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    store = ParquetResponseStore(root)
    q = edge()
    records = fill_store(store, q, 30, seed=1)
    from responses.record import ResponseRecord

    store.submit(
        ResponseRecord(
            "edge",
            "1.0",
            {**records[0].answers, "comment": "a\x01b\x0b=c"},
            province=11,
            device_class="phone",
        )
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepared = prepare_export(
            store, q, ExportFilter("edge"), options=ExportOptions(include_text=True)
        )
    assert any("free-text" in str(w.message) for w in caught)
    with prepared:
        path = prepared.write(tmp_path / "t.xlsx", "xlsx", actor="li.na").path
    comments = pd.read_excel(path, sheet_name="data")["comment"].dropna().tolist()
    assert "a\ufffdb\ufffd=c" in comments
    store.close()


def test_sparse_samples_fall_back_to_coarser_margins(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    store = ParquetResponseStore(root)
    fill_store(store, edge(), 30, seed=1)
    with pytest.warns(ExportWarning, match="were used because province \\+ province\\*sex"):
        prepared = prepare_export(store, edge(), ExportFilter("edge"))
    with prepared:
        summary = prepared.weighting
        frame = prepared.to_frame()
        codebook = prepared.codebook()
    assert summary.method == "rake" and summary.margins[0] == "province"
    assert "*" not in "".join(summary.margins)
    assert summary.attempts
    assert "did not converge" in summary.attempts[0] or "no respondents" in summary.attempts[0]
    totals = census_targets(margins=("province",)).margins["province"]
    weighted = frame[frame["weight"].notna()]
    for code, total in weighted.groupby("province")["weight"].sum().items():
        assert total == pytest.approx(totals[int(code)], rel=1e-6)
    assert summary.n_weighted + summary.n_unweighted == len(frame)
    assert "Margins not used" in codebook.weighting.get("en")
    store.close()
