"""The review's ranking table lists every row of the ranking: an unranked mineral (no dollar
figure) with its reason, after the ranked ones."""

from __future__ import annotations

import re

from critmin.chain import SupplyChain
from critmin.report.review import _env
from critmin.simulate.rank import rank, rank_records


def test_the_review_table_gives_each_unranked_mineral_its_reason(bundled: SupplyChain) -> None:
    records = rank_records(rank(bundled, runs=20, seed=1, minerals=["cobalt", "cesium", "pgm"]))
    html = _env().get_template("_ranking.html.j2").render(ranked=records)
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"l\">(.*?)</td><td>(.*?)</td>", html)
    assert [(rank_, cell.split("<br>")[0]) for rank_, cell, _ in rows] == [
        ("1", "cobalt"),
        ("-", "cesium"),
        ("-", "pgm"),
    ]
    for (_, cell, loss), rec in zip(rows[1:], records[1:], strict=True):
        assert loss == "-"
        assert rec["reason"]
        assert f'<i class="reason">{rec["reason"]}</i>' in cell
