"""Capacity the reserve programme can support: domestic projects, partner joint ventures and
recycling plants (the outlook's instruments, critmin.outlook.instruments) as first-stage
choices of the programme.

A project k has a support level ``y[k]`` in [0, 1]: the programme pays that share of its
disclosed capex (from the budget, the same money as the stock) and receives that share of its
output. Output: its capacity (t/yr, chain basis) from its lead time (a fraction of the period it
starts in, as :func:`delivering` says) to the horizon, times its completion probability (the
expected output: completion is independent of the scenario, so the supply is scaled rather than
drawn; a realised draw would value an uncertain project a little lower, since the loss is convex
in supply). It meets its mineral's U.S. needs in their shares, tonne for tonne in the chain
basis, with no conversion step. A project of unknown capex, or of no capacity, is not a choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from critmin.optimize.ensemble import Ensemble

#: Columns of a projects frame.
COLUMNS = [
    "id",
    "instrument",
    "mineral",
    "capacity_t_per_year",
    "lead_time_years",
    "completion_probability",
    "cost_usd",
]


def delivering(ens: Ensemble, start_years: float, end_years: float = np.inf) -> np.ndarray:
    """The share of each period (period,) in which an instrument delivers: from its lead time
    (a fraction of the period it starts in) until its end."""
    ppy = ens.periods_per_year
    t = np.arange(ens.periods, dtype=float)
    on = np.clip(t + 1 - start_years * ppy, 0.0, 1.0)
    if np.isfinite(end_years):
        on = on - np.clip(t + 1 - end_years * ppy, 0.0, 1.0)
    out: np.ndarray = np.clip(on, 0.0, 1.0)
    return out


@dataclass(frozen=True)
class Projects:
    """Projects the programme may support, one row each (``COLUMNS``)."""

    frame: pd.DataFrame

    @classmethod
    def none(cls) -> Projects:
        return cls(pd.DataFrame(columns=COLUMNS))

    @classmethod
    def of(cls, frame: pd.DataFrame, minerals: list[str]) -> Projects:
        """The priced projects of ``minerals`` with some capacity (the rest are no choice)."""
        cost = pd.to_numeric(frame["cost_usd"], errors="coerce")
        cap = pd.to_numeric(frame["capacity_t_per_year"], errors="coerce")
        ok = frame["mineral"].isin(minerals) & np.isfinite(cost) & (cost > 0) & (cap > 0)
        return cls(frame.loc[ok, COLUMNS].reset_index(drop=True))

    def of_mineral(self, mineral: str) -> Projects:
        return Projects(self.frame[self.frame["mineral"] == mineral].reset_index(drop=True))

    @property
    def index(self) -> pd.Index:
        out: pd.Index = pd.Index(self.frame["id"].astype(str), name="project")
        return out

    def cost(self) -> xr.DataArray:
        """(project) USD at full support."""
        return xr.DataArray(
            self.frame["cost_usd"].to_numpy(float), coords={"project": self.index}, dims="project"
        )

    def rate(self, ens: Ensemble) -> xr.DataArray:
        """(project, period) expected t delivered per period at full support."""
        on = np.array(
            [delivering(ens, float(t)) for t in self.frame["lead_time_years"]], dtype=float
        ).reshape(len(self.frame), ens.periods)
        per = self.frame["capacity_t_per_year"].to_numpy(float) / ens.periods_per_year
        p = self.frame["completion_probability"].to_numpy(float)
        return xr.DataArray(
            on * (per * p)[:, None],
            coords={"project": self.index, "period": ens.shortfall.period},
            dims=("project", "period"),
        )

    def membership(self, minerals: pd.Index) -> xr.DataArray:
        """(project, mineral) 1 where a project is of a mineral."""
        m = self.frame["mineral"].to_numpy()[:, None] == minerals.to_numpy()[None, :]
        return xr.DataArray(
            m.astype(float),
            coords={"project": self.index, "mineral": minerals},
            dims=("project", "mineral"),
        )
