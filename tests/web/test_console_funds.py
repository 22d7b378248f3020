"""The console's dollars are written by the server with the one formatter every front end uses
(critmin.report.numbers.usd); the page's script formats no money of its own. Its own
``money()`` read "$-0" for a tiny negative, "$1,500" where the review reads "$1.50K", and "-"
for every fund's "available" (a figure the ``/funds`` rows do not carry)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import critmin.web
from critmin.api.app import create_app
from critmin.ledger import events as ev
from critmin.ledger.service import Ledger
from critmin.ledger.state import Fund
from critmin.ledger.users import add_user
from critmin.ledger.vocabulary import Role
from critmin.report.numbers import usd

APP_JS = Path(critmin.web.__file__).parent / "static" / "app.js"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    db = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}", create=True)
    db.submit(ev.Genesis(appropriation_usd=Decimal("2.5e9")), "init", "genesis")
    db.submit(
        ev.ContributionProposed(contribution_id="jp-1", partner="JPN", amount_usd=Decimal("1e9")),
        "partner-jp",
    )
    yield db
    db.dispose()


def test_console_funds_carry_the_dollars_as_the_review_writes_them(ledger: Ledger) -> None:
    tokens = {
        Role.OPERATOR: add_user(ledger.engine, "operator", Role.OPERATOR),
        Role.PARTNER: add_user(ledger.engine, "partner-jp", Role.PARTNER, country="JPN"),
    }
    with TestClient(create_app(ledger)) as client:
        head = {"Authorization": f"Bearer {tokens[Role.OPERATOR]}"}
        rows = client.get("/web/console/funds", headers=head).json()
        raw = client.get("/funds", headers=head).json()
        # the same role check as GET /funds: a partner reads neither
        partner = {"Authorization": f"Bearer {tokens[Role.PARTNER]}"}
        assert client.get("/funds", headers=partner).status_code == 403
        assert client.get("/web/console/funds", headers=partner).status_code == 403
    assert [r["fund_id"] for r in rows] == [r["fund_id"] for r in raw]
    for row, stored in zip(rows, raw, strict=True):
        fund = Fund.model_validate(stored)
        assert row["amount"] == usd(fund.amount_usd)
        assert row["available"] == usd(fund.available)
    by_id = {r["fund_id"]: r for r in rows}
    assert (by_id["appropriation"]["amount"], by_id["appropriation"]["available"]) == (
        "$2.50B",
        "$2.50B",
    )
    # a contribution not yet accepted has nothing available
    assert (by_id["jp-1"]["amount"], by_id["jp-1"]["available"]) == ("$1.00B", "$0")


def test_the_page_script_formats_no_money() -> None:
    script = APP_JS.read_text(encoding="utf-8")
    assert "money" not in script
    assert not re.search(r"toFixed|toLocaleString|Intl\.NumberFormat|[\"']\$[\"']", script)


@pytest.mark.parametrize(
    ("value", "text"), [(-0.0, "$0"), (-0.4, "$0"), (1e9, "$1.00B"), (-1500, "-$1.50K")]
)
def test_the_one_formatter_on_the_values_the_script_got_wrong(value: float, text: str) -> None:
    assert usd(value) == text


def test_partner_contributions_and_holdings_carry_written_dollars(ledger: Ledger) -> None:
    """The partner's view (its contributions) and the holdings table read dollars written by
    the server, as the funds do: 80 t at $15,432.09/t is "$1.23M", not 1234567.2."""
    ledger.submit(
        ev.ContributionProposed(
            contribution_id="de-1", partner="DEU", amount_usd=Decimal("1234567")
        ),
        "partner-de",
    )
    ledger.submit(
        ev.Acquisition(
            lot_id="lot-1",
            mineral="cobalt",
            form="metal",
            quantity_t=Decimal("80"),
            location="depot-a",
            price_usd_per_t=Decimal("15432.09"),
            seller="Acme",
            seller_country="AUS",
        ),
        "operator",
    )
    tokens = {
        "operator": add_user(ledger.engine, "operator", Role.OPERATOR),
        "jp": add_user(ledger.engine, "partner-jp", Role.PARTNER, country="JPN"),
        "de": add_user(ledger.engine, "partner-de", Role.PARTNER, country="DEU"),
    }

    def head(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    with TestClient(create_app(ledger)) as client:
        mine = client.get("/web/console/contributions", headers=head("de")).json()
        raw = client.get("/contributions", headers=head("de")).json()
        every = client.get("/web/console/contributions", headers=head("operator")).json()
        lots = client.get("/web/console/holdings", headers=head("operator")).json()
        raw_lots = client.get("/holdings", headers=head("operator")).json()
        # the same role checks as the API: a partner reads no holdings, a visitor nothing
        assert client.get("/web/console/holdings", headers=head("jp")).status_code == 403
        assert client.get("/web/console/contributions").status_code == 401
        page = client.get("/console").text
    # a partner sees its own contribution only, as GET /contributions gives it
    assert [r["fund_id"] for r in mine] == [r["fund_id"] for r in raw] == ["de-1"]
    assert (mine[0]["amount"], mine[0]["available"]) == ("$1.23M", "$0")
    assert {r["fund_id"] for r in every} == {"jp-1", "de-1"}
    for row in every:
        fund = Fund.model_validate(
            {k: v for k, v in row.items() if k not in ("amount", "available")}
        )
        assert (row["amount"], row["available"]) == (usd(fund.amount_usd), usd(fund.available))
    assert [r["lot_id"] for r in lots] == [r["lot_id"] for r in raw_lots] == ["lot-1"]
    assert Decimal(str(raw_lots[0]["cost_usd"])) == Decimal("1234567.2")
    assert (lots[0]["cost"], lots[0]["written_down"]) == ("$1.23M", "$0")
    # the page's script shows those written figures, never the raw USD fields
    script = APP_JS.read_text(encoding="utf-8")
    assert '"/web/console/contributions"' in script
    assert '"/web/console/holdings"' in script
    assert not re.search(
        r"cost_usd|amount_usd|written_down_usd|getJSON\(\"/(holdings|contributions)\"", script
    )
    assert 'id="holdings"' in page
