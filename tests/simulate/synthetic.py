"""A synthetic chain of parallel routes for the stock tests: each route a mine (country AAA,
BBB, ...), then a plant per later stage, with no trade between routes, one consuming region,
and a cut of the first route's mine; and a run checked against the per-scenario reference."""

from __future__ import annotations

import dataclasses

import numpy as np

from critmin.simulate.engine import Trace, check_balance, run
from critmin.simulate.model import ChainModel
from critmin.simulate.shocks import Shocks

from .reference import run_one

DEMAND = 100.0  # t per month
#: the months of a run, and the month the cut starts, unless a test names its own
MONTHS = 24
CUT_FROM = 1
STAGES = ("mining", "refining", "cathode")
COUNTRIES = ("AAA", "BBB")


def routes(
    n: int,
    stages: int,
    plant_days: float,
    region_days: float,
    *,
    spare: float = 0.0,
    supply_elasticity: float = 0.0,
) -> ChainModel:
    """``n`` parallel routes of ``stages`` stages (mining, refining, cathode), each carrying
    DEMAND / n t per month at every stage, into one region (ROW) consuming DEMAND; the plants
    hold ``plant_days`` of input, the region ``region_days`` of stock; demand elasticity -0.3,
    price cap x10."""
    K, share = stages, DEMAND / n
    flows = np.zeros((K - 1, n, n))
    flows[:] = np.diag([share] * n)
    return ChainModel(
        mineral="test",
        stages=STAGES[:K],
        countries=COUNTRIES[:n],
        capacity=np.full((K, n), share),
        flows=flows,
        final=np.full((n, 1), share),
        demand=np.array([DEMAND]),
        content=np.ones((K, n, n)),
        node_stock_days=plant_days,
        region_stock_days=region_days,
        elasticity=-0.3,
        spare=spare,
        price_cap=10.0,
        price_usd_t=1.0,
        unit="t",
        world_t_per_year=12 * DEMAND,
        regions=("ROW",),
        sector_share=np.ones((1, 1)),
        region_index=np.zeros(n, dtype=int),
        supply_elasticity=supply_elasticity,
    )


def answering_routes(stages: int, plant_days: float) -> ChainModel:
    """Two parallel routes (AAA, BBB), half the flow each, one consuming region with 30 days
    of stock; the suppliers answer the price (supply elasticity 0.3, 10% spare)."""
    return routes(2, stages, plant_days, 30.0, spare=0.1, supply_elasticity=0.3)


def cut(
    model: ChainModel,
    kept: float,
    hazard: float,
    *,
    months: int = MONTHS,
    cut_from: int = CUT_FROM,
) -> Shocks:
    """The first route's mine (AAA) falls to ``kept`` of its capacity from month ``cut_from``
    on, for good, over ``months``; holders read the end hazard ``hazard`` in those months (1
    before)."""
    shocks = Shocks.neutral(model, 1, months)
    avail = shocks.avail.copy()
    avail[:, cut_from:, 0, 0] = kept
    end = np.ones((1, months))
    end[:, cut_from:] = hazard
    return dataclasses.replace(shocks, avail=avail, end_hazard=end)


def checked_run(model: ChainModel, shocks: Shocks, *, reroute: bool = True) -> Trace:
    """The kernel's trace, balanced and equal to the per-scenario reference."""
    trace = run(model, shocks, reroute=reroute)
    check_balance(model, trace)
    ref = run_one(model, shocks, 0, reroute=reroute)
    for name in ("shortfall", "price_ratio", "receipts", "output", "exports"):
        np.testing.assert_allclose(
            getattr(trace, name)[0], ref[name], rtol=1e-9, atol=1e-9, err_msg=name
        )
    return trace
