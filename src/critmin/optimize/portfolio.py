"""One portfolio: every instrument valued on the same scenario ensemble, ranked by loss avoided
per dollar. :func:`programme` chooses the stock, agreements and priced projects together in the
reserve LP and values each instrument in it (:func:`in_programme`); :func:`evaluate` values
instruments one at a time against no reserve, as below (the partner commitments and the
projects of undisclosed capex, which are no priced choice).

Instruments: the plan's stockpile lots, the candidate offtakes and price floors
(``reserve_candidates``), and the outlook's instruments (``critmin.outlook.instruments``):
domestic projects (U.S.), partner joint ventures (projects abroad), recycling plants and partner
commitments. Each is valued alone against the ensemble without any reserve: its supply is added
to its mineral's shortfall, scenario by scenario and period by period, and the loss is
recomputed with the same loss per tonne, ``loss = loss_per_t x max(0, shortfall - supply)``.
For a world-priced mineral the shortfall is in pooled tonnes and the loss per tonne is the
U.S. share's (critmin.optimize.ensemble): a tonne added anywhere covers the U.S. share of a
tonne of U.S. shortfall, as the engine's world clearing gives it.

* A stockpile lot releases, in each scenario, as much as the shortfall needs (at most the U.S.
  shortfall, the programme's release cap), within its drawdown rate and what is left (for one
  lot alone, the optimal release); it delivers from the first period. Cost: purchase + holding
  over the horizon (as the LP counts it).
* An offtake delivers its volume from its lead time for its tenor; cost: the expected
  (contract - market price) on the delivered tonnes (negative when the contract is cheaper).
* A price floor keeps a producer of its volume running: without it, the producer stops the first
  period the market price falls below the floor (taken as the producer's breakeven) and does not
  return within the horizon; so the floor adds supply from that period on, while active.
  Cost: ``E[max(0, floor - P)] x volume`` (critmin.optimize.floors).
* A project or recycling plant delivers its capacity from its lead time (the p50 by default;
  a fraction of the period it starts in) to the horizon, if it is completed at all: the loss is a
  mixture, with its completion probability, of the scenario with and without it. Cost: its
  disclosed capex (paid whether it completes or not); undisclosed capex means no ratio.
* A partner commitment delivers its committed volume from the first period (a treaty term, not
  priced: no ratio).

Ratios: expected loss avoided per dollar, and tail loss avoided per dollar, the tail being
CVaR_95 of the total scenario loss (every mineral) without minus with the instrument. Ranked by
the expected ratio; an instrument whose expected cost is not positive but which avoids loss ranks
first (it pays for itself), unpriced instruments last. Undiscounted USD over the horizon, as
in the LP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.floors import value_floor
from critmin.optimize.plan import carrying, reserve_problem
from critmin.optimize.problem import ReserveProblem, Risk, Solution
from critmin.optimize.projects import Projects, delivering
from critmin.optimize.weights import cvar, expect, weights

TAIL_ALPHA = 0.95
LEAD_QUANTILES = ("p10", "p50", "p90")
#: The instrument classes; the first three are co-optimised in the reserve LP.
STOCK, OFFTAKE, FLOOR = "stockpile lot", "offtake", "price floor"
DOMESTIC, PARTNER_JV = "domestic project support", "partner joint venture"
RECYCLING, COMMITMENT = "recycling capacity", "partner commitment"
PROJECT_KINDS = (DOMESTIC, PARTNER_JV, RECYCLING)
#: Choices of the programme (a project only when its capex is disclosed).
IN_LP = frozenset({STOCK, OFFTAKE, FLOOR, *PROJECT_KINDS})
DOMESTIC_COUNTRY = "USA"

COLUMNS = [
    "id",
    "instrument",
    "mineral",
    "stage",
    "country",
    "in_lp",
    "size",
    "size_unit",
    "lead_time_years",
    "end_years",
    "completion_probability",
    "cost_usd",
    "cost_basis",
    # stock lots: price (USD/t), holding (fraction/yr), drawdown (fraction/period)
    "price_usd_t",
    "holding_per_year",
    "drawdown_per_period",
    # floors and offtakes: USD/t
    "floor_usd_per_t",
    "contract_price_usd_per_t",
    "lead_time_p10_years",
    "lead_time_p90_years",
    "source_id",
]


@dataclass(frozen=True)
class Valued:
    """An instrument's value on the ensemble."""

    expected_avoided_usd: float
    tail_avoided_usd: float
    cost_usd: float
    delivered_t: float  # expected t delivered into shortfall over the horizon


def stock_lots(stock: xr.DataArray, lots: pd.DataFrame) -> pd.DataFrame:
    """The plan's lots (``stock`` t per lot; ``lots`` as critmin.optimize.problem.Lots.frame)
    bought in any amount, as instruments."""
    rows = []
    for _, lot in lots.iterrows():
        t = float(stock.sel(lot=lot["lot"]))
        if t <= 1e-9:
            continue
        rows.append(
            {
                "id": f"stock:{lot['lot']}",
                "instrument": STOCK,
                "mineral": lot["mineral"],
                "stage": lot.get("stage", ""),
                "country": DOMESTIC_COUNTRY,
                "size": t,
                "size_unit": "t held",
                "lead_time_years": 0.0,
                "end_years": np.inf,
                "completion_probability": 1.0,
                "cost_basis": "purchase at the base price + holding over the horizon",
                "price_usd_t": float(lot["price_usd_t"]),
                "holding_per_year": float(lot["holding_per_year"]),
                "drawdown_per_period": float(lot["drawdown_per_period"]),
                "source_id": lot.get("source_id", ""),
            }
        )
    return _frame(rows)


def agreement_instruments(candidates: pd.DataFrame) -> pd.DataFrame:
    """Candidate offtakes and price floors at their largest offered volume."""
    rows = []
    for _, a in candidates.iterrows():
        floor = a["kind"] == "price_floor"
        rows.append(
            {
                "id": a["id"],
                "instrument": FLOOR if floor else OFFTAKE,
                "mineral": a["mineral"],
                "stage": "",
                "country": a["counterparty"],
                "size": float(a["max_volume_t_per_year"]),
                "size_unit": "t/yr",
                "lead_time_years": float(a["lead_time_years"]),
                "end_years": float(a["lead_time_years"]) + float(a["tenor_years"]),
                "completion_probability": 1.0,
                "cost_basis": "E[max(0, floor - P)] x volume"
                if floor
                else "E[contract - P] x delivered volume",
                "floor_usd_per_t": pd.to_numeric(a["floor_usd_per_t"]),
                "contract_price_usd_per_t": pd.to_numeric(a["contract_price_usd_per_t"]),
                "source_id": a.get("source_id", ""),
            }
        )
    return _frame(rows)


def outlook_instruments(frame: pd.DataFrame, lead: str = "p50") -> pd.DataFrame:
    """The outlook's instruments (critmin.outlook.instruments.COLUMNS), lead time at ``lead``."""
    if lead not in LEAD_QUANTILES:
        raise ValueError(f"lead must be one of {', '.join(LEAD_QUANTILES)}, got {lead!r}")
    rows = []
    for _, r in frame.iterrows():
        if r["kind"] == "partner_commitment":
            kind = COMMITMENT
        elif r["kind"] == "recycling_plant":
            kind = RECYCLING
        else:
            kind = DOMESTIC if r["country"] == DOMESTIC_COUNTRY else PARTNER_JV
        cost = float(r["cost_musd"]) * 1e6
        rows.append(
            {
                "id": r["id"],
                "instrument": kind,
                "mineral": r["mineral"],
                "stage": r["stage"],
                "country": r["country"],
                "size": float(r["capacity_t_per_year"]),
                "size_unit": "t/yr",
                "lead_time_years": float(r[f"lead_time_{lead}_years"]),
                "end_years": np.inf,
                "completion_probability": float(r["completion_probability"]),
                "cost_usd": cost,
                "cost_basis": r["cost_basis"],
                "lead_time_p10_years": float(r["lead_time_p10_years"]),
                "lead_time_p90_years": float(r["lead_time_p90_years"]),
                "source_id": r["source_id"],
            }
        )
    return _frame(rows)


def _frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(list(rows), columns=COLUMNS)
    out["in_lp"] = out["instrument"].isin(IN_LP)
    return out


def supply(ens: Ensemble, row: pd.Series) -> np.ndarray:
    """t an instrument delivers to its mineral by (scenario, period), if it is completed."""
    short = ens.shortfall.sel(mineral=row["mineral"]).transpose("scenario", "period").values
    if row["instrument"] == STOCK:
        # released up to the U.S. shortfall, as the programme's release cap allows
        # (critmin.optimize.problem); for a world market a tonne covers a pooled tonne
        us = ens.us_shortfall().sel(mineral=row["mineral"])
        short = us.transpose("scenario", "period").values
        x = float(row["size"])
        cap = float(row["drawdown_per_period"]) * x
        left = np.full(short.shape[0], x)
        out = np.zeros_like(short)
        for t in range(short.shape[1]):
            out[:, t] = np.minimum(np.minimum(left, cap), short[:, t])
            left -= out[:, t]
        return out
    on = delivering(ens, float(row["lead_time_years"]), float(row["end_years"]))
    rate = float(row["size"]) / ens.periods_per_year * on  # (period,)
    if row["instrument"] == FLOOR:
        price = ens.price.sel(mineral=row["mineral"]).transpose("scenario", "period").values
        exited = np.minimum.accumulate(price, axis=1) < float(row["floor_usd_per_t"])
        return exited * rate[None, :]
    return np.broadcast_to(rate, short.shape).copy()


def cost(ens: Ensemble, row: pd.Series) -> float:
    """The instrument's expected cost over the horizon, USD (NaN: not priced)."""
    kind = row["instrument"]
    years = ens.periods / ens.periods_per_year
    if kind == STOCK:
        usd = float(row["size"]) * float(row["price_usd_t"])
        return usd * (1.0 + float(row["holding_per_year"]) * years)
    w = weights(ens).values
    on = delivering(ens, float(row["lead_time_years"]), float(row["end_years"]))
    price = ens.price.sel(mineral=row["mineral"]).transpose("scenario", "period")
    if kind == FLOOR:
        active = xr.DataArray(on, coords={"period": price.period}, dims="period")
        fv = value_floor(
            price, float(row["floor_usd_per_t"]), float(row["size"]), ens.periods_per_year, active
        )
        return float(fv.per_scenario.values @ w)
    if kind == OFFTAKE:
        per_t = float(row["contract_price_usd_per_t"]) - price.values
        delivered = float(row["size"]) / ens.periods_per_year * on
        return float(w @ (per_t * delivered[None, :]).sum(axis=1))
    return float(row["cost_usd"])


def value(ens: Ensemble, row: pd.Series, alpha: float = TAIL_ALPHA) -> Valued:
    """Expected and tail (CVaR_alpha of the total loss) loss avoided by one instrument alone."""
    w = weights(ens).values
    total = ens.loss().sum(("period", "mineral")).transpose("scenario").values
    m = row["mineral"]
    short = ens.shortfall.sel(mineral=m).transpose("scenario", "period").values
    loss_t = float(ens.loss_per_t.sel(mineral=m))
    given = supply(ens, row)
    covered = np.minimum(given, short).sum(axis=1)  # t delivered into shortfall, per scenario
    avoided = loss_t * covered
    p = float(row["completion_probability"])
    after = total - avoided
    # completed with probability p, independently of the scenario: a mixture of the two
    mixed = cvar(np.concatenate([after, total]), np.concatenate([p * w, (1 - p) * w]), alpha)
    return Valued(
        expected_avoided_usd=p * float(avoided @ w),
        # the loss is pointwise no higher with the instrument, so its CVaR is no higher: a
        # negative difference is summation round-off (about 1e-15 of the CVaR)
        tail_avoided_usd=max(0.0, cvar(total, w, alpha) - mixed),
        cost_usd=cost(ens, row),
        delivered_t=p * float(covered @ w),
    )


def evaluate(ens: Ensemble, instruments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Value and rank the instruments on the ensemble; also return those left out (a mineral
    the ensemble does not cover) with the reason."""
    minerals = set(ens.shortfall.mineral.values.tolist())
    inside = instruments["mineral"].isin(minerals)
    skipped = instruments.loc[~inside, ["id", "instrument", "mineral"]].assign(
        reason="no U.S. shortfall scenarios for this mineral (no reserve form)"
    )
    rows = []
    for _, row in instruments[inside].iterrows():
        v = value(ens, row)
        rows.append(
            {
                **row.to_dict(),
                "cost_usd": v.cost_usd,
                "expected_loss_avoided_usd": v.expected_avoided_usd,
                "tail_loss_avoided_usd": v.tail_avoided_usd,
                "delivered_into_shortfall_t": v.delivered_t,
            }
        )
    return rank(pd.DataFrame(rows), ens), skipped.reset_index(drop=True)


def rank(out: pd.DataFrame, ens: Ensemble) -> pd.DataFrame:
    """Add the ratios per dollar and rank: those that pay for themselves, then by the expected
    ratio, then the unpriced (by expected loss avoided)."""
    if out.empty:
        return out
    priced = out["cost_usd"].notna() & (out["cost_usd"] > 0)
    out["expected_avoided_per_usd"] = np.where(
        priced, out["expected_loss_avoided_usd"] / out["cost_usd"].where(priced), np.nan
    )
    out["tail_avoided_per_usd"] = np.where(
        priced, out["tail_loss_avoided_usd"] / out["cost_usd"].where(priced), np.nan
    )
    free = out["cost_usd"].notna() & (out["cost_usd"] <= 0) & (out["expected_loss_avoided_usd"] > 0)
    out["pays_for_itself"] = free
    # rank: those that pay for themselves, then by the expected ratio, then the unpriced
    group = np.where(free, 0, np.where(priced, 1, 2))
    key = np.where(priced, -out["expected_avoided_per_usd"].fillna(0.0), 0.0)
    order = np.lexsort((-out["expected_loss_avoided_usd"].to_numpy(), key, group))
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out["unit"] = out["mineral"].map(lambda m: ens.units.get(m, "t"))
    return out


UNITS = {
    "size": "t held (stock) or t/yr (flows), chain basis",
    "lead_time_years": "years from the plan start",
    "cost_usd": "USD over the horizon, undiscounted",
    "expected_loss_avoided_usd": "USD, probability-weighted over the scenarios",
    "tail_loss_avoided_usd": "USD, CVaR_95 of total scenario loss without minus with",
    "expected_avoided_per_usd": "USD of expected loss avoided per USD of cost",
    "tail_avoided_per_usd": "USD of CVaR_95 loss avoided per USD of cost",
    "delivered_into_shortfall_t": "t (chain basis), expected",
}

ASSUMPTIONS = [
    "one programme: stock lots, offtakes, price floors and the priced projects, joint ventures "
    "and recycling plants are chosen together in the reserve LP (risk-neutral, the plan's full "
    "accounting); project support is paid from the same budget as the stock",
    "a held instrument's value is the loss the programme cannot make up without it (re-solved "
    "without it: the others re-optimised); an instrument not held is valued at the margin (the "
    "shortfall rows' duals at the optimum times its supply at full size: a first-order value, "
    "an upper bound, since the programme's value is concave in any instrument's level); a "
    "dual prices the programme's whole objective (loss and the stock's net cost), not the loss "
    "alone",
    "partner commitments (a treaty term) and projects of undisclosed capex are not priced "
    "choices: each is valued alone against no reserve, and two of one mineral do not add up",
    "a project's support level buys that share of its capex and of its output; it delivers its "
    "capacity from its lead time (no ramp-up) to the horizon, times its completion probability "
    "(the expected output; completion is independent of the scenario); its output after the "
    "horizon is not counted; a partner joint venture's whole supported output reaches the "
    "United States; project output meets its mineral's needs in their shares, tonne for tonne "
    "in the chain basis, with no conversion step",
    "a price floor's producer stops the first period the price falls below the floor and "
    "stays out for the horizon (critmin.optimize.floors); offtake and commitment deliveries "
    "are not themselves disrupted",
    "dollars are undiscounted over the horizon, as in the LP",
]

RANKING = (
    "in the one programme: held instruments by leave-one-out re-solves, others by the "
    "shortfall duals (marginal avoided loss); ranked by expected loss avoided per USD"
)


def gather(
    ens: Ensemble,
    stock: xr.DataArray,
    lots: pd.DataFrame,
    candidates: pd.DataFrame,
    outlook: pd.DataFrame | None,
    lead: str = "p50",
) -> pd.DataFrame:
    """Every instrument as one table: the plan's lots, the candidate agreements and the
    outlook's instruments."""
    parts = [stock_lots(stock, lots), agreement_instruments(candidates)]
    if outlook is not None:
        parts.append(outlook_instruments(outlook, lead))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _frame([])
    return pd.concat(parts, ignore_index=True)[COLUMNS]


#: How an instrument was valued in the programme (the ``valued_by`` column).
LEAVE_ONE_OUT = "leave-one-out: the programme re-solved without it"
MARGINAL = "marginal: shortfall duals at the programme's optimum x its supply (an upper bound)"
ALONE = "alone against no reserve (not a priced choice of the programme)"


def projects_of(table: pd.DataFrame, minerals: list[str]) -> Projects:
    """The table's projects, joint ventures and recycling plants the programme may support."""
    rows = table[table["instrument"].isin(PROJECT_KINDS)]
    frame = pd.DataFrame(
        {
            "id": rows["id"].astype(str),
            "instrument": rows["instrument"],
            "mineral": rows["mineral"],
            "capacity_t_per_year": pd.to_numeric(rows["size"]),
            "lead_time_years": pd.to_numeric(rows["lead_time_years"]),
            "completion_probability": pd.to_numeric(rows["completion_probability"]),
            "cost_usd": pd.to_numeric(rows["cost_usd"]),
        }
    )
    return Projects.of(frame, minerals)


def tail_weights(loss: np.ndarray, prob: np.ndarray, alpha: float) -> np.ndarray:
    """d CVaR_alpha / d loss_s: each scenario's share of the tail (weights.cvar's split) over
    1 - alpha; the CVaR's gradient where the tail is unique."""
    order = np.argsort(loss, kind="stable")[::-1]
    p = np.asarray(prob, float)[order]
    tail = 1.0 - alpha
    take = np.clip(tail - (np.cumsum(p) - p), 0.0, p)
    out = np.zeros_like(p)
    out[order] = take / tail
    return out


def in_programme(
    problem: ReserveProblem,
    sol: Solution,
    table: pd.DataFrame,
    alpha: float = TAIL_ALPHA,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Value and rank every instrument of ``table`` (``gather``) in the solved programme
    (``problem`` with ``problem.projects``, its solution ``sol``): an instrument the programme
    holds by the programme re-solved without it (``LEAVE_ONE_OUT``: the loss the others cannot
    make up, at its cost in the plan); one it does not hold by its marginal value at the
    optimum (``MARGINAL``); one that is no priced choice alone (``ALONE``). Also returns those
    of minerals the ensemble does not cover."""
    say = progress or (lambda _msg: None)
    ens = problem.ensemble
    w = weights(ens).to_numpy()
    minerals = set(ens.shortfall.mineral.values.tolist())
    inside = table["mineral"].isin(minerals)
    skipped = table.loc[~inside, ["id", "instrument", "mineral"]].assign(
        reason="no U.S. shortfall scenarios for this mineral (no reserve form)"
    )
    base_tail = cvar(sol.scenario_loss.values, w, alpha)
    grad = tail_weights(sol.scenario_loss.values, w, alpha)
    dual = sol.duals["shortfall"].transpose("scenario", "period", "need")
    short = problem.need_shortfall()
    supply = problem.agreement_supply() if len(problem.agreements.frame) else None
    unit_cost = problem.agreements.unit_cost(ens) if len(problem.agreements.frame) else None
    into = problem.project_supply()
    lot_cost = stock_cost(problem, sol)
    rows = []
    for _, row in table[inside].iterrows():
        kind, key = row["instrument"], str(row["id"])
        rec: dict[str, Any] = {str(k): val for k, val in row.items()}
        if kind == STOCK:
            key = key.removeprefix("stock:")
            level, cost_now = float(sol.stock.sel(lot=key)), float(lot_cost.sel(lot=key))
        elif kind in (OFFTAKE, FLOOR):
            level = float(sol.volume.sel(agreement=key))
            assert unit_cost is not None  # an agreement exists
            cost_now = float(unit_cost.sel(agreement=key)) * level
        elif key in set(into.project.values) and sol.support is not None:
            level = float(sol.support.sel(project=key))
            cost_now = level * float(row["cost_usd"])
        else:  # no priced choice: valued alone, as before
            v = value(ens, row, alpha)
            rec |= _valued(v, ALONE, level=None, in_lp=False)
            rows.append(rec)
            continue
        if level > 1e-6 * max(1.0, float(row["size"])):
            say(f"re-solving the programme without {key}")
            alt = replace(problem, exclude=problem.exclude | {key})
            alt.build()
            other = alt.solve()
            avoided = other.expected_loss_usd - sol.expected_loss_usd
            tail = cvar(other.scenario_loss.values, w, alpha) - base_tail
            unmet = float(
                expect((other.unmet - sol.unmet).sum(("period", "mineral")), weights(ens))
            )
            rec |= _valued(Valued(avoided, tail, cost_now, unmet), LEAVE_ONE_OUT, level, True)
        else:
            size = float(row["size"])
            if kind in (OFFTAKE, FLOOR):
                assert supply is not None
                assert unit_cost is not None
                g = supply.sel(agreement=key) * size  # (scenario, period, need) at full size
                cost_full = float(unit_cost.sel(agreement=key)) * size
            else:
                g = into.sel(project=key)  # (period, need) t at full support
                cost_full = float(row["cost_usd"])
            per_s = (dual * g).sum(("period", "need")).transpose("scenario").to_numpy()
            delivered = g.where(short > 0, 0.0).sum(("period", "need"))
            marginal = Valued(
                float(per_s.sum()),
                float((grad * per_s / np.where(w > 0, w, 1.0)).sum()),
                cost_full,
                float(expect(delivered, weights(ens))),
            )
            rec |= _valued(marginal, MARGINAL, level, True)
        rows.append(rec)
    return rank(pd.DataFrame(rows), ens), skipped.reset_index(drop=True)


def _valued(v: Valued, how: str, level: float | None, in_lp: bool) -> dict[str, Any]:
    return {
        "cost_usd": v.cost_usd,
        "expected_loss_avoided_usd": v.expected_avoided_usd,
        "tail_loss_avoided_usd": v.tail_avoided_usd,
        "delivered_into_shortfall_t": v.delivered_t,
        "level": level,
        "valued_by": how,
        "in_lp": in_lp,
    }


def stock_cost(problem: ReserveProblem, sol: Solution) -> xr.DataArray:
    """(lot) what each lot costs in the plan: paid (market impact included) + holding and
    capital while held (expected, net of releases: critmin.optimize.plan.carrying), USD."""
    paid = sol.spent_by_lot if sol.spent_by_lot is not None else xr.zeros_like(sol.stock)
    out: xr.DataArray = paid + carrying(problem, sol)
    return out


def programme(
    chain: SupplyChain,
    ens: Ensemble,
    budget: float,
    outlook: pd.DataFrame | None,
    lead: str = "p50",
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, ReserveProblem, Solution]:
    """The one programme: the plan's reserve programme (critmin.optimize.plan.reserve_problem,
    risk-neutral) with the outlook's priced projects, joint ventures and recycling plants as
    choices, solved; then every instrument valued and ranked in it (:func:`in_programme`)."""
    say = progress or (lambda _msg: None)
    problem, _ = reserve_problem(chain, ens, budget=budget, risk=Risk())
    outside = outlook_instruments(outlook, lead) if outlook is not None else _frame([])
    minerals = [str(m) for m in ens.shortfall.mineral.values]
    problem = replace(problem, projects=projects_of(outside, minerals))
    say("solving the programme")
    problem.build()
    sol = problem.solve()
    table = gather(
        ens, sol.stock, problem.lots.frame, chain.dataset["reserve_candidates"], outlook, lead
    )
    ranked, skipped = in_programme(problem, sol, table, progress=say)
    return ranked, skipped, problem, sol
