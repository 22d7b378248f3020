"""The ``ledger``, ``users`` and ``serve`` commands: reserve operations without the web.

Every operation verb is built from its event's pydantic model (one option per field), so the
CLI and the API accept the same fields and refuse the same mistakes, naming the field.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any, NoReturn, get_args, get_origin

import click

DatabaseOption = click.option(
    "--database",
    "database",
    default=None,
    help="Database URL (default: $CRITMIN_DATABASE_URL, else ./critmin-ledger.db).",
)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"critmin: {message}", err=True)
    sys.exit(code)


def _open(database: str | None, *, create: bool = False) -> Any:
    from critmin.ledger.service import Ledger

    db = Ledger.open(database, create=create)
    click.get_current_context().call_on_close(db.dispose)
    return db


#: Operation verbs built from event models on first use (keeps ``critmin --help`` fast).
VERBS: dict[str, tuple[str, str]] = {
    "seat": ("SeatFilled", "Record a board member's seat and term."),
    "vote": ("VoteCast", "Cast a member's vote (yes, no, abstain, recused)."),
    "contribute": ("ContributionProposed", "Record a partner's proposed contribution."),
    "price": ("PriceRecorded", "Enter a market price (USD/t)."),
    "acquire": ("Acquisition", "Buy into a lot, paid from accepted funds."),
    "release": ("Release", "Sell from a lot, citing its trigger."),
    "loan": ("Loan", "Lend or swap out of a lot, with a return date."),
    "return-loan": ("LoanReturned", "Record material coming back from a loan or swap."),
    "transfer": ("Transfer", "Move material to another lot or location."),
    "write-down": ("WriteDown", "Write a lot down (lost quantity and/or value)."),
    "contract": ("ContractSigned", "Record an offtake, price floor or storage contract."),
}


class LedgerGroup(click.Group):
    """A group whose operation verbs are made from the event models when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *VERBS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in VERBS:
            return super().get_command(ctx, cmd_name)
        from critmin.ledger import events as ev

        model_name, doc = VERBS[cmd_name]
        return _verb(cmd_name, getattr(ev, model_name), doc)


@click.group(cls=LedgerGroup)
def ledger() -> None:
    """The reserve's append-only ledger: init, verify, show, and record operations."""


@ledger.command("init")
@click.option(
    "--appropriation",
    type=Decimal,
    default=Decimal("2.5e9"),
    show_default=True,
    help="The appropriation, USD.",
)
@click.option(
    "--threshold",
    type=Decimal,
    default=Decimal("25e6"),
    show_default=True,
    help="Acquisitions/releases above this (USD) need a board resolution.",
)
@DatabaseOption
def init(appropriation: Decimal, threshold: Decimal, database: str | None) -> None:
    """Create or migrate the database and record the genesis event (once; rerunning changes
    nothing)."""
    from pydantic import ValidationError

    from critmin.ledger.errors import IdempotencyConflict
    from critmin.ledger.events import Genesis

    db = _open(database, create=True)
    try:
        genesis = Genesis(appropriation_usd=appropriation, threshold_usd=threshold)
        receipt = db.submit(genesis, "init", key="genesis")
    except ValidationError as exc:
        _fail(_problem(exc), code=2)
    except IdempotencyConflict:
        click.echo("ledger already initialised (with other figures); nothing changed")
        return
    word = "already initialised; nothing changed" if receipt.replayed else "initialised"
    click.echo(
        f"ledger {word}: {db.engine.url.render_as_string(hide_password=True)}, "
        f"appropriation {receipt.event.payload.appropriation_usd} USD"
    )


@ledger.command("verify")
@DatabaseOption
def verify_cmd(database: str | None) -> None:
    """Walk the hash chain and compare the projections with a replay; exit 1 on any problem."""
    from critmin.ledger.verify import verify

    report = verify(_open(database))
    for problem in report.problems:
        click.echo(problem, err=True)
    if not report.ok:
        _fail(f"{len(report.problems)} problem(s) in {report.events} events")
    click.echo(f"ok: {report.events} events, chain and projections verified; head {report.head}")


SHOWN = (
    "lot",
    "fund",
    "contract",
    "loan",
    "seat",
    "motion",
    "resolution",
    "price_band",
    "shock",
    "price",
    "settings",
    "public",
    "valuation",
    "events",
)


@ledger.command("show")
@click.argument("what", type=click.Choice(SHOWN))
@DatabaseOption
def show(what: str, database: str | None) -> None:
    """Print a projection (or the public view, the valuation, the log) as JSON."""
    from critmin.ledger.public import public_transactions
    from critmin.ledger.valuation import valuation
    from critmin.ledger.vocabulary import Projection

    db = _open(database)
    out: Any
    if what == "public":
        out = public_transactions(db.events())
    elif what == "valuation":
        db.require_genesis()
        out = db.read(lambda s: valuation(s, db.reference))
    elif what == "events":
        out = [{**e.summary(), "payload": e.payload.model_dump(mode="json")} for e in db.events()]
    else:
        out = db.projection(Projection(what))
    click.echo(json.dumps(out, indent=1))


def _problem(exc: Any) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "input"
    return f"{field}: {first['msg']}"


def _submit(
    database: str | None,
    payload_type: type[Any],
    fields: dict[str, Any],
    actor: str,
    key: str | None,
) -> None:
    from pydantic import ValidationError

    from critmin.ledger.errors import Refused

    try:
        payload = payload_type.model_validate(fields)
    except ValidationError as exc:
        _fail(_problem(exc), code=2)
    try:
        receipt = _open(database).submit(payload, actor, key)
    except Refused as exc:
        _fail(f"refused: {exc.message}" + (f" (field: {exc.field})" if exc.field else ""))
    click.echo(json.dumps({**receipt.event.summary(), "replayed": receipt.replayed}))


def _options(model: type[Any]) -> list[click.Option]:
    opts = []
    for name, info in model.model_fields.items():
        flag = "--" + name.replace("_", "-")
        kind, args = info.annotation, get_args(info.annotation)
        required = info.is_required()
        if kind is bool:
            opts.append(click.Option([flag + "/--no-" + flag[2:]], default=info.default))
        elif get_origin(kind) is list or any(get_origin(a) is list for a in args):
            opts.append(click.Option([flag], multiple=True, help="repeat or comma-separate"))
        else:
            opts.append(
                click.Option([flag], required=required, default=None, help=info.description)
            )
    return opts


def _verb(name: str, model: type[Any], doc: str) -> click.Command:
    def run(database: str | None, actor: str, idempotency_key: str | None, **given: Any) -> None:
        fields = {}
        for k, v in given.items():
            if isinstance(v, tuple):
                fields[k] = [x.strip() for item in v for x in item.split(",") if x.strip()]
            elif v is not None:
                fields[k] = v
        _submit(database, model, fields, actor, idempotency_key)

    params: list[click.Parameter] = [
        click.Option(["--database"], default=None, help="Database URL."),
        click.Option(["--actor"], required=True, help="Who records this (your user name)."),
        click.Option(["--idempotency-key"], default=None, help="Retry-safe key."),
        *_options(model),
    ]
    return click.Command(name, callback=run, params=params, help=doc)


@ledger.command("propose")
@click.option("--motion-id", required=True)
@click.option("--proposer", required=True, help="The proposing member.")
@click.option("--kind", required=True, help="accept_contribution, declare_supply_shock, ...")
@click.option("--param", "params", multiple=True, help="KEY=VALUE of the motion (repeat).")
@click.option("--idempotency-key", default=None)
@DatabaseOption
def propose(
    motion_id: str,
    proposer: str,
    kind: str,
    params: tuple[str, ...],
    idempotency_key: str | None,
    database: str | None,
) -> None:
    """Put a motion to the board, e.g. --kind set_threshold --param threshold_usd=5e7."""
    from critmin.ledger.events import MotionProposed

    motion: dict[str, Any] = {"kind": kind}
    for item in params:
        k, _, v = item.partition("=")
        motion[k.strip()] = [x for x in v.split(",") if x] if k.strip() == "minerals" else v
    fields = {"motion_id": motion_id, "proposer": proposer, "motion": motion}
    _submit(database, MotionProposed, fields, proposer, idempotency_key)


@ledger.command("close")
@click.option("--motion-id", required=True)
@click.option("--actor", required=True, help="The member closing the vote.")
@click.option("--idempotency-key", default=None)
@DatabaseOption
def close(motion_id: str, actor: str, idempotency_key: str | None, database: str | None) -> None:
    """Count the votes on a motion: quorum four, majority of votes cast."""
    from critmin.ledger.events import MotionClosed

    fields = {
        "motion_id": motion_id,
        "passed": False,
        "yes": 0,
        "no": 0,
        "abstain": 0,
        "recused": 0,
    }
    _submit(database, MotionClosed, fields, actor, idempotency_key)


@click.group()
def users() -> None:
    """API users and their bearer tokens."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice(["board", "operator", "analyst", "partner"])
)
@click.option("--country", default=None, help="A partner's country (ISO3).")
@DatabaseOption
def users_add(name: str, role: str, country: str | None, database: str | None) -> None:
    """Create NAME (or re-issue its token) and print the token once; only its hash is kept."""
    from critmin.ledger.errors import Refused
    from critmin.ledger.users import add_user
    from critmin.ledger.vocabulary import Role

    db = _open(database, create=True)
    try:
        token = add_user(db.engine, name, Role(role), country)
    except Refused as exc:
        _fail(exc.message, code=2)
    click.echo(token)
    click.echo(f"token for {name} ({role}); store it now, it is not shown again", err=True)


@users.command("list")
@DatabaseOption
def users_list(database: str | None) -> None:
    """The users (never their tokens)."""
    from critmin.ledger.users import list_users

    for user in list_users(_open(database).engine):
        click.echo(f"{user.name}\t{user.role.value}\t{user.country or ''}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--runs",
    type=click.IntRange(10, 5000),
    default=200,
    show_default=True,
    help="Draws for the web's ranking and reserve plan (computed once per data version).",
)
@click.option(
    "--warm/--lazy",
    default=False,
    show_default=True,
    help="Compute the explorer's figures, the ranking and the reserve plan at start "
    "(default: when a page first needs them).",
)
@DatabaseOption
@click.pass_context
def serve(
    ctx: click.Context, host: str, port: int, runs: int, warm: bool, database: str | None
) -> None:
    """Serve the web application and the reserve-operations API (API docs at /docs)."""
    from pathlib import Path

    import uvicorn

    from critmin.api.app import create_app
    from critmin.web import WebSettings

    settings = WebSettings(
        data=(ctx.find_root().obj or {}).get("data"),
        cache=Path(".critmin-cache"),
        rank_runs=runs,
        plan_runs=runs,
        start_analyses=warm,
    )
    app = create_app(_open(database, create=True), settings)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"critmin web application on http://{shown}:{port}/ (API docs at /docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


COMMANDS = (ledger, users, serve)
