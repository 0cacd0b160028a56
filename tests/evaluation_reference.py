"""A slow, per-ticket reference evaluator, written straight from the policy text.

One ticket at a time: walk its events in order, keep the current status, and
add each stretch of working time to 'elapsed', 'paused' or 'gap'. It uses the
engine's scalar API for working time (the engine has its own reference).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.policy import RESOLVED_STATUSES, Policy

IMPLIED = {"resolve": "resolved", "reopen": "open", "close": "closed"}


@dataclass
class RefResult:
    status: str
    elapsed: float
    paused: float
    gap: float
    clock_stop: pd.Timestamp | None
    deadline: pd.Timestamp | None
    reopens: int
    # What the reports read besides the verdict (tests/test_end_to_end.py).
    has_sla: bool = False
    benchmark_status: str | None = None  # the would-be verdict of a tier without an SLA
    target: float | None = None
    limit: float | None = None
    calendar: str = ""
    outage_line: bool = False
    billable: bool = False
    out_of_hours: bool = False
    month: str = ""  # YYYY-MM in the report time zone: the month the row counts in
    late: float | None = None  # working seconds past the limit
    created: pd.Timestamp | None = None  # the clock's start


def _work(cal, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Open seconds of `cal` in [start, end), one pair at a time (the engine's own
    nanosecond entry point: parsing each instant as `working_seconds` does costs
    more than the sum and would make a whole sample month take an hour)."""
    ns = cal.working_ns(np.array([start.value]), np.array([end.value]))[0]
    return ns / 1e9


def _add(cal, start: pd.Timestamp, seconds: float) -> pd.Timestamp:
    """The earliest instant t with _work(cal, start, t) == seconds."""
    ns = cal.add_working_ns(np.array([start.value]), np.array([round(seconds * 1e9)]))[0]
    return pd.Timestamp(int(ns), tz="UTC").tz_convert(cal.timezone)


def _matches(ticket: dict, tier: str, field: str, value) -> bool:
    """Does an exclusion rule's `field = value` hold for the ticket? Its tier is the
    plan's at creation; a missing value matches nothing (true nor false)."""
    have = tier if field == "tier" else ticket.get(field)
    if have is None:
        return False
    return bool(have) is value if isinstance(value, bool) else have == value


def _month(at: pd.Timestamp, tz: str) -> str:
    return at.tz_convert(tz).strftime("%Y-%m")


def _timeline(ticket: dict, events: list[dict], as_of: pd.Timestamp) -> list[tuple]:
    """[(start, end, status)] from creation to as_of.

    docs/policy.md: the status at creation is the one set by the latest change
    recorded up to creation (a change before creation counts from creation); at
    one instant an explicit change wins over one implied by a resolve, reopen or
    close event, and of several explicit ones the status first by name."""
    created = ticket["created_at"]
    changes = []
    for e in events:
        if e["at"] > as_of:
            continue
        if e["kind"] == "status_change" and e["new_value"] is not None:
            changes.append((e["at"], 1, e["new_value"]))
        elif e["kind"] in IMPLIED:
            changes.append((e["at"], 2, IMPLIED[e["kind"]]))
    # In the order they happened; at one instant the winner comes first.
    changes.sort()
    winners: list[tuple] = []
    for at, _, st in changes:
        if not winners or winners[-1][0] != at:
            winners.append((at, st))
    up_to_creation = [st for at, st in winners if at <= created]
    points = [(created, up_to_creation[-1] if up_to_creation else "new")]
    points += [(at, st) for at, st in winners if at > created]
    segments = []
    for i, (at, st) in enumerate(points):
        end = points[i + 1][0] if i + 1 < len(points) else as_of
        segments.append((at, end, st))
    return segments


def priority_at(ticket: dict, events: list[dict], as_of: pd.Timestamp) -> str | None:
    """The priority as known at as_of: a change after it is undone."""
    changes = [e for e in events if e["kind"] == "priority_change"]
    later = [e for e in changes if e["at"] > as_of]
    if not later:
        return ticket["priority"]
    # At one instant the value first by name; a missing value last.
    first_later = min(later, key=lambda e: (e["at"], e["old_value"] is None, e["old_value"] or ""))
    if first_later["old_value"] is not None:
        return first_later["old_value"]
    earlier = [e for e in changes if e["at"] <= as_of]
    if earlier:
        at = max(e["at"] for e in earlier)
        values = [e["new_value"] for e in earlier if e["at"] == at]
        known = sorted(v for v in values if v is not None)
        if known:
            return known[0]
    return ticket["priority"]


def evaluate_ticket(
    policy: Policy, ticket: dict, events: list[dict], tier: str, as_of: pd.Timestamp
) -> dict[str, RefResult]:
    version = policy.version_at(ticket["created_at"].tz_convert(policy.report_timezone).date())
    ticket = {**ticket, "priority": priority_at(ticket, events, as_of)}
    segments = _timeline(ticket, events, as_of)
    reopens = sum(
        1
        for prev, cur in itertools.pairwise(segments)
        if prev[2] in RESOLVED_STATUSES and cur[2] not in RESOLVED_STATUSES
    )
    resolved_starts = [s for s, _, st in segments if st in RESOLVED_STATUSES]
    final_stop = None
    if segments[-1][2] in RESOLVED_STATUSES:
        final_stop = segments[0][0]
        for _, e, st in segments:
            if st not in RESOLVED_STATUSES:
                final_stop = e
    first_stop = resolved_starts[0] if resolved_starts else None
    history = [
        e
        for e in events
        if e["at"] <= as_of
        and (e["kind"] in IMPLIED or (e["kind"] == "status_change" and e["new_value"] is not None))
    ]
    if not history:
        # docs/policy.md: without status history the ticket's resolved_at, else its
        # closed_at (a closed ticket is resolved), as known at as_of.
        field = ticket.get("resolved_at")
        if field is None:
            field = ticket.get("closed_at")
        final_stop = first_stop = field if field is not None and field <= as_of else None
    replies = [e["at"] for e in events if e["kind"] == "agent_reply" and e["at"] <= as_of]
    field_reply = ticket["first_response_at"]
    if field_reply is not None and field_reply <= as_of:
        replies.append(field_reply)
    out = {}
    for name, metric in version.metrics.items():
        outage = version.outage_line
        on_outage = outage is not None and all(ticket.get(k) == v for k, v in outage.match.items())
        use_outage = on_outage and name in outage.applies_to
        cal_name = outage.calendar if use_outage else metric.calendar_name
        cal = policy.calendar(cal_name)
        tier_obj = version.tiers.get(tier)
        has_sla = bool(tier_obj and tier_obj.has_sla and tier in metric.targets)
        if use_outage and name == "first_response":
            hours = outage.first_response_target_hours
            # docs/policy.md: targets are exact to the microsecond.
            target = limit = None if hours is None else round(hours * 3600, 6)
        else:
            th = (
                metric.by_priority.get(ticket["priority"])
                or metric.targets[tier if has_sla else metric.benchmark_tier]
            )
            target, limit = policy.threshold_seconds(th, cal_name)
        if name == "first_response":
            stop = min(replies) if replies else first_stop or final_stop
        else:
            stop = first_stop if metric.reopen_rule == "first_resolution" else final_stop
        if stop is not None:
            # docs/policy.md: a stop recorded before creation stops the clock at creation.
            stop = max(stop, ticket["created_at"])
        end = stop if stop is not None else as_of
        elapsed = paused = gap = 0.0
        active_pieces = []
        for s, e, st in segments:
            s, e = max(s, ticket["created_at"]), min(e, end)
            if e <= s:
                continue
            w = _work(cal, s, e)
            if st in metric.pause_statuses:
                paused += w
            elif st in RESOLVED_STATUSES:
                gap += w
            else:
                elapsed += w
                active_pieces.append((s, w))
        # Working time is counted in whole nanoseconds.
        elapsed, paused, gap = (round(x, 9) for x in (elapsed, paused, gap))
        deadline = None
        if limit is not None:
            total = 0.0
            for s, w in active_pieces:
                if total < limit <= total + w:
                    deadline = _add(cal, s, limit - total)
                    break
                total += w
            else:
                deadline = _add(cal, end, limit - elapsed)
        if limit is None:
            status = "no_sla"
        elif stop is not None:
            status = (
                "met"
                if elapsed <= target
                else "met_late_target"
                if elapsed <= limit
                else "breached"
            )
        elif elapsed > limit:
            status = "open_breached"
        elif elapsed >= metric.at_risk_share * limit:
            status = "open_at_risk"
        else:
            status = "open_on_track"
        if (
            name == "resolution"
            and metric.reopen_rule == "first_resolution"
            and limit is not None
            and status in ("met", "met_late_target")
        ):
            # Each later cycle (reopen to resolution) is measured on its own.
            cycle, per_cycle = 0, {}
            for k, (s, e, st) in enumerate(segments):
                if k and segments[k - 1][2] in RESOLVED_STATUSES and st not in RESOLVED_STATUSES:
                    cycle += 1
                if cycle and st not in RESOLVED_STATUSES and st not in metric.pause_statuses:
                    per_cycle[cycle] = per_cycle.get(cycle, 0.0) + _work(cal, s, e)
            if any(v > limit for v in per_cycle.values()):
                status = "breached"
        benchmark = None
        if limit is not None and not has_sla:
            benchmark, status = status, "no_sla"
        if any(_matches(ticket, tier, x.field, x.value) for x in metric.exclude):
            benchmark, status = None, "excluded"
        # docs/policy.md, "Month a row counts in": where the clock stopped; while
        # open, where the deadline passed, else the month under way just before as_of
        # (never one before creation).
        passed = limit is not None and elapsed > limit
        if stop is not None:
            counts_at = stop
        elif passed:
            counts_at = deadline
        else:
            counts_at = max(as_of - pd.Timedelta(1, "ns"), ticket["created_at"])
        # Out of hours: the desk's hours (the first response's calendar, also when
        # that metric counts clock time) were closed at the creation instant.
        desk = policy.calendar(version.metrics["first_response"].calendar)
        created = ticket["created_at"]
        out[name] = RefResult(
            status,
            elapsed,
            paused,
            gap,
            stop,
            deadline,
            reopens,
            has_sla=has_sla,
            benchmark_status=benchmark,
            target=target,
            limit=limit,
            calendar=cal_name,
            outage_line=on_outage,
            billable=on_outage and ticket.get("cause_domain") == outage.billable_cause_domain,
            out_of_hours=_work(desk, created, created + pd.Timedelta(1, "ns")) == 0,
            month=_month(counts_at, policy.report_timezone),
            late=elapsed - limit if passed else None,
            created=created,
        )
    return out
