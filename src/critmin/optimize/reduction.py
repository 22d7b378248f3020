"""Scenario reduction for the reserve programme: N weighted scenarios in place of S, and the
error it costs.

Each scenario is its loss vector without a reserve, l_i = shortfall x loss per t over (period,
mineral), USD; the distance between two scenarios is the L1 norm of the difference,
c(i, j) = ||l_i - l_j||_1. The kept scenarios are selected (by default on each scenario's loss
by mineral over the horizon, which is what a stock must cover) by fast forward selection (Heitsch &
Romisch 2003, Comput. Optim. Appl. 24:187-206) or, for large ensembles, by k-medoids in L1
(Park & Jun 2009, Expert Syst. Appl. 36:3336-3341, seeded k-medoids++ start); every deleted
scenario's probability goes to its nearest kept one (the optimal redistribution of Dupacova,
Growe-Kuska & Romisch 2003, Math. Program. 95:493-511). The Kantorovich distance of that
redistribution is D = sum_i p_i min_j c(i, j), USD.

Why D bounds the error: with the first stage fixed, a scenario's optimal loss moves by at most
||l_i - l_j||_1 when its shortfall moves from s_i to s_j (keep the same releases; every extra
tonne short costs its loss per t), so the expected loss moves by at most D and the CVaR_alpha by
at most D / (1 - alpha). The agreements' expected cost is linear in their volume, so its change is
at most sum_a max_volume_a |cost_a(full) - cost_a(reduced)|. Hence, for every first stage,
|F_full - F_reduced| <= eps = (1 + lambda / (1 - alpha)) D + that agreement term; the optimal
objectives differ by at most eps, and the reduced plan costs at most 2 eps more than the full
optimum when evaluated on the full ensemble.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from scipy.spatial.distance import cdist  # type: ignore[import-untyped]

from critmin.optimize.ensemble import Ensemble
from critmin.optimize.weights import weights as probability

if TYPE_CHECKING:
    from critmin.optimize.problem import Agreements, Risk

#: "auto" uses forward selection while its work, kept x scenarios^2 distance updates, stays
#: below this (about 2 s here; it also holds an S x S matrix), k-medoids beyond.
FORWARD_WORK = 5e8
#: k-medoids: candidates tried per cluster for its new medoid, and iterations at most.
CANDIDATES = 64
ITERATIONS = 20
METHODS = ("auto", "forward", "medoids")
FEATURES = ("totals", "paths")


def loss_totals(ens: Ensemble) -> np.ndarray:
    """Each scenario's loss without a reserve over the horizon, USD, by mineral: (scenario,
    mineral). What a stock must cover is mostly its mineral's total, so scenarios are selected
    on these; the distance D is still measured on the full loss vectors."""
    out: np.ndarray = ens.loss().sum("period").transpose("scenario", "mineral").values
    return np.ascontiguousarray(out)


def loss_vectors(ens: Ensemble) -> np.ndarray:
    """Each scenario's loss without a reserve, USD, flattened over (period, mineral)."""
    loss = ens.loss().transpose("scenario", "period", "mineral").values
    return np.ascontiguousarray(loss.reshape(ens.scenarios, -1))


@dataclass(frozen=True)
class Reduction:
    """The reduced ensemble and what it costs."""

    ensemble: Ensemble  # the kept scenarios, with their redistributed weights
    kept: np.ndarray  # positions of the kept scenarios in the full ensemble
    nearest: np.ndarray  # per full scenario, the position (in ``kept``) it was moved to
    distance_usd: float  # Kantorovich distance D of the redistribution, USD
    method: str
    seconds: float
    full_scenarios: int

    def error_bound(self, full: Ensemble, risk: Risk, agreements: Agreements) -> float:
        """eps, USD: the bound on |F_full - F_reduced| for every first stage (module doc)."""
        lipschitz = 1.0 + (risk.weight / (1.0 - risk.alpha) if risk.weight > 0 else 0.0)
        term = 0.0
        if len(agreements.frame):
            gap = abs(agreements.unit_cost(full) - agreements.unit_cost(self.ensemble))
            vmax = agreements.frame["max_volume_t_per_year"].astype(float).to_numpy()
            term = float((gap.values * vmax).sum())
        return lipschitz * self.distance_usd + term


def _forward(x: np.ndarray, p: np.ndarray, n: int) -> np.ndarray:
    """Fast forward selection (Heitsch & Romisch 2003): add, one at a time, the scenario that
    most lowers the Kantorovich distance of the kept set."""
    c = cdist(x, x, "cityblock")
    nearest = np.full(len(x), np.inf)
    kept: list[int] = []
    free = np.ones(len(x), bool)
    for _ in range(n):
        z = p @ np.minimum(c, nearest[:, None])  # distance if each candidate were added
        z[~free] = np.inf
        u = int(np.argmin(z))
        kept.append(u)
        free[u] = False
        nearest = np.minimum(nearest, c[:, u])
    return np.asarray(kept)


def _medoids(x: np.ndarray, p: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """k-medoids in L1 by alternation (Park & Jun 2009) from a k-medoids++ start: assign each
    scenario to its nearest medoid, then move each medoid to the member (among the members
    nearest the cluster's weighted coordinate median) with the least weighted distance."""
    first = int(rng.choice(len(x), p=p / p.sum()))
    kept = [first]
    nearest = cdist(x, x[[first]], "cityblock")[:, 0]
    for _ in range(n - 1):
        w = p * nearest
        pick = int(rng.choice(len(x), p=w / w.sum())) if w.sum() > 0 else int(np.argmax(nearest))
        kept.append(pick)
        nearest = np.minimum(nearest, cdist(x, x[[pick]], "cityblock")[:, 0])
    med = np.asarray(kept)
    cost = np.inf
    for _ in range(ITERATIONS):
        d = cdist(x, x[med], "cityblock")
        assign = d.argmin(axis=1)
        now = float(p @ d[np.arange(len(x)), assign])
        if now >= cost * (1 - 1e-9):
            break
        cost = now
        for k in range(len(med)):
            members = np.flatnonzero(assign == k)
            if len(members) <= 1:
                continue
            pm = p[members]
            centre = _weighted_median(x[members], pm)
            near = members[np.argsort(np.abs(x[members] - centre).sum(axis=1))[:CANDIDATES]]
            total = pm @ cdist(x[members], x[near], "cityblock")
            med[k] = near[int(np.argmin(total))]
    return med


def _weighted_median(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Coordinate-wise weighted median (the L1 centre of a cluster)."""
    order = np.argsort(x, axis=0, kind="stable")
    cum = np.cumsum(w[order], axis=0)
    at = (cum >= 0.5 * w.sum()).argmax(axis=0)
    cols = np.arange(x.shape[1])
    out: np.ndarray = x[order[at, cols], cols]
    return out


def reduce_ensemble(
    ens: Ensemble, n: int, *, method: str = "auto", features: str = "totals", seed: int = 0
) -> Reduction:
    """Keep ``n`` of the ensemble's scenarios, weighted by the optimal redistribution.

    ``features``: what the kept set is selected on: "totals" (loss by mineral over the horizon;
    the default, measured to give the better plan) or "paths" (the full loss vectors, which
    minimises D itself). Either way D and the bound are measured on the full loss vectors."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}, got {features!r}")
    if n < 1:
        raise ValueError(f"the reduced ensemble needs at least 1 scenario, got {n}")
    t0 = time.perf_counter()
    x = loss_vectors(ens)
    p = probability(ens).values.astype(float)
    s = len(x)
    if n >= s:
        kept = np.arange(s)
        used = "none (n >= scenarios)"
    else:
        auto = "forward" if n * s * s <= FORWARD_WORK else "medoids"
        used = method if method != "auto" else auto
        f = loss_totals(ens) if features == "totals" else x
        if used == "forward":
            kept = _forward(f, p, n)
        else:
            kept = _medoids(f, p, n, np.random.default_rng(seed))
        used = f"{used} on {features}"
        kept = np.unique(kept)
    d = cdist(x, x[kept], "cityblock")
    nearest = d.argmin(axis=1)
    nearest[kept] = np.arange(len(kept))  # a kept scenario keeps its own probability
    distance = float(p @ d[np.arange(s), nearest])
    weight = np.bincount(nearest, weights=p, minlength=len(kept))
    scen = ens.shortfall.scenario.values[kept]
    reduced = replace(
        ens,
        shortfall=ens.shortfall.isel(scenario=kept),
        price=ens.price.isel(scenario=kept),
        weight=xr.DataArray(weight / weight.sum(), coords={"scenario": scen}, dims="scenario"),
        mean_price=(
            ens.mean_price
            if ens.mean_price is not None
            else (ens.price * probability(ens)).sum("scenario")
        ),
        description=f"{ens.description} (reduced {s} -> {len(kept)} scenarios, {used})",
    )
    return Reduction(
        reduced, kept, nearest, distance, used, time.perf_counter() - t0, full_scenarios=s
    )


def report(
    full: Ensemble,
    reduction: Reduction,
    agreements: Agreements,
    risk: Risk,
    objective_reduced: float,
    objective_on_full: float | None = None,
) -> dict[str, float | int | str | None]:
    """The reduction's cost as JSON-ready figures (USD): the bound eps, the objective on the
    reduced scenarios and, when evaluated, the reduced plan's objective on the full ensemble."""
    eps = reduction.error_bound(full, risk, agreements)
    return {
        "method": reduction.method,
        "full_scenarios": reduction.full_scenarios,
        "scenarios": reduction.ensemble.scenarios,
        "seconds": reduction.seconds,
        "kantorovich_distance_usd": reduction.distance_usd,
        "error_bound_usd": eps,
        "objective_reduced_usd": objective_reduced,
        "objective_on_full_usd": objective_on_full,
        "objective_difference_usd": (
            None if objective_on_full is None else objective_on_full - objective_reduced
        ),
        "regret_bound_usd": 2 * eps,
    }
