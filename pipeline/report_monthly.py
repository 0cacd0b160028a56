"""The monthly compliance report: a typed context built from DuckDB aggregates,
rendered to one self-contained HTML file and an A4 PDF, in English or Dutch.

The context is computed first (`build_context`) and rendered second, so tests
check its numbers against the evaluation and the HTML through selectors. All
aggregation happens in SQL (`pipeline/sql/report_monthly_*.sql`): a month of a
large warehouse costs a few small result sets, not every ticket in Python.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import hashlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb
import jinja2
import numpy as np
import pandas as pd

from pipeline import __version__
from pipeline.breach_register import export_register
from pipeline.errors import EvaluationError
from pipeline.evaluate import (
    NO_TICKETS,
    evaluate,
    month_end_as_of,
    reusable_evaluation,
    valid_month,
)
from pipeline.i18n import Messages
from pipeline.i18n import calendar_named as _calendar_named
from pipeline.i18n import condition as _condition
from pipeline.i18n import status_named as _status
from pipeline.i18n import with_code as _with_code
from pipeline.load import sha256_of
from pipeline.metrics import compliance_interval
from pipeline.policy import METRICS, Metric, Policy, PolicyVersion, Threshold
from pipeline.retention import require_stored
from pipeline.sources.base import CHANNELS, PRIORITIES
from pipeline.status import outstanding
from pipeline.texttable import text_table
from pipeline.verify import SEAL, seal
from pipeline.warehouse import query

SLA_STATUSES = ("breached", "open_breached", "open_at_risk")
# Rows each breach list of the report shows. A month of a large desk, or a bad one,
# has tens of thousands (26,617 breaches in one month of 300,000 tickets under a
# strict policy: a 437-page PDF); management reads the first of them, and every row
# is in BREACHES_CSV beside the report.
BREACHES_LISTED = 250
BREACHES_CSV = "breaches.csv"
BREAKDOWN_ORDER = {"priority": PRIORITIES[::-1], "channel": CHANNELS}
JUDGED_VERSIONS_SQL = (
    "SELECT DISTINCT tier, metric, policy_version FROM sla_results"
    " WHERE evaluation_id = ? AND month = ? AND policy_version IS NOT NULL"
)


@dataclass(frozen=True)
class Cell:
    """One tier and metric in one month."""

    tier: str
    tier_label: str
    metric: str
    metric_label: str
    benchmark_only: bool
    tickets: int
    met: int
    breached: int
    excluded: int
    open: int
    without_target: int  # counted, not judged: no target (outage line) or no SLA at creation
    compliance: float | None
    ci_low: float | None
    ci_high: float | None
    within_target: float | None
    median_hours: float | None
    p90_hours: float | None
    change_month: float | None
    change_12m: float | None
    promise: str


COUNTS = ("tickets", "met", "breached", "excluded", "open", "without_target")
MEASURES = (
    "compliance",
    "ci_low",
    "ci_high",
    "within_target",
    "median_hours",
    "p90_hours",
    "change_month",
    "change_12m",
)


@dataclass(frozen=True)
class BreachRow:
    ticket_id: str
    customer_id: str
    tier_label: str
    metric_label: str
    status: str
    status_label: str
    deadline: str
    late_hours: str
    subject: str


@dataclass(frozen=True)
class MonthlyReportContext:
    lang: str
    month: str
    month_label: str
    evaluation_id: int
    as_of: str
    policy_name: str
    policy_hash: str
    policy_versions: tuple[str, ...]
    tier_set: str
    # The footnote on the tiers without an SLA: the tier they are measured against.
    benchmark_note: str
    trend_months: int
    cells: tuple[Cell, ...]
    sentences: tuple[str, ...]
    trend_charts: tuple[str, ...]
    distribution_charts: tuple[str, ...]
    by_priority: tuple[dict, ...]
    by_channel: tuple[dict, ...]
    outage_calls: int
    outage_billable: int
    breaches: tuple[BreachRow, ...]  # the first BREACHES_LISTED of breaches_total
    open_at_month_end: tuple[BreachRow, ...]  # the first BREACHES_LISTED of open_total
    breaches_total: int
    open_total: int
    loads: tuple[dict, ...]
    rejected: tuple[dict, ...]
    flagged: tuple[dict, ...]
    excluded: int
    excluded_it_release: int
    calendars: tuple[dict, ...]
    method_metrics: tuple[str, ...]
    inputs: tuple[dict, ...]

    @property
    def sla_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if not c.benchmark_only)


def _months_back(month: str, n: int) -> list[str]:
    end = pd.Period(month, "M")
    return [str(end - i) for i in range(n - 1, -1, -1)]


def ensure_evaluation(con: duckdb.DuckDBPyConnection, month: str, policy: Policy) -> int:
    """The evaluation behind a month's report: reused when one exists for the
    same policy, months, as-of instant (the month's end), input data and package
    version, else run. The first such one: a later equal run (`sla audit verify`
    stores one) must not change the report's evaluation number, nor its bytes.

    Its months run from the data's first: a ticket still open past a limit that
    passed before the 12 months shown counts in that early month, and the report
    must still list it as open at month end."""
    first = data_months(con, policy.report_timezone)[0] or month
    month_from = min(first, _months_back(month, 12)[0])
    as_of = month_end_as_of(month, policy.report_timezone)
    stored = reusable_evaluation(con, policy, as_of, month_from, month, exact=True)
    if stored is not None:
        return stored
    run = evaluate(
        con, policy, month_from=month_from, month_to=month, as_of=as_of, made_by="report"
    )
    return int(run.evaluation_id)


def data_months(con: duckdb.DuckDBPyConnection, tz: str) -> tuple[str | None, str | None]:
    """The first and last month (YYYY-MM in zone `tz`, not UTC) of the loaded data:
    up to the last month anything happened to a ticket (tickets created in October
    and answered or resolved in November count in a November report), not past now."""
    low, high = query(con, "report_data_months.sql", {"tz": tz}).fetchall()[0]
    return low, high


@dataclass(frozen=True)
class MonthlyData:
    """What the monthly report reads from the warehouse for one month, in every
    language alike: queried once and formatted per language (on a million tickets
    the queries take seconds, the formatting little)."""

    month: str
    evaluation_id: int
    as_of: dt.datetime
    policy_name: str
    policy_hash: str
    first_month: str  # the data's first month: the trend charts start there at the earliest
    cells: pd.DataFrame  # compliance_cells.sql by month, the 12 months up to `month`
    judged: tuple[tuple[str, str, str], ...]  # (tier, metric, policy version) of its rows
    breaches: pd.DataFrame  # report_monthly_breaches.sql: both lists, every row
    intake: pd.DataFrame  # report_monthly_intake.sql
    quantiles: pd.DataFrame  # report_monthly_quantiles.sql
    breakdowns: dict[str, pd.DataFrame]  # report_monthly_breakdown.sql per dimension
    quality: tuple  # report_monthly_quality.sql
    loads: pd.DataFrame  # report_monthly_inputs.sql
    rejected: pd.DataFrame  # outstanding rejected rows by reason
    flagged: pd.DataFrame  # outstanding flags by code
    policy_versions: tuple[str, ...]  # the versions that judged the month's rows


def monthly_data(
    con: duckdb.DuckDBPyConnection,
    month: str,
    *,
    policy: Policy | None = None,
    evaluation_id: int | None = None,
) -> MonthlyData:
    """Query what the monthly report of `month` shows, from `evaluation_id` or the
    evaluation a report of the month reuses (made when there is none).

    Raises `EvaluationError` for a warehouse without tickets, a month outside the
    data, or an evaluation that is not stored."""
    policy = policy or Policy.default()
    month = valid_month(month, "--month")
    if con.execute("SELECT count(*) FROM tickets").fetchall()[0][0] == 0:
        raise EvaluationError(NO_TICKETS)
    low, high = data_months(con, policy.report_timezone)
    if month < low or month > high:
        raise EvaluationError(
            f"month {month} is outside the loaded data ({low} to {high}): nothing to report"
        )
    if evaluation_id is None:
        evaluation_id = ensure_evaluation(con, month, policy)
    info = con.execute(
        "SELECT as_of, policy_name, policy_hash FROM evaluations WHERE evaluation_id = ?",
        [evaluation_id],
    ).fetchall()
    if not info:
        raise EvaluationError(f"no evaluation #{evaluation_id} in this warehouse")
    require_stored(con, evaluation_id)
    as_of, policy_name, policy_hash = info[0]
    months = _months_back(month, 12)
    params = {"evaluation_id": evaluation_id, "month": month, "month_from": months[0]}
    # As `sla status` counts them: rows of a reading a later one replaced are kept,
    # no longer outstanding.
    flagged = (
        outstanding(con, "flagged")
        .groupby("flag_code", as_index=False)["rows"]
        .sum()
        .rename(columns={"rows": "n"})
        .sort_values(["n", "flag_code"], ascending=[False, True])
    )
    return MonthlyData(
        month=month,
        evaluation_id=int(evaluation_id),
        as_of=as_of,
        policy_name=policy_name,
        policy_hash=policy_hash,
        first_month=low,
        cells=query(con, "compliance_cells.sql", {**params, "by_month": True}).df(),
        judged=tuple(con.execute(JUDGED_VERSIONS_SQL, [evaluation_id, month]).fetchall()),
        breaches=query(con, "report_monthly_breaches.sql", params).df(),
        intake=query(
            con, "report_monthly_intake.sql", {**params, "tz": policy.report_timezone}
        ).df(),
        quantiles=query(con, "report_monthly_quantiles.sql", params).df(),
        breakdowns={
            dimension: query(
                con, "report_monthly_breakdown.sql", {**params, "dimension": dimension}
            ).df()
            for dimension in BREAKDOWN_ORDER
        },
        quality=tuple(query(con, "report_monthly_quality.sql", params).fetchall()[0]),
        loads=query(con, "report_monthly_inputs.sql", {}).df(),
        rejected=outstanding(con, "rejected").rename(columns={"rows": "n"}),
        flagged=flagged,
        policy_versions=tuple(
            r[0]
            for r in con.execute(
                "SELECT DISTINCT policy_version FROM sla_results WHERE evaluation_id = ? "
                "AND month = ? AND policy_version IS NOT NULL ORDER BY 1",
                [evaluation_id, month],
            ).fetchall()
        ),
    )


def build_context(
    con: duckdb.DuckDBPyConnection,
    month: str,
    *,
    lang: str = "en",
    policy: Policy | None = None,
    evaluation_id: int | None = None,
    data: MonthlyData | None = None,
) -> MonthlyReportContext:
    """Everything the monthly report shows, as numbers and formatted text: `data`
    (queried by `monthly_data` for the same month, policy and evaluation) or
    queried here."""
    # Imported late, as WeasyPrint is: matplotlib takes 1-2 s to import, which every
    # sla command (status, audit ticket, ...) paid through cli's import of this module.
    from pipeline import charts

    policy = policy or Policy.default()
    month = valid_month(month)
    if data is None:
        data = monthly_data(con, month, policy=policy, evaluation_id=evaluation_id)
    elif data.month != month or evaluation_id not in (None, data.evaluation_id):
        raise ValueError("data: queried for another month or evaluation")
    m = Messages(lang)
    evaluation_id = data.evaluation_id
    as_of = data.as_of
    low = data.first_month
    months = _months_back(month, 12)
    cells = data.cells.copy()
    # The promises shown: those of each version judging tickets created in the
    # month (the first version for a month before it), with the date each began.
    in_month = policy.versions_in_months(month, month)
    version = in_month[0]
    # A cell's promise: that of each version in force during the month and each
    # its rows were judged by (a ticket created in June and answered in July was
    # judged by June's version).
    by_name = {v.version: v for v in policy.versions}
    judged: dict[tuple[str, str], list] = {}
    for tier, metric, name in data.judged:
        versions = judged.setdefault((tier, metric), list(in_month))
        if name in by_name and by_name[name] not in versions:
            versions.append(by_name[name])
    for versions in judged.values():
        versions.sort(key=lambda v: v.effective_from)
    tier_labels = {k: t.label for k, t in version.tiers.items()}
    tier_labels.setdefault("unknown", m("tier_unknown"))
    metric_labels = {name: m(name) for name in METRICS}

    def compliance(frame: pd.DataFrame) -> pd.Series:
        closed = frame["met"] + frame["breached"]
        return (frame["met"] / closed).where(closed > 0)

    cells["compliance"] = compliance(cells)
    current = cells[cells["month"] == month]
    # A tier is compared with its months of the same standing: an SLA figure with
    # SLA months, never with a benchmark-only month before its SLA began.
    by = ["tier", "metric", "benchmark_only"]
    previous = cells[cells["month"] == months[-2]].set_index(by)
    pooled = cells.groupby(by)[["met", "breached"]].sum()
    pooled_compliance = compliance(pooled)
    # Without an earlier month to average over, the 12-month average is this month
    # itself: no comparison, rather than a change of zero.
    earlier = cells[(cells["month"] < month) & (cells["met"] + cells["breached"] > 0)]
    with_history = set(
        zip(earlier["tier"], earlier["metric"], earlier["benchmark_only"], strict=True)
    )
    out_cells = []
    for row in current.sort_values(["benchmark_only", "tier", "metric"]).itertuples():
        key = (row.tier, row.metric, row.benchmark_only)
        closed = row.met + row.breached
        low_ci, high_ci = compliance_interval(
            row.met, closed, row.clusters, row.sum_k2, row.sum_kn, row.sum_n2
        )
        prev = previous["compliance"].get(key) if key in previous.index else None
        value = None if pd.isna(row.compliance) else float(row.compliance)
        out_cells.append(
            Cell(
                tier=row.tier,
                tier_label=tier_labels.get(row.tier, row.tier),
                metric=row.metric,
                metric_label=metric_labels[row.metric],
                benchmark_only=bool(row.benchmark_only),
                tickets=int(row.tickets),
                met=int(row.met),
                breached=int(row.breached),
                excluded=int(row.excluded),
                open=int(row.open),
                without_target=int(row.no_target),
                compliance=value,
                ci_low=None if closed == 0 else float(low_ci),
                ci_high=None if closed == 0 else float(high_ci),
                within_target=None if closed == 0 else row.met_target / closed,
                median_hours=None if pd.isna(row.median_seconds) else row.median_seconds / 3600,
                p90_hours=None if pd.isna(row.p90_seconds) else row.p90_seconds / 3600,
                change_month=None
                if value is None or prev is None or pd.isna(prev)
                else value - float(prev),
                change_12m=None
                if value is None or key not in with_history or pd.isna(pooled_compliance.get(key))
                else value - float(pooled_compliance[key]),
                promise=promises_text(
                    m,
                    policy,
                    judged.get((row.tier, row.metric), in_month),
                    row.tier,
                    row.metric,
                    benchmark=bool(row.benchmark_only),
                ),
            )
        )
    # A tier promised an SLA this month but without a ticket counted in it gets its
    # cards all the same: left out, it would look like a tier lost from the report.
    shown = {(c.tier, c.metric) for c in out_cells}
    for v in in_month:
        for tier, t in v.tiers.items():
            for metric in v.metrics:
                if t.has_sla and (tier, metric) not in shown:
                    shown.add((tier, metric))
                    out_cells.append(
                        Cell(
                            tier=tier,
                            tier_label=tier_labels.get(tier, t.label),
                            metric=metric,
                            metric_label=metric_labels[metric],
                            benchmark_only=False,
                            **dict.fromkeys(COUNTS, 0),
                            **dict.fromkeys(MEASURES),
                            promise=promises_text(
                                m, policy, in_month, tier, metric, benchmark=False
                            ),
                        )
                    )
    out_cells.sort(key=lambda c: (c.benchmark_only, c.tier, c.metric))

    breaches_df = data.breaches
    tz = policy.report_timezone

    def breach_rows(frame: pd.DataFrame) -> tuple[BreachRow, ...]:
        return tuple(
            BreachRow(
                ticket_id=r.ticket_id,
                customer_id=r.customer_id or "",
                tier_label=tier_labels.get(r.tier, r.tier),
                metric_label=metric_labels[r.metric],
                status=r.status,
                status_label=m(f"status_{r.status}"),
                deadline=m.datetime(None if pd.isna(r.deadline) else r.deadline, tz),
                late_hours=m.hours(
                    None if pd.isna(r.late_working_seconds) else r.late_working_seconds
                ),
                subject=r.subject or "",
            )
            for r in frame.itertuples()
        )

    closed_breaches = breaches_df[breaches_df["status"] == "breached"]
    open_rows = breaches_df[breaches_df["status"] != "breached"]
    around_the_clock = {
        name
        for name in closed_breaches["calendar"].unique()
        if policy.calendar(name).is_always_open()
    }
    # A version taking effect this month comes first: the change against last month
    # below then compares figures judged by two sets of promises.
    first_day = dt.date.fromisoformat(f"{month}-01")
    sentences = [
        m(
            "sentence_new_version",
            version=v.version,
            date=m.date(v.effective_from),
            description=m("quoted", text=v.description.strip()),
            previous=policy.versions[i - 1].version,
        )
        for i, v in enumerate(policy.versions)
        if i > 0 and v in in_month and v.effective_from >= first_day
    ]
    # Tickets, not rows: a ticket never answered is past both of its limits.
    past_limit = open_rows[open_rows["status"] == "open_breached"]
    sentences += _sentences(
        m, out_cells, closed_breaches, around_the_clock, open_past_limit=len(past_limit) > 0
    )
    sentences += _counted(m, "sentence_open_breached", past_limit["ticket_id"].nunique())
    sentences += _counted(
        m,
        "sentence_open_breached_earlier",
        past_limit.loc[past_limit["month"] < month, "ticket_id"].nunique(),
    )

    trend_frame = cells.assign(compliance=cells["compliance"])
    # From the first month of the data: months before it would be empty ticks.
    shown_months = [x for x in months if x >= low]
    labels = [m.short_month(x) for x in shown_months]
    # Where a later version took effect: on a month's boundary, or within the month.
    changes = [
        (index - 0.5 if v.effective_from.day == 1 else index, m("chart_version", version=v.version))
        for v in policy.versions[1:]
        for index, shown in enumerate(shown_months)
        if shown == v.effective_from.strftime("%Y-%m") and (index or v.effective_from.day > 1)
    ]
    trend_charts = []
    for metric in METRICS:
        part = trend_frame[(trend_frame["metric"] == metric)]
        trend_charts.append(
            charts.trend(
                part,
                shown_months,
                labels,
                title=m("chart_trend_title", metric=metric_labels[metric]),
                ylabel=m("chart_trend_y"),
                xlabel=m("chart_month"),
                tier_labels=tier_labels,
                decimal=m.decimal,
                empty_text=m("chart_trend_empty"),
                changes=changes,
            )
        )
    # Intake by the month of creation: counted by the month a row counts in, the
    # report's month would also hold every ticket still open, which later months
    # (since closed) no longer do.
    volume = data.intake
    trend_charts.append(
        charts.trend(
            volume,
            shown_months,
            labels,
            title=m("chart_volume_title"),
            ylabel=m("chart_volume_y"),
            xlabel=m("chart_month"),
            tier_labels=tier_labels,
            value="tickets",
            percent=False,
            decimal=m.decimal,
        )
    )
    quantiles = data.quantiles
    distribution_charts = []
    for metric in METRICS:
        part = quantiles[quantiles["metric"] == metric]
        spec = version.metrics.get(metric)
        # The lines show the promise the tiers without an SLA are measured against:
        # the metric's benchmark tier, which a policy may name otherwise than Business.
        benchmark = spec.targets.get(spec.benchmark_tier) if spec else None
        t_s, l_s = (
            policy.threshold_seconds(benchmark, spec.calendar_name) if benchmark else (None, None)
        )
        distribution_charts.append(
            charts.distribution(
                {r.tier: np.asarray(r.q, float) for r in part.itertuples()},
                title=m("chart_dist_title", metric=metric_labels[metric]),
                xlabel=m("chart_dist_x"),
                ylabel=m("chart_dist_y"),
                tier_labels=tier_labels,
                target_hours=None if t_s is None else t_s / 3600,
                limit_hours=None if l_s is None or l_s == t_s else l_s / 3600,
                target_label=(
                    f"{m('chart_target')} ({tier_labels.get(spec.benchmark_tier, '')})"
                    if benchmark
                    else m("chart_target")
                ),
                limit_label=m("chart_limit"),
                decimal=m.decimal,
                empty_text=m("chart_dist_empty"),
            )
        )

    def breakdown(dimension: str) -> tuple[dict, ...]:
        frame = data.breakdowns[dimension].copy()
        # Most urgent priority first, channels as documented; a value not recorded last.
        order = BREAKDOWN_ORDER[dimension]
        frame["rank"] = frame["value"].map({v: i for i, v in enumerate(order)}).fillna(len(order))
        frame = frame.sort_values(["metric", "rank", "value"], kind="stable")
        return tuple(
            {
                "metric": metric_labels[r.metric],
                "value": m.code(dimension, r.value),
                "met": int(r.met),
                "breached": int(r.breached),
                "open": int(r.open),
                "compliance": m.pct(r.met / (r.met + r.breached) if r.met + r.breached else None),
            }
            for r in frame.itertuples()
        )

    quality = data.quality
    loads = data.loads
    rejected = data.rejected
    flagged = data.flagged
    first = dt.date.fromisoformat(f"{month}-01")
    last = (pd.Timestamp(first) + pd.offsets.MonthEnd(1)).date()
    calendars = []
    # The metrics' calendars, then the outage line's (its calls are timed on it).
    timed_on = sorted({metric.calendar_name for metric in version.metrics.values()})
    if version.outage_line is not None and version.outage_line.calendar not in timed_on:
        timed_on.append(version.outage_line.calendar)
    for name in timed_on:
        cal = policy.calendar(name)
        hours = "; ".join(
            f"{m.weekday(i)} {' '.join(spans)}"
            for i, spans in enumerate(cal.describe_hours().values())
            if spans
        )
        closed = cal.holidays_between(
            first,
            last,
            language="en_US" if lang == "en" else lang,
            closed_date=m("closed_date"),
        )
        # Hours closed or opened besides (a short last day of the year): they move
        # deadlines as holidays do, so the reader must see them too.
        spans = [
            m(f"method_{label}", span=_local_span(m, start, end))
            for start, end, label in cal.exception_spans(first, last)
        ]
        calendars.append(
            {
                "text": (
                    m("method_calendar_always", calendar=_calendar_named(m, name))
                    if cal.is_always_open()
                    else m(
                        "method_calendar",
                        calendar=_calendar_named(m, name),
                        tz=cal.timezone,
                        hours=hours,
                    )
                ),
                "holidays": (
                    m("method_holidays", days=", ".join(f"{m.date(d)} ({n})" for d, n in closed))
                    if closed
                    else m("method_no_holidays")
                )
                + ("".join(" " + text for text in spans)),
            }
        )
    versions = data.policy_versions
    # Every tier with an SLA in a version in force during the month, in the order
    # of the month's last version.
    with_sla = {k for v in in_month for k, t in v.tiers.items() if t.has_sla}
    sla_tiers = [
        tier_labels.get(k, t.label) for k, t in in_month[-1].tiers.items() if k in with_sla
    ] + [tier_labels.get(k, k) for k in sorted(with_sla - set(in_month[-1].tiers))]
    return MonthlyReportContext(
        lang=lang,
        month=month,
        month_label=m.month(month),
        evaluation_id=int(evaluation_id),
        as_of=m.datetime(as_of, tz),
        policy_name=data.policy_name,
        policy_hash=data.policy_hash,
        policy_versions=versions,
        tier_set=", ".join(sla_tiers),
        benchmark_note=m(
            "benchmark_only",
            tier=" / ".join(
                dict.fromkeys(
                    tier_labels.get(spec.benchmark_tier, spec.benchmark_tier)
                    for spec in version.metrics.values()
                )
            ),
        ),
        trend_months=len(shown_months),
        cells=tuple(out_cells),
        sentences=tuple(sentences),
        trend_charts=tuple(trend_charts),
        distribution_charts=tuple(distribution_charts),
        by_priority=breakdown("priority"),
        by_channel=breakdown("channel"),
        outage_calls=int(quality[2]),
        outage_billable=int(quality[3]),
        breaches=breach_rows(closed_breaches.head(BREACHES_LISTED)),
        open_at_month_end=breach_rows(open_rows.head(BREACHES_LISTED)),
        breaches_total=len(closed_breaches),
        open_total=len(open_rows),
        # Codes in the reader's words, each code kept beside them: it is what
        # `sla status --rejected` and the docs name.
        loads=tuple(
            {**r, "kind_label": m.code("kind", r["kind"])} for r in loads.to_dict("records")
        ),
        rejected=tuple(
            {**r, "reason_label": m.code("reason", r["reason_code"])}
            for r in rejected.to_dict("records")
        ),
        flagged=tuple(
            {**r, "flag_label": m.code("flag", r["flag_code"])} for r in flagged.to_dict("records")
        ),
        excluded=int(quality[0]),
        excluded_it_release=int(quality[1]),
        calendars=tuple(calendars),
        method_metrics=method_metrics(m, policy, version),
        inputs=tuple(
            {"path": r["path"], "sha256": r["sha256"]}
            for r in loads.to_dict("records")
            if not r["unchanged"]
        ),
    )


def promises_text(
    m: Messages, policy: Policy, versions: list, tier: str, metric_name: str, *, benchmark: bool
) -> str:
    """The promise of each version in force during the month ('24 working hours;
    4 working hours from 15 October 2026'), once when they agree."""
    texts = []
    for v in versions:
        metric = v.metrics.get(metric_name)
        threshold = None
        if metric is not None:
            threshold = metric.targets.get(metric.benchmark_tier if benchmark else tier)
        text = promise_text(m, threshold, metric)
        if threshold is not None:
            text = _with_overrides(m, policy, text, v, metric)
        texts.append((text, v.effective_from))
    return by_version(m, texts)


def _with_overrides(m: Messages, policy: Policy, text: str, version, metric) -> str:
    """A promise with what overrides it for some tickets: per-priority targets and
    the outage line's own target ('target 3, limit 7 working days (Critical: 1
    working day)'); without them a breach judged by an override looks unexplained."""
    overrides = [
        m("promise_override", name=m.code("priority", p), promise=promise_text(m, t, metric))
        for p, t in sorted(
            metric.by_priority.items(), key=lambda item: BREAKDOWN_ORDER["priority"].index(item[0])
        )
    ]
    line = version.outage_line
    if (
        metric.name == "first_response"
        and line is not None
        and line.first_response_target_hours is not None
        and metric.name in line.applies_to
    ):
        hours = line.first_response_target_hours
        # Outage calls are timed on the line's calendar: 24/7 counts clock hours.
        always = policy.calendar(line.calendar).is_always_open()
        clock = "clock" if always else metric.clock
        promise = promise_text(m, Threshold(hours, hours, "hours"), replace(metric, clock=clock))
        overrides.append(m("promise_override", name=m("outage_line"), promise=promise))
    return (
        m("promise_with_overrides", promise=text, overrides="; ".join(overrides))
        if overrides
        else text
    )


def method_metrics(m: Messages, policy: Policy, version: PolicyVersion) -> tuple[str, ...]:
    """How each metric of `version` is measured, in the reader's words, from the
    policy itself: a report whose policy pauses other statuses, stops at the first
    resolution or counts clock time must not describe the default one."""
    tier_labels = {k: t.label for k, t in version.tiers.items()}
    out = []
    for name, metric in version.metrics.items():
        stop = "first_response" if name == "first_response" else metric.reopen_rule
        counted = "method_clock" if metric.clock == "clock" else "method_working"
        out.append(
            m(
                counted,
                metric=m(name),
                stop=m(f"method_stop_{stop}"),
                calendar=m.calendar(metric.calendar_name),
            )
        )
        if metric.pause_statuses:
            statuses = m.join(_status(m, s) for s in metric.pause_statuses)
            out.append(m("method_pause", statuses=statuses))
        if name != "first_response":
            out.append(m(f"method_reopen_{metric.reopen_rule}"))
        for rule in metric.exclude:
            condition = _condition(m, rule.field, rule.value, tier_labels)
            out.append(m("method_exclusion", condition=condition, rule=rule.rule))
    # A working day is a whole opening day of the calendar a target in days is
    # counted on (a day counted 24/7 is 24 hours, which needs no saying).
    day_calendars = sorted(
        {
            metric.calendar_name
            for metric in version.metrics.values()
            if metric.clock != "clock"
            and any(
                t.unit == "days" for t in (*metric.targets.values(), *metric.by_priority.values())
            )
        }
    )
    for name in day_calendars:
        hours = policy.calendar(name).working_day_seconds / 3600
        out.append(m("method_working_day", calendar=m.calendar(name), hours=m.quantity(hours)))
    line = version.outage_line
    if line is not None:
        match = m.join(_condition(m, k, v, tier_labels) for k, v in line.match.items())
        target = (
            m("method_outage_target", hours=m.quantity(line.first_response_target_hours))
            if line.first_response_target_hours is not None
            else m("method_outage_no_target")
        )
        out.append(
            m(
                "method_outage",
                match=match,
                calendar=m.calendar(line.calendar),
                metrics=m.join(m(name).lower() for name in line.applies_to),
                target=target,
                domain=_with_code(
                    m.word("cause_domain", line.billable_cause_domain)
                    or line.billable_cause_domain,
                    line.billable_cause_domain,
                ),
            )
        )
    return tuple(out)


def by_version(m: Messages, texts: Iterable[tuple[str, dt.date]]) -> str:
    """Texts of successive policy versions, each with the date it took effect, as
    one: a text said once for as long as it stays the same ('8 working hours; 4
    working hours from 1 July 2026')."""
    kept: list[tuple[str, dt.date]] = []
    for text, since in texts:
        if not kept or text != kept[-1][0]:
            kept.append((text, since))
    first, *later = kept
    return "; ".join([first[0]] + [m("promise_from", promise=t, date=m.date(d)) for t, d in later])


def promise_text(m: Messages, threshold: Threshold | None, metric: Metric) -> str:
    """A tier's promise as the reader's words ('8 working hours', 'target 3, limit 7
    working days'); '–' for none."""
    if threshold is None:
        return m("promise_none")
    target, limit = m.quantity(threshold.target), m.quantity(threshold.limit)
    # promise_[clock_](hours|days)[_one[_1]]: a clock metric counts 24/7 hours and
    # days; "_one" when target and limit are the same number, "_1" when that is 1.
    key = "promise_" + ("clock_" if metric.clock == "clock" else "") + threshold.unit
    if threshold.target == threshold.limit:
        key += "_one" + ("_1" if threshold.target == 1 else "")
    return m(key, target=target, limit=limit)


def _local_span(m: Messages, start: np.datetime64, end: np.datetime64) -> str:
    """A span of calendar time in the reader's words: '31 December 2026 12:00–17:30',
    '…22:00–24:00' when it ends at midnight."""
    a, b = pd.Timestamp(start), pd.Timestamp(end)
    if b <= a.normalize() + pd.Timedelta(days=1):
        until = "24:00" if b == a.normalize() + pd.Timedelta(days=1) else f"{b:%H:%M}"
        return f"{m.date(a.date())} {a:%H:%M}–{until}"
    return f"{m.date(a.date())} {a:%H:%M} – {m.date(b.date())} {b:%H:%M}"


def _counted(m: Messages, key: str, count: int) -> list[str]:
    """The sentence `key` for a count: none for 0, its "_one" form for 1."""
    if not count:
        return []
    return [m(f"{key}_one") if count == 1 else m(key, count=m.number(count))]


def _sentences(
    m: Messages,
    cells: list[Cell],
    breaches: pd.DataFrame,
    around_the_clock: set[str],
    *,
    open_past_limit: bool = False,
) -> list[str]:
    if not any(c.tickets for c in cells):
        # "No breaches" would read as good news: the truth is that nothing was measured.
        return [m("sentence_nothing_counted")]
    sla = [c for c in cells if not c.benchmark_only and c.compliance is not None]
    out = []
    changes = [c for c in sla if c.change_month is not None]
    if changes:
        big = max(changes, key=lambda c: (abs(c.change_month), c.tier, c.metric))
        out.append(
            m(
                "sentence_change",
                tier=big.tier_label,
                metric=big.metric_label.lower(),
                change=m.points(big.change_month),
                value=m.pct(big.compliance),
            )
        )
    else:
        out.append(m("sentence_no_change"))
    if sla and all(c.compliance == 1 for c in sla):
        # "Lowest compliance: ... at 100.0%" reads as a warning where there is none.
        out.append(m("sentence_all_met"))
    elif sla:
        worst = min(sla, key=lambda c: (c.compliance, c.tier, c.metric))
        out.append(
            m(
                "sentence_worst",
                tier=worst.tier_label,
                metric=worst.metric_label.lower(),
                value=m.pct(worst.compliance),
            )
        )
    if len(breaches):
        # The worst is the furthest past its limit as a share of it: late time is
        # counted in working hours on most calendars, in clock hours on a 24/7 one,
        # and the two do not compare.
        top = (
            breaches.assign(share=breaches["late_working_seconds"] / breaches["limit_seconds"])
            .sort_values(
                ["share", "late_working_seconds", "ticket_id"], ascending=[False, False, True]
            )
            .iloc[0]
        )
        out.append(
            m(
                "sentence_breaches_one" if len(breaches) == 1 else "sentence_breaches",
                count=m.number(len(breaches)),
                late=m.hours(top["late_working_seconds"]),
                unit=m(
                    "unit_clock_hours"
                    if top["calendar"] in around_the_clock
                    else "unit_working_hours"
                ),
                ticket=top["ticket_id"],
            )
        )
    else:
        # Beside tickets still open past their limit (said next), "no breaches" read
        # as a clean month.
        out.append(m("sentence_no_closed_breaches" if open_past_limit else "sentence_no_breaches"))
    return out


# ---------------------------------------------------------------- rendering


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


# The print layout's breach list is monospaced text (pipeline.texttable): 120
# cells of DejaVu Sans Mono at 7pt (0.602 em each) are 506pt, inside the 510pt
# (180mm) between the A4 page's margins; the CSS is in monthly.html.j2 (for_print).
PRINT_LINE_CELLS = 120
# Records of one line share a <pre> block of at most this many lines: a page
# may break between any two of its lines. WeasyPrint re-reads a block's
# remaining text for every line it breaks, so one block for the whole list
# would cost it time quadratic in the rows.
PRINT_BLOCK_LINES = 25


@dataclass(frozen=True)
class PrintBlock:
    """Lines of the printed breach list that WeasyPrint lays out as one block;
    `keep` when they are one record's lines, which a page must not split."""

    text: str
    keep: bool


@dataclass(frozen=True)
class PrintList:
    header: str
    blocks: tuple[PrintBlock, ...]


def print_breach_list(m: Messages, rows: tuple[BreachRow, ...]) -> PrintList:
    """A breach list as fixed-width text for the PDF: every row, every column,
    each cell wrapped (never cut) to its column."""
    table = text_table(
        [m(k) for k in ("ticket", "customer", "tier", "metric", "status", "deadline", "late_by")]
        + [m("subject")],
        [
            (
                b.ticket_id,
                b.customer_id,
                b.tier_label,
                b.metric_label,
                b.status_label,
                b.deadline,
                b.late_hours,
                b.subject,
            )
            for b in rows
        ],
        total=PRINT_LINE_CELLS,
        right=(6,),
    )
    blocks: list[PrintBlock] = []
    run: list[str] = []  # one-line records waiting for their shared block
    for lines in table.records:
        if run and (len(lines) > 1 or len(run) == PRINT_BLOCK_LINES):
            blocks.append(PrintBlock("\n".join(run), keep=False))
            run = []
        if len(lines) > 1:
            blocks.append(PrintBlock("\n".join(lines), keep=True))
        else:
            run.append(lines[0])
    if run:
        blocks.append(PrintBlock("\n".join(run), keep=False))
    return PrintList("\n".join(table.header), tuple(blocks))


def render_html(context: MonthlyReportContext, *, for_print: bool = False) -> str:
    """The report as one self-contained HTML document. `for_print` gives the
    markup the PDF is rendered from: the same report, with the breach lists as
    fixed-width text under a column header repeated at the top of every page."""
    m = Messages(context.lang)
    print_lists = (
        (print_breach_list(m, context.breaches), print_breach_list(m, context.open_at_month_end))
        if for_print
        else None
    )
    return (
        _environment()
        .get_template("monthly.html.j2")
        .render(
            c=context,
            m=m,
            for_print=for_print,
            print_lists=print_lists,
            breaches_csv=BREACHES_CSV,
        )
    )


# The "modified" time written into the fonts embedded in a PDF (see render_pdf):
# 2020-01-01T00:00Z, any fixed instant would do.
PDF_FONT_EPOCH = "1577836800"


def render_pdf(html: str, path: Path) -> None:
    from weasyprint import HTML  # imported late: it loads Pango, only needed for PDF

    # WeasyPrint allocates a few objects per box and keeps nearly all of them
    # until the PDF is written, so the cyclic collector keeps rescanning a growing
    # heap and frees almost nothing: a quarter of the time for a month with a
    # thousand breach rows (bench_report), with the same peak memory. Reference
    # counting still frees everything acyclic; the collector resumes afterwards.
    collecting = gc.isenabled()
    gc.disable()
    # The subset fonts WeasyPrint embeds carry their own "modified" time, the
    # moment of rendering (fontTools), so the same report gave different bytes
    # every run. fontTools takes that time from SOURCE_DATE_EPOCH when set (the
    # reproducible-builds convention): a fixed one makes the PDF depend on the
    # report alone. One the user set is kept.
    epoch_set = "SOURCE_DATE_EPOCH" in os.environ
    if not epoch_set:
        os.environ["SOURCE_DATE_EPOCH"] = PDF_FONT_EPOCH
    try:
        HTML(string=html).write_pdf(path)
    finally:
        if not epoch_set:
            del os.environ["SOURCE_DATE_EPOCH"]
        if collecting:
            gc.enable()


def write_document(
    html: str,
    folder: Path,
    stem: str,
    formats: tuple[str, ...],
    *,
    print_html: str | None = None,
) -> list[Path]:
    """<folder>/<stem>.html and/or .pdf: the PDF from `print_html` when given
    (a print layout of the same report), else from `html`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if "html" in formats:
        written.append(folder / f"{stem}.html")
        written[-1].write_text(html, "utf-8")
    if "pdf" in formats:
        written.append(folder / f"{stem}.pdf")
        render_pdf(html if print_html is None else print_html, written[-1])
    return written


def figures_csv(context: MonthlyReportContext) -> str:
    """The report's figures as CSV: one row per tier and metric, raw values."""
    buffer = io.StringIO()
    fields = [f for f in Cell.__dataclass_fields__ if f not in LANGUAGE_FIELDS]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for cell in context.cells:
        writer.writerow({k: v for k, v in asdict(cell).items() if k in fields})
    return buffer.getvalue()


LANGUAGE_FIELDS = ("tier_label", "metric_label", "promise")
BREACH_CSV_COLUMNS = (
    "list",
    "ticket_id",
    "customer_id",
    "tier",
    "metric",
    "status",
    "month",
    "priority",
    "channel",
    "calendar",
    "deadline",
    "clock_stop",
    "elapsed_working_seconds",
    "limit_seconds",
    "late_working_seconds",
    "subject",
)


def write_breaches_csv(
    con: duckdb.DuckDBPyConnection,
    context: MonthlyReportContext,
    tz: str,
    path: Path,
    *,
    data: MonthlyData | None = None,
) -> Path:
    """Every row of the report's two breach lists, not only the BREACHES_LISTED
    each shows, in their order: `list` is `breaches` or `open_at_month_end`,
    instants in zone `tz`, times in seconds. Written as the breach register's CSV
    (`export_register`: ISO 8601 instants with their offset, text neutralised for
    spreadsheets, a byte-order mark for Excel). One file for every language:
    codes, not labels. From `data`'s rows when given (the report's own query)."""
    return write_breach_lists(
        con,
        context.evaluation_id,
        context.month,
        tz,
        path,
        rows=None if data is None else data.breaches,
    )


def write_breach_lists(
    con: duckdb.DuckDBPyConnection,
    evaluation_id: int,
    month: str,
    tz: str,
    path: Path,
    *,
    rows: pd.DataFrame | None = None,
) -> Path:
    """`write_breaches_csv` for an evaluation and month without a rendered report:
    `sla audit verify` writes the re-run's lists this way to compare them with the
    `breaches.csv` the manifest names. `rows`: the month's breach query already run
    (`MonthlyData.breaches`), not run again."""
    frame = (
        query(
            con,
            "report_monthly_breaches.sql",
            {"evaluation_id": evaluation_id, "month": month},
        ).df()
        if rows is None
        else rows.copy()
    )
    listed_in = np.where(frame["status"] == "breached", "breaches", "open_at_month_end")
    frame.insert(0, "list", listed_in)
    for col in ("deadline", "clock_stop"):
        frame[col] = pd.to_datetime(frame[col], utc=True).dt.tz_convert(tz)
    return export_register(frame[list(BREACH_CSV_COLUMNS)], path, "csv")


def figure_hash(value: object, language_fields: tuple[str, ...]) -> str:
    """sha256 of a figure's numbers, leaving out its language-dependent labels (at
    any depth)."""

    def numbers(v: object) -> object:
        if isinstance(v, dict):
            return {k: numbers(x) for k, x in v.items() if k not in language_fields}
        return v

    return hashlib.sha256(
        json.dumps(numbers(value), sort_keys=True, default=str).encode()
    ).hexdigest()


def _figure_hash(cell: Cell) -> str:
    return figure_hash(asdict(cell), LANGUAGE_FIELDS)


def write_manifest(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    report: str,
    params: dict,
    evaluation_id: int,
    figures: dict[str, str],
    extra: dict | None = None,
    documents: Sequence[Path] = (),
) -> Path:
    """What a rendered report rests on, for `sla audit verify`: the evaluation,
    its policy hash and as-of instant, the input files, a hash per figure, and
    the hash of each rendered document (`documents`, in the manifest's folder):
    rendering is byte-stable, so a document that no longer matches was changed."""
    info = con.execute(
        "SELECT policy_hash, as_of, input_loads, input_fingerprint FROM evaluations "
        "WHERE evaluation_id = ?",
        [evaluation_id],
    ).fetchall()[0]
    # The inputs the evaluation read, not the warehouse's loads now: a report
    # rendered from an older evaluation must not claim files loaded since.
    # A file loaded twice unchanged is listed once, under its first load.
    # Each reading of a file is listed (a file read again with another zone is another
    # input); inputs recorded before readings were: each file once, under its first load.
    first_load: dict[str, dict] = {}
    for load in json.loads(info[2]):
        entry = {"path": load["path"], "sha256": load["sha256"]}
        if "reading" in load:
            first_load[f"{load['sha256']}:{load['reading']}:{load['load_id']}"] = {
                **entry,
                "reading": load["reading"],
            }
        else:
            first_load.setdefault(load["sha256"], entry)
    inputs = list(first_load.values())
    manifest = {
        "report": report,
        **params,
        "evaluation_id": evaluation_id,
        "policy_hash": info[0],
        "as_of": pd.Timestamp(info[1]).tz_convert("UTC").isoformat(),
        "package_version": __version__,
        "inputs": inputs,
        "input_fingerprint": info[3],
        "figures": figures,
        **(extra or {}),
        "documents": {doc.name: sha256_of(doc) for doc in documents},
    }
    manifest = json.loads(json.dumps(manifest, default=str))  # as it will be read back
    manifest[SEAL] = seal(manifest)
    path.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return path


def write_monthly_report(
    con: duckdb.DuckDBPyConnection,
    month: str,
    *,
    langs: tuple[str, ...] = ("en",),
    formats: tuple[str, ...] = ("html", "pdf"),
    out_dir: str | Path = "reports",
    policy: Policy | None = None,
) -> list[Path]:
    """Write reports/<month>/sla-report.<lang>.{html,pdf}, figures.csv, breaches.csv
    (every row of the breach lists) and manifest.json."""
    policy = policy or Policy.default()
    month = valid_month(month, "--month")
    # Queried once: each language formats the same rows. Before the folder is made:
    # a month outside the data left an empty reports/<month>/ behind.
    data = monthly_data(con, month, policy=policy)
    folder = Path(out_dir) / month
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    context = None
    for lang in langs:
        context = build_context(con, month, lang=lang, policy=policy, data=data)
        written += write_document(
            render_html(context),
            folder,
            f"sla-report.{lang}",
            formats,
            print_html=render_html(context, for_print=True) if "pdf" in formats else None,
        )
    assert context is not None
    documents = list(written)
    figures = figures_csv(context)
    (folder / "figures.csv").write_text(figures, "utf-8")
    written.append(folder / "figures.csv")
    written.append(
        write_breaches_csv(con, context, policy.report_timezone, folder / BREACHES_CSV, data=data)
    )
    documents.append(folder / BREACHES_CSV)
    written.append(
        write_manifest(
            con,
            folder / "manifest.json",
            report="monthly",
            params={"month": month},
            evaluation_id=context.evaluation_id,
            figures={f"{c.tier}/{c.metric}": _figure_hash(c) for c in context.cells},
            extra={
                "policy_versions": list(context.policy_versions),
                "figures_csv_sha256": hashlib.sha256(figures.encode()).hexdigest(),
            },
            documents=documents,
        )
    )
    return written
