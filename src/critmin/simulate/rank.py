"""Criticality in dollars: rank minerals by the expected annual U.S. loss from foreign supply
disruptions (the USGS 2025 idea, METHODS §1, on critmin's engine and economics). The loss is
U.S. national income: GDP lost through the BEA input-output model plus the terms-of-trade
transfer (what the disrupted price makes the U.S. pay foreign sellers on its imports).

For each mineral of the universe (default: the minerals on a U.S. list plus every individual
rare earth and platinum-group metal; ``include_all`` adds the rest, marked), a year of foreign
disruptions (critmin.simulate.disruptions: export restrictions by every major foreign supplier
at their calibrated rates, library regimes at their state's rate, governance-scaled foreign
outages) is simulated as a seeded ensemble. Each month the market clears; the U.S. loses GDP
through the BEA input-output model (critmin.economics.io) and welfare through the price
(critmin.economics.welfare). U.S. domestic outages are simulated separately and reported in
their own column. Every dollar figure comes with its Monte Carlo standard error. All minerals
draw from the same random stream (common random numbers), so their differences are not noise
of different draws.

Elements without a chain of their own (e.g. individual rare earths) are assessed on their
parent chain: the parent's U.S. shortfall share in each draw applied to the element's own U.S.
demand, price and users; without U.S. demand or a price of their own they get no dollar figure.

Every mineral of the universe comes out as a row: one that cannot be simulated (no country
production data bundled, e.g. cesium; a group ranked through its elements, the PGM aggregate)
is an unranked row after the ranked ones, with no dollar figure and its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from critmin.chain import SupplyChain
from critmin.economics.io import Exposure
from critmin.economics.io import exposure as io_exposure
from critmin.economics.price import parents_of_dataset
from critmin.economics.welfare import (
    consumer_surplus_lost,
    producer_gain,
    terms_of_trade_transfer,
)
from critmin.scenarios.spec import Scenario
from critmin.schema.vocabulary import MONTHS_PER_YEAR, REGIONS
from critmin.simulate.disruptions import DisruptionSet
from critmin.simulate.draws import DEFAULT_RUNS
from critmin.simulate.driver import Execution, Executor, map_chunks
from critmin.simulate.engine import run, warm
from critmin.simulate.model import (
    US_BUYER,
    ChainModel,
    build_model,
    reference_prices_of,
    us_demand_t,
)
from critmin.simulate.shocks import build_shocks

MONTHS = MONTHS_PER_YEAR  # the ranking simulates one year, month by month
USA = REGIONS.index("USA")

#: The headline fields of a rank record (rank_records), in the order the ranking's table shows
#: them: ``critmin rank``'s table and CSV (the CSV adds ``reason``). One definition for the
#: front ends and the tests; ``RANK_UNITS`` gives the unit of each dollar column.
RANK_COLUMNS: tuple[str, ...] = (
    "rank",
    "mineral",
    "expected_loss_usd",
    "expected_loss_se_usd",
    "p95_loss_usd",
    "gdp_loss_usd",
    "welfare_loss_usd",
    "domestic_outage_loss_usd",
    "on_us_list",
)
#: Unit of each dollar column of ``RANK_COLUMNS``.
RANK_UNITS: dict[str, str] = {
    "expected_loss_usd": "USD/yr",
    "expected_loss_se_usd": "USD/yr (Monte Carlo SE)",
    "p95_loss_usd": "USD/yr",
    "gdp_loss_usd": "USD/yr",
    "welfare_loss_usd": "USD/yr",
    "domestic_outage_loss_usd": "USD/yr",
}


@dataclass(frozen=True)
class RankRow:
    mineral: str
    chain: str | None  # the chain it was simulated on; None when it could not be
    on_us_list: bool
    expected_loss_usd: float | None  # U.S. GDP lost + terms-of-trade transfer, USD/yr
    gdp_loss_usd: float | None  # U.S. GDP lost through the BEA input-output model, USD/yr
    expected_loss_se_usd: float | None
    p95_loss_usd: float | None
    welfare_loss_usd: float | None  # consumer surplus lost - U.S. producer gain
    consumer_surplus_lost_usd: float | None
    producer_gain_usd: float | None
    terms_of_trade_usd: float | None
    domestic_outage_loss_usd: float | None
    expected_shortfall_share: float | None  # None when not simulated
    leverage: float | None  # GDP lost per USD short at a 50% shortfall
    leverage_basis: str
    events: tuple[str, ...]
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    reason: str | None = None  # why the row has no dollar figure (None when it has one)


@dataclass(frozen=True)
class _Priced:
    """A mineral priced on a chain's simulation: its own users, price and U.S. demand."""

    mineral: str
    exposure: Exposure | None
    price: float
    demand_t: float  # U.S. demand, t per month
    missing: str = ""  # what it lacks for a dollar figure ("" when it has what it needs)


def _missing(price: float, demand: float | None, expo: Exposure | None, own: str = "") -> str:
    """What a simulated mineral lacks for a dollar figure, as the reason of its row."""
    if expo is not None and np.isfinite(price):
        return ""
    lacks = [
        n for n, ok in (("reference price", np.isfinite(price)), ("U.S. demand", demand)) if not ok
    ]
    return f"no {' or '.join(lacks or ['bridge to the BEA tables'])}{own} bundled"


@dataclass(frozen=True)
class _Job:
    """One chain's year of foreign (and domestic) disruptions, priced for each of its
    minerals (the chain mineral itself and the elements assessed on it)."""

    model: ChainModel
    priced: tuple[_Priced, ...]
    foreign: Scenario
    domestic: Scenario | None
    parents: dict[str, str]
    runs: int
    seed: int


def _year(
    job: _Job, scenario: Scenario, rng: np.random.Generator
) -> dict[str, dict[str, np.ndarray]]:
    model = job.model
    shocks = build_shocks(scenario, model, job.parents, job.runs, MONTHS, rng)
    trace = run(model, shocks)
    base = model.demand[USA]
    short = np.divide(
        trace.shortfall[:, :, USA], base, out=np.zeros((job.runs, MONTHS)), where=base > 0
    )  # (S, M) share of U.S. demand unmet
    # a month rerouting covers in full clears at exactly 1 in the engine (kernel step 3)
    r = trace.price_ratio[:, :, USA]
    us_idx = model.country_index("USA")
    home = trace.final[:, :, us_idx, USA] / base if us_idx is not None and base > 0 else 0.0 * r
    buyer = model.country_index(US_BUYER)
    if buyer is not None and us_idx is not None and base > 0:
        # U.S. demand buys an earlier stage (ChainModel.us_stage): U.S. producers' home
        # deliveries are their baseline sales to the U.S. buyer node, scaled by their output
        j = model.us_stage_index
        cap = float(model.capacity[j, us_idx])
        ratio = trace.output[:, :, j, us_idx] / cap if cap > 0 else 0.0 * r
        home = ratio * float(model.flows[j][us_idx, buyer]) / base
    bought = trace.receipts[:, :, USA] / base if base > 0 else 0.0 * r
    out: dict[str, dict[str, np.ndarray]] = {}
    for p in job.priced:
        res: dict[str, np.ndarray] = {"short": short.mean(axis=1)}
        if p.exposure is not None and np.isfinite(p.price):
            d0 = np.full_like(r, p.demand_t)
            domestic = home * p.demand_t
            imports = np.clip(bought * p.demand_t - domestic, 0.0, None)
            res |= {
                "gdp": p.exposure.gdp_lost(short).sum(axis=1),
                "cs": consumer_surplus_lost(p.price, d0, r, model.elasticity).sum(axis=1),
                "pg": producer_gain(p.price, domestic, r).sum(axis=1),
                "tot": terms_of_trade_transfer(p.price, imports, r).sum(axis=1),
            }
        out[p.mineral] = res
    return out


def strata(scenario: Scenario) -> list[tuple[float, Scenario]]:
    """The year's foreign scenario split by which event happens (probability-weighted
    scenarios, as the USGS 2025 method weighs its disruption scenarios): no event, weight
    1 - Σ p_e; event e alone, weight p_e (its annual probability). Background outages run in
    every stratum. Joint occurrences of two events (second order in p) are left out."""
    events = scenario.events
    total = sum(e.probability for e in events.values())
    out = [(max(0.0, 1.0 - total), scenario.model_copy(update={"events": {}, "uncertainties": []}))]
    for name, e in events.items():
        if e.probability <= 0:
            continue
        mine = [u for u in scenario.uncertainties if u.target.startswith(f"{name}.")]
        out.append(
            (
                e.probability,
                scenario.model_copy(update={"events": {name: e}, "uncertainties": mine}),
            )
        )
    norm = sum(w for w, _ in out)
    return [(w / norm, sc) for w, sc in out]


@dataclass(frozen=True)
class _Chunk:
    """One chunk of the ranking: a chain's year under one stratum, foreign or domestic."""

    job: int
    domestic: bool
    stratum: int


def _chunks(jobs: list[_Job]) -> list[_Chunk]:
    out = []
    for i, job in enumerate(jobs):
        out += [_Chunk(i, False, s) for s in range(len(strata(job.foreign)))]
        if job.domestic is not None and job.domestic.events:
            out += [_Chunk(i, True, s) for s in range(len(strata(job.domestic)))]
    return out


def _year_of(jobs: list[_Job], chunk: _Chunk) -> dict[str, dict[str, np.ndarray]]:
    """On a worker: one stratum's year of draws, reduced to per-draw annual figures per
    mineral. Every stratum of every chain starts from the same seed (common random numbers;
    the domestic year from seed + 1)."""
    job = jobs[chunk.job]
    scenario = job.domestic if chunk.domestic else job.foreign
    assert scenario is not None
    _, sc = strata(scenario)[chunk.stratum]
    return _year(job, sc, np.random.default_rng(job.seed + (1 if chunk.domestic else 0)))


def _assess(
    job: _Job,
    foreign: list[dict[str, dict[str, np.ndarray]]],
    domestic: list[dict[str, dict[str, np.ndarray]]],
) -> dict[str, dict[str, np.ndarray]]:
    """Per mineral: per-draw results of every stratum, and each draw's weight (the stratum's
    probability over its draws)."""
    parts = [(w, r) for (w, _), r in zip(strata(job.foreign), foreign, strict=True)]
    out: dict[str, dict[str, np.ndarray]] = {}
    for p in job.priced:
        keys = parts[0][1][p.mineral].keys()
        res = {k: np.concatenate([r[p.mineral][k] for _, r in parts]) for k in keys}
        res["weight"] = np.concatenate([np.full(job.runs, w / job.runs) for w, _ in parts])
        res["stratum"] = np.concatenate([np.full(job.runs, i) for i in range(len(parts))])
        out[p.mineral] = res
    if domestic:
        assert job.domestic is not None
        dparts = [(w, r) for (w, _), r in zip(strata(job.domestic), domestic, strict=True)]
        for p in job.priced:
            if "gdp" in dparts[0][1][p.mineral]:
                out[p.mineral]["domestic"] = np.array(
                    [sum(w * float(r[p.mineral]["gdp"].mean()) for w, r in dparts)]
                )
    return out


def _weighted(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(x * w))


def _stratified_se(x: np.ndarray, w: np.ndarray, stratum: np.ndarray) -> float:
    var = 0.0
    for s in np.unique(stratum):
        at = stratum == s
        n = int(at.sum())
        weight = float(w[at].sum())
        if n > 1:
            var += weight**2 * float(np.var(x[at], ddof=1)) / n
    return float(np.sqrt(var))


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cum = np.cumsum(w[order])
    i = int(np.searchsorted(cum, q * cum[-1]))
    return float(x[order][min(i, len(x) - 1)])


def chain_of(chain: SupplyChain, mineral: str, parents: dict[str, str], have: set[str]) -> str:
    """The chain a mineral is simulated on: its own; else its parent's; else, for a co-product
    without either (ruthenium: no mine data of its own, no PGM aggregate), the sibling with the
    largest output (the same mines produce both)."""
    if mineral in have:
        return mineral
    parent = parents.get(mineral, "")
    if parent in have:
        return parent
    siblings = [m for m, p in parents.items() if p == parent and m in have and m != mineral]
    if not siblings:
        raise KeyError(f"no chain for {mineral}")
    size = chain.production.sel(mineral=siblings).sum(("stage", "country")).max("year")
    return str(size.mineral.values[int(np.argmax(size.values))])


def universe(chain: SupplyChain, *, include_all: bool = False) -> list[tuple[str, bool]]:
    """(mineral, on a U.S. list) to rank: U.S.-list minerals and every rare-earth and PGM
    element by default; every mineral with ``include_all``. Some cannot be simulated
    (:func:`unsimulable` says why): they are rows of the ranking without a dollar figure."""
    minerals = chain.dataset["minerals"]
    parents = parents_of_dataset(chain.dataset)
    listed = minerals["usgs_2025"].astype(str).str.lower().eq("true") | minerals["doe_2023"].astype(
        str
    ).str.lower().eq("true")
    on = dict(zip(minerals["id"].astype(str), listed, strict=True))
    element = {m for m, p in parents.items() if p in ("rare_earths", "pgm")}
    return [(m, bool(on[m])) for m in sorted(on) if include_all or on[m] or m in element]


def unsimulable(chain: SupplyChain, mineral: str, parents: dict[str, str]) -> str | None:
    """Why ``mineral`` has no chain to be simulated on (see :func:`chain_of`), in one line;
    None when it has one."""
    have = set(chain.production.mineral.values.tolist())
    parent = parents.get(mineral)
    if mineral in have or parent in have:
        return None
    if parent and any(p == parent and m in have for m, p in parents.items()):
        return None  # a co-product assessed on its largest sibling
    elements = sorted(m for m, p in parents.items() if p == mineral)
    if elements:
        return (
            "a group without production data of its own: its elements ("
            + ", ".join(elements)
            + ") are assessed one by one"
        )
    gaps = chain.dataset["data_gaps"]
    why = gaps[(gaps["mineral"] == mineral) & (gaps["item"] == "production_shares")]["reason"]
    return "no country production data bundled" + (f": {why.iloc[0]}" if len(why) else "")


def simulated(chain: SupplyChain, *, include_all: bool = False) -> list[tuple[str, bool]]:
    """The minerals of the universe that have a chain to be simulated on."""
    parents = parents_of_dataset(chain.dataset)
    return [
        (m, on)
        for m, on in universe(chain, include_all=include_all)
        if unsimulable(chain, m, parents) is None
    ]


def _own_demand(chain: SupplyChain, mineral: str) -> float | None:
    """U.S. demand (t/yr) of a mineral without a chain of its own (one definition:
    critmin.simulate.model.us_demand_t); None without a USGS figure."""
    tonnes, _ = us_demand_t(chain, mineral)
    return tonnes if tonnes is not None and tonnes > 0 else None


def rank(
    chain: SupplyChain,
    *,
    runs: int = DEFAULT_RUNS,
    seed: int = 0,
    workers: int = 2,
    include_all: bool = False,
    minerals: list[str] | None = None,
    domestic: bool = True,
    progress: Callable[[int, int], None] | None = None,
    scheduler: str | None = None,
) -> list[RankRow]:
    """The criticality ranking (see the module docstring); ``minerals`` keeps a subset. Chunks
    (a chain's year under one stratum) run on the ensemble driver: ``workers`` local
    processes, or the Dask cluster at ``scheduler``."""
    parents = parents_of_dataset(chain.dataset)
    have = set(chain.production.mineral.values.tolist())
    scope = universe(chain, include_all=include_all or bool(minerals))
    if minerals:
        scope = [(m, on) for m, on in scope if m in minerals]
    why = {m: unsimulable(chain, m, parents) for m, _ in scope}
    plan = [(m, on) for m, on in scope if why[m] is None]
    disruptions = DisruptionSet.of(chain, parents)
    prices = reference_prices_of(chain)
    params = chain.dataset["market_parameters"]
    models: dict[str, ChainModel] = {}
    priced: dict[str, list[_Priced]] = {}
    notes: dict[str, list[str]] = {}
    for mineral, _ in plan:
        chain_mineral = chain_of(chain, mineral, parents, have)
        if chain_mineral not in models:
            models[chain_mineral] = build_model(chain, chain_mineral)
        model = models[chain_mineral]
        note = list(model.assumptions)
        if mineral == chain_mineral:
            us_demand = float(model.demand[USA])
            item = _Priced(
                mineral,
                model.exposure,
                model.price_usd_t,
                us_demand,
                _missing(model.price_usd_t, us_demand, model.exposure),
            )
        else:
            ref = prices.get(mineral)
            demand = _own_demand(chain, mineral)
            price = ref.usd_per_t if ref is not None else float("nan")
            expo = None
            if ref is not None and demand:
                sub = params[
                    (params["mineral"] == mineral)
                    & (params["parameter"] == "substitution_elasticity")
                ]
                s = float(sub["value"].iloc[0]) if len(sub) else 0.2
                expo = io_exposure(
                    chain.dataset, mineral, parents, value_usd=demand * price, substitution=s
                )
            item = _Priced(
                mineral,
                expo,
                price,
                demand / MONTHS if demand else 0.0,
                _missing(price, demand, expo, " of its own"),
            )
            note.append(
                f"assessed on the {chain_mineral} chain (co-product or parent): its U.S. "
                f"shortfall share applied to {mineral}'s own U.S. demand and price"
                + ("" if expo is not None else " (none bundled: no dollar figure)")
            )
        notes[mineral] = note
        priced.setdefault(chain_mineral, []).append(item)
    jobs = [
        _Job(
            models[c],
            tuple(items),
            disruptions.foreign(chain, c, c),
            disruptions.domestic(c)
            if domestic and models[c].country_index("USA") is not None
            else None,
            parents,
            runs,
            seed,
        )
        for c, items in priced.items()
    ]
    rows: list[RankRow] = []
    listed = dict(plan)
    execution = Execution(
        Executor.DASK if scheduler else Executor.LOCAL, max(1, workers), scheduler
    )
    chunks = _chunks(jobs)
    results = map_chunks(
        _year_of,
        jobs,
        chunks,
        execution,
        progress,
        warm=partial(warm, jobs[0].model) if jobs else None,
    )
    per_job: dict[int, tuple[list[Any], list[Any]]] = {i: ([], []) for i in range(len(jobs))}
    for chunk, res in zip(chunks, results, strict=True):
        per_job[chunk.job][1 if chunk.domestic else 0].append(res)
    for i, job in enumerate(jobs):
        out = _assess(job, *per_job[i])
        for p in job.priced:
            rows.append(_row(p, job, out[p.mineral], listed[p.mineral], notes[p.mineral]))
    rows.sort(
        key=lambda r: (
            r.expected_loss_usd is None,
            -(r.expected_loss_usd or 0.0),
            -(r.expected_shortfall_share or 0.0),
        )
    )
    return rows + [_unsimulated(m, on, why[m] or "") for m, on in scope if why[m] is not None]


def _unsimulated(mineral: str, listed: bool, reason: str) -> RankRow:
    """A mineral of the universe that could not be simulated: no figure, its reason."""
    return RankRow(
        mineral=mineral,
        chain=None,
        on_us_list=listed,
        expected_loss_usd=None,
        gdp_loss_usd=None,
        expected_loss_se_usd=None,
        p95_loss_usd=None,
        welfare_loss_usd=None,
        consumer_surplus_lost_usd=None,
        producer_gain_usd=None,
        terms_of_trade_usd=None,
        domestic_outage_loss_usd=None,
        expected_shortfall_share=None,
        leverage=None,
        leverage_basis="",
        events=(),
        reason=reason,
    )


def _mean(x: np.ndarray | None) -> float | None:
    return None if x is None else float(np.mean(x))


def _row(
    priced: _Priced,
    job: _Job,
    out: dict[str, np.ndarray],
    listed: bool,
    notes: list[str],
) -> RankRow:
    mineral, expo = priced.mineral, priced.exposure
    gdp = out.get("gdp")
    w, stratum = out["weight"], out["stratum"]
    cs, pg = out.get("cs"), out.get("pg")
    dom = out.get("domestic")

    def mean(x: np.ndarray | None) -> float | None:
        return None if x is None else _weighted(x, w)

    tot = out.get("tot")
    # U.S. national income lost: GDP lost plus what the higher price transfers abroad
    loss = None if gdp is None or tot is None else gdp + tot
    return RankRow(
        mineral=mineral,
        chain=job.model.mineral,
        on_us_list=listed,
        expected_loss_usd=mean(loss),
        gdp_loss_usd=mean(gdp),
        expected_loss_se_usd=None if loss is None else _stratified_se(loss, w, stratum),
        p95_loss_usd=None if loss is None else _weighted_quantile(loss, w, 0.95),
        welfare_loss_usd=None if cs is None or pg is None else _weighted(cs - pg, w),
        consumer_surplus_lost_usd=mean(cs),
        producer_gain_usd=mean(pg),
        terms_of_trade_usd=mean(tot),
        domestic_outage_loss_usd=float(dom[0])
        if dom is not None
        else (0.0 if gdp is not None else None),
        expected_shortfall_share=_weighted(out["short"], w),
        leverage=None if expo is None else expo.leverage(0.5),
        leverage_basis="" if expo is None else expo.describe(0.5),
        events=tuple(job.foreign.events),
        assumptions=tuple(notes),
        reason=None if loss is not None else (priced.missing or "no dollar figure computed"),
    )


def rank_records(rows: list[RankRow]) -> list[dict[str, Any]]:
    """The JSON of ``critmin rank``: dollars per year; ``rank`` for every row with a figure,
    ``reason`` (one line) for every row without one."""
    out = []
    n = 0
    for r in rows:
        ranked = r.expected_loss_usd is not None
        n += ranked
        out.append(
            {
                "mineral": r.mineral,
                "rank": n if ranked else None,
                "expected_loss_usd": r.expected_loss_usd,
                "expected_loss_se_usd": r.expected_loss_se_usd,
                "p95_loss_usd": r.p95_loss_usd,
                "gdp_loss_usd": r.gdp_loss_usd,
                "welfare_loss_usd": r.welfare_loss_usd,
                "consumer_surplus_lost_usd": r.consumer_surplus_lost_usd,
                "producer_gain_usd": r.producer_gain_usd,
                "terms_of_trade_transfer_usd": r.terms_of_trade_usd,
                "domestic_outage_loss_usd": r.domestic_outage_loss_usd,
                "on_us_list": r.on_us_list,
                "chain": r.chain,
                "expected_us_shortfall_share": r.expected_shortfall_share,
                "leverage_gdp_per_usd_short": r.leverage,
                "leverage_derivation": r.leverage_basis,
                "events": list(r.events),
                "assumptions": list(r.assumptions),
                "reason": r.reason,  # why an unranked row has no dollar figure
            }
        )
    return out
