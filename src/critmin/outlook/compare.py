"""The base case against published projections (the ``outlook_references`` table)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from critmin.data.load import Dataset
from critmin.outlook.capacity import Outlook

#: The IEA's six focus minerals, over which its top-3 refining share is averaged.
IEA_FOCUS = ("copper", "lithium", "nickel", "cobalt", "graphite", "rare_earths")


def _holds(relation: str, ours: float, ref: float, tolerance: float = 0.05) -> bool:
    if relation == "gt":
        return ours > ref
    if relation == "lt":
        return ours < ref
    return abs(ours - ref) <= tolerance


def compare_with_references(result: Outlook, ds: Dataset) -> pd.DataFrame:
    """One row per reference: the published figure, critmin's median and whether they agree
    (``approx`` within 5 points of share)."""
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
    return pd.DataFrame(rows)
