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

import pandas as pd

from critmin.data.load import Dataset
from critmin.schema.vocabulary import GAP_ITEMS, STAGE_ORDER, USD_PER_T

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
