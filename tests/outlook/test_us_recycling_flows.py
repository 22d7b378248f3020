"""U.S. lithium and magnet rare-earth recycling: the world's flows x the U.S. share, bounded
by end-of-life x collection x recovery and the U.S. plants online, attached to the chain model
through the same --recycling mechanism as cobalt."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.outlook.capacity import Outlook, run_outlook
from critmin.outlook.policy import Policy
from critmin.outlook.recycling import (
    attach_recycling,
    demand_history,
    recycling_outlook,
    us_recycling_minerals,
)
from critmin.simulate.model import SECONDARY_NODE, build_model

from .shortfall import mean_us_shortfall

NEW = ("lithium", "rare_earths")


@pytest.fixture(scope="module")
def result(bundled: SupplyChain) -> Outlook:
    return run_outlook(bundled, Policy(), draws=300, seed=5, minerals=list(NEW))


@pytest.fixture(scope="module")
def us_rows(bundled: SupplyChain) -> pd.DataFrame:
    flows: pd.DataFrame = bundled.dataset["recycling_flows"]
    return flows[(flows["region"] == "USA") & flows["mineral"].isin(NEW)]


def test_us_rows_cite_known_sources_and_label_assumptions(
    bundled: SupplyChain, us_rows: pd.DataFrame
) -> None:
    assert set(us_rows["mineral"]) == set(NEW)
    known = set(bundled.dataset["sources"]["id"])
    for _, row in us_rows.iterrows():
        cited = set(re.findall(r"\b[A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+\b", str(row["note"])))
        assert cited | {row["source_id"]} <= known
        assert 0 < float(row["region_share"]) <= 1
        if row["source_id"] == "CRITMIN_ASSUMPTION":
            assert "ASSUMPTION" in str(row["note"])
    assert set(us_recycling_minerals(bundled)) >= {"cobalt", *NEW}


def test_us_demand_is_the_worlds_times_the_us_share(
    bundled: SupplyChain, result: Outlook, us_rows: pd.DataFrame
) -> None:
    out = recycling_outlook(bundled, result)
    us = out[out["region"] == "USA"]
    world = out[out["region"] == "WLD"]
    for _, row in us_rows.iterrows():
        mine = us[(us["mineral"] == row["mineral"]) & (us["sector"] == row["sector"])]
        mine = mine.set_index("year")
        history, _ = demand_history(bundled, row["mineral"], "WLD", row["demand_stage"])
        last = int(history.index.max())
        share = mine.loc[last, "demand_t"] / float(history.iloc[-1])
        same = world[(world["mineral"] == row["mineral"]) & (world["sector"] == row["sector"])]
        if not same.empty:
            # the U.S. row is the world row scaled by the U.S. share, year by year
            w = same.set_index("year")
            assert np.allclose(mine["eol_t"], w["eol_t"] * float(row["region_share"]))
        assert share == pytest.approx(
            float(row["region_share"])
            * (float(row["demand_share"]) if not pd.isna(row["demand_share"]) else 0.71)
        )


def test_us_recycled_never_exceeds_eol_collection_recovery_or_plants(
    bundled: SupplyChain, result: Outlook
) -> None:
    out = recycling_outlook(bundled, result)
    us = out[(out["region"] == "USA") & out["mineral"].isin(NEW)]
    bound = us["eol_t"] * us["collection_rate"] * us["recovery_rate"]
    assert (us["recycled_t"] <= bound + 1e-9).all()
    li = us[us["mineral"] == "lithium"]
    # Li-Cycle Rochester (the one U.S. plant declaring contained lithium) bounds it
    assert li["capacity_declared"].all()
    assert (li["recycled_t"] <= li["recycling_capacity_t"] + 1e-9).all()
    assert li["recycled_t"].max() > 0
    # no U.S. magnet-recycling plant declares magnet REE: potential only, nothing recycled
    ree = us[us["mineral"] == "rare_earths"]
    assert not ree["capacity_declared"].any()
    assert (ree["recycled_t"] == 0).all()
    assert ree["secondary_potential_t"].min() > 0


def test_halving_the_us_share_halves_the_us_potential(
    bundled: SupplyChain, result: Outlook, us_rows: pd.DataFrame
) -> None:
    base = recycling_outlook(bundled, result, us_rows)
    half = us_rows.copy()
    half["region_share"] = half["region_share"].astype(float) / 2
    moved = recycling_outlook(bundled, result, half)
    assert np.allclose(moved["secondary_potential_t"], base["secondary_potential_t"] / 2)


def test_region_share_on_us_consumption_is_refused(bundled: SupplyChain, result: Outlook) -> None:
    flows = bundled.dataset["recycling_flows"]
    cobalt = flows[(flows["mineral"] == "cobalt") & (flows["region"] == "USA")].copy()
    cobalt["region_share"] = 0.5
    with pytest.raises(ValueError, match="region_share"):
        recycling_outlook(bundled, result, cobalt)


#: A Chilean lithium-refining outage: 90% of capacity for 9 months (Chile and Argentina refine
#: the compounds the U.S. buys, USGS; its demand sits at the refining stage).
CHL_REFINING = {
    "country": "CHL",
    "stage": "refining",
    "share": 0.9,
    "start": "2025-01",
    "duration_months": 9,
}


def _us_lithium_shortfall(chain: SupplyChain) -> float:
    """Mean U.S. shortfall (t over 12 months, 40 draws) of the Chilean refining outage."""
    return mean_us_shortfall(chain, "lithium", CHL_REFINING, draws=40, seed=7)


def test_attached_lithium_is_a_node_and_never_raises_the_us_shortfall(
    bundled: SupplyChain,
) -> None:
    chain = attach_recycling(bundled, 2035, draws=300)
    assert chain.secondary is not None
    assert float(chain.secondary.sel(mineral="lithium")) > 0
    assert SECONDARY_NODE in build_model(chain, "lithium").countries
    # rare earths are attached at 0, and the attrs say why; no node is added
    assert float(chain.secondary.sel(mineral="rare_earths")) == 0
    assert "rare_earths" in chain.secondary.attrs["no_capacity"]
    assert SECONDARY_NODE not in build_model(chain, "rare_earths").countries
    without = _us_lithium_shortfall(bundled)
    assert without > 0
    # recycled lithium is processed at home: the shortfall of a foreign outage falls
    assert _us_lithium_shortfall(chain) < without


def test_cli_says_what_was_attached_and_why_rare_earths_are_zero(tmp_path: Path) -> None:
    scenario = tmp_path / "aus.yaml"
    scenario.write_text(
        "name: aus\nstart: 2025-01\nevents:\n  aus:\n    kind: outage\n    country: AUS\n"
        "    minerals: [lithium]\n    stage: mining\n    share: 0.9\n    start: 2025-01\n"
        "    duration_months: 6\n",
        encoding="utf-8",
    )
    args = ["simulate", str(scenario), "--runs", "20", "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(main, [*args, "--recycling", "2035"])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stderr.splitlines() if "recycled supply attached" in x)
    assert re.search(r"lithium [1-9][\d,]* t/yr", line)
    assert "0 for rare_earths" in line
