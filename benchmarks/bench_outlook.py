"""Outlook speed: every chain to 2040 at 2,000 draws (target: under 30 s). Prints figures."""

from __future__ import annotations

import time

from critmin.chain import SupplyChain
from critmin.outlook.capacity import run_outlook
from critmin.outlook.policy import Policy
from critmin.outlook.sensitivity import completion_sensitivity
from critmin.security.hazard import hazard_rates


def main() -> None:
    t0 = time.perf_counter()
    chain = SupplyChain.load()
    t1 = time.perf_counter()
    c1 = time.process_time()
    result = run_outlook(chain, Policy(), draws=2000, seed=0)
    t2 = time.perf_counter()
    c2 = time.process_time()
    reform = run_outlook(chain, Policy(permitting_change={"all": -0.5}), draws=2000, seed=0)
    t3 = time.perf_counter()
    hazard_rates(chain)
    t4 = time.perf_counter()
    c4 = time.process_time()
    sensitivity = completion_sensitivity(chain, Policy(), draws=2000, seed=0)
    t5 = time.perf_counter()
    c5 = time.process_time()
    chains = result.by_chain[["mineral", "stage"]].drop_duplicates()
    print(f"load: {t1 - t0:.2f} s")
    print(
        f"outlook, {chains['mineral'].nunique()} chain minerals / {len(chains)} stages with a "
        f"base, {len(result.pipeline.projects)} projects, 2,000 draws, "
        f"{result.years[0]}-{result.years[-1]}: {t2 - t1:.2f} s, CPU {c2 - c1:.2f} s "
        "(target < 30 s)"
    )
    print(f"outlook with permitting -50%: {t3 - t2:.2f} s ({len(reform.by_country):,} records)")
    print(f"hazard rates (Gamma-Poisson): {t4 - t3:.2f} s")
    variants = sensitivity[["facility_type", "phase"]].drop_duplicates()
    print(
        f"completion sensitivity, {len(variants)} variants x 2 runs, six IEA minerals, "
        f"2,000 draws: {t5 - t4:.2f} s, CPU {c5 - c4:.2f} s"
    )


if __name__ == "__main__":
    main()
