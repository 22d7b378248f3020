"""Pooling small producers (critmin.simulate.model.pool_model): the model shrinks, its baseline
flows keep their totals, and headline results barely move at the default threshold."""

from __future__ import annotations

import numpy as np

from critmin.chain import SupplyChain
from critmin.scenarios.load import Labels, load_scenario, parse_scenario
from critmin.simulate.model import POOL_BELOW, US_BUYER, build_model, pool_model
from critmin.simulate.runner import RunConfig, simulate

#: Stated tolerances at POOL_BELOW (docs/scaling.md): mean U.S. shortfall over the horizon
#: within 0.1% of U.S. demand over the horizon; U.S. price p50 and p95 (largest over periods)
#: within 0.05 of the baseline price; mean U.S. GDP loss within 0.01% of the loss at a full
#: shortfall over the horizon.
SHORTFALL_TOL, PRICE_TOL, LOSS_TOL = 1e-3, 0.05, 1e-4
MINERALS = ["rare_earths", "graphite", "copper", "platinum"]


def _scenario(chain: SupplyChain):  # type: ignore[no-untyped-def]
    background = load_scenario("background", Labels.of(chain.dataset))
    spec = {
        "name": "pooling",
        "start": "2025-01",
        "minerals": MINERALS,
        "events": {
            "surge": {
                "kind": "demand_surge",
                "minerals": MINERALS,
                "regions": ["USA"],
                "factor": 1.3,
                "start": "2025-03",
                "duration_months": 6,
            }
        },
        "hazards": [h.model_dump(exclude_defaults=True) for h in background.hazards],
    }
    return parse_scenario(spec, "pooling", Labels.of(chain.dataset))


def test_pooled_model_keeps_flow_totals(bundled: SupplyChain) -> None:
    for mineral in MINERALS:
        full = build_model(bundled, mineral)
        pooled = pool_model(full, POOL_BELOW)
        np.testing.assert_allclose(pooled.capacity.sum(axis=1), full.capacity.sum(axis=1))
        np.testing.assert_allclose(pooled.final.sum(axis=0), full.final.sum(axis=0))
        np.testing.assert_allclose(pooled.flows.sum(axis=(1, 2)), full.flows.sum(axis=(1, 2)))
        share = full.capacity / full.capacity.sum(axis=1, keepdims=True)
        for c in ("CHN", "USA"):
            if c in full.countries:
                assert c in pooled.countries
        for c in full.named:  # USGS import sources named out of OTH stay named
            assert c in pooled.countries
        # every other remaining country (but OTH) has a stage at or above the threshold
        for c in pooled.countries:
            if c != "OTH" and c in full.countries and c not in full.named:
                k = full.countries.index(c)
                feeds_hub = any(o == c and w >= POOL_BELOW for _, o, w in full.hub_feed)
                # the U.S. buyer and the USGS sources it buys from stay (graphite's Canada)
                buyer = full.country_index(US_BUYER)
                feeds_us = c == US_BUYER or (
                    buyer is not None and full.flows[full.us_stage_index][k, buyer] > 0
                )
                assert (
                    (share[:, k] >= POOL_BELOW).any()
                    or c in ("CHN", "USA")
                    or feeds_hub
                    or feeds_us
                )
    assert build_model(bundled, "graphite", pool_below=POOL_BELOW).N < (
        build_model(bundled, "graphite").N
    )


def test_headline_results_barely_move_when_small_producers_are_pooled(
    bundled: SupplyChain,
) -> None:
    spec = _scenario(bundled)
    runs = {
        pool: simulate(
            bundled,
            spec,
            RunConfig(runs=2000, seed=4, horizon=24, workers=1, keep_paths=False, pool_below=pool),
        )
        for pool in (0.0, POOL_BELOW)
    }
    shrunk = 0
    for mineral in MINERALS:
        full, pooled = runs[0.0].minerals[mineral], runs[POOL_BELOW].minerals[mineral]
        shrunk += pooled.model.N < full.model.N
        demand = float(full.model.demand[1]) * 24
        full_loss = float(full.summary.grids["loss_total"].scale[1])  # type: ignore[union-attr]
        head = []
        for mr in (full, pooled):
            s = mr.summary
            assert s is not None
            head.append(
                (
                    float(s.mean("shortfall_total").sel(region="USA")) / demand,
                    float(s.quantile("price_ratio", 0.5).sel(region="USA").max()),
                    float(s.quantile("price_ratio", 0.95).sel(region="USA").max()),
                    float(s.mean("loss_total").sel(region="USA")) / full_loss,
                )
            )
        (s0, a50, a95, l0), (s1, b50, b95, l1) = head
        assert abs(s1 - s0) < SHORTFALL_TOL, (mineral, s0, s1)
        assert abs(b50 - a50) < PRICE_TOL, (mineral, a50, b50)
        assert abs(b95 - a95) < PRICE_TOL, (mineral, a95, b95)
        assert abs(l1 - l0) < LOSS_TOL, (mineral, l0, l1)
    assert shrunk >= 3  # the comparison is between different models
