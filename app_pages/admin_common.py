"""What the administration pages share: time and status display, safe text, one-shot notices.

Not a page itself. The pages only draw; the work is done by :mod:`responses.administration`,
:mod:`responses.overrides` and :mod:`questionnaires.publishing`.
"""

from __future__ import annotations

import datetime as dt
import re

import streamlit as st

from app_pages.common import language, tr

#: Times are shown in China Standard Time (no daylight saving), the administrators' zone.
CHINA_TIME = dt.timezone(dt.timedelta(hours=8), "UTC+8")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")
_NOTICE = "admin_notice"


def wide_page() -> None:
    """Use the whole window width (the tables of the admin pages have many columns)."""
    st.set_page_config(layout="wide")


def plain(text: object) -> str:
    """Text shown as it is in Streamlit markdown (no emphasis, links, HTML or ``$`` maths)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def when(value: dt.datetime | None) -> str:
    """A time as ``2026-03-01 16:30`` in China Standard Time ("" for none)."""
    if value is None:
        return ""
    return value.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


def status_label(status: str) -> str:
    """``open``/``closed`` in the interface language."""
    return tr("开放", "open") if status == "open" else tr("关闭", "closed")


def error(exc: BaseException) -> None:
    """Show one of the project's errors (its message is meant for the user), never a traceback."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    st.error(plain(message), icon=":material/error:")


def notify(kind: str, text: str) -> None:
    """Keep a message to show once after the next rerun (``success``, ``info``, ``warning``)."""
    st.session_state[_NOTICE] = (kind, text)


def show_notice() -> None:
    """Show the message kept by :func:`notify`, once."""
    found = st.session_state.pop(_NOTICE, None)
    if not found:
        return
    kind, text = found
    draw = {"success": st.success, "warning": st.warning}.get(kind, st.info)
    draw(plain(text))


def title_of(text: object) -> str:
    """A translated text (``questionnaires.model.Text``) in the interface language."""
    get = getattr(text, "get", None)
    return str(get(language())) if callable(get) else str(text)
