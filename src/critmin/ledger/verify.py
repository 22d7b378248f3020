"""Walk the chain and the projections; name every edited, missing or reordered event.

The chain is read in ``seq`` order straight from the table (no parsing first), so a row whose
payload no longer parses is still named. Then the log is replayed and the stored projections
are compared with the replay, entity by entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import select

from critmin.ledger.anchor import check_signature
from critmin.ledger.chain import event_hash
from critmin.ledger.errors import Refused
from critmin.ledger.service import Ledger, parse_row
from critmin.ledger.state import GENESIS_HASH, State, apply
from critmin.ledger.store import events_table
from critmin.ledger.vocabulary import EventType


@dataclass
class Report:
    """What ``verify`` found: the number of events, the head hash, and every problem."""

    events: int = 0
    head: str = GENESIS_HASH
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(ledger: Ledger) -> Report:
    report = Report()
    with ledger.engine.connect() as conn:
        rows = list(conn.execute(select(events_table).order_by(events_table.c.seq)))
    by_hash = {row.hash: row for row in rows}
    prev, expected_seq = GENESIS_HASH, 1
    state: State | None = State()
    for row in rows:
        name = f"event {row.seq} ({row.type}, id {row.event_id})"
        if row.seq != expected_seq:
            gap = (
                f"{expected_seq}"
                if row.seq == expected_seq + 1
                else f"{expected_seq}..{row.seq - 1}"
            )
            report.problems.append(f"missing event(s) {gap}: the log jumps to {name}")
        own = event_hash(
            row.seq,
            row.event_id,
            row.idempotency_key,
            row.type,
            row.actor,
            row.recorded_at,
            row.prev_hash,
            row.payload,
        )
        if own != row.hash:
            report.problems.append(f"{name} was edited: its contents no longer match its hash")
        if row.prev_hash != prev:
            before = by_hash.get(row.prev_hash)
            if before is not None:
                report.problems.append(
                    f"{name} is out of order: it was written after event {before.seq}, "
                    f"not after the event now before it"
                )
            elif row.seq == expected_seq or row.prev_hash != GENESIS_HASH:
                report.problems.append(
                    f"{name} does not follow the event before it: the event it was chained to "
                    "is missing or was edited"
                )
        prev, expected_seq = row.hash, row.seq + 1
        if row.type == EventType.CHECKPOINT.value:
            try:
                check_signature(parse_row(row).payload)  # type: ignore[arg-type]
            except (Refused, ValidationError, ValueError):
                report.problems.append(f"{name} carries a signature that does not verify")
        if state is not None:
            try:
                apply(state, parse_row(row))
            except (ValidationError, ValueError, Refused) as exc:
                report.problems.append(f"{name} cannot be replayed: {exc}")
                state = None
    report.events, report.head = len(rows), prev
    if state is not None:
        report.problems += compare(state.rows(), ledger.stored_projections())
    return report


def compare(replayed: dict[tuple[str, str], str], stored: dict[tuple[str, str], str]) -> list[str]:
    """Differences between the replayed and the stored projections, one line per entity."""
    out = []
    for kind, key in sorted(replayed.keys() | stored.keys()):
        a, b = replayed.get((kind, key)), stored.get((kind, key))
        if a != b:
            what = "missing" if b is None else "unexpected" if a is None else "differs from replay"
            out.append(f"projection {kind} {key!r} {what}")
    return out
