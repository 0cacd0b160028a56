"""The warehouse file: migrations recorded once, a second writer gets a clear message."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.errors import WarehouseBusyError, WarehouseError
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
    assert "is in use by another process" in result.stdout
    assert isinstance(WarehouseBusyError("x"), WarehouseError)


def test_read_only_open_of_missing_warehouse(tmp_path) -> None:
    with pytest.raises(WarehouseError, match="no warehouse at"):
        connect(tmp_path / "missing.duckdb", read_only=True)
