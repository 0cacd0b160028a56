"""Compliance figures and the Wilson interval."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.metrics import (
    compare,
    compliance_interval,
    compliance_summary,
    design_effect,
    wilson_interval,
)


def test_wilson_interval_known_values() -> None:
    # 8 of 10: the textbook Wilson 95 % interval is (0.490, 0.943).
    low, high = wilson_interval(8, 10)
    assert float(low) == pytest.approx(0.4902, abs=1e-4)
    assert float(high) == pytest.approx(0.9433, abs=1e-4)
    low, high = wilson_interval(np.array([0, 5]), np.array([0, 5]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert high[1] == pytest.approx(1.0) and low[1] == pytest.approx(0.5655, abs=1e-4)


def deff_of(clusters: list[tuple[int, int]]) -> float:
    """design_effect from (k_c, n_c) per cluster, as the tier report's SQL sums them."""
    k = np.array([c[0] for c in clusters], float)
    n = np.array([c[1] for c in clusters], float)
    return float(
        design_effect(k.sum(), n.sum(), len(clusters), (k * k).sum(), (k * n).sum(), (n * n).sum())
    )


def reference_deff(clusters: list[tuple[int, int]]) -> float:
    """The cluster-robust variance of the share over the binomial one, written out."""
    n = sum(c[1] for c in clusters)
    p = sum(c[0] for c in clusters) / n
    if len(clusters) == 1:
        return float(n)
    if p in (0, 1):
        return 1.0
    spread = sum((k - p * size) ** 2 for k, size in clusters)
    robust = spread / n**2
    return max(1.0, robust / (p * (1 - p) / n))


def test_design_effect_known_values() -> None:
    # Four customers of 10 tickets, two all within and two none: 40 tickets that
    # tell no more than 4 (4 * 25 / (40 * 0.25) = 10, n_eff = 4).
    assert deff_of([(10, 10), (10, 10), (0, 10), (0, 10)]) == pytest.approx(10.0)
    # Every customer alike in share: no wider than independent tickets (clamped at 1).
    assert deff_of([(5, 10), (5, 10), (5, 10)]) == 1.0
    # One ticket per customer: independent tickets, the textbook interval.
    assert deff_of([(1, 1)] * 30 + [(0, 1)] * 70) == pytest.approx(1.0)
    assert deff_of([(1, 1), (0, 1)]) == 1.0
    # One customer is one observation; a share of 0 or 1 has no spread to measure.
    assert deff_of([(3, 10)]) == 10.0
    assert deff_of([(10, 10), (4, 4)]) == 1.0 and deff_of([(0, 10), (0, 4)]) == 1.0
    both = design_effect(
        np.array([20.0, 15.0]), 40, 4, np.array([200.0, 75.0]), np.array([200.0, 150.0]), 400
    )
    # Vectorised over yardsticks; the second: customers within 5, 5, 5 and 0 of 10.
    assert both.tolist() == pytest.approx([10.0, 2.0])


def test_compliance_interval_on_the_effective_number_of_tickets() -> None:
    # Ten customers of one ticket each: the textbook Wilson interval of 8 of 10.
    low, high = compliance_interval(8, 10, 10, 8, 8, 10)
    assert (float(low), float(high)) == pytest.approx(tuple(map(float, wilson_interval(8, 10))))
    # The same 10 tickets from one customer are one observation: 0.8 of 1.
    low, high = compliance_interval(8, 10, 1, 64, 80, 100)
    assert (float(low), float(high)) == pytest.approx(tuple(map(float, wilson_interval(0.8, 1))))
    # Nothing closed: no interval.
    low, high = compliance_interval(0, 0, 0, 0, 0, 0)
    assert np.isnan(low) and np.isnan(high)


def test_summary_interval_allows_for_customers() -> None:
    # Two customers, one whose 5 tickets all met and one whose 5 all breached:
    # 10 tickets, 2 observations; the stored summary (SQL) agrees, tested below.
    frame = rows("business", ["met"] * 5 + ["breached"] * 5)
    frame["customer_id"] = ["A"] * 5 + ["B"] * 5
    summary = compliance_summary(frame).iloc[0]
    low, high = wilson_interval(1, 2)
    assert (summary.ci_low, summary.ci_high) == pytest.approx((float(low), float(high)))
    alone = compliance_summary(frame.drop(columns="customer_id")).iloc[0]
    low, high = wilson_interval(5, 10)
    assert (alone.ci_low, alone.ci_high) == pytest.approx((float(low), float(high)))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.integers(1, 40).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
        min_size=1,
        max_size=30,
    )
)
def test_design_effect_matches_the_written_out_variance(clusters) -> None:
    assert deff_of(clusters) == pytest.approx(reference_deff(clusters), rel=1e-9, abs=1e-9)
    # Never surer than independent tickets, never fewer than one observation.
    assert 1.0 <= deff_of(clusters) <= max(1.0, sum(c[1] for c in clusters))


def rows(tier: str, statuses: list[str], *, has_sla: bool = True) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticket_id": [f"{tier}{i}" for i in range(len(statuses))],
            "metric": "resolution",
            "tier": tier,
            "has_sla": has_sla,
            "status": statuses if has_sla else ["no_sla"] * len(statuses),
            "benchmark_status": [None] * len(statuses) if has_sla else statuses,
            "elapsed_working_seconds": np.arange(len(statuses), dtype=float) * 3600,
        }
    )


def test_summary_counts_only_closed_rows_in_compliance() -> None:
    frame = pd.concat(
        [
            rows("business", ["met", "met_late_target", "breached", "open_at_risk", "excluded"]),
            rows("pioneer", ["met", "breached"], has_sla=False),
        ]
    )
    summary = compliance_summary(frame).set_index("tier")
    business = summary.loc["business"]
    assert (business["tickets"], business["met"], business["breached"]) == (5, 2, 1)
    assert (business["open"], business["excluded"], business["closed"]) == (1, 1, 3)
    assert business["compliance"] == pytest.approx(2 / 3)
    assert business["within_target"] == pytest.approx(1 / 3)
    assert business["median_seconds"] == 3600.0  # closed rows only: 0 h, 1 h, 2 h
    assert not business["benchmark_only"]
    pioneer = summary.loc["pioneer"]
    assert pioneer["benchmark_only"] and pioneer["compliance"] == pytest.approx(0.5)


def test_a_tier_with_an_sla_for_some_rows_is_judged_on_those() -> None:
    # A version that took effect mid-period dropped Business's SLA: its later rows
    # are benchmark only, and must not flow into Business's compliance.
    frame = pd.concat(
        [rows("business", ["met", "breached"]), rows("business", ["met", "met"], has_sla=False)]
    )
    summary = compliance_summary(frame).iloc[0]
    assert not summary["benchmark_only"]
    assert (summary["tickets"], summary["met"], summary["breached"]) == (4, 1, 1)
    assert summary["compliance"] == pytest.approx(0.5)


def test_empty_tier_has_no_compliance_not_a_hundred_percent() -> None:
    summary = compliance_summary(rows("premium", ["open_on_track"]))
    assert np.isnan(summary["compliance"].iloc[0])


def test_compare_side_by_side() -> None:
    current = rows("business", ["met", "breached"])
    other = rows("business", ["met", "met"])
    side = compare(current, other).iloc[0]
    assert side["compliance_current"] == 0.5 and side["compliance_other"] == 1.0
    assert side["change"] == 0.5


# The figures the DuckDB cells (compliance_cells.sql) and the pandas summary share.
SUMMARY_COLUMNS = [
    "tier",
    "metric",
    "benchmark_only",
    "unjudged",
    "tickets",
    "met",
    "met_within_target",
    "breached",
    "open",
    "excluded",
    "closed",
    "compliance",
    "within_target",
    "median_seconds",
    "p90_seconds",
    "ci_low",
    "ci_high",
]


def _assert_stored_is_the_frame_summary(con, run) -> None:
    from pipeline.metrics import stored_summary

    pd.testing.assert_frame_equal(
        stored_summary(con, run.evaluation_id)[SUMMARY_COLUMNS].reset_index(drop=True),
        compliance_summary(run.results)[SUMMARY_COLUMNS].reset_index(drop=True),
        check_dtype=False,
    )


def test_stored_summary_equals_the_frame_summary() -> None:
    from pipeline.evaluate import evaluate
    from tests.evaluation_fixtures import build, plan, ticket

    con = build(
        [
            ticket(
                "A",
                "C1",
                "2026-10-05T09:00",
                first_response="2026-10-09T09:00",
                resolved="2026-10-09T10:00",
            ),
            ticket(
                "B",
                "C1",
                "2026-10-06T09:00",
                first_response="2026-10-06T10:00",
                resolved="2026-10-06T12:00",
            ),
            ticket("C", "C2", "2026-10-07T09:00", first_response="2026-10-07T09:30"),
        ],
        [],
        [plan("C1", "premium", "2025-01-01"), plan("C2", "pioneer", "2025-01-01")],
    )
    run = evaluate(con, as_of="2026-11-01T00:00")
    _assert_stored_is_the_frame_summary(con, run)


def test_stored_cells_judge_each_tier_as_the_frame_summary_does() -> None:
    """The DuckDB cells (compliance_cells.sql, behind the monthly report and `sla
    evaluate`) against the pandas summary and hand-counted values, on rows that
    exercise every way a row is judged: a tier with an SLA for some rows only, a
    benchmark tier with an open ticket at risk and an outage call without a target,
    quantiles of spread-out times, and a ticket no policy version judges."""
    from pipeline.evaluate import evaluate
    from pipeline.metrics import run_counts, stored_summary
    from pipeline.policy import Policy
    from tests.evaluation_fixtures import build, plan, ticket

    # From 10 October 2026 Business has no SLA: its later tickets are benchmark only.
    doc = Policy.default().document
    later = copy.deepcopy(doc["versions"][0])
    later.update(version="2026.2", effective_from="2026-10-10")
    later["tiers"]["business"]["has_sla"] = False
    doc["versions"].append(later)
    policy = Policy.from_dict(doc)

    def closed(ticket_id: str, customer: str, day: str, resolved: str, **fields) -> dict:
        return ticket(
            ticket_id,
            customer,
            f"{day}T09:00",
            first_response=f"{day}T09:30",
            resolved=resolved,
            **fields,
        )

    con = build(
        [
            # Business under 2025.1 (SLA): met, and breached (10 working days > 7).
            closed("B1", "C-B", "2026-10-05", "2026-10-05T12:00"),
            closed("B2", "C-B", "2026-10-06", "2026-10-20T09:00"),
            # Business under 2026.2 (benchmark only): two met.
            closed("B3", "C-B", "2026-10-12", "2026-10-12T10:00"),
            closed("B4", "C-B", "2026-10-13", "2026-10-13T10:00"),
            # Premium: resolved in 1 h, 2 h and 5 h.
            closed("P1", "C-P", "2026-10-05", "2026-10-05T10:00"),
            closed("P2", "C-P", "2026-10-05", "2026-10-05T11:00"),
            closed("P3", "C-P", "2026-10-05", "2026-10-05T14:00"),
            # Pioneer, open at the as-of: 6 of its 7 benchmark days used (at risk).
            ticket("F1", "C-F", "2026-10-23T09:00", first_response="2026-10-23T09:30"),
            # Pioneer outage call: no first-response target, so no benchmark either.
            ticket(
                "F2",
                "C-F",
                "2026-10-25T03:00",
                first_response="2026-10-25T03:20",
                resolved="2026-10-25T09:00",
                priority="critical",
                channel="outage_line",
            ),
            # Created before the first version took effect (2020-01-01).
            ticket("OLD", "C-B", "2019-12-15T10:00"),
        ],
        [],
        [
            plan("C-B", "business", "2019-01-01"),
            plan("C-P", "premium", "2019-01-01"),
            plan("C-F", "pioneer", "2019-01-01"),
        ],
    )
    run = evaluate(con, policy, as_of="2026-11-01T00:00")
    stored = stored_summary(con, run.evaluation_id)
    _assert_stored_is_the_frame_summary(con, run)
    cells = stored.set_index(["tier", "metric"])
    business = cells.loc[("business", "resolution")]
    # The SLA part only: B1 met, B2 breached; B3, B4 and OLD count without a target.
    assert (business["met"], business["breached"], business["no_target"]) == (1, 1, 3)
    premium = cells.loc[("premium", "resolution")]
    # Linear quantiles of 1 h, 2 h, 5 h: median 2 h, p90 2 + 0.8 * 3 = 4.4 h.
    assert (premium["median_seconds"], premium["p90_seconds"]) == (7200.0, 15_840.0)
    pioneer = cells.loc[("pioneer", "resolution")]
    assert (pioneer["benchmark_only"], pioneer["open"], pioneer["at_risk"]) == (True, 1, 1)
    assert cells.loc[("pioneer", "first_response"), "no_target"] == 1
    assert run_counts(con, run.evaluation_id) == {
        "outage_calls": 1,
        "billable_calls": 0,
        "no_policy_in_force": 1,
    }
