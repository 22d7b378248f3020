"""Leverage table: U.S. GDP lost per dollar of a mineral short (critmin.economics.io).

Prints, for the default universe (`critmin rank`'s minerals), the leverage at 10% and 50%
shortfalls, whether essential product lines (``io_dependency``, fixed proportions) or only the
CES users carry it, and the largest user; then each essential mineral's sensitivity to its
assumed dependent shares (+/-50%), a bound for the PGMs' forward effect on vehicle assembly,
the published USGS references, and a like-for-like bound for industrial sand.
Asserts nothing. Run: ``.venv/bin/python benchmarks/leverage_table.py [N]`` (N rows, default 25).
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np


def main(rows: int = 25) -> None:
    from critmin.chain import SupplyChain
    from critmin.economics.io import io_model
    from critmin.simulate.model import build_model
    from critmin.simulate.rank import simulated

    chain = SupplyChain.load()
    table = []
    for mineral, _listed in simulated(chain):
        try:
            expo = build_model(chain, mineral).exposure
        except (KeyError, ValueError):
            continue
        if expo is None:
            continue
        top = int(np.argmax(expo.weight))
        kind = "essential+CES" if expo.essential is not None else "CES"
        table.append((expo.leverage(0.5), expo.leverage(0.1), mineral, kind, expo.codes[top], expo))
    table.sort(key=lambda r: -r[0])
    print(f"{'mineral':24s} {'lev@50%':>9s} {'lev@10%':>9s}  basis          top user")
    for lev50, lev10, mineral, kind, code, _ in table[:rows]:
        print(f"{mineral:24s} {lev50:9.3g} {lev10:9.3g}  {kind:14s} {code}")
    by = {r[2]: r[5] for r in table}

    ga = by.get("gallium")
    sand = build_model(chain, "sand_gravel_industrial").exposure  # not on a U.S. list
    if ga is None or ga.essential is None:
        return
    print("\nessential lines, dependent shares x0.5 / x1 / x1.5 (derived estimates, +/-50%):")
    for _, _, mineral, _, _, expo in table:
        if expo.essential is None:
            continue
        lines = ", ".join(c for c, d in zip(expo.codes, expo.essential, strict=True) if d > 0)
        moved = (
            dataclasses.replace(expo, essential=expo.essential * f).leverage(0.5)
            for f in (0.5, 1.0, 1.5)
        )
        ces = dataclasses.replace(expo, essential=None).leverage(0.5)
        print(
            f"  {mineral:13s} ({lines}): leverage@50% "
            + " / ".join(f"{v:.3g}" for v in moved)
            + f"; CES users only {ces:.3g}"
        )
    # PGMs: the forward effect the model leaves out. Were every non-BEV light vehicle (336111,
    # 336112; 1 - 0.070 of output, io_dependency) unable to ship without its converter, the
    # leverage there would be mu x (1 - 0.070) / V: a bound, not a modelled figure.
    model = io_model(chain.dataset)
    print("\nPGM bound if ICE light-vehicle assembly stopped with its converter (not modelled):")
    for mineral in ("platinum", "palladium", "rhodium"):
        expo = by.get(mineral)
        if expo is None:
            continue
        cars = sum(
            model.va_multiplier[model.index(c)] * model.output[model.index(c)] * 1e6
            for c in ("336111", "336112")
        )
        print(f"  {mineral:10s} {cars * (1 - 0.070) / expo.value_usd:.3g}")
    # USGS OFR 2024-1057: complete restriction of China's net exports -> U.S. GDP -3.1 bn USD
    # (gallium; range 1.7-8.2) and -0.4 bn USD (germanium; 0.01-1.1). The U.S. shortfall is at
    # most all of U.S. use, so loss / value of U.S. use is a lower bound on the leverage they imply.
    print("\nUSGS OFR 2024-1057 (complete Chinese net-export restriction), implied leverage:")
    usgs = (("gallium", 3.1e9, 1.7e9, 8.2e9), ("germanium", 0.4e9, 0.01e9, 1.1e9))
    for mineral, loss, low, high in usgs:
        expo = by.get(mineral)
        if expo is None:
            continue
        v = expo.value_usd
        print(
            f"  {mineral:10s} U.S. use {v / 1e6:6.1f} MUSD/yr: USGS loss/use >= {loss / v:6.0f} "
            f"(range {low / v:.0f}-{high / v:.0f}); critmin leverage@50% {expo.leverage(0.5):6.0f}"
        )
    if sand is None:
        return
    # Like-for-like bound: were industrial sand's glassmaking use (7% of U.S. tonnage, USGS MCS
    # 2020, value assumed in proportion) essential to all of BEA 327200 (glass and glass
    # products) in fixed proportions, its leverage there would be mu x / (0.07 V).
    j = model.index("327200")
    x = model.output[j] * 1e6
    glass = model.va_multiplier[j] * x / (0.07 * sand.value_usd)
    users = ", ".join(sand.codes[i] for i in np.argsort(-sand.weight)[:3])
    print(
        f"\nindustrial sand: leverage@50% {sand.leverage(0.5):.3g} (largest CES users: {users}); "
        f"bound if essential to all glass output (327200, fixed proportions): {glass:.3g}; "
        f"gallium / that bound = {ga.leverage(0.5) / glass:.1f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 25)
