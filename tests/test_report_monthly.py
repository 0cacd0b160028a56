"""The monthly report: context numbers against the evaluation, HTML through
selectors, PDF text, Dutch formatting, escaping and edge cases."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from pipeline import report_monthly
from pipeline.errors import EvaluationError
from pipeline.i18n import Messages
from pipeline.policy import Policy, Threshold
from pipeline.report_monthly import (
    BREACHES_CSV,
    BREACHES_LISTED,
    PRINT_BLOCK_LINES,
    PRINT_LINE_CELLS,
    build_context,
    monthly_data,
    print_breach_list,
    promise_text,
    render_html,
    render_pdf,
    write_monthly_report,
)
from pipeline.texttable import display_width
from pipeline.warehouse import query
from tests.evaluation_fixtures import build, plan, ticket

SAMPLE = Path(__file__).parent.parent / "data" / "sample"
MONTH = "2026-10"


@pytest.fixture(scope="module")
def con(sample_warehouse):
    return sample_warehouse


@pytest.fixture(scope="module")
def context(con):
    return build_context(con, MONTH, lang="en")


@pytest.fixture(scope="module")
def rows(con, context) -> pd.DataFrame:
    return con.execute(
        "SELECT * FROM sla_results WHERE evaluation_id = ? AND month = ?",
        [context.evaluation_id, MONTH],
    ).df()


def test_each_language_formats_the_same_queried_rows(con, context, monkeypatch, tmp_path) -> None:
    data = monthly_data(con, MONTH)
    assert build_context(con, MONTH, lang="en", data=data) == context
    with pytest.raises(ValueError, match="another month or evaluation"):
        build_context(con, "2026-09", data=data)
    # Writing two languages and the breach list runs each of the report's queries once.
    ran: list[str] = []

    def counted(con, name, params=None):
        ran.append(name)
        return query(con, name, params)

    monkeypatch.setattr(report_monthly, "query", counted)
    written = write_monthly_report(
        con, MONTH, langs=("en", "nl"), formats=("html",), out_dir=tmp_path
    )
    assert {p.name for p in written} >= {"sla-report.en.html", "sla-report.nl.html", BREACHES_CSV}
    assert ran.count("compliance_cells.sql") == 1
    assert ran.count("report_monthly_breaches.sql") == 1
    assert ran.count("report_monthly_breakdown.sql") == 2  # priority, channel


def test_context_counts_match_the_evaluation(context, rows) -> None:
    for cell in context.sla_cells:
        part = rows[(rows["tier"] == cell.tier) & (rows["metric"] == cell.metric)]
        met = part["status"].isin(["met", "met_late_target"]).sum()
        breached = (part["status"] == "breached").sum()
        assert (cell.met, cell.breached) == (met, breached)
        assert cell.compliance == pytest.approx(met / (met + breached))
        assert cell.ci_low < cell.compliance < cell.ci_high
        closed = part[part["status"].isin(["met", "met_late_target", "breached"])]
        assert cell.median_hours == pytest.approx(closed["elapsed_working_seconds"].median() / 3600)
    tiers = {c.tier for c in context.sla_cells}
    assert tiers == {"business", "premium"}


def test_no_compliance_claimed_for_tiers_without_sla(context, rows) -> None:
    benchmark = [c for c in context.cells if c.benchmark_only]
    assert {c.tier for c in benchmark} == {"pioneer", "professional"}
    assert (rows.loc[~rows["has_sla"], "status"].isin(["no_sla", "excluded"])).all()


def test_breach_list_is_every_breach_of_the_month(context, rows) -> None:
    expected = rows[rows["has_sla"] & (rows["status"] == "breached")]
    listed = {(b.ticket_id, b.metric_label) for b in context.breaches}
    assert len(context.breaches) == len(expected)
    labels = {"first_response": "First response", "resolution": "Resolution"}
    assert listed == {(r.ticket_id, labels[r.metric]) for r in expected.itertuples()}


def test_html_through_selectors(context) -> None:
    soup = BeautifulSoup(render_html(context), "html.parser")
    m = Messages("en")
    cards = soup.select("#summary .card")
    assert len(cards) == len(context.sla_cells) == 4
    for card, cell in zip(cards, context.sla_cells, strict=True):
        assert card.select_one(".compliance").get_text(strip=True) == m.pct(cell.compliance)
        assert card.select_one(".breaches").get_text(strip=True) == str(cell.breached)
    assert len(soup.select("#breaches tr.breach")) == len(context.breaches) + len(
        context.open_at_month_end
    )
    assert len(soup.select("#trends svg")) == 3
    assert len(soup.select("#distribution svg")) == 2
    assert soup.select_one("#outage").get_text().startswith(f"{context.outage_calls} critical")
    assert "sha256" in soup.select_one("#method").get_text()
    assert not soup.find("link") and not soup.find("script")  # self-contained, no scripts


def test_dutch_formatting(con) -> None:
    html = render_html(build_context(con, MONTH, lang="nl"))
    assert "oktober 2026" in html
    assert re.search(r"\d{2},\d\u00a0%", html)  # a no-break space
    assert "Samenvatting voor het management" in html


def test_breakdown_names_values_in_words_most_urgent_first(con, context, rows) -> None:
    first = [r for r in context.by_priority if r["metric"] == "First response"]
    assert [r["value"] for r in first] == ["Critical", "High", "Normal", "Low"]
    sla = rows[rows["has_sla"] & (rows["metric"] == "first_response")]
    high = sla[sla["priority"] == "high"]
    assert first[1]["breached"] == (high["status"] == "breached").sum()
    dutch = build_context(con, MONTH, lang="nl")
    assert [r["value"] for r in dutch.by_priority][:4] == ["Kritiek", "Hoog", "Normaal", "Laag"]
    channels = [r["value"] for r in dutch.by_channel if r["metric"] == "Eerste reactie"]
    assert channels == ["Chat", "E-mail", "Telefoon", "Storingsdienst", "Webformulier"]


def test_data_quality_names_codes_in_the_readers_words(con) -> None:
    """A Dutch manager read 'duplicate_conflicting (customers)': each rejection
    reason, flag and file kind is said in words, the code kept beside it."""
    dutch = build_context(con, MONTH, lang="nl")
    reasons = {r["reason_code"]: r["reason_label"] for r in dutch.rejected}
    assert reasons["duplicate_conflicting"] == (
        "Zelfde ticketnummer meer dan eens, met verschillende inhoud"
    )
    assert reasons["unknown_customer"] == "Klant niet geladen"
    flags = {r["flag_code"]: r["flag_label"] for r in dutch.flagged}
    assert flags["created_in_future"] == "Aangemaakt na het begin van het laden"
    kinds = {r["kind"]: r["kind_label"] for r in dutch.loads}
    assert kinds == {"customers": "klanten", "tickets": "tickets", "events": "gebeurtenissen"}
    soup = BeautifulSoup(render_html(dutch), "html.parser")
    section = soup.select_one("#data-quality")
    text = section.get_text(" ", strip=True)
    assert "customers.csv (klanten)" in text
    assert "Klant niet geladen unknown_customer" in text
    assert [th.get_text() for th in section.select("#flagged th")] == ["Signaal", "Rijen"]


def test_one_ticket_needing_an_it_release_is_singular(con) -> None:
    dutch = replace(build_context(con, MONTH, lang="nl"), excluded=3, excluded_it_release=1)
    assert "3 (1 vereist een IT-release)." in render_html(dutch)
    english = replace(build_context(con, MONTH, lang="en"), excluded=3, excluded_it_release=1)
    assert "3 (1 needs an IT release)." in render_html(english)


def test_a_value_not_recorded_or_not_known_is_shown_as_such() -> None:
    m = Messages("en")
    assert m.code("priority", "-") == "(not recorded)"
    assert m.code("channel", "carrier_pigeon") == "carrier_pigeon"


def test_print_html_lists_every_breach_as_fixed_width_text(context) -> None:
    soup = BeautifulSoup(render_html(context, for_print=True), "html.parser")
    assert not soup.select("#breaches table")
    lists = soup.select("#breaches .breach-list")
    assert [int(x["data-rows"]) for x in lists] == [
        len(context.breaches),
        len(context.open_at_month_end),
    ]
    text = "\n".join(x.get_text() for x in lists)
    for b in context.breaches + context.open_at_month_end:
        assert re.search(rf"^{b.ticket_id} +{b.customer_id} +{b.tier_label} ", text, re.M)
    # the rest of the report is the screen report's
    assert (
        soup.select_one("#per-tier").get_text()
        == BeautifulSoup(render_html(context), "html.parser").select_one("#per-tier").get_text()
    )


def test_long_breach_lists_are_capped_and_written_whole_to_csv(
    con, context, monkeypatch, tmp_path
) -> None:
    # A month of 26,617 breaches (300,000 tickets, a strict policy) listed every one:
    # a 437-page PDF. The report lists the first BREACHES_LISTED of each list and
    # writes every row to breaches.csv beside it.
    assert BREACHES_LISTED == 250 and BREACHES_CSV == "breaches.csv"
    assert (len(context.breaches), len(context.open_at_month_end)) == (53, 12)
    assert (context.breaches_total, context.open_total) == (53, 12)
    monkeypatch.setattr("pipeline.report_monthly.BREACHES_LISTED", 10)
    capped = build_context(con, MONTH, lang="en")
    assert capped.breaches == context.breaches[:10]
    assert capped.open_at_month_end == context.open_at_month_end[:10]
    assert (capped.breaches_total, capped.open_total) == (53, 12)
    for html in (render_html(capped), render_html(capped, for_print=True)):
        text = " ".join(BeautifulSoup(html, "html.parser").select_one("#breaches").stripped_strings)
        assert (
            "Breaches (53) Only the first 10 of 53 are listed here; all 53 are in "
            "breaches.csv, beside this report." in text
        )
        assert "Only the first 10 of 12 are listed here; all 12 are in breaches.csv" in text
    assert len(BeautifulSoup(render_html(capped), "html.parser").select("tr.breach")) == 20
    dutch = render_html(build_context(con, MONTH, lang="nl"))
    assert "Alleen de eerste 10 van 53 staan hier; alle 53 staan in breaches.csv" in dutch
    # Under the cap nothing is said.
    assert "listed here" not in render_html(context)

    write_monthly_report(con, MONTH, formats=("html",), out_dir=tmp_path)
    path = tmp_path / MONTH / "breaches.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == 1 + 53 + 12
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame.columns[:7]) == [
        "list", "ticket_id", "customer_id", "tier", "metric", "status", "month"
    ]  # fmt: skip
    assert frame["list"].value_counts().to_dict() == {"breaches": 53, "open_at_month_end": 12}
    assert list(frame["ticket_id"][:10]) == [b.ticket_id for b in context.breaches[:10]]
    assert set(frame.loc[frame["list"] == "breaches", "status"]) == {"breached"}
    assert frame["deadline"].str.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00").all()
    manifest = json.loads((tmp_path / MONTH / "manifest.json").read_text("utf-8"))
    assert "breaches.csv" in manifest["documents"]


def test_print_breach_list_keeps_wrapped_records_whole(context) -> None:
    m = Messages("en")
    long = replace(context.breaches[0], ticket_id="T9999999", subject="word " * 40 + "END")
    rows = (*context.breaches[:30], long, *context.breaches[30:])
    text = print_breach_list(m, rows)
    lines = [line for b in text.blocks for line in b.text.split("\n")]
    starts = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert starts == [b.ticket_id for b in rows]  # every row, in order, each once
    (block,) = [b for b in text.blocks if b.text.startswith("T9999999")]
    assert block.keep and block.text.endswith("END")
    assert " ".join(block.text.split()).endswith(" ".join(long.subject.split()))
    assert all(b.keep == ("\n " in b.text) for b in text.blocks)  # a record's lines together
    assert max(display_width(line) for line in lines) <= PRINT_LINE_CELLS
    assert all(len(b.text.split("\n")) <= PRINT_BLOCK_LINES for b in text.blocks)


def test_pdf_and_manifest(con, context, tmp_path) -> None:
    paths = write_monthly_report(con, MONTH, langs=("en",), out_dir=tmp_path)
    pdf = tmp_path / MONTH / "sla-report.en.pdf"
    reader = PdfReader(pdf)
    assert len(reader.pages) == 7
    pages = [page.extract_text() for page in reader.pages]
    # Every breach is in the PDF, and every page it is on repeats the column header.
    rows = context.breaches + context.open_at_month_end
    for b in rows:
        on = [text for text in pages if re.search(rf"^{b.ticket_id} ", text, re.M)]
        # A ticket breached on one metric and still open past the other's limit
        # since an earlier month is in both lists.
        assert 1 <= len(on) <= sum(r.ticket_id == b.ticket_id for r in rows), b.ticket_id
        assert all("Ticket" in p and "Subject" in p and "Deadline" in p for p in on)
        assert b.subject.split()[-1] in on[0]
    first = reader.pages[0].extract_text()
    assert "October 2026" in first
    business_fr = next(
        c for c in context.sla_cells if c.tier == "business" and c.metric == "first_response"
    )
    assert Messages("en").pct(business_fr.compliance) in first
    assert "Page 1 of" in first
    manifest = (tmp_path / MONTH / "manifest.json").read_text()
    assert f'"evaluation_id": {context.evaluation_id}' in manifest
    assert (tmp_path / MONTH / "figures.csv") in paths


def test_reruns_are_byte_stable(con, tmp_path) -> None:
    first = render_html(build_context(con, MONTH, lang="en"))
    second = render_html(build_context(con, MONTH, lang="en"))
    assert first == second


def test_pdf_bytes_depend_on_the_report_not_the_hour(con, tmp_path, monkeypatch) -> None:
    import os
    import time

    html = render_html(build_context(con, MONTH, lang="en"), for_print=True)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    render_pdf(html, tmp_path / "now.pdf")
    # Two days later: the fonts' own "modified" time used to follow the clock.
    later = time.time() + 2 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    render_pdf(html, tmp_path / "later.pdf")
    assert (tmp_path / "now.pdf").read_bytes() == (tmp_path / "later.pdf").read_bytes()
    assert "SOURCE_DATE_EPOCH" not in os.environ


def small_warehouse() -> duckdb.DuckDBPyConnection:
    """Three Premium tickets of customer C1 in October 2026, one answered late."""
    return build(
        [
            ticket(
                "A",
                "C1",
                "2026-10-05T09:00",
                first_response="2026-10-09T09:00",
                resolved="2026-10-09T10:00",
            ),
            ticket(
                "B",
                "C1",
                "2026-10-06T09:00",
                first_response="2026-10-06T10:00",
                resolved="2026-10-06T12:00",
            ),
            ticket(
                "C",
                "C1",
                "2026-10-07T09:00",
                first_response="2026-10-07T09:30",
                resolved="2026-10-07T11:00",
            ),
        ],
        [],
        [plan("C1", "premium", "2025-01-01")],
    )


@pytest.mark.parametrize("for_print", [False, True])
def test_ticket_text_is_escaped(for_print: bool) -> None:
    con = small_warehouse()
    con.execute("UPDATE tickets SET subject = '<script>alert(1)</script>' WHERE ticket_id = 'A'")
    html = render_html(build_context(con, MONTH), for_print=for_print)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert BeautifulSoup(html, "html.parser").find("script") is None


def test_tier_with_three_tickets_gets_a_wide_interval() -> None:
    context = build_context(small_warehouse(), MONTH)
    cell = next(c for c in context.cells if (c.tier, c.metric) == ("premium", "first_response"))
    assert (cell.met, cell.breached) == (2, 1)
    assert cell.ci_high - cell.ci_low > 0.5  # three tickets say little, and the CI shows it


def test_month_without_breaches_and_outside_the_data() -> None:
    con = small_warehouse()
    con.execute("DELETE FROM tickets WHERE ticket_id = 'A'")
    context = build_context(con, MONTH)
    assert context.breaches == ()
    assert "No SLA breaches this month." in context.sentences
    # Found by QA: a month at 100% everywhere was summed up as its "lowest compliance".
    assert {c.compliance for c in context.sla_cells} == {1.0, None}  # None: none measured
    assert not any(s.startswith("Lowest compliance") for s in context.sentences)
    assert context.sentences[-2:] == (
        "Every tier with an SLA met its limit on every ticket measured (100% compliance).",
        "No SLA breaches this month.",
    )
    assert (
        "Elk pakket met een SLA bleef bij elk gemeten ticket binnen de limiet "
        "(100\u00a0% naleving)." in build_context(con, MONTH, lang="nl").sentences
    )
    with pytest.raises(EvaluationError, match="outside the loaded data"):
        build_context(con, "2024-01")
    with pytest.raises(EvaluationError, match="malformed month"):
        build_context(con, "October")


def test_a_month_outside_the_data_leaves_no_folder_behind(tmp_path) -> None:
    with pytest.raises(EvaluationError, match="outside the loaded data"):
        write_monthly_report(small_warehouse(), "2024-01", out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_empty_month_inside_the_data() -> None:
    con = build(
        [
            ticket(
                "S",
                "C1",
                "2026-09-07T09:00",
                first_response="2026-09-07T09:30",
                resolved="2026-09-07T11:00",
            ),
            ticket(
                "N",
                "C1",
                "2026-11-03T09:00",
                first_response="2026-11-03T09:30",
                resolved="2026-11-03T11:00",
            ),
        ],
        [],
        [plan("C1", "premium", "2025-01-01")],
    )
    context = build_context(con, MONTH)
    assert context.breaches == ()
    # The promised tiers keep their cards, each saying nothing was counted.
    assert [(c.tier, c.tickets) for c in context.cells] == [
        ("business", 0),
        ("business", 0),
        ("premium", 0),
        ("premium", 0),
    ]
    html = render_html(context)
    assert html.count("No ticket counted this month.") == 4
    # Not "no breaches": nothing was measured, and the summary says that.
    assert "No SLA breaches this month." not in html
    assert list(context.sentences) == [
        "No ticket counts in this month: no response or resolution was measured, so "
        "nothing can be said about compliance."
    ]
    assert "100" not in BeautifulSoup(html, "html.parser").select_one("#summary").get_text()


def test_second_breach_list_never_opens_a_page_under_the_first_lists_columns(
    context, tmp_path
) -> None:
    # With these lengths of the first list, the second one fell at the top of a page
    # (page header with the first list's columns, then its own): it now takes the
    # first list's last block along, so the top of a page shows rows, not a heading.
    title = Messages("en")("open_at_month_end")
    seen = False
    for k in (59, 60, 61):
        longer = replace(context, breaches=(list(context.breaches) * 2)[:k])
        render_pdf(render_html(longer, for_print=True), tmp_path / "k.pdf")
        for page in PdfReader(tmp_path / "k.pdf").pages:
            lines = [line for line in page.extract_text().splitlines() if line.strip()]
            at = next((i for i, line in enumerate(lines) if line.startswith(title)), None)
            if at is not None:
                seen = True
                assert at > 0 and re.match(r"T\d", lines[at - 1]), lines[: at + 1]
    assert seen


def test_a_month_with_resolutions_only_is_inside_the_data() -> None:
    """Created in October, resolved in November: the November report exists."""
    con = build(
        [
            ticket(
                "LATE",
                "C1",
                "2026-10-30T16:00",
                first_response="2026-10-30T16:30",
                resolved="2026-11-04T10:00",
            )
        ],
        [],
        [plan("C1", "business", "2026-01-01")],
    )
    context = build_context(con, "2026-11")
    resolution = next(c for c in context.cells if c.tier == "business" and c.metric == "resolution")
    assert resolution.met == 1
    with pytest.raises(EvaluationError, match=r"outside the loaded data \(2026-10 to 2026-11\)"):
        build_context(con, "2026-12")


def _from_15_october(change: Callable[[dict], None]) -> Policy:
    """The default policy with a second version from 15 October 2026: a copy of the
    first, changed by `change(version)`."""
    doc = Policy.default().document
    later = json.loads(json.dumps(doc["versions"][0]))
    later.update(version="2026.10", effective_from="2026-10-15")
    change(later)
    doc["versions"].append(later)
    return Policy.from_dict(doc)


def _premium_without_sla(version: dict) -> None:
    version["tiers"]["premium"]["has_sla"] = False


def test_a_version_taking_effect_mid_month_shows_both_promises() -> None:
    def premium_in_4_hours(version: dict) -> None:
        version["metrics"]["first_response"]["targets"]["premium"] = {"target_hours": 4}

    policy = _from_15_october(premium_in_4_hours)
    con = build(
        [ticket("P1", "C1", "2026-10-20T09:00", first_response="2026-10-20T10:00")],
        [],
        [plan("C1", "premium", "2026-01-01")],
    )
    context = build_context(con, MONTH, policy=policy)
    cells = {(c.tier, c.metric): c.promise for c in context.cells}
    assert cells[("premium", "first_response")] == (
        "8 working hours; 4 working hours from 15 October 2026"
    )
    assert cells[("premium", "resolution")] == "target 3, limit 7 working days"


def test_the_distribution_lines_show_the_metrics_benchmark_tier() -> None:
    """Found by QA: the lines were Business's targets by name, labelled "(Business)",
    under a policy that measures the tiers without an SLA against another tier."""
    doc = Policy.default().document
    first_response = doc["versions"][0]["metrics"]["first_response"]
    first_response["benchmark_tier"] = "premium"
    first_response["targets"]["premium"] = {"target_hours": 6}
    con = build(
        [ticket("P1", "C1", "2026-10-20T09:00", first_response="2026-10-20T10:00")],
        [],
        [plan("C1", "premium", "2026-01-01")],
    )
    default, changed = (
        build_context(con, MONTH, policy=policy).distribution_charts
        for policy in (Policy.default(), Policy.from_dict(doc))
    )
    assert "target (Business)" in default[0] and "target (Business)" in default[1]
    assert "target (Premium)" in changed[0] and "target (Business)" in changed[1]
    assert "target (Business)" not in changed[0]
    # The footnote names both tiers the version measures against.
    assert "measured against Premium / Business targets" in render_html(
        build_context(con, MONTH, policy=Policy.from_dict(doc))
    )


def test_a_version_dropping_an_sla_mid_month_judges_the_tier_on_its_sla_rows() -> None:
    """From 15 October Premium has no SLA: its later tickets are benchmark only and
    must not lift (or sink) Premium's compliance; they are counted apart."""
    from pipeline.metrics import stored_summary

    policy = _from_15_october(_premium_without_sla)
    con = build(
        [
            # Before the change: breached (answered after 2 working days).
            ticket("A", "C1", "2026-10-05T09:00", first_response="2026-10-07T09:00"),
            # After it: answered at once; under the SLA it would have been met.
            ticket("B", "C1", "2026-10-20T09:00", first_response="2026-10-20T09:30"),
            ticket("C", "C1", "2026-10-21T09:00", first_response="2026-10-21T09:30"),
        ],
        [],
        [plan("C1", "premium", "2026-01-01")],
    )
    context = build_context(con, MONTH, policy=policy)
    cell = next(c for c in context.cells if (c.tier, c.metric) == ("premium", "first_response"))
    assert not cell.benchmark_only
    assert (cell.tickets, cell.met, cell.breached, cell.without_target) == (3, 0, 1, 2)
    assert cell.compliance == 0.0
    assert "2 without a target" in render_html(context)
    # The evaluation summary (sla evaluate, whatif) judges the same way.
    summary = stored_summary(con, context.evaluation_id).set_index(["tier", "metric"])
    row = summary.loc[("premium", "first_response")]
    assert (row["met"], row["breached"], row["compliance"]) == (0, 1, 0.0)


def test_promises_say_their_clock_and_limit() -> None:
    from types import SimpleNamespace

    working, clock = SimpleNamespace(clock="working"), SimpleNamespace(clock="clock")
    cases = [
        (Threshold(8, 8, "hours"), working, "8 working hours", "8 werkuur"),
        (Threshold(4.5, 9, "hours"), working, "target 4.5, limit 9 working hours", None),
        (Threshold(4, 4, "hours"), clock, "4 clock hours", "4 uur (klok)"),
        (Threshold(3, 7, "days"), working, "target 3, limit 7 working days", None),
        (Threshold(2.5, 7, "days"), clock, "target 2.5, limit 7 days", "doel 2,5, limiet 7 dagen"),
        (Threshold(5, 5, "days"), working, "5 working days", None),
    ]
    for threshold, metric, english, dutch in cases:
        assert promise_text(Messages("en"), threshold, metric) == english
        if dutch:
            assert promise_text(Messages("nl"), threshold, metric) == dutch
    assert promise_text(Messages("en"), None, working) == "none"


def test_a_tier_whose_sla_rows_are_all_open_shows_no_median_from_its_other_rows() -> None:
    """The SLA part of the month has no closed row: its median is none, not that of
    the tier's rows without an SLA."""
    con = build(
        [
            ticket("A", "C1", "2026-10-14T09:00"),  # SLA, never answered: open
            ticket("B", "C1", "2026-10-20T09:00", first_response="2026-10-20T11:00"),
        ],
        [],
        [plan("C1", "premium", "2026-01-01")],
    )
    context = build_context(con, MONTH, policy=_from_15_october(_premium_without_sla))
    cell = next(c for c in context.cells if (c.tier, c.metric) == ("premium", "first_response"))
    assert (cell.tickets, cell.met, cell.breached, cell.without_target) == (2, 0, 0, 1)
    assert cell.median_hours is None and cell.compliance is None


def test_every_cell_adds_up_and_open_breaches_are_said(context) -> None:
    """Found by QA: a cell's tickets must be the sum of what it shows (the outage
    line's calls without a target were shown for SLA tiers only), and tickets
    already past their limit but still open belong in the summary."""
    for cell in context.cells:
        shown = cell.met + cell.breached + cell.open + cell.excluded + cell.without_target
        assert cell.tickets == shown, (cell.tier, cell.metric)
    still_open = {r.ticket_id for r in context.open_at_month_end if r.status == "open_breached"}
    assert len(still_open) > 1
    assert f"{len(still_open)} tickets are still open at month end and already past their" in (
        " ".join(context.sentences)
    )


def test_a_ticket_left_open_stays_in_every_later_months_open_list() -> None:
    """Found by QA: a ticket never answered counts in the month its deadline passed
    (August); the October report showed no open ticket at all."""
    con = build(
        [
            ticket("A1", "C1", "2026-08-03T10:00"),
            ticket(
                "A2",
                "C1",
                "2026-10-05T09:00",
                first_response="2026-10-05T09:30",
                resolved="2026-10-05T11:00",
            ),
        ],
        [],
        [plan("C1", "business", "2025-01-01")],
    )
    context = build_context(con, MONTH)
    listed = {(r.ticket_id, r.status) for r in context.open_at_month_end}
    assert listed == {("A1", "open_breached")}
    assert len(context.open_at_month_end) == 2  # both of its metrics
    sentences = " ".join(context.sentences)
    assert "1 ticket is still open at month end and already past its limit" in sentences
    assert "1 of them passed it in an earlier month." in sentences
    html = render_html(context)
    assert "No ticket was open at month end" not in html
    intake = _intake(con, context)
    # By the month each was created: the report's month does not also hold A1.
    assert sorted(zip(intake["month"], intake["tickets"], strict=True)) == [
        ("2026-08", 1),
        ("2026-10", 1),
    ]


def _intake(con, context) -> pd.DataFrame:
    """The intake chart's rows of the report `context`: its 12 months to MONTH."""
    return query(
        con,
        "report_monthly_intake.sql",
        {
            "evaluation_id": context.evaluation_id,
            "month_from": "2025-11",
            "month": MONTH,
            "tz": "Europe/Amsterdam",
        },
    ).df()


def test_intake_counts_each_ticket_in_its_local_month_of_the_window() -> None:
    """The intake chart's months are bounded by local midnight (Europe/Amsterdam),
    summer and winter time alike, and a ticket created before the window's first
    month is not counted in it (the query reads the window's rows only)."""
    created = {
        "BEFORE": "2025-10-31T23:59:59",  # before the window (2025-11 to 2026-10)
        "FIRST": "2025-11-01T00:00",
        "SEP": "2026-09-30T23:59:59",  # summer time: 21:59:59 UTC
        "OCT1": "2026-10-01T00:00",  # 2026-09-30 22:00 UTC
        "OCT2": "2026-10-31T23:59:59",  # winter time: 22:59:59 UTC
    }
    con = build(
        [ticket(t, "C1", at, first_response=at, resolved=at) for t, at in created.items()],
        [],
        [plan("C1", "business", "2025-01-01")],
    )
    context = build_context(con, MONTH)
    intake = _intake(con, context)
    assert sorted(zip(intake["month"], intake["tier"], intake["tickets"], strict=True)) == [
        ("2025-11", "business", 1),
        ("2026-09", "business", 1),
        ("2026-10", "business", 2),
    ]


def test_an_empty_open_list_says_so() -> None:
    html = render_html(build_context(small_warehouse(), MONTH))
    assert "No ticket was open at month end at risk of or past its limit." in html


def test_a_promise_of_one_is_singular() -> None:

    m = Messages("en")
    metric = Policy.default().versions[0].metrics["first_response"]
    one = Threshold(target=1, limit=1, unit="hours")
    assert promise_text(m, one, metric) == "1 working hour"
    assert promise_text(Messages("nl"), replace(one, unit="days"), metric) == "1 werkdag"


def test_an_sla_tier_without_tickets_keeps_its_cards() -> None:
    """Found by QA: with no Premium ticket in the month, Premium's cards vanished
    while the page header still named it."""
    context = build_context(small_warehouse(), MONTH)  # Premium tickets only
    business = [c for c in context.sla_cells if c.tier == "business"]
    assert [(c.metric, c.tickets, c.compliance) for c in business] == [
        ("first_response", 0, None),
        ("resolution", 0, None),
    ]
    soup = BeautifulSoup(render_html(context), "html.parser")
    card = soup.select_one('#summary .card[data-tier="business"][data-metric="resolution"]')
    assert "No ticket counted this month." in card.get_text()
    assert "target 3, limit 7 working days" in card.get_text()
    assert not soup.select_one('#summary .card[data-tier="premium"] .no-tickets')
    assert [c.tier for c in context.cells if not c.benchmark_only] == [
        "business",
        "business",
        "premium",
        "premium",
    ]


def test_a_promise_names_its_overrides_and_the_versions_its_rows_were_judged_by() -> None:
    """Found by QA: critical tickets judged at 1 working day and outage calls at
    1 clock hour, under cards promising 7 days and 24 hours; a July card naming
    only July's version over tickets created in June."""

    def overrides(version: dict) -> None:
        metrics = version["metrics"]
        metrics["resolution"]["by_priority"] = {"critical": {"target_days": 1, "limit_days": 1}}
        version["outage_line"]["first_response_target_hours"] = 1

    policy = _from_15_october(overrides)
    con = build(
        [
            # Created under 2025.1, answered under 2026.10's term.
            ticket("E", "C1", "2026-10-13T09:00", first_response="2026-10-19T09:00"),
        ],
        [],
        [plan("C1", "business", "2026-01-01")],
    )
    context = build_context(con, MONTH, policy=policy)
    cells = {(c.tier, c.metric): c.promise for c in context.cells}
    assert cells[("business", "resolution")] == (
        "target 3, limit 7 working days; target 3, limit 7 working days (Critical: 1 working"
        " day) from 15 October 2026"
    )
    assert cells[("business", "first_response")] == (
        "24 working hours; 24 working hours (Outage line: 1 clock hour) from 15 October 2026"
    )
    dutch = build_context(con, MONTH, policy=policy, lang="nl")
    promise = next(c.promise for c in dutch.cells if c.metric == "resolution")
    assert promise.endswith("(Kritiek: 1 werkdag) vanaf 15 oktober 2026")


def test_a_version_taking_effect_is_said_first_and_marked_on_the_trends() -> None:
    """Found looking at July's report under a stricter Premium target: "the largest
    change: Premium first response, -12.8 pp" read as worse service, the new
    promise was only in the card's small print."""
    policy = Policy.from_toml(
        Path(__file__).parent.parent / "docs/examples/premium-4h-from-july.toml"
    )
    con = build(
        [
            ticket("J", "C1", "2026-06-10T09:00", first_response="2026-06-10T11:00"),
            ticket("K", "C1", "2026-07-10T09:00", first_response="2026-07-10T15:00"),
            ticket("L", "C1", "2026-08-10T09:00", first_response="2026-08-10T10:00"),
        ],
        [],
        [plan("C1", "premium", "2026-01-01")],
    )
    july = build_context(con, "2026-07", policy=policy)
    assert july.sentences[0] == (
        "Policy version 2026.2 took effect on 1 July 2026 (“Premium first response within 4"
        " working hours.”): changes against earlier months compare with tickets judged by"
        " version 2025.1."
    )
    dutch = build_context(con, "2026-07", policy=policy, lang="nl")
    assert dutch.sentences[0].startswith("Beleidsversie 2026.2 geldt vanaf 1 juli 2026 („Premium")
    assert ["policy 2026.2" in svg for svg in july.trend_charts] == [True, True, False]
    soup = BeautifulSoup(render_html(july, for_print=True), "html.parser")
    assert soup.select_one(".pagehead").get_text() == (
        "SLA tiers: Business, PremiumSLA compliance report · July 2026 · policy 2026.2"
    )
    august = build_context(con, "2026-08", policy=policy)
    assert not any("2026.2" in sentence for sentence in august.sentences)
    assert "policy 2026.2" in august.trend_charts[0]  # still where it began
    assert not any("2026.2" in s for s in build_context(con, "2026-06", policy=policy).sentences)


def test_a_card_names_the_version_a_row_created_before_the_month_was_judged_by() -> None:
    policy = Policy.from_toml(
        Path(__file__).parent.parent / "docs/examples/premium-4h-from-july.toml"
    )
    con = build(
        [ticket("J", "C1", "2026-06-30T17:00", first_response="2026-07-01T11:00")],
        [],
        [plan("C1", "premium", "2026-01-01")],
    )
    context = build_context(con, "2026-07", policy=policy)
    cell = next(c for c in context.cells if (c.tier, c.metric) == ("premium", "first_response"))
    assert cell.promise == "8 working hours; 4 working hours from 1 July 2026"


def test_a_card_says_how_many_tickets_its_share_is_of() -> None:
    """A manager read "100.0%" on a card as a perfect month; it was one ticket."""

    def card(context, tier: str, metric: str) -> str:
        soup = BeautifulSoup(render_html(context), "html.parser")
        found = soup.select_one(f'#summary .card[data-tier="{tier}"][data-metric="{metric}"]')
        return " ".join(found.get_text().split())

    con = small_warehouse()  # Premium: first response 2 met, 1 breached
    text = card(build_context(con, MONTH), "premium", "first_response")
    assert "2 of 3 tickets met the limit · 95% CI " in text
    dutch = card(build_context(con, MONTH, lang="nl"), "premium", "first_response")
    assert "2 van 3 tickets binnen de limiet · 95%-BI " in dutch
    con = small_warehouse()  # a report's evaluation is reused: change a fresh warehouse
    con.execute("DELETE FROM tickets WHERE ticket_id IN ('A', 'B')")
    text = card(build_context(con, MONTH), "premium", "resolution")
    assert "100.0% 1 of 1 ticket met the limit · 95% CI 20.7% – 100.0%" in text
    # Counted but still open: the card says so, not a bare dash.
    con = small_warehouse()
    con.execute("DELETE FROM tickets WHERE ticket_id IN ('A', 'B')")
    con.execute("UPDATE tickets SET first_response_at = NULL, resolved_at = NULL")
    text = card(build_context(con, MONTH), "premium", "resolution")
    assert "No ticket judged yet: 1 counted, 1 of them still open." in text
    assert "No ticket counted this month." in card(
        build_context(con, MONTH), "business", "resolution"
    )


def test_a_month_of_open_tickets_says_why_its_charts_are_empty() -> None:
    """Bare axes, a lone tick at their left edge, read as a chart that failed to draw."""
    con = build([ticket("O", "C1", "2026-10-05T09:00")], [], [plan("C1", "premium", "2025-01-01")])
    # Nor does the summary call a month with a ticket past its limit one without breaches.
    assert list(build_context(con, MONTH).sentences) == [
        "No tier can be compared with last month yet.",
        "No SLA breaches among the responses and resolutions of this month.",
        "1 ticket is still open at month end and already past its limit (listed below).",
    ]
    for lang, trend, distribution in (
        ("en", "No ticket met or breached its limit in these months", "clock stopped this month"),
        ("nl", "Geen ticket haalde of overschreed zijn limiet", "stopte de klok deze maand"),
    ):
        context = build_context(con, MONTH, lang=lang)
        assert [trend in svg for svg in context.trend_charts] == [True, True, False]
        assert [distribution in svg for svg in context.distribution_charts] == [True, True]


def test_trends_start_at_the_first_month_of_the_data() -> None:
    """Found by QA: the first month's report drew eleven empty months."""
    context = build_context(small_warehouse(), MONTH)
    assert context.trend_months == 1
    html = render_html(context)
    assert "Trends (the data begin this month)" in html
    assert html.count("<svg") == 5  # the charts are drawn all the same
    # Nor an average of one month ("t.o.v. 1-maandsgemiddelde", "de getoonde 1 maanden").
    dutch = render_html(build_context(small_warehouse(), MONTH, lang="nl"))
    assert "1-maandsgemiddelde" not in dutch and "1 maanden" not in dutch
    assert "t.o.v. vorige maand: –" in BeautifulSoup(dutch, "html.parser").get_text()
    assert "1-month average" not in html


def test_twelve_months_of_trends_in_the_sample(context) -> None:
    assert context.trend_months == 12
    assert "Trends over 12 months" in render_html(context)


def test_a_ticket_left_open_for_over_a_year_is_still_listed() -> None:
    """Found by QA (second round): the report's evaluation kept the 12 months shown
    only, so a ticket overdue since before them vanished and the list said none."""
    con = build(
        [
            ticket("OLD", "C1", "2025-06-02T10:00"),
            ticket(
                "NEW",
                "C1",
                "2026-10-05T09:00",
                first_response="2026-10-05T09:30",
                resolved="2026-10-05T11:00",
            ),
        ],
        [],
        [plan("C1", "business", "2025-01-01")],
    )
    context = build_context(con, MONTH)
    assert {(r.ticket_id, r.status) for r in context.open_at_month_end} == {
        ("OLD", "open_breached")
    }
    assert "1 of them passed it in an earlier month." in " ".join(context.sentences)
    # The cells and charts still show the 12 months up to the report's.
    assert context.trend_months == 12


def test_data_quality_counts_only_outstanding_rejections(tmp_path) -> None:
    """Events loaded before their tickets are rejected; read again after the
    tickets, they load, and the report no longer counts the first reading's
    rejections (as `sla status` does not)."""
    from pipeline.load import load_file
    from pipeline.warehouse import connect

    fixtures = Path(__file__).parent / "fixtures"
    con = connect(str(tmp_path / "w.duckdb"))
    load_file(con, fixtures / "customers.csv", source_tz="Europe/Amsterdam")
    first = load_file(con, fixtures / "events.csv", source_tz="Europe/Amsterdam")
    assert first.rejected["event_for_unknown_ticket"] == 5
    load_file(con, fixtures / "tickets.csv", source_tz="Europe/Amsterdam")
    again = load_file(con, fixtures / "events.csv", source_tz="Europe/Amsterdam")
    assert again.rejected["event_for_unknown_ticket"] == 1  # a ticket no file has
    context = build_context(con, MONTH)
    counted = {(r["reason_code"], r["field"]): r["n"] for r in context.rejected}
    assert counted[("event_for_unknown_ticket", "ticket_id")] == 1


def test_an_sla_figure_is_never_compared_with_benchmark_months() -> None:
    """Found by QA (second round): Professional, given an SLA from 15 October, read
    '+100.0 pt vs last month' against September's benchmark-only figure."""

    def professional_gets_an_sla(version: dict) -> None:
        version["tiers"]["professional"]["has_sla"] = True
        for metric in version["metrics"].values():
            metric["targets"]["professional"] = metric["targets"]["business"]

    con = build(
        [
            ticket("S", "C1", "2026-09-07T09:00", first_response="2026-09-10T09:00"),
            ticket("O", "C1", "2026-10-20T09:00", first_response="2026-10-20T09:30"),
        ],
        [],
        [plan("C1", "professional", "2026-01-01")],
    )
    context = build_context(con, MONTH, policy=_from_15_october(professional_gets_an_sla))
    cell = next(
        c for c in context.sla_cells if (c.tier, c.metric) == ("professional", "first_response")
    )
    assert cell.compliance == 1.0
    assert cell.change_month is None and cell.change_12m is None
    assert not any("+100.0" in s for s in context.sentences)


def test_one_breach_one_dash_and_every_sla_tier_named() -> None:
    """Found by QA (second round): '1 SLA breaches', '– – –' for no interval, and a
    page header naming the first version's SLA tiers only."""
    context = build_context(small_warehouse(), MONTH)
    assert "1 SLA breach this month, 26.0 working hours over its limit (ticket A)." in (
        context.sentences
    )
    html = render_html(context)
    assert '<td class="num ci">–</td>' in html and "– –" not in html

    def professional_gets_an_sla(version: dict) -> None:
        version["tiers"]["professional"]["has_sla"] = True
        for metric in version["metrics"].values():
            metric["targets"]["professional"] = metric["targets"]["business"]

    later = build_context(
        small_warehouse(), MONTH, policy=_from_15_october(professional_gets_an_sla)
    )
    assert later.tier_set == "Professional, Business, Premium"


def test_method_names_the_hours_closed_or_opened_besides() -> None:
    """Found by QA (second round): a closed afternoon moved deadlines and the
    method's list of closed days left it out."""
    doc = Policy.default().document
    doc["calendars"] = {
        "office": {
            "timezone": "Europe/Amsterdam",
            "holidays": {"country": "NL", "exclude": ["Good Friday"]},
            "closures": [["2026-10-30T12:00", "2026-10-30T17:30"]],
            "openings": [["2026-10-31T09:00", "2026-10-31T13:00"]],
            "weekly": {d: [["09:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        }
    }
    policy = Policy.from_dict(doc)
    text = build_context(small_warehouse(), MONTH, policy=policy).calendars[0]["holidays"]
    assert text.endswith(
        "Closed besides: 30 October 2026 12:00–17:30. Open besides: 31 October 2026 09:00–13:00."
    )
    dutch = build_context(small_warehouse(), MONTH, policy=policy, lang="nl").calendars[0]
    assert "Daarnaast gesloten: 30 oktober 2026 12:00–17:30." in dutch["holidays"]


def test_an_outage_line_on_a_24_7_calendar_of_its_own_promises_clock_hours() -> None:
    """Found in review: only a calendar named `always` was worded in clock hours."""

    def nonstop_line(version: dict) -> None:
        version["outage_line"]["calendar"] = "nonstop"
        version["outage_line"]["first_response_target_hours"] = 1

    doc = Policy.default().document
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    doc["calendars"] = {
        "nonstop": {"timezone": "UTC", "weekly": {d: [["00:00", "24:00"]] for d in days}}
    }
    later = json.loads(json.dumps(doc["versions"][0]))
    later.update(version="2026.10", effective_from="2026-10-15")
    nonstop_line(later)
    doc["versions"].append(later)
    policy = Policy.from_dict(doc)
    con = build(
        [ticket("E", "C1", "2026-10-20T09:00", first_response="2026-10-20T09:30")],
        [],
        [plan("C1", "business", "2026-01-01")],
    )
    context = build_context(con, MONTH, policy=policy)
    promise = next(c.promise for c in context.cells if c.metric == "first_response")
    assert promise.endswith("24 working hours (Outage line: 1 clock hour) from 15 October 2026")


def test_the_worst_breach_is_worded_in_its_own_hours() -> None:
    """Found in review: an outage-line call's 481 clock hours were called working
    hours and ranked against an email ticket's working hours."""
    con = build(
        [
            ticket(
                "OUT",
                "C1",
                "2026-10-03T03:00",
                first_response="2026-10-03T03:20",
                resolved="2026-10-30T03:00",
                priority="critical",
                channel="outage_line",
            ),
            ticket(
                "EM",
                "C1",
                "2026-10-05T09:00",
                first_response="2026-10-05T09:30",
                resolved="2026-10-20T10:00",
            ),
        ],
        [],
        [plan("C1", "business", "2020-01-01")],
    )
    sentences = build_context(con, MONTH).sentences
    assert (
        "2 SLA breaches this month; the furthest past its limit, for the limit's length, was "
        "ticket OUT: 481.0 clock hours over."
    ) in sentences
    dutch = build_context(con, MONTH, lang="nl").sentences
    assert any("ticket OUT: 481,0 klokuur te laat." in s for s in dutch)


def test_method_describes_the_policy_in_force_not_the_default() -> None:
    """Found in review: the method section's measuring text was one fixed sentence
    (waiting on the customer, reopen gaps, 8.5-hour days) whatever the policy said."""
    default = build_context(small_warehouse(), MONTH)
    assert default.method_metrics[:2] == (
        "First response: from creation to the first public agent reply, in working hours"
        " of the office calendar.",
        "Resolution: from creation to the final resolution, in working hours of the office"
        " calendar.",
    )
    assert "A working day is one full opening day of the office calendar (8.5 working hours)." in (
        default.method_metrics
    )
    assert [c["text"] for c in default.calendars][-1] == (
        "The 24/7 calendar (always) counts every hour of every day."
    )

    doc = Policy.default().document
    doc["calendars"] = {
        "office": {
            "timezone": "Europe/Amsterdam",
            "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        }
    }
    for version in doc["versions"]:
        version["metrics"]["first_response"]["clock"] = "clock"
        resolution = version["metrics"]["resolution"]
        resolution["pause_statuses"] = ["waiting_on_customer", "waiting_on_third_party"]
        resolution["reopen_rule"] = "first_resolution"
    text = " ".join(
        build_context(small_warehouse(), MONTH, policy=Policy.from_dict(doc)).method_metrics
    )
    assert "First response: from creation to the first public agent reply, in clock hours" in text
    assert "Resolution: from creation to the first resolution" in text
    assert (
        "Time in status “waiting on the customer” (waiting_on_customer) and “waiting on a third"
        " party” (waiting_on_third_party) does not count"
    ) in text
    assert "a ticket that breached in any cycle counts as breached" in text
    # The default rule's sentence is gone: first_resolution subtracts no reopen gap.
    assert "between a resolution and the next reopen" not in text
    assert "(8 working hours)" in text and "8.5" not in text


def test_method_says_the_policys_values_in_words_with_the_values_beside_them() -> None:
    """The Dutch read-through: the method section read 'channel = outage_line en
    priority = critical', 'requires_it_release = true', „waiting_on_customer”,
    oorzaakdomein „customer” and 'kalender office'. Words first; each value stays
    beside them, as the data holds it."""
    dutch = build_context(small_warehouse(), MONTH, lang="nl")
    assert [c["text"] for c in dutch.calendars] == [
        "Openingstijden van de kantoorkalender (office), tijdzone Europe/Amsterdam:"
        " ma 09:00-17:30; di 09:00-17:30; wo 09:00-17:30; do 09:00-17:30; vr 09:00-17:30.",
        "De 24/7-kalender (always) telt elk uur van elke dag.",
    ]
    assert dutch.method_metrics == (
        "Eerste reactie: van aanmaken tot de eerste publieke reactie van een medewerker,"
        " in werkuren van de kantoorkalender.",
        "Oplossing: van aanmaken tot de definitieve oplossing, in werkuren van de kantoorkalender.",
        "Tijd in status „wacht op klant” (waiting_on_customer) telt niet mee (alleen de"
        " overlap met de uren van de kalender).",
        "Evenmin de tijd tussen een oplossing en de volgende heropening.",
        "Tickets met een vereiste IT-release (requires_it_release = true) zijn uitgezonderd"
        " (regel „it_release”): geteld, niet beoordeeld.",
        "Een werkdag is één volledige openingsdag van de kantoorkalender (8,5 werkuur).",
        "Meldingen via de storingsdienst, tickets met kanaal storingsdienst (outage_line) en"
        " prioriteit kritiek (critical), worden voor eerste reactie en oplossing gemeten op de"
        " 24/7-kalender; het beleid stelt voor deze meldingen geen doel voor de eerste reactie:"
        " gemeten, niet beoordeeld. Meldingen met oorzaakdomein klant (customer) zijn"
        " factureerbaar.",
    )
    english = build_context(small_warehouse(), MONTH)
    assert english.calendars[0]["text"].startswith(
        "Opening hours of the office calendar, time zone Europe/Amsterdam: Mon 09:00-17:30;"
    )
    text = " ".join(english.method_metrics)
    assert "Time in status “waiting on the customer” (waiting_on_customer) does not" in text
    assert "Tickets with a required IT release (requires_it_release = true) are excluded" in text
    assert (
        "Calls on the outage line, tickets with channel outage line (outage_line) and priority"
        " critical, are timed on the 24/7 calendar"
    ) in text
    assert "Those with cause domain “customer” are billable." in text


def test_method_shows_values_without_words_as_the_policy_writes_them() -> None:
    """A custom policy's free-text value, a tier and its own calendar: words where
    the catalogue or the policy has them, else the value alone."""
    doc = Policy.default().document
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    doc["calendars"] = {
        "nonstop": {"timezone": "UTC", "weekly": {d: [["00:00", "24:00"]] for d in days}}
    }
    for version in doc["versions"]:
        version["metrics"]["resolution"]["exclude"] = [
            {"rule": "refunds", "field": "category", "value": "Refunds"},
            {"rule": "api", "field": "channel", "value": "api"},
        ]
        version["outage_line"]["match"] = {"tier": "premium", "status": "open"}
        version["outage_line"]["calendar"] = "nonstop"
    policy = Policy.from_dict(doc)
    dutch = build_context(small_warehouse(), MONTH, policy=policy, lang="nl")
    text = " ".join(dutch.method_metrics)
    assert "Tickets met category = Refunds zijn uitgezonderd (regel „refunds”)" in text
    assert "Tickets met kanaal API zijn uitgezonderd (regel „api”)" in text
    assert "tickets met pakket Premium en status open, worden" in text
    assert "gemeten op de kalender nonstop;" in text
    assert "De kalender nonstop telt elk uur van elke dag." in [c["text"] for c in dutch.calendars]


def test_changes_are_in_the_readers_percentage_points(con) -> None:
    """The Dutch read-through: '−3,4 pt' reads as nothing a Dutch manager knows."""
    soup = BeautifulSoup(render_html(build_context(con, MONTH, lang="nl")), "html.parser")
    cards = soup.get_text(" ")
    assert re.search(r"t\.o\.v\. vorige maand: [+−±]\d+,\d\u00a0procentpunt", cards)
    assert " pt" not in cards
    # Each comparison stays whole on its line ("t.o.v. 12-" / "maandsgemiddelde" read badly).
    whole = [s.get_text() for s in soup.select("span.nw")]
    assert [s for s in whole if s.startswith("t.o.v.")][:2] == [
        "t.o.v. vorige maand: −3,4\u00a0procentpunt",
        "t.o.v. 12-maandsgemiddelde: −1,2\u00a0procentpunt",
    ]
    assert whole[0] == "95%-BI 84,9\u00a0% – 93,5\u00a0%"  # the card's interval, whole too
    english = BeautifulSoup(render_html(build_context(con, MONTH)), "html.parser").get_text(" ")
    assert re.search(r"vs last month: [+−±]\d+\.\d\u00a0pp", english)


def test_a_pruned_evaluation_is_never_reused(fixture_warehouse, tmp_path) -> None:
    """A report whose evaluation was pruned evaluates again: reusing it would read
    no rows and show the month as empty."""
    from pipeline.errors import PrunedEvaluationError
    from pipeline.retention import plan_prune, prune_evaluations

    con = fixture_warehouse
    first = write_monthly_report(con, MONTH, formats=("html",), out_dir=tmp_path / "a")
    manifest = json.loads(first[-1].read_text())
    assert manifest["evaluation_id"] == 1
    (tmp_path / "none").mkdir()
    plan = plan_prune(con, report_folders=[tmp_path / "none"], keep_latest=0)
    assert prune_evaluations(con, plan).pruned == (1,)
    again = write_monthly_report(con, MONTH, formats=("html",), out_dir=tmp_path / "b")
    assert json.loads(again[-1].read_text())["evaluation_id"] == 2
    # The same figures, read from the new run's rows.
    assert (tmp_path / "b" / MONTH / "figures.csv").read_text() == (
        tmp_path / "a" / MONTH / "figures.csv"
    ).read_text()
    with pytest.raises(PrunedEvaluationError, match="evaluation #1 was pruned on"):
        build_context(con, MONTH, evaluation_id=1)
