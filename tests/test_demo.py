"""The demo generator: deterministic, consistent with itself, broken where it says."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from pipeline.calendar import Calendar
from pipeline.demo import generate


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    files = generate(out, n_tickets=3000, n_customers=600, seed=11)
    return (
        files,
        pd.read_csv(files.tickets, dtype=str, keep_default_na=False),
        pd.read_csv(files.events, dtype=str, keep_default_na=False),
        pd.read_csv(files.customers, dtype=str, keep_default_na=False),
    )


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes(demo, tmp_path) -> None:
    files = demo[0]
    again = generate(tmp_path, n_tickets=3000, n_customers=600, seed=11)
    for a, b in zip(
        (files.customers, files.tickets, files.events),
        (again.customers, again.tickets, again.events),
        strict=True,
    ):
        assert digest(a) == digest(b)


def regular(tickets: pd.DataFrame) -> pd.DataFrame:
    """Generated tickets, without the deliberately broken rows."""
    ok = tickets[tickets["ticket_id"].str.match(r"^T\d+$")]
    return ok.drop_duplicates("ticket_id", keep=False)


def test_first_response_is_the_first_agent_reply(demo) -> None:
    _, tickets, events, _ = demo
    replies = events[events["kind"] == "agent_reply"].groupby("ticket_id")["at"].min()
    joined = regular(tickets).set_index("ticket_id").join(replies.rename("reply"), how="inner")
    answered = joined[joined["first_response_at"] != ""]
    assert len(answered) > 2500
    assert (
        pd.to_datetime(answered["first_response_at"], utc=True)
        == pd.to_datetime(answered["reply"], utc=True)
    ).all()


def test_resolved_at_is_the_last_resolve_event(demo) -> None:
    _, tickets, events, _ = demo
    resolves = events[events["kind"] == "resolve"].assign(
        at=lambda f: pd.to_datetime(f["at"], utc=True)
    )
    last = resolves.groupby("ticket_id")["at"].max()
    t = regular(tickets)
    t = t[t["resolved_at"] != ""].set_index("ticket_id").join(last.rename("last"), how="inner")
    assert len(t) > 2000
    assert (pd.to_datetime(t["resolved_at"], utc=True) == t["last"]).all()


def test_tier_mix_and_plan_changes(demo) -> None:
    customers = demo[3]
    tiers = customers.drop_duplicates("customer_id")["tier"].value_counts(normalize=True)
    assert 0.35 < tiers["pioneer"] < 0.55
    assert 0.02 < tiers["premium"] < 0.15
    assert customers["customer_id"].duplicated().sum() > 30  # upgrades and downgrades


def test_outage_line_calls_out_of_hours(demo) -> None:
    tickets = demo[1]
    outage = tickets[tickets["channel"] == "outage_line"]
    assert len(outage) > 10
    assert (outage["priority"] == "critical").all()
    created = pd.to_datetime(outage["created_at"], utc=True)
    # Out of hours includes public holidays: the office calendar decides.
    office = Calendar.builtin("office")
    assert (office.working_seconds(created, created + pd.Timedelta(seconds=1)) == 0).all()
    assert set(outage["cause_domain"]) == {"customer", "provider"}


def test_special_days_are_covered(demo) -> None:
    created = pd.to_datetime(regular(demo[1])["created_at"], utc=True)
    days = set(created.dt.tz_convert("Europe/Amsterdam").dt.date.astype(str))
    for day in ("2026-04-03", "2026-04-06", "2026-04-27", "2025-10-26", "2026-03-29", "2026-10-25"):
        assert day in days


def test_broken_rows_present(demo) -> None:
    _, tickets, events, _ = demo
    assert {
        "BROKEN-TS",
        "BROKEN-FR",
        "BROKEN-RES",
        "BROKEN-CUST",
        "BROKEN-PRIO",
        "FLAG-AUTO",
        "FLAG-FUTURE",
    } <= set(tickets["ticket_id"])
    assert (tickets["ticket_id"] == "").sum() == 1
    assert tickets.loc[tickets["ticket_id"] != "", "ticket_id"].duplicated().sum() == 1
    assert "T-DOES-NOT-EXIST" in set(events["ticket_id"])
    assert "<script>alert(1)</script>" in set(tickets["subject"])


def test_chunks_give_all_tickets(tmp_path) -> None:
    files = generate(tmp_path, n_tickets=2500, n_customers=100, chunk=1000, broken_rows=False)
    tickets = pd.read_csv(files.tickets, dtype=str)
    assert len(tickets) == 2500
    assert tickets["ticket_id"].is_unique
