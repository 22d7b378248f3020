"""Forms meet a U.S. shortfall only at their element and stage, or through a conversion route
with capacity, after its lead time."""

from __future__ import annotations

import math

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
    # magnets: one route per element of the need, each from the same U.S. and allied plants
    needs = bundled.dataset["reserve_needs"].set_index("element")
    conv = bundled.dataset["reserve_conversions"]
    row = conv[conv["to_stage"] == "magnets"].iloc[0]
    fac = bundled.dataset["facilities"]
    proj = bundled.dataset["projects"]
    allied = set(bundled.dataset["country_groups"].query("group == 'allied'")["country"]) | {"USA"}
    plants = pd.concat(
        [
            fac[(fac["stage"] == "magnets") & fac["country"].isin(allied)],
            proj[
                (proj["stage"] == "magnets")
                & (proj["status"] == "commissioning")
                & proj["country"].isin(allied)
            ],
        ]
    )
    plants = plants[plants["mineral"] == "rare_earths"].dropna(subset=["capacity"])
    assert len(plants) >= 2  # MP Independence and Neo Narva at least
    product = float(plants["capacity"].sum())
    for element in ("ndpr", "dysprosium", "terbium"):
        mag = table.loc[f"rare_earths:{element}:refining->magnets"]
        assert set(mag["plants"].split()) == set(plants["id"])
        expected = (
            product
            * float(row["output_content"])
            * float(needs.loc[element, "share"])
            * float(row["available_share"])
        )
        assert mag["capacity_t_per_year"] == pytest.approx(expected)
    # the basis: about 0.3 t of NdPr oxide per t of NdFeB magnet (31-32 wt% rare earths,
    # mostly Nd and Pr, as oxide); Dy and Tb a few percent of a tonne
    ndpr = float(row["output_content"]) * float(needs.loc["ndpr", "share"])
    assert 0.25 < ndpr < 0.35
    assert float(row["output_content"]) * float(needs.loc["dysprosium", "share"]) < 0.1


def test_a_commissioning_plant_adds_capacity_from_its_start() -> None:
    """Capacity by period: a plant counts from the first period starting at its start month;
    an oxide release meets the magnet need only within what runs then, after the lead time."""
    ens = ensemble(periods=6)
    lot = lots(ens, [("ndpr_oxide", "ndpr")])
    route = routes(0.0).assign(
        route="rare_earths:ndpr:refining->magnets", element="ndpr", capacity_t_per_year=480.0
    )
    plants = pd.DataFrame(
        [
            {
                "route": route["route"].iloc[0],
                "plant": "old",
                "capacity_t_per_year": 80.0,
                "start": "",
            },
            {
                "route": route["route"].iloc[0],
                "plant": "new",
                "capacity_t_per_year": 400.0,
                "start": "2026-07",
            },
        ]
    )
    conv = Conversion.of(None, lot.frame, ["rare_earths"], 3, needs=NEEDS, routes=route)
    conv = Conversion(conv.needs, conv.routes, conv.paths, plants)
    cap = conv.capacity_by_period(3, ens.shortfall.period.to_index(), start="2026-01")
    # 80 t/yr = 20 t a quarter from the start; the new plant's 100 t a quarter from 2026-07
    np.testing.assert_allclose(cap.isel(route=0).values, [20, 20, 120, 120, 120, 120])
    p = ReserveProblem(ens, lot, Agreements(NO_AGREEMENTS), budget=1e12, conversion=conv)
    p.build()
    p.solve()
    # need 88 t a quarter; two quarters' lead time: a release in period k arrives in k+2
    np.testing.assert_allclose(unmet(p, "ndpr"), [88, 88, 68, 68, 0, 0], atol=1e-6)


def test_bundled_capacity_lets_ndpr_oxide_meet_the_magnet_shortfall_after_the_lead_time(
    bundled: SupplyChain,
) -> None:
    """With the bundled plants, an NdPr oxide stock covers the NdPr magnet need once the
    bundled lead time has passed (whole quarters, rounded up), up to the route's capacity;
    Dy stays short without Dy."""
    table = bundled.dataset["reserve_conversions"]
    route = table[(table["from_stage"] == "refining") & (table["to_stage"] == "magnets")]
    lag = math.ceil(float(route["lead_time_months"].iloc[0]) / 3 - 1e-9)
    assert 1 <= lag < 5
    ens = ensemble(periods=5)
    lot = lots(ens, [("ndpr_oxide", "ndpr")])
    conv = Conversion.of(bundled, lot.frame, ["rare_earths"], 3)
    cap = conv.capacity_by_period(3, ens.shortfall.period.to_index())
    per_quarter = float(cap.sel(route="rare_earths:ndpr:refining->magnets").isel(period=0))
    assert per_quarter > 0
    need = 100.0 * float(conv.needs.set_index("element").loc["ndpr", "share"])
    p = ReserveProblem(ens, lot, Agreements(NO_AGREEMENTS), budget=1e12, conversion=conv)
    p.build()
    p.solve()
    short = unmet(p, "ndpr")
    np.testing.assert_allclose(short[:lag], need, atol=1e-6)  # nothing before the lead time
    np.testing.assert_allclose(short[lag:], max(0.0, need - per_quarter), atol=1e-6)
    dy = 100.0 * float(conv.needs.set_index("element").loc["dysprosium", "share"])
    np.testing.assert_allclose(unmet(p, "dysprosium"), dy, atol=1e-6)
