"""Bearer-token authentication and role checks.

No token (or an unknown one) on a protected endpoint is 401; a known user whose role the
endpoint does not allow is 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from critmin.api.guard import USER
from critmin.ledger.service import Ledger
from critmin.ledger.users import User, authenticate
from critmin.ledger.vocabulary import Role

bearer = HTTPBearer(auto_error=False, description="A token from `critmin users add`.")


def ledger(request: Request) -> Ledger:
    found = request.app.state.ledger
    assert isinstance(found, Ledger)
    return found


def allow(*roles: Role) -> Callable[..., User]:
    """A dependency that returns the caller if their role is one of ``roles``."""

    def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> User:
        if credentials is None:
            raise HTTPException(
                401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        user = getattr(request.state, USER, None)  # a write the guard has authenticated
        if not isinstance(user, User):
            user = authenticate(ledger(request).engine, credentials.credentials)
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
