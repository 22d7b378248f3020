"""The reserve programme on problems whose answers are known, and its contracts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from critmin import cli
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.floors import value_floor
from critmin.optimize.plan import Plan
from critmin.optimize.problem import Agreements, Infeasible, Lots, ReserveProblem, Risk

from .fixtures import NO_AGREEMENTS

LB = 0.45359237  # kg per lb


def ensemble(short: np.ndarray, price: float, loss: float, months: int = 12) -> Ensemble:
    """One mineral 'cobalt'; ``short`` (scenario, period) in t."""
    s, p = short.shape
    coords = {"scenario": np.arange(s), "period": np.arange(1, p + 1), "mineral": ["cobalt"]}
    one = {"mineral": ["cobalt"]}
    return Ensemble(
        shortfall=xr.DataArray(
            short[:, :, None], coords=coords, dims=("scenario", "period", "mineral")
        ),
        price=xr.DataArray(
            np.full((s, p, 1), price), coords=coords, dims=("scenario", "period", "mineral")
        ),
        base_price=xr.DataArray([price], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([loss], coords=one, dims="mineral"),
        consumption=xr.DataArray([1000.0], coords=one, dims="mineral"),
        months_per_period=months,
    )


def lots(ens: Ensemble, drawdown_per_month: float = 1.0, holding: float = 0.0) -> Lots:
    forms = pd.DataFrame(
        [
            {
                "mineral": "cobalt",
                "form": "metal",
                "stage": "refining",
                "price_multiplier": 1.0,
                "holding_cost_per_year": holding,
                "drawdown_per_month": drawdown_per_month,
            }
        ]
    )
    return Lots.from_table(forms, ens)


def test_newsvendor_matches_the_critical_fractile() -> None:
    rng = np.random.default_rng(3)
    demand = rng.uniform(0, 1000, 201)  # 201 x 0.7 is not whole: the optimum is unique
    cost, loss = 30.0, 100.0  # stocking a tonne costs 30, a tonne short costs 100
    ens = ensemble(demand[:, None], cost, loss)
    problem = ReserveProblem(ens, lots(ens), Agreements(NO_AGREEMENTS), budget=1e12)
    problem.build()
    sol = problem.solve()
    # SAA newsvendor: order the ceil(S * (p - c) / p)-th smallest demand
    k = int(np.ceil(len(demand) * (loss - cost) / loss))
    assert float(sol.stock.sum()) == pytest.approx(np.sort(demand)[k - 1], rel=1e-6)


def test_1985_cobalt_stockpile() -> None:
    """MCM 1985 A: a 3-year war needs 85.4 Mlb; 7% is recycled; the domestic deposit (6 Mlb/yr,
    $22/lb) comes 4 years after signing, too late for a war that starts now. The reserve should
    hold the war requirement net of recycling, and the domestic offtake cannot replace it."""
    war = 85.4e6 * LB / 1000  # t over three years
    recycled = 0.07 * war
    years = 5
    short = np.zeros((2, years))
    short[1, :3] = (war - recycled) / 3  # scenario 1: war in years 1-3; scenario 0: peace
    price = 22 / LB * 1000  # $/t
    ens = ensemble(short, price, loss=10 * price)
    deposit = pd.DataFrame(
        [
            {
                "id": "domestic",
                "kind": "offtake",
                "mineral": "cobalt",
                "counterparty": "USA",
                "max_volume_t_per_year": 6e6 * LB / 1000,
                "contract_price_usd_per_t": price,
                "floor_usd_per_t": None,
                "tenor_years": 10,
                "lead_time_years": 4,
            }
        ]
    )
    problem = ReserveProblem(ens, lots(ens), Agreements(deposit), budget=1e12)
    problem.build()
    sol = problem.solve()
    assert float(sol.stock.sum()) == pytest.approx(war - recycled, rel=1e-6)
    assert sol.expected_loss_usd == pytest.approx(0.0, abs=1e-3)
    # with the war unlikely enough the stockpile does not pay: 50% war chance is 1 in 2;
    # at 1 in 20 the expected avoided loss (0.05 x 10 x price) is below the price
    rare = ensemble(np.concatenate([np.zeros((19, years)), short[1:]]), price, loss=10 * price)
    p2 = ReserveProblem(rare, lots(rare), Agreements(deposit), budget=1e12)
    p2.build()
    assert float(p2.solve().stock.sum()) == pytest.approx(0.0, abs=1e-6)


def test_budget_binds_and_its_dual_prices_the_next_dollar() -> None:
    rng = np.random.default_rng(5)
    ens = ensemble(rng.uniform(0, 100, (50, 4)), price=10.0, loss=100.0, months=3)
    results = []
    for budget in (500.0, 1000.0, 1001.0):
        p = ReserveProblem(
            ens, lots(ens, drawdown_per_month=0.2), Agreements(NO_AGREEMENTS), budget=budget
        )
        p.build()
        sol = p.solve()
        assert sol.spent_usd <= budget + 1e-6
        results.append(sol)
    assert results[1].objective <= results[0].objective + 1e-9  # more budget never hurts
    slope = results[2].objective - results[1].objective
    assert slope == pytest.approx(results[1].budget_dual, rel=1e-3, abs=1e-6)
    assert results[1].budget_dual < 0


def test_marginal_value_of_budget_is_zero_when_the_budget_does_not_bind() -> None:
    """An extra dollar of a budget that does not bind is not spent: it avoids nothing (the old
    plan reported 1 - dual = 1.00 for it). Of one that binds it avoids 1 - dual USD of loss,
    net of its own cost -dual, as re-solving with the extra dollar shows."""
    rng = np.random.default_rng(5)
    ens = ensemble(rng.uniform(0, 100, (50, 4)), price=10.0, loss=100.0, months=3)
    solved = {}
    for budget in (1000.0, 1001.0, 1e12):
        p = ReserveProblem(
            ens, lots(ens, drawdown_per_month=0.2), Agreements(NO_AGREEMENTS), budget=budget
        )
        p.build()
        solved[budget] = p.solve()

    def plan(budget: float) -> Plan:
        empty = pd.DataFrame()
        return Plan(budget, solved[budget], empty, empty, empty, empty, ens, Risk())

    slack = plan(1e12)
    assert slack.solution.spent_usd < 1e12 / 2
    assert not slack.solution.budget_binds
    assert slack.marginal_value_of_budget == 0.0
    tight = plan(1000.0)
    assert tight.solution.budget_binds
    # the extra dollar's avoided loss (net of holding cost), per dollar, from the two solves
    a, b = solved[1000.0], solved[1001.0]
    avoided = (a.objective - b.objective) + (b.spent_usd - a.spent_usd)
    assert tight.marginal_value_of_budget == pytest.approx(avoided, rel=1e-3)
    assert tight.marginal_value_of_budget > 1.0
    # the CLI's sentence: 0 and "does not bind", or the value and "binds"
    line = cli.budget_sentence(
        {
            "spent_usd": slack.solution.spent_usd,
            "budget_usd": 1e12,
            "budget_binds": slack.solution.budget_binds,
            "marginal_value_of_budget": slack.marginal_value_of_budget,
        }
    )
    assert "0 USD per extra USD" in line
    assert "does not bind" in line
    assert "1.00" not in line
    line = cli.budget_sentence(
        {
            "spent_usd": tight.solution.spent_usd,
            "budget_usd": 1000.0,
            "budget_binds": True,
            "marginal_value_of_budget": tight.marginal_value_of_budget,
        }
    )
    assert f"{tight.marginal_value_of_budget:,.2f} USD of expected loss" in line
    assert "the budget binds" in line


def test_cvar_term_lowers_the_tail() -> None:
    rng = np.random.default_rng(8)
    short = np.where(rng.random((100, 4)) < 0.1, rng.uniform(50, 100, (100, 4)), 0.0)
    ens = ensemble(short, price=40.0, loss=100.0, months=3)
    tails = []
    for risk in (Risk(), Risk(alpha=0.9, weight=5.0)):
        p = ReserveProblem(
            ens, lots(ens, drawdown_per_month=0.3), Agreements(NO_AGREEMENTS), budget=1e9, risk=risk
        )
        p.build()
        tails.append(p.solve().cvar_loss_usd)
    assert tails[1] <= tails[0] + 1e-6


def test_infeasible_model_names_the_conflict() -> None:
    ens = ensemble(np.ones((3, 2)), price=10.0, loss=100.0)
    p = ReserveProblem(ens, lots(ens), Agreements(NO_AGREEMENTS), budget=100.0)
    model = p.build()
    model.add_constraints(model.variables["stock"] >= 50.0, name="board_minimum")
    with pytest.raises(Infeasible, match=r"budget.*board_minimum|board_minimum.*budget"):
        p.solve()


def test_price_floor_value() -> None:
    price = xr.DataArray(np.array([[80.0, 120.0], [100.0, 100.0]]), dims=("scenario", "period"))
    fv = value_floor(price, floor_usd_per_t=110.0, volume_t_per_year=4.0, periods_per_year=2)
    # scenario 0: (110-80) * 2 t ; scenario 1: (10 + 10) * 2 t
    np.testing.assert_allclose(fv.per_scenario.values, [60.0, 40.0])
    assert fv.expected_usd == pytest.approx(50.0)
    assert fv.probability_paid == 1.0
