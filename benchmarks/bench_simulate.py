"""Benchmark: Monte Carlo throughput of the disruption engine (prints figures, asserts nothing).

Run with `.venv/bin/python benchmarks/bench_simulate.py`.
"""

from __future__ import annotations

import time

from critmin.chain import SupplyChain
from critmin.scenarios.load import Labels, load_scenario
from critmin.simulate.runner import Executor, RunConfig, simulate


def main() -> None:
    chain = SupplyChain.load()
    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    for runs, workers, executor in (
        (2000, 1, Executor.LOCAL),
        (2000, 2, Executor.LOCAL),
        (2000, 2, Executor.DASK),
    ):
        config = RunConfig(runs=runs, seed=1, horizon=12, workers=workers, executor=executor)
        t0 = time.perf_counter()
        result = simulate(chain, spec, config)
        dt = time.perf_counter() - t0
        chains = len(result.minerals)
        print(
            f"{executor.value:5} workers={workers}: {runs} draws x {chains} chains x 12 months "
            f"in {dt:.2f} s ({runs * chains / dt:,.0f} chain-draws/s)"
        )


if __name__ == "__main__":
    main()
