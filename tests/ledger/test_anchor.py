"""Anchoring: a chain whose events were edited and every hash recomputed passes the plain
walk, but not a check against the board's signed checkpoint kept outside the database."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, update

from critmin.cli import main
from critmin.ledger.anchor import check_anchor, read_anchor
from critmin.ledger.chain import event_hash
from critmin.ledger.service import Ledger
from critmin.ledger.store import events_table, projections_table
from critmin.ledger.verify import verify


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def rehash_forgery(db: Ledger, seq: int, edit: tuple[str, str]) -> None:
    """Edit event ``seq``'s payload and recompute every hash from there on (what an attacker
    with write access to the database can do)."""
    with db.engine.begin() as conn:
        rows = list(conn.execute(select(events_table).order_by(events_table.c.seq)))
        prev = rows[seq - 2].hash if seq > 1 else "0" * 64
        for row in rows[seq - 1 :]:
            payload = row.payload.replace(*edit) if row.seq == seq else row.payload
            h = event_hash(
                row.seq,
                row.event_id,
                row.idempotency_key,
                row.type,
                row.actor,
                row.recorded_at,
                prev,
                payload,
            )
            conn.execute(
                update(events_table)
                .where(events_table.c.seq == row.seq)
                .values(payload=payload, prev_hash=prev, hash=h)
            )
            prev = h


def test_a_rehashed_forgery_is_caught_against_the_anchor(
    world: Ledger, database_url: str, tmp_path: Path
) -> None:
    key, anchor = tmp_path / "board.key", tmp_path / "anchor.json"
    code, out = cli("ledger", "keygen", "--out", str(key))
    assert code == 0, out
    public = out.split("public key: ")[1].strip()
    code, out = cli(
        "ledger", "checkpoint", "--key", str(key), "--anchor", str(anchor),
        "--database", database_url,
    )  # fmt: skip
    assert code == 0, out
    assert (key.stat().st_mode & 0o777) == 0o600
    code, out = cli("ledger", "verify", "--anchor", str(anchor), "--database", database_url)
    assert code == 0, out
    # the checkpoint is in the public view
    code, out = cli("ledger", "show", "public", "--database", database_url)
    assert "checkpoint" in out
    assert public in out
    # which event is the acquisition (the world's last event before the checkpoint)?
    acquisition = next(e.seq for e in world.events() if e.type.value == "acquisition")
    rehash_forgery(world, acquisition, ('"quantity_t":"10.000000"', '"quantity_t":"1.000000"'))
    world._state = None
    # the checkpoint event in the log no longer matches the rewritten head ...
    assert any("checkpoint_head" in p for p in verify(world).problems)
    # ... so the attacker deletes it too, and fixes the projections: the walk sees nothing
    with world.engine.begin() as conn:
        conn.execute(events_table.delete().where(events_table.c.type == "checkpoint"))
        conn.execute(projections_table.delete().where(projections_table.c.kind == "checkpoint"))
    replayed = world.replay()
    with world.engine.begin() as conn:
        for (kind, k), data in replayed.rows().items():
            conn.execute(
                update(projections_table)
                .where(projections_table.c.kind == kind, projections_table.c.key == k)
                .values(data=data)
            )
    assert verify(world).ok, verify(world).problems
    problems = check_anchor(world, read_anchor(str(anchor)), public)
    assert len(problems) == 1
    assert problems[0].startswith(f"event {acquisition} (acquisition")
    code, out = cli(
        "ledger", "verify", "--anchor", str(anchor), "--public-key", public,
        "--database", database_url,
    )  # fmt: skip
    assert code == 1
    assert f"event {acquisition} (acquisition" in out
    assert "Traceback" not in out


def test_a_tampered_anchor_or_a_foreign_key_is_refused(
    world: Ledger, database_url: str, tmp_path: Path
) -> None:
    key, anchor = tmp_path / "k", tmp_path / "a.json"
    assert cli("ledger", "keygen", "--out", str(key))[0] == 0
    assert cli(
        "ledger", "checkpoint", "--key", str(key), "--anchor", str(anchor),
        "--database", database_url,
    )[0] == 0  # fmt: skip
    doc = json.loads(anchor.read_text())
    doc["hashes"][0] = "f" * 64
    assert check_anchor(world, doc) == ["the anchor's hash list does not match what was signed"]
    other = tmp_path / "other"
    code, out = cli("ledger", "keygen", "--out", str(other))
    theirs = out.split("public key: ")[1].strip()
    assert check_anchor(world, read_anchor(str(anchor)), theirs)[0].startswith(
        "the anchor is signed by key"
    )
    code, out = cli("ledger", "keygen", "--out", str(other))
    assert code != 0
    assert "exists" in out


def test_a_public_key_without_an_anchor_is_refused_not_ignored(
    world: Ledger, database_url: str, tmp_path: Path
) -> None:
    """``--public-key`` pins the signer of an anchor; without one it used to be ignored and
    the walk answered ok, though the key had checked nothing (a forger can delete the log's
    checkpoints, as above)."""
    key = tmp_path / "board.key"
    code, out = cli("ledger", "keygen", "--out", str(key))
    public = out.split("public key: ")[1].strip()
    assert cli("ledger", "checkpoint", "--key", str(key), "--anchor", str(tmp_path / "a.json"),
               "--database", database_url)[0] == 0  # fmt: skip
    code, out = cli("ledger", "verify", "--public-key", public, "--database", database_url)
    assert code == 2, out
    assert out.strip().splitlines() == [
        f"critmin: --public-key {public!r} checks an anchor's signature: give --anchor FILE|URL too"
    ]
