"""Competitive-storage release of commercial stock (critmin.economics.storage): the policy is the
myopic draw when the disruption surely ends next month and rations from the first month when
it is expected to last; the engine and the per-scenario reference apply it alike."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.economics.storage import MONTHLY_DISCOUNT, OPEN_REGIME_END_HAZARD, release_table
from critmin.economics.storage_kernel import solve_release, stored
from critmin.scenarios.load import Labels, library_events, parse_scenario
from critmin.scenarios.spec import month_index
from critmin.simulate.engine import Trace, check_balance, run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import Shocks, build_shocks

from .reference import run_one

EPS = -0.3
CAP = 10.0
GRID_MAX = 8.0
POINTS = 161


def _policy(gap: float, hazard: float) -> np.ndarray:
    out: np.ndarray = solve_release(
        gap, hazard, MONTHLY_DISCOUNT, EPS, CAP, GRID_MAX, POINTS, 1e-12, 20000
    )
    return out


def _price(consumed: np.ndarray | float) -> np.ndarray:
    out: np.ndarray = np.clip(np.power(consumed, 1.0 / EPS), 1.0 / CAP, CAP)
    return out


@pytest.mark.parametrize("gap", [0.05, 0.3, 0.8])
def test_the_policy_is_the_myopic_draw_as_the_end_hazard_goes_to_one(gap: float) -> None:
    stocks = np.linspace(0.0, GRID_MAX, POINTS)
    myopic = np.minimum(gap, stocks)
    np.testing.assert_allclose(_policy(gap, 1.0), myopic, rtol=0, atol=1e-15)
    # and it converges there: the release rises toward the myopic draw as h -> 1
    last = np.zeros(POINTS)
    for h in (0.0116, 0.1, 0.5, 0.9, 0.99, 0.999):
        x = _policy(gap, h)
        assert (x >= last - 1e-12).all()
        assert (x <= myopic + 1e-15).all()
        last = x
    # at h = 0.999 the price holders expect next month is about P0: they sell the gap
    assert np.abs(last - myopic).max() < 0.01 * gap


def test_a_small_end_hazard_rations_from_the_first_month() -> None:
    """An open-ended regime (h = 0.0116): holders keep stock back, so the price is above P0
    in the first month although the stock (3.5 months of demand) could cover the gap (30%) for
    eleven months; the price then rises at about the carrying cost (the arbitrage condition)."""
    gap, stock = 0.3, 3.5
    x = _policy(gap, OPEN_REGIME_END_HAZARD)
    stocks = np.linspace(0.0, GRID_MAX, POINTS)
    first = float(np.interp(stock, stocks, x))
    assert 0.0 < first < gap
    assert _price(1.0 - gap + first) > 1.05
    # the myopic rule leaves it at P0 while the stock lasts
    assert float(_price(1.0 - gap + min(gap, stock))) == 1.0
    # interior months: P_t = beta (h P0 + (1 - h) P_{t+1}) on the path the policy makes
    path, s = [], stock
    for _ in range(12):
        r = float(np.interp(s, stocks, x))
        path.append(float(_price(1.0 - gap + r)))
        s -= r
    expect = [
        MONTHLY_DISCOUNT * (OPEN_REGIME_END_HAZARD + (1 - OPEN_REGIME_END_HAZARD) * p)
        for p in path[1:]
    ]
    np.testing.assert_allclose(path[:-1], expect, rtol=2e-3)
    assert s > 0.0, "the stock is spread, not exhausted within the year"


def test_the_kernel_lookup_is_bounded_by_the_gap_and_the_stock() -> None:
    table = release_table(np.array([0.0116, 0.25]), EPS, CAP, GRID_MAX)
    rng = np.random.default_rng(0)
    for _ in range(300):
        received, demand = rng.uniform(0, 2), rng.uniform(0.1, 2)
        stock = rng.uniform(-0.5, 20)
        u = int(rng.integers(-1, 2))
        got = stored(received, demand, stock, table, u, GRID_MAX)
        myopic = min(max(demand - received, 0.0), max(stock, 0.0))
        assert 0.0 <= got <= myopic + 1e-15
        if u < 0:
            assert got == myopic


def test_the_open_regime_hazard_is_the_library_rate() -> None:
    """Ends over months of exposure of the library's export controls that took effect; those
    in force are censored at 2026-12 (the figure in critmin.economics.storage)."""
    now = month_index("2026-12")
    ended = exposure = 0
    for event in library_events().values():
        if event["kind"] != "export_control":
            continue
        duration, state = event.get("duration_months"), event.get("state")
        if duration is not None and state in ("lifted", "suspended"):
            ended += 1
            exposure += int(duration)
        elif state == "in_force":
            exposure += now - month_index(str(event["start"]))
    assert ended == 4
    assert pytest.approx(ended / exposure, rel=1e-12) == OPEN_REGIME_END_HAZARD


def _control(
    bundled: SupplyChain, duration: int | None, mineral: str = "antimony", country: str = "CHN"
) -> object:
    event: dict[str, object] = {
        "kind": "export_control",
        "country": country,
        "minerals": [mineral],
        "stages": ["mining"],
        "regime": "ban",
        "start": "2026-03",
    }
    if duration is not None:
        event["duration_months"] = duration
    raw = {"name": "ban", "start": "2026-01", "events": {"ban": event}}
    return parse_scenario(raw, "test", Labels.of(bundled.dataset))


def _shocks(bundled: SupplyChain, model: ChainModel, duration: int | None) -> Shocks:
    country = "CHN" if model.mineral == "antimony" else "COD"
    scenario = _control(bundled, duration, model.mineral, country)
    parents = parents_of_dataset(bundled.dataset)
    return build_shocks(scenario, model, parents, 2, 12, np.random.default_rng(1))  # type: ignore[arg-type]


def _both_rules(model: ChainModel, shocks: Shocks, reroute: bool) -> tuple[Trace, Trace]:
    """`model` run under the myopic and the storage rule (in that order); each balances, and
    the per-scenario reference agrees with the engine on both draws under each rule."""
    traces = []
    for rule in ("myopic", "storage"):
        m = dataclasses.replace(model, stock_rule=rule)
        trace = run(m, shocks, reroute=reroute)
        check_balance(m, trace)
        for s in range(2):
            ref = run_one(m, shocks, s, reroute=reroute)
            np.testing.assert_allclose(trace.price_ratio[s], ref["price_ratio"], rtol=1e-9)
            np.testing.assert_allclose(trace.output[s], ref["output"], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(trace.shortfall[s], ref["shortfall"], rtol=1e-9, atol=1e-9)
        traces.append(trace)
    return traces[0], traces[1]


def test_the_end_hazard_reads_the_events_duration(bundled: SupplyChain) -> None:
    model = build_model(bundled, "antimony")
    open_ended = _shocks(bundled, model, None).end_hazard
    four = _shocks(bundled, model, 4).end_hazard
    assert open_ended is not None
    assert four is not None
    np.testing.assert_array_equal(open_ended[:, :2], 1.0)
    np.testing.assert_array_equal(open_ended[:, 2:], OPEN_REGIME_END_HAZARD)
    np.testing.assert_array_equal(four[:, 2:6], 0.25)
    np.testing.assert_array_equal(four[:, 6:], 1.0)


@pytest.mark.parametrize("reroute", [True, False])
def test_an_open_ended_ban_raises_the_price_from_its_first_month(
    bundled: SupplyChain, reroute: bool
) -> None:
    """China's antimony ore banned from 2026-03, open-ended, with the sourced 107 days of U.S.
    stock: the myopic rule leaves the U.S. price at P0 in the ban's first month, the storage
    rule does not; stocks balance, and the reference engine agrees under both rules."""
    model = build_model(bundled, "antimony")
    us = model.regions.index("USA")
    myopic, storage = _both_rules(model, _shocks(bundled, model, None), reroute)
    assert (myopic.receipts[:, 2, us] < model.demand[us] * 0.99).all(), "the ban cuts receipts"
    assert (myopic.price_ratio[:, 2, us] == 1.0).all()
    assert (storage.price_ratio[:, 2, us] > 1.01).all()
    # before the ban both rules are at P0; the stock held back is still there at month 12
    np.testing.assert_allclose(storage.price_ratio[:, :2, us], myopic.price_ratio[:, :2, us])
    np.testing.assert_allclose(storage.price_ratio[:, :2, us], 1.0, rtol=1e-12)
    held = storage.consumption[:, :, us].sum(axis=1) < myopic.consumption[:, :, us].sum(axis=1)
    assert held.all()


def test_an_unknown_stock_rule_is_refused(bundled: SupplyChain) -> None:
    model = dataclasses.replace(build_model(bundled, "antimony"), stock_rule="hoard")
    with pytest.raises(ValueError, match="stock_rule"):
        run(model, _shocks(bundled, model, None))


def _plants_only(bundled: SupplyChain) -> ChainModel:
    """Cobalt (mining, refining, cathode) with its stock at the processing plants only (120
    days of their input; no consumer stock), so that what the market sees in the first months
    of a ban on the DRC's mine exports is the plants' stock."""
    return dataclasses.replace(
        build_model(bundled, "cobalt"), node_stock_days=120.0, region_stock_days=0.0
    )


@pytest.mark.parametrize("reroute", [True, False])
def test_plant_input_stock_is_held_back_when_the_ban_is_expected_to_outlast_it(
    bundled: SupplyChain, reroute: bool
) -> None:
    """The DRC's cobalt mine exports banned from 2026-03, open-ended: plants whose feed is cut
    hold 120 days of input. Myopically they process it at P0 until it is gone; under the storage
    rule they keep part of it back from the first month (the holders foresee the gap outlasting
    the stock), so the price rises in the ban's first month and stock is still held at month
    12. Nodes and regions balance, and the reference engine agrees under both rules."""
    model = _plants_only(bundled)
    us = model.regions.index("USA")
    myopic, storage = _both_rules(model, _shocks(bundled, model, None), reroute)
    processing = slice(1, model.K)
    # the plants' stock covers the ban's first month at P0 (to rounding, without rerouting)
    np.testing.assert_allclose(myopic.price_ratio[:, 2, us], 1.0, rtol=1e-9)
    assert (storage.price_ratio[:, 2, us] > 1.01).all()
    # less processed in the ban's first month, and less over the year (stock still held)
    first = storage.output[:, 2, processing].sum(axis=(1, 2))
    assert (first < myopic.output[:, 2, processing].sum(axis=(1, 2)) * 0.99).all()
    year = storage.output[:, :, processing].sum(axis=(1, 2, 3))
    assert (year < myopic.output[:, :, processing].sum(axis=(1, 2, 3))).all()


def test_plant_stock_is_kept_back_more_the_longer_the_gap_is_expected_to_last(
    bundled: SupplyChain,
) -> None:
    """The same ban declared for 2 months (h = 1/2) or open-ended (h = 0.0116): the higher the
    price the plants expect next month, the less of their input stock they process now."""
    model = _plants_only(bundled)
    us = model.regions.index("USA")
    short = run(model, _shocks(bundled, model, 2))
    long = run(model, _shocks(bundled, model, None))
    processing = slice(1, model.K)
    assert (
        long.output[:, 2, processing].sum(axis=(1, 2))
        < short.output[:, 2, processing].sum(axis=(1, 2))
    ).all()
    assert (long.price_ratio[:, 2, us] > short.price_ratio[:, 2, us]).all()


def test_at_an_end_hazard_of_one_plant_stocks_are_drawn_myopically(bundled: SupplyChain) -> None:
    """h = 1 in every month (the disruption surely ends next month): the storage rule is the
    myopic draw exactly, at the plants as at the regions."""
    model = _plants_only(bundled)
    shocks = _shocks(bundled, model, None)
    assert shocks.end_hazard is not None
    sure = dataclasses.replace(shocks, end_hazard=np.ones_like(shocks.end_hazard))
    storage = run(model, sure)
    myopic = run(dataclasses.replace(model, stock_rule="myopic"), shocks)
    np.testing.assert_array_equal(storage.output, myopic.output)
    np.testing.assert_array_equal(storage.price_ratio, myopic.price_ratio)
