"""The assumed completion chances and the non-China share they move (issue 14's outlook).

Every plant pass probability is an ASSUMPTION (no published completion rate by status for
processing plants was found; docs/outlook.md). ``completion_sensitivity`` moves each assumed
pass probability, and each facility type's whole completion chance, by ±0.2 with the same
random numbers and reports the non-China share of each chain stage in 2030 and 2035.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.outlook.policy import Policy
from critmin.outlook.sensitivity import (
    ALL_PHASES,
    _completion_variants,
    completion_sensitivity,
)


@pytest.fixture(scope="module")
def table(bundled: SupplyChain) -> pd.DataFrame:
    return completion_sensitivity(bundled, Policy(), draws=300, seed=3)


def test_a_likelier_project_never_lowers_the_non_china_share(
    bundled: SupplyChain, table: pd.DataFrame
) -> None:
    # every pipeline project is outside China, so with common random numbers a higher pass
    # probability can only add non-China capacity, a lower one only remove it
    assert not (bundled.dataset["projects"]["country"] == "CHN").any()
    assert not table.empty
    tol = 1e-12
    assert (table["high_mean"] >= table["non_china_mean"] - tol).all()
    assert (table["low_mean"] <= table["non_china_mean"] + tol).all()
    # and the plant completion chance matters for rare-earth refining by 2035
    ree = table[
        (table["facility_type"] == "plant")
        & (table["phase"] == ALL_PHASES)
        & (table["mineral"] == "rare_earths")
        & (table["stage"] == "refining")
        & (table["year"] == 2035)
    ]
    assert len(ree) == 1
    assert float(ree["change_low_pts"].iloc[0]) < -0.1
    assert float(ree["change_high_pts"].iloc[0]) > 0.1


def test_every_assumed_plant_pass_probability_is_varied(
    bundled: SupplyChain, table: pd.DataFrame
) -> None:
    lt = bundled.dataset["lead_times"]
    plant = lt[lt["facility_type"] == "plant"]
    # the data still mark every plant pass probability as an assumption
    assert plant["note"].str.contains("ASSUMPTION|ASSUMED").all()
    shown = set(table.loc[table["facility_type"] == "plant", "phase"])
    assert set(plant["phase"]) | {ALL_PHASES} == shown
    moved = table.drop_duplicates(["facility_type", "phase"])
    assert np.allclose(moved["value_high"], np.minimum(1.0, moved["value"] + 0.2))
    assert np.allclose(moved["value_low"], np.maximum(0.0, moved["value"] - 0.2))


def test_the_joint_variant_moves_the_completion_chance_by_exactly_delta(
    bundled: SupplyChain,
) -> None:
    lt = bundled.dataset["lead_times"]
    for kind, phase, value, lo, hi, low_table, high_table in _completion_variants(lt, 0.2):
        if phase != ALL_PHASES:
            # one row moved, the rest held
            changed = (low_table["pass_probability"] != lt["pass_probability"]).sum()
            assert changed <= 1
            continue
        rows = lt["facility_type"] == kind
        for target, varied in ((lo, low_table), (hi, high_table)):
            p = varied.loc[rows, "pass_probability"].astype(float)
            assert float(np.prod(p)) == pytest.approx(target)
            assert ((p >= 0) & (p <= 1)).all()
        assert value == pytest.approx(float(np.prod(lt.loc[rows, "pass_probability"])))


def test_a_year_outside_the_outlook_is_refused(bundled: SupplyChain) -> None:
    with pytest.raises(ValueError, match="year: 2050"):
        completion_sensitivity(bundled, Policy(), years=(2030, 2050), draws=10)


def test_the_command_prints_records_and_refuses_a_year_in_one_line() -> None:
    import json  # noqa: PLC0415

    from click.testing import CliRunner  # noqa: PLC0415

    from critmin.cli import main  # noqa: PLC0415

    args = ["outlook", "--level", "completion-sensitivity", "--mineral", "rare_earths"]
    res = CliRunner().invoke(main, [*args, "--draws", "50", "--format", "json"])
    assert res.exit_code == 0, res.output
    records = json.loads(res.output)
    assert {r["year"] for r in records} == {2030, 2035}
    assert {r["mineral"] for r in records} == {"rare_earths"}
    bad = CliRunner().invoke(main, [*args, "--year", "2050"])
    assert bad.exit_code != 0
    assert "--year: 2050 is outside the outlook" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
