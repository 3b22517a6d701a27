"""Write the simulated reference data of tests/reference/effect_reference.R.

Run: ``python tests/reference/effect_data.py [output_dir]`` (default: ``data/`` beside this
script). The CSV files are committed; R reads them, and the Python tests read the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.analysis.effect_simulation import (  # noqa: E402
    simulate_quiz,
    simulate_survey,
    simulate_wave,
)

DATA = Path(__file__).resolve().parent / "data"


def main(out: Path = DATA) -> None:
    simulate_survey(20240611).to_csv(out / "effect_survey.csv", index=False)
    simulate_wave(101).to_csv(out / "effect_wave_a.csv", index=False)
    simulate_wave(202, campaign_effect=3.0, trend=1.0).to_csv(
        out / "effect_wave_b.csv", index=False
    )
    pre, post = simulate_quiz(303)
    pre.to_csv(out / "effect_quiz_pre.csv", index=False)
    post.to_csv(out / "effect_quiz_post.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
