"""The checks of issue 9 on the engine, the model and the disruption set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import base_year, parents_of_dataset, shock_years
from critmin.optimize.ensemble import event_timing, planning_scenario
from critmin.scenarios.load import Labels, library_events, parse_scenario
from critmin.scenarios.probability import (
    calibrate,
    occurrence_probability,
    rate_of_probability,
    restriction_rate,
)
from critmin.schema.vocabulary import MARKET_PARAMETER_NAMES, REGIONS
from critmin.simulate.disruptions import DisruptionSet, stage_shares
from critmin.simulate.engine import run
from critmin.simulate.model import build_model
from critmin.simulate.rank import rank
from critmin.simulate.shocks import build_shocks

from .specs import CUT, outage

USA = REGIONS.index("USA")


def _scenario(bundled: SupplyChain, events: dict[str, object], **kw: object) -> object:
    raw = {"name": "t", "start": "2026-01", "events": events, **kw}
    return parse_scenario(raw, "test", Labels.of(bundled.dataset))


def test_lime_outage_draws_imports_from_others(bundled: SupplyChain) -> None:
    """Halve U.S. lime capacity for three months: imports from other suppliers rise."""
    model = build_model(bundled, "lime")
    stage = model.stages[-1]
    spec = outage(bundled, "USA", "lime", stage, 0.5, 3)
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 1, 6, np.random.default_rng(0)
    )
    trace = run(model, shocks)
    us = model.countries.index("USA")
    foreign = np.ones(model.N, dtype=bool)
    foreign[us] = False
    imports = trace.final[0, :, foreign, USA].sum(axis=0)  # by month
    baseline = model.final[foreign, USA].sum()
    assert imports[1:3].min() > baseline * 1.01
    assert imports[5] == pytest.approx(baseline, rel=1e-6)


@pytest.mark.parametrize("name", MARKET_PARAMETER_NAMES)
def test_the_model_reads_every_declared_market_parameter(bundled: SupplyChain, name: str) -> None:
    """The vocabulary's market parameters are the ones the chain model reads: without a
    mineral's row for any one of them, the model refuses, naming it."""
    ds = bundled.dataset.with_rows(
        "market_parameters", lambda t: ~((t["mineral"] == "cobalt") & (t["parameter"] == name))
    )
    with pytest.raises(KeyError, match=f"no {name} for cobalt"):
        build_model(SupplyChain.from_dataset(ds), "cobalt")


def test_demand_elasticity_changes_the_loss() -> None:
    """A mineral's demand elasticity moves the clearing price, and the price moves the loss
    (the terms-of-trade transfer, and the supply response where spare capacity allows)."""
    losses, surplus = [], []
    for eps in (-0.2, -0.8):
        chain = SupplyChain.load()
        params = chain.dataset["market_parameters"]
        at = (params["mineral"] == "gallium") & (params["parameter"] == "price_elasticity_demand")
        params.loc[at, "value"] = eps
        (row,) = rank(chain, runs=30, seed=4, minerals=["gallium"], domestic=False)
        assert row.expected_loss_usd is not None
        assert row.consumer_surplus_lost_usd is not None
        losses.append(row.expected_loss_usd)
        surplus.append(row.consumer_surplus_lost_usd)
    # same draws: a more elastic demand clears at a lower price, so less surplus is lost. The
    # shortfall is not the same: under competitive storage (docs/criticality.md §3) holders
    # keep more stock back where the price can still rise (below the cap), so the loss moves
    # either way with the elasticity (gallium: 5.5e8 -> 6.3e8 USD/yr, 2026-12-03); it moves
    assert not math.isclose(losses[0], losses[1], rel_tol=1e-4)
    assert surplus[1] < 0.8 * surplus[0]


def test_us_demand_matches_usgs_or_says_why(bundled: SupplyChain) -> None:
    ds = bundled.dataset
    minerals = ds["minerals"]
    listed = minerals[minerals["usgs_2025"].astype(str).str.lower() == "true"]["id"]
    have = set(bundled.production.mineral.values.tolist())
    us = ds["us_supply"]
    shocks = shock_years(library_events(), parents_of_dataset(bundled.dataset))
    unexplained = []
    for m in listed:
        if m not in have:
            continue
        model = build_model(bundled, m)
        assert not math.isnan(model.price_usd_t) or any("price" in a for a in model.assumptions)
        rows = us[(us["mineral"] == m) & (us["statistic"] == "consumption") & (us["unit"] == "t")]
        rows = rows[rows["value"].notna()]
        demand = float(model.demand[USA]) * 12
        if rows.empty:
            if not any("U.S. demand" in a or "consumption" in a for a in model.assumptions):
                unexplained.append(m)
            continue
        # the pre-shock base year of the mineral's price (critmin.economics.price)
        want = base_year(m, shocks)
        year = max([y for y in rows["year"] if y <= want] or [rows["year"].min()])
        usgs = float(rows[rows["year"] == year]["value"].max())
        if abs(demand / usgs - 1.0) > 0.25:
            unexplained.append(f"{m}: {demand:.3g} vs {usgs:.3g}")
    assert unexplained == []


def test_rare_earth_demand_is_usgs_compounds_and_metals_before_the_controls(
    bundled: SupplyChain,
) -> None:
    """The rare-earth chain's U.S. demand is USGS's apparent consumption of compounds and
    metals (t REO) in 2024, the year before China's 2025 controls, not the 2025 estimate, which
    carries that year's stock-building (three times 2024)."""
    us = bundled.dataset["us_supply"]
    rows = us[(us["mineral"] == "rare_earths") & (us["statistic"] == "consumption")]
    by_year = rows.set_index("year")["value"]
    assert by_year[2025] > 2 * by_year[2024]  # the shock year the demand must not be read from
    model = build_model(bundled, "rare_earths")
    demand = float(model.demand[USA]) * 12
    assert abs(demand / by_year[2024] - 1.0) <= 0.25
    assert model.unit.startswith("t")
    assert "REO" in model.unit


@pytest.mark.parametrize(
    "mineral",
    [
        "fluorspar",
        "potash",
        "palladium",
        "barite",
        "chromium",
        "phosphate",
        "zinc",
        "zirconium",
    ],
)
def test_us_imports_follow_usgs_import_sources(bundled: SupplyChain, mineral: str) -> None:
    """The top three USGS import sources, within 10 points (minerals whose sources are
    producers at the chain's last stage; see docs/criticality.md for the rest)."""
    model = build_model(bundled, mineral)
    imports = model.final[:, USA].copy()
    if "USA" in model.countries:
        imports[model.countries.index("USA")] = 0.0
    share = dict(zip(model.countries, imports / imports.sum(), strict=True))
    src = bundled.dataset["import_sources"]
    rows = src[(src["mineral"] == mineral) & (src["country"] != "OTH")]
    # the primary forms: the chains carry primary supply (recycling is a node of its own)
    rows = rows[~rows["category"].str.contains("scrap|waste", case=False, regex=True)]
    usgs = rows.groupby("country")["share"].sum() / rows["category"].nunique()
    for country, value in usgs.sort_values(ascending=False).head(3).items():
        assert abs(share.get(str(country), 0.0) - value) <= 0.10, country


def test_samarium_imports_come_from_its_only_separator(bundled: SupplyChain) -> None:
    """Samarium's U.S. import sources are the aggregate's (rare-earth compounds and metals:
    China 71%, Malaysia 13%, Japan and Estonia 5%), but Malaysia, Estonia and Japan separate no
    samarium (docs/data.md), so the element's imports come from China, its only separator."""
    model = build_model(bundled, "samarium")
    assert model.stages[-1] == "refining"
    imports = model.final[:, USA].copy()
    if "USA" in model.countries:
        imports[model.countries.index("USA")] = 0.0
    share = dict(zip(model.countries, imports / imports.sum(), strict=True))
    assert share["CHN"] > 0.99
    src = bundled.dataset["import_sources"]
    aggregate = src[(src["mineral"] == "samarium") & (src["country"] == "CHN")]["share"]
    assert float(aggregate.max()) < 0.8  # the aggregate's share, not the element's


def test_an_uncertain_duration_differs_across_draws(bundled: SupplyChain) -> None:
    model = build_model(bundled, "cobalt")
    spec = outage(
        bundled,
        "COD",
        "cobalt",
        "mining",
        0.5,
        6,
        uncertainties=[
            {
                "target": f"{CUT}.duration_months",
                "distribution": {"dist": "uniform", "low": 1, "high": 12},
            }
        ],
    )
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 400, 14, np.random.default_rng(3)
    )
    c = model.countries.index("COD")
    months = (shocks.avail[:, :, 0, c] < 1.0).sum(axis=1)
    assert len(set(months.tolist())) >= 10
    assert months.min() == 1
    assert months.max() == 12


KINDS = {
    "export_control": {
        "kind": "export_control",
        "country": "CHN",
        "minerals": ["cobalt"],
        "stages": ["refining"],
        "regime": "ban",
    },
    "outage": {
        "kind": "outage",
        "country": "COD",
        "minerals": ["cobalt"],
        "stage": "mining",
        "share": 0.5,
    },
    "logistics": {
        "kind": "logistics",
        "minerals": ["cobalt"],
        "between": ["COD", "CHN"],
        "share": 0.5,
    },
    "demand_surge": {"kind": "demand_surge", "minerals": ["cobalt"], "factor": 1.5},
    "release": {
        "kind": "release",
        "mineral": "cobalt",
        "region": "USA",
        "tonnes_per_month": 10,
    },
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_event_frequency_matches_its_rate(bundled: SupplyChain, kind: str) -> None:
    """Drawn as rank draws them, an event with annual probability p happens in a share p of
    the draws (within 4 binomial standard errors)."""
    model = build_model(bundled, "cobalt")
    p, n = 0.3, 4000
    spec = _scenario(bundled, {"e": {**KINDS[kind], "start": "2026-01", "probability": p}})
    shocks = build_shocks(
        spec,
        model,
        parents_of_dataset(bundled.dataset),
        n,
        2,
        np.random.default_rng(7),
        sample_occurrence=True,
    )
    hit = (
        (shocks.avail != 1).any(axis=(1, 2, 3))
        | (shocks.ship != 1).any(axis=(1, 2, 3, 4))
        | (shocks.ship_final != 1).any(axis=(1, 2, 3))
        | (shocks.demand != 1).any(axis=(1, 2))
        | (shocks.release != 0).any(axis=(1, 2))
    )
    assert abs(hit.mean() - p) <= 4 * math.sqrt(p * (1 - p) / n)


def test_background_hazard_frequency_matches_its_rate(bundled: SupplyChain) -> None:
    model = build_model(bundled, "cobalt")
    p, n, months = 0.2, 3000, 12
    spec = _scenario(
        bundled,
        {},
        hazards=[
            {
                "countries": ["COD"],
                "stages": ["mining"],
                "annual_probability": p,
                "duration_months": {"dist": "uniform", "low": 1, "high": 1},
                "severity": {"dist": "uniform", "low": 0.5, "high": 0.5},
            }
        ],
    )
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), n, months, np.random.default_rng(9)
    )
    c = model.countries.index("COD")
    starts = (shocks.avail[:, :, 0, c] < 1).sum() / n  # one-month outages: months hit = starts
    assert starts == pytest.approx(-math.log(1 - p) * 1.0, rel=0.1)
    others = np.delete(shocks.avail[:, :, 0, :], c, axis=-1)
    assert (others == 1).all()  # the hazard strikes only the country it names


def test_china_restriction_more_probable_than_canada_or_australia(bundled: SupplyChain) -> None:
    parents = parents_of_dataset(bundled.dataset)
    cal = calibrate(bundled.dataset, stage_shares(bundled), parents)
    assert cal.events >= 15
    assert 0 < cal.alpha_se < cal.alpha
    for mineral in ("lithium", "rare_earths", "graphite", "cobalt"):
        china = restriction_rate(bundled.dataset, cal, "CHN", mineral)
        for other in ("CAN", "AUS"):
            assert china > restriction_rate(bundled.dataset, cal, other, mineral)


def test_rank_and_optimize_imply_the_same_annual_rates(bundled: SupplyChain) -> None:
    parents = parents_of_dataset(bundled.dataset)
    events = DisruptionSet.of(bundled, parents)
    ranked = events.foreign(bundled, "graphite", "graphite").events
    planned = planning_scenario(bundled, ["graphite", "cobalt"]).events
    assert set(ranked) <= set(planned)
    for name, e in ranked.items():
        assert planned[name].probability == pytest.approx(e.probability)
    # the planning draw over one year happens with the annual probability, over five with
    # the probability the same rate implies
    spec = planning_scenario(bundled, ["graphite"])
    n = 20_000
    for years in (1, 5):
        timing = event_timing(spec, n, 12 * years, np.random.default_rng(1))
        for name, (happens, _) in timing.items():
            e = spec.events[name]
            want = occurrence_probability(rate_of_probability(e.probability), years)
            assert abs(happens.mean() - want) <= 4 * math.sqrt(want * (1 - want) / n) + 1e-9
