"""A month that rerouting covers in full clears at the reference price exactly: the engine
delivers the baseline to a destination whose need the suppliers' room meets (kernel step 3),
not ``(baseline - need) + need x sum(room_n / room)``, which is the baseline only to rounding.
Gypsum under a China mining outage (China's market) and fluorspar under a Mexican export ban
(the U.S. market) came out 1 ulp above the demand and priced at 0.9999999999999992 in every
month of the event; a real move of 1e-9 still moves the price."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, parse_scenario
from critmin.scenarios.spec import Scenario
from critmin.schema.vocabulary import REGIONS
from critmin.simulate.engine import run
from critmin.simulate.model import build_model
from critmin.simulate.shocks import Shocks, build_shocks

from .reference import run_one
from .specs import outage

CHN = REGIONS.index("CHN")
USA = REGIONS.index("USA")


def _ban(chain: SupplyChain, country: str, mineral: str) -> Scenario:
    """``country`` bans every export of ``mineral``'s mining for six months from 2026-02."""
    event = {
        "kind": "export_control",
        "country": country,
        "minerals": [mineral],
        "stages": ["mining"],
        "regime": "ban",
        "start": "2026-02",
        "duration_months": 6,
    }
    raw = {"name": "ban", "start": "2026-01", "events": {"ban": event}}
    return parse_scenario(raw, "test", Labels.of(chain.dataset))


@pytest.mark.parametrize(
    ("mineral", "region", "case"),
    [
        # an outage (no lane restricted): China's market, 1 ulp above its demand before
        ("gypsum", CHN, "outage"),
        # an export ban (restricted lanes): the U.S. market, 1 ulp above its demand before
        ("fluorspar", USA, "ban"),
    ],
)
def test_a_month_rerouting_covers_in_full_clears_at_exactly_the_reference_price(
    bundled: SupplyChain, mineral: str, region: int, case: str
) -> None:
    model = build_model(bundled, mineral)
    if case == "outage":
        spec = outage(bundled, "CHN", mineral, "mining", 0.5, 6, start="2026-02")
    else:
        spec = _ban(bundled, "MEX", mineral)
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 2, 12, np.random.default_rng(3)
    )
    bare = run(model, shocks, reroute=False)
    trace = run(model, shocks)
    # months 2-6: the market is short without rerouting, and rerouting covers it in full
    months = slice(2, 7)
    assert (bare.shortfall[:, months, region] > 0.01 * model.demand[region]).all()
    assert (bare.price_ratio[:, months, region] > 1.5).all()
    assert (trace.shortfall[:, months, region] == 0.0).all()
    np.testing.assert_array_equal(trace.receipts[:, months, region], model.demand[region])
    np.testing.assert_array_equal(trace.price_ratio[:, months, :], 1.0)
    # the plain reference agrees (it sums the rerouted shares as they come, to rounding)
    for s in range(2):
        ref = run_one(model, shocks, s)
        for name in ("shortfall", "price_ratio", "receipts", "exports", "output"):
            np.testing.assert_allclose(
                getattr(trace, name)[s], ref[name], rtol=1e-9, atol=1e-9, err_msg=name
            )


def test_a_real_move_of_1e_9_still_moves_the_price(bundled: SupplyChain) -> None:
    """No tolerance reads a small real gap or surplus as the reference price."""
    model = dataclasses.replace(build_model(bundled, "gypsum"), region_stock_days=0.0)
    shocks = Shocks.neutral(model, 1, 3)
    shocks.demand[0, 1, USA] = 1.0 + 1e-9  # 1e-9 more demand, no stock to meet it
    shocks.release[0, 2, USA] = 1e-9 * model.demand[USA]  # 1e-9 more supply
    trace = run(model, shocks)
    assert trace.shortfall[0, 1, USA] > 0.0
    assert trace.price_ratio[0, 1, USA] > 1.0
    assert trace.price_ratio[0, 2, USA] < 1.0
    assert trace.price_ratio[0, 0, USA] == 1.0
