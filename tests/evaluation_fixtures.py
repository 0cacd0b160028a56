"""Small hand-built warehouses for evaluation tests."""

from __future__ import annotations

import duckdb
import pandas as pd

from pipeline.policy import Policy
from pipeline.warehouse import connect

TZ = "Europe/Amsterdam"


def local(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text, tz=TZ).tz_convert("UTC")


def schema_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the canonical schema and the evaluation tables."""
    return connect(":memory:")


def ticket(
    ticket_id: str,
    customer_id: str,
    created: str,
    *,
    first_response: str | None = None,
    resolved: str | None = None,
    priority: str = "normal",
    channel: str = "email",
    requires_it_release: bool = False,
    cause_domain: str = "unknown",
) -> dict:
    return {
        "ticket_id": ticket_id,
        "source_system": "test",
        "customer_id": customer_id,
        "created_at": local(created),
        "first_response_at": local(first_response),
        "resolved_at": local(resolved),
        "closed_at": None,
        "priority": priority,
        "channel": channel,
        "category": "payments",
        "status": "resolved" if resolved else "open",
        "requires_it_release": requires_it_release,
        "cause_domain": cause_domain,
        "subject": f"ticket {ticket_id}",
        "updated_at": local(resolved or first_response or created),
        "load_id": 1,
    }


def event(
    ticket_id: str, at: str, kind: str, old: str | None = None, new: str | None = None
) -> dict:
    return {
        "ticket_id": ticket_id,
        "at": local(at),
        "kind": kind,
        "old_value": old,
        "new_value": new,
        "actor_type": "agent",
        "load_id": 1,
    }


def status(ticket_id: str, at: str, old: str | None, new: str) -> dict:
    return event(ticket_id, at, "status_change", old, new)


def reply(ticket_id: str, at: str) -> dict:
    return event(ticket_id, at, "agent_reply")


def priority_change(ticket_id: str, at: str, old: str | None, new: str | None) -> dict:
    return event(ticket_id, at, "priority_change", old, new)


def plan(customer_id: str, tier: str, valid_from: str, valid_to: str | None = None) -> dict:
    return {
        "customer_id": customer_id,
        "tier": tier,
        "valid_from": local(valid_from),
        "valid_to": local(valid_to),
        "load_id": 1,
    }


def hand_worked_plans() -> list[dict]:
    """The customers of the hand-worked tickets: C-PREM premium, C-BUS business,
    C-FREE pioneer (no SLA), and C-UPG business until it upgrades to premium on
    13 October 2026."""
    return [
        plan("C-PREM", "premium", "2025-01-01"),
        plan("C-BUS", "business", "2025-01-01"),
        plan("C-FREE", "pioneer", "2025-01-01"),
        plan("C-UPG", "business", "2025-01-01", "2026-10-13"),
        plan("C-UPG", "premium", "2026-10-13"),
    ]


def critical_override_policy() -> Policy:
    """The built-in policy with a resolution override for critical tickets: target
    1, limit 2 working days (against 3 and 7 for business)."""
    doc = Policy.default().document
    doc["versions"][0]["metrics"]["resolution"]["by_priority"] = {
        "critical": {"target_days": 1, "limit_days": 2}
    }
    return Policy.from_dict(doc)


def build(tickets: list[dict], events: list[dict], plans: list[dict]) -> duckdb.DuckDBPyConnection:
    con = schema_connection()
    con.execute(
        "INSERT INTO loads (load_id, kind, path, sha256, format, preset, rows_read, accepted, "
        "started_at, finished_at) VALUES (1, 'tickets', 'test.csv', 'abc', 'csv', 'canonical', "
        "0, 0, now(), now())"
    )
    for table, rows in (("tickets", tickets), ("ticket_events", events), ("plan_history", plans)):
        if rows:
            frame = pd.DataFrame(rows)
            con.register("_rows", frame)
            columns = ", ".join(f'"{c}"' for c in frame.columns)
            con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _rows")
            con.unregister("_rows")
    return con
