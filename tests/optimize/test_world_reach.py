"""A tonne the reserve adds to a world-priced market reaches the U.S. only in the U.S. share of
pooled demand (critmin.optimize.ensemble; the engine's world clearing, docs/reserve.md):
the optimiser must credit what the engine gives, and leave a regional market as it was."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import USA, Ensemble, build_ensemble, pooled, us_share
from critmin.optimize.problem import Accounting, Agreements, Lots, ReserveProblem
from critmin.optimize.sensitivity import Resimulator
from critmin.optimize.splice import _same
from critmin.simulate.engine import run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import Shocks

from .fixtures import NO_AGREEMENTS

MONTHS, CUT, RELEASE_MONTH = 24, slice(3, 12), 8


def _us_shortfall(model: ChainModel, release_t: float = 0.0) -> np.ndarray:
    """The engine's U.S. shortfall by month (one draw): every plant at half capacity in
    months 3-11, and ``release_t`` released into the U.S. in month 8."""
    shocks = Shocks.neutral(model, 1, MONTHS)
    shocks.avail[:, CUT] = 0.5
    shocks.release[0, RELEASE_MONTH, USA] = release_t
    return np.asarray(run(model, shocks).shortfall[0, :, USA])


def _one_period(model: ChainModel, us_short_t: float, price: float) -> Ensemble:
    """The engine's month as a one-scenario, one-period ensemble, counted as build_ensemble
    counts it (``pooled``)."""
    m = model.mineral
    short, loss_t, share = pooled(model, np.array([[us_short_t]]))
    coords = {"scenario": [0], "period": [1], "mineral": [m]}
    one = {"mineral": [m]}
    dims = ("scenario", "period", "mineral")
    return Ensemble(
        shortfall=xr.DataArray(short[:, :, None], coords=coords, dims=dims),
        price=xr.DataArray([[[price]]], coords=coords, dims=dims),
        base_price=xr.DataArray([price], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([loss_t], coords=one, dims="mineral"),
        consumption=xr.DataArray([float(model.demand[USA])], coords=one, dims="mineral"),
        months_per_period=1,
        us_share=xr.DataArray([share], coords=one, dims="mineral"),
    )


def _lots(ens: Ensemble) -> Lots:
    m = str(ens.shortfall.mineral.values[0])
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
        ]
    )
    return Lots.from_table(forms, ens)


def _solve(ens: Ensemble, stock_t: float, accounting: Accounting | None = None) -> ReserveProblem:
    lots = _lots(ens)
    fixed = xr.DataArray([stock_t], coords={"lot": lots.index}, dims="lot")
    problem = ReserveProblem(
        ens,
        lots,
        Agreements(NO_AGREEMENTS),
        budget=1e15,
        fixed_stock=fixed,
        accounting=accounting or Accounting(),
    )
    problem.build()
    return problem


@pytest.mark.parametrize("mineral", ["nickel", "cobalt"])
def test_a_world_market_release_covers_what_the_engine_gives_the_us(
    bundled: SupplyChain, mineral: str
) -> None:
    """Half the month's U.S. shortfall released: the engine's U.S. shortfall falls by the U.S.
    share of pooled demand times the release, and the optimiser credits that, in dollars,
    not the whole release (main's code credited every released tonne as a U.S. tonne)."""
    model = build_model(bundled, mineral)
    assert model.world_market
    base = _us_shortfall(model)
    assert base[RELEASE_MONTH] > 0
    release = 0.5 * float(base[RELEASE_MONTH])
    engine_avoided_t = float(base.sum() - _us_shortfall(model, release).sum())
    share = float(model.demand[USA] / model.demand.sum())
    assert us_share(model) == pytest.approx(share, rel=1e-12)
    assert 0 < share < 0.1
    assert engine_avoided_t == pytest.approx(share * release, rel=1e-9)

    ens = _one_period(model, float(base[RELEASE_MONTH]), model.price_usd_t)
    without = _solve(ens, 0.0).solve()
    held = _solve(ens, release).solve()
    assert float(held.releases.sum()) == pytest.approx(release, rel=1e-9)
    credited = without.expected_loss_usd - held.expected_loss_usd
    assert credited == pytest.approx(engine_avoided_t * model.loss_per_t, rel=1e-9)
    # the dollar loss without a reserve is the engine's U.S. shortfall x its loss per t
    assert without.expected_loss_usd == pytest.approx(
        float(base[RELEASE_MONTH]) * model.loss_per_t, rel=1e-12
    )


def test_a_world_market_release_is_sold_only_up_to_the_us_shortfall(
    bundled: SupplyChain,
) -> None:
    """With release revenue at the scenario's price, the programme takes the price as given;
    a release larger than the U.S. shortfall would move the world price it is credited at,
    so it is capped there (three times the U.S. shortfall held, one U.S. shortfall sold)."""
    model = build_model(bundled, "nickel")
    us = float(_us_shortfall(model)[RELEASE_MONTH])
    ens = _one_period(model, us, model.price_usd_t)
    sol = _solve(ens, 3 * us, Accounting.full()).solve()
    assert float(sol.releases.sum()) == pytest.approx(us, rel=1e-9)


def test_a_regional_market_is_credited_one_for_one_and_unchanged(bundled: SupplyChain) -> None:
    """Antimony clears regionally: a released tonne is a U.S. tonne in the engine and in the
    optimiser, its ensemble is the engine's U.S. shortfall bit for bit, and an ensemble that
    states a share of 1 gives the very plan of one that states none (main's)."""
    model = build_model(bundled, "antimony")
    assert not model.world_market
    assert us_share(model) == 1.0
    short = np.arange(6.0).reshape(2, 3) * 17.3
    out, loss_t, share = pooled(model, short)
    assert out is short
    assert loss_t == model.loss_per_t
    assert share == 1.0

    ens = _one_period(model, 500.0, model.price_usd_t)
    stated = dataclasses.replace(ens, us_share=None)
    a = _solve(ens, 200.0, Accounting.full()).solve()
    b = _solve(stated, 200.0, Accounting.full()).solve()
    assert a.objective == b.objective
    assert a.expected_loss_usd == b.expected_loss_usd
    assert a.expected_loss_usd == pytest.approx(300.0 * model.loss_per_t, rel=1e-12)


def test_the_ensemble_counts_world_markets_in_pooled_tonnes(bundled: SupplyChain) -> None:
    """build_ensemble: the dollar loss is the engine's U.S. shortfall x the chain's loss per t;
    a world market's shortfall is in pooled tonnes; the U.S. tonnes come back exactly through
    ``us_shortfall`` (the CLI's ``us_shortfall_t``); the sensitivity's re-simulation of the
    same model counts them the same way; and splice sees a changed share."""
    minerals = ["antimony", "nickel"]
    ens = build_ensemble(bundled, minerals=minerals, runs=40, seed=1, horizon=6)
    assert ens.us_share is not None
    for m in minerals:
        model = build_model(bundled, m)
        share = us_share(model)
        assert float(ens.us_share.sel(mineral=m)) == share
        assert float(ens.loss_per_t.sel(mineral=m)) == pytest.approx(
            model.loss_per_t * share, rel=1e-12
        )
        us = ens.us_shortfall().sel(mineral=m)
        np.testing.assert_allclose(
            ens.shortfall.sel(mineral=m).values * share, us.values, rtol=1e-12
        )
        np.testing.assert_allclose(
            ens.loss().sel(mineral=m).values, us.values * model.loss_per_t, rtol=1e-12
        )
        again = Resimulator(bundled, ens, 1).ensemble(model)
        assert again.shortfall.equals(ens.shortfall)
        assert again.loss_per_t.equals(ens.loss_per_t)
        assert _same(again, ens)
    assert float(ens.us_share.sel(mineral="antimony")) == 1.0
    assert float(ens.us_share.sel(mineral="nickel")) < 0.1
    assert float(ens.us_shortfall().sel(mineral="nickel").sum()) > 0  # the draws reach it
    moved = dataclasses.replace(ens, us_share=ens.us_share * 0.5)
    assert not _same(moved, ens)
