"""A price floor valued on its own: expected fiscal cost E[max(0, floor - P)] x volume, and its
distribution, from the scenarios' price paths; and the supply it keeps running.

Supply kept: the covered producer answers price as the criticality model's suppliers do
(critmin.economics.market: constant elasticity, output (P/P0)^e_s), with P0 the floor (the price
at which it runs at the covered volume). Without the floor, output that a price trough shuts is
taken to stay shut for the horizon (a mine or plant closed in a slump does not reopen within
a few quarters: an ASSUMPTION), so its output at t is V x min(1, min_{tau<=t} P/F)^e_s; with
the floor it is V. The floor's supply is the difference: zero when e_s = 0 or the price never
falls below the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class FloorValue:
    expected_usd: float
    p50_usd: float
    p95_usd: float
    probability_paid: float  # share of scenarios in which the floor pays anything
    per_scenario: xr.DataArray  # (scenario) USD over the horizon


def value_floor(
    price: xr.DataArray,
    floor_usd_per_t: float,
    volume_t_per_year: float,
    periods_per_year: float,
    active: xr.DataArray | None = None,
    weight: xr.DataArray | None = None,
) -> FloorValue:
    """``price`` (scenario, period) in USD/t; ``active`` (period) masks the floor's tenor;
    ``weight`` (scenario) the scenario probabilities (None: equally likely)."""
    gap = (floor_usd_per_t - price).clip(min=0.0)
    if active is not None:
        gap = gap * active
    cost = (gap * volume_t_per_year / periods_per_year).sum("period")
    return FloorValue(
        expected_usd=float(cost.mean() if weight is None else (cost * weight).sum()),
        p50_usd=float(cost.quantile(0.5)),
        p95_usd=float(cost.quantile(0.95)),
        probability_paid=float(
            (cost > 0).mean() if weight is None else ((cost > 0) * weight).sum()
        ),
        per_scenario=cost,
    )


def floor_supply(
    price: xr.DataArray, floor: xr.DataArray, elasticity: xr.DataArray
) -> xr.DataArray:
    """Share of the covered volume a floor keeps producing, by the dims of ``price`` (which has
    ``period``): 1 - min(1, running-minimum price / floor) ** elasticity."""
    trough = xr.DataArray(
        np.minimum.accumulate(price.transpose(..., "period").values, axis=-1),
        coords=price.transpose(..., "period").coords,
        dims=price.transpose(..., "period").dims,
    )
    ratio = (trough / floor).clip(max=1.0).fillna(1.0)
    out: xr.DataArray = 1.0 - ratio**elasticity
    return out
