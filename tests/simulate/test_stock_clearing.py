"""Commercial stock drawn in a shortage is supply to the market: it lowers the clearing price,
as a reserve release does, through the same clearing (critmin.economics.market.stock_draw)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.market import stock_draw
from critmin.economics.price import parents_of_dataset
from critmin.simulate.engine import Trace, check_balance, run
from critmin.simulate.kernel import drawn
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import Shocks, build_shocks

from .reference import run_one
from .specs import CUT, outage


def _outage(bundled: SupplyChain, model: ChainModel, draws: int) -> Shocks:
    """China's first-stage output cut by a drawn share for four months, from month 3."""
    share = {"dist": "uniform", "low": 0.2, "high": 0.9}
    spec = outage(
        bundled,
        "CHN",
        model.mineral,
        model.stages[0],
        0.5,
        4,
        start="2026-03",
        uncertainties=[{"target": f"{CUT}.share", "distribution": share}],
    )
    return build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), draws, 10, np.random.default_rng(4)
    )


def _stocked(model: ChainModel, factor: float) -> ChainModel:
    return dataclasses.replace(
        model,
        node_stock_days=model.node_stock_days * factor,
        region_stock_days=model.region_stock_days * factor,
    )


def _available(trace: Trace) -> np.ndarray:
    """What each region's market received: shipments + releases + the stock drawn."""
    drawn_t = np.maximum(trace.consumption - trace.receipts, 0.0)
    out: np.ndarray = trace.receipts + drawn_t
    return out


def test_scalar_stock_draw_equals_the_market_module() -> None:
    rng = np.random.default_rng(0)
    received = rng.uniform(0, 3, 400)
    demand = rng.uniform(0, 2, 400)
    stock = np.concatenate([rng.uniform(0, 1, 390), np.zeros(5), -np.ones(5)])
    want = stock_draw(received, demand, stock)
    got = [drawn(a, d, s) for a, d, s in zip(received, demand, stock, strict=True)]
    np.testing.assert_array_equal(got, want)
    assert (want <= np.maximum(stock, 0.0)).all()
    assert (want >= 0.0).all()


# antimony: one stage, no input stocks, so the supply response does not depend on the stock
# days and the price is monotone in them with rerouting on; a chain with input stocks is
# monotone without rerouting (with it, input stocks also move the suppliers' response)
@pytest.mark.parametrize(
    ("mineral", "reroute"),
    [("antimony", True), ("antimony", False), ("rare_earths", False), ("graphite", False)],
)
def test_more_stock_days_lower_the_disrupted_price(
    bundled: SupplyChain, mineral: str, reroute: bool
) -> None:
    model = build_model(bundled, mineral)
    shocks = _outage(bundled, model, 8)
    traces = []
    for factor in (0.5, 1.0, 2.0):
        stocked = _stocked(model, factor)
        trace = run(stocked, shocks, reroute=reroute)
        check_balance(stocked, trace)
        traces.append(trace)
    bit = 0
    for low, high in itertools.pairwise(traces):
        # the same draw, more stock: never a higher price in any scenario, month or region
        assert (high.price_ratio <= low.price_ratio * (1 + 1e-12)).all()
        # where the better-stocked market drew stock and the other was short (below the
        # choke price), its price is strictly lower
        strict = (
            (high.consumption > high.receipts * (1 + 1e-9))
            & (low.shortfall > 1e-9 * model.demand.max())
            & (low.price_ratio < model.price_cap)
        )
        assert (high.price_ratio[strict] < low.price_ratio[strict] * (1 - 1e-9)).all()
        bit += int(strict.sum())
        # and the price is the clearing price on what the market received, stock included
        # (in the regions with a demand: base-year graphite leaves the rest of the world none)
        buys = model.demand > 0
        for t in (low, high):
            dem = model.demand[None, None, buys]
            want = np.clip(
                (_available(t)[..., buys] / dem) ** (1.0 / model.elasticity),
                1.0 / model.price_cap,
                model.price_cap,
            )
            np.testing.assert_allclose(t.price_ratio[..., buys], want, rtol=1e-12)
    assert bit > 0, "no month where stocks were drawn against a short market"


@pytest.mark.parametrize("reroute", [True, False])
def test_a_release_clears_like_the_stock_it_replaces(bundled: SupplyChain, reroute: bool) -> None:
    """One mechanism: a region without commercial stock that is released, each month, the
    tonnes a stocked region drew pays the same price and consumes the same."""
    model = build_model(bundled, "antimony")
    shocks = _outage(bundled, model, 4)
    stocked = run(model, shocks, reroute=reroute)
    draws = np.maximum(stocked.consumption - stocked.receipts, 0.0)
    assert draws.sum() > 0
    bare = dataclasses.replace(model, region_stock_days=0.0)
    released = dataclasses.replace(shocks, release=shocks.release + draws)
    other = run(bare, released, reroute=reroute)
    check_balance(bare, other)
    np.testing.assert_allclose(other.price_ratio, stocked.price_ratio, rtol=1e-12)
    np.testing.assert_allclose(other.consumption, stocked.consumption, rtol=1e-12)
    # the per-scenario reference engine agrees on the released run
    for s in range(4):
        ref = run_one(bare, released, s, reroute=reroute)
        np.testing.assert_allclose(other.price_ratio[s], ref["price_ratio"], rtol=1e-9)


def test_region_and_supplier_stocks_read_their_own_parameters(bundled: SupplyChain) -> None:
    """The consuming regions hold ``commercial_stock_days`` (cobalt: derived from the USGS U.S.
    stocks) and the processing-stage nodes ``supplier_stock_days``: two parameters, no longer
    one value for both."""
    params = bundled.dataset["market_parameters"]

    def value(name: str) -> float:
        row = params[(params["mineral"] == "cobalt") & (params["parameter"] == name)]
        return float(row["value"].iloc[0])

    model = build_model(bundled, "cobalt")
    assert model.region_stock_days == value("commercial_stock_days")
    assert model.node_stock_days == value("supplier_stock_days")
    assert model.region_stock_days != model.node_stock_days
