"""Monthly path of the 2025 DRC cobalt back-test episode and what its modelled price rests on
(docs/criticality.md §7; prints, never asserts).

The episode (``cobalt-2025-drc``) on its 2024 chain: per month, the DRC's mine exports, the
world's refining output and the rest of the world's receipts as shares of the baseline, the
price by region and the rest of the world's shortfall, under the bundled parameters and under
each variant named below (one parameter of cobalt's ``market_parameters`` replaced, the stock
rule, or the end hazard the stock holders read). The back-test observation is the rest of the
world's largest price ratio over the 8 months (observed x2.0, ECOFIN_CO_PRICE_2025).

    python benchmarks/cobalt_2025_path.py            # bundled, then every variant
    python benchmarks/cobalt_2025_path.py --brief    # one line per variant
    python benchmarks/cobalt_2025_path.py --quota    # the 2026 DRC quota, 12 months, by stock

``--quota`` replays the in-force quota regime (``cod-2025-10-cobalt-quota`` from January 2026,
approval 0.439) on the bundled chain, the case the ranking carries, at the plant stock the data
give, at the 30-day default and with 90 days at the refiners and 30 at the cathode makers (a
per-stage stock the data do not carry: set on the model here, diagnosis only).

Both also run the bundled case with no supply response at the processing plants (the mines
alone answer the price: the plants' output marked host-tied, so it does not answer; diagnosis
only). Until 2026-12-03 an answering plant drew its response from its input stock outside the
pooled release; it now uses only the flow and the stock the pool releases it
(docs/criticality.md §3), and the bundled path equals this one: the row checks that the plants'
response adds no stock draw.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from critmin.chain import SupplyChain
from critmin.data.load import Dataset, load
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, parse_scenario
from critmin.simulate.backtest import episode_inputs
from critmin.simulate.engine import run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import Shocks, build_shocks

EPISODE = "cobalt-2025-drc"
MONTHS = 12
#: (label, cobalt market parameters replaced, stock rule, end hazard while the ban lasts)
VARIANTS: tuple[tuple[str, dict[str, float], str | None, float | None], ...] = (
    ("bundled", {}, None, None),
    ("plant stock 30 d (the assumption before)", {"supplier_stock_days": 30.0}, None, None),
    ("plant stock 60 d", {"supplier_stock_days": 60.0}, None, None),
    ("plant stock 80 d", {"supplier_stock_days": 80.0}, None, None),
    (
        "plant stock 0, all 231.6 d at consumers",
        {"supplier_stock_days": 0.0, "commercial_stock_days": 231.6},
        None,
        None,
    ),
    (
        "plant stock 0, all 231.6 d at consumers, h 1/4",
        {"supplier_stock_days": 0.0, "commercial_stock_days": 231.6},
        None,
        0.25,
    ),
    (
        "plant 30 d, demand elasticity -0.5",
        {"supplier_stock_days": 30.0, "price_elasticity_demand": -0.5},
        None,
        None,
    ),
    (
        "plant 30 d, demand elasticity -1.0",
        {"supplier_stock_days": 30.0, "price_elasticity_demand": -1.0},
        None,
        None,
    ),
    (
        "plant 30 d, spare capacity 0.5",
        {"supplier_stock_days": 30.0, "spare_capacity": 0.5},
        None,
        None,
    ),
    ("plant 30 d, myopic stock rule", {"supplier_stock_days": 30.0}, "myopic", None),
    ("plant 30 d, h 1/4 (the 4 months first announced)", {"supplier_stock_days": 30.0}, None, 0.25),
    (
        "plant 30 d, consumer stock 0",
        {"supplier_stock_days": 30.0, "commercial_stock_days": 0.0},
        None,
        None,
    ),
)


def _with(ds: Dataset, values: dict[str, float]) -> Dataset:
    params = ds["market_parameters"].copy()
    for name, value in values.items():
        at = (params["mineral"] == "cobalt") & (params["parameter"] == name)
        params.loc[at, "value"] = value
    return ds.with_table("market_parameters", params)


def _mines_alone(model: ChainModel) -> ChainModel:
    """The model with the processing plants' output host-tied: only the mines answer."""
    tied = np.zeros((model.K, model.N)) if model.host_tied is None else model.host_tied.copy()
    tied[1:] = 1.0
    return replace(model, host_tied=tied)


def path(
    values: dict[str, float],
    rule: str | None,
    hazard: float | None,
    per_stage: np.ndarray | None = None,
    mines_alone: bool = False,
) -> list[str]:
    ep = episode_inputs(SupplyChain.from_dataset(_with(load(), values)), EPISODE)
    # the shocks read none of what is replaced below (the stock rule, the plants' stock days,
    # which output is host-tied)
    model, shocks = ep.model, ep.shocks
    if rule is not None:
        model = replace(model, stock_rule=rule)
    if per_stage is not None:
        model = replace(model, node_stock_days=per_stage)
    if mines_alone:
        model = _mines_alone(model)
    if hazard is not None and shocks.end_hazard is not None:
        h = shocks.end_hazard.copy()
        h[h < 1.0] = hazard
        shocks = replace(shocks, end_hazard=h)
    trace = run(model, shocks)
    base = run(model, Shocks.neutral(model, 1, ep.months))
    cod = model.countries.index("COD")
    refining = model.stages.index("refining")
    row = model.regions.index("ROW")
    peak = float(trace.price_ratio[0, : ep.span, row].max())
    lines = [
        f"plant stock {np.ravel(model.node_stock_days).tolist()} d, "
        f"consumer stock {model.region_stock_days:g} d, "
        f"demand elasticity {model.elasticity:g}, spare {model.spare:g}, rule {model.stock_rule}"
        f"; ROW peak of {ep.span} months x{peak:.2f}",
        "month | DRC mine exports | world refining output | ROW receipts | "
        + " | ".join(f"{r} price" for r in model.regions)
        + " | ROW shortfall",
    ]
    for t in range(ep.months):
        out = trace.output[0, t, refining].sum() / base.output[0, t, refining].sum()
        ex = trace.exports[0, t, 0, cod] / base.exports[0, t, 0, cod]
        prices = " | ".join(f"{p:.2f}" for p in trace.price_ratio[0, t])
        lines.append(
            f"{t + 1:2d} | {ex:.2f} | {out:.3f} | "
            f"{trace.receipts[0, t, row] / model.demand[row]:.3f} | {prices} | "
            f"{trace.shortfall[0, t, row] / model.demand[row]:.3f}"
        )
    return lines


def quota() -> None:
    ds = load()
    chain = SupplyChain.from_dataset(ds)
    raw = {
        "name": "quota",
        "start": "2026-01",
        "events": {"q": {"use": "cod-2025-10-cobalt-quota", "probability": 1.0}},
    }
    scenario = parse_scenario(raw, "quota", Labels.of(ds))
    bundled = build_model(chain, "cobalt")
    per_stage = np.array([[0.0], [90.0], [30.0]])  # (K, 1): mining, refining, cathode
    for label, days, alone in (
        (f"bundled {bundled.node_stock_days:g} d", bundled.node_stock_days, False),
        ("30 d (default)", 30.0, False),
        ("refining 90 d, cathode 30 d", per_stage, False),
        (
            f"bundled {bundled.node_stock_days:g} d, mines alone answer",
            bundled.node_stock_days,
            True,
        ),
    ):
        model = replace(bundled, node_stock_days=days)
        if alone:
            model = _mines_alone(model)
        shocks = build_shocks(
            scenario, model, parents_of_dataset(ds), 1, MONTHS, np.random.default_rng(0)
        )
        trace = run(model, shocks)
        for r, region in enumerate(model.regions):
            p = " ".join(f"{x:.2f}" for x in trace.price_ratio[0, :, r])
            print(f"quota 2026, plant stock {label}, {region} price: {p}")


def main(brief: bool) -> None:
    runs = [(label, path(values, rule, hazard)) for label, values, rule, hazard in VARIANTS]
    # per-stage plant stock (the data carry one value for every stage): diagnosis only
    per_stage = np.array([[0.0], [90.0], [30.0]])
    runs.append(("refining 90 d, cathode 30 d (per stage)", path({}, None, None, per_stage)))
    runs.append(("bundled, mines alone answer (diagnosis)", path({}, None, None, None, True)))
    for label, lines in runs:
        if brief:
            print(f"{label}: {lines[0].split('; ')[-1]}")
        else:
            print(f"== {label}")
            print("\n".join(lines))


if __name__ == "__main__":
    if "--quota" in sys.argv[1:]:
        quota()
    else:
        main("--brief" in sys.argv[1:])
