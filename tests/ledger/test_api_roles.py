"""Every endpoint x role: allowed calls succeed; the others get 401/403 and change nothing.
Plus JSON errors that name the field, and idempotent retries over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ledger_world import ACQ, MEMBERS, SOON, resolve

from critmin.api.app import create_app
from critmin.ledger import events as ev
from critmin.ledger.service import Ledger
from critmin.ledger.users import add_user
from critmin.ledger.vocabulary import Role

BOARD, OPERATOR, ANALYST, PARTNER, PUBLIC = (
    Role.BOARD,
    Role.OPERATOR,
    Role.ANALYST,
    Role.PARTNER,
    Role.PUBLIC,
)
READ = {BOARD, OPERATOR, ANALYST}
Setup = Callable[[Ledger, int], tuple[str, dict[str, Any] | None]]


def motion(db: Ledger, n: int) -> str:
    db.submit(
        ev.MotionProposed(motion_id=f"v{n}", motion=ev.General(text="x"), proposer=MEMBERS[1]),
        MEMBERS[1],
    )
    return f"v{n}"


def loan(db: Ledger, n: int) -> str:
    db.submit(
        ev.Loan.model_validate(
            {
                "loan_id": f"l{n}",
                "lot_id": "lot1",
                "quantity_t": "0.1",
                "counterparty": "Ally",
                "counterparty_country": "JPN",
                "return_date": SOON,
            }
        ),
        "op",
    )
    return f"l{n}"


SEAT7 = {"seat": 7, "member": MEMBERS[6], "term_start": "2025-01-01", "term_end": "2035-01-01"}


def refill(db: Ledger, n: int) -> str:
    """A passed ``fill_seat`` resolution re-appointing seat 7 (seats change only this way)."""
    resolve(db, f"fill{n}", ev.FillSeat.model_validate(SEAT7))
    return f"fill{n}"


READS = ("/holdings", "/funds", "/contracts", "/loans", "/board", "/events", "/valuation")


def reader(path: str) -> Setup:
    return lambda db, n: (path, None)


#: method, path, allowed roles, and how to make a valid request (path, body) for call ``n``.
ENDPOINTS: list[tuple[str, str, set[Role], Setup]] = [
    (
        "GET",
        "/public/transactions",
        {*READ, PARTNER, PUBLIC},
        lambda db, n: ("/public/transactions", None),
    ),
    *[("GET", p, READ, reader(p)) for p in READS],
    ("GET", "/contributions", {*READ, PARTNER}, lambda db, n: ("/contributions", None)),
    (
        "POST",
        "/contributions",
        {PARTNER},
        lambda db, n: ("/contributions", {"contribution_id": f"c{n}", "amount_usd": "1000"}),
    ),
    (
        "POST",
        "/board/seats",
        {BOARD},
        lambda db, n: ("/board/seats", {**SEAT7, "resolution_id": refill(db, n)}),
    ),
    (
        "POST",
        "/board/motions",
        {BOARD},
        lambda db, n: (
            "/board/motions",
            {"motion_id": f"m{n}", "motion": {"kind": "general", "text": "x"}},
        ),
    ),
    (
        "POST",
        "/board/motions/{id}/votes",
        {BOARD},
        lambda db, n: (f"/board/motions/{motion(db, n)}/votes", {"vote": "yes"}),
    ),
    (
        "POST",
        "/board/motions/{id}/close",
        {BOARD},
        lambda db, n: (f"/board/motions/{motion(db, n)}/close", None),
    ),
    (
        "POST",
        "/acquisitions",
        {OPERATOR},
        lambda db, n: ("/acquisitions", {"lot_id": f"a{n}", **ACQ}),
    ),
    (
        "POST",
        "/releases",
        {OPERATOR},
        lambda db, n: (
            "/releases",
            {
                "release_id": f"r{n}",
                "lot_id": "lot1",
                "quantity_t": "0.1",
                "price_usd_per_t": "39000",
                "buyer": "Plant",
                "buyer_country": "USA",
                "trigger": "supply_shock",
                "shock_id": "shock1",
            },
        ),
    ),
    (
        "POST",
        "/loans",
        {OPERATOR},
        lambda db, n: (
            "/loans",
            {
                "loan_id": f"L{n}",
                "lot_id": "lot1",
                "quantity_t": "0.1",
                "counterparty": "Ally",
                "counterparty_country": "KOR",
                "return_date": SOON,
                "kind": "swap",
            },
        ),
    ),
    (
        "POST",
        "/loans/{id}/return",
        {OPERATOR},
        lambda db, n: (f"/loans/{loan(db, n)}/return", {"quantity_t": "0.1"}),
    ),
    (
        "POST",
        "/transfers",
        {OPERATOR},
        lambda db, n: (
            "/transfers",
            {"lot_id": "lot1", "quantity_t": "0.1", "to_lot_id": f"t{n}", "to_location": "depot-b"},
        ),
    ),
    (
        "POST",
        "/write-downs",
        {OPERATOR},
        lambda db, n: ("/write-downs", {"lot_id": "lot1", "value_usd": "1", "reason": "assay"}),
    ),
    (
        "POST",
        "/prices",
        {ANALYST},
        lambda db, n: (
            "/prices",
            {
                "mineral": "cobalt",
                "usd_per_t": "30000",
                "as_of": str(date(2025, 1, 1)),
                "source": "t",
            },
        ),
    ),
    (
        "POST",
        "/contracts",
        {OPERATOR},
        lambda db, n: (
            "/contracts",
            {
                "contract_id": f"k{n}",
                "kind": "price_floor",
                "counterparty": "Mine",
                "counterparty_country": "CAN",
                "mineral": "cobalt",
                "volume_t": "1",
                "price_usd_per_t": "30000",
                "start": "2025-01-01",
                "end": "2030-01-01",
            },
        ),
    ),
]


@pytest.fixture
def api(world: Ledger) -> Iterator[tuple[TestClient, dict[Role, dict[str, str]]]]:
    tokens = {
        BOARD: add_user(world.engine, MEMBERS[0], BOARD),
        OPERATOR: add_user(world.engine, "op", OPERATOR),
        ANALYST: add_user(world.engine, "ana", ANALYST),
        PARTNER: add_user(world.engine, "jp", PARTNER, "JPN"),
    }
    headers = {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}
    headers[PUBLIC] = {}
    with TestClient(create_app(world)) as client:
        yield client, headers


def test_every_endpoint_and_role(
    world: Ledger, api: tuple[TestClient, dict[Role, dict[str, str]]]
) -> None:
    client, headers = api
    routes = [(r.methods, r.path) for r in client.app.routes if hasattr(r, "methods")]  # type: ignore[attr-defined]
    served = {(m, p) for methods, p in routes for m in methods if m in {"GET", "POST"}}
    declared = {
        (m, p.replace("{id}", "{motion_id}" if "motion" in p else "{loan_id}"))
        for m, p, _, _ in ENDPOINTS
    }
    assert (
        served
        - {
            ("GET", "/openapi.json"),
            ("GET", "/docs"),
            ("GET", "/docs/oauth2-redirect"),
            ("GET", "/redoc"),
            ("GET", "/public/checkpoint"),  # tested in tests/hardening/test_anchor.py
        }
        == declared
    )
    wrong: list[str] = []
    n = 0
    for method, name, allowed, setup in ENDPOINTS:
        for role in Role:
            n += 1
            path, body = setup(world, n)
            before_head, before = world.head(), world.stored_projections()
            sent = {**headers[role], "Idempotency-Key": f"k{n}"}
            response = client.request(method, path, json=body, headers=sent)
            code = response.status_code
            if role in allowed:
                if code not in {200, 201}:
                    wrong.append(f"{method} {name} as {role}: {code} {response.text}")
            else:
                expected = 401 if role is PUBLIC else 403
                if code != expected:
                    wrong.append(f"{method} {name} as {role}: {code}, expected {expected}")
                if world.head() != before_head or world.stored_projections() != before:
                    wrong.append(f"{method} {name} as {role} changed the ledger")
                assert response.json()["error"]["message"]
    assert wrong == []
    assert world.replay().rows() == world.stored_projections()


def test_bad_token_errors_name_the_field_and_retries(
    api: tuple[TestClient, dict[Role, dict[str, str]]], world: Ledger
) -> None:
    client, headers = api
    assert client.get("/holdings", headers={"Authorization": "Bearer nope"}).status_code == 401
    bad = client.post(
        "/acquisitions",
        json={**ACQ, "lot_id": "x", "quantity_t": "-1"},
        headers={**headers[OPERATOR], "Idempotency-Key": "bad"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "quantity_t"
    feoc = client.post(
        "/acquisitions",
        json={**ACQ, "lot_id": "x", "seller_country": "PRK"},
        headers={**headers[OPERATOR], "Idempotency-Key": "feoc"},
    )
    assert feoc.status_code == 422
    assert feoc.json()["error"]["field"] == "seller_country"
    key = {**headers[OPERATOR], "Idempotency-Key": "retry-1"}
    first = client.post("/acquisitions", json={**ACQ, "lot_id": "y"}, headers=key)
    head = world.head()
    again = client.post("/acquisitions", json={**ACQ, "lot_id": "y"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == {**first.json(), "replayed": True}
    assert world.head() == head
    clash = client.post("/acquisitions", json={**ACQ, "lot_id": "z"}, headers=key)
    assert clash.status_code == 409
    assert clash.json()["error"]["field"] == "idempotency_key"
    spent = client.post(
        "/releases",
        json={
            "release_id": "r",
            "lot_id": "lot1",
            "quantity_t": "99",
            "price_usd_per_t": "1",
            "buyer": "b",
            "buyer_country": "USA",
            "trigger": "supply_shock",
            "shock_id": "shock1",
        },
        headers={**headers[OPERATOR], "Idempotency-Key": "spent"},
    )
    assert spent.status_code == 409
    assert spent.json()["error"]["field"] == "quantity_t"
