"""Fixed-width text tables: columns padded with spaces, for a monospaced font.

The PDF lists every breach of the month, a thousand rows in a large month.
WeasyPrint lays out a table row cell by cell (4-6 ms a row); a line of
preformatted text costs it about a tenth of that. So the print layout of the
breach list is text: each cell wrapped to its column's width, never cut, and
each record one or more lines. Widths count terminal cells (an East Asian wide
character takes two, a combining mark none), which is what a monospaced font
gives for Latin text; the last column is the one that takes the rest of a line.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass


def display_width(text: str) -> int:
    """Cells `text` takes in a monospaced font."""
    if text.isascii():  # nearly every cell: no wide characters, no combining marks
        return len(text)
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def _hard_split(word: str, width: int) -> list[str]:
    pieces, current, used = [], "", 0
    for ch in word:
        w = display_width(ch)
        if current and used + w > width:
            pieces.append(current)
            current, used = "", 0
        current += ch
        used += w
    return [*pieces, current]


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` cells, broken between words, a word
    longer than a line broken inside it. Runs of whitespace (tabs, newlines)
    become one space; no other character is lost."""
    if width < 1:
        raise ValueError(f"column width must be at least 1, not {width}")
    lines: list[str] = []
    current, used = "", 0
    for word in text.split():
        for piece in _hard_split(word, width) if display_width(word) > width else [word]:
            w = display_width(piece)
            if current and used + 1 + w <= width:
                current, used = f"{current} {piece}", used + 1 + w
            else:
                if current:
                    lines.append(current)
                current, used = piece, w
    return [*lines, current] if current or not lines else lines


def _pad(text: str, width: int, *, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def _usual_width(header: str, cells: Sequence[str]) -> int:
    """The width nine in ten of `cells` fit in, and the longest word of `header`."""
    sizes = sorted(display_width(" ".join(cell.split())) for cell in cells)
    usual = sizes[math.ceil(len(sizes) * 0.9) - 1] if sizes else 1
    return max([usual, 1] + [display_width(word) for word in header.split()])


@dataclass(frozen=True)
class TextTable:
    """A table as lines of text: the header's lines and each record's lines."""

    widths: tuple[int, ...]
    header: tuple[str, ...]
    records: tuple[tuple[str, ...], ...]


def text_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    total: int,
    gap: int = 2,
    right: Sequence[int] = (),
    min_last: int = 24,
) -> TextTable:
    """Lay out `rows` under `header` in lines of at most `total` cells.

    Each column but the last is as wide as its widest cell or longest header
    word; the last column takes the rest of the line. While that rest is under
    `min_last` a column gives up a cell (its cells then wrap, and the column
    keeps only the width its wrapped lines use): the widest of those wider than
    nine in ten of their cells need (a column with a rare long id), else the
    widest.
    Columns whose index is in `right` are right-aligned (numbers).

    Raises ValueError when the columns cannot fit in `total` cells at all.
    """
    n = len(header)
    if any(len(row) != n for row in rows):
        raise ValueError(f"every row needs {n} cells")
    widths = [
        max(
            [display_width(word) for word in header[i].split()]
            + [display_width(" ".join(row[i].split())) for row in rows]
            + [1]
        )
        for i in range(n - 1)
    ]
    # One ticket id of 80 characters must wrap in its own cell, not narrow every
    # column alike: narrowed that way, "14 Oct 2026 17:00" wrapped on every row.
    usual = [_usual_width(header[i], [row[i] for row in rows]) for i in range(n - 1)]
    room = total - gap * (n - 1) - min_last
    if room < n - 1:
        raise ValueError(f"{n} columns do not fit in {total} cells")
    while sum(widths) > room:
        over = [i for i in range(n - 1) if widths[i] > usual[i]] or range(n - 1)
        widest = max(over, key=lambda i: widths[i])
        widths[widest] -= 1
    # A narrowed column wraps between words, so its lines may all be shorter
    # than the width left to it: keep only what they use, for the last column.
    for i in range(n - 1):
        widths[i] = max(
            display_width(line)
            for cell in [header[i], *(row[i] for row in rows)]
            for line in wrap(cell, widths[i])
        )
    widths.append(total - gap * (n - 1) - sum(widths))

    def lines(cells: Sequence[str]) -> tuple[str, ...]:
        wrapped = [wrap(cell, w) for cell, w in zip(cells, widths, strict=True)]
        height = max(len(w) for w in wrapped)
        return tuple(
            (" " * gap)
            .join(
                _pad(w[k] if k < len(w) else "", widths[i], right=i in right)
                for i, w in enumerate(wrapped)
            )
            .rstrip()
            for k in range(height)
        )

    return TextTable(tuple(widths), lines(header), tuple(lines(row) for row in rows))
