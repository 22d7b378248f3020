"""The ledger's hot SQL, compiled once per database and run with the driver's own parameters.

Building a SQLAlchemy statement and looking up its compiled form costs more than SQLite takes
to run it; these statements are compiled when the ledger opens and passed straight to the
driver (``exec_driver_sql``), positional or named as the driver wants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement

from critmin.ledger.store import events_table, projections_table, users_table


class Compiled:
    """One statement's SQL for one dialect, and the order of its parameters."""

    def __init__(self, statement: ClauseElement, engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        positions = getattr(compiled, "positiontup", None)  # SQLCompiler: positional order
        self.order: list[str] | None = (
            list(positions) if engine.dialect.positional and positions is not None else None
        )

    def params(self, values: Mapping[str, Any]) -> Any:
        return values if self.order is None else tuple(values[k] for k in self.order)


class Statements:
    """Every statement an append, a catch-up or an authentication runs."""

    def __init__(self, engine: Engine) -> None:
        e, p, u = events_table, projections_table, users_table
        self.event_by_key = Compiled(
            select(e).where(e.c.idempotency_key == bindparam("key")), engine
        )
        self.hash_at = Compiled(select(e.c.hash).where(e.c.seq == bindparam("seq")), engine)
        self.events_after = Compiled(
            select(e).where(e.c.seq > bindparam("seq")).order_by(e.c.seq), engine
        )
        self.insert_event = Compiled(e.insert(), engine)
        upsert = (sqlite if engine.dialect.name == "sqlite" else postgresql).insert(p)
        self.upsert_projection = Compiled(
            upsert.on_conflict_do_update(
                index_elements=[p.c.kind, p.c.key], set_={"data": upsert.excluded.data}
            ),
            engine,
        )
        self.user_by_token = Compiled(
            select(u).where(u.c.token_hash == bindparam("token"), u.c.revoked_at.is_(None)),
            engine,
        )

    @staticmethod
    def run(
        conn: Connection,
        statement: Compiled,
        values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    ) -> CursorResult[Any]:
        """Execute ``statement`` with one set of values, or many (executemany)."""
        if isinstance(values, Mapping):
            return conn.exec_driver_sql(statement.sql, statement.params(values))
        return conn.exec_driver_sql(statement.sql, [statement.params(v) for v in values])
