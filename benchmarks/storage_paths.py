"""Monthly price paths of the back-test episodes under the stock release rules
(critmin.economics.storage: ``myopic``, ``storage`` and ``storage_path``), with the end hazard
the holders read each month and the gap path they expect where a regime declares one
(docs/criticality.md §3).

    python benchmarks/storage_paths.py [EPISODE ...]
"""

from __future__ import annotations

import dataclasses
import sys

from critmin.chain import SupplyChain
from critmin.economics.storage import STOCK_RULES
from critmin.simulate.backtest import episode_inputs, episodes
from critmin.simulate.engine import run


def main(names: list[str]) -> None:
    chain = SupplyChain.load()
    for name in episodes():
        if names and name not in names:
            continue
        inputs = episode_inputs(chain, name)
        model, shocks = inputs.model, inputs.shocks
        hazard = shocks.end_hazard
        print(f"{name} ({model.mineral}, {model.region_stock_days:.1f} days of consumer stock)")
        if hazard is not None:
            print("  end hazard " + " ".join(f"{h:.4f}" for h in hazard[0]))
        if shocks.gap_path is not None:
            for t, ratios in enumerate(shocks.gap_path[0]):
                if (ratios != 1.0).any():
                    ahead = " ".join(f"{r:.3f}" for r in ratios)
                    print(f"  month {t + 1}: gap expected ahead, x this month's: {ahead}")
        for rule in STOCK_RULES:
            trace = run(dataclasses.replace(model, stock_rule=rule), shocks)
            for r, region in enumerate(model.regions):
                path = " ".join(f"{p:5.2f}" for p in trace.price_ratio[0, :, r])
                print(f"  {rule:12s} {region}  {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
