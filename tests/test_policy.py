"""Policy validation: every mistake in a policy file is a PolicyError naming the
file and the field, never a silent default or a Python traceback."""

from __future__ import annotations

import copy
import datetime as dt
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.calendar import WEEKDAYS, builtin_tables
from pipeline.errors import PolicyError
from pipeline.policy import Exclusion, Policy, PolicyVersion, Threshold

SOURCE = "mine.toml"
DEFAULT_TOML = Path(__file__).parents[1] / "pipeline" / "data" / "default_policy.toml"
V0 = "versions[0]"
FR = f"{V0}.metrics.first_response"
RES = f"{V0}.metrics.resolution"
OUTAGE = f"{V0}.outage_line"


def _v(doc: dict) -> dict:
    return doc["versions"][0]


def _fr(doc: dict) -> dict:
    return _v(doc)["metrics"]["first_response"]


def _res(doc: dict) -> dict:
    return _v(doc)["metrics"]["resolution"]


def _rename(table: dict, old: str, new: str) -> None:
    table[new] = table.pop(old)


def _calendar(**changes: object) -> dict:
    """The built-in `office` calendar with some settings changed, to define in a file."""
    return {"office": {**builtin_tables()["office"], **changes}}


CLOSED_WEEK: dict[str, list] = {day: [] for day in WEEKDAYS}


def _second_version(doc: dict, **changes: object) -> None:
    later = copy.deepcopy(_v(doc))
    later.update({"version": "2026.2", "effective_from": "2026-07-01", **changes})
    doc["versions"].append(later)


# (id, change to the default policy's document, field named, words in the message)
MISTAKES: list[tuple[str, Callable[[dict], object], str, str]] = [
    # 1. unknown keys, at every level
    ("top_key", lambda d: d.update(extra={"foo": 1}), "extra", "unknown key 'extra'"),
    (
        "policy_key",
        lambda d: _rename(d["policy"], "report_timezone", "report_timezon"),
        "policy.report_timezon",
        "unknown key 'report_timezon' (did you mean 'report_timezone'?)",
    ),
    (
        "calendar_key",
        lambda d: d.update(calendars=_calendar(closed_date=["2026-12-24"])),
        "calendars.office.closed_date",
        "unknown setting",
    ),
    (
        "version_key",
        lambda d: _rename(_v(d), "description", "descripton"),
        f"{V0}.descripton",
        "unknown key 'descripton' (did you mean 'description'?)",
    ),
    (
        "tier_name",
        lambda d: _v(d)["tiers"].update(platinum={"label": "Platinum"}),
        f"{V0}.tiers.platinum",
        "unknown tier 'platinum' (known: pioneer, professional, business, premium)",
    ),
    (
        "tier_key",
        lambda d: _rename(_v(d)["tiers"]["pioneer"], "price_eur_month", "prize_eur_month"),
        f"{V0}.tiers.pioneer.prize_eur_month",
        "(did you mean 'price_eur_month'?)",
    ),
    (
        "metric_name",
        lambda d: _rename(_v(d)["metrics"], "resolution", "resolutoin"),
        f"{V0}.metrics.resolutoin",
        "unknown metric 'resolutoin' (did you mean 'resolution'?)",
    ),
    (
        "metric_key_pause_status",
        lambda d: _rename(_res(d), "pause_statuses", "pause_status"),
        f"{RES}.pause_status",
        "unknown key 'pause_status' (did you mean 'pause_statuses'?)",
    ),
    (
        "target_key",
        lambda d: _fr(d)["targets"]["business"].update(limit_hour=30),
        f"{FR}.targets.business.limit_hour",
        "unknown key 'limit_hour' (did you mean 'limit_hours'?)",
    ),
    (
        "target_mixed_units",
        lambda d: _res(d)["targets"].update(premium={"target_days": 3, "limit_hours": 7}),
        f"{RES}.targets.premium.limit_hours",
        "the limit must be in the target's unit: limit_days",
    ),
    (
        "by_priority_entry_key",
        lambda d: _res(d).update(by_priority={"critical": {"target_days": 1, "limit_day": 2}}),
        f"{RES}.by_priority.critical.limit_day",
        "(did you mean 'limit_days'?)",
    ),
    (
        "exclude_entry_key",
        lambda d: _res(d)["exclude"][0].update(values=False),
        f"{RES}.exclude[0].values",
        "unknown key 'values' (did you mean 'value'?)",
    ),
    (
        "outage_key",
        lambda d: _v(d)["outage_line"].update(first_response_target_hour=1),
        f"{OUTAGE}.first_response_target_hour",
        "(did you mean 'first_response_target_hours'?)",
    ),
    # 2. targets: finite numbers > 0, limit not below target
    (
        "target_nan",
        lambda d: _fr(d)["targets"].update(premium={"target_hours": float("nan")}),
        f"{FR}.targets.premium.target_hours",
        "expected a finite number, got nan",
    ),
    (
        "target_inf",
        lambda d: _fr(d)["targets"].update(premium={"target_hours": float("inf")}),
        f"{FR}.targets.premium.target_hours",
        "expected a finite number, got inf",
    ),
    (
        "target_past_ten_years",
        lambda d: _fr(d)["targets"].update(premium={"target_hours": 1e300}),
        f"{FR}.targets.premium.target_hours",
        "expected at most 87,600 (ten years), got 1e+300",
    ),
    (
        "limit_days_past_ten_years",
        lambda d: _res(d)["targets"].update(premium={"target_days": 3, "limit_days": 1e6}),
        f"{RES}.targets.premium.limit_days",
        "expected at most 3,650 (ten years)",
    ),
    (
        "outage_target_past_ten_years",
        lambda d: _v(d)["outage_line"].update(first_response_target_hours=100_000),
        f"{OUTAGE}.first_response_target_hours",
        "expected at most 87,600 (ten years)",
    ),
    (
        "reopen_rule_on_first_response",
        lambda d: _fr(d).update(reopen_rule="first_resolution"),
        f"{FR}.reopen_rule",
        "reopens only matter to resolution",
    ),
    (
        "always_with_hours",
        lambda d: d.update(
            calendars={"always": {**builtin_tables()["office"], "description": "the line"}}
        ),
        "calendars.always",
        "'always' is the 24/7 calendar that clock = \"clock\" counts in",
    ),
    (
        "target_negative",
        lambda d: _fr(d)["targets"].update(premium={"target_hours": -8}),
        f"{FR}.targets.premium.target_hours",
        "expected a number > 0, got -8",
    ),
    (
        "target_zero",
        lambda d: _fr(d)["targets"].update(premium={"target_hours": 0}),
        f"{FR}.targets.premium.target_hours",
        "expected a number > 0, got 0",
    ),
    (
        "target_string",
        lambda d: _fr(d)["targets"].update(premium={"target_hours": "8"}),
        f"{FR}.targets.premium.target_hours",
        "expected a number, got '8'",
    ),
    (
        "target_bool",
        lambda d: _fr(d)["targets"].update(premium={"target_hours": True}),
        f"{FR}.targets.premium.target_hours",
        "expected a number, got True",
    ),
    (
        "limit_inf",
        lambda d: _res(d)["targets"].update(premium={"target_days": 3, "limit_days": 1e999}),
        f"{RES}.targets.premium.limit_days",
        "expected a finite number, got inf",
    ),
    (
        "target_above_limit",
        lambda d: _res(d)["targets"].update(premium={"target_days": 9, "limit_days": 7}),
        f"{RES}.targets.premium.limit_days",
        "the limit (7) is below the target (9)",
    ),
    (
        "target_only_limit",
        lambda d: _res(d)["targets"].update(premium={"limit_days": 7}),
        f"{RES}.targets.premium",
        "needs target_hours or target_days",
    ),
    (
        "outage_target_zero",
        lambda d: _v(d)["outage_line"].update(first_response_target_hours=0),
        f"{OUTAGE}.first_response_target_hours",
        "expected a number > 0, got 0",
    ),
    (
        "price_negative",
        lambda d: _v(d)["tiers"]["professional"].update(price_eur_month=-35),
        f"{V0}.tiers.professional.price_eur_month",
        "expected a number >= 0, got -35",
    ),
    # 3. at_risk_share is a share: 0 < share <= 1
    (
        "at_risk_percent",
        lambda d: _fr(d).update(at_risk_share=75),
        f"{FR}.at_risk_share",
        "0 < share <= 1 (0.75 is 75 %), got 75",
    ),
    (
        "at_risk_zero",
        lambda d: _fr(d).update(at_risk_share=0),
        f"{FR}.at_risk_share",
        "expected a number > 0, got 0",
    ),
    (
        "at_risk_string",
        lambda d: _fr(d).update(at_risk_share="75%"),
        f"{FR}.at_risk_share",
        "expected a number, got '75%'",
    ),
    # 4. exclusion rules: a known ticket field, a value that field can hold
    (
        "exclude_unknown_field",
        lambda d: _res(d)["exclude"][0].update(field="requires_it_releas"),
        f"{RES}.exclude[0].field",
        "unknown ticket field 'requires_it_releas' (did you mean 'requires_it_release'?)",
    ),
    (
        "exclude_value_not_bool",
        lambda d: _res(d)["exclude"][0].update(value="yes"),
        f"{RES}.exclude[0].value",
        "expected true or false, got 'yes'",
    ),
    (
        "exclude_unknown_priority",
        lambda d: _res(d)["exclude"][0].update(field="priority", value="urgent"),
        f"{RES}.exclude[0].value",
        "unknown value 'urgent'; use one of low, normal, high, critical",
    ),
    (
        "exclude_cause_domain_typo",
        lambda d: _res(d)["exclude"][0].update(field="cause_domain", value="custmer"),
        f"{RES}.exclude[0].value",
        "unknown value 'custmer' (did you mean 'customer'?)",
    ),
    (
        "exclude_category_not_string",
        lambda d: _res(d)["exclude"][0].update(field="category", value=3),
        f"{RES}.exclude[0].value",
        "expected a string, got 3",
    ),
    (
        "exclude_missing_value",
        lambda d: _res(d)["exclude"][0].pop("value"),
        f"{RES}.exclude[0].value",
        "required",
    ),
    (
        "exclude_not_a_list",
        lambda d: _res(d).update(exclude={"rule": "x", "field": "channel", "value": "chat"}),
        f"{RES}.exclude",
        "expected a list of exclusion rules",
    ),
    # 5. by_priority keys are priorities
    (
        "by_priority_typo",
        lambda d: _res(d).update(by_priority={"critcal": {"target_days": 1, "limit_days": 2}}),
        f"{RES}.by_priority.critcal",
        "unknown priority 'critcal' (did you mean 'critical'?)",
    ),
    # 6. the outage line names known metrics, fields and values
    (
        "first_response_paused_while_new",
        # Accepted, every first response was met in 0 s (the sample: 100 % in every tier).
        lambda d: _fr(d).update(pause_statuses=["waiting_on_customer", "new"]),
        f"{FR}.pause_statuses[1]",
        "would stop the first response clock altogether",
    ),
    (
        "tier_label_empty",
        lambda d: _v(d)["tiers"]["business"].update(label=" "),
        f"{V0}.tiers.business.label",
        "a label is required (a non-empty string), got ' '",
    ),
    (
        "support_channel_unknown",
        lambda d: _v(d)["tiers"]["business"].update(support=["chat", "emial"]),
        f"{V0}.tiers.business.support[1]",
        "unknown value 'emial' (did you mean 'email'?)",
    ),
    (
        "exclude_empty_text",
        # Accepted, the rule matched nothing: the loader stores an empty cell as none.
        lambda d: _res(d).update(exclude=[{"rule": "x", "field": "category", "value": ""}]),
        f"{RES}.exclude[0].value",
        "an empty value matches no ticket",
    ),
    (
        "match_padded_text",
        lambda d: _v(d)["outage_line"].update(match={"source_system": "zendesk "}),
        f"{OUTAGE}.match.source_system",
        "'zendesk ' has spaces at its ends, which no loaded value has (the loader trims",
    ),
    (
        "outage_target_not_applied",
        # Accepted, the target was silently unused: outside applies_to a call's
        # first response is held to its tier's target.
        lambda d: _v(d)["outage_line"].update(
            first_response_target_hours=1, applies_to=["resolution"]
        ),
        f"{OUTAGE}.first_response_target_hours",
        'only applies when applies_to names "first_response"',
    ),
    (
        "outage_applies_to",
        lambda d: _v(d)["outage_line"].update(applies_to=["first_respons"]),
        f"{OUTAGE}.applies_to[0]",
        "unknown value 'first_respons' (did you mean 'first_response'?)",
    ),
    (
        "outage_match_field",
        lambda d: _v(d)["outage_line"].update(match={"chanel": "outage_line"}),
        f"{OUTAGE}.match.chanel",
        "unknown ticket field 'chanel' (did you mean 'channel'?)",
    ),
    (
        "outage_match_value",
        lambda d: _v(d)["outage_line"].update(match={"channel": "outage"}),
        f"{OUTAGE}.match.channel",
        "unknown value 'outage' (did you mean 'outage_line'?)",
    ),
    (
        "outage_match_empty",
        lambda d: _v(d)["outage_line"].update(match={}),
        f"{OUTAGE}.match",
        "expected a table of ticket fields",
    ),
    (
        "outage_billable_domain",
        lambda d: _v(d)["outage_line"].update(billable_cause_domain="client"),
        f"{OUTAGE}.billable_cause_domain",
        "use one of provider, customer, unknown",
    ),
    # 7. lists are lists of strings
    (
        "support_string",
        lambda d: _v(d)["tiers"]["pioneer"].update(support="chat"),
        f"{V0}.tiers.pioneer.support",
        "expected a list of strings",
    ),
    (
        "support_number",
        lambda d: _v(d)["tiers"]["pioneer"].update(support=["chat", 2]),
        f"{V0}.tiers.pioneer.support[1]",
        "(a string), got 2",
    ),
    (
        "pause_string",
        lambda d: _res(d).update(pause_statuses="waiting_on_customer"),
        f"{RES}.pause_statuses",
        "expected a list of strings",
    ),
    (
        "pause_unknown_status",
        lambda d: _res(d).update(pause_statuses=["on_hold"]),
        f"{RES}.pause_statuses[0]",
        "unknown value 'on_hold'",
    ),
    (
        "pause_resolved",
        lambda d: _res(d).update(pause_statuses=["resolved"]),
        f"{RES}.pause_statuses",
        "a resolved or closed status cannot pause the clock",
    ),
    # 8. the report time zone is an IANA name
    (
        "report_timezone_number",
        lambda d: d["policy"].update(report_timezone=1),
        "policy.report_timezone",
        "expected a string, got 1",
    ),
    (
        "report_timezone_unknown",
        lambda d: d["policy"].update(report_timezone="Mars/Olympus"),
        "policy.report_timezone",
        "unknown time zone 'Mars/Olympus'",
    ),
    # 9. booleans are booleans
    (
        "has_sla_string",
        lambda d: _v(d)["tiers"]["pioneer"].update(has_sla="false"),
        f"{V0}.tiers.pioneer.has_sla",
        "expected true or false, got 'false'",
    ),
    (
        "has_sla_number",
        lambda d: _v(d)["tiers"]["business"].update(has_sla=1),
        f"{V0}.tiers.business.has_sla",
        "expected true or false, got 1",
    ),
    # 10. what used to end in a traceback
    (
        "effective_datetime",
        lambda d: _v(d).update(effective_from=dt.datetime(2020, 1, 1)),
        f"{V0}.effective_from",
        "a date YYYY-MM-DD is required, not a date-time",
    ),
    (
        "effective_bad_date",
        lambda d: _v(d).update(effective_from="2020-13-01"),
        f"{V0}.effective_from",
        "a date YYYY-MM-DD is required, got '2020-13-01'",
    ),
    (
        "effective_missing",
        lambda d: _v(d).pop("effective_from"),
        f"{V0}.effective_from",
        "a date YYYY-MM-DD is required, got nothing",
    ),
    (
        "targets_string",
        lambda d: _fr(d).update(targets="24h"),
        f"{FR}.targets",
        "a table is required here, got '24h'",
    ),
    (
        "tier_not_table",
        lambda d: _v(d)["tiers"].update(pioneer="free"),
        f"{V0}.tiers.pioneer",
        "a table is required here",
    ),
    (
        "target_not_table",
        lambda d: _fr(d)["targets"].update(premium=8),
        f"{FR}.targets.premium",
        "expected { target_hours = N }",
    ),
    (
        "metric_not_table",
        lambda d: _v(d)["metrics"].update(resolution="3-7 days"),
        RES,
        "a table is required here",
    ),
    (
        "no_metrics",
        lambda d: _v(d).update(metrics={}),
        f"{V0}.metrics",
        "at least one metric is required",
    ),
    (
        "calendar_list",
        lambda d: _fr(d).update(calendar=["office"]),
        f"{FR}.calendar",
        "expected a string, got ['office']",
    ),
    # 11. a calendar that never opens, named with the file and field
    (
        "calendar_empty_week",
        lambda d: d.update(calendars=_calendar(weekly=CLOSED_WEEK)),
        "calendars.office.weekly",
        "never open: every day of the week is empty",
    ),
    (
        "days_on_a_calendar_without_weekly_hours",
        lambda d: d.update(
            calendars=_calendar(
                weekly=CLOSED_WEEK, openings=[["2026-06-13T09:00", "2026-06-13T13:00"]]
            )
        ),
        f"{RES}.targets.business.target_days",
        "so a working day has no length",
    ),
    # 12. versions: unique names and dates, oldest first
    (
        "versions_same_date",
        lambda d: _second_version(d, effective_from="2020-01-01"),
        "versions[1].effective_from",
        "2020-01-01 is also the effective_from of versions[0] ('2025.1')",
    ),
    (
        "versions_out_of_order",
        lambda d: _second_version(d, effective_from="2016-07-01"),
        "versions[1].effective_from",
        "2016-07-01 is before versions[0] ('2025.1', 2020-01-01); list the versions oldest first",
    ),
    (
        "versions_same_name",
        lambda d: _second_version(d, version="2025.1"),
        "versions[1].version",
        "'2025.1' is also the name of versions[0]",
    ),
    # settings that were already checked keep their field
    (
        "clock_unknown",
        lambda d: _fr(d).update(clock="wall"),
        f"{FR}.clock",
        "unknown value 'wall'; use one of working, clock",
    ),
    (
        "calendar_unknown",
        lambda d: _fr(d).update(calendar="ofice"),
        f"{FR}.calendar",
        "unknown calendar 'ofice' (did you mean 'office'?)",
    ),
    (
        "benchmark_unknown",
        lambda d: _fr(d).update(benchmark_tier="gold"),
        f"{FR}.benchmark_tier",
        "'gold' has no targets",
    ),
    (
        "reopen_rule_unknown",
        lambda d: _res(d).update(reopen_rule="last"),
        f"{RES}.reopen_rule",
        "use one of exclude_gaps, first_resolution",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [pytest.param(change, field, words, id=name) for name, change, field, words in MISTAKES],
)
def test_a_mistake_is_an_error_naming_the_file_and_the_field(
    change: Callable[[dict], object], field: str, words: str
) -> None:
    doc = Policy.default().document
    change(doc)
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict(doc, source=SOURCE)
    assert caught.value.source == SOURCE
    assert caught.value.field == field
    # A field inside a [[versions]] table also names that version by its name.
    index = re.match(r"versions\[(\d+)\]", field)
    name = doc["versions"][int(index[1])].get("version") if index else None
    version = f", version {name!r}" if isinstance(name, str) and name.strip() else ""
    assert caught.value.version == (name if version else None)
    assert str(caught.value).startswith(f"policy {SOURCE}{version}, field {field!r}: ")
    assert words in str(caught.value)


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "policy.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    return path


def test_a_file_that_is_not_utf8_is_an_error(tmp_path) -> None:
    path = _write(tmp_path, b"\xff\xfe\x00garbage")
    with pytest.raises(PolicyError, match="not UTF-8 text") as caught:
        Policy.from_toml(path)
    assert (caught.value.source, caught.value.field) == (str(path), "<file>")


def test_a_missing_or_unreadable_file_is_an_error(tmp_path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        Policy.from_toml(tmp_path / "none.toml")
    with pytest.raises(PolicyError, match="cannot read it"):
        Policy.from_toml(tmp_path)  # a folder
    assert Policy.default() == Policy.default()  # the calendar cache is no part of a policy


def test_a_toml_date_time_is_an_error_and_a_toml_date_is_accepted(tmp_path) -> None:
    text = DEFAULT_TOML.read_text("utf-8")
    quoted = 'effective_from = "2020-01-01"'
    assert quoted in text
    with pytest.raises(PolicyError, match="not a date-time") as caught:
        Policy.from_toml(
            _write(tmp_path, text.replace(quoted, "effective_from = 2020-01-01T00:00:00"))
        )
    assert caught.value.field == "versions[0].effective_from"

    policy = Policy.from_toml(_write(tmp_path, text.replace(quoted, "effective_from = 2020-01-01")))
    assert policy.versions[0].effective_from == dt.date(2020, 1, 1)
    # A TOML date and the string of it are one canonical document: the same hash.
    assert policy.hash == Policy.default().hash


def test_a_policy_file_error_names_the_file(tmp_path) -> None:
    text = DEFAULT_TOML.read_text("utf-8").replace("at_risk_share = 0.75", "at_risk_share = 75")
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(path)
    # The file and the line (61 of the default file: first response's at_risk_share).
    assert str(caught.value).startswith(
        f"policy {path}, line 61, version '2025.1', "
        "field 'versions[0].metrics.first_response.at_risk_share': "
    )


SECOND_VERSION = """
[[versions]]
version = "2026.2"
effective_from = "2026-07-01"

[versions.tiers.business]
has_sla = true

[versions.metrics.resolution]
targets = { business = { target_days = 2, limit_days = 5 } }
exclude = [{ rule = "api", field = "category", value = "api" }]
"""


@pytest.mark.parametrize(
    ("old", "new", "marker", "offset"),
    [
        # A key misspelt: its own line.
        ('pause_statuses = ["waiting', 'pause_status = ["waiting', "pause_status = ", 0),
        # A value inside an inline table: the line of the key that holds the table.
        ("premium = { target_hours = 8 }", "premium = { target_hours = -8 }", "= -8", 0),
        # A key of the second [[versions]], found under that one, not the first.
        ('effective_from = "2026-07-01"', 'effective_from = "2019-07-01"', '"2019-07-01"', 0),
        (
            "has_sla = true\n\n[versions.metrics.res",
            "has_sla = 1\n\n[versions.metrics.res",
            "has_sla = 1",
            0,
        ),
        # A key left out: the line of the table or list that lacks it.
        ('field = "category", value = "api" }', 'field = "category" }', 'rule = "api"', 0),
        # A calendar of the file's own, in a sub-table.
        (
            "[policy]",
            '[calendars.desk]\ntimezone = "UTC"\n[calendars.desk.weekly]\n'
            'mon = [["9:00", "17:00"]]\n\n[policy]',
            '"9:00"',
            0,
        ),
        # After a multi-line array whose last line is an inner array (`  ["09:00",
        # "17:30"]`, read as a table header): the key's own line, not the table's.
        (
            "[policy]",
            '[calendars.desk]\ntimezone = "UTC"\n[calendars.desk.weekly]\nmon = [\n'
            '  ["09:00", "17:00"]\n]\ntue = [["9:00", "17:00"]]\n\n[policy]',
            '"9:00"',
            0,
        ),
        # A multi-line string holding `has_sla = ...`: the real key below it.
        (
            "[versions.tiers.business]\nhas_sla = true\n",
            '[versions.tiers.business]\nlabel = """\nhas_sla = yes\n"""\nhas_sla = 1\n',
            "has_sla = 1",
            0,
        ),
        # A table required and missing: the [[versions]] header of the version without it.
        ("\n[versions.tiers.business]\nhas_sla = true\n", "\n", 'version = "2026.2"', -1),
    ],
)
def test_an_error_in_a_file_names_its_line(
    tmp_path, old: str, new: str, marker: str, offset: int
) -> None:
    text = DEFAULT_TOML.read_text("utf-8") + SECOND_VERSION
    assert old in text
    changed = text.replace(old, new, 1)
    (at,) = [i for i, line in enumerate(changed.splitlines(), start=1) if marker in line]
    path = _write(tmp_path, changed)
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(path)
    assert caught.value.line == at + offset, str(caught.value)
    version = "" if caught.value.version is None else f", version {caught.value.version!r}"
    assert str(caught.value).startswith(f"policy {path}, line {at + offset}{version}, field ")


def test_an_empty_or_broken_file_says_so_with_its_line(tmp_path) -> None:
    # An empty file was "field 'policy': a table is required here, got nothing".
    for text in ("", "# only a comment\n\n"):
        with pytest.raises(PolicyError, match="the file holds no settings") as caught:
            Policy.from_toml(_write(tmp_path, text))
        assert caught.value.field == "<file>"
    # Invalid TOML: the reader's line is the error's line, as for any other mistake.
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(_write(tmp_path, '[policy]\nname = "x"\nsource = "unclosed\n'))
    assert caught.value.line == 3
    assert str(caught.value).startswith(
        f"policy {tmp_path / 'policy.toml'}, line 3, field '<file>'"
    )


def test_an_error_inside_a_version_names_that_version(tmp_path) -> None:
    # An author thinks of "2026.2", not of the index in versions[1]: the message
    # used to name only the index.
    text = DEFAULT_TOML.read_text("utf-8") + SECOND_VERSION.replace(
        "target_days = 2,", "target_days = '2',"
    )
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(_write(tmp_path, text))
    assert caught.value.version == "2026.2"
    assert "line 104, version '2026.2', field 'versions[1].metrics.resolution.targets." in str(
        caught.value
    )
    # A version out of order is named too; one without a name cannot be.
    text = DEFAULT_TOML.read_text("utf-8") + SECOND_VERSION.replace("2026-07-01", "2019-07-01")
    with pytest.raises(PolicyError, match=r", version '2026\.2', field 'versions\[1\]\.eff"):
        Policy.from_toml(_write(tmp_path, text))
    doc = Policy.default().document
    del _v(doc)["version"]
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict(doc, source=SOURCE)
    assert caught.value.version is None
    assert str(caught.value).startswith(f"policy {SOURCE}, field 'versions[0].version': ")


def test_the_default_policy_is_valid_and_its_hash_unchanged() -> None:
    # Every stored result row carries this hash: stricter checks must not change it.
    # (Changed once, on purpose, in 0.2.0: the tiers' support texts in Dutch too.)
    policy = Policy.default()
    assert policy.hash == "44504d3a685184a9baf00251cb390c1052c752547c24b0a5ed79301b47333fad"
    assert Policy.from_toml(DEFAULT_TOML).hash == policy.hash
    version = policy.versions[0]
    assert version.tiers["pioneer"].support == ("chat",)
    assert version.tiers["business"].has_sla is True
    assert version.tiers["premium"].price_eur_month is None
    assert version.metrics["resolution"].exclude[0].value is True
    assert version.metrics["first_response"].at_risk_share == 0.75
    assert version.outage_line is not None
    assert version.outage_line.match == {"channel": "outage_line", "priority": "critical"}
    assert version.outage_line.applies_to == ("first_response", "resolution")


def _first(policy: Policy) -> PolicyVersion:
    return policy.versions[0]


# (id, change to the default document, what to read from the policy, its value)
VALID_CHANGES: list[tuple[str, Callable[[dict], object], Callable[[Policy], object], object]] = [
    (
        "second_version_later",
        _second_version,
        lambda p: [(v.version, v.effective_from) for v in p.versions],
        [("2025.1", dt.date(2020, 1, 1)), ("2026.2", dt.date(2026, 7, 1))],
    ),
    (
        "by_priority_critical",
        lambda d: _res(d).update(by_priority={"critical": {"target_days": 1, "limit_days": 2}}),
        lambda p: _first(p).metrics["resolution"].by_priority,
        {"critical": Threshold(1.0, 2.0, "days")},
    ),
    (
        "outage_target",
        lambda d: _v(d)["outage_line"].update(first_response_target_hours=1),
        lambda p: _first(p).outage_line.first_response_target_hours,
        1.0,
    ),
    (
        "exclude_channel",
        lambda d: _res(d)["exclude"][0].update(field="channel", value="email"),
        lambda p: _first(p).metrics["resolution"].exclude,
        (Exclusion("it_release", "channel", "email"),),
    ),
    (
        "exclude_free_text_category",
        lambda d: _res(d)["exclude"][0].update(field="category", value="Billing"),
        lambda p: _first(p).metrics["resolution"].exclude,
        (Exclusion("it_release", "category", "Billing"),),
    ),
    (
        "match_boolean_field",
        lambda d: _v(d)["outage_line"].update(match={"requires_it_release": True}),
        lambda p: _first(p).outage_line.match,
        {"requires_it_release": True},
    ),
    (
        "at_risk_share_one",
        lambda d: _fr(d).update(at_risk_share=1),
        lambda p: _first(p).metrics["first_response"].at_risk_share,
        1.0,
    ),
    (
        "lunch_break_monday_only",
        lambda d: d.update(
            calendars=_calendar(weekly={"mon": [["09:00", "12:00"], ["13:00", "17:30"]]})
        ),
        lambda p: p.calendar("office").working_day_seconds,
        7.5 * 3600,
    ),
    (
        "always_in_another_zone",
        lambda d: d.update(
            calendars={"always": {**builtin_tables()["always"], "timezone": "Europe/Amsterdam"}}
        ),
        lambda p: p.calendar("always").timezone,
        "Europe/Amsterdam",
    ),
    ("no_outage_line", lambda d: _v(d).pop("outage_line"), lambda p: _first(p).outage_line, None),
]


@pytest.mark.parametrize(
    ("change", "read", "expected"),
    [pytest.param(change, read, value, id=name) for name, change, read, value in VALID_CHANGES],
)
def test_valid_variants_still_load(
    change: Callable[[dict], object], read: Callable[[Policy], object], expected: object
) -> None:
    doc = Policy.default().document
    change(doc)
    assert read(Policy.from_dict(doc, source=SOURCE)) == expected


def test_a_version_without_a_tier_still_loads() -> None:
    # A tier may be dropped from a version (its customers are then judged without an SLA).
    doc = Policy.default().document
    del _v(doc)["tiers"]["premium"]
    for metric in (_fr(doc), _res(doc)):
        del metric["targets"]["premium"]
    assert set(Policy.from_dict(doc).versions[0].tiers) == {"pioneer", "professional", "business"}


def test_the_calendar_example_in_the_docs_loads() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "policy.md").read_text("utf-8")
    example = re.search(r"```toml\n(\[calendars\.office\].*?)```", docs, re.S)
    assert example is not None
    text = example.group(1) + "\n" + DEFAULT_TOML.read_text("utf-8")

    policy = Policy.from_dict(tomllib.loads(text), source="docs/policy.md")
    office = policy.calendar("office")
    assert office.working_day_seconds == 8.5 * 3600
    assert dt.date(2026, 12, 24) in office.closed_dates


def test_the_versions_during_a_period() -> None:
    doc = Policy.default().document
    _second_version(doc)  # from 2026-07-01
    policy = Policy.from_dict(doc)
    names = [
        [v.version for v in policy.versions_during(dt.date(*first), dt.date(*last))]
        for first, last in (
            ((2026, 6, 1), (2026, 6, 30)),
            ((2026, 6, 1), (2026, 7, 31)),
            ((2026, 7, 1), (2026, 7, 31)),
            ((2019, 1, 1), (2019, 1, 31)),  # before the first: the first one's promises
            ((2026, 6, 1), (2026, 7, 1)),  # the period's last day is the one it takes effect
        )
    ]
    assert names == [["2025.1"], ["2025.1", "2026.2"], ["2026.2"], ["2025.1"], ["2025.1", "2026.2"]]


def test_a_version_is_in_force_from_the_first_instant_of_its_local_date() -> None:
    # 2026.2 takes effect on 1 July 2026 in the report zone (Europe/Amsterdam, CEST):
    # from 30 June 22:00 UTC on. A ticket created at that very instant is judged by it,
    # one a nanosecond earlier by 2025.1; so are the two around 1 July 00:00 UTC
    # (01:59:59 and 02:00 local), which a UTC reading of the date would split.
    doc = Policy.default().document
    _second_version(doc)
    policy = Policy.from_dict(doc)
    start = pd.Timestamp("2026-07-01T00:00", tz="Europe/Amsterdam").value
    utc_midnight = pd.Timestamp("2026-07-01T00:00", tz="UTC").value
    created = np.array([start - 1, start, utc_midnight - 1, utc_midnight], dtype=np.int64)
    assert list(policy.version_index(created)) == [0, 1, 1, 1]
    assert policy.version_at(dt.date(2026, 7, 1)).version == "2026.2"
    assert policy.version_at(dt.date(2026, 6, 30)).version == "2025.1"
    # The first version takes effect on 2020-01-01: before it, none is in force.
    first = np.array([pd.Timestamp("2019-12-31T23:59:59", tz="Europe/Amsterdam").value])
    assert list(policy.version_index(first)) == [-1]


def test_support_texts_by_language(tmp_path) -> None:
    premium = Policy.default().versions[0].tiers["premium"]
    assert premium.support_description("nl").startswith("Premium support met voorrang")
    assert premium.support_description("en").startswith("Premium support, priority")
    text = DEFAULT_TOML.read_text()
    texts = '{ en = "Personal account manager", nl = "Persoonlijke accountmanager" }'
    one = text.replace(texts, '"Account manager"')
    business = Policy.from_toml(_write(tmp_path, one)).versions[0].tiers["business"]
    assert business.support_description("nl") == business.support_description() == "Account manager"
    wrong = text.replace('nl = "Persoonlijke accountmanager"', 'de = "Kundenbetreuer"')
    with pytest.raises(PolicyError, match=r"support_description\.de': unknown language"):
        Policy.from_toml(_write(tmp_path, wrong))
    dutch_only = text.replace('en = "Personal account manager", ', "")
    with pytest.raises(PolicyError, match=r"support_description\.en': .* needs the English"):
        Policy.from_toml(_write(tmp_path, dutch_only))
    empty = text.replace('nl = "Persoonlijke accountmanager"', 'nl = ""')
    with pytest.raises(PolicyError, match=r"support_description\.nl': an empty text"):
        Policy.from_toml(_write(tmp_path, empty))


def test_the_threshold_a_ticket_is_held_to() -> None:
    doc = copy.deepcopy(Policy.default().document)
    _res(doc)["by_priority"] = {"critical": {"target_days": 1, "limit_days": 2}}
    _fr(doc)["by_priority"] = {"high": {"target_hours": 4}}
    policy = Policy.from_dict(doc)
    v = policy.versions[0]
    day = 8.5 * 3600  # a full opening day of `office`

    def held(metric: str, tier: str, priority: str, *, outage_line: bool = False) -> tuple:
        return policy.ticket_threshold(v, metric, tier, priority, outage_line=outage_line)

    # The tier's target, unless the priority overrides it (for every tier alike).
    assert held("resolution", "business", "normal") == (3 * day, 7 * day, "office")
    assert held("resolution", "premium", "critical") == (day, 2 * day, "office")
    assert held("first_response", "premium", "normal") == (8 * 3600, 8 * 3600, "office")
    assert held("first_response", "business", "high") == (4 * 3600, 4 * 3600, "office")
    # On the outage line: its own first-response target (none set: no threshold),
    # and days are days of its 24/7 calendar.
    assert held("first_response", "premium", "critical", outage_line=True) == (None, None, "always")
    assert held("resolution", "business", "critical", outage_line=True) == (
        86400.0,
        2 * 86400.0,
        "always",
    )
    _v(doc)["outage_line"]["first_response_target_hours"] = 1
    one_hour = Policy.from_dict(doc)
    assert one_hour.ticket_threshold(
        one_hour.versions[0], "first_response", "business", "high", outage_line=True
    ) == (3600.0, 3600.0, "always")
    # An outage line that applies to the first response only: the resolution of its
    # calls counts in the metric's own calendar (office working days), as any other.
    _v(doc)["outage_line"]["applies_to"] = ["first_response"]
    replies_only = Policy.from_dict(doc)
    v = replies_only.versions[0]
    assert replies_only.ticket_threshold(
        v, "resolution", "business", "critical", outage_line=True
    ) == (day, 2 * day, "office")
    assert replies_only.ticket_threshold(
        v, "first_response", "business", "critical", outage_line=True
    ) == (3600.0, 3600.0, "always")


@pytest.mark.parametrize(
    ("amount", "unit", "calendar", "seconds"),
    [
        (4.1, "hours", "office", 14_760.0),
        (0.7, "hours", "office", 2_520.0),
        (4.1, "days", "office", 125_460.0),
    ],
)
def test_thresholds_in_seconds_are_exact_to_the_microsecond(amount, unit, calendar, seconds):
    # 4.1 * 3600 alone is 14759.999999999998: a reply at 14,760 s was 'late by 0 s'.
    target, limit = Policy.default().threshold_seconds(Threshold(amount, amount, unit), calendar)
    assert target == limit == seconds


def test_a_version_promises_its_sla_tiers_on_its_metrics_and_knows_its_outage_calls() -> None:
    v = Policy.default().versions[0]
    assert v.promises("business", "resolution") and v.promises("premium", "first_response")
    assert not v.promises("pioneer", "resolution")  # no SLA: benchmark only
    assert not v.promises("unknown", "resolution") and not v.promises("premium", "nope")
    assert v.outage_line.matches({"channel": "outage_line", "priority": "critical"})
    assert not v.outage_line.matches({"channel": "outage_line", "priority": "high"})
