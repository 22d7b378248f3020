"""Every reader of USGS's U.S. tables takes the mineral's pre-shock base year (one definition:
critmin.economics.price.base_year through SupplyChain.base_year), never USGS's latest year.

A synthetic small world whose latest year (2025, estimated) differs from the base year (2024):
each reader must return the 2024 figure; reading the latest would give the 2025 one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.examples import SRC, small_world_tables
from critmin.metrics import concentration
from critmin.optimize.eligibility import Eligibility
from critmin.outlook.alliance import us_requirement
from critmin.outlook.policy import AllianceAction
from critmin.outlook.recycling import demand_history
from critmin.schema.vocabulary import REGIONS
from critmin.simulate.model import build_model, us_demand_t

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
def later(chain_from_tables: Callable[..., SupplyChain], tmp_path: Path) -> SupplyChain:
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
    chain = chain_from_tables(tables, tmp_path / "later")
    # the premise: the latest year differs and the base year is 2024
    assert chain.base_year("cobalt") == BASE
    assert float(chain.us_nir.sel(mineral="cobalt", year=LATEST)) == pytest.approx(NIR[1])
    return chain


def test_net_import_reliance_is_read_in_the_base_year(later: SupplyChain) -> None:
    at = later.us_nir_base().sel(mineral="cobalt")
    assert float(at) == pytest.approx(NIR[0])
    assert int(at.nir_year) == BASE
    assert not bool(at.net_exporter)
    # one definition: the whole array and the one-mineral reading the chain model takes agree
    assert float(later.us_nir_base(["cobalt"])[0]) == pytest.approx(NIR[0])


def test_a_net_exporter_is_flagged_not_read_as_no_reliance(
    chain_from_tables: Callable[..., SupplyChain], tmp_path: Path
) -> None:
    """USGS's "net exporter" reads as 0 (eligibility, the reserve plan and the exposure table
    count it so) with the flag ``net_exporter`` that tells it from a reliance of 0: the chain
    model keeps a net exporter's routing, and would send all U.S. demand to U.S. plants if it
    read the 0 alone. A year with one form net-exported and another imported is no net
    exporter's (the largest form counts, as for every NIR)."""
    exporter = {**_row(2022, "net_import_reliance", 0.0, "fraction", "NIR, metal")}
    exporter.update(value="", qualifier="net_exporter")
    rows = [
        exporter,
        {**exporter, "year": 2023},
        _row(2023, "net_import_reliance", 0.0, "fraction", "NIR, oxide"),
    ]
    tables = small_world_tables()
    tables["us_supply"] = pd.concat([tables["us_supply"], pd.DataFrame(rows)], ignore_index=True)
    chain = chain_from_tables(tables, tmp_path / "nir")
    flag = chain.us_nir.net_exporter.sel(mineral="cobalt")
    assert chain.us_nir.sel(mineral="cobalt", year=[2022, 2023]).values.tolist() == [0.0, 0.0]
    assert flag.sel(year=[2022, 2023, BASE]).values.tolist() == [True, False, False]
    nir = chain.us_nir_base(["cobalt", "rare_earths", "unknown"])
    assert nir.sel(mineral="rare_earths").item() == 0.0  # the small world's "E" row
    assert nir.net_exporter.values.tolist() == [False, True, False]
    assert np.isnan(nir.sel(mineral="unknown").item())


def test_the_chain_model_keeps_a_net_exporters_routing(bundled: SupplyChain) -> None:
    """Molybdenum (USGS: net exporter in 2024) has USGS import sources: with the flag the
    model routes U.S. imports by them but keeps the trade prior's home deliveries; read as a
    reliance of 0, U.S. plants would serve all U.S. demand (min of output and demand)."""
    at = bundled.us_nir_base(["molybdenum"])
    assert bool(at.net_exporter[0])  # the premise
    assert float(at[0]) == 0.0
    model = build_model(bundled, "molybdenum")
    assert any("import-source" in a for a in model.assumptions)
    usa, us = model.countries.index("USA"), REGIONS.index("USA")
    as_if_zero = min(model.capacity[-1, usa], model.demand[us])
    assert model.final[usa, us] < 0.9 * as_if_zero


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
