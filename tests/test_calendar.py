"""The working-time engine: worked examples, edge cases, errors, and properties
checked against the day-by-day reference in `calendar_reference.py`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.calendar import Calendar
from pipeline.errors import CalendarError, WorkingTimeError
from tests import calendar_reference as ref

H = 3600.0
OFFICE_HOURS = {d: [["09:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")}
OFFICE = {
    "timezone": "Europe/Amsterdam",
    "weekly": {**OFFICE_HOURS, "sat": [], "sun": []},
    "holidays": {"country": "NL", "exclude": ["Good Friday"]},
}
LUNCH = {
    "timezone": "Europe/Amsterdam",
    "weekly": {
        **{d: [["08:30", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu")},
        "fri": [["08:30", "12:00"]],
        "sat": [["10:00", "14:00"]],
    },
    "holidays": {"country": "NL"},
    "closed_dates": ["2026-12-24"],
    "closures": [["2026-12-31T12:00", "2026-12-31T17:30"]],
    "openings": [["2026-06-13T09:00", "2026-06-13T16:00"]],
}
ALWAYS_LOCAL = {
    "timezone": "Europe/Amsterdam",
    "weekly": {d: [["00:00", "24:00"]] for d in ref.WEEKDAYS},
}
NEW_YORK = {
    "timezone": "America/New_York",
    "weekly": {
        "mon": [["07:00", "19:00"]],
        "wed": [["00:00", "06:00"], ["22:00", "24:00"]],
        "fri": [["09:00", "17:00"]],
        # Starts and ends inside the hour that happens twice when the clocks go back
        # (the first Sunday of November): from the first 01:15 to the second 01:45.
        "sun": [["01:15", "01:45"], ["12:00", "24:00"]],
    },
    "holidays": {"country": "US"},
}
SPECS = {"office": OFFICE, "lunch": LUNCH, "always_local": ALWAYS_LOCAL, "new_york": NEW_YORK}
CALENDARS = {name: Calendar.from_dict(spec, name=name) for name, spec in SPECS.items()}


def ams(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Europe/Amsterdam")


# ----------------------------------------------------------------- worked examples


class TestOfficeExamples:
    cal = Calendar.builtin("office")

    def test_friday_evening_ticket_waits_for_monday(self) -> None:
        # Created Fri 23 Oct 2026 17:00: half an hour on Friday, then Monday.
        assert self.cal.working_seconds("2026-10-23T17:00", "2026-10-26T10:00") == 1.5 * H
        deadline = self.cal.add_working_seconds(ams("2026-10-23T17:00"), 8 * H)
        assert deadline == ams("2026-10-26T16:30")

    def test_ticket_created_after_hours_counts_from_next_opening(self) -> None:
        assert self.cal.working_seconds("2026-10-23T20:00", "2026-10-26T09:00") == 0
        assert self.cal.add_working_seconds("2026-10-23T20:00", 1) == ams("2026-10-26T09:00:01")

    def test_deadline_on_closing_time_is_closing_time(self) -> None:
        deadline = self.cal.add_working_seconds(ams("2026-10-23T17:00"), 1800)
        assert deadline == ams("2026-10-23T17:30")

    def test_ticket_over_easter(self) -> None:
        # Thu 2 Apr 12:00 -> Wed 8 Apr 12:00, 2026: Good Friday open, Easter Monday closed.
        seconds = self.cal.working_seconds("2026-04-02T12:00", "2026-04-08T12:00")
        assert seconds == (5.5 + 8.5 + 8.5 + 3) * H
        assert self.cal.add_working_seconds("2026-04-03T17:00", 3 * 8.5 * H) == ams(
            "2026-04-09T17:00"
        )

    def test_kings_day_and_liberation_day_lustrum(self) -> None:
        assert self.cal.working_seconds("2026-04-27T00:00", "2026-04-28T00:00") == 0
        assert self.cal.working_seconds("2025-05-05T00:00", "2025-05-06T00:00") == 0
        # Liberation Day is a public holiday in the package only in lustrum years.
        assert self.cal.working_seconds("2026-05-05T00:00", "2026-05-06T00:00") == 8.5 * H

    def test_across_october_dst_change(self) -> None:
        # Fri 23 Oct 16:00 CEST -> Mon 26 Oct 10:00 CET: 1.5 h + 1 h, whatever the offset.
        start = pd.Timestamp("2026-10-23T14:00Z")
        end = pd.Timestamp("2026-10-26T09:00Z")
        assert self.cal.working_seconds(start, end) == 2.5 * H

    def test_holidays_named(self) -> None:
        named = self.cal.holidays_between(dt.date(2026, 4, 1), dt.date(2026, 4, 30))
        assert named == [
            (dt.date(2026, 4, 5), "Easter Sunday"),
            (dt.date(2026, 4, 6), "Easter Monday"),
            (dt.date(2026, 4, 27), "King's Day"),
        ]

    def test_holidays_named_in_the_readers_language(self) -> None:
        """Found by QA: the Dutch report named the days closed in English."""
        named = self.cal.holidays_between(dt.date(2026, 4, 1), dt.date(2026, 4, 30), language="nl")
        assert [n for _, n in named] == ["Eerste paasdag", "Tweede paasdag", "Koningsdag"]
        # A language the package lacks for the country: English, not an error.
        named = self.cal.holidays_between(dt.date(2026, 4, 27), dt.date(2026, 4, 27), language="de")
        assert named == [(dt.date(2026, 4, 27), "King's Day")]

    def test_working_day_is_eight_and_a_half_hours(self) -> None:
        assert self.cal.working_day_seconds == 8.5 * H

    def test_open_spans_for_audit(self) -> None:
        spans = self.cal.open_spans("2026-10-23T17:00", "2026-10-26T10:00")
        assert list(spans["seconds"]) == [1800.0, 3600.0]
        assert spans["start"].iloc[1] == ams("2026-10-26T09:00")


class TestAlways:
    cal = Calendar.builtin("always")

    def test_dst_days_have_their_true_length_in_local_24_7(self) -> None:
        local = CALENDARS["always_local"]
        assert local.working_seconds("2026-03-29", "2026-03-30") == 23 * H
        assert local.working_seconds("2026-10-25", "2026-10-26") == 25 * H

    def test_outage_call_at_three_in_the_morning(self) -> None:
        assert self.cal.working_seconds("2026-10-25T03:00+01:00", "2026-10-25T05:30+01:00") == (
            2.5 * H
        )
        assert self.cal.add_working_seconds("2026-10-24T23:00Z", 4 * H) == pd.Timestamp(
            "2026-10-25T03:00Z"
        )


class TestShapesAndMissing:
    cal = Calendar.builtin("office")

    def test_negative_when_reversed(self) -> None:
        assert self.cal.working_seconds("2026-10-26T10:00", "2026-10-23T17:00") == -1.5 * H

    def test_nat_in_nan_out(self) -> None:
        out = self.cal.working_seconds(
            pd.Series([pd.Timestamp("2026-10-26T09:00Z"), pd.NaT]), "2026-10-26T12:00Z"
        )
        assert out[0] == 3 * H and np.isnan(out[1])
        assert np.isnan(self.cal.working_seconds(None, "2026-10-26"))
        deadlines = self.cal.add_working_seconds(["2026-10-26T09:00", None], [3600, 60])
        assert deadlines[0] == ams("2026-10-26T10:00") and pd.isna(deadlines[1])
        assert pd.isna(self.cal.add_working_seconds("2026-10-26T09:00", float("nan")))

    @pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
    def test_every_datetime64_resolution(self, unit: str) -> None:
        starts = np.array(["2026-10-23T15:00", "2026-04-02T10:00"], dtype=f"datetime64[{unit}]")
        ends = np.array(["2026-10-26T09:00", "2026-04-07T10:00"], dtype=f"datetime64[{unit}]")
        # numpy datetime64 is naive: read in the stated zone.
        out = self.cal.working_seconds(starts, ends, naive_tz="UTC")
        assert list(out) == [1.5 * H, (7.5 + 8.5 + 1) * H]
        series = pd.Series(starts).dt.tz_localize("UTC")
        assert list(self.cal.working_seconds(series, pd.Series(ends).dt.tz_localize("UTC"))) == (
            list(out)
        )

    def test_mixed_offsets_and_naive_strings(self) -> None:
        starts = ["2026-10-26T09:00+01:00", "2026-10-26T08:00Z", "2026-10-26T09:00"]
        out = self.cal.working_seconds(starts, "2026-10-26T11:00+01:00")
        assert list(out) == [2 * H, 2 * H, 2 * H]

    def test_datetime_objects_and_index(self) -> None:
        start = dt.datetime(2026, 10, 26, 8, 0, tzinfo=dt.UTC)
        assert self.cal.working_seconds(start, dt.datetime(2026, 10, 26, 11, 0)) == 2 * H
        idx = pd.DatetimeIndex(["2026-10-26T09:00", "2026-10-27T09:00"], tz="Europe/Amsterdam")
        deadlines = self.cal.add_working_seconds(idx, 8.5 * H)
        assert list(deadlines) == [ams("2026-10-26T17:30"), ams("2026-10-27T17:30")]

    def test_series_keeps_its_index(self) -> None:
        s = pd.Series(pd.to_datetime(["2026-10-26T09:00Z"]), index=["T-1"])
        assert self.cal.add_working_seconds(s, 60).index.tolist() == ["T-1"]

    def test_negative_seconds_go_backwards(self) -> None:
        assert self.cal.add_working_seconds("2026-10-26T12:00", -H) == ams("2026-10-26T11:00")
        # The earliest instant one hour back from Monday 10:00 is Friday's closing time.
        assert self.cal.add_working_seconds("2026-10-26T10:00", -H) == ams("2026-10-23T17:30")

    def test_zero_seconds_is_the_start(self) -> None:
        assert self.cal.add_working_seconds("2026-10-24T12:00", 0) == ams("2026-10-24T12:00")

    def test_far_deadline_grows_the_precomputed_span(self) -> None:
        cal = Calendar.builtin("office")
        deadline = cal.add_working_seconds("2026-12-30T09:00", 400 * 8.5 * H)
        assert cal.working_seconds(ams("2026-12-30T09:00"), deadline) == 400 * 8.5 * H


class TestCalendarParts:
    cal = CALENDARS["lunch"]

    def test_lunch_break(self) -> None:
        assert self.cal.working_seconds("2026-10-26T11:00", "2026-10-26T14:00") == 2 * H

    def test_closed_date_closure_and_opening(self) -> None:
        assert self.cal.working_seconds("2026-12-24T00:00", "2026-12-25T00:00") == 0
        assert self.cal.working_seconds("2026-12-31T00:00", "2027-01-01T00:00") == 3.5 * H
        # Saturday 13 June 2026: weekly 10-14, plus the release opening 09-16.
        assert self.cal.working_seconds("2026-06-13T00:00", "2026-06-14T00:00") == 7 * H

    def test_exceptions_named_for_audits(self) -> None:
        named = self.cal.exceptions_between(dt.date(2026, 12, 30), dt.date(2026, 12, 31))
        assert named == [("2026-12-31T12:00:00 .. 2026-12-31T17:30:00", "closure")]
        assert self.cal.holidays_between(dt.date(2026, 12, 24), dt.date(2026, 12, 24)) == [
            (dt.date(2026, 12, 24), "closed date")
        ]

    def test_interval_in_dst_gap_shifts_forward(self) -> None:
        cal = Calendar.from_dict(
            {"timezone": "Europe/Amsterdam", "weekly": {"sun": [["02:30", "04:00"]]}}
        )
        # 29 March 2026: 02:30 does not exist; the shift opens at 03:00 CEST.
        assert cal.working_seconds("2026-03-29T00:00", "2026-03-30T00:00") == 1 * H
        # 25 October 2026: 02:30 happens twice; open from the first 02:30 to 04:00 CET.
        assert cal.working_seconds("2026-10-25T00:00", "2026-10-26T00:00") == 2.5 * H

    def test_interval_ending_in_the_repeated_hour_ends_at_its_second_occurrence(self) -> None:
        cal = Calendar.from_dict(
            {"timezone": "Europe/Amsterdam", "weekly": {"sun": [["01:00", "02:30"]]}}
        )
        # 25 October 2026: from 01:00 CEST (23:00 UTC) through the first 02:30 and the
        # repeated hour to the second 02:30 (CET, 01:30 UTC): 2.5 h, every instant whose
        # reading lies in 01:00-02:30. Ending at the first 02:30 would give 1.5 h.
        assert cal.working_seconds("2026-10-25T00:00", "2026-10-26T00:00") == 2.5 * H
        assert cal.add_working_seconds("2026-10-25T01:00", 2.5 * H) == pd.Timestamp(
            "2026-10-25T01:30", tz="UTC"
        )
        # 29 March 2026: 02:30 does not exist; the span ends at 03:00 CEST, 1 h after 01:00 CET.
        assert cal.working_seconds("2026-03-29T00:00", "2026-03-30T00:00") == 1 * H


class TestFromToml:
    def test_named_calendar_from_file(self, tmp_path) -> None:
        path = tmp_path / "cal.toml"
        path.write_text(
            '[calendars.office]\ntimezone = "Europe/Amsterdam"\n'
            'weekly = { mon = [["09:00", "17:30"]], tue = [["09:00", "17:30"]] }\n'
            'holidays = { country = "NL", exclude = ["Good Friday"] }\n'
            'closed_dates = ["2026-12-24"]\n'
        )
        cal = Calendar.from_toml(path, "office")
        assert cal.working_seconds("2026-10-26", "2026-10-29") == 17 * H

    def test_unknown_name(self, tmp_path) -> None:
        path = tmp_path / "cal.toml"
        path.write_text('[calendars.office]\ntimezone = "UTC"\nweekly = {}\n')
        with pytest.raises(CalendarError, match=r"'support'.*defined: office"):
            Calendar.from_toml(path, "support")


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "field", "message"),
        [
            ({"timezone": "Europe/Amsterdamm"}, "timezone", "unknown time zone"),
            ({"weekly": {"mon": [["17:30", "09:00"]]}}, "weekly.mon[0]", "ends before it starts"),
            (
                {"weekly": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}},
                "weekly.mon",
                "overlap",
            ),
            ({"weekly": {"mon": [["9h", "17:00"]]}}, "weekly.mon[0]", "malformed time"),
            ({"weekly": {"mon": [["24:00", "24:00"]]}}, "weekly.mon[0]", "'24:00' can only end"),
            ({"weekly": {"mon": [["09:00", "25:00"]]}}, "weekly.mon[0]", "malformed time"),
            ({"weekly": {"monday": []}}, "weekly.monday", "unknown day"),
            ({"holidays": {"country": "XX"}}, "holidays.country", "unknown holiday country"),
            (
                {"holidays": {"country": "NL", "exclude": ["Good Fryday"]}},
                "holidays.exclude",
                "unknown holiday name 'Good Fryday'",
            ),
            (
                {"closures": [["2026-12-31T17:30", "2026-12-31T12:00"]]},
                "closures[0]",
                "ends before it starts",
            ),
            ({"openings": [["2026-13-01T09:00", "2026-13-01T12:00"]]}, "openings[0]", "malformed"),
            # Opening hours and extra spans are read as the same [start, end] pairs.
            ({"weekly": {"mon": "09:00-17:30"}}, "weekly.mon", "expected a list of [start, end]"),
            ({"closures": "2026-12-31"}, "closures", "expected a list of [start, end]"),
            ({"weekly": {"mon": [["09:00"]]}}, "weekly.mon[0]", "expected [start, end], got"),
            ({"openings": [["2026-12-31T09:00"]]}, "openings[0]", "expected [start, end], got"),
            ({"closed_dates": ["24-12-2026"]}, "closed_dates[0]", "malformed date"),
            # Forms that used to load as some date: a number, a week date, a date-time.
            ({"closed_dates": [20261224]}, "closed_dates[0]", "malformed date 20261224"),
            ({"closed_dates": ["2026-W52-4"]}, "closed_dates[0]", "malformed date"),
            (
                {"closed_dates": [dt.datetime(2026, 12, 24, 12)]},
                "closed_dates[0]",
                "malformed date",
            ),
            # pandas read "10h" as 10:00.
            ({"openings": [["2026-06-13 10h", "2026-06-13T13:00"]]}, "openings[0]", "malformed"),
            (
                {"closures": [["2026-12-31T12:00+01:00", "2026-12-31T17:30"]]},
                "closures[0]",
                "give local time without an offset",
            ),
            ({"description": 5}, "description", "expected a string, got 5"),
            (
                {"holidays": {"country": "DE", "subdiv": "XX"}},
                "holidays.subdiv",
                "unknown subdivision 'XX' of DE (known: BB, BE, BW, BY",
            ),
            (
                {"holidays": {"country": "NL", "subdiv": 5}},
                "holidays.subdiv",
                "expected a string like 'BY', got 5",
            ),
            ({"colour": "blue"}, "colour", "unknown setting"),
            # A near miss says which setting was meant.
            ({"timezon": "UTC"}, "timezon", "unknown setting (did you mean 'timezone'?)"),
            (
                {"holidays": {"country": "NL", "exlude": []}},
                "holidays.exlude",
                "unknown setting (did you mean 'exclude'?)",
            ),
            # Dates beyond the years the pipeline counts in: a span until 2926 (for
            # 2026) stopped every evaluation with an out-of-bounds traceback.
            (
                {"openings": [["2026-11-11T10:00", "2926-11-11T14:00"]]},
                "openings[0]",
                "'2926-11-11T14:00' is outside the dates a calendar may name, 1900-01-01 to",
            ),
            (
                {"closures": [["1066-10-14T09:00", "2026-10-14T12:00"]]},
                "closures[0]",
                "'1066-10-14T09:00' is outside the dates",
            ),
            ({"closed_dates": ["9999-12-31"]}, "closed_dates[0]", "'9999-12-31' is outside"),
            ({"closed_dates": [dt.date(1899, 12, 31)]}, "closed_dates[0]", "is outside the dates"),
            ({"timezone": "+01:00"}, "timezone", "unknown time zone"),
            ({"weekly": {}}, "weekly", "never open"),
        ],
    )
    def test_clear_error_names_calendar_and_field(self, change, field, message) -> None:
        spec = {**OFFICE, **change}
        with pytest.raises(CalendarError) as info:
            Calendar.from_dict(spec, name="support")
        assert info.value.calendar == "support"
        assert info.value.field == field
        assert message in str(info.value)
        assert "'support'" in str(info.value)

    def test_the_local_forms_the_docs_show_load(self) -> None:
        spec = {
            **OFFICE,
            "closed_dates": ["2026-12-24", dt.date(2026, 12, 28)],
            "closures": [["2026-12-31 12:00", "2026-12-31T17:30:00"]],
            "openings": [[dt.datetime(2026, 6, 13, 9), "2026-06-13T13:00"]],
        }
        cal = Calendar.from_dict(spec)
        assert cal.closed_dates == (dt.date(2026, 12, 24), dt.date(2026, 12, 28))
        assert cal.working_seconds("2026-12-31T00:00", "2027-01-01T00:00") == 3 * H
        assert cal.working_seconds("2026-06-13T00:00", "2026-06-14T00:00") == 4 * H

    def test_a_subdivision_of_a_country_closes_its_own_holidays(self) -> None:
        # 6 January (Epiphany) is a holiday in Bavaria, not in Berlin.
        spec = {**OFFICE, "timezone": "Europe/Berlin"}
        bavaria = Calendar.from_dict({**spec, "holidays": {"country": "DE", "subdiv": "BY"}})
        berlin = Calendar.from_dict({**spec, "holidays": {"country": "DE", "subdiv": "BE"}})
        day = ("2026-01-06T00:00", "2026-01-07T00:00")
        assert (bavaria.working_seconds(*day), berlin.working_seconds(*day)) == (0, 8.5 * H)

    def test_dutch_holiday_name_may_be_excluded(self) -> None:
        spec = {**OFFICE, "holidays": {"country": "NL", "exclude": ["Koningsdag"]}}
        cal = Calendar.from_dict(spec)
        assert cal.working_seconds("2026-04-27T00:00", "2026-04-28T00:00") == 8.5 * H


# ------------------------------------------------------------------- properties

BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
SPAN = 3 * 365 * 86_400
instants = st.integers(0, SPAN).map(lambda s: BASE + dt.timedelta(seconds=s))
durations = st.integers(0, 60 * 86_400)
calendar_names = st.sampled_from(sorted(CALENDARS))


@settings(max_examples=150, deadline=None)
@given(name=calendar_names, a=instants, length=durations)
# New York's fall-back night of 2025: its Sunday span reaches into the repeated hour.
@example(name="new_york", a=dt.datetime(2025, 11, 2, tzinfo=dt.UTC), length=86_400)
def test_matches_reference(name: str, a: dt.datetime, length: int) -> None:
    b = a + dt.timedelta(seconds=length)
    assert CALENDARS[name].working_seconds(a, b) == ref.working_seconds(SPECS[name], a, b)


# Across the epoch: instants before 1970 are negative nanoseconds, and every open
# interval of 1969 used to end at 1970-01-01 00:00 UTC (working time of days, not hours).
instants_around_1970 = st.integers(0, 2 * 365 * 86_400).map(
    lambda s: dt.datetime(1968, 12, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=s)
)


@settings(max_examples=100, deadline=None)
@given(name=calendar_names, a=instants_around_1970, length=durations)
@example(name="office", a=dt.datetime(1969, 12, 29, 8, tzinfo=dt.UTC), length=86_400)
def test_matches_reference_before_1970(name: str, a: dt.datetime, length: int) -> None:
    b = a + dt.timedelta(seconds=length)
    assert CALENDARS[name].working_seconds(a, b) == ref.working_seconds(SPECS[name], a, b)


@settings(max_examples=100, deadline=None)
@given(name=calendar_names, a=instants, seconds=st.integers(0, 20 * 86_400))
def test_deadline_matches_reference(name: str, a: dt.datetime, seconds: int) -> None:
    cal = CALENDARS[name]
    expected = ref.add_working_seconds(SPECS[name], a, seconds)
    assert cal.add_working_seconds(a, seconds) == pd.Timestamp(expected)


@settings(max_examples=100, deadline=None)
@given(name=calendar_names, points=st.lists(instants, min_size=3, max_size=3))
def test_additive_and_bounded(name: str, points: list[dt.datetime]) -> None:
    a, b, c = sorted(points)
    cal = CALENDARS[name]
    ab, bc, ac = cal.working_seconds([a, b, a], [b, c, c])
    assert ab + bc == ac
    assert 0 <= ab <= (b - a).total_seconds()
    assert cal.working_seconds(c, a) == -ac


@settings(max_examples=100, deadline=None)
@given(
    name=calendar_names,
    a=instants,
    micros=st.integers(-40 * 86_400 * 10**6, 40 * 86_400 * 10**6),
)
def test_deadline_round_trip(name: str, a: dt.datetime, micros: int) -> None:
    seconds = micros / 1e6
    cal = CALENDARS[name]
    deadline = cal.add_working_seconds(a, seconds)
    assert cal.working_seconds(a, deadline) == pytest.approx(seconds, abs=1e-6)
    if seconds > 0:
        # Earliest: one microsecond earlier is not enough.
        assert cal.working_seconds(a, deadline - pd.Timedelta(1, "us")) < seconds


@settings(max_examples=30, deadline=None)
@given(
    name=calendar_names,
    starts=st.lists(instants, min_size=1, max_size=50),
    length=durations,
)
def test_arrays_equal_scalars(name: str, starts: list[dt.datetime], length: int) -> None:
    cal = CALENDARS[name]
    ends = [s + dt.timedelta(seconds=length) for s in starts]
    vector = cal.working_seconds(pd.Series(starts), pd.Series(ends))
    assert list(vector) == [cal.working_seconds(s, e) for s, e in zip(starts, ends, strict=True)]


@settings(max_examples=50, deadline=None)
@given(name=calendar_names, points=st.lists(instants, min_size=2, max_size=20))
def test_working_clock_differences_are_working_time(name: str, points: list[dt.datetime]) -> None:
    # A fresh calendar: the clock must not depend on what was asked before.
    cal = Calendar.from_dict(SPECS[name], name=name)
    ns = np.array([pd.Timestamp(p).value for p in points], dtype=np.int64)
    clock = cal.working_clock(int(ns.min()), int(ns.max()))
    # A later query reaching further grows the calendar's cache: the clock keeps its own.
    cal.working_ns(ns[:1], ns[:1] + 40 * 365 * 86_400 * 10**9)
    at = clock(ns)
    a, b = ns[:-1], ns[1:]
    assert list(at[1:] - at[:-1]) == list(cal.working_ns(a, b))


def test_working_clock_refuses_instants_outside_its_range() -> None:
    cal = CALENDARS[sorted(CALENDARS)[0]]
    lo = pd.Timestamp("2026-01-01", tz="UTC").value
    clock = cal.working_clock(lo, lo + 86_400 * 10**9)
    with pytest.raises(ValueError, match="outside"):
        clock(np.array([lo - 1], dtype=np.int64))


@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_day_table_finds_the_interval_a_binary_search_finds(name: str) -> None:
    # The day table behind every working-time lookup, checked at and next to each
    # opening and closing instant (DST days and split days included) and at random.
    cal = Calendar.from_dict(SPECS[name], name=name)
    lo = pd.Timestamp("2024-01-01", tz="UTC").value
    span = cal._ensure(lo, lo + SPAN * 10**9)
    edges = np.concatenate([span.starts, span.ends])
    t = np.concatenate([edges - 1, edges, edges + 1])
    rng = np.random.default_rng(7)
    t = np.concatenate([t, rng.integers(span.starts[0], span.ends[-1], 100_000)])
    t = t[t >= span.starts[0]]
    assert (span.index(t) == np.searchsorted(span.starts, t, side="right") - 1).all()


def test_only_a_calendar_open_around_the_clock_is_always_open() -> None:
    assert Calendar.builtin("always").is_always_open()
    assert not Calendar.builtin("office").is_always_open()
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    nights = {"timezone": "UTC", "weekly": {d: [["00:00", "24:00"]] for d in days}}
    assert Calendar.from_dict(nights).is_always_open()
    assert not Calendar.from_dict({**nights, "closed_dates": ["2026-12-25"]}).is_always_open()
    halves = {d: [["00:00", "12:00"], ["12:00", "24:00"]] for d in days}
    assert Calendar.from_dict({"timezone": "UTC", "weekly": halves}).is_always_open()


def test_a_deadline_past_the_last_computable_year_is_a_clear_error() -> None:
    # 100,000 working days from 2026 lie past 2262, where nanosecond timestamps end:
    # a WorkingTimeError naming the calendar, not pandas' OutOfBoundsDatetime.
    office = Calendar.builtin("office")
    with pytest.raises(WorkingTimeError, match="calendar 'office': 850,000 working hours reach"):
        office.add_working_seconds("2026-01-01T00:00", 100_000 * 8.5 * 3600)
    # Ten years of working days is still a date.
    deadline = office.add_working_seconds("2026-01-01T00:00", 3_650 * 8.5 * 3600)
    assert deadline.year == 2040


def test_a_calendar_with_openings_only_is_searched_in_clock_days() -> None:
    once = Calendar.from_dict(
        {"timezone": "UTC", "weekly": {}, "openings": [["2025-06-01T09:00", "2025-06-01T10:00"]]}
    )
    assert once.add_working_seconds("2025-01-01T00:00", 1800) == pd.Timestamp(
        "2025-06-01T09:30", tz="UTC"
    )
    with pytest.raises(WorkingTimeError, match="no open time within 200 years"):
        once.add_working_seconds("2026-01-01T00:00", 3600)
