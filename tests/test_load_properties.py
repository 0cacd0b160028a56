"""Event de-duplication against a plain reference: whatever the files repeat,
within one file or across loads, the warehouse holds each distinct event once."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.load import load_file
from pipeline.warehouse import connect

TICKETS = (
    "ticket_id,customer_id,created_at\n"
    "A,C1,2026-10-01T09:00:00+02:00\n"
    "B,C1,2026-10-01T09:00:00+02:00\n"
    "C,C1,2026-10-01T09:00:00+02:00\n"
)
CUSTOMERS = "customer_id,name,tier,valid_from\nC1,Shop,business,2025-01-01T00:00:00Z\n"
HEADER = ["ticket_id", "at", "kind", "old_value", "new_value", "actor_type"]

# Few values, so that repeats (and values equal after trimming) are frequent.
event = st.tuples(
    st.sampled_from(["A", "B", "C", " A"]),
    st.sampled_from(["2026-10-01T10:00:00+02:00", "2026-10-01T08:00:00Z", "2026-10-02T10:00:00Z"]),
    st.sampled_from(["agent_reply", "internal_note", "customer_reply"]),
    st.sampled_from(["", "x", "x ", "y"]),
    st.sampled_from(["", "x", "z"]),
    st.sampled_from(["", "agent", "customer"]),
)
batches = st.lists(st.lists(event, max_size=12), min_size=1, max_size=3)


def canonical(row: tuple[str, ...]) -> tuple:
    """What the warehouse should store for a row: text trimmed, blanks NULL, instants in UTC."""
    ticket, at, kind, old, new, actor = (value.strip() or None for value in row)
    instant = {
        "2026-10-01T10:00:00+02:00": "2026-10-01 08:00:00",
        "2026-10-01T08:00:00Z": "2026-10-01 08:00:00",
        "2026-10-02T10:00:00Z": "2026-10-02 10:00:00",
    }[at]
    return (ticket, instant, kind, old, new, actor)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_each_distinct_event_is_stored_once(files: list[list[tuple[str, ...]]]) -> None:
    con = connect(":memory:")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "customers.csv").write_text(CUSTOMERS)
        (folder / "tickets.csv").write_text(TICKETS)
        load_file(con, folder / "customers.csv")
        load_file(con, folder / "tickets.csv")
        for number, rows in enumerate(files):
            path = folder / f"events{number}.csv"
            with path.open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(HEADER)
                writer.writerows(rows)
            summary = load_file(con, path)
            # A file with the content of an earlier one is recognised and skipped.
            assert summary.accepted == len(rows) or summary.unchanged_since is not None
    stored = con.execute(
        "SELECT ticket_id, strftime(\"at\", '%Y-%m-%d %H:%M:%S'), kind, old_value, new_value, "
        "actor_type FROM ticket_events"
    ).fetchall()
    expected = {canonical(row) for rows in files for row in rows}
    assert sorted(stored, key=repr) == sorted(expected, key=repr)


# CSV records whose first value is the line the record starts on ("L7"), written
# as exports write them: values quoted (holding separators, quotes, newlines) or
# plain (a quote inside is text), spaces around quoted values, blank lines, CRLF,
# a BOM. DuckDB reads each file back: the markers it returns are the truth the
# line scan must match, or else keep the record numbers (None), never a wrong line.
quoted_value = st.text(alphabet=st.sampled_from(list('ab,"\n ')), max_size=4).map(
    lambda v: '"' + v.replace('"', '""') + '"'
)
padded_value = st.tuples(st.sampled_from(["", " "]), quoted_value, st.sampled_from(["", " "])).map(
    "".join
)
plain_value = st.text(alphabet=st.sampled_from(list('ab" ')), max_size=4).filter(
    lambda v: not v.lstrip(" ").startswith('"')
)
value = st.one_of(quoted_value, padded_value, plain_value)
records = st.lists(st.one_of(st.tuples(value, value), st.just(None)), min_size=1, max_size=10)


@settings(max_examples=300, deadline=None)
@given(
    rows=records,
    crlf=st.booleans(),
    bom=st.booleans(),
    final_newline=st.booleans(),
    block=st.integers(1, 9),
)
def test_record_lines_match_what_duckdb_reads(rows, crlf, bom, final_newline, block) -> None:
    import duckdb
    from hypothesis import assume

    from pipeline import load

    end = "\r\n" if crlf else "\n"
    parts, line = ["h0,h1,h2" + end], 2
    for row in rows:
        if row is None:
            parts.append(end)  # a blank line
            line += 1
            continue
        text = ",".join((f"L{line}", *row))
        parts.append(text + end)
        line += text.count("\n") + 1
    text = "".join(parts)
    if not final_newline:
        text = text[: -len(end)]
    data = (("\ufeff" if bom else "") + text).encode()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_bytes(data)
        new_line = "\\r\\n" if crlf else "\\n"
        try:
            markers = duckdb.sql(
                f"SELECT h0 FROM read_csv('{path}', header = true, auto_detect = false, "
                "delim = ',', quote = '\"', escape = '\"', "
                "columns = {'h0': 'VARCHAR', 'h1': 'VARCHAR', 'h2': 'VARCHAR'}, "
                f"new_line = '{new_line}')"
            ).fetchall()
        except duckdb.Error:
            assume(False)  # not a file DuckDB reads: the loader refuses it anyway
        truth = [1] + [int(m[1:]) for (m,) in markers]
        previous = load.CSV_SCAN_BLOCK
        load.CSV_SCAN_BLOCK = block  # blocks end anywhere, inside quotes too
        try:
            got = load._csv_record_lines(path, len(markers))
        finally:
            load.CSV_SCAN_BLOCK = previous
    if got is not None:
        assert list(got) == truth
    elif truth != list(range(1, len(truth) + 1)):
        raise AssertionError(f"record numbers kept, lines differ: {truth}")
