"""Shared fixtures: the bundled chain (loaded once) and the small world."""

from __future__ import annotations

from pathlib import Path

import pytest

from critmin.chain import SupplyChain
from critmin.data.load import collect
from critmin.examples import write_small_world


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
