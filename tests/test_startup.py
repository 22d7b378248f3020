"""Start-up: a command imports only what it needs (checked in a fresh interpreter, not timed)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("dask", "distributed", "linopy", "fastapi", "sqlalchemy", "highspy", "pyomo")

PROBE = """
import json, sys
from critmin.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
roots = sorted({m.split(".")[0] for m in sys.modules})
sys.stderr.write("\\nMODULES " + json.dumps({"code": code, "roots": roots}) + "\\n")
"""


def loaded(*args: str) -> tuple[int, set[str]]:
    """The exit code of ``critmin ARGS`` and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("MODULES ")][-1]
    found = json.loads(line.removeprefix("MODULES "))
    return int(found["code"] or 0), set(found["roots"])


def test_exposure_imports_no_dask_linopy_or_fastapi() -> None:
    code, roots = loaded("exposure", "--mineral", "cobalt", "--format", "csv")
    assert code == 0
    assert "xarray" in roots  # the probe saw the command's real work
    assert not roots & set(HEAVY), sorted(roots & set(HEAVY))


def test_help_imports_no_numerics() -> None:
    code, roots = loaded("--help")
    assert code == 0
    heavy = {"numpy", "pandas", "xarray", *HEAVY}
    assert not roots & heavy, sorted(roots & heavy)


def test_xarray_still_knows_dask_arrays_once_dask_is_loaded() -> None:
    """The deferred dask check must not hide a real dask array from xarray."""
    code = """
from critmin import lazydask
assert lazydask.defer()
import xarray as xr
import numpy as np
plain = xr.DataArray(np.arange(4.0), dims="x")
assert plain.chunks is None
import dask.array as da
lazy = xr.DataArray(da.arange(4.0, chunks=2), dims="x")
assert lazy.chunks == ((2, 2),), lazy.chunks
assert float(lazy.sum().compute()) == 6.0
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "ok", done.stderr
