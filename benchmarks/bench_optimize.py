"""Benchmark: the reserve programme at full size, linopy/HiGHS against a Pyomo build.

2,000 scenarios x every reserve mineral x 20 quarterly periods. Prints the ensemble time, the
linopy build and solve times, peak memory, the Pyomo build time and both objectives. Asserts
nothing. Run with `.venv/bin/python benchmarks/bench_optimize.py [--runs N] [--skip-pyomo]`.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.solvers import Highs

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import build_ensemble
from critmin.optimize.problem import Agreements, Lots, ReserveProblem


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


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--runs", type=int, default=2000)
    args.add_argument("--skip-pyomo", action="store_true")
    opts = args.parse_args()
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
