"""A seeded generator of realistic demo exports for a Dutch payment provider's desk.

    python -m pipeline.demo --out data/sample --tickets 10000 --customers 2500 --seed 7

Writes the canonical format (docs/canonical-format.md, `pipeline.sources.base`)
as three UTF-8 CSV files with a header row: customers.csv (one row per plan
period), tickets.csv and events.csv. Timestamps are Europe/Amsterdam local time
to the second with their offset (`2026-10-26T09:15:00+01:00`); an empty field
is a missing value. The same arguments give byte-identical files.

What it models (the numbers are the constants below; docs/demo-data.md):

- customers across Pioneer / Professional / Business / Premium (45/30/18/7 %),
  15 % changing plan once (three upgrades to every downgrade); a few have names
  with `& < > " ,` to test escaping downstream;
- arrivals weighted by weekday, hour and a slow growth, fewer on public
  holidays, covering Easter, King's Day and the DST changes of the period (a
  ticket is pinned to each of those days, two of them in the repeated hour);
- channels per tier support option (Pioneer chat only, Professional chat,
  e-mail and phone, Business and Premium also web), web and e-mail out of
  hours; out-of-hours critical calls on the outage line (paying tiers), about a
  third of them caused on the customer's side (billable);
- first response and resolution drawn as lognormal *working* time by tier
  (Premium fastest, Business slower with more breaches, the no-SLA tiers
  slowest) and placed on the office calendar, so agents answer in office hours;
  outage calls are answered and fixed 24/7;
- waiting-on-customer pauses (25 %), reopens (5 %), IT-release tickets (4 %,
  six times the work), priority changes (3 %), internal notes, customer
  replies, closure 2-7 days after the final resolution, and tickets still
  unanswered, open or waiting at the export instant (`end`).

Deliberately broken rows (only with `broken_rows=True`), one each unless said,
appended after the first chunk; `BROKEN_ROWS` holds the same list as data:

- `BROKEN-TS`: tickets.csv, created_at "31-02-2026 25:00" (unparseable timestamp);
- `BROKEN-FR`: tickets.csv, first_response_at before created_at;
- `BROKEN-RES`: tickets.csv, resolved_at before created_at;
- `BROKEN-CUST`: tickets.csv, customer_id `CX-UNKNOWN` (no such customer);
- an empty ticket_id: tickets.csv, missing required field;
- `BROKEN-DUP`: tickets.csv, two rows, same id, conflicting subject and priority;
- `BROKEN-PRIO`: tickets.csv, priority "urgent" (not in the vocabulary);
- `T-DOES-NOT-EXIST`: events.csv, an agent reply for a ticket that does not exist;
- `FLAG-AUTO` (suspicious, loadable): first response 0 s after creation, an auto-responder;
- `FLAG-FUTURE` (suspicious, loadable): created five years after the export date.

Two more loadable rows test escaping downstream: `HTML-1` with the subject
`<script>alert(1)</script>` and `FORMULA-1` with `=SUM(A1)`.

Everything is drawn with numpy over whole columns, a chunk of tickets at a
time (250,000 by default: measured faster and smaller than a million), and
written as CSV bytes built by pyarrow kernels, so 10 million tickets generate
in bounded memory.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.calendar import Calendar
from pipeline.sources.base import (
    ACTOR_TYPES,
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    EVENT_KINDS,
    PRIORITIES,
    TICKET_COLUMNS,
)
from pipeline.sources.base import TIERS as TIER_NAMES

TZ = "Europe/Amsterdam"
NS = 10**9
MINUTE, HOUR, DAY = 60, 3600, 86400
NAT = np.iinfo(np.int64).min  # a missing instant in the int64 UTC-nanosecond columns

# --- customers ---------------------------------------------------------------
TIERS = np.array(TIER_NAMES)  # index 0..3: pioneer, professional, business, premium
TIER_SHARE = np.array([0.45, 0.30, 0.18, 0.07])
# Tickets per customer relative to a Pioneer; higher tiers are bigger merchants.
TIER_TICKET_RATE = np.array([1.0, 1.6, 2.4, 3.2])
ACTIVITY_SIGMA = 0.7  # lognormal spread of how busy one customer is within its tier
PLAN_CHANGE_SHARE = 0.15
UPGRADE_SHARE = 0.75
NAME_PARTS = (
    ["Bakkerij", "Fietsen", "Webshop", "Bloemen", "Koffie", "Studio", "Garage", "Boekhandel"],
    ["Jansen", "De Vries", "Bakker", "Visser", "Smit", "Meijer", "De Boer", "Mulder", "Bos"],
    ["B.V.", "& Zn", "V.O.F.", "Online", "Groep", ""],
)
# The first customers: names that test escaping, and plan changes the sales
# report's upgrade case can show (name, first tier, later tier, change date).
SPECIAL_CUSTOMERS = (
    ("Bakkerij <De Molen> & Zn", "professional", "business", "2026-03-01"),
    ('Shop "Het Anker" <b>BV</b>', "premium", "business", "2025-12-01"),
    ("Rijwielhandel Jansen, Zonen & Co", "business", "business", ""),
)

# --- arrivals ----------------------------------------------------------------
WEEKDAY_WEIGHTS = np.array([1.2, 1.1, 1.0, 1.0, 0.9, 0.15, 0.1])  # Mon..Sun
HOLIDAY_FACTOR = 0.3  # a weekday public holiday: fewer tickets, spread like a weekend
GROWTH = 0.3  # the merchant base grows: 30 % more tickets a day at the end than at the start
# Local hour of arrival on an open weekday, and on a weekend or public holiday.
HOUR_WEIGHTS_OPEN = np.array(
    [1, 1, 1, 1, 1, 2, 3, 6, 14, 30, 34, 32, 24, 30, 32, 30, 26, 18, 8, 6, 5, 4, 2, 1], float
)
HOUR_WEIGHTS_CLOSED = np.array(
    [1, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 8, 8, 8, 7, 7, 7, 7, 6, 5, 3, 2], float
)
# One ticket pinned to each calendar edge case in the period (local date, time,
# first occurrence of a repeated hour), so even a small sample has them.
PINNED_ARRIVALS = (
    ("2025-10-26", "02:30:00", True),  # DST ends: 02:30 summer time ...
    ("2025-10-26", "02:30:00", False),  # ... and 02:30 winter time, an hour later
    ("2026-03-29", "03:15:00", True),  # DST starts: the day has 23 hours
    ("2026-04-03", "10:15:00", True),  # Good Friday: the desk is open
    ("2026-04-05", "11:00:00", True),  # Easter Sunday
    ("2026-04-06", "10:30:00", True),  # Easter Monday: closed
    ("2026-04-27", "14:00:00", True),  # King's Day: closed
    ("2026-10-25", "02:40:00", True),  # DST ends again
    ("2026-10-25", "02:40:00", False),
)

# --- ticket attributes ---------------------------------------------------------
CHANNELS = np.array(["chat", "email", "phone", "web", "outage_line"])
OUTAGE_CHANNEL = 4
# Weights over chat, email, phone, web by tier: what each tier's support offers.
CHANNEL_WEIGHTS_OPEN = np.array(
    [[1.0, 0, 0, 0], [0.45, 0.35, 0.2, 0], [0.3, 0.35, 0.2, 0.15], [0.25, 0.3, 0.3, 0.15]]
)
# Out of hours the phone is not answered: e-mail and the web form instead.
CHANNEL_WEIGHTS_CLOSED = np.array(
    [[1.0, 0, 0, 0], [0.3, 0.7, 0, 0], [0.15, 0.45, 0, 0.4], [0.15, 0.45, 0, 0.4]]
)
PRIORITY_SHARE = np.array([0.2, 0.55, 0.2, 0.05])  # over PRIORITIES: low .. critical
CRITICAL = PRIORITIES.index("critical")
CAUSES = np.array(["provider", "customer", "unknown"])
CAUSE_SHARE = np.array([0.5, 0.2, 0.3])
SUBJECTS_BY_CATEGORY = {
    "payments": [
        "iDEAL payments failing",
        "Betaling mislukt bij checkout",
        "Refund stuck in pending",
        "Terugboeking niet ontvangen",
        "Dubbele afschrijving bij klant",
    ],
    "payouts": [
        "Payout delayed",
        "Uitbetaling vertraagd",
        "Settlement amount incorrect",
        "Uitbetaling naar verkeerde rekening",
    ],
    "api": [
        "API 500 on /payments",
        "Webhook not received",
        "API-sleutel werkt niet",
        "Timeout on /refunds",
    ],
    "onboarding": [
        "KYC documents",
        "Verificatie van identiteit",
        "Website review pending",
        "UBO-gegevens aanvullen",
    ],
    "account": [
        "Vraag over factuur",
        "Change bank account",
        "Wachtwoord resetten",
        "Pinautomaat geeft foutmelding",
    ],
    "payment_incident": [
        "Storing: alle betalingen mislukken",
        "Checkout down, no payments coming in",
        "Pinterminals offline",
        "Storing iDEAL",
    ],
}
CATEGORIES = np.array(list(SUBJECTS_BY_CATEGORY))
CATEGORY_SHARE = np.array([0.3, 0.2, 0.2, 0.15, 0.15, 0.0])  # payment_incident: outage line only
INCIDENT = list(SUBJECTS_BY_CATEGORY).index("payment_incident")
SUBJECTS = np.array([s for subjects in SUBJECTS_BY_CATEGORY.values() for s in subjects])
SUBJECT_FIRST = np.cumsum([0] + [len(s) for s in SUBJECTS_BY_CATEGORY.values()])[:-1]
SUBJECT_COUNT = np.array([len(s) for s in SUBJECTS_BY_CATEGORY.values()])

# --- durations -----------------------------------------------------------------
# Working time (office calendar) to first response and to resolution, lognormal
# with these medians (hours) and spreads, by tier. Against the default policy
# (Business 24 h / Premium 8 h first response, 7 working days = 59.5 h to
# resolve) about 8 % of Business and 4 % of Premium tickets breach each target.
FR_MEDIAN_H = np.array([16.0, 10.0, 7.0, 2.0])
FR_SIGMA = np.array([0.9, 0.9, 0.9, 0.8])
RES_MEDIAN_H = np.array([32.0, 26.0, 20.0, 14.0])
RES_SIGMA = np.array([0.8, 0.8, 0.8, 0.8])
MIN_FIRST_RESPONSE_S = 60  # only the FLAG-AUTO row answers in 0 s
IT_RELEASE_FACTOR = 6.0  # a fix that waits for an IT release
# The outage line is staffed 24/7: clock minutes to answer, hours to fix.
OUTAGE_FR_MEDIAN_S, OUTAGE_FR_SIGMA = 15 * MINUTE, 0.6
OUTAGE_RES_MEDIAN_S, OUTAGE_RES_SIGMA = 4 * HOUR, 0.7
OUTAGE_SHARE_OUT_OF_HOURS = 0.12  # of paying tiers' tickets raised while the office is closed
OUTAGE_CUSTOMER_CAUSE = 0.35  # billable: the cause lay in the customer's own domain

IT_RELEASE_SHARE = 0.04
PAUSE_SHARE = 0.25
PAUSE_AT = (0.2, 0.6)  # share of the resolution work done before asking the customer
PAUSE_CLOCK_H = (1, 72)  # customers answer at any hour
REOPEN_SHARE = 0.05
REOPEN_AFTER_CLOCK_H = (2, 40)  # before the closure, which comes 2 days at the earliest
REWORK_H = (1, 16)  # working hours to resolve again after a reopen
CLOSE_AFTER_CLOCK_D = (2, 7)
PRIORITY_CHANGE_SHARE = 0.03
ESCALATE_SHARE = 0.7  # of priority changes, the rest lower the priority
NOTE_SHARE = 0.3
CUSTOMER_REPLY_SHARE = 0.2  # a customer answers the first response (tickets without a pause)


@dataclass(frozen=True)
class BrokenRow:
    """One deliberately broken row: where it is and what a loader should make of it."""

    ticket_id: str
    file: str  # "tickets" or "events"
    problem: str
    outcome: str  # "rejected:<reason code>" or "flagged:<flag code>" in pipeline.load


_TS, _EV = "tickets", "events"
BROKEN_ROWS: tuple[BrokenRow, ...] = (
    BrokenRow("BROKEN-TS", _TS, 'created_at "31-02-2026 25:00"', "rejected:unparseable_timestamp"),
    BrokenRow("BROKEN-FR", _TS, "responded before creation", "rejected:response_before_creation"),
    BrokenRow("BROKEN-RES", _TS, "resolved before creation", "rejected:resolved_before_created"),
    BrokenRow("BROKEN-CUST", _TS, "customer CX-UNKNOWN", "rejected:unknown_customer"),
    BrokenRow("", _TS, "ticket_id missing", "rejected:missing_required_field"),
    BrokenRow("BROKEN-DUP", _TS, "same id, other content", "rejected:duplicate_conflicting"),
    BrokenRow("BROKEN-DUP", _TS, "same id, other content", "rejected:duplicate_conflicting"),
    BrokenRow("BROKEN-PRIO", _TS, 'priority "urgent"', "rejected:unknown_value"),
    BrokenRow("T-DOES-NOT-EXIST", _EV, "no such ticket", "rejected:event_for_unknown_ticket"),
    BrokenRow("FLAG-AUTO", _TS, "first response 0 s after creation", "flagged:auto_response"),
    BrokenRow("FLAG-FUTURE", _TS, "created after the export date", "flagged:created_in_future"),
)
ESCAPING_ROWS = {"HTML-1": "<script>alert(1)</script>", "FORMULA-1": "=SUM(A1)"}

# Event vocabulary: kinds, actors and the old/new values, as small index tables.
KINDS = np.array(EVENT_KINDS)
ACTORS = np.array(ACTOR_TYPES)
# Index 0 is "no value" (an empty field); statuses, then priorities.
VALUES = ["", "new", "open", "waiting_on_customer", "resolved", "closed", *PRIORITIES]
PRIORITY_VALUE = 6  # VALUES index of PRIORITIES[0]
STATUSES_OUT = np.array(["new", "open", "waiting_on_customer", "resolved", "closed"])
WRITE_ROWS = 2_000_000  # rows turned into CSV text at a time: bounds the string memory
FREE_TEXT = frozenset({"name", "subject"})  # the only generated columns that may need quotes


@dataclass(frozen=True)
class DemoFiles:
    """The written files."""

    customers: Path
    tickets: Path
    events: Path


# --- formatting ------------------------------------------------------------------


def _digits(buf: np.ndarray, pos: int, values: np.ndarray, width: int) -> None:
    """Write `values` as zero-padded decimals into columns pos..pos+width of a byte matrix."""
    for k in range(width):
        buf[:, pos + width - 1 - k] = 48 + (values // 10**k) % 10


def _fixed_strings(buf: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A byte matrix (one fixed-width string a row) as an Arrow string array, no copy."""
    n, width = buf.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(buf).reshape(-1)
    arr = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    if valid is not None and not valid.all():
        arr = pc.if_else(pa.array(valid), arr, pa.scalar(None, pa.string()))
    return arr


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """'T0000042'-style ids; numeric formatting in numpy is far faster than str()."""
    head = prefix.encode()
    buf = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    _digits(buf, len(head), numbers.astype(np.int64), width)
    return _fixed_strings(buf)


def _iso(utc_ns: np.ndarray) -> pa.Array:
    """UTC ns -> 'YYYY-MM-DDTHH:MM:SS+HH:MM' in Europe/Amsterdam; null where NAT.

    strftime costs ~10 s a million values; the local wall time comes from pandas'
    vectorised zone conversion and the text from integer arithmetic instead."""
    valid = utc_ns != NAT
    ns = np.where(valid, utc_ns, 0)
    wall = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(TZ)
    local_s = wall.tz_localize(None).as_unit("ns").asi8 // NS
    offset_min = (local_s - ns // NS) // 60
    day = (local_s // DAY).astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    sod = local_s % DAY
    buf = np.empty((len(ns), 25), dtype=np.uint8)
    buf[:] = np.frombuffer(b"0000-00-00T00:00:00+00:00", dtype=np.uint8)
    _digits(buf, 0, month.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
    _digits(buf, 5, month.astype(np.int64) % 12 + 1, 2)
    _digits(buf, 8, (day - month.astype("datetime64[D]")).astype(np.int64) + 1, 2)
    _digits(buf, 11, sod // HOUR, 2)
    _digits(buf, 14, sod // MINUTE % 60, 2)
    _digits(buf, 17, sod % 60, 2)
    buf[:, 19] = np.where(offset_min < 0, ord("-"), ord("+"))
    _digits(buf, 20, np.abs(offset_min) // 60, 2)
    _digits(buf, 23, np.abs(offset_min) % 60, 2)
    return _fixed_strings(buf, valid)


def _take(vocabulary: Sequence[str] | np.ndarray, index: np.ndarray) -> pa.Array:
    """Strings from a small vocabulary by index."""
    return pc.take(pa.array(list(vocabulary)), pa.array(index))


def _csv_field(column: pa.Array) -> pa.Array:
    """RFC 4180: quote a field only when it holds a comma, quote or line break."""
    column = column.cast(pa.string()).fill_null("")
    need = pc.match_substring_regex(column, r'[",\r\n]')
    if not pc.any(need).as_py():
        return column
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(need, quoted, column)


def _write_csv(sink: BinaryIO, table: pa.Table, *, free_text: Collection[str] | None) -> None:
    """Append `table` as CSV lines (no header), slice by slice to bound memory.

    pyarrow's own CSV writer quotes every string; this keeps the files small
    and the way a helpdesk export looks. Only `free_text` columns are checked
    for characters that need quotes (all when None): the others are ids,
    vocabularies and generated timestamps, and the check is the slowest step."""
    for lo in range(0, table.num_rows, WRITE_ROWS):
        part = table.slice(lo, WRITE_ROWS)
        fields = [
            _csv_field(column.combine_chunks())
            if free_text is None or name in free_text
            else column.combine_chunks().fill_null("")
            for name, column in zip(part.column_names, part.columns, strict=True)
        ]
        lines = pc.binary_join_element_wise(*fields, ",")
        lines = pc.binary_join_element_wise(lines, "\n", "")
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
        first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
        sink.write(lines.buffers()[2][first:last])


# --- time helpers ------------------------------------------------------------------


def _utc_ns(local_s: np.ndarray, first_occurrence: np.ndarray) -> np.ndarray:
    """Naive local seconds -> UTC ns. A repeated hour (DST end) takes the occurrence
    asked for; a skipped hour (DST start) moves forward to 03:00."""
    index = pd.DatetimeIndex((local_s * NS).view("datetime64[ns]"))
    utc = index.tz_localize(TZ, ambiguous=first_occurrence, nonexistent="shift_forward")
    return utc.as_unit("ns").asi8


def _local_midnight(day: str) -> int:
    return int(np.datetime64(day, "s").astype(np.int64))


def _draw_rows(rng: np.random.Generator, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """One categorical draw per row, with the weights of the row's group."""
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(group))
    return np.minimum((u[:, None] >= cum[group]).sum(axis=1), weights.shape[1] - 1)


def _between(rng: np.random.Generator, lo: float, hi: float, n: int, unit: int) -> np.ndarray:
    """Uniform whole seconds in [lo, hi) of `unit`, as ns."""
    return rng.integers(int(lo * unit), int(hi * unit), n).astype(np.int64) * NS


# --- customers ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Customers:
    ids: pa.Array
    names: np.ndarray
    tier0: np.ndarray
    tier1: np.ndarray
    change_ns: np.ndarray  # UTC ns of the plan change; int64 max when none
    joined_ns: np.ndarray
    pick_cdf: np.ndarray  # cumulative share of tickets, for picking a ticket's customer


def _customers(rng: np.random.Generator, n: int, start: str, end: str) -> _Customers:
    numbers = np.arange(1, n + 1)
    ids = _ids("C", numbers, max(5, len(str(n))))
    first, second, third = (np.array(p) for p in NAME_PARTS)
    names = np.char.strip(
        np.char.add(
            np.char.add(np.char.add(rng.choice(first, n), " "), rng.choice(second, n)),
            np.char.add(" ", rng.choice(third, n)),
        )
    ).astype(object)
    tier0 = rng.choice(len(TIERS), n, p=TIER_SHARE)
    activity = TIER_TICKET_RATE[tier0] * rng.lognormal(0.0, ACTIVITY_SIGMA, n)
    lo, hi = _local_midnight(start), _local_midnight(end)
    span_days = (hi - lo) // DAY
    change_day = rng.integers(min(30, span_days - 1), max(span_days - 30, 31), n)
    tier1 = np.clip(tier0 + np.where(rng.random(n) < UPGRADE_SHARE, 1, -1), 0, 3)
    changes = (rng.random(n) < PLAN_CHANGE_SHARE) & (tier1 != tier0)
    change_local = lo + change_day * DAY
    tier_index = {name: i for i, name in enumerate(TIER_NAMES)}
    for i, (name, before, after, day) in enumerate(SPECIAL_CUSTOMERS[:n]):
        names[i] = name
        tier0[i], tier1[i] = tier_index[before], tier_index[after]
        inside = day and lo < _local_midnight(day) < hi
        changes[i] = bool(inside) and before != after
        if inside:
            change_local[i] = _local_midnight(day)
    always_first = np.ones(n, dtype=bool)
    change_ns = np.where(changes, _utc_ns(change_local, always_first), np.iinfo(np.int64).max)
    # Everyone was a customer a year before the export starts: no ticket predates a plan.
    joined = _local_midnight(str((pd.Timestamp(start) - pd.DateOffset(years=1)).date()))
    joined_ns = _utc_ns(np.full(n, joined), always_first)
    cdf = np.cumsum(activity)
    return _Customers(ids, names, tier0, tier1, change_ns, joined_ns, cdf / cdf[-1])


def _customer_table(c: _Customers) -> pa.Table:
    """One row per plan period, in customer order: valid_to empty = still valid."""
    changed = np.flatnonzero(c.change_ns != np.iinfo(np.int64).max)
    n = len(c.names)
    who = np.concatenate([np.arange(n), changed])
    period = np.concatenate([np.zeros(n, np.int8), np.ones(len(changed), np.int8)])
    order = np.lexsort((period, who))
    who, period = who[order], period[order]
    later = period == 1
    has_change = c.change_ns[who] != np.iinfo(np.int64).max
    valid_from = np.where(later, c.change_ns[who], c.joined_ns[who])
    valid_to = np.where(~later & has_change, c.change_ns[who], NAT)
    tier = np.where(later, c.tier1[who], c.tier0[who])
    return pa.table(
        [
            pc.take(c.ids, pa.array(who)),
            pa.array(c.names[who].tolist(), pa.string()),
            _take(TIERS, tier),
            _iso(valid_from),
            _iso(valid_to),
        ],
        names=list(CUSTOMER_COLUMNS),
    )


# --- arrivals ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Days:
    local: np.ndarray  # naive local seconds of each day's midnight
    closed: np.ndarray  # weekend or public holiday
    cdf: np.ndarray


def _days(start: str, end: str, office: Calendar) -> _Days:
    dates = pd.date_range(start, pd.Timestamp(end) - pd.Timedelta(days=1), freq="D")
    holidays = {
        d for d, _ in office.holidays_between(dates[0].date(), dates[-1].date()) if d.weekday() < 5
    }
    holiday = np.array([d in holidays for d in dates.date])
    weekday = dates.day_of_week.to_numpy()
    weight = WEEKDAY_WEIGHTS[weekday] * np.where(holiday, HOLIDAY_FACTOR, 1.0)
    weight = weight * (1.0 + GROWTH * np.arange(len(dates)) / len(dates))
    cdf = np.cumsum(weight)
    local = dates.as_unit("s").asi8
    return _Days(local, holiday | (weekday >= 5), cdf / cdf[-1])


def _arrivals(rng: np.random.Generator, n: int, days: _Days, *, pin: bool) -> np.ndarray:
    day = np.minimum(np.searchsorted(days.cdf, rng.random(n), side="right"), len(days.cdf) - 1)
    hour_open = rng.choice(24, n, p=HOUR_WEIGHTS_OPEN / HOUR_WEIGHTS_OPEN.sum())
    hour_closed = rng.choice(24, n, p=HOUR_WEIGHTS_CLOSED / HOUR_WEIGHTS_CLOSED.sum())
    hour = np.where(days.closed[day], hour_closed, hour_open)
    local = days.local[day] + hour * HOUR + rng.integers(0, HOUR, n)
    first = rng.random(n) < 0.5  # in the repeated hour, either occurrence
    if pin:
        lo, hi = days.local[0], days.local[-1] + DAY
        pinned = [
            (_local_midnight(day_) + int(pd.Timedelta(clock).total_seconds()), occurrence)
            for day_, clock, occurrence in PINNED_ARRIVALS
        ]
        pinned = [p for p in pinned if lo <= p[0] < hi][:n]
        for i, (at, occurrence) in enumerate(pinned):
            local[i], first[i] = at, occurrence
    return _utc_ns(local, first)


# --- one chunk of tickets ------------------------------------------------------------


class _Clock:
    """Working time on the office calendar, or 24/7 for outage-line tickets."""

    def __init__(self, office: Calendar, always: Calendar, outage: np.ndarray) -> None:
        self.office, self.always, self.outage = office, always, outage
        self.any_outage = bool(outage.any())

    def add(self, at: np.ndarray, work_ns: np.ndarray) -> np.ndarray:
        out = self.office.add_working_ns(at, work_ns)
        if self.any_outage:
            o = self.outage
            out[o] = self.always.add_working_ns(at[o], work_ns[o])
        return out

    def work(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = self.office.working_ns(a, b)
        if self.any_outage:
            o = self.outage
            out[o] = self.always.working_ns(a[o], b[o])
        return out


class _Events:
    """Event pieces as index columns; strings only when written."""

    def __init__(self) -> None:
        self.pieces: list[tuple[np.ndarray, ...]] = []

    def add(
        self,
        mask: np.ndarray,
        at: np.ndarray,
        kind: str,
        actor: str,
        old: int | np.ndarray = 0,
        new: int | np.ndarray = 0,
    ) -> None:
        keep = np.flatnonzero(mask & (at != NAT))
        n = len(keep)

        def col(value: int | np.ndarray) -> np.ndarray:
            return np.full(n, value, np.int8) if np.isscalar(value) else value[keep]

        seq = np.full(n, len(self.pieces), np.int16)  # same instant: emission order
        kind_i = np.full(n, int(np.flatnonzero(kind == KINDS)[0]), np.int8)
        actor_i = np.full(n, int(np.flatnonzero(actor == ACTORS)[0]), np.int8)
        self.pieces.append((keep, at[keep], seq, kind_i, actor_i, col(old), col(new)))

    def table(self, ticket_ids: pa.Array) -> pa.Table:
        who, at, seq, kind, actor, old, new = (
            np.concatenate(c) for c in zip(*self.pieces, strict=True)
        )
        order = np.lexsort((seq, at, who))
        values = pa.array([v or None for v in VALUES], pa.string())
        return pa.table(
            [
                pc.take(ticket_ids, pa.array(who[order])),
                _iso(at[order]),
                _take(KINDS, kind[order]),
                pc.take(values, pa.array(old[order])),
                pc.take(values, pa.array(new[order])),
                _take(ACTORS, actor[order]),
            ],
            names=list(EVENT_COLUMNS),
        )


def _chunk(
    rng: np.random.Generator,
    numbers: np.ndarray,
    customers: _Customers,
    days: _Days,
    end_ns: int,
    cals: tuple[Calendar, Calendar],
    id_width: int,
    *,
    pin: bool,
) -> tuple[pa.Table, pa.Table]:
    n = len(numbers)
    office, always = cals
    created = _arrivals(rng, n, days, pin=pin)
    cust = np.minimum(np.searchsorted(customers.pick_cdf, rng.random(n)), len(customers.names) - 1)
    # A ticket is served (and judged) by the plan valid when it was created.
    tier = np.where(
        created >= customers.change_ns[cust], customers.tier1[cust], customers.tier0[cust]
    )

    open_now = office.working_ns(created, created + NS) > 0
    outage = ~open_now & (tier >= 1) & (rng.random(n) < OUTAGE_SHARE_OUT_OF_HOURS)
    channel = np.where(
        open_now,
        _draw_rows(rng, CHANNEL_WEIGHTS_OPEN, tier),
        _draw_rows(rng, CHANNEL_WEIGHTS_CLOSED, tier),
    )
    channel[outage] = OUTAGE_CHANNEL
    priority0 = rng.choice(len(PRIORITIES), n, p=PRIORITY_SHARE)
    priority0[outage] = CRITICAL
    category = rng.choice(len(CATEGORIES), n, p=CATEGORY_SHARE)
    category[outage] = INCIDENT
    cause = rng.choice(len(CAUSES), n, p=CAUSE_SHARE)
    cause[outage] = np.where(rng.random(n) < OUTAGE_CUSTOMER_CAUSE, 1, 0)[outage]
    subject = SUBJECT_FIRST[category] + rng.integers(0, 1 << 30, n) % SUBJECT_COUNT[category]
    it_release = (rng.random(n) < IT_RELEASE_SHARE) & ~outage
    clock = _Clock(office, always, outage)

    # First response: working time on the office calendar (outage line 24/7).
    fr_s = rng.lognormal(np.log(FR_MEDIAN_H[tier] * HOUR), FR_SIGMA[tier])
    fr_s[outage] = rng.lognormal(np.log(OUTAGE_FR_MEDIAN_S), OUTAGE_FR_SIGMA, n)[outage]
    fr_ns = np.maximum(np.round(fr_s), MIN_FIRST_RESPONSE_S).astype(np.int64) * NS
    first_response = clock.add(created, fr_ns)

    # Resolution: more working time, much more when an IT release is needed.
    res_s = rng.lognormal(np.log(RES_MEDIAN_H[tier] * HOUR), RES_SIGMA[tier])
    res_s[it_release] *= IT_RELEASE_FACTOR
    res_s[outage] = rng.lognormal(np.log(OUTAGE_RES_MEDIAN_S), OUTAGE_RES_SIGMA, n)[outage]
    res_ns = np.maximum(np.round(res_s).astype(np.int64) * NS, fr_ns + 10 * MINUTE * NS)

    # Waiting on the customer part-way through the work; the rest follows the reply.
    paused = (rng.random(n) < PAUSE_SHARE) & ~outage
    done_ns = (res_ns * rng.uniform(*PAUSE_AT, n)).astype(np.int64)
    pause_start = np.maximum(clock.add(created, done_ns), first_response + NS)
    pause_end = pause_start + _between(rng, *PAUSE_CLOCK_H, n, HOUR)
    rest_ns = np.maximum(res_ns - done_ns, NS)
    resolved1 = np.where(paused, clock.add(pause_end, rest_ns), clock.add(created, res_ns))
    resolved1 = np.maximum(resolved1, first_response + NS)

    reopened = (rng.random(n) < REOPEN_SHARE) & ~outage
    reopen_at = resolved1 + _between(rng, *REOPEN_AFTER_CLOCK_H, n, HOUR)
    final = np.where(
        reopened, office.add_working_ns(reopen_at, _between(rng, *REWORK_H, n, HOUR)), resolved1
    )
    closed = final + _between(rng, *CLOSE_AFTER_CLOCK_D, n, DAY)

    # Between first response and first resolution, in the ticket's working time.
    span = clock.work(first_response, resolved1)
    note = rng.random(n) < NOTE_SHARE
    note_at = clock.add(first_response, (span * rng.uniform(0.1, 0.9, n)).astype(np.int64))
    reprioritised = (rng.random(n) < PRIORITY_CHANGE_SHARE) & ~outage
    change_at = clock.add(first_response, (span * rng.uniform(0.05, 0.5, n)).astype(np.int64))
    step = np.where(rng.random(n) < ESCALATE_SHARE, 1, -1)
    priority1 = np.clip(priority0 + step, 0, CRITICAL)
    priority1 = np.where(priority1 == priority0, priority0 - step, priority1)
    priority = np.where(reprioritised, priority1, priority0)
    replied = (rng.random(n) < CUSTOMER_REPLY_SHARE) & ~paused
    reply_at = first_response + np.minimum(
        _between(rng, 10 / 60, 24, n, HOUR), (resolved1 - first_response) // 2
    )

    # The export is taken at `end`: what happens later is not in it.
    def known(at: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        seen = at < end_ns if mask is None else mask & (at < end_ns)
        return np.where(seen, at, NAT)

    fr_k = known(first_response)
    res1_k = known(resolved1)
    reopen_k = known(reopen_at, reopened)
    final_k = known(final, reopened)
    closed_k = known(closed)
    pause_s_k, pause_e_k = known(pause_start, paused), known(pause_end, paused)
    now_resolved = (final_k != NAT) | ((res1_k != NAT) & (reopen_k == NAT))
    resolved_field = np.where(now_resolved, np.where(final_k != NAT, final_k, res1_k), NAT)
    status = np.select(
        [
            closed_k != NAT,
            now_resolved,
            (pause_s_k != NAT) & (pause_e_k == NAT),
            fr_k != NAT,
        ],
        [4, 3, 2, 1],
        default=0,
    )

    ev = _Events()
    every = np.ones(n, dtype=bool)
    ev.add(every, fr_k, "status_change", "agent", old=1, new=2)
    ev.add(every, fr_k, "agent_reply", "agent")
    ev.add(replied, known(reply_at), "customer_reply", "customer")
    ev.add(note, known(note_at), "internal_note", "agent")
    ev.add(
        reprioritised,
        known(change_at),
        "priority_change",
        "agent",
        old=priority0 + PRIORITY_VALUE,
        new=priority1 + PRIORITY_VALUE,
    )
    ev.add(paused, pause_s_k, "status_change", "agent", old=2, new=3)
    ev.add(paused, pause_e_k, "customer_reply", "customer")
    ev.add(paused, pause_e_k, "status_change", "system", old=3, new=2)
    ev.add(every, res1_k, "status_change", "agent", old=2, new=4)
    ev.add(every, res1_k, "resolve", "agent")
    ev.add(reopened, reopen_k, "status_change", "customer", old=4, new=2)
    ev.add(reopened, reopen_k, "reopen", "customer")
    ev.add(reopened, final_k, "status_change", "agent", old=2, new=4)
    ev.add(reopened, final_k, "resolve", "agent")
    ev.add(every, closed_k, "status_change", "system", old=4, new=5)
    ev.add(every, closed_k, "close", "system")

    # updated_at: the ticket's latest known change (each piece has one event a ticket at most).
    last_event = created.copy()
    for keep, at, *_ in ev.pieces:
        last_event[keep] = np.maximum(last_event[keep], at)
    ticket_ids = _ids("T", numbers, id_width)
    tickets = pa.table(
        [
            ticket_ids,
            pc.take(pa.array(["demo"]), pa.array(np.zeros(n, np.int8))),
            pc.take(customers.ids, pa.array(cust)),
            _iso(created),
            _iso(fr_k),
            _iso(resolved_field),
            _iso(closed_k),
            _take(PRIORITIES, priority),
            _take(CHANNELS, channel),
            _take(CATEGORIES, category),
            _take(STATUSES_OUT, status),
            _take(["false", "true"], it_release.astype(np.int8)),
            _take(CAUSES, cause),
            _take(SUBJECTS, subject),
            _iso(last_event),
        ],
        names=list(TICKET_COLUMNS),
    )
    return tickets, ev.table(ticket_ids)


# --- broken rows -----------------------------------------------------------------------


def _broken(tickets: pa.Table, end_ns: int) -> tuple[pa.Table, pa.Table]:
    """The rows of BROKEN_ROWS and ESCAPING_ROWS, built from a closed ordinary ticket."""
    status = tickets.column("status").to_numpy(zero_copy_only=False)
    channel = tickets.column("channel").to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero((status == "closed") & (channel != "outage_line"))
    base = tickets.slice(int(candidates[0]) if len(candidates) else 0, 1).to_pylist()[0]
    future = _iso(np.array([end_ns + 5 * 365 * DAY * NS + 10 * HOUR * NS])).to_pylist()[0]
    long_ago = "2020-01-01T09:00:00+01:00"
    rows = [
        {**base, "ticket_id": "BROKEN-TS", "created_at": "31-02-2026 25:00"},
        {**base, "ticket_id": "BROKEN-FR", "first_response_at": long_ago},
        {**base, "ticket_id": "BROKEN-RES", "resolved_at": long_ago},
        {**base, "ticket_id": "BROKEN-CUST", "customer_id": "CX-UNKNOWN"},
        {**base, "ticket_id": None},
        {**base, "ticket_id": "BROKEN-DUP"},
        {
            **base,
            "ticket_id": "BROKEN-DUP",
            "subject": "same id, other content",
            "priority": "high",
        },
        {**base, "ticket_id": "BROKEN-PRIO", "priority": "urgent"},
        {**base, "ticket_id": "FLAG-AUTO", "first_response_at": base["created_at"]},
        {
            **base,
            "ticket_id": "FLAG-FUTURE",
            "created_at": future,
            "first_response_at": None,
            "resolved_at": None,
            "closed_at": None,
            "status": "new",
            "updated_at": future,
        },
        *({**base, "ticket_id": tid, "subject": text} for tid, text in ESCAPING_ROWS.items()),
    ]
    ghost = {
        "ticket_id": "T-DOES-NOT-EXIST",
        "at": base["created_at"],
        "kind": "agent_reply",
        "old_value": None,
        "new_value": None,
        "actor_type": "agent",
    }
    return (
        pa.Table.from_pylist(rows, schema=tickets.schema),
        pa.Table.from_pylist([ghost], schema=pa.schema([(c, pa.string()) for c in EVENT_COLUMNS])),
    )


# --- the entry point -----------------------------------------------------------------


def generate(
    out_dir: str | Path,
    *,
    n_tickets: int,
    n_customers: int,
    start: str = "2025-07-01",
    end: str = "2026-11-01",
    seed: int = 7,
    broken_rows: bool = True,
    chunk_size: int = 250_000,
) -> DemoFiles:
    """Write customers.csv, tickets.csv and events.csv into `out_dir` (created if needed).

    Tickets are created in [start, end) (local dates, end exclusive) and the
    export is taken at local midnight of `end`: no event lies after it. The
    files are byte-identical for the same arguments (including `chunk_size`,
    since each chunk draws from the seeded stream in turn). Memory grows with
    `chunk_size` and `n_customers`, not with `n_tickets`.

    Raises ValueError for counts below one, a negative seed or an empty date range.
    """
    if n_tickets < 1 or n_customers < 1 or chunk_size < 1:
        raise ValueError("n_tickets, n_customers and chunk_size must be at least 1")
    if seed < 0:
        # numpy's own refusal comes from deep inside its seeding, naming no argument.
        raise ValueError(f"seed must be 0 or more, got {seed}")
    if pd.Timestamp(end) <= pd.Timestamp(start):
        raise ValueError(f"end {end!r} must come after start {start!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(out / "customers.csv", out / "tickets.csv", out / "events.csv")
    rng = np.random.default_rng(seed)
    office, always = Calendar.builtin("office"), Calendar.builtin("always")
    customers = _customers(rng, n_customers, start, end)
    days = _days(start, end, office)
    end_ns = int(_utc_ns(np.array([_local_midnight(end)]), np.array([True]))[0])
    id_width = max(7, len(str(n_tickets)))
    with (
        files.customers.open("wb") as c_out,
        files.tickets.open("wb") as t_out,
        files.events.open("wb") as e_out,
    ):
        c_out.write((",".join(CUSTOMER_COLUMNS) + "\n").encode())
        _write_csv(c_out, _customer_table(customers), free_text=FREE_TEXT)
        t_out.write((",".join(TICKET_COLUMNS) + "\n").encode())
        e_out.write((",".join(EVENT_COLUMNS) + "\n").encode())
        for lo in range(0, n_tickets, chunk_size):
            numbers = np.arange(lo + 1, min(lo + chunk_size, n_tickets) + 1)
            tickets, events = _chunk(
                rng,
                numbers,
                customers,
                days,
                end_ns,
                (office, always),
                id_width,
                pin=lo == 0,
            )
            _write_csv(t_out, tickets, free_text=FREE_TEXT)
            _write_csv(e_out, events, free_text=FREE_TEXT)
            if broken_rows and lo == 0:
                bad_tickets, bad_events = _broken(tickets, end_ns)
                _write_csv(t_out, bad_tickets, free_text=None)
                _write_csv(e_out, bad_events, free_text=None)
            del tickets, events  # free the chunk before drawing the next
    return files


def main(argv: list[str] | None = None) -> None:
    """`python -m pipeline.demo`: the same options as `sla demo-data`."""
    parser = argparse.ArgumentParser(description="Write a seeded demo export (canonical CSV).")
    parser.add_argument("--out", default="data/sample")
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=2_500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2025-07-01")
    parser.add_argument("--end", default="2026-11-01")
    parser.add_argument("--chunk-size", type=int, default=250_000)
    parser.add_argument("--no-broken-rows", action="store_true")
    args = parser.parse_args(argv)
    files = generate(
        args.out,
        n_tickets=args.tickets,
        n_customers=args.customers,
        start=args.start,
        end=args.end,
        seed=args.seed,
        broken_rows=not args.no_broken_rows,
        chunk_size=args.chunk_size,
    )
    print(f"wrote {files.customers}, {files.tickets}, {files.events}")


if __name__ == "__main__":
    main()
