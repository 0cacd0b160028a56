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

All of it runs over whole columns: DuckDB gathers and sorts the status changes,
numpy turns them into the timeline and measures it through the working-time
engine, grouped by calendar, in blocks of tickets (measured on every core),
never per ticket.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline import __version__
from pipeline.errors import EvaluationError
from pipeline.instants import COUNTED_SPAN, NAT_NS, local_bounds, localize_naive, read_instant
from pipeline.load import READING_SETTINGS
from pipeline.policy import (
    METRICS,
    RESOLVED_STATUSES,
    RULE_FIELD_VALUES,
    Policy,
)
from pipeline.warehouse import read_sql

NS = 10**9
CHUNK_TICKETS = 1_000_000
# Tickets measured at a time within a chunk (see _measure_chunk).
MEASURE_BLOCK = 1 << 17
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


# What stores an evaluation, recorded with it (`evaluations.made_by`): `sla
# evaluate`, a report that found no run to reuse, `sla audit verify`'s re-run.
MADE_BY = ("evaluate", "report", "verify")
# The columns `_record_run` fills, by name: later migrations add columns
# (made_by, pruned_at) that a positional INSERT would misplace or miss.
RUN_COLUMNS = (
    "evaluation_id",
    "policy_name",
    "policy_hash",
    "policy_source",
    "policy_document",
    "forced_version",
    "as_of",
    "month_from",
    "month_to",
    "input_loads",
    "input_fingerprint",
    "package_version",
    "tickets_evaluated",
    "rows_written",
    "started_at",
    "finished_at",
    "made_by",
)


# Where an evaluation spends its time: the tickets in scope with plan and first
# reply (DuckDB), their status changes gathered in timeline order (DuckDB), working
# time measured (numpy), the result rows written (DuckDB). The benchmark prints them.
PHASES = ("scope", "timelines", "measure", "write")


class _PhaseClock:
    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)

    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start


STATUS_NAMES = (
    "met",
    "met_late_target",
    "breached",
    "open_breached",
    "open_at_risk",
    "open_on_track",
    "no_sla",
    "excluded",
)
_S = {name: code for code, name in enumerate(STATUS_NAMES)}
# The ticket fields the policy's rules may read (exclusions, the outage line's
# match), as the policy validates them.
RULE_FIELDS = tuple(RULE_FIELD_VALUES)


@dataclass(frozen=True)
class EvaluationRun:
    """One evaluation. `results` reads its rows (from `sla_results` when stored,
    else from a temporary table on the same connection) when first asked."""

    evaluation_id: int | None
    policy: Policy
    as_of: pd.Timestamp
    month_from: str | None
    month_to: str | None
    forced_version: str | None
    tickets_evaluated: int
    rows: int
    con: duckdb.DuckDBPyConnection = field(repr=False)
    table: str = field(repr=False)
    # Wall-clock seconds per phase (see PHASES), summed over chunks.
    phase_seconds: dict[str, float] = field(default_factory=dict, repr=False)

    @cached_property
    def results(self) -> pd.DataFrame:
        columns = ", ".join(RESULT_COLUMNS)
        if self.evaluation_id is not None:
            return self.con.execute(
                f"SELECT {columns} FROM sla_results WHERE evaluation_id = ? "
                "ORDER BY metric, ticket_id",
                [self.evaluation_id],
            ).df()
        return self.con.execute(
            f"SELECT {columns} FROM {self.table} ORDER BY metric, ticket_id"
        ).df()


def _month_codes(ns: np.ndarray, tz: str) -> np.ndarray:
    """yyyymm of each instant in zone `tz` (0 where missing)."""
    out = np.zeros(len(ns), dtype=np.int64)
    ok = ns != NAT_NS
    if ok.any():
        # Looked up among the month starts the instants span: a handful of
        # boundaries, where converting every instant to local fields costs far more.
        at = ns[ok]
        first, last = (
            pd.Timestamp(int(x), unit="ns", tz="UTC").tz_convert(tz) for x in (at.min(), at.max())
        )
        starts = pd.date_range(
            first.tz_localize(None).to_period("M").start_time,
            last.tz_localize(None).to_period("M").start_time,
            freq="MS",
        )
        bounds = local_bounds(starts, tz, first_occurrence=True)
        codes = starts.year.to_numpy() * 100 + starts.month.to_numpy()
        out[ok] = codes[np.searchsorted(bounds, at, side="right") - 1]
    return out


def _month_code(month: str | None, tz: str) -> int | None:
    if month is None:
        return None
    start = month_start(month, tz)
    return start.year * 100 + start.month


@contextlib.contextmanager
def _without_hugepage_advice() -> Iterator[None]:
    """Numpy advises the kernel to back every large array with huge pages. Where
    the kernel may then compact memory on the spot to find one (transparent_hugepage
    defrag = madvise, a common default), the first touch of a fresh array is slow:
    measuring a chunk makes hundreds of short-lived ones, and that cost 0.45 s of
    the 3.6 s the 1M-ticket benchmark took. Off while measuring, restored after;
    left as it is when the user chose with numpy's NUMPY_MADVISE_HUGEPAGE (the
    switch is numpy's own, a private function: without it, nothing changes)."""
    toggle = None
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        for module in (getattr(np, "_core", None), getattr(np, "core", None)):
            toggle = getattr(getattr(module, "multiarray", None), "_set_madvise_hugepage", None)
            if toggle is not None:
                break
    if toggle is None:
        yield
        return
    previous = toggle(False)  # noqa: FBT003 (numpy's switch takes no keyword)
    try:
        yield
    finally:
        toggle(previous)


def _measure_threads() -> int:
    """Threads that measure blocks of tickets: one per core, at most eight."""
    return max(1, min(8, os.cpu_count() or 1))


# --------------------------------------------------------------------- rules


@dataclass(frozen=True)
class _Rules:
    """Per ticket, for one metric: what the policy says, as arrays."""

    version: np.ndarray  # index into policy.versions (-1: none in force)
    calendar: np.ndarray  # index into the calendar name list
    target: np.ndarray  # seconds, NaN: no target
    limit: np.ndarray
    has_sla: np.ndarray
    outage: np.ndarray
    billable: np.ndarray
    excluded_by: np.ndarray  # index into rule names, -1: not excluded
    no_sla_reason: np.ndarray  # index into rule names, -1: none
    pause_set: np.ndarray  # index into the list of pause-status sets
    first_resolution: np.ndarray
    at_risk_share: np.ndarray
    office_calendar: np.ndarray


def _field_equals(value: Any, wanted: Any) -> bool:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    if isinstance(wanted, bool):
        return bool(value) is wanted
    return value == wanted


def _rule_for(combo: dict, metric_name: str, version_idx: int, policy: Policy) -> dict:
    """The policy's verdict for one combination of rule fields, version and metric."""
    if version_idx < 0:
        any_metric = next(iter(policy.versions[0].metrics.values()))
        return {
            "reason": "no_policy_in_force",
            "calendar": any_metric.calendar_name,
            "office": any_metric.calendar,
        }
    version = policy.versions[version_idx]
    office = version.metrics.get(METRICS[0]) or next(iter(version.metrics.values()))
    if metric_name not in version.metrics:
        return {
            "reason": "metric_not_in_policy",
            "calendar": office.calendar_name,
            "office": office.calendar,
        }
    metric = version.metrics[metric_name]
    tier = version.tiers.get(combo["tier"])
    has_sla = version.promises(combo["tier"], metric_name)
    outage = version.outage_line
    on_outage = bool(outage and outage.matches(combo))
    target, limit, calendar = policy.ticket_threshold(
        version,
        metric_name,
        combo["tier"] if has_sla else metric.benchmark_tier,
        combo.get("priority"),
        outage_line=on_outage,
    )
    # Only the outage line's first response can go without a target.
    reason = "outage_line_no_target" if limit is None else None
    if reason is None and not has_sla:
        reason = (
            "tier_without_sla"
            if tier
            else "no_plan_at_creation"
            if combo["tier"] == "unknown"
            else "tier_not_in_policy"
        )
    return {
        "calendar": calendar,
        # The desk's hours, for out_of_hours: the metric's own calendar, also when
        # it counts clock time (calendar_name is then `always`, never closed).
        "office": office.calendar,
        "target": target,
        "limit": limit,
        "has_sla": has_sla,
        "outage": on_outage,
        "billable": on_outage and combo.get("cause_domain") == outage.billable_cause_domain,
        "excluded_by": next(
            (e.rule for e in metric.exclude if _field_equals(combo.get(e.field), e.value)), None
        ),
        "reason": reason,
        "pauses": tuple(metric.pause_statuses),
        "first_resolution": metric.reopen_rule == "first_resolution",
        "at_risk_share": metric.at_risk_share,
    }


class _Names:
    """Small string tables that the numeric results index into."""

    def __init__(self) -> None:
        self.calendars: list[str] = []
        self.rules: list[str] = []
        self.pause_sets: list[tuple[str, ...]] = []

    @staticmethod
    def _code(table: list, value: Any) -> int:
        if value is None:
            return -1
        if value not in table:
            table.append(value)
        return table.index(value)


def _rules(
    keys: pd.DataFrame,
    keyed: np.ndarray,
    policy: Policy,
    version_idx: np.ndarray,
    names: _Names,
) -> dict[str, _Rules]:
    """Decide the rules once per distinct combination of rule fields (`keys`,
    indexed by rule key) and version, then spread them to the tickets (`keyed`:
    each ticket's rule key) with one gather per attribute."""
    n_versions = len(policy.versions) + 1
    combined = keyed * n_versions + (version_idx + 1)
    # The combinations in use, in order, and each ticket's position among them
    # (what np.unique(..., return_inverse=True) gives, without its sort: the codes
    # are small and dense).
    present = np.bincount(combined, minlength=len(keys) * n_versions) > 0
    uniques = np.flatnonzero(present)
    inverse = (np.cumsum(present) - 1)[combined]
    records = keys.drop(columns="rule_key").to_dict("records")
    combos = [{**records[int(u // n_versions)], "_v": int(u % n_versions) - 1} for u in uniques]
    version = np.array([c["_v"] for c in combos], dtype=np.int64)[inverse]
    out = {}
    for metric in METRICS:
        table = [_rule_for(c, metric, c["_v"], policy) for c in combos]

        def col(name, *, default, dtype, table=table):
            return np.array([t.get(name, default) for t in table], dtype=dtype)[inverse]

        def coded(name, names_table, table=table):
            return np.array(
                [_Names._code(names_table, t.get(name)) for t in table], dtype=np.int64
            )[inverse]

        out[metric] = _Rules(
            version=version,
            calendar=coded("calendar", names.calendars),
            target=np.array(
                [np.nan if t.get("target") is None else t["target"] for t in table], float
            )[inverse],
            limit=np.array(
                [np.nan if t.get("limit") is None else t["limit"] for t in table], float
            )[inverse],
            has_sla=col("has_sla", default=False, dtype=bool),
            outage=col("outage", default=False, dtype=bool),
            billable=col("billable", default=False, dtype=bool),
            excluded_by=coded("excluded_by", names.rules),
            no_sla_reason=coded("reason", names.rules),
            pause_set=coded("pauses", names.pause_sets),
            first_resolution=col("first_resolution", default=False, dtype=bool),
            at_risk_share=col("at_risk_share", default=0.75, dtype=float),
            office_calendar=coded("office", names.calendars),
        )
    return out


# ----------------------------------------------------------------- measuring


def _calendar_groups(codes: np.ndarray, names: list[str]):
    """(calendar name, mask) for each calendar in use: the engine runs once per group."""
    for code in np.flatnonzero(np.bincount(codes[codes >= 0], minlength=1)):
        yield names[code], codes == code


class _Clocks:
    """Working-time clocks of one block of tickets, per calendar, shared by both metrics.

    A clock maps an instant to the open time since a fixed origin, so the working
    time of [a, b) is clock(b) - clock(a). Every instant a metric measures lies
    between the earliest creation and `as_of` (clock windows are clipped to
    them), so one clock per calendar serves every interval. The clock of every
    segment's start and end is looked up once per calendar for both metrics (for
    the calendar most tickets use); the few segments on another calendar are
    looked up on their own."""

    def __init__(self, policy: Policy, seg: dict[str, np.ndarray], clock_range: tuple[int, int]):
        self.policy = policy
        self.seg = seg
        self.lo, self.hi = clock_range
        self._clocks: dict[str, Any] = {}
        self._segments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._bounds: np.ndarray | None = None

    def clock(self, name: str):
        """The clock of calendar `name`."""
        if name not in self._clocks:
            cal = self.policy.calendar(name)
            self._clocks[name] = cal.working_clock(self.lo, self.hi)
        return self._clocks[name]

    def segments_of(self, tickets: np.ndarray) -> np.ndarray:
        """Positions of the segments of the tickets in `tickets` (a mask)."""
        if self._bounds is None:
            # Segments come sorted by ticket: ticket k's are bounds[k]:bounds[k + 1].
            n = len(tickets)
            self._bounds = np.searchsorted(self.seg["tix"], np.arange(n + 1))
        t = np.flatnonzero(tickets)
        first, count = self._bounds[t], self._bounds[t + 1] - self._bounds[t]
        before = np.cumsum(count) - count
        return np.arange(int(count.sum())) + np.repeat(first - before, count)

    def segments(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The clock at every segment's start and end."""
        if name not in self._segments:
            clock = self.clock(name)
            at_start = clock(self.seg["seg_start"])
            # A segment ends where the next one of its ticket starts, the last at as_of.
            at_end = np.empty_like(at_start)
            at_end[:-1] = at_start[1:]
            last = self.seg["last"]
            at_end[last] = clock(self.seg["seg_end"][last])
            self._segments[name] = (at_start, at_end)
        return self._segments[name]


def _measure_metric(
    metric: str,
    rules: _Rules,
    names: _Names,
    policy: Policy,
    as_of_ns: int,
    created: np.ndarray,
    stop: np.ndarray,
    seg: dict[str, np.ndarray],
    status_list: list[str],
    clocks: _Clocks,
) -> dict[str, np.ndarray]:
    """Elapsed, paused and gap working time, deadline and status for one metric."""
    n = len(created)
    seg_tix, seg_start, seg_end = seg["tix"], seg["seg_start"], seg["seg_end"]
    codes = seg["status"]
    seg_resolved = seg["resolved"]
    clock_end = np.maximum(np.where(stop == NAT_NS, as_of_ns, stop), created)

    # Clip every segment to its ticket's clock window [created, clock_end) and
    # measure it on the ticket's calendar: clocks are monotonic, so the clock at
    # the clipped ends is the max / min of the clocks at the ends.
    # The calendars in use, the most used first: its clock at every segment end is
    # shared by both metrics, the others are patched in for their tickets' segments.
    groups = sorted(
        _calendar_groups(rules.calendar, names.calendars), key=lambda g: -int(g[1].sum())
    )
    at_created = np.empty(n, dtype=np.int64)
    at_clock_end = np.empty(n, dtype=np.int64)
    for name, mask in groups:
        clock = clocks.clock(name)
        at_created[mask] = clock(created[mask])
        at_clock_end[mask] = clock(clock_end[mask])
    seg_at_start, seg_at_end = clocks.segments(groups[0][0])
    at_start = np.maximum(seg_at_start, at_created[seg_tix])
    work = np.minimum(seg_at_end, at_clock_end[seg_tix])
    for name, mask in groups[1:]:
        clock, idx = clocks.clock(name), clocks.segments_of(mask)
        t = seg_tix[idx]
        at_start[idx] = np.maximum(clock(seg_start[idx]), at_created[t])
        work[idx] = np.minimum(clock(seg_end[idx]), at_clock_end[t])
    work -= at_start
    # Segments outside the clock window measure <= 0; those and empty ones add
    # nothing to any sum and never hold a deadline, so only positive ones count.
    valid = work > 0
    np.maximum(work, 0, out=work)

    lut = np.zeros((len(names.pause_sets) + 1, len(status_list) + 1), dtype=bool)
    for code, statuses in enumerate(names.pause_sets):
        lut[code + 1, [status_list.index(x) + 1 for x in statuses if x in status_list]] = True
    paused = lut[rules.pause_set[seg_tix] + 1, codes]
    gap = seg_resolved & ~paused
    active = valid & ~paused & ~gap
    # Elapsed, paused and gap time per ticket in one pass: every segment is one of
    # the three (bin 3 * tix + kind); segments that measure nothing add 0.
    kind = seg_tix * 3
    kind += paused
    kind += gap
    kind += gap
    sums = np.bincount(kind, weights=work, minlength=3 * n).astype(np.int64).reshape(n, 3)
    elapsed, paused_ns, gap_ns = sums[:, 0], sums[:, 1], sums[:, 2]

    has_limit = ~np.isnan(rules.limit)
    # Target and limit in whole nanoseconds, as the elapsed time is: the deadline
    # and the verdict compare against the very same values (reaching the target
    # exactly is on time).
    limit_ns = np.where(has_limit, np.round(np.nan_to_num(rules.limit) * NS), 0).astype(np.int64)
    target_ns = np.where(has_limit, np.round(np.nan_to_num(rules.target) * NS), 0).astype(np.int64)

    # Deadline: the active segment in which the running total reaches the limit.
    deadline = np.full(n, NAT_NS, dtype=np.int64)
    act_idx = np.flatnonzero(active)
    act_tix = seg_tix[act_idx]
    cum_after = _group_cumsum(work[act_idx], act_tix)
    cum_before = cum_after - work[act_idx]
    crossing = (
        has_limit[act_tix] & (cum_before < limit_ns[act_tix]) & (cum_after >= limit_ns[act_tix])
    )
    found = np.zeros(n, dtype=bool)
    found[act_tix[crossing]] = True
    rest = has_limit & ~found
    for name, mask in groups:
        cal = policy.calendar(name)
        hit = crossing & mask[act_tix]
        if hit.any():
            t = act_tix[hit]
            s = np.maximum(seg_start[act_idx[hit]], created[t])
            deadline[t] = cal.add_working_ns(s, limit_ns[t] - cum_before[hit])
        later = rest & mask
        if later.any():
            deadline[later] = cal.add_working_ns(clock_end[later], limit_ns[later] - elapsed[later])

    stopped = stop != NAT_NS
    # Where there is no limit the verdict below is never used (no_sla, no benchmark).
    computed = np.select(
        [
            stopped & (elapsed <= target_ns),
            stopped & (elapsed <= limit_ns),
            stopped,
            elapsed > limit_ns,
            elapsed >= rules.at_risk_share * limit_ns,
        ],
        [
            _S["met"],
            _S["met_late_target"],
            _S["breached"],
            _S["open_breached"],
            _S["open_at_risk"],
        ],
        _S["open_on_track"],
    )
    if metric == "resolution" and rules.first_resolution.any():
        # Under first_resolution a later cycle (reopen to resolution) is measured
        # on its own, over the whole timeline up to as_of; a ticket that ever
        # breached in any cycle is breached.
        cycle = _group_cumsum(seg["is_reopen"].astype(np.int64), seg_tix)
        later = (cycle > 0) & ~paused & ~seg_resolved & rules.first_resolution[seg_tix]
        cycle_work = np.zeros(len(codes), dtype=np.int64)
        for name, mask in groups:
            m = later & mask[seg_tix]
            if m.any():
                cycle_work[m] = policy.calendar(name).working_ns(seg_start[m], seg_end[m])
        per_cycle = pd.Series(cycle_work[later]).groupby([seg_tix[later], cycle[later]]).sum()
        worst = per_cycle.groupby(level=0).max()
        worst_ns = np.zeros(n, np.int64)
        worst_ns[worst.index.to_numpy()] = worst.to_numpy()
        ever = (
            rules.first_resolution
            & has_limit
            & (worst_ns > limit_ns)
            & np.isin(computed, [_S["met"], _S["met_late_target"]])
        )
        computed[ever] = _S["breached"]

    is_excluded = rules.excluded_by >= 0
    status = np.where(rules.has_sla & has_limit, computed, _S["no_sla"])
    status[is_excluded] = _S["excluded"]
    benchmark = np.where(~rules.has_sla & has_limit & ~is_excluded, computed, -1)
    rule = np.where(
        is_excluded, rules.excluded_by, np.where(status == _S["no_sla"], rules.no_sla_reason, -1)
    )
    late = np.where(has_limit & (elapsed > limit_ns), (elapsed - limit_ns) / NS, np.nan)
    month_at = np.where(
        stopped,
        stop,
        # An open ticket counts where its deadline passed (its elapsed time is over
        # the limit, as for open_breached: reaching the limit is not passing it);
        # one not yet past it, in the month under way at as_of (as_of may be the
        # first instant of the next month, as in a month-end report), but never in
        # a month before its creation: one created at the as-of instant itself
        # did not exist in the month that ended there.
        np.where(has_limit & (elapsed > limit_ns), deadline, np.maximum(as_of_ns - 1, created)),
    )
    return {
        "has_sla": rules.has_sla,
        "outage_line": rules.outage,
        "billable": rules.billable,
        "version": rules.version,
        "calendar": rules.calendar,
        "clock_stop": stop,
        "elapsed_working_seconds": elapsed / NS,
        "paused_working_seconds": paused_ns / NS,
        "gap_working_seconds": gap_ns / NS,
        "target_seconds": rules.target,
        "limit_seconds": rules.limit,
        "deadline": deadline,
        "status": status,
        "benchmark_status": benchmark,
        "exclusion_rule": rule,
        "late_working_seconds": late,
        "month": _month_codes(month_at, policy.report_timezone),
    }


def _segments(changes: dict, status_list: list[str], as_of_ns: int) -> dict[str, np.ndarray]:
    """The status timeline from the sorted status changes of eval_segments.sql: one
    segment [seg_start, seg_end) per change, with `resolved` (a resolved or closed
    status), `last` (a ticket's current segment) and `is_reopen` (where a resolved
    status gives way to another one).

    Of the changes at one instant the first holds: they come sorted in
    policy.timeline_order, so that is the latest recorded before creation, else an
    explicit change before an implied one, else the status first by name. The
    current segment of a ticket runs to `as_of_ns`."""
    tix = np.asarray(changes["tix"], dtype=np.int64)
    start = np.asarray(changes["seg_start"], dtype=np.int64)
    status = np.asarray(changes["status"], dtype=np.int32)
    ord_ = np.asarray(changes["ord"])
    # Drop an event that follows another event of the same ticket at the same instant.
    same = np.zeros(len(tix), dtype=bool)
    same[1:] = (tix[1:] == tix[:-1]) & (start[1:] == start[:-1]) & (ord_[:-1] > 0)
    if same.any():
        keep = ~same
        tix, start, status = tix[keep], start[keep], status[keep]
    # A ticket's last segment (the others end where the next one starts).
    last = np.ones(len(tix), dtype=bool)
    last[:-1] = tix[1:] != tix[:-1]
    end = np.full(len(tix), as_of_ns, dtype=np.int64)
    end[:-1][~last[:-1]] = start[1:][~last[:-1]]
    is_resolved = np.zeros(len(status_list) + 1, dtype=bool)
    is_resolved[[status_list.index(x) + 1 for x in RESOLVED_STATUSES]] = True
    resolved = is_resolved[status]
    is_reopen = np.zeros(len(tix), dtype=bool)
    is_reopen[1:] = ~last[:-1] & resolved[:-1] & ~resolved[1:]
    return {
        "tix": tix,
        "seg_start": start,
        "seg_end": end,
        "status": status,
        "resolved": resolved,
        "last": last,
        "is_reopen": is_reopen,
    }


def _group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sum within runs of equal, sorted group labels."""
    total = np.cumsum(values)
    if len(values) == 0:
        return total
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    offsets = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, len(values)]))
    return total - offsets


# ------------------------------------------------------------------ running


def _first_instant(midnight: pd.Timestamp, tz: str) -> pd.Timestamp:
    """The first instant of the local period starting at `midnight` (naive): some
    zones have moved their clocks at midnight (local_bounds)."""
    ns = local_bounds([midnight], tz, first_occurrence=True)[0]
    return pd.Timestamp(ns, unit="ns", tz="UTC").tz_convert(tz)


# pandas reads '2026-1', '2026/10', '26-10' (as 2001) and 'October' (as year 1)
# as months: only the exact form is one.
MONTH_FORM = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
# An as-of instant in ISO 8601, with or without an offset. pandas would also take
# 'now' (the machine's wall clock, then read in the report zone), 'today' and
# '01/10/2026' (as 10 January).
INSTANT_FORM = re.compile(
    r"\s*\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?\s*(Z|[+-]\d\d(:?\d\d)?)?\s*"
)


# The as-of instants an evaluation takes, [first, end): the engine counts in
# nanoseconds (pandas' range ends in April 2262), and deadlines and months run
# past the as-of instant, so the end keeps well clear of that.
AS_OF_RANGE = (COUNTED_SPAN[0].tz_localize(None), COUNTED_SPAN[1].tz_localize(None))


def valid_month(month: Any, option: str | None = None) -> str:
    """`month` itself when it is written YYYY-MM; else `EvaluationError`, naming
    the `option` it was given with (`--from`), when given."""
    if not isinstance(month, str) or not MONTH_FORM.fullmatch(month):
        given = f" for {option}" if option else ""
        raise EvaluationError(f"malformed month {month!r}{given}: use YYYY-MM, e.g. 2026-10")
    return month


def month_range(
    month_from: Any, month_to: Any, *, error: type[Exception] = EvaluationError
) -> tuple[str, str]:
    """The two months of a required range, each checked as `valid_month` checks it
    (named by its option, --from and --to); `error` when they run backwards."""
    month_from, month_to = valid_month(month_from, "--from"), valid_month(month_to, "--to")
    if month_from > month_to:
        raise error(f"the months run backwards: from {month_from} to {month_to}")
    return month_from, month_to


def _month_midnight(month: str) -> pd.Timestamp:
    return pd.Timestamp(f"{valid_month(month)}-01")


def month_start(month: str, tz: str) -> pd.Timestamp:
    """The first instant of `month` in zone `tz`."""
    return _first_instant(_month_midnight(month), tz)


NO_TICKETS = "the warehouse holds no tickets: load data first (sla load FILE)"

# A report reuses an evaluation of the same policy, as-of instant, input data and
# package version (a run that crashed is never reused): the first such one, so
# that an equal run stored later (`sla audit verify` stores one) changes neither
# the evaluation number a report shows nor its bytes. `$exact` asks for the very
# months (the monthly report), else any run covering them does (sales reports).
# A pruned run (its result rows removed, `sla evaluations prune`) is never reused:
# the report would read no rows and show an empty month.
REUSABLE_EVALUATION_SQL = """
SELECT evaluation_id
FROM evaluations
WHERE policy_hash = $policy_hash
  AND as_of = $as_of
  AND input_fingerprint = $fingerprint
  AND package_version = $version
  AND forced_version IS NULL
  AND finished_at IS NOT NULL
  AND pruned_at IS NULL
  AND month_from <= $month_from AND month_to >= $month_to
  AND (NOT $exact OR (month_from = $month_from AND month_to = $month_to))
ORDER BY evaluation_id
LIMIT 1
"""


def reusable_evaluation(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    as_of: pd.Timestamp,
    month_from: str,
    month_to: str,
    *,
    exact: bool,
) -> int | None:
    """The id of a stored evaluation a report may rest on (REUSABLE_EVALUATION_SQL),
    or None."""
    rows = con.execute(
        REUSABLE_EVALUATION_SQL,
        {
            "policy_hash": policy.hash,
            "as_of": as_of.to_pydatetime(),
            "fingerprint": current_input_fingerprint(con),
            "version": __version__,
            "month_from": month_from,
            "month_to": month_to,
            "exact": exact,
        },
    ).fetchall()
    return int(rows[0][0]) if rows else None


def month_end_as_of(month: str, tz: str) -> pd.Timestamp:
    """The first instant after `month` in zone `tz` (a report's as-of instant)."""
    following = _month_midnight(month) + pd.offsets.MonthBegin(1)
    return _first_instant(following, tz).tz_convert("UTC")


# The readings of files the warehouse's data comes from, in load order, with how
# each was read (load.READING_SETTINGS). A load that found its file unchanged
# changed nothing, so it is no input. The reader version (load.READER_VERSION) is
# not hashed into a reading: a file read again by a newer loader is a load of its
# own, so it changes the fingerprint as any reading again does (for settings or
# for rows now accepted), and hashing it would only have moved the fingerprint of
# every evaluation made before versions were recorded, whose data is unchanged.
INPUT_LOADS_SQL = f"""
SELECT load_id, sha256, path, kind, {", ".join(READING_SETTINGS)}
FROM loads
WHERE finished_at IS NOT NULL AND NOT unchanged
ORDER BY load_id
"""


def _input_loads(con: duckdb.DuckDBPyConnection) -> list[dict]:
    out = []
    for load_id, sha, path, *settings in con.execute(INPUT_LOADS_SQL).fetchall():
        # How the file was read: the same file read with another zone, mapping or
        # id prefix stores other data, so it is another input.
        reading = hashlib.sha256(json.dumps(settings, default=str).encode()).hexdigest()
        out.append({"load_id": load_id, "sha256": sha, "path": path, "reading": reading})
    return out


def input_fingerprint(loads: list[dict]) -> str:
    """sha256 over the readings an evaluation rests on: each file's content hash and
    how it was read, in load order (reading a file again with other settings changes
    the data). Inputs recorded before readings were: over the content hashes alone."""
    digest = hashlib.sha256()
    if not any("reading" in load for load in loads):
        for sha in sorted({load["sha256"] for load in loads}):
            digest.update(sha.encode())
        return digest.hexdigest()
    for load in loads:
        digest.update(f"{load['sha256']}:{load.get('reading', '')}\n".encode())
    return digest.hexdigest()


def current_input_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """The fingerprint an evaluation run now would record: the one that decides
    whether a stored evaluation still describes the warehouse's data."""
    return input_fingerprint(_input_loads(con))


def _read_chunk(
    con: duckdb.DuckDBPyConnection, status_list: list[str], params: dict, lo: int, hi: int
) -> tuple[dict, dict]:
    """The ticket columns and the ordered status changes of the tickets with
    lo <= tix < hi, as numpy arrays."""
    bounds = {"lo": lo, "hi": hi}
    ticket_cols = con.execute(
        "SELECT epoch_ns(created_at) AS created, "
        f"coalesce(epoch_ns(first_response_at), {NAT_NS}) AS replied, "
        f"coalesce(epoch_ns(resolved_at), {NAT_NS}) AS resolved, rule_key "
        "FROM scope WHERE tix >= $lo AND tix < $hi ORDER BY tix",
        bounds,
    ).fetchnumpy()
    changes = con.execute(
        read_sql("eval_segments.sql"), {**params, **bounds, "statuses": status_list}
    ).fetchnumpy()
    return ticket_cols, changes


def _measure_chunk(
    ticket_cols: dict,
    changes: dict,
    policy: Policy,
    keys: pd.DataFrame,
    names: _Names,
    status_list: list[str],
    as_of_ns: int,
    forced_idx: int | None,
    lo: int,
    hi: int,
) -> pa.Table:
    """Numeric results for the tickets with lo <= tix < hi, from `_read_chunk`."""
    n = hi - lo
    created = np.asarray(ticket_cols["created"], dtype=np.int64)
    seg = _segments(changes, status_list, as_of_ns)
    seg["tix"] -= lo

    version_idx = (
        np.full(n, forced_idx, dtype=np.int64)
        if forced_idx is not None
        else policy.version_index(created)
    )
    # Position of each ticket's rule key among the distinct keys (sorted).
    hashes = keys["rule_key"].to_numpy(dtype=np.uint64)
    keyed = np.searchsorted(hashes, np.asarray(ticket_cols["rule_key"], dtype=np.uint64))
    rules = _rules(keys, keyed, policy, version_idx, names)

    # Clock stops. Resolution: the start of the final resolved run of the status
    # history (or the first resolution); the ticket's field where no status was
    # ever recorded. First response: the first reply, else the resolution.
    seg_resolved, seg_tix, last = seg["resolved"], seg["tix"], seg["last"]
    last_resolved = np.zeros(n, dtype=bool)
    last_resolved[seg_tix[last]] = seg_resolved[last]
    final_stop = np.full(n, NAT_NS, dtype=np.int64)
    if len(seg_tix):
        # The latest end of an unresolved segment per ticket (NAT_NS, the smallest
        # int64, where there is none): one reduceat over each ticket's run of segments.
        runs = np.flatnonzero(np.r_[True, last[:-1]])
        unresolved_end = np.where(seg_resolved, NAT_NS, seg["seg_end"])
        final_stop[seg_tix[runs]] = np.maximum.reduceat(unresolved_end, runs)
    final_stop[~last_resolved] = NAT_NS
    first_stop = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_stop, seg_tix[seg_resolved], seg["seg_start"][seg_resolved])
    first_stop[first_stop == np.iinfo(np.int64).max] = NAT_NS
    no_history = np.bincount(seg_tix, minlength=n) <= 1
    field_resolved = np.asarray(ticket_cols["resolved"], dtype=np.int64)
    final_stop[no_history] = field_resolved[no_history]
    first_stop[no_history] = field_resolved[no_history]
    first_stop[first_stop == NAT_NS] = final_stop[first_stop == NAT_NS]
    reopens = np.bincount(seg_tix[seg["is_reopen"]], minlength=n).astype(np.int32)

    # Out of hours: the office calendar was closed at creation. The office calendar
    # is the policy version's, the same for every metric. At that instant: no open
    # time in its first nanosecond (a whole second would see an opening 0.5 s later).
    office = rules[METRICS[0]].office_calendar
    out_of_hours = np.zeros(n, dtype=bool)
    for name, mask in _calendar_groups(office, names.calendars):
        at = created[mask]
        out_of_hours[mask] = policy.calendar(name).working_ns(at, at + 1) == 0

    stops = {}
    for metric in METRICS:
        if metric == "first_response":
            stop = np.asarray(ticket_cols["replied"], dtype=np.int64).copy()
            no_reply = stop == NAT_NS
            stop[no_reply] = first_stop[no_reply]
        else:
            stop = np.where(rules[metric].first_resolution, first_stop, final_stop)
        # The clock cannot stop before it starts: a reply recorded before creation
        # (the loader accepts events up to a minute early) stops it at creation, so
        # the row counts in the month of creation, where a report looks for it.
        np.maximum(stop, np.where(stop == NAT_NS, NAT_NS, created), out=stop)
        stops[metric] = stop

    # Measure in blocks of tickets (and their segments, which come sorted by
    # ticket): the many whole-column steps then work on arrays that stay in cache
    # and reuse memory, where million-row temporaries are fresh memory each time.
    # Every instant measured lies between the earliest creation and as_of, so all
    # blocks share one clock range.
    clock_range = (
        int(min(created.min(), seg["seg_start"].min(initial=created.min()))),
        int(max(created.max(), as_of_ns)),
    )
    bounds = np.searchsorted(seg_tix, np.arange(0, n + MEASURE_BLOCK, MEASURE_BLOCK).clip(max=n))
    # Each block's results go straight to their rows of the chunk's result columns
    # (metric by metric, tickets in order within each).
    columns: dict[str, np.ndarray] = {
        "tix": np.tile(np.arange(lo, hi, dtype=np.int64), len(METRICS)),
        "metric": np.repeat(np.arange(len(METRICS), dtype=np.int64), n),
        "reopens": np.tile(reopens, len(METRICS)),
        "out_of_hours": np.tile(out_of_hours, len(METRICS)),
    }

    def measure(block: int) -> None:
        """Measure one block of tickets for every metric; write its rows of `columns`."""
        a, b = block * MEASURE_BLOCK, min(n, (block + 1) * MEASURE_BLOCK)
        block_seg = {k: v[bounds[block] : bounds[block + 1]] for k, v in seg.items()}
        block_seg["tix"] = block_seg["tix"] - a
        clocks = _Clocks(policy, block_seg, clock_range)
        for code, metric in enumerate(METRICS):
            measured = _measure_metric(
                metric,
                _Rules(**{f.name: getattr(rules[metric], f.name)[a:b] for f in fields(_Rules)}),
                names,
                policy,
                as_of_ns,
                created[a:b],
                stops[metric][a:b],
                block_seg,
                status_list,
                clocks,
            )
            for name, values in measured.items():
                if name not in columns:
                    columns[name] = np.empty(len(METRICS) * n, dtype=values.dtype)
                columns[name][code * n + a : code * n + b] = values

    # Blocks are independent and numpy lets go of the interpreter inside its
    # loops, so they are measured on every core (DuckDB waits meanwhile), each
    # thread writing its block's own rows. The first block runs alone: it makes
    # the result columns the others write into, and the shared tables of the
    # calendars it uses (threads racing to build one would only build it twice).
    measure(0)
    with ThreadPoolExecutor(max_workers=_measure_threads()) as pool:
        list(pool.map(measure, range(1, -(-n // MEASURE_BLOCK))))
    # An Arrow table over the columns as they are (a pandas frame would copy them
    # twice); NaN is missing, as DuckDB reads it from a pandas float column.
    return pa.table({name: pa.array(v, from_pandas=True) for name, v in columns.items()})


def _write_chunk(
    con: duckdb.DuckDBPyConnection, insert: str, params: dict, numeric: pa.Table
) -> int:
    """Insert a chunk's numeric results as rows (eval_results.sql); returns the
    number of rows kept (those in the months asked for)."""
    # Month names by lookup (a formatting call per row costs more than the
    # insert's whole string work otherwise): codes are yyyymm, the range short.
    month = numeric.column("month").to_numpy()
    month_base, month_last = int(month.min()), int(month.max())
    months = [f"{c // 100:04d}-{c % 100:02d}" for c in range(month_base, month_last + 1)]
    con.register("numeric_results", numeric)
    try:
        return con.execute(
            insert, {**params, "months": months, "month_base": month_base}
        ).fetchall()[0][0]
    finally:
        con.unregister("numeric_results")


def evaluate(
    con: duckdb.DuckDBPyConnection,
    policy: Policy | None = None,
    *,
    month_from: str | None = None,
    month_to: str | None = None,
    as_of: Any = None,
    force_version: str | None = None,
    store: bool = True,
    made_by: str = "evaluate",
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationRun:
    """Evaluate every ticket known at `as_of` (default: now) and keep the rows
    that count in months [month_from, month_to] (default: all).

    `progress`, when given, is called with (tickets done, tickets in scope)
    before the first chunk and after each one.

    With `store`, the run is recorded in `evaluations` and its rows in
    `sla_results` under a new evaluation id, in one transaction; without, the
    rows stay in a temporary table of this connection. `made_by` (one of
    MADE_BY) is recorded with a stored run, for `sla evaluations list`.
    Raises `EvaluationError` for a malformed month or an empty warehouse."""
    if made_by not in MADE_BY:
        raise ValueError(f"made_by: one of {', '.join(MADE_BY)}")
    policy = policy or Policy.default()
    tz = policy.report_timezone
    # Named by option: either month may be the one at fault.
    for month, option in ((month_from, "--from"), (month_to, "--to")):
        if month is not None:
            valid_month(month, option)
    from_code, to_code = _month_code(month_from, tz), _month_code(month_to, tz)
    if from_code is not None and to_code is not None and from_code > to_code:
        raise EvaluationError(f"the months run backwards: from {month_from} to {month_to}")
    if as_of is None:
        as_of_ts = pd.Timestamp.now(tz="UTC").floor("s")
    else:
        try:
            if isinstance(as_of, str) and not INSTANT_FORM.fullmatch(as_of):
                raise ValueError(as_of)
            # Text as the loader reads it (24:00, no digits below the microsecond).
            as_of_ts = read_instant(as_of) if isinstance(as_of, str) else pd.Timestamp(as_of)
        except (ValueError, TypeError, OverflowError):
            raise EvaluationError(
                f"malformed as-of instant {as_of!r}: use e.g. 2026-11-01T00:00 "
                f"(read in {tz}) or 2026-11-01T00:00Z; leave it out for now"
            ) from None
        if pd.isna(as_of_ts):
            raise EvaluationError(f"as-of instant {as_of!r} is not a time")
        utc_reading = as_of_ts if as_of_ts.tzinfo is None else as_of_ts.tz_convert(None)
        if not AS_OF_RANGE[0] <= utc_reading < AS_OF_RANGE[1]:
            raise EvaluationError(
                f"as-of instant {as_of!r} (--as-of) is outside the supported range: from "
                f"{AS_OF_RANGE[0].date()} up to {AS_OF_RANGE[1].date()}"
            )
        if as_of_ts.tzinfo is None:
            # A wall-clock reading, read as the loader reads one (instants.py).
            as_of_ts = localize_naive(pd.DatetimeIndex([as_of_ts]), tz)[0]
        as_of_ts = as_of_ts.tz_convert("UTC")
    forced_idx = None
    if force_version is not None:
        forced_idx = [v.version for v in policy.versions].index(
            policy.version(force_version).version
        )
    started = pd.Timestamp.now(tz="UTC")
    as_of_ns = int(as_of_ts.as_unit("ns").value)
    params = {"as_of": as_of_ts.to_pydatetime()}

    phases = _PhaseClock()
    fields = ", ".join(RULE_FIELDS)
    with phases.timed("scope"):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE scope AS SELECT *, "
            # A hash, not a rank: grouping tickets by their rule fields needs no sort.
            f"hash({fields}) AS rule_key "
            f"FROM ({read_sql('eval_scope.sql')})",
            params,
        )
        n = con.execute("SELECT count(*) FROM scope").fetchall()[0][0]
        if n == 0:
            con.execute("DROP TABLE scope")
            earliest = con.execute("SELECT min(created_at) FROM tickets").fetchall()[0][0]
            if earliest is None:
                raise EvaluationError(NO_TICKETS)
            first = pd.Timestamp(earliest).tz_convert("UTC").isoformat()
            raise EvaluationError(
                f"no ticket was created by {as_of_ts.isoformat()} (the as-of instant): the "
                f"earliest loaded was created {first}, so nothing was known then"
            )
        keys = con.execute(f"SELECT DISTINCT rule_key, {fields} FROM scope ORDER BY rule_key").df()
        status_list = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT new_value FROM ticket_events WHERE kind = 'status_change' "
                "AND new_value IS NOT NULL"
            ).fetchall()
        ]
    status_list = sorted({*status_list, "new", "open", *RESOLVED_STATUSES})
    names = _Names()
    table = f"eval_{uuid.uuid4().hex[:12]}"
    columns = ", ".join(RESULT_COLUMNS)
    evaluation_id = None
    # A stored run writes its rows straight into sla_results, in one transaction
    # with its `evaluations` row (a detour through a temporary table copied every
    # row a second time); an unstored one keeps them in a temporary table.
    if store:
        loads = _input_loads(con)
        con.execute("BEGIN TRANSACTION")
    else:
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT {columns} FROM sla_results LIMIT 0")
    try:
        if store:
            evaluation_id = int(
                con.execute(
                    "SELECT coalesce(max(evaluation_id), 0) + 1 FROM evaluations"
                ).fetchall()[0][0]
            )
            insert = f"INSERT INTO sla_results (evaluation_id, {columns}) SELECT $evaluation_id, *"
        else:
            insert = f"INSERT INTO {table} ({columns}) SELECT *"
        insert += f" FROM ({read_sql('eval_results.sql')})"
        insert_params = {
            **({"evaluation_id": evaluation_id} if store else {}),
            "metrics": list(METRICS),
            "versions": [v.version for v in policy.versions],
            "policy_hash": policy.hash,
            "calendars": names.calendars,
            "statuses": list(STATUS_NAMES),
            "rules": names.rules,
            "nat": NAT_NS,
            "month_from": from_code,
            "month_to": to_code,
        }
        rows = 0
        if progress is not None:
            progress(0, n)
        # Tickets are evaluated in chunks so memory stays bounded however large the
        # warehouse: a loop over chunks of a million tickets, never over tickets.
        for lo in range(0, n, CHUNK_TICKETS):
            hi = min(n, lo + CHUNK_TICKETS)
            with phases.timed("timelines"):
                ticket_cols, changes = _read_chunk(con, status_list, params, lo, hi)
            with phases.timed("measure"), _without_hugepage_advice():
                numeric = _measure_chunk(
                    ticket_cols,
                    changes,
                    policy,
                    keys,
                    names,
                    status_list,
                    as_of_ns,
                    forced_idx,
                    lo,
                    hi,
                )
            del ticket_cols, changes
            with phases.timed("write"):
                rows += _write_chunk(con, insert, insert_params, numeric)
            if progress is not None:
                progress(hi, n)
        if store:
            _record_run(
                con,
                evaluation_id,
                policy,
                loads,
                rows,
                as_of_ts,
                started,
                month_from,
                month_to,
                force_version,
                n,
                made_by,
            )
            con.execute("COMMIT")
    except BaseException:
        if store:
            con.execute("ROLLBACK")
        else:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS scope")
    return EvaluationRun(
        evaluation_id=evaluation_id,
        policy=policy,
        as_of=as_of_ts,
        month_from=month_from,
        month_to=month_to,
        forced_version=force_version,
        tickets_evaluated=n,
        rows=rows,
        con=con,
        table=table,
        phase_seconds=phases.seconds,
    )


def _record_run(
    con: duckdb.DuckDBPyConnection,
    evaluation_id: int,
    policy: Policy,
    loads: list[dict],
    rows: int,
    as_of: pd.Timestamp,
    started: pd.Timestamp,
    month_from: str | None,
    month_to: str | None,
    forced: str | None,
    tickets: int,
    made_by: str,
) -> None:
    """The run's row in `evaluations` (inside the caller's transaction)."""
    con.execute(
        f"INSERT INTO evaluations ({', '.join(RUN_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(RUN_COLUMNS))})",
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
            rows,
            started.to_pydatetime(),
            dt.datetime.now(dt.UTC),
            made_by,
        ],
    )
