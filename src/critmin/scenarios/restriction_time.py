"""Time in the export-restriction rate: three evaluated extensions of the stationary Gamma-Poisson
rate (critmin.scenarios.probability), none of them the default (docs/criticality.md §5 gives the
out-of-sample figures that decided it; ``python -m critmin.scenarios.restriction_check``).

Each extension writes the rate of pair (c, m) in year t as ``lambda_cm · h_c(t)``, with h = 1 at
the **forecast year** F (the year after the window: the rate rank draws from), so the
Gamma-Poisson update of the pair is unchanged except that its exposure is ``E_c = Σ_t h_c(t)``
over the window's years instead of the window's length (and, for recency weighting, its events
are weighted too). The parameters of h are fitted by the **conditional likelihood** of the
event years given each country's count, ``Σ_e log h_c(t_e) - log Σ_t h_c(t)``: a country's level
(alpha, theta_c, phi_cm) cancels, as in the conditional maximum likelihood of the fixed-effects
Poisson panel (Hausman, Hall & Griliches 1984, Econometrica 52:909-938; Cameron & Trivedi 2013,
Regression Analysis of Count Data, 2nd ed., ch. 9).

- :func:`trend` (a): a log-linear trend ``h(t) = exp(beta·(t - F))``, common to every country:
  the Poisson regression of the annual counts on the year (Cameron & Trivedi ch. 3); given the
  total count, the event years are multinomial with probabilities ``∝ exp(beta·t)``, so its
  conditional likelihood is that regression's. The forecast rate is the trend's level at the
  **window's last year**, held flat over the forecast (``h(F) = h(last)``): an exponential fitted
  on a handful of events is not extrapolated (``extrapolate=True`` gives the extrapolated rate,
  printed by the checker as a sensitivity);
- :func:`recency` (b): exponentially discounted exposure and events, weight ``2^(-(F-1-t)/H)``
  for the event or exposure of year t, half-life H chosen among :data:`HALF_LIVES` by the
  one-step-ahead predictive likelihood of the window's annual totals under the Gamma-Poisson
  local-level model with discount factor ``omega = 2^(-1/H)`` (Harvey & Fernandes 1989, J. of
  Business & Economic Statistics 7:407-417): the prior for year t is
  ``Gamma(omega·a, omega·b)`` from the posterior ``Gamma(a, b)`` of year t-1, the predictive
  negative binomial;
- :func:`excitation` (c): a self-exciting country term, ``h_c(t) = 1 + kappa·x_c(t)`` with
  ``x_c(t) = 1`` when c recorded a restriction in the ``k`` years before t (a box kernel in the
  spirit of Hawkes 1971, Biometrika 58:83-90, on annual data), kappa >= 0 and k in
  :data:`MEMORIES` fitted by the conditional likelihood; the forecast year's factor is
  ``1 + kappa·x_c(F)`` from the window's own record.

Only the record of the window enters: the forward checks fit on a window and forecast the years
after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]

from critmin.scenarios.gamma_poisson import nb_loglik

#: Candidate half-lives of recency weighting, years (inf: no discounting).
HALF_LIVES = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, float("inf"))
#: Candidate memories of the self-exciting term, years.
MEMORIES = (1, 2, 3, 5)
#: Bounds of the trend's slope, per year (a factor e^±1 a year is far outside any record).
SLOPE_BOUNDS = (-1.0, 1.0)
KAPPA_MAX = 100.0
#: The predictive of the first year: a Jeffreys Gamma(1/2, 0) prior updated by that year alone.
JEFFREYS_SHAPE = 0.5


@dataclass(frozen=True)
class TimeWeights:
    """A fitted time profile: what the Gamma-Poisson calibration needs of it."""

    label: str
    window: tuple[int, int]
    #: weight of each year of the window in the exposure (common to every country)
    year_weight: NDArray[np.float64]
    #: events weighted by their year's weight (recency) or counted once (trend, excitation)
    weigh_events: bool = False
    #: per-country exposure factors h_c(t) over the window, where they differ from year_weight
    country_weight: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    #: per-country factor of the forecast year's rate (1 where absent)
    boost: dict[str, float] = field(default_factory=dict)
    #: the fitted parameters, for the record (name -> value)
    params: dict[str, float] = field(default_factory=dict)

    @property
    def years(self) -> NDArray[np.int64]:
        return np.arange(self.window[0], self.window[1] + 1)

    def exposure(self, country: str) -> float:
        """E_c: the window's exposure in years at the forecast year's base rate."""
        return float(self.country_weight.get(country, self.year_weight).sum())

    def event_weight(self, year: int) -> float:
        if not self.weigh_events:
            return 1.0
        return float(self.year_weight[year - self.window[0]])

    def describe(self) -> str:
        shown = ", ".join(f"{k} = {v:.3g}" for k, v in self.params.items())
        return f"{self.label}: {shown}"


def event_years(record: pd.DataFrame) -> NDArray[np.int64]:
    """The year of each recorded restriction (its ``start``, YYYY-MM)."""
    years = record["start"].astype(str).str[:4].astype(int)
    return np.asarray(years, dtype=np.int64)


def annual_counts(record: pd.DataFrame, window: tuple[int, int]) -> NDArray[np.float64]:
    """Restrictions recorded in each year of ``window``."""
    years = event_years(record)
    years = years[(years >= window[0]) & (years <= window[1])]
    return np.bincount(years - window[0], minlength=window[1] - window[0] + 1).astype(float)


# --- (a) log-linear trend ---------------------------------------------------------------------


def trend_loglik(slope: float, counts: NDArray[np.float64]) -> float:
    """Conditional (multinomial) log-likelihood of the event years given the total, under
    ``rate ∝ exp(slope·t)``: the Poisson regression's profile likelihood of the slope."""
    t = np.arange(len(counts), dtype=float)
    eta = slope * t
    log_p = eta - np.log(np.exp(eta - eta.max()).sum()) - eta.max()
    return float(counts @ log_p)


def fit_slope(counts: NDArray[np.float64]) -> tuple[float, float]:
    """Maximum-likelihood slope of the log rate per year and its standard error (observed
    information: the variance of t under the fitted multinomial, times the total)."""
    total = float(counts.sum())
    if total == 0:
        return 0.0, float("inf")
    fit = minimize_scalar(lambda b: -trend_loglik(b, counts), bounds=SLOPE_BOUNDS, method="bounded")
    slope = float(fit.x)
    t = np.arange(len(counts), dtype=float)
    p = np.exp(slope * t - (slope * t).max())
    p /= p.sum()
    var_t = float(p @ t**2 - (p @ t) ** 2)
    se = 1.0 / np.sqrt(total * var_t) if var_t > 0 else float("inf")
    return slope, float(se)


def trend(record: pd.DataFrame, window: tuple[int, int], extrapolate: bool = False) -> TimeWeights:
    """(a) the log-linear trend fitted on ``window``; the forecast year's rate is the level at
    the window's last year (``extrapolate``: one year past it)."""
    slope, se = fit_slope(annual_counts(record, window))
    years = np.arange(window[0], window[1] + 1)
    anchor = window[1] + 1 if extrapolate else window[1]
    label = "trend, extrapolated" if extrapolate else "trend"
    return TimeWeights(
        label,
        window,
        np.exp(slope * (years - anchor)),
        params={"slope/yr": slope, "se": se, "rate x/yr": float(np.exp(slope))},
    )


def trend_over(weights: TimeWeights, years: tuple[int, int]) -> float:
    """Σ over ``years`` of the extrapolated trend relative to the forecast year (the
    sensitivity: the multi-year count an extrapolated trend implies)."""
    slope = weights.params["slope/yr"]
    t = np.arange(years[0], years[1] + 1)
    return float(np.exp(slope * (t - (weights.window[1] + 1))).sum())


# --- (b) recency weighting --------------------------------------------------------------------


def discount_loglik(counts: NDArray[np.float64], half_life: float) -> float:
    """One-step-ahead predictive log-likelihood of ``counts[1:]`` under the Gamma-Poisson
    local level with discount ``omega = 2^(-1/half_life)`` (Harvey & Fernandes 1989)."""
    omega = 0.0 if half_life <= 0 else 2.0 ** (-1.0 / half_life)
    a, b = JEFFREYS_SHAPE + counts[0], 1.0
    total = 0.0
    for n in counts[1:]:
        a, b = omega * a, omega * b
        total += float(nb_loglik(n, a, a / b))
        a, b = a + n, b + 1.0
    return total


def recency(record: pd.DataFrame, window: tuple[int, int]) -> TimeWeights:
    """(b) discounted exposure and events, the half-life chosen on ``window`` alone."""
    counts = annual_counts(record, window)
    scores = {h: discount_loglik(counts, h) for h in HALF_LIVES}
    best = max(HALF_LIVES, key=lambda h: (round(scores[h], 9), h))  # ties: the longer
    years = np.arange(window[0], window[1] + 1)
    weight = (
        np.power(2.0, -(window[1] - years) / best) if np.isfinite(best) else np.ones(len(years))
    )
    return TimeWeights(
        "recency",
        window,
        weight.astype(float),
        weigh_events=True,
        params={"half-life yr": best, "predictive loglik": scores[best]},
    )


# --- (c) self-exciting term -------------------------------------------------------------------


def recent_indicator(
    event_years_of: dict[str, NDArray[np.int64]], years: NDArray[np.int64], memory: int
) -> dict[str, NDArray[np.float64]]:
    """x_c(t): 1 where country c recorded a restriction in the ``memory`` years before t."""
    out = {}
    for c, ev in event_years_of.items():
        lag = years[:, None] - ev[None, :]
        out[c] = ((lag >= 1) & (lag <= memory)).any(axis=1).astype(float)
    return out


def excitation_loglik(
    kappa: float,
    event_years_of: dict[str, NDArray[np.int64]],
    years: NDArray[np.int64],
    memory: int,
) -> float:
    """Conditional log-likelihood of each country's event years given its count, under
    ``h_c(t) = 1 + kappa·x_c(t)``."""
    x = recent_indicator(event_years_of, years, memory)
    total = 0.0
    for c, ev in event_years_of.items():
        h = 1.0 + kappa * x[c]
        total += float(np.log(h[ev - years[0]]).sum() - len(ev) * np.log(h.sum()))
    return total


def _event_years_of(record: pd.DataFrame, window: tuple[int, int]) -> dict[str, NDArray[np.int64]]:
    ev = event_years(record)
    inside = (ev >= window[0]) & (ev <= window[1])
    countries = record["country"].astype(str).to_numpy()[inside]
    ev = ev[inside]
    return {c: ev[countries == c] for c in sorted(set(countries))}


def excitation_at(
    record: pd.DataFrame, window: tuple[int, int], kappa: float, memory: int
) -> TimeWeights:
    """The self-exciting profile of given ``kappa`` and ``memory`` on ``window``'s record."""
    years = np.arange(window[0], window[1] + 1)
    of = _event_years_of(record, window)
    x = recent_indicator(of, years, memory)
    forecast = recent_indicator(of, np.array([window[1] + 1]), memory)
    return TimeWeights(
        "self-exciting",
        window,
        np.ones(len(years)),
        country_weight={c: 1.0 + kappa * x[c] for c in of},
        boost={c: 1.0 + kappa * float(forecast[c][0]) for c in of},
        params={
            "kappa": kappa,
            "memory yr": float(memory),
            "conditional loglik": excitation_loglik(kappa, of, years, memory),
        },
    )


def excitation(record: pd.DataFrame, window: tuple[int, int]) -> TimeWeights:
    """(c) the self-exciting term: kappa and the memory k fitted on ``window`` by the
    conditional likelihood. With a covariate that feeds back from past counts that estimator is
    biased toward 0 in a short record (the fixed-effects Poisson estimator assumes strictly
    exogenous covariates; tests/scenarios/test_restriction_time.py measures the bias);
    restriction_check also profiles the random-effects likelihood on its forward windows."""
    years = np.arange(window[0], window[1] + 1)
    of = _event_years_of(record, window)
    best = (0.0, MEMORIES[0], excitation_loglik(0.0, of, years, MEMORIES[0]))
    for k in MEMORIES:
        fit = minimize_scalar(
            lambda v, k=k: -excitation_loglik(v, of, years, k),
            bounds=(0.0, KAPPA_MAX),
            method="bounded",
        )
        kappa = float(fit.x) if -fit.fun > excitation_loglik(0.0, of, years, k) + 1e-9 else 0.0
        ll = excitation_loglik(kappa, of, years, k)
        if ll > best[2] + 1e-9:
            best = (kappa, k, ll)
    return excitation_at(record, window, best[0], best[1])


#: The evaluated options, by the name restriction_check prints.
OPTIONS = {"trend": trend, "recency": recency, "self_exciting": excitation}
