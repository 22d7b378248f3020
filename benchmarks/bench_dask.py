"""Benchmark: the ensemble driver on Dask (prints figures, asserts nothing).

Run with `.venv/bin/python benchmarks/bench_dask.py [--quick] [--runs N]`. The load average is
printed first and with every round (the 2-core machine is shared).
1. one chunk in-process, on a Dask worker as the nanny leaves it (``MALLOC_TRIM_THRESHOLD_``
   = 65536: every temporary above 128 KiB mapped fresh), and on the same worker after
   ``critmin.simulate.driver.tune_worker`` (mmap threshold 32 MiB): seconds and minor page
   faults per chunk (median of three; ``--quick``: one);
2. ``simulate`` china-2025-10 on the local pool (2 workers) and on LocalClusters of 1 and 2
   workers (started as critmin starts one, before the clock), measured **interleaved**: three
   rounds of pool, 1 worker, 2 workers, each figure the median over rounds. Targets: 2 workers
   >= 1.8x one worker, no slower than the pool. Beside the wall times, per configuration: the
   tasks' CPU seconds summed over workers (``RunResult.stats``; equal for 1 and 2 workers when
   the work itself scales), the worker processes' whole CPU (tasks plus comms and event loop),
   the tasks' wall / CPU (above 1: the core was not ours), the client's CPU seconds (with the
   LocalCluster's scheduler, which runs in this process, and periodic callbacks that grow with
   wall time; the other cluster's event loop, idle meanwhile, not counted), and the ratio
   Amdahl's law gives from those CPU seconds alone, (client + work at 1 worker) / (client +
   work / 2 at 2 workers), counting every client second as serial: what the machine would
   show without other users' load.
One command prints it all: ``PYTHONPATH=$PWD/src:$PWD/benchmarks .venv/bin/python
benchmarks/bench_dask.py`` (about 2 minutes on a quiet machine); its last line holds the
1 -> 2 workers ratio, the ratio to the pool and the Amdahl estimate.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from typing import Any

from timing import load

from critmin.chain import SupplyChain
from critmin.economics.io import io_model
from critmin.scenarios.load import Labels, load_scenario
from critmin.simulate import runner
from critmin.simulate.driver import Executor, block_seeds, local_cluster_config, tune_worker
from critmin.simulate.runner import RunConfig, simulate


def timed_chunk(ctx: Any, built: Any, item: Any, repeat: int) -> tuple[float, float]:
    """Median seconds and minor page faults of one chunk, where this runs."""
    runner._chunk(ctx, built, item)  # warm
    times, faults = [], []
    for _ in range(repeat):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        runner._chunk(ctx, built, item)
        times.append(time.perf_counter() - t0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return statistics.median(times), statistics.median(faults)


def one_chunk(chain: SupplyChain, repeat: int) -> None:
    from distributed import Client, LocalCluster

    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    model = runner.build_model(chain, "rare_earths")
    ctx = runner._Context(
        chain,
        io_model(chain.dataset),
        model,
        spec,
        runner.parents_of(chain),
        12,
        1,
        12,
        True,
        False,
        0.0,  # every country kept: the chunk is the same wherever it runs
    )
    item = runner._Item("rare_earths", ((200, block_seeds(1, 1, 1)[0][0]),))
    built, _ = runner._build(ctx, item)
    here, here_faults = timed_chunk(ctx, built, item, repeat)
    # a LocalCluster with dask's own nanny environment (MALLOC_TRIM_THRESHOLD_=65536)
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        (shared,) = client.scatter([ctx], hash=False)
        raw = client.submit(timed_chunk, shared, built, item, repeat, pure=False).result()
        client.run(tune_worker)
        tuned = client.submit(timed_chunk, shared, built, item, repeat, pure=False).result()
    print(
        f"1. one chunk (rare_earths, 200 draws x 12 months): in-process {here * 1e3:.0f} ms "
        f"({here_faults:,.0f} page faults); Dask worker as the nanny sets it "
        f"{raw[0] * 1e3:.0f} ms ({raw[1]:,.0f} faults, {raw[0] / here:.1f}x); tuned "
        f"{tuned[0] * 1e3:.0f} ms ({tuned[1]:,.0f} faults, {tuned[0] / here:.1f}x)"
    )


def process_cpu() -> float:
    """CPU seconds of this process, every thread (on a worker: tasks, comms, event loop)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def loop_thread(cluster: Any) -> int:
    """The native id of the thread running ``cluster``'s event loop (its scheduler's)."""
    done, out = threading.Event(), []

    def record() -> None:
        out.append(threading.get_native_id())
        done.set()

    cluster.loop.add_callback(record)
    done.wait(30)
    return out[0]


def thread_cpu(tid: int) -> float:
    """CPU seconds of one thread of this process (``/proc``)."""
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scaling(chain: SupplyChain, runs: int, rounds: int) -> None:
    """Pool, LocalCluster 1 and 2 workers, interleaved round by round."""
    import dask
    from distributed import Client, LocalCluster

    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    base: dict[str, Any] = {"runs": runs, "seed": 1, "horizon": 12, "keep_paths": False}
    with ExitStack() as stack:
        configs = {"pool": RunConfig(**base, workers=2)}
        clients: dict[str, Any] = {}
        loops: dict[str, int] = {}  # each cluster's event-loop thread in this process
        for n in (1, 2):
            t0 = time.perf_counter()
            with dask.config.set(local_cluster_config()):
                cluster = stack.enter_context(
                    LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None)
                )
            print(f"   LocalCluster of {n} started in {time.perf_counter() - t0:.1f} s (not timed)")
            clients[f"dask {n}"] = stack.enter_context(Client(cluster))
            loops[f"dask {n}"] = loop_thread(cluster)
            configs[f"dask {n}"] = RunConfig(
                **base, workers=n, executor=Executor.DASK, scheduler=cluster.scheduler_address
            )
        for c in configs.values():  # warm: every process has imported and loaded what it uses
            simulate(chain, spec, RunConfig(**{**c.__dict__, "runs": 400}))
        wall: dict[str, list[float]] = {k: [] for k in configs}
        cpu: dict[str, list[float]] = {k: [] for k in configs}
        task_wall: dict[str, list[float]] = {k: [] for k in configs}
        client: dict[str, list[float]] = {k: [] for k in configs}
        tasks: dict[str, int] = {}
        procs: dict[str, list[float]] = {k: [] for k in clients}
        for r in range(rounds):
            line = []
            for name, config in configs.items():
                before = clients[name].run(process_cpu) if name in clients else {}
                # the client's CPU: this process less the other clusters' idle event loops
                others = [t for k, t in loops.items() if k != name]
                idle0 = sum(thread_cpu(t) for t in others)
                c0, t0 = time.process_time(), time.perf_counter()
                result = simulate(chain, spec, config)
                wall[name].append(time.perf_counter() - t0)
                idle = sum(thread_cpu(t) for t in others) - idle0
                client[name].append(time.process_time() - c0 - idle)
                if name in clients:
                    after = clients[name].run(process_cpu)
                    procs[name].append(sum(after[w] - before[w] for w in after))
                cpu[name].append(result.stats.cpu)
                task_wall[name].append(result.stats.wall)
                tasks[name] = result.stats.tasks
                line.append(f"{name} {wall[name][-1]:.2f} s")
            print(f"   round {r + 1}: {', '.join(line)}; load {load()}")
    med = {k: statistics.median(v) for k, v in wall.items()}
    for name in configs:
        w, c, tw = (statistics.median(x[name]) for x in (cpu, client, task_wall))
        whole = (
            f" ({statistics.median(procs[name]):.2f} s whole worker processes)"
            if name in procs
            else ""
        )
        print(
            f"   {name}: wall {med[name]:.2f} s; tasks' CPU {w:.2f} s summed over workers{whole} "
            f"(wall / CPU on the workers {tw / w:.2f}); client CPU {c:.2f} s"
            + f"; {tasks[name]} tasks"
        )
    c1, w1 = statistics.median(client["dask 1"]), statistics.median(cpu["dask 1"])
    c2, w2 = statistics.median(client["dask 2"]), statistics.median(cpu["dask 2"])
    print(
        f"2. china-2025-10, {runs:,} draws x 12 months, median of {rounds} interleaved rounds: "
        f"pool 2 workers {med['pool']:.2f} s; LocalCluster 1 worker {med['dask 1']:.2f} s, "
        f"2 workers {med['dask 2']:.2f} s -> {med['dask 1'] / med['dask 2']:.2f}x "
        f"(target >= 1.8x), {med['pool'] / med['dask 2']:.2f}x the pool's speed (target >= 1); "
        f"work at 2 workers / at 1: {w2 / w1:.2f}x CPU; Amdahl from CPU seconds: "
        f"{(c1 + w1) / (c2 + w2 / 2):.2f}x ({(c2 + w1) / (c2 + w2 / 2):.2f}x with the 2-worker "
        "client's CPU as the serial part of both: the 1-worker client's grows with its wall time)"
    )


def main() -> None:
    quick = "--quick" in sys.argv
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else None
    print(f"load average (1, 5, 15 min): {load()}")
    chain = SupplyChain.load()
    one_chunk(chain, 1 if quick else 3)
    scaling(chain, runs or (2000 if quick else 10_000), 1 if quick else 3)


if __name__ == "__main__":
    main()
