"""Governance in six dimensions: the EU mean-of-six score, with political stability kept as a
selectable variant (issue 10, item 5)."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.data.load import load
from critmin.metrics.governance import (
    MIN_INDICATORS,
    eu_score,
    mean_of_six,
    political_stability,
    scores,
)
from critmin.schema.validate import DataError
from critmin.schema.vocabulary import WGI_INDICATORS


def test_mean_of_six_is_the_mean_of_the_estimates() -> None:
    rows = pd.DataFrame(
        {
            "country": ["AAA"] * 6 + ["BBB"] * (MIN_INDICATORS - 1),
            "year": 2023,
            "indicator": [
                "CC",
                "GE",
                "PV",
                "RQ",
                "RL",
                "VA",
                *["CC", "GE", "PV"][: MIN_INDICATORS - 1],
            ],
            "estimate": [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5] + [0.0] * (MIN_INDICATORS - 1),
        }
    )
    out = mean_of_six(rows)
    # BBB has too few indicators for a mean-of-six score
    assert out["country"].tolist() == ["AAA"]
    assert out["estimate"].iloc[0] == pytest.approx(0.25)
    assert out["score"].iloc[0] == pytest.approx((2.5 - 0.25) * 2)
    assert eu_score(pd.Series([2.5, -2.5])).tolist() == [0.0, 10.0]


def test_both_variants_give_rows_of_the_same_form() -> None:
    """Political stability alone: the estimate as given, scored the EU way; its rows have the
    mean-of-six rows' columns, so the two stack into one governance table."""
    est = pd.DataFrame({"country": ["AAA", "BBB"], "year": [2022, 2023], "estimate": [-1.5, 2.0]})
    ps = political_stability(est.set_index(pd.Index([7, 9])))
    assert ps["variant"].unique().tolist() == ["political_stability"]
    assert ps["score"].tolist() == pytest.approx([8.0, 1.0])
    assert ps.index.tolist() == [0, 1]
    six = pd.DataFrame(
        {"country": "AAA", "year": 2022, "indicator": sorted(WGI_INDICATORS), "estimate": 0.5}
    )
    assert mean_of_six(six).columns.tolist() == ps.columns.tolist()


def test_unknown_indicator_is_refused() -> None:
    rows = pd.DataFrame({"country": ["A"], "year": [2023], "indicator": ["XX"], "estimate": [0.0]})
    with pytest.raises(ValueError, match="XX"):
        mean_of_six(rows)


def test_bundled_six_dimensions_cover_the_indicators() -> None:
    ind = load()["governance_indicators"]
    assert set(ind["indicator"]) == {"CC", "GE", "PV", "RQ", "RL", "VA"}
    assert int(ind["year"].max()) >= 2023
    # the bundled mean-of-six row is the mean of the bundled indicators (recomputed here)
    chn = ind[(ind["country"] == "CHN") & (ind["year"] == 2023)]
    gov = load()["governance"]
    row = gov[(gov["country"] == "CHN") & (gov["year"] == 2023) & (gov["variant"] == "mean_of_six")]
    assert float(row["estimate"].iloc[0]) == pytest.approx(chn["estimate"].mean())


def test_six_dimensions_differ_from_political_stability() -> None:
    """The issue's check: the mean-of-six score differs from political stability alone for at
    least one of China, DR Congo, South Africa (here: for every one of them, by > 0.1)."""
    six = SupplyChain.load(governance_variant="mean_of_six").governance
    ps = SupplyChain.load(governance_variant="political_stability").governance
    year = 2023
    diffs = {
        c: abs(float(six.sel(country=c, year=year)) - float(ps.sel(country=c, year=year)))
        for c in ("CHN", "COD", "ZAF")
    }
    assert any(d > 0.1 for d in diffs.values()), diffs


def test_variants_are_selectable_and_checked() -> None:
    gov = load()["governance"]
    assert set(gov["variant"]) == {"mean_of_six", "political_stability"}
    with pytest.raises(ValueError, match="unknown governance variant"):
        scores(gov, "corruption_only")
    with pytest.raises(DataError, match="variant"):
        scores(gov[gov["variant"] == "political_stability"], "mean_of_six")
