"""The command line, run as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from critmin.cli import main
from critmin.data.load import bundled_dir
from critmin.simulate import draws
from critmin.simulate import rank as ranking

KEYS = {
    "mineral",
    "stage",
    "year",
    "top_country",
    "top_share",
    "top3_share",
    "hhi",
    "hhi_wgi",
    "china_share",
    "feoc_share",
    "allied_share",
    "us_nir",
    "bottleneck",
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_exposure_json_records() -> None:
    code, out, _ = run(
        "exposure", "--mineral", "rare_earths", "--stage", "mining,magnets", "--format", "json"
    )
    assert code == 0
    records = json.loads(out)
    assert {(r["mineral"], r["stage"]) for r in records} == {
        ("rare_earths", "mining"),
        ("rare_earths", "magnets"),
    }
    for r in records:
        assert set(r) >= KEYS
        assert isinstance(r["bottleneck"], bool)
        assert 0 <= r["top_share"] <= 1
        assert 0 <= r["china_share"] <= 1
        assert r["us_nir"] is None or 0 <= r["us_nir"] <= 1


def test_exposure_csv_and_table(small_dir: Path) -> None:
    code, out, _ = run("--data", str(small_dir), "exposure", "--format", "csv")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("mineral,stage,year,top_country")
    assert len(lines) == 4
    code, out, _ = run("--data", str(small_dir), "exposure", "--mineral", "cobalt")
    assert code == 0
    assert "COD" in out
    assert "CHN" in out


def test_unknown_mineral_is_a_clear_error() -> None:
    code, _, err = run("exposure", "--mineral", "unobtainium")
    assert code == 2
    assert "unknown mineral: unobtainium" in err


def test_bad_data_folder_exits_non_zero_naming_the_problem(tmp_path: Path) -> None:
    (tmp_path / "recycling.csv").write_text(
        "mineral,eol_rir,year,source_id,note\ncobalt,1.7,2023,EU_CRM_2023_EOLRIR,\n"
    )
    code, _, err = run("--data", str(tmp_path), "exposure")
    assert code == 2
    assert re.search(r"recycling\.csv, row 2, column 'eol_rir': must be <= 1", err)
    code, _, err = run("data", "check", str(tmp_path))
    assert code == 1
    assert "eol_rir" in err


def test_data_check_passes_on_bundled_and_small_world(small_dir: Path) -> None:
    code, out, _ = run("data", "check")
    assert code == 0
    assert out.startswith("ok:")
    code, out, _ = run("data", "check", str(small_dir))
    assert code == 0


def test_minerals_and_sources() -> None:
    code, out, _ = run("minerals", "--format", "json")
    assert code == 0
    minerals = {m["id"]: m for m in json.loads(out)}
    assert (
        sum(
            1
            for m in minerals.values()
            if m["usgs_2025"] and m["family"] not in ("rare_earth_aggregate",) and m["id"] != "pgm"
        )
        == 60
    )
    assert minerals["dysprosium"]["parent"] == "rare_earths"
    assert minerals["rare_earths"]["stages"].startswith("mining > refining")
    code, out, _ = run("sources", "--format", "json")
    sources = {s["id"]: s for s in json.loads(out)}
    assert sources["USGS_MCS2026_DR"]["rows"] > 1000
    assert all(s["address"] and s["licence"] for s in sources.values())


def test_review_writes_a_self_contained_page(tmp_path: Path) -> None:
    code, out, _ = run("review", "--out", str(tmp_path / "rev"), "--no-sensitivity")
    assert code == 0
    assert "rare_earths" in out
    assert "bottleneck" in out
    html = (tmp_path / "rev" / "index.html").read_text()
    assert "No earlier review is stored" in out
    # a second review into the same folder keeps the first one's record and compares with it
    code, again, _ = run("review", "--out", str(tmp_path / "rev"), "--no-sensitivity")
    assert code == 0
    assert "Since the previous review" in again
    history = json.loads((tmp_path / "rev" / "history.json").read_text())
    assert len(history) == 2
    assert html.count("<svg") >= 10
    # opens offline: no external scripts, styles, images or fonts
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html)
    assert "@import" not in html
    for chain in ("rare_earths", "lithium", "cobalt", "graphite", "gallium", "tungsten"):
        assert f'id="chain-{chain}"' in html
    # reads on a phone, opens on the key findings, calendar months, dollars in $M/$B
    assert 'name="viewport"' in html
    assert html.index('id="summary"') < html.index('id="chains"')
    assert re.search(r">(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 20\d\d<", html)
    assert re.search(r"\$\d[\d,]*\.\d\d[MB] ± ", html)
    assert "Why these lots" in html
    assert "minerals declared" in out


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_every_format_of_minerals_runs(fmt: str) -> None:
    assert run("minerals", "--format", fmt)[0] == 0


def test_criticality_usgs_csv_is_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    """``criticality --method usgs --format csv`` printed the rich table; it prints CSV, with
    the rows and figures of ``--format json``."""
    real = ranking.rank
    monkeypatch.setattr(  # two minerals keep the test quick
        ranking, "rank", lambda chain, **kw: real(chain, **{**kw, "minerals": ["cobalt", "boron"]})
    )
    args = ["criticality", "--method", "usgs", "--runs", "20", "--workers", "1", "--format"]
    code, out, err = run(*args, "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    # the CSV's columns are the domain's (critmin.simulate.rank.RANK_COLUMNS), then the reason
    assert list(rows[0]) == [*ranking.RANK_COLUMNS, "reason"]
    code, js, err = run(*args, "json")
    assert code == 0, err
    records = json.loads(js)
    assert [r["mineral"] for r in rows] == [r["mineral"] for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row["reason"] == (record["reason"] or "")
        if record["expected_loss_usd"] is not None:
            assert float(row["expected_loss_usd"]) == pytest.approx(record["expected_loss_usd"])


@pytest.mark.parametrize("command", ["rank", "criticality", "review", "serve"])
def test_ranking_draws_have_one_minimum_and_default(command: str) -> None:
    shown = " ".join(CliRunner().invoke(main, [command, "--help"]).output.split())
    assert "per stratum" in shown
    assert f"default: {draws.DEFAULT_RUNS}; {draws.MIN_RUNS}<=x<=" in shown
    # below the one minimum is refused, in one line, before anything runs
    bad = CliRunner().invoke(main, [command, "--runs", str(draws.MIN_RUNS - 1)])
    assert bad.exit_code == 2
    assert f"'--runs': {draws.MIN_RUNS - 1} is not in the range {draws.MIN_RUNS}<=x" in bad.stderr


def test_security_rates_table_keeps_small_rates_and_names_their_unit() -> None:
    args = ["security", "rates", "--country", "PER"]
    rows = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).output)
    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0, table.output
    lines = [ln.split() for ln in table.output.splitlines() if ln.strip().startswith("PER ")]
    assert len(lines) == len(rows)
    assert any(0 < r["rate"] < 0.005 for r in rows)  # the case two decimals printed as 0.00
    for cells, row in zip(lines, rows, strict=True):
        for i, key in ((4, "rate"), (5, "annual_probability"), (6, "prior_rate")):
            shown = float(cells[i])
            assert shown > 0
            assert shown == pytest.approx(row[key], rel=5e-3), (key, cells[i], row[key])
    assert "Rate: incidents per year" in " ".join(table.output.split())


def test_data_check_names_the_extend_files_own_row(tmp_path: Path) -> None:
    lines = (bundled_dir() / "production.csv").read_text(encoding="utf-8").splitlines()
    header, good = lines[0], lines[1:3]  # two bundled rows again (same key: they replace)
    fields = dict(zip(header.split(","), lines[3].split(","), strict=True))
    bad = ",".join({**fields, "year": "2031", "country": "ZZZ"}.values())  # row 4 of the file
    extend = tmp_path / "production.extend.csv"
    extend.write_text("\n".join([header, *good, bad]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["data", "check", str(tmp_path)])
    assert result.exit_code != 0
    assert f"{extend}, row 4, column 'country': unknown label" in result.output + result.stderr
    assert "bundled" not in (result.output + result.stderr)
