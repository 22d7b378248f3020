"""The review's disruption section: library scenarios as ensembles, and the ranking in dollars."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import build_ensemble
from critmin.optimize.plan import optimise
from critmin.optimize.problem import DEFAULT_BUDGET, Risk
from critmin.optimize.sensitivity import parameter_sensitivity
from critmin.report.charts import fan_svg
from critmin.report.numbers import month_labels
from critmin.scenarios.load import Labels, load_scenario
from critmin.scenarios.spec import Period
from critmin.simulate.rank import rank, rank_records
from critmin.simulate.runner import RunConfig, simulate

SCENARIOS = ("china-2025-04", "china-2025-10")


@dataclass(frozen=True)
class ScenarioView:
    name: str
    description: str
    runs: int
    seed: int
    charts: list[str]
    table: list[dict[str, Any]]
    assumptions: dict[str, list[str]]


def _bands(arr: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = arr.quantile([0.05, 0.5, 0.95], dim="scenario", skipna=False).values
    return q[0], q[1], q[2]


def scenario_views(
    chain: SupplyChain, *, runs: int, seed: int, horizon: int = 12
) -> list[ScenarioView]:
    views = []
    labels = Labels.of(chain.dataset)
    for name in SCENARIOS:
        spec = load_scenario(name, labels)
        config = RunConfig(
            runs=runs, seed=seed, period=Period.MONTH, horizon=horizon, keep_paths=True
        )
        result = simulate(chain, spec, config)
        charts, table, notes = [], [], {}
        for mineral, mr in result.minerals.items():
            res, base = mr.results, mr.baseline
            b = base["receipts"].isel(scenario=0, drop=True)
            supply = res["receipts"] / b.where(b > 0)
            periods = res.period.values
            months = month_labels(spec.start, len(periods), config.months_per_period)
            charts.append(
                fan_svg(
                    {str(r): _bands(supply.sel(region=r)) for r in res.region.values},
                    periods,
                    f"{mineral}: supply to each region (÷ baseline)",
                    "ratio",
                    labels=months,
                )
            )
            charts.append(
                fan_svg(
                    {str(r): _bands(res["price_ratio"].sel(region=r)) for r in res.region.values},
                    periods,
                    f"{mineral}: price (÷ baseline)",
                    "ratio",
                    labels=months,
                    cap=float(mr.model.price_cap),
                )
            )
            short = res["shortfall"].sum("period")
            loss = res["loss_usd"].sum("period")
            for r in res.region.values:
                table.append(
                    {
                        "mineral": mineral,
                        "region": str(r),
                        "unit": mr.model.unit,
                        "short_mean": float(short.sel(region=r).mean()),
                        "short_p50": float(short.sel(region=r).median()),
                        "short_p95": float(short.sel(region=r).quantile(0.95)),
                        "loss_mean": float(loss.sel(region=r).mean()),
                        "loss_se": float(
                            loss.sel(region=r).std() / np.sqrt(loss.sizes["scenario"])
                        ),
                        "loss_p50": float(loss.sel(region=r).median()),
                        "loss_p95": float(loss.sel(region=r).quantile(0.95)),
                    }
                )
            notes[mineral] = list(mr.model.assumptions)
        views.append(ScenarioView(name, spec.description, runs, seed, charts, table, notes))
    return views


def reserve_plan(
    chain: SupplyChain, *, runs: int, seed: int, sensitivity: bool = True, workers: int = 1
) -> dict[str, Any]:
    """The optimised reserve (default budget, planning ensemble), the policy comparison and,
    with ``sensitivity``, the share of the budget each assumed parameter moves at +/-50%
    (every case re-solved on ``workers`` local processes: no time limit, so the page does not
    depend on the machine)."""
    ens = build_ensemble(chain, runs=runs, seed=seed)
    plan = optimise(chain, ens, budget=DEFAULT_BUDGET, risk=Risk()).as_json()
    plan["sensitivity"] = (
        parameter_sensitivity(
            chain,
            ens,
            plan,
            budget=DEFAULT_BUDGET,
            seed=seed,
            time_limit=float("inf"),
            workers=workers,
        )
        if sensitivity
        else []
    )
    return plan


def ranking(chain: SupplyChain, *, runs: int, seed: int) -> list[dict[str, Any]]:
    return rank_records(rank(chain, runs=runs, seed=seed))
