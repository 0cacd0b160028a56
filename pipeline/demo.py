"""A seeded generator of realistic demo exports for a Dutch payment provider's desk.

    python -m pipeline.demo --out data/sample --tickets 10000 --customers 2500

Writes the canonical format (docs/canonical-format.md): customers.csv (one row
per plan period), tickets.csv and events.csv, timestamps in Europe/Amsterdam
local time with their offset. What it models:

- customers across Pioneer / Professional / Business / Premium, 15 % of them
  changing plan once (upgrades and downgrades), some with HTML-like names;
- arrivals weighted by weekday and hour (office hours mostly), across Easter,
  King's Day and both DST changes of the period;
- channels by tier; out-of-hours critical calls on the outage line, a third of
  them caused on the customer's side;
- first response and resolution drawn in *working* time (lognormal, faster for
  higher tiers) and placed on the office calendar with the engine itself;
- waiting-on-customer pauses (25 %), reopens (5 %), IT-release tickets (4 %)
  that take much longer, closures three days after resolution, and tickets
  still open at the export date;
- with `broken_rows`, one row of each kind the loader must reject or flag:
  unparseable timestamp, first response before creation, resolved before
  creation, unknown customer, missing ticket id, duplicate id with conflicting
  content, unknown priority, an event for a ticket that does not exist, an
  auto-responder reply 0 s after creation and a ticket created in the future.

Everything is drawn with numpy over whole columns, in chunks of a million
tickets, so 10 million tickets generate in bounded memory.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.calendar import Calendar

TZ = "Europe/Amsterdam"
TIERS = np.array(["pioneer", "professional", "business", "premium"])
TIER_SHARE = [0.45, 0.30, 0.18, 0.07]
TICKETS_PER_CUSTOMER_WEIGHT = np.array([1.0, 1.6, 2.4, 3.2])  # by tier
CHANNELS_BY_TIER = {
    "pioneer": (["chat"], [1.0]),
    "professional": (["chat", "email", "phone"], [0.4, 0.4, 0.2]),
    "business": (["chat", "email", "phone", "web"], [0.3, 0.4, 0.2, 0.1]),
    "premium": (["chat", "email", "phone", "web"], [0.25, 0.35, 0.3, 0.1]),
}
# Median working hours to first response and to resolution, by tier.
FIRST_RESPONSE_MEDIAN_H = {"pioneer": 14.0, "professional": 9.0, "business": 6.0, "premium": 2.0}
RESOLUTION_MEDIAN_H = {"pioneer": 30.0, "professional": 26.0, "business": 20.0, "premium": 14.0}
HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 2, 3, 6, 14, 30, 34, 32, 24, 30, 32, 30, 26, 18, 8, 6, 5, 4, 2, 1], float
)
WEEKDAY_WEIGHTS = np.array([1.2, 1.1, 1.0, 1.0, 0.9, 0.15, 0.1])
CATEGORIES = np.array(["payments", "payouts", "api", "onboarding", "account"])
SUBJECTS = np.array(
    [
        "Payout delayed",
        "Uitbetaling vertraagd",
        "API 500 on /payments",
        "Terugboeking niet ontvangen",
        "iDEAL payments failing",
        "Vraag over factuur",
        "Webhook not received",
        "KYC documents",
        "Pinautomaat geeft foutmelding",
        "Refund stuck in pending",
    ]
)
NAME_PARTS = (
    ["Bakkerij", "Fietsen", "Webshop", "Bloemen", "Koffie", "Studio", "Garage", "Boekhandel"],
    ["Jansen", "De Vries", "Bakker", "Visser", "Smit", "Meijer", "De Boer", "Mulder", "Bos"],
    ["B.V.", "& Zn", "V.O.F.", "Online", "Groep", ""],
)
SPECIAL_NAMES = ["Bakkerij <De Molen> & Zn", 'Shop "Het Anker" <b>BV</b>']
S = 10**9
H = 3600


@dataclass(frozen=True)
class DemoFiles:
    customers: Path
    tickets: Path
    events: Path


def _iso(ns: np.ndarray) -> np.ndarray:
    """UTC ns -> 'YYYY-MM-DDTHH:MM:SS+HH:MM' in Europe/Amsterdam; '' where missing."""
    out = np.full(len(ns), "", dtype=object)
    ok = ns != np.iinfo(np.int64).min
    if ok.any():
        local = pd.DatetimeIndex(ns[ok].view("datetime64[ns]")).tz_localize("UTC").tz_convert(TZ)
        text = pd.Series(local.strftime("%Y-%m-%dT%H:%M:%S%z"))
        out[ok] = (text.str[:-2] + ":" + text.str[-2:]).to_numpy()
    return out


def _local_ns(local: np.ndarray) -> np.ndarray:
    index = pd.DatetimeIndex(local.astype("datetime64[ns]"))
    utc = index.tz_localize(TZ, ambiguous=np.ones(len(index), bool), nonexistent="shift_forward")
    return utc.as_unit("ns").asi8


def _customers(rng: np.random.Generator, n: int, start: pd.Timestamp, end: pd.Timestamp):
    ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 5))
    first, second, third = (np.array(p) for p in NAME_PARTS)
    names = np.char.strip(
        np.char.add(
            np.char.add(np.char.add(rng.choice(first, n), " "), rng.choice(second, n)),
            np.char.add(" ", rng.choice(third, n)),
        )
    ).astype(object)
    names[: len(SPECIAL_NAMES)] = SPECIAL_NAMES
    tier = rng.choice(len(TIERS), n, p=TIER_SHARE)
    changes = rng.random(n) < 0.15
    span_days = (end - start).days
    change_day = rng.integers(30, max(span_days - 30, 31), n)
    # Upgrades mostly, some downgrades.
    new_tier = np.clip(tier + np.where(rng.random(n) < 0.75, 1, -1), 0, 3)
    changes &= new_tier != tier
    change_local = (np.datetime64(start.date(), "D") + change_day.astype("timedelta64[D]")).astype(
        "datetime64[s]"
    )
    change_ns = np.where(changes, _local_ns(change_local), np.iinfo(np.int64).max)
    joined = _local_ns(np.full(n, np.datetime64((start - pd.DateOffset(years=1)).date(), "s")))
    return ids, names, tier, new_tier, changes, change_ns, joined


def _customer_rows(ids, names, tier, new_tier, changes, change_ns, joined) -> pd.DataFrame:
    nat = np.iinfo(np.int64).min
    first = pd.DataFrame(
        {
            "customer_id": ids,
            "name": names,
            "tier": TIERS[tier],
            "valid_from": _iso(joined),
            "valid_to": _iso(np.where(changes, change_ns, nat)),
        }
    )
    second = pd.DataFrame(
        {
            "customer_id": ids[changes],
            "name": names[changes],
            "tier": TIERS[new_tier[changes]],
            "valid_from": _iso(change_ns[changes]),
            "valid_to": "",
        }
    )
    return pd.concat([first, second]).sort_values(["customer_id", "valid_from"], kind="stable")


def _chunk(
    rng: np.random.Generator,
    first_id: int,
    n: int,
    customers: tuple,
    start: pd.Timestamp,
    end: pd.Timestamp,
    office: Calendar,
    always: Calendar,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids_c, _, tier0, tier1, _, change_ns, _ = customers
    nat = np.iinfo(np.int64).min
    end_ns = end.value
    # Arrival instants: day by weekday weight, hour by hour weight.
    days = pd.date_range(start, end - pd.Timedelta(days=1), freq="D")
    day_w = WEEKDAY_WEIGHTS[days.day_of_week]
    day = rng.choice(len(days), n, p=day_w / day_w.sum())
    hour = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    second = rng.integers(0, 3600, n)
    local = days.tz_localize(None).to_numpy().astype("datetime64[s]")[day] + (
        hour * 3600 + second
    ).astype("timedelta64[s]")
    created = _local_ns(local)

    # Customers: higher tiers raise more tickets.
    weight = TICKETS_PER_CUSTOMER_WEIGHT[tier0]
    cust = rng.choice(len(ids_c), n, p=weight / weight.sum())
    tier_idx = np.where(created >= change_ns[cust], tier1[cust], tier0[cust])
    tier = TIERS[tier_idx]

    channel = np.empty(n, dtype=object)
    for name, (options, probs) in CHANNELS_BY_TIER.items():
        mask = tier == name
        channel[mask] = rng.choice(options, mask.sum(), p=probs)
    priority = rng.choice(["low", "normal", "high", "critical"], n, p=[0.2, 0.55, 0.2, 0.05])
    category = rng.choice(CATEGORIES, n).astype(object)
    cause = rng.choice(["provider", "unknown"], n, p=[0.6, 0.4]).astype(object)

    # Out-of-hours critical incidents on the outage line (paying tiers).
    closed_now = office.working_ns(created, created + S) == 0
    outage = closed_now & (tier_idx >= 1) & (rng.random(n) < 0.12)
    channel[outage] = "outage_line"
    priority[outage] = "critical"
    category[outage] = "payment_incident"
    cause[outage] = np.where(rng.random(outage.sum()) < 0.33, "customer", "provider")

    # First response, in working hours on the office calendar (24/7 for the outage line).
    fr_median = np.vectorize(FIRST_RESPONSE_MEDIAN_H.get)(tier) * H
    fr_work = rng.lognormal(np.log(fr_median), 0.9)
    fr_work[outage] = rng.lognormal(np.log(900), 0.6, outage.sum())
    fr_work = np.round(fr_work).astype(np.int64) * S
    first_response = np.where(
        outage, always.add_working_ns(created, fr_work), office.add_working_ns(created, fr_work)
    )

    # Resolution work; IT releases take much longer.
    it_release = (rng.random(n) < 0.04) & ~outage
    res_median = np.vectorize(RESOLUTION_MEDIAN_H.get)(tier) * H
    res_work = np.maximum(rng.lognormal(np.log(res_median), 0.8), fr_work / S + 600)
    res_work[it_release] *= 6
    res_work[outage] = rng.lognormal(np.log(4 * H), 0.7, outage.sum())
    res_work = np.round(res_work).astype(np.int64) * S
    cal_add = lambda at, work: np.where(  # noqa: E731
        outage, always.add_working_ns(at, work), office.add_working_ns(at, work)
    )
    # Waiting on the customer: the clock stops in the middle of the work.
    paused = (rng.random(n) < 0.25) & ~outage
    share = rng.uniform(0.2, 0.6, n)
    pause_start = np.maximum(
        cal_add(created, (res_work * share).astype(np.int64)), first_response + S
    )
    pause_len = rng.integers(1 * H, 72 * H, n).astype(np.int64) * S
    pause_end = pause_start + pause_len
    done_before = np.where(paused, (res_work * share).astype(np.int64), res_work)
    resolved = np.where(
        paused,
        cal_add(pause_end, np.maximum(res_work - done_before, S)),
        cal_add(created, res_work),
    )
    resolved = np.maximum(resolved, first_response + S)
    # Reopens: resolved, reopened a few days later, resolved again.
    reopened = (rng.random(n) < 0.05) & ~outage
    reopen_at = resolved + rng.integers(1 * 24 * H, 4 * 24 * H, n).astype(np.int64) * S
    final = np.where(
        reopened, office.add_working_ns(reopen_at, rng.integers(1, 8 * H, n) * S), resolved
    )
    closed = final + 3 * 24 * H * S

    subject = rng.choice(SUBJECTS, n).astype(object)
    ticket_ids = np.char.add("T", np.char.zfill(np.arange(first_id, first_id + n).astype(str), 7))

    # The export is taken at `end`: what happened later is not in it.
    def known(at):
        return np.where(at <= end_ns, at, nat)

    fr_k, res_first_k, final_k, closed_k = (
        known(first_response),
        known(resolved),
        known(final),
        known(closed),
    )
    reopen_k = np.where(reopened, known(reopen_at), nat)
    pause_s_k = np.where(paused, known(pause_start), nat)
    pause_e_k = np.where(paused, known(pause_end), nat)
    is_resolved = np.where(reopened, (final_k != nat), res_first_k != nat)
    status = np.where(
        closed_k != nat,
        "closed",
        np.where(
            is_resolved,
            "resolved",
            np.where((pause_s_k != nat) & (pause_e_k == nat), "waiting_on_customer", "open"),
        ),
    )
    resolved_field = np.where(reopened, final_k, res_first_k)
    resolved_field = np.where(is_resolved, resolved_field, nat)
    updated = np.max(
        np.vstack([created, fr_k, resolved_field, closed_k, reopen_k, pause_s_k, pause_e_k]),
        axis=0,
    )
    tickets = pd.DataFrame(
        {
            "ticket_id": ticket_ids,
            "source_system": "demo",
            "customer_id": ids_c[cust],
            "created_at": _iso(created),
            "first_response_at": _iso(fr_k),
            "resolved_at": _iso(resolved_field),
            "closed_at": _iso(closed_k),
            "priority": priority,
            "channel": channel,
            "category": category,
            "status": status,
            "requires_it_release": np.where(it_release, "true", "false"),
            "cause_domain": cause,
            "subject": subject,
            "updated_at": _iso(updated),
        }
    )

    def ev(mask, at, kind, old, new, actor):
        keep = mask & (at != nat)
        return pd.DataFrame(
            {
                "ticket_id": ticket_ids[keep],
                "at_ns": at[keep],
                "kind": kind,
                "old_value": old,
                "new_value": new,
                "actor_type": actor,
            }
        )

    everyone = np.ones(n, dtype=bool)
    note = rng.random(n) < 0.3
    note_at = known(created + (np.maximum(fr_k, created) - created) // 2)
    events = pd.concat(
        [
            ev(everyone, fr_k, "status_change", "new", "open", "agent"),
            ev(everyone, fr_k, "agent_reply", "", "", "agent"),
            ev(note, note_at, "internal_note", "", "", "agent"),
            ev(paused, pause_s_k, "status_change", "open", "waiting_on_customer", "agent"),
            ev(paused, pause_e_k, "customer_reply", "", "", "customer"),
            ev(paused, pause_e_k, "status_change", "waiting_on_customer", "open", "system"),
            ev(everyone, res_first_k, "status_change", "open", "resolved", "agent"),
            ev(everyone, res_first_k, "resolve", "", "", "agent"),
            ev(reopened, reopen_k, "status_change", "resolved", "open", "customer"),
            ev(reopened, reopen_k, "reopen", "", "", "customer"),
            ev(reopened, final_k, "status_change", "open", "resolved", "agent"),
            ev(reopened, final_k, "resolve", "", "", "agent"),
            ev(everyone, closed_k, "status_change", "resolved", "closed", "system"),
            ev(everyone, closed_k, "close", "", "", "system"),
        ],
        ignore_index=True,
    )
    events = events.sort_values(["ticket_id", "at_ns"], kind="stable")
    events.insert(1, "at", _iso(events.pop("at_ns").to_numpy()))
    return tickets, events


def _break(tickets: pd.DataFrame, events: pd.DataFrame, end: pd.Timestamp) -> tuple:
    """Append one row of every kind the loader must reject or flag."""
    base = tickets.iloc[0].to_dict()
    good = tickets.iloc[1].to_dict()
    broken = [
        {**base, "ticket_id": "BROKEN-TS", "created_at": "31-02-2026 25:00"},
        {**base, "ticket_id": "BROKEN-FR", "first_response_at": "2020-01-01T09:00:00+01:00"},
        {**base, "ticket_id": "BROKEN-RES", "resolved_at": "2020-01-01T09:00:00+01:00"},
        {**base, "ticket_id": "BROKEN-CUST", "customer_id": "C99999"},
        {**base, "ticket_id": ""},
        {**good, "subject": "same id, other content"},
        {**base, "ticket_id": "BROKEN-PRIO", "priority": "urgent"},
        {**base, "ticket_id": "FLAG-AUTO", "first_response_at": base["created_at"]},
        {
            **base,
            "ticket_id": "FLAG-FUTURE",
            "created_at": (end + pd.DateOffset(years=5)).strftime("%Y-%m-%dT10:00:00+01:00"),
            "first_response_at": "",
            "resolved_at": "",
            "closed_at": "",
            "updated_at": "",
            "status": "new",
        },
        {**base, "ticket_id": "HTML-1", "subject": "<script>alert(1)</script>"},
        {**base, "ticket_id": "FORMULA-1", "subject": "=SUM(A1)"},
    ]
    ghost = {
        "ticket_id": "T-DOES-NOT-EXIST",
        "at": base["created_at"],
        "kind": "agent_reply",
        "old_value": "",
        "new_value": "",
        "actor_type": "agent",
    }
    tickets = pd.concat([tickets, pd.DataFrame(broken)], ignore_index=True)
    events = pd.concat([events, pd.DataFrame([ghost])], ignore_index=True)
    return tickets, events


def generate(
    out_dir: str | Path,
    *,
    n_tickets: int,
    n_customers: int,
    start: str = "2025-07-01",
    end: str = "2026-11-01",
    seed: int = 7,
    broken_rows: bool = True,
    chunk: int = 1_000_000,
) -> DemoFiles:
    """Write customers.csv, tickets.csv and events.csv into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0, t1 = pd.Timestamp(start, tz=TZ), pd.Timestamp(end, tz=TZ)
    customers = _customers(rng, n_customers, t0, t1)
    files = DemoFiles(out / "customers.csv", out / "tickets.csv", out / "events.csv")
    _customer_rows(*customers).to_csv(files.customers, index=False)
    office, always = Calendar.builtin("office"), Calendar.builtin("always")
    for i, lo in enumerate(range(0, n_tickets, chunk)):
        size = min(chunk, n_tickets - lo)
        tickets, events = _chunk(rng, lo + 1, size, customers, t0, t1, office, always)
        if broken_rows and i == 0:
            tickets, events = _break(tickets, events, t1)
        mode = "w" if i == 0 else "a"
        tickets.to_csv(files.tickets, index=False, mode=mode, header=i == 0)
        events.to_csv(files.events, index=False, mode=mode, header=i == 0)
    return files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a seeded demo export.")
    parser.add_argument("--out", default="data/sample")
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=2_500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2025-07-01")
    parser.add_argument("--end", default="2026-11-01")
    parser.add_argument("--no-broken-rows", action="store_true")
    args = parser.parse_args(argv)
    files = generate(
        args.out,
        n_tickets=args.tickets,
        n_customers=args.customers,
        start=args.start,
        end=args.end,
        seed=args.seed,
        broken_rows=not args.no_broken_rows,
    )
    print(f"wrote {files.customers}, {files.tickets}, {files.events}")


if __name__ == "__main__":
    main()
