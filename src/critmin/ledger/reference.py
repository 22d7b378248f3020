"""Reference data the ledger checks commands against: minerals, FEOC countries, market prices.

Read from the bundled dataset (``critmin.data.load``) once per process. Replay never consults
it: what a decision relied on (e.g. the market price) is written into the event itself.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from critmin.data.load import load
from critmin.schema.vocabulary import USD_PER_T

#: Factors from a price unit to U.S. dollars per metric ton.
TO_USD_PER_T: dict[str, Decimal] = {unit: Decimal(f) for unit, f in USD_PER_T.items()}
FEOC_GROUP = "feoc"


@dataclass(frozen=True)
class Reference:
    """Mineral ids, foreign-entity-of-concern countries, and bundled prices (USD/t)."""

    minerals: frozenset[str]
    feoc: frozenset[str]
    prices: dict[str, tuple[Decimal, int]]
    countries: frozenset[str] = frozenset()

    def market_price(self, mineral: str) -> tuple[Decimal, int] | None:
        """The bundled price (USD/t) and its year: the median of the latest year's quotes."""
        return self.prices.get(mineral)


@cache
def bundled() -> Reference:
    data = load()
    groups = data["country_groups"]
    feoc = frozenset(groups.loc[groups["group"] == FEOC_GROUP, "country"].astype(str))
    quotes: dict[tuple[str, int], list[Decimal]] = {}
    prices_table = data["prices"]
    for mineral, year, value, unit in zip(
        prices_table["mineral"].astype(str),
        prices_table["year"].astype(int),
        prices_table["value"].astype(str),
        prices_table["unit"].astype(str),
        strict=True,
    ):
        factor = TO_USD_PER_T.get(unit)
        if factor is not None and Decimal(value) > 0:
            quotes.setdefault((mineral, int(year)), []).append(Decimal(value) * factor)
    prices: dict[str, tuple[Decimal, int]] = {}
    for (mineral, year), values in sorted(quotes.items()):
        prices[mineral] = (statistics.median(values).quantize(Decimal("0.01")), year)
    countries = frozenset(data["countries"]["iso3"].astype(str))
    return Reference(frozenset(data["minerals"]["id"].astype(str)), feoc, prices, countries)
