"""What-if: two policies over the same tickets, and the comparison in each language."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from rich.console import Console

from pipeline.policy import Policy
from pipeline.whatif import whatif, whatif_renderables
from tests.evaluation_fixtures import build, hand_worked_plans, ticket

AS_OF = "2026-11-01T00:00"


@pytest.fixture(scope="module")
def side():
    # Premium answered in 6 working hours: met under 8, breached under 4 from July.
    tickets = [
        ticket("P1", "C-PREM", "2026-10-05T09:00", first_response="2026-10-05T15:00"),
        ticket("P2", "C-PREM", "2026-10-06T09:00", first_response="2026-10-06T10:00"),
        ticket("B1", "C-BUS", "2026-10-07T09:00", first_response="2026-10-07T10:00"),
        ticket("F1", "C-FREE", "2026-10-08T09:00", first_response="2026-10-08T10:00"),
    ]
    doc = Policy.default().document
    later = json.loads(json.dumps(doc["versions"][0]))
    later.update(version="2026.2", effective_from="2026-07-01", description="Premium 4 h")
    for bound in ("target_hours", "limit_hours"):
        later["metrics"]["first_response"]["targets"]["premium"][bound] = 4
    # Pioneer with an SLA in the other policy: its standing changes.
    later["tiers"]["pioneer"]["has_sla"] = True
    later["metrics"]["first_response"]["targets"]["pioneer"] = {"target_hours": 24}
    later["metrics"]["resolution"]["targets"]["pioneer"] = {"target_days": 3, "limit_days": 7}
    other = Policy.from_dict({**doc, "versions": [doc["versions"][0], later]})
    con = build(tickets, [], hand_worked_plans())
    return whatif(con, other, as_of=AS_OF, month_from="2026-10", month_to="2026-10")


def _text(side, lang: str) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None, soft_wrap=True)
    for item in whatif_renderables(
        side, "premium-4h.toml", month_from="2026-10", month_to="2026-10", lang=lang
    ):
        console.print(item)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_comparison_in_dutch(side) -> None:
    text = _text(side, "nl")
    assert "Wat als: premium-4h.toml" in text
    assert "Gesloten (huidig)" in text and "Ander beleid" in text and "Verschil" in text
    premium = next(line for line in text.splitlines() if "Premium" in line and "Eerste" in line)
    # 2 of 2 within 8 h, 1 of 2 within 4 h: 50 points down, with a decimal comma.
    assert "100,0\u00a0%" in premium and "50,0\u00a0%" in premium
    assert "−50,0\u00a0procentpunt" in premium
    assert "Pioneer (alleen ter vergelijking → SLA)" in text
    assert (
        "Oktober 2026, beide berekeningen met de stand per 1 nov 2026 00:00; om een ervan op "
        "te slaan: sla evaluate --policy BESTAND --as-of "
        "2026-10-31T23:00:00+00:00 --from 2026-10 --to 2026-10"
    ) in text
    # "kanten" was "sides" word for word: a Dutch reader compares calculations.
    for english in ("closed", "current", "benchmark", "both sides", " pp", "kant"):
        assert english not in text


def test_the_comparison_in_english_keeps_the_codes(side) -> None:
    text = _text(side, "en")
    assert "What if: premium-4h.toml" in text and "closed (current)" in text
    premium = next(
        line for line in text.splitlines() if "premium" in line and "first_response" in line
    )
    assert "100.0%" in premium and "50.0%" in premium and "-50.0 pp" in premium
    assert "pioneer (benchmark only -> SLA)" in text
    assert "months 2026-10 to 2026-10, both sides as of 2026-10-31T23:00:00+00:00" in text


def test_an_as_of_in_the_future_is_noted_as_sla_evaluate_notes_it(side) -> None:
    # sla evaluate said so; the comparison measured open tickets up to an instant
    # that had not come yet without a word.
    assert "in the future" not in _text(side, "en")
    ahead = side.copy()
    ahead.attrs = {**side.attrs, "as_of": pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=30)}
    assert (
        "Note: the as-of instant is in the future: open tickets count working time up to it"
    ) in _text(ahead, "en")
    assert "Let op: het peilmoment ligt in de toekomst" in _text(ahead, "nl")


def test_a_share_short_of_all_is_not_shown_as_all(side) -> None:
    """Found in the sales pass: the English table printed 1 miss in 3,000 as "100.0%"."""
    nearly = side.copy()
    nearly.attrs = side.attrs
    premium = (nearly["tier"] == "premium") & (nearly["metric"] == "first_response")
    nearly.loc[premium, "compliance_current"] = 2999 / 3000
    line = next(
        line
        for line in _text(nearly, "en").splitlines()
        if "premium" in line and "first_response" in line
    )
    assert "99.9%" in line and "100.0%" not in line


def test_the_tiers_stand_in_the_policys_order(side) -> None:
    """Found by QA: the tiers came alphabetically (business, pioneer, premium,
    professional), not Pioneer up to Premium as every report lists them."""
    assert list(side["tier"]) == [
        "pioneer",
        "pioneer",
        "business",
        "business",
        "premium",
        "premium",
    ]
    assert list(side["metric"]) == ["first_response", "resolution"] * 3
    text = _text(side, "en")
    lines = [line for line in text.splitlines() if "first_response" in line]
    assert [line.strip("│ ").split()[0] for line in lines] == ["pioneer", "business", "premium"]
