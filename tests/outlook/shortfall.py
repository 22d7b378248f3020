"""The recycling tests' one measure: the mean U.S. shortfall of one outage on a chain model."""

from __future__ import annotations

import numpy as np

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import parse_scenario
from critmin.schema.vocabulary import REGIONS
from critmin.simulate.engine import check_balance, run
from critmin.simulate.model import build_model
from critmin.simulate.shocks import build_shocks

US = REGIONS.index("USA")


def mean_us_shortfall(
    chain: SupplyChain,
    mineral: str,
    event: dict[str, object],
    *,
    draws: int,
    seed: int,
    share: tuple[float, float] | None = None,
) -> float:
    """Mean over ``draws`` of the U.S. shortfall (t over 12 months from 2025-01) when the outage
    ``event`` (country, stage, share, start, duration_months) hits ``mineral``; ``share`` (low,
    high) draws the outage's share uniformly instead. The run's mass balance is checked."""
    doc: dict[str, object] = {
        "name": "outage",
        "start": "2025-01",
        "events": {"e": {"kind": "outage", "minerals": [mineral], **event}},
    }
    if share is not None:
        low, high = share
        doc["uncertainties"] = [
            {"target": "e.share", "distribution": {"dist": "uniform", "low": low, "high": high}}
        ]
    spec = parse_scenario(doc, "test")
    model = build_model(chain, mineral)
    shocks = build_shocks(
        spec, model, parents_of_dataset(chain.dataset), draws, 12, np.random.default_rng(seed)
    )
    trace = run(model, shocks)
    check_balance(model, trace)
    return float(trace.shortfall[:, :, US].sum(axis=1).mean())
