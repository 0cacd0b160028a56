"""What-if: the same tickets under another policy, side by side, stored nowhere."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd

from pipeline.evaluate import evaluate
from pipeline.i18n import Messages, short_of_bounds
from pipeline.metrics import compare
from pipeline.policy import METRICS, Policy


def whatif(
    con: duckdb.DuckDBPyConnection,
    other: Policy,
    *,
    current: Policy | None = None,
    month_from: str | None = None,
    month_to: str | None = None,
    as_of: Any = None,
) -> pd.DataFrame:
    """Compliance per tier and metric under `current` (default policy) and `other`.

    Both evaluations see the warehouse at the same as-of instant and neither is
    stored, so the loaded data and the recorded runs are untouched. The frame's
    `attrs["as_of"]` is that instant; `attrs["unjudged"]` holds, per side, the
    tickets created before that policy's first version (judged by none, left out of
    its figures)."""
    current = current or Policy.default()
    base = evaluate(
        con, current, month_from=month_from, month_to=month_to, as_of=as_of, store=False
    )
    alt = evaluate(
        con, other, month_from=month_from, month_to=month_to, as_of=base.as_of, store=False
    )
    side = compare(base.results, alt.results)
    # Tiers in the policies' own order (Pioneer up to Premium, as every report
    # lists them), not alphabetically; a tier neither names (unknown) last.
    tier_rank = {
        key: rank
        for rank, key in enumerate(
            dict.fromkeys(k for run in (base, alt) for v in run.policy.versions for k in v.tiers)
        )
    }
    side = (
        side.assign(
            _tier=side["tier"].map(tier_rank).fillna(len(tier_rank)),
            _metric=side["metric"].map({m: i for i, m in enumerate(METRICS)}),
        )
        .sort_values(["_tier", "tier", "_metric"], kind="stable")
        .drop(columns=["_tier", "_metric"])
        .reset_index(drop=True)
    )
    # The instant both sides saw, so that either can be stored and checked with
    # `sla evaluate --as-of` (the default, now, is gone by the time anyone asks).
    side.attrs["as_of"] = base.as_of
    side.attrs["unjudged"] = {
        name: {
            "tickets": int(
                run.results.loc[
                    run.results["exclusion_rule"] == "no_policy_in_force", "ticket_id"
                ].nunique()
            ),
            "before": run.policy.versions[0].effective_from,
        }
        for name, run in (("current", base), ("other", alt))
    }
    # For the words: the tiers as each policy names them (the other's where it
    # names one the current does not), and the zone its reports are read in.
    side.attrs["tier_labels"] = {
        key: tier.label
        for run in (alt, base)
        for version in run.policy.versions
        for key, tier in version.tiers.items()
    }
    side.attrs["timezone"] = current.report_timezone
    return side


def whatif_renderables(
    side: pd.DataFrame,
    title: str,
    *,
    month_from: str | None = None,
    month_to: str | None = None,
    lang: str = "en",
) -> list[Any]:
    """The comparison of `whatif` as rich renderables for the terminal, in `lang`:
    the table (`title` names the other policy) and the lines under it. In English
    tiers and metrics keep their codes; in another language they read as the
    reports say them, with its numbers and dates."""
    from rich.table import Table

    m = Messages(lang)
    english = lang == "en"
    if side.empty:
        return [m("whatif_nothing")]
    # Each side counts its own closed tickets: the other policy may exclude or
    # judge a different set (another exclusion rule, a tier it does not list).
    table = Table(
        *(
            m(f"whatif_{column}")
            for column in ("tier", "metric", "closed_current", "current", "closed_other", "other")
        ),
        m("whatif_change"),
        title=m("whatif_title", policy=title),
    )

    def pct(x: float) -> str:
        if english:
            return "-" if x != x else f"{short_of_bounds(x):.1%}"
        return m.pct(x)

    def count(x: float) -> str:
        if english:
            return "-" if x != x else f"{x:,.0f}"
        return m.number(x)

    def change(x: float) -> str:
        if english:
            return "-" if x != x else f"{x * 100:+.1f} pp"
        return m.points(x)

    def standing(benchmark_only: object, unjudged: float, tickets: float) -> str:
        if tickets != tickets:  # no rows on this side
            return "none"
        if unjudged == tickets:
            return "no_version"
        return "benchmark_only" if benchmark_only else "sla"

    labels = side.attrs.get("tier_labels", {})
    for row in side.itertuples():
        current = standing(row.benchmark_only_current, row.unjudged_current, row.tickets_current)
        other = standing(row.benchmark_only_other, row.unjudged_other, row.tickets_other)
        tier = row.tier if english else labels.get(row.tier, row.tier)
        if current == other:
            tier += "" if current == "sla" else f" ({m(f'whatif_standing_{current}')})"
        else:
            tier = m(
                "whatif_standing_change",
                tier=tier,
                current=m(f"whatif_standing_{current}"),
                other=m(f"whatif_standing_{other}"),
            )
        table.add_row(
            tier,
            row.metric if english else m(row.metric),
            count(row.closed_current),
            pct(row.compliance_current),
            count(row.closed_other),
            pct(row.compliance_other),
            change(row.change),
        )
    out: list[Any] = [table]
    at = pd.Timestamp(side.attrs["as_of"]).tz_convert("UTC")
    as_of = at.isoformat()

    def month(value: str | None, end: str) -> str:
        if value is None:
            return m(f"whatif_month_{end}")
        return value if english else m.month(value)

    if month_from is None and month_to is None:
        months = m("whatif_every_month")
    elif month_from == month_to:
        months = m("whatif_one_month", month=month(month_from, "first"))
    else:
        months = m("whatif_months", first=month(month_from, "first"), last=month(month_to, "last"))
    if not english:
        months = months[:1].upper() + months[1:]  # it starts the sentence: "Oktober 2026, ..."
    seen = as_of if english else m.datetime(at.to_pydatetime(), side.attrs["timezone"])
    out.append(
        m("whatif_as_of", months=months, seen=seen, as_of=as_of)
        + (f" --from {month_from}" if month_from else "")
        + (f" --to {month_to}" if month_to else "")
    )
    if at > pd.Timestamp.now(tz="UTC"):
        # As `sla evaluate` says it: allowed, but open tickets are then measured
        # up to an instant that has not come yet.
        out.append(m("as_of_future"))
    for name, unjudged in side.attrs.get("unjudged", {}).items():
        n = unjudged["tickets"]
        if n:
            before: dt.date = unjudged["before"]
            out.append(
                m(
                    "whatif_unjudged_one" if n == 1 else "whatif_unjudged",
                    policy=m(f"whatif_policy_{name}"),
                    n=f"{n:,}" if english else m.number(n),
                    before=before if english else m.date(before),
                )
            )
    return out
