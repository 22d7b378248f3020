"""Run every benchmark (benchmarks/bench_*.py) once, one after another, and print its figures.

Each benchmark measures its own baseline in the same run and prints its figures as a ratio
against it; this harness runs them in fresh interpreters (so one's imports and caches do not
flatter the next), streams their output, keeps going when one fails (its error is printed),
and ends with a summary: status and time of each, and every line that states a ratio.
New benchmarks are picked up by their file name. Prints figures; asserts nothing.

Run: ``make bench`` or ``.venv/bin/python benchmarks/run_all.py [--only NAME] [--skip NAME]
[--timeout SECONDS]``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: A line that states a ratio against a baseline: "12.3x", a multiplication sign, "ratio",
#: "% of", "vs", "against".
TIMES = "\u00d7"
RATIO = re.compile(
    rf"(\d\s*[x{TIMES}]\b|{TIMES}|\bratio\b|% of\b|\bvs\.?\s|\bagainst\b)", re.IGNORECASE
)


@dataclass
class Outcome:
    name: str
    status: str = "ok"
    seconds: float = 0.0
    ratios: list[str] = field(default_factory=list)
    error: str = ""


def benchmarks(only: list[str], skip: list[str]) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))

    def short(p: Path) -> str:
        return p.stem.removeprefix("bench_")

    if only:
        found = [p for p in found if short(p) in only or p.stem in only]
    return [p for p in found if short(p) not in skip and p.stem not in skip]


def run(path: Path, timeout: float) -> Outcome:
    """Run one benchmark, echoing its output as it comes."""
    out = Outcome(path.stem)
    print(f"\n=== {path.name} " + "=" * max(0, 70 - len(path.name)), flush=True)
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=HERE.parent,
    ) as proc:
        assert proc.stdout is not None
        deadline = t0 + timeout
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
            if time.perf_counter() > deadline:
                proc.kill()
                out.status = f"timed out after {timeout:.0f} s"
                break
        code = proc.wait()
    out.seconds = time.perf_counter() - t0
    if out.status == "ok" and code != 0:
        out.status = f"failed (exit {code})"
        tail = [x for x in lines if x.strip()][-3:]
        out.error = " | ".join(tail)[-300:]
    out.ratios = [x.strip() for x in lines if RATIO.search(x) and "Traceback" not in x]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", default=[], help="run only this benchmark")
    parser.add_argument("--skip", action="append", default=[], help="skip this benchmark")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark")
    args = parser.parse_args()
    paths = benchmarks(args.only, args.skip)
    print(
        f"{len(paths)} benchmarks on {os.cpu_count()} cores; load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
        + " (figures on a shared machine are noisy)"
    )
    outcomes = [run(p, args.timeout) for p in paths]
    print("\n=== summary " + "=" * 62)
    for o in outcomes:
        print(f"{o.name:<22} {o.status:<22} {o.seconds:7.1f} s")
        if o.error:
            print(f"    error: {o.error}")
        for r in o.ratios:
            print(f"    {r}")


if __name__ == "__main__":
    main()
