"""Recycled supply as a supply node of the chain model: disruptions see it."""

from __future__ import annotations

import pytest

from critmin.chain import SupplyChain
from critmin.outlook.capacity import run_outlook
from critmin.outlook.policy import Policy
from critmin.outlook.recycling import with_recycling, with_secondary
from critmin.schema.vocabulary import REGIONS
from critmin.simulate.model import SECONDARY_NODE, build_model

from .shortfall import mean_us_shortfall

MINERAL = "cobalt"
US = REGIONS.index("USA")


#: DR Congo's mines lose 60-90% of capacity for 9 months (52 days of U.S. consumer stock, USGS,
#: cover a 6-month outage).
COD_MINES = {
    "country": "COD",
    "stage": "mining",
    "share": 0.75,
    "start": "2025-01",
    "duration_months": 9,
}


def _shortfall(chain: SupplyChain) -> float:
    """U.S. shortfall (t over 12 months, mean of 50 draws) of the DR Congo mine outage."""
    return mean_us_shortfall(chain, MINERAL, COD_MINES, draws=50, seed=5, share=(0.6, 0.9))


def test_recycled_supply_cuts_the_us_shortfall_and_zero_changes_nothing(
    bundled: SupplyChain,
) -> None:
    base = _shortfall(bundled)
    assert base > 0
    demand = build_model(bundled, MINERAL).demand
    us_year = float(demand[US]) * 12
    zero = _shortfall(with_secondary(bundled, {MINERAL: 0.0}))
    assert zero == base
    assert (
        SECONDARY_NODE
        not in build_model(with_secondary(bundled, {MINERAL: 0.0}), MINERAL).countries
    )
    recycled = with_secondary(bundled, {MINERAL: 0.2 * us_year})
    model = build_model(recycled, MINERAL)
    assert model.countries[-1] == SECONDARY_NODE
    # total U.S. demand unchanged; the node delivers its tonnes to the U.S. at baseline
    assert model.demand[US] == pytest.approx(demand[US], rel=1e-12)
    assert model.final[-1, US] == pytest.approx(0.2 * demand[US], rel=1e-12)
    assert model.demand.sum() == pytest.approx(model.final.sum(), rel=1e-9)
    less = _shortfall(recycled)
    assert less < base
    more = _shortfall(with_secondary(bundled, {MINERAL: 0.4 * us_year}))
    assert more < less


def test_secondary_never_exceeds_us_demand(bundled: SupplyChain) -> None:
    model = build_model(bundled, MINERAL)
    huge = build_model(with_secondary(bundled, {MINERAL: 1e12}), MINERAL)
    assert huge.final[-1, REGIONS.index("USA")] == pytest.approx(model.demand[US], rel=1e-12)


def test_outlook_recycling_attaches_us_rows_only(bundled: SupplyChain) -> None:
    result = run_outlook(bundled, Policy(), draws=50, seed=0)
    chain = with_recycling(bundled, result, 2035)
    assert chain.secondary is not None
    regions = bundled.dataset["recycling_flows"]["region"]
    us_minerals = set(bundled.dataset["recycling_flows"]["mineral"][regions == "USA"])
    assert set(chain.secondary.mineral.values) <= us_minerals
    with pytest.raises(ValueError, match="year"):
        with_recycling(bundled, result, 2050)
