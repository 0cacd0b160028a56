"""The working-time engine: calendars of opening hours, and working time over them.

A `Calendar` is data (a TOML table or a dict): a time zone, weekly opening
intervals, public holidays from the `holidays` package, extra closed dates,
extra closed spans and extra open spans. From it the engine precomputes, for
the span of dates the data needs, the sorted open intervals in UTC
nanoseconds and the cumulative open time before each. Then every question is
two `numpy.searchsorted` calls over whole columns:

    F(t) = open time from the start of the precomputed span up to instant t
    working_seconds(a, b) = F(b) - F(a)
    add_working_seconds(a, s) = the earliest t with F(t) = F(a) + s

Intervals are built from local wall-clock times and converted to UTC one by
one, so DST days are counted at their true length (23 or 25 hours for a 24/7
calendar). A wall-clock time in the spring-forward gap moves to the first
valid instant after it; for a time that occurs twice on the fall-back night, an
interval *start* takes the first occurrence and an interval *end* the second, so
the open span covers every instant whose reading lies between the two. Naive
instants handed to the functions below are recorded readings, not interval
bounds: they follow `pipeline/instants.py`, the rule the loader follows.

Precedence of the parts: weekly hours, minus holidays and closed dates, minus
closures, plus openings (an explicit opening wins, e.g. a release Saturday).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property, partial
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import holidays as holidays_lib
import numpy as np
import pandas as pd

from pipeline.errors import CalendarError, WorkingTimeError, did_you_mean
from pipeline.instants import (
    COUNTED_SPAN,
    NAT_NS,
    is_zone_name,
    iso_date,
    local_bounds,
    to_instants,
    to_timestamps,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NS = 86_400 * 10**9
NS = 10**9
# The names a holiday may be excluded by are looked up over this span of years,
# so that a name misspelt in a policy is an error and not a silent no-op.
_HOLIDAY_NAME_YEARS = range(1990, 2061)
# The local dates a closed date, closure or opening may fall on: the span of
# instants the pipeline counts in (instants.COUNTED_SPAN). An opening until 2926
# (a typo for 2026) was accepted and then stopped every evaluation with an
# out-of-bounds traceback; a closed date in 9999 or 1066 could never matter.
_DATED_SPAN = (COUNTED_SPAN[0].tz_localize(None), COUNTED_SPAN[1].tz_localize(None))


def _check_dated(calendar: str, field: str, value: Any, local: Any) -> None:
    """Refuse a local date or date-time outside _DATED_SPAN."""
    first, end = _DATED_SPAN
    if not first <= pd.Timestamp(local) <= end:
        raise CalendarError(
            calendar,
            field,
            f"{value!r} is outside the dates a calendar may name, {first.date()} to "
            f"{end.date()} (a typo?)",
        )


# How far add_working_seconds may search before it declares a calendar closed.
_MAX_SEARCH_DAYS = 366 * 200
# The instants a span may cover: nanosecond timestamps end in April 2262, and a
# span runs to the 1 January after its last day, plus margins (see _ensure).
_FIRST_NS = int(pd.Timestamp("1679-01-01").value)
_LAST_NS = int(pd.Timestamp("2260-12-01").value)
# Instants per block of a working-time lookup (see Calendar._cumulative).
_BLOCK = 1 << 16
# One end of a [start, end] pair: seconds into a day, or a local date-time.
_End = TypeVar("_End", int, np.datetime64)
_KNOWN_KEYS = {
    "timezone",
    "weekly",
    "holidays",
    "closed_dates",
    "closures",
    "openings",
    "description",
}


@dataclass(frozen=True)
class HolidayRule:
    """Public holidays from the `holidays` package: a country, optional subdivision,
    and holiday names (English or the country's own language) that stay open."""

    country: str
    subdiv: str | None = None
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Span:
    """Precomputed open intervals covering local dates [first_day, last_day)."""

    first_day: np.datetime64
    last_day: np.datetime64
    starts: np.ndarray  # int64 UTC ns, sorted, non-overlapping
    ends: np.ndarray
    lengths: np.ndarray
    cum_before: np.ndarray  # open ns before interval i
    cum_after: np.ndarray  # open ns up to the end of interval i

    @cached_property
    def shift(self) -> np.ndarray:
        """cum_before - starts: F(t) inside interval i is t + shift[i]."""
        return self.cum_before - self.starts

    @cached_property
    def by_day(self) -> tuple[int, np.ndarray, int, np.ndarray]:
        """A day table that replaces a binary search over `starts` with lookups.

        (first UTC midnight, the number of starts at or before each following UTC
        midnight, the most starts within one day, `starts` padded with that many
        never-reached values): the index of the last start at or before t is the
        count at t's midnight, plus the starts later that day up to t, minus one."""
        first = int(self.starts[0]) // DAY_NS * DAY_NS
        days = int(self.starts[-1] - first) // DAY_NS + 2
        midnights = first + np.arange(days + 1, dtype=np.int64) * DAY_NS
        counts = np.searchsorted(self.starts, midnights, side="right")
        most = int(np.diff(counts).max(initial=0))
        padded = np.concatenate([self.starts, np.full(most, np.iinfo(np.int64).max)])
        return first, counts, most, padded

    def index(self, t: np.ndarray) -> np.ndarray:
        """np.searchsorted(starts, t, side="right") - 1, by day table."""
        first, counts, most, padded = self.by_day
        day = t - first
        day //= DAY_NS
        np.clip(day, 0, len(counts) - 1, out=day)
        i = counts[day]
        if most:
            at = i.copy()
            for _ in range(most):
                # The starts later on t's day are consecutive: count those <= t.
                i += padded[at] <= t
                at += 1
        i -= 1
        return i

    @property
    def total(self) -> int:
        return int(self.cum_after[-1]) if len(self.cum_after) else 0


def _parse_clock(calendar: str, field: str, text: Any, *, is_end: bool) -> int:
    """'HH:MM' or 'HH:MM:SS' -> seconds after midnight; '24:00' only as an end."""
    if not isinstance(text, str):
        raise CalendarError(calendar, field, f"expected a time like '09:00', got {text!r}")
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
            raise ValueError
        h, m, s = (int(p) for p in [*parts, "00"][:3])
    except ValueError:
        raise CalendarError(calendar, field, f"malformed time {text!r} (use 'HH:MM')") from None
    if (h, m, s) == (24, 0, 0):
        if not is_end:
            raise CalendarError(calendar, field, "'24:00' can only end an interval")
        return 86_400
    if h > 23 or m > 59 or s > 59:
        raise CalendarError(calendar, field, f"malformed time {text!r} (use 'HH:MM')")
    return h * 3600 + m * 60 + s


# A local date-time as the docs write it ("2026-12-31T12:00"), or a date alone
# (its midnight); a space may stand for the T. Anything else pandas would guess
# at ("2026-08-15 10h" was read as 10:00, "12/31/2026" as a date).
_LOCAL_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?")
_OFFSET_TEXT = re.compile(r".*(?:Z|[+-]\d{2}:?\d{2})")


def _parse_local(calendar: str, field: str, text: Any) -> np.datetime64:
    if not isinstance(text, str | dt.datetime | dt.date):
        raise CalendarError(calendar, field, f"expected a local date-time, got {text!r}")
    if isinstance(text, str) and not _LOCAL_TEXT.fullmatch(text):
        if len(text) > 16 and _OFFSET_TEXT.fullmatch(text):
            raise CalendarError(calendar, field, f"{text!r}: give local time without an offset")
        raise CalendarError(
            calendar, field, f"malformed date-time {text!r} (use 'YYYY-MM-DDTHH:MM', local time)"
        )
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise CalendarError(calendar, field, f"malformed date-time {text!r}") from None
    if ts.tzinfo is not None:
        raise CalendarError(calendar, field, f"{text!r}: give local time without an offset")
    _check_dated(calendar, field, text, ts)
    return np.datetime64(ts.as_unit("s").to_datetime64(), "s")


def _parse_date(calendar: str, field: str, value: Any) -> dt.date:
    day = iso_date(value)
    if day is None:
        raise CalendarError(calendar, field, f"malformed date {value!r} (use YYYY-MM-DD)")
    _check_dated(calendar, field, value, day)
    return day


def _parse_pairs(
    calendar: str, field: str, pairs: Any, parse: Callable[..., _End]
) -> list[tuple[_End, _End]]:
    """A list of [start, end] pairs, each ending after it starts: opening hours of
    a weekday or extra spans. `parse(where, value, is_end=...)` reads one end."""
    if not isinstance(pairs, list | tuple):
        raise CalendarError(calendar, field, "expected a list of [start, end] pairs")
    out = []
    for i, pair in enumerate(pairs):
        where = f"{field}[{i}]"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise CalendarError(calendar, where, f"expected [start, end], got {pair!r}")
        start = parse(where, pair[0], is_end=False)
        end = parse(where, pair[1], is_end=True)
        if end <= start:
            raise CalendarError(calendar, where, f"ends before it starts: {pair!r}")
        out.append((start, end))
    return out


def _parse_spans(calendar: str, field: str, spans: Any) -> tuple[tuple[np.datetime64, ...], ...]:
    # A span's start and end are read alike.
    def local(where: str, text: Any, *, is_end: bool) -> np.datetime64:
        return _parse_local(calendar, where, text)

    return tuple(_parse_pairs(calendar, field, spans, local))


# Generating decades of holidays takes tens of milliseconds per country and
# language, and every calendar built (each evaluation's default policy too) asks
# for them again: the table depends only on these values and is never modified.
@cache
def _holiday_table(
    country: str, subdiv: str | None, years: range, language: str
) -> Mapping[dt.date, str]:
    return MappingProxyType(
        dict(holidays_lib.country_holidays(country, subdiv=subdiv, years=years, language=language))
    )


def _native_language(rule: HolidayRule) -> str:
    # Without an explicit language the package follows the process locale;
    # names must not depend on where the tool runs.
    return holidays_lib.country_holidays(rule.country).default_language or "en_US"


def _holiday_names(rule: HolidayRule, language: str) -> set[str]:
    table = _holiday_table(rule.country, rule.subdiv, _HOLIDAY_NAME_YEARS, language)
    return {part.strip() for name in table.values() for part in name.split(";")}


class Calendar:
    """Opening hours in a time zone, and working time measured over them.

    Build one with `from_dict`, `from_toml` or `builtin`. Instances are immutable
    in what they mean; the precomputed intervals are a cache that grows as
    queries reach further dates.
    """

    def __init__(
        self,
        name: str,
        timezone: str,
        weekly: tuple[tuple[tuple[int, int], ...], ...],
        *,
        holiday_rule: HolidayRule | None = None,
        closed_dates: tuple[dt.date, ...] = (),
        closures: tuple[tuple[np.datetime64, np.datetime64], ...] = (),
        openings: tuple[tuple[np.datetime64, np.datetime64], ...] = (),
        description: str = "",
    ) -> None:
        self.name = name
        self.timezone = timezone
        self.weekly = weekly
        self.holiday_rule = holiday_rule
        self.closed_dates = closed_dates
        self.closures = closures
        self.openings = openings
        self.description = description
        self._span: _Span | None = None

    # ------------------------------------------------------------------ building

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "custom") -> Calendar:
        """Build a calendar from a dict shaped like the TOML table.

        Raises `CalendarError` naming the calendar and the field for: an unknown
        time zone, a malformed time, an interval ending before it starts,
        overlapping intervals, an unknown holiday country or holiday name.
        """
        if not isinstance(data, Mapping):
            raise CalendarError(name, "<table>", "a calendar is a table of settings")
        unknown = set(data) - _KNOWN_KEYS
        if unknown:
            key = sorted(unknown)[0]
            raise CalendarError(name, key, f"unknown setting{did_you_mean(key, _KNOWN_KEYS)}")

        tz = data.get("timezone")
        if not isinstance(tz, str):
            raise CalendarError(name, "timezone", "required: an IANA zone like 'Europe/Amsterdam'")
        if not is_zone_name(tz):
            raise CalendarError(name, "timezone", f"unknown time zone {tz!r}")

        weekly_raw = data.get("weekly")
        if not isinstance(weekly_raw, Mapping):
            raise CalendarError(name, "weekly", "required: a table mon..sun of [start, end] pairs")
        bad_days = set(weekly_raw) - set(WEEKDAYS)
        if bad_days:
            raise CalendarError(name, f"weekly.{sorted(bad_days)[0]}", "unknown day (use mon..sun)")
        weekly = tuple(cls._parse_day(name, day, weekly_raw.get(day, [])) for day in WEEKDAYS)

        holiday_rule = None
        if data.get("holidays") is not None:
            holiday_rule = cls._parse_holidays(name, data["holidays"])

        closed_raw = data.get("closed_dates", [])
        if not isinstance(closed_raw, list | tuple):
            raise CalendarError(name, "closed_dates", "expected a list of dates")
        closed = [_parse_date(name, f"closed_dates[{i}]", v) for i, v in enumerate(closed_raw)]

        description = data.get("description", "")
        if not isinstance(description, str):
            raise CalendarError(name, "description", f"expected a string, got {description!r}")
        openings = _parse_spans(name, "openings", data.get("openings", []))
        # Accepted, it would fail much later, at the first deadline computed on it.
        if not any(weekly) and not openings:
            raise CalendarError(
                name,
                "weekly",
                "never open: every day of the week is empty and there are no openings "
                '(give hours like mon = [["09:00", "17:30"]])',
            )
        return cls(
            name,
            tz,
            weekly,
            holiday_rule=holiday_rule,
            closed_dates=tuple(sorted(set(closed))),
            closures=_parse_spans(name, "closures", data.get("closures", [])),
            openings=openings,
            description=description,
        )

    @staticmethod
    def _parse_day(name: str, day: str, intervals: Any) -> tuple[tuple[int, int], ...]:
        field = f"weekly.{day}"
        parsed = sorted(_parse_pairs(name, field, intervals, partial(_parse_clock, name)))
        for (_, prev_end), (start, _) in itertools.pairwise(parsed):
            if start < prev_end:
                raise CalendarError(name, field, "intervals overlap")
        return tuple(parsed)

    @staticmethod
    def _parse_holidays(name: str, raw: Any) -> HolidayRule:
        if not isinstance(raw, Mapping) or "country" not in raw:
            raise CalendarError(name, "holidays", "expected { country = 'NL', exclude = [...] }")
        unknown = set(raw) - {"country", "subdiv", "exclude"}
        if unknown:
            key = sorted(unknown)[0]
            hint = did_you_mean(key, ("country", "subdiv", "exclude"))
            raise CalendarError(name, f"holidays.{key}", f"unknown setting{hint}")
        exclude = raw.get("exclude", [])
        if not isinstance(exclude, list | tuple) or not all(isinstance(x, str) for x in exclude):
            raise CalendarError(name, "holidays.exclude", "expected a list of holiday names")
        subdiv = raw.get("subdiv")
        if subdiv is not None and not isinstance(subdiv, str):
            raise CalendarError(
                name, "holidays.subdiv", f"expected a string like 'BY', got {subdiv!r}"
            )
        rule = HolidayRule(str(raw["country"]), subdiv, tuple(exclude))
        # The package says NotImplementedError for an unknown country and for an
        # unknown subdivision alike: tell them apart before asking it for holidays.
        subdivisions = holidays_lib.list_supported_countries().get(rule.country)
        if subdivisions is None:
            raise CalendarError(
                name, "holidays.country", f"unknown holiday country {rule.country!r}"
            )
        if rule.subdiv is not None and rule.subdiv not in subdivisions:
            known_subdivs = ", ".join(map(str, subdivisions)) or "none"
            raise CalendarError(
                name,
                "holidays.subdiv",
                f"unknown subdivision {rule.subdiv!r} of {rule.country} (known: {known_subdivs})",
            )
        try:
            known = _holiday_names(rule, "en_US") | _holiday_names(rule, _native_language(rule))
        except Exception as exc:  # the package raises several types for a bad subdivision
            raise CalendarError(name, "holidays.subdiv", str(exc)) from None
        for holiday in exclude:
            if holiday not in known:
                raise CalendarError(
                    name,
                    "holidays.exclude",
                    f"unknown holiday name {holiday!r} for {rule.country}; "
                    f"known: {', '.join(sorted(known))}",
                )
        return rule

    @classmethod
    def from_toml(cls, path: str | Path, name: str) -> Calendar:
        """Read the table `[calendars.<name>]` of a TOML file."""
        path = Path(path)
        try:
            with path.open("rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise CalendarError(name, "<file>", f"no such file: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise CalendarError(name, "<file>", f"{path} is not valid TOML: {exc}") from None
        return cls.from_tables(doc.get("calendars", {}), name, source=str(path))

    @classmethod
    def from_tables(
        cls, tables: Mapping[str, Any], name: str, *, source: str = "<dict>"
    ) -> Calendar:
        """Pick calendar `name` out of a `calendars` mapping (as found in a policy file)."""
        if name not in tables:
            known = ", ".join(sorted(tables)) or "none"
            raise CalendarError(name, "<name>", f"not defined in {source} (defined: {known})")
        return cls.from_dict(tables[name], name=name)

    @classmethod
    def builtin(cls, name: str) -> Calendar:
        """`office` (09:00-17:30 Mon-Fri, Europe/Amsterdam, Dutch public holidays
        except Good Friday) or `always` (24/7, UTC)."""
        return cls.from_tables(builtin_tables(), name, source="the built-in calendars")

    # ------------------------------------------------------------ facts for people

    @cached_property
    def working_day_seconds(self) -> int:
        """Open seconds of one full opening day: the longest weekday's total.

        "N working days" in a policy means N times this (8.5 h in `office`)."""
        return max(sum(e - s for s, e in day) for day in self.weekly) or 0

    def is_always_open(self) -> bool:
        """Open around the clock every day, with nothing closed: its working time is
        clock time (`always`, or a 24/7 calendar of a policy's own)."""
        day = DAY_NS // 10**9
        # Intervals never overlap (checked when built): a full day's total covers it.
        return (
            all(sum(e - s for s, e in d) == day for d in self.weekly)
            and self.holiday_rule is None
            and not self.closed_dates
            and not self.closures
        )

    def holidays_between(
        self,
        first: dt.date,
        last: dt.date,
        *,
        language: str = "en_US",
        closed_date: str = "closed date",
    ) -> list[tuple[dt.date, str]]:
        """Closed holidays and closed dates in [first, last], with their names: a
        holiday's in `language` where the `holidays` package has that language for
        the country (else English), a closed date's `closed_date`."""
        closed = self._closed_days(first.year, last.year + 1)
        names: dict[dt.date, str] = {}
        rule = self.holiday_rule
        if rule is not None and language != "en_US":
            supported = holidays_lib.country_holidays(rule.country).supported_languages
            if language in supported:
                years = range(first.year, last.year + 1)
                names = _holiday_table(rule.country, rule.subdiv, years, language)
        return [
            (d, closed_date if n is None else names.get(d, n))
            for d, n in closed
            if first <= d <= last
        ]

    def exception_spans(
        self, first: dt.date, last: dt.date
    ) -> list[tuple[np.datetime64, np.datetime64, str]]:
        """Extra closed and open spans (local time) touching [first, last]: start,
        end and 'closure' or 'opening'."""
        lo = np.datetime64(first, "s")
        hi = np.datetime64(last + dt.timedelta(days=1), "s")
        return [
            (start, end, label)
            for label, spans in (("closure", self.closures), ("opening", self.openings))
            for start, end in spans
            if end > lo and start < hi
        ]

    def exceptions_between(self, first: dt.date, last: dt.date) -> list[tuple[str, str]]:
        """`exception_spans` as text for audits: ('start .. end', label)."""
        return [(f"{a} .. {b}", label) for a, b, label in self.exception_spans(first, last)]

    def describe_hours(self) -> dict[str, list[str]]:
        """Weekly hours as text, e.g. {'mon': ['09:00-17:30'], ...}."""

        def clock(seconds: int) -> str:
            return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"

        return {
            day: [f"{clock(s)}-{clock(e)}" for s, e in intervals]
            for day, intervals in zip(WEEKDAYS, self.weekly, strict=True)
        }

    def open_spans(self, start: Any, end: Any, *, naive_tz: str | None = None) -> pd.DataFrame:
        """The open intervals that overlap [start, end), clipped to it, in local time.

        Columns: start, end (tz-aware, calendar zone), seconds. For audits."""
        a = to_instants(start, naive_tz or self.timezone).ns[0]
        b = to_instants(end, naive_tz or self.timezone).ns[0]
        span = self._ensure(min(a, b), max(a, b))
        lo, hi = min(a, b), max(a, b)
        keep = (span.ends > lo) & (span.starts < hi)
        s = np.maximum(span.starts[keep], lo)
        e = np.minimum(span.ends[keep], hi)
        return pd.DataFrame(
            {
                "start": to_timestamps(s, self.timezone),
                "end": to_timestamps(e, self.timezone),
                "seconds": (e - s) / NS,
            }
        )

    # --------------------------------------------------------------- precompute

    def _closed_days(self, first_year: int, end_year: int) -> list[tuple[dt.date, str | None]]:
        days: dict[dt.date, str | None] = {}
        if self.holiday_rule is not None:
            rule = self.holiday_rule
            years = range(first_year, end_year + 1)
            english = _holiday_table(rule.country, rule.subdiv, years, "en_US")
            native = _holiday_table(rule.country, rule.subdiv, years, _native_language(rule))
            excluded = set(rule.exclude)
            for day, label in english.items():
                # Two holidays on one day come as "A; B"; the day stays closed
                # unless every one of them is excluded, by either of its names.
                en_parts = [p.strip() for p in label.split(";")]
                nat_parts = [p.strip() for p in native.get(day, "").split(";")]
                if len(nat_parts) != len(en_parts):
                    nat_parts = en_parts
                if any(
                    e not in excluded and n not in excluded
                    for e, n in zip(en_parts, nat_parts, strict=True)
                ):
                    days[day] = label
        for day in self.closed_dates:
            days.setdefault(day, None)  # named by holidays_between
        return sorted(days.items())

    def _local_to_utc(self, local: np.ndarray, *, first_occurrence: bool) -> np.ndarray:
        return local_bounds(local, self.timezone, first_occurrence=first_occurrence)

    def _build(self, first_day: np.datetime64, last_day: np.datetime64) -> _Span:
        days = np.arange(first_day, last_day, dtype="datetime64[D]")
        # 1970-01-01 was a Thursday: (n + 3) % 7 is 0 on Mondays.
        weekday = (days.astype(np.int64) + 3) % 7
        first_year = int(str(first_day)[:4])
        last_year = int(str(last_day)[:4])
        closed = np.array(
            [np.datetime64(d, "D") for d, _ in self._closed_days(first_year, last_year)],
            dtype="datetime64[D]",
        )
        open_day = ~np.isin(days, closed)
        local_starts, local_ends = [], []
        for wd, intervals in enumerate(self.weekly):
            chosen = days[(weekday == wd) & open_day].astype("datetime64[s]")
            for s, e in intervals:
                local_starts.append(chosen + np.timedelta64(s, "s"))
                local_ends.append(chosen + np.timedelta64(e, "s"))
        starts = self._local_to_utc(
            np.concatenate(local_starts or [np.array([], "M8[s]")]), first_occurrence=True
        )
        ends = self._local_to_utc(
            np.concatenate(local_ends or [np.array([], "M8[s]")]), first_occurrence=False
        )
        starts, ends = _merge(starts, ends)
        for c_start, c_end in self.closures:
            cs, ce = (
                self._local_to_utc(np.array([v]), first_occurrence=first)[0]
                for v, first in ((c_start, True), (c_end, False))
            )
            starts, ends = _subtract(starts, ends, cs, ce)
        if self.openings:
            o_starts = self._local_to_utc(
                np.array([o[0] for o in self.openings]), first_occurrence=True
            )
            o_ends = self._local_to_utc(
                np.array([o[1] for o in self.openings]), first_occurrence=False
            )
            starts, ends = _merge(
                np.concatenate([starts, o_starts]), np.concatenate([ends, o_ends])
            )
        sentinel = self._local_to_utc(np.array([first_day], "M8[s]"), first_occurrence=True)
        starts = np.concatenate([sentinel, starts])
        ends = np.concatenate([sentinel, ends])
        lengths = ends - starts
        cum_after = np.cumsum(lengths)
        return _Span(first_day, last_day, starts, ends, lengths, cum_after - lengths, cum_after)

    def _ensure(self, lo_ns: int, hi_ns: int) -> _Span:
        """The precomputed span, grown (in whole years) to cover [lo_ns, hi_ns]."""
        # Local dates differ from UTC dates by less than a day; two days of margin
        # keep every interval touching the range inside the span.
        lo_day = np.datetime64(int(lo_ns // DAY_NS) - 2, "D")
        hi_day = np.datetime64(int(hi_ns // DAY_NS) + 3, "D")
        span = self._span
        if span is not None and span.first_day <= lo_day and hi_day <= span.last_day:
            return span
        if span is not None:
            lo_day, hi_day = min(lo_day, span.first_day), max(hi_day, span.last_day)
        first = np.datetime64(f"{str(lo_day)[:4]}-01-01", "D")
        last = np.datetime64(f"{int(str(hi_day)[:4]) + 1}-01-01", "D")
        self._span = self._build(first, last)
        return self._span

    # ------------------------------------------------------------------ queries

    def _cumulative(self, span: _Span, t: np.ndarray) -> np.ndarray:
        """F(t): open ns from the start of the span to t (t inside the span).

        The span begins with an empty sentinel interval, so every t has an
        interval at or before it and no element needs a special case."""
        t = np.asarray(t, dtype=np.int64)
        f = np.empty(t.shape, dtype=np.int64)
        # In blocks: the temporaries of a block stay in cache and are reused,
        # where whole-array ones would be fresh memory for every step.
        for lo in range(0, t.size, _BLOCK):
            part, out = t[lo : lo + _BLOCK], f[lo : lo + _BLOCK]
            i = span.index(part)
            # F(t) = min(cum_before[i] + (t - starts[i]), cum_after[i]): two gathers.
            np.take(span.shift, i, out=out)
            out += part
            np.minimum(out, span.cum_after[i], out=out)
        return f

    def working_ns(self, start_ns: np.ndarray, end_ns: np.ndarray) -> np.ndarray:
        """Open nanoseconds in [start, end) for int64 UTC ns arrays without missing values.

        The fast path for callers that already hold UTC nanoseconds (the evaluation)."""
        if len(start_ns) == 0:
            return np.zeros(0, dtype=np.int64)
        lo = min(int(start_ns.min()), int(end_ns.min()))
        hi = max(int(start_ns.max()), int(end_ns.max()))
        span = self._ensure(lo, hi)
        return self._cumulative(span, end_ns) - self._cumulative(span, start_ns)

    def working_clock(self, lo_ns: int, hi_ns: int) -> Callable[[np.ndarray], np.ndarray]:
        """A clock of open time for int64 UTC ns instants in [lo_ns, hi_ns]: it maps
        each instant t to the open nanoseconds between a fixed origin and t, so that
        working_ns(a, b) == clock(b) - clock(a) for any a, b in the range.

        For callers that measure many intervals sharing their end points (the
        evaluation): each instant is looked up once, not once per interval.
        The clock raises `ValueError` for an instant outside the range."""
        span = self._ensure(lo_ns, hi_ns)

        def clock(t: np.ndarray) -> np.ndarray:
            if len(t) and (int(t.min()) < lo_ns or int(t.max()) > hi_ns):
                raise ValueError(f"an instant lies outside the clock's range [{lo_ns}, {hi_ns}]")
            return self._cumulative(span, t)

        return clock

    def working_seconds(
        self, start: Any, end: Any, *, naive_tz: str | None = None
    ) -> float | np.ndarray:
        """Open seconds in [start, end); negative when end < start.

        `start`/`end`: datetimes, Timestamps, ISO strings or array-likes of them.
        Naive values are read in `naive_tz`, by default the calendar's own zone.
        Missing values give NaN. Scalars in -> float out; arrays -> numpy array."""
        zone = naive_tz or self.timezone
        a, b = to_instants(start, zone), to_instants(end, zone)
        a_ns, b_ns = np.broadcast_arrays(a.ns, b.ns)
        missing = np.broadcast_to(a.missing, a_ns.shape) | np.broadcast_to(b.missing, b_ns.shape)
        if not missing.any():
            out = self.working_ns(a_ns, b_ns) / NS
        else:
            out = np.full(a_ns.shape, np.nan)
            ok = ~missing
            out[ok] = self.working_ns(a_ns[ok], b_ns[ok]) / NS
        if a.scalar and b.scalar:
            return float(out[0])
        return out

    def add_working_ns(self, start_ns: np.ndarray, delta_ns: np.ndarray) -> np.ndarray:
        """The earliest instant t with working time [start, t) == delta (int64 UTC ns).

        A result landing exactly on a closing time is that closing time. A zero
        delta gives `start` itself. Negative deltas go backwards (the earliest t
        for which working_ns(start, t) == delta, i.e. a closing time, not the
        following opening, when the boundary is a gap)."""
        if len(start_ns) == 0:
            return np.zeros(0, dtype=np.int64)
        lo, hi = int(start_ns.min()), int(start_ns.max())
        # A calendar without weekly hours (openings only) is estimated in clock days.
        day = self.working_day_seconds * NS or DAY_NS
        # Grow the span until every target lies strictly inside it.
        ahead = int(max(delta_ns.max(), 0) // day * 7 // 5 + 8) * DAY_NS
        behind = int(max(-delta_ns.min(), 0) // day * 7 // 5 + 8) * DAY_NS
        while True:
            bounded = lo - behind < _FIRST_NS or hi + ahead > _LAST_NS
            span = self._ensure(max(lo - behind, _FIRST_NS), min(hi + ahead, _LAST_NS))
            target = self._cumulative(span, start_ns) + delta_ns
            if span.total > 0 and target.min() > 0 and target.max() < span.total:
                break
            if bounded:
                hours = np.abs(delta_ns).max() / NS / 3600
                raise WorkingTimeError(
                    f"calendar {self.name!r}: {hours:,.0f} working hours reach past "
                    "the years 1679-2260 that working time is computed for"
                )
            if ahead + behind > _MAX_SEARCH_DAYS * DAY_NS:
                raise WorkingTimeError(
                    f"calendar {self.name!r} has no open time within "
                    f"{_MAX_SEARCH_DAYS // 366} years of the instants asked for"
                )
            ahead, behind = ahead * 2, behind * 2
        i = np.searchsorted(span.cum_after, target, side="left")
        out = span.shift[i]
        np.subtract(target, out, out=out)
        zero = delta_ns == 0
        if zero.any():
            out[zero] = start_ns[zero]
        return out

    def add_working_seconds(
        self, start: Any, seconds: Any, *, naive_tz: str | None = None
    ) -> pd.Timestamp | pd.DatetimeIndex | pd.Series:
        """The deadline: the earliest instant t with working_seconds(start, t) == seconds.

        Returns tz-aware timestamps in the calendar's zone: a Timestamp for
        scalars, a Series (same index) for a Series, else a DatetimeIndex.
        Missing start or seconds gives NaT."""
        a = to_instants(start, naive_tz or self.timezone)
        secs = np.asarray(seconds, dtype=float).ravel()
        a_ns, secs = np.broadcast_arrays(a.ns, secs)
        missing = np.broadcast_to(a.missing, a_ns.shape) | np.isnan(secs)
        if not missing.any():
            out = self.add_working_ns(a_ns, _seconds_to_ns(secs))
        else:
            out = np.full(a_ns.shape, NAT_NS, dtype=np.int64)
            ok = ~missing
            out[ok] = self.add_working_ns(a_ns[ok], _seconds_to_ns(secs[ok]))
        result = to_timestamps(out, self.timezone)
        if a.scalar and np.ndim(seconds) == 0:
            return result[0]
        if a.index is not None:
            return pd.Series(result, index=a.index)
        return result

    def __repr__(self) -> str:
        return f"Calendar({self.name!r}, {self.timezone!r})"


def _seconds_to_ns(seconds: np.ndarray) -> np.ndarray:
    ns = np.multiply(seconds, NS)
    np.rint(ns, out=ns)
    return ns.astype(np.int64)


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals: sorted, overlapping or touching ones joined, empty ones dropped."""
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    new_group = np.ones(len(starts), dtype=bool)
    new_group[1:] = starts[1:] > reach[:-1]
    group = np.cumsum(new_group) - 1
    # Not zeros: an instant before 1970 is negative, and each of its intervals
    # ended at the epoch (1969-12-29 09:00 was open until 1970-01-01 00:00 UTC).
    merged_ends = np.full(group[-1] + 1, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(merged_ends, group, ends)
    return starts[new_group], merged_ends


def _subtract(
    starts: np.ndarray, ends: np.ndarray, cut_start: int, cut_end: int
) -> tuple[np.ndarray, np.ndarray]:
    """Remove [cut_start, cut_end) from sorted disjoint intervals."""
    left_s, left_e = starts, np.minimum(ends, cut_start)
    right_s, right_e = np.maximum(starts, cut_end), ends
    return _merge(np.concatenate([left_s, right_s]), np.concatenate([left_e, right_e]))


def builtin_tables() -> dict[str, Any]:
    """The `[calendars]` tables of the built-in calendar file."""
    text = resources.files("pipeline.data").joinpath("calendars.toml").read_text("utf-8")
    return tomllib.loads(text)["calendars"]
