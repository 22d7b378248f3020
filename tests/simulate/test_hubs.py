"""Re-export hubs as pass-through nodes (critmin.simulate.hubs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import base_year, parents_of_dataset
from critmin.scenarios.load import Labels, load_scenario, parse_scenario
from critmin.schema.vocabulary import REGIONS
from critmin.simulate.engine import check_balance, run
from critmin.simulate.hubs import hub_candidates, hub_origins, route_through_hubs
from critmin.simulate.intermediaries import import_source_shares
from critmin.simulate.model import (
    POOL_BELOW,
    ChainModel,
    build_model,
    shock_years_of,
    trade_by_stage,
)
from critmin.simulate.shocks import Shocks, build_shocks

from .specs import outage

USA = REGIONS.index("USA")


def _trade(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["exporter", "importer", "quantity_t"])


def test_a_hub_carries_its_imports_origins_through_other_hubs() -> None:
    """BEL buys 3 t from CHN and 1 t from DEU, DEU buys from CHN and RUS half and half: BEL's
    metal is 3/4 + 1/4 x 1/2 Chinese. U.S. exports are no origin; an exporter that neither
    produces nor imports counts as OTH."""
    trade = _trade(
        [
            ("CHN", "BEL", 3.0),
            ("DEU", "BEL", 1.0),
            ("CHN", "DEU", 2.0),
            ("RUS", "DEU", 2.0),
            ("USA", "DEU", 40.0),
            ("CHN", "USA", 9.0),
            ("ITA", "GBR", 1.0),
            ("CHN", "GBR", 1.0),
        ]
    )
    mix = hub_origins(trade, ["BEL", "DEU", "GBR"], ["CHN", "RUS"], "OTH")
    assert mix["BEL"] == pytest.approx({"CHN": 0.875, "RUS": 0.125})
    assert mix["DEU"] == pytest.approx({"CHN": 0.5, "RUS": 0.5})
    assert mix["GBR"] == pytest.approx({"CHN": 0.5, "OTH": 0.5})
    # without an OTH node ITA's own exports are left out and GBR's mix is its Chinese part
    assert hub_origins(trade, ["GBR"], ["CHN", "RUS"])["GBR"] == pytest.approx({"CHN": 1.0})
    assert "NLD" not in hub_origins(trade, ["NLD"], ["CHN", "RUS"], "OTH")


def test_a_hub_must_ship_the_us_the_form() -> None:
    """1% of U.S. imports of the form (BACI) makes a USGS source a hub; a producer never is."""
    trade = _trade([("CAN", "USA", 98.5), ("DEU", "USA", 1.0), ("JAM", "USA", 0.5)])
    assert hub_candidates(trade, ["DEU", "JAM", "CAN", "BEL"], ["CAN"]) == ["DEU"]


def test_routing_through_a_hub_keeps_every_balance() -> None:
    """Two stages, CHN and RUS producers; the routing sent CHN 6 t of U.S. imports of which
    4 t for the hub BEL. BEL takes those 4 t and CHN's feed mix; totals do not move."""
    countries = ["CHN", "RUS", "USA"]
    flows = np.array([[[8.0, 0.0, 0.0], [2.0, 5.0, 0.0], [0.0, 0.0, 1.0]]])
    final = np.array([[3.0, 6.0, 1.0], [0.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    assert np.allclose(flows[0].sum(axis=0), final.sum(axis=1))
    idx = np.array([0, 2, 1])
    via = {"BEL": {"CHN": 0.4}}
    out_c, out_f, out_final, out_idx, notes, feed = route_through_hubs(
        countries,
        flows,
        final,
        idx,
        via,
        {"CHN": 0.6, "RUS": 0.2},
        {"BEL": {"CHN": 1.0}},
        1,
        lambda c: 2,
    )
    assert out_c == [*countries, "BEL"]
    bel = 3
    assert out_final[bel, USA] == pytest.approx(4.0)
    assert out_final[0, USA] == pytest.approx(2.0)
    np.testing.assert_allclose(out_final.sum(axis=0), final.sum(axis=0))
    np.testing.assert_allclose(out_f[0].sum(axis=1)[:3], flows[0].sum(axis=1))  # same shipments
    np.testing.assert_allclose(out_f[0].sum(axis=0), out_final.sum(axis=1))  # in = out per node
    np.testing.assert_allclose(out_f[0][:3, bel] / 4.0, flows[0][:, 0] / 10.0)  # CHN feed mix
    assert out_idx[bel] == 2
    assert "BEL a re-export hub" in notes[0]
    assert feed == (("BEL", "CHN", pytest.approx(1.0)),)


def test_a_one_stage_hub_conserves_mass() -> None:
    """One stage (no feed to move): the 4 t CHN shipped the U.S. for the hub BEL leave CHN's
    row for BEL's; every region receives what it did and world output (the rows' sum) is
    unchanged: what BEL ships it no longer counts as CHN's. The old code moved nothing."""
    countries = ["CHN", "RUS", "USA"]
    final = np.array([[3.0, 6.0, 1.0], [0.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    out_c, out_f, out_final, _, notes, feed = route_through_hubs(
        countries,
        np.zeros((0, 3, 3)),
        final,
        np.array([0, 2, 1]),
        {"BEL": {"CHN": 0.4}},
        {"CHN": 0.6, "RUS": 0.2},
        {"BEL": {"CHN": 1.0}},
        USA,
        lambda c: 2,
    )
    assert out_c == [*countries, "BEL"]
    assert out_f.shape == (0, 4, 4)
    assert out_final[3, USA] == pytest.approx(4.0)
    assert out_final[0, USA] == pytest.approx(2.0)
    np.testing.assert_allclose(out_final.sum(axis=0), final.sum(axis=0))  # receipts
    assert out_final.sum() == pytest.approx(final.sum())  # world output
    assert out_final[3].sum() == pytest.approx(4.0)  # the hub ships only what it bought
    assert feed == (("BEL", "CHN", pytest.approx(1.0)),)
    assert "buying the form" in notes[0]


def test_a_one_stage_hub_must_import_what_it_exports() -> None:
    """With no stage before, a hub's feed is the form itself: KOR exports 30 t and imports
    10 t, so it makes the form (a producer the data lack), not a hub; THA imports 50 t and
    exports 20 t. The rule binds only where the form in is the form out."""
    trade = _trade(
        [
            ("CHN", "USA", 80.0),
            ("KOR", "USA", 10.0),
            ("THA", "USA", 10.0),
            ("KOR", "JPN", 20.0),
            ("CHN", "KOR", 10.0),
            ("THA", "JPN", 10.0),
            ("CHN", "THA", 50.0),
        ]
    )
    assert hub_candidates(trade, ["KOR", "THA"], ["CHN"], same_form=True) == ["THA"]
    assert hub_candidates(trade, ["KOR", "THA"], ["CHN"]) == ["KOR", "THA"]
    # CAN ships the U.S. what it imports from the U.S. (Trail smelts U.S. lead concentrate):
    # U.S. material processed abroad is not a foreign feed, so CAN is no hub
    toll = pd.concat([trade, _trade([("CAN", "USA", 10.0), ("USA", "CAN", 40.0)])])
    assert hub_candidates(toll, ["CAN", "THA"], ["CHN"], same_form=True) == ["THA"]


def test_rhodium_reaches_the_us_through_germany(bundled: SupplyChain) -> None:
    """Germany refines and re-exports rhodium it does not mine: a node of the refining stage,
    its U.S. share near the BACI import-source share, its content its suppliers' plants'."""
    model = build_model(bundled, "rhodium")
    assert "DEU" in model.named
    deu = model.countries.index("DEU")
    imports = model.final[:, USA].copy()
    imports[model.countries.index("USA")] = 0.0
    src = bundled.dataset["import_sources"]
    usgs = src[(src["mineral"] == "rhodium") & (src["country"] == "DEU")]["share"].sum()
    assert abs(model.final[deu, USA] / imports.sum() - usgs) <= 0.10
    # content: the origin mix of its imports (BACI) over the refiners' own content
    trade = trade_by_stage(bundled.dataset)[("rhodium", "refining")]
    producers = [c for c in model.countries if c not in model.named and c != "USA"]
    mix = hub_origins(trade, ["DEU"], producers)["DEU"]
    k = len(model.stages) - 1
    want = sum(w * model.content[k, model.countries.index(c)] for c, w in mix.items())
    np.testing.assert_allclose(model.content[k, deu], want, atol=1e-9)
    zaf = model.countries.index("ZAF")
    assert model.content[k, deu, zaf] > 0.5
    np.testing.assert_allclose(model.capacity.sum(axis=1), model.world_t_per_year / 12, rtol=1e-6)


def _spec(bundled: SupplyChain, events: dict[str, object]) -> object:
    raw = {"name": "t", "start": "2026-01", "events": events}
    return parse_scenario(raw, "test", Labels.of(bundled.dataset))


def test_an_outage_at_the_origin_reaches_the_hub(bundled: SupplyChain) -> None:
    """South Africa's mines lose half their output for six months: Germany's re-export falls
    with them (no rerouting), and every node balances."""
    model = build_model(bundled, "rhodium")
    spec = outage(bundled, "ZAF", "rhodium", "mining", 0.5, 6)
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 1, 12, np.random.default_rng(1)
    )
    trace = run(model, shocks, reroute=False)
    check_balance(model, trace)
    deu, k = model.countries.index("DEU"), len(model.stages) - 1
    assert trace.output[0, :, k, deu].min() < 0.9 * model.capacity[k, deu]


def test_the_embedded_content_rule_reaches_the_hub(bundled: SupplyChain) -> None:
    """A 0.1% content rule of South Africa on refined rhodium restricts Germany's re-exports
    (its traced content is South African); without the hub node it could reach no one."""
    model = build_model(bundled, "rhodium")
    spec = _spec(
        bundled,
        {
            "rule": {
                "kind": "content_rule",
                "country": "ZAF",
                "minerals": ["rhodium"],
                "stages": ["refining"],
                "threshold": 0.001,
                "regime": "ban",
                "start": "2026-01",
            }
        },
    )
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 1, 3, np.random.default_rng(1)
    )
    deu, k = model.countries.index("DEU"), len(model.stages) - 1
    lane = shocks.lanes[(k, deu)]
    assert lane[0, -1, USA] == 0.0
    check_balance(model, run(model, shocks))


def _last_stage_event(bundled: SupplyChain, event: dict[str, object]) -> tuple[ChainModel, Shocks]:
    model = build_model(bundled, "rhodium")
    spec = _spec(bundled, {"e": {"minerals": ["rhodium"], "start": "2026-01", **event}})
    return model, build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 2, 3, np.random.default_rng(1)
    )


def test_a_hub_inherits_its_origins_refinery_outage(bundled: SupplyChain) -> None:
    """South Africa's rhodium refineries lose 60%: Germany, which buys their metal, loses 60%
    of the share South Africa feeds it; Russia's part is untouched."""
    model, shocks = _last_stage_event(
        bundled,
        {"kind": "outage", "country": "ZAF", "stage": "refining", "share": 0.6},
    )
    k, deu = len(model.stages) - 1, model.countries.index("DEU")
    zaf = {o: w for h, o, w in model.hub_feed if h == "DEU"}["ZAF"]
    assert 0.5 < zaf < 1.0
    np.testing.assert_allclose(shocks.avail[:, :, k, deu], 1.0 - 0.6 * zaf)
    check_balance(model, run(model, shocks))


def test_a_hub_inherits_its_origins_export_control(bundled: SupplyChain) -> None:
    """A South African ban on refined rhodium exports reaches Germany's re-exports in the
    share South Africa feeds; a ban aimed at the U.S. alone does not (the metal goes to
    Germany, which the ban does not name)."""
    model, shocks = _last_stage_event(
        bundled,
        {"kind": "export_control", "country": "ZAF", "stages": ["refining"], "regime": "ban"},
    )
    k, deu = len(model.stages) - 1, model.countries.index("DEU")
    zaf = {o: w for h, o, w in model.hub_feed if h == "DEU"}["ZAF"]
    np.testing.assert_allclose(shocks.lanes[(k, deu)][:, :, USA], 1.0 - zaf)
    _, only_us = _last_stage_event(
        bundled,
        {
            "kind": "export_control",
            "country": "ZAF",
            "stages": ["refining"],
            "regime": "ban",
            "destinations": ["USA"],
        },
    )
    assert (k, deu) not in only_us.lanes


@pytest.mark.parametrize("pool_below", [0.0, POOL_BELOW])
def test_hubs_balance_under_the_background_hazards(bundled: SupplyChain, pool_below: float) -> None:
    """Platinum's three hubs under the background hazards, pooled or not (a pooled origin is
    read as OTH): every node and region balances; the hubs stay named."""
    model = build_model(bundled, "platinum", pool_below=pool_below)
    assert {"BEL", "DEU", "ITA"} <= set(model.named) <= set(model.countries)
    spec = load_scenario("background", Labels.of(bundled.dataset))
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 8, 12, np.random.default_rng(3)
    )
    check_balance(model, run(model, shocks))


def _us_import_share(model: ChainModel) -> dict[str, float]:
    imports = model.final[:, USA].copy()
    if "USA" in model.countries:
        imports[model.countries.index("USA")] = 0.0
    return dict(zip(model.countries, imports / imports.sum(), strict=True))


def test_antimony_reaches_the_us_through_its_one_stage_hubs(bundled: SupplyChain) -> None:
    """Antimony's chain has one stage (mining). India and Thailand ship the U.S. antimony they
    buy (BACI: each imports more antimony ore than it exports) and were left out, their USGS
    shares sent to the producers (China 92% of modelled U.S. imports against USGS's 36%).
    As hubs each ships the U.S. within 10 points of its USGS share, its content is its
    origins' (its BACI import mix), it makes nothing of its own (no price response) and
    world output is unchanged."""
    model = build_model(bundled, "antimony")
    assert model.K == 1
    usgs = import_source_shares(
        bundled.dataset["import_sources"],
        "antimony",
        base_year("antimony", shock_years_of(bundled)),
    )
    share = _us_import_share(model)
    trade = trade_by_stage(bundled.dataset)[("antimony", "mining")]
    producers = [c for c in model.countries if c not in model.named]
    for hub in ("IND", "THA"):
        assert hub in model.named
        assert share[hub] > 0.0
        assert abs(share[hub] - usgs[hub]) <= 0.10
        h = model.countries.index(hub)
        # content: what the origins shipped for it (its BACI import mix, after the capacity
        # bound on each origin), never itself
        mix = hub_origins(trade, [hub], producers)[hub]
        want = np.zeros(model.N)
        for x, c, w in model.hub_feed:
            if x == hub:
                assert c in mix
                want[model.countries.index(c)] = w
        np.testing.assert_allclose(model.content[0, h], want, atol=1e-9)
        assert want.sum() == pytest.approx(1.0)
        assert model.content[0, h, h] == 0.0
        assert model.host_tied is not None
        assert model.host_tied[0, h] == 1.0
    assert share["CHN"] < usgs["CHN"] + 0.30  # 0.92 before against USGS's 0.36
    np.testing.assert_allclose(model.capacity.sum(), model.world_t_per_year / 12, rtol=1e-9)


@pytest.mark.parametrize("pool_below", [0.0, POOL_BELOW])
def test_a_one_stage_hub_inherits_and_balances(bundled: SupplyChain, pool_below: float) -> None:
    """Myanmar's antimony mines lose 60%: Thailand, whose antimony is Myanmar's, loses 60% of
    it; India in the share Myanmar feeds it; under the background hazards too, pooled or not,
    every node and region balances."""
    model = build_model(bundled, "antimony", pool_below=pool_below)
    spec = _spec(
        bundled,
        {
            "cut": {
                "kind": "outage",
                "country": "MMR",
                "minerals": ["antimony"],
                "stage": "mining",
                "share": 0.6,
                "start": "2026-01",
                "duration_months": 6,
            }
        },
    )
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 1, 3, np.random.default_rng(1)
    )
    for hub in ("THA", "IND"):
        h = model.countries.index(hub)
        fed = {o: w for x, o, w in model.hub_feed if x == hub}.get("MMR", 0.0)
        assert fed > 0.1
        np.testing.assert_allclose(shocks.avail[:, :, 0, h], 1.0 - 0.6 * fed)
    check_balance(model, run(model, shocks, reroute=False))
    background = load_scenario("background", Labels.of(bundled.dataset))
    shocks = build_shocks(
        background, model, parents_of_dataset(bundled.dataset), 8, 12, np.random.default_rng(3)
    )
    check_balance(model, run(model, shocks))


def test_usgs_other_countries_go_to_unlisted_producers_baci_sees(bundled: SupplyChain) -> None:
    """Platinum's chain has no OTH refining: USGS's "other countries" (23%) were left out and
    the listed sources scaled up (South Africa 0.64 of modelled U.S. imports against USGS's
    0.49). They now go to the refiners USGS does not list that BACI shows shipping the U.S.
    (Russia): South Africa within 10 points. Gallium has no BACI code, so no unlisted
    producer gets anything (by output alone Russia would take 29%)."""
    model = build_model(bundled, "platinum")
    usgs = import_source_shares(
        bundled.dataset["import_sources"],
        "platinum",
        base_year("platinum", shock_years_of(bundled)),
        model.stages[-1],
    )
    share = _us_import_share(model)
    assert usgs["OTH"] > 0.1
    assert abs(share["ZAF"] - usgs["ZAF"]) <= 0.10
    unlisted = [c for c in model.countries if c not in usgs and c != "USA"]
    taken = sum(share[c] for c in unlisted)
    assert abs(taken - usgs["OTH"] / sum(usgs.values())) <= 0.05
    gallium = build_model(bundled, "gallium")
    listed = import_source_shares(
        bundled.dataset["import_sources"],
        "gallium",
        base_year("gallium", shock_years_of(bundled)),
        gallium.stages[-1],
    )
    ga = _us_import_share(gallium)
    assert all(ga[c] == 0.0 for c in gallium.countries if c not in listed and c != "USA")
