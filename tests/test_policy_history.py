"""Policy history: versions in force on a date, their rules, and field-by-field diffs."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipeline import policy_history
from pipeline.errors import PolicyError
from pipeline.policy import Policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    doc = Policy.default().document
    v2 = json.loads(json.dumps(doc["versions"][0]))
    v2.update(version="2026.2", effective_from="2026-07-01", description="Premium 4 h")
    v2["metrics"]["first_response"]["targets"]["premium"]["target_hours"] = 4
    v2["metrics"]["resolution"]["pause_statuses"] = [
        "waiting_on_customer",
        "waiting_on_third_party",
    ]
    del v2["outage_line"]
    return Policy.from_dict({**doc, "versions": [doc["versions"][0], v2]})


def test_versions_in_force(policy) -> None:
    table = policy_history.versions(policy, at=dt.date(2026, 6, 30))
    assert [(v["version"], v["effective_from"], v["in_force"]) for v in table] == [
        ("2025.1", "2020-01-01", True),
        ("2026.2", "2026-07-01", False),
    ]
    assert [v["in_force"] for v in policy_history.versions(policy, at=dt.date(2026, 7, 1))] == [
        False,
        True,
    ]
    # Before the first version: the history still, with none in force.
    before = policy_history.versions(policy, at=dt.date(2019, 12, 31))
    assert [v["in_force"] for v in before] == [False, False]


def test_rules_of_the_version_in_force(policy) -> None:
    rules = policy_history.rules(policy, at=dt.date(2026, 7, 1))
    assert rules["version"] == "2026.2"
    assert rules["metrics.first_response.targets.premium.target_hours"] == 4
    assert rules["metrics.resolution.exclude"] == [
        {"rule": "it_release", "field": "requires_it_release", "value": True}
    ]
    assert policy_history.rules(policy, at=dt.date(2026, 6, 30))["outage_line.calendar"] == (
        "always"
    )
    with pytest.raises(PolicyError, match="no version in force on 2019-12-31"):
        policy_history.rules(policy, at=dt.date(2019, 12, 31))


def test_diff_field_by_field(policy) -> None:
    changes = policy_history.diff(policy, "2025.1", "2026.2")
    assert ("metrics.first_response.targets.premium.target_hours", 8, 4) in changes
    assert (
        "metrics.resolution.pause_statuses",
        ["waiting_on_customer"],
        ["waiting_on_customer", "waiting_on_third_party"],
    ) in changes
    # A table that exists in one version only shows as missing (None) on the other side.
    assert ("outage_line.calendar", "always", None) in changes
    assert ("effective_from", "2020-01-01", "2026-07-01") in changes
    assert policy_history.diff(policy, "2025.1", "2025.1") == []
    with pytest.raises(PolicyError, match="no version 'x'"):
        policy_history.diff(policy, "2025.1", "x")


def test_diff_compares_effective_settings_not_the_text() -> None:
    # 2026.1 writes out what 2025.1 leaves to the defaults, and states the same
    # first-response target as a target and an equal limit: no setting differs.
    # 2026.2 changes a default without writing the key it changes from.
    doc = Policy.default().document
    first = json.loads(json.dumps(doc["versions"][0]))
    first["metrics"]["resolution"].pop("at_risk_share")
    first["metrics"]["resolution"].pop("reopen_rule")
    explicit = json.loads(json.dumps(doc["versions"][0]))
    explicit.update(version="2026.1", effective_from="2026-01-01")
    explicit["metrics"]["resolution"].update(at_risk_share=0.75, reopen_rule="exclude_gaps")
    explicit["metrics"]["first_response"]["targets"]["premium"] = {
        "target_hours": 8,
        "limit_hours": 8,
    }
    changed = json.loads(json.dumps(first))
    changed.update(version="2026.2", effective_from="2026-07-01")
    changed["metrics"]["resolution"]["at_risk_share"] = 0.5
    policy = Policy.from_dict({**doc, "versions": [first, explicit, changed]})
    assert policy_history.diff(policy, "2025.1", "2026.1") == [
        ("effective_from", "2020-01-01", "2026-01-01"),
        ("version", "2025.1", "2026.1"),
    ]
    assert ("metrics.resolution.at_risk_share", 0.75, 0.5) in policy_history.diff(
        policy, "2025.1", "2026.2"
    )
    # Show lists what evaluation uses, the defaults included.
    rules = policy_history.rules(policy, at=dt.date(2025, 6, 1))
    assert rules["metrics.resolution.reopen_rule"] == "exclude_gaps"
    # Not shown where it cannot be set: reopens do not move a first response.
    assert "metrics.first_response.reopen_rule" not in rules
    assert rules["metrics.first_response.targets.premium.limit_hours"] == 8
    # As written: 8, not 8.0.
    assert repr(rules["metrics.first_response.targets.premium.limit_hours"]) == "8"


def test_show_writes_settings_as_a_policy_file_does_and_the_calendar_in_use() -> None:
    doc = Policy.default().document
    clock = json.loads(json.dumps(doc["versions"][0]))
    clock["metrics"]["resolution"]["clock"] = "clock"  # calendar stays "office" as written
    policy = Policy.from_dict({**doc, "versions": [clock]})
    rules = policy_history.rules(policy, at=dt.date(2026, 1, 1))
    assert rules["metrics.resolution.calendar"] == "always"  # what evaluation uses
    shown = {k: policy_history.shown(v) for k, v in rules.items()}
    assert shown["tiers.premium.has_sla"] == "true"
    assert shown["tiers.premium.price_eur_month"] == "(unset)"
    assert shown["metrics.resolution.reopen_rule"] == '"exclude_gaps"'


def test_one_support_text_or_a_table_is_no_change_when_the_texts_agree() -> None:
    doc = Policy.default().document
    one = json.loads(json.dumps(doc["versions"][0]))
    one["tiers"]["business"]["support_description"] = "Personal account manager"
    table = json.loads(json.dumps(one))
    table.update(version="2026.1", effective_from="2026-01-01")
    table["tiers"]["business"]["support_description"] = {
        "en": "Personal account manager",
        "nl": "Persoonlijke accountmanager",
    }
    policy = Policy.from_dict({**doc, "versions": [one, table]})
    changes = [c for c in policy_history.diff(policy, "2025.1", "2026.1") if "tiers." in c[0]]
    # English stayed, Dutch got its own text: one change, not three.
    assert changes == [
        (
            "tiers.business.support_description.nl",
            "Personal account manager",
            "Persoonlijke accountmanager",
        )
    ]


def test_show_in_english_is_the_policy_files_spelling(policy) -> None:
    lines = policy_history.show_lines(policy, dt.date(2026, 10, 1))
    assert lines[1] == "* 2026.2       from 2026-07-01  Premium 4 h"
    assert (
        '  metrics.resolution.pause_statuses = ["waiting_on_customer", '
        '"waiting_on_third_party"]' in lines
    )
    assert "  outage_line = (unset)" in lines


def test_show_in_dutch_says_every_rule_in_words_with_its_key(policy) -> None:
    lines = policy_history.show_lines(policy, dt.date(2026, 10, 1), lang="nl")
    assert lines[0] == "  2025.1       vanaf 1 januari 2020  " + policy.versions[0].description
    # The descriptions start in one column, whatever the length of the date.
    assert lines[1] == "* 2026.2       vanaf 1 juli 2026     Premium 4 h"
    assert lines[0].index(policy.versions[0].description) == lines[1].index("Premium 4 h")
    assert (
        "  Oplossing, de klok staat stil in status: „wacht op klant” (waiting_on_customer) en "
        "„wacht op derde partij” (waiting_on_third_party)  [metrics.resolution.pause_statuses]"
    ) in lines
    assert (
        "  Eerste reactie, Premium, doel: 4 werkuur  "
        "[metrics.first_response.targets.premium.target_hours]"
    ) in lines
    assert (
        "  Oplossing, Business, limiet: 7 werkdagen  "
        "[metrics.resolution.targets.business.limit_days]"
    ) in lines
    assert (
        "  Oplossing, een open ticket loopt risico vanaf: 75\u00a0% van de limiet  "
        "[metrics.resolution.at_risk_share]"
    ) in lines
    assert "  Business, prijs per maand: €\u00a089,00  [tiers.business.price_eur_month]" in lines
    assert "  Pioneer, SLA: nee  [tiers.pioneer.has_sla]" in lines
    assert "  Storingsdienst: niet ingesteld  [outage_line]" in lines


def test_show_in_dutch_before_the_first_version(policy) -> None:
    assert policy_history.show_lines(policy, dt.date(2019, 12, 31), lang="nl")[-1] == (
        "geen versie van kracht op 31 december 2019: de eerste gaat in op 1 januari 2020"
    )


def test_diff_in_dutch(policy) -> None:
    lines = policy_history.diff_lines(policy, "2025.1", "2026.2", lang="nl")
    assert (
        "Eerste reactie, Premium, doel: 8 werkuur → 4 werkuur  "
        "[metrics.first_response.targets.premium.target_hours]"
    ) in lines
    assert "Van kracht vanaf: 1 januari 2020 → 1 juli 2026  [effective_from]" in lines
    assert (
        "Storingsdienst, kalender: 24/7-kalender (always) → niet ingesteld  [outage_line.calendar]"
    ) in lines
    assert policy_history.diff_lines(policy, "2025.1", "2025.1", lang="nl") == ["geen verschillen"]
    english = policy_history.diff_lines(policy, "2025.1", "2026.2")
    assert "metrics.first_response.targets.premium.target_hours: 8 -> 4" in english


def test_show_in_dutch_says_the_outage_line_has_no_target() -> None:
    # "niet ingesteld" read as a setting forgotten; unset is the policy's answer: no
    # target, measured and not judged (as the monthly report's method says).
    lines = policy_history.show_lines(Policy.default(), dt.date(2026, 10, 1), lang="nl")
    assert (
        "  Storingsdienst, doel voor de eerste reactie: geen (gemeten, niet beoordeeld)  "
        "[outage_line.first_response_target_hours]"
    ) in lines
    english = policy_history.show_lines(Policy.default(), dt.date(2026, 10, 1))
    assert "  outage_line.first_response_target_hours = (unset)" in english
