"""Verification of a rendered report against the warehouse (`sla audit verify`).

Every rendered report writes a manifest beside it (`report_monthly.write_manifest`,
format in docs/manifest.md): the evaluation it rests on, that evaluation's
policy hash and as-of instant, the input files' hashes and a hash of every
figure it shows. Verification re-evaluates from the warehouse under the same
policy document (read back from the evaluation that used that hash) and the
same as-of instant, rebuilds the report's figures and compares them hash by
hash, and compares the stored result rows the report was read from with the
re-run's, row by row. When something differs it says what (field by field for
the monthly report, whose figures.csv lies beside its manifest, and for each
differing row) and looks for why: new data loaded since, loaded or stored rows
edited in place, an edited policy document, a different policy, another package
version, or a manifest that comes from another warehouse altogether.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from pipeline import __version__
from pipeline.errors import AuditError, EvaluationError, PolicyError
from pipeline.load import sha256_of
from pipeline.policy import Policy
from pipeline.retention import discard_rows
from pipeline.warehouse import query

if TYPE_CHECKING:
    from pipeline.report_monthly import MonthlyData


@dataclass(frozen=True)
class Verification:
    reproduced: bool
    differences: tuple[str, ...]  # "<figure>: changed (field a -> b, ...)"
    reasons: tuple[str, ...]  # why figures may differ (empty when nothing points to a cause)
    new_evaluation_id: int | None
    figures_checked: int
    # Rendered documents named in the manifest and found beside it, each matching
    # the hash it was rendered with (a changed one is listed in `differences`).
    documents_checked: tuple[str, ...] = ()
    documents_absent: tuple[str, ...] = ()  # named in the manifest, not beside it
    # Stored result rows of the report's evaluation compared with the re-run's
    # (None: that evaluation is not in this warehouse, or was pruned: nothing compared).
    rows_checked: int | None = None
    # When the report's evaluation was pruned (`sla evaluations prune`): its record
    # is kept, its rows are gone, so only the figures can be re-derived and compared.
    pruned_at: pd.Timestamp | None = None
    # Every one of those rows reproduced (None: none compared).
    rows_reproduced: bool | None = None
    # Rows of the monthly report's breach lists (breaches.csv) re-derived from the
    # re-run and found as rendered (None: not compared, the manifest names no
    # breaches.csv, or they differ and `differences` says how).
    breach_rows_checked: int | None = None


SEAL = "manifest_sha256"
REPORT_KINDS = ("monthly", "tiers", "customer")


def seal(manifest: dict[str, Any]) -> str:
    """The hash of a manifest's content (every field but the seal itself), as JSON
    with sorted keys: a manifest whose seal does not match was changed after it
    was written. Not a signature (anyone can re-seal), but it tells an edit apart
    from a manifest made in another warehouse."""
    content = {k: v for k, v in manifest.items() if k != SEAL}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise AuditError(f"no such manifest: {path}") from None
    except IsADirectoryError:
        raise AuditError(f"{path} is a folder, not a manifest") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AuditError(f"{path} is not a manifest (invalid JSON: {exc})") from None
    except (RecursionError, ValueError) as exc:  # nested too deep, a number too long
        raise AuditError(f"{path} is not a manifest (unreadable JSON: {exc})") from None
    if not isinstance(manifest, dict):
        raise AuditError(f"{path} is not a report manifest (not a JSON object)")
    missing = [
        k for k in ("policy_hash", "as_of", "input_fingerprint", "figures") if k not in manifest
    ]
    if missing:
        raise AuditError(f"{path} is not a report manifest (missing {', '.join(missing)})")
    kind = manifest.get("report", "monthly")
    if not isinstance(kind, str) or kind not in REPORT_KINDS:
        raise AuditError(
            f"{path} is not a report manifest as written: field 'report' must be one of "
            f"{', '.join(REPORT_KINDS)}, not {json.dumps(kind)}"
        )
    needed = {"monthly": ("month",), "tiers": ("month_from", "month_to")}.get(
        kind, ("month_from", "month_to", "customer_id")
    )

    def text(value: Any) -> bool:
        return isinstance(value, str)

    def hashes(value: Any) -> bool:
        return isinstance(value, dict) and all(map(text, value.values()))

    def instant(value: Any) -> bool:
        try:
            return text(value) and pd.Timestamp(value).as_unit("ns").tzinfo is not None
        except (ValueError, TypeError, OverflowError):  # OutOfBoundsDatetime is a ValueError
            return False

    def documents(value: Any) -> bool:
        # Plain file names beside the manifest: nothing to look for elsewhere.
        return hashes(value) and all(
            name and name == Path(name).name and name not in (".", "..") for name in value
        )

    checks = [
        ("as_of", instant(manifest["as_of"]), "an instant with its UTC offset"),
        *((key, text(manifest.get(key)), "text") for key in needed),
        *((key, text(manifest[key]), "text") for key in ("policy_hash", "input_fingerprint")),
        ("figures", hashes(manifest["figures"]), "an object of hashes"),
        (
            "documents",
            documents(manifest.get("documents", {})),
            "an object of hashes by plain file name",
        ),
        (
            "evaluation_id",
            type(manifest.get("evaluation_id", 0)) is int,
            "a whole number",
        ),
        (
            "inputs",
            isinstance(manifest.get("inputs", []), list)
            and all(
                isinstance(i, dict) and text(i.get("sha256")) for i in manifest.get("inputs", [])
            ),
            "a list of {path, sha256}",
        ),
        (
            "policy_versions",
            isinstance(manifest.get("policy_versions", []), list)
            and all(map(text, manifest.get("policy_versions", []))),
            "a list of version names",
        ),
        (SEAL, text(manifest.get(SEAL, "")), "text"),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise AuditError(
                f"{path} is not a report manifest as written: field {key!r} must be "
                f"{expected}, not {json.dumps(manifest.get(key))}"
            )
    return manifest


def verify_manifest(con: duckdb.DuckDBPyConnection, manifest_path: str | Path) -> Verification:
    """Re-evaluate from the warehouse under the manifest's policy and as-of
    instant, and compare every figure with the manifest's.

    Raises `AuditError` for a missing or malformed manifest, or one from another
    warehouse (none of its inputs loaded here, or its policy never run here)."""
    from pipeline.evaluate import current_input_fingerprint, evaluate, valid_month
    from pipeline.report_monthly import (
        _figure_hash,
        _months_back,
        build_context,
        data_months,
        figures_csv,
        monthly_data,
    )
    from pipeline.report_sales import (
        build_customer_context,
        build_tiers_context,
        sales_figures,
    )

    path = Path(manifest_path)
    manifest = _read_manifest(path)
    loads = con.execute(
        "SELECT sha256, path FROM loads WHERE finished_at IS NOT NULL AND NOT unchanged"
    ).fetchall()
    known_here = {sha for sha, _ in loads}
    inputs = manifest.get("inputs", [])
    if inputs and not any(i.get("sha256") in known_here for i in inputs):
        raise AuditError(
            f"{path}: none of the report's input files were loaded into this warehouse: the "
            "manifest comes from another warehouse (pass --db to point at the right one)"
        )
    policy, edited = _stored_policy(con, manifest["policy_hash"], manifest.get("evaluation_id"))
    if not edited and policy is None:
        raise AuditError(
            f"{path}: no evaluation in this warehouse used policy "
            f"{str(manifest['policy_hash'])[:12]}: the manifest comes from another "
            "warehouse, or its policy was never run here"
        )
    policy_edited = [
        f"policy: the policy document stored with evaluation #{eid} no longer matches its "
        f"hash ({str(manifest['policy_hash'])[:12]}): it was changed after the evaluation"
        for eid in edited
    ]
    if policy is None:
        # Re-running under an edited policy would only measure the edit.
        return Verification(
            reproduced=False,
            differences=tuple(policy_edited),
            reasons=(
                "the stored policy document is not the policy the report was made under, "
                "and no other evaluation here keeps an intact copy: the report cannot be "
                "re-derived (keep the policy file, or restore the evaluations row)",
            ),
            new_evaluation_id=None,
            figures_checked=0,
        )

    reasons = []
    original = con.execute(
        "SELECT policy_hash, as_of, month_from, month_to, input_loads, pruned_at "
        "FROM evaluations WHERE evaluation_id = ?",
        [manifest.get("evaluation_id")],
    ).fetchall()
    inconsistent, foreign = _disagreements(manifest, original[0][:4] if original else None)
    # The report's own evaluation, when this warehouse holds it: its stored rows are
    # what the report was read from, and the loads it read are on record with it.
    own = original[0] if original and not foreign else None
    # A pruned run keeps its record (policy, as-of, months, inputs) but not its rows:
    # compared with the re-run, every row would read as missing.
    pruned_at = pd.Timestamp(own[5]).tz_convert("UTC") if own and own[5] is not None else None
    if current_input_fingerprint(con) != manifest["input_fingerprint"]:
        reasons += _loads_changed(con, inputs, json.loads(own[4]) if own else None)
    # What the manifest states beside its figures and does not hold: any of it fails.
    stated: list[str] = list(policy_edited)
    if policy_edited:
        reasons.append(
            "the policy document stored with the report's evaluation was edited after it "
            "ran (its policy_hash was kept): the re-run used an intact copy kept with another "
            "evaluation of the same hash"
        )
    if SEAL not in manifest:
        stated.append("manifest: it has no seal, so an edit cannot be told apart")
        reasons += inconsistent + foreign
        reasons.append(
            f"a manifest carries {SEAL} since version 0.2.0 (written before, or the seal "
            "was removed): render the report again to verify it"
        )
    elif seal(manifest) != manifest[SEAL]:
        stated.append("manifest: changed after it was written (its seal does not match)")
        reasons += inconsistent + foreign
        reasons.append(
            f"the manifest's content is not what was written ({SEAL} differs): it was edited"
        )
    else:
        # A manifest at odds with itself was edited and sealed again: no warehouse
        # writes one.
        stated += [f"manifest: {fact}" for fact in inconsistent]
        if inconsistent:
            reasons.append("the manifest was edited and sealed again")
        if foreign:
            # As written, yet not this warehouse's evaluation: made elsewhere from
            # the same inputs (the figures decide whether it reproduces).
            reasons += foreign
            reasons.append(
                "the manifest is as written (its seal matches): it was made in another "
                "warehouse holding the same inputs"
            )

    kind = manifest.get("report", "monthly")
    month = manifest.get("month")
    try:
        if kind == "monthly":
            # As the report's own evaluation ran (report_monthly.ensure_evaluation):
            # from the data's first month, so that the breach lists re-derived hold
            # the tickets still open past a limit that passed before the 12 months.
            first = _months_back(valid_month(month), 12)[0]
            first, last = min(data_months(con, policy.report_timezone)[0] or first, first), month
        else:  # tiers or customer (_read_manifest refused any other kind)
            first, last = (
                valid_month(manifest.get("month_from")),
                valid_month(manifest.get("month_to")),
            )
    except EvaluationError as exc:
        raise AuditError(f"{path}: not a report manifest as written: {exc}") from None
    # Over the months of the report's own evaluation (a sales report may rest on a
    # wider one), so that its stored rows and the re-run's can be compared one by one.
    covered = (own[2], own[3]) if own else (first, last)
    run = evaluate(
        con,
        policy,
        month_from=covered[0],
        month_to=covered[1],
        as_of=manifest["as_of"],
        made_by="verify",
    )
    try:
        row_differences: tuple[str, ...] = ()
        if own is not None and pruned_at is None:
            row_differences = _row_differences(con, manifest["evaluation_id"], run.evaluation_id)
        if manifest.get("package_version") not in (None, __version__):
            made_by = (
                f"the report was made by version {manifest['package_version']}, "
                f"this is {__version__}"
            )
            if own is not None and pruned_at is None and not row_differences:
                # Its judgements reproduce: only how figures are drawn from them or
                # hashed can have changed between the versions.
                reasons.append(
                    f"{made_by}: every stored row reproduces, so what differs is how that "
                    "version made or hashed the report's figures"
                )
            else:
                reasons.append(f"{made_by}: the evaluation code changed")
        details: dict[str, str] = {}
        extra = ""
        breach_differences: tuple[str, ...] = ()
        breach_rows: int | None = None
        if kind == "monthly":
            data = monthly_data(con, month, policy=policy, evaluation_id=run.evaluation_id)
            context = build_context(con, month, policy=policy, data=data)
            breach_differences, breach_rows = _breach_list_differences(
                con, path.parent, manifest, data, policy.report_timezone
            )
            now = {f"{c.tier}/{c.metric}": _figure_hash(c) for c in context.cells}
            now_csv = figures_csv(context)
            details, added = _csv_details(path.parent / "figures.csv", manifest, now_csv)
            extra = ", ".join(added)
            named = manifest.get("policy_versions")
            if named is not None and list(named) != list(context.policy_versions):
                stated.append(
                    f"policy_versions: the manifest names {', '.join(map(str, named)) or 'none'}, "
                    f"the policy has {', '.join(context.policy_versions)} in force in {month}"
                )
                reasons.append(
                    "the versions in force follow from the policy and the month alone: the "
                    "manifest was edited"
                )
        elif kind == "tiers":
            now = sales_figures(
                build_tiers_context(
                    con, first, last, policy=policy, evaluation_id=run.evaluation_id
                )
            )
        else:
            now = sales_figures(
                build_customer_context(
                    con,
                    manifest["customer_id"],
                    first,
                    last,
                    policy=policy,
                    evaluation_id=run.evaluation_id,
                )
            )
        before = manifest["figures"]

        def what(key: str) -> str:
            if key not in now:
                return "missing now"
            if key not in before:
                return "missing in the manifest"
            if details.get(key) == "":
                # The values agree: what differs is how the hash was made (a report
                # of another version hashes other fields of the figure).
                return "its hash differs, but every value figures.csv holds for it reproduces" + (
                    f" (the hash now also covers {extra})" if extra else ""
                )
            return "changed" + (f" ({details[key]})" if details.get(key) else "")

        figure_differences = tuple(
            f"{key}: {what(key)}"
            for key in sorted(set(now) | set(before))
            if now.get(key) != before.get(key)
        )
        if row_differences and kind == "monthly":
            # Checked before the other causes: loading data never changes stored rows, so
            # stored rows that no longer give what the report showed were edited, even
            # when data was loaded since (which alone would explain the row differences).
            reasons += _stored_rows_edited(
                con, path.parent, manifest, policy, int(manifest["evaluation_id"])
            )
        if row_differences and not reasons:
            reasons.append(
                f"the stored rows of evaluation #{manifest['evaluation_id']} are not what the "
                "warehouse gives now, though no data was loaded since: either those stored "
                "results (sla_results) were edited, or loaded rows (tickets, ticket_events, "
                "plan_history) were changed in place after loading (a load records its file's "
                "hash, not its rows). The differing rows name the tickets to look at"
            )
        elif breach_differences and not figure_differences and not reasons:
            reasons.append(
                f"every figure{' and stored row' if own is not None else ''} reproduces, yet "
                "the breach list does not: a ticket field the list shows and no result row "
                "holds (its subject) was changed in the warehouse (tickets) since the report, "
                "or stored rows were rewritten together with the loaded data, or the manifest's "
                "hash of breaches.csv was edited and sealed again"
            )
        elif figure_differences and not reasons:
            reasons.append(
                (
                    f"every stored row of evaluation #{manifest['evaluation_id']} reproduces, "
                    "yet a figure differs: "
                    if own is not None and pruned_at is None
                    else "same inputs, policy and package version, yet different figures: "
                )
                + "either the manifest was edited and sealed again (a figure's hash, or what "
                "the report covers: its months or customer), or the evaluation did not "
                "reproduce (a bug: please report it with this manifest)"
            )
        if (
            kind == "monthly"
            and manifest.get("figures_csv_sha256")
            and hashlib.sha256(now_csv.encode()).hexdigest() != manifest["figures_csv_sha256"]
            and not figure_differences
        ):
            figure_differences = (
                "figures.csv: the manifest's hash is not that of the figures re-derived",
            )
            reasons.append(
                "every figure reproduced, but not the figures.csv hash the manifest names: the "
                "manifest was edited (or figures.csv was rendered from other numbers)"
            )
        differences = tuple(stated) + figure_differences + row_differences + breach_differences
        checked, absent, altered = _check_documents(path.parent, manifest)
        if altered:
            differences += tuple(
                f"document {name}: changed since it was rendered" for name in altered
            )
            reasons.append(
                "a document beside the manifest is not the file rendered with it: rendering is "
                "byte-stable, so it was changed afterwards (or belongs to another rendering)"
            )
        return Verification(
            not differences,
            differences,
            tuple(reasons),
            run.evaluation_id,
            len(set(now) | set(before)),
            checked,
            absent,
            None
            if own is None or pruned_at is not None
            else _row_count(con, manifest["evaluation_id"]),
            pruned_at,
            None if own is None or pruned_at is not None else not row_differences,
            None if breach_differences else breach_rows,
        )
    finally:
        # Compared, the re-run's rows have served: kept, every verify added a whole
        # evaluation to the warehouse (2 million rows at a million tickets).
        discard_rows(con, run.evaluation_id)


# Newest first would do as well: the manifest's own evaluation is the one that
# matters, any other with the same hash only stands in when that one was edited.
POLICY_DOCUMENTS_SQL = """
SELECT evaluation_id, policy_document
FROM evaluations
WHERE policy_hash = $policy_hash
ORDER BY evaluation_id IS DISTINCT FROM $evaluation_id, evaluation_id
"""
# Pairs of (ticket, metric) shown when stored and re-derived rows differ.
ROWS_SHOWN = 5


def _stored_policy(
    con: duckdb.DuckDBPyConnection, policy_hash: str, evaluation_id: int | None
) -> tuple[Policy | None, list[int]]:
    """The policy stored with an evaluation that used `policy_hash` (the manifest's
    own evaluation first) whose document still hashes to it, and the evaluations
    met on the way whose document does not (edited after they ran)."""
    rows = con.execute(
        POLICY_DOCUMENTS_SQL, {"policy_hash": policy_hash, "evaluation_id": evaluation_id}
    ).fetchall()
    edited = []
    for eid, document in rows:
        try:
            policy = Policy.from_dict(json.loads(document), source=f"evaluation #{eid}")
        except (ValueError, PolicyError):  # not JSON, or not a policy any more
            policy = None
        if policy is not None and policy.hash == policy_hash:
            return policy, edited
        edited.append(int(eid))
    return None, edited


def _loads_changed(
    con: duckdb.DuckDBPyConnection, inputs: list[dict], read: list[dict] | None
) -> list[str]:
    """Why the warehouse's input fingerprint is not the report's: loads added since,
    loads gone, or a load on record with another file hash than the evaluation read
    (`read`: the evaluation's own input_loads; else the manifest's inputs)."""
    on_record = con.execute(
        "SELECT load_id, sha256, path, unchanged, read_again FROM loads "
        "WHERE finished_at IS NOT NULL ORDER BY load_id"
    ).fetchall()
    # A load that found its file unchanged read nothing new.
    now = [(lid, sha, p) for lid, sha, p, unchanged, _ in on_record if not unchanged]
    why = {lid: reason for lid, _, _, _, reason in on_record}
    if read is None:
        before = {i.get("sha256") for i in inputs}
        new = sorted({p for _, sha, p in now if sha not in before})
        return [
            "new data loaded since the report: " + ", ".join(new)
            if new
            else "the loaded inputs differ from the report's (a file it used is gone)"
        ]
    then = {load["load_id"]: load for load in read}
    hashes_then = {load["sha256"] for load in read}
    out = []
    altered = [
        f"load #{lid} ({p}) is on record with file hash {sha[:12]}, the evaluation read "
        f"{then[lid]['sha256'][:12]}"
        for lid, sha, p in now
        if lid in then and then[lid]["sha256"] != sha
    ]
    if altered:
        out.append(
            "; ".join(altered) + ": nothing new was loaded, the loads table was edited "
            "(whether the loaded rows changed too, the result rows compared tell)"
        )
    recorded = {lid for lid, *_ in on_record}
    gone = [f"load #{lid} ({load['path']})" for lid, load in then.items() if lid not in recorded]
    if gone:
        out.append(f"loads the evaluation read are no longer on record: {', '.join(gone)}")
    new = sorted({p for lid, sha, p in now if lid not in then and sha not in hashes_then})
    if new:
        out.append("new data loaded since the report: " + ", ".join(new))
    # Each with why it was read again (recorded since reader versions were; an
    # older load read again for other settings or for rows it could now accept).
    again = [
        f"{p} (load #{lid}: {why[lid] or 'other settings, or rows it rejected now accepted'})"
        for lid, sha, p in now
        if lid not in then and sha in hashes_then
    ]
    if again:
        out.append("files read again since the report: " + ", ".join(again))
    return out


def _row_count(con: duckdb.DuckDBPyConnection, evaluation_id: int) -> int:
    return con.execute(
        "SELECT count(*) FROM sla_results WHERE evaluation_id = ?", [evaluation_id]
    ).fetchall()[0][0]


def _row_differences(con: duckdb.DuckDBPyConnection, stored: int, rerun: int) -> tuple[str, ...]:
    """The report's evaluation's stored rows against the re-run's (verify_rows.sql):
    for the first few differing (ticket, metric) pairs the fields that differ,
    stored vs re-derived, then how many pairs differ in all."""
    frame = query(
        con, "verify_rows.sql", {"stored": stored, "rerun": rerun, "shown": ROWS_SHOWN}
    ).df()
    if frame.empty:
        return ()
    total = int(frame["differing"].iloc[0])
    fields = [c for c in frame.columns if c not in ("differing", "side", "ticket_id", "metric")]
    out = []
    for (ticket, metric), pair in frame.groupby(["ticket_id", "metric"], sort=True):
        sides = pair.groupby("side").size().to_dict()
        if sides != {"stored": 1, "re-derived": 1}:
            counts = ", ".join(f"{sides.get(k, 0)} {k}" for k in ("stored", "re-derived"))
            out.append(f"row {ticket} {metric}: {counts} rows")
            continue
        old = pair[pair["side"] == "stored"].iloc[0]
        new = pair[pair["side"] == "re-derived"].iloc[0]
        changed = [
            f"{f}: stored {_shown(old[f])} vs re-derived {_shown(new[f])}"
            for f in fields
            if not _same(old[f], new[f])
        ]
        out.append(f"row {ticket} {metric}: {'; '.join(changed)}")
    if total > len(out):
        out.append(f"rows: {total:,} ticket/metric pairs differ in all ({len(out)} shown)")
    return tuple(out)


def _breach_list_differences(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    manifest: dict[str, Any],
    data: MonthlyData,
    tz: str,
) -> tuple[tuple[str, ...], int | None]:
    """The monthly report's breach lists re-derived from the re-run (`data`, its
    month's rows) and compared with the `breaches.csv` the manifest names: by its
    hash, and when they differ row by row against the file beside the manifest if
    it is the one rendered. Returns the differences and the rows re-derived (None:
    the manifest names no breaches.csv, written before it was)."""
    from pipeline.report_monthly import BREACHES_CSV, write_breach_lists

    named = manifest.get("documents", {}).get(BREACHES_CSV)
    if not named:
        return (), None
    with tempfile.TemporaryDirectory() as tmp:
        rederived = write_breach_lists(
            con, data.evaluation_id, data.month, tz, Path(tmp) / BREACHES_CSV, rows=data.breaches
        ).read_bytes()
    now = _breach_list_rows(rederived)
    if hashlib.sha256(rederived).hexdigest() == named:
        return (), len(now)
    rendered = folder / BREACHES_CSV
    if not rendered.is_file() or sha256_of(rendered) != named:
        return (
            f"{BREACHES_CSV}: the breach lists re-derived are not the ones rendered (not the "
            f"hash the manifest names; the rendered {BREACHES_CSV} is not beside the manifest "
            "as rendered, so the differing rows cannot be named)",
        ), len(now)
    before = _breach_list_rows(rendered.read_bytes())
    if sorted(tuple(r.items()) for r in before) == sorted(tuple(r.items()) for r in now):
        return (f"{BREACHES_CSV}: the same rows re-derived, in another order",), len(now)
    header = list(before[0].keys()) if before else list(now[0].keys())
    fields = [f for f in header if f not in ("list", "ticket_id", "metric")]

    def keyed(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], list[dict[str, str]]]:
        out: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
        for row in rows:
            out[(row["ticket_id"], row["metric"], row["list"])].append(row)
        return out

    old, new = keyed(before), keyed(now)
    differing = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    out = []
    for ticket, metric, listed in differing[:ROWS_SHOWN]:
        was, is_now = old.get((ticket, metric, listed), []), new.get((ticket, metric, listed), [])
        where = f"{BREACHES_CSV} row {ticket} {metric} ({listed})"
        if len(was) != 1 or len(is_now) != 1:
            out.append(f"{where}: {len(was)} rendered, {len(is_now)} re-derived rows")
            continue
        changed = [
            f"{f}: rendered {was[0][f] or '-'} vs re-derived {is_now[0][f] or '-'}"
            for f in fields
            if was[0][f] != is_now[0][f]
        ]
        out.append(f"{where}: {'; '.join(changed)}")
    if len(differing) > len(out):
        out.append(f"{BREACHES_CSV}: {len(differing):,} rows differ in all ({len(out)} shown)")
    return tuple(out), len(now)


def _stored_rows_edited(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    manifest: dict[str, Any],
    policy: Policy,
    evaluation_id: int,
) -> list[str]:
    """Evidence that the stored rows of the report's own evaluation were edited after
    the report was rendered: its figures rebuilt from those rows are not the manifest's,
    or its breach lists written from them are not the rendered breaches.csv (when that
    file is beside the manifest as rendered; compared without the subject, which comes
    from the tickets as loaded now). Empty when nothing shows it."""
    from pipeline.report_monthly import (
        BREACHES_CSV,
        _figure_hash,
        build_context,
        monthly_data,
        write_breach_lists,
    )

    month = manifest["month"]
    data = monthly_data(con, month, policy=policy, evaluation_id=evaluation_id)
    context = build_context(con, month, policy=policy, data=data)
    figures = {f"{c.tier}/{c.metric}": _figure_hash(c) for c in context.cells}
    evidence = [key for key in sorted(figures) if manifest["figures"].get(key) != figures[key]]
    rendered = folder / BREACHES_CSV
    named = manifest.get("documents", {}).get(BREACHES_CSV)
    if named and rendered.is_file() and sha256_of(rendered) == named:
        with tempfile.TemporaryDirectory() as tmp:
            stored = write_breach_lists(
                con,
                evaluation_id,
                month,
                policy.report_timezone,
                Path(tmp) / BREACHES_CSV,
                rows=data.breaches,
            ).read_bytes()

        def rows(content: bytes) -> list[tuple]:
            return sorted(
                tuple(v for k, v in row.items() if k != "subject")
                for row in _breach_list_rows(content)
            )

        was, now = rows(rendered.read_bytes()), rows(stored)
        if was != now:
            tickets = sorted({row[1] for row in set(was) ^ set(now)})
            shown = ", ".join(tickets[:ROWS_SHOWN]) + (", ..." if len(tickets) > ROWS_SHOWN else "")
            evidence.append(f"{BREACHES_CSV} rows of {shown}")
    if not evidence:
        return []
    return [
        f"the stored rows of evaluation #{evaluation_id} no longer give what the report "
        f"showed ({'; '.join(evidence)}): they were edited after it was rendered (loading "
        "data never changes the stored rows of an evaluation)"
    ]


def _breach_list_rows(content: bytes) -> list[dict[str, str]]:
    # As export_register writes it: UTF-8 with a byte-order mark, CRLF rows.
    text = content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _same(a: Any, b: Any) -> bool:
    if pd.isna(a) or pd.isna(b):
        return bool(pd.isna(a) and pd.isna(b))
    return bool(a == b)


def _shown(value: Any) -> str:
    if pd.isna(value):
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").isoformat()
    return str(value)


def _disagreements(manifest: dict[str, Any], original: tuple | None) -> tuple[list[str], list[str]]:
    """Where the manifest's parts disagree with each other, and where it disagrees
    with the evaluation of its id in this warehouse (facts only: the caller says
    what they mean)."""
    from pipeline.evaluate import input_fingerprint

    inconsistent, out = [], []
    eid = manifest.get("evaluation_id")
    inputs = manifest.get("inputs", [])
    if inputs and input_fingerprint(inputs) != manifest["input_fingerprint"]:
        inconsistent.append("the manifest's inputs do not give its input_fingerprint")
    if original is None:
        out.append(f"there is no evaluation #{eid} in this warehouse")
        return inconsistent, out
    policy_hash, as_of, covered_from, covered_to = original
    if policy_hash != manifest["policy_hash"]:
        out.append(
            f"evaluation #{eid} here used policy {policy_hash[:12]}, the manifest names "
            f"{manifest['policy_hash'][:12]}"
        )
    try:
        same_as_of = pd.Timestamp(manifest["as_of"]) == pd.Timestamp(as_of)
    except (ValueError, TypeError):
        same_as_of = False
    if not same_as_of:
        out.append(
            f"evaluation #{eid} here was as of {pd.Timestamp(as_of).isoformat()}, the "
            f"manifest says {manifest['as_of']}"
        )
    # A monthly report's evaluation ends with its month; a sales report may reuse
    # one that covers a wider range (report_sales.range_evaluation).
    if manifest.get("month") is not None:
        first = last = manifest["month"]
        fits = covered_to == last
    else:
        first, last = manifest.get("month_from"), manifest.get("month_to")
        fits = (covered_from is None or first is None or covered_from <= first) and (
            covered_to is None or last is None or covered_to >= last
        )
    if not fits:
        out.append(
            f"evaluation #{eid} here covers {covered_from or 'all months'} to "
            f"{covered_to or 'now'}, the manifest's report is of {first} to {last}"
        )
    return inconsistent, out


def _check_documents(
    folder: Path, manifest: dict[str, Any]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(intact, absent, altered) names among the rendered documents the manifest
    lists (manifests written before documents were hashed list none)."""
    intact, absent, altered = [], [], []
    documents = dict(manifest.get("documents", {}))
    # figures.csv is what a reader re-uses the report's numbers from: as much a
    # rendered document as the HTML, hashed in the manifest under its own key.
    if manifest.get("figures_csv_sha256"):
        documents["figures.csv"] = manifest["figures_csv_sha256"]
    for name, sha in sorted(documents.items()):
        doc = folder / name
        if not doc.is_file():
            absent.append(name)
        elif sha256_of(doc) == sha:
            intact.append(name)
        else:
            altered.append(name)
    return tuple(intact), tuple(absent), tuple(altered)


def _csv_details(
    path: Path, manifest: dict[str, Any], now_csv: str
) -> tuple[dict[str, str], list[str]]:
    """Field-by-field changes per figure, from the figures.csv written with the
    report (only when it is the very file the manifest names): "" for a figure
    whose every value there reproduces. Also the fields figures.csv has now and
    that file lacks (a report of an older version wrote fewer)."""
    try:
        text = path.read_text("utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return {}, []  # absent, or not the file written (the document check says so)
    if hashlib.sha256(text.encode()).hexdigest() != manifest.get("figures_csv_sha256"):
        return {}, []

    def rows(content: str) -> dict[str, dict[str, str]]:
        return {f"{r['tier']}/{r['metric']}": r for r in csv.DictReader(io.StringIO(content))}

    old, new = rows(text), rows(now_csv)
    out = {}
    for key in old.keys() & new.keys():
        out[key] = ", ".join(
            f"{field} {old[key][field] or '-'} -> {new[key].get(field) or '-'}"
            for field in old[key]
            if old[key][field] != new[key].get(field)
        )
    then = next(csv.reader(io.StringIO(text)), [])
    return out, [f for f in next(csv.reader(io.StringIO(now_csv)), []) if f not in then]
