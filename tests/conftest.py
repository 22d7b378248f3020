"""Shared fixtures: the bundled chain (loaded once), the small world, and a chain built from
tables a test writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from critmin.chain import SupplyChain
from critmin.data.build import write_tables
from critmin.data.load import collect
from critmin.examples import write_small_world

#: ``chain_from_tables(tables, folder)``: the chain of ``tables`` written to ``folder``
ChainFromTables = Callable[[dict[str, pd.DataFrame], Path], SupplyChain]


def pytest_configure(config: pytest.Config) -> None:
    """The tests (and the CLI processes they start) keep the checked-table cache in a folder of
    their own, never the user's ``~/.cache``."""
    os.environ.setdefault("CRITMIN_CACHE_DIR", tempfile.mkdtemp(prefix="critmin-test-cache-"))


@pytest.fixture(scope="session")
def bundled() -> SupplyChain:
    return SupplyChain.load()


@pytest.fixture
def small_dir(tmp_path: Path) -> Path:
    return write_small_world(tmp_path / "small")


def _chain_of(folder: Path) -> SupplyChain:
    """The chain of the data folder ``folder``, its tables checked as the product checks them."""
    dataset, problems = collect(base_dir=folder)
    assert dataset is not None, problems
    return SupplyChain.from_dataset(dataset)


@pytest.fixture
def small(small_dir: Path) -> SupplyChain:
    return _chain_of(small_dir)


@pytest.fixture
def chain_from_tables() -> ChainFromTables:
    """Write a test's tables to a folder as the build does, check them and build the chain."""

    def build(tables: dict[str, pd.DataFrame], folder: Path) -> SupplyChain:
        write_tables(tables, folder)
        return _chain_of(folder)

    return build
