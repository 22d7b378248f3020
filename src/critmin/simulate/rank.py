"""Criticality in dollars: rank minerals by expected annual economic loss to the U.S.

The USGS 2025 idea (METHODS §1) with critmin's engine: for each mineral, a year of background
supplier outages plus every library event that names it (or its parent chain), each happening
with its annual probability, simulated as a seeded ensemble; the U.S. loss is shortfall x value
at risk per tonne. Expected (mean) and tail (p95) annual losses are reported side by side.
Individual elements without production data of their own (most rare earths, iridium,
ruthenium) are assessed on their parent chain under the events that name them: their U.S.
shortfall share is reported, but no dollar figure, since the bundled data hold no element-level
U.S. consumption.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from critmin.chain import SupplyChain
from critmin.scenarios.load import library_events, load_scenario, parse_scenario
from critmin.scenarios.spec import Scenario
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.runner import ChunkTask, parents_of, run_chunk

RANK_START = "2026-01"
MONTHS = 12
USA = 1  # index of the U.S. in REGIONS


@dataclass(frozen=True)
class RankRow:
    mineral: str
    chain: str
    expected_loss_usd: float | None
    p95_loss_usd: float | None
    expected_shortfall_share: float
    events: tuple[str, ...]
    assumptions: tuple[str, ...]


def rank_scenario(
    mineral: str,
    chain_mineral: str,
    parents: dict[str, str],
    library: dict[str, dict[str, Any]],
    hazards: list[dict[str, Any]],
) -> Scenario:
    """``hazards`` plus the ``library`` events naming ``mineral``, moved to the rank year."""
    events: dict[str, Any] = {}
    for name, body in library.items():
        minerals = body.get("minerals", [body.get("mineral")])
        if mineral in minerals or (
            mineral == chain_mineral and any(parents.get(m) == chain_mineral for m in minerals)
        ):
            events[name] = {**body, "start": RANK_START}
    raw = {
        "name": f"rank-{mineral}",
        "start": RANK_START,
        "events": events,
        "hazards": hazards,
    }
    return parse_scenario(raw, f"rank:{mineral}")


def _assess(
    args: tuple[ChainModel, Scenario, dict[str, str], int, np.random.SeedSequence],
) -> dict[str, np.ndarray]:
    model, scenario, parents, runs, seed = args
    task = ChunkTask(
        model, scenario, parents, runs, MONTHS, seed, True, MONTHS, sample_occurrence=True
    )
    out = run_chunk(task)
    return {
        "loss": out["loss_usd"][:, 0, USA],
        "short": out["shortfall"][:, 0, USA],
        "demand": np.full(runs, model.demand[USA] * MONTHS),
    }


def rank(
    chain: SupplyChain,
    *,
    runs: int = 200,
    seed: int = 0,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> list[RankRow]:
    """Every mineral with production data, and every element of a chain, ranked by expected
    annual U.S. loss (rows without a dollar figure come last)."""
    parents = parents_of(chain)
    have = sorted(str(m) for m in chain.production.mineral.values)
    elements = sorted(m for m, p in parents.items() if p in have and m not in have)
    plan = [(m, m) for m in have] + [(e, parents[e]) for e in elements]
    library = library_events()
    hazards = [h.model_dump() for h in load_scenario("background").hazards]
    seeds = np.random.SeedSequence(seed).spawn(len(plan))
    models: dict[str, ChainModel] = {}
    jobs = []
    for (mineral, chain_mineral), ss in zip(plan, seeds, strict=True):
        if chain_mineral not in models:
            models[chain_mineral] = build_model(chain, chain_mineral)
        scenario = rank_scenario(mineral, chain_mineral, parents, library, hazards)
        jobs.append((models[chain_mineral], scenario, parents, runs, ss))
    rows: list[RankRow] = []
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, ((mineral, chain_mineral), job, out) in enumerate(
            zip(plan, jobs, pool.map(_assess, jobs), strict=True)
        ):
            model, scenario = job[0], job[1]
            own = mineral == chain_mineral
            priced = own and model.loss_per_t > 0
            demand = float(out["demand"][0])
            rows.append(
                RankRow(
                    mineral=mineral,
                    chain=chain_mineral,
                    expected_loss_usd=float(out["loss"].mean()) if priced else None,
                    p95_loss_usd=float(np.quantile(out["loss"], 0.95)) if priced else None,
                    expected_shortfall_share=float(out["short"].mean() / demand)
                    if demand > 0
                    else 0.0,
                    events=tuple(scenario.events),
                    assumptions=model.assumptions,
                )
            )
            if progress:
                progress(i + 1, len(plan))
    rows.sort(
        key=lambda r: (
            r.expected_loss_usd is None,
            -(r.expected_loss_usd or 0.0),
            -r.expected_shortfall_share,
        )
    )
    return rows


def rank_records(rows: list[RankRow]) -> list[dict[str, Any]]:
    """The JSON of ``critmin rank``: mineral, expected and p95 loss (USD/yr), rank."""
    out = []
    n = 0
    for r in rows:
        ranked = r.expected_loss_usd is not None
        n += ranked
        out.append(
            {
                "mineral": r.mineral,
                "expected_loss_usd": r.expected_loss_usd,
                "p95_loss_usd": r.p95_loss_usd,
                "rank": n if ranked else None,
                "chain": r.chain,
                "expected_us_shortfall_share": r.expected_shortfall_share,
                "events": list(r.events),
                "assumptions": list(r.assumptions),
                "note": None
                if ranked
                else (
                    "no dollar figure: no U.S. consumption or price of its own in the bundled data;"
                    " assessed on its parent chain"
                    if r.mineral != r.chain
                    else "no USGS price: loss in dollars not computed"
                ),
            }
        )
    return out
