"""The published figures, recomputed independently from the loaded tickets.

Nothing here calls `pipeline.evaluate`, `pipeline.metrics` or the report SQL to get
a figure: every ticket of the warehouse is judged one at a time by the slow
reference evaluator (tests/evaluation_reference.py), and the month's figures are
counted from those verdicts in plain Python, as docs/policy.md and the report's
own texts define them. They are then compared with what the report code publishes
for the same month: the monthly report's cells, breach lists and outage-line
counts, and the tier report's per-tier figures; a difference is named ticket by
ticket.

Two datasets: the committed sample (the month `make report` publishes, checked
against the committed reports/2026-10 too), and a harder one from the demo
generator judged by a two-version policy whose second version takes effect
mid-month, in a month with holidays, as of that month's end.
"""

from __future__ import annotations

import copy
import csv
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.demo import generate
from pipeline.evaluate import month_end_as_of
from pipeline.i18n import Messages
from pipeline.load import load_file
from pipeline.policy import Policy
from pipeline.report_monthly import (
    BREAKDOWN_ORDER,
    COUNTS,
    MEASURES,
    build_context,
    write_breach_lists,
)
from pipeline.report_sales import build_customer_context, build_tiers_context
from pipeline.warehouse import connect
from tests import evaluation_reference as ref

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "data" / "sample"
PUBLISHED = ROOT / "reports" / "2026-10"
TIER_ORDER = ("pioneer", "professional", "business", "premium")
CLOSED = ("met", "met_late_target", "breached")


# ------------------------------------------------------------ the reference rows


def _instant(value) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).tz_convert("UTC")


def reference_rows(con, policy: Policy, as_of: pd.Timestamp) -> list[dict]:
    """Every ticket created up to `as_of`, judged per metric by the reference
    evaluator: one dict per (ticket, metric) with what the reports read."""
    tickets = con.execute("SELECT * FROM tickets WHERE created_at <= ?", [as_of]).fetchdf()
    events: dict[str, list[dict]] = defaultdict(list)
    for ticket_id, at, kind, old, new in con.execute(
        'SELECT ticket_id, "at", kind, old_value, new_value FROM ticket_events'
    ).fetchall():
        events[ticket_id].append(
            {"at": _instant(at), "kind": kind, "old_value": old, "new_value": new}
        )
    plans: dict[str, list[tuple]] = defaultdict(list)
    for customer, tier, valid_from, valid_to in con.execute(
        "SELECT customer_id, tier, valid_from, valid_to FROM plan_history"
    ).fetchall():
        plans[customer].append((_instant(valid_from), _instant(valid_to), tier))
    rows = []
    for t in tickets.to_dict("records"):
        ticket = {
            k: (None if not isinstance(v, str | bool) and pd.isna(v) else v) for k, v in t.items()
        }
        for field in ("created_at", "first_response_at", "resolved_at", "closed_at"):
            ticket[field] = _instant(ticket[field])
        created = ticket["created_at"]
        # docs/policy.md, "Tier": the customer's plan valid at creation.
        valid = sorted(
            (start, tier)
            for start, end, tier in plans.get(ticket["customer_id"], [])
            if start <= created and (end is None or created < end)
        )
        tier = valid[-1][1] if valid else "unknown"
        results = ref.evaluate_ticket(policy, ticket, events[ticket["ticket_id"]], tier, as_of)
        for metric, r in results.items():
            rows.append(
                {
                    "ticket_id": ticket["ticket_id"],
                    "customer_id": ticket["customer_id"],
                    "tier": tier,
                    "metric": metric,
                    "priority": ref.priority_at(ticket, events[ticket["ticket_id"]], as_of),
                    "channel": ticket["channel"],
                    "result": r,
                }
            )
    return rows


def judged(row: dict) -> str:
    """The verdict a cell counts: the status, or a no-SLA tier's benchmark verdict."""
    r = row["result"]
    return r.status if r.has_sla or r.benchmark_status is None else r.benchmark_status


# ------------------------------------------------------------ the monthly figures


def cell_figures(rows: list[dict], month: str) -> dict[tuple[str, str], dict]:
    """Per tier and metric, the month's counts and measures as the report defines them:
    an SLA tier counts its SLA rows (a row of the same tier judged by a version that
    promised it nothing is counted, without a target); a tier without any is
    measured against its benchmark."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        if row["result"].month == month:
            groups[(row["tier"], row["metric"])].append(row)
    out = {}
    for key, group in groups.items():
        sla = [r for r in group if r["result"].has_sla]
        counted = sla or group
        verdicts = Counter(judged(r) for r in counted)
        met = verdicts["met"] + verdicts["met_late_target"]
        closed = met + verdicts["breached"]
        elapsed = [r["result"].elapsed for r in counted if judged(r) in CLOSED]
        low, high = wilson_on_customers(
            [
                (r["customer_id"] or r["ticket_id"], judged(r) != "breached")
                for r in counted
                if judged(r) in CLOSED
            ]
        )
        out[key] = {
            "benchmark_only": not sla,
            "ci_low": low,
            "ci_high": high,
            "tickets": len(group),
            "met": met,
            "met_target": verdicts["met"],
            "breached": verdicts["breached"],
            "excluded": sum(r["result"].status == "excluded" for r in counted),
            "open": sum(v for k, v in verdicts.items() if k.startswith("open_")),
            "without_target": verdicts["no_sla"] + len(group) - len(counted),
            "compliance": met / closed if closed else None,
            "within_target": verdicts["met"] / closed if closed else None,
            # quantile_cont: linear interpolation between closest ranks.
            "median_hours": float(np.percentile(elapsed, 50)) / 3600 if elapsed else None,
            "p90_hours": float(np.percentile(elapsed, 90)) / 3600 if elapsed else None,
        }
    return out


def wilson_on_customers(closed: list[tuple[str, bool]]) -> tuple[float | None, float | None]:
    """The 95 % Wilson interval of the share met among closed rows (customer, met), on
    the effective number of tickets: one customer's tickets are alike, so the count is
    divided by the design effect, the spread of the customers' counts around the
    share (sum over customers of (met_c - share * n_c)^2) over the binomial's
    n * share * (1 - share), never below 1. A single customer is one observation; a
    share of 0 or 1 shows no spread (1)."""
    n = len(closed)
    if not n:
        return None, None
    k = sum(met for _, met in closed)
    share = k / n
    per_customer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for customer, met in closed:
        per_customer[customer][0] += met
        per_customer[customer][1] += 1
    if len(per_customer) == 1:
        deff = float(n)
    elif share in (0, 1):
        deff = 1.0
    else:
        spread = sum((k_c - share * n_c) ** 2 for k_c, n_c in per_customer.values())
        deff = max(spread / (n * share * (1 - share)), 1.0)
    n_eff = n / deff
    z = 1.959963984540054
    centre = (share + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = (
        z
        * math.sqrt(share * (1 - share) / n_eff + z * z / (4 * n_eff * n_eff))
        / (1 + z * z / n_eff)
    )
    return centre - half, centre + half


def with_changes(rows: list[dict], month: str) -> dict[tuple[str, str], dict]:
    """`cell_figures` with the change against last month and against the 12 months'
    pooled share (this one included; none without an earlier month to compare)."""
    months = [str(pd.Period(month, "M") - i) for i in range(11, -1, -1)]
    per_month = {m: cell_figures(rows, m) for m in months}
    out = {}
    for key, cell in per_month[month].items():
        # A cell is compared with the months of the same standing (SLA or benchmark).
        same = {
            m: per_month[m][key]
            for m in months
            if key in per_month[m] and per_month[m][key]["benchmark_only"] == cell["benchmark_only"]
        }
        earlier = [c for m, c in same.items() if m < month and c["met"] + c["breached"]]
        previous = per_month[months[-2]].get(key)
        value = cell["compliance"]
        pooled_closed = sum(c["met"] + c["breached"] for c in same.values())
        pooled = sum(c["met"] for c in same.values()) / pooled_closed if pooled_closed else None
        out[key] = {
            **cell,
            "change_month": None
            if value is None
            or previous is None
            or previous["benchmark_only"] != cell["benchmark_only"]
            or previous["compliance"] is None
            else value - previous["compliance"],
            "change_12m": None if value is None or not earlier else value - pooled,
        }
    return out


def breach_lists(rows: list[dict], month: str) -> list[dict]:
    """The report's two breach lists: the month's breaches, and what is still open at
    its end at risk or past its limit (past it in an earlier month too). SLA tiers only."""
    listed = [
        r
        for r in rows
        if r["result"].has_sla
        and (
            (
                r["result"].month == month
                and r["result"].status in ("breached", "open_breached", "open_at_risk")
            )
            or (r["result"].month < month and r["result"].status == "open_breached")
        )
    ]
    return [
        {
            "list": "breaches" if r["result"].status == "breached" else "open_at_month_end",
            "ticket_id": r["ticket_id"],
            "metric": r["metric"],
            "tier": r["tier"],
            "status": r["result"].status,
            "month": r["result"].month,
            "late": r["result"].late,
            "deadline": r["result"].deadline,
        }
        for r in listed
    ]


def outage_calls(rows: list[dict], month: str) -> tuple[int, int]:
    """Critical outage-line calls out of office hours counted in the month (by their
    first response), and how many of them are billable."""
    calls = [
        r["result"]
        for r in rows
        if r["metric"] == "first_response"
        and r["result"].month == month
        and r["result"].outage_line
        and r["result"].out_of_hours
    ]
    return len(calls), sum(c.billable for c in calls)


def breakdown(rows: list[dict], month: str, dimension: str) -> dict[tuple[str, str], tuple]:
    """(met, breached, open) of the month's SLA rows per metric and priority or channel."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        if r["result"].month != month or not r["result"].has_sla:
            continue
        counts = out[(r["metric"], r[dimension] or "-")]
        status = r["result"].status
        counts[0] += status in ("met", "met_late_target")
        counts[1] += status == "breached"
        counts[2] += status.startswith("open_")
    return {k: tuple(v) for k, v in out.items()}


# ------------------------------------------------------------ the tier report


def tier_figures(
    rows: list[dict], policy: Policy, month_from: str, month_to: str
) -> dict[tuple[str, str], dict]:
    """Per tier and metric over the months: closed rows, not excluded, no outage-line
    call; median and 90th percentile, and the share within each promise to a tier
    with an SLA in the versions of the range (fastest first)."""
    versions = policy.versions_in_months(month_from, month_to)
    out = {}
    for metric in ("first_response", "resolution"):
        sticks = set()
        for v in versions:
            spec = v.metrics[metric]
            for tier, threshold in spec.targets.items():
                if v.tiers.get(tier) and v.tiers[tier].has_sla:
                    for amount in (threshold.target, threshold.limit):
                        unit = (
                            3600
                            if threshold.unit == "hours"
                            else policy.calendar(spec.calendar_name).working_day_seconds
                        )
                        sticks.add(round(amount * unit, 6))
        sticks = sorted(sticks)
        for tier in TIER_ORDER:
            elapsed = [
                r["result"].elapsed
                for r in rows
                if r["tier"] == tier
                and r["metric"] == metric
                and month_from <= r["result"].month <= month_to
                and r["result"].clock_stop is not None
                and r["result"].status != "excluded"
                and not r["result"].outage_line
            ]
            out[(tier, metric)] = {
                "closed": len(elapsed),
                "median_h": float(np.percentile(elapsed, 50)) / 3600 if elapsed else None,
                "p90_h": float(np.percentile(elapsed, 90)) / 3600 if elapsed else None,
                "within": [sum(e <= s for e in elapsed) / len(elapsed) for s in sticks]
                if elapsed
                else None,
            }
    return out


# ------------------------------------------------------------ the customer report


def customer_verdicts(
    rows: list[dict], policy: Policy, customer: str, month_from: str, month_to: str
) -> dict[tuple[str, str], tuple]:
    """Per (ticket, metric) of the customer in the months: whether it would have been
    within each SLA tier's promise (README, `sla report customer`): the limit the
    version that judged it sets that tier (per-priority override first, the outage
    line's own target and calendar, else the tier's target); under its own tier its
    status; open, missed only past the limit; a breach of a later cycle
    (first_resolution) judged by no other tier; None where nothing is promised."""
    versions = policy.versions_in_months(month_from, month_to)
    sla_tiers = [
        t for t in TIER_ORDER if any(t in v.tiers and v.tiers[t].has_sla for v in versions)
    ]
    out = {}
    for row in rows:
        r = row["result"]
        if row["customer_id"] != customer or not month_from <= r.month <= month_to:
            continue
        version = policy.version_at(r.created.tz_convert(policy.report_timezone).date())
        spec = version.metrics[row["metric"]]
        line = version.outage_line
        on_line = r.outage_line and row["metric"] in line.applies_to
        covered = r.status != "excluded" and r.limit is not None
        later_cycle = (
            r.clock_stop is not None and judged(row) == "breached" and r.elapsed <= r.limit
        )
        verdicts = []
        for tier in sla_tiers:
            if not covered or not (tier in version.tiers and version.tiers[tier].has_sla):
                verdicts.append(None)
                continue
            if on_line and row["metric"] == "first_response":
                limit = round(line.first_response_target_hours * 3600, 6)
            else:
                threshold = spec.by_priority.get(row["priority"]) or spec.targets[tier]
                calendar = line.calendar if on_line else spec.calendar_name
                limit = policy.threshold_seconds(threshold, calendar)[1]
            if row["tier"] == tier:
                verdict = (
                    r.status in ("met", "met_late_target")
                    if r.clock_stop is not None
                    else False
                    if r.status == "open_breached"
                    else None
                )
            elif later_cycle:
                verdict = None
            elif r.clock_stop is not None:
                verdict = r.elapsed <= limit
            else:
                verdict = False if r.elapsed > limit else None
            verdicts.append(verdict)
        out[(row["ticket_id"], row["metric"])] = tuple(verdicts)
    return out


def compare_customers(
    con, rows: list[dict], policy: Policy, month_from: str, month_to: str, customers: list[str]
) -> list[str]:
    labels = {Messages("en")(metric): metric for metric in ("first_response", "resolution")}
    problems = []
    for customer in customers:
        context = build_customer_context(con, customer, month_from, month_to, policy=policy)
        have = {(r.ticket_id, labels[r.metric]): r.met for r in context.rows}
        want = customer_verdicts(rows, policy, customer, month_from, month_to)
        for key in sorted(set(want) | set(have)):
            if want.get(key, "absent") != have.get(key, "absent"):
                problems.append(
                    f"customer {customer} {key} within {context.sla_tiers}: "
                    f"reference {want.get(key, 'absent')}, report {have.get(key, 'absent')}"
                )
    return problems


def busiest_customers(rows: list[dict], month_from: str, month_to: str, n: int) -> list[str]:
    counts = Counter(
        r["customer_id"]
        for r in rows
        if r["customer_id"] and month_from <= r["result"].month <= month_to
    )
    return sorted(c for c, _ in counts.most_common(n))


# ------------------------------------------------------------ comparing


def _close(a, b) -> bool:
    if a is None or b is None or (isinstance(b, float) and np.isnan(b)):
        return (a is None) == (b is None or (isinstance(b, float) and np.isnan(b)))
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


def compare_cells(expected: dict, cells, fields: tuple[str, ...]) -> list[str]:
    got = {(c.tier, c.metric): c for c in cells}
    problems = []
    for key in sorted(set(expected) | set(got)):
        if key not in got:
            if expected[key]["tickets"]:
                problems.append(f"{key}: missing from the report ({expected[key]})")
            continue
        if key not in expected:
            if got[key].tickets:
                problems.append(f"{key}: in the report only ({got[key]})")
            continue
        for field in fields:
            want, have = expected[key][field], getattr(got[key], field)
            if not _close(want, have):
                problems.append(f"{key} {field}: reference {want}, report {have}")
    return problems


def compare_lists(expected: list[dict], published: list[dict]) -> list[str]:
    """The breach lists row by row: which (list, ticket, metric) only one side has,
    and where status, month, overrun or deadline differ."""
    want = {(r["list"], r["ticket_id"], r["metric"]): r for r in expected}
    have = {(r["list"], r["ticket_id"], r["metric"]): r for r in published}
    problems = [f"only in the reference: {k} {want[k]}" for k in sorted(set(want) - set(have))]
    problems += [f"only in the report: {k} {have[k]}" for k in sorted(set(have) - set(want))]
    for k in sorted(set(want) & set(have)):
        a, b = want[k], have[k]
        if (a["status"], a["month"], a["tier"]) != (b["status"], b["month"], b["tier"]):
            problems.append(f"{k}: reference {a}, report {b}")
        elif not _close(a["late"], b["late"]):
            problems.append(f"{k}: late by {a['late']} s in the reference, {b['late']} s reported")
        elif a["deadline"].floor("s") != b["deadline"]:
            problems.append(
                f"{k}: deadline {a['deadline']} in the reference, {b['deadline']} reported"
            )
    return problems


def published_lists(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [
            {
                "list": r["list"],
                "ticket_id": r["ticket_id"],
                "metric": r["metric"],
                "tier": r["tier"],
                "status": r["status"],
                "month": r["month"],
                "late": float(r["late_working_seconds"]) if r["late_working_seconds"] else None,
                # To the second, with its offset.
                "deadline": pd.Timestamp(r["deadline"]),
            }
            for r in csv.DictReader(f)
        ]


def sorted_like_report(rows: list[dict]) -> list[tuple[str, str]]:
    """The order the report lists them in: by status, furthest past the limit first,
    then by ticket and metric."""
    ordered = sorted(
        rows,
        key=lambda r: (
            r["status"],
            r["late"] is None,
            -(r["late"] or 0),
            r["ticket_id"],
            r["metric"],
        ),
    )
    return [(r["ticket_id"], r["metric"]) for r in ordered]


# A Cell's figures, its labels and promise aside.
CELL_FIELDS = ("benchmark_only", *COUNTS, *MEASURES)


def check_month(con, policy: Policy, month: str, tmp_path: Path) -> dict:
    """Recompute `month` with the reference and compare every figure with the report
    code's; returns what was compared, for tests that look further."""
    as_of = month_end_as_of(month, policy.report_timezone)
    rows = reference_rows(con, policy, as_of)
    context = build_context(con, month, policy=policy)
    expected = with_changes(rows, month)
    problems = compare_cells(expected, context.cells, CELL_FIELDS)

    lists = breach_lists(rows, month)
    written = write_breach_lists(
        con, context.evaluation_id, month, policy.report_timezone, tmp_path / "breaches.csv"
    )
    reported = published_lists(written)
    problems += compare_lists(lists, reported)
    if not problems:
        assert [(r["ticket_id"], r["metric"]) for r in reported] == sorted_like_report(lists)
        assert context.breaches_total == sum(r["list"] == "breaches" for r in lists)
        assert context.open_total == sum(r["list"] == "open_at_month_end" for r in lists)

    calls, billable = outage_calls(rows, month)
    if (context.outage_calls, context.outage_billable) != (calls, billable):
        problems.append(
            f"outage line: reference {calls} calls, {billable} billable; "
            f"report {context.outage_calls}, {context.outage_billable}"
        )
    excluded = sum(r["result"].status == "excluded" and r["result"].month == month for r in rows)
    if context.excluded != excluded:
        problems.append(f"excluded rows: reference {excluded}, report {context.excluded}")
    for dimension, shown in (("priority", context.by_priority), ("channel", context.by_channel)):
        want = breakdown(rows, month, dimension)
        # The report's order: per metric, most urgent priority first, channels as listed.
        order = {v: i for i, v in enumerate(BREAKDOWN_ORDER[dimension])}
        keys = sorted(want, key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
        have = [(r["met"], r["breached"], r["open"]) for r in shown]
        if [want[k] for k in keys] != have:
            problems.append(
                f"by {dimension}: reference {[(k, want[k]) for k in keys]}, report {shown}"
            )

    problems += compare_tiers(con, rows, policy, month, month)
    problems += compare_customers(
        con, rows, policy, month, month, busiest_customers(rows, month, month, 30)
    )
    assert not problems, "\n".join(problems)
    return {"rows": rows, "cells": expected, "lists": lists, "context": context, "con": con}


def compare_tiers(
    con, rows: list[dict], policy: Policy, month_from: str, month_to: str
) -> list[str]:
    """The tier report's per-tier figures against the reference's."""
    problems = []
    tiers = build_tiers_context(con, month_from, month_to, policy=policy)
    want_tiers = tier_figures(rows, policy, month_from, month_to)
    for figure in tiers.tiers:
        for metric, f in figure.metrics.items():
            want = want_tiers[(figure.tier, metric)]
            have = {
                "closed": f.closed,
                "median_h": f.median_h,
                "p90_h": f.p90_h,
                "within": [w[0] for w in f.within] if f.closed else None,
            }
            for field, value in want.items():
                if field == "within" and value is not None:
                    ok = len(value) == len(have[field]) and all(
                        _close(a, b) for a, b in zip(value, have[field], strict=False)
                    )
                else:
                    ok = _close(value, have[field])
                if not ok:
                    problems.append(
                        f"tier report {figure.tier} {metric} {field}: "
                        f"reference {value}, report {have[field]}"
                    )
    return problems


# ------------------------------------------------------------ the datasets


@pytest.fixture(scope="module")
def sample_checked(tmp_path_factory):
    con = connect(":memory:")
    for name in ("customers", "tickets", "events"):
        load_file(con, SAMPLE / f"{name}.csv")
    return check_month(con, Policy.default(), "2026-10", tmp_path_factory.mktemp("sample"))


def test_sample_month_matches_reference(sample_checked) -> None:
    # The figures of the month `make report` publishes are not empty: the check
    # compared real counts (the sample has breaches, open tickets and outage calls).
    cells = sample_checked["cells"]
    assert cells[("business", "resolution")]["breached"] > 0
    assert any(r["list"] == "open_at_month_end" for r in sample_checked["lists"])
    assert sample_checked["context"].outage_calls > 0


def test_published_report_matches_reference(sample_checked) -> None:
    """The committed reports/2026-10 (made by `make report` from data/sample) holds
    the reference's figures: its figures.csv per tier and metric, its breaches.csv
    row by row."""
    with (PUBLISHED / "figures.csv").open(encoding="utf-8", newline="") as f:
        published = list(csv.DictReader(f))
    cells = sample_checked["cells"]
    problems = []
    for row in published:
        want = cells.get((row["tier"], row["metric"]))
        if want is None:
            problems.append(f"{row['tier']} {row['metric']}: published, not in the reference")
            continue
        for field in CELL_FIELDS:
            text = row[field]
            value = (
                text == "True" if field == "benchmark_only" else None if text == "" else float(text)
            )
            if not _close(want[field], value):
                problems.append(
                    f"{row['tier']} {row['metric']} {field}: reference {want[field]}, "
                    f"published {text}"
                )
    problems += compare_lists(sample_checked["lists"], published_lists(PUBLISHED / "breaches.csv"))
    assert not problems, "\n".join(problems)


def test_sample_tier_report_over_ten_months(sample_checked) -> None:
    """The tier report over January to October 2026, as the README makes it: the
    evaluation as of October's end covers every month of the range."""
    problems = compare_tiers(
        sample_checked["con"], sample_checked["rows"], Policy.default(), "2026-01", "2026-10"
    )
    assert not problems, "\n".join(problems)


def two_version_policy(effective: str) -> Policy:
    """The default policy and, from `effective`, a second version that changes what
    each figure depends on: Professional gets an SLA, Premium a 4-hour first response
    counted in clock hours, high-priority tickets a 2-hour one, critical tickets a 1-2
    day resolution, phone calls are excluded from it, waiting on a third party pauses
    too, the first resolution stops the clock, and the outage line gets a 1-hour
    target."""
    doc = Policy.default().document
    later = copy.deepcopy(doc["versions"][0])
    later.update(version="2026.2", effective_from=effective, description="second version")
    later["tiers"]["professional"]["has_sla"] = True
    fr, res = later["metrics"]["first_response"], later["metrics"]["resolution"]
    fr["clock"] = "clock"
    fr["targets"]["premium"] = {"target_hours": 4}
    fr["targets"]["professional"] = {"target_hours": 40}
    fr["at_risk_share"] = 0.5
    res["targets"]["professional"] = {"target_days": 5, "limit_days": 10}
    res["pause_statuses"] = ["waiting_on_customer", "waiting_on_third_party"]
    res["reopen_rule"] = "first_resolution"
    res["by_priority"] = {"critical": {"target_days": 1, "limit_days": 2}}
    later["outage_line"]["first_response_target_hours"] = 1
    # An exclusion on a field that is not a yes/no one, and a per-priority first response.
    res["exclude"].append({"rule": "phone", "field": "channel", "value": "phone"})
    fr["by_priority"] = {"high": {"target_hours": 2}}
    doc["versions"].append(later)
    return Policy.from_dict(doc)


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    """A fresh demo export (plan changes, reopens, pauses, priority changes, outage
    calls, broken rows), loaded."""
    files = generate(tmp_path_factory.mktemp("demo"), n_tickets=6000, n_customers=1500, seed=11)
    # Every demo customer has a plan from a year before the first ticket: let one in
    # seven start its first plan in April 2026, so that its earlier tickets have none.
    plans = pd.read_csv(files.customers, dtype=str, keep_default_na=False)
    starts_late = ~plans.duplicated("customer_id") & (plans.index % 7 == 0)
    plans.loc[starts_late, "valid_from"] = "2026-04-10T12:00:00+02:00"
    ended_before = starts_late & (plans["valid_to"] != "") & (plans["valid_to"] < "2026-04-11")
    plans[~ended_before].to_csv(files.customers, index=False)
    con = connect(":memory:")
    for path in (files.customers, files.tickets, files.events):
        load_file(con, path)
    return con


def test_two_version_month_with_holidays_matches_reference(demo_warehouse, tmp_path) -> None:
    """April 2026 (Easter Monday, King's Day) under a policy whose second version takes
    effect on the 15th, as of the month's end: tickets resolved later are open, later
    priority changes undone."""
    checked = check_month(demo_warehouse, two_version_policy("2026-04-15"), "2026-04", tmp_path)
    results = [r["result"] for r in checked["rows"] if r["result"].month == "2026-04"]
    # The month really mixes what it is meant to: both versions' rules, tiers with an
    # SLA in one version only, open rows, pauses and reopens.
    assert {r.limit for r in results if r.has_sla and r.calendar == "always"}
    assert checked["cells"][("professional", "first_response")]["without_target"] > 0
    assert any(r.status.startswith("open_") for r in results)
    assert any(r.paused > 0 for r in results)
    assert any(r.reopens > 0 for r in results)
    assert checked["cells"][("unknown", "resolution")]["benchmark_only"]
    assert any(
        r["channel"] == "phone" and r["result"].status == "excluded"
        for r in checked["rows"]
        if r["result"].month == "2026-04"
    )
