"""How likely a supplier-country disruption is: one event-rate convention for rank, simulate and
optimize.

**Convention.** Every disruption has an annual *rate* λ (events per year, Poisson). Over a
horizon of T years it happens at least once with probability ``1 - exp(-λ·T)``, at a month drawn
uniformly in the horizon (:func:`occurrence_probability`); a one-year ranking and a five-year
planning ensemble therefore imply the same λ.

**Export restrictions** (a two-level Gamma-Poisson rate per supplier and mineral, built on the
update of critmin.scenarios.gamma_poisson that the security register's outage evidence also
uses). The unit is a *pair*: a country with a bundled share of a stage of a chain mineral
(latest year; a mineral whose parent the country also produces, e.g. terbium under China's rare
earths, belongs to its parent's pair and takes its rate, so one rare-earth quota counts once).
Each pair is observed over the ``WINDOW`` years of the record (``export_restrictions``: WTO
panel reports, official announcements) and its restrictions n_cm counted. Its rate, in
restrictions per year, is ``lambda_cm = mu_cm · theta_c · phi_cm``:

- *prior mean* ``mu_cm = alpha · g_c · s_cm``: g_c the country's governance risk (the EU JRC
  score ``(2.5 - WGI)·2`` over 10, 0 best to 1 worst, latest year), s_cm its largest stage
  share of the mineral (where a country holds the market, a restriction moves it), alpha set so
  the pooled expected count over the window equals the recorded count (the Poisson estimate;
  standard error ``alpha/√n``). The EU trade parameter t_cm is left out: every t = 1.5 row of
  ``trade_parameters`` is a recorded restriction, which the count already carries;
- *country* ``theta_c ~ Gamma(a, a)`` (mean 1): what the country's record on all its pairs says
  about the country (a bauxite ban says something about its nickel);
- *pair* ``phi_cm ~ Gamma(b, b)`` (mean 1): what is left to the pair's own record (a cobalt
  ban says more about cobalt than about diamonds). Given theta_c the pair's posterior mean is
  the Gamma-Poisson update ``(b + n_cm) / (b / (mu_cm · theta_c) + E)``; theta_c is integrated
  over its posterior given every count of the country (negative-binomial likelihood of each
  pair) on a fixed grid whose cells carry the exact prior mass.

The shapes ``a`` and ``b`` maximise the marginal (negative-binomial, theta_c integrated out)
likelihood of all the counts: parametric empirical Bayes (Clayton & Kaldor 1987). Out-of-sample
checks (fit on 2010-2019, predict 2020-2025; fit on 2010-2021, predict 2022-2025; leave one
episode out) are in critmin.scenarios.restriction_check and docs/criticality.md §5. The rate is
stationary: a trend, recency weighting and a self-exciting term (``calibrate(..., time=...)``,
critmin.scenarios.restriction_time) were evaluated there and not adopted.

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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize  # type: ignore[import-untyped]
from scipy.special import gammainc, logsumexp  # type: ignore[import-untyped]

from critmin.data.load import Dataset
from critmin.data.per_dataset import per_dataset
from critmin.scenarios.gamma_poisson import SHAPE_BOUNDS, nb_loglik, posterior_mean

if TYPE_CHECKING:
    from critmin.scenarios.restriction_time import TimeWeights

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


def stage_share_of(shares: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Each (country, mineral)'s largest stage share (the residual 'OTH' left out)."""
    top = shares[shares["country"] != "OTH"].groupby(["country", "mineral"])["share"].max()
    return {
        (str(c), str(m)): float(v)
        for (c, m), v in zip(top.index.to_list(), top.to_numpy(float), strict=True)
    }


def restriction_pairs(shares: pd.DataFrame, parents: dict[str, str]) -> pd.DataFrame:
    """(country, mineral, share): the pairs a restriction record is counted on, a child
    mineral folded into its parent where the country also produces the parent."""
    top = stage_share_of(shares)
    rows = [
        (c, m, s) for (c, m), s in top.items() if not (parents.get(m) and (c, parents[m]) in top)
    ]
    return pd.DataFrame(rows, columns=["country", "mineral", "share"])


def record_in(ds: Dataset, window: tuple[int, int]) -> pd.DataFrame:
    """The export restrictions recorded in ``window`` (country, mineral, start)."""
    table = ds["export_restrictions"]
    years = table["start"].str[:4].astype(int)
    return table[years.between(*window)][["country", "mineral", "start"]].reset_index(drop=True)


#: Cell edges of the country factor theta_c (log-spaced; the end cells reach 0 and infinity).
THETA_EDGES = np.geomspace(1e-6, 1e4, 401)


def theta_cells(shape: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The prior Gamma(shape, shape) on cells of :data:`THETA_EDGES`: each cell's exact mass
    and its node, the prior mean of theta within the cell (θ·Gamma(a, a) is Gamma(a + 1, a),
    so the nodes keep the prior mean exactly 1)."""

    def masses(k: float) -> NDArray[np.float64]:
        cdf = gammainc(k, shape * THETA_EDGES)
        return np.diff(np.concatenate([[0.0], cdf, [1.0]]))

    mass, first = masses(shape), masses(shape + 1.0)
    inner = np.sqrt(THETA_EDGES[1:] * THETA_EDGES[:-1])
    fallback = np.concatenate([[THETA_EDGES[0] / 2], inner, [THETA_EDGES[-1] * 2]])
    with np.errstate(divide="ignore", invalid="ignore"):
        nodes = np.where((mass > 0) & (first > 0), first / mass, fallback)
    return mass, nodes


def _log_mass(mass: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore"):  # a cell of no prior mass has log-weight -inf
        return np.log(mass)


@dataclass(frozen=True, eq=False)  # arrays inside: compared by identity
class Calibration:
    """A fitted two-level Gamma-Poisson restriction model (see the module docstring)."""

    alpha: float  # prior scale: restrictions per year per unit of g·s
    alpha_se: float
    events: int  # restrictions recorded in the window, on the pairs
    exposure: float  # Σ g·s·years over the pairs
    pairs: int
    years: int
    country_shape: float  # a
    pair_shape: float  # b
    governance: dict[str, float] = field(default_factory=dict)
    shares: dict[tuple[str, str], float] = field(default_factory=dict)  # of each pair
    family: dict[tuple[str, str], str] = field(default_factory=dict)  # (c, child) -> parent
    pair_events: dict[tuple[str, str], float] = field(default_factory=dict)  # n_cm
    #: theta_c's nodes and prior weights (theta_cells), and its posterior weights by country
    theta: NDArray[np.float64] = field(default_factory=lambda: np.ones(1))
    theta_prior: NDArray[np.float64] = field(default_factory=lambda: np.ones(1))
    country_posterior: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    window: tuple[int, int] = WINDOW
    #: a time profile (critmin.scenarios.restriction_time; None: the stationary default): the
    #: country's exposure in years at the forecast year's rate, and that year's factor
    country_years: dict[str, float] = field(default_factory=dict)
    boost: dict[str, float] = field(default_factory=dict)
    time_label: str = ""
    #: the maximised marginal log-likelihood of the pair counts (theta_c integrated out)
    loglik: float = float("nan")

    def exposure_of(self, country: str) -> float:
        """E_c, years of exposure at the forecast year's rate (the window's length without a
        time profile)."""
        return self.country_years.get(country, float(self.years))

    def describe(self) -> str:
        return (
            f"Gamma-Poisson: prior alpha*g*s, alpha = {self.alpha:.4f} +/- "
            f"{self.alpha_se:.4f}/yr; country shape {self.country_shape:.3g}, pair shape "
            f"{self.pair_shape:.3g}; from {self.events} recorded export restrictions "
            f"{self.window[0]}-{self.window[1]} over {self.pairs} country-mineral pairs"
            + (f"; {self.time_label}" if self.time_label else "")
        )

    def pair_of(self, country: str, mineral: str) -> tuple[str, str]:
        return (country, self.family.get((country, mineral), mineral))

    def prior_mean(self, country: str, mineral: str) -> float:
        """mu_cm = alpha·g_c·s_cm, restrictions per year (s = MAJOR_SHARE where the country
        has no bundled share of the mineral)."""
        g = self.governance.get(country, 0.5)
        s = self.shares.get(self.pair_of(country, mineral), MAJOR_SHARE)
        return self.alpha * g * s

    def country_factor(self, country: str) -> float:
        """Posterior mean of theta_c (1 a priori)."""
        weights = self.country_posterior.get(country, self.theta_prior)
        return float(weights @ self.theta)

    def rate(self, country: str, mineral: str) -> float:
        """lambda_cm, the posterior mean restriction rate (events per year)."""
        mu = self.prior_mean(country, mineral)
        if not mu > 0:
            return 0.0
        n = self.pair_events.get(self.pair_of(country, mineral), 0)
        weights = self.country_posterior.get(country, self.theta_prior)
        exposure = self.exposure_of(country)
        given_theta = posterior_mean(mu * self.theta, self.pair_shape, n, exposure)
        return float(weights @ given_theta) * self.boost.get(country, 1.0)


def _country_loglik(
    n: NDArray[np.float64],
    expected: NDArray[np.float64],
    country: NDArray[np.intp],
    b: float,
    theta: NDArray[np.float64],
) -> NDArray[np.float64]:
    """log P(counts of country c | theta) at the nodes ``theta``: (countries, nodes); every
    country index from 0 to its largest appears in ``country``."""
    order = np.argsort(country, kind="stable")
    per_pair = nb_loglik(n[order, None], b, expected[order, None] * theta[None, :])
    starts = np.flatnonzero(np.diff(country[order], prepend=-1))
    return np.asarray(np.add.reduceat(per_pair, starts, axis=0), dtype=float)


def _marginal(
    log_ab: NDArray[np.float64],
    n: NDArray[np.float64],
    expected: NDArray[np.float64],
    country: NDArray[np.intp],
) -> float:
    a, b = np.exp(np.clip(log_ab, *np.log(SHAPE_BOUNDS)))
    mass, theta = theta_cells(float(a))
    loglik = _country_loglik(n, expected, country, float(b), theta) + _log_mass(mass)[None, :]
    return -float(logsumexp(loglik, axis=1).sum())


def calibrate(
    ds: Dataset,
    shares: pd.DataFrame,
    parents: dict[str, str],
    window: tuple[int, int] = WINDOW,
    record: pd.DataFrame | None = None,
    time: TimeWeights | None = None,
) -> Calibration:
    """Fit the Gamma-Poisson restriction model on the restrictions recorded in ``window``
    (``record``: a record to use instead of the bundled one, e.g. with an episode held out;
    ``time``: a fitted time profile, an evaluated option that is not the default)."""
    g = governance_risk(ds)
    record = record_in(ds, window) if record is None else record
    pairs = restriction_pairs(shares, parents)
    keys = [(str(c), str(m)) for c, m in zip(pairs["country"], pairs["mineral"], strict=True)]
    known = set(keys)
    family = {
        (c, m): parents[m]
        for c, m in stage_share_of(shares)
        if parents.get(m) and (c, parents[m]) in known
    }
    years = window[1] - window[0] + 1
    weight = np.array([g.get(c, 0.5) * s for (c, _), s in zip(keys, pairs["share"], strict=True)])
    countries = sorted({c for c, _ in keys})
    country_years = {} if time is None else {c: time.exposure(c) for c in countries}
    pair_years = np.array([country_years.get(c, float(years)) for c, _ in keys])
    pair_events: dict[tuple[str, str], float] = dict.fromkeys(keys, 0.0)
    recorded = 0
    for c, m, start in zip(record["country"], record["mineral"], record["start"], strict=True):
        key = (str(c), family.get((str(c), str(m)), str(m)))
        if key in known:
            recorded += 1
        w = 1.0 if time is None else time.event_weight(int(str(start)[:4]))
        pair_events[key] = pair_events.get(key, 0.0) + w
    n = np.array([pair_events[k] for k in keys], dtype=float)
    events = recorded
    exposure = float(weight @ pair_years)
    alpha = float(n.sum()) / exposure if exposure > 0 else 0.0
    se = alpha / np.sqrt(events) if events > 0 else alpha
    expected = alpha * weight * pair_years  # mu_cm·E_c
    index = np.array([countries.index(c) for c, _ in keys], dtype=np.intp)
    a, b = SHAPE_BOUNDS[1], SHAPE_BOUNDS[1]
    if events > 0:
        start = np.log([1.0, 1.0])
        fit = minimize(_marginal, start, args=(n, expected, index), method="Nelder-Mead")
        a, b = (float(v) for v in np.exp(np.clip(fit.x, *np.log(SHAPE_BOUNDS))))
    marginal = -_marginal(np.log([a, b]), n, expected, index)
    mass, theta = theta_cells(a)
    loglik = _country_loglik(n, expected, index, b, theta) + _log_mass(mass)[None, :]
    post = np.exp(loglik - logsumexp(loglik, axis=1, keepdims=True))
    return Calibration(
        alpha=alpha,
        alpha_se=float(se),
        events=events,
        exposure=exposure,
        pairs=len(keys),
        years=years,
        country_shape=a,
        pair_shape=b,
        governance=g,
        shares=dict(zip(keys, pairs["share"].astype(float), strict=True)),
        family=family,
        pair_events=pair_events,
        theta=theta,
        theta_prior=mass,
        country_posterior={c: post[i] for i, c in enumerate(countries)},
        window=window,
        country_years=country_years,
        boost={} if time is None else dict(time.boost),
        time_label="" if time is None else time.describe(),
        loglik=marginal,
    )


def restriction_rate(
    ds: Dataset, calibration: Calibration, country: str, mineral: str, parent: str = ""
) -> float:
    """λ_cm: annual rate (events per year) of an export restriction of ``mineral`` by
    ``country``, the Gamma-Poisson posterior mean (``ds`` and ``parent`` are kept for the
    callers; the calibration holds the governance, shares and families it was fitted on)."""
    del ds, parent
    return calibration.rate(country, mineral)


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
