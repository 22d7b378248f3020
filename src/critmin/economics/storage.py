"""Competitive storage: how much commercial stock holders release in a disruption month.

Holders of a stock sell while the price today is at least what a unit held one more month is
worth, ``P_t >= β·E_t[P_{t+1}]``, and hold the rest (the competitive-storage arbitrage
condition: Williams & Wright 1991, *Storage and Commodity Markets*, ch. 2-3; Deaton & Laroque
1992, "On the Behaviour of Commodity Prices", *Review of Economic Studies* 59(1), eq. (5):
``p_t = max(β·E_t p_{t+1}, P(z_t))``, stocks zero when the inequality is strict).

The state the holders see in a disruption month, per unit of the month's demand at the
reference price P0: receipts ``q = 1 - g`` (``g`` the gap, the share of demand lost at P0)
and stock ``S`` (months of demand). Each month the disruption ends with probability ``h``
(then the price is back to P0 for good, and a unit held is worth P0); otherwise the same gap
continues. The price of a month that releases ``x`` is the clearing ratio
``P(q + x) = min((q + x)^(1/ε), cap)`` of :func:`critmin.economics.market.clearing_price`.
The stationary release policy ``x(S)`` solves

    P(q + x) = β·(h·1 + (1 - h)·P(q + x(S - x)))   for 0 < x < min(g, S),
    x = min(g, S)                                  where P(q + min(g, S)) >= β·E[P'],

solved by time iteration on the price function with the endogenous-grid step (Carroll 2006,
*Economics Letters* 91(3)): for each stock carried out ``A`` on the grid, the price today is
``β·E[P' | A]``, the release is the demand at that price less ``q``, and the stock held at the
start is ``A + x``. The release is never more than the gap (holders do not sell the price
below P0: at ``h = 1`` the policy is exactly the myopic draw ``min(g, S)``) and never less
than zero (nobody buys stock at a price expected to fall).

Stated simplifications: the holders expect the gap of the current month to last until the
disruption ends (they do not foresee the suppliers' response or a ramped approval path); the
end hazard is constant (a disruption of declared duration ``d`` is read as a hazard ``1/d``);
after the disruption stock is not rebuilt (as in the myopic rule).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit

F = TypeVar("F", bound=Callable[..., Any])

#: The release rules of commercial stock (critmin.simulate.engine step 4): ``myopic`` draws
#: the gap at P0 until the stock is gone (critmin.economics.market.stock_draw); ``storage``
#: releases by the competitive-storage policy of this module.
STOCK_RULES = ("myopic", "storage")
DEFAULT_STOCK_RULE = "storage"

#: Real cost of the money tied up in stock, per year: prices are constant dollars, so the rate
#: must be real. 2.0%: the federal real discount rate of the 2023 Circular A-4 (a moving average
#: of 10-year Treasury rates; CEA_SDR_2024 in sources.csv). Read by the reserve optimiser
#: (critmin.optimize.problem) and by the holders' discount here.
CAPITAL_COST_PER_YEAR = 0.02
#: Physical carrying cost of commercial stock (warehousing, insurance, handling), share of its
#: value per year. ASSUMPTION (CRITMIN_ASSUMPTION): no sourced figure for minor metals' stocks.
STORAGE_COST_PER_YEAR = 0.03
#: β, the holders' monthly discount including carrying cost: exp(-(capital + storage) / 12).
MONTHLY_DISCOUNT = math.exp(-(CAPITAL_COST_PER_YEAR + STORAGE_COST_PER_YEAR) / 12.0)

#: End hazard (per month) of an open-ended, in-force regime: the exponential maximum-likelihood
#: rate of the library's export-control regimes (scenarios/library/events.yaml) that took
#: effect, ends over months of exposure: 4 ended (China's U.S. ban 2024-12, 11 months;
#: Indonesia's ore ban 2014-01, 36; Zimbabwe's lithium-ore ban 2022-12, 38; the DRC's cobalt
#: suspension 2025-03, 8) in 93 months, and 8 still in force counted to 2026-12 (censored):
#: 251 months; 4 / 344 = 0.0116 a month (mean 86 months). The regimes announced and suspended
#: before they took effect (2025-10/11) are left out. Recomputed from the library by
#: tests/simulate/test_storage.py.
OPEN_REGIME_END_HAZARD = 4.0 / 344.0

#: The policy table's grids: the gap share 0..1 and the stock in months of demand 0..s_max.
GAP_POINTS = 41
STOCK_POINTS = 161


def jit(f: F) -> F:
    """Compiled on first call, cached on disk (as critmin.simulate.kernel)."""
    return cast(F, njit(cache=True, nogil=True)(f))


@jit
def _price(c: float, inv_elasticity: float, cap: float) -> float:
    p: float = max(c, 1e-12) ** inv_elasticity
    return min(max(p, 1.0 / cap), cap)


@jit
def solve_release(
    gap: float,
    hazard: float,
    beta: float,
    elasticity: float,
    cap: float,
    s_max: float,
    points: int,
    tol: float,
    max_iter: int,
) -> Any:
    """Release ``x(S)`` (share of the month's demand) on ``points`` stocks 0..``s_max``
    (months of demand) for one gap and end hazard: the stationary competitive-storage policy
    (module docstring). Returns the array of releases."""
    inv = 1.0 / elasticity
    q = 1.0 - gap
    step = s_max / (points - 1)
    grid = np.empty(points)
    for i in range(points):
        grid[i] = i * step
    x = np.empty(points)
    price = np.empty(points)
    for i in range(points):
        x[i] = min(gap, grid[i])
        price[i] = _price(q + x[i], inv, cap)
    if gap <= 0.0:
        for i in range(points):
            x[i] = 0.0
        return x
    endo_s = np.empty(points)
    endo_x = np.empty(points)
    for _ in range(max_iter):
        # the endogenous-grid step: carry A = grid[j] out; today's price is beta E[P']
        for j in range(points):
            p = beta * (hazard + (1.0 - hazard) * price[j])
            r = gap if p <= 1.0 else min(max(p**elasticity - q, 0.0), gap)
            endo_x[j] = r
            endo_s[j] = grid[j] + r
        change = 0.0
        k = 0
        for i in range(points):
            s = grid[i]
            if s <= endo_s[0]:
                r = s  # too little stock to hold any: all of it is sold
            else:
                while k < points - 2 and endo_s[k + 1] < s:
                    k += 1
                lo, hi = endo_s[k], endo_s[k + 1]
                w = (s - lo) / (hi - lo) if hi > lo else 1.0
                w = min(max(w, 0.0), 1.0)
                r = endo_x[k] + w * (endo_x[k + 1] - endo_x[k])
            r = min(max(r, 0.0), gap, s)
            p_new = _price(q + r, inv, cap)
            change = max(change, abs(p_new - price[i]))
            x[i] = r
            price[i] = p_new
        if change < tol:
            break
    return x


@jit
def _table(
    hazards: Any, beta: float, elasticity: float, cap: float, s_max: float, gaps: int, points: int
) -> Any:
    out = np.zeros((hazards.shape[0], gaps, points))
    for u in range(hazards.shape[0]):
        for i in range(gaps):
            g = i / (gaps - 1)
            out[u, i] = solve_release(
                g, hazards[u], beta, elasticity, cap, s_max, points, 1e-10, 20000
            )
    return out


def release_table(
    hazards: np.ndarray,
    elasticity: float,
    price_cap: float,
    s_max: float,
    *,
    beta: float = MONTHLY_DISCOUNT,
) -> np.ndarray:
    """The policy table (U hazards, GAP_POINTS gaps 0..1, STOCK_POINTS stocks 0..``s_max``
    months of demand): release as a share of the month's demand."""
    h = np.ascontiguousarray(hazards, dtype=np.float64)
    out: np.ndarray = _table(
        h, beta, float(elasticity), float(price_cap), float(s_max), GAP_POINTS, STOCK_POINTS
    )
    return out


@jit
def stored(
    received: float,
    demand: float,
    stock: float,
    table: Any,
    u: int,
    s_max: float,
) -> float:
    """Stock released in a region-month under policy ``table[u]`` (the myopic draw when
    ``u < 0``): the tabulated release at the month's gap share and stock (months of demand),
    interpolated bilinearly, never more than the gap or the stock."""
    gap = max(demand - received, 0.0)
    st = max(stock, 0.0)
    myopic = min(gap, st)
    if u < 0 or myopic <= 0.0 or demand <= 0.0:
        return myopic
    gaps = table.shape[1]
    points = table.shape[2]
    gi = min(gap / demand, 1.0) * (gaps - 1)
    i0 = min(int(gi), gaps - 2)
    fg = gi - i0
    si = min(st / demand, s_max) / s_max * (points - 1)
    j0 = min(int(si), points - 2)
    fs = si - j0
    x: float = (1.0 - fg) * ((1.0 - fs) * table[u, i0, j0] + fs * table[u, i0, j0 + 1]) + fg * (
        (1.0 - fs) * table[u, i0 + 1, j0] + fs * table[u, i0 + 1, j0 + 1]
    )
    return min(max(x * demand, 0.0), myopic)
