"""The respondent app when the data folder's disk is full (AppTest, in-process, on a real
size-limited tmpfs where mounting is permitted; see ``tests/security/disks.py``): the
submission fails with a clear message, the answers stay on the screen for a retry, nothing
stored before is damaged, and the retry stores the response once."""

from __future__ import annotations

import errno
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import responses.store as store_module
from questionnaires import load_registry
from responses.store import ParquetResponseStore
from tests.app.answering import fill_store, random_answers
from tests.app.driver import agree, answer_screen, click, find, messages
from tests.security.conftest import ROOT
from tests.security.disks import fill, small_disk
from tests.security.test_faults import snapshot, temp_files

APP = str(ROOT / "survey_app.py")


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> Iterator[tuple[Path, bool]]:
    with small_disk(tmp_path / "disk", size="16m") as real:
        request.node.user_properties.append(("filesystem", "tmpfs" if real else "injected"))
        root = tmp_path / "disk" / "data"
        root.mkdir()
        for name in list(os.environ):
            if name.startswith("SURVEY_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("SURVEY_DATA_DIR", str(root))
        st.cache_data.clear()
        st.cache_resource.clear()
        yield root, real
        st.cache_data.clear()
        st.cache_resource.clear()


def test_a_full_disk_keeps_the_answers_on_screen_and_the_retry_stores_once(
    disk: tuple[Path, bool], monkeypatch: pytest.MonkeyPatch
):
    root, real = disk
    quiz = load_registry().latest("edu_quiz")
    store = ParquetResponseStore(root)
    earlier = fill_store(store, quiz, 15, seed=3)  # what was stored before must not suffer
    store.compact("edu_quiz")
    fill_store(store, quiz, 5, seed=4)
    before = snapshot(root)

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["q"] = "edu_quiz"
    at.run()
    agree(at)
    answers = random_answers(quiz, random.Random(8), overrides={"participant_code": "FULL0001"})
    for _ in range(10):
        answer_screen(at, quiz, answers)
        if find(at, "button", "nav_submit") is not None:
            break
        click(at, "nav_next")

    if real:
        ballast = fill(root.parent, leave=4096)
    else:
        def full(file: object, data: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(store_module, "_write_bytes", full)
    click(at, "nav_submit")

    assert not at.exception
    assert any("提交没有成功" in m and "答案都还在这里" in m for m in messages(at))
    assert at.button(key="nav_submit").label == "重新提交"  # "Try again"
    code = [w.value for w in at.text_input if w.key == "q__participant_code"]
    on_screen = code or [at.session_state["survey_run"].answers.get("participant_code")]
    assert on_screen == ["FULL0001"]  # the answers are still there
    assert snapshot(root) == before  # nothing stored before was touched
    assert temp_files(root) == []
    assert store.count("edu_quiz") == 20

    if real:
        ballast.unlink()
    else:
        monkeypatch.undo()
    click(at, "nav_submit")
    assert at.title[0].value.startswith("提交成功")
    frame = store.read("edu_quiz")
    assert len(frame) == 21 and (frame["participant_code"] == "FULL0001").sum() == 1
    assert set(earlier) <= set(frame["response_id"])
    store.close()
