"""Terminal tables at 100 columns are complete: every column's header and every row's
identifier appear, no line is wider than the console, and numbers and short ids never wrap
(``critmin.report.table_fit``, through ``critmin.cli._emit``, with rich and with the plain
renderer)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from critmin import cli
from critmin.report import table_fit
from critmin.report.numbers import header

WIDTH = 100


def printed(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    frame: pd.DataFrame,
    plain: bool,
) -> str:
    monkeypatch.setattr(cli, "_plain_output", lambda: plain)
    assert cli.TABLE_WIDTH == WIDTH  # rich prints on a console this wide, whatever the terminal
    cli._emit(frame, "table", "A wide table")
    return capsys.readouterr().out


def check_complete(out: str, frame: pd.DataFrame, ids: str) -> None:
    lines = out.splitlines()
    assert max(len(x) for x in lines) <= WIDTH
    words = set(out.split())
    for col in frame.columns:
        for w in header(str(col)).split():
            assert w in words, (col, w)
    for v in frame[ids]:
        assert str(v) in words, v  # whole: an identifier is not folded or cropped


def backtest_like() -> pd.DataFrame:
    """The shape of ``critmin backtest``: an episode id, a long description, a unit, five
    numbers, a source id, a flag, a year and a list of years (before, the last columns were
    cropped at 100 characters and each description wrapped into a dozen lines)."""
    rng = np.random.default_rng(3)
    n = 8
    return pd.DataFrame(
        {
            "episode": [f"episode-{i}" for i in range(n)],
            "quantity": [
                "China rare-earth exports vs 2009 (quota), lanthanum oxide x3.7, cerium x4.6"
            ]
            * n,
            "unit": ["ratio"] * n,
            "observed": rng.uniform(0, 10, n),
            "modelled": rng.uniform(0, 10, n),
            "error": rng.normal(0, 1, n),
            "log_error": rng.normal(0, 1, n),
            "source_id": [f"SOURCE_ID_{i}_2025" for i in range(n)],
            "in_sample": [i % 2 == 0 for i in range(n)],
            "base_year": [2020 + i for i in range(n)],
            "production_years": ["mining 2024, refining 2024, magnets 2024"] * n,
        }
    )


def outlook_like() -> pd.DataFrame:
    """The shape of ``critmin outlook --level chain``: 18 columns, 14 of them numbers (before,
    the last eight were cropped)."""
    rng = np.random.default_rng(4)
    rows = [
        (m, s, y)
        for m in ("aluminum", "rare_earths")
        for s in ("mining", "refining")
        for y in (2030, 2035)
    ]
    frame = pd.DataFrame(rows, columns=["mineral", "stage", "year"])
    frame["total_p50"] = rng.uniform(1e4, 5e8, len(frame))
    for q in ("hhi", "china_share", "allied_share"):
        for p in ("p05", "p50", "p95"):
            frame[f"{q}_{p}"] = rng.uniform(0, 1, len(frame))
    frame["top3_share_p50"] = rng.uniform(0, 1, len(frame))
    frame["unit"] = "t"
    frame["basis"] = "contained rare-earth oxide equivalent"
    frame["base_year"] = 2025
    frame["base_source"] = "USGS_MCS2026_DR"
    return frame


@pytest.mark.parametrize("plain", [True, False])
@pytest.mark.parametrize(("make", "ids"), [(backtest_like, "episode"), (outlook_like, "mineral")])
def test_wide_tables_are_complete_at_100_columns(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Any,
    ids: str,
    plain: bool,
) -> None:
    frame = make()
    out = printed(monkeypatch, capsys, frame, plain)
    check_complete(out, frame, ids)
    # every number whole on one line (numbers never wrap)
    for col in frame.columns:
        if frame[col].dtype.kind in "iuf":
            for v in frame[col]:
                assert cli._cell(str(col), v) in out.split(), (col, v)


def test_panels_repeat_the_identifier_and_number_rows_it_does_not_identify() -> None:
    frame = backtest_like()
    frame.loc[1, "episode"] = frame.loc[0, "episode"]  # two rows of one episode
    fields = [
        table_fit.Field(
            str(c),
            header(str(c)),
            [cli._cell(str(c), v) for v in frame[c]],
            frame[c].dtype.kind in "iuf",
        )
        for c in frame.columns
    ]
    blocks = table_fit.fit(fields, "Back-tests", None, WIDTH)
    assert len(blocks) > 1
    shown = [c.header for b in blocks for c in b.columns]
    for b in blocks:
        assert [c.header for c in b.columns[:2]] == ["#", "Episode"]
        assert [r[0] for r in b.rows] == [str(i + 1) for i in range(len(frame))]
        assert table_fit.table_width([c.max_width or 0 for c in b.columns]) <= WIDTH
    # every column once, besides the repeated key
    assert sorted(h for h in shown if h not in ("#", "Episode")) == sorted(
        header(str(c)) for c in frame.columns if c != "episode"
    )


def test_a_table_that_fits_is_one_table_with_numbers_unwrapped() -> None:
    fields = [
        table_fit.Field("mineral", "Mineral", ["cobalt", "lithium"]),
        table_fit.Field("share", "Share", ["73%", "4.5%"], right=True),
        table_fit.Field("note", "Note", ["a few words that may wrap"] * 2),
    ]
    (block,) = table_fit.fit(fields, "t", None, WIDTH)
    assert [c.min_width for c in block.columns] == [7, 5, 25]  # room to spare: no wrapping


def test_a_column_too_wide_for_any_panel_goes_to_records() -> None:
    fields = [
        table_fit.Field("id", "Id", ["x" * 60, "y" * 60], fold=False),
        table_fit.Field("value", "Expected loss avoided", ["1", "2"], right=True),
        table_fit.Field("other", "Other", ["3", "4"], right=True),
    ]
    (block,) = table_fit.fit(fields, "t", None, 70)
    assert [c.header for c in block.columns] == ["Field", "Value"]
    assert ["Id", "x" * 60] in block.rows
    assert ["Other", "4"] in block.rows


def test_statistics_take_their_columns_unit_and_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``capacity_p05`` is noted with the unit given for ``capacity`` and ``china_share_p50``
    reads as a share in %; a year held as a float reads 2028, not 2,028 (before: no unit note,
    0.61, and 2,028)."""
    frame = pd.DataFrame(
        {
            "mineral": ["cobalt", "lithium"],
            "capacity_p05": [1200.0, 35000.0],
            "china_share_p50": [0.61, 0.05],
            "hhi_p50": [3877.0, 2100.0],
            "announced_start": [2028.0, float("nan")],
        }
    )
    monkeypatch.setattr(cli, "_plain_output", lambda: True)
    cli._emit(frame, "table", "Statistics", {"capacity": "t/yr"})
    out = capsys.readouterr().out
    assert "Capacity: t/yr" in out
    assert "shares in %" in out
    assert "61%" in out.split()
    assert "0.61" not in out
    assert "2028" in out.split()
    assert "2,028" not in out
    assert "HHI" in out.split()
    # csv and json keep the stored values
    cli._emit(frame, "csv", "Statistics", {"capacity": "t/yr"})
    assert capsys.readouterr().out == frame.to_csv(index=False)


def test_a_money_columns_period_is_noted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dollar column's note that says over what period (the horizon) is printed; before,
    every money column's note was dropped for the generic dollars note. A bare "USD" adds
    nothing to the dollars note and stays out."""
    frame = pd.DataFrame({"id": ["a", "b"], "cost_usd": [2.5e6, 1e9], "price_usd": [1.0, 2.0]})
    monkeypatch.setattr(cli, "_plain_output", lambda: True)
    cli._emit(frame, "table", "Costs", {"cost_usd": "USD over the horizon", "price_usd": "USD"})
    out = " ".join(capsys.readouterr().out.split())
    assert "Cost: USD over the horizon" in out
    assert "Price: USD" not in out
    assert "dollars: US$" in out
