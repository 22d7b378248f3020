"""The operations console: sign in with an existing bearer token; the page then reads and
writes through the ledger API itself, so the API's role checks are the console's role checks
(a board member can vote; a visitor without a token cannot)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from critmin.api.auth import LedgerDep, Reader, allow
from critmin.ledger.state import Fund
from critmin.ledger.users import User
from critmin.ledger.verify import verify
from critmin.ledger.vocabulary import Projection, Role
from critmin.report.numbers import usd

if TYPE_CHECKING:
    from critmin.web.app import Web

AnyUser = Annotated[User, Depends(allow(*(r for r in Role if r is not Role.PUBLIC)))]


def router(web: Web) -> APIRouter:
    r = APIRouter()

    @r.get("/console", response_class=HTMLResponse)
    def console(request: Request) -> HTMLResponse:
        return web.page(request, "console.html.j2")

    @r.get("/web/console/me")
    def me(user: AnyUser) -> dict[str, Any]:
        """Who the token belongs to and what the console lets them do."""
        return {
            "name": user.name,
            "role": user.role.value,
            "country": user.country,
            "can_vote": user.role is Role.BOARD,
            "can_read": user.role in (Role.BOARD, Role.OPERATOR, Role.ANALYST),
        }

    @r.get("/web/console/verify")
    def verify_status(db: LedgerDep, user: Reader) -> dict[str, Any]:
        """The ledger's hash chain and projections, checked now."""
        report = verify(db)
        return {
            "ok": report.ok,
            "events": report.events,
            "head": report.head,
            "problems": report.problems[:20],
        }

    @r.get("/web/console/funds")
    def funds(db: LedgerDep, user: Reader) -> list[dict[str, Any]]:
        """The funds of ``GET /funds`` (the same role check), each with ``amount`` and
        ``available`` (``Fund.available``: what an accepted fund has not spent) written as
        every front end writes dollars (critmin.report.numbers.usd): the page formats no
        money itself."""
        out = []
        for row in db.projection(Projection.FUND):
            fund = Fund.model_validate(row)
            out.append({**row, "amount": usd(fund.amount_usd), "available": usd(fund.available)})
        return out

    return r
