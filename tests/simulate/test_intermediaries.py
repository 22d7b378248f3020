"""Intermediary suppliers named out of OTH (critmin.simulate.intermediaries)."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, load_scenario
from critmin.schema.vocabulary import REGIONS
from critmin.simulate.engine import check_balance, run
from critmin.simulate.intermediaries import name_intermediaries
from critmin.simulate.model import build_model
from critmin.simulate.shocks import build_shocks

USA = REGIONS.index("USA")


def test_finland_ships_the_us_its_usgs_share_of_refined_copper(bundled: SupplyChain) -> None:
    """USGS lists Finland among U.S. refined-copper sources; the production data lump it into
    OTH. Named, it ships the U.S. its USGS share, fed like OTH, and world output is kept."""
    model = build_model(bundled, "copper")
    assert "FIN" in model.countries
    fin = model.countries.index("FIN")
    imports = model.final[:, USA].sum() - model.final[model.countries.index("USA"), USA]
    src = bundled.dataset["import_sources"]
    rows = src[src["mineral"] == "copper"]
    # the forms the refining stage sells: no scrap, no ore (which feeds U.S. smelters)
    rows = rows[~rows["category"].str.contains("scrap|ore and concentrate", case=False)]
    usgs = rows.loc[rows["country"] == "FIN", "share"].sum() / rows["category"].nunique()
    assert model.final[fin, USA] / imports == pytest.approx(usgs, abs=0.02)
    assert model.final[fin].sum() == pytest.approx(model.final[fin, USA])  # U.S. only
    # fed at the stage before, in OTH's input mix
    oth = model.countries.index("OTH")
    feed = model.flows[-1][:, fin] / model.flows[-1][:, fin].sum()
    mix = model.flows[-1][:, oth] / model.flows[-1][:, oth].sum()
    np.testing.assert_allclose(feed, mix, atol=1e-9)
    assert any("FIN named out of OTH" in a for a in model.assumptions)
    np.testing.assert_allclose(model.capacity.sum(axis=1), model.world_t_per_year / 12, rtol=1e-6)


def test_a_named_node_balances_under_shocks(bundled: SupplyChain) -> None:
    model = build_model(bundled, "copper")
    spec = load_scenario("background", Labels.of(bundled.dataset))
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 8, 12, np.random.default_rng(2)
    )
    check_balance(model, run(model, shocks))


def test_a_source_larger_than_oth_stays_unnamed() -> None:
    """OTH ships the U.S. 2 t; a source asking 3 t is not named (and nothing else moves)."""
    countries = ["CHN", "OTH", "USA"]
    final = np.array([[5.0, 4.0, 1.0], [1.0, 2.0, 1.0], [0.0, 3.0, 0.0]])
    flows = np.zeros((0, 3, 3))
    idx = np.array([0, 2, 1])
    out = name_intermediaries(countries, flows, final, idx, {"DEU": 3.0}, 1, lambda c: 2)
    assert out[0] == countries
    np.testing.assert_array_equal(out[2], final)
    grown = name_intermediaries(countries, flows, final, idx, {"DEU": 1.5}, 1, lambda c: 2)
    assert grown[0] == [*countries, "DEU"]
    assert grown[2][3, 1] == 1.5
    assert grown[2][1, 1] == pytest.approx(0.5)
    np.testing.assert_allclose(grown[2][:, 1].sum(), final[:, 1].sum())


def test_a_node_of_an_earlier_stage_is_named_at_its_own_index() -> None:
    """MEX mines (a node of the stage before) but has no output at the last stage; USGS lists
    it as a source of the last stage's form, which the production data count in OTH: it is
    named at its own node, fed in OTH's input mix; a last-stage producer (CHN) is never
    named. The old rule skipped every country of the chain, so MEX stayed at 0."""
    countries = ["CHN", "MEX", "OTH", "USA"]
    # last stage: MEX makes nothing; OTH ships the U.S. 4 t
    final = np.array([[5.0, 4.0, 1.0], [0.0, 0.0, 0.0], [1.0, 4.0, 1.0], [0.0, 3.0, 0.0]])
    flows = np.zeros((1, 4, 4))
    flows[0, 0, 0], flows[0, 1, 2], flows[0, 2, 2], flows[0, 3, 3] = 10.0, 3.0, 3.0, 3.0
    idx = np.array([0, 2, 2, 1])
    out = name_intermediaries(
        countries, flows, final, idx, {"MEX": 1.5, "CHN": 1.0}, 1, lambda c: 2
    )
    assert out[0] == countries  # no new node
    assert out[2][1, 1] == 1.5
    assert out[2][2, 1] == pytest.approx(2.5)
    np.testing.assert_array_equal(out[2][0], final[0])  # a producer is left alone
    np.testing.assert_allclose(out[2].sum(axis=0), final.sum(axis=0))
    feed = out[1][0][:, 1]
    np.testing.assert_allclose(feed / feed.sum(), flows[0][:, 2] / flows[0][:, 2].sum())
    np.testing.assert_allclose(out[1][0].sum(axis=0)[[1, 2]].sum(), flows[0][:, 2].sum())
    assert "no output at this stage" in out[4][0]


def test_sulfur_mexico_is_named_at_refining(bundled: SupplyChain) -> None:
    """USGS lists Mexico among U.S. sulfur sources (elemental sulfur and acid: 13% over the
    forms); World Mining Data gives Mexico sulfur output at the mining stage, USGS's refining
    table ("all forms") counts it among "other countries". Before, its share went to a node
    with no refining output and the capacity bound spread it over the others (Mexico 0,
    Canada 0.66 against USGS's 0.53)."""
    model = build_model(bundled, "sulfur")
    mex = model.countries.index("MEX")
    assert model.capacity[0, mex] > 0  # a miner
    assert "MEX" in model.named
    imports = model.final[:, USA].sum() - model.final[model.countries.index("USA"), USA]
    share = {c: model.final[i, USA] / imports for i, c in enumerate(model.countries)}
    assert share["MEX"] == pytest.approx(0.13, abs=0.02)
    assert share["CAN"] == pytest.approx(0.53, abs=0.05)
    np.testing.assert_allclose(model.capacity.sum(axis=1), model.world_t_per_year / 12, rtol=1e-6)
    spec = load_scenario("background", Labels.of(bundled.dataset))
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 8, 12, np.random.default_rng(2)
    )
    check_balance(model, run(model, shocks))
