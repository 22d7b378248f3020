"""U.S. import sources: USGS's published shares cross-checked against BACI bilateral trade.

USGS gives the main import sources of each commodity (2021-24, by value, per import category);
BACI gives every exporter's shipments to the U.S. by HS-6 code. The two differ in product scope
(a USGS category may be one form, BACI sums every HS code mapped to the mineral), so the check
reports agreement rather than insisting on equality.
"""

from __future__ import annotations

import pandas as pd

from critmin.data.load import Dataset
from critmin.schema.vocabulary import OTHER_COUNTRIES

US = "USA"


def baci_import_shares(
    ds: Dataset, *, importer: str = US, first_year: int = 2021, last_year: int = 2024
) -> pd.DataFrame:
    """Each exporter's share of ``importer``'s imports by value, per mineral, over the years."""
    trade = ds["trade"]
    rows = trade[(trade["importer"] == importer) & trade["year"].between(first_year, last_year)]
    value = rows.groupby(["mineral", "exporter"], as_index=False).agg(
        value_kusd=("value_kusd", "sum")
    )
    value["share"] = value["value_kusd"] / value.groupby("mineral")["value_kusd"].transform("sum")
    return value.sort_values(["mineral", "share"], ascending=[True, False], ignore_index=True)


def import_sources_crosscheck(ds: Dataset) -> pd.DataFrame:
    """One row per USGS import category: its top source, BACI's top exporter for the mineral,
    whether they agree, and the mean absolute share difference over the countries USGS names.

    Columns: mineral, category, usgs_top, usgs_top_share, baci_top, baci_top_share,
    top_agrees, baci_share_of_usgs_top, mean_abs_diff (fractions), baci_value_kusd.
    """
    baci = baci_import_shares(ds)
    usgs = ds["import_sources"]
    # USGS's own categories only: not other publishers' rows (magnet import shares), nor the
    # rows critmin derives (an element taking its aggregate's sources, BACI-based shares)
    sources = ds["sources"]
    usgs_ids = set(sources.loc[sources["publisher"].str.contains("U.S. Geological Survey"), "id"])
    usgs = usgs[
        usgs["source_id"].isin(usgs_ids)
        & ~usgs["category"].str.startswith("critmin")
        & (usgs["country"] != OTHER_COUNTRIES)
    ]
    out = []
    for (mineral, category), group in usgs.groupby(["mineral", "category"], sort=True):
        b = baci[baci["mineral"] == mineral].set_index("exporter")["share"]
        if b.empty:
            continue
        top = group.sort_values("share", ascending=False).iloc[0]
        diffs = (
            group.set_index("country")["share"] - b.reindex(group["country"]).fillna(0.0)
        ).abs()
        out.append(
            {
                "mineral": mineral,
                "category": category,
                "usgs_top": top["country"],
                "usgs_top_share": float(top["share"]),
                "baci_top": str(b.index[0]),
                "baci_top_share": float(b.iloc[0]),
                "top_agrees": bool(top["country"] == b.index[0]),
                "baci_share_of_usgs_top": float(b.get(top["country"], 0.0)),
                "mean_abs_diff": float(diffs.mean()),
                "baci_value_kusd": float(baci.loc[baci["mineral"] == mineral, "value_kusd"].sum()),
            }
        )
    frame = pd.DataFrame(out)
    frame.attrs["units"] = {
        "usgs_top_share": "fraction",
        "baci_top_share": "fraction",
        "mean_abs_diff": "fraction",
        "baci_value_kusd": "thousand USD (2021-2024)",
    }
    return frame
