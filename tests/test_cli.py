"""The `sla` command: every command has --help, works on the sample, fails cleanly."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline import cli as cli_module
from pipeline.cli import cli
from pipeline.warehouse import connect

FIXTURES = Path(__file__).parent / "fixtures"
DEFAULT_POLICY = Path(__file__).parents[1] / "pipeline" / "data" / "default_policy.toml"


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "w.duckdb")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def load_fixtures(db: str) -> None:
    """The fixture customers and tickets (times in Amsterdam) loaded into `db`."""
    run("customers", str(FIXTURES / "customers.csv"), "--db", db)
    run("load", str(FIXTURES / "tickets.csv"), "--source-tz", "Europe/Amsterdam", "--db", db)


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name: str) -> None:
    result = run(name, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_load_status_evaluate(db: str) -> None:
    assert run("customers", str(FIXTURES / "customers.csv"), "--db", db).exit_code == 0
    result = run(
        "load", str(FIXTURES / "tickets.csv"), "--source-tz", "Europe/Amsterdam", "--db", db
    )
    assert result.exit_code == 0
    assert "read 12, accepted 5, rejected 7" in result.output
    again = run(
        "load", str(FIXTURES / "tickets.csv"), "--source-tz", "Europe/Amsterdam", "--db", db
    )
    assert "nothing changed" in again.output
    status = run("status", "--db", db)
    assert "unknown_customer" in status.output
    assert "nan" not in status.output  # the customers load has no source zone: "-"
    # The skipped load read nothing and had a zone: "unchanged" stood only where a
    # load had no zone, in the zone's column, and this one looked like a real load
    # of no rows.
    assert re.search(
        r"│ 3 +│ tickets +│[^│]+│[^│]+│ unchanged +│.*│ Europe/Amsterdam +│", status.output
    )
    assert "tickets created from 2026-10-21 08:00:00+00:00 to 2026-10-25 01:30:00+00:00" in (
        status.output
    )
    assert "1 ticket created after now (the latest 2036-10-21 08:00:00+00:00)" in status.output
    evaluated = run("evaluate", "--as-of", "2026-11-01T00:00", "--db", db)
    assert evaluated.exit_code == 0
    assert "evaluation #1" in evaluated.output


def test_naive_file_without_zone_is_a_clear_error(db: str) -> None:
    run("customers", str(FIXTURES / "customers.csv"), "--db", db)
    result = run("load", str(FIXTURES / "tickets.csv"), "--db", db)
    assert result.exit_code == 1
    assert "line 3, field 'created_at'" in result.output
    assert "Traceback" not in result.output


def test_bad_month_and_empty_warehouse(db: str) -> None:
    # No warehouse at all: only the loading commands create one.
    for command in (["evaluate"], ["status"], ["audit", "ticket", "T1"]):
        result = run(*command, "--db", db)
        assert result.exit_code == 1 and f"no warehouse at {db}" in result.output
        assert not Path(db).exists()
    run("customers", str(FIXTURES / "customers.csv"), "--db", db)
    assert "no tickets loaded yet" in run("status", "--db", db).output
    result = run("evaluate", "--from", "2026-13", "--db", db)
    assert result.exit_code == 1 and "malformed month" in result.output
    result = run("evaluate", "--db", db)
    assert result.exit_code == 1 and "load data first" in result.output
    result = run("evaluate", "--as-of", "garbage", "--db", db)
    assert result.exit_code == 1 and "malformed as-of instant 'garbage'" in result.output
    assert "Traceback" not in result.output


def test_audit_and_policy_commands(db: str) -> None:
    load_fixtures(db)
    run("evaluate", "--as-of", "2026-11-01T00:00", "--db", db)
    audit = run("audit", "ticket", "T1", "--db", db)
    assert audit.exit_code == 0 and "stored result reproduced" in audit.output
    missing = run("audit", "ticket", "NOPE", "--db", db)
    assert missing.exit_code == 1 and "no ticket 'NOPE'" in missing.output
    assert "2025.1" in run("policy", "show", "--at", "2026-10-01").output
    early = run("policy", "show", "--at", "2019-12-31")
    assert early.exit_code == 0 and early.output.splitlines() == [
        "  2025.1       from 2020-01-01  As published: Business 24 h and Premium 8 h first "
        "response; 3-7 working days resolution.",
        "no version in force on 2019-12-31: the first takes effect on 2020-01-01",
    ]
    bad = run("policy", "diff", "2025.1", "9.9")
    assert bad.exit_code == 1 and "no version '9.9'" in bad.output


def test_audit_whatif_and_policy_commands_in_dutch(db: str, tmp_path) -> None:
    load_fixtures(db)
    run("evaluate", "--as-of", "2026-11-01T00:00", "--db", db)
    audit = run("audit", "ticket", "T1", "--lang", "nl", "--db", db)
    assert audit.exit_code == 0, audit.output
    assert "opgeslagen resultaat gereproduceerd: elke waarde klopt" in audit.output
    html = run("audit", "ticket", "T1", "--lang", "nl", "--format", "html", "--db", db)
    assert '<html lang="nl">' in html.output and "Controle van ticket T1" in html.output
    # JSON is for tools: the same in each language.
    as_json = ("audit", "ticket", "T1", "--format", "json", "--db", db)
    assert run(*as_json, "--lang", "nl").output == run(*as_json).output
    show = run("policy", "show", "--at", "2019-12-31", "--lang", "nl")
    assert show.output.splitlines()[-1] == (
        "geen versie van kracht op 31 december 2019: de eerste gaat in op 1 januari 2020"
    )
    example = Path(__file__).parents[1] / "docs" / "examples" / "premium-4h-from-july.toml"
    diff = run("policy", "diff", "2025.1", "2026.2", "--policy", str(example), "--lang", "nl")
    assert "Van kracht vanaf: 1 januari 2020 → 1 juli 2026  [effective_from]" in diff.output
    whatif = run(
        "whatif",
        "--policy",
        str(example),
        "--as-of",
        "2026-11-01T00:00",
        "--lang",
        "nl",
        "--db",
        db,
    )
    assert whatif.exit_code == 0, whatif.output
    assert "Gesloten (huidig)" in whatif.output and "procentpunt" in whatif.output
    assert "Alle maanden, beide berekeningen met de stand per 1 nov 2026 00:00" in " ".join(
        whatif.output.split()
    )
    # One text, one language; the same spelling and checks as the reports' option.
    for args in (("policy", "show"), ("audit", "ticket", "T1", "--db", db)):
        two = run(*args, "--lang", "en,nl")
        assert two.exit_code == 2 and "name one language of en, nl" in two.output
        unknown = run(*args, "--lang", "de")
        assert unknown.exit_code == 2 and "unknown language 'de': use en, nl" in unknown.output


def test_output_to_a_pipe_is_whole_and_starts_with_the_results(db: str, monkeypatch) -> None:
    # A pipe or a file: rich assumes 80 columns and would cut wider tables short.
    monkeypatch.setenv("COLUMNS", "80")
    run("customers", str(FIXTURES / "customers.csv"), "--db", db)
    loaded = run(
        "load", str(FIXTURES / "tickets.csv"), "--source-tz", "Europe/Amsterdam", "--db", db
    )
    evaluated = run("evaluate", "--as-of", "2026-11-01T00:00", "--db", db)
    # No line left behind by the progress display.
    assert loaded.output.startswith(str(FIXTURES / "tickets.csv"))
    assert evaluated.output.startswith("evaluation #1")
    audit = run("audit", "ticket", "T1", "--db", db)
    status = run("status", "--db", db)
    for result in (evaluated, audit, status):
        assert "\u2026" not in result.output  # no cell ends in an ellipsis
    # The status timeline's first segment starts at creation, printed to the second.
    assert "│ 2026-10-23T17:00:00+02:00 │" in audit.output


def test_report_commands(db: str, tmp_path) -> None:
    load_fixtures(db)
    out = str(tmp_path / "out")
    monthly = run(
        "report", "monthly", "--month", "2026-10", "--format", "html", "--out", out, "--db", db
    )
    assert monthly.exit_code == 0, monthly.output
    tiers = run(
        "report",
        "tiers",
        "--from",
        "2026-10",
        "--to",
        "2026-10",
        "--format",
        "html",
        "--out",
        out,
        "--db",
        db,
    )
    assert tiers.exit_code == 0 and "tiers-2026-10-2026-10.en.html" in tiers.output
    customer = run(
        "report",
        "customer",
        "C1",
        "--from",
        "2026-10",
        "--to",
        "2026-10",
        "--format",
        "html",
        "--lang",
        "nl",
        "--out",
        out,
        "--db",
        db,
    )
    assert customer.exit_code == 0, customer.output
    bad = run("report", "monthly", "--month", "2026-10", "--format", "docx", "--db", db)
    assert bad.exit_code == 2 and "unknown format 'docx'" in bad.output


def test_a_policy_that_begins_after_the_first_tickets(db: str, tmp_path) -> None:
    """An SLA that began mid-year: earlier tickets are stored as judged by none."""
    default = Path(__file__).parents[1] / "pipeline" / "data" / "default_policy.toml"
    late = tmp_path / "late.toml"
    late.write_text(
        default.read_text().replace(
            'effective_from = "2020-01-01"', 'effective_from = "2026-10-22"'
        )
    )
    load_fixtures(db)
    result = run("evaluate", "--policy", str(late), "--as-of", "2026-11-01T00:00", "--db", db)
    assert result.exit_code == 0, result.output
    assert "1 tickets created before 2026-10-22, when the policy's first version" in result.output
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(
            "SELECT r.ticket_id, r.exclusion_rule, r.policy_version, "
            "t.created_at < TIMESTAMPTZ '2026-10-22 00:00:00+02:00' AS before "
            "FROM sla_results r JOIN tickets t USING (ticket_id) "
            "WHERE r.metric = 'resolution' ORDER BY r.ticket_id"
        ).fetchall()
    assert sum(r[3] for r in rows) == 1  # T8, created on 21 October
    for ticket_id, reason, version, before in rows:
        assert (reason == "no_policy_in_force") == before, ticket_id
        assert (version is None) == before, ticket_id
    report = run(
        "report",
        "monthly",
        "--month",
        "2026-10",
        "--policy",
        str(late),
        "--db",
        db,
        "--format",
        "html",
        "--out",
        str(tmp_path / "reports"),
    )
    assert report.exit_code == 0, report.output


def test_months_and_as_of_instants_only_in_their_exact_form(db: str) -> None:
    """pandas reads '26-10' as 2001, '01/10/2026' as 10 January and 'now' as the
    machine's wall clock read in the report zone: none of them is taken."""
    load_fixtures(db)
    for month in ("2026-1", "26-10", "2026/10", "October", "", " 2026-10", "2026-10-15"):
        for command in ("evaluate", "whatif"):
            extra = ["--policy", str(DEFAULT_POLICY)] if command == "whatif" else []
            result = run(command, "--from", month, "--to", "2026-10", *extra, "--db", db)
            assert result.exit_code == 1, (command, month, result.output)
            assert f"malformed month {month!r} for --from: use YYYY-MM, e.g. 2026-10" in (
                result.output
            )
    for as_of in ("now", "today", "01/10/2026", "Oct", "2026-10-26 01:15 PM"):
        result = run("evaluate", "--as-of", as_of, "--db", db)
        assert result.exit_code == 1 and f"malformed as-of instant {as_of!r}" in result.output
    ok = run("evaluate", "--as-of", "2026-11-01 00:00:00+01:00", "--db", db)
    assert "as of 2026-10-31T23:00:00+00:00" in ok.output


def test_languages_and_formats_must_be_named(db: str) -> None:
    run("customers", str(FIXTURES / "customers.csv"), "--db", db)
    for args, message in (
        (("--lang", ""), "name at least one language: en, nl"),
        (("--lang", "de"), "unknown language 'de': use en, nl"),
        (("--format", ""), "name at least one format: html, pdf"),
        (("--format", "docx"), "unknown format 'docx'"),
    ):
        result = run("report", "monthly", "--month", "2026-10", *args, "--db", db)
        assert result.exit_code == 2 and message in result.output, result.output


def test_whatif_counts_each_side_and_says_when_there_is_nothing(db: str, tmp_path) -> None:
    load_fixtures(db)
    # The other policy excludes nothing from resolution: its closed count may differ.
    other = tmp_path / "other.toml"
    text = DEFAULT_POLICY.read_text()
    start = text.index("exclude = [")
    end = text.index("]", text.index("}", start)) + 1
    other.write_text(text[:start] + text[end:])
    result = run("whatif", "--policy", str(other), "--as-of", "2026-11-01T00:00", "--db", db)
    assert result.exit_code == 0, result.output
    assert "closed (current)" in result.output and "closed (other)" in result.output
    assert "nan" not in result.output
    # The change in percentage points, as the reports write it in English.
    assert " pp" in result.output and " pt" not in result.output
    # The instant both sides saw, so that a side can be stored and checked.
    assert (
        "every month, both sides as of 2026-10-31T23:00:00+00:00; to store a side: sla "
        "evaluate --policy FILE --as-of 2026-10-31T23:00:00+00:00"
    ) in " ".join(result.output.split())
    empty = run(
        "whatif", "--policy", str(other), "--from", "2020-01", "--to", "2020-01", "--db", db
    )
    assert empty.exit_code == 0 and "nothing to compare" in empty.output


def test_a_future_as_of_is_noted(db: str) -> None:
    load_fixtures(db)
    result = run("evaluate", "--as-of", "2099-01-01T00:00Z", "--db", db)
    assert result.exit_code == 0
    # The same words as sla whatif's note (locale key as_of_future).
    assert (
        "Note: the as-of instant is in the future: open tickets count working time up to "
        "it, and deadlines before it show as passed.\n"
    ) in result.output
    past = run("evaluate", "--as-of", "2026-11-01T00:00Z", "--db", db)
    assert "in the future" not in past.output


def test_loading_several_files_says_which_stay_loaded(db: str, tmp_path) -> None:
    load_fixtures(db)
    naive = tmp_path / "naive.csv"
    naive.write_text("ticket_id,at,kind\nT1,2026-10-26 10:00:00,agent_reply\n")
    events = str(FIXTURES / "events.csv")
    result = run("load", events, str(naive), events, "--db", db)
    assert result.exit_code == 1
    assert "naive.csv, line 2, field 'at'" in result.output
    assert "1 file(s) before it stay loaded; 1 after it not tried" in result.output


def test_whatif_one_row_per_tier_whatever_each_side_makes_of_it(db: str, tmp_path) -> None:
    load_fixtures(db)
    text = DEFAULT_POLICY.read_text()
    # Premium without an SLA in the other policy: one row, its standing on each side.
    head, tail = text.split("[versions.tiers.premium]")
    noprem = tmp_path / "noprem.toml"
    noprem.write_text(
        head + "[versions.tiers.premium]" + tail.replace("has_sla = true", "has_sla = false", 1)
    )
    result = run("whatif", "--policy", str(noprem), "--as-of", "2026-11-01T00:00", "--db", db)
    assert result.exit_code == 0, result.output
    assert result.output.count("premium (SLA -> benchmark only)") == 2  # both metrics
    # A policy that begins after the first tickets: they are judged by none, and said so.
    late = tmp_path / "late.toml"
    late.write_text(text.replace('effective_from = "2020-01-01"', 'effective_from = "2026-10-22"'))
    result = run("whatif", "--policy", str(late), "--as-of", "2026-11-01T00:00", "--db", db)
    assert result.exit_code == 0, result.output
    assert (
        "other policy: 1 tickets created before 2026-10-22, when its first version took "
        "effect, are judged by none" in " ".join(result.output.split())
    )


def test_an_output_path_that_cannot_be_written_is_one_line(db: str, tmp_path) -> None:
    load_fixtures(db)
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    args = ["report", "tiers", "--from", "2026-10", "--to", "2026-10", "--format", "html"]
    result = CliRunner().invoke(cli, [*args, "--out", str(blocker / "sub"), "--db", db])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and str(blocker) in result.output


def test_audits_read_the_latest_evaluation_of_the_policy_asked_for(db: str, tmp_path) -> None:
    load_fixtures(db)
    run("evaluate", "--as-of", "2026-11-01T00:00", "--db", db)  # #1, built-in policy
    other = tmp_path / "other.toml"
    other.write_text(
        DEFAULT_POLICY.read_text().replace(
            "premium = { target_hours = 8 }", "premium = { target_hours = 4 }"
        )
    )
    run("evaluate", "--policy", str(other), "--as-of", "2026-11-01T00:00", "--db", db)  # #2
    assert "Ticket T1 in evaluation #2" in run("audit", "ticket", "T1", "--db", db).output
    chosen = run("audit", "ticket", "T1", "--policy", str(DEFAULT_POLICY), "--db", db)
    assert "Ticket T1 in evaluation #1" in chosen.output
    out = tmp_path / "b.csv"
    args = ["audit", "breaches", "--from", "2026-10", "--to", "2026-10", "--out", str(out)]
    assert "evaluation #2" in run(*args, "--db", db).output
    assert "evaluation #1" in run(*args, "--policy", str(DEFAULT_POLICY), "--db", db).output
    never = tmp_path / "never.toml"
    never.write_text(
        DEFAULT_POLICY.read_text().replace("at_risk_share = 0.75", "at_risk_share = 0.5", 1)
    )
    missing = run("audit", "ticket", "T1", "--policy", str(never), "--db", db)
    assert missing.exit_code == 1 and "no evaluation with policy" in missing.output
    both = run("audit", "ticket", "T1", "--policy", str(other), "--evaluation", "1", "--db", db)
    assert both.exit_code == 2 and "leave out --policy" in both.output


def test_sales_reports_take_several_languages(db: str, tmp_path) -> None:
    load_fixtures(db)
    common = ["--from", "2026-10", "--to", "2026-10", "--format", "html", "--out", str(tmp_path)]
    result = run("report", "tiers", *common, "--lang", "en,nl", "--db", db)
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.glob("*.html")} == {
        "tiers-2026-10-2026-10.en.html",
        "tiers-2026-10-2026-10.nl.html",
    }
    bad = run("report", "tiers", *common, "--lang", "de", "--db", db)
    assert bad.exit_code == 2 and "unknown language 'de'" in bad.output


def test_verify_names_documents_it_could_not_check_even_when_it_fails(db: str, tmp_path) -> None:
    load_fixtures(db)
    args = ["report", "monthly", "--month", "2026-10", "--lang", "en,nl", "--format", "html"]
    assert run(*args, "--out", str(tmp_path), "--db", db).exit_code == 0
    folder = tmp_path / "2026-10"
    (folder / "sla-report.nl.html").unlink()
    html = folder / "sla-report.en.html"
    html.write_text(html.read_text() + "<!-- edited -->")
    result = run("audit", "verify", str(folder / "manifest.json"), "--db", db)
    assert result.exit_code == 1
    assert "differs: document sla-report.en.html: changed since it was rendered" in result.output
    assert "not beside the manifest, not checked: sla-report.nl.html" in result.output


def test_verify_says_the_stored_rows_were_compared(db: str, tmp_path) -> None:
    load_fixtures(db)
    args = ["report", "monthly", "--month", "2026-10", "--format", "html"]
    assert run(*args, "--out", str(tmp_path), "--db", db).exit_code == 0
    result = run("audit", "verify", str(tmp_path / "2026-10" / "manifest.json"), "--db", db)
    assert result.exit_code == 0, result.output
    rows = connect(db).execute("SELECT count(*) FROM sla_results WHERE evaluation_id = 1")
    count = rows.fetchall()[0][0]
    assert f"and every one of the {count:,} stored result rows the report was read from" in (
        result.output
    )
    listed = (tmp_path / "2026-10" / "breaches.csv").read_bytes().count(b"\r\n") - 1
    assert f"the breach lists re-derived ({listed:,} rows) are the breaches.csv rendered" in (
        result.output
    )


def test_status_of_an_older_warehouse_says_not_applied_rows_were_not_counted(
    old_warehouse, monkeypatch
) -> None:
    """A tickets load made before not-applied rows were counted read 'not applied 0'
    after an upgrade, though that loader had skipped rows without a trace."""
    path, _, tickets = old_warehouse(20)
    monkeypatch.setenv("COLUMNS", "200")
    status = run("status", "--db", str(path))
    assert status.exit_code == 0
    assert re.search(r"│ 1 +│ customers +│.*│ 1 +│ 0 +│ 0 +│", status.output)
    assert re.search(r"│ 2 +│ tickets +│.*│ 1 +│ not counted +│ 1 +│", status.output)
    assert "not counted: a tickets load made before this warehouse was upgraded" in (status.output)
    listed = run("status", "--not-applied", "--db", str(path))
    assert listed.output.splitlines() == [
        "no outstanding not applied rows",
        f"not listed: the rows older than the stored version that load #2 ({tickets}) skipped "
        "before this warehouse was upgraded to keep them (not counted either); load the file "
        "again to list them",
    ]
    run("load", str(tickets), "--db", str(path))
    status = run("status", "--db", str(path))
    assert re.search(r"│ 3 +│ tickets +│.*│ 1 +│ 0 +│ 1 +│", status.output)
    listed = run("status", "--not-applied", "--db", str(path))
    assert listed.output.splitlines() == ["no outstanding not applied rows"]


def test_load_and_status_name_the_dst_rule_and_list_its_rows(db: str, tmp_path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,tier,valid_from\nC1,business,2024-01-01T00:00:00Z\n")
    tickets = tmp_path / "t.csv"
    tickets.write_text(
        "ticket_id,customer_id,created_at\nT1,C1,2026-03-29 02:30\nT2,C1,2026-10-25 02:30\n"
    )
    run("customers", str(customers), "--db", db)
    loaded = run("load", str(tickets), "--source-tz", "Europe/Amsterdam", "--db", db)
    assert (
        "  flagged      dst_gap                             1\n"
        "    a local time the clocks skip (spring forward), read with the offset from before "
        "the gap: 02:30 becomes 03:30 summer time\n"
    ) in loaded.output
    assert "read as the later one, standard time" in loaded.output
    status = run("status", "--db", db)
    assert "  flagged      dst_repeated                 created_at                  1" in (
        status.output
    )
    assert "flagged rows, with their line, field and what was read: sla status --flagged" in (
        status.output
    )
    listed = run("status", "--flagged", "--reason", "dst_repeated", "--db", db)
    assert listed.output == (
        "1 outstanding flagged row(s)\n"
        f"{tickets}, line 3, field created_at, ticket T2 (load #2): dst_repeated\n"
        "    2026-10-25 02:30:00 in Europe/Amsterdam occurs twice (the clocks go back): read "
        "as the later one, standard time, 2026-10-25 01:30:00 UTC\n"
    )


def test_status_lists_the_rows_loads_did_not_store(db: str, tmp_path) -> None:
    """Rejected rows were only counted, mended ones included; a row not applied was
    not recorded at all (found by QA)."""
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,tier,valid_from\nC1,business,2024-01-01T00:00:00Z\n")
    events = tmp_path / "ev.csv"
    events.write_text(
        "ticket_id,at,kind\n"
        "T1,2026-10-26T11:00:00Z,agent_reply\n"
        "T9,2026-10-26T12:00:00Z,agent_reply\n"
    )
    v1, v2 = tmp_path / "v1.csv", tmp_path / "v2.csv"
    v1.write_text(
        "ticket_id,customer_id,created_at,resolved_at\nT1,C1,2026-10-26T10:00Z,2026-10-29T10:00Z\n"
    )
    v2.write_text(
        "ticket_id,customer_id,created_at,resolved_at\nT1,C1,2026-10-26T10:00Z,2026-10-26T15:00Z\n"
    )
    run("customers", str(customers), "--db", db)
    run("load", str(events), "--db", db)
    run("load", str(v1), "--db", db)
    run("load", str(events), "--db", db)
    loaded = run("load", str(v2), "--db", db)
    assert "read 1, accepted 1 (loaded 0, not applied 1), rejected 0" in loaded.output
    assert f"sla status --not-applied --file {v2}" in loaded.output
    assert "updated_at column" in loaded.output

    status = run("status", "--db", db)
    assert "  rejected     event_for_unknown_ticket     ticket_id                   1" in (
        status.output
    )
    assert "  not applied  older_than_stored            updated_at                  1" in (
        status.output
    )
    assert "2 rejected row(s) of earlier readings no longer count" in status.output

    listed = run("status", "--rejected", "--db", db)
    assert listed.exit_code == 0
    assert "1 outstanding rejected row(s)" in listed.output
    assert f"{events}, line 3, field ticket_id (load #4): event_for_unknown_ticket" in (
        listed.output
    )
    assert "event for a ticket that is not loaded; value 'T9'" in listed.output
    assert 'raw: {"ticket_id":"T9","at":"2026-10-26T12:00:00Z","kind":"agent_reply"}' in (
        listed.output
    )
    history = run("status", "--rejected", "--all", "--limit", "1", "--db", db)
    assert "[superseded by load #4]" in history.output
    assert "… and 2 more: --limit 3 shows them all" in history.output
    not_applied = run("status", "--not-applied", "--file", "v2.csv", "--db", db)
    assert f"{v2}, line 2, field updated_at, ticket T1 (load #5): older_than_stored" in (
        not_applied.output
    )

    exported = run("status", "--rejected", "--all", "--format", "csv", "--db", db)
    frame = pd.read_csv(io.StringIO(exported.output))
    assert frame[["line_number", "reason_code", "value"]].values.tolist() == [
        [2, "event_for_unknown_ticket", "T1"],
        [3, "event_for_unknown_ticket", "T9"],
        [3, "event_for_unknown_ticket", "T9"],
    ]
    assert frame["superseded_by"].fillna(0).tolist() == [4, 4, 0]

    alone = CliRunner().invoke(cli, ["status", "--reason", "x", "--db", db])
    assert alone.exit_code == 2
    assert "--reason chooses rows of a listing: add --rejected, --not-applied or --flagged" in (
        alone.output
    )
    unknown = run("status", "--rejected", "--reason", "nope", "--db", db)
    assert unknown.exit_code == 1
    assert "no rejected row has reason 'nope'" in unknown.output


def test_a_tickets_file_read_again_says_what_became_of_its_earlier_tickets(
    db: str, tmp_path
) -> None:
    run("customers", str(FIXTURES / "customers.csv"), "--db", db)
    tickets = tmp_path / "desk.csv"
    tickets.write_text(
        "ticket_id,customer_id,created_at,priority\n"
        "1,C1,2026-10-21T09:00:00Z,high\n2,C1,2026-10-21T10:00:00Z,\n"
    )
    run("load", str(tickets), "--db", db)
    mapping = tmp_path / "m.toml"
    # Read again with its priorities mapped otherwise: 1's 'high' is now refused.
    mapping.write_text(
        'kind = "tickets"\n[columns]\nticket_id = "ticket_id"\ncustomer_id = "customer_id"\n'
        'created_at = "created_at"\npriority = "priority"\n[values.priority]\nhigh = "urgent"\n'
    )
    again = run("load", str(tickets), "--mapping", str(mapping), "--db", db)
    assert "  read again: other settings than load #2 (preset, mapping)" in again.output
    assert (
        "  kept 1 ticket(s) of the earlier reading as stored: this reading rejected their "
        "rows, so nothing replaced them"
    ) in again.output
    prefixed = run("load", str(tickets), "--mapping", str(mapping), "--id-prefix", "B-", "--db", db)
    assert (
        "  removed 2 ticket(s) of the earlier reading that this reading does not name (with "
        "the events that reading stored for them)"
    ) in prefixed.output
    status = run("status", "--db", db).output
    assert (
        f"load #4 read {tickets} again: other settings than load #3 (id prefix); removed 2 "
        "ticket(s) of the earlier reading"
    ) in status


def test_a_correction_without_source_system_is_told_why_its_rows_were_refused(
    db: str, tmp_path
) -> None:
    load_fixtures(db)
    desk = tmp_path / "zendesk_tickets.csv"
    desk.write_text(
        "ticket_id,source_system,customer_id,created_at\nZ7,zendesk,C1,2026-10-21T09:00:00Z\n"
    )
    run("load", str(desk), "--db", db)
    correction = tmp_path / "correction.csv"
    correction.write_text(
        "ticket_id,customer_id,created_at,resolved_at\n"
        "Z7,C1,2026-10-21T09:00:00Z,2026-10-22T09:00:00Z\n"
    )
    refused = run("load", str(correction), "--db", db)
    assert "accepted 0, rejected 1" in refused.output
    assert (
        "  id_from_other_source: 1 ticket id(s) stored from zendesk, which this file's rows "
        "(from canonical) would replace; the file has no source_system column, so its rows "
        "are canonical: a correction of zendesk's tickets names source_system zendesk\n"
    ) in refused.output


def test_load_with_an_id_prefix_keeps_a_second_desks_tickets_apart(db: str, tmp_path) -> None:
    load_fixtures(db)  # the fixture desk's tickets T1.. (source canonical)
    desk_b = tmp_path / "desk_b.csv"
    desk_b.write_text(
        "ticket_id,source_system,customer_id,created_at\nT1,desk-b,C1,2026-10-21T09:00:00Z\n"
    )
    events = tmp_path / "desk_b_events.csv"
    events.write_text("ticket_id,at,kind,actor_type\nT1,2026-10-21T09:30:00Z,agent_reply,agent\n")
    refused = run("load", str(desk_b), "--db", db)
    assert (
        "  id_from_other_source: 1 ticket id(s) stored from canonical, which this file's rows "
        "(from desk-b) would replace\n"
    ) in refused.output
    assert "no source_system column" not in refused.output
    loaded = run("load", str(desk_b), str(events), "--id-prefix", "B-", "--db", db)
    assert loaded.exit_code == 0, loaded.output
    assert "desk_b.csv (tickets, load #4): read 1, accepted 1, rejected 0" in loaded.output
    assert "  read again: other settings than load #3 (id prefix)" in loaded.output
    assert "desk_b_events.csv (events, load #5): read 1, accepted 1, rejected 0" in loaded.output
    again = run("load", str(desk_b), "--id-prefix", "B-", "--db", db)
    assert "same content as load #4; nothing changed" in again.output
    con = connect(db, read_only=True)
    assert con.execute(
        "SELECT ticket_id, source_system FROM tickets WHERE ticket_id LIKE '%T1' ORDER BY 1"
    ).fetchall() == [("B-T1", "desk-b"), ("T1", "canonical")]
    assert con.execute("SELECT ticket_id FROM ticket_events WHERE load_id = 5").fetchall() == [
        ("B-T1",)
    ]
    con.close()
    status = run("status", "--db", db)
    assert "id prefix" in status.output
    rows = [line for line in status.output.splitlines() if "desk_b.csv" in line and "│" in line]
    assert len(rows) == 3 and all("B-" in line for line in rows[1:]) and "B-" not in rows[0]
    # Below the table, why a file was read again.
    assert f"load #4 read {desk_b} again: other settings than load #3 (id prefix)" in status.output
    empty = run("load", str(desk_b), "--id-prefix", "", "--db", db)
    assert (empty.exit_code, empty.output.strip()) == (
        1,
        "Error: --id-prefix is empty: give the text to put before each ticket id (e.g. B-)",
    )


def test_slow_steps_show_a_spinner(db: str, tmp_path, monkeypatch) -> None:
    # On 300,000 tickets a month's report, a verification and the breach register
    # each took 20-30 s with nothing on the screen (load and evaluate had a live
    # line already). Each now shows what it is doing, on a terminal only.
    load_fixtures(db)
    shown: list[str] = []

    class Recorder:
        def __init__(self, *columns) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            return None

        def add_task(self, description: str, total=None) -> int:
            shown.append(description)
            return 0

    monkeypatch.setattr("pipeline.cli._progress", Recorder)
    out = str(tmp_path)
    run("report", "monthly", "--month", "2026-10", "--format", "html", "--out", out, "--db", db)
    run("audit", "verify", str(tmp_path / "2026-10" / "manifest.json"), "--db", db)
    register = str(tmp_path / "b.csv")
    run("audit", "breaches", "--from", "2026-10", "--to", "2026-10", "--out", register, "--db", db)
    run("report", "tiers", "--from", "2026-10", "--to", "2026-10", "--format", "html",
        "--out", out, "--db", db)  # fmt: skip
    assert shown == [
        "rendering the report of 2026-10",
        f"re-evaluating and comparing {tmp_path / '2026-10' / 'manifest.json'}",
        f"writing {register}",
        "rendering tiers-2026-10-2026-10.en",
    ]


def test_the_spinner_shows_a_path_with_braces_and_brackets_as_it_is(monkeypatch) -> None:
    # On a terminal the spinner's text was a format string and markup: writing
    # 'out/{month}.xlsx' ended in a KeyError, '[x]' vanished.
    screen, console = io.StringIO(), cli_module.Console
    monkeypatch.setattr(
        cli_module, "Console", lambda **_: console(file=screen, force_terminal=True, width=100)
    )
    with cli_module._working("writing out/{month}[x].xlsx"):
        pass
    assert "writing out/{month}[x].xlsx" in screen.getvalue()


@pytest.mark.parametrize("name", sorted(cli.commands["evaluations"].commands))
def test_every_evaluations_command_has_help(name: str) -> None:
    result = run("evaluations", name, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_evaluations_are_listed_pruned_and_compacted(db: str, tmp_path, monkeypatch) -> None:
    load_fixtures(db)
    reports = tmp_path / "reports"
    month = ["report", "monthly", "--month", "2026-10", "--format", "html", "--out", str(reports)]
    assert run(*month, "--db", db).exit_code == 0
    for _ in range(3):
        assert run("evaluate", "--as-of", "2026-11-15T00:00Z", "--db", db).exit_code == 0
    listed = run("evaluations", "list", "--db", db)
    lines = [line for line in listed.output.splitlines() if line.startswith("│")]
    assert [line.split("│")[3].strip() for line in lines] == ["report", *["evaluate"] * 3]
    assert "4 runs, 4 with their rows stored" in listed.output
    # An evaluation of every month says so (it read "all to all").
    assert "every month" in listed.output and "all to all" not in listed.output

    # Without --reports, the reports folder of the working directory, which is not here.
    monkeypatch.chdir(tmp_path / "reports" / "2026-10")
    refused = CliRunner().invoke(cli, ["evaluations", "prune", "--db", db])
    assert refused.exit_code == 1
    assert "no report folder reports: the runs its manifests name would not be kept" in (
        refused.output
    )
    monkeypatch.chdir(tmp_path)
    rows = connect(db).execute("SELECT count(*) FROM sla_results WHERE evaluation_id = 2")
    per_run = rows.fetchall()[0][0]
    dry = run("evaluations", "prune", "--keep-latest", "1", "--dry-run", "--db", db)
    assert "1 manifest(s) under reports name 1 run(s)" in dry.output
    assert f"would prune 2 run(s) (#2, #3): {2 * per_run:,} result rows" in dry.output
    assert "nothing was changed" in dry.output
    assert connect(db).execute(
        "SELECT count(*) FROM evaluations WHERE pruned_at IS NOT NULL"
    ).fetchall() == [(0,)]
    done = run("evaluations", "prune", "--keep-latest", "1", "--db", db)
    assert f"pruned 2 run(s) (#2, #3): {2 * per_run:,} result rows removed" in done.output
    assert "warehouse file: " in done.output and "sla evaluations compact" in done.output
    status = run("status", "--db", db)
    assert "evaluations: 2 with their result rows stored, 2 pruned (record kept)" in status.output
    audit = CliRunner().invoke(cli, ["audit", "ticket", "T1", "--evaluation", "2", "--db", db])
    assert audit.exit_code == 1 and "evaluation #2 was pruned on" in audit.output
    again = run("evaluations", "prune", "--keep-latest", "1", "--db", db)
    assert "nothing to prune: every stored run is kept" in again.output
    compact = run("evaluations", "compact", "--db", db)
    assert compact.exit_code == 0 and f"compacted {db}: " in compact.output
    assert "4 runs, 2 with their rows stored" in run("evaluations", "list", "--db", db).output


def test_verify_of_a_pruned_report_says_its_rows_are_gone(db: str, tmp_path) -> None:
    load_fixtures(db)
    args = ["report", "monthly", "--month", "2026-10", "--format", "html"]
    assert run(*args, "--out", str(tmp_path / "r"), "--db", db).exit_code == 0
    (tmp_path / "none").mkdir()
    prune = ["evaluations", "prune", "--reports", str(tmp_path / "none"), "--keep-latest", "0"]
    assert run(*prune, "--db", db).exit_code == 0
    result = run("audit", "verify", str(tmp_path / "r" / "2026-10" / "manifest.json"), "--db", db)
    assert result.exit_code == 0, result.output
    assert "all 6 figures reproduced exactly (re-evaluation #2)" in result.output
    assert (
        "the report's evaluation was pruned on " in result.output
        and "its stored result rows are gone and could not be compared; the figures were "
        "re-derived from the loaded data and compared with the manifest's"
        in result.output
    )
    assert "differs:" not in result.output


def test_commands_without_charts_do_not_import_matplotlib() -> None:
    """Found by the 1M-ticket pass: importing the CLI imported matplotlib (through
    the reports' charts), 1-2 s of every command, `sla status` and `sla audit ticket`
    included; only a report that draws charts needs it."""
    probe = (
        "import sys, pipeline.cli; "
        "print(sorted(m for m in sys.modules if m in {'matplotlib', 'weasyprint'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_export_given_as_the_warehouse_is_refused(tmp_path) -> None:
    # `--db tickets.csv`: DuckDB opened the CSV as a database in memory, and the
    # load below said "accepted" while storing nothing anywhere.
    export = tmp_path / "tickets.csv"
    export.write_text("ticket_id,customer_id\nT1,C1\n")
    result = run("customers", str(FIXTURES / "customers.csv"), "--db", str(export))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {export} is not a DuckDB warehouse: --db (or $SLA_DB) names the warehouse "
        "file, such as data/warehouse.duckdb; give the path of an existing warehouse, or a "
        "new path to create one\n"
    )
    assert export.read_text() == "ticket_id,customer_id\nT1,C1\n"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--tickets", "0", "Invalid value for '--tickets': 0 is not in the range x>=1."),
        ("--customers", "-5", "Invalid value for '--customers': -5 is not in the range x>=1."),
        ("--seed", "-1", "Invalid value for '--seed': -1 is not in the range x>=0."),
    ],
)
def test_demo_data_refuses_counts_and_seeds_it_cannot_use(tmp_path, option, value, message):
    # Each ended in a traceback from the generator (or numpy's seeding).
    result = CliRunner().invoke(cli, ["demo-data", "--out", str(tmp_path / "d"), option, value])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "d").exists()


def test_load_refuses_a_preset_with_a_mapping_file(db: str) -> None:
    mapping = Path(__file__).parents[1] / "docs" / "examples" / "dutch-export.toml"
    export = FIXTURES / "presets" / "zendesk.json"
    result = run("load", str(export), "--preset", "zendesk", "--mapping", str(mapping), "--db", db)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --preset zendesk and --mapping {mapping} each say how to read the export: "
        "give one of them (a mapping file is for an export no preset reads)\n"
    )


def test_status_takes_one_listing_at_a_time(db: str) -> None:
    load_fixtures(db)
    # The flag given last won: --rejected --not-applied listed no rejected row.
    result = run("status", "--rejected", "--not-applied", "--db", db)
    assert result.exit_code == 2
    assert (
        "Error: --rejected and --not-applied are 2 listings: give one (run sla status once "
        "for each)"
    ) in result.output
    result = run("status", "--flagged", "--rejected", "--not-applied", "--db", db)
    assert result.exit_code == 2
    assert "Error: --rejected, --not-applied and --flagged are 3 listings" in result.output
    assert "9 outstanding rejected row(s)" in run("status", "--rejected", "--db", db).output


def test_status_listing_of_a_file_never_loaded_says_so(db: str) -> None:
    load_fixtures(db)
    # It said "no outstanding rejected rows", as of a file loaded without a fault.
    result = run("status", "--rejected", "--file", "tickets.cvs", "--db", db)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no file tickets.cvs was loaded: --file takes a path as loaded, or its end "
        f"(loaded: {FIXTURES / 'customers.csv'}, {FIXTURES / 'tickets.csv'}; sla status lists "
        "every load)\n"
    )
    listed = run("status", "--rejected", "--file", "tickets.csv", "--db", db)
    assert "7 outstanding rejected row(s)" in listed.output


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (("evaluate", "--from", "2026-01", "--to", "10-2026"), "--to"),
        (("report", "monthly", "--month", "10-2026"), "--month"),
        (("report", "tiers", "--from", "10-2026", "--to", "2026-10"), "--from"),
        (("report", "customer", "C1", "--from", "2026-01", "--to", "10-2026"), "--to"),
        (("audit", "breaches", "--from", "2026-01", "--to", "10-2026"), "--to"),
    ],
)
def test_a_malformed_month_names_its_option(db: str, tmp_path, command, option) -> None:
    # "malformed month '10-2026'" left the reader to guess which of two it was.
    load_fixtures(db)
    result = run(*command, "--db", db)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: malformed month '10-2026' for {option}: use YYYY-MM, e.g. 2026-10\n"
    )


def test_as_of_help_names_the_forms_it_takes(db: str) -> None:
    # The help said "this instant" only: not in which zone a reading without an
    # offset is taken, nor that a date alone is accepted.
    help_text = " ".join(run("evaluate", "--help").output.split())
    assert "without one in the policy's report zone (Europe/Amsterdam in the built-in" in (
        help_text
    )
    assert "a date alone is its midnight (default: now)" in help_text
    load_fixtures(db)
    for as_of in ("2026-11-01", "2026-11-01T00:00", "2026-10-31T23:00Z"):
        result = run("evaluate", "--as-of", as_of, "--db", db)
        assert "as of 2026-10-31T23:00:00+00:00" in result.output, as_of


def test_a_language_or_format_named_twice_is_rendered_once(db: str, tmp_path) -> None:
    # "--lang en,en" rendered the report twice and said "wrote" twice.
    load_fixtures(db)
    out = tmp_path / "reports"
    result = run(
        "report", "tiers", "--from", "2026-10", "--to", "2026-10", "--lang", "en, en",
        "--format", "html,html", "--out", str(out), "--db", db,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"wrote {out / 'tiers-2026-10-2026-10.en.html'}",
        f"wrote {out / 'tiers-2026-10-2026-10.en.manifest.json'}",
    ]


def test_load_of_a_header_only_file_says_it_holds_no_rows(db: str, tmp_path) -> None:
    load_fixtures(db)
    empty = tmp_path / "tickets-empty.csv"
    empty.write_text("ticket_id,customer_id,created_at\n")
    result = run("load", str(empty), "--db", db)
    assert result.exit_code == 0
    assert result.output.splitlines()[-1:] == [
        "  the file holds no rows: a header only, or nothing"
    ]
    assert "read 0, accepted 0, rejected 0" in result.output


def test_one_mapping_named_by_two_paths_is_told_apart_from_another_desk(
    db: str, tmp_path, monkeypatch
) -> None:
    # Without source_system a mapping stores the path it was named by; named by
    # another path, its tickets were refused as another desk's, with no word why.
    examples = Path(__file__).parents[1] / "docs" / "examples"
    mapping = tmp_path / "m3.toml"
    mapping.write_text(
        "".join(
            line
            for line in (examples / "dutch-export.toml").read_text().splitlines(keepends=True)
            if not line.startswith("source_system")
        )
    )
    export = (examples / "dutch-export.csv").read_bytes()  # Windows-1252, as desks write
    (tmp_path / "one.csv").write_bytes(export)
    (tmp_path / "two.csv").write_bytes(export + b"\r\n")
    monkeypatch.chdir(tmp_path)
    run("customers", str(examples / "customers.csv"), "--db", db)
    run("load", "one.csv", "--mapping", "m3.toml", "--db", db)
    refused = run("load", "two.csv", "--mapping", str(mapping), "--db", db)
    assert (
        f"ticket id(s) stored from m3.toml, which this file's rows (from {mapping}) would "
        "replace; both name the same mapping file: name it m3.toml as before, or give the "
        'mapping source_system = "m3.toml" so that any path to it loads as one desk '
        "(docs/mapping.md)\n"
    ) in refused.output
    again = run("load", "two.csv", "--mapping", "m3.toml", "--db", db)
    assert "id_from_other_source" not in again.output


def test_the_commands_that_only_read_open_a_read_only_warehouse(db: str, writes_refused) -> None:
    load_fixtures(db)
    assert run("evaluate", "--as-of", "2026-11-01T00:00:00Z", "--db", db).exit_code == 0
    writes_refused()
    for args in (
        ("status",),
        ("status", "--rejected"),
        ("evaluations", "list"),
        ("audit", "ticket", "T1"),
    ):
        result = run(*args, "--db", db)
        assert result.exit_code == 0, (args, result.output)
    # One that stores a run says what stops it.
    result = run("evaluate", "--db", db)
    assert result.exit_code == 1
    assert "cannot be written (the file or its folder is read-only)" in result.output
