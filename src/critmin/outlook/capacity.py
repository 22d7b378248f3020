"""Capacity by mineral, stage, country and year: today's output plus the projects that arrive.

The base is each chain stage's latest reported output by country (the production table in the
chain's basis: tonnes or GWh), held flat: critmin has no sourced schedule of expansions at
existing sites, so growth comes only from the declared pipeline. Stages whose data are shares
only (magnets, cathode, cells) have no tonnage base: their pipeline additions are reported, their
shares are not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.outlook.montecarlo import Draws, median_online, online_fraction, sample
from critmin.outlook.pipeline import Pipeline, build_pipeline
from critmin.outlook.policy import Policy

#: Quantiles reported for every uncertain figure.
QUANTILES = (0.05, 0.5, 0.95)
LABELS = ("p05", "p50", "p95")
#: Units a base can be added to (a stage reported as shares has no capacity base).
MASS_UNITS = frozenset({"t", "GWh"})
CHINA = "CHN"


@dataclass(frozen=True)
class Base:
    """Latest output by (mineral, stage) → country, with its year, unit and basis."""

    values: dict[tuple[str, str], pd.Series]
    meta: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)


def base_capacity(chain: SupplyChain) -> Base:
    """Each (mineral, stage)'s latest year with tonnage output, by country."""
    values: dict[tuple[str, str], pd.Series] = {}
    meta: dict[tuple[str, str], dict[str, object]] = {}
    prod = chain.production
    has = prod.notnull().any("country")
    for mineral in prod.mineral.values:
        for stage in prod.stage.values:
            years = prod.year.values[has.sel(mineral=mineral, stage=stage).values]
            if len(years) == 0:
                continue
            year = int(years.max())
            unit = chain.unit.sel(mineral=mineral, stage=stage, year=year).item()
            if unit not in MASS_UNITS:
                continue
            row = prod.sel(mineral=mineral, stage=stage, year=year).to_series().dropna()
            row = row[row > 0]
            if row.empty:
                continue
            key = (str(mineral), str(stage))
            values[key] = row.astype(float)
            meta[key] = {
                "base_year": year,
                "unit": unit,
                "basis": chain.basis.sel(mineral=mineral, stage=stage, year=year).item(),
                "base_source": chain.source.sel(mineral=mineral, stage=stage, year=year).item(),
            }
    return Base(values, meta)


@dataclass(frozen=True)
class Outlook:
    """The result of one outlook run: records by country and by chain, and what was used."""

    by_country: pd.DataFrame
    by_chain: pd.DataFrame
    pipeline: Pipeline
    draws: Draws
    policy: Policy
    years: list[int]

    def projects_table(self) -> pd.DataFrame:
        """Each project: capacity, chance of producing, mean lead time and the share of draws
        in which it produces by 2030 and by the end year."""
        p = self.pipeline.projects
        online = self.draws.online
        return pd.DataFrame(
            {
                "project": p["id"],
                "mineral": p["mineral"],
                "stage": p["stage"],
                "country": p["country"],
                "status": p["status"],
                "chain_capacity": p["chain_capacity"],
                "announced_start": p["announced_start"],
                "completion_probability": self.pipeline.completion_probability.to_numpy(),
                "expected_lead_time_years": self.pipeline.expected_lead_time.to_numpy(),
                "p_online_by_2030": (online < 2031).mean("draw").to_numpy(),
                f"p_online_by_{self.years[-1]}": (online < self.years[-1] + 1)
                .mean("draw")
                .to_numpy(),
                "online_p50": median_online(online).to_numpy(),
            }
        )

    def as_dataset(self) -> xr.Dataset:
        """The country records as a labelled dataset (mineral, stage, country, year)."""
        frame = self.by_country.set_index(["mineral", "stage", "country", "year"])
        cols = [c for c in frame.columns if c.startswith(("capacity_", "share_"))]
        return xr.Dataset.from_dataframe(frame[cols])


def _quantiles(a: np.ndarray) -> np.ndarray:
    """Quantiles over the first axis (draws) → shape (3, ...)."""
    out: np.ndarray = np.quantile(a, QUANTILES, axis=0)
    return out


def run_outlook(
    chain: SupplyChain,
    policy: Policy,
    *,
    draws: int = 2000,
    seed: int = 0,
    minerals: list[str] | None = None,
    group: str = "allied",
) -> Outlook:
    """Monte Carlo over the pipeline → capacity, shares, HHI, China and group share by year."""
    pipeline = build_pipeline(chain.dataset, policy)
    sampled = sample(pipeline, draws, seed)
    years = list(range(policy.start_year, policy.end_year + 1))
    frac = online_fraction(sampled.online, years).transpose("draw", "project", "year").to_numpy()
    projects = pipeline.projects
    base = base_capacity(chain)
    members = set(chain.groups.country.values[chain.groups.sel(group=group).values])
    keys = sorted(set(base.values) | set(zip(projects["mineral"], projects["stage"], strict=True)))
    wanted = set(minerals) if minerals else set(chain.dataset["chains"]["mineral"])
    keys = [k for k in keys if k[0] in wanted]
    country_rows: list[pd.DataFrame] = []
    chain_rows: list[pd.DataFrame] = []
    n_years = len(years)
    for mineral, stage in keys:
        base_row = base.values.get((mineral, stage), pd.Series(dtype=float))
        countries, cap = stage_capacity(base_row, projects, frac, mineral, stage)
        has_base = not base_row.empty
        total = cap.sum(axis=1)
        q_cap = _quantiles(cap)
        meta = base.meta.get((mineral, stage), {})
        frame = {
            "mineral": mineral,
            "stage": stage,
            "country": np.repeat(countries, n_years),
            "year": np.tile(years, len(countries)),
        }
        for label, q in zip(LABELS, q_cap, strict=True):
            frame[f"capacity_{label}"] = q.reshape(-1)
        if has_base:
            share = np.divide(
                cap, total[:, None, :], out=np.zeros_like(cap), where=total[:, None] > 0
            )
            q_share = _quantiles(share)
            for label, q in zip(LABELS, q_share, strict=True):
                frame[f"share_{label}"] = q.reshape(-1)
            hhi = (share**2).sum(axis=1) * 10_000
            in_group = np.array([c in members for c in countries])
            china = np.array([c == CHINA for c in countries])
            summary = {
                "mineral": mineral,
                "stage": stage,
                "year": years,
                "total_p50": np.quantile(total, 0.5, axis=0),
            }
            for label, q in zip(LABELS, _quantiles(hhi), strict=True):
                summary[f"hhi_{label}"] = q
            for name, mask in (("china_share", china), (f"{group}_share", in_group)):
                part = share[:, mask, :].sum(axis=1)
                for label, q in zip(LABELS, _quantiles(part), strict=True):
                    summary[f"{name}_{label}"] = q
            top = share.copy()
            top.sort(axis=1)
            top3 = top[:, -3:, :].sum(axis=1)
            summary["top3_share_p50"] = np.quantile(top3, 0.5, axis=0)
            chain_rows.append(pd.DataFrame(summary).assign(**_meta(meta)))
        else:
            for label in LABELS:
                frame[f"share_{label}"] = np.nan
        country_rows.append(pd.DataFrame(frame).assign(**_meta(meta)))
    by_country = pd.concat(country_rows, ignore_index=True) if country_rows else pd.DataFrame()
    by_chain = pd.concat(chain_rows, ignore_index=True) if chain_rows else pd.DataFrame()
    return Outlook(by_country, by_chain, pipeline, sampled, policy, years)


def stage_capacity(
    base_row: pd.Series,
    projects: pd.DataFrame,
    frac: np.ndarray,
    mineral: str,
    stage: str,
) -> tuple[list[str], np.ndarray]:
    """Capacity by (draw, country, year) of one chain stage: base plus arriving projects.
    ``frac`` is each project's online share by (draw, project, year)."""
    here = projects.index[(projects["mineral"] == mineral) & (projects["stage"] == stage)]
    countries = sorted(set(base_row.index) | set(projects.loc[here, "country"]))
    draws, _, n_years = frac.shape
    start = base_row.reindex(countries).fillna(0.0).to_numpy(float)
    cap: np.ndarray = np.repeat(np.repeat(start[None, :, None], draws, 0), n_years, 2)
    capacity = projects["chain_capacity"].to_numpy(float)
    where = projects["country"].astype(str).to_numpy()
    for i in here:
        c = countries.index(str(where[i]))
        cap[:, c, :] += capacity[i] * frac[:, i, :]
    return countries, cap


def _meta(meta: dict[str, object]) -> dict[str, Any]:
    return {
        "unit": meta.get("unit", "t"),
        "basis": meta.get("basis", "pipeline additions only (no tonnage base)"),
        "base_year": meta.get("base_year"),
        "base_source": meta.get("base_source"),
    }


def outlook_table(
    chain: SupplyChain | None = None,
    policy: Policy | None = None,
    *,
    draws: int = 2000,
    seed: int = 0,
    level: str = "chain",
) -> pd.DataFrame:
    """The outlook as one DataFrame for the review and other front ends: ``level="chain"``
    (HHI, China and allied share by year) or ``"country"`` (capacity and share by country)."""
    chain = chain if chain is not None else SupplyChain.load()
    result = run_outlook(chain, policy or Policy(), draws=draws, seed=seed)
    return result.by_chain if level == "chain" else result.by_country
