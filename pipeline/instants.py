"""Turning whatever the caller holds into UTC instants, as int64 nanoseconds.

The working-time engine computes on int64 nanoseconds since the Unix epoch, UTC.
Callers hand it `datetime`, `pandas.Timestamp`, ISO strings, numpy `datetime64`
of any unit, `pandas.Series`/`DatetimeIndex`, tz-aware or naive. This module is
the one place that reads them, so the rules live in one place:

- tz-aware values are exact whatever their offset;
- naive values are wall-clock readings in `naive_tz`, which the caller states;
- a naive reading that happens twice (02:30 on the fall-back night) is standard
  time, the *later* one; one that falls in a DST gap (02:30 on the spring-forward
  night) is read with the offset in force before the gap, so it moves forward by
  the gap (to 03:30 summer time). That is how the loader's SQL reads them (DuckDB's
  ICU time zones), so a naive reading means the same instant wherever it enters;
- pandas 3 stores `datetime64[s]`/`[ms]`/`[us]`: units are converted explicitly,
  never assumed to be nanoseconds;
- a number (epoch seconds or milliseconds) is refused: its unit is unknown, and
  pandas would take it for nanoseconds;
- text is read as the loader's SQL reads it (`sla_ts`, load_macros.sql): ISO 8601's
  end of a day, 24:00 (`T24:00`, `T24:00:00`, a fraction of zeros), is the next
  day's midnight, and digits of a second below the microsecond (`.1234567`, as .NET
  writes) are cut off, not rounded: the instant is floored to the microsecond the
  warehouse stores, and a reading never moves into the next second (or day).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

NAT_NS = np.iinfo(np.int64).min  # pandas' iNaT

# A reading carries its own offset when its time ends in Z, +hh[:mm] / -hh[:mm] (a
# real offset: at most 18 hours, minutes below 60) or " UTC", as the loader's
# `sla_has_offset` (load_macros.sql) reads them too. The time before it keeps the
# last part of a date ("2026-10-26") from being taken for an offset.
OFFSET_SUFFIX = (
    r":\d\d(?:\.\d*)?\s*(?:[Zz]|[+-](?:(?:0\d|1[0-7])(?::?[0-5]\d)?|18(?::?00)?)|UTC)\s*$"
)


# A reading without an offset: a date, optionally with a time, and nothing else,
# as the loader's `sla_reading` (load_macros.sql) takes them.
READING = r"\s*\d{4}-\d\d?-\d\d?(?:[T ]\d\d?:\d\d(?::\d\d(?:\.\d*)?)?)?\s*"


# ISO 8601's end of a day: hour 24 with nothing after it but zeros, before an
# offset or the end, as DuckDB's TIMESTAMP cast takes it (`24:00:00.5` it refuses).
# pandas refuses the hour 24: such a time is read as 00:00 and moved a day on.
END_OF_DAY = r"(?<=[T ])24:00(?::00(?:\.0*)?)?(?=\s*(?:[Zz]|[+-][\d:]+|UTC)?\s*$)"
NS_PER_DAY = 86_400 * 10**9
# The instants a ticket's or an event's time, and an --as-of, may be: the
# evaluation counts time in int64 nanoseconds (NS_YEARS), and these bounds leave
# room for deadlines after them. The loader rejects a time outside them
# (timestamp_out_of_range: a 9999-12-31 placeholder, a year typed 1500).
COUNTED_SPAN = (pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))
# The years int64 nanoseconds hold whole (1677-09-21 to 2262-04-11), with room for
# any zone's offset: read_text's instants beyond them are NaT, not an overflow.
NS_YEARS = (pd.Timestamp("1678-01-01"), pd.Timestamp("2262-01-01"))
NS_PER_US = 1_000


def end_of_day(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """`text` with every 24:00 written 00:00:00 (of the same date), and which values
    were: the caller moves those a day on once they are read."""
    # The plain search first: a whole column pays one cheap pass, not a regex.
    late = text.str.contains("24:00", regex=False, na=False).to_numpy(dtype=bool, copy=True)
    if late.any():
        late[late] = text[late].str.contains(END_OF_DAY, regex=True).to_numpy(dtype=bool)
    if late.any():
        text = text.copy()
        text[late] = text[late].str.replace(END_OF_DAY, "00:00:00", regex=True)
    return text, late


def floor_us(ns: np.ndarray) -> np.ndarray:
    """UTC nanoseconds floored to the microsecond (NAT_NS stays), as the loader's
    cast cuts the digits of a second below the microsecond."""
    return np.where(ns == NAT_NS, NAT_NS, ns - ns % NS_PER_US)


def utc_suffix_as_z(text: pd.Series) -> pd.Series:
    """Readings ending in " UTC" written with "Z" instead, which pandas parses."""
    return text.str.replace(r"\s*UTC\s*$", "Z", regex=True)


def read_text(text: pd.Series, naive_tz: str | None) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Timestamps written as text, read as the loader's SQL reads them (`sla_ts`),
    for a reader that must place instants before the loader sees them: the UTC
    instants, which values are naive readings, and which are timestamps outside
    NS_YEARS (9999-12-31, a year typed 0206: a reader rejects them as out of range,
    timestamp_out_of_range, not as unparseable). An instant is NaT where the value
    is empty or no timestamp, for a naive reading without `naive_tz` (its zone is
    unknown), and outside NS_YEARS."""
    values = text.astype(object).where(text.notna(), None)
    aware = values.str.contains(OFFSET_SUFFIX, regex=True, na=False).to_numpy(dtype=bool)
    reading = ~aware & values.str.fullmatch(READING, na=False).to_numpy(dtype=bool)
    values, late = end_of_day(values)
    ns = np.full(len(values), NAT_NS, dtype=np.int64)
    beyond = np.zeros(len(values), dtype=bool)
    if aware.any():
        exact = utc_suffix_as_z(values[aware].str.strip())
        parsed = pd.DatetimeIndex(
            pd.to_datetime(exact, format="ISO8601", errors="coerce", utc=True)
        )
        inside = _within_ns(parsed.tz_localize(None))
        beyond[aware] = np.asarray(parsed.notna()) & ~inside
        ns[aware] = parsed.where(inside).as_unit("ns").asi8
        # A fixed offset: the next midnight is one day of 24 hours on.
        moved = aware & late & (ns != NAT_NS)
        ns[moved] += NS_PER_DAY
    local = pd.DatetimeIndex(
        pd.to_datetime(values[reading].str.strip(), format="ISO8601", errors="coerce")
    )
    if late[reading].any():
        # On the wall clock: the next midnight is read in the zone like any reading.
        local = local.where(~late[reading], local + pd.Timedelta(days=1))
    naive = reading.copy()
    naive[reading] = np.asarray(local.notna())
    placed = naive.copy()
    placed[reading] &= _within_ns(local)
    beyond |= naive & ~placed
    if naive_tz is not None and placed.any():
        ns[placed] = localize_naive(local[placed[reading]], naive_tz).asi8
    ns = floor_us(ns)
    instants = pd.Series(ns.view("datetime64[ns]"), index=text.index).dt.tz_localize("UTC")
    return instants, naive, beyond


def _within_ns(stamps: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray((stamps >= NS_YEARS[0]) & (stamps < NS_YEARS[1]))


def read_instant(text: str) -> pd.Timestamp:
    """One timestamp written as text, as the loader reads text (24:00 is the next
    day's midnight, digits below the microsecond are cut off): tz-aware when it
    carries an offset, else the naive reading for the caller to place in its zone.
    Raises `ValueError` when it is no timestamp."""
    value, late = end_of_day(pd.Series([text.strip()], dtype=object))
    stamp = pd.Timestamp(value.iloc[0])
    if late[0]:
        stamp += pd.Timedelta(days=1)
    # Not Timestamp.floor: on a tz-aware value it floors the wall clock, which
    # fails for a reading the fall-back night holds twice. Only a nanosecond
    # value has digits to cut (a far date is kept in seconds, beyond ns range).
    if stamp.nanosecond:
        stamp -= pd.Timedelta(stamp.nanosecond, unit="ns")
    return stamp


@dataclass(frozen=True)
class Instants:
    """UTC nanoseconds plus what is needed to hand results back in the caller's shape."""

    ns: np.ndarray  # int64, NAT_NS where missing
    missing: np.ndarray  # bool
    scalar: bool
    index: pd.Index | None  # set when the input was a Series: results keep its index


def _is_scalar(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str | dt.datetime | dt.date | np.datetime64)
        or (np.ndim(value) == 0)
    )


def localize_naive(index: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    """Wall-clock readings in `tz` as UTC instants, by the rule in the module
    docstring (the loader's): twice-happening readings are standard time, readings
    in a gap take the offset from before it."""
    index = pd.DatetimeIndex(index).as_unit("ns")
    # False: not summer time, i.e. the later of the two readings.
    utc = index.tz_localize(tz, ambiguous=np.zeros(len(index), dtype=bool), nonexistent="NaT")
    gap = np.asarray(utc.isna()) & np.asarray(index.notna())
    if not gap.any():
        return utc.tz_convert("UTC")
    ns = utc.asi8.copy()
    wall = index[gap]
    # The last instant before the gap carries the offset in force before it.
    before = wall.tz_localize(tz, nonexistent="shift_backward")
    offset = before.tz_localize(None) - before.tz_convert("UTC").tz_localize(None)
    ns[gap] = (wall - offset).asi8
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def local_bounds(local: Any, tz: str, *, first_occurrence: bool) -> np.ndarray:
    """Wall-clock times in `tz` taken as the bounds of a local period (an opening
    span, a day, a month), as UTC int64 nanoseconds. Unlike a reading
    (`localize_naive`), a bound in a DST gap is the first instant after the gap,
    and a bound that happens twice is its first occurrence for a start and its
    second for an end: the period then holds every instant whose reading lies in
    it (a month that begins in a gap begins when the clocks jump)."""
    index = pd.DatetimeIndex(local).as_unit("ns")
    ambiguous = np.full(len(index), first_occurrence, dtype=bool)  # True: summer time
    return index.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward").asi8


def _localize(index: pd.DatetimeIndex, naive_tz: str) -> pd.DatetimeIndex:
    if index.tz is not None:
        return index.tz_convert("UTC")
    return localize_naive(index, naive_tz)


def _from_datetime_index(index: pd.DatetimeIndex, naive_tz: str) -> np.ndarray:
    return _localize(index, naive_tz).as_unit("ns").asi8


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, np.datetime64)


def _refuse_numbers(example: Any) -> None:
    """pandas reads a number as nanoseconds since 1970, so epoch seconds (or
    milliseconds) came out as instants in January 1970, and every working time
    measured between them as a fraction of a second. Which unit a number counts
    is the caller's to say."""
    raise TypeError(
        f"{example!r} is a number, not an instant: its unit (seconds, milliseconds, ... "
        "since 1970) is unknown; convert it first, e.g. pandas.to_datetime(x, unit='s', "
        "utc=True)"
    )


def _from_objects(values: pd.Series, naive_tz: str) -> np.ndarray:
    """Parse an object column mixing strings, datetimes, Timestamps and missing values."""
    out = np.full(len(values), NAT_NS, dtype=np.int64)
    missing = values.isna().to_numpy()
    is_str = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    strings = values[is_str & ~missing].astype(str).str.strip()
    if len(strings):
        aware = strings.str.contains(OFFSET_SUFFIX, regex=True).to_numpy()
        strings, late = end_of_day(strings)
        day = pd.to_timedelta(np.where(late, NS_PER_DAY, 0))
        positions = np.flatnonzero(is_str & ~missing)
        if aware.any():
            parsed = pd.to_datetime(utc_suffix_as_z(strings[aware]), utc=True, format="ISO8601")
            parsed = pd.DatetimeIndex(parsed).as_unit("ns") + day[aware]
            out[positions[aware]] = floor_us(parsed.asi8)
        if (~aware).any():
            parsed = pd.DatetimeIndex(pd.to_datetime(strings[~aware], format="ISO8601"))
            parsed = parsed.as_unit("ns") + day[~aware]
            out[positions[~aware]] = floor_us(_from_datetime_index(parsed, naive_tz))
    others = ~is_str & ~missing
    if others.any():
        objs = values[others]
        # Looked for among the values that are no string only: a column of text
        # (every export's) is not read a second time for them.
        number = objs.map(_is_number).to_numpy(dtype=bool)
        if number.any():
            _refuse_numbers(objs[number].iloc[0])
        tz_aware = objs.map(lambda v: getattr(v, "tzinfo", None) is not None).to_numpy(bool)
        positions = np.flatnonzero(others)
        if tz_aware.any():
            parsed = pd.to_datetime(objs[tz_aware], utc=True)
            out[positions[tz_aware]] = pd.DatetimeIndex(parsed).as_unit("ns").asi8
        if (~tz_aware).any():
            parsed = pd.DatetimeIndex(pd.to_datetime(objs[~tz_aware]))
            out[positions[~tz_aware]] = _from_datetime_index(parsed, naive_tz)
    return out


def to_instants(values: Any, naive_tz: str) -> Instants:
    """Read scalars or array-likes of instants into UTC int64 nanoseconds.

    Raises `ValueError` (from pandas) when a string is not a timestamp, and
    `TypeError` for a number (NaN aside, which is missing): its unit is unknown.
    """
    if _is_scalar(values):
        if values is None or (not isinstance(values, str) and pd.isna(values)):
            ns = np.array([NAT_NS], dtype=np.int64)
        elif _is_number(values):
            _refuse_numbers(values)
        else:
            # Text is read as a column's text is (24:00, digits below the microsecond).
            value = values if isinstance(values, str) else pd.Timestamp(values)
            ns = _from_objects(pd.Series([value], dtype=object), naive_tz)
        return Instants(ns, ns == NAT_NS, scalar=True, index=None)

    index = values.index if isinstance(values, pd.Series) else None
    if (
        isinstance(values, pd.Series | pd.Index)
        and isinstance(values.dtype, pd.DatetimeTZDtype | np.dtype)
        and pd.api.types.is_datetime64_any_dtype(values.dtype)
    ):
        ns = _from_datetime_index(pd.DatetimeIndex(values), naive_tz)
    else:
        arr = np.asarray(values)
        if arr.dtype.kind in "biufc":
            given = arr.ravel()
            given = given[~np.isnan(given)] if arr.dtype.kind in "fc" else given
            if len(given):  # NaN alone is missing, as in an object column
                _refuse_numbers(given[0].item())
            arr = arr.astype(object)
        if np.issubdtype(arr.dtype, np.datetime64):
            ns = _from_datetime_index(pd.DatetimeIndex(arr.ravel()), naive_tz)
        else:
            ns = _from_objects(pd.Series(arr.ravel(), dtype=object), naive_tz)
    return Instants(ns, ns == NAT_NS, scalar=False, index=index)


def to_timestamps(ns: np.ndarray, tz: str) -> pd.DatetimeIndex:
    """UTC int64 nanoseconds (NAT_NS = missing) -> tz-aware DatetimeIndex in `tz`."""
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)


@functools.cache
def _zone_names() -> frozenset[str]:
    # The system's zone files include 'localtime' (and on some systems
    # 'posixrules'), which are no IANA names and which DuckDB does not know.
    with duckdb.connect() as con:
        icu = {name for (name,) in con.execute("SELECT name FROM pg_timezone_names()").fetchall()}
    return frozenset(zoneinfo.available_timezones() & icu)


def is_zone_name(name: object) -> bool:
    """An IANA time zone name that both zoneinfo (pandas) and DuckDB's ICU know.
    zoneinfo and pandas also take '+01:00', 'dateutil/...' or 'localtime', which
    DuckDB then refuses mid-query: every zone a user names (calendar, policy,
    --source-tz, a mapping's source_tz) is checked against this one list."""
    return isinstance(name, str) and name in _zone_names()


def iso_date(value: Any) -> dt.date | None:
    """A TOML date or a 'YYYY-MM-DD' string as a date; None for anything else: a
    date-time (which part of the day?), and the other forms `fromisoformat` reads
    (20261224, 2026-W52-4), which the docs do not promise."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return None
        return day if day.isoformat() == value else None
    return None
