"""ServiceNow incident export: one row per update, rebuilt into tickets and events.

The export (an incident list or the audit-style export of `incident` with one
row per update) holds a snapshot of the incident after each update: `number`,
`incident_state`, `sys_updated_on` (or `sys_updated_at`), `opened_at`,
`resolved_at`, `closed_at`, `priority`, `caller_id`, `company`, `contact_type`,
`short_description`, `hold_reason`, `category`; `state` stands in for a missing
`incident_state`. The reader sorts the snapshots
of each incident by update time, turns every change of state into a status
event and every change of priority into a priority event, and takes the last
snapshot as the ticket. Everything is done with
whole-column pandas operations (sort, shift, compare), not per incident.

Decisions (docs/presets.md): a state of On Hold with hold reason Awaiting Caller
(1) is waiting on the customer, any other hold is waiting on a third party; the
first move to In Progress is the first response (the export has no comments);
Canceled counts as closed; the customer is `company`, else `caller_id`.
Timestamps are the exporting user's local time without offset (the source
zone, which orders the snapshots), or carry an offset. A snapshot
without a number, or whose update time is empty or unreadable, cannot be placed
in an incident's history: it becomes a ticket row of its own, rejected with its
line (by the loader for want of a number, by this reader, through `_rejected`,
for the update time), and the incident is built from its other snapshots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import LoadError
from pipeline.instants import read_text
from pipeline.sources.base import naive_timestamp, raw_json, read_csv_cells

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
REQUIRED = ("number", "opened_at")
# The incident's state: `incident_state`, or `state`, the State column of the
# incident list (a list exported as CSV names its columns by field name).
STATE = ("incident_state", "state")
UPDATED = ("sys_updated_on", "sys_updated_at")
OPTIONAL = (
    "hold_reason",
    "resolved_at",
    "closed_at",
    "priority",
    "caller_id",
    "company",
    "contact_type",
    "short_description",
    "category",
)


def _lower(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip().str.lower()


def _tickets(rows: pd.DataFrame, updated_col: str, first_work: pd.Series) -> pd.DataFrame:
    """Ticket rows from snapshots: the last snapshot of each incident, or a
    snapshot that is rejected on its own (no number, unreadable update time;
    `_rejected` carries the reason this reader gives)."""
    channel = _lower(rows.get("contact_type", pd.Series("", index=rows.index))).map(CHANNELS)
    customer = rows["company"] if "company" in rows.columns else None
    if customer is None or customer.isna().all():
        customer = rows.get("caller_id")
    elif "caller_id" in rows.columns:
        customer = customer.fillna(rows["caller_id"])
    return pd.DataFrame(
        {
            "ticket_id": rows["number"],
            "source_system": "servicenow",
            "customer_id": customer,
            "created_at": rows["opened_at"],
            "first_response_at": rows["number"].map(first_work),
            "resolved_at": rows.get("resolved_at"),
            "closed_at": rows.get("closed_at"),
            "priority": rows.get("_priority"),
            "channel": channel.fillna("other"),
            "category": rows.get("category"),
            "status": rows["_status"],
            "requires_it_release": "false",
            "cause_domain": "unknown",
            "subject": rows.get("short_description"),
            "updated_at": rows[updated_col],
            "_line": rows["_line"],
            "_raw": rows["_raw"],
            "_rejected": rows.get("_rejected"),
        },
        index=rows.index,
    )


def _changes(
    frame: pd.DataFrame,
    where: pd.Series,
    updated_col: str,
    kind: str,
    before: pd.Series,
    column: str,
) -> pd.DataFrame:
    """Event rows of `kind`, one at each sorted snapshot `where` marks: its
    `column` changed from `before` (the value of the snapshot before it)."""
    rows = frame[where]
    return pd.DataFrame(
        {
            "ticket_id": rows["number"],
            "at": rows[updated_col],
            "kind": kind,
            "old_value": before[where],
            "new_value": rows[column],
            "actor_type": "agent",
            "_line": rows["_line"],
            "_raw": rows["_raw"],
        }
    )


def _check_zone_known(
    path: Path, frame: pd.DataFrame, updated_col: str, source_tz: str | None
) -> None:
    """Without a source zone, a naive time stops the load, as in the loader, but
    named on the first snapshot holding one: the loader sees only the snapshots
    that became tickets or events, and would name a later line."""
    if source_tz is not None:
        return
    columns = {
        "created_at": "opened_at",
        "resolved_at": "resolved_at",
        "closed_at": "closed_at",
        "updated_at": updated_col,
    }
    columns = {name: column for name, column in columns.items() if column in frame.columns}
    naive = np.column_stack([read_text(frame[c], None)[1] for c in columns.values()])
    rows = np.flatnonzero(naive.any(axis=1))
    if len(rows) == 0:
        return
    row = rows[np.argmin(frame["_line"].to_numpy()[rows])]
    name, column = list(columns.items())[int(np.argmax(naive[row]))]
    line = int(frame["_line"].iloc[row])
    raise naive_timestamp(path, line, name, column, frame[column].iloc[row])


def extract(path: str | Path, source_tz: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tickets, events) as canonical text columns with `_line` and `_raw`, and
    the tickets' `_rejected` (the snapshots this reader rejects itself).
    `source_tz` is the zone of the export's naive times, which orders the
    snapshots.

    Raises `LoadError` naming the file (and line) when it is not a readable
    ServiceNow incident export, or holds a naive time and `source_tz` is None;
    bad snapshots do not raise, they become rows the loader rejects."""
    path = Path(path)
    raw, lines = read_csv_cells(
        path, what="a ServiceNow CSV export", reads=(*REQUIRED, *STATE, *UPDATED, *OPTIONAL)
    )
    updated_col = next((c for c in UPDATED if c in raw.columns), None)
    state_col = next((c for c in STATE if c in raw.columns), None)
    missing = [c for c in REQUIRED if c not in raw.columns]
    missing += [] if state_col else ["incident_state (or state)"]
    missing += [] if updated_col else ["sys_updated_on"]
    if missing:
        raise LoadError(f"{path}: not a ServiceNow incident export: no column {missing[0]!r}")
    frame = raw.replace("", None)
    frame["_line"] = lines
    frame["_raw"] = raw_json(raw)
    state = _lower(frame[state_col]).map(STATES)
    hold = _lower(frame.get("hold_reason", pd.Series("", index=frame.index)))
    status = state.where(
        state != "on_hold",
        np.where(hold.isin(AWAITING_CALLER), "waiting_on_customer", "waiting_on_third_party"),
    )
    # Unknown states pass through as written: the loader rejects them by name.
    frame["_status"] = status.where(status.notna(), frame[state_col])
    if "priority" in frame.columns:
        code = _lower(frame["priority"]).str[:1].map(PRIORITIES)
        frame["_priority"] = code.where(code.notna(), frame["priority"])
    # Snapshots are ordered by the instant of their update, the naive ones read
    # in the source zone as the loader reads them: an export may mix naive local
    # times with times that carry an offset.
    _check_zone_known(path, frame, updated_col, source_tz)
    frame["_updated"], _, beyond = read_text(frame[updated_col], source_tz)
    # A snapshot without a number belongs to no incident, and one without a
    # readable update time has no place in its incident's history: each becomes
    # a ticket row of its own, rejected with its line instead of vanishing or
    # being sorted last and taken as the incident's latest state. The loader
    # rejects a missing number itself; the update time is judged here, since
    # the loader would accept an empty one (a ticket's other times stand in).
    # An update time beyond the years the evaluation counts (9999-12-31) has no
    # instant either: it is rejected as out of range, as the loader rejects one.
    placed = frame["number"].notna() & frame["_updated"].notna()
    alone = frame[~placed].copy()
    alone["_rejected"] = np.select(
        [
            alone["number"].isna(),
            alone[updated_col].isna(),
            beyond[~placed.to_numpy()],
        ],
        [None, "missing_required_field:updated_at", "timestamp_out_of_range:updated_at"],
        "unparseable_timestamp:updated_at",
    )
    frame = frame[placed].sort_values(["number", "_updated", "_line"], kind="stable")

    same = frame["number"].eq(frame["number"].shift())
    previous = frame["_status"].shift().where(same, "new")
    changed = frame["_status"].ne(previous)
    events = [_changes(frame, changed, updated_col, "status_change", previous, "_status")]
    # A change of priority between snapshots is an event too: --as-of undoes it.
    if "_priority" in frame.columns:
        before = frame["_priority"].shift().where(same)
        moved = same & frame["_priority"].notna() & before.notna()
        moved &= frame["_priority"].ne(before)
        events.append(_changes(frame, moved, updated_col, "priority_change", before, "_priority"))
    started = frame[(frame["_status"] == "open") & (previous != "open")]
    first_work = started.groupby("number")[updated_col].first()

    last = frame.groupby("number", sort=False).tail(1)
    tickets = pd.concat(
        [
            _tickets(last, updated_col, first_work),
            _tickets(alone, updated_col, pd.Series(dtype=object)),
        ]
    )
    # Earlier snapshots are accounted for: they became events or were unchanged
    # repeats of a state, and the ticket row carries the last one.
    tickets = tickets.sort_values("_line").reset_index(drop=True)
    events = pd.concat(events).sort_values("_line", kind="stable").reset_index(drop=True)
    # The export's names of the fields read straight from a column, for messages.
    tickets.attrs["source_columns"] = {
        "ticket_id": "number",
        "created_at": "opened_at",
        "resolved_at": "resolved_at",
        "closed_at": "closed_at",
        "updated_at": updated_col,
        "subject": "short_description",
    }
    events.attrs["source_columns"] = {"ticket_id": "number", "at": updated_col}
    return tickets, events
