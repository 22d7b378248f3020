"""An on-disk cache of the checked bundled tables, so a command need not parse and validate
the same CSV on every start (about a quarter of a second for ``critmin exposure``).

An entry is the checked frame of one bundled table that passed every check, pickled under a
key of the file's bytes (SHA-256) and of the code that checks it (the sources of
``critmin.schema`` and ``critmin.data.load``, this module, and the versions of Python, pandas
and numpy): a rebuilt table, a changed declaration or rule, or another pandas misses and is
checked afresh. A table with a problem is never cached (its problems are found again, as
before); user tables are never cached. An empty marker file likewise records that the
cross-references of one exact set of bundled files (under the same code) are sound, so they
are not checked again. Entries are written atomically (a reader sees a whole file or none);
an unreadable entry is ignored and rewritten.

Where: ``$CRITMIN_CACHE_DIR/tables`` if set, else ``$XDG_CACHE_HOME/critmin/tables`` or
``~/.cache/critmin/tables``. ``CRITMIN_CACHE_DIR=off`` turns the cache off; a folder that
cannot be written only means no cache.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

#: The environment variable naming the cache folder (``off``: no cache).
ENV = "CRITMIN_CACHE_DIR"
#: Entries of other versions (another checkout, an older table) not written for this many
#: seconds are removed when a new entry of the same table is written.
STALE_S = 86_400


def folder() -> Path | None:
    """Where entries live, or None when the cache is off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in {"", "off", "0", "no"} else Path(chosen) / "tables"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "critmin" / "tables"


@cache
def code_key() -> str:
    """A digest of everything that decides what a checked table holds."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    sources = sorted((here.parent / "schema").glob("*.py"))
    for path in [*sources, here / "load.py", Path(__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(f"{sys.version}|{pd.__version__}|{np.__version__}".encode())
    return digest.hexdigest()


@cache
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    """SHA-256 of a file's bytes (once per process and file version)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _key(paths: list[Path]) -> str:
    digest = hashlib.sha256(code_key().encode())
    for path in paths:
        stat = path.stat()
        digest.update(_file_digest(path, stat.st_mtime_ns, stat.st_size).encode())
    return digest.hexdigest()[:40]


def _entry(name: str, path: Path) -> Path | None:
    where = folder()
    return None if where is None else where / f"{name}-{_key([path])}.pickle"


def _references(paths: list[Path]) -> Path | None:
    where = folder()
    return None if where is None else where / f"references-{_key(sorted(paths))}.ok"


def references_checked(paths: list[Path]) -> bool:
    """Whether the cross-references of exactly these bundled table files (each loaded from
    the cache or checked) were found sound before, by this checking code."""
    marker = _references(paths)
    return marker is not None and marker.is_file()


def mark_references_checked(paths: list[Path]) -> None:
    """Note that the cross-references of these bundled table files are sound."""
    marker = _references(paths)
    if marker is None:
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        marker.touch()
    except OSError:
        return


def get(name: str, path: Path) -> pd.DataFrame | None:
    """The cached checked frame of bundled table ``name`` read from ``path``, if any."""
    return read_entry(_entry(name, path))


def read_entry(entry: Path | None) -> pd.DataFrame | None:
    """The frame pickled at ``entry`` (by :func:`write_entry`), or None where there is none,
    or it is damaged or not a frame (the caller computes afresh and rewrites it)."""
    if entry is None or not entry.is_file():
        return None
    try:
        with entry.open("rb") as handle:
            frame = pickle.load(handle)  # our own entry, in the user's cache
    except Exception:  # a damaged entry
        return None
    return frame if isinstance(frame, pd.DataFrame) else None


def put(name: str, path: Path, frame: pd.DataFrame) -> None:
    """Store the checked ``frame`` (best effort: an unwritable folder means no cache)."""
    entry = _entry(name, path)
    if entry is not None:
        write_entry(entry, name, frame)


def write_entry(entry: Path, name: str, frame: pd.DataFrame) -> None:
    """Pickle ``frame`` to ``entry`` atomically and drop this name's entries of other versions
    unused for a day (best effort: an unwritable folder means no cache)."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, tmp = tempfile.mkstemp(dir=entry.parent, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(frame, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
        finally:
            Path(tmp).unlink(missing_ok=True)
        stale = time.time() - STALE_S
        for old in entry.parent.glob(f"{name}-*.pickle"):  # other versions, unused a day
            if old != entry and old.stat().st_mtime < stale:
                old.unlink(missing_ok=True)
    except OSError:
        return
