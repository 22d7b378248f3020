"""The review's chart of what the reserve plan rests on (the share of the budget each assumed
parameter moves at x0.5 and x1.5)."""

from __future__ import annotations

from critmin.report.review import _sensitivity_chart


def _row(parameter: str, mineral: str, moved: float | None) -> dict[str, object]:
    return {"parameter": parameter, "mineral": mineral, "budget_share_moved": moved}


def test_the_chart_shows_the_largest_movers_and_leaves_out_unsolved_cases() -> None:
    rows = [_row(f"p{i}", "antimony", 0.01 * (i + 1)) for i in range(15)]
    rows += [_row("holding_cost", "gallium", None), _row("stock_days", "copper", 0.0)]
    svg = _sensitivity_chart({"sensitivity": rows}, top=12)
    assert svg.startswith("<svg") or "<svg" in svg
    assert "p14 (antimony)" in svg  # the largest
    assert "p2 (antimony)" not in svg  # the 13th largest is past the top 12
    assert "holding_cost" not in svg  # not re-solved
    assert "stock_days" not in svg  # moves nothing


def test_no_chart_when_nothing_moves_the_budget() -> None:
    assert _sensitivity_chart({"sensitivity": [_row("x", "antimony", 0.0)]}) == ""
    assert _sensitivity_chart(None) == ""
    assert _sensitivity_chart({"holdings": []}) == ""
