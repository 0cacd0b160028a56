"""The vectorised evaluation against the per-ticket reference, on generated histories."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from pipeline.evaluate import _month_codes, evaluate
from pipeline.instants import NAT_NS, local_bounds
from pipeline.policy import Policy
from tests import evaluation_reference as ref
from tests.evaluation_fixtures import build, plan

BASE = pd.Timestamp("2026-09-01", tz="Europe/Amsterdam").tz_convert("UTC")
AS_OF = pd.Timestamp("2026-11-15", tz="UTC")
# Windows of 60 days with their as-of instants: autumn (the clocks go back), and
# spring and winter, where Easter, King's Day, Ascension, Whitsun, Christmas and
# New Year close the office calendar.
WINDOWS = {
    "autumn": (BASE, AS_OF),
    "spring": (
        pd.Timestamp("2026-03-20", tz="Europe/Amsterdam").tz_convert("UTC"),
        pd.Timestamp("2026-06-03", tz="UTC"),
    ),
    "winter": (
        pd.Timestamp("2026-12-01", tz="Europe/Amsterdam").tz_convert("UTC"),
        pd.Timestamp("2027-02-14", tz="UTC"),
    ),
}
TIERS = ("pioneer", "professional", "business", "premium")
STATUSES = ("new", "open", "waiting_on_customer", "waiting_on_third_party", "resolved", "closed")


# Gaps between a ticket's status events: 0 puts two on one instant (an export may
# record several changes at one instant, in any order), 1 s next to each other.
STEPS = st.sampled_from([0, 0, 1]) | st.integers(60, 5 * 86_400)
# Where the first status event lies from creation: the loader accepts events up to
# a minute before creation, so several can precede it.
FIRST_EVENT = st.sampled_from([-60, -40, -1, 0]) | st.integers(60, 5 * 86_400)
KINDS = st.sampled_from(["status_change"] * 5 + ["resolve", "reopen", "close"])


@st.composite
def histories(draw, base: pd.Timestamp = BASE):
    # Some tickets are created in the last two days of the base's month, so that
    # their clocks stop in the next one: Hypothesis favours small offsets, and the
    # month a row counts in went unchecked when every stop fell in its creation month.
    next_month = base.tz_convert("Europe/Amsterdam") + pd.offsets.MonthBegin(1)
    month_left = int((next_month - base).total_seconds())
    offset = st.integers(0, 60 * 86_400) | st.integers(month_left - 2 * 86_400, month_left - 1)
    created = base + pd.Timedelta(seconds=draw(offset))
    at, events = created + pd.Timedelta(seconds=draw(FIRST_EVENT)), []
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(KINDS)
        new = draw(st.sampled_from(STATUSES)) if kind == "status_change" else None
        events.append({"at": at, "kind": kind, "new_value": new})
        at = at + pd.Timedelta(seconds=draw(STEPS))
    # A reply may be recorded up to a minute before creation.
    reply_after = draw(st.none() | st.integers(-60, -1) | st.integers(0, 10 * 86_400))
    if reply_after is not None:
        events.append(
            {
                "at": created + pd.Timedelta(seconds=reply_after),
                "kind": "agent_reply",
                "new_value": None,
            }
        )
    # Priority changes, some after the as-of instant, some without the old value;
    # whole hours, so that two can fall on one instant.
    priorities = st.sampled_from(["low", "normal", "high", "critical"])
    for _ in range(draw(st.integers(0, 2))):
        events.append(
            {
                "at": created + pd.Timedelta(hours=draw(st.integers(0, 80 * 24))),
                "kind": "priority_change",
                "old_value": draw(st.none() | priorities),
                "new_value": draw(priorities),
            }
        )
    # The export's order of events at one instant means nothing.
    events = draw(st.permutations(events))

    # The ticket's own fields: read where the events say nothing (no status history,
    # no reply event). A closed ticket may lack resolved_at.
    def later(start: pd.Timestamp, days: int) -> pd.Timestamp | None:
        seconds = draw(st.none() | st.integers(0, days * 86_400))
        return None if seconds is None else start + pd.Timedelta(seconds=seconds)

    resolved = later(created, 30)
    outage = draw(st.booleans())
    ticket = {
        "created_at": created,
        "first_response_at": later(created, 5),
        "resolved_at": resolved,
        "closed_at": later(resolved or created, 40),
        "priority": "critical" if outage else draw(st.sampled_from(["low", "normal", "high"])),
        "channel": "outage_line" if outage else draw(st.sampled_from(["email", "chat"])),
        "requires_it_release": draw(st.booleans()) and draw(st.booleans()),
        "cause_domain": draw(st.sampled_from(["provider", "customer", "unknown"])),
    }
    return ticket, events, draw(st.sampled_from(TIERS))


def _policy(rule: str) -> Policy:
    doc = Policy.default().document
    version = doc["versions"][0]
    version["metrics"]["resolution"]["reopen_rule"] = rule
    return Policy.from_dict(doc)


POLICIES = {rule: _policy(rule) for rule in ("exclude_gaps", "first_resolution")}


def _ticket_row(t: dict, ticket_id: str, customer_id: str) -> dict:
    """A generated ticket as a `tickets` row of the canonical schema."""
    return {
        **t,
        "ticket_id": ticket_id,
        "source_system": "test",
        "customer_id": customer_id,
        "category": "x",
        "status": "closed" if t["closed_at"] is not None else "open",
        "subject": "s",
        "updated_at": t["created_at"],
        "load_id": 1,
    }


def _event_rows(events: list[dict], ticket_id: str) -> list[dict]:
    return [
        {"ticket_id": ticket_id, "old_value": None, "actor_type": "agent", "load_id": 1, **e}
        for e in events
    ]


@pytest.mark.parametrize("rule", sorted(POLICIES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(histories(), min_size=1, max_size=6))
def test_vectorised_matches_reference(rule: str, cases) -> None:
    policy = POLICIES[rule]
    tickets, events, plans = [], [], []
    for i, (t, evs, tier) in enumerate(cases):
        tid, cid = f"T{i}", f"C{i}"
        tickets.append(_ticket_row(t, tid, cid))
        events += _event_rows(evs, tid)
        plans.append(plan(cid, tier, "2020-01-01"))
    con = build(tickets, events, plans)
    run = evaluate(con, policy, as_of=AS_OF, store=False)
    got = run.results.set_index(["ticket_id", "metric"])
    for i, (t, evs, tier) in enumerate(cases):
        expected = ref.evaluate_ticket(policy, t, evs, tier, AS_OF)
        for metric, want in expected.items():
            row = got.loc[(f"T{i}", metric)]
            where = f"T{i} {metric} ({tier})"
            assert row["elapsed_working_seconds"] == pytest.approx(want.elapsed, abs=1e-6), where
            assert row["paused_working_seconds"] == pytest.approx(want.paused, abs=1e-6), where
            assert row["gap_working_seconds"] == pytest.approx(want.gap, abs=1e-6), where
            assert row["reopens"] == want.reopens, where
            assert row["priority"] == ref.priority_at(t, evs, AS_OF), where
            stop = None if pd.isna(row["clock_stop"]) else row["clock_stop"]
            assert stop == want.clock_stop, where
            deadline = None if pd.isna(row["deadline"]) else row["deadline"]
            assert deadline == want.deadline, where
            assert row["status"] == want.status, where
            assert row["month"] == want.month, where


def _versioned_policy(effective: str, reopen_rule: str) -> Policy:
    """The default policy, and from `effective` a second version that changes
    every setting the evaluation reads per version."""
    doc = Policy.default().document
    later = copy.deepcopy(doc["versions"][0])
    later.update(version="later", effective_from=effective, description="changed")
    fr, res = later["metrics"]["first_response"], later["metrics"]["resolution"]
    fr["clock"] = "clock"
    fr["targets"]["premium"] = {"target_hours": 4}
    fr["at_risk_share"] = 0.5
    res["pause_statuses"] = ["waiting_on_customer", "waiting_on_third_party"]
    res["reopen_rule"] = reopen_rule
    res["by_priority"] = {"high": {"target_days": 1, "limit_days": 2}}
    later["outage_line"]["first_response_target_hours"] = 1
    doc["versions"].append(later)
    return Policy.from_dict(doc)


@st.composite
def plan_histories(draw, customer_id: str, base: pd.Timestamp) -> list[dict]:
    """One to three plans of a customer, back to back; the first may begin
    after the ticket was created (no plan at creation)."""
    start = base + pd.Timedelta(seconds=draw(st.integers(-30 * 86_400, 20 * 86_400)))
    plans = []
    for _ in range(draw(st.integers(1, 3))):
        plans.append(
            {
                "customer_id": customer_id,
                "tier": draw(st.sampled_from(TIERS)),
                "valid_from": start,
                "valid_to": None,
                "load_id": 1,
            }
        )
        start = start + pd.Timedelta(seconds=draw(st.integers(3600, 20 * 86_400)))
    for earlier, later in itertools.pairwise(plans):
        earlier["valid_to"] = later["valid_from"]
    return plans


def _tier_at(plans: list[dict], created: pd.Timestamp) -> str:
    in_force = [p for p in plans if p["valid_from"] <= created]
    return in_force[-1]["tier"] if in_force else "unknown"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    window=st.sampled_from(sorted(WINDOWS)),
    effective_day=st.integers(0, 60),
    reopen_rule=st.sampled_from(["exclude_gaps", "first_resolution"]),
    data=st.data(),
)
def test_policy_versions_and_plan_changes_match_reference(
    window: str, effective_day: int, reopen_rule: str, data
) -> None:
    base, as_of = WINDOWS[window]
    cases = data.draw(st.lists(histories(base), min_size=1, max_size=5))
    effective = (base.tz_convert("Europe/Amsterdam") + pd.Timedelta(days=effective_day)).date()
    policy = _versioned_policy(effective.isoformat(), reopen_rule)
    tickets, events, plans, tiers = [], [], [], []
    for i, (t, evs, _) in enumerate(cases):
        tid, cid = f"T{i}", f"C{i}"
        history = data.draw(plan_histories(cid, base))
        plans += history
        tiers.append(_tier_at(history, t["created_at"]))
        tickets.append(_ticket_row(t, tid, cid))
        events += _event_rows(evs, tid)
    run = evaluate(build(tickets, events, plans), policy, as_of=as_of, store=False)
    got = run.results.set_index(["ticket_id", "metric"])
    for i, (t, evs, _) in enumerate(cases):
        version = policy.version_at(t["created_at"].tz_convert("Europe/Amsterdam").date())
        expected = ref.evaluate_ticket(policy, t, evs, tiers[i], as_of)
        for metric, want in expected.items():
            row = got.loc[(f"T{i}", metric)]
            where = f"T{i} {metric} ({tiers[i]}, version {version.version})"
            event(f"version {version.version}, tier {tiers[i]}, {metric} {want.status}")
            assert row["tier"] == tiers[i], where
            assert row["policy_version"] == version.version, where
            assert row["priority"] == ref.priority_at(t, evs, as_of), where
            assert row["elapsed_working_seconds"] == pytest.approx(want.elapsed, abs=1e-6), where
            assert row["paused_working_seconds"] == pytest.approx(want.paused, abs=1e-6), where
            stop = None if pd.isna(row["clock_stop"]) else row["clock_stop"]
            assert stop == want.clock_stop, where
            deadline = None if pd.isna(row["deadline"]) else row["deadline"]
            assert deadline == want.deadline, where
            assert row["status"] == want.status, where
            assert row["month"] == want.month, where


# Instants from 1970 to 2100, and every month start (and its neighbours) of a few
# years in each zone: the lookup's boundaries are exactly those instants. Cairo's
# clocks jumped from midnight to 01:00 on 1 August 2014: that month began at 01:00.
_ZONES = [
    "Europe/Amsterdam",
    "UTC",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Africa/Cairo",
]


@settings(max_examples=60, deadline=None)
@example(zone="Africa/Cairo", instants=[0], edge_year=2014, missing=False)
@given(
    zone=st.sampled_from(_ZONES),
    instants=st.lists(
        st.integers(0, pd.Timestamp("2100-01-01", tz="UTC").value), min_size=1, max_size=40
    ),
    edge_year=st.integers(1971, 2098),
    missing=st.booleans(),
)
def test_month_codes_match_local_calendar_fields(zone, instants, edge_year, missing) -> None:
    midnights = pd.date_range(f"{edge_year}-01-01", f"{edge_year + 1}-12-01", freq="MS")
    edge_ns = local_bounds(midnights, zone, first_occurrence=True)
    ns = np.array([*instants, *edge_ns, *(edge_ns - 1), *(edge_ns + 1)], dtype=np.int64)
    local = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(zone)
    expected = local.year.to_numpy() * 100 + local.month.to_numpy()
    if missing:
        ns, expected = np.r_[ns, NAT_NS], np.r_[expected, 0]
    np.testing.assert_array_equal(_month_codes(ns, zone), expected)
