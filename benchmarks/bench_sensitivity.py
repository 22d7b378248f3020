"""Benchmark: the review's reserve sensitivity (every assumed parameter at x0.5 and x1.5,
re-solved) on one process and on the ensemble driver's local pool, and with and without
splicing (critmin.optimize.splice: ``--splice both``) (prints, never asserts).

The same ensemble and plan as `critmin review` (report.disruption.reserve_plan: the default
budget, 200 draws, seed 0); each worker count runs the whole sensitivity once, in the order
given, and the rows are compared (they must not depend on the worker count). Prints the load
average beside every figure, since this machine's cores are shared.
"""

from __future__ import annotations

import argparse
import statistics
import time

from timing import cpu_seconds, load

from critmin.chain import SupplyChain
from critmin.optimize.eligibility import Eligibility
from critmin.optimize.ensemble import build_ensemble
from critmin.optimize.plan import optimise
from critmin.optimize.problem import DEFAULT_BUDGET, Risk
from critmin.optimize.sensitivity import parameter_sensitivity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--eligibility", default=None, help="a board rule as optimize --eligibility (fewer cases)"
    )
    parser.add_argument(
        "--parameters", nargs="+", default=None, help="only these parameters' cases (all)"
    )
    parser.add_argument(
        "--splice",
        choices=("on", "off", "both"),
        default="on",
        help="rebuild only the blocks a case changes (on), every case in full (off), or both, "
        "interleaved off, on, off, on, ... once per worker count (rows must be identical)",
    )
    args = parser.parse_args()
    chain = SupplyChain.load()
    rule = Eligibility.parse(args.eligibility) if args.eligibility else None
    minerals = None
    if rule is not None:
        forms = chain.dataset["reserve_forms"]
        minerals = [m for m, w in rule.admit(chain, sorted(set(forms["mineral"]))).items() if w]
    ens = build_ensemble(chain, minerals=minerals, runs=args.runs, seed=args.seed)
    plan = optimise(chain, ens, budget=DEFAULT_BUDGET, risk=Risk(), eligibility=rule).as_json()
    runs: list[tuple[int, float, list[float | None]]] = []
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.splice]
    cpus: dict[bool, list[float]] = {True: [], False: []}
    for workers, splice in ((w, s) for w in args.workers for s in modes):
        before = load()
        t0, c0 = time.perf_counter(), cpu_seconds()
        rows = parameter_sensitivity(
            chain,
            ens,
            plan,
            budget=DEFAULT_BUDGET,
            seed=args.seed,
            eligibility=rule,
            time_limit=float("inf"),
            workers=workers,
            parameters=args.parameters,
            splice=splice,
        )
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        cpus[splice].append(cpu)
        runs.append((workers, wall, [r["budget_share_moved"] for r in rows]))
        print(
            f"workers {workers}, splice {'on' if splice else 'off'}: {len(rows)} cases, "
            f"{2 * len(rows) + 1} solves in {wall:.1f} s wall, {cpu:.1f} s CPU "
            f"(load before {before}, after {load()})",
            flush=True,
        )
    same = all(shares == runs[0][2] for _, _, shares in runs)
    if cpus[True] and cpus[False]:
        off, on = statistics.median(cpus[False]), statistics.median(cpus[True])
        print(
            f"splice on vs off: {off / on:.2f}x less CPU (median {on:.1f} s vs {off:.1f} s); "
            f"rows identical in every run: {same}"
        )
    base = args.workers[0]
    walls = {w: statistics.median(t for n, t, _ in runs if n == w) for w in set(args.workers)}
    for workers in sorted(walls):
        if workers != base:
            print(
                f"workers {workers} vs {base}: {walls[base] / walls[workers]:.2f}x faster wall "
                f"(median of each); rows identical in every run: {same}"
            )


if __name__ == "__main__":
    main()
