"""How the command line fits a table into a terminal width, whole, with every column.

One mechanism for every command's table (``critmin.cli._emit``), in three steps:

1. **One table.** Numbers never wrap: each such column is as wide as its widest cell. Ids
   (text without spaces) do not either, up to ``ID_FOLD`` characters (a longer one folds).
   Text wraps, to no fewer columns than its longest word (up to ``ID_FOLD``) and a
   ``MAX_LINES``-th of its longest cell (up to ``TEXT_WRAP``). Headers wrap on spaces, so a
   column is at least as wide as its header's longest word. Spare room goes to the columns
   that wrap or fold, up to their widest cell.
2. **Panels.** When the columns do not fit side by side even at those widths, they are split
   into consecutive tables ("part 1 of 3", ...), each repeating the row identifier: the
   table's leading id columns (``KEY_COLUMNS``: mineral, stage, year, ...; the first column
   when none is one), each unfolded while they leave half the width, with a row number ``#`` in
   front when they do not identify each row. The caption follows the last part.
3. **Records.** When even the identifier and one more column cannot share the width, each row
   is printed as a list of ``field value`` lines.

Nothing is dropped or cropped: every header and every cell appears in one of the tables.
The widths are fixed here (each column's minimum and maximum width), so rich and the plain
renderer (``critmin.report.plain_table``) lay out the same table the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from critmin.report.plain_table import Column

#: A wrapped text cell takes at most this many lines (when the table fits at all).
MAX_LINES = 3

#: An id (text without spaces) wider than this folds, rather than the table splitting in two.
ID_FOLD = 14

#: Text wraps to more than ``MAX_LINES`` lines rather than take more than this many columns.
TEXT_WRAP = 24

#: Columns that identify a row, repeated in every panel when they lead the table.
KEY_COLUMNS = frozenset(
    {
        "rank",
        "id",
        "mineral",
        "stage",
        "year",
        "country",
        "episode",
        "name",
        "form",
        "scenario",
        "policy",
        "metric",
        "partner",
        "instrument",
        "lot",
        "group",
        "kind",
        "facility",
        "region",
    }
)

#: The row-number column added when the key columns do not identify each row.
ROW_NUMBER = "#"


@dataclass(frozen=True)
class Field:
    """One column: its frame name, its human header, its cells as text, and whether it holds
    numbers (right-justified)."""

    name: str
    header: str
    cells: Sequence[str]
    right: bool = False
    fold: bool = True  # an id or a word longer than ``ID_FOLD`` may fold

    @property
    def wraps(self) -> bool:
        """Text with spaces may wrap; numbers and ids (no spaces) do not."""
        return not self.right and any(" " in c for c in self.cells)

    def _header_word(self) -> int:
        return max((len(w) for w in self.header.split()), default=len(self.header)) or 1

    def widest(self) -> int:
        """The width at which no cell wraps (and the header only at its spaces)."""
        return max(self._header_word(), *(len(c) for c in self.cells), 1)

    def narrowest(self) -> int:
        """The narrowest width this column takes in a table that fits: its widest cell for
        numbers, ids up to ``ID_FOLD`` characters (a longer one folds), else its longest word
        and a ``MAX_LINES``-th of its longest cell (wider than ``ID_FOLD``, it folds)."""
        if self.right or not self.fold:
            return self.widest()
        if not self.wraps:
            return min(self.widest(), max(self._header_word(), ID_FOLD))
        word = max((len(w) for c in self.cells for w in c.split()), default=1)
        longest = max((len(c) for c in self.cells), default=1)
        lines = min(math.ceil(longest / MAX_LINES), TEXT_WRAP)
        return max(self._header_word(), min(word, ID_FOLD), lines)


@dataclass(frozen=True)
class Block:
    """A table to print: its title, columns (with their fixed widths), rows and caption."""

    title: str | None
    columns: list[Column]
    rows: list[list[str]]
    caption: str | None


def table_width(widths: Sequence[int]) -> int:
    """Characters a table of these column widths takes: a space of padding after every
    column but the last, a divider between columns and the two edges (box.SIMPLE_HEAD,
    pad_edge=False, collapse_padding=True)."""
    return sum(widths) + 2 * (len(widths) - 1) + 2


def _widths(fields: Sequence[Field], width: int, fixed: int = 0) -> list[int] | None:
    """Each column's width, or None when the columns do not fit ``width`` side by side. The
    first ``fixed`` columns (a panel's key, the same in every panel) keep their narrowest
    width; spare room goes to the others, the smallest need first, up to their widest cell."""
    low = [f.narrowest() for f in fields]
    if table_width(low) > width:
        return None
    widths, spare = low[:], width - table_width(low)
    for i in sorted(range(fixed, len(fields)), key=lambda i: fields[i].widest() - low[i]):
        more = min(spare, fields[i].widest() - widths[i])
        widths[i] += more
        spare -= more
    return widths


def _block(
    fields: Sequence[Field],
    widths: Sequence[int],
    title: str | None,
    caption: str | None,
    width: int,
) -> Block:
    """The table of ``fields`` at ``widths``; its last column widened, when the title is wider
    than the table, so that the title fits on one line (up to ``width``)."""
    short = min(len(title or ""), width) - table_width(widths)
    if short > 0:
        widths = [*widths[:-1], widths[-1] + short]
    columns = [Column(f.header, f.right, w, w) for f, w in zip(fields, widths, strict=True)]
    n = len(fields[0].cells) if fields else 0
    rows = [[f.cells[r] for f in fields] for r in range(n)]
    return Block(title, columns, rows, caption)


def key_of(names: Sequence[str]) -> int:
    """How many leading columns identify a row: those named in ``KEY_COLUMNS``, else the
    first."""
    k = 0
    while k < len(names) and names[k] in KEY_COLUMNS:
        k += 1
    return max(k, 1) if names else 0


def fit(fields: Sequence[Field], title: str | None, caption: str | None, width: int) -> list[Block]:
    """The tables that show ``fields`` in ``width`` columns (see the module's docstring)."""
    if not fields:
        return []
    widths = _widths(fields, width)
    if widths is not None:
        return [_block(fields, widths, title, caption, width)]
    k = key_of([f.name for f in fields])
    key, rest = list(fields[:k]), list(fields[k:])
    # the identifier's columns unfolded, the narrowest first, while it leaves half the width
    for i in sorted(range(len(key)), key=lambda i: key[i].widest()):
        whole = [*key[:i], dataclasses.replace(key[i], fold=False), *key[i + 1 :]]
        if table_width([f.narrowest() for f in whole]) <= width // 2:
            key = whole
    keys = list(zip(*(f.cells for f in key), strict=True))
    if len(set(keys)) < len(keys) or not rest:
        n = len(fields[0].cells)
        key.insert(0, Field(ROW_NUMBER, ROW_NUMBER, [str(r + 1) for r in range(n)], True))
    panels: list[list[Field]] = []
    for f in rest:
        if panels and _widths([*key, *panels[-1], f], width) is not None:
            panels[-1].append(f)
        else:
            panels.append([f])
    if not rest or any(_squeezed(key, p, width) is None for p in panels):
        return [_records(fields, key, title, caption, width)]
    out = []
    for i, panel in enumerate(panels, 1):
        shown = [*key, *panel]
        widths = _squeezed(key, panel, width)
        assert widths is not None
        part = f"{title} (part {i} of {len(panels)})" if title else f"Part {i} of {len(panels)}"
        out.append(_block(shown, widths, part, caption if i == len(panels) else None, width))
    return out


def _squeezed(key: Sequence[Field], panel: Sequence[Field], width: int) -> list[int] | None:
    """The widths of ``key`` and ``panel`` side by side; a panel of one column too wide even
    alone takes the room left by the key (its text wraps further, an id or number folds),
    if that is at least its header's longest word and 8 characters. None when there is no
    such room."""
    widths = _widths([*key, *panel], width, len(key))
    if widths is not None or len(panel) != 1:
        return widths
    fixed = [f.narrowest() for f in key]
    room = width - table_width([*fixed, 0])
    f = panel[0]
    if room < max(f._header_word(), 8):
        return None
    return [*fixed, room]


def _records(
    fields: Sequence[Field],
    key: Sequence[Field],
    title: str | None,
    caption: str | None,
    width: int,
) -> Block:
    """Each row as ``field value`` lines, the rows separated by a blank line: a two-column
    table, the field names as wide as the longest (up to a third of the width, at least 8),
    the values wrapping in the rest."""
    label = max(len(f.header) for f in fields)
    label = min(label, max(8, width // 3))
    value = width - table_width([label, 0])
    shown = [f for f in key if f.name == ROW_NUMBER] + list(fields)
    rows: list[list[str]] = []
    n = len(fields[0].cells)
    for r in range(n):
        if r:
            rows.append(["", ""])
        rows += [[f.header, f.cells[r]] for f in shown]
    columns = [Column("Field", False, label, label), Column("Value", False, value, value)]
    return Block(title, columns, rows, caption)
