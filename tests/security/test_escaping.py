"""Everything a respondent types is data, never markup (AppTest, in-process).

Hostile texts (``<script>``, ``<img onerror>``, Markdown images and links, HTML, Streamlit's
``:red[]`` and ``$`` maths) are submitted through the respondent page and stored wherever a page
could show them; then every page that can show them is rendered (the respondent's screens and
feedback, and every staff page as an administrator) and every element that Streamlit renders as
Markdown or HTML is checked: a hostile text may appear there only escaped. Widget values
(the text box holding what was typed) and tables are data and may hold it as is.

The same pages in a real browser (no script runs, no image loads): ``test_browser.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from app_pages.navigation import STAFF_PAGES
from responses.store import ParquetResponseStore
from tests.app.driver import agree, answer_screen, click
from tests.security.conftest import ROOT
from tests.security.xss import (
    CHEAP,
    COMMENT,
    PASSWORD,
    PAYLOADS,
    PROBE,
    PROBE_ANSWERS,
    RAW,
    prepare,
)

APP = str(ROOT / "survey_app.py")
#: Element types whose text is shown as plain text (not Markdown) by Streamlit.
PLAIN_TYPES = {"text", "code", "json", "arrow_data_frame", "dataframe", "table", "exception"}
#: A hostile fragment not preceded by a backslash (Markdown's escape).
UNESCAPED = re.compile("|".join(r"(?<!\\)" + re.escape(f) for f in RAW))
#: Proto fields that hold a widget's value (shown inside an input, as text).
VALUE_FIELDS = {"value", "default", "placeholder", "raw_value"}


def _strings(message: Message, path: str = "") -> Iterator[tuple[str, str]]:
    for field, value in message.ListFields():
        name = f"{path}{field.name}"
        repeated = not isinstance(value, str | bytes | Message) and hasattr(value, "__iter__")
        values = list(value) if repeated else [value]
        for v in values:
            if isinstance(v, str):
                yield name, v
            elif isinstance(v, Message):
                yield from _strings(v, name + ".")


def _elements(node: object) -> Iterator[object]:
    if isinstance(node, Block):
        yield node
        for child in node.children.values():
            yield from _elements(child)
    else:
        yield node


def markup_leaks(at: AppTest) -> list[str]:
    """Where a hostile text reaches something Streamlit renders as Markdown or HTML."""
    found = []
    for element in _elements(at._tree):
        proto = getattr(element, "proto", None)
        kind = getattr(element, "type", "")
        if proto is None or kind in PLAIN_TYPES:
            continue
        for field, text in _strings(proto):
            if field.split(".")[-1] in VALUE_FIELDS:
                continue
            if UNESCAPED.search(text):
                found.append(f"{kind}.{field}: {text[:80]!r}")
    return found


@pytest.fixture(scope="module")
def hostile_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("escaping") / "data"
    return root, prepare(root)


@pytest.fixture
def app_env(hostile_data: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root, _ = hostile_data
    for name in list(os.environ):
        if name.startswith("SURVEY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SURVEY_DATA_DIR", str(root))
    for name, value in CHEAP.items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield root
    st.cache_data.clear()
    st.cache_resource.clear()


def open_app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_respondent_pages_show_typed_markup_as_text(app_env: Path):
    at = open_app(q="xss_probe")
    agree(at)
    answer_screen(at, PROBE, PROBE_ANSWERS)
    assert markup_leaks(at) == []
    typed = [w.value for w in at.text_area if w.key == "q__comment"]
    assert typed == [COMMENT]  # the text box holds exactly what was typed
    click(at, "nav_submit")
    assert not at.exception
    assert markup_leaks(at) == []  # the feedback page
    frame = ParquetResponseStore(app_env).read("xss_probe")
    assert COMMENT in frame["comment"].tolist()  # stored unchanged, as data
    assert PAYLOADS[1] in frame["nickname"].tolist()


def sign_in(at: AppTest) -> AppTest:
    at.sidebar.text_input(key="signin_user").input("wang.li")
    at.sidebar.text_input(key="signin_password").input(PASSWORD)
    at = at.sidebar.get("form_submit_button")[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", [p.path for p in STAFF_PAGES], ids=lambda p: Path(p).stem)
def test_every_staff_page_shows_stored_markup_as_text(app_env: Path, page: str):
    at = sign_in(open_app())
    assert markup_leaks(at) == []  # the sidebar shows the admin's hostile display name
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert markup_leaks(at) == []


def test_the_deletion_preview_and_the_audit_page_show_stored_markup_as_text(
    app_env: Path, hostile_data: tuple[Path, str]
):
    _, rid = hostile_data
    at = sign_in(open_app())
    at.switch_page("app_pages/admin_deletion.py").run()
    at.text_input(key="deletion_id").input(rid)
    at = at.get("form_submit_button")[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert markup_leaks(at) == []
    at.switch_page("app_pages/admin_audit.py").run()
    assert markup_leaks(at) == []


def test_the_export_page_with_free_text_shows_it_as_text(app_env: Path):
    at = sign_in(open_app())
    at.switch_page("app_pages/researcher_export.py").run()
    at.selectbox(key="export_questionnaire").set_value("xss_probe").run()
    at.checkbox(key="export_include_text").check().run()
    at.button(key="export_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert markup_leaks(at) == []


def test_the_leak_detector_finds_unescaped_markup():
    """The check above can fail: a page that put respondent text into Markdown is caught."""
    script = (
        "import streamlit as st\n"
        f"st.markdown({PAYLOADS[2]!r})\n"
        f"st.text({PAYLOADS[0]!r})\n"
        f"st.text_area('x', value={PAYLOADS[0]!r})\n"
    )
    at = AppTest.from_string(script).run()
    leaks = markup_leaks(at)
    assert len(leaks) == 1 and leaks[0].startswith("markdown.body")
