"""METHODS section 2: the headline figures come out of the bundled data within tolerance."""

from __future__ import annotations

import pytest

from critmin.chain import SupplyChain
from critmin.metrics.exposure import exposure_table
from critmin.metrics.imports import import_sources_crosscheck


def share(chain: SupplyChain, mineral: str, stage: str, year: int, country: str) -> float:
    s = chain.shares().sel(mineral=mineral, stage=stage, year=year, country=country)
    return float(s)


def test_china_rare_earth_mining_share(bundled: SupplyChain) -> None:
    # World Mining Data 2024: 270 kt of ~398 kt REO (METHODS says 0.60-0.70 by source/year)
    assert 0.60 <= share(bundled, "rare_earths", "mining", 2024, "CHN") <= 0.70
    assert bundled.source.sel(mineral="rare_earths", stage="mining", year=2024) == "WMD_2026"


def test_china_rare_earth_refining_and_magnets(bundled: SupplyChain) -> None:
    assert share(bundled, "rare_earths", "refining", 2024, "CHN") == pytest.approx(0.91, abs=0.03)
    assert share(bundled, "rare_earths", "magnets", 2024, "CHN") == pytest.approx(0.94, abs=0.03)


def test_brazil_rare_earth_reserves(bundled: SupplyChain) -> None:
    res = bundled.dataset["reserves"]
    brazil = res[(res["mineral"] == "rare_earths") & (res["country"] == "BRA")]
    assert brazil["value"].max() == pytest.approx(21e6, rel=0.05)


def test_cobalt_dr_congo_and_us_reliance(bundled: SupplyChain) -> None:
    assert share(bundled, "cobalt", "mining", 2024, "COD") == pytest.approx(0.70, abs=0.06)
    t = exposure_table(bundled, mineral=["cobalt"])
    assert (t["us_nir"] > 0.5).all()


def test_china_leads_refining_of_most_refined_minerals(bundled: SupplyChain) -> None:
    t = exposure_table(bundled, stage=["refining"])
    leads = t["top_country"].eq("CHN")
    assert leads.sum() > len(t) / 2, t[["mineral", "top_country", "top_share"]]
    # the battery midstream: China at least 80% of cathode and anode (METHODS: >= 80%)
    mid = exposure_table(bundled, mineral=["lithium", "graphite"], stage=["cathode", "anode"])
    assert (mid["china_share"] >= 0.80).all()


def test_usgs_import_sources_agree_with_baci_for_chain_minerals(bundled: SupplyChain) -> None:
    check = import_sources_crosscheck(bundled.dataset).set_index("mineral")
    for mineral in ("cobalt", "lithium", "rare_earths", "graphite", "platinum"):
        row = check.loc[mineral]
        assert bool(row["top_agrees"]), (mineral, row["usgs_top"], row["baci_top"])
    assert check.loc["cobalt", "mean_abs_diff"] < 0.05
    # overall, the two sources agree on the top supplier more often than not
    assert check["top_agrees"].mean() > 0.5
