"""Benchmark: the Monte Carlo engine and the ensemble driver (prints figures, asserts nothing).

Run with `.venv/bin/python benchmarks/bench_simulate.py [--quick] [--no-traffic]`. Each timing
is the median of three runs (``--quick``: one run, smaller sizes); the machine's load is printed
first, since the 2-core machine is shared and timings are noisy under load. Figures:
1. the vectorised engine against the per-scenario reference loop (same model and shocks);
2. every chain under the "background" scenario, 10,000 draws x 60 months, through
   ``critmin simulate`` (streamed summaries): wall time and peak RSS (targets: < 30 s, < 4 GiB);
3. the bytes a scenario-month needs (its shocks read once, its trace written once) against
   what the engine moves: its CPU time at the machine's numpy copy bandwidth, its achieved
   bandwidth as a share of that, and the cache traffic measured by callgrind (valgrind; about
   five minutes per mineral on this machine, ``--no-traffic`` skips it) (target <= 3x);
4. the local process pool, 1 against 2 workers.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import load, median_time
from traffic import measure

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, load_scenario
from critmin.simulate.engine import Trace, run
from critmin.simulate.model import POOL_BELOW, build_model
from critmin.simulate.runner import RunConfig, simulate
from critmin.simulate.shocks import build_shocks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.simulate.reference import run_one  # noqa: E402


def engine_vs_reference(chain: SupplyChain, repeat: int) -> None:
    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    model = build_model(chain, "rare_earths")
    draws = 200
    shocks = build_shocks(
        spec, model, parents_of_dataset(chain.dataset), draws, 12, np.random.default_rng(1)
    )
    run(model, shocks)  # warm: numba's import and the compiled kernel's load are not per draw
    vec = median_time(lambda: run(model, shocks), repeat)
    few = 20
    ref = median_time(lambda: [run_one(model, shocks, s) for s in range(few)], repeat) / few
    print(
        f"1. engine vs reference (rare_earths, china-2025-10, 12 months): "
        f"{vec / draws * 1e3:.3f} ms/draw vs {ref * 1e3:.2f} ms/draw -> {ref * draws / vec:.0f}x"
    )


def all_chains(runs: int, repeat: int, pool_below: float | None = None) -> None:
    """``critmin simulate background`` in a child process: wall time; peak RSS of the main
    process and of the largest worker (their sum bounds the peak total); CPU seconds of the
    whole run (less sensitive to the shared machine's load than wall time)."""
    walls, peaks, cpus, idle = [], [], [], []
    extra = [] if pool_below is None else ["--pool-below", str(pool_below)]
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            # the CLI reports its own peak RSS and its largest worker's on the way out
            args = [
                sys.executable,
                "-c",
                "import resource,sys;from critmin.cli import main\n"
                "try:\n main(sys.argv[1:])\nexcept SystemExit as e:\n"
                " u=resource.getrusage(resource.RUSAGE_SELF);"
                "w=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
                " sys.stderr.write(f'RSS {u.ru_maxrss} {w.ru_maxrss} "
                "{u.ru_utime+u.ru_stime} {w.ru_utime+w.ru_stime}\\n'); raise\n",
                "simulate",
                "background",
                "--runs",
                str(runs),
                "--horizon",
                "60",
                "--workers",
                "2",
                "--seed",
                "1",
                "--out",
                str(Path(tmp) / "run"),
                *extra,
            ]
            t0 = time.perf_counter()
            r = subprocess.run(args, capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - t0)
            if r.returncode != 0:
                print(r.stderr[-2000:])
                return
            line = [x for x in r.stderr.splitlines() if x.startswith("RSS ")][-1]
            main_kib, worker_kib, main_cpu, worker_cpu = line.split()[1:]
            peaks.append((int(main_kib) + int(worker_kib)) / 2**20)
            cpus.append(float(main_cpu) + float(worker_cpu))
            # the main process's work is serial, the workers' shared by 2 cores
            idle.append(float(main_cpu) + float(worker_cpu) / 2)
            size = sum(f.stat().st_size for f in (Path(tmp) / "run").rglob("*") if f.is_file())
    pooled = f"pool below {POOL_BELOW if pool_below is None else pool_below:.0%}"
    print(
        f"2. all chains, background, {runs:,} draws x 60 months, 2 workers, {pooled}: "
        f"{statistics.median(walls):.1f} s (runs: {', '.join(f'{w:.1f}' for w in walls)}), "
        f"peak RSS main + largest worker <= {statistics.median(peaks):.2f} GiB, "
        f"run folder {size / 2**20:.1f} MiB; CPU {statistics.median(cpus):.1f} s, on an idle "
        f"machine about {statistics.median(idle):.1f} s (main process + workers / 2) "
        f"(targets: < 30 s, < 4 GiB)"
    )


def _trace_bytes(trace: Trace) -> int:
    return sum(getattr(trace, f).nbytes for f in trace.__dataclass_fields__)


def bandwidth(chain: SupplyChain, repeat: int, traffic_draws: int) -> None:
    """What a scenario-month needs against what the engine moves.

    The minimum: every array of the scenario-month's shocks read once and every array of its
    trace written once (float64, as the engine returns them; the trace is what its callers
    read: the runner's summaries and conservation check, rank, back-tests). The engine's state
    (a few hundred bytes per scenario) and the model's arrays (a few kB) are not counted.

    Measured: (a) the engine's CPU time per scenario-month, and that time at the machine's
    numpy copy bandwidth (bytes a copy would move meanwhile: an upper bound on what the engine
    can move, since it also computes); (b) the bytes its caches fetched, counted by callgrind's
    cache simulation during one run (benchmarks/traffic.py): fetched into L1, and past the
    per-core L2 (target <= 3x the minimum)."""
    a = np.ones(2**25)  # 256 MiB
    b = np.empty_like(a)
    np.copyto(b, a)  # first touch: page faults are not bandwidth
    copy = median_time(lambda: np.copyto(b, a), repeat, clock=time.process_time)
    copy_bw = 2 * a.nbytes / copy  # read + write
    spec = load_scenario("background", Labels.of(chain.dataset))
    draws, months = 200, 60
    for mineral, pool_below in (("aluminum", 0.0), ("aluminum", POOL_BELOW), ("lithium", 0.0)):
        model = build_model(chain, mineral, pool_below=pool_below)
        rng = np.random.default_rng(1)
        shocks = build_shocks(spec, model, parents_of_dataset(chain.dataset), draws, months, rng)
        trace = run(model, shocks)  # warm
        dt = median_time(
            lambda m=model, sh=shocks: run(m, sh), max(repeat, 5), clock=time.process_time
        )
        need = sum(x.nbytes for x in shocks.as_tuple()) + _trace_bytes(trace)
        cells = draws * months
        per = need / cells
        moved = dt * copy_bw / cells  # bytes a copy would move in the engine's time
        print(
            f"3. {mineral} ({model.K} stages x {model.N} countries, pool below "
            f"{pool_below:.0%}), background, {draws} x {months}: numpy copy bandwidth "
            f"{copy_bw / 1e9:.1f} GB/s; the model needs {per / 1e3:.2f} kB per scenario-month; "
            f"the engine takes {dt / cells * 1e6:.2f} us CPU = {moved / 1e3:.1f} kB at copy "
            f"bandwidth ({moved / per:.1f}x the minimum); achieved "
            f"{need / dt / 1e9:.2f} GB/s = {need / dt / copy_bw:.0%} of copy bandwidth"
        )
    if traffic_draws <= 0:
        return
    for mineral in ("aluminum", "lithium"):
        got = measure(mineral, 0.0, traffic_draws, months)
        if isinstance(got, str):
            print(f"3. measured traffic: not measured ({got})")
            return
        per = got["need"] / got["cells"]
        print(
            f"3. measured traffic (callgrind), {mineral}, pool below 0%, {traffic_draws} x "
            f"{months}: minimum {per / 1e3:.2f} kB per scenario-month; fetched into L1 "
            f"{got['l1'] / got['cells'] / 1e3:.2f} kB ({got['l1'] / got['need']:.2f}x), past "
            f"L2 {got['l2'] / got['cells'] / 1e3:.2f} kB ({got['l2'] / got['need']:.2f}x the "
            f"minimum; target <= 3x)"
        )


def pool(chain: SupplyChain, runs: int, repeat: int) -> None:
    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    times = {}
    simulate(chain, spec, RunConfig(runs=200, seed=1, horizon=12, workers=1))  # warm
    for workers in (1, 2):
        config = RunConfig(runs=runs, seed=1, horizon=12, workers=workers, keep_paths=False)
        times[workers] = median_time(lambda c=config: simulate(chain, spec, c), repeat)
    print(
        f"4. local pool, china-2025-10, {runs:,} draws x 12 months: 1 worker "
        f"{times[1]:.2f} s, 2 workers {times[2]:.2f} s -> {times[1] / times[2]:.2f}x"
    )


def main() -> None:
    quick = "--quick" in sys.argv
    repeat = 1 if quick else 3
    print(f"load average (1, 5, 15 min): {load()}; cores: {os.cpu_count()}; median of {repeat}")
    chain = SupplyChain.load()
    engine_vs_reference(chain, repeat)
    all_chains(1000 if quick else 10_000, repeat)
    all_chains(1000 if quick else 10_000, repeat, pool_below=0.0)
    bandwidth(chain, repeat, 0 if "--no-traffic" in sys.argv else 50 if quick else 200)
    pool(chain, 1000 if quick else 4000, repeat)


if __name__ == "__main__":
    main()
