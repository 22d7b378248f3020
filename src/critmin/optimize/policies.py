"""The comparison policies' stocks, fitted to what the budget can buy.

A policy is defined by a stock per lot (import-reliance-weighted spend of the budget at the
reference price; 60 days of consumption). It is evaluated on the plan's scenarios at the plan's
purchase prices (expected market price x form multiplier x market-impact tranche, within the
purchase caps over the horizon), where it may cost more than the budget or more than the caps
allow. Such a stock is cut to the caps and scaled down to the budget, never left to make the
evaluation infeasible, and the policy's row says so (``scale``, ``full_cost_usd``, ``note``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from critmin.optimize.problem import ReserveProblem

#: bisection steps on the scale (2**-60: below any budget's rounding)
STEPS = 60
#: The share of the budget a scaled-down policy leaves unspent, so that the evaluation (which
#: fixes the stock and gives the budget row no slack, critmin.optimize.plan._evaluate) is not
#: made infeasible by the solver's rounding of a schedule that costs the budget exactly.
FIT_MARGIN = 1e-6


@dataclass(frozen=True)
class Fitted:
    """A policy's stock as evaluated, and how it departs from its definition."""

    stock: xr.DataArray  # (lot) t bought
    scale: float  # share of the (capped) stock the budget buys (1: all of it)
    full_cost_usd: float | None  # least cost of the defined stock (None: beyond the caps)
    note: str  # why it was cut or scaled ("" when bought as defined)


def purchase_cells(problem: ReserveProblem) -> tuple[np.ndarray, np.ndarray]:
    """Per lot, the plan's purchase cells (period x tranche) sorted by price: their sizes in t
    (0 where the lot may not be bought, inf where uncapped) and USD per t, each (lot, cell)."""
    ens, lots = problem.ensemble, problem.lots
    size, mult = lots.tranches()
    price = lots.expected_price(ens)  # (period, lot)
    per = price.period.size
    reach = problem.paths().paths.set_index("lot").reindex(lots.index)["need"].notna()
    kept = reach.to_numpy() & ~lots.index.isin(list(problem.exclude))
    usd = (price.transpose("lot", "period").values[:, :, None] * mult.values[:, None, :]).reshape(
        len(lots.index), -1
    )
    t = np.broadcast_to(size.values[:, None, :], (len(lots.index), per, size.tranche.size))
    t = np.where(kept[:, None], t.reshape(len(lots.index), -1), 0.0)
    order = np.argsort(usd, axis=1, kind="stable")
    return np.take_along_axis(t, order, axis=1), np.take_along_axis(usd, order, axis=1)


def least_cost(cells: tuple[np.ndarray, np.ndarray], stock: np.ndarray) -> np.ndarray:
    """(lot) the least USD that buys ``stock`` t of each lot in the cheapest cells first; inf
    where the stock exceeds what the cells hold (the purchase caps over the horizon)."""
    size, usd = cells
    before = np.cumsum(size, axis=1) - size  # t the cheaper cells hold
    take = np.clip(stock[:, None] - before, 0.0, size)
    cost = np.where(take > 0, take * usd, 0.0).sum(axis=1)
    return np.where(stock > size.sum(axis=1) * (1 + 1e-12), np.inf, cost)


def fit(problem: ReserveProblem, stock: xr.DataArray) -> Fitted:
    """``stock`` cut to the purchase caps (and to nothing for a form that meets no need) and
    scaled down, in proportion, to the budget at the plan's purchase prices."""
    lots = problem.lots
    want = stock.reindex(lot=lots.index).fillna(0.0).values.astype(float)
    cells = purchase_cells(problem)
    full = float(least_cost(cells, want).sum())
    cap = cells[0].sum(axis=1)
    held = np.minimum(want, cap)
    notes = []
    cut = [str(lot) for lot, w, h in zip(lots.index, want, held, strict=True) if h < w * (1 - 1e-9)]
    if cut:
        notes.append("cut to the purchase caps over the horizon (" + ", ".join(cut) + ")")
    cost = float(least_cost(cells, held).sum())
    budget = problem.budget
    scale = 1.0
    if cost > budget:
        room = budget * (1.0 - FIT_MARGIN)
        lo, hi = 0.0, 1.0
        for _ in range(STEPS):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if least_cost(cells, held * mid).sum() <= room else (lo, mid)
        scale = lo
        why = (
            f"${cost:,.0f} at the plan's purchase prices (market impact included) exceeds the "
            f"${budget:,.0f} budget"
        )
        notes.append(
            f"unaffordable, nothing bought: {why}"
            if scale <= 0
            else f"scaled to {scale:.3g} of it: {why}"
        )
    return Fitted(
        xr.DataArray(held * scale, coords={"lot": lots.index}, dims="lot"),
        scale,
        full if np.isfinite(full) else None,
        "; ".join(notes),
    )
