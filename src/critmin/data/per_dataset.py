"""A value derived from a Dataset, computed once per dataset and held no longer than it.

The engines derive a few things from a loaded dataset many times over (shock years, reference
prices, BACI rows by stage, the input-output model, trade parameters). Each is computed on first
use and kept, keyed weakly on the dataset: when the last reference to a dataset goes, so do its
derived values, and a long-lived process (the API or web server) that loads several datasets
does not keep the ones it dropped. A value must not refer back to its dataset, or the dataset
would keep itself alive.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from critmin.data.load import Dataset

T = TypeVar("T")


class DatasetMemo(Generic[T]):
    """Values held per dataset, weakly, with nothing to build them: ``set`` stores a value
    computed where its inputs are at hand (SupplyChain.model_production reads the chain's
    arrays), ``get`` returns it while the dataset lives."""

    def __init__(self) -> None:
        self._values: WeakKeyDictionary[Dataset, T] = WeakKeyDictionary()

    def get(self, ds: Dataset) -> T | None:
        """The value held for ``ds``, if any, without building it."""
        return self._values.get(ds)

    def set(self, ds: Dataset, value: T) -> None:
        self._values[ds] = value

    def __len__(self) -> int:
        """How many datasets hold a value now."""
        return len(self._values)


class PerDataset(DatasetMemo[T]):
    """``build(ds)`` once per dataset (``per_dataset`` as a decorator); ``set`` stores a value
    computed elsewhere (a worker adopting its caller's)."""

    def __init__(self, build: Callable[[Dataset], T]) -> None:
        super().__init__()
        self._build = build
        update_wrapper(self, build)

    def __call__(self, ds: Dataset) -> T:
        try:
            return self._values[ds]
        except KeyError:
            value = self._values[ds] = self._build(ds)
            return value


def per_dataset(build: Callable[[Dataset], T]) -> PerDataset[T]:
    """Decorate ``build(ds)`` so it runs once per dataset (weakly held: see the module)."""
    return PerDataset(build)
