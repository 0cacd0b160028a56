"""The contract between an export reader and the warehouse loader.

A reader (canonical, mapping file, or a vendor preset) only *extracts*: it turns
a file into rows with the canonical column names, every value still a string (or
None), each with the line it came from and its raw text. Parsing, validation,
rejection with reason codes and merging happen once, in the loader's SQL, so
every source is judged by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

TICKET_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "source_system",
    "customer_id",
    "created_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "priority",
    "channel",
    "category",
    "status",
    "requires_it_release",
    "cause_domain",
    "subject",
    "updated_at",
)

EVENT_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "at",
    "kind",
    "old_value",
    "new_value",
    "actor_type",
)

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "name",
    "tier",
    "valid_from",
    "valid_to",
)

# Canonical vocabularies. Readers map their source's labels onto these.
PRIORITIES = ("low", "normal", "high", "critical")
CHANNELS = ("chat", "email", "phone", "outage_line", "web", "api", "other")
STATUSES = (
    "new",
    "open",
    "waiting_on_customer",
    "waiting_on_third_party",
    "resolved",
    "closed",
)
EVENT_KINDS = (
    "status_change",
    "agent_reply",
    "customer_reply",
    "internal_note",
    "priority_change",
    "reopen",
    "resolve",
    "close",
)
ACTOR_TYPES = ("agent", "customer", "system")
CAUSE_DOMAINS = ("provider", "customer", "unknown")
TIERS = ("pioneer", "professional", "business", "premium")


@dataclass(frozen=True)
class Rejection:
    """A row the reader could not even turn into canonical strings."""

    line_number: int | None
    field: str | None
    reason_code: str
    message: str
    raw: str | None


@dataclass
class RawBatch:
    """What a reader hands to the loader.

    `tickets` / `events` hold the canonical columns (missing ones may be absent)
    with string-or-None values, plus `_line` (1-based line or record number in
    the file) and `_raw` (the raw row text, kept for `rejected_rows`).
    Timestamps are strings: ISO 8601 by default, or in one of
    `timestamp_formats` (strptime syntax). Naive timestamps are read in
    `source_tz`; a batch with naive timestamps and no `source_tz` is refused.
    """

    format: str
    preset: str
    tickets: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    source_tz: str | None = None
    timestamp_formats: list[str] | None = None
    rejected: list[Rejection] = field(default_factory=list)
    mapping: dict | None = None  # recorded with the load, as JSON
