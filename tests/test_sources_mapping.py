"""Mapping files and the built-in table presets (Freshdesk, Jira Service Management)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import LoadError
from pipeline.load import load_file
from pipeline.sources.mapping import parse_mapping
from pipeline.warehouse import connect

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "docs" / "examples"
PRESETS = Path(__file__).parent / "fixtures" / "presets"


@pytest.fixture
def con():
    con = connect(":memory:")
    load_file(con, EXAMPLES / "customers.csv")
    return con


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def test_dutch_export_through_a_mapping_file(con) -> None:
    summary = load_file(con, EXAMPLES / "dutch-export.csv", mapping=EXAMPLES / "dutch-export.toml")
    assert summary.rows_read == 4
    assert summary.rejected == {"skipped_by_mapping": 1, "unparseable_timestamp": 1}
    rows = dict(
        (r[0], r[1:])
        for r in con.execute(
            "SELECT ticket_id, created_at, first_response_at, priority, channel, subject "
            "FROM tickets"
        ).fetchall()
    )
    created, replied, priority, channel, subject = rows["NL-1"]
    assert pd.Timestamp(created) == utc("2026-10-01T07:15Z")  # 09:15 CEST
    assert pd.Timestamp(replied) == utc("2026-10-01T08:00Z")
    assert (priority, channel) == ("high", "phone")
    assert subject.endswith("€ 12,50")  # cp1252 read as such
    assert rows["NL-2"][1] is None  # "#N/B" is empty
    loads = con.execute("SELECT preset, source_tz, mapping FROM loads WHERE load_id = 2").fetchall()
    assert loads[0][0] == "mapping" and loads[0][1] == "Europe/Amsterdam"
    assert "Ticketnummer" in loads[0][2]  # the mapping is recorded with the load


def test_freshdesk_preset(con) -> None:
    summary = load_file(con, PRESETS / "freshdesk.csv", preset="freshdesk")
    assert summary.accepted == 2 and summary.rejected == {"unparseable_timestamp": 1}
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT ticket_id, status, priority, channel, first_response_at, source_system "
            "FROM tickets"
        ).fetchall()
    }
    assert rows["101"][:3] == ("resolved", "high", "email")
    assert pd.Timestamp(rows["101"][3]) == utc("2026-10-26T09:00Z")  # 10:00 CET
    assert rows["102"][:3] == ("waiting_on_customer", "critical", "phone")
    assert rows["101"][4] == "freshdesk"


def test_jsm_preset(con) -> None:
    summary = load_file(con, PRESETS / "jsm.csv", preset="jsm")
    assert summary.accepted == 2, summary
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT ticket_id, created_at, status, priority FROM tickets"
        ).fetchall()
    }
    assert pd.Timestamp(rows["PAY-1"][0]) == utc("2026-10-23T15:00Z")  # 5:00 PM CEST
    assert rows["PAY-2"][1:] == ("waiting_on_customer", "critical")


def test_unknown_preset_and_bad_mapping(con, tmp_path) -> None:
    with pytest.raises(LoadError, match=r"preset 'zendesk' is not available"):
        load_file(con, PRESETS / "jsm.csv", preset="zendesk")
    with pytest.raises(LoadError, match=r"field 'columns.colour'"):
        parse_mapping({"columns": {"colour": "X"}}, "m.toml")
    with pytest.raises(LoadError, match=r"file\.encoding"):
        parse_mapping({"file": {"encoding": "ebcdic"}}, "m.toml")
    bad = tmp_path / "m.toml"
    bad.write_text('[columns]\nticket_id = "Nope"\n')
    with pytest.raises(LoadError, match="column 'Nope' named by mapping"):
        load_file(con, PRESETS / "jsm.csv", mapping=bad)


def test_servicenow_snapshots_become_tickets_and_events(con) -> None:
    from pipeline.load import load_servicenow

    with pytest.raises(LoadError, match="--source-tz"):
        load_servicenow(con, PRESETS / "servicenow.csv")
    tickets, events = load_servicenow(con, PRESETS / "servicenow.csv", source_tz="Europe/Amsterdam")
    assert (tickets.accepted, tickets.rejected_total) == (2, 0)
    # INC1: open, hold (awaiting caller), open, resolved; the repeated hold is no event.
    # INC2: resolved, an unknown state 9 (that event is rejected by name), then open.
    assert events.rejected == {"unknown_value": 1}
    timeline = con.execute(
        "SELECT ticket_id, old_value, new_value FROM ticket_events "
        "WHERE kind = 'status_change' ORDER BY ticket_id, \"at\""
    ).fetchall()
    assert timeline == [
        ("INC0010001", "new", "open"),
        ("INC0010001", "open", "waiting_on_customer"),
        ("INC0010001", "waiting_on_customer", "open"),
        ("INC0010001", "open", "resolved"),
        ("INC0010002", "new", "resolved"),
        ("INC0010002", "9", "open"),
    ]
    row = con.execute(
        "SELECT priority, channel, first_response_at, customer_id FROM tickets "
        "WHERE ticket_id = 'INC0010001'"
    ).fetchall()[0]
    assert row[:2] == ("critical", "phone")
    # Escalated from 2 - High in the snapshot of 27 October 11:00: an event.
    escalation = con.execute(
        'SELECT ticket_id, "at", old_value, new_value FROM ticket_events '
        "WHERE kind = 'priority_change'"
    ).fetchall()
    assert [(e[0], pd.Timestamp(e[1]), e[2], e[3]) for e in escalation] == [
        ("INC0010001", utc("2026-10-27T10:00Z"), "high", "critical")
    ]
    assert pd.Timestamp(row[2]) == utc("2026-10-26T09:00Z")  # first move to In Progress
    assert row[3] == "C00001"


def test_zendesk_incremental_export(tmp_path) -> None:
    from pipeline.load import load_derived

    con = connect(":memory:")
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "customer_id,name,tier,valid_from\n20978392,Jansen,premium,2025-01-01T00:00:00Z\n"
        "777,Bakker BV,business,2025-01-01T00:00:00Z\n"
    )
    load_file(con, customers)
    tickets, events = load_derived(con, PRESETS / "zendesk.json", preset="zendesk")
    assert (tickets.accepted, events.accepted) == (2, 7)
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT ticket_id, customer_id, priority, channel, status, requires_it_release, "
            "first_response_at FROM tickets"
        ).fetchall()
    }
    assert rows["35436"][:5] == ("20978392", "critical", "email", "resolved", True)
    assert pd.Timestamp(rows["35436"][5]) == utc("2026-10-26T09:00Z")
    assert rows["35437"][:4] == ("777", "normal", "phone", "waiting_on_customer")
    kinds = [
        r[0]
        for r in con.execute(
            "SELECT kind FROM ticket_events WHERE ticket_id = '35436' ORDER BY \"at\", kind"
        ).fetchall()
    ]
    assert kinds == [
        "agent_reply",
        "priority_change",
        "status_change",
        "customer_reply",
        "internal_note",
        "status_change",
    ]
    # Escalated from high to urgent on 26 October: --as-of before that sees high.
    change = con.execute(
        "SELECT old_value, new_value FROM ticket_events WHERE kind = 'priority_change'"
    ).fetchall()
    assert change == [("high", "critical")]
    from pipeline.evaluate import evaluate

    before = evaluate(con, as_of="2026-10-25T00:00Z", store=False).results
    assert set(before.loc[before["ticket_id"] == "35436", "priority"]) == {"high"}
