"""The dashboards' shared filter panel and caches (every dashboard page starts with panel()).

The panel sits at the top of each dashboard page: questionnaire and version, census-weighted or
not, flagged responses excluded or not, and (folded) the domain: dates, provinces, regions and
groups. The choices live in ``st.session_state["dash_state"]`` so that every dashboard page
shows the same selection.

Caching: a questionnaire's data are loaded once per state of the store
(:func:`analysis.dashboard.store_signature`, looked at most every ``REFRESH_SECONDS``, or at
once with the refresh button) and shared by all sessions (``st.cache_resource``, at most three
loaded datasets: about half a gigabyte each with a million responses); each page's results are
cached by data state and filters. Nothing here computes: see analysis/dashboard.py.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st

from analysis.dashboard import (
    GROUP_COLUMNS,
    DashboardData,
    Filters,
    load_dashboard,
    store_signature,
)
from app_pages.common import config, registry, store, tr

T = TypeVar("T")

#: Longest wait before new responses show up (seconds); the refresh button shows them at once.
REFRESH_SECONDS = 60
_STATE = "dash_state"
_ALL = "__all__"
_KEYS = ("dash_q", "dash_v", "dash_weighted", "dash_exclude", "dash_dates", "dash_provinces",
         "dash_regions", *(f"dash_{g}" for g in GROUP_COLUMNS))

#: Bilingual names of the analysis columns the dashboards group by.
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "province": ("省份", "Province"),
    "region": ("地区", "Region"),
    "sex": ("性别", "Sex"),
    "age_group": ("年龄组", "Age group"),
    "education": ("学历", "Education"),
    "income": ("家庭年收入", "Household income"),
    "urban": ("城乡", "Urban or rural"),
}


def column_label(name: str) -> str:
    """The label of an analysis column in the current language."""
    zh, en = COLUMN_LABELS.get(name, (name, name))
    return tr(zh, en)


@dataclass(frozen=True)
class Selection:
    """What the panel gives a page: the data, the filters, and a key for result caches."""

    data: DashboardData
    filters: Filters
    data_key: tuple[str, str, str, str]

    def cache_key(self, *extra: object) -> tuple[object, ...]:
        """A key for a page's cached result: the data state, the filters and ``extra``."""
        return (*self.data_key, self.filters.key(), *map(repr, extra))


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def _signature(data_dir: str, questionnaire_id: str) -> str:
    return repr(store_signature(store(), questionnaire_id))


@st.cache_resource(max_entries=3, show_spinner=False)
def _load(data_dir: str, questionnaire_id: str, version: str, signature: str) -> DashboardData:
    return load_dashboard(
        store(), registry(), questionnaire_id, version=None if version == _ALL else version
    )


@st.cache_resource(max_entries=128, show_spinner=False)
def _result(kind: str, key: tuple[object, ...], _make: Callable[[], Any]) -> Any:
    return _make()


def cached(kind: str, key: tuple[object, ...], make: Callable[[], T]) -> T:
    """``make()``, computed once per ``kind`` and ``key`` and shared by all sessions (results
    are read-only: copy a table before changing it)."""
    result: T = _result(kind, key, make)
    return result


def load(
    questionnaire_id: str, version: str | None
) -> tuple[DashboardData, tuple[str, str, str, str]]:
    """The loaded data of a questionnaire (version) for the current state of the store."""
    data_dir = str(config().data_dir)
    signature = _signature(data_dir, questionnaire_id)
    key = (data_dir, questionnaire_id, version or _ALL, signature)
    return _load(*key), key


def _questionnaires() -> list[str]:
    known = set(registry().ids())
    return [q for q in store().list_questionnaires() if q in known]


def _restore(key: str, valid: Callable[[Any], Any], default: Any) -> None:
    """Put the remembered value of a widget (made valid for the current data) in its key."""
    remembered = st.session_state.setdefault(_STATE, {})
    value = st.session_state.get(key, remembered.get(key, default))
    st.session_state[key] = valid(value)


def _remember() -> None:
    remembered = st.session_state.setdefault(_STATE, {})
    for key in _KEYS:
        if key in st.session_state:
            remembered[key] = st.session_state[key]


def _only(options: list[Any]) -> Callable[[Any], list[Any]]:
    return lambda value: [v for v in (value or []) if v in options]


def _clear_domain() -> None:
    remembered = st.session_state.setdefault(_STATE, {})
    for key in ("dash_dates", "dash_provinces", "dash_regions",
                *(f"dash_{g}" for g in GROUP_COLUMNS)):
        st.session_state.pop(key, None)
        remembered.pop(key, None)


def _refresh() -> None:
    _signature.clear()


def panel() -> Selection | None:
    """Draw the filter panel; the data and filters chosen, or None (with a message) when
    there is nothing to show yet."""
    lang = "en" if tr("zh", "en") == "en" else "zh"
    ids = _questionnaires()
    if not ids:
        st.info(tr("还没有任何答卷。", "There are no responses yet."))
        return None
    reg = registry()

    def title(qid: str) -> str:
        return f"{reg.latest(qid).title.get(lang)} ({qid})"

    _restore("dash_q", lambda v: v if v in ids else ids[0], ids[0])
    top = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    qid = top[0].selectbox(tr("问卷", "Questionnaire"), ids, format_func=title, key="dash_q")
    versions = [_ALL, *store().list_versions(qid)]
    _restore("dash_v", lambda v: v if v in versions else _ALL, _ALL)
    every = tr("全部版本", "All versions")
    version = top[1].selectbox(
        tr("版本", "Version"), versions, key="dash_v",
        format_func=lambda v: every if v == _ALL else v,
    )
    _restore("dash_weighted", bool, True)
    weighted = top[2].toggle(
        tr("人口普查加权", "Census-weighted"), key="dash_weighted",
        help=tr("按2020年人口普查的省份、性别、年龄段和城乡结构对样本加权。",
                "Weights the sample to the 2020 census by province, sex, age band and "
                "urban/rural."),
    )
    _restore("dash_exclude", bool, False)
    exclude = top[3].toggle(
        tr("排除质量标记答卷", "Exclude flagged responses"), key="dash_exclude",
        help=tr("排除被标记为过快作答、直线作答、注意力题未通过或重复的答卷（所有页面一致）。",
                "Leaves out responses flagged as speeders, straight-liners, failed attention "
                "checks or duplicates (on every page)."),
    )
    try:
        with st.spinner(tr("正在读取答卷…", "Reading responses…")):
            data, data_key = load(qid, None if version == _ALL else version)
    except ValueError as exc:
        st.error(str(exc))
        _remember()
        return None

    frame = data.frame
    days = frame["day"]
    first = dt.date(1970, 1, 1) + dt.timedelta(days=int(days.min()))
    last = dt.date(1970, 1, 1) + dt.timedelta(days=int(days.max()))

    def valid_dates(value: Any) -> tuple[dt.date, dt.date]:
        if isinstance(value, tuple | list) and len(value) == 2:
            start, end = max(value[0], first), min(value[1], last)
            if start <= end:
                return start, end
        return first, last

    with st.expander(tr("筛选范围（日期、地区、人群）", "Filters (dates, places, groups)")):
        _restore("dash_dates", valid_dates, (first, last))
        chosen = st.date_input(tr("提交日期（北京时间）", "Submission dates (China time)"),
                               min_value=first, max_value=last, key="dash_dates")
        cols = st.columns(2)
        filters_kwargs: dict[str, Any] = {}
        if "province" in frame.columns:
            present = sorted(int(c) for c in frame["province"].dropna().unique())
            _restore("dash_provinces", _only(present), [])
            filters_kwargs["provinces"] = cols[0].multiselect(
                column_label("province"), present, key="dash_provinces",
                format_func=lambda c: data.value_label("province", c, lang),
                placeholder=tr("全部", "All"),
            )
        if "region" in frame.columns:
            regions = list(frame["region"].cat.categories)
            _restore("dash_regions", _only(regions), [])
            filters_kwargs["regions"] = cols[1].multiselect(
                column_label("region"), regions, key="dash_regions",
                format_func=lambda r: data.value_label("region", r, lang),
                placeholder=tr("全部", "All"),
            )
        group_cols = st.columns(max(1, len(data.groups)))
        for i, group in enumerate(data.groups):
            options = list(frame[group].cat.categories)
            labels = {v: data.value_label(group, v, lang) for v in options}
            _restore(f"dash_{group}", _only(options), [])
            filters_kwargs[group] = group_cols[i].multiselect(
                column_label(group), options, key=f"dash_{group}",
                format_func=labels.__getitem__, placeholder=tr("全部", "All"),
            )
        st.button(tr("清除筛选", "Clear filters"), on_click=_clear_domain, key="dash_clear")
    start, end = chosen if isinstance(chosen, tuple) and len(chosen) == 2 else (first, last)
    filters = Filters(
        questionnaire=qid,
        version=None if version == _ALL else version,
        start=None if start <= first else start,
        end=None if end >= last else end,
        exclude_flagged=exclude,
        weighted=weighted,
        **filters_kwargs,
    )
    _remember()
    info = st.columns([5, 1], vertical_alignment="center")
    info[0].caption(
        tr(
            f"已读取 {data.n:,} 份答卷（{first} 至 {last}，版本 {', '.join(data.versions)}）。"
            f"筛选范围是全样本的一个子总体：权重不重新计算，标准误基于全样本。"
            f"新答卷最多 {REFRESH_SECONDS} 秒后显示。",
            f"{data.n:,} responses read ({first} to {last}, version "
            f"{', '.join(data.versions)}). A filter selects a domain of the whole sample: "
            f"weights are not recomputed and standard errors use the whole sample. New "
            f"responses show within {REFRESH_SECONDS} s.",
        )
    )
    info[1].button(tr("刷新", "Refresh"), on_click=_refresh, key="dash_refresh",
                   help=tr("立即读取新答卷", "Read new responses now"))
    return Selection(data=data, filters=filters, data_key=data_key)


def stamp() -> str:
    """A time stamp for download file names."""
    return time.strftime("%Y%m%d-%H%M")
