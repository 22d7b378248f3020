"""Concentration and dependence metrics (METHODS section 1), one function per measure.

Every metric takes the same filter arguments (``mineral``, ``stage``, ``year``) and returns a
labelled array over (mineral, stage) with a ``year`` coordinate and a ``unit`` attribute.
``year=None`` takes, per mineral and stage, the latest year with data.

The unattributed remainder (OTH) counts in every share's denominator but is never a "top
country", and it adds nothing to the HHI: USGS and IEA lump many small producers there, and
squaring their total as if it were one country would overstate concentration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.schema.vocabulary import OTHER_COUNTRIES

FTA_GROUP = "fta_us"
FTA_TRADE_PARAM = 0.8

UNITS: dict[str, str] = {
    "top_share": "fraction",
    "top3_share": "fraction",
    "hhi": "HHI points (0-10,000)",
    "hhi_wgi": "governance-weighted HHI (0-10)",
    "china_share": "fraction",
    "feoc_share": "fraction",
    "allied_share": "fraction",
    "us_nir": "fraction of U.S. apparent consumption, in the row's year",
}


@dataclass(frozen=True)
class Selection:
    """Shares for the chosen minerals, stages and year: (mineral, stage, country) + ``year``."""

    shares: xr.DataArray
    chain: SupplyChain

    @property
    def named(self) -> xr.DataArray:
        return self.shares.where(self.shares.country != OTHER_COUNTRIES)


def select(
    chain: SupplyChain,
    *,
    mineral: Sequence[str] | None = None,
    stage: Sequence[str] | None = None,
    year: int | None = None,
) -> Selection:
    """Filter the chain's shares; unknown minerals or stages raise KeyError naming them."""
    shares = chain.shares()
    declared = {
        "mineral": set(chain.dataset["minerals"]["id"]),
        "stage": set(chain.dataset["stages"]["id"]),
    }
    for dim, wanted in (("mineral", mineral), ("stage", stage)):
        if wanted:
            unknown = [w for w in wanted if w not in declared[dim]]
            if unknown:
                raise KeyError(f"unknown {dim}: {', '.join(unknown)} (see `critmin minerals`)")
            have = set(shares[dim].values.tolist())
            if not any(w in have for w in wanted):
                raise KeyError(f"no production data for {dim}: {', '.join(wanted)}")
            shares = shares.sel({dim: [w for w in wanted if w in have]})
    has = shares.notnull().any("country")
    if year is not None:
        if year not in shares.year.values:
            raise KeyError(f"no data for year {year}")
        picked = shares.sel(year=year)
        years = xr.full_like(has.sel(year=year), year, dtype=int).where(has.sel(year=year), -1)
    else:
        # index of the last year with data, per (mineral, stage)
        rev = has.isel(year=slice(None, None, -1))
        last = has.sizes["year"] - 1 - rev.argmax("year")
        any_data = has.any("year")
        picked = shares.isel(year=last.where(any_data, 0))
        years = last.copy(data=shares.year.values[last.values]).where(any_data, -1)
    picked = picked.drop_vars("year", errors="ignore")
    return Selection(shares=picked.assign_coords(year=years), chain=chain)


def _unit(arr: xr.DataArray, name: str) -> xr.DataArray:
    arr.name = name
    arr.attrs["unit"] = UNITS.get(name, "")
    return arr


def _governance(sel: Selection) -> xr.DataArray:
    gov = sel.chain.governance
    yrs = sel.shares.year.clip(min=int(gov.year.min()), max=int(gov.year.max()))
    return gov.sel(year=yrs).drop_vars("year").reindex(country=sel.shares.country)


def _trade_param(sel: Selection) -> xr.DataArray:
    chain = sel.chain
    tp = chain.trade_param.reindex(mineral=sel.shares.mineral, country=sel.shares.country)
    tp = tp.fillna(1.0)
    if FTA_GROUP in chain.groups.group:
        fta = chain.groups.sel(group=FTA_GROUP).reindex(
            country=sel.shares.country, fill_value=False
        )
        tp = tp.where(~(fta & (tp == 1.0)), FTA_TRADE_PARAM)
    return tp


def hhi(sel: Selection) -> xr.DataArray:
    """Herfindahl-Hirschman index, sum of (100 s_c)^2 over named countries."""
    return _unit(((100 * sel.named) ** 2).sum("country", min_count=1), "hhi")


def hhi_wgi(sel: Selection) -> xr.DataArray:
    """EU governance-weighted HHI: sum of s_c^2 * WGI_c * t_c (s as a fraction).

    WGI_c = (2.5 - WGI) x 2 with WGI the mean of the six indicators (the EU method) or political
    stability alone, as the chain was built (``SupplyChain.load(governance_variant=...)``).
    t_c is 1 by default, from trade_parameters.csv for export restrictions, and 0.8 for a U.S.
    free-trade-agreement partner without a recorded restriction.
    """
    out = (sel.named**2 * _governance(sel) * _trade_param(sel)).sum("country", min_count=1)
    return _unit(out, "hhi_wgi")


def top(sel: Selection) -> tuple[xr.DataArray, xr.DataArray]:
    """The leading named country and its share."""
    named = sel.named.fillna(-1.0)  # shares are >= 0, so -1 never leads; all-NaN stays NaN
    known = sel.named.notnull().any("country")
    country = named.idxmax("country").where(known)
    share = named.max("country").where(known)
    return _unit(country, "top_country"), _unit(share, "top_share")


def top3(sel: Selection) -> xr.DataArray:
    """Combined share of the three largest named producers."""
    arr = np.nan_to_num(sel.named.transpose(..., "country").values, nan=0.0)
    best = -np.sort(-arr, axis=-1)[..., :3].sum(axis=-1)
    out = xr.DataArray(best, coords=sel.named.isel(country=0, drop=True).coords)
    return _unit(out.where(sel.named.notnull().any("country")), "top3_share")


def group_share(sel: Selection, group: str, name: str | None = None) -> xr.DataArray:
    """Share of the countries in ``group`` (country_groups.csv)."""
    if group not in sel.chain.groups.group:
        raise KeyError(f"unknown country group {group!r}")
    member = sel.chain.groups.sel(group=group).reindex(country=sel.shares.country, fill_value=False)
    out = sel.shares.where(member).sum("country").where(sel.shares.notnull().any("country"))
    return _unit(out.drop_vars("group", errors="ignore"), name or f"{group}_share")


def country_share(sel: Selection, country: str, name: str) -> xr.DataArray:
    """Share of one country (0 where it does not report at a stage that has data)."""
    if country not in sel.shares.country:
        return _unit(xr.zeros_like(sel.shares.isel(country=0, drop=True)), name)
    out = sel.shares.sel(country=country, drop=True).fillna(0.0)
    return _unit(out.where(sel.shares.notnull().any("country")), name)


def us_nir(sel: Selection) -> xr.DataArray:
    """U.S. net import reliance of the mineral in the row's year (latest earlier year if none).

    The row's year on purpose, not the base year every model reads (SupplyChain.us_nir_base):
    the exposure table is a snapshot of one year, its shares and NIR side by side (``--year``
    picks it; by default the latest year with data, MCS 2026's 2025 estimates). Nothing is
    simulated on top of it, so a crisis year's reliance is that year's fact, not a double count.
    """
    nir = sel.chain.us_nir.reindex(mineral=sel.shares.mineral)
    filled = nir.copy(data=pd.DataFrame(nir.values).ffill(axis=1).to_numpy())
    yrs = sel.shares.year.clip(min=int(nir.year.min()), max=int(nir.year.max()))
    out = filled.sel(year=yrs).drop_vars("year")
    return _unit(out.broadcast_like(sel.shares.isel(country=0, drop=True)), "us_nir")


def bottleneck(score: xr.DataArray) -> xr.DataArray:
    """True at the stage with the highest governance-weighted HHI of each mineral."""
    filled = score.fillna(-np.inf)
    best = filled.max("stage")
    return (filled == best) & score.notnull() & np.isfinite(best)
