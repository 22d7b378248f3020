"""The benchmarks use critmin's public API only: a figure a doc quotes must be reproducible
with what a user can call, and a private helper may change without notice."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
#: The only private names a benchmark may reach: two that time internals on purpose (one Dask
#: chunk against the same chunk in-process; the ledger's append against a plain SQLite loop)
#: and have no public equivalent. Any other private use, here or elsewhere, fails.
INTERNALS = {
    "bench_dask.py": {"runner._chunk", "runner._Context", "runner._Item", "runner._build"},
    "bench_ledger.py": {"from critmin.ledger.service import _row", "Ledger._event"},
}


def private_uses(source: str) -> list[str]:
    """``from critmin... import _name``, a private module on the way, or ``x._name``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("critmin"):
            module = str(node.module)
            private_module = any(p.startswith("_") for p in module.split("."))
            out += [
                f"{node.lineno}: from {module} import {a.name}"
                for a in node.names
                if private_module or a.name.startswith("_")
            ]
        elif isinstance(node, ast.Attribute) and re.match(r"_(?!_)", node.attr):
            out.append(f"{node.lineno}: {ast.unparse(node)}")
    return out


def test_the_check_sees_a_private_import() -> None:
    assert private_uses("from critmin.optimize.sensitivity import _spend, moved_share") == [
        "1: from critmin.optimize.sensitivity import _spend"
    ]
    assert private_uses("import critmin.x as x\nx._y()") == ["2: x._y"]
    assert private_uses("from critmin.a import b\nb.__name__") == []


@pytest.mark.parametrize("path", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_a_benchmark_calls_only_public_names(path: Path) -> None:
    used = {u.split(": ", 1)[1] for u in private_uses(path.read_text(encoding="utf-8"))}
    assert used <= INTERNALS.get(path.name, set())
