"""Audits: a ticket re-derived, the breach register, policy history, verification,
and the agreement of report, register and audit on the sample."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline import policy_history
from pipeline.audit import (
    audit_ticket,
    breach_register,
    export_register,
    neutralise,
    verify_manifest,
)
from pipeline.errors import AuditError, PolicyError
from pipeline.policy import Policy
from pipeline.report_monthly import build_context, write_monthly_report

SAMPLE = Path(__file__).parent.parent / "data" / "sample"
MONTH = "2026-10"


@pytest.fixture(scope="module")
def con(sample_warehouse):
    return sample_warehouse


@pytest.fixture(scope="module")
def context(con):
    return build_context(con, MONTH)


def test_report_register_and_audit_agree(con, context) -> None:
    register = breach_register(
        con, month_from=MONTH, month_to=MONTH, evaluation_id=context.evaluation_id
    )
    closed = register[register["status"] == "breached"]
    in_report = {b.ticket_id for b in context.breaches}
    assert in_report == set(closed["ticket_id"])
    for row in register.itertuples():
        audit = audit_ticket(con, row.ticket_id, evaluation_id=context.evaluation_id)
        metric = next(m for m in audit.metrics if m.metric == row.metric)
        assert metric.matches, row.ticket_id
        assert metric.elapsed == pytest.approx(row.elapsed_working_seconds)
        assert metric.paused == pytest.approx(row.paused_working_seconds)
        assert metric.deadline == row.deadline_local.isoformat()


def test_audit_explains_the_arithmetic(con, context) -> None:
    ticket = breach_register(con, month_from=MONTH, month_to=MONTH).iloc[0]["ticket_id"]
    audit = audit_ticket(con, ticket, evaluation_id=context.evaluation_id)
    assert audit.tier in ("business", "premium")
    assert "in force from" in audit.version_reason
    for metric in audit.metrics:
        counted = sum(s.working_seconds for s in metric.segments)
        assert counted == pytest.approx(metric.elapsed + metric.paused + metric.gap)
        assert "elapsed" in metric.arithmetic
    assert json.loads(audit.to_json())["ticket_id"] == ticket


def test_unknown_ticket_and_evaluation(con, context) -> None:
    with pytest.raises(AuditError, match="no ticket 'NOPE'"):
        audit_ticket(con, "NOPE", evaluation_id=context.evaluation_id)
    with pytest.raises(AuditError, match="no evaluation #999"):
        audit_ticket(con, "T0000001", evaluation_id=999)


def test_register_exports_open_cleanly(con, tmp_path) -> None:
    frame = breach_register(con, month_from=MONTH, month_to=MONTH)
    frame.loc[frame.index[0], "subject"] = neutralise("=SUM(A1)")
    assert frame.iloc[0]["subject"] == "'=SUM(A1)"
    assert str(frame["deadline_local"].dt.tz) == "Europe/Amsterdam"
    back = pd.read_parquet(export_register(frame, tmp_path / "b.parquet", "parquet"))
    assert back["ticket_id"].tolist() == frame["ticket_id"].tolist()
    assert str(back["deadline_utc"].dt.tz) == "UTC"
    xlsx = pd.read_excel(
        export_register(frame, tmp_path / "b.xlsx", "xlsx"),
        dtype={"ticket_id": str, "customer_id": str},
    )
    assert xlsx["customer_id"].tolist() == frame["customer_id"].tolist()
    assert xlsx.iloc[0]["subject"] == "'=SUM(A1)"
    csv = pd.read_csv(export_register(frame, tmp_path / "b.csv", "csv"), dtype=str)
    assert csv["deadline_local"].iloc[0].endswith(("+01:00", "+02:00"))
    assert all(neutralise(x) == "'" + x for x in ("+1", "-1", "@x", "=1"))


def test_verify_reproduces_and_explains_differences(con, tmp_path) -> None:
    write_monthly_report(con, MONTH, formats=("html",), out_dir=tmp_path)
    manifest = tmp_path / MONTH / "manifest.json"
    assert verify_manifest(con, manifest).reproduced
    data = json.loads(manifest.read_text())
    data["figures"]["business/resolution"] = "0" * 64
    manifest.write_text(json.dumps(data))
    result = verify_manifest(con, manifest)
    assert not result.reproduced
    assert result.differences == ("business/resolution: changed",)
    data["policy_hash"] = "f" * 64
    manifest.write_text(json.dumps(data))
    with pytest.raises(AuditError, match="another warehouse"):
        verify_manifest(con, manifest)


def test_policy_history() -> None:
    doc = Policy.default().document
    v2 = json.loads(json.dumps(doc["versions"][0]))
    v2.update(version="2026.2", effective_from="2026-07-01")
    v2["metrics"]["first_response"]["targets"]["premium"]["target_hours"] = 4
    policy = Policy.from_dict({**doc, "versions": [doc["versions"][0], v2]})
    table = policy_history.versions(policy, at=dt.date(2026, 6, 30))
    assert [v["in_force"] for v in table] == [True, False]
    assert policy_history.rules(policy, at=dt.date(2026, 7, 1))["version"] == "2026.2"
    assert policy_history.diff(policy, "2025.1", "2026.2") == [
        ("effective_from", "2020-01-01", "2026-07-01"),
        ("metrics.first_response.targets.premium.target_hours", 8, 4),
        ("version", "2025.1", "2026.2"),
    ]
    with pytest.raises(PolicyError, match="no version 'x'"):
        policy_history.diff(policy, "2025.1", "x")


def test_register_for_a_month_the_evaluation_does_not_cover(con, context) -> None:
    with pytest.raises(AuditError, match="run sla evaluate --from 2027-01"):
        breach_register(
            con, month_from="2027-01", month_to="2027-01", evaluation_id=context.evaluation_id
        )


def test_sales_reports_write_manifests_that_verify(con, tmp_path) -> None:
    from pipeline.report_sales import (
        build_customer_context,
        build_tiers_context,
        write_sales_report,
    )

    params = {"report": "tiers", "month_from": "2026-07", "month_to": "2026-09"}
    tiers = build_tiers_context(con, "2026-07", "2026-09")
    paths = write_sales_report(con, tiers, "tiers.html.j2", tmp_path, "t", ("html",), params)
    assert paths[-1].name == "t.manifest.json"
    assert verify_manifest(con, paths[-1]).reproduced
    params = {
        "report": "customer",
        "customer_id": "C00001",
        "month_from": "2026-01",
        "month_to": "2026-10",
    }
    customer = build_customer_context(con, "C00001", "2026-01", "2026-10")
    paths = write_sales_report(con, customer, "customer.html.j2", tmp_path, "c", ("html",), params)
    assert verify_manifest(con, paths[-1]).reproduced
