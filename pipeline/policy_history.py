"""Which rules were in force when, and what changed between two policy versions.

Rules are the effective settings (what evaluation uses, defaults filled in), named
as in the policy file: a default written out in one version and left implicit in the
other is no change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from pipeline.i18n import (
    FIELD_WORDS,
    LOCALES,
    Messages,
    calendar_named,
    catalogue,
    condition,
    status_named,
    with_code,
)
from pipeline.policy import METRICS, Metric, Policy, PolicyVersion, Threshold, Tier


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'metrics.resolution.targets.business.limit_days': 7, ...}"""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


# Fields of the parsed policy that repeat the key they are stored under.
_KEYS_REPEATED = {"key", "name"}


def _settings(value: Any) -> Any:
    """A parsed policy value as plain data with the file's names."""
    if isinstance(value, Threshold):
        # The file's own spelling: target_hours / limit_days.
        return {
            f"target_{value.unit}": _settings(value.target),
            f"limit_{value.unit}": _settings(value.limit),
        }
    if dataclasses.is_dataclass(value):
        out = {
            f.name: _settings(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _KEYS_REPEATED
        }
        if isinstance(value, Metric):
            out["calendar"] = value.calendar_name  # a clock-time metric uses `always`
            if value.name != "resolution":
                out.pop("reopen_rule")  # a setting of resolution only
        if isinstance(value, Tier):
            # The text each report language shows, however the file wrote it.
            out.pop("support_descriptions")
            out["support_description"] = {lang: value.support_description(lang) for lang in LOCALES}
        return out
    if isinstance(value, Mapping):
        return {str(k): _settings(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_settings(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
        return int(value)  # 24, as written, not 24.0
    return value


def shown(value: Any) -> str:
    """A setting as a policy file writes it (true, "text", [..]); unset for None."""
    if value is None:
        return "(unset)"
    return json.dumps(value, ensure_ascii=False)


def effective(version: PolicyVersion) -> dict[str, Any]:
    """The settings of a version as evaluation uses them, flattened."""
    return flatten(_settings(version))


def versions(policy: Policy, *, at: dt.date | None = None) -> list[dict]:
    """Every version with its effective date and whether it was in force on `at`
    (none before the first takes effect)."""
    started = at is not None and at >= policy.versions[0].effective_from
    in_force = policy.version_at(at).version if started else None
    return [
        {
            "version": v.version,
            "effective_from": v.effective_from.isoformat(),
            "description": v.description,
            "in_force": v.version == in_force,
        }
        for v in policy.versions
    ]


def rules(policy: Policy, *, at: dt.date | None = None) -> dict[str, Any]:
    """The rules of the version in force on `at` (default: today), flattened."""
    return effective(policy.version_at(at or dt.date.today()))


def diff(policy: Policy, first: str, second: str) -> list[tuple[str, Any, Any]]:
    """(setting, value in `first`, value in `second`) for every setting that differs."""
    a, b = effective(policy.version(first)), effective(policy.version(second))
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


# --------------------------------------------------------------- for people


def show_lines(policy: Policy, at: dt.date, *, lang: str = "en") -> list[str]:
    """What `sla policy show` prints: every version (the one in force on `at`
    marked), then that version's rules. In English each rule as the policy file
    writes it (`key = value`); in another language in the reader's words, each with
    its key in the file beside it."""
    m = Messages(lang)
    out = []
    listed = versions(policy, at=at)
    sinces = [
        v["effective_from"] if lang == "en" else m.date(dt.date.fromisoformat(v["effective_from"]))
        for v in listed
    ]
    # Dates in words differ in length ("1 juli 2026", "1 januari 2020"): padded, so
    # that the descriptions start in one column as they do beside ISO dates.
    width = max(map(len, sinces))
    for v, since in zip(listed, sinces, strict=True):
        mark = "*" if v["in_force"] else " "
        out.append(
            m(
                "policy_version_line",
                mark=mark,
                version=f"{v['version']:<12}",
                since=f"{since:<{width}}",
                description=v["description"],
            )
        )
    first = policy.versions[0].effective_from
    if at < first:
        # The history is the answer: nothing was in force yet, and that is no error.
        out.append(m("policy_none_in_force", day=_day(m, at), first=_day(m, first)))
        return out
    settings = rules(policy, at=at)
    for key, value in settings.items():
        out.append(
            "  " + (f"{key} = {shown(value)}" if lang == "en" else _said(m, key, value, settings))
        )
    return out


def diff_lines(policy: Policy, first: str, second: str, *, lang: str = "en") -> list[str]:
    """What `sla policy diff` prints: every setting that differs between two
    versions, old value to new (in another language than English in words, with
    the setting's key beside them)."""
    m = Messages(lang)
    changes = diff(policy, first, second)
    if not changes:
        return [m("policy_no_differences")]
    if lang == "en":
        return [f"{key}: {shown(old)} -> {shown(new)}" for key, old, new in changes]
    a, b = effective(policy.version(first)), effective(policy.version(second))
    return [
        m(
            "policy_change",
            setting=_label(m, key, a if key in a else b),
            old=_value(m, key, old, a),
            new=_value(m, key, new, b),
            name=key,
        )
        for key, old, new in changes
    ]


def _day(m: Messages, day: dt.date) -> str:
    return day.isoformat() if m.lang == "en" else m.date(day)


def _said(m: Messages, key: str, value: Any, settings: dict[str, Any]) -> str:
    """A rule in words with its key ('Oplossing: klok staat stil in status „wacht op
    klant” (waiting_on_customer)  [metrics.resolution.pause_statuses]')."""
    return m(
        "policy_setting",
        setting=_label(m, key, settings),
        value=_value(m, key, value, settings),
        name=key,
    )


def _tier_label(settings: dict[str, Any], tier: str) -> str:
    label = settings.get(f"tiers.{tier}.label")
    return label if isinstance(label, str) else tier


def _metric(m: Messages, name: str) -> str:
    return m(name) if name in METRICS else name


def _label(m: Messages, key: str, settings: dict[str, Any]) -> str:
    """The name of a setting in words; the key itself for one the catalogue has no
    words for (a setting added later)."""
    parts = key.split(".")
    match parts:
        case [("version" | "effective_from" | "description" | "outage_line") as name]:
            return m(f"setting_{name}")
        case ["metrics", metric, ("targets" | "by_priority") as kind, who, field]:
            bound = field.split("_")[0]  # target | limit
            whom = (
                _tier_label(settings, who)
                if kind == "targets"
                else m("setting_priority", priority=m.word("priority", who) or who)
            )
            return m(f"setting_threshold_{bound}", metric=_metric(m, metric), who=whom)
        case ["metrics", metric, field] if f"setting_metric_{field}" in catalogue(m.lang):
            return m(f"setting_metric_{field}", metric=_metric(m, metric))
        case ["outage_line", "match", field]:
            return m(
                "setting_outage_match",
                field=m(f"field_{field}") if f"field_{field}" in catalogue(m.lang) else field,
            )
        case ["outage_line", field] if f"setting_outage_{field}" in catalogue(m.lang):
            return m(f"setting_outage_{field}")
        case ["tiers", tier, "support_description", lang]:
            language = catalogue(m.lang).get(f"language_{lang}", lang)
            return m(
                "setting_tier_support_description",
                tier=_tier_label(settings, tier),
                language=language,
            )
        case ["tiers", tier, field] if f"setting_tier_{field}" in catalogue(m.lang):
            return m(f"setting_tier_{field}", tier=_tier_label(settings, tier))
    return key


def _value(m: Messages, key: str, value: Any, settings: dict[str, Any]) -> str:
    """A setting's value in words, each policy value with its code beside it where
    the words differ ('kantoorkalender (office)'); text of the policy quoted as it
    is; unset in words."""
    parts = key.split(".")
    if value is None and parts == ["outage_line", "first_response_target_hours"]:
        # Unset means no target, not a setting forgotten: the reports say so too.
        return m("setting_outage_no_target")
    if value is None:
        return m("setting_unset")
    if isinstance(value, bool):
        return m("yes" if value else "no")
    match parts:
        case ["effective_from"]:
            return m.date(dt.date.fromisoformat(value))
        case ["version"]:
            return str(value)
        case ["metrics", metric, "targets" | "by_priority", _, field]:
            unit = field.split("_")[-1]  # hours | days
            clock = "clock_" if settings.get(f"metrics.{metric}.clock") == "clock" else ""
            one = "_1" if value == 1 else ""
            return m(f"promise_{clock}{unit}_one{one}", target=m.quantity(value))
        case ["metrics", _, "at_risk_share"]:
            share = m.pct(value, 0 if round(value * 100, 9) % 1 == 0 else 1)
            return m("setting_share_of_limit", share=share)
        case ["metrics", _, "benchmark_tier"]:
            return m("setting_benchmark", tier=_tier_label(settings, value))
        case ["metrics", _, "calendar"] | ["outage_line", "calendar"]:
            return calendar_named(m, value)
        case ["metrics", _, ("clock" | "reopen_rule") as field]:
            words = catalogue(m.lang).get(f"setting_{field}_{value}")
            return value if words is None else with_code(words, value)
        case ["metrics", _, "pause_statuses"]:
            return m.join(status_named(m, s) for s in value) if value else m("promise_none")
        case ["metrics", _, "exclude"]:
            tiers = {
                k.split(".")[1]: v
                for k, v in settings.items()
                if k.startswith("tiers.") and k.endswith(".label")
            }
            rules = [
                m(
                    "setting_exclusion",
                    rule=r["rule"],
                    condition=condition(m, r["field"], r["value"], tiers),
                )
                for r in value
            ]
            return m.join(rules) if rules else m("promise_none")
        case ["outage_line", "applies_to"]:
            return m.join(m.in_sentence(_metric(m, x)) for x in value)
        case ["outage_line", "first_response_target_hours"]:
            return m("setting_clock_hours", n=m.quantity(value))
        case ["outage_line", "billable_cause_domain"]:
            return with_code(m.word("cause_domain", value) or value, value)
        case ["outage_line", "match", field]:
            words = m.word(FIELD_WORDS.get(field, field), str(value))
            return str(value) if words is None else with_code(words, str(value))
        case ["tiers", _, "support"]:
            return m.join(with_code(m.word("channel", c) or c, c) for c in value)
        case ["tiers", _, "price_eur_month"]:
            return m.currency(value, "EUR")
    if isinstance(value, str):
        return m("quoted", text=value)
    if isinstance(value, int | float):
        return m.quantity(value)
    return shown(value)
