"""The breach register: one row per breached ticket and metric, with everything
needed to check the judgement by hand, without this tool.

Each row carries the instants in UTC and in the report's local time, the
working seconds that were counted, paused and left out as reopen gaps, the
target and limit, the deadline, the calendar, the policy version and hash, the
evaluation id and its as-of instant (an open breach is measured up to it).

Exports open cleanly in Excel and pandas: ids stay text, instants keep their
zone where the format can hold one (CSV with offsets, Parquet tz-aware) and are
split into naive `*_utc` / `*_local` columns where it cannot (XLSX), and any
text cell a spreadsheet would read as a formula is neutralised.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipeline.audit import evaluation_info, policy_of
from pipeline.errors import AuditError
from pipeline.evaluate import valid_month
from pipeline.retention import require_stored

BREACH_STATUSES = ("breached", "open_breached")
# A spreadsheet reads a cell starting with one of these as a formula (or DDE call).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx", "parquet", "html")
INSTANTS = ("clock_start", "clock_stop", "deadline", "as_of")
# Rows an XLSX sheet holds, its header included (Excel's limit). pandas refuses only
# more data rows than this, so a register of exactly this many was written one row
# over, and a larger one failed with a traceback after the query.
XLSX_MAX_ROWS = 1_048_576
# Control characters that XLSX (XML 1.0) cannot hold at all.
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# What may precede a formula and still leave it one: control characters, spaces.
_LEADING_IGNORABLE = re.compile(r"^[\x00-\x20]+")


def _register_sql() -> str:
    # The order of columns is the order a reader checks them in: who, what, when, how much.
    return """
        SELECT r.evaluation_id, r.ticket_id, r.customer_id, r.tier, r.metric, r.status,
               r.priority, r.channel, t.subject, r.month, r.policy_version, r.policy_hash,
               r.calendar, r.clock_start, r.clock_stop, r.deadline, e.as_of,
               r.elapsed_working_seconds, r.paused_working_seconds, r.gap_working_seconds,
               r.target_seconds, r.limit_seconds, r.late_working_seconds, r.reopens
        FROM sla_results r
        JOIN evaluations e USING (evaluation_id)
        LEFT JOIN tickets t USING (ticket_id)
        WHERE r.evaluation_id = $evaluation_id
          AND r.month BETWEEN $month_from AND $month_to
          AND r.has_sla
          AND r.status IN ('breached', 'open_breached')
          AND ($tier IS NULL OR r.tier = $tier)
        ORDER BY r.month, r.ticket_id, r.metric
    """


def covering_evaluation(
    con: duckdb.DuckDBPyConnection,
    month_from: str,
    month_to: str,
    policy_hash: str | None = None,
) -> int:
    """The latest evaluation whose months cover [month_from, month_to] (one judged
    by the versions in force, not a forced one; made with `policy_hash` when given)
    and whose result rows are stored (not pruned); one made by `sla audit verify`
    (as of an old report's instant) only when no other covers them.
    Raises `AuditError` when none does."""
    rows = con.execute(
        "SELECT evaluation_id FROM evaluations WHERE forced_version IS NULL "
        "AND pruned_at IS NULL "
        "AND (month_from IS NULL OR month_from <= ?) AND (month_to IS NULL OR month_to >= ?) "
        "AND (? IS NULL OR policy_hash = ?) "
        "ORDER BY made_by IS NOT DISTINCT FROM 'verify', evaluation_id DESC LIMIT 1",
        [month_from, month_to, policy_hash, policy_hash],
    ).fetchall() or [(None,)]
    if rows[0][0] is None:
        under = "" if policy_hash is None else f" with policy {policy_hash[:12]}"
        raise AuditError(
            f"no evaluation{under} covers {month_from} to {month_to}: run "
            f"sla evaluate --from {month_from} --to {month_to} first, or pass --evaluation"
        )
    return int(rows[0][0])


def breach_register(
    con: duckdb.DuckDBPyConnection,
    *,
    month_from: str,
    month_to: str,
    tier: str | None = None,
    evaluation_id: int | None = None,
    policy_hash: str | None = None,
) -> pd.DataFrame:
    """One row per breached ticket and metric (status `breached` or
    `open_breached`, SLA tiers only) counting in months [month_from, month_to]
    of an evaluation (default: the latest that covers those months, made with
    `policy_hash` when given).

    Instants come twice: `*_utc` and `*_local` (the policy's report time zone),
    both tz-aware. Text is returned as loaded; `export_register` neutralises it
    for spreadsheets. Raises `AuditError` for a malformed or uncovered month
    range, an unknown evaluation or tier; `EvaluationError` for a malformed month."""
    month_from, month_to = valid_month(month_from, "--from"), valid_month(month_to, "--to")
    if month_from > month_to:
        raise AuditError(f"the months run backwards: from {month_from} to {month_to}")
    if evaluation_id is None:
        evaluation_id = covering_evaluation(con, month_from, month_to, policy_hash)
    info = evaluation_info(con, evaluation_id)
    require_stored(con, evaluation_id)
    covered_from, covered_to = info["month_from"], info["month_to"]
    if (covered_from and month_from < covered_from) or (covered_to and month_to > covered_to):
        raise AuditError(
            f"evaluation #{evaluation_id} covers {covered_from or 'all months'} to "
            f"{covered_to or 'now'}, not {month_from} to {month_to}: name one that covers "
            "them (sla evaluations list shows each run's months), or run sla evaluate "
            f"--from {month_from} --to {month_to} and name that"
        )
    policy = policy_of(info)
    # Nothing counts in a month after the as-of instant: an empty register there
    # would read as "no breaches" when the truth is "not judged".
    last_judged = (
        (pd.Timestamp(info["as_of"]) - pd.Timedelta(1, "ns"))
        .tz_convert(policy.report_timezone)
        .strftime("%Y-%m")
    )
    if month_to > last_judged:
        raise AuditError(
            f"evaluation #{evaluation_id} is as of {info['as_of']}: months after {last_judged} "
            f"are not judged in it; evaluate later data first (sla evaluate --to {month_to})"
        )
    if tier is not None:
        known = sorted({t for v in policy.versions for t in v.tiers})
        if tier not in known:
            raise AuditError(f"unknown tier {tier!r} (known: {', '.join(known)})")
    tz = policy.report_timezone
    frame = con.execute(
        _register_sql(),
        {
            "evaluation_id": evaluation_id,
            "month_from": month_from,
            "month_to": month_to,
            "tier": tier,
        },
    ).df()
    out = {}
    for col in frame.columns:
        if col in INSTANTS:
            utc = pd.to_datetime(frame[col], utc=True)
            out[f"{col}_utc"] = utc
            out[f"{col}_local"] = utc.dt.tz_convert(tz)
        else:
            out[col] = frame[col]
    register = pd.DataFrame(out)
    register.insert(register.columns.get_loc("clock_start_utc"), "report_timezone", tz)
    for col in ("ticket_id", "customer_id", "subject", "priority", "channel"):
        register[col] = register[col].astype("string")
    register.attrs["evaluation"] = {
        "evaluation_id": int(evaluation_id),
        "as_of": pd.Timestamp(info["as_of"]).tz_convert(tz).isoformat(),
        "policy_hash": info["policy_hash"],
        "policy_source": info["policy_source"],
    }
    return register


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading apostrophe (the
    OWASP advice for CSV injection); anything else is returned unchanged. Leading
    control characters and spaces are looked through: a reader may drop them (and
    the XLSX writer does, see _XLSX_ILLEGAL) and find the formula behind."""
    if isinstance(value, str) and (
        value.startswith(FORMULA_START)
        or _LEADING_IGNORABLE.sub("", value).startswith(FORMULA_START)
    ):
        return "'" + value
    return value


def _neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(neutralise, na_action="ignore")
    return out


# openpyxl stamps the workbook (docProps/core.xml) and every zip entry with the
# time of writing, so the same register written twice differed. A fixed stamp
# makes the file a function of its rows, like the CSV, HTML and Parquet forms.
_STAMP = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _make_stable(path: Path) -> None:
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = _STAMP.sub(rb"\g<1>1980-01-01T00:00:00Z\g<3>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, data)


def export_register(frame: pd.DataFrame, path: str | Path, fmt: str) -> Path:
    """Write the register as `fmt`:

    - csv: UTF-8 with a byte-order mark (so Excel reads accents), instants as ISO
      8601 with their offset, text neutralised;
    - xlsx: instants as naive cells, `*_utc` in UTC and `*_local` in the report
      zone (XLSX holds no zones), ids as text cells, text neutralised;
    - parquet: tz-aware instants, text exactly as loaded (no formula engine reads it);
    - html: one table, text escaped and neutralised (Excel can open HTML tables).

    Raises `AuditError` for an unknown format, and for xlsx with more rows than a
    sheet holds (XLSX_MAX_ROWS)."""
    path = Path(path)
    if fmt not in FORMATS:
        raise AuditError(f"unknown format {fmt!r}: {', '.join(FORMATS)}")
    if fmt == "xlsx" and len(frame) + 1 > XLSX_MAX_ROWS:
        raise AuditError(
            f"{len(frame):,} breaches do not fit in an XLSX sheet ({XLSX_MAX_ROWS - 1:,} rows "
            "below its header): write csv or parquet, or take fewer months or one --tier"
        )
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
        return path
    out = frame.copy()
    if fmt == "xlsx":
        # Stripped before neutralising: stripped after, "\x01=1" became a formula.
        for col in out.columns:
            if isinstance(out[col].dtype, pd.StringDtype) or out[col].dtype == object:
                out[col] = out[col].map(
                    lambda v: _XLSX_ILLEGAL.sub("", v) if isinstance(v, str) else v,
                    na_action="ignore",
                )
    out = _neutralised(out)
    instants = [c for c in out.columns if isinstance(out[c].dtype, pd.DatetimeTZDtype)]
    if fmt == "csv":
        for col in instants:
            out[col] = out[col].map(lambda v: v.isoformat(), na_action="ignore")
        # CRLF rows (RFC 4180): a value holding a bare CR is then quoted too, so no
        # reader splits its row there.
        out.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    elif fmt == "xlsx":
        for col in instants:
            out[col] = out[col].dt.tz_localize(None)
        # Named, not left to pandas: with xlsxwriter installed pandas picks it, which
        # turns text that looks like a URL into a link (and stops at 65,530 of them).
        out.to_excel(
            path, index=False, sheet_name="breaches", freeze_panes=(1, 0), engine="openpyxl"
        )
        _make_stable(path)
    else:
        path.write_text(
            "<!DOCTYPE html><meta charset='utf-8'><title>Breach register</title>\n"
            + out.to_html(index=False, escape=True, na_rep=""),
            "utf-8",
        )
    return path
