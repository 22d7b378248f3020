"""How likely a supplier-country disruption is: one event-rate convention for rank, simulate and
optimize.

**Convention.** Every disruption has an annual *rate* λ (events per year, Poisson). Over a
horizon of T years it happens at least once with probability ``1 - exp(-λ·T)``, at a month drawn
uniformly in the horizon (:func:`occurrence_probability`); a one-year ranking and a five-year
planning ensemble therefore imply the same λ.

**Export restrictions.** The rate at which supplier country c restricts exports of mineral m is

    λ_cm = alpha · g_c · t_cm · R_c

with g_c the country's governance risk (the EU JRC score ``(2.5 - WGI)·2`` over 10, 0 best to
1 worst; the bundled WGI dimension(s), latest year), t_cm the EU trade parameter (1.5 for a
recorded export-restriction regime, 0.8 for a U.S. free-trade partner, 1 otherwise;
``trade_parameters``), R_c = 1 + the number of export restrictions country c imposed in the
window (its record; the OECD inventory of export restrictions on industrial raw materials is
the public register of such measures), and alpha calibrated on the historical record: the
number of export restrictions imposed by major suppliers (``export_restrictions``, 2010-2025,
WTO panel reports and official announcements) equals ``alpha · Σ g_c·t_cm·R_c · years`` over
every (country, mineral) pair in which the country holds at least ``MAJOR_SHARE`` of a stage
(latest year). The standard error of alpha is Poisson, ``alpha/√n``. The trade parameters and
R_c record the same episodes the calibration counts, so they are in-sample; the out-of-sample
check fits on 2010-2019 and predicts the count of 2020-2025 (docs/criticality.md).

**Background outages** (accidents, strikes, weather, unrest) keep the library's order of
magnitude (5% a year, ASSUMPTION) but differ by country in proportion to governance risk:
``p_c = p̄ · g_c / mean(g)``, clipped to [1%, 15%].

**Regime states.** A regime in the event library is in one of four states: ``in_force``,
``tightened``, ``suspended`` or ``lifted``. A regime in force has already shocked the market (its
approval path has run its course); what can happen next is a new tightening, at the country's
restriction rate above. A suspended regime returns at ``REINSTATE_RATE`` a year (ASSUMPTION: the
October 2025 package is suspended for one year, so its return is an even chance within the
year). A lifted regime has rate 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from critmin.data.load import Dataset
from critmin.data.per_dataset import per_dataset

MAJOR_SHARE = 0.10
WINDOW = (2010, 2025)
BACKGROUND_RATE = 0.05
BACKGROUND_BOUNDS = (0.01, 0.15)
REINSTATE_RATE = float(-np.log(0.5))  # an even chance within a year


class RegimeState(StrEnum):
    IN_FORCE = "in_force"
    TIGHTENED = "tightened"
    SUSPENDED = "suspended"
    LIFTED = "lifted"


def occurrence_probability(rate: float, years: float = 1.0) -> float:
    """Probability that an event with annual ``rate`` happens at least once in ``years``."""
    return float(1.0 - np.exp(-max(rate, 0.0) * years))


def rate_of_probability(p: float, years: float = 1.0) -> float:
    """The annual rate that gives probability ``p`` over ``years``."""
    return float(-np.log(max(1.0 - p, 1e-12)) / years)


def governance_risk(ds: Dataset) -> dict[str, float]:
    """Governance risk per country, 0 (best) to 1 (worst): the bundled EU-style score / 10,
    latest year."""
    gov = ds["governance"]
    if "variant" in gov.columns:  # the EU mean of the six WGI dimensions where bundled
        variants = set(gov["variant"])
        gov = gov[gov["variant"] == ("mean_of_six" if "mean_of_six" in variants else min(variants))]
    latest = gov.sort_values("year").groupby("country").tail(1)
    return {
        str(c): float(np.clip(s / 10.0, 0.0, 1.0))
        for c, s in zip(latest["country"], latest["score"], strict=True)
    }


def trade_parameter(ds: Dataset, country: str, mineral: str, parent: str = "") -> float:
    """The EU trade parameter t_c of ``country`` for ``mineral`` (its own row, its parent's,
    or the country's 'all' row; 1 without one)."""
    table = _trade_parameters(ds)
    values = [table[(country, m)] for m in (mineral, parent, "all") if (country, m) in table]
    return max(values) if values else 1.0


@per_dataset
def _trade_parameters(ds: Dataset) -> dict[tuple[str, str], float]:
    tp = ds["trade_parameters"]
    table: dict[tuple[str, str], float] = {}
    for c, m, v in zip(tp["country"], tp["mineral"], tp["t_param"], strict=True):
        key = (str(c), str(m))
        table[key] = max(table.get(key, float("-inf")), float(v))
    return table


def major_suppliers(shares: pd.DataFrame) -> pd.DataFrame:
    """(mineral, country, stage, share) where the country holds at least MAJOR_SHARE."""
    return shares[(shares["share"] >= MAJOR_SHARE) & (shares["country"] != "OTH")]


@dataclass(frozen=True)
class Calibration:
    alpha: float
    alpha_se: float
    events: int
    exposure: float  # Σ g·t·R·years over major-supplier pairs
    pairs: int
    years: int
    record: dict[str, float] = field(default_factory=dict)  # R_c = 1 + restrictions recorded
    window: tuple[int, int] = WINDOW

    def describe(self) -> str:
        return (
            f"alpha = {self.alpha:.4f} +/- {self.alpha_se:.4f} (Poisson) per unit of g*t per "
            f"year, from {self.events} recorded export restrictions "
            f"{self.window[0]}-{self.window[1]} "
            f"over {self.pairs} major-supplier pairs"
        )


def record_factor(ds: Dataset, window: tuple[int, int] = WINDOW) -> dict[str, float]:
    """R_c = 1 + the number of export restrictions country c imposed in ``window`` (its
    record, the OECD-inventory idea; Laplace-smoothed so a clean record is 1, not 0)."""
    record = ds["export_restrictions"]
    years = record["start"].str[:4].astype(int)
    counts = record[years.between(*window)]["country"].value_counts()
    return {str(c): 1.0 + float(n) for c, n in counts.items()}


def calibrate(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    window: tuple[int, int] = WINDOW,
) -> Calibration:
    """Fit alpha on the restrictions recorded in ``window`` (see the module docstring)."""
    g = governance_risk(ds)
    record = record_factor(ds, window)
    major = major_suppliers(shares)[["mineral", "country"]].drop_duplicates()
    years = window[1] - window[0] + 1
    weight = sum(
        g.get(c, 0.5) * trade_parameter(ds, c, m, parents.get(m, "")) * record.get(c, 1.0)
        for m, c in zip(major["mineral"], major["country"], strict=True)
    )
    table = ds["export_restrictions"]
    n = int(table["start"].str[:4].astype(int).between(*window).sum())
    exposure = weight * years
    alpha = n / exposure if exposure > 0 else 0.0
    se = alpha / np.sqrt(n) if n > 0 else alpha
    return Calibration(alpha, float(se), n, float(exposure), len(major), years, record, window)


def restriction_rate(
    ds: Dataset, calibration: Calibration, country: str, mineral: str, parent: str = ""
) -> float:
    """λ_cm: annual rate of an export restriction of ``mineral`` by ``country``."""
    g = governance_risk(ds).get(country, 0.5)
    record = calibration.record.get(country, 1.0)
    return calibration.alpha * g * trade_parameter(ds, country, mineral, parent) * record


def background_rates(ds: Dataset, countries: list[str]) -> dict[str, float]:
    """Annual probability of a background outage per country (governance-scaled)."""
    g = governance_risk(ds)
    mean = float(np.mean(list(g.values()))) if g else 0.5
    lo, hi = BACKGROUND_BOUNDS
    return {c: float(np.clip(BACKGROUND_RATE * g.get(c, mean) / mean, lo, hi)) for c in countries}


def regime_rate(state: RegimeState, country_rate: float) -> float:
    """Annual rate of a new shock from a library regime in ``state``."""
    match state:
        case RegimeState.IN_FORCE | RegimeState.TIGHTENED:
            return country_rate
        case RegimeState.SUSPENDED:
            return REINSTATE_RATE
        case RegimeState.LIFTED:
            return 0.0
