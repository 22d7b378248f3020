"""The outlook command and policy files: records to 2040, one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from critmin.cli import main
from critmin.outlook.policy import PolicyError, load_policy

COUNTRIES = frozenset({"USA", "AUS", "CHN"})
REQUIRED = {
    "mineral",
    "stage",
    "country",
    "year",
    "capacity_p05",
    "capacity_p50",
    "capacity_p95",
    "share_p50",
}


def test_outlook_json_has_every_year_to_2040(small_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    res = CliRunner().invoke(
        main,
        [
            "--data",
            str(small_dir),
            "outlook",
            "--draws",
            "200",
            "--seed",
            "4",
            "--format",
            "json",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    records = json.loads(res.output)
    assert records
    assert set(records[0]) >= REQUIRED
    per = {(r["mineral"], r["stage"], r["country"]): set() for r in records}
    for r in records:
        per[(r["mineral"], r["stage"], r["country"])].add(r["year"])
    assert all(years >= set(range(2025, 2041)) for years in per.values())
    aus = [r for r in records if r["country"] == "AUS" and r["stage"] == "refining"]
    assert max(r["capacity_p95"] for r in aus) == pytest.approx(30.0)
    run = json.loads(out.read_text())
    assert run["seed"] == 4
    assert run["draws"] == 200
    assert run["policy"]["name"] == "base"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mineral", "unobtainium"], "--mineral: unknown mineral unobtainium"),
        (["--group", "nobody"], "--group: unknown country group"),
        (["--draws", "0"], "--draws"),
    ],
)
def test_outlook_refuses_bad_options(small_dir: Path, args: list[str], needle: str) -> None:
    res = CliRunner().invoke(main, ["--data", str(small_dir), "outlook", *args])
    assert res.exit_code == 2
    assert needle in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("permitting_change: {USA: -1.5}\n", "permitting_change.USA"),
        ("permitting_change: {XYZ: -0.5}\n", "unknown country XYZ"),
        ("permitting_change: {usa: -0.5}\n", "neither an ISO3"),
        ("permitting_change: {USA: .nan}\n", "permitting_change.USA"),
        ("start_year: 2030\nend_year: 2026\n", "end_year"),
        ("bogus: 1\n", "bogus"),
        ("permitting_change: [1, 2\n", "not valid YAML"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_policy_refused_with_the_field(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy(path, COUNTRIES)
    assert needle in str(err.value)
    assert str(path) in str(err.value)


def test_cli_policy_error_is_one_line(small_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("permitting_change: {USA: -3}\n")
    res = CliRunner().invoke(main, ["--data", str(small_dir), "outlook", "--policy", str(path)])
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1
    assert "permitting_change.USA" in res.output


def test_project_naming_an_unknown_facility_is_refused(small_dir: Path) -> None:
    import pandas as pd  # noqa: PLC0415

    path = small_dir / "projects.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "facility"] = "no-such-plant"
    frame.to_csv(path, index=False)
    res = CliRunner().invoke(main, ["--data", str(small_dir), "outlook", "--draws", "10"])
    assert res.exit_code == 2
    assert "column 'facility'" in res.output
    assert "no-such-plant" in res.output
    assert "Traceback" not in res.output


def test_compare_table_shows_each_rows_why() -> None:
    """The comparison's 'why' (a paragraph) was a table column squeezed to nothing: each row
    ran dozens of blank lines tall and the reasons were never shown. They follow the table."""
    args = ["outlook", "--level", "compare", "--draws", "50"]
    runner = CliRunner(env={"COLUMNS": "100"})
    table = runner.invoke(main, args)
    assert table.exit_code == 0, table.output
    records = json.loads(runner.invoke(main, [*args, "--format", "json"]).stdout)
    assert records
    lines = table.stdout.splitlines()
    blank_runs = "\n".join("x" if line.strip() else "" for line in lines)
    assert "\n\n\n\n" not in blank_runs  # no row padded with blank lines
    for r in records:
        assert " ".join(r["why"].split()) in " ".join(table.stdout.split())
