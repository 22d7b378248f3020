"""API users: a name, a role (and, for partners, a country) and a bearer token stored hashed.

Tokens are 256-bit random strings; only their SHA-256 is stored, so a leaked database does
not leak tokens (brute force of a 256-bit secret is not a concern, so no slow hash is needed).
A revoked user keeps its row (the ledger names it as an actor) but its token no longer works.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from critmin.ledger.errors import NotFound, Refused
from critmin.ledger.reference import Reference, bundled
from critmin.ledger.service import now
from critmin.ledger.statements import Compiled, Statements
from critmin.ledger.store import users_table
from critmin.ledger.vocabulary import Role

#: A user name: what the ledger records as the actor (no spaces, at most 64 characters).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    country: str | None = None
    revoked: bool = False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_user(name: str, role: Role, country: str | None, ref: Reference) -> None:
    """Refuse a name, role or country the ledger and the API could not use."""
    if not NAME.fullmatch(name):
        raise Refused(
            f"user name {name[:80]!r} must be 1-64 letters, digits, '.', '_' or '-' "
            "starting with a letter or digit",
            "name",
            422,
        )
    if role is Role.PUBLIC:
        raise Refused("the public role needs no user", "role", status=422)
    if role is Role.PARTNER and not country:
        raise Refused("a partner user names its country (ISO3)", "country", status=422)
    if country is not None:
        if country not in ref.countries:
            hint = f" (did you mean {country.upper()}?)" if country.upper() in ref.countries else ""
            raise Refused(
                f"country {country[:10]!r} is not an ISO3 code of the dataset{hint}",
                "country",
                422,
            )
        if role is not Role.PARTNER:
            raise Refused("only a partner user has a country", "country", 422)
        if country in ref.feoc:
            raise Refused(
                f"{country} is a foreign entity of concern; it cannot be a partner",
                "country",
                422,
                "no_feoc",
            )


def add_user(
    engine: Engine,
    name: str,
    role: Role,
    country: str | None = None,
    ref: Reference | None = None,
) -> str:
    """Create (or re-issue the token of) a user; return the token, which is not stored."""
    check_user(name, role, country, ref or bundled())
    token = secrets.token_urlsafe(32)
    row = {
        "role": role.value,
        "country": country,
        "token_hash": token_hash(token),
        "revoked_at": None,
    }
    with engine.begin() as conn:
        done = conn.execute(update(users_table).where(users_table.c.name == name).values(**row))
        if done.rowcount == 0:
            conn.execute(users_table.insert().values(name=name, created_at=now(), **row))
    return token


def revoke_user(engine: Engine, name: str) -> None:
    """Make ``name``'s token useless at once (its hash is replaced by an unguessable one)."""
    dead = token_hash("revoked:" + secrets.token_urlsafe(32))
    query = (
        update(users_table)
        .where(users_table.c.name == name)
        .values(token_hash=dead, revoked_at=now())
    )
    with engine.begin() as conn:
        if conn.execute(query).rowcount == 0:
            raise NotFound(f"no user {name[:80]!r}", "name")


#: The token look-up compiled once per engine (it runs on every write request).
_BY_TOKEN: dict[Engine, Compiled] = {}


def authenticate(engine: Engine, token: str) -> User | None:
    return authenticate_hash(engine, token_hash(token))


def authenticate_hash(engine: Engine, digest: str) -> User | None:
    """The live user whose token has SHA-256 ``digest`` (None: unknown or revoked)."""
    query = _BY_TOKEN.get(engine)
    if query is None:
        query = _BY_TOKEN[engine] = Statements(engine).user_by_token
    row = Statements.lookup(engine, query, {"token": digest})
    return None if row is None else User(row.name, Role(row.role), row.country)


def find_user(engine: Engine, name: str) -> User | None:
    query = select(users_table).where(users_table.c.name == name)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return User(row.name, Role(row.role), row.country, row.revoked_at is not None)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        rows = conn.execute(select(users_table).order_by(users_table.c.name))
        return [User(r.name, Role(r.role), r.country, r.revoked_at is not None) for r in rows]
