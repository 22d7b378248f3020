"""Data coverage: which item each critical mineral has, and every hole with its reason.

For each mineral of the final 2025 U.S. list (the 60 listed minerals, not the REE and PGM
aggregates) the items are: output shares at each declared chain stage (``mining`` or primary
production where no chain is declared), U.S. net import reliance, U.S. import sources, a price
in a unit convertible to U.S. dollars per tonne, end-use shares, and U.S. demand (apparent
consumption). A hole is an item without bundled rows; its reason comes from the ``data_gaps``
table (why no public source covers it, or what is still to be entered), or says that none is
recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from critmin.data.load import Dataset
from critmin.schema.vocabulary import GAP_ITEMS, OTHER_COUNTRIES, STAGE_ORDER, USD_PER_T

if TYPE_CHECKING:
    from critmin.chain import SupplyChain

#: The items checked (``production_shares`` per expected stage, the rest per mineral).
ITEMS: tuple[str, ...] = tuple(sorted(GAP_ITEMS))

#: Elements that carry the magnet stages of the rare-earth chain.
MAGNET_ELEMENTS: frozenset[str] = frozenset({"neodymium", "praseodymium", "dysprosium", "terbium"})

AGGREGATE_IDS: frozenset[str] = frozenset({"rare_earths", "pgm"})

NO_REASON = "no bundled rows and no reason recorded in data_gaps.csv"

COLUMNS: tuple[str, ...] = ("mineral", "stage", "item", "reason")


def listed(ds: Dataset) -> list[str]:
    """The minerals of the final 2025 U.S. list (aggregates excluded)."""
    m = ds["minerals"]
    keep = (m["usgs_2025"] == True) & (m["family"] != "rare_earth_aggregate")  # noqa: E712
    return sorted(set(m.loc[keep, "id"]) - AGGREGATE_IDS)


def expected_stages(ds: Dataset, mineral: str) -> list[str]:
    """The chain stages a mineral should have data for: its own declared chain, else its
    parent's (magnets and metal only for the magnet rare earths), else none."""
    chains = ds["chains"]
    own = chains[chains["mineral"] == mineral]
    if not own.empty:
        return [str(s) for s in own.sort_values("position")["stage"]]
    parent = ds["minerals"].set_index("id")["parent"].get(mineral, "")
    inherited = chains[chains["mineral"] == parent]
    stages = [str(s) for s in inherited.sort_values("position")["stage"]]
    if mineral not in MAGNET_ELEMENTS:
        stages = [s for s in stages if s not in ("metal", "magnets")]
    return stages


def coverage(ds: Dataset) -> pd.DataFrame:
    """One row per (mineral, stage, item) expected, with ``present`` True or False."""
    prod = ds["production"]
    stages_with_data = prod.groupby("mineral")["stage"].agg(set).to_dict()
    us = ds["us_supply"]
    nir = set(us.loc[us["statistic"] == "net_import_reliance", "mineral"])
    demand = set(us.loc[us["statistic"] == "consumption", "mineral"])
    prices = ds["prices"]
    priced = set(prices.loc[prices["unit"].isin(USD_PER_T), "mineral"])
    have = {
        "us_nir": nir,
        "import_sources": set(ds["import_sources"]["mineral"]),
        "price": priced,
        "end_uses": set(ds["end_uses"]["mineral"]),
        "us_demand": demand,
    }
    rows = []
    for mineral in listed(ds):
        data_stages = stages_with_data.get(mineral, set())
        stages = expected_stages(ds, mineral)
        for stage in stages:
            rows.append((mineral, stage, "production_shares", stage in data_stages))
        if not stages:
            rows.append((mineral, "", "production_shares", bool(data_stages)))
        for item, members in have.items():
            rows.append((mineral, "", item, mineral in members))
    frame = pd.DataFrame(rows, columns=["mineral", "stage", "item", "present"])
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    frame["_o"] = frame["stage"].map(order).fillna(-1)
    return frame.sort_values(["mineral", "_o", "item"]).drop(columns="_o").reset_index(drop=True)


def gaps(ds: Dataset) -> pd.DataFrame:
    """Every hole: ``mineral, stage, item, reason`` (stage empty for mineral-level items)."""
    cov = coverage(ds)
    holes = cov[~cov["present"]].drop(columns="present")
    reasons = ds["data_gaps"].copy()
    reasons["stage"] = reasons["stage"].fillna("").astype(str)
    merged = holes.merge(reasons, on=["mineral", "stage", "item"], how="left")
    merged["reason"] = merged["reason"].fillna(NO_REASON)
    return merged[list(COLUMNS)].reset_index(drop=True)


def stale_reasons(ds: Dataset) -> pd.DataFrame:
    """Recorded reasons for items that are in fact present (or not expected): to be removed."""
    cov = coverage(ds)
    reasons = ds["data_gaps"].copy()
    reasons["stage"] = reasons["stage"].fillna("").astype(str)
    merged = reasons.merge(cov, on=["mineral", "stage", "item"], how="left")
    return merged[merged["present"].fillna(True).astype(bool)][list(COLUMNS)]


#: The six minerals whose refining concentration the IEA tracks (GCMO 2025: the mean top-three
#: share rose from about 82% in 2020 to 86% in 2024).
IEA_SIX: tuple[str, ...] = ("copper", "lithium", "nickel", "cobalt", "graphite", "rare_earths")


def top3_series(chain: SupplyChain, minerals: tuple[str, ...], stage: str) -> pd.DataFrame:
    """Top-three share of ``stage`` output per mineral and year, for every year with data
    (the source chosen per year as everywhere else). Columns: mineral, year, top3_share."""
    shares = chain.shares()
    rows = []
    for mineral in minerals:
        if mineral not in shares.mineral or stage not in shares.stage:
            continue
        s = shares.sel(mineral=mineral, stage=stage)
        named = s.where(s.country != OTHER_COUNTRIES)
        for year in s.year.values:
            col = named.sel(year=year)
            if not bool(s.sel(year=year).notnull().any()):
                continue
            best = col.fillna(0.0).to_series().nlargest(3).sum()
            rows.append((mineral, int(year), float(best)))
    return pd.DataFrame(rows, columns=["mineral", "year", "top3_share"])
