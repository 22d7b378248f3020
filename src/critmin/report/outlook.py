"""The review's outlook section: capacity, shares, HHI and allied share by year to 2040 with
their bands, and the base case against the IEA Global Critical Minerals Outlook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.outlook.capacity import CHINA, Outlook, run_outlook
from critmin.outlook.compare import IEA_FOCUS, compare_with_references
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


def _projects_at(result: Outlook, mineral: str, stage: str) -> pd.DataFrame:
    p = result.pipeline.projects
    return p[(p["mineral"] == mineral) & (p["stage"] == stage)]


def why(result: Outlook, ref: dict[str, Any]) -> str:
    """Where and why critmin's base case differs from a published projection, from what the
    run holds: the projects in the pipeline, the flat base, the stage's basis."""
    stage = str(ref["stage"])
    minerals = list(IEA_FOCUS) if "+" in str(ref["mineral"]) else [str(ref["mineral"])]
    parts: list[str] = []
    ours, low, high = ref["critmin_p50"], ref["critmin_p05"], ref["critmin_p95"]
    target = float(str(ref["reference"]).split()[-1])
    if np.isfinite(ours):
        gap = (ours - target) * 100
        verdict = "agrees" if ref["agrees"] else "differs"
        band = f" (5-95%: {low:.0%}-{high:.0%})" if np.isfinite(low) else ""
        parts.append(f"critmin {ours:.0%}{band} {verdict}: {gap:+.0f} points from {target:.0%}.")
    else:
        parts.append("critmin has no tonnage base at this stage: not compared.")
    if int(ref["year"]) > result.years[0]:
        china = 0
        counted: dict[str, int] = {}
        for m in minerals:
            here = _projects_at(result, m, stage)
            china += int((here["country"] == CHINA).sum())
            for c in here["country"]:
                counted[str(c)] = counted.get(str(c), 0) + 1
        where = ", ".join(f"{c} {n}" for c, n in sorted(counted.items())) or "none"
        sk = result.pipeline.skipped
        skipped = sk[sk["mineral"].isin(minerals) & (sk["stage"] == stage)]
        unsized = (
            f" ({len(skipped)} more declared without a capacity in the stage's basis: "
            + ", ".join(str(i) for i in skipped["id"])
            + ")"
            if len(skipped)
            else ""
        )
        parts.append(
            f"The pipeline adds {sum(counted.values())} projects at this stage ({where}), "
            f"{china} in China{unsized}; existing output is held flat at its latest year "
            "(no sourced expansion schedule), so growth the IEA expects at existing or undisclosed "
            "Chinese and Indonesian sites is missing and China's share falls only as "
            "ex-China projects arrive."
        )
    bases = result.by_chain[
        result.by_chain["mineral"].isin(minerals) & (result.by_chain["stage"] == stage)
    ].drop_duplicates("mineral")
    if len(minerals) == 1 and len(bases):
        parts.append(f"critmin's basis: {bases['basis'].iloc[0]}.")
    elif len(minerals) > 1:
        parts.append(
            f"Mean over the {len(bases)} of {len(minerals)} IEA focus minerals with a "
            "tonnage base at this stage."
        )
    return " ".join(parts)


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
    for r in records:
        r["why"] = why(result, r)
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
