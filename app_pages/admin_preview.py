"""A questionnaire shown to an administrator exactly as a respondent sees it, before publishing.

The screens, widgets and messages are the respondent page's own (:mod:`app_pages.flow` for the
screens, :func:`app_pages.questions.draw_question` for each question, the core's skip logic and
validation); only the frame differs: the preview works on a questionnaire that is not (yet)
in the registry, Next checks the answers like the respondent page does, and nothing is stored.
"""

from __future__ import annotations

import streamlit as st

from app_pages.common import questionnaire_language, tr
from app_pages.flow import (
    Screen,
    SurveyRun,
    question_count,
    question_numbers,
    screen_index,
    screens,
)
from app_pages.questions import clear_widgets, draw_question, md, sync_answers
from questionnaires.model import Questionnaire
from responses.validation import prune_irrelevant, relevant_questions, validate_answers

RUN = "admin_preview_run"
OWNER = "admin_preview_owner"


def _run(questionnaire: Questionnaire, key: str) -> SurveyRun:
    owner = (key, questionnaire.key, hash(questionnaire))
    run = st.session_state.get(RUN)
    if not isinstance(run, SurveyRun) or st.session_state.get(OWNER) != owner:
        clear_widgets()
        run = SurveyRun(
            questionnaire.id,
            questionnaire.version,
            stage="questions",
            one_per_page=questionnaire.settings.one_question_per_page,
        )
        st.session_state[RUN] = run
        st.session_state[OWNER] = owner
    return run


def _current(run: SurveyRun, questionnaire: Questionnaire) -> tuple[list[Screen], int]:
    all_screens = screens(questionnaire, run.answers, one_per_page=run.one_per_page)
    return all_screens, screen_index(all_screens, run.screen_key) if all_screens else 0


def _sync(run: SurveyRun, questionnaire: Questionnaire) -> Screen | None:
    all_screens, i = _current(run, questionnaire)
    if not all_screens:
        return None
    screen = all_screens[i]
    sync_answers(screen.answerable, run)
    run.answers = dict(prune_irrelevant(questionnaire, run.answers))
    return screen


def _move(questionnaire: Questionnaire, step: int) -> None:
    run = st.session_state.get(RUN)
    if not isinstance(run, SurveyRun):
        return
    screen = _sync(run, questionnaire)
    if screen is None:
        return
    if step > 0:
        problems = validate_answers(
            questionnaire,
            run.answers,
            language=questionnaire_language(questionnaire),
            page=screen.section.name,
        )
        names = {q.name for q in screen.answerable}
        run.errors = {}
        for p in problems:
            if p.question is not None and p.question in names:
                run.errors.setdefault(p.question, p.message)
        if run.errors:
            return
    all_screens, i = _current(run, questionnaire)
    target = i + step
    run.stage = "submitted" if target >= len(all_screens) else "questions"
    if 0 <= target < len(all_screens):
        clear_widgets()
        run.screen_key = all_screens[target].key


def _restart() -> None:
    st.session_state.pop(RUN, None)
    st.session_state.pop(OWNER, None)
    clear_widgets()


def draw_preview(questionnaire: Questionnaire, *, key: str) -> None:
    """Draw ``questionnaire`` screen by screen as the respondent page does (nothing is stored).

    ``key`` names the preview (a new key starts it afresh, e.g. for a new upload).
    """
    lang = questionnaire_language(questionnaire)
    run = _run(questionnaire, key)
    one_per_page = st.toggle(
        tr("每屏一道题", "One question per screen"),
        value=run.one_per_page,
        disabled=questionnaire.settings.one_question_per_page,
        key=f"preview_one_per_page_{key}",
    )
    if one_per_page != run.one_per_page:
        run.one_per_page = one_per_page
        run.screen_key = None
    st.markdown("### " + md(questionnaire.title.get(lang)))
    st.caption(
        tr(f"{question_count(questionnaire)} 道题", f"{question_count(questionnaire)} questions")
    )
    if questionnaire.description is not None:
        st.markdown(md(questionnaire.description.get(lang)))
    if questionnaire.consent is not None:
        with st.expander(tr("知情同意书", "Consent statement")):
            st.markdown(md(questionnaire.consent.text.get(lang)))
            st.caption(
                tr("知情同意书版本：", "Consent statement version: ")
                + questionnaire.consent.version
            )
    screen = _sync(run, questionnaire)
    all_screens, i = _current(run, questionnaire)
    if screen is None or not all_screens:
        st.warning(
            tr("这份问卷没有需要回答的题目。", "This questionnaire has no questions to answer.")
        )
        return
    screen = all_screens[i]
    run.screen_key = screen.key
    relevance = relevant_questions(questionnaire, run.answers)
    st.progress(
        i / len(all_screens),
        text=tr(f"第 {i + 1} 页，共 {len(all_screens)} 页", f"Page {i + 1} of {len(all_screens)}"),
    )
    st.markdown("#### " + md(screen.section.title.get(lang)))
    if screen.section.description is not None:
        st.markdown(md(screen.section.description.get(lang)))
    if run.errors:
        st.error(
            tr(
                f"有 {len(run.errors)} 道题需要修改，请查看标红的提示。",
                f"{len(run.errors)} answer(s) need attention: see the messages in red.",
            ),
            icon=":material/error:",
        )
    numbers = question_numbers(questionnaire)
    for q in screen.questions:
        if q.name in relevance.questions:
            draw_question(
                q, run, lang=lang, number=numbers.get(q.name), relevant=relevance.is_relevant
            )
    back, restart, following = st.columns(3)
    back.button(
        tr("上一页", "Back"),
        key=f"preview_back_{key}",
        disabled=i == 0,
        on_click=_move,
        args=(questionnaire, -1),
    )
    restart.button(tr("从头预览", "Restart"), key=f"preview_restart_{key}", on_click=_restart)
    if i + 1 < len(all_screens):
        following.button(
            tr("下一页", "Next"),
            key=f"preview_next_{key}",
            type="primary",
            on_click=_move,
            args=(questionnaire, 1),
        )
    else:
        following.button(
            tr("提交（预览，不保存）", "Submit (preview: not stored)"),
            key=f"preview_next_{key}",
            type="primary",
            on_click=_move,
            args=(questionnaire, 1),
        )
        if run.stage == "submitted":
            st.success(
                tr(
                    "所有答案都符合问卷的规则；受访者此时会提交并看到反馈页。",
                    "Every answer meets the questionnaire's rules: a respondent would now "
                    "submit and see the feedback page.",
                )
            )
    st.caption(tr("预览不会保存任何答案。", "Nothing entered in the preview is stored."))
