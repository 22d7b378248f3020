"""Check raw tables against their declarations; collect every problem with file, row and column.

Rows are numbered as a spreadsheet shows them: the header is line 1, the first record line 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from critmin.schema.tables import Column, Table

#: The text of a true and a false cell of a ``bool`` column (any case).
TRUE = frozenset({"true", "1", "yes"})
FALSE = frozenset({"false", "0", "no"})
MAX_PER_RULE = 20


def is_true(value: object) -> bool:
    """A ``bool`` cell (``estimated``, a list flag) as a bool: as loaded (True, False, or None
    for empty) or as the text of a raw row (``TRUE``); one reading for every table's flag."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return str(value).strip().lower() in TRUE


@dataclass(frozen=True)
class Problem:
    """One broken rule, located precisely enough to fix."""

    file: str
    line: int | None
    column: str | None
    rule: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}, row {self.line}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.rule}"


class DataError(Exception):
    """Raised when a dataset does not check; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in the data:\n{head}{more}")


def _lines(mask: np.ndarray | pd.Series) -> list[int]:
    idx = np.flatnonzero(np.asarray(mask))
    return [int(i) + 2 for i in idx]


def _report(
    problems: list[Problem], file: str, column: str, mask: pd.Series, rule: str, values: pd.Series
) -> None:
    """Add one problem per offending row (at most MAX_PER_RULE, then a count)."""
    lines = _lines(mask)
    shown = values[np.asarray(mask)]
    for line, value in list(zip(lines, shown, strict=True))[:MAX_PER_RULE]:
        problems.append(Problem(file, line, column, f"{rule} (got {value!r})"))
    if len(lines) > MAX_PER_RULE:
        problems.append(
            Problem(file, None, column, f"{rule}: {len(lines) - MAX_PER_RULE} more rows")
        )


@dataclass(frozen=True)
class RowOrigin:
    """Where each row of a table combined from several files (a base table and its
    ``.extend.csv`` files) was written: the file and its row there (header = row 1), so a
    problem found in the combined table names the row the user wrote."""

    files: tuple[str, ...]
    file_of: np.ndarray  # per combined row: index into ``files``
    line_of: np.ndarray  # per combined row: its row in that file

    @property
    def label(self) -> str:
        return " + ".join(self.files)


def _report_at(
    problems: list[Problem],
    origin: RowOrigin,
    column: str,
    mask: pd.Series,
    rule: str,
    values: pd.Series,
) -> None:
    """As ``_report``, each offending row named by the file and row it came from."""
    idx = np.flatnonzero(np.asarray(mask))
    shown = values.to_numpy()[idx]
    for i, value in list(zip(idx, shown, strict=True))[:MAX_PER_RULE]:
        file = origin.files[int(origin.file_of[i])]
        problems.append(Problem(file, int(origin.line_of[i]), column, f"{rule} (got {value!r})"))
    if len(idx) > MAX_PER_RULE:
        problems.append(
            Problem(origin.label, None, column, f"{rule}: {len(idx) - MAX_PER_RULE} more rows")
        )


def _convert(col: Column, raw: pd.Series, file: str, problems: list[Problem]) -> pd.Series:
    empty = raw == ""
    if col.required:
        _report(problems, file, col.name, empty, "a value is required", raw)
    if col.kind == "str":
        return raw.where(~empty, None)
    if col.kind == "bool":
        low = raw.str.lower()
        bad = ~empty & ~low.isin(TRUE | FALSE)
        _report(problems, file, col.name, bad, "expected true or false", raw)
        return low.isin(TRUE).astype(object).where(~empty & ~bad, None)
    num = pd.to_numeric(raw.where(~empty, None), errors="coerce").astype(float)
    bad = ~empty & num.isna()
    _report(problems, file, col.name, bad, f"expected a number ({col.kind})", raw)
    infinite = num.notna() & ~np.isfinite(num.fillna(0.0))
    _report(problems, file, col.name, infinite, "must be a finite number (not inf or 1e309)", raw)
    if infinite.any():
        num = num.where(~infinite)
    if col.kind == "int":
        frac = num.notna() & (num != np.round(num))
        _report(problems, file, col.name, frac, "expected a whole number", raw)
        return num.astype("Int64") if num.notna().all() and not frac.any() else num
    return num


def check_table(table: Table, raw: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Validate one table's cells (types, ranges, labels, patterns, key); return typed data.

    Cross-references to other tables are checked by :func:`check_references`.
    """
    problems: list[Problem] = []
    declared = [c.name for c in table.columns]
    # a column that may be empty may also be left out (a file written before it was declared)
    absent = [c.name for c in table.columns if not c.required and c.name not in raw.columns]
    if absent:
        raw = raw.assign(**dict.fromkeys(absent, ""))
    missing = [c for c in declared if c not in raw.columns]
    for c in missing:
        problems.append(Problem(file, 1, c, "column is missing from the header"))
    for c in raw.columns:
        if c not in declared:
            problems.append(Problem(file, 1, str(c), "column is not declared for this table"))
    if missing:
        return raw, problems
    out = pd.DataFrame(index=raw.index)
    for col in table.columns:
        s = raw[col.name].astype(str)
        values = _convert(col, s, file, problems)
        present = values.notna()
        if col.allowed is not None:
            bad = present & ~s.isin(col.allowed)
            allowed = ", ".join(sorted(col.allowed))
            _report(problems, file, col.name, bad, f"not one of the allowed values [{allowed}]", s)
        if col.pattern is not None:
            bad = present & ~s.str.match(col.pattern)
            _report(problems, file, col.name, bad, f"does not match {col.pattern}", s)
        if col.minimum is not None:
            bad = present & (values.astype(float) < col.minimum)
            _report(problems, file, col.name, bad, f"must be >= {col.minimum:g}", s)
        if col.maximum is not None:
            bad = present & (values.astype(float) > col.maximum)
            _report(problems, file, col.name, bad, f"must be <= {col.maximum:g}", s)
        out[col.name] = values
    dup = raw.duplicated(subset=list(table.key), keep="first")
    if dup.any():
        key = raw[list(table.key)].astype(str).agg("|".join, axis=1)
        _report(problems, file, ",".join(table.key), dup, "duplicate key", key)
    return out, problems


def check_references(
    tables: Mapping[str, Table],
    data: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    only: tuple[str, ...] | None = None,
    origins: Mapping[str, RowOrigin] | None = None,
) -> list[Problem]:
    """Check every declared cross-reference: a label must exist in the table it names. A
    table in ``origins`` (combined from several files) has its rows named in their own file."""
    problems: list[Problem] = []
    for name, frame in data.items():
        if only is not None and name not in only:
            continue
        for col in tables[name].columns:
            if col.references is None:
                continue
            ref_table, _, ref_col = col.references.partition(".")
            if ref_table not in data:
                continue
            known = set(data[ref_table][ref_col].dropna().astype(str))
            values = frame[col.name]
            bad = values.notna() & ~values.astype(str).isin(known)
            rule = f"unknown label, not in {ref_table}"
            origin = (origins or {}).get(name)
            if origin is not None:
                _report_at(problems, origin, col.name, bad, rule, values)
            else:
                _report(problems, files[name], col.name, bad, rule, values)
    return problems
