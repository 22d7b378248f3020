"""Scenarios the simulate tests build, parsed as a user's scenario file is."""

from __future__ import annotations

from critmin.chain import SupplyChain
from critmin.scenarios.load import Labels, parse_scenario
from critmin.scenarios.spec import Scenario

#: the name of the one event of ``outage``, for an uncertainty's target ("cut.share")
CUT = "cut"


def outage(
    chain: SupplyChain,
    country: str,
    mineral: str,
    stage: str,
    share: float,
    duration_months: int,
    *,
    start: str = "2026-01",
    **fields: object,
) -> Scenario:
    """A scenario from 2026-01 with one event, ``CUT``: ``country``'s ``stage`` of ``mineral``
    loses ``share`` of its output for ``duration_months`` from ``start``; ``fields`` adds
    scenario fields (``uncertainties``)."""
    event = {
        "kind": "outage",
        "country": country,
        "minerals": [mineral],
        "stage": stage,
        "share": share,
        "start": start,
        "duration_months": duration_months,
    }
    raw = {"name": "outage", "start": "2026-01", "events": {CUT: event}, **fields}
    return parse_scenario(raw, "test", Labels.of(chain.dataset))
