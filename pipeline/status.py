"""What the warehouse holds: its loads, row counts, and the rows loads did not
store (rejected, or accepted but not applied), counted and listed.

A load whose file (same content and kind) was read again later gave way to that
reading (docs/canonical-format.md): its rejected, not-applied and flagged rows
stay in their tables for audit, but only the latest reading's rows are
outstanding. The view `superseded_loads` says which loads gave way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import duckdb
import pandas as pd

from pipeline.errors import PipelineError
from pipeline.load import DST_RULES, FLAGS, NOT_APPLIED_REASONS, REASONS
from pipeline.warehouse import query

# The tables of rows a load read but did not store, by what `list_rows` calls them.
ROW_TABLES = {
    "rejected": "rejected_rows",
    "not_applied": "not_applied_rows",
    "flagged": "flagged_rows",
}
ROW_REASONS = {
    "rejected": REASONS,
    "not_applied": NOT_APPLIED_REASONS,
    "flagged": {**FLAGS, **DST_RULES},
}

LOADS_SQL = """
SELECT l.load_id, l.kind, l.path, left(l.sha256, 12) AS sha256, l.rows_read, l.accepted,
       l.not_applied, l.rejected, l.flagged, l.unchanged, l.source_tz, l.id_prefix,
       l.reader_version, l.read_again, l.earlier_removed, l.earlier_kept, l.finished_at,
       s.superseded_by
FROM loads l LEFT JOIN superseded_loads s USING (load_id)
ORDER BY l.load_id
"""
# The rows of loads that have not given way to a later reading.
OUTSTANDING = "load_id NOT IN (SELECT load_id FROM superseded_loads)"
# Those rows by reason.
OUTSTANDING_SQL = f"""
SELECT {{code}}, field, count(*) AS rows FROM {{table}}
WHERE {OUTSTANDING}
GROUP BY ALL ORDER BY rows DESC, {{code}}, field
"""
SUPERSEDED_SQL = (
    "SELECT count(*) FROM {table} WHERE load_id IN (SELECT load_id FROM superseded_loads)"
)


# Tickets loads made before not-applied rows were counted (migration 053), whose
# readings still stand: such rows of theirs were skipped, neither counted nor kept.
UNCOUNTED_SQL = f"""
SELECT load_id, path FROM loads
WHERE not_applied IS NULL AND {OUTSTANDING}
ORDER BY load_id
"""


def uncounted_loads(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """(load id, path) of the standing readings whose not-applied rows were never
    counted: a listing of not-applied rows cannot show theirs."""
    return [(int(i), str(p)) for i, p in con.execute(UNCOUNTED_SQL).fetchall()]


class StatusError(PipelineError):
    """A listing asked for something the warehouse cannot have (an unknown reason
    code, a file never loaded)."""


# The paths of the files loaded, first load first; `$file` matches as in
# status_rows.sql (the path as loaded, or one ends in the other after a '/').
LOADED_FILES_SQL = """
SELECT path, bool_or(path = $file OR ends_with(path, '/' || $file)
                     OR ends_with($file, '/' || path)) AS matches
FROM loads GROUP BY path ORDER BY min(load_id)
"""
FILES_NAMED = 5  # loaded files an unknown --file names


@dataclass(frozen=True)
class WarehouseStatus:
    # with not_applied (NA: a tickets load made before they were counted, migration
    # 053), reader_version, read_again (why the load read a file read
    # before, or None), earlier_removed and earlier_kept (a tickets file read again:
    # its earlier reading's tickets removed, or kept as this reading rejected them;
    # NA otherwise) and superseded_by (the later reading, or NA)
    loads: pd.DataFrame
    counts: dict[str, int]  # rows per table, history included
    # Over the tickets created up to now; those created later (flagged
    # created_in_future when loaded) are counted apart, so that one mistyped year
    # does not stretch the range.
    created_range: tuple[pd.Timestamp | None, pd.Timestamp | None]
    created_later: tuple[int, pd.Timestamp | None]  # how many, the latest
    rejected: pd.DataFrame  # outstanding: reason_code, field, rows
    not_applied: pd.DataFrame  # outstanding: reason_code, field, rows
    flagged: pd.DataFrame  # outstanding: flag_code, field, rows
    # Rows of loads a later reading of the same file superseded, per table kind
    # (rejected, not_applied, flagged): kept, no longer outstanding.
    superseded: dict[str, int]


def outstanding(con: duckdb.DuckDBPyConnection, kind: str) -> pd.DataFrame:
    """The outstanding rows of `kind` (rejected, not_applied or flagged) by reason:
    reason_code (flag_code for flagged), field, rows; most first."""
    if kind == "flagged":
        return con.execute(OUTSTANDING_SQL.format(code="flag_code", table="flagged_rows")).df()
    return con.execute(OUTSTANDING_SQL.format(code="reason_code", table=ROW_TABLES[kind])).df()


def warehouse_status(
    con: duckdb.DuckDBPyConnection, now: pd.Timestamp | None = None
) -> WarehouseStatus:
    """What is loaded: the loads, row counts, the creation date range (up to
    `now`, default the current time), and the outstanding rejected, not-applied
    and flagged rows by reason."""
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    counts = {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        for table in (
            "tickets",
            "ticket_events",
            "customers",
            "plan_history",
            "rejected_rows",
            "not_applied_rows",
            "flagged_rows",
            "evaluations",
        )
    }
    low, high, later, latest = con.execute(
        "SELECT min(created_at) FILTER (created_at <= $now), "
        "max(created_at) FILTER (created_at <= $now), "
        "count(*) FILTER (created_at > $now), max(created_at) FILTER (created_at > $now) "
        "FROM tickets",
        {"now": now.to_pydatetime()},
    ).fetchall()[0]
    return WarehouseStatus(
        loads=con.execute(LOADS_SQL).df(),
        counts=counts,
        created_range=(low, high),
        created_later=(later, latest),
        rejected=outstanding(con, "rejected"),
        not_applied=outstanding(con, "not_applied"),
        flagged=outstanding(con, "flagged"),
        superseded={
            name: con.execute(SUPERSEDED_SQL.format(table=table)).fetchall()[0][0]
            for name, table in ROW_TABLES.items()
        },
    )


@dataclass(frozen=True)
class RowListing:
    """Rows a listing found: `rows` (at most the limit asked) of `matching`."""

    what: str  # rejected | not_applied | flagged
    rows: pd.DataFrame  # load_id, file, line_number, ticket_id, field, source_column
    # (the export's, for a mapped file), reason_code, message, value, raw, superseded_by
    matching: int

    @property
    def more(self) -> int:
        """Matching rows left out by the limit."""
        return self.matching - len(self.rows)


def list_rows(
    con: duckdb.DuckDBPyConnection,
    what: str = "rejected",
    *,
    file: str | None = None,
    reason: str | None = None,
    limit: int | None = None,
    include_superseded: bool = False,
) -> RowListing:
    """The rows loads kept but did not store: `what` is `rejected` (failed a
    check) or `not_applied` (accepted, but the stored version of the ticket is
    newer); or the rows loads stored and flagged (`flagged`: suspicious, or a
    naive reading placed by the DST rule). Only outstanding rows unless
    `include_superseded`; only those of `file` (its path as loaded, or the end of
    it) and `reason`; at most `limit` (None: all), in load and line order.

    Raises `StatusError` for a reason code that no such row can have, and for a
    `file` no load read."""
    if what not in ROW_TABLES:
        raise ValueError(f"what: one of {', '.join(ROW_TABLES)}")
    if limit is not None and limit < 1:
        raise ValueError("limit: at least 1, or None for all")
    codes = ROW_REASONS[what]
    if reason is not None and reason not in codes:
        raise StatusError(
            f"no {what.replace('_', '-')} row has reason {reason!r}: use one of {', '.join(codes)}"
        )
    frame = query(
        con,
        "status_rows.sql",
        {
            "what": what,
            "file": os.path.normpath(file) if file is not None else None,
            "reason": reason,
            "all": include_superseded,
            "limit": limit,
        },
    ).df()
    matching = int(frame["matching"].iloc[0]) if len(frame) else 0
    if matching == 0 and file is not None:
        _check_file_loaded(con, os.path.normpath(file))
    return RowListing(what, frame.drop(columns="matching"), matching)


def _check_file_loaded(con: duckdb.DuckDBPyConnection, file: str) -> None:
    """A file no load read has no rows to list: "no rows" would read as a file
    loaded cleanly (a path mistyped, or given otherwise than it was loaded)."""
    loaded = con.execute(LOADED_FILES_SQL, {"file": file}).fetchall()
    if any(matches for _, matches in loaded):
        return
    if not loaded:
        raise StatusError(f"no file {file} was loaded: nothing is loaded yet")
    named = ", ".join(path for path, _ in loaded[:FILES_NAMED])
    more = f" and {len(loaded) - FILES_NAMED:,} more" if len(loaded) > FILES_NAMED else ""
    raise StatusError(
        f"no file {file} was loaded: --file takes a path as loaded, or its end (loaded: "
        f"{named}{more}; sla status lists every load)"
    )
