"""A price floor valued on its own: expected fiscal cost E[max(0, floor - P)] x volume, and its
distribution, from the scenarios' price paths."""

from __future__ import annotations

from dataclasses import dataclass

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
) -> FloorValue:
    """``price`` (scenario, period) in USD/t; ``active`` (period) masks the floor's tenor."""
    gap = (floor_usd_per_t - price).clip(min=0.0)
    if active is not None:
        gap = gap * active
    cost = (gap * volume_t_per_year / periods_per_year).sum("period")
    return FloorValue(
        expected_usd=float(cost.mean()),
        p50_usd=float(cost.quantile(0.5)),
        p95_usd=float(cost.quantile(0.95)),
        probability_paid=float((cost > 0).mean()),
        per_scenario=cost,
    )
