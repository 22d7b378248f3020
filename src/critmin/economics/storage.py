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

**The regime's declared path** (``stock_rule = "storage_path"``). A month whose gap the
scenario declares to move (a licensing
regime's approval path: ``critmin.simulate.shocks.Shocks.gap_path``, the blocked share of the
active events in each of the next L months over this month's) is solved on that path: holders
expect the gap ``g·r_k`` (at most 1) ``k`` months ahead while the disruption lasts, the last
ratio for good. From month L on the policy is the stationary one at the path's last gap (read
from this hazard's table by linear interpolation in the gap); the months before it are solved
backward from it, one endogenous-grid step a month, down to this month's policy
(:func:`path_release_table`), so ``E_t[P_{t+1}] = h·1 + (1 - h)·P_{t+1}(S - x)`` with
``P_{t+1}`` the next month's price function on the path: the same arbitrage condition
(Deaton & Laroque's eq. (5)), its expectation taken over a known deterministic state path and
a constant hazard of ending rather than over a stationary state. A path that stays at the
month's gap is the stationary policy; at ``h = 1`` the release is still the myopic draw.

Stated simplifications: the holders expect the gap to move in proportion to the blocked share
the scenario declares (they do not foresee the suppliers' response); events that have not
started are not foreseen; the end hazard is constant (a disruption of declared duration ``d``
is read as a hazard ``1/d``); after the disruption stock is not rebuilt (as in the myopic rule).

**One pool per region** (the engine's steps 1 and 4, ``critmin.simulate.kernel``). The state
the policy reads is the market's, not one holder's: a first pass of the month without stock
draws gives each holder's gap at P0 (a plant's input gap, a region's gap); a region's pool is
its consumers' stock plus the plants' input stock attributed to it by where their output can go
this month (the baseline flows' shares along the lanes the month allows), in months of the
region's demand; the policy at the region's gap and pool gives the share ``x / g`` of the gap
that stock covers; each holder then covers that share of its own first-pass gap (a plant, the
mean of its regions' shares weighted by where its output goes), drawing on its own stock. On a
single route the release is then the same whichever holder holds the stock; at ``h = 1``
(no policy row) every holder draws myopically.

The compiled solver and the kernel's lookup are in :mod:`critmin.economics.storage_kernel`
(numba, loaded on first use).
"""

from __future__ import annotations

import math

import numpy as np

from critmin.schema.vocabulary import MONTHS_PER_YEAR

#: The release rules of commercial stock (critmin.simulate.engine step 4): ``myopic`` draws
#: the gap at P0 until the stock is gone (critmin.economics.market.stock_draw); ``storage``
#: releases by the competitive-storage policy of this module, the month's gap expected to last
#: until the disruption ends; ``storage_path`` by the same policy solved along the gap path the
#: active regimes declare (a licensing regime's approval path: below). ``storage_path`` is not
#: the default: under the library's fitted path it clears the April 2025 regime's ex-China
#: price at about x2.4 at most, below the "several times" of the calibration test
#: (tests/simulate/test_calibration.py, docs/criticality.md §3).
STOCK_RULES = ("myopic", "storage", "storage_path")
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


def path_release_table(
    stationary: np.ndarray,
    hazard: float,
    ratios: np.ndarray,
    elasticity: float,
    price_cap: float,
    s_max: float,
    *,
    beta: float = MONTHLY_DISCOUNT,
) -> np.ndarray:
    """The policy (GAP_POINTS gaps, STOCK_POINTS stocks) of a month whose gap holders expect
    to move along a declared path, ``ratios[k]`` times this month's in month ``k + 1`` from
    now (the last for good), from ``stationary``, that hazard's row of :func:`release_table`
    (the module docstring: the regime's approval path)."""
    from critmin.economics.storage_kernel import path_table  # noqa: PLC0415 (numba on first use)

    out: np.ndarray = path_table(
        np.ascontiguousarray(stationary, dtype=np.float64),
        np.ascontiguousarray(ratios, dtype=np.float64),
        float(hazard),
        beta,
        float(elasticity),
        float(price_cap),
        float(s_max),
    )
    return out
