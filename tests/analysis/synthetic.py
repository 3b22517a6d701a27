"""Synthetic stored responses with structure, for the dashboard tests, the demo and the benchmark.

Until the simulator (``analysis/simulation.py``) lands, this makes rows shaped exactly like the
store's (the questionnaire's answer columns plus the store's metadata) for any questionnaire
version, vectorised, with a latent literacy trait so that the dashboards have something to show:

- demographics from their roles: province drawn in proportion to the census adult population
  with an online-survey tilt (more East, more urban, more young), sex, age, urban, education,
  income, occupation; education and income rise with the trait's drivers;
- financial-education exposure (role ``exposure``) more likely with education and in towns,
  with a recency answer;
- every scored choice item answered by a softmax over its options' scores, driven by the trait
  (``correct`` options, ``points``, scale positions, reverse items), with "don't know" more
  likely at low literacy; number items right with a trait-driven probability;
- data-quality problems on purpose: speeders (about 4%), straight-liners on every matrix (about
  3%), attention-check failures (about 4%), exact duplicate answer sheets (about 0.5%);
- skip logic applied with the questionnaire's own expressions (``Expression.evaluate_frame``),
  so every stored row is one the app could have stored.

:func:`write_compacted` puts the rows into a store folder as compacted files (one per
province partition), the layout ``ParquetResponseStore.compact`` produces, which is how a
million rows can be made in seconds; :func:`submit_rows` sends rows through the real
``submit_answers`` path instead.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.targets import load_census
from questionnaires.expressions import parse
from questionnaires.model import SPECIAL_CODES, Question, Questionnaire
from responses.record import META_COLUMNS, new_response_id
from responses.submission import Paradata, save_progress, submit_answers
from responses.validation import from_columns

START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
_REGION_TILT = {"East": 1.45, "Central": 1.0, "West": 0.8, "Northeast": 0.85}


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _codes(q: Question) -> np.ndarray:
    return np.array([c.code for c in q.choices or ()], dtype=np.int64)


def _option_scores(q: Question) -> np.ndarray:
    """Score (0-1) of each option of a scored choice item, in option order."""
    options = q.choices.choices if q.choices is not None else ()
    score = q.score
    if score is None:
        return np.zeros(len(options))
    if score.kind == "correct":
        return np.array([1.0 if c.name in score.correct else 0.0 for c in options])
    if score.kind == "points":
        points = score.points_dict()
        top = score.max_points or 1.0
        return np.array([points.get(c.name, 0.0) / top for c in options])
    k = max(len(options) - 1, 1)
    pos = np.arange(len(options)) / k
    return 1.0 - pos if score.reverse else pos


def _pick(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """Row-wise draw from softmax(logits) (n x k) -> column index."""
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random((len(p), 1))
    return np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)


class _Maker:
    def __init__(
        self,
        questionnaire: Questionnaire,
        n: int,
        rng: np.random.Generator,
        *,
        theta: np.ndarray | None = None,
        fixed: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.fixed = fixed or {}
        self.q = questionnaire
        self.n = n
        self.rng = rng
        self.columns: dict[str, np.ndarray] = {}  # stored values, float with NaN for missing
        self.text: dict[str, np.ndarray] = {}
        census = load_census()
        adults = census["population"].to_numpy(float) * (100 - census["age_0_14_pct"]) / 100
        tilt = census["nbs_region"].map(_REGION_TILT).to_numpy(float)
        p = adults * tilt
        self.census = census
        self.province_index = rng.choice(len(census), size=n, p=p / p.sum())
        self.province_effect = np.random.default_rng(7).normal(0, 0.25, len(census))
        urban_p = np.minimum(0.95, census["urban_pct"].to_numpy(float) / 100 + 0.12)
        self.urban = rng.random(n) < urban_p[self.province_index]
        self.male = rng.random(n) < 0.47
        self.age = np.clip(np.round(18 + rng.gamma(2.2, 11.0, n)), 18, 90).astype(np.int64)
        edu = 2.6 + 0.9 * self.urban - 0.022 * (self.age - 40) + rng.normal(0, 1.1, n)
        self.education = np.clip(np.round(edu), 1, 6).astype(np.int64)
        inc = 1.2 + 0.45 * self.education + 0.4 * self.urban + rng.normal(0, 0.9, n)
        self.income = np.clip(np.round(inc), 1, 5).astype(np.int64)
        edu_z = (self.education - 3.2) / 1.3
        self.exposed = rng.random(n) < _expit(-0.5 + 0.45 * edu_z + 0.35 * self.urban)
        self.theta = (
            0.45 * edu_z
            + 0.15 * (self.income - 3)
            + 0.2 * self.urban
            + 0.3 * self.exposed
            - 0.25 * (self.age >= 65)
            + self.province_effect[self.province_index]
            + rng.normal(0, 0.85, n)
        ) if theta is None else theta
        self.straight = rng.random(n) < 0.03
        self.attention_fail = rng.random(n) < 0.04
        self.speeder = rng.random(n) < 0.04

    # -- one question -------------------------------------------------------------------
    def _role(self, q: Question) -> np.ndarray | None:
        n, rng = self.n, self.rng
        codes = _codes(q)
        names = [c.name for c in q.choices or ()]
        if q.role == "province":
            wanted = self.census["gb_code"].to_numpy()[self.province_index]
            return wanted.astype(float) if set(wanted) <= set(codes) else rng.choice(codes, n)
        if q.role == "sex":
            return np.where(self.male, codes[names.index("male")], codes[names.index("female")])
        if q.role == "urban":
            return np.where(self.urban, codes[names.index("urban")], codes[names.index("rural")])
        if q.role == "age":
            if q.type in ("integer", "decimal"):
                low = q.min if q.min is not None else 0
                high = q.max if q.max is not None else 120
                return np.clip(self.age, low, high).astype(float)
            return codes[np.minimum((self.age - 18) * len(codes) // 60, len(codes) - 1)]
        if q.role == "education":
            real = codes[codes >= 0]
            return real[np.minimum((self.education - 1) * len(real) // 6, len(real) - 1)]
        if q.role == "income" and q.choices is not None:
            real = codes[codes >= 0]
            out = real[np.minimum((self.income - 1) * len(real) // 5, len(real) - 1)]
            if -2 in codes:
                out = np.where(rng.random(n) < 0.06, -2, out)
            return out
        if q.role == "occupation":
            out = rng.choice(codes[codes >= 0], n)
            if "retired" in names:
                out = np.where((self.age >= 60) & (rng.random(n) < 0.7),
                               codes[names.index("retired")], out)
            if "student" in names:
                out = np.where((self.age < 23) & (rng.random(n) < 0.6),
                               codes[names.index("student")], out)
            return out
        if q.role == "exposure_recency":
            real = codes[codes >= 0]
            out = real[np.minimum(rng.geometric(0.35, n) - 1, len(real) - 1)]
            return np.where(rng.random(n) < 0.05, -1, out) if -1 in codes else out
        if q.role == "attention_check" and q.expected is not None:
            expected = q.option_codes()[q.expected]
            return np.where(self.attention_fail, rng.choice(codes[codes != expected], n), expected)
        if q.role == "phase":
            return rng.choice(codes, n)
        return None

    def _multiple(self, q: Question) -> None:
        n, rng = self.n, self.rng
        options = q.choices.choices if q.choices is not None else ()
        exclusive = set(q.exclusive) | {c.name for c in options if c.exposure == "none"}
        chosen = {c.name: rng.random(n) < 0.4 for c in options if c.name not in exclusive}
        if q.role == "exposure":
            any_ = self.exposed
            for name in chosen:
                chosen[name] &= any_
            first = next(iter(chosen), None)
            if first is not None:
                nothing = any_ & ~np.any(np.column_stack(list(chosen.values())), axis=1)
                chosen[first] |= nothing
        some = (np.any(np.column_stack(list(chosen.values())), axis=1) if chosen
                else np.zeros(n, bool))
        for c in options:
            values = ~some if c.name in exclusive else chosen[c.name]
            self.columns[f"{q.name}__{c.name}"] = values.astype(float)

    def _scored_choice(self, q: Question, block_pick: np.ndarray | None) -> np.ndarray:
        rng, n = self.rng, self.n
        codes = _codes(q)
        options = [c for c in q.choices or ()]
        scores = _option_scores(q)
        difficulty = rng.normal(0, 0.7)
        logits = np.outer(1.6 * (self.theta - difficulty), scores) + rng.gumbel(
            0, 0.6, (n, len(options))
        )
        pick = _pick(rng, logits)
        if block_pick is not None:
            pick = np.where(self.straight, np.minimum(block_pick, len(options) - 1), pick)
        out = codes[pick].astype(float)
        if "dont_know" in q.special:
            dk = rng.random(n) < 0.25 * _expit(-1.2 * self.theta - 0.8)
            out = np.where(dk & (scores[pick] < 1), SPECIAL_CODES["dont_know"], out)
        return out

    def _number(self, q: Question) -> np.ndarray:
        rng, n = self.rng, self.n
        low = q.min if q.min is not None else 0.0
        high = q.max if q.max is not None else low + 1000.0
        score = q.score
        if score is not None and score.correct_value is not None:
            right = rng.random(n) < _expit(1.4 * (self.theta - rng.normal(0, 0.6)))
            wrong = np.clip(
                np.round(score.correct_value * rng.uniform(0.3, 1.8, n)) + 1, low, high
            )
            wrong = np.where(wrong == score.correct_value, wrong + 1, wrong)
            out = np.where(right, score.correct_value, wrong)
        else:
            out = np.clip(np.round(rng.lognormal(8.5, 0.8, n)), low, high)
        if q.special:
            out = np.where(rng.random(n) < 0.05, SPECIAL_CODES[q.special[0]], out)
        return out.astype(float)

    def make(self) -> None:
        n, rng = self.n, self.rng
        for section in self.q.sections:
            for q in section.questions:
                if q.type == "note":
                    continue
                if q.type == "matrix":
                    block = rng.integers(0, 5, n)
                    for item in q.items:
                        self.columns[item.name] = self._scored_choice(item, block)
                    continue
                if q.type == "multiple_choice":
                    self._multiple(q)
                    continue
                if q.name in self.fixed:
                    target = self.text if q.type == "text" else self.columns
                    target[q.name] = self.fixed[q.name]
                    continue
                if q.type == "text":
                    letters = np.array(list("ABCDEFGHJKMNPQRSTUVWXYZ"))
                    code = np.char.add(
                        np.char.add(letters[rng.integers(0, len(letters), n)],
                                    letters[rng.integers(0, len(letters), n)]),
                        np.char.zfill(rng.integers(0, 10000, n).astype(str), 4),
                    )
                    self.text[q.name] = code.astype(object)
                    continue
                role = self._role(q)
                if role is not None:
                    self.columns[q.name] = np.asarray(role, dtype=float)
                elif q.type in ("integer", "decimal"):
                    self.columns[q.name] = self._number(q)
                elif q.score is not None or q.type == "likert":
                    self.columns[q.name] = self._scored_choice(q, None)
                else:
                    self.columns[q.name] = rng.choice(_codes(q), n).astype(float)

    # -- skip logic -----------------------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        data: dict[str, object] = {}
        for column in self.q.columns(include_contact=False):
            if column.name in self.text:
                data[column.name] = pd.array(self.text[column.name], dtype="str")
                continue
            values = self.columns.get(column.name)
            if values is None:
                values = np.full(self.n, np.nan)
            if column.dtype == "Float64":
                data[column.name] = pd.array(values, dtype="Float64")
            else:
                data[column.name] = pd.array(
                    np.where(np.isnan(values), 0, values).astype(np.int64), dtype="Int64"
                )
                data[column.name][np.isnan(values)] = pd.NA
        frame = pd.DataFrame(data)
        symbols = self.q.symbols()
        for section in self.q.sections:
            section_ok = np.ones(self.n, dtype=bool)
            if section.relevant:
                section_ok = _holds(section.relevant, frame, symbols)
            for q in section.questions:
                if q.type == "note":
                    continue
                ok = section_ok & (_holds(q.relevant, frame, symbols) if q.relevant else True)
                names = [c.name for c in self.q.columns() if c.question in
                         {q.name, *(i.name for i in q.items)}]
                for name in names:
                    if not ok.all():
                        frame.loc[~ok, name] = pd.NA
                if q.constraint and q.type in ("integer", "decimal"):
                    value = frame[q.name].to_numpy(dtype=float, na_value=np.nan)
                    special = np.isnan(value) | (value < 0)
                    good = parse(q.constraint).evaluate_frame(frame, symbols, self_name=q.name)
                    bad = (~good.fillna(True).to_numpy(dtype=bool)) & ~special
                    frame.loc[bad, q.name] = q.min if q.min is not None else 0
        return frame


def _holds(text: str, frame: pd.DataFrame, symbols: dict) -> np.ndarray:
    result = parse(text).evaluate_frame(frame, symbols)
    return result.fillna(False).to_numpy(dtype=bool)


def synthetic_frame(
    questionnaire: Questionnaire,
    n: int,
    *,
    seed: int = 1,
    start: dt.datetime = START,
    days: int = 42,
    theta: np.ndarray | None = None,
    fixed: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """``n`` store-shaped rows (answer columns and metadata) of ``questionnaire``.

    Submissions spread over ``days`` days from ``start`` (busier in the first weeks, during
    the day in China); rows are in submission order. ``response_id`` is random (22 characters).
    ``theta`` fixes the latent literacy of each row; ``fixed`` fixes the stored values of some
    questions (question name -> values).
    """
    rng = np.random.default_rng(seed)
    maker = _Maker(questionnaire, n, rng, theta=theta, fixed=fixed)
    maker.make()
    frame = maker.frame()
    # busier at the start, tailing off: an exponential truncated to the fieldwork period
    scale = days / 2.5
    u = rng.random(n)
    day = np.floor(-scale * np.log1p(-u * (1 - np.exp(-days / scale))))
    hour = np.clip(rng.normal(13.5, 4.0, n), 0, 23.99) - 8.0  # Beijing daytime, in UTC
    submitted = (
        pd.Timestamp(start) + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour, unit="h")
        + pd.to_timedelta(rng.integers(0, 3600, n), unit="s")
    ).floor("s")
    duration = np.round(np.exp(rng.normal(np.log(900), 0.35, n)))
    duration = np.where(maker.speeder, np.round(rng.uniform(60, 200, n)), duration)
    order = np.argsort(submitted.to_numpy(), kind="stable")
    province_q = questionnaire.role("province")
    province = maker.columns.get(province_q.name) if province_q is not None else None
    meta = pd.DataFrame(
        {
            "response_id": pd.array([new_response_id() for _ in range(n)], dtype="str"),
            "questionnaire_id": pd.array([questionnaire.id] * n, dtype="str"),
            "questionnaire_version": pd.array([questionnaire.version] * n, dtype="str"),
            "submitted_at": submitted,
            "started_at": submitted - pd.to_timedelta(duration, unit="s"),
            "language": pd.array(np.where(rng.random(n) < 0.93, "zh", "en"), dtype="str"),
            "province": pd.array(
                province if province is not None else np.full(n, np.nan), dtype="Float64"
            ).astype("Int64"),
            "consent_version": pd.array(
                [questionnaire.consent.version if questionnaire.consent else None] * n,
                dtype="str",
            ),
            "duration_seconds": duration,
            "page_seconds": pd.array(["{}"] * n, dtype="str"),
            "device_class": pd.array(
                rng.choice(np.array(["phone", "desktop", "tablet"], dtype=object), n,
                           p=[0.75, 0.2, 0.05]), dtype="str"),
            "option_order": pd.array(["{}"] * n, dtype="str"),
            "token_hash": pd.array([None] * n, dtype="str"),
        }
    )
    out = pd.concat([meta, frame.drop(columns=["province"], errors="ignore")], axis=1)
    copies = np.flatnonzero(rng.random(n) < 0.005)
    if n > 10 and len(copies):
        source = rng.integers(0, n, len(copies))
        for name in [*frame.columns.drop("province", errors="ignore"), "province",
                     "device_class"]:
            values = out[name].to_numpy(copy=True)
            values[copies] = values[source]
            out[name] = pd.array(values, dtype=out[name].dtype)
    return out.iloc[order].reset_index(drop=True)


def _arrow_table(frame: pd.DataFrame, questionnaire: Questionnaire) -> pa.Table:
    fields = [pa.field(name, typ) for name, typ in META_COLUMNS.items()]
    for column in questionnaire.columns(include_contact=False):
        if column.name in META_COLUMNS:
            continue
        typ = {"Int64": pa.int64(), "Float64": pa.float64()}.get(column.dtype, pa.string())
        fields.append(pa.field(column.name, typ))
    schema = pa.schema(fields)
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def write_compacted(root: str | Path, frame: pd.DataFrame, questionnaire: Questionnaire) -> int:
    """Write store-shaped rows into a store folder as compacted files, one per province.

    The files are what ``ParquetResponseStore.compact`` writes (``compacted-<hex>.parquet``
    under ``responses/<id>/<version>/province=<code|none>/``); returns the rows written.
    """
    table = _arrow_table(frame, questionnaire)
    province = frame["province"].to_numpy(dtype=float, na_value=np.nan)
    base = Path(root) / "responses" / questionnaire.id / questionnaire.version
    for code in pd.unique(province):
        mask = np.isnan(province) if np.isnan(code) else province == code
        part = base / ("province=none" if np.isnan(code) else f"province={int(code):02d}")
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table.filter(pa.array(mask)),
            part / f"compacted-{secrets.token_hex(16)}.parquet",
            compression="zstd",
        )
    return len(frame)


def submit_rows(store, questionnaire: Questionnaire, frame: pd.DataFrame) -> int:
    """Submit store-shaped rows through ``responses.submission.submit_answers`` (the app's path).

    Each row keeps its submission time and duration; returns the number submitted.
    """
    for row in frame.to_dict("records"):
        answers = from_columns(questionnaire, row)
        submitted = row["submitted_at"].to_pydatetime()
        submit_answers(
            store,
            questionnaire,
            answers,
            response_id=new_response_id(),
            language=str(row["language"]),
            started_at=submitted - dt.timedelta(seconds=float(row["duration_seconds"])),
            consent_version=questionnaire.consent.version if questionnaire.consent else None,
            paradata=Paradata(duration_seconds=float(row["duration_seconds"]),
                              user_agent="Mozilla/5.0 (iPhone; Mobile)"),
            now=submitted,
        )
    return len(frame)


def save_drafts(
    store, questionnaire: Questionnaire, pages: Sequence[str], *, now: dt.datetime
) -> int:
    """Save one unfinished response per entry of ``pages`` (the section the respondent left
    on), as break-offs; returns how many."""
    for page in pages:
        save_progress(
            store.state, questionnaire, {}, page=page, response_id=new_response_id(), now=now
        )
    return len(pages)


def synthetic_prepost(
    questionnaire: Questionnaire,
    n: int,
    *,
    seed: int = 1,
    gain: float = 0.45,
    retention: float = 0.85,
) -> pd.DataFrame:
    """Pre- and post-session quiz rows of ``n`` participants of a questionnaire with the
    ``phase`` and ``participant_code`` roles (``edu_quiz``): each participant answers before
    the session and, with probability ``retention``, after it with the latent literacy raised
    by ``gain`` (a few codes are mistyped in the post quiz, as happens)."""
    rng = np.random.default_rng(seed)
    phase_q = questionnaire.role("phase")
    code_q = questionnaire.role("participant_code")
    if phase_q is None or code_q is None:
        raise ValueError(f"{questionnaire.id} has no phase or participant_code question")
    codes = np.array([f"P{i:05d}" for i in range(n)], dtype=object)
    theta = rng.normal(0, 1, n)
    pre_code, post_code = phase_q.option_codes()["pre"], phase_q.option_codes()["post"]
    pre = synthetic_frame(
        questionnaire, n, seed=seed + 1, days=1, theta=theta,
        fixed={phase_q.name: np.full(n, float(pre_code)), code_q.name: codes},
    )
    kept = rng.random(n) < retention
    post_codes = codes[kept].copy()
    typo = rng.random(len(post_codes)) < 0.03
    post_codes[typo] = np.char.add(post_codes[typo].astype(str), "X").astype(object)
    post = synthetic_frame(
        questionnaire, int(kept.sum()), seed=seed + 2, days=1,
        start=START + dt.timedelta(hours=3), theta=theta[kept] + gain,
        fixed={phase_q.name: np.full(int(kept.sum()), float(post_code)), code_q.name: post_codes},
    )
    return pd.concat([pre, post], ignore_index=True)
