"""A respondent in a real browser: fill the survey's widgets by their keys, click, screenshot.

Streamlit gives each keyed element the class ``st-key-<key>``; the page's widget keys are listed
in :mod:`app_pages.questions`. After every action the helper waits for the script run to finish
(``data-test-script-state`` on the app element).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app_pages.questions import key
from questionnaires.model import SPECIAL_CODES, SPECIAL_LABELS, Question, Questionnaire

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)

_IDLE = (
    "() => { const a = document.querySelector('[data-testid=stApp]');"
    " return a && a.getAttribute('data-test-script-state') === 'notRunning'"
    " && a.getAttribute('data-test-connection-state') === 'CONNECTED'; }"
)
_ARM = (
    "() => { const a = document.querySelector('[data-testid=stApp]'); window.__stRan = false;"
    " if (window.__stWatch) window.__stWatch.disconnect();"
    " window.__stWatch = new MutationObserver(() => {"
    "  if (a.getAttribute('data-test-script-state') !== 'notRunning') window.__stRan = true; });"
    " window.__stWatch.observe(a, {attributes: true}); }"
)
_OVERFLOW = (
    "() => { const w = window.innerWidth; const out = [];"
    " for (const e of document.querySelectorAll('[data-testid=stMain] *')) {"
    "  const r = e.getBoundingClientRect();"
    "  if (r.width > 0 && r.height > 0 && r.right > w + 1) {"
    "   out.push((e.getAttribute('data-testid') || e.tagName) + ' ' + Math.round(r.right)); } }"
    " return out.slice(0, 5); }"
)

_UNLABELLED = (
    "() => { const out = [];"
    " const fields = document.querySelectorAll('[data-testid=stMain] input:not([type=hidden]),"
    " [data-testid=stMain] textarea, [data-testid=stMain] button,"
    " [data-testid=stMain] [role=radiogroup]');"
    " for (const e of fields) {"
    "  const label = e.closest('label');"
    "  const name = (e.getAttribute('aria-label') || (label ? label.innerText : '')"
    "   || (e.labels && e.labels.length ? e.labels[0].innerText : '') || e.innerText || '').trim();"
    "  if (!name) out.push(e.outerHTML.slice(0, 120)); }"
    " return out; }"
)


def css(name: str) -> str:
    """The selector of the element with Streamlit key ``name``."""
    return f".st-key-{name}"


class Respondent:
    """One browser page answering the survey; screenshots go to ``folder``."""

    def __init__(self, page: Any, folder: Path, *, lang: str = "zh") -> None:
        self.page = page
        self.folder = folder
        self.lang = lang
        self.shots: list[Path] = []
        self._armed = False

    # -- waiting and looking -----------------------------------------------------------------

    def arm(self) -> None:
        """Start watching for the script run the next action will cause (call just before it)."""
        self.page.evaluate(_ARM)
        self._armed = True

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until the app has finished the script run an action caused.

        After :meth:`arm`, waits for that run to start (up to 5 s: an action that causes no
        run lets it pass) and then to end; otherwise waits briefly and then for the app to be
        idle.
        """
        if self._armed:
            self._armed = False
            with contextlib.suppress(PlaywrightTimeout):  # no run: nothing to wait for
                self.page.wait_for_function("() => window.__stRan === true", timeout=5000)
        else:
            time.sleep(0.3)
        self.page.wait_for_function(_IDLE, timeout=timeout * 1000)
        time.sleep(0.1)
        self.page.wait_for_function(_IDLE, timeout=timeout * 1000)

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("[data-testid=stMainBlockContainer]", timeout=60_000)
        self.settle()

    def present(self, name: str) -> bool:
        return self.page.locator(css(name)).count() > 0

    def text(self) -> str:
        return str(self.page.locator("[data-testid=stMain]").inner_text())

    def overflow(self) -> list[str]:
        """Elements sticking out past the right edge of the window (none on a good layout)."""
        return list(self.page.evaluate(_OVERFLOW))

    def unlabelled(self) -> list[str]:
        """Inputs, buttons and radio groups without an accessible name (none on a good page)."""
        return list(self.page.evaluate(_UNLABELLED))

    def shot(self, name: str, *, full: bool = True) -> Path:
        """A screenshot of the whole page (the window is stretched to its height)."""
        path = self.folder / f"{len(list(self.folder.glob('*.png'))) + 1:02d}_{name}.png"
        size = self.page.viewport_size
        if full:
            height = self.page.evaluate(
                "() => { const m = document.querySelector('[data-testid=stMain]');"
                " return m ? m.scrollHeight : document.body.scrollHeight; }"
            )
            self.page.set_viewport_size(
                {"width": size["width"], "height": max(size["height"], height)}
            )
            time.sleep(0.4)
        self.page.screenshot(path=str(path))
        if full:
            self.page.set_viewport_size(size)
        self.shots.append(path)
        return path

    # -- acting ------------------------------------------------------------------------------

    def click(self, name: str) -> None:
        """Click the button with key ``name``."""
        self.arm()
        self.page.locator(f"{css(name)} button").first.click()
        self.settle()

    def _label(self, q: Question, option: str) -> str:
        if option in SPECIAL_CODES:
            return SPECIAL_LABELS[option].get(self.lang)
        assert q.choices is not None
        choice = q.choices.choice(option)
        assert choice is not None, (q.name, option)
        return choice.label.get(self.lang)

    def check(self, name: str, want: bool) -> bool:
        """Tick (or untick) the checkbox with key ``name``; True if it changed."""
        box = self.page.locator(css(name))
        if box.locator("input[type=checkbox]").is_checked() == want:
            return False
        self.arm()
        box.locator("label").first.click()
        self.settle()
        return True

    def set(self, q: Question, value: Any) -> bool:
        """Put ``value`` into the question's widgets if they are on screen; True if changed."""
        page = self.page
        if q.type == "multiple_choice":
            parts = [*(q.choices.names if q.choices else ()), *q.special]
            if not self.present(key(q.name, parts[0])):
                return False
            chosen = {value} if isinstance(value, str) else set(value)
            changed = False
            for part in [p for p in parts if p in chosen] + [p for p in parts if p not in chosen]:
                changed |= self.check(key(q.name, part), part in chosen)
            return changed
        if not self.present(key(q.name)):
            return False
        box = page.locator(css(key(q.name)))
        if q.type in ("integer", "decimal"):
            special = value if isinstance(value, str) and value in SPECIAL_CODES else None
            changed = False
            for s in q.special:
                changed |= self.check(key(q.name, s), s == special)
            if special is None:
                field = box.locator("input")
                shown = field.input_value()
                if shown == "" or float(shown) != float(value):
                    field.fill(str(value))
                    self.arm()
                    field.press("Enter")
                    self.settle()
                    changed = True
            return changed
        if q.type == "text":
            field = box.locator("input, textarea").first
            if field.input_value() == value:
                return False
            field.fill(value)
            self.arm()
            field.press("Tab")
            self.settle()
            return True
        label = self._label(q, value)
        if box.locator("[data-testid=stSelectbox]").count():
            field = box.locator("input[role=combobox]")
            if field.input_value() == label:
                return False
            field.click()
            field.fill(label)  # the list is virtual: filter it so the option is drawn
            self.arm()
            page.locator("[role=option]", has=page.get_by_text(label, exact=True)).first.click()
            self.settle()
            return True
        option = box.locator("label").filter(has=page.get_by_text(label, exact=True)).first
        if option.locator("input").is_checked():
            return False
        self.arm()
        option.click()
        self.settle()
        return True

    def answer_screen(self, questionnaire: Questionnaire, answers: Mapping[str, Any]) -> None:
        """Fill every question on screen; again while skip logic brings new ones up."""
        for _ in range(10):
            changed = False
            for q in questionnaire.questions:
                if q.is_answerable and q.name in answers:
                    changed |= self.set(q, answers[q.name])
            if not changed:
                return
        raise AssertionError("the screen kept changing")

    def complete(
        self,
        questionnaire: Questionnaire,
        answers: Mapping[str, Any],
        *,
        shots: bool = True,
        check_layout: bool = False,
    ) -> int:
        """Answer every screen, screenshot each, submit; the number of screens."""
        for seen in range(1, 80):
            self.answer_screen(questionnaire, answers)
            if check_layout:
                assert self.overflow() == [], self.overflow()
                assert self.unlabelled() == [], self.unlabelled()
            if shots:
                self.shot(f"page{seen:02d}")
            if self.present("nav_submit"):
                self.click("nav_submit")
                return seen
            self.click("nav_next")
            errors = self.page.locator("[data-testid=stAlertContentError]").all_inner_texts()
            assert not errors, errors
        raise AssertionError("never reached the last screen")
