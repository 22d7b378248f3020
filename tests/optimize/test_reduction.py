"""Scenario reduction: weights, the Kantorovich distance, and the error bound on the plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from critmin.cli import main
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.problem import Agreements, Lots, ReserveProblem, Risk, Solution
from critmin.optimize.reduction import loss_vectors, reduce_ensemble
from critmin.optimize.weights import cvar
from critmin.optimize.weights import weights as probability

MINERALS = ["cobalt", "gallium"]


def small_ensemble(scenarios: int = 120, periods: int = 8, seed: int = 5) -> Ensemble:
    """Two minerals; shortfalls arrive as rare shocks of random size and length."""
    rng = np.random.default_rng(seed)
    short = np.zeros((scenarios, periods, 2))
    for j in range(2):
        hit = rng.random(scenarios) < 0.4
        start = rng.integers(0, periods, scenarios)
        length = rng.integers(1, 4, scenarios)
        size = rng.lognormal(np.log(100.0), 0.8, scenarios)
        for i in np.flatnonzero(hit):
            short[i, start[i] : start[i] + length[i], j] = size[i]
    price = 1.0 + short / 200.0 + rng.normal(0, 0.05, short.shape).clip(-0.5)
    coords = {"scenario": np.arange(scenarios), "period": np.arange(1, periods + 1)}
    one = {"mineral": MINERALS}
    base = xr.DataArray([30_000.0, 400_000.0], coords=one, dims="mineral")
    return Ensemble(
        shortfall=xr.DataArray(short, coords=coords | one, dims=("scenario", "period", "mineral")),
        price=xr.DataArray(price, coords=coords | one, dims=("scenario", "period", "mineral"))
        * base,
        base_price=base,
        loss_per_t=xr.DataArray([180_000.0, 3_000_000.0], coords=one, dims="mineral"),
        consumption=xr.DataArray([2000.0, 5.0], coords=one, dims="mineral"),
        months_per_period=3,
    )


def lots(ens: Ensemble) -> Lots:
    forms = pd.DataFrame(
        {
            "mineral": MINERALS,
            "form": ["metal", "metal"],
            "stage": ["refining", "refining"],
            "price_multiplier": [1.0, 1.0],
            "holding_cost_per_year": [0.02, 0.02],
            "drawdown_per_month": [0.1, 0.2],
        }
    )
    return Lots.from_table(forms, ens)


def agreements(ens: Ensemble) -> Agreements:
    frame = pd.DataFrame(
        [
            {
                "id": "cobalt-offtake",
                "kind": "offtake",
                "mineral": "cobalt",
                "counterparty": "AUS",
                "max_volume_t_per_year": 150.0,
                "contract_price_usd_per_t": 32_000.0,
                "floor_usd_per_t": np.nan,
                "tenor_years": 10.0,
                "lead_time_years": 0.5,
            }
        ]
    )
    return Agreements.from_table(frame, ens)


def solve(ens: Ensemble, risk: Risk, **fixed: xr.DataArray) -> Solution:
    problem = ReserveProblem(
        ens,
        lots(ens),
        agreements(ens),
        budget=2e7,
        risk=risk,
        **fixed,  # type: ignore[arg-type]
    )
    problem.build()
    return problem.solve()


def test_weights_are_the_redistributed_probabilities() -> None:
    ens = small_ensemble()
    red = reduce_ensemble(ens, 15)
    w = probability(red.ensemble)
    assert red.ensemble.scenarios == 15
    assert float(w.sum()) == pytest.approx(1.0)
    # each kept scenario holds the probability of the scenarios moved to it
    counts = np.bincount(red.nearest, minlength=15) / ens.scenarios
    assert np.allclose(w.values, counts)
    # the distance is the transport cost of that redistribution, recomputed here
    x = loss_vectors(ens)
    moved = np.abs(x - x[red.kept][red.nearest]).sum(axis=1)
    assert red.distance_usd == pytest.approx(moved.mean())
    assert red.distance_usd > 0


def test_no_reduction_costs_nothing() -> None:
    ens = small_ensemble(scenarios=30)
    red = reduce_ensemble(ens, 30)
    assert red.distance_usd == 0.0
    assert red.error_bound(ens, Risk(), agreements(ens)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("method", ["forward", "medoids"])
def test_more_scenarios_never_raise_the_forward_distance(method: str) -> None:
    ens = small_ensemble()
    d = [reduce_ensemble(ens, n, method=method).distance_usd for n in (5, 20, 60)]
    if method == "forward":  # greedy selection nests: a larger set contains the smaller
        assert d[0] >= d[1] >= d[2]
    assert d[2] < d[0]


@pytest.mark.parametrize("method", ["forward", "medoids"])
@pytest.mark.parametrize("risk", [Risk(), Risk(0.9, 0.5)])
def test_reduced_plan_is_within_the_reported_error(method: str, risk: Risk) -> None:
    ens = small_ensemble()
    full = solve(ens, risk)
    red = reduce_ensemble(ens, 12, method=method, seed=2)
    eps = red.error_bound(ens, risk, agreements(ens))
    reduced = solve(red.ensemble, risk)
    # the optimal objectives differ by at most eps
    assert abs(reduced.objective - full.objective) <= eps + 1e-6 * abs(full.objective)
    # the reduced plan, evaluated on the full scenarios, costs at most 2 eps more
    on_full = solve(ens, risk, fixed_stock=reduced.stock, fixed_volume=reduced.volume)
    regret = on_full.objective - full.objective
    assert -1e-6 * abs(full.objective) <= regret <= 2 * eps + 1e-6 * abs(full.objective)
    assert float(reduced.stock.sum()) > 0  # the case is not trivial


def test_weighted_cvar() -> None:
    values = np.array([1.0, 2.0, 3.0, 10.0])
    # uniform: the worst quarter is the 10
    assert cvar(values, np.full(4, 0.25), 0.75) == pytest.approx(10.0)
    # the worst 40%: all of 10 (0.25) and 0.15 of the 3
    assert cvar(values, np.full(4, 0.25), 0.6) == pytest.approx((10 * 0.25 + 3 * 0.15) / 0.4)
    # weights move the tail: the 10 now has probability 0.05 of the worst 0.1
    w = np.array([0.3, 0.3, 0.35, 0.05])
    assert cvar(values, w, 0.9) == pytest.approx((10 * 0.05 + 3 * 0.05) / 0.1)


def test_bad_reduction_requests_are_refused() -> None:
    ens = small_ensemble(scenarios=10)
    with pytest.raises(ValueError, match="method"):
        reduce_ensemble(ens, 3, method="backward")
    with pytest.raises(ValueError, match="at least 1"):
        reduce_ensemble(ens, 0)


def test_cli_optimize_reduce_to(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    args = ["optimize", "--runs", "40", "--horizon", "8", "--seed", "2", "--reduce-to", "10"]
    result = CliRunner().invoke(main, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    r = data["reduction"]
    assert data["scenarios"] == r["scenarios"] == 10
    assert r["full_scenarios"] == 40
    # the reduced plan's objective on every scenario is within the bound of its reduced value
    gap = abs(r["objective_on_full_usd"] - r["objective_reduced_usd"])
    assert gap <= r["error_bound_usd"] + 1e-6 * abs(r["objective_reduced_usd"])


def test_cli_refuses_a_reduction_that_reduces_nothing() -> None:
    result = CliRunner().invoke(main, ["optimize", "--runs", "40", "--reduce-to", "40"])
    assert result.exit_code == 2
    assert "critmin: --reduce-to 40" in result.stderr
