"""Load the bundled tables, overlay a user's data folder, validate everything, or refuse.

A user folder may hold, per table, ``<table>.csv`` (replaces the bundled table) or
``<table>.extend.csv`` (adds rows; a row with the key of a bundled row replaces it).
Nothing half-loaded is returned: a dataset either checks completely or raises DataError.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from critmin.data import table_cache
from critmin.schema.tables import LOAD_ORDER, TABLES
from critmin.schema.validate import DataError, Problem, RowOrigin, check_references, check_table

EXTEND = ".extend"


@cache
def bundled_dir() -> Path:
    """The folder of tables shipped inside the package."""
    return Path(str(resources.files("critmin.data") / "bundled"))


#: The largest table file read, once decompressed (the bundled trade table is about 20 MB).
MAX_TABLE_BYTES = 256 * 2**20
#: The most rows one table file may hold (the bundled trade table has about 300,000).
MAX_TABLE_ROWS = 1_000_000


class TooLarge(ValueError):
    pass


def _bytes(path: Path) -> bytes:
    """The file's bytes (decompressed for .gz), refused past ``MAX_TABLE_BYTES`` or
    ``MAX_TABLE_ROWS`` before any parsing."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read(MAX_TABLE_BYTES + 1)
    if len(raw) > MAX_TABLE_BYTES:
        raise TooLarge(
            f"larger than {MAX_TABLE_BYTES // 2**20} MiB once decompressed; split it or "
            "filter it to the minerals you need"
        )
    rows = raw.count(b"\n")
    if rows > MAX_TABLE_ROWS:
        raise TooLarge(f"more than {MAX_TABLE_ROWS:,} rows ({rows:,} lines)")
    return raw


def _read(path: Path) -> pd.DataFrame:
    raw = _bytes(path)
    if not raw.strip():
        raise TooLarge("the file is empty (a table needs at least its header line)")
    return pd.read_csv(
        io.BytesIO(raw), dtype=str, keep_default_na=False, na_values=[], encoding="utf-8"
    )


@dataclass(frozen=True)
class TableFiles:
    """Where one table's rows come from: a base file and optional extension files."""

    base: Path
    extensions: tuple[Path, ...] = ()

    @property
    def label(self) -> str:
        return " + ".join(str(p) for p in (self.base, *self.extensions))


def _locate(user_dir: Path | None, base: Path) -> tuple[dict[str, TableFiles], list[Problem]]:
    found = {name: TableFiles(base / t.file) for name, t in TABLES.items()}
    problems: list[Problem] = []
    if user_dir is None:
        return found, problems
    if not user_dir.is_dir():
        return found, [Problem(str(user_dir), None, None, "data folder does not exist")]
    extensions: dict[str, list[Path]] = {}
    for path in sorted(user_dir.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() in {".md", ".txt"}:
            continue
        stem = path.name.removesuffix(".gz").removesuffix(".csv")
        is_ext = stem.endswith(EXTEND)
        name = stem.removesuffix(EXTEND)
        if name not in TABLES or not path.name.endswith((".csv", ".csv.gz")):
            known = ", ".join(TABLES)
            problems.append(
                Problem(str(path), None, None, f"not a critmin table file (tables: {known})")
            )
            continue
        if is_ext:
            extensions.setdefault(name, []).append(path)
        else:
            found[name] = TableFiles(path)
    for name, paths in extensions.items():
        found[name] = TableFiles(found[name].base, tuple(paths))
    return found, problems


#: Checked bundled tables, by table name and file stamp (the package's files do not change
#: while a process runs; a rebuilt file has a new stamp). Copies are handed out. Across
#: processes, ``table_cache`` keeps the ones that passed every check.
_BUNDLED: dict[tuple[str, int, int], tuple[pd.DataFrame | None, list[Problem]]] = {}


Loaded = tuple[pd.DataFrame | None, list[Problem], RowOrigin | None]


def _load_one(name: str, files: TableFiles) -> Loaded:
    """Read and check one table; the frame comes back (for cross-reference checks) whenever
    its columns could be read, even if some cells broke a rule, with where each row came from
    when it combines several files."""
    if files.extensions or files.base.parent != bundled_dir() or not files.base.exists():
        return _check_files(name, files)
    stat = files.base.stat()
    stamp = (name, stat.st_mtime_ns, stat.st_size)
    if stamp not in _BUNDLED:
        cached = table_cache.get(name, files.base)  # checked by an earlier process
        if cached is not None:
            _BUNDLED[stamp] = cached, []
        else:
            checked, found, _ = _check_files(name, files)  # one file: no RowOrigin
            _BUNDLED[stamp] = checked, found
            if checked is not None and not found:
                table_cache.put(name, files.base, checked)
    frame, problems = _BUNDLED[stamp]
    return (None if frame is None else frame.copy()), list(problems), None


def _check_files(name: str, files: TableFiles) -> Loaded:
    table = TABLES[name]
    parts: list[pd.DataFrame] = []
    paths: list[str] = []
    problems: list[Problem] = []
    for path in (files.base, *files.extensions):
        if not path.exists():
            problems.append(Problem(str(path), None, None, "table file is missing"))
            continue
        try:
            raw = _read(path)
        except TooLarge as exc:
            problems.append(Problem(str(path), None, None, f"refused: {exc}"))
            continue
        except (ValueError, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
            why = " ".join(str(exc).split())[:200]
            problems.append(Problem(str(path), None, None, f"cannot be read as CSV: {why}"))
            continue
        typed, found = check_table(table, raw, str(path))
        problems.extend(found)
        if all(c.name in typed.columns for c in table.columns):
            parts.append(typed)
            paths.append(str(path))
    if not parts:
        return None, problems, None
    if len(parts) == 1:
        return parts[0], problems, None
    frame = pd.concat(parts, ignore_index=True)
    keep = ~frame.duplicated(subset=list(table.key), keep="last").to_numpy()
    origin = RowOrigin(
        tuple(paths),
        np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])[keep],
        np.concatenate([np.arange(len(p)) + 2 for p in parts])[keep],  # header is row 1
    )
    return frame[keep].reset_index(drop=True), problems, origin


@dataclass(eq=False)
class Dataset:
    """The validated tables, keyed by table name; trade is loaded on first use. Compared and
    hashed by identity (what is derived from it is kept per dataset: critmin.data.per_dataset)."""

    tables: dict[str, pd.DataFrame]
    files: dict[str, TableFiles]
    _lazy: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name in self.tables:
            return self.tables[name]
        if name not in self._lazy:
            label = self.files[name].label
            frame, problems, origin = _load_one(name, self.files[name])
            if frame is not None:
                data = {**self.tables, name: frame}
                origins = {name: origin} if origin is not None else None
                problems += check_references(
                    TABLES, data, {name: label}, only=(name,), origins=origins
                )
            if problems or frame is None:
                raise DataError(problems)
            self._lazy[name] = frame
        return self._lazy[name]

    def with_rows(self, name: str, keep: Callable[[pd.DataFrame], pd.Series]) -> Dataset:
        """A copy whose table ``name`` holds only the rows ``keep`` marks (e.g. what a worker
        needs of a large table); the other tables are shared, not copied."""
        frame = self[name]
        return self.with_table(name, frame[keep(frame)])

    def with_table(self, name: str, frame: pd.DataFrame) -> Dataset:
        """A copy whose table ``name`` is ``frame`` (e.g. a parameter changed for a
        sensitivity run); the other tables are shared, not copied."""
        lazy = {**self._lazy}
        tables = {**self.tables}
        (tables if name in self.tables else lazy)[name] = frame
        return Dataset(tables, self.files, lazy)

    @property
    def source(self) -> str:
        """Where the tables came from (for run records)."""
        dirs = sorted({str(f.base.parent) for f in self.files.values()})
        return "; ".join(dirs)


def collect(
    user_dir: Path | None = None, *, base_dir: Path | None = None, include_lazy: bool = False
) -> tuple[Dataset | None, list[Problem]]:
    """Load and check every table; return the dataset (None if any problem) and all problems.

    ``base_dir`` holds a complete set of tables (the bundled ones by default); ``user_dir``
    overrides or extends it table by table.
    """
    files, problems = _locate(user_dir, base_dir or bundled_dir())
    data: dict[str, pd.DataFrame] = {}
    origins: dict[str, RowOrigin] = {}
    for name in LOAD_ORDER:
        if TABLES[name].lazy and not include_lazy:
            continue
        frame, found, origin = _load_one(name, files[name])
        problems += found
        if frame is not None:
            data[name] = frame
        if origin is not None:
            origins[name] = origin
    # the bundled tables alone: their cross-references are checked once per data and code
    # version (table_cache), not on every start
    used = [files[n].base for n in data]
    bundled_only = user_dir is None and base_dir is None and not problems
    if not (bundled_only and table_cache.references_checked(used)):
        found = check_references(TABLES, data, {n: files[n].label for n in data}, origins=origins)
        problems += found
        if bundled_only and not found:
            table_cache.mark_references_checked(used)
    if problems:
        return None, problems
    eager = {n: f for n, f in data.items() if not TABLES[n].lazy}
    lazy = {n: f for n, f in data.items() if TABLES[n].lazy}
    return Dataset(eager, files, lazy), problems


def load(user_dir: Path | None = None) -> Dataset:
    """Load the bundled data (overlaid by ``user_dir``); raise DataError naming every problem."""
    dataset, problems = collect(user_dir)
    if dataset is None:
        raise DataError(problems)
    return dataset
