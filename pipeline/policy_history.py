"""Which rules were in force when, and what changed between two policy versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.policy import Policy


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'metrics.resolution.targets.business.limit_days': 7, ...}"""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _raw_version(policy: Policy, name: str) -> dict:
    policy.version(name)  # raises PolicyError naming the known versions
    return next(v for v in policy.document["versions"] if v["version"] == name)


def versions(policy: Policy, *, at: dt.date | None = None) -> list[dict]:
    """Every version with its effective date and whether it was in force on `at`."""
    in_force = policy.version_at(at).version if at is not None else None
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
    version = policy.version_at(at or dt.date.today())
    return flatten(_raw_version(policy, version.version))


def diff(policy: Policy, first: str, second: str) -> list[tuple[str, Any, Any]]:
    """(setting, value in `first`, value in `second`) for every setting that differs."""
    a = flatten(_raw_version(policy, first))
    b = flatten(_raw_version(policy, second))
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
