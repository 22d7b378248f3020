"""Name the intermediary suppliers USGS lists among U.S. import sources inside the chain's
"other countries" node.

USGS import sources name the country a form was shipped from; the production data lump small
refiners and re-exporters (Finland's copper refinery, Mexico's lime, France's zircon) into
``OTH``. The U.S. routing already sends such a source's share of U.S. imports through ``OTH``
(critmin.simulate.model._us_import_shares); this module splits that flow off as a node of its
own at the last stage: its output is its U.S. flow, its input (for a chain of two stages or
more) OTH's input mix at the stage before, and OTH keeps the rest. World output, every
balance and the origin content are unchanged: the named node is a labelled part of OTH.

Where the chain has no OTH node at the last stage, or OTH ships the U.S. less than the source
needs, the source stays unnamed (for example gallium's and germanium's refiners in Canada,
Belgium and Germany, which process metal bought from the producers the chain carries: a
re-export stage the chain does not have; docs/criticality.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import numpy as np
import pandas as pd

from critmin.data.load import Dataset
from critmin.schema.vocabulary import (
    IMPORT_FORM,
    IMPORT_TOTAL,
    INHERITED_SOURCES,
    MONTHS_PER_YEAR,
    OTHER_COUNTRIES,
)


def name_intermediaries(
    countries: list[str],
    flows: np.ndarray,
    final: np.ndarray,
    idx_region: np.ndarray,
    us_flow: dict[str, float],
    us: int,
    region_index: Callable[[str], int],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Split each ``us_flow`` (country -> t/month it ships the U.S., not a producer of the
    last stage) off OTH's U.S. deliveries; returns the grown countries, flows, final routing,
    region index and a note per split.

    A source that is a country of the chain with no output at the last stage (a node of an
    earlier stage: sulfur's Mexico, a miner in World Mining Data, in USGS's "other countries"
    of the refining table) is named at its own node; any other country gets a new node."""
    if OTHER_COUNTRIES not in countries or not us_flow:
        return countries, flows, final, idx_region, []
    o = countries.index(OTHER_COUNTRIES)
    notes: list[str] = []
    left = float(final[o, us])
    picked: list[tuple[str, float]] = []
    for country, amount in sorted(us_flow.items(), key=lambda kv: -kv[1]):
        if amount <= 0 or amount > left * (1 + 1e-9):
            continue
        if country in countries and (
            country in (OTHER_COUNTRIES, "USA") or final[countries.index(country)].sum() > 0
        ):
            continue
        picked.append((country, amount))
        left -= amount
    if not picked:
        return countries, flows, final, idx_region, []
    new = [c for c, _ in picked if c not in countries]
    n0, m = len(countries), len(new)
    grown_final = np.concatenate([final, np.zeros((m, final.shape[1]))], axis=0)
    grown = np.zeros((flows.shape[0], n0 + m, n0 + m))
    grown[:, :n0, :n0] = flows
    oth_out = float(final[o].sum())
    at = {c: i for i, c in enumerate([*countries, *new])}
    for country, amount in picked:
        n = at[country]
        grown_final[n, us] = amount
        grown_final[o, us] -= amount
        if grown.shape[0] > 0 and oth_out > 0:
            # the named refiner's feed: OTH's input mix at the stage before, in proportion
            f = amount / oth_out
            grown[-1, :n0, n] += flows[-1][:, o] * f
            grown[-1, :n0, o] -= flows[-1][:, o] * f
        where = (
            "no output at this stage in the production data"
            if n < n0
            else "not in the production data"
        )
        notes.append(
            f"{country} named out of OTH at the last stage: {amount * MONTHS_PER_YEAR:,.4g} t/yr "
            f"to the U.S. (USGS import source; {where})"
        )
    extra = np.array([region_index(c) for c in new], dtype=idx_region.dtype)
    return (
        [*countries, *new],
        grown,
        grown_final,
        np.concatenate([idx_region, extra]),
        notes,
    )


#: USGS import forms of secondary material: the chains carry primary supply (recycled U.S.
#: supply is a node of its own, critmin.simulate.model.add_secondary), so a scrap form's
#: sources do not route primary imports (copper: Canada's and Mexico's scrap)
SCRAP = r"scrap|waste"
#: USGS import forms of ore: a chain that ends after mining sells the U.S. a processed form, and
#: ore the U.S. imports feeds U.S. plants, not that demand (copper: Canada's concentrate)
ORE = r"\bores?\b|\bconcentrates?\b"


def import_forms(ds: Dataset) -> dict[str, tuple[str, bool]]:
    """USGS import-source category -> (the chain stage whose form it is, whether it is USGS's
    total over that stage's forms): the categories data-src/mappings/usgs_import_forms.csv
    tags, read from the dataset's ``commodity_map``. An element's category taken from its
    aggregate (:data:`INHERITED_SOURCES`) has the aggregate's tag."""
    cmap = ds["commodity_map"]
    rows = cmap[cmap["raw_detail"].isin((IMPORT_FORM, IMPORT_TOTAL))]
    return {
        str(c): (str(s), d == IMPORT_TOTAL)
        for c, s, d in zip(rows["raw_commodity"], rows["stage"], rows["raw_detail"], strict=True)
    }


def import_source_shares(
    import_sources: pd.DataFrame,
    mineral: str,
    want: int,
    last_stage: str = "mining",
    forms: Mapping[str, tuple[str, bool]] | None = None,
) -> dict[str, float]:
    """USGS import-source shares of ``mineral`` by country: the mean over the forms listed, each
    form read in one period, the latest starting in or before the base year ``want`` (else its
    earliest); scrap forms left out, and ore forms where the chain's ``last_stage`` is not
    mining. Without this a form quoted for several periods (the NdFeB magnet rows of
    2024Q1 and 2025Q1) counted once per period: China came to 120% of U.S. rare-earth imports.
    Where ``forms`` (:func:`import_forms`) tags a category of the mineral as the last stage's
    form, only the last stage's tagged categories are read, and of those USGS's total over the
    stage's forms alone if one is tagged: aluminum's bauxite and alumina feed U.S. refineries
    and smelters, not the metal demand; niobium's total weighs its forms by content (68%
    ferroniobium, 1% ore), which the mean over forms (and the total as a fourth) did not."""
    rows = import_sources[import_sources["mineral"] == mineral]
    if rows.empty:
        return {}
    tags = [(forms or {}).get(str(c).removeprefix(INHERITED_SOURCES)) for c in rows["category"]]
    last = pd.Series([t is not None and t[0] == last_stage for t in tags], index=rows.index)
    if last.any():
        total = pd.Series([t is not None and t[1] for t in tags], index=rows.index) & last
        rows = rows[total] if total.any() else rows[last]
    for pattern in (SCRAP, ORE if last_stage != "mining" and not last.any() else None):
        if pattern is None:
            continue
        drop = rows["category"].str.contains(pattern, case=False, regex=True)
        if not drop.all():
            rows = rows[~drop]
    start = rows["period"].astype(str).str[:4].astype(int)
    keep = pd.Series(False, index=rows.index)
    for _, years in start.groupby(rows["category"]):
        before = years[years <= want]
        pick = before.max() if len(before) else years.min()
        keep[years.index[years == pick]] = True
    rows = rows[keep]
    n_forms = rows["category"].nunique()
    out: dict[str, float] = {}
    for country, value in zip(rows["country"], rows["share"], strict=True):
        out[str(country)] = out.get(str(country), 0.0) + float(value) / n_forms
    return out


def unnamed_sources(
    import_sources: pd.DataFrame,
    mineral: str,
    countries: list[str],
    imports: float,
    want: int,
    last_stage: str = "mining",
    forms: Mapping[str, tuple[str, bool]] | None = None,
    producers: Collection[str] | None = None,
) -> dict[str, float]:
    """U.S. imports (t/month) from each USGS import source that is not a producer of the
    stage (``producers``; without them, not a country of the chain): its share
    (``import_source_shares``, normalised as the routing normalises them,
    critmin.simulate.model._us_import_shares) times ``imports``."""
    if OTHER_COUNTRIES not in countries:
        return {}
    made = set(countries if producers is None else producers)
    share = {
        c: v
        for c, v in import_source_shares(import_sources, mineral, want, last_stage, forms).items()
        if c != "USA"
    }
    total = sum(share.values())
    return {
        c: v / total * imports
        for c, v in share.items()
        if c not in made and c not in (OTHER_COUNTRIES, "USA") and total > 0
    }
