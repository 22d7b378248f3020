"""The ledger's hot SQL, compiled once per database and run on the driver's own cursor.

Building a SQLAlchemy statement, looking up its compiled form and wrapping its result costs
more than SQLite takes to run it; these statements are compiled when the ledger opens and
executed on the DBAPI cursor of the connection's current transaction, with parameters
positional or named as the driver wants (sqlite3 and psycopg both cache the prepared
statement per connection). Rows come back as named tuples.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, String, any_, bindparam, select
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

        self._row: Any = None

    def params(self, values: Mapping[str, Any]) -> Any:
        return values if self.order is None else tuple(values[k] for k in self.order)

    def row_type(self, description: Sequence[Sequence[Any]]) -> Any:
        """A named tuple of the result's columns (built on first use)."""
        if self._row is None:
            self._row = namedtuple("Row", [d[0] for d in description])  # type: ignore[misc]
        return self._row


class Statements:
    """Every statement an append, a catch-up or an authentication runs."""

    def __init__(self, engine: Engine) -> None:
        e, p, u = events_table, projections_table, users_table
        self.event_by_key = Compiled(
            select(e).where(e.c.idempotency_key == bindparam("key")), engine
        )
        # the event a process last saw (to check it is still there) and every one after it
        self.events_from = Compiled(
            select(e).where(e.c.seq >= bindparam("seq")).order_by(e.c.seq), engine
        )
        # PostgreSQL: a group's idempotency keys in one round trip (SQLite asks key by key,
        # in-process, which costs less than building a statement per group size)
        self.events_by_keys: Compiled | None = None
        if engine.dialect.name == "postgresql":
            keys = bindparam("keys", type_=postgresql.ARRAY(String))
            self.events_by_keys = Compiled(
                select(e).where(e.c.idempotency_key == any_(keys)), engine
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
    ) -> list[Any]:
        """Execute ``statement`` in ``conn``'s transaction with one set of values (its rows
        come back) or many (executemany; nothing comes back)."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if not isinstance(values, Mapping) and len(values) == 1:
                values = values[0]  # one row: a plain execute (executemany pipelines)
            if isinstance(values, Mapping):
                cursor.execute(statement.sql, statement.params(values))
            else:
                cursor.executemany(statement.sql, [statement.params(v) for v in values])
                return []
            if cursor.description is None:
                return []
            row = statement.row_type(cursor.description)
            return [row(*r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    @staticmethod
    def lookup(engine: Engine, statement: Compiled, values: Mapping[str, Any]) -> Any | None:
        """The first row of a one-statement read on a pooled driver connection, outside any
        SQLAlchemy transaction (the pool rolls the connection back when it is returned)."""
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(statement.sql, statement.params(values))
            found = cursor.fetchone()
            row = None if found is None else statement.row_type(cursor.description)(*found)
            cursor.close()
        finally:
            raw.close()
        return row
