"""API users: a name, a role (and, for partners, a country) and a bearer token stored hashed.

Tokens are 256-bit random strings; only their SHA-256 is stored, so a leaked database does
not leak tokens (brute force of a 256-bit secret is not a concern, so no slow hash is needed).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from critmin.ledger.errors import Refused
from critmin.ledger.service import now
from critmin.ledger.store import users_table
from critmin.ledger.vocabulary import Role


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    country: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(engine: Engine, name: str, role: Role, country: str | None = None) -> str:
    """Create (or re-issue the token of) a user; return the token, which is not stored."""
    if role is Role.PUBLIC:
        raise Refused("the public role needs no user", "role", status=422)
    if role is Role.PARTNER and not country:
        raise Refused("a partner user names its country (ISO3)", "country", status=422)
    token = secrets.token_urlsafe(32)
    row = {"role": role.value, "country": country, "token_hash": token_hash(token)}
    with engine.begin() as conn:
        done = conn.execute(update(users_table).where(users_table.c.name == name).values(**row))
        if done.rowcount == 0:
            conn.execute(users_table.insert().values(name=name, created_at=now(), **row))
    return token


def authenticate(engine: Engine, token: str) -> User | None:
    query = select(users_table).where(users_table.c.token_hash == token_hash(token))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else User(row.name, Role(row.role), row.country)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        rows = conn.execute(select(users_table).order_by(users_table.c.name))
        return [User(r.name, Role(r.role), r.country) for r in rows]
