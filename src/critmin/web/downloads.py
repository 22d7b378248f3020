"""Every table as CSV and XLSX: ``/web/download/{table}.{csv|xlsx}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from critmin.ledger.public import public_transactions
from critmin.report.tables import MEDIA_TYPES, table_bytes

if TYPE_CHECKING:
    from critmin.web.app import Web

TABLES = (
    "exposure",
    "production",
    "imports",
    "rank",
    "plan-holdings",
    "plan-policies",
    "plan-rules",
    "plan-agreements",
    "transactions",
    "lab",
)


def router(web: Web) -> APIRouter:
    r = APIRouter()
    state = web.state

    def frame(name: str, request: Request, mineral: str | None, job: str | None) -> pd.DataFrame:
        chain = state.chain()
        if name == "exposure":
            t = state.exposure
            return t[t["mineral"] == mineral] if mineral else t
        if name == "production":
            p = chain.dataset["production"]
            if not mineral:
                raise HTTPException(422, "production: give ?mineral=")
            return p[p["mineral"] == mineral]
        if name == "imports":
            t = chain.dataset["import_sources"]
            return t[t["mineral"] == mineral] if mineral else t
        if name == "rank":
            result = state.ready("rank")
            if result is None:
                raise HTTPException(409, "the ranking is still being computed")
            return pd.DataFrame(result)
        if name.startswith("plan-"):
            plan = state.ready("plan")
            if plan is None:
                raise HTTPException(409, "the reserve plan is still being computed")
            key = {
                "holdings": "holdings",
                "policies": "policies",
                "rules": "release_rules",
                "agreements": "agreements",
            }[name[5:]]
            return pd.DataFrame(plan[key])
        if name == "transactions":
            return pd.DataFrame(public_transactions(request.app.state.ledger.events(0, 100_000)))
        if name == "lab":
            found = state.jobs.get(job or "")
            if found is None or found.status != "done" or found.label != "lab":
                raise HTTPException(404, f"no finished lab run {job!r}")
            return pd.DataFrame(found.result["table"])
        raise HTTPException(404, f"no table {name!r} ({', '.join(TABLES)})")

    @r.get("/web/download/{name}.{fmt}")
    def download(
        request: Request,
        name: str,
        fmt: str,
        mineral: str | None = Query(None, max_length=40),
        job: str | None = Query(None, max_length=40),
    ) -> Response:
        if fmt not in MEDIA_TYPES:
            raise HTTPException(404, f"no format {fmt!r} (csv, xlsx)")
        if name not in TABLES:
            raise HTTPException(404, f"no table {name!r} ({', '.join(TABLES)})")
        data = table_bytes(frame(name, request, mineral, job), fmt, sheet=name)
        stem = f"critmin-{name}" + (f"-{mineral}" if mineral else "")
        return Response(
            data,
            media_type=MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'},
        )

    return r
