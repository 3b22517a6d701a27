"""The response record: validation, Arrow conversion, fingerprint, user-agent classes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest

from responses.errors import ResponseError
from responses.record import (
    META_COLUMNS,
    ResponseRecord,
    classify_device,
    hash_token,
    new_response_id,
)
from tests.responses.conftest import make_record


def test_defaults_fill_id_and_time():
    r = ResponseRecord("cfl", "2026.1", {"k1": 1})
    assert len(r.response_id) == 22
    assert r.submitted_at.tzinfo == dt.UTC
    assert ResponseRecord("cfl", "2026.1", {}).response_id != r.response_id


def test_response_ids_are_random_urlsafe_128_bit():
    ids = {new_response_id() for _ in range(2000)}
    assert len(ids) == 2000
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert all(len(i) == 22 and set(i) <= alphabet for i in ids)


def test_every_problem_is_listed_at_once():
    with pytest.raises(ResponseError) as info:
        ResponseRecord(
            "../etc",
            "1/../..",
            {"Bad Name": 1, "province": 3, "ok": object()},
            province=100,
            language="Chinese",
            token_hash="my-secret-token",  # noqa: S106 (a raw token, refused)
            submitted_at=dt.datetime(2026, 1, 1),  # naive
        )
    problems = info.value.problems
    text = str(info.value)
    assert len(problems) == 9
    assert "questionnaire_id '../etc' is not valid" in text
    assert "questionnaire_version '1/../..' is not valid" in text
    assert "province 100 is not valid" in text
    assert "submitted_at 2026-01-01T00:00:00 has no timezone" in text
    assert "language 'Chinese'" in text
    assert "the raw token is never stored" in text
    assert "answer column 'Bad Name' is not a valid name" in text
    assert "clashes with the fixed column" in text
    assert "answer 'ok' has a value of type object" in text


@pytest.mark.parametrize(
    ("value", "stored", "arrow_type"),
    [
        (True, 1, pa.int64()),
        (np.int16(4), 4, pa.int64()),
        (3, 3, pa.int64()),
        (2.5, 2.5, pa.float64()),
        (np.float32(0.5), 0.5, pa.float64()),
        ("文本", "文本", pa.string()),
        (None, None, pa.null()),
    ],
)
def test_answer_values_are_stored_plain(value, stored, arrow_type):
    r = ResponseRecord("cfl", "2026.1", {"x": value})
    assert r.answers["x"] == stored
    table = r.to_table()
    assert table.schema.field("x").type == arrow_type
    assert table.column("x").to_pylist() == [stored]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**70, "x" * 5001, [1, 2]])
def test_bad_answer_values_are_refused(bad):
    with pytest.raises(ResponseError, match="answer 'x'"):
        ResponseRecord("cfl", "2026.1", {"x": bad})


def test_to_table_has_fixed_columns_then_answers():
    r = make_record(1, token_hash=hash_token("tok"))
    table = r.to_table()
    assert table.num_rows == 1
    assert table.column_names[: len(META_COLUMNS)] == list(META_COLUMNS)
    assert table.column_names[len(META_COLUMNS) :] == list(r.answers)
    for name, type_ in META_COLUMNS.items():
        assert table.schema.field(name).type == type_
    row = table.to_pylist()[0]
    assert row["token_hash"] == hash_token("tok")
    assert json.loads(row["page_seconds"]) == {"p1": 12.5, "p2": 30.0}
    assert row["duration_seconds"] == (r.submitted_at - r.started_at).total_seconds()


def test_fields_are_exactly_the_documented_columns():
    # No field for an IP address or a raw token can exist: the record has only these.
    names = {f.name for f in dataclasses.fields(ResponseRecord)}
    assert names == {*META_COLUMNS, "answers"}
    with pytest.raises(TypeError):
        ResponseRecord("cfl", "2026.1", {}, ip_address="10.0.0.1")  # type: ignore[call-arg]


def test_paradata_json_is_checked():
    r = ResponseRecord(
        "cfl", "2026.1", {}, page_seconds='{"p1": 3}', option_order={"k1": ["b", "a"]}
    )
    assert r.page_seconds == '{"p1":3}'
    assert r.option_order == '{"k1":["b","a"]}'
    with pytest.raises(ResponseError, match="page_seconds is not valid JSON"):
        ResponseRecord("cfl", "2026.1", {}, page_seconds="{oops")
    with pytest.raises(ResponseError, match=r"page_seconds\['p1'\] must be a non-negative"):
        ResponseRecord("cfl", "2026.1", {}, page_seconds={"p1": -2})
    with pytest.raises(ResponseError, match=r"option_order\['k1'\] must be a list"):
        ResponseRecord("cfl", "2026.1", {}, option_order={"k1": "ba"})
    with pytest.raises(ResponseError, match="device_class 'watch'"):
        ResponseRecord("cfl", "2026.1", {}, device_class="watch")


def test_fingerprint_ignores_time_and_paradata_but_not_answers():
    a = make_record(5)
    later = dataclasses.replace(
        a,
        submitted_at=a.submitted_at + dt.timedelta(seconds=3),
        page_seconds={"p1": 1.0},
        device_class="desktop",
    )
    assert later.fingerprint() == a.fingerprint()
    changed = dataclasses.replace(a, answers={**a.answers, "k0": 9})
    assert changed.fingerprint() != a.fingerprint()
    moved = dataclasses.replace(a, province=65 if a.province != 65 else 11)
    assert moved.fingerprint() != a.fingerprint()


def test_fingerprint_survives_a_round_trip_with_extra_null_columns():
    a = make_record(6)
    row = a.to_table().to_pylist()[0]
    row["k_added_in_v2"] = None  # a column a later version added
    row["k0"] = float(row["k0"])  # widened to float by schema unification
    assert ResponseRecord.from_row(row).fingerprint() == a.fingerprint()


def test_hash_token_is_sha256_hex():
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "phone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Mobile Safari/537.36",
            "phone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; V2203A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5235 "
            "MMWEBSDK/20230805 MicroMessenger/8.0.42.2460(0x28002A3B) WeChat/arm64 Weixin "
            "NetType/WIFI Language/zh_CN ABI/arm64",
            "phone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; HarmonyOS; NOH-AN00; HMSCore 6.13.0.302) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.5.302 "
            "Mobile Safari/537.36",
            "phone",
        ),
        ("Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", "phone"),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 12; HarmonyOS; BAH4-W09; HMSCore 6.13.0.302) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.5.302 "
            "Safari/537.36",
            "tablet",
        ),
        ("Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0", "tablet"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
            "desktop",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.4 Safari/605.1.15",
            "desktop",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "desktop"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
            "like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
            "+http://www.google.com/bot.html)",
            "bot",
        ),
        (
            "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
            "bot",
        ),
        (
            "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
            "Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
            "bot",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/120.0.0.0 Safari/537.36",
            "bot",
        ),
        ("curl/8.5.0", "bot"),
        ("python-requests/2.31.0", "bot"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_classify_device(user_agent, expected):
    assert classify_device(user_agent) == expected
