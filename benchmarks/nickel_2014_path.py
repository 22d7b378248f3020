"""Monthly price path of the 2014 Indonesian nickel-ore back-test episode (docs/criticality.md
§7): the episode's scenario at its coverage (0.68, Indonesia's 2013 share of world supply) and
at 1.0, on the refined market (the episode's stages) and on the full chain, by region.

    python benchmarks/nickel_2014_path.py
"""

from __future__ import annotations

import numpy as np

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, parse_scenario
from critmin.simulate.backtest import episodes
from critmin.simulate.engine import run
from critmin.simulate.model import build_model
from critmin.simulate.shocks import build_shocks

EPISODE = "nickel-2014-idn"


def main() -> None:
    chain = SupplyChain.load()
    ep = episodes()[EPISODE]
    for coverage in (0.68, 1.0):
        raw = {"name": EPISODE, **ep["scenario"]}
        raw["events"] = {"ban": {**raw["events"]["ban"], "coverage": coverage}}
        scenario = parse_scenario(raw, EPISODE, Labels.of(chain.dataset))
        for stages in (ep["stages"], None):
            model = build_model(chain, ep["mineral"], stages)
            shocks = build_shocks(
                scenario, model, parents_of_dataset(chain.dataset), 1, 12, np.random.default_rng(0)
            )
            trace = run(model, shocks)
            market = "+".join(stages) if stages else "full chain"
            for r, region in enumerate(model.regions):
                path = " ".join(f"{x:.2f}" for x in trace.price_ratio[0, :, r])
                print(f"coverage {coverage:.2f} {market:16s} {region}: {path}")


if __name__ == "__main__":
    main()
