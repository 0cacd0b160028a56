"""Audits: one ticket's judgement re-derived step by step, as the evaluation saw it.

The audit does not explain the stored result by reading it back. It walks the
ticket's raw history again, one ticket and one segment at a time, with the
policy document stored with the evaluation (not today's policy) and the
evaluation's as-of instant (later events are ignored). It decides the tier, the
policy version, the clock stop, the segments, the deadline, the status and the
month on its own, in plain Python written from the policy text, and only then
compares every one of them with the stored row. Any difference is shown, never
hidden: the vectorised evaluation and this per-ticket walk are two
implementations that must agree. The calendar, target and limit are the one
choice the evaluation and the customer report make too
(`Policy.ticket_threshold`); the audit adds its own words for which rule applied.

The breach register lives in `pipeline.breach_register`, report verification in
`pipeline.verify`.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import pandas as pd

from pipeline.errors import AuditError, PolicyError
from pipeline.evaluate import RESULT_COLUMNS
from pipeline.policy import (
    IMPLIED_STATUSES,
    METRICS,
    RESOLVED_STATUSES,
    Policy,
    PolicyVersion,
    timeline_order,
)
from pipeline.retention import require_stored

# Stored and re-derived instants agree when they are within this (stored rows
# keep microseconds, the engine works in nanoseconds).
INSTANT_TOLERANCE = pd.Timedelta(microseconds=1)
SECONDS_TOLERANCE = 1e-3


# --------------------------------------------------------------- evaluations


def latest_evaluation(con: duckdb.DuckDBPyConnection, policy_hash: str | None = None) -> int:
    """The id of the newest evaluation whose result rows are stored (made with
    `policy_hash`, when given): a pruned run has nothing left to audit.
    Raises `AuditError` when there is none."""
    row, pruned = con.execute(
        "SELECT max(evaluation_id) FILTER (pruned_at IS NULL), "
        "count(*) FILTER (pruned_at IS NOT NULL) "
        "FROM evaluations WHERE ? IS NULL OR policy_hash = ?",
        [policy_hash, policy_hash],
    ).fetchall()[0]
    if row is None and pruned:
        under = "" if policy_hash is None else f" with policy {policy_hash[:12]}"
        raise AuditError(
            f"every evaluation{under} in this warehouse was pruned (sla evaluations prune): "
            "run sla evaluate again first"
        )
    if row is None:
        if policy_hash is not None:
            raise AuditError(
                f"no evaluation with policy {policy_hash[:12]} in this warehouse: run "
                "sla evaluate --policy FILE first"
            )
        raise AuditError("no evaluation in this warehouse yet: run sla evaluate first")
    return int(row)


def evaluation_info(con: duckdb.DuckDBPyConnection, evaluation_id: int) -> dict[str, Any]:
    """The `evaluations` row of one run. Raises `AuditError` for an unknown id."""
    rows = con.execute(
        "SELECT evaluation_id, policy_hash, policy_document, as_of, month_from, month_to, "
        "forced_version, input_fingerprint, policy_source FROM evaluations "
        "WHERE evaluation_id = ?",
        [evaluation_id],
    ).fetchall()
    if not rows:
        raise AuditError(f"no evaluation #{evaluation_id} in this warehouse")
    keys = (
        "evaluation_id",
        "policy_hash",
        "policy_document",
        "as_of",
        "month_from",
        "month_to",
        "forced_version",
        "input_fingerprint",
        "policy_source",
    )
    return dict(zip(keys, rows[0], strict=True))


def policy_of(info: dict[str, Any]) -> Policy:
    """The policy exactly as the evaluation used it (stored as JSON with the run).
    Raises `AuditError` when the stored document no longer gives the run's
    policy_hash: it was edited after the run, and re-deriving with it would only
    show the edit."""
    eid = info["evaluation_id"]
    try:
        policy = Policy.from_dict(json.loads(info["policy_document"]), source=f"evaluation #{eid}")
    except (ValueError, PolicyError) as exc:  # not JSON, or not a policy any more
        raise AuditError(
            f"the policy document stored with evaluation #{eid} is not a policy any more "
            f"({exc}): it was edited after the evaluation"
        ) from None
    if policy.hash != info["policy_hash"]:
        raise AuditError(
            f"the policy document stored with evaluation #{eid} no longer matches its "
            f"policy_hash {info['policy_hash'][:12]} (it hashes to {policy.hash[:12]}): it was "
            "edited after the evaluation, so nothing can be re-derived with it"
        )
    return policy


# ------------------------------------------------------------- the audit


@dataclass(frozen=True)
class Segment:
    """A stretch of the status timeline inside the metric's clock window."""

    start: str
    end: str
    status: str
    counted_as: str  # elapsed | paused | gap
    working_seconds: float
    note: str


@dataclass(frozen=True)
class Span:
    """An open interval of the metric's calendar inside the clock window."""

    start: str
    end: str
    seconds: float


@dataclass(frozen=True)
class Check:
    """One re-derived value beside the stored one."""

    field: str
    derived: Any
    stored: Any
    agrees: bool


@dataclass(frozen=True)
class MetricAudit:
    metric: str
    calendar: str
    calendar_reason: str
    threshold_reason: str
    clock_start: str
    clock_stop: str | None
    stop_reason: str
    segments: tuple[Segment, ...]
    open_spans: tuple[Span, ...]
    closed_days: tuple[tuple[str, str], ...]  # (day or span, name): holidays, closures, openings
    clock_time: bool  # the calendar is open around the clock: its working time is clock time
    working_total: float
    elapsed: float
    paused: float
    gap: float
    target_seconds: float | None
    limit_seconds: float | None
    deadline: str | None
    status: str
    benchmark_status: str | None
    exclusion_rule: str | None
    month: str
    arithmetic: str
    stored: dict[str, Any] | None  # None: the evaluation kept no row (month outside its range)
    checks: tuple[Check, ...]

    @property
    def matches(self) -> bool | None:
        """Every stored value agrees with its re-derivation; None when the
        evaluation kept no row for this metric (`stored` is None): nothing was
        compared, which is neither agreement nor disagreement."""
        if self.stored is None:
            return None
        return all(c.agrees for c in self.checks)


@dataclass(frozen=True)
class TicketAudit:
    ticket_id: str
    evaluation_id: int
    as_of: str
    report_timezone: str
    policy_hash: str
    policy_version: str
    version_reason: str
    tier: str
    tier_reason: str
    priority: str | None
    priority_reason: str
    ticket: dict[str, Any]
    events: tuple[dict[str, Any], ...]
    metrics: tuple[MetricAudit, ...]

    @property
    def matches(self) -> bool | None:
        """False when any stored value disagrees; None when no metric has a stored
        row (nothing compared); else True."""
        compared = [m.matches for m in self.metrics if m.matches is not None]
        return all(compared) if compared else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["matches"] = self.matches
        for metric, audit in zip(out["metrics"], self.metrics, strict=True):
            metric["matches"] = audit.matches
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str | bool) and bool(pd.isna(value)))


def _utc(value: Any) -> pd.Timestamp | None:
    return None if _missing(value) else pd.Timestamp(value).tz_convert("UTC")


def _iso(value: Any, tz: str) -> str | None:
    return None if _missing(value) else pd.Timestamp(value).tz_convert(tz).isoformat()


# Rejected rows keep their raw text as JSON: the id stands in it as a quoted value.
REJECTED_MENTIONING_SQL = """
SELECT file, line_number, reason_code, field, count(*) OVER () AS n
FROM rejected_rows
WHERE contains(raw, to_json(?::VARCHAR)::VARCHAR)
  AND load_id NOT IN (SELECT load_id FROM superseded_loads)  -- outstanding only
ORDER BY load_id, line_number
LIMIT 1
"""


def _rejected_hint(con: duckdb.DuckDBPyConnection, ticket_id: str) -> str:
    """Where a ticket the warehouse lacks was refused at load, if it was."""
    found = con.execute(REJECTED_MENTIONING_SQL, [ticket_id]).fetchall()
    if not found:
        return ""
    file, line, reason, field, n = found[0]
    # The path as loaded, as `sla status --rejected` names it: exports of several
    # dates are often all called tickets.csv, so the name alone does not say which.
    where = f"{file}, line {line}" if line is not None else file
    on = f" on {field}" if field else ""
    more = f" (and {n - 1} more)" if n > 1 else ""
    return (
        f"; a row naming it was rejected at load: {where}, {reason}{on}{more}; "
        "see the rejected rows (sla status)"
    )


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (numpy and pandas values to Python, missing to None)."""
    if _missing(value):
        return None
    return value.item() if hasattr(value, "item") else value


def audit_ticket(
    con: duckdb.DuckDBPyConnection,
    ticket_id: str,
    *,
    evaluation_id: int | None = None,
    policy_hash: str | None = None,
) -> TicketAudit:
    """Re-derive how an evaluation (default: the latest, with `policy_hash` when
    given) judged one ticket, and compare every re-derived value with the stored row.

    Raises `AuditError` for an unknown ticket or evaluation, or a ticket the
    evaluation could not see (created after its as-of instant)."""
    # The ticket first: 'no such ticket' helps more than 'no evaluation yet'.
    tickets = con.execute("SELECT * FROM tickets WHERE ticket_id = ?", [ticket_id]).df()
    if tickets.empty:
        raise AuditError(
            f"no ticket {ticket_id!r} in this warehouse" + _rejected_hint(con, ticket_id)
        )
    if evaluation_id is None:
        evaluation_id = latest_evaluation(con, policy_hash)
    info = evaluation_info(con, evaluation_id)
    require_stored(con, evaluation_id)
    policy = policy_of(info)
    tz = policy.report_timezone
    as_of = _utc(info["as_of"])
    assert as_of is not None
    t = {k: _plain(v) for k, v in tickets.iloc[0].to_dict().items()}
    created = _utc(t["created_at"])
    assert created is not None
    if created > as_of:
        raise AuditError(
            f"ticket {ticket_id!r} was created at {_iso(created, tz)}, after the as-of "
            f"instant {_iso(as_of, tz)} of evaluation #{evaluation_id}: that run never saw it"
        )
    stored = con.execute(
        "SELECT * FROM sla_results WHERE evaluation_id = ? AND ticket_id = ?",
        [evaluation_id, ticket_id],
    ).df()
    stored_rows = {
        r["metric"]: {k: _plain(v) for k, v in r.items()} for r in stored.to_dict("records")
    }
    # Every event, with the ones after the as-of instant left out: the evaluation
    # did not know them.
    events = con.execute(
        'SELECT "at", kind, old_value, new_value, actor_type FROM ticket_events '
        'WHERE ticket_id = ? AND "at" <= ? ORDER BY "at", kind',
        [ticket_id, as_of.to_pydatetime()],
    ).df()
    event_rows = [{k: _plain(v) for k, v in e.items()} for e in events.to_dict("records")]

    tier, tier_reason = _tier(con, t, created, tz)
    priority, priority_reason = _priority(con, t, as_of, tz)
    version, version_reason = _version(policy, info["forced_version"], created, tz)
    timeline = _timeline(created, event_rows, as_of)
    stops = _stops(t, timeline, event_rows, created, as_of)
    fields = {**t, "tier": tier, "priority": priority}
    metrics = tuple(
        _audit_metric(
            policy,
            version,
            name,
            fields,
            timeline,
            stops,
            created,
            as_of,
            stored_rows.get(name),
            expect={
                "tier": tier,
                "priority": priority,
                "policy_version": version.version if version else None,
                "policy_hash": info["policy_hash"],
                "customer_id": t["customer_id"],
                "channel": t["channel"],
                "cause_domain": t["cause_domain"],
                "reopens": _reopens(timeline),
            },
        )
        for name in (version.metrics if version else METRICS)
        if version is not None or name in stored_rows
    )
    return TicketAudit(
        ticket_id=ticket_id,
        evaluation_id=int(evaluation_id),
        as_of=_iso(as_of, tz) or "",
        report_timezone=tz,
        policy_hash=info["policy_hash"],
        policy_version=version.version if version else "none in force",
        version_reason=version_reason,
        tier=tier,
        tier_reason=tier_reason,
        priority=priority,
        priority_reason=priority_reason,
        ticket={k: (_iso(v, tz) if isinstance(v, pd.Timestamp) else v) for k, v in t.items()},
        events=tuple(
            {
                "at": _iso(e["at"], tz),
                "kind": e["kind"],
                "old": e["old_value"],
                "new": e["new_value"],
                "actor": e["actor_type"],
            }
            for e in event_rows
        ),
        metrics=metrics,
    )


def _tier(
    con: duckdb.DuckDBPyConnection, t: dict[str, Any], created: pd.Timestamp, tz: str
) -> tuple[str, str]:
    """The plan valid at creation, and why (the latest such plan wins, as in eval_scope.sql)."""
    plans = con.execute(
        "SELECT tier, valid_from, valid_to FROM plan_history WHERE customer_id = ? "
        "ORDER BY valid_from",
        [t["customer_id"]],
    ).fetchall()
    tier, reason = "unknown", f"no plan of customer {t['customer_id']} covers the creation"
    for name, valid_from, valid_to in plans:
        start, end = _utc(valid_from), _utc(valid_to)
        if start is not None and start <= created and (end is None or created < end):
            tier = name
            reason = (
                f"the plan of customer {t['customer_id']} valid from {_iso(start, tz)} to "
                f"{_iso(end, tz) or 'now'} covers the creation at {_iso(created, tz)}"
            )
    if len(plans) > 1:
        reason += f" ({len(plans)} plans on record; the one valid at creation counts)"
    return tier, reason


def _priority(
    con: duckdb.DuckDBPyConnection, t: dict[str, Any], as_of: pd.Timestamp, tz: str
) -> tuple[str | None, str]:
    """The priority as known at the as-of instant, and why (the rule of eval_scope.sql)."""
    changes = con.execute(
        'SELECT "at", old_value, new_value FROM ticket_events '
        "WHERE ticket_id = ? AND kind = 'priority_change'",
        [t["ticket_id"]],
    ).fetchall()
    changes = [(_utc(at), old, new) for at, old, new in changes]
    later = [c for c in changes if c[0] > as_of]
    if not later:
        return t["priority"], (
            "the ticket's priority at export; no change of priority was recorded after the "
            "as-of instant"
        )
    # At one instant the value first by name; a missing value last.
    at, old, new = min(later, key=lambda c: (c[0], c[1] is None, c[1] or ""))
    change = f"the change to {new!r} at {_iso(at, tz)}, after the as-of instant"
    if old is not None:
        return old, f"the priority before {change} (the ticket shows {t['priority']!r})"
    earlier = [c for c in changes if c[0] <= as_of]
    if earlier:
        last = max(c[0] for c in earlier)
        known = sorted(c[2] for c in earlier if c[0] == last and c[2] is not None)
        if known:
            return known[0], (f"set at {_iso(last, tz)}; {change} does not say what it replaced")
    return t["priority"], (
        f"the ticket's priority at export: {change} does not say what it replaced, and no "
        "earlier change was recorded"
    )


def _version(
    policy: Policy, forced: str | None, created: pd.Timestamp, tz: str
) -> tuple[PolicyVersion | None, str]:
    if forced:
        return policy.version(forced), f"version {forced} was forced for every ticket of this run"
    day = created.tz_convert(tz).date()
    try:
        version = policy.version_at(day)
    except PolicyError:
        return None, f"no version of the policy is in force on the creation date {day}"
    return version, (
        f"version {version.version} is in force from {version.effective_from}, the latest "
        f"effective_from on or before the creation date {day} ({tz})"
    )


def _timeline(
    created: pd.Timestamp, events: list[dict[str, Any]], as_of: pd.Timestamp
) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """[(start, end, status)] from creation to as-of. Of the changes at one
    instant the first in the evaluation's order holds (policy.timeline_order): a
    change recorded before creation counts from creation, the latest of them
    first; an explicit status change before one implied by a resolve, reopen or
    close event; then the status first by name."""
    changes = [(timeline_order(created, created, "created", "new"), "new")]
    for e in events:
        if e["kind"] == "status_change" and e["new_value"] is not None:
            status = e["new_value"]
        elif e["kind"] in IMPLIED_STATUSES:
            status = IMPLIED_STATUSES[e["kind"]]
        else:
            continue
        changes.append((timeline_order(_utc(e["at"]), created, e["kind"], status), status))
    changes.sort(key=lambda c: c[0])
    points: list[tuple[pd.Timestamp, str]] = []
    for (at, *_), status in changes:
        # The first change at an instant holds ('new', first of all, gives way to
        # any change at creation, as in evaluate._segments).
        if len(points) > 1 and points[-1][0] == at:
            continue
        points.append((at, status))
    return [
        (at, points[i + 1][0] if i + 1 < len(points) else as_of, status)
        for i, (at, status) in enumerate(points)
    ]


def _reopens(timeline: list[tuple[pd.Timestamp, pd.Timestamp, str]]) -> int:
    """How often a resolved stretch was followed by an unresolved one."""
    return sum(
        1
        for (_, _, before), (_, _, after) in itertools.pairwise(timeline)
        if before in RESOLVED_STATUSES and after not in RESOLVED_STATUSES
    )


def _stops(
    t: dict[str, Any],
    timeline: list[tuple[pd.Timestamp, pd.Timestamp, str]],
    events: list[dict[str, Any]],
    created: pd.Timestamp,
    as_of: pd.Timestamp,
) -> dict[str, tuple[pd.Timestamp | None, str]]:
    """The candidate clock stops, each with the reason it is what it is."""

    def known(value: Any) -> pd.Timestamp | None:
        at = _utc(value)
        return at if at is not None and at <= as_of else None

    resolved_starts = [s for s, _, st in timeline if st in RESOLVED_STATUSES]
    if len(timeline) <= 1:
        # No status history at all: the ticket's own resolved_at field is all there
        # is, or its closed_at (a closed ticket is resolved) when that is empty.
        if _missing(t.get("resolved_at")) and not _missing(t.get("closed_at")):
            field = known(t.get("closed_at"))
            why = "the ticket's closed_at field (no status history, no resolved_at)"
        else:
            field = known(t.get("resolved_at"))
            why = "the ticket's resolved_at field (no status history)"
        final = first = (field, why if field is not None else "not resolved at the as-of instant")
    else:
        if timeline[-1][2] in RESOLVED_STATUSES:
            end = max([e for _, e, st in timeline if st not in RESOLVED_STATUSES], default=created)
            final = (end, "the start of the final resolved stretch of the status history")
        else:
            final = (None, f"still {timeline[-1][2]!r} at the as-of instant")
        first = (
            (resolved_starts[0], "the first resolution in the status history")
            if resolved_starts
            else final
        )
    replies = [known(e["at"]) for e in events if e["kind"] == "agent_reply"]
    replies = [r for r in replies if r is not None]
    field_reply = known(t.get("first_response_at"))
    if replies or field_reply is not None:
        reply = min([*replies, *([field_reply] if field_reply is not None else [])])
        why = (
            "the first agent reply in the events"
            if replies and reply == min(replies)
            else "the ticket's first_response_at field (earlier than any reply event)"
        )
        first_response = (reply, why)
    elif first[0] is not None:
        first_response = (first[0], f"no agent reply: {first[1]}")
    else:
        first_response = (None, "no agent reply and no resolution by the as-of instant")
    return {"first_response": first_response, "final": final, "first": first}


def _field_equals(value: Any, wanted: Any) -> bool:
    """How an exclusion rule compares (as in the evaluation): missing never matches."""
    if _missing(value):
        return False
    if isinstance(wanted, bool):
        return bool(value) is wanted
    return value == wanted


def _audit_metric(
    policy: Policy,
    version: PolicyVersion | None,
    name: str,
    fields: dict[str, Any],
    timeline: list[tuple[pd.Timestamp, pd.Timestamp, str]],
    stops: dict[str, tuple[pd.Timestamp | None, str]],
    created: pd.Timestamp,
    as_of: pd.Timestamp,
    stored: dict[str, Any] | None,
    *,
    expect: dict[str, Any],
) -> MetricAudit:
    tz = policy.report_timezone
    if version is None or name not in version.metrics:
        # Nothing to re-derive: the evaluation wrote a no-SLA row; show it as stored.
        assert stored is not None
        return _stored_only(name, stored, tz)
    metric = version.metrics[name]
    tier = fields["tier"]
    tier_spec = version.tiers.get(tier)
    has_sla = version.promises(tier, name)

    # Which calendar and which numbers apply: the values as the evaluation takes
    # them (Policy.ticket_threshold), so the two cannot pick differently; the
    # audit adds only its own words for which rule applied.
    outage = version.outage_line
    on_outage = bool(outage and outage.matches(fields))
    use_outage = on_outage and outage is not None and name in outage.applies_to
    judged_as = tier if has_sla else metric.benchmark_tier
    priority = fields.get("priority")
    target, limit, calendar_name = policy.ticket_threshold(
        version, name, judged_as, priority, outage_line=on_outage
    )
    if use_outage:
        assert outage is not None
        match = ", ".join(f"{k}={v}" for k, v in outage.match.items())
        calendar_reason = f"an outage-line call ({match}): calendar {calendar_name!r}"
    else:
        calendar_reason = (
            f"the metric counts clock time: calendar {calendar_name!r}"
            if metric.clock == "clock"
            else f"the metric counts working time in calendar {calendar_name!r}"
        )
    cal = policy.calendar(calendar_name)
    # On a calendar open around the clock (a clock-time metric, the outage line)
    # working time is clock time: the explanation says so in its own words.
    clock_time = cal.is_always_open()
    no_sla_reason = None
    if use_outage and name == "first_response":
        assert outage is not None
        hours = outage.first_response_target_hours
        threshold_reason = (
            "the outage line has no first-response target (measured, never judged)"
            if hours is None
            else f"the outage line's first-response target: {hours:g} hours"
        )
        if limit is None:
            no_sla_reason = "outage_line_no_target"
    else:
        threshold = metric.by_priority.get(priority)
        if threshold is not None:
            threshold_reason = f"the override for priority {priority!r}: {threshold.describe()}"
        else:
            threshold = metric.targets[judged_as]
            threshold_reason = f"tier {judged_as!r}: {threshold.describe()}"
        if not has_sla:
            threshold_reason += (
                f"; benchmark only: tier {tier!r} carries no SLA, so it is measured against "
                f"{metric.benchmark_tier!r} without a compliance claim"
            )
        if threshold.unit == "days":
            day = "a day" if clock_time else "a working day"
            threshold_reason += (
                f"; {day} is one full opening day of {calendar_name!r}, "
                f"{cal.working_day_seconds:,} s"
            )
    if no_sla_reason is None and not has_sla:
        no_sla_reason = (
            "tier_without_sla"
            if tier_spec
            else "no_plan_at_creation"
            if tier == "unknown"
            else "tier_not_in_policy"
        )
    excluded_by = next(
        (e for e in metric.exclude if _field_equals(fields.get(e.field), e.value)), None
    )

    # When the clock stops.
    if name == "first_response":
        stop, stop_reason = stops["first_response"]
    elif metric.reopen_rule == "first_resolution":
        stop, why = stops["first"]
        stop_reason = f"{why} (reopen rule first_resolution)"
    else:
        stop, why = stops["final"]
        stop_reason = f"{why} (reopen rule exclude_gaps)"
    if stop is not None and stop < created:
        stop_reason += (
            f", recorded at {_iso(stop, tz)}, before the creation: the clock stops at creation"
        )
        stop = created
    end = stop if stop is not None else max(as_of, created)

    # Each stretch of the status timeline, measured in working time.
    segments: list[Segment] = []
    active: list[tuple[pd.Timestamp, float]] = []
    elapsed = paused = gap = 0.0
    for start, finish, status in timeline:
        s, e = max(start, created), min(finish, end)
        if e <= s:
            continue
        seconds = float(cal.working_seconds(s, e))
        if status in metric.pause_statuses:
            kind, paused = "paused", paused + seconds
            note = f"pause: {status!r} stops the clock; only its working-time overlap is taken off"
        elif status in RESOLVED_STATUSES:
            kind, gap = "gap", gap + seconds
            note = "reopen gap: resolved until the next reopen, not counted"
        else:
            kind, elapsed = "elapsed", elapsed + seconds
            note = "counts"
            active.append((s, seconds))
        segments.append(Segment(_iso(s, tz) or "", _iso(e, tz) or "", status, kind, seconds, note))
    # The engine counts whole nanoseconds: sums of float seconds, rounded to them,
    # compare exactly with a target or limit (rounded to the microsecond).
    elapsed, paused, gap = (round(x, 9) for x in (elapsed, paused, gap))

    # The deadline: where the running total of counted time reaches the limit.
    deadline = None
    if limit is not None:
        total = 0.0
        for s, w in active:
            if total < limit <= total + w:
                deadline = cal.add_working_seconds(s, limit - total)
                break
            total += w
        else:
            deadline = cal.add_working_seconds(end, limit - elapsed)
        deadline = deadline.tz_convert("UTC")

    # The verdict.
    computed = None
    if limit is not None and target is not None:
        if stop is not None:
            computed = (
                "met"
                if elapsed <= target
                else "met_late_target"
                if elapsed <= limit
                else "breached"
            )
        elif elapsed > limit:
            computed = "open_breached"
        elif elapsed >= metric.at_risk_share * limit:
            computed = "open_at_risk"
        else:
            computed = "open_on_track"
    cycle_note = ""
    if (
        name == "resolution"
        and metric.reopen_rule == "first_resolution"
        and limit is not None
        and computed in ("met", "met_late_target")
    ):
        worst = _worst_later_cycle(timeline, metric.pause_statuses, cal)
        if worst > limit:
            computed = "breached"
            cycle_note = f"; a later cycle took {worst:,.0f} s, over the limit: breached"
    if excluded_by is not None:
        status, benchmark, rule = "excluded", None, excluded_by.rule
    elif has_sla and computed is not None:
        status, benchmark, rule = computed, None, None
    else:
        status, benchmark, rule = "no_sla", computed, no_sla_reason
    if stop is not None:
        month_at = stop
    elif deadline is not None and limit is not None and elapsed > limit:
        # Past the limit (open_breached): the month the deadline passed. Reaching
        # the limit exactly is not passing it.
        month_at = deadline
    else:
        month_at = as_of - pd.Timedelta(1, "ns")
    month = month_at.tz_convert(tz).strftime("%Y-%m")

    spans = cal.open_spans(created, end)
    first_day = created.tz_convert(cal.timezone).date()
    last_day = end.tz_convert(cal.timezone).date()
    closed = [(d.isoformat(), n) for d, n in cal.holidays_between(first_day, last_day)]
    closed += cal.exceptions_between(first_day, last_day)
    total = elapsed + paused + gap
    hours = "clock hours" if clock_time else "working hours"
    arithmetic = (
        f"{'clock' if clock_time else 'working'} time from clock start to "
        f"{'clock stop' if stop is not None else 'as-of'} "
        f"{total:,.0f} s - paused {paused:,.0f} s - reopen gaps {gap:,.0f} s "
        f"= elapsed {elapsed:,.0f} s ({elapsed / 3600:,.2f} {hours})"
    )
    if limit is not None and target is not None:
        arithmetic += f"; target {target:,.0f} s, limit {limit:,.0f} s: elapsed " + (
            "<= target"
            if elapsed <= target
            else "<= limit"
            if elapsed <= limit
            else f"exceeds the limit by {elapsed - limit:,.0f} s"
        )
    if excluded_by is not None:
        # Which field and value matched, not only the rule's name.
        wanted = excluded_by.value
        shown = str(wanted).lower() if isinstance(wanted, bool) else wanted
        rule_text = f"{rule}: {excluded_by.field} = {shown}"
    else:
        rule_text = rule
    arithmetic += cycle_note + f" -> {status}" + (f" ({rule_text})" if rule else "")
    if benchmark:
        arithmetic += f", benchmark {benchmark}"
    # Out of hours: the version's office calendar (its first metric's `calendar`, also
    # when that metric counts clock time) was closed at the creation instant.
    office = version.metrics.get(METRICS[0]) or next(iter(version.metrics.values()))
    office_cal = policy.calendar(office.calendar)
    out_of_hours = office_cal.working_seconds(created, created + pd.Timedelta(1, "ns")) == 0
    derived = {
        **expect,
        "has_sla": has_sla,
        "outage_line": on_outage,
        "out_of_hours": bool(out_of_hours),
        "billable": on_outage
        and outage is not None
        and fields.get("cause_domain") == outage.billable_cause_domain,
        "calendar": calendar_name,
        "clock_start": created,
        "clock_stop": stop,
        "elapsed_working_seconds": elapsed,
        "paused_working_seconds": paused,
        "gap_working_seconds": gap,
        "target_seconds": target,
        "limit_seconds": limit,
        "deadline": deadline,
        "status": status,
        "benchmark_status": benchmark,
        "exclusion_rule": rule,
        "late_working_seconds": (
            elapsed - limit if limit is not None and elapsed > limit else None
        ),
        "month": month,
    }
    return MetricAudit(
        metric=name,
        calendar=calendar_name,
        calendar_reason=calendar_reason,
        threshold_reason=threshold_reason,
        clock_start=_iso(created, tz) or "",
        clock_stop=_iso(stop, tz),
        stop_reason=stop_reason,
        segments=tuple(segments),
        open_spans=tuple(
            Span(_iso(s.start, tz) or "", _iso(s.end, tz) or "", float(s.seconds))
            for s in spans.itertuples()
        ),
        closed_days=tuple(closed),
        clock_time=clock_time,
        working_total=total,
        elapsed=elapsed,
        paused=paused,
        gap=gap,
        target_seconds=target,
        limit_seconds=limit,
        deadline=_iso(deadline, tz),
        status=status,
        benchmark_status=benchmark,
        exclusion_rule=rule,
        month=month,
        arithmetic=arithmetic,
        stored=None if stored is None else _shown(stored, tz),
        checks=() if stored is None else _checks(derived, stored, tz),
    )


def _worst_later_cycle(timeline, pauses, cal) -> float:
    """Counted working time of the longest cycle after the first resolution
    (reopen to the next resolution, or to the as-of instant)."""
    cycle, per_cycle = 0, {}
    for k, (s, e, status) in enumerate(timeline):
        reopened = k and timeline[k - 1][2] in RESOLVED_STATUSES
        if reopened and status not in RESOLVED_STATUSES:
            cycle += 1
        if cycle and status not in RESOLVED_STATUSES and status not in pauses:
            per_cycle[cycle] = per_cycle.get(cycle, 0.0) + float(cal.working_seconds(s, e))
    return round(max(per_cycle.values(), default=0.0), 9)


# Every column of a stored row but its key (evaluation_id, ticket_id, metric),
# in the table's order: a value left unchecked could be edited unseen. The
# columns are the ones the evaluation writes; only their values are re-derived.
KEY = ("evaluation_id", "ticket_id", "metric")
CHECKED = tuple(c for c in RESULT_COLUMNS if c not in KEY)
INSTANTS = ("clock_start", "clock_stop", "deadline")
SECONDS = (
    "elapsed_working_seconds",
    "paused_working_seconds",
    "gap_working_seconds",
    "target_seconds",
    "limit_seconds",
    "late_working_seconds",
)


def _agrees(field: str, derived: Any, stored: Any) -> bool:
    if _missing(derived) or _missing(stored):
        return _missing(derived) and _missing(stored)
    if field in INSTANTS:
        return abs(_utc(derived) - _utc(stored)) <= INSTANT_TOLERANCE
    if field in SECONDS:
        return abs(float(derived) - float(stored)) < SECONDS_TOLERANCE
    return derived == stored


def _checks(derived: dict[str, Any], stored: dict[str, Any], tz: str) -> tuple[Check, ...]:
    def show(field: str, value: Any) -> Any:
        if _missing(value):
            return None
        return _iso(value, tz) if field in INSTANTS else value

    return tuple(
        Check(
            field,
            show(field, derived[field]),
            show(field, stored.get(field)),
            _agrees(field, derived[field], stored.get(field)),
        )
        for field in CHECKED
    )


def _shown(stored: dict[str, Any], tz: str) -> dict[str, Any]:
    return {k: (_iso(v, tz) if k in INSTANTS else v) for k, v in stored.items() if k in CHECKED}


def _stored_only(name: str, stored: dict[str, Any], tz: str) -> MetricAudit:
    reason = stored.get("exclusion_rule") or "no rule of the policy applies"
    return MetricAudit(
        metric=name,
        calendar=stored["calendar"],
        calendar_reason="as stored",
        threshold_reason=f"no policy version measures this metric for the ticket ({reason})",
        clock_start=_iso(stored["clock_start"], tz) or "",
        clock_stop=_iso(stored["clock_stop"], tz),
        stop_reason="as stored",
        segments=(),
        open_spans=(),
        closed_days=(),
        working_total=0.0,
        elapsed=float(stored["elapsed_working_seconds"]),
        paused=float(stored["paused_working_seconds"]),
        gap=float(stored["gap_working_seconds"]),
        target_seconds=None,
        limit_seconds=None,
        deadline=None,
        status=stored["status"],
        benchmark_status=None,
        exclusion_rule=stored.get("exclusion_rule"),
        month=stored["month"],
        arithmetic=f"not judged: {reason}",
        stored=_shown(stored, tz),
        checks=(),
    )


# ------------------------------------------------------------- rendering


def audit_renderables(audit: TicketAudit) -> list[Any]:
    """The audit as rich renderables (tables and text), for the terminal."""
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = [
        Text(
            f"Ticket {audit.ticket_id} in evaluation #{audit.evaluation_id} (as of "
            f"{audit.as_of}, policy {audit.policy_hash[:12]}, times in {audit.report_timezone})",
            style="bold",
        ),
        Text(
            f"created {audit.ticket.get('created_at')}, customer "
            f"{audit.ticket.get('customer_id')}, channel {audit.ticket.get('channel')}"
        ),
        Text(f"tier {audit.tier}: {audit.tier_reason}"),
        Text(f"priority {audit.priority}: {audit.priority_reason}"),
        Text(f"policy {audit.policy_version}: {audit.version_reason}"),
    ]
    events = Table(title="events as the evaluation saw them", title_justify="left")
    for column in ("at", "kind", "old", "new", "actor"):
        events.add_column(column)
    for e in audit.events:
        events.add_row(*(str(e[k] or "") for k in ("at", "kind", "old", "new", "actor")))
    out.append(events)
    for m in audit.metrics:
        out.append(
            Text(
                f"\n{m.metric}: {m.status}"
                + (f" (benchmark {m.benchmark_status})" if m.benchmark_status else ""),
                style="bold",
            )
        )
        out += [
            Text(f"  calendar {m.calendar}: {m.calendar_reason}"),
            Text(f"  target and limit: {m.threshold_reason}"),
            Text(f"  clock {m.clock_start} -> {m.clock_stop or 'still running'}: {m.stop_reason}"),
        ]
        segments = Table(title="  status timeline inside the clock window", title_justify="left")
        # On a calendar open around the clock, its seconds are clock seconds.
        counted = "clock s" if m.clock_time else "working s"
        for column in ("from", "to", "status", "counted as", counted):
            segments.add_column(column, justify="right" if column == counted else "left")
        for s in m.segments:
            segments.add_row(s.start, s.end, s.status, s.counted_as, f"{s.working_seconds:,.0f}")
        out.append(segments)
        spans = f"  open spans of {m.calendar} in the window: {len(m.open_spans)}, " + (
            f"{sum(x.seconds for x in m.open_spans):,.0f} s"
        )
        if m.open_spans and len(m.open_spans) <= 12:
            # The end's date only when the span runs into another day.
            spans += (
                " ("
                + "; ".join(
                    f"{x.start[:11]}{_clock(x.start)}.."
                    + (_clock(x.end) if x.end[:10] == x.start[:10] else x.end[:11] + _clock(x.end))
                    for x in m.open_spans
                )
                + ")"
            )
        out.append(Text(spans))
        if m.closed_days:
            closed = ", ".join(f"{d} {n}" for d, n in m.closed_days)
            out.append(Text(f"  closed in the window: {closed}"))
        out += [
            Text(f"  deadline {m.deadline or '-'}, counts in month {m.month}"),
            Text(f"  {m.arithmetic}"),
        ]
        if m.stored is None:
            out.append(Text("  no stored row: the evaluation's months do not include it"))
        elif m.matches:
            out.append(Text("  stored result reproduced: every value agrees", style="green"))
        else:
            table = Table(title="  stored result DIFFERS", title_style="bold red")
            for column in ("field", "re-derived", "stored"):
                table.add_column(column)
            for c in m.checks:
                if not c.agrees:
                    table.add_row(c.field, str(c.derived), str(c.stored))
            out.append(table)
    return out


def _clock(iso: str) -> str:
    """The time of day of an ISO instant: HH:MM on a whole minute, else with its
    seconds (a span cut to the minute would hide where the clock stopped)."""
    at = pd.Timestamp(iso)
    return at.strftime("%H:%M" if at.second == 0 and at.microsecond == 0 else "%H:%M:%S")


def render_audit_text(audit: TicketAudit, *, width: int = 140) -> str:
    """The audit as plain text (what the terminal shows, without colour)."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, soft_wrap=True)
    for item in audit_renderables(audit):
        console.print(item)
    return console.file.getvalue()  # type: ignore[attr-defined]


def render_audit_html(audit: TicketAudit) -> str:
    """The audit as one self-contained HTML page (Jinja2, autoescaped: ticket
    text is data, not markup)."""
    from pipeline.i18n import Messages
    from pipeline.report_monthly import _environment

    template = _environment().get_template("audit.html.j2")
    return template.render(a=audit, m=Messages("en"))
