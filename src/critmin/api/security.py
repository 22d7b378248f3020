"""Security register routes: operators enter incidents and depot posture; readers see entries
and the hazard rates by country, stage and threat type."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from critmin.api.auth import LedgerDep, Operator, Reader
from critmin.security.incident import Incident, parse_incident

# pandas, xarray and the dataset load on first use, so the API starts as fast as before

router = APIRouter(prefix="/security", tags=["security"])


class Recorded(BaseModel):
    incident_id: str


class PostureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location: str
    posture: str
    note: str = ""


@router.post("/incidents", status_code=201)
def add_incident(body: dict[str, Any], db: LedgerDep, user: Operator) -> Recorded:
    """Record an incident; an unknown facility, a future date or a negative duration is
    refused (422) with the field named."""
    from critmin.security.service import known_labels  # noqa: PLC0415
    from critmin.security.store import record_incident  # noqa: PLC0415

    incident: Incident = parse_incident(body)
    incident_id = record_incident(db, incident, user.name, **known_labels())
    return Recorded(incident_id=incident_id)


@router.get("/incidents")
def incidents(db: LedgerDep, user: Reader) -> list[dict[str, Any]]:
    from critmin.records import json_records  # noqa: PLC0415
    from critmin.security.store import list_incidents  # noqa: PLC0415

    return json_records(list_incidents(db.engine))


@router.put("/depots")
def depot_posture(body: PostureIn, db: LedgerDep, user: Operator) -> dict[str, str]:
    from critmin.security.store import set_posture  # noqa: PLC0415

    set_posture(db, body.location, body.posture, body.note, user.name)
    return {"location": body.location, "posture": body.posture}


@router.get("/depots")
def depot_postures(db: LedgerDep, user: Reader) -> list[dict[str, Any]]:
    from critmin.records import json_records  # noqa: PLC0415
    from critmin.security.store import postures  # noqa: PLC0415

    return json_records(postures(db.engine))


@router.get("/hazards")
def hazards(
    db: LedgerDep,
    user: Reader,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    stage: Annotated[str | None, Query(pattern=r"^[a-z]+$")] = None,
    since: date = date(2015, 1, 1),
) -> list[dict[str, Any]]:
    """Posterior hazard rates (incidents per country-stage-year) with the stored entries; an
    unknown country or stage is refused (422) with the parameter named."""
    from critmin.chain import SupplyChain  # noqa: PLC0415
    from critmin.ledger.errors import Refused  # noqa: PLC0415
    from critmin.records import json_records  # noqa: PLC0415
    from critmin.security.service import check_filters, rate_table  # noqa: PLC0415
    from critmin.security.store import list_incidents  # noqa: PLC0415

    if since >= date.today():
        raise Refused("since: must be in the past", "since", 422)
    chain = SupplyChain.load()
    countries, stages = [country] if country else [], [stage] if stage else []
    check_filters(chain, countries, stages)  # one check with `critmin security rates`
    frame = rate_table(chain, list_incidents(db.engine), since, countries, stages)
    return json_records(frame)
