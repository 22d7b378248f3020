"""NdFeB magnet recycling: sourced lifetimes and end-use split -> secondary REE by year."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.outlook.capacity import Outlook, run_outlook
from critmin.outlook.policy import Policy
from critmin.outlook.recycling import demand_history, recycling_outlook, recycling_sensitivity

MINERAL = "rare_earths"


@pytest.fixture(scope="module")
def result(bundled: SupplyChain) -> Outlook:
    return run_outlook(bundled, Policy(), draws=100, seed=2)


@pytest.fixture(scope="module")
def magnets(bundled: SupplyChain, result: Outlook) -> pd.DataFrame:
    out = recycling_outlook(bundled, result)
    return out[out["mineral"] == MINERAL]


def test_every_figure_cites_a_known_source(bundled: SupplyChain) -> None:
    flows = bundled.dataset["recycling_flows"]
    known = set(bundled.dataset["sources"]["id"])
    rows = flows[flows["mineral"] == MINERAL]
    assert len(rows) >= 4
    for note, source in zip(rows["note"], rows["source_id"], strict=True):
        cited = set(re.findall(r"\b[A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+\b", str(note))) | {source}
        assert cited <= known, cited - known
        # collection and recovery are assumptions and say so
        assert "ASSUMPTION" in str(note)
    # the sector shares of each region (the world, the United States) add up to one
    for _, region_rows in rows.groupby("region"):
        assert region_rows["demand_share"].sum() == pytest.approx(1.0)


def test_magnet_flows_by_sector_follow_demand_and_lifetime(
    bundled: SupplyChain, magnets: pd.DataFrame
) -> None:
    flows = bundled.dataset["recycling_flows"].set_index(["mineral", "region", "sector"])
    history, _ = demand_history(bundled, MINERAL, "WLD", "refining")
    last = int(history.index.max())
    total = float(history.iloc[-1])
    for (region, sector), rows in magnets.groupby(["region", "sector"]):
        f = flows.loc[(MINERAL, region, sector)]
        at = rows.set_index("year")
        # demand = the world refined magnet REE x the sector's declared share (x the region's
        # share of the world, for the U.S. rows), flat after the data
        region_share = 1.0 if pd.isna(f["region_share"]) else float(f["region_share"])
        expected = total * float(f["demand_share"]) * region_share
        assert at.loc[last, "demand_t"] == pytest.approx(expected)
        # never more end-of-life material than was put into use
        assert (at["eol_t"] <= at["demand_t"] + 1e-9).all()
        bound = at["eol_t"] * at["collection_rate"] * at["recovery_rate"]
        assert np.allclose(at["secondary_potential_t"], bound)
        # no recycling capacity in the chain's basis: potential only, and it says so
        assert not at["capacity_declared"].any()
        assert (at["recycled_t"] == 0).all()
    world = magnets[magnets["region"] == "WLD"]
    short = world[world["sector"] == "electronics"].set_index("year")["eol_t"]
    long = world[world["sector"] == "wind"].set_index("year")["eol_t"]
    # 2.5-year electronics retire about what was bought a few years earlier; 25-year wind
    # magnets retire a small share of today's (growing) demand
    end = max(short.index)
    assert short[end] / world[(world["sector"] == "electronics")]["demand_t"].max() > 0.9
    assert long[2030] / world[world["sector"] == "wind"]["demand_t"].max() < 0.5


def test_sensitivity_moves_the_potential_the_right_way(
    bundled: SupplyChain, result: Outlook
) -> None:
    table = recycling_sensitivity(bundled, result, mineral=MINERAL, year=2035)
    assert {"WLD", "USA"} <= set(table["region"])
    idx = table[table["region"] == "WLD"].set_index(["sector", "field"])
    for sector in ("ev_motors", "wind", "electronics", "industrial_motors_other"):
        rate = idx.loc[(sector, "collection_rate")]
        # potential is linear in each sector's collection rate
        assert rate["change_low"] == pytest.approx(-rate["change_high"])
        assert rate["change_high"] > 0
    # with demand growing, a longer lifetime means less retires by 2035
    for sector in ("ev_motors", "wind", "industrial_motors_other"):
        assert idx.loc[(sector, "lifetime_mean_years"), "change_high"] < 0
    with pytest.raises(ValueError, match="year"):
        recycling_sensitivity(bundled, result, mineral=MINERAL, year=2060)
    with pytest.raises(ValueError, match="mineral"):
        recycling_sensitivity(bundled, result, mineral="copper", year=2035)
