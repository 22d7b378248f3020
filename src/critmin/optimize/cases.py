"""Exact aggregation of the reserve programme's second stage: per mineral, scenarios whose
second-stage data are identical become one weighted case.

With the first stage fixed, a risk-neutral programme's recourse separates by scenario and
mineral: a lot, a need, a conversion route and an agreement each belong to one mineral, and a
mineral's releases and unmet need in a scenario depend on that scenario only through the
mineral's U.S. shortfall path and price path. Two scenarios with the same two paths have the
same recourse problem, so one copy weighted by their summed probability gives the same optimum
(average any solution over the copies: it stays feasible and costs the same). A scenario with
no shortfall of the mineral has no recourse for it and is left out. The CVaR couples minerals
through each scenario's total loss, so it is not aggregated: the programme then has one block,
every scenario and every mineral.

A :class:`Block` is one mineral's cases as an :class:`Ensemble` of that mineral alone, whose
``scenario`` is the case, with the probability mass of each case (the masses of one mineral sum
to the probability that it is short at all, not to 1, so the programme takes them as they
are). ``mean_price`` keeps the full ensemble's mean (the first-stage prices).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from critmin.optimize.ensemble import Ensemble
from critmin.optimize.weights import expect, weights


@dataclass(frozen=True)
class Block:
    """One part of the second stage: its scenarios (or cases) and their probability masses."""

    mineral: str | None  # None: every mineral, every scenario (not aggregated)
    ensemble: Ensemble  # scenario = case
    weight: xr.DataArray  # (scenario) probability mass of each case
    of: np.ndarray  # (scenario of the source,) the case standing for it; -1: none
    source_weight: np.ndarray  # (scenario of the source,) its probability

    @property
    def tag(self) -> str:
        """Suffix of the block's variable and constraint names ('' for the single block)."""
        return "" if self.mineral is None else f":{self.mineral}"

    def expand(self, values: xr.DataArray, source: Ensemble, share: bool = False) -> xr.DataArray:
        """A (scenario=case, period, item) array on the source's scenarios (0 where a
        scenario has no case). ``share``: a case's total (e.g. a dual, which carries the
        case's probability) split between its scenarios by probability."""
        if self.mineral is None:
            return values
        item = next(str(d) for d in values.dims if d not in ("scenario", "period"))
        data = values.transpose("scenario", "period", item).to_numpy()
        has = self.of >= 0
        out = np.zeros((self.of.size, data.shape[1], data.shape[2]))
        out[has] = data[self.of[has]]
        if share:
            mass = self.weight.to_numpy()[self.of[has]]
            out[has] *= (self.source_weight[has] / mass)[:, None, None]
        return xr.DataArray(
            out,
            coords={
                "scenario": source.shortfall.scenario,
                "period": source.shortfall.period,
                item: values[item].values,
            },
            dims=("scenario", "period", item),
        )


def single(ens: Ensemble) -> Block:
    """The whole ensemble as one block (no aggregation)."""
    w = weights(ens)
    return Block(None, ens, w, np.arange(ens.scenarios), w.to_numpy())


def group_cases(ens: Ensemble) -> list[Block]:
    """Per mineral with any shortfall, the distinct (shortfall path, price path) of the
    scenarios short of it, each weighted by their probability."""
    w = weights(ens).to_numpy()
    mean = ens.mean_price if ens.mean_price is not None else expect(ens.price, weights(ens))
    blocks = []
    for mineral in ens.shortfall.mineral.values:
        one = [mineral]
        short = ens.shortfall.sel(mineral=mineral).transpose("scenario", "period").to_numpy()
        price = ens.price.sel(mineral=mineral).transpose("scenario", "period").to_numpy()
        hit = np.flatnonzero((short > 0).any(axis=1))
        if not hit.size:
            continue
        key = np.concatenate([short[hit], price[hit]], axis=1)
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        of = np.full(ens.scenarios, -1, dtype=np.int64)
        of[hit] = inverse
        rows = hit[first]

        mass = xr.DataArray(
            np.bincount(inverse, weights=w[hit], minlength=rows.size),
            coords={"scenario": np.arange(rows.size)},
            dims="scenario",
        )
        part = replace(
            ens,
            shortfall=_pick(ens.shortfall, one, rows),
            price=_pick(ens.price, one, rows),
            base_price=ens.base_price.sel(mineral=one),
            loss_per_t=ens.loss_per_t.sel(mineral=one),
            consumption=ens.consumption.sel(mineral=one),
            us_share=None if ens.us_share is None else ens.us_share.sel(mineral=one),
            weight=mass,
            mean_price=mean.sel(mineral=one),
        )
        blocks.append(Block(str(mineral), part, mass, of, w))
    return blocks


def _pick(a: xr.DataArray, mineral: list[str], rows: np.ndarray) -> xr.DataArray:
    """The ``rows`` scenarios of ``a`` for ``mineral``, renumbered as cases 0, 1, ..."""
    out: xr.DataArray = (
        a.sel(mineral=mineral).isel(scenario=rows).assign_coords(scenario=np.arange(rows.size))
    )
    return out
