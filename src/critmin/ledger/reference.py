"""Reference data the ledger checks commands against: minerals, FEOC countries, market prices.

Read from the bundled dataset (``critmin.data.load``) once per process. Replay never consults
it: what a decision relied on (e.g. the market price) is written into the event itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from critmin.data.load import load
from critmin.economics.price import (
    FormPrice,
    form_price,
    form_prices,
    reference_prices,
    shock_years_of_dataset,
)

FEOC_GROUP = "feoc"


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Reference:
    """Mineral ids, foreign-entity-of-concern countries, bundled reference prices (USD/t) and
    the reserve forms' prices (critmin.economics.price.form_prices, the optimiser's)."""

    minerals: frozenset[str]
    feoc: frozenset[str]
    prices: dict[str, tuple[Decimal, int]]
    countries: frozenset[str] = frozenset()
    forms: dict[tuple[str, str], FormPrice] = field(default_factory=dict)

    def reference_price(self, mineral: str) -> tuple[Decimal, int] | None:
        """The mineral's reference price (USD/t of the USGS quote) and its base year
        (critmin.economics.price); a reserve form's price is :meth:`market_price`."""
        return self.prices.get(mineral)

    def forms_of(self, mineral: str) -> list[str]:
        """The reserve forms listed for ``mineral`` (reserve_forms), sorted."""
        return sorted(f for m, f in self.forms if m == mineral)

    def market_price(self, mineral: str, form: str) -> tuple[Decimal, int] | None:
        """The market price of ``form`` of ``mineral``, USD per t in the chain's reference
        basis (as the plan prices it), and its base year; None where the mineral has no
        reference price. Raises UnknownForm naming the forms known for the mineral."""
        found = form_price(self.forms, mineral, form)
        if found.year is None or found.usd_per_t != found.usd_per_t:  # NaN: no price
            return None
        return _cents(found.usd_per_t), found.year


@cache
def bundled() -> Reference:
    data = load()
    groups = data["country_groups"]
    feoc = frozenset(groups.loc[groups["group"] == FEOC_GROUP, "country"].astype(str))
    minerals = data["minerals"]
    # the one reference price (critmin.economics.price), shared with the disruption engine
    refs = reference_prices(data["prices"], shock_years_of_dataset(data))
    prices = {m: (_cents(r.usd_per_t), r.year) for m, r in refs.items()}
    countries = frozenset(data["countries"]["iso3"].astype(str))
    # the one form price (critmin.economics.price), shared with the reserve optimiser
    forms = form_prices(data["reserve_forms"], refs, data["market_parameters"])
    return Reference(frozenset(minerals["id"].astype(str)), feoc, prices, countries, forms)
