"""Retention of evaluation runs: listed with what made them, pruned without losing
what a report or an auditor needs, and the file compacted safely."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline import retention, warehouse
from pipeline.cli import cli
from pipeline.errors import RetentionError
from pipeline.evaluate import evaluate
from pipeline.report_monthly import write_monthly_report
from pipeline.retention import (
    compact_warehouse,
    list_evaluations,
    manifest_references,
    plan_prune,
    prune_evaluations,
    pruned_runs,
)
from pipeline.verify import verify_manifest
from pipeline.warehouse import connect

MONTH = "2026-10"
AS_OF = "2026-11-15T00:00Z"


def _rows(con, evaluation_id: int) -> int:
    return con.execute(
        "SELECT count(*) FROM sla_results WHERE evaluation_id = ?", [evaluation_id]
    ).fetchall()[0][0]


def test_runs_are_listed_with_what_made_them(fixture_warehouse, tmp_path) -> None:
    con = fixture_warehouse
    evaluate(con, as_of=AS_OF)
    write_monthly_report(con, MONTH, formats=("html",), out_dir=tmp_path / "reports")
    verify_manifest(con, tmp_path / "reports" / MONTH / "manifest.json")
    runs = list_evaluations(con)
    assert runs["evaluation_id"].tolist() == [1, 2, 3]
    assert runs["made_by"].tolist() == ["evaluate", "report", "verify"]
    assert runs["rows_stored"].tolist() == [_rows(con, 1), _rows(con, 2), 0]
    assert runs["rows_written"].tolist() == [_rows(con, 1), _rows(con, 2), _rows(con, 2)]
    assert runs["rows_stored"].iloc[:2].min() > 0
    # The verify's re-run is on record, its rows were removed once compared.
    assert runs["pruned_at"].isna().tolist() == [True, True, False]
    assert pruned_runs(con) == (2, 1)
    assert runs.loc[1, ["month_from", "month_to"]].tolist() == ["2025-11", MONTH]
    assert pd.Timestamp(runs.loc[0, "as_of"]) == pd.Timestamp(AS_OF)


def test_runs_stored_before_the_migration_are_of_unknown_origin(tmp_path, monkeypatch) -> None:
    """A warehouse made before 060_evaluation_retention.sql: its runs get made_by
    NULL (listed as unknown) and are stored (pruned_at NULL)."""
    path = tmp_path / "old.duckdb"
    shipped = warehouse.migrations()
    monkeypatch.setattr(warehouse, "migrations", lambda: [m for m in shipped if m[0] < 60])
    con = connect(path)
    con.execute(
        "INSERT INTO evaluations VALUES (1, 'p', 'h', 'built-in default', '{}', NULL, "
        "TIMESTAMPTZ '2026-11-01 00:00Z', NULL, NULL, '[]', 'f', '0.1.0', 0, 0, "
        "TIMESTAMPTZ '2026-11-01 00:00Z', TIMESTAMPTZ '2026-11-01 00:01Z')"
    )
    con.close()
    monkeypatch.setattr(warehouse, "migrations", lambda: shipped)
    con = connect(path)
    runs = list_evaluations(con)
    assert runs["made_by"].tolist() == ["unknown"]
    assert runs["pruned_at"].isna().tolist() == [True]
    assert pruned_runs(con) == (1, 0)


@pytest.fixture
def five_runs(fixture_warehouse, tmp_path):
    """Run 1 by sla evaluate, 2 by the monthly report (its manifest under
    reports/), 3 named by a sales report's manifest deeper down, 4 and 5 by sla
    evaluate."""
    con = fixture_warehouse
    evaluate(con, as_of="2026-11-10T00:00Z")
    write_monthly_report(con, MONTH, formats=("html",), out_dir=tmp_path / "reports")
    evaluate(con, as_of="2026-11-11T00:00Z")
    sales = tmp_path / "reports" / "sales" / "2026"
    sales.mkdir(parents=True)
    (sales / "tiers-2026-01-2026-10.en.manifest.json").write_text(
        json.dumps({"report": "tiers", "evaluation_id": 3})
    )
    evaluate(con, as_of="2026-11-12T00:00Z")
    evaluate(con, as_of="2026-11-13T00:00Z")
    return con


def test_prune_keeps_reported_latest_and_recent_runs(five_runs, tmp_path) -> None:
    con = five_runs
    reports = tmp_path / "reports"
    before = {e: _rows(con, e) for e in range(1, 6)}
    assert manifest_references([reports]) == {
        2: (str(reports / MONTH / "manifest.json"),),
        3: (str(reports / "sales" / "2026" / "tiers-2026-01-2026-10.en.manifest.json"),),
    }
    plan = plan_prune(con, report_folders=[reports], keep_latest=1)
    assert plan.to_prune == [1, 4]
    assert plan.rows == before[1] + before[4]
    assert plan.runs["kept_because"].tolist() == [
        "",
        f"named by {reports / MONTH / 'manifest.json'}",
        f"named by {reports / 'sales' / '2026' / 'tiers-2026-01-2026-10.en.manifest.json'}",
        "",
        "among the latest 1",
    ]
    # Planning (what --dry-run shows) changes nothing.
    assert {e: _rows(con, e) for e in range(1, 6)} == before

    at = pd.Timestamp("2026-11-29T22:00Z")
    result = prune_evaluations(con, plan, now=at)
    assert result.pruned == (1, 4)
    assert result.rows_removed == before[1] + before[4]
    assert {e: _rows(con, e) for e in range(1, 6)} == {**before, 1: 0, 4: 0}
    runs = list_evaluations(con).set_index("evaluation_id")
    # The record stays, its policy document with it: what verify re-runs with.
    assert runs.index.tolist() == [1, 2, 3, 4, 5]
    assert runs["pruned_at"].notna().tolist() == [True, False, False, True, False]
    assert pd.Timestamp(runs.loc[1, "pruned_at"]) == at
    assert runs.loc[1, "rows_written"] == before[1]  # what it stored, still on record
    documents = con.execute(
        "SELECT count(*) FROM evaluations WHERE length(policy_document) > 100"
    ).fetchall()
    assert documents == [(5,)]
    assert pruned_runs(con) == (3, 2)

    # Pruning again: the runs pruned before do not count among the latest kept.
    again = plan_prune(con, report_folders=[reports], keep_latest=2)
    assert again.to_prune == []
    assert again.runs["kept_because"].tolist()[0] == "already pruned"
    assert again.runs["kept_because"].tolist()[4] == "among the latest 2"


def test_prune_keeps_runs_stored_since_a_day(five_runs, tmp_path) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    today = pd.Timestamp.now(tz="UTC").date()
    con = five_runs
    assert plan_prune(con, report_folders=[empty], keep_since=today).to_prune == []
    later = today + dt.timedelta(days=1)
    plan = plan_prune(con, report_folders=[empty], keep_latest=0, keep_since=later)
    assert plan.to_prune == [1, 2, 3, 4, 5]


def test_a_manifest_that_cannot_be_read_stops_the_prune(five_runs, tmp_path) -> None:
    reports = tmp_path / "reports"
    broken = reports / "2026-09" / "manifest.json"
    broken.parent.mkdir()
    broken.write_text('{"evaluation_id": 1,')
    with pytest.raises(RetentionError, match=f"{broken}: not a readable manifest"):
        plan_prune(five_runs, report_folders=[reports])
    broken.write_text('{"evaluation_id": "1"}')
    with pytest.raises(RetentionError, match="field 'evaluation_id' must be a whole number"):
        plan_prune(five_runs, report_folders=[reports])
    with pytest.raises(RetentionError, match=f"no report folder {tmp_path / 'nowhere'}"):
        plan_prune(five_runs, report_folders=[tmp_path / "nowhere"])
    assert list_evaluations(five_runs)["pruned_at"].isna().all()


def test_compact_gives_the_space_back_and_keeps_every_row(tmp_path) -> None:
    path = tmp_path / "big.duckdb"
    con = connect(path)
    # Result rows enough to fill many blocks, as a few stored runs would.
    con.execute(
        "INSERT INTO sla_results (evaluation_id, ticket_id, metric, tier, has_sla, "
        "outage_line, out_of_hours, billable, policy_hash, calendar, clock_start, "
        "elapsed_working_seconds, paused_working_seconds, gap_working_seconds, reopens, "
        "status) SELECT i // 200000 + 1, 'T' || i, 'resolution', 'premium', true, false, "
        "false, false, 'h', 'office', TIMESTAMPTZ '2026-10-01 00:00Z', random() * 1e6, 0, 0, 0, "
        "'met' FROM range(600000) t(i)"
    )
    con.execute(
        "INSERT INTO evaluations (evaluation_id, policy_name, policy_hash, policy_source, "
        "policy_document, as_of, input_loads, input_fingerprint, package_version, started_at) "
        "SELECT i, 'p', 'h', 's', '{}', now(), '[]', 'f', 'v', now() FROM range(1, 4) t(i)"
    )
    con.execute("CHECKPOINT")
    empty = tmp_path / "reports"
    empty.mkdir()
    result = prune_evaluations(con, plan_prune(con, report_folders=[empty], keep_latest=1))
    assert result.rows_removed == 400000
    # DuckDB keeps the freed blocks for reuse: the file does not shrink by much.
    assert result.file_bytes_after > result.file_bytes_before * 0.8
    compacted = compact_warehouse(con)
    assert compacted.path == path
    assert compacted.bytes_after < compacted.bytes_before * 0.6
    assert path.stat().st_size == compacted.bytes_after
    assert not path.with_name(path.name + ".compacting").exists()
    con = connect(path)
    assert con.execute("SELECT count(*) FROM sla_results").fetchall() == [(200000,)]
    assert con.execute("SELECT count(*) FROM evaluations").fetchall() == [(3,)]
    # The schema came along: its view, the migrations on record, so nothing re-applies.
    assert con.execute("SELECT count(*) FROM superseded_loads").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchall() == [
        (len(warehouse.migrations()),)
    ]


def test_a_warehouse_in_memory_cannot_be_compacted() -> None:
    with pytest.raises(RetentionError, match="in memory"):
        compact_warehouse(connect(":memory:"))


def _small_warehouse(path):
    """A warehouse with a run's worth of result rows, for the compaction tests."""
    con = connect(path)
    con.execute(
        "INSERT INTO sla_results (evaluation_id, ticket_id, metric, tier, has_sla, "
        "outage_line, out_of_hours, billable, policy_hash, calendar, clock_start, "
        "elapsed_working_seconds, paused_working_seconds, gap_working_seconds, reopens, "
        "status) SELECT 1, 'T' || i, 'resolution', 'premium', true, false, false, false, "
        "'h', 'office', TIMESTAMPTZ '2026-10-01 00:00Z', i, 0, 0, 0, 'met' FROM range(50000) t(i)"
    )
    con.execute("CHECKPOINT")
    return con


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_compact_keeps_the_files_permissions_and_owner(tmp_path) -> None:
    path = tmp_path / "private.duckdb"
    con = _small_warehouse(path)
    path.chmod(0o640)
    # Another owner (a service account) is only possible for root to give.
    owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(path, *owner)
    compact_warehouse(con)
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == owner


def test_a_copy_that_fails_leaves_the_warehouse_as_it_was(tmp_path) -> None:
    path = tmp_path / "w.duckdb"
    con = _small_warehouse(path)
    before = _digest(path)
    # Too little memory for the copy (DuckDB's own error, as a full disk or a
    # folder without write permission give): said without a traceback.
    con.execute("SET memory_limit = '1MB'")
    with pytest.raises(RetentionError, match=r"could not write the compacted copy of .*w\.duckdb"):
        compact_warehouse(con)
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_compact_a_warehouse_whose_name_holds_quotes(tmp_path) -> None:
    path = tmp_path / 'Jan\'s "old" warehouse.duckdb'
    compact_warehouse(_small_warehouse(path))
    con = connect(path)
    assert con.execute("SELECT count(*) FROM sla_results").fetchall() == [(50000,)]


def test_a_copy_left_by_an_interrupted_compaction_does_not_use_up_the_space(
    tmp_path, monkeypatch
) -> None:
    path = tmp_path / "w.duckdb"
    con = _small_warehouse(path)
    stale = tmp_path / "w.duckdb.compacting"
    stale.write_bytes(b"\0" * 4096)
    (tmp_path / "w.duckdb.compacting.wal").write_bytes(b"\0")

    # A disk the killed compaction's copy filled: room for a new copy only
    # once that copy is gone.
    def disk_usage(folder):
        room = 0 if stale.exists() else 10 * path.stat().st_size
        return shutil._ntuple_diskusage(room, 0, room)

    monkeypatch.setattr(retention.shutil, "disk_usage", disk_usage)
    compact_warehouse(con)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_manifests_in_linked_folders_name_runs_to_keep(tmp_path) -> None:
    reports = tmp_path / "reports"
    (reports / MONTH).mkdir(parents=True)
    (reports / MONTH / "manifest.json").write_text(json.dumps({"evaluation_id": 1}))
    archive = tmp_path / "archive" / "2025-12"
    archive.mkdir(parents=True)
    (archive / "manifest.json").write_text(json.dumps({"evaluation_id": 2}))
    (reports / "archive").symlink_to(tmp_path / "archive")
    # A link back up the tree is read once, not followed forever.
    (archive / "up").symlink_to(reports)
    assert manifest_references([reports]) == {
        1: (str(reports / MONTH / "manifest.json"),),
        2: (str(reports / "archive" / "2025-12" / "manifest.json"),),
    }


def test_a_report_folder_that_cannot_be_read_stops_the_prune(tmp_path, monkeypatch) -> None:
    hidden = tmp_path / "reports" / "2026-09"
    hidden.mkdir(parents=True)
    (hidden / "manifest.json").write_text(json.dumps({"evaluation_id": 1}))
    if os.geteuid() == 0:
        # Root reads every folder whatever its mode (CI runs as root): the folder
        # is made unreadable where os.walk lists it.
        scandir = os.scandir

        def refused(path=".", *args):
            if os.fspath(path) == os.fspath(hidden):
                raise PermissionError(13, "Permission denied", str(path))
            return scandir(path, *args)

        monkeypatch.setattr(os, "scandir", refused)
    hidden.chmod(0)
    try:
        with pytest.raises(RetentionError, match=f"{hidden}: cannot be read"):
            manifest_references([tmp_path / "reports"])
    finally:
        hidden.chmod(0o755)


def test_status_names_a_copy_left_by_an_interrupted_compaction(tmp_path) -> None:
    path = tmp_path / "w.duckdb"
    _small_warehouse(path).close()
    runner = CliRunner()
    clean = runner.invoke(cli, ["status", "--db", str(path)])
    assert clean.exit_code == 0 and "interrupted compaction" not in clean.output
    (tmp_path / "w.duckdb.compacting").write_bytes(b"\0" * 4096)
    (tmp_path / "w.duckdb.compacting.wal").write_bytes(b"\0" * 10)
    assert retention.leftover_copy(connect(path)) == (tmp_path / "w.duckdb.compacting", 4106)
    shown = runner.invoke(cli, ["status", "--db", str(path)])
    assert shown.exit_code == 0
    assert (
        f"{tmp_path / 'w.duckdb.compacting'} (4,106 bytes) is the copy of an interrupted "
        "compaction, not the warehouse: the next sla evaluations compact removes it, or "
        "delete it"
    ) in " ".join(shown.output.split())
    assert retention.leftover_copy(connect(":memory:")) is None
