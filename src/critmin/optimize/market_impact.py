"""How much the reserve may buy per period, and how its buying moves the price.

Cap: a lot's purchases in a period are at most ``purchase_cap_share`` (reserve_forms; a critmin
ASSUMPTION, see docs/reserve.md for its sensitivity) of the supply outside China at the form's
stage (production.csv, latest year with tonnage), per period. An element form takes its
element's own market: its tonnage at the stage where recorded; where the stage has only
country shares (separated dysprosium and terbium: China's share of separated heavy rare
earths), the element's world tonnage at the nearest stage with tonnage (its mine output, oxide
content) times the share outside China at the form's stage. Only a form without element rows
falls back to its mineral's supply.

Price: buying q of a market Q (that same ex-China supply per period) is an extra demand of q/Q;
in the criticality model's short-run market (critmin.simulate.model, market_parameters.csv) it
raises the price by (q/Q) / (supply elasticity - demand elasticity), so the slope is
1 / (e_s - e_d) of those two parameters, with their sources (or assumption flags).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.economics.parameters import market_parameter
from critmin.schema.vocabulary import MONTHS_PER_YEAR

CHINA = "CHN"


def ex_china_supply(chain: SupplyChain, mineral: str, stage: str) -> tuple[float, str]:
    """Supply outside China at a stage, t/yr, latest year reported in tonnes (nan: none);
    a stage with only country shares takes the world tonnage of the nearest stage that has
    it times the share outside China (see the module docstring)."""
    prod = chain.dataset["production"]
    mine = prod[prod["mineral"] == mineral]
    rows = mine[(mine["stage"] == stage) & (mine["unit"] == "t")]
    if not rows.empty:
        year = int(rows["year"].max())
        last = rows[rows["year"] == year]
        out = float(last.loc[last["country"] != CHINA, "value"].astype(float).sum())
        return out, f"{mineral} {stage} outside China, {year}: {out:,.0f} t/yr"
    shares = mine[(mine["stage"] == stage) & (mine["unit"] == "fraction")]
    tonnes = mine[mine["unit"] == "t"]
    if shares.empty or tonnes.empty:
        return float("nan"), f"no tonnage for {mineral} {stage} in production.csv"
    year = int(shares["year"].max())
    last = shares[shares["year"] == year]
    outside = float(1.0 - last.loc[last["country"] == CHINA, "value"].astype(float).sum())
    order = {s: i for i, s in enumerate(chain.production.stage.values)}
    near = min(set(tonnes["stage"]), key=lambda s: abs(order.get(s, 99) - order.get(stage, 0)))
    at = tonnes[tonnes["stage"] == near]
    t_year = int(at["year"][at["year"] <= year].max()) if (at["year"] <= year).any() else year
    world = float(at.loc[at["year"] == t_year, "value"].astype(float).sum())
    out = world * outside
    return out, (
        f"{mineral} {stage} outside China: world {mineral} {near} {t_year} {world:,.0f} t x "
        f"share outside China at {stage} {year} {outside:.3f} = {out:,.1f} t/yr"
    )


def _param(chain: SupplyChain, mineral: str, name: str) -> float:
    """``name`` of ``mineral`` (critmin.economics.parameters.market_parameter); NaN without."""
    try:
        return market_parameter(chain.dataset["market_parameters"], mineral, name).value
    except KeyError:
        return float("nan")


def impact(chain: SupplyChain, forms: pd.DataFrame, months_per_period: int) -> pd.DataFrame:
    """Per lot (``mineral:form``): cap_share, ex_china_t_per_year, cap_t_per_period,
    impact_slope and a note; a lot without supply tonnage is uncapped (cap nan, slope 0)."""
    rows = []
    for _, f in forms.iterrows():
        m, stage = str(f["mineral"]), str(f["stage"])
        element = f.get("element")
        supply, note = float("nan"), ""
        if isinstance(element, str) and element:  # an element's own market, where recorded
            supply, note = ex_china_supply(chain, element, stage)
        if not np.isfinite(supply):
            supply, note = ex_china_supply(chain, m, stage)
        share = float(f["purchase_cap_share"])
        e_s = _param(chain, m, "supply_elasticity")
        e_d = _param(chain, m, "price_elasticity_demand")
        slope = 1.0 / (e_s - e_d) if np.isfinite(e_s - e_d) and e_s - e_d > 0 else 0.0
        capped = np.isfinite(supply) and supply > 0 and np.isfinite(share)
        rows.append(
            {
                "lot": f"{m}:{f['form']}",
                "cap_share": share if capped else np.nan,
                "ex_china_t_per_year": supply,
                "cap_t_per_period": share * supply * months_per_period / MONTHS_PER_YEAR
                if capped
                else np.nan,
                "impact_slope": slope if capped else 0.0,
                "note": f"{note}; slope 1/(e_s - e_d) = 1/({e_s:g} - ({e_d:g}))",
            }
        )
    return pd.DataFrame(rows).set_index("lot")
