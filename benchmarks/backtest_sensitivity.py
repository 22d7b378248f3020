"""The back-tests under each market assumption halved and doubled (prints, never asserts).

Every row of ``market_parameters.csv`` for the parameter (sourced or not) is scaled by 0.5
and 2 (the choke price kept above 1.5) and ``critmin backtest`` is replayed; each
observation's modelled figure is printed per factor, with the out-of-sample score
(docs/criticality.md §7). ``python benchmarks/backtest_sensitivity.py [parameter ...]``.
"""

from __future__ import annotations

import math
import sys

from critmin.chain import SupplyChain
from critmin.simulate.backtest import Record, backtest, score

PARAMETERS = (
    "commercial_stock_days",
    "supplier_stock_days",
    "price_elasticity_demand",
    "price_cap_ratio",
    "spare_capacity",
)
FACTORS = (0.5, 2.0)


def _replay(name: str | None, factor: float) -> list[Record]:
    chain = SupplyChain.load()
    if name is not None:
        params = chain.dataset["market_parameters"]
        at = params["parameter"] == name
        params.loc[at, "value"] = params.loc[at, "value"].astype(float) * factor
        if name == "price_cap_ratio":
            params.loc[at, "value"] = params.loc[at, "value"].clip(lower=1.5)
    return backtest(chain)


def _line(label: str, records: list[Record]) -> str:
    cells = " | ".join("nan" if math.isnan(r.modelled) else f"{r.modelled:.3f}" for r in records)
    return f"{label} | {cells} | {score(records)[0].mean_abs_log_error:.3f}"


def main(names: list[str]) -> None:
    base = _replay(None, 1.0)
    head = " | ".join(f"{r.episode}: {r.quantity[:40]}" for r in base)
    print(f"run | {head} | out-of-sample score")
    print("observed | " + " | ".join(f"{r.observed:.3f}" for r in base))
    print(_line("base", base))
    for name in names:
        for factor in FACTORS:
            print(_line(f"{name} x{factor:g}", _replay(name, factor)))


if __name__ == "__main__":
    main(sys.argv[1:] or list(PARAMETERS))
