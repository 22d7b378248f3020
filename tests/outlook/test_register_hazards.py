"""Register hazard rates feed the disruption scenarios' background outages (issue 14)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.economics.price import parents_of_dataset
from critmin.scenarios.load import load_scenario, parse_scenario
from critmin.scenarios.spec import Scenario
from critmin.security.hazard import (
    annual_outage_probability,
    prior_probability,
    register_background,
)
from critmin.simulate.model import build_model
from critmin.simulate.shocks import build_shocks

UNTIL = date(2025, 12, 31)


def _incident(country: str, stage: str, n: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "country": [country] * n,
            "stage": [stage] * n,
            "threat": ["sabotage"] * n,
            "date": [date(2020, 1 + i % 12, 1) for i in range(n)],
        }
    )


def _probability(scenario: Scenario, country: str, stage: str) -> float:
    for h in scenario.hazards:
        if h.stages == "all" or stage in h.stages:
            return h.country_probability.get(country, h.annual_probability)
    raise AssertionError(f"no hazard for {stage}")


def _outage_months(chain: SupplyChain, scenario: Scenario, country: str) -> float:
    """Mean number of months with capacity cut at ``country`` (any stage), 3,000 draws."""
    model = build_model(chain, "cobalt")
    shocks = build_shocks(
        scenario, model, parents_of_dataset(chain.dataset), 3000, 12, np.random.default_rng(9)
    )
    c = model.countries.index(country)
    return float((shocks.avail[:, :, :, c] < 1.0).any(axis=2).sum(axis=1).mean())


def test_no_incidents_gives_the_prior(small: SupplyChain) -> None:
    assert small.dataset["security_incidents"].empty
    prior = prior_probability(small)
    rates = small.dataset["security_priors"]["rate_per_year"].astype(float)
    assert prior == pytest.approx(1 - np.exp(-rates.sum()))
    p = annual_outage_probability(small, until=UNTIL)
    assert np.allclose(p.to_numpy()[np.isfinite(p.to_numpy())], prior)
    scenario = register_background(small, until=UNTIL)
    assert scenario.hazards
    for h in scenario.hazards:
        assert h.annual_probability == pytest.approx(prior)
        assert h.country_probability == {}
    flat = load_scenario("background").hazards[0]
    assert {h.severity for h in scenario.hazards} == {flat.severity}


def test_an_added_incident_raises_that_country_stage_and_its_outages(small: SupplyChain) -> None:
    quiet = register_background(small, until=UNTIL)
    hit = register_background(small, stored=_incident("COD", "mining", 2), until=UNTIL)
    assert hit.name == "background-register"
    before, after = _probability(quiet, "COD", "mining"), _probability(hit, "COD", "mining")
    assert after > before
    # other countries are not observed by the register: they keep the prior
    assert _probability(hit, "AUS", "mining") == pytest.approx(before)
    assert _outage_months(small, hit, "COD") > _outage_months(small, quiet, "COD")
    assert _outage_months(small, hit, "AUS") == pytest.approx(
        _outage_months(small, quiet, "AUS"), rel=0.15
    )


def test_register_scenario_round_trips_as_yaml_data(small: SupplyChain) -> None:
    scenario = register_background(small, stored=_incident("CHN", "refining"), until=UNTIL)
    again = parse_scenario(scenario.model_dump(mode="json", exclude_defaults=True), "dump")
    assert again == scenario


def test_cli_writes_a_register_scenario_that_loads(tmp_path: Path) -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from critmin.cli import main  # noqa: PLC0415

    out = tmp_path / "register.yaml"
    runner = CliRunner()
    res = runner.invoke(main, ["security", "scenario", "--out", str(out)])
    assert res.exit_code == 0, res.output
    scenario = load_scenario(out)
    assert scenario.name == "background-register"
    # the bundled register's Peruvian mine blockades raise Peru's mining hazard above the prior
    assert _probability(scenario, "PER", "mining") > scenario.hazards[0].annual_probability
    bad = runner.invoke(main, ["security", "scenario", "--base", "no-such-scenario"])
    assert bad.exit_code == 2  # bad input, as every critmin command
    assert bad.output.startswith("critmin: --base:")
    assert len(bad.output.strip().splitlines()) == 1
