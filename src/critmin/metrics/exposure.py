"""The exposure table: every concentration and dependence metric per mineral and stage."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import xarray as xr

from critmin.chain import SupplyChain
from critmin.metrics import concentration as c

COLUMNS: tuple[str, ...] = (
    "mineral",
    "stage",
    "year",
    "top_country",
    "top_share",
    "top3_share",
    "hhi",
    "hhi_wgi",
    "china_share",
    "feoc_share",
    "allied_share",
    "us_nir",
    "bottleneck",
    "unit",
    "basis",
    "source_id",
)


def exposure_arrays(
    chain: SupplyChain,
    *,
    mineral: Sequence[str] | None = None,
    stage: Sequence[str] | None = None,
    year: int | None = None,
) -> xr.Dataset:
    """All metrics as one labelled Dataset over (mineral, stage)."""
    sel = c.select(chain, mineral=mineral, stage=stage, year=year)
    top_country, top_share = c.top(sel)
    score = c.hhi_wgi(sel)
    metrics = [
        top_country,
        top_share,
        c.top3(sel),
        c.hhi(sel),
        score,
        c.country_share(sel, "CHN", "china_share"),
        c.group_share(sel, "feoc"),
        c.group_share(sel, "allied"),
        c.us_nir(sel),
        c.bottleneck(score).rename("bottleneck"),
    ]
    return xr.merge(metrics, compat="override", join="exact")


def exposure_table(
    chain: SupplyChain,
    *,
    mineral: Sequence[str] | None = None,
    stage: Sequence[str] | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """One row per (mineral, stage) with data; units in ``DataFrame.attrs['units']``."""
    ds = exposure_arrays(chain, mineral=mineral, stage=stage, year=year)
    frame = ds.to_dataframe().reset_index()
    frame = frame[frame["year"] >= 0].copy()
    frame["year"] = frame["year"].astype(int)
    for meta in ("unit", "basis", "source"):
        arr = getattr(chain, meta).to_series()
        key = pd.MultiIndex.from_frame(frame[["mineral", "stage", "year"]])
        frame["source_id" if meta == "source" else meta] = arr.reindex(key).to_numpy()
    frame["bottleneck"] = frame["bottleneck"].astype(bool)
    order = {s: i for i, s in enumerate(chain.production.stage.values.tolist())}
    frame = frame.sort_values(
        ["mineral", "stage"], key=lambda s: s.map(order) if s.name == "stage" else s
    )
    frame = frame[list(COLUMNS)].reset_index(drop=True)
    frame.attrs["units"] = dict(c.UNITS)
    return frame
