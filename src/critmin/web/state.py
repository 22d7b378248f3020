"""What the web application holds between requests: the chain (loaded once), the exposure
tables, and the heavy analyses (ranking, reserve plan) computed once per data and code version
in the background and kept on disk, so no page request ever waits for them."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from critmin.records import json_records
from critmin.simulate.draws import DEFAULT_RUNS
from critmin.web.jobs import Job, Jobs, Progress

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from critmin.chain import SupplyChain


@dataclass(frozen=True)
class WebSettings:
    """How the web application computes: the data folder, where results are cached, and the
    draws and seed of the background analyses."""

    data: Path | None = None
    cache: Path | None = None
    rank_runs: int = DEFAULT_RUNS  # draws per stratum, as `critmin rank --runs`
    plan_runs: int = 200
    seed: int = 0
    workers: int = 2
    start_analyses: bool = False
    """Start the ranking and reserve plan when the server starts (else on first view)."""


class WebState:
    """The chain and the analyses one server shares between its requests."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.jobs = Jobs()
        self._lock = threading.Lock()
        self._chain: SupplyChain | None = None
        self._analyses: dict[str, Job] = {}

    # -- the chain -----------------------------------------------------------------------
    def chain(self) -> SupplyChain:
        with self._lock:
            if self._chain is None:
                from critmin.chain import SupplyChain

                self._chain = SupplyChain.load(self.settings.data)
            return self._chain

    @cached_property
    def version(self) -> str:
        """The data version and the code's (critmin's version and files:
        result_cache.code_id): an upgraded or edited critmin does not serve the analyses an
        older one cached for the same data."""
        from critmin.data.result_cache import code_id
        from critmin.simulate.output import data_version

        return f"{data_version(self.chain().dataset)}-{code_id()[:16]}"

    @cached_property
    def exposure(self) -> pd.DataFrame:
        """Every mineral and stage, latest year with data per stage."""
        from critmin.metrics.exposure import exposure_table

        return exposure_table(self.chain())

    @cached_property
    def names(self) -> dict[str, str]:
        minerals = self.chain().dataset["minerals"]
        return {str(k): str(v) for k, v in zip(minerals["id"], minerals["name"], strict=True)}

    @cached_property
    def country_names(self) -> dict[str, str]:
        c = self.chain().dataset["countries"]
        names = {str(k): str(v) for k, v in zip(c["iso3"], c["name"], strict=True)}
        names.setdefault("OTH", "others (unattributed)")
        return names

    @cached_property
    def sources(self) -> dict[str, dict[str, Any]]:
        frame = self.chain().dataset["sources"]
        return {str(r["id"]): dict(r) for r in json_records(frame)}

    @cached_property
    def shares(self) -> xr.DataArray:
        """Country shares by (mineral, stage, country, year), computed once."""
        return self.chain().shares()

    @cached_property
    def yearly(self) -> dict[int, xr.Dataset]:
        """Every exposure metric for every mineral and stage, year by year (the time series)."""
        from critmin.metrics.exposure import exposure_arrays

        chain = self.chain()
        out = {}
        for y in chain.production.year.values.tolist():
            try:
                out[int(y)] = exposure_arrays(chain, year=int(y))
            except KeyError:
                continue
        return out

    @cached_property
    def baci(self) -> pd.DataFrame:
        """Each exporter's share of U.S. imports by value (BACI), per mineral."""
        from critmin.metrics.imports import baci_import_shares

        return baci_import_shares(self.chain().dataset)

    # -- heavy analyses --------------------------------------------------------------------
    def _cache_file(self, name: str, runs: int) -> Path | None:
        if self.settings.cache is None:
            return None
        return self.settings.cache / f"{name}-{self.version}-{runs}-{self.settings.seed}.json"

    def analysis(self, name: str) -> Job:
        """The ranking (``rank``) or the reserve plan (``plan``): started on first call, read
        from the cache when this data version was computed before."""
        with self._lock:
            job = self._analyses.get(name)
            if job is not None:
                return job
            runs = self.settings.rank_runs if name == "rank" else self.settings.plan_runs
            self._analyses[name] = job = self.jobs.start(
                name, lambda progress: self._compute(name, runs, progress), runs=runs
            )
            return job

    def _compute(self, name: str, runs: int, progress: Progress) -> Any:
        cached = self._cache_file(name, runs)
        if cached is not None and cached.exists():
            return json.loads(cached.read_text(encoding="utf-8"))
        chain = self.chain()
        seed, workers = self.settings.seed, self.settings.workers
        result: Any
        if name == "rank":
            from critmin.simulate.rank import rank, rank_records

            result = rank_records(
                rank(chain, runs=runs, seed=seed, workers=workers, progress=progress)
            )
        elif name == "plan":
            from critmin.optimize.ensemble import build_ensemble

            ranking = self._analyses.get("rank")
            while ranking is not None and ranking.status == "running":
                time.sleep(0.5)  # one heavy job at a time on a small machine
            from critmin.optimize.plan import optimise
            from critmin.optimize.problem import DEFAULT_BUDGET, Risk

            ens = build_ensemble(chain, runs=runs, seed=seed, progress=progress)
            result = optimise(chain, ens, budget=DEFAULT_BUDGET, risk=Risk()).as_json()
            result["seed"] = seed
            result["sensitivity"] = sensitivity(chain, ens, DEFAULT_BUDGET, result)
            from critmin.web.sensitivity import parameter_sensitivity

            result["parameter_sensitivity"] = parameter_sensitivity(
                chain, ens, result, budget=DEFAULT_BUDGET, seed=seed, workers=workers
            )
        else:
            raise KeyError(name)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps(result), encoding="utf-8")
            tmp.replace(cached)
        return result

    def warm(self) -> None:
        """Compute the ranking, then the reserve plan, in the background (one at a time, so a
        two-core machine keeps serving pages)."""

        def run() -> None:
            for name in ("rank", "plan"):
                job = self.analysis(name)
                while job.status == "running":
                    time.sleep(0.5)

        threading.Thread(target=run, name="critmin-warm", daemon=True).start()

    def ready(self, name: str) -> Any | None:
        """The analysis' result if it has finished, else None (and it is started)."""
        job = self.analysis(name)
        return job.result if job.status == "done" else None


def sensitivity(
    chain: SupplyChain, ens: Any, budget: float, base: dict[str, Any]
) -> list[dict[str, Any]]:
    """The plan re-solved on the same scenarios with one input changed at a time: the loss
    per tonne short (critmin.simulate.model.ChainModel.loss_per_t: U.S. GDP lost per tonne at
    a 50% shortfall through the BEA input-output model, the reference price x the mineral's
    leverage) halved and doubled, the budget halved and raised by half, and a risk-averse
    objective (CVaR 95%, weight 0.5). The assumed parameters changed one at a time (+/-50%)
    are critmin.optimize.sensitivity.parameter_sensitivity's, computed beside this."""
    import dataclasses

    from critmin.optimize.plan import optimise
    from critmin.optimize.problem import Risk

    def held(plan: dict[str, Any]) -> str:
        return ", ".join(
            f"{h['mineral']} {h['tonnes']:,.0f} t" for h in plan["holdings"] if h["tonnes"] > 1e-6
        )

    cases: list[tuple[str, str, Any, float, Risk]] = [
        (
            "loss per tonne short",
            "x 0.5",
            dataclasses.replace(ens, loss_per_t=ens.loss_per_t * 0.5),
            budget,
            Risk(),
        ),
        (
            "loss per tonne short",
            "x 2",
            dataclasses.replace(ens, loss_per_t=ens.loss_per_t * 2.0),
            budget,
            Risk(),
        ),
        ("budget", "x 0.5", ens, budget * 0.5, Risk()),
        ("budget", "x 1.5", ens, budget * 1.5, Risk()),
        ("risk aversion", "CVaR 95%, weight 0.5", ens, budget, Risk(0.95, 0.5)),
    ]
    rows = [
        {
            "parameter": "(as planned)",
            "change": "-",
            "spent_usd": base["spent_usd"],
            "expected_loss_usd": base["expected_loss_usd"],
            "holdings": held(base),
        }
    ]
    for parameter, change, e, b, risk in cases:
        plan = optimise(chain, e, budget=b, risk=risk).as_json()
        rows.append(
            {
                "parameter": parameter,
                "change": change,
                "spent_usd": plan["spent_usd"],
                "expected_loss_usd": plan["expected_loss_usd"],
                "holdings": held(plan),
            }
        )
    return rows
