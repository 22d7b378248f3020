"""Shared fixtures: the bundled chain (loaded once) and the small world."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from critmin.chain import SupplyChain
from critmin.data.load import collect
from critmin.examples import write_small_world


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


@pytest.fixture
def small(small_dir: Path) -> SupplyChain:
    dataset, problems = collect(base_dir=small_dir)
    assert dataset is not None, problems
    return SupplyChain.from_dataset(dataset)
