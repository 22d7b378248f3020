"""The on-disk cache of checked bundled tables (``critmin.data.table_cache``): a hit equals a
fresh check, a changed file or a damaged entry misses, ``off`` writes nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from critmin.data import load as loader
from critmin.data import table_cache
from critmin.schema.tables import TABLES


def fresh(monkeypatch: pytest.MonkeyPatch, where: str) -> loader.Dataset:
    """The dataset as a new process would load it, with the cache at ``where``."""
    monkeypatch.setenv(table_cache.ENV, where)
    monkeypatch.setattr(loader, "_BUNDLED", {})
    return loader.load()


def test_a_cached_table_equals_a_fresh_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    checked = fresh(monkeypatch, "off")
    assert not list(tmp_path.iterdir())
    fresh(monkeypatch, str(tmp_path))  # writes the entries
    entries = sorted((tmp_path / "tables").glob("*.pickle"))
    assert {e.name.split("-")[0] for e in entries} == set(checked.tables)
    calls: list[str] = []
    real = loader._check_files

    def counted(name: str, files: loader.TableFiles) -> object:
        calls.append(name)
        return real(name, files)

    def references(*args: object, **kw: object) -> object:
        calls.append("references")
        return real_references(*args, **kw)  # type: ignore[arg-type]

    real_references = loader.check_references
    monkeypatch.setattr(loader, "_check_files", counted)
    monkeypatch.setattr(loader, "check_references", references)
    cached = fresh(monkeypatch, str(tmp_path))
    assert calls == []  # every table, and the cross-references, came from the cache
    monkeypatch.setattr(loader, "_BUNDLED", {})
    overlay = tmp_path / "mine"
    overlay.mkdir()
    loader.load(overlay)  # a user's folder (even empty): the references are checked again
    assert calls == ["references"]
    for name, frame in checked.tables.items():
        pd.testing.assert_frame_equal(cached.tables[name], frame, check_exact=True)
        assert cached.tables[name].attrs == frame.attrs


def test_a_changed_file_or_a_damaged_entry_misses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(table_cache.ENV, str(tmp_path))
    source = loader.bundled_dir() / TABLES["minerals"].file
    copy = tmp_path / "minerals.csv"
    copy.write_bytes(source.read_bytes())
    frame = pd.DataFrame({"id": ["a"]})
    table_cache.put("minerals", copy, frame)
    hit = table_cache.get("minerals", copy)
    assert hit is not None
    pd.testing.assert_frame_equal(hit, frame)
    copy.write_bytes(source.read_bytes() + b"\n")  # one byte more: another table
    assert table_cache.get("minerals", copy) is None
    copy.write_bytes(source.read_bytes())
    (entry,) = (tmp_path / "tables").glob("minerals-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert table_cache.get("minerals", copy) is None


def test_off_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("off", "0", ""):
        monkeypatch.setenv(table_cache.ENV, value)
        assert table_cache.folder() is None
