"""Indonesia's nickel-ore bans and Zimbabwe's lithium bans in the event library: they load and
validate, shape Indonesia's new nickel restriction (its ore ban on the mining stage, not China's
fitted licence path), do not move the price base year, and Indonesia's restriction rate carries
its record (docs/criticality.md §5)."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import base_year, parents_of_dataset, shock_years
from critmin.scenarios.load import Labels, library_events, parse_scenario
from critmin.scenarios.probability import (
    RegimeState,
    governance_risk,
    occurrence_probability,
    restriction_rate,
)
from critmin.simulate.backtest import episode_inputs, episodes
from critmin.simulate.disruptions import FITTED_PATH, DisruptionSet
from critmin.simulate.model import build_model
from critmin.simulate.shocks import build_shocks

NEW = {
    "idn-2014-01-nickel-ore-ban": ("IDN", "nickel", "lifted"),
    "idn-2020-01-nickel-ore-ban": ("IDN", "nickel", "in_force"),
    "zwe-2022-12-lithium-ore-ban": ("ZWE", "lithium", "lifted"),
    "zwe-2026-02-lithium-concentrate-ban": ("ZWE", "lithium", "in_force"),
}


@pytest.fixture(scope="module")
def dset(bundled: SupplyChain) -> DisruptionSet:
    return DisruptionSet.of(bundled, parents_of_dataset(bundled.dataset))


@pytest.mark.parametrize("name", sorted(NEW))
def test_new_events_load_validate_and_cite_sources(bundled: SupplyChain, name: str) -> None:
    body = library_events()[name]
    country, mineral, state = NEW[name]
    assert (body["country"], body["minerals"], body["stages"]) == (country, [mineral], ["mining"])
    assert RegimeState(body["state"]) == state
    raw = {"name": "t", "start": body["start"], "events": {"e": {"use": name}}}
    scenario = parse_scenario(raw, "test", Labels.of(bundled.dataset))  # validates the event
    assert scenario.events["e"].kind == "export_control"
    sources = set(bundled.dataset["sources"]["id"])
    assert {s for s in sources if s in body["note"]}, f"{name}: its note cites no bundled source"


def test_record_rows_carry_bundled_sources(bundled: SupplyChain) -> None:
    record = bundled.dataset["export_restrictions"]
    sources = set(bundled.dataset["sources"]["id"])
    assert set(record["source_id"]) <= sources
    keyed = set(zip(record["country"], record["mineral"], record["start"], strict=True))
    for row in [
        ("IDN", "nickel", "2014-01"),
        ("IDN", "nickel", "2020-01"),
        ("IDN", "aluminum", "2014-01"),
        ("IDN", "aluminum", "2023-06"),
        ("ZWE", "lithium", "2022-12"),
        ("COD", "cobalt", "2013-04"),
    ]:
        assert row in keyed, f"{row} missing from the restriction record"


def test_ore_ban_cuts_indonesian_mining_exports_only(bundled: SupplyChain) -> None:
    raw = {"name": "t", "start": "2014-01", "events": {"e": {"use": "idn-2014-01-nickel-ore-ban"}}}
    scenario = parse_scenario(raw, "test", Labels.of(bundled.dataset))
    model = build_model(bundled, "nickel")
    shocks = build_shocks(
        scenario, model, parents_of_dataset(bundled.dataset), 1, 40, np.random.default_rng(0)
    )
    o = model.countries.index("IDN")
    k = model.stages.index("mining")
    assert set(shocks.lanes) == {(k, o)}  # Indonesia's mining exports, nothing else
    lane = shocks.lanes[(k, o)][0]  # (months, destinations)
    abroad = np.arange(lane.shape[1]) != o
    # 36 months, every mining-stage export: the 2013 cut (19% of world mine output) is more
    # than Indonesia's modelled mining exports on the back-test's chain (as of 2013)
    assert np.allclose(lane[:36][:, abroad], 0.0)
    replay = episode_inputs(bundled, "nickel-2014-idn").model
    mine = replay.capacity[k]
    i = replay.countries.index("IDN")
    exports = replay.flows[k][i].sum() - replay.flows[k][i, i]
    assert 0.19 * mine.sum() > exports > 0
    assert np.all(lane[36:] == 1.0)  # relaxed in January 2017


def test_new_indonesian_restriction_takes_indonesias_shape(
    bundled: SupplyChain, dset: DisruptionSet
) -> None:
    events = dset.restriction_events(bundled, "nickel")
    idn = events["restriction-IDN-nickel"]
    own = dset.library["idn-2020-01-nickel-ore-ban"]
    assert idn["regime"] == "ban"
    assert "approval" not in idn
    assert idn["coverage"] == own["coverage"]
    assert idn["stages"] == ["mining"]  # major in refining too, but the ore ban spares it
    assert "idn-2020-01-nickel-ore-ban" in idn["note"]
    # China, without a nickel regime of its own, keeps the path fitted to the April 2025 magnets
    chn = events["restriction-CHN-nickel"]
    assert chn["regime"] == "licensing"
    assert chn["approval"] == dset.library[FITTED_PATH]["approval"]


def test_indonesian_nickel_restriction_is_likelier_than_australias_or_canadas(
    bundled: SupplyChain, dset: DisruptionSet
) -> None:
    ds, cal = bundled.dataset, dset.calibration
    rate = {c: restriction_rate(ds, cal, c, "nickel") for c in ("IDN", "AUS", "CAN")}
    p = {c: occurrence_probability(r) for c, r in rate.items()}
    assert p["IDN"] > p["AUS"]
    assert p["IDN"] > p["CAN"]
    # more than governance alone gives: Indonesia's record and trade parameter count
    g = governance_risk(ds)
    for other in ("AUS", "CAN"):
        assert rate["IDN"] / rate[other] > 2.0 * g["IDN"] / g[other]


def test_pre_window_regimes_do_not_move_the_base_year(bundled: SupplyChain) -> None:
    shocks = shock_years(library_events(), {})
    assert base_year("nickel", shocks) == 2024
    assert base_year("lithium", shocks) == 2024
    assert bundled.base_year("nickel") == 2024
    # the flag is what keeps them out: without it the 2014 ban would put nickel in 2013
    library = library_events()
    library["idn-2014-01-nickel-ore-ban"].pop("sets_base_year")
    assert base_year("nickel", shock_years(library, {})) == 2013


def test_nickel_backtest_is_out_of_sample_and_sourced(bundled: SupplyChain) -> None:
    ep = episodes()["nickel-2014-idn"]
    sources = set(bundled.dataset["sources"]["id"])
    for obs in ep["observations"]:
        assert obs["in_sample"] is False
        assert obs["source_id"] in sources
