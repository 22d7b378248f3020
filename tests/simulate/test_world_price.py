"""One world price for an exchange-traded metal (market_parameters ``world_market``): engine
step 4 clears the consuming regions jointly (critmin.simulate.kernel.clear_world), so a
disruption anywhere moves every region's price; every other mineral clears by region. A
region whose own country restricts its exports at the last stage leaves the arbitrage for
those months (critmin.simulate.kernel.world_pool)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.data.build import _check_world_market
from critmin.economics.parameters import market_parameter
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, parse_scenario
from critmin.schema.validate import DataError
from critmin.schema.vocabulary import REGIONS, WORLD_MARKET
from critmin.simulate.engine import Trace, check_balance, run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import Shocks, build_shocks

from .reference import run_one
from .specs import outage

USA = REGIONS.index("USA")
CHN = REGIONS.index("CHN")
ROW = REGIONS.index("ROW")
#: LME contracts (data-src/manual/market_parameters.csv, sources LME_*)
DECLARED = ("nickel", "copper", "cobalt", "aluminum", "zinc", "lead", "tin")


def _china_refining_outage(
    bundled: SupplyChain, model: ChainModel, draws: int, share: float = 0.5
) -> Shocks:
    """China's refining loses ``share`` of its output for six months from month 2."""
    spec = outage(bundled, "CHN", model.mineral, "refining", share, 6, start="2026-02")
    return build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), draws, 12, np.random.default_rng(3)
    )


def test_the_lme_metals_are_declared_world_markets_and_others_are_not(
    bundled: SupplyChain,
) -> None:
    params = bundled.dataset["market_parameters"]
    for mineral in DECLARED:
        p = market_parameter(params, mineral, WORLD_MARKET)
        assert p.value == 1.0, mineral
        assert p.source_id.startswith("LME_"), mineral
        assert build_model(bundled, mineral).world_market
    for mineral in ("manganese", "lithium", "rare_earths", "gallium"):
        assert market_parameter(params, mineral, WORLD_MARKET).value == 0.0
        assert not build_model(bundled, mineral).world_market


def test_a_world_market_flag_is_zero_or_one() -> None:
    rows = pd.DataFrame(
        {
            "mineral": ["nickel", "copper", "zinc"],
            "parameter": [WORLD_MARKET, WORLD_MARKET, WORLD_MARKET],
            "value": [1, 0.5, 1],
            "unit": ["flag", "flag", "ratio"],
        }
    )
    with pytest.raises(DataError) as err:
        _check_world_market(rows, "market_parameters.csv")
    text = str(err.value)
    assert "row 3, column 'value'" in text
    assert "row 4, column 'unit'" in text
    assert "row 2" not in text


@pytest.mark.parametrize("rule", ["storage", "myopic"])
@pytest.mark.parametrize("reroute", [True, False])
def test_world_clearing_equals_the_reference(
    bundled: SupplyChain, rule: str, reroute: bool
) -> None:
    model = build_model(bundled, "nickel")
    assert model.world_market
    model = dataclasses.replace(model, stock_rule=rule)
    shocks = _china_refining_outage(bundled, model, 4, share=0.9)
    trace = run(model, shocks, reroute=reroute)
    # the outage reaches the regions' markets: the lanes deliver less than the demand (the
    # stock may cover it, as the myopic rule does here)
    demand = model.demand * shocks.demand
    assert (trace.final.sum(axis=2) < demand * (1 - 1e-6)).any()
    for s in range(4):
        ref = run_one(model, shocks, s, reroute=reroute)
        for name in ("shortfall", "price_ratio", "receipts", "exports", "output"):
            np.testing.assert_allclose(
                getattr(trace, name)[s], ref[name], rtol=1e-9, atol=1e-9, err_msg=name
            )


def _world_checks(model: ChainModel, shocks: Shocks, trace: Trace) -> None:
    """Balances hold; arbitrage moves tonnes between regions without making any; one price;
    each region consumes the same share of its demand."""
    check_balance(model, trace)
    shipped = trace.final.sum(axis=2) + shocks.release  # (S, M, R) what the lanes delivered
    np.testing.assert_allclose(
        trace.receipts.sum(axis=2), shipped.sum(axis=2), rtol=1e-12, atol=1e-9
    )
    prices = trace.price_ratio
    np.testing.assert_array_equal(prices, np.broadcast_to(prices[:, :, :1], prices.shape))
    demand = model.demand[None, None, :] * shocks.demand
    served = trace.consumption / demand
    np.testing.assert_allclose(served, np.broadcast_to(served[:, :, :1], served.shape), rtol=1e-12)


@pytest.mark.parametrize("mineral", ["nickel", "copper"])
def test_world_market_balances_and_shares_the_shortfall(bundled: SupplyChain, mineral: str) -> None:
    model = build_model(bundled, mineral)
    shocks = _china_refining_outage(bundled, model, 6, share=0.9)
    trace = run(model, shocks)
    assert trace.shortfall[:, :, USA].sum() > 0  # the U.S. shares China's shortfall
    _world_checks(model, shocks, trace)


def test_china_refining_outage_raises_the_us_price_of_a_world_market_only(
    bundled: SupplyChain,
) -> None:
    """China's refining outage: a world-market mineral's U.S. price rises with China's; the
    same chain cleared by region, and a mineral with no exchange contract, leave the U.S.
    price at 1.00."""
    world = build_model(bundled, "nickel")
    shocks = _china_refining_outage(bundled, world, 6, share=0.9)
    got = run(world, shocks)
    assert got.price_ratio[:, :, USA].max() > 1.01
    regional = run(dataclasses.replace(world, world_market=False), shocks)
    assert regional.price_ratio[:, :, CHN].max() > 1.01  # China's market is short
    np.testing.assert_array_equal(regional.price_ratio[:, :, USA], 1.0)
    manganese = build_model(bundled, "manganese")
    assert not manganese.world_market
    mn = run(manganese, _china_refining_outage(bundled, manganese, 6, share=0.9))
    assert mn.price_ratio[:, :, CHN].max() > 1.01
    np.testing.assert_array_equal(mn.price_ratio[:, :, USA], 1.0)


def test_one_region_clears_as_a_regional_market(bundled: SupplyChain) -> None:
    """With one consuming region the joint clearing is that region's own: the same numbers
    as the regional clearing (to rounding)."""
    model = build_model(bundled, "nickel")
    one = dataclasses.replace(
        model,
        regions=("USA",),
        demand=np.array([model.demand.sum()]),
        final=model.final.sum(axis=1, keepdims=True),
        region_index=np.zeros(model.N, dtype=int),
    )
    shocks = Shocks.neutral(one, 3, 12)
    shocks.avail[:, 1:11, 1:, one.country_index("CHN")] = np.array([0.0, 0.3, 0.6])[:, None, None]
    world = run(one, shocks)
    assert world.shortfall.sum() > 0
    regional = run(dataclasses.replace(one, world_market=False), shocks)
    for name in ("shortfall", "price_ratio", "receipts", "consumption", "output"):
        np.testing.assert_allclose(
            getattr(world, name), getattr(regional, name), rtol=1e-12, atol=1e-9, err_msg=name
        )


def test_the_flag_alone_switches_the_clearing(bundled: SupplyChain) -> None:
    """A mineral with no exchange contract runs the regional clearing exactly (the same bits
    as with the flag cleared); declaring it a world market moves the U.S. price of China's
    refining outage."""
    model = build_model(bundled, "manganese")
    shocks = _china_refining_outage(bundled, model, 4, share=0.9)
    plain = run(model, shocks)
    off = run(dataclasses.replace(model, world_market=False), shocks)
    for name in plain.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(plain, name), getattr(off, name), name)
    on = run(dataclasses.replace(model, world_market=True), shocks)
    assert on.price_ratio[:, :, USA].max() > 1.0
    _world_checks(model, shocks, on)


def test_a_world_market_offers_each_region_at_most_its_release(bundled: SupplyChain) -> None:
    """The third pass offers the undisrupted plants' response the part of a region's pooled
    release the second pass left uncovered, read against what the region clears on: for a
    world market its share of the pooled receipts, as its gap was (kernel.offer_uncovered).
    Read against China's own receipts under its refining outage (low before arbitrage), the
    offer exceeded China's release by up to 321,615 t/month on copper, and the price moved
    by up to 0.93 of the reference price."""
    model = dataclasses.replace(build_model(bundled, "copper"), stock_rule="storage")
    assert model.world_market
    shocks = _china_refining_outage(bundled, model, 2, share=0.9)
    trace = run(model, shocks)
    for s in range(2):
        ref = run_one(model, shocks, s)
        assert ref["uncovered"].max() > 0.0  # the third pass offers something
        demand = model.demand[None, :] * shocks.demand[s]
        over = ref["uncovered"] - ref["pool_release"]
        assert (over <= 1e-12 * demand).all(), float(over.max())
        for name in ("shortfall", "price_ratio", "receipts", "exports", "output"):
            np.testing.assert_allclose(
                getattr(trace, name)[s], ref[name], rtol=1e-9, atol=1e-9, err_msg=name
            )


#: the months a test's export control is in force (from 2026-02, four months)
CONTROL = slice(1, 5)


def _export_control(
    bundled: SupplyChain,
    model: ChainModel,
    country: str,
    stage: str,
    draws: int,
    *,
    approval: list[float] | None = None,
) -> Shocks:
    """``country`` bans (or licenses at ``approval``) its exports of the model's mineral at
    ``stage`` for four months from month 2 (:data:`CONTROL`), a 12-month run."""
    event: dict[str, object] = {
        "kind": "export_control",
        "country": country,
        "minerals": [model.mineral],
        "stages": [stage],
        "regime": "licensing" if approval else "ban",
        "start": "2026-02",
        "duration_months": 4,
    }
    if approval:
        event["approval"] = approval
    raw = {"name": "control", "start": "2026-01", "events": {"control": event}}
    spec = parse_scenario(raw, "test", Labels.of(bundled.dataset))
    return build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), draws, 12, np.random.default_rng(5)
    )


def _segmented_checks(model: ChainModel, shocks: Shocks, trace: Trace) -> None:
    """China, restricting its exports, clears on its own receipts at no more than its
    reference price; the U.S. and the rest of the world share one price above it (and the
    same share of their demand); balances hold and arbitrage makes no tonnes."""
    check_balance(model, trace)
    price = trace.price_ratio[:, CONTROL]
    assert (price[:, :, CHN] <= 1.0 + 1e-12).all(), float(price[:, :, CHN].max())
    assert (price[:, :, USA] > 1.01).any()
    np.testing.assert_array_equal(price[:, :, USA], price[:, :, ROW])
    # China receives what its lanes delivered it (no share of the pool, none of its own
    # withheld tonnes leave it), the pool keeps what its lanes delivered to it
    shipped = trace.final.sum(axis=2) + shocks.release  # (S, M, R)
    np.testing.assert_array_equal(trace.receipts[:, CONTROL, CHN], shipped[:, CONTROL, CHN])
    np.testing.assert_allclose(
        trace.receipts[:, CONTROL, USA] + trace.receipts[:, CONTROL, ROW],
        shipped[:, CONTROL, USA] + shipped[:, CONTROL, ROW],
        rtol=1e-12,
        atol=1e-9,
    )
    demand = model.demand[None, None, :] * shocks.demand
    served = trace.consumption[:, CONTROL] / demand[:, CONTROL]
    np.testing.assert_allclose(served[:, :, USA], served[:, :, ROW], rtol=1e-12)


def test_a_chinese_export_ban_takes_china_out_of_the_world_market(
    bundled: SupplyChain,
) -> None:
    """China bans its cobalt exports at the cathode stage (the last, where the regions
    pool): its consumers keep what it withholds, so its price holds while the U.S. and the
    rest of the world pay for the tonnes lost, at one price between them (the pattern of
    China's 2024 antimony controls, REUTERS_SB_DEC2024). Before, the one world price rose
    for China too (x2.56 in month 3, as if its consumers shared what it withheld)."""
    model = build_model(bundled, "cobalt")
    assert model.world_market
    assert model.stages[-1] == "cathode"
    shocks = _export_control(bundled, model, "CHN", "cathode", 4)
    trace = run(model, shocks)
    _segmented_checks(model, shocks, trace)
    # outside the control's months the regions clear as one
    for months in (slice(0, 1), slice(5, 12)):
        p = trace.price_ratio[:, months]
        np.testing.assert_array_equal(p, np.broadcast_to(p[:, :, :1], p.shape))


def test_a_licence_regime_with_partial_approval_segments_too(bundled: SupplyChain) -> None:
    """Half of China's cathode-stage cobalt exports licensed: the cap binds (China's price
    held, the outside price up), as under a ban."""
    model = build_model(bundled, "cobalt")
    shocks = _export_control(bundled, model, "CHN", "cathode", 3, approval=[0.5])
    assert shocks.ship_final[:, CONTROL].min() == pytest.approx(0.5)
    _segmented_checks(model, shocks, run(model, shocks))


@pytest.mark.parametrize("rule", ["storage", "myopic"])
@pytest.mark.parametrize("reroute", [True, False])
def test_segmented_clearing_equals_the_reference(
    bundled: SupplyChain, rule: str, reroute: bool
) -> None:
    model = dataclasses.replace(build_model(bundled, "cobalt"), stock_rule=rule)
    shocks = _export_control(bundled, model, "CHN", "cathode", 3, approval=[0.3])
    trace = run(model, shocks, reroute=reroute)
    assert (trace.price_ratio[:, CONTROL, USA] > trace.price_ratio[:, CONTROL, CHN]).any()
    for s in range(3):
        ref = run_one(model, shocks, s, reroute=reroute)
        for name in ("shortfall", "price_ratio", "receipts", "exports", "output"):
            np.testing.assert_allclose(
                getattr(trace, name)[s], ref[name], rtol=1e-9, atol=1e-9, err_msg=name
            )


def test_without_the_ban_the_world_clears_as_one(bundled: SupplyChain) -> None:
    """The same model and draws with the ban lifted (its lanes allowed in full, or gone) run
    the world clearing bit for bit: one price for the three regions every month, the
    numbers of the run without restricted lanes. (A guard: it holds on the code before the
    rule too.)"""
    model = build_model(bundled, "cobalt")
    banned = _export_control(bundled, model, "CHN", "cathode", 2)
    allowed = {key: np.ones_like(lane) for key, lane in banned.lanes.items()}
    lifted = dataclasses.replace(banned, lanes=allowed)
    assert lifted.lanes
    none = dataclasses.replace(banned, lanes={})
    a, b = run(model, lifted), run(model, none)
    p = a.price_ratio
    np.testing.assert_array_equal(p, np.broadcast_to(p[:, :, :1], p.shape))
    for name in a.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), name)


def test_a_non_region_countrys_ban_keeps_one_world_price(bundled: SupplyChain) -> None:
    """The DRC (in the rest of the world) bans its refined-copper exports: its withheld
    tonnes reach the world through the other rest-of-world countries' trade, so the three
    regions keep one price, raised for all. The same ban by China, a region's own country,
    splits it: China's price below the others' (it ships the others 2 t/month of refined
    copper at baseline)."""
    # no stock to cover the lost tonnes: the price moves
    model = dataclasses.replace(
        build_model(bundled, "copper"), region_stock_days=0.0, node_stock_days=0.0
    )
    assert model.stages[-1] == "refining"
    shocks = _export_control(bundled, model, "COD", "refining", 3)
    assert shocks.ship_final[:, CONTROL].min() == 0.0
    trace = run(model, shocks)
    assert (trace.price_ratio[:, CONTROL] > 1.0).any()
    _world_checks(model, shocks, trace)
    china = _export_control(bundled, model, "CHN", "refining", 3)
    split = run(model, china).price_ratio[:, CONTROL]
    assert (split[:, :, CHN] < split[:, :, USA]).any()
    assert (split[:, :, CHN] <= 1.0).all()
    np.testing.assert_array_equal(split[:, :, USA], split[:, :, ROW])
