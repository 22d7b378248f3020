"""The FastAPI application: reads of the projections, and one endpoint per operation.

Writes require an ``Idempotency-Key`` header (keys belong to the token's user): a retry with
the same key returns the first answer and writes nothing. The actor recorded is the token's
user. Requests pass ``guard.Guard`` first: writes without a valid token are refused before
their body is read, and bodies over the size limit get 413.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Path, Query
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict

from critmin.api import errors, security
from critmin.api.auth import (
    Analyst,
    Board,
    ContributionReader,
    LedgerDep,
    Operator,
    Partner,
    Reader,
    contributions_for,
)
from critmin.api.direct import KEY_PATTERN, DirectWrites
from critmin.api.guard import MAX_BODY, Guard
from critmin.ledger import events as ev
from critmin.ledger.anchor import anchor_document, chain_hashes
from critmin.ledger.public import public_transactions
from critmin.ledger.service import Ledger, Receipt
from critmin.ledger.valuation import valuation
from critmin.ledger.vocabulary import Projection, Role, Vote
from critmin.web import WebSettings, mount

KeyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Required on every write; a retry with the same key is answered, not "
        "repeated. Keys are per user.",
    ),
]
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]

#: The writes whose body is the event itself, posted as it is by the token's user, and the one
#: role each allows: a well-formed one takes the direct path (``direct.DirectWrites``). Each
#: has its FastAPI endpoint below, with the same model and role (the API docs, and every
#: request the direct path passes on).
DIRECT: dict[str, tuple[type[ev.Payload], Role]] = {
    "/board/seats": (ev.SeatFilled, Role.BOARD),
    "/acquisitions": (ev.Acquisition, Role.OPERATOR),
    "/releases": (ev.Release, Role.OPERATOR),
    "/loans": (ev.Loan, Role.OPERATOR),
    "/transfers": (ev.Transfer, Role.OPERATOR),
    "/write-downs": (ev.WriteDown, Role.OPERATOR),
    "/prices": (ev.PriceRecorded, Role.ANALYST),
    "/contracts": (ev.ContractSigned, Role.OPERATOR),
}


class EventOut(BaseModel):
    seq: int
    id: str
    idempotency_key: str
    type: str
    actor: str
    recorded_at: str
    hash: str


class Written(BaseModel):
    """The event a write appended (or, for a retry, the event the first attempt appended)."""

    event: EventOut
    replayed: bool


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MotionIn(Request):
    motion_id: ev.Ident
    motion: ev.Motion


class VoteIn(Request):
    vote: Vote


class ContributionIn(Request):
    contribution_id: ev.Ident
    amount_usd: ev.PositiveMoney
    earmark: Annotated[list[ev.MineralId], ev.Field(max_length=50, default_factory=list)]
    conditions: ev.NoteText = ""


class ReturnIn(Request):
    quantity_t: ev.Quantity
    lot_id: ev.Ident | None = None


async def _submit(
    db: Ledger, payload: ev.Payload, actor: str, key: str, token: str | None = None
) -> Written:
    """Queue the append for the ledger's writer thread and wait for its outcome without
    holding a thread (the endpoints and their dependencies are coroutines, so FastAPI does
    not hop for them or for the response). ``token``: the hash of the bearer token, for the
    append transaction to check again (the direct path, whose user the guard may have
    remembered rather than looked up)."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[Receipt] = loop.create_future()

    def settle(receipt: Receipt | None, error: BaseException | None) -> None:
        if outcome.cancelled():  # the client went away; the append stands
            return
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(receipt)  # type: ignore[arg-type]

    def notify(receipt: Receipt | None, error: BaseException | None) -> None:
        loop.call_soon_threadsafe(settle, receipt, error)

    db.submit_later(payload, actor, key, notify, token)
    receipt = await outcome
    return Written(event=EventOut(**receipt.event.summary()), replayed=receipt.replayed)


def create_app(ledger: Ledger, web: WebSettings | None = None, max_body: int = MAX_BODY) -> FastAPI:
    """The ledger API, with the web application mounted on it (``web``: how it computes).
    Swagger UI and Redoc are served from the installed ``fastapi-offline`` package; requests
    pass the guard (token before body, ``max_body`` bytes at most)."""
    app: FastAPI = FastAPIOffline(
        title="critmin reserve operations",
        version="0.1.0",
        description="The reserve's append-only ledger: holdings, funds, board, public view.",
    )
    app.state.ledger = ledger
    errors.install(app)
    # the guard runs first (token, size), then the direct path, then FastAPI's routing; on the
    # direct paths the guard may take a token it has verified before from ledger.tokens, as
    # the append transaction checks it again (and auth.allow, if FastAPI gets the request)
    app.add_middleware(
        DirectWrites,
        ledger=ledger,
        routes=DIRECT,
        submit=_submit,
        handlers=app.exception_handlers,
    )
    app.add_middleware(Guard, ledger=ledger, max_body=max_body, remembered=frozenset(DIRECT))
    app.include_router(security.router)
    created: dict[str, Any] = {"status_code": 201, "response_model": Written}

    # -- public -----------------------------------------------------------------------------
    @app.get("/public/transactions", tags=["public"])
    def transactions(
        db: LedgerDep,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[dict[str, Any]]:
        """Acquisitions, releases, loans and contracts without confidential fields."""
        return public_transactions(db.events(after, limit))

    @app.get("/public/checkpoint", tags=["public"])
    def checkpoint(db: LedgerDep) -> dict[str, Any]:
        """The latest signed checkpoint as an anchor document (for `ledger verify --anchor`)."""
        found = db.projection(Projection.CHECKPOINT)
        if not found:
            raise HTTPException(404, "the board has published no checkpoint yet")
        payload = ev.Checkpoint.model_validate(found[0])
        hashes = [h for _, h, _, _ in chain_hashes(db, payload.seq)]
        return anchor_document(payload, hashes)

    # -- reads ------------------------------------------------------------------------------
    @app.get("/holdings", tags=["read"])
    def holdings(db: LedgerDep, user: Reader) -> list[dict[str, Any]]:
        """Lots: mineral, form, location, quantity (t), cost basis (USD)."""
        return db.projection(Projection.LOT)

    @app.get("/funds", tags=["read"])
    def funds(db: LedgerDep, user: Reader) -> list[dict[str, Any]]:
        """Appropriation, partner contributions (pending, accepted, rejected), proceeds."""
        return db.projection(Projection.FUND)

    @app.get("/contracts", tags=["read"])
    def contracts(db: LedgerDep, user: Reader) -> list[dict[str, Any]]:
        return db.projection(Projection.CONTRACT)

    @app.get("/loans", tags=["read"])
    def loans(db: LedgerDep, user: Reader) -> list[dict[str, Any]]:
        return db.projection(Projection.LOAN)

    @app.get("/board", tags=["read"])
    def board(db: LedgerDep, user: Reader) -> dict[str, list[dict[str, Any]]]:
        """Seats, motions, resolutions, price bands, supply shocks, thresholds, prices."""
        kinds = (
            Projection.SEAT,
            Projection.MOTION,
            Projection.RESOLUTION,
            Projection.PRICE_BAND,
            Projection.SHOCK,
            Projection.SETTINGS,
            Projection.PRICE,
        )
        return {k.value: db.projection(k) for k in kinds}

    @app.get("/events", tags=["read"])
    def events(
        db: LedgerDep,
        user: Reader,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[dict[str, Any]]:
        """The full log, confidential fields included."""
        return [
            {**e.summary(), "prev_hash": e.prev_hash, "payload": e.payload.model_dump(mode="json")}
            for e in db.events(after, limit)
        ]

    @app.get("/valuation", tags=["read"])
    def value(db: LedgerDep, user: Reader) -> dict[str, Any]:
        """Holdings at market prices; realised gains; funds available."""
        db.require_genesis()
        return db.read(lambda s: valuation(s, db.reference))

    @app.get("/contributions", tags=["funds"])
    def contributions(db: LedgerDep, user: ContributionReader) -> list[dict[str, Any]]:
        """Partner contributions; a partner sees only its own."""
        return contributions_for(db, user)

    # -- partner ----------------------------------------------------------------------------
    @app.post("/contributions", tags=["funds"], **created)
    async def contribute(
        body: ContributionIn, db: LedgerDep, user: Partner, key: KeyHeader
    ) -> Written:
        """Propose a contribution; it stays pending until a board resolution."""
        payload = ev.ContributionProposed(partner=user.country or "", **body.model_dump())
        return await _submit(db, payload, user.name, key)

    # -- board ------------------------------------------------------------------------------
    @app.post("/board/seats", tags=["board"], **created)
    async def seat(body: ev.SeatFilled, db: LedgerDep, user: Board, key: KeyHeader) -> Written:
        """Record a member's seat and term (as appointed and confirmed)."""
        return await _submit(db, body, user.name, key)

    @app.post("/board/motions", tags=["board"], **created)
    async def propose(body: MotionIn, db: LedgerDep, user: Board, key: KeyHeader) -> Written:
        payload = ev.MotionProposed(
            motion_id=body.motion_id, motion=body.motion, proposer=user.name
        )
        return await _submit(db, payload, user.name, key)

    @app.post("/board/motions/{motion_id}/votes", tags=["board"], **created)
    async def vote(
        motion_id: IdPath, body: VoteIn, db: LedgerDep, user: Board, key: KeyHeader
    ) -> Written:
        """Vote as the member the token belongs to."""
        payload = ev.VoteCast(motion_id=motion_id, member=user.name, vote=body.vote)
        return await _submit(db, payload, user.name, key)

    @app.post("/board/motions/{motion_id}/close", tags=["board"], **created)
    async def close(motion_id: IdPath, db: LedgerDep, user: Board, key: KeyHeader) -> Written:
        """Count the votes: quorum four, majority of votes cast; a pass makes a resolution."""
        return await _submit(db, close_motion(motion_id), user.name, key)

    # -- operator ---------------------------------------------------------------------------
    @app.post("/acquisitions", tags=["operations"], **created)
    async def acquire(
        body: ev.Acquisition, db: LedgerDep, user: Operator, key: KeyHeader
    ) -> Written:
        """Buy into a lot (new or existing); paid from accepted funds, earmarks first."""
        return await _submit(db, body, user.name, key)

    @app.post("/releases", tags=["operations"], **created)
    async def release(body: ev.Release, db: LedgerDep, user: Operator, key: KeyHeader) -> Written:
        """Sell from a lot, citing a declared supply shock or a price above the band."""
        return await _submit(db, body, user.name, key)

    @app.post("/loans", tags=["operations"], **created)
    async def lend(body: ev.Loan, db: LedgerDep, user: Operator, key: KeyHeader) -> Written:
        return await _submit(db, body, user.name, key)

    @app.post("/loans/{loan_id}/return", tags=["operations"], **created)
    async def give_back(
        loan_id: IdPath, body: ReturnIn, db: LedgerDep, user: Operator, key: KeyHeader
    ) -> Written:
        payload = ev.LoanReturned(loan_id=loan_id, **body.model_dump())
        return await _submit(db, payload, user.name, key)

    @app.post("/transfers", tags=["operations"], **created)
    async def transfer(body: ev.Transfer, db: LedgerDep, user: Operator, key: KeyHeader) -> Written:
        return await _submit(db, body, user.name, key)

    @app.post("/write-downs", tags=["operations"], **created)
    async def write_down(
        body: ev.WriteDown, db: LedgerDep, user: Operator, key: KeyHeader
    ) -> Written:
        return await _submit(db, body, user.name, key)

    @app.post("/prices", tags=["analysis"], **created)
    async def price(
        body: ev.PriceRecorded, db: LedgerDep, user: Analyst, key: KeyHeader
    ) -> Written:
        """Enter a market price of one reserve form (USD/t in the basis acquisitions of the
        form use). The checks use it only if the board designated the analyst price source;
        ``as_of`` may not be in the future; ``form`` may be omitted only for a mineral with one
        reserve form."""
        return await _submit(db, body, user.name, key)

    @app.post("/contracts", tags=["operations"], **created)
    async def contract(
        body: ev.ContractSigned, db: LedgerDep, user: Operator, key: KeyHeader
    ) -> Written:
        return await _submit(db, body, user.name, key)

    mount(app, web)
    return app


def close_motion(motion_id: str) -> ev.MotionClosed:
    """A closing command; the ledger fills in the tally inside the append transaction."""
    return ev.MotionClosed(motion_id=motion_id, passed=False, yes=0, no=0, abstain=0, recused=0)
