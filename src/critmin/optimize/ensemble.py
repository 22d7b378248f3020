"""The scenario ensemble the reserve is sized against: U.S. shortfall and price paths per chain.

A tonne the reserve adds (a release, an agreement's delivery, a project's output, a conversion
route's product) is credited against ``Ensemble.shortfall`` one for one. For a mineral with one
world price (``ChainModel.world_market``: market_parameters ``world_market`` = 1) the engine
clears the regions jointly (critmin.simulate.kernel ``clear_world``): arbitrage gives each
region its demand share of the pooled receipts, so only the U.S. share of a tonne added
anywhere reaches U.S. consumers. Its ``shortfall`` is therefore in pooled tonnes, the U.S.
shortfall over the U.S. share, and its ``loss_per_t`` the U.S. loss per tonne times the share:
the dollar loss is the engine's, and an added tonne covers one pooled tonne, i.e. ``us_share``
of a U.S. tonne. The share is ``us_share(model)``: the U.S. baseline demand over the regions'
(``ChainModel.demand``, the numbers ``clear_world`` pools); 1 for a regional market.

By default, the planning ensemble: the foreign disruptions `critmin rank` draws from (one event
set, critmin.simulate.disruptions), each happening at most once over the horizon with the
probability 1 - exp(-rate x years) its annual rate implies, at a uniformly drawn month.
Occurrence and timing are drawn once per scenario and shared by every chain, so an event that
hits several minerals hits them together. Named scenarios (library names or files) can be used
instead; their draws are pooled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import xarray as xr

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, load_scenario
from critmin.scenarios.probability import occurrence_probability, rate_of_probability
from critmin.scenarios.spec import Scenario, month_index
from critmin.schema.vocabulary import MONTHS_PER_YEAR, REGIONS
from critmin.simulate.disruptions import DisruptionSet
from critmin.simulate.driver import Execution, Executor, map_chunks, seed_streams
from critmin.simulate.engine import run, warm
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.runner import to_periods
from critmin.simulate.shocks import build_shocks

__all__ = [
    "Ensemble",
    "build_ensemble",
    "chain_run",
    "event_timing",
    "planning_scenario",
    "seed_streams",
]

USA = REGIONS.index("USA")
PLAN_START = "2026-01"
CHUNK = 250


def us_share(model: ChainModel) -> float:
    """The fraction of a tonne added to the mineral's market that reaches U.S. consumers: 1 for
    a regional market; for a world market (``model.world_market``) the U.S. share of the
    regions' baseline demand (``model.demand``, what critmin.simulate.kernel ``clear_world``
    pools in a month without a demand shock)."""
    if not model.world_market:
        return 1.0
    demand = np.asarray(model.demand, dtype=float)
    total = float(demand.sum())
    return float(demand[USA]) / total if total > 0 else 1.0


def pooled(model: ChainModel, us_short: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The chain's U.S. shortfall (t) as the reserve covers it: (shortfall, loss per t, share),
    in pooled tonnes for a world market (U.S. shortfall / share, U.S. loss per t x share: the
    same dollar loss), unchanged for a regional one (module docstring)."""
    share = us_share(model)
    if share == 1.0:
        return us_short, float(model.loss_per_t), share
    return us_short / share, float(model.loss_per_t) * share, share


@dataclass(frozen=True)
class Ensemble:
    """Per scenario, period and mineral: the shortfall a tonne added to the U.S. market
    covers (t; the U.S. shortfall, or for a world market the pooled shortfall, U.S. shortfall /
    ``us_share``: module docstring) and U.S. price (USD/t)."""

    shortfall: xr.DataArray  # (scenario, period, mineral)
    price: xr.DataArray  # (scenario, period, mineral)
    base_price: xr.DataArray  # (mineral) USD/t
    loss_per_t: xr.DataArray  # (mineral) USD per t of ``shortfall`` (U.S. loss per t x share)
    consumption: xr.DataArray  # (mineral) U.S. baseline demand, t per period
    months_per_period: int
    units: dict[str, str] = field(default_factory=dict)
    assumptions: dict[str, list[str]] = field(default_factory=dict)
    description: str = ""
    #: scenario probabilities (dim ``scenario``, summing to 1); None = equally likely
    weight: xr.DataArray | None = None
    #: (period, mineral) USD/t: the expected price of the ensemble a reduced one was drawn
    #: from, so that first-stage costs stay those of the full distribution; None = from ``price``
    mean_price: xr.DataArray | None = None
    #: (mineral) the fraction of an added tonne that reaches U.S. consumers (``us_share``: the
    #: U.S. share of pooled baseline demand for a world market, 1 for a regional one); the
    #: ``shortfall`` is the U.S. shortfall over it. None = 1 for every mineral
    us_share: xr.DataArray | None = None

    @property
    def scenarios(self) -> int:
        return int(self.shortfall.sizes["scenario"])

    @property
    def periods(self) -> int:
        return int(self.shortfall.sizes["period"])

    @property
    def periods_per_year(self) -> float:
        return 12 / self.months_per_period

    def loss(self) -> xr.DataArray:
        """Loss without any reserve, USD, by (scenario, period, mineral)."""
        return self.shortfall * self.loss_per_t

    def reach(self) -> xr.DataArray:
        """(mineral) the fraction of an added tonne that reaches U.S. consumers (1: all)."""
        if self.us_share is None:
            return xr.ones_like(self.loss_per_t)
        return self.us_share

    def us_shortfall(self) -> xr.DataArray:
        """The U.S. shortfall, t, by (scenario, period, mineral): ``shortfall`` x the reach."""
        return self.shortfall * self.reach()


def planning_scenario(chain: SupplyChain, minerals: Sequence[str]) -> Scenario:
    """The foreign disruptions of every chain mineral, from the one event set `rank` uses
    (critmin.simulate.disruptions)."""
    return DisruptionSet.of(chain, parents_of_dataset(chain.dataset)).planning(
        chain, list(minerals)
    )


def event_timing(
    scenario: Scenario, runs: int, months: int, rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Whether each event happens in each draw, and when: once at most over the horizon, with
    the probability its annual rate implies (critmin.scenarios.probability)."""
    years = months / MONTHS_PER_YEAR
    first = month_index(scenario.start)
    out = {}
    for name, e in scenario.events.items():
        p = occurrence_probability(rate_of_probability(e.probability), years)
        happens = rng.random(runs) < p
        start = first + rng.integers(0, months, runs)
        out[name] = (happens, start)
    return out


def chain_run(
    model: ChainModel,
    scenario: Scenario,
    parents: dict[str, str],
    runs: int,
    months: int,
    per: int,
    rng: np.random.Generator,
    timing: dict[str, tuple[np.ndarray, np.ndarray]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    shorts, prices = [], []
    for lo in range(0, runs, CHUNK):
        hi = min(runs, lo + CHUNK)
        part = {k: (v[0][lo:hi], v[1][lo:hi]) for k, v in timing.items()} if timing else None
        shocks = build_shocks(scenario, model, parents, hi - lo, months, rng, timing=part)
        trace = run(model, shocks)
        shorts.append(to_periods(trace.shortfall[:, :, USA], 1, per, "sum"))
        prices.append(to_periods(trace.price_ratio[:, :, USA], 1, per, "mean"))
    return np.concatenate(shorts), np.concatenate(prices)


@dataclass(frozen=True)
class _Context:
    """What every worker needs once: the chain models and the scenario specs."""

    models: dict[str, ChainModel]
    specs: list[Scenario]
    parents: dict[str, str]
    months: int
    per: int


@dataclass(frozen=True)
class _Item:
    """One chunk: one mineral's chain under one spec, its stream and the events' timing."""

    spec: int
    mineral: str
    runs: int
    seed: np.random.SeedSequence
    timing: dict[str, tuple[np.ndarray, np.ndarray]]


def _chain_chunk(ctx: _Context, item: _Item) -> tuple[np.ndarray, np.ndarray]:
    """On a worker: the chain's U.S. shortfall and price ratio per draw and period."""
    return chain_run(
        ctx.models[item.mineral],
        ctx.specs[item.spec],
        ctx.parents,
        item.runs,
        ctx.months,
        ctx.per,
        np.random.default_rng(item.seed),
        item.timing,
    )


def build_ensemble(
    chain: SupplyChain,
    *,
    minerals: Sequence[str] | None = None,
    scenarios: Sequence[str] | None = None,
    runs: int = 500,
    seed: int = 0,
    months_per_period: int = 3,
    horizon: int = 20,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> Ensemble:
    """Simulate the ensemble for the reserve's minerals (those with a reserve form), one chunk
    per chain and spec on the ensemble driver (``workers`` local processes, or the Dask
    cluster at ``scheduler``); the same seed gives the same ensemble on every executor."""
    forms = chain.dataset["reserve_forms"]
    use = list(minerals) if minerals else sorted(set(forms["mineral"]))
    parents = parents_of_dataset(chain.dataset)
    months = horizon * months_per_period
    labels = Labels.of(chain.dataset)
    specs = (
        [load_scenario(s, labels) for s in scenarios]
        if scenarios
        else [planning_scenario(chain, use)]
    )
    shares = [runs // len(specs) + (1 if i < runs % len(specs) else 0) for i in range(len(specs))]
    streams = seed_streams(seed, len(specs), len(use))
    short = np.zeros((runs, horizon, len(use)))
    price = np.ones((runs, horizon, len(use)))
    base_price, loss, cons, share, units, notes = [], [], [], [], {}, {}
    models = {m: build_model(chain, m) for m in use}
    items: list[_Item] = []
    offsets: list[int] = []
    offset = 0
    for i, (spec, n, (timing_seed, chain_seeds)) in enumerate(
        zip(specs, shares, streams, strict=True)
    ):
        timing = event_timing(spec, n, months, np.random.default_rng(timing_seed))
        for m, cs in zip(use, chain_seeds, strict=True):
            items.append(_Item(i, m, n, cs, timing))
            offsets.append(offset)
        offset += n
    ctx = _Context(models, specs, parents, months, months_per_period)
    execution = Execution(
        Executor.DASK if scheduler else Executor.LOCAL, max(1, workers), scheduler
    )
    kernel = partial(warm, models[use[0]]) if use else None
    results = map_chunks(_chain_chunk, ctx, items, execution, progress, warm=kernel)
    for item, lo, (s, p) in zip(items, offsets, results, strict=True):
        j = use.index(item.mineral)
        short[lo : lo + item.runs, :, j] = s
        price[lo : lo + item.runs, :, j] = p
    for j, m in enumerate(use):
        model = models[m]
        short[:, :, j], loss_t, reach = pooled(model, short[:, :, j])
        base_price.append(model.price_usd_t)
        loss.append(loss_t)
        share.append(reach)
        cons.append(model.demand[USA] * months_per_period)
        units[m] = model.unit
        notes[m] = list(model.assumptions)
    coords = {"scenario": np.arange(runs), "period": np.arange(1, horizon + 1), "mineral": use}
    bp = xr.DataArray(np.asarray(base_price), coords={"mineral": use}, dims="mineral")
    return Ensemble(
        shortfall=xr.DataArray(short, coords=coords, dims=("scenario", "period", "mineral")),
        price=xr.DataArray(price, coords=coords, dims=("scenario", "period", "mineral")) * bp,
        base_price=bp,
        loss_per_t=xr.DataArray(np.asarray(loss), coords={"mineral": use}, dims="mineral"),
        consumption=xr.DataArray(np.asarray(cons), coords={"mineral": use}, dims="mineral"),
        months_per_period=months_per_period,
        us_share=xr.DataArray(np.asarray(share), coords={"mineral": use}, dims="mineral"),
        units=units,
        assumptions=notes,
        description=", ".join(s.name for s in specs),
    )
