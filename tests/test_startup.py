"""Start-up: a command imports only what it needs (checked in a fresh interpreter, not timed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from critmin.cli import main

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


def loaded(*args: str, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """The exit code of ``critmin ARGS`` and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("MODULES ")][-1]
    found = json.loads(line.removeprefix("MODULES "))
    return int(found["code"] or 0), set(found["roots"])


def test_exposure_imports_no_dask_linopy_or_fastapi(tmp_path: Path) -> None:
    args = ("exposure", "--mineral", "cobalt", "--format", "csv")
    code, roots = loaded(*args, env={"CRITMIN_CACHE_DIR": "off"})
    assert code == 0
    assert "xarray" in roots  # the probe saw the command's real work
    assert not roots & set(HEAVY), sorted(roots & set(HEAVY))
    cache = {"CRITMIN_CACHE_DIR": str(tmp_path)}
    assert loaded(*args, env=cache)[0] == 0  # computes the table and keeps it
    code, roots = loaded(*args, env=cache)
    assert code == 0
    assert "xarray" not in roots  # the kept table: no chain built (data.result_cache)
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


def test_the_critmin_program_ends_exposure_early_without_losing_output() -> None:
    """``critmin exposure`` run as the program skips the interpreter's teardown
    (``cli._quick_exit``): its output and exit code are those of the command run in-process,
    and an error still ends in one line and exit 2."""
    program = Path(sys.executable).with_name("critmin")
    if not program.exists():
        pytest.skip("no critmin program next to this interpreter")
    for args in (["exposure"], ["exposure", "--format", "json", "--mineral", "cobalt"]):
        done = subprocess.run(
            [str(program), *args], check=False, capture_output=True, text=True, timeout=120
        )
        inside = CliRunner().invoke(main, args, catch_exceptions=False)
        assert (done.returncode, done.stdout) == (0, inside.output)
    bad = subprocess.run(
        [str(program), "exposure", "--mineral", "nope"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("critmin: ")
    assert bad.stdout == ""
