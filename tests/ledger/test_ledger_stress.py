"""Through a real uvicorn server: many clients on one lot (no negative stock, one event per
accepted request, none per refused), and kill -9 while clients write (nothing acknowledged
is lost, the chain verifies, projections equal a replay)."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import httpx
from ledger_world import MEMBERS, Server
from sqlalchemy import select

from critmin.ledger.service import Ledger
from critmin.ledger.state import Lot
from critmin.ledger.store import events_table
from critmin.ledger.users import add_user
from critmin.ledger.verify import verify
from critmin.ledger.vocabulary import Projection, Role

CLIENTS = 8
REQUESTS = 25


def acquire(key: str, lot: str = "lot1", quantity: str = "1") -> dict[str, str]:
    return {
        "lot_id": lot,
        "mineral": "cobalt",
        "form": "metal",
        "quantity_t": quantity,
        "location": "depot-a",
        "price_usd_per_t": "30000",
        "seller": "Acme",
        "seller_country": "AUS",
    }


RELEASE = {
    "release_id": "r",
    "lot_id": "lot1",
    "quantity_t": "3",
    "price_usd_per_t": "31000",
    "buyer": "Plant",
    "buyer_country": "USA",
    "trigger": "supply_shock",
    "shock_id": "shock1",
}


def keys_in_log(db: Ledger) -> dict[str, int]:
    counts: dict[str, int] = {}
    with db.engine.connect() as conn:
        for (scoped,) in conn.execute(select(events_table.c.idempotency_key)):
            key = scoped.split("/", 1)[1]  # keys are stored per actor: "actor/key"
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_many_clients_on_one_lot(world: Ledger, database_url: str) -> None:
    token = add_user(world.engine, "op", Role.OPERATOR)
    results: list[tuple[str, str, int]] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        rng = random.Random(i)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            for j in range(REQUESTS):
                key = f"c{i}-{j}"
                kind = "acquire" if rng.random() < 0.4 else "release"
                path, body = (
                    ("/acquisitions", acquire(key)) if kind == "acquire" else ("/releases", RELEASE)
                )
                tries = 2 if j % 10 == 0 else 1  # some requests are retried with their key
                for _ in range(tries):
                    r = http.post(path, json=body, headers={"Idempotency-Key": key})
                with lock:
                    results.append((key, kind, r.status_code))

    server = Server(database_url).start()
    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.stop()
    assert {code for _, _, code in results} <= {201, 409}, results
    accepted = [(k, kind) for k, kind, code in results if code == 201]
    refused = [k for k, _, code in results if code == 409]
    assert refused, "the test should drive the lot to refusals"
    logged = keys_in_log(world)
    assert all(logged.get(k) == 1 for k, _ in accepted)
    assert not any(k in logged for k in refused)
    lot = world.replay().get(Projection.LOT, "lot1", Lot)
    assert lot is not None
    bought = sum(1 for _, kind in accepted if kind == "acquire")
    sold = sum(3 for _, kind in accepted if kind == "release")
    assert lot.quantity_t == Decimal(10 + bought - sold)
    assert lot.quantity_t >= 0
    report = verify(world)
    assert report.ok, report.problems


def test_kill_9_while_clients_write(world: Ledger, database_url: str) -> None:
    token = add_user(world.engine, "op", Role.OPERATOR)
    acked: list[str] = []
    stop = threading.Event()

    def client(i: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
            for j in range(10_000):
                if stop.is_set():
                    return
                key = f"k{i}-{j}"
                try:
                    r = http.post(
                        "/acquisitions",
                        json=acquire(key, f"lot-{i}", "0.001"),
                        headers={"Idempotency-Key": key},
                    )
                except httpx.TransportError:
                    return  # the server died under us
                if r.status_code == 201:
                    acked.append(key)

    server = Server(database_url).start()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60  # kill mid-stream, once writes are flowing
        while len(acked) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
    assert len(acked) > 10
    restarted = Server(database_url).start()
    try:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "after"}
        r = httpx.post(
            restarted.url + "/acquisitions",
            json=acquire("after", "lot-x", "1"),
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 201, r.text
    finally:
        restarted.stop()
    logged = keys_in_log(world)
    assert [k for k in acked if logged.get(k) != 1] == []
    report = verify(world)
    assert report.ok, report.problems
    assert world.replay().rows() == world.stored_projections()
    assert MEMBERS  # the board was seated before the crash and still is
