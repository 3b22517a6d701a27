"""Tests of analysis.targets: census margins and user target tables."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import WeightingError
from analysis.targets import (
    CENSUS_PATH,
    Targets,
    census_targets,
    level_key,
    load_census,
)

RAW = pd.read_csv(CENSUS_PATH)
ADULTS = RAW["population"] * (100 - RAW["age_0_14_pct"]) / 100


def raises(message: str) -> pytest.RaisesExc[WeightingError]:
    """``pytest.raises`` on the whole user-facing message."""
    return pytest.raises(WeightingError, match="^" + re.escape(message) + "$")


# ------------------------------------------------------------------------------------- census
def test_load_census_is_typed_one_row_per_province() -> None:
    census = load_census()
    assert len(census) == 31
    assert census["gb_code"].is_unique
    assert census["gb_code"].is_monotonic_increasing
    assert census["gb_code"].dtype == np.int64
    assert census["population"].dtype == np.int64
    assert census["male_pct"].dtype == np.float64
    assert str(census["name_en"].dtype) == "str"
    assert census["population"].sum() == 1_409_778_724
    assert set(census["nbs_region"]) == {"East", "Central", "West", "Northeast"}


def test_census_targets_default_margins() -> None:
    targets = census_targets()
    assert tuple(targets.margins) == (
        "province",
        "province*sex",
        "province*age_band",
        "province*urban",
    )
    assert len(targets.margins["province"]) == 31
    for name in ("province*sex", "province*age_band", "province*urban"):
        assert len(targets.margins[name]) == 62
    assert list(targets.margins["province"].index[:3]) == [11, 12, 13]
    assert targets.margins["province*sex"].index.names == ["province", "sex"]
    assert set(targets.margins["province*age_band"].index.get_level_values(1)) == {
        "15-59",
        "60+",
    }
    assert set(targets.margins["province*urban"].index.get_level_values(1)) == {
        "urban",
        "rural",
    }
    assert targets.variables == ("province", "sex", "age_band", "urban")
    assert "7th National Population Census" in targets.provenance


def test_census_totals_equal_the_adult_population() -> None:
    targets = census_targets()
    assert targets.total == pytest.approx(ADULTS.sum(), rel=1e-13)
    by_province = targets.margins["province"]
    np.testing.assert_allclose(by_province.to_numpy(), ADULTS.to_numpy(), rtol=1e-13)
    for name, totals in targets.margins.items():
        summed = totals.groupby(level=0).sum() if "*" in name else totals
        np.testing.assert_allclose(summed.to_numpy(), ADULTS.to_numpy(), rtol=1e-13)


def test_census_shares_reproduce_the_census_percentages() -> None:
    targets = census_targets()
    pop = RAW.set_index("gb_code")["population"]
    raw = RAW.set_index("gb_code")
    adults = targets.margins["province"]
    sex = targets.margins["province*sex"].unstack()
    urban = targets.margins["province*urban"].unstack()
    age = targets.margins["province*age_band"].unstack()
    np.testing.assert_allclose(100 * sex["male"] / adults, raw["male_pct"], rtol=1e-12)
    np.testing.assert_allclose(100 * urban["urban"] / adults, raw["urban_pct"], rtol=1e-12)
    np.testing.assert_allclose(100 * age["60+"] / pop, raw["age_60_plus_pct"], rtol=1e-12)
    # 15-59 is the complement of 60+ among adults: the published (rounded) percentages add
    # up to 100 within 0.01 points.
    np.testing.assert_allclose(100 * age["15-59"] / pop, raw["age_15_59_pct"], atol=0.0101)
    np.testing.assert_allclose(100 * (1 - adults / pop), raw["age_0_14_pct"], rtol=1e-12)


def test_census_targets_for_all_residents() -> None:
    targets = census_targets(margins=("province", "province*age_band"), population="all")
    assert targets.total == pytest.approx(1_409_778_724, rel=1e-15)
    bands = targets.margins["province*age_band"].groupby(level=1).sum()
    assert list(bands.index) == ["0-14", "15-59", "60+"]
    expected_child = (RAW["population"] * RAW["age_0_14_pct"] / 100).sum()
    assert bands["0-14"] == pytest.approx(expected_child, rel=1e-13)


def test_census_region_and_national_margins_are_sums_of_provinces() -> None:
    targets = census_targets(margins=("region", "region*sex", "sex", "urban", "age_band"))
    region = targets.margins["region"]
    assert list(region.index) == ["East", "Central", "West", "Northeast"]
    expected = ADULTS.groupby(RAW["nbs_region"]).sum()
    for name in region.index:
        assert region[name] == pytest.approx(expected[name], rel=1e-13)
    male = (ADULTS * RAW["male_pct"] / 100).sum()
    assert targets.margins["sex"]["male"] == pytest.approx(male, rel=1e-13)
    assert targets.margins["region*sex"].sum() == pytest.approx(ADULTS.sum(), rel=1e-13)
    # national sex ratio of adults close to the census's 51.24% men (all ages)
    assert 100 * male / ADULTS.sum() == pytest.approx(51.24, abs=0.2)


def test_census_targets_errors() -> None:
    with raises(
        "census_targets: unknown variable 'gender' in margin 'province*gender'; the census "
        "gives margins of province, region, sex, age_band, urban."
    ):
        census_targets(margins=("province*gender",))
    with raises(
        "census_targets: unknown variable 'provnce' in margin 'provnce' (did you mean "
        "'province'?); the census gives margins of province, region, sex, age_band, urban."
    ):
        census_targets(margins=("provnce",))
    with raises(
        "census_targets: margin 'province*sex*urban' crosses sex and urban, but the census "
        "table gives no cross-tabulation of sex, age band and urban/rural within a province; "
        "rake on separate margins instead (e.g. 'province*sex' and 'province*urban')."
    ):
        census_targets(margins=("province*sex*urban",))
    with raises(
        "census_targets: margin 'province*region' crosses province with region; regions are "
        "groups of provinces: use one of them."
    ):
        census_targets(margins=("province*region",))
    with raises("census_targets: population must be 'adults' or 'all', got 'children'."):
        census_targets(population="children")  # type: ignore[arg-type]
    with raises("census_targets: margin 'sex' is listed twice."):
        census_targets(margins=("sex", "sex"))


def test_load_census_rejects_a_bad_table(tmp_path: Path) -> None:
    bad = RAW.copy()
    bad.loc[3, "urban_pct"] = 120.0
    path = tmp_path / "census.csv"
    bad.to_csv(path, index=False)
    with raises(
        f"Census table '{path}': column 'urban_pct' must be a percentage in [0, 100]; "
        "province 14 has 120.0."
    ):
        load_census(path)
    RAW.drop(columns=["male_pct"]).to_csv(path, index=False)
    with raises(
        f"Census table '{path}': missing column(s) male_pct; use the layout of "
        "data/reference/china_provinces_census2020.csv."
    ):
        load_census(path)


# ------------------------------------------------------------------------------ target tables
def test_csv_round_trip(tmp_path: Path) -> None:
    targets = Targets(
        {
            "province": pd.Series({11: 60.0, 12: 40.0}),
            "province*sex": pd.Series(
                {(11, "male"): 31.0, (11, "female"): 29.0, (12, "male"): 20.5, (12, "female"): 19.5}
            ),
        },
        numeric={"income_yuan": 4.1e6},
        provenance="test",
    )
    path = targets.write_csv(tmp_path / "targets.csv")
    text = path.read_text(encoding="utf-8").splitlines()
    assert text[0] == "variable,level,total"
    assert "province*sex,11*male,31.0" in text
    assert text[-1] == "income_yuan,,4100000.0"
    back = Targets.read_csv(path)
    pd.testing.assert_frame_equal(back.to_frame(), targets.to_frame())
    assert back.numeric == {"income_yuan": 4.1e6}
    assert back.provenance == f"target table {path}"
    # read levels are text; they match the integer codes through level_key
    assert list(back.margins["province"].index) == ["11", "12"]


def test_census_targets_survive_a_csv_round_trip(tmp_path: Path) -> None:
    targets = census_targets()
    back = Targets.read_csv(targets.write_csv(tmp_path / "census.csv"))
    pd.testing.assert_frame_equal(back.to_frame(), targets.to_frame())


def test_level_key_matches_codes_across_types() -> None:
    assert level_key(11) == level_key(11.0) == level_key("11") == level_key(np.int32(11))
    assert level_key(True) == "True"
    assert level_key(2.5) == "2.5"
    assert level_key("60+") == "60+"


def test_targets_are_frozen() -> None:
    targets = census_targets(margins=("sex",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        targets.provenance = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        targets.margins["age"] = pd.Series({"a": 1.0})  # type: ignore[index]


def test_targets_accept_mappings_and_crossed_text_levels() -> None:
    targets = Targets({"sex*urban": {"male*urban": 1.0, "male*rural": 2.0}})
    assert list(targets.margins["sex*urban"].index) == [("male", "urban"), ("male", "rural")]
    assert targets.total == 3.0


def test_targets_errors(tmp_path: Path) -> None:
    with raises(
        "Targets: margin 'sex', level male has a negative total (-5); population totals must "
        "be >= 0: fix the target table."
    ):
        Targets({"sex": pd.Series({"male": -5.0, "female": 10.0})})
    with raises(
        "Targets: margins 'sex' and 'urban' have different grand totals (100 vs 101, relative "
        "difference 0.0099 > tolerance 1e-08); every margin describes the same population: "
        "fix the table so the totals agree."
    ):
        Targets(
            {
                "sex": pd.Series({"male": 50.0, "female": 50.0}),
                "urban": pd.Series({"urban": 60.0, "rural": 41.0}),
            }
        )
    with raises(
        "Targets: margins 'province' and 'province*sex' disagree on the total of province = 11 "
        "(60 vs 61); margins that share 'province' must give it the same totals: fix the table."
    ):
        Targets(
            {
                "province": pd.Series({11: 60.0, 12: 40.0}),
                "province*sex": pd.Series(
                    {
                        (11, "male"): 31.0,
                        (11, "female"): 30.0,
                        (12, "male"): 20.0,
                        (12, "female"): 19.0,
                    }
                ),
            }
        )
    with raises(
        "Targets: level 12 of 'province' appears in margin 'province' but not in margin "
        "'province*sex'; give both margins the same categories of province."
    ):
        Targets(
            {
                "province": pd.Series({11: 30.0, 12: 30.0}),
                "province*sex": pd.Series({(11, "male"): 30.0, (13, "female"): 30.0}),
            }
        )
    with raises(
        "Targets: margin 'sex' lists level(s) male more than once; give one total per level."
    ):
        Targets({"sex": pd.Series([1.0, 2.0], index=["male", "male"])})
    with raises(
        "Targets: margin 'sex', level male: total 'many' is not a number; write the population "
        "total as a plain number (e.g. 18301000)."
    ):
        Targets({"sex": {"male": "many"}})
    with raises(
        "Targets: no margins and no numeric totals were given; give at least one margin such "
        "as {'province': totals_by_province}."
    ):
        Targets({})


def test_target_table_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("variable,level,total\nprovince*sex,11,5\n", encoding="utf-8")
    with raises(
        "[row : 2] Target table: level '11' of crossed margin 'province*sex' has 1 part(s) but "
        "the margin crosses 2 columns; write one category per column joined with '*' (e.g. "
        "'a*a')."
    ):
        Targets.read_csv(path)
    path.write_text("variable,level,total\nsex,male,5\nsex,male,6\n", encoding="utf-8")
    with raises(
        "[row : 3] Target table: variable 'sex', level 'male' appears more than once; keep one "
        "row per level."
    ):
        Targets.read_csv(path)
    path.write_text("variable,level,total\nsex,male,five\n", encoding="utf-8")
    with raises(
        "[row : 2] Target table, variable 'sex': total 'five' is not a number; write the "
        "population total as a plain number (e.g. 18301000)."
    ):
        Targets.read_csv(path)
    path.write_text("variable,level,total\nincome,,5\nincome,high,6\n", encoding="utf-8")
    with raises(
        "[row : 3] Target table: variable 'income' has an empty level (numeric total) on "
        "another row and a category here; use one or the other."
    ):
        Targets.read_csv(path)
    path.write_text("name,level,total\nsex,male,5\n", encoding="utf-8")
    with raises(
        "Target table: missing column(s) 'variable'; the table needs the columns "
        "variable,level,total (found: name, level, total)."
    ):
        Targets.read_csv(path)
    with raises(f"Target table '{tmp_path / 'nope.csv'}' does not exist; check the path."):
        Targets.read_csv(tmp_path / "nope.csv")
