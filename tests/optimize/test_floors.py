"""Agreements are valued by the supply they bring: a price floor keeps a price-responsive
domestic producer running and is worth nothing when the producer cannot respond."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.floors import floor_supply
from critmin.optimize.problem import Agreements, Lots, ReserveProblem
from critmin.optimize.weights import expect, weights

FLOOR = 100.0


def ensemble() -> Ensemble:
    """Price falls to 60 (a trough) in scenario 0's first year, then a shortage of 50 t a year
    arrives in years 3-4 of both scenarios; scenario 1 never dips."""
    price = np.array([[60.0, 100.0, 150.0, 150.0], [100.0, 100.0, 150.0, 150.0]])
    short = np.array([[0.0, 0.0, 50.0, 50.0], [0.0, 0.0, 50.0, 50.0]])
    coords = {"scenario": [0, 1], "period": np.arange(1, 5), "mineral": ["cobalt"]}
    one = {"mineral": ["cobalt"]}
    dims = ("scenario", "period", "mineral")
    return Ensemble(
        shortfall=xr.DataArray(short[:, :, None], coords=coords, dims=dims),
        price=xr.DataArray(price[:, :, None], coords=coords, dims=dims),
        base_price=xr.DataArray([100.0], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([1000.0], coords=one, dims="mineral"),
        consumption=xr.DataArray([1000.0], coords=one, dims="mineral"),
        months_per_period=12,
    )


def floor(elasticity: float, ens: Ensemble) -> Agreements:
    table = pd.DataFrame(
        [
            {
                "id": "domestic-floor",
                "kind": "price_floor",
                "mineral": "cobalt",
                "counterparty": "USA",
                "max_volume_t_per_year": 100.0,
                "contract_price_usd_per_t": None,
                "floor_usd_per_t": FLOOR,
                "tenor_years": 4,
                "lead_time_years": 0,
            }
        ]
    )
    return Agreements.from_table(table, ens, elasticity={"cobalt": elasticity})


def no_lots(ens: Ensemble) -> Lots:
    """A stock too dear to buy (1e7 x the price), so only the floor can help."""
    forms = pd.DataFrame(
        [
            {
                "mineral": "cobalt",
                "form": "metal",
                "stage": "refining",
                "price_multiplier": 1e7,
                "holding_cost_per_year": 0.0,
                "drawdown_per_month": 1.0,
            }
        ]
    )
    return Lots.from_table(forms, ens)


def test_floor_supply_follows_the_price_trough() -> None:
    price = xr.DataArray([[60.0, 120.0, 90.0]], dims=("scenario", "period"))
    kept = floor_supply(price, xr.DataArray(100.0), xr.DataArray(0.5))
    # the trough (60) shuts 1 - 0.6^0.5 of output, and it stays shut after the price recovers
    np.testing.assert_allclose(kept.values, [[1 - 0.6**0.5] * 3])
    assert float(floor_supply(price, xr.DataArray(100.0), xr.DataArray(0.0)).max()) == 0.0
    above = xr.DataArray([[120.0, 130.0]], dims=("scenario", "period"))
    assert float(floor_supply(above, xr.DataArray(100.0), xr.DataArray(0.5)).max()) == 0.0


@pytest.mark.parametrize(("elasticity", "benefit"), [(0.4, True), (0.0, False)])
def test_a_floor_earns_a_benefit_only_when_supply_responds(
    elasticity: float, benefit: bool
) -> None:
    ens = ensemble()
    agr = floor(elasticity, ens)
    supply = agr.delivers(ens).sel(mineral="cobalt", agreement="domestic-floor")
    kept = supply * 100.0
    short = ens.shortfall.sel(mineral="cobalt")
    spared = kept.where(kept <= short, short).sum("period")
    avoided = float(expect(spared, weights(ens))) * 1000.0
    # fiscal cost E[max(0, floor - P)] x volume: scenario 0 pays 40 x 100 t in year 1
    assert float(agr.unit_cost(ens).sum()) * 100.0 == pytest.approx(0.5 * 40.0 * 100.0)
    p = ReserveProblem(ens, no_lots(ens), agr, budget=1e9)
    p.build()
    sol = p.solve()
    if benefit:
        share = 1 - 0.6**elasticity  # output the trough would have shut, kept in years 3-4
        assert avoided == pytest.approx(0.5 * 2 * share * 100.0 * 1000.0)
        assert float(sol.volume.sum()) > 0  # worth signing: loss avoided beats the fiscal cost
        assert sol.expected_loss_usd < 50.0 * 2 * 1000.0
    else:
        assert avoided == 0.0
        assert float(sol.volume.sum()) == pytest.approx(0.0, abs=1e-9)
    assert float(sol.stock.sum()) == pytest.approx(0.0, abs=1e-9)


def test_the_1985_cobalt_exercise_is_never_a_bundled_candidate(bundled: SupplyChain) -> None:
    candidates = bundled.dataset["reserve_candidates"]
    assert "domestic-cobalt-1985" not in set(candidates["id"])
    assert "MCM_1985_A" not in set(candidates["source_id"])
