"""The EU governance score from the World Governance Indicators (METHODS section 1).

WGI_c = (2.5 - estimate) x 2, on 0 (best) to 10 (worst). The EU CRM method takes the mean of
the six WGI estimates (control of corruption, government effectiveness, political stability,
regulatory quality, rule of law, voice and accountability); political stability alone is kept
as a variant for comparison with earlier critmin releases and with studies that use it.
"""

from __future__ import annotations

import pandas as pd

from critmin.schema.validate import DataError, Problem
from critmin.schema.vocabulary import GOVERNANCE_VARIANTS, WGI_INDICATORS

#: Fewest of the six indicators a country-year needs for a mean-of-six score.
MIN_INDICATORS = 4


def eu_score(estimate: pd.Series) -> pd.Series:
    """EU governance risk score 0 (best) to 10 (worst) from a WGI estimate (-2.5 .. 2.5)."""
    return (2.5 - estimate) * 2.0


def mean_of_six(indicators: pd.DataFrame) -> pd.DataFrame:
    """Per (country, year): the mean of the available WGI estimates (at least
    ``MIN_INDICATORS`` of the six) and its EU score. ``indicators`` has columns country, year,
    indicator, estimate."""
    unknown = set(indicators["indicator"]) - WGI_INDICATORS
    if unknown:
        raise ValueError(f"unknown WGI indicators: {sorted(unknown)}")
    grouped = indicators.groupby(["country", "year"])["estimate"]
    out = grouped.agg(["mean", "count"]).reset_index()
    out = out[out["count"] >= MIN_INDICATORS]
    return _variant_rows(out["country"], out["year"], "mean_of_six", out["mean"])


def political_stability(estimates: pd.DataFrame) -> pd.DataFrame:
    """The political-stability variant from (country, year, estimate) rows."""
    return _variant_rows(
        estimates["country"], estimates["year"], "political_stability", estimates["estimate"]
    )


def _variant_rows(
    country: pd.Series, year: pd.Series, variant: str, estimate: pd.Series
) -> pd.DataFrame:
    """Governance-table rows of one variant: country, year, variant, estimate, EU score."""
    return pd.DataFrame(
        {
            "country": country,
            "year": year,
            "variant": variant,
            "estimate": estimate,
            "score": eu_score(estimate),
        }
    ).reset_index(drop=True)


def scores(governance: pd.DataFrame, variant: str) -> pd.DataFrame:
    """The rows of one variant of the governance table. An unknown variant raises ValueError;
    a table without rows of the variant raises DataError naming the file and column."""
    if variant not in GOVERNANCE_VARIANTS:
        raise ValueError(
            f"unknown governance variant {variant!r} (use one of {sorted(GOVERNANCE_VARIANTS)})"
        )
    rows = governance[governance["variant"] == variant]
    if rows.empty:
        raise DataError(
            [Problem("governance.csv", None, "variant", f"no rows for variant {variant!r}")]
        )
    return rows
