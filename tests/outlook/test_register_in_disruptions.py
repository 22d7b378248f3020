"""The security register feeds the disruption set that rank and the reserve's ensemble draw."""

from __future__ import annotations

from datetime import date

import pandas as pd

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.security.hazard import register_factor, register_window_end
from critmin.simulate.disruptions import DisruptionSet


def _blockades(country: str, stage: str, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "country": [country] * n,
            "stage": [stage] * n,
            "threat": ["blockade"] * n,
            "date": [date(2022, 1 + i % 12, 1) for i in range(n)],
        }
    )


def test_incidents_raise_a_node_factor_and_unobserved_nodes_keep_none(
    bundled: SupplyChain,
) -> None:
    few = register_factor(bundled)
    many = register_factor(bundled, _blockades("PER", "mining", 8))
    assert many[("PER", "mining")] > few.get(("PER", "mining"), 1.0) > 1.0
    # a country the register has never reported on gets no factor (the prior stands)
    assert all(c != "CHN" for c, _ in many)


def test_the_factor_multiplies_the_outage_probability_of_that_supplier(
    bundled: SupplyChain,
) -> None:
    parents = parents_of_dataset(bundled.dataset)
    base = DisruptionSet.of(bundled, parents)
    plain = base.__class__(**{**base.__dict__, "security": {}})
    events, _ = base.outage_events("copper", "foreign")
    plain_events, _ = plain.outage_events("copper", "foreign")
    name = "outage-PER-mining-copper"
    assert name in events
    factor = base.security[("PER", "mining")]
    assert events[name]["probability"] == min(plain_events[name]["probability"] * factor, 0.95)
    assert events[name]["probability"] > plain_events[name]["probability"]
    # a supplier the register does not observe is unchanged
    others = [e for e in events if "PER" not in e]
    assert others
    assert all(events[e]["probability"] == plain_events[e]["probability"] for e in others)


def test_the_window_ends_with_the_data_not_the_clock(bundled: SupplyChain) -> None:
    latest = int(bundled.production.year.max())
    early = _blockades("PER", "mining", 2)
    assert register_window_end(bundled, early) == date(latest, 12, 31)
    late = _blockades("PER", "mining", 1).assign(date=[date(latest + 1, 3, 1)])
    assert register_window_end(bundled, late) == date(latest + 1, 3, 1)
