"""The base case against published projections (the ``outlook_references`` table)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from critmin.data.load import Dataset
from critmin.outlook.capacity import CHINA, Outlook

#: The IEA's six focus minerals, over which its top-3 refining share is averaged.
IEA_FOCUS = ("copper", "lithium", "nickel", "cobalt", "graphite", "rare_earths")


def _holds(relation: str, ours: float, ref: float, tolerance: float = 0.05) -> bool:
    if relation == "gt":
        return ours > ref
    if relation == "lt":
        return ours < ref
    return abs(ours - ref) <= tolerance


def compare_with_references(result: Outlook, ds: Dataset) -> pd.DataFrame:
    """One row per reference: the published figure, critmin's median, whether they agree
    (``approx`` within 5 points of share) and where and why they differ (``why``)."""
    chains = result.by_chain.set_index(["mineral", "stage", "year"])
    rows = []
    refs: list[dict[Any, Any]] = ds["outlook_references"].to_dict(orient="records")
    for ref in refs:
        year, stage, metric = int(ref["year"]), str(ref["stage"]), str(ref["metric"])
        relation, value = str(ref["relation"]), float(ref["value"])
        mineral = str(ref["mineral"]) if isinstance(ref["mineral"], str) else ""
        if metric == "china_share":
            key = (mineral, stage, year)
            ours = float(chains["china_share_p50"].get(key, np.nan))
            low = float(chains["china_share_p05"].get(key, np.nan))
            high = float(chains["china_share_p95"].get(key, np.nan))
        else:
            keys = [(m, stage, year) for m in IEA_FOCUS if (m, stage, year) in chains.index]
            vals = chains["top3_share_p50"].reindex(keys).dropna()
            ours = float(vals.mean()) if len(vals) else np.nan
            low = high = np.nan
        rows.append(
            {
                "mineral": mineral or "+".join(IEA_FOCUS),
                "stage": stage,
                "year": year,
                "metric": metric,
                "reference": f"{relation} {value:.2f}",
                "critmin_p05": low,
                "critmin_p50": ours,
                "critmin_p95": high,
                "agrees": bool(np.isfinite(ours) and _holds(relation, ours, value)),
                "source_id": ref["source_id"],
            }
        )
        rows[-1]["why"] = why(result, rows[-1])
    return pd.DataFrame(rows)


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
        parts.append(f"critmin {ours:.1%}{band} {verdict}: {gap:+.1f} points from {target:.0%}.")
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
        n = sum(counted.values())
        parts.append(
            f"The pipeline adds {n} project{'s' if n != 1 else ''} at this stage ({where}), "
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
