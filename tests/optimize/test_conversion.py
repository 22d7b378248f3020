"""Forms meet a U.S. shortfall only at their element and stage, or through a conversion route
with capacity, after its lead time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from critmin.chain import SupplyChain
from critmin.optimize.conversion import Conversion, route_capacity
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.problem import Agreements, Lots, ReserveProblem

from .fixtures import NO_AGREEMENTS

NEEDS = pd.DataFrame(
    [
        {"mineral": "rare_earths", "element": "ndpr", "stage": "magnets", "share": 0.88},
        {"mineral": "rare_earths", "element": "dysprosium", "stage": "magnets", "share": 0.1},
        {"mineral": "rare_earths", "element": "terbium", "stage": "magnets", "share": 0.02},
    ]
)


def routes(capacity: float, lead_months: float = 6.0) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "route": "rare_earths:all:refining->magnets",
                "mineral": "rare_earths",
                "element": "",
                "from_stage": "refining",
                "to_stage": "magnets",
                "plants": "",
                "capacity_t_per_year": capacity,
                "lead_time_months": lead_months,
            }
        ]
    )


def ensemble(periods: int = 4) -> Ensemble:
    """Rare earths short 100 t (REO, magnets) in every quarter of one scenario."""
    coords = {"scenario": [0], "period": np.arange(1, periods + 1), "mineral": ["rare_earths"]}
    one = {"mineral": ["rare_earths"]}
    dims = ("scenario", "period", "mineral")
    return Ensemble(
        shortfall=xr.DataArray(np.full((1, periods, 1), 100.0), coords=coords, dims=dims),
        price=xr.DataArray(np.full((1, periods, 1), 50.0), coords=coords, dims=dims),
        base_price=xr.DataArray([50.0], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([5000.0], coords=one, dims="mineral"),
        consumption=xr.DataArray([300.0], coords=one, dims="mineral"),
        months_per_period=3,
    )


def lots(ens: Ensemble, forms: list[tuple[str, str]]) -> Lots:
    rows = [
        {
            "mineral": "rare_earths",
            "form": form,
            "stage": "refining",
            "element": element,
            "price_multiplier": 1.0,
            "storage_per_year": 0.0,
            "insurance_per_year": 0.0,
            "degradation_per_year": 0.0,
            "drawdown_per_month": 1.0,
        }
        for form, element in forms
    ]
    return Lots.from_table(pd.DataFrame(rows), ens)


def solve(ens: Ensemble, lot: Lots, capacity: float):  # type: ignore[no-untyped-def]
    conv = Conversion.of(None, lot.frame, ["rare_earths"], 3, needs=NEEDS, routes=routes(capacity))
    p = ReserveProblem(ens, lot, Agreements(NO_AGREEMENTS), budget=1e12, conversion=conv)
    p.build()
    return p, p.solve()


def unmet(p: ReserveProblem, element: str) -> np.ndarray:
    u = p.second_stage()["unmet"]  # on the scenarios, whatever the blocks
    return u.sel(need=f"rare_earths:{element}:magnets").isel(scenario=0).values


def test_ndpr_oxide_never_meets_a_dy_tb_magnet_shortfall_without_capacity() -> None:
    ens = ensemble()
    p, sol = solve(ens, lots(ens, [("ndpr_oxide", "ndpr")]), capacity=0.0)
    assert float(sol.stock.sum()) == pytest.approx(0.0, abs=1e-9)  # it can meet nothing
    np.testing.assert_allclose(unmet(p, "dysprosium"), 10.0)
    np.testing.assert_allclose(unmet(p, "terbium"), 2.0)
    np.testing.assert_allclose(unmet(p, "ndpr"), 88.0)
    assert p.paths().paths["reason"].iloc[0].startswith("the shortfall it would meet is at")


def test_conversion_meets_only_its_element_after_the_lead_time_and_within_capacity() -> None:
    ens = ensemble()
    both = [("ndpr_oxide", "ndpr"), ("dy_oxide", "dysprosium")]
    p, _ = solve(ens, lots(ens, both), capacity=1000.0)  # 250 t per quarter: room for all
    # oxide converts: nothing in the first two quarters (six months), then covered
    np.testing.assert_allclose(unmet(p, "dysprosium"), [10.0, 10.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(unmet(p, "ndpr"), [88.0, 88.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(unmet(p, "terbium"), 2.0)  # no form of terbium: never covered
    # at 200 t/yr (50 t per quarter) the route binds NdPr and Dy together
    p, sol = solve(ens, lots(ens, both), capacity=200.0)
    assert (sol.releases.isel(scenario=0).sum("lot").values <= 50.0 + 1e-6).all()
    short = unmet(p, "ndpr") + unmet(p, "dysprosium")
    np.testing.assert_allclose(short[2:], 98.0 - 50.0, atol=1e-6)


def test_bundled_routes_take_capacity_from_us_and_allied_plants(bundled: SupplyChain) -> None:
    table = route_capacity(bundled).set_index("route")
    sep = table.loc["rare_earths:all:mining->refining"]
    # White Mesa (USA, 1,000 t) and Neo Silmet (EST, 3,000 t) count; Lynas Malaysia does not
    assert "energy-fuels-white-mesa" in sep["plants"]
    assert "lynas-malaysia" not in sep["plants"]
    mag = table.loc["rare_earths:all:refining->magnets"]
    assert mag["capacity_t_per_year"] == 0.0  # no magnet plant recorded in facilities.csv
