"""#12 "what changed since the previous review": the review stores its key numbers; the next
review and the web overview compare with the latest stored review, else (labelled) with the
previous data year."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from critmin.chain import SupplyChain
from critmin.metrics.exposure import exposure_table
from critmin.report.findings import bottlenecks, mineral_count
from critmin.report.history import HISTORY_FILE, compare, key_numbers, load_history
from critmin.report.review import write_review
from critmin.web.app import environment
from critmin.web.pages import overview_findings


def _review(chain: SupplyChain, out: Path, seed: int) -> tuple[list[str], str]:
    lines = write_review(chain, out, disruptions=False, outlook_draws=50, seed=seed)
    return lines, (out / "index.html").read_text()


def _changed(html: str) -> str:
    return html[html.index('id="changed"') : html.index("</div>", html.index('id="changed"'))]


def test_review_stores_its_numbers_and_compares_with_the_previous_review(
    bundled: SupplyChain, tmp_path: Path
) -> None:
    lines, html = _review(bundled, tmp_path, seed=4)
    first = _changed(html)
    assert 'data-basis="data-year"' in first
    assert "No earlier review is stored" in first
    history = load_history(tmp_path / HISTORY_FILE)
    assert len(history) == 1
    rec = history[0]
    assert rec["seed"] == 4
    assert rec["inputs"]["outlook_draws"] == 50
    assert rec["inputs"]["data"] == str(bundled.dataset.source)
    assert {b["mineral"] for b in rec["bottlenecks"]} >= {"rare_earths", "cobalt"}
    assert any(o["stage"] == "refining" for o in rec["outlook"])
    # pretend the previous review saw China 10 points lower at the rare-earth bottleneck
    for b in rec["bottlenecks"]:
        if b["mineral"] == "rare_earths":
            b["china_share"] -= 0.10
            moved_from = b["china_share"]
    (tmp_path / HISTORY_FILE).write_text(json.dumps(history))
    lines, html = _review(bundled, tmp_path, seed=5)
    second = _changed(html)
    assert 'data-basis="review"' in second
    assert f"Since the previous review ({rec['date']}, seed 4" in second
    assert re.search(r"rare_earths, China share at \w+: " + f"{moved_from * 100:.0f}%", second)
    assert "+10 pts" in second
    assert any("what changed: Since the previous review" in line for line in lines)
    assert len(load_history(tmp_path / HISTORY_FILE)) == 2


def test_an_unreadable_history_is_left_alone(bundled: SupplyChain, tmp_path: Path) -> None:
    (tmp_path / HISTORY_FILE).write_text("{not json")
    _, html = _review(bundled, tmp_path, seed=0)
    assert 'data-basis="data-year"' in _changed(html)
    assert "not a review history" in _changed(html)
    assert (tmp_path / HISTORY_FILE).read_text() == "{not json"


def test_compare_names_each_moved_number(bundled: SupplyChain) -> None:
    found = bottlenecks(bundled, exposure_table(bundled))
    risks = [{"mineral": "cobalt", "expected_loss_usd": 1e9, "expected_loss_se_usd": 1e8}]
    kw: dict[str, Any] = {"date": "d", "seed": 0, "runs": 10, "inputs": {}}
    before = key_numbers(found, risks, None, [], **kw)
    assert compare(before, before) == []
    shifted = [
        replace(b, allied_share=b.allied_share + 0.03) if b.mineral == "lithium" else b
        for b in found
    ]
    after = key_numbers(shifted, [{**risks[0], "expected_loss_usd": 3e9}], None, [], **kw)
    moved = compare(before, after)
    assert [(m.mineral, m.unit) for m in moved] == [("cobalt", "usd"), ("lithium", "share")]
    assert moved[0].before == 1e9
    assert moved[0].after == 3e9
    assert moved[1].delta == pytest.approx(0.03)


RANKED = [
    {
        "rank": 1,
        "mineral": "gallium",
        "expected_loss_usd": 2e9,
        "expected_loss_se_usd": 1e8,
        "p95_loss_usd": 5e9,
    }
]


def _changed_box(chain: SupplyChain, review_dir: Path) -> str:
    """The overview page as the server renders it (same findings, same template), without
    starting a server and its background analyses."""
    findings = overview_findings(chain, exposure_table(chain), RANKED, review_dir, seed=0, runs=10)
    job = {"id": "j", "status": "done", "done": 10, "total": 10, "runs": 10}
    html = (
        environment()
        .get_template("overview.html.j2")
        .render(
            path="/",
            **findings,
            rank_job=job,
            plan_job=job,
            plan={"holdings": [], "spent_usd": 0.0, "budget_usd": 1.0},
            position=None,
            names={},
            countries={},
            minerals=mineral_count(chain),
        )
    )
    return html[html.index('id="changed"') : html.index("</section>", html.index('id="changed"'))]


def test_web_overview_compares_with_the_stored_review(bundled: SupplyChain, tmp_path: Path) -> None:
    found = bottlenecks(bundled, exposure_table(bundled))
    stored = key_numbers(
        found,
        [{**RANKED[0], "expected_loss_usd": 1e9}],
        None,
        [],
        date="2026-11-01T00:00:00Z",
        seed=0,
        runs=200,
        inputs={},
    )
    (tmp_path / HISTORY_FILE).write_text(json.dumps([stored]))
    box = _changed_box(bundled, tmp_path)
    assert 'data-basis="review"' in box
    assert "Since the previous review (2026-11-01T00:00:00Z, seed 0, 200 runs)" in box
    assert "expected U.S. loss a year: $1.00B → $2.00B" in box


def test_web_overview_falls_back_to_the_data_year_labelled(
    bundled: SupplyChain, tmp_path: Path
) -> None:
    box = _changed_box(bundled, tmp_path / "no-reviews-here")
    assert 'data-basis="data-year"' in box
    assert "No earlier review is stored" in box
    (tmp_path / HISTORY_FILE).write_text("[1, 2]")
    box = _changed_box(bundled, tmp_path)
    assert 'data-basis="data-year"' in box
    assert "not a review history" in box
