"""What the warehouse holds: loads, counts, and the rows loads kept but did not
store, outstanding or superseded by a later reading of the same file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.load import load_derived, load_file
from pipeline.status import StatusError, list_rows, warehouse_status
from pipeline.warehouse import connect

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def con(tmp_path):
    """A warehouse with one customer, C1, loaded without rejections."""
    con = connect(":memory:")
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,tier,valid_from\nC1,business,2024-01-01T00:00:00Z\n")
    load_file(con, customers)
    return con


def test_status() -> None:
    con = connect(":memory:")
    load_file(con, FIXTURES / "customers.csv")
    load_file(con, FIXTURES / "tickets.csv", source_tz="Europe/Amsterdam")
    status = warehouse_status(con)
    assert status.counts["tickets"] == 4
    assert set(status.rejected["reason_code"]) >= {"unknown_tier", "unknown_customer"}
    assert list(status.loads["kind"]) == ["customers", "tickets"]
    # T9, created in 2036, stays out of the range and is counted apart. T2 (naive
    # 02:30 on the night the clocks go back) is read as the later, winter 02:30.
    ts = pd.Timestamp
    assert status.created_range == (ts("2026-10-21T08:00Z"), ts("2026-10-25T01:30Z"))
    assert status.created_later == (1, ts("2036-10-21T08:00Z"))
    # As seen from a later instant, it is in the range like any other.
    status = warehouse_status(con, now=ts("2040-01-01T00:00Z"))
    assert status.created_range == (ts("2026-10-21T08:00Z"), ts("2036-10-21T08:00Z"))
    assert status.created_later == (0, None)


def events_before_and_after_their_ticket(con, tmp_path) -> tuple[Path, list[int]]:
    """QA's case: events loaded before their tickets, then read again after them."""
    events = tmp_path / "ev.csv"
    events.write_text(
        "ticket_id,at,kind,old_value,new_value,actor_type\n"
        "T1,2026-10-26T11:00:00Z,agent_reply,,,agent\n"
        "T1,2026-10-26T12:00:00Z,status_change,open,waiting_on_customer,agent\n"
        "T9,2026-10-26T12:00:00Z,agent_reply,,,agent\n"
    )
    tickets = tmp_path / "t1.csv"
    tickets.write_text("ticket_id,customer_id,created_at\nT1,C1,2026-10-26T10:00:00Z\n")
    first = load_file(con, events)
    load_file(con, tickets)
    again = load_file(con, events)
    return events, [first.load_id, again.load_id]


def test_rejections_mended_by_a_later_reading_no_longer_count(con, tmp_path) -> None:
    """Three rows rejected, two of them mended by reading the file again once their
    ticket was loaded: status counted four rejections (found by QA)."""
    _, (first, again) = events_before_and_after_their_ticket(con, tmp_path)
    status = warehouse_status(con)
    assert status.rejected.to_dict("records") == [
        {"reason_code": "event_for_unknown_ticket", "field": "ticket_id", "rows": 1}
    ]
    assert status.superseded == {"rejected": 3, "not_applied": 0, "flagged": 0}
    assert status.counts["rejected_rows"] == 4  # the history is kept
    loads = status.loads.set_index("load_id")
    assert loads.loc[first, "superseded_by"] == again
    assert pd.isna(loads.loc[again, "superseded_by"])
    assert loads.loc[again, "read_again"] == (
        f"load #{first} rejected rows for want of tickets, loaded since (ticket T1)"
    )
    assert pd.isna(loads.loc[first, "read_again"])
    # Each load still adds up: read = accepted + rejected.
    assert (loads["rows_read"] == loads["accepted"] + loads["rejected"]).all()


def test_rejected_rows_are_listed_with_line_field_value_and_raw_text(con, tmp_path) -> None:
    events, (_, again) = events_before_and_after_their_ticket(con, tmp_path)
    found = list_rows(con, "rejected")
    assert found.matching == 1 and found.more == 0
    row = found.rows.iloc[0]
    assert (row.load_id, row.file, row.line_number, row.field, row.reason_code, row.value) == (
        again,
        str(events),
        4,
        "ticket_id",
        "event_for_unknown_ticket",
        "T9",
    )
    assert row.message == "event for a ticket that is not loaded"
    assert row.raw.startswith('{"ticket_id":"T9","at":"2026-10-26T12:00:00Z"')
    # The history, each row saying which reading superseded it; limited, it says how many more.
    history = list_rows(con, "rejected", include_superseded=True, limit=2)
    assert (history.matching, history.more) == (4, 2)
    assert list(history.rows["line_number"]) == [2, 3]
    assert list(history.rows["superseded_by"]) == [again, again]
    # By file (as loaded, or its name alone) and by reason.
    assert list_rows(con, "rejected", file="ev.csv").matching == 1
    assert list_rows(con, "not_applied", file="ev.csv").matching == 0  # loaded, no such rows
    # A file never loaded is said to be so, not listed as one without rejections.
    with pytest.raises(StatusError) as caught:
        list_rows(con, "rejected", file=str(tmp_path / "other.csv"))
    assert str(caught.value) == (
        f"no file {tmp_path / 'other.csv'} was loaded: --file takes a path as loaded, or its "
        f"end (loaded: {tmp_path / 'customers.csv'}, {events}, {tmp_path / 't1.csv'}; sla "
        "status lists every load)"
    )
    assert list_rows(con, "rejected", reason="unknown_customer").matching == 0
    with pytest.raises(StatusError, match="no rejected row has reason 'older_than_stored'"):
        list_rows(con, "rejected", reason="older_than_stored")


def test_rows_not_applied_are_counted_and_listed(con, tmp_path) -> None:
    first = tmp_path / "v1.csv"
    first.write_text(
        "ticket_id,customer_id,created_at,resolved_at\n"
        "T1,C1,2026-10-26T10:00:00Z,2026-10-29T10:00:00Z\n"
    )
    second = tmp_path / "v2.csv"
    second.write_text(
        "ticket_id,customer_id,created_at,resolved_at\n"
        "T1,C1,2026-10-26T10:00:00Z,2026-10-26T15:00:00Z\n"
    )
    load_file(con, first)
    load_file(con, second)
    status = warehouse_status(con)
    assert status.not_applied.to_dict("records") == [
        {"reason_code": "older_than_stored", "field": "updated_at", "rows": 1}
    ]
    assert status.loads["not_applied"].tolist() == [0, 0, 1]
    found = list_rows(con, "not_applied", reason="older_than_stored")
    assert found.rows[["file", "line_number", "ticket_id"]].values.tolist() == [
        [str(second), 2, "T1"]
    ]


def test_a_rejected_value_is_found_under_the_headers_own_spelling(con, tmp_path) -> None:
    # The header wrote 'Created_At ' (field names ignore case and spaces): the value
    # was looked up under 'created_at' in the raw row, and none was shown.
    path = tmp_path / "excel.csv"
    path.write_text("Ticket_ID,Customer_ID,Created_At \nT1,C1,05-10-2026 09:00\n")
    load_file(con, path, source_tz="Europe/Amsterdam")
    row = list_rows(con, "rejected").rows.iloc[0]
    assert (row.field, row.source_column, row.value) == (
        "created_at",
        "Created_At ",
        "05-10-2026 09:00",
    )


def test_every_rejected_row_of_a_preset_shows_its_value(con, tmp_path) -> None:
    """A preset's raw record names its fields otherwise, or not at all (Zendesk's
    metric_set.solved_at, an event's time on its parent record, ServiceNow's
    sys_updated_on and company): such rows were listed with no value."""
    zendesk = tmp_path / "z.json"
    zendesk.write_text(
        '{"tickets": ['
        '{"id": 1, "created_at": "2026-10-26T08:00:00Z", "organization_id": "C1", '
        '"metric_set": {"solved_at": "yesterday"}},'
        '{"id": 2, "created_at": "2026-10-26T08:00:00Z", "organization_id": "C1"}], '
        '"ticket_events": ['
        '{"ticket_id": 2, "timestamp": "soon", "child_events": '
        '[{"event_type": "Comment", "public": true, "author_id": 9}]},'
        '{"ticket_id": 404, "created_at": "2026-10-26T09:00:00Z", "child_events": '
        '[{"event_type": "Comment", "public": true, "author_id": 9}]},'
        '{"ticket_id": 2, "created_at": "2026-10-26T09:00:00Z", "child_events": '
        '[{"event_type": "Change", "field_name": "status", "value": "weird"}]}]}'
    )
    servicenow = tmp_path / "sn.csv"
    servicenow.write_text(
        "number,incident_state,sys_updated_on,opened_at,company\n"
        "INC1,1,yesterday,2026-10-23 17:00:00,C1\n"
        "INC2,1,2026-10-23 17:00:00,2026-10-23 17:00:00,C404\n"
    )
    load_derived(con, zendesk, preset="zendesk")
    load_derived(con, servicenow, preset="servicenow", source_tz="Europe/Amsterdam")
    rows = list_rows(con, "rejected").rows
    assert rows[["file", "field", "reason_code", "value"]].values.tolist() == [
        [str(zendesk), "resolved_at", "unparseable_timestamp", "yesterday"],
        [str(zendesk), "at", "unparseable_timestamp", "soon"],
        [str(zendesk), "ticket_id", "event_for_unknown_ticket", "404"],
        [str(zendesk), "new_value", "unknown_value", "weird"],
        [str(servicenow), "updated_at", "unparseable_timestamp", "yesterday"],
        [str(servicenow), "customer_id", "unknown_customer", "C404"],
    ]
