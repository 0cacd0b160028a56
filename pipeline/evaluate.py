"""Per-ticket SLA evaluation: every ticket, every metric, from its raw history.

The evaluation reads the warehouse as it was known at an instant (`as_of`:
events after it are ignored), judges each ticket by the policy version in force
when it was created (or by one forced version), and writes one row per ticket
and metric to `sla_results` under a new evaluation id. Loaded data is never
touched, earlier runs are never overwritten.

How a metric is measured (see docs/policy.md):

- the clock starts at creation; it stops at the first agent reply (first
  response) or at the final resolution (resolution; with the `first_resolution`
  rule, at the first one);
- the status timeline splits [start, stop) into segments; segments in a pause
  status count as paused, segments between a resolution and the next reopen
  count as gaps, the rest is elapsed time; each is measured in working time of
  the ticket's calendar, so only the working-time overlap of a pause is taken
  off;
- the deadline is the instant the elapsed time reaches the limit, found in the
  segment where the running total crosses it (or, when the total stays below
  it, by adding the remainder after the clock end).

All of it runs over whole columns: DuckDB builds the timeline, numpy measures
it through the working-time engine, grouped by calendar, never per ticket.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipeline import __version__
from pipeline.errors import EvaluationError
from pipeline.instants import NAT_NS
from pipeline.policy import METRICS, RESOLVED_STATUSES, Policy

NS = 10**9
RESULT_COLUMNS = (
    "ticket_id",
    "metric",
    "customer_id",
    "tier",
    "has_sla",
    "priority",
    "channel",
    "outage_line",
    "out_of_hours",
    "cause_domain",
    "billable",
    "policy_version",
    "policy_hash",
    "calendar",
    "clock_start",
    "clock_stop",
    "elapsed_working_seconds",
    "paused_working_seconds",
    "gap_working_seconds",
    "reopens",
    "target_seconds",
    "limit_seconds",
    "deadline",
    "status",
    "benchmark_status",
    "exclusion_rule",
    "late_working_seconds",
    "month",
)


@dataclass(frozen=True)
class EvaluationRun:
    """One evaluation: its id (None when not stored) and its result rows."""

    evaluation_id: int | None
    policy: Policy
    as_of: pd.Timestamp
    month_from: str | None
    month_to: str | None
    forced_version: str | None
    tickets_evaluated: int
    results: pd.DataFrame


def read_sql(name: str) -> str:
    """The text of `pipeline/sql/<name>`."""
    return resources.files("pipeline.sql").joinpath(name).read_text("utf-8")


def _ns(values: Any) -> np.ndarray:
    """A timestamp column (any unit, tz-aware or UTC-naive) -> int64 UTC ns, NAT_NS missing."""
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        index = index.tz_localize("UTC")
    return index.tz_convert("UTC").as_unit("ns").asi8.copy()


def _timestamps(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def _month_of(ns: np.ndarray, tz: str) -> np.ndarray:
    """'YYYY-MM' of each instant in zone `tz` (None where missing)."""
    out = np.full(len(ns), None, dtype=object)
    ok = ns != NAT_NS
    if ok.any():
        local = _timestamps(ns[ok]).tz_convert(tz)
        code = local.year.to_numpy() * 100 + local.month.to_numpy()
        uniques, inverse = np.unique(code, return_inverse=True)
        labels = np.array([f"{c // 100:04d}-{c % 100:02d}" for c in uniques], dtype=object)
        out[ok] = labels[inverse]
    return out


# --------------------------------------------------------------------- rules


def _ticket_rules(scope: pd.DataFrame, policy: Policy, version_idx: np.ndarray) -> pd.DataFrame:
    """Per ticket and metric: calendar, thresholds, SLA flags and exclusions.

    The rules depend only on a few columns (version, tier, priority, the outage
    match and the exclusion fields), so they are decided once per distinct
    combination and joined back, not once per ticket."""
    fields = {"tier", "priority", "channel"}
    for v in policy.versions:
        if v.outage_line is not None:
            fields |= set(v.outage_line.match)
        for m in v.metrics.values():
            fields |= {e.field for e in m.exclude}
    missing = fields - set(scope.columns)
    if missing:
        raise EvaluationError(f"the policy refers to unknown ticket fields: {sorted(missing)}")
    keys = scope[sorted(fields)].copy()
    keys["_v"] = version_idx
    combos = keys.drop_duplicates().reset_index(drop=True)
    rows = []
    for combo in combos.to_dict("records"):
        for metric in METRICS:
            rows.append({**combo, "metric": metric, **_rule_for(combo, metric, policy)})
    rules = pd.DataFrame(rows)
    keyed = keys.reset_index(names="_tix")
    merged = keyed.merge(rules, on=[*sorted(fields), "_v"], how="left", sort=False)
    return merged.sort_values(["metric", "_tix"], kind="stable").reset_index(drop=True)


def _matches(combo: dict, match: dict) -> bool:
    return all(combo.get(k) == v for k, v in match.items())


def _rule_for(combo: dict, metric_name: str, policy: Policy) -> dict:
    vi = combo["_v"]
    if vi < 0:
        return _no_rule("no_policy_in_force", "-", policy.versions[0].metrics)
    version = policy.versions[vi]
    if metric_name not in version.metrics:
        return _no_rule("metric_not_in_policy", version.version, version.metrics)
    metric = version.metrics[metric_name]
    tier = version.tiers.get(combo["tier"])
    has_sla = bool(tier and tier.has_sla and combo["tier"] in metric.targets)
    outage = version.outage_line
    on_outage = bool(outage and _matches(combo, outage.match))
    use_outage = on_outage and metric_name in outage.applies_to
    calendar = outage.calendar if use_outage else metric.calendar_name
    reason = None
    if use_outage and metric_name == "first_response":
        hours = outage.first_response_target_hours
        target = limit = None if hours is None else hours * 3600.0
        if hours is None:
            reason = "outage_line_no_target"
    else:
        threshold = (
            metric.by_priority.get(combo.get("priority"))
            or metric.targets[combo["tier"] if has_sla else metric.benchmark_tier]
        )
        target, limit = policy.threshold_seconds(metric, threshold, calendar)
    excluded = next(
        (e.rule for e in metric.exclude if _field_equals(combo.get(e.field), e.value)), None
    )
    if reason is None and not has_sla:
        reason = "tier_without_sla" if tier else "no_plan_at_creation"
    return {
        "policy_version": version.version,
        "calendar": calendar,
        "target_seconds": target,
        "limit_seconds": limit,
        "has_sla": has_sla,
        "outage_line": on_outage,
        "billable_domain": outage.billable_cause_domain if on_outage else None,
        "excluded_by": excluded,
        "no_sla_reason": reason,
        "pause_statuses": metric.pause_statuses,
        "reopen_rule": metric.reopen_rule,
        "at_risk_share": metric.at_risk_share,
        "office_calendar": version.metrics[METRICS[0]].calendar_name
        if METRICS[0] in version.metrics
        else metric.calendar_name,
    }


def _no_rule(reason: str, version: str, metrics: dict) -> dict:
    any_metric = next(iter(metrics.values()))
    return {
        "policy_version": version,
        "calendar": any_metric.calendar_name,
        "target_seconds": None,
        "limit_seconds": None,
        "has_sla": False,
        "outage_line": False,
        "billable_domain": None,
        "excluded_by": None,
        "no_sla_reason": reason,
        "pause_statuses": (),
        "reopen_rule": "exclude_gaps",
        "at_risk_share": 0.75,
        "office_calendar": any_metric.calendar_name,
    }


def _field_equals(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool):
        return bool(value) is wanted if value is not None and not pd.isna(value) else False
    return value == wanted


# ----------------------------------------------------------------- measuring


def _calendar_groups(names: np.ndarray):
    """(calendar name, mask) for each distinct calendar: the engine runs once per group."""
    for name in pd.unique(names):
        yield name, names == name


def evaluate_frames(
    scope: pd.DataFrame,
    segments: pd.DataFrame,
    policy: Policy,
    as_of: pd.Timestamp,
    *,
    force_version: str | None = None,
) -> pd.DataFrame:
    """Evaluate tickets from plain frames (the shape of eval_scope.sql / eval_segments.sql).

    Pure: no database. `evaluate` calls it; tests call it directly."""
    n = len(scope)
    scope = scope.reset_index(drop=True)
    as_of_ns = int(pd.Timestamp(as_of).tz_convert("UTC").as_unit("ns").value)
    created = _ns(scope["created_at"])
    if force_version is not None:
        version_idx = np.full(
            n,
            [v.version for v in policy.versions].index(policy.version(force_version).version),
            dtype=np.int64,
        )
    else:
        version_idx = policy.version_index(created)

    # Segments, tied to ticket positions.
    seg_tix = pd.Index(scope["ticket_id"]).get_indexer(segments["ticket_id"])
    seg_start = _ns(segments["seg_start"])
    seg_end = _ns(segments["seg_end"])
    seg_end[seg_end == NAT_NS] = as_of_ns
    seg_status = segments["status"].to_numpy(dtype=object)
    seg_resolved = np.isin(seg_status, RESOLVED_STATUSES)
    reopen_flag = segments["is_reopen"].to_numpy(dtype=bool)
    reopens = np.bincount(seg_tix[reopen_flag], minlength=n).astype(np.int64)
    # Segments come ordered by ticket and start, so a running count of reopens
    # numbers the resolution cycles within each ticket.
    cycle = pd.Series(reopen_flag.astype(np.int64)).groupby(seg_tix).cumsum().to_numpy()

    # Resolution stops, from the timeline; the ticket field where no status was ever recorded.
    has_events = np.bincount(seg_tix, minlength=n) > 1
    last_pos = pd.Series(np.arange(len(seg_tix))).groupby(seg_tix).max()
    last_resolved = np.zeros(n, dtype=bool)
    last_resolved[last_pos.index] = seg_resolved[last_pos.to_numpy()]
    active_end = pd.Series(seg_end[~seg_resolved]).groupby(seg_tix[~seg_resolved]).max()
    final_stop = np.full(n, NAT_NS, dtype=np.int64)
    final_stop[active_end.index] = active_end.to_numpy()
    final_stop[~last_resolved] = NAT_NS
    first_res = pd.Series(seg_start[seg_resolved]).groupby(seg_tix[seg_resolved]).min()
    first_stop = np.full(n, NAT_NS, dtype=np.int64)
    first_stop[first_res.index] = first_res.to_numpy()
    field_resolved = _ns(scope["resolved_at"])
    final_stop[~has_events] = field_resolved[~has_events]
    first_stop[~has_events] = field_resolved[~has_events]
    first_stop[first_stop == NAT_NS] = final_stop[first_stop == NAT_NS]

    rules = _ticket_rules(scope, policy, version_idx)
    out = []
    for metric in METRICS:
        r = rules[rules["metric"] == metric].reset_index(drop=True)
        tix = r["_tix"].to_numpy()
        if not (tix == np.arange(n)).all():  # the rules must line up with the scope
            raise EvaluationError("internal error: rules out of line with tickets")
        calendars = r["calendar"].to_numpy(dtype=object)
        first_rule = (r["reopen_rule"] == "first_resolution").to_numpy()
        if metric == "first_response":
            stop = _ns(scope["first_response_at"])
            # A ticket resolved without any reply was answered by its resolution.
            no_reply = stop == NAT_NS
            stop[no_reply] = first_stop[no_reply]
        else:
            stop = np.where(first_rule, first_stop, final_stop)
        clock_end = np.where(stop == NAT_NS, as_of_ns, stop)
        clock_end = np.maximum(clock_end, created)

        # Clip every segment to its ticket's clock window and classify it.
        s = np.maximum(seg_start, created[seg_tix])
        e = np.minimum(seg_end, clock_end[seg_tix])
        valid = e > s
        paused = np.zeros(len(seg_status), dtype=bool)
        pause_code, pause_sets = pd.factorize(r["pause_statuses"])
        for code, statuses in enumerate(pause_sets):
            if statuses:
                paused |= (pause_code[seg_tix] == code) & np.isin(seg_status, list(statuses))
        gap = seg_resolved & ~paused
        active = valid & ~paused & ~gap
        work = np.zeros(len(s), dtype=np.int64)
        for name, mask in _calendar_groups(calendars):
            m = mask[seg_tix] & valid
            if m.any():
                work[m] = policy.calendar(name).working_ns(s[m], e[m])
        elapsed = np.zeros(n, np.int64)
        paused_ns = np.zeros(n, np.int64)
        gap_ns = np.zeros(n, np.int64)
        np.add.at(elapsed, seg_tix[active], work[active])
        np.add.at(paused_ns, seg_tix[valid & paused], work[valid & paused])
        np.add.at(gap_ns, seg_tix[valid & gap], work[valid & gap])

        limit = r["limit_seconds"].to_numpy(dtype=float)
        target = r["target_seconds"].to_numpy(dtype=float)
        has_limit = ~np.isnan(limit)
        limit_ns = np.where(has_limit, np.round(np.nan_to_num(limit) * NS), 0).astype(np.int64)

        # Deadline: the active segment in which the running total reaches the limit.
        deadline = np.full(n, NAT_NS, dtype=np.int64)
        act_idx = np.flatnonzero(active)
        act_tix = seg_tix[act_idx]
        cum_after = pd.Series(work[act_idx]).groupby(act_tix).cumsum().to_numpy()
        cum_before = cum_after - work[act_idx]
        crossing = (
            has_limit[act_tix] & (cum_before < limit_ns[act_tix]) & (cum_after >= limit_ns[act_tix])
        )
        found = np.zeros(n, dtype=bool)
        found[act_tix[crossing]] = True
        rest = has_limit & ~found

        for name, mask in _calendar_groups(calendars):
            cal = policy.calendar(name)
            hit = crossing & mask[act_tix]
            if hit.any():
                t = act_tix[hit]
                deadline[t] = cal.add_working_ns(s[act_idx[hit]], limit_ns[t] - cum_before[hit])
            later = rest & mask
            if later.any():
                deadline[later] = cal.add_working_ns(
                    clock_end[later], limit_ns[later] - elapsed[later]
                )

        # Out of hours: the office calendar was closed at creation.
        office = r["office_calendar"].to_numpy(dtype=object)
        closed_at_creation = np.zeros(n, dtype=bool)
        for name, mask in _calendar_groups(office):
            at = created[mask]
            closed_at_creation[mask] = policy.calendar(name).working_ns(at, at + NS) == 0

        stopped = stop != NAT_NS
        elapsed_s = elapsed / NS
        computed = np.select(
            [
                stopped & (elapsed_s <= target),
                stopped & (elapsed_s <= limit),
                stopped,
                elapsed_s > limit,
                elapsed_s >= r["at_risk_share"].to_numpy(float) * limit,
            ],
            ["met", "met_late_target", "breached", "open_breached", "open_at_risk"],
            "open_on_track",
        ).astype(object)
        if first_rule.any():
            # Under first_resolution a later cycle is measured on its own; a ticket
            # that ever breached in any cycle is breached.
            # The clock window ends at the first resolution, so later cycles are
            # measured here over the whole timeline up to as_of.
            later = (cycle > 0) & ~paused & ~seg_resolved & first_rule[seg_tix]
            cycle_work = np.zeros(len(seg_start), dtype=np.int64)
            for name, mask in _calendar_groups(calendars):
                m = later & mask[seg_tix]
                if m.any():
                    cycle_work[m] = policy.calendar(name).working_ns(seg_start[m], seg_end[m])
            cyc = pd.DataFrame({"t": seg_tix[later], "c": cycle[later], "w": cycle_work[later]})
            worst = cyc.groupby(["t", "c"])["w"].sum().groupby(level=0).max()
            worst_ns = np.zeros(n, np.int64)
            worst_ns[worst.index.to_numpy()] = worst.to_numpy()
            ever = (
                first_rule
                & has_limit
                & (worst_ns > limit_ns)
                & np.isin(computed, ["met", "met_late_target"])
            )
            computed[ever] = "breached"

        has_sla = r["has_sla"].to_numpy(dtype=bool)
        excluded_by = r["excluded_by"].to_numpy(dtype=object)
        reason = r["no_sla_reason"].to_numpy(dtype=object)
        is_excluded = pd.notna(excluded_by)
        status = np.where(has_sla, computed, "no_sla").astype(object)
        status[~has_limit] = "no_sla"
        status[is_excluded] = "excluded"
        benchmark = np.where(~has_sla & has_limit & ~is_excluded, computed, None)
        rule_col = np.where(
            status == "excluded", excluded_by, np.where(status == "no_sla", reason, None)
        )

        late = np.where(has_limit & (elapsed_s > limit), elapsed_s - limit, np.nan)
        month_at = np.where(
            stopped,
            stop,
            # An open ticket counts where its deadline passed; one not yet due, in
            # the month that was under way at as_of (as_of itself may be the first
            # instant of the next month, as in a month-end report).
            np.where((deadline != NAT_NS) & (deadline <= as_of_ns), deadline, as_of_ns - 1),
        )
        outage = r["outage_line"].to_numpy(dtype=bool)
        billable = outage & (
            scope["cause_domain"].to_numpy(dtype=object) == r["billable_domain"].to_numpy(object)
        )
        out.append(
            pd.DataFrame(
                {
                    "ticket_id": scope["ticket_id"].to_numpy(),
                    "metric": metric,
                    "customer_id": scope["customer_id"].to_numpy(),
                    "tier": scope["tier"].to_numpy(),
                    "has_sla": has_sla,
                    "priority": scope["priority"].to_numpy(),
                    "channel": scope["channel"].to_numpy(),
                    "outage_line": outage,
                    "out_of_hours": closed_at_creation,
                    "cause_domain": scope["cause_domain"].to_numpy(),
                    "billable": billable,
                    "policy_version": r["policy_version"].to_numpy(),
                    "policy_hash": policy.hash,
                    "calendar": calendars,
                    "clock_start": _timestamps(created),
                    "clock_stop": _timestamps(stop),
                    "elapsed_working_seconds": elapsed_s,
                    "paused_working_seconds": paused_ns / NS,
                    "gap_working_seconds": gap_ns / NS,
                    "reopens": reopens.astype(np.int32),
                    "target_seconds": target,
                    "limit_seconds": limit,
                    "deadline": _timestamps(deadline),
                    "status": status,
                    "benchmark_status": benchmark,
                    "exclusion_rule": rule_col,
                    "late_working_seconds": late,
                    "month": _month_of(month_at, policy.report_timezone),
                }
            )
        )
    return pd.concat(out, ignore_index=True)[list(RESULT_COLUMNS)]


# ------------------------------------------------------------------ running


def _month_start(month: str, tz: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(f"{month}-01", tz=tz)
    except ValueError:
        raise EvaluationError(f"malformed month {month!r}: use YYYY-MM") from None


def month_end_as_of(month: str, tz: str) -> pd.Timestamp:
    """The first instant after `month` in zone `tz` (a report's as-of instant)."""
    return (_month_start(month, tz) + pd.offsets.MonthBegin(1)).tz_convert("UTC")


def _input_loads(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = con.execute(
        "SELECT load_id, sha256, path FROM loads WHERE finished_at IS NOT NULL ORDER BY load_id"
    ).fetchall()
    return [{"load_id": r[0], "sha256": r[1], "path": r[2]} for r in rows]


def input_fingerprint(loads: list[dict]) -> str:
    """sha256 over the content hashes of the loads an evaluation read."""
    digest = hashlib.sha256()
    for sha in sorted({load["sha256"] for load in loads}):
        digest.update(sha.encode())
    return digest.hexdigest()


def evaluate(
    con: duckdb.DuckDBPyConnection,
    policy: Policy | None = None,
    *,
    month_from: str | None = None,
    month_to: str | None = None,
    as_of: Any = None,
    force_version: str | None = None,
    store: bool = True,
) -> EvaluationRun:
    """Evaluate every ticket known at `as_of` (default: now) and keep the rows
    that count in months [month_from, month_to] (default: all).

    With `store`, the run is recorded in `evaluations` and its rows in
    `sla_results` under a new evaluation id, in one transaction.
    Raises `EvaluationError` for a malformed month or an empty warehouse."""
    policy = policy or Policy.default()
    tz = policy.report_timezone
    for month in (month_from, month_to):
        if month is not None:
            _month_start(month, tz)
    if as_of is None:
        as_of_ts = pd.Timestamp.now(tz="UTC").floor("s")
    else:
        as_of_ts = pd.Timestamp(as_of)
        as_of_ts = (as_of_ts.tz_localize(tz) if as_of_ts.tzinfo is None else as_of_ts).tz_convert(
            "UTC"
        )
    started = pd.Timestamp.now(tz="UTC")
    params = {"as_of": as_of_ts.to_pydatetime()}
    con.execute("CREATE OR REPLACE TEMP TABLE scope AS " + read_sql("eval_scope.sql"), params)
    scope = con.execute("SELECT * FROM scope").df()
    if scope.empty:
        con.execute("DROP TABLE IF EXISTS scope")
        raise EvaluationError(
            f"no tickets created before {as_of_ts.isoformat()} are loaded: load data first "
            "(sla load FILE)"
        )
    segments = con.execute(read_sql("eval_segments.sql"), params).df()
    con.execute("DROP TABLE IF EXISTS scope")
    results = evaluate_frames(scope, segments, policy, as_of_ts, force_version=force_version)
    if month_from is not None:
        results = results[results["month"] >= month_from]
    if month_to is not None:
        results = results[results["month"] <= month_to]
    results = results.reset_index(drop=True)

    evaluation_id = None
    if store:
        evaluation_id = _store(
            con,
            policy,
            results,
            as_of_ts,
            started,
            month_from,
            month_to,
            force_version,
            len(scope),
        )
    return EvaluationRun(
        evaluation_id=evaluation_id,
        policy=policy,
        as_of=as_of_ts,
        month_from=month_from,
        month_to=month_to,
        forced_version=force_version,
        tickets_evaluated=len(scope),
        results=results,
    )


def _store(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    results: pd.DataFrame,
    as_of: pd.Timestamp,
    started: pd.Timestamp,
    month_from: str | None,
    month_to: str | None,
    forced: str | None,
    tickets: int,
) -> int:
    loads = _input_loads(con)
    con.execute("BEGIN TRANSACTION")
    try:
        evaluation_id = con.execute(
            "SELECT coalesce(max(evaluation_id), 0) + 1 FROM evaluations"
        ).fetchone()[0]
        con.execute(
            "INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                evaluation_id,
                policy.name,
                policy.hash,
                policy.source,
                json.dumps(policy.document, sort_keys=True),
                forced,
                as_of.to_pydatetime(),
                month_from,
                month_to,
                json.dumps(loads),
                input_fingerprint(loads),
                __version__,
                tickets,
                len(results),
                started.to_pydatetime(),
                dt.datetime.now(dt.UTC),
            ],
        )
        frame = results.copy()
        frame.insert(0, "evaluation_id", evaluation_id)
        con.register("_results", frame)
        columns = ", ".join(["evaluation_id", *RESULT_COLUMNS])
        con.execute(f"INSERT INTO sla_results ({columns}) SELECT {columns} FROM _results")
        con.unregister("_results")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(evaluation_id)
