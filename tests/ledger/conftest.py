"""Fixtures: a ledger on each backend (SQLite file; PostgreSQL when CRITMIN_TEST_POSTGRES_URL
is set, and required when CI=1), a seated board, a declared shock and a lot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from ledger_world import (
    MINERAL,
    PG_ENV,
    PRICE,
    acquisition,
    postgres_url,
    reset_postgres,
    resolve,
    seat_board,
)

from critmin.ledger import events as ev
from critmin.ledger.service import Ledger


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url = postgres_url()
    if not url:
        pytest.skip(f"{PG_ENV} not set (CI sets it)")
    reset_postgres(url)
    return url


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    db = Ledger.open(database_url, create=True)
    db.submit(ev.Genesis(appropriation_usd=Decimal("2.5e9")), "init", "genesis")
    yield db
    db.dispose()


@pytest.fixture
def world(ledger: Ledger) -> Ledger:
    """A seated board, a market price, a declared cobalt shock (``shock1``) and a 10 t lot."""
    seat_board(ledger)
    ledger.submit(
        ev.PriceRecorded(mineral=MINERAL, usd_per_t=PRICE, as_of=date(2025, 1, 1), source="test"),
        "operator",
    )
    resolve(ledger, "shock1", ev.DeclareSupplyShock(minerals=[MINERAL], description="test"))
    ledger.submit(acquisition(), "operator")
    return ledger
