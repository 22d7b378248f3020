"""An on-disk cache of a read-only command's table computed from the bundled data alone, so
``critmin exposure`` need not import xarray, build the chain and compute the same table on
every start (about 0.3 s of its 0.5-0.6 s beyond importing numpy and pandas).

An entry is the computed frame, pickled under a key of everything it is a function of: the
bytes of every bundled table file (SHA-256, as ``table_cache`` keys them), the source of every
module of the ``critmin`` package (any code change misses), the versions of Python, numpy,
pandas and xarray, the command's name and its arguments. Only the bundled data are cached
(never a run with ``--data``), and only a computation that succeeded (errors are found and
reported afresh). It lives beside the table cache (``table_cache.folder()``'s parent,
``results/``), is written atomically, and a damaged entry is ignored and rewritten;
``CRITMIN_CACHE_DIR=off`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import time
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from critmin.data import load as loader
from critmin.data import table_cache
from critmin.schema.tables import TABLES

#: The package whose sources key every entry.
PACKAGE = Path(__file__).parents[1]


@cache
def code_key() -> str:
    """A digest of every critmin module and of the libraries a computed table depends on."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    try:
        xarray = metadata.version("xarray")
    except metadata.PackageNotFoundError:
        xarray = "-"
    digest.update(f"{sys.version}|{np.__version__}|{pd.__version__}|{xarray}".encode())
    return digest.hexdigest()


def _bundled_files() -> list[Path]:
    return sorted(loader.bundled_dir() / t.file for t in TABLES.values())


def key(command: str, *args: object) -> str | None:
    """The entry name of ``command`` run with ``args`` on the bundled data (None when the
    cache is off or a bundled file is missing)."""
    if table_cache.folder() is None:
        return None
    digest = hashlib.sha256(f"{code_key()}|{command}|{args!r}".encode())
    for path in _bundled_files():
        try:
            stat = path.stat()
        except OSError:
            return None
        digest.update(path.name.encode() + b"\0")
        digest.update(table_cache.file_digest(path, stat.st_mtime_ns, stat.st_size).encode())
    return f"{command}-{digest.hexdigest()[:40]}"


def _entry(name: str) -> Path | None:
    where = table_cache.folder()
    return None if where is None else where.parent / "results" / f"{name}.pickle"


def get(name: str | None) -> pd.DataFrame | None:
    """The cached frame stored under ``name``, if any."""
    entry = None if name is None else _entry(name)
    if entry is None or not entry.is_file():
        return None
    try:
        with entry.open("rb") as handle:
            frame = pickle.load(handle)  # our own entry, in the user's cache
    except Exception:  # a damaged entry: compute afresh and rewrite it
        return None
    return frame if isinstance(frame, pd.DataFrame) else None


def put(name: str | None, frame: pd.DataFrame) -> None:
    """Store ``frame`` under ``name`` (best effort: an unwritable folder means no cache)."""
    entry = None if name is None else _entry(name)
    if entry is None:
        return
    command = entry.name.split("-", 1)[0]
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, tmp = tempfile.mkstemp(dir=entry.parent, prefix=f".{command}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(frame, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
        finally:
            Path(tmp).unlink(missing_ok=True)
        stale = time.time() - table_cache.STALE_S
        for old in entry.parent.glob(f"{command}-*.pickle"):  # other versions, unused a day
            if old != entry and old.stat().st_mtime < stale:
                old.unlink(missing_ok=True)
    except OSError:
        return
