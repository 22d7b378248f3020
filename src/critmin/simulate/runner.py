"""Monte Carlo: run a scenario's ensemble in seeded chunks on a local pool or a Dask cluster.

Chunks are the unit of work and of randomness: chunk j of mineral i draws from
``SeedSequence(seed).spawn(minerals)[i].spawn(chunks)[j]``, whatever executes it, so the same
seed gives the same numbers on every executor. Results are labelled arrays (xarray) with the
scenario axis kept, summarised as quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import xarray as xr

from critmin.chain import SupplyChain
from critmin.scenarios.spec import Period, Scenario
from critmin.simulate.engine import Trace, check_balance, run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import Shocks, build_shocks

CHUNK = 200


class Executor(StrEnum):
    LOCAL = "local"
    DASK = "dask"


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
    chunk: int = CHUNK
    reroute: bool = True

    @property
    def months_per_period(self) -> int:
        return 1 if self.period is Period.MONTH else 3

    @property
    def months(self) -> int:
        return self.horizon * self.months_per_period


@dataclass(frozen=True)
class ChunkTask:
    model: ChainModel
    scenario: Scenario
    parents: dict[str, str]
    scenarios: int
    months: int
    seed: np.random.SeedSequence
    reroute: bool
    months_per_period: int
    sample_occurrence: bool = False


def to_periods(arr: np.ndarray, axis: int, per: int, how: str) -> np.ndarray:
    shape = list(arr.shape)
    shape[axis : axis + 1] = [shape[axis] // per, per]
    grouped = arr.reshape(shape)
    out: np.ndarray = grouped.mean(axis=axis + 1) if how == "mean" else grouped.sum(axis=axis + 1)
    return out


def run_chunk(task: ChunkTask) -> dict[str, np.ndarray]:
    """Draw and simulate one chunk; return period aggregates (leading axis = scenario)."""
    rng = np.random.default_rng(task.seed)
    shocks = build_shocks(
        task.scenario,
        task.model,
        task.parents,
        task.scenarios,
        task.months,
        rng,
        sample_occurrence=task.sample_occurrence,
    )
    trace = run(task.model, shocks, reroute=task.reroute)
    check_balance(task.model, trace)
    return summarise(trace, task.months_per_period)


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
    """One chain's ensemble as labelled arrays, with its baseline."""

    model: ChainModel
    results: xr.Dataset
    baseline: xr.Dataset


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


def tasks(
    chain: SupplyChain, scenario: Scenario, config: RunConfig
) -> Iterator[tuple[str, ChainModel, list[ChunkTask]]]:
    """Per chain mineral: its model and its seeded chunks."""
    minerals = (
        chain_minerals(chain, scenario)
        if scenario.events
        else sorted({str(m) for m in chain.dataset["chains"]["mineral"]})
    )
    parents = parents_of(chain)
    per_mineral = np.random.SeedSequence(config.seed).spawn(len(minerals))
    n_chunks = max(1, math.ceil(config.runs / config.chunk))
    for mineral, ss in zip(minerals, per_mineral, strict=True):
        model = build_model(chain, mineral)
        seeds = ss.spawn(n_chunks)
        sizes = [min(config.chunk, config.runs - j * config.chunk) for j in range(n_chunks)]
        yield (
            mineral,
            model,
            [
                ChunkTask(
                    model,
                    scenario,
                    parents,
                    n,
                    config.months,
                    seed,
                    config.reroute,
                    config.months_per_period,
                )
                for n, seed in zip(sizes, seeds, strict=True)
            ],
        )


def simulate(
    chain: SupplyChain,
    scenario: Scenario,
    config: RunConfig,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run the ensemble; ``progress(done, total)`` is called as chunks finish."""
    plan = list(tasks(chain, scenario, config))
    total = sum(len(c) for _, _, c in plan)
    done = 0
    result = RunResult(scenario, config)
    with _executor(config) as submit:
        futures = [(m, model, [submit(t) for t in chunks]) for m, model, chunks in plan]
        for mineral, model, pending in futures:
            parts = []
            for fut in pending:
                parts.append(fut())
                done += 1
                if progress:
                    progress(done, total)
            arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            neutral = run(model, Shocks.neutral(model, 1, config.months), reroute=config.reroute)
            result.minerals[mineral] = MineralResult(
                model,
                _labelled(model, arrays),
                _labelled(model, summarise(neutral, config.months_per_period)),
            )
    return result


def _in_process(task: ChunkTask) -> Callable[[], dict[str, np.ndarray]]:
    result = run_chunk(task)
    return lambda: result


class _executor:
    """Context manager yielding ``submit(task) -> (() -> result)`` for the chosen executor."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self._close: list[Callable[[], object]] = []

    def __enter__(self) -> Callable[[ChunkTask], Callable[[], dict[str, np.ndarray]]]:
        if self.config.executor is Executor.DASK:
            from distributed import Client, LocalCluster  # noqa: PLC0415 - optional, heavy

            if self.config.scheduler:
                client = Client(self.config.scheduler)  # type: ignore[no-untyped-call]
            else:
                cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=self.config.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                client = Client(cluster)  # type: ignore[no-untyped-call]
                self._close.append(cluster.close)
            self._close.insert(0, client.close)
            return lambda task: client.submit(run_chunk, task, pure=False).result
        if self.config.workers <= 1:
            return _in_process
        pool = ProcessPoolExecutor(max_workers=self.config.workers)
        self._close.append(pool.shutdown)
        return lambda task: pool.submit(run_chunk, task).result

    def __exit__(self, *exc: object) -> None:
        for close in self._close:
            close()
