"""How much of the reserve budget moves when one assumed parameter changes by +/-50%.

The parameters are those the planning ensemble and the optimiser read for a mineral the plan
holds, taken where their row is a critmin assumption (source ``CRITMIN_ASSUMPTION``) or marked
``estimated``: the market parameters the chain model reads (critmin.simulate.model.build_model),
the holding costs, release rate and purchase cap of the reserve forms (critmin.optimize.problem
.Lots), the split of a mineral's need by element (reserve_needs: every element but the largest
scaled, the largest taking the rest, parameter ``minor_element_share``), the share of the
conversion plants available to the reserve and the conversion lead time (reserve_conversions),
and the cost of capital (``mineral`` = "all"; sourced, CEA_SDR_2024, but a policy choice: the
2003 Circular A-4 used 3% and 7%).
Each case re-simulates only the changed mineral's chain with the seeds build_ensemble gave it
(same event occurrences and timing, same chain draws), so every plan is solved on the same
scenarios; the share of the budget that moves is max(dollars bought, dollars sold) between
the base plan and the re-solved one, over the budget.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.economics.io import exposure as io_exposure
from critmin.economics.parameters import market_parameter
from critmin.economics.price import parents_of_dataset
from critmin.optimize.eligibility import Eligibility
from critmin.optimize.ensemble import (
    Ensemble,
    chain_run,
    event_timing,
    planning_scenario,
    pooled,
    seed_streams,
)
from critmin.optimize.plan import reserve_problem
from critmin.optimize.problem import CAPITAL_COST_PER_YEAR, Accounting, ReserveProblem, Risk
from critmin.optimize.splice import Built, solve_spliced
from critmin.schema.validate import is_true
from critmin.schema.vocabulary import (
    ASSUMPTION_SOURCE,
    MARKET_PARAMETER_NAMES,
    MONTHS_PER_YEAR,
    REGIONS,
)
from critmin.simulate.driver import Execution, map_chunks
from critmin.simulate.model import ChainModel, build_model

#: market_parameters rows the chain model reads and the reserve plan therefore depends on
MARKET = MARKET_PARAMETER_NAMES
#: reserve_forms columns the optimiser reads
FORMS = (
    "storage_per_year",
    "insurance_per_year",
    "degradation_per_year",
    "drawdown_per_month",
    "purchase_cap_share",
)
#: reserve_conversions columns the conversion routes read
CONVERSIONS = ("available_share", "lead_time_months")
FACTORS = (0.5, 1.5)
FLAG = 0.25


def _weak(source: str, estimated: Any) -> bool:
    return source == ASSUMPTION_SOURCE or is_true(estimated)


def moved_share(base: dict[str, float], case: dict[str, float], budget: float) -> float:
    """max(dollars bought, dollars sold) between two plans' spending by lot, over the budget."""
    lots = set(base) | set(case)
    delta = np.array([case.get(k, 0.0) - base.get(k, 0.0) for k in lots])
    if budget <= 0 or delta.size == 0:
        return 0.0
    return float(max(delta[delta > 0].sum(), -delta[delta < 0].sum()) / budget)


@dataclass(frozen=True)
class CaseInputs:
    """What one sensitivity case's reserve problem reads: risk-neutral as planned, on ``ens``
    with the reserve forms ``forms`` and the cost of capital ``capital`` (and, where given,
    ``needs`` and ``conversions`` in place of the bundled reserve_needs and
    reserve_conversions)."""

    chain: SupplyChain
    forms: pd.DataFrame
    ens: Ensemble
    budget: float
    eligibility: Eligibility | None
    capital: float = CAPITAL_COST_PER_YEAR
    needs: pd.DataFrame | None = None
    conversions: pd.DataFrame | None = None
    release_price: str = "market"  # what a sold release earns (Accounting.release_price)

    def problem(self) -> ReserveProblem:
        """The reserve problem the case solves (not yet built)."""
        problem, _ = reserve_problem(
            self.chain,
            self.ens,
            budget=self.budget,
            risk=Risk(),
            eligibility=self.eligibility,
            accounting=Accounting.full(self.capital, self.release_price),
            forms=self.forms,
            needs=self.needs,
            conversions=self.conversions,
        )
        return problem


def _by_lot(usd: xr.DataArray) -> dict[str, float]:
    return {str(k): float(v) for k, v in zip(usd.lot.values, usd.values, strict=True)}


def spend_of(problem: ReserveProblem, base: Built | None = None) -> dict[str, float]:
    """Dollars ``problem`` spends per lot (USD by lot id): the measure every sensitivity case
    compares (``moved_share``). Only the purchase problem is solved, not the comparison
    policies ``optimise`` adds. With ``base`` (a built programme), only the blocks whose data
    differ from its are rebuilt (critmin.optimize.splice: the same LP, so the same plan);
    without, or when the programme cannot be spliced, it is built and solved in full."""
    spliced = solve_spliced(base, problem) if base is not None else None
    if spliced is None:
        problem.build()
        usd = problem.solve().spent_by_lot
        assert usd is not None
        return _by_lot(usd)
    case = spliced.problem
    # as ReserveProblem.read: the expected price x impact multiplier x tonnes bought
    b = spliced.solution("purchase").clip(min=0.0)
    _, mult = case.lots.tranches()
    price = case.lots.expected_price(case.ensemble)
    return _by_lot((price * mult * b).sum(("tranche", "period")))


def spend_by_lot(case: CaseInputs, base: Built | None = None) -> dict[str, float]:
    """Dollars the reserve problem of ``case`` spends per lot (USD by lot id), risk-neutral as
    planned (``CaseInputs.problem``, ``spend_of``; spliced on ``base`` where given)."""
    return spend_of(case.problem(), base)


def scaled_model(model: ChainModel, chain: SupplyChain, name: str, f: float) -> ChainModel:
    """The chain model with one market parameter (``MARKET``: a market_parameters name) scaled
    by ``f``; re-simulate it on the same draws with ``Resimulator.ensemble``."""
    if name == "commercial_stock_days":
        return dataclasses.replace(model, region_stock_days=model.region_stock_days * f)
    if name == "supplier_stock_days":
        return dataclasses.replace(model, node_stock_days=model.node_stock_days * f)
    if name == "price_elasticity_demand":
        return dataclasses.replace(model, elasticity=model.elasticity * f)
    if name == "supply_elasticity":
        return dataclasses.replace(model, supply_elasticity=model.supply_elasticity * f)
    if name == "spare_capacity":
        return dataclasses.replace(model, spare=model.spare * f)
    if name == "price_cap_ratio":  # a cap below the reference price means nothing
        return dataclasses.replace(model, price_cap=max(1.0, model.price_cap * f))
    params = chain.dataset["market_parameters"]
    substitution = market_parameter(params, model.mineral, "substitution_elasticity").value
    price = model.price_usd_t
    if name == "substitution_elasticity":
        substitution = substitution * f
    elif name == "price_to_basis_factor":
        price = price * f
    else:
        raise KeyError(name)
    if model.exposure is None or not np.isfinite(price):
        return dataclasses.replace(model, price_usd_t=price)
    us_t_year = float(model.demand[REGIONS.index("USA")]) * MONTHS_PER_YEAR
    exposure = io_exposure(
        chain.dataset,
        model.mineral,
        parents_of_dataset(chain.dataset),
        value_usd=us_t_year * price,
        substitution=substitution,
    )
    return dataclasses.replace(model, price_usd_t=price, exposure=exposure)


def minor_share(needs: pd.DataFrame, mineral: str) -> float:
    """The share of a mineral's need that is not its largest element's (e.g. Dy + Tb)."""
    mine = needs[needs["mineral"] == mineral]["share"].astype(float)
    return float(mine.sum() - mine.max()) if len(mine) > 1 else 0.0


def scaled_split(needs: pd.DataFrame, mineral: str, f: float) -> pd.DataFrame:
    """reserve_needs with a mineral's minor element shares x ``f`` (at most the whole) and
    its largest element taking the rest, so the shares still add up."""
    out = needs.copy()
    pick = out["mineral"] == mineral
    share = out.loc[pick, "share"].astype(float)
    top = share.idxmax()
    minor = share.drop(top)
    scale = min(f, 1.0 / minor.sum()) if minor.sum() > 0 else f
    out.loc[minor.index, "share"] = minor * scale
    out.loc[top, "share"] = share.sum() - float((minor * scale).sum())
    return out


def scaled_conversions(conv: pd.DataFrame, mineral: str, name: str, f: float) -> pd.DataFrame:
    """reserve_conversions with one column of a mineral's rows x ``f`` (a share at most 1)."""
    out = conv.copy()
    pick = out["mineral"] == mineral
    new = out.loc[pick, name].astype(float) * f
    out.loc[pick, name] = new.clip(upper=1.0) if name == "available_share" else new
    return out


class Resimulator:
    """One mineral's chain re-run with the seeds build_ensemble(chain, runs, seed) gave it."""

    def __init__(self, chain: SupplyChain, ens: Ensemble, seed: int) -> None:
        self.chain, self.ens = chain, ens
        self.use = [str(m) for m in ens.shortfall.mineral.values]
        self.spec = planning_scenario(chain, self.use)
        self.parents = parents_of_dataset(chain.dataset)
        self.months = ens.periods * ens.months_per_period
        ((timing_seed, self.chain_seeds),) = seed_streams(seed, 1, len(self.use))
        self.timing = event_timing(
            self.spec, ens.scenarios, self.months, np.random.default_rng(timing_seed)
        )

    def ensemble(self, model: ChainModel) -> Ensemble:
        """The ensemble with ``model``'s mineral re-simulated (others unchanged)."""
        m = model.mineral
        j = self.use.index(m)
        short, ratio = chain_run(
            model,
            self.spec,
            self.parents,
            self.ens.scenarios,
            self.months,
            self.ens.months_per_period,
            np.random.default_rng(self.chain_seeds[j]),
            self.timing,
        )
        short, loss_t, reach = pooled(model, short)  # as build_ensemble counts it
        shortfall = self.ens.shortfall.copy()
        shortfall.loc[{"mineral": m}] = short
        base_price = self.ens.base_price.copy()
        base_price.loc[{"mineral": m}] = model.price_usd_t
        price = self.ens.price.copy()
        price.loc[{"mineral": m}] = ratio * model.price_usd_t
        loss = self.ens.loss_per_t.copy()
        loss.loc[{"mineral": m}] = loss_t
        share = self.ens.us_share
        if share is not None or reach != 1.0:
            share = self.ens.reach().copy()
            share.loc[{"mineral": m}] = reach
        return dataclasses.replace(
            self.ens,
            shortfall=shortfall,
            price=price,
            base_price=base_price,
            loss_per_t=loss,
            us_share=share,
        )


def parameter_sensitivity(
    chain: SupplyChain,
    ens: Ensemble,
    base: dict[str, Any],
    *,
    budget: float,
    seed: int,
    eligibility: Eligibility | None = None,
    time_limit: float = 900.0,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    parameters: Collection[str] | None = None,
    splice: bool = True,
    release_price: str = "market",
) -> list[dict[str, Any]]:
    """One row per (assumed parameter, held mineral): ``budget_share_moved``, the larger share
    of the budget that moves at x0.5 and x1.5 (also ``moved_share``, the name the web page
    reads), and ``flagged`` when it passes 25%. Cases left when ``time_limit`` seconds have
    passed are listed as not re-solved (share and flag None). The re-solves are independent
    and run on the ensemble driver's local pool of ``workers`` processes (1: here); each
    re-solve is deterministic, so the rows do not depend on ``workers``. ``parameters`` keeps
    the cases of those parameter names only (None: every one). ``splice`` (default) rebuilds
    for each case only the blocks of the programme whose data it changes, from a base built
    once per process (critmin.optimize.splice: the same LP as a full build); False builds
    every case in full. ``release_price`` is the base plan's (Accounting.release_price)."""
    started = time.monotonic()
    held = sorted({h["mineral"] for h in base["holdings"] if h["tonnes"] > 1e-6})
    params = chain.dataset["market_parameters"]
    forms = chain.dataset["reserve_forms"]
    needs = chain.dataset["reserve_needs"]
    conversions = chain.dataset["reserve_conversions"]
    cases: list[tuple[str, str, float, str]] = []
    for m in held:
        for name in MARKET:
            try:
                p = market_parameter(params, m, name)
            except KeyError:  # a parameter the mineral does not carry is not varied
                continue
            if _weak(p.source_id, p.estimated):
                cases.append((name, m, p.value, "market_parameters"))
        mine = forms[forms["mineral"] == m]
        if not mine.empty and any(
            _weak(str(s), e) for s, e in zip(mine["source_id"], mine["estimated"], strict=True)
        ):
            for col in FORMS:
                cases.append((col, m, float(mine[col].astype(float).iloc[0]), "reserve_forms"))
        mine_needs = needs[needs["mineral"] == m]
        if len(mine_needs) > 1 and any(
            _weak(str(s), e)
            for s, e in zip(mine_needs["source_id"], mine_needs["estimated"], strict=True)
        ):
            cases.append(("minor_element_share", m, minor_share(needs, m), "reserve_needs"))
        mine_conv = conversions[conversions["mineral"] == m]
        weak = [
            _weak(str(s), e)
            for s, e in zip(mine_conv["source_id"], mine_conv["estimated"], strict=True)
        ]
        if any(weak):
            first = mine_conv[weak].iloc[0]
            for col in CONVERSIONS:
                cases.append((col, m, float(first[col]), "reserve_conversions"))
    if held:
        cases.append(("capital_cost_per_year", "all", CAPITAL_COST_PER_YEAR, "capital"))
    if parameters is not None:
        cases = [c for c in cases if c[0] in parameters]
    resim = (
        Resimulator(chain, ens, seed) if any(c[3] == "market_parameters" for c in cases) else None
    )
    context = _Cases(
        uuid.uuid4().hex,
        chain,
        ens,
        budget,
        eligibility,
        forms,
        needs,
        conversions,
        resim,
        time.time() + (time_limit - (time.monotonic() - started)),
        splice,
        release_price,
    )
    # the base plan, then each case at x0.5 and x1.5: every re-solve is independent
    items: list[_Item | None] = [None]
    items += [(name, m, table, f) for name, m, _, table in cases for f in FACTORS]
    try:
        spent = list(map_chunks(_solve_case, context, items, Execution(workers=workers), progress))
    finally:
        _forget(context.token)
    base_spend = spent[0]
    assert base_spend is not None  # the base plan is solved before any deadline
    rows: list[dict[str, Any]] = []
    for i, (name, m, value, table) in enumerate(cases):
        row: dict[str, Any] = {"parameter": name, "mineral": m, "table": table, "value": value}
        solved = spent[1 + len(FACTORS) * i : 1 + len(FACTORS) * (i + 1)]
        if any(s is None for s in solved):
            rows.append({**row, "budget_share_moved": None, "moved_share": None, "flagged": None})
            continue
        shares = [moved_share(base_spend, s, budget) for s in solved if s is not None]
        share = max(shares)
        rows.append(
            {
                **row,
                "moved_share_low": shares[0],
                "moved_share_high": shares[1],
                "budget_share_moved": share,
                "moved_share": share,
                "flagged": share > FLAG,
            }
        )
    return rows


#: One re-solve: (parameter, mineral, table, factor); None is the base plan.
_Item = tuple[str, str, str, float]


@dataclass(frozen=True)
class _Cases:
    """What every re-solve reads, shipped once to each worker of the ensemble driver."""

    token: str  # names this run's chain models cached on a worker
    chain: SupplyChain
    ens: Ensemble
    budget: float
    eligibility: Eligibility | None
    forms: pd.DataFrame
    needs: pd.DataFrame
    conversions: pd.DataFrame
    resim: Resimulator | None
    deadline: float  # time.time() after which a case is left unsolved
    splice: bool = True  # rebuild only the blocks a case changes (critmin.optimize.splice)
    release_price: str = "market"  # what a sold release earns (Accounting.release_price)

    @property
    def base_case(self) -> CaseInputs:
        """The base plan's inputs; each case replaces what it changes."""
        return CaseInputs(
            self.chain,
            self.forms,
            self.ens,
            self.budget,
            self.eligibility,
            release_price=self.release_price,
        )


#: Chain models built on this process, by (run token, mineral): a mineral's seven market
#: parameters re-simulate from one model.
_MODELS: dict[tuple[str, str], ChainModel] = {}


#: The base programme built on this process, by run token: each case rebuilds only the
#: blocks whose data differ from it (critmin.optimize.splice).
_BASE: dict[str, Built] = {}


def _forget(token: str) -> None:
    for key in [k for k in _MODELS if k[0] == token]:
        del _MODELS[key]
    _BASE.pop(token, None)


def _base(ctx: _Cases) -> Built:
    built = _BASE.get(ctx.token)
    if built is None:
        built = _BASE[ctx.token] = Built.of(ctx.base_case.problem())
    return built


def _solve_case(ctx: _Cases, item: _Item | None) -> dict[str, float] | None:
    """Dollars per lot of the plan with one parameter scaled (None: the base plan); None when
    the deadline has passed before the case starts."""
    if item is None:
        if not ctx.splice:
            return spend_by_lot(ctx.base_case)
        usd = _base(ctx).problem.solve().spent_by_lot
        assert usd is not None
        return _by_lot(usd)
    if time.time() > ctx.deadline:
        return None
    name, m, table, f = item
    capital = CAPITAL_COST_PER_YEAR
    e, forms = ctx.ens, ctx.forms
    needs_case: pd.DataFrame | None = None
    conv_case: pd.DataFrame | None = None
    if table == "reserve_needs":
        needs_case = scaled_split(ctx.needs, m, f)
    elif table == "reserve_conversions":
        conv_case = scaled_conversions(ctx.conversions, m, name, f)
    elif table == "market_parameters":
        assert ctx.resim is not None
        model = _MODELS.get((ctx.token, m))
        if model is None:
            model = _MODELS[(ctx.token, m)] = build_model(ctx.chain, m)
        e = ctx.resim.ensemble(scaled_model(model, ctx.chain, name, f))
    elif table == "reserve_forms":
        forms = forms.copy()
        pick = forms["mineral"] == m
        forms.loc[pick, name] = (forms.loc[pick, name].astype(float) * f).clip(upper=1.0)
    else:
        capital = CAPITAL_COST_PER_YEAR * f
    case = dataclasses.replace(
        ctx.base_case,
        forms=forms,
        ens=e,
        capital=capital,
        needs=needs_case,
        conversions=conv_case,
    )
    return spend_by_lot(case, _base(ctx) if ctx.splice else None)
