"""Instruments for the reserve optimiser: projects and partner commitments as data."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.outlook.capacity import run_outlook
from critmin.outlook.instruments import COLUMNS, instruments
from critmin.outlook.policy import AllianceAction, Policy


def test_every_project_and_commitment_is_an_instrument(small: SupplyChain) -> None:
    policy = Policy(alliance=AllianceAction(group="allied", committed_share=0.25))
    result = run_outlook(small, policy, draws=400, seed=3)
    out = instruments(small, result)
    assert list(out.columns) == COLUMNS
    projects = out[out["kind"] == "project"]
    assert set(projects["id"]) == {"aus-cobalt-refinery", "aus-cobalt-mine"}
    assert (projects["lead_time_p10_years"] <= projects["lead_time_p50_years"]).all()
    assert (projects["lead_time_p50_years"] <= projects["lead_time_p90_years"]).all()
    assert projects["completion_probability"].between(0, 1).all()
    refinery = projects.set_index("id").loc["aus-cobalt-refinery"]
    assert refinery["cost_musd"] == pytest.approx(120.0)
    assert np.isnan(projects.set_index("id").loc["aus-cobalt-mine", "cost_musd"])
    # Japan (20 t, allied, not FEOC) is the only partner refiner: 0.25 x 20 = 5 t
    commit = out[out["kind"] == "partner_commitment"].set_index("mineral")
    assert commit.loc["cobalt", "capacity_t_per_year"] == pytest.approx(5.0)
    assert commit.loc["cobalt", "completion_probability"] == 1.0
