"""The one ensemble driver: streamed summaries against full arrays, float32 paths within their
bound, and the same seed giving the same numbers on every executor (in-process, local pool,
Dask LocalCluster, a real multi-process ``dask scheduler`` + two ``dask worker`` processes)."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from distributed import Client, LocalCluster

import critmin
from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.economics.price import parents_of_dataset
from critmin.optimize.ensemble import build_ensemble
from critmin.scenarios.load import Labels, load_scenario
from critmin.scenarios.spec import Period, Scenario
from critmin.simulate import driver, runner
from critmin.simulate.driver import (
    Built,
    Execution,
    Executor,
    blocks_per_chunk,
    dask_worker_env,
    map_chunks,
    session,
)
from critmin.simulate.model import build_model
from critmin.simulate.output import region_records
from critmin.simulate.rank import rank, rank_records
from critmin.simulate.runner import RunConfig, RunResult, chain_minerals, shipped, simulate
from critmin.simulate.stream import Grid, Part, Sparse, Summary

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@pytest.fixture(scope="module")
def october(bundled: SupplyChain) -> Scenario:
    return load_scenario("china-2025-10", Labels.of(bundled.dataset))


# --- the streaming estimator on its own -------------------------------------------------------


def _grid(scale: np.ndarray, top: float = 4.0, steps: int = 16) -> Grid:
    dims = tuple(f"d{i}" for i in range(scale.ndim))
    coords = {d: list(range(n)) for d, n in zip(dims, scale.shape, strict=True)}
    return Grid(dims, coords, scale, top, steps, "t")


def test_histogram_quantiles_within_the_stated_error() -> None:
    rng = np.random.default_rng(7)
    scale = np.array([1.0, 10.0, 250.0])
    x = rng.gamma(2.0, 0.6, size=(997, 3)) * scale  # some draws above the grid's top
    x[:100, 0] = 0.0  # exact zeros stay exact
    grid = _grid(scale)
    summary = Summary({"x": grid})
    for lo in range(0, len(x), 100):  # merged chunk by chunk
        summary.add({"x": Part.of(grid, x[lo : lo + 100])})
    for q in QUANTILES:
        exact = np.quantile(x, q, axis=0, method="inverted_cdf")
        est = summary.quantile("x", q).values
        inside = exact <= grid.top * scale
        assert inside.any()
        assert np.all(np.abs(est - exact)[inside] <= grid.error[inside] * (1 + 1e-12))
        assert np.all(np.isnan(est[~inside]))  # above the grid: NaN, never a wrong number
    np.testing.assert_allclose(summary.mean("x").values, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(summary.sd("x").values, x.std(axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_array_equal(summary.exceedance("x").values, (x > 0).mean(axis=0))
    assert summary.quantile("x", 0.05).values[0] == 0.0


def test_a_coarser_grid_misses_by_more_so_the_bound_is_not_vacuous() -> None:
    rng = np.random.default_rng(8)
    x = rng.uniform(0.0, 1.0, size=(2000, 1))
    errors = []
    for bins in (8, 4096):
        grid = _grid(np.ones(1), top=1.0, steps=bins)
        s = Summary({"x": grid})
        s.add({"x": Part.of(grid, x)})
        exact = np.quantile(x, 0.37, axis=0, method="inverted_cdf")
        errors.append(float(np.abs(s.quantile("x", 0.37).values - exact)[0]))
    assert errors[0] > errors[1]
    assert errors[1] <= 0.5 / 4096


# --- simulate: streamed summary against the full arrays ----------------------------------------


@pytest.fixture(scope="module")
def kept(bundled: SupplyChain, october: Scenario) -> RunResult:
    config = RunConfig(runs=130, seed=11, horizon=12, chunk=40, workers=1, keep_paths=True)
    return simulate(bundled, october, config)


def test_streaming_summaries_equal_full_array_summaries(kept: RunResult) -> None:
    checked = 0
    for mineral, mr in kept.minerals.items():
        summ, res = mr.summary, mr.results
        assert summ is not None
        assert summ.draws == 130
        full = {
            "shortfall": res["shortfall"],
            "loss_usd": res["loss_usd"],
            "price_ratio": res["price_ratio"],
            "receipts": res["receipts"],
            "shortfall_total": res["shortfall"].sum("period"),
            "loss_total": res["loss_usd"].sum("period"),
            "exports": res["exports"],
            "final": res["final"],
        }
        for name, arr in full.items():
            x = arr.values
            grid = summ.grids[name]
            if not grid.moments:  # flows by node: quantiles only
                with pytest.raises(ValueError, match="only quantiles"):
                    summ.mean(name)
                continue
            np.testing.assert_allclose(
                summ.mean(name).values, x.mean(axis=0), rtol=1e-9, atol=1e-9, err_msg=name
            )
            # a constant cell (terbium's horizon loss under a regime every draw meets,
            # 1.8e9 USD) has an sd of rounding noise, ~1e-15 of the values' magnitude
            noise = 1e-12 * float(np.abs(x).max(initial=0.0))
            np.testing.assert_allclose(
                summ.sd(name).values,
                x.std(axis=0, ddof=1),
                rtol=1e-7,
                atol=1e-6 + noise,
                err_msg=name,
            )
            np.testing.assert_array_equal(
                summ.exceedance(name).values, (x > 0).mean(axis=0), err_msg=name
            )
        for name, arr in full.items():
            x = arr.values
            grid = summ.grids[name]
            for q in QUANTILES:
                exact = np.quantile(x, q, axis=0, method="inverted_cdf")
                est = summ.quantile(name, q).values
                ok = (grid.scale > 0) & (exact <= grid.top * grid.scale)
                gap = np.abs(est - exact)[ok]
                assert np.all(gap <= grid.error[ok] * (1 + 1e-9) + 1e-9), (mineral, name, q)
                checked += int(ok.sum())
    assert checked > 1000


def test_records_read_the_summary(kept: RunResult) -> None:
    mr = kept.minerals["rare_earths"]
    rows = region_records("rare_earths", mr)
    usa = [r for r in rows if r["region"] == "USA"]
    exact = np.quantile(
        mr.results["shortfall"].sel(region="USA").values, 0.95, axis=0, method="inverted_cdf"
    )
    assert mr.summary is not None
    err = float(mr.summary.grids["shortfall"].error[0, 1])
    assert max(exact) > 0
    for r, e in zip(usa, exact, strict=True):
        assert abs(r["shortfall_t_p95"] - e) <= err + 1e-6


def test_paths_written_chunk_by_chunk_in_float32_within_bound(
    bundled: SupplyChain, october: Scenario, tmp_path: Path
) -> None:
    config = RunConfig(
        runs=50, seed=3, horizon=12, chunk=20, workers=1, keep_paths=True, paths_dir=tmp_path
    )
    result = simulate(bundled, october, config)
    mr = result.minerals["rare_earths"]
    files = sorted((tmp_path / "rare_earths").glob("paths-*.nc"))
    # one file per chunk: the pilot block (20 draws), then the chain's other blocks (20 + 10)
    assert [f.name for f in files] == ["paths-00000000.nc", "paths-00000020.nc"]
    with xr.open_mfdataset(files, engine="scipy", combine="by_coords") as ds:
        np.testing.assert_array_equal(ds["scenario"].values, np.arange(50))
        for name in ("shortfall", "loss_usd", "exports", "price_ratio"):
            x64, x32 = mr.results[name].values, ds[name].values
            assert x32.dtype == np.float32
            # float32 rounding: relative error at most 2**-24 (below the smallest normal the
            # absolute error is at most 2**-150)
            assert np.all(np.abs(x32.astype(float) - x64) <= 2.0**-24 * np.abs(x64) + 2.0**-149)


# --- same seed, same numbers, every executor ----------------------------------------------------


def _numbers(result: RunResult) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for m, mr in result.minerals.items():
        assert mr.summary is not None
        for name, part in mr.summary.parts.items():
            assert part.counts is not None
            out[f"{m}/{name}/counts"] = part.counts
            out[f"{m}/{name}/sum"] = part.total
            out[f"{m}/{name}/m2"] = part.m2
        for v in mr.results.data_vars:
            out[f"{m}/{v}"] = mr.results[str(v)].values
    return out


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        np.testing.assert_array_equal(value, b[key], err_msg=key)


def test_same_seed_same_numbers_in_process_pool_and_local_cluster(
    bundled: SupplyChain, october: Scenario
) -> None:
    base = {
        "runs": 90,
        "seed": 21,
        "horizon": 12,
        "chunk": 15,
        "period": Period.MONTH,
        "keep_paths": True,
    }
    # 14 chains: each chain's 6 blocks fit one chunk, so its build runs them all (one task
    # per chain); one chain: its blocks are cut into chunks that run on the built chain
    one_chain = october.model_copy(update={"minerals": ["rare_earths"]})
    for spec, chains in ((october, 14), (one_chain, 1)):
        inproc = _numbers(simulate(bundled, spec, RunConfig(**base, workers=1)))
        on_pool = simulate(bundled, spec, RunConfig(**base, workers=2))
        on_cluster = simulate(bundled, spec, RunConfig(**base, workers=2, executor=Executor.DASK))
        assert len(on_pool.minerals) == chains
        for run in (on_pool, on_cluster):
            assert (run.stats.tasks == chains) is (chains == 14), run.stats
        _assert_same(inproc, _numbers(on_pool))
        _assert_same(inproc, _numbers(on_cluster))
    other = _numbers(simulate(bundled, one_chain, RunConfig(**{**base, "seed": 22}, workers=1)))
    assert any(not np.array_equal(inproc[k], other[k]) for k in inproc)


def test_a_kept_dask_cluster_keeps_the_context_between_runs(
    bundled: SupplyChain, october: Scenario
) -> None:
    """Two runs on one LocalCluster: each worker unpickles the context once and keeps it
    under the SHA-256 of its pickle (the same for both runs), and the numbers agree."""
    base = {
        "runs": 30,
        "seed": 5,
        "horizon": 6,
        "chunk": 15,
        "executor": Executor.DASK,
        "keep_paths": True,
    }
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        config = RunConfig(**base, workers=2, scheduler=cluster.scheduler_address)
        first = _numbers(simulate(bundled, october, config))
        kept = client.run(lambda: list(driver._CONTEXTS))
        second = _numbers(simulate(bundled, october, config))
        assert client.run(lambda: list(driver._CONTEXTS)) == kept
    assert [len(t) for t in kept.values()] == [1, 1]
    assert len({t[0] for t in kept.values()}) == 1
    _assert_same(first, second)


def test_kept_contexts_are_the_last_used() -> None:
    driver._CONTEXTS.clear()
    payloads = {t: pickle.dumps({"t": t}) for t in "abc"}
    assert driver._context("a", payloads["a"]) == {"t": "a"}
    a = driver._context("a", payloads["a"])
    assert driver._context("a", b"not unpickled: kept") is a
    driver._context("b", payloads["b"])
    driver._context("a", payloads["a"])  # a used last: b goes when c comes
    driver._context("c", payloads["c"])
    assert list(driver._CONTEXTS) == ["a", "c"][-driver.KEPT_CONTEXTS :]
    driver._CONTEXTS.clear()


_PICKLED_SCENARIO = """
import hashlib, pickle
from critmin.chain import SupplyChain
from critmin.scenarios.load import Labels, load_scenario
spec = load_scenario("china-2025-10", Labels.of(SupplyChain.load().dataset))
back = pickle.loads(pickle.dumps(spec))
assert back == spec and back.model_fields_set == spec.model_fields_set
print(hashlib.sha256(pickle.dumps(spec)).hexdigest())
"""


def test_a_scenario_pickles_to_the_same_bytes_in_every_process() -> None:
    """The context's name on the workers is its pickle's hash: a scenario (pydantic models,
    whose set of fields set follows the process's string hashing) must pickle the same in
    processes with different hash seeds."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", _PICKLED_SCENARIO],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


def test_rank_and_ensemble_same_numbers_in_process_and_pool(bundled: SupplyChain) -> None:
    some = ["gallium", "rare_earths", "dysprosium"]
    one = rank_records(rank(bundled, runs=20, seed=4, workers=1, minerals=some))
    two = rank_records(rank(bundled, runs=20, seed=4, workers=2, minerals=some))
    assert one == two
    kw = {"minerals": ["gallium", "cobalt"], "runs": 30, "seed": 6, "horizon": 4}
    e1 = build_ensemble(bundled, **kw)  # type: ignore[arg-type]
    e2 = build_ensemble(bundled, workers=2, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(e1.shortfall.values, e2.shortfall.values)
    np.testing.assert_array_equal(e1.price.values, e2.price.values)


def _square(context: int, item: int) -> int:
    return context + item * item


def test_map_chunks_keeps_item_order_and_sends_the_context() -> None:
    items = list(range(7))
    want = [100 + i * i for i in items]
    seen: list[tuple[int, int]] = []
    got = list(
        map_chunks(_square, 100, items, Execution(workers=2), lambda d, t: seen.append((d, t)))
    )
    assert got == want
    assert seen[-1] == (7, 7)
    assert list(map_chunks(_square, 100, items, Execution(workers=1))) == want


def _build_key(context: int, key: int) -> tuple[int, str]:
    return context + key, f"pilot {key}"


def _use_built(context: int, built: int, item: int) -> int:
    return built * 1000 + context + item


def test_map_built_gives_each_key_built_then_its_chunks_in_order() -> None:
    keys = [3, 1, 2]
    want: list[tuple[object, ...]] = []
    for k in keys:
        want.append(("built", k, 100 + k, f"pilot {k}"))
        want += [("done", k, i, (100 + k) * 1000 + 100 + i) for i in range(k)]
    for execution in (Execution(workers=1), Execution(workers=2)):
        with session(execution) as s:
            events = list(
                s.map_built(_build_key, _use_built, 100, keys, lambda k, b, p: list(range(k)))
            )
        got = [
            ("built", e.key, e.value, e.extra)
            if isinstance(e, Built)
            else ("done", e.key, e.item, e.result)
            for e in events
        ]
        assert got == want, execution
        assert s.stats.tasks == len(keys) + sum(keys)  # each key built once
        assert s.stats.cpu > 0


def test_chunk_sizing_from_measured_cost() -> None:
    assert blocks_per_chunk(0.05, 100, 2) == 10  # 0.5 s chunks
    assert blocks_per_chunk(0.05, 8, 2) == 2  # every worker gets at least two chunks
    assert blocks_per_chunk(2.0, 100, 2) == 1
    assert blocks_per_chunk(0.001, 1000, 2, max_blocks=30) == 30  # memory bound
    assert blocks_per_chunk(0.001, 40, 1, least=1) == 40  # other chains spread the work
    assert blocks_per_chunk(0.05, 40, 1, least=1) == 10  # still cut by length


def test_local_cluster_workers_lose_the_nanny_malloc_setting() -> None:
    env = dask_worker_env()
    assert "MALLOC_TRIM_THRESHOLD_" not in env
    assert env["OMP_NUM_THREADS"] == "1"
    assert env["OPENBLAS_NUM_THREADS"] == "1"


# --- a real multi-process deployment ------------------------------------------------------------


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes on random ports, torn down after."""
    folder = tmp_path_factory.mktemp("dask")
    file = folder / "scheduler.json"
    dask = str(Path(sys.executable).with_name("dask"))
    # the workers run the critmin under test (as on a cluster: the client's version)
    source = str(Path(critmin.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
    env = os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": path}
    procs = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(file),
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--local-directory",
                        str(folder / f"w{i}"),
                        "--name",
                        f"w{i}",
                    ],
                    cwd=folder,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with Client(address, timeout=30) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung process
                p.kill()
                p.wait()


def _cli(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + str(result.exception)
    return result.output


def test_cli_on_a_multi_process_scheduler_gives_the_in_process_numbers(
    deployment: str, tmp_path: Path
) -> None:
    common = ["simulate", "china-2025-10", "--runs", "60", "--seed", "8", "--horizon", "12"]
    _cli(
        [
            *common,
            "--workers",
            "1",
            "--out",
            str(tmp_path / "a"),
            "--json",
            str(tmp_path / "a.json"),
        ]
    )
    _cli(
        [
            *common,
            "--executor",
            "dask",
            "--scheduler",
            deployment,
            "--out",
            str(tmp_path / "b"),
            "--json",
            str(tmp_path / "b.json"),
        ]
    )
    a, b = (json.loads((tmp_path / f"{x}.json").read_text()) for x in "ab")
    assert a["regions"]
    assert a == b
    for f in ("rare_earths.summary.nc", "lithium.summary.nc"):
        with (
            xr.open_dataset(tmp_path / "a" / f, engine="scipy") as x,
            xr.open_dataset(tmp_path / "b" / f, engine="scipy") as y,
        ):
            xr.testing.assert_identical(x, y)
    ranked = ["rank", "--runs", "20", "--seed", "3"]
    _cli([*ranked, "--workers", "1", "--json", str(tmp_path / "r1.json")])
    _cli([*ranked, "--scheduler", deployment, "--json", str(tmp_path / "r2.json")])
    r1, r2 = (json.loads((tmp_path / f"r{x}.json").read_text()) for x in "12")
    assert len(r1) > 20
    assert r1 == r2


def test_optimize_same_seed_same_plan_in_process_pool_and_scheduler(
    deployment: str, tmp_path: Path
) -> None:
    """``critmin optimize --workers/--scheduler`` builds its ensemble on the one driver: the
    plan does not depend on where the chains ran."""
    common = ["optimize", "--runs", "30", "--horizon", "4", "--sensitivity-seconds", "0"]
    plans = {}
    for name, where in {
        "here": ["--workers", "1"],
        "pool": ["--workers", "2"],
        "cluster": ["--scheduler", deployment],
    }.items():
        _cli([*common, "--seed", "5", *where, "--json", str(tmp_path / f"{name}.json")])
        plans[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert plans["here"]["holdings"]
    assert plans["here"] == plans["pool"] == plans["cluster"]
    _cli([*common, "--seed", "6", "--workers", "1", "--json", str(tmp_path / "other.json")])
    assert json.loads((tmp_path / "other.json").read_text()) != plans["here"]


def _same_models(a, b, label: str) -> None:  # type: ignore[no-untyped-def]
    for f in dataclasses.fields(a):
        if f.name != "exposure":  # compared by what it gives below
            np.testing.assert_equal(getattr(a, f.name), getattr(b, f.name), err_msg=label)
    if a.exposure is not None:
        assert b.exposure is not None
        np.testing.assert_array_equal(
            a.exposure.gdp_lost(np.linspace(0, 1, 5)), b.exposure.gdp_lost(np.linspace(0, 1, 5))
        )


def test_the_chain_shipped_to_workers_builds_the_same_models(
    bundled: SupplyChain, october: Scenario
) -> None:
    """Workers get the trade table and the per-mineral arrays cut to what the simulated
    chains' builds read; every chain they build from it equals the one built from the whole
    data, bit for bit: the scenario's chains together, and every chain shipped alone (its
    parents and by-product hosts must come with it)."""
    minerals = chain_minerals(bundled, october)
    cut = shipped(bundled, minerals)
    assert len(cut.dataset["trade"]) < len(bundled.dataset["trade"])
    assert cut.production.sizes["mineral"] < bundled.production.sizes["mineral"] / 3
    assert len(pickle.dumps(cut)) < len(pickle.dumps(bundled)) / 3
    for m in minerals:
        _same_models(build_model(bundled, m), build_model(cut, m), m)
    every = sorted({str(m) for m in bundled.dataset["chains"]["mineral"]})
    hosted = set(bundled.dataset["byproducts"]["mineral"])
    assert any(m in hosted for m in every)  # a by-product's host is read and shipped
    for m in every:
        alone = shipped(bundled, [m])
        _same_models(build_model(bundled, m), build_model(alone, m), f"{m} alone")


def test_a_chunks_block_parts_travel_stacked_and_come_back_the_same(
    bundled: SupplyChain, october: Scenario
) -> None:
    """A chunk's per-block parts travel as one array per quantity and field (not one per
    block) and come back, block by block, equal to the parts of each block run alone; the
    chunk's histogram (with the first block) is the sum of theirs."""
    mineral = chain_minerals(bundled, october)[0]
    model = build_model(bundled, mineral)
    io = runner.io_model(bundled.dataset)
    parents = parents_of_dataset(bundled.dataset)
    ctx = runner._Context(bundled, io, model, october, parents, 6, 1, 6, True, False, 0.0)
    seeds = np.random.SeedSequence(3).spawn(4)
    built, _ = runner._build(ctx, runner._Item(mineral, ((15, seeds[0]),)))
    out = runner._chunk(ctx, built, runner._Item(mineral, tuple((15, ss) for ss in seeds)))
    travelled = pickle.loads(pickle.dumps(out.parts))
    assert all(a.shape[0] == 4 for a in travelled.total.values())  # one array, four blocks
    got = travelled.blocks()
    alone = [runner._chunk(ctx, built, runner._Item(mineral, ((15, ss),))) for ss in seeds]
    assert len(got) == 4
    for b, one in enumerate(alone):
        want = one.parts.blocks()[0]
        assert got[b].keys() == want.keys()
        for name, part in got[b].items():
            assert part.n == want[name].n == 15
            for field in ("total", "m2", "above_zero"):
                np.testing.assert_array_equal(getattr(part, field), getattr(want[name], field))
            assert (part.counts is None) is (b > 0)
    for name, part in got[0].items():
        assert isinstance(part.counts, Sparse)
        summed = sum(o.parts.blocks()[0][name].counts.dense() for o in alone)  # type: ignore[union-attr]
        np.testing.assert_array_equal(part.counts.dense(), summed)


def _merged_here(parts: list[dict[str, Part]], grids: dict[str, Grid]) -> Summary:
    """The caller's rule: every block's parts added in block order."""
    out = Summary(grids)
    for p in parts:
        out.add(p)
    return out


def _assert_same_parts(got: Summary, want: Summary) -> None:
    assert got.parts.keys() == want.parts.keys()
    for name, part in got.parts.items():
        other = want.parts[name]
        assert part.n == other.n, name
        assert isinstance(part.counts, np.ndarray), name  # dense again once resumed
        for field in ("counts", "total", "m2", "above_zero"):
            a, b = getattr(part, field), getattr(other, field)
            assert a.dtype == b.dtype, (name, field)
            assert a.tobytes() == b.tobytes(), (name, field)  # the bits, not within rounding


def test_a_build_merges_its_blocks_on_the_worker_as_the_caller_would(
    bundled: SupplyChain, october: Scenario
) -> None:
    """A chain's build task merges the blocks it ran (its pilot, and the chain's others when
    they make one chunk) in block order, by ``Summary.add``, and sends that one summary with
    its histograms sparse; the caller resumes from it and adds later chunks block by block.
    Bit for bit what the caller got when it merged every block itself, whether the build ran
    the whole chain or only its pilot."""
    mineral = "rare_earths"
    io = runner.io_model(bundled.dataset)
    parents = parents_of_dataset(bundled.dataset)
    # 12 months: the controls bite within the horizon, so the draws vary
    ctx = runner._Context(bundled, io, None, october, parents, 12, 1, 12, True, False, 0.0)
    seeds = np.random.SeedSequence(7).spawn(5)
    blocks = tuple((15, ss) for ss in seeds)
    # the caller's merge of every block, each block's parts from a chunk that ran them all
    built, _ = runner._build(ctx, runner._Item(mineral, blocks[:1]))
    every = runner._chunk(ctx, built, runner._Item(mineral, blocks)).parts.blocks()
    want = _merged_here(every, built.grids)
    assert len(every) == 5
    cut = runner._Cut(5, 1, 1, 15, 12, False)
    # the whole chain in its build: one merged summary comes back, nothing left to plan
    _, whole = runner._build(ctx, runner._Item(mineral, blocks[:1], blocks[1:], cut))
    assert whole.whole
    assert whole.seconds > 0
    travelled = pickle.loads(pickle.dumps(whole))
    assert all(isinstance(p.counts, Sparse) for p in travelled.parts.values())
    assert {p.n for p in travelled.parts.values()} == {75}
    _assert_same_parts(Summary.resumed(built.grids, travelled.parts), want)
    # the pilot alone (the rest cut into chunks elsewhere): resumed, then the rest added
    alone = dataclasses.replace(cut, inline=False)
    _, pilot = runner._build(ctx, runner._Item(mineral, blocks[:1], blocks[1:], alone))
    assert not pilot.whole
    resumed = Summary.resumed(built.grids, pickle.loads(pickle.dumps(pilot)).parts)
    for j in (1, 3):  # two chunks of the rest: blocks 1-2 and 3-4
        later = runner._chunk(ctx, built, runner._Item(mineral, blocks[j : j + 2]))
        for part in pickle.loads(pickle.dumps(later.parts)).blocks():
            resumed.add(part)
    _assert_same_parts(resumed, want)
    # a merge in another order gives other bits: the comparison above can tell
    swapped = _merged_here(every[::-1], built.grids)
    assert any(swapped.parts[k].m2.tobytes() != want.parts[k].m2.tobytes() for k in want.parts)


def test_on_dask_the_caller_builds_no_chain(
    bundled: SupplyChain, october: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Dask every chain is built on the workers (a build in the calling process was serial
    time, 36 ms of CPU per run); in-process and before a local pool forks (whose processes
    inherit the kernel its neutral run loads) the caller builds the first."""
    made: list[str] = []
    build = runner.build_model

    def counted(chain: SupplyChain, mineral: str, *args: object, **kw: object) -> object:
        made.append(mineral)
        return build(chain, mineral, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "build_model", counted)
    base = {"runs": 30, "seed": 4, "horizon": 6, "chunk": 15}
    one = october.model_copy(update={"minerals": ["rare_earths", "graphite"]})
    here = simulate(bundled, one, RunConfig(**base, workers=1))
    assert sorted(made) == ["graphite", "rare_earths"]  # every build ran here, once each
    made.clear()
    on_pool = simulate(bundled, one, RunConfig(**base, workers=2))
    assert made == [
        "rare_earths"
    ]  # the first, for the pool's warm-up (forked workers: theirs not seen)
    made.clear()
    on_dask = simulate(bundled, one, RunConfig(**base, workers=2, executor=Executor.DASK))
    assert made == []
    assert sorted(on_dask.minerals) == ["graphite", "rare_earths"]
    _assert_same(_numbers(here), _numbers(on_dask))
    _assert_same(_numbers(here), _numbers(on_pool))


def test_labelled_paths_are_the_broadcast_products(bundled: SupplyChain) -> None:
    """``_labelled`` builds a chain's dataset in one go; its sector splits are the products
    xarray's broadcasting gives (shortfall by region x the region's sector shares)."""
    model = build_model(bundled, "rare_earths")
    assert model.sector_share.shape[1] > 1  # more than one sector: the split is not trivial
    rng = np.random.default_rng(0)
    S, P, R = 3, 4, len(model.regions)
    arrays = {
        "exports": rng.random((S, P, model.K, model.N)),
        "final": rng.random((S, P, model.N, R)),
        **{k: rng.random((S, P, R)) for k in ("receipts", "shortfall", "loss_usd", "price_ratio")},
    }
    ds = runner._labelled(model, arrays)
    split = xr.DataArray(model.sector_share, dims=("region", "sector"))
    for name, source in (("shortfall_sector", "shortfall"), ("loss_sector", "loss_usd")):
        want = ds[source] * split
        assert ds[name].dims == want.dims == ("scenario", "period", "region", "sector")
        assert ds[name].values.tobytes() == want.values.tobytes()
        assert ds[name].attrs["unit"] == ds[source].attrs["unit"]
    assert ds.attrs == {"mineral": "rare_earths", "quantity_unit": model.unit}
    assert list(ds["region"].values) == list(model.regions)
    np.testing.assert_array_equal(ds["period"].values, np.arange(1, P + 1))
