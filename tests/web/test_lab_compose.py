"""The scenario lab's scale: a factor on a licensing regime's approval path. It was written
into the event as a ``scale`` field, which no event has, so every scaled run was refused
(422, 'Extra inputs are not permitted'); a scale naming an event outside the run was
silently dropped. It is the event's ``scale`` uncertainty fixed at the factor."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from critmin.api.app import create_app
from critmin.chain import SupplyChain
from critmin.ledger.service import Ledger
from critmin.scenarios.load import Labels, ScenarioError, parse_scenario
from critmin.scenarios.spec import Period
from critmin.simulate import runner
from critmin.simulate.runner import RunConfig, simulate
from critmin.web import WebSettings
from critmin.web.lab import MAX_RUNNING, LabRequest, compose

EVENT = "china-2025-04"  # licensing, with the approval path fitted to the magnet exports


def _request(**scale: float) -> LabRequest:
    return LabRequest(events=[EVENT], start="2025-04", runs=10, horizon=6, scale=scale)


def test_a_scaled_approval_path_runs_and_approves_more(bundled: SupplyChain) -> None:
    labels = Labels.of(bundled.dataset)
    plain = parse_scenario(compose(_request()), "lab", labels)
    scaled = parse_scenario(compose(_request(**{EVENT: 3.0})), "lab", labels)
    (u,) = scaled.uncertainties
    assert u.target == f"{EVENT}.scale"
    assert u.distribution.values == [3.0]
    config = RunConfig(runs=10, seed=0, period=Period.MONTH, horizon=6, workers=1, keep_paths=True)
    short = [
        float(simulate(bundled, spec, config).minerals["rare_earths"].results["shortfall"].sum())
        for spec in (plain, scaled)
    ]
    assert short[1] < short[0]  # three times the approvals: less left short


def test_a_scale_that_cannot_apply_is_refused_with_its_field() -> None:
    with pytest.raises(ScenarioError, match=r"scale\.nosuch: not an event of this run"):
        compose(_request(nosuch=2.0))
    ban = LabRequest(
        events=["china-2024-12-us-ban"], start="2025-01", scale={"china-2024-12-us-ban": 2.0}
    )
    with pytest.raises(ScenarioError, match=r"scale\.china-2024-12-us-ban: only a licensing"):
        compose(ban)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            _request(**{EVENT: bad})
    assert np.isfinite(_request(**{EVENT: 1.0}).scale[EVENT])


def test_lab_runs_at_once_are_capped(
    bundled: SupplyChain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The lab takes runs from any visitor without a token: each started a computation at
    once, without bound. Beyond MAX_RUNNING running, a run is refused (429) until one ends."""
    release = threading.Event()

    def held(*args: object, **kwargs: object) -> None:
        release.wait(60)
        raise RuntimeError("not simulated in this test")

    monkeypatch.setattr(runner, "simulate", held)
    db = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}", create=True)
    app = create_app(db, WebSettings())
    app.state.web.state._chain = bundled  # the session's chain: no second load
    body = {"events": [EVENT], "start": "2025-04", "runs": 10, "horizon": 6}
    try:
        with TestClient(app) as client:
            codes = [client.post("/web/lab/run", json=body).status_code for _ in range(4)]
            assert codes == [202] * MAX_RUNNING + [429] * (4 - MAX_RUNNING)
            refused = client.post("/web/lab/run", json=body).json()["error"]["message"]
            assert "the lab is busy" in refused
            release.set()
            end = time.time() + 30
            while time.time() < end and any(
                j.status == "running" for j in app.state.web.state.jobs.all()
            ):
                time.sleep(0.05)
            assert client.post("/web/lab/run", json=body).status_code == 202  # room again
    finally:
        release.set()
        db.dispose()
