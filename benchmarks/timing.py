"""What every benchmark times with: the median time of repeated calls (wall by default, CPU on
request: steadier for A/B comparisons on a shared machine), and the machine's load (printed
beside each figure, since this machine's cores are shared)."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its reaped children (a pool's workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def median_time(
    f: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median seconds of ``repeat`` calls of ``f`` by ``clock``: wall time by default;
    ``time.process_time`` for this process's CPU time, ``cpu_seconds`` to add its children's."""
    times = []
    for _ in range(repeat):
        t0 = clock()
        f()
        times.append(clock() - t0)
    return statistics.median(times)


def load() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
