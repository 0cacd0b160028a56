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

from pipeline.i18n import LOCALES
from pipeline.policy import Metric, Policy, PolicyVersion, Threshold, Tier


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
