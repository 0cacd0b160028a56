"""The warehouse file: migrations recorded once, a second writer gets a clear message."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from pipeline.errors import WarehouseBusyError, WarehouseError
from pipeline.load import load_file
from pipeline.warehouse import connect, migrations


def test_migrations_applied_once_and_recorded(tmp_path) -> None:
    path = tmp_path / "w.duckdb"
    con = connect(path)
    applied = con.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall()
    assert applied == migrations()
    con.close()
    con = connect(path)  # reopening applies nothing again
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchall() == [(len(applied),)]


def test_second_process_gets_a_clear_message(tmp_path) -> None:
    path = tmp_path / "w.duckdb"
    holder = connect(path)
    code = (
        "import sys\nfrom pipeline.warehouse import connect\n"
        "from pipeline.errors import WarehouseBusyError\n"
        f"try:\n    connect({str(path)!r})\nexcept WarehouseBusyError as e:\n"
        "    print(e); sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    holder.close()
    assert result.returncode == 3, result.stderr
    # The holder is named by its process id (DuckDB gives it): this test's own.
    assert f"is in use by process {os.getpid()} (an sla command" in result.stdout
    assert isinstance(WarehouseBusyError("x"), WarehouseError)


def test_a_warehouse_path_with_an_apostrophe_opens(tmp_path) -> None:
    folder = tmp_path / "Jan's data"
    con = connect(folder / "warehouse.duckdb")
    assert con.execute("SELECT count(*) FROM evaluations").fetchall() == [(0,)]
    assert con.execute("SELECT current_setting('temp_directory')").fetchall() == [
        (f"{folder}/warehouse.duckdb.tmp",)
    ]


def test_read_only_open_of_missing_warehouse(tmp_path) -> None:
    with pytest.raises(WarehouseError, match="no warehouse at"):
        connect(tmp_path / "missing.duckdb", read_only=True)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        # DuckDB opened an existing .csv as a view in a database in memory: a load
        # into it reported success and was gone when the command ended.
        ("tickets.csv", b"ticket_id,customer_id\nT1,C1\n"),
        ("empty.csv", b""),
        ("notes.duckdb", b"hello\n"),
    ],
)
def test_a_file_that_is_not_a_warehouse_is_refused(tmp_path, name, content) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(WarehouseError) as caught:
        connect(path)
    assert str(caught.value) == (
        f"{path} is not a DuckDB warehouse: --db (or $SLA_DB) names the warehouse file, such "
        "as data/warehouse.duckdb; give the path of an existing warehouse, or a new path to "
        "create one"
    )
    assert path.read_bytes() == content  # left as it was


def test_a_folder_is_not_a_warehouse(tmp_path) -> None:
    # $SLA_DB naming a folder gave DuckDB's "Could not read from file ...: Is a directory".
    with pytest.raises(WarehouseError) as caught:
        connect(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} is a folder: --db (or $SLA_DB) names the warehouse file in it, such as "
        f"{tmp_path / 'warehouse.duckdb'}"
    )


def test_a_read_only_warehouse_says_so(tmp_path, writes_refused) -> None:
    path = tmp_path / "w.duckdb"
    connect(path).close()
    writes_refused()
    with pytest.raises(WarehouseError) as caught:
        connect(path)
    assert str(caught.value) == (
        f"warehouse {path} cannot be written (the file or its folder is read-only): every sla "
        "command may write to it (schema upgrades, evaluation runs); make it writable, or "
        "work on a copy in a writable folder (--db COPY)"
    )


def test_a_read_only_warehouse_is_read_by_a_command_that_only_reads(
    tmp_path, writes_refused
) -> None:
    # An auditor's copy on a read-only share was refused even by sla status.
    path = tmp_path / "w.duckdb"
    connect(path).close()
    writes_refused()
    con = connect(path, must_exist=True, reading=True)
    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]
    with pytest.raises(duckdb.InvalidInputException, match="read-only"):
        con.execute("CREATE TABLE scratch (a INTEGER)")
    con.close()
    with pytest.raises(WarehouseError, match="cannot be written"):
        connect(path)  # a command that writes is still refused, as it says


def test_a_read_only_warehouse_due_an_upgrade_is_refused_by_name(tmp_path, writes_refused) -> None:
    path = tmp_path / "w.duckdb"
    with connect(path) as con:
        con.execute("DELETE FROM schema_migrations WHERE name = '070_rejected_value.sql'")
    writes_refused()
    with pytest.raises(WarehouseError) as caught:
        connect(path, must_exist=True, reading=True)
    assert str(caught.value) == (
        f"warehouse {path} cannot be written (the file or its folder is read-only), and this "
        "version must upgrade it first (1 migration(s) due, from 070_rejected_value.sql): "
        "open it once where it can be written, or work on a copy in a writable folder "
        "(--db COPY)"
    )


@pytest.mark.parametrize("through", [10, 20])
def test_an_older_release_warehouse_upgrades_with_its_data(old_warehouse, through) -> None:
    """A warehouse an older release filled (schema up to migration `through`),
    opened by today's code: every later migration applies to the filled tables,
    nothing loaded is lost or doubled, and loading its files again reads them once
    more (an older loader read them), replacing that reading."""
    path, customers, tickets = old_warehouse(through)
    con = connect(path)
    assert [
        v for v, _ in con.execute("SELECT version, name FROM schema_migrations").fetchall()
    ] == [v for v, _ in migrations()]
    loads = con.execute(
        "SELECT load_id, not_applied, id_prefix, reader_version, read_again FROM loads ORDER BY 1"
    ).fetchall()
    # The old tickets load skipped rows older than the stored version without
    # counting them: unknown, not 0. A customers load never has any.
    assert loads == [(1, 0, None, None, None), (2, None, None, None, None)]
    assert con.execute("SELECT missing_id FROM rejected_rows").fetchall() == [(None,)]

    assert (
        load_file(con, customers).read_again == "load #1 was read by an older version of the loader"
    )
    again = load_file(con, tickets)
    assert again.read_again.startswith("load #2 was read by an older version of the loader")
    assert (again.accepted, again.rejected, again.not_applied) == (1, {"unknown_customer": 1}, 0)
    assert con.execute("SELECT ticket_id, load_id FROM tickets").fetchall() == [
        ("T1", again.load_id)
    ]
    assert con.execute("SELECT count(*) FROM customers").fetchall() == [(1,)]
    assert con.execute(
        "SELECT not_applied FROM loads WHERE load_id = ?", [again.load_id]
    ).fetchall() == [(0,)]
    # The reading again is recorded as such; once more, the file is unchanged.
    assert load_file(con, tickets).unchanged_since == again.load_id


def test_a_load_made_after_migration_030_keeps_its_not_applied_count(old_warehouse) -> None:
    """Loads of a release that counted not-applied rows keep their count (0 here)."""
    path, _, _ = old_warehouse(31)
    con = connect(path)
    assert con.execute("SELECT not_applied FROM loads ORDER BY load_id").fetchall() == [(0,), (0,)]


def test_instants_come_back_in_utc_whatever_the_machines_zone(tmp_path) -> None:
    """DuckDB hands TIMESTAMPTZ values back in the zone of the machine (TZ) unless
    told otherwise: `sla status` printed its ticket range at -04:00 in New York."""
    path = tmp_path / "w.duckdb"
    con = connect(path)
    con.execute("CREATE TABLE t AS SELECT TIMESTAMPTZ '2026-10-26 08:15:00Z' AS moment")
    con.close()
    code = (
        "import sys\nfrom pipeline.warehouse import connect\n"
        "for read_only in (False, True):\n"
        "    con = connect(sys.argv[1], read_only=read_only)\n"
        "    print(con.execute('SELECT moment FROM t').fetchall()[0][0])\n"
        "    print(con.execute('SELECT moment::VARCHAR FROM t').fetchall()[0][0])\n"
        "    con.close()\n"
    )
    env = {**os.environ, "TZ": "America/New_York"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2026-10-26 08:15:00+00:00", "2026-10-26 08:15:00+00"] * 2
