"""The lab's runs keep the per-draw paths only when asked (issue #15): ``RunConfig.keep_paths``
defaulted to True, so every lab run held draws x months x cells in memory to draw charts the
streamed summaries give. Without ``keep_paths`` a run keeps summaries only (RunConfig's
default, as `critmin simulate`); with it, the paths are kept and downloadable as netCDF."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from fastapi.testclient import TestClient

from critmin.api.app import create_app
from critmin.chain import SupplyChain
from critmin.ledger.service import Ledger
from critmin.simulate import runner
from critmin.simulate.runner import RunConfig
from critmin.web import WebSettings

BODY = {"events": ["china-2025-04"], "start": "2025-04", "runs": 40, "horizon": 6}


@pytest.fixture(scope="module")
def client(
    bundled: SupplyChain, tmp_path_factory: pytest.TempPathFactory
) -> Any:  # an iterator of TestClient
    folder = tmp_path_factory.mktemp("lab")
    db = Ledger.open(f"sqlite:///{folder / 'ledger.db'}", create=True)
    app = create_app(db, WebSettings(workers=1))
    app.state.web.state._chain = bundled  # the session's chain: no second load
    try:
        with TestClient(app) as c:
            yield c
    finally:
        db.dispose()


def _run(client: TestClient, **extra: Any) -> tuple[str, dict[str, Any]]:
    r = client.post("/web/lab/run", json={**BODY, **extra})
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    end = time.time() + 300
    while time.time() < end:
        got = client.get(f"/web/lab/{job}.json")
        if got.status_code != 409:
            break
        time.sleep(0.2)
    assert got.status_code == 200, got.text
    return job, got.json()


def test_the_default_is_the_run_configs_summaries_only() -> None:
    assert RunConfig().keep_paths is False


def test_a_lab_run_keeps_no_paths_unless_asked(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[RunConfig] = []
    real = runner.simulate

    def spy(chain: SupplyChain, spec: Any, config: RunConfig, *args: Any) -> Any:
        seen.append(config)
        return real(chain, spec, config, *args)

    monkeypatch.setattr(runner, "simulate", spy)
    job, out = _run(client)
    assert [c.keep_paths for c in seen] == [False]
    assert out["keep_paths"] is False
    assert out["paths"] == []
    stored = client.app.state.web.state.jobs.get(job).result  # type: ignore[attr-defined]
    assert stored["paths"] == {}
    r = client.get(f"/web/lab/{job}/rare_earths.nc")
    assert r.status_code == 404
    assert "no paths kept" in r.text
    # the charts and the table come from the summaries
    assert out["figures"]
    assert out["table"]
    row = next(x for x in out["table"] if (x["mineral"], x["region"]) == ("rare_earths", "USA"))
    assert row["loss_mean_usd"] > 0
    assert row["loss"].startswith("$")


def test_a_lab_run_asked_keeps_its_paths_and_its_table_matches_them(
    client: TestClient,
) -> None:
    job, out = _run(client, keep_paths=True)
    assert out["keep_paths"] is True
    assert f"/web/lab/{job}/rare_earths.nc" in out["paths"]
    r = client.get(f"/web/lab/{job}/rare_earths.nc")
    assert r.status_code == 200
    paths = xr.open_dataset(io.BytesIO(r.content), engine="scipy")
    assert paths.sizes["scenario"] == BODY["runs"]
    assert paths.sizes["period"] == BODY["horizon"]
    # the table read from the summaries agrees with the kept paths: the moments exactly (to
    # rounding); the quantiles (histogram bins) ordered and inside the sample's range
    loss = paths["loss_usd"].sum("period").sel(region="USA").values
    short = paths["shortfall"].sum("period").sel(region="USA").values
    row = next(x for x in out["table"] if (x["mineral"], x["region"]) == ("rare_earths", "USA"))
    assert row["loss_mean_usd"] == pytest.approx(float(loss.mean()), rel=1e-9)
    se = float(loss.std(ddof=1)) / np.sqrt(loss.size)
    assert row["loss_se_usd"] == pytest.approx(se, rel=1e-6, abs=1e-9 * row["loss_mean_usd"])
    assert row["shortfall_p50"] <= row["shortfall_p95"] <= float(short.max()) * (1 + 1e-3)
    assert client.get(f"/web/lab/{job}/nosuch.nc").status_code == 404


def test_a_lab_run_too_large_to_keep_is_refused(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from critmin.web import lab

    monkeypatch.setattr(lab, "MAX_PATH_BYTES", 1024)
    r = client.post("/web/lab/run", json={**BODY, "keep_paths": True})
    assert r.status_code == 422
    assert "keep_paths: the paths of 40 draws x 6 months need about" in r.text
