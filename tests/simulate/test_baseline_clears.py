"""An undisrupted month clears at the reference price exactly: each region's demand is what
the baseline flows deliver to it (critmin.simulate.model.delivered), so no rounding of the
routing leaves a price a few ulps below 1 and a negative terms-of-trade transfer in the
ranking (copper and zirconium printed about -1e-7 USD/yr). Every plant ships what it receives,
bit for bit (critmin.simulate.model.close_flows), so every plant makes its capacity in such a
month and the months after a disruption ends clear at the baseline again (a plant whose fitted
input fell a RAS residual short of its capacity recorded ulp-sized shortfalls there, at
r - 1 up to 1.7e-12, in 9 chains)."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.simulate.engine import run
from critmin.simulate.model import (
    POOL_BELOW,
    ChainModel,
    build_model,
    close_flows,
    pool_model,
)
from critmin.simulate.rank import chain_of, simulated
from critmin.simulate.shocks import Shocks


def _chains(bundled: SupplyChain) -> list[str]:
    parents = parents_of_dataset(bundled.dataset)
    have = set(bundled.production.mineral.values.tolist())
    return sorted(
        {chain_of(bundled, m, parents, have) for m, _ in simulated(bundled, include_all=True)}
    )


@pytest.fixture(scope="module")
def models(bundled: SupplyChain) -> dict[str, ChainModel]:
    """Every simulated chain's model, built once for this module."""
    return {mineral: build_model(bundled, mineral) for mineral in _chains(bundled)}


def _unclosed(model: ChainModel) -> list[tuple[str, int, str]]:
    """The nodes whose capacity is not, bit for bit, both what they ship and (past the first
    stage) what they receive at baseline."""
    out = []
    ships = [model.flows[k].sum(axis=1) for k in range(model.K - 1)] + [model.final.sum(axis=1)]
    for k in range(model.K):
        off = ships[k] != model.capacity[k]
        if k > 0:
            off |= model.flows[k - 1].sum(axis=0) != model.capacity[k]
        out += [(model.mineral, k, model.countries[n]) for n in np.flatnonzero(off)]
    return out


def test_every_plant_ships_what_it_receives(models: dict[str, ChainModel]) -> None:
    """The fitted flows are closed: a plant's baseline input, output and capacity are one
    number, in the built and the pooled model (RAS left 106 stage-rows apart by up to 1.4e-6
    t/month, aluminum's refineries)."""
    off = []
    for model in models.values():
        off += _unclosed(model)
        off += _unclosed(pool_model(model, POOL_BELOW))
    assert not off, off[:10]


def test_every_chain_clears_at_the_reference_price_without_a_disruption(
    models: dict[str, ChainModel],
) -> None:
    off = []
    for mineral, model in models.items():
        trace = run(model, Shocks.neutral(model, 1, 2))
        if (
            not (trace.price_ratio == 1.0).all()
            or not (trace.shortfall == 0.0).all()
            or not (trace.output == model.capacity).all()
            or not (trace.final.sum(axis=2) == model.demand).all()
        ):
            off.append((mineral, float(np.abs(trace.price_ratio - 1.0).max())))
    assert not off, off


@pytest.mark.parametrize(
    ("mineral", "stage", "country"),
    [
        ("lithium", "cathode", "CHN"),
        ("neodymium", "refining", "CHN"),
        ("terbium", "refining", "CHN"),
        ("titanium", "metal", "JPN"),
        ("platinum", "refining", "ZAF"),
    ],
)
def test_the_months_after_an_outage_clear_at_the_baseline(
    models: dict[str, ChainModel], mineral: str, stage: str, country: str
) -> None:
    """A processing plant out for four months: the months after it is back are the baseline
    month again, exactly (lithium recorded a shortfall of 3.6e-9 t at r = 1 + 8.6e-13 there,
    terbium r = 1 + 1.7e-12, platinum 1 + 7e-16)."""
    model = models[mineral]
    shocks = Shocks.neutral(model, 1, 12)
    node = model.country_index(country)
    assert node is not None
    shocks.avail[:, 2:6, model.stages.index(stage), node] = 0.0
    trace = run(model, shocks)
    assert trace.shortfall[:, 2:6].max() > 0  # the outage is a real shortage
    np.testing.assert_array_equal(trace.price_ratio[:, 6:], 1.0)
    np.testing.assert_array_equal(trace.shortfall[:, 6:], 0.0)
    np.testing.assert_array_equal(
        trace.output[:, 6:], np.broadcast_to(model.capacity, (1, 6, *model.capacity.shape))
    )


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


def test_closing_reaches_a_sum_one_step_of_the_largest_flow_jumps_over() -> None:
    """A row whose largest flow's ulp is half its sum's: adding the residual to it alone
    alternates one ulp either side of the target (a bundled chain's row, met while building
    close_flows); the finer flow next to it takes the last ulp."""
    inflow = 34554.764492753624
    flows = np.array([[[inflow, 0.0], [0.0, 1.0]]])
    final = np.array([[9615.395063570439, 0.0, 24939.36942918318], [1.0, 0.0, 0.0]])
    assert final[0].sum() != inflow
    cap, closed, out = close_flows(flows, final)
    assert out[0].sum() == inflow == cap[1, 0] == closed[0].sum(axis=0)[0]
    assert out.sum(axis=1)[0] == inflow  # the row sum the engine forms
    np.testing.assert_allclose(out, final, rtol=1e-15)
    np.testing.assert_array_equal(closed, flows)
