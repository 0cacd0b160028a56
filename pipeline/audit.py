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

import datetime as dt
import io
import itertools
import json
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import pandas as pd

from pipeline.errors import AuditError, PolicyError
from pipeline.evaluate import RESULT_COLUMNS
from pipeline.i18n import (
    FIELD_WORDS,
    Messages,
    calendar_named,
    condition,
    status_named,
    with_code,
)
from pipeline.policy import (
    IMPLIED_STATUSES,
    METRICS,
    RESOLVED_STATUSES,
    Policy,
    PolicyVersion,
    Threshold,
    timeline_order,
)
from pipeline.retention import require_stored

# Stored and re-derived instants agree when they are within this (stored rows
# keep microseconds, the engine works in nanoseconds).
INSTANT_TOLERANCE = pd.Timedelta(microseconds=1)
SECONDS_TOLERANCE = 1e-3


# --------------------------------------------------------------- evaluations


# The run an audit reads by default: the newest with its rows stored, made by
# `sla evaluate` or a report rather than by `sla audit verify`. A verify's re-run
# judges the data as of an old report's instant: taken by default, an audit after a
# verify read last year's state of every ticket. Verify runs count when no other is left.
LATEST_EVALUATION_SQL = """
SELECT
    (SELECT evaluation_id FROM evaluations
     WHERE pruned_at IS NULL AND ($policy_hash IS NULL OR policy_hash = $policy_hash)
     ORDER BY made_by IS NOT DISTINCT FROM 'verify', evaluation_id DESC
     LIMIT 1),
    (SELECT count(*) FROM evaluations
     WHERE pruned_at IS NOT NULL AND ($policy_hash IS NULL OR policy_hash = $policy_hash))
"""


def latest_evaluation(con: duckdb.DuckDBPyConnection, policy_hash: str | None = None) -> int:
    """The id of the newest evaluation whose result rows are stored (made with
    `policy_hash`, when given), one made by `sla audit verify` only when there is
    no other: a pruned run has nothing left to audit.
    Raises `AuditError` when there is none."""
    row, pruned = con.execute(LATEST_EVALUATION_SQL, {"policy_hash": policy_hash}).fetchall()[0]
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
    # The language its reasons are worded in, which the renderers use too; not
    # part of the audit's data (`as_dict`).
    lang: str = "en"

    @property
    def matches(self) -> bool | None:
        """False when any stored value disagrees; None when no metric has a stored
        row (nothing compared); else True."""
        compared = [m.matches for m in self.metrics if m.matches is not None]
        return all(compared) if compared else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["lang"]
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


def _fraction_digits(seconds: float) -> int:
    """How many decimals (0-6) `seconds` needs to the microsecond: float sums of
    whole seconds (28800.000000001) need none."""
    micro = round(abs(seconds) * 1_000_000) % 1_000_000
    return len(f"{micro:06d}".rstrip("0"))


@dataclass(frozen=True)
class Words:
    """The audit's words in one language (catalogue keys `audit_*`). English keeps
    what the audit always showed: codes quoted as Python writes them, ISO instants,
    plain numbers. Another language says them as its reports do: a value in words
    with its code beside it, dates in words, its own decimal sign. Instants keep
    their seconds and offset either way: the audit is read to the second, and the
    hour the clocks go back occurs twice."""

    m: Messages
    tz: str

    @property
    def english(self) -> bool:
        return self.m.lang == "en"

    def __call__(self, key: str, **values: object) -> str:
        return self.m(f"audit_{key}", **values)

    def at(self, value: Any) -> str | None:
        """An instant (a timestamp or an ISO text) in the report's zone."""
        if self.english or _missing(value):
            # English shows the instants as the audit keeps them.
            return value if isinstance(value, str) else _iso(value, self.tz)
        return self.m.instant(pd.Timestamp(value), self.tz)

    def day(self, value: dt.date) -> str:
        return str(value) if self.english else self.m.date(value)

    def seconds(self, value: float) -> str:
        """Seconds, with the fraction a timestamp's fraction leaves (to the
        microsecond, as stored): rounded to whole seconds, 28,800.4 s read as
        "elapsed 28,800 s ... exceeds the limit by 0 s -> breached"."""
        digits = _fraction_digits(value)
        if self.english:
            return f"{value:,.{digits}f}"
        return self.m.number(value, digits)

    def amount(self, value: float) -> str:
        """A number as the policy states it (8, 4.5, 0.25)."""
        return f"{value:g}" if self.english else self.m.exact(value)

    def code(self, value: Any) -> str:
        """A value of the data in the text (a priority, a calendar's name)."""
        return f"{value!r}" if self.english else self.m("quoted", text=str(value))

    def status(self, value: str) -> str:
        """A ticket status: English its code, quoted; else in words with its code."""
        return f"{value!r}" if self.english else status_named(self.m, value)

    def value(self, field: str, value: Any) -> str:
        """A ticket field's value in words with its code ('kritiek (critical)')."""
        if value is None:
            return self.m("value_unknown")
        words = self.m.word(FIELD_WORDS.get(field, field), str(value))
        return str(value) if words is None else with_code(words, str(value))

    def tier(self, version: PolicyVersion | None, tier: str) -> str:
        if self.english:
            return f"{tier!r}"
        if tier == "unknown":
            return self.m("tier_unknown")
        spec = version.tiers.get(tier) if version is not None else None
        return spec.label if spec else tier  # a tier the policy does not list: its code

    def calendar(self, name: str) -> str:
        return f"{name!r}" if self.english else calendar_named(self.m, name)

    def calendar_label(self, name: str) -> str:
        """A calendar where a line or a list names it ('office'; 'kantoorkalender'):
        the policy's name is English, and the reason beside it gives it anyway."""
        return name if self.english else self.m.calendar(name)

    def reopen_rule(self, rule: str) -> str:
        """The reopen rule: its code, and in another language also what it does (a
        reader without the policy file cannot tell from 'exclude_gaps')."""
        if self.english:
            return rule
        return f"{rule}: {self(f'reopen_rule_{rule}')}"

    def judgement(self, status: str) -> str:
        """A metric's verdict ('met'; 'gehaald (met)')."""
        if self.english:
            return status
        return with_code(self.m.code("status", status), status)

    def judgement_reason(self, rule: str) -> str:
        """Why a row carries no verdict ('tier_without_sla'), in words with its code."""
        words = self.m.code("audit_reason", rule)
        return with_code(words, rule) if words != rule else rule

    def threshold(self, threshold: Threshold, *, clock_time: bool) -> str:
        if self.english:
            return threshold.describe()
        unit = self(f"unit_{'clock_' if clock_time else ''}{threshold.unit}")
        if threshold.target == threshold.limit:
            return self("threshold_one", target=self.amount(threshold.target), unit=unit)
        return self(
            "threshold",
            target=self.amount(threshold.target),
            limit=self.amount(threshold.limit),
            unit=unit,
        )


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
    lang: str = "en",
) -> TicketAudit:
    """Re-derive how an evaluation (default: the latest, with `policy_hash` when
    given) judged one ticket, and compare every re-derived value with the stored row.
    The reasons and the arithmetic are worded in `lang`; every value, instant and
    code of the audit is the same in each language.

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

    say = Words(Messages(lang), tz)
    tier, tier_reason = _tier(con, t, created, say)
    priority, priority_reason = _priority(con, t, as_of, say)
    version, version_reason = _version(policy, info["forced_version"], created, say)
    timeline = _timeline(created, event_rows, as_of)
    stops = _stops(t, timeline, event_rows, created, as_of, say)
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
            say,
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
        lang=lang,
    )


def _tier(
    con: duckdb.DuckDBPyConnection, t: dict[str, Any], created: pd.Timestamp, say: Words
) -> tuple[str, str]:
    """The plan valid at creation, and why (the latest such plan wins, as in eval_scope.sql)."""
    plans = con.execute(
        "SELECT tier, valid_from, valid_to FROM plan_history WHERE customer_id = ? "
        "ORDER BY valid_from",
        [t["customer_id"]],
    ).fetchall()
    tier, reason = "unknown", say("tier_none", customer=t["customer_id"])
    for name, valid_from, valid_to in plans:
        start, end = _utc(valid_from), _utc(valid_to)
        if start is not None and start <= created and (end is None or created < end):
            tier = name
            reason = say(
                "tier_plan",
                customer=t["customer_id"],
                start=say.at(start),
                end=say.at(end) or say("now"),
                created=say.at(created),
            )
    if len(plans) > 1:
        reason += say("tier_plans", n=len(plans))
    return tier, reason


def _priority(
    con: duckdb.DuckDBPyConnection, t: dict[str, Any], as_of: pd.Timestamp, say: Words
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
        return t["priority"], say("priority_export")

    def priority(value: Any) -> str:
        return f"{value!r}" if say.english else say.value("priority", value)

    # At one instant the value first by name; a missing value last.
    at, old, new = min(later, key=lambda c: (c[0], c[1] is None, c[1] or ""))
    change = say("priority_change", new=priority(new), at=say.at(at))
    if old is not None:
        return old, say("priority_before", change=change, shown=priority(t["priority"]))
    earlier = [c for c in changes if c[0] <= as_of]
    if earlier:
        last = max(c[0] for c in earlier)
        known = sorted(c[2] for c in earlier if c[0] == last and c[2] is not None)
        if known:
            return known[0], say("priority_set", at=say.at(last), change=change)
    return t["priority"], say("priority_export_unknown", change=change)


def _version(
    policy: Policy, forced: str | None, created: pd.Timestamp, say: Words
) -> tuple[PolicyVersion | None, str]:
    if forced:
        return policy.version(forced), say("version_forced", version=forced)
    day = created.tz_convert(say.tz).date()
    try:
        version = policy.version_at(day)
    except PolicyError:
        return None, say("version_none", day=say.day(day))
    return version, say(
        "version_in_force",
        version=version.version,
        since=say.day(version.effective_from),
        day=say.day(day),
        tz=say.tz,
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
    say: Words,
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
            why = say("stop_closed_at")
        else:
            field = known(t.get("resolved_at"))
            why = say("stop_resolved_at")
        final = first = (field, why if field is not None else say("stop_not_resolved"))
    else:
        if timeline[-1][2] in RESOLVED_STATUSES:
            end = max([e for _, e, st in timeline if st not in RESOLVED_STATUSES], default=created)
            final = (end, say("stop_final_resolved"))
        else:
            final = (None, say("stop_still", status=say.status(timeline[-1][2])))
        first = (resolved_starts[0], say("stop_first_resolution")) if resolved_starts else final
    replies = [known(e["at"]) for e in events if e["kind"] == "agent_reply"]
    replies = [r for r in replies if r is not None]
    field_reply = known(t.get("first_response_at"))
    if replies or field_reply is not None:
        reply = min([*replies, *([field_reply] if field_reply is not None else [])])
        why = say(
            "stop_first_reply" if replies and reply == min(replies) else "stop_first_response_at"
        )
        first_response = (reply, why)
    elif first[0] is not None:
        first_response = (first[0], say("stop_no_reply", why=first[1]))
    else:
        first_response = (None, say("stop_nothing"))
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
    say: Words,
    *,
    expect: dict[str, Any],
) -> MetricAudit:
    tz = policy.report_timezone
    if version is None or name not in version.metrics:
        # Nothing to re-derive: the evaluation wrote a no-SLA row; show it as stored.
        assert stored is not None
        return _stored_only(name, stored, tz, say)
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
        if say.english:
            match = ", ".join(f"{k}={v}" for k, v in outage.match.items())
        else:
            labels = {k: t.label for k, t in version.tiers.items()}
            match = say.m.join(condition(say.m, k, v, labels) for k, v in outage.match.items())
        calendar_reason = say("calendar_outage", match=match, calendar=say.calendar(calendar_name))
    else:
        calendar_reason = say(
            "calendar_clock" if metric.clock == "clock" else "calendar_working",
            calendar=say.calendar(calendar_name),
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
            say("threshold_outage_none")
            if hours is None
            else say("threshold_outage", hours=say.amount(hours))
        )
        if limit is None:
            no_sla_reason = "outage_line_no_target"
    else:
        threshold = metric.by_priority.get(priority)
        if threshold is not None:
            threshold_reason = say(
                "threshold_priority",
                priority=f"{priority!r}" if say.english else say.value("priority", priority),
                threshold=say.threshold(threshold, clock_time=clock_time),
            )
        else:
            threshold = metric.targets[judged_as]
            threshold_reason = say(
                "threshold_tier",
                tier=say.tier(version, judged_as),
                threshold=say.threshold(threshold, clock_time=clock_time),
            )
        if not has_sla:
            threshold_reason += say(
                "threshold_benchmark",
                tier=say.tier(version, tier),
                benchmark=say.tier(version, metric.benchmark_tier),
            )
        if threshold.unit == "days":
            threshold_reason += say(
                "threshold_day_clock" if clock_time else "threshold_day",
                calendar=say.calendar(calendar_name),
                seconds=f"{cal.working_day_seconds:,}"
                if say.english
                else say.seconds(cal.working_day_seconds),
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
        stop_reason = say("stop_reopen_rule", why=why, rule=say.reopen_rule("first_resolution"))
    else:
        stop, why = stops["final"]
        stop_reason = say("stop_reopen_rule", why=why, rule=say.reopen_rule("exclude_gaps"))
    if stop is not None and stop < created:
        stop_reason += say("stop_before_creation", at=say.at(stop))
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
            note = say("note_paused", status=say.status(status))
        elif status in RESOLVED_STATUSES:
            kind, gap = "gap", gap + seconds
            note = say("note_gap")
        else:
            kind, elapsed = "elapsed", elapsed + seconds
            note = say("note_elapsed")
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
            cycle_note = say("later_cycle", seconds=say.seconds(worst))
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
        # Never a month before creation (a ticket created at the as-of instant).
        month_at = max(as_of - pd.Timedelta(1, "ns"), created)
    month = month_at.tz_convert(tz).strftime("%Y-%m")

    spans = cal.open_spans(created, end)
    first_day = created.tz_convert(cal.timezone).date()
    last_day = end.tz_convert(cal.timezone).date()
    if say.english:
        holidays = cal.holidays_between(first_day, last_day)
    else:
        # The holidays' own names in the reader's language, where the package has it.
        holidays = cal.holidays_between(
            first_day, last_day, language=say.m.lang, closed_date=say.m("closed_date")
        )
    closed = [(d.isoformat(), n) for d, n in holidays]
    closed += [
        (span, label if say.english else say(f"exception_{label}"))
        for span, label in cal.exceptions_between(first_day, last_day)
    ]
    total = elapsed + paused + gap
    counted = "clock" if clock_time else "working"
    arithmetic = say(
        f"arithmetic_{counted}_{'stop' if stop is not None else 'as_of'}",
        total=say.seconds(total),
        paused=say.seconds(paused),
        gap=say.seconds(gap),
        elapsed=say.seconds(elapsed),
        hours=f"{elapsed / 3600:,.2f}" if say.english else say.m.number(elapsed / 3600, 2),
    )
    if limit is not None and target is not None:
        arithmetic += say(
            "arithmetic_within_target"
            if elapsed <= target
            else "arithmetic_within_limit"
            if elapsed <= limit
            else "arithmetic_over_limit",
            target=say.seconds(target),
            limit=say.seconds(limit),
            late=say.seconds(elapsed - limit),
        )
    if excluded_by is not None:
        # Which field and value matched, not only the rule's name.
        wanted = excluded_by.value
        shown = str(wanted).lower() if isinstance(wanted, bool) else wanted
        if say.english:
            rule_text = f"{rule}: {excluded_by.field} = {shown}"
        else:
            labels = {k: t.label for k, t in version.tiers.items()}
            rule_text = say(
                "rule", rule=rule, condition=condition(say.m, excluded_by.field, wanted, labels)
            )
    elif say.english or rule is None:
        rule_text = rule
    else:
        rule_text = say.judgement_reason(rule)
    arithmetic += cycle_note + say("arithmetic_status", status=say.judgement(status))
    arithmetic += say("arithmetic_rule", rule=rule_text) if rule else ""
    if benchmark:
        arithmetic += say("arithmetic_benchmark", status=say.judgement(benchmark))
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


def _stored_only(name: str, stored: dict[str, Any], tz: str, say: Words) -> MetricAudit:
    rule = stored.get("exclusion_rule")
    if rule and not say.english:
        rule = say.judgement_reason(rule)
    reason = rule or say("no_rule")
    return MetricAudit(
        metric=name,
        calendar=stored["calendar"],
        calendar_reason=say("as_stored"),
        threshold_reason=say("no_version_measures", reason=reason),
        clock_start=_iso(stored["clock_start"], tz) or "",
        clock_stop=_iso(stored["clock_stop"], tz),
        stop_reason=say("as_stored"),
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
        arithmetic=say("not_judged", reason=reason),
        stored=_shown(stored, tz),
        checks=(),
    )


# ------------------------------------------------------------- rendering


def audit_renderables(audit: TicketAudit) -> list[Any]:
    """The audit as rich renderables (tables and text), for the terminal, in the
    language it was made in."""
    from rich.table import Table
    from rich.text import Text

    say = Words(Messages(audit.lang), audit.report_timezone)
    show = _Shown(say)
    out: list[Any] = [
        Text(
            say(
                "title",
                ticket=audit.ticket_id,
                evaluation=audit.evaluation_id,
                as_of=say.at(audit.as_of),
                policy=audit.policy_hash[:12],
                tz=audit.report_timezone,
            ),
            style="bold",
        ),
        Text(
            say(
                "created",
                created=show.instant(audit.ticket.get("created_at")),
                customer=audit.ticket.get("customer_id"),
                channel=show.field("channel", audit.ticket.get("channel")),
            )
        ),
        Text(say("tier_line", tier=show.tier(audit.tier), reason=audit.tier_reason)),
        Text(
            say(
                "priority_line",
                priority=show.field("priority", audit.priority),
                reason=audit.priority_reason,
            )
        ),
        Text(say("policy_line", version=show.version(audit), reason=audit.version_reason)),
    ]
    events = Table(title=say("events_title"), title_justify="left")
    for column in ("at", "kind", "old", "new", "actor"):
        events.add_column(say(f"col_{column}"))
    for e in audit.events:
        events.add_row(*show.event(e))
    out.append(events)
    for m in audit.metrics:
        benchmark = (
            say("benchmark", status=say.judgement(m.benchmark_status)) if m.benchmark_status else ""
        )
        out.append(
            Text(
                "\n"
                + say("metric_line", metric=show.metric(m.metric), status=say.judgement(m.status))
                + benchmark,
                style="bold",
            )
        )
        out += [
            Text(
                "  "
                + say(
                    "calendar_line",
                    calendar=say.calendar_label(m.calendar),
                    reason=m.calendar_reason,
                )
            ),
            Text("  " + say("threshold_line", reason=m.threshold_reason)),
            Text(
                "  "
                + say(
                    "clock_line",
                    start=say.at(m.clock_start),
                    stop=say.at(m.clock_stop) or say("still_running"),
                    reason=m.stop_reason,
                )
            ),
        ]
        segments = Table(title="  " + say("segments_title"), title_justify="left")
        # On a calendar open around the clock, its seconds are clock seconds.
        counted = say("col_clock_s" if m.clock_time else "col_working_s")
        for column in ("from", "to", "status", "counted_as"):
            segments.add_column(say(f"col_{column}"))
        segments.add_column(counted, justify="right")
        for x in m.segments:
            segments.add_row(
                say.at(x.start),
                say.at(x.end),
                show.status(x.status),
                show.counted(x.counted_as),
                say.seconds(x.working_seconds),
            )
        out.append(segments)
        spans = "  " + say(
            "spans_one" if len(m.open_spans) == 1 else "spans",
            calendar=say.calendar_label(m.calendar),
            n=len(m.open_spans),
            seconds=say.seconds(sum(x.seconds for x in m.open_spans)),
        )
        if m.open_spans and len(m.open_spans) <= 12:
            spans += " (" + "; ".join(show.span(x.start, x.end) for x in m.open_spans) + ")"
        out.append(Text(spans))
        if m.closed_days:
            closed = ", ".join(show.closed(d, n) for d, n in m.closed_days)
            out.append(Text("  " + say("closed_line", closed=closed)))
        out += [
            Text(
                "  "
                + say(
                    "deadline_line",
                    deadline=say.at(m.deadline) or say("deadline_none"),
                    month=m.month if say.english else say.m.month(m.month),
                )
            ),
            Text(f"  {m.arithmetic}"),
        ]
        if m.stored is None:
            out.append(Text("  " + say("no_stored_row")))
        elif m.matches:
            out.append(Text("  " + say("reproduced"), style="green"))
        else:
            table = Table(title="  " + say("differs_title"), title_style="bold red")
            for column in ("field", "derived", "stored"):
                table.add_column(say(f"col_{column}"))
            for c in m.checks:
                if not c.agrees:
                    table.add_row(
                        c.field, show.checked(c.field, c.derived), show.checked(c.field, c.stored)
                    )
            out.append(table)
    return out


@dataclass(frozen=True)
class _Shown:
    """The audit's values as the renderers show them: in English as stored (codes,
    ISO instants); in another language in words with the code beside them."""

    say: Words

    def instant(self, value: Any) -> str:
        return str(value) if self.say.english else (self.say.at(value) or "")

    def field(self, field: str, value: Any) -> str:
        return str(value) if self.say.english else self.say.value(field, value)

    def tier(self, tier: str) -> str:
        if self.say.english:
            return tier
        return self.say.m("tier_unknown") if tier == "unknown" else tier.capitalize()

    def version(self, audit: TicketAudit) -> str:
        if self.say.english or audit.policy_version != "none in force":
            return audit.policy_version
        return self.say("version_none_in_force")

    def metric(self, metric: str) -> str:
        if self.say.english:
            return metric
        return self.say.m(metric) if metric in METRICS else metric

    def status(self, status: str) -> str:
        return status if self.say.english else self.say.status(status)

    def counted(self, kind: str) -> str:
        return kind if self.say.english else self.say(f"counted_{kind}")

    def day(self, value: str) -> str:
        """A closed day ('2026-12-25'), or a span of hours as the calendar gives it."""
        if self.say.english or len(value) != 10:
            return value
        return self.say.day(dt.date.fromisoformat(value))

    def closed(self, day: str, name: str) -> str:
        """A closed day with its name, in the reader's order ('2026-05-14 Ascension
        Day'; 'Hemelvaartsdag (14 mei 2026)': in a list of them, a Dutch date run
        into the name read as one)."""
        return self.say("closed_day", day=self.day(day), name=name)

    def event(self, e: dict[str, Any]) -> tuple[str, ...]:
        cells = (e["at"], e["kind"], e["old"], e["new"], e["actor"])
        if self.say.english:
            return tuple(str(x or "") for x in cells)
        field = {"status_change": "ticket_status", "priority_change": "priority"}.get(e["kind"])

        def value(x: Any) -> str:
            if x is None:
                return ""
            if field == "ticket_status":
                return self.say.status(x)
            return self.say.value(field, x) if field else str(x)

        kind = self.say.m.word("event_kind", e["kind"]) or e["kind"]
        actor = e["actor"] and (self.say.m.word("actor", e["actor"]) or e["actor"])
        return (self.say.at(e["at"]) or "", kind, value(e["old"]), value(e["new"]), actor or "")

    def span(self, start: str, end: str) -> str:
        """An open span of the calendar; the end's date only when it runs into
        another day."""
        if self.say.english:
            return f"{start[:11]}{_clock(start)}.." + (
                _clock(end) if end[:10] == start[:10] else end[:11] + _clock(end)
            )
        first = self.say.m.short_date(dt.date.fromisoformat(start[:10]))
        last = _clock(end) if end[:10] == start[:10] else self.say.at(end)
        return f"{first} {_clock(start)}–{last}"

    def checked(self, field: str, value: Any) -> str:
        """A re-derived or stored value of the checks, beside its column's name: a
        code in words with the code itself beside them."""
        if self.say.english:
            return str(value)
        if value is None:
            return "–"
        if field in ("status", "benchmark_status"):
            return self.say.judgement(value)
        if field == "exclusion_rule":
            return self.say.judgement_reason(value)
        if field in ("priority", "channel", "cause_domain"):
            return self.say.value(field, value)
        if field == "tier":
            return with_code(self.tier(value), value)
        if field == "calendar":
            return calendar_named(self.say.m, value)
        if field == "month":
            return self.say.m.month(value)
        if isinstance(value, bool):
            return self.say.m("yes" if value else "no")
        if isinstance(value, float | int):
            return self.say.m.exact(value)
        if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
            return self.say.at(value) or value
        return str(value)


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
    """The audit as one self-contained HTML page in the language it was made in
    (Jinja2, autoescaped: ticket text is data, not markup)."""
    from pipeline.report_monthly import _environment

    say = Words(Messages(audit.lang), audit.report_timezone)
    template = _environment().get_template("audit.html.j2")
    return template.render(a=audit, m=say.m, say=say, show=_Shown(say))
