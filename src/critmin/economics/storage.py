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

The compiled solver and the kernel's lookup are in :mod:`critmin.economics.storage_kernel`
(numba, loaded on first use).
"""

from __future__ import annotations

import math

import numpy as np

from critmin.schema.vocabulary import MONTHS_PER_YEAR

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
MONTHLY_DISCOUNT = math.exp(-(CAPITAL_COST_PER_YEAR + STORAGE_COST_PER_YEAR) / MONTHS_PER_YEAR)

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
    from critmin.economics.storage_kernel import table  # noqa: PLC0415 (numba on first use)

    h = np.ascontiguousarray(hazards, dtype=np.float64)
    out: np.ndarray = table(
        h, beta, float(elasticity), float(price_cap), float(s_max), GAP_POINTS, STOCK_POINTS
    )
    return out
