"""The direct write path (``critmin.api.direct``) answers exactly as FastAPI does: every direct
route is a FastAPI route with the same event model; a well-formed write takes the direct path
(FastAPI's endpoint is never reached) and its answer, retried through FastAPI, is the same
event; a wrong role, a bad body or a bad key is FastAPI's own answer; a refusal of the ledger
is rendered by the application's handlers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from ledger_world import ACQ

from critmin.api import auth
from critmin.api.app import DIRECT, create_app
from critmin.ledger.service import Ledger
from critmin.ledger.users import add_user, revoke_user, token_hash
from critmin.ledger.vocabulary import Role

#: Content-Type the direct path passes on to FastAPI (which reads it as JSON all the same).
VIA_FASTAPI = "application/json; charset=utf-8"


@pytest.fixture
def api(world: Ledger) -> Iterator[tuple[TestClient, dict[Role, str]]]:
    tokens = {
        Role.OPERATOR: add_user(world.engine, "op", Role.OPERATOR),
        Role.ANALYST: add_user(world.engine, "ana", Role.ANALYST),
    }
    with TestClient(create_app(world)) as client:
        yield client, tokens


def post(client: TestClient, token: str, path: str, body: Any, key: str | None, kind: str) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": kind}
    if key is not None:
        headers["Idempotency-Key"] = key
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=raw, headers=headers)


def test_every_direct_route_is_a_fastapi_route_with_its_model(world: Ledger) -> None:
    app = create_app(world)
    posts = {
        r.path: r for r in app.routes if isinstance(r, APIRoute) and "POST" in (r.methods or ())
    }
    for path, (model, _role) in DIRECT.items():
        route = posts[path]
        (body,) = route.dependant.body_params
        assert body.field_info.annotation is model, path


def test_a_well_formed_write_takes_the_direct_path_and_agrees_with_fastapi(
    world: Ledger, api: tuple[TestClient, dict[Role, str]]
) -> None:
    client, tokens = api
    op = tokens[Role.OPERATOR]
    first = post(client, op, "/acquisitions", {**ACQ, "lot_id": "d1"}, "d-1", "application/json")
    assert first.status_code == 201, first.text
    assert first.json()["replayed"] is False
    assert first.headers["content-type"] == "application/json"
    retried = post(client, op, "/acquisitions", {**ACQ, "lot_id": "d1"}, "d-1", VIA_FASTAPI)
    assert retried.status_code == 201
    assert retried.json() == {**first.json(), "replayed": True}
    assert set(retried.headers) >= {"content-type", "content-length"}
    # the other way round: written through FastAPI, retried directly
    other = post(client, op, "/acquisitions", {**ACQ, "lot_id": "d2"}, "d-2", VIA_FASTAPI)
    again = post(client, op, "/acquisitions", {**ACQ, "lot_id": "d2"}, "d-2", "application/json")
    assert again.json() == {**other.json(), "replayed": True}
    assert again.content.replace(b'"replayed":true', b'"replayed":false') == other.content

    # FastAPI's endpoints out of order: only the direct path can still write
    def broken() -> Ledger:
        raise HTTPException(418, "FastAPI's endpoint was reached")

    client.app.dependency_overrides[auth.ledger] = broken  # type: ignore[attr-defined]
    direct = post(client, op, "/acquisitions", {**ACQ, "lot_id": "d3"}, "d-3", "application/json")
    assert direct.status_code == 201
    passed_on = post(client, op, "/acquisitions", {**ACQ, "lot_id": "d4"}, "d-4", VIA_FASTAPI)
    assert passed_on.status_code == 418
    assert world.replay().rows() == world.stored_projections()


@pytest.mark.parametrize(
    ("case", "path", "body", "key", "who"),
    [
        ("wrong role", "/acquisitions", {**ACQ, "lot_id": "e1"}, "e-1", Role.ANALYST),
        ("wrong role", "/prices", {"mineral": "cobalt"}, "e-2", Role.OPERATOR),
        (
            "invalid field",
            "/acquisitions",
            {**ACQ, "lot_id": "e3", "quantity_t": "-1"},
            "e-3",
            None,
        ),
        ("missing field", "/acquisitions", {"lot_id": "e4"}, "e-4", None),
        ("extra field", "/transfers", {"lot_id": "lot1", "zzz": 1}, "e-5", None),
        ("not JSON", "/acquisitions", b"{not json", "e-6", None),
        ("not an object", "/acquisitions", [1, 2], "e-7", None),
        ("no key", "/acquisitions", {**ACQ, "lot_id": "e8"}, None, None),
        ("bad key", "/acquisitions", {**ACQ, "lot_id": "e9"}, "no spaces", None),
        (
            "refused by a rule",
            "/acquisitions",
            {**ACQ, "lot_id": "e10", "quantity_t": "1e9"},
            "e-10",
            None,
        ),
    ],
)
def test_every_refusal_is_the_answer_fastapi_gives(
    world: Ledger,
    api: tuple[TestClient, dict[Role, str]],
    case: str,
    path: str,
    body: Any,
    key: str | None,
    who: Role | None,
) -> None:
    client, tokens = api
    token = tokens[who or DIRECT[path][1]]
    head = world.head()
    direct = post(client, token, path, body, key, "application/json")
    fastapi = post(client, token, path, body, key, VIA_FASTAPI)
    assert direct.status_code >= 400, case
    assert (direct.status_code, direct.json()) == (fastapi.status_code, fastapi.json()), case
    assert world.head() == head


@pytest.mark.parametrize("how", ["revoked", "re-issued"])
def test_a_remembered_token_is_checked_again_and_a_dead_one_writes_nothing(
    world: Ledger, api: tuple[TestClient, dict[Role, str]], how: str
) -> None:
    """The guard remembers a verified token on the direct paths; once it is revoked or
    re-issued (as by another process: nothing tells this one), a direct write is refused by
    the append transaction (401, nothing written, a retry of a written key included), one
    that goes on to FastAPI by ``auth.allow``'s own look-up; the next is refused by the guard
    before its body is read, and reads look the token up every time."""
    client, tokens = api
    op = tokens[Role.OPERATOR]
    first = post(client, op, "/acquisitions", {**ACQ, "lot_id": "r1"}, "r-1", "application/json")
    assert first.status_code == 201
    assert world.tokens.get(token_hash(op)) is not None  # remembered
    if how == "revoked":
        revoke_user(world.engine, "op")
    else:
        add_user(world.engine, "op", Role.ANALYST)
    head = world.head()
    # via FastAPI: auth.allow looks the remembered token up again
    passed_on = post(client, op, "/acquisitions", {**ACQ, "lot_id": "r2"}, "r-2", VIA_FASTAPI)
    assert passed_on.status_code == 401
    assert world.tokens.get(token_hash(op)) is not None  # still remembered: the guard's hit
    for key in ("r-1", "r-3"):  # a retry of a written key, a new key
        r = post(client, op, "/acquisitions", {**ACQ, "lot_id": "r1"}, key, "application/json")
        assert r.status_code == 401, key
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["field"] == "Authorization"
    assert world.tokens.get(token_hash(op)) is None  # forgotten by the transaction
    # ... so the guard looks it up again and refuses before reading the body
    r = post(client, op, "/acquisitions", {**ACQ, "lot_id": "r1"}, "r-4", "application/json")
    assert r.status_code == 401
    assert "body was not read" in r.json()["error"]["message"]
    assert client.get("/holdings", headers={"Authorization": f"Bearer {op}"}).status_code == 401
    assert world.head() == head
    assert world.replay().rows() == world.stored_projections()
