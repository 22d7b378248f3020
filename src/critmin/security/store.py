"""Register entries in the ledger database (tables of migration 0003, not ledger events)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Column, Engine, Float, MetaData, String, Table, Text, insert, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from critmin.ledger.errors import Refused
from critmin.ledger.service import Ledger, now
from critmin.ledger.state import Lot, State
from critmin.ledger.vocabulary import Projection
from critmin.security.incident import Incident, check_incident

#: Security postures a depot may carry.
POSTURES = ("baseline", "elevated", "high")

metadata = MetaData()
incidents_table = Table(
    "security_incidents",
    metadata,
    Column("incident_id", String(32), primary_key=True),
    Column("site_kind", String(20), nullable=False),
    Column("site", String(64), nullable=False),
    Column("country", String(3), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("mineral", String(64), nullable=True),
    Column("threat", String(30), nullable=False),
    Column("date", String(10), nullable=False),
    Column("severity", Float, nullable=True),
    Column("duration_days", Float, nullable=True),
    Column("source", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", String(40), nullable=False),
)
posture_table = Table(
    "depot_security",
    metadata,
    Column("location", String(64), primary_key=True),
    Column("posture", String(20), nullable=False),
    Column("note", Text, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", String(40), nullable=False),
)
COLUMNS = [c.name for c in incidents_table.columns]
NOT_MIGRATED = (
    "database: this database has no security register tables; run `critmin ledger init` "
    "on it to migrate it"
)


@contextmanager
def tables_present() -> Iterator[None]:
    """Turn a missing table (a database from before migration 0003) into one clear refusal."""
    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        raise Refused(NOT_MIGRATED, "database", 503) from exc


def depots(ledger: Ledger) -> frozenset[str]:
    """The reserve's storage locations: every location a lot has been held at."""

    def locations(state: State) -> frozenset[str]:
        return frozenset(lot.location for lot in state.all(Projection.LOT, Lot))

    return ledger.read(locations)


def record_incident(
    ledger: Ledger,
    incident: Incident,
    actor: str,
    *,
    facilities: frozenset[str],
    countries: frozenset[str],
    minerals: frozenset[str],
    today: date | None = None,
) -> str:
    """Check and store one entry; return its id. Nothing is stored if a check fails."""
    check_incident(
        incident,
        facilities=facilities,
        depots=depots(ledger),
        countries=countries,
        minerals=minerals,
        today=today or date.today(),
    )
    incident_id = secrets.token_hex(8)
    row = {
        **incident.model_dump(),
        "date": incident.date.isoformat(),
        "incident_id": incident_id,
        "recorded_by": actor,
        "recorded_at": now(),
    }
    with tables_present(), ledger.engine.begin() as conn:
        conn.execute(insert(incidents_table).values(**row))
    return incident_id


def list_incidents(engine: Engine) -> pd.DataFrame:
    """Every stored entry, oldest first."""
    with tables_present(), engine.connect() as conn:
        rows = conn.execute(select(incidents_table).order_by(incidents_table.c.date)).all()
    return pd.DataFrame([dict(r._mapping) for r in rows], columns=COLUMNS)


def set_posture(ledger: Ledger, location: str, posture: str, note: str, actor: str) -> None:
    """Record (or replace) a depot's security posture."""
    if posture not in POSTURES:
        raise Refused(f"posture: {posture!r} is not one of {', '.join(POSTURES)}", "posture", 422)
    if location not in depots(ledger):
        raise Refused(f"location: unknown depot (ledger location) {location!r}", "location", 422)
    row: dict[str, Any] = {
        "location": location,
        "posture": posture,
        "note": note,
        "recorded_by": actor,
        "recorded_at": now(),
    }
    with tables_present(), ledger.engine.begin() as conn:
        conn.execute(posture_table.delete().where(posture_table.c.location == location))
        conn.execute(insert(posture_table).values(**row))


def postures(engine: Engine) -> pd.DataFrame:
    with tables_present(), engine.connect() as conn:
        rows = conn.execute(select(posture_table)).all()
    return pd.DataFrame(
        [dict(r._mapping) for r in rows], columns=[c.name for c in posture_table.columns]
    )
