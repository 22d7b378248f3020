"""The reference price of a mineral: one definition for the disruption engine and the ledger.

Reference price = the median, over the USGS price forms quoted for the mineral, of each form's
annual average converted to U.S. dollars per metric ton (``USD_PER_T``: every USGS unit,
$/dmtu, $/mtu, $/flask, $/troy oz, $/lb, $/kg, $/g lots), in the mineral's **base year**:

- the latest year whose USGS figure is an actual, not an estimate (MCS 2026: 2024), and
- before the first export control of the event library that names the mineral (or its parent
  chain): a crisis-year average double-counts the shock the model is about to apply
  (antimony: 2024 averaged $10.24/lb against $5.49 in 2023, after the September 2024 control).
  A regime marked ``sets_base_year: false`` does not count: one that started before the first
  bundled price year and whose market the base year shows (Indonesia's nickel-ore bans of 2014
  and 2020), or whose years saw no price shock (Zimbabwe's 2022 lithium-ore ban, concentrates
  exempt, while lithium fell from $63,700/t in 2022 to $11,800/t in 2024).

USGS does not publish per-form quantities for most minerals, so the forms cannot be weighted by
quantity; the median keeps a high-value niche form (vacuum-pan salt, $260/t) from setting the
price of the bulk (rock salt and brine, $11-54/t). Where a mineral has one quoted form, that form
is the price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from critmin.data.load import Dataset
from critmin.data.per_dataset import per_dataset
from critmin.economics.parameters import market_parameter
from critmin.scenarios.load import library_events
from critmin.schema.validate import is_true
from critmin.schema.vocabulary import USD_PER_T

#: Latest year of actual (not estimated) USGS prices in the bundled release (MCS 2026).
LATEST_ACTUAL_YEAR = 2024

TO_USD_PER_T: dict[str, float] = {unit: float(f) for unit, f in USD_PER_T.items()}


@dataclass(frozen=True)
class ReferencePrice:
    mineral: str
    usd_per_t: float
    year: int
    forms: int
    note: str


def shock_years(library: dict[str, dict[str, object]], parents: dict[str, str]) -> dict[str, int]:
    """Per mineral (and its parent chain), the year the first library event naming it starts;
    an event with ``sets_base_year: false`` does not count (a regime the base year's market
    already reflects, started before the bundled prices: Indonesia's nickel-ore bans)."""
    out: dict[str, int] = {}
    for body in library.values():
        if body.get("sets_base_year", True) is False:
            continue
        names = body.get("minerals") or [body.get("mineral")]
        start = str(body.get("start", ""))
        if not start or not isinstance(names, list):
            continue
        year = int(start[:4])
        for m in [str(n) for n in names]:
            for key in {m, parents.get(m, m)}:
                out[key] = min(out.get(key, year), year)
    return out


def parents_of_dataset(ds: Dataset) -> dict[str, str]:
    """Each element's parent mineral (bundled ``minerals``: rare earths, PGMs)."""
    minerals = ds["minerals"]
    return {
        str(m): str(p)
        for m, p in zip(minerals["id"], minerals["parent"], strict=True)
        if isinstance(p, str) and p
    }


@per_dataset
def shock_years_of_dataset(ds: Dataset) -> dict[str, int]:
    """Per mineral, the year of the first library event naming it (once per dataset): the
    base year of its price, U.S. demand and net import reliance is the year before
    (``base_year``)."""
    return shock_years(library_events(), parents_of_dataset(ds))


def base_year(mineral: str, shocks: dict[str, int]) -> int:
    """The pre-shock base year of ``mineral``."""
    first = shocks.get(mineral)
    return LATEST_ACTUAL_YEAR if first is None else min(LATEST_ACTUAL_YEAR, first - 1)


def year_at_base(years: set[int], want: int) -> int:
    """The year a base-year figure is read from: the latest of ``years`` up to the base year
    ``want``, else the earliest (one rule for the reference price and U.S. demand)."""
    before = [y for y in years if y <= want]
    return max(before) if before else min(years)


def reference_prices(prices: pd.DataFrame, shocks: dict[str, int]) -> dict[str, ReferencePrice]:
    """The reference price of every mineral with a convertible USGS price."""
    usable = prices[prices["unit"].isin(TO_USD_PER_T)].copy()
    usable = usable[usable["value"].astype(float) > 0]
    usable["usd"] = usable["value"].astype(float) * usable["unit"].map(TO_USD_PER_T)
    if "estimated" in usable:
        usable = usable[~usable["estimated"].map(is_true).astype(bool)]
    out: dict[str, ReferencePrice] = {}
    for mineral, rows in usable.groupby("mineral"):
        m = str(mineral)
        want = base_year(m, shocks)
        year = year_at_base({int(y) for y in rows["year"]}, want)
        pick = rows[rows["year"].astype(int) == year]
        value = float(np.median(pick["usd"].to_numpy()))
        note = f"median of {len(pick)} USGS form(s), {year}"
        if year != want:
            note += f" (base year {want} not quoted)"
        out[m] = ReferencePrice(m, value, year, len(pick), note)
    return out


# --- the price of a reserve form (one definition for the optimiser and the ledger) ----------

#: market_parameters row converting the USGS price form to the chain's reference basis
#: (lithium: t Li2CO3 per t contained Li; tungsten: t WO3 per t W; 1 elsewhere).
BASIS_FACTOR = "price_to_basis_factor"


class UnknownForm(ValueError):
    """A form the bundled reserve_forms does not list for the mineral."""


@dataclass(frozen=True)
class FormPrice:
    """The market price of one reserve form, USD per t **in the chain's reference basis**: t
    of the form itself (NdPr oxide, cobalt metal), or t of contained element where the chain
    counts contained element (lithium chemical: t contained Li; tungsten concentrate: t
    contained W; manganese ore: t contained Mn). NaN where the mineral has no reference price.
    ``multiplier`` is the price over the mineral's reference price in that basis."""

    mineral: str
    form: str
    usd_per_t: float
    multiplier: float
    year: int | None
    note: str


def basis_factor(params: pd.DataFrame, mineral: str) -> float:
    """The mineral's ``price_to_basis_factor`` (market_parameters; the ``all`` row otherwise:
    critmin.economics.parameters.market_parameter)."""
    return market_parameter(params, mineral, BASIS_FACTOR).value


def chain_price(ref: ReferencePrice | None, params: pd.DataFrame, mineral: str) -> float:
    """The reference price of ``mineral`` in the chain's basis, USD per t of what its chain
    counts: ``ref`` (its USGS reference price) x ``basis_factor``; NaN without a reference
    price. One definition for the chain model's price and the reserve forms' prices."""
    if ref is None:
        return float("nan")
    return ref.usd_per_t * basis_factor(params, mineral)


def form_prices(
    forms: pd.DataFrame, refs: dict[str, ReferencePrice], params: pd.DataFrame
) -> dict[tuple[str, str], FormPrice]:
    """Every (mineral, form) of ``forms`` (reserve_forms) priced: ``price_multiplier`` x the
    reference price of ``price_of`` where given (that mineral's USGS quote, e.g. dysprosium),
    else x the mineral's reference price converted to the chain's basis (``basis_factor``)."""
    out: dict[tuple[str, str], FormPrice] = {}
    for row in forms.to_dict("records"):
        m, form = str(row["mineral"]), str(row["form"])
        mult = float(row["price_multiplier"])
        ref = refs.get(m)
        if ref is None:
            out[m, form] = FormPrice(m, form, float("nan"), mult, None, "no USGS price")
            continue
        chain = chain_price(ref, params, m)
        other = row.get("price_of")
        if isinstance(other, str) and other and other in refs:
            mult = mult * refs[other].usd_per_t / chain
            ref = refs[other]
        note = f"{row['price_multiplier']} x the reference price of {ref.mineral} ({ref.note})"
        out[m, form] = FormPrice(m, form, mult * chain, mult, ref.year, note)
    return out


def form_price(priced: dict[tuple[str, str], FormPrice], mineral: str, form: str) -> FormPrice:
    """The price of ``form`` of ``mineral``, or UnknownForm naming the forms known for it."""
    found = priced.get((mineral, form))
    if found is None:
        known = sorted(f for m, f in priced if m == mineral)
        raise UnknownForm(
            f"unknown form {form!r} for {mineral}; known forms: "
            + (", ".join(known) if known else "none (reserve_forms lists no form of it)")
        )
    return found
