"""ServiceNow incident export: one row per update, rebuilt into tickets and events.

The export (an incident list or the audit-style export of `incident` with one
row per update) holds a snapshot of the incident after each update: `number`,
`incident_state`, `sys_updated_on` (or `sys_updated_at`), `opened_at`,
`resolved_at`, `closed_at`, `priority`, `caller_id`, `company`, `contact_type`,
`short_description`, `hold_reason`, `category`. The reader sorts the snapshots
of each incident by update time, turns every change of state into a status
event and every change of priority into a priority event, and takes the last
snapshot as the ticket. Everything is done with
whole-column pandas operations (sort, shift, compare), not per incident.

Decisions (docs/presets.md): a state of On Hold with hold reason Awaiting Caller
(1) is waiting on the customer, any other hold is waiting on a third party; the
first move to In Progress is the first response (the export has no comments);
Canceled counts as closed; the customer is `company`, else `caller_id`.
Timestamps are the exporting user's local time without offset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import LoadError

STATES = {
    "1": "new",
    "new": "new",
    "2": "open",
    "in progress": "open",
    "active": "open",
    "3": "on_hold",
    "on hold": "on_hold",
    "6": "resolved",
    "resolved": "resolved",
    "7": "closed",
    "closed": "closed",
    "8": "closed",
    "canceled": "closed",
    "cancelled": "closed",
}
PRIORITIES = {"1": "critical", "2": "high", "3": "normal", "4": "low", "5": "low"}
CHANNELS = {
    "phone": "phone",
    "email": "email",
    "self-service": "web",
    "chat": "chat",
    "walk-in": "other",
    "virtual agent": "chat",
}
AWAITING_CALLER = {"1", "awaiting caller"}
REQUIRED = ("number", "incident_state", "opened_at")


def _lower(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip().str.lower()


def extract(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tickets, events) as canonical text columns with `_line` and `_raw`."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise LoadError(f"{path}: cannot read as a ServiceNow CSV export: {exc}") from None
    raw.columns = [c.strip() for c in raw.columns]
    updated_col = next((c for c in ("sys_updated_on", "sys_updated_at") if c in raw.columns), None)
    missing = [c for c in REQUIRED if c not in raw.columns] + (
        [] if updated_col else ["sys_updated_on"]
    )
    if missing:
        raise LoadError(f"{path}: not a ServiceNow incident export: no column {missing[0]!r}")
    frame = raw.replace("", None)
    frame["_line"] = np.arange(len(frame)) + 2
    frame["_raw"] = raw.to_json(orient="records", lines=True, force_ascii=False).splitlines()
    state = _lower(frame["incident_state"]).map(STATES)
    hold = _lower(frame.get("hold_reason", pd.Series("", index=frame.index)))
    status = state.where(
        state != "on_hold",
        np.where(hold.isin(AWAITING_CALLER), "waiting_on_customer", "waiting_on_third_party"),
    )
    # Unknown states pass through as written: the loader rejects them by name.
    frame["_status"] = status.where(status.notna(), frame["incident_state"])
    frame["_updated"] = pd.to_datetime(frame[updated_col], errors="coerce")
    frame = frame.sort_values(["number", "_updated", "_line"], kind="stable")

    same = frame["number"].eq(frame["number"].shift())
    previous = frame["_status"].shift().where(same, "new")
    changed = frame["_status"].ne(previous)
    moves = frame[changed]
    events = pd.DataFrame(
        {
            "ticket_id": moves["number"],
            "at": moves[updated_col],
            "kind": "status_change",
            "old_value": previous[changed],
            "new_value": moves["_status"],
            "actor_type": "agent",
            "_line": moves["_line"],
            "_raw": moves["_raw"],
        }
    )
    # A change of priority between snapshots is an event too: --as-of undoes it.
    if "priority" in frame.columns:
        code = _lower(frame["priority"]).str[:1].map(PRIORITIES)
        frame["_priority"] = code.where(code.notna(), frame["priority"])
        before = frame["_priority"].shift().where(same)
        moved = same & frame["_priority"].notna() & before.notna()
        moved &= frame["_priority"].ne(before)
        shifts = frame[moved]
        events = pd.concat(
            [
                events,
                pd.DataFrame(
                    {
                        "ticket_id": shifts["number"],
                        "at": shifts[updated_col],
                        "kind": "priority_change",
                        "old_value": before[moved],
                        "new_value": shifts["_priority"],
                        "actor_type": "agent",
                        "_line": shifts["_line"],
                        "_raw": shifts["_raw"],
                    }
                ),
            ]
        )
    started = frame[(frame["_status"] == "open") & (previous != "open")]
    first_work = started.groupby("number")[updated_col].first()

    last = frame.groupby("number", sort=False).tail(1).set_index("number", drop=False)
    channel = _lower(last.get("contact_type", pd.Series("", index=last.index))).map(CHANNELS)
    customer = last["company"] if "company" in last.columns else None
    if customer is None or customer.isna().all():
        customer = last.get("caller_id")
    elif "caller_id" in last.columns:
        customer = customer.fillna(last["caller_id"])
    tickets = pd.DataFrame(
        {
            "ticket_id": last["number"],
            "source_system": "servicenow",
            "customer_id": customer,
            "created_at": last["opened_at"],
            "first_response_at": first_work.reindex(last.index),
            "resolved_at": last.get("resolved_at"),
            "closed_at": last.get("closed_at"),
            "priority": last.get("_priority"),
            "channel": channel.fillna("other"),
            "category": last.get("category"),
            "status": last["_status"],
            "requires_it_release": "false",
            "cause_domain": "unknown",
            "subject": last.get("short_description"),
            "updated_at": last[updated_col],
            "_line": last["_line"],
            "_raw": last["_raw"],
        }
    ).reset_index(drop=True)
    # Earlier snapshots are accounted for: they became events or were unchanged
    # repeats of a state, and the ticket row carries the last one.
    return tickets, events.reset_index(drop=True)
