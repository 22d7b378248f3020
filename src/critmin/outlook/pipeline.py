"""The project pipeline as arrays: one row per project, phase durations and pass chances.

Lead times are phase by phase (``lead_times``): a lognormal duration (median, 90th percentile)
and the chance of passing each phase. A project in a given status still has that phase and all
later ones ahead of it. A country factor (``lead_time_factors``) scales a mine's phases before
construction; the permitting lever of a policy scales the permitting phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from critmin.data.load import Dataset
from critmin.outlook.policy import Policy
from critmin.schema.tables import PROJECT_PHASES
from critmin.schema.validate import DataError, Problem

#: z of the 90th percentile of the standard normal.
Z90 = 1.2815515655446004
#: Phases a country's lead-time factor applies to (before construction).
PRE_CONSTRUCTION = ("exploration", "feasibility", "permitting", "financing")


def facility_type(stage: str) -> str:
    """Lead times of a mining-stage project are a mine's; every other stage is a plant's."""
    return "mine" if stage == "mining" else "plant"


@dataclass(frozen=True)
class Pipeline:
    """Projects with a capacity in their chain's basis, and their phase parameters."""

    projects: pd.DataFrame
    """One row per project: id, mineral, stage, country, kind, status, status_year,
    chain_capacity (t or GWh per year in the chain's basis), facility_type."""
    median: xr.DataArray
    """Median phase duration, years, by (project, phase); 0 for phases already passed."""
    sigma: xr.DataArray
    """Log standard deviation of each phase duration by (project, phase)."""
    pass_probability: xr.DataArray
    """Chance of passing each phase by (project, phase); 1 for phases already passed."""
    skipped: pd.DataFrame
    """Projects left out of the capacity outlook and why (no capacity, no chain factor)."""

    @property
    def completion_probability(self) -> xr.DataArray:
        """Chance that each project reaches production at all."""
        out = self.pass_probability.prod("phase")
        out.name = "completion_probability"
        return out

    @property
    def expected_lead_time(self) -> xr.DataArray:
        """Mean years from the reported status to production (sum of lognormal means)."""
        mean = self.median * np.exp(self.sigma**2 / 2)
        # the current phase is on average half done (see montecarlo.sample)
        ahead = self.median > 0
        current = ahead & (ahead.cumsum("phase") == 1)
        out = (mean * (1.0 - 0.5 * current)).sum("phase")
        out.name = "expected_lead_time"
        return out


def _check_facilities(ds: Dataset, projects: pd.DataFrame) -> None:
    """``projects.facility`` must name a row of ``facilities`` (both tables load lazily, so the
    loader's cross-reference check does not see this pair)."""
    known = set(ds["facilities"]["id"])
    named = projects["facility"]
    bad = named.notna() & (named.astype(str) != "") & ~named.astype(str).isin(known)
    if bad.any():
        file = ds.files["projects"].label
        raise DataError(
            [
                Problem(file, int(row) + 2, "facility", f"unknown label, not in facilities: {v}")
                for row, v in zip(np.flatnonzero(bad.to_numpy()), named[bad], strict=True)
            ]
        )


def build_pipeline(ds: Dataset, policy: Policy, lead_times: pd.DataFrame | None = None) -> Pipeline:
    """Arrays for every project with a chain-basis capacity (others go to ``skipped``);
    ``lead_times`` replaces the dataset's table (the sensitivity varies it)."""
    projects = ds["projects"].copy()
    _check_facilities(ds, projects)
    projects = projects[~projects["id"].isin(policy.exclude_projects)]
    capacity = projects["capacity"] * projects["chain_factor"]
    usable = capacity.notna() & (capacity > 0)
    reasons = np.where(
        projects["capacity"].isna(),
        "capacity not disclosed",
        np.where(projects["chain_factor"].isna(), "no conversion to the chain basis", ""),
    )
    skipped = projects.loc[~usable, ["id", "mineral", "stage", "country", "status"]].assign(
        reason=reasons[~usable.to_numpy()]
    )
    projects = projects[usable].assign(chain_capacity=capacity[usable])
    projects["facility_type"] = projects["stage"].map(facility_type)
    projects = projects.reset_index(drop=True)

    lt = {
        (str(r["facility_type"]), str(r["phase"])): (
            float(r["median_years"]),
            float(r["p90_years"]),
            float(r["pass_probability"]),
        )
        for r in (ds["lead_times"] if lead_times is None else lead_times).to_dict(orient="records")
    }
    factors = ds["lead_time_factors"].set_index(["facility_type", "country"])["factor"]
    n, k = len(projects), len(PROJECT_PHASES)
    median = np.zeros((n, k))
    sigma = np.zeros((n, k))
    passing = np.ones((n, k))
    records: list[dict[Any, Any]] = projects.to_dict(orient="records")
    for i, row in enumerate(records):
        kind, country = str(row["facility_type"]), str(row["country"])
        first = PROJECT_PHASES.index(str(row["status"]))
        country_factor = float(factors.get((kind, country), 1.0))
        for j, phase in enumerate(PROJECT_PHASES):
            if j < first or (kind, phase) not in lt:
                continue
            m, p90, pass_probability = lt[(kind, phase)]
            sigma[i, j] = np.log(p90 / m) / Z90
            passing[i, j] = pass_probability
            if phase in PRE_CONSTRUCTION:
                m *= country_factor
            if phase == "permitting":
                m *= policy.permitting_factor(country)
            median[i, j] = m
    coords = {"project": projects["id"].to_list(), "phase": list(PROJECT_PHASES)}
    dims = ("project", "phase")
    return Pipeline(
        projects=projects,
        median=xr.DataArray(median, coords=coords, dims=dims, name="median_years"),
        sigma=xr.DataArray(sigma, coords=coords, dims=dims, name="sigma"),
        pass_probability=xr.DataArray(passing, coords=coords, dims=dims, name="pass_probability"),
        skipped=skipped.reset_index(drop=True),
    )
