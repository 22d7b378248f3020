"""One register entry, validated before it is stored: type, date, place, severity, duration.

An entry naming a facility must name a known one (``facilities`` or ``projects``); a depot, a
ledger location; the date may not lie in the future and the duration may not be negative.
Refusals are :class:`~critmin.ledger.errors.Refused` with the field at fault, so the CLI and the
API report them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from critmin.ledger.errors import Refused
from critmin.schema.tables import SITE_KINDS, STAGES, THREAT_TYPES

Text = Annotated[str, Field(min_length=1, max_length=500)]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")]


class Incident(BaseModel):
    """A security incident as entered (CLI, API or the bundled public register)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site_kind: str
    site: Ident
    country: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    stage: str
    threat: str
    date: date
    mineral: Ident | None = None
    severity: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = Field(
        default=None, description="share of the site's capacity lost while it lasts (0-1)"
    )
    duration_days: Annotated[float, Field(allow_inf_nan=False, le=36_500)] | None = None
    source: Text
    note: Annotated[str, Field(max_length=2000)] = ""


def _choice(value: str, allowed: Iterable[str], field: str) -> None:
    if value not in allowed:
        raise Refused(f"{field}: {value!r} is not one of {', '.join(sorted(allowed))}", field, 422)


def parse_incident(raw: dict[str, object]) -> Incident:
    """Validate a raw mapping (form fields, JSON body, CSV row) into an incident."""
    try:
        return Incident.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "body"
        raise Refused(f"{field}: {err['msg']}", field, 422) from exc


def check_incident(
    incident: Incident,
    *,
    facilities: frozenset[str],
    depots: frozenset[str],
    countries: frozenset[str],
    minerals: frozenset[str],
    today: date,
) -> None:
    """Refuse an entry that names an unknown place, lies in the future or lasts < 0 days."""
    _choice(incident.site_kind, SITE_KINDS, "site_kind")
    _choice(incident.stage, STAGES, "stage")
    _choice(incident.threat, THREAT_TYPES, "threat")
    if incident.country not in countries:
        raise Refused(f"country: unknown country {incident.country!r}", "country", 422)
    if incident.mineral is not None and incident.mineral not in minerals:
        raise Refused(f"mineral: unknown mineral {incident.mineral!r}", "mineral", 422)
    if incident.site_kind == "facility" and incident.site not in facilities:
        raise Refused(f"site: unknown facility {incident.site!r}", "site", 422)
    if incident.site_kind == "depot" and incident.site not in depots:
        raise Refused(f"site: unknown depot (ledger location) {incident.site!r}", "site", 422)
    if incident.site_kind == "country" and incident.site != incident.country:
        raise Refused("site: a country-level entry names its country as the site", "site", 422)
    if incident.date > today:
        raise Refused(f"date: {incident.date.isoformat()} is in the future", "date", 422)
    if incident.duration_days is not None and incident.duration_days < 0:
        raise Refused("duration_days: must not be negative", "duration_days", 422)
