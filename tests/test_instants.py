"""Reading instants: a naive reading means the same instant in the engine, on the
command line and in the loader's SQL, including around DST transitions."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.evaluate import evaluate, month_end_as_of
from pipeline.instants import iso_date, local_bounds, localize_naive, to_instants
from pipeline.warehouse import read_sql
from tests.evaluation_fixtures import build, plan, ticket

# Zones with one-hour and half-hour (Lord Howe) shifts, north and south, and one
# that changed its rules (Sao Paulo dropped summer time in 2019).
ZONES = (
    "Europe/Amsterdam",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
)


YEARS = range(2015, 2031)


def _transitions(zone: str) -> list[pd.Timestamp]:
    """Wall-clock times near each change of the zone's UTC offset in YEARS."""
    hours = pd.date_range(f"{YEARS[0]}-01-01", f"{YEARS[-1] + 1}-01-01", freq="h", tz="UTC")
    wall = hours.tz_convert(zone).tz_localize(None)
    offsets = (wall - hours.tz_localize(None)).asi8
    changed = np.flatnonzero(np.diff(offsets) != 0) + 1
    return list(wall[changed])


TRANSITIONS = [(zone, at) for zone in ZONES for at in _transitions(zone)]


@pytest.fixture(scope="module")
def sql() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(read_sql("load_macros.sql"))
    return con


def _loader_ns(con: duckdb.DuckDBPyConnection, text: str, zone: str) -> int:
    return con.execute("SELECT epoch_ns(sla_ts(?, ?))", [text, zone]).fetchone()[0]


def test_transitions_found() -> None:
    # Two a year where the zone keeps summer time; none in Sao Paulo after 2019.
    amsterdam = [at for zone, at in TRANSITIONS if zone == "Europe/Amsterdam"]
    assert len(amsterdam) == 2 * len(YEARS)
    assert pd.Timestamp("2026-10-25 02:00") in amsterdam
    assert max(at for zone, at in TRANSITIONS if zone == "America/Sao_Paulo").year == 2019


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        # The clocks go back at 03:00 summer time: 02:30 happens twice; standard time.
        ("2026-10-25 02:30:00", "2026-10-25T01:30Z"),
        ("2026-10-25 01:59:59", "2026-10-24T23:59:59Z"),
        ("2026-10-25 03:00:00", "2026-10-25T02:00Z"),
        # They go forward at 02:00: 02:30 never happens; read at +01:00, i.e. 03:30 CEST.
        ("2026-03-29 02:30:00", "2026-03-29T01:30Z"),
        ("2026-03-29 03:00:00", "2026-03-29T01:00Z"),
    ],
)
def test_naive_readings_around_dst_in_amsterdam(sql, text: str, utc: str) -> None:
    expected = pd.Timestamp(utc).value
    assert to_instants(text, "Europe/Amsterdam").ns[0] == expected
    assert _loader_ns(sql, text, "Europe/Amsterdam") == expected


@settings(max_examples=300, deadline=None)
@given(
    near=st.sampled_from(TRANSITIONS),
    seconds=st.integers(-3 * 3600, 3 * 3600),
    form=st.sampled_from(["str", "datetime64[s]", "datetime64[us]", "series[ms]", "datetime"]),
)
def test_engine_reads_naive_like_the_loader(sql, near, seconds: int, form: str) -> None:
    zone, at = near
    wall = at + pd.Timedelta(seconds=seconds)
    text = wall.strftime("%Y-%m-%d %H:%M:%S")
    value = {
        "str": text,
        "datetime64[s]": np.array([wall.to_datetime64()], dtype="datetime64[s]"),
        "datetime64[us]": np.array([wall.to_datetime64()], dtype="datetime64[us]"),
        "series[ms]": pd.Series([wall]).astype("datetime64[ms]"),
        "datetime": wall.to_pydatetime(),
    }[form]
    assert int(to_instants(value, zone).ns[0]) == _loader_ns(sql, text, zone)


def test_localize_naive_keeps_missing_and_any_unit() -> None:
    index = pd.DatetimeIndex(["2026-03-29 02:30", None, "2026-10-25 02:30"]).as_unit("s")
    out = localize_naive(index, "Europe/Amsterdam")
    assert str(out.tz) == "UTC"
    assert list(out[[0, 2]]) == [
        pd.Timestamp("2026-03-29T01:30Z"),
        pd.Timestamp("2026-10-25T01:30Z"),
    ]
    assert pd.isna(out[1])


def test_as_of_in_the_repeated_or_skipped_hour() -> None:
    # Used to end in a pandas error ("Cannot infer dst time"); now read like the loader.
    con = build(
        [ticket("T1", "C1", "2026-03-02 10:00")], [], [plan("C1", "business", "2026-01-01")]
    )
    for text, utc in (
        ("2026-10-25T02:30", dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)),
        ("2026-03-29T02:30", dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)),
    ):
        run = evaluate(con, as_of=text, store=False)
        assert run.as_of == pd.Timestamp(utc)


@pytest.mark.parametrize(
    ("month", "zone", "next_start"),
    [
        # Cairo's clocks jumped from midnight to 01:00 on 1 August 2014: the month
        # began at 01:00 summer time (used to end in a pandas error).
        ("2014-07", "Africa/Cairo", "2014-07-31T22:00Z"),
        # St. John's fell back at 00:01 on 1 November 2009, so midnight came twice:
        # November began at the first (00:00 summer time, UTC-2:30).
        ("2009-10", "America/St_Johns", "2009-11-01T02:30Z"),
        ("2026-10", "Europe/Amsterdam", "2026-10-31T23:00Z"),
    ],
)
def test_a_month_ends_at_the_first_instant_of_the_next(month, zone, next_start) -> None:
    assert month_end_as_of(month, zone) == pd.Timestamp(next_start)


def test_bounds_and_readings_differ_only_where_the_clocks_move() -> None:
    walls = pd.DatetimeIndex(["2026-03-29 02:30", "2026-10-25 02:30", "2026-06-01 12:00"])
    tz = "Europe/Amsterdam"
    starts = local_bounds(walls, tz, first_occurrence=True)
    ends = local_bounds(walls, tz, first_occurrence=False)
    readings = localize_naive(walls, tz).asi8
    ts = pd.Timestamp
    # In the gap a bound is the jump (03:00 CEST), a reading takes the old offset.
    assert starts[0] == ends[0] == ts("2026-03-29T01:00Z").value
    assert readings[0] == ts("2026-03-29T01:30Z").value
    # Twice: a start takes the first 02:30, an end and a reading the second.
    assert starts[1] == ts("2026-10-25T00:30Z").value
    assert ends[1] == readings[1] == ts("2026-10-25T01:30Z").value
    assert starts[2] == ends[2] == readings[2] == ts("2026-06-01T10:00Z").value


def test_a_utc_suffix_is_an_offset_as_the_loader_reads_it() -> None:
    """'... UTC' is an instant, as load_macros.sql's sla_reading takes it, not a
    naive reading in the calendar's zone."""
    from pipeline.instants import to_instants

    got = to_instants(["2026-10-26 09:00:00 UTC", "2026-10-26T09:00:00UTC"], "Europe/Amsterdam")
    assert got.ns.tolist() == [pd.Timestamp("2026-10-26 09:00", tz="UTC").as_unit("ns").value] * 2


def test_text_is_read_as_the_loader_reads_it(sql) -> None:
    """A date alone is a reading in the zone, not a time at offset -26 hours; an
    offset no clock has is no timestamp; the rest as the loader's sla_ts."""
    from pipeline.instants import read_text, to_instants

    zone = "Europe/Amsterdam"
    assert to_instants(["2026-10-26"], zone).ns[0] == _loader_ns(sql, "2026-10-26", zone)
    texts = [
        "2026-10-26",
        "2026-10-27 10:30:00.5",
        "2026-10-27T09:45:00Z",
        "2026-10-27 10:00:00+0100",
        "2026-10-27 10:00:00 +0100",
        "2026-10-27 10:00:00 Z",
        "2026-10-27 10:00:00 UTC",
        "2026-10-27 10:00:00+01:75",
        "2026-10-27 10:00:00+19:00",
        "yesterday",
        None,
    ]
    instants, naive, _ = read_text(pd.Series(texts), zone)
    expected = [_loader_ns(sql, text, zone) for text in texts]
    assert [None if pd.isna(i) else i.value for i in instants] == expected
    assert naive.tolist() == [True, True] + [False] * 9
    assert read_text(pd.Series(texts), None)[0][:2].isna().all()  # no zone, no instant


# ISO 8601's end of a day and .NET's seven digits of a second, in every form the
# loader's SQL reads, and the hour-24 forms it refuses.
END_OF_DAY_AND_FRACTIONS = [
    "2026-10-26T24:00:00Z",
    "2026-10-26T24:00Z",
    "2026-10-26T24:00:00.000+01:00",
    "2026-10-26 24:00:00 +0100",
    "2026-10-26 24:00:00 UTC",
    "2026-12-31T24:00:00-05:00",
    "2026-10-24T24:00",  # a naive reading: the next midnight in the zone
    "2026-10-26T24:00:00.5Z",
    "2026-10-26T24:00:01Z",
    "2026-10-26T12:00:00.1234567Z",
    "2026-10-26T12:00:00.9999999Z",
    "2026-10-26 12:00:00.0000009",
    "1969-12-31T23:59:59.9999999Z",
]


def test_the_end_of_a_day_and_a_fraction_below_the_microsecond_as_the_loader(sql) -> None:
    """24:00 is the next midnight, digits below the microsecond are cut off, as the
    loader's SQL reads text: the Python readers refused 24:00 and kept the digits
    (the instant 0.1234567 s was 100 ns after the one stored)."""
    from pipeline.instants import read_instant, read_text, to_instants

    zone = "Europe/Amsterdam"
    expected = [_loader_ns(sql, text, zone) for text in END_OF_DAY_AND_FRACTIONS]
    assert expected[:3] == [pd.Timestamp("2026-10-27T00:00Z").value] * 2 + [
        pd.Timestamp("2026-10-26T23:00Z").value
    ]
    assert expected[6] == pd.Timestamp("2026-10-24T22:00Z").value  # summer time
    assert expected[7:9] == [None, None]
    assert expected[9] == pd.Timestamp("2026-10-26T12:00:00.123456Z").value
    assert expected[12] == pd.Timestamp("1969-12-31T23:59:59.999999Z").value
    instants, _, _ = read_text(pd.Series(END_OF_DAY_AND_FRACTIONS), zone)
    assert [None if pd.isna(i) else i.value for i in instants] == expected
    readable = [(t, ns) for t, ns in zip(END_OF_DAY_AND_FRACTIONS, expected, strict=True) if ns]
    assert to_instants([t for t, _ in readable], zone).ns.tolist() == [ns for _, ns in readable]
    assert [to_instants(t, zone).ns[0] for t, _ in readable] == [ns for _, ns in readable]
    assert read_instant("2026-10-31T24:00") == pd.Timestamp("2026-11-01T00:00")
    assert read_instant("2026-11-01T00:00:00.1234567Z") == pd.Timestamp(
        "2026-11-01T00:00:00.123456Z"
    )
    with pytest.raises(ValueError):
        read_instant("2026-10-26T24:00:00.5Z")


def test_every_zone_name_accepted_works_in_pandas_and_duckdb() -> None:
    from pipeline.instants import _zone_names, is_zone_name

    assert not is_zone_name("localtime") and is_zone_name("Europe/Amsterdam")
    con = duckdb.connect()
    for zone in sorted(_zone_names()):
        con.execute("SELECT timezone(?, TIMESTAMP '2026-10-25 02:30')", [zone]).fetchall()
        localize_naive(pd.DatetimeIndex(["2026-10-25 02:30"]), zone)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-24", dt.date(2026, 12, 24)),
        (dt.date(2026, 12, 24), dt.date(2026, 12, 24)),
        ("20261224", None),  # fromisoformat reads it; the docs promise YYYY-MM-DD
        ("2026-W52-4", None),
        ("2026-12-24T10:00", None),
        (dt.datetime(2026, 12, 24, 10), None),  # which part of the day?
        (20261224, None),
        (None, None),
    ],
)
def test_iso_date_takes_only_the_documented_form(value, expected) -> None:
    assert iso_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        1792000000,  # epoch seconds
        np.int64(1792000000),
        1792000000.5,
        np.array([1792000000, 1792003600]),
        pd.Series([1792000000000, 1792003600000]),  # epoch milliseconds
        pd.Series([1792000000, None], dtype="Int64"),
        pd.Series(["2026-10-26T09:00Z", 1792000000], dtype=object),
        True,
    ],
    ids=["int", "np.int64", "float", "array", "series_ms", "nullable", "mixed", "bool"],
)
def test_numbers_are_refused_not_read_as_nanoseconds(value) -> None:
    """pandas reads a number as nanoseconds since 1970: epoch seconds became an
    instant in January 1970 and an hour between two of them 3.6 microseconds."""
    from pipeline.calendar import Calendar

    with pytest.raises(TypeError, match=r"unit .* is unknown"):
        to_instants(value, "Europe/Amsterdam")
    with pytest.raises(TypeError, match="is a number, not an instant"):
        Calendar.builtin("always").working_seconds(value, "2026-10-26T10:00Z")


def test_nan_alone_is_still_missing() -> None:
    got = to_instants(np.array([np.nan, np.nan]), "Europe/Amsterdam")
    assert got.missing.tolist() == [True, True]
    assert to_instants(float("nan"), "Europe/Amsterdam").missing.tolist() == [True]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_every_resolution_gives_the_same_nanoseconds(unit: str) -> None:
    """pandas 3 keeps datetime64[s]/[ms]/[us]: each shape the engine takes, tz-aware
    in the zone or naive readings (around both DST switches), in each unit."""
    walls = ["2026-03-29 02:30:00", "2026-10-25 02:30:00", "2026-10-26 09:15:07"]
    expected = [
        pd.Timestamp("2026-03-29T01:30Z").value,
        pd.Timestamp("2026-10-25T01:30Z").value,
        pd.Timestamp("2026-10-26T08:15:07Z").value,
    ]
    zone = "Europe/Amsterdam"
    naive = pd.DatetimeIndex(walls).as_unit(unit)
    aware = pd.DatetimeIndex(expected).tz_localize("UTC").tz_convert(zone).as_unit(unit)
    shapes = {
        "naive index": naive,
        "naive series": pd.Series(naive),
        "naive numpy": naive.to_numpy(),
        "aware index": aware,
        "aware series": pd.Series(aware),
        "aware objects": pd.Series(list(aware), dtype=object),
    }
    for shape, value in shapes.items():
        assert to_instants(value, zone).ns.tolist() == expected, shape
    scalar = aware[2]
    assert scalar.unit == unit
    assert to_instants(scalar, zone).ns.tolist() == expected[2:]
    bounds = local_bounds(naive[2:], zone, first_occurrence=True)
    assert bounds.tolist() == expected[2:]


def test_read_text_gives_no_instant_beyond_the_nanosecond_years() -> None:
    """9999-12-31 overflowed int64 nanoseconds with an exception; such a value has
    no instant, and `read_text` tells it from text that is no time."""
    from pipeline.instants import read_text

    text = pd.Series(
        [
            "9999-12-31T00:00:00Z",
            "1500-01-01 00:00",
            "2262-05-01T00:00:00+01:00",
            "2026-10-23 17:00:00",
            "yesterday",
            None,
        ],
        dtype=object,
    )
    instants, naive, beyond = read_text(text, "Europe/Amsterdam")
    assert instants.isna().tolist() == [True, True, True, False, True, True]
    assert instants.iloc[3] == pd.Timestamp("2026-10-23T15:00:00Z")
    assert naive.tolist() == [False, True, False, True, False, False]
    assert beyond.tolist() == [True, True, True, False, False, False]
    # Without a zone a naive reading has no instant, but is still told apart.
    assert read_text(text, None)[2].tolist() == [True, True, True, False, False, False]
