"""What is derived from a dataset is held no longer than the dataset (critmin.data.per_dataset).

A long-lived server that loads several datasets must not keep the ones it dropped: the caches
of shock years, reference prices, BACI rows by stage, the IO model and trade parameters were
module-level dicts holding each dataset strongly, for the life of the process."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from pathlib import Path

from critmin.chain import SupplyChain
from critmin.data.load import Dataset, collect
from critmin.data.per_dataset import per_dataset
from critmin.economics.io import io_model
from critmin.economics.price import shock_years_of_dataset
from critmin.examples import small_world_tables
from critmin.scenarios.probability import trade_parameter
from critmin.simulate.model import build_model, reference_prices_of, trade_by_stage


def _use_every_cache(chain: SupplyChain) -> weakref.ref[Dataset]:
    dataset = chain.dataset
    assert shock_years_of_dataset(dataset) is shock_years_of_dataset(dataset)  # computed once
    assert reference_prices_of(chain) is reference_prices_of(chain)
    assert trade_by_stage(dataset) is trade_by_stage(dataset)
    assert io_model(dataset) is io_model(dataset)
    trade_parameter(dataset, "CHN", "cobalt")
    assert chain.model_production() is chain.model_production()
    build_model(chain, "cobalt")
    return weakref.ref(dataset)


def test_a_dataset_is_released_after_its_last_reference(
    chain_from_tables: Callable[..., SupplyChain], tmp_path: Path
) -> None:
    ref = _use_every_cache(chain_from_tables(small_world_tables(), tmp_path / "small"))
    gc.collect()
    assert ref() is None


def test_a_value_is_computed_once_per_live_dataset(small_dir: Path) -> None:
    calls: list[int] = []

    @per_dataset
    def tables(ds: Dataset) -> int:
        calls.append(1)
        return len(ds.tables)

    first, _ = collect(base_dir=small_dir)
    second, _ = collect(base_dir=small_dir)
    assert first is not None
    assert second is not None
    assert tables(first) == tables(first) == tables(second)
    assert len(calls) == 2  # once per dataset, though the two are alike
    assert len(tables) == 2
    del first
    gc.collect()
    assert len(tables) == 1
