"""Monte Carlo: seeds, executors (a real two-worker Dask cluster), run folders, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from critmin import cli_checks
from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.scenarios.load import Labels, load_scenario
from critmin.scenarios.spec import Period
from critmin.simulate.runner import Executor, RunConfig, paths_bytes, simulate


@pytest.fixture(scope="module")
def october(bundled: SupplyChain):  # type: ignore[no-untyped-def]
    return load_scenario("china-2025-10", Labels.of(bundled.dataset))


def arrays(result) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    return {
        f"{m}/{v}": r.results[v].values
        for m, r in result.minerals.items()
        for v in ("shortfall", "price_ratio", "exports")
    }


def test_same_seed_same_numbers_on_local_pool_and_dask(bundled, october) -> None:  # type: ignore[no-untyped-def]
    base = {
        "runs": 40,
        "seed": 99,
        "horizon": 12,
        "chunk": 10,
        "period": Period.MONTH,
        "keep_paths": True,
    }
    local = simulate(bundled, october, RunConfig(**base, workers=2))
    inproc = simulate(bundled, october, RunConfig(**base, workers=1))
    dask = simulate(bundled, october, RunConfig(**base, workers=2, executor=Executor.DASK))
    a, b, c = arrays(local), arrays(inproc), arrays(dask)
    assert a.keys() == c.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        np.testing.assert_array_equal(a[key], c[key], err_msg=key)
    other = arrays(simulate(bundled, october, RunConfig(**{**base, "seed": 100}, workers=1)))
    assert any(not np.array_equal(a[k], other[k]) for k in a)


def test_quarters_aggregate_months(bundled, october) -> None:  # type: ignore[no-untyped-def]
    months = simulate(
        bundled, october, RunConfig(runs=20, seed=5, horizon=12, workers=1, keep_paths=True)
    )
    quarters = simulate(
        bundled,
        october,
        RunConfig(runs=20, seed=5, horizon=4, period=Period.QUARTER, workers=1, keep_paths=True),
    )
    m = months.minerals["rare_earths"].results["shortfall"]
    q = quarters.minerals["rare_earths"].results["shortfall"]
    np.testing.assert_allclose(
        m.values.reshape(20, 4, 3, 3).sum(axis=2), q.values, rtol=1e-9, atol=1e-6
    )


def test_cli_writes_run_folder_and_json(tmp_path: Path, bundled: SupplyChain) -> None:
    out, js = tmp_path / "run", tmp_path / "s.json"
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "china-2025-04",
            "--runs",
            "30",
            "--seed",
            "4",
            "--horizon",
            "5",
            "--workers",
            "1",
            "--keep-paths",
            "--out",
            str(out),
            "--json",
            str(js),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(js.read_text())
    assert {"scenario", "runs", "seed", "period", "flows", "regions"} <= set(data)
    assert (data["scenario"], data["runs"], data["seed"], data["period"]) == (
        "china-2025-04",
        30,
        4,
        "month",
    )
    assert {"mineral", "stage", "origin", "destination", "period", "supply_ratio_p50"} <= set(
        data["flows"][0]
    )
    assert {
        "mineral",
        "stage",
        "region",
        "period",
        "supply_ratio_p50",
        "shortfall_t_p50",
        "shortfall_t_p95",
        "price_ratio_p50",
        "loss_usd_p50",
    } <= set(data["regions"][0])
    assert min(r["period"] for r in data["regions"]) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4
    assert len(manifest["data_version"]) == 16
    assert (out / "scenario.yaml").exists()
    paths = sorted((out / "rare_earths").glob("paths-*.nc"))
    assert paths, "--keep-paths writes the draws chunk by chunk"
    parts = [xr.open_dataset(p, engine="scipy") for p in paths]
    assert parts[0]["shortfall"].dims == ("scenario", "period", "region")
    assert parts[0]["shortfall"].dtype == np.float32
    assert sum(p.sizes["scenario"] for p in parts) == 30
    for p in parts:
        p.close()
    # the disk estimate --keep-paths is checked against is the bytes the writer stores
    spec = load_scenario("china-2025-04", Labels.of(bundled.dataset))
    stored = 0
    for p in out.glob("*/paths-*.nc"):
        with xr.open_dataset(p, engine="scipy") as ds:
            stored += sum(v.nbytes for v in ds.data_vars.values())
    assert stored == paths_bytes(bundled, spec, RunConfig(runs=30, horizon=5))
    summ = xr.open_dataset(out / "rare_earths.summary.nc", engine="scipy")
    assert summ.attrs["draws"] == 30
    assert summ["loss_total_counts"].sum() == 30 * summ.sizes["region"]
    summ.close()


def test_cli_refuses_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstart: 2025-04\nevents:\n  x: {use: china-2025-04, country: ZZZ}\n")
    result = CliRunner().invoke(main, ["simulate", str(bad), "--runs", "5"])
    assert result.exit_code == 2
    assert f"{bad}: events.x.country: unknown country 'ZZZ'" in result.stderr


def test_kept_paths_beyond_the_free_disk_are_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--keep-paths writes draws x periods x cells; past the free space of the run folder's
    filesystem it is refused in one line naming the option and both figures, nothing made."""
    free = 2**20  # 1 MiB free: 300 draws of china-2025-04 over 12 months need about 9 MiB
    real = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(cli_checks.shutil, "disk_usage", lambda p: real._replace(free=free))
    out = tmp_path / "run"
    args = ["simulate", "china-2025-04", "--runs", "300", "--keep-paths", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("critmin: --keep-paths: the paths of 300 draws need about ")
    assert "MiB on disk, more than the 1.0 MiB free on " in lines[0]
    assert list(tmp_path.iterdir()) == []
    # without --keep-paths the same run does not look at the disk
    monkeypatch.setattr(cli_checks.shutil, "disk_usage", lambda p: pytest.fail("disk checked"))
    result = CliRunner().invoke(
        main, ["simulate", "china-2025-04", "--runs", "20", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
