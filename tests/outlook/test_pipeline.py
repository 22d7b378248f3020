"""The pipeline Monte Carlo: lead times, completion, the permitting lever (issue 14 checks)."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.chain import SupplyChain
from critmin.outlook.capacity import run_outlook
from critmin.outlook.montecarlo import online_fraction, sample
from critmin.outlook.pipeline import build_pipeline
from critmin.outlook.policy import Policy
from critmin.schema.tables import PROJECT_PHASES


def test_permitting_project_never_produces_before_its_sampled_lead_time(
    small: SupplyChain,
) -> None:
    pipe = build_pipeline(small.dataset, Policy())
    draws = sample(pipe, 3000, seed=11)
    years = list(range(2024, 2041))
    frac = online_fraction(draws.online, years)
    i = list(pipe.median.project.values).index("aus-cobalt-refinery")
    lead = draws.lead_time.isel(project=i).to_numpy()
    producing = frac.isel(project=i).transpose("draw", "year").to_numpy() > 0
    earliest = 2024 + lead  # status year + sampled lead time
    year_end = np.asarray(years)[None, :] + 1.0
    assert producing.any()
    assert not (producing & (year_end <= earliest[:, None])).any()
    # and a project never produces in a draw where it failed a phase
    failed = ~np.isfinite(draws.online.isel(project=i).to_numpy())
    assert failed.any()
    assert not producing[failed].any()


def test_completion_share_matches_the_lead_time_table(small: SupplyChain) -> None:
    lt = small.dataset["lead_times"].set_index(["facility_type", "phase"])["pass_probability"]
    pipe = build_pipeline(small.dataset, Policy())
    n = 40_000
    online = sample(pipe, n, seed=3).online
    for project, kind, status in (
        ("aus-cobalt-refinery", "plant", "permitting"),
        ("aus-cobalt-mine", "mine", "feasibility"),
    ):
        ahead = PROJECT_PHASES[PROJECT_PHASES.index(status) :]
        expected = float(np.prod([lt[(kind, p)] for p in ahead if (kind, p) in lt.index]))
        observed = float(np.isfinite(online.sel(project=project)).mean())
        se = np.sqrt(expected * (1 - expected) / n)
        assert abs(observed - expected) < 4 * se, (project, observed, expected)


def test_permitting_reform_shortens_lead_times_and_never_raises_china(
    small: SupplyChain,
) -> None:
    base = run_outlook(small, Policy(), draws=2000, seed=5)
    reform = run_outlook(small, Policy(permitting_change={"all": -0.5}), draws=2000, seed=5)
    lead_base = base.draws.lead_time.mean("draw")
    lead_reform = reform.draws.lead_time.mean("draw")
    assert float(lead_reform.sel(project="aus-cobalt-refinery")) < float(
        lead_base.sel(project="aus-cobalt-refinery")
    )
    assert (lead_reform <= lead_base + 1e-9).all()
    b = base.by_chain.set_index(["mineral", "stage", "year"])
    r = reform.by_chain.set_index(["mineral", "stage", "year"])
    for col in ("china_share_p05", "china_share_p50", "china_share_p95"):
        assert (r[col] <= b[col] + 1e-12).all(), col
    assert (r["china_share_p50"] < b["china_share_p50"] - 1e-6).any()


def test_permitting_lever_applies_only_to_the_named_country(small: SupplyChain) -> None:
    base = build_pipeline(small.dataset, Policy())
    usa = build_pipeline(small.dataset, Policy(permitting_change={"USA": -0.5}))
    aus = build_pipeline(small.dataset, Policy(permitting_change={"AUS": -0.5}))
    assert np.allclose(base.median, usa.median)
    p = aus.median.sel(phase="permitting") / base.median.sel(phase="permitting")
    assert np.allclose(p.where(base.median.sel(phase="permitting") > 0, 0.5), 0.5)


def test_bundled_outlook_reform_never_reverses(bundled: SupplyChain) -> None:
    base = run_outlook(bundled, Policy(), draws=300, seed=2)
    reform = run_outlook(bundled, Policy(permitting_change={"all": -0.5}), draws=300, seed=2)
    b = base.by_chain.set_index(["mineral", "stage", "year"])["china_share_p50"]
    r = reform.by_chain.set_index(["mineral", "stage", "year"])["china_share_p50"]
    assert (r <= b + 1e-12).all()
    # projects failing in half the draws or more have no median online year (and no warning)
    table = base.projects_table()
    completes = np.isfinite(base.draws.online).mean("draw").to_numpy()
    never = completes < 0.5
    assert table.loc[never, "online_p50"].isna().all()
    assert table.loc[~never, "online_p50"].notna().all()
    recs = base.by_country
    assert set(recs["year"]) == set(range(2024, 2041))
    assert recs[["capacity_p05", "capacity_p50", "capacity_p95"]].notna().all().all()
    assert (recs["capacity_p05"] <= recs["capacity_p50"] + 1e-9).all()
    assert (recs["capacity_p50"] <= recs["capacity_p95"] + 1e-9).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_same_seed_same_outlook(small: SupplyChain, seed: int) -> None:
    a = run_outlook(small, Policy(), draws=200, seed=seed).by_country
    b = run_outlook(small, Policy(), draws=200, seed=seed).by_country
    assert a.equals(b)
