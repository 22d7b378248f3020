"""U.S. demand that matches USGS: apparent consumption, or production + imports - exports
where USGS withholds it, flagged (issue 10, item 6)."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.data.load import load


@pytest.fixture(scope="module")
def us() -> pd.DataFrame:
    return load()["us_supply"]


def derived(us: pd.DataFrame) -> pd.DataFrame:
    return us[us["detail"].str.contains("critmin: production + imports - exports", regex=False)]


def test_derived_consumption_recomputes_from_the_usgs_rows(us: pd.DataFrame) -> None:
    """Plumbing: tungsten 2024 = mine production + all imports - all exports (W content)."""
    w = us[(us["mineral"] == "tungsten") & (us["year"] == 2024)]
    value = derived(w)["value"].item()
    prod = w[w["detail"].str.startswith("Tungsten: Production: Mine")]["value"].sum()
    imp = w[w["statistic"] == "imports"]["value"].sum()
    exp = w[w["statistic"] == "exports"]["value"].sum()
    assert value == pytest.approx(prod + imp - exp)


def test_derived_rows_are_flagged_and_name_missing_terms(us: pd.DataFrame) -> None:
    rows = derived(us)
    assert not rows.empty
    assert rows["estimated"].all()
    lithium = rows[rows["mineral"] == "lithium"]
    assert lithium["note"].str.contains("not reported: production").all()


def test_published_consumption_is_never_overwritten(us: pd.DataFrame) -> None:
    """Where USGS publishes apparent consumption no derived row is added."""
    official = ~us["estimated"].astype(bool)
    published = set(us[(us["statistic"] == "consumption") & official]["mineral"])
    assert not published & set(derived(us)["mineral"])


def test_rhodium_demand_is_net_imports(us: pd.DataFrame) -> None:
    rh = us[(us["mineral"] == "rhodium") & (us["year"] == 2024)]
    imp = rh[rh["statistic"] == "imports"]["value"].sum()
    exp = rh[rh["statistic"] == "exports"]["value"].sum()
    assert derived(rh)["value"].item() == pytest.approx(imp - exp)
