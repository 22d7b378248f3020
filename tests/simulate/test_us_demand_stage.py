"""U.S. demand delivered at the stage whose form USGS's U.S. consumption counts
(data-src/manual/us_demand_stages.csv; critmin.simulate.model.US_BUYER)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.data.build import Builder
from critmin.economics.price import base_year, parents_of_dataset
from critmin.schema.validate import DataError
from critmin.schema.vocabulary import REGIONS
from critmin.simulate.engine import check_balance, run
from critmin.simulate.intermediaries import import_forms, import_source_shares
from critmin.simulate.model import (
    POOL_BELOW,
    US_BUYER,
    build_model,
    shock_years_of,
    us_demand_t,
)
from critmin.simulate.shocks import Shocks, build_shocks

from .reference import run_one
from .specs import outage

US = REGIONS.index("USA")


def RNG() -> np.random.Generator:
    return np.random.default_rng(0)


#: the minerals whose USGS consumption is of an earlier form than the chain's last stage
EARLIER = {
    "cobalt": "refining",
    "nickel": "refining",
    "lithium": "refining",
    "manganese": "mining",
    "graphite": "mining",
}


def _bought(model) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The U.S. buyer's baseline purchases by supplier, as shares."""
    col = model.flows[model.us_stage_index][:, model.countries.index(US_BUYER)]
    return {c: float(v / col.sum()) for c, v in zip(model.countries, col, strict=True) if v > 0}


@pytest.mark.parametrize("mineral", sorted(EARLIER))
def test_us_demand_sits_at_the_declared_stage(bundled: SupplyChain, mineral: str) -> None:
    model = build_model(bundled, mineral, pool_below=POOL_BELOW)
    assert model.us_stage == EARLIER[mineral]
    assert model.us_stage_index < model.K - 1
    b = model.countries.index(US_BUYER)
    # the U.S. region receives only the buyer's deliveries; every stage carries world output
    assert np.allclose(model.final[:, US], np.eye(model.N)[b] * model.demand[US])
    world = model.capacity.sum(axis=1)
    assert np.allclose(world, world[0], rtol=1e-9)
    # the buyer makes nothing before its stage and passes on the U.S. demand after it
    j = model.us_stage_index
    assert np.all(model.capacity[: j + 1, b] == 0)
    assert np.allclose(model.capacity[j + 1 :, b], model.demand[US])
    # U.S. demand is still USGS's figure (less U.S. recycling): the loss's basis is unchanged
    tonnes, _ = us_demand_t(bundled, mineral)
    assert tonnes is not None
    assert model.demand[US] <= tonnes / 12 * (1 + 1e-9)


def test_cobalt_us_imports_come_from_usgs_sources_at_refining(bundled: SupplyChain) -> None:
    """USGS: U.S. imports of cobalt metal, oxide and salts from Norway 26%, Finland 16%,
    Canada 14%, Japan 14% (Norway's refinery named out of OTH at the refining stage). The
    old model bought cathode material, made in none of them."""
    model = build_model(bundled, "cobalt", pool_below=POOL_BELOW)
    want = base_year("cobalt", shock_years_of(bundled))
    usgs = import_source_shares(
        bundled.dataset["import_sources"], "cobalt", want, "refining", import_forms(bundled.dataset)
    )
    got = _bought(model)
    for country in ("NOR", "FIN", "CAN", "JPN"):
        assert got.get(country, 0.0) == pytest.approx(usgs[country], abs=0.05), country


def test_lithium_us_imports_come_from_chile_and_argentina(bundled: SupplyChain) -> None:
    model = build_model(bundled, "lithium", pool_below=POOL_BELOW)
    got = _bought(model)
    assert got.get("CHL", 0.0) == pytest.approx(0.54, abs=0.05)
    assert got.get("ARG", 0.0) == pytest.approx(0.43, abs=0.05)


@pytest.mark.parametrize("country", ["FIN", "NOR"])
def test_a_nordic_refinery_outage_reaches_us_supply_at_once(
    bundled: SupplyChain, country: str
) -> None:
    """Finland and Norway ship the U.S. 16% and 26% of its refined cobalt: a refinery down,
    U.S. receipts fall the same month by its deliveries (the buyer holds no stock), balances
    hold, and the plain reference engine gives the same numbers. The old model's U.S. bought
    cathode material, fed by Finland only through the cathode plants' input stocks (and
    Norway was a cathode maker)."""
    model = build_model(bundled, "cobalt", pool_below=POOL_BELOW)
    scenario = outage(bundled, country, "cobalt", "refining", 1.0, 3)
    shocks = build_shocks(scenario, model, parents_of_dataset(bundled.dataset), 1, 6, RNG())
    base = run(model, Shocks.neutral(model, 1, 6), reroute=False)
    trace = run(model, shocks, reroute=False)
    check_balance(model, trace)
    c = model.countries.index(country)
    b = model.countries.index(US_BUYER)
    sent = model.flows[model.us_stage_index][c, b]
    assert sent > 0
    # what the lanes deliver (cobalt is a world market: its receipts are after arbitrage,
    # each region's demand share of the pooled drop)
    drop = base.final[0, 0, :, US].sum() - trace.final[0, 0, :, US].sum()
    assert drop == pytest.approx(sent, rel=1e-9)
    # the rest of the world is buffered by its cathode plants' input stocks the first month
    row = REGIONS.index("ROW")
    assert trace.final[0, 0, :, row].sum() == pytest.approx(
        base.final[0, 0, :, row].sum(), rel=1e-9
    )
    pooled = base.receipts[0, 0].sum() - trace.receipts[0, 0].sum()
    assert pooled == pytest.approx(sent, rel=1e-9)
    for reroute in (False, True):
        got = run(model, shocks, reroute=reroute)
        ref = run_one(model, shocks, 0, reroute=reroute)
        assert np.allclose(got.shortfall[0], ref["shortfall"], rtol=1e-9, atol=1e-9)
        assert np.allclose(got.receipts[0], ref["receipts"], rtol=1e-9, atol=1e-9)
        check_balance(model, got)


def test_an_export_control_on_the_us_reaches_the_buyer(bundled: SupplyChain) -> None:
    """A Chinese ban on graphite exports to the U.S. at the mining stage (the form USGS's
    U.S. consumption counts) cuts China's deliveries to the U.S. buyer."""
    from critmin.scenarios.load import Labels, parse_scenario  # noqa: PLC0415

    raw = {
        "name": "ban",
        "start": "2026-01",
        "events": {
            "ban": {
                "kind": "export_control",
                "country": "CHN",
                "minerals": ["graphite"],
                "stages": ["mining"],
                "destinations": ["USA"],
                "regime": "ban",
                "start": "2026-01",
                "duration_months": 3,
            }
        },
    }
    scenario = parse_scenario(raw, "test", Labels.of(bundled.dataset))
    model = build_model(bundled, "graphite", pool_below=POOL_BELOW)
    shocks = build_shocks(scenario, model, parents_of_dataset(bundled.dataset), 1, 4, RNG())
    trace = run(model, shocks, reroute=False)
    base = run(model, Shocks.neutral(model, 1, 4), reroute=False)
    check_balance(model, trace)
    chn = model.countries.index("CHN")
    cut = model.flows[0][chn, model.countries.index(US_BUYER)]
    assert cut > 0
    drop = base.receipts[0, 0, US] - trace.receipts[0, 0, US]
    assert drop == pytest.approx(cut, rel=1e-9)


def test_a_stage_outside_the_chain_is_refused_at_build(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "data-src"
    copy = tmp_path / "data-src"
    shutil.copytree(src / "manual", copy / "manual")
    path = copy / "manual" / "us_demand_stages.csv"
    path.write_text(
        path.read_text(encoding="utf-8") + "cobalt,anode,USGS_MCS2026_DR,wrong\n",
        encoding="utf-8",
    )
    builder = Builder.__new__(Builder)
    builder.src = copy
    with pytest.raises(DataError, match=r"us_demand_stages.csv, row \d+, column 'stage'"):
        builder.us_demand_stages()


def test_the_2023_graphite_licence_reaches_natural_flake(bundled: SupplyChain) -> None:
    """MOFCOM's December 2023 licence covers natural flake graphite, the form USGS's U.S.
    consumption counts (the mining stage here), as well as spherical and synthetic graphite:
    the library event must reach the stage the U.S. buys at, or the U.S. never feels it."""
    from critmin.scenarios.load import library_events  # noqa: PLC0415

    event = library_events()["china-2023-12-graphite"]
    model = build_model(bundled, "graphite", pool_below=POOL_BELOW)
    assert "natural flake" in event["note"]
    assert model.us_stage in event["stages"]
