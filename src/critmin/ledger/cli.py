"""The ``ledger``, ``users`` and ``serve`` commands: reserve operations without the web.

Every operation verb is built from its event's pydantic model (one option per field), so the
CLI and the API accept the same fields and refuse the same mistakes, naming the field.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, get_args, get_origin

import click

from critmin import cli_checks as checks
from critmin.simulate import draws

DatabaseOption = click.option(
    "--database",
    "database",
    default=None,
    help="Database URL (default: $CRITMIN_DATABASE_URL, else ./critmin-ledger.db).",
)


def _fail(message: str, code: int = 1) -> NoReturn:
    checks.fail(message, code)


def _open(database: str | None, *, create: bool = False) -> Any:
    """Open the ledger; without ``create`` (every read) a missing database is refused and no
    file is made."""
    from critmin.ledger.errors import DatabaseProblem, NotInitialised
    from critmin.ledger.service import Ledger

    try:
        db = Ledger.open(database, create=create)
    except (NotInitialised, DatabaseProblem) as exc:
        _fail(str(exc))
    click.get_current_context().call_on_close(db.dispose)
    return db


#: The role a user must hold to record each verb (the same as the API's).
VERB_ROLES: dict[str, str] = {
    "seat": "board",
    "vote": "board",
    "propose": "board",
    "close": "board",
    "contribute": "partner",
    "price": "analyst",
}


def _actor(db: Any, actor: str, verb: str, option: str = "--actor") -> Any:
    """The known, unrevoked user ``actor`` with the role ``verb`` needs."""
    from critmin.ledger.users import find_user

    user = find_user(db.engine, actor)
    if user is None:
        _fail(f"{option} {actor[:80]!r}: no such user; add one with `critmin users add`", 2)
    if user.revoked:
        _fail(f"{option} {actor!r}: the user was revoked", 2)
    role = VERB_ROLES.get(verb, "operator")
    if user.role.value != role:
        _fail(
            f"{option} {actor!r} has the role {user.role.value}; `{verb}` needs the role {role}", 2
        )
    return user


#: Operation verbs built from event models on first use (keeps ``critmin --help`` fast).
VERBS: dict[str, tuple[str, str]] = {
    "seat": ("SeatFilled", "Record a board member's seat and term."),
    "vote": ("VoteCast", "Cast a member's vote (yes, no, abstain, recused)."),
    "contribute": ("ContributionProposed", "Record a partner's proposed contribution."),
    "price": ("PriceRecorded", "Enter a market price of a reserve form (USD/t)."),
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
    type=checks.FiniteDecimal("0.01", "1e13"),
    default=Decimal("2.5e9"),
    show_default=True,
    help="The appropriation, USD.",
)
@click.option(
    "--threshold",
    type=checks.FiniteDecimal("0", "1e13"),
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

    try:  # checked before the database is touched: a refused init creates nothing
        genesis = Genesis(appropriation_usd=appropriation, threshold_usd=threshold)
    except ValidationError as exc:
        _fail(_problem(exc), code=2)
    db = _open(database, create=True)
    try:
        receipt = db.submit(genesis, "init", key="genesis")
    except IdempotencyConflict:
        click.echo("ledger already initialised (with other figures); nothing changed")
        return
    word = "already initialised; nothing changed" if receipt.replayed else "initialised"
    click.echo(
        f"ledger {word}: {db.engine.url.render_as_string(hide_password=True)}, "
        f"appropriation {receipt.event.payload.appropriation_usd} USD"
    )


@ledger.command("verify")
@click.option(
    "--anchor",
    default=None,
    help="A published checkpoint (file or http(s) URL): the chain must still match it.",
)
@click.option(
    "--public-key",
    default=None,
    help="The board's public key (hex) the anchor must carry (with --anchor).",
)
@DatabaseOption
def verify_cmd(anchor: str | None, public_key: str | None, database: str | None) -> None:
    """Walk the hash chain and compare the projections with a replay; with --anchor, also
    check the chain against a signed checkpoint kept outside the database. Exit 1 on any
    problem."""
    from critmin.ledger.anchor import check_anchor, read_anchor
    from critmin.ledger.verify import verify

    if public_key is not None and anchor is None:
        # the key pins the anchor's signer; without an anchor it would check nothing (a forger
        # with the database can delete the log's own checkpoints), so it is not ignored
        key = public_key[:80]
        _fail(f"--public-key {key!r} checks an anchor's signature: give --anchor FILE|URL too", 2)
    doc = read_anchor(anchor) if anchor is not None else None
    db = _open(database)
    report = verify(db)
    problems = list(report.problems)
    if doc is not None:
        problems = check_anchor(db, doc, public_key) + problems
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        _fail(f"{len(problems)} problem(s) in {report.events} events; first: {problems[0]}")
    anchored = f"; matches the checkpoint at event {doc['seq']}" if doc is not None else ""
    click.echo(
        f"ok: {report.events} events, chain and projections verified; head {report.head}" + anchored
    )


@ledger.command("keygen")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def keygen(out: Path) -> None:
    """Make the board's Ed25519 signing key (PEM, readable by its owner only)."""
    from critmin.ledger.anchor import generate_key

    checks.check_file_out(out, "--out")
    click.echo(f"public key: {generate_key(out)}")


@ledger.command("checkpoint")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The board's private key (from `ledger keygen`).",
)
@click.option(
    "--anchor",
    "anchor_out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the anchor to publish (keep a copy outside the database).",
)
@DatabaseOption
def checkpoint(key_path: Path, anchor_out: Path, database: str | None) -> None:
    """Sign the head of the chain and publish it (public view and an anchor file)."""
    from critmin.ledger.anchor import chain_hashes, load_private, sign, write_anchor
    from critmin.ledger.errors import Refused

    checks.check_file_out(anchor_out, "--anchor")
    key = load_private(key_path)
    db = _open(database)
    db.require_genesis()
    for _ in range(5):  # another writer may append between reading the head and signing
        hashes = [h for _, h, _, _ in chain_hashes(db)]
        payload, doc = sign(key, hashes)
        try:
            receipt = db.submit(payload, "board-checkpoint", key=f"checkpoint-{payload.head}")
        except Refused as exc:
            if exc.field == "head":
                continue
            raise
        write_anchor(doc, anchor_out)
        click.echo(
            f"checkpoint of event {payload.seq} (head {payload.head}) signed by "
            f"{payload.public_key}; recorded as event {receipt.event.seq}; anchor {anchor_out}"
        )
        return
    _fail("the ledger kept changing while signing; try again")


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
    verb: str,
) -> None:
    from pydantic import ValidationError

    from critmin.ledger.errors import Refused

    try:
        payload = payload_type.model_validate(fields)
    except ValidationError as exc:
        _fail(_problem(exc), code=2)
    db = _open(database)
    user = _actor(db, actor, verb, "--proposer" if verb == "propose" else "--actor")
    partner = getattr(payload, "partner", None)
    if verb == "contribute" and partner != user.country:
        _fail(f"--partner {partner}: user {actor!r} is the partner for {user.country}", 2)
    try:
        receipt = db.submit(payload, actor, key)
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
        _submit(database, model, fields, actor, idempotency_key, name)

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
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            _fail(f"--param {item[:80]!r}: expected KEY=VALUE, e.g. --param threshold_usd=5e7", 2)
        motion[k.strip()] = [x for x in v.split(",") if x] if k.strip() == "minerals" else v
    fields = {"motion_id": motion_id, "proposer": proposer, "motion": motion}
    _submit(database, MotionProposed, fields, proposer, idempotency_key, "propose")


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
    _submit(database, MotionClosed, fields, actor, idempotency_key, "close")


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
    from critmin.ledger.reference import bundled
    from critmin.ledger.users import add_user, check_user
    from critmin.ledger.vocabulary import Role

    try:  # checked before the database is touched
        check_user(name, Role(role), country, bundled())
    except Refused as exc:
        _fail(f"{'NAME' if exc.field == 'name' else '--' + str(exc.field)}: {exc.message}", 2)
    db = _open(database, create=True)
    token = add_user(db.engine, name, Role(role), country)
    click.echo(token)
    click.echo(f"token for {name} ({role}); store it now, it is not shown again", err=True)


@users.command("revoke")
@click.argument("name")
@DatabaseOption
def users_revoke(name: str, database: str | None) -> None:
    """Revoke NAME's token at once (the user stays on record as an actor)."""
    from critmin.ledger.errors import Refused
    from critmin.ledger.users import revoke_user

    try:
        revoke_user(_open(database).engine, name)
    except Refused as exc:
        _fail(f"NAME: {exc.message}", 2)
    click.echo(f"revoked {name}; its token no longer works")


@users.command("list")
@DatabaseOption
def users_list(database: str | None) -> None:
    """The users (never their tokens)."""
    from critmin.ledger.users import list_users

    for user in list_users(_open(database).engine):
        state = "revoked" if user.revoked else ""
        click.echo(f"{user.name}\t{user.role.value}\t{user.country or ''}\t{state}".rstrip())


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=checks.PORT)
@click.option(
    "--max-body",
    default=2**20,
    show_default=True,
    type=click.IntRange(1024, 2**30),
    help="Largest request body in bytes (larger: 413, before it is read).",
)
@click.option(
    "--runs",
    type=click.IntRange(draws.MIN_RUNS, 5000),
    default=draws.DEFAULT_RUNS,
    show_default=True,
    help="Draws per stratum of the web's ranking (as `critmin rank --runs`) and draws of its "
    "reserve plan (computed once per data and code version).",
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
    ctx: click.Context,
    host: str,
    port: int,
    max_body: int,
    runs: int,
    warm: bool,
    database: str | None,
) -> None:
    """Serve the web application and the reserve-operations API (API docs at /docs)."""
    import socket
    from pathlib import Path

    import uvicorn

    from critmin.api.app import create_app
    from critmin.web import WebSettings

    try:  # fail in one line before the database is touched if the port is taken
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        _fail(f"--host {host} --port {port}: cannot listen ({exc.strerror or exc})")
    settings = WebSettings(
        data=(ctx.find_root().obj or {}).get("data"),
        cache=Path(".critmin-cache"),
        rank_runs=runs,
        plan_runs=runs,
        start_analyses=warm,
    )
    ledger = _open(database, create=True)
    # the bundled reference every write is checked against (prices, countries; about 0.3 s of
    # table work) is read now, not by the first write, which would wait for it
    _ = ledger.reference
    app = create_app(ledger, settings, max_body=max_body)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"critmin web application on http://{shown}:{port}/ (API docs at /docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


COMMANDS = (ledger, users, serve)
