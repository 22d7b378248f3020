"""Mean lead times of the ``lead_times`` table, and the one factor that calibrates them.

A facility type's mean time from the start of its first phase to production is the sum of
the phases' lognormal means, ``median x exp(sigma^2 / 2)`` with ``sigma = ln(p90 / median) /
z90``. Scaling a phase's median and p90 by the same factor keeps its sigma and scales its mean
by that factor, so the factor that brings the total mean to a published figure, moving only
some phases, has a closed form. The bundled mine table was calibrated with it (the phases
before construction scaled so that the mean is S&P Global's 17.9 years; ``docs/outlook.md``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from critmin.outlook.pipeline import PRE_CONSTRUCTION, Z90


def phase_means(table: pd.DataFrame, kind: str) -> pd.Series:
    """Mean duration (years) of each phase of ``kind`` (mine or plant), indexed by phase."""
    rows = table[table["facility_type"] == kind]
    if rows.empty:
        raise ValueError(f"facility_type: no lead_times rows for {kind!r}")
    median = rows["median_years"].astype(float).to_numpy()
    sigma = np.log(rows["p90_years"].astype(float).to_numpy() / median) / Z90
    return pd.Series(median * np.exp(sigma**2 / 2), index=rows["phase"].to_numpy(), name="mean")


def mean_lead_time(
    table: pd.DataFrame,
    kind: str,
    factor: float = 1.0,
    phases: Iterable[str] = PRE_CONSTRUCTION,
) -> float:
    """Mean years from the first phase to production, with ``phases`` scaled by ``factor``
    (a country's lead-time factor applies to the phases before construction)."""
    means = phase_means(table, kind)
    scaled = means.index.isin(list(phases))
    return float((means * np.where(scaled, factor, 1.0)).sum())


def calibration_factor(
    table: pd.DataFrame,
    kind: str,
    target_years: float,
    phases: Iterable[str] = PRE_CONSTRUCTION,
) -> float:
    """The factor on the durations (median and p90 together) of ``phases`` that makes the
    mean lead time of ``kind`` equal ``target_years``, the other phases held."""
    means = phase_means(table, kind)
    moved = means.index.isin(list(phases))
    if not moved.any():
        raise ValueError(f"phases: none of {sorted(phases)} is a {kind} phase")
    held = float(means[~moved].sum())
    if target_years <= held:
        raise ValueError(
            f"target_years: {target_years} is not above the held phases' {held:.2f} years"
        )
    return (target_years - held) / float(means[moved].sum())


def calibrated(
    table: pd.DataFrame,
    kind: str,
    target_years: float,
    phases: Iterable[str] = PRE_CONSTRUCTION,
) -> pd.DataFrame:
    """``table`` with the durations of ``kind``'s ``phases`` scaled by the calibration factor."""
    phases = list(phases)
    k = calibration_factor(table, kind, target_years, phases)
    out = table.copy()
    rows = (out["facility_type"] == kind) & out["phase"].isin(phases)
    out.loc[rows, "median_years"] = out.loc[rows, "median_years"].astype(float) * k
    out.loc[rows, "p90_years"] = out.loc[rows, "p90_years"].astype(float) * k
    return out
