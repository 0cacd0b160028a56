"""Messages and locale formatting for reports.

All report text comes from a catalogue (`pipeline/locale/<lang>.toml`); numbers,
percentages and dates are formatted by Babel for the reader's locale
("97,1 %", "oktober 2026" in Dutch).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from babel.dates import format_date, format_datetime, get_day_names
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, format_percent, get_decimal_symbol

from pipeline.errors import PipelineError

LOCALES = {"en": "en_GB", "nl": "nl_NL"}


@cache
def catalogue(lang: str) -> dict[str, str]:
    if lang not in LOCALES:
        raise PipelineError(f"unknown language {lang!r}: use one of {', '.join(LOCALES)}")
    text = resources.files("pipeline.locale").joinpath(f"{lang}.toml").read_text("utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class Messages:
    """Translate keys and format values for one language."""

    lang: str

    @property
    def locale(self) -> str:
        return LOCALES[self.lang]

    @property
    def decimal(self) -> str:
        """The decimal sign ("," in Dutch), for text Babel does not format (chart ticks)."""
        return get_decimal_symbol(self.locale)

    def __call__(self, key: str, **values: object) -> str:
        return catalogue(self.lang)[key].format(**values)

    def code(self, field: str, value: str) -> str:
        """A canonical value of a ticket field in words ('outage_line' -> 'Outage line');
        '-' for a value not recorded; a value the catalogue does not name, as it is."""
        if value == "-":
            return self("value_unknown")
        return catalogue(self.lang).get(f"{field}_{value}", value)

    def in_sentence(self, text: str) -> str:
        """A label as it reads inside a sentence or list ('E-mail' -> 'e-mail'): its
        first letter lowered, unless it starts an abbreviation ('API')."""
        if text[1:2].isupper():
            return text
        return text[:1].lower() + text[1:]

    def word(self, field: str, value: str) -> str | None:
        """A canonical value of a ticket field as it reads inside a sentence
        ('outage_line' -> 'storingsdienst'); None for a value the catalogue does
        not name (a custom policy's)."""
        word = catalogue(self.lang).get(f"{field}_{value}")
        return None if word is None else self.in_sentence(word)

    def calendar(self, name: str) -> str:
        """A calendar of the policy in words, for after an article ('office
        calendar', 'kantoorkalender'); one the catalogue does not name, by its
        name ('support_eu calendar', 'kalender support_eu')."""
        return catalogue(self.lang).get(f"calendar_{name}") or self("named_calendar", name=name)

    def pct(self, value: float | None, digits: int = 1) -> str:
        if value is None or value != value:
            return "–"
        # Dutch puts a space before the sign: a no-break space, so that a line
        # never ends in "90,0" with the "%" on the next.
        sign = "\u00a0%" if self.lang == "nl" else "%"
        pattern = "#,##0." + "0" * digits + sign
        return format_percent(short_of_bounds(value, digits), pattern, locale=self.locale)

    def points(self, value: float | None) -> str:
        """A change of a share, in percentage points with its sign."""
        if value is None or value != value:
            return "–"
        text = format_decimal(abs(value) * 100, "#,##0.0", locale=self.locale)
        sign = "+" if value > 0 else "−" if value < 0 else "±"
        # The unit is the reader's: "pp" in English, "procentpunt" in Dutch.
        return self("points", value=f"{sign}{text}")

    def number(self, value: float | None, digits: int = 0) -> str:
        if value is None or value != value:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, pattern, locale=self.locale)

    def quantity(self, value: float) -> str:
        """A stated amount (8 hours, 4.5 hours): a decimal only when it has one."""
        return self.number(value, 1 if value % 1 else 0)

    def join(self, items: Iterable[str]) -> str:
        """Items as a list in the reader's words ('a, b and c'; 'a, b en c')."""
        return format_list(list(items), locale=self.locale)

    def currency(self, value: float, currency: str) -> str:
        """An amount of money in the reader's format (EUR 89 -> "€ 89,00" in Dutch)."""
        return format_currency(value, currency, locale=self.locale)

    def hours(self, seconds: float | None) -> str:
        return self.number(None if seconds is None else seconds / 3600, 1)

    def month(self, month: str) -> str:
        day = dt.date.fromisoformat(f"{month}-01")
        return format_date(day, "MMMM y", locale=self.locale)

    def short_month(self, month: str) -> str:
        # "nov '25", not "nov 25": a Dutch reader takes the latter for 25 November.
        day = dt.date.fromisoformat(f"{month}-01")
        return format_date(day, "MMM ''yy", locale=self.locale)

    def datetime(self, value: dt.datetime | None, tz: str) -> str:
        if value is None:
            return "–"
        return format_datetime(value, "d MMM y HH:mm", tzinfo=_zone(tz), locale=self.locale)

    def instant(self, value: dt.datetime, tz: str) -> str:
        """An instant to the second with its offset ('23 okt 2026 17:00:00 +02:00'),
        for an audit: a minute is too coarse there, and the hour the clocks go back
        occurs twice."""
        return format_datetime(value, "d MMM y HH:mm:ss xxx", tzinfo=_zone(tz), locale=self.locale)

    def exact(self, value: float) -> str:
        """A number with the decimals it has, up to three ("4,5", "0,25", "8")."""
        return format_decimal(value, "#,##0.###", locale=self.locale)

    def short_date(self, value: dt.date) -> str:
        """A date beside a time of day ("6 okt 2026"), as `datetime` writes it."""
        return format_date(value, "d MMM y", locale=self.locale)

    def date(self, value: dt.date) -> str:
        return format_date(value, "d MMMM y", locale=self.locale)

    def weekday(self, index: int) -> str:
        """The abbreviated name of a weekday, Monday = 0 ("Mon", "ma")."""
        return get_day_names("abbreviated", locale=self.locale)[index]


# The policy's values are said in words first, each value itself kept beside its
# words ('kanaal storingsdienst (outage_line)'): it is what the reader looks up in
# the data. A value the catalogue has no words for (a custom policy's) is shown as
# the policy writes it. A field's values are named in the catalogue under the field
# name, a ticket's status under `ticket_status` (`status_*` are the judgements).
FIELD_WORDS = {"status": "ticket_status"}


def with_code(word: str, value: str) -> str:
    """Words with the value they stand for ('storingsdienst (outage_line)'); the
    words alone when they are the value ('critical')."""
    return word if word.lower() == value.lower() else f"{word} ({value})"


def calendar_named(m: Messages, name: str) -> str:
    """A calendar in words with its policy name ('kantoorkalender (office)'), where
    the method section defines it."""
    words = m.calendar(name)
    return words if name in words.split() else f"{words} ({name})"


def status_named(m: Messages, status: str) -> str:
    """A ticket status in words, quoted (it may be several words), with its value:
    '„wacht op klant” (waiting_on_customer)'."""
    words = m.word("ticket_status", status)
    quoted = m("quoted", text=words or status)
    return quoted if words is None or words == status else f"{quoted} ({status})"


def short_of_bounds(share: float, digits: int = 1) -> float:
    """`share` moved, if need be, so that shown as a percentage with `digits`
    decimals it reads neither 100 nor 0 unless it is: a share short of all (1 miss
    in 3,000) must not round to "100.0%", nor one above none to "0.0%", which a
    reader takes for "every ticket" and "none"."""
    step = 10.0 ** -(digits + 2)
    # An interval's end at 1 or 0 comes out of floating point a hair inside it
    # (0.9999999999999999): that is the bound, not a share short of it.
    if abs(share - round(share)) < 1e-9:
        return float(round(share))
    if 0 < share < 1:
        return min(max(share, step), 1 - step)
    return share


def condition(m: Messages, field: str, value: object, tier_labels: dict[str, str]) -> str:
    """An exclusion rule's or the outage line's match in words: 'kanaal storingsdienst
    (outage_line)', 'een vereiste IT-release (requires_it_release = true)'."""
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    raw = f"{field} = {shown}"
    if isinstance(value, bool):
        # A yes/no field has words for the condition as a whole.
        words = m.word(field, shown)
        return raw if words is None else f"{words} ({raw})"
    if field == "tier":
        words = tier_labels.get(shown)  # a name: not lowered
    else:
        words = m.word(FIELD_WORDS.get(field, field), shown)
    if words is None:
        return raw
    return f"{m(f'field_{field}')} {with_code(words, shown)}"


def _zone(tz: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)
