"""U.S. recycled supply from the bundled pipeline, attached to the chain models (--recycling).

The bounds: recycled supply never exceeds end-of-life x collection x recovery, and where a
recycling plant is declared, never its capacity online; attached, it never makes the U.S.
shortfall of a disruption larger.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.outlook.capacity import Outlook, run_outlook
from critmin.outlook.policy import Policy
from critmin.outlook.recycling import (
    attach_recycling,
    recycling_outlook,
    us_recycling_minerals,
)
from critmin.simulate.model import SECONDARY_NODE, build_model

from .shortfall import mean_us_shortfall


@pytest.fixture(scope="module")
def result(bundled: SupplyChain) -> Outlook:
    return run_outlook(bundled, Policy(), draws=400, seed=3)


def test_bundled_recycled_within_potential_and_plant_capacity(
    bundled: SupplyChain, result: Outlook
) -> None:
    out = recycling_outlook(bundled, result)
    assert not out.empty
    bound = out["eol_t"] * out["collection_rate"] * out["recovery_rate"]
    assert (out["recycled_t"] <= bound + 1e-9).all()
    declared = out[out["capacity_declared"]]
    assert not declared.empty  # the bundled pipeline now declares U.S. recycling plants
    assert (declared["recycled_t"] <= declared["recycling_capacity_t"] + 1e-9).all()
    # without a declared plant nothing is recycled in this account
    assert (out.loc[~out["capacity_declared"], "recycled_t"] == 0).all()


def test_us_cobalt_is_recycled_once_the_rochester_hub_is_online(
    bundled: SupplyChain, result: Outlook
) -> None:
    out = recycling_outlook(bundled, result)
    us = out[(out["mineral"] == "cobalt") & (out["region"] == "USA")].set_index("year")
    # the hub is in financing in 2025: nothing in 2025, positive once online (median draw)
    assert us.loc[2025, "recycled_t"] == 0
    assert us.loc[2035, "recycled_t"] > 0
    assert us.loc[2035, "recycled_t"] == pytest.approx(
        min(us.loc[2035, "secondary_potential_t"], us.loc[2035, "recycling_capacity_t"])
    )


def test_attach_names_the_plants_sources_and_refuses_years_outside(
    bundled: SupplyChain,
) -> None:
    assert "cobalt" in us_recycling_minerals(bundled)
    chain = attach_recycling(bundled, 2035, draws=300)
    assert chain.secondary is not None
    assert float(chain.secondary.sel(mineral="cobalt")) > 0
    assert "LICYCLE_RT_2023" in chain.secondary.attrs["sources"]
    assert SECONDARY_NODE in build_model(chain, "cobalt").countries
    with pytest.raises(ValueError, match="year"):
        attach_recycling(bundled, 2041)


def _us_shortfall(chain: SupplyChain, event: dict[str, object]) -> float:
    """Mean U.S. shortfall (t over 12 months, 60 draws) of one cobalt outage, 50-100% lost."""
    return mean_us_shortfall(chain, "cobalt", event, draws=60, seed=11, share=(0.5, 1))


EVENTS = [
    {"country": "COD", "stage": "mining", "share": 0.75, "start": "2025-01", "duration_months": 9},
    {"country": "COD", "stage": "mining", "share": 0.9, "start": "2025-02", "duration_months": 11},
]


@pytest.mark.parametrize("event", EVENTS, ids=["drc-mines-9-months", "drc-mines-11-months"])
def test_recycling_never_makes_the_us_shortfall_larger(
    bundled: SupplyChain, event: dict[str, object]
) -> None:
    without = _us_shortfall(bundled, event)
    assert without > 0
    attached = {y: attach_recycling(bundled, y, draws=300) for y in (2025, 2030, 2035, 2040)}
    withs = {y: _us_shortfall(c, event) for y, c in attached.items()}
    for year, value in withs.items():
        assert value <= without + 1e-6, year
    # more recycled supply (later years) never leaves a larger shortfall
    tonnes = {y: float(c.secondary.sel(mineral="cobalt")) for y, c in attached.items()}  # type: ignore[union-attr]
    assert tonnes[2040] > tonnes[2030] > 0
    assert withs[2040] <= withs[2030] + 1e-6
    assert withs[2035] < without  # recycled tonnes arrive: the shortfall falls


def test_cli_simulate_with_recycling(tmp_path: Path) -> None:
    scenario = tmp_path / "drc.yaml"
    scenario.write_text(
        "name: drc\nstart: 2025-01\nevents:\n  cod:\n    kind: outage\n    country: COD\n"
        "    minerals: [cobalt]\n    stage: mining\n    share: 0.9\n    start: 2025-01\n"
        "    duration_months: 11\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    shortfall = {}
    for label, extra in (("without", []), ("with", ["--recycling", "2035"])):
        out = tmp_path / label
        out.mkdir()
        args = ["simulate", str(scenario), "--runs", "40", "--out", str(out / "run")]
        res = runner.invoke(main, [*args, "--json", str(out / "s.json"), *extra])
        assert res.exit_code == 0, res.output
        shortfall[label] = json.loads((out / "s.json").read_text())
        if extra:
            assert "U.S. recycled supply attached for 2035: cobalt" in res.stderr
    assert any("recycled supply" in a for a in shortfall["with"]["assumptions"]["cobalt"])

    def us_total(summary: dict[str, list[dict[str, object]]]) -> float:
        return sum(
            float(r["shortfall_t_p50"])  # type: ignore[arg-type]
            for r in summary["sectors"]
            if r["region"] == "USA"
        )

    assert us_total(shortfall["with"]) < us_total(shortfall["without"])
    bad = runner.invoke(main, ["simulate", str(scenario), "--recycling", "2050"])
    assert bad.exit_code == 2
    assert "--recycling 2050: 2050 is outside the outlook" in bad.stderr
