"""Benchmark: load the bundled data, compute the full exposure table, start the CLI.

Prints figures; asserts nothing (targets: load + exposure < 2 s, `critmin exposure` < 1.5 s).
Run with `make bench`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(fn, repeat: int = 5) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    t0 = time.perf_counter()
    from critmin.chain import SupplyChain
    from critmin.metrics.exposure import exposure_table

    imports = time.perf_counter() - t0
    chain_box: list[SupplyChain] = []
    load = timed(lambda: chain_box.append(SupplyChain.load()))
    chain = chain_box[-1]
    table_box = []
    expo = timed(lambda: table_box.append(exposure_table(chain)))
    both = timed(lambda: exposure_table(SupplyChain.load()))
    exe = Path(sys.executable).with_name("critmin")
    cli = timed(
        lambda: subprocess.run(
            [str(exe), "exposure", "--format", "json"], check=True, capture_output=True
        )
    )
    rows = len(table_box[-1])
    print(f"import critmin.chain + metrics : {imports:.3f} s (once)")
    print(f"load bundled data + chain       : median {statistics.median(load):.3f} s")
    print(f"exposure table ({rows} rows)     : median {statistics.median(expo):.3f} s")
    print(f"load + exposure (target < 2 s)  : median {statistics.median(both):.3f} s")
    print(
        f"`critmin exposure` wall (< 1.5s): median {statistics.median(cli):.3f} s, "
        f"max {max(cli):.3f} s"
    )


if __name__ == "__main__":
    main()
