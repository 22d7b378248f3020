"""Measure the memory traffic of one engine run: valgrind's callgrind simulates the caches while
``engine.run`` executes (instrumentation switched on and off around the call by callgrind's
client requests, through a three-line C helper built with the system compiler), and counts the
lines each cache level had to fetch.

Two levels are counted, each line 64 B:
- **L1** (48 KiB, 12-way: this machine's per-core L1d): lines fetched into L1, read or written.
  Every pass over an array too large for L1 shows here, so a temporary that is written and
  read back costs its bytes twice.
- **L2** (2 MiB, 16-way: this machine's per-core share of L2, the last private level; callgrind
  calls it LL): lines fetched past it, from the shared L3 or memory: what a core costs the rest
  of the machine.

A write miss fetches its line (write-allocate), so writing a fresh array counts its bytes once,
as the minimum does; write-backs of dirty lines are not modelled (the same for every engine).

Usage (from the benchmark): ``measure(...)`` runs this file under valgrind in a child process;
it returns None with a reason when valgrind, its headers or a C compiler are missing.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LINE = 64
L1 = "--D1=49152,12,64"
L2 = "--LL=2097152,16,64"
HELPER = """#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void cg_stop(void) { CALLGRIND_DUMP_STATS_AT("run"); CALLGRIND_STOP_INSTRUMENTATION; }
"""


def _helper(folder: Path) -> Path | str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or shutil.which("valgrind") is None:
        return "valgrind or a C compiler is not installed"
    if not Path("/usr/include/valgrind/callgrind.h").exists():
        return "valgrind's headers (valgrind/callgrind.h) are not installed"
    src = folder / "cg.c"
    src.write_text(HELPER)
    lib = folder / "libcg.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", str(src), "-o", str(lib)], check=True)
    return lib


def measure(
    mineral: str, pool_below: float, draws: int, months: int, pythonpath: str | None = None
) -> dict[str, float] | str:
    """Bytes fetched into L1 and past L2 during one ``engine.run`` (after a warm run), and
    the bytes the run read (shocks) and wrote (trace); or why it could not be measured."""
    with tempfile.TemporaryDirectory() as tmp:
        lib = _helper(Path(tmp))
        if isinstance(lib, str):
            return lib
        env = dict(os.environ)
        if pythonpath is not None:
            env["PYTHONPATH"] = pythonpath
        out = Path(tmp) / "cg.out"
        args = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--cache-sim=yes",
            L1,
            L2,
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            str(lib),
            mineral,
            str(pool_below),
            str(draws),
            str(months),
        ]
        r = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
        if r.returncode != 0:
            return f"valgrind failed: {r.stderr.strip().splitlines()[-1:]}"
        need = float(re.findall(r"^NEED (\d+)$", r.stdout, re.M)[-1])
        dumps = [p for p in Path(tmp).glob("cg.out*") if p.read_text().find("run") >= 0]
        text = max(dumps, key=lambda p: p.stat().st_mtime).read_text()
        events = re.search(r"^events: (.*)$", text, re.M)
        totals = re.search(r"^(?:summary|totals): (.*)$", text, re.M)
        if events is None or totals is None:
            return "callgrind wrote no totals"
        got = dict(zip(events.group(1).split(), map(float, totals.group(1).split()), strict=True))
        return {
            "need": need,
            "l1": (got["D1mr"] + got["D1mw"]) * LINE,
            "l2": (got["DLmr"] + got["DLmw"]) * LINE,
            "cells": float(draws * months),
        }


def _child() -> None:
    lib_path, mineral, pool_below, draws, months = sys.argv[1:6]
    import numpy as np

    from critmin.chain import SupplyChain
    from critmin.economics.price import parents_of_dataset
    from critmin.scenarios.load import Labels, load_scenario
    from critmin.simulate.engine import run
    from critmin.simulate.model import build_model
    from critmin.simulate.shocks import build_shocks

    cg = ctypes.CDLL(lib_path)
    chain = SupplyChain.load()
    spec = load_scenario("background", Labels.of(chain.dataset))
    model = build_model(chain, mineral, pool_below=float(pool_below))
    rng = np.random.default_rng(1)
    shocks = build_shocks(
        spec, model, parents_of_dataset(chain.dataset), int(draws), int(months), rng
    )
    run(model, shocks)  # warm: compiled, and the allocator has seen these sizes
    cg.cg_start()
    trace = run(model, shocks)
    cg.cg_stop()
    need = sum(x.nbytes for x in shocks.as_tuple())
    need += sum(getattr(trace, f).nbytes for f in trace.__dataclass_fields__)
    print(f"NEED {need}")


if __name__ == "__main__":
    _child()
