"""In a real browser (system Chromium) against ``streamlit run`` on loopback:

- respondent text never runs or loads anything: after hostile texts were typed and stored,
  no script from them runs (``window.__xss``), no alert opens, no ``<img>``, ``<iframe>`` or
  ``javascript:`` link from them appears, and nothing is requested from their host, on the
  respondent's screens and feedback and on every staff page;
- load: 20 browser sessions (contexts of one Chromium) answer ``edu_quiz`` at the same time
  against one app; every response is stored once, every step finishes, and the median time of
  a page step is reported (``tests/artifacts/security/browser_load.json``).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from app_pages.navigation import STAFF_PAGES
from app_pages.questions import key
from questionnaires import load_registry
from questionnaires.model import SPECIAL_CODES, SPECIAL_LABELS, Question, Questionnaire
from responses.store import ParquetResponseStore
from tests.app.answering import random_answers
from tests.browser_support import DESKTOP, PHONE, _free_port
from tests.e2e.survey_browser import IPHONE_UA, Respondent, css
from tests.security.conftest import ROOT
from tests.security.xss import CHEAP, HOST, PASSWORD, PROBE, PROBE_ANSWERS, prepare

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "tests" / "artifacts" / "security"
_IDLE = (
    "() => { const a = document.querySelector('[data-testid=stApp]');"
    " return !!a && a.getAttribute('data-test-script-state') === 'notRunning'"
    " && a.getAttribute('data-test-connection-state') === 'CONNECTED'; }"
)
_HOSTILE_DOM = (
    "(host) => ({"
    " flag: window.__xss === undefined ? null : String(window.__xss),"
    " imgs: [...document.querySelectorAll('img')].map(e => e.src).filter(s => s.includes(host)),"
    " frames: [...document.querySelectorAll('iframe')].map(e => e.src)"
    "   .filter(s => s.includes(host)),"
    " links: [...document.querySelectorAll('a')].map(e => e.getAttribute('href') || '')"
    "   .filter(h => h.startsWith('javascript:') || h.includes(host)),"
    " scripts: [...document.querySelectorAll('script')].filter(e => e.text.includes('__xss'))"
    "   .length })"
)


class Watch:
    """Everything hostile text could make the browser do, recorded for one context."""

    def __init__(self, context: Any) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        context.route(lambda url: HOST in url, self._blocked)

    def _blocked(self, route: Any) -> None:
        self.requests.append(route.request.url)
        route.abort()

    def page(self, page: Any) -> Any:
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        return page

    def check(self, page: Any, where: str) -> None:
        dom = page.evaluate(_HOSTILE_DOM, HOST)
        assert dom == {"flag": None, "imgs": [], "frames": [], "links": [], "scripts": 0}, where
        assert self.requests == [] and self.dialogs == [], where


def test_hostile_text_never_runs_or_loads_in_the_browser(
    browser, app_server_factory, artifacts, tmp_path
):
    root = tmp_path / "data"
    prepare(root)
    server = app_server_factory(data_dir=root, env=CHEAP)

    # a respondent types the hostile texts and sees the feedback page
    context = browser.new_context(viewport=PHONE, user_agent=IPHONE_UA, locale="zh-CN")
    watch = Watch(context)
    you = Respondent(watch.page(context.new_page()), artifacts, lang="zh")
    you.open(f"{server.url}/?q=xss_probe")
    you.click("consent_agree")
    you.answer_screen(PROBE, PROBE_ANSWERS)
    watch.check(you.page, "questions")
    you.shot("typed")
    you.click("nav_submit")
    assert "提交成功" in you.text()
    watch.check(you.page, "feedback")
    you.shot("feedback")
    context.close()
    stored = ParquetResponseStore(root).read("xss_probe")
    assert (stored["comment"] == PROBE_ANSWERS["comment"]).sum() == 13  # 12 prepared + this one

    # an administrator visits every staff page
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    watch = Watch(context)
    page = watch.page(context.new_page())
    staff = Respondent(page, artifacts, lang="zh")
    staff.open(server.url)
    _sign_in(staff)
    watch.check(page, "signed in")
    nav = page.locator("[data-testid=stSidebarNav]")
    for p in STAFF_PAGES:
        more = page.locator("[data-testid=stSidebarNavViewButton]")
        if not nav.get_by_text(p.title_zh, exact=True).count() and more.count():
            more.first.click()  # "View more": a long menu is folded
            time.sleep(0.3)
        nav.get_by_text(p.title_zh, exact=True).click()
        staff.settle()
        page.wait_for_selector("h1", timeout=60_000)
        staff.settle()
        watch.check(page, p.title_zh)
        errors = page.locator("[data-testid=stException]").count()
        assert errors == 0, p.path
    staff.shot("last_staff_page")
    context.close()


CANARY_APP = """\
import streamlit as st
from tests.security.xss import PAYLOADS
st.title("canary")
st.markdown(PAYLOADS[2])  # a Markdown image from respondent text: must be caught
st.markdown(PAYLOADS[1], unsafe_allow_html=True)  # HTML from respondent text: must be caught
"""


def test_the_browser_watch_catches_rendered_markup(browser, tmp_path):
    """The checks above can fail: a page that renders respondent text as Markdown or HTML is
    caught (the images are in the page and were requested)."""
    script = tmp_path / "canary.py"
    script.write_text(CANARY_APP, encoding="utf-8")
    port = _free_port()
    log = (tmp_path / "canary.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}",
         "--browser.gatherUsageStats=false"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        context = browser.new_context(viewport=DESKTOP)
        watch = Watch(context)
        page = watch.page(context.new_page())
        deadline = time.monotonic() + 60
        while True:
            try:
                page.goto(f"http://127.0.0.1:{port}")
                break
            except PlaywrightError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.5)
        page.wait_for_selector("h1", timeout=60_000)
        page.wait_for_function(_IDLE, timeout=60_000)
        time.sleep(1.0)
        with pytest.raises(AssertionError):
            watch.check(page, "canary")
        dom = page.evaluate(_HOSTILE_DOM, HOST)
        assert len(dom["imgs"]) == 2 and watch.requests  # both images, and they were requested
        context.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def _sign_in(staff: Respondent) -> None:
    page = staff.page
    expand = page.locator("[data-testid=stExpandSidebarButton]")
    if expand.count() and expand.first.is_visible():
        expand.first.click()
        time.sleep(0.6)
    sidebar = page.locator("[data-testid=stSidebarContent]")
    sidebar.get_by_text("工作人员登录").click()
    sidebar.locator(".st-key-signin_user input").fill("wang.li")
    sidebar.locator(".st-key-signin_password input").fill(PASSWORD)
    sidebar.get_by_role("button", name="登录").click()
    staff.settle()
    page.wait_for_selector("[data-testid=stSidebarNav]", timeout=60_000)


# --- load: 20 sessions at once --------------------------------------------------------------

SESSIONS = int(os.environ.get("SURVEY_BROWSER_SESSIONS", "20"))
STEP_TIMEOUT = 180.0
#: Counts the changes of the page's script state (``window.__runs``), so that a step is over
#: only once the run it caused has started and finished, however long the server takes.
COUNT_RUNS = """
window.__runs = 0;
new MutationObserver((records) => { window.__runs += records.length; })
  .observe(document, {attributes: true, subtree: true,
                      attributeFilter: ['data-test-script-state']});
"""
_RUNS_AND_READY = (
    "() => { const a = document.querySelector('[data-testid=stApp]');"
    " return [window.__runs || 0, !!a"
    " && a.getAttribute('data-test-script-state') === 'notRunning'"
    " && a.getAttribute('data-test-connection-state') === 'CONNECTED']; }"
)
#: Seconds after which an action that started no script run is taken as lost (the page is
#: looked at again, and the action done again if it did not take).
STALL = 5.0


@dataclass
class Session:
    """One respondent's browser tab, stepped by the scheduler below: one action (a click or a
    typed answer, each a script run on the server), then wait until that run is over."""

    number: int
    page: Any
    questionnaire: Questionnaire
    answers: dict[str, Any]
    stage: str = "landing"
    done: set[str] = field(default_factory=set)
    started: float = 0.0
    idle_since: float | None = None
    steps: list[float] = field(default_factory=list)
    finished: bool = False
    stalls: int = 0
    seconds: float = 0.0

    def _label(self, q: Question, value: str) -> str:
        if value in SPECIAL_CODES:
            return SPECIAL_LABELS[value].get("zh")
        assert q.choices is not None
        choice = q.choices.choice(value)
        assert choice is not None
        return choice.label.get("zh")

    def act(self) -> bool:
        """Look at the page and start the next action; False when the respondent is done.

        The next action follows from what the page shows (like a person): a click that did
        not take (it landed on a button a re-render was replacing) is simply done again.
        """
        action = self._next()
        if action is None:
            return False
        self.page.evaluate("window.__runs = 0")
        action()
        return True

    def _click(self, name: str) -> Callable[[], None]:
        return lambda: self.page.locator(f"{css(name)} button").first.click()

    def _present(self, name: str) -> bool:
        return self.page.locator(css(name)).count() > 0

    def _next(self) -> Callable[[], None] | None:
        page = self.page
        if "提交成功" in page.locator("[data-testid=stMain]").inner_text():
            self.finished = True
            return None
        for name in ("start_edu_quiz", "consent_agree"):
            if self._present(name):
                return self._click(name)
        for q in self.questionnaire.questions:
            if q.name not in self.answers or not self._present(key(q.name)):
                continue
            action = self._answer(q, page.locator(css(key(q.name))), self.answers[q.name])
            if action is not None:
                return action
        for name in ("nav_submit", "nav_next"):
            if self._present(name):
                return self._click(name)
        text = page.locator("[data-testid=stMain]").inner_text()
        raise AssertionError(f"session {self.number}: nothing to do on {text[-600:]!r}")

    def _answer(self, q: Question, box: Any, value: Any) -> Callable[[], None] | None:
        """The action that puts ``value`` into the question, or None when it is there."""
        page = self.page
        special = isinstance(value, str) and value in SPECIAL_CODES
        if q.type == "text":
            field = box.locator("input, textarea").first
            if field.input_value() == value:
                return None

            def typed() -> None:
                field.fill(str(value))
                field.press("Tab")

            return typed
        if q.type in ("integer", "decimal") and not special:
            field = box.locator("input")
            shown = field.input_value()
            if shown and float(shown) == float(value):
                return None

            def number() -> None:
                field.fill(str(value))
                field.press("Enter")

            return number
        if q.type in ("integer", "decimal"):
            check = page.locator(f"{css(key(q.name, value))} input[type=checkbox]")
            if check.is_checked():
                return None
            return lambda: page.locator(f"{css(key(q.name, value))} label").first.click()
        option = box.locator("label").filter(has=page.get_by_text(self._label(q, value),
                                                                   exact=True)).first
        if option.locator("input").is_checked():
            return None
        return lambda: option.click()


@pytest.mark.slow
def test_twenty_browser_sessions_answer_at_once(browser, app_server_factory, artifacts):
    quiz = load_registry().latest("edu_quiz")
    server = app_server_factory()
    rng = random.Random(2026)
    sessions = []
    for i in range(SESSIONS):
        context = browser.new_context(viewport=PHONE, user_agent=IPHONE_UA, locale="zh-CN")
        context.add_init_script(COUNT_RUNS)
        page = context.new_page()
        answers = random_answers(
            quiz, rng, overrides={"participant_code": f"LOAD{i:04d}", "phase": "pre"}
        )
        sessions.append(Session(i, page, quiz, answers))
    began = time.perf_counter()
    for s in sessions:  # all 20 land at once
        s.page.goto(server.url, wait_until="commit")
        s.started = time.perf_counter()
    pending = list(sessions)
    health: list[float] = []
    next_probe = 0.0
    while pending:
        now = time.perf_counter()
        if now >= next_probe:  # a client outside the browser: is the server still answering?
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=60) as reply:  # noqa: S310
                assert reply.status == 200
            health.append(time.perf_counter() - now)
            next_probe = time.perf_counter() + 2.0
            now = time.perf_counter()
        for s in list(pending):
            runs, ready = s.page.evaluate(_RUNS_AND_READY)
            stalled = runs == 0 and ready and now - s.started > STALL
            if not (ready and (runs > 0 or stalled)):
                s.idle_since = None
                assert now - s.started < STEP_TIMEOUT, f"session {s.number}: a step timed out"
                continue
            if s.idle_since is None:  # idle twice, 0.3 s apart: the run is really over
                s.idle_since = now
                continue
            if now - s.idle_since < 0.3:
                continue
            if stalled:  # the action started no run: look again (it is done again if lost)
                s.stalls += 1
            else:
                s.steps.append(s.idle_since - s.started)
            s.idle_since = None
            if s.act():
                s.started = time.perf_counter()
            else:
                s.seconds = time.perf_counter() - began
                pending.remove(s)
        time.sleep(0.02)
    seconds = time.perf_counter() - began
    Respondent(sessions[0].page, artifacts).shot("thank_you")
    for s in sessions:
        s.page.context.close()

    frame = ParquetResponseStore(server.data_dir).read("edu_quiz")
    assert len(frame) == SESSIONS  # every response stored, and once
    assert frame["response_id"].is_unique
    assert sorted(frame["participant_code"]) == [f"LOAD{i:04d}" for i in range(SESSIONS)]
    steps = [t for s in sessions for t in s.steps[1:]]  # the first is the page load
    loads = [s.steps[0] for s in sessions]
    figures = {
        "sessions": SESSIONS,
        "seconds": round(seconds, 1),
        "steps": len(steps),
        "median_step_seconds": round(statistics.median(steps), 2),
        "p90_step_seconds": round(statistics.quantiles(steps, n=10)[-1], 2),
        "max_step_seconds": round(max(steps), 2),
        "median_first_load_seconds": round(statistics.median(loads), 2),
        "median_session_seconds": round(statistics.median(s.seconds for s in sessions), 1),
        "actions_lost_and_repeated": sum(s.stalls for s in sessions),
        "health_checks": len(health),
        "max_health_seconds": round(max(health), 3),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "browser_load.json").write_text(json.dumps(figures, indent=1))
    assert all(s.finished for s in sessions)
