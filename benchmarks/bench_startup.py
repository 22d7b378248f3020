"""CLI start-up against ``python -c "import numpy, pandas"`` measured in the same run (prints
figures; asserts nothing).

Wall time of a fresh interpreter, median of ``--repeat`` runs, interleaved so that machine load
falls on every command alike: ``critmin --help``, ``critmin exposure`` (the whole table, output
discarded; the table kept on disk by ``data.result_cache``, as on every start but the first
after a data or code change), the same without the caches (``CRITMIN_CACHE_DIR=off``: the
tables checked and the chain built and computed on every start) and the baseline. Targets
(issue 15): --help and exposure under 0.6 s, exposure within 1.5x the baseline. Also prints
where exposure's time goes when it computes (imports, data, table, output) and the machine's
load averages (the machine is shared).

Run: .venv/bin/python benchmarks/bench_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from timing import load

CRITMIN = str(Path(sys.executable).with_name("critmin"))
COMMANDS = {
    "import numpy, pandas": [sys.executable, "-c", "import numpy, pandas"],
    "critmin --help": [CRITMIN, "--help"],
    "critmin exposure": [CRITMIN, "exposure"],
    "exposure, caches off": [CRITMIN, "exposure"],
}
#: Environment changes per command.
ENV = {"exposure, caches off": {"CRITMIN_CACHE_DIR": "off"}}

PHASES = """
import time
t0 = time.perf_counter()
import numpy, pandas
t1 = time.perf_counter()
from critmin import lazydask
lazydask.defer()
import xarray
t2 = time.perf_counter()
from critmin.chain import SupplyChain
from critmin.metrics.exposure import exposure_table
from critmin.data.load import load
t3 = time.perf_counter()
data = load()
t4 = time.perf_counter()
chain = SupplyChain.from_dataset(data)
frame = exposure_table(chain)
t5 = time.perf_counter()
import contextlib, os
from critmin.cli import _emit
with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
    _emit(frame, "table", "Exposure by mineral and stage")
t6 = time.perf_counter()
print(" ".join(f"{x:.3f}" for x in (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)))
"""
PHASE_NAMES = ("numpy+pandas", "xarray", "critmin modules", "data", "chain+table", "output")


def once(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        cmd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"load averages before: {load()}")
    for name, cmd in COMMANDS.items():
        once(cmd, ENV.get(name))  # warm the file cache (and the table cache)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeat):
        for name, cmd in COMMANDS.items():
            times[name].append(once(cmd, ENV.get(name)))
    median = {name: statistics.median(t) for name, t in times.items()}
    base = median["import numpy, pandas"]
    for name, t in median.items():
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        print(
            f"{name:<25} median {t:5.2f} s (range {spread} s, {args.repeat} runs)  "
            f"{t / base:4.2f}x the numpy+pandas import"
        )
    phases = []
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", PHASES], check=True, capture_output=True, text=True
        )
        phases.append([float(x) for x in done.stdout.split()])
    parts = [statistics.median(p[i] for p in phases) for i in range(len(PHASE_NAMES))]
    print(
        "exposure's time when it computes (a cache miss), median of 3: "
        + ", ".join(f"{n} {x:.2f} s" for n, x in zip(PHASE_NAMES, parts, strict=True))
    )
    print(f"load averages after: {load()}")


if __name__ == "__main__":
    main()
