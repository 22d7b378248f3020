"""JSON errors: ``{"error": {"message": ..., "field": ...}}`` with the field at fault."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException

from critmin.ledger.errors import DatabaseProblem, NotInitialised, Refused, Unauthenticated


def body(message: str, field: str | None, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "field": field, **extra}}


def _where(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc if p not in {"body"}]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        extra = {"rule": exc.rule} if exc.rule else {}
        return JSONResponse(body(exc.message, exc.field, **extra), status_code=exc.status)

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        # as the guard and auth.allow answer a token that is not (or no longer) valid
        return JSONResponse(
            body(exc.message, exc.field), status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(ValidationError)
    async def invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        # a payload built inside a handler (e.g. from the token's user) that does not validate
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        field = _where(first.get("loc", ()))
        return JSONResponse(body(f"{field}: {first['msg']}", field), status_code=422)

    @app.exception_handler(DataError)
    async def data_error(_: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(body("a value does not fit the database", "body"), status_code=422)

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(body("conflicts with a stored record", "body"), status_code=409)

    @app.exception_handler(DatabaseProblem)
    async def unusable(_: Request, exc: DatabaseProblem) -> JSONResponse:
        return JSONResponse(body(str(exc), None), status_code=503)

    @app.exception_handler(NotInitialised)
    async def not_initialised(_: Request, exc: NotInitialised) -> JSONResponse:
        return JSONResponse(body(str(exc), None), status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _where(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "body", "message": "invalid request"}
        return JSONResponse(
            body(f"{first['field']}: {first['message']}", first["field"], problems=problems),
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def http(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            body(str(exc.detail), None), status_code=exc.status_code, headers=exc.headers
        )
