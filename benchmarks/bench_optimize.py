"""Benchmark: the one reserve programme at full size, linopy/HiGHS against a Pyomo build.

The programme of `critmin portfolio`: every eligible reserve form x 20 quarterly periods, with
the conversion routes, market-impact tranches, release revenue and terminal value of the plan,
the candidate agreements and the outlook's priced projects, joint ventures and recycling plants
as choices. For each size (`--sizes`, default 2,000): the build and solve times of the
aggregated programme (critmin.optimize.cases; median of `--repeat`, each run shown), its size,
peak memory and the load average; with `--extensive` the extensive form on every scenario
solved once (the objectives agree); unless `--skip-pyomo`, Pyomo's build of the extensive form
against linopy's (medians) and the Pyomo/HiGHS objective. Asserts nothing. Run with
`.venv/bin/python benchmarks/bench_optimize.py [--sizes 2000,4000,10000] [--extensive]
[--skip-pyomo] [--cache DIR]`.

`--reduction` runs the scenario-reduction section instead (bench_reduction): the programme at
each of `--sizes`, full against reduced (critmin.optimize.reduction), build and solve times
(median of --repeat), the reduction's error bound and realised error, and the Pyomo build ratio.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.solvers import Highs
from timing import load

from critmin.chain import SupplyChain
from critmin.optimize import portfolio as pf
from critmin.optimize.eligibility import Eligibility
from critmin.optimize.ensemble import Ensemble, build_ensemble
from critmin.optimize.plan import reserve_problem
from critmin.optimize.problem import (
    DEFAULT_BUDGET,
    TRANCHES,
    ReserveProblem,
    Risk,
    Solution,
)
from critmin.optimize.reduction import reduce_ensemble
from critmin.optimize.weights import expect, weights
from critmin.outlook.capacity import run_outlook
from critmin.outlook.instruments import instruments
from critmin.outlook.policy import Policy


def eligible(chain: SupplyChain) -> list[str]:
    """The minerals the board's default rule admits (those with a reserve form)."""
    forms = chain.dataset["reserve_forms"]
    admitted = Eligibility.of(chain).admit(chain, sorted(set(forms["mineral"])))
    return [m for m, why in admitted.items() if why]


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def pyomo_model(problem: ReserveProblem) -> pyo.ConcreteModel:
    """The same LP as ReserveProblem.build (risk-neutral), written the Pyomo way, from the same
    coefficients (unit costs, needs, paths, route capacities, agreement supply)."""
    ens, lots, agr = problem.ensemble, problem.lots, problem.agreements
    conv = problem.paths()
    S, T = range(ens.scenarios), range(ens.periods)
    L = list(lots.frame["lot"])
    N = list(conv.needs["need"])
    A = list(agr.frame["id"])
    J = range(TRANCHES)
    w = weights(ens).values
    costs = problem.unit_costs()
    buy = costs["buy"].transpose("lot", "tranche", "period").values
    credit = costs["release"].transpose("scenario", "period", "lot").values
    size, mult = lots.tranches()
    price = expect(lots.market_price(ens), weights(ens)).transpose("period", "lot").values
    share = conv.share(ens.shortfall.mineral.to_index())
    short = (ens.shortfall * share).sum("mineral").transpose("scenario", "period", "need").values
    loss_n = problem.need_loss(share).values
    paths = conv.paths.set_index("lot").reindex(L)
    target = {lot: paths.loc[lot, "need"] for lot in L}
    lag = {lot: int(paths.loc[lot, "lag"] or 0) for lot in L}
    ni = {n: k for k, n in enumerate(N)}
    li = {lot: k for k, lot in enumerate(L)}
    draw = dict(zip(L, lots.frame["drawdown_per_period"], strict=True))
    supply = (
        problem.agreement_supply().transpose("agreement", "scenario", "period", "need").values
        if A
        else np.zeros((0, ens.scenarios, ens.periods, len(N)))
    )
    cost_a = agr.unit_cost(ens).values
    vmax = agr.frame["max_volume_t_per_year"].astype(float).to_numpy()
    # (route, period) t, plants counted from their start, as the linopy programme reads them
    caps = conv.capacity_by_period(ens.months_per_period, ens.shortfall.period.to_index())
    caps = caps.to_pandas()
    route = {lot: paths.loc[lot, "route"] for lot in L}
    revenue = problem.accounting.release_revenue
    P = list(problem.projects.index)
    proj_supply = problem.project_supply().values if P else np.zeros((0, ens.periods, len(N)))
    proj_cost = problem.projects.cost().values if P else np.zeros(0)

    def needed(s: int, t: int, lot: str) -> bool:
        n, k = target[lot], t + lag[lot]
        return isinstance(n, str) and k < ens.periods and short[s, k, ni[n]] > 0

    RT = [(s, t, lot) for s in S for t in T for lot in L if needed(s, t, lot)]
    UT = [(s, t, n) for s in S for t in T for n in N if short[s, t, ni[n]] > 0]
    by_sl: dict[tuple[int, str], list[int]] = {}
    for s, t, lot in RT:
        by_sl.setdefault((s, lot), []).append(t)
    into: dict[tuple[int, int, str], list[tuple[int, str]]] = {}
    for s, t, lot in RT:
        into.setdefault((s, t + lag[lot], str(target[lot])), []).append((t, lot))

    mdl = pyo.ConcreteModel()
    ub = size.values
    mdl.b = pyo.Var(
        L,
        J,
        T,
        domain=pyo.NonNegativeReals,
        bounds=lambda m, lot, j, t: (
            0,
            (None if not np.isfinite(ub[li[lot], j]) else ub[li[lot], j])
            if isinstance(target[lot], str)
            else 0,
        ),
    )
    mdl.v = pyo.Var(range(len(A)), domain=pyo.NonNegativeReals)
    mdl.y = pyo.Var(range(len(P)), bounds=(0, 1))
    mdl.r = pyo.Var(RT, domain=pyo.NonNegativeReals)
    mdl.u = pyo.Var(UT, domain=pyo.NonNegativeReals)
    mdl.budget = pyo.Constraint(
        expr=sum(
            price[t, li[lot]] * mult.values[li[lot], j] * mdl.b[lot, j, t]
            for lot in L
            for j in J
            for t in T
        )
        + sum(proj_cost[k] * mdl.y[k] for k in range(len(P)))
        <= problem.budget
    )
    mdl.vmax = pyo.Constraint(range(len(A)), rule=lambda m, a: m.v[a] <= vmax[a])

    def bought(m, lot, t):  # type: ignore[no-untyped-def]
        return sum(m.b[lot, j, k] for j in J for k in range(t + 1))

    mdl.stock = pyo.Constraint(
        RT,
        rule=lambda m, s, t, lot: (
            sum(m.r[s, k, lot] for k in by_sl[s, lot] if k <= t) - bought(m, lot, t) <= 0
        ),
    )
    mdl.drawdown = pyo.Constraint(
        RT, rule=lambda m, s, t, lot: m.r[s, t, lot] - draw[lot] * bought(m, lot, t) <= 0
    )

    def released(m, s, t, n):  # type: ignore[no-untyped-def]
        return sum(m.r[s, k, lot] for k, lot in into.get((s, t, n), []))

    def cover(m, s, t, n):  # type: ignore[no-untyped-def]
        delivered = sum(
            supply[a, s, t, ni[n]] * m.v[a] for a in range(len(A)) if supply[a, s, t, ni[n]] != 0
        )
        built = sum(
            proj_supply[k, t, ni[n]] * m.y[k]
            for k in range(len(P))
            if proj_supply[k, t, ni[n]] != 0
        )
        return m.u[s, t, n] + released(m, s, t, n) + delivered + built >= short[s, t, ni[n]]

    mdl.cover = pyo.Constraint(UT, rule=cover)
    if revenue:
        mdl.release_cap = pyo.Constraint(
            UT,
            rule=lambda m, s, t, n: (
                released(m, s, t, n) <= short[s, t, ni[n]]
                if (s, t, n) in into
                else pyo.Constraint.Skip
            ),
        )
    on_route = [(s, t, k) for s in S for t in T for k in caps.index]
    mdl.route = pyo.Constraint(
        on_route,
        rule=lambda m, s, t, k: (
            sum(m.r[s, t, lot] for lot in L if route[lot] == k and (s, t, lot) in m.r)
            <= float(caps.loc[k].iloc[t])
            if any(route[lot] == k and (s, t, lot) in m.r for lot in L)
            else pyo.Constraint.Skip
        ),
    )
    mdl.obj = pyo.Objective(
        expr=sum(buy[li[lot], j, t] * mdl.b[lot, j, t] for lot in L for j in J for t in T)
        - (
            sum(w[s] * credit[s, t, li[lot]] * mdl.r[s, t, lot] for s, t, lot in RT)
            if revenue
            else 0
        )
        + sum(cost_a[a] * mdl.v[a] for a in range(len(A)))
        + sum(proj_cost[k] * mdl.y[k] for k in range(len(P)))
        + sum(w[s] * loss_n[ni[n]] * mdl.u[s, t, n] for s, t, n in UT)
    )
    return mdl


def median_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls, and the last call's result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def build_and_solve(
    ens: Ensemble, template: ReserveProblem, repeat: int, **fixed: Any
) -> tuple[float, float, Solution, ReserveProblem]:
    """Median build and solve seconds of the plan's programme (``template``) on ``ens``."""
    problem = replace(template, ensemble=ens, **fixed)
    build, _ = median_of(repeat, problem.build)
    solve, sol = median_of(repeat, problem.solve)
    return build, solve, sol, problem


def cached_ensemble(chain: SupplyChain, runs: int, cache: Path | None) -> Ensemble:
    """The planning ensemble (seed 1, 20 quarters), pickled in ``cache`` to skip re-simulating."""
    path = cache / f"ensemble-{runs}-seed1.pkl" if cache else None
    if path is not None and path.exists():
        with path.open("rb") as f:
            ens: Ensemble = pickle.load(f)
            return ens
    ens = build_ensemble(
        chain, minerals=eligible(chain), runs=runs, seed=1, months_per_period=3, horizon=20
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            pickle.dump(ens, f)
    return ens


def bench_reduction(
    sizes: list[int],
    reduce_to: int,
    repeat: int,
    pyomo: bool,
    cache: Path | None,
    full_repeat: int | None = None,
) -> None:
    """The programme at each size: full vs reduced to ``reduce_to`` scenarios."""
    chain = SupplyChain.load()
    print(
        f"times: median of {repeat} (full programme: {full_repeat or repeat}); "
        "2 shared cores, noisy under load"
    )
    for runs in sizes:
        t0 = time.perf_counter()
        ens = cached_ensemble(chain, runs, cache)
        print(f"\n== {runs:,} scenarios (ensemble ready in {time.perf_counter() - t0:.1f} s)")
        template, _ = reserve_problem(chain, ens, budget=DEFAULT_BUDGET, risk=Risk())
        build, solve, full, problem = build_and_solve(ens, template, full_repeat or repeat)
        print(
            f"full:    build {build:6.2f} s  solve {solve:6.2f} s  total {build + solve:6.2f} s"
            f"  objective {full.objective / 1e9:.4f}B USD  ({problem.model.nvars:,} variables)"
        )
        if pyomo:
            full_form = replace(problem, aggregate=False)  # Pyomo's model: every scenario
            pbuild, _ = median_of(repeat, lambda p=full_form: pyomo_model(p))
            lbuild, _ = median_of(repeat, full_form.build)
            print(
                f"pyomo build {pbuild:6.2f} s = {pbuild / lbuild:.1f}x the linopy build of the "
                "same (extensive) form"
            )
        for features in ("totals", "paths"):
            reduced(ens, template, full, reduce_to, features, repeat)


def reduced(
    ens: Ensemble,
    template: ReserveProblem,
    full: Solution,
    reduce_to: int,
    features: str,
    repeat: int,
) -> None:
    """Reduce, plan on the reduced set, evaluate that plan on every scenario."""
    red_s, red = median_of(repeat, lambda: reduce_ensemble(ens, reduce_to, features=features))
    eps = red.error_bound(ens, Risk(), template.agreements)
    rb, rs, sol, _ = build_and_solve(red.ensemble, template, repeat)
    eb, es, on_full, _ = build_and_solve(
        ens, template, 1, fixed_stock=sol.stock, fixed_volume=sol.volume
    )
    print(
        f"reduced to {red.ensemble.scenarios} ({red.method}): reduce {red_s:6.2f} s  "
        f"build {rb:6.2f} s  solve {rs:6.2f} s  total {red_s + rb + rs:6.2f} s "
        f"(target < 60 s)"
    )
    print(
        f"  objective {sol.objective / 1e9:.4f}B on the reduced set, "
        f"{on_full.objective / 1e9:.4f}B on every scenario (evaluated in {eb + es:.1f} s); "
        f"bound eps {eps / 1e9:.4f}B (D {red.distance_usd / 1e9:.4f}B)"
    )
    print(
        f"  |reduced - full optimum| {abs(sol.objective - full.objective) / 1e9:.4f}B "
        f"<= eps: {abs(sol.objective - full.objective) <= eps}; regret of the reduced plan "
        f"{(on_full.objective - full.objective) / 1e9:.4f}B "
        f"({(on_full.objective - full.objective) / full.objective:.1%}) <= 2 eps: "
        f"{on_full.objective - full.objective <= 2 * eps}"
    )
    print(
        f"  stock bought: full {full.spent_usd / 1e9:.3f}B, reduced {sol.spent_usd / 1e9:.3f}B"
        f"; peak memory {peak_gib():.2f} GiB"
    )


def programme_template(chain: SupplyChain, ens: Ensemble) -> ReserveProblem:
    """The one programme of `critmin portfolio`: the plan's programme (eligible forms,
    conversion routes, market impact, agreements, full accounting) with the outlook's priced
    projects, joint ventures and recycling plants as choices (base policy, p50 lead times)."""
    outlook = instruments(chain, run_outlook(chain, Policy(), draws=1000, seed=0))
    problem, _ = reserve_problem(chain, ens, budget=DEFAULT_BUDGET, risk=Risk())
    minerals = [str(m) for m in ens.shortfall.mineral.values]
    table = pf.outlook_instruments(outlook, "p50")
    return replace(problem, projects=pf.projects_of(table, minerals))


def bench_programme(
    sizes: list[int], repeat: int, pyomo: bool, extensive: bool, cache: Path | None
) -> None:
    """Build and solve the one programme at each size: the aggregated second stage (the
    default) and, with ``extensive``, the extensive form on every scenario; Pyomo's build of
    the extensive form against linopy's."""
    chain = SupplyChain.load()
    template: ReserveProblem | None = None
    print(f"times: median of {repeat}; 2 cores shared by 8 sessions, noisy; load {load()}")
    for runs in sizes:
        t0 = time.perf_counter()
        ens = cached_ensemble(chain, runs, cache)
        print(
            f"\n== {ens.scenarios:,} scenarios x {ens.periods} quarters x "
            f"{ens.shortfall.sizes['mineral']} minerals (ensemble {time.perf_counter() - t0:.1f} s)"
        )
        if template is None:
            template = programme_template(chain, ens)
            conv = template.paths()
            print(
                f"programme: {len(template.lots.index)} eligible forms, {len(conv.needs)} needs, "
                f"{len(conv.routes)} conversion routes, {len(template.agreements.index)} "
                f"agreements, {len(template.projects.index)} priced projects"
            )
        problem = replace(template, ensemble=ens)
        builds, solves = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            model = problem.build()
            builds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sol = problem.solve()
            solves.append(time.perf_counter() - t0)
        cases = sum(int(b.weight.size) for b in problem.blocks)
        rows = sum(int((b.of >= 0).sum()) for b in problem.blocks)
        totals = [b + s for b, s in zip(builds, solves, strict=True)]
        print(
            f"aggregated: {cases:,} cases for {rows:,} (scenario, mineral) pairs short; "
            f"{model.nvars:,} variables, {model.ncons:,} constraints"
        )
        print(
            f"  build {fmt(builds)}  solve {fmt(solves)}  build+solve {fmt(totals)} "
            f"(target < 60 s); load {load()}"
        )
        print(
            f"  objective {sol.objective:,.2f} USD; stock {sol.spent_usd / 1e9:.3f}B, projects "
            f"{sol.project_cost_usd / 1e9:.3f}B; peak memory {peak_gib():.2f} GiB (< 4 GiB)"
        )
        if not (extensive or pyomo):
            continue
        full = replace(problem, aggregate=False)
        t0 = time.perf_counter()
        fmodel = full.build()
        fbuild = time.perf_counter() - t0
        line = f"extensive form: {fmodel.nvars:,} variables, {fmodel.ncons:,} constraints; "
        line += f"build {fbuild:.2f} s"
        if extensive:
            t0 = time.perf_counter()
            fsol = full.solve()
            fsolve = time.perf_counter() - t0
            rel = abs(fsol.objective - sol.objective) / max(1.0, abs(sol.objective))
            line += f", solve {fsolve:.2f} s, objective relative difference {rel:.1e}"
        print(line + f"; load {load()}")
        if pyomo:
            pbuild, mdl = median_of(repeat, lambda p=full: pyomo_model(p))
            lbuild, _ = median_of(repeat, full.build)
            print(
                f"pyomo build of the extensive form {pbuild:.2f} s = {pbuild / lbuild:.1f}x "
                f"linopy's {lbuild:.2f} s (medians of {repeat}); the aggregated linopy build "
                f"{statistics.median(builds):.2f} s"
            )
            res = Highs().solve(mdl)
            pobj = float(res.best_feasible_objective)
            rel = abs(pobj - sol.objective) / max(1.0, abs(sol.objective))
            print(f"pyomo/HiGHS objective relative difference {rel:.1e} (target < 1e-6)")
        print(f"peak memory {peak_gib():.2f} GiB; load {load()}")


def fmt(times: list[float]) -> str:
    """The median and the runs, seconds."""
    runs = "/".join(f"{t:.1f}" for t in times)
    return f"{statistics.median(times):6.2f} s ({runs})"


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--sizes", default="2000", help="scenario counts, e.g. 2000,4000,10000")
    args.add_argument("--skip-pyomo", action="store_true")
    args.add_argument("--extensive", action="store_true", help="also solve on every scenario")
    args.add_argument("--reduction", action="store_true", help="the scale section instead")
    args.add_argument("--reduce-to", type=int, default=300)
    args.add_argument("--repeat", type=int, default=3)
    args.add_argument("--full-repeat", type=int, default=None, help="default: --repeat")
    args.add_argument("--cache", type=Path, default=None, help="folder for pickled ensembles")
    opts = args.parse_args()
    sizes = [int(v) for v in opts.sizes.split(",")]
    if opts.reduction:
        bench_reduction(
            sizes, opts.reduce_to, opts.repeat, not opts.skip_pyomo, opts.cache, opts.full_repeat
        )
        return
    bench_programme(sizes, opts.repeat, not opts.skip_pyomo, opts.extensive, opts.cache)


if __name__ == "__main__":
    main()
