"""Fixed-width text tables: widths, wrapping that loses nothing, alignment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.texttable import display_width, text_table, wrap


def test_display_width_counts_terminal_cells() -> None:
    assert display_width("T0001148") == 8
    assert display_width("日本") == 4  # wide characters take two cells
    assert display_width("e\u0301") == 1  # a combining accent takes none


def test_wrap_breaks_between_words_and_inside_a_too_long_word() -> None:
    assert wrap("Betaling mislukt bij checkout", 16) == ["Betaling mislukt", "bij checkout"]
    assert wrap("abcdefghij klm", 4) == ["abcd", "efgh", "ij", "klm"]
    assert wrap("tab\tand\nnewline", 40) == ["tab and newline"]
    assert wrap("", 5) == [""]
    with pytest.raises(ValueError, match="at least 1"):
        wrap("x", 0)


@given(st.text(max_size=200), st.integers(1, 40))
def test_wrap_keeps_every_character_within_the_width(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert all(display_width(line) <= max(width, 2) for line in lines)  # a wide char in 1 cell
    assert "".join("".join(lines).split()) == "".join(text.split())


def test_text_table_aligns_columns_and_wraps_the_last_one() -> None:
    table = text_table(
        ["Ticket", "Late by (working hours)", "Subject"],
        [("T1", "92.7", "a subject " * 6), ("T0001148", "5.0", "short")],
        total=40,
        right=(1,),
        min_last=10,
    )
    assert table.widths == (8, 8, 20)
    assert table.header == (
        "Ticket     Late by  Subject",
        "          (working",
        "            hours)",
    )
    first, second = table.records
    assert first[0] == "T1            92.7  a subject a subject"
    assert all(line.startswith(" " * 20) for line in first[1:])
    assert " ".join(" ".join(first).split()) == "T1 92.7 " + " ".join(["a subject"] * 6)
    assert second == ("T0001148       5.0  short",)
    assert all(display_width(line) <= 40 for r in table.records for line in r)


def test_text_table_narrows_the_widest_column_to_leave_room_for_the_last() -> None:
    table = text_table(
        ["A", "B", "C"], [("x" * 30, "open, over the limit", "subject")], total=40, min_last=12
    )
    # both narrowed to 12; "open, over the limit" wraps to lines of 10, the rest is the last's
    assert table.widths == (12, 10, 14)
    lines = table.records[0]
    assert [line[:12] for line in lines] == ["x" * 12, "x" * 12, "x" * 6]
    assert [line[14:24].strip() for line in lines] == ["open, over", "the limit", ""]
    assert lines[0][26:] == "subject"


def test_text_table_narrows_a_column_of_rare_long_ids_before_the_dates() -> None:
    # One id of 60 characters among ten: it wraps in its cell; the deadlines,
    # the widest column of every other row, stay on one line.
    rows = [(f"T{i:06d}", "14 Oct 2026 17:00", "subject") for i in range(9)]
    long = "TICKET-" + "0123456789" * 5 + "-123"
    rows.append((long, "3 Nov 2026 10:00", "subject"))
    table = text_table(["Ticket", "Deadline", "Subject"], rows, total=50, min_last=20)
    assert table.widths == (9, 17, 20)
    assert all(len(r) == 1 for r in table.records[:9])
    assert table.records[0][0] == "T000000    14 Oct 2026 17:00  subject"
    long_id = table.records[9]
    assert [line[:9].strip() for line in long_id] == [long[k : k + 9] for k in range(0, 61, 9)]
    assert long_id[0][11:] == "3 Nov 2026 10:00   subject"


def test_text_table_refuses_what_cannot_fit() -> None:
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        text_table(["A", "B"], [("only one",)], total=40)
    with pytest.raises(ValueError, match="do not fit"):
        text_table(["A", "B", "C"], [], total=20, min_last=18)
