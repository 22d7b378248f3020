"""The first thing every request meets (pure ASGI, before FastAPI reads anything):

- a write (any method but GET, HEAD, OPTIONS; the web lab's runs excepted) must carry a
  known, unrevoked bearer token, or it is refused with 401 before one byte of its body is read;
- a body larger than ``max_body`` bytes is refused with 413: at once from ``Content-Length``,
  or, for a chunked body, as soon as the bytes received pass the limit.

Role checks stay in the endpoints (``auth.allow``); this layer only keeps unauthenticated and
oversized bodies out of memory.

On the paths in ``remembered`` (the direct writes, whose append transaction checks the token
again) a token this process has already verified is taken from the ledger's ``tokens`` without a
database look-up (an indexed read, a pool check-out and its reset: about a third of the event
loop's time per write); the guard marks such a user ``FROM_CACHE``. A write that takes the
direct path carries the token's hash into the append transaction, which refuses it (401,
nothing written) if the token has been revoked or re-issued meanwhile; one that goes on to
FastAPI is looked up again by ``auth.allow``. Everywhere else the token is looked up on every
request, as before.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from critmin.ledger.store import is_sqlite
from critmin.ledger.users import User, authenticate_hash, token_hash

#: The default request-size limit: 1 MiB (the largest write, a motion or an acquisition, is
#: under 4 KiB).
MAX_BODY = 2**20
READS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Writes open to every visitor: the web scenario lab computes a run and stores nothing in the
#: ledger (its size limits are the lab's own); the body limit still applies.
OPEN_WRITES = frozenset({"/web/lab/run"})
#: Where the guard leaves the user it authenticated (``request.state``).
USER = "critmin_user"
#: ... the hash of the token it came with,
TOKEN = "critmin_token"
#: ... and, if set, that the user was remembered, not looked up (to be checked again).
FROM_CACHE = "critmin_user_from_cache"


async def _reply(send: Send, status: int, message: str, field: str | None, **headers: str) -> None:
    body = json.dumps({"error": {"message": message, "field": field}}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _authenticate(engine: Engine, digest: str) -> User | None:
    """Look the token up: on the event loop for SQLite (an indexed read of a local file, in
    WAL mode never blocked by a writer: cheaper than a thread hop), in the thread pool for a
    server database (a network round trip)."""
    if is_sqlite(engine):
        return authenticate_hash(engine, digest)
    return await run_in_threadpool(authenticate_hash, engine, digest)


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        ledger: Any,
        max_body: int = MAX_BODY,
        remembered: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.ledger = ledger
        self.max_body = max_body
        self.remembered = remembered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if scope.get("method", "GET") not in READS and scope.get("path") not in OPEN_WRITES:
            auth = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, token = auth.partition(" ")
            user = digest = None
            cached = False
            if scheme.lower() == "bearer" and 0 < len(token) <= 512:
                digest = token_hash(token.strip())
                tokens = self.ledger.tokens
                if scope.get("path") in self.remembered:
                    user = tokens.get(digest)
                    cached = user is not None
                if user is None:
                    user = await _authenticate(self.ledger.engine, digest)
                    if user is not None:
                        tokens.remember(digest, user)
            if user is None:
                await _reply(
                    send,
                    401,
                    "a valid bearer token is required (the body was not read)",
                    "Authorization",
                    **{"WWW-Authenticate": "Bearer"},
                )
                return
            state = scope.setdefault("state", {})
            state[USER], state[TOKEN] = user, digest  # the endpoint need not look it up again
            if cached:
                state[FROM_CACHE] = True
        length = headers.get(b"content-length")
        if length is not None:
            text = length.decode("latin-1").strip()
            if not text.isdigit():
                await _reply(send, 400, "Content-Length is not a number", "Content-Length")
                return
            if int(text) > self.max_body:
                await _reply(
                    send,
                    413,
                    f"request body of {int(text)} bytes exceeds the limit of {self.max_body}",
                    "body",
                )
                return
        seen = 0
        replied = False

        async def limited() -> Message:
            # past the limit, answer 413 at once and tell the app the client has gone
            nonlocal seen, replied
            if replied:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    replied = True
                    await _reply(
                        send,
                        413,
                        f"request body exceeds the limit of {self.max_body} bytes",
                        "body",
                    )
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            if not replied:  # once the guard has answered, the app's answer is dropped
                await send(message)

        try:
            await self.app(scope, limited, tracked)
        except Exception:
            if not replied:
                raise
