"""The ``security`` commands: enter and list register entries, set depot posture, hazard rates."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import click

from critmin.ledger.cli import DatabaseOption
from critmin.schema.tables import SITE_KINDS, STAGES, THREAT_TYPES


def _fail(message: str) -> NoReturn:
    click.echo(f"critmin: {message}", err=True)
    sys.exit(1)


@click.group()
def security() -> None:
    """The security register: incidents at facilities, depots and routes; hazard rates."""


@security.command("add")
@click.option("--site-kind", required=True, type=click.Choice(sorted(SITE_KINDS)))
@click.option("--site", required=True, help="Facility or project id, ledger location, route.")
@click.option("--country", required=True, help="ISO3 code of the country the site is in.")
@click.option("--stage", required=True, type=click.Choice(sorted(STAGES)))
@click.option("--threat", required=True, type=click.Choice(sorted(THREAT_TYPES)))
@click.option("--date", "when", required=True, help="YYYY-MM-DD (not in the future).")
@click.option("--mineral", default=None)
@click.option("--severity", type=float, default=None, help="Share of capacity lost (0-1).")
@click.option("--duration-days", type=float, default=None)
@click.option("--source", required=True, help="Where the report comes from (title, address).")
@click.option("--note", default="")
@click.option("--actor", required=True, help="Who records this (an operator's user name).")
@DatabaseOption
@click.pass_context
def add(ctx: click.Context, /, actor: str, database: str | None, **fields: Any) -> None:
    """Record an incident (operator role); refused with the field at fault."""
    from critmin.ledger.errors import Refused  # noqa: PLC0415 (fast start-up)
    from critmin.ledger.service import Ledger  # noqa: PLC0415
    from critmin.ledger.users import User  # noqa: PLC0415
    from critmin.ledger.vocabulary import Role  # noqa: PLC0415
    from critmin.security.incident import parse_incident  # noqa: PLC0415
    from critmin.security.service import known_labels, operator  # noqa: PLC0415
    from critmin.security.store import record_incident  # noqa: PLC0415

    fields["date"] = fields.pop("when")
    raw = {k: v for k, v in fields.items() if v is not None}
    db = Ledger.open(database)
    try:
        user: User = operator(db.engine, actor)
        incident = parse_incident(raw)
        labels = known_labels(ctx.obj.get("data"))
        incident_id = record_incident(db, incident, user.name, **labels)
    except Refused as exc:
        _fail(exc.message)
    finally:
        db.dispose()
    assert user.role is Role.OPERATOR
    click.echo(f"recorded incident {incident_id}")


@security.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@DatabaseOption
def list_(fmt: str, database: str | None) -> None:
    """Entries stored in the ledger database."""
    from critmin import cli as base  # noqa: PLC0415
    from critmin.ledger.errors import Refused  # noqa: PLC0415
    from critmin.ledger.service import Ledger  # noqa: PLC0415
    from critmin.security.store import list_incidents  # noqa: PLC0415

    db = Ledger.open(database)
    try:
        frame = list_incidents(db.engine)
    except Refused as exc:
        _fail(exc.message)
    finally:
        db.dispose()
    base._emit(frame, fmt, "Security register (stored entries)")


@security.command("posture")
@click.option("--location", required=True, help="A ledger location (depot).")
@click.option("--posture", required=True, type=click.Choice(["baseline", "elevated", "high"]))
@click.option("--note", default="")
@click.option("--actor", required=True, help="An operator's user name.")
@DatabaseOption
def posture(location: str, posture: str, note: str, actor: str, database: str | None) -> None:
    """Set a depot's security posture (operator role)."""
    from critmin.ledger.errors import Refused  # noqa: PLC0415
    from critmin.ledger.service import Ledger  # noqa: PLC0415
    from critmin.security.service import operator  # noqa: PLC0415
    from critmin.security.store import set_posture  # noqa: PLC0415

    db = Ledger.open(database)
    try:
        user = operator(db.engine, actor)
        set_posture(db, location, posture, note, user.name)
    except Refused as exc:
        _fail(exc.message)
    finally:
        db.dispose()
    click.echo(f"{location}: posture {posture}")


@security.command("rates")
@click.option("--country", multiple=True, help="ISO3 code(s) (default: all).")
@click.option("--stage", multiple=True)
@click.option("--since", default="2015-01-01", show_default=True, help="Start of the window.")
@click.option("--database", default=None, help="Also count entries stored in this database.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_context
def rates(
    ctx: click.Context,
    country: tuple[str, ...],
    stage: tuple[str, ...],
    since: str,
    database: str | None,
    fmt: str,
) -> None:
    """Hazard rates by country, stage and threat (Gamma-Poisson posterior means)."""
    from critmin import cli as base  # noqa: PLC0415
    from critmin.security.service import (  # noqa: PLC0415
        check_filters,
        rate_table,
        stored_incidents,
    )

    start = _since(since)
    countries, stages = base._split(country, "--country"), base._split(stage, "--stage")
    from critmin.ledger.errors import Refused  # noqa: PLC0415

    try:
        stored = stored_incidents(database)
    except Refused as exc:
        base._fail(exc.message)
    chain = base._chain(ctx)
    try:  # an unknown label is refused, not shown as an empty table
        check_filters(chain, countries, stages, prefix="--")
    except Refused as exc:
        base._fail(exc.message)
    frame = rate_table(chain, stored, start, countries, stages)
    base._emit(
        frame,
        fmt,
        f"Hazard rates since {since} (incidents per country-stage-year)",
        {
            "rate": "incidents per year (posterior mean)",
            "annual_probability": "chance of at least one incident in a year",
            "prior_rate": "incidents per year",
            "exposure_years": "years",
        },
        significant=("rate", "annual_probability", "prior_rate", "exposure_years"),
    )


def _since(since: str) -> date:
    """The ``--since`` option as a date in the past, or one ``critmin:`` line and exit 2."""
    from critmin import cli as base  # noqa: PLC0415

    try:
        start = date.fromisoformat(since)
    except ValueError:
        base._fail(f"--since: {since!r} is not a date (YYYY-MM-DD)")
    if start >= date.today():
        base._fail("--since: must be in the past")
    return start


@security.command("scenario")
@click.option(
    "--base",
    "base_name",
    default="background",
    show_default=True,
    help="Scenario whose flat hazards are replaced (library name or YAML file).",
)
@click.option("--since", default="2015-01-01", show_default=True, help="Start of the window.")
@click.option("--database", default=None, help="Also count entries stored in this database.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def scenario(
    ctx: click.Context, base_name: str, since: str, database: str | None, out: Path | None
) -> None:
    """A scenario whose background outage hazards come from the register: one yearly outage
    probability per country and stage (Gamma-Poisson posterior) instead of one flat rate.
    Run it with ``critmin simulate FILE``."""
    import yaml  # noqa: PLC0415

    from critmin import cli as base  # noqa: PLC0415
    from critmin.ledger.errors import Refused  # noqa: PLC0415
    from critmin.scenarios.load import ScenarioError, load_scenario  # noqa: PLC0415
    from critmin.security.hazard import register_background  # noqa: PLC0415
    from critmin.security.service import stored_incidents  # noqa: PLC0415

    start = _since(since)
    try:
        spec = load_scenario(base_name)
        stored = stored_incidents(database)
    except ScenarioError as exc:
        base._fail(f"--base: {exc}")
    except Refused as exc:
        base._fail(exc.message)
    result = register_background(base._chain(ctx), spec, stored, since=start)
    text = yaml.safe_dump(
        result.model_dump(mode="json", exclude_defaults=True), sort_keys=False, width=100
    )
    if out is None:
        click.echo(text, nl=False)
        return
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    click.echo(f"wrote {out} ({len(result.hazards)} hazards by stage)")


COMMANDS = (security,)
