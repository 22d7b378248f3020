"""Benchmark: the ensemble driver on Dask (prints figures, asserts nothing).

Run with `.venv/bin/python benchmarks/bench_dask.py [--quick] [--rounds R] [--runs N [--months M]
| --sizes 2000x12,10000x60]`. The load average is printed first and with every round (the
2-core machine is shared).
1. one chunk in-process, on a Dask worker as the nanny leaves it (``MALLOC_TRIM_THRESHOLD_``
   = 65536: every temporary above 128 KiB mapped fresh), and on the same worker after
   ``critmin.simulate.driver.tune_worker`` (mmap threshold 32 MiB): seconds and minor page
   faults per chunk (median of three; ``--quick``: one);
2. the scaling curve: ``simulate`` china-2025-10 at every workload size of :data:`CURVE`
   (draws 2,000 / 10,000 / 40,000 x 12 and x 60 months; ``--quick``: 2,000 and 10,000 x 12)
   in-process (the pool's one-worker case), on the local pool (2 workers) and on LocalClusters
   of 1 and 2 workers (started once, as critmin starts one, before the clock, and kept),
   measured **interleaved**: per size, R rounds (2; ``--quick``: 1) of the four, each figure
   the median over rounds. Targets: Dask 2 workers >= 1.8x Dask 1 worker, no slower than the
   pool. Per configuration: the tasks' CPU seconds summed over workers (``RunResult.stats``;
   equal for 1 and 2 workers when the work itself scales), the worker processes' whole CPU
   (tasks plus comms and event loop), the tasks' wall / CPU (above 1: the core was not ours),
   the client's CPU seconds (with the LocalCluster's scheduler, which runs in this process;
   the other cluster's event loop, idle meanwhile, not counted). The closing table gives, per
   size, the wall times, pool 2 / in-process, Dask 1 -> 2, Dask 2 against the pool, the
   tasks' CPU at 2 workers over 1, and the ratio Amdahl's law gives from CPU seconds alone
   (every client second serial, the tasks split over two workers): what a quiet machine
   would show; and the same ratio with the tasks' CPU at 2 workers taken equal to 1
   worker's, which isolates the client's share (the tasks' growth is the machine's: shared
   cache and memory bandwidth, and under load other processes'). On a loaded machine (wall
   / CPU on the workers well above 1) only the CPU columns mean anything.
One command prints it all: ``PYTHONPATH=$PWD/src:$PWD/benchmarks .venv/bin/python
benchmarks/bench_dask.py`` (about 7 minutes on a quiet machine, estimated from the tasks' CPU;
40,000 x 60 is most of it).
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
from critmin.economics.price import parents_of_dataset
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
        parents_of_dataset(chain.dataset),
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


#: The workload sizes of the scaling curve: (draws, months).
CURVE = [(2_000, 12), (10_000, 12), (40_000, 12), (2_000, 60), (10_000, 60), (40_000, 60)]
QUICK_CURVE = [(2_000, 12), (10_000, 12)]


def scaling(chain: SupplyChain, sizes: list[tuple[int, int]], rounds: int) -> None:
    """In-process, pool, LocalCluster 1 and 2 workers at every workload size, interleaved
    round by round (the clusters are started once and kept, as a ``dask worker`` deployment
    would be)."""
    import dask
    from distributed import Client, LocalCluster

    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    curve: list[tuple[int, int, dict[str, float], dict[str, float], dict[str, float]]] = []
    with ExitStack() as stack:
        clients: dict[str, Any] = {}
        loops: dict[str, int] = {}  # each cluster's event-loop thread in this process
        addresses: dict[str, str] = {}
        for n in (1, 2):
            t0 = time.perf_counter()
            with dask.config.set(local_cluster_config()):
                cluster = stack.enter_context(
                    LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None)
                )
            print(f"   LocalCluster of {n} started in {time.perf_counter() - t0:.1f} s (not timed)")
            clients[f"dask {n}"] = stack.enter_context(Client(cluster))
            loops[f"dask {n}"] = loop_thread(cluster)
            addresses[f"dask {n}"] = cluster.scheduler_address
        for runs, months in sizes:
            base: dict[str, Any] = {"runs": runs, "seed": 1, "horizon": months, "keep_paths": False}
            configs = {
                "in-process": RunConfig(**base, workers=1),
                "pool": RunConfig(**base, workers=2),
                **{
                    k: RunConfig(
                        **base, workers=int(k[-1]), executor=Executor.DASK, scheduler=address
                    )
                    for k, address in addresses.items()
                },
            }
            for c in configs.values():  # warm: every process has loaded what it uses
                simulate(chain, spec, RunConfig(**{**c.__dict__, "runs": 400}))
            wall, cpu, task_wall, client, procs = ({k: [] for k in configs} for _ in range(5))  # type: tuple[dict[str, list[float]], ...]
            tasks: dict[str, int] = {}
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
                print(f"   {runs:,} x {months}, round {r + 1}: {', '.join(line)}; load {load()}")
            med = {k: statistics.median(v) for k, v in wall.items()}
            mc = {k: statistics.median(v) for k, v in client.items()}
            mw = {k: statistics.median(v) for k, v in cpu.items()}
            for name in configs:
                tw = statistics.median(task_wall[name])
                whole = (
                    f" ({statistics.median(procs[name]):.2f} s whole worker processes)"
                    if procs[name]
                    else ""
                )
                what = "client CPU, tasks included" if name == "in-process" else "client CPU"
                print(
                    f"   {name}: wall {med[name]:.2f} s; tasks' CPU {mw[name]:.2f} s summed over "
                    f"workers{whole} (wall / CPU on the workers {tw / mw[name]:.2f}); "
                    f"{what} {mc[name]:.2f} s; {tasks[name]} tasks"
                )
            # Amdahl from CPU seconds: every client second serial, the tasks split over 2
            amdahl = {
                "pool": mc["in-process"] / (mc["pool"] + mw["pool"] / 2),
                "dask": (mc["dask 1"] + mw["dask 1"]) / (mc["dask 2"] + mw["dask 2"] / 2),
                # the same with the tasks' CPU at 2 workers taken equal to 1 worker's: the
                # client's share alone (the tasks' growth is the machine's, and noisy under load)
                "dask, tasks equal": (mc["dask 1"] + mw["dask 1"])
                / (mc["dask 2"] + mw["dask 1"] / 2),
            }
            curve.append((runs, months, med, mw, amdahl))
    print(
        "2. china-2025-10 scaling curve (median of "
        f"{rounds} interleaved rounds; targets: Dask 2 workers >= 1.8x Dask 1, >= the pool)"
    )
    print(
        "   draws x months | in-process | pool 2 | Dask 1 | Dask 2 | pool 2 / in-process | "
        "Dask 1 -> 2 | Dask 2 vs pool | tasks' CPU at 2 / 1 (Dask) | Amdahl from CPU (pool, Dask, "
        "Dask with the tasks' CPU equal at 1 and 2)"
    )
    for runs, months, med, mw, amdahl in curve:
        print(
            f"   {runs:,} x {months} | {med['in-process']:.2f} s | {med['pool']:.2f} s | "
            f"{med['dask 1']:.2f} s | {med['dask 2']:.2f} s | "
            f"{med['in-process'] / med['pool']:.2f}x | {med['dask 1'] / med['dask 2']:.2f}x | "
            f"{med['pool'] / med['dask 2']:.2f}x | {mw['dask 2'] / mw['dask 1']:.2f}x | "
            f"{amdahl['pool']:.2f}x, {amdahl['dask']:.2f}x, {amdahl['dask, tasks equal']:.2f}x"
        )


def main() -> None:
    quick = "--quick" in sys.argv
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else None
    sizes = QUICK_CURVE if quick else CURVE
    if "--runs" in sys.argv:  # one size: --runs N [--months M]
        months = int(sys.argv[sys.argv.index("--months") + 1]) if "--months" in sys.argv else 12
        sizes = [(int(sys.argv[sys.argv.index("--runs") + 1]), months)]
    if "--sizes" in sys.argv:  # e.g. --sizes 2000x12,10000x60
        given = sys.argv[sys.argv.index("--sizes") + 1].split(",")
        sizes = [(int(d), int(m)) for d, m in (g.split("x") for g in given)]
    print(f"load average (1, 5, 15 min): {load()}")
    chain = SupplyChain.load()
    one_chunk(chain, 1 if quick else 3)
    scaling(chain, sizes, rounds or (1 if quick else 2))


if __name__ == "__main__":
    main()
