"""The SLA policy: tiers, targets, pauses, exclusions and the outage line, as
versioned data read from TOML.

A policy file holds calendars (optional; `office` and `always` are built in) and
a list of versions, each with an `effective_from` date. A ticket is judged by
the version in force (in the report time zone) when it was created. The
default policy, `pipeline/data/default_policy.toml`, encodes the source SLA page
and marks each point the page leaves open; docs/policy.md explains them.

The policy's hash is the sha256 of its canonical JSON form, so reformatting a
file does not change it, and every result row carries it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.calendar import Calendar, builtin_tables
from pipeline.errors import CalendarError, PolicyError
from pipeline.instants import local_bounds

METRICS = ("first_response", "resolution")
RESOLVED_STATUSES = ("resolved", "closed")
REOPEN_RULES = ("exclude_gaps", "first_resolution")
HOUR = 3600.0


@dataclass(frozen=True)
class Tier:
    key: str
    label: str
    has_sla: bool
    price_eur_month: float | None
    price_label: str
    support: tuple[str, ...]
    support_description: str


@dataclass(frozen=True)
class Threshold:
    """A target and a limit, in the unit the policy states them in."""

    target: float
    limit: float
    unit: str  # "hours" | "days"

    def describe(self) -> str:
        if self.target == self.limit:
            return f"{self.target:g} {self.unit}"
        return f"target {self.target:g}, limit {self.limit:g} {self.unit}"


@dataclass(frozen=True)
class Exclusion:
    rule: str
    field: str
    value: Any


@dataclass(frozen=True)
class Metric:
    name: str
    clock: str  # "working" | "clock"
    calendar: str
    pause_statuses: tuple[str, ...]
    benchmark_tier: str
    at_risk_share: float
    targets: Mapping[str, Threshold]
    by_priority: Mapping[str, Threshold]
    exclude: tuple[Exclusion, ...]
    reopen_rule: str

    @property
    def calendar_name(self) -> str:
        """The calendar actually used: `always` when the metric counts clock time."""
        return "always" if self.clock == "clock" else self.calendar


@dataclass(frozen=True)
class OutageLine:
    match: Mapping[str, Any]
    calendar: str
    first_response_target_hours: float | None
    applies_to: tuple[str, ...]
    billable_cause_domain: str


@dataclass(frozen=True)
class PolicyVersion:
    version: str
    effective_from: dt.date
    description: str
    tiers: Mapping[str, Tier]
    metrics: Mapping[str, Metric]
    outage_line: OutageLine | None


@dataclass
class Policy:
    name: str
    source: str
    report_timezone: str
    calendar_tables: Mapping[str, Any]
    versions: tuple[PolicyVersion, ...]  # sorted by effective_from
    document: dict[str, Any] = field(repr=False)
    _calendars: dict[str, Calendar] = field(default_factory=dict, repr=False)

    # ----------------------------------------------------------------- reading

    @classmethod
    def default(cls) -> Policy:
        """The built-in policy that encodes the source SLA page."""
        text = resources.files("pipeline.data").joinpath("default_policy.toml").read_text("utf-8")
        return cls.from_dict(tomllib.loads(text), source="built-in default")

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise PolicyError(str(path), "<file>", "no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(str(path), "<file>", f"not valid TOML: {exc}") from None
        return cls.from_dict(doc, source=str(path))

    @classmethod
    def load(cls, path: str | Path | None) -> Policy:
        """`from_toml(path)`, or the default policy when no path is given."""
        return cls.default() if path is None else cls.from_toml(path)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "<dict>") -> Policy:
        """Validate and build a policy. Raises `PolicyError` naming the source and field."""
        head = _table(doc, "policy", source, "policy")
        calendars = _table(doc, "calendars", source, "calendars", required=False)
        tables = {**builtin_tables(), **calendars}
        for name in calendars:
            try:
                Calendar.from_tables(tables, name)
            except CalendarError as exc:
                raise PolicyError(source, f"calendars.{name}.{exc.field}", str(exc)) from None
        raw_versions = doc.get("versions")
        if not isinstance(raw_versions, list) or not raw_versions:
            raise PolicyError(source, "versions", "at least one [[versions]] table is required")
        versions = [
            _parse_version(v, source, f"versions[{i}]", tables) for i, v in enumerate(raw_versions)
        ]
        versions.sort(key=lambda v: v.effective_from)
        names = [v.version for v in versions]
        if len(set(names)) != len(names):
            raise PolicyError(source, "versions", "version names must be unique")
        dates = [v.effective_from for v in versions]
        if len(set(dates)) != len(dates):
            raise PolicyError(source, "versions", "two versions share one effective_from")
        tz = head.get("report_timezone", "Europe/Amsterdam")
        try:
            pd.Timestamp("2026-01-01", tz=tz)
        except Exception:
            raise PolicyError(
                source, "policy.report_timezone", f"unknown time zone {tz!r}"
            ) from None
        return cls(
            name=str(head.get("name", "SLA policy")),
            source=source,
            report_timezone=tz,
            calendar_tables=tables,
            versions=tuple(versions),
            document=json.loads(json.dumps(doc, default=str)),
        )

    # ------------------------------------------------------------------ facts

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def calendar(self, name: str) -> Calendar:
        if name not in self._calendars:
            self._calendars[name] = Calendar.from_tables(self.calendar_tables, name)
        return self._calendars[name]

    def version(self, name: str) -> PolicyVersion:
        for v in self.versions:
            if v.version == name:
                return v
        known = ", ".join(v.version for v in self.versions)
        raise PolicyError(self.source, "versions", f"no version {name!r} (known: {known})")

    def version_at(self, when: dt.date | str) -> PolicyVersion:
        """The version in force on a date (in the report time zone)."""
        day = dt.date.fromisoformat(when) if isinstance(when, str) else when
        in_force = [v for v in self.versions if v.effective_from <= day]
        if not in_force:
            first = self.versions[0].effective_from
            raise PolicyError(self.source, "versions", f"no version in force on {day} ({first})")
        return in_force[-1]

    def version_index(self, created_ns: np.ndarray) -> np.ndarray:
        """For UTC ns creation instants, the index into `versions` in force (-1: none)."""
        # A version is in force from the first instant of its local date.
        starts = local_bounds(
            [pd.Timestamp(v.effective_from) for v in self.versions],
            self.report_timezone,
            first_occurrence=True,
        )
        return np.searchsorted(starts, created_ns, side="right") - 1

    def threshold_seconds(self, metric: Metric, threshold: Threshold, calendar: str) -> tuple:
        """(target, limit) in seconds: days are full opening days of the calendar."""
        unit = HOUR if threshold.unit == "hours" else self.calendar(calendar).working_day_seconds
        return threshold.target * unit, threshold.limit * unit


# ---------------------------------------------------------------------- parsing


def _table(doc: Mapping, key: str, source: str, where: str, *, required: bool = True) -> dict:
    value = doc.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise PolicyError(source, where, "a table is required here")
    return dict(value)


def _number(value: Any, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PolicyError(source, where, f"expected a non-negative number, got {value!r}")
    return float(value)


def _threshold(raw: Any, source: str, where: str) -> Threshold:
    if not isinstance(raw, Mapping):
        raise PolicyError(
            source, where, "expected { target_hours = N } or { target_days = N, ... }"
        )
    for unit in ("hours", "days"):
        if f"target_{unit}" in raw:
            target = _number(raw[f"target_{unit}"], source, f"{where}.target_{unit}")
            limit = _number(raw.get(f"limit_{unit}", target), source, f"{where}.limit_{unit}")
            if limit < target:
                raise PolicyError(source, where, "the limit is below the target")
            unknown = set(raw) - {f"target_{unit}", f"limit_{unit}"}
            if unknown:
                raise PolicyError(source, f"{where}.{sorted(unknown)[0]}", "unknown setting")
            return Threshold(target, limit, unit)
    raise PolicyError(source, where, "needs target_hours or target_days")


def _parse_metric(
    name: str, raw: Any, source: str, where: str, tiers: Mapping[str, Tier], calendars: Mapping
) -> Metric:
    if not isinstance(raw, Mapping):
        raise PolicyError(source, where, "a table is required here")
    clock = raw.get("clock", "working")
    if clock not in ("working", "clock"):
        raise PolicyError(source, f"{where}.clock", "use 'working' or 'clock'")
    calendar = raw.get("calendar", "office")
    if calendar not in calendars:
        raise PolicyError(source, f"{where}.calendar", f"unknown calendar {calendar!r}")
    targets = {
        tier: _threshold(spec, source, f"{where}.targets.{tier}")
        for tier, spec in dict(raw.get("targets", {})).items()
    }
    for tier in targets:
        if tier not in tiers:
            raise PolicyError(source, f"{where}.targets.{tier}", "unknown tier")
    benchmark = raw.get("benchmark_tier", "business")
    if benchmark not in targets:
        raise PolicyError(source, f"{where}.benchmark_tier", f"{benchmark!r} has no targets")
    for tier in tiers.values():
        if tier.has_sla and tier.key not in targets:
            raise PolicyError(source, f"{where}.targets", f"SLA tier {tier.key!r} has no target")
    by_priority = {
        p: _threshold(spec, source, f"{where}.by_priority.{p}")
        for p, spec in dict(raw.get("by_priority", {})).items()
    }
    excludes = []
    for i, rule in enumerate(raw.get("exclude", [])):
        if not isinstance(rule, Mapping) or not {"rule", "field", "value"} <= set(rule):
            raise PolicyError(
                source, f"{where}.exclude[{i}]", "expected { rule = ..., field = ..., value = ... }"
            )
        excludes.append(Exclusion(str(rule["rule"]), str(rule["field"]), rule["value"]))
    reopen_rule = raw.get("reopen_rule", "exclude_gaps")
    if reopen_rule not in REOPEN_RULES:
        raise PolicyError(source, f"{where}.reopen_rule", f"use one of {', '.join(REOPEN_RULES)}")
    share = _number(raw.get("at_risk_share", 0.75), source, f"{where}.at_risk_share")
    pauses = raw.get("pause_statuses", [])
    if not isinstance(pauses, list) or set(pauses) & set(RESOLVED_STATUSES):
        raise PolicyError(
            source, f"{where}.pause_statuses", "a list of statuses (not resolved/closed)"
        )
    return Metric(
        name=name,
        clock=clock,
        calendar=calendar,
        pause_statuses=tuple(pauses),
        benchmark_tier=benchmark,
        at_risk_share=share,
        targets=targets,
        by_priority=by_priority,
        exclude=tuple(excludes),
        reopen_rule=reopen_rule,
    )


def _parse_version(raw: Any, source: str, where: str, calendars: Mapping) -> PolicyVersion:
    if not isinstance(raw, Mapping):
        raise PolicyError(source, where, "a table is required here")
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise PolicyError(source, f"{where}.version", "a version name is required")
    where = f"versions[{version}]"
    try:
        effective = raw.get("effective_from")
        effective = (
            effective if isinstance(effective, dt.date) else dt.date.fromisoformat(str(effective))
        )
    except ValueError:
        raise PolicyError(
            source, f"{where}.effective_from", "a date YYYY-MM-DD is required"
        ) from None
    tiers = {}
    for key, spec in _table(raw, "tiers", source, f"{where}.tiers").items():
        spec = dict(spec)
        price = spec.get("price_eur_month")
        tiers[key] = Tier(
            key=key,
            label=str(spec.get("label", key.title())),
            has_sla=bool(spec.get("has_sla", False)),
            price_eur_month=None
            if price is None
            else _number(price, source, f"{where}.tiers.{key}"),
            price_label=str(spec.get("price_label", "")),
            support=tuple(spec.get("support", [])),
            support_description=str(spec.get("support_description", "")),
        )
    metrics_raw = _table(raw, "metrics", source, f"{where}.metrics")
    unknown = set(metrics_raw) - set(METRICS)
    if unknown:
        raise PolicyError(source, f"{where}.metrics.{sorted(unknown)[0]}", "unknown metric")
    metrics = {
        name: _parse_metric(
            name, metrics_raw[name], source, f"{where}.metrics.{name}", tiers, calendars
        )
        for name in METRICS
        if name in metrics_raw
    }
    outage = None
    if "outage_line" in raw:
        o = _table(raw, "outage_line", source, f"{where}.outage_line")
        target = o.get("first_response_target_hours")
        if o.get("calendar", "always") not in calendars:
            raise PolicyError(source, f"{where}.outage_line.calendar", "unknown calendar")
        outage = OutageLine(
            match=dict(o.get("match", {"channel": "outage_line"})),
            calendar=o.get("calendar", "always"),
            first_response_target_hours=None
            if target is None
            else _number(target, source, f"{where}.outage_line.first_response_target_hours"),
            applies_to=tuple(o.get("applies_to", METRICS)),
            billable_cause_domain=str(o.get("billable_cause_domain", "customer")),
        )
    return PolicyVersion(
        version=version,
        effective_from=effective,
        description=str(raw.get("description", "")),
        tiers=tiers,
        metrics=metrics,
        outage_line=outage,
    )
