"""The plain-text tables (``critmin.report.plain_table``) are character for character what rich
prints: the CLI's own tables and seeded random ones (long and short words, wide and narrow
tables, headers that wrap, cells that would wrap and so go to rich)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from critmin import cli
from critmin.report import plain_table


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of tables the plain renderer laid out and of those it passed to rich."""
    counts = {"plain": 0, "rich": 0}
    real = plain_table.render

    def render(*args: Any, **kw: Any) -> str | None:
        out = real(*args, **kw)
        counts["plain" if out is not None else "rich"] += 1
        return out

    monkeypatch.setattr(plain_table, "render", render)
    return counts


def both(monkeypatch: pytest.MonkeyPatch, show: Any) -> tuple[str, str]:
    """What ``show()`` prints with the plain renderer allowed, and with rich only."""
    outs = []
    for allowed in (True, False):
        monkeypatch.setattr(cli, "_plain_output", lambda allowed=allowed: allowed)
        outs.append(show())
    return outs[0], outs[1]


@pytest.mark.parametrize(
    "args",
    [
        ["exposure"],
        ["exposure", "--mineral", "cobalt,lithium", "--stage", "mining"],
        ["exposure", "--year", "2020"],
        ["minerals"],
        ["sources"],
    ],
)
def test_cli_tables_match_rich(
    monkeypatch: pytest.MonkeyPatch, spy: dict[str, int], args: list[str]
) -> None:
    def show() -> str:
        done = CliRunner().invoke(cli.main, args, catch_exceptions=False)
        assert done.exit_code == 0, done.output
        return done.output

    plain, rich = both(monkeypatch, show)
    assert plain == rich
    if args[0] == "exposure":
        assert spy == {"plain": 1, "rich": 0}  # the renderer laid it out (not a fall-back to rich)


def test_random_tables_match_rich(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], spy: dict[str, int]
) -> None:
    rng = np.random.default_rng(20261202)
    letters = np.array(list("abcdefghij"))

    def word(longest: int) -> str:
        text = "".join(rng.choice(letters, size=int(rng.integers(1, longest + 1))))
        # now and then a character the renderer leaves to rich (the tables fit, so nothing
        # else does)
        return text + "é" if rng.random() < 0.01 else text

    for _ in range(60):
        n_cols, n_rows = int(rng.integers(1, 14)), int(rng.integers(0, 12))
        longest = int(rng.choice([4, 8, 14, 30, 60]))
        data: dict[str, Any] = {}
        for j in range(n_cols):
            name = f"{word(9)}_{word(6)}_{j}" if rng.random() < 0.5 else f"c{j}"
            if rng.random() < 0.4:
                data[name] = rng.normal(0, 10 ** rng.integers(0, 7), n_rows)
            else:
                data[name] = [
                    " ".join(word(longest) for _ in range(int(rng.integers(1, 4))))
                    for _ in range(n_rows)
                ]
        frame = pd.DataFrame(data)
        title = " ".join(word(8) for _ in range(int(rng.integers(1, 12))))

        def show(frame: pd.DataFrame = frame, title: str = title) -> str:
            cli._emit(frame, "table", title)
            return capsys.readouterr().out

        plain, rich = both(monkeypatch, show)
        assert plain == rich, frame.to_dict()
    # both paths were compared: tables the renderer laid out, and tables it left to rich
    assert spy["plain"] >= 10
    assert spy["rich"] >= 5
