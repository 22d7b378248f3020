"""Storage: the tables, the engine for SQLite (default) or PostgreSQL, and migrations.

SQLite runs in WAL mode with a busy timeout and full fsync; a write transaction starts with
``BEGIN IMMEDIATE`` so appends are serialised across processes. On PostgreSQL a write
transaction takes a transaction-scoped advisory lock first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    exc,
    inspect,
    text,
)

from critmin.ledger.errors import DatabaseProblem, NotInitialised

DATABASE_ENV = "CRITMIN_DATABASE_URL"
DEFAULT_FILE = "critmin-ledger.db"
WRITE = "critmin_write"
#: The longest stored idempotency key (``actor/key``).
KEY_LENGTH = 200
#: The tables a ledger database must hold.
TABLES = frozenset({"events", "projections", "users"})
#: Key of the PostgreSQL advisory lock that serialises appends ("critmin" in ASCII).
ADVISORY_KEY = 0x637269746D696E

metadata = MetaData()

events_table = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(32), nullable=False, unique=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("request_digest", String(64), nullable=False),
    Column("type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

projections_table = Table(
    "projections",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("data", Text, nullable=False),
)

users_table = Table(
    "users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("country", String(3), nullable=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
)


def database_url(url: str | None = None) -> str:
    """The URL given, else ``$CRITMIN_DATABASE_URL``, else a SQLite file in the current
    folder; ``postgresql://`` is read as psycopg 3."""
    url = url or os.environ.get(DATABASE_ENV) or f"sqlite:///{Path(DEFAULT_FILE).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other backends and in-memory databases)."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    return None if rest in {"", ":memory:"} else Path(rest)


def check_schema(engine: Engine) -> None:
    """Refuse a database that is unreachable, not a database, or holds no critmin ledger."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
    except exc.SQLAlchemyError as err:
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
        raise DatabaseProblem(f"cannot use the database {url}: {reason}") from err
    if not names:
        raise NotInitialised(f"{url} holds no ledger; run `critmin ledger init`")
    if not names >= TABLES:
        raise DatabaseProblem(
            f"{url} is not a critmin ledger (it lacks the tables "
            f"{', '.join(sorted(TABLES - names))})"
        )


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None) -> Engine:
    """An engine with the serialisation rules of its backend."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            write = conn.get_execution_options().get(WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def lock_for_write(conn: Connection) -> None:
    """Serialise writers: SQLite already holds the write lock (BEGIN IMMEDIATE)."""
    if not is_sqlite(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (the scripts ship in the package)."""
    cfg = Config()
    cfg.set_main_option("script_location", "critmin.ledger:migrations")
    try:
        with engine.connect() as probe:
            names = set(inspect(probe).get_table_names())
        with engine.connect() as plain:
            if names and not (names >= TABLES or "alembic_version" in names):
                url = engine.url.render_as_string(hide_password=True)
                raise DatabaseProblem(f"{url} holds other tables; it is not a critmin ledger")
            conn = plain.execution_options(**{WRITE: True})
            with conn.begin():
                lock_for_write(conn)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
    except exc.SQLAlchemyError as err:
        url = engine.url.render_as_string(hide_password=True)
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
        raise DatabaseProblem(f"cannot use the database {url}: {reason}") from err
