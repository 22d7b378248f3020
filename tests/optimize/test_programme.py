"""One programme: projects as first-stage choices, and the second stage aggregated per mineral
(exact) against the extensive form on every scenario."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import Ensemble, build_ensemble
from critmin.optimize.plan import reserve_problem
from critmin.optimize.problem import Agreements, Lots, ReserveProblem, Risk
from critmin.optimize.projects import Projects

from .fixtures import NO_AGREEMENTS

LOSS = 1000.0  # USD per t short


def ensemble(short: np.ndarray) -> Ensemble:
    """One mineral 'cobalt', quarterly, price 50 USD/t; ``short`` (scenario, period) in t."""
    s, p = short.shape
    coords = {"scenario": np.arange(s), "period": np.arange(1, p + 1), "mineral": ["cobalt"]}
    one = {"mineral": ["cobalt"]}
    dims = ("scenario", "period", "mineral")
    return Ensemble(
        shortfall=xr.DataArray(short[:, :, None], coords=coords, dims=dims),
        price=xr.DataArray(np.full((s, p, 1), 50.0), coords=coords, dims=dims),
        base_price=xr.DataArray([50.0], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([LOSS], coords=one, dims="mineral"),
        consumption=xr.DataArray([1000.0], coords=one, dims="mineral"),
        months_per_period=3,
    )


def lots(ens: Ensemble, price_multiplier: float = 1.0) -> Lots:
    forms = pd.DataFrame(
        [
            {
                "mineral": "cobalt",
                "form": "metal",
                "stage": "refining",
                "price_multiplier": price_multiplier,
                "holding_cost_per_year": 0.0,
                "drawdown_per_month": 1.0,
            }
        ]
    )
    return Lots.from_table(forms, ens)


def projects(p: float, cost: float = 1e5, lead: float = 0.0) -> Projects:
    frame = pd.DataFrame(
        [
            {
                "id": "mine",
                "instrument": "domestic project support",
                "mineral": "cobalt",
                "capacity_t_per_year": 400.0,
                "lead_time_years": lead,
                "completion_probability": p,
                "cost_usd": cost,
            }
        ]
    )
    return Projects.of(frame, ["cobalt"])


def shocks(seed: int = 2) -> Ensemble:
    rng = np.random.default_rng(seed)
    short = np.where(rng.random((60, 8)) < 0.4, rng.uniform(50, 150, (60, 8)), 0.0)
    return ensemble(short)


def solve(problem: ReserveProblem):  # type: ignore[no-untyped-def]
    problem.build()
    return problem.solve()


def test_a_project_that_never_completes_is_never_bought() -> None:
    ens = shocks()
    # stock made dear, so that a sure project is worth supporting (the test can fail)
    sure = solve(
        ReserveProblem(
            ens, lots(ens, 1e3), Agreements(NO_AGREEMENTS), budget=1e9, projects=projects(1.0)
        )
    )
    assert sure.support is not None
    assert float(sure.support.sum()) > 0.5
    never = solve(
        ReserveProblem(
            ens, lots(ens, 1e3), Agreements(NO_AGREEMENTS), budget=1e9, projects=projects(0.0)
        )
    )
    assert never.support is not None
    assert float(never.support.sum()) == pytest.approx(0.0)
    assert never.project_cost_usd == pytest.approx(0.0)
    # what it avoids scales with its completion probability: half as likely, supported less
    half = solve(
        ReserveProblem(
            ens, lots(ens, 1e3), Agreements(NO_AGREEMENTS), budget=1e9, projects=projects(0.5)
        )
    )
    assert half.expected_loss_usd > sure.expected_loss_usd


def test_project_support_is_paid_from_the_budget() -> None:
    ens = shocks()
    p = ReserveProblem(
        ens, lots(ens, 1e3), Agreements(NO_AGREEMENTS), budget=4e4, projects=projects(1.0)
    )
    sol = solve(p)
    assert sol.spent_usd + sol.project_cost_usd <= 4e4 + 1e-6
    assert sol.support is not None
    assert float(sol.support.sum()) == pytest.approx(0.4, rel=1e-6)


def test_a_project_delivers_only_after_its_lead_time() -> None:
    ens = ensemble(np.full((1, 8), 100.0))
    sol = solve(
        ReserveProblem(
            ens,
            lots(ens, 1e3),
            Agreements(NO_AGREEMENTS),
            budget=1e9,
            projects=projects(1.0, lead=1.0),
        )
    )
    unmet = sol.unmet.sel(mineral="cobalt").isel(scenario=0).values
    np.testing.assert_allclose(unmet[:4], 100.0)  # nothing in the first year
    np.testing.assert_allclose(unmet[4:], 0.0, atol=1e-6)  # 100 t a quarter after it


def test_excluded_instruments_are_held_at_zero() -> None:
    ens = shocks()
    p = ReserveProblem(
        ens, lots(ens), Agreements(NO_AGREEMENTS), budget=1e9, projects=projects(1.0, 10.0)
    )
    both = solve(p)
    assert float(both.stock.sum()) > 0
    sol = solve(replace(p, exclude=frozenset({"cobalt:metal", "mine"})))
    assert float(sol.stock.sum()) == pytest.approx(0.0, abs=1e-9)
    assert sol.support is not None
    assert float(sol.support.sum()) == pytest.approx(0.0)


@pytest.fixture(scope="module")
def bundled_problem(bundled: SupplyChain) -> ReserveProblem:
    """The plan's programme (conversion routes, market impact, agreements, full accounting)
    on a small ensemble whose scenarios repeat, so that cases aggregate."""
    ens = build_ensemble(bundled, runs=60, seed=3, horizon=12)
    twice = xr.concat([ens.shortfall, ens.shortfall.isel(scenario=slice(0, 30))], "scenario")
    price = xr.concat([ens.price, ens.price.isel(scenario=slice(0, 30))], "scenario")
    scen = np.arange(twice.sizes["scenario"])
    ens = replace(
        ens,
        shortfall=twice.assign_coords(scenario=scen),
        price=price.assign_coords(scenario=scen),
    )
    problem, _ = reserve_problem(bundled, ens, budget=2.5e8, risk=Risk())
    return problem


def test_aggregated_second_stage_equals_the_extensive_form(
    bundled_problem: ReserveProblem,
) -> None:
    full = replace(bundled_problem, aggregate=False)
    ext = solve(full)
    agg = solve(bundled_problem)
    cases = sum(int(b.weight.size) for b in bundled_problem.blocks)
    rows = sum(int((b.of >= 0).sum()) for b in bundled_problem.blocks)
    assert cases < rows  # something was aggregated
    assert agg.objective == pytest.approx(ext.objective, rel=1e-9)
    assert agg.expected_loss_usd == pytest.approx(ext.expected_loss_usd, rel=1e-6, abs=1.0)
    assert agg.spent_usd == pytest.approx(ext.spent_usd, rel=1e-6, abs=1.0)
    # the aggregated plan, read back on every scenario, costs what the extensive form says
    fixed = replace(full, fixed_stock=agg.stock, fixed_volume=agg.volume)
    assert solve(fixed).objective == pytest.approx(ext.objective, rel=1e-7)
    # the shortfall duals, shared out by probability, keep their total
    assert float(agg.duals["shortfall"].sum()) == pytest.approx(
        float(ext.duals["shortfall"].sum()), rel=1e-6
    )
