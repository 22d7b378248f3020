"""Why nickel's expected U.S. loss in `critmin rank` is $0, and the monthly paths of an
Indonesian restriction (docs/criticality.md §7 and §10, GitHub issue #9).

Part 1, the 2014 back-test episode (`nickel-2014-idn`) on the chain `critmin backtest`
replays it on (as of 2013), at the former coverage (0.68) and the library's (1.0), on the
refined market (the episode's stages) and on the full chain: price ratio by region and the
pooled world price, month by month.

Part 2, the rank's ensemble on today's chain (`critmin rank`: the same strata, draws, seed
and model): for each stratum (no event; each event alone at its annual probability), the
U.S. shortfall, the U.S. price, the world price an integrated (LME) market would set on the
regions' pooled receipts, and the loss with and without that world price.

Part 3, month by month on today's chain for one Indonesian restriction starting in month 1
(the rank's own shape, coverage 0; the same ban on every mining-stage export, coverage 1; a
ban on Indonesia's refined exports, NPI, matte and mixed hydroxide, coverage 1): per region
receipts and stock drawn over demand, shortfall, price; the world price; the output of the
U.S.'s refiners (Canada, Norway, Australia, Brazil, the pooled others).

    python benchmarks/nickel_2014_path.py [--runs 200] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.economics.welfare import terms_of_trade_transfer
from critmin.scenarios.load import Labels, parse_scenario
from critmin.scenarios.spec import ExportControl, Scenario
from critmin.simulate.backtest import episode_inputs, episodes
from critmin.simulate.disruptions import DisruptionSet
from critmin.simulate.engine import Trace, run
from critmin.simulate.model import US_BUYER, ChainModel, build_model
from critmin.simulate.rank import MONTHS, USA, strata
from critmin.simulate.shocks import build_shocks

EPISODE = "nickel-2014-idn"
MINERAL = "nickel"


def world_price(model: ChainModel, trace: Trace) -> np.ndarray:
    """(S, M) the price ratio one integrated market would clear at: the regions' receipts and
    stock drawn pooled against their pooled demand: for a world-market mineral (nickel, since
    branch worldprice) the engine's own price (critmin.simulate.kernel.clear_world); for a
    regional one, what an integrated market would set."""
    supplied = np.maximum(trace.receipts, trace.consumption).sum(axis=2)
    ratio = supplied / model.demand.sum()
    out: np.ndarray = np.clip(ratio ** (1.0 / model.elasticity), 1.0 / model.price_cap, 1e9)
    capped: np.ndarray = np.minimum(out, model.price_cap)
    return capped


def episode_paths(chain: SupplyChain) -> None:
    ep = episodes()[EPISODE]
    print(
        f"Part 1: {EPISODE} on the chain as of "
        f"{episode_inputs(chain, EPISODE).chain.as_of} (critmin backtest's)"
    )
    for coverage in (0.68, None):  # the former coverage, the library's
        raw = dict(ep["scenario"])
        if coverage is not None:
            raw["events"] = {"ban": {**raw["events"]["ban"], "coverage": coverage}}
        for stages in (ep["stages"], None):
            inputs = episode_inputs(chain, EPISODE, scenario=raw, stages=stages)
            model = inputs.model
            ban = next(iter(inputs.scenario.events.values()))
            assert isinstance(ban, ExportControl)
            cov = ban.coverage
            trace = run(model, inputs.shocks)
            market = "+".join(stages) if stages else "full chain"
            for r, region in enumerate(model.regions):
                path = " ".join(f"{x:.2f}" for x in trace.price_ratio[0, :, r])
                print(f"  coverage {cov:.2f} {market:16s} {region}: {path}")
            path = " ".join(f"{x:.2f}" for x in world_price(model, trace)[0])
            print(f"  coverage {cov:.2f} {market:16s} world: {path}")


def _us_import_loss(model: ChainModel, ratio: np.ndarray) -> np.ndarray:
    """(S,) the year's terms-of-trade transfer (USD) on U.S. demand, all imported
    (us_domestic_share 0 for nickel), at the price ratio path ``ratio`` (S, M)."""
    imports = np.full_like(ratio, float(model.demand[USA]) * (1 - model.us_domestic_share))
    out: np.ndarray = terms_of_trade_transfer(model.price_usd_t, imports, ratio).sum(axis=1)
    return out


def rank_strata(chain: SupplyChain, runs: int, seed: int) -> None:
    parents = parents_of_dataset(chain.dataset)
    model = build_model(chain, MINERAL)
    scenario = DisruptionSet.of(chain, parents).foreign(chain, MINERAL, MINERAL)
    print(
        f"\nPart 2: the rank's strata on today's chain ({runs} draws, seed {seed}); "
        f"U.S. demand {model.demand[USA] * 12:,.0f} t/yr at {model.us_stage}, price "
        f"${model.price_usd_t:,.0f}/t, stocks: regions {model.region_stock_days} days, plants "
        f"{model.node_stock_days} days, spare {model.spare:.0%}"
    )
    print(
        "  weight  event                             coverage  U.S. short  U.S. price max  "
        "world price max  CHN short  U.S. ToT at world price (USD/yr, weighted)"
    )
    total = 0.0
    for weight, sc in strata(scenario):
        shocks = build_shocks(sc, model, parents, runs, MONTHS, np.random.default_rng(seed))
        trace = run(model, shocks)
        us_short = trace.shortfall[:, :, USA].sum(axis=1).mean()
        chn_short = trace.shortfall[:, :, 0].sum(axis=1).mean()
        world = world_price(model, trace)
        tot = float(_us_import_loss(model, world).mean())
        total += weight * tot
        name = next(iter(sc.events), "no event")
        cov = getattr(next(iter(sc.events.values()), None), "coverage", None)
        print(
            f"  {weight:.4f}  {name:33s} {'' if cov is None else f'{cov:.2f}':8s}  "
            f"{us_short:10,.0f}  {trace.price_ratio[:, :, USA].max():14.3f}  "
            f"{world.max(axis=1).mean():15.3f}  {chn_short:9,.0f}  {weight * tot:,.0f}"
        )
    print(f"  expected U.S. terms-of-trade transfer at the world price: ${total:,.0f} a year")


def _restriction(name: str, stage: str, coverage: float, labels: Labels) -> Scenario:
    raw = {
        "name": name,
        "start": "2026-01",
        "events": {
            "ban": {
                "kind": "export_control",
                "country": "IDN",
                "minerals": [MINERAL],
                "stages": [stage],
                "regime": "ban",
                "coverage": coverage,
                "start": "2026-01",
                "duration_months": 12,
            }
        },
    }
    return parse_scenario(raw, name, labels)


def monthly(chain: SupplyChain) -> None:
    parents = parents_of_dataset(chain.dataset)
    labels = Labels.of(chain.dataset)
    model = build_model(chain, MINERAL)
    k_us = model.us_stage_index
    buyer = model.countries.index(US_BUYER)
    sellers = [(c, i) for i, c in enumerate(model.countries) if model.flows[k_us][i, buyer] > 0]
    base = {c: float(model.flows[k_us][i, buyer]) * 12 for c, i in sellers}
    print(
        "\nPart 3: a year of Indonesian restriction from month 1, today's chain; U.S. imports "
        "by refiner (t/yr, baseline): " + ", ".join(f"{c} {v:,.0f}" for c, v in base.items())
    )
    cases = (
        ("rank's shape (2020 ore ban)", "mining", 0.0),
        ("every mining-stage export", "mining", 1.0),
        ("every refined export (NPI, matte, MHP)", "refining", 1.0),
    )
    for label, stage, coverage in cases:
        sc = _restriction(f"idn-{stage}-{coverage:.0f}", stage, coverage, labels)
        shocks = build_shocks(sc, model, parents, 1, MONTHS, np.random.default_rng(0))
        trace = run(model, shocks)
        print(f"  IDN {stage} ban, coverage {coverage:.0f} ({label})")
        for r, region in enumerate(model.regions):
            d = float(model.demand[r])
            got = " ".join(f"{x / d:.2f}" for x in trace.receipts[0, :, r])
            short = " ".join(f"{x / d:.2f}" for x in trace.shortfall[0, :, r])
            price = " ".join(f"{x:.2f}" for x in trace.price_ratio[0, :, r])
            print(f"    {region} receipts/demand {got}")
            print(f"    {region} shortfall/demand {short}")
            print(f"    {region} price {price}")
        print("    world price " + " ".join(f"{x:.2f}" for x in world_price(model, trace)[0]))
        for c, i in sellers:
            ratio = trace.output[0, :, k_us, i] / model.capacity[k_us, i]
            print(f"    {c} refining output/capacity " + " ".join(f"{x:.2f}" for x in ratio))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chain = SupplyChain.load()
    episode_paths(chain)
    rank_strata(chain, args.runs, args.seed)
    monthly(chain)


if __name__ == "__main__":
    main()
