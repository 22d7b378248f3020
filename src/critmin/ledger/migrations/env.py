"""Alembic environment: migrate the connection ``critmin.ledger.store.migrate`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from critmin.ledger.store import make_engine, metadata


def run() -> None:
    conn = context.config.attributes.get("connection")
    if isinstance(conn, Connection):
        context.configure(connection=conn, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
