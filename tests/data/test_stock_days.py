"""Commercial stock cover per mineral from the USGS U.S. stocks (critmin.data.stock_days):
recomputed here from the bundled USGS rows, never copied from the build's output."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.data.load import Dataset, load
from critmin.data.stock_days import stock_days
from critmin.economics.price import base_year, shock_years_of_dataset
from critmin.schema.validate import DataError
from critmin.schema.vocabulary import DAYS_PER_MONTH, DAYS_PER_YEAR
from critmin.simulate.model import build_model

DAYS = "commercial_stock_days"


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return load()


@pytest.fixture(scope="module")
def bundled_chain() -> SupplyChain:
    return SupplyChain.load()


def _param(ds: Dataset, mineral: str, name: str = DAYS) -> pd.Series:
    p = ds["market_parameters"]
    return p[(p["mineral"] == mineral) & (p["parameter"] == name)].iloc[0]


def _cover(
    ds: Dataset, mineral: str, stocks: list[str] | None, consumption: str, keep_out: tuple = ()
) -> float:
    """Mean yearend stocks / mean consumption x 365.25 over the pre-shock years 2021..base."""
    us = ds["us_supply"]
    mine = us[(us["mineral"] == mineral) & us["value"].notna()]
    base = base_year(mineral, shock_years_of_dataset(ds))
    mine = mine[mine["year"].astype(int) <= base]
    st = mine[mine["statistic"] == "stocks"]
    for word in keep_out:
        st = st[~st["detail"].str.contains(word, regex=False)]
    if stocks is not None:
        st = st[st["detail"].isin(stocks)]
    cons = mine[(mine["statistic"] == "consumption") & (mine["detail"] == consumption)]
    years = sorted(set(st["year"]) & set(cons["year"]))
    assert years, mineral
    s = st[st["year"].isin(years)]["value"].sum() / len(years)
    c = cons[cons["year"].isin(years)]["value"].sum() / len(years)
    return float(s / c * DAYS_PER_YEAR)


def test_cobalt_cover_recomputes_from_the_usgs_rows(ds: Dataset) -> None:
    """Industry stocks plus the LME U.S. warehouse over apparent consumption (both Co content,
    t), 2021-2024: cobalt's first library event is the DRC's 2025 suspension."""
    assert base_year("cobalt", shock_years_of_dataset(ds)) == 2024
    want = _cover(ds, "cobalt", None, "Cobalt: Consumption (includes secondary): Apparent")
    row = _param(ds, "cobalt")
    assert float(row["value"]) == pytest.approx(want, abs=0.05)
    assert row["source_id"] == "USGS_MCS2026_DR"


def test_gallium_cover_uses_the_years_before_the_2023_controls_and_tonnes(ds: Dataset) -> None:
    """Gallium's base year is 2022 (controls from August 2023): only 2021-22 count. Its stocks
    are in kg in the release; both figures must be in tonnes here."""
    assert base_year("gallium", shock_years_of_dataset(ds)) == 2022
    us = ds["us_supply"]
    ga = us[(us["mineral"] == "gallium") & us["statistic"].isin(["stocks", "consumption"])]
    assert set(ga["unit"]) == {"t"}
    want = _cover(ds, "gallium", None, "Gallium: Consumption, reported")
    assert float(_param(ds, "gallium")["value"]) == pytest.approx(want, abs=0.05)
    latest = _cover_all_years(ds, "gallium")
    assert not math.isclose(want, latest, rel_tol=1e-3)  # the base-year rule matters


def _cover_all_years(ds: Dataset, mineral: str) -> float:
    us = ds["us_supply"]
    m = us[(us["mineral"] == mineral) & (us["year"].astype(int) <= 2024)]
    s = m[m["statistic"] == "stocks"].groupby("year")["value"].sum()
    c = m[m["statistic"] == "consumption"].groupby("year")["value"].sum()
    return float(s.mean() / c.mean() * DAYS_PER_YEAR)


def test_silver_leaves_treasury_and_comex_out(ds: Dataset) -> None:
    """Government (Treasury) and investment (COMEX vault) silver are not commercial cover."""
    consumption = "Silver: Consumption, apparent"
    industry = _cover(ds, "silver", None, consumption, keep_out=("Treasury", "COMEX"))
    everything = _cover(ds, "silver", None, consumption)
    assert float(_param(ds, "silver")["value"]) == pytest.approx(industry, abs=0.05)
    assert everything > 10 * industry


def test_manganese_is_gross_weight_over_gross_weight(ds: Dataset) -> None:
    """Manganese stocks are gross weight: they are set against the reported consumption of the
    same three forms (gross), not the apparent consumption in Mn content."""
    us = ds["us_supply"]
    mn = us[(us["mineral"] == "manganese") & (us["year"].astype(int) <= 2024)]
    forms = ("Manganese ore", "Ferromanganese", "Silicomanganese")
    st = mn[(mn["statistic"] == "stocks") & mn["detail"].str.endswith(forms)]
    reported = mn[
        (mn["statistic"] == "consumption")
        & mn["detail"].str.startswith("Manganese: Consumption, reported:")
        & mn["detail"].str.endswith(forms)
    ]
    assert len(st) == len(reported) == 12
    want = st["value"].sum() / reported["value"].sum() * DAYS_PER_YEAR
    assert float(_param(ds, "manganese")["value"]) == pytest.approx(want, abs=0.05)


def test_stock_days_are_finite_and_not_negative(ds: Dataset) -> None:
    p = ds["market_parameters"]
    days = p[p["parameter"].isin([DAYS, "supplier_stock_days"])]["value"].astype(float)
    assert len(days) > 0
    assert np.isfinite(days).all()
    assert (days >= 0).all()


def test_default_only_where_no_commercial_usgs_row_exists(ds: Dataset) -> None:
    """A mineral keeps the critmin default only without a usable USGS stock row: none at all,
    withheld (W, not in the table), government only (Treasury) or an ore stock at a processor
    (supplier side). Every other mineral with stocks and consumption gets a derived row."""
    p = ds["market_parameters"]
    rows = p[p["parameter"] == DAYS]
    on_default = set(rows[rows["source_id"] == "CRITMIN_ASSUMPTION"]["mineral"])
    us = ds["us_supply"]
    stocks = us[(us["statistic"] == "stocks") & us["value"].notna()]
    commercial = stocks[~stocks["detail"].str.contains("Treasury|, ore,", regex=True)]
    consumed = set(us[(us["statistic"] == "consumption") & us["value"].notna()]["mineral"])
    usable = set(commercial["mineral"]) & consumed
    assert usable, "no USGS stock rows bundled"
    assert not usable & on_default
    derived = set(rows[rows["source_id"] == "USGS_MCS2026_DR"]["mineral"])
    # a hand-entered row wins over a derived one; every derived mineral has usable rows
    assert derived <= usable
    assert {"gold", "beryllium"} <= on_default  # Treasury only; ore at the processor only


def test_hand_entered_rows_and_the_supplier_default_are_kept(ds: Dataset) -> None:
    """Tungsten (USGS withholds its stocks) keeps its sourced row; supplier-side input stock
    stays the labelled critmin assumption for every mineral but cobalt (sourced, below)."""
    assert _param(ds, "tungsten")["source_id"] == "ARGUS_JP_STOCK_2020"
    p = ds["market_parameters"]
    supplier = p[p["parameter"] == "supplier_stock_days"]
    assert set(supplier["mineral"]) == set(ds["minerals"]["id"])
    assert set(supplier[supplier["mineral"] != "cobalt"]["source_id"]) == {"CRITMIN_ASSUMPTION"}


#: Benchmark Mineral Intelligence: cobalt held outside the DRC in 2025 Q2, months of global
#: consumption (8-10; REUTERS_HOME_CO_2025), the lower end
REPORTED_COBALT_STOCK_MONTHS = 8.0


def test_cobalt_plant_stock_is_sourced_and_within_the_reported_total(
    ds: Dataset, bundled_chain: SupplyChain
) -> None:
    """Cobalt's plant input stock is the sourced row (the ~90-day sea pipeline from the DRC to
    China's refiners), marked estimated, its sources in the sources table; the stock the
    engine starts the chain with (every plant's input stock plus the consumer regions')
    is no more than the months of consumption BMI reported held outside the DRC."""
    row = _param(ds, "cobalt", "supplier_stock_days")
    sources = set(ds["sources"]["id"])
    assert row["source_id"] != "CRITMIN_ASSUMPTION"
    assert row["source_id"] in sources
    assert "REUTERS_SMM_CO_2025" in sources
    assert "REUTERS_SMM_CO_2025" in str(row["note"])
    assert str(row["estimated"]).lower() == "true"
    model = build_model(bundled_chain, "cobalt")
    assert model.node_stock_days == float(row["value"])
    per_month = DAYS_PER_MONTH
    plant_t = sum(
        float((model.flows[k - 1].sum(axis=0) * model.input_stocked).sum())
        for k in range(1, model.K)
    ) * (model.node_stock_days / per_month)
    region_t = float(model.demand.sum()) * model.region_stock_days / per_month
    months = (plant_t + region_t) / float(model.demand.sum())
    assert months > model.node_stock_days / per_month  # the refiners' pipeline at least
    assert months <= REPORTED_COBALT_STOCK_MONTHS


def _usgs(rows: list[tuple[str, int, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "mineral": m,
                "year": str(y),
                "statistic": s,
                "detail": d,
                "value": v,
                "unit": "t",
                "estimated": "false",
            }
            for m, y, s, d, v in rows
        ]
    )


def test_ratio_of_means_over_complete_pre_shock_years() -> None:
    """Synthetic rows: 2023 lacks one stock row (withheld) and 2025 is after the base year, so
    only 2021, 2022 and 2024 count, as mean stocks / mean consumption."""
    rows = []
    for y, a, b, c in ((2021, 10, 5, 100), (2022, 20, 5, 300), (2024, 30, 5, 200), (2025, 1, 1, 1)):
        rows += [
            ("x", y, "stocks", "X: Stocks, consumer", a),
            ("x", y, "stocks", "X: Stocks, LME", b),
            ("x", y, "consumption", "X: Consumption, apparent", c),
        ]
    rows += [("x", 2023, "stocks", "X: Stocks, LME", 7.0)]
    rows += [("x", 2023, "consumption", "X: Consumption, apparent", 50.0)]
    rules = pd.DataFrame(
        [
            {
                "mineral": "x",
                "stocks": "X: Stocks, consumer|X: Stocks, LME",
                "consumption": "X: Consumption, apparent",
                "excluded": "",
                "basis": "t",
                "note": "test",
            },
            {
                "mineral": "y",
                "stocks": "",
                "consumption": "",
                "excluded": "Y: Stocks, Treasury",
                "basis": "t",
                "note": "not derived",
            },
        ]
    )
    out, skipped = stock_days(_usgs(rows), rules, {"x": 2024, "y": 2024}, "SRC")
    want = ((10 + 5 + 20 + 5 + 30 + 5) / 3) / ((100 + 300 + 200) / 3) * DAYS_PER_YEAR
    assert float(out["value"].item()) == pytest.approx(want, abs=0.05)
    assert "over 2021, 2022, 2024 (base year 2024" in out["note"].item()
    assert out["source_id"].item() == "SRC"
    assert skipped == {"y": "not derived"}


def test_cover_on_derived_consumption_is_flagged(ds: Dataset) -> None:
    """Silicon: USGS withholds consumption (critmin derives production + imports - exports) and
    its stocks from 2024, so its cover is flagged estimated and spans the years with stocks."""
    us = ds["us_supply"]
    si = us[(us["mineral"] == "silicon") & (us["statistic"] == "stocks") & us["value"].notna()]
    last = int(si["year"].astype(int).max())
    row = _param(ds, "silicon")
    assert row["source_id"] == "USGS_MCS2026_DR"
    assert str(row["estimated"]).lower() == "true"
    assert f"-{last} (base year" in row["note"]
    official = _param(ds, "cobalt")
    assert str(official["estimated"]).lower() == "false"


REPO = Path(__file__).resolve().parents[2]


def _editions() -> pd.DataFrame:
    path = REPO / "data-src" / "manual" / "us_stock_editions.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_antimony_cover_recomputes_from_the_mcs2020_rows(ds: Dataset) -> None:
    """Antimony's U.S. yearend stocks are in MCS 2020 (2015-18; 2019e not entered), not in MCS
    2026: mean stocks / mean apparent consumption of the same edition x 365.25, over the years up
    to antimony's base year, recomputed from the hand-entered edition rows."""
    base = base_year("antimony", shock_years_of_dataset(ds))
    rows = _editions()
    sb = rows[(rows["mineral"] == "antimony") & (rows["year"].astype(int) <= base)]
    st = sb[sb["statistic"] == "stocks"].set_index("year")["value"].astype(float)
    co = sb[sb["statistic"] == "consumption"].set_index("year")["value"].astype(float)
    assert sorted(st.index) == sorted(co.index) == ["2015", "2016", "2017", "2018"]
    want = st.mean() / co.mean() * DAYS_PER_YEAR
    row = _param(ds, "antimony")
    assert float(row["value"]) == pytest.approx(want, abs=0.05)
    assert row["source_id"] == "USGS_MCS2020_SB" == sb["source_id"].unique().item()
    assert "2015-2018" in row["note"]
    # not the critmin default any more, and not the latest year alone (78 days)
    assert float(row["value"]) != 30.0
    assert not math.isclose(
        float(row["value"]), st["2018"] / co["2018"] * DAYS_PER_YEAR, rel_tol=1e-3
    )


def test_every_sourced_stock_row_cites_a_bundled_source(ds: Dataset) -> None:
    """Each stock-cover row (derived, hand-entered or default) names a source the bundled
    sources table holds, and each edition row the build reads does too."""
    p = ds["market_parameters"]
    rows = p[p["parameter"].isin([DAYS, "supplier_stock_days"])]
    known = set(ds["sources"]["id"])
    assert set(rows["source_id"]) <= known
    assert set(_editions()["source_id"]) <= known


def test_edition_rows_are_not_us_supply_rows(ds: Dataset) -> None:
    """The earlier editions' rows serve the stock cover only: nothing reads them as U.S.
    supply (antimony's us_supply rows stay MCS 2026's, 2021 on)."""
    us = ds["us_supply"]
    sb = us[us["mineral"] == "antimony"]
    assert len(sb) > 0
    assert not sb["detail"].isin(_editions()["detail"]).any()
    assert int(sb["year"].astype(int).min()) >= 2021


def test_sourced_stock_rows_are_the_chain_models_stocks(bundled_chain: SupplyChain) -> None:
    """A sourced cover is used by the chain built: the consuming regions of the antimony and
    cobalt models hold the bundled ``commercial_stock_days``, not the 30-day default."""
    params = bundled_chain.dataset["market_parameters"]
    for mineral in ("antimony", "cobalt"):
        row = params[(params["mineral"] == mineral) & (params["parameter"] == DAYS)]
        assert row["source_id"].item() != "CRITMIN_ASSUMPTION"
        model = build_model(bundled_chain, mineral)
        assert model.region_stock_days == float(row["value"].item()) != 30.0


def test_a_rule_takes_one_edition_and_cites_it() -> None:
    """A derived row cites the source of the rows it used; rows of two editions under one rule
    are refused with the mineral named."""
    rows = _usgs(
        [
            ("x", 2017, "stocks", "X: Stocks", 10.0),
            ("x", 2017, "consumption", "X: Consumption", 365.0),
        ]
    )
    rows["source_id"] = "OLD_EDITION"
    rules = pd.DataFrame(
        [
            {
                "mineral": "x",
                "stocks": "X: Stocks",
                "consumption": "X: Consumption",
                "excluded": "",
                "basis": "t",
                "note": "test",
            }
        ]
    )
    out, _ = stock_days(rows, rules, {"x": 2024}, "DEFAULT")
    assert out["source_id"].item() == "OLD_EDITION"
    assert float(out["value"].item()) == pytest.approx(10.0)
    assert "OLD_EDITION (an earlier edition)" in out["note"].item()
    rows.loc[1, "source_id"] = "NEW_EDITION"
    with pytest.raises(DataError, match=r"us_stock_days.csv.*rule for x"):
        stock_days(rows, rules, {"x": 2024}, "DEFAULT")
