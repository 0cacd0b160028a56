"""The breach register: which rows, which columns, and exports that open
cleanly in Excel and pandas (types, zones, ids as text, formulas neutralised)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from pipeline.breach_register import (
    XLSX_MAX_ROWS,
    XLSX_MAX_TEXT,
    _neutralised,
    breach_register,
    export_register,
    neutralise,
)
from pipeline.errors import AuditError, EvaluationError
from pipeline.evaluate import evaluate
from tests.evaluation_fixtures import build, plan, ticket

H = 3600.0
AS_OF = "2026-11-01T00:00"


@pytest.fixture(scope="module")
def con():
    tickets = [
        # Business, resolved 8 working days after creation: over the 7-day limit.
        ticket(
            "007",
            "0042",
            "2026-10-01T09:00",
            first_response="2026-10-06T09:00",
            resolved="2026-10-13T09:00",
        ),
        # Premium, never answered, still open: first response open_breached.
        ticket("=1+1", "0042", "2026-10-27T09:00"),
        # Met: not in the register.
        ticket(
            "OK",
            "0042",
            "2026-10-05T09:00",
            first_response="2026-10-05T10:00",
            resolved="2026-10-06T10:00",
        ),
        # Pioneer, late: benchmark only, never a breach.
        ticket("FREE", "C-FREE", "2026-10-01T09:00", resolved="2026-10-30T09:00"),
        # A September breach: outside an October register.
        ticket("SEP", "0042", "2026-09-01T09:00", first_response="2026-09-10T09:00"),
    ]
    plans = [
        plan("0042", "business", "2025-01-01", "2026-10-20"),
        plan("0042", "premium", "2026-10-20"),
        plan("C-FREE", "pioneer", "2025-01-01"),
    ]
    con = build(tickets, [], plans)
    con.execute(
        "UPDATE tickets SET subject = '=HYPERLINK(\"http://x\",\"click\")' WHERE ticket_id = '007'"
    )
    con.execute("UPDATE tickets SET subject = '-2+3 <b>bold</b>' WHERE ticket_id = '=1+1'")
    evaluate(con, as_of=AS_OF, month_from="2026-09", month_to="2026-10")
    return con


@pytest.fixture(scope="module")
def register(con):
    return breach_register(con, month_from="2026-10", month_to="2026-10")


def test_rows_and_columns(register) -> None:
    assert list(
        zip(register["ticket_id"], register["metric"], register["status"], strict=True)
    ) == [
        ("007", "first_response", "breached"),
        ("007", "resolution", "breached"),
        ("=1+1", "first_response", "open_breached"),
    ]
    row = register.iloc[1]
    assert row["elapsed_working_seconds"] == 8 * 8.5 * H
    assert row["limit_seconds"] == 7 * 8.5 * H and row["target_seconds"] == 3 * 8.5 * H
    assert row["late_working_seconds"] == 8.5 * H
    assert row["paused_working_seconds"] == 0 and row["gap_working_seconds"] == 0
    assert row["policy_version"] == "2025.1" and len(row["policy_hash"]) == 64
    assert row["calendar"] == "office" and row["report_timezone"] == "Europe/Amsterdam"
    assert row["evaluation_id"] == 1
    # The deadline twice: the same instant in UTC and in local time.
    assert row["deadline_utc"] == row["deadline_local"]
    assert str(row["deadline_utc"].tz) == "UTC"
    assert row["deadline_local"].isoformat() == "2026-10-09T17:30:00+02:00"
    open_row = register.iloc[2]
    assert pd.isna(open_row["clock_stop_utc"])
    assert open_row["as_of_local"].isoformat() == "2026-11-01T00:00:00+01:00"
    assert open_row["tier"] == "premium"  # the plan at creation, after the upgrade


def test_tier_filter_and_bad_requests(con) -> None:
    assert breach_register(con, month_from="2026-10", month_to="2026-10", tier="business")[
        "ticket_id"
    ].tolist() == ["007", "007"]
    # Still open and past its deadline in September: it counts where the deadline passed.
    september = breach_register(con, month_from="2026-09", month_to="2026-09")
    assert list(zip(september["ticket_id"], september["status"], strict=True)) == [
        ("SEP", "breached"),
        ("SEP", "open_breached"),
    ]
    with pytest.raises(AuditError, match="unknown tier 'gold'"):
        breach_register(con, month_from="2026-10", month_to="2026-10", tier="gold")
    # Found in the sales pass: "--tier Premium", as every report prints the tier, was
    # "unknown tier 'Premium'"; a misspelling named no tier to use instead.
    assert breach_register(con, month_from="2026-10", month_to="2026-10", tier="Business")[
        "ticket_id"
    ].tolist() == ["007", "007"]
    with pytest.raises(AuditError) as caught:
        breach_register(con, month_from="2026-10", month_to="2026-10", tier="Premuim")
    assert str(caught.value) == (
        "unknown tier 'Premuim' (known: business, pioneer, premium, professional); "
        "did you mean 'premium'?"
    )
    with pytest.raises(AuditError, match="run sla evaluate --from 2027-01"):
        breach_register(con, month_from="2027-01", month_to="2027-01")
    # The evaluation named does not cover the months: "or pass --evaluation" told
    # the operator to do what they had just done.
    with pytest.raises(AuditError) as caught:
        breach_register(con, month_from="2026-08", month_to="2026-10", evaluation_id=1)
    assert str(caught.value) == (
        "evaluation #1 covers 2026-09 to 2026-10, not 2026-08 to 2026-10: name one that covers "
        "them (sla evaluations list shows each run's months), or run sla evaluate --from "
        "2026-08 --to 2026-10 and name that"
    )
    with pytest.raises(EvaluationError, match="malformed month"):
        breach_register(con, month_from="October", month_to="2026-10")
    with pytest.raises(AuditError, match="the months run backwards"):
        breach_register(con, month_from="2026-10", month_to="2026-09")


def test_neutralise() -> None:
    assert [neutralise(x) for x in ("=1", "+1", "-1", "@x", "\t=1", "a=b", "")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@x",
        "'\t=1",
        "a=b",
        "",
    ]
    assert neutralise(5) == 5 and neutralise(None) is None
    # Looked through: what a reader (or the XLSX writer) may drop before a formula.
    assert [neutralise(x) for x in ("\x01=1", "\n=1+1", " =1", "a \x01=1")] == [
        "'\x01=1",
        "'\n=1+1",
        "' =1",
        "a \x01=1",
    ]


def test_no_subject_becomes_a_formula_or_splits_a_row(register, tmp_path) -> None:
    """Found by QA: '\x01=1' had its control character stripped after the check and
    became a formula in XLSX; a bare CR split the CSV row."""
    tricky = register.copy()
    tricky["subject"] = ["\x01=1", "\r=1", "\n=1+1"]
    sheet = load_workbook(export_register(tricky, tmp_path / "t.xlsx", "xlsx"))["breaches"]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    column = [c.value for c in sheet[1]].index("subject") + 1
    # (XML reads a CR back as a line feed.)
    assert [sheet.cell(row=r, column=column).value for r in (2, 3, 4)] == [
        "'=1",
        "'\n=1",
        "'\n=1+1",
    ]
    back = pd.read_csv(export_register(tricky, tmp_path / "t.csv", "csv"), dtype=str)
    assert len(back) == 3 and back["subject"].tolist() == ["'\x01=1", "'\r=1", "'\n=1+1"]
    assert back["ticket_id"].tolist() == tricky["ticket_id"].map(neutralise).tolist()


def test_xlsx_opens_cleanly(register, tmp_path) -> None:
    path = export_register(register, tmp_path / "b.xlsx", "xlsx")
    sheet = load_workbook(path)["breaches"]
    header = [c.value for c in sheet[1]]
    cells = {name: sheet.cell(row=2, column=header.index(name) + 1) for name in header}
    # Ids are text cells: no leading zeros lost.
    assert cells["ticket_id"].value == "007" and cells["ticket_id"].data_type == "s"
    assert cells["customer_id"].value == "0042"
    # A subject or id that looks like a formula stays text.
    assert cells["subject"].value == '\'=HYPERLINK("http://x","click")'
    assert sheet.cell(row=4, column=header.index("ticket_id") + 1).value == "'=1+1"
    assert not any(
        isinstance(c.value, str) and c.value.startswith("=")
        for row in sheet.iter_rows()
        for c in row
    )
    # Instants: naive cells, UTC and local side by side (row 3: the resolution breach).
    cells = {name: sheet.cell(row=3, column=header.index(name) + 1) for name in header}
    assert cells["deadline_utc"].value == pd.Timestamp("2026-10-09 15:30").to_pydatetime()
    assert cells["deadline_local"].value == pd.Timestamp("2026-10-09 17:30").to_pydatetime()
    assert cells["elapsed_working_seconds"].data_type == "n"  # a number, not text
    assert cells["elapsed_working_seconds"].value == 8 * 8.5 * H
    back = pd.read_excel(path, dtype={"ticket_id": str, "customer_id": str})
    assert back["customer_id"].tolist() == ["0042"] * 3
    # Written again (a second later): the same bytes, as the other formats.
    import time

    time.sleep(1.1)
    again = export_register(register, tmp_path / "c.xlsx", "xlsx")
    assert again.read_bytes() == path.read_bytes()


def test_xlsx_text_stays_text_whatever_pandas_would_pick(register, tmp_path) -> None:
    # Written by xlsxwriter with its conversions off: text that looks like a URL
    # or a number stays text (no link; pandas' own xlsxwriter path makes links and
    # stops at 65,530 of them), and pandas' choice of engine plays no part.
    linked = register.copy()
    linked["subject"] = ["http://example.com/pay", "0042", "mailto:x@example.com"]
    with pd.option_context("io.excel.xlsx.writer", "openpyxl"):
        path = export_register(linked, tmp_path / "b.xlsx", "xlsx")
    sheet = load_workbook(path)["breaches"]
    column = [c.value for c in sheet[1]].index("subject") + 1
    cells = [sheet.cell(row=r, column=column) for r in (2, 3, 4)]
    assert [c.value for c in cells] == ["http://example.com/pay", "0042", "mailto:x@example.com"]
    assert all(c.data_type == "s" and c.hyperlink is None for c in cells)
    assert sheet.freeze_panes == "A2"  # the header stays in view
    assert [c.value for c in sheet[1]] == list(register.columns)
    # Still open: no clock stop, an empty cell (not 0, not 1899-12-30).
    stop = [c.value for c in sheet[1]].index("clock_stop_utc") + 1
    assert sheet.cell(row=4, column=stop).value is None


def test_xlsx_bytes_do_not_depend_on_the_umask_or_the_clock(register, tmp_path) -> None:
    import os

    first = export_register(register, tmp_path / "a.xlsx", "xlsx").read_bytes()
    old = os.umask(0o077)
    try:
        again = export_register(register, tmp_path / "b.xlsx", "xlsx").read_bytes()
    finally:
        os.umask(old)
    assert again == first
    assert b"1980-01-01T00:00:00Z" in _entry(tmp_path / "a.xlsx", "docProps/core.xml")


def _entry(path: Path, name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def test_text_longer_than_a_cell_is_refused_by_row_and_field(register, tmp_path) -> None:
    # Excel holds 32,767 characters (UTF-16 units) in a cell; xlsxwriter would cut
    # the rest off without a word: the data would be lost, so it is refused.
    long = register.copy()
    long["subject"] = ["short", "x" * XLSX_MAX_TEXT, "\U0001f4b3" * (XLSX_MAX_TEXT // 2 + 1)]
    with pytest.raises(AuditError) as caught:
        export_register(long, tmp_path / "long.xlsx", "xlsx")
    assert str(caught.value) == (
        "row 4 (ticket =1+1, first_response): field 'subject' is 32,768 characters long as "
        "Excel counts them, more than an XLSX cell holds (32,767; 1 such value(s) in all): "
        "write csv or parquet, which keep them whole"
    )
    assert not (tmp_path / "long.xlsx").exists()
    # Exactly the limit fits, and comes back whole.
    long["subject"] = ["short", "x" * XLSX_MAX_TEXT, "y"]
    sheet = load_workbook(export_register(long, tmp_path / "ok.xlsx", "xlsx"))["breaches"]
    column = [c.value for c in sheet[1]].index("subject") + 1
    assert sheet.cell(row=3, column=column).value == "x" * XLSX_MAX_TEXT


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(
        st.none()
        | st.text(alphabet=st.sampled_from("=+-@ \t\r\n\x00\x01\x1f\x20a1'_é"), max_size=6),
        min_size=1,
        max_size=8,
    )
)
def test_the_column_rule_is_neutralise(texts: list[str | None]) -> None:
    # _neutralised works on whole columns (a regex), `neutralise` cell by cell:
    # both must turn exactly the same cells.
    frame = pd.DataFrame(
        {"t": pd.array(texts, dtype="string"), "o": pd.Series(texts, dtype=object)}
    )
    out = _neutralised(frame)
    expected = [neutralise(t) for t in texts]
    assert [None if pd.isna(v) else v for v in out["t"]] == expected
    assert [None if pd.isna(v) else v for v in out["o"]] == expected


def test_a_register_too_long_for_a_sheet_is_refused_by_name(tmp_path) -> None:
    # Excel's 1,048,576 rows include the header. pandas let one row too many
    # through and raised a bare ValueError beyond it (a traceback in the CLI).
    assert XLSX_MAX_ROWS == 2**20
    for rows in (XLSX_MAX_ROWS + 1, XLSX_MAX_ROWS):
        frame = pd.DataFrame({"late_working_seconds": range(rows)})
        with pytest.raises(AuditError) as caught:
            export_register(frame, tmp_path / "big.xlsx", "xlsx")
        assert str(caught.value) == (
            f"{rows:,} breaches do not fit in an XLSX sheet (1,048,575 rows below its header): "
            "write csv or parquet, or take fewer months or one --tier"
        )
        assert not (tmp_path / "big.xlsx").exists()
    # One fewer fits (not written here: it takes minutes).


def test_csv_and_parquet_open_cleanly_in_pandas(register, tmp_path) -> None:
    csv = export_register(register, tmp_path / "b.csv", "csv")
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
    back = pd.read_csv(csv, dtype={"ticket_id": str, "customer_id": str})
    assert back["ticket_id"].tolist() == ["007", "007", "'=1+1"]
    assert back["subject"].iloc[2] == "'-2+3 <b>bold</b>"
    local = pd.to_datetime(back["deadline_local"].iloc[1])
    assert local.isoformat() == "2026-10-09T17:30:00+02:00"
    assert pd.isna(back["clock_stop_utc"].iloc[2])
    parquet = pd.read_parquet(export_register(register, tmp_path / "b.parquet", "parquet"))
    # Parquet keeps the zone and the text exactly as loaded (no formula engine reads it).
    assert str(parquet["deadline_local"].dt.tz) == "Europe/Amsterdam"
    assert parquet["ticket_id"].tolist() == ["007", "007", "=1+1"]
    assert parquet["elapsed_working_seconds"].dtype == "float64"


def test_html_escapes_and_neutralises(register, tmp_path) -> None:
    path = export_register(register, tmp_path / "b.html", "html")
    soup = BeautifulSoup(path.read_text("utf-8"), "html.parser")
    assert not soup.select("td b")
    cells = [td.get_text() for td in soup.select("td")]
    assert "'-2+3 <b>bold</b>" in cells
    with pytest.raises(AuditError, match="unknown format 'pdf'"):
        export_register(register, tmp_path / "b.pdf", "pdf")


def test_cli_writes_the_register_and_fails_cleanly(tmp_path) -> None:
    from click.testing import CliRunner

    from pipeline.cli import cli

    fixtures = Path(__file__).parent / "fixtures"
    db = str(tmp_path / "w.duckdb")

    def run(*args: str):
        return CliRunner().invoke(cli, [*args, "--db", db], catch_exceptions=False)

    run("customers", str(fixtures / "customers.csv"))
    run("load", str(fixtures / "tickets.csv"), "--source-tz", "Europe/Amsterdam")
    run("evaluate", "--as-of", "2026-11-01T00:00")
    october_xlsx = ("audit", "breaches", "--from", "2026-10", "--to", "2026-10", "--format", "xlsx")
    out = tmp_path / "r.xlsx"
    result = run(*october_xlsx, "--out", str(out))
    assert result.exit_code == 0
    # The line says which judgement the register is: the run, its as-of and policy.
    assert "(2 breaches, 0 closed and 2 still open; evaluation #" in result.output
    assert "as of 2026-11-01T00:00:00+01:00, policy " in result.output
    assert "from built-in default)" in result.output
    assert len(pd.read_excel(out)) == int(result.output.split("(")[1].split()[0].replace(",", ""))
    html = run("audit", "ticket", "T1", "--format", "html")
    assert html.exit_code == 0 and BeautifulSoup(html.output, "html.parser").select("#events")
    for args, message in (
        (("audit", "breaches", "--from", "2031-01", "--to", "2031-01"), "not judged"),
        (("audit", "verify", str(tmp_path / "none.json")), "no such manifest"),
        (("audit", "ticket", "T1", "--evaluation", "42"), "no evaluation #42"),
    ):
        result = run(*args)
        assert result.exit_code == 1 and message in result.output
        assert "Traceback" not in result.output
    # A file named for another format is refused before anything is read.
    wrong = tmp_path / "x.csv"
    result = run(*october_xlsx, "--out", str(wrong))
    assert result.exit_code == 2 and "x.csv does not end in .xlsx" in result.output
    assert not wrong.exists()


def test_a_pruned_evaluation_is_refused_and_never_taken_by_default(
    fixture_warehouse, tmp_path
) -> None:
    from pipeline.retention import plan_prune, prune_evaluations

    con = fixture_warehouse
    evaluate(con, as_of=AS_OF, month_from="2026-10", month_to="2026-10")
    evaluate(con, as_of=AS_OF, month_from="2026-10", month_to="2026-10")
    latest = breach_register(con, month_from="2026-10", month_to="2026-10")
    assert latest.attrs["evaluation"]["evaluation_id"] == 2
    # A report names run 1: the newer run 2 is pruned, and the default falls back to 1.
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "manifest.json").write_text('{"evaluation_id": 1}')
    plan = plan_prune(con, report_folders=[reports], keep_latest=0)
    assert prune_evaluations(con, plan).pruned == (2,)
    frame = breach_register(con, month_from="2026-10", month_to="2026-10")
    assert frame.attrs["evaluation"]["evaluation_id"] == 1
    assert len(frame) == len(latest) > 0
    with pytest.raises(AuditError, match=r"evaluation #2 was pruned on .*: its result rows are"):
        breach_register(con, month_from="2026-10", month_to="2026-10", evaluation_id=2)
    (reports / "manifest.json").unlink()
    prune_evaluations(con, plan_prune(con, report_folders=[reports], keep_latest=0))
    with pytest.raises(AuditError, match="no evaluation covers 2026-10 to 2026-10"):
        breach_register(con, month_from="2026-10", month_to="2026-10")


@settings(max_examples=300, deadline=None)
@given(
    moments=st.lists(
        st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2199, 12, 31)),
        min_size=1,
        max_size=20,
    )
)
def test_excel_serials_are_xlsxwriters(moments: list[dt.datetime]) -> None:
    """The register's instants are turned into Excel serial numbers a column at a
    time (`_excel_serial`), not by xlsxwriter cell by cell: the same numbers, the
    1900 leap-year quirk and microseconds included, over the years a time may lie in."""
    from xlsxwriter.utility import _datetime_to_excel_datetime

    from pipeline.breach_register import _excel_serial

    column = pd.Series(pd.to_datetime([*moments, pd.NaT]))
    expected = [
        _datetime_to_excel_datetime(m, date_1904=False, remove_timezone=True) for m in moments
    ]
    serials = _excel_serial(column)
    assert serials.iloc[:-1].tolist() == pytest.approx(expected, rel=0, abs=1e-9)
    assert pd.isna(serials.iloc[-1])
