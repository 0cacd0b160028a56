"""Retention of evaluation runs: list them, prune the result rows of those no
report or auditor still needs, and compact the warehouse file.

Every `sla evaluate`, every report on new data and every `sla audit verify`
stores a run: an `evaluations` row and one `sla_results` row per ticket and
metric (25-40 MB per run at 300,000 tickets). Pruning removes a run's result
rows and marks its `evaluations` row pruned (`pruned_at`); the row itself stays:
its policy document is what `sla audit verify` re-runs a report's manifest
with, and it is the record of what was evaluated, when, on which inputs.

Kept by default (docs/retention.md): every run a report manifest names
(`evaluation_id` in `manifest.json` / `*.manifest.json` under the report
folders), the latest runs, and those stored since a date.

DuckDB reuses the space of deleted rows for later writes but seldom gives it
back to the file system (it can only cut free blocks off the end of the file);
`compact_warehouse` copies the warehouse into a new file and swaps it in.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.errors import PrunedEvaluationError, RetentionError
from pipeline.warehouse import read_sql

# The manifests a report writes (docs/manifest.md): the monthly report's
# `<month>/manifest.json`, the sales reports' `<stem>.manifest.json`.
MANIFEST_PATTERNS = ("manifest.json", "*.manifest.json")
DEFAULT_REPORT_FOLDERS = (Path("reports"),)
DEFAULT_KEEP_LATEST = 3
# Suffix of the copy `compact_warehouse` writes beside the warehouse before the swap.
COMPACT_SUFFIX = ".compacting"

PRUNE_SQL = """
DELETE FROM sla_results
WHERE evaluation_id IN (SELECT unnest($ids))
"""
MARK_PRUNED_SQL = """
UPDATE evaluations SET pruned_at = $now
WHERE evaluation_id IN (SELECT unnest($ids))
"""
# The blocks sla_results occupies, for the estimate of what a prune frees.
RESULT_BLOCKS_SQL = """
SELECT count(DISTINCT block_id) FROM pragma_storage_info('sla_results')
WHERE block_id >= 0
"""
BLOCK_SIZE_SQL = "SELECT block_size FROM pragma_database_size() WHERE database_name = $name"
RESULT_ROWS_SQL = "SELECT count(*) FROM sla_results"
PRUNED_AT_SQL = "SELECT pruned_at, made_by FROM evaluations WHERE evaluation_id = ?"
# Every table the warehouse keeps, to check a compacted copy row for row.
TABLES_SQL = """
SELECT table_name FROM duckdb_tables()
WHERE database_name = $name AND schema_name = 'main' AND NOT temporary
ORDER BY table_name
"""


def list_evaluations(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every evaluation run, oldest first: evaluation_id, started_at, made_by
    (evaluate | report | verify | unknown for runs stored before it was recorded),
    policy_name, policy_hash, forced_version, as_of, month_from, month_to,
    tickets_evaluated, rows_written, rows_stored (its rows in sla_results now),
    pruned_at (NaT while stored)."""
    return con.execute(read_sql("retention_runs.sql")).df()


def require_stored(con: duckdb.DuckDBPyConnection, evaluation_id: int) -> None:
    """Raises `PrunedEvaluationError` when the run's result rows were pruned (a
    reader would find none and report an empty month); nothing for a run that is
    stored, or unknown (the caller says that in its own words)."""
    rows = con.execute(PRUNED_AT_SQL, [evaluation_id]).fetchall()
    if rows and rows[0][0] is not None:
        pruned = pd.Timestamp(rows[0][0]).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
        by = (
            "sla audit verify's re-run: verify keeps its record, not its rows"
            if rows[0][1] == "verify"
            else "sla evaluations prune"
        )
        raise PrunedEvaluationError(
            f"evaluation #{evaluation_id} was pruned on {pruned} ({by}): its "
            "result rows are no longer stored, only its record. Evaluate again (sla evaluate, "
            "with the same --as-of and months to reproduce it), or name a stored run "
            "(sla evaluations list)"
        )


def manifest_references(folders: Iterable[str | Path]) -> dict[int, tuple[str, ...]]:
    """The evaluation ids named by the report manifests under `folders` (searched
    recursively), each with the manifests that name it.

    Raises `RetentionError` for a folder that does not exist (a prune run from
    the wrong directory must not take every reported run for unreported) and for
    a manifest that cannot be read or whose evaluation_id is not a whole number
    (it may name a run an auditor needs)."""
    found: dict[int, list[str]] = {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise RetentionError(
                f"no report folder {folder}: the runs its manifests name would not be kept. "
                "Pass the folder(s) your reports are written to with --reports"
            )
        for path in _manifest_files(folder):
            if not path.is_file():
                continue
            try:
                manifest = json.loads(path.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise RetentionError(
                    f"{path}: not a readable manifest ({exc}); it may name a run an auditor "
                    "needs, so nothing was pruned: repair or move it, or leave its folder "
                    "out of --reports"
                ) from None
            if not isinstance(manifest, dict) or "evaluation_id" not in manifest:
                continue  # not a report manifest: names no run
            eid = manifest["evaluation_id"]
            if type(eid) is not int:
                raise RetentionError(
                    f"{path}: field 'evaluation_id' must be a whole number, not "
                    f"{json.dumps(eid)}; nothing was pruned: repair or move the manifest"
                )
            found.setdefault(eid, []).append(str(path))
    return {eid: tuple(paths) for eid, paths in sorted(found.items())}


def _manifest_files(folder: Path) -> list[Path]:
    """The manifests at any depth under `folder`, through symbolic links too: an
    archive linked into `reports/` holds manifests whose runs must be kept, and
    `Path.rglob` does not enter a linked folder. A folder reached twice (a link
    back up the tree) is read once. Raises `RetentionError` for a folder that
    cannot be listed (rglob would skip it and its runs would be pruned)."""
    found: set[Path] = set()
    seen: set[str] = set()

    def unreadable(exc: OSError) -> None:
        # A folder that cannot be listed may hold manifests: never skip it.
        raise RetentionError(
            f"{exc.filename}: cannot be read ({exc.strerror}); it may hold manifests naming "
            "runs an auditor needs, so nothing was pruned: fix its permissions, or leave it "
            "out of --reports"
        )

    for root, dirs, _files in os.walk(folder, onerror=unreadable, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        base = Path(root)
        found.update(p for pattern in MANIFEST_PATTERNS for p in base.glob(pattern))
    return sorted(found)


@dataclass(frozen=True)
class PrunePlan:
    """What a prune keeps and removes. `runs` is `list_evaluations` with
    `kept_because` (text; empty for a run to prune) and `prune` (bool)."""

    runs: pd.DataFrame
    manifests: dict[int, tuple[str, ...]]  # run -> the manifests naming it
    folders: tuple[str, ...]
    keep_latest: int
    keep_since: dt.date | None
    # Estimated bytes of result data removed (sla_results' blocks in proportion
    # to its rows removed); None for a warehouse without stored results.
    estimated_bytes: int | None

    @property
    def to_prune(self) -> list[int]:
        return [int(x) for x in self.runs.loc[self.runs["prune"], "evaluation_id"]]

    @property
    def rows(self) -> int:
        """Result rows the prune removes."""
        return int(self.runs.loc[self.runs["prune"], "rows_stored"].sum())

    @property
    def unknown_manifest_runs(self) -> list[int]:
        """Runs manifests name that this warehouse does not hold (made elsewhere)."""
        return sorted(set(self.manifests) - set(self.runs["evaluation_id"].astype(int)))


def plan_prune(
    con: duckdb.DuckDBPyConnection,
    *,
    report_folders: Sequence[str | Path] = DEFAULT_REPORT_FOLDERS,
    keep_latest: int = DEFAULT_KEEP_LATEST,
    keep_since: dt.date | None = None,
) -> PrunePlan:
    """Which runs a prune removes: every stored run but those a manifest under
    `report_folders` names, the `keep_latest` most recent, and those stored on or
    after `keep_since` (a day, UTC). Changes nothing.

    Raises `RetentionError` as `manifest_references` does."""
    if keep_latest < 0:
        raise ValueError("keep_latest: 0 or more")
    manifests = manifest_references(report_folders)
    runs = list_evaluations(con)
    # The latest runs still stored: runs pruned before must not use up the count.
    stored_ids = runs.loc[runs["pruned_at"].isna(), "evaluation_id"].astype(int)
    latest = set(stored_ids.nlargest(keep_latest)) if keep_latest else set()
    since = pd.Timestamp(keep_since).tz_localize("UTC") if keep_since is not None else None
    reasons = []
    for row in runs.itertuples():  # per run, not per ticket: a few hundred at most
        why = []
        if not pd.isna(row.pruned_at):
            why.append("already pruned")
        if row.evaluation_id in manifests:
            named = manifests[row.evaluation_id]
            why.append(
                f"named by {named[0]}" + (f" and {len(named) - 1} more" if len(named) > 1 else "")
            )
        if row.evaluation_id in latest:
            why.append(f"among the latest {keep_latest}")
        if since is not None and pd.Timestamp(row.started_at) >= since:
            why.append(f"stored since {keep_since}")
        reasons.append("; ".join(why))
    runs["kept_because"] = reasons
    runs["prune"] = runs["kept_because"] == ""
    plan = PrunePlan(
        runs=runs,
        manifests=manifests,
        folders=tuple(map(str, report_folders)),
        keep_latest=keep_latest,
        keep_since=keep_since,
        estimated_bytes=None,
    )
    return replace(plan, estimated_bytes=_estimated_bytes(con, plan.rows))


def _estimated_bytes(con: duckdb.DuckDBPyConnection, rows: int) -> int | None:
    total = con.execute(RESULT_ROWS_SQL).fetchall()[0][0]
    if not total:
        return None
    blocks = con.execute(RESULT_BLOCKS_SQL).fetchall()[0][0]
    size = con.execute(BLOCK_SIZE_SQL, {"name": _database_name(con)}).fetchall()
    if not size or not blocks:
        return None  # in memory, or nothing checkpointed yet
    return round(blocks * size[0][0] * rows / total)


@dataclass(frozen=True)
class PruneResult:
    pruned: tuple[int, ...]  # the runs whose rows were removed
    rows_removed: int
    file_bytes_before: int | None  # None: a warehouse in memory
    file_bytes_after: int | None


def prune_evaluations(
    con: duckdb.DuckDBPyConnection, plan: PrunePlan, *, now: pd.Timestamp | None = None
) -> PruneResult:
    """Remove the result rows of the runs `plan` prunes and mark them pruned at
    `now` (default: the current time), in one transaction; then checkpoint, which
    lets DuckDB reuse (and, at the file's end, give back) the space."""
    ids = plan.to_prune
    path = warehouse_file(con)
    before = _size(path)
    if not ids:
        return PruneResult((), 0, before, before)
    removed = _remove_rows(con, ids, now)
    return PruneResult(tuple(ids), removed, before, _size(path))


def discard_rows(
    con: duckdb.DuckDBPyConnection, evaluation_id: int, *, now: pd.Timestamp | None = None
) -> int:
    """Remove one run's result rows and mark it pruned, as a prune would, keeping
    its record: what `sla audit verify` does with its re-run once compared.
    Returns the number of rows removed."""
    return _remove_rows(con, [evaluation_id], now)


def _remove_rows(con: duckdb.DuckDBPyConnection, ids: list[int], now: pd.Timestamp | None) -> int:
    """Delete the runs' result rows and mark them pruned at `now` (default: the
    current time) in one transaction: no reader ever finds a run unmarked with
    its rows gone. Then checkpoint, which lets DuckDB reuse (and, at the file's
    end, give back) the space."""
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    con.execute("BEGIN TRANSACTION")
    try:
        removed = con.execute(PRUNE_SQL, {"ids": ids}).fetchall()[0][0]
        con.execute(MARK_PRUNED_SQL, {"ids": ids, "now": now.to_pydatetime()})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("CHECKPOINT")
    return int(removed)


def warehouse_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file of the connection's warehouse; None when it lives in memory."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = $name",
        {"name": _database_name(con)},
    ).fetchall()
    return Path(rows[0][0]) if rows and rows[0][0] else None


def _database_name(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchall()[0][0]


def _size(path: Path | None) -> int | None:
    return None if path is None else path.stat().st_size


@dataclass(frozen=True)
class CompactResult:
    path: Path
    bytes_before: int
    bytes_after: int


def _copy_files(path: Path) -> tuple[Path, Path]:
    """The compacted copy of warehouse `path` and its write-ahead log."""
    copy = path.with_name(path.name + COMPACT_SUFFIX)
    return copy, Path(f"{copy}.wal")


def compact_warehouse(con: duckdb.DuckDBPyConnection) -> CompactResult:
    """Copy the warehouse into a fresh file (`COPY FROM DATABASE`), check every
    table's row count, and swap the copy in under the warehouse's name; closes
    `con`.

    Safe against other processes: this connection holds DuckDB's write lock on
    the file throughout, so no other process has it open (DuckDB refuses a
    second one) or can write to it while it is copied, and the swap is one
    atomic rename, done before the lock is let go: a process opening the
    warehouse afterwards gets the complete copy. Raises `RetentionError` for a
    warehouse in memory, too little free disk, or a copy that differs (the
    original is then left as it was)."""
    path = warehouse_file(con)
    if path is None:
        raise RetentionError("the warehouse is in memory: there is no file to compact")
    con.execute("CHECKPOINT")
    before = _size(path)
    assert before is not None
    target, target_wal = _copy_files(path)
    # A copy left by a compaction that was interrupted (killed, out of memory):
    # never the warehouse itself. Removed before the free space is measured, as
    # it may be what fills the disk.
    target.unlink(missing_ok=True)
    target_wal.unlink(missing_ok=True)
    free = shutil.disk_usage(path.parent).free
    if free < before:
        raise RetentionError(
            f"compacting {path} needs up to {before:,} bytes free beside it for the copy; "
            f"{free:,} are free"
        )
    name = _database_name(con)
    try:
        try:
            con.execute(f"ATTACH '{_quoted(target)}' AS sla_compacted")
            try:
                con.execute(f"COPY FROM DATABASE {_identifier(name)} TO sla_compacted")
                differ = _differing_tables(con, name, "sla_compacted")
            finally:
                con.execute("DETACH sla_compacted")
        except duckdb.Error as exc:
            # A folder the user cannot write to, a full disk, too little memory:
            # the user's problem to solve, said without a traceback.
            raise RetentionError(
                f"could not write the compacted copy of {path} to {target} ({exc}); the "
                "warehouse was left as it was"
            ) from None
        if differ:
            raise RetentionError(
                f"the compacted copy of {path} differs in {', '.join(differ)}: the warehouse "
                "was left as it was"
            )
        _keep_ownership(path, target)
        # Atomic on one file system; this connection still holds the old file's
        # lock, so nobody can have opened it in between.
        os.replace(target, path)
    except BaseException:
        target.unlink(missing_ok=True)
        target_wal.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    after = _size(path)
    assert after is not None
    return CompactResult(path, before, after)


def _differing_tables(con: duckdb.DuckDBPyConnection, name: str, copy: str) -> list[str]:
    """The tables of database `name` whose row count the copy does not have."""
    tables = [r[0] for r in con.execute(TABLES_SQL, {"name": name}).fetchall()]
    counts = " UNION ALL ".join(
        f"SELECT '{t}' AS t, (SELECT count(*) FROM {_identifier(name)}.main.\"{t}\") "
        f'= (SELECT count(*) FROM {copy}.main."{t}") AS same'
        for t in tables
    )
    return [t for t, same in con.execute(counts).fetchall() if not same]


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _identifier(name: str) -> str:
    """`name` as a quoted SQL identifier: a warehouse file's name (its database's
    name) may hold a double quote."""
    return '"' + name.replace('"', '""') + '"'


def _keep_ownership(original: Path, copy: Path) -> None:
    """Give `copy` the permission bits, owner and group of `original`, which it
    replaces: a new file gets the umask's mode (a 0640 warehouse would come back
    world-readable) and the compacting user as owner (a service account could
    no longer write the warehouse an administrator compacted).

    Raises `RetentionError` when the group cannot be kept (the users it lets in
    would be locked out); a user who may not give a file away becomes its owner."""
    st = original.stat()
    os.chmod(copy, stat.S_IMODE(st.st_mode))
    try:
        os.chown(copy, st.st_uid, st.st_gid)
    except PermissionError:
        try:
            os.chown(copy, -1, st.st_gid)
        except PermissionError:
            raise RetentionError(
                f"{original} belongs to group {st.st_gid}, which the compacted copy could not "
                "be given (compact as its owner, or as a member of that group); the warehouse "
                "was left as it was"
            ) from None


def leftover_copy(con: duckdb.DuckDBPyConnection) -> tuple[Path, int] | None:
    """The copy an interrupted compaction left beside the warehouse, with its size
    in bytes (its write-ahead log included); None when there is none. It can be as
    large as the warehouse, and only the next compaction removes it, so
    `sla status` names it."""
    path = warehouse_file(con)
    if path is None:
        return None
    files = _copy_files(path)
    found = [f for f in files if f.exists()]
    if not found:
        return None
    return files[0], sum(f.stat().st_size for f in found)


def pruned_runs(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(runs stored, runs pruned), for `sla status`."""
    stored, pruned = con.execute(
        "SELECT count(*) FILTER (pruned_at IS NULL), count(*) FILTER (pruned_at IS NOT NULL) "
        "FROM evaluations"
    ).fetchall()[0]
    return int(stored), int(pruned)
