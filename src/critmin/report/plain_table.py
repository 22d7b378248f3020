"""The command line's tables as plain text, character for character what rich prints for them
when the output is not a terminal, without importing or running rich (about a quarter of a
second for ``critmin exposure``'s table).

The layout is rich's for the one style the CLI uses (``box.SIMPLE_HEAD``, ``pad_edge=False``,
``collapse_padding=True``, fold overflow, no colour): column widths measured from the header
and cells, clamped to each column's minimum and maximum, collapsed when the table is wider
than the console (and cropped at the console's width after that, as rich crops); text
word-wrapped, a word longer than its column folded; headers bottom-aligned, cells top-aligned;
title and caption centred. ``render`` returns None for what it does not lay out exactly as
rich would (a non-ASCII or unprintable character, text rich would read as markup or an emoji
code, a title wider than the table): the caller then uses rich itself.
``tests/test_plain_table.py`` compares the two.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\s*\S+\s*")
#: What rich might read as markup (``[bold]``) or an emoji code (``:smile:``).
_SPECIAL = re.compile(r"\[|:\S*?:")


@dataclass(frozen=True)
class Column:
    header: str
    right: bool  # justify right (numbers) or left
    min_width: int | None
    max_width: int | None


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable() and not _SPECIAL.search(text)


def _measure_column(longest: int, column: Column, pad: int, width: int) -> int:
    """rich's ``Table._measure_column`` (the maximum it returns) for text cells padded by
    ``pad``, ``width`` wide, whose longest line is ``longest`` long. (rich measures each cell
    as its longest line plus padding, capped at ``width``; the column takes the largest,
    clamped to its minimum and maximum width plus padding. The minimum widths rich also
    tracks never change the maximum.)"""
    if width < 1:
        return 0
    high = min(longest + pad, width)
    if column.min_width is not None:
        high = max(high, column.min_width + pad)
    if column.max_width is not None:
        high = min(high, column.max_width + pad)
    return high


def _ratio_reduce(
    total: int, ratios: list[int], maximums: list[int], values: list[int]
) -> list[int]:
    ratios = [r if m else 0 for r, m in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    out = []
    for ratio, maximum, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            cut = min(maximum, round(ratio * remaining / total_ratio))
            out.append(value - cut)
            remaining -= cut
            total_ratio -= ratio
        else:
            out.append(value)
    return out


def _collapse(widths: list[int], max_width: int) -> list[int]:
    """rich's ``Table._collapse_widths`` with every column wrapable."""
    total = sum(widths)
    excess = total - max_width
    while total and excess > 0:
        widest = max(widths)
        second = max((w if w != widest else 0) for w in widths)
        difference = widest - second
        ratios = [1 if w == widest else 0 for w in widths]
        if not any(ratios) or not difference:
            break
        widths = _ratio_reduce(excess, ratios, [min(excess, difference)] * len(widths), widths)
        total = sum(widths)
        excess = total - max_width
    return widths


def _wrap(text: str, width: int) -> list[str]:
    """rich's word wrap of one line of text into ``width``, a longer word folded."""
    if len(text) <= width:  # every word fits where it is
        return [text]
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:  # fold: the word in pieces of ``width``
            pieces = [word[k : k + width] for k in range(0, len(word), width)]
            for k, piece in enumerate(pieces):
                if start:
                    breaks.append(start)
                if k == len(pieces) - 1:
                    offset = len(piece)
                else:
                    start += len(piece)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    cuts = [0, *breaks, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(cuts)] or [""]


def _justify(line: str, width: int, how: str) -> str:
    line = line.rstrip()
    if how == "right":
        return " " * (width - len(line)) + line
    if how == "center":
        left = (width - len(line)) // 2
        return " " * left + line + " " * (width - len(line) - left)
    return line + " " * (width - len(line))


def render(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    title: str | None,
    caption: str | None,
    width: int,
) -> str | None:
    """The table as rich prints it on a ``width``-wide console without colour, or None."""
    texts = [c.header for c in columns] + [x for r in rows for x in r]
    texts += [t for t in (title, caption) if t]
    if not columns or not all(_plain(t) for t in texts):
        return None
    n = len(columns)
    pads = [0 if i == n - 1 else 1 for i in range(n)]  # collapse_padding, pad_edge=False
    extra = n - 1 + 2  # dividers and the two edges
    room = width - extra
    cells = [[c.header for c in columns]] + [list(r) for r in rows]
    longest = [max(len(row[i]) for row in cells) for i in range(n)]
    widths = [_measure_column(longest[i], columns[i], pads[i], room) or 1 for i in range(n)]
    if sum(widths) > room:
        widths = _collapse(widths, room)
        if sum(widths) > room:
            widths = _ratio_reduce(sum(widths) - room, [1] * n, widths, widths)
        widths = [_measure_column(longest[i], columns[i], pads[i], w) for i, w in enumerate(widths)]
    table_width = sum(widths) + extra
    out: list[str] = []

    def annotation(text: str | None) -> bool:
        if not text:
            return True
        if len(text) > table_width or "\n" in text:
            return False
        out.append(_justify(text, table_width, "center"))
        return True

    if not annotation(title):
        return None
    out.append(" " * table_width)  # the box's top edge (blank in SIMPLE_HEAD)
    for r, row in enumerate(cells):
        shaped: list[list[str]] = []
        for i, text in enumerate(row):
            inner = widths[i] - pads[i]
            if "\n" in text or "\t" in text or inner < 1:
                return None
            lines = _wrap(text, inner)
            how = "right" if columns[i].right else "left"
            shaped.append([_justify(x, inner, how) + " " * pads[i] for x in lines])
        height = max(len(s) for s in shaped)
        for s, w in zip(shaped, widths, strict=True):  # the header at the bottom, cells on top
            blank = [" " * w] * (height - len(s))
            if r == 0:
                s[:0] = blank
            else:
                s.extend(blank)
        out += [" " + " ".join(s[k] for s in shaped) + " " for k in range(height)]
        if r == 0:
            out.append(" " + "─".join("─" * w for w in widths) + " ")
    out.append(" " * table_width)  # the bottom edge
    if not annotation(caption):
        return None
    return "".join(line[:width] + "\n" for line in out)
