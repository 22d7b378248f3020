"""What every benchmark times with: the median wall time of repeated calls, and the machine's
load (printed beside each figure, since this machine's cores are shared)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path


def median_time(f: Callable[[], object], repeat: int) -> float:
    """Median wall seconds of ``repeat`` calls of ``f``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def load() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
