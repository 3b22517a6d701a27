"""Simulated survey responses with a known truth, written through the real response store.

For demos, tests and benchmarks: realistic synthetic responses to any questionnaire (tuned for
the shipped ``cfl``, ``oecd_infe`` and ``edu_quiz``), generated item by item from a latent
financial-literacy trait, from a sample that is deliberately skewed against the 2020 census, and
stored either one submission at a time through
:func:`responses.submission.submit_answers` (``method="submit"``: the path the app takes) or in
bulk as compacted Parquet files through
:meth:`responses.store.ParquetResponseStore.publish_bulk` (``method="bulk"``, for millions of
rows). The population values the estimates should find are saved beside the data in
``<data dir>/simulation/truth.json``.

The model
---------
**Population.** Adults (18-100) in the 31 provinces in proportion to the census adult population
(:func:`analysis.targets.census_targets`); within each province sex, the 60+ age band and
urban residence are independent with the census shares (the census gives no cross-tables, and
this is exactly what the census margins describe). Age within a band: 18-59 spread evenly with
a slight decline, 60+ decaying exponentially (mean 71). Education (6 levels) rises with the
province's mean years of schooling, with urban residence and in younger cohorts; the household
income band (5 levels) rises with education, urban residence and the East.

**Latent literacy.** :math:`\\theta = 0.42 e + 0.18 m - 0.35((a - 45)/15)^2 + r + 0.22 u + c +
\\varepsilon` with :math:`e, m` standardised education and income, :math:`a` age (an inverted
U peaking at 45), :math:`r` the region (East +0.15, Northeast +0.02, Central -0.03, West -0.22),
:math:`u` urban, :math:`c` a county (PSU) effect :math:`N(0, 0.15^2)` and
:math:`\\varepsilon \\sim N(0, 0.65^2)`. Each dimension :math:`d` has its own trait
:math:`\\theta_d = \\theta + N(0, 0.45^2) + \\delta_d x` where :math:`x` is financial-education
exposure. Exposure is confounded: :math:`P(x = 1) = \\text{expit}(-1.1 + 0.55 e + 0.35 u +
0.15 m)` (about a third are exposed, more among the better educated). Its effect
:math:`\\delta_{knowledge} = 0.22` (about 0.2 SD of the knowledge score, as the meta-analysis of
Kaiser et al. 2022 finds) and :math:`\\delta_{behaviour} = 0.12` (about 0.1 SD).

**Answers, item by item.** Every item has fixed parameters drawn from its name (the same in
every run): discrimination :math:`a_j \\in [0.9, 1.8]` and difficulty :math:`b_j`. A right/wrong
item is known with probability :math:`\\text{expit}(a_j(\\theta_d - b_j))`; who does not know
answers "don't know" (where offered) with probability :math:`\\text{expit}(-0.3 - \\theta_d)`
(low literacy, more "don't know") and otherwise guesses among the options (a number question
gets a plausible wrong number). Items scored by points or by scale position follow a graded
(cumulative logit) model in :math:`\\theta_d`; unscored questions that feed derived scores
(``oecd_infe``'s behaviour and attitude) follow per-questionnaire profiles (:data:`PROFILES`).
Demographic questions answer the person's own province, sex, age, urban residence, education
(mapped onto the options in list order), income band and an occupation consistent with age,
residence and education. Skip logic is evaluated on the answers so far with the platform's own
expression evaluator, so a skipped question is empty exactly when the app would skip it.

**Careless respondents, at known rates** (independent of everything else, so that they do not
bias the weighted estimates): speeders (:attr:`Rates.speeder`) answer at random in 8-25% of the
usual time; straight-liners (:attr:`Rates.straightliner`) give one answer to every item of
each matrix of at least four items; the attention check fails for
:attr:`Rates.inattentive` of the others (and for most speeders). Break-offs
(:attr:`Rates.breakoff`, more on phones) are saved as drafts with
:func:`responses.submission.save_progress` and never submitted.

**The sample.** Respondents are allocated to provinces in proportion to the square root of
the adult population times a log-normal province factor (:attr:`Skew.allocation_power`,
:attr:`Skew.province_spread`, at least :attr:`Skew.province_minimum` each), and within a province
a person is included with a probability proportional to :attr:`Skew.old` for the 60+ band,
:attr:`Skew.rural` for rural residents and :attr:`Skew.female` for women: the sample is too
young, too urban, uneven across provinces and (through age and residence) too educated.
Because the selection is a product of factors of the raking variables within each province,
raking to the census margins ``province``, ``province*sex``, ``province*age_band``,
``province*urban`` removes its bias; :attr:`Skew.education` adds a selection on education that
the census margins cannot correct (off by default). Each respondent belongs to a county (PSU)
of their province (strata = provinces), saved in ``simulation/<id>-design.parquet``.

**The truth.** The population values are computed from a large simulated population drawn
province by province (:attr:`SimulationSpec.truth_per_province` people each, weighted by the
census adult population) with the same model, careless respondents included (the estimand is
what the population would submit), and saved with their Monte Carlo standard errors. The true
exposure effect is the population average of the difference between each person's scores with
and without exposure, simulated with the same random numbers (common random numbers).

``edu_quiz`` (:func:`simulate_prepost`): participants of training sessions and a control group
take the quiz before and after; the post-test trait is the pre-test one plus a known gain
(treated :attr:`PrePostSpec.gain`, control :attr:`PrePostSpec.retest_gain` in SD of the trait),
some never take the post-test, and the groups are written to
``simulation/edu_quiz-groups.csv``.

Reference: the parameters are chosen so that the national index is near the People's Bank of
China's published 2019-2021 values (63.7-66.8 on 0-100) with the directions it reports (East >
Central > West, urban > rural, rising with education and income, an inverted U in age,
attitude strongest and knowledge weakest); see ``/work/shared/reference/README.md``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.errors import AnalysisError
from analysis.scoring import DIMENSION_PREFIX, score_responses
from analysis.targets import load_census
from questionnaires.expressions import parse
from questionnaires.model import SPECIAL_CODES, Question, Questionnaire
from responses.overrides import offered_version
from responses.record import META_COLUMNS
from responses.store import ParquetResponseStore
from responses.submission import Paradata, save_progress, submit_answers
from responses.validation import from_columns, to_columns

__all__ = [
    "PROFILES",
    "PrePostSpec",
    "Rates",
    "SimulationError",
    "SimulationResult",
    "SimulationSpec",
    "Skew",
    "demo",
    "generate_people",
    "generate_responses",
    "simulate",
    "simulate_prepost",
    "true_values",
]

Method = Literal["submit", "bulk"]
FloatArray = np.ndarray

#: Subfolder of the data folder that holds ``truth.json`` and the design files.
SIMULATION_DIR = "simulation"
TRUTH_FILE = "truth.json"
EDUCATION_LEVELS = 6
INCOME_LEVELS = 5
_REGION_EFFECT = {"East": 0.15, "Northeast": 0.02, "Central": -0.03, "West": -0.22}
_REGION_INCOME = {"East": 0.35, "Northeast": 0.0, "Central": -0.1, "West": -0.25}
# Cut points of the education and income latents (national adult shares roughly those of the
# 2020 census for education: primary or less 28%, junior secondary 36%, senior secondary 16%,
# junior college 9%, bachelor 10%, postgraduate 1%; income bands 25/33/22/14/6%).
_EDU_CUTS = np.array([-0.22, 0.89, 1.46, 1.91, 3.17])
_INC_CUTS = np.array([-0.67, 0.35, 1.11, 1.96])
_EDU_MEAN, _EDU_SD = 1.40, 1.30
_INC_MEAN, _INC_SD = 1.43, 1.18
THETA = {"education": 0.35, "income": 0.15, "age": 0.18, "urban": 0.2, "noise": 0.45}
_DIMENSION_LEVEL = {"knowledge": -0.35, "skills": -0.95, "behaviour": -1.1, "attitude": -1.45}
_EFFECT = {"knowledge": 0.22, "behaviour": 0.12}
_USER_AGENTS = {
    "phone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Safari/604.1",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0 Safari/537.36",
}
_DEVICES = ("phone", "desktop", "tablet")
_DEVICE_SHARES = (0.72, 0.22, 0.06)


class SimulationError(AnalysisError):
    """A simulation cannot be run with the options given."""


# ============================================================================ options
@dataclass(frozen=True)
class Skew:
    """How the sample departs from the census (relative inclusion probabilities).

    Attributes
    ----------
    province_spread
        Standard deviation of the log of the province factors (drawn once from the seed).
    allocation_power
        Respondents per province are allocated in proportion to (adult population) to this
        power times the province factor, with at least ``province_minimum`` in each (or
        ``n // 31`` if less): 1 is proportional, 0 equal (as the PBoC's 600 per province),
        0.5 in between (small provinces over-represented).
    province_minimum
        Fewest respondents per province.
    old
        Inclusion of the 60+ age band relative to 18-59.
    rural
        Inclusion of rural residents relative to urban ones.
    female
        Inclusion of women relative to men.
    education
        Log inclusion per education level, beyond what age and residence imply. Non-zero makes
        the selection depend on something the census margins do not hold, so weighting can no
        longer remove the bias (as with real self-selected online samples).
    """

    province_spread: float = 0.5
    allocation_power: float = 0.5
    province_minimum: int = 40
    old: float = 0.3
    rural: float = 0.4
    female: float = 0.9
    education: float = 0.0


#: A sample drawn in proportion to the population (no skew).
REPRESENTATIVE = Skew(
    province_spread=0.0,
    allocation_power=1.0,
    province_minimum=0,
    old=1.0,
    rural=1.0,
    female=1.0,
    education=0.0,
)


@dataclass(frozen=True)
class Rates:
    """Rates of careless and unfinished responses.

    Attributes
    ----------
    breakoff
        Share of starters who stop before submitting (saved as drafts, never submitted); phones
        break off 1.5 times as often as other devices.
    speeder
        Share of submitted responses answered at random in 8-25% of the usual time.
    straightliner
        Share that give the same answer to every item of each matrix of four items or more.
    inattentive
        Share of the other respondents who fail the attention check.
    """

    breakoff: float = 0.12
    speeder: float = 0.03
    straightliner: float = 0.03
    inattentive: float = 0.02


@dataclass(frozen=True)
class SimulationSpec:
    """Everything that defines a simulated survey (besides the questionnaire and the seed).

    Attributes
    ----------
    skew
        Sample selection (:class:`Skew`).
    rates
        Careless and unfinished responses (:class:`Rates`).
    psus_per_province
        Counties (PSUs) per province in the sample design.
    truth_per_province
        Size of each province's simulated population for the true values (Monte Carlo
        standard error of the national index about ``15 / sqrt(31 x this)``).
    start
        Start of fieldwork (UTC); responses are spread over ``fieldwork_days``.
    fieldwork_days
        Length of fieldwork.
    validate_sample
        Rows of a bulk load checked through :func:`responses.validation.to_columns` (every
        row is checked with ``method="submit"``).
    """

    skew: Skew = Skew()
    rates: Rates = Rates()
    psus_per_province: int = 12
    truth_per_province: int = 10_000
    start: dt.datetime = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    fieldwork_days: float = 45.0
    validate_sample: int = 300


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` or :func:`simulate_prepost` stored.

    Attributes
    ----------
    questionnaire_id, questionnaire_version
        The questionnaire answered.
    n_submitted
        Responses stored.
    n_breakoffs
        Drafts saved and never submitted.
    method
        ``"submit"`` or ``"bulk"``.
    validated
        Rows checked against the questionnaire (:func:`responses.validation.to_columns`).
    truth
        The true population values (also in ``truth_path``).
    truth_path
        ``<data dir>/simulation/truth.json``.
    design_path
        The PSU/stratum file of the sample (``response_id, stratum, psu``), if written.
    seconds
        Time taken.
    """

    questionnaire_id: str
    questionnaire_version: str
    n_submitted: int
    n_breakoffs: int
    method: str
    validated: int
    truth: Mapping[str, Any]
    truth_path: Path | None
    design_path: Path | None
    seconds: float


# ============================================================================ profiles
# Unscored questions whose answers feed derived scores, or that should depend on the person:
# ("choice", dimension, {option: (base, slope)}): multinomial logit in the dimension's trait;
# ("multi", dimension, {option: (base, slope)}): each option chosen with expit(base + slope t);
# ("ordered", dimension, "first" | "last"): graded model, high trait towards that end;
# ("amount", kind): money amounts (monthly income, monthly saving).
Rule = tuple[Any, ...]

#: Per questionnaire id: question or matrix item name -> how it is answered (see the source).
PROFILES: Mapping[str, Mapping[str, Rule]] = {
    "cfl": {
        "fin_products": (
            "multi",
            "behaviour",
            {
                "debit_card": (2.2, 0.3),
                "credit_card": (-0.7, 0.6),
                "mobile_pay": (1.8, 0.5),
                "deposit": (-0.3, 0.4),
                "wealth": (-1.2, 0.7),
                "stock": (-2.2, 0.7),
                "insurance": (-1.0, 0.4),
                "loan": (-1.4, 0.3),
            },
        ),
        "b_online_borrow": ("choice", "behaviour", {"yes": (-0.6, -0.2), "no": (0.0, 0.0)}),
        "monthly_income": ("amount", "income"),
        "monthly_saving": ("amount", "saving"),
    },
    "oecd_infe": {
        "qf1": (
            "choice",
            "behaviour",
            {"self": (0.6, 0.3), "jointly": (0.5, 0.2), "someone_else": (-0.6, -0.4)},
        ),
        "qf2": (
            "multi",
            "behaviour",
            {
                "plan_budget": (-0.4, 0.7),
                "note_spending": (-0.9, 0.5),
                "separate_bills": (-1.6, 0.3),
                "note_bills": (-1.6, 0.3),
                "use_app": (-0.4, 0.4),
                "auto_pay": (-1.0, 0.3),
            },
        ),
        "qf3": (
            "multi",
            "behaviour",
            {
                "cash_home": (-1.2, 0.0),
                "deposit_account": (0.6, 0.6),
                "family_save": (-1.8, 0.0),
                "informal_club": (-3.2, 0.0),
                "bonds": (-2.2, 0.5),
                "crypto": (-3.6, 0.0),
                "stocks_funds": (-1.6, 0.6),
                "other": (-2.6, 0.0),
            },
        ),
        "qf11": ("choice", "behaviour", {"yes": (-0.6, -0.5), "no": (0.0, 0.0)}),
        "qf12": (
            "multi",
            "behaviour",
            {
                "draw_savings": (-0.3, 0.4),
                "cut_spending": (-0.2, 0.3),
                "sell_something": (-2.2, 0.0),
                "extra_work": (-1.4, 0.0),
                "gov_support": (-2.6, 0.0),
                "family_gift": (-1.8, 0.0),
                "borrow_family": (-0.9, -0.4),
                "salary_advance": (-2.6, -0.3),
                "pawn": (-3.5, -0.3),
                "private_lender": (-3.5, -0.4),
                "credit_card": (-1.6, -0.2),
                "bank_loan": (-2.4, 0.0),
                "online_loan": (-1.9, -0.4),
                "pay_late": (-2.2, -0.5),
                "other": (-3.0, 0.0),
            },
        ),
        "qp3": (
            "multi",
            "behaviour",
            {
                "pension": (-0.4, 0.3),
                "investment": (-1.6, 0.6),
                "mortgage": (-1.5, 0.3),
                "unsecured_loan": (-2.2, 0.0),
                "credit_card": (-0.6, 0.5),
                "current_account": (1.2, 0.3),
                "savings_account": (0.4, 0.4),
                "insurance": (-0.6, 0.4),
                "stocks": (-2.0, 0.6),
                "bonds": (-2.6, 0.5),
                "mobile_payment": (1.6, 0.4),
            },
        ),
        "qp5": (
            "choice",
            "behaviour",
            {
                "several_companies": (0.0, 0.7),
                "one_company": (0.2, 0.0),
                "no_comparison": (0.0, -0.6),
                "no_alternatives": (-1.6, 0.0),
            },
        ),
        "qp7": (
            "multi",
            "behaviour",
            {
                "specialist_tables": (-2.3, 0.6),
                "comparison_site": (-1.7, 0.6),
                "independent_adviser": (-2.3, 0.5),
                "advert": (-1.6, 0.0),
                "friends_family": (-0.5, 0.0),
                "social_media": (-1.2, 0.0),
                "provider_staff": (-0.6, 0.1),
                "other": (-2.8, 0.0),
            },
        ),
        "qs2_3": ("ordered", "behaviour", "first"),
        "qs2_5": ("ordered", "behaviour", "first"),
        "qs1_5": ("ordered", "behaviour", "first"),
        "qs1_8": ("ordered", "behaviour", "first"),
        "qs1_1": ("ordered", "attitude", "last"),
        "qs1_3": ("ordered", "attitude", "last"),
        "qs3_11": ("ordered", "attitude", "last"),
    },
}


# ============================================================================ small helpers
def _expit(x: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-x))


def _item_rng(questionnaire: Questionnaire, name: str) -> np.random.Generator:
    """A generator fixed by the item's name: item parameters are the same in every run."""
    return np.random.default_rng(zlib.crc32(f"{questionnaire.id}:{name}".encode()))


def _streams(seed: int, k: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(k)]


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise SimulationError(f"seed must be a whole number >= 0, got {seed!r}.")
    return int(seed)


@dataclass(frozen=True)
class _Census:
    codes: np.ndarray
    regions: np.ndarray
    adults: np.ndarray
    male: np.ndarray
    old: np.ndarray
    urban: np.ndarray
    schooling: np.ndarray


def _census() -> _Census:
    c = load_census()
    child = c["age_0_14_pct"].to_numpy(dtype=float)
    return _Census(
        codes=c["gb_code"].to_numpy(dtype=np.int64),
        regions=c["nbs_region"].to_numpy(dtype=object),
        adults=c["population"].to_numpy(dtype=float) * (100.0 - child) / 100.0,
        male=c["male_pct"].to_numpy(dtype=float) / 100.0,
        old=c["age_60_plus_pct"].to_numpy(dtype=float) / (100.0 - child),
        urban=c["urban_pct"].to_numpy(dtype=float) / 100.0,
        schooling=c["mean_years_schooling_15_plus"].to_numpy(dtype=float),
    )


# ============================================================================ people
def _draw_people(
    rng: np.random.Generator, province_index: np.ndarray, census: _Census, psus: int
) -> pd.DataFrame:
    n = len(province_index)
    p = province_index
    urban = rng.random(n) < census.urban[p]
    male = rng.random(n) < census.male[p]
    old = rng.random(n) < census.old[p]
    young_age = 18 + np.floor(42 * rng.beta(1.05, 1.25, n))
    old_age = np.minimum(60 + np.floor(rng.exponential(11.0, n)), 100)
    age = np.where(old, old_age, young_age).astype(np.int64)
    region = census.regions[p]
    edu_latent = (
        0.35 * (census.schooling[p] - 9.9)
        + 0.7 * urban
        - 0.025 * (age - 45)
        + rng.normal(0.0, 1.0, n)
    )
    education = np.searchsorted(_EDU_CUTS, edu_latent).astype(np.int64)
    edu_z = (education - _EDU_MEAN) / _EDU_SD
    region_income = np.vectorize(_REGION_INCOME.get, otypes=[float])(region) if n else np.zeros(0)
    inc_latent = (
        0.55 * edu_z
        + 0.45 * urban
        + region_income
        - 0.15 * ((age - 45) / 15.0) ** 2
        + rng.normal(0.0, 0.85, n)
    )
    income = np.searchsorted(_INC_CUTS, inc_latent).astype(np.int64)
    inc_z = (income - _INC_MEAN) / _INC_SD
    psu_number = rng.integers(1, psus + 1, n)
    psu_effect = rng.normal(0.0, 0.15, n)  # replaced by the county's effect for samples
    region_effect = np.vectorize(_REGION_EFFECT.get, otypes=[float])(region) if n else np.zeros(0)
    theta = (
        THETA["education"] * edu_z
        + THETA["income"] * inc_z
        - THETA["age"] * ((age - 45) / 15.0) ** 2
        + region_effect
        + THETA["urban"] * urban
        + rng.normal(0.0, THETA["noise"], n)
    )
    exposure_p = _expit(-1.1 + 0.55 * edu_z + 0.35 * urban + 0.15 * inc_z)
    exposed = rng.random(n) < exposure_p
    return pd.DataFrame(
        {
            "province": census.codes[p],
            "region": region,
            "urban": urban,
            "male": male,
            "age": age,
            "age_band": np.where(old, "60+", "15-59"),
            "education": education,
            "income": income,
            "psu_number": psu_number,
            "psu_effect": psu_effect,
            "theta": theta,
            "exposed": exposed,
            "exposure_p": exposure_p,
        }
    )


def generate_people(
    n: int,
    *,
    seed: int,
    skew: Skew = REPRESENTATIVE,
    psus_per_province: int = 12,
    provinces: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Draw ``n`` respondents: their demographics, latent literacy and exposure.

    Parameters
    ----------
    n
        Respondents.
    seed
        Seed of the random numbers (same seed, same people).
    skew
        Sample selection relative to the census (:data:`REPRESENTATIVE`: none).
    psus_per_province
        Counties (PSUs) per province; respondents of a county share its effect on literacy.
    provinces
        Only these GB/T 2260 codes, in equal numbers (the truth population's strata); default
        all 31 in proportion to their adult population times the selection.

    Returns
    -------
    pandas.DataFrame
        One row per person: ``province`` (code), ``region``, ``urban``, ``male`` (bool), ``age``,
        ``age_band`` (``"15-59"``, ``"60+"``), ``education`` (0-5), ``income`` (0-4), ``psu``
        (``"<province>-<county>"``), ``theta`` (latent literacy, county effect included),
        ``exposed`` (bool), ``exposure_p`` (its probability).

    Notes
    -----
    Selection is by rejection: people are drawn from the census population and kept with
    probability proportional to the product of the :class:`Skew` factors, so the sample is
    distributed exactly as the population times the inclusion probability.
    """
    n = int(n)
    census = _census()
    rng_province, rng_people, rng_keep, rng_county = _streams(_check_seed(seed), 4)
    province_factor = np.exp(rng_province.normal(0.0, skew.province_spread, len(census.codes)))
    county_effects = rng_county.normal(0.0, 0.15, (len(census.codes), psus_per_province))
    if provinces is not None:
        index = {int(c): i for i, c in enumerate(census.codes)}
        chosen = np.array([index[int(c)] for c in provinces], dtype=np.int64)
        people = _draw_people(rng_people, np.repeat(chosen, n), census, psus_per_province)
        people["theta"] = people["theta"] + people.pop("psu_effect")
    else:
        counts = _allocation(
            n, census.adults, province_factor, skew.allocation_power, skew.province_minimum
        )
        parts: list[pd.DataFrame] = []
        top = max(1.0, skew.old) * max(1.0, skew.rural) * max(1.0, skew.female)
        top *= math.exp(max(0.0, skew.education) * (EDUCATION_LEVELS - 1))
        for p, wanted in enumerate(counts.tolist()):
            have = 0
            while have < wanted:
                batch = max(256, int((wanted - have) * 1.2 / _acceptance(skew)))
                draw = _draw_people(
                    rng_people, np.full(batch, p, dtype=np.int64), census, psus_per_province
                )
                inclusion = (
                    np.where(draw["age_band"].to_numpy() == "60+", skew.old, 1.0)
                    * np.where(draw["urban"].to_numpy(), 1.0, skew.rural)
                    * np.where(draw["male"].to_numpy(), 1.0, skew.female)
                    * np.exp(skew.education * draw["education"].to_numpy())
                )
                keep = rng_keep.random(batch) < inclusion / top
                taken = draw[keep].iloc[: wanted - have]
                parts.append(taken)
                have += len(taken)
        people = pd.concat(parts, ignore_index=True)
        people = people.iloc[rng_keep.permutation(len(people))].reset_index(drop=True)
        pidx = np.searchsorted(census.codes, people["province"].to_numpy())
        effect = county_effects[pidx, people["psu_number"].to_numpy() - 1]
        people = people.drop(columns="psu_effect")
        people["theta"] = people["theta"] + effect
    people["psu"] = [
        f"{p}-{c:02d}" for p, c in zip(people["province"], people["psu_number"], strict=True)
    ]
    return people.drop(columns="psu_number")


def _acceptance(skew: Skew) -> float:
    """A lower bound on the share of drawn people kept (to size the batches)."""
    low = min(skew.old, 1.0) * min(skew.rural, 1.0) * min(skew.female, 1.0)
    low *= math.exp(min(0.0, skew.education) * (EDUCATION_LEVELS - 1))
    high = max(1.0, skew.old) * max(1.0, skew.rural) * max(1.0, skew.female)
    high *= math.exp(max(0.0, skew.education) * (EDUCATION_LEVELS - 1))
    return max(0.5 * low / high, 1e-4)


def _allocation(
    n: int, adults: np.ndarray, factor: np.ndarray, power: float, minimum: int
) -> np.ndarray:
    """Respondents per province: n in proportion to adults**power x factor, at least
    ``min(minimum, n // 31)`` each, rounded by largest remainders so that they add up to n."""
    share = adults**power * factor
    share = share / share.sum()
    floor = min(minimum, n // len(adults))
    rest = n - floor * len(adults)
    exact = rest * share
    counts = np.floor(exact).astype(np.int64)
    left = rest - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:left]] += 1
    return counts + floor


# ============================================================================ answers
@dataclass
class _Context:
    questionnaire: Questionnaire
    people: pd.DataFrame
    rng: np.random.Generator
    traits: dict[str, FloatArray]
    theta: FloatArray
    speeder: np.ndarray
    straightliner: np.ndarray
    inattentive: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    text: dict[str, np.ndarray] = field(default_factory=dict)
    profile: Mapping[str, Rule] = field(default_factory=dict)
    fixed: Mapping[str, FloatArray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.theta)

    def trait(self, dimension: str | None) -> FloatArray:
        if dimension is None:
            return self.theta
        return self.traits.get(dimension, self.theta)


def _traits(
    questionnaire: Questionnaire,
    theta: FloatArray,
    exposed: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, FloatArray]:
    names = [d.name for d in questionnaire.dimensions]
    for rules in PROFILES.get(questionnaire.id, {}).values():
        if rules[0] in ("choice", "multi", "ordered") and rules[1] not in names:
            names.append(rules[1])
    for name in ("knowledge", "behaviour", "attitude", "skills"):
        if name not in names:
            names.append(name)
    out = {}
    for name in names:
        noise = rng.normal(0.0, 0.35, len(theta))
        out[name] = theta + noise + _EFFECT.get(name, 0.0) * exposed
    return out


def _frame_for(ctx: _Context, names: Sequence[str]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for name in names:
        if name in ctx.text:
            data[name] = pd.array(ctx.text[name], dtype="str")
            continue
        values = ctx.columns[name]
        missing = np.isnan(values)
        dtype = ctx.questionnaire.question(name.split("__")[0]).type if name != "province" else ""
        if dtype == "decimal":
            data[name] = pd.arrays.FloatingArray(np.where(missing, 0.0, values), missing)
        else:
            data[name] = pd.arrays.IntegerArray(
                np.where(missing, 0, values).astype(np.int64), missing
            )
    return pd.DataFrame(data)


def _condition(ctx: _Context, text: str | None) -> np.ndarray:
    if text is None:
        return np.ones(ctx.n, dtype=bool)
    expression = parse(text)
    symbols = ctx.questionnaire.symbols()
    needed: list[str] = []
    for ref in expression.references:
        q = ctx.questionnaire.question(ref)
        if q.type == "multiple_choice":
            names = q.choices.names if q.choices is not None else ()
            needed.extend(f"{ref}__{o}" for o in names)
        else:
            needed.append(ref)
    frame = _frame_for(ctx, needed)
    result = expression.evaluate_frame(frame, symbols)
    return np.asarray(result.fillna(False).to_numpy(dtype=bool))


def _ordinal(ctx: _Context, trait: FloatArray, k: int, a: float, b: float) -> np.ndarray:
    """Graded response: position 0..k-1, higher with the trait."""
    u = ctx.rng.random(ctx.n)
    thresholds = b + 0.9 * (np.arange(1, k) - k / 2.0)
    return (u[:, None] < _expit(a * (trait[:, None] - thresholds[None, :]))).sum(axis=1)


def _uniform_choice(ctx: _Context, k: int) -> np.ndarray:
    return ctx.rng.integers(0, k, ctx.n)


def _specials(ctx: _Context, q: Question, trait: FloatArray, values: FloatArray,
              dont_know: float, prefer_not: float) -> FloatArray:
    """Replace some answers by the question's special answers (low trait: more don't know)."""
    u = ctx.rng.random(ctx.n)
    if "dont_know" in q.special:
        values = np.where(u < dont_know * 2 * _expit(-trait), SPECIAL_CODES["dont_know"], values)
    if "prefer_not" in q.special:
        values = np.where(
            (u >= 0.999 - prefer_not) & (u < 0.999), SPECIAL_CODES["prefer_not"], values
        )
    return values


def _real_codes(q: Question) -> np.ndarray:
    return np.array([c.code for c in q.choices] if q.choices is not None else [], dtype=float)


def _generate_choice(ctx: _Context, q: Question) -> FloatArray:
    """A single choice, likert or matrix item: the stored code for every row."""
    codes = _real_codes(q)
    names = list(q.choices.names) if q.choices is not None else []
    k = len(codes)
    item = _item_rng(ctx.questionnaire, q.name)
    a = float(item.uniform(0.9, 1.8))
    rule = ctx.profile.get(q.name)
    score = q.score
    random_answer = codes[_uniform_choice(ctx, k)]
    if score is not None and score.kind == "correct":
        dim = score.dimension
        trait = ctx.trait(dim)
        b = float(item.normal(_DIMENSION_LEVEL.get(dim, -0.1), 0.8))
        knows = ctx.rng.random(ctx.n) < _expit(a * (trait - b))
        right = codes[[names.index(c) for c in score.correct]][0]
        dk = ctx.rng.random(ctx.n) < _expit(-0.3 - trait)
        values = np.where(knows, right, random_answer)
        if "dont_know" in q.special:
            values = np.where(~knows & dk, SPECIAL_CODES["dont_know"], values)
        if "prefer_not" in q.special:
            values = np.where(ctx.rng.random(ctx.n) < 0.005, SPECIAL_CODES["prefer_not"], values)
    elif score is not None:  # points or scale: graded in the dimension's trait
        dim = score.dimension
        trait = ctx.trait(dim)
        b = float(item.normal(_DIMENSION_LEVEL.get(dim, -0.1), 0.5))
        position = _ordinal(ctx, trait, k, a, b)
        if score.kind == "points":
            points = score.points_dict()
            order = np.argsort([points.get(nm, 0.0) for nm in names], kind="stable")
        else:
            order = np.arange(k)[::-1] if score.reverse else np.arange(k)
        values = codes[order[position]]
        values = _specials(ctx, q, trait, values, 0.02, 0.02)
    elif rule is not None and rule[0] == "ordered":
        trait = ctx.trait(rule[1])
        b = float(item.normal(-0.2, 0.5))
        position = _ordinal(ctx, trait, k, a, b)
        order = np.arange(k)[::-1] if rule[2] == "first" else np.arange(k)
        values = codes[order[position]]
        values = _specials(ctx, q, trait, values, 0.02, 0.01)
    elif rule is not None and rule[0] == "choice":
        trait = ctx.trait(rule[1])
        table = rule[2]
        utility = np.stack(
            [table.get(nm, (-5.0, 0.0))[0] + table.get(nm, (0.0, 0.0))[1] * trait for nm in names],
            axis=1,
        )
        utility = utility + ctx.rng.gumbel(size=utility.shape)
        values = codes[np.argmax(utility, axis=1)]
        values = _specials(ctx, q, trait, values, 0.02, 0.01)
    elif q.role == "attention_check" and q.expected is not None:
        expected = codes[names.index(q.expected)]
        values = np.where(ctx.inattentive, random_answer, expected)
        fail = ctx.inattentive & (values == expected)
        other = codes[codes != expected]
        values = np.where(fail, other[_uniform_choice(ctx, len(other))], values)
        return values.astype(float)
    else:
        values = random_answer
        values = _specials(ctx, q, ctx.theta, values, 0.02, 0.01)
    return np.where(ctx.speeder, random_answer, values).astype(float)


def _wrong_number(ctx: _Context, q: Question, right: float) -> FloatArray:
    if right == 0:
        options = np.array([1.0, 2.5, 25.0, 5.0])
    else:
        options = np.round(right * np.array([0.5, 0.9, 1.1, 2.0, 10.0, 0.98]), 2)
    if q.type == "integer":
        options = np.round(options)
    low = q.min if q.min is not None else -math.inf
    high = q.max if q.max is not None else math.inf
    tolerance = q.score.tolerance if q.score is not None else 0.0
    options = options[(options >= low) & (options <= high) & (np.abs(options - right) > tolerance)]
    if not len(options):
        options = np.array([high if right != high else low])
    return options[_uniform_choice(ctx, len(options))]


def _amount(ctx: _Context, q: Question, kind: str) -> FloatArray:
    income_band = ctx.people["income"].to_numpy()
    if kind == "income":
        household = np.array([20_000, 55_000, 115_000, 220_000, 420_000])[income_band]
        personal = household / 2.2 / 12 * ctx.rng.lognormal(0.0, 0.45, ctx.n)
        values = np.round(personal / 100) * 100
        values = np.where(ctx.rng.random(ctx.n) < 0.03, 0.0, values)
        return _specials(ctx, q, ctx.theta, values, 0.0, 0.06)
    income = ctx.columns.get("monthly_income", np.full(ctx.n, np.nan))
    share = np.clip(0.15 + 0.1 * ctx.trait("behaviour") + ctx.rng.normal(0, 0.1, ctx.n), 0, 0.8)
    return np.where(income > 0, np.round(np.nan_to_num(income) * share / 50) * 50, 0.0)


def _generate_number(ctx: _Context, q: Question) -> FloatArray:
    rule = ctx.profile.get(q.name)
    if rule is not None and rule[0] == "amount":
        return _amount(ctx, q, rule[1])
    score = q.score
    low = q.min if q.min is not None else 0.0
    high = q.max if q.max is not None else low + 100.0
    if score is not None and score.correct_value is not None:
        item = _item_rng(ctx.questionnaire, q.name)
        a = float(item.uniform(0.9, 1.8))
        trait = ctx.trait(score.dimension)
        b = float(item.normal(_DIMENSION_LEVEL.get(score.dimension, -0.1), 0.8))
        knows = ctx.rng.random(ctx.n) < _expit(a * (trait - b))
        dk = ctx.rng.random(ctx.n) < _expit(-0.3 - trait)
        right = float(score.correct_value)
        wrong = _wrong_number(ctx, q, right)
        values = np.where(knows, right, wrong)
        if "dont_know" in q.special:
            values = np.where(~knows & dk, SPECIAL_CODES["dont_know"], values)
        values = np.where(ctx.speeder, wrong, values)
        if "prefer_not" in q.special:
            values = np.where(ctx.rng.random(ctx.n) < 0.005, SPECIAL_CODES["prefer_not"], values)
        return values.astype(float)
    values = ctx.rng.uniform(low, min(high, low + 100.0), ctx.n)
    if q.type == "integer":
        values = np.floor(values)
    else:
        values = np.round(values, q.decimals if q.decimals is not None else 2)
    return _specials(ctx, q, ctx.theta, values, 0.01, 0.01)


def _generate_multiple(ctx: _Context, q: Question) -> dict[str, FloatArray]:
    names = list(q.choices.names) if q.choices is not None else []
    rule = ctx.profile.get(q.name)
    exclusive = [o for o in names if o in q.exclusive]
    regular = [o for o in names if o not in q.exclusive]
    chosen = np.zeros((ctx.n, len(names)), dtype=bool)
    if q.role == "exposure" and q.choices is not None:
        exposed = ctx.people["exposed"].to_numpy()
        kinds = [c.exposure for c in q.choices]
        base = {"month": -0.6, "consumer_day": -0.9, "school": -1.6, "bank": -0.7,
                "online": -0.3, "other": -2.2}
        for j, kind in enumerate(kinds):
            if kind in base:
                p_kind = 1.0 / (1.0 + math.exp(-base[kind]))
                chosen[:, j] = exposed & (ctx.rng.random(ctx.n) < p_kind)
        first = np.array([k in base for k in kinds])
        none_pick = exposed & ~chosen.any(axis=1)
        if first.any():
            pick = np.flatnonzero(first)[_uniform_choice(ctx, int(first.sum()))]
            chosen[none_pick, pick[none_pick]] = True
    else:
        trait = ctx.trait(rule[1]) if rule is not None and rule[0] == "multi" else ctx.theta
        table = rule[2] if rule is not None and rule[0] == "multi" else {}
        for j, name in enumerate(names):
            if name in exclusive:
                continue
            base, slope = table.get(name, (-1.0, 0.0))
            chosen[:, j] = ctx.rng.random(ctx.n) < _expit(base + slope * trait)
        random_pick = ctx.rng.random((ctx.n, len(names))) < 0.25
        chosen = np.where(ctx.speeder[:, None], random_pick, chosen)
        if exclusive:
            chosen[:, [names.index(o) for o in exclusive]] = False
    if exclusive:
        ex = names.index(exclusive[0])
        chosen[:, ex] = ~chosen.any(axis=1)
    elif regular:
        nothing = ~chosen.any(axis=1)
        pick = _uniform_choice(ctx, len(names))
        chosen[nothing, pick[nothing]] = True
    if q.max_selected is not None:
        too_many = chosen.sum(axis=1) > q.max_selected
        keep = np.cumsum(chosen, axis=1) <= q.max_selected
        chosen = np.where(too_many[:, None], chosen & keep, chosen)
    values = chosen.astype(float)
    special = np.full(ctx.n, np.nan)
    u = ctx.rng.random(ctx.n)
    if "dont_know" in q.special:
        special = np.where(u < 0.01, SPECIAL_CODES["dont_know"], special)
    if "prefer_not" in q.special:
        special = np.where((u >= 0.01) & (u < 0.017), SPECIAL_CODES["prefer_not"], special)
    if q.role == "exposure":
        special[:] = np.nan
    values = np.where(np.isnan(special)[:, None], values, special[:, None])
    return {f"{q.name}__{o}": values[:, j] for j, o in enumerate(names)}


def _map_levels(level: np.ndarray, levels: int, k: int) -> np.ndarray:
    """Map ``level`` in 0..levels-1 onto k ordered options (in proportion)."""
    if k == levels:
        return level
    return np.minimum((level * k) // levels, k - 1)


_OCCUPATION_PATTERNS = {
    "retired": "retired",
    "student": "student",
    "farmer": "farmer",
    "public": "public_sector",
    "enterprise": "employee",
    "employed": "employee",
    "self": "self_employed",
    "looking": "not_working",
    "not_working": "not_working",
    "homemaker": "homemaker",
    "unable": "not_working",
    "other": "other",
}


def _occupation(ctx: _Context, q: Question) -> FloatArray:
    names = list(q.choices.names) if q.choices is not None else []
    codes = _real_codes(q)
    kind = []
    for name in names:
        kind.append(next((v for k, v in _OCCUPATION_PATTERNS.items() if name.startswith(k)), name))
    age = ctx.people["age"].to_numpy()
    urban = ctx.people["urban"].to_numpy()
    edu = ctx.people["education"].to_numpy()
    weights = np.zeros((ctx.n, len(names)))
    for j, k in enumerate(kind):
        if k == "retired":
            w = np.where(age >= 60, 6.0, np.where(age >= 50, 0.4, 0.0))
        elif k == "student":
            w = np.where(age <= 24, 2.0 + edu, 0.0)
        elif k == "farmer":
            w = np.where(~urban & (age < 75), 3.0 - 0.5 * edu, 0.2)
        elif k == "public_sector":
            w = np.where(age < 60, 0.2 + 0.4 * edu, 0.0)
        elif k == "employee":
            w = np.where(age < 60, np.where(urban, 3.0, 1.2), 0.1)
        elif k == "self_employed":
            w = np.where(age < 65, 1.0, 0.1)
        elif k == "homemaker":
            w = np.where(ctx.people["male"].to_numpy(), 0.05, 0.5)
        elif k == "not_working":
            w = np.full(ctx.n, 0.35)
        else:
            w = np.full(ctx.n, 0.15)
        weights[:, j] = np.maximum(w, 0.01)
    cum = np.cumsum(weights, axis=1)
    u = ctx.rng.random(ctx.n) * cum[:, -1]
    pick = (u[:, None] >= cum).sum(axis=1)
    values = codes[np.minimum(pick, len(codes) - 1)]
    return _specials(ctx, q, ctx.theta, values, 0.0, 0.01)


def _generate_role(ctx: _Context, q: Question) -> FloatArray | None:
    people = ctx.people
    codes = _real_codes(q)
    names = list(q.choices.names) if q.choices is not None else []
    role = q.role
    if role == "province":
        return people["province"].to_numpy(dtype=float)
    if role == "sex":
        return np.where(people["male"], codes[names.index("male")], codes[names.index("female")])
    if role == "urban":
        return np.where(people["urban"], codes[names.index("urban")], codes[names.index("rural")])
    if role == "age":
        age = people["age"].to_numpy(dtype=float)
        if q.type == "single_choice":
            return codes[_map_levels(((age - 18) // 10).astype(np.int64).clip(0, 8), 9,
                                     len(codes))]
        low = q.min if q.min is not None else 18
        high = q.max if q.max is not None else 100
        return np.clip(age, low, high)
    if role == "education":
        values = codes[_map_levels(people["education"].to_numpy(), EDUCATION_LEVELS, len(codes))]
        return _specials(ctx, q, ctx.theta, values, 0.0, 0.01)
    if role == "income":
        if q.type != "single_choice":
            return _amount(ctx, q, "income")
        values = codes[_map_levels(people["income"].to_numpy(), INCOME_LEVELS, len(codes))]
        if "dont_know" in q.special:
            values = np.where(ctx.rng.random(ctx.n) < 0.03, SPECIAL_CODES["dont_know"], values)
        if "prefer_not" in q.special:
            values = np.where(ctx.rng.random(ctx.n) < 0.06, SPECIAL_CODES["prefer_not"], values)
        return values
    if role == "occupation":
        return _occupation(ctx, q)
    if role == "exposure_recency":
        weights = np.array([0.18, 0.17, 0.22, 0.2, 0.12, 0.11])[: len(codes)]
        weights = weights / weights.sum()
        values = codes[ctx.rng.choice(len(codes), size=ctx.n, p=weights)]
        return _specials(ctx, q, ctx.theta, values, 0.03, 0.0)
    return None


def _option_orders(ctx: _Context) -> list[str | None]:
    """The option (or item) order shown to each respondent for randomised questions."""
    parts: list[list[str]] = []
    for section in ctx.questionnaire.sections:
        for q in section.questions:
            if not q.randomize:
                continue
            if q.type == "matrix":
                names = [i.name for i in q.items]
            else:
                names = list(q.choices.names) if q.choices is not None else []
            item = _item_rng(ctx.questionnaire, f"order:{q.name}")
            shown = [json.dumps(list(item.permutation(names))) for _ in range(6)]
            pick = ctx.rng.integers(0, 6, ctx.n)
            parts.append([f'"{q.name}":{shown[i]}' for i in pick])
    if not parts:
        return [None] * ctx.n
    return ["{" + ",".join(row) + "}" for row in zip(*parts, strict=True)]


def _answer_columns(ctx: _Context) -> None:
    qn = ctx.questionnaire
    for section in qn.sections:
        section_on = _condition(ctx, section.relevant)
        for q in section.questions:
            members = q.items if q.type == "matrix" else (q,)
            straight = None
            if q.type == "matrix" and len(q.items) >= 4 and q.choices is not None:
                straight = _real_codes(q)[_uniform_choice(ctx, len(q.choices))]
            for item in members:
                if not item.is_answerable:
                    continue
                on = section_on & _condition(ctx, item.relevant)
                produced: dict[str, FloatArray | None]
                if item.name in ctx.fixed:
                    produced = {item.name: ctx.fixed[item.name]}
                elif item.type == "multiple_choice":
                    produced = dict(_generate_multiple(ctx, item))
                elif item.type == "text":
                    produced = {item.name: None}
                elif item.role is not None and item.role not in ("attention_check",):
                    produced = {item.name: _generate_role(ctx, item)}
                elif item.type in ("integer", "decimal"):
                    produced = {item.name: _generate_number(ctx, item)}
                else:
                    chosen = _generate_choice(ctx, item)
                    if straight is not None:
                        chosen = np.where(ctx.straightliner, straight, chosen)
                    produced = {item.name: chosen}
                for name, values in produced.items():
                    if values is None:
                        text = ctx.text.get(name)
                        if text is not None:
                            ctx.text[name] = np.where(on, text, np.array(None, dtype=object))
                        else:
                            ctx.columns[name] = np.full(ctx.n, np.nan)
                        continue
                    ctx.columns[name] = np.where(on, values, np.nan)


def generate_responses(
    questionnaire: Questionnaire,
    people: pd.DataFrame,
    *,
    seed: int,
    rates: Rates = Rates(),
    exposure: bool | None = None,
    texts: Mapping[str, Sequence[str]] | None = None,
    fixed: Mapping[str, FloatArray] | None = None,
    trait_shift: Mapping[str, FloatArray] | None = None,
    answers_seed: int | None = None,
) -> pd.DataFrame:
    """Answers of ``people`` to ``questionnaire``, as stored columns (no metadata).

    Parameters
    ----------
    questionnaire
        Any loaded questionnaire (profiles in :data:`PROFILES` refine the shipped ones).
    people
        From :func:`generate_people`.
    seed
        Seed of the answers' random numbers.
    rates
        Careless-response rates (``breakoff`` is not used here).
    exposure
        Force everyone's exposure to financial education on (True) or off (False), for the
        potential outcomes; None keeps each person's.
    texts
        Text answers by question name (e.g. participant codes), one per person.
    fixed
        Stored codes by question name that replace the generated ones (e.g. the phase).
    trait_shift
        Added to a dimension's trait (e.g. the post-test gain of a training), by dimension.
    answers_seed
        Seed of the item responses alone (default: derived from ``seed``); the same ``seed``
        with another ``answers_seed`` answers again with the same traits (a retest).

    Returns
    -------
    pandas.DataFrame
        The columns of ``questionnaire.columns(include_contact=False)`` (``Int64`` codes,
        ``Float64`` decimals, text), plus ``_speeder``, ``_straightliner``, ``_inattentive``
        (bool) marking the careless respondents planted.

    Notes
    -----
    The random numbers drawn do not depend on the answers, only on the number of people and
    the questionnaire, so two calls with the same seed and different ``exposure`` give
    potential outcomes with common random numbers.
    """
    rng_traits, rng_answers, rng_care = _streams(_check_seed(seed), 3)
    if answers_seed is not None:
        rng_answers = _streams(_check_seed(answers_seed), 1)[0]
    n = len(people)
    exposed = people["exposed"].to_numpy(dtype=bool)
    if exposure is not None:
        exposed = np.full(n, bool(exposure))
    theta = people["theta"].to_numpy(dtype=float)
    traits = _traits(questionnaire, theta, exposed, rng_traits)
    for name, shift in (trait_shift or {}).items():
        traits[name] = traits.get(name, theta) + shift
    u = rng_care.random((3, n))
    speeder = u[0] < rates.speeder
    straight = ~speeder & (u[1] < rates.straightliner)
    inattentive = speeder & (u[2] < 0.8) | ~speeder & (u[2] < rates.inattentive)
    people_view = people.assign(exposed=exposed)
    ctx = _Context(
        questionnaire=questionnaire,
        people=people_view,
        rng=rng_answers,
        traits=traits,
        theta=theta,
        speeder=speeder,
        straightliner=straight,
        inattentive=inattentive,
        profile=PROFILES.get(questionnaire.id, {}),
        fixed={k: np.asarray(v, dtype=float) for k, v in (fixed or {}).items()},
    )
    for name, given in (texts or {}).items():
        ctx.text[name] = np.asarray(given, dtype=object)
    _answer_columns(ctx)
    out: dict[str, Any] = {}
    for column in questionnaire.columns(include_contact=False):
        if column.dtype == "str":
            text = ctx.text.get(column.name, np.full(n, None, dtype=object))
            out[column.name] = pd.array(text, dtype="str")
            continue
        values = ctx.columns[column.name]
        missing = np.isnan(values)
        if column.dtype == "Float64":
            out[column.name] = pd.arrays.FloatingArray(np.where(missing, 0.0, values), missing)
        else:
            out[column.name] = pd.arrays.IntegerArray(
                np.where(missing, 0, values).astype(np.int64), missing
            )
    out["_speeder"] = speeder
    out["_straightliner"] = straight
    out["_inattentive"] = inattentive
    return pd.DataFrame(out)


# ============================================================================ metadata
def _response_ids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.bytes(16 * n)
    encode = base64.urlsafe_b64encode
    return [encode(raw[i : i + 16]).decode("ascii")[:22] for i in range(0, 16 * n, 16)]


def _section_weights(questionnaire: Questionnaire) -> np.ndarray:
    weights = []
    for section in questionnaire.sections:
        total = 0.0
        for q in section.questions:
            if q.type == "matrix":
                total += 0.6 * len(q.items)
            elif q.type != "note":
                total += 1.0
        weights.append(max(total, 0.3))
    return np.asarray(weights)


def _metadata(
    questionnaire: Questionnaire,
    rng: np.random.Generator,
    n: int,
    speeder: np.ndarray,
    spec: SimulationSpec,
    *,
    started_us: np.ndarray | None = None,
) -> dict[str, Any]:
    """Fixed columns other than the answers (and the option order), as arrays."""
    ids = _response_ids(rng, n)
    per_section = _section_weights(questionnaire)
    person = np.where(speeder, 1.0, rng.lognormal(0.0, 0.35, n))
    seconds = 11.0 * per_section[None, :] * person[:, None]
    seconds *= rng.lognormal(0.0, 0.25, seconds.shape)
    speed = np.where(speeder, rng.uniform(0.08, 0.25, n), 1.0)
    seconds = np.round(seconds * speed[:, None], 1)
    consent = np.round(rng.uniform(8.0, 45.0, n) * speed, 1)
    duration = seconds.sum(axis=1) + consent
    names = [s.name for s in questionnaire.sections]
    texts = [np.char.mod("%.1f", seconds[:, j]) for j in range(len(names))]
    heads = [f'"{name}":' for name in names]
    page_seconds = [
        "{" + ",".join(h + v for h, v in zip(heads, row, strict=True)) + "}"
        for row in zip(*texts, strict=True)
    ]
    if started_us is None:
        offset = rng.uniform(0.0, spec.fieldwork_days * 86400.0, n)
        start_us = int(spec.start.timestamp() * 1_000_000)
        started_us = start_us + np.round(offset * 1e6).astype(np.int64)
    else:
        rng.uniform(0.0, 1.0, n)
    submitted_us = started_us + np.round(duration * 1e6).astype(np.int64)
    device = np.asarray(_DEVICES, dtype=object)[rng.choice(3, size=n, p=_DEVICE_SHARES)]
    english = "en" in questionnaire.languages
    language = np.where(english & (rng.random(n) < 0.05), "en", "zh")
    return {
        "response_id": ids,
        "started_us": started_us,
        "submitted_us": submitted_us,
        "duration_seconds": np.round(duration, 1),
        "page_seconds": page_seconds,
        "device_class": device,
        "language": language,
    }


def _to_table(
    questionnaire: Questionnaire,
    answers: pd.DataFrame,
    meta: Mapping[str, Any],
    option_order: Sequence[str | None],
    province: np.ndarray | None,
) -> pa.Table:
    """The stored rows, exactly as :meth:`ResponseRecord.to_table` would make them."""
    n = len(answers)
    consent = questionnaire.consent.version if questionnaire.consent is not None else None
    utc = pa.timestamp("us", tz="UTC")
    fixed: dict[str, pa.Array] = {
        "response_id": pa.array(meta["response_id"], pa.string()),
        "questionnaire_id": pa.array(np.full(n, questionnaire.id, dtype=object), pa.string()),
        "questionnaire_version": pa.array(
            np.full(n, questionnaire.version, dtype=object), pa.string()
        ),
        "submitted_at": pa.array(meta["submitted_us"], pa.int64()).cast(utc),
        "started_at": pa.array(meta["started_us"], pa.int64()).cast(utc),
        "language": pa.array(meta["language"].astype(object), pa.string()),
        "province": pa.array(province, pa.int64(), mask=None)
        if province is not None
        else pa.nulls(n, pa.int64()),
        "consent_version": pa.array(np.full(n, consent, dtype=object), pa.string()),
        "duration_seconds": pa.array(meta["duration_seconds"], pa.float64()),
        "page_seconds": pa.array(meta["page_seconds"], pa.string()),
        "device_class": pa.array(meta["device_class"], pa.string()),
        "option_order": pa.array(list(option_order), pa.string()),
        "token_hash": pa.nulls(n, pa.string()),
    }
    arrays = list(fixed.values())
    names = list(fixed)
    for column in questionnaire.columns(include_contact=False):
        if column.name in META_COLUMNS:
            continue
        series = answers[column.name]
        type_ = {"Int64": pa.int64(), "Float64": pa.float64(), "str": pa.string()}[column.dtype]
        arrays.append(pa.array(series.array, type=type_, from_pandas=True))
        names.append(column.name)
    return pa.Table.from_arrays(arrays, names=names)


def _row_answers(table: pa.Table, i: int) -> dict[str, Any]:
    return {k: v[0] for k, v in table.slice(i, 1).to_pydict().items()}


def _check_row(questionnaire: Questionnaire, row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's answers in the app's form, after checking that to_columns gives the row."""
    answers = from_columns(questionnaire, row)
    stored = to_columns(questionnaire, answers)
    for name, value in stored.items():
        if name in META_COLUMNS:
            continue
        have = row.get(name)
        if not (have == value or (have is None and value is None)):
            raise SimulationError(
                f"internal error: simulated column {name!r} holds {have!r} but "
                f"to_columns gives {value!r}; please report this."
            )
    return answers


def _open_store(store: ParquetResponseStore | str | os.PathLike[str]) -> ParquetResponseStore:
    if isinstance(store, ParquetResponseStore):
        return store
    return ParquetResponseStore(store)


def _write_file_atomically(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


def _save_truth(root: Path, key: str, truth: Mapping[str, Any]) -> Path:
    path = root / SIMULATION_DIR / TRUTH_FILE
    current: dict[str, Any] = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            current = {}
    current[key] = truth

    def write(target: Path) -> None:
        target.write_text(json.dumps(current, ensure_ascii=False, indent=2), encoding="utf-8")

    _write_file_atomically(path, write)
    return path


def _store_rows(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    table: pa.Table,
    method: Method,
    spec: SimulationSpec,
    rng: np.random.Generator,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Write the rows through the store; return how many were checked against the questionnaire."""
    from responses.errors import ResponseError

    n = table.num_rows
    if method == "bulk":
        k = min(n, spec.validate_sample)
        for i in sorted(rng.choice(n, size=k, replace=False).tolist()):
            _check_row(questionnaire, _row_answers(table, i))
        try:
            store.publish_bulk(table, actor="simulation")
        except ResponseError as error:
            raise SimulationError(
                f"the simulated responses could not be stored: {error} Simulate into an empty "
                "data folder or with another seed."
            ) from None
        if progress is not None:
            progress(n, n)
        return k
    consent = questionnaire.consent.version if questionnaire.consent is not None else None
    rows = table.to_pylist()
    for i, row in enumerate(rows):
        answers = _check_row(questionnaire, row)
        paradata = Paradata(
            page_seconds=json.loads(row["page_seconds"]),
            duration_seconds=row["duration_seconds"],
            user_agent=_USER_AGENTS[row["device_class"]],
            option_order=json.loads(row["option_order"]) if row["option_order"] else {},
        )
        try:
            receipt = submit_answers(
                store,
                questionnaire,
                answers,
                response_id=row["response_id"],
                language=row["language"],
                started_at=row["started_at"],
                consent_version=consent,
                paradata=paradata,
                now=row["submitted_at"],
            )
        except ResponseError as error:
            raise SimulationError(
                f"the simulated responses could not be stored: {error} Simulate into an empty "
                "data folder or with another seed."
            ) from None
        if receipt.duplicate:
            raise SimulationError(
                f"response {row['response_id']} is already stored: this seed was simulated into "
                "this data folder before; use another seed or an empty folder."
            )
        if progress is not None and (i % 50 == 49 or i == n - 1):
            progress(i + 1, n)
    return n


def _save_breakoffs(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    table: pa.Table,
    rng: np.random.Generator,
) -> int:
    """Save each row as a draft stopped before a random section (never submitted)."""
    sections = questionnaire.sections
    if table.num_rows == 0 or len(sections) < 2:
        return 0
    stops = rng.integers(1, len(sections), table.num_rows)
    for row, stop in zip(table.to_pylist(), stops.tolist(), strict=True):
        answers = from_columns(questionnaire, row)
        before = {q.name for s in sections[:stop] for q in s.questions}
        before |= {i.name for s in sections[:stop] for q in s.questions for i in q.items}
        partial = {k: v for k, v in answers.items() if k in before}
        save_progress(
            store.state,
            questionnaire,
            partial,
            page=sections[stop].name,
            response_id=row["response_id"],
            language=row["language"],
            started_at=row["started_at"],
        )
    return table.num_rows


def _check_spec(spec: SimulationSpec) -> None:
    if not isinstance(spec, SimulationSpec):
        raise SimulationError(f"spec must be a SimulationSpec, got {type(spec).__name__}.")
    for name, value in asdict(spec.rates).items():
        if not 0.0 <= value <= 0.5:
            raise SimulationError(f"rates.{name} must be between 0 and 0.5, got {value!r}.")
    skew = spec.skew
    for name in ("old", "rural", "female"):
        if not getattr(skew, name) > 0:
            raise SimulationError(f"skew.{name} must be positive, got {getattr(skew, name)!r}.")
    if spec.psus_per_province < 2 or spec.truth_per_province < 100:
        raise SimulationError(
            "psus_per_province must be at least 2 and truth_per_province at least 100."
        )


def _check_n(n: object, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or int(n) < 1:
        raise SimulationError(f"{what} must be a whole number >= 1, got {n!r}.")
    return int(n)


# ============================================================================ the truth
def _weighted_means(frame: pd.DataFrame, columns: Sequence[str], w: np.ndarray,
                    groups: np.ndarray | None) -> dict[Any, dict[str, float]]:
    out: dict[Any, dict[str, float]] = {}
    keys = [None] if groups is None else sorted(pd.unique(groups), key=str)
    for key in keys:
        mask = np.ones(len(frame), dtype=bool) if key is None else groups == key
        values: dict[str, float] = {}
        for column in columns:
            y = frame[column].to_numpy(dtype=float, na_value=np.nan)[mask]
            ww = w[mask]
            ok = ~np.isnan(y)
            mean = float(np.sum(ww[ok] * y[ok]) / np.sum(ww[ok]))
            values[column] = round(mean, 4)
            if column == columns[-1]:
                var = np.sum((ww[ok] * (y[ok] - mean)) ** 2) / np.sum(ww[ok]) ** 2
                values["mc_se"] = round(float(math.sqrt(var)), 4)
        out[key] = values
    return out


def true_values(
    questionnaire: Questionnaire,
    *,
    seed: int,
    spec: SimulationSpec = SimulationSpec(),
) -> dict[str, Any]:
    """The population values a survey of ``questionnaire`` should estimate.

    Parameters
    ----------
    questionnaire
        A questionnaire with dimensions (``cfl``, ``oecd_infe``, ...).
    seed
        Seed of the simulated population (independent of the sample's).
    spec
        ``truth_per_province`` people are simulated in each province, with ``rates``.

    Returns
    -------
    dict
        ``national``, ``regional`` (by NBS region) and ``provincial`` (by GB/T code) means of
        the index and of each dimension score (columns named as :func:`score_responses` names
        them), each with ``mc_se`` (Monte Carlo standard error of the index); ``exposure``:
        the share exposed, the true average effect of exposure on each score (points and SD
        units) and the naive difference between exposed and unexposed (confounded); and the
        model's parameters.

    Notes
    -----
    Province :math:`p` contributes its :math:`m` simulated people with weight
    :math:`A_p / m`, :math:`A_p` its census adult population. The effect of exposure is
    :math:`\\sum_i w_i (Y_i(1) - Y_i(0)) / \\sum_i w_i` with both outcomes simulated from the
    same random numbers; its SD units divide by the weighted SD of the observed score.
    """
    spec_seed = _check_seed(seed)
    census = _census()
    m = spec.truth_per_province
    people = generate_people(
        m, seed=spec_seed, provinces=census.codes.tolist(), psus_per_province=spec.psus_per_province
    )
    pidx = np.searchsorted(census.codes, people["province"].to_numpy())
    w = census.adults[pidx] / m
    answers_seed = spec_seed + 1

    def scored(exposure: bool | None) -> pd.DataFrame:
        answers = generate_responses(
            questionnaire, people, seed=answers_seed, rates=spec.rates, exposure=exposure
        )
        answers = answers.drop(columns=["_speeder", "_straightliner", "_inattentive"])
        answers["province"] = pd.array(people["province"].to_numpy(), dtype="Int64")
        return score_responses(answers, questionnaire, item_scores=False).frame

    frame = scored(None)
    columns = [DIMENSION_PREFIX + d.name for d in questionnaire.dimensions]
    if questionnaire.index is not None:
        columns.append(questionnaire.index.name)
    national = _weighted_means(frame, columns, w, None)[None]
    regional = _weighted_means(frame, columns, w, people["region"].to_numpy())
    provincial = _weighted_means(frame, columns, w, people["province"].to_numpy())
    truth: dict[str, Any] = {
        "questionnaire_id": questionnaire.id,
        "questionnaire_version": questionnaire.version,
        "population": {
            "definition": "adults 18+ of the 31 provinces, census 2020 weights",
            "simulated_per_province": m,
            "seed": spec_seed,
            "careless_rates": asdict(spec.rates),
        },
        "national": national,
        "regional": {str(k): v for k, v in regional.items()},
        "provincial": {str(k): v for k, v in provincial.items()},
        "model": {
            "theta": THETA,
            "region_effect": _REGION_EFFECT,
            "dimension_level": _DIMENSION_LEVEL,
            "exposure_latent_shift": _EFFECT,
        },
    }
    if questionnaire.role("exposure") is not None:
        exposed = people["exposed"].to_numpy()
        with_ = scored(True)
        without = scored(False)
        effects = {}
        for column in columns:
            y = frame[column].to_numpy(dtype=float, na_value=np.nan)
            d = with_[column].to_numpy(dtype=float, na_value=np.nan) - without[
                column
            ].to_numpy(dtype=float, na_value=np.nan)
            ok = ~np.isnan(d)
            effect = float(np.sum(w[ok] * d[ok]) / np.sum(w[ok]))
            good = ~np.isnan(y)
            mean = np.sum(w[good] * y[good]) / np.sum(w[good])
            sd = float(math.sqrt(np.sum(w[good] * (y[good] - mean) ** 2) / np.sum(w[good])))
            treated = good & exposed
            control = good & ~exposed
            naive = float(
                np.sum(w[treated] * y[treated]) / np.sum(w[treated])
                - np.sum(w[control] * y[control]) / np.sum(w[control])
            )
            effects[column] = {
                "effect": round(effect, 4),
                "effect_sd": round(effect / sd, 4),
                "sd": round(sd, 4),
                "naive_difference": round(naive, 4),
            }
        truth["exposure"] = {
            "share_exposed": round(float(np.sum(w * exposed) / np.sum(w)), 4),
            "effects": effects,
            "column": "exposure_any",
        }
    return truth


# ============================================================================ the survey
def simulate(
    questionnaire: Questionnaire,
    n: int,
    *,
    seed: int,
    store: ParquetResponseStore | str | os.PathLike[str],
    method: Method = "bulk",
    spec: SimulationSpec = SimulationSpec(),
    truth: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate a survey of ``n`` submitted responses and store them.

    Parameters
    ----------
    questionnaire
        The questionnaire answered (``edu_quiz``-like questionnaires with a ``phase`` role are
        handed to :func:`simulate_prepost`, ``n`` then being participants).
    n
        Submitted responses.
    seed
        Seed of everything random: the same seed gives the same responses.
    store
        The response store, or its data folder.
    method
        ``"bulk"``: a sample of rows is checked through
        :func:`responses.validation.to_columns` and all are published as compacted files
        (:meth:`~responses.store.ParquetResponseStore.publish_bulk`); ``"submit"``: every row
        goes through :func:`responses.submission.submit_answers`, as from the app.
    spec
        Sample skew, careless-response rates, design and truth options (:class:`SimulationSpec`).
    truth
        Compute the population values and save them in ``simulation/truth.json``.
    progress
        Called with (done, total) as responses are stored.

    Returns
    -------
    SimulationResult

    Raises
    ------
    SimulationError
        Bad options, or responses of this seed already stored in the folder.

    Notes
    -----
    The model is described in the module docstring. Break-offs are saved as drafts in the
    store's state database (:func:`responses.submission.save_progress`); the county (PSU) of
    each response is written to ``simulation/<id>-design.parquet`` (``response_id``,
    ``stratum`` = province code, ``psu``).
    """
    start = dt.datetime.now(dt.UTC)
    if not isinstance(questionnaire, Questionnaire):
        raise SimulationError(
            f"questionnaire must be a loaded Questionnaire, got {type(questionnaire).__name__}."
        )
    n = _check_n(n)
    seed = _check_seed(seed)
    _check_spec(spec)
    if method not in ("bulk", "submit"):
        raise SimulationError(f"method must be 'bulk' or 'submit', got {method!r}.")
    if questionnaire.role("phase") is not None:
        return simulate_prepost(
            questionnaire, n, seed=seed, store=store, method=method, spec=spec, truth=truth,
            progress=progress,
        )
    the_store = _open_store(store)
    rng_people, rng_answers, rng_meta, rng_breakoff, rng_check = _streams(seed, 5)
    rate = spec.rates.breakoff
    m = math.ceil(n / (1.0 - 1.5 * rate) * 1.02) + 20
    people = generate_people(
        m, seed=int(rng_people.integers(2**62)), skew=spec.skew,
        psus_per_province=spec.psus_per_province,
    )
    answers = generate_responses(
        questionnaire, people, seed=int(rng_answers.integers(2**62)), rates=spec.rates
    )
    speeder = answers["_speeder"].to_numpy()
    meta = _metadata(questionnaire, rng_meta, m, speeder, spec)
    phone = meta["device_class"] == "phone"
    breaks = rng_breakoff.random(m) < np.where(phone, 1.5 * rate, 0.75 * rate)
    complete = np.flatnonzero(~breaks)
    if len(complete) < n:  # pragma: no cover - m leaves a wide margin
        raise SimulationError("internal error: too few complete responses; please report this.")
    last = int(complete[n - 1])
    dropped = np.flatnonzero(breaks[: last + 1])
    keep = complete[:n]
    order = _option_orders_for(questionnaire, rng_meta, m)
    province = None
    province_q = questionnaire.role("province")
    if province_q is not None:
        province = answers[province_q.name].to_numpy(dtype="int64", na_value=0)
    table = _to_table(questionnaire, answers, meta, order, province)
    submitted = table.take(pa.array(keep))
    validated = _store_rows(the_store, questionnaire, submitted, method, spec, rng_check, progress)
    breakoffs = _save_breakoffs(the_store, questionnaire, table.take(pa.array(dropped)),
                                rng_breakoff)
    design = pd.DataFrame(
        {
            "response_id": submitted.column("response_id").to_pylist(),
            "stratum": people["province"].to_numpy()[keep],
            "psu": people["psu"].to_numpy()[keep],
        }
    )
    design_path = the_store.root / SIMULATION_DIR / f"{questionnaire.id}-design.parquet"
    if design_path.exists():
        design = pd.concat([pd.read_parquet(design_path), design], ignore_index=True)
    _write_file_atomically(design_path, lambda p: design.to_parquet(p, index=False))
    kept = answers.iloc[keep]
    sample = {
        "seed": seed,
        "method": method,
        "n_submitted": n,
        "n_breakoffs": breakoffs,
        "n_speeders": int(kept["_speeder"].sum()),
        "n_straightliners": int(kept["_straightliner"].sum()),
        "n_attention_failed_planted": int(kept["_inattentive"].sum()),
        "skew": asdict(spec.skew),
        "rates": asdict(spec.rates),
        "design": {
            "file": f"{SIMULATION_DIR}/{design_path.name}",
            "strata": "province",
            "psus_per_province": spec.psus_per_province,
        },
    }
    truth_values: dict[str, Any] = {}
    truth_path = None
    if truth:
        truth_values = true_values(questionnaire, seed=seed + 7919, spec=spec)
        truth_values["sample"] = sample
        truth_path = _save_truth(the_store.root, questionnaire.id, truth_values)
    seconds = (dt.datetime.now(dt.UTC) - start).total_seconds()
    return SimulationResult(
        questionnaire.id, questionnaire.version, n, breakoffs, method, validated,
        truth_values or {"sample": sample}, truth_path, design_path, seconds,
    )


def _option_orders_for(
    questionnaire: Questionnaire, rng: np.random.Generator, n: int
) -> list[str | None]:
    ctx = _Context(
        questionnaire=questionnaire, people=pd.DataFrame(), rng=rng, traits={},
        theta=np.zeros(n), speeder=np.zeros(n, bool), straightliner=np.zeros(n, bool),
        inattentive=np.zeros(n, bool),
    )
    return _option_orders(ctx)


# ============================================================================ pre/post
@dataclass(frozen=True)
class PrePostSpec:
    """A training evaluation with a control group (``edu_quiz``).

    Attributes
    ----------
    treated_share
        Share of participants in training sessions (the others are the control group).
    gain
        Post-test gain of the trained, in SD of the latent knowledge trait.
    retest_gain
        Gain of the control group (taking the quiz twice), same units.
    attrition
        Share of participants who never take the post-test.
    """

    treated_share: float = 0.6
    gain: float = 0.5
    retest_gain: float = 0.1
    attrition: float = 0.1


_CODE_ALPHABET = np.array(list("ABCDEFGHJKMNPQRSTUVWXYZ23456789"))


def _participant_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < n:
        draw = rng.integers(0, len(_CODE_ALPHABET), (n - len(codes), 8))
        for row in _CODE_ALPHABET[draw]:
            code = "".join(row)
            if code not in seen:
                seen.add(code)
                codes.append(code)
    return np.asarray(codes, dtype=object)


def _quiz_score(questionnaire: Questionnaire, answers: pd.DataFrame) -> np.ndarray:
    frame = answers.drop(columns=["_speeder", "_straightliner", "_inattentive"])
    scored = score_responses(frame, questionnaire, item_scores=False)
    name = scored.index or DIMENSION_PREFIX + scored.dimensions[0]
    return scored.frame[name].to_numpy(dtype=float, na_value=np.nan)


def _prepost_truth(
    questionnaire: Questionnaire, seed: int, prepost: PrePostSpec, rates: Rates, size: int
) -> dict[str, Any]:
    people = generate_people(size, seed=seed)
    phase_q = questionnaire.role("phase")
    codes = _participant_codes(np.random.default_rng(seed), size)
    code_q = questionnaire.role("participant_code")
    texts = {code_q.name: list(codes)} if code_q is not None else {}
    dims = [d.name for d in questionnaire.dimensions]

    def run(shift: float, answers_seed: int, phase: str) -> np.ndarray:
        fixed = {}
        if phase_q is not None:
            fixed[phase_q.name] = np.full(size, phase_q.option_codes()[phase], dtype=float)
        shifts = {d: np.full(size, shift) for d in dims}
        return _quiz_score(questionnaire, generate_responses(
            questionnaire, people, seed=seed + 1, rates=rates, texts=texts, fixed=fixed,
            trait_shift=shifts, answers_seed=answers_seed))

    pre = run(0.0, seed + 2, "pre")
    treated = run(prepost.gain, seed + 3, "post")
    control = run(prepost.retest_gain, seed + 3, "post")
    sd_pre = float(np.nanstd(pre))
    change_t = float(np.nanmean(treated - pre))
    change_c = float(np.nanmean(control - pre))
    return {
        "mean_pre": round(float(np.nanmean(pre)), 4),
        "sd_pre": round(sd_pre, 4),
        "change_treated": round(change_t, 4),
        "change_control": round(change_c, 4),
        "did": round(change_t - change_c, 4),
        "did_sd": round((change_t - change_c) / sd_pre, 4),
        "simulated_participants": size,
    }


def simulate_prepost(
    questionnaire: Questionnaire,
    n: int,
    *,
    seed: int,
    store: ParquetResponseStore | str | os.PathLike[str],
    method: Method = "bulk",
    spec: SimulationSpec = SimulationSpec(),
    prepost: PrePostSpec = PrePostSpec(),
    truth: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate a quiz taken before and after training sessions, with a control group.

    Parameters
    ----------
    questionnaire
        A quiz with the ``phase`` role (options ``pre`` and ``post``) and a
        ``participant_code`` text question (``edu_quiz``).
    n
        Participants (each takes the pre-test; ``1 - attrition`` of them the post-test).
    seed, store, method, spec, truth, progress
        As for :func:`simulate`.
    prepost
        Group sizes, gains and attrition (:class:`PrePostSpec`).

    Returns
    -------
    SimulationResult
        ``n_submitted`` counts both quizzes. The groups are written to
        ``simulation/<id>-groups.csv`` (``participant_code, group`` with ``treated`` /
        ``control``); the truth holds the true mean change of each group and the
        difference-in-differences in quiz-score points (and in pre-test SD).
    """
    start = dt.datetime.now(dt.UTC)
    n = _check_n(n)
    seed = _check_seed(seed)
    _check_spec(spec)
    phase_q = questionnaire.role("phase")
    code_q = questionnaire.role("participant_code")
    if phase_q is None or code_q is None:
        raise SimulationError(
            f"questionnaire {questionnaire.id!r} has no question with role 'phase' and "
            "'participant_code'; a pre/post simulation needs both."
        )
    phase_codes = phase_q.option_codes()
    if not {"pre", "post"} <= set(phase_codes):
        raise SimulationError(
            f"the phase question {phase_q.name!r} needs options named 'pre' and 'post'."
        )
    for name in ("treated_share", "attrition"):
        if not 0.0 <= getattr(prepost, name) < 1.0:
            raise SimulationError(f"prepost.{name} must be in [0, 1).")
    the_store = _open_store(store)
    rng_people, rng_codes, rng_group, rng_meta, rng_check = _streams(seed, 5)
    people = generate_people(n, seed=int(rng_people.integers(2**62)))
    codes = _participant_codes(rng_codes, n)
    treated = rng_group.random(n) < prepost.treated_share
    returns = rng_group.random(n) >= prepost.attrition
    dims = [d.name for d in questionnaire.dimensions]
    trait_seed = int(rng_people.integers(2**62))
    tables = []
    pre_started: np.ndarray | None = None
    for phase in ("pre", "post"):
        shift = np.where(treated, prepost.gain, prepost.retest_gain) if phase == "post" else 0.0
        answers = generate_responses(
            questionnaire,
            people,
            seed=trait_seed,
            rates=replace(spec.rates, straightliner=0.0),
            texts={code_q.name: list(codes)},
            fixed={phase_q.name: np.full(n, phase_codes[phase], dtype=float)},
            trait_shift={d: np.full(n, 1.0) * shift for d in dims},
            answers_seed=int(rng_people.integers(2**62)),
        )
        rows = np.arange(n) if phase == "pre" else np.flatnonzero(returns)
        started = None
        if pre_started is not None:
            started = pre_started + rng_meta.integers(2, 4, n) * 3600 * 1_000_000
        meta = _metadata(questionnaire, rng_meta, n, answers["_speeder"].to_numpy(), spec,
                         started_us=started)
        if phase == "pre":
            pre_started = meta["submitted_us"]
        order = _option_orders_for(questionnaire, rng_meta, n)
        table = _to_table(questionnaire, answers, meta, order, None)
        tables.append(table.take(pa.array(rows)))
    table = pa.concat_tables(tables)
    validated = _store_rows(the_store, questionnaire, table, method, spec, rng_check, progress)
    groups = pd.DataFrame(
        {"participant_code": codes, "group": np.where(treated, "treated", "control")}
    )
    groups_path = the_store.root / SIMULATION_DIR / f"{questionnaire.id}-groups.csv"
    if groups_path.exists():
        groups = pd.concat([pd.read_csv(groups_path), groups], ignore_index=True)
    _write_file_atomically(groups_path, lambda p: groups.to_csv(p, index=False))
    sample = {
        "seed": seed,
        "method": method,
        "participants": n,
        "treated": int(treated.sum()),
        "control": int((~treated).sum()),
        "post_tests": int(returns.sum()),
        "n_submitted": table.num_rows,
        "groups_file": f"{SIMULATION_DIR}/{groups_path.name}",
        "prepost": asdict(prepost),
    }
    truth_values: dict[str, Any] = {"sample": sample}
    truth_path = None
    if truth:
        truth_values = {
            "questionnaire_id": questionnaire.id,
            "questionnaire_version": questionnaire.version,
            **_prepost_truth(questionnaire, seed + 7919, prepost, spec.rates, 100_000),
            "sample": sample,
        }
        truth_path = _save_truth(the_store.root, questionnaire.id, truth_values)
    seconds = (dt.datetime.now(dt.UTC) - start).total_seconds()
    return SimulationResult(
        questionnaire.id, questionnaire.version, table.num_rows, 0, method, validated,
        truth_values, truth_path, groups_path, seconds,
    )


# ============================================================================ the demo
#: What :func:`demo` stores: questionnaire id -> responses (participants for edu_quiz).
DEMO_SIZES: Mapping[str, int] = {"cfl": 3000, "oecd_infe": 1000, "edu_quiz": 200}




def demo(
    data_dir: str | os.PathLike[str],
    *,
    if_empty: bool = True,
    seed: int = 2026,
    sizes: Mapping[str, int] = DEMO_SIZES,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[SimulationResult]:
    """Fill a data folder with a modest demo dataset (a few seconds).

    Parameters
    ----------
    data_dir
        The platform's data folder (created when missing).
    if_empty
        Do nothing when the folder already holds responses (for ``./run.sh``).
    seed
        Seed of the demo data.
    sizes
        Questionnaire id -> responses (participants for a pre/post quiz).
    progress
        Called with (questionnaire id, done, total).

    Returns
    -------
    list of SimulationResult
        One per questionnaire simulated; empty when ``if_empty`` and the folder had data.
    """
    from questionnaires.registry import load_registry

    store = ParquetResponseStore(data_dir)
    if if_empty and store.list_questionnaires():
        return []
    registry = load_registry(data_dir)
    spec = SimulationSpec(truth_per_province=2000, validate_sample=100)
    results = []
    for offset, (qid, size) in enumerate(sizes.items()):
        try:
            questionnaire = offered_version(registry, store.state, qid)
        except KeyError as error:
            raise SimulationError(str(error).strip("'\"")) from None

        def report(done: int, total: int, qid: str = qid) -> None:
            if progress is not None:
                progress(qid, done, total)

        results.append(
            simulate(questionnaire, size, seed=seed + offset, store=store, spec=spec,
                     progress=report)
        )
    return results
