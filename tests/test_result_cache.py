"""The on-disk cache of ``critmin exposure``'s table (``critmin.data.result_cache``): a hit
prints what a fresh computation prints, any change of data, code or arguments misses, a user
data folder and ``off`` are never cached, a damaged entry is computed afresh."""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from click.testing import CliRunner

from critmin import cli
from critmin.data import result_cache, table_cache
from critmin.schema.tables import TABLES
from critmin.simulate import output
from critmin.web.state import WebSettings, WebState

ARGS = ["exposure", "--format", "csv", "--mineral", "cobalt,lithium"]


def run(*args: str) -> str:
    done = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.output


def test_a_hit_prints_what_a_fresh_computation_prints(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(table_cache.ENV, "off")
    fresh = {fmt: run(*ARGS[:2], fmt, *ARGS[3:]) for fmt in ("csv", "json", "table")}
    monkeypatch.setenv(table_cache.ENV, str(tmp_path))
    run(*ARGS)  # computes and stores
    assert len(list((tmp_path / "results").glob("exposure-*.pickle"))) == 1
    computed: list[object] = []
    real = cli._chain
    monkeypatch.setattr(cli, "_chain", lambda ctx: computed.append(ctx) or real(ctx))
    for fmt, expected in fresh.items():
        assert run(*ARGS[:2], fmt, *ARGS[3:]) == expected
    assert computed == []  # every format came from the one entry
    run("exposure", "--format", "csv", "--mineral", "cobalt")  # other arguments: computed
    assert len(computed) == 1
    assert len(list((tmp_path / "results").glob("exposure-*.pickle"))) == 2


def test_data_code_and_arguments_are_in_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(table_cache.ENV, str(tmp_path / "cache"))
    package = tmp_path / "critmin"
    shutil.copytree(result_cache.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(result_cache, "PACKAGE", package)  # a copy: the same stamps
    first = result_cache.key("exposure", ["cobalt"], [], None)
    assert first is not None
    assert result_cache.key("exposure", ["cobalt"], [], None) == first
    assert result_cache.key("exposure", ["cobalt"], [], 2023) != first
    assert result_cache.key("exposure", ["lithium"], [], None) != first
    assert result_cache.key("rank", ["cobalt"], [], None) != first
    (package / "metrics" / "__pycache__").mkdir(exist_ok=True)
    (package / "metrics" / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    assert result_cache.key("exposure", ["cobalt"], [], None) == first  # not code
    keys = {first}
    table = package / "data" / "bundled" / TABLES["minerals"].file
    table.write_bytes(table.read_bytes() + b"\n")  # one byte more: other data
    keys.add(result_cache.key("exposure", ["cobalt"], [], None))
    module = package / "metrics" / "exposure.py"
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 1))  # an edit
    keys.add(result_cache.key("exposure", ["cobalt"], [], None))
    (package / "metrics" / "extra.py").write_text("")  # a new module
    keys.add(result_cache.key("exposure", ["cobalt"], [], None))
    (package / "data" / "bundled" / TABLES["minerals"].file).unlink()  # a table gone
    keys.add(result_cache.key("exposure", ["cobalt"], [], None))
    assert len(keys) == 5
    monkeypatch.setattr(result_cache, "_versions", lambda: "another pandas")
    assert result_cache.key("exposure", ["cobalt"], [], None) not in keys


def test_a_damaged_entry_off_and_a_data_folder_are_not_served(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, small_dir: Path
) -> None:
    monkeypatch.setenv(table_cache.ENV, str(tmp_path))
    name = result_cache.key("exposure", ["x"], [], None)
    frame = pd.DataFrame({"mineral": ["x"]})
    frame.attrs["units"] = {"mineral": "id"}
    result_cache.put(name, frame)
    hit = result_cache.get(name)
    assert hit is not None
    pd.testing.assert_frame_equal(hit, frame)
    assert hit.attrs == frame.attrs
    (entry,) = (tmp_path / "results").glob("exposure-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert result_cache.get(name) is None
    entry.unlink()
    run("--data", str(small_dir), "exposure", "--format", "csv")
    assert list((tmp_path / "results").glob("*.pickle")) == []  # a user's folder: not kept
    monkeypatch.setenv(table_cache.ENV, "off")
    assert result_cache.key("exposure", ["x"], [], None) is None
    result_cache.put(None, frame)
    assert result_cache.get(None) is None


def test_the_web_analyses_are_keyed_on_the_code_as_well_as_the_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An upgraded (or edited) critmin on the same data must not serve the ranking an older one
    cached: the web application's cache file changes with critmin's version and its files."""
    monkeypatch.setattr(output, "data_version", lambda ds: "d" * 16)  # the same data throughout
    package = tmp_path / "critmin"
    shutil.copytree(result_cache.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(result_cache, "PACKAGE", package)

    def cache_file() -> Path:
        state = WebState(WebSettings(cache=tmp_path / "cache"))
        monkeypatch.setattr(state, "chain", lambda: SimpleNamespace(dataset=None))
        found = state._cache_file("rank", 10)
        assert found is not None
        return found

    first = cache_file()
    first.parent.mkdir(parents=True)
    first.write_text('[{"mineral": "cobalt"}]', encoding="utf-8")
    assert cache_file() == first  # same data, same code: served from the cache
    real = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: "99.0" if name == "critmin" else real(name)
    )
    upgraded = cache_file()
    assert upgraded != first
    monkeypatch.setattr(metadata, "version", real)
    module = package / "simulate" / "rank.py"
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 1))  # an edit
    assert cache_file() not in {first, upgraded}
