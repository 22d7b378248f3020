"""The review's outlook section: capacity, shares, HHI and allied share by year to 2040 with
their bands, and the base case against the IEA Global Critical Minerals Outlook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from critmin.chain import SupplyChain
from critmin.outlook.capacity import Outlook, run_outlook
from critmin.outlook.compare import compare_with_references
from critmin.outlook.policy import Policy
from critmin.report.charts import outlook_svg

#: The years the table shows (besides the first outlook year).
MILESTONES = (2030, 2035, 2040)
RELATION = {"gt": "more than", "lt": "less than", "approx": "about"}


@dataclass(frozen=True)
class OutlookView:
    """What the review shows of the outlook."""

    draws: int
    seed: int
    years: list[int]
    rows: list[dict[str, Any]]
    charts: list[str]
    compare: list[dict[str, Any]]
    sources: set[str] = field(default_factory=set)


def _at(frame: pd.DataFrame, year: int, col: str) -> float:
    hit = frame.loc[frame["year"] == year, col]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def outlook_rows(result: Outlook) -> list[dict[str, Any]]:
    """One row per chain stage with a tonnage base: capacity, HHI, China's and the allies'
    share in the first year and at each milestone (median), with the 5-95% band at the end."""
    first, last = result.years[0], result.years[-1]
    years = [first, *[y for y in MILESTONES if first < y <= last]]
    rows = []
    for (mineral, stage), g in result.by_chain.groupby(["mineral", "stage"], sort=False):
        row: dict[str, Any] = {
            "mineral": mineral,
            "stage": stage,
            "unit": g["unit"].iloc[0],
            "basis": g["basis"].iloc[0],
            "base_year": int(g["base_year"].iloc[0]),
            "base_source": g["base_source"].iloc[0],
            "years": years,
            "capacity": [_at(g, y, "total_p50") for y in (first, last)],
        }
        for metric in ("china_share", "allied_share", "hhi"):
            row[metric] = [_at(g, y, f"{metric}_p50") for y in years]
            row[f"{metric}_band"] = (_at(g, last, f"{metric}_p05"), _at(g, last, f"{metric}_p95"))
        rows.append(row)
    return rows


def _chart_stage(g: pd.DataFrame) -> str:
    """The stage a mineral's chart shows: the most concentrated processing stage in the first
    year (mining if it is the only one)."""
    first = g[g["year"] == g["year"].min()].sort_values("hhi_p50", ascending=False)
    processing = first[first["stage"] != "mining"]
    pick = processing if len(processing) else first
    return str(pick["stage"].iloc[0])


def outlook_charts(
    result: Outlook, compare: pd.DataFrame, names: dict[str, str], group: str = "allied"
) -> list[str]:
    """Per mineral, China's and the allies' share by calendar year at its most concentrated
    processing stage, with the IEA projections as points."""
    charts = []
    years = result.years
    for mineral, g in result.by_chain.groupby("mineral", sort=False):
        stage = _chart_stage(g)
        s = g[g["stage"] == stage].sort_values("year")
        series = {
            "China": tuple(s[f"china_share_{q}"].to_numpy(float) for q in ("p05", "p50", "p95")),
            "allies": tuple(s[f"{group}_share_{q}"].to_numpy(float) for q in ("p05", "p50", "p95")),
        }
        refs = [
            (
                int(r["year"]),
                float(str(r["reference"]).split()[-1]),
                f"IEA: China {RELATION.get(str(r['reference']).split()[0], '')} "
                f"{float(str(r['reference']).split()[-1]):.0%}",
            )
            for r in compare.to_dict(orient="records")
            if r["mineral"] == mineral and r["stage"] == stage and r["metric"] == "china_share"
        ]
        title = f"{names.get(str(mineral), mineral)}, {stage}: share of world capacity"
        charts.append(outlook_svg(years, series, title, refs))  # type: ignore[arg-type]
    return charts


def outlook_view(
    chain: SupplyChain, *, draws: int = 2000, seed: int = 0, policy: Policy | None = None
) -> OutlookView:
    """Run the base-case outlook (seeded) and shape it for the review."""
    result = run_outlook(chain, policy or Policy(), draws=draws, seed=seed)
    compare = compare_with_references(result, chain.dataset)
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in compare.to_dict(orient="records")
    ]
    names = {str(k): str(v) for k, v in chain.dataset["minerals"].set_index("id")["name"].items()}
    sources = set(result.by_chain["base_source"].dropna().astype(str))
    sources |= set(compare["source_id"].astype(str))
    sources |= set(result.pipeline.projects["source_id"].astype(str))
    return OutlookView(
        draws=draws,
        seed=seed,
        years=result.years,
        rows=outlook_rows(result),
        charts=outlook_charts(result, compare, names),
        compare=records,
        sources=sources,
    )
