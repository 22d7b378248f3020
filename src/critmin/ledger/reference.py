"""Reference data the ledger checks commands against: minerals, FEOC countries, market prices.

Read from the bundled dataset (``critmin.data.load``) once per process. Replay never consults
it: what a decision relied on (e.g. the market price) is written into the event itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from critmin.data.load import load
from critmin.economics.price import reference_prices, shock_years_of_dataset

FEOC_GROUP = "feoc"


@dataclass(frozen=True)
class Reference:
    """Mineral ids, foreign-entity-of-concern countries, and bundled prices (USD/t)."""

    minerals: frozenset[str]
    feoc: frozenset[str]
    prices: dict[str, tuple[Decimal, int]]
    countries: frozenset[str] = frozenset()

    def market_price(self, mineral: str) -> tuple[Decimal, int] | None:
        """The reference price (USD/t) and its base year (critmin.economics.price)."""
        return self.prices.get(mineral)


@cache
def bundled() -> Reference:
    data = load()
    groups = data["country_groups"]
    feoc = frozenset(groups.loc[groups["group"] == FEOC_GROUP, "country"].astype(str))
    minerals = data["minerals"]
    # the one reference price (critmin.economics.price), shared with the disruption engine
    refs = reference_prices(data["prices"], shock_years_of_dataset(data))
    prices = {
        m: (Decimal(repr(r.usd_per_t)).quantize(Decimal("0.01")), r.year) for m, r in refs.items()
    }
    countries = frozenset(data["countries"]["iso3"].astype(str))
    return Reference(frozenset(minerals["id"].astype(str)), feoc, prices, countries)
