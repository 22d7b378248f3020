"""Keep xarray from importing dask when nothing in the process uses it.

xarray asks ``isinstance(data, dask.array.Array)`` whenever it wraps an array, and to do so it
imports ``dask.array`` (about 0.4 s with scipy.sparse behind it) as soon as dask is installed,
even in a command that never builds a dask array. A dask array can only exist once
``dask.array`` has been imported, so the check can wait until then: ``defer()`` gives xarray a
stand-in for its cached "dask" entry whose array type answers False while ``dask.array`` is not
loaded and asks the real class once it is. The version and module are looked up on demand;
likewise "is this a dask collection?" is False while dask itself is not loaded.
"""

from __future__ import annotations

import sys
from typing import Any


class _DaskArrayType(type):
    def __instancecheck__(cls, obj: object) -> bool:
        module = sys.modules.get("dask.array")
        return module is not None and isinstance(obj, module.Array)

    def __subclasscheck__(cls, sub: type) -> bool:
        module = sys.modules.get("dask.array")
        return module is not None and issubclass(sub, module.Array)


class DaskArray(metaclass=_DaskArrayType):
    """Stands for ``dask.array.Array`` in isinstance checks without importing dask."""


class _DeferredDask:
    """xarray's ``DuckArrayModule("dask")`` with the import put off until it is needed."""

    type = (DaskArray,)

    def __init__(self, real: Any) -> None:
        self._factory = real
        self._real: Any = None

    def _load(self) -> Any:
        if self._real is None:
            self._real = self._factory("dask")
        return self._real

    @property
    def module(self) -> Any:
        return self._load().module

    @property
    def version(self) -> Any:
        return self._load().version

    @property
    def available(self) -> bool:
        return bool(self._load().available)


def defer() -> bool:
    """Install the stand-in (before xarray first looks dask up); True if it was installed.

    Does nothing once dask is loaded or if xarray's internals are not as expected."""
    if "dask" in sys.modules:
        return False
    try:
        from xarray.namedarray import pycompat  # noqa: PLC0415
    except ImportError:
        return False
    from xarray.namedarray import utils  # noqa: PLC0415

    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    factory = getattr(pycompat, "DuckArrayModule", None)
    check = getattr(utils, "is_dask_collection", None)
    if not isinstance(cache, dict) or factory is None or check is None or "dask" in cache:
        return False
    cache["dask"] = _DeferredDask(factory)

    def is_dask_collection(x: object) -> bool:
        return "dask" in sys.modules and bool(check(x))

    utils.is_dask_collection = is_dask_collection  # type: ignore[assignment]
    return True
