"""``data check`` says what a user's folder changes: rows added and replaced, shares that move,
a stage that one single-country row now makes up, and rows shadowed by source priority."""

from __future__ import annotations

from pathlib import Path

import pytest

from critmin.data.load import Dataset, collect
from critmin.report.overlay import compare

HEADER = "mineral,stage,country,year,value,unit,basis,source_id,estimated,note\n"
SOURCES = "id,title,publisher,year,address,licence,priority\n"


def _load(base: Path, user: Path | None) -> Dataset:
    dataset, problems = collect(user, base_dir=base)
    assert dataset is not None, problems
    return dataset


@pytest.fixture
def user(tmp_path: Path) -> Path:
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "sources.extend.csv").write_text(
        SOURCES + "MINE,My survey,Me,2026,local,none,1\nLOW,My guess,Me,2026,local,none,3\n"
    )
    (folder / "production.extend.csv").write_text(
        HEADER
        # a new stage-year from one row of a preferred source: USA becomes 100%
        + "rare_earths,refining,USA,2024,10,t,contained metal,MINE,true,test\n"
        # a low-priority source for a stage the bundled source already covers: shadowed
        + "cobalt,mining,USA,2024,5,t,contained metal,LOW,true,test\n"
        # the key of a base row with another value: replaced (COD 70 -> 40)
        + "cobalt,mining,COD,2024,40,t,contained metal,EXAMPLE,false,\n"
    )
    return folder


def test_changes_moves_and_shadowed_rows(small_dir: Path, user: Path) -> None:
    report = compare(_load(small_dir, None), _load(small_dir, user), user, threshold=0.05)
    tables = {t.table: t for t in report.tables}
    assert (tables["production"].added, tables["production"].replaced) == (2, 1)
    assert tables["sources"].added == 2
    moves = {(m.mineral, m.stage, m.country): m for m in report.moves}
    usa = moves[("rare_earths", "refining", "USA")]
    assert usa.before is None
    assert usa.after == pytest.approx(1.0)
    assert usa.named == 1
    cod = moves[("cobalt", "mining", "COD")]
    assert cod.before == pytest.approx(0.7)
    assert cod.after == pytest.approx(40 / 70)  # COD 40 of 40 + AUS 20 + OTH 10
    assert [(s.mineral, s.stage, s.source_id, s.winner) for s in report.shadowed] == [
        ("cobalt", "mining", "LOW", "EXAMPLE")
    ]
    text = "\n".join(report.lines(0.05))
    assert "names only 1 country" in text
    assert "LOW (priority 3) are not used" in text


def test_a_folder_that_changes_nothing_says_so(small_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    report = compare(_load(small_dir, None), _load(small_dir, empty), empty)
    assert report.lines(0.05) == ["the folder changes no bundled table"]
