"""Zendesk incremental exports: tickets, and ticket events for the status history.

Reads a JSON file holding a page (or the concatenated pages) of
`/api/v2/incremental/tickets.json` (key `tickets`) and/or
`/api/v2/incremental/ticket_events.json?include=comment_events` (key
`ticket_events`); a JSON-lines file of such pages works too. Timestamps are
ISO 8601 in UTC (`...Z`), so no source zone is needed; one without an offset
is not a Zendesk timestamp and its record is rejected, not read as UTC.

Mapping (docs/presets.md): status new/open/pending/hold/solved/closed become
new/open/waiting_on_customer/waiting_on_third_party/resolved/closed; priority
urgent becomes critical; `via.channel` email/web/chat/voice/api become
email/web/chat/phone/api, anything else other; the customer is the
organization, else the requester; the tag `it_release` marks a ticket that needs
an IT release. The first public comment by someone other than the requester is
the first response (agent_reply); a change of status is a status_change event,
a change of priority a priority_change event (so that --as-of can undo it).

Records are walked one by one (JSON has no columns to vectorise over); the
result is handed to the loader as whole frames. A record that cannot be read
becomes a row the loader rejects, with the record's number; a file that is not
UTF-8 JSON shaped as an incremental export is refused with a `LoadError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import LoadError
from pipeline.instants import OFFSET_SUFFIX, end_of_day, utc_suffix_as_z
from pipeline.sources.base import EVENT_COLUMNS, TICKET_COLUMNS, undecodable

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
# The fields whose changes become events, in the order a child event is tried.
CHANGED_FIELDS = ("status", "priority")


TICKET_TIMES = ("created_at", "resolved_at", "updated_at")
# How an instant is handed to the loader.
ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise undecodable(
            path,
            exc,
            advice="Zendesk exports are UTF-8 JSON; was the file re-saved in another encoding?",
        ) from None


def _pages(path: Path) -> list[tuple[int | None, Any]]:
    """The JSON pages of the file, each with its line in a JSON-lines file (None
    for a file that is one JSON document)."""
    text = _text(path)
    if not text.strip():
        raise LoadError(f"{path}: the file is empty: nothing to load")
    try:
        return [(None, json.loads(text))]
    except json.JSONDecodeError as exc:
        whole = exc
    # Split on "\n" alone: U+2028 and U+0085 may stand unescaped inside JSON
    # strings, and str.splitlines() would break a page there.
    lines = text.split("\n")
    first = next(line for line in lines if line.strip())
    try:
        json.loads(first)
    except json.JSONDecodeError:
        # Not JSON lines either: one document (often pretty-printed) with an error.
        raise LoadError(
            f"{path}, line {whole.lineno}, column {whole.colno}: not JSON: {whole.msg}"
        ) from None
    pages = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                pages.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise LoadError(
                    f"{path}, line {number}, column {exc.colno}: not JSON: {exc.msg}"
                ) from None
    return pages


def _value(value: Any) -> str | None:
    """A JSON value as the loader's text: a list or object stays JSON, so that the
    loader rejects it by name with the value in view."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _label(table: dict[str, str], value: Any) -> str | None:
    """A Zendesk label in canonical terms; anything else passes as it is, for the
    loader to reject as an unknown value."""
    return table.get(value, value) if isinstance(value, str) else _value(value)


# A JSON number as a time counts seconds since 1970 below this, milliseconds from
# it: 10^11 seconds is the year 5138, 10^11 milliseconds March 1973, so no time a
# help desk records (1973 to 5138) reads both ways (docs/presets.md).
EPOCH_MILLISECONDS_FROM = 10**11


def _when(value: Any) -> str | None:
    """A Zendesk time as text for the loader. A JSON number is a Unix time (ticket
    events carry a `timestamp`; API tools write `created_at` in seconds or, as
    JavaScript does, milliseconds), its unit told by its size; one no instant can
    be made of is left as written, to be rejected with the number in view."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        unit = "ms" if abs(value) >= EPOCH_MILLISECONDS_FROM else "s"
        try:
            return pd.Timestamp(value, unit=unit, tz="UTC").isoformat()
        except (ValueError, OverflowError):
            pass
    return _value(value)


def _utc(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Zendesk timestamps as UTC text for the loader, and as instants (NaT where
    there is no instant: an empty value, or one to reject).

    Zendesk writes UTC with `Z`; a time with an explicit offset is read as
    that instant. A time without one, or no time at all, is left as written
    for the caller to reject (unparseable_timestamp) whatever --source-tz says:
    its zone is unknown, and deciding it here, once, is what keeps a first
    response derived here consistent with the events the loader keeps."""
    text = values.astype(object).where(values.notna(), None)
    explicit = text.str.contains(OFFSET_SUFFIX, regex=True, na=False)
    # As the loader's SQL reads text: 24:00 is the next midnight, digits below the
    # microsecond are cut off (pipeline/instants.py).
    readable, late = end_of_day(utc_suffix_as_z(text.where(explicit)))
    instants = pd.to_datetime(readable, format="ISO8601", errors="coerce", utc=True)
    instants = instants.where(~late, instants + pd.Timedelta(days=1)).dt.floor("us")
    good = instants.notna()
    out = text.copy()
    out[good] = instants[good].dt.strftime(ISO_UTC)
    return out, instants


def _times(frame: pd.DataFrame, fields: tuple[str, ...]) -> dict[str, pd.Series]:
    """Put the timestamp `fields` of `frame` in UTC text (in place) and set its
    `_rejected` to the first of them holding no instant, 'unparseable_timestamp:field'
    (None: the loader checks the row). Returns each field's instants."""
    frame["_rejected"] = None
    instants = {}
    # Backwards, so that the first bad field is the one that stays named.
    for name in reversed(fields):
        frame[name], instants[name] = _utc(frame[name])
        bad = frame[name].notna() & instants[name].isna()
        frame["_rejected"] = frame["_rejected"].mask(bad, f"unparseable_timestamp:{name}")
    return instants


def _ticket_row(ticket: Any, record: int, metric_sets: dict) -> dict[str, Any]:
    base = {"_line": record, "_raw": json.dumps(ticket, ensure_ascii=False)}
    if not isinstance(ticket, dict):
        # Not a ticket at all: a row without a ticket id, which the loader rejects.
        return {**dict.fromkeys(TICKET_COLUMNS), "source_system": "zendesk", **base}
    via = ticket.get("via")
    channel = via.get("channel") if isinstance(via, dict) else via
    # A ticket fetched alone carries its `metric_set`; the incremental export
    # side-loads them beside the tickets, as `metric_sets` naming their ticket.
    metrics = ticket["metric_set"] if "metric_set" in ticket else metric_sets.get(ticket.get("id"))
    tags = ticket.get("tags") or []
    customer = ticket.get("organization_id") or ticket.get("requester_id")
    return {
        "ticket_id": _value(ticket.get("id")),
        "source_system": "zendesk",
        "customer_id": _value(customer),
        "created_at": _when(ticket.get("created_at")),
        "first_response_at": None,
        "resolved_at": (
            _when(metrics.get("solved_at")) if isinstance(metrics, dict) else _value(metrics)
        ),
        "closed_at": None,
        "priority": _label(PRIORITIES, ticket.get("priority")),
        "channel": (
            CHANNELS.get(channel, "other")
            if isinstance(channel, str) and channel
            else _value(channel)
        ),
        "category": _value(ticket.get("type")),
        "status": _label(STATUSES, ticket.get("status")),
        "requires_it_release": (
            str(IT_RELEASE_TAG in tags).lower() if isinstance(tags, list) else _value(tags)
        ),
        "cause_domain": "unknown",
        "subject": _value(ticket.get("subject")),
        "updated_at": _when(ticket.get("updated_at")),
        **base,
    }


def _event_rows(event: Any, record: int, requesters: dict) -> list[dict[str, Any]]:
    """The canonical events of one ticket event record. Child events of other
    kinds (assignee, tags, ...) are not read; a record that cannot be read gives
    one row without a kind, which the loader rejects with the record's number."""
    unreadable = {**dict.fromkeys(EVENT_COLUMNS), "_line": record}
    if not isinstance(event, dict):
        return [{**unreadable, "_raw": json.dumps(event, ensure_ascii=False)}]
    ticket_id = _value(event.get("ticket_id"))
    at = _when(event.get("created_at") or event.get("timestamp"))
    children = event.get("child_events", [])
    if not isinstance(children, list):
        raw = json.dumps(event, ensure_ascii=False)
        return [{**unreadable, "ticket_id": ticket_id, "at": at, "_raw": raw}]
    rows = []
    for child in children:
        base = {
            "ticket_id": ticket_id,
            "at": at,
            "_line": record,
            "_raw": json.dumps(child, ensure_ascii=False),
        }
        if not isinstance(child, dict):
            rows.append({**unreadable, **base})
            continue
        # The Ticket Audits API names the field (`field_name`, `value`); the
        # incremental ticket event export keys the new value by the field itself
        # (`"priority": "urgent", "previous_value": "high"`).
        field = child.get("field_name") or next((k for k in CHANGED_FIELDS if k in child), None)
        if field in CHANGED_FIELDS:
            new = child["value"] if "value" in child else child.get(field)
            old = child.get("previous_value")
        if child.get("event_type") in ("Change", "Create") and field == "status":
            rows.append(
                {
                    **base,
                    "kind": "status_change",
                    "old_value": _label(STATUSES, old),
                    "new_value": _label(STATUSES, new),
                    "actor_type": "agent",
                }
            )
        elif child.get("event_type") == "Change" and field == "priority":
            rows.append(
                {
                    **base,
                    "kind": "priority_change",
                    "old_value": _label(PRIORITIES, old),
                    "new_value": _label(PRIORITIES, new),
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
            rows.append(
                {
                    **base,
                    "kind": kind,
                    "old_value": None,
                    "new_value": None,
                    "actor_type": "customer" if is_customer else "agent",
                }
            )
    return rows


def _records(page: Any, key: str, where: str) -> list:
    if not isinstance(page, dict) or not ({"tickets", "ticket_events"} & set(page)):
        raise LoadError(
            f"{where}: not a Zendesk incremental export (no 'tickets' or 'ticket_events' key)"
        )
    records = page.get(key, [])
    if not isinstance(records, list):
        raise LoadError(
            f"{where}, field {key!r}: expected a list of records, found {json.dumps(records)[:40]}"
        )
    return records


def _metric_sets(path: Path, pages: list[tuple[int | None, Any]]) -> dict[Any, Any]:
    """The side-loaded metric sets of the file (`include=metric_sets` on the
    incremental ticket export), by ticket id; a later page's set of a ticket
    replaces an earlier one, as its ticket does.

    Raises `LoadError` naming the page and field when `metric_sets` is not a list
    of objects with a `ticket_id`: such a set cannot be matched to its ticket,
    whose resolution would then be missing without a word."""
    found: dict[Any, Any] = {}
    for line, page in pages:
        if not isinstance(page, dict) or "metric_sets" not in page:
            continue
        where = str(path) if line is None else f"{path}, line {line}"
        sets = page["metric_sets"]
        if not isinstance(sets, list) or not all(
            isinstance(m, dict) and m.get("ticket_id") is not None for m in sets
        ):
            raise LoadError(
                f"{where}, field 'metric_sets': expected a list of metric sets, each with "
                f"its ticket_id, found {json.dumps(sets)[:60]}"
            )
        found.update((m["ticket_id"], m) for m in sets)
    return found


def _latest_versions(tickets: pd.DataFrame, updated: pd.Series) -> pd.DataFrame:
    """Each ticket once, as its latest version. The incremental export lists a
    ticket again on the page of every later update, so the pages of one export
    hold earlier versions of it; read as rows, they differed and every version
    was rejected as duplicate_conflicting, losing the ticket. The latest is the
    one updated last (then the last in the file), as the loader orders versions
    across loads; the history between them is in the ticket events. Records the
    loader will reject (no id, a time that is no instant) are all kept."""
    readable = tickets["ticket_id"].notna() & tickets["_rejected"].isna()
    order = pd.DataFrame(
        {"id": tickets["ticket_id"], "updated": updated, "line": tickets["_line"]}
    )[readable].sort_values(["updated", "line"], na_position="first")
    earlier = order.duplicated("id", keep="last")
    return tickets.drop(index=order.index[earlier.to_numpy()]).reset_index(drop=True)


def extract(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tickets, events) as canonical text columns with `_line` (record number), `_raw`
    and `_rejected` (see `_times`).

    Raises `LoadError` naming the file (and line, and field) when it is not UTF-8
    JSON or not shaped as a Zendesk incremental export; a record that cannot be
    read does not raise: it becomes a row the loader rejects."""
    path = Path(path)
    tickets, events, requesters = [], [], {}
    record = 0
    pages = _pages(path)
    metric_sets = _metric_sets(path, pages)
    for line, page in pages:
        where = str(path) if line is None else f"{path}, line {line}"
        for ticket in _records(page, "tickets", where):
            record += 1
            row = _ticket_row(ticket, record, metric_sets)
            if isinstance(ticket, dict):
                requesters[row["ticket_id"]] = ticket.get("requester_id")
            tickets.append(row)
        for event in _records(page, "ticket_events", where):
            record += 1
            events.extend(_event_rows(event, record, requesters))
    tickets_frame = pd.DataFrame(tickets, columns=[*TICKET_COLUMNS, "_line", "_raw"])
    events_frame = pd.DataFrame(events, columns=[*EVENT_COLUMNS, "_line", "_raw"])
    updated = _times(tickets_frame, TICKET_TIMES)["updated_at"]
    tickets_frame = _latest_versions(tickets_frame, updated)
    at = _times(events_frame, ("at",))["at"]
    # The first public reply by anyone but the requester is the first response.
    # Replies whose time is not an instant are rejected above: they do not count.
    replies = at[(events_frame["kind"] == "agent_reply") & at.notna()]
    first = replies.groupby(events_frame["ticket_id"]).min().dt.strftime(ISO_UTC)
    replied = tickets_frame["ticket_id"].map(first)
    tickets_frame["first_response_at"] = replied.astype(object).where(replied.notna(), None)
    return tickets_frame, events_frame
