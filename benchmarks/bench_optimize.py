"""Benchmark: the reserve programme at full size, linopy/HiGHS against a Pyomo build.

2,000 scenarios x every reserve mineral x 20 quarterly periods. Prints the ensemble time, the
linopy build and solve times, peak memory, the Pyomo build time and both objectives. Asserts
nothing. Run with `.venv/bin/python benchmarks/bench_optimize.py [--runs N] [--skip-pyomo]`.

`--reduction` runs the scale section instead (bench_reduction): the programme at 500 / 2,000 /
4,000 / 10,000 scenarios, full against reduced (critmin.optimize.reduction), build and solve
times (median of --repeat), the reduction's error bound and realised error, and the Pyomo build
ratio on the same full model.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.solvers import Highs

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import Ensemble, build_ensemble
from critmin.optimize.problem import Agreements, Lots, ReserveProblem, Risk, Solution
from critmin.optimize.reduction import reduce_ensemble


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def pyomo_model(problem: ReserveProblem) -> pyo.ConcreteModel:
    """The same LP as ReserveProblem.build (risk-neutral), written the Pyomo way."""
    ens, lots, agr = problem.ensemble, problem.lots, problem.agreements
    S, T = range(ens.scenarios), range(ens.periods)
    L = list(lots.frame["lot"])
    M = list(ens.shortfall.mineral.values)
    A = list(agr.frame["id"])
    price = dict(zip(L, lots.frame["price_usd_t"], strict=True))
    draw = dict(zip(L, lots.frame["drawdown_per_period"], strict=True))
    hold = dict(zip(L, lots.frame["holding_per_year"], strict=True))
    lot_min = dict(zip(L, lots.frame["mineral"], strict=True))
    short = ens.shortfall.values
    loss = dict(zip(M, ens.loss_per_t.values, strict=True))
    deliver = agr.delivers(ens).transpose("agreement", "period", "mineral").values
    cost = agr.unit_cost(ens).values
    vmax = agr.frame["max_volume_t_per_year"].astype(float).to_numpy()
    years = ens.periods / ens.periods_per_year
    prob = 1.0 / ens.scenarios
    mi = {m: j for j, m in enumerate(M)}

    need = short > 0  # (scenario, period, mineral)
    RT = [(s, t, lot) for s in S for t in T for lot in L if need[s, t, mi[lot_min[lot]]]]
    UT = [(s, t, m) for s in S for t in T for m in M if need[s, t, mi[m]]]
    SL = sorted({(s, lot) for s, _, lot in RT})
    by_sl: dict[tuple[int, str], list[int]] = {}
    for s, t, lot in RT:
        by_sl.setdefault((s, lot), []).append(t)

    mdl = pyo.ConcreteModel()
    mdl.x = pyo.Var(L, domain=pyo.NonNegativeReals)
    mdl.v = pyo.Var(range(len(A)), domain=pyo.NonNegativeReals)
    mdl.r = pyo.Var(RT, domain=pyo.NonNegativeReals)
    mdl.u = pyo.Var(UT, domain=pyo.NonNegativeReals)
    mdl.budget = pyo.Constraint(expr=sum(price[lot] * mdl.x[lot] for lot in L) <= problem.budget)
    mdl.vmax = pyo.Constraint(range(len(A)), rule=lambda m, a: m.v[a] <= vmax[a])
    mdl.stock = pyo.Constraint(
        SL, rule=lambda m, s, lot: sum(m.r[s, t, lot] for t in by_sl[s, lot]) - m.x[lot] <= 0
    )
    mdl.drawdown = pyo.Constraint(
        RT, rule=lambda m, s, t, lot: m.r[s, t, lot] - draw[lot] * m.x[lot] <= 0
    )

    def cover(m, s, t, mineral):  # type: ignore[no-untyped-def]
        released = sum(m.r[s, t, lot] for lot in L if lot_min[lot] == mineral)
        delivered = sum(
            deliver[a, t, mi[mineral]] * m.v[a]
            for a in range(len(A))
            if deliver[a, t, mi[mineral]] != 0
        )
        return m.u[s, t, mineral] + released + delivered >= short[s, t, mi[mineral]]

    mdl.cover = pyo.Constraint(UT, rule=cover)
    mdl.obj = pyo.Objective(
        expr=sum(price[lot] * (1 + hold[lot] * years) * mdl.x[lot] for lot in L)
        + sum(cost[a] * mdl.v[a] for a in range(len(A)))
        + prob * sum(loss[m] * mdl.u[s, t, m] for s, t, m in UT)
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
    ens: Ensemble, lots: Lots, agr: Agreements, repeat: int, **fixed: Any
) -> tuple[float, float, Solution, ReserveProblem]:
    """Median build and solve seconds of the programme on ``ens``."""
    problem = ReserveProblem(ens, lots, agr, risk=Risk(), **fixed)
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
    ens = build_ensemble(chain, runs=runs, seed=1, months_per_period=3, horizon=20)
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
        lots = Lots.from_table(chain.dataset["reserve_forms"], ens)
        agr = Agreements.from_table(chain.dataset["reserve_candidates"], ens)
        build, solve, full, problem = build_and_solve(ens, lots, agr, full_repeat or repeat)
        print(
            f"full:    build {build:6.2f} s  solve {solve:6.2f} s  total {build + solve:6.2f} s"
            f"  objective {full.objective / 1e9:.4f}B USD  ({problem.model.nvars:,} variables)"
        )
        if pyomo:
            pbuild, _ = median_of(repeat, lambda p=problem: pyomo_model(p))
            print(f"pyomo build {pbuild:6.2f} s = {pbuild / build:.1f}x the linopy build")
        for features in ("totals", "paths"):
            reduced(ens, lots, agr, full, reduce_to, features, repeat)


def reduced(
    ens: Ensemble,
    lots: Lots,
    agr: Agreements,
    full: Solution,
    reduce_to: int,
    features: str,
    repeat: int,
) -> None:
    """Reduce, plan on the reduced set, evaluate that plan on every scenario."""
    red_s, red = median_of(repeat, lambda: reduce_ensemble(ens, reduce_to, features=features))
    eps = red.error_bound(ens, Risk(), agr)
    rb, rs, sol, _ = build_and_solve(red.ensemble, lots, agr, repeat)
    eb, es, on_full, _ = build_and_solve(
        ens, lots, agr, 1, fixed_stock=sol.stock, fixed_volume=sol.volume
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


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--runs", type=int, default=2000)
    args.add_argument("--skip-pyomo", action="store_true")
    args.add_argument("--reduction", action="store_true", help="the scale section instead")
    args.add_argument("--sizes", default="500,2000,4000,10000")
    args.add_argument("--reduce-to", type=int, default=300)
    args.add_argument("--repeat", type=int, default=3)
    args.add_argument("--full-repeat", type=int, default=None, help="default: --repeat")
    args.add_argument("--cache", type=Path, default=None, help="folder for pickled ensembles")
    opts = args.parse_args()
    if opts.reduction:
        sizes = [int(v) for v in opts.sizes.split(",")]
        bench_reduction(
            sizes, opts.reduce_to, opts.repeat, not opts.skip_pyomo, opts.cache, opts.full_repeat
        )
        return
    chain = SupplyChain.load()
    t0 = time.perf_counter()
    ens = build_ensemble(chain, runs=opts.runs, seed=1, months_per_period=3, horizon=20)
    print(
        f"ensemble: {ens.scenarios} scenarios x {ens.periods} quarters x "
        f"{ens.shortfall.sizes['mineral']} minerals simulated in {time.perf_counter() - t0:.1f} s"
    )
    lots = Lots.from_table(chain.dataset["reserve_forms"], ens)
    agr = Agreements.from_table(chain.dataset["reserve_candidates"], ens)
    problem = ReserveProblem(ens, lots, agr)
    t0 = time.perf_counter()
    model = problem.build()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    sol = problem.solve()
    solve = time.perf_counter() - t0
    print(
        f"linopy: {model.nvars:,} variables, {model.ncons:,} constraints; build {build:.2f} s, "
        f"solve {solve:.2f} s, build+solve {build + solve:.2f} s (target < 60 s)"
    )
    print(f"objective (linopy/HiGHS): {sol.objective:,.2f} USD")
    print(f"peak memory so far: {peak_gib():.2f} GiB (target < 6 GiB)")
    if opts.skip_pyomo:
        return
    t0 = time.perf_counter()
    mdl = pyomo_model(problem)
    pbuild = time.perf_counter() - t0
    print(f"pyomo: build {pbuild:.2f} s ({pbuild / build:.1f}x the linopy build)")
    solver = Highs()
    t0 = time.perf_counter()
    res = solver.solve(mdl)
    psolve = time.perf_counter() - t0
    pobj = float(res.best_feasible_objective)
    rel = abs(pobj - sol.objective) / max(1.0, abs(sol.objective))
    print(
        f"pyomo/HiGHS: solve {psolve:.2f} s, objective {pobj:,.2f} USD, "
        f"relative difference {rel:.2e} (target < 1e-6)"
    )
    print(f"peak memory: {peak_gib():.2f} GiB")
    assert np.isfinite(pobj)


if __name__ == "__main__":
    main()
