"""What every page shares: language, shared resources (cached), the staff session.

Pages call :func:`tr` for bilingual strings (Chinese first), :func:`store` / :func:`registry`
for the data, and :func:`require` at the top of every staff page so that a page reached by
any route still checks the signed-in role.
"""

from __future__ import annotations

import re
import secrets
from typing import Literal

import streamlit as st

import access
from questionnaires import load_registry
from questionnaires.model import Questionnaire
from questionnaires.registry import QuestionnaireRegistry
from responses.config import Config, load_config
from responses.store import ParquetResponseStore

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
_SESSION_KEY = "staff_session_id"


def language() -> Language:
    """The interface language: the session's choice, else ``?lang=``, else Chinese."""
    if "lang" not in st.session_state:
        wanted = st.query_params.get("lang", "zh")
        st.session_state["lang"] = wanted if wanted in LANGUAGES else "zh"
    lang = st.session_state["lang"]
    return "en" if lang == "en" else "zh"


def questionnaire_language(questionnaire: Questionnaire) -> str:
    """The interface language if ``questionnaire`` is written in it, else Chinese (every
    questionnaire has Chinese)."""
    lang = language()
    return lang if lang in questionnaire.languages else "zh"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


#: Where GitHub-flavoured Markdown would turn bare text into a link (``http://``, ``www.``,
#: an e-mail address): an invisible WORD JOINER (U+2060) is put in, which no escape can do,
#: because the links are found in the text after escapes are resolved.
_AUTOLINK = re.compile(r"(?i)(:(?=//)|w(?=ww\.)|@)")


def escape_markdown(text: object) -> str:
    """``text`` shown as it is in Streamlit Markdown (``st.markdown``, ``st.caption``, alerts,
    widget labels): no emphasis, links (also not bare URLs or e-mail addresses), images, HTML,
    ``$`` maths or ``:red[...]`` colours. Use it for anything a person typed (a name, a file
    name, an answer)."""
    text = _AUTOLINK.sub(lambda m: m.group(1) + "\u2060", str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def tr(zh: str, en: str) -> str:
    """The string for the current language."""
    return en if language() == "en" else zh


def client_key() -> str:
    """A random key for this browser session (throttling of sign-in attempts per client)."""
    if "client_key" not in st.session_state:
        st.session_state["client_key"] = secrets.token_urlsafe(16)
    return str(st.session_state["client_key"])


@st.cache_resource
def config() -> Config:
    """The platform configuration (``SURVEY_*`` environment, ``survey.toml``, defaults)."""
    return load_config()


@st.cache_resource
def store() -> ParquetResponseStore:
    """The response store, shared by all sessions of this process."""
    return ParquetResponseStore.from_config(config())


@st.cache_resource(ttl=60)
def registry() -> QuestionnaireRegistry:
    """Shipped and uploaded questionnaires (re-read at most once a minute)."""
    return load_registry(config().data_dir)


def staff_session() -> access.Session | None:
    """The signed-in staff member's session, or None (also when it has just expired)."""
    session_id = st.session_state.get(_SESSION_KEY)
    if not session_id:
        return None
    result = access.validate(session_id)
    if isinstance(result, access.Session):
        return result
    st.session_state.pop(_SESSION_KEY, None)
    st.session_state["staff_notice"] = result.message
    return None


def start_staff_session(session: access.Session) -> None:
    """Remember a successful sign-in for this browser session."""
    st.session_state[_SESSION_KEY] = session.session_id


def end_staff_session() -> None:
    """Sign out and forget the session."""
    access.sign_out(st.session_state.pop(_SESSION_KEY, None))


def require(action: str) -> access.Session:
    """Stop the page unless a signed-in staff member may do ``action``."""
    session = staff_session()
    if session is None or not session.can(action):
        st.error(tr("此页面仅限授权工作人员访问。", "This page is for authorised staff only."))
        st.stop()
    return session
