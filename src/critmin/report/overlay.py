"""What a user's data folder changes: rows added, replaced or removed per table, shares that
move by more than a threshold, and user rows the chain does not use because another source
wins on priority (``critmin data check``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from critmin.chain import SupplyChain
from critmin.data.load import Dataset
from critmin.schema.tables import TABLES
from critmin.schema.vocabulary import OTHER_COUNTRIES


@dataclass(frozen=True)
class TableChange:
    table: str
    files: str
    added: int
    replaced: int
    removed: int


@dataclass(frozen=True)
class ShareMove:
    mineral: str
    stage: str
    year: int
    country: str
    before: float | None
    after: float | None
    source_id: str
    named: int
    """Countries the chosen source names at this stage and year (1 = a single-row source)."""

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)


@dataclass(frozen=True)
class Shadowed:
    mineral: str
    stage: str
    year: int
    source_id: str
    rows: int
    priority: int
    winner: str
    winner_priority: int


@dataclass
class OverlayReport:
    tables: list[TableChange] = field(default_factory=list)
    moves: list[ShareMove] = field(default_factory=list)
    shadowed: list[Shadowed] = field(default_factory=list)

    def lines(self, threshold: float, limit: int = 25) -> list[str]:
        out = []
        if not self.tables:
            return ["the folder changes no bundled table"]
        for t in self.tables:
            out.append(
                f"{t.table}: {t.added:,} row(s) added, {t.replaced:,} replaced, "
                f"{t.removed:,} removed ({t.files})"
            )
        if self.moves:
            out.append(
                f"{len(self.moves)} share(s) moved by more than {threshold * 100:.0f} points:"
            )
            for m in self.moves[:limit]:
                before = "no data" if m.before is None else f"{m.before:.0%}"
                after = "no data" if m.after is None else f"{m.after:.0%}"
                thin = (
                    f"; warning: source {m.source_id} names only {m.named} "
                    "country, so it alone makes up the stage"
                    if m.named == 1
                    else ""
                )
                out.append(
                    f"  {m.mineral} {m.stage} {m.year}: {m.country} {before} -> {after} "
                    f"({m.delta * 100:+.0f} pts, source {m.source_id}){thin}"
                )
            if len(self.moves) > limit:
                out.append(f"  ... and {len(self.moves) - limit} more")
        else:
            out.append(f"no share moved by more than {threshold * 100:.0f} points")
        for s in self.shadowed:
            out.append(
                f"warning: {s.rows} production row(s) for {s.mineral} {s.stage} {s.year} from "
                f"source {s.source_id} (priority {s.priority}) are not used: {s.winner} "
                f"(priority {s.winner_priority}) wins; give {s.source_id} a lower priority "
                "number in sources.csv to use them"
            )
        return out


def _user_files(ds: Dataset, name: str, folder: Path) -> str | None:
    files = ds.files[name]
    mine = [p for p in (files.base, *files.extensions) if p.resolve().parent == folder]
    return " + ".join(p.name for p in mine) if mine else None


def _norm(v: object) -> str:
    """A cell as comparable text: missing as '', numbers by value (5000 == 5000.0)."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    try:
        return repr(float(str(v)))
    except ValueError:
        return str(v)


def _row_changes(base: pd.DataFrame, user: pd.DataFrame, key: list[str]) -> tuple[int, int, int]:
    b = base.map(_norm).drop_duplicates(key).set_index(key)
    u = user.map(_norm).drop_duplicates(key).set_index(key)
    common = b.index.intersection(u.index)
    cols = [c for c in b.columns if c in u.columns]
    changed = (b.loc[common, cols] != u.loc[common, cols]).any(axis="columns")
    return (
        len(u.index.difference(b.index)),
        int(changed.sum()),
        len(b.index.difference(u.index)),
    )


def compare(base: Dataset, user: Dataset, folder: Path, threshold: float = 0.05) -> OverlayReport:
    """What ``user`` (``base`` overlaid by the tables in ``folder``) changes against ``base``."""
    report = OverlayReport()
    for name in user.files:
        files = _user_files(user, name, folder.resolve())
        if files is None or name not in user.tables:
            continue
        added, replaced, removed = _row_changes(base[name], user[name], list(TABLES[name].key))
        report.tables.append(TableChange(name, files, added, replaced, removed))
    if not any(t.table in {"production", "sources"} for t in report.tables):
        return report
    before, after = SupplyChain.from_dataset(base), SupplyChain.from_dataset(user)
    report.moves = _moves(before, after, threshold)
    report.shadowed = _shadowed(base, user, after)
    return report


def _moves(before: SupplyChain, after: SupplyChain, threshold: float) -> list[ShareMove]:
    b = before.shares().to_series().dropna()
    a = after.shares().to_series().dropna()
    both = pd.concat({"before": b, "after": a}, axis="columns")
    both = both[both.index.get_level_values("country") != OTHER_COUNTRIES]
    delta = both["after"].fillna(0.0) - both["before"].fillna(0.0)
    moved = both[delta.abs() > threshold]
    src = after.source.to_series()
    named = (
        (after.production.where(after.production.country != OTHER_COUNTRIES) > 0)
        .sum("country")
        .to_series()
    )
    out = []
    for index, row in moved.iterrows():
        mineral, stage, country, year = (str(x) for x in index)  # type: ignore[attr-defined]
        key = (mineral, stage, int(year))
        out.append(
            ShareMove(
                str(mineral),
                str(stage),
                int(year),
                str(country),
                None if np.isnan(row["before"]) else float(row["before"]),
                None if np.isnan(row["after"]) else float(row["after"]),
                str(src.get(key, "-")),
                int(named.get(key, 0)),
            )
        )
    return sorted(out, key=lambda m: -abs(m.delta))


def _shadowed(base: Dataset, user: Dataset, chain: SupplyChain) -> list[Shadowed]:
    key = list(TABLES["production"].key)
    b = base["production"].astype({"year": int})
    u = user["production"].astype({"year": int})
    merged = u.merge(b[key].assign(_base=True), on=key, how="left")
    new = merged[merged["_base"].isna()]
    priority = user["sources"].set_index("id")["priority"]
    chosen = chain.source.to_series()
    out = []
    for index, rows in new.groupby(["mineral", "stage", "year", "source_id"]):
        mineral, stage, year, sid = (str(x) for x in index)
        winner = chosen.get((mineral, stage, int(year)))
        if winner is None or pd.isna(winner) or winner == sid:
            continue
        out.append(
            Shadowed(
                str(mineral),
                str(stage),
                int(year),
                str(sid),
                len(rows),
                int(priority.get(sid, 0)),
                str(winner),
                int(priority.get(winner, 0)),
            )
        )
    return out
