"""An undisrupted month clears at the reference price exactly: each region's demand is what
the baseline flows deliver to it (critmin.simulate.model.delivered), so no rounding of the
routing leaves a price a few ulps below 1 and a negative terms-of-trade transfer in the
ranking (copper and zirconium printed about -1e-7 USD/yr)."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.simulate.engine import run
from critmin.simulate.model import POOL_BELOW, build_model
from critmin.simulate.rank import chain_of, simulated
from critmin.simulate.shocks import Shocks


def _chains(bundled: SupplyChain) -> list[str]:
    parents = parents_of_dataset(bundled.dataset)
    have = set(bundled.production.mineral.values.tolist())
    return sorted(
        {chain_of(bundled, m, parents, have) for m, _ in simulated(bundled, include_all=True)}
    )


def test_every_chain_clears_at_the_reference_price_without_a_disruption(
    bundled: SupplyChain,
) -> None:
    off = []
    for mineral in _chains(bundled):
        model = build_model(bundled, mineral)
        trace = run(model, Shocks.neutral(model, 1, 2))
        if not (trace.price_ratio == 1.0).all() or not (trace.shortfall == 0.0).all():
            off.append((mineral, float(np.abs(trace.price_ratio - 1.0).max())))
    assert not off, off


@pytest.mark.parametrize("mineral", ["antimony", "lead"])
def test_a_pooled_chain_clears_at_the_reference_price_too(
    bundled: SupplyChain, mineral: str
) -> None:
    """Pooling re-sums the last stage's flows: the demand is their sum again (antimony and lead
    cleared a few ulps off 1 with the unpooled demand carried over)."""
    model = build_model(bundled, mineral, pool_below=POOL_BELOW)
    assert any("pooled into" in note for note in model.assumptions)
    trace = run(model, Shocks.neutral(model, 1, 2))
    np.testing.assert_array_equal(trace.price_ratio, 1.0)
    np.testing.assert_array_equal(trace.shortfall, 0.0)
