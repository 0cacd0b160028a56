"""Zendesk incremental exports: tickets, and ticket events for the status history.

Reads a JSON file holding a page (or the concatenated pages) of
`/api/v2/incremental/tickets.json` (key `tickets`) and/or
`/api/v2/incremental/ticket_events.json?include=comment_events` (key
`ticket_events`); a JSON-lines file of such pages works too. Timestamps are
ISO 8601 in UTC (`...Z`), so no source zone is needed.

Mapping (docs/presets.md): status new/open/pending/hold/solved/closed become
new/open/waiting_on_customer/waiting_on_third_party/resolved/closed; priority
urgent becomes critical; `via.channel` email/web/chat/voice/api become
email/web/chat/phone/api, anything else other; the customer is the
organization, else the requester; the tag `it_release` marks a ticket that needs
an IT release. The first public comment by someone other than the requester is
the first response (agent_reply); a change of status is a status_change event,
a change of priority a priority_change event (so that --as-of can undo it).

Records are walked one by one (JSON has no columns to vectorise over); the
result is handed to the loader as whole frames.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import LoadError

STATUSES = {
    "new": "new",
    "open": "open",
    "pending": "waiting_on_customer",
    "hold": "waiting_on_third_party",
    "solved": "resolved",
    "closed": "closed",
}
PRIORITIES = {"low": "low", "normal": "normal", "high": "high", "urgent": "critical"}
CHANNELS = {
    "email": "email",
    "web": "web",
    "chat": "chat",
    "voice": "phone",
    "api": "api",
    "native_messaging": "chat",
    "mobile_sdk": "web",
}
IT_RELEASE_TAG = "it_release"


def _pages(path: Path) -> list[tuple[int, dict]]:
    text = path.read_text("utf-8-sig")
    try:
        return [(1, json.loads(text))]
    except json.JSONDecodeError:
        pass
    pages = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                pages.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise LoadError(f"{path}, line {number}: not JSON: {exc}") from None
    return pages


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float):  # ticket events carry a Unix `timestamp`
        return pd.Timestamp(value, unit="s", tz="UTC").isoformat()
    return str(value)


def extract(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tickets, events) as canonical text columns with `_line` (record number) and `_raw`."""
    path = Path(path)
    tickets, events, requesters = [], [], {}
    record = 0
    for _, page in _pages(path):
        if not isinstance(page, dict) or not ({"tickets", "ticket_events"} & set(page)):
            raise LoadError(
                f"{path}: not a Zendesk incremental export (no 'tickets' or 'ticket_events' key)"
            )
        for ticket in page.get("tickets", []):
            record += 1
            requesters[str(ticket.get("id"))] = ticket.get("requester_id")
            via = (ticket.get("via") or {}).get("channel")
            metrics = ticket.get("metric_set") or {}
            tags = ticket.get("tags") or []
            customer = ticket.get("organization_id") or ticket.get("requester_id")
            tickets.append(
                {
                    "ticket_id": None if ticket.get("id") is None else str(ticket["id"]),
                    "source_system": "zendesk",
                    "customer_id": None if customer is None else str(customer),
                    "created_at": _iso(ticket.get("created_at")),
                    "first_response_at": None,
                    "resolved_at": _iso(metrics.get("solved_at")),
                    "closed_at": None,
                    "priority": PRIORITIES.get(ticket.get("priority"), ticket.get("priority")),
                    "channel": CHANNELS.get(via, "other") if via else None,
                    "category": ticket.get("type"),
                    "status": STATUSES.get(ticket.get("status"), ticket.get("status")),
                    "requires_it_release": "true" if IT_RELEASE_TAG in tags else "false",
                    "cause_domain": "unknown",
                    "subject": ticket.get("subject"),
                    "updated_at": _iso(ticket.get("updated_at")),
                    "_line": record,
                    "_raw": json.dumps(ticket, ensure_ascii=False),
                }
            )
        for event in page.get("ticket_events", []):
            record += 1
            ticket_id = str(event.get("ticket_id"))
            at = _iso(event.get("created_at") or event.get("timestamp"))
            for child in event.get("child_events", []):
                base = {
                    "ticket_id": ticket_id,
                    "at": at,
                    "_line": record,
                    "_raw": json.dumps(child, ensure_ascii=False),
                }
                field = child.get("field_name") or ("status" if "status" in child else None)
                if child.get("event_type") in ("Change", "Create") and field == "status":
                    new = child.get("value", child.get("status"))
                    old = child.get("previous_value")
                    events.append(
                        {
                            **base,
                            "kind": "status_change",
                            "old_value": STATUSES.get(old, old),
                            "new_value": STATUSES.get(new, new),
                            "actor_type": "agent",
                        }
                    )
                elif child.get("event_type") == "Change" and field == "priority":
                    new, old = child.get("value"), child.get("previous_value")
                    events.append(
                        {
                            **base,
                            "kind": "priority_change",
                            "old_value": PRIORITIES.get(old, old),
                            "new_value": PRIORITIES.get(new, new),
                            "actor_type": "agent",
                        }
                    )
                elif child.get("event_type") in ("Comment", "VoiceComment"):
                    author = child.get("author_id")
                    is_customer = author is not None and author == requesters.get(ticket_id)
                    if child.get("public", True):
                        kind = "customer_reply" if is_customer else "agent_reply"
                    else:
                        kind = "internal_note"
                    events.append(
                        {
                            **base,
                            "kind": kind,
                            "old_value": None,
                            "new_value": None,
                            "actor_type": "customer" if is_customer else "agent",
                        }
                    )
    tickets_frame = pd.DataFrame(tickets)
    events_frame = pd.DataFrame(events)
    if len(tickets_frame) and len(events_frame):
        # The first public reply by anyone but the requester is the first response.
        replies = events_frame[events_frame["kind"] == "agent_reply"]
        first = (
            replies.assign(ts=pd.to_datetime(replies["at"], utc=True))
            .groupby("ticket_id")["ts"]
            .min()
        )
        mapped = tickets_frame["ticket_id"].map(first)
        tickets_frame["first_response_at"] = mapped.map(
            lambda ts: None if pd.isna(ts) else ts.isoformat()
        )
    return tickets_frame, events_frame
