"""The pooled release of stock (critmin.economics.storage, engine steps 1 and 4): a first pass
of the month without stock draws gives each holder's gap; one competitive-storage policy covers
the region's whole pool (its consumers' stock and the plants' input stock that feeds it) against
the region's gap; each holder then covers that share of its own gap. So where the stock sits
along a route does not change what is released, and a feed cut upstream is held against by
every holder alike."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.storage import OPEN_REGIME_END_HAZARD
from critmin.simulate.backtest import episode_inputs
from critmin.simulate.engine import check_balance, release_policy, run
from critmin.simulate.model import ChainModel
from critmin.simulate.shocks import Shocks

from .synthetic import DEMAND, checked_run, cut, routes

MONTHS = 12
CUT_FROM = 2


def _route(plant_days: float, region_days: float) -> ChainModel:
    """One route: a mine, a refinery, a cathode plant (one node each), one consuming region;
    every flow at DEMAND t per month; no supply response."""
    return routes(1, 3, plant_days, region_days)


def _cut(model: ChainModel, kept: float, hazard: float) -> Shocks:
    """The mine's output falls to ``kept`` of its capacity from month CUT_FROM on, the end
    hazard holders read ``hazard`` in those months (1 before)."""
    return cut(model, kept, hazard, months=MONTHS, cut_from=CUT_FROM)


@pytest.mark.parametrize("hazard", [OPEN_REGIME_END_HAZARD, 1.0 / 6.0])
def test_the_release_does_not_depend_on_which_holder_holds_the_stock(hazard: float) -> None:
    """One route, 60 days of stock in all: at the refinery (input), the cathode plant, the
    consumers, or split among them. The price path and what is consumed are the same (the
    pool and the gap are the same; each holder covers the same share of the same gap)."""
    # (refinery and cathode plant days: node_stock_days is one figure for all plants)
    layouts = [(30.0, 0.0), (0.0, 60.0), (15.0, 30.0), (10.0, 40.0)]
    traces = [
        checked_run(_route(p, r), _cut(_route(p, r), 0.6, hazard), reroute=False)
        for p, r in layouts
    ]
    first = traces[0]
    assert (first.price_ratio[0, CUT_FROM] > 1.01).all(), "the policy holds some stock back"
    assert first.shortfall[0].sum() > 0
    for other in traces[1:]:
        np.testing.assert_allclose(other.price_ratio, first.price_ratio, rtol=1e-9)
        np.testing.assert_allclose(other.consumption, first.consumption, rtol=1e-9)


def test_a_feed_cut_upstream_is_held_against_downstream_too() -> None:
    """The refinery's feed is cut by 78% for good (an open-ended regime), with ample stock at
    the plants (90 days of input each) and 52 days at the consumers. The pooled release prices
    the whole chain's stock against the whole gap, so the price rises in the cut's first month:
    held-back refinery stock is not made up at P0 by the holders downstream."""
    model = _route(90.0, 52.0)
    trace = checked_run(model, _cut(model, 0.22, OPEN_REGIME_END_HAZARD), reroute=False)
    assert trace.price_ratio[0, CUT_FROM, 0] > 1.3
    # short in every month of the cut, but by less than the cut (stock is released)
    assert trace.shortfall[0, CUT_FROM:, 0].min() > 0
    assert trace.shortfall[0].sum() < (1.0 - 0.22) * DEMAND * (MONTHS - CUT_FROM)


@pytest.mark.parametrize("reroute", [True, False])
def test_at_an_end_hazard_of_one_the_pool_is_the_myopic_draw(reroute: bool) -> None:
    """h = 1 (nothing expected): no policy row, each holder draws its own gap at P0 (the
    myopic rule), stock split along the route."""
    model = _route(15.0, 30.0)
    shocks = _cut(model, 0.6, 1.0)
    _, rows, _ = release_policy(model, shocks)
    assert (rows < 0).all()
    sure = checked_run(model, shocks, reroute=reroute)
    myopic = checked_run(dataclasses.replace(model, stock_rule="myopic"), shocks, reroute=reroute)
    np.testing.assert_array_equal(sure.price_ratio, myopic.price_ratio)
    np.testing.assert_array_equal(sure.output, myopic.output)
    # the myopic draw holds the price at P0 while the 60 days last (just under 5 months at a
    # 40% gap: a month is 30.4 days)
    np.testing.assert_allclose(myopic.price_ratio[0, CUT_FROM : CUT_FROM + 4, 0], 1.0)
    assert myopic.price_ratio[0, CUT_FROM + 4, 0] > 1.01


def test_the_drc_2025_suspension_raises_the_price_from_its_first_month(
    bundled: SupplyChain,
) -> None:
    """The 2025 DRC cobalt episode on its 2024 chain (the refiners' feed cut by about 78%, 90
    days of input stock at the plants, 51.6 days at the consumers): each holder reading its
    own gap left the rest of the world's price at P0 in the first month (the refiners held
    back, the holders downstream filled the smaller gap at P0); pooled, the region's holders
    hold back together, so the price rises from the first month, and by less than the cap."""
    ep = episode_inputs(bundled, "cobalt-2025-drc")
    model = ep.model
    trace = run(model, ep.shocks)
    check_balance(model, trace)
    row = model.regions.index("ROW")
    assert trace.price_ratio[0, 0, row] > 1.3
    assert trace.price_ratio[0, : ep.span, row].max() < 0.5 * model.price_cap
