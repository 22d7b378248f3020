"""Sample when each project produces: phase durations (lognormal) and phase passes (Bernoulli).

Every random number is drawn before any policy is applied (common random numbers): a run with
the permitting lever differs from the base case only through the lever, so a shorter
permitting phase can never make a project later or less likely to finish.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from critmin.outlook.pipeline import Pipeline


@dataclass(frozen=True)
class Draws:
    """Online year of each project in each draw (inf: never reaches production)."""

    online: xr.DataArray
    """Year (continuous) from which a project produces at nameplate, by (draw, project)."""
    lead_time: xr.DataArray
    """Sampled years from the reported status to production, by (draw, project), whether or
    not the project passes every phase."""
    seed: int


def sample(pipeline: Pipeline, draws: int, seed: int) -> Draws:
    """Sample ``draws`` futures of the pipeline with ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    n_proj, n_phase = pipeline.median.shape
    z = rng.standard_normal((draws, n_proj, n_phase))
    u_pass = rng.random((draws, n_proj, n_phase))
    # where in its current phase a project is: the share of that phase still ahead of it
    u_left = rng.random((draws, n_proj))
    median = pipeline.median.to_numpy()
    duration = median[None] * np.exp(pipeline.sigma.to_numpy()[None] * z)
    first = (median > 0).argmax(axis=1)  # the current phase: first phase with a duration
    rows = np.arange(n_proj)
    duration[:, rows, first] *= u_left
    lead = duration.sum(axis=2)
    passed = (u_pass < pipeline.pass_probability.to_numpy()[None]).all(axis=2)
    start = pipeline.projects["status_year"].to_numpy(float)
    online = np.where(passed, start[None] + lead, np.inf)
    coords = {"draw": np.arange(draws), "project": pipeline.median.project.values}
    return Draws(
        online=xr.DataArray(online, coords=coords, dims=("draw", "project"), name="online"),
        lead_time=xr.DataArray(lead, coords=coords, dims=("draw", "project"), name="lead_time"),
        seed=seed,
    )


def online_fraction(online: xr.DataArray, years: list[int]) -> xr.DataArray:
    """Share of each calendar year a project produces (0 before its online year, then 1)."""
    year = xr.DataArray(np.asarray(years, float), coords={"year": years}, dims="year")
    out = ((year + 1.0) - online).clip(0.0, 1.0)
    out.name = "online_fraction"
    return out


#: Stand-in year for "never produces", so quantiles over draws stay finite.
NEVER = 9999.0


def median_online(online: xr.DataArray) -> xr.DataArray:
    """Median online year over draws; NaN where the project fails in at least half of them."""
    finite = online.where(np.isfinite(online), NEVER)
    med = finite.quantile(0.5, "draw", method="lower")
    return med.where(med < NEVER)
