"""Hazard rates by country, stage and threat type: a Gamma-Poisson update of prior rates.

Each producing country-stage is a node observed for ``E`` years (the register window). The
incidents of threat ``k`` at node ``(c, s)`` are Poisson with rate ``lambda``; the prior is
``Gamma(alpha0, beta0)`` with mean ``rate_per_year`` and weight ``beta0 = strength_years``
(``security_priors``). With ``n`` incidents in the window the posterior is
``Gamma(alpha0 + n, beta0 + E)`` (critmin.scenarios.gamma_poisson.update, the one
definition the export-restriction rates also use), whose mean

    (alpha0 + n) / (beta0 + E) = w * n / E + (1 - w) * alpha0 / beta0,   w = E / (beta0 + E)

moves from the prior towards the observed rate ``n / E`` as observation accumulates. The
yearly chance of at least one incident is ``1 - exp(-lambda)`` (the posterior mean plugged in).

Only countries the register *observes* accrue exposure: by default those with at least one
entry in the window (a register that has never reported on a country says nothing about it, so
that country keeps the prior); ``observed=`` names them explicitly (an operator's reporting
coverage). With no incidents at all every node keeps the prior.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.scenarios.gamma_poisson import update
from critmin.scenarios.hazards import with_register_hazards
from critmin.scenarios.spec import Scenario
from critmin.schema.tables import THREAT_TYPES
from critmin.schema.vocabulary import DAYS_PER_YEAR

#: Start of the default observation window of the register.
DEFAULT_SINCE = date(2015, 1, 1)


def producing_nodes(chain: SupplyChain) -> pd.DataFrame:
    """(country, stage) pairs with output in the production table (any mineral, any year)."""
    prod = chain.production.fillna(0).sum(("mineral", "year")) > 0
    frame = prod.to_series()
    nodes = frame[frame].reset_index()[["country", "stage"]]
    return nodes[nodes["country"] != "OTH"].reset_index(drop=True)


def register(chain: SupplyChain, stored: pd.DataFrame | None = None) -> pd.DataFrame:
    """The bundled public register plus entries stored in the ledger database."""
    bundled = chain.dataset["security_incidents"][["country", "stage", "threat", "date"]]
    frames = [bundled]
    if stored is not None and not stored.empty:
        frames.append(stored[["country", "stage", "threat", "date"]])
    out = pd.concat(frames, ignore_index=True)
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out


def posterior(
    chain: SupplyChain,
    incidents: pd.DataFrame,
    *,
    since: date = DEFAULT_SINCE,
    until: date | None = None,
    observed: set[str] | None = None,
) -> xr.Dataset:
    """Prior, counts, exposure and posterior by (country, stage, threat); ``observed``: the
    countries the register covers (default: those with an entry in the window)."""
    until = until or date.today()
    if until <= since:
        raise ValueError("until: the observation window must end after it starts")
    exposure = (until - since).days / DAYS_PER_YEAR
    nodes = producing_nodes(chain)
    inside = incidents[(incidents["date"] >= since) & (incidents["date"] <= until)]
    nodes = pd.concat([nodes, inside[["country", "stage"]]]).drop_duplicates()
    countries = sorted(set(nodes["country"]))
    stages = [s for s in chain.production.stage.values if s in set(nodes["stage"])]
    stages += sorted(set(nodes["stage"]) - set(stages))
    threats = sorted(THREAT_TYPES)
    coords = {"country": countries, "stage": stages, "threat": threats}
    shape = (len(countries), len(stages), len(threats))
    counts = np.zeros(shape)
    if not inside.empty:
        idx = (
            pd.Categorical(inside["country"], countries).codes,
            pd.Categorical(inside["stage"], stages).codes,
            pd.Categorical(inside["threat"], threats).codes,
        )
        np.add.at(counts, idx, 1.0)
    node = np.zeros(shape[:2], dtype=bool)
    node[
        pd.Categorical(nodes["country"], countries).codes,
        pd.Categorical(nodes["stage"], stages).codes,
    ] = True
    priors = chain.dataset["security_priors"].set_index("threat").reindex(threats)
    beta0 = priors["strength_years"].to_numpy(float)
    alpha0 = priors["rate_per_year"].to_numpy(float) * beta0
    dims = ("country", "stage", "threat")
    covered = set(inside["country"]) if observed is None else set(observed)
    seen = np.array([c in covered for c in countries], dtype=float)
    alpha, beta = update(
        alpha0[None, None, :],
        beta0[None, None, :],
        counts,
        exposure * np.broadcast_to(seen[:, None, None], shape),
    )
    rate = np.where(node[:, :, None], alpha / beta, np.nan)
    return xr.Dataset(
        {
            "incidents": (dims, counts),
            "alpha": (dims, alpha),
            "beta": (dims, beta),
            "observed": (("country",), seen.astype(bool)),
            "rate": (dims, rate),
            "annual_probability": (dims, 1.0 - np.exp(-rate)),
            "prior_rate": (("threat",), alpha0 / beta0),
        },
        coords=coords,
        attrs={
            "exposure_years": exposure,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "method": "Gamma-Poisson posterior mean per producing country-stage-year",
        },
    )


def hazard_rates(
    chain: SupplyChain,
    stored: pd.DataFrame | None = None,
    *,
    since: date = DEFAULT_SINCE,
    until: date | None = None,
    observed: set[str] | None = None,
) -> xr.DataArray:
    """Posterior mean incidents per year by (country, stage, threat); NaN where a country has
    no output at a stage. The disruption engine can read this in place of its flat rate."""
    post = posterior(chain, register(chain, stored), since=since, until=until, observed=observed)
    out = post["rate"]
    out.attrs = {**post.attrs, "unit": "incidents per country-stage-year"}
    return out


def annual_outage_probability(
    chain: SupplyChain,
    stored: pd.DataFrame | None = None,
    *,
    since: date = DEFAULT_SINCE,
    until: date | None = None,
    observed: set[str] | None = None,
) -> xr.DataArray:
    """Yearly chance of at least one security incident of any type by (country, stage): the
    form of the disruption engine's background hazard (``1 - exp(-sum of threat rates)``)."""
    rates = hazard_rates(chain, stored, since=since, until=until, observed=observed)
    total = rates.sum("threat", min_count=1)
    out = xr.DataArray(1.0 - np.exp(-total.to_numpy()), coords=total.coords, dims=total.dims)
    out.name = "annual_probability"
    out.attrs = {**rates.attrs, "unit": "fraction"}
    return out


def prior_probability(chain: SupplyChain) -> float:
    """Yearly chance of at least one incident at a node the register does not observe: the
    priors' rates summed over threat types (``security_priors``)."""
    priors = chain.dataset["security_priors"]
    return float(1.0 - np.exp(-priors["rate_per_year"].astype(float).sum()))


def register_background(
    chain: SupplyChain,
    scenario: Scenario | None = None,
    stored: pd.DataFrame | None = None,
    *,
    since: date = DEFAULT_SINCE,
    until: date | None = None,
    observed: set[str] | None = None,
) -> Scenario:
    """``scenario`` (default: the library's ``background``) with its flat outage hazards
    replaced by the register's yearly outage probability per country and stage."""
    from critmin.scenarios.load import load_scenario  # noqa: PLC0415

    base = scenario if scenario is not None else load_scenario("background")
    probability = annual_outage_probability(
        chain, stored, since=since, until=until, observed=observed
    )
    return with_register_hazards(base, probability, prior_probability(chain))


def register_window_end(chain: SupplyChain, incidents: pd.DataFrame) -> date:
    """End of the register's observation window for the ranking's background hazard: the end
    of the dataset's latest year, or the latest incident if later (never the clock, so that
    the same data and seed give the same numbers on any day)."""
    end = date(int(chain.production.year.max()), 12, 31)
    if not incidents.empty:
        end = max(end, incidents["date"].max())
    return end


def register_factor(
    chain: SupplyChain, stored: pd.DataFrame | None = None
) -> dict[tuple[str, str], float]:
    """Per observed (country, stage): the register's posterior yearly outage probability over
    the prior's, the factor the disruption set applies to its governance-scaled background rate.
    Countries the register does not observe keep a factor of 1 (they are left out)."""
    incidents = register(chain, stored)
    if incidents.empty:
        return {}
    post = posterior(chain, incidents, until=register_window_end(chain, incidents))
    prior = prior_probability(chain)
    if not prior > 0:
        return {}
    union = 1.0 - xr.apply_ufunc(np.exp, -post["rate"].sum("threat", min_count=1))
    out: dict[tuple[str, str], float] = {}
    for country in post.country.values[post["observed"].values]:
        for stage in post.stage.values:
            value = float(union.sel(country=country, stage=stage))
            if np.isfinite(value):
                out[(str(country), str(stage))] = value / prior
    return out
