"""critmin backtest and critmin criticality --method eu: the interfaces and what they rest on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.data.load import Dataset, load
from critmin.scenarios.load import Labels, parse_scenario
from critmin.scenarios.spec import month_index
from critmin.simulate.backtest import Record, backtest, episodes, score

BACKTEST_KEYS = {"episode", "quantity", "unit", "observed", "modelled", "source_id", "in_sample"}
EU_KEYS = {"mineral", "sr", "ei", "bottleneck_stage", "critical"}


def test_backtest_records_cite_their_sources() -> None:
    result = CliRunner().invoke(main, ["backtest", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    episodes = {r["episode"] for r in rows}
    assert len(episodes) >= 4
    sources = set(load()["sources"]["id"])
    for r in rows:
        assert set(r) >= BACKTEST_KEYS
        assert r["source_id"] in sources
        assert r["modelled"] is not None
    # the fitted approval path is in-sample for the May 2025 total and reproduces it
    fitted = [r for r in rows if r["episode"] == "magnets-2025-04" and r["in_sample"]]
    assert fitted
    assert abs(fitted[0]["modelled"] - fitted[0]["observed"]) < 0.02
    assert any(not r["in_sample"] for r in rows)


def test_eu_criticality_records() -> None:
    result = CliRunner().invoke(main, ["criticality", "--method", "eu", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["mineral"]: r for r in json.loads(result.output)}
    for r in rows.values():
        assert set(r) >= EU_KEYS
        assert r["critical"] == (
            r["sr"] is not None and r["ei"] is not None and r["sr"] >= 1 and r["ei"] >= 2.8
        )
        assert r["marked"]  # what is not sourced is said
    ree = rows["rare_earths"]
    assert ree["sr"] > 1
    assert ree["bottleneck_stage"] in ree["sr_by_stage"]
    assert ree["sr"] == max(ree["sr_by_stage"].values())
    # a concentrated, governance-risky supply has a higher SR than a diversified one
    assert rows["gallium"]["sr"] > rows["copper"]["sr"]


def test_scores_keep_fitted_observations_apart() -> None:
    def rec(observed: float, modelled: float, in_sample: bool) -> Record:
        return Record("e", "q", "ratio", observed, modelled, "S", in_sample)

    out, fitted = score([rec(2.0, 4.0, False), rec(0.0, 0.5, False), rec(1.0, 1.0, True)])
    assert not out.in_sample
    assert fitted.in_sample
    assert out.mean_abs_log_error == pytest.approx(np.log(2.0))
    assert (out.scored, out.unscored) == (1, 1)  # an observed 0 is shown, not scored
    assert fitted.mean_abs_log_error == 0.0
    assert "plumbing" in fitted.describe()


def test_no_price_mean_averages_months_before_the_episode_acts() -> None:
    """An averaged price is compared with what the episode's measure caused: its months start
    no earlier than the episode's first event. The 2024 antimony observation averaged all of
    2024 against 2023 (x1.865) while the licence started in September, and the price had risen
    x1.82 before the announcement (REUTERS_SB_AUG2024), a rise no event of the scenario
    carries (docs/criticality.md section 7)."""
    labels = Labels.of(load())
    checked = 0
    for name, ep in episodes().items():
        scenario = parse_scenario({"name": name, **ep["scenario"]}, name, labels)
        first = min(month_index(e.start) for e in scenario.events.values())
        acts = first - month_index(scenario.start) + 1  # the month (1-based) it first acts in
        for obs in ep["observations"]:
            m = obs["measure"]
            if m["kind"] == "price_mean":
                checked += 1
                assert int(m["from"]) >= acts, (name, obs["quantity"], acts)
    assert checked


def test_the_2010_quota_clears_the_oxide_market() -> None:
    """The 2010 quota bound oxides and the price observed is an oxide price: the episode clears
    the chain up to separation, where the quota moves the ex-China price (observed x3.7); on
    the full chain China's magnets supply the rest of the world and the price barely moves."""
    assert episodes()["ree-2010-quota"]["stages"] == ["mining", "refining"]
    rows = [r for r in backtest(SupplyChain.load()) if r.episode == "ree-2010-quota"]
    price = next(r for r in rows if not r.in_sample)
    assert abs(price.log_error) < np.log(1.5)
    quota = next(r for r in rows if r.in_sample)  # the scenario's input, reproduced
    assert quota.modelled == pytest.approx(quota.observed, abs=0.02)


def _with_param(ds: Dataset, mineral: str, name: str, value: float) -> Dataset:
    """A copy of ``ds`` whose ``market_parameters`` row (mineral, name) holds ``value``."""
    params = ds["market_parameters"].copy()
    at = (params["mineral"] == mineral) & (params["parameter"] == name)
    assert at.sum() == 1
    params.loc[at, "value"] = value
    tables = {**ds.tables, "market_parameters": params}
    return Dataset(tables, ds.files, dict(ds._lazy))


def test_the_cobalt_episode_moves_with_the_sourced_plant_stock() -> None:
    """The DRC's 2025 suspension: at the 30-day plant input stock (the critmin default) the
    ex-China price runs to the choke price within 8 months; with cobalt's sourced 90 days (the
    sea pipeline from the DRC to China's refiners, REUTERS_HOME_CO_2025) the stock lasts into
    the eighth month and the price stays far lower. The observation is in-sample: the parameter
    was sourced because this episode missed."""
    ds = load()
    params = ds["market_parameters"]

    def value(mineral: str) -> float:
        row = params[
            (params["mineral"] == mineral) & (params["parameter"] == "supplier_stock_days")
        ]
        return float(row["value"].iloc[0])

    sourced = value("cobalt")
    default = float(
        params[
            (params["parameter"] == "supplier_stock_days")
            & (params["source_id"] == "CRITMIN_ASSUMPTION")
        ]["value"].iloc[0]
    )
    assert sourced > default
    episode = ["cobalt-2025-drc"]
    (now,) = backtest(SupplyChain.from_dataset(ds), episode)
    (before,) = backtest(
        SupplyChain.from_dataset(_with_param(ds, "cobalt", "supplier_stock_days", default)),
        episode,
    )
    assert now.in_sample
    assert before.modelled > 2.0 * now.modelled
    assert abs(now.log_error) < abs(before.log_error)
    # and more stock never raises the price it sets
    (more,) = backtest(
        SupplyChain.from_dataset(_with_param(ds, "cobalt", "supplier_stock_days", 2 * sourced)),
        episode,
    )
    assert more.modelled <= now.modelled
