"""The respondent's page: landing, consent, the questions, submission and feedback.

Entry: the landing page lists the open questionnaires; a link ``?q=<id>`` (with ``&token=...``
for invitation-only questionnaires, ``&lang=en`` for English) opens one directly, and
``?resume=<code>`` continues a saved answer sheet. The flow's bookkeeping is in
:mod:`app_pages.flow`, the widgets in :mod:`app_pages.questions`, the feedback in
:mod:`app_pages.feedback_view`; validity, skip logic and storage are the core's
(:mod:`responses.validation`, :mod:`responses.submission`).

Every state change happens in a button callback (before anything is drawn), so a screen is
always drawn from the state the click left, and a click that arrives twice finds the work done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3

import streamlit as st

from app_pages import feedback_view
from app_pages.common import (
    client_key,
    config,
    language,
    questionnaire_language,
    registry,
    store,
    tr,
)
from app_pages.flow import (
    Screen,
    SurveyRun,
    estimated_minutes,
    question_count,
    question_numbers,
    screen_index,
    screens,
)
from app_pages.questions import clear_widgets, draw_question, md, sync_answers
from questionnaires.model import Questionnaire
from responses.errors import InvitationError, QuotaFullError, ResponseError, StoreError
from responses.overrides import effective_questionnaire, offered_questionnaires
from responses.state import format_resume_code
from responses.submission import (
    Progress,
    claim_invitation,
    quota_cell,
    quota_status,
    resume,
    save_progress,
    submit_answers,
)
from responses.validation import message, prune_irrelevant, relevant_questions, validate_answers

RUN = "survey_run"
NOTICE = "survey_notice"

CSS = """
<style>
/* question blocks: air between questions, calm headings */
[class*="st-key-block_"] { padding: 0.35rem 0 0.9rem 0;
  border-bottom: 1px solid rgba(49,51,63,0.12); }
[class*="st-key-block_"] p { line-height: 1.6; }
/* big touch targets for options */
[data-testid="stRadio"] label, [data-testid="stCheckbox"] label { padding: 0.3rem 0; }
[data-testid="stRadio"] div[role="radiogroup"] { gap: 0.15rem 1rem; }
/* a scale (likert, matrix item): on wide screens a row of equal cells with the label under
   the button, like a matrix table; on phones a plain vertical list */
[class*="st-key-item_"] [data-testid="stRadioGroup"],
[class*="st-key-scale_"] [data-testid="stRadioGroup"] {
  display: grid; grid-template-columns: repeat(auto-fit, minmax(4.8rem, 1fr));
  align-items: start; gap: 0.2rem; width: 100%; }
[class*="st-key-item_"] [data-testid="stRadioGroup"] > div,
[class*="st-key-scale_"] [data-testid="stRadioGroup"] > div { width: 100%; }
[class*="st-key-item_"] [data-testid="stRadioOption"],
[class*="st-key-scale_"] [data-testid="stRadioOption"] {
  width: 100%; justify-content: center; margin: 0; padding: 0.35rem 0.15rem;
  border-radius: 0.5rem; }
[class*="st-key-item_"] [data-testid="stRadioOption"] > div,
[class*="st-key-scale_"] [data-testid="stRadioOption"] > div {
  flex-direction: column; align-items: center; text-align: center; gap: 0.3rem; }
[class*="st-key-item_"] [data-testid="stRadioOption"]:hover,
[class*="st-key-scale_"] [data-testid="stRadioOption"]:hover { background: rgba(29,95,191,0.06); }
@media (max-width: 640px) {
  [class*="st-key-item_"] [data-testid="stRadioGroup"],
  [class*="st-key-scale_"] [data-testid="stRadioGroup"] {
    display: flex; flex-direction: column; align-items: stretch; }
  [class*="st-key-item_"] [data-testid="stRadioOption"],
  [class*="st-key-scale_"] [data-testid="stRadioOption"] { justify-content: flex-start; }
  [class*="st-key-item_"] [data-testid="stRadioOption"] > div,
  [class*="st-key-scale_"] [data-testid="stRadioOption"] > div {
    flex-direction: row; text-align: left; gap: 0.5rem; }
}
/* the navigation bar sticks to the bottom of the screen on phones */
.st-key-nav_bar { position: sticky; bottom: 0; background: var(--background-color, #fff);
  padding: 0.6rem 0 0.4rem 0; z-index: 10; border-top: 1px solid rgba(49,51,63,0.12); }
.st-key-landing_lang_box { margin-bottom: -0.5rem; }
@media (max-width: 640px) {
  .block-container, [data-testid="stMainBlockContainer"] {
    padding-left: 1rem; padding-right: 1rem; padding-top: 2.5rem; }
  [data-testid="stMain"] h1 { font-size: 1.6rem !important; }
  [data-testid="stMain"] h2 { font-size: 1.35rem !important; }
  [data-testid="stMain"] h3 { font-size: 1.2rem !important; }
}
</style>
"""


# --- shared state -----------------------------------------------------------------------------


def _run() -> SurveyRun | None:
    run = st.session_state.get(RUN)
    return run if isinstance(run, SurveyRun) else None


def _questionnaire(run: SurveyRun) -> Questionnaire | None:
    try:
        return registry().get(run.questionnaire_id, run.questionnaire_version)
    except KeyError:
        return None


def _lang(questionnaire: Questionnaire | None = None) -> str:
    return language() if questionnaire is None else questionnaire_language(questionnaire)


def _notice(kind: str, text: str) -> None:
    st.session_state[NOTICE] = (kind, text)


def _user_agent() -> str | None:
    try:
        value = st.context.headers.get("User-Agent")
    except (AttributeError, RuntimeError):
        return None
    return str(value) if value else None


def _set_param(name: str, value: str | None) -> None:
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
    else:
        st.query_params[name] = value


def _start(questionnaire: Questionnaire, *, token: str | None = None) -> SurveyRun:
    clear_widgets()
    run = SurveyRun(
        questionnaire.id,
        questionnaire.version,
        one_per_page=questionnaire.settings.one_question_per_page,
        token=token,
    )
    st.session_state[RUN] = run
    return run


def _leave() -> None:
    """Back to the list of questionnaires (the answer sheet is dropped, not stored)."""
    st.session_state.pop(RUN, None)
    clear_widgets()
    for name in ("q", "token", "resume"):
        _set_param(name, None)


def _set_language(choice: str) -> None:
    st.session_state["lang"] = choice
    st.session_state["lang_switch"] = choice
    st.query_params["lang"] = choice


# --- entry: links -----------------------------------------------------------------------------


def _refuse(text: str) -> None:
    st.session_state.pop(RUN, None)
    _notice("refused", text)


def _restore(progress: Progress) -> SurveyRun | None:
    lang = _lang()
    try:
        questionnaire = effective_questionnaire(
            registry(), store().state, progress.questionnaire_id, progress.questionnaire_version
        )
    except KeyError:
        _refuse(
            tr(
                "这份答卷所用的问卷版本已不再提供，无法继续作答。",
                "The questionnaire version of this answer sheet is no longer available.",
            )
        )
        return None
    if questionnaire.status == "closed":
        _refuse(message("closed", lang))
        return None
    clear_widgets()
    consent = questionnaire.consent
    # the respondent agreed to the text now in force only if the draft says so: otherwise
    # (another version, or a draft that did not record it) ask again before continuing
    agreed = consent is None or progress.consent_version == consent.version
    run = SurveyRun(
        questionnaire.id,
        questionnaire.version,
        response_id=progress.response_id,
        started_at=progress.started_at or dt.datetime.now(dt.UTC),
        stage="questions" if agreed else "consent",
        answers=dict(prune_irrelevant(questionnaire, dict(progress.answers))),
        screen_key=progress.page,
        one_per_page=questionnaire.settings.one_question_per_page,
        consent_version=consent.version if consent is not None and agreed else None,
        resume_code=progress.resume_code,
        resumed=True,
        draft_consent_version=progress.consent_version,
    )
    all_screens = screens(questionnaire, run.answers, one_per_page=run.one_per_page)
    if all_screens:
        current = all_screens[screen_index(all_screens, run.screen_key)]
        run.screen_key = current.key
        if agreed:
            run.enter(current.section.name)
    st.session_state[RUN] = run
    return run


def _resume_code(code: str, *, from_link: bool) -> bool:
    lang = _lang()
    try:
        progress = resume(store().state, code, attempt_key=client_key(), language=lang)
    except ResponseError as exc:
        _notice("error", str(exc))
        return False
    except sqlite3.Error:
        _notice(
            "error",
            tr(
                "暂时无法读取保存的答卷，请稍后再试。",
                "Saved answers cannot be read at the moment; please try again later.",
            ),
        )
        return False
    if progress is None:
        _notice(
            "error",
            tr(
                "找不到与这个续答码对应的未完成答卷：请检查续答码是否输入正确。续答码在最后一次保存后"
                f"{config().draft_retention_days:g} 天内有效；答卷提交后续答码即失效。",
                "No unfinished answer sheet has this code: check that it was typed correctly. "
                f"A code works for {config().draft_retention_days:g} days after the last save, "
                "and stops working once the answers are submitted.",
            ),
        )
        if from_link:
            _set_param("resume", None)
        return False
    run = _restore(progress)
    if run is None:
        return False
    _set_param("q", run.questionnaire_id)
    _set_param("resume", progress.resume_code)
    return True


def _open_link(qid: str, token: str | None) -> None:
    lang = _lang()
    reg = registry()
    try:
        questionnaire = effective_questionnaire(reg, store().state, qid)
    except KeyError:
        if qid in reg.ids():
            _refuse(message("closed", lang))
        else:
            _notice(
                "error",
                tr(
                    f"没有找到问卷“{qid}”：链接可能不完整。请从下面的列表中选择。",
                    f'There is no questionnaire "{qid}": the link may be incomplete. '
                    "Choose from the list below.",
                ),
            )
            _set_param("q", None)
        return
    if not questionnaire.settings.invitation_only:
        _start(questionnaire)
        return
    state = store().state
    if not token:
        _refuse(message("token_missing", lang))
        return
    status = state.token_status(questionnaire.id, token)
    if status == "unknown":
        _refuse(message("token_unknown", lang))
        return
    if status == "submitted":
        _refuse(message("token_used", lang))
        return
    progress = resume(state, token, questionnaire_id=questionnaire.id, language=lang)
    if progress is not None:
        run = _restore(progress)
        if run is not None:
            run.token = token
        return
    if status == "started":
        # claimed by an answer sheet that was never saved (or whose draft expired)
        _refuse(message("token_used", lang))
        return
    _start(questionnaire, token=token)


def _entry() -> None:
    """Act on the link the respondent came with (once per browser session)."""
    if st.session_state.get("survey_entry_done"):
        return
    st.session_state["survey_entry_done"] = True
    params = st.query_params
    code = params.get("resume")
    qid = params.get("q")
    if code:
        _resume_code(code, from_link=True)
    elif qid:
        _open_link(qid, params.get("token") or None)


# --- saving -------------------------------------------------------------------------------------


def _autosave(run: SurveyRun, questionnaire: Questionnaire, section: str | None) -> str | None:
    """Save the answers so far as a draft (the code goes into the address, so a reload resumes).

    Returns an error message when the draft could not be saved (the answers stay on screen).
    """
    try:
        code = save_progress(
            store().state,
            questionnaire,
            run.answers,
            page=section,
            response_id=run.response_id,
            language=_lang(questionnaire),
            started_at=run.started_at,
            token=run.token,
            resume_code=run.resume_code,
            attempt_key=client_key(),
            consent_version=run.consent_version,
        )
    except (ResponseError, InvitationError) as exc:
        return str(exc)
    except sqlite3.Error:
        return tr("答卷暂时无法保存。", "The answers could not be saved just now.")
    run.resume_code = code
    if run.token is None:
        _set_param("resume", code)
    return None


def _resume_link(code: str) -> str:
    base = config().public_url.rstrip("/")
    suffix = "&lang=en" if language() == "en" else ""
    return f"{base}/?resume={format_resume_code(code)}{suffix}"


# --- callbacks ----------------------------------------------------------------------------------


def _on_start(qid: str) -> None:
    try:
        questionnaire = effective_questionnaire(registry(), store().state, qid)
    except KeyError:
        _notice("error", message("closed", _lang()))
        return
    _start(questionnaire)
    _set_param("q", qid)


def _on_resume_form() -> None:
    code = str(st.session_state.get("resume_code_input") or "").strip()
    if not code:
        _notice("error", tr("请输入续答码。", "Please enter your code."))
        return
    _resume_code(code, from_link=False)


def _current(run: SurveyRun, questionnaire: Questionnaire) -> tuple[list[Screen], int]:
    all_screens = screens(questionnaire, run.answers, one_per_page=run.one_per_page)
    return all_screens, screen_index(all_screens, run.screen_key)


def _go(run: SurveyRun, questionnaire: Questionnaire, screen: Screen) -> None:
    run.screen_key = screen.key
    run.errors = {}
    run.enter(screen.section.name)
    clear_widgets()
    run.save_error = _autosave(run, questionnaire, screen.section.name)


def _on_agree() -> None:
    run = _run()
    questionnaire = _questionnaire(run) if run is not None else None
    if run is None or questionnaire is None or run.stage != "consent":
        return  # a second click that arrives after the first was handled
    if not questionnaire.settings.one_question_per_page:
        run.one_per_page = bool(st.session_state.get("opt_one_per_page"))
    if run.token is not None:
        try:
            claim_invitation(
                store().state,
                questionnaire,
                run.token,
                response_id=run.response_id,
                language=_lang(questionnaire),
            )
        except ResponseError as exc:
            _refuse(str(exc))
            return
    consent = questionnaire.consent
    run.consent_version = consent.version if consent is not None else None
    run.stage = "questions"
    all_screens, i = _current(run, questionnaire)
    if run.resumed:
        # agreeing again to a changed consent statement: carry on where the draft left off,
        # with its answers, response id and start time
        if all_screens:
            _go(run, questionnaire, all_screens[i])
        return
    run.started_at = dt.datetime.now(dt.UTC)
    if all_screens:
        _go(run, questionnaire, all_screens[0])


def _on_decline() -> None:
    run = _run()
    if run is not None and run.resumed:
        # a saved draft holds answers given under the earlier consent: declining removes it
        try:
            store().state.delete_drafts(response_id=run.response_id)
        except sqlite3.Error:
            _leave()
            _notice(
                "warning",
                tr(
                    "您没有同意新的知情同意书。暂时无法删除您保存的草稿，它将在保存期满后自动删除。",
                    "You did not agree to the new consent statement. Your saved draft could not "
                    "be removed just now; it is removed automatically when it expires.",
                ),
            )
            return
        _leave()
        _notice(
            "info",
            tr(
                "您没有同意新的知情同意书，您保存的草稿已删除，没有任何答卷被记录。感谢您的关注。",
                "You did not agree to the new consent statement: your saved draft was removed "
                "and no answer sheet was recorded. Thank you for your interest.",
            ),
        )
        return
    _leave()
    _notice(
        "info",
        tr(
            "您没有同意参加本次调查，我们没有记录任何信息。感谢您的关注。",
            "You did not agree to take part, so nothing was recorded. Thank you for your interest.",
        ),
    )


def _on_large_text() -> None:
    st.session_state["large_text"] = bool(st.session_state.get("opt_large_text"))


def _sync_screen(run: SurveyRun, questionnaire: Questionnaire) -> Screen | None:
    all_screens, i = _current(run, questionnaire)
    if not all_screens:
        return None
    screen = all_screens[i]
    sync_answers(screen.answerable, run)
    run.answers = dict(prune_irrelevant(questionnaire, run.answers))
    return screen


def _screen_problems(
    run: SurveyRun, questionnaire: Questionnaire, screen: Screen
) -> dict[str, str]:
    lang = _lang(questionnaire)
    problems = validate_answers(questionnaire, run.answers, language=lang, page=screen.section.name)
    names = {q.name for q in screen.answerable}
    found: dict[str, str] = {}
    for p in problems:
        if p.question is not None and p.question in names:
            found.setdefault(p.question, p.message)
    return found


def _quota_full(run: SurveyRun, questionnaire: Questionnaire) -> bool:
    if questionnaire.settings.quotas is None or quota_cell(questionnaire, run.answers) is None:
        return False
    status = quota_status(store(), questionnaire, run.answers, exclude_response_id=run.response_id)
    if not status.full:
        return False
    _close_for_quota(run)
    return True


def _close_for_quota(run: SurveyRun) -> None:
    run.stage = "quota_full"
    run.answers = {}
    with contextlib.suppress(sqlite3.Error):  # else the draft expires on its own
        store().state.delete_drafts(response_id=run.response_id)
    _set_param("resume", None)
    clear_widgets()


def _on_next() -> None:
    run = _run()
    questionnaire = _questionnaire(run) if run is not None else None
    if run is None or questionnaire is None or run.stage != "questions":
        return
    screen = _sync_screen(run, questionnaire)
    if screen is None:
        return
    run.errors = _screen_problems(run, questionnaire, screen)
    if run.errors:
        return
    if _quota_full(run, questionnaire):
        return
    all_screens, i = _current(run, questionnaire)
    if i + 1 < len(all_screens):
        _go(run, questionnaire, all_screens[i + 1])


def _on_back() -> None:
    run = _run()
    questionnaire = _questionnaire(run) if run is not None else None
    if run is None or questionnaire is None or run.stage != "questions":
        return
    _sync_screen(run, questionnaire)
    all_screens, i = _current(run, questionnaire)
    if i > 0:
        _go(run, questionnaire, all_screens[i - 1])


def _on_save_later() -> None:
    run = _run()
    questionnaire = _questionnaire(run) if run is not None else None
    if run is None or questionnaire is None:
        return
    screen = _sync_screen(run, questionnaire)
    section = screen.section.name if screen is not None else None
    run.save_error = _autosave(run, questionnaire, section)
    st.session_state["show_resume_code"] = run.save_error is None


def _on_submit() -> None:
    run = _run()
    questionnaire = _questionnaire(run) if run is not None else None
    if run is None or questionnaire is None or run.stage != "questions":
        return
    screen = _sync_screen(run, questionnaire)
    if screen is not None:
        run.errors = _screen_problems(run, questionnaire, screen)
        if run.errors:
            return
    lang = _lang(questionnaire)
    run.submit_error = None
    try:
        receipt = submit_answers(
            store(),
            questionnaire,
            run.answers,
            response_id=run.response_id,
            language=lang,
            started_at=run.started_at,
            consent_version=run.consent_version,
            paradata=run.paradata(questionnaire, st.session_state.get("user_agent")),
            token=run.token,
            attempt_key=client_key(),  # rate limit per browser session (and per token)
        )
    except QuotaFullError:
        _close_for_quota(run)
        return
    except ResponseError as exc:
        _show_problems(run, questionnaire, exc)
        return
    except StoreError as exc:
        run.submit_error = str(exc)
        return
    except sqlite3.Error as exc:  # the state database (invitation, draft) was not reachable
        run.submit_error = str(exc)
        return
    run.stage = "submitted"
    run.duplicate = receipt.duplicate
    run.resume_code = None
    # a reload now lands on the start page, not on a new answer sheet
    for name in ("resume", "q", "token"):
        _set_param(name, None)
    clear_widgets()


def _show_problems(run: SurveyRun, questionnaire: Questionnaire, exc: ResponseError) -> None:
    """A refused submission: put each problem beside its question, on its screen."""
    by_question = [p for p in exc.details if p.question is not None]
    if not by_question:
        rules = {p.rule for p in exc.details}
        if rules & {"token_missing", "token_unknown", "token_used"}:
            _refuse(str(exc))
        elif "closed" in rules:
            run.stage = "closed"
        else:
            run.submit_error = str(exc)
        return
    run.errors = {}
    for p in by_question:
        run.errors.setdefault(str(p.question), p.message)
    first = by_question[0]
    all_screens, _ = _current(run, questionnaire)
    for s in all_screens:
        if any(q.name == first.question for q in s.answerable):
            errors = run.errors
            _go(run, questionnaire, s)
            run.errors = errors
            return


# --- drawing ------------------------------------------------------------------------------------


def _draw_notice() -> None:
    notice = st.session_state.pop(NOTICE, None)
    if not notice:
        return
    kind, text = notice
    if kind == "info":
        st.info(text, icon=":material/info:")
    elif kind == "refused":
        st.error(text, icon=":material/block:")
    else:
        st.warning(text, icon=":material/warning:")


def _on_landing_language() -> None:
    _set_language(str(st.session_state.get("landing_lang") or language()))


def _language_switch() -> None:
    st.session_state["landing_lang"] = language()
    st.segmented_control(
        "语言 / Language",
        options=["zh", "en"],
        format_func=lambda code: "中文" if code == "zh" else "English",
        key="landing_lang",
        on_change=_on_landing_language,
        required=True,
    )


def _landing() -> None:
    with st.container(key="landing_lang_box"):
        _language_switch()
    _draw_notice()
    st.title(tr("金融素养调查", "Financial literacy surveys"))
    st.markdown(
        tr(
            "欢迎参加消费者金融素养调查。调查是匿名的，作答完成后您可以看到自己的得分、"
            "各题的正确答案和解释。",
            "Welcome. The surveys are anonymous; when you finish you will see your scores, "
            "the right answers and why.",
        )
    )
    lang = _lang()
    listed = offered_questionnaires(registry(), store().state)
    if not listed:
        st.info(tr("目前没有正在进行的调查。", "There is no survey open at the moment."))
    for q in listed:
        qlang = lang if lang in q.languages else "zh"
        with st.container(border=True, key=f"card_{q.id}"):
            st.subheader(md(q.title.get(qlang)))
            if q.description is not None:
                st.markdown(md(q.description.get(qlang)))
            minutes = estimated_minutes(q)
            st.caption(
                tr(
                    f"约 {minutes} 分钟 · {question_count(q)} 道题",
                    f"About {minutes} min · {question_count(q)} questions",
                )
            )
            if q.settings.invitation_only:
                st.caption(
                    tr(
                        "仅限受邀者参加：请使用邀请中的链接打开。",
                        "By invitation only: open it with the link in your invitation.",
                    )
                )
            else:
                st.button(
                    tr("开始作答", "Start"),
                    key=f"start_{q.id}",
                    type="primary",
                    on_click=_on_start,
                    args=(q.id,),
                    icon=":material/play_arrow:",
                )
    with st.container(border=True, key="resume_box"):
        st.markdown("**" + tr("继续未完成的问卷", "Continue an unfinished questionnaire") + "**")
        with st.form("resume_form", border=False):
            st.text_input(
                tr("续答码", "Your code"),
                key="resume_code_input",
                placeholder="XXXX-XXXX-XXXX",
                max_chars=40,
            )
            st.form_submit_button(
                tr("继续作答", "Continue"),
                on_click=_on_resume_form,
                icon=":material/restore:",
                key="resume_submit",
            )


def _consent_changed_note(run: SurveyRun) -> None:
    """Why a resumed answer sheet starts on the consent page again."""
    if run.draft_consent_version is None:
        text = tr(
            "欢迎回来。请重新阅读并同意下面的知情同意书后继续作答；您已填的答案都会保留。",
            "Welcome back. Please read and agree to the consent statement again to continue; "
            "every answer you gave is kept.",
        )
    else:
        text = tr(
            "欢迎回来。自您开始作答以来，知情同意书已经更新。请阅读并同意更新后的知情同意书后"
            "继续作答；您已填的答案都会保留。",
            "Welcome back. The consent statement has changed since you started. Please read and "
            "agree to the new statement to continue; every answer you gave is kept.",
        )
    st.info(text, icon=":material/update:")


def _consent(run: SurveyRun, questionnaire: Questionnaire) -> None:
    lang = _lang(questionnaire)
    st.title(md(questionnaire.title.get(lang)))
    minutes = estimated_minutes(questionnaire)
    st.caption(
        tr(
            f"约 {minutes} 分钟 · {question_count(questionnaire)} 道题 · 匿名",
            f"About {minutes} min · {question_count(questionnaire)} questions · anonymous",
        )
    )
    if questionnaire.description is not None:
        st.markdown(md(questionnaire.description.get(lang)))
    again = run.resumed and questionnaire.consent is not None
    if again:
        _consent_changed_note(run)
    if questionnaire.consent is not None:
        with st.container(border=True, key="consent_text"):
            st.markdown(md(questionnaire.consent.text.get(lang)))
            st.caption(
                tr("知情同意书版本：", "Consent statement version: ")
                + questionnaire.consent.version
            )
    st.markdown("**" + tr("显示方式", "Display") + "**")
    forced = questionnaire.settings.one_question_per_page
    st.checkbox(
        tr(
            "每屏只显示一道题（适合老年人或手机用户）",
            "One question per screen (easier on a phone)",
        ),
        value=forced or run.one_per_page,
        disabled=forced,
        key="opt_one_per_page",
    )
    st.session_state["opt_large_text"] = bool(st.session_state.get("large_text"))  # as the sidebar
    st.checkbox(
        tr("大字号", "Large text"),
        key="opt_large_text",
        on_change=_on_large_text,
    )
    agree = tr("同意并继续作答", "I agree, continue")
    if not again:
        agree = tr("同意并开始", "I agree, start")
    with st.container(horizontal=True, key="consent_buttons"):
        st.button(
            agree,
            type="primary",
            key="consent_agree",
            on_click=_on_agree,
            icon=":material/check:",
        )
        st.button(tr("不同意", "I do not agree"), key="consent_decline", on_click=_on_decline)


def _questions(run: SurveyRun, questionnaire: Questionnaire) -> None:
    lang = _lang(questionnaire)
    screen = _sync_screen(run, questionnaire)
    all_screens, i = _current(run, questionnaire)
    if screen is None or not all_screens:
        st.warning(
            tr("这份问卷没有需要回答的题目。", "This questionnaire has no questions to answer.")
        )
        return
    if run.screen_key != screen.key:
        run.screen_key = screen.key
    relevance = relevant_questions(questionnaire, run.answers)
    st.caption(md(questionnaire.title.get(lang)))
    total = len(all_screens)
    st.progress(
        i / total,
        text=tr(f"第 {i + 1} 页，共 {total} 页", f"Page {i + 1} of {total}"),
    )
    if run.resumed:
        st.info(
            tr("已恢复您上次保存的答案，请继续作答。", "Your saved answers are back; carry on."),
            icon=":material/restore:",
        )
        run.resumed = False
    section = screen.section
    st.subheader(md(section.title.get(lang)))
    if section.description is not None and (
        not run.one_per_page or _first_of_section(all_screens, i)
    ):
        st.markdown(md(section.description.get(lang)))
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
        if q.name not in relevance.questions:
            continue
        draw_question(q, run, lang=lang, number=numbers.get(q.name), relevant=relevance.is_relevant)
    st.caption(
        tr("标 :red[**\\***] 的题为必答题。", "Questions marked :red[**\\***] are required.")
    )
    if run.submit_error:
        st.error(
            tr(
                "提交没有成功：服务器暂时无法保存您的答卷。您的答案都还在这里，请稍后点击"
                "“重新提交”。",
                "Your answers could not be submitted: the server could not store them just now. "
                "Everything you entered is still here; please press “Try again” in a moment.",
            ),
            icon=":material/cloud_off:",
        )
        st.caption(run.submit_error)
    last = i + 1 == total
    with st.container(horizontal=True, key="nav_bar", horizontal_alignment="distribute"):
        st.button(
            tr("上一页", "Back"),
            key="nav_back",
            on_click=_on_back,
            disabled=i == 0,
            icon=":material/arrow_back:",
        )
        if last:
            st.button(
                tr("重新提交", "Try again") if run.submit_error else tr("提交", "Submit"),
                key="nav_submit",
                type="primary",
                on_click=_on_submit,
                icon=":material/send:",
            )
        else:
            st.button(
                tr("下一页", "Next"),
                key="nav_next",
                type="primary",
                on_click=_on_next,
                icon=":material/arrow_forward:",
                icon_position="right",
            )
    _save_later(run)


def _first_of_section(all_screens: list[Screen], i: int) -> bool:
    return i == 0 or all_screens[i - 1].section.name != all_screens[i].section.name


def _save_later(run: SurveyRun) -> None:
    st.button(
        tr("保存，稍后继续", "Save and continue later"),
        key="save_later",
        type="tertiary",
        on_click=_on_save_later,
        icon=":material/bookmark:",
    )
    save_error = run.save_error
    if save_error:
        st.warning(
            tr("答案暂时没能保存：", "Your answers could not be saved just now: ") + save_error,
            icon=":material/warning:",
        )
    if st.session_state.get("show_resume_code") and run.resume_code:
        code = format_resume_code(run.resume_code)
        with st.container(border=True, key="resume_info"):
            st.markdown("**" + tr("您的续答码", "Your code to continue") + "**")
            st.code(code, language=None)
            days = f"{config().draft_retention_days:g}"
            st.markdown(
                tr(
                    f"请记下续答码（或保存下面的链接）。{days} 天内，在问卷首页输入续答码"
                    "或打开链接，即可从这一页继续作答，已填的答案都会保留。",
                    f"Write the code down (or keep the link below). Within {days} days, enter the "
                    "code on the start page or open the link to continue from this page with "
                    "every answer kept.",
                )
            )
            st.code(_resume_link(run.resume_code), language=None, wrap_lines=True)


def _receipt(run: SurveyRun) -> None:
    """The answer-sheet number (the response id), to quote when asking for a withdrawal.

    Shown as text in a code box (copyable, never Markdown); it is drawn from the run kept in
    the session, so it stays on the feedback page through every rerun.
    """
    with st.container(border=True, key="receipt"):
        st.markdown(tr("**您的答卷编号**", "**Your answer-sheet number**"))
        st.code(run.response_id, language=None, wrap_lines=True)
        st.caption(
            tr(
                "请保存好这个编号：如需撤回您的答卷，向调查组织方提供此编号即可将答卷全部删除；"
                "编号是随机生成的，与您的身份没有关联。",
                "Keep this number: to withdraw your answers, quote it to the survey organiser "
                "and your answer sheet will be deleted everywhere it is stored; the number is "
                "random and not linked to your identity.",
            )
        )


def _outcome(run: SurveyRun, questionnaire: Questionnaire) -> None:
    lang = _lang(questionnaire)
    if run.stage == "quota_full":
        st.title(tr("感谢您的参与", "Thank you"))
        st.info(message("quota_full", lang), icon=":material/volunteer_activism:")
        st.caption(
            tr(
                "您填写的答案不会被记录或计入统计。",
                "The answers you gave are not recorded or counted.",
            )
        )
    elif run.stage == "closed":
        st.title(tr("调查已结束", "The survey has closed"))
        st.info(message("closed", lang))
    else:
        st.title(tr("提交成功，感谢您的参与！", "Thank you! Your answers are in."))
        st.success(
            tr(
                "您的答卷已经保存。以下是您的结果和各题解析。",
                "Your answer sheet has been stored. Here are your results and the answers "
                "explained.",
            ),
            icon=":material/task_alt:",
        )
        _receipt(run)
        feedback_view.draw(questionnaire, run.answers, lang=lang)
    st.button(tr("返回首页", "Back to the start page"), key="home", on_click=_leave)


#: With the large-text option, headings on phones stay larger than the (larger) body text.
LARGE_HEADINGS_CSS = """
<style>
@media (max-width: 640px) {
  [data-testid="stMain"] h1 { font-size: 1.9rem !important; }
  [data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 1.5rem !important; }
}
</style>
"""


def main() -> None:
    """Draw the respondent's page for the current state."""
    st.markdown(CSS, unsafe_allow_html=True)
    if st.session_state.get("large_text"):
        st.markdown(LARGE_HEADINGS_CSS, unsafe_allow_html=True)
    st.session_state["user_agent"] = _user_agent()
    _entry()
    run = _run()
    questionnaire = _questionnaire(run) if run is not None else None
    if run is None or questionnaire is None:
        if run is not None:
            st.session_state.pop(RUN, None)
        _landing()
        return
    _draw_notice()
    if run.stage == "consent":
        _consent(run, questionnaire)
    elif run.stage == "questions":
        _questions(run, questionnaire)
    else:
        _outcome(run, questionnaire)


main()
