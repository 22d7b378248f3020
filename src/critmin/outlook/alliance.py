"""Alliances as scenario actions: what a partner group does when a cut-off group stops
supplying the United States, and the U.S. shortfall with and without the group acting.

Per draw of the pipeline and per year, at one stage: the U.S. needs ``R`` (USGS apparent
consumption in the mineral's base year, or the policy's figure). Without the alliance the U.S.
keeps its domestic capacity and its pro-rata share ``R / world`` of every supplier outside the
cut-off group.
With the alliance, members deliver the larger of that pro-rata share and the committed share of
their capacity, and pooled stocks are released. Because each term is at least as large, the
shortfall with the group acting is never larger than without it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.ledger.reference import bundled as reference_prices
from critmin.outlook.capacity import LABELS, QUANTILES, base_capacity, stage_capacity
from critmin.outlook.montecarlo import online_fraction, sample
from critmin.outlook.pipeline import build_pipeline
from critmin.outlook.policy import AllianceAction, Policy
from critmin.simulate.model import us_demand_t

US = "USA"


def us_requirement(chain: SupplyChain, mineral: str, action: AllianceAction) -> tuple[float, str]:
    """The U.S. yearly requirement (t) and where it comes from: the policy's figure, else the
    U.S. demand every chain model uses (critmin.simulate.model.us_demand_t: USGS apparent
    consumption in the mineral's pre-shock base year, not USGS's latest, estimated year, whose
    2025 figures carry the stock-building of that year's controls)."""
    if mineral in action.us_requirement_t:
        return action.us_requirement_t[mineral], "policy file"
    need, note = us_demand_t(chain, mineral)
    if need is None:
        return float("nan"), "no U.S. consumption figure"
    source = f"USGS U.S. apparent consumption, base year {chain.base_year(mineral)}"
    return need, f"{source}; {note}" if note else source


def members(chain: SupplyChain, group: str) -> set[str]:
    """The countries of a group."""
    return {str(c) for c in chain.groups.country.values[chain.groups.sel(group=group).values]}


def alliance_outlook(
    chain: SupplyChain,
    policy: Policy,
    *,
    draws: int = 2000,
    seed: int = 0,
    minerals: list[str] | None = None,
) -> pd.DataFrame:
    """U.S. shortfall (t) and its value (USD) with and without the group acting, by year."""
    action = policy.alliance
    if action is None:
        raise ValueError("alliance: the policy names no alliance action")
    pipeline = build_pipeline(chain.dataset, policy)
    sampled = sample(pipeline, draws, seed)
    years = list(range(policy.start_year, policy.end_year + 1))
    frac = online_fraction(sampled.online, years).transpose("draw", "project", "year").to_numpy()
    base = base_capacity(chain)
    allies = members(chain, action.group)
    cut = members(chain, action.cut_off_group)
    wanted = minerals or sorted({m for m, s in base.values if s == action.stage})
    prices = reference_prices()
    rows = []
    for mineral in wanted:
        if (mineral, action.stage) not in base.values:
            continue
        need, need_source = us_requirement(chain, mineral, action)
        if not np.isfinite(need):
            continue
        countries, cap = stage_capacity(
            base.values[(mineral, action.stage)], pipeline.projects, frac, mineral, action.stage
        )
        c = np.asarray(countries)
        world = cap.sum(axis=1)
        share = np.minimum(1.0, need / np.where(world > 0, world, np.inf))
        domestic = cap[:, c == US, :].sum(axis=1)
        open_ = ~np.isin(c, list(cut)) & (c != US)
        member = open_ & np.isin(c, list(allies))
        other = open_ & ~member
        member_cap = cap[:, member, :].sum(axis=1)
        pro_rata_members = share * member_cap
        pro_rata_other = share * cap[:, other, :].sum(axis=1)
        without = np.minimum(need, domestic + pro_rata_members + pro_rata_other)
        committed = np.maximum(pro_rata_members, action.committed_share * member_cap)
        stock = action.pooled_stock_t.get(mineral, 0.0)
        with_ = np.minimum(need, domestic + committed + pro_rata_other + stock)
        short_without, short_with = need - without, need - with_
        price = prices.reference_price(mineral)
        usd = float(price[0]) if price is not None else float("nan")
        frame: dict[str, object] = {
            "mineral": mineral,
            "stage": action.stage,
            "year": years,
            "group": action.group,
            "cut_off_group": action.cut_off_group,
            "us_requirement_t": need,
            "requirement_source": need_source,
            "allied_capacity_p50": np.quantile(member_cap, 0.5, axis=0),
        }
        for name, arr in (("shortfall_without", short_without), ("shortfall_with", short_with)):
            for label, q in zip(LABELS, np.quantile(arr, QUANTILES, axis=0), strict=True):
                frame[f"us_{name}_t_{label}"] = q
        frame["loss_without_usd_p50"] = np.quantile(short_without, 0.5, axis=0) * usd
        frame["loss_with_usd_p50"] = np.quantile(short_with, 0.5, axis=0) * usd
        frame["price_usd_per_t"] = usd
        rows.append(pd.DataFrame(frame))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
