"""Alliances as scenario actions: U.S. shortfall with and without the group acting."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from critmin.chain import SupplyChain
from critmin.cli import main
from critmin.outlook.alliance import alliance_outlook
from critmin.outlook.policy import AllianceAction, Policy, PolicyError, load_policy

Q = ("p05", "p50", "p95")


@pytest.mark.parametrize("committed", [0.0, 0.2, 0.6, 1.0])
@pytest.mark.parametrize("stock", [0.0, 5.0])
def test_alliance_never_raises_the_us_shortfall(
    small: SupplyChain, committed: float, stock: float
) -> None:
    action = AllianceAction(
        group="allied",
        committed_share=committed,
        pooled_stock_t={"cobalt": stock},
        us_requirement_t={"cobalt": 40.0},
    )
    out = alliance_outlook(small, Policy(alliance=action), draws=500, seed=8)
    assert not out.empty
    for q in Q:
        assert (out[f"us_shortfall_with_t_{q}"] <= out[f"us_shortfall_without_t_{q}"] + 1e-9).all()
        assert (out[f"us_shortfall_with_t_{q}"] >= 0).all()
    if committed >= 0.6 or stock > 0:
        assert (out["us_shortfall_with_t_p50"] < out["us_shortfall_without_t_p50"]).all()


def test_alliance_that_does_nothing_changes_nothing(small: SupplyChain) -> None:
    action = AllianceAction(group="allied", us_requirement_t={"cobalt": 40.0})
    out = alliance_outlook(small, Policy(alliance=action), draws=300, seed=1)
    for q in Q:
        assert (out[f"us_shortfall_with_t_{q}"] == out[f"us_shortfall_without_t_{q}"]).all()
    # without the alliance the U.S. keeps the pro-rata share of Japan's (non-FEOC) output:
    # world 100 t (CHN 80, JPN 20), need 40 t -> 0.4 x 20 = 8 t; shortfall 32 t in 2024
    first = out[out["year"] == 2024].iloc[0]
    assert first["us_shortfall_without_t_p50"] == pytest.approx(32.0)


def test_alliance_policy_refuses_unknown_group(small_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("alliance: {group: nobody, committed_share: 0.2}\n")
    with pytest.raises(PolicyError, match=r"alliance\.group: unknown group 'nobody'"):
        load_policy(path, frozenset({"USA"}), frozenset({"allied", "feoc"}), frozenset({"cobalt"}))
    res = CliRunner().invoke(
        main, ["--data", str(small_dir), "outlook", "--level", "alliance", "--policy", str(path)]
    )
    assert res.exit_code == 2
    assert "alliance.group" in res.output


def test_alliance_level_needs_an_alliance(small_dir: Path) -> None:
    res = CliRunner().invoke(main, ["--data", str(small_dir), "outlook", "--level", "alliance"])
    assert res.exit_code == 2
    assert "no 'alliance' block" in res.output
