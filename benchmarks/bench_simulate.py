"""Benchmark: the Monte Carlo engine and the ensemble driver (prints figures, asserts nothing).

Run with `.venv/bin/python benchmarks/bench_simulate.py [--quick]`. Each timing is the median of
three runs (``--quick``: one run, smaller sizes); the machine's load (``uptime``) is printed
first, since the 2-core machine is shared and timings are noisy under load. Figures:
1. the vectorised engine against the per-scenario reference loop (same model and shocks);
2. every chain under the "background" scenario, 10,000 draws x 60 months, through
   ``critmin simulate`` (streamed summaries): wall time and peak RSS (targets: < 30 s, < 4 GiB);
3. the machine's numpy copy bandwidth and the engine's achieved bandwidth (the bytes a
   scenario-month needs: its shocks read once, its trace written once) as a share of it;
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

from critmin.chain import SupplyChain
from critmin.scenarios.load import Labels, load_scenario
from critmin.simulate.engine import run
from critmin.simulate.model import build_model
from critmin.simulate.runner import RunConfig, parents_of, simulate
from critmin.simulate.shocks import build_shocks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.simulate.reference import run_one  # noqa: E402


def engine_vs_reference(chain: SupplyChain, repeat: int) -> None:
    spec = load_scenario("china-2025-10", Labels.of(chain.dataset))
    model = build_model(chain, "rare_earths")
    draws = 200
    shocks = build_shocks(spec, model, parents_of(chain), draws, 12, np.random.default_rng(1))
    vec = median_time(lambda: run(model, shocks), repeat)
    few = 20
    ref = median_time(lambda: [run_one(model, shocks, s) for s in range(few)], repeat) / few
    print(
        f"1. engine vs reference (rare_earths, china-2025-10, 12 months): "
        f"{vec / draws * 1e3:.3f} ms/draw vs {ref * 1e3:.2f} ms/draw -> {ref * draws / vec:.0f}x"
    )


def all_chains(runs: int, repeat: int) -> None:
    """``critmin simulate background`` in a child process: wall time; peak RSS of the main
    process and of the largest worker (their sum bounds the peak total)."""
    walls, peaks, cpus = [], [], []
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
                "{u.ru_utime+u.ru_stime+w.ru_utime+w.ru_stime}\\n'); raise\n",
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
            ]
            t0 = time.perf_counter()
            r = subprocess.run(args, capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - t0)
            if r.returncode != 0:
                print(r.stderr[-2000:])
                return
            line = [x for x in r.stderr.splitlines() if x.startswith("RSS ")][-1]
            main_kib, worker_kib, cpu = line.split()[1:]
            peaks.append((int(main_kib) + int(worker_kib)) / 2**20)
            cpus.append(float(cpu))
            size = sum(f.stat().st_size for f in (Path(tmp) / "run").rglob("*") if f.is_file())
    print(
        f"2. all chains, background, {runs:,} draws x 60 months, 2 workers: "
        f"{statistics.median(walls):.1f} s (runs: {', '.join(f'{w:.1f}' for w in walls)}), "
        f"peak RSS main + largest worker <= {statistics.median(peaks):.2f} GiB, "
        f"run folder {size / 2**20:.1f} MiB; CPU {statistics.median(cpus):.1f} s "
        f"(/ 2 cores = {statistics.median(cpus) / 2:.1f} s on an idle machine) "
        f"(targets: < 30 s, < 4 GiB)"
    )


def bandwidth(chain: SupplyChain, repeat: int) -> None:
    a = np.ones(2**25)  # 256 MiB
    b = np.empty_like(a)
    np.copyto(b, a)  # first touch: page faults are not bandwidth
    copy = median_time(lambda: np.copyto(b, a), repeat)
    copy_bw = 2 * a.nbytes / copy
    spec = load_scenario("background", Labels.of(chain.dataset))
    model = build_model(chain, "aluminum")
    draws, months = 200, 60
    shocks = build_shocks(spec, model, parents_of(chain), draws, months, np.random.default_rng(1))
    trace = run(model, shocks)  # warm
    dt = median_time(lambda: run(model, shocks), repeat)
    need = sum(x.nbytes for x in shocks.as_tuple()) + sum(
        getattr(trace, f).nbytes for f in trace.__dataclass_fields__
    )
    per = need / (draws * months)
    print(
        f"3. numpy copy bandwidth {copy_bw / 1e9:.1f} GB/s; engine (aluminum, background, "
        f"{model.K} stages x {model.N} countries) needs {per / 1e3:.1f} kB per scenario-month, "
        f"achieves {need / dt / 1e9:.2f} GB/s = {need / dt / copy_bw:.0%} of copy bandwidth "
        f"({dt / (draws * months) * 1e6:.1f} us per scenario-month)"
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
    bandwidth(chain, repeat)
    pool(chain, 1000 if quick else 4000, repeat)


if __name__ == "__main__":
    main()
