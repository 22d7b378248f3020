"""Competitive storage along a licensing regime's declared approval path
(critmin.economics.storage, ``stock_rule = "storage_path"``, ``Shocks.gap_path``): holders who
foresee the approvals release
stock earlier, so a licence whose approvals rise clears below the same shock whose blocked
share stays; a path that stays at the month's gap is the stationary policy, and ``h = 1`` is
still the myopic draw. The engine and the per-scenario reference agree on it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.economics.storage import (
    GAP_POINTS,
    OPEN_REGIME_END_HAZARD,
    STOCK_POINTS,
    path_release_table,
    release_table,
)
from critmin.scenarios.load import Labels, parse_scenario
from critmin.simulate.engine import check_balance, release_policy, run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import Shocks, build_shocks

from .reference import run_one

EPS = -0.3
CAP = 10.0
GRID_MAX = 8.0
#: the library's approval path (the April 2025 magnet fit): approvals back to 1 in month 4
RISING = [0.5, 0.26, 0.635, 1.0]
#: the same first two months, then the blocked share of month 2 for good
STAYING = [0.5, 0.26]


def _stationary(hazard: float) -> np.ndarray:
    out: np.ndarray = release_table(np.array([hazard]), EPS, CAP, GRID_MAX)[0]
    return out


def test_a_path_that_stays_at_the_gap_is_the_stationary_policy() -> None:
    h = OPEN_REGIME_END_HAZARD
    stationary = _stationary(h)
    along = path_release_table(stationary, h, np.ones(3), EPS, CAP, GRID_MAX)
    assert along.shape == (GAP_POINTS, STOCK_POINTS)
    np.testing.assert_allclose(along, stationary, rtol=0, atol=1e-7)


def test_at_h_one_the_path_policy_is_the_myopic_draw() -> None:
    stationary = _stationary(1.0)
    gaps = np.linspace(0.0, 1.0, GAP_POINTS)[:, None]
    stocks = np.linspace(0.0, GRID_MAX, STOCK_POINTS)[None, :]
    for ratios in ([1.5, 0.7, 0.0], [0.3], [2.0, 2.0]):
        along = path_release_table(stationary, 1.0, np.array(ratios), EPS, CAP, GRID_MAX)
        np.testing.assert_allclose(along, np.minimum(gaps, stocks), rtol=0, atol=1e-15)


def test_foreseen_approvals_release_more_and_a_foreseen_tightening_less() -> None:
    """At the open-regime hazard: a gap that ends next month is drawn in full (the stock is
    worth P0 then); a falling path releases at least the stationary policy, a rising one at
    most, and both at most the myopic draw."""
    h = OPEN_REGIME_END_HAZARD
    stationary = _stationary(h)
    gaps = np.linspace(0.0, 1.0, GAP_POINTS)[:, None]
    stocks = np.linspace(0.0, GRID_MAX, STOCK_POINTS)[None, :]
    myopic = np.minimum(gaps, stocks)
    ends = path_release_table(stationary, h, np.array([0.0]), EPS, CAP, GRID_MAX)
    np.testing.assert_allclose(ends, myopic, rtol=0, atol=1e-15)
    falling = path_release_table(stationary, h, np.array([0.7, 0.4, 0.0]), EPS, CAP, GRID_MAX)
    rising = path_release_table(stationary, h, np.array([1.5, 1.5]), EPS, CAP, GRID_MAX)
    assert (falling >= stationary - 1e-9).all()
    assert (rising <= stationary + 1e-9).all()
    assert (falling <= myopic + 1e-15).all()
    assert (falling - stationary).max() > 0.05
    assert (stationary - rising).max() > 0.01


def _licence(bundled: SupplyChain, approval: list[float], ban: bool = False) -> object:
    events: dict[str, object] = {
        "licence": {
            "kind": "export_control",
            "country": "CHN",
            "minerals": ["antimony"],
            "stages": ["mining", "refining"],
            "regime": "licensing",
            "approval": approval,
            "start": "2026-03",
        }
    }
    if ban:
        events["ban"] = {
            "kind": "export_control",
            "country": "CHN",
            "minerals": ["antimony"],
            "stages": ["mining", "refining"],
            "regime": "ban",
            "start": "2026-04",
        }
    raw = {"name": "licence", "start": "2026-01", "events": events}
    return parse_scenario(raw, "test", Labels.of(bundled.dataset))


def _shocks(bundled: SupplyChain, model: ChainModel, scenario: object) -> Shocks:
    parents = parents_of_dataset(bundled.dataset)
    return build_shocks(scenario, model, parents, 2, 12, np.random.default_rng(1))  # type: ignore[arg-type]


def test_the_gap_path_reads_the_approval_path(bundled: SupplyChain) -> None:
    model = build_model(bundled, "antimony")
    path = _shocks(bundled, model, _licence(bundled, RISING)).gap_path
    assert path is not None
    assert path.shape == (2, 12, 3)
    blocked = 1.0 - np.array(RISING)
    np.testing.assert_allclose(path[:, 2], np.broadcast_to(blocked[1:] / blocked[0], (2, 3)))
    np.testing.assert_allclose(path[:, 3, :2], np.broadcast_to(blocked[2:] / blocked[1], (2, 2)))
    np.testing.assert_array_equal(path[:, 3, 2], 0.0)
    # before the regime and once the path has ended (nothing blocked): the gap persists
    np.testing.assert_array_equal(path[:, :2], 1.0)
    np.testing.assert_array_equal(path[:, 5:], 1.0)
    # a ban on the same flows from the second month blocks everything: no approval matters
    both = _shocks(bundled, model, _licence(bundled, RISING, ban=True)).gap_path
    assert both is not None
    np.testing.assert_array_equal(both[:, 3:], 1.0)
    # a licence at a constant rate declares no path
    staying = _shocks(bundled, model, _licence(bundled, [0.26])).gap_path
    assert staying is None


@pytest.mark.parametrize("reroute", [True, False])
def test_foreseen_approvals_lower_the_second_month_price(
    bundled: SupplyChain, reroute: bool
) -> None:
    """China's antimony under licence from 2026-03 on the library's rising approval path,
    against the same first two months with the blocked share of month 2 for good: holders
    who foresee the approvals (``storage_path``) draw their stock earlier, so the U.S. price
    of the licence's second month is lower (``storage``, blind to the path, clears both alike,
    as does the myopic rule); stocks balance; the reference agrees under every rule."""
    model = build_model(bundled, "antimony")
    us = model.regions.index("USA")
    out = {}
    for name, approval in (("rising", RISING), ("staying", STAYING)):
        shocks = _shocks(bundled, model, _licence(bundled, approval))
        for rule in ("myopic", "storage", "storage_path"):
            m = dataclasses.replace(model, stock_rule=rule)
            trace = run(m, shocks, reroute=reroute)
            check_balance(m, trace)
            out[(name, rule)] = trace
            for s in range(2):
                ref = run_one(m, shocks, s, reroute=reroute)
                np.testing.assert_allclose(trace.price_ratio[s], ref["price_ratio"], rtol=1e-9)
                np.testing.assert_allclose(
                    trace.shortfall[s], ref["shortfall"], rtol=1e-9, atol=1e-9
                )
        if name == "rising":
            path_rule = dataclasses.replace(model, stock_rule="storage_path")
            _, rows, _ = release_policy(path_rule, shocks)
            assert len(set(rows[0, 2:5].tolist())) == 3, "one policy per month of the path"
    first_two = slice(2, 4)
    np.testing.assert_array_equal(
        out[("rising", "myopic")].price_ratio[:, first_two, us],
        out[("staying", "myopic")].price_ratio[:, first_two, us],
    )
    # the path-blind rule clears both alike in those months
    np.testing.assert_array_equal(
        out[("rising", "storage")].price_ratio[:, first_two, us],
        out[("staying", "storage")].price_ratio[:, first_two, us],
    )
    staying, rising = out[("staying", "storage_path")], out[("rising", "storage_path")]
    assert (staying.price_ratio[:, 3, us] > 1.01).all(), "the staying licence is held against"
    assert (rising.price_ratio[:, 3, us] < staying.price_ratio[:, 3, us] - 0.01).all()
    assert (rising.price_ratio[:, first_two, us] <= staying.price_ratio[:, first_two, us]).all()
    # stock drawn earlier: more consumed in the licence's first two months
    drawn = rising.consumption[:, first_two, us].sum(axis=1)
    assert (drawn > staying.consumption[:, first_two, us].sum(axis=1) * 1.001).all()
