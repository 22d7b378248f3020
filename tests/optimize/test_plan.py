"""The plan on the bundled data: budget, comparison with simple policies, the CLI's JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.optimize.eligibility import Eligibility
from critmin.optimize.ensemble import build_ensemble
from critmin.optimize.plan import optimise
from critmin.optimize.problem import Risk
from critmin.optimize.weights import expect, weights


@pytest.fixture(scope="module")
def plan(bundled: SupplyChain):  # type: ignore[no-untyped-def]
    ens = build_ensemble(bundled, runs=80, seed=11, horizon=12)
    return optimise(bundled, ens, budget=2.5e9, risk=Risk())


def test_spending_stays_within_budget(plan) -> None:  # type: ignore[no-untyped-def]
    assert plan.solution.spent_usd <= 2.5e9 * (1 + 1e-9)
    assert plan.holdings["usd"].sum() == pytest.approx(plan.solution.spent_usd, rel=1e-6)
    assert (plan.holdings["tonnes"] >= 0).all()


def test_optimised_plan_beats_every_simple_policy(plan) -> None:  # type: ignore[no-untyped-def]
    policies = plan.policies.set_index("name")
    best = policies.loc["optimised"]
    # the optimum minimises total cost; a policy that spends more may leave a smaller loss
    for name in ("no reserve", "import reliance", "60-day cover"):
        assert best["total_cost_usd"] <= policies.loc[name, "total_cost_usd"] + 1.0, name
    assert policies.loc["no reserve", "spent_usd"] == 0.0


def test_plan_reports_cover_and_value(plan) -> None:  # type: ignore[no-untyped-def]
    held = plan.holdings[plan.holdings["tonnes"] > 0]
    assert len(held) > 0
    assert (held["days_of_cover"] > 0).all()
    assert (held["expected_loss_avoided_usd"] >= -1e-6).all()
    # a binding budget is worth more than a dollar; one that does not bind, nothing
    if plan.solution.budget_binds:
        assert plan.marginal_value_of_budget > 1.0
    else:
        assert plan.marginal_value_of_budget == 0.0
        assert plan.solution.spent_usd < 2.5e9 * (1 - 1e-6)
    rules = plan.rules
    assert set(rules["trigger"].str.split(" ").str[0]) == {"declared", "price"}
    # rules have no foresight: never better than the optimal releases on the same scenarios,
    # by what the optimum weighs (loss less the credit of releases sold), one lot per mineral
    one = rules.groupby("mineral")["form"].transform("nunique") == 1
    tol = 1e-6 * rules["optimal_expected_net_usd"].abs().max() + 1e-3
    assert (rules["expected_net_usd"] >= rules["optimal_expected_net_usd"] - tol)[one].all()


def test_lots_share_their_minerals_avoided_loss(plan) -> None:  # type: ignore[no-untyped-def]
    """A mineral's lots together avoid what the plan avoids on that mineral (not each of them
    the whole of it), shared by their expected releases."""
    ens, sol = plan.ensemble, plan.solution
    avoided = expect((ens.loss() - sol.unmet * ens.loss_per_t).sum("period"), weights(ens))
    by_mineral = plan.holdings.groupby("mineral")["expected_loss_avoided_usd"].sum()
    checked = 0
    for m, total in by_mineral.items():
        if total != 0:  # a mineral whose lots release nothing shares nothing
            assert total == pytest.approx(float(avoided.sel(mineral=m)), rel=1e-6), m
            checked += 1
    assert checked > 0
    several = plan.holdings.groupby("mineral").filter(lambda g: (g["tonnes"] > 0).sum() > 1)
    for _, group in several.groupby("mineral"):
        assert (
            group["expected_loss_avoided_usd"].nunique() > 1
            or (group["expected_loss_avoided_usd"] == 0).all()
        )


def test_cli_optimize_json(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(
        main,
        [
            "optimize",
            "--runs",
            "40",
            "--horizon",
            "8",
            "--seed",
            "2",
            "--json",
            str(out),
            "--risk",
            "cvar:0.9:0.2",
            "--sensitivity-seconds",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert {
        "budget_usd",
        "spent_usd",
        "objective",
        "expected_loss_usd",
        "cvar_loss_usd",
        "marginal_value_of_budget",
        "holdings",
        "agreements",
        "policies",
    } <= set(data)
    assert {"mineral", "form", "tonnes", "usd", "days_of_cover"} <= set(data["holdings"][0])
    assert {p["name"] for p in data["policies"]} == {
        "no reserve",
        "import reliance",
        "60-day cover",
        "optimised",
    }
    assert {"name", "expected_loss_usd", "cvar_loss_usd", "spent_usd"} <= set(data["policies"][0])
    assert data["spent_usd"] <= data["budget_usd"] + 1e-3
    for h in data["holdings"]:
        assert h["eligibility_rule"]
        assert h["why"]
    rows = data["sensitivity"]
    assert rows
    assert {"parameter", "mineral", "budget_share_moved"} <= set(rows[0])
    held = {h["mineral"] for h in data["holdings"] if h["tonnes"] > 1e-6}
    for r in rows:
        assert r["mineral"] in held | {"all"}
        moved = r["budget_share_moved"]
        assert moved is None or 0.0 <= moved <= 2.0
        assert r["flagged"] == (None if moved is None else moved > 0.25)
    # copper: the 2-day stock cover no longer matters, as the default board rule
    # (NIR >= 0.9 or an export restriction since 2020) excludes copper from the reserve
    assert "copper" not in {h["mineral"] for h in data["holdings"]}
    assert "copper" not in {r["mineral"] for r in rows}


def test_cli_rejects_bad_risk() -> None:
    result = CliRunner().invoke(main, ["optimize", "--risk", "var:2"])
    assert result.exit_code == 2
    assert "cvar:ALPHA:LAMBDA" in result.stderr


def test_budget_from_the_reserve_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    runner = CliRunner()
    init = runner.invoke(
        main, ["ledger", "init", "--appropriation", "1000000000", "--database", url]
    )
    assert init.exit_code == 0, init.output
    out = tmp_path / "plan.json"
    result = runner.invoke(
        main,
        [
            "optimize",
            "--database",
            url,
            "--runs",
            "20",
            "--horizon",
            "4",
            "--sensitivity-seconds",
            "0",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["budget_usd"] == pytest.approx(1e9)
    assert data["sensitivity"] == []  # skipped
    assert data["spent_usd"] <= 1e9 + 1e-3


def test_every_holding_meets_the_eligibility_rule(plan, bundled: SupplyChain) -> None:  # type: ignore[no-untyped-def]
    admitted = Eligibility.of(bundled).admit(bundled, sorted(set(plan.holdings["mineral"])))
    assert len(plan.holdings) > 0
    for _, h in plan.holdings.iterrows():
        assert admitted[h["mineral"]] is not None, h["mineral"]
        assert h["eligibility_rule"] == admitted[h["mineral"]]
        assert isinstance(h["why"], str)
        assert h["why"]
    # copper (U.S. net import reliance 0.45 in 2024, no export restriction) is not eligible
    assert "copper" not in set(plan.holdings["mineral"])


def test_changing_the_rule_changes_the_plan(plan, bundled: SupplyChain) -> None:  # type: ignore[no-untyped-def]
    narrow = Eligibility.parse("nir>=0.99")
    other = optimise(bundled, plan.ensemble, budget=2.5e9, risk=Risk(), eligibility=narrow)
    nir = bundled.us_nir_base().to_series()  # in each mineral's base year, as the rule reads
    assert set(other.holdings["mineral"]) <= set(nir[nir >= 0.99].index)
    spend = lambda p: p.holdings.set_index(["mineral", "form"])["usd"]  # noqa: E731
    assert not spend(other).reindex(spend(plan).index).fillna(0).equals(spend(plan))
    assert set(other.holdings["mineral"]) != set(plan.holdings["mineral"])


def test_quarterly_purchases_stay_under_the_market_impact_cap(plan) -> None:  # type: ignore[no-untyped-def]
    sol, lots = plan.solution, plan.lots
    assert sol.purchases is not None
    assert lots is not None
    cap = lots.column("cap_t_per_period")
    assert bool(cap.notnull().any())
    over = sol.purchases - cap.fillna(float("inf")) * (1 + 1e-9)
    assert float(over.max()) <= 1e-6
    # a capped lot's stock over the horizon is at most the cap x the number of quarters
    assert (sol.stock <= cap.fillna(float("inf")) * plan.ensemble.periods * (1 + 1e-9)).all()


def test_cli_partners_show_what_their_money_buys(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    args = ["optimize", "--runs", "20", "--horizon", "4", "--seed", "3", "--budget", "1e8"]
    args += ["--partner", "JPN:5e7:antimony:rights=0.2"]
    result = CliRunner().invoke(main, [*args, "--sensitivity-seconds", "0", "--json", str(out)])
    assert result.exit_code == 0, result.output
    partners = {p["partner"]: p for p in json.loads(out.read_text())["partners"]}
    japan = partners["JPN"]
    assert japan["status"] == "accepted"
    assert japan["spent_usd"] <= 5e7 + 1e-3
    assert all(b["lot"].startswith("antimony:") for b in japan["buys"])
    for b in japan["buys"]:
        assert b["held_for_partner_t"] == pytest.approx(0.2 * b["tonnes"])
    bad = CliRunner().invoke(main, ["optimize", "--partner", "JPN"])
    assert bad.exit_code == 2
    assert "--partner JPN" in bad.stderr
