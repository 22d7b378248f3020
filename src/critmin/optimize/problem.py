"""The reserve decision as a two-stage stochastic programme (sample-average approximation).

First stage (here and now): purchases ``b`` per lot (mineral and form), quarter and market-impact
tranche, volume ``v`` per candidate agreement and support ``y`` (0..1) per priced project
(critmin.optimize.projects, paid from the budget); ``stock`` is the total bought. Second stage
(per scenario and period): releases ``r`` limited by the stock bought so far and by the
drawdown rate, deliveries of the agreements that are active and of the projects supported,
unmet shortfall ``u`` priced at the loss per tonne. Every tonne added (release, delivery, project
output) covers one tonne of ``Ensemble.shortfall``: for a world-priced mineral that is a pooled
tonne, of which the U.S. share reaches U.S. consumers (critmin.optimize.ensemble); a release
is sold at the scenario's price only up to the U.S. shortfall. A risk-neutral second stage is
built per mineral on cases of identical scenarios (critmin.optimize.cases: exact, and much
smaller); with the CVaR, on every scenario; either way the solution is read back on every scenario.
Objective (docs/reserve.md): purchases at the expected market price of their quarter, raised
by market impact, + carrying cost (storage, insurance, degradation, capital) until sold or the
horizon ends - release revenue at the scenario's disrupted price - the terminal value of the
stock left (the horizon-end price) + agreements' and project support's cost + expected loss
(+ lambda CVaR). With ``Accounting.release_price`` = "reference" both the releases and the
stock left are valued at the reference price (a reserve that does not trade on a shortage).
Expectations and the CVaR weigh scenarios by ``Ensemble.weight`` (uniform when None).

Build, then solve, then read back: :meth:`ReserveProblem.build` returns the linopy model (a
user may add constraints to ``problem.model`` before :meth:`solve`), :meth:`solve` runs HiGHS,
and :class:`Solution` holds labelled arrays and duals. An infeasible model is explained by the
irreducible infeasible set, in the model's own constraint names and labels.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from critmin.economics import storage
from critmin.optimize.cases import Block, group_cases, single
from critmin.optimize.conversion import Conversion
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.floors import floor_supply
from critmin.optimize.partners import Partner
from critmin.optimize.projects import Projects
from critmin.optimize.weights import cvar, expect, weights

linopy.options["semantics"] = "v1"

DEFAULT_BUDGET = 2.5e9


#: Holding-cost columns of reserve_forms, each a fraction of the lot's value per year.
HOLDING_PARTS = ("storage_per_year", "insurance_per_year", "degradation_per_year")
#: Market-impact tranches per lot and quarter (a convex, piecewise-linear purchase cost).
TRANCHES = 4


@dataclass(frozen=True)
class Lots:
    """What the reserve can hold: one row per (mineral, form).

    ``cap_t_per_period`` caps a lot's purchases per period (NaN: no cap) and ``impact_slope``
    is the relative price rise per unit share of the capped market bought (0: none); both come
    from :func:`critmin.optimize.market_impact.impact` in a plan, and are absent in tests that
    build lots by hand."""

    frame: pd.DataFrame  # lot, mineral, form, price_usd_t, holding_per_year, drawdown_per_period

    @classmethod
    def from_table(
        cls, forms: pd.DataFrame, ens: Ensemble, market: pd.DataFrame | None = None
    ) -> Lots:
        rows = forms[forms["mineral"].isin(ens.shortfall.mineral.values)].copy()
        rows["lot"] = rows["mineral"] + ":" + rows["form"]
        base = ens.base_price.to_series()
        rows["price_usd_t"] = rows["price_multiplier"].astype(float) * rows["mineral"].map(base)
        if "holding_cost_per_year" in rows:
            rows["holding_per_year"] = rows["holding_cost_per_year"].astype(float)
        else:
            rows["holding_per_year"] = sum(rows[c].astype(float) for c in HOLDING_PARTS)
        rows["drawdown_per_period"] = np.minimum(
            1.0, rows["drawdown_per_month"].astype(float) * ens.months_per_period
        )
        rows["cap_t_per_period"] = np.nan
        rows["cap_share"] = np.nan
        rows["impact_slope"] = 0.0
        if market is not None:
            got = market.reindex(rows["lot"])
            rows["cap_t_per_period"] = got["cap_t_per_period"].to_numpy(float)
            rows["cap_share"] = got["cap_share"].to_numpy(float)
            rows["impact_slope"] = got["impact_slope"].fillna(0.0).to_numpy(float)
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

    def market_price(self, ens: Ensemble) -> xr.DataArray:
        """The lot's price in each scenario and period: form multiplier x mineral price."""
        of = xr.DataArray(self.frame["mineral"].to_numpy(), coords={"lot": self.index}, dims="lot")
        out: xr.DataArray = ens.price.sel(mineral=of).drop_vars("mineral") * self.column(
            "price_multiplier"
        )
        return out

    def sale_price(self, ens: Ensemble, release_price: str) -> xr.DataArray:
        """(scenario, period, lot) what a tonne the reserve sells earns: the market price, or
        the lot's reference price in every scenario and period (Accounting.release_price)."""
        market = self.market_price(ens)
        if release_price == "market":
            return market
        out: xr.DataArray = xr.zeros_like(market) + self.column("price_usd_t")
        return out

    def horizon_value(self, expected: xr.DataArray, release_price: str) -> xr.DataArray:
        """(lot) the expected price of a tonne left at the horizon (the terminal value a
        purchase is credited with): the last period of ``expected`` (:meth:`expected_price`,
        which the caller holds), or the reference."""
        if release_price == "market":
            out: xr.DataArray = expected.isel(period=-1, drop=True)
            return out
        return self.column("price_usd_t")

    def expected_price(self, ens: Ensemble) -> xr.DataArray:
        """(period, lot) the lot's expected price: the first-stage purchase price. A reduced
        ensemble carries its full ensemble's mean (``Ensemble.mean_price``)."""
        mean = ens.mean_price if ens.mean_price is not None else expect(ens.price, weights(ens))
        of = xr.DataArray(self.frame["mineral"].to_numpy(), coords={"lot": self.index}, dims="lot")
        out: xr.DataArray = mean.sel(mineral=of).drop_vars("mineral") * self.column(
            "price_multiplier"
        )
        return out

    def tranches(self) -> tuple[xr.DataArray, xr.DataArray]:
        """Per (lot, tranche): the tranche's size in t per period (inf where uncapped) and its
        marginal price multiplier. A purchase q of a capped market Q raises the price paid on
        all of it by ``slope x q / Q``: cost p q (1 + slope q / Q), whose marginal
        p (1 + 2 slope q / Q) is taken at each tranche's midpoint."""
        cap = self.frame["cap_t_per_period"].to_numpy(float)
        slope = self.frame["impact_slope"].to_numpy(float)
        mid = (np.arange(TRANCHES) + 0.5) / TRANCHES
        capped = np.isfinite(cap)
        size = np.where(capped[:, None], cap[:, None] / TRANCHES, np.inf) * np.ones(TRANCHES)
        share = np.nan_to_num(self.frame["cap_share"].to_numpy(float), nan=0.0)
        mult = 1.0 + 2.0 * slope[:, None] * share[:, None] * mid[None, :]
        mult = np.where(capped[:, None], mult, 1.0)
        coords = {"lot": self.index, "tranche": np.arange(TRANCHES)}
        return (
            xr.DataArray(size, coords=coords, dims=("lot", "tranche")),
            xr.DataArray(mult, coords=coords, dims=("lot", "tranche")),
        )


@dataclass(frozen=True)
class Agreements:
    """Candidate offtakes and price floors with their per-scenario cost and deliveries.

    ``price_multiplier`` (default 1) converts the chain's price to the price the contract
    refers to (e.g. NdPr oxide against the chain's REO price); ``supply_elasticity`` (default
    0) is the covered producer's response to price (critmin.optimize.floors.floor_supply)."""

    frame: pd.DataFrame

    @classmethod
    def from_table(
        cls,
        candidates: pd.DataFrame,
        ens: Ensemble,
        multipliers: dict[str, float] | None = None,
        elasticity: dict[str, float] | None = None,
    ) -> Agreements:
        """``multipliers`` by ``mineral:form`` (for a candidate's ``form``), ``elasticity``
        by mineral."""
        rows = candidates[candidates["mineral"].isin(ens.shortfall.mineral.values)].copy()
        if multipliers is not None and "form" in rows:
            key = rows["mineral"] + ":" + rows["form"].fillna("").astype(str)
            rows["price_multiplier"] = key.map(multipliers).fillna(1.0).astype(float)
        if elasticity is not None:
            rows["supply_elasticity"] = rows["mineral"].map(elasticity).fillna(0.0).astype(float)
        return cls(rows.reset_index(drop=True))

    @property
    def index(self) -> pd.Index:
        out: pd.Index = pd.Index(self.frame["id"], name="agreement")
        return out

    def _col(self, name: str, default: float) -> xr.DataArray:
        values = (
            pd.to_numeric(self.frame[name]).fillna(default).to_numpy(float)
            if name in self.frame
            else np.full(len(self.frame), default)
        )
        return xr.DataArray(values, coords={"agreement": self.index}, dims="agreement")

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

    def contract_price(self, ens: Ensemble) -> xr.DataArray:
        """The market price the contract refers to: (agreement, scenario, period), USD/t."""
        price = ens.price.sel(
            mineral=xr.DataArray(
                self.frame["mineral"].to_numpy(), coords={"agreement": self.index}, dims="agreement"
            )
        ).drop_vars("mineral", errors="ignore")
        out: xr.DataArray = price * self._col("price_multiplier", 1.0)
        return out

    def unit_cost(self, ens: Ensemble) -> xr.DataArray:
        """Expected cost per t/yr of volume over the horizon (USD): for an offtake, contract
        price minus market price on delivered tonnes; for a floor, E[max(0, floor - price)]."""
        if self.frame.empty:
            return xr.DataArray(np.zeros(0), coords={"agreement": self.index}, dims="agreement")
        price = self.contract_price(ens)
        contract = self._col("contract_price_usd_per_t", 0.0)
        floor = self._col("floor_usd_per_t", 0.0)
        is_floor = xr.DataArray(
            (self.frame["kind"] == "price_floor").to_numpy(),
            coords={"agreement": self.index},
            dims="agreement",
        )
        gap = (floor - price).clip(min=0.0)
        per_t = gap.where(is_floor, contract - price)
        per_period = per_t * self.active(ens) / ens.periods_per_year
        out: xr.DataArray = expect(per_period.sum("period"), weights(ens))
        return out

    def delivers(self, ens: Ensemble) -> xr.DataArray:
        """t delivered per period per t/yr of volume, by (agreement, scenario, period,
        mineral): an offtake its volume; a price floor the output it keeps running, which
        is zero when the covered producer cannot respond to price (floors.floor_supply)."""
        minerals = ens.shortfall.mineral.to_index()
        m = self.frame["mineral"].to_numpy()[:, None] == minerals.to_numpy()[None, :]
        own = xr.DataArray(
            m.astype(float),
            coords={"agreement": self.index, "mineral": minerals},
            dims=("agreement", "mineral"),
        )
        offtake = xr.DataArray(
            (self.frame["kind"] == "offtake").to_numpy(float),
            coords={"agreement": self.index},
            dims="agreement",
        )
        kept = floor_supply(
            self.contract_price(ens),
            self._col("floor_usd_per_t", np.inf),
            self._col("supply_elasticity", 0.0),
        )
        is_floor = (self.frame["kind"] == "price_floor").to_numpy()
        kept = kept * xr.DataArray(is_floor.astype(float), coords={"agreement": self.index})
        out: xr.DataArray = (offtake + kept) * own * self.active(ens) / ens.periods_per_year
        return out.transpose("agreement", "scenario", "period", "mineral")


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


#: Real cost of the money tied up in stock, per year (2.0%, CEA_SDR_2024): defined once, in
#: critmin.economics.storage, where commercial holders discount by it too. Formerly 4%, a
#: critmin assumption; docs/reserve.md reports its sensitivity.
CAPITAL_COST_PER_YEAR = storage.CAPITAL_COST_PER_YEAR


#: The prices a sold release can be credited at (Accounting.release_price).
RELEASE_PRICES = ("market", "reference")


@dataclass(frozen=True)
class Accounting:
    """What the fund's cash flows include besides purchases, holding and loss.

    The default is the textbook stockpile (no capital cost, no release revenue, no terminal
    value: the newsvendor); :meth:`full` is the plan's accounting (docs/reserve.md)."""

    capital_per_year: float = 0.0  # cost of capital, fraction of purchase value per year
    release_revenue: bool = False  # releases are sold (at ``release_price``)
    terminal_value: bool = False  # stock left at the horizon is worth its price then
    #: the price of what the reserve sells, a release or the stock left at the horizon:
    #: "market", the scenario's price (the plan's default), or "reference", the lot's
    #: pre-shock reference price: a reserve that does not profit from the shortage it
    #: answers, so it holds a lot only for the loss it avoids (docs/reserve.md)
    release_price: str = "market"

    def __post_init__(self) -> None:
        if self.release_price not in RELEASE_PRICES:
            raise ValueError(
                f"release price {self.release_price!r}: expected one of {', '.join(RELEASE_PRICES)}"
            )

    @classmethod
    def full(
        cls, capital_per_year: float = CAPITAL_COST_PER_YEAR, release_price: str = "market"
    ) -> Accounting:
        return cls(capital_per_year, True, True, release_price)


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


#: A budget dual closer to 0 than this (USD per USD) is a budget that does not bind.
BINDING_DUAL = 1e-9


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
    limits: dict[str, list[str]] = field(default_factory=dict)  # per lot: binding constraints
    purchases: xr.DataArray | None = None  # (lot, period) t bought
    impact_usd: float = 0.0  # paid above the expected market price because of market impact
    capital_usd: float = 0.0
    release_revenue_usd: float = 0.0  # expected
    terminal_value_usd: float = 0.0  # expected
    spent_by_lot: xr.DataArray | None = None  # (lot) USD paid, market impact included
    partner_funds: xr.DataArray | None = None  # (partner, lot) USD each partner paid
    support: xr.DataArray | None = None  # (project) support level, 0..1
    project_cost_usd: float = 0.0  # paid for project support (from the budget)

    @property
    def budget_binds(self) -> bool:
        """Whether the budget constraint binds: its dual (USD of objective per USD of budget,
        at most 0 for a minimisation) is below ``-BINDING_DUAL``. A budget that does not bind
        has a dual of 0: an extra dollar would not be spent."""
        return self.budget_dual < -BINDING_DUAL

    @property
    def total_cost_usd(self) -> float:
        """Expected net cost to the fund and the economy: purchases + holding + capital +
        agreements + project support - release revenue - terminal value + expected loss."""
        return (
            self.spent_usd
            + self.holding_usd
            + self.capital_usd
            + self.agreement_cost_usd
            + self.project_cost_usd
            - self.release_revenue_usd
            - self.terminal_value_usd
            + self.expected_loss_usd
        )


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
    accounting: Accounting = field(default_factory=Accounting)
    conversion: Conversion | None = None
    partners: tuple[Partner, ...] = ()
    #: build the second stage on per-mineral cases of identical scenarios (exact; only when
    #: risk-neutral: critmin.optimize.cases); False builds it on every scenario
    aggregate: bool = True
    #: capacity the programme may support (critmin.optimize.projects); none by default
    projects: Projects = field(default_factory=Projects.none)
    #: instruments left out (lot names, agreement and project ids): their level is held at 0
    exclude: frozenset[str] = frozenset()
    #: build the second stage of these blocks only (Block.mineral; critmin.optimize.splice
    #: takes the others from a built programme whose blocks read the same data); None: all
    only: frozenset[str] | None = None
    model: linopy.Model = field(init=False)
    blocks: list[Block] = field(init=False, default_factory=list)
    #: after build: (variable, constraint) labels the first stage ends at, and per block built
    #: (by Block.mineral) its [start, end) of variable and of constraint labels
    first_stage: tuple[int, int] = field(init=False, default=(0, 0))
    spans: dict[str, tuple[int, int, int, int]] = field(init=False, default_factory=dict)

    def paths(self) -> Conversion:
        """The conversion in force: as given, or every lot meeting its mineral's shortfall."""
        if self.conversion is not None:
            return self.conversion
        return Conversion.of(
            None,
            self.lots.frame,
            [str(m) for m in self.ensemble.shortfall.mineral.values],
            self.ensemble.months_per_period,
            needs=pd.DataFrame(),
            routes=pd.DataFrame(),
        )

    def _partner_funding(
        self,
        m: linopy.Model,
        cost: linopy.LinearExpression,
        support: linopy.LinearExpression | None = None,
    ) -> linopy.LinearExpression | None:
        """The budget constraint (stock purchases and ``support``, the projects' cost, which
        partners do not fund); with partners, who pays for each lot (``partner_funds``,
        USD by partner and lot: earmarks, cost shares, amounts) and the tonnes their release
        rights hold back (returned, by lot)."""
        if not self.partners:
            total = cost.sum() if support is None else cost.sum() + support
            m.add_constraints(total <= self.budget, name="budget")
            return None
        lots = self.lots
        src = pd.Index([p.country for p in self.partners], name="partner")
        minerals = lots.frame["mineral"].to_numpy()
        allowed = np.array(
            [[not p.earmark or mi in p.earmark for mi in minerals] for p in self.partners]
        )
        f = m.add_variables(
            lower=0,
            upper=xr.DataArray(
                np.where(allowed, np.inf, 0.0), coords=[src, lots.index], dims=("partner", "lot")
            ),
            coords=[src, lots.index],
            name="partner_funds",
        )

        def per(values: list[float]) -> xr.DataArray:
            return xr.DataArray(values, coords=[src], dims="partner")

        m.add_constraints(
            f.sum("lot") <= per([p.amount_usd for p in self.partners]), name="partner_amount"
        )
        share = per([p.cost_share for p in self.partners])
        m.add_constraints(f - share * cost <= 0, name="partner_share")
        us = cost - f.sum("partner")
        m.add_constraints(us >= 0, name="partner_cover")
        total = us.sum() if support is None else us.sum() + support
        m.add_constraints(total <= self.budget, name="budget")
        rights = per([p.release_right for p in self.partners])
        out: linopy.LinearExpression = (f * rights / lots.column("price_usd_t")).sum("partner")
        return out

    def agreement_supply(self, ens: Ensemble | None = None) -> xr.DataArray:
        """t per period per t/yr of volume reaching each need: (agreement, scenario, period,
        need). An agreement on a reserve form takes that form's path (its need, after its
        lead time; nothing if the form has none; the route's capacity is not shared with
        releases: a simplification); one on the chain's price meets the mineral's needs in
        their shares. On ``ens``, by default the problem's ensemble."""
        ens, conv = ens if ens is not None else self.ensemble, self.paths()
        share = conv.share(ens.shortfall.mineral.to_index())
        raw = self.agreements.delivers(ens)
        out: xr.DataArray = xr.dot(raw, share, dim="mineral")
        frame = self.agreements.frame
        if "form" not in frame:
            return out.transpose("agreement", "scenario", "period", "need")
        paths = conv.paths.set_index("lot")
        for _, a in frame.iterrows():
            form = a["form"]
            if not isinstance(form, str) or not form:
                continue
            lot = f"{a['mineral']}:{form}"
            row = out.sel(agreement=a["id"]) * 0.0
            if lot in paths.index and isinstance(paths.loc[lot, "need"], str):
                own = raw.sel(agreement=a["id"], mineral=a["mineral"])
                lag = int(str(paths.loc[lot, "lag"]))
                moved = own.shift(period=lag, fill_value=0.0) if lag else own
                row.loc[{"need": paths.loc[lot, "need"]}] = moved.transpose(*row.dims[:-1])
            out.loc[{"agreement": a["id"]}] = row
        return out.transpose("agreement", "scenario", "period", "need")

    def project_supply(self) -> xr.DataArray:
        """(project, period, need) expected t a project delivers per period at full support:
        its mineral's needs in their shares (critmin.optimize.projects)."""
        ens = self.ensemble
        minerals = ens.shortfall.mineral.to_index()
        share = self.paths().share(minerals)
        into = xr.dot(self.projects.membership(minerals), share, dim="mineral")
        out: xr.DataArray = (self.projects.rate(ens) * into).transpose("project", "period", "need")
        return out

    def need_shortfall(self) -> xr.DataArray:
        """(scenario, period, need) t short of each need."""
        share = self.paths().share(self.ensemble.shortfall.mineral.to_index())
        out: xr.DataArray = xr.dot(self.ensemble.shortfall, share, dim="mineral")
        return out.transpose("scenario", "period", "need")

    def need_loss(self, share: xr.DataArray) -> xr.DataArray:
        """USD lost per t of each need short: its mineral's loss per t."""
        out: xr.DataArray = ((share > 0) * self.ensemble.loss_per_t).sum("mineral")
        return out

    def carry_years(self) -> xr.DataArray:
        """Years from the start of each period to the end of the horizon."""
        ens = self.ensemble
        per = ens.shortfall.period
        return (ens.periods - xr.DataArray(np.arange(ens.periods), coords={"period": per})) / (
            ens.periods_per_year
        )

    def buy_cost(self) -> xr.DataArray:
        """(lot, tranche, period) USD per t bought: the expected price paid x impact +
        carrying cost to the horizon, net of the expected terminal value (the first stage's
        coefficient, the same in every block)."""
        ens, lots, acc = self.ensemble, self.lots, self.accounting
        expected = lots.expected_price(ens)  # (period, lot)
        _, mult = lots.tranches()
        rate = lots.column("holding_per_year") + acc.capital_per_year
        buy = expected * mult + lots.column("price_usd_t") * rate * self.carry_years()
        if acc.terminal_value:
            buy = buy - lots.horizon_value(expected, acc.release_price)
        out: xr.DataArray = buy.transpose("lot", "tranche", "period")
        return out

    def unit_costs(self, ens: Ensemble | None = None) -> dict[str, xr.DataArray]:
        """Per-tonne coefficients of the objective (USD): ``buy`` (lot, tranche, period) the
        expected price paid x impact + carrying cost to the horizon, net of the expected
        terminal value; ``release`` (scenario, period, lot) the credit of a tonne released (its
        price, the carrying cost it no longer incurs, less the terminal value it gives up),
        on ``ens`` (by default the problem's ensemble)."""
        ens = ens if ens is not None else self.ensemble
        lots, acc = self.lots, self.accounting
        market = lots.market_price(ens)  # (scenario, period, lot)
        expected = lots.expected_price(ens)  # (period, lot)
        _, mult = lots.tranches()
        base = lots.column("price_usd_t")
        rate = lots.column("holding_per_year") + acc.capital_per_year
        years = self.carry_years()
        sold = lots.sale_price(ens, acc.release_price)
        terminal = sold.isel(period=-1, drop=True)  # (scenario, lot)
        buy = expected * mult + base * rate * years
        release = xr.zeros_like(market)
        if acc.terminal_value:
            buy = buy - lots.horizon_value(expected, acc.release_price)
        if acc.release_revenue:
            after = years - 1.0 / ens.periods_per_year  # from the end of the period
            release = sold + base * rate * after - (terminal if acc.terminal_value else 0.0)
        return {"buy": buy.transpose("lot", "tranche", "period"), "release": release}

    def build(self) -> linopy.Model:
        """The first stage, then the second stage block by block (critmin.optimize.cases)."""
        ens, lots = self.ensemble, self.lots
        m = linopy.Model(force_dim_names=True)
        per = ens.shortfall.period.to_index()
        lot_idx, agr_idx = lots.index, self.agreements.index
        size, mult = lots.tranches()
        tranche = size.tranche.to_index()
        upper = size.broadcast_like(xr.DataArray(np.zeros(len(per)), coords={"period": per}))
        # a form that meets no U.S. need is never bought (the reserve does not speculate on a
        # price rise, which the terminal value would otherwise reward)
        reach = self.paths().paths.set_index("lot").reindex(lots.index)["need"].notna()
        kept = reach.to_numpy() & ~lots.index.isin(list(self.exclude))
        upper = upper.where(xr.DataArray(kept, coords={"lot": lots.index}), 0.0)
        b = m.add_variables(
            lower=0,
            upper=upper.transpose("lot", "tranche", "period"),
            coords=[lot_idx, tranche, per],
            name="purchase",
        )
        x = m.add_variables(lower=0, coords=[lot_idx], name="stock")
        v = m.add_variables(
            lower=0,
            upper=xr.DataArray(
                np.where(
                    agr_idx.isin(list(self.exclude)),
                    0.0,
                    self.agreements.frame["max_volume_t_per_year"].astype(float).to_numpy(),
                ),
                coords={"agreement": agr_idx},
                dims="agreement",
            ),
            coords=[agr_idx],
            name="volume",
        )
        price = lots.expected_price(ens)  # (period, lot) expected market price
        m.add_constraints(b.sum(("tranche", "period")) - x == 0, name="bought")
        # (lot, period) t bought by each period: one variable, so the per-scenario rows below
        # carry one term for it instead of every earlier purchase
        bought = m.add_variables(lower=0, coords=[lot_idx, per], name="bought_to_date")
        m.add_constraints(bought - b.sum("tranche").cumsum("period") == 0, name="bought_to_date")
        y, support = None, None
        if len(self.projects.frame):
            proj_idx = self.projects.index
            y = m.add_variables(
                lower=0,
                upper=xr.DataArray(
                    np.where(proj_idx.isin(list(self.exclude)), 0.0, 1.0),
                    coords={"project": proj_idx},
                    dims="project",
                ),
                coords=[proj_idx],
                name="support",
            )
            support = (self.projects.cost() * y).sum()
        reserved = self._partner_funding(m, (price * mult * b).sum(("tranche", "period")), support)
        if self.fixed_stock is not None:
            m.add_constraints(
                x == self.fixed_stock.reindex(lot=lot_idx).fillna(0.0), name="fixed_stock"
            )
        if self.fixed_volume is not None and len(agr_idx):
            m.add_constraints(
                v == self.fixed_volume.reindex(agreement=agr_idx).fillna(0.0), name="fixed_volume"
            )
        objective = (self.buy_cost() * b).sum()
        if len(agr_idx):
            objective = objective + (self.agreements.unit_cost(ens) * v).sum()
        if support is not None:
            objective = objective + support
        self.blocks = self.stage_two()
        self.first_stage, self.spans = (m._xCounter, m._cCounter), {}
        loss = None
        for block in self.blocks:
            if self.only is not None and block.mineral not in self.only:
                continue
            start = (m._xCounter, m._cCounter)
            loss, expected = self.part(block).recourse(m, block, bought, v, y, reserved)
            objective = objective + expected
            if block.mineral is not None:
                self.spans[block.mineral] = (start[0], m._xCounter, start[1], m._cCounter)
        if self.risk.weight > 0 and loss is not None:  # one block: every scenario
            scen = ens.shortfall.scenario.to_index()
            w = weights(ens)
            eta = m.add_variables(name="var_eta")
            z = m.add_variables(lower=0, coords=[scen], name="cvar_excess")
            m.add_constraints(z - loss + eta >= 0, name="cvar")
            tail = eta + (z * (w / (1.0 - self.risk.alpha))).sum()
            objective = objective + self.risk.weight * tail
        m.add_objective(objective)
        self.model = m
        return m

    def stage_two(self) -> list[Block]:
        """The second stage's blocks: one per mineral short in any scenario, its identical
        scenarios aggregated (risk-neutral, ``aggregate``), or one block of every scenario."""
        if self.aggregate and self.risk.weight == 0:
            return group_cases(self.ensemble)
        return [single(self.ensemble)]

    def part(self, block: Block) -> ReserveProblem:
        """The programme restricted to a block: its scenarios (cases), and the lots,
        agreements, needs and routes of its mineral."""
        if block.mineral is None:
            return self
        mine = block.mineral
        lots = Lots(self.lots.frame[self.lots.frame["mineral"] == mine].reset_index(drop=True))
        frame = self.agreements.frame
        agreements = Agreements(frame[frame["mineral"] == mine].reset_index(drop=True))
        conv = self.paths()
        routes = conv.routes
        if "mineral" in routes:
            routes = routes[routes["mineral"] == mine].reset_index(drop=True)
        sub = Conversion(
            conv.needs[conv.needs["mineral"] == mine].reset_index(drop=True),
            routes,
            conv.paths[conv.paths["lot"].isin(lots.frame["lot"])].reset_index(drop=True),
            conv.plants[conv.plants["route"].isin(routes.get("route", []))].reset_index(drop=True),
        )
        return ReserveProblem(
            block.ensemble,
            lots,
            agreements,
            budget=self.budget,
            risk=self.risk,
            accounting=self.accounting,
            conversion=sub,
            aggregate=False,
            projects=self.projects.of_mineral(mine),
            exclude=self.exclude,
        )

    def recourse(
        self,
        m: linopy.Model,
        block: Block,
        bought: linopy.Variable,
        v: linopy.Variable,
        y: linopy.Variable | None,
        reserved: linopy.LinearExpression | None,
    ) -> tuple[linopy.LinearExpression, linopy.LinearExpression]:
        """Add this (restricted) programme's second stage to ``m``: releases, unmet need and
        their constraints, named with the block's tag. Returns the loss per scenario (case)
        and the block's expected second-stage cost."""
        ens, lots, w, tag = self.ensemble, self.lots, block.weight, block.tag
        scen = ens.shortfall.scenario.to_index()
        per = ens.shortfall.period.to_index()
        lot_idx, agr_idx = lots.index, self.agreements.index
        # second-stage variables exist only where there is a shortfall to cover (masked
        # elsewhere, as linopy masks sparse combinations instead of filling them); a lot's
        # release at t meets its need at t + lag (its conversion route's lead time)
        conv = self.paths()
        needs = conv.index
        share = conv.share(ens.shortfall.mineral.to_index())  # (mineral, need)
        short = xr.dot(ens.shortfall, share, dim="mineral").transpose("scenario", "period", "need")
        need = short > 0
        u = m.add_variables(lower=0, coords=[scen, per, needs], name=f"unmet{tag}", mask=need)
        loss = (u * self.need_loss(share)).sum(("period", "need"))  # per scenario, USD
        expected = (loss * w).sum()
        supplied = None
        if len(lot_idx):
            path = conv.paths.set_index("lot").reindex(lot_idx)
            lags = path["lag"].fillna(0).astype(int)
            lot_need = xr.DataArray(
                np.zeros((len(scen), len(per), len(lot_idx)), dtype=bool),
                coords=[scen, per, lot_idx],
            )
            for j, (n, lag) in enumerate(zip(path["need"], lags, strict=True)):
                if isinstance(n, str):
                    ahead = need.sel(need=n).shift(period=-int(lag), fill_value=False)
                    lot_need[:, :, j] = ahead.transpose("scenario", "period").values
            r = m.add_variables(
                lower=0, coords=[scen, per, lot_idx], name=f"release{tag}", mask=lot_need
            )
            mine = bought.sel(lot=lot_idx)
            # releases to date never exceed purchases to date (checked where a release can
            # be), less the tonnes partners may draw
            held = r.fillna(0).cumsum("period") - mine
            if reserved is not None:
                held = held + reserved.sel(lot=lot_idx)
            m.add_constraints(held <= 0, name=f"stock{tag}", mask=lot_need)
            m.add_constraints(
                r - lots.column("drawdown_per_period") * mine <= 0,
                name=f"drawdown{tag}",
                mask=lot_need,
            )
            incidence = xr.DataArray(
                (path["need"].to_numpy()[:, None] == needs.to_numpy()[None, :]).astype(float),
                coords={"lot": lot_idx, "need": needs},
                dims=("lot", "need"),
            )
            for lag in sorted(set(lags)):
                group = lot_idx[(lags == lag).to_numpy()]
                part = r.sel(lot=group)
                if lag:
                    part = part.shift(period=lag)
                term = (part * incidence.sel(lot=group)).sum("lot")
                supplied = term if supplied is None else supplied + term
            if self.accounting.release_revenue and supplied is not None:
                # sold releases earn revenue: never release more than the market lacks, and
                # at the price path taken as given only while the release is small against
                # it: for a world market, at most the U.S. shortfall (the U.S. share of the
                # pooled shortfall a tonne covers; critmin.optimize.ensemble), 1 elsewhere
                served = incidence.sum("lot") > 0  # (need) some lot can release into it
                lacks = short
                if ens.us_share is not None and bool((ens.us_share != 1.0).any()):
                    lacks = xr.dot(ens.us_shortfall(), share, dim="mineral")
                m.add_constraints(supplied <= lacks, name=f"release_cap{tag}", mask=need & served)
                expected = expected - (self.unit_costs(ens)["release"] * w * r).sum()
            caps = conv.capacity_by_period(ens.months_per_period, per)  # plants count from start
            for route in caps.route.values:
                on = lot_idx[(path["route"] == route).to_numpy()]
                if len(on):
                    m.add_constraints(
                        r.sel(lot=on).sum("lot") <= caps.sel(route=route, drop=True),
                        name=f"conversion_{len(m.constraints)}",
                        mask=lot_need.sel(lot=on).any("lot"),
                    )
        if len(agr_idx):
            term = (v.sel(agreement=agr_idx) * self.agreement_supply(ens)).sum("agreement")
            supplied = term if supplied is None else supplied + term
        if y is not None and len(self.projects.frame):
            term = (y.sel(project=self.projects.index) * self.project_supply()).sum("project")
            supplied = term if supplied is None else supplied + term
        cover = u if supplied is None else u + supplied
        m.add_constraints(cover >= short, name=f"shortfall{tag}", mask=need)
        return loss, expected

    def solve(self, **options: float | int | str | bool) -> Solution:
        """Solve with HiGHS; raise :class:`Infeasible` naming the conflicting constraints."""
        m = self.model
        # linopy logs a failed solve as a multi-line warning; Infeasible says it in one line
        linopy_log = logging.getLogger("linopy")
        level = linopy_log.level
        linopy_log.setLevel(logging.ERROR)
        with quiet_stdout():
            try:
                status, condition = m.solve(
                    solver_name="highs",
                    io_api="direct",
                    output_flag=False,
                    **options,  # type: ignore[arg-type]
                )
            finally:
                linopy_log.setLevel(level)
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

    def second_stage(self) -> dict[str, xr.DataArray]:
        """The solved second stage on the problem's scenarios, whatever the blocks: ``release``
        (scenario, period, lot), ``unmet`` and ``dual`` (scenario, period, need), the dual
        being the shortfall row's shadow price, a case's shared between its scenarios by
        probability."""
        m, ens, conv = self.model, self.ensemble, self.paths()
        scen, per = ens.shortfall.scenario, ens.shortfall.period

        def zeros(item: str, index: pd.Index) -> xr.DataArray:
            return xr.DataArray(
                np.zeros((ens.scenarios, ens.periods, len(index))),
                coords={"scenario": scen, "period": per, item: index},
                dims=("scenario", "period", item),
            )

        out = {
            "release": zeros("lot", self.lots.index),
            "unmet": zeros("need", conv.index),
            "dual": zeros("need", conv.index),
        }
        for block in self.blocks:
            tag = block.tag
            parts: dict[str, tuple[Any, str, bool]] = {
                "release": (m.variables, f"release{tag}", False),
                "unmet": (m.variables, f"unmet{tag}", False),
                "dual": (m.constraints, f"shortfall{tag}", True),
            }
            for key, (family, name, share) in parts.items():
                if name not in family:
                    continue
                raw = family[name].dual if share else family[name].solution
                got = block.expand(raw.fillna(0.0), ens, share=share)
                dim = "lot" if key == "release" else "need"
                out[key].loc[{dim: got[dim].values}] = got.transpose(*out[key].dims).values
        return out

    def read(self) -> Solution:
        m, ens, lots, acc = self.model, self.ensemble, self.lots, self.accounting
        w = weights(ens)
        x = m.variables["stock"].solution.clip(min=0.0)
        b = m.variables["purchase"].solution.clip(min=0.0)
        v = m.variables["volume"].solution
        support = (
            m.variables["support"].solution.clip(0.0, 1.0) if "support" in m.variables else None
        )
        conv = self.paths()
        share = conv.share(ens.shortfall.mineral.to_index())
        stage = self.second_stage()
        u_need = stage["unmet"]
        u = xr.dot(u_need, (share > 0).astype(float), dim="need").transpose(
            "scenario", "period", "mineral"
        )
        r = stage["release"]
        price = lots.expected_price(ens)
        size, mult = lots.tranches()
        base = lots.column("price_usd_t")
        loss = (u_need * self.need_loss(share)).sum(("period", "need"))
        years = self.carry_years()
        after = years - 1.0 / ens.periods_per_year
        bt = b.sum("tranche")
        held = (bt * years).sum("period") - expect((r * after).sum("period"), w)
        holding = float((base * lots.column("holding_per_year") * held).sum())
        capital = float((base * acc.capital_per_year * held).sum())
        spent = float((price * mult * b).sum())
        agreement_cost = float((self.agreements.unit_cost(ens) * v).sum()) if v.size else 0.0
        sold = lots.sale_price(ens, acc.release_price)
        revenue = float(expect((sold * r).sum(("period", "lot")), w))
        left = x - r.sum("period")  # (scenario, lot)
        terminal = float(expect((sold.isel(period=-1, drop=True) * left).sum("lot"), w))
        limits: dict[str, list[str]] = {}
        for lot in lots.index:
            why = []
            cap = size.sel(lot=lot).sum("tranche").item()
            if np.isfinite(cap) and cap > 0:
                full = [
                    int(t)
                    for t in bt.period.values
                    if float(bt.sel(lot=lot, period=t)) >= cap - 1e-6
                ]
                if full:
                    why.append(f"the market-impact cap in periods {full[0]}-{full[-1]}")
            limits[str(lot)] = why
        return Solution(
            stock=x,
            volume=v,
            releases=r,
            unmet=u,
            scenario_loss=loss,
            objective=float(m.objective.value or 0.0),
            budget_dual=float(m.constraints["budget"].dual),
            spent_usd=spent,
            holding_usd=holding,
            agreement_cost_usd=agreement_cost,
            expected_loss_usd=float(expect(loss, w)),
            cvar_loss_usd=cvar(loss.values, w.values, self.risk.alpha),
            duals={"budget": m.constraints["budget"].dual, "shortfall": stage["dual"]},
            limits=limits,
            purchases=bt,
            impact_usd=float((price * (mult - 1.0) * b).sum()),
            capital_usd=capital,
            release_revenue_usd=revenue if acc.release_revenue else 0.0,
            terminal_value_usd=terminal if acc.terminal_value else 0.0,
            spent_by_lot=(price * mult * b).sum(("tranche", "period")),
            partner_funds=(
                m.variables["partner_funds"].solution.clip(min=0.0) if self.partners else None
            ),
            support=support,
            project_cost_usd=float((self.projects.cost() * support).sum())
            if support is not None
            else 0.0,
        )
