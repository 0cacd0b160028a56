"""Hand-worked tickets through the evaluation, with the default policy."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.errors import EvaluationError
from pipeline.evaluate import evaluate
from pipeline.policy import Policy
from tests.evaluation_fixtures import (
    build,
    critical_override_policy,
    event,
    hand_worked_plans,
    local,
    plan,
    priority_change,
    reply,
    status,
    ticket,
)

H = 3600.0
AS_OF = "2026-11-01T00:00"


@pytest.fixture(scope="module")
def run(stored):
    return stored[0]


@pytest.fixture(scope="module")
def con(stored):
    return stored[1]


def row(run, ticket_id: str, metric: str) -> pd.Series:
    r = run.results
    hit = r[(r["ticket_id"] == ticket_id) & (r["metric"] == metric)]
    assert len(hit) == 1
    return hit.iloc[0]


@pytest.fixture(scope="module")
def stored():
    tickets = [
        # Friday 17:00 Premium ticket: answered Monday 10:00, resolved Tuesday 12:00.
        ticket(
            "FRI",
            "C-PREM",
            "2026-10-23T17:00",
            first_response="2026-10-26T10:00",
            resolved="2026-10-27T12:00",
        ),
        # Business ticket waiting on the customer over a weekend.
        ticket(
            "PAUSE",
            "C-BUS",
            "2026-10-22T10:00",
            first_response="2026-10-22T11:00",
            resolved="2026-10-26T15:00",
        ),
        # Business ticket resolved, reopened two days later, resolved again.
        ticket(
            "REOPEN",
            "C-BUS",
            "2026-10-05T09:00",
            first_response="2026-10-05T09:30",
            resolved="2026-10-08T13:00",
        ),
        # Needs an IT release: out of the resolution promise.
        ticket(
            "ITREL",
            "C-BUS",
            "2026-10-01T09:00",
            first_response="2026-10-01T10:00",
            resolved="2026-10-30T10:00",
            requires_it_release=True,
        ),
        # Outage line, Sunday 03:00 (the night the clocks go back), cause at the customer.
        ticket(
            "OUTAGE",
            "C-BUS",
            "2026-10-25T03:00+01:00",
            first_response="2026-10-25T03:20+01:00",
            resolved="2026-10-25T09:00",
            priority="critical",
            channel="outage_line",
            cause_domain="customer",
        ),
        # Created the day before the customer upgraded to Premium: judged as Business.
        ticket(
            "UPGRADE",
            "C-UPG",
            "2026-10-12T10:00",
            first_response="2026-10-13T15:00",
            resolved="2026-10-14T10:00",
        ),
        # Business, late beyond the 7-day limit.
        ticket(
            "LATE",
            "C-BUS",
            "2026-10-01T09:00",
            first_response="2026-10-06T09:00",
            resolved="2026-10-14T09:00",
        ),
        # Pioneer: no SLA, measured against Business as benchmark only.
        ticket(
            "FREE",
            "C-FREE",
            "2026-10-20T09:00",
            first_response="2026-10-20T12:00",
            resolved="2026-10-21T09:00",
        ),
        # Still open at the as-of instant, 6 working days in.
        ticket("OPEN", "C-BUS", "2026-10-23T09:00", first_response="2026-10-23T09:10"),
    ]
    events = [
        status("PAUSE", "2026-10-23T15:00", "open", "waiting_on_customer"),
        status("PAUSE", "2026-10-26T11:00", "waiting_on_customer", "open"),
        status("PAUSE", "2026-10-26T15:00", "open", "resolved"),
        status("REOPEN", "2026-10-06T09:00", "open", "resolved"),
        status("REOPEN", "2026-10-08T09:00", "resolved", "open"),
        status("REOPEN", "2026-10-08T13:00", "open", "resolved"),
        reply("REOPEN", "2026-10-05T09:30"),
    ]
    con = build(tickets, events, hand_worked_plans())
    return evaluate(con, as_of=AS_OF), con


def test_friday_evening_premium_ticket(run) -> None:
    fr = row(run, "FRI", "first_response")
    assert fr["tier"] == "premium"
    assert fr["elapsed_working_seconds"] == 1.5 * H
    assert fr["target_seconds"] == 8 * H
    assert fr["deadline"] == local("2026-10-26T16:30")
    assert fr["status"] == "met"
    res = row(run, "FRI", "resolution")
    assert res["elapsed_working_seconds"] == (0.5 + 8.5 + 3) * H
    assert res["target_seconds"] == 3 * 8.5 * H and res["limit_seconds"] == 7 * 8.5 * H
    assert res["status"] == "met"
    assert res["month"] == "2026-10"


def test_pause_over_weekend_counts_only_working_overlap(run) -> None:
    res = row(run, "PAUSE", "resolution")
    # Thu 10:00-17:30 and Fri 09:00-15:00 run; paused Fri 15:00-17:30 and Mon 09:00-11:00.
    assert res["paused_working_seconds"] == 4.5 * H
    assert res["elapsed_working_seconds"] == (7.5 + 6 + 4) * H
    assert res["clock_stop"] == local("2026-10-26T15:00")


def test_reopened_ticket_excludes_the_resolved_gap(run) -> None:
    res = row(run, "REOPEN", "resolution")
    assert res["reopens"] == 1
    assert res["gap_working_seconds"] == 17 * H
    assert res["elapsed_working_seconds"] == 12.5 * H
    assert res["clock_stop"] == local("2026-10-08T13:00")


def test_it_release_ticket_is_excluded_not_dropped(run) -> None:
    res = row(run, "ITREL", "resolution")
    assert res["status"] == "excluded"
    assert res["exclusion_rule"] == "it_release"
    assert row(run, "ITREL", "first_response")["status"] == "met"


def test_outage_call_at_three_in_the_morning(run) -> None:
    fr = row(run, "OUTAGE", "first_response")
    assert fr["calendar"] == "always"
    assert fr["elapsed_working_seconds"] == 20 * 60
    assert fr["status"] == "no_sla" and fr["exclusion_rule"] == "outage_line_no_target"
    assert fr["out_of_hours"] and fr["outage_line"] and fr["billable"]
    res = row(run, "OUTAGE", "resolution")
    # 24/7: from 03:00 CET to 09:00 CET is six hours.
    assert res["elapsed_working_seconds"] == 6 * H
    assert res["limit_seconds"] == 7 * 86_400


def test_upgrade_after_creation_keeps_the_old_tier(run) -> None:
    fr = row(run, "UPGRADE", "first_response")
    assert fr["tier"] == "business"
    assert fr["target_seconds"] == 24 * H
    assert fr["elapsed_working_seconds"] == (7.5 + 6) * H
    assert fr["status"] == "met"


def test_breach_and_lateness(run) -> None:
    fr = row(run, "LATE", "first_response")
    assert fr["status"] == "breached"  # 3 working days + 0 h > 24 h
    assert fr["late_working_seconds"] == 3 * 8.5 * H - 24 * H
    res = row(run, "LATE", "resolution")
    # 1 Oct 09:00 -> 14 Oct 09:00 is 9 working days: over the 7-day limit.
    assert res["elapsed_working_seconds"] == 9 * 8.5 * H
    assert res["status"] == "breached"
    assert res["deadline"] == local("2026-10-09T17:30")


def test_met_late_target_between_target_and_limit(run) -> None:
    res = row(run, "ITREL", "first_response")
    assert res["elapsed_working_seconds"] == 1 * H


def test_no_sla_tier_is_benchmark_only(run) -> None:
    res = row(run, "FREE", "resolution")
    assert res["status"] == "no_sla"
    assert res["exclusion_rule"] == "tier_without_sla"
    assert res["benchmark_status"] == "met"
    assert not res["has_sla"]
    assert res["target_seconds"] == 3 * 8.5 * H


def test_open_ticket_at_as_of(run) -> None:
    res = row(run, "OPEN", "resolution")
    assert pd.isna(res["clock_stop"])
    assert res["elapsed_working_seconds"] == 6 * 8.5 * H  # 23, 26-30 Oct
    assert res["status"] == "open_at_risk"  # 6 of 7 days used
    assert res["deadline"] == local("2026-11-02T17:30")
    assert res["month"] == "2026-10"


def test_run_is_stored_and_never_overwritten(run, con) -> None:
    first = run.evaluation_id
    second = evaluate(con, as_of=AS_OF).evaluation_id
    assert second == first + 1
    counts = con.execute(
        "SELECT evaluation_id, count(*) FROM sla_results GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert counts == [(first, 18), (second, 18)]
    stored = con.execute(
        "SELECT status FROM sla_results WHERE evaluation_id = ? AND ticket_id = 'LATE' "
        "AND metric = 'resolution'",
        [first],
    ).fetchone()
    assert stored == ("breached",)


def test_as_of_ignores_later_events(con) -> None:
    earlier = evaluate(con, as_of="2026-10-07T12:00", store=False)
    res = row(earlier, "REOPEN", "resolution")
    # At that moment the ticket was resolved once, not yet reopened.
    assert res["reopens"] == 0
    assert res["clock_stop"] == local("2026-10-06T09:00")
    assert res["elapsed_working_seconds"] == 8.5 * H
    assert "OPEN" not in set(earlier.results["ticket_id"])


def test_month_filter(con) -> None:
    september = evaluate(con, as_of=AS_OF, month_from="2026-09", month_to="2026-09", store=False)
    assert september.results.empty


def test_policy_version_by_creation_date() -> None:
    doc = Policy.default().document
    v1 = doc["versions"][0]
    v2 = {**v1, "version": "2026.2", "effective_from": "2026-10-01"}
    v2["metrics"] = {
        **v1["metrics"],
        "first_response": {
            **v1["metrics"]["first_response"],
            "targets": {"business": {"target_hours": 24}, "premium": {"target_hours": 4}},
        },
    }
    policy = Policy.from_dict({**doc, "versions": [v1, v2]})
    con = build(
        [
            # Resolved after 2026.2 took effect: still judged by the version at creation.
            ticket(
                "BEFORE",
                "C-PREM",
                "2026-09-30T23:59",
                first_response="2026-10-01T14:00",
                resolved="2026-10-02T10:00",
            ),
            ticket("AFTER", "C-PREM", "2026-10-01T00:01", first_response="2026-10-01T14:00"),
        ],
        [],
        [plan("C-PREM", "premium", "2025-01-01")],
    )
    run = evaluate(con, policy, as_of=AS_OF, store=False)
    before, after = row(run, "BEFORE", "first_response"), row(run, "AFTER", "first_response")
    assert (before["policy_version"], before["status"]) == ("2025.1", "met")
    assert (after["policy_version"], after["status"]) == ("2026.2", "breached")
    forced = evaluate(con, policy, as_of=AS_OF, force_version="2026.2", store=False)
    assert row(forced, "BEFORE", "first_response")["status"] == "breached"


def test_overlapping_plans_the_latest_in_force_wins() -> None:
    # The loader refuses overlapping plans; written straight into the warehouse,
    # each ticket takes the latest plan in force at its creation.
    con = build(
        [
            ticket("EARLY", "C-OVER", "2026-02-10T10:00"),
            ticket("INSIDE", "C-OVER", "2026-04-10T10:00"),
            ticket("AFTER", "C-OVER", "2026-07-10T10:00"),
            ticket("OPEN_END", "C-TWO", "2026-05-10T10:00"),
            ticket("PLAIN", "C-ONE", "2026-05-10T10:00"),
        ],
        [],
        [
            plan("C-OVER", "business", "2026-01-01", "2026-12-31"),
            plan("C-OVER", "premium", "2026-03-01", "2026-06-01"),
            plan("C-TWO", "professional", "2025-01-01"),
            plan("C-TWO", "premium", "2026-05-01"),
            plan("C-ONE", "business", "2025-01-01", "2026-03-01"),
            plan("C-ONE", "premium", "2026-03-01"),
        ],
    )
    run = evaluate(con, as_of=AS_OF, store=False)
    tiers = run.results.groupby("ticket_id")["tier"].agg(set).to_dict()
    assert tiers == {
        "EARLY": {"business"},
        "INSIDE": {"premium"},
        "AFTER": {"business"},
        "OPEN_END": {"premium"},
        "PLAIN": {"premium"},
    }


def test_empty_warehouse_is_a_clear_error(con) -> None:
    with pytest.raises(EvaluationError, match="load data first"):
        evaluate(build([], [], []), as_of=AS_OF)
    # Data loaded, none of it known yet at the as-of instant: not "load data first".
    with pytest.raises(EvaluationError, match="no ticket was created by 2019-06-30T22:00"):
        evaluate(con, as_of="2019-07-01T00:00")


def test_bad_month_is_a_clear_error(con) -> None:
    with pytest.raises(EvaluationError, match="malformed month"):
        evaluate(con, month_from="2026-13", store=False)
    with pytest.raises(EvaluationError, match="months run backwards: from 2026-10 to 2026-09"):
        evaluate(con, month_from="2026-10", month_to="2026-09", store=False)


@pytest.mark.parametrize(
    "as_of", ["9999-12-31", "2262-04-12", "9999-12-31T00:00Z", "0001-01-01", "2262-04-01T00:00Z"]
)
def test_an_as_of_out_of_range_is_a_clear_error(con, as_of) -> None:
    with pytest.raises(EvaluationError) as caught:
        evaluate(con, as_of=as_of, store=False)
    assert str(caught.value) == (
        f"as-of instant {as_of!r} (--as-of) is outside the supported range: from 1900-01-01 "
        "up to 2200-01-01"
    )


@pytest.mark.parametrize("as_of", ["garbage", "2026-13-01", "NaT"])
def test_bad_as_of_is_a_clear_error(con, as_of) -> None:
    with pytest.raises(EvaluationError, match="as-of instant"):
        evaluate(con, as_of=as_of, store=False)


def test_chunked_evaluation_gives_the_same_rows(con, monkeypatch) -> None:
    whole = evaluate(con, as_of=AS_OF, store=False).results
    monkeypatch.setattr("pipeline.evaluate.CHUNK_TICKETS", 2)
    chunked = evaluate(con, as_of=AS_OF, store=False).results
    pd.testing.assert_frame_equal(whole, chunked)


def test_blocks_measured_on_several_threads_give_the_same_rows(con, monkeypatch) -> None:
    whole = evaluate(con, as_of=AS_OF, store=False).results
    monkeypatch.setattr("pipeline.evaluate.MEASURE_BLOCK", 3)
    monkeypatch.setattr("pipeline.evaluate._measure_threads", lambda: 4)
    blocks = evaluate(con, as_of=AS_OF, store=False).results
    pd.testing.assert_frame_equal(whole, blocks)


def test_progress_is_reported_per_chunk(con, monkeypatch) -> None:
    monkeypatch.setattr("pipeline.evaluate.CHUNK_TICKETS", 4)
    calls = []
    run = evaluate(con, as_of=AS_OF, store=False, progress=lambda *a: calls.append(a))
    n = run.tickets_evaluated
    assert n > 8
    assert calls == [(0, n), *((min(n, k), n) for k in range(4, n + 4, 4))]


def test_phase_times_add_up_over_chunks(con, monkeypatch) -> None:
    # A clock that advances one second per reading: each timed phase then counts
    # exactly one second per time it ran.
    ticks = iter(range(10**6))
    monkeypatch.setattr("pipeline.evaluate.time.perf_counter", lambda: float(next(ticks)))
    monkeypatch.setattr("pipeline.evaluate.CHUNK_TICKETS", 4)
    run = evaluate(con, as_of=AS_OF, store=False)
    chunks = -(-run.tickets_evaluated // 4)
    assert run.phase_seconds == {
        "scope": 1.0,
        "timelines": chunks,
        "measure": chunks,
        "write": chunks,
    }


def test_stored_run_writes_the_same_rows_in_chunks(con, monkeypatch) -> None:
    unstored = evaluate(con, as_of=AS_OF, store=False).results
    monkeypatch.setattr("pipeline.evaluate.CHUNK_TICKETS", 2)
    stored = evaluate(con, as_of=AS_OF)
    pd.testing.assert_frame_equal(stored.results, unstored)
    recorded = con.execute(
        "SELECT rows_written FROM evaluations WHERE evaluation_id = ?", [stored.evaluation_id]
    ).fetchone()[0]
    assert recorded == stored.rows == len(unstored)


def test_failed_run_leaves_nothing_behind(con, monkeypatch) -> None:
    import pipeline.evaluate as evaluation

    before = con.execute("SELECT count(*), max(evaluation_id) FROM evaluations").fetchone()
    results_before = con.execute("SELECT count(*) FROM sla_results").fetchone()[0]
    real_chunk = evaluation._measure_chunk
    chunks = []

    def second_chunk_fails(*args, **kwargs):
        chunks.append(1)
        if len(chunks) == 2:
            raise RuntimeError("disk full")
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr("pipeline.evaluate.CHUNK_TICKETS", 2)
    monkeypatch.setattr("pipeline.evaluate._measure_chunk", second_chunk_fails)
    with pytest.raises(RuntimeError, match="disk full"):
        evaluate(con, as_of=AS_OF)
    # The first chunk's rows went in before the failure: all rolled back.
    assert con.execute("SELECT count(*), max(evaluation_id) FROM evaluations").fetchone() == before
    assert con.execute("SELECT count(*) FROM sla_results").fetchone()[0] == results_before
    assert not con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'scope'"
    ).fetchone()[0]
    # Nor does an unstored one leave its table of rows.
    tables = set(con.execute("SELECT table_name FROM duckdb_tables()").fetchall())
    chunks.clear()
    with pytest.raises(RuntimeError, match="disk full"):
        evaluate(con, as_of=AS_OF, store=False)
    assert set(con.execute("SELECT table_name FROM duckdb_tables()").fetchall()) == tables
    monkeypatch.undo()
    assert evaluate(con, as_of=AS_OF).evaluation_id == before[1] + 1


def test_hugepage_advice_is_off_while_measuring_and_restored(con, monkeypatch) -> None:
    import numpy as np

    import pipeline.evaluate as evaluation

    calls = []

    def switch(enabled: bool) -> bool:
        calls.append(enabled)
        return True

    monkeypatch.setattr(np._core.multiarray, "_set_madvise_hugepage", switch)
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    run = evaluate(con, as_of=AS_OF, store=False)
    # Off for each chunk, the previous setting back after it.
    chunks = -(-run.tickets_evaluated // evaluation.CHUNK_TICKETS)
    assert calls == [False, True] * chunks
    # The user's own choice (numpy's environment variable) is left alone.
    calls.clear()
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    evaluate(con, as_of=AS_OF, store=False)
    assert calls == []


def test_outage_calls_listed_with_cause_and_billable(run, con) -> None:
    from pipeline.metrics import outage_calls

    calls = outage_calls(run.results)
    assert list(calls["ticket_id"]) == ["OUTAGE"]
    assert calls.iloc[0]["cause_domain"] == "customer" and calls.iloc[0]["billable"]
    # The stored run's counts (what 'sla evaluate' prints) agree with the rows.
    from pipeline.metrics import run_counts

    assert run_counts(con, run.evaluation_id) == {
        "outage_calls": len(calls),
        "billable_calls": int(calls["billable"].sum()),
        "no_policy_in_force": 0,
    }


def test_whatif_side_by_side(con) -> None:
    from pipeline.whatif import whatif

    doc = Policy.default().document
    doc["versions"][0]["metrics"]["first_response"]["targets"]["premium"] = {"target_hours": 1}
    runs_before = con.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    side = whatif(con, Policy.from_dict(doc), as_of=AS_OF)
    premium = side[(side["tier"] == "premium") & (side["metric"] == "first_response")].iloc[0]
    # FRI was answered in 1.5 working hours: met at 8 h, breached at 1 h.
    assert premium["compliance_current"] == 1.0
    assert premium["compliance_other"] == 0.0
    assert con.execute("SELECT count(*) FROM evaluations").fetchone()[0] == runs_before


def test_status_changes_at_one_instant_are_settled_the_same_way_every_run() -> None:
    # Two explicit changes at 10:00 sharp, in either order in the export: the status
    # first by name ('open' before 'waiting_on_customer') holds, so nothing is paused.
    tickets = [
        ticket("AB", "C-BUS", "2026-10-05T09:00", resolved="2026-10-05T12:00"),
        ticket("BA", "C-BUS", "2026-10-05T09:00", resolved="2026-10-05T12:00"),
    ]
    events = [
        status("AB", "2026-10-05T10:00", "new", "open"),
        status("AB", "2026-10-05T10:00", "open", "waiting_on_customer"),
        status("BA", "2026-10-05T10:00", "open", "waiting_on_customer"),
        status("BA", "2026-10-05T10:00", "new", "open"),
        status("AB", "2026-10-05T12:00", "open", "resolved"),
        status("BA", "2026-10-05T12:00", "open", "resolved"),
    ]
    con = build(tickets, events, [plan("C-BUS", "business", "2025-01-01")])
    for _ in range(3):
        run = evaluate(con, as_of=AS_OF, store=False)
        for ticket_id in ("AB", "BA"):
            res = row(run, ticket_id, "resolution")
            assert res["paused_working_seconds"] == 0
            assert res["elapsed_working_seconds"] == 3 * H


def test_the_priority_is_the_one_known_at_the_as_of_instant() -> None:
    """A ticket row holds the priority at export; --as-of must undo later changes,
    or re-running a past month would judge its tickets by what was decided after."""
    policy = critical_override_policy()
    tickets = [
        # Raised to critical on 20 October; the export shows critical.
        {**ticket("UP", "C-BUS", "2026-10-12T09:00"), "priority": "critical"},
        # Raised on 5 October, then changed again on 20 October by an export that
        # left the old value out: the 5 October value is the best knowledge.
        {**ticket("GAP", "C-BUS", "2026-10-01T09:00"), "priority": "critical"},
        # Two changes at one instant after the as-of: the value first by name.
        {**ticket("TIE", "C-BUS", "2026-10-12T09:00"), "priority": "low"},
        # No change recorded: the export's priority.
        {**ticket("SAME", "C-BUS", "2026-10-12T09:00"), "priority": "high"},
        # Changed at the as-of instant itself: known at it (an event at as_of is).
        {**ticket("AT", "C-BUS", "2026-10-12T09:00"), "priority": "critical"},
        # An export whose changes disagree (normal -> high, then "normal" -> critical):
        # the value the later change replaced wins over the earlier change's new one.
        {**ticket("ODD", "C-BUS", "2026-10-01T09:00"), "priority": "critical"},
    ]
    events = [
        priority_change("UP", "2026-10-20T10:00", "normal", "critical"),
        priority_change("GAP", "2026-10-05T10:00", "normal", "high"),
        priority_change("GAP", "2026-10-20T10:00", None, "critical"),
        priority_change("TIE", "2026-10-20T10:00", "normal", "low"),
        priority_change("TIE", "2026-10-20T10:00", "high", "low"),
        priority_change("AT", "2026-10-15T00:00", "normal", "critical"),
        priority_change("ODD", "2026-10-05T10:00", "normal", "high"),
        priority_change("ODD", "2026-10-20T10:00", "normal", "critical"),
    ]
    con = build(tickets, events, [plan("C-BUS", "business", "2026-01-01")])

    def judged(as_of: str) -> pd.DataFrame:
        r = evaluate(con, policy, as_of=as_of, store=False).results
        return r[r["metric"] == "resolution"].set_index("ticket_id")

    before, after = judged("2026-10-15T00:00"), judged("2026-11-01T00:00")
    assert before["priority"].to_dict() == {
        "UP": "normal",
        "GAP": "high",
        "TIE": "high",
        "SAME": "high",
        "AT": "critical",
        "ODD": "normal",
    }
    assert after["priority"].to_dict() == {
        "UP": "critical",
        "GAP": "critical",
        "TIE": "low",
        "SAME": "high",
        "AT": "critical",
        "ODD": "critical",
    }
    # The critical override applies from the change on, as the helpdesk would.
    day = 8.5 * H
    assert before.loc["UP", "limit_seconds"] == 7 * day
    assert after.loc["UP", "limit_seconds"] == 2 * day


def test_a_tier_the_policy_does_not_list_is_named_as_such() -> None:
    doc = Policy.default().document
    version = doc["versions"][0]
    del version["tiers"]["premium"]
    for metric in version["metrics"].values():
        metric["targets"].pop("premium", None)
    policy = Policy.from_dict(doc)
    con = build(
        [ticket("P", "C-PREM", "2026-10-12T09:00"), ticket("U", "C-NONE", "2026-10-12T09:00")],
        [],
        [plan("C-PREM", "premium", "2026-01-01")],
    )
    r = evaluate(con, policy, as_of=AS_OF, store=False).results.set_index("ticket_id")
    assert set(r.loc["P", "status"]) == {"no_sla"}
    assert set(r.loc["P", "exclusion_rule"]) == {"tier_not_in_policy"}
    assert set(r.loc["U", "exclusion_rule"]) == {"no_plan_at_creation"}


def test_the_latest_status_recorded_before_creation_is_the_status_at_creation() -> None:
    # Changes recorded a few seconds before creation (the loader accepts up to a
    # minute) count from creation, but they are not one instant: the later one is
    # what the ticket was created with. Only a true tie goes by name.
    tickets = [
        ticket("OW", "C-BUS", "2026-10-20T10:00", resolved="2026-10-20T16:00"),
        ticket("WO", "C-BUS", "2026-10-20T10:00", resolved="2026-10-20T16:00"),
        ticket("TIE", "C-BUS", "2026-10-20T10:00", resolved="2026-10-20T16:00"),
    ]
    events = [
        status("OW", "2026-10-20T09:59:10", "new", "open"),
        status("OW", "2026-10-20T09:59:50", "open", "waiting_on_customer"),
        status("WO", "2026-10-20T09:59:10", "new", "waiting_on_customer"),
        status("WO", "2026-10-20T09:59:50", "waiting_on_customer", "open"),
        status("TIE", "2026-10-20T09:59:50", "new", "waiting_on_customer"),
        status("TIE", "2026-10-20T09:59:50", "new", "open"),
    ]
    events += [status(t, "2026-10-20T16:00", None, "resolved") for t in ("OW", "WO", "TIE")]
    con = build(tickets, events, [plan("C-BUS", "business", "2025-01-01")])
    r = evaluate(con, as_of=AS_OF, store=False).results
    res = r[r["metric"] == "resolution"].set_index("ticket_id")
    measured = res[["elapsed_working_seconds", "paused_working_seconds"]]
    assert measured.to_dict("index") == {
        "OW": {"elapsed_working_seconds": 0.0, "paused_working_seconds": 6 * H},
        "TIE": {"elapsed_working_seconds": 6 * H, "paused_working_seconds": 0.0},
        "WO": {"elapsed_working_seconds": 6 * H, "paused_working_seconds": 0.0},
    }


def test_a_reply_recorded_before_creation_stops_the_clock_at_creation() -> None:
    # Created 20 s into November, answered 20 s before: the October run does not
    # see the ticket, so it must count in November, at its creation.
    tickets = [ticket("EARLY", "C-BUS", "2026-11-01T00:00:20", resolved="2026-11-02T10:00")]
    events = [reply("EARLY", "2026-10-31T23:59:40")]
    con = build(tickets, events, [plan("C-BUS", "business", "2025-01-01")])
    run = evaluate(con, as_of="2026-12-01T00:00", month_from="2026-11", store=False)
    fr = row(run, "EARLY", "first_response")
    assert fr["clock_stop"] == fr["clock_start"] == local("2026-11-01T00:00:20")
    assert fr["month"] == "2026-11"
    assert (fr["elapsed_working_seconds"], fr["status"]) == (0.0, "met")
    # 24 working hours from creation: Monday 09:00 to Wednesday 16:00 (8.5 h a day).
    assert fr["deadline"] == local("2026-11-04T16:00")


def test_a_closed_ticket_without_resolved_at_or_history_is_resolved_when_closed() -> None:
    closed = {
        **ticket("CLOSED", "C-BUS", "2026-10-05T09:00", first_response="2026-10-05T09:30"),
        "status": "closed",
        "closed_at": local("2026-10-06T11:00"),
    }
    con = build([closed], [], [plan("C-BUS", "business", "2025-01-01")])
    res = row(evaluate(con, as_of=AS_OF, store=False), "CLOSED", "resolution")
    assert res["clock_stop"] == local("2026-10-06T11:00")
    assert res["elapsed_working_seconds"] == 10.5 * H
    assert (res["status"], res["month"]) == ("met", "2026-10")
    # Not yet closed at the as-of instant: still open.
    early = row(evaluate(con, as_of="2026-10-06T10:00", store=False), "CLOSED", "resolution")
    assert pd.isna(early["clock_stop"]) and early["status"] == "open_on_track"


def test_reaching_a_fractional_hour_target_exactly_is_on_time() -> None:
    doc = Policy.default().document
    version = doc["versions"][0]
    version["metrics"]["first_response"]["targets"]["premium"] = {"target_hours": 4.1}
    version["outage_line"]["first_response_target_hours"] = 4.1
    policy = Policy.from_dict(doc)
    tickets = [
        # 10:00 + 4.1 working hours = 14:06 the same day.
        ticket("EXACT", "C-PREM", "2026-10-20T10:00", first_response="2026-10-20T14:06"),
        ticket("LATE", "C-PREM", "2026-10-20T10:00", first_response="2026-10-20T14:06:01"),
        ticket(
            "OUTAGE",
            "C-PREM",
            "2026-10-20T22:00",
            first_response="2026-10-21T02:06",
            priority="critical",
            channel="outage_line",
        ),
    ]
    con = build(tickets, [], [plan("C-PREM", "premium", "2025-01-01")])
    run = evaluate(con, policy, as_of=AS_OF, store=False)
    for ticket_id in ("EXACT", "OUTAGE"):
        fr = row(run, ticket_id, "first_response")
        assert fr["target_seconds"] == fr["limit_seconds"] == 14_760.0
        assert fr["elapsed_working_seconds"] == 14_760.0
        assert fr["status"] == "met" and pd.isna(fr["late_working_seconds"])
        assert fr["deadline"] == fr["clock_stop"]
    late = row(run, "LATE", "first_response")
    assert (late["status"], late["late_working_seconds"]) == ("breached", 1.0)


def test_an_open_ticket_reaching_its_limit_at_the_as_of_instant_counts_in_the_month_under_way():
    # Outage line, 1 h first-response target on the 24/7 calendar: created 23:00 on
    # 31 October, unanswered at 1 November 00:00. It has reached the limit, not
    # passed it: at risk, in October's report, not in November's.
    doc = Policy.default().document
    doc["versions"][0]["outage_line"]["first_response_target_hours"] = 1
    policy = Policy.from_dict(doc)
    call = ticket("NIGHT", "C-BUS", "2026-10-31T23:00", priority="critical", channel="outage_line")
    con = build([call], [], [plan("C-BUS", "business", "2025-01-01")])
    fr = row(evaluate(con, policy, as_of=AS_OF, store=False), "NIGHT", "first_response")
    assert fr["deadline"] == local("2026-11-01T00:00")
    assert (fr["elapsed_working_seconds"], fr["status"]) == (H, "open_at_risk")
    assert fr["month"] == "2026-10"
    # A second later it has passed the limit: breached, in the month the deadline passed.
    later = evaluate(con, policy, as_of="2026-11-01T00:00:01", store=False)
    fr = row(later, "NIGHT", "first_response")
    assert (fr["status"], fr["month"]) == ("open_breached", "2026-11")


@pytest.mark.parametrize(
    ("created", "out_of_hours"),
    [
        ("2026-10-20T08:59:59", True),
        ("2026-10-20T08:59:59.500", True),
        ("2026-10-20T08:59:59.999999", True),
        ("2026-10-20T09:00:00", False),
        ("2026-10-20T17:29:59.500", False),
        ("2026-10-20T17:30:00", True),
    ],
)
def test_out_of_hours_is_the_office_calendar_at_the_creation_instant(created, out_of_hours):
    con = build([ticket("T", "C-BUS", created)], [], [plan("C-BUS", "business", "2025-01-01")])
    run = evaluate(con, as_of=AS_OF, store=False)
    assert set(run.results["out_of_hours"]) == {out_of_hours}


def test_out_of_hours_is_the_desk_calendar_when_first_response_counts_clock_time() -> None:
    # clock = "clock" counts the first response 24/7; the desk still keeps its hours,
    # so an outage call at 03:00 is out of hours (it was never out of hours: the
    # 24/7 calendar is never closed, and the report's outage count fell to 0).
    doc = Policy.default().document
    doc["versions"][0]["metrics"]["first_response"]["clock"] = "clock"
    policy = Policy.from_dict(doc)
    tickets = [
        ticket("NIGHT", "C-BUS", "2026-10-20T03:00", priority="critical", channel="outage_line"),
        ticket("DAY", "C-BUS", "2026-10-20T10:00", first_response="2026-10-20T11:00"),
    ]
    con = build(tickets, [], [plan("C-BUS", "business", "2025-01-01")])
    run = evaluate(con, policy, as_of=AS_OF, store=False)
    assert row(run, "NIGHT", "first_response")["out_of_hours"]
    assert not row(run, "DAY", "first_response")["out_of_hours"]
    # The time itself is counted 24/7: 10:00 to 11:00 is one clock hour.
    day = row(run, "DAY", "first_response")
    assert (day["calendar"], day["elapsed_working_seconds"]) == ("always", H)


def test_a_stored_run_records_what_stored_it(fixture_warehouse) -> None:
    """`sla evaluations list` tells runs of sla evaluate, of a report and of a
    verification apart: each stored run records which (evaluations.made_by)."""
    con = fixture_warehouse
    evaluate(con, as_of="2026-11-01T00:00")
    evaluate(con, as_of="2026-11-01T00:00", made_by="verify")
    assert con.execute(
        "SELECT evaluation_id, made_by, pruned_at FROM evaluations ORDER BY 1"
    ).fetchall() == [(1, "evaluate", None), (2, "verify", None)]
    with pytest.raises(ValueError, match="made_by: one of evaluate, report, verify"):
        evaluate(con, as_of="2026-11-01T00:00", made_by="cron")


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        ("2026-10-12T11:07:29", "open_on_track"),
        ("2026-10-12T11:07:30", "open_at_risk"),
    ],
)
def test_an_open_ticket_is_at_risk_from_exactly_three_quarters_of_its_limit(as_of, status):
    # Business resolution limit: 7 working days of 8.5 h = 59.5 h; 75 % of it is
    # 44.625 h. From Monday 5 October 09:00 the week gives 42.5 h (to Friday 17:30),
    # and the remaining 2.125 h (2 h 7 min 30 s) end Monday 12 October 11:07:30.
    # docs/policy.md: "at least 75 % of the limit used" is at risk.
    con = build(
        [ticket("RISK", "C-BUS", "2026-10-05T09:00", first_response="2026-10-05T09:30")],
        [],
        [plan("C-BUS", "business", "2025-01-01")],
    )
    res = row(evaluate(con, as_of=as_of, store=False), "RISK", "resolution")
    expected_elapsed = 44.625 * H if status == "open_at_risk" else 44.625 * H - 1
    assert res["elapsed_working_seconds"] == expected_elapsed
    assert res["status"] == status


def test_a_deadline_reached_exactly_at_the_end_of_a_segment_is_that_working_instant():
    # Business resolution limit: 7 working days of 8.5 h = 59.5 h, used up from
    # Monday 5 October 09:00 by Tuesday 13 October 17:30 (7 full working days).
    # EXACT is resolved at 18:00 that Tuesday: its 59.5 h reach the limit, not pass
    # it, and the deadline is 17:30, when the working time reached it, not 18:00.
    # PAUSED is put waiting on the customer at 18:00 that Tuesday (its first segment
    # ends with the limit used exactly), waits to Thursday 10:00 and is resolved
    # Friday 12:00: 7.5 h + 3 h more after the deadline, 9.5 h paused after it.
    tickets = [
        ticket("EXACT", "C-BUS", "2026-10-05T09:00", first_response="2026-10-05T09:30"),
        ticket("PAUSED", "C-BUS", "2026-10-05T09:00", first_response="2026-10-05T09:30"),
    ]
    events = [
        status("EXACT", "2026-10-13T18:00", "open", "resolved"),
        status("PAUSED", "2026-10-13T18:00", "open", "waiting_on_customer"),
        status("PAUSED", "2026-10-15T10:00", "waiting_on_customer", "open"),
        status("PAUSED", "2026-10-16T12:00", "open", "resolved"),
    ]
    con = build(tickets, events, [plan("C-BUS", "business", "2025-01-01")])
    run = evaluate(con, as_of=AS_OF, store=False)
    exact = row(run, "EXACT", "resolution")
    assert exact["elapsed_working_seconds"] == 59.5 * H
    assert (exact["status"], exact["deadline"]) == ("met_late_target", local("2026-10-13T17:30"))
    paused = row(run, "PAUSED", "resolution")
    assert paused["elapsed_working_seconds"] == (59.5 + 7.5 + 3) * H
    assert paused["paused_working_seconds"] == (8.5 + 1) * H
    assert (paused["status"], paused["deadline"]) == ("breached", local("2026-10-13T17:30"))


def test_an_open_ticket_created_at_the_as_of_instant_counts_in_its_own_month():
    # October's report is made as of 1 November 00:00; a ticket created at that very
    # instant is known then (created_at <= as_of) but never existed in October. Open
    # and far from its limit, it counts in the month under way, which may not be a
    # month before its creation: November, so October's report does not list it.
    con = build(
        [ticket("MIDNIGHT", "C-BUS", "2026-11-01T00:00")],
        [],
        [plan("C-BUS", "business", "2025-01-01")],
    )
    run = evaluate(con, as_of=AS_OF, store=False)
    assert set(run.results["month"]) == {"2026-11"}
    assert set(run.results["status"]) == {"open_on_track"}
    october = evaluate(con, as_of=AS_OF, month_from="2026-10", month_to="2026-10", store=False)
    assert october.results.empty


def test_a_ticket_created_at_the_instant_a_plan_changes_takes_the_new_plan():
    # C-UPG is Business until 13 October 00:00 (valid_to is exclusive) and Premium
    # from that instant: a ticket created then has one plan at creation, Premium.
    con = build(
        [
            ticket("AT", "C-UPG", "2026-10-13T00:00"),
            ticket("BEFORE", "C-UPG", "2026-10-12T23:59:59"),
        ],
        [],
        hand_worked_plans(),
    )
    r = evaluate(con, as_of=AS_OF, store=False).results
    assert r.groupby("ticket_id")["tier"].agg(list).to_dict() == {
        "AT": ["premium", "premium"],
        "BEFORE": ["business", "business"],
    }


def test_events_at_the_as_of_instant_are_known_at_it():
    # "Events after it are ignored": a reply and a resolution recorded at the as-of
    # instant itself count. Both tickets created Tuesday 20 October 10:00; REPLY is
    # answered at 12:00 (2 h), DONE answered at 11:00 and resolved at 12:00 (2 h).
    con = build(
        [ticket("REPLY", "C-BUS", "2026-10-20T10:00"), ticket("DONE", "C-BUS", "2026-10-20T10:00")],
        [
            reply("REPLY", "2026-10-20T12:00"),
            reply("DONE", "2026-10-20T11:00"),
            status("DONE", "2026-10-20T12:00", "open", "resolved"),
        ],
        [plan("C-BUS", "business", "2025-01-01")],
    )
    run = evaluate(con, as_of="2026-10-20T12:00", store=False)
    for ticket_id, metric in (("REPLY", "first_response"), ("DONE", "resolution")):
        res = row(run, ticket_id, metric)
        assert res["clock_stop"] == local("2026-10-20T12:00"), ticket_id
        assert (res["elapsed_working_seconds"], res["status"]) == (2 * H, "met"), ticket_id


@pytest.mark.parametrize(
    ("again", "verdict"), [("2026-10-14T17:30", "met"), ("2026-10-15T09:00:01", "breached")]
)
def test_first_resolution_a_later_cycle_may_use_its_whole_limit(again, verdict):
    # reopen_rule = "first_resolution": every later cycle is measured on its own and
    # breaches only when it passes the limit (7 working days = 59.5 h). Resolved
    # Monday 5 October 10:00 (1 h: met), reopened Tuesday 6 October 09:00: its 59.5 h
    # are used up Wednesday 14 October 17:30 (7 full days). Resolved again then, the
    # cycle reaches the limit (met); one working second later, it passes it.
    doc = Policy.default().document
    doc["versions"][0]["metrics"]["resolution"]["reopen_rule"] = "first_resolution"
    policy = Policy.from_dict(doc)
    con = build(
        [ticket("CYCLE", "C-BUS", "2026-10-05T09:00", first_response="2026-10-05T09:30")],
        [
            status("CYCLE", "2026-10-05T10:00", "open", "resolved"),
            status("CYCLE", "2026-10-06T09:00", "resolved", "open"),
            status("CYCLE", again, "open", "resolved"),
        ],
        [plan("C-BUS", "business", "2025-01-01")],
    )
    res = row(evaluate(con, policy, as_of=AS_OF, store=False), "CYCLE", "resolution")
    assert (res["elapsed_working_seconds"], res["reopens"]) == (H, 1)
    assert res["status"] == verdict


def test_the_first_response_is_the_earliest_of_the_ticket_field_and_the_replies() -> None:
    """A reply recorded on the ticket but not (yet) in the events counts too, and
    the other way round (found by the mutation pass: `greatest` for `least` was
    caught only by the slow end-to-end check)."""
    tickets = [
        ticket("FIELD", "C-BUS", "2026-10-05T09:00", first_response="2026-10-05T10:00"),
        ticket("EVENT", "C-BUS", "2026-10-05T09:00", first_response="2026-10-05T12:00"),
    ]
    events = [reply("FIELD", "2026-10-05T11:00"), reply("EVENT", "2026-10-05T09:30")]
    con = build(tickets, events, [plan("C-BUS", "business", "2026-01-01")])
    run = evaluate(con, as_of=AS_OF, store=False)
    assert row(run, "FIELD", "first_response")["elapsed_working_seconds"] == 1 * H
    assert row(run, "EVENT", "first_response")["elapsed_working_seconds"] == 0.5 * H


def test_an_explicit_status_change_holds_over_an_implied_one_at_the_same_instant() -> None:
    """docs/policy.md: of the changes at one instant, an explicit status change
    comes before a status a reopen implies (found by the mutation pass: ordering
    by the status's name first was caught only by the slow end-to-end check)."""
    tickets = [ticket("T", "C-BUS", "2026-10-05T09:00", resolved="2026-10-07T09:00")]
    events = [
        event("T", "2026-10-05T10:00", "resolve"),
        # Reopened and set waiting on the customer at one instant: waiting holds.
        event("T", "2026-10-06T09:00", "reopen"),
        status("T", "2026-10-06T09:00", "resolved", "waiting_on_customer"),
        event("T", "2026-10-07T09:00", "resolve"),
    ]
    con = build(tickets, events, [plan("C-BUS", "business", "2026-01-01")])
    res = row(evaluate(con, as_of=AS_OF, store=False), "T", "resolution")
    # Mon 09:00-10:00 open (1 h); Mon 10:00-Tue 09:00 resolved (a gap); Tue 09:00 to
    # Wed 09:00 waiting on the customer: 8.5 working hours paused, none elapsed.
    assert (res["elapsed_working_seconds"], res["paused_working_seconds"]) == (1 * H, 8.5 * H)
