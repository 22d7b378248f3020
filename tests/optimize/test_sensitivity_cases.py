"""The sensitivity report's cases for the need split and the conversion routes: shares still
add up, only the scaled parameter moves, and a share never passes 1."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.optimize.eligibility import Eligibility
from critmin.optimize.ensemble import build_ensemble
from critmin.optimize.sensitivity import (
    minor_share,
    parameter_sensitivity,
    scaled_conversions,
    scaled_split,
)


def test_split_scales_the_minor_elements_and_keeps_the_total(bundled: SupplyChain) -> None:
    needs = bundled.dataset["reserve_needs"]
    base = needs.set_index("element")["share"].astype(float)
    minor = minor_share(needs, "rare_earths")
    assert minor == pytest.approx(base.sum() - base.max())
    for f in (0.5, 1.5):
        out = scaled_split(needs, "rare_earths", f).set_index("element")["share"].astype(float)
        assert out.sum() == pytest.approx(base.sum())
        for element in ("dysprosium", "terbium"):
            assert out[element] == pytest.approx(base[element] * f)
        assert minor_share(scaled_split(needs, "rare_earths", f), "rare_earths") == (
            pytest.approx(minor * f)
        )
    # the minor shares never take more than the whole
    capped = scaled_split(needs, "rare_earths", 100.0).set_index("element")["share"]
    assert capped.min() >= 0.0
    assert capped.sum() == pytest.approx(base.sum())


def test_conversion_cases_scale_one_column_of_one_mineral() -> None:
    conv = pd.DataFrame(
        {
            "mineral": ["rare_earths", "rare_earths", "cobalt"],
            "available_share": [0.25, 0.8, 0.5],
            "lead_time_months": [6.0, 3.0, 2.0],
        }
    )
    up = scaled_conversions(conv, "rare_earths", "available_share", 1.5)
    assert up["available_share"].tolist() == pytest.approx([0.375, 1.0, 0.5])  # capped at 1
    assert up["lead_time_months"].tolist() == conv["lead_time_months"].tolist()
    down = scaled_conversions(conv, "rare_earths", "lead_time_months", 0.5)
    assert down["lead_time_months"].tolist() == pytest.approx([3.0, 1.5, 2.0])


def test_the_re_solves_give_the_same_rows_here_and_on_the_local_pool(bundled: SupplyChain) -> None:
    """The cases are independent and deterministic: one process or two, the same rows; a
    deadline already passed leaves every case unsolved but the base plan still solved."""
    rule = Eligibility.parse("listed=antimony")
    ens = build_ensemble(bundled, minerals=["antimony"], runs=10, seed=3, horizon=6)
    plan = {"holdings": [{"mineral": "antimony", "tonnes": 1.0}]}  # the cases of a held mineral
    here, pool = (
        parameter_sensitivity(
            bundled, ens, plan, budget=2e8, seed=3, eligibility=rule, workers=workers
        )
        for workers in (1, 2)
    )
    assert len(here) > 3
    assert {(r["parameter"], r["mineral"]) for r in here} >= {
        ("purchase_cap_share", "antimony"),
        ("capital_cost_per_year", "all"),
    }
    assert [r["budget_share_moved"] for r in here] == pytest.approx(
        [r["budget_share_moved"] for r in pool], abs=1e-9
    )
    assert any(r["budget_share_moved"] > 0 for r in here)
    late = parameter_sensitivity(
        bundled, ens, plan, budget=2e8, seed=3, eligibility=rule, time_limit=-1.0, workers=2
    )
    assert [r["parameter"] for r in late] == [r["parameter"] for r in here]
    assert all(r["budget_share_moved"] is None for r in late)
    # the two stock covers, each a case of its own (docs/reserve.md's stock-days rows)
    stocks = ("commercial_stock_days", "supplier_stock_days")
    only = parameter_sensitivity(
        bundled, ens, plan, budget=2e8, seed=3, eligibility=rule, parameters=stocks
    )
    # a cover taken from a source (antimony's consumer stock, USGS MCS 2020) is not a case
    cases = [(r["parameter"], r["mineral"]) for r in here if r["parameter"] in stocks]
    assert ("supplier_stock_days", "antimony") in cases
    assert [(r["parameter"], r["mineral"]) for r in only] == cases
    by = {r["parameter"]: r["budget_share_moved"] for r in here}
    assert [r["budget_share_moved"] for r in only] == pytest.approx(
        [by[r["parameter"]] for r in only]
    )
