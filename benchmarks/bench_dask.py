"""Benchmark: the ensemble driver on Dask (prints figures, asserts nothing).

Run with `.venv/bin/python benchmarks/bench_dask.py [--quick]`. Each timing is the median of three
runs (``--quick``: one); the load average is printed first (the 2-core machine is shared).
1. one chunk in-process, on a Dask worker as the nanny leaves it (``MALLOC_TRIM_THRESHOLD_``
   = 65536: every temporary above 128 KiB mapped fresh), and on the same worker after
   ``critmin.simulate.driver.tune_worker`` (mmap threshold 32 MiB): seconds and minor page
   faults per chunk;
2. ``simulate`` china-2025-10 on the local pool (2 workers) and on a LocalCluster of 1 and 2
   workers (targets: 2 workers >= 1.8x one worker, no slower than the pool).
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from typing import Any

from timing import load, median_time

from critmin.chain import SupplyChain
from critmin.scenarios.load import Labels, load_scenario
from critmin.simulate import runner
from critmin.simulate.driver import Executor, block_seeds, dask_worker_env, tune_worker
from critmin.simulate.runner import RunConfig, simulate


def timed_chunk(ctx: Any, item: Any, repeat: int) -> tuple[float, float]:
    """Median seconds and minor page faults of one chunk, where this runs."""
    runner._chunk(ctx, item)  # warm
    times, faults = [], []
    for _ in range(repeat):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        runner._chunk(ctx, item)
        times.append(time.perf_counter() - t0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return statistics.median(times), statistics.median(faults)


def one_chunk(chain: SupplyChain, repeat: int) -> None:
    from distributed import Client, LocalCluster

    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    config = RunConfig(runs=200, seed=1, horizon=12, workers=1, keep_paths=False)
    model = runner.build_model(chain, "rare_earths")
    base = runner.summarise(runner.run(model, runner.Shocks.neutral(model, 1, config.months)), 1)
    ctx = runner._Context(
        {"rare_earths": model},
        {"rare_earths": runner.grids(model, base, 1, config.horizon)},
        spec,
        runner.parents_of(chain),
        config.months,
        1,
        True,
        False,
    )
    item = runner._Item("rare_earths", ((200, block_seeds(1, 1, 1)[0][0]),))
    here, here_faults = timed_chunk(ctx, item, repeat)
    # a LocalCluster with dask's own nanny environment (MALLOC_TRIM_THRESHOLD_=65536)
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        raw = client.submit(timed_chunk, ctx, item, repeat, pure=False).result()
        client.run(tune_worker)
        tuned = client.submit(timed_chunk, ctx, item, repeat, pure=False).result()
    print(
        f"1. one chunk (rare_earths, 200 draws x 12 months): in-process {here * 1e3:.0f} ms "
        f"({here_faults:,.0f} page faults); Dask worker as the nanny sets it "
        f"{raw[0] * 1e3:.0f} ms ({raw[1]:,.0f} faults, {raw[0] / here:.1f}x); tuned "
        f"{tuned[0] * 1e3:.0f} ms ({tuned[1]:,.0f} faults, {tuned[0] / here:.1f}x)"
    )


def scaling(chain: SupplyChain, runs: int, repeat: int) -> None:
    """Pool against a LocalCluster of 1 and 2 workers, the cluster started (as critmin starts
    one: tuned environment, one thread per worker) before the clock starts."""
    import dask
    from distributed import LocalCluster

    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    base = {"runs": runs, "seed": 1, "horizon": 12, "keep_paths": False}
    pool = RunConfig(**base, workers=2)  # type: ignore[arg-type]
    simulate(chain, spec, RunConfig(**{**base, "runs": 200}, workers=1))  # type: ignore[arg-type]
    times = {"pool": median_time(lambda: simulate(chain, spec, pool), repeat)}
    for n in (1, 2):
        t0 = time.perf_counter()
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ": dask_worker_env()}),
            LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None) as cluster,
        ):
            start = time.perf_counter() - t0
            config = RunConfig(
                **base,  # type: ignore[arg-type]
                workers=n,
                executor=Executor.DASK,
                scheduler=cluster.scheduler_address,
            )
            simulate(
                chain,
                spec,
                RunConfig(
                    **{**base, "runs": 400},
                    workers=n,  # type: ignore[arg-type]
                    executor=Executor.DASK,
                    scheduler=cluster.scheduler_address,
                ),
            )  # warm
            times[n] = median_time(lambda c=config: simulate(chain, spec, c), repeat)
        print(f"   LocalCluster of {n} started in {start:.1f} s (not timed below)")
    print(
        f"2. china-2025-10, {runs:,} draws x 12 months: pool 2 workers {times['pool']:.2f} s; "
        f"LocalCluster 1 worker {times[1]:.2f} s, 2 workers {times[2]:.2f} s -> "
        f"{times[1] / times[2]:.2f}x (target >= 1.8x), {times['pool'] / times[2]:.2f}x the "
        "pool's speed (target >= 1)"
    )


def main() -> None:
    quick = "--quick" in sys.argv
    repeat = 1 if quick else 3
    print(f"load average (1, 5, 15 min): {load()}; median of {repeat}")
    chain = SupplyChain.load()
    one_chunk(chain, repeat)
    scaling(chain, 2000 if quick else 10_000, repeat)


if __name__ == "__main__":
    main()
