"""The 2024 antimony episode, traced and decomposed (prints, never asserts; issue #9).

``python benchmarks/antimony_2024_path.py``: the chain the episode replays (stages, China's
share of each region's receipts), the monthly price and receipts path of each region, and
every assumption altered one at a time, each run read on three measures: the U.S. mean price
of 2024 against the 2023 level (the observation until 3 December 2026), the rest of the
world's December price against the level before the controls (the observation since), and
the U.S. December price. A sensitivity, not a fit: nothing here changes the bundled data
(docs/criticality.md section 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.data.load import Dataset
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, parse_scenario
from critmin.simulate.backtest import episodes
from critmin.simulate.engine import Trace, run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import build_shocks

EPISODE = "antimony-2024-controls"
MONTHS = 12
#: China's exports of antimony products, September-December 2024, over their January-August
#: monthly mean (29,379 t / 8): October 190 t (REUTERS_SB_OCT2024), November 808 t and
#: December 1,721 t (REUTERS_SB_DEC2024); September's 6,533 t was the rush before the
#: licence of the 15th, left at the library's 0.5 (a what-if, not the library's path)
CUSTOMS = [0.5, 190 / 3672.375, 808 / 3672.375, 1721 / 3672.375]


def _chain(ds: Dataset | None = None) -> SupplyChain:
    base = SupplyChain.load() if ds is None else SupplyChain.from_dataset(ds)
    return replace(base, as_of=2023)


def _raw(approval: list[float] | None = None) -> dict[str, object]:
    ep = episodes()[EPISODE]
    raw: dict[str, object] = {"name": EPISODE, **ep["scenario"]}
    if approval is not None:
        events = dict(raw["events"])  # type: ignore[call-overload]
        events["licence"] = {**events["licence"], "approval": approval}
        raw["events"] = events
    return raw


def _run(
    chain: SupplyChain,
    edit: Callable[[ChainModel], ChainModel] = lambda m: m,
    approval: list[float] | None = None,
) -> tuple[ChainModel, Trace]:
    model = edit(build_model(chain, "antimony", episodes()[EPISODE].get("stages")))
    labels = Labels.of(chain.dataset)
    scenario = parse_scenario(_raw(approval), EPISODE, labels)
    shocks = build_shocks(
        scenario, model, parents_of_dataset(chain.dataset), 1, MONTHS, np.random.default_rng(0)
    )
    return model, run(model, shocks)


def _measures(model: ChainModel, trace: Trace) -> tuple[float, float, float]:
    usa, row = model.regions.index("USA"), model.regions.index("ROW")
    p = trace.price_ratio[0]
    return float(p[:, usa].mean()), float(p[11, row]), float(p[11, usa])


def _china_consumes(ds: Dataset, share: float) -> Dataset:
    """A copy of ``ds`` with China's consumption share of antimony set to ``share`` (the
    bundled data have none: the model takes China's share of mine output, an assumption)."""
    dem = ds["demand_shares"]
    row = pd.DataFrame(
        [
            {
                "mineral": "antimony",
                "region": "CHN",
                "share": share,
                "year": 2023,
                "basis": "what-if",
                "source_id": "CRITMIN_ASSUMPTION",
                "estimated": True,
                "note": "",
            }
        ]
    )
    dem = pd.concat([dem[dem["mineral"] != "antimony"], row], ignore_index=True)
    return ds.with_table("demand_shares", dem)


def _refined_in_china(ds: Dataset, countries: tuple[str, ...]) -> Dataset:
    """A copy of ``ds`` whose 2023 antimony mine output of ``countries`` is China's: a crude
    stand-in for the refining stage the chain lacks (their ore refined in China and sold as
    China's oxide and metal), China's consumption held at its bundled share (41,000 t of
    117,433 t). A what-if, no sourced split."""
    prod = ds["production"].copy()
    sel = (prod["mineral"] == "antimony") & (prod["stage"] == "mining") & (prod["year"] == 2023)
    world = prod.loc[sel & (prod["source_id"] == "WMD_2026"), "value"].astype(float).sum()
    china = sel & (prod["country"] == "CHN")
    consumed = float(prod.loc[china & (prod["source_id"] == "WMD_2026"), "value"].iloc[0]) / world
    moved = prod.loc[sel & prod["country"].isin(countries), "value"].astype(float).sum()
    prod.loc[sel & prod["country"].isin(countries), "value"] = 0.0
    prod.loc[china, "value"] = prod.loc[china, "value"].astype(float) + moved
    out = ds.with_table("production", prod)
    return _china_consumes(out, consumed)


def main() -> None:
    np.set_printoptions(precision=3, suppress=True, linewidth=160)
    chain = _chain()
    model, trace = _run(chain)
    print(
        f"stages {model.stages}, production years {model.production_years}, "
        f"base year {model.base_year}, U.S. stage {model.us_stage or model.stages[-1]}"
    )
    world = model.capacity[0].sum()
    chn = model.countries.index("CHN")
    print(
        f"China's share of world mine output (bundled, {model.production_years[0]}): "
        f"{model.capacity[0, chn] / world:.3f} of {world * 12:,.0f} t a year"
    )
    for r, region in enumerate(model.regions):
        col = model.final[:, r]
        top = sorted(zip(model.countries, col / col.sum(), strict=True), key=lambda x: -x[1])
        shares = ", ".join(f"{c} {s:.3f}" for c, s in top[:6] if s > 0.005)
        print(f"{region}: {col.sum() * 12:,.0f} t a year; receipts by origin node: {shares}")
    print(
        f"stock days (consumers) {model.region_stock_days}, elasticity {model.elasticity}, "
        f"spare {model.spare}, supply elasticity {model.supply_elasticity}, "
        f"cap {model.price_cap}, stock rule {model.stock_rule}, world price {model.world_market}"
    )
    for r, region in enumerate(model.regions):
        print(f"{region} price ratio by month: {trace.price_ratio[0, :, r]}")
        print(f"{region} receipts / demand:    {trace.receipts[0, :, r] / model.demand[r]}")

    rows: list[tuple[str, tuple[float, float, float]]] = [("base", _measures(model, trace))]

    def add(label: str, edit: Callable[[ChainModel], ChainModel]) -> None:
        rows.append((label, _measures(*_run(chain, edit))))

    for rule in ("myopic", "storage_path"):
        add(f"stock rule {rule}", lambda m, r=rule: replace(m, stock_rule=r))
    for days in (30.0, 53.7, 214.8):
        add(f"consumer stock {days:g} d", lambda m, d=days: replace(m, region_stock_days=d))
    for spare in (0.05, 0.2):
        add(f"spare capacity {spare:g}", lambda m, s=spare: replace(m, spare=s))
    for eps in (-0.15, -0.6):
        add(f"demand elasticity {eps:g}", lambda m, e=eps: replace(m, elasticity=e))
    for el in (0.15, 0.6):
        add(f"supply elasticity {el:g}", lambda m, e=el: replace(m, supply_elasticity=e))
    for cap in (5.0, 20.0):
        add(f"price cap {cap:g}", lambda m, c=cap: replace(m, price_cap=c))
    add("one world price", lambda m: replace(m, world_market=True))
    # October 2024: 190 t of antimony products exported against 6,533 t in September
    # (REUTERS_SB_OCT2024): 0.03 of the month before, held to December (no sourced figure)
    rows.append(("approvals 0 (a ban from Sep)", _measures(*_run(chain, approval=[0.0]))))
    rows.append(("approvals as customs recorded", _measures(*_run(chain, approval=CUSTOMS))))
    for share in (0.2, 0.5):
        rows.append(
            (
                f"China consumes {share:g} of world",
                _measures(*_run(_chain(_china_consumes(chain.dataset, share)))),
            )
        )
    for moved in (("RUS",), ("RUS", "TJK"), ("RUS", "TJK", "MMR", "BOL")):
        ds = _refined_in_china(chain.dataset, moved)
        m2, t2 = _run(_chain(ds))
        share = m2.capacity[0, m2.countries.index("CHN")] / m2.capacity[0].sum()
        rows.append(
            (f"{'+'.join(moved)} ore sold as China's (China {share:.2f})", _measures(m2, t2))
        )
    ds = _refined_in_china(chain.dataset, ("RUS", "TJK"))
    rows.append(
        (
            "RUS+TJK as China's and approvals as customs recorded",
            _measures(*_run(_chain(ds), approval=CUSTOMS)),
        )
    )
    print()
    print("run | U.S. mean 2024 (obs. 1.865 until 2026-12-03) | ROW Dec (obs. 1.81) | U.S. Dec")
    for label, (a, b, c) in rows:
        print(f"{label} | {a:.3f} | {b:.3f} | {c:.3f}")


if __name__ == "__main__":
    main()
