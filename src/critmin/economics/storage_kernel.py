"""The compiled part of :mod:`critmin.economics.storage` (numba, imported on first use so that
importing the model does not load numba): the policy solver and the per-region-month lookup
the engine's kernel calls. The rule, its parameters and its sources are in that module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit

F = TypeVar("F", bound=Callable[..., Any])


def jit(f: F) -> F:
    """Compiled on first call, cached on disk (as critmin.simulate.kernel)."""
    return cast(F, njit(cache=True, nogil=True)(f))


@jit
def _price(c: float, inv_elasticity: float, cap: float) -> float:
    p: float = max(c, 1e-12) ** inv_elasticity
    return min(max(p, 1.0 / cap), cap)


@jit
def _step(
    price_next: Any,
    gap: float,
    hazard: float,
    beta: float,
    elasticity: float,
    cap: float,
    grid: Any,
    endo_s: Any,
    endo_x: Any,
    x: Any,
    price: Any,
) -> float:
    """One endogenous-grid step (Carroll 2006): from the price function of next month
    ``price_next`` (on the stock carried out, ``grid``), this month's release ``x`` and price
    ``price`` at a gap ``gap`` (written in place; ``price`` may be ``price_next``: it is read
    in full before it is written). Returns the largest change of the price."""
    points = grid.shape[0]
    inv = 1.0 / elasticity
    q = 1.0 - gap
    # carry A = grid[j] out; today's price is beta E[P']
    for j in range(points):
        p = beta * (hazard + (1.0 - hazard) * price_next[j])
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
    return change


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
        change = _step(price, gap, hazard, beta, elasticity, cap, grid, endo_s, endo_x, x, price)
        if change < tol:
            break
    return x


@jit
def table(
    hazards: Any, beta: float, elasticity: float, cap: float, s_max: float, gaps: int, points: int
) -> Any:
    """:func:`solve_release` for each hazard and ``gaps`` gap shares 0..1: (U, gaps, points)."""
    out = np.zeros((hazards.shape[0], gaps, points))
    for u in range(hazards.shape[0]):
        for i in range(gaps):
            g = i / (gaps - 1)
            out[u, i] = solve_release(
                g, hazards[u], beta, elasticity, cap, s_max, points, 1e-10, 20000
            )
    return out


@jit
def path_table(
    stationary: Any,
    ratios: Any,
    hazard: float,
    beta: float,
    elasticity: float,
    cap: float,
    s_max: float,
) -> Any:
    """The release policy (gaps x points, as a row of :func:`table`) of a month whose gap
    holders expect to move along a declared path: at a gap ``g`` this month, ``g·ratios[k]``
    (at most 1) in month ``k + 1`` from now, the last ratio for good, each month ending the
    disruption with probability ``hazard``. From month ``len(ratios)`` on the policy is the
    stationary one, ``stationary`` (that hazard's row of :func:`table`, read at the path's last
    gap by linear interpolation in the gap); the months before are solved backward from it by
    :func:`_step`, one step a month, down to this month's policy."""
    gaps = stationary.shape[0]
    points = stationary.shape[1]
    inv = 1.0 / elasticity
    step = s_max / (points - 1)
    grid = np.empty(points)
    for i in range(points):
        grid[i] = i * step
    out = np.zeros((gaps, points))
    price = np.empty(points)
    x = np.empty(points)
    endo_s = np.empty(points)
    endo_x = np.empty(points)
    horizon = ratios.shape[0]
    for i in range(1, gaps):
        g = i / (gaps - 1)
        # the stationary price function at the path's last gap
        last = min(g * ratios[horizon - 1], 1.0)
        gi = last * (gaps - 1)
        i0 = min(int(gi), gaps - 2)
        f = gi - i0
        for j in range(points):
            r = (1.0 - f) * stationary[i0, j] + f * stationary[i0 + 1, j]
            r = min(max(r, 0.0), last, grid[j])
            price[j] = _price(1.0 - last + r, inv, cap)
        # backward through the path's months, then this month at gap g
        for k in range(horizon - 2, -2, -1):
            gk = g if k < 0 else min(g * ratios[k], 1.0)
            _step(price, gk, hazard, beta, elasticity, cap, grid, endo_s, endo_x, x, price)
        for j in range(points):
            out[i, j] = x[j]
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
