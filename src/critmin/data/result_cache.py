"""An on-disk cache of a read-only command's table computed from the bundled data alone, so
``critmin exposure`` need not check the tables, import xarray, build the chain and compute the
same table on every start.

An entry is the computed frame, pickled under a key of everything it is a function of
(``code_id``): critmin's installed version, every file of the installed ``critmin`` package
(its modules, the bundled tables, the scenario library; each by path, size and modification
time, so any edit, rebuild or checkout misses), the versions of Python, numpy, pandas and
xarray, the command's name and its arguments. Only the bundled data are cached (never a run
with ``--data``), and only a computation that succeeded (errors are found and reported
afresh). Stamps, not the files' bytes, key it: hashing the 8 MB of bundled tables would cost
more than the rest of a hit (``table_cache``, which runs on a miss, keys by the bytes). It
lives beside the table cache (``table_cache.folder()``'s parent, ``results/``), is written
atomically, and a damaged entry is ignored and rewritten; ``CRITMIN_CACHE_DIR=off`` turns it
off.
"""

from __future__ import annotations

import hashlib
import sys
from importlib import metadata
from pathlib import Path
from stat import S_ISREG

import numpy as np
import pandas as pd

from critmin.data import table_cache

#: The package whose every file keys every entry.
PACKAGE = Path(__file__).parents[1]


def _versions() -> str:
    try:
        xarray = metadata.version("xarray")
    except metadata.PackageNotFoundError:
        xarray = "-"
    return f"{sys.version}|{np.__version__}|{pd.__version__}|{xarray}"


def key(command: str, *args: object) -> str | None:
    """The entry name of ``command`` run with ``args`` on the bundled data (None when the
    cache is off)."""
    if table_cache.folder() is None:
        return None
    digest = hashlib.sha256(f"{code_id()}|{command}|{args!r}".encode())
    return f"{command}-{digest.hexdigest()[:40]}"


def code_id() -> str:
    """A digest of the code and bundled data a result is computed with: critmin's installed
    version, the versions of Python, numpy, pandas and xarray, and every file of the installed
    package by path, size and modification time (an upgrade, an edit, a rebuild or a checkout
    changes it). Keys this cache and the web application's analyses (critmin.web.state)."""
    try:
        own = metadata.version("critmin")
    except metadata.PackageNotFoundError:
        own = "-"
    digest = hashlib.sha256(f"critmin {own}|{_versions()}".encode())
    for path in sorted(PACKAGE.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        try:
            found = path.stat()
        except OSError:  # gone while we looked
            continue
        stamp = f"{found.st_size}|{found.st_mtime_ns}" if S_ISREG(found.st_mode) else "folder"
        digest.update(f"{path.relative_to(PACKAGE)}|{stamp}\n".encode())
    return digest.hexdigest()


def _entry(name: str) -> Path | None:
    where = table_cache.folder()
    return None if where is None else where.parent / "results" / f"{name}.pickle"


def get(name: str | None) -> pd.DataFrame | None:
    """The cached frame stored under ``name``, if any (a damaged one: none, so the command
    computes afresh and rewrites it)."""
    return table_cache.read_entry(None if name is None else _entry(name))


def put(name: str | None, frame: pd.DataFrame) -> None:
    """Store ``frame`` under ``name`` (best effort: an unwritable folder means no cache)."""
    entry = None if name is None else _entry(name)
    if entry is None:
        return
    table_cache.write_entry(entry, entry.name.split("-", 1)[0], frame)
