"""Write the input of tests/reference/exports.R: a deterministic sample of scored cfl responses
and the census margins of its provinces.

Usage: python tests/reference/exports_data.py [output_dir]   (default: tests/reference)
Writes <output_dir>/data/exports_sample.csv (response_id, province, sex, age_band, urban and the
dimension scores and index, as the export computes them) and data/exports_targets.csv
(variable,level,total: province and province x sex / age band / urban, adults 15+, 2020 census,
the four provinces of the sample).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.exports import ExportFilter, prepare_export, pseudonym_key, pseudonymise  # noqa: E402
from analysis.targets import census_targets  # noqa: E402
from responses.store import ParquetResponseStore  # noqa: E402
from tests.analysis.export_support import PROVINCES, fill_store, shipped  # noqa: E402

SEED = 11
N = 240
VARIABLES = ("dim__knowledge", "dim__attitude", "dim__behaviour", "dim__skills", "literacy_index")


def sample() -> pd.DataFrame:
    """The scored sample, one row per response, ordered by response id."""
    with tempfile.TemporaryDirectory() as tmp:
        store = ParquetResponseStore(tmp)
        records = fill_store(store, shipped("cfl"), N, seed=SEED)
        with prepare_export(store, shipped("cfl"), ExportFilter("cfl")) as prepared:
            frame = prepared.to_frame()
        ids = [r.response_id for r in records]
        by_pid = dict(
            zip(pseudonymise(ids, pseudonym_key(tmp), purpose="response"), ids, strict=True)
        )
        store.close()
    out = pd.DataFrame(
        {
            "response_id": frame["pid"].map(by_pid),
            "province": frame["province"].astype(int),
            "sex": frame["sex"].map({1: "male", 2: "female"}),
            "age_band": frame["age_band"],
            "urban": frame["urban"].map({1: "urban", 2: "rural"}),
            **{v: frame[v].astype(float) for v in VARIABLES},
        }
    )
    return out.sort_values("response_id", ignore_index=True)


def targets() -> pd.DataFrame:
    margins = ("province", "province*sex", "province*age_band", "province*urban")
    table = census_targets(margins=margins).to_frame()
    province = table["level"].str.split("*").str[0].astype(int)
    return table[province.isin(PROVINCES)].reset_index(drop=True)


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent
    (out / "data").mkdir(parents=True, exist_ok=True)
    sample().to_csv(out / "data" / "exports_sample.csv", index=False, float_format="%.17g")
    targets().to_csv(out / "data" / "exports_targets.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main(sys.argv[1:])
