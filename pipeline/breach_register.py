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

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipeline.audit import evaluation_info, policy_of
from pipeline.errors import AuditError
from pipeline.evaluate import month_range
from pipeline.policy import Policy
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
# A carriage return: an XML reader turns it (and CR LF) into a line feed, which is
# what openpyxl's registers showed; xlsxwriter would escape it as _x000D_, which
# Excel decodes but openpyxl (and so pandas) shows as it is.
_CARRIAGE_RETURN = re.compile(r"\r\n?")
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


def tier_key(policy: Policy, given: str) -> str:
    """The policy's key of the tier `given` names: its key or its label, in any case
    ('Premium', as every report prints it, is `premium`). `AuditError` naming the
    known tiers, and the closest one, for anything else ('Premuim')."""
    names: dict[str, str] = {}
    for version in policy.versions:
        for key, spec in version.tiers.items():
            names.setdefault(key.casefold(), key)
            names.setdefault(spec.label.casefold(), key)
    wanted = given.strip().casefold()
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=1)
    hint = f"; did you mean {names[close[0]]!r}?" if close else ""
    known = ", ".join(sorted(set(names.values())))
    raise AuditError(f"unknown tier {given!r} (known: {known}){hint}")


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
    month_from, month_to = month_range(month_from, month_to, error=AuditError)
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
        tier = tier_key(policy, tier)
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


def _is_text(column: pd.Series) -> bool:
    return column.dtype == object or isinstance(column.dtype, pd.StringDtype)


# What `neutralise` treats as a formula, as one pattern: a formula character
# first, or one of =+-@ behind leading control characters and spaces.
_FORMULA = re.compile(r"[=+\-@\t\r]|[\x00-\x20]*[=+\-@]")


def _neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.StringDtype):
            # A regex over the column, not a call per cell: a register runs to a
            # million rows. The same rule as `neutralise` (the tests check that).
            formula = out[col].str.match(_FORMULA).fillna(value=False).to_numpy(dtype=bool)
            if formula.any():
                out.loc[formula, col] = "'" + out.loc[formula, col]
        elif out[col].dtype == object:
            out[col] = out[col].map(neutralise, na_action="ignore")
    return out


# XLSX's own limits: the text a cell holds (in UTF-16 code units, as Excel counts).
XLSX_MAX_TEXT = 32_767
_XLSX_DATETIME = "yyyy-mm-dd hh:mm:ss"
# Excel counts days from 1899-12-31 and (after Lotus 1-2-3) holds a 29 February
# 1900 that never was: serial numbers from 1 March 1900 on are one higher.
_EXCEL_EPOCH = pd.Timestamp("1899-12-31")
_EXCEL_LEAP_BUG_AFTER = 59
# A fixed creation time makes the file a function of its rows, like the CSV,
# HTML and Parquet forms; xlsxwriter gives every zip entry a fixed time itself
# (1980-01-31) and the mode of its own temporary files (0600, whatever the umask).
_XLSX_CREATED = dt.datetime(1980, 1, 1, tzinfo=dt.UTC)
# Rows turned into Python values at a time: memory stays bounded at a million rows.
_XLSX_CHUNK = 10_000


def _excel_serial(column: pd.Series) -> pd.Series:
    """Naive instants as Excel serial day numbers (NaN for NaT), computed as
    xlsxwriter's `write_datetime` does, a column at a time."""
    delta = column - _EXCEL_EPOCH
    days = delta.dt.days
    rest = delta - pd.to_timedelta(days, unit="D")
    serial = days + (rest.dt.seconds + rest.dt.microseconds / 1e6) / 86400
    return serial + (serial > _EXCEL_LEAP_BUG_AFTER)


def _check_cell_text(out: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Raises `AuditError` naming the sheet row, ticket and field of text in `out`
    (as written) longer than a cell holds: Excel refuses it, and xlsxwriter would
    cut it short without a word. `frame` (the register as given) names the ticket."""
    for col in out.columns:
        if not _is_text(out[col]):
            continue
        # Text of at most half the limit cannot exceed it in UTF-16 code units: a
        # column operation finds the few longer values, then only those are encoded.
        text = out[col].astype("string")
        long = text[(text.str.len() > XLSX_MAX_TEXT // 2).fillna(value=False).to_numpy(dtype=bool)]
        units = long.map(lambda v: len(v.encode("utf-16-le")) // 2)
        over = units[units > XLSX_MAX_TEXT]
        if len(over):
            row = over.index[0]
            where = f"row {out.index.get_loc(row) + 2}"
            if {"ticket_id", "metric"} <= set(frame.columns):
                where += f" (ticket {frame.at[row, 'ticket_id']}, {frame.at[row, 'metric']})"
            raise AuditError(
                f"{where}: field {col!r} is {over.iloc[0]:,} characters long as Excel counts "
                f"them, more than an XLSX cell holds ({XLSX_MAX_TEXT:,}; {len(over):,} such "
                "value(s) in all): write csv or parquet, which keep them whole"
            )


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """One sheet, `breaches`, its header row frozen: text as text cells (never
    a formula, a number or a link), numbers as numbers, naive instants as dates,
    a missing value as an empty cell.

    xlsxwriter in constant-memory mode, row after row: several times as fast as
    openpyxl (which built every cell through Python's XML library), and only one
    row of the sheet is held in memory."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    workbook.set_properties({"created": _XLSX_CREATED})
    sheet = workbook.add_worksheet("breaches")
    sheet.freeze_panes(1, 0)
    header = workbook.add_format({"bold": True})
    instant = workbook.add_format({"num_format": _XLSX_DATETIME})
    writers = []
    columns = []
    for number, col in enumerate(frame.columns):
        sheet.write_string(0, number, str(col), header)
        values = frame[col]
        if values.dtype.kind == "M":
            writers.append((sheet.write_number, instant))
            values = _excel_serial(values)
        elif values.dtype.kind == "b":
            writers.append((sheet.write_boolean, None))
        elif values.dtype.kind in "iuf":
            writers.append((sheet.write_number, None))
        elif isinstance(values.dtype, pd.StringDtype):
            writers.append((sheet.write_string, None))
        else:  # object: by each value's type (strings_to_* off, so text stays text)
            writers.append((sheet.write, None))
        columns.append(values.astype(object).where(values.notna(), None))
    for start in range(0, len(frame), _XLSX_CHUNK):
        chunk = [c.iloc[start : start + _XLSX_CHUNK].tolist() for c in columns]
        for at, row in enumerate(zip(*chunk, strict=True), start=start + 1):
            for number, value in enumerate(row):
                if value is not None:
                    write, style = writers[number]
                    write(at, number, value, style)
    workbook.close()


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
            if isinstance(out[col].dtype, pd.StringDtype):
                text = out[col].str.replace(_XLSX_ILLEGAL, "", regex=True)
                out[col] = text.str.replace(_CARRIAGE_RETURN, "\n", regex=True)
            elif out[col].dtype == object:
                out[col] = out[col].map(
                    lambda v: (
                        _CARRIAGE_RETURN.sub("\n", _XLSX_ILLEGAL.sub("", v))
                        if isinstance(v, str)
                        else v
                    ),
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
        _check_cell_text(out, frame)
        _write_xlsx(out, path)
    else:
        path.write_text(
            "<!DOCTYPE html><meta charset='utf-8'><title>Breach register</title>\n"
            + out.to_html(index=False, escape=True, na_rep=""),
            "utf-8",
        )
    return path
