"""Audits: one ticket's judgement re-derived step by step, the breach register,
and the verification of a rendered report against the warehouse.

The ticket audit does not read the stored result to explain it: it walks the
ticket's history again, one segment at a time, with the policy document stored
with the evaluation and the evaluation's as-of instant, and then compares its
arithmetic with the stored row. Any difference is shown, never hidden.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipeline.errors import AuditError
from pipeline.policy import RESOLVED_STATUSES, Policy

IMPLIED = {"resolve": "resolved", "reopen": "open", "close": "closed"}
FORMULA_START = ("=", "+", "-", "@")


# --------------------------------------------------------------- evaluations


def latest_evaluation(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT max(evaluation_id) FROM evaluations").fetchall()[0][0]
    if row is None:
        raise AuditError("no evaluation in this warehouse yet: run sla evaluate first")
    return int(row)


def evaluation_info(con: duckdb.DuckDBPyConnection, evaluation_id: int) -> dict:
    rows = con.execute(
        "SELECT evaluation_id, policy_hash, policy_document, as_of, month_from, month_to, "
        "forced_version, input_fingerprint FROM evaluations WHERE evaluation_id = ?",
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
    )
    return dict(zip(keys, rows[0], strict=True))


def policy_of(info: dict) -> Policy:
    """The policy exactly as the evaluation used it (stored as JSON with the run)."""
    return Policy.from_dict(
        json.loads(info["policy_document"]), source=f"evaluation #{info['evaluation_id']}"
    )


# ------------------------------------------------------------- ticket audit


@dataclass(frozen=True)
class Segment:
    start: str
    end: str
    status: str
    counted_as: str  # elapsed | paused | gap
    working_seconds: float


@dataclass(frozen=True)
class MetricAudit:
    metric: str
    calendar: str
    clock_start: str
    clock_stop: str | None
    segments: tuple[Segment, ...]
    open_spans: tuple[tuple[str, str, float], ...]
    closed_days: tuple[tuple[str, str], ...]  # holidays, closed dates, closures, openings
    elapsed: float
    paused: float
    gap: float
    target_seconds: float | None
    limit_seconds: float | None
    deadline: str | None
    stored: dict
    matches: bool
    arithmetic: str


@dataclass(frozen=True)
class TicketAudit:
    ticket_id: str
    evaluation_id: int
    as_of: str
    policy_hash: str
    policy_version: str
    version_reason: str
    tier: str
    tier_reason: str
    ticket: dict
    events: tuple[dict, ...]
    metrics: tuple[MetricAudit, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


def _iso(value: Any, tz: str) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).tz_convert(tz).isoformat()


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def audit_ticket(
    con: duckdb.DuckDBPyConnection, ticket_id: str, *, evaluation_id: int | None = None
) -> TicketAudit:
    """Re-derive how an evaluation judged one ticket. Raises `AuditError` for an
    unknown ticket or evaluation."""
    evaluation_id = evaluation_id or latest_evaluation(con)
    info = evaluation_info(con, evaluation_id)
    policy = policy_of(info)
    tz = policy.report_timezone
    as_of = pd.Timestamp(info["as_of"]).tz_convert("UTC")
    tickets = con.execute("SELECT * FROM tickets WHERE ticket_id = ?", [ticket_id]).df()
    if tickets.empty:
        raise AuditError(f"no ticket {ticket_id!r} in this warehouse")
    stored = con.execute(
        "SELECT * FROM sla_results WHERE evaluation_id = ? AND ticket_id = ? ORDER BY metric",
        [evaluation_id, ticket_id],
    ).df()
    if stored.empty:
        raise AuditError(
            f"ticket {ticket_id!r} has no result in evaluation #{evaluation_id} (it counts in a "
            "month outside that run, or was created after its as-of instant); "
            "pick another run with --evaluation"
        )
    t = tickets.iloc[0].to_dict()
    created = pd.Timestamp(t["created_at"]).tz_convert("UTC")
    events = con.execute(
        'SELECT "at", kind, old_value, new_value, actor_type FROM ticket_events '
        'WHERE ticket_id = ? AND "at" <= ? ORDER BY "at", kind',
        [ticket_id, as_of.to_pydatetime()],
    ).df()
    plans = con.execute(
        "SELECT tier, valid_from, valid_to FROM plan_history WHERE customer_id = ? "
        "ORDER BY valid_from",
        [t["customer_id"]],
    ).df()
    tier, tier_reason = "unknown", f"no plan of customer {t['customer_id']} covers the creation"
    for p in plans.itertuples():
        if p.valid_from <= created and (pd.isna(p.valid_to) or created < p.valid_to):
            tier = p.tier
            tier_reason = (
                f"plan of customer {t['customer_id']} valid from {_iso(p.valid_from, tz)}"
                f" to {_iso(p.valid_to, tz) or 'now'} covers the creation at {_iso(created, tz)}"
            )
    version = (
        policy.version(info["forced_version"])
        if info["forced_version"]
        else policy.version_at(created.tz_convert(tz).date())
    )
    version_reason = (
        f"forced for every ticket: {version.version}"
        if info["forced_version"]
        else f"version {version.version} is in force from {version.effective_from}, the "
        f"latest on or before the creation date {created.tz_convert(tz).date()}"
    )
    # The status timeline, as the evaluation saw it.
    points: list[tuple[pd.Timestamp, str]] = [(created, "new")]
    for e in events.itertuples():
        status = e.new_value if e.kind == "status_change" else IMPLIED.get(e.kind)
        if status is None:
            continue
        at = max(pd.Timestamp(e.at).tz_convert("UTC"), created)
        if points[-1][0] == at and len(points) > 1:
            continue
        points.append((at, status))
    timeline = [
        (at, points[i + 1][0] if i + 1 < len(points) else as_of, status)
        for i, (at, status) in enumerate(points)
    ]
    metrics = []
    for row in stored.itertuples():
        metrics.append(_audit_metric(policy, version, row, timeline, created, as_of, t, tz))
    return TicketAudit(
        ticket_id=ticket_id,
        evaluation_id=evaluation_id,
        as_of=as_of.tz_convert(tz).isoformat(),
        policy_hash=info["policy_hash"],
        policy_version=version.version,
        version_reason=version_reason,
        tier=tier,
        tier_reason=tier_reason,
        ticket={k: (_iso(v, tz) if isinstance(v, pd.Timestamp) else v) for k, v in t.items()},
        events=tuple(
            {
                "at": _iso(e.at, tz),
                "kind": e.kind,
                "old": e.old_value,
                "new": e.new_value,
                "actor": e.actor_type,
            }
            for e in events.itertuples()
        ),
        metrics=tuple(metrics),
    )


def _audit_metric(policy, version, row, timeline, created, as_of, ticket, tz) -> MetricAudit:
    cal = policy.calendar(row.calendar)
    metric = version.metrics[row.metric]
    stop = None if pd.isna(row.clock_stop) else pd.Timestamp(row.clock_stop).tz_convert("UTC")
    end = stop if stop is not None else as_of
    segments, elapsed, paused, gap = [], 0.0, 0.0, 0.0
    active: list[tuple[pd.Timestamp, float]] = []
    for start, finish, status in timeline:
        s, e = max(start, created), min(finish, end)
        if e <= s:
            continue
        seconds = float(cal.working_seconds(s, e))
        if status in metric.pause_statuses:
            kind, paused = "paused", paused + seconds
        elif status in RESOLVED_STATUSES:
            kind, gap = "gap", gap + seconds
        else:
            kind, elapsed = "elapsed", elapsed + seconds
            active.append((s, seconds))
        segments.append(Segment(_iso(s, tz), _iso(e, tz), status, kind, seconds))
    limit = None if pd.isna(row.limit_seconds) else float(row.limit_seconds)
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
    spans = cal.open_spans(created, end)
    first_day = created.tz_convert(cal.timezone).date()
    last_day = end.tz_convert(cal.timezone).date()
    closed = [(d.isoformat(), name) for d, name in cal.holidays_between(first_day, last_day)]
    closed += cal.exceptions_between(first_day, last_day)
    stored = {
        "elapsed_working_seconds": float(row.elapsed_working_seconds),
        "paused_working_seconds": float(row.paused_working_seconds),
        "gap_working_seconds": float(row.gap_working_seconds),
        "deadline": _iso(row.deadline, tz),
        "status": row.status,
        "benchmark_status": row.benchmark_status,
        "exclusion_rule": row.exclusion_rule,
        "month": row.month,
    }
    matches = (
        abs(stored["elapsed_working_seconds"] - elapsed) < 1e-3
        and abs(stored["paused_working_seconds"] - paused) < 1e-3
        and abs(stored["gap_working_seconds"] - gap) < 1e-3
        and stored["deadline"] == _iso(deadline, tz)
    )
    total = elapsed + paused + gap
    compare = ""
    if limit is not None:
        target = float(row.target_seconds)
        compare = f"; target {target:,.0f} s, limit {limit:,.0f} s: elapsed " + (
            "<= target"
            if elapsed <= target
            else "<= limit"
            if elapsed <= limit
            else f"exceeds the limit by {elapsed - limit:,.0f} s"
        )
    arithmetic = (
        f"working time from clock start to {'stop' if stop is not None else 'as-of'} "
        f"{total:,.0f} s - paused {paused:,.0f} s - reopen gaps {gap:,.0f} s "
        f"= elapsed {elapsed:,.0f} s ({elapsed / 3600:,.2f} working hours){compare}"
        f" -> {row.status}"
        + (f" ({row.exclusion_rule})" if isinstance(row.exclusion_rule, str) else "")
    )
    return MetricAudit(
        metric=row.metric,
        calendar=row.calendar,
        clock_start=_iso(created, tz),
        clock_stop=_iso(stop, tz),
        segments=tuple(segments),
        open_spans=tuple(
            (_iso(s.start, tz), _iso(s.end, tz), float(s.seconds)) for s in spans.itertuples()
        ),
        closed_days=tuple(closed),
        elapsed=elapsed,
        paused=paused,
        gap=gap,
        target_seconds=None if pd.isna(row.target_seconds) else float(row.target_seconds),
        limit_seconds=limit,
        deadline=_iso(deadline, tz),
        stored=stored,
        matches=matches,
        arithmetic=arithmetic,
    )


def render_audit_text(audit: TicketAudit) -> str:
    """The audit as plain text for the terminal."""
    lines = [
        f"Ticket {audit.ticket_id} in evaluation #{audit.evaluation_id} "
        f"(as of {audit.as_of}, policy {audit.policy_hash[:12]})",
        f"  created {audit.ticket['created_at']}, customer {audit.ticket['customer_id']}, "
        f"priority {audit.ticket['priority']}, channel {audit.ticket['channel']}",
        f"  tier {audit.tier}: {audit.tier_reason}",
        f"  policy {audit.policy_version}: {audit.version_reason}",
        "  events:",
        *(
            f"    {e['at']}  {e['kind']:<15} {e['old'] or ''} -> {e['new'] or ''}"
            for e in audit.events
        ),
    ]
    for m in audit.metrics:
        lines += [
            f"  {m.metric} (calendar {m.calendar}): clock {m.clock_start} -> "
            f"{m.clock_stop or 'still running'}",
            *(
                f"    {s.start} .. {s.end}  {s.status:<22} {s.counted_as:<8} "
                f"{s.working_seconds:>10,.0f} s"
                for s in m.segments
            ),
            f"    open spans counted: {len(m.open_spans)}, "
            f"{sum(x[2] for x in m.open_spans):,.0f} s"
            + (
                f"; closed days: {', '.join(f'{d} {n}' for d, n in m.closed_days)}"
                if m.closed_days
                else ""
            ),
            f"    deadline {m.deadline or '-'}",
            f"    {m.arithmetic}",
            f"    stored result {'reproduced' if m.matches else 'DIFFERS'}: {m.stored}",
        ]
    return "\n".join(lines)


# ------------------------------------------------------------ breach register


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def breach_register(
    con: duckdb.DuckDBPyConnection,
    *,
    month_from: str,
    month_to: str,
    tier: str | None = None,
    evaluation_id: int | None = None,
) -> pd.DataFrame:
    """One row per breached ticket and metric, with all it takes to check it by hand."""
    evaluation_id = evaluation_id or latest_evaluation(con)
    info = evaluation_info(con, evaluation_id)
    covered_from, covered_to = info["month_from"], info["month_to"]
    if (covered_from and month_from < covered_from) or (covered_to and month_to > covered_to):
        raise AuditError(
            f"evaluation #{evaluation_id} covers {covered_from or 'all months'} to "
            f"{covered_to or 'now'}, not {month_from} to {month_to}: run "
            f"sla evaluate --from {month_from} --to {month_to} first, or pass --evaluation"
        )
    tz = policy_of(info).report_timezone
    frame = con.execute(
        "SELECT r.evaluation_id, r.ticket_id, r.customer_id, r.tier, r.metric, r.status, "
        "r.priority, r.channel, r.policy_version, r.policy_hash, r.calendar, r.clock_start, "
        "r.clock_stop, r.deadline, r.elapsed_working_seconds, r.paused_working_seconds, "
        "r.gap_working_seconds, r.target_seconds, r.limit_seconds, r.late_working_seconds, "
        "r.month, t.subject FROM sla_results r LEFT JOIN tickets t USING (ticket_id) "
        "WHERE r.evaluation_id = ? AND r.month BETWEEN ? AND ? AND r.has_sla "
        "AND r.status IN ('breached', 'open_breached') AND (? IS NULL OR r.tier = ?) "
        "ORDER BY r.month, r.ticket_id, r.metric",
        [evaluation_id, month_from, month_to, tier, tier],
    ).df()
    for col in ("clock_start", "clock_stop", "deadline"):
        utc = pd.to_datetime(frame[col], utc=True)
        frame[f"{col}_utc"] = utc
        frame[f"{col}_local"] = utc.dt.tz_convert(tz)
        frame = frame.drop(columns=col)
    frame["subject"] = frame["subject"].map(neutralise)
    return frame


def export_register(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """CSV (ISO with offsets), XLSX (naive cells: *_utc in UTC, *_local in local
    time), Parquet (tz-aware), or HTML."""
    path = Path(path)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "csv":
        out = frame.copy()
        for col in out.columns:
            if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                out[col] = out[col].map(lambda v: v.isoformat() if pd.notna(v) else "")
        out.to_csv(path, index=False)
    elif fmt == "xlsx":
        out = frame.copy()
        for col in out.columns:
            if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                out[col] = out[col].dt.tz_localize(None)
        out.to_excel(path, index=False)
    elif fmt == "html":
        path.write_text(frame.to_html(index=False, escape=True), "utf-8")
    else:
        raise AuditError(f"unknown format {fmt!r}: csv, xlsx, parquet or html")
    return path


# ------------------------------------------------------------- verification


@dataclass(frozen=True)
class Verification:
    reproduced: bool
    differences: tuple[str, ...]
    reasons: tuple[str, ...]
    new_evaluation_id: int | None


def verify_manifest(con: duckdb.DuckDBPyConnection, manifest_path: str | Path) -> Verification:
    """Re-evaluate from the warehouse under the manifest's policy and as-of
    instant, and compare every figure's hash with the manifest's."""
    from pipeline.evaluate import evaluate, input_fingerprint
    from pipeline.report_monthly import _figure_hash, _months_back, build_context
    from pipeline.report_sales import build_customer_context, build_tiers_context, sales_figures

    path = Path(manifest_path)
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise AuditError(f"no such manifest: {path}") from None
    except json.JSONDecodeError as exc:
        raise AuditError(f"{path} is not a manifest (invalid JSON: {exc})") from None
    rows = con.execute(
        "SELECT policy_document, policy_hash FROM evaluations WHERE policy_hash = ? LIMIT 1",
        [manifest.get("policy_hash")],
    ).fetchall()
    if not rows:
        raise AuditError(
            f"{path}: no evaluation in this warehouse used policy "
            f"{str(manifest.get('policy_hash'))[:12]}: the manifest comes from another "
            "warehouse, or its policy was never run here"
        )
    policy = Policy.from_dict(json.loads(rows[0][0]), source="manifest policy")
    month = manifest.get("month")
    loads = con.execute(
        "SELECT sha256, path FROM loads WHERE finished_at IS NOT NULL AND NOT unchanged"
    ).fetchall()
    reasons = []
    now_fingerprint = input_fingerprint([{"sha256": r[0]} for r in loads])
    if now_fingerprint != manifest.get("input_fingerprint"):
        known = {i["sha256"] for i in manifest.get("inputs", [])}
        new = sorted({r[1] for r in loads if r[0] not in known})
        reasons.append(
            "new data loaded since the report: " + ", ".join(new)
            if new
            else "the loaded inputs differ from the report's"
        )
    kind = manifest.get("report", "monthly")
    if kind == "monthly":
        first, last = _months_back(month, 12)[0], month
    else:
        first, last = manifest["month_from"], manifest["month_to"]
    run = evaluate(con, policy, month_from=first, month_to=last, as_of=manifest["as_of"])
    if kind == "monthly":
        context = build_context(con, month, policy=policy, evaluation_id=run.evaluation_id)
        now = {f"{c.tier}/{c.metric}": _figure_hash(c) for c in context.cells}
    elif kind == "tiers":
        now = sales_figures(
            build_tiers_context(con, first, last, policy=policy, evaluation_id=run.evaluation_id)
        )
    elif kind == "customer":
        now = sales_figures(
            build_customer_context(
                con,
                manifest["customer_id"],
                first,
                last,
                policy=policy,
                evaluation_id=run.evaluation_id,
            )
        )
    else:
        raise AuditError(f"{path}: unknown report kind {kind!r}")
    before = manifest.get("figures", {})

    def what(key: str) -> str:
        if key not in now:
            return "missing now"
        return "missing in the manifest" if key not in before else "changed"

    differences = tuple(
        f"{key}: {what(key)}"
        for key in sorted(set(now) | set(before))
        if now.get(key) != before.get(key)
    )
    return Verification(not differences, differences, tuple(reasons), run.evaluation_id)
