"""Sensitivity of the criticality ranking to each critmin assumption (prints, never asserts).

Each unsourced market parameter (rows of market_parameters.csv with source CRITMIN_ASSUMPTION)
is halved and doubled for every mineral that uses the default; the ranking is recomputed and
compared with the base over the base top 20 (Spearman rank correlation), with the top 5 shown.
"""

from __future__ import annotations

import sys

from scipy.stats import spearmanr

from critmin.chain import SupplyChain
from critmin.simulate.rank import rank

PARAMETERS = (
    "price_elasticity_demand",
    "supply_elasticity",
    "spare_capacity",
    "price_cap_ratio",
    "commercial_stock_days",
    "supplier_stock_days",
    "substitution_elasticity",
)


def _ranking(chain: SupplyChain, runs: int) -> dict[str, float]:
    return {
        r.mineral: r.expected_loss_usd
        for r in rank(chain, runs=runs, seed=0, domestic=False)
        if r.expected_loss_usd is not None
    }


def main(runs: int = 60) -> None:
    base = _ranking(SupplyChain.load(), runs)
    top = sorted(base, key=lambda m: -base[m])[:20]
    print(f"base top 5: {', '.join(top[:5])}")
    for name in PARAMETERS:
        for factor in (0.5, 2.0):
            chain = SupplyChain.load()
            params = chain.dataset["market_parameters"]
            at = (params["parameter"] == name) & (params["source_id"] == "CRITMIN_ASSUMPTION")
            params.loc[at, "value"] = params.loc[at, "value"].astype(float) * factor
            if name == "price_cap_ratio":
                params.loc[at, "value"] = params.loc[at, "value"].clip(lower=1.5)
            other = _ranking(chain, runs)
            rho = spearmanr([base[m] for m in top], [other.get(m, 0.0) for m in top]).statistic
            new_top = sorted(other, key=lambda m: -other[m])[:5]
            print(
                f"{name} x{factor:g}: Spearman {rho:.3f} over the base top 20; "
                f"top 5 {', '.join(new_top)}"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
