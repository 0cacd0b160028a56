"""Ticket audits: hand-worked tickets re-derived segment by segment, a tampered
stored row caught, the renderers, and the agreement of the monthly report, the
breach register and the audit on the sample data."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.audit import CHECKED, KEY, audit_ticket, render_audit_html, render_audit_text
from pipeline.breach_register import BREACH_STATUSES, breach_register
from pipeline.errors import AuditError
from pipeline.evaluate import evaluate
from pipeline.i18n import Messages
from pipeline.load import load_file
from pipeline.policy import Policy
from pipeline.report_monthly import build_context
from pipeline.warehouse import connect
from tests.conftest import SAMPLE
from tests.evaluation_fixtures import (
    build,
    critical_override_policy,
    hand_worked_plans,
    local,
    plan,
    priority_change,
    reply,
    status,
    ticket,
)
from tests.test_evaluate_properties import POLICIES, _event_rows, _ticket_row, histories

H = 3600.0
DAY = 8.5 * H  # one full opening day of `office`
AS_OF = "2026-11-01T00:00"


@pytest.fixture(scope="module")
def con():
    tickets = [
        ticket("FRI", "C-PREM", "2026-10-23T17:00", first_response="2026-10-26T10:00"),
        ticket("PAUSE", "C-BUS", "2026-10-22T10:00", first_response="2026-10-22T11:00"),
        ticket("REOPEN", "C-BUS", "2026-10-05T09:00"),
        ticket(
            "ITREL",
            "C-BUS",
            "2026-10-01T09:00",
            first_response="2026-10-01T10:00",
            resolved="2026-10-30T10:00",
            requires_it_release=True,
        ),
        # Sunday 03:00 the night the clocks go back (03:00 CET = 02:00 UTC).
        ticket(
            "OUTAGE",
            "C-BUS",
            "2026-10-25T03:00+01:00",
            first_response="2026-10-25T03:20+01:00",
            resolved="2026-10-25T09:00",
            priority="critical",
            channel="outage_line",
        ),
        ticket(
            "FREE",
            "C-FREE",
            "2026-10-20T09:00",
            first_response="2026-10-20T12:00",
            resolved="2026-10-21T09:00",
        ),
        ticket("OPEN", "C-BUS", "2026-10-23T09:00", first_response="2026-10-23T09:10"),
        ticket("UPGRADE", "C-UPG", "2026-10-12T10:00", first_response="2026-10-13T15:00"),
        ticket("LATER", "C-BUS", "2026-11-03T10:00"),
    ]
    events = [
        status("FRI", "2026-10-27T12:00", "new", "resolved"),
        status("PAUSE", "2026-10-23T15:00", "new", "waiting_on_customer"),
        status("PAUSE", "2026-10-26T11:00", "waiting_on_customer", "open"),
        status("PAUSE", "2026-10-26T15:00", "open", "resolved"),
        reply("REOPEN", "2026-10-05T09:30"),
        status("REOPEN", "2026-10-06T09:00", "new", "resolved"),
        status("REOPEN", "2026-10-08T09:00", "resolved", "open"),
        status("REOPEN", "2026-10-08T13:00", "open", "resolved"),
        # Known only after the as-of instant: the audit must not see it.
        status("OPEN", "2026-11-02T10:00", "new", "resolved"),
    ]
    con = build(tickets, events, hand_worked_plans())
    evaluate(con, as_of=AS_OF)
    return con


def metric(audit, name: str):
    return next(m for m in audit.metrics if m.metric == name)


def test_pause_over_a_weekend_counts_only_its_working_overlap(con) -> None:
    audit = audit_ticket(con, "PAUSE")
    res = metric(audit, "resolution")
    assert [(s.status, s.counted_as, s.working_seconds) for s in res.segments] == [
        ("new", "elapsed", 13.5 * H),  # Thu 10:00-17:30, Fri 09:00-15:00
        ("waiting_on_customer", "paused", 4.5 * H),  # Fri 15:00-17:30, Mon 09:00-11:00
        ("open", "elapsed", 4 * H),  # Mon 11:00-15:00
    ]
    assert "pause" in res.segments[1].note
    assert (res.elapsed, res.paused, res.gap) == (17.5 * H, 4.5 * H, 0.0)
    assert res.clock_stop == "2026-10-26T15:00:00+01:00"
    assert res.status == "met" and res.month == "2026-10"
    # The calendar spans in the window: Thu, Fri, Mon (the weekend is closed).
    assert [s.start[:10] for s in res.open_spans] == ["2026-10-22", "2026-10-23", "2026-10-26"]
    assert sum(s.seconds for s in res.open_spans) == res.working_total == 22 * H
    assert "= elapsed 63,000 s" in res.arithmetic
    assert audit.matches and all(c.agrees for c in res.checks)


def test_reopen_gap_is_named_and_left_out(con) -> None:
    res = metric(audit_ticket(con, "REOPEN"), "resolution")
    assert [(s.status, s.counted_as, s.working_seconds) for s in res.segments] == [
        ("new", "elapsed", DAY),
        ("resolved", "gap", 2 * DAY),
        ("open", "elapsed", 4 * H),
    ]
    assert "reopen gap" in res.segments[1].note
    assert res.gap == 2 * DAY and res.elapsed == DAY + 4 * H
    assert "final resolved stretch" in res.stop_reason
    fr = metric(audit_ticket(con, "REOPEN"), "first_response")
    assert fr.elapsed == 0.5 * H and "first agent reply" in fr.stop_reason


def test_friday_evening_premium_deadline_and_tier(con) -> None:
    audit = audit_ticket(con, "FRI")
    assert audit.tier == "premium" and "covers the creation" in audit.tier_reason
    assert "in force from 2020-01-01" in audit.version_reason
    fr = metric(audit, "first_response")
    assert fr.elapsed == 1.5 * H and fr.target_seconds == 8 * H
    assert fr.deadline == "2026-10-26T16:30:00+01:00"
    assert "tier 'premium': 8 hours" in fr.threshold_reason
    assert audit.matches


def test_exclusion_outage_benchmark_and_open_tickets(con) -> None:
    itrel = metric(audit_ticket(con, "ITREL"), "resolution")
    assert itrel.status == "excluded" and itrel.exclusion_rule == "it_release"
    # The field and value that matched, not only the rule's name.
    assert itrel.arithmetic.endswith("-> excluded (it_release: requires_it_release = true)")
    outage = audit_ticket(con, "OUTAGE")
    fr = metric(outage, "first_response")
    assert fr.calendar == "always" and "outage-line call" in fr.calendar_reason
    assert fr.status == "no_sla" and fr.exclusion_rule == "outage_line_no_target"
    res = metric(outage, "resolution")
    assert res.elapsed == 6 * H  # 02:00-08:00 UTC, on the 24/7 calendar
    assert res.arithmetic.startswith("clock time from clock start")
    assert "(6.00 clock hours)" in res.arithmetic and res.clock_time
    assert "; a day is one full opening day of 'always', 86,400 s" in res.threshold_reason
    assert "Clock s" in render_audit_html(outage) and "clock s" in render_audit_text(outage)
    assert res.limit_seconds == 7 * 24 * H
    free = metric(audit_ticket(con, "FREE"), "resolution")
    assert free.status == "no_sla" and free.benchmark_status == "met"
    assert "benchmark only" in free.threshold_reason
    open_ = audit_ticket(con, "OPEN")
    res = metric(open_, "resolution")
    assert res.clock_stop is None and res.elapsed == 6 * DAY
    assert res.status == "open_at_risk"  # 6 of 7 days used, over the 75 % line
    assert all(e["at"] < "2026-11-01" for e in open_.events)  # the later event is unseen
    assert "2 plans on record" in audit_ticket(con, "UPGRADE").tier_reason
    for ticket_id in ("ITREL", "OUTAGE", "FREE", "OPEN", "UPGRADE"):
        assert audit_ticket(con, ticket_id).matches, ticket_id


def test_the_audit_takes_target_limit_and_calendar_from_the_policy(con, monkeypatch) -> None:
    # One choice of threshold for the evaluation, the customer report and the audit
    # (Policy.ticket_threshold): a change there reaches the audit, which keeps only
    # its words for which rule applied.
    chosen = Policy.ticket_threshold
    calls = []

    def shifted(self, version, metric, tier, priority, *, outage_line):
        calls.append((metric, tier, priority, outage_line))
        target, limit, _ = chosen(self, version, metric, tier, priority, outage_line=outage_line)
        return target + 1, limit + 2, "always"

    monkeypatch.setattr(Policy, "ticket_threshold", shifted)
    fr = metric(audit_ticket(con, "FRI"), "first_response")
    assert calls == [
        ("first_response", "premium", "normal", False),
        ("resolution", "premium", "normal", False),
    ]
    assert (fr.target_seconds, fr.limit_seconds, fr.calendar) == (8 * H + 1, 8 * H + 2, "always")
    assert "tier 'premium': 8 hours" in fr.threshold_reason
    assert {c.field for c in fr.checks if not c.agrees} >= {
        "target_seconds",
        "limit_seconds",
        "calendar",
    }


def test_a_tampered_stored_row_is_flagged(con) -> None:
    evaluation = evaluate(con, as_of=AS_OF).evaluation_id
    con.execute(
        "UPDATE sla_results SET elapsed_working_seconds = elapsed_working_seconds + 60, "
        "status = 'breached' WHERE evaluation_id = ? AND ticket_id = 'PAUSE' "
        "AND metric = 'resolution'",
        [evaluation],
    )
    audit = audit_ticket(con, "PAUSE", evaluation_id=evaluation)
    res = metric(audit, "resolution")
    assert not res.matches and not audit.matches
    assert {c.field for c in res.checks if not c.agrees} == {
        "elapsed_working_seconds",
        "status",
    }
    differing = next(c for c in res.checks if c.field == "status")
    assert (differing.derived, differing.stored) == ("met", "breached")
    assert "DIFFERS" in render_audit_text(audit)
    data = json.loads(audit.to_json())
    assert data["matches"] is False and data["metrics"][1]["matches"] is False


def test_every_stored_column_is_checked(con) -> None:
    columns = [r[0] for r in con.execute("DESCRIBE sla_results").fetchall()]
    assert [c for c in columns if c not in KEY] == list(CHECKED)
    evaluation = evaluate(con, as_of=AS_OF).evaluation_id
    # REOPEN: a business ticket by e-mail, resolved, reopened once, within its limit.
    con.execute(
        "UPDATE sla_results SET late_working_seconds = 3600, has_sla = false, billable = true, "
        "out_of_hours = true, customer_id = 'C00001', reopens = 3, channel = 'chat', "
        "outage_line = true, cause_domain = 'customer', policy_hash = 'x' "
        "WHERE evaluation_id = ? AND ticket_id = 'REOPEN' AND metric = 'resolution'",
        [evaluation],
    )
    res = metric(audit_ticket(con, "REOPEN", evaluation_id=evaluation), "resolution")
    assert not res.matches
    assert {c.field: (c.derived, c.stored) for c in res.checks if not c.agrees} == {
        "late_working_seconds": (None, 3600.0),
        "has_sla": (True, False),
        "billable": (False, True),
        "out_of_hours": (False, True),
        "customer_id": ("C-BUS", "C00001"),
        "reopens": (1, 3),
        "channel": ("email", "chat"),
        "outage_line": (False, True),
        "cause_domain": ("unknown", "customer"),
        "policy_hash": (Policy.default().hash, "x"),
    }


def test_no_stored_row_is_no_verdict(con) -> None:
    september = evaluate(con, as_of=AS_OF, month_from="2026-09", month_to="2026-09")
    try:
        audit = audit_ticket(con, "PAUSE", evaluation_id=september.evaluation_id)
    finally:  # the latest evaluation again for the other tests
        con.execute("DELETE FROM evaluations WHERE evaluation_id = ?", [september.evaluation_id])
    assert [m.stored for m in audit.metrics] == [None, None]
    assert audit.matches is None
    data = json.loads(audit.to_json())
    assert data["matches"] is None
    assert [m["matches"] for m in data["metrics"]] == [None, None]
    verdict = BeautifulSoup(render_audit_html(audit), "html.parser").select_one("#verdict")
    assert verdict.get_text().startswith("No stored row: nothing compared.")
    assert "differs" in verdict["class"]
    assert "no stored row" in render_audit_text(audit)


def test_an_edited_policy_document_is_refused(con) -> None:
    con.execute(
        "INSERT INTO evaluations SELECT 99, * EXCLUDE (evaluation_id) REPLACE ("
        "replace(policy_document, '\"target_hours\": 8', '\"target_hours\": 4') "
        "AS policy_document) FROM evaluations WHERE evaluation_id = 1"
    )
    try:
        with pytest.raises(AuditError) as caught:
            audit_ticket(con, "FRI", evaluation_id=99)
    finally:
        con.execute("DELETE FROM evaluations WHERE evaluation_id = 99")
    assert str(caught.value).startswith(
        "the policy document stored with evaluation #99 no longer matches its policy_hash "
        f"{Policy.default().hash[:12]} (it hashes to "
    )


def test_unknown_ticket_evaluation_and_tickets_the_run_never_saw(con) -> None:
    with pytest.raises(AuditError, match="no ticket 'NOPE'"):
        audit_ticket(con, "NOPE")
    with pytest.raises(AuditError, match="no evaluation #999"):
        audit_ticket(con, "FRI", evaluation_id=999)
    with pytest.raises(AuditError, match="after the as-of instant"):
        audit_ticket(con, "LATER", evaluation_id=1)


def test_renderers(con) -> None:
    con.execute("UPDATE tickets SET subject = '<b>=HYPERLINK(1)</b>' WHERE ticket_id = 'PAUSE'")
    audit = audit_ticket(con, "PAUSE", evaluation_id=1)
    text = render_audit_text(audit)
    assert "stored result reproduced" in text and "waiting_on_customer" in text
    soup = BeautifulSoup(render_audit_html(audit), "html.parser")
    assert soup.select_one("#ticket td").get_text() == "<b>=HYPERLINK(1)</b>"
    assert not soup.select("#ticket b")  # ticket text is data, not markup
    rows = soup.select("#metric-resolution table.segments tbody tr")
    assert [r.select("td")[3].get_text() for r in rows] == ["elapsed", "paused", "elapsed"]
    assert not soup.select("tr.differs")
    data = json.loads(audit.to_json())
    assert data["metrics"][1]["segments"][1]["working_seconds"] == 4.5 * H


# ------------------------------------------------- report, register and audit


MONTH = "2026-10"


@pytest.fixture(scope="module")
def sample_context(sample_warehouse):
    return build_context(sample_warehouse, MONTH)


def test_report_register_and_audit_agree(sample_warehouse, sample_context) -> None:
    con, context = sample_warehouse, sample_context
    register = breach_register(
        con, month_from=MONTH, month_to=MONTH, evaluation_id=context.evaluation_id
    )
    assert len(register) > 10  # the sample has breaches to check
    m = Messages(context.lang)
    names = {m(x): x for x in ("first_response", "resolution")}
    in_report = {
        (b.ticket_id, names[b.metric_label], b.status)
        for b in (*context.breaches, *context.open_at_month_end)
        if b.status in BREACH_STATUSES
    }
    assert in_report == set(
        zip(register["ticket_id"], register["metric"], register["status"], strict=True)
    )
    for row in register.itertuples():
        audit = audit_ticket(con, row.ticket_id, evaluation_id=context.evaluation_id)
        res = metric(audit, row.metric)
        assert res.matches, row.ticket_id
        assert res.status == row.status
        assert res.elapsed == pytest.approx(row.elapsed_working_seconds, abs=1e-3)
        assert res.paused == pytest.approx(row.paused_working_seconds, abs=1e-3)
        assert res.gap == pytest.approx(row.gap_working_seconds, abs=1e-3)
        assert res.limit_seconds == row.limit_seconds
        assert res.deadline == row.deadline_local.isoformat()


def test_the_priority_of_the_time_is_re_derived_and_explained() -> None:
    policy = critical_override_policy()
    escalated = {**ticket("UP", "C-BUS", "2026-10-12T09:00"), "priority": "critical"}
    change = priority_change("UP", "2026-11-03T10:00", "normal", "critical")
    con = build([escalated], [change], [plan("C-BUS", "business", "2026-01-01")])
    evaluate(con, policy, as_of=AS_OF)
    audit = audit_ticket(con, "UP")
    assert audit.matches
    assert audit.priority == "normal"
    assert "before the change to 'critical' at 2026-11-03T10:00:00+01:00" in audit.priority_reason
    resolution = next(m for m in audit.metrics if m.metric == "resolution")
    assert resolution.limit_seconds == 7 * DAY  # not the critical override's 2 days
    assert any(c.field == "priority" and c.agrees for c in resolution.checks)
    assert "priority normal: the priority before" in render_audit_text(audit)
    html = BeautifulSoup(render_audit_html(audit), "html.parser")
    row = next(r for r in html.select("#ticket tr") if r.th.text == "Priority normal")
    assert "after the as-of instant" in row.td.text


def test_open_spans_show_seconds_off_the_minute(con, sample_warehouse, sample_context) -> None:
    audit = audit_ticket(sample_warehouse, "T0001148", evaluation_id=sample_context.evaluation_id)
    # The first reply came at 12:37:05: the span ends there, not at 12:37.
    assert "open spans of office in the window: 1, 4,652 s (2026-09-23T11:19:33..12:37:05)" in (
        render_audit_text(audit)
    )
    # Whole minutes stay short.
    assert "open spans of office in the window: 1, 3,600 s (2026-10-22T10:00..11:00)" in (
        render_audit_text(audit_ticket(con, "PAUSE", evaluation_id=1))
    )


def test_a_ticket_rejected_at_load_is_said_to_be(sample_warehouse) -> None:
    """Found by QA: 'no ticket BROKEN-TS' said nothing of the row refused at load."""
    with pytest.raises(AuditError) as caught:
        audit_ticket(sample_warehouse, "BROKEN-TS")
    assert str(caught.value) == (
        "no ticket 'BROKEN-TS' in this warehouse; a row naming it was rejected at load: "
        f"{SAMPLE / 'tickets.csv'}, line 10002, unparseable_timestamp on created_at; see the "
        "rejected rows (sla status)"
    )


def test_a_rejected_row_is_named_by_the_path_it_was_loaded_from(tmp_path) -> None:
    """Exports of two dates, each called tickets.csv: the file name alone did not say
    which one held the rejected row."""
    con = connect(":memory:")
    load_file(con, SAMPLE / "customers.csv")
    header = "ticket_id,customer_id,created_at,status\n"
    for month, line in (
        ("2026-09", "OK1,C00001,2026-09-01T10:00:00+02:00,open\n"),
        ("2026-10", "BAD1,C00001,2026-13-01T10:00:00+02:00,open\n"),
    ):
        (tmp_path / month).mkdir()
        (tmp_path / month / "tickets.csv").write_text(header + line)
        load_file(con, tmp_path / month / "tickets.csv")
    with pytest.raises(AuditError) as caught:
        audit_ticket(con, "BAD1")
    assert f"rejected at load: {tmp_path / '2026-10' / 'tickets.csv'}, line 2, " in str(
        caught.value
    )


def test_changes_at_one_instant_and_before_creation_are_ordered_as_the_evaluation_orders_them():
    tickets = [
        ticket("TIE", "C-BUS", "2026-10-20T09:00", first_response="2026-10-20T09:05"),
        ticket("EARLY", "C-BUS", "2026-10-20T10:00", first_response="2026-10-20T10:05"),
    ]
    events = [
        # Two explicit changes at 12:00, 'waiting_on_customer' stored first: the
        # status first by name ('open') holds, in the evaluation and the audit.
        status("TIE", "2026-10-20T12:00", "open", "waiting_on_customer"),
        status("TIE", "2026-10-20T12:00", "waiting_on_customer", "open"),
        status("TIE", "2026-10-20T16:00", "open", "resolved"),
        # Two changes before creation: the later one is the status at creation.
        status("EARLY", "2026-10-20T09:59:10", "new", "open"),
        status("EARLY", "2026-10-20T09:59:50", "open", "waiting_on_customer"),
        status("EARLY", "2026-10-20T16:00", "waiting_on_customer", "resolved"),
    ]
    con = build(tickets, events, [plan("C-BUS", "business", "2025-01-01")])
    evaluate(con, as_of=AS_OF)
    tie = audit_ticket(con, "TIE")
    res = metric(tie, "resolution")
    assert [(s.status, s.counted_as, s.working_seconds) for s in res.segments] == [
        ("new", "elapsed", 3 * H),
        ("open", "elapsed", 4 * H),
    ]
    assert (res.elapsed, res.paused) == (7 * H, 0.0)
    assert tie.matches
    early = audit_ticket(con, "EARLY")
    res = metric(early, "resolution")
    assert [(s.status, s.counted_as, s.working_seconds) for s in res.segments] == [
        ("waiting_on_customer", "paused", 6 * H)
    ]
    assert early.matches


def test_a_reply_before_creation_stops_the_clock_at_creation_in_the_audit_too() -> None:
    tickets = [ticket("EARLY", "C-BUS", "2026-11-01T00:00:20", resolved="2026-11-02T10:00")]
    con = build(
        tickets, [reply("EARLY", "2026-10-31T23:59:40")], [plan("C-BUS", "business", "2025-01-01")]
    )
    evaluate(con, as_of="2026-12-01T00:00")
    audit = audit_ticket(con, "EARLY")
    fr = metric(audit, "first_response")
    assert fr.clock_stop == fr.clock_start == "2026-11-01T00:00:20+01:00"
    assert "before the creation: the clock stops at creation" in fr.stop_reason
    assert (fr.month, fr.elapsed) == ("2026-11", 0.0)
    assert audit.matches


def test_a_closed_ticket_without_resolved_at_stops_at_closed_at() -> None:
    closed = {
        **ticket("CLOSED", "C-BUS", "2026-10-05T09:00", first_response="2026-10-05T09:30"),
        "status": "closed",
        "closed_at": local("2026-10-06T11:00"),
    }
    con = build([closed], [], [plan("C-BUS", "business", "2025-01-01")])
    evaluate(con, as_of=AS_OF)
    audit = audit_ticket(con, "CLOSED")
    res = metric(audit, "resolution")
    assert res.clock_stop == "2026-10-06T11:00:00+02:00"
    assert "closed_at field (no status history, no resolved_at)" in res.stop_reason
    assert res.status == "met" and audit.matches


def test_reaching_a_fractional_hour_target_exactly_is_on_time_in_the_audit() -> None:
    doc = Policy.default().document
    doc["versions"][0]["metrics"]["first_response"]["targets"]["premium"] = {"target_hours": 4.1}
    policy = Policy.from_dict(doc)
    tickets = [ticket("EXACT", "C-PREM", "2026-10-20T10:00", first_response="2026-10-20T14:06")]
    con = build(tickets, [], [plan("C-PREM", "premium", "2025-01-01")])
    evaluate(con, policy, as_of=AS_OF)
    audit = audit_ticket(con, "EXACT")
    fr = metric(audit, "first_response")
    assert (fr.target_seconds, fr.elapsed, fr.status) == (14_760.0, 14_760.0, "met")
    assert "elapsed <= target -> met" in fr.arithmetic
    assert audit.matches


def test_a_fraction_of_a_second_over_the_limit_is_shown_in_the_audit() -> None:
    """Timestamps keep their fraction: 0.4 s over an 8-hour limit is a breach, and
    the audit said "elapsed 28,800 s ... exceeds the limit by 0 s -> breached"."""
    late = ticket("LATE", "C-PREM", "2026-10-20T09:00", first_response="2026-10-20T17:00:00.400")
    half = ticket("HALF", "C-PREM", "2026-10-20T09:00", first_response="2026-10-20T09:00:06.500")
    con = build([late, half], [], [plan("C-PREM", "premium", "2025-01-01")])
    evaluate(con, as_of=AS_OF)
    fr = metric(audit_ticket(con, "LATE"), "first_response")
    assert (fr.elapsed, fr.status) == (pytest.approx(28_800.4), "breached")
    assert "= elapsed 28,800.4 s" in fr.arithmetic
    assert "exceeds the limit by 0.4 s -> breached" in fr.arithmetic
    assert "target 28,800 s" in fr.arithmetic
    dutch = metric(audit_ticket(con, "HALF", lang="nl"), "first_response")
    assert "verstreken 6,5 s" in dutch.arithmetic
    assert "6.5 s" in metric(audit_ticket(con, "HALF"), "first_response").arithmetic


def test_reaching_the_limit_at_the_as_of_instant_is_the_month_under_way_in_the_audit() -> None:
    doc = Policy.default().document
    doc["versions"][0]["outage_line"]["first_response_target_hours"] = 1
    policy = Policy.from_dict(doc)
    call = ticket("NIGHT", "C-BUS", "2026-10-31T23:00", priority="critical", channel="outage_line")
    con = build([call], [], [plan("C-BUS", "business", "2025-01-01")])
    evaluate(con, policy, as_of=AS_OF)
    audit = audit_ticket(con, "NIGHT")
    fr = metric(audit, "first_response")
    assert (fr.status, fr.month) == ("open_at_risk", "2026-10")
    assert audit.matches


def test_out_of_hours_half_a_second_before_opening_agrees_with_the_audit() -> None:
    early = ticket("EARLY", "C-BUS", "2026-10-20T08:59:59.500")
    con = build([early], [], [plan("C-BUS", "business", "2025-01-01")])
    evaluate(con, as_of=AS_OF)
    audit = audit_ticket(con, "EARLY")
    assert all(
        c.derived is True for m in audit.metrics for c in m.checks if c.field == "out_of_hours"
    )
    assert audit.matches


@pytest.mark.parametrize("rule", sorted(POLICIES))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(histories(), min_size=1, max_size=4))
def test_the_audit_reproduces_every_generated_ticket(rule: str, cases) -> None:
    """The audit walks the same generated histories as the property test of the
    evaluation (changes at one instant in any stored order, changes and replies
    before creation, closed tickets without resolved_at) and must agree with
    every stored value."""
    tickets, events, plans = [], [], []
    for i, (t, evs, tier) in enumerate(cases):
        tickets.append(_ticket_row(t, f"T{i}", f"C{i}"))
        events += _event_rows(evs, f"T{i}")
        plans.append(plan(f"C{i}", tier, "2020-01-01"))
    con = build(tickets, events, plans)
    evaluate(con, POLICIES[rule], as_of="2026-11-15T00:00Z")
    for i in range(len(cases)):
        audit = audit_ticket(con, f"T{i}")
        differs = [(m.metric, c) for m in audit.metrics for c in m.checks if not c.agrees]
        assert audit.matches, differs


def test_out_of_hours_with_a_clock_time_first_response_agrees_with_the_audit() -> None:
    # clock = "clock" counts 24/7, but out of hours is still the desk's calendar.
    doc = Policy.default().document
    doc["versions"][0]["metrics"]["first_response"]["clock"] = "clock"
    call = ticket("NIGHT", "C-BUS", "2026-10-20T03:00", priority="critical", channel="outage_line")
    con = build([call], [], [plan("C-BUS", "business", "2025-01-01")])
    evaluate(con, Policy.from_dict(doc), as_of=AS_OF)
    audit = audit_ticket(con, "NIGHT")
    checks = [c for m in audit.metrics for c in m.checks if c.field == "out_of_hours"]
    assert checks and all(c.derived is True for c in checks)
    assert audit.matches


def test_a_verify_re_run_is_not_what_an_audit_reads_by_default(fixture_warehouse) -> None:
    """Found in QA: after `sla audit verify` of an old report, `sla audit ticket`
    and `sla audit breaches` read the verify's re-run, as of that report's instant."""
    from pipeline.audit import latest_evaluation
    from pipeline.breach_register import covering_evaluation

    con = fixture_warehouse
    only_verify = evaluate(con, as_of=AS_OF, made_by="verify").evaluation_id
    # With no other run, the verify's is the one there is.
    assert latest_evaluation(con) == only_verify
    assert covering_evaluation(con, "2026-10", "2026-10") == only_verify
    own = evaluate(con, as_of=AS_OF).evaluation_id
    later_verify = evaluate(con, as_of="2026-10-30T00:00", made_by="verify").evaluation_id
    assert own < later_verify
    assert latest_evaluation(con) == own
    assert covering_evaluation(con, "2026-10", "2026-10") == own
    assert audit_ticket(con, "T1").evaluation_id == own
    report = evaluate(con, as_of=AS_OF, made_by="report").evaluation_id
    assert latest_evaluation(con) == report
    assert covering_evaluation(con, "2026-10", "2026-10") == report


def test_a_pruned_evaluation_cannot_be_audited(fixture_warehouse, tmp_path) -> None:
    from pipeline.retention import plan_prune, prune_evaluations

    con = fixture_warehouse
    evaluate(con, as_of=AS_OF)
    evaluate(con, as_of=AS_OF)
    (tmp_path / "reports").mkdir()
    plan = plan_prune(con, report_folders=[tmp_path / "reports"], keep_latest=1)
    assert prune_evaluations(con, plan).pruned == (1,)
    with pytest.raises(
        AuditError, match=r"evaluation #1 was pruned on .* \(sla evaluations prune\)"
    ):
        audit_ticket(con, "T1", evaluation_id=1)
    assert audit_ticket(con, "T1").evaluation_id == 2
    # Every run pruned: the latest is no default, and the message says why.
    plan = plan_prune(con, report_folders=[tmp_path / "reports"], keep_latest=0)
    assert prune_evaluations(con, plan).pruned == (2,)
    with pytest.raises(AuditError, match="every evaluation in this warehouse was pruned"):
        audit_ticket(con, "T1")


# ------------------------------------------------------------------ in Dutch


def test_the_audit_in_dutch(con) -> None:
    pause = audit_ticket(con, "PAUSE", evaluation_id=1, lang="nl")
    res = metric(pause, "resolution")
    # The same values as in English; only the words differ.
    assert (res.elapsed, res.status) == (17.5 * H, "met")
    assert res.clock_stop == "2026-10-26T15:00:00+01:00"
    assert "de pakketperiode van klant C-BUS van 1 jan 2025 00:00:00 +01:00" in pause.tier_reason
    assert "versie 2025.1 is van kracht vanaf 1 januari 2020" in pause.version_reason
    assert res.segments[1].note.startswith(
        "pauze: status „wacht op klant” (waiting_on_customer) zet de klok stil"
    )
    assert res.arithmetic == (
        "werktijd van start tot stop van de klok 79.200 s − gepauzeerd 16.200 s − tussen "
        "oplossing en heropening 0 s = verstreken 63.000 s (17,50 werkuur); doel 91.800 s, "
        "limiet 214.200 s: verstreken ≤ doel → gehaald (met)"
    )
    assert res.threshold_reason == (
        "pakket Business: doel 3, limiet 7 werkdagen; een werkdag is één volledige "
        "openingsdag van de kantoorkalender (office), 30.600 s"
    )
    text = render_audit_text(pause)
    assert "Ticket PAUSE in evaluatie #1 (stand per 1 nov 2026 00:00:00 +01:00" in text
    assert "Oplossing: gehaald (met)" in text
    assert "deadline 2 nov 2026 14:30:00 +01:00, telt mee in oktober 2026" in text
    assert "22 okt 2026 10:00–17:30; 23 okt 2026 09:00–17:30" in text
    assert "opgeslagen resultaat gereproduceerd: elke waarde klopt" in text
    for english in ("evaluation", "calendar", "working", "elapsed", "stored", " the "):
        assert english not in text, english

    soup = BeautifulSoup(render_audit_html(pause), "html.parser")
    assert soup.html["lang"] == "nl" and soup.h1.get_text() == "Controle van ticket PAUSE"
    rows = soup.select("#metric-resolution table.segments tbody tr")
    assert [r.select("td")[2].get_text() for r in rows] == [
        "„nieuw” (new)",
        "„wacht op klant” (waiting_on_customer)",
        "„open”",
    ]
    assert [r.select("td")[3].get_text() for r in rows] == [
        "verstreken",
        "gepauzeerd",
        "verstreken",
    ]
    assert [r.select("td")[4].get_text() for r in rows] == ["48.600", "16.200", "14.400"]
    checks = {
        r.select("td")[0].get_text(): r.select("td")[1].get_text()
        for r in soup.select("#metric-resolution table.checks tbody tr")
    }
    assert checks["status"] == "gehaald (met)" and checks["month"] == "oktober 2026"
    assert checks["has_sla"] == "ja" and checks["channel"] == "e-mail (email)"
    assert checks["deadline"] == "2 nov 2026 14:30:00 +01:00"
    assert "Elke opgeslagen waarde" in soup.select_one("#verdict").get_text()


def test_exclusions_outage_line_and_benchmarks_in_dutch(con) -> None:
    itrel = metric(audit_ticket(con, "ITREL", lang="nl"), "resolution")
    assert itrel.arithmetic.endswith(
        "→ uitgesloten (excluded) – regel „it_release”: een vereiste IT-release "
        "(requires_it_release = true)"
    )
    outage = audit_ticket(con, "OUTAGE", lang="nl")
    fr = metric(outage, "first_response")
    assert fr.calendar_reason == (
        "een melding via de storingsdienst, herkend aan kanaal storingsdienst (outage_line) "
        "en prioriteit kritiek (critical): 24/7-kalender (always)"
    )
    assert fr.arithmetic.endswith(
        "(0,33 klokuur) → geen SLA (no_sla) – storingsdienst zonder doel (outage_line_no_target)"
    )
    assert "doel 3, limiet 7 dagen; een dag is" in metric(outage, "resolution").threshold_reason
    free = render_audit_text(audit_ticket(con, "FREE", lang="nl"))
    assert "Eerste reactie: geen SLA (no_sla) – ter vergelijking: gehaald (met)" in free
    # Measured against the other tier's targets, as the monthly report says it.
    assert "pakket Pioneer heeft geen SLA en wordt dus gemeten tegen de doelen van Business" in free
    open_ = metric(audit_ticket(con, "OPEN", lang="nl"), "resolution")
    # A reader without the policy file learns what the rule does, not only its code.
    assert open_.stop_reason == (
        "niet opgelost op het peilmoment (heropeningsregel exclude_gaps: de tijd tussen een "
        "oplossing en de volgende heropening telt niet)"
    )
    assert open_.status == "open_at_risk"


def test_dutch_audit_names_calendars_in_words_and_says_when_there_is_no_deadline(con) -> None:
    text = render_audit_text(audit_ticket(con, "OUTAGE", lang="nl"))
    # The policy's calendar names (office, always) are English: Dutch lines use words.
    assert "kalender always" not in text and "kalender office" not in text
    assert "  24/7-kalender: een melding via de storingsdienst" in text
    assert "  1 open periode van de 24/7-kalender in het klokvenster: " in text
    # The outage line's first response has no target, so no deadline: said, not "-".
    assert "deadline – (geen doel, dus geen deadline), telt mee in" in text
    assert "deadline -," not in text
    pause = audit_ticket(con, "PAUSE", evaluation_id=1, lang="nl")
    text = render_audit_text(pause)
    assert (
        "  kantoorkalender: de maatstaf telt werktijd volgens de kantoorkalender (office)" in text
    )
    assert "open perioden van de kantoorkalender in het klokvenster, samen " in text
    # "werk-s" is no Dutch word: the seconds column says what it counts.
    assert "werktijd (s)" in text and "werk-s" not in text
    soup = BeautifulSoup(render_audit_html(pause), "html.parser")
    spans = soup.select_one("#metric-resolution p.tag").get_text()
    assert spans.startswith("Open perioden van de kantoorkalender in het klokvenster (")
    assert "Werktijd (s)" in [th.get_text() for th in soup.select("table.segments th")]
    deadline = BeautifulSoup(
        render_audit_html(audit_ticket(con, "OUTAGE", lang="nl")), "html.parser"
    ).select_one("#metric-first_response table tr:nth-of-type(4) td")
    assert deadline.get_text() == "– (geen doel, dus geen deadline)"


def test_audit_html_keeps_long_values_on_the_page(con) -> None:
    # A policy hash (64 characters, no break) pushed the stored column of the checks
    # off an A4 page, in either language.
    import weasyprint

    def boxes(box):
        yield box
        for child in getattr(box, "children", None) or []:
            yield from boxes(child)

    for lang in ("en", "nl"):
        html = render_audit_html(audit_ticket(con, "PAUSE", evaluation_id=1, lang=lang))
        for page in weasyprint.HTML(string=html).render().pages:
            right = max(b.position_x + b.margin_width() for b in boxes(page._page_box))
            assert right <= page.width + 0.01, lang


def test_the_json_of_an_audit_is_the_same_data_in_each_language(con) -> None:
    english = json.loads(audit_ticket(con, "PAUSE", evaluation_id=1).to_json())
    dutch = json.loads(audit_ticket(con, "PAUSE", evaluation_id=1, lang="nl").to_json())
    assert "lang" not in english
    assert english["metrics"][1]["checks"] == dutch["metrics"][1]["checks"]
    assert english["metrics"][1]["deadline"] == dutch["metrics"][1]["deadline"]


def test_dutch_audit_names_a_closed_day_before_its_date() -> None:
    # "gesloten in het venster: 14 mei 2026 Hemelvaartsdag, 24 mei 2026 Eerste
    # pinksterdag" ran each date into the next name; the name leads, its date after.
    asc = ticket("ASC", "C-BUS", "2026-05-13T10:00", first_response="2026-05-15T10:00")
    con = build([asc], [], hand_worked_plans())
    evaluate(con, as_of="2026-06-01T00:00")
    dutch = audit_ticket(con, "ASC", lang="nl")
    assert "  gesloten in het venster: Hemelvaartsdag (14 mei 2026)" in render_audit_text(dutch)
    html = BeautifulSoup(render_audit_html(dutch), "html.parser")
    assert "Gesloten in het venster: Hemelvaartsdag (14 mei 2026)." in html.get_text(" ")
    english = render_audit_text(audit_ticket(con, "ASC"))
    assert "  closed in the window: 2026-05-14 Ascension Day" in english


def test_an_open_ticket_created_at_the_as_of_instant_counts_in_its_own_month_in_the_audit():
    con = build(
        [ticket("MIDNIGHT", "C-BUS", "2026-11-01T00:00")],
        [],
        [plan("C-BUS", "business", "2025-01-01")],
    )
    evaluate(con, as_of=AS_OF)
    audit = audit_ticket(con, "MIDNIGHT")
    res = metric(audit, "resolution")
    assert (res.status, res.month) == ("open_on_track", "2026-11")
    assert audit.matches
