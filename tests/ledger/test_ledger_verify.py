"""Tampering is found and named; the CLI initialises idempotently and records operations."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import delete, func, update

from critmin.cli import main
from critmin.ledger.service import Ledger
from critmin.ledger.store import events_table, projections_table
from critmin.ledger.verify import verify


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_verify_names_an_edited_event(world: Ledger, database_url: str) -> None:
    assert verify(world).ok
    with world.engine.begin() as conn:
        conn.execute(
            update(events_table)
            .where(events_table.c.type == "acquisition")
            .values(payload=func.replace(events_table.c.payload, '"10.000000"', '"99.000000"'))
        )
    code, out = run("ledger", "verify", "--database", database_url)
    assert code == 1
    assert "event 19 (acquisition" in out
    assert "was edited" in out


def test_verify_names_missing_and_reordered_events(world: Ledger) -> None:
    with world.engine.begin() as conn:
        conn.execute(delete(events_table).where(events_table.c.seq == 5))
    problems = " | ".join(verify(world).problems)
    assert "missing event(s) 5" in problems
    with world.engine.begin() as conn:  # swap the contents of events 7 and 8
        rows = {
            r.seq: r._asdict()
            for r in conn.execute(events_table.select().where(events_table.c.seq.in_([7, 8])))
        }
        for seq, other in ((7, 8), (8, 7)):
            values = {
                k: v
                for k, v in rows[other].items()
                if k not in {"seq", "event_id", "idempotency_key"}
            }
            conn.execute(update(events_table).where(events_table.c.seq == seq).values(**values))
    problems = " | ".join(verify(world).problems)
    assert "event 8" in problems
    assert "out of order" in problems


def test_verify_compares_projections_with_replay(world: Ledger) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            update(projections_table)
            .where(projections_table.c.kind == "lot")
            .values(data='{"tampered": true}')
        )
    assert verify(world).problems == ["projection lot 'lot1' differs from replay"]


def test_cli_init_is_idempotent_and_operators_can_work(database_url: str) -> None:
    db = ["--database", database_url]
    assert run("ledger", "init", *db)[0] == 0
    code, out = run("ledger", "init", "--appropriation", "7", *db)
    assert code == 0
    assert "nothing changed" in out
    code, out = run("ledger", "show", "fund", *db)
    assert json.loads(out)[0]["amount_usd"] == "2500000000.00"
    assert run("users", "add", "op", "--role", "operator", *db)[0] == 0  # --actor is a user
    acquire = [
        "ledger",
        "acquire",
        *db,
        "--actor",
        "op",
        "--lot-id",
        "L1",
        "--mineral",
        "lithium",
        "--form",
        "chemical",
        "--quantity-t",
        "2",
        "--location",
        "depot",
        "--price-usd-per-t",
        "9000",
        "--seller",
        "Mine",
        "--seller-country",
        "CHL",
    ]
    code, out = run(*acquire)
    assert code == 0, out
    code, out = run(*acquire[:-1], "CHN")
    assert code == 1
    assert "CHN is a foreign entity of concern" in out
    code, out = run(*acquire[:-5], "abc", "--seller", "Mine", "--seller-country", "CHL")
    assert code == 2
    assert "price_usd_per_t" in out
    code, out = run("ledger", "show", "public", *db)
    assert "seller" not in json.loads(out)[0]
    code, out = run("users", "add", "ana", "--role", "analyst", *db)
    assert code == 0
    assert len(out.splitlines()[0]) >= 40
    assert run("ledger", "verify", *db)[0] == 0
