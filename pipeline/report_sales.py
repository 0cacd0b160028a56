"""Reports for sales: what each tier is worth in real working times, and one
customer's honest upgrade case.

Both read one evaluation over a range of months (run first when none matches),
aggregate in DuckDB, and render through the same catalogue, charts and
templates as the monthly report.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline import __version__, charts
from pipeline.errors import AuditError
from pipeline.evaluate import (
    current_input_fingerprint,
    evaluate,
    month_end_as_of,
    month_start,
    valid_month,
)
from pipeline.i18n import Messages
from pipeline.metrics import wilson_interval
from pipeline.policy import METRICS, Policy, PolicyVersion, Threshold
from pipeline.report_monthly import (
    _environment,
    figure_hash,
    promise_text,
    write_document,
    write_manifest,
)
from pipeline.warehouse import query

H = 3600.0
TIER_ORDER = ("pioneer", "professional", "business", "premium")


def range_evaluation(
    con: duckdb.DuckDBPyConnection, month_from: str, month_to: str, policy: Policy
) -> int:
    """An evaluation covering the months, as of the end of the last one: the first
    one for the same policy, inputs and package version (as the monthly report's
    `ensure_evaluation`), else a new one."""
    as_of = month_end_as_of(month_to, policy.report_timezone)
    fingerprint = current_input_fingerprint(con)
    rows = con.execute(
        "SELECT evaluation_id FROM evaluations WHERE policy_hash = ? AND as_of = ? "
        "AND month_from <= ? AND month_to >= ? AND forced_version IS NULL "
        "AND input_fingerprint = ? AND package_version = ? AND finished_at IS NOT NULL "
        "ORDER BY evaluation_id LIMIT 1",
        [policy.hash, as_of.to_pydatetime(), month_from, month_to, fingerprint, __version__],
    ).fetchall()
    if rows:
        return int(rows[0][0])
    return int(
        evaluate(con, policy, month_from=month_from, month_to=month_to, as_of=as_of).evaluation_id
    )


def _axis_end(quantiles: list, *, percentile: int) -> float | None:
    """The x-axis end in hours: the largest `percentile`-th percentile, rounded up to 10 h."""
    ends = [q[percentile] for q in quantiles if q is not None and len(q) > percentile]
    return None if not ends else max(10.0, math.ceil(max(ends) / H / 10) * 10)


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value of a pooled two-proportion z-test (None without data)."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Yardstick:
    """A time the tiers are compared on ('within 8 h'), in the metric's own measure."""

    seconds: float
    label: str


def range_version(policy: Policy, month_from: str, month_to: str) -> PolicyVersion:
    """The version whose promises a report over the months shows: the one in force
    at the end of the range (the first version for a range before any)."""
    first, last = (dt.date.fromisoformat(f"{m}-01") for m in (month_from, month_to))
    return policy.versions_during(first, last)[-1]


def yardsticks(
    m: Messages, policy: Policy, version: PolicyVersion, metric: str
) -> tuple[Yardstick, ...]:
    """The fastest and the slowest promise of `metric` among the tiers with an SLA
    (targets and limits alike): with the published policy 8 h and 24 h for the first
    response, 3 and 7 working days for resolution. One when they are the same."""
    spec = version.metrics.get(metric)
    promised = (
        []
        if spec is None
        else [
            (amount, threshold.unit)
            for tier, threshold in spec.targets.items()
            if tier in version.tiers and version.tiers[tier].has_sla
            for amount in (threshold.target, threshold.limit)
        ]
    )
    if not promised:
        raise AuditError(
            f"policy version {version.version!r} promises no tier with an SLA a "
            f"{metric.replace('_', ' ')} target: nothing to compare the tiers on"
        )
    measured = {}
    for amount, unit in promised:
        seconds = policy.threshold_seconds(Threshold(amount, amount, unit), spec.calendar_name)[0]
        if unit == "hours":
            label = m("hours_short", n=m.quantity(amount))
        else:
            key = "days_clock_short" if spec.clock == "clock" else "days_short"
            label = m(key, n=m.quantity(amount))
        measured.setdefault(seconds, label)
    ends = sorted(measured)[:: max(len(measured) - 1, 1)]
    return tuple(Yardstick(seconds, measured[seconds]) for seconds in ends)


@dataclass(frozen=True)
class TierFigure:
    tier: str
    label: str
    price: str
    support: str
    has_sla: bool
    promise_first_response: str
    promise_resolution: str
    closed_first_response: int
    closed_resolution: int
    fr_median_h: float | None
    fr_p90_h: float | None
    res_median_h: float | None
    res_p90_h: float | None
    # (share, ci low, ci high) within each of the context's yardsticks.
    fr_within: tuple[tuple[float, float, float], ...]
    res_within: tuple[tuple[float, float, float], ...]
    # Is the difference with the tier below meaningful? Two-sided p-values of a
    # two-proportion z-test on the shares within the slowest yardstick of each
    # metric (None: no tier below, or no closed tickets).
    fr_p_vs_previous: float | None
    res_p_vs_previous: float | None
    vs_previous: str
    vs_previous_resolution: str


@dataclass(frozen=True)
class TiersContext:
    lang: str
    month_from: str
    month_to: str
    period_label: str
    evaluation_id: int
    policy_hash: str
    version: str  # whose promises and yardsticks are shown
    yardsticks: dict[str, tuple[Yardstick, ...]]  # per metric
    measured: str  # how each metric counts time, for the reader
    tiers: tuple[TierFigure, ...]
    distribution_chart: str
    trend_chart: str


def build_tiers_context(
    con: duckdb.DuckDBPyConnection,
    month_from: str,
    month_to: str,
    *,
    lang: str = "en",
    policy: Policy | None = None,
    evaluation_id: int | None = None,
) -> TiersContext:
    policy = policy or Policy.default()
    month_from, month_to = valid_month(month_from), valid_month(month_to)
    if month_from > month_to:
        raise AuditError(f"--from {month_from} is after --to {month_to}")
    m = Messages(lang)
    evaluation_id = evaluation_id or range_evaluation(con, month_from, month_to, policy)
    version = range_version(policy, month_from, month_to)
    sticks = {metric: yardsticks(m, policy, version, metric) for metric in METRICS}
    base = {"evaluation_id": evaluation_id, "month_from": month_from, "month_to": month_to}
    fr, res = (
        query(
            con,
            "report_tiers.sql",
            {**base, "metric": metric, "yardsticks": [y.seconds for y in sticks[metric]]},
        )
        .df()
        .set_index("tier")
        for metric in METRICS
    )

    def shares(frame, tier: str, metric: str) -> tuple[tuple[float, float, float], ...]:
        if tier not in frame.index or frame.loc[tier, "closed"] == 0:
            return tuple((math.nan, math.nan, math.nan) for _ in sticks[metric])
        n = int(frame.loc[tier, "closed"])
        out = []
        for k in frame.loc[tier, "within"]:
            low, high = wilson_interval(int(k), n)
            out.append((int(k) / n, float(low), float(high)))
        return tuple(out)

    def value(frame, tier: str, column: str) -> float | None:
        return None if tier not in frame.index else float(frame.loc[tier, column]) / H

    def promise(metric: str, tier: str) -> str:
        spec = version.metrics.get(metric)
        return promise_text(m, spec.targets.get(tier) if spec else None, spec)

    def vs_below(frame, tier: str, below: str | None) -> float | None:
        if below is None or tier not in frame.index or below not in frame.index:
            return None
        return two_proportion_p(
            int(frame.loc[tier, "within"][-1]),
            int(frame.loc[tier, "closed"]),
            int(frame.loc[below, "within"][-1]),
            int(frame.loc[below, "closed"]),
        )

    def significance(p: float | None) -> str:
        if p is None:
            return "–"
        shown = "< " + m.number(0.001, 3) if p < 0.001 else "= " + m.number(p, 3)
        return m("significant" if p < 0.05 else "not_significant", p=shown)

    def price(spec) -> str:
        # Prices are data (EUR per month); the words around them come from the catalogue.
        if spec.price_eur_month is None:
            return m("price_on_request")
        if spec.price_eur_month == 0:
            return m("price_free")
        return m("price_per_month", price=m.currency(spec.price_eur_month, "EUR"))

    figures = []
    previous = None
    for tier in TIER_ORDER:
        spec = version.tiers.get(tier)
        if spec is None:
            continue
        fr_p = vs_below(fr, tier, previous)
        res_p = vs_below(res, tier, previous)
        figures.append(
            TierFigure(
                tier=tier,
                label=spec.label,
                price=price(spec),
                support=spec.support_description,
                has_sla=spec.has_sla,
                promise_first_response=promise("first_response", tier),
                promise_resolution=promise("resolution", tier),
                closed_first_response=int(fr.loc[tier, "closed"]) if tier in fr.index else 0,
                closed_resolution=int(res.loc[tier, "closed"]) if tier in res.index else 0,
                fr_median_h=value(fr, tier, "median_seconds"),
                fr_p90_h=value(fr, tier, "p90_seconds"),
                res_median_h=value(res, tier, "median_seconds"),
                res_p90_h=value(res, tier, "p90_seconds"),
                fr_within=shares(fr, tier, "first_response"),
                res_within=shares(res, tier, "resolution"),
                fr_p_vs_previous=fr_p,
                res_p_vs_previous=res_p,
                vs_previous=significance(fr_p),
                vs_previous_resolution=significance(res_p),
            )
        )
        previous = tier
    quantiles = con.execute(
        "SELECT tier, quantile_cont(elapsed_working_seconds, [i / 100 FOR i IN range(0, 101)]) "
        "AS q FROM sla_results WHERE evaluation_id = ? AND month BETWEEN ? AND ? "
        "AND metric = 'first_response' AND clock_stop IS NOT NULL AND NOT outage_line "
        "GROUP BY tier",
        [evaluation_id, month_from, month_to],
    ).df()
    labels = {k: t.label for k, t in version.tiers.items()}
    distribution = charts.distribution(
        {r.tier: np.asarray(r.q, float) for r in quantiles.itertuples()},
        title=m("chart_dist_title", metric=m("first_response")),
        xlabel=m("chart_dist_x"),
        ylabel=m("chart_dist_y"),
        tier_labels=labels,
        target_hours=sticks["first_response"][0].seconds / H,
        limit_hours=sticks["first_response"][-1].seconds / H,
        target_label=sticks["first_response"][0].label,
        limit_label=sticks["first_response"][-1].label,
        # A long tail (tickets answered weeks later) would squeeze the part that
        # sells a tier into the left edge: cut at the slowest tier's 95th percentile.
        max_hours=_axis_end(quantiles["q"].tolist(), percentile=95),
    )
    monthly = con.execute(
        "SELECT month, tier, count(*) FILTER (WHERE elapsed_working_seconds <= ?) "
        "/ count(*) AS compliance FROM sla_results WHERE evaluation_id = ? "
        "AND month BETWEEN ? AND ? AND metric = 'first_response' AND clock_stop IS NOT NULL "
        "AND NOT outage_line GROUP BY month, tier",
        [sticks["first_response"][-1].seconds, evaluation_id, month_from, month_to],
    ).df()
    months = sorted(monthly["month"].unique())
    trend = charts.trend(
        monthly,
        months,
        [m.short_month(x) for x in months],
        title=m("chart_share_within", within=sticks["first_response"][-1].label),
        ylabel=m("chart_trend_y"),
        xlabel=m("chart_month"),
        tier_labels=labels,
    )
    policy_hash = con.execute(
        "SELECT policy_hash FROM evaluations WHERE evaluation_id = ?", [evaluation_id]
    ).fetchall()[0][0]
    return TiersContext(
        lang=lang,
        month_from=month_from,
        month_to=month_to,
        period_label=f"{m.month(month_from)} – {m.month(month_to)}",
        evaluation_id=evaluation_id,
        policy_hash=policy_hash,
        version=version.version,
        yardsticks=sticks,
        measured="; ".join(
            m(
                "measured_clock"
                if version.metrics[metric].clock == "clock"
                else "measured_working",
                metric=m(metric).lower(),
                calendar=version.metrics[metric].calendar_name,
            )
            for metric in METRICS
        ),
        tiers=tuple(figures),
        distribution_chart=distribution,
        trend_chart=trend,
    )


@dataclass(frozen=True)
class CustomerTicket:
    ticket_id: str
    metric: str
    tier: str
    status: str
    created: str
    elapsed_h: float
    covered: bool
    met_business: bool | None
    met_premium: bool | None
    subject: str


@dataclass(frozen=True)
class CustomerContext:
    lang: str
    customer_id: str
    name: str
    period_label: str
    evaluation_id: int
    tiers: str  # the customer's plans in the period, from the plan history
    tier_labels: dict[str, str]
    rows: tuple[CustomerTicket, ...]
    covered: dict[str, int]
    met_business: dict[str, int]
    met_premium: dict[str, int]


def build_customer_context(
    con: duckdb.DuckDBPyConnection,
    customer_id: str,
    month_from: str,
    month_to: str,
    *,
    lang: str = "en",
    policy: Policy | None = None,
    evaluation_id: int | None = None,
) -> CustomerContext:
    policy = policy or Policy.default()
    month_from, month_to = valid_month(month_from), valid_month(month_to)
    names = con.execute(
        "SELECT name FROM customers WHERE customer_id = ?", [customer_id]
    ).fetchall()
    if not names:
        raise AuditError(f"no customer {customer_id!r} in this warehouse")
    m = Messages(lang)
    evaluation_id = evaluation_id or range_evaluation(con, month_from, month_to, policy)
    frame = query(
        con,
        "report_customer.sql",
        {
            "evaluation_id": evaluation_id,
            "customer_id": customer_id,
            "month_from": month_from,
            "month_to": month_to,
        },
    ).df()
    version = range_version(policy, month_from, month_to)
    labels = {k: t.label for k, t in version.tiers.items()}
    limits = {
        tier: {
            metric: policy.threshold_seconds(
                version.metrics[metric].targets[tier],
                version.metrics[metric].calendar_name,
            )[1]
            for metric in METRICS
        }
        for tier in ("business", "premium")
    }
    tz = policy.report_timezone
    rows = []
    for r in frame.itertuples():
        closed = r.clock_stop is not None and r.clock_stop == r.clock_stop
        rows.append(
            CustomerTicket(
                ticket_id=r.ticket_id,
                metric=m(r.metric),
                tier=r.tier,
                status=r.status,
                created=m.datetime(r.clock_start, tz),
                elapsed_h=r.elapsed_working_seconds / H,
                covered=bool(r.covered),
                met_business=bool(r.elapsed_working_seconds <= limits["business"][r.metric])
                if r.covered and closed
                else None,
                met_premium=bool(r.elapsed_working_seconds <= limits["premium"][r.metric])
                if r.covered and closed
                else None,
                subject=r.subject or "",
            )
        )

    def count(attr: str) -> dict[str, int]:
        return {
            metric: sum(1 for row in rows if row.metric == m(metric) and getattr(row, attr))
            for metric in METRICS
        }

    return CustomerContext(
        lang=lang,
        customer_id=customer_id,
        name=names[0][0] or customer_id,
        period_label=f"{m.month(month_from)} – {m.month(month_to)}",
        evaluation_id=evaluation_id,
        tiers=_plans_in_period(con, customer_id, month_from, month_to, policy, labels, m),
        tier_labels=labels,
        rows=tuple(rows),
        covered=count("covered"),
        met_business=count("met_business"),
        met_premium=count("met_premium"),
    )


def _plans_in_period(
    con: duckdb.DuckDBPyConnection,
    customer_id: str,
    month_from: str,
    month_to: str,
    policy: Policy,
    labels: dict[str, str],
    m: Messages,
) -> str:
    """The customer's plans that overlap the period, from the plan history ("Professional
    until 28 February 2026, Business from 1 March 2026"): what sales talks about,
    whether or not each plan saw a ticket."""
    tz = policy.report_timezone
    start = month_start(month_from, tz)
    end = month_end_as_of(month_to, tz)
    plans = con.execute(
        "SELECT tier, valid_from, valid_to FROM plan_history WHERE customer_id = ? "
        "AND valid_from < ? AND (valid_to IS NULL OR valid_to > ?) ORDER BY valid_from",
        [customer_id, end.to_pydatetime(), start.to_pydatetime()],
    ).fetchall()
    parts = []
    for tier, valid_from, valid_to in plans:
        text = labels.get(tier, tier)
        since = pd.Timestamp(valid_from).tz_convert(tz)
        until = None if valid_to is None else pd.Timestamp(valid_to).tz_convert(tz)
        if since > start:
            text += " " + m("plan_from", date=m.date(since.date()))
        if until is not None and until < end:
            last_day = (until - pd.Timedelta(1, "ns")).date()
            text += " " + m("plan_until", date=m.date(last_day))
        parts.append(text)
    return ", ".join(parts) or "–"


def render(template: str, context: TiersContext | CustomerContext) -> str:
    return _environment().get_template(template).render(c=context, m=Messages(context.lang))


# Fields that depend on the language, not on the data: left out of figure hashes.
LANGUAGE_FIELDS = (
    "label",
    "price",
    "support",
    "promise_first_response",
    "promise_resolution",
    "vs_previous",
    "vs_previous_resolution",
    "metric",
    "created",
)


def sales_figures(context: TiersContext | CustomerContext) -> dict[str, str]:
    """A hash of every figure a sales report shows, independent of its language."""
    if isinstance(context, TiersContext):
        return {t.tier: figure_hash(asdict(t), LANGUAGE_FIELDS) for t in context.tiers}
    figures = {
        f"row/{r.ticket_id}/{i % 2}": figure_hash(asdict(r), LANGUAGE_FIELDS)
        for i, r in enumerate(context.rows)
    }
    for name in ("covered", "met_business", "met_premium"):
        figures[name] = figure_hash(getattr(context, name), ())
    return figures


def write_sales_report(
    con: duckdb.DuckDBPyConnection,
    context: TiersContext | CustomerContext,
    template: str,
    out_dir: str | Path,
    stem: str,
    formats: tuple[str, ...],
    params: dict,
) -> list[Path]:
    """The document(s) and a manifest `<stem>.manifest.json` beside them."""
    folder = Path(out_dir)
    written = write_document(render(template, context), folder, stem, formats)
    written.append(
        write_manifest(
            con,
            folder / f"{stem}.manifest.json",
            report=params["report"],
            params=params,
            evaluation_id=context.evaluation_id,
            figures=sales_figures(context),
            documents=list(written),
        )
    )
    return written
