"""The operations console: sign in with an existing bearer token; the page then reads and
writes through the ledger API itself, so the API's role checks are the console's role checks
(a board member can vote; a visitor without a token cannot)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from critmin.api.auth import ContributionReader, LedgerDep, Reader, allow, contributions_for
from critmin.ledger.state import Fund, Lot
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
        return [_fund(row) for row in db.projection(Projection.FUND)]

    @r.get("/web/console/contributions")
    def contributions(db: LedgerDep, user: ContributionReader) -> list[dict[str, Any]]:
        """The contributions of ``GET /contributions`` (the same role check; a partner reads
        only its own), dollars written as for the funds: the partner's view of the console."""
        return [_fund(row) for row in contributions_for(db, user)]

    @r.get("/web/console/holdings")
    def holdings(db: LedgerDep, user: Reader) -> list[dict[str, Any]]:
        """The lots of ``GET /holdings`` (the same role check), each with ``cost`` and
        ``written_down`` (``cost_usd``, ``written_down_usd``) written by the one formatter."""
        out = []
        for row in db.projection(Projection.LOT):
            lot = Lot.model_validate(row)
            out.append(
                {**row, "cost": usd(lot.cost_usd), "written_down": usd(lot.written_down_usd)}
            )
        return out

    return r


def _fund(row: dict[str, Any]) -> dict[str, Any]:
    """A fund row with ``amount`` and ``available`` (``Fund.available``: what an accepted fund
    has not spent) written as every front end writes dollars (critmin.report.numbers.usd)."""
    fund = Fund.model_validate(row)
    return {**row, "amount": usd(fund.amount_usd), "available": usd(fund.available)}
