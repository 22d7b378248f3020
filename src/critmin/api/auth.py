"""Bearer-token authentication and role checks.

No token (or an unknown one) on a protected endpoint is 401; a known user whose role the
endpoint does not allow is 403.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from critmin.api.guard import FROM_CACHE, USER
from critmin.ledger.service import Ledger
from critmin.ledger.users import User, authenticate
from critmin.ledger.vocabulary import FundKind, Projection, Role

bearer = HTTPBearer(auto_error=False, description="A token from `critmin users add`.")


async def ledger(request: Request) -> Ledger:
    found = request.app.state.ledger
    assert isinstance(found, Ledger)
    return found


def allow(*roles: Role) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency that returns the caller if their role is one of ``roles``.

    Asynchronous, so it costs no thread hop: a write's user comes from the guard, which has
    already looked the token up; reads, and a write whose user the guard remembered rather
    than looked up, look it up here (in the thread pool)."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> User:
        if credentials is None:
            raise HTTPException(
                401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        user = getattr(request.state, USER, None)  # a write the guard has authenticated
        if not isinstance(user, User) or getattr(request.state, FROM_CACHE, False):
            db = await ledger(request)
            user = await run_in_threadpool(authenticate, db.engine, credentials.credentials)
        if user is None:
            raise HTTPException(
                401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        if user.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(403, f"role {user.role.value} may not do this (allowed: {allowed})")
        return user

    return check


READERS = (Role.BOARD, Role.OPERATOR, Role.ANALYST)
Board = Annotated[User, Depends(allow(Role.BOARD))]
Operator = Annotated[User, Depends(allow(Role.OPERATOR))]
Analyst = Annotated[User, Depends(allow(Role.ANALYST))]
Partner = Annotated[User, Depends(allow(Role.PARTNER))]
Reader = Annotated[User, Depends(allow(*READERS))]
ContributionReader = Annotated[User, Depends(allow(*READERS, Role.PARTNER))]
LedgerDep = Annotated[Ledger, Depends(ledger)]


def contributions_for(db: Ledger, user: User) -> list[dict[str, Any]]:
    """The partner contributions ``user`` may read (``GET /contributions`` and the console's
    partner view): every one for a reader, a partner only its own country's."""
    rows = [f for f in db.projection(Projection.FUND) if f["kind"] == FundKind.CONTRIBUTION]
    if user.role is Role.PARTNER:
        rows = [f for f in rows if f["partner"] == user.country]
    return rows
