"""A slow, obviously correct working-time reference: walk the calendar day by day.

It shares nothing with the engine but the calendar's *definition* (the dict):
opening hours are turned into instants one day at a time with `zoneinfo`
(fold=0 for an interval start, fold=1 for its end), holidays come straight from
the `holidays` package, and the answer is a plain sum of overlaps.
Wall-clock times inside a DST gap are not supported here; plain tests cover them.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import holidays

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = dt.UTC


def _clock(text: str) -> dt.timedelta:
    h, m = (int(x) for x in text.split(":")[:2])
    return dt.timedelta(hours=h, minutes=m)


def _closed_days(spec: dict, first: dt.date, last: dt.date) -> set[dt.date]:
    closed = {dt.date.fromisoformat(d) for d in spec.get("closed_dates", [])}
    rule = spec.get("holidays")
    if rule:
        exclude = set(rule.get("exclude", []))
        table = holidays.country_holidays(
            rule["country"], years=range(first.year, last.year + 1), language="en_US"
        )
        for day, name in table.items():
            if any(part.strip() not in exclude for part in name.split(";")):
                closed.add(day)
    return closed


def _local(day: dt.date, offset: dt.timedelta, tz: ZoneInfo, fold: int) -> dt.datetime:
    naive = dt.datetime.combine(day, dt.time()) + offset
    return naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)


def _minus(intervals: list[tuple], cut: tuple) -> list[tuple]:
    out = []
    for s, e in intervals:
        if e <= cut[0] or s >= cut[1]:
            out.append((s, e))
            continue
        if s < cut[0]:
            out.append((s, cut[0]))
        if e > cut[1]:
            out.append((cut[1], e))
    return out


def open_intervals(spec: dict, a: dt.datetime, b: dt.datetime) -> list[tuple]:
    """Open intervals (UTC datetimes) of every local day from a-2 days to b+2 days."""
    tz = ZoneInfo(spec["timezone"])
    first = a.astimezone(tz).date() - dt.timedelta(days=2)
    last = b.astimezone(tz).date() + dt.timedelta(days=2)
    closed = _closed_days(spec, first, last)
    intervals: list[tuple] = []
    day = first
    while day <= last:
        if day not in closed:
            for start, end in spec["weekly"].get(WEEKDAYS[day.weekday()], []):
                intervals.append(
                    (_local(day, _clock(start), tz, 0), _local(day, _clock(end), tz, 1))
                )
        day += dt.timedelta(days=1)
    for c in spec.get("closures", []):
        cut = tuple(
            dt.datetime.fromisoformat(v).replace(tzinfo=tz, fold=f).astimezone(UTC)
            for v, f in zip(c, (0, 1), strict=True)
        )
        intervals = _minus(intervals, cut)
    for o in spec.get("openings", []):
        span = tuple(
            dt.datetime.fromisoformat(v).replace(tzinfo=tz, fold=f).astimezone(UTC)
            for v, f in zip(o, (0, 1), strict=True)
        )
        intervals = [*_minus(intervals, span), span]
    # Openings are listed whatever their date: keep only what lies in the walked days.
    lo = _local(first, dt.timedelta(), tz, 0)
    hi = _local(last + dt.timedelta(days=1), dt.timedelta(), tz, 0)
    return sorted(i for i in intervals if i[1] > i[0] and i[1] > lo and i[0] < hi)


def working_seconds(spec: dict, a: dt.datetime, b: dt.datetime) -> float:
    if b < a:
        return -working_seconds(spec, b, a)
    total = dt.timedelta()
    for s, e in open_intervals(spec, a, b):
        overlap = min(e, b) - max(s, a)
        if overlap > dt.timedelta():
            total += overlap
    return total.total_seconds()


def add_working_seconds(spec: dict, a: dt.datetime, seconds: float) -> dt.datetime:
    """Walk forward interval by interval until `seconds` of open time are used."""
    assert seconds >= 0
    if seconds == 0:
        return a
    remaining = dt.timedelta(seconds=seconds)
    horizon = a
    while True:
        horizon = horizon + dt.timedelta(days=30)
        remaining_here = remaining
        for s, e in open_intervals(spec, a, horizon):
            if e <= a:
                continue
            begin = max(s, a)
            if remaining_here <= e - begin:
                return begin + remaining_here
            remaining_here -= e - begin
