"""Every reader of USGS's U.S. tables takes the mineral's pre-shock base year (one definition:
critmin.economics.price.base_year through SupplyChain.base_year), never USGS's latest year.

A synthetic small world whose latest year (2025, estimated) differs from the base year (2024):
each reader must return the 2024 figure; reading the latest would give the 2025 one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.data.build import write_tables
from critmin.data.load import collect
from critmin.examples import SRC, small_world_tables
from critmin.metrics import concentration
from critmin.optimize.eligibility import Eligibility
from critmin.outlook.alliance import us_requirement
from critmin.outlook.policy import AllianceAction
from critmin.outlook.recycling import demand_history
from critmin.simulate.model import us_demand_t, us_net_import_reliance

BASE, LATEST = 2024, 2025
#: cobalt's U.S. figures: (base year, latest year); the latest would pass the 0.9 rule
NIR = (0.75, 0.95)
CONSUMPTION_T = (40.0, 99.0)


def _row(year: int, statistic: str, value: float, unit: str, detail: str) -> dict[str, object]:
    return {
        "mineral": "cobalt",
        "year": year,
        "statistic": statistic,
        "detail": f"Cobalt: {detail}",
        "value": value,
        "unit": unit,
        "qualifier": "exact",
        "source_id": SRC,
        "estimated": year > BASE,
        "note": "",
    }


@pytest.fixture
def later(tmp_path: Path) -> SupplyChain:
    tables = small_world_tables()
    us = tables["us_supply"]
    extra = pd.DataFrame(
        [
            _row(LATEST, "net_import_reliance", NIR[1], "fraction", "NIR"),
            _row(2023, "consumption", 30.0, "t", "Consumption, apparent"),
            _row(BASE, "consumption", CONSUMPTION_T[0], "t", "Consumption, apparent"),
            _row(LATEST, "consumption", CONSUMPTION_T[1], "t", "Consumption, apparent"),
        ]
    )
    tables["us_supply"] = pd.concat([us, extra], ignore_index=True)
    # a 2025 production row, so that the exposure table has a row of the latest year
    prod = tables["production"]
    cobalt = prod[(prod["mineral"] == "cobalt") & (prod["stage"] == "mining")]
    mine = cobalt[cobalt["year"] == BASE]
    tables["production"] = pd.concat([prod, mine.assign(year=LATEST)], ignore_index=True)
    folder = tmp_path / "later"
    write_tables(tables, folder)
    dataset, problems = collect(base_dir=folder)
    assert dataset is not None, problems
    chain = SupplyChain.from_dataset(dataset)
    # the premise: the latest year differs and the base year is 2024
    assert chain.base_year("cobalt") == BASE
    assert float(chain.us_nir.sel(mineral="cobalt", year=LATEST)) == pytest.approx(NIR[1])
    return chain


def test_net_import_reliance_is_read_in_the_base_year(later: SupplyChain) -> None:
    at = later.us_nir_base().sel(mineral="cobalt")
    assert float(at) == pytest.approx(NIR[0])
    assert int(at.nir_year) == BASE
    assert us_net_import_reliance(later, "cobalt") == pytest.approx(NIR[0])


def test_eligibility_reads_the_base_year(later: SupplyChain) -> None:
    rule = Eligibility.parse("nir>=0.9")
    assert rule.admit(later, ["cobalt"])["cobalt"] is None  # 0.75 in 2024, not 0.95 in 2025
    why = Eligibility.parse("nir>=0.7").admit(later, ["cobalt"])["cobalt"]
    assert why is not None
    assert f"0.75 in {BASE}, the base year" in why


def test_demand_readers_take_the_base_year(later: SupplyChain) -> None:
    assert us_demand_t(later, "cobalt")[0] == pytest.approx(CONSUMPTION_T[0])
    need, source = us_requirement(later, "cobalt", AllianceAction(group="allied"))
    assert need == pytest.approx(CONSUMPTION_T[0])
    assert f"base year {BASE}" in source
    history, _ = demand_history(later, "cobalt", "USA", "consumption")
    assert int(history.index.max()) == BASE
    assert float(history.iloc[-1]) == pytest.approx(CONSUMPTION_T[0])


def test_exposure_table_reads_the_row_year(later: SupplyChain) -> None:
    """The exposure table is a snapshot: its NIR is the row's year (kept on purpose, docs/
    criticality.md §2), so a row of the latest year shows the latest NIR."""
    sel = concentration.select(later, mineral=["cobalt"], year=LATEST)
    nir = concentration.us_nir(sel).sel(mineral="cobalt")
    assert float(nir.dropna("stage").max()) == pytest.approx(NIR[1])
