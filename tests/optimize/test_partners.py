"""Partners: earmarks, cost shares and release rights; foreign entities of concern refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.partners import Partner, screen
from critmin.optimize.problem import Agreements, Lots, ReserveProblem

from .fixtures import NO_AGREEMENTS


def setup() -> tuple[Ensemble, Lots]:
    """Cobalt and nickel each short 100 t in the one scenario; a tonne costs 10, loses 100."""
    minerals = ["cobalt", "nickel"]
    coords = {"scenario": [0], "period": [1], "mineral": minerals}
    one = {"mineral": minerals}
    dims = ("scenario", "period", "mineral")
    ens = Ensemble(
        shortfall=xr.DataArray(np.full((1, 1, 2), 100.0), coords=coords, dims=dims),
        price=xr.DataArray(np.full((1, 1, 2), 10.0), coords=coords, dims=dims),
        base_price=xr.DataArray([10.0, 10.0], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([100.0, 100.0], coords=one, dims="mineral"),
        consumption=xr.DataArray([1000.0, 1000.0], coords=one, dims="mineral"),
        months_per_period=12,
    )
    forms = pd.DataFrame(
        [
            {
                "mineral": m,
                "form": "metal",
                "stage": "refining",
                "price_multiplier": 1.0,
                "holding_cost_per_year": 0.0,
                "drawdown_per_month": 1.0,
            }
            for m in minerals
        ]
    )
    return ens, Lots.from_table(forms, ens)


def solve(partners: tuple[Partner, ...], budget: float):  # type: ignore[no-untyped-def]
    ens, lots = setup()
    p = ReserveProblem(ens, lots, Agreements(NO_AGREEMENTS), budget=budget, partners=partners)
    p.build()
    return p.solve()


def test_partner_money_buys_only_its_earmark_within_its_cost_share() -> None:
    # the U.S. has 1,000 (100 t); Japan adds 1,000 for cobalt, paying at most half a lot
    sol = solve((Partner("JPN", 1000.0, ("cobalt",), cost_share=0.5),), budget=1000.0)
    funds = sol.partner_funds.sel(partner="JPN")
    assert float(funds.sel(lot="nickel:metal")) == pytest.approx(0.0, abs=1e-9)
    cobalt = float(sol.spent_by_lot.sel(lot="cobalt:metal"))
    assert float(funds.sel(lot="cobalt:metal")) <= 0.5 * cobalt + 1e-6
    # Japan pays half of 100 t of cobalt (500); the U.S. pays the rest (500) and 50 t of nickel
    assert float(funds.sum()) == pytest.approx(500.0)
    assert float(sol.stock.sum()) == pytest.approx(150.0)
    assert sol.expected_loss_usd == pytest.approx(50.0 * 100.0)


def test_release_rights_hold_tonnes_back_from_the_us() -> None:
    free = solve((Partner("JPN", 1000.0, ("cobalt",)),), budget=1000.0)
    held = solve((Partner("JPN", 1000.0, ("cobalt",), release_right=0.5),), budget=1000.0)
    # Japan may draw half of what its money buys: the U.S. is left short of those tonnes
    assert held.expected_loss_usd > free.expected_loss_usd + 1.0
    jp_t = float(held.partner_funds.sel(partner="JPN").sum()) / 10.0
    released = float(held.releases.sel(lot="cobalt:metal").sum())
    assert released <= float(held.stock.sel(lot="cobalt:metal")) - 0.5 * jp_t + 1e-6


def test_foreign_entities_of_concern_are_refused(bundled: SupplyChain) -> None:
    ok, refused = screen(bundled, [Partner("CHN", 1e9), Partner("JPN", 1e8), Partner("XXX", 1)])
    assert [p.country for p in ok] == ["JPN"]
    assert any(r.startswith("CHN:") and "foreign entity of concern" in r for r in refused)
    assert any(r.startswith("XXX") for r in refused)
    assert Partner.parse("jpn:3e8:gallium+germanium:share=0.5:rights=0.3") == Partner(
        "JPN", 3e8, ("gallium", "germanium"), 0.5, 0.3
    )
    with pytest.raises(ValueError, match="share"):
        Partner.parse("JPN:1e8:share=2")
