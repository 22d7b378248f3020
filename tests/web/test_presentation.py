"""How numbers read (one definition for CLI, review and web), the table files, and the CLI's
xlsx format and 100-column tables."""

from __future__ import annotations

import io
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest

from critmin.report.numbers import cell, header, month_labels, pct, usd, usd_error
from critmin.report.tables import table_bytes


def test_dollars_scale_and_carry_their_error() -> None:
    assert usd(2_162_622_187) == "$2.16B"
    assert usd(587_280_000) == "$587.28M"
    assert usd(-1500) == "-$1.50K"
    assert usd(None) == "-"
    assert usd_error(2_162_622_187, 51_000_000) == "$2.16B ± 0.05B"


@pytest.mark.parametrize("v", [-1e-9, -0.3, -0.5, -0.0, 0.0, 0.3])
def test_dollars_that_round_to_zero_read_as_zero_not_minus_zero(v: float) -> None:
    # a p95 cell of the rank table is a quantile of a difference: tiny negative rounding
    assert usd(v) == "$0"
    assert cell("p95_loss_usd", v) == "$0"
    assert usd_error(v, 0.2) == "$0 ± 0.20"


@pytest.mark.parametrize(("v", "text"), [(-0.0, "0"), (-1e-16, "0.00"), (-0.004, "0.00")])
def test_numbers_that_round_to_zero_read_as_zero_not_minus_zero(v: float, text: str) -> None:
    # the back-test's error and log error (modelled - observed) of an in-sample episode
    assert cell("error", v) == text
    assert cell("log_error", v) == text


def test_small_negative_numbers_keep_their_sign() -> None:
    assert cell("error", -0.006) == "-0.01"
    assert cell("error", -0.5) == "-0.50"
    assert cell("error", -1234.0) == "-1,234"


def test_small_negative_dollars_keep_their_sign() -> None:
    assert usd(-0.6) == "-$1"
    assert usd(-999) == "-$999"


def test_shares_read_as_percent_and_headers_as_words() -> None:
    assert pct(0.693) == "69%"
    assert cell("china_share", 0.006) == "0.6%"
    assert cell("expected_loss_usd", 3.5e9) == "$3.50B"
    # a ratio per dollar is a number, not dollars (0.11 used to print as "$0")
    assert cell("avoided_loss_per_usd", 0.11) == "0.11"
    assert header("expected_loss_usd") == "Expected loss/yr"
    assert header("some_new_column") == "Some new column"


def test_periods_are_calendar_months() -> None:
    assert month_labels("2025-11", 3) == ["Nov 2025", "Dec 2025", "Jan 2026"]
    assert month_labels("2025-04", 2, months_per_period=3) == ["Apr 2025", "Jul 2025"]


def test_xlsx_bytes_hold_the_table() -> None:
    frame = pd.DataFrame({"mineral": ["cobalt"], "share": [0.7], "events": [["a", "b"]]})
    book = openpyxl.load_workbook(io.BytesIO(table_bytes(frame, "xlsx", "t")))
    rows = list(book.active.values)
    assert rows[0] == ("mineral", "share", "events")
    assert rows[1] == ("cobalt", 0.7, "a; b")
    with pytest.raises(ValueError, match="unknown table format"):
        table_bytes(frame, "pdf")


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    code = "from critmin.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, timeout=300, check=False
    )


def test_cli_tables_fit_100_columns_and_xlsx_is_a_workbook() -> None:
    done = _cli("exposure")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode("utf-8").splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "Leader" in lines[2] + lines[3]
    assert "mining" in done.stdout.decode()
    book = _cli("exposure", "--mineral", "cobalt", "--format", "xlsx")
    assert book.returncode == 0, book.stderr
    sheet = openpyxl.load_workbook(io.BytesIO(book.stdout)).active
    header_row = next(sheet.values)
    assert "top_share" in header_row
