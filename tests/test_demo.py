"""The demo generator: deterministic, consistent with itself, realistic where it
says, and broken exactly where it says."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

import pipeline.demo as demo_module
from pipeline.calendar import Calendar
from pipeline.cli import cli
from pipeline.demo import BROKEN_ROWS, ESCAPING_ROWS, generate
from pipeline.load import load_file
from pipeline.sources.base import (
    ACTOR_TYPES,
    CHANNELS,
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    EVENT_KINDS,
    PRIORITIES,
    STATUSES,
    TICKET_COLUMNS,
)
from pipeline.warehouse import connect

N_TICKETS, N_CUSTOMERS, SEED = 3000, 600, 11
END = pd.Timestamp("2026-11-01", tz="Europe/Amsterdam")
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$"
DOCS = Path(__file__).parent.parent / "docs" / "demo-data.md"
OFFICE = Calendar.builtin("office")


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    files = generate(out, n_tickets=N_TICKETS, n_customers=N_CUSTOMERS, seed=SEED)
    return files, read(files.tickets), read(files.events), read(files.customers)


@pytest.fixture(scope="module")
def regular(demo) -> pd.DataFrame:
    """The generated tickets without the deliberately broken and escaping rows."""
    tickets = demo[1]
    return tickets[tickets["ticket_id"].str.fullmatch(r"T\d{7}")].reset_index(drop=True)


@pytest.fixture(scope="module")
def events(demo, regular) -> pd.DataFrame:
    ev = demo[2]
    ev = ev[ev["ticket_id"].isin(regular["ticket_id"])].copy()
    ev["at_utc"] = utc(ev["at"])
    return ev


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- shape and determinism -------------------------------------------------------------


def test_headers_and_counts(demo, regular) -> None:
    _, tickets, events, customers = demo
    assert tuple(tickets.columns) == TICKET_COLUMNS
    assert tuple(events.columns) == EVENT_COLUMNS
    assert tuple(customers.columns) == CUSTOMER_COLUMNS
    assert len(regular) == N_TICKETS
    assert regular["ticket_id"].tolist() == [f"T{i:07d}" for i in range(1, N_TICKETS + 1)]
    extra = sum(r.file == "tickets" for r in BROKEN_ROWS) + len(ESCAPING_ROWS)
    assert len(tickets) == N_TICKETS + extra
    assert customers["customer_id"].nunique() == N_CUSTOMERS
    per_ticket = len(events) / N_TICKETS
    assert 6 < per_ticket < 9  # the full life of a closed ticket alone is six events


def test_same_seed_same_bytes_other_seed_other_bytes(demo, tmp_path) -> None:
    files = demo[0]
    again = generate(tmp_path / "a", n_tickets=N_TICKETS, n_customers=N_CUSTOMERS, seed=SEED)
    other = generate(tmp_path / "b", n_tickets=N_TICKETS, n_customers=N_CUSTOMERS, seed=SEED + 1)
    for name in ("customers", "tickets", "events"):
        assert digest(getattr(files, name)) == digest(getattr(again, name))
        assert digest(getattr(files, name)) != digest(getattr(other, name))


def test_vocabularies_and_timestamp_format(regular, events, demo) -> None:
    assert set(regular["priority"]) <= set(PRIORITIES)
    assert set(regular["channel"]) <= set(CHANNELS)
    assert set(regular["status"]) <= set(STATUSES)
    assert set(regular["cause_domain"]) <= {"provider", "customer", "unknown"}
    assert set(regular["requires_it_release"]) == {"true", "false"}
    assert set(events["kind"]) == set(EVENT_KINDS)
    assert set(events["actor_type"]) <= set(ACTOR_TYPES)
    assert set(demo[3]["tier"]) == {"pioneer", "professional", "business", "premium"}
    stamps = pd.concat([regular[c] for c in TICKET_COLUMNS if c.endswith("_at")] + [events["at"]])
    stamps = stamps[stamps != ""]
    assert stamps.str.fullmatch(ISO).all()
    # The written offset is Amsterdam's offset at that instant (CET or CEST).
    local = utc(stamps).dt.tz_convert("Europe/Amsterdam")
    hours = local.map(lambda t: t.utcoffset().total_seconds() / 3600)
    assert (stamps.str[-6:] == hours.map(lambda h: f"+{int(h):02d}:00")).all()


# --- the tickets agree with their events ----------------------------------------------------


def test_first_response_is_the_first_agent_reply(regular, events) -> None:
    replies = events[events["kind"] == "agent_reply"].groupby("ticket_id")["at"]
    assert (replies.size() == 1).all()
    t = regular.set_index("ticket_id")
    answered = t[t["first_response_at"] != ""]
    assert len(answered) > 0.95 * N_TICKETS
    assert (
        replies.first().reindex(answered.index).tolist() == answered["first_response_at"].tolist()
    )
    assert not set(t.index[t["first_response_at"] == ""]) & set(replies.first().index)


def test_resolved_at_is_the_last_resolve_event(regular, events) -> None:
    last = events[events["kind"] == "resolve"].groupby("ticket_id")["at_utc"].max()
    t = regular.set_index("ticket_id")
    done = t["status"].isin(["resolved", "closed"])
    assert (t.loc[done, "resolved_at"] != "").all()
    assert (t.loc[~done, "resolved_at"] == "").all()
    resolved = t[done]
    assert len(resolved) > 0.9 * N_TICKETS
    assert (utc(resolved["resolved_at"]) == last.reindex(resolved.index)).all()


def test_status_is_the_last_status_change(regular, events) -> None:
    changes = events[events["kind"] == "status_change"]
    last = changes.sort_values(["ticket_id", "at_utc"], kind="stable").groupby("ticket_id").last()
    t = regular.set_index("ticket_id")
    assert (last["new_value"] == t.loc[last.index, "status"]).all()
    never_answered = t.index.difference(last.index)
    assert (t.loc[never_answered, "status"] == "new").all()
    # Near the export instant some tickets are still unanswered, open or waiting.
    assert {"new", "open", "waiting_on_customer", "resolved", "closed"} <= set(t["status"])


def test_every_event_between_creation_and_the_export(regular, events) -> None:
    created = utc(regular.set_index("ticket_id")["created_at"])
    at_created = created.reindex(events["ticket_id"]).to_numpy()
    assert (events["at_utc"].to_numpy() >= at_created).all()
    assert (events["at_utc"] < END).all()
    updated = utc(regular["updated_at"])
    assert (updated >= utc(regular["created_at"])).all()
    latest = events.groupby("ticket_id")["at_utc"].max()
    with_events = regular.set_index("ticket_id").loc[latest.index]
    assert (utc(with_events["updated_at"]) == latest).all()


def test_events_are_sorted_by_ticket_and_time(demo) -> None:
    ev = demo[2]
    ev = ev[ev["ticket_id"].str.fullmatch(r"T\d{7}")]
    key = pd.DataFrame({"id": ev["ticket_id"], "at": utc(ev["at"])})
    assert key.equals(key.sort_values(["id", "at"], kind="stable"))


def test_pauses_reopens_priority_changes(regular, events) -> None:
    kinds = events.groupby("ticket_id")["kind"].value_counts().unstack(fill_value=0)
    waits = events[events["new_value"] == "waiting_on_customer"]["ticket_id"].nunique()
    assert 0.18 < waits / N_TICKETS < 0.32
    reopened = kinds.index[kinds["reopen"] > 0]
    assert 0.02 < len(reopened) / N_TICKETS < 0.08
    assert (kinds.loc[kinds["reopen"] > 0, "resolve"] <= 2).all()
    final = kinds.loc[reopened]
    assert (final["resolve"] == 2).sum() > 0.8 * len(reopened)
    changes = events[events["kind"] == "priority_change"].set_index("ticket_id")
    assert len(changes) > 30
    assert (changes["old_value"] != changes["new_value"]).all()
    current = regular.set_index("ticket_id").loc[changes.index, "priority"]
    assert (changes["new_value"] == current).all()


def test_closure_two_to_seven_days_after_resolution(regular) -> None:
    closed = regular[regular["status"] == "closed"]
    gap = (utc(closed["closed_at"]) - utc(closed["resolved_at"])).dt.total_seconds() / 86400
    assert gap.between(2, 7).all()


# --- realism --------------------------------------------------------------------------------


def test_tier_mix_and_plan_periods(demo) -> None:
    customers = demo[3]
    first = customers.drop_duplicates("customer_id")
    share = first["tier"].value_counts(normalize=True)
    assert share["pioneer"] == pytest.approx(0.45, abs=0.06)
    assert share["professional"] == pytest.approx(0.30, abs=0.06)
    assert share["business"] == pytest.approx(0.18, abs=0.05)
    assert share["premium"] == pytest.approx(0.07, abs=0.04)
    assert customers["customer_id"].duplicated().sum() > 30  # upgrades and downgrades
    # Periods chain: each ends where the next begins; only the last is open-ended.
    for _, periods in customers.groupby("customer_id"):
        assert periods["valid_to"].iloc[-1] == ""
        assert (periods["valid_to"].iloc[:-1].to_numpy() == periods["valid_from"].iloc[1:]).all()
        assert periods["tier"].is_unique
    assert customers.loc[0, "name"] == "Bakkerij <De Molen> & Zn"


def test_channels_follow_each_tiers_support(regular, demo) -> None:
    customers = demo[3]
    t = regular.assign(created=utc(regular["created_at"]))
    plans = customers.assign(
        start=utc(customers["valid_from"]),
        stop=utc(customers["valid_to"].replace("", "2100-01-01T00:00:00+00:00")),
    )
    joined = t.merge(plans[["customer_id", "tier", "start", "stop"]], on="customer_id")
    joined = joined[(joined["created"] >= joined["start"]) & (joined["created"] < joined["stop"])]
    assert len(joined) == N_TICKETS  # exactly one plan is valid at each creation
    offered = {
        "pioneer": {"chat"},
        "professional": {"chat", "email", "phone", "outage_line"},
        "business": {"chat", "email", "phone", "web", "outage_line"},
        "premium": {"chat", "email", "phone", "web", "outage_line"},
    }
    for tier, group in joined.groupby("tier"):
        assert set(group["channel"]) == offered[tier]


def test_response_times_differ_by_tier(regular, demo) -> None:
    customers = demo[3].drop_duplicates("customer_id", keep="last").set_index("customer_id")
    t = regular[(regular["first_response_at"] != "") & (regular["channel"] != "outage_line")]
    t = t.assign(tier=customers.loc[t["customer_id"], "tier"].to_numpy())
    hours = OFFICE.working_seconds(utc(t["created_at"]), utc(t["first_response_at"])) / 3600
    t = t.assign(hours=hours)
    median = t.groupby("tier")["hours"].median()
    assert median["premium"] < median["business"] < median["professional"] < median["pioneer"]
    business = (t.loc[t["tier"] == "business", "hours"] > 24).mean()
    premium = (t.loc[t["tier"] == "premium", "hours"] > 8).mean()
    assert 0 < premium < business < 0.2  # some breaches in every SLA tier, more in Business


def test_it_release_tickets_take_longer(regular) -> None:
    done = regular[regular["resolved_at"] != ""]
    hours = OFFICE.working_seconds(utc(done["created_at"]), utc(done["resolved_at"])) / 3600
    it = done["requires_it_release"] == "true"
    assert 0.02 < (regular["requires_it_release"] == "true").mean() < 0.06
    assert np.median(hours[it]) > 3 * np.median(hours[~it])


def test_outage_line_calls_out_of_hours(regular) -> None:
    outage = regular[regular["channel"] == "outage_line"]
    assert len(outage) > 20
    assert (outage["priority"] == "critical").all()
    assert (outage["category"] == "payment_incident").all()
    created = utc(outage["created_at"])
    # Out of hours includes public holidays: the office calendar decides.
    assert (OFFICE.working_seconds(created, created + pd.Timedelta(seconds=1)) == 0).all()
    causes = outage["cause_domain"].value_counts(normalize=True)
    assert set(causes.index) == {"customer", "provider"}
    assert 0.15 < causes["customer"] < 0.55  # billable: caused on the customer's side
    # Answered 24/7: most first responses are outside office hours too.
    answered = utc(outage["first_response_at"])
    assert (OFFICE.working_seconds(answered - pd.Timedelta(seconds=1), answered) == 0).mean() > 0.5


def test_agents_reply_in_office_hours(regular, events) -> None:
    office_tickets = regular.loc[regular["channel"] != "outage_line", "ticket_id"]
    replies = events[(events["kind"] == "agent_reply") & events["ticket_id"].isin(office_tickets)]
    at = replies["at_utc"]
    # Open just before the reply (a reply may land exactly on 17:30).
    before = OFFICE.working_seconds(at - pd.Timedelta(seconds=1), at)
    assert (before > 0).all()


def test_arrivals_mostly_in_office_hours_some_outside(regular) -> None:
    created = utc(regular["created_at"])
    open_now = OFFICE.working_seconds(created, created + pd.Timedelta(seconds=1)) > 0
    assert 0.65 < open_now.mean() < 0.9
    local = created.dt.tz_convert("Europe/Amsterdam")
    weekend = regular[(local.dt.day_of_week >= 5).to_numpy()]
    assert len(weekend) > 0
    assert {"email", "web"} & set(weekend["channel"])


SPECIAL_DAYS = ("2026-04-03", "2026-04-06", "2026-04-27", "2025-10-26", "2026-03-29", "2026-10-25")


@pytest.mark.parametrize("n_tickets", [20, N_TICKETS])
def test_easter_kings_day_and_dst_changes_have_tickets(n_tickets, demo, regular, tmp_path) -> None:
    if n_tickets == N_TICKETS:
        tickets = regular
    else:
        files = generate(tmp_path, n_tickets=n_tickets, n_customers=10, broken_rows=False)
        tickets = read(files.tickets)
    local = utc(tickets["created_at"]).dt.tz_convert("Europe/Amsterdam")
    days = set(local.dt.date.astype(str))
    for day in SPECIAL_DAYS:
        assert day in days, day
    # Both occurrences of the repeated hour when summer time ends.
    repeated = tickets["created_at"].str.startswith("2025-10-26T02:")
    assert set(tickets.loc[repeated, "created_at"].str[-6:]) == {"+02:00", "+01:00"}


# --- broken rows ----------------------------------------------------------------------------


def test_broken_rows_present_exactly_as_documented(demo) -> None:
    _, tickets, events, _ = demo
    in_tickets = Counter(r.ticket_id for r in BROKEN_ROWS if r.file == "tickets")
    in_events = Counter(r.ticket_id for r in BROKEN_ROWS if r.file == "events")
    for ticket_id, count in in_tickets.items():
        assert (tickets["ticket_id"] == ticket_id).sum() == count, ticket_id
    for ticket_id, count in in_events.items():
        assert (events["ticket_id"] == ticket_id).sum() == count, ticket_id
    row = tickets.set_index("ticket_id", drop=False)
    assert row.loc["BROKEN-TS", "created_at"] == "31-02-2026 25:00"
    assert (
        utc(row.loc[["BROKEN-FR"], "first_response_at"]).iloc[0]
        < utc(row.loc[["BROKEN-FR"], "created_at"]).iloc[0]
    )
    assert row.loc["BROKEN-PRIO", "priority"] == "urgent"
    dup = tickets[tickets["ticket_id"] == "BROKEN-DUP"]
    assert dup["subject"].nunique() == 2 and dup["priority"].nunique() == 2
    assert row.loc["FLAG-AUTO", "first_response_at"] == row.loc["FLAG-AUTO", "created_at"]
    assert utc(row.loc[["FLAG-FUTURE"], "created_at"]).iloc[0] > END
    for ticket_id, subject in ESCAPING_ROWS.items():
        assert row.loc[ticket_id, "subject"] == subject
    # The same list in the module docstring and the documentation.
    docs = DOCS.read_text(encoding="utf-8")
    for r in BROKEN_ROWS:
        if r.ticket_id:
            assert f"`{r.ticket_id}`" in demo_module.__doc__
            assert f"`{r.ticket_id}`" in docs
        assert r.outcome.split(":")[1] in docs


def test_the_loader_rejects_and_flags_exactly_the_broken_rows(demo) -> None:
    files = demo[0]
    con = connect(":memory:")
    summaries = [load_file(con, p) for p in (files.customers, files.tickets, files.events)]
    rejected = Counter()
    flagged = Counter()
    for s in summaries:
        rejected.update(s.rejected)
        flagged.update(s.flagged)
    expected = Counter(r.outcome for r in BROKEN_ROWS)
    assert {f"rejected:{k}": v for k, v in rejected.items()} | {
        f"flagged:{k}": v for k, v in flagged.items()
    } == dict(expected)


def test_without_broken_rows_everything_loads_cleanly(tmp_path) -> None:
    files = generate(tmp_path, n_tickets=500, n_customers=100, seed=3, broken_rows=False)
    con = connect(":memory:")
    for path in (files.customers, files.tickets, files.events):
        summary = load_file(con, path)
        assert summary.rejected == {} and summary.flagged == {}
    assert con.execute("SELECT count(*) FROM tickets").fetchone()[0] == 500


def test_names_and_subjects_survive_csv_quoting(demo) -> None:
    names = set(demo[3]["name"])
    assert {"Bakkerij <De Molen> & Zn", 'Shop "Het Anker" <b>BV</b>'} <= names
    assert "Rijwielhandel Jansen, Zonen & Co" in names
    subjects = set(demo[1]["subject"])
    assert "Checkout down, no payments coming in" in subjects  # a comma: quoted in the file
    assert "API 500 on /payments" in subjects and "Uitbetaling vertraagd" in subjects


# --- scale and the command line --------------------------------------------------------------


def test_chunked_200k_tickets(tmp_path) -> None:
    files = generate(
        tmp_path, n_tickets=200_000, n_customers=20_000, chunk_size=60_000, broken_rows=False
    )
    opts = pacsv.ConvertOptions(column_types={c: "string" for c in TICKET_COLUMNS})
    tickets = pacsv.read_csv(files.tickets, convert_options=opts)
    assert tickets.num_rows == 200_000
    ids = tickets.column("ticket_id").to_pylist()
    assert ids[0] == "T0000001" and ids[-1] == "T0200000" and len(set(ids)) == 200_000
    events = pacsv.read_csv(
        files.events,
        convert_options=pacsv.ConvertOptions(column_types={c: "string" for c in EVENT_COLUMNS}),
    )
    assert 6 * 200_000 < events.num_rows < 9 * 200_000
    event_ids = events.column("ticket_id").to_numpy(zero_copy_only=False)
    assert (event_ids[1:] >= event_ids[:-1]).all()  # chunk after chunk, in ticket order


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate("/nonexistent", n_tickets=0, n_customers=1)
    with pytest.raises(ValueError, match="must come after"):
        generate("/nonexistent", n_tickets=1, n_customers=1, start="2026-01-01", end="2025-01-01")


def test_cli_and_module_entry_points(tmp_path) -> None:
    result = CliRunner().invoke(
        cli,
        ["demo-data", "--out", str(tmp_path / "cli"), "--tickets", "300", "--customers", "50",
         "--seed", "5", "--no-broken-rows"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    demo_module.main(
        ["--out", str(tmp_path / "mod"), "--tickets", "300", "--customers", "50", "--seed", "5",
         "--no-broken-rows"]
    )  # fmt: skip
    for name in ("customers.csv", "tickets.csv", "events.csv"):
        assert digest(tmp_path / "cli" / name) == digest(tmp_path / "mod" / name)
    assert "BROKEN-TS" not in (tmp_path / "cli" / "tickets.csv").read_text(encoding="utf-8")


def test_a_negative_seed_is_refused_by_name(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"^seed must be 0 or more, got -1$"):
        generate(tmp_path, n_tickets=1, n_customers=1, seed=-1)
