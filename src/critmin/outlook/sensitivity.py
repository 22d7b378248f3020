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
from critmin.schema.vocabulary import ASSUMPTION_SOURCE

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
                row_marks_assumption=assumed or row["source_id"] == ASSUMPTION_SOURCE,
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


#: Absolute shift of a pass probability (or of a facility type's completion chance) in
#: ``completion_sensitivity``: the ±0.2 the outlook's review asked for.
COMPLETION_DELTA = 0.2
#: Label of the joint variant: every pass probability of a facility type moved together.
ALL_PHASES = "all (completion chance)"


def _assumed_pass(row: pd.Series) -> bool:
    """A row's pass probability is an assumption (a plant's guess, or critmin's split of the
    sourced mine product over the phases) when its note or source id says so."""
    note = str(row["note"]).lower()
    return row["source_id"] == ASSUMPTION_SOURCE or "assum" in note


def _completion_variants(
    table: pd.DataFrame, delta: float
) -> list[tuple[str, str, float, float, float, pd.DataFrame, pd.DataFrame]]:
    """(facility type, phase, value, low value, high value, low table, high table) for each
    assumed pass probability moved by ``delta`` (clipped to [0, 1]), and for each facility
    type's completion chance (the product of its pass probabilities) moved by ``delta``:
    every pass probability ``p`` becomes ``p ** a`` with ``a = ln(P ± delta) / ln(P)``, so the
    product moves exactly and the split over the phases keeps its proportions in log terms."""
    out = []
    for i, row in table.iterrows():
        if not _assumed_pass(row):
            continue
        p = float(row["pass_probability"])
        lo, hi = max(0.0, p - delta), min(1.0, p + delta)
        tables = []
        for value in (lo, hi):
            varied = table.copy()
            varied.loc[i, "pass_probability"] = value
            tables.append(varied)
        out.append((str(row["facility_type"]), str(row["phase"]), p, lo, hi, tables[0], tables[1]))
    for kind in sorted(set(table["facility_type"].astype(str))):
        rows = table["facility_type"] == kind
        product = float(np.prod(table.loc[rows, "pass_probability"].astype(float)))
        if not 0.0 < product < 1.0:
            continue
        lo, hi = max(1e-9, product - delta), min(1.0, product + delta)
        tables = []
        for target in (lo, hi):
            varied = table.copy()
            power = np.log(target) / np.log(product)
            varied.loc[rows, "pass_probability"] = (
                table.loc[rows, "pass_probability"].astype(float) ** power
            )
            tables.append(varied)
        out.append((kind, ALL_PHASES, product, lo, hi, tables[0], tables[1]))
    return out


def _non_china_share(
    chain: SupplyChain,
    policy: Policy,
    lead_times: pd.DataFrame | None,
    years: tuple[int, ...],
    minerals: list[str],
    draws: int,
    seed: int,
) -> pd.DataFrame:
    """Share of world capacity outside China by (mineral, stage, year) for the stages with a
    tonnage base: ``mean`` over draws (smooth in the pass probabilities) and ``p50`` (the
    outlook's reported median, which moves in steps where a few large projects decide it)."""
    from critmin.outlook.capacity import CHINA, base_capacity, stage_capacity  # noqa: PLC0415

    pipeline = build_pipeline(chain.dataset, policy, lead_times)
    drawn = sample(pipeline, draws, seed)
    frac = online_fraction(drawn.online, list(years)).transpose("draw", "project", "year")
    frac_np = frac.to_numpy()
    base = base_capacity(chain)
    rows = []
    for (mineral, stage), base_row in sorted(base.values.items()):
        if mineral not in minerals:
            continue
        countries, cap = stage_capacity(base_row, pipeline.projects, frac_np, mineral, stage)
        total = cap.sum(axis=1)
        china = cap[:, countries.index(CHINA), :] if CHINA in countries else np.zeros_like(total)
        outside = 1.0 - np.divide(china, total, out=np.zeros_like(total), where=total > 0)
        for j, year in enumerate(years):
            rows.append(
                {
                    "mineral": mineral,
                    "stage": stage,
                    "year": year,
                    "mean": float(outside[:, j].mean()),
                    "p50": float(np.quantile(outside[:, j], 0.5)),
                }
            )
    return pd.DataFrame(rows).set_index(["mineral", "stage", "year"])


def completion_sensitivity(
    chain: SupplyChain,
    policy: Policy,
    *,
    years: tuple[int, ...] = (2030, 2035),
    minerals: list[str] | None = None,
    draws: int = 1000,
    seed: int = 0,
    delta: float = COMPLETION_DELTA,
) -> pd.DataFrame:
    """How the projected non-China share of each chain stage moves when an assumed pass
    probability (each ``lead_times`` row whose note marks it assumed), or a facility type's
    whole completion chance, is moved by ``±delta``; the rest held, the same random numbers.

    One row per (variant, mineral, stage, year) for the stages with a tonnage base and at least
    one project of the variant's facility type: the non-China share (mean over draws, and the
    median the outlook reports) at the table's values and with the figure at ``value_low`` /
    ``value_high``; ``change_low_pts`` / ``change_high_pts`` are the mean's changes in
    percentage points. ``minerals`` defaults to the six the IEA tracks (``compare.IEA_FOCUS``).
    """
    from critmin.outlook.compare import IEA_FOCUS  # noqa: PLC0415
    from critmin.outlook.pipeline import facility_type  # noqa: PLC0415

    for year in years:
        if not policy.start_year <= year <= policy.end_year:
            raise ValueError(
                f"year: {year} is outside the outlook ({policy.start_year}-{policy.end_year})"
            )
    wanted = list(minerals) if minerals else list(IEA_FOCUS)
    table = chain.dataset["lead_times"]
    base = _non_china_share(chain, policy, None, years, wanted, draws, seed)
    projects = build_pipeline(chain.dataset, policy).projects
    kinds = {
        (str(m), str(s)): {facility_type(str(s))}
        for m, s in zip(projects["mineral"], projects["stage"], strict=True)
    }
    frames: list[pd.DataFrame] = []
    for kind, phase, value, lo, hi, low_table, high_table in _completion_variants(table, delta):
        low = _non_china_share(chain, policy, low_table, years, wanted, draws, seed)
        high = _non_china_share(chain, policy, high_table, years, wanted, draws, seed)
        keep = [kind in kinds.get((m, s), set()) for m, s, _ in base.index]
        here = base[keep]
        if here.empty:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "facility_type": kind,
                    "phase": phase,
                    "value": value,
                    "value_low": lo,
                    "value_high": hi,
                    "non_china_mean": here["mean"],
                    "low_mean": low["mean"].reindex(here.index),
                    "high_mean": high["mean"].reindex(here.index),
                    "non_china_p50": here["p50"],
                    "low_p50": low["p50"].reindex(here.index),
                    "high_p50": high["p50"].reindex(here.index),
                },
                index=here.index,
            ).reset_index()
        )
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    out["change_low_pts"] = (out["low_mean"] - out["non_china_mean"]) * 100
    out["change_high_pts"] = (out["high_mean"] - out["non_china_mean"]) * 100
    columns = [
        "facility_type",
        "phase",
        "value",
        "value_low",
        "value_high",
        "mineral",
        "stage",
        "year",
        "non_china_mean",
        "low_mean",
        "high_mean",
        "change_low_pts",
        "change_high_pts",
        "non_china_p50",
        "low_p50",
        "high_p50",
    ]
    return pd.DataFrame(out[columns])
