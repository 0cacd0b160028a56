"""Compliance figures from evaluation rows: counts, compliance with its Wilson
interval, within-target share and working-time percentiles, per tier and metric.

Compliance is met (within the limit, on or over target) over all closed rows
that carry an SLA: excluded, no-SLA and still-open rows are counted beside it,
never in it. For tiers without an SLA the same figures are computed from
`benchmark_status` and marked as benchmark only.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipeline.warehouse import query

CLOSED_MET = ("met", "met_late_target")
OPEN = ("open_on_track", "open_at_risk", "open_breached")
Z95 = 1.959963984540054


def wilson_interval(
    successes: np.ndarray | float, n: np.ndarray | float, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion; NaN where n == 0."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, centre - half, np.nan)
    high = np.where(n > 0, centre + half, np.nan)
    return low, high


def design_effect(
    k: np.ndarray | float,
    n: np.ndarray | float,
    clusters: np.ndarray | float,
    sum_k2: np.ndarray | float,
    sum_kn: np.ndarray | float,
    sum_n2: np.ndarray | float,
) -> np.ndarray:
    """How many times wider a share's variance is because its tickets come in
    clusters (one customer's tickets are alike: same staff, same kind of question)
    than if every ticket were independent; `n / design_effect` is the share's
    effective number of tickets.

    From per-cluster counts, given as sums over the clusters c of a share k/n:
    `clusters`, `sum_k2` = sum k_c², `sum_kn` = sum k_c·n_c, `sum_n2` = sum n_c². The
    cluster-robust variance of the share, sum (k_c - p·n_c)² / n², over the binomial
    p(1-p)/n: 1 when every customer has one ticket, so independent tickets keep the
    textbook interval (without the C/(C-1) small-sample factor, which doubled it for
    two customers of one ticket each). Never below 1: customers more alike than
    chance would make a share look surer than independent tickets do. One cluster is
    one observation (n); a share of 0 or 1 shows no spread to measure (1)."""
    k, n, clusters, sum_k2, sum_kn, sum_n2 = (
        np.asarray(x, dtype=float) for x in (k, n, clusters, sum_k2, sum_kn, sum_n2)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        spread = sum_k2 - 2 * p * sum_kn + p * p * sum_n2
        ratio = spread / (n * p * (1 - p))
    return np.where(
        clusters <= 1,
        np.maximum(n, 1.0),
        np.where((p <= 0) | (p >= 1) | ~np.isfinite(ratio), 1.0, np.maximum(ratio, 1.0)),
    )


def compliance_summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per tier and metric of the given evaluation rows."""
    frame = results.copy()
    frame["sla"] = frame["has_sla"].astype(bool)
    # No-SLA tiers are judged by their benchmark status, flagged as such. Where a
    # tier has an SLA for some rows only (a version dropped it, a ticket before the
    # first version), it is judged on those rows: the others are not counted in.
    tier_has_sla = frame.groupby(["tier", "metric"])["sla"].transform("any")
    frame["judged"] = np.where(
        frame["sla"], frame["status"], np.where(tier_has_sla, "no_sla", frame["benchmark_status"])
    )
    rule = frame["exclusion_rule"] if "exclusion_rule" in frame else pd.Series(None, frame.index)
    frame["is_unjudged"] = rule == "no_policy_in_force"
    closed = frame["judged"].isin([*CLOSED_MET, "breached"])
    frame["is_met"] = frame["judged"].isin(CLOSED_MET)
    frame["is_met_target"] = frame["judged"] == "met"
    frame["is_breached"] = frame["judged"] == "breached"
    frame["is_open"] = frame["judged"].isin(OPEN)
    frame["is_excluded"] = frame["status"] == "excluded"
    frame["closed_elapsed"] = frame["elapsed_working_seconds"].where(closed)
    # A tier is benchmark only when none of its rows carries an SLA (as compliance_cells.sql):
    # rows no policy version judged do not split it in two.
    grouped = frame.groupby(["tier", "metric"], sort=True)
    out = grouped.agg(
        sla=("sla", "any"),
        unjudged=("is_unjudged", "sum"),
        tickets=("ticket_id", "size"),
        met=("is_met", "sum"),
        met_within_target=("is_met_target", "sum"),
        breached=("is_breached", "sum"),
        open=("is_open", "sum"),
        excluded=("is_excluded", "sum"),
        median_seconds=("closed_elapsed", "median"),
        p90_seconds=("closed_elapsed", lambda s: s.quantile(0.9)),
    ).reset_index()
    out.insert(2, "benchmark_only", ~out.pop("sla"))
    return _with_rates(out.merge(_cluster_sums(frame, closed), on=["tier", "metric"], how="left"))


def _cluster_sums(frame: pd.DataFrame, closed: pd.Series) -> pd.DataFrame:
    """Per tier and metric, the design effect's sums over customers (clusters) of
    the closed rows, as compliance_cells.sql sums them: a row without a customer is
    a cluster of its own."""
    rows = frame[closed]
    customer = rows["customer_id"] if "customer_id" in rows else pd.Series(None, rows.index)
    per = (
        rows.assign(
            lone=customer.isna(),
            cluster=customer.astype(object).where(customer.notna(), rows["ticket_id"]),
        )
        .groupby(["tier", "metric", "lone", "cluster"], sort=False)
        .agg(n_c=("ticket_id", "size"), k_c=("is_met", "sum"))
        .reset_index()
    )
    per["k2"], per["kn"], per["n2"] = per.k_c**2, per.k_c * per.n_c, per.n_c**2
    return (
        per.groupby(["tier", "metric"])
        .agg(
            clusters=("n_c", "size"),
            sum_k2=("k2", "sum"),
            sum_kn=("kn", "sum"),
            sum_n2=("n2", "sum"),
        )
        .reset_index()
    )


def _with_rates(out: pd.DataFrame) -> pd.DataFrame:
    """`out` with closed, compliance, within-target share and the compliance's
    Wilson interval added, from its met, met_within_target and breached counts; the
    interval on the effective number of tickets (`compliance_interval`)."""
    closed = out["met"] + out["breached"]
    out["closed"] = closed
    with np.errstate(invalid="ignore", divide="ignore"):
        out["compliance"] = np.where(closed > 0, out["met"] / closed, np.nan)
        out["within_target"] = np.where(closed > 0, out["met_within_target"] / closed, np.nan)
    sums = [out[c].fillna(0) for c in ("clusters", "sum_k2", "sum_kn", "sum_n2")]
    out["ci_low"], out["ci_high"] = compliance_interval(out["met"], closed, *sums)
    return out


def compliance_interval(
    met: np.ndarray | float,
    closed: np.ndarray | float,
    clusters: np.ndarray | float,
    sum_k2: np.ndarray | float,
    sum_kn: np.ndarray | float,
    sum_n2: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson interval of met/closed on its effective number of tickets: closed
    over the design effect of its customers (`design_effect`, from the per-customer
    sums). A month whose breaches all came from one customer knows less than its
    ticket count says. NaN where closed is 0."""
    met, closed = np.asarray(met, dtype=float), np.asarray(closed, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = np.where(
            closed > 0, design_effect(met, closed, clusters, sum_k2, sum_kn, sum_n2), 1.0
        )
    return wilson_interval(met / deff, closed / deff)


def compare(current: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Side by side compliance of two evaluations of the same tickets."""
    a = compliance_summary(current)
    b = compliance_summary(other)
    # One row per tier and metric, whatever each side makes of it: a tier that
    # carries an SLA under one policy and not the other is still one comparison.
    keys = ["tier", "metric"]
    merged = a.merge(b, on=keys, how="outer", suffixes=("_current", "_other"))
    merged["change"] = merged["compliance_other"] - merged["compliance_current"]
    return merged[
        [
            *keys,
            "benchmark_only_current",
            "benchmark_only_other",
            "tickets_current",
            "tickets_other",
            "unjudged_current",
            "unjudged_other",
            "closed_current",
            "compliance_current",
            "closed_other",
            "compliance_other",
            "change",
            "breached_current",
            "breached_other",
        ]
    ]


def outage_calls(results: pd.DataFrame) -> pd.DataFrame:
    """Out-of-hours outage-line calls (first-response rows), with cause and billability."""
    calls = results[
        results["outage_line"] & results["out_of_hours"] & (results["metric"] == "first_response")
    ]
    return calls[
        [
            "ticket_id",
            "customer_id",
            "tier",
            "clock_start",
            "cause_domain",
            "billable",
            "elapsed_working_seconds",
        ]
    ].sort_values("clock_start", kind="stable")


def stored_summary(con: duckdb.DuckDBPyConnection, evaluation_id: int) -> pd.DataFrame:
    """`compliance_summary` of a stored evaluation, aggregated in DuckDB: a run of
    millions of tickets is summarised without pulling its rows into Python."""
    every_month = {"evaluation_id": evaluation_id, "month_from": None, "month": None}
    out = query(con, "compliance_cells.sql", {**every_month, "by_month": False}).df()
    out = out.drop(columns="month").rename(columns={"met_target": "met_within_target"})
    return _with_rates(out)


# Counts `sla evaluate` reports beside the compliance table, in one scan of the
# run's rows: out-of-hours outage-line calls (first-response rows, one per call),
# the billable ones, and the tickets no policy version judged.
RUN_COUNTS_SQL = """
SELECT
    count(*) FILTER (WHERE outage_line AND out_of_hours AND metric = 'first_response'),
    count(*) FILTER (
        WHERE outage_line AND out_of_hours AND metric = 'first_response' AND billable
    ),
    count(DISTINCT ticket_id) FILTER (WHERE exclusion_rule = 'no_policy_in_force')
FROM sla_results
WHERE evaluation_id = ?
"""


def run_counts(con: duckdb.DuckDBPyConnection, evaluation_id: int) -> dict[str, int]:
    """{'outage_calls', 'billable_calls', 'no_policy_in_force'} of a stored evaluation."""
    calls, billable, unjudged = con.execute(RUN_COUNTS_SQL, [evaluation_id]).fetchall()[0]
    return {"outage_calls": calls, "billable_calls": billable, "no_policy_in_force": unjudged}
