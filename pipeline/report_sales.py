"""Reports for sales: what each tier is worth in real working times, and one
customer's honest upgrade case.

Both read one evaluation over a range of months (run first when none matches),
aggregate in DuckDB, and render through the same catalogue, charts and
templates as the monthly report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.errors import AuditError
from pipeline.evaluate import (
    NO_TICKETS,
    evaluate,
    month_end_as_of,
    month_range,
    month_start,
    reusable_evaluation,
)
from pipeline.i18n import Messages, condition
from pipeline.metrics import compliance_interval, design_effect
from pipeline.policy import METRICS, Policy, PolicyVersion, Threshold
from pipeline.report_monthly import (
    _environment,
    by_version,
    data_months,
    figure_hash,
    promise_text,
    promises_text,
    write_document,
    write_manifest,
)
from pipeline.retention import require_stored
from pipeline.warehouse import query

H = 3600.0
# Below this many closed tickets a tier's share, median or 90th percentile can swing
# by tens of points on one ticket (3 of 3 is "100%", its interval 44-100%): such
# figures are marked, and no two-proportion test is run on them (its normal
# approximation needs more tickets than that on each side).
FEW_TICKETS = 30
TIER_ORDER = ("pioneer", "professional", "business", "premium")
# Rows a policy version judged: tickets created before the first one are left out
# of what sales shows (nothing was promised then), and counted apart.
JUDGED = "coalesce(exclusion_rule, '') <> 'no_policy_in_force'"
UNJUDGED_SQL = (
    "SELECT count(DISTINCT ticket_id) FROM sla_results WHERE evaluation_id = ? "
    f"AND month BETWEEN ? AND ? AND NOT ({JUDGED})"
)

# Tickets of the range still open at its end: report_tiers.sql counts closed rows
# only, so the report says how many it left out, and how many of those have already
# passed the limit they are held to (a tier without an SLA: its benchmark's), as
# known misses the shares do not show.
STILL_OPEN_SQL = (
    "SELECT count(DISTINCT ticket_id), count(DISTINCT ticket_id) FILTER "
    "(WHERE coalesce(benchmark_status, status) = 'open_breached') FROM sla_results "
    "WHERE evaluation_id = ? AND month BETWEEN ? AND ? AND clock_stop IS NULL "
    f"AND status <> 'excluded' AND NOT outage_line AND {JUDGED}"
)

# The rows report_tiers.sql counts (closed, not excluded, no outage-line call, judged
# by a version), so that the charts draw the tickets the table counts.
CHARTED_ROWS = (
    "evaluation_id = $evaluation_id AND month BETWEEN $month_from AND $month_to "
    "AND metric = $metric AND clock_stop IS NOT NULL AND status <> 'excluded' "
    f"AND NOT outage_line AND {JUDGED}"
)
QUANTILES_SQL = (
    "SELECT tier, quantile_cont(elapsed_working_seconds, [i / 100 FOR i IN range(0, 101)]) "
    f"AS q FROM sla_results WHERE {CHARTED_ROWS} GROUP BY tier"
)
MONTHLY_SHARE_SQL = (
    "SELECT month, tier, count(*) FILTER (WHERE elapsed_working_seconds <= $within) "
    f"/ count(*) AS compliance FROM sla_results WHERE {CHARTED_ROWS} GROUP BY month, tier"
)


def chart_frames(
    con: duckdb.DuckDBPyConnection,
    evaluation_id: int,
    month_from: str,
    month_to: str,
    metric: str,
    within_seconds: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the tier report's charts draw: per tier the percentiles 0-100 of `metric`
    (`q`, seconds), and per month and tier the share within `within_seconds`."""
    params = {
        "evaluation_id": evaluation_id,
        "month_from": month_from,
        "month_to": month_to,
        "metric": metric,
    }
    quantiles = con.execute(QUANTILES_SQL, params).df()
    monthly = con.execute(MONTHLY_SHARE_SQL, {**params, "within": within_seconds}).df()
    return quantiles, monthly


def _within_data(con: duckdb.DuckDBPyConnection, month_from: str, month_to: str, tz: str) -> str:
    """Refuse a range that misses the loaded data altogether: a report of nothing,
    resting on an evaluation as of a month still to come, tells sales nothing.
    Returns the data's first month."""
    low, high = data_months(con, tz)
    if low is None:
        raise AuditError(NO_TICKETS)
    if month_to < low or month_from > high:
        raise AuditError(
            f"months {month_from} to {month_to} are outside the loaded data ({low} to "
            f"{high}): nothing to report"
        )
    if month_to > high:
        # Evaluated as of a month still to come, open tickets would be measured up
        # to an instant that has not happened.
        raise AuditError(
            f"the months reach past the loaded data ({low} to {high}): end the range at "
            f"{high} at the latest"
        )
    return low


def _period(m: Messages, month_from: str, month_to: str) -> str:
    """'October 2026' for one month, 'August 2026 – October 2026' for a range."""
    if month_from == month_to:
        return m.month(month_from)
    return f"{m.month(month_from)} – {m.month(month_to)}"


def _data_from(m: Messages, month_from: str, first_month: str) -> str:
    """A note when the range starts before the loaded data, else empty: a period
    label reaching back further than the tickets would overstate what was seen."""
    return m("data_from", month=m.month(first_month)) if month_from < first_month else ""


def range_evaluation(
    con: duckdb.DuckDBPyConnection, month_from: str, month_to: str, policy: Policy
) -> int:
    """An evaluation covering the months, as of the end of the last one: the first
    one for the same policy, inputs and package version (as the monthly report's
    `ensure_evaluation`), else a new one."""
    as_of = month_end_as_of(month_to, policy.report_timezone)
    stored = reusable_evaluation(con, policy, as_of, month_from, month_to, exact=False)
    if stored is not None:
        return stored
    return int(
        evaluate(
            con, policy, month_from=month_from, month_to=month_to, as_of=as_of, made_by="report"
        ).evaluation_id
    )


def _axis_end(quantiles: list, *, percentile: int) -> float | None:
    """The x-axis end in hours: the largest `percentile`-th percentile, rounded up to 10 h."""
    ends = [q[percentile] for q in quantiles if q is not None and len(q) > percentile]
    return None if not ends else max(10.0, math.ceil(max(ends) / H / 10) * 10)


def two_proportion_p(
    k1: int, n1: int, k2: int, n2: int, deff1: float = 1.0, deff2: float = 1.0
) -> float | None:
    """Two-sided p-value of a pooled two-proportion z-test (None without data), each
    side's variance widened by its design effect (`metrics.design_effect`: 1 for
    independent tickets)."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (deff1 / n1 + deff2 / n2))
    if se == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Yardstick:
    """A time the tiers are compared on ('within 8 h'), in the metric's own measure."""

    seconds: float
    label: str


def yardsticks(
    m: Messages, policy: Policy, versions: list[PolicyVersion], metric: str
) -> tuple[Yardstick, ...]:
    """Every promise of `metric` to a tier with an SLA (targets and limits alike) in
    the versions, fastest first: with the published policy 8 h and 24 h for the
    first response, 3 and 7 working days for resolution. Empty when none promises."""
    measured: dict[float, str] = {}
    for version in versions:
        spec = version.metrics.get(metric)
        if spec is None:
            continue
        for tier, threshold in spec.targets.items():
            if not version.promises(tier, metric):
                continue
            for amount in (threshold.target, threshold.limit):
                seconds = policy.threshold_seconds(
                    Threshold(amount, amount, threshold.unit), spec.calendar_name
                )[0]
                if threshold.unit == "hours":
                    label = m("hours_short", n=m.quantity(amount))
                else:
                    key = "days_clock_short" if spec.clock == "clock" else "days_short"
                    # "_1": within 1 working day, not "1 working days".
                    label = m(key + ("_1" if amount == 1 else ""), n=m.quantity(amount))
                measured.setdefault(seconds, label)
    return tuple(Yardstick(seconds, measured[seconds]) for seconds in sorted(measured))


def _tiers_of(versions: list[PolicyVersion]) -> dict:
    """Every tier of the versions, each as the latest of them defines it: a tier
    a version dropped mid-range is still shown for the months it was sold."""
    tiers: dict = {}
    for version in versions:
        tiers.update(version.tiers)
    return tiers


def _channel_list(m: Messages, channels: Sequence[str]) -> str:
    """A tier's support channels as a list in words: the first as a label, the rest
    as words inside a sentence ('Chat, e-mail en telefoon', not 'Chat, E-mail en
    Telefoon'); '–' for none."""
    words = [m.code("channel", c) for c in channels]
    return m.join(words[:1] + [m.in_sentence(w) for w in words[1:]]) or "–"


def _measured(m: Messages, versions: list[PolicyVersion], metric: str) -> str:
    """How `metric` counts time over the versions ('first response in working hours
    of the office calendar; clock hours from 15 March 2026')."""
    ways = [
        (
            m("hours_clock")
            if spec.clock == "clock"
            else m("hours_working", calendar=m.calendar(spec.calendar_name)),
            version.effective_from,
        )
        for version in versions
        if (spec := version.metrics.get(metric)) is not None
    ]
    return m("measured", metric=m(metric).lower(), how=by_version(m, ways))


def _outage_offer(
    m: Messages, policy: Policy, versions: list[PolicyVersion], tier: str, labels: dict[str, str]
) -> str:
    """What the 24/7 outage line offers `tier` over the versions, in words: its hours,
    the calls it takes, its first-response promise (none in the published policy)
    and when a call may be billed; '–' where the line does not take the tier's
    calls. Sales is asked what Premium adds here: the table must say it, even when
    the answer is 'the same as Business'."""
    texts = []
    for version in versions:
        line = version.outage_line
        if line is None or line.match.get("tier", tier) != tier:
            texts.append(("–", version.effective_from))
            continue
        calendar = policy.calendar(line.calendar)
        metric = version.metrics.get("first_response")
        hours = line.first_response_target_hours
        if hours is None or metric is None or "first_response" not in line.applies_to:
            promise = m("outage_no_promise")
        else:
            # Timed on the line's calendar: around the clock, clock hours.
            clock = "clock" if calendar.is_always_open() else metric.clock
            within = promise_text(m, Threshold(hours, hours, "hours"), replace(metric, clock=clock))
            promise = m("outage_promise", promise=within)
        texts.append(
            (
                m(
                    "outage_offer",
                    hours="24/7" if calendar.is_always_open() else m.calendar(line.calendar),
                    match=m.join(condition(m, k, v, labels) for k, v in line.match.items()),
                    promise=promise,
                    domain=m.code("cause_domain", line.billable_cause_domain),
                ),
                version.effective_from,
            )
        )
    return by_version(m, texts)


@dataclass(frozen=True)
class MetricFigure:
    """What one tier experienced of one metric."""

    promise: str
    closed: int
    median_h: float | None
    p90_h: float | None
    # (share, ci low, ci high) within each of the context's yardsticks of the metric.
    within: tuple[tuple[float, float, float], ...]
    # Is the difference with the tier below meaningful? Two-sided p-value of a
    # two-proportion z-test on the shares within the slowest yardstick (None: no
    # tier below, or no closed tickets), and that in words.
    p_vs_previous: float | None
    vs_previous: str

    @property
    def few(self) -> bool:
        """Too few closed tickets to read a share or a percentile from (but some)."""
        return 0 < self.closed < FEW_TICKETS


@dataclass(frozen=True)
class TierFigure:
    tier: str
    label: str
    price: str
    support: str
    channels: str  # the policy's support channels, in the reader's words
    outage_line: str  # what the 24/7 outage line offers the tier, in words (policy data)
    has_sla: bool
    metrics: dict[str, MetricFigure]


@dataclass(frozen=True)
class TiersContext:
    lang: str
    month_from: str
    month_to: str
    period_label: str
    evaluation_id: int
    policy_hash: str
    version: str  # whose tiers and prices are shown (in force at the end of the range)
    metrics: tuple[str, ...]  # those some version of the range promises an SLA tier
    yardsticks: dict[str, tuple[Yardstick, ...]]  # per metric
    measured: str  # how each metric counts time, for the reader
    tiers: tuple[TierFigure, ...]
    distribution_chart: str
    trend_chart: str
    unjudged: int = 0  # tickets created before the first version, left out
    still_open: int = 0  # tickets open at the end of the range, left out (STILL_OPEN_SQL)
    open_past_limit: int = 0  # of those, already past their limit: known misses
    first_version_from: str = ""  # that version's effective date, as the reader writes it
    data_from: str = ""  # a note when the range starts before the loaded data

    few_tickets: int = FEW_TICKETS  # the threshold of MetricFigure.few, for the note

    @property
    def any_few(self) -> bool:
        """Some tier's figures rest on too few tickets (MetricFigure.few)."""
        return any(f.few for t in self.tiers for f in t.metrics.values())

    @property
    def nothing_counted(self) -> bool:
        """No closed ticket in the range: no figure says anything."""
        return not any(f.closed for t in self.tiers for f in t.metrics.values())


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
    month_from, month_to = month_range(month_from, month_to, error=AuditError)
    m = Messages(lang)
    versions = policy.versions_in_months(month_from, month_to)
    version = versions[-1]
    tier_specs = _tiers_of(versions)
    sticks = {metric: yardsticks(m, policy, versions, metric) for metric in METRICS}
    metrics = tuple(metric for metric in METRICS if sticks[metric])
    if not metrics:
        names = ", ".join(v.version for v in versions)
        raise AuditError(
            f"policy version(s) {names} promise no tier with an SLA any target: "
            "nothing to compare the tiers on"
        )
    # Checked before evaluating: a report that cannot be made stores no evaluation.
    first_month = _within_data(con, month_from, month_to, policy.report_timezone)
    evaluation_id = evaluation_id or range_evaluation(con, month_from, month_to, policy)
    require_stored(con, evaluation_id)
    base = {"evaluation_id": evaluation_id, "month_from": month_from, "month_to": month_to}
    frames = {
        metric: query(
            con,
            "report_tiers.sql",
            {**base, "metric": metric, "yardsticks": [y.seconds for y in sticks[metric]]},
        )
        .df()
        .set_index("tier")
        for metric in metrics
    }

    def sums(frame, tier: str) -> tuple:
        """A tier's counts per yardstick and its per-customer sums (report_tiers.sql)."""
        row = frame.loc[tier]
        within = np.asarray(row["within"], float)
        return (
            within,
            row["closed"],
            row["clusters"],
            np.asarray(row["sum_k2"], float),
            np.asarray(row["sum_kn"], float),
            row["sum_n2"],
        )

    def deffs(frame, tier: str) -> np.ndarray:
        return design_effect(*sums(frame, tier))

    def shares(frame, tier: str, metric: str) -> tuple[tuple[float, float, float], ...]:
        if tier not in frame.index or frame.loc[tier, "closed"] == 0:
            return tuple((math.nan, math.nan, math.nan) for _ in sticks[metric])
        n = int(frame.loc[tier, "closed"])
        # On the effective number of tickets, as the monthly report's intervals: a tier
        # whose tickets come from a few customers knows less than its ticket count says.
        low, high = compliance_interval(*sums(frame, tier))
        within = frame.loc[tier, "within"]
        return tuple(
            (int(k) / n, float(lo), float(hi)) for k, lo, hi in zip(within, low, high, strict=True)
        )

    def value(frame, tier: str, column: str) -> float | None:
        return None if tier not in frame.index else float(frame.loc[tier, column]) / H

    def vs_below(frame, tier: str, below: str | None) -> float | None:
        if below is None or tier not in frame.index or below not in frame.index:
            return None
        return two_proportion_p(
            int(frame.loc[tier, "within"][-1]),
            int(frame.loc[tier, "closed"]),
            int(frame.loc[below, "within"][-1]),
            int(frame.loc[below, "closed"]),
            float(deffs(frame, tier)[-1]),
            float(deffs(frame, below)[-1]),
        )

    def significance(frame, p: float | None, tier: str, below: str | None) -> str:
        if p is None or below is None:
            return "–"
        if min(int(frame.loc[t, "closed"]) for t in (tier, below)) < FEW_TICKETS:
            return m("too_few_to_compare", n=FEW_TICKETS)
        # No-break spaces: a narrow column broke "(p <" from "0,001)".
        shown = "<\u00a0" + m.number(0.001, 3) if p < 0.001 else "=\u00a0" + m.number(p, 3)
        if p >= 0.05:
            return m("not_significant", p=shown)
        # A two-sided test: a tier that did worse than the one below it is as
        # "significant" as one that did better, and must not read as a selling point.
        share = {t: frame.loc[t, "within"][-1] / frame.loc[t, "closed"] for t in (tier, below)}
        key = "significantly_better" if share[tier] > share[below] else "significantly_worse"
        return m(key, p=shown, tier=tier_specs[below].label)

    def price(spec) -> str:
        # Prices are data (EUR per month); the words around them come from the catalogue.
        if spec.price_eur_month is None:
            return m("price_on_request")
        if spec.price_eur_month == 0:
            return m("price_free")
        return m("price_per_month", price=m.currency(spec.price_eur_month, "EUR"))

    labels = {k: t.label for k, t in tier_specs.items()}
    figures = []
    previous = None
    for tier in TIER_ORDER:
        spec = tier_specs.get(tier)
        if spec is None:
            continue
        per_metric = {}
        for metric in metrics:
            frame = frames[metric]
            p = vs_below(frame, tier, previous)
            per_metric[metric] = MetricFigure(
                promise=promises_text(m, policy, versions, tier, metric, benchmark=False),
                closed=int(frame.loc[tier, "closed"]) if tier in frame.index else 0,
                median_h=value(frame, tier, "median_seconds"),
                p90_h=value(frame, tier, "p90_seconds"),
                within=shares(frame, tier, metric),
                p_vs_previous=p,
                vs_previous=significance(frame, p, tier, previous),
            )
        figures.append(
            TierFigure(
                tier=tier,
                label=spec.label,
                price=price(spec),
                support=spec.support_description(lang),
                channels=_channel_list(m, spec.support),
                outage_line=_outage_offer(m, policy, versions, tier, labels),
                has_sla=spec.has_sla,
                metrics=per_metric,
            )
        )
        previous = tier
    # The charts show the first metric measured (the first response, unless the
    # policy promises none).
    from pipeline import charts  # imported late: see report_monthly.build_context

    charted = metrics[0]
    quantiles, monthly = chart_frames(
        con, evaluation_id, month_from, month_to, charted, sticks[charted][-1].seconds
    )
    distribution = charts.distribution(
        {r.tier: np.asarray(r.q, float) for r in quantiles.itertuples()},
        title=m("chart_dist_title", metric=m(charted)),
        xlabel=m("chart_dist_x"),
        ylabel=m("chart_dist_y"),
        tier_labels=labels,
        target_hours=sticks[charted][0].seconds / H,
        limit_hours=sticks[charted][-1].seconds / H,
        target_label=sticks[charted][0].label,
        limit_label=sticks[charted][-1].label,
        # A long tail (tickets answered weeks later) would squeeze the part that
        # sells a tier into the left edge: cut at the slowest tier's 95th percentile.
        max_hours=_axis_end(quantiles["q"].tolist(), percentile=95),
        decimal=m.decimal,
    )
    months = sorted(monthly["month"].unique())
    trend = charts.trend(
        monthly,
        months,
        [m.short_month(x) for x in months],
        title=m("chart_share_within", metric=m(charted), within=sticks[charted][-1].label),
        # A share of tickets within one yardstick, not compliance: the tiers without an
        # SLA are drawn too, and a tier whose own promise is faster (Premium's 8 h) is
        # held to it in the table, not here.
        ylabel=m("chart_dist_y"),
        xlabel=m("chart_month"),
        tier_labels=labels,
        decimal=m.decimal,
    )
    policy_hash = con.execute(
        "SELECT policy_hash FROM evaluations WHERE evaluation_id = ?", [evaluation_id]
    ).fetchall()[0][0]
    measured = [_measured(m, versions, metric) for metric in metrics]
    still_open, open_past_limit = con.execute(
        STILL_OPEN_SQL, [evaluation_id, month_from, month_to]
    ).fetchall()[0]
    return TiersContext(
        lang=lang,
        month_from=month_from,
        month_to=month_to,
        period_label=_period(m, month_from, month_to),
        data_from=_data_from(m, month_from, first_month),
        evaluation_id=evaluation_id,
        policy_hash=policy_hash,
        version=version.version,
        metrics=metrics,
        yardsticks=sticks,
        measured="; ".join(measured),
        tiers=tuple(figures),
        distribution_chart=distribution,
        trend_chart=trend,
        unjudged=con.execute(UNJUDGED_SQL, [evaluation_id, month_from, month_to]).fetchall()[0][0],
        still_open=still_open,
        open_past_limit=open_past_limit,
        first_version_from=m.date(policy.versions[0].effective_from),
    )


# Customers an unknown id may have meant: the id in another case ('c00001'), or
# customers whose name holds the text (sales knows "De Molen", not "C00001").
CUSTOMER_LIKE_SQL = """
SELECT customer_id, name FROM customers
WHERE lower(customer_id) = lower(trim($1))
   OR (length(trim($1)) >= 3 AND name ILIKE '%' || trim($1) || '%')
ORDER BY lower(customer_id) <> lower(trim($1)), customer_id
LIMIT 5
"""


@dataclass(frozen=True)
class CustomerTicket:
    ticket_id: str
    metric: str
    tier: str
    status: str
    created: str
    elapsed_h: float
    covered: bool
    open: bool  # no clock stop at the evaluation's as-of instant
    # Within the limit each SLA tier (context.sla_tiers) would have had for the row
    # (Policy.ticket_threshold); None: no promise would cover it, or open and not yet
    # past that tier's limit.
    met: tuple[bool | None, ...]
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
    metrics: tuple[str, ...]  # those the policy version measures
    sla_tiers: tuple[str, ...]  # the tiers whose promise each row is held against
    rows: tuple[CustomerTicket, ...]
    covered: dict[str, int]  # per metric
    still_open: dict[str, int]  # per metric: covered rows not yet closed
    met: dict[str, dict[str, int]]  # per SLA tier, per metric
    upgrade_case: tuple[str, ...]  # a sentence per metric
    data_from: str = ""  # a note when the range starts before the loaded data


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
    month_from, month_to = month_range(month_from, month_to, error=AuditError)
    names = con.execute(
        "SELECT name FROM customers WHERE customer_id = ?", [customer_id]
    ).fetchall()
    if not names:
        like = con.execute(CUSTOMER_LIKE_SQL, [customer_id]).fetchall()
        hint = (
            "; did you mean " + ", ".join(f"{cid} ({name})" for cid, name in like) + "?"
            if like
            else ""
        )
        raise AuditError(f"no customer {customer_id!r} in this warehouse{hint}")
    m = Messages(lang)
    versions = policy.versions_in_months(month_from, month_to)
    labels = {k: t.label for k, t in _tiers_of(versions).items()}
    metrics = tuple(metric for metric in METRICS if any(metric in v.metrics for v in versions))
    sla_tiers = tuple(
        tier
        for tier in TIER_ORDER
        if any(tier in v.tiers and v.tiers[tier].has_sla for v in versions)
    )
    if not sla_tiers:
        in_range = ", ".join(v.version for v in versions)
        raise AuditError(
            f"policy version(s) {in_range} have no tier with an SLA: there is no upgrade case "
            "to make"
        )

    # Checked before evaluating: a report that cannot be made stores no evaluation.
    first_month = _within_data(con, month_from, month_to, policy.report_timezone)
    evaluation_id = evaluation_id or range_evaluation(con, month_from, month_to, policy)
    require_stored(con, evaluation_id)
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
    frame = frame[frame["metric"].isin(metrics)].reset_index(drop=True)

    # A row is held against each SLA tier's limit as the version that judged it
    # (stored with the row) would have set it for that tier: the priority's
    # override, the outage line's own target and calendar, else the tier's target,
    # chosen as the evaluation chooses (Policy.ticket_threshold); decided once per
    # distinct combination, not per row.
    versions_by_name = {v.version: v for v in policy.versions}
    keys = ["policy_version", "metric", "priority", "outage_line"]

    def bound(combo, tier: str) -> float | None:
        """The limit `tier` would have had for rows of `combo` (one value per key)."""
        version, metric, priority, outage = combo
        v = versions_by_name.get(version) if isinstance(version, str) else None
        if v is None or not v.promises(tier, metric):
            return None
        priority = priority if isinstance(priority, str) else None
        return policy.ticket_threshold(v, metric, tier, priority, outage_line=bool(outage))[1]

    combos = frame[keys].drop_duplicates()
    limits = combos.assign(
        **{
            f"limit/{tier}": [bound(combo, tier) for combo in combos.itertuples(index=False)]
            for tier in sla_tiers
        }
    )
    frame = frame.merge(limits, on=keys, how="left", validate="many_to_one")
    # Rows no promise would cover are judged by no tier (None); an open row only by
    # a tier whose limit it has already passed (its clock only runs on: a miss).
    covered = frame["covered"].astype(bool)
    closed = frame["clock_stop"].notna()
    judged = covered & closed
    elapsed = frame["elapsed_working_seconds"]
    # Its own tier's verdict is its stored status. A row breached by a later cycle
    # (first_resolution) is judged by no other tier: that cycle's time is not stored.
    # A tier without an SLA is judged too, by its benchmark: its row is no tier's own.
    kept = frame["status"].isin(["met", "met_late_target"])
    own = {tier: frame["tier"] == tier for tier in sla_tiers}
    later_cycle = (
        judged & (frame["judged"] == "breached") & (elapsed <= frame["limit_seconds"].astype(float))
    )

    def verdicts(tier: str) -> pd.Series:
        limit = frame[f"limit/{tier}"].astype(float)
        met = (elapsed <= limit).where(~own[tier], kept).astype(object)
        past = (elapsed > limit).where(~own[tier], frame["status"] == "open_breached")
        decided = covered & limit.notna() & (closed | past)
        return met.mask(~decided | (later_cycle & ~own[tier]), None)

    met_rows = np.column_stack([verdicts(tier).to_numpy() for tier in sla_tiers])
    tz = policy.report_timezone
    rows = [
        CustomerTicket(
            ticket_id=r.ticket_id,
            metric=m(r.metric),
            tier=r.tier,
            status=r.status,
            created=m.datetime(r.clock_start, tz),
            elapsed_h=r.elapsed_working_seconds / H,
            covered=bool(r.covered),
            open=pd.isna(r.clock_stop),
            met=tuple(met),
            subject=r.subject or "",
        )
        for r, met in zip(frame.itertuples(), met_rows, strict=True)
    ]

    def per_metric(keep) -> dict[str, int]:
        return {
            metric: sum(1 for row in rows if row.metric == m(metric) and keep(row))
            for metric in metrics
        }

    covered = per_metric(lambda row: row.covered)
    still_open = per_metric(lambda row: row.covered and row.open)
    met = {tier: per_metric(lambda row, i=i: bool(row.met[i])) for i, tier in enumerate(sla_tiers)}

    def case(metric: str) -> str:
        if not covered[metric]:
            return m("upgrade_case_none", metric=m(metric).lower())
        sentence = m(
            "upgrade_case_one" if covered[metric] == 1 else "upgrade_case",
            covered=covered[metric],
            metric=m(metric).lower(),
            met=m.join(
                # The promise beside each tier: "met 3 within the Premium promise" says
                # nothing to a reader who does not know it is 8 working hours.
                m(
                    "within_promise",
                    n=met[tier][metric],
                    tier=labels.get(tier, tier),
                    promise=promises_text(m, policy, versions, tier, metric, benchmark=False),
                )
                for tier in sla_tiers
                if any(v.promises(tier, metric) for v in versions)
            ),
        )
        # Without this an open ticket reads as a miss under every tier.
        if still_open[metric]:
            sentence += " " + m(
                "upgrade_case_open_one" if still_open[metric] == 1 else "upgrade_case_open",
                n=still_open[metric],
            )
        return sentence

    upgrade_case = tuple(case(metric) for metric in metrics)
    return CustomerContext(
        lang=lang,
        customer_id=customer_id,
        name=names[0][0] or customer_id,
        period_label=_period(m, month_from, month_to),
        data_from=_data_from(m, month_from, first_month),
        evaluation_id=evaluation_id,
        tiers=_plans_in_period(con, customer_id, month_from, month_to, policy, labels, m),
        tier_labels=labels,
        metrics=metrics,
        sla_tiers=sla_tiers,
        rows=tuple(rows),
        covered=covered,
        still_open=still_open,
        met=met,
        upgrade_case=upgrade_case,
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
    "channels",
    "outage_line",
    "promise",
    "vs_previous",
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
    figures["covered"] = figure_hash(context.covered, ())
    for tier, counts in context.met.items():
        figures[f"met/{tier}"] = figure_hash(counts, ())
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
