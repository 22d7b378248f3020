"""The criticality page and its download show every mineral of the ranking's universe: the
unranked ones (no dollar figure) after the ranked ones, each with its reason."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from html import unescape
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from critmin.api.app import create_app
from critmin.ledger import events as ev
from critmin.ledger.service import Ledger
from critmin.simulate.rank import universe
from critmin.web import WebSettings


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    folder = tmp_path_factory.mktemp("criticality")
    db = Ledger.open(f"sqlite:///{folder / 'ledger.db'}", create=True)
    db.submit(ev.Genesis(appropriation_usd=Decimal("2.5e9")), "init", "genesis")
    app = create_app(db, WebSettings(rank_runs=20, workers=2))
    with TestClient(app) as client:
        state = app.state.web.state
        job = state.analysis("rank")
        end = time.time() + 600
        while job.status == "running" and time.time() < end:
            time.sleep(0.5)
        assert job.status == "done", job.error
        yield client, state
    db.dispose()


def _text(cell: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())


def _rows(html: str) -> list[list[str]]:
    """The cells' text of each row of the page's rank table."""
    table = html.split('id="rank-table"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_the_page_lists_every_mineral_unranked_ones_last_with_their_reason(
    served: tuple[TestClient, Any],
) -> None:
    client, state = served
    records = state.analysis("rank").result
    names = state.names
    scope = {m for m, _ in universe(state.chain())}
    assert {r["mineral"] for r in records} == scope
    unranked = [r for r in records if r["rank"] is None]
    assert {"cesium", "hafnium", "rubidium"} <= {r["mineral"] for r in unranked}
    html = client.get("/criticality").text
    rows = _rows(html)
    assert len(rows) == len(records)
    ranks = [r[0] for r in rows]
    n = len(records) - len(unranked)
    assert ranks[:n] == [str(i) for i in range(1, n + 1)]
    assert ranks[n:] == ["-"] * len(unranked)
    for row, rec in zip(rows[n:], unranked, strict=True):
        assert row[1].startswith(names.get(rec["mineral"], rec["mineral"]))
        assert row[2] == "-"  # no dollar figure
        assert " ".join(rec["reason"].split()) in row[-1]
    # the download carries the same rows: no figure, the reason
    csv = pd.read_csv(io.StringIO(client.get("/web/download/rank.csv").text))
    cesium = csv[csv["mineral"] == "cesium"].iloc[0]
    assert pd.isna(cesium["expected_loss_usd"])
    assert pd.isna(cesium["rank"])
    assert str(cesium["reason"]).startswith("no country production data bundled")
    assert list(csv["mineral"]) == [r["mineral"] for r in records]


def test_a_stage_filter_leaves_out_the_minerals_without_a_chain(
    served: tuple[TestClient, Any],
) -> None:
    client, _ = served
    html = client.get("/criticality", params={"stage": "mining"}).text
    shown = {r[1].removesuffix(" U.S. list") for r in _rows(html)}
    assert "Cesium" not in shown
    assert "Cobalt" in shown


def test_the_lede_names_the_disruptions_the_ranking_draws(
    served: tuple[TestClient, Any],
) -> None:
    """The page said the ranking was of 'background supplier outages plus the library events',
    an older event set: since the Gamma-Poisson restriction rates, every major foreign
    supplier's export restriction is drawn, and that is what the ranked rows' events list."""
    client, state = served
    events = {e for r in state.analysis("rank").result for e in r["events"]}
    html = client.get("/criticality").text
    lede = _text(html.split('class="lede">', 1)[1].split("</p>", 1)[0])
    assert any(e.startswith("restriction-") for e in events)
    assert "export restrictions by every major foreign supplier" in lede
    assert any(e.startswith("outage-") for e in events)
    assert "outages of major foreign suppliers" in lede
    assert "USD/yr" in lede


def test_the_lede_gives_the_cli_command_that_reproduces_the_ranking(
    served: tuple[TestClient, Any],
) -> None:
    client, state = served
    html = client.get("/criticality").text
    lede = _text(html.split('class="lede">', 1)[1].split("</p>", 1)[0])
    runs, seed = state.settings.rank_runs, state.settings.seed
    assert f"{runs} seeded draws per stratum" in lede
    assert f"critmin rank --runs {runs} --seed {seed}" in lede
