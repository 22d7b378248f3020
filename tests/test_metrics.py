"""Concentration metrics on the small world, checked against hand calculations."""

from __future__ import annotations

import math

import pytest

from critmin.chain import SupplyChain
from critmin.metrics import concentration as c
from critmin.metrics.exposure import COLUMNS, exposure_table


def row(table, mineral: str, stage: str):  # type: ignore[no-untyped-def]
    hit = table[(table["mineral"] == mineral) & (table["stage"] == stage)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_shares_include_unattributed_remainder_in_denominator(small: SupplyChain) -> None:
    s = small.shares().sel(mineral="cobalt", stage="mining", year=2024)
    assert float(s.sel(country="COD")) == pytest.approx(0.7)
    assert float(s.sum()) == pytest.approx(1.0)


def test_hhi_excludes_the_remainder(small: SupplyChain) -> None:
    t = exposure_table(small)
    # 70^2 + 20^2; the 10% "other countries" is not squared as one producer
    assert row(t, "cobalt", "mining")["hhi"] == pytest.approx(4900 + 400)
    assert row(t, "cobalt", "refining")["hhi"] == pytest.approx(6400 + 400)


def test_governance_weighted_hhi_follows_the_eu_formula(small: SupplyChain) -> None:
    t = exposure_table(small)
    # COD: 0.7^2 * (2.5+2)*2 * 1 ; AUS: 0.2^2 * (2.5-1)*2 * 0.8 (U.S. FTA partner)
    assert row(t, "cobalt", "mining")["hhi_wgi"] == pytest.approx(0.49 * 9 + 0.04 * 3 * 0.8)
    # CHN carries t_c = 1.5 from trade_parameters: 0.8^2 * 6 * 1.5 ; JPN 0.2^2 * 3
    assert row(t, "cobalt", "refining")["hhi_wgi"] == pytest.approx(0.64 * 6 * 1.5 + 0.04 * 3)


def test_top_group_shares_and_nir(small: SupplyChain) -> None:
    t = exposure_table(small)
    r = row(t, "cobalt", "refining")
    assert (r["top_country"], r["top_share"], r["top3_share"]) == ("CHN", 0.8, 1.0)
    assert (r["china_share"], r["feoc_share"], r["allied_share"]) == (0.8, 0.8, 0.2)
    assert r["us_nir"] == pytest.approx(0.75)
    assert row(t, "rare_earths", "mining")["us_nir"] == 0.0  # USGS "E": net exporter


def test_bottleneck_is_the_stage_with_highest_weighted_hhi(small: SupplyChain) -> None:
    t = exposure_table(small)
    cobalt = t[t["mineral"] == "cobalt"].set_index("stage")
    assert cobalt["bottleneck"].to_dict() == {"mining": False, "refining": True}
    assert bool(row(t, "rare_earths", "mining")["bottleneck"])


def test_year_filter_and_latest_default(small: SupplyChain) -> None:
    latest = exposure_table(small, mineral=["cobalt"], stage=["mining"])
    assert latest["year"].tolist() == [2024]
    older = exposure_table(small, mineral=["cobalt"], stage=["mining"], year=2023)
    assert older["hhi"].tolist() == [pytest.approx(5000.0)]
    assert older["top_share"].tolist() == [0.5]


def test_filters_and_units_are_shared(small: SupplyChain) -> None:
    sel = c.select(small, mineral=["cobalt"], stage=["refining"])
    for metric in (c.hhi(sel), c.hhi_wgi(sel), c.top3(sel), c.group_share(sel, "allied")):
        assert metric.dims == ("mineral", "stage")
        assert metric.attrs["unit"]
    t = exposure_table(small)
    assert list(t.columns) == list(COLUMNS)
    assert t.attrs["units"]["hhi"].startswith("HHI")


def test_unknown_labels_are_named(small: SupplyChain) -> None:
    with pytest.raises(KeyError, match="unobtainium"):
        c.select(small, mineral=["unobtainium"])
    with pytest.raises(KeyError, match="smelting"):
        c.select(small, stage=["smelting"])
    with pytest.raises(KeyError, match="no data for year 1999"):
        c.select(small, year=1999)
    with pytest.raises(KeyError, match="unknown country group"):
        c.group_share(c.select(small), "nato")


def test_metric_values_are_finite_on_bundled_data(bundled: SupplyChain) -> None:
    t = exposure_table(bundled)
    assert len(t) > 50
    for col in ("top_share", "top3_share", "hhi", "hhi_wgi", "china_share", "allied_share"):
        assert t[col].map(math.isfinite).all(), col
    assert t["top_share"].between(0, 1).all()
    assert (t["hhi"] <= 10_000).all()
    assert t.groupby("mineral")["bottleneck"].sum().eq(1).all()
