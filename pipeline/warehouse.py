"""The DuckDB warehouse: where it lives, opening it, and its schema migrations.

One file (default `data/warehouse.duckdb`, or `$SLA_DB`, or `--db PATH`).
The schema is created and upgraded by the numbered SQL files in
`pipeline/sql/NNN_*.sql`, each applied once, in order, in its own transaction,
and recorded in `schema_migrations`.

DuckDB lets one process at a time write a database file; a second process gets
a lock error, which is turned into a clear `WarehouseBusyError` naming the file.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

import duckdb

from pipeline.errors import WarehouseBusyError, WarehouseError

DEFAULT_PATH = Path("data/warehouse.duckdb")
ENV_VAR = "SLA_DB"
# DuckDB would take 80 % of the machine; a bound makes big loads spill to disk
# (next to the warehouse) instead of competing with the Python side for memory.
MEMORY_ENV_VAR = "SLA_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "8GB"
_MIGRATION = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def default_path() -> Path:
    """`$SLA_DB` when set, else data/warehouse.duckdb."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def read_sql(name: str) -> str:
    """The text of `pipeline/sql/<name>`."""
    return resources.files("pipeline.sql").joinpath(name).read_text("utf-8")


def migrations() -> list[tuple[int, str]]:
    """(number, file name) of every migration shipped, in order."""
    found = []
    for entry in resources.files("pipeline.sql").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name))
    return sorted(found)


def _due(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """The migrations shipped that the warehouse has not applied, in order."""
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    return [(version, name) for version, name in migrations() if version not in done]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations not yet applied; return their names."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    applied = []
    for version, name in _due(con):
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(read_sql(name))
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def connect(
    path: str | Path | None = None,
    *,
    read_only: bool = False,
    must_exist: bool = False,
    reading: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed, unless `must_exist` or `read_only`) and migrate
    the warehouse. `reading`: the caller only reads (`sla status`, the audit's
    lookups), so a warehouse that cannot be written (an auditor's copy on a
    read-only share) is opened read-only instead of refused, if no migration is due.

    Raises `WarehouseBusyError` when another process holds the file, and
    `WarehouseError` when a read-only or must-exist open finds no warehouse, when
    the file is not a DuckDB database (an export given as the warehouse), or when
    it cannot be written (and, `reading`, needs a migration)."""
    target = Path(path) if path is not None else default_path()
    if str(target) != ":memory:":
        if (read_only or must_exist) and not target.exists():
            raise WarehouseError(
                f"no warehouse at {target}: load data first (sla load FILE), "
                f"or point --db / ${ENV_VAR} at one"
            )
        _check_database_file(target)
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(target), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            # DuckDB names the holder's process id: which one to wait for (it may be
            # a report or a reader as well as a load or an evaluation).
            pid = re.search(r"PID (\d+)", str(exc))
            holder = f"process {pid.group(1)}" if pid else "another process"
            raise WarehouseBusyError(
                f"warehouse {target} is in use by {holder} (an sla command or another "
                "program has it open); try again when it has finished"
            ) from None
        if not read_only and _read_only_place(target):
            if reading:
                return _open_current_read_only(target)
            raise WarehouseError(
                f"warehouse {target} cannot be written (the file or its folder is read-only): "
                "every sla command may write to it (schema upgrades, evaluation runs); make "
                "it writable, or work on a copy in a writable folder (--db COPY)"
            ) from None
        raise WarehouseError(f"cannot open warehouse {target}: {exc}") from None
    if str(target) != ":memory:" and _opened_in_memory(con):
        # DuckDB opens an existing file it can read as data (a .csv, .parquet,
        # .json) as a view in a database in memory: loads into it would report
        # success and be gone when the command ends.
        con.close()
        raise WarehouseError(_not_a_warehouse(target))
    con.execute(f"SET memory_limit = '{_memory_limit()}'")
    # DuckDB hands instants back in the machine's zone (from TZ) unless told:
    # `sla status` then printed its ticket range at -04:00 on one machine and
    # +00:00 on another. Every zone the pipeline shows is named by the policy.
    con.execute("SET TimeZone = 'UTC'")
    if str(target) != ":memory:":
        # Quoted: a folder or file name may hold an apostrophe ("Jan's data").
        spill = f"{target}.tmp".replace("'", "''")
        con.execute(f"SET temp_directory = '{spill}'")
    if not read_only:
        migrate(con)
    return con


# A DuckDB database file holds these bytes at this offset (after a checksum).
DUCKDB_MAGIC = (8, b"DUCK")


def _not_a_warehouse(target: Path) -> str:
    return (
        f"{target} is not a DuckDB warehouse: --db (or ${ENV_VAR}) names the warehouse file, "
        f"such as {DEFAULT_PATH}; give the path of an existing warehouse, or a new path to "
        "create one"
    )


def _check_database_file(target: Path) -> None:
    """Refuse an existing file that is not a DuckDB database (an export given as
    --db by mistake) before DuckDB reads or overwrites it; an empty file is
    refused too, since DuckDB reads an empty .csv as data, not as a database."""
    if target.is_dir():
        # Reachable through $SLA_DB, which click's check of --db does not see.
        raise WarehouseError(
            f"{target} is a folder: --db (or ${ENV_VAR}) names the warehouse file in it, such "
            f"as {target / DEFAULT_PATH.name}"
        )
    if not target.is_file():
        return
    offset, magic = DUCKDB_MAGIC
    with target.open("rb") as fh:
        head = fh.read(offset + len(magic))
    if head[offset:] != magic:
        raise WarehouseError(_not_a_warehouse(target))


def _opened_in_memory(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether DuckDB opened the database in memory, not in the file it was given."""
    path = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return not path or path[0][0] is None


def _open_current_read_only(target: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse opened read-only, for a caller that only reads; refused when
    a migration is due, which only a writable warehouse can take."""
    con = connect(target, read_only=True)
    due = [name for _, name in _due(con)]
    if due:
        con.close()
        raise WarehouseError(
            f"warehouse {target} cannot be written (the file or its folder is read-only), and "
            f"this version must upgrade it first ({len(due)} migration(s) due, from {due[0]}): "
            "open it once where it can be written, or work on a copy in a writable folder "
            "(--db COPY)"
        )
    return con


def _read_only_place(target: Path) -> bool:
    """Whether the warehouse file, or the folder its write-ahead log goes in,
    cannot be written by this process."""
    if target.exists() and not os.access(target, os.W_OK):
        return True
    return not os.access(target.parent, os.W_OK)


def _memory_limit() -> str:
    value = os.environ.get(MEMORY_ENV_VAR) or DEFAULT_MEMORY_LIMIT
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", value.strip(), flags=re.IGNORECASE):
        raise WarehouseError(f"${MEMORY_ENV_VAR}={value!r}: use a size such as 8GB or 512MB")
    return value.strip()


def bind(sql: str, params: dict) -> dict:
    """The subset of `params` a statement names as $name: DuckDB refuses extra ones."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def query(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> duckdb.DuckDBPyConnection:
    """Run the single statement in `pipeline/sql/<name>` with the parameters it uses."""
    sql = read_sql(name)
    return con.execute(sql, bind(sql, params))
