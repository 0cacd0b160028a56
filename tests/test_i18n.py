"""The message catalogues: every language says everything, with the same values."""

from __future__ import annotations

import string

import pytest

from pipeline.i18n import LOCALES, Messages, catalogue
from pipeline.load import REASONS


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_the_same_keys_and_placeholders() -> None:
    english = catalogue("en")
    for lang in LOCALES:
        other = catalogue(lang)
        assert set(other) == set(english), lang
        for key, text in english.items():
            assert _fields(other[key]) == _fields(text), (lang, key)


@pytest.mark.parametrize("lang", list(LOCALES))
def test_every_rejection_reason_and_flag_has_words(lang: str) -> None:
    texts = catalogue(lang)
    flags = ("auto_response", "created_in_future")  # load_tickets_merge.sql
    missing = [c for c in REASONS if f"reason_{c}" not in texts]
    missing += [c for c in flags if f"flag_{c}" not in texts]
    assert not missing


@pytest.mark.parametrize(("lang", "label"), [("en", "Nov '25"), ("nl", "nov '25")])
def test_short_month_marks_the_year(lang: str, label: str) -> None:
    # "nov 25" reads as 25 November in Dutch.
    assert Messages(lang).short_month("2025-11") == label


@pytest.mark.parametrize(
    ("lang", "text"), [("en", "−3.4\u00a0pp"), ("nl", "−3,4\u00a0procentpunt")]
)
def test_percentage_points_in_the_readers_unit(lang: str, text: str) -> None:
    # Dutch readers know "procentpunt", not "pt".
    assert Messages(lang).points(-0.034) == text
    assert Messages(lang).points(0.0).startswith("±0")


def test_a_label_inside_a_sentence_keeps_an_abbreviation() -> None:
    m = Messages("nl")
    assert [m.in_sentence(w) for w in ("E-mail", "Telefoon", "API", "24/7")] == [
        "e-mail",
        "telefoon",
        "API",
        "24/7",
    ]
    assert m.word("channel", "outage_line") == "storingsdienst"
    assert m.word("channel", "carrier_pigeon") is None


@pytest.mark.parametrize(
    ("lang", "share", "text"),
    [
        ("en", 1.0, "100.0%"),
        # Found in the sales pass: 1 miss in 3,000 read "100.0%", which a finance
        # lead takes for "never missed"; 1 met in 3,000 read "0.0%".
        ("en", 2999 / 3000, "99.9%"),
        ("en", 1 / 3000, "0.1%"),
        ("en", 0.0, "0.0%"),
        ("en", 0.99949, "99.9%"),
        ("en", 0.5, "50.0%"),
        # A Wilson interval's end at 1, as floating point gives it: the bound itself.
        ("en", 0.9999999999999999, "100.0%"),
        ("en", 1e-17, "0.0%"),
        ("nl", 2999 / 3000, "99,9\u00a0%"),
    ],
)
def test_a_share_short_of_all_or_above_none_is_not_shown_as_either(
    lang: str, share: float, text: str
) -> None:
    assert Messages(lang).pct(share) == text
