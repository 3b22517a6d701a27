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
