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
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.calendar import Calendar, builtin_tables
from pipeline.errors import CalendarError, PolicyError, did_you_mean
from pipeline.i18n import LOCALES
from pipeline.instants import is_zone_name, iso_date, local_bounds
from pipeline.sources.base import CAUSE_DOMAINS, CHANNELS, PRIORITIES, STATUSES, TIERS

METRICS = ("first_response", "resolution")
RESOLVED_STATUSES = ("resolved", "closed")
# The status a resolve, reopen or close event implies.
IMPLIED_STATUSES = {"resolve": "resolved", "reopen": "open", "close": "closed"}
# How changes that fall on one instant of a status timeline rank (docs/policy.md):
# the status 'new' every ticket starts with at creation, then explicit status
# changes, then statuses implied by another event. eval_segments.sql writes the
# same ranks as `ord`.
CHANGE_RANKS = {"created": 0, "status_change": 1, **dict.fromkeys(IMPLIED_STATUSES, 2)}
REOPEN_RULES = ("exclude_gaps", "first_resolution")
HOUR = 3600.0
# The longest target or limit a policy may state, per unit: ten years. Far past any
# promise a desk makes, so a larger one is a typo (8760 for 8.76), and it keeps
# every deadline inside the years a timestamp can hold (up to 2262): 1e6 days
# crashed the evaluation with an out-of-bounds date.
MOST = {"hours": 87_600.0, "days": 3_650.0}


def in_seconds(amount: float, unit_seconds: float) -> float:
    """A target or limit stated in hours or days, in seconds, rounded to the
    microsecond: 4.1 hours is 14,760 s, where the product alone is
    14,759.999999999998 and a reply at exactly 14,760 s would be 'breached by 0 s'
    (docs/policy.md: reaching the target exactly is on time)."""
    return round(amount * unit_seconds, 6)


def timeline_order(at: Any, created: Any, kind: str, status: str) -> tuple:
    """Where a status change stands in a ticket's timeline; of the changes that
    fall on one instant, the first in this order sets the status (docs/policy.md).

    A change recorded before creation counts from creation, and of those the
    latest was the status at creation; at one true instant the rank decides
    (CHANGE_RANKS), then the status first by name, so every rerun keeps the same
    one. The evaluation sorts by the same key (eval_segments.sql), the audit by
    this function."""
    return (max(at, created), created - min(at, created), CHANGE_RANKS[kind], status)


# Ticket fields an exclusion rule or the outage line's `match` may name: the
# columns the evaluation reads for them (evaluate.RULE_FIELDS), each with the
# values it can hold once loaded: the canonical vocabulary, `bool`, or `str` for
# free text. A name or value outside these would never match a ticket, so the
# rule would silently do nothing.
RULE_FIELD_VALUES: dict[str, tuple[str, ...] | type] = {
    "tier": TIERS,
    "priority": PRIORITIES,
    "channel": CHANNELS,
    "category": str,
    "status": STATUSES,
    "requires_it_release": bool,
    "cause_domain": CAUSE_DOMAINS,
    "source_system": str,
}

# The keys each table of a policy file may hold. Anything else is an error: a
# misspelt key (`pause_status`) would otherwise be ignored and its default used.
TOP_KEYS = ("policy", "calendars", "versions")
POLICY_KEYS = ("name", "source", "report_timezone")
VERSION_KEYS = ("version", "effective_from", "description", "tiers", "metrics", "outage_line")
TIER_KEYS = (
    "label",
    "has_sla",
    "price_eur_month",
    "price_label",
    "support",
    "support_description",
)
METRIC_KEYS = (
    "clock",
    "calendar",
    "pause_statuses",
    "benchmark_tier",
    "at_risk_share",
    "targets",
    "by_priority",
    "exclude",
    "reopen_rule",
)
EXCLUDE_KEYS = ("rule", "field", "value")
OUTAGE_KEYS = (
    "match",
    "calendar",
    "first_response_target_hours",
    "applies_to",
    "billable_cause_domain",
)


@dataclass(frozen=True)
class Tier:
    key: str
    label: str
    has_sla: bool
    price_eur_month: float | None
    price_label: str
    support: tuple[str, ...]
    # By language ("en", "nl"): a file may give one text (taken for every language)
    # or a table of them.
    support_descriptions: Mapping[str, str]

    def support_description(self, lang: str = "en") -> str:
        """The support text in `lang`, else English, else the first one given."""
        texts = self.support_descriptions
        return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")


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

    def matches(self, fields: Mapping[str, Any]) -> bool:
        """Is a ticket with these fields a call on the line (every `match` field equal)?"""
        return all(fields.get(k) == v for k, v in self.match.items())


@dataclass(frozen=True)
class PolicyVersion:
    version: str
    effective_from: dt.date
    description: str
    tiers: Mapping[str, Tier]
    metrics: Mapping[str, Metric]
    outage_line: OutageLine | None

    def promises(self, tier: str, metric: str) -> bool:
        """Does this version promise `tier` a target on `metric`: an SLA tier, on a
        metric the version has (parsing makes every SLA tier a target there)?"""
        spec = self.tiers.get(tier)
        return bool(spec and spec.has_sla and metric in self.metrics)


@dataclass
class Policy:
    name: str
    source: str
    report_timezone: str
    calendar_tables: Mapping[str, Any]
    versions: tuple[PolicyVersion, ...]  # sorted by effective_from
    document: dict[str, Any] = field(repr=False)
    # Built calendars, a cache: two policies of the same document are equal.
    _calendars: dict[str, Calendar] = field(default_factory=dict, repr=False, compare=False)

    # ----------------------------------------------------------------- reading

    @classmethod
    def default(cls) -> Policy:
        """The built-in policy that encodes the source SLA page."""
        text = resources.files("pipeline.data").joinpath("default_policy.toml").read_text("utf-8")
        return cls.from_dict(tomllib.loads(text), source="built-in default")

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        """Read and validate a policy file. Raises `PolicyError` naming the file and field."""
        path = Path(path)
        try:
            text = path.read_text("utf-8")
            doc = tomllib.loads(text)
        except FileNotFoundError:
            raise PolicyError(str(path), "<file>", "no such file") from None
        except UnicodeDecodeError as exc:
            raise PolicyError(str(path), "<file>", f"not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise PolicyError(str(path), "<file>", f"cannot read it: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            # The reader gives the place in its words only: "(at line 83, column 14)".
            place = re.search(r"at line (\d+)", str(exc))
            raise PolicyError(
                str(path),
                "<file>",
                f"not valid TOML: {exc}",
                line=int(place[1]) if place else None,
            ) from None
        if not doc:
            # Not "field 'policy': a table is required": the whole file is missing.
            raise PolicyError(
                str(path),
                "<file>",
                "the file holds no settings: a policy needs a [policy] table and at least "
                "one [[versions]] table (start from a copy of the default policy)",
            )
        try:
            return cls.from_dict(doc, source=str(path))
        except PolicyError as exc:
            line = _line_of(text, exc.field)
            if line is None:
                raise
            raise PolicyError(
                exc.source, exc.field, exc.message, line=line, version=exc.version
            ) from None

    @classmethod
    def load(cls, path: str | Path | None) -> Policy:
        """`from_toml(path)`, or the default policy when no path is given."""
        return cls.default() if path is None else cls.from_toml(path)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "<dict>") -> Policy:
        """Validate and build a policy from a dict shaped like the TOML file.

        Raises `PolicyError` naming the source and the field (e.g.
        `versions[0].metrics.resolution.pause_statuses`) for the first problem
        found: an unknown key, a value of the wrong type or out of range, a name
        (tier, priority, metric, calendar, ticket field, value) that is not known,
        or versions that share a name or a date or are not in date order.
        """
        if not isinstance(doc, Mapping):
            raise PolicyError(source, "<file>", "a policy is a table of settings")
        _check_keys(doc, TOP_KEYS, source, "")
        head = _table(doc, "policy", source, "policy")
        _check_keys(head, POLICY_KEYS, source, "policy")
        name = _string(head.get("name", "SLA policy"), source, "policy.name")
        if "source" in head:
            _string(head["source"], source, "policy.source")
        tz = _string(
            head.get("report_timezone", "Europe/Amsterdam"), source, "policy.report_timezone"
        )
        if not is_zone_name(tz):
            raise PolicyError(
                source,
                "policy.report_timezone",
                f"unknown time zone {tz!r} (use an IANA name like 'Europe/Amsterdam')",
            )
        calendars = _table(doc, "calendars", source, "calendars", required=False)
        tables = {**builtin_tables(), **calendars}
        # Every calendar the file defines is checked, used or not; the ones built
        # here are kept, so that the evaluation does not build them again.
        built: dict[str, Calendar] = {}
        for calendar_name in calendars:
            _calendar(tables, calendar_name, source, built)
        if "always" in calendars and not built["always"].is_always_open():
            # clock = "clock" counts in `always`: other hours under that name would
            # silently turn every clock-time metric into working time.
            raise PolicyError(
                source,
                "calendars.always",
                "'always' is the 24/7 calendar that clock = \"clock\" counts in, so it must "
                "stay open around the clock: give these hours a name of their own",
            )
        raw_versions = doc.get("versions")
        if not isinstance(raw_versions, list | tuple) or not raw_versions:
            raise PolicyError(source, "versions", "at least one [[versions]] table is required")
        versions = []
        for i, raw_version in enumerate(raw_versions):
            try:
                versions.append(
                    _parse_version(raw_version, source, f"versions[{i}]", tables, built)
                )
            except PolicyError as exc:
                name = raw_version.get("version") if isinstance(raw_version, Mapping) else None
                if not isinstance(name, str) or not name.strip():
                    raise
                raise PolicyError(exc.source, exc.field, exc.message, version=name) from None
        _check_version_order(versions, source)
        return cls(
            name=name,
            source=source,
            report_timezone=tz,
            calendar_tables=tables,
            versions=tuple(versions),
            document=json.loads(json.dumps(doc, default=str)),
            _calendars=built,
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
            raise PolicyError(
                self.source,
                "versions",
                f"no version in force on {day}: the first takes effect on {first}",
            )
        return in_force[-1]

    def versions_during(self, first: dt.date, last: dt.date) -> list[PolicyVersion]:
        """The versions that judge tickets created from `first` to `last`: the one in
        force on `first` (the first version when none is yet), then each taking
        effect by `last`."""
        started = [v for v in self.versions if v.effective_from <= first]
        return [started[-1] if started else self.versions[0]] + [
            v for v in self.versions if first < v.effective_from <= last
        ]

    def billable_cause_domains(self) -> list[str]:
        """The cause domains that make an outage-line call billable, in any version."""
        return sorted({v.outage_line.billable_cause_domain for v in self.versions if v.outage_line})

    def versions_in_months(self, month_from: str, month_to: str) -> list[PolicyVersion]:
        """`versions_during` the months YYYY-MM `month_from` to `month_to`: the
        versions judging tickets created in them, oldest first."""
        first = dt.date.fromisoformat(f"{month_from}-01")
        last = (pd.Timestamp(f"{month_to}-01") + pd.offsets.MonthEnd(0)).date()
        return self.versions_during(first, last)

    def version_index(self, created_ns: np.ndarray) -> np.ndarray:
        """For UTC ns creation instants, the index into `versions` in force (-1: none)."""
        # A version is in force from the first instant of its local date.
        starts = local_bounds(
            [pd.Timestamp(v.effective_from) for v in self.versions],
            self.report_timezone,
            first_occurrence=True,
        )
        return np.searchsorted(starts, created_ns, side="right") - 1

    def threshold_seconds(self, threshold: Threshold, calendar: str) -> tuple[float, float]:
        """(target, limit) in seconds (`in_seconds`): days are full opening days of
        the calendar."""
        unit = HOUR if threshold.unit == "hours" else self.calendar(calendar).working_day_seconds
        return in_seconds(threshold.target, unit), in_seconds(threshold.limit, unit)

    def ticket_threshold(
        self,
        version: PolicyVersion,
        metric: str,
        tier: str,
        priority: str | None,
        *,
        outage_line: bool,
    ) -> tuple[float | None, float | None, str]:
        """(target, limit) in seconds, and the calendar they count in, that `version`
        holds a ticket of `tier` and `priority` to on `metric` (`outage_line`: the
        ticket is an outage-line call). The evaluation judges every row by it and
        the customer report holds rows against other tiers with it, so the two
        cannot disagree.

        On the outage line (for the metrics it applies to) the time counts in its
        calendar, and a first response is held to its own target: (None, None)
        when it sets none. Otherwise the priority's override wins over the tier's
        target. `tier` must have a target for `metric` in `version`."""
        spec = version.metrics[metric]
        outage = version.outage_line
        calendar = spec.calendar_name
        if outage_line and outage is not None and metric in outage.applies_to:
            calendar = outage.calendar
            if metric == "first_response":
                hours = outage.first_response_target_hours
                seconds = None if hours is None else in_seconds(hours, HOUR)
                return seconds, seconds, calendar
        threshold = spec.by_priority.get(priority) or spec.targets[tier]
        return (*self.threshold_seconds(threshold, calendar), calendar)


# ------------------------------------------------------------ lines of a field

_HEADER = re.compile(r"\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(
    r"\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _key_parts(dotted: str) -> list[str]:
    return [
        part.strip().strip("\"'")
        for part in re.split(r"\.(?=(?:[^\"']|\"[^\"]*\"|'[^']*')*$)", dotted)
    ]


def _statement_lines(text: str) -> set[int]:
    """The numbers of the lines that start outside every string, array and inline
    table: a line `  ["09:00", "17:30"]` inside a multi-line array looked like a
    table header, and `has_sla = x` inside a multi-line string like a key."""
    starts: set[int] = set()
    depth = 0  # open [ and { of values
    closing = ""  # the delimiter of the multi-line string the line is in
    for number, line in enumerate(text.splitlines(), start=1):
        if depth == 0 and not closing:
            starts.add(number)
        i = 0
        while i < len(line):
            if closing:
                end = line.find(closing, i)
                while closing == '"""' and end > 0 and _escaped(line, end):
                    end = line.find(closing, end + 1)
                if end < 0:
                    break
                # A closing delimiter may be followed by one or two quotes of the value.
                i = end + 3
                while i < len(line) and line[i] == closing[0]:
                    i += 1
                closing = ""
                continue
            char = line[i]
            if char == "#":
                break
            if line.startswith(('"""', "'''"), i):
                closing = line[i : i + 3]
                i += 3
                continue
            if char in "\"'":
                end = i + 1
                while end < len(line) and (
                    line[end] != char or (char == '"' and _escaped(line, end))
                ):
                    end += 1
                i = end + 1
                continue
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth = max(depth - 1, 0)
            i += 1
    return starts


def _escaped(line: str, at: int) -> bool:
    """Whether the character at `at` follows an odd number of backslashes."""
    run = len(line[:at]) - len(line[:at].rstrip("\\"))
    return run % 2 == 1


def _line_of(text: str, field: str) -> int | None:
    """The line of a policy file where `field` (`versions[1].metrics.resolution.
    targets.premium.limit_days`) is written, or where the nearest table or key
    holding it is (a value inside an inline table or list, or a key left out, is
    found at the key or header above it); None when nothing of it is found.

    A reading of the file's lines, not a TOML parser: the file has parsed by then,
    so headers and `key =` lines at the start of a line are what they look like,
    except for lines inside a multi-line string or array (`_statement_lines`)."""
    lines: dict[tuple, int] = {}
    counts: dict[tuple, int] = {}  # arrays of tables: how many so far
    table: tuple = ()
    starts = _statement_lines(text)
    for number, line in enumerate(text.splitlines(), start=1):
        if number not in starts:
            continue
        header = _HEADER.match(line)
        if header:
            parts = _key_parts(header.group(2))
            new_element = header.group(1) == "[["
            path: tuple = ()
            for i, part in enumerate(parts):
                path += (part,)
                if path in counts and not (new_element and i == len(parts) - 1):
                    # [versions.tiers.x] is a table of the latest [[versions]].
                    path += (counts[path] - 1,)
            if new_element:
                counts[path] = counts.get(path, 0) + 1
                path += (counts[path] - 1,)
            table = path
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault(table + tuple(_key_parts(key.group(1))), number)
    wanted = tuple(
        int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", field)
    )
    for end in range(len(wanted), 0, -1):
        if wanted[:end] in lines:
            return lines[wanted[:end]]
    return None


# ---------------------------------------------------------------------- parsing
#
# Each helper gets the source (file name) and `where`, the field path so far
# (`versions[0].metrics.resolution`), so that every error names both. The first
# problem found is raised: one PolicyError names one field.


def _field(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _hint(word: str, choices: Iterable[str]) -> str:
    """' (did you mean ...?)' for a near miss, else the names that are known."""
    choices = list(choices)
    return did_you_mean(word, choices) or f" (known: {', '.join(choices) or 'none'})"


def _check_keys(
    raw: Mapping, allowed: Iterable[str], source: str, where: str, *, what: str = "key"
) -> None:
    allowed = tuple(allowed)
    for key in raw:
        if key not in allowed:
            raise PolicyError(
                source, _field(where, key), f"unknown {what} {key!r}{_hint(str(key), allowed)}"
            )


def _table(doc: Mapping, key: str, source: str, where: str, *, required: bool = True) -> dict:
    value = doc.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        got = "nothing" if value is None else repr(value)
        raise PolicyError(source, where, f"a table is required here, got {got}")
    return dict(value)


def _number(
    value: Any, source: str, where: str, *, allow_zero: bool = False, most: float | None = None
) -> float:
    """A finite number > 0 (>= 0 with `allow_zero`), at most `most`. bool is excluded:
    TOML `true` is a Python int subclass, and NaN or infinity would compare false
    everywhere."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(source, where, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise PolicyError(source, where, f"expected a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise PolicyError(source, where, f"expected a number {bound}, got {value!r}")
    if most is not None and value > most:
        raise PolicyError(source, where, f"expected at most {most:,g} (ten years), got {value!r}")
    return float(value)


def _string(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(source, where, f"expected a string, got {value!r}")
    return value


def _name(value: Any, source: str, where: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(source, where, f"{what} is required (a non-empty string), got {value!r}")
    return value


def _boolean(value: Any, source: str, where: str) -> bool:
    # `bool("false")` is True: only a real TOML boolean says what it means.
    if not isinstance(value, bool):
        raise PolicyError(source, where, f"expected true or false, got {value!r}")
    return value


def _choice(value: Any, choices: tuple[str, ...], source: str, where: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(
            source, where, f"expected one of {', '.join(choices)} (a string), got {value!r}"
        )
    if value not in choices:
        raise PolicyError(
            source,
            where,
            f"unknown value {value!r}{did_you_mean(value, choices)}; "
            f"use one of {', '.join(choices)}",
        )
    return value


def _strings(
    value: Any, source: str, where: str, *, choices: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    # A string where a list belongs would otherwise become a tuple of its letters.
    if not isinstance(value, list | tuple):
        raise PolicyError(
            source, where, f'expected a list of strings like ["a", "b"], got {value!r}'
        )
    for i, item in enumerate(value):
        if choices is None:
            _string(item, source, f"{where}[{i}]")
        else:
            _choice(item, choices, source, f"{where}[{i}]")
    return tuple(value)


def _date(value: Any, source: str, where: str) -> dt.date:
    """A TOML date or a 'YYYY-MM-DD' string. A TOML date-time is refused: a version
    starts on a local date of the report time zone, not at an instant."""
    if isinstance(value, dt.datetime):
        raise PolicyError(source, where, f"a date YYYY-MM-DD is required, not a date-time: {value}")
    day = iso_date(value)
    if day is not None:
        return day
    got = "nothing" if value is None else repr(value)
    raise PolicyError(source, where, f"a date YYYY-MM-DD is required, got {got}")


def _calendar(tables: Mapping, name: str, source: str, built: dict[str, Calendar]) -> Calendar:
    """Build calendar `name` once, as a PolicyError naming the file and field if it is bad."""
    if name in built:
        return built[name]
    try:
        calendar = Calendar.from_tables(tables, name)
    except CalendarError as exc:
        field = (
            f"calendars.{name}" if exc.field.startswith("<") else f"calendars.{name}.{exc.field}"
        )
        # The field is in the PolicyError already: the calendar's own words only.
        raise PolicyError(source, field, exc.message) from None
    built[name] = calendar
    return calendar


def _threshold(raw: Any, source: str, where: str) -> Threshold:
    if not isinstance(raw, Mapping):
        raise PolicyError(
            source,
            where,
            "expected { target_hours = N } or { target_days = N, limit_days = M }, "
            f"got {raw!r}",
        )
    units = [unit for unit in ("hours", "days") if f"target_{unit}" in raw]
    if not units:
        raise PolicyError(source, where, "needs target_hours or target_days")
    if len(units) > 1:
        raise PolicyError(source, f"{where}.target_days", "give the target in hours or in days")
    unit = units[0]
    for key in raw:
        if key in ("limit_hours", "limit_days") and key != f"limit_{unit}":
            raise PolicyError(
                source, f"{where}.{key}", f"the limit must be in the target's unit: limit_{unit}"
            )
    _check_keys(raw, (f"target_{unit}", f"limit_{unit}"), source, where)
    target = _number(raw[f"target_{unit}"], source, f"{where}.target_{unit}", most=MOST[unit])
    limit = _number(
        raw.get(f"limit_{unit}", target), source, f"{where}.limit_{unit}", most=MOST[unit]
    )
    if limit < target:
        raise PolicyError(
            source,
            f"{where}.limit_{unit}",
            f"the limit ({limit:g}) is below the target ({target:g})",
        )
    return Threshold(target, limit, unit)


def _thresholds(
    raw: Mapping, keys: tuple[str, ...], what: str, source: str, where: str
) -> dict[str, Threshold]:
    _check_keys(raw, keys, source, where, what=what)
    return {key: _threshold(spec, source, f"{where}.{key}") for key, spec in raw.items()}


def _rule_value(field: str, value: Any, source: str, where: str) -> Any:
    """A value that ticket field `field` can hold (see RULE_FIELD_VALUES)."""
    kind = RULE_FIELD_VALUES[field]
    if kind is bool:
        return _boolean(value, source, where)
    if kind is str:
        text = _string(value, source, where)
        # The loader trims free text and stores an empty cell as no value
        # (sla_text in load_macros.sql): such a rule would silently match nothing.
        if not text.strip():
            raise PolicyError(
                source, where, "an empty value matches no ticket (an empty cell is loaded as none)"
            )
        if text != text.strip():
            raise PolicyError(
                source,
                where,
                f"{text!r} has spaces at its ends, which no loaded value has (the loader "
                f"trims them): write {text.strip()!r}",
            )
        return text
    return _choice(value, kind, source, where)


def _rule_field(value: Any, source: str, where: str) -> str:
    field = _string(value, source, where)
    if field not in RULE_FIELD_VALUES:
        raise PolicyError(
            source, where, f"unknown ticket field {field!r}{_hint(field, RULE_FIELD_VALUES)}"
        )
    return field


def _parse_tier(key: str, spec: Any, source: str, where: str) -> Tier:
    if not isinstance(spec, Mapping):
        raise PolicyError(
            source,
            where,
            f"a table is required here ([versions.tiers.{key}] with label = ...), got {spec!r}",
        )
    _check_keys(spec, TIER_KEYS, source, where)
    price = spec.get("price_eur_month")
    return Tier(
        key=key,
        # Every report names the tier by it: an empty label left blank cells.
        label=_name(spec.get("label", key.title()), source, f"{where}.label", "a label"),
        has_sla=_boolean(spec.get("has_sla", False), source, f"{where}.has_sla"),
        price_eur_month=None
        if price is None
        else _number(price, source, f"{where}.price_eur_month", allow_zero=True),
        price_label=_string(spec.get("price_label", ""), source, f"{where}.price_label"),
        # The tier report names each in words of the report's language, as it
        # names a ticket's channel: a misspelt one ("emial") was shown as it stood.
        support=_strings(spec.get("support", []), source, f"{where}.support", choices=CHANNELS),
        support_descriptions=_texts(
            spec.get("support_description", ""), source, f"{where}.support_description"
        ),
    )


def _texts(value: Any, source: str, where: str) -> dict[str, str]:
    """A text for people: one string, or a table of them by language."""
    if isinstance(value, str):
        return {"": value}
    if not isinstance(value, Mapping) or not value:
        raise PolicyError(
            source, where, f"expected a string or a table of them by language, got {value!r}"
        )
    for lang in value:
        if lang not in LOCALES:
            raise PolicyError(
                source, f"{where}.{lang}", f"unknown language{_hint(str(lang), LOCALES)}"
            )
    if "en" not in value:
        # English is what a report in a language the table lacks falls back to.
        raise PolicyError(source, f"{where}.en", "a table of texts needs the English one")
    texts = {lang: _string(text, source, f"{where}.{lang}") for lang, text in value.items()}
    for lang, text in texts.items():
        if not text.strip():
            raise PolicyError(source, f"{where}.{lang}", "an empty text: leave the language out")
    return texts


def _parse_metric(
    name: str,
    raw: Any,
    source: str,
    where: str,
    tiers: Mapping[str, Tier],
    tables: Mapping,
    built: dict[str, Calendar],
) -> Metric:
    if not isinstance(raw, Mapping):
        raise PolicyError(source, where, f"a table is required here, got {raw!r}")
    _check_keys(raw, METRIC_KEYS, source, where)
    clock = _choice(raw.get("clock", "working"), ("working", "clock"), source, f"{where}.clock")
    calendar = _string(raw.get("calendar", "office"), source, f"{where}.calendar")
    if calendar not in tables:
        raise PolicyError(
            source, f"{where}.calendar", f"unknown calendar {calendar!r}{_hint(calendar, tables)}"
        )
    targets = _thresholds(
        _table(raw, "targets", source, f"{where}.targets", required=False),
        tuple(tiers),
        "tier",
        source,
        f"{where}.targets",
    )
    benchmark = _string(raw.get("benchmark_tier", "business"), source, f"{where}.benchmark_tier")
    if benchmark not in targets:
        raise PolicyError(
            source,
            f"{where}.benchmark_tier",
            f"{benchmark!r} has no targets{_hint(benchmark, targets)}",
        )
    for tier in tiers.values():
        if tier.has_sla and tier.key not in targets:
            raise PolicyError(source, f"{where}.targets", f"SLA tier {tier.key!r} has no target")
    by_priority = _thresholds(
        _table(raw, "by_priority", source, f"{where}.by_priority", required=False),
        PRIORITIES,
        "priority",
        source,
        f"{where}.by_priority",
    )
    raw_excludes = raw.get("exclude", [])
    if not isinstance(raw_excludes, list | tuple):
        raise PolicyError(
            source, f"{where}.exclude", f"expected a list of exclusion rules, got {raw_excludes!r}"
        )
    excludes = []
    for i, rule in enumerate(raw_excludes):
        at = f"{where}.exclude[{i}]"
        if not isinstance(rule, Mapping):
            raise PolicyError(
                source, at, f"expected {{ rule = ..., field = ..., value = ... }}, got {rule!r}"
            )
        _check_keys(rule, EXCLUDE_KEYS, source, at)
        missing = [key for key in EXCLUDE_KEYS if key not in rule]
        if missing:
            raise PolicyError(source, f"{at}.{missing[0]}", "required")
        field = _rule_field(rule["field"], source, f"{at}.field")
        excludes.append(
            Exclusion(
                _name(rule["rule"], source, f"{at}.rule", "a rule name"),
                field,
                _rule_value(field, rule["value"], source, f"{at}.value"),
            )
        )
    if "reopen_rule" in raw and name != "resolution":
        # Accepted, it would do nothing: the first response stops at the first reply.
        raise PolicyError(
            source,
            f"{where}.reopen_rule",
            "reopens only matter to resolution (the first response clock stops at the "
            "first reply): set reopen_rule under [versions.metrics.resolution]",
        )
    reopen_rule = _choice(
        raw.get("reopen_rule", "exclude_gaps"), REOPEN_RULES, source, f"{where}.reopen_rule"
    )
    share = _number(raw.get("at_risk_share", 0.75), source, f"{where}.at_risk_share")
    if share > 1:
        raise PolicyError(
            source,
            f"{where}.at_risk_share",
            f"a share of the limit, 0 < share <= 1 (0.75 is 75 %), got {share!r}",
        )
    pauses = _strings(
        raw.get("pause_statuses", []), source, f"{where}.pause_statuses", choices=STATUSES
    )
    if set(pauses) & set(RESOLVED_STATUSES):
        raise PolicyError(
            source, f"{where}.pause_statuses", "a resolved or closed status cannot pause the clock"
        )
    if name == "first_response" and "new" in pauses:
        # Accepted, every first response measured 0 s and was met: a ticket is
        # `new` from its creation until an agent takes it up, usually with the reply.
        raise PolicyError(
            source,
            f"{where}.pause_statuses[{pauses.index('new')}]",
            "'new' is the status a ticket waits for its first response in, so pausing it "
            "would stop the first response clock altogether",
        )
    metric = Metric(
        name=name,
        clock=clock,
        calendar=calendar,
        pause_statuses=pauses,
        benchmark_tier=benchmark,
        at_risk_share=share,
        targets=targets,
        by_priority=by_priority,
        exclude=tuple(excludes),
        reopen_rule=reopen_rule,
    )
    # "N working days" is N full opening days of the calendar: one without any
    # weekly hours (only dated openings) has no such day to count in.
    if _calendar(tables, metric.calendar_name, source, built).working_day_seconds == 0:
        for kind in ("targets", "by_priority"):
            for key, threshold in getattr(metric, kind).items():
                if threshold.unit == "days":
                    raise PolicyError(
                        source,
                        f"{where}.{kind}.{key}.target_days",
                        f"calendar {metric.calendar_name!r} has no opening hours in its week, "
                        "so a working day has no length: give the target in hours",
                    )
    return metric


def _parse_outage(raw: Any, source: str, where: str, tables: Mapping) -> OutageLine:
    if not isinstance(raw, Mapping):
        raise PolicyError(source, where, f"a table is required here, got {raw!r}")
    _check_keys(raw, OUTAGE_KEYS, source, where)
    raw_match = raw.get("match", {"channel": "outage_line"})
    # An empty match would match every ticket and put all of them on the outage line.
    if not isinstance(raw_match, Mapping) or not raw_match:
        raise PolicyError(
            source,
            f"{where}.match",
            "expected a table of ticket fields like { channel = 'outage_line' }, "
            f"got {raw_match!r}",
        )
    match = {}
    for key, value in raw_match.items():
        field = _rule_field(key, source, f"{where}.match.{key}")
        match[field] = _rule_value(field, value, source, f"{where}.match.{key}")
    calendar = _string(raw.get("calendar", "always"), source, f"{where}.calendar")
    if calendar not in tables:
        raise PolicyError(
            source, f"{where}.calendar", f"unknown calendar {calendar!r}{_hint(calendar, tables)}"
        )
    target = raw.get("first_response_target_hours")
    if target is not None:
        target = _number(target, source, f"{where}.first_response_target_hours", most=MOST["hours"])
    applies_to = _strings(
        raw.get("applies_to", list(METRICS)), source, f"{where}.applies_to", choices=METRICS
    )
    if target is not None and "first_response" not in applies_to:
        # Accepted, it would do nothing: a call's first response outside applies_to
        # is held to its tier's target, so the line's own target was silently unused.
        raise PolicyError(
            source,
            f"{where}.first_response_target_hours",
            "the outage line's first response target only applies when applies_to "
            'names "first_response"; add it there or leave the target out',
        )
    return OutageLine(
        match=match,
        calendar=calendar,
        first_response_target_hours=target,
        applies_to=applies_to,
        billable_cause_domain=_choice(
            raw.get("billable_cause_domain", "customer"),
            CAUSE_DOMAINS,
            source,
            f"{where}.billable_cause_domain",
        ),
    )


def _parse_version(
    raw: Any, source: str, where: str, tables: Mapping, built: dict[str, Calendar]
) -> PolicyVersion:
    if not isinstance(raw, Mapping):
        raise PolicyError(source, where, f"a table is required here, got {raw!r}")
    _check_keys(raw, VERSION_KEYS, source, where)
    version = _name(raw.get("version"), source, f"{where}.version", "a version name")
    effective = _date(raw.get("effective_from"), source, f"{where}.effective_from")
    description = _string(raw.get("description", ""), source, f"{where}.description")
    raw_tiers = _table(raw, "tiers", source, f"{where}.tiers")
    # Customers' plans only ever hold the canonical tiers: any other name would
    # never apply to a ticket.
    _check_keys(raw_tiers, TIERS, source, f"{where}.tiers", what="tier")
    tiers = {
        key: _parse_tier(key, spec, source, f"{where}.tiers.{key}")
        for key, spec in raw_tiers.items()
    }
    metrics_raw = _table(raw, "metrics", source, f"{where}.metrics")
    if not metrics_raw:
        raise PolicyError(
            source, f"{where}.metrics", f"at least one metric is required ({', '.join(METRICS)})"
        )
    _check_keys(metrics_raw, METRICS, source, f"{where}.metrics", what="metric")
    metrics = {
        name: _parse_metric(
            name, metrics_raw[name], source, f"{where}.metrics.{name}", tiers, tables, built
        )
        for name in METRICS
        if name in metrics_raw
    }
    outage = None
    if "outage_line" in raw:
        outage = _parse_outage(raw["outage_line"], source, f"{where}.outage_line", tables)
    return PolicyVersion(
        version=version,
        effective_from=effective,
        description=description,
        tiers=tiers,
        metrics=metrics,
        outage_line=outage,
    )


def _check_version_order(versions: list[PolicyVersion], source: str) -> None:
    """Unique names, and dates strictly rising in file order.

    The versions are not sorted silently: a mistyped year in the newest version's
    date (2016 for 2026) would move it to the front and change which tickets it
    judges, without a word."""
    first_with: dict[str, int] = {}
    for i, v in enumerate(versions):
        if v.version in first_with:
            raise PolicyError(
                source,
                f"versions[{i}].version",
                f"{v.version!r} is also the name of versions[{first_with[v.version]}]; "
                "version names must be unique",
                version=v.version,
            )
        first_with[v.version] = i
    for i in range(1, len(versions)):
        before, this = versions[i - 1], versions[i]
        if this.effective_from == before.effective_from:
            raise PolicyError(
                source,
                f"versions[{i}].effective_from",
                f"{this.effective_from} is also the effective_from of versions[{i - 1}] "
                f"({before.version!r}); each version needs its own date",
                version=this.version,
            )
        if this.effective_from < before.effective_from:
            raise PolicyError(
                source,
                f"versions[{i}].effective_from",
                f"{this.effective_from} is before versions[{i - 1}] ({before.version!r}, "
                f"{before.effective_from}); list the versions oldest first",
                version=this.version,
            )
