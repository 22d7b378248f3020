"""How much the pipeline's arrivals depend on each lead-time and completion figure.

Every row of ``lead_times`` (a phase of a mine or a plant) carries a duration (median, p90)
and a chance of passing the phase. Several are sourced phase by phase, the plant pass
probabilities are assumptions, and no published attrition rate by development stage was
found (docs/outlook.md). This module scales one figure at a time (the duration: median and
p90 together, so the spread is kept; the pass probability capped at 1), re-samples the
pipeline with the same random numbers (common random numbers, ``montecarlo.sample``) and
reports the expected capacity the pipeline adds by a year, per chain stage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.outlook.montecarlo import online_fraction, sample
from critmin.outlook.pipeline import build_pipeline
from critmin.outlook.policy import Policy

#: Fields of ``lead_times`` varied: the phase duration and the chance of passing it.
FIELDS = ("duration", "pass_probability")


def expected_additions(
    chain: SupplyChain,
    policy: Policy,
    year: int,
    *,
    lead_times: pd.DataFrame | None = None,
    draws: int = 1000,
    seed: int = 0,
) -> pd.Series:
    """Mean over draws of the capacity the pipeline adds in ``year`` (t/yr in the chain's
    basis), by (mineral, stage)."""
    pipeline = build_pipeline(chain.dataset, policy, lead_times)
    drawn = sample(pipeline, draws, seed)
    share = online_fraction(drawn.online, [year]).sel(year=year).mean("draw").to_numpy()
    p = pipeline.projects
    added = pd.Series(p["chain_capacity"].to_numpy(float) * share, index=p.index)
    out = added.groupby([p["mineral"], p["stage"]]).sum()
    out.name = "additions_t"
    return out


def lead_time_sensitivity(
    chain: SupplyChain,
    policy: Policy,
    *,
    year: int,
    minerals: list[str] | None = None,
    draws: int = 1000,
    seed: int = 0,
    factors: tuple[float, float] = (0.5, 1.5),
) -> pd.DataFrame:
    """One row per (lead-time row, field, mineral, stage): the expected pipeline additions in
    ``year`` at the table's values and with that one figure scaled by each factor, and the
    relative change. ``row_marks_assumption`` flags the rows the data mark as assumed."""
    if not policy.start_year <= year <= policy.end_year:
        raise ValueError(
            f"year: {year} is outside the outlook ({policy.start_year}-{policy.end_year})"
        )
    table = chain.dataset["lead_times"]
    base = expected_additions(chain, policy, year, draws=draws, seed=seed)
    if minerals:
        base = base[base.index.get_level_values("mineral").isin(minerals)]
    touched = _phases_ahead(chain, policy)
    frames: list[pd.DataFrame] = []
    for i, row in table.iterrows():
        for fieldname in FIELDS:
            moved = []
            for factor in factors:
                varied = table.copy()
                if fieldname == "duration":
                    varied.loc[i, "median_years"] = float(row["median_years"]) * factor
                    varied.loc[i, "p90_years"] = float(row["p90_years"]) * factor
                else:
                    varied.loc[i, "pass_probability"] = min(
                        1.0, float(row["pass_probability"]) * factor
                    )
                varied_out = expected_additions(
                    chain, policy, year, lead_times=varied, draws=draws, seed=seed
                )
                moved.append(varied_out.reindex(base.index))
            value = (
                float(row["median_years"])
                if fieldname == "duration"
                else float(row["pass_probability"])
            )
            note = str(row["note"])
            assumed = (
                note.startswith("ASSUMPTION")
                if fieldname == "duration"
                else any(k in note.lower() for k in ("assum", "critmin split"))
            )
            here = base[
                [
                    (str(row["facility_type"]), str(row["phase"])) in touched.get(k, set())
                    for k in base.index
                ]
            ]
            if here.empty:
                continue
            frame = here.reset_index().assign(
                facility_type=row["facility_type"],
                phase=row["phase"],
                field=fieldname,
                value=value,
                year=year,
                low_t=moved[0].reindex(here.index).to_numpy(),
                high_t=moved[1].reindex(here.index).to_numpy(),
                row_marks_assumption=assumed or row["source_id"] == "CRITMIN_ASSUMPTION",
                source_id=row["source_id"],
            )
            frames.append(frame)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    out["row_marks_assumption"] = out["row_marks_assumption"].astype(bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["change_low"] = np.where(
            out["additions_t"] > 0, out["low_t"] / out["additions_t"] - 1, np.nan
        )
        out["change_high"] = np.where(
            out["additions_t"] > 0, out["high_t"] / out["additions_t"] - 1, np.nan
        )
    columns = [
        "facility_type",
        "phase",
        "field",
        "value",
        "mineral",
        "stage",
        "year",
        "additions_t",
        "low_t",
        "high_t",
        "change_low",
        "change_high",
        "row_marks_assumption",
        "source_id",
    ]
    return pd.DataFrame(out[columns])


def _phases_ahead(
    chain: SupplyChain, policy: Policy
) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """For each (mineral, stage): the (facility type, phase) pairs still ahead of at least one
    of its projects (the only lead-time figures that can move its arrivals)."""
    pipeline = build_pipeline(chain.dataset, policy)
    p = pipeline.projects
    ahead = (pipeline.median > 0).to_numpy()
    phases = [str(x) for x in pipeline.median.phase.values]
    out: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for i, row in enumerate(p.itertuples()):
        key = (str(row.mineral), str(row.stage))
        kind = str(row.facility_type)
        out.setdefault(key, set()).update((kind, phases[j]) for j in np.flatnonzero(ahead[i]))
    return out
