"""Verifying rendered reports against the warehouse: reproduced, or what differs and why."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import AuditError, PrunedEvaluationError
from pipeline.evaluate import evaluate
from pipeline.load import load_file
from pipeline.policy import Policy
from pipeline.report_monthly import ensure_evaluation, write_monthly_report
from pipeline.report_sales import build_customer_context, build_tiers_context, write_sales_report
from pipeline.retention import list_evaluations, require_stored
from pipeline.verify import SEAL, _row_differences, seal, verify_manifest
from pipeline.warehouse import connect
from tests.conftest import SAMPLE

MONTH = "2026-10"


def _resealed(data: dict) -> str:
    """A manifest's JSON with a seal that matches its content: as if the pipeline
    had written it so (an edit the seal cannot catch, for the checks beneath it)."""
    return json.dumps({**data, SEAL: seal(data)})


@pytest.fixture(scope="module")
def report(sample_warehouse, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    write_monthly_report(sample_warehouse, MONTH, formats=("html",), out_dir=folder)
    return folder / MONTH / "manifest.json"


def test_monthly_report_is_reproduced(sample_warehouse, report) -> None:
    result = verify_manifest(sample_warehouse, report)
    assert result.reproduced and result.differences == () and result.reasons == ()
    assert result.figures_checked == len(json.loads(report.read_text())["figures"])
    assert result.documents_checked == ("breaches.csv", "figures.csv", "sla-report.en.html")
    # The breach lists are re-derived from the re-run, every row of breaches.csv.
    rows = (report.parent / "breaches.csv").read_bytes().count(b"\r\n") - 1
    assert rows == 65 and result.breach_rows_checked == rows


def test_verify_keeps_the_record_of_its_re_run_not_its_rows(warehouse_file, tmp_path) -> None:
    """Each verify stored its whole re-run: a million-ticket warehouse grew by 2
    million rows per verify, until a prune. Now the rows go once compared; the
    record stays, marked pruned, so that nothing reads it as a stored run."""
    db, manifest = warehouse_file
    shutil.copy(db, tmp_path / "w.duckdb")
    con = connect(tmp_path / "w.duckdb")

    def rows() -> int:
        return con.execute("SELECT count(*) FROM sla_results").fetchone()[0]

    before = rows()
    first = verify_manifest(con, manifest)
    assert rows() == before == first.rows_checked
    second = verify_manifest(con, manifest)
    assert rows() == before
    # The verification itself is what it was: every figure, stored row and breach row.
    assert first.reproduced and second.reproduced
    assert (
        (first.figures_checked, first.rows_checked, first.breach_rows_checked)
        == (
            second.figures_checked,
            second.rows_checked,
            second.breach_rows_checked,
        )
        == (len(json.loads(manifest.read_text())["figures"]), before, 65)
    )
    runs = list_evaluations(con).set_index("evaluation_id")
    assert runs["made_by"].tolist() == ["report", "verify", "verify"]
    assert (first.new_evaluation_id, second.new_evaluation_id) == (2, 3)
    verified = runs.loc[[2, 3]]
    assert (verified["rows_written"] == before).all() and (verified["rows_stored"] == 0).all()
    assert verified["pruned_at"].notna().all() and pd.isna(runs.loc[1, "pruned_at"])
    with pytest.raises(PrunedEvaluationError, match=r"sla audit verify's re-run"):
        require_stored(con, 2)
    # Still a mismatch is found (the comparison ran before the rows went).
    con.execute(
        "UPDATE sla_results SET reopens = reopens + 1 "
        "WHERE evaluation_id = 1 AND ticket_id = 'T0001148' AND metric = 'resolution'"
    )
    tampered = verify_manifest(con, manifest)
    assert tampered.differences == ("row T0001148 resolution: reopens: stored 1 vs re-derived 0",)
    assert rows() == before
    # A report of the same month reuses its own run, never one whose rows are gone,
    # and a new evaluation's rows are stored as ever.
    assert ensure_evaluation(con, MONTH, Policy.default()) == 1
    evaluate(con, as_of="2026-11-01T00:00Z")
    assert rows() > before


def test_a_document_changed_after_rendering_is_caught(sample_warehouse, report, tmp_path) -> None:
    (tmp_path / "manifest.json").write_text(report.read_text())
    html = (report.parent / "sla-report.en.html").read_text()
    (tmp_path / "sla-report.en.html").write_text(html + "<!-- one figure edited -->")
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert not result.reproduced
    assert result.differences == ("document sla-report.en.html: changed since it was rendered",)
    assert "changed afterwards" in result.reasons[0]
    # Only the manifest at hand: the figures are checked, the document cannot be.
    (tmp_path / "sla-report.en.html").unlink()
    alone = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert alone.reproduced and alone.documents_absent == (
        "breaches.csv",
        "figures.csv",
        "sla-report.en.html",
    )
    # The full breach list beside the report is pinned the same way.
    listed = (report.parent / "breaches.csv").read_bytes()
    (tmp_path / "breaches.csv").write_bytes(listed.replace(b",breached,", b",met,", 1))
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert result.differences == ("document breaches.csv: changed since it was rendered",)


def test_an_edited_figures_csv_or_its_hash_is_caught(sample_warehouse, report, tmp_path) -> None:
    (tmp_path / "manifest.json").write_text(report.read_text())
    csv = (report.parent / "figures.csv").read_text()
    (tmp_path / "figures.csv").write_text(csv.replace(",business,", ",business,", 1) + "x\n")
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert not result.reproduced
    assert result.differences == ("document figures.csv: changed since it was rendered",)
    (tmp_path / "figures.csv").write_bytes(b"\xff\xfe not text")  # not even UTF-8
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert result.differences == ("document figures.csv: changed since it was rendered",)
    # The file intact, the manifest's hash of it edited.
    (tmp_path / "figures.csv").write_text(csv)
    data = json.loads(report.read_text())
    data["figures_csv_sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert not result.reproduced
    assert result.differences[0] == (
        "manifest: changed after it was written (its seal does not match)"
    )
    # Re-sealed, the edit still shows: figures.csv is re-derived and hashed.
    (tmp_path / "manifest.json").write_text(_resealed(data))
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert not result.reproduced
    assert result.differences[0] == (
        "figures.csv: the manifest's hash is not that of the figures re-derived"
    )
    assert "the manifest was edited" in result.reasons[0]


def test_a_changed_figure_is_listed_field_by_field(sample_warehouse, report, tmp_path) -> None:
    data = json.loads(report.read_text())
    data["figures"]["business/resolution"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    # The figures.csv beside it says what the report showed: one count off.
    csv = (report.parent / "figures.csv").read_text()
    lines = csv.splitlines()
    header = lines[0].split(",")
    at = next(i for i, line in enumerate(lines) if line.startswith("business,resolution,"))
    cells = lines[at].split(",")
    cells[header.index("met")] = str(int(cells[header.index("met")]) + 1)
    lines[at] = ",".join(cells)
    changed = "\n".join(lines) + "\n"
    (tmp_path / "figures.csv").write_text(changed)
    data["figures_csv_sha256"] = hashlib.sha256(changed.encode()).hexdigest()
    (tmp_path / "manifest.json").write_text(_resealed(data))
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert not result.reproduced
    assert len(result.differences) == 1
    assert result.differences[0].startswith("business/resolution: changed (met ")
    # Same inputs, policy and version: nothing explains it, and the result says so.
    assert "did not reproduce" in result.reasons[0]


def test_a_manifest_of_an_older_version_says_what_reproduces(
    sample_warehouse, report, tmp_path
) -> None:
    """A 0.1.0 report (no seal, figures hashed over fewer fields, a figures.csv
    without the later columns) read '<figure>: changed' for every figure after an
    upgrade, though every value and stored row reproduced (found by upgrade QA)."""
    data = {k: v for k, v in json.loads(report.read_text()).items() if k not in (SEAL, "documents")}
    data["package_version"] = "0.1.0"
    data["figures"] = {key: "0" * 64 for key in data["figures"]}  # hashed the old way
    rows = (report.parent / "figures.csv").read_text().splitlines()
    dropped = rows[0].split(",").index("without_target")
    old_csv = "".join(
        ",".join(c for i, c in enumerate(row.split(",")) if i != dropped) + "\n" for row in rows
    )
    (tmp_path / "figures.csv").write_text(old_csv)
    data["figures_csv_sha256"] = hashlib.sha256(old_csv.encode()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert not result.reproduced  # unsealed: an edit cannot be told apart
    assert result.differences[0] == "manifest: it has no seal, so an edit cannot be told apart"
    assert (
        "business/resolution: its hash differs, but every value figures.csv holds for "
        "it reproduces (the hash now also covers without_target)"
    ) in result.differences
    assert not any("changed" in d for d in result.differences[1:])
    assert result.rows_reproduced is True
    assert result.documents_checked == ("figures.csv",)
    assert (
        "the report was made by version 0.1.0, this is 0.3.3: every stored row reproduces, "
        "so what differs is how that version made or hashed the report's figures"
    ) in result.reasons
    # A value that did change is still named as changed, field by field.
    changed = old_csv.replace("business,resolution,False,", "business,resolution,True,", 1)
    (tmp_path / "figures.csv").write_text(changed)
    data["figures_csv_sha256"] = hashlib.sha256(changed.encode()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert "business/resolution: changed (benchmark_only True -> False)" in result.differences


def test_new_data_and_a_foreign_manifest(report, tmp_path) -> None:
    con = connect(":memory:")
    for name in ("customers", "tickets", "events"):
        load_file(con, SAMPLE / f"{name}.csv")
    with pytest.raises(AuditError, match="never run here"):
        verify_manifest(con, report)  # this warehouse has never evaluated
    from pipeline.evaluate import evaluate

    evaluate(con, month_from=MONTH, month_to=MONTH, as_of="2026-11-15T00:00")
    # Same inputs, another warehouse: its evaluation of that id (if any) is another
    # run. The manifest is sealed as written: the figures decide, and reproduce.
    elsewhere = verify_manifest(con, report)
    assert elsewhere.reproduced, elsewhere.differences
    assert "made in another warehouse holding the same inputs" in elsewhere.reasons[-1]
    # Without a seal (a manifest written before seals) that cannot be told from an edit.
    unsealed = {k: v for k, v in json.loads(report.read_text()).items() if k != SEAL}
    unsealed["evaluation_id"] = 1  # here the run as of 15 November
    (tmp_path / "unsealed.json").write_text(json.dumps(unsealed))
    result = verify_manifest(con, tmp_path / "unsealed.json")
    assert not result.reproduced
    assert result.differences[0] == "manifest: it has no seal, so an edit cannot be told apart"
    assert "render the report again" in result.reasons[-1]
    # Edited and sealed again: what the manifest says of itself still has to agree.
    resealed = json.loads(report.read_text())
    resealed["inputs"] = [dict(i) for i in resealed["inputs"]]
    resealed["inputs"][0]["sha256"] = "0" * 64
    (tmp_path / "resealed.json").write_text(_resealed(resealed))
    result = verify_manifest(con, tmp_path / "resealed.json")
    assert not result.reproduced
    assert "manifest: the manifest's inputs do not give its input_fingerprint" in (
        result.differences
    )
    extra = tmp_path / "late-tickets.csv"
    extra.write_text(
        "ticket_id,customer_id,created_at,priority,channel,status,subject\n"
        "LATE1,C00001,2026-10-20T10:00:00+02:00,normal,email,open,arrived late\n"
    )
    load_file(con, extra)
    result = verify_manifest(con, report)
    assert any(
        "new data loaded since the report" in r and "late-tickets.csv" in r for r in result.reasons
    )
    data = json.loads(report.read_text())
    data["inputs"] = [{"path": "elsewhere.csv", "sha256": "e" * 64}]
    (tmp_path / "foreign.json").write_text(json.dumps(data))
    with pytest.raises(AuditError, match="another warehouse"):
        verify_manifest(con, tmp_path / "foreign.json")


def test_bad_manifests(sample_warehouse, tmp_path) -> None:
    with pytest.raises(AuditError, match="no such manifest"):
        verify_manifest(sample_warehouse, tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AuditError, match="invalid JSON"):
        verify_manifest(sample_warehouse, tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(AuditError, match="not a report manifest"):
        verify_manifest(sample_warehouse, tmp_path / "other.json")
    base = {
        "policy_hash": "p",
        "as_of": "2026-10-31T23:00:00+00:00",
        "input_fingerprint": "f",
        "figures": {},
    }
    malformed = {
        "42": (42, "not a JSON object"),
        "null": (None, "not a JSON object"),
        "figures": (
            {**base, "month": MONTH, "figures": []},
            "field 'figures' must be an object of hashes",
        ),
        "id": (
            {**base, "month": MONTH, "evaluation_id": "1; drop table x"},
            "field 'evaluation_id' must be a whole number",
        ),
        "customer": (
            {**base, "report": "customer", "month_from": MONTH, "month_to": MONTH},
            "field 'customer_id' must be text, not null",
        ),
        "kind": ({**base, "report": "weekly"}, "field 'report' must be one of monthly"),
        "unhashable kind": ({**base, "report": []}, "field 'report' must be one of monthly"),
        "far future": (
            {**base, "month": MONTH, "as_of": "2999-01-01T00:00:00+00:00"},
            "field 'as_of' must be an instant with its UTC offset",
        ),
        "document path": (
            {**base, "month": MONTH, "documents": {"../x.html": "0"}},
            "field 'documents' must be an object of hashes by plain file name",
        ),
        "as_of": (
            {**base, "month": MONTH, "as_of": "soon"},
            "field 'as_of' must be an instant with its UTC offset",
        ),
        "inputs": (
            {**base, "month": MONTH, "inputs": ["a.csv"]},
            "field 'inputs' must be a list of {path, sha256}",
        ),
    }
    (tmp_path / "deep.json").write_text("[" * 100_000)
    with pytest.raises(AuditError, match="not a manifest"):
        verify_manifest(sample_warehouse, tmp_path / "deep.json")
    for content, message in malformed.values():
        (tmp_path / "m.json").write_text(json.dumps(content))
        with pytest.raises(AuditError, match=re.escape(message)):  # not a traceback
            verify_manifest(sample_warehouse, tmp_path / "m.json")


def test_sales_reports_write_manifests_that_verify(sample_warehouse, tmp_path) -> None:
    con = sample_warehouse
    params = {"report": "tiers", "month_from": "2026-07", "month_to": "2026-09"}
    tiers = build_tiers_context(con, "2026-07", "2026-09")
    paths = write_sales_report(con, tiers, "tiers.html.j2", tmp_path, "t", ("html",), params)
    assert paths[-1].name == "t.manifest.json"
    assert verify_manifest(con, paths[-1]).reproduced
    params = {
        "report": "customer",
        "customer_id": "C00001",
        "month_from": "2026-01",
        "month_to": "2026-10",
    }
    customer = build_customer_context(con, "C00001", "2026-01", "2026-10")
    paths = write_sales_report(con, customer, "customer.html.j2", tmp_path, "c", ("html",), params)
    assert verify_manifest(con, paths[-1]).reproduced


def test_a_manifest_lists_the_inputs_its_evaluation_read(tmp_path) -> None:
    from pipeline.evaluate import evaluate
    from pipeline.report_monthly import write_manifest

    con = connect(":memory:")
    for name in ("customers", "tickets", "events"):
        load_file(con, SAMPLE / f"{name}.csv")
    load_file(con, SAMPLE / "tickets.csv")  # the same file again: loaded unchanged
    run = evaluate(con, month_from=MONTH, month_to=MONTH, as_of="2026-11-01T00:00")
    extra = tmp_path / "late-tickets.csv"
    extra.write_text(
        "ticket_id,customer_id,created_at,priority,channel,status,subject\n"
        "LATE1,C00001,2026-10-20T10:00:00+02:00,normal,email,open,arrived late\n"
    )
    load_file(con, extra)
    path = write_manifest(
        con,
        tmp_path / "manifest.json",
        report="monthly",
        params={"month": MONTH},
        evaluation_id=run.evaluation_id,
        figures={},
    )
    manifest = json.loads(path.read_text())
    assert [Path(i["path"]).name for i in manifest["inputs"]] == [
        "customers.csv",
        "tickets.csv",
        "events.csv",
    ]
    stored = con.execute(
        "SELECT input_fingerprint FROM evaluations WHERE evaluation_id = ?", [run.evaluation_id]
    ).fetchall()[0][0]
    assert manifest["input_fingerprint"] == stored


def test_a_manifest_with_a_malformed_month(sample_warehouse, report, tmp_path) -> None:
    data = json.loads(report.read_text())
    data["month"] = "October"
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(AuditError, match="malformed month 'October'"):
        verify_manifest(sample_warehouse, tmp_path / "manifest.json")


def test_an_edited_manifest_is_called_edited(sample_warehouse, report, tmp_path) -> None:
    original = json.loads(report.read_text())
    edits = {
        "as_of": ("as_of", "2026-10-31T12:00:00+00:00", "the manifest says 2026-10-31T12:00"),
        "evaluation": ("evaluation_id", 9999, "no evaluation #9999 in this warehouse"),
        "month": ("month", "2026-09", "the manifest's report is of 2026-09"),
    }
    for name, (key, value, reason) in edits.items():
        data = {**original, key: value}
        (tmp_path / "manifest.json").write_text(json.dumps(data))
        result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
        assert any(reason in r for r in result.reasons), (name, result.reasons)
        assert not result.reproduced, name
        assert result.differences[0].startswith("manifest: changed after it was written")
    (tmp_path / "manifest.json").write_text(_resealed({**original, "policy_versions": ["x"]}))
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert not result.reproduced
    assert result.differences == (
        "policy_versions: the manifest names x, the policy has 2025.1 in force in 2026-10",
    )
    assert any("the versions in force follow from the policy" in r for r in result.reasons)
    inputs = [dict(i) for i in original["inputs"]]
    inputs[-1]["sha256"] = "f" * 64
    (tmp_path / "manifest.json").write_text(json.dumps({**original, "inputs": inputs}))
    result = verify_manifest(sample_warehouse, tmp_path / "manifest.json")
    assert any("do not give its input_fingerprint" in r for r in result.reasons)


def test_a_sales_report_on_a_wider_evaluation_is_not_called_edited(
    sample_warehouse, tmp_path
) -> None:
    """A sales report reuses any evaluation covering its months (same as-of): its
    manifest names that evaluation, whose range is wider than the report's."""
    from pipeline.evaluate import evaluate, month_end_as_of

    con = sample_warehouse
    wide = evaluate(
        con,
        month_from="2026-01",
        month_to="2026-12",
        as_of=month_end_as_of("2026-08", "Europe/Amsterdam"),
    )
    tiers = build_tiers_context(con, "2026-07", "2026-08")
    assert tiers.evaluation_id == wide.evaluation_id
    params = {"report": "tiers", "month_from": "2026-07", "month_to": "2026-08"}
    paths = write_sales_report(con, tiers, "tiers.html.j2", tmp_path, "w", ("html",), params)
    result = verify_manifest(con, paths[-1])
    assert result.reproduced and result.reasons == ()


def test_rendering_again_after_a_verification_gives_the_same_files(
    sample_warehouse, report, tmp_path
) -> None:
    # verify stores an equal evaluation; the report keeps resting on the first one.
    assert verify_manifest(sample_warehouse, report).reproduced
    write_monthly_report(sample_warehouse, MONTH, formats=("html",), out_dir=tmp_path)
    for name in ("manifest.json", "figures.csv", "breaches.csv", "sla-report.en.html"):
        assert (tmp_path / MONTH / name).read_bytes() == (report.parent / name).read_bytes()


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory):
    """A warehouse file with the sample loaded and its October report rendered:
    each test tampers with a copy of it."""
    folder = tmp_path_factory.mktemp("tamper")
    con = connect(folder / "w.duckdb")
    for name in ("customers", "tickets", "events"):
        load_file(con, SAMPLE / f"{name}.csv")
    write_monthly_report(con, MONTH, formats=(), out_dir=folder)
    con.close()
    return folder / "w.duckdb", folder / MONTH / "manifest.json"


def _tampered(warehouse_file, tmp_path, *statements: str):
    db, manifest = warehouse_file
    shutil.copy(db, tmp_path / "w.duckdb")
    con = connect(tmp_path / "w.duckdb")
    for sql in statements:
        con.execute(sql)
    return verify_manifest(con, manifest)


def test_edited_stored_results_fail_row_by_row(warehouse_file, tmp_path) -> None:
    result = _tampered(
        warehouse_file,
        tmp_path,
        "UPDATE sla_results SET status = 'met', late_working_seconds = NULL "
        "WHERE evaluation_id = 1 AND ticket_id = 'T0001148' AND metric = 'resolution'",
    )
    assert not result.reproduced
    # The figures still reproduce (re-derived from the data): the rows do not.
    assert result.differences == (
        "row T0001148 resolution: status: stored met vs re-derived breached; "
        "late_working_seconds: stored - vs re-derived 333671.0",
    )
    # The stored rows no longer give the report's own figures and breach list: edited.
    assert result.reasons == (
        "the stored rows of evaluation #1 no longer give what the report showed "
        "(business/resolution; breaches.csv rows of T0001148): they were edited after it "
        "was rendered (loading data never changes the stored rows of an evaluation)",
    )
    # An edit that shows in neither leaves both causes open.
    result = _tampered(
        warehouse_file,
        tmp_path,
        "UPDATE sla_results SET reopens = 1 "
        "WHERE evaluation_id = 1 AND ticket_id = 'T0001148' AND metric = 'resolution'",
    )
    assert "sla_results" in result.reasons[0] and "changed in place" in result.reasons[0]


def test_stored_results_edited_after_new_data_are_called_edited(warehouse_file, tmp_path) -> None:
    # Data loaded since the report explains differing rows by itself: the stored
    # rows' own figures and breach list still tell an edit apart.
    db, manifest = warehouse_file
    shutil.copy(db, tmp_path / "w.duckdb")
    con = connect(tmp_path / "w.duckdb")
    late = tmp_path / "late-tickets.csv"
    late.write_text(
        "ticket_id,customer_id,created_at,priority,channel,status,subject\n"
        "LATE1,C00001,2026-10-20T10:00:00+02:00,normal,email,open,arrived late\n"
    )
    load_file(con, late)
    con.execute(
        "UPDATE sla_results SET late_working_seconds = 300000 "
        "WHERE evaluation_id = 1 AND ticket_id = 'T0001148' AND metric = 'resolution'"
    )
    result = verify_manifest(con, manifest)
    assert not result.reproduced
    assert "row T0001148 resolution: late_working_seconds: stored 300000.0 vs re-derived " in (
        " ".join(result.differences)
    )
    assert any("new data loaded since the report" in r for r in result.reasons)
    assert result.reasons[-1] == (
        "the stored rows of evaluation #1 no longer give what the report showed "
        "(breaches.csv rows of T0001148): they were edited after it was rendered (loading "
        "data never changes the stored rows of an evaluation)"
    )


def test_events_edited_in_place_change_rows_not_figures(warehouse_file, tmp_path) -> None:
    result = _tampered(
        warehouse_file,
        tmp_path,
        "DELETE FROM ticket_events WHERE ticket_id = 'T0003411' AND kind = 'status_change' "
        "AND new_value = 'waiting_on_customer'",
    )
    assert not result.reproduced
    assert result.figures_checked == 8
    assert result.differences == (
        "row T0003411 resolution: elapsed_working_seconds: stored 232615.0 vs re-derived "
        "253802.0; paused_working_seconds: stored 21187.0 vs re-derived 0.0; deadline: "
        "stored 2026-10-28T13:53:07+00:00 vs re-derived 2026-10-27T16:30:00+00:00; "
        "late_working_seconds: stored 18415.0 vs re-derived 39602.0",
        # The same row in the breach lists re-derived, as breaches.csv shows it.
        "breaches.csv row T0003411 resolution (breaches): deadline: rendered "
        "2026-10-28T14:53:07+01:00 vs re-derived 2026-10-27T17:30:00+01:00; "
        "elapsed_working_seconds: rendered 232615.0 vs re-derived 253802.0; "
        "late_working_seconds: rendered 18415.0 vs re-derived 39602.0",
    )
    # A deleted ticket: its stored rows have no re-derived counterpart.
    result = _tampered(warehouse_file, tmp_path, "DELETE FROM tickets WHERE ticket_id = 'T0003411'")
    assert result.differences[-3:] == (
        "row T0003411 first_response: 1 stored, 0 re-derived rows",
        "row T0003411 resolution: 1 stored, 0 re-derived rows",
        "breaches.csv row T0003411 resolution (breaches): 1 rendered, 0 re-derived rows",
    )


def test_a_subject_edited_in_the_warehouse_is_caught(warehouse_file, tmp_path) -> None:
    # No result row holds the subject: only the breach list re-derived shows it.
    result = _tampered(
        warehouse_file,
        tmp_path,
        "UPDATE tickets SET subject = 'Solved the same day' WHERE ticket_id = 'T0001148'",
    )
    assert not result.reproduced and result.breach_rows_checked is None
    assert result.differences == (
        "breaches.csv row T0001148 resolution (breaches): subject: rendered Verificatie van "
        "identiteit vs re-derived Solved the same day",
    )
    assert (
        "every figure and stored row reproduces, yet the breach list does not"
        in (result.reasons[0])
    )
    assert "subject" in result.reasons[0]
    # The manifest alone: the lists are compared by the hash it names.
    manifest = warehouse_file[1]
    (tmp_path / "alone").mkdir()
    shutil.copy(manifest, tmp_path / "alone" / "manifest.json")
    result = verify_manifest(connect(tmp_path / "w.duckdb"), tmp_path / "alone" / "manifest.json")
    assert result.differences == (
        "breaches.csv: the breach lists re-derived are not the ones rendered (not the hash "
        "the manifest names; the rendered breaches.csv is not beside the manifest as "
        "rendered, so the differing rows cannot be named)",
    )


def test_many_differing_rows_are_counted(warehouse_file, tmp_path) -> None:
    result = _tampered(
        warehouse_file,
        tmp_path,
        "UPDATE sla_results SET reopens = reopens + 1 WHERE evaluation_id = 1 AND tier = 'premium'",
    )
    premium = _tampered(warehouse_file, tmp_path, "SELECT 1")  # intact: for the count
    # Every row of the report's evaluation: both metrics of every ticket of the
    # sample's whole history up to October's end, not only the 12 months shown.
    manifest = json.loads(Path(warehouse_file[1]).read_text("utf-8"))
    (tickets,) = (
        connect(tmp_path / "w.duckdb")
        .execute("SELECT count(*) FROM tickets WHERE created_at < ?", [manifest["as_of"]])
        .fetchone()
    )
    assert premium.reproduced and premium.rows_checked == 2 * tickets
    assert len(result.differences) == 6
    assert result.differences[0].endswith("reopens: stored 1 vs re-derived 0")
    assert re.fullmatch(
        r"rows: [\d,]+ ticket/metric pairs differ in all \(5 shown\)", result.differences[-1]
    )


def test_rows_are_compared_in_little_memory(warehouse_file, tmp_path) -> None:
    # The row comparison once ran EXCEPT ALL over whole rows both ways: on a
    # 300,000-ticket warehouse 12.8 s and 1.7 GiB, twice the evaluation it
    # checks. Here 20,006 rows per side: that needed 96-128 MB, matching rows by
    # (ticket, metric) fits in well under 48 MB. Spilling is switched off so that
    # too much memory fails rather than going to disk.
    result = _tampered(
        warehouse_file,
        tmp_path,
        "UPDATE sla_results SET reopens = reopens + 1 "
        "WHERE evaluation_id = 1 AND ticket_id = 'T0001148' AND metric = 'resolution'",
    )
    assert result.differences == ("row T0001148 resolution: reopens: stored 1 vs re-derived 0",)
    con = connect(tmp_path / "w.duckdb")
    assert con.execute("SELECT count(*) FROM sla_results WHERE evaluation_id = 1").fetchone() == (
        20006,
    )
    # The verify's re-run keeps no rows: the same re-run, stored, to compare with.
    stored = con.execute("SELECT as_of, month_from, month_to FROM evaluations").fetchone()
    rerun = evaluate(con, as_of=stored[0], month_from=stored[1], month_to=stored[2])
    con.execute("SET memory_limit = '48MB'")
    con.execute("SET temp_directory = ''")
    assert _row_differences(con, 1, rerun.evaluation_id) == (
        "row T0001148 resolution: reopens: stored 1 vs re-derived 0",
    )


def test_a_duplicated_stored_row_is_found(warehouse_file, tmp_path) -> None:
    result = _tampered(
        warehouse_file,
        tmp_path,
        "INSERT INTO sla_results SELECT * FROM sla_results "
        "WHERE evaluation_id = 1 AND ticket_id = 'T0001148' AND metric = 'resolution'",
    )
    assert not result.reproduced
    assert result.differences == ("row T0001148 resolution: 1 stored, 0 re-derived rows",)


def test_an_edited_policy_document_is_named(warehouse_file, tmp_path) -> None:
    four = (
        "UPDATE evaluations SET policy_document = replace(policy_document, "
        '\'"premium": {"target_hours": 8\', \'"premium": {"target_hours": 4\')'
    )
    # Only the report's evaluation edited: an intact copy (of the run the
    # verification stores) stands in, and the edit still fails it.
    db, manifest = warehouse_file
    shutil.copy(db, tmp_path / "w.duckdb")
    con = connect(tmp_path / "w.duckdb")
    assert verify_manifest(con, manifest).reproduced
    con.execute(four + " WHERE evaluation_id = 1")
    result = verify_manifest(con, manifest)
    assert not result.reproduced
    assert result.differences == (
        "policy: the policy document stored with evaluation #1 no longer matches its hash "
        f"({json.loads(manifest.read_text())['policy_hash'][:12]}): it was changed after the "
        "evaluation",
    )
    assert "edited after it ran" in result.reasons[0]
    # No intact copy left: nothing can be re-derived, and the result says so.
    result = _tampered(warehouse_file, tmp_path, four)
    assert not result.reproduced and result.new_evaluation_id is None
    assert result.differences[0].startswith("policy: the policy document stored with evaluation #1")
    assert "cannot be re-derived" in result.reasons[0]


def test_an_edited_load_hash_is_not_called_new_data(warehouse_file, tmp_path) -> None:
    result = _tampered(
        warehouse_file, tmp_path, "UPDATE loads SET sha256 = 'ab' || sha256 WHERE load_id = 3"
    )
    assert result.reproduced  # the data and every row are unchanged
    assert len(result.reasons) == 1
    assert result.reasons[0].startswith(
        f"load #3 ({SAMPLE / 'events.csv'}) is on record with file hash ab2bc760d8cb, the "
        "evaluation read 2bc760d8cb6f: nothing new was loaded"
    )


def test_a_file_read_again_with_other_settings_is_new_input(tmp_path) -> None:
    """Found in review: the input fingerprint hashed file contents only, so reading
    tickets.csv again with an id prefix (every ticket id changed) kept it, the
    monthly report went on using the old evaluation and verify saw nothing new."""
    from pipeline.evaluate import current_input_fingerprint
    from pipeline.policy import Policy
    from pipeline.report_monthly import ensure_evaluation

    con = connect(":memory:")
    for name in ("customers", "tickets", "events"):
        load_file(con, SAMPLE / f"{name}.csv")
    before = current_input_fingerprint(con)
    load_file(con, SAMPLE / "tickets.csv")  # unchanged: reads nothing new
    assert current_input_fingerprint(con) == before
    written = write_monthly_report(con, MONTH, formats=("html",), out_dir=tmp_path / "before")
    path = written[-1]
    first = json.loads(path.read_text())["evaluation_id"]

    load_file(con, SAMPLE / "tickets.csv", id_prefix="X-")
    load_file(con, SAMPLE / "events.csv", id_prefix="X-")
    assert current_input_fingerprint(con) != before
    result = verify_manifest(con, path)
    assert not result.reproduced
    assert any(
        "files read again since the report: " in r
        and "tickets.csv (load #5: other settings than load #2 (id prefix))" in r
        for r in result.reasons
    )
    assert ensure_evaluation(con, MONTH, Policy.default()) != first


def test_a_report_whose_evaluation_was_pruned_is_verified_by_its_figures(
    fixture_warehouse, tmp_path
) -> None:
    """Its record (policy document, as-of, months) is kept, its rows are not: the
    figures are re-derived and compared, the rows cannot be, and that is said
    rather than every row reported missing."""
    from pipeline.retention import plan_prune, prune_evaluations

    con = fixture_warehouse
    path = write_monthly_report(con, MONTH, formats=("html",), out_dir=tmp_path / "r")[-1]
    (tmp_path / "none").mkdir()
    pruned = prune_evaluations(
        con,
        plan_prune(con, report_folders=[tmp_path / "none"], keep_latest=0),
        now=pd.Timestamp("2026-11-29T22:00Z"),
    )
    assert pruned.pruned == (1,)
    result = verify_manifest(con, path)
    assert result.reproduced, result.differences
    assert result.differences == () and result.reasons == ()
    assert result.rows_checked is None
    assert result.pruned_at == pd.Timestamp("2026-11-29T22:00Z")
    assert result.new_evaluation_id == 2
    # A ticket removed in place: a figure differs; the reason must not claim that
    # stored rows reproduced, there are none to compare.
    con.execute("DELETE FROM tickets WHERE ticket_id = 'T1'")
    changed = verify_manifest(con, path)
    assert not changed.reproduced
    assert not any(d.startswith(("row ", "rows:")) for d in changed.differences)
    assert len(changed.reasons) == 1
    assert changed.reasons[0].startswith(
        "same inputs, policy and package version, yet different figures: "
    )
