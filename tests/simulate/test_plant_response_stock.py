"""A responding plant's input stock is released by the pooled policy alone (engine steps 1, 3).

Under the pooled release (critmin.economics.storage) one competitive-storage policy over the
region's pool (its consumers' stock and the plants' input stock that feeds it) sets the share
of its first-pass gap each holder covers. A plant that answers the price (step 3, rerouting)
makes its extra output from input: since 2026-12-03 only from the flow and the released stock
its own production left, never from the rest of its stock. Before, its response drew any of
its stock, outside the policy: once the suppliers answered every month, that draw filled the
gap the policy held back, and the price fell back to P0 for months in the middle of a cut
(the DRC 2025 cobalt path: 1.86, 1.00, 1.00, 1.00, 1.20, 1.72, ...).

Definitions used below, on a constant cut from month CUT_FROM on (the end hazard the holders
read is the open regime's, so the policy row is set in every month of the cut):

- a month is *scarce* when the region's price ratio exceeds 1 + TOL, *at P0* otherwise;
- the *pool* at the start of a month is the consumers' stock plus every plant's input stock
  at the end of the month before (one region: all of every plant's output reaches it);
- a path *returns to P0* when a month of the cut is at P0 while the pool at its start is
  above POOL_MIN of a month's demand, and an earlier month of the same cut was scarce.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.storage import OPEN_REGIME_END_HAZARD
from critmin.simulate.backtest import episode_inputs
from critmin.simulate.engine import check_balance, run

from .reference import run_one
from .synthetic import CUT_FROM, DEMAND, answering_routes, checked_run, cut

#: the price ratio above which a month is scarce
TOL = 0.01
#: a pool below this share of a month's demand counts as empty
POOL_MIN = 0.01
#: rounding allowed on a stock draw, t
EPS = 1e-9

CASES = [
    (stages, plant_days, kept)
    for stages in (2, 3)
    for plant_days in (30.0, 90.0)
    for kept in (0.2, 0.5)
]


def _returns_to_p0(prices: np.ndarray, pool: np.ndarray) -> list[int]:
    """The months of the cut at P0 after a scarce month, while the pool is not empty."""
    months = []
    scarce_before = False
    for t in range(CUT_FROM, prices.shape[0]):
        if prices[t] > 1.0 + TOL:
            scarce_before = True
        elif scarce_before and pool[t] > POOL_MIN * DEMAND:
            months.append(t)
    return months


@pytest.mark.parametrize(("stages", "plant_days", "kept"), CASES)
def test_a_constant_cut_does_not_return_to_p0_while_stock_remains(
    stages: int, plant_days: float, kept: float
) -> None:
    """Two routes, one cut to ``kept`` of its mine output for good, input stock at the plants
    and 30 days at the consumers, the suppliers answering the price: once the price has risen,
    it stays above P0 as long as the pool holds stock (the policy holds stock back against an
    open-ended cut the 10% spare cannot make up); before, it fell to P0 for months."""
    model = answering_routes(stages, plant_days)
    shocks = cut(model, kept, OPEN_REGIME_END_HAZARD)
    trace = checked_run(model, shocks)
    ref = run_one(model, shocks, 0)
    # the pool at the start of each month (the end of the month before)
    pool = np.empty(shocks.demand.shape[1])
    pool[0] = np.inf
    pool[1:] = ref["region_stock"][:-1, 0] + ref["stock"][:-1].sum(axis=(1, 2))
    prices = trace.price_ratio[0, :, 0]
    assert prices[CUT_FROM] > 1.0 + TOL, "the cut's first month is scarce"
    assert _returns_to_p0(prices, pool) == [], np.round(prices, 3)
    # the plants' stock is drawn, and the suppliers answer (BBB's mine above its capacity)
    assert ref["stock"][-1, 1:].sum() < ref["stock"][CUT_FROM - 1, 1:].sum()
    assert trace.output[0, CUT_FROM + 1, 0, 1] > model.capacity[0, 1] * 1.01


@pytest.mark.parametrize(("stages", "plant_days", "kept"), CASES)
def test_a_plant_draws_no_more_stock_than_the_pool_releases_it(
    stages: int, plant_days: float, kept: float
) -> None:
    """Every month, each plant's input stock falls by no more than the pooled policy's release
    to it (its share of its first-pass gap, what its production drew, plus, for a plant
    without a gap, the uncovered release offered to its response): its response takes
    nothing more from its stock. Before, the plant that lost its feed answered its own lost
    output from its stock, on top of the release."""
    model = answering_routes(stages, plant_days)
    shocks = cut(model, kept, OPEN_REGIME_END_HAZARD)
    checked_run(model, shocks)
    ref = run_one(model, shocks, 0)
    fall = ref["stock"][:-1] - ref["stock"][1:]  # months 1.. M-1
    excess = fall - ref["released"][1:]
    worst = float(excess[:, 1:].max())
    assert worst <= EPS, f"a plant drew {worst:.3g} t beyond its release"
    # and the release is used: some plant draws its stock in the cut
    assert ref["released"][CUT_FROM:, 1:].sum() > 0.0


def test_without_a_policy_row_the_response_still_draws_the_plants_stock() -> None:
    """At an end hazard of 1 (nothing expected, no policy row) every holder draws its gap at
    P0 (the myopic rule), and a responding plant may draw any of its stock, as before: the
    plant's stock falls by more than its production's draw in some month of the cut."""
    model = answering_routes(3, 90.0)
    shocks = cut(model, 0.2, 1.0)
    checked_run(model, shocks)
    ref = run_one(model, shocks, 0)
    fall = ref["stock"][:-1] - ref["stock"][1:]
    excess = fall - ref["released"][1:]
    assert float(excess[:, 1:].max()) > 1.0


def test_the_drc_2025_suspension_stays_scarce_every_month(bundled: SupplyChain) -> None:
    """The 2025 DRC cobalt episode on its 2024 chain (the refiners' feed cut by about 78% for
    the ban's 8 months, 90 days of input stock at the plants): the rest of the world's price is
    above P0 in every month of the ban; before, the refiners' response drawn from their own
    stock held it at P0 in months 2-4 (1.86, 1.00, 1.00, 1.00, 1.20, ...)."""
    ep = episode_inputs(bundled, "cobalt-2025-drc")
    model = ep.model
    trace = run(model, ep.shocks)
    check_balance(model, trace)
    prices = trace.price_ratio[0, : ep.span, model.regions.index("ROW")]  # the ban's months
    assert (prices > 1.0 + TOL).all(), np.round(prices, 3)


@pytest.mark.parametrize("kept", [0.2, 0.5])
def test_with_the_suppliers_answering_the_path_does_not_depend_on_where_the_stock_sits(
    kept: float,
) -> None:
    """Three stages, the suppliers answering the price, 60 days of stock in all: at the
    consumers, or split between the plants (each holds its input's days, node_stock_days) and
    the consumers. The policy prices one pool, so the price path is the same to 1e-9 in every
    month in which no holder that started with stock has run out (after that, an undisrupted
    plant's stock, counted in the pool, is drawn only through its response, at most its spare
    capacity a month: a stated simplification). Before, the answering plants drew their stock
    outside the pool, and the layouts with plant stock fell to P0 where the consumers' layout
    did not."""
    layouts = [(0.0, 60.0), (10.0, 40.0), (15.0, 30.0), (20.0, 20.0), (30.0, 0.0)]
    paths = []
    for plant_days, region_days in layouts:
        model = dataclasses.replace(answering_routes(3, plant_days), region_stock_days=region_days)
        shocks = cut(model, kept, OPEN_REGIME_END_HAZARD)
        trace = checked_run(model, shocks)
        ref = run_one(model, shocks, 0)
        # the stock that can be drawn, at the end of each month: the consumers' and the cut
        # route's plants' (AAA, node 0)
        held = ref["stock"][:, 1:, 0].sum(axis=1) + ref["region_stock"][:, 0]
        empty = np.flatnonzero(held <= POOL_MIN * DEMAND)
        months = int(empty[0]) if empty.size else held.shape[0]
        paths.append((trace.price_ratio[0, :, 0], months))
    first, _ = paths[0]
    assert (first[CUT_FROM:] > 1.0 + TOL).all()
    for (plant_days, _), (prices, months) in zip(layouts[1:], paths[1:], strict=True):
        assert months > CUT_FROM + 6, "the holders last beyond the response's first months"
        np.testing.assert_allclose(
            prices[:months], first[:months], rtol=1e-9, err_msg=f"plants {plant_days} d"
        )


#: cases in which the consumers' 10 days run out within the horizon
SHORT_CASES = [(2, 30.0, 0.2), (2, 90.0, 0.2), (3, 30.0, 0.2), (3, 30.0, 0.5)]


@pytest.mark.parametrize(("stages", "plant_days", "kept"), SHORT_CASES)
def test_an_undisrupted_plants_stock_is_released_once_the_consumers_run_out(
    stages: int, plant_days: float, kept: float
) -> None:
    """10 days of stock at the consumers (so that they run out within the 24 months): once
    their stock is gone, the part of the pooled release the holders with a gap cannot cover is
    offered to the response of the plants without a gap of their own (route BBB), so their
    stock, counted in the pool, is drawn while it lasts. Before, it stayed intact for the whole
    cut (no rule released it). And every month the stock drawn in all (the consumers' and every
    plant's, net) stays within the policy's release to the region."""
    model = dataclasses.replace(answering_routes(stages, plant_days), region_stock_days=10.0)
    shocks = cut(model, kept, OPEN_REGIME_END_HAZARD)
    checked_run(model, shocks)
    ref = run_one(model, shocks, 0)
    consumers = ref["region_stock"][:, 0]
    undisrupted = ref["stock"][:, 1:, 1].sum(axis=1)  # BBB's plants, end of each month
    # the months that start with the consumers' stock gone and BBB's plants holding stock
    after = [
        t
        for t in range(CUT_FROM + 1, consumers.shape[0])
        if consumers[t - 1] <= POOL_MIN * DEMAND and undisrupted[t - 1] > POOL_MIN * DEMAND
    ]
    assert after, "the consumers run out while BBB's plants still hold stock"
    drawn = undisrupted[after[0] - 1] - undisrupted[after[-1]]
    assert drawn > POOL_MIN * DEMAND, f"BBB's plants drew {drawn:.3g} t"
    # the stock drawn in a month, all holders together, is at most the pooled release
    held = consumers + ref["stock"][:, 1:].sum(axis=(1, 2))
    excess = (held[:-1] - held[1:]) - ref["pool_release"][1:, 0]
    assert float(excess.max()) <= EPS, f"{float(excess.max()):.3g} t drawn beyond the release"
