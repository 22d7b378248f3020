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

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import xarray as xr

from critmin.chain import SupplyChain
from critmin.economics.io import IOModel, adopt, io_model
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.spec import Period, Scenario
from critmin.simulate.driver import (
    Built,
    Execution,
    Executor,
    Session,
    Stats,
    block_seeds,
    blocks_per_chunk,
    session,
    timed,
)
from critmin.simulate.engine import Trace, check_balance, run, warm
from critmin.simulate.model import POOL_BELOW, ChainModel, build_model
from critmin.simulate.shocks import (
    Shocks,
    build_shocks,
    event_stream,
    named_countries,
    poolable,
)
from critmin.simulate.stream import Grid, Part, Sparse, Summary

__all__ = [
    "CHUNK",
    "Executor",
    "MineralResult",
    "RunConfig",
    "RunResult",
    "paths_bytes",
    "simulate",
]

CHUNK = 200
#: Histogram steps per unit of the cell's scale, for quantities by region (fine), the price
#: ratio (up to the cap) and flows by node (coarse: many cells); 1 is a grid point, so an
#: unchanged ratio reads back exactly. Quantile error: half a step x the cell's scale.
REGION_STEPS, PRICE_STEPS, FLOW_STEPS = 1024, 256, 64
#: Top of each histogram grid, in units of the cell's scale (baseline flow, demand, loss at a
#: full shortfall); the price ratio's top is the model's price cap.
TOP = 4.0
DEFAULT_PRICE_TOP = 100.0
#: Largest per-draw paths a chunk holds before they are written or sent (a worker's memory).
CHUNK_BYTES = 256 * 2**20
#: How the per-draw paths are stored on disk (``_PathWriter``).
PATH_DTYPE = np.float32


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
    #: per-draw paths in ``MineralResult.results``; by default summaries only (issue #15):
    #: the one default of every front end (the CLI's simulate, the API's lab runs), and a
    #: library caller that reads ``results`` asks for them
    keep_paths: bool = False
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
    #: what the run's tasks cost on their workers (wall and CPU seconds; see driver.Stats)
    stats: Stats = field(default_factory=Stats)


#: The unit of every variable of a chain's labelled paths (``_labelled``).
_UNITS = {
    "exports": "t",
    "final": "t",
    "receipts": "t",
    "shortfall": "t",
    "loss_usd": "USD",
    "price_ratio": "ratio to baseline price",
    "shortfall_sector": "t",
    "loss_sector": "USD",
}


def _labelled(model: ChainModel, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    """A chain's per-draw paths (or baseline) as a labelled dataset, built in one go: the
    sector splits multiplied in numpy (the same products xarray's broadcasting made), no
    variable added one by one (each addition aligned the whole dataset again: 3 ms a chain,
    on the caller's serial path for every baseline)."""
    S, P = arrays["receipts"].shape[:2]
    coords = {
        "scenario": np.arange(S),
        "period": np.arange(1, P + 1),
        "stage": list(model.stages),
        "origin": list(model.countries),
        "region": list(model.regions),
        "sector": list(model.sectors),
    }
    cells = ("scenario", "period", "region")
    split = model.sector_share  # (region, sector)
    data = {
        "exports": (("scenario", "period", "stage", "origin"), arrays["exports"]),
        "final": (("scenario", "period", "origin", "region"), arrays["final"]),
        **{k: (cells, arrays[k]) for k in ("receipts", "shortfall", "loss_usd", "price_ratio")},
        "shortfall_sector": ((*cells, "sector"), arrays["shortfall"][..., None] * split),
        "loss_sector": ((*cells, "sector"), arrays["loss_usd"][..., None] * split),
    }
    return xr.Dataset(
        {k: (dims, v, {"unit": _UNITS[k]}) for k, (dims, v) in data.items()},
        coords=coords,
        attrs={"mineral": model.mineral, "quantity_unit": model.unit},
    )


def chain_minerals(chain: SupplyChain, scenario: Scenario) -> list[str]:
    """The chains a scenario touches: named minerals with data, or their parent chains."""
    parents = parents_of_dataset(chain.dataset)
    have = set(chain.production.mineral.values.tolist())
    out: list[str] = []
    for m in scenario.minerals or scenario.event_minerals():
        target = m if m in have else parents.get(m, "")
        if target in have and target not in out:
            out.append(target)
    return out


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
    """What every worker gets once: the chain (with the tables a model build reads already
    loaded), the caller's IO model, the scenario and the run's settings."""

    chain: SupplyChain
    io: IOModel
    #: the first chain, built by the caller when it runs chunks itself or forks a local pool
    #: (which inherits what ``warm`` of it loads before the fork: the kernel, the release
    #: policy); None on Dask, where every chain is built on the workers (a build in the caller
    #: is serial time)
    first: ChainModel | None
    scenario: Scenario
    parents: dict[str, str]
    months: int
    per: int
    horizon: int
    reroute: bool
    paths: bool
    pool_below: float  # RunConfig.pool_below

    def model(self, mineral: str) -> ChainModel:
        """The chain model of ``mineral`` for this run: small countries pooled unless a
        content rule reaches the chain; countries the scenario names are kept."""
        return _model(self.chain, mineral, self.scenario, self.parents, self.pool_below)


def _model(
    chain: SupplyChain,
    mineral: str,
    scenario: Scenario,
    parents: dict[str, str],
    pool_below: float,
) -> ChainModel:
    pool = pool_below if poolable(scenario, mineral, parents) else 0.0
    return build_model(chain, mineral, pool_below=pool, keep=named_countries(scenario))


@dataclass(frozen=True)
class _Built:
    """One chain, built on a worker: its model, baseline (one neutral draw) and grids."""

    model: ChainModel
    baseline: dict[str, np.ndarray]
    grids: dict[str, Grid]


@dataclass(frozen=True)
class _Cut:
    """How a chain's blocks are grouped into chunks from its pilot's measured CPU seconds
    (see :func:`critmin.simulate.driver.blocks_per_chunk`): the same rule in the calling
    process (planning the chunks) and on the worker (a build that would leave one chunk runs
    it itself)."""

    blocks: int  # the chain's blocks
    share: int  # workers per chain (at least 1)
    least: int  # chunks each worker should get
    chunk: int  # draws per block
    periods: int
    paths: bool  # the chunk's per-draw paths are kept (held until the chunk ends)
    inline: bool = True  # a build whose other blocks make one chunk runs them itself

    def group(self, model: ChainModel, seconds: float) -> int:
        return blocks_per_chunk(
            seconds, self.blocks, self.share, max_blocks=self.most(model), least=self.least
        )

    def most(self, model: ChainModel) -> int | None:
        """Blocks per chunk that keep a worker's memory under :data:`CHUNK_BYTES`. A chunk
        runs block by block, each block's shocks and trace freed before the next, so only
        kept paths grow with the chunk (float64 until written); without them, no bound. (The
        bound counted every block's shocks and trace: at 60 months it held rare earths to 3
        blocks per chunk, and a 10,000-draw run of china-2025-10 took 84 tasks, not 44.)"""
        if not self.paths:
            return None
        per_block = 2 * path_bytes_per_draw(model, self.periods) * self.chunk
        return max(1, CHUNK_BYTES // per_block)


@dataclass(frozen=True)
class _Item:
    """One chunk: consecutive seeded blocks of one mineral. A chain's build key also holds
    the chain's other blocks (``rest``) and the rule that cuts them (``cut``; none in-process,
    where a chunk is one block)."""

    mineral: str
    blocks: tuple[tuple[int, np.random.SeedSequence], ...]  # (draws, seed)
    rest: tuple[tuple[int, np.random.SeedSequence], ...] = ()
    cut: _Cut | None = None


@dataclass(frozen=True)
class _Stacked:
    """A chunk's per-block summary parts as they travel: per quantity, each moment of every
    block in one array (blocks first) and the chunk's histogram as its non-zero bins. One
    array per block and field was about 13,500 arrays per china-2025-10 run at 10,000 draws,
    and unpickling them (numpy rebuilds each array on its own) was the largest item of the
    client's main thread; the numbers are copied, never recomputed."""

    n: tuple[int, ...]  # draws per block
    total: dict[str, np.ndarray]  # (blocks, cells...)
    m2: dict[str, np.ndarray]
    above_zero: dict[str, np.ndarray]
    counts: dict[str, Sparse]  # the chunk's histogram per quantity

    @classmethod
    def of(cls, parts: list[dict[str, Part]], counts: dict[str, np.ndarray]) -> _Stacked:
        names = list(parts[0])
        return cls(
            tuple(p[names[0]].n for p in parts),
            {k: np.stack([p[k].total for p in parts]) for k in names},
            {k: np.stack([p[k].m2 for p in parts]) for k in names},
            {k: np.stack([p[k].above_zero for p in parts]) for k in names},
            {k: Sparse.of(c) for k, c in counts.items()},
        )

    def blocks(self) -> list[dict[str, Part]]:
        """The parts per block, in block order (views of the stacked arrays); the chunk's
        histogram rides with the first block (integer counts: merged exactly anywhere)."""
        return [
            {
                k: Part(
                    self.counts.get(k) if i == 0 else None,
                    n,
                    self.total[k][i],
                    self.m2[k][i],
                    self.above_zero[k][i],
                )
                for k in self.total
            }
            for i, n in enumerate(self.n)
        ]


@dataclass
class _Out:
    parts: _Stacked  # per block; histograms counted once, with the first
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


@dataclass(frozen=True)
class Pilot:
    """What a chain's build gives the caller besides the chain: the summary of the blocks it
    ran (its first, and the chain's others when it ran them too: ``whole``), merged on the
    worker in block order by the caller's own rule (``Summary.add``, block after block), so
    the caller continues from it with the chain's later chunks and gets the same bits as if
    it had merged every block itself; the first block's CPU seconds (which size the other
    chunks); and the per-draw paths of what it ran, if kept. Merging on the worker took
    ``Summary.add`` off the caller's serial path: at 10,000 draws x 12 months every chain of
    china-2025-10 runs in its build, so the caller merges nothing."""

    seconds: float
    parts: dict[str, Part]  # merged; histograms as their non-zero bins (Sparse) in transit
    whole: bool  # the build ran every block of its chain
    paths: tuple[dict[str, np.ndarray], ...]  # per chunk run, when paths are kept


def _build(ctx: _Context, key: _Item) -> tuple[_Built, Pilot]:
    """Build one chain on a worker (with the caller's IO model, so the bits are the caller's),
    its baseline and grids, and run its first block, timed: the pilot that sizes its chunks
    (and part of the result). When the chain's other blocks would make one chunk, run them
    here too: one task fewer, and the chain does not move to another worker. What it ran
    comes back merged (:class:`Pilot`)."""
    adopt(ctx.chain.dataset, ctx.io)
    m = key.mineral
    model = ctx.first if ctx.first is not None and m == ctx.first.mineral else ctx.model(m)
    neutral = Shocks.neutral(model, 1, ctx.months)
    baseline = summarise(run(model, neutral, reroute=ctx.reroute), ctx.per)
    built = _Built(model, baseline, grids(model, baseline, ctx.per, ctx.horizon))
    warm(model)  # what a process loads once (kernel, release policy) stays out of the pilot
    out, seconds = timed(_chunk, ctx, built, key)
    outs = [out]
    cut = key.cut
    if key.rest and cut is not None and cut.inline and cut.group(model, seconds) >= len(key.rest):
        outs.append(_chunk(ctx, built, _Item(m, key.rest)))
    summary = Summary(built.grids)
    for o in outs:
        for part in o.parts.blocks():  # in block order, as the caller merges
            summary.add(part)
    return built, Pilot(
        seconds,
        summary.sparse(),
        whole=len(outs) > 1 or not key.rest,
        paths=tuple(o.paths for o in outs if o.paths is not None),
    )


def _chunk(ctx: _Context, built: _Built, item: _Item) -> _Out:
    """Draw and simulate one chunk on a worker, block by block (a block's numbers never depend
    on the chunk it is in: the loss model's matrix products round by their row count), and
    reduce it to its summary parts per block and one histogram per chunk."""
    model = built.model
    grid = built.grids
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
    paths = (
        {k: np.concatenate([a[k] for a in kept]) for k in kept[0]} if ctx.paths and kept else None
    )
    return _Out(_Stacked.of(parts, counts), paths)


def simulate(
    chain: SupplyChain,
    scenario: Scenario,
    config: RunConfig,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run the ensemble; ``progress(done, total)`` is called as chunks finish."""
    with session(config.execution) as ex:
        result = _simulate(ex, chain, scenario, config, progress)
        result.stats = ex.stats
        return result


def _simulate(
    ex: Session,
    chain: SupplyChain,
    scenario: Scenario,
    config: RunConfig,
    progress: Callable[[int, int], None] | None,
) -> RunResult:
    minerals = _minerals(chain, scenario)
    n_blocks = max(1, math.ceil(config.runs / config.chunk))
    sizes = [min(config.chunk, config.runs - j * config.chunk) for j in range(n_blocks)]
    seeds = block_seeds(config.seed, len(minerals), n_blocks)
    blocks = {m: list(zip(sizes, seeds[i], strict=True)) for i, m in enumerate(minerals)}
    result = RunResult(scenario, config)
    if not minerals:
        return result
    # The IO model is built here and goes to every worker once with the chain cut to what
    # the builds read (which loads the trade table); the chains are built on the workers, all
    # at once. Building inverts the IO matrix (LAPACK), whose last bits depend on the
    # process's BLAS threads, so workers use the caller's IO model and every executor gets
    # the same models. The first chain is built here only in-process or for a local pool
    # (warm() of it loads the kernel the pool's processes inherit); on Dask a build here
    # was serial time (36 ms of CPU per run under china-2025-10).
    parents = parents_of_dataset(chain.dataset)
    dask = config.executor is Executor.DASK
    first = None if dask else _model(chain, minerals[0], scenario, parents, config.pool_below)
    ctx = _Context(
        shipped(chain, minerals),
        io_model(chain.dataset),
        first,
        scenario,
        parents,
        config.months,
        config.months_per_period,
        config.horizon,
        config.reroute,
        config.keep_paths or config.paths_dir is not None,
        config.pool_below,
    )
    workers = ex.workers
    parallel = config.workers > 1 or config.executor is Executor.DASK
    # every worker gets at least two chunks in all, not two of every chain: fewer, longer tasks.
    # With at least two chains per worker the chains alone spread the work (costliest first,
    # so the last to finish are short): a chain's chunks are then cut only by their length.
    # In-process too a chunk is about 0.5 s (a chunk's histograms are made sparse once, not
    # once per block: one block per chunk cost 40% more CPU at 40,000 draws), and builds do
    # not run their chain's other blocks, so progress is reported chunk by chunk.
    share = max(1, math.ceil(workers / len(minerals)))
    least = 1 if len(minerals) >= 2 * workers or not parallel else 2
    keep = config.keep_paths or config.paths_dir is not None
    cut = _Cut(n_blocks, share, least, config.chunk, config.horizon, keep, inline=parallel)

    def plan(key: _Item, built: _Built, pilot: Pilot) -> list[_Item]:
        """The chain's other blocks in chunks sized from its pilot's measured time; none if
        its build ran them."""
        if pilot.whole:
            return []
        group = key.cut.group(built.model, pilot.seconds) if key.cut is not None else 1
        rest = key.rest
        return [_Item(key.mineral, rest[j : j + group]) for j in range(0, len(rest), group)]

    # the costliest chains first, so the last chunks to finish are short ones
    keys = [
        _Item(m, (blocks[m][0],), tuple(blocks[m][1:]), cut)
        for m in _costliest_first(chain, minerals)
    ]
    summaries: dict[str, Summary] = {}
    built: dict[str, _Built] = {}
    baselines: dict[str, xr.Dataset] = {}
    paths: dict[str, list[dict[str, np.ndarray]]] = {m: [] for m in minerals}
    writers: dict[str, _PathWriter] = {}
    # a local pool's processes inherit the compiled kernel loaded here (not one load each)
    warming = None if first is None else partial(warm, first)
    events = ex.map_built(_build, _chunk, ctx, keys, plan, progress, warm=warming)
    for event in events:
        m = event.key.mineral
        if isinstance(event, Built):
            built[m] = event.value
            # labelled now, while the workers run the next chunks (not after the last)
            baselines[m] = _labelled(event.value.model, event.value.baseline)
            # the build's blocks came merged; later chunks are merged here, block by block,
            # in block order: the merged sums do not depend on the executor
            summaries[m] = Summary.resumed(event.value.grids, event.extra.parts)
            writers[m] = _PathWriter(config.paths_dir, event.value.model)
            arrived = list(event.extra.paths)
        else:
            for part in event.result.parts.blocks():
                summaries[m].add(part)
            arrived = [] if event.result.paths is None else [event.result.paths]
        for arrays in arrived:
            writers[m].write(arrays)
            if config.keep_paths:
                paths[m].append(arrays)
    for m in minerals:
        model = built[m].model
        kept = (
            _labelled(model, {k: np.concatenate([p[k] for p in paths[m]]) for k in paths[m][0]})
            if config.keep_paths
            else xr.Dataset()
        )
        result.minerals[m] = MineralResult(model, kept, baselines[m], summaries[m])
    return result


def shipped(chain: SupplyChain, minerals: list[str]) -> SupplyChain:
    """The chain as the workers get it: what a build of ``minerals`` reads, no more. The
    per-mineral arrays (production and its unit, basis and source, U.S. reliance, trade
    parameters) keep only those minerals and the ones their builds read too (parents, whose
    U.S. demand an element's shares; hosts, whose producers tie a by-product's output: the
    closure of both), the trade table only their rows. Under china-2025-10 the production
    array alone was 8.0 MB of the 16.9 MB pickled context (94 minerals, 14 read); every chain
    built from the cut equals the one built from the whole, tested."""
    wanted = read_minerals(chain, minerals)
    cut = chain.dataset.with_rows("trade", lambda t: t["mineral"].isin(wanted))
    keep = [m for m in chain.production.mineral.values.tolist() if m in wanted]
    arrays = {name: getattr(chain, name).sel(mineral=keep) for name in _PER_MINERAL}
    return dataclasses.replace(chain, dataset=cut, **arrays)


#: The SupplyChain arrays over every mineral of the production data (cut by ``shipped``).
_PER_MINERAL = ("production", "unit", "basis", "source", "us_nir", "trade_param")


def read_minerals(chain: SupplyChain, minerals: list[str]) -> set[str]:
    """``minerals`` and every mineral their chain builds read: parents and by-product hosts,
    and theirs in turn."""
    parents = parents_of_dataset(chain.dataset)
    byproducts = chain.dataset["byproducts"]
    hosts: dict[str, set[str]] = {}
    for m, h in zip(byproducts["mineral"], byproducts["host"], strict=True):
        hosts.setdefault(str(m), set()).add(str(h))
    out: set[str] = set()
    todo = list(minerals)
    while todo:
        m = todo.pop()
        if m in out:
            continue
        out.add(m)
        todo += [p for p in (parents.get(m),) if p] + sorted(hosts.get(m, ()))
    return out


def _costliest_first(chain: SupplyChain, minerals: list[str]) -> list[str]:
    """Minerals by a per-draw cost proxy before their chains are built, largest first: the
    engine's work grows with stages x producing countries squared."""
    produced = (chain.production.sel(mineral=minerals).fillna(0.0) > 0).any("year")
    countries = produced.sum("country").max("stage")
    stages = produced.any("country").sum("stage")
    cost = (stages * countries**2).to_series()
    return sorted(minerals, key=lambda m: -float(cost[m]))


def path_bytes_per_draw(model: ChainModel, periods: int) -> int:
    """Bytes of one draw's paths of ``model`` as ``_PathWriter`` stores them: every variable
    ``_labelled`` makes (one definition of the layout), in ``PATH_DTYPE``."""
    R, one = len(model.regions), (1, periods)
    arrays = {
        "exports": np.zeros((*one, model.K, model.N)),
        "final": np.zeros((*one, model.N, R)),
        **{k: np.zeros((*one, R)) for k in ("receipts", "shortfall", "loss_usd", "price_ratio")},
    }
    cells = sum(v.size for v in _labelled(model, arrays).data_vars.values())
    return cells * np.dtype(PATH_DTYPE).itemsize


def paths_bytes(chain: SupplyChain, scenario: Scenario, config: RunConfig) -> int:
    """Bytes the run's per-draw paths will take on disk (``RunConfig.paths_dir``): every chain
    the scenario touches, built as the run builds it (pooling included), times the draws.
    Checked before a run that keeps its paths (about 1 s to build the models); the netCDF
    headers (a few KB per chunk file) are left out."""
    parents = parents_of_dataset(chain.dataset)
    per_draw = sum(
        path_bytes_per_draw(_model(chain, m, scenario, parents, config.pool_below), config.horizon)
        for m in _minerals(chain, scenario)
    )
    return config.runs * per_draw


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
        ds = ds.map(lambda v: v.astype(PATH_DTYPE), keep_attrs=True)
        ds.to_netcdf(self.folder / f"paths-{self.first:08d}.nc", engine="scipy")
        self.first += n
