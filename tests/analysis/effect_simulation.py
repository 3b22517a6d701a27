"""Simulated surveys with a known effect of financial education and confounding.

A stratified two-stage sample: ``strata`` strata of ``psus`` clusters each, ``size`` respondents
per cluster, stratum-specific sampling weights with a non-response adjustment. Education (four
levels) raises both the chance of exposure and the literacy score, so the naive comparison of
exposed and unexposed respondents is biased upwards; age and urban residence confound too.
Clusters share a random effect on the score (so the design matters for the SE). The true
effect is constant, ``TRUE_EFFECT`` points of the index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE_EFFECT = 4.0
EDUCATION = ("primary", "secondary", "college", "graduate")
STRATUM_WEIGHTS = (900.0, 2000.0, 1400.0, 3100.0)


def simulate_survey(
    seed: int | np.random.Generator,
    *,
    strata: int = 4,
    psus: int = 12,
    size: int = 25,
    effect: float = TRUE_EFFECT,
) -> pd.DataFrame:
    """One simulated survey (see the module docstring)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_clusters = strata * psus
    n = n_clusters * size
    stratum = np.repeat(np.arange(strata), psus * size)
    cluster = np.repeat(np.arange(n_clusters), size)
    cluster_urban = rng.random(n_clusters) < 0.55
    cluster_effect = rng.normal(0.0, 3.0, n_clusters)
    urban = (cluster_urban[cluster] ^ (rng.random(n) < 0.1)).astype(int)
    age = rng.integers(18, 76, n).astype(float)
    sex = np.where(rng.random(n) < 0.5, "female", "male")
    # Education depends on urban residence and (inversely) on age.
    edu_latent = 0.8 * urban - 0.02 * (age - 45) + rng.normal(0, 1, n)
    edu_level = np.digitize(edu_latent, [-0.6, 0.5, 1.4])
    education = np.asarray(EDUCATION, dtype=object)[edu_level]
    logit = -2.0 + 0.95 * edu_level + 0.6 * urban - 0.012 * (age - 45)
    exposure = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    y = (
        48.0
        + 5.0 * edu_level
        + 3.0 * urban
        - 0.08 * (age - 45)
        + 1.0 * (sex == "female")
        + effect * exposure
        + cluster_effect[cluster]
        + rng.normal(0.0, 9.0, n)
    )
    weight = np.asarray(STRATUM_WEIGHTS[:strata])[stratum] * rng.uniform(0.8, 1.25, n)
    return pd.DataFrame(
        {
            "stratum": stratum + 1,
            "psu": cluster + 1,
            "weight": np.round(weight, 6),
            "age": age,
            "sex": sex,
            "education": education,
            "urban": urban,
            "exposure_any": exposure,
            "literacy_index": np.round(y, 6),
        }
    )


PROVINCES = ("Anhui", "Gansu", "Hebei", "Hunan", "Sichuan", "Zhejiang")
CAMPAIGN_PROVINCES = ("Gansu", "Hunan", "Zhejiang")


def simulate_wave(
    seed: int | np.random.Generator, *, campaign_effect: float = 0.0, trend: float = 0.0,
    psus: int = 8, size: int = 15,
) -> pd.DataFrame:
    """One survey wave stratified by province (PSUs nested in provinces).

    Campaign provinces start 2 points lower; the later wave adds ``trend`` everywhere and
    ``campaign_effect`` in the campaign provinces.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows = []
    for p, province in enumerate(PROVINCES):
        campaign = int(province in CAMPAIGN_PROVINCES)
        base = 55.0 + 2.0 * p - 2.0 * campaign + trend + campaign_effect * campaign
        weight = 1500.0 + 400.0 * p
        for c in range(psus):
            cluster_effect = rng.normal(0, 2.5)
            y = base + cluster_effect + rng.normal(0, 10, size)
            for value in y:
                rows.append(
                    {
                        "province": province,
                        "psu": f"{province[:2].upper()}{c + 1:02d}",
                        "weight": round(weight * rng.uniform(0.85, 1.2), 6),
                        "campaign": campaign,
                        "literacy_index": round(float(value), 6),
                    }
                )
    return pd.DataFrame(rows)


def simulate_quiz(seed: int | np.random.Generator, *, n: int = 90, items: int = 5
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pre and post quiz results of ``n`` participants (half in a session group, half
    controls), with drop-outs, late joiners and one duplicated code in the post file."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    codes = [f"P{k:03d}" for k in range(1, n + 1)]
    group = np.where(np.arange(n) % 2 == 0, "treated", "control")
    ability = rng.normal(0, 1, n)
    difficulty = np.linspace(-1.0, 1.0, items)

    def answers(shift: np.ndarray) -> np.ndarray:
        logit = ability[:, None] + shift[:, None] - difficulty[None, :]
        return (rng.random((n, items)) < 1 / (1 + np.exp(-logit))).astype(int)

    pre_items = answers(np.zeros(n))
    gain = np.where(group == "treated", 1.4, 0.3)
    post_items = answers(gain)

    def frame(values: np.ndarray, phase: str) -> pd.DataFrame:
        out = pd.DataFrame(values, columns=[f"q{j + 1}" for j in range(items)])
        out.insert(0, "participant_code", codes)
        out.insert(1, "phase", phase)
        out["score"] = 100.0 * values.mean(axis=1) + np.round(rng.normal(0, 3, n), 2)
        return out

    pre = frame(pre_items, "pre")
    pre["group"] = group
    post = frame(post_items, "post")
    pre = pre.drop(index=[3, 17, 40]).reset_index(drop=True)  # joined late: post only
    post = post.drop(index=[5, 22, 61, 88]).reset_index(drop=True)  # dropped out: pre only
    post = pd.concat([post, post.iloc[[10]]], ignore_index=True)  # a code entered twice
    post.loc[len(post) - 1, "score"] = 0.0
    return pre, post
