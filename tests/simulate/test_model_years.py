"""A chain model reads world production in the mineral's base year (SupplyChain.
production_years), the year of its U.S. demand and price, never the latest year; the run
records the years it read; a back-test reads each episode's chain as of the year before it.

A synthetic small world whose latest year (2025, estimated) has other producers and a larger
world output than the base year (2024): a model built on the latest year would carry them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.examples import small_world_tables
from critmin.simulate.backtest import backtest, backtest_records
from critmin.simulate.disruptions import stage_shares
from critmin.simulate.model import build_model
from critmin.simulate.output import summary, write_run
from critmin.simulate.runner import RunConfig, simulate

from .specs import outage

BASE, LATEST = 2024, 2025
#: cobalt mine output (t): the base year's is small_world_tables'; the latest year's differs
AT_BASE = {"COD": 70.0, "AUS": 20.0, "OTH": 10.0}
AT_LATEST = {"COD": 40.0, "AUS": 60.0, "JPN": 100.0}


@pytest.fixture
def later(chain_from_tables: Callable[..., SupplyChain], tmp_path: Path) -> SupplyChain:
    tables = small_world_tables()
    prod = tables["production"]
    mine = prod[(prod["mineral"] == "cobalt") & (prod["stage"] == "mining")]
    row = mine[mine["year"] == BASE].iloc[0]
    extra = pd.DataFrame(
        [
            {**row.to_dict(), "year": LATEST, "country": c, "value": v, "estimated": True}
            for c, v in AT_LATEST.items()
        ]
    )
    tables["production"] = pd.concat([prod, extra], ignore_index=True)
    chain = chain_from_tables(tables, tmp_path / "later")
    # the premise: the latest year is not the base year, and its output differs
    assert chain.base_year("cobalt") == BASE
    got = chain.production.sel(mineral="cobalt", stage="mining", year=LATEST)
    assert float(got.sum()) == pytest.approx(sum(AT_LATEST.values()))
    return chain


def _mine_shares(model_capacity: np.ndarray, countries: tuple[str, ...]) -> dict[str, float]:
    total = float(model_capacity.sum())
    return {c: float(v) / total for c, v in zip(countries, model_capacity, strict=True) if v > 0}


def test_the_model_reads_world_production_in_the_base_year(later: SupplyChain) -> None:
    model = build_model(later, "cobalt")
    k = model.stages.index("mining")
    total = sum(AT_BASE.values())
    assert _mine_shares(model.capacity[k], model.countries) == pytest.approx(
        {c: v / total for c, v in AT_BASE.items()}
    )
    assert "JPN" not in _mine_shares(model.capacity[k], model.countries)
    assert model.world_t_per_year == pytest.approx(total)
    assert model.base_year == BASE
    assert model.production_years[k] == BASE
    assert f"base year {BASE}" in model.assumptions[0]


def test_the_disruption_set_reads_the_same_year(later: SupplyChain) -> None:
    """The suppliers a year of disruptions is drawn for are the model's producers."""
    frame = stage_shares(later)
    mine = frame[(frame["mineral"] == "cobalt") & (frame["stage"] == "mining")]
    assert set(mine["country"]) == set(AT_BASE)


def test_a_stage_without_data_up_to_the_base_year_takes_the_earliest_after(
    later: SupplyChain,
) -> None:
    """As of 2022, cobalt mining has data up to it (2023 is the earliest): refining has only
    2024, read in 2024 and said so; mining falls back to 2023, the earliest year there is."""
    early = replace(later, as_of=2022)
    assert early.base_year("cobalt") == 2022
    years = early.production_years(["cobalt"]).sel(mineral="cobalt")
    assert int(years.sel(stage="mining")) == 2023
    assert int(years.sel(stage="refining")) == BASE
    # a base year given for another mineral (a by-product's, for its host) takes the same rule
    given = later.production_years(["cobalt"], base=2022).sel(mineral="cobalt")
    assert given.values.tolist() == years.values.tolist()
    model = build_model(early, "cobalt")
    assert model.base_year == 2022
    assert model.production_years == (2023, BASE)
    assert "refining 2024 (no data up to it)" in model.assumptions[0]
    # and a base year between two years with data takes the latest before it
    assert (
        int(
            replace(later, as_of=2030)
            .production_years(["cobalt"])
            .sel(mineral="cobalt", stage="mining")
        )
        == BASE
    )


def test_the_run_records_the_years_it_read(later: SupplyChain, tmp_path: Path) -> None:
    scenario = outage(later, "COD", "cobalt", "mining", 0.5, 2)
    result = simulate(later, scenario, RunConfig(runs=4, horizon=3, workers=1))
    want = {"base_year": BASE, "production_years": {"mining": BASE, "refining": BASE}}
    assert summary(result)["data_years"]["cobalt"] == want
    out = write_run(result, later.dataset, tmp_path / "run")
    manifest = json.loads((out / "manifest.json").read_text())
    assert {k: manifest["minerals"]["cobalt"][k] for k in want} == want


def test_back_tests_read_the_year_before_each_episode(bundled: SupplyChain) -> None:
    """The 2023 gallium controls replay on 2022's chain (not the latest, 2025); the 2010
    rare-earth quota on the earliest year the bundled data have (2018), and says so."""
    rows = {r["episode"]: r for r in backtest_records(backtest(bundled))}
    assert rows["ga-ge-2023-licences"]["base_year"] == 2022
    assert rows["ga-ge-2023-licences"]["production_years"] == "refining 2022"
    ree = rows["ree-2010-quota"]
    assert ree["base_year"] == 2009
    assert ree["production_years"].startswith("mining 2018")
    assert rows["magnets-2025-04"]["base_year"] == 2024


def test_world_output_is_read_from_the_us_tables_source(bundled: SupplyChain) -> None:
    """Phosphate's U.S. demand is USGS's rock tonnage: the world output it is a share of is
    USGS's rock of the base year (2024), not the latest year's (2025e) nor World Mining Data's
    P2O5 content (a third of the rock's tonnage: the U.S. share would triple)."""
    model = build_model(bundled, "phosphate")
    raw = bundled.dataset["production"]
    want = raw[
        (raw["mineral"] == "phosphate")
        & (raw["stage"] == "mining")
        & (raw["year"] == bundled.base_year("phosphate"))
        & (raw["source_id"] == "USGS_MCS2026_DR")
        & (raw["country"] != "WLD")
    ]
    assert model.world_t_per_year == pytest.approx(float(want["value"].sum()))
    assert "rock" in model.unit
