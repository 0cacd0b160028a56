"""What-if: the same tickets under another policy, side by side, stored nowhere."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from pipeline.evaluate import evaluate
from pipeline.metrics import compare
from pipeline.policy import Policy


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
    return side
