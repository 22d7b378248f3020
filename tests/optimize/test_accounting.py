"""The plan's accounting: market-impact caps and prices, holding and capital cost, release
revenue, terminal value, and scenario weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from critmin.optimize.ensemble import Ensemble
from critmin.optimize.problem import (
    TRANCHES,
    Accounting,
    Agreements,
    Lots,
    ReserveProblem,
    Risk,
)

from .fixtures import NO_AGREEMENTS


def ensemble(short: np.ndarray, price: np.ndarray, loss: float, months: int = 12) -> Ensemble:
    """One mineral 'cobalt'; ``short`` and ``price`` (scenario, period)."""
    s, p = short.shape
    coords = {"scenario": np.arange(s), "period": np.arange(1, p + 1), "mineral": ["cobalt"]}
    one = {"mineral": ["cobalt"]}
    dims = ("scenario", "period", "mineral")
    return Ensemble(
        shortfall=xr.DataArray(short[:, :, None], coords=coords, dims=dims),
        price=xr.DataArray(price[:, :, None], coords=coords, dims=dims),
        base_price=xr.DataArray([float(price[:, 0].mean())], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([loss], coords=one, dims="mineral"),
        consumption=xr.DataArray([1000.0], coords=one, dims="mineral"),
        months_per_period=months,
    )


def lots(
    ens: Ensemble, *, storage: float = 0.0, cap: float | None = None, slope: float = 0.0
) -> Lots:
    forms = pd.DataFrame(
        [
            {
                "mineral": "cobalt",
                "form": "metal",
                "stage": "refining",
                "price_multiplier": 1.0,
                "storage_per_year": storage,
                "insurance_per_year": 0.0,
                "degradation_per_year": 0.0,
                "drawdown_per_month": 1.0,
            }
        ]
    )
    market = None
    if cap is not None:
        market = pd.DataFrame(
            {"cap_t_per_period": [cap], "cap_share": [0.05], "impact_slope": [slope]},
            index=pd.Index(["cobalt:metal"], name="lot"),
        )
    return Lots.from_table(forms, ens, market)


def test_stock_never_released_costs_holding_capital_and_price_change() -> None:
    """No shortfall; price 100 now and 110 or 130 at the horizon (two years): a tonne bought now
    and never released costs 2 x (1.5% + 4%) x 100 of carrying less the expected rise, 20."""
    short = np.zeros((2, 2))
    price = np.array([[100.0, 110.0], [100.0, 130.0]])
    ens = ensemble(short, price, loss=1000.0)
    acc = Accounting.full(capital_per_year=0.04)
    stock = xr.DataArray([10.0], coords={"lot": ["cobalt:metal"]}, dims="lot")
    p = ReserveProblem(
        ens,
        lots(ens, storage=0.015),
        Agreements(NO_AGREEMENTS),
        budget=1e9,
        fixed_stock=stock,
        accounting=acc,
    )
    p.build()
    sol = p.solve()
    holding, capital, change = 2 * 0.015 * 100, 2 * 0.04 * 100, 100 - 120  # per t, bought now
    assert sol.objective == pytest.approx(10 * (holding + capital + change), rel=1e-9)
    assert sol.holding_usd == pytest.approx(10 * holding)
    assert sol.capital_usd == pytest.approx(10 * capital)
    assert sol.spent_usd - sol.terminal_value_usd == pytest.approx(10 * change)
    assert sol.release_revenue_usd == 0.0
    assert sol.expected_loss_usd == 0.0
    assert sol.total_cost_usd == pytest.approx(sol.objective, rel=1e-9)


def test_quarterly_purchases_never_exceed_the_cap_and_pay_the_impact() -> None:
    rng = np.random.default_rng(4)
    short = np.zeros((30, 8))
    short[:, 4:] = rng.uniform(50, 150, (30, 4))  # a shortage from the fifth quarter
    ens = ensemble(short, np.full((30, 8), 10.0), loss=100.0, months=3)
    cap, slope = 40.0, 2.0
    p = ReserveProblem(ens, lots(ens, cap=cap, slope=slope), Agreements(NO_AGREEMENTS), budget=1e9)
    p.build()
    sol = p.solve()
    assert sol.purchases is not None
    assert float(sol.purchases.max()) <= cap * (1 + 1e-9)
    assert float(sol.purchases.max()) == pytest.approx(cap, rel=1e-6)  # the cap binds
    assert sol.limits["cobalt:metal"]  # and the plan says so
    # the price rises with the share bought: the last tranche costs 1 + 2 x slope x 0.05 x 7/8
    top = 1 + 2 * slope * 0.05 * (TRANCHES - 0.5) / TRANCHES
    assert sol.spent_usd <= float(sol.stock.sum()) * 10.0 * top + 1e-6
    assert sol.impact_usd > 0
    # without a cap the same need is bought at once, before the shortage
    free = ReserveProblem(ens, lots(ens), Agreements(NO_AGREEMENTS), budget=1e9)
    free.build()
    assert float(free.solve().purchases.max()) > cap


def test_releases_earn_revenue_at_the_disrupted_price() -> None:
    short = np.array([[0.0, 20.0, 0.0]])
    price = np.array([[10.0, 50.0, 10.0]])  # the shortage doubles as a price spike
    ens = ensemble(short, price, loss=100.0)
    p = ReserveProblem(
        ens, lots(ens), Agreements(NO_AGREEMENTS), budget=1e9, accounting=Accounting.full(0.04)
    )
    p.build()
    sol = p.solve()
    assert float(sol.releases.sum()) == pytest.approx(20.0)
    assert sol.release_revenue_usd == pytest.approx(20.0 * 50.0)
    assert sol.terminal_value_usd == pytest.approx(0.0, abs=1e-6)  # nothing left to value


def test_scenario_weights_enter_every_expectation_and_the_cvar() -> None:
    short = np.array([[0.0], [100.0]])
    ens = ensemble(short, np.full((2, 1), 10.0), loss=100.0)
    sols = []
    for w in ([0.5, 0.5], [0.95, 0.05]):
        weighted = dataclasses.replace(
            ens, weight=xr.DataArray(w, coords={"scenario": [0, 1]}, dims="scenario")
        )
        p = ReserveProblem(
            weighted,
            lots(weighted),
            Agreements(NO_AGREEMENTS),
            budget=1e9,
            risk=Risk(alpha=0.9, weight=0.0),
        )
        p.build()
        sols.append(p.solve())
    # with the shortage at 50% a tonne is worth stocking (0.5 x 100 > 10); at 5% it is not
    assert float(sols[0].stock.sum()) == pytest.approx(100.0)
    assert float(sols[1].stock.sum()) == pytest.approx(0.0, abs=1e-6)
    assert sols[1].expected_loss_usd == pytest.approx(0.05 * 100 * 100.0)
    # CVaR 90% of the weighted loss: the worst 10% of probability is the 5% scenario (loss
    # 10,000) and 5% of the quiet one (0): 5,000; unweighted it would be 10,000
    assert sols[1].cvar_loss_usd == pytest.approx(0.5 * 100 * 100.0)
    assert sols[0].cvar_loss_usd == pytest.approx(0.0, abs=1e-6)  # fully stocked
