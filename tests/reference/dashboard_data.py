"""Write the reference sample of tests/reference/dashboard.R (domain means of the dashboards).

Run: ``python tests/reference/dashboard_data.py [output_dir]`` (default: ``data/`` beside this
script). It scores 2,400 synthetic responses to the shipped ``cfl`` questionnaire
(``tests/analysis/synthetic.py``, seed 20260301), keeps five provinces (Beijing, Shanghai,
Guangdong, Sichuan, Gansu), leaves 10% of the skills scores missing, and writes the analysis
columns (``dashboard_sample.csv``) and the 2020-census raking targets of those provinces
(``dashboard_targets.csv``: province, province*sex, province*age_band, province*urban). The CSV
files are committed; R reads them, and the Python tests read the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from analysis.dashboard import _restricted_targets  # noqa: E402
from analysis.scoring import score_responses  # noqa: E402
from tests.analysis.samples import shipped  # noqa: E402
from tests.analysis.synthetic import synthetic_frame  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
PROVINCES = (11, 31, 44, 51, 62)
MARGINS = ("province", "province*sex", "province*age_band", "province*urban")
COLUMNS = ("province", "region", "sex", "age_band", "age_group", "education", "urban", "day",
           "literacy_index", "dim__knowledge", "dim__skills")


def sample():
    """The reference sample (a DataFrame)."""
    qn = shipped("cfl")
    frame = synthetic_frame(qn, 2400, seed=20260301)
    scored = score_responses(frame, qn, item_scores=False).frame
    local = frame["submitted_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    scored["day"] = (local.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    scored = scored[scored["province"].isin(PROVINCES).to_numpy(dtype=bool)]
    scored = scored.reset_index(drop=True)
    rng = np.random.default_rng(7)
    skills = scored["dim__skills"].to_numpy(dtype=float, na_value=np.nan)
    skills[rng.random(len(skills)) < 0.1] = np.nan
    scored["dim__skills"] = skills
    out = scored[list(COLUMNS)].copy()
    for name in ("region", "sex", "age_band", "age_group", "education", "urban"):
        out[name] = out[name].astype(str)
    out["province"] = out["province"].astype(int)
    return out


def main(out: Path = DATA) -> None:
    sample().to_csv(out / "dashboard_sample.csv", index=False, float_format="%.17g")
    _restricted_targets(MARGINS, PROVINCES).to_frame().to_csv(
        out / "dashboard_targets.csv", index=False, float_format="%.17g"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
