"""What the CLI and the API share: the labels an entry may name, the operator check, rates."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from critmin.chain import SupplyChain
from critmin.data.load import load
from critmin.ledger.errors import Refused
from critmin.ledger.store import users_table
from critmin.ledger.users import User
from critmin.ledger.vocabulary import Role
from critmin.security.hazard import posterior, register


@lru_cache(maxsize=4)
def known_labels(data_dir: Path | None = None) -> dict[str, Any]:
    """Facilities (operating and planned), countries and minerals of the dataset in use."""
    ds = load(data_dir)
    return {
        "facilities": frozenset(ds["facilities"]["id"]) | frozenset(ds["projects"]["id"]),
        "countries": frozenset(ds["countries"]["iso3"]),
        "minerals": frozenset(ds["minerals"]["id"]),
    }


def operator(engine: Engine, name: str) -> User:
    """The named user, who must hold the operator role (as the API's Operator dependency)."""
    from critmin.security.store import tables_present  # noqa: PLC0415

    with tables_present(), engine.connect() as conn:
        row = conn.execute(select(users_table).where(users_table.c.name == name)).first()
    if row is None:
        raise Refused(f"actor: no user {name!r} (add one with `critmin users add`)", "actor", 403)
    user = User(row.name, Role(row.role), row.country)
    if user.role is not Role.OPERATOR:
        raise Refused(f"actor: role {user.role.value} may not record incidents", "actor", 403)
    return user


def stored_incidents(database: str | None) -> pd.DataFrame | None:
    """Entries stored in the ledger database at ``database`` (None: no database given)."""
    if database is None:
        return None
    from critmin.ledger.service import Ledger  # noqa: PLC0415 (avoid a cycle at import)
    from critmin.security.store import list_incidents  # noqa: PLC0415

    db = Ledger.open(database)
    try:
        return list_incidents(db.engine)
    finally:
        db.dispose()


def check_filters(
    chain: SupplyChain, countries: list[str], stages: list[str], prefix: str = ""
) -> None:
    """Refuse (422) a country or stage filter the dataset does not know, naming the parameter
    (``prefix`` + ``country``/``stage``: ``--`` for the CLI options, nothing for the API's
    query parameters): an unknown label is refused, not answered with an empty table."""
    known = {
        "country": (set(chain.dataset["countries"]["iso3"].astype(str)), "countries.csv ISO3"),
        "stage": (set(chain.dataset["stages"]["id"].astype(str)), "`critmin minerals`"),
    }
    for name, asked in (("country", countries), ("stage", stages)):
        labels, where = known[name]
        unknown = [v for v in asked if v not in labels]
        if unknown:
            raise Refused(f"{prefix}{name}: unknown {', '.join(unknown)} (see {where})", name, 422)


def rate_table(
    chain: SupplyChain,
    stored: pd.DataFrame | None,
    since: date,
    countries: list[str],
    stages: list[str],
) -> pd.DataFrame:
    """Posterior rates as rows: country, stage, threat, incidents, prior, posterior."""
    post = posterior(chain, register(chain, stored), since=since)
    frame = (
        post[["incidents", "rate", "annual_probability"]]
        .to_dataframe()
        .reset_index()
        .dropna(subset=["rate"])
    )
    frame["prior_rate"] = frame["threat"].map(post["prior_rate"].to_series())
    frame["exposure_years"] = post.attrs["exposure_years"]
    if countries:
        frame = frame[frame["country"].isin(countries)]
    if stages:
        frame = frame[frame["stage"].isin(stages)]
    return frame.reset_index(drop=True)
