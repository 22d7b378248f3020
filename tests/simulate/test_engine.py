"""The vectorised engine against the plain reference, conservation, and the switches."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, load_scenario, parse_scenario
from critmin.simulate.engine import BalanceError, check_balance, run
from critmin.simulate.model import build_model, origin_content
from critmin.simulate.shocks import Shocks, build_shocks

from .reference import run_one
from .specs import outage

STRESS = {
    "name": "stress",
    "start": "2025-01",
    "events": {
        "oct": {"use": "china-2025-10-controls", "start": "2025-02"},
        "content": {"use": "china-2025-10-content", "start": "2025-03"},
        "battery": {"use": "china-2025-11-battery", "start": "2025-02"},
        "surge": {
            "kind": "demand_surge",
            "minerals": ["rare_earths", "lithium", "cobalt"],
            "regions": ["USA"],
            "factor": 1.5,
            "start": "2025-04",
            "duration_months": 3,
        },
        "cut": {
            "kind": "logistics",
            "minerals": ["cobalt"],
            "between": ["COD", "CHN"],
            "share": 0.5,
            "start": "2025-02",
            "duration_months": 2,
        },
        "outage": {
            "kind": "outage",
            "minerals": ["lithium"],
            "country": "AUS",
            "stage": "mining",
            "share": 0.6,
            "start": "2025-05",
            "duration_months": 4,
        },
        "release": {
            "kind": "release",
            "mineral": "rare_earths",
            "region": "USA",
            "tonnes_per_month": 500,
            "start": "2025-03",
            "duration_months": 2,
        },
    },
    "uncertainties": [
        {"target": "oct.scale", "distribution": {"dist": "uniform", "low": 0.3, "high": 1.0}},
        {
            "target": "surge.factor",
            "distribution": {"dist": "triangular", "low": 1.1, "mode": 1.5, "high": 2.0},
        },
    ],
    "hazards": [
        {
            "annual_probability": 0.5,
            "duration_months": {"dist": "uniform", "low": 1, "high": 4},
            "severity": {"dist": "uniform", "low": 0.2, "high": 0.9},
        }
    ],
}


@pytest.fixture(scope="module")
def stress(bundled: SupplyChain):  # type: ignore[no-untyped-def]
    return parse_scenario(STRESS, "stress", Labels.of(bundled.dataset))


@pytest.mark.parametrize("mineral", ["rare_earths", "lithium", "cobalt", "graphite"])
@pytest.mark.parametrize("reroute", [True, False])
def test_vectorised_engine_equals_reference(bundled, stress, mineral, reroute) -> None:  # type: ignore[no-untyped-def]
    model = build_model(bundled, mineral)
    shocks = build_shocks(
        stress, model, parents_of_dataset(bundled.dataset), 4, 10, np.random.default_rng(11)
    )
    trace = run(model, shocks, reroute=reroute)
    check_balance(model, trace)
    for s in range(4):
        ref = run_one(model, shocks, s, reroute=reroute)
        for name in ("shortfall", "price_ratio", "exports", "receipts", "output"):
            np.testing.assert_allclose(
                getattr(trace, name)[s], ref[name], rtol=1e-9, atol=1e-7, err_msg=name
            )
    # the shocks did bite somewhere (the comparison is not between two idle runs)
    # (graphite: the U.S. buys natural graphite at the mining stage, which no stress event
    # controls, and the rest of the world has no demand of its own: no region falls short)
    assert trace.shortfall.sum() > 0 or mineral in ("cobalt", "graphite")
    assert (trace.output < model.capacity[None, None] * (1 - 1e-9)).any()


def test_baseline_is_a_steady_state(bundled) -> None:  # type: ignore[no-untyped-def]
    model = build_model(bundled, "rare_earths")
    trace = run(model, Shocks.neutral(model, 1, 6))
    check_balance(model, trace)
    assert trace.shortfall.max() < 1e-6
    np.testing.assert_allclose(trace.price_ratio, 1.0)
    np.testing.assert_allclose(trace.output[0, -1], model.capacity, rtol=1e-9)


def test_balance_check_names_the_failing_node(bundled) -> None:  # type: ignore[no-untyped-def]
    model = build_model(bundled, "lithium")
    trace = run(model, Shocks.neutral(model, 2, 3))
    trace.node_balance[1, 2, 1, model.country_index("CHN")] = 5.0
    with pytest.raises(BalanceError, match=r"node refining in CHN .* month 3 of scenario 1"):
        check_balance(model, trace)


def test_rerouting_reduces_shortfall(bundled, stress) -> None:  # type: ignore[no-untyped-def]
    model = build_model(bundled, "rare_earths")
    shocks = build_shocks(
        stress, model, parents_of_dataset(bundled.dataset), 8, 10, np.random.default_rng(2)
    )
    on, off = run(model, shocks, reroute=True), run(model, shocks, reroute=False)
    assert on.shortfall.sum() <= off.shortfall.sum() + 1e-6


def test_content_rule_reaches_third_country_output(bundled) -> None:  # type: ignore[no-untyped-def]
    model = build_model(bundled, "rare_earths")
    chn = model.country_index("CHN")
    k = model.stages.index("magnets")
    third = [c for c in range(model.N) if c != chn and model.content[k, c, chn] >= 0.001]
    assert third, "some non-Chinese magnet output carries Chinese-origin content"
    rule = parse_scenario(
        {
            "name": "rule",
            "start": "2025-12",
            "events": {"r": {"use": "china-2025-10-content", "approval": [0.0]}},
        },
        "rule",
        Labels.of(bundled.dataset),
    )
    shocks = build_shocks(
        rule, model, parents_of_dataset(bundled.dataset), 1, 3, np.random.default_rng(0)
    )
    for c in third:
        home = model.region_index[c]
        others = [r for r in range(3) if r != home]
        assert (shocks.ship_final[0, :, c, others] == 0.0).all()
        assert (shocks.ship_final[0, :, c, home] == 1.0).all()


def test_origin_content_is_a_lookup_and_sums_to_one(bundled) -> None:  # type: ignore[no-untyped-def]
    model = build_model(bundled, "rare_earths")
    k = model.stages.index("magnets")
    producing = model.capacity[k] > 0
    np.testing.assert_allclose(model.content[k][producing].sum(axis=1), 1.0, rtol=1e-9)
    assert 0.0 < origin_content(model, "magnets", "OTH", "CHN") <= 1.0
    assert origin_content(model, "mining", "CHN", "CHN") == 1.0
    assert origin_content(model, "magnets", "ATA", "CHN") == 0.0


def test_sector_surge_and_sector_split(bundled) -> None:  # type: ignore[no-untyped-def]
    model = build_model(bundled, "cobalt")
    np.testing.assert_allclose(model.sector_share.sum(axis=1), 1.0)
    j = model.sectors.index("superalloys")
    surge = parse_scenario(
        {
            "name": "mob",
            "start": "2026-01",
            "events": {
                "m": {
                    "kind": "demand_surge",
                    "minerals": ["cobalt"],
                    "regions": ["USA"],
                    "sector": "superalloys",
                    "factor": 3.0,
                    "start": "2026-01",
                }
            },
        },
        "mob",
        Labels.of(bundled.dataset),
    )
    shocks = build_shocks(
        surge, model, parents_of_dataset(bundled.dataset), 1, 2, np.random.default_rng(0)
    )
    expected = 1.0 + model.sector_share[1, j] * 2.0
    np.testing.assert_allclose(shocks.demand[0, :, 1], expected)
    np.testing.assert_allclose(shocks.demand[0, :, [0, 2]], 1.0)


@pytest.mark.parametrize("mineral", ["lithium", "graphite"])
def test_free_shipping_path_equals_reference(bundled, mineral) -> None:  # type: ignore[no-untyped-def]
    """Outages only (every shipment allowed): the engine's outer-product rerouting, without
    any (scenario, origin, destination) array, matches the per-scenario reference."""
    spec = load_scenario("background", Labels.of(bundled.dataset))
    model = build_model(bundled, mineral)
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 6, 36, np.random.default_rng(5)
    )
    assert (shocks.ship == 1.0).all()
    assert (shocks.ship_final == 1.0).all()
    trace = run(model, shocks)
    check_balance(model, trace)
    # suppliers did answer: some node produced above what its own availability allowed
    assert (trace.output > model.capacity[None, None] * shocks.avail * (1 + 1e-9)).any()
    for s in range(6):
        ref = run_one(model, shocks, s)
        for name in ("shortfall", "price_ratio", "exports", "receipts", "output"):
            np.testing.assert_allclose(
                getattr(trace, name)[s], ref[name], rtol=1e-9, atol=1e-7, err_msg=name
            )


def test_host_tied_response_equals_reference(bundled) -> None:  # type: ignore[no-untyped-def]
    """A by-product (gallium, tied to alumina) under a Chinese outage: the engine's bounded
    supply response equals the reference engine's."""
    model = build_model(bundled, "gallium")
    assert model.host_tied is not None
    spec = outage(bundled, "CHN", "gallium", model.stages[0], 0.5, 4)
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 2, 6, np.random.default_rng(3)
    )
    trace = run(model, shocks)
    check_balance(model, trace)
    for s in range(2):
        ref = run_one(model, shocks, s, reroute=True)
        for name in ("shortfall", "price_ratio", "exports", "receipts", "output"):
            np.testing.assert_allclose(
                getattr(trace, name)[s], ref[name], rtol=1e-9, atol=1e-7, err_msg=name
            )
    assert (trace.output[0, 1:4, 0] > model.capacity[0] * (1 + 1e-9)).any()  # some answered
