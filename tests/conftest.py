"""Shared fixtures: the committed sample data loaded once into an in-memory warehouse."""

from __future__ import annotations

from pathlib import Path

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
