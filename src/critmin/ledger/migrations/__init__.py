"""Alembic migrations of the ledger database (run by ``critmin ledger init``)."""
