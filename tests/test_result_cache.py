"""The on-disk cache of ``critmin exposure``'s table (``critmin.data.result_cache``): a hit
prints what a fresh computation prints, any change of data, code or arguments misses, a user
data folder and ``off`` are never cached, a damaged entry is computed afresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from critmin import cli
from critmin.data import load as loader
from critmin.data import result_cache, table_cache
from critmin.schema.tables import TABLES

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
    monkeypatch.setenv(table_cache.ENV, str(tmp_path))
    first = result_cache.key("exposure", ["cobalt"], [], None)
    assert first is not None
    assert result_cache.key("exposure", ["cobalt"], [], None) == first
    assert result_cache.key("exposure", ["cobalt"], [], 2023) != first
    assert result_cache.key("exposure", ["lithium"], [], None) != first
    monkeypatch.setattr(result_cache, "code_key", lambda: "another version of critmin")
    assert result_cache.key("exposure", ["cobalt"], [], None) != first
    monkeypatch.undo()
    monkeypatch.setenv(table_cache.ENV, str(tmp_path))
    bundled = tmp_path / "bundled"
    shutil.copytree(loader.bundled_dir(), bundled)
    monkeypatch.setattr(loader, "bundled_dir", lambda: bundled)
    assert result_cache.key("exposure", ["cobalt"], [], None) == first  # the same bytes
    table = bundled / TABLES["minerals"].file
    table.write_bytes(table.read_bytes() + b"\n")  # one byte more: other data
    assert result_cache.key("exposure", ["cobalt"], [], None) != first
    table.unlink()
    assert result_cache.key("exposure", ["cobalt"], [], None) is None


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
