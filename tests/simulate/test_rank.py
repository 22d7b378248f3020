"""Criticality in dollars: every mineral ranked by expected annual U.S. loss."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from critmin.cli import main


def test_rank_json(tmp_path: Path) -> None:
    out = tmp_path / "rank.json"
    result = CliRunner().invoke(
        main, ["rank", "--runs", "20", "--seed", "3", "--workers", "2", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "assumptions" in result.output.lower()
    rows = json.loads(out.read_text())
    assert {"mineral", "expected_loss_usd", "p95_loss_usd", "rank"} <= set(rows[0])
    names = {r["mineral"] for r in rows}
    # chains, individual rare earths and platinum-group metals each get a row of their own
    assert {
        "rare_earths",
        "cobalt",
        "dysprosium",
        "neodymium",
        "platinum",
        "palladium",
        "rhodium",
    } <= names
    ranked = [r for r in rows if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    losses = [r["expected_loss_usd"] for r in ranked]
    assert losses == sorted(losses, reverse=True)
    assert all(r["expected_loss_usd"] >= 0 and r["p95_loss_usd"] >= 0 for r in ranked)
    # an element is assessed on its own chain where the bundled data have element tables,
    # else on its parent chain, under the events that name it
    dy = next(r for r in rows if r["mineral"] == "dysprosium")
    nd = next(r for r in rows if r["mineral"] == "neodymium")
    assert dy["chain"] == "dysprosium"
    assert nd["chain"] == "neodymium"
    assert "china-2025-04" in dy["events"]
    assert "china-2025-04" not in nd["events"]
    assert dy["expected_us_shortfall_share"] >= nd["expected_us_shortfall_share"]
