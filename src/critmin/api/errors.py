"""JSON errors: ``{"error": {"message": ..., "field": ...}}`` with the field at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from critmin.ledger.errors import NotInitialised, Refused


def body(message: str, field: str | None, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "field": field, **extra}}


def _where(loc: tuple[int | str, ...] | list[int | str]) -> str:
    parts = [str(p) for p in loc if p not in {"body"}]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(body(exc.message, exc.field), status_code=exc.status)

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
