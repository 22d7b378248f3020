"""The lead-time and completion figures in the sensitivity: each moves arrivals the right way."""

from __future__ import annotations

import pytest

from critmin.chain import SupplyChain
from critmin.outlook.policy import Policy
from critmin.outlook.sensitivity import _phases_ahead, expected_additions, lead_time_sensitivity


@pytest.fixture(scope="module")
def table(bundled: SupplyChain) -> object:
    return lead_time_sensitivity(bundled, Policy(), year=2035, draws=300, seed=4)


def test_longer_phases_never_bring_more_and_likelier_ones_never_less(table: object) -> None:
    import pandas as pd  # noqa: PLC0415

    assert isinstance(table, pd.DataFrame)
    assert not table.empty
    tol = 1e-9
    dur = table[table["field"] == "duration"]
    # common random numbers: a longer phase (x1.5) can only delay, a shorter one only advance
    assert (dur["high_t"] <= dur["additions_t"] + tol).all()
    assert (dur["low_t"] >= dur["additions_t"] - tol).all()
    prob = table[table["field"] == "pass_probability"]
    assert (prob["low_t"] <= prob["additions_t"] + tol).all()
    assert (prob["high_t"] >= prob["additions_t"] - tol).all()
    # and some figure matters somewhere
    assert (prob["low_t"] < prob["additions_t"] - 1).any()


def test_every_assumed_figure_is_in_the_table_and_marked(
    bundled: SupplyChain, table: object
) -> None:
    import pandas as pd  # noqa: PLC0415

    assert isinstance(table, pd.DataFrame)
    lt = bundled.dataset["lead_times"]
    assumed = lt[lt["note"].str.contains("ASSUM|assum|critmin split", regex=True)]
    shown = set(zip(table["facility_type"], table["phase"], strict=True))
    ahead = set().union(*_phases_ahead(bundled, Policy()).values())
    # every assumed figure still ahead of some project is shown (none is in exploration)
    for row in assumed.itertuples():
        if (row.facility_type, row.phase) in ahead:
            assert (row.facility_type, row.phase) in shown, row.phase
    assert ("plant", "financing") in shown
    plant_pass = table[(table["facility_type"] == "plant") & (table["field"] == "pass_probability")]
    assert plant_pass["row_marks_assumption"].all()


def test_base_is_the_mean_of_the_draws_and_year_outside_is_refused(
    bundled: SupplyChain,
) -> None:
    early = expected_additions(bundled, Policy(), 2025, draws=200, seed=1)
    late = expected_additions(bundled, Policy(), 2040, draws=200, seed=1)
    assert (late.reindex(early.index).fillna(0) >= early - 1e-9).all()
    with pytest.raises(ValueError, match="year"):
        lead_time_sensitivity(bundled, Policy(), year=2050)
