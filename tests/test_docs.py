"""The documentation's examples: every TOML snippet parses and means what it shows."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from pipeline.calendar import Calendar

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _toml_blocks(path: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_toml_snippet_parses(path: Path, tmp_path: Path) -> None:
    for block in _toml_blocks(path):
        document = tomllib.loads(block)
        for name in document.get("calendars", {}):
            file = tmp_path / "calendar.toml"
            file.write_text(block)
            Calendar.from_toml(file, name)  # a calendar shown is one that loads


def test_the_readme_calendar_is_office_hours() -> None:
    (block,) = _toml_blocks(ROOT / "README.md")
    weekly = tomllib.loads(block)["calendars"]["office"]["weekly"]
    assert weekly["mon"] == [["09:00", "17:30"]] and weekly["sat"] == []


def test_every_policy_key_is_in_the_reference() -> None:
    from pipeline import policy

    text = (ROOT / "docs" / "policy.md").read_text()
    reference = text[text.index("## Every key") : text.index("## Versions")]
    keys = {
        *policy.POLICY_KEYS,
        *policy.VERSION_KEYS,
        *policy.TIER_KEYS,
        *policy.METRIC_KEYS,
        *policy.OUTAGE_KEYS,
    } - {"tiers", "metrics", "outage_line"}
    missing = sorted(k for k in keys if f"`{k}`" not in reference)
    assert missing == []


def test_every_calendar_key_is_in_the_reference() -> None:
    from pipeline.calendar import _KNOWN_KEYS

    text = (ROOT / "docs" / "policy.md").read_text()
    reference = text[text.index("## Every key") : text.index("## Versions")]
    assert sorted(k for k in _KNOWN_KEYS | {"subdiv"} if f"`{k}`" not in reference) == []


# The policies shipped: the built-in one and the examples (not the mapping files).
POLICIES = [
    ROOT / "pipeline" / "data" / "default_policy.toml",
    *(
        p
        for p in sorted((ROOT / "docs" / "examples").glob("*.toml"))
        if "[[versions]]" in p.read_text()
    ),
]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_every_shipped_policy_describes_its_tiers_in_every_report_language(path: Path) -> None:
    """The Dutch tier report under the what-if example showed 'Basic support via
    chat, e-mail and phone': the example's texts were English only."""
    from pipeline.i18n import LOCALES
    from pipeline.policy import Policy

    for version in Policy.from_toml(path).versions:
        for name, tier in version.tiers.items():
            assert set(tier.support_descriptions) == set(LOCALES), (version.version, name)


def _docs_text() -> str:
    return "\n".join(path.read_text() for path in DOCS)


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def test_every_command_and_option_is_in_the_docs() -> None:
    """`sla audit breaches --tier` had no place in README or docs/."""
    from pipeline.cli import cli

    text = _docs_text()
    missing = []
    for name, command in _commands(cli):
        if f"sla {name}" not in text:
            missing.append(f"sla {name}")
        for param in command.params:
            if isinstance(param, click.Option):
                missing += [f"sla {name} {opt}" for opt in param.opts if opt not in text]
    assert missing == []


def test_every_reason_code_is_in_the_canonical_format() -> None:
    """Every code a rejected, not-applied or flagged row can carry is explained
    where the format is."""
    from pipeline import load

    text = (ROOT / "docs" / "canonical-format.md").read_text()
    flags = re.findall(
        r"_line, '\w+', '(\w+)'", (ROOT / "pipeline" / "sql" / "load_tickets_merge.sql").read_text()
    )
    assert flags == list(load.FLAGS)  # the flags the merge sets are the ones load names
    # A rejection's code has a row of the reason table; the others are named in the text.
    unexplained = [code for code in load.REASONS if f"| `{code}` |" not in text]
    unnamed = [
        c for c in (*load.NOT_APPLIED_REASONS, *load.FLAGS, *load.DST_RULES) if f"`{c}`" not in text
    ]
    assert unexplained + unnamed == []


def test_every_column_of_figures_csv_and_breaches_csv_is_described() -> None:
    from dataclasses import fields

    from pipeline.report_monthly import BREACH_CSV_COLUMNS, LANGUAGE_FIELDS, Cell

    text = (ROOT / "docs" / "manifest.md").read_text()
    section = text[text.index("## The monthly report's") : text.index("## What `sla audit")]
    figures = [f.name for f in fields(Cell) if f.name not in LANGUAGE_FIELDS]
    assert [c for c in (*figures, *BREACH_CSV_COLUMNS) if f"`{c}`" not in section] == []


@pytest.mark.parametrize("kind", ["tickets", "events", "customers"])
def test_the_canonical_format_tables_are_the_loaders_columns(kind: str) -> None:
    """Each field table of docs/canonical-format.md: the loader's columns, in its
    order, marked required exactly where the loader requires them."""
    from pipeline.sources.base import REQUIRED
    from pipeline.sources.mapping import COLUMNS

    text = (ROOT / "docs" / "canonical-format.md").read_text()
    section = text[text.index(f"\n## {kind}\n") :].split("\n## ", 2)[1]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, flags=re.M)
    assert [name for name, _ in rows] == list(COLUMNS[kind])
    assert [name for name, required in rows if required.strip() == "yes"] == list(REQUIRED[kind])
