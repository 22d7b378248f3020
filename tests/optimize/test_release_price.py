"""What a sold release earns (Accounting.release_price): the scenario's market price, or the
lot's reference price, for a reserve that does not profit from the shortage it answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner

from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.optimize.ensemble import Ensemble
from critmin.optimize.problem import Accounting, Agreements, ReserveProblem
from critmin.simulate.model import build_model

from .fixtures import NO_AGREEMENTS
from .test_world_reach import _lots

SHORT_T, HELD_T, SHOCK = 500.0, 200.0, 3.0


def _ensemble(price: float) -> Ensemble:
    """One scenario, three months of antimony: its reference price, then 500 t short at three
    times that price, then the reference price and nothing short."""
    coords = {"scenario": [0], "period": [1, 2, 3], "mineral": ["antimony"]}
    one = {"mineral": ["antimony"]}
    dims = ("scenario", "period", "mineral")
    return Ensemble(
        shortfall=xr.DataArray([[[0.0], [SHORT_T], [0.0]]], coords=coords, dims=dims),
        price=xr.DataArray([[[price], [SHOCK * price], [price]]], coords=coords, dims=dims),
        base_price=xr.DataArray([price], coords=one, dims="mineral"),
        loss_per_t=xr.DataArray([2.0 * price], coords=one, dims="mineral"),
        consumption=xr.DataArray([1000.0], coords=one, dims="mineral"),
        months_per_period=1,
    )


def _problem(ens: Ensemble, release_price: str) -> ReserveProblem:
    lots = _lots(ens)
    problem = ReserveProblem(
        ens,
        lots,
        Agreements(NO_AGREEMENTS),
        budget=1e15,
        fixed_stock=xr.DataArray([HELD_T], coords={"lot": lots.index}, dims="lot"),
        accounting=Accounting.full(release_price=release_price),
    )
    problem.build()
    return problem


def test_a_release_is_credited_at_the_price_chosen(bundled: SupplyChain) -> None:
    """The release coefficient differs by exactly market - reference; the revenue reported
    is the tonnes released times the price chosen; the loss avoided does not depend on it."""
    price = build_model(bundled, "antimony").price_usd_t
    ens = _ensemble(price)
    market, reference = _problem(ens, "market"), _problem(ens, "reference")
    gap = market.unit_costs()["release"] - reference.unit_costs()["release"]
    # the credit is the price sold at less the horizon value given up, each at the price
    # chosen: market - reference in the short month, nothing at the reference price
    base = float(market.lots.column("price_usd_t").item())
    assert float(gap.sel(period=2).item()) == pytest.approx((SHOCK - 1) * base, rel=1e-12)
    for quiet in (1, 3):
        assert float(gap.sel(period=quiet).item()) == pytest.approx(0.0, abs=1e-9 * base)
    a, b = market.solve(), reference.solve()
    assert float(a.releases.sum()) == pytest.approx(HELD_T, rel=1e-9)
    assert float(b.releases.sum()) == pytest.approx(HELD_T, rel=1e-9)
    assert a.release_revenue_usd == pytest.approx(HELD_T * SHOCK * base, rel=1e-9)
    assert b.release_revenue_usd == pytest.approx(HELD_T * base, rel=1e-9)
    assert a.terminal_value_usd == b.terminal_value_usd == pytest.approx(0.0, abs=1e-6)
    assert a.expected_loss_usd == pytest.approx(b.expected_loss_usd, rel=1e-12)


def test_an_unknown_release_price_is_refused() -> None:
    with pytest.raises(ValueError, match="release price 'cost'"):
        Accounting.full(release_price="cost")


def test_the_cli_records_the_release_price(tmp_path: Path) -> None:
    """`critmin optimize --release-price reference` writes it in the plan; a bad value is
    one line naming the option, exit 2, no file."""
    out = tmp_path / "plan.json"
    runner = CliRunner()
    args = ["optimize", "--runs", "10", "--horizon", "2", "--sensitivity-seconds", "0"]
    bad = runner.invoke(main, [*args, "--release-price", "cost", "--json", str(out)])
    assert bad.exit_code == 2
    assert "--release-price" in bad.output
    assert not out.exists()
    ok = runner.invoke(main, [*args, "--release-price", "reference", "--json", str(out)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(out.read_text())["release_price"] == "reference"
