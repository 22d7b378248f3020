"""By-product supply tied to host output (critmin.economics.byproduct): the tied share does
not answer the by-product's price, and a host outage cuts the by-product."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.economics.byproduct import host_shares
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import Labels, parse_scenario
from critmin.simulate.disruptions import DisruptionSet, scaled
from critmin.simulate.engine import run
from critmin.simulate.model import ChainModel, build_model
from critmin.simulate.shocks import build_shocks


def _outage(bundled: SupplyChain, model: ChainModel, country: str, share: float) -> object:
    raw = {
        "name": "t",
        "start": "2026-01",
        "events": {
            "cut": {
                "kind": "outage",
                "country": country,
                "minerals": [model.mineral],
                "stage": model.stages[0],
                "share": share,
                "start": "2026-01",
                "duration_months": 4,
            }
        },
    }
    return parse_scenario(raw, "test", Labels.of(bundled.dataset))


def _others_output(bundled: SupplyChain, model: ChainModel, country: str) -> float:
    """Output of every supplier but ``country`` over the months of a 50% outage there."""
    spec = _outage(bundled, model, country, 0.5)
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 1, 6, np.random.default_rng(0)
    )
    trace = run(model, shocks)
    keep = np.array([c != country for c in model.countries])
    return float(trace.output[0, :4, 0][:, keep].sum())


def test_gallium_is_tied_to_alumina_where_alumina_is_refined(bundled: SupplyChain) -> None:
    model = build_model(bundled, "gallium")
    assert model.host_tied is not None
    link = bundled.hosts("gallium")[0]
    assert (link.host, link.host_stage) == ("aluminum", "refining")
    tied = dict(zip(model.countries, model.host_tied[0], strict=True))
    assert tied["CHN"] == pytest.approx(link.share)  # China refines alumina
    assert tied["JPN"] == 0.0  # Japan's gallium is not recovered from alumina it refines
    assert any("tied to aluminum refining" in a for a in model.assumptions)


def test_host_tied_output_does_not_answer_the_price(bundled: SupplyChain) -> None:
    """A Chinese gallium outage: the other suppliers answer the price only with their untied
    output; fully tied, they cannot answer at all; untied, they answer the most."""
    model = build_model(bundled, "gallium")
    baseline = float(model.capacity[0].sum() - model.capacity[0][0]) * 4
    untied = _others_output(bundled, dataclasses.replace(model, host_tied=None), "CHN")
    tied = _others_output(bundled, model, "CHN")
    rigid = _others_output(
        bundled, dataclasses.replace(model, host_tied=np.ones_like(model.capacity)), "CHN"
    )
    assert untied > tied > rigid
    assert rigid == pytest.approx(baseline, rel=1e-9)


def test_a_host_outage_cuts_the_byproduct(bundled: SupplyChain) -> None:
    """rank's event set carries an outage of China's alumina refineries for gallium, at the
    severity times the tied share; simulated, it cuts China's gallium output."""
    ds = DisruptionSet.of(bundled, parents_of_dataset(bundled.dataset))
    events, uncertain = ds.outage_events("gallium", "foreign")
    name = "host-outage-CHN-aluminum-refining-gallium"
    assert name in events
    share = bundled.hosts("gallium")[0].share
    severity = next(u["distribution"] for u in uncertain if u["target"] == f"{name}.share")
    assert severity["high"] == pytest.approx(ds.background["severity"]["high"] * share)
    assert "host-outage-USA-aluminum-refining-gallium" not in events  # foreign only
    model = build_model(bundled, "gallium")
    event = {k: v for k, v in events[name].items() if k not in ("probability", "note")}
    raw = {"name": "t", "start": "2026-01", "events": {"host": event}}
    spec = parse_scenario(raw, "test", Labels.of(bundled.dataset))
    shocks = build_shocks(
        spec, model, parents_of_dataset(bundled.dataset), 1, 3, np.random.default_rng(0)
    )
    chn = model.countries.index("CHN")
    out = run(model, shocks).output[0, 0, 0, chn]
    assert out == pytest.approx(model.capacity[0, chn] * (1 - event["share"]), rel=1e-9)


def test_a_severity_that_does_not_scale_is_refused() -> None:
    assert scaled({"dist": "uniform", "low": 0.1, "high": 0.6}, 0.5)["high"] == 0.3
    with pytest.raises(ValueError, match="beta"):
        scaled({"dist": "beta", "a": 2.0, "b": 3.0}, 0.5)


@pytest.fixture(scope="module")
def closed_after_base(bundled: SupplyChain) -> SupplyChain:
    """The bundled chain, but China refines no alumina after 2022, gallium's base year: a
    by-product's host read in the host's own base year (aluminum: 2024) would miss it."""

    def kept(t: pd.DataFrame) -> pd.Series:
        alumina = (t["mineral"] == "aluminum") & (t["stage"] == "refining")
        return ~(alumina & (t["country"] == "CHN") & (t["year"].astype(int) > 2022))

    chain = SupplyChain.from_dataset(bundled.dataset.with_rows("production", kept))
    # the premise: gallium's base year is 2022, aluminum's is later and has no Chinese refining
    assert chain.base_year("gallium") == 2022 < chain.base_year("aluminum")
    own = chain.base_shares(["aluminum"]).sel(mineral="aluminum", stage="refining")
    assert not float(own.sel(country="CHN")) > 0
    return chain


def test_a_hosts_output_is_read_in_the_byproducts_base_year(
    closed_after_base: SupplyChain,
) -> None:
    """Gallium's model is of 2022: China's 2022 alumina refining ties its gallium, and an
    outage of those refineries is in gallium's event set (both read the host in 2022)."""
    link = closed_after_base.hosts("gallium")[0]
    assert host_shares(closed_after_base, link)["CHN"] > 0.5
    model = build_model(closed_after_base, "gallium")
    assert model.host_tied is not None
    assert model.host_tied[0, model.countries.index("CHN")] == pytest.approx(link.share)
    events, _ = DisruptionSet.of(
        closed_after_base, parents_of_dataset(closed_after_base.dataset)
    ).outage_events("gallium", "foreign")
    assert "host-outage-CHN-aluminum-refining-gallium" in events
