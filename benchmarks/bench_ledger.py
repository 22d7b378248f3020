"""Benchmark the ledger: sustained writes through the API (8 concurrent clients, a real
uvicorn server) on SQLite and PostgreSQL, and the time to replay 100,000 events.

PostgreSQL is measured when CRITMIN_TEST_POSTGRES_URL is set (its tables are dropped first).
Run: .venv/bin/python benchmarks/bench_ledger.py [--seconds 10] [--events 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "ledger"))

from ledger_world import Server, reset_postgres

from critmin.ledger import events as ev
from critmin.ledger.service import Ledger, _row
from critmin.ledger.state import State, apply, canonical
from critmin.ledger.store import events_table, projections_table
from critmin.ledger.users import add_user
from critmin.ledger.vocabulary import Role

CLIENTS = 8


def prepare(url: str) -> str:
    with Ledger.open(url, create=True) as db:
        db.submit(ev.Genesis(appropriation_usd=Decimal("2.5e9")), "init", "genesis")
        db.submit(
            ev.PriceRecorded(
                mineral="cobalt", usd_per_t=Decimal(30000), as_of=date(2025, 1, 1), source="b"
            ),
            "op",
        )
        return add_user(db.engine, "op", Role.OPERATOR)


def writes(url: str, seconds: float) -> float:
    token = prepare(url)
    server = Server(url).start()
    done = [0] * CLIENTS
    end = time.monotonic() + seconds

    def client(i: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            j = 0
            while time.monotonic() < end:
                body = {
                    "lot_id": f"lot-{i % 2}",
                    "mineral": "cobalt",
                    "form": "cathode",
                    "quantity_t": "0.001",
                    "location": "depot",
                    "price_usd_per_t": "30000",
                    "seller": "Acme",
                    "seller_country": "AUS",
                }
                r = http.post("/acquisitions", json=body, headers={"Idempotency-Key": f"{i}-{j}"})
                assert r.status_code == 201, r.text
                done[i] += 1
                j += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    server.stop()
    return sum(done) / elapsed


def replay_time(n: int) -> tuple[float, float]:
    """Write ``n`` chained events straight into a SQLite file, then time a full replay."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        Ledger.open(f"sqlite:///{tmp}/r.db", create=True) as db,
    ):
        state = State()
        rows = []
        for seq in range(1, n + 1):
            payload: ev.Payload
            if seq == 1:
                payload = ev.Genesis(appropriation_usd=Decimal("2.5e9"))
            elif seq % 2 == 0:
                payload = ev.Acquisition(
                    lot_id=f"lot-{seq % 50}",
                    mineral="cobalt",
                    form="cathode",
                    quantity_t=Decimal("0.002"),
                    location="depot",
                    price_usd_per_t=Decimal(30000),
                    seller="Acme",
                    seller_country="AUS",
                    market_usd_per_t=Decimal(30000),
                )
            else:
                payload = ev.Transfer(
                    lot_id=f"lot-{(seq - 1) % 50}",
                    quantity_t=Decimal("0.001"),
                    to_lot_id=f"lot-{(seq + 1) % 50}",
                    to_location="depot",
                )
            event = Ledger._event(state, payload, "bench", f"k{seq}")
            apply(state, event)
            rows.append(_row(event, "-"))
        with db.engine.begin() as conn:
            conn.execute(events_table.insert(), rows)
            conn.execute(
                projections_table.insert(),
                [{"kind": k, "key": key, "data": d} for (k, key), d in state.rows().items()],
            )
        t0 = time.perf_counter()
        replayed = db.replay()
        elapsed = time.perf_counter() - t0
        assert replayed.rows() == db.stored_projections()
        assert canonical(replayed.head) == canonical(state.head)
        t0 = time.perf_counter()
        from critmin.ledger.verify import verify

        report = verify(db)
        assert report.ok, report.problems[:3]
        return elapsed, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rate = writes(f"sqlite:///{tmp}/w.db", args.seconds)
        print(f"SQLite:     {rate:7.0f} events/s through the API, {CLIENTS} clients")
    pg = os.environ.get("CRITMIN_TEST_POSTGRES_URL")
    if pg:
        reset_postgres(pg)
        rate = writes(pg, args.seconds)
        print(f"PostgreSQL: {rate:7.0f} events/s through the API, {CLIENTS} clients")
    else:
        print("PostgreSQL: skipped (set CRITMIN_TEST_POSTGRES_URL)")
    replay, check = replay_time(args.events)
    print(
        f"replay of {args.events:,} events: {replay:.2f} s; full verify (chain + replay + "
        f"projections): {check:.2f} s"
    )


if __name__ == "__main__":
    main()
