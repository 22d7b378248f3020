"""The server's outer guard: unauthenticated or oversized bodies are refused before they are
read (memory measured on a real uvicorn process), revoked tokens stop working, and users
that ``users add`` refuses never reach the API."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from ledger_world import MEMBERS, Server

from critmin.api.app import create_app
from critmin.ledger.errors import Refused
from critmin.ledger.service import Ledger
from critmin.ledger.users import add_user, revoke_user
from critmin.ledger.vocabulary import Role

MB = 2**20


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # peak resident memory
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def chunks(total: int, size: int = MB) -> object:
    def gen():  # type: ignore[no-untyped-def]
        sent = 0
        while sent < total:
            yield b"x" * size
            sent += size

    return gen()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_large_bodies_are_refused_before_they_are_read(world: Ledger, database_url: str) -> None:
    token = add_user(world.engine, "op", Role.OPERATOR)
    server = Server(database_url).start()
    try:
        assert server.process is not None
        pid = server.process.pid
        before = rss_mb(pid)
        body = b"{" + b" " * (50 * MB) + b"}"
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                try:
                    r = http.post("/acquisitions", content=body, headers=headers)
                    assert r.status_code in {401, 413}, r.text
                except httpx.TransportError:
                    pass  # the server may close the connection while the body is still sent
            # authenticated, but too large: 413 from Content-Length, and for a chunked body
            auth = {"Authorization": f"Bearer {token}", "Idempotency-Key": "big"}
            r = http.post("/acquisitions", content=body, headers=auth)
            assert r.status_code == 413
            try:
                r = http.post("/acquisitions", content=chunks(50 * MB), headers=auth)
                assert r.status_code == 413
            except httpx.TransportError:
                pass
            time.sleep(0.5)
            grown = rss_mb(pid) - before
            print(
                f"server RSS before {before:.1f} MB, growth after 4 x 50 MB bodies {grown:.1f} MB"
            )
            assert grown < 20
            assert http.get("/public/transactions").status_code == 200
    finally:
        server.stop()


def test_revoked_tokens_and_refused_users(world: Ledger, database_url: str) -> None:
    token = add_user(world.engine, "ana", Role.ANALYST)
    with TestClient(create_app(world)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/holdings", headers=auth).status_code == 200
        revoke_user(world.engine, "ana")
        assert client.get("/holdings", headers=auth).status_code == 401
        # a write without an idempotency key is refused, naming the header
        op = add_user(world.engine, "op2", Role.OPERATOR)
        r = client.post(
            "/write-downs",
            json={"lot_id": "lot1", "value_usd": "1", "reason": "x"},
            headers={"Authorization": f"Bearer {op}"},
        )
        assert r.status_code == 422
        assert "Idempotency-Key" in r.json()["error"]["field"]
    for name, role, country, field in [
        ("a b", Role.BOARD, None, "name"),
        ("x" * 150, Role.BOARD, None, "name"),
        ("p", Role.PARTNER, "ZZ", "country"),
        ("p", Role.PARTNER, "aus", "country"),
        ("p", Role.PARTNER, "CHN", "country"),
        ("p", Role.PARTNER, None, "country"),
        ("o", Role.OPERATOR, "AUS", "country"),
    ]:
        with pytest.raises(Refused) as info:
            add_user(world.engine, name, role, country)
        assert info.value.field == field
    with pytest.raises(Refused):
        revoke_user(world.engine, "nobody")


def test_an_unseated_board_token_cannot_seat_or_close(world: Ledger) -> None:
    """The world's board is seated; ``intruder`` has a board token but no seat."""
    token = add_user(world.engine, "intruder", Role.BOARD)
    member = add_user(world.engine, MEMBERS[0], Role.BOARD)
    seat = {"seat": 7, "member": "intruder", "term_start": "2025-01-01", "term_end": "2035-01-01"}
    with TestClient(create_app(world)) as client:
        auth = {"Authorization": f"Bearer {token}", "Idempotency-Key": "s"}
        r = client.post("/board/seats", json=seat, headers=auth)
        assert r.status_code == 403
        assert r.json()["error"]["rule"] == "board_seat_holder"
        # a seated member cannot simply hand out a seat either
        mine = {"Authorization": f"Bearer {member}", "Idempotency-Key": "s"}
        r = client.post("/board/seats", json=seat, headers=mine)
        assert r.status_code == 403
        assert r.json()["error"]["rule"] == "seat_by_resolution"
        motion = {"motion_id": "m", "motion": {"kind": "general", "text": "x"}}
        mine["Idempotency-Key"] = "m"
        assert client.post("/board/motions", json=motion, headers=mine).status_code == 201
        auth["Idempotency-Key"] = "c"
        r = client.post("/board/motions/m/close", headers=auth)
        assert r.status_code == 403
        assert r.json()["error"]["field"] == "actor"
