"""Recycling as supply: end-of-life flows from past demand and product lifetimes, times the
collection and recovery rates, capped by the recycling capacity declared in the pipeline.

For each row of ``recycling_flows`` (mineral, region, end-use sector):

* past demand ``D(t)`` = the region's demand proxy (a stage's output, or U.S. apparent
  consumption up to the mineral's pre-shock base year, critmin.chain.SupplyChain.base_year)
  x the sector's share (``end_uses``); where a row gives ``region_share``, the
  world's proxy x that share instead (a region whose own series misses the metal in imported
  products, such as U.S. battery lithium and magnet rare earths). Before the first observed
  year demand is extended backwards at the series' own log-linear trend; after the last it is
  held flat (critmin has no sourced demand projection);
* end-of-life volume ``EoL(t) = sum_tau D(tau) P(lifetime in [t - tau - 1/2, t - tau + 1/2))``
  with a normal lifetime (mean, sd) truncated at zero;
* secondary potential = EoL x collection x recovery;
* recycled supply = min(potential, recycling capacity in the region), where the capacity is
  the chain-basis capacity of recycling projects online in the median draw. A region without
  declared capacity in the chain's basis recycles nothing in this account (and says so).
"""

from __future__ import annotations

from dataclasses import replace
from math import erf, sqrt
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.economics.price import year_at_base
from critmin.outlook.capacity import Outlook, run_outlook
from critmin.outlook.montecarlo import median_online
from critmin.outlook.policy import Policy
from critmin.schema.vocabulary import ASSUMPTION_SOURCE

WORLD = "WLD"
#: How far back demand is rebuilt for end-of-life flows, years before the first outlook year.
HISTORY_YEARS = 40


def _normal_cdf(x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    if sd <= 0:
        return (x >= mean).astype(float)
    z = (x - mean) / (sd * sqrt(2.0))
    out: np.ndarray = 0.5 * (1.0 + np.vectorize(erf)(z))
    return out


def lifetime_pmf(mean: float, sd: float, max_age: int) -> np.ndarray:
    """P(product retires at age a), a = 0..max_age (normal, truncated at 0, renormalised)."""
    edges = np.arange(-0.5, max_age + 1.0, 1.0)
    cdf = _normal_cdf(edges, mean, sd)
    pmf = np.diff(cdf)
    total = 1.0 - _normal_cdf(np.array([-0.5]), mean, sd)[0]
    out: np.ndarray = pmf / total if total > 0 else pmf
    return out


def demand_history(
    chain: SupplyChain, mineral: str, region: str, stage: str
) -> tuple[pd.Series, float]:
    """Observed demand proxy by year (t) in the latest year's basis, and its log-linear trend
    per year (fitted on the longest run of years reported in one basis, since the growth rate
    does not depend on the basis)."""
    if stage == "consumption":
        rows = chain.us_consumption(mineral)
        apparent = rows[rows["detail"].str.contains("pparent")]
        rows = apparent if not apparent.empty else rows
        series = rows.groupby("year")["value"].max().astype(float).sort_index()
        series.index = series.index.astype(int)
        # observed up to the mineral's base year (critmin.chain.SupplyChain.base_year), held
        # flat after it: USGS's later figures are estimates and, under a control, carry its
        # stock-building, which is not metal put into products
        last = year_at_base({int(y) for y in series.index}, chain.base_year(mineral))
        series = series[series.index <= last]
        return series, _trend(series)
    prod = chain.production.sel(mineral=mineral, stage=stage)
    total = prod.sum("country", min_count=1) if region == WORLD else prod.sel(country=region)
    values = total.to_series().dropna()
    values = values[values > 0].astype(float)
    values.index = values.index.astype(int)
    if values.empty:
        return values, 0.0
    basis = chain.basis.sel(mineral=mineral, stage=stage).to_series().reindex(values.index)
    latest = basis.iloc[-1]
    runs = [values[basis == b] for b in basis.unique()]
    longest = max(runs, key=len)
    return values[basis == latest], _trend(longest)


def _trend(series: pd.Series) -> float:
    if len(series) < 2:
        return 0.0
    years = series.index.to_numpy(int)
    return float(np.polyfit(years, np.log(series.to_numpy(float)), 1)[0])


def extend(history: pd.Series, slope: float, first: int, last: int) -> pd.Series:
    """Demand for every year first..last: the observed values, the trend ``slope`` (log per
    year) before them, flat after them."""
    years = np.arange(first, last + 1)
    if history.empty:
        return pd.Series(0.0, index=years)
    y0, v0 = int(history.index.min()), float(history.iloc[0])
    values = []
    for y in years:
        if y in history.index:
            values.append(float(history[y]))
        elif y < y0:
            values.append(v0 * float(np.exp(slope * (y - y0))))
        else:
            values.append(float(history[history.index <= y].iloc[-1]))
    return pd.Series(values, index=years)


def recycling_capacity(result: Outlook, mineral: str, region: str, years: list[int]) -> np.ndarray:
    """Chain-basis capacity of recycling projects online in the median draw, by year."""
    p = result.pipeline.projects
    mask = (p["mineral"] == mineral) & (p["kind"] == "recycling")
    if region != WORLD:
        mask &= p["country"] == region
    if not mask.any():
        return np.full(len(years), np.nan)
    online = median_online(result.draws.online).fillna(np.inf).to_numpy()
    cap = np.zeros(len(years))
    for i in np.flatnonzero(mask.to_numpy()):
        start = online[i]
        cap += float(p["chain_capacity"].iloc[i]) * np.clip(np.asarray(years) + 1.0 - start, 0, 1)
    return cap


def _declared(value: Any) -> float | None:
    """An optional float cell: None where empty."""
    if value is None:
        return None
    out = float(value)
    return None if np.isnan(out) else out


def recycling_outlook(
    chain: SupplyChain, result: Outlook, flows_table: pd.DataFrame | None = None
) -> pd.DataFrame:
    """End-of-life volume, secondary potential and recycled supply by year (``flows_table``:
    the ``recycling_flows`` rows to use, default the dataset's)."""
    years = result.years
    table = chain.dataset["recycling_flows"] if flows_table is None else flows_table
    flows: list[dict[Any, Any]] = table.to_dict(orient="records")
    uses = chain.dataset["end_uses"]
    rows = []
    for f in flows:
        mineral, region, sector = str(f["mineral"]), str(f["region"]), str(f["sector"])
        region_share = _declared(f.get("region_share"))
        if region_share is not None and str(f["demand_stage"]) == "consumption":
            raise ValueError(
                f"region_share: {mineral} {region} {sector}: a region's share applies to a "
                "stage's world output, not to U.S. consumption"
            )
        proxy = region if region_share is None else WORLD
        share = _declared(f.get("demand_share"))
        if share is None:
            match = uses[
                (uses["mineral"] == mineral)
                & (uses["region"] == proxy)
                & (uses["sector"] == sector)
            ]
            if match.empty:
                continue
            share = float(match.sort_values("year")["share"].iloc[-1])
        first = years[0] - HISTORY_YEARS
        history, slope = demand_history(chain, mineral, proxy, str(f["demand_stage"]))
        growth = _declared(f.get("demand_growth_per_year"))
        demand = extend(history, slope if growth is None else growth, first, years[-1]) * share
        if region_share is not None:
            demand = demand * region_share
        pmf = lifetime_pmf(
            float(f["lifetime_mean_years"]),
            float(f["lifetime_sd_years"]),
            HISTORY_YEARS + len(years),
        )
        eol = np.array(
            [
                sum(
                    float(demand[tau]) * pmf[y - tau]
                    for tau in demand.index
                    if 0 <= y - tau < len(pmf)
                )
                for y in years
            ]
        )
        potential = eol * float(f["collection_rate"]) * float(f["recovery_rate"])
        capacity = recycling_capacity(result, mineral, region, years)
        declared = bool(np.isfinite(capacity).all())
        recycled = np.minimum(potential, capacity) if declared else np.zeros(len(years))
        rows.append(
            pd.DataFrame(
                {
                    "mineral": mineral,
                    "region": region,
                    "sector": sector,
                    "year": years,
                    "demand_t": [float(demand[y]) for y in years],
                    "eol_t": eol,
                    "collection_rate": float(f["collection_rate"]),
                    "recovery_rate": float(f["recovery_rate"]),
                    "secondary_potential_t": potential,
                    "recycling_capacity_t": capacity,
                    "recycled_t": recycled,
                    "capacity_declared": declared,
                    "source_id": f["source_id"],
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def recycled_supply(chain: SupplyChain, result: Outlook) -> xr.DataArray:
    """Recycled supply as a supply node for the chain model: t/yr by (mineral, region, year),
    summed over sectors (0 where no recycling capacity is declared in the chain's basis)."""
    table = recycling_outlook(chain, result)
    if table.empty:
        return xr.DataArray(
            np.zeros((0, 0, len(result.years))),
            coords={"mineral": [], "region": [], "year": result.years},
            dims=("mineral", "region", "year"),
            name="recycled_t",
        )
    grouped = table.groupby(["mineral", "region", "year"])["recycled_t"].sum()
    out = xr.DataArray.from_series(grouped).fillna(0.0)
    out.name = "recycled_t"
    out.attrs["unit"] = "t/yr (chain basis)"
    return out


US = "USA"


def with_secondary(
    chain: SupplyChain,
    tonnes_per_year: dict[str, float],
    sources: set[str] | None = None,
    no_capacity: set[str] | None = None,
) -> SupplyChain:
    """``chain`` with U.S. secondary supply attached (t/yr by mineral, in the chain model's
    reference basis): every chain model built from it (simulate, rank, the reserve's ensemble)
    carries a domestic recycled-supply node (critmin.simulate.model.add_secondary).
    ``no_capacity`` names the minerals at 0 because no U.S. recycling plant declares a
    capacity in the chain's basis (kept in the attrs, so front ends can say so)."""
    minerals = sorted(tonnes_per_year)
    arr = xr.DataArray(
        np.array([float(tonnes_per_year[m]) for m in minerals]),
        coords={"mineral": minerals},
        dims=("mineral",),
        name="secondary_t",
        attrs={
            "unit": "t/yr (chain basis)",
            "sources": sorted(sources or set()),
            "no_capacity": sorted(no_capacity or set()),
        },
    )
    return replace(chain, secondary=arr)


def with_recycling(chain: SupplyChain, result: Outlook, year: int) -> SupplyChain:
    """``chain`` with the outlook's recycled U.S. supply in ``year`` attached as secondary
    supply (world rows are not entered: the chain model's secondary node is U.S. only)."""
    if year not in result.years:
        raise ValueError(
            f"year: {year} is outside the outlook ({result.years[0]}-{result.years[-1]})"
        )
    table = recycling_outlook(chain, result)
    if table.empty:
        return with_secondary(chain, {})
    here = table[(table["region"] == US) & (table["year"] == year)]
    by_mineral = here.groupby("mineral")["recycled_t"].sum()
    sources = {str(s) for s in here["source_id"]}
    # the plants that bound the recycled tonnes carry their own sources
    p = result.pipeline.projects
    plants = p[(p["kind"] == "recycling") & (p["country"] == US)]
    sources |= {str(s) for s in plants.loc[plants["mineral"].isin(by_mineral.index), "source_id"]}
    undeclared = {str(m) for m in here.loc[~here["capacity_declared"], "mineral"]}
    return with_secondary(
        chain, {str(m): float(v) for m, v in by_mineral.items()}, sources, undeclared
    )


#: Draws of the outlook run behind ``attach_recycling`` (the median online year of each
#: recycling plant is what it uses; 2,000 draws fix it to well under a month).
ATTACH_DRAWS = 2000


def us_recycling_minerals(chain: SupplyChain) -> list[str]:
    """Minerals with a U.S. row in ``recycling_flows`` (the only ones the chain model's
    recycled-supply node can carry)."""
    flows = chain.dataset["recycling_flows"]
    return sorted({str(m) for m in flows.loc[flows["region"] == US, "mineral"]})


def attach_recycling(
    chain: SupplyChain,
    year: int,
    *,
    policy: Policy | None = None,
    draws: int = ATTACH_DRAWS,
    seed: int = 0,
) -> SupplyChain:
    """``chain`` with the U.S. recycled supply of ``year`` attached: the outlook is run (base
    policy unless given) for the minerals with U.S. recycling flows, and ``with_recycling``
    attaches min(secondary potential, recycling plants online in the median draw). What the
    front ends call for ``--recycling YEAR``. Raises ``ValueError`` naming ``year`` outside
    the outlook's years."""
    policy = policy or Policy()
    if not policy.start_year <= year <= policy.end_year:
        raise ValueError(
            f"year: {year} is outside the outlook ({policy.start_year}-{policy.end_year})"
        )
    minerals = us_recycling_minerals(chain)
    if not minerals:
        return with_secondary(chain, {})
    result = run_outlook(chain, policy, draws=draws, seed=seed, minerals=minerals)
    return with_recycling(chain, result, year)


#: The fields of ``recycling_flows`` whose sensitivity is reported.
SENSITIVE = (
    "lifetime_mean_years",
    "lifetime_sd_years",
    "collection_rate",
    "recovery_rate",
    "demand_share",
    "demand_growth_per_year",
    "region_share",
)


#: The fields of ``recycling_flows`` that are fractions (capped at 1 when scaled).
FRACTIONS = ("collection_rate", "recovery_rate", "demand_share", "region_share")


def recycling_sensitivity(
    chain: SupplyChain,
    result: Outlook,
    *,
    mineral: str,
    year: int,
    factors: tuple[float, float] = (0.5, 1.5),
) -> pd.DataFrame:
    """How the secondary potential of ``mineral`` in ``year`` (t/yr, every sector of the row's
    region summed) moves when one field of one ``recycling_flows`` row is scaled by each factor
    (fractions capped at 1), the others held: one row per (region, sector, field) with the
    base, low and high potential and the relative change. Every assumed or estimated figure
    can be read off here."""
    if year not in result.years:
        raise ValueError(
            f"year: {year} is outside the outlook ({result.years[0]}-{result.years[-1]})"
        )
    table = chain.dataset["recycling_flows"]
    own = table[table["mineral"] == mineral]
    if own.empty:
        raise ValueError(f"mineral: no recycling_flows rows for {mineral!r}")

    def potential(frame: pd.DataFrame, region: str) -> float:
        mine = frame[frame["region"] == region]
        out = recycling_outlook(chain, result, mine)
        return float(out.loc[out["year"] == year, "secondary_potential_t"].sum())

    bases = {str(r): potential(own, str(r)) for r in own["region"].unique()}
    rows = []
    for i, row in own.iterrows():
        region = str(row["region"])
        base = bases[region]
        for fieldname in SENSITIVE:
            value = _declared(row.get(fieldname))
            if value is None:
                continue
            moved = []
            for factor in factors:
                frame = own.copy()
                new = value * factor
                if fieldname in FRACTIONS:
                    new = min(new, 1.0)
                frame.loc[i, fieldname] = new
                moved.append(potential(frame, region))
            rows.append(
                {
                    "mineral": mineral,
                    "region": row["region"],
                    "sector": row["sector"],
                    "field": fieldname,
                    "value": value,
                    "year": year,
                    "potential_t": base,
                    "low_t": moved[0],
                    "high_t": moved[1],
                    "change_low": moved[0] / base - 1 if base > 0 else np.nan,
                    "change_high": moved[1] / base - 1 if base > 0 else np.nan,
                    "row_marks_assumption": bool(row["source_id"] == ASSUMPTION_SOURCE)
                    or "ASSUMPTION" in str(row["note"]),
                    "source_id": row["source_id"],
                }
            )
    return pd.DataFrame(rows)
