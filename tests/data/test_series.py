"""Refining concentration year by year (issue 10, item 3)."""

from __future__ import annotations

import pytest

from critmin.chain import SupplyChain
from critmin.metrics.coverage import IEA_SIX, top3_series


@pytest.fixture(scope="module")
def series():  # type: ignore[no-untyped-def]
    return top3_series(SupplyChain.load(), IEA_SIX, "refining")


def test_mean_top3_refining_share_2024_matches_the_iea(series) -> None:  # type: ignore[no-untyped-def]
    """Plumbing check (the 2024 refining rows are the IEA's own dataset for all six): the mean
    top-three share is the 86% the IEA reports for 2024 (GCMO 2025)."""
    y2024 = series[series["year"] == 2024]
    assert set(y2024["mineral"]) == set(IEA_SIX)
    assert y2024["top3_share"].mean() == pytest.approx(0.86, abs=0.01)


def test_series_has_every_year_with_data(series) -> None:  # type: ignore[no-untyped-def]
    ree = series[series["mineral"] == "rare_earths"].set_index("year")["top3_share"]
    assert {2023, 2024} <= set(ree.index)
    assert ree[2023] == pytest.approx(0.98)  # IEA GCMO 2024: China 92%, Malaysia 5%, Australia 1%
    assert (series["top3_share"].between(0.0, 1.0)).all()
