"""Benchmark: the review's reserve sensitivity (every assumed parameter at x0.5 and x1.5,
re-solved) on one process and on the ensemble driver's local pool (prints, never asserts).

The same ensemble and plan as `critmin review` (report.disruption.reserve_plan: the default
budget, 200 draws, seed 0); each worker count runs the whole sensitivity once, in the order
given, and the rows are compared (they must not depend on the worker count). Prints the load
average beside every figure, since this machine's cores are shared.
"""

from __future__ import annotations

import argparse
import resource
import time

from timing import load

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import build_ensemble
from critmin.optimize.plan import optimise
from critmin.optimize.problem import DEFAULT_BUDGET, Risk
from critmin.optimize.sensitivity import parameter_sensitivity


def cpu_seconds() -> float:
    """CPU seconds of this process and its reaped children (the pool's workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    chain = SupplyChain.load()
    ens = build_ensemble(chain, runs=args.runs, seed=args.seed)
    plan = optimise(chain, ens, budget=DEFAULT_BUDGET, risk=Risk()).as_json()
    results = {}
    for workers in args.workers:
        before = load()
        t0, c0 = time.perf_counter(), cpu_seconds()
        rows = parameter_sensitivity(
            chain,
            ens,
            plan,
            budget=DEFAULT_BUDGET,
            seed=args.seed,
            time_limit=float("inf"),
            workers=workers,
        )
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        results[workers] = (wall, rows)
        print(
            f"workers {workers}: {len(rows)} cases, {2 * len(rows) + 1} solves in {wall:.1f} s "
            f"wall, {cpu:.1f} s CPU (load before {before}, after {load()})",
            flush=True,
        )
    first, *rest = args.workers
    for workers in rest:
        same = [r["budget_share_moved"] for r in results[workers][1]] == [
            r["budget_share_moved"] for r in results[first][1]
        ]
        ratio = results[first][0] / results[workers][0]
        print(f"workers {workers} vs {first}: {ratio:.2f}x faster wall; rows identical: {same}")


if __name__ == "__main__":
    main()
