"""Loading canonical files: rejections with reasons, flags, idempotency, merges, atomicity."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import LoadError
from pipeline.load import STRICT_CSV_BYTES, load_derived, load_file
from pipeline.warehouse import connect

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


@pytest.fixture(params=[STRICT_CSV_BYTES, 0], ids=["small", "large"])
def either_csv_reader(request, monkeypatch) -> None:
    """Run the test with the strict CSV reader (small files) and with DuckDB's
    sniffing one (large files, here every file)."""
    monkeypatch.setattr("pipeline.load.STRICT_CSV_BYTES", request.param)


@pytest.fixture
def con():
    con = connect(":memory:")
    load_file(con, FIXTURES / "customers.csv")
    return con


def load_tickets(con):
    return load_file(con, FIXTURES / "tickets.csv", source_tz="Europe/Amsterdam")


def test_customers_plan_history(con) -> None:
    plans = con.execute(
        "SELECT customer_id, tier FROM plan_history ORDER BY customer_id, valid_from"
    ).fetchall()
    assert plans == [("C1", "business"), ("C1", "premium"), ("C2", "pioneer"), ("C3", "business")]
    rejected = con.execute(
        "SELECT line_number, field, reason_code FROM rejected_rows ORDER BY line_number"
    ).fetchall()
    assert rejected == [(6, "valid_from", "overlapping_plan"), (7, "tier", "unknown_tier")]


def test_every_row_is_accepted_or_rejected_with_a_reason(con) -> None:
    summary = load_tickets(con)
    assert summary.rows_read == 12
    assert summary.rows_read == summary.accepted + summary.rejected_total
    assert summary.rejected == {
        "duplicate_conflicting": 2,
        "missing_required_field": 1,
        "response_before_creation": 1,
        "unknown_customer": 1,
        "unknown_value": 1,
        "unparseable_timestamp": 1,
    }
    row = con.execute(
        "SELECT file, field, message, raw FROM rejected_rows WHERE reason_code = "
        "'unparseable_timestamp'"
    ).fetchall()[0]
    assert row[0].endswith("tickets.csv") and row[1] == "created_at"
    assert "31-02-2026 25:00" in row[3]  # the raw row is kept
    stored = [r[0] for r in con.execute("SELECT ticket_id FROM tickets ORDER BY 1").fetchall()]
    assert stored == ["T1", "T2", "T8", "T9"]  # T8's identical copy is one ticket
    # Copies that disagree are rejected after the check query: their raw text is kept too.
    raws = con.execute(
        "SELECT line_number, raw FROM rejected_rows WHERE reason_code = 'duplicate_conflicting' "
        "ORDER BY line_number"
    ).fetchall()
    assert len(raws) == 2 and all(raw and '"ticket_id"' in raw for _, raw in raws)


def test_flags_for_suspicious_rows(con) -> None:
    # T2's naive 02:30 on the fall-back night is read by the DST rule.
    assert load_tickets(con).flagged == {
        "auto_response": 1,
        "created_in_future": 1,
        "dst_repeated": 2,
    }


def _flags(con, load_id: int) -> list[tuple]:
    return con.execute(
        "SELECT line_number, field, flag_code FROM flagged_rows "
        "WHERE load_id = ? AND flag_code LIKE 'dst_%' ORDER BY line_number, field",
        [load_id],
    ).fetchall()


def test_naive_readings_the_dst_rule_placed_are_flagged_not_rejected(con, tmp_path) -> None:
    """A naive reading the clocks skip or hold twice was read by the rule silently:
    each such field of an accepted row is now flagged, and counted per load."""
    tickets = tmp_path / "dst.csv"
    tickets.write_text(
        "ticket_id,customer_id,created_at,first_response_at,resolved_at\n"
        # In the gap (02:30 -> 03:30 summer time); 03:30 itself is an ordinary reading
        # of the same instant; 02:30 on 25 October occurs twice.
        "D1,C1,2026-03-29 02:30:00,2026-03-29 03:30:00,2026-10-25 02:30:00\n"
        # With an offset: exact, no rule. Minutes only, still a reading.
        "D2,C1,2026-10-25 02:30:00+02:00,2026-10-25 02:30,2026-10-25 03:30:00\n"
        # Just before and after the repeated hour; its first instant.
        "D3,C1,2026-10-25T01:59:59,2026-10-25 03:00:00,\n"
        "D4,C1,2026-10-25T02:00:00,,\n"
        "D5,C404,2026-10-25T02:10:00,,\n"  # rejected: listed as such, not flagged
    )
    summary = load_file(con, tickets, source_tz="Europe/Amsterdam")
    assert (summary.accepted, summary.rejected) == (4, {"unknown_customer": 1})
    assert summary.flagged == {"auto_response": 1, "dst_gap": 1, "dst_repeated": 3}
    assert _flags(con, summary.load_id) == [
        (2, "created_at", "dst_gap"),
        (2, "resolved_at", "dst_repeated"),
        (3, "first_response_at", "dst_repeated"),
        (5, "created_at", "dst_repeated"),
    ]
    message = con.execute(
        "SELECT message FROM flagged_rows WHERE flag_code = 'dst_gap'"
    ).fetchall()[0][0]
    assert message == (
        "2026-03-29 02:30:00 in Europe/Amsterdam does not occur (the clocks move forward): "
        "read with the offset from before the gap, as 2026-03-29 01:30:00 UTC"
    )
    # Events and plan periods alike, in a zone whose clocks move by half an hour.
    events = tmp_path / "ev.csv"
    events.write_text(
        "ticket_id,at,kind\n"
        "D1,2026-04-05 01:45,internal_note\n"  # twice in Lord Howe: 11:00 -> 10:30
        "D1,2026-10-04 02:15,internal_note\n"  # skipped: 02:00 -> 02:30
        "D1,2026-10-04 02:45,internal_note\n"
    )
    summary = load_file(con, events, source_tz="Australia/Lord_Howe")
    assert _flags(con, summary.load_id) == [(2, "at", "dst_repeated"), (3, "at", "dst_gap")]
    customers = tmp_path / "plans.csv"
    customers.write_text(
        "customer_id,tier,valid_from,valid_to\nC7,business,2025-03-30 02:00,2026-10-25 02:59\n"
    )
    summary = load_file(con, customers, source_tz="Europe/Amsterdam")
    assert _flags(con, summary.load_id) == [
        (2, "valid_from", "dst_gap"),
        (2, "valid_to", "dst_repeated"),
    ]
    # Without a source zone there are no naive readings, and nothing to look for.
    exact = tmp_path / "exact.csv"
    exact.write_text("ticket_id,customer_id,created_at\nD9,C1,2026-10-25T02:30:00+01:00\n")
    assert load_file(con, exact).flagged == {}


def test_an_open_ended_plan_does_not_stretch_the_dst_scan(con, tmp_path, monkeypatch) -> None:
    """A valid_to of 9999-12-31 (an "open-ended" plan) made the load walk every day
    up to that year for DST changes, about 5 s per customers load with a zone; the
    scan now stops where a ticket's time may end (DST_SCAN_SPAN), flags unchanged."""
    from pipeline import load

    scanned = []
    run = load._run

    def spy(con, name, params):
        if name == "load_dst.sql":
            scanned.append((params["lo"], params["hi"]))
        return run(con, name, params)

    monkeypatch.setattr(load, "_run", spy)
    customers = tmp_path / "plans.csv"
    customers.write_text(
        "customer_id,tier,valid_from,valid_to\nC7,business,2026-10-25 02:30,9999-12-31\n"
    )
    summary = load_file(con, customers, source_tz="Europe/Amsterdam")
    assert summary.rejected == {}
    assert _flags(con, summary.load_id) == [(2, "valid_from", "dst_repeated")]
    assert scanned == [
        (
            int(pd.Timestamp("2026-10-25T01:30Z").timestamp()),
            int(pd.Timestamp("2200-01-01T00:00Z").timestamp()),
        )
    ]


def test_timestamps_stored_in_utc_with_source_zone_recorded(con) -> None:
    load_tickets(con)
    created = dict(con.execute("SELECT ticket_id, created_at FROM tickets").fetchall())
    assert pd.Timestamp(created["T1"]) == pd.Timestamp("2026-10-23T15:00Z")
    # Naive 02:30 on the fall-back night, read in Europe/Amsterdam: standard time.
    assert pd.Timestamp(created["T2"]) == pd.Timestamp("2026-10-25T01:30Z")
    zones = con.execute("SELECT source_tz FROM loads WHERE kind = 'tickets'").fetchall()
    assert zones == [("Europe/Amsterdam",)]


def test_naive_timestamp_found_on_its_line_in_any_field(con, tmp_path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "ticket_id,customer_id,created_at,resolved_at\n"
        "A,C1,2026-10-01T09:00:00+02:00,2026-10-02T09:00:00Z\n"
        "B,C1,2026-10-01T09:00:00+02:00,2026-10-02 09:00:00\n"
        "C,C1,2026-10-01 09:00:00,\n"
    )
    with pytest.raises(LoadError, match=r"t.csv, line 3, field 'resolved_at'.*'2026-10-02 09:00"):
        load_file(con, path)
    assert con.execute("SELECT count(*) FROM loads WHERE kind = 'tickets'").fetchall() == [(0,)]


def test_malformed_csv_line_names_file_and_line(con, tmp_path) -> None:
    # The file is read inside the check query: a broken line there is a clean LoadError.
    path = tmp_path / "broken.csv"
    lines = ["ticket_id,customer_id,created_at"]
    lines += [f"Q{i},C1,2026-10-01T09:00:00+02:00" for i in range(3_000)]
    lines.append("Q-bad,C1,2026-10-01T09:00:00+02:00,one,too,many")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadError, match=r"broken.csv, line 3002: more values than the 3 columns"):
        load_file(con, path)
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]


def test_naive_timestamps_without_a_zone_are_refused(con) -> None:
    with pytest.raises(LoadError, match=r"tickets.csv, line 3, field 'created_at'.*--source-tz"):
        load_file(con, FIXTURES / "tickets.csv")
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]


def test_same_file_twice_changes_nothing(con) -> None:
    first = load_tickets(con)
    before = con.execute("SELECT count(*) FROM rejected_rows").fetchall()
    again = load_tickets(con)
    assert again.unchanged_since == first.load_id
    assert con.execute("SELECT count(*) FROM rejected_rows").fetchall() == before
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(4,)]


def test_newer_export_replaces_older_version(con, tmp_path) -> None:
    load_tickets(con)
    newer = tmp_path / "newer.csv"
    newer.write_text(
        "ticket_id,customer_id,created_at,status,updated_at\n"
        "T8,C1,2026-10-21T10:00:00+02:00,resolved,2026-10-22T10:00:00+02:00\n"
        "T1,C1,2026-10-23T17:00:00+02:00,open,2026-10-24T10:00:00+02:00\n"
    )
    summary = load_file(con, newer)
    assert summary.not_applied == 1  # T1 is older than the stored version
    status = dict(con.execute("SELECT ticket_id, status FROM tickets").fetchall())
    assert status["T8"] == "resolved" and status["T1"] == "resolved"


def test_a_correction_without_a_column_keeps_the_stored_value_of_its_field(con, tmp_path) -> None:
    """Found by QA: a later export of the status alone (the correction this page
    shows) erased the stored first response, resolution, priority and subject."""
    first = tmp_path / "export.csv"
    first.write_text(
        "ticket_id,customer_id,created_at,first_response_at,resolved_at,priority,status,"
        "requires_it_release,subject\n"
        "T1,C1,2026-10-26T10:00:00Z,2026-10-26T11:00:00Z,2026-10-27T10:00:00Z,high,resolved,"
        "true,Payout delayed\n"
    )
    correction = tmp_path / "correction.csv"
    correction.write_text(
        "ticket_id,customer_id,created_at,resolved_at,status,updated_at\n"
        "T1,C1,2026-10-26T10:00:00Z,,open,2026-10-28T09:00:00Z\n"  # reopened
    )
    load_file(con, first)
    load_file(con, correction)
    row = con.execute(
        "SELECT strftime(first_response_at, '%H:%M'), resolved_at, priority, status, "
        "requires_it_release, subject FROM tickets WHERE ticket_id = 'T1'"
    ).fetchall()
    # An empty value clears its field; a column the file lacks keeps it.
    assert row == [("11:00", None, "high", "open", True, "Payout delayed")]


def test_a_row_older_than_the_stored_version_is_kept_not_applied(con, tmp_path) -> None:
    """A correction without updated_at is versioned by its latest timestamp, so an
    earlier resolution loses to the stored one: it used to be counted as accepted
    and dropped without a trace (found by QA)."""
    first = tmp_path / "v1.csv"
    first.write_text(
        "ticket_id,customer_id,created_at,resolved_at,priority\n"
        "T1,C1,2026-10-26T10:00:00Z,2026-10-29T10:00:00Z,high\n"
        "T2,C1,2026-10-26T10:00:00Z,,low\n"
    )
    second = tmp_path / "v2.csv"
    second.write_text(
        "ticket_id,customer_id,created_at,resolved_at,priority,subject\n"
        '"T2",C1,2026-10-26T10:00:00Z,,critical,"two\nlines"\n'  # lines 2-3
        "T1,C1,2026-10-26T10:00:00Z,2026-10-26T15:00:00Z,high,corrected\n"  # line 4
    )
    load_file(con, first)
    summary = load_file(con, second)
    assert (summary.rows_read, summary.accepted, summary.not_applied, summary.loaded) == (
        2,
        2,
        1,
        1,
    )
    assert con.execute(
        "SELECT rows_read, accepted, rejected, not_applied FROM loads WHERE load_id = ?",
        [summary.load_id],
    ).fetchall() == [(2, 2, 0, 1)]
    kept = con.execute(
        "SELECT file, line_number, ticket_id, field, reason_code, message, raw "
        "FROM not_applied_rows"
    ).fetchall()
    assert kept == [
        (
            str(second),
            4,
            "T1",
            "updated_at",
            "older_than_stored",
            "the stored version is newer: updated_at 2026-10-29 10:00:00 UTC (load #2) "
            "against this row's 2026-10-26 15:00:00 UTC (no updated_at given: the latest of "
            "its timestamps)",
            '{"ticket_id":"T1","customer_id":"C1","created_at":"2026-10-26T10:00:00Z",'
            '"resolved_at":"2026-10-26T15:00:00Z","priority":"high","subject":"corrected"}',
        )
    ]
    stored = dict(con.execute("SELECT ticket_id, priority FROM tickets").fetchall())
    assert stored == {"T1": "high", "T2": "critical"}  # T2 ties and the later load wins
    # An updated_at column makes the correction apply.
    third = tmp_path / "v3.csv"
    third.write_text(
        "ticket_id,customer_id,created_at,resolved_at,updated_at\n"
        "T1,C1,2026-10-26T10:00:00Z,2026-10-26T15:00:00Z,2026-10-30T08:00:00Z\n"
    )
    assert load_file(con, third).not_applied == 0
    resolved = con.execute("SELECT resolved_at FROM tickets WHERE ticket_id = 'T1'").fetchall()
    assert pd.Timestamp(resolved[0][0]) == pd.Timestamp("2026-10-26T15:00Z")


def test_events_deduplicated_and_checked(con, tmp_path) -> None:
    load_tickets(con)
    summary = load_file(con, FIXTURES / "events.csv")
    assert summary.rejected == {
        "event_for_unknown_ticket": 1,
        "unknown_value": 1,
        "unparseable_timestamp": 1,
    }
    assert con.execute("SELECT count(*) FROM ticket_events").fetchall() == [(3,)]
    # A later export repeats events already stored: they are not stored twice.
    path = tmp_path / "again.csv"
    pd.read_csv(FIXTURES / "events.csv", dtype=str).iloc[:3].to_csv(path, index=False)
    assert load_file(con, path).accepted == 3
    assert con.execute("SELECT count(*) FROM ticket_events").fetchall() == [(3,)]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_parquet_every_resolution(con, tmp_path, unit) -> None:
    frame = pd.DataFrame(
        {
            "ticket_id": ["P1"],
            "customer_id": ["C1"],
            "created_at": pd.DatetimeIndex(["2026-10-23T15:00:00"], tz="UTC").as_unit(unit),
            "priority": ["normal"],
        }
    )
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    summary = load_file(con, path)
    assert summary.accepted == 1, summary
    created = con.execute("SELECT created_at FROM tickets WHERE ticket_id = 'P1'").fetchall()
    assert pd.Timestamp(created[0][0]) == pd.Timestamp("2026-10-23T15:00Z")


def test_jsonl_and_xlsx(con, tmp_path) -> None:
    frame = pd.read_csv(FIXTURES / "tickets.csv", dtype=str).iloc[:1]
    jsonl = tmp_path / "t.jsonl"
    frame.to_json(jsonl, orient="records", lines=True)
    assert load_file(con, jsonl).accepted == 1
    xlsx = tmp_path / "t.xlsx"
    frame.assign(ticket_id="X1").to_excel(xlsx, index=False)
    assert load_file(con, xlsx).accepted == 1


def test_failed_load_leaves_warehouse_as_before(con, monkeypatch) -> None:
    import pipeline.load as load_module

    original = load_module._run

    def failing_run(con_, name, params):
        original(con_, name, params)
        if name == "load_tickets_merge.sql":
            raise KeyboardInterrupt

    monkeypatch.setattr(load_module, "_run", failing_run)
    with pytest.raises(KeyboardInterrupt):
        load_tickets(con)
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM loads WHERE kind = 'tickets'").fetchall() == [(0,)]


def test_unknown_file_type(con, tmp_path) -> None:
    path = tmp_path / "x.doc"
    path.write_text("hello")
    with pytest.raises(LoadError, match="unknown file type"):
        load_file(con, path)


def test_empty_file_is_a_clear_error(con, tmp_path) -> None:
    empty = tmp_path / "tickets.csv"
    empty.write_bytes(b"")
    with pytest.raises(LoadError, match=r"tickets\.csv: the file is empty"):
        load_file(con, empty, source_tz="UTC")
    assert con.execute("SELECT count(*) FROM loads WHERE path = ?", [str(empty)]).fetchone() == (0,)


def test_documented_examples_load() -> None:
    examples = Path(__file__).parent.parent / "docs" / "examples"
    con = connect(":memory:")
    for name in ("customers", "tickets", "events"):
        summary = load_file(con, examples / f"{name}.csv")
        assert summary.rejected == {}, name
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(3,)]


def test_quoted_field_far_down_a_file(con, tmp_path) -> None:
    # DuckDB's sniffer looks at a sample; a quoted comma after it must still be read.
    path = tmp_path / "big.csv"
    lines = ["ticket_id,customer_id,created_at,subject"]
    lines += [f"Q{i},C1,2026-10-01T09:00:00+02:00,plain" for i in range(30_000)]
    lines.append('Q-last,C1,2026-10-01T09:00:00+02:00,"comma, inside"')
    path.write_text("\n".join(lines) + "\n")
    summary = load_file(con, path)
    assert summary.accepted == 30_001
    subject = con.execute("SELECT subject FROM tickets WHERE ticket_id = 'Q-last'").fetchall()
    assert subject == [("comma, inside",)]


def _long_value_file(path: Path) -> Path:
    """Tickets with a 3 MB subject on line 3 (a pasted log), over DuckDB's default
    line limit of 2 MB."""
    path.write_text(
        "ticket_id,customer_id,created_at,subject\n"
        "T0,C1,2026-10-01T09:00:00+02:00,short\n"
        f'T1,C1,2026-10-01T09:00:00+02:00,"{"log, line;" * 300_000}"\n'
        "T2,C1,2026-10-01T09:00:00+02:00,after\n"
    )
    return path


def test_a_line_over_the_limit_names_it_and_both_causes(con, tmp_path, either_csv_reader) -> None:
    path = _long_value_file(tmp_path / "long.csv")
    with pytest.raises(LoadError) as caught:
        load_file(con, path)
    assert str(caught.value) == (
        f"{path}, line 3: a line longer than the reader's limit of 2 MiB: either a value "
        "longer than 2 MiB (load such a file with a mapping, docs/mapping.md), or a quote "
        "left open so that the lines after it read as one value; nothing was loaded"
    )
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]


def test_no_scratch_tables_left_after_a_load(con) -> None:
    load_tickets(con)
    load_file(con, FIXTURES / "events.csv")
    with pytest.raises(LoadError, match="--source-tz"):  # a failed load leaves none either
        load_file(con, FIXTURES / "tickets.csv")
    temporary = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    assert temporary == []


def test_priority_changes_are_read_case_insensitively_and_checked(con, tmp_path) -> None:
    load_tickets(con)
    ticket = con.execute("SELECT ticket_id FROM tickets ORDER BY ticket_id LIMIT 1").fetchall()
    tid = ticket[0][0]
    path = tmp_path / "priorities.csv"
    path.write_text(
        "ticket_id,at,kind,old_value,new_value,actor_type\n"
        f"{tid},2026-10-24T10:00:00Z,priority_change,Normal,HIGH,agent\n"
        f"{tid},2026-10-25T10:00:00Z,priority_change,,critical,agent\n"
        f"{tid},2026-10-26T10:00:00Z,priority_change,critical,urgent,agent\n"
        f"{tid},2026-10-27T10:00:00Z,priority_change,asap,low,agent\n"
    )
    summary = load_file(con, path)
    assert summary.accepted == 2
    stored = con.execute(
        "SELECT old_value, new_value FROM ticket_events WHERE kind = 'priority_change' "
        'ORDER BY "at"'
    ).fetchall()
    assert stored == [("normal", "high"), (None, "critical")]
    rejected = con.execute(
        "SELECT line_number, field, reason_code FROM rejected_rows WHERE load_id = ? "
        "ORDER BY line_number",
        [summary.load_id],
    ).fetchall()
    assert rejected == [(4, "new_value", "unknown_value"), (5, "old_value", "unknown_value")]


def test_timestamps_with_anything_after_the_time_are_rejected(con, tmp_path) -> None:
    """DuckDB's TIMESTAMP cast ignores what follows the time: ' PM' or a zone name
    would load as a wrong instant, 'infinity' as the year 9999."""
    path = tmp_path / "suffixes.csv"
    path.write_text(
        "ticket_id,customer_id,created_at,resolved_at\n"
        "T1,C1,2026-10-26 01:15:00 PM,\n"
        "T2,C1,2026-10-26T09:15:00 America/New_York,\n"
        "T3,C1,2026-10-26 09:15:00 foo,\n"
        "T4,C1,epoch,\n"
        "T5,C1,2026-10-26 09:15:00,infinity\n"
        "T6,C1,2026-10-26 09:15:00 UTC,\n"
        "T7,C1,2026-10-26 9:15,\n"
    )
    summary = load_file(con, path, source_tz="Europe/Amsterdam")
    rejected = con.execute(
        "SELECT line_number, field, reason_code FROM rejected_rows WHERE load_id = ? "
        "ORDER BY line_number",
        [summary.load_id],
    ).fetchall()
    assert rejected == [
        (2, "created_at", "unparseable_timestamp"),
        (3, "created_at", "unparseable_timestamp"),
        (4, "created_at", "unparseable_timestamp"),
        (5, "created_at", "unparseable_timestamp"),
        (6, "resolved_at", "unparseable_timestamp"),
    ]
    assert summary.accepted == 2
    stored = dict(con.execute("SELECT ticket_id, created_at FROM tickets").fetchall())
    assert pd.Timestamp(stored["T6"]) == pd.Timestamp("2026-10-26T09:15Z")
    assert pd.Timestamp(stored["T7"]) == pd.Timestamp("2026-10-26T08:15Z")
    # Without a zone, such a value is not 'naive': it is unreadable, said as such.
    fresh = connect(":memory:")
    load_file(fresh, FIXTURES / "customers.csv")
    path.write_text("ticket_id,customer_id,created_at\nT1,C1,2026-10-26 01:15:00 PM\n")
    assert load_file(fresh, path).rejected == {"unparseable_timestamp": 1}


def test_offsets_no_clock_has_are_rejected(con, tmp_path) -> None:
    """The TIMESTAMPTZ cast takes any two digits as hours and minutes of an offset:
    +99:00 moved the instant by four days. Offsets go up to 18 hours."""
    path = tmp_path / "offsets.csv"
    path.write_text(
        "ticket_id,customer_id,created_at\n"
        "T1,C1,2026-10-26T10:00:00+99:00\n"
        "T2,C1,2026-10-26T10:00:00+01:75\n"
        "T3,C1,2026-10-26T10:00:00+25:00\n"
        "T4,C1,2026-10-26T10:00:00-1900\n"
        "T5,C1,2026-10-26T10:00:00+18:00\n"
        "T6,C1,2026-10-26T10:00:00-05:30\n"
        "T7,C1,2026-10-26T10:00:00+0545\n"
    )
    summary = load_file(con, path)
    rejected = con.execute(
        "SELECT line_number, field, reason_code FROM rejected_rows WHERE load_id = ? "
        "ORDER BY line_number",
        [summary.load_id],
    ).fetchall()
    assert rejected == [(n, "created_at", "unparseable_timestamp") for n in (2, 3, 4, 5)]
    stored = dict(con.execute("SELECT ticket_id, created_at FROM tickets").fetchall())
    assert {k: pd.Timestamp(v) for k, v in stored.items()} == {
        "T5": pd.Timestamp("2026-10-25T16:00Z"),
        "T6": pd.Timestamp("2026-10-26T15:30Z"),
        "T7": pd.Timestamp("2026-10-26T04:15Z"),
    }


def test_a_space_before_the_offset_is_read_as_the_offset(con, tmp_path) -> None:
    """Ruby's Time#to_s, Java's 'yyyy-MM-dd HH:mm:ss Z' and PHP write a space
    before the offset. The TIMESTAMPTZ cast refused it, so such rows were rejected
    as unparseable although pipeline.instants (the ServiceNow and Zendesk readers,
    the engine) reads them as instants."""
    path = tmp_path / "spaced.csv"
    path.write_text(
        "ticket_id,customer_id,created_at,resolved_at\n"
        "T1,C1,2026-10-26 09:15:00 +0100,2026-10-27 09:15:30.5 +01:00\n"
        "T2,C1,2026-10-23 17:00:00 +0200,2026-10-26 08:00:00 Z\n"
        "T3,C1,2026-10-26 09:15:00 -05:30,\n"
        "T4,C1,2026-10-26 09:15:00 +01:75,\n"
    )
    summary = load_file(con, path)
    assert summary.rejected == {"unparseable_timestamp": 1}
    stored = {
        t: (pd.Timestamp(c), None if r is None else pd.Timestamp(r))
        for t, c, r in con.execute(
            "SELECT ticket_id, created_at, resolved_at FROM tickets"
        ).fetchall()
    }
    assert stored == {
        "T1": (pd.Timestamp("2026-10-26T08:15Z"), pd.Timestamp("2026-10-27T08:15:30.5Z")),
        "T2": (pd.Timestamp("2026-10-23T15:00Z"), pd.Timestamp("2026-10-26T08:00Z")),
        "T3": (pd.Timestamp("2026-10-26T14:45Z"), None),
    }


def test_a_period_inside_a_longer_one_is_an_overlap(tmp_path) -> None:
    con = connect(":memory:")
    path = tmp_path / "plans.csv"
    path.write_text(
        "customer_id,tier,valid_from,valid_to\n"
        "K1,business,2024-01-01T00:00:00Z,2025-01-01T00:00:00Z\n"
        "K1,premium,2024-03-01T00:00:00Z,2024-04-01T00:00:00Z\n"
        "K1,pioneer,2024-06-01T00:00:00Z,2024-07-01T00:00:00Z\n"
        "K1,premium,2025-01-01T00:00:00Z,\n"
    )
    summary = load_file(con, path)
    assert summary.rejected == {"overlapping_plan": 2}
    assert con.execute(
        "SELECT line_number, field FROM rejected_rows ORDER BY line_number"
    ).fetchall() == [(3, "valid_from"), (4, "valid_from")]
    assert con.execute("SELECT tier FROM plan_history ORDER BY valid_from").fetchall() == [
        ("business",),
        ("premium",),
    ]


def test_a_file_is_read_again_when_its_result_could_differ(tmp_path) -> None:
    con = connect(":memory:")
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,tier,valid_from\nC1,business,2026-01-01T00:00:00Z\n")
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(
        "ticket_id,customer_id,created_at\nT1,C2,2026-10-26 09:00:00\nT2,C1,2026-10-26 09:00:00\n"
    )
    load_file(con, customers)
    first = load_file(con, tickets, source_tz="UTC")
    assert first.rejected == {"unknown_customer": 1}
    # Nothing loaded since, same settings: the same result, so skipped.
    assert load_file(con, tickets, source_tz="UTC").unchanged_since == first.load_id
    # Read in another zone: read again, and the instants follow the new zone.
    other = load_file(con, tickets, source_tz="Europe/Amsterdam")
    assert other.unchanged_since is None
    assert other.read_again == f"other settings than load #{first.load_id} (source time zone)"
    created = con.execute("SELECT created_at FROM tickets WHERE ticket_id = 'T2'").fetchall()
    assert pd.Timestamp(created[0][0]) == pd.Timestamp("2026-10-26T08:00Z")
    # The missing customer arrives: the rejected ticket is accepted on reloading.
    customers.write_text(
        "customer_id,tier,valid_from\nC1,business,2026-01-01T00:00:00Z\n"
        "C2,premium,2026-01-01T00:00:00Z\n"
    )
    load_file(con, customers)
    again = load_file(con, tickets, source_tz="Europe/Amsterdam")
    assert again.unchanged_since is None and again.rejected == {}
    assert again.read_again == (
        f"load #{other.load_id} rejected rows for want of customers, loaded since (customer C2)"
    )
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(2,)]
    # And now it is unchanged again.
    assert load_file(con, tickets, source_tz="Europe/Amsterdam").unchanged_since == again.load_id
    # Events read in the wrong zone are replaced, not kept beside the new reading.
    events = tmp_path / "events.csv"
    events.write_text("ticket_id,at,kind\nT2,2026-10-26 10:00:00,agent_reply\n")
    load_file(con, events, source_tz="UTC")
    load_file(con, events, source_tz="Europe/Amsterdam")
    stored = con.execute('SELECT "at" FROM ticket_events').fetchall()
    assert [pd.Timestamp(r[0]) for r in stored] == [pd.Timestamp("2026-10-26T09:00Z")]


def _reading(con, load_id: int) -> list[tuple]:
    return con.execute(
        "SELECT line_number, reason_code, missing_id FROM rejected_rows WHERE load_id = ? "
        "ORDER BY line_number",
        [load_id],
    ).fetchall()


def test_a_row_for_a_customer_never_loaded_does_not_make_every_reload_read_the_file(
    tmp_path,
) -> None:
    """A monthly reload of every export read a file again in full after each
    customers load, because of one row for a customer that never comes (the
    operator's CX-UNKNOWN): 43 s instead of 2 s on 300k tickets."""
    con = connect(":memory:")
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,tier,valid_from\nC1,business,2026-01-01T00:00:00Z\n")
    load_file(con, customers)
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(
        "ticket_id,customer_id,created_at\nT1,C1,2026-10-26T09:00:00Z\n"
        "T2, CX-LATE ,2026-10-26T09:00:00Z\n"
    )
    first = load_file(con, tickets)
    # The customer as the check compared it: trimmed.
    assert _reading(con, first.load_id) == [(3, "unknown_customer", "CX-LATE")]
    # Another customer arrives: the row would be rejected again, the file is unchanged.
    other = tmp_path / "other_customers.csv"
    other.write_text("customer_id,tier,valid_from\nC3,premium,2026-01-01T00:00:00Z\n")
    load_file(con, other)
    assert load_file(con, tickets).unchanged_since == first.load_id
    # Its own customer arrives: read again, and the row is accepted.
    late = tmp_path / "late_customers.csv"
    late.write_text("customer_id,tier,valid_from\nCX-LATE,business,2026-01-01T00:00:00Z\n")
    load_file(con, late)
    again = load_file(con, tickets)
    assert (again.unchanged_since, again.accepted, again.rejected) == (None, 2, {})
    assert again.read_again == (
        f"load #{first.load_id} rejected rows for want of customers, loaded since "
        "(customer CX-LATE)"
    )
    assert con.execute("SELECT ticket_id, customer_id FROM tickets ORDER BY 1").fetchall() == [
        ("T1", "C1"),
        ("T2", "CX-LATE"),
    ]


def test_events_wait_for_their_own_ticket_not_any_tickets_load(con, tmp_path) -> None:
    """The same for events: an event of a ticket never loaded, or before its
    ticket's creation, makes a reload read the file again only once that ticket
    is stored (again, for the creation: a later load may move it)."""
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(
        "ticket_id,customer_id,created_at,updated_at\n"
        "T1,C1,2026-10-26T10:00:00Z,2026-10-26T10:00:00Z\n"
    )
    load_file(con, tickets, id_prefix="B-")
    events = tmp_path / "events.csv"
    events.write_text(
        "ticket_id,at,kind\n"
        "T1,2026-10-26T11:00:00Z,agent_reply\n"
        "T1,2026-10-26T09:00:00Z,customer_reply\n"
        "T9,2026-10-26T12:00:00Z,agent_reply\n"
    )
    first = load_file(con, events, id_prefix="B-")
    # The ticket as the check compared it: with the load's prefix.
    assert _reading(con, first.load_id) == [
        (3, "event_before_creation", "B-T1"),
        (4, "event_for_unknown_ticket", "B-T9"),
    ]
    # Other tickets, and T9 without the prefix (another ticket): nothing to mend.
    unrelated = tmp_path / "unrelated.csv"
    unrelated.write_text(
        "ticket_id,customer_id,created_at\nT9,C1,2026-10-26T08:00:00Z\n"
        "B-T5,C1,2026-10-26T08:00:00Z\n"
    )
    load_file(con, unrelated)
    assert load_file(con, events, id_prefix="B-").unchanged_since == first.load_id
    # T9 of this desk arrives: read again, its event accepted.
    t9 = tmp_path / "t9.csv"
    t9.write_text("ticket_id,customer_id,created_at\nT9,C1,2026-10-26T08:00:00Z\n")
    load_file(con, t9, id_prefix="B-")
    second = load_file(con, events, id_prefix="B-")
    assert second.read_again == (
        f"load #{first.load_id} rejected rows for want of tickets, loaded since (ticket B-T9)"
    )
    assert (second.accepted, second.rejected) == (2, {"event_before_creation": 1})
    assert load_file(con, events, id_prefix="B-").unchanged_since == second.load_id
    # T1 stored again, created earlier: read again, the event before it accepted.
    moved = tmp_path / "moved.csv"
    moved.write_text(
        "ticket_id,customer_id,created_at,updated_at\n"
        "T1,C1,2026-10-26T08:30:00Z,2026-10-27T10:00:00Z\n"
    )
    load_file(con, moved, id_prefix="B-")
    third = load_file(con, events, id_prefix="B-")
    assert third.read_again == (
        f"load #{second.load_id} rejected events before their ticket's creation, and a later "
        "load stored the ticket again (ticket B-T1)"
    )
    assert (third.accepted, third.rejected) == (3, {})
    assert con.execute("SELECT count(*) FROM ticket_events").fetchall() == [(3,)]


def test_a_row_rejected_before_missing_ids_were_recorded_is_retried_as_before(
    con, tmp_path
) -> None:
    """Rows rejected before rejected_rows.missing_id (NULL there) cannot tell
    which customer they lack: any customers load since may have mended them."""
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("ticket_id,customer_id,created_at\nT1,CX-NONE,2026-10-26T09:00:00Z\n")
    first = load_file(con, tickets)
    con.execute("UPDATE rejected_rows SET missing_id = NULL")
    assert load_file(con, tickets).unchanged_since == first.load_id
    other = tmp_path / "other_customers.csv"
    other.write_text("customer_id,tier,valid_from\nC3,premium,2026-01-01T00:00:00Z\n")
    load_file(con, other)
    again = load_file(con, tickets)
    assert (again.unchanged_since, again.rejected) == (None, {"unknown_customer": 1})
    assert again.read_again == (
        f"load #{first.load_id} rejected rows for want of customers, loaded since"
    )
    # Its reading recorded the customer: the next customers load no longer reads it.
    assert _reading(con, again.load_id) == [(2, "unknown_customer", "CX-NONE")]
    more = tmp_path / "more_customers.csv"
    more.write_text("customer_id,tier,valid_from\nC4,premium,2026-01-01T00:00:00Z\n")
    load_file(con, more)
    assert load_file(con, tickets).unchanged_since == again.load_id


def test_a_file_read_by_another_version_of_the_loader_is_read_again(
    con, tmp_path, monkeypatch
) -> None:
    """A loader fix that changes how a file's rows are read (the check refusing a
    row with trailing empty values, once read shifted one column over) left a file
    read before it "unchanged" on reloading, its misread rows kept for good."""
    from pipeline import load

    current = load.READER_VERSION
    path = tmp_path / "tickets.csv"
    path.write_text(DESK_TICKETS + "T1,canonical,C1,2026-10-20T09:00:00Z,refund\n")
    monkeypatch.setattr(load, "READER_VERSION", current - 1)
    first = load_file(con, path)
    # What the older loader made of the row.
    con.execute("UPDATE tickets SET subject = 'misread' WHERE ticket_id = 'T1'")
    # Reloaded by the same version: the same reading, skipped.
    assert load_file(con, path).unchanged_since == first.load_id
    monkeypatch.setattr(load, "READER_VERSION", current)
    again = load_file(con, path)
    assert (again.unchanged_since, again.accepted) == (None, 1)
    assert again.read_again == f"load #{first.load_id} was read by an older version of the loader"
    assert con.execute("SELECT subject FROM tickets").fetchall() == [("refund",)]
    # Read by this version now: unchanged again.
    assert load_file(con, path).unchanged_since == again.load_id
    assert con.execute(
        "SELECT reader_version, unchanged, read_again FROM loads WHERE path = ? ORDER BY load_id",
        [str(path)],
    ).fetchall() == [
        (current - 1, False, None),
        (current - 1, True, None),
        (current, False, again.read_again),
        (current, True, None),
    ]
    # A load recorded before versions were (NULL) was read by an older loader too.
    con.execute("UPDATE loads SET reader_version = NULL")
    assert load_file(con, path).read_again == (
        f"load #{again.load_id} was read by an older version of the loader"
    )
    # Other settings and another version: both said.
    monkeypatch.setattr(load, "READER_VERSION", current + 1)
    prefixed = load_file(con, path, id_prefix="B-")
    assert prefixed.read_again == (
        f"other settings than load #{prefixed.load_id - 1} (id prefix); load "
        f"#{prefixed.load_id - 1} was read by an older version of the loader"
    )
    # A newer loader's reading is not repeated by an older one either.
    monkeypatch.setattr(load, "READER_VERSION", current)
    assert load_file(con, path, id_prefix="B-").read_again == (
        f"load #{prefixed.load_id} was read by a newer version of the loader"
    )


def test_json_lines_are_read_as_text_line_by_line(con, tmp_path) -> None:
    """Every value as text, whatever the other lines hold, numbered as in the file."""
    path = tmp_path / "tickets.jsonl"
    good = '"customer_id": "C1", "created_at": "2026-10-05T09:00:00+02:00"'
    path.write_text(
        f'{{"ticket_id": 123, {good}}}\n'
        "\n"
        f'{{"ticket_id": "J1", {good}, "subject": {{"nested": true}}}}\n'
        '{"ticket_id": "J2", "customer_id": "C1", "created_at": {"at": 1}}\n'
        '["not", "an", "object"]\n'
        "{broken\n"
        + "".join(f'{{"ticket_id": "K{i}", {good}}}\n' for i in range(3000))
        + f'{{"ticket_id": "LATE", {good}, "category": "only here"}}\n'
    )
    summary = load_file(con, path)
    assert summary.accepted == 3000 + 3  # K0..K2999, then 123, J1 and LATE
    rejected = con.execute(
        "SELECT line_number, field, reason_code, raw FROM rejected_rows WHERE load_id = ? "
        "ORDER BY line_number",
        [summary.load_id],
    ).fetchall()
    assert [r[:3] for r in rejected] == [
        (4, "created_at", "unparseable_timestamp"),
        (5, "ticket_id", "missing_required_field"),
        (6, "ticket_id", "missing_required_field"),
    ]
    assert rejected[2][3] == "{broken"
    stored = dict(con.execute("SELECT ticket_id, subject FROM tickets").fetchall())
    assert "123" in stored and stored["J1"] == '{"nested":true}'
    category = con.execute("SELECT category FROM tickets WHERE ticket_id = 'LATE'").fetchall()
    assert category == [("only here",)]
    # A naive time anywhere in the file needs the zone, as in a CSV file.
    path.write_text(
        f'{{"ticket_id": "N1", {good}}}\n' * 1
        + '{"ticket_id": "N2", "customer_id": "C1", "created_at": "2026-10-05 09:00:00"}\n'
    )
    with pytest.raises(LoadError, match="line 2, field 'created_at'"):
        load_file(con, path)


def test_zone_names_and_workbooks_that_would_go_wrong_are_refused(con, tmp_path) -> None:
    # 'localtime' and 'posixrules' are system zone files pandas takes, DuckDB not.
    for zone in ("+01:00", "dateutil/Europe/Amsterdam", "CEST", "localtime", "posixrules"):
        with pytest.raises(LoadError, match=re.escape(f"unknown time zone '{zone}'")):
            load_file(con, FIXTURES / "tickets.csv", source_tz=zone)
    workbook = tmp_path / "tickets.xlsx"
    with pd.ExcelWriter(workbook) as writer:
        pd.DataFrame({"ticket_id": ["X1"], "customer_id": ["C1"]}).to_excel(
            writer, sheet_name="First", index=False
        )
        pd.DataFrame({"ticket_id": ["X9"], "customer_id": ["C1"]}).to_excel(
            writer, sheet_name="More", index=False
        )
    with pytest.raises(LoadError, match=r"data on 2 sheets \(First, More\)"):
        load_file(con, workbook)
    broken = tmp_path / "broken.xlsx"
    broken.write_text("not a workbook")
    with pytest.raises(LoadError, match="cannot read as an XLSX workbook"):
        load_file(con, broken)


def test_columns_that_are_no_field_are_named_and_repeated_fields_refused(
    con, tmp_path, either_csv_reader
) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        "ticket_id,customer_id,created_at,first_respons_at,internal_score\n"
        "T1,C1,2026-10-26T09:00:00Z,2026-10-26T10:00:00Z,7\n"
    )
    summary = load_file(con, path)
    assert summary.ignored_columns == (
        "'first_respons_at' (did you mean 'first_response_at'?)",
        "'internal_score'",
    )
    for header in (
        "ticket_id,customer_id,created_at,priority,priority",
        "ticket_id,customer_id,created_at,priority,Priority ",
        # DuckDB's names ignore case: this was its binder error, not ours.
        "ticket_id,customer_id,created_at,priority,Priority",
    ):
        path.write_text(header + "\nT2,C1,2026-10-26T09:00:00Z,high,low\n")
        second = header.rsplit(",", 1)[1]
        message = f"columns 'priority' and {second!r} are both field 'priority'"
        with pytest.raises(LoadError, match=re.escape(message)):
            load_file(con, path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "ticket_id,customer_id,created_at,priority\nT1,C1,2026-10-05T09:00:00Z,low,extra\n",
            "line 2: more values than the 4 columns the header names",
        ),
        (
            "ticket_id,customer_id,created_at,priority\nT1,C1,x,low\nT2,C1,2026-10-05T09:00:00Z\n",
            "line 3: 3 values where the header names 4 columns",
        ),
        (
            'ticket_id,customer_id,created_at,subject\nT1,C1,x,"open\nT2,C1,x,y\n',
            "line 2: a quoted value is not closed",
        ),
        ("ticket_id,customer_id,created_at\nT1,C1,caf\xe9\n", "line 2: not UTF-8 text (byte 0xe9)"),
        # DuckDB's line does not count the line breaks inside quoted values: after
        # a subject over three lines it named line 4 for a totals line on line 6.
        (
            'ticket_id,customer_id,created_at,subject\nT1,C1,x,"a\nb\nc"\n\nEND OF REPORT\n',
            "line 6: 1 value where the header names 4 columns: add the missing ones, or "
            "remove the line if it is no row (a title, totals or footer line); nothing was loaded",
        ),
        (
            'ticket_id,customer_id,created_at,subject\nT1,C1,x,"a\nb"\nT2,C1,x,"open\nT3,C1,x,y\n',
            "line 4: a quoted value is not closed",
        ),
        ("\ufeff\n\n", "no header on line 1"),
        ("a,b\n1,2\n", "cannot tell what the file holds"),
        # Line ends that change within the file: DuckDB's reader refuses them.
        (
            "ticket_id,customer_id,created_at\r\nT1,C1,x\nT2,C1,x\n",
            "line 2: the line ends in LF where line 1 ends in CR LF",
        ),
        (
            "ticket_id,customer_id,created_at\r\nT1,C1,x\r\nT2,C1,x\n",
            "line 3: the line ends in LF where line 1 ends in CR LF",
        ),
        (
            "ticket_id,customer_id,created_at\nT1,C1,x\r\n",
            "line 2: the line ends in CR LF where line 1 ends in LF",
        ),
    ],
)
def test_a_broken_csv_file_is_named_with_its_line(
    con, tmp_path, content, message, either_csv_reader
) -> None:
    """One row too long used to make DuckDB's sniffer settle on a dialect that read
    no rows (or one column); its own errors came with settings and options. Large
    files are read by the sniffing reader first: the same errors come out."""
    path = tmp_path / "broken.csv"
    path.write_bytes(content.encode("latin-1" if "\xe9" in content else "utf-8"))
    with pytest.raises(LoadError, match=re.escape(f"{path}")) as caught:
        load_file(con, path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value) and "strict_mode" not in str(caught.value)
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]


def test_a_byte_that_is_not_utf8_past_the_header_block_names_its_line(con, tmp_path) -> None:
    # Past the first 64 KiB only DuckDB's reader sees the byte; the line it names
    # leaves out the line break inside the quoted subject above it.
    rows = [f"T{i},C1,2026-10-05T09:00:00Z,plain" for i in range(3000)]
    rows[1] = 'T1,C1,2026-10-05T09:00:00Z,"over\ntwo lines"'
    rows[2999] = "T2999,C1,2026-10-05T09:00:00Z,caf\xe9"
    path = tmp_path / "latin.csv"
    path.write_bytes(
        ("ticket_id,customer_id,created_at,subject\n" + "\n".join(rows) + "\n").encode("latin-1")
    )
    with pytest.raises(LoadError, match=re.escape(f"{path}, line 3002: not UTF-8 text")):
        load_file(con, path)


def test_large_files_read_by_the_sniffing_reader_load_the_same(monkeypatch) -> None:
    def loaded(strict_below: int) -> list:
        monkeypatch.setattr("pipeline.load.STRICT_CSV_BYTES", strict_below)
        con = connect(":memory:")
        load_file(con, FIXTURES / "customers.csv")
        load_tickets(con)
        load_file(con, FIXTURES / "events.csv")
        return [
            con.execute(f"SELECT * EXCLUDE (load_id) FROM {t} ORDER BY ALL").fetchall()
            for t in ("tickets", "ticket_events", "plan_history")
        ] + [con.execute("SELECT * EXCLUDE (load_id) FROM rejected_rows ORDER BY ALL").fetchall()]

    sniffed = loaded(0)
    assert all(sniffed[:3]) and sniffed == loaded(STRICT_CSV_BYTES)


def test_rows_a_reader_rejects_are_kept_with_its_reason(con, tmp_path) -> None:
    """A reader's `_rejected` ('reason:field') keeps a row out of the check and in
    rejected_rows; a canonical file's column of that name is only a column."""
    path = tmp_path / "derived.csv"
    path.write_text("x\n")
    frame = pd.DataFrame(
        {
            "ticket_id": ["R1", "R2"],
            "customer_id": ["C1", "C1"],
            "created_at": ["2026-10-05T09:00:00Z", "someday"],
            "_line": [2, 3],
            "_raw": ["first", "second"],
            "_rejected": [None, "unparseable_timestamp:created_at"],
        }
    )
    summary = load_file(con, path, kind="tickets", preset="test", frame=frame)
    assert (summary.rows_read, summary.accepted) == (2, 1)
    assert con.execute(
        "SELECT line_number, field, reason_code, message, raw FROM rejected_rows WHERE load_id = ?",
        [summary.load_id],
    ).fetchall() == [
        (
            3,
            "created_at",
            "unparseable_timestamp",
            "not a timestamp (use ISO 8601, e.g. 2026-10-26T09:15:00+01:00)",
            "second",
        )
    ]
    with pytest.raises(ValueError, match=r"unknown reason codes \['bogus'\]"):
        load_file(con, path, kind="tickets", preset="test", frame=frame.assign(_rejected="bogus:x"))
    canonical = tmp_path / "tickets.csv"
    canonical.write_text(
        "ticket_id,customer_id,created_at,_rejected\n"
        "R3,C1,2026-10-05T09:00:00Z,unparseable_timestamp:created_at\n"
    )
    summary = load_file(con, canonical)
    assert (summary.accepted, summary.ignored_columns) == (1, ("'_rejected'",))


def test_a_byte_order_mark_does_not_shift_the_utf8_check(con, tmp_path) -> None:
    """The header is checked in a first block of 64 KiB: a character cut in two at
    its end is no error, and the bad byte named is the file's, after the mark too."""
    body = b"\xef\xbb\xbfticket_id,customer_id,created_at,subject\n"
    rows = 0
    while len(body) < 65_400:
        body += f"T{rows},C1,2026-10-05T09:00:00Z,x\n".encode()
        rows += 1
    last = f"T{rows},C1,2026-10-05T09:00:00Z,".encode()
    # A three-byte euro sign over the end of the block: two bytes in, one out.
    body += last + b"a" * (65_534 - len(body) - len(last)) + "\u20ac\n".encode()
    path = tmp_path / "tickets.csv"
    path.write_bytes(body)
    assert load_file(con, path).accepted == rows + 1
    path.write_bytes(b"\xef\xbb\xbfticket_id,customer_id,created_at\nT1,C1,caf\xe9\n")
    with pytest.raises(LoadError, match=r"line 2: not UTF-8 text \(byte 0xe9\)"):
        load_file(con, path)


def test_json_lines_with_a_byte_order_mark_or_not_utf8(con, tmp_path) -> None:
    """A mark before the first object is no part of it, as in a CSV file; a file
    that is not UTF-8 is named with the line of the first bad byte."""
    good = '"customer_id": "C1", "created_at": "2026-10-05T09:00:00Z"'
    path = tmp_path / "tickets.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + f'{{"ticket_id": "J1", {good}}}\n{{"ticket_id": "J2", {good}}}\n'.encode()
    )
    summary = load_file(con, path)
    assert (summary.accepted, summary.rejected_total) == (2, 0)
    stored = con.execute("SELECT ticket_id FROM tickets ORDER BY 1").fetchall()
    assert stored == [("J1",), ("J2",)]
    path.write_bytes(f'{{"ticket_id": "J3", {good}}}\n{{"subject": "caf\xe9"}}\n'.encode("latin-1"))
    with pytest.raises(LoadError, match=r"tickets\.jsonl, line 2: not UTF-8 text \(byte 0xe9\)"):
        load_file(con, path)


def test_a_derived_export_loads_whole_or_not_at_all(monkeypatch) -> None:
    """Tickets and events of one ServiceNow file are one transaction: a failure in
    the events leaves none of the file's tickets behind."""
    import pipeline.load as load

    con = connect(":memory:")
    load_file(con, EXAMPLES / "customers.csv")  # the export's customers: its tickets load
    export = FIXTURES / "presets" / "servicenow.csv"
    real = load._run

    def failing(con, sql_file, params):
        if sql_file == "load_events.sql":
            raise LoadError("events failed")
        return real(con, sql_file, params)

    monkeypatch.setattr(load, "_run", failing)
    before = con.execute("SELECT count(*) FROM loads").fetchall()
    with pytest.raises(LoadError, match="events failed"):
        load.load_servicenow(con, export, source_tz="Europe/Amsterdam")
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM loads").fetchall() == before
    # Not for want of loadable tickets: without the failure, the same file loads them.
    monkeypatch.setattr(load, "_run", real)
    tickets, _ = load.load_servicenow(con, export, source_tz="Europe/Amsterdam")
    assert tickets.accepted == 2
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(2,)]


def test_rejected_rows_name_the_line_after_multiline_values_and_blank_lines(
    con, tmp_path, either_csv_reader
) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        "ticket_id,customer_id,created_at,subject\n"  # line 1
        'T1,C1,2026-10-05T09:00:00Z,"two\nlines"\n'  # lines 2-3
        "\n"  # line 4, blank: skipped
        "T2,C1,not a time,bad\n"  # line 5
        'T3,C1,2026-10-05T09:00:00Z,"a ""quoted""\nword"\n'  # lines 6-7
        "T4,C1,2026-10-05T09:00:00Z,priority\n"  # line 8
        "T5,C1,also bad,x\n"  # line 9
    )
    summary = load_file(con, path)
    assert (summary.accepted, summary.rejected_total) == (3, 2)
    lines = con.execute(
        "SELECT line_number FROM rejected_rows WHERE load_id = ? ORDER BY 1",
        [summary.load_id],
    ).fetchall()
    assert lines == [(5,), (9,)]
    # The same file without the quirks keeps its record numbers, which are its lines.
    plain = tmp_path / "plain.csv"
    plain.write_text("ticket_id,customer_id,created_at\nP1,C1,2026-10-05T09:00:00Z\nP2,C1,bad\n")
    summary = load_file(con, plain)
    assert con.execute(
        "SELECT line_number FROM rejected_rows WHERE load_id = ?", [summary.load_id]
    ).fetchall() == [(3,)]


def test_a_naive_timestamp_error_names_the_real_line(con, tmp_path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        "ticket_id,customer_id,created_at,subject\n"
        'T1,C1,2026-10-05T09:00:00Z,"two\nlines"\n'
        "\n"
        "T2,C1,2026-10-05 09:00,naive\n"  # line 5, record 3
    )
    with pytest.raises(LoadError, match="line 5, field 'created_at'"):
        load_file(con, path)


def test_a_quote_inside_a_plain_value_is_text_for_line_numbers_too(con, tmp_path) -> None:
    """DuckDB reads 24" monitor as text; pairing every quote read lines 2-4 as one
    value and crashed or named the wrong line (found by QA)."""
    header = "ticket_id,customer_id,created_at,priority,subject\n"
    crash = tmp_path / "c.csv"
    crash.write_text(header + 'T1,C1,2026-10-05T09:00:00Z,high,24" monitor\n\nT2,C1,bad,high,x\n')
    summary = load_file(con, crash)
    assert summary.rejected_total == 1
    quiet = tmp_path / "k.csv"
    quiet.write_text(
        header
        + 'T3,C1,2026-10-05T09:00:00Z,high,24" monitor\n'  # line 2
        + "T4,C1,2026-10-05T09:00:00Z,urgent,x\n"  # line 3: unknown priority
        + 'T5,C1,2026-10-05T09:00:00Z,high,27" screen\n'  # line 4
        + "\n"
        + "T6,C1,2026-10-05T09:00:00Z,high,ok\n"  # line 6
    )
    second = load_file(con, quiet)
    rows = con.execute(
        "SELECT load_id, line_number, raw FROM rejected_rows WHERE load_id IN (?, ?) "
        "ORDER BY load_id",
        [summary.load_id, second.load_id],
    ).fetchall()
    assert [(load, line) for load, line, _ in rows] == [
        (summary.load_id, 4),
        (second.load_id, 3),
    ]
    assert all('"_line"' not in raw for _, _, raw in rows)  # the row as read, nothing added


@pytest.mark.parametrize(
    ("kind", "header", "missing"),
    [
        ("tickets", "ticket_id,customer_id,first_response_at", "created_at"),
        ("events", "ticket_id,kind,new_value", "at"),
        ("customers", "customer_id,name,valid_from", "tier"),
    ],
)
def test_a_file_without_a_required_column_is_refused_naming_it(
    con, tmp_path, kind, header, missing
) -> None:
    # Its rows were each rejected as 'a required field is empty', which sent the
    # user looking for empty cells in a column the file does not have.
    path = tmp_path / "export.csv"
    path.write_text(header + "\nT1,C1,x\n")
    with pytest.raises(
        LoadError,
        match=rf"^{re.escape(str(path))}: no column '{missing}', which every {kind} row needs "
        rf"\(the file's columns: {header.replace(',', ', ')}\); nothing was loaded$",
    ):
        load_file(con, path, kind=kind)
    assert con.execute("SELECT count(*) FROM loads").fetchall() == [(1,)]  # the customers'
    # JSON lines have no header: a line without the key is that row's matter.
    lines = tmp_path / "export.jsonl"
    lines.write_text('{"ticket_id": "T1"}\n')
    summary = load_file(con, lines, kind=kind)
    assert (summary.rows_read, summary.rejected) == (1, {"missing_required_field": 1})


def test_a_ticket_id_stored_from_another_source_is_not_replaced(con, tmp_path) -> None:
    # Two desks that both number from 1: the second desk's ticket 101 took the
    # first desk's place (a newer updated_at), which was then lost without a trace.
    first = tmp_path / "desk_a.csv"
    first.write_text(
        "ticket_id,source_system,customer_id,created_at,subject\n"
        "101,desk-a,C1,2026-10-05 09:00,payout delayed\n"
        "102,desk-a,C1,2026-10-05 10:00,refund\n"
    )
    load_file(con, first, source_tz="Europe/Amsterdam")
    second = tmp_path / "desk_b.csv"
    second.write_text(
        "ticket_id,source_system,customer_id,created_at,subject\n"
        "101,desk-b,C2,2026-11-02T09:00:00Z,another ticket\n"
        "B-7,desk-b,C2,2026-11-02T09:00:00Z,fine\n"
    )
    summary = load_file(con, second)
    assert (summary.accepted, summary.rejected) == (1, {"id_from_other_source": 1})
    assert con.execute(
        "SELECT line_number, field, raw FROM rejected_rows WHERE load_id = ?", [summary.load_id]
    ).fetchall() == [
        (
            2,
            "ticket_id",
            '{"ticket_id":"101","source_system":"desk-b","customer_id":"C2",'
            '"created_at":"2026-11-02T09:00:00Z","subject":"another ticket"}',
        )
    ]
    # The same file read again (another zone) still replaces its own earlier reading.
    again = load_file(con, first, source_tz="UTC")
    assert (again.accepted, again.rejected_total) == (2, 0)
    assert con.execute(
        "SELECT ticket_id, source_system, subject, created_at FROM tickets ORDER BY 1"
    ).fetchall() == [
        ("101", "desk-a", "payout delayed", pd.Timestamp("2026-10-05T09:00Z")),
        ("102", "desk-a", "refund", pd.Timestamp("2026-10-05T10:00Z")),
        ("B-7", "desk-b", "fine", pd.Timestamp("2026-11-02T09:00Z")),
    ]


@pytest.mark.parametrize("name", ["tickets.csv", "tickets.jsonl"])
def test_a_utf16_file_is_named_as_such(con, tmp_path, name) -> None:
    # Said as 'line 1: not UTF-8 text (byte 0xff)', which told nothing of what it is.
    path = tmp_path / name
    text = (
        "ticket_id,customer_id,created_at\nT1,C1,2026-10-05T09:00:00Z\n"
        if name.endswith(".csv")
        else '{"ticket_id": "T1", "customer_id": "C1", "created_at": "2026-10-05T09:00:00Z"}\n'
    )
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(
        LoadError,
        match=rf"^{re.escape(str(path))}: UTF-16 text \(it starts with a UTF-16 byte order mark\), "
        "not UTF-8: save the export as UTF-8$",
    ):
        load_file(con, path)


def test_an_exports_events_for_a_ticket_of_another_source_are_rejected_too(con, tmp_path) -> None:
    # The Zendesk export's ticket 1 is rejected as another desk's: its events (a
    # reply, a resolution) were still stored on desk A's ticket 1, changing its
    # measurements with another desk's conversation.
    desk_a = tmp_path / "desk_a.csv"
    desk_a.write_text(
        "ticket_id,source_system,customer_id,created_at,subject\n"
        "1,desk-a,C1,2026-10-20T09:00:00Z,payout delayed\n"
    )
    load_file(con, desk_a)
    export = tmp_path / "zendesk.json"
    export.write_text(
        '{"tickets": [{"id": 1, "created_at": "2026-10-23T15:00:00Z", '
        '"updated_at": "2026-10-27T11:00:00Z", "status": "solved", "priority": "high", '
        '"requester_id": "C2", "via": {"channel": "email"}}], "ticket_events": [{"ticket_id": 1, '
        '"created_at": "2026-10-26T09:00:00Z", "child_events": [{"event_type": "Comment", '
        '"public": true, "author_id": 99}, {"event_type": "Change", "field_name": "status", '
        '"value": "solved", "previous_value": "open"}]}]}'
    )
    tickets, events = load_derived(con, export, preset="zendesk")
    assert tickets.rejected == {"id_from_other_source": 1}
    assert (events.accepted, events.rejected) == (0, {"id_from_other_source": 2})
    assert con.execute("SELECT count(*) FROM ticket_events").fetchall() == [(0,)]
    # An events file of its own names no desk: its events are the stored ticket's.
    own = tmp_path / "events.csv"
    own.write_text("ticket_id,at,kind,actor_type\n1,2026-10-20T10:00:00Z,agent_reply,agent\n")
    assert load_file(con, own).accepted == 1


TICKETS_HEADER = "ticket_id,customer_id,created_at,category,subject"


@pytest.mark.parametrize(
    "extra",
    [",", ',""', ",,,"],
    ids=["one-empty", "quoted-empty", "three-empty"],
)
def test_a_row_with_more_values_than_the_header_is_refused_even_when_they_are_empty(
    con, tmp_path, extra, either_csv_reader
) -> None:
    """DuckDB's reader drops empty values past the header's columns: an unquoted
    comma in the subject plus one at the end of the line loaded as category
    'Refund', subject ' not received', without a word. Far down the file (past
    the sniffer's sample) and after a quoted comma and a quoted line break, which
    are no extra values."""
    rows = [f"S{i},C1,2026-10-05T09:00:00Z,Refund,plain" for i in range(25_000)]
    rows[3] = 'S3,C1,2026-10-05T09:00:00Z,Refund,"over\ntwo lines, with a comma"'
    rows[24_000] = "S24000,C1,2026-10-05T09:00:00Z,Refund, not received" + extra
    path = tmp_path / "tickets.csv"
    path.write_text(TICKETS_HEADER + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(LoadError) as caught:
        load_file(con, path)
    assert str(caught.value).startswith(
        f"{path}, line 24003: more values than the 5 columns the header names"
    )
    assert "nothing was loaded" in str(caught.value)
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]


@pytest.mark.parametrize("separator", [",", ";"])
def test_a_separator_ending_every_line_header_included_still_loads(
    con, tmp_path, separator, either_csv_reader
) -> None:
    # Some exports end every line with the separator: the header then names one
    # more (unnamed) column, and each row has a value for it.
    lines = [
        TICKETS_HEADER + ",",
        'T1,C1,2026-10-05T09:00:00Z,Refund,"not received, twice",',
        "T2,C1,2026-10-05T09:00:00Z,,,",
    ]
    path = tmp_path / "tickets.csv"
    path.write_text("\n".join(line.replace(",", separator) for line in lines) + "\n")
    summary = load_file(con, path)
    assert (summary.rows_read, summary.accepted) == (2, 2)
    assert summary.ignored_columns == ("'column5'",)
    stored = con.execute("SELECT ticket_id, category, subject FROM tickets ORDER BY 1")
    assert stored.fetchall() == [
        ("T1", "Refund", "not received" + separator + " twice"),
        ("T2", None, None),
    ]


def test_an_events_row_with_one_empty_value_too_many_is_refused(con, tmp_path) -> None:
    load_file(con, FIXTURES / "tickets.csv", source_tz="Europe/Amsterdam")
    path = tmp_path / "events.csv"
    path.write_text(
        "ticket_id,at,kind,old_value,new_value,actor_type\n"
        "T1,2026-10-23T17:00:00+02:00,status_change,new,open,agent\n"
        "T1,2026-10-26T10:00:00+01:00,agent_reply,,,agent,\n"
    )
    with pytest.raises(LoadError, match=re.escape(f"{path}, line 3: more values than the 6")):
        load_file(con, path)


DESK_TICKETS = "ticket_id,source_system,customer_id,created_at,subject\n"


def test_a_second_desk_whose_ids_collide_loads_with_an_id_prefix(con, tmp_path) -> None:
    # Both desks number from 1: without a prefix desk B's ticket 1 is rejected as
    # id_from_other_source, and editing the export by hand was the only way.
    desk_a = tmp_path / "desk_a.csv"
    desk_a.write_text(DESK_TICKETS + "1,desk-a,C1,2026-10-20T09:00:00Z,payout delayed\n")
    load_file(con, desk_a)
    desk_b = tmp_path / "desk_b.csv"
    desk_b.write_text(
        DESK_TICKETS + "1,desk-b,C2,2026-10-21T09:00:00Z,refund\n"
        " 2 ,desk-b,C2,2026-10-21T10:00:00Z,trimmed first\n"
        ",desk-b,C2,2026-10-21T11:00:00Z,no id\n"
    )
    summary = load_file(con, desk_b, id_prefix="B-")
    assert (summary.accepted, summary.rejected) == (2, {"missing_required_field": 1})
    assert con.execute(
        "SELECT ticket_id, source_system, subject FROM tickets ORDER BY 1"
    ).fetchall() == [
        ("1", "desk-a", "payout delayed"),
        ("B-1", "desk-b", "refund"),
        ("B-2", "desk-b", "trimmed first"),
    ]
    # The rejected row's raw text is the file's, without the prefix.
    assert con.execute(
        "SELECT field, raw FROM rejected_rows WHERE load_id = ?", [summary.load_id]
    ).fetchall() == [
        (
            "ticket_id",
            '{"ticket_id":null,"source_system":"desk-b","customer_id":"C2",'
            '"created_at":"2026-10-21T11:00:00Z","subject":"no id"}',
        )
    ]
    events = tmp_path / "desk_b_events.csv"
    events.write_text("ticket_id,at,kind,actor_type\n1,2026-10-21T09:30:00Z,agent_reply,agent\n")
    assert load_file(con, events, id_prefix="B-").accepted == 1
    assert con.execute("SELECT ticket_id FROM ticket_events").fetchall() == [("B-1",)]
    assert con.execute("SELECT load_id, id_prefix FROM loads ORDER BY 1").fetchall() == [
        (1, None),  # the customers
        (2, None),
        (3, "B-"),
        (4, "B-"),
    ]


def test_the_id_prefix_is_part_of_a_files_reading(con, tmp_path) -> None:
    desk_a = tmp_path / "desk_a.csv"
    desk_a.write_text(DESK_TICKETS + "1,desk-a,C1,2026-10-20T09:00:00Z,payout delayed\n")
    load_file(con, desk_a)
    desk_b = tmp_path / "desk_b.csv"
    desk_b.write_text(
        DESK_TICKETS + "1,desk-b,C2,2026-10-21T09:00:00Z,refund\n"
        "2,desk-b,C2,2026-10-21T10:00:00Z,chargeback\n"
    )
    # First without a prefix: ticket 1 is rejected, ticket 2 (no collision) stored as 2.
    bare = load_file(con, desk_b)
    assert (bare.accepted, bare.rejected) == (1, {"id_from_other_source": 1})
    assert (
        "--id-prefix"
        in con.execute(
            "SELECT message FROM rejected_rows WHERE load_id = ?", [bare.load_id]
        ).fetchall()[0][0]
    )
    # Then with one: a new reading, whose tickets replace the earlier reading's
    # (ticket 2 is not kept as both 2 and B-2).
    prefixed = load_file(con, desk_b, id_prefix="B-")
    assert (prefixed.unchanged_since, prefixed.accepted, prefixed.rejected) == (None, 2, {})
    assert con.execute("SELECT ticket_id FROM tickets ORDER BY 1").fetchall() == [
        ("1",),
        ("B-1",),
        ("B-2",),
    ]
    # The same prefix again: nothing changed.
    assert load_file(con, desk_b, id_prefix="B-").unchanged_since == prefixed.load_id
    # Another prefix: read again.
    other = load_file(con, desk_b, id_prefix="DB-")
    assert (other.unchanged_since, other.accepted) == (None, 2)
    assert con.execute("SELECT ticket_id FROM tickets ORDER BY 1").fetchall() == [
        ("1",),
        ("DB-1",),
        ("DB-2",),
    ]
    # The loads skipped or read say so in the loads table, prefix included.
    assert con.execute(
        "SELECT id_prefix, unchanged FROM loads WHERE path = ? ORDER BY load_id", [str(desk_b)]
    ).fetchall() == [(None, False), ("B-", False), ("B-", True), ("DB-", False)]


def test_an_exports_events_follow_its_tickets_id_prefix(con, tmp_path) -> None:
    desk_a = tmp_path / "desk_a.csv"
    desk_a.write_text(DESK_TICKETS + "1,desk-a,C1,2026-10-20T09:00:00Z,payout delayed\n")
    load_file(con, desk_a)
    export = tmp_path / "zendesk.json"
    export.write_text(
        '{"tickets": [{"id": 1, "created_at": "2026-10-23T15:00:00Z", '
        '"updated_at": "2026-10-27T11:00:00Z", "status": "solved", "priority": "high", '
        '"requester_id": "C2", "via": {"channel": "email"}}], "ticket_events": [{"ticket_id": 1, '
        '"created_at": "2026-10-26T09:00:00Z", "child_events": [{"event_type": "Comment", '
        '"public": true, "author_id": 99}, {"event_type": "Change", "field_name": "status", '
        '"value": "solved", "previous_value": "open"}]}]}'
    )
    tickets, events = load_derived(con, export, preset="zendesk", id_prefix="ZD-")
    assert (tickets.accepted, tickets.rejected) == (1, {})
    assert (events.accepted, events.rejected) == (2, {})
    assert con.execute("SELECT DISTINCT ticket_id FROM ticket_events").fetchall() == [("ZD-1",)]
    assert con.execute("SELECT ticket_id, source_system FROM tickets ORDER BY 1").fetchall() == [
        ("1", "desk-a"),
        ("ZD-1", "zendesk"),
    ]


EXPORT = (
    "Nr,Ref,Klant,Aangemaakt,Prio\n"
    "1,R-1,C1,2026-10-20T09:00:00Z,high\n"
    "2,R-2,C1,2026-10-20T10:00:00Z,high\n"
    "3,R-3,C2,2026-10-20T11:00:00Z,urgent\n"
)


def _mapping(tmp_path, name: str, columns: str):
    path = tmp_path / name
    path.write_text(
        f'kind = "tickets"\nsource_system = "desk"\n[columns]\n{columns}'
        'customer_id = "Klant"\ncreated_at = "Aangemaakt"\n'
    )
    return path


def test_a_reading_with_other_ids_removes_the_earlier_readings_tickets(con, tmp_path) -> None:
    """Only a change of --id-prefix removed an earlier reading's tickets: an export
    read again through a mapping whose id column changed kept its tickets under
    the old ids beside the new ones, each ticket counted twice."""
    export = tmp_path / "export.csv"
    export.write_text(EXPORT)
    by_number = _mapping(tmp_path, "by_number.toml", 'ticket_id = "Nr"\n')
    first = load_file(con, export, mapping=by_number)
    assert first.accepted == 3 and first.earlier_removed == 0
    # Another file updates ticket 2 since: that version is the other file's.
    update = tmp_path / "update.csv"
    update.write_text(
        "ticket_id,source_system,customer_id,created_at,updated_at,subject\n"
        "2,desk,C1,2026-10-20T10:00:00Z,2026-10-21T09:00:00Z,updated elsewhere\n"
    )
    updated = load_file(con, update)
    by_reference = _mapping(tmp_path, "by_reference.toml", 'ticket_id = "Ref"\n')
    again = load_file(con, export, mapping=by_reference)
    assert again.read_again == f"other settings than load #{first.load_id} (mapping)"
    # 1 and 3 were the earlier reading's alone: removed. 2 was updated by another
    # file: never touched.
    assert (again.earlier_removed, again.earlier_kept) == (2, 0)
    assert con.execute("SELECT ticket_id, load_id FROM tickets ORDER BY 1").fetchall() == [
        ("2", updated.load_id),
        ("R-1", again.load_id),
        ("R-2", again.load_id),
        ("R-3", again.load_id),
    ]
    assert con.execute(
        "SELECT earlier_removed, earlier_kept FROM loads ORDER BY load_id"
    ).fetchall() == [(None, None)] * 3 + [(2, 0)]


def test_a_ticket_the_new_reading_rejects_keeps_its_stored_version(con, tmp_path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(EXPORT)
    first = load_file(con, export, mapping=_mapping(tmp_path, "a.toml", 'ticket_id = "Nr"\n'))
    # The same ids, now with the priority: ticket 3's 'urgent' is no canonical value.
    with_priority = _mapping(tmp_path, "b.toml", 'ticket_id = "Nr"\npriority = "Prio"\n')
    again = load_file(con, export, mapping=with_priority)
    assert again.rejected == {"unknown_value": 1}
    # 1 and 2 are replaced by the new reading; 3, rejected by it, stays as the earlier
    # reading stored it (said), and is not removed for carrying that reading's load id.
    assert (again.earlier_removed, again.earlier_kept) == (0, 1)
    assert con.execute(
        "SELECT ticket_id, priority, load_id FROM tickets ORDER BY 1"
    ).fetchall() == [
        ("1", "high", again.load_id),
        ("2", "high", again.load_id),
        ("3", None, first.load_id),
    ]
    # Read again with its ids changed as well: ticket 3 is not named any more, and goes.
    both = _mapping(tmp_path, "c.toml", 'ticket_id = "Ref"\npriority = "Prio"\n')
    third = load_file(con, export, mapping=both)
    assert (third.earlier_removed, third.earlier_kept) == (3, 0)
    assert con.execute("SELECT ticket_id FROM tickets ORDER BY 1").fetchall() == [
        ("R-1",),
        ("R-2",),
    ]
    # The rejected row is kept, as rejected rows are.
    assert con.execute(
        "SELECT line_number, reason_code FROM rejected_rows WHERE load_id = ?", [third.load_id]
    ).fetchall() == [(4, "unknown_value")]


def test_a_row_the_mapping_now_skips_keeps_its_stored_ticket(con, tmp_path) -> None:
    # A row the reader itself rejects (skipped by the mapping) names its ticket too.
    export = tmp_path / "export.csv"
    export.write_text(EXPORT)
    first = load_file(con, export, mapping=_mapping(tmp_path, "a.toml", 'ticket_id = "Nr"\n'))
    skipping = tmp_path / "skipping.toml"
    skipping.write_text(
        _mapping(tmp_path, "b.toml", 'ticket_id = "Nr"\n').read_text() + "[file]\nskip_rows = [4]\n"
    )
    kept = load_file(con, export, mapping=skipping)
    assert kept.rejected == {"skipped_by_mapping": 1}
    assert (kept.earlier_removed, kept.earlier_kept) == (0, 1)
    assert con.execute("SELECT ticket_id, load_id FROM tickets ORDER BY 1").fetchall() == [
        ("1", kept.load_id),
        ("2", kept.load_id),
        ("3", first.load_id),
    ]
    # Under a prefix the skipped row names B-3, not 3: every earlier ticket goes.
    prefixed = load_file(con, export, mapping=skipping, id_prefix="B-")
    assert (prefixed.earlier_removed, prefixed.earlier_kept) == (3, 0)
    assert con.execute("SELECT ticket_id FROM tickets ORDER BY 1").fetchall() == [
        ("B-1",),
        ("B-2",),
    ]


def test_a_reading_again_with_the_same_ids_removes_nothing(con, tmp_path) -> None:
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(
        "ticket_id,customer_id,created_at\nT1,C1,2026-10-26 09:00:00\nT2,C1,2026-10-26 10:00:00\n"
    )
    load_file(con, tickets, source_tz="UTC")
    again = load_file(con, tickets, source_tz="Europe/Amsterdam")
    assert (again.earlier_removed, again.earlier_kept) == (0, 0)
    assert con.execute("SELECT ticket_id, load_id FROM tickets ORDER BY 1").fetchall() == [
        ("T1", again.load_id),
        ("T2", again.load_id),
    ]


def test_an_exports_events_go_with_the_tickets_its_earlier_reading_stored(con, tmp_path) -> None:
    export = tmp_path / "zendesk.json"
    export.write_text(
        '{"tickets": [{"id": 1, "created_at": "2026-10-23T15:00:00Z", '
        '"updated_at": "2026-10-27T11:00:00Z", "status": "solved", "priority": "high", '
        '"requester_id": "C2", "via": {"channel": "email"}}], "ticket_events": [{"ticket_id": 1, '
        '"created_at": "2026-10-26T09:00:00Z", "child_events": [{"event_type": "Comment", '
        '"public": true, "author_id": 99}]}]}'
    )
    load_derived(con, export, preset="zendesk")
    tickets, events = load_derived(con, export, preset="zendesk", id_prefix="ZD-")
    assert (tickets.earlier_removed, tickets.earlier_kept, events.accepted) == (1, 0, 1)
    assert con.execute("SELECT ticket_id FROM tickets").fetchall() == [("ZD-1",)]
    assert con.execute("SELECT DISTINCT ticket_id FROM ticket_events").fetchall() == [("ZD-1",)]


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("", r"^--id-prefix is empty"),
        (" B-", r"^--id-prefix ' B-' starts or ends with a space"),
    ],
)
def test_an_id_prefix_that_would_not_show_is_refused(con, tmp_path, prefix, message) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(DESK_TICKETS + "1,desk-b,C1,2026-10-21T09:00:00Z,refund\n")
    with pytest.raises(LoadError, match=message):
        load_file(con, path, id_prefix=prefix)
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]


def test_a_customers_file_takes_no_id_prefix(con, tmp_path) -> None:
    with pytest.raises(LoadError, match=r"customers\.csv: --id-prefix is for tickets and events"):
        load_file(con, FIXTURES / "customers.csv", id_prefix="B-")


def test_a_customers_name_is_that_of_its_latest_plan(tmp_path) -> None:
    """Found by the mutation pass: taking the name from the earliest plan row went
    unnoticed. A customer renamed at an upgrade is known by its new name."""
    con = connect(":memory:")
    path = tmp_path / "plans.csv"
    path.write_text(
        "customer_id,name,tier,valid_from,valid_to\n"
        "K1,Molen BV,premium,2026-01-01T00:00:00Z,\n"  # listed first, the latest plan
        "K1,Bakkerij De Molen,business,2024-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
    )
    load_file(con, path)
    assert con.execute("SELECT customer_id, name FROM customers").fetchall() == [("K1", "Molen BV")]


def test_a_first_response_up_to_five_seconds_after_creation_is_flagged(con, tmp_path) -> None:
    """The auto-responder flag's bound is inclusive: 5 s is flagged, 6 s is not
    (found by the mutation pass: `<` for `<=` went unnoticed)."""
    path = tmp_path / "tickets.csv"
    path.write_text(
        "ticket_id,customer_id,created_at,first_response_at\n"
        "T1,C1,2026-10-26T10:00:00Z,2026-10-26T10:00:05Z\n"
        "T2,C1,2026-10-26T10:00:00Z,2026-10-26T10:00:06Z\n"
    )
    assert load_file(con, path).flagged == {"auto_response": 1}
    assert con.execute("SELECT ticket_id, message FROM flagged_rows").fetchall() == [
        ("T1", "first response 5.0 s after creation: probably an auto-responder")
    ]


def test_a_correction_without_a_status_column_keeps_the_stored_status(con, tmp_path) -> None:
    """Found by the mutation pass: the status was the one kept field no test held."""
    first = tmp_path / "export.csv"
    first.write_text(
        "ticket_id,customer_id,created_at,resolved_at,status\n"
        "T1,C1,2026-10-26T10:00:00Z,2026-10-27T10:00:00Z,resolved\n"
    )
    correction = tmp_path / "correction.csv"
    correction.write_text(
        "ticket_id,customer_id,created_at,subject,updated_at\n"
        "T1,C1,2026-10-26T10:00:00Z,Payout delayed,2026-10-28T09:00:00Z\n"
    )
    load_file(con, first)
    load_file(con, correction)
    assert con.execute("SELECT status, subject FROM tickets").fetchall() == [
        ("resolved", "Payout delayed")
    ]


def test_a_wide_file_without_a_required_column_says_how_many_columns_it_has(con, tmp_path) -> None:
    # The first 12 columns were given as "the file's columns": the 3 after them,
    # the ones a reader might look for, seemed not to be there.
    path = tmp_path / "tickets.csv"
    names = ["ticket_id", "customer_id", *(f"extra_{i}" for i in range(13))]
    path.write_text(",".join(names) + "\nT1,C1" + ",x" * 13 + "\n")
    with pytest.raises(LoadError) as caught:
        load_file(con, path, kind="tickets")
    assert str(caught.value) == (
        f"{path}: no column 'created_at', which every tickets row needs (the file's columns: "
        "ticket_id, customer_id, extra_0, extra_1, extra_2, extra_3, extra_4, extra_5, "
        "extra_6, extra_7, extra_8, extra_9, ... (15 in all)); nothing was loaded"
    )


def test_times_beyond_the_years_the_evaluation_counts_are_rejected(con, tmp_path) -> None:
    """A time in 9999 (a placeholder for "never") or 1500 (a typo) loaded, and then
    every `sla evaluate` stopped on it: the evaluation counts int64 nanoseconds."""
    from pipeline.evaluate import evaluate

    path = tmp_path / "far.csv"
    path.write_text(
        "ticket_id,customer_id,created_at,first_response_at,resolved_at,updated_at\n"
        "T1,C1,9999-12-31T10:00:00+01:00,,,\n"
        "T2,C1,2026-10-05T10:00:00+01:00,9999-12-31 10:00,,\n"
        "T3,C1,2026-10-05T10:00:00+01:00,,2300-01-01T10:00:00Z,\n"
        "T4,C1,1500-10-05T10:00:00+01:00,,,\n"
        "T5,C1,2026-10-05T10:00:00+01:00,,,2200-01-01T00:00:00Z\n"
        "T6,C1,1900-01-01T00:00:00Z,,,2199-12-31T23:59:59.999999Z\n"
        "T7,C1,2026-10-05T10:00:00+01:00,,,\n"
    )
    summary = load_file(con, path, source_tz="Europe/Amsterdam")
    rejected = con.execute(
        "SELECT line_number, field, reason_code, value FROM rejected_rows WHERE load_id = ? "
        "ORDER BY line_number",
        [summary.load_id],
    ).fetchall()
    assert rejected == [
        (2, "created_at", "timestamp_out_of_range", "9999-12-31T10:00:00+01:00"),
        (3, "first_response_at", "timestamp_out_of_range", "9999-12-31 10:00"),
        (4, "resolved_at", "timestamp_out_of_range", "2300-01-01T10:00:00Z"),
        (5, "created_at", "timestamp_out_of_range", "1500-10-05T10:00:00+01:00"),
        (6, "updated_at", "timestamp_out_of_range", "2200-01-01T00:00:00Z"),
    ]
    events = tmp_path / "far_events.csv"
    events.write_text(
        "ticket_id,at,kind,old_value,new_value,actor_type\n"
        "T7,9999-12-31T10:00:00+01:00,status_change,new,open,agent\n"
        "T7,2026-10-05T11:00:00+01:00,agent_reply,,,agent\n"
    )
    loaded = load_file(con, events)
    assert loaded.rejected == {"timestamp_out_of_range": 1}
    assert loaded.accepted == 1
    # The two bounds' own sides: 1900-01-01 and the last microsecond of 2199 load.
    assert sorted(r[0] for r in con.execute("SELECT ticket_id FROM tickets").fetchall()) == [
        "T6",
        "T7",
    ]
    run = evaluate(con, as_of="2026-11-01T00:00:00Z")
    assert set(run.results["ticket_id"]) == {"T6", "T7"}
