"""The reserve decision as a two-stage stochastic programme (sample-average approximation).

First stage (here and now): stock ``x`` per lot (mineral and form), volume ``v`` per candidate
agreement. Second stage (per scenario and period): releases ``r`` limited by the stock left
and by the drawdown rate, deliveries of the agreements that are active, unmet shortfall ``u``
priced at the loss per tonne. Objective: purchase + holding + expected loss (+ lambda CVaR).

Build, then solve, then read back: :meth:`ReserveProblem.build` returns the linopy model (a
user may add constraints to ``problem.model`` before :meth:`solve`), :meth:`solve` runs HiGHS,
and :class:`Solution` holds labelled arrays and duals. An infeasible model is explained by the
irreducible infeasible set, in the model's own constraint names and labels.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from critmin.optimize.ensemble import Ensemble
from critmin.optimize.reduction import cvar, probability

linopy.options["semantics"] = "v1"

DEFAULT_BUDGET = 2.5e9


@dataclass(frozen=True)
class Lots:
    """What the reserve can hold: one row per (mineral, form)."""

    frame: pd.DataFrame  # lot, mineral, form, price_usd_t, holding_per_year, drawdown_per_period

    @classmethod
    def from_table(cls, forms: pd.DataFrame, ens: Ensemble) -> Lots:
        rows = forms[forms["mineral"].isin(ens.shortfall.mineral.values)].copy()
        rows["lot"] = rows["mineral"] + ":" + rows["form"]
        base = ens.base_price.to_series()
        rows["price_usd_t"] = rows["price_multiplier"].astype(float) * rows["mineral"].map(base)
        rows["holding_per_year"] = rows["holding_cost_per_year"].astype(float)
        rows["drawdown_per_period"] = np.minimum(
            1.0, rows["drawdown_per_month"].astype(float) * ens.months_per_period
        )
        rows = rows[np.isfinite(rows["price_usd_t"]) & (rows["price_usd_t"] > 0)]
        return cls(rows.reset_index(drop=True))

    @property
    def index(self) -> pd.Index:
        out: pd.Index = pd.Index(self.frame["lot"], name="lot")
        return out

    def column(self, name: str) -> xr.DataArray:
        return xr.DataArray(self.frame[name].to_numpy(), coords={"lot": self.index}, dims="lot")

    def membership(self, minerals: pd.Index) -> xr.DataArray:
        """1 where a lot is of a mineral: (lot, mineral)."""
        m = self.frame["mineral"].to_numpy()[:, None] == minerals.to_numpy()[None, :]
        return xr.DataArray(
            m.astype(float),
            coords={"lot": self.index, "mineral": minerals},
            dims=("lot", "mineral"),
        )


@dataclass(frozen=True)
class Agreements:
    """Candidate offtakes and price floors with their per-scenario cost and deliveries."""

    frame: pd.DataFrame

    @classmethod
    def from_table(cls, candidates: pd.DataFrame, ens: Ensemble) -> Agreements:
        rows = candidates[candidates["mineral"].isin(ens.shortfall.mineral.values)]
        return cls(rows.reset_index(drop=True))

    @property
    def index(self) -> pd.Index:
        out: pd.Index = pd.Index(self.frame["id"], name="agreement")
        return out

    def active(self, ens: Ensemble) -> xr.DataArray:
        """1 in the periods an agreement delivers (after its lead time, for its tenor)."""
        ppy = ens.periods_per_year
        t = np.arange(ens.periods)[None, :]
        start = np.round(self.frame["lead_time_years"].astype(float).to_numpy() * ppy)[:, None]
        end = start + np.round(self.frame["tenor_years"].astype(float).to_numpy() * ppy)[:, None]
        on = ((t >= start) & (t < end)).astype(float)
        return xr.DataArray(
            on,
            coords={"agreement": self.index, "period": ens.shortfall.period},
            dims=("agreement", "period"),
        )

    def unit_cost(self, ens: Ensemble) -> xr.DataArray:
        """Expected cost per t/yr of volume over the horizon (USD): for an offtake, contract
        price minus market price on delivered tonnes; for a floor, max(0, floor - price)."""
        if self.frame.empty:
            return xr.DataArray(np.zeros(0), coords={"agreement": self.index}, dims="agreement")
        price = ens.price.sel(
            mineral=xr.DataArray(
                self.frame["mineral"].to_numpy(), coords={"agreement": self.index}, dims="agreement"
            )
        )
        contract = xr.DataArray(
            pd.to_numeric(self.frame["contract_price_usd_per_t"]).fillna(0.0).to_numpy(),
            coords={"agreement": self.index},
            dims="agreement",
        )
        floor = xr.DataArray(
            pd.to_numeric(self.frame["floor_usd_per_t"]).fillna(0.0).to_numpy(),
            coords={"agreement": self.index},
            dims="agreement",
        )
        is_floor = xr.DataArray(
            (self.frame["kind"] == "price_floor").to_numpy(),
            coords={"agreement": self.index},
            dims="agreement",
        )
        gap = (floor - price).clip(min=0.0)
        per_t = gap.where(is_floor, contract - price)
        per_period = per_t * self.active(ens) / ens.periods_per_year
        out: xr.DataArray = (
            per_period.sum("period").weighted(probability(ens)).sum("scenario")
        ).drop_vars("mineral", errors="ignore")
        return out

    def delivers(self, ens: Ensemble) -> xr.DataArray:
        """t delivered per period per t/yr of volume, by (agreement, period, mineral); a price
        floor on its own delivers nothing to the U.S. market."""
        minerals = ens.shortfall.mineral.to_index()
        m = self.frame["mineral"].to_numpy()[:, None] == minerals.to_numpy()[None, :]
        offtake = (self.frame["kind"] == "offtake").to_numpy()[:, None]
        own = xr.DataArray(
            (m & offtake).astype(float),
            coords={"agreement": self.index, "mineral": minerals},
            dims=("agreement", "mineral"),
        )
        return own * self.active(ens) / ens.periods_per_year


@dataclass(frozen=True)
class Risk:
    """lambda * CVaR_alpha of the loss added to the objective (0 = risk-neutral)."""

    alpha: float = 0.95
    weight: float = 0.0

    @classmethod
    def parse(cls, text: str | None) -> Risk:
        """``cvar:ALPHA:LAMBDA`` (e.g. ``cvar:0.95:0.5``) or None."""
        if not text:
            return cls()
        kind, _, rest = text.partition(":")
        alpha, _, weight = rest.partition(":")
        if kind != "cvar" or not alpha or not weight:
            raise ValueError(f"--risk must be cvar:ALPHA:LAMBDA, got {text!r}")
        a, w = float(alpha), float(weight)
        if not 0.0 < a < 1.0 or w < 0.0:
            raise ValueError("--risk: ALPHA must be in (0, 1) and LAMBDA >= 0")
        return cls(a, w)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence the solver's banner, which HiGHS prints from C straight to file descriptor 1."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured)
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


class Infeasible(RuntimeError):
    """The model has no solution; the message names the conflicting constraints."""


@dataclass
class Solution:
    """The solved plan as labelled arrays."""

    stock: xr.DataArray  # (lot) t
    volume: xr.DataArray  # (agreement) t/yr
    releases: xr.DataArray  # (scenario, period, lot) t
    unmet: xr.DataArray  # (scenario, period, mineral) t
    scenario_loss: xr.DataArray  # (scenario) USD
    objective: float
    budget_dual: float
    spent_usd: float
    holding_usd: float
    agreement_cost_usd: float
    expected_loss_usd: float
    cvar_loss_usd: float
    duals: dict[str, xr.DataArray] = field(default_factory=dict)


@dataclass
class ReserveProblem:
    """Build, then solve, then read back."""

    ensemble: Ensemble
    lots: Lots
    agreements: Agreements
    budget: float = DEFAULT_BUDGET
    risk: Risk = field(default_factory=Risk)
    fixed_stock: xr.DataArray | None = None
    fixed_volume: xr.DataArray | None = None
    model: linopy.Model = field(init=False)

    def build(self) -> linopy.Model:
        ens, lots = self.ensemble, self.lots
        m = linopy.Model(force_dim_names=True)
        scen = ens.shortfall.scenario.to_index()
        per = ens.shortfall.period.to_index()
        minerals = ens.shortfall.mineral.to_index()
        lot_idx, agr_idx = lots.index, self.agreements.index
        price = lots.column("price_usd_t")
        x = m.add_variables(lower=0, coords=[lot_idx], name="stock")
        v = m.add_variables(
            lower=0,
            upper=xr.DataArray(
                self.agreements.frame["max_volume_t_per_year"].astype(float).to_numpy(),
                coords={"agreement": agr_idx},
                dims="agreement",
            ),
            coords=[agr_idx],
            name="volume",
        )
        # second-stage variables exist only where there is a shortfall to cover (masked
        # elsewhere, as linopy masks sparse combinations instead of filling them)
        need = ens.shortfall > 0  # (scenario, period, mineral)
        member = lots.membership(minerals)  # (lot, mineral)
        lot_need = ((need.astype(float) * member).sum("mineral") > 0).transpose(
            "scenario", "period", "lot"
        )
        r = m.add_variables(lower=0, coords=[scen, per, lot_idx], name="release", mask=lot_need)
        u = m.add_variables(lower=0, coords=[scen, per, minerals], name="unmet", mask=need)

        m.add_constraints((price * x).sum() <= self.budget, name="budget")
        # the stock is never refilled and only releases draw on it, so the running total of
        # releases peaks at the horizon: one constraint per scenario and lot bounds them all
        m.add_constraints(r.sum("period") - x <= 0, name="stock", mask=lot_need.any("period"))
        m.add_constraints(
            r - lots.column("drawdown_per_period") * x <= 0, name="drawdown", mask=lot_need
        )
        mineral_of_lot = lots.column("mineral").rename("mineral")
        released = r.groupby(mineral_of_lot).sum().reindex(mineral=minerals)
        supplied = released
        if len(agr_idx):
            supplied = supplied + (v * self.agreements.delivers(ens)).sum("agreement")
        m.add_constraints(u + supplied >= ens.shortfall, name="shortfall", mask=need)
        if self.fixed_stock is not None:
            m.add_constraints(
                x == self.fixed_stock.reindex(lot=lot_idx).fillna(0.0), name="fixed_stock"
            )
        if self.fixed_volume is not None and len(agr_idx):
            m.add_constraints(
                v == self.fixed_volume.reindex(agreement=agr_idx).fillna(0.0), name="fixed_volume"
            )

        years = ens.periods / ens.periods_per_year
        holding = price * lots.column("holding_per_year") * years
        loss = (u * ens.loss_per_t).sum(("period", "mineral"))  # per scenario, USD
        prob = probability(ens)
        objective = (price * x).sum() + (holding * x).sum() + (loss * prob).sum()
        if len(agr_idx):
            objective = objective + (self.agreements.unit_cost(ens) * v).sum()
        if self.risk.weight > 0:
            eta = m.add_variables(name="var_eta")
            z = m.add_variables(lower=0, coords=[scen], name="cvar_excess")
            m.add_constraints(z - loss + eta >= 0, name="cvar")
            tail = eta + (z * (prob / (1.0 - self.risk.alpha))).sum()
            objective = objective + self.risk.weight * tail
        m.add_objective(objective)
        self.model = m
        return m

    def solve(self, **options: float | int | str | bool) -> Solution:
        """Solve with HiGHS; raise :class:`Infeasible` naming the conflicting constraints."""
        m = self.model
        with quiet_stdout():
            status, condition = m.solve(
                solver_name="highs",
                io_api="direct",
                output_flag=False,
                **options,  # type: ignore[arg-type]
            )
        if condition == "infeasible" or status != "ok":
            raise Infeasible(self.explain())
        return self.read()

    def explain(self) -> str:
        """The irreducible infeasible set, in constraint families and labels."""
        m = self.model
        try:
            labels = m.compute_infeasibilities()
        except Exception as exc:
            return f"the model is infeasible (no IIS available: {exc})"
        lines = []
        for label in labels[:20]:
            position = m.constraints.get_label_position(label)
            if not isinstance(position, tuple) or position[0] is None:
                continue
            name, where = position
            at = ", ".join(f"{k}={v}" for k, v in dict(where or {}).items())
            lines.append(f"{name}[{at}]" if at else str(name))
        more = f" (+{len(labels) - 20} more)" if len(labels) > 20 else ""
        return "the model is infeasible; these constraints conflict: " + "; ".join(lines) + more

    def read(self) -> Solution:
        m, ens, lots = self.model, self.ensemble, self.lots
        x = m.variables["stock"].solution.clip(min=0.0)
        v = m.variables["volume"].solution
        u = m.variables["unmet"].solution.fillna(0.0)
        price = lots.column("price_usd_t")
        loss = (u * ens.loss_per_t).sum(("period", "mineral"))
        years = ens.periods / ens.periods_per_year
        holding = float((price * lots.column("holding_per_year") * years * x).sum())
        agreement_cost = float((self.agreements.unit_cost(ens) * v).sum()) if v.size else 0.0
        prob = probability(ens)
        return Solution(
            stock=x,
            volume=v,
            releases=m.variables["release"].solution.fillna(0.0),
            unmet=u,
            scenario_loss=loss,
            objective=float(m.objective.value or 0.0),
            budget_dual=float(m.constraints["budget"].dual),
            spent_usd=float((price * x).sum()),
            holding_usd=holding,
            agreement_cost_usd=agreement_cost,
            expected_loss_usd=float((loss * prob).sum()),
            cvar_loss_usd=cvar(loss.values, prob.values, self.risk.alpha),
            duals={name: m.constraints[name].dual for name in ("budget", "shortfall")},
        )
