"""The direct path for the writes whose body is the event itself (an acquisition, a release,
...): a well-formed request goes from the guard straight to the ledger's queue, without
FastAPI's routing, dependency resolution and response validation, which cost about half the
CPU of a write.

It takes only what FastAPI would accept the same way: a POST to one of ``routes`` by a user
the guard authenticated with the route's role, an ``Idempotency-Key`` matching
``KEY_PATTERN``, ``Content-Type: application/json`` and a body that validates as the route's
event (parsed and validated as FastAPI does: ``json.loads``, then the model in Python mode).
Anything else goes on to FastAPI unchanged, with the body it has read replayed, so every
refusal (401, 403, 422, ...) is FastAPI's own answer. Errors of the append itself are
answered by the application's exception handlers; the success is the same ``Written``
document, serialised as FastAPI does (``model_dump_json(by_alias=True)``, status 201).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from critmin.api.guard import TOKEN, USER
from critmin.ledger import events as ev
from critmin.ledger.service import Ledger
from critmin.ledger.users import User
from critmin.ledger.vocabulary import Role

#: What an ``Idempotency-Key`` may be (the API's header declaration uses the same pattern).
KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_KEY = re.compile(KEY_PATTERN)
Submit = Callable[[Ledger, ev.Payload, str, str, str | None], Awaitable[BaseModel]]
Handler = Callable[[Request, Exception], Any]


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as Starlette reads it."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _replay(body: bytes, then: Message | None = None) -> Receive:
    """A ``receive`` that hands over ``body`` again (and then ``then``, or a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if then is None:
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.request", "body": body, "more_body": True}
        return then or {"type": "http.disconnect"}

    return receive


class DirectWrites:
    """Pure ASGI middleware (inside the guard): serve ``routes`` (path → event model and the
    one role allowed to post it) directly; pass everything else to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        ledger: Ledger,
        routes: Mapping[str, tuple[type[ev.Payload], Role]],
        submit: Submit,
        handlers: Mapping[Any, Handler],
    ) -> None:
        self.app = app
        self.ledger = ledger
        self.routes = dict(routes)
        self.submit = submit
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and scope.get("method") == "POST":
            route = self.routes.get(scope.get("path", ""))
        if route is None:
            await self.app(scope, receive, send)
            return
        model, role = route
        user = scope.get("state", {}).get(USER)
        key = _header(scope, b"idempotency-key")
        kind = _header(scope, b"content-type")
        if (
            not isinstance(user, User)
            or user.role is not role
            or key is None
            or _KEY.fullmatch(key) is None
            or kind is None
            or kind.strip().lower() != "application/json"
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # gone, or refused by the guard's limit
                await self.app(scope, _replay(b"".join(chunks), message), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            payload = model.model_validate(json.loads(body), from_attributes=True)
        except (ValueError, ValidationError):  # FastAPI names the fault
            await self.app(scope, _replay(body), send)
            return
        try:
            # the token's hash goes along: the append transaction checks it is still live
            token = scope["state"].get(TOKEN)
            written = await self.submit(self.ledger, payload, user.name, key, token)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response: Response = await handler(Request(scope, receive), exc)
        else:
            response = Response(
                written.model_dump_json(by_alias=True),
                status_code=201,
                media_type="application/json",
            )
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        for kind in type(exc).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        return None
