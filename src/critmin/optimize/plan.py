"""The reserve plan: the optimised stock and agreements, their value, release rules, and the
comparison with simple policies on the same scenarios."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.economics.price import form_prices
from critmin.optimize.conversion import Conversion
from critmin.optimize.eligibility import Eligibility
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.floors import value_floor
from critmin.optimize.market_impact import impact
from critmin.optimize.partners import Partner, screen
from critmin.optimize.policies import fit
from critmin.optimize.problem import (
    Accounting,
    Agreements,
    Lots,
    ReserveProblem,
    Risk,
    Solution,
)
from critmin.optimize.reduction import Reduction, report
from critmin.optimize.weights import expect, weights
from critmin.records import json_records
from critmin.schema.vocabulary import DAYS_PER_MONTH, DAYS_PER_YEAR
from critmin.simulate.model import reference_prices_of

COVER_DAYS = 60


@dataclass
class Plan:
    budget_usd: float
    solution: Solution
    holdings: pd.DataFrame
    agreements: pd.DataFrame
    policies: pd.DataFrame
    rules: pd.DataFrame
    ensemble: Ensemble
    risk: Risk
    lots: Lots | None = None
    partners: list[dict[str, Any]] | None = None
    routes: list[dict[str, Any]] | None = None
    #: what a sold release earns (Accounting.release_price)
    release_price: str = "market"

    @property
    def marginal_value_of_budget(self) -> float:
        """USD by which an extra USD of budget lowers the expected loss and the holding and
        capital cost, net of release revenue and terminal value: 1 - (dual of the budget
        constraint) when the budget binds (the extra dollar is spent, and the objective, which
        counts that dollar, falls by -dual); 0 when it does not (the dual is 0 and the extra
        dollar would not be spent, so it avoids nothing)."""
        s = self.solution
        return 1.0 - s.budget_dual if s.budget_binds else 0.0

    def as_json(self) -> dict[str, Any]:
        s = self.solution
        return {
            "budget_usd": self.budget_usd,
            "spent_usd": s.spent_usd,
            "objective": s.objective,
            "expected_loss_usd": s.expected_loss_usd,
            "cvar_loss_usd": s.cvar_loss_usd,
            "marginal_value_of_budget": self.marginal_value_of_budget,
            "budget_dual": s.budget_dual,
            "budget_binds": s.budget_binds,
            "holding_cost_usd": s.holding_usd,
            "capital_cost_usd": s.capital_usd,
            "market_impact_usd": s.impact_usd,
            "release_revenue_usd": s.release_revenue_usd,
            "release_price": self.release_price,
            "terminal_value_usd": s.terminal_value_usd,
            "total_cost_usd": s.total_cost_usd,
            "risk": {"alpha": self.risk.alpha, "lambda": self.risk.weight},
            "scenarios": self.ensemble.scenarios,
            "periods": self.ensemble.periods,
            "months_per_period": self.ensemble.months_per_period,
            "ensemble": self.ensemble.description,
            "holdings": json_records(self.holdings),
            "agreements": json_records(self.agreements),
            "policies": json_records(self.policies),
            "release_rules": json_records(self.rules),
            "partners": self.partners or [],
            "conversion_routes": self.routes or [],
            "units": {
                "tonnes": "t in each chain's reference basis",
                "usd": "USD",
                "days_of_cover": "days of U.S. baseline consumption",
            },
            "assumptions": self.ensemble.assumptions,
        }


def heuristic_stocks(
    chain: SupplyChain, ens: Ensemble, lots: Lots, budget: float
) -> dict[str, xr.DataArray]:
    """The comparison policies' stocks as defined (t per lot): the budget spent at reference
    prices in proportion to net imports, and 60 days of consumption. Each is cut and scaled to
    what the budget buys at the plan's prices when evaluated (critmin.optimize.policies.fit)."""
    frame = lots.frame.drop_duplicates("mineral")
    price = frame["price_usd_t"].to_numpy()
    per_day = ens.consumption.sel(mineral=frame["mineral"].to_numpy()).to_numpy() / (
        ens.months_per_period * DAYS_PER_MONTH
    )
    # net import reliance in the base year of the plan's prices and consumption
    nir = chain.us_nir_base().reindex(mineral=frame["mineral"].to_numpy()).fillna(0.0).to_numpy()
    weight = nir * per_day * DAYS_PER_YEAR  # t/yr of imports net of exports
    spend = (weight * price).sum()
    nir_t = weight * (budget / spend) if spend > 0 else weight * 0
    cover = per_day * COVER_DAYS

    def lots_of(values: np.ndarray) -> xr.DataArray:
        return xr.DataArray(values, coords={"lot": pd.Index(frame["lot"], name="lot")}, dims="lot")

    return {"import reliance": lots_of(nir_t), f"{COVER_DAYS}-day cover": lots_of(cover)}


def _rules(problem: ReserveProblem, sol: Solution) -> pd.DataFrame:
    """Per mineral: release rules simulated on the same scenarios with the optimised stock and
    agreements, without foresight: a declared shock (any U.S. shortfall) or a price band (the
    lowest price ratio at which the optimum released). ``*_net_usd`` is the second-stage cost
    the optimum weighs: loss minus the credit of the tonnes released (their sale price and the
    carrying cost saved, less the terminal value given up)."""
    ens, lots, agreements = problem.ensemble, problem.lots, problem.agreements
    w = weights(ens).values
    credit_all = problem.unit_costs()["release"]
    rows = []
    price_ratio = ens.price / ens.base_price
    delivered = (
        (sol.volume * agreements.delivers(ens)).sum("agreement")
        if len(agreements.frame)
        else xr.zeros_like(ens.base_price)
    )
    for _, lot in lots.frame.iterrows():
        m, x = lot["mineral"], float(sol.stock.sel(lot=lot["lot"]))
        net = ens.shortfall.sel(mineral=m) - delivered.sel(mineral=m)
        short = np.maximum(net.values, 0.0)
        ratio = price_ratio.sel(mineral=m).values
        rel = sol.releases.sel(lot=lot["lot"]).values
        band = float(ratio[rel > 1e-6].min()) if (rel > 1e-6).any() else float("nan")
        loss_t = float(ens.loss_per_t.sel(mineral=m))
        credit = credit_all.sel(lot=lot["lot"]).transpose("scenario", "period").values
        opt_loss = (sol.unmet.sel(mineral=m) * loss_t).sum("period").values
        opt_net = opt_loss - (credit * rel).sum(axis=1)
        for trigger, fire in (
            ("declared supply shock (U.S. shortfall)", short > 1e-9),
            ("price above band", ratio >= (band if np.isfinite(band) else np.inf)),
        ):
            bought = (
                np.cumsum(sol.purchases.sel(lot=lot["lot"]).values)
                if sol.purchases is not None
                else np.full(short.shape[1], x)
            )
            left = np.zeros(short.shape[0])
            unmet = np.zeros_like(short)
            paid = np.zeros(short.shape[0])
            for t in range(short.shape[1]):
                left += bought[t] - (bought[t - 1] if t else 0.0)  # stock arrives as bought
                give = np.where(
                    fire[:, t],
                    np.minimum.reduce(
                        [
                            left,
                            np.full_like(left, lot["drawdown_per_period"] * bought[t]),
                            short[:, t],
                        ]
                    ),
                    0.0,
                )
                left -= give
                paid += credit[:, t] * give
                unmet[:, t] = short[:, t] - give
            loss = unmet.sum(axis=1) * loss_t
            rows.append(
                {
                    "mineral": m,
                    "form": lot["form"],
                    "trigger": trigger,
                    "price_band_ratio": band if trigger.startswith("price") else None,
                    "expected_loss_usd": float((w * loss).sum()),
                    "p95_loss_usd": float(np.quantile(loss, 0.95)),
                    "optimal_expected_loss_usd": float((w * opt_loss).sum()),
                    "expected_net_usd": float((w * (loss - paid)).sum()),
                    "optimal_expected_net_usd": float((w * opt_net).sum()),
                }
            )
    return pd.DataFrame(rows)


def optimise(
    chain: SupplyChain,
    ens: Ensemble,
    *,
    budget: float,
    risk: Risk,
    eligibility: Eligibility | None = None,
    accounting: Accounting | None = None,
    partners: list[Partner] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Solve the reserve problem and the comparison policies on the same scenarios; only the
    forms of minerals the eligibility rule admits (default: the dataset's board rule) are held."""
    say = progress or (lambda _msg: None)
    say("building the optimisation model")
    accepted, refused = screen(chain, partners or [])
    problem, admitted = reserve_problem(
        chain,
        ens,
        budget=budget,
        risk=risk,
        eligibility=eligibility,
        accounting=accounting,
        partners=tuple(accepted),
    )
    lots, agreements, conversion = problem.lots, problem.agreements, problem.paths()
    problem.build()
    say("solving with HiGHS")
    sol = problem.solve()

    base_loss = ens.loss()  # (scenario, period, mineral) without a reserve
    loss_with = sol.unmet * ens.loss_per_t
    rows = []
    paths = conversion.paths.set_index("lot")
    carry = carrying(problem, sol)
    release_share = _release_share(sol.releases, lots.frame, weights(ens))
    for _, lot in lots.frame.iterrows():
        m = lot["mineral"]
        t = float(sol.stock.sel(lot=lot["lot"]))
        usd = float(sol.spent_by_lot.sel(lot=lot["lot"])) if sol.spent_by_lot is not None else 0.0
        per_day = float(ens.consumption.sel(mineral=m)) / (ens.months_per_period * DAYS_PER_MONTH)
        before = base_loss.sel(mineral=m).sum("period")
        after = loss_with.sel(mineral=m).sum("period")
        # the mineral's avoided loss, shared among its lots by their expected releases (a
        # tonne of any of its needs short costs the mineral's loss per tonne)
        share = release_share.sel(lot=lot["lot"]).item()
        avoided = share * float(expect(before - after, weights(ens)))
        before, after = before * share, after * share
        holding = float(carry.sel(lot=lot["lot"]))
        rows.append(
            {
                "mineral": m,
                "form": lot["form"],
                "tonnes": t,
                "usd": usd,
                "days_of_cover": t / per_day if per_day > 0 else None,
                "expected_loss_avoided_usd": avoided,
                "tail_loss_avoided_usd": float(before.quantile(0.95) - after.quantile(0.95)),
                "avoided_loss_per_usd": avoided / (usd + holding) if usd > 0 else None,
                "unit": ens.units.get(m, "t"),
                "eligibility_rule": admitted[m],
                "why": _why(ens, sol, lot, t, avoided, usd + holding, paths.loc[lot["lot"]]),
                "meets": paths.loc[lot["lot"], "need"],
                "conversion_route": paths.loc[lot["lot"], "route"] or None,
            }
        )
    holdings = pd.DataFrame(rows)

    agr = []
    w = weights(ens)
    conv = problem.paths()
    need_short = (ens.shortfall * conv.share(ens.shortfall.mineral.to_index())).sum("mineral")
    supply = problem.agreement_supply() if len(agreements.frame) else xr.DataArray(np.zeros(0))
    active = agreements.active(ens)
    unit_cost = agreements.unit_cost(ens)
    for _, a in agreements.frame.iterrows():
        vol = float(sol.volume.sel(agreement=a["id"]))
        entry = {
            "id": a["id"],
            "kind": a["kind"],
            "mineral": a["mineral"],
            "counterparty": a["counterparty"],
            "volume_t_per_year": vol,
            "max_volume_t_per_year": float(a["max_volume_t_per_year"]),
            "floor_usd_per_t": a["floor_usd_per_t"],
            "contract_price_usd_per_t": a["contract_price_usd_per_t"],
            "tenor_years": float(a["tenor_years"]),
            "start_after_years": float(a["lead_time_years"]),
            "expected_cost_usd": float(unit_cost.sel(agreement=a["id"])) * vol,
            "signed": vol > 1e-6,
        }
        kept = supply.sel(agreement=a["id"]).drop_vars("agreement") * float(
            a["max_volume_t_per_year"]
        )
        spared = kept.where(kept <= need_short, need_short).sum("need") * float(
            ens.loss_per_t.sel(mineral=a["mineral"])
        )
        kept = kept.sum("need")
        entry |= {
            "supply_added_t_at_max_volume": float(expect(kept.sum("period"), w)),
            "expected_loss_avoided_at_max_volume_usd": float(expect(spared.sum("period"), w)),
            "supply_elasticity": float(a.get("supply_elasticity", 0.0)),
        }
        if a["kind"] == "price_floor":
            fv = value_floor(
                agreements.contract_price(ens).sel(agreement=a["id"]),
                float(a["floor_usd_per_t"]),
                float(a["max_volume_t_per_year"]),
                ens.periods_per_year,
                active.sel(agreement=a["id"]),
                weight=w,
            )
            entry |= {
                "floor_expected_cost_at_max_volume_usd": fv.expected_usd,
                "floor_p95_cost_at_max_volume_usd": fv.p95_usd,
                "floor_probability_paid": fv.probability_paid,
            }
        agr.append(entry)

    say("evaluating the comparison policies")
    as_defined = {"scale": None, "full_cost_usd": None, "note": ""}  # not a fitted policy
    policies = [
        {"name": "no reserve", **_evaluate(problem, lots, xr.zeros_like(sol.stock)), **as_defined}
    ]
    for name, stock in heuristic_stocks(chain, ens, lots, budget).items():
        fitted = fit(problem, stock)
        policies.append(
            {
                "name": name,
                **_evaluate(problem, lots, fitted.stock),
                "scale": fitted.scale,
                "full_cost_usd": fitted.full_cost_usd,
                "note": fitted.note,
            }
        )
    policies.append(
        {
            "name": "optimised",
            "expected_loss_usd": sol.expected_loss_usd,
            "cvar_loss_usd": sol.cvar_loss_usd,
            "spent_usd": sol.spent_usd,
            "total_cost_usd": sol.total_cost_usd,
            **as_defined,
        }
    )
    return Plan(
        budget,
        sol,
        holdings,
        pd.DataFrame(agr),
        pd.DataFrame(policies),
        _rules(problem, sol),
        ens,
        risk,
        lots,
        _partners(problem, sol, refused),
        conversion_routes(conversion, ens),
        problem.accounting.release_price,
    )


def conversion_routes(conversion: Conversion, ens: Ensemble) -> list[dict[str, Any]]:
    """Each conversion route with its lead time, its capacity (chain basis, t per period, by
    period) and its plants (status, country, t/yr of product and in the chain basis, start,
    source): the provenance of what a release of one form can meet of another's need."""
    per = ens.shortfall.period.to_index()
    caps = conversion.capacity_by_period(ens.months_per_period, per)
    out = []
    for _, r in conversion.routes.iterrows():
        plants = conversion.plants[conversion.plants["route"] == r["route"]]
        out.append(
            {
                "route": r["route"],
                "element": r["element"] or None,
                "from_stage": r["from_stage"],
                "to_stage": r["to_stage"],
                "lead_time_months": float(r["lead_time_months"]),
                "capacity_t_per_period": [float(v) for v in caps.sel(route=r["route"]).values],
                "plants": json_records(plants.drop(columns="route")),
            }
        )
    return out


def reserve_problem(
    chain: SupplyChain,
    ens: Ensemble,
    *,
    budget: float,
    risk: Risk,
    eligibility: Eligibility | None = None,
    accounting: Accounting | None = None,
    forms: pd.DataFrame | None = None,
    partners: tuple[Partner, ...] = (),
    needs: pd.DataFrame | None = None,
    conversions: pd.DataFrame | None = None,
) -> tuple[ReserveProblem, dict[str, str | None]]:
    """The plan's programme (not yet built) and, per mineral with a form, the eligibility rule
    that admits it (None: not eligible). ``forms``, ``needs`` and ``conversions`` replace the
    dataset's reserve_forms, reserve_needs and reserve_conversions (sensitivity cases)."""
    rule = eligibility if eligibility is not None else Eligibility.of(chain)
    forms = chain.dataset["reserve_forms"] if forms is None else forms
    admitted = rule.admit(chain, sorted(set(forms["mineral"])))
    lots = plan_lots(chain, forms[forms["mineral"].map(admitted).notna()], ens)
    agreements = Agreements.from_table(
        chain.dataset["reserve_candidates"],
        ens,
        multipliers=dict(zip(lots.frame["lot"], lots.frame["price_multiplier"], strict=True)),
        elasticity=supply_elasticities(chain),
    )
    conversion = Conversion.of(
        chain,
        lots.frame,
        [str(m) for m in ens.shortfall.mineral.values],
        ens.months_per_period,
        needs=needs,
        conversions=conversions,
    )
    problem = ReserveProblem(
        ens,
        lots,
        agreements,
        budget=budget,
        risk=risk,
        accounting=accounting or Accounting.full(),
        conversion=conversion,
        partners=partners,
    )
    return problem, admitted


def reduction_report(
    chain: SupplyChain,
    ens: Ensemble,
    reduction: Reduction,
    plan: Plan,
    risk: Risk,
    eligibility: Eligibility,
    partners: list[Partner],
    accounting: Accounting | None = None,
) -> dict[str, float | int | str | None]:
    """The reduction's error: its bound, and the reduced plan's objective on every scenario
    (the plan's own programme on the full ensemble, first stage fixed, releases re-optimised)."""
    accepted, _ = screen(chain, partners)
    problem, _ = reserve_problem(
        chain,
        ens,
        budget=plan.budget_usd,
        risk=risk,
        eligibility=eligibility,
        accounting=accounting,
        partners=tuple(accepted),
    )
    check = replace(problem, fixed_stock=plan.solution.stock, fixed_volume=plan.solution.volume)
    check.build()
    on_full = check.solve().objective
    return report(ens, reduction, check.agreements, risk, plan.solution.objective, on_full)


def supply_elasticities(chain: SupplyChain) -> dict[str, float]:
    """Per mineral: the supply elasticity the criticality model uses (market_parameters)."""
    params = chain.dataset["market_parameters"]
    rows = params[params["parameter"] == "supply_elasticity"]
    return {str(m): float(v) for m, v in zip(rows["mineral"], rows["value"], strict=True)}


def plan_lots(chain: SupplyChain, forms: pd.DataFrame, ens: Ensemble) -> Lots:
    """The lots of ``forms`` as the plan prices them (critmin.economics.price.form_prices: a
    form with ``price_of`` at that mineral's reference price, x its multiplier), with the
    market-impact cap and slope of its stage."""
    forms = forms.copy()
    # one definition with the ledger's market price (critmin.economics.price.form_prices)
    priced = form_prices(forms, reference_prices_of(chain), chain.dataset["market_parameters"])
    forms["price_multiplier"] = [
        priced[str(m), str(f)].multiplier
        for m, f in zip(forms["mineral"], forms["form"], strict=True)
    ]
    return Lots.from_table(forms, ens, impact(chain, forms, ens.months_per_period))


def carrying(problem: ReserveProblem, sol: Solution) -> xr.DataArray:
    """(lot) expected holding and capital cost of each lot over the horizon, USD: from each
    purchase to the horizon, less from each release on."""
    ens, lots = problem.ensemble, problem.lots
    if sol.purchases is None:
        return xr.zeros_like(sol.stock)
    years = problem.carry_years()
    after = years - 1.0 / ens.periods_per_year
    held = (sol.purchases * years).sum("period") - expect(
        (sol.releases * after).sum("period"), weights(ens)
    )
    rate = lots.column("holding_per_year") + problem.accounting.capital_per_year
    out: xr.DataArray = lots.column("price_usd_t") * rate * held
    return out


def _release_share(releases: xr.DataArray, lots: pd.DataFrame, w: xr.DataArray) -> xr.DataArray:
    """(lot) each lot's share of its mineral's expected released tonnes (0 when the mineral
    releases nothing)."""
    by_lot = expect(releases.sum("period"), w).to_series().reindex(lots["lot"], fill_value=0.0)
    mineral = lots.set_index("lot")["mineral"].reindex(by_lot.index)
    total = by_lot.groupby(mineral).transform("sum")
    share = (by_lot / total.where(total > 0)).fillna(0.0)
    return xr.DataArray(share.to_numpy(), coords={"lot": share.index.to_numpy()}, dims="lot")


def _why(
    ens: Ensemble,
    sol: Solution,
    lot: pd.Series,
    tonnes: float,
    avoided: float,
    cost: float,
    path: pd.Series,
) -> str:
    """Why a lot is held (or not): the scenarios it covers, loss avoided per dollar, and the
    constraint that limits it."""
    m = lot["mineral"]
    if not isinstance(path["need"], str):
        return f"not held: {path['reason']}"
    short = (ens.shortfall.sel(mineral=m) > 0).any("period")
    p_short = float(_expect(ens, short.astype(float)))
    if tonnes <= 1e-6:
        return (
            f"not held: a shortfall in {p_short:.0%} of scenarios; a tonne costs more than the "
            "expected loss it would avoid at the margin"
        )
    used = (sol.releases.sel(lot=lot["lot"]) > 1e-6).any("period")
    p_used = float(_expect(ens, used.astype(float)))
    limits = []
    if sol.budget_binds:
        limits.append("the budget binds")
    limits.extend(sol.limits.get(str(lot["lot"]), []))
    return (
        f"covers a shortfall in {p_short:.0%} of scenarios and is released in {p_used:.0%}; "
        f"avoids ${avoided / cost if cost > 0 else 0.0:.2f} of expected loss per dollar; "
        + ("limited by " + ", ".join(limits) if limits else "bought to the optimum, unconstrained")
    )


def _expect(ens: Ensemble, values: xr.DataArray) -> xr.DataArray:
    """The scenario-weighted mean over ``scenario``."""
    return expect(values, weights(ens))


def _partners(problem: ReserveProblem, sol: Solution, refused: list[str]) -> list[dict[str, Any]]:
    """What each partner's money buys (USD and tonnes by lot, at the lot's average price paid),
    the tonnes its release rights hold for it, and the partners refused."""
    out: list[dict[str, Any]] = []
    funds = sol.partner_funds
    for p in problem.partners:
        buys = []
        if funds is not None and sol.spent_by_lot is not None:
            for lot, usd in funds.sel(partner=p.country).to_series().items():
                paid = float(sol.spent_by_lot.sel(lot=lot))
                if usd > 1e-6 and paid > 0:
                    t = float(sol.stock.sel(lot=lot)) * usd / paid
                    buys.append(
                        {
                            "lot": str(lot),
                            "usd": float(usd),
                            "tonnes": t,
                            "held_for_partner_t": t * p.release_right,
                        }
                    )
        out.append(
            {
                "partner": p.country,
                "contribution_usd": p.amount_usd,
                "earmark": list(p.earmark),
                "cost_share": p.cost_share,
                "release_right": p.release_right,
                "spent_usd": sum(b["usd"] for b in buys),
                "buys": buys,
                "status": "accepted",
            }
        )
    out += [{"partner": r.split(":")[0], "status": "refused", "reason": r} for r in refused]
    return out


def _evaluate(problem: ReserveProblem, lots: Lots, stock: xr.DataArray) -> dict[str, float]:
    """Loss on the same scenarios with the stock fixed (and no agreements), releases optimal.
    ``stock`` is one the budget buys within the purchase caps (critmin.optimize.policies.fit):
    its least-cost schedule costs at most the budget, so the budget row is the plan's, with no
    slack. (A dollar and 1e-9 of slack here let the programme pick a dearer schedule for the
    same stock (one that lowers its other costs) and overspend by exactly that slack.)"""
    stock = stock.reindex(lot=lots.index).fillna(0.0)
    fixed = ReserveProblem(
        problem.ensemble,
        lots,
        Agreements(problem.agreements.frame.iloc[0:0]),
        budget=problem.budget,
        risk=problem.risk,
        fixed_stock=stock,
        accounting=problem.accounting,
        conversion=problem.conversion,
    )
    fixed.build()
    sol = fixed.solve()
    return {
        "expected_loss_usd": sol.expected_loss_usd,
        "cvar_loss_usd": sol.cvar_loss_usd,
        "spent_usd": sol.spent_usd,
        "total_cost_usd": sol.total_cost_usd,
    }
