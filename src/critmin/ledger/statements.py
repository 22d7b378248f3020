"""The ledger's hot SQL, compiled once per database and run on the driver's own cursor.

Building a SQLAlchemy statement, looking up its compiled form and wrapping its result costs
more than SQLite takes to run it; these statements are compiled when the ledger opens and
executed on the DBAPI cursor of the connection's current transaction, with parameters
positional or named as the driver wants (sqlite3 and psycopg both cache the prepared
statement per connection). Rows come back as named tuples.

A ``Batch`` sends statements before their results are read: on PostgreSQL they go down one
psycopg pipeline, so the statements sent before a result is first read cost one round trip
together, and the ones sent after it (with the ``COMMIT``) one more; on SQLite, in-process,
each statement runs as it is sent. A driver error comes out as SQLAlchemy's ``DBAPIError``
(with ``connection_invalidated`` for a lost connection), as from ``Connection.execute``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, String, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
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
        # PostgreSQL: the appends' advisory lock (SQLite's is BEGIN IMMEDIATE)
        self.lock: Compiled | None = None
        if engine.dialect.name == "postgresql":
            self.lock = Compiled(select(func.pg_advisory_xact_lock(bindparam("k"))), engine)
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


class Result:
    """The rows of one sent query (a statement that returns rows), read when first asked
    for."""

    def __init__(self, batch: Batch, cursor: Any, statement: Compiled) -> None:
        self._batch, self._cursor, self._statement = batch, cursor, statement
        self._rows: list[Any] | None = None

    def rows(self) -> list[Any]:
        if self._rows is None:
            with self._batch.translated(self._statement.sql):
                cursor = self._cursor
                found = cursor.fetchall()  # (in a pipeline: the description comes with it)
                row: Any = self._statement.row_type(cursor.description) if found else None
                self._rows = [row(*r) for r in found]
        return self._rows


class Batch:
    """Statements run in ``conn``'s transaction in the order they are sent; on PostgreSQL
    down one pipeline (a result's first read, and the end of the batch, each wait for one
    round trip), elsewhere one by one as they are sent."""

    def __init__(self, conn: Connection, *, pipelined: bool = True) -> None:
        """``pipelined=False``: one by one on every backend (a read that sends one
        statement gains nothing from a pipeline, whose end costs a round trip of its own)."""
        self._conn = conn
        self._raw: Any = conn.connection.dbapi_connection
        self._postgres = conn.dialect.name == "postgresql"
        self._pipelined = pipelined and self._postgres
        self._pipeline: Any = None
        self._cursors: list[Any] = []

    def __enter__(self) -> Batch:
        if self._pipelined:
            with self.translated("(pipeline)"):
                pipeline = self._raw.pipeline()
                pipeline.__enter__()
                self._pipeline = pipeline
        if self._postgres and self._raw.autocommit:
            # the appends' connection: psycopg sends no BEGIN of its own (which, in a
            # pipeline, would wait for its answer), so it goes down with the first reads
            self._plain("BEGIN")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            pipeline, self._pipeline = self._pipeline, None
            if pipeline is not None:
                if error is None:
                    with self.translated("(pipeline sync)"):
                        pipeline.__exit__(None, None, None)
                else:
                    pipeline.__exit__(kind, error, trace)
        finally:
            for cursor in self._cursors:
                try:
                    cursor.close()
                except Exception:  # a broken connection: its cursors go with it
                    continue

    def send(
        self, statement: Compiled, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> Result:
        """Send ``statement`` with one set of values, or many (executemany)."""
        with self.translated(statement.sql):
            cursor = self._raw.cursor()
            self._cursors.append(cursor)
            if not isinstance(values, Mapping) and len(values) == 1:
                values = values[0]
            if isinstance(values, Mapping):
                cursor.execute(statement.sql, statement.params(values))
            else:
                cursor.executemany(statement.sql, [statement.params(v) for v in values])
        return Result(self, cursor, statement)

    def commit(self) -> None:
        """Send ``COMMIT``: the transaction ends when the batch does (on PostgreSQL with the
        statements sent before it, in the same round trip). The driver then sees no open
        transaction, so the SQLAlchemy transaction's own commit sends nothing."""
        self._plain("COMMIT")

    def _plain(self, sql: str) -> None:
        with self.translated(sql):
            cursor = self._raw.cursor()
            self._cursors.append(cursor)
            cursor.execute(sql)

    def translated(self, sql: str) -> _Translate:
        return _Translate(self._conn, self._raw, sql)


class _Translate:
    """Re-raise a driver error as SQLAlchemy's ``DBAPIError`` (a lost connection flagged
    ``connection_invalidated``), so callers retry and recover as for ``conn.execute``."""

    def __init__(self, conn: Connection, raw: Any, sql: str) -> None:
        self._conn, self._raw, self._sql = conn, raw, sql

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        dialect = self._conn.dialect
        if error is None or not isinstance(error, dialect.loaded_dbapi.Error):
            return
        lost = dialect.is_disconnect(error, self._raw, None)
        raise DBAPIError.instance(
            self._sql,
            None,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from error
