"""Shared fixtures: the committed sample data loaded once into an in-memory warehouse."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from pipeline.load import load_file
from pipeline.warehouse import connect

SAMPLE = Path(__file__).parent.parent / "data" / "sample"


@pytest.fixture(scope="session")
def sample_warehouse():
    """The sample (customers, tickets, events) loaded; tests add evaluations to it."""
    con = connect(":memory:")
    for name in ("customers", "tickets", "events"):
        load_file(con, SAMPLE / f"{name}.csv")
    return con


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_warehouse(tmp_path):
    """A warehouse file with the small fixture customers and tickets (times in
    Amsterdam) loaded: for tests that store, prune and compact evaluations."""
    con = connect(tmp_path / "w.duckdb")
    load_file(con, FIXTURES / "customers.csv")
    load_file(con, FIXTURES / "tickets.csv", source_tz="Europe/Amsterdam")
    return con


# When the older release applied its migrations, and when its loads ran: both
# before today's code opens the file and applies the rest.
OLD_RELEASE_MIGRATED = "2026-01-05T09:00:00Z"
OLD_RELEASE_LOADED = "2026-02-02T10:00:00Z"


@pytest.fixture
def old_warehouse(tmp_path):
    """Build a warehouse as a release that shipped the migrations up to `through`
    left it: `old_warehouse(through)` applies only those, then stores what that
    release's loader stored for a customers file (C1) and a tickets file (T1, and
    a row rejected for an unknown customer), with no column added later. Returns
    the file path and the two loaded files; open it with `connect` to upgrade it."""
    import duckdb

    from pipeline.load import sha256_of
    from pipeline.warehouse import migrations, read_sql

    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,tier,valid_from\nC1,business,2024-01-01T00:00:00Z\n")
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(
        "ticket_id,customer_id,created_at\nT1,C1,2026-01-12T10:00:00Z\nT2,CX,2026-01-12T11:00:00Z\n"
    )

    def mapping(kind: str, file: Path) -> str:
        # As the loader records a canonical file's reading: its kind and columns.
        columns = file.read_text().splitlines()[0].split(",")
        return json.dumps({"kind": kind, "columns": columns})

    def build(through: int) -> tuple[Path, Path, Path]:
        path = tmp_path / "old.duckdb"
        con = duckdb.connect(str(path))
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER NOT NULL, name VARCHAR NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL)"
        )
        for version, name in migrations():
            if version <= through:
                con.execute(read_sql(name))
                con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [version, name, OLD_RELEASE_MIGRATED],
                )
        at = OLD_RELEASE_LOADED
        con.execute(
            "INSERT INTO loads (load_id, kind, path, sha256, format, preset, mapping, "
            "rows_read, accepted, rejected, started_at, finished_at) VALUES "
            "(1, 'customers', ?, ?, 'csv', 'canonical', ?, 1, 1, 0, ?, ?), "
            "(2, 'tickets', ?, ?, 'csv', 'canonical', ?, 2, 1, 1, ?, ?)",
            [
                *(str(customers), sha256_of(customers), mapping("customers", customers), at, at),
                *(str(tickets), sha256_of(tickets), mapping("tickets", tickets), at, at),
            ],
        )
        con.execute("INSERT INTO customers VALUES ('C1', NULL, 1)")
        con.execute(
            "INSERT INTO plan_history VALUES ('C1', 'business', '2024-01-01T00:00:00Z', NULL, 1)"
        )
        con.execute(
            "INSERT INTO tickets (ticket_id, source_system, customer_id, created_at, "
            "updated_at, load_id) VALUES ('T1', 'canonical', 'C1', '2026-01-12T10:00:00Z', "
            "'2026-01-12T10:00:00Z', 2)"
        )
        con.execute(
            "INSERT INTO rejected_rows VALUES (2, ?, 3, 'customer_id', 'unknown_customer', "
            "'customer not in the warehouse', '{\"ticket_id\":\"T2\"}')",
            [str(tickets)],
        )
        con.close()
        return path, customers, tickets

    return build


@pytest.fixture
def writes_refused(monkeypatch):
    """Call it to make DuckDB refuse every open for writing, as on a read-only
    share; the tests may run as root, whom no file mode stops."""
    real = duckdb.connect

    def refuse_writes(database, read_only=False, **kwargs):
        if not read_only:
            raise duckdb.IOException(f'IO Error: Cannot open file "{database}": Read-only')
        return real(database, read_only=True, **kwargs)

    def refuse() -> None:
        monkeypatch.setattr(duckdb, "connect", refuse_writes)
        monkeypatch.setattr(os, "access", lambda p, mode: mode != os.W_OK)

    return refuse
