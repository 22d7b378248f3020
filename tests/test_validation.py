"""The loader refuses bad data and names the file, row, column and rule; nothing half-loads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.data.load import bundled_dir, collect, load
from critmin.schema.tables import TABLES
from critmin.schema.validate import DataError, check_table, is_true


def corrupt(folder: Path, table: str, row: int, column: str, value: str) -> Path:
    """Copy ``table`` into ``folder`` with one cell changed; return the file (row 0 = line 2)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = bundled_dir() / TABLES[table].file
    frame = pd.read_csv(src, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    out = folder / TABLES[table].file
    frame.to_csv(out, index=False)
    return out


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("production", "unit", "furlongs", "not one of the allowed values"),
        ("production", "country", "XYZ", "unknown label, not in countries"),
        ("production", "value", "-5", "must be >= 0"),
        ("production", "source_id", "", "a value is required"),
        ("production", "source_id", "NOWHERE_2099", "unknown label, not in sources"),
        ("production", "mineral", "unobtainium", "unknown label, not in minerals"),
        ("production", "year", "20x4", "expected a number"),
        ("us_supply", "unit", "bushels", "not one of the allowed values"),
        ("governance", "country", "ATLANTIS", "unknown label, not in countries"),
    ],
)
def test_corrupted_copy_is_refused_naming_file_row_column(
    tmp_path: Path, table: str, column: str, value: str, rule: str
) -> None:
    path = corrupt(tmp_path, table, 41, column, value)
    with pytest.raises(DataError) as info:
        load(tmp_path)
    messages = [str(p) for p in info.value.problems]
    expected = f"{path}, row 43, column '{column}'"
    assert any(m.startswith(expected) and rule in m for m in messages), messages


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = corrupt(tmp_path, "production", 3, "unit", "furlongs")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[7, "value"] = "-1"
    frame.loc[9, "country"] = "XYZ"
    frame.to_csv(path, index=False)
    dataset, problems = collect(tmp_path)
    assert dataset is None
    lines = {(p.line, p.column) for p in problems}
    assert {(5, "unit"), (9, "value"), (11, "country")} <= lines


def test_missing_and_undeclared_columns(tmp_path: Path) -> None:
    raw = pd.DataFrame({"id": ["x"], "name": ["X"], "colour": ["red"]})
    _, problems = check_table(TABLES["countries"], raw, "countries.csv")
    text = [str(p) for p in problems]
    assert "countries.csv, row 1, column 'iso3': column is missing from the header" in text
    assert "countries.csv, row 1, column 'colour': column is not declared for this table" in text


def test_a_column_that_may_be_empty_may_be_left_out() -> None:
    """A user's file written before an optional column was declared still loads (the column is
    empty); leaving out a required column is still refused."""
    table = TABLES["recycling_flows"]
    frame = pd.read_csv(bundled_dir() / table.file, dtype=str, keep_default_na=False)
    optional = [c.name for c in table.columns if not c.required]
    assert "demand_share" in optional
    typed, problems = check_table(table, frame.drop(columns=optional), table.file)
    assert problems == []
    assert typed["demand_share"].isna().all()
    required = next(c.name for c in table.columns if c.required)
    _, problems = check_table(table, frame.drop(columns=[required]), table.file)
    assert any(p.column == required and "missing" in p.rule for p in problems)


def test_a_flag_reads_the_same_loaded_or_raw() -> None:
    """One reading of a bool cell: a loaded flag (True, False, None), or a raw row's text as the
    checker accepts it (true/1/yes, any case); anything else is not true."""
    raw = pd.Series(["TRUE", "yes", "1", "false", "No", "0"])
    assert [is_true(v) for v in raw] == [True, True, True, False, False, False]
    loaded = (True, False, None, float("nan"), "")
    assert [is_true(v) for v in loaded] == [True, False, False, False, False]
    assert is_true(pd.Series([True]).to_numpy(dtype=bool)[0])  # a numpy bool


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    frame = pd.read_csv(bundled_dir() / "minerals.csv", dtype=str, keep_default_na=False)
    pd.concat([frame, frame.iloc[[0]]]).to_csv(tmp_path / "minerals.csv", index=False)
    _, problems = collect(tmp_path)
    assert any("duplicate key" in str(p) and p.line == len(frame) + 2 for p in problems)


def test_unknown_file_in_data_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "productoin.csv").write_text("a,b\n1,2\n")
    _, problems = collect(tmp_path)
    assert any("productoin.csv" in p.file and "not a critmin table" in p.rule for p in problems)


def test_malformed_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text('mineral,year\n"cobalt,2024\n')
    _, problems = collect(tmp_path)
    assert any(p.file.endswith("prices.csv") for p in problems)


def test_lazy_trade_table_is_checked_on_first_use(tmp_path: Path) -> None:
    corrupt(tmp_path, "trade", 5, "exporter", "QQQ")
    dataset = load(tmp_path)  # trade is not needed for exposure ...
    with pytest.raises(DataError, match="QQQ"):
        dataset["trade"]  # ... and is refused when it is read


def test_override_replaces_and_extend_adds(tmp_path: Path) -> None:
    base = SupplyChain.load()
    extra = pd.DataFrame(
        [
            {
                "mineral": "rubidium",
                "stage": "magnets",
                "country": c,
                "year": 2024,
                "value": v,
                "unit": "t",
                "basis": "magnet output",
                "source_id": "IEA_CMD_2025",
                "estimated": "true",
                "note": "test",
            }
            for c, v in (("JPN", 30.0), ("DEU", 70.0))
        ]
    )
    extra.to_csv(tmp_path / "production.extend.csv", index=False)
    chain = SupplyChain.load(tmp_path)
    assert float(
        chain.shares().sel(mineral="rubidium", stage="magnets", year=2024, country="DEU")
    ) == pytest.approx(0.7)
    assert chain.production.sizes["mineral"] == base.production.sizes["mineral"] + 1
    # a full replacement of one table leaves the others bundled
    shutil.copy(bundled_dir() / "sources.csv", tmp_path / "sources.csv")
    assert SupplyChain.load(tmp_path).dataset["minerals"].equals(base.dataset["minerals"])


def test_bundled_data_checks_completely() -> None:
    dataset, problems = collect(include_lazy=True)
    assert problems == []
    assert dataset is not None
    assert len(dataset["trade"]) > 100_000
