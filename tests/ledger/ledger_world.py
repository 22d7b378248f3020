"""Helpers for the ledger tests: backends, a seated board, resolutions, typical commands."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import MetaData

from critmin.ledger import events as ev
from critmin.ledger.service import Ledger
from critmin.ledger.store import make_engine
from critmin.ledger.vocabulary import Vote

PG_ENV = "CRITMIN_TEST_POSTGRES_URL"
MEMBERS = [f"member{i}" for i in range(1, 8)]
MINERAL = "cobalt"
PRICE = Decimal("30000")
#: An acquisition body as the API takes it (strings for decimals), for the API tests.
ACQ = {
    "mineral": "cobalt",
    "form": "metal",
    "quantity_t": "0.01",
    "location": "depot-a",
    "price_usd_per_t": "30000",
    "seller": "Acme",
    "seller_country": "AUS",
}
#: A loan's return date inside the maximum term (two years).
SOON = str(date.today() + timedelta(days=365))


def postgres_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI") in {"1", "true"}:
        pytest.fail(f"CI must test PostgreSQL: set {PG_ENV} (.ci/run does)")
    return url


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        # every table of every migration (the ledger's, the security register's, Alembic's)
        found = MetaData()
        found.reflect(conn)
        found.drop_all(conn)
    engine.dispose()


def seat_board(db: Ledger) -> None:
    for i, member in enumerate(MEMBERS, start=1):
        db.submit(
            ev.SeatFilled(
                seat=i, member=member, term_start=date(2025, 1, 1), term_end=date(2035, 1, 1)
            ),
            "secretary",
        )


def resolve(db: Ledger, motion_id: str, motion: ev.Payload, yes: int = 4) -> ev.MotionClosed:
    """Propose ``motion`` and have ``yes`` members vote yes (and the rest no)."""
    db.submit(
        ev.MotionProposed(motion_id=motion_id, motion=motion, proposer=MEMBERS[0]),  # type: ignore[arg-type]
        MEMBERS[0],
    )
    for i, member in enumerate(MEMBERS):
        vote = Vote.YES if i < yes else Vote.NO
        db.submit(ev.VoteCast(motion_id=motion_id, member=member, vote=vote), member)
    closed = ev.MotionClosed(motion_id=motion_id, passed=False, yes=0, no=0, abstain=0, recused=0)
    payload = db.submit(closed, MEMBERS[0]).event.payload
    assert isinstance(payload, ev.MotionClosed)
    return payload


def acquisition(lot: str = "lot1", quantity: str = "10", **kw: object) -> ev.Acquisition:
    fields: dict[str, object] = {
        "lot_id": lot,
        "mineral": MINERAL,
        "form": "metal",
        "quantity_t": quantity,
        "location": "depot-a",
        "price_usd_per_t": PRICE,
        "seller": "Acme Mining",
        "seller_country": "AUS",
    }
    fields.update(kw)
    return ev.Acquisition.model_validate(fields)


def release(lot: str = "lot1", quantity: str = "1", rid: str = "r1") -> ev.Release:
    return ev.Release.model_validate(
        {
            "release_id": rid,
            "lot_id": lot,
            "quantity_t": quantity,
            "price_usd_per_t": "38000",
            "buyer": "Factory",
            "buyer_country": "USA",
            "trigger": "supply_shock",
            "shock_id": "shock1",
        }
    )


class Server:
    """``critmin serve`` in a child process on a free local port (a real uvicorn server)."""

    def __init__(self, database_url: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        code = "from critmin.cli import main; main()"
        args = [
            sys.executable,
            "-c",
            code,
            "serve",
            "--port",
            str(self.port),
            "--database",
            self.database_url,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"server exited: {err}")
            try:
                if httpx.get(self.url + "/public/transactions", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    def kill(self) -> None:
        """kill -9: no shutdown handlers, no flushing."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
