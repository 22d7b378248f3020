"""Monte Carlo: run a scenario's ensemble in seeded blocks on the one ensemble driver
(critmin.simulate.driver: in-process, a local pool or a Dask cluster).

Blocks of ``RunConfig.chunk`` draws are the unit of randomness: block b of mineral i draws from
``SeedSequence(seed).spawn(minerals)[i].spawn(blocks)[b]`` (its hazards) and, common to every
mineral, the events' uncertainties from ``critmin.simulate.shocks.event_stream`` of that block
(common random numbers across minerals); the driver groups blocks into chunks
sized from a measured per-block cost, and whatever executes them, the same seed gives the same
numbers. Each chunk is reduced on its worker to a streamed summary (critmin.simulate.stream:
moments, exceedance, fixed-grid histograms for quantiles); the per-draw paths come back only with
``keep_paths`` (held in memory as labelled arrays) or ``paths_dir`` (written chunk by chunk as
float32 netCDF, relative rounding error at most 2**-24), so memory is flat in the draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from critmin.chain import SupplyChain
from critmin.scenarios.spec import Period, Scenario
from critmin.simulate.driver import (
    Execution,
    Executor,
    Session,
    block_seeds,
    blocks_per_chunk,
    session,
    timed,
)
from critmin.simulate.engine import Trace, check_balance, run
from critmin.simulate.model import POOL_BELOW, ChainModel, build_model
from critmin.simulate.shocks import (
    Shocks,
    build_shocks,
    event_stream,
    named_countries,
    poolable,
)
from critmin.simulate.stream import Grid, Part, Sparse, Summary

__all__ = ["CHUNK", "Executor", "MineralResult", "RunConfig", "RunResult", "simulate"]

CHUNK = 200
#: Histogram steps per unit of the cell's scale, for quantities by region (fine), the price
#: ratio (up to the cap) and flows by node (coarse: many cells); 1 is a grid point, so an
#: unchanged ratio reads back exactly. Quantile error: half a step x the cell's scale.
REGION_STEPS, PRICE_STEPS, FLOW_STEPS = 1024, 256, 64
#: Top of each histogram grid, in units of the cell's scale (baseline flow, demand, loss at a
#: full shortfall); the price ratio's top is the model's price cap.
TOP = 4.0
DEFAULT_PRICE_TOP = 100.0
#: Largest chunk in bytes of engine arrays (bounds a worker's memory).
CHUNK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class RunConfig:
    """How to run an ensemble."""

    runs: int = 500
    seed: int = 0
    period: Period = Period.MONTH
    horizon: int = 12
    executor: Executor = Executor.LOCAL
    scheduler: str | None = None
    workers: int = 2
    chunk: int = CHUNK  # draws per seeded block
    reroute: bool = True
    keep_paths: bool = True  # per-draw paths in ``MineralResult.results``
    paths_dir: Path | None = None  # write per-draw paths here, chunk by chunk
    #: countries below this share of a stage's world output are pooled into its "other
    #: countries" node (critmin.simulate.model.pool_model); 0 keeps every country
    pool_below: float = POOL_BELOW

    @property
    def months_per_period(self) -> int:
        return 1 if self.period is Period.MONTH else 3

    @property
    def months(self) -> int:
        return self.horizon * self.months_per_period

    @property
    def execution(self) -> Execution:
        return Execution(self.executor, self.workers, self.scheduler)


def to_periods(arr: np.ndarray, axis: int, per: int, how: str) -> np.ndarray:
    shape = list(arr.shape)
    shape[axis : axis + 1] = [shape[axis] // per, per]
    grouped = arr.reshape(shape)
    out: np.ndarray = grouped.mean(axis=axis + 1) if how == "mean" else grouped.sum(axis=axis + 1)
    return out


def summarise(trace: Trace, per: int) -> dict[str, np.ndarray]:
    """Monthly trace -> per-period sums (flows, shortfall, loss) and means (price)."""
    return {
        "exports": to_periods(trace.exports, 1, per, "sum"),
        "final": to_periods(trace.final, 1, per, "sum"),
        "receipts": to_periods(trace.receipts, 1, per, "sum"),
        "shortfall": to_periods(trace.shortfall, 1, per, "sum"),
        "loss_usd": to_periods(trace.loss_usd, 1, per, "sum"),
        "price_ratio": to_periods(trace.price_ratio, 1, per, "mean"),
    }


@dataclass
class MineralResult:
    """One chain's ensemble: its streamed summary, the per-draw paths as labelled arrays (empty
    unless kept) and the baseline (one neutral draw)."""

    model: ChainModel
    results: xr.Dataset
    baseline: xr.Dataset
    summary: Summary | None = None


@dataclass
class RunResult:
    scenario: Scenario
    config: RunConfig
    minerals: dict[str, MineralResult] = field(default_factory=dict)


def _labelled(model: ChainModel, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    S, P = arrays["receipts"].shape[:2]
    coords = {
        "scenario": np.arange(S),
        "period": np.arange(1, P + 1),
        "stage": list(model.stages),
        "origin": list(model.countries),
        "region": list(model.regions),
        "sector": list(model.sectors),
    }
    units = {
        "exports": "t",
        "final": "t",
        "receipts": "t",
        "shortfall": "t",
        "loss_usd": "USD",
        "price_ratio": "ratio to baseline price",
    }
    ds = xr.Dataset(
        {
            "exports": (("scenario", "period", "stage", "origin"), arrays["exports"]),
            "final": (("scenario", "period", "origin", "region"), arrays["final"]),
            "receipts": (("scenario", "period", "region"), arrays["receipts"]),
            "shortfall": (("scenario", "period", "region"), arrays["shortfall"]),
            "loss_usd": (("scenario", "period", "region"), arrays["loss_usd"]),
            "price_ratio": (("scenario", "period", "region"), arrays["price_ratio"]),
        },
        coords=coords,
    )
    split = xr.DataArray(model.sector_share, dims=("region", "sector"))
    ds["shortfall_sector"] = ds["shortfall"] * split
    ds["loss_sector"] = ds["loss_usd"] * split
    units |= {"shortfall_sector": "t", "loss_sector": "USD"}
    for name, unit in units.items():
        ds[name].attrs["unit"] = unit
    ds.attrs.update({"mineral": model.mineral, "quantity_unit": model.unit})
    return ds


def chain_minerals(chain: SupplyChain, scenario: Scenario) -> list[str]:
    """The chains a scenario touches: named minerals with data, or their parent chains."""
    parents = parents_of(chain)
    have = set(chain.production.mineral.values.tolist())
    out: list[str] = []
    for m in scenario.minerals or scenario.event_minerals():
        target = m if m in have else parents.get(m, "")
        if target in have and target not in out:
            out.append(target)
    return out


def parents_of(chain: SupplyChain) -> dict[str, str]:
    minerals = chain.dataset["minerals"]
    return {str(m): str(p) for m, p in zip(minerals["id"], minerals["parent"], strict=True) if p}


def _minerals(chain: SupplyChain, scenario: Scenario) -> list[str]:
    return (
        chain_minerals(chain, scenario)
        if scenario.events
        else sorted({str(m) for m in chain.dataset["chains"]["mineral"]})
    )


def grids(
    model: ChainModel, baseline: dict[str, np.ndarray], per: int, periods: int
) -> dict[str, Grid]:
    """The histogram grid of every summarised quantity (see critmin.simulate.stream)."""
    regions = list(model.regions)
    pr: dict[str, list[object]] = {"period": list(range(1, periods + 1)), "region": list(regions)}
    us = regions.index("USA")
    full_loss = np.ones(len(regions))
    if model.exposure is not None:
        full_loss[us] = max(float(model.exposure.gdp_lost(np.array(1.0))), 0.0) or 1.0
    demand = model.demand * per
    price_top = float(model.price_cap) if model.price_cap > 0 else DEFAULT_PRICE_TOP
    cell = np.ones((periods, len(regions)))
    return {
        "receipts": Grid(("period", "region"), pr, baseline["receipts"][0], TOP, REGION_STEPS, "t"),
        "shortfall": Grid(
            ("period", "region"),
            pr,
            np.where(demand > 0, demand, 1.0) * cell,
            TOP,
            REGION_STEPS,
            "t",
        ),
        "price_ratio": Grid(
            ("period", "region"), pr, cell, price_top, PRICE_STEPS, "ratio to baseline price"
        ),
        "loss_usd": Grid(
            ("period", "region"), pr, full_loss * per * cell, TOP, REGION_STEPS, "USD"
        ),
        "shortfall_total": Grid(
            ("region",),
            {"region": regions},
            np.where(demand > 0, demand, 1.0) * periods,
            TOP,
            REGION_STEPS,
            "t",
        ),
        "loss_total": Grid(
            ("region",), {"region": regions}, full_loss * per * periods, TOP, REGION_STEPS, "USD"
        ),
        "exports": Grid(
            ("period", "stage", "origin"),
            {"period": pr["period"], "stage": list(model.stages), "origin": list(model.countries)},
            baseline["exports"][0],
            TOP,
            FLOW_STEPS,
            "t",
            moments=False,
        ),
        "final": Grid(
            ("period", "origin", "region"),
            {"period": pr["period"], "origin": list(model.countries), "region": regions},
            baseline["final"][0],
            TOP,
            FLOW_STEPS,
            "t",
            moments=False,
        ),
    }


@dataclass(frozen=True)
class _Context:
    """What every worker needs once: the models, the scenario and the grids."""

    models: dict[str, ChainModel]
    grids: dict[str, dict[str, Grid]]
    scenario: Scenario
    parents: dict[str, str]
    months: int
    per: int
    reroute: bool
    paths: bool


@dataclass(frozen=True)
class _Item:
    """One chunk: consecutive seeded blocks of one mineral."""

    mineral: str
    blocks: tuple[tuple[int, np.random.SeedSequence], ...]  # (draws, seed)


@dataclass
class _Out:
    parts: list[dict[str, Part]]  # per block; histograms counted once, in the first
    paths: dict[str, np.ndarray] | None


def quantities(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The summarised quantities of a chunk's period aggregates (scenario axis first)."""
    return {
        "receipts": arrays["receipts"],
        "shortfall": arrays["shortfall"],
        "price_ratio": arrays["price_ratio"],
        "loss_usd": arrays["loss_usd"],
        "shortfall_total": arrays["shortfall"].sum(axis=1),
        "loss_total": arrays["loss_usd"].sum(axis=1),
        "exports": arrays["exports"],
        "final": arrays["final"],
    }


def _chunk(ctx: _Context, item: _Item) -> _Out:
    """Draw and simulate one chunk on a worker, block by block (a block's numbers never depend
    on the chunk it is in: the loss model's matrix products round by their row count), and
    reduce it to its summary parts per block and one histogram per chunk."""
    model = ctx.models[item.mineral]
    grid = ctx.grids[item.mineral]
    parts: list[dict[str, Part]] = []
    counts: dict[str, np.ndarray] = {}
    kept: list[dict[str, np.ndarray]] = []
    for n, ss in item.blocks:
        # common random numbers: every chain draws block b's events from the same stream
        shocks = build_shocks(
            ctx.scenario,
            model,
            ctx.parents,
            n,
            ctx.months,
            np.random.default_rng(ss),
            events=np.random.default_rng(event_stream(ss)),
        )
        trace = run(model, shocks, reroute=ctx.reroute)
        del shocks
        check_balance(model, trace)
        arrays = summarise(trace, ctx.per)
        del trace
        values = quantities(arrays)
        parts.append({k: Part.of(grid[k], v, count=False) for k, v in values.items()})
        for k, v in values.items():
            c = grid[k].count(v)
            counts[k] = c if k not in counts else counts[k] + c
        if ctx.paths:
            kept.append(arrays)
    for k, c in counts.items():  # sent as their non-zero bins
        parts[0][k].counts = Sparse.of(c)
    paths = (
        {k: np.concatenate([a[k] for a in kept]) for k in kept[0]} if ctx.paths and kept else None
    )
    return _Out(parts, paths)


def simulate(
    chain: SupplyChain,
    scenario: Scenario,
    config: RunConfig,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run the ensemble; ``progress(done, total)`` is called as chunks finish."""
    with session(config.execution) as ex:
        return _simulate(ex, chain, scenario, config, progress)


def _simulate(
    ex: Session,
    chain: SupplyChain,
    scenario: Scenario,
    config: RunConfig,
    progress: Callable[[int, int], None] | None,
) -> RunResult:
    minerals = _minerals(chain, scenario)
    parents = parents_of(chain)
    execution = config.execution
    parallel = execution.workers > 1 or execution.executor is Executor.DASK
    # models are built here, not on workers: building inverts matrices (LAPACK), whose last
    # bits depend on the process's BLAS threads, and every executor must see the same model
    keep = named_countries(scenario)
    models = {
        m: build_model(
            chain,
            m,
            pool_below=config.pool_below if poolable(scenario, m, parents) else 0.0,
            keep=keep,
        )
        for m in minerals
    }
    per = config.months_per_period
    baselines = {
        m: summarise(run(md, Shocks.neutral(md, 1, config.months), reroute=config.reroute), per)
        for m, md in models.items()
    }
    ctx = _Context(
        models,
        {m: grids(models[m], baselines[m], per, config.horizon) for m in minerals},
        scenario,
        parents,
        config.months,
        per,
        config.reroute,
        config.keep_paths or config.paths_dir is not None,
    )
    n_blocks = max(1, math.ceil(config.runs / config.chunk))
    sizes = [min(config.chunk, config.runs - j * config.chunk) for j in range(n_blocks)]
    seeds = block_seeds(config.seed, len(minerals), n_blocks)
    blocks = {m: list(zip(sizes, seeds[i], strict=True)) for i, m in enumerate(minerals)}
    # size chunks from a measured cost: the largest model's first block runs here (it is part
    # of the result, so nothing is wasted)
    group = dict.fromkeys(minerals, 1)
    pilot: tuple[str, _Out] | None = None
    if minerals and parallel:
        big = max(minerals, key=lambda m: _cost(models[m], config.months))
        out, seconds = timed(_chunk, ctx, _Item(big, (blocks[big][0],)))
        pilot = (big, out)
        for m in minerals:
            share = _cost(models[m], config.months) / _cost(models[big], config.months)
            most = max(1, CHUNK_BYTES // (_bytes_per_draw(models[m], config.months) * config.chunk))
            group[m] = blocks_per_chunk(
                seconds * share, n_blocks, execution.parallel, max_blocks=most
            )
    items: list[_Item] = []
    done: list[_Out | None] = []
    for m in minerals:
        lo = 0
        if pilot is not None and pilot[0] == m:
            items.append(_Item(m, (blocks[m][0],)))
            done.append(pilot[1])
            lo = 1
        for j in range(lo, n_blocks, group[m]):
            items.append(_Item(m, tuple(blocks[m][j : j + group[m]])))
            done.append(None)
    results = ex.map(
        _chunk, ctx, [it for it, d in zip(items, done, strict=True) if d is None], progress
    )
    summaries = {m: Summary(ctx.grids[m]) for m in minerals}
    paths: dict[str, list[dict[str, np.ndarray]]] = {m: [] for m in minerals}
    writers = {m: _PathWriter(config.paths_dir, models[m]) for m in minerals}
    for item, have in zip(items, done, strict=True):
        out = have if have is not None else next(results)
        for part in out.parts:
            summaries[item.mineral].add(part)
        if out.paths is not None:
            writers[item.mineral].write(out.paths)
            if config.keep_paths:
                paths[item.mineral].append(out.paths)
    result = RunResult(scenario, config)
    for m in minerals:
        kept = (
            _labelled(models[m], {k: np.concatenate([p[k] for p in paths[m]]) for k in paths[m][0]})
            if config.keep_paths
            else xr.Dataset()
        )
        result.minerals[m] = MineralResult(
            models[m], kept, _labelled(models[m], baselines[m]), summaries[m]
        )
    return result


def _cost(model: ChainModel, months: int) -> float:
    """A per-draw cost proxy: the engine's work grows with months x stages x origins x
    destinations."""
    return float(months * model.K * model.N * max(model.N, len(model.regions)))


def _bytes_per_draw(model: ChainModel, months: int) -> int:
    """Bytes of a draw's shocks and trace (float64): the flows' allowances dominate."""
    K, N, R = model.K, model.N, len(model.regions)
    return 8 * months * (max(K - 1, 0) * N * N + 2 * N * R + 5 * K * N + 10 * R)


class _PathWriter:
    """Per-draw paths of one chain written chunk by chunk (float32 netCDF, one file per chunk:
    ``<dir>/<mineral>/paths-<first draw>.nc``); does nothing without a folder."""

    def __init__(self, folder: Path | None, model: ChainModel) -> None:
        self.folder = None if folder is None else folder / model.mineral
        self.model = model
        self.first = 0

    def write(self, arrays: dict[str, np.ndarray]) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        n = arrays["receipts"].shape[0]
        ds = _labelled(self.model, arrays).assign_coords(
            scenario=np.arange(self.first, self.first + n)
        )
        ds = ds.map(lambda v: v.astype(np.float32), keep_attrs=True)
        ds.to_netcdf(self.folder / f"paths-{self.first:08d}.nc", engine="scipy")
        self.first += n
