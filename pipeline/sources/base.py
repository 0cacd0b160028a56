"""The canonical columns and vocabularies every reader maps onto.

A reader (canonical file, mapping file, or a vendor preset) only *extracts*: it
turns a file into rows with these column names, every value still text, each
with the line it came from and its raw content. Parsing, validation, rejection
with reason codes and merging happen once, in the loader's SQL, so every source
is judged by the same rules.
"""

from __future__ import annotations

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
