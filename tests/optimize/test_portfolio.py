"""One portfolio of instruments: supply added to the scenarios, loss recomputed, ranked."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from critmin.cli import main
from critmin.optimize import portfolio as pf
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.problem import Agreements, Lots, ReserveProblem

from .fixtures import NO_AGREEMENTS

LOSS = 1000.0  # USD per t short


def ensemble(short: np.ndarray, price: np.ndarray | float = 50.0) -> Ensemble:
    """One mineral 'cobalt', quarterly; ``short`` (scenario, period) in t."""
    s, p = short.shape
    coords = {"scenario": np.arange(s), "period": np.arange(1, p + 1), "mineral": ["cobalt"]}
    one = {"mineral": ["cobalt"]}
    dims = ("scenario", "period", "mineral")
    prices = np.broadcast_to(np.asarray(price, float), (s, p))[:, :, None]
    return Ensemble(
        shortfall=xr.DataArray(short[:, :, None], coords=coords, dims=dims),
        price=xr.DataArray(prices.copy(), coords=coords, dims=dims),
        base_price=xr.DataArray([50.0], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([LOSS], coords=one, dims="mineral"),
        consumption=xr.DataArray([1000.0], coords=one, dims="mineral"),
        months_per_period=3,
    )


def shocks(seed: int = 4, scenarios: int = 200, periods: int = 20) -> Ensemble:
    rng = np.random.default_rng(seed)
    short = np.zeros((scenarios, periods))
    for i in range(scenarios):
        if rng.random() < 0.5:
            start = rng.integers(0, periods)
            short[i, start : start + rng.integers(1, 6)] = rng.lognormal(np.log(40.0), 1.0)
    return ensemble(short)


def project(size: float, lead: float, p: float = 1.0, cost: float = 1e6, **kw: object) -> dict:
    return {
        "id": f"p-{size}-{lead}-{p}-{cost}",
        "instrument": kw.get("instrument", pf.DOMESTIC),
        "mineral": "cobalt",
        "size": size,
        "lead_time_years": lead,
        "end_years": kw.get("end", np.inf),
        "completion_probability": p,
        "cost_usd": cost,
        "floor_usd_per_t": kw.get("floor", np.nan),
        "contract_price_usd_per_t": kw.get("contract", np.nan),
        "price_usd_t": kw.get("price", np.nan),
        "holding_per_year": kw.get("holding", 0.0),
        "drawdown_per_period": kw.get("drawdown", 1.0),
    }


def row(**kw: object) -> pd.Series:
    return pd.Series(project(**kw))  # type: ignore[arg-type]


def test_supply_is_added_and_the_loss_recomputed() -> None:
    short = np.zeros((1, 8))
    short[0, 2:5] = 100.0  # 100 t short in periods 3-5
    ens = ensemble(short)
    # 200 t/yr = 50 t a quarter from the start: covers 50 of each 100 short
    v = pf.value(ens, row(size=200.0, lead=0.0))
    assert v.expected_avoided_usd == pytest.approx(3 * 50 * LOSS)
    assert v.delivered_t == pytest.approx(150.0)
    # from 0.625 years (2.5 quarters): half of period 3, then periods 4 and 5
    v = pf.value(ens, row(size=200.0, lead=0.625))
    assert v.expected_avoided_usd == pytest.approx(2.5 * 50 * LOSS)
    # a stock of 120 t released at most 100 t a quarter covers 100 + 20
    stock = row(size=120.0, lead=0.0, instrument=pf.STOCK, price=50.0, drawdown=1.0)
    assert pf.value(ens, stock).expected_avoided_usd == pytest.approx(120 * LOSS)
    assert pf.value(ens, stock).cost_usd == pytest.approx(120 * 50.0)


@pytest.mark.parametrize("kind", [pf.DOMESTIC, pf.RECYCLING, pf.PARTNER_JV, pf.OFFTAKE, pf.STOCK])
def test_zero_capacity_avoids_zero_loss(kind: str) -> None:
    v = pf.value(shocks(), row(size=0.0, lead=0.0, instrument=kind, price=50.0, contract=60.0))
    assert v.expected_avoided_usd == 0.0
    assert v.tail_avoided_usd == pytest.approx(0.0, abs=1e-6)
    assert (
        pf.value(
            shocks(), row(size=80.0, lead=0.0, instrument=kind, price=50.0, contract=60.0)
        ).expected_avoided_usd
        > 0
    )


def test_a_later_lead_time_never_avoids_more() -> None:
    ens = shocks()
    leads = np.linspace(0.0, 5.5, 23)  # past the 5-year horizon
    values = [pf.value(ens, row(size=150.0, lead=float(t), p=0.8)) for t in leads]
    expected = [v.expected_avoided_usd for v in values]
    tail = [v.tail_avoided_usd for v in values]
    assert all(a >= b - 1e-9 for a, b in itertools.pairwise(expected))
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(tail))
    assert expected[0] > expected[len(expected) // 2] > 0
    assert expected[-1] == 0.0  # delivers nothing before its lead time


def test_completion_probability_scales_the_expected_value() -> None:
    ens = shocks()
    full = pf.value(ens, row(size=150.0, lead=1.0, p=1.0))
    half = pf.value(ens, row(size=150.0, lead=1.0, p=0.5))
    assert half.expected_avoided_usd == pytest.approx(0.5 * full.expected_avoided_usd)
    assert 0 < half.tail_avoided_usd <= full.tail_avoided_usd


def test_a_floor_adds_supply_only_once_the_price_falls_below_it() -> None:
    short = np.full((2, 8), 30.0)
    price = np.array([[60.0] * 8, [60.0, 60.0, 40.0, 60.0, 60.0, 60.0, 60.0, 60.0]])
    ens = ensemble(short, price)
    floor = row(size=40.0, lead=0.0, instrument=pf.FLOOR, floor=50.0, end=2.0)
    v = pf.value(ens, floor)
    # scenario 1 never dips: the producer runs anyway, the floor adds nothing and pays nothing;
    # scenario 2 dips in period 3: 10 t a quarter kept from then to the end of the tenor (2 yr)
    assert v.expected_avoided_usd == pytest.approx(0.5 * 6 * 10 * LOSS)
    assert v.cost_usd == pytest.approx(0.5 * (50.0 - 40.0) * 10.0)


def test_ranking_is_by_the_stated_ratio() -> None:
    ens = shocks()
    rows = [
        project(size=s, lead=t, cost=c)
        for s, t, c in [(150, 0, 5e6), (40, 1, 1e5), (300, 3, 2e7), (90, 0.5, 1e6)]
    ]
    rows.append(project(size=60.0, lead=0.0, cost=np.nan))  # not priced
    rows.append(project(size=60.0, lead=0.0, instrument=pf.OFFTAKE, contract=10.0))  # cheap
    ranked, skipped = pf.evaluate(ens, pd.DataFrame(rows))
    assert skipped.empty
    assert list(ranked["rank"]) == list(range(1, len(rows) + 1))
    # pays for itself first, then by the ratio, then the unpriced
    assert ranked["pays_for_itself"].iloc[0]
    priced = ranked[ranked["expected_avoided_per_usd"].notna()]
    ratio = (priced["expected_loss_avoided_usd"] / priced["cost_usd"]).to_numpy()
    assert np.allclose(ratio, priced["expected_avoided_per_usd"])
    assert (np.diff(ratio) <= 0).all()
    assert ranked["cost_usd"].isna().iloc[-1]


def test_instruments_of_other_minerals_are_left_out_with_the_reason() -> None:
    frame = pd.DataFrame([project(size=10.0, lead=0.0) | {"mineral": "aluminum", "id": "al"}])
    ranked, skipped = pf.evaluate(shocks(), frame)
    assert ranked.empty
    assert list(skipped["id"]) == ["al"]


def test_cli_portfolio_json(tmp_path: Path) -> None:
    out = tmp_path / "portfolio.json"
    result = CliRunner().invoke(
        main, ["portfolio", "--runs", "30", "--draws", "50", "--seed", "3", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    rows = data["instruments"]
    kinds = {r["instrument"] for r in rows}
    assert {pf.STOCK, pf.DOMESTIC, pf.PARTNER_JV} <= kinds
    assert {"expected_avoided_per_usd", "tail_avoided_per_usd", "lead_time_years"} <= set(rows[0])
    for r in rows:  # the stock and agreements are choices; unpriced instruments are valued alone
        if r["instrument"] in (pf.STOCK, pf.OFFTAKE, pf.FLOOR):
            assert r["in_lp"]
        assert r["in_lp"] == (r["valued_by"] != pf.ALONE)
        if r["in_lp"] and r["level"] > 0:
            assert r["valued_by"] == pf.LEAVE_ONE_OUT
    assert data["ranking_method"] == pf.RANKING
    assert data["ranked_by"] == "expected_avoided_per_usd"
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))


def test_scenario_weights_count_as_repeated_scenarios() -> None:
    a = np.zeros(8)
    a[1:4] = 60.0
    b = np.zeros(8)
    b[5:] = 200.0
    repeated = ensemble(np.stack([a, a, b]), np.stack([np.full(8, 40.0)] * 3))
    weighted = ensemble(np.stack([a, b]), np.stack([np.full(8, 40.0)] * 2))
    weighted = replace(
        weighted, weight=xr.DataArray([2 / 3, 1 / 3], coords={"scenario": [0, 1]}, dims="scenario")
    )
    for r in (
        row(size=100.0, lead=0.5, p=0.7),
        row(size=90.0, lead=0.0, instrument=pf.STOCK, price=50.0, drawdown=0.5),
        row(size=80.0, lead=0.0, instrument=pf.FLOOR, floor=45.0, end=3.0),
    ):
        u, w = pf.value(repeated, r), pf.value(weighted, r)
        assert w.expected_avoided_usd == pytest.approx(u.expected_avoided_usd)
        assert w.tail_avoided_usd == pytest.approx(u.tail_avoided_usd)
        assert w.cost_usd == pytest.approx(u.cost_usd)
        assert u.expected_avoided_usd > 0


def test_the_programme_values_an_instrument_with_the_others_in_place() -> None:
    """Two projects that each cover the whole shortfall: alone, each avoids it all; in the one
    programme the cheaper is supported, and the dearer is worth less than it costs."""
    ens = ensemble(np.full((4, 8), 50.0))
    cheap = project(size=200.0, lead=0.0, cost=1e5) | {"id": "cheap"}
    dear = project(size=200.0, lead=0.0, cost=2e5) | {"id": "dear"}
    table = pd.DataFrame([cheap, dear])
    alone = pf.value(ens, table.iloc[1])
    dear_stock = pd.DataFrame(  # a lot too dear to hold, so that only the projects count
        [
            {
                "mineral": "cobalt",
                "form": "metal",
                "stage": "refining",
                "price_multiplier": 1e6,
                "holding_cost_per_year": 0.0,
                "drawdown_per_month": 1.0,
            }
        ]
    )
    assert alone.expected_avoided_usd == pytest.approx(8 * 50 * LOSS)
    problem = ReserveProblem(
        ens,
        Lots.from_table(dear_stock, ens),
        Agreements(NO_AGREEMENTS),
        budget=1e9,
        projects=pf.projects_of(table, ["cobalt"]),
    )
    problem.build()
    sol = problem.solve()
    ranked, _ = pf.in_programme(problem, sol, table)
    got = ranked.set_index("id")
    assert got.loc["cheap", "level"] == pytest.approx(1.0)
    assert got.loc["cheap", "valued_by"] == pf.LEAVE_ONE_OUT
    assert got.loc["dear", "level"] == pytest.approx(0.0)
    assert got.loc["dear", "valued_by"] == pf.MARGINAL
    # alone it avoids twice its cost; in the programme its marginal value is below its cost
    # (the shortfall it would meet is met already, at the cheap one's price)
    assert alone.expected_avoided_usd / alone.cost_usd == pytest.approx(2.0)
    assert got.loc["dear", "expected_avoided_per_usd"] < 1.0
    # without the cheap one, the dear one makes up all of it: the cheap one avoids no loss the
    # programme could not avoid otherwise (its value is the 1e5 USD it saves)
    assert got.loc["cheap", "expected_loss_avoided_usd"] == pytest.approx(0.0, abs=1e-3)
