"""Loading export files into the warehouse: staged, checked in SQL, merged, in
one transaction per file, losing nothing.

A file is first staged as text (`raw`: the canonical columns, its line number
and the raw row as JSON). SQL then parses and checks every row
(`pipeline/sql/load_*.sql`): a row is either accepted or rejected with a reason
code and the field at fault, and rejected rows are kept in `rejected_rows` with
their raw text. Accepted rows are merged: a newer version of a ticket (by
`updated_at`, then load order) replaces the stored one (an accepted row older
than the stored version is not applied, and kept in `not_applied_rows`), events are
de-duplicated, a customers file replaces the plan history of the customers it
names. A file whose content (sha256) was loaded before is read again only when
the result could differ (another preset, mapping, source zone or id prefix, a
reading by another version of the loader, `READER_VERSION`, or rejections a
later load may have mended: `_same_load`), and its new reading
replaces the earlier one (whose kept rows then no longer count: `pipeline.status`).
Suspicious but loadable rows are loaded and listed in `flagged_rows`.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.errors import LoadError, did_you_mean
from pipeline.instants import COUNTED_SPAN, is_zone_name
from pipeline.sources.base import (
    ACTOR_TYPES,
    CAUSE_DOMAINS,
    CHANNELS,
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    EVENT_KINDS,
    PRIORITIES,
    REQUIRED,
    STATUSES,
    TICKET_COLUMNS,
    TIERS,
    columns_named,
    naive_timestamp,
    read_xlsx_cells,
    undecodable,
)
from pipeline.sources.mapping import PRESETS as MAPPING_PRESETS
from pipeline.sources.mapping import extract as extract_mapped
from pipeline.sources.mapping import preset as mapping_preset
from pipeline.sources.mapping import read_mapping
from pipeline.warehouse import bind, read_sql

KINDS = {
    "tickets": TICKET_COLUMNS,
    "events": EVENT_COLUMNS,
    "customers": CUSTOMER_COLUMNS,
}
FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
}
# The version of how the loader reads a file into rows, recorded with each load
# (loads.reader_version). It must be bumped whenever a change alters which rows a
# file yields or their values (a row accepted before is now rejected, a value is
# read otherwise): a file an older version read is then read again when loaded
# again, instead of being skipped as unchanged with its misread rows kept.
# 1: the first recorded (loads before it have NULL); it refuses a CSV row with
# more values than the header has columns, empty ones too, which an earlier
# loader read shifted one column over.
# 2: a space before a time's offset ('2026-10-26 09:15:00 +0100') is read as the
# offset; version 1 rejected such rows as unparseable_timestamp.
# 3: a Zendesk time in epoch milliseconds is read (by its size, docs/presets.md);
# version 2 rejected it as unparseable_timestamp; so was a Zendesk time at 24:00
# (the end of a day), now the next midnight as in every other file, and a
# ServiceNow export's snapshots are ordered by times cut to the microsecond, as
# they are stored, and with 24:00 placed (they were set apart as unreadable).
# It also flags the naive readings the DST rule placed (dst_repeated, dst_gap),
# which a file read by version 2 lacks, and rejects a ticket's or event's time
# before 1900 or from 2200 on (timestamp_out_of_range), which version 2 loaded
# and the evaluation then could not count.
# 4: a Zendesk incremental export is read as the API pages it: a ticket listed on
# several pages is read once, as its latest version (version 3 rejected every
# version as duplicate_conflicting), the side-loaded `metric_sets` give the
# resolution, and child events keyed by their field ("priority": ...) are read.
READER_VERSION = 4
# A reply this soon after creation is almost surely an auto-responder.
AUTO_RESPONSE_SECONDS = 5
REASONS = {
    "missing_required_field": "a required field is empty",
    "unparseable_timestamp": "not a timestamp (use ISO 8601, e.g. 2026-10-26T09:15:00+01:00)",
    "timestamp_out_of_range": (
        f"a ticket's or event's time before {COUNTED_SPAN[0].year} or from "
        f"{COUNTED_SPAN[1].year} on (a placeholder such as 9999-12-31, or a typo): leave a "
        "time that is not known empty"
    ),
    "unknown_value": "not one of the canonical values (docs/canonical-format.md)",
    "invalid_boolean": "not a yes/no value (true/false, 1/0, yes/no, ja/nee)",
    "response_before_creation": "the first response is before the ticket was created",
    "resolved_before_created": "resolved before the ticket was created",
    "closed_before_created": "closed before the ticket was created",
    "unknown_customer": "customer not in the warehouse: load customers first (sla customers)",
    "duplicate_conflicting": "the same ticket id appears more than once with different content",
    "id_from_other_source": (
        "a ticket with this id is stored from another source system: another desk's ticket, "
        "which this row would replace (or, an event, be added to); load one desk's files "
        "with --id-prefix (e.g. --id-prefix B-: its ticket 1 is stored as B-1)"
    ),
    "event_for_unknown_ticket": "event for a ticket that is not loaded",
    "event_before_creation": "event more than a minute before the ticket was created",
    "unknown_tier": "not one of pioneer, professional, business, premium",
    "period_ends_before_start": "the plan period ends before it starts, or when it starts (empty)",
    "overlapping_plan": "overlaps another plan period of the same customer",
    "skipped_by_mapping": "skipped by the mapping (file.skip_rows)",
    "conflicting_values": (
        "the column is repeated in the header (a field with several values, such as a Jira "
        "issue in two organizations) and its copies give different values for the field"
    ),
}
# Loaded rows that are listed in `flagged_rows`, and why (DST_RULES below too).
FLAGS = {
    "auto_response": f"first response within {AUTO_RESPONSE_SECONDS} s of creation",
    "created_in_future": "created after the load started",
}
# Accepted rows that were not stored (`not_applied_rows`), and why.
NOT_APPLIED_REASONS = {
    "older_than_stored": "the stored version of the ticket is newer (by updated_at)",
}


@dataclass(frozen=True)
class LoadSummary:
    """What one load did. rows_read == accepted + rejected, always; of the
    accepted rows, `not_applied` were not stored (`loaded` were)."""

    path: str
    kind: str
    load_id: int
    sha256: str
    rows_read: int
    accepted: int
    rejected: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    unchanged_since: int | None = None  # the earlier load of the same content
    not_applied: int = 0  # accepted rows older than the version already stored
    # Columns of a canonical file that are no field of its kind, each with a
    # near-miss hint ("did you mean ...") when there is one: read, not loaded.
    ignored_columns: tuple[str, ...] = ()
    # Why a file whose content was read before was read again (`_same_load`), or None.
    read_again: str | None = None
    # A tickets file read again: the earlier reading's tickets this reading does not
    # name, removed, and those it names but rejected, kept as stored.
    earlier_removed: int = 0
    earlier_kept: int = 0
    # Tickets rows rejected as id_from_other_source, as (this file's source system,
    # the stored ticket's, rows), and whether the file has a source_system column:
    # a correction file without one names no desk, so its rows are `canonical`.
    other_sources: tuple[tuple[str, str, int], ...] = ()
    source_system_column: bool = True

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def loaded(self) -> int:
        """Accepted rows that were stored (or were already, as identical copies)."""
        return self.accepted - self.not_applied


def sha256_of(path: Path) -> str:
    return _read_through(path)[0]


@dataclass(frozen=True)
class SeparatorCount:
    """A CSV file's separator characters below its header line, and whether the
    file holds a quote at all (without one, no value can hold the separator)."""

    below_header: int
    quoted: bool


def _read_through(path: Path, separator: str | None = None) -> tuple[str, SeparatorCount | None]:
    """The file's sha256, and with a `separator`, its count (`_check_value_counts`):
    counted in the same pass, so the file is not read once more for it."""
    digest = hashlib.sha256()
    byte = ord(separator) if separator is not None else None
    total, header, quoted = 0, None, False
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            if byte is None:
                continue
            # numpy counts a byte about 8x faster than bytes.count.
            total += int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == byte))
            quoted = quoted or b'"' in block
            if header is None:
                end = block.find(b"\n")
                header = block[: end if end >= 0 else len(block)].count(byte)
    if byte is None:
        return digest.hexdigest(), None
    return digest.hexdigest(), SeparatorCount(total - (header or 0), quoted)


def detect_kind(columns: list[str], path: Path) -> str:
    """tickets, events or customers, from a file's header."""
    names = {c.strip().lower() for c in columns}
    if {"at", "kind"} <= names:
        return "events"
    if {"tier", "valid_from"} <= names:
        return "customers"
    if {"ticket_id", "created_at"} <= names:
        return "tickets"
    raise LoadError(
        f"{path}: cannot tell what the file holds from its header "
        f"({', '.join(columns[:8])}): expected canonical ticket, event or customer columns "
        "(docs/canonical-format.md), or give --preset / --mapping"
    )


def _stage(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> list[str]:
    """Stage the file as `raw_file`: every column as text, and `_line`. The raw
    text of a row is made later, for rejected rows only: for millions of good rows
    it would cost more than the whole check."""
    source = str(path)
    if fmt == "csv":
        return _stage_csv(con, path)
    elif fmt == "parquet":
        relation = f"read_parquet({_quote(source)})"
        first_line = 1
    elif fmt == "jsonl":
        return _stage_json_lines(con, path)
    else:  # xlsx
        frame, _ = read_xlsx_cells(path, what="a canonical file")
        # An empty cell is NULL, as in a CSV file read by DuckDB.
        con.register("xlsx_frame", frame.where(frame != "", None))
        relation = "xlsx_frame"
        first_line = 2
    # Numbering the rows (a streaming window) keeps the file's order.
    numbered = (
        f"SELECT (row_number() OVER () - 1 + {first_line})::BIGINT AS _line, r.* FROM {relation} r"
    )
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw_staged AS {numbered}")
        con.execute("CREATE OR REPLACE TEMP VIEW raw_file AS SELECT * FROM raw_staged")
    except duckdb.Error as exc:
        raise _read_error(path, fmt, exc) from None
    finally:
        if fmt == "xlsx":
            con.unregister("xlsx_frame")  # copied into raw_staged
    return _staged_columns(con)


def _staged_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The columns of `raw_file` as the file names them (without `_line`, `_raw`)."""
    described = con.execute("SELECT column_name FROM (DESCRIBE raw_file)").fetchall()
    return [row[0] for row in described if row[0] not in ("_line", "_raw")]


# JSON lines as text: DuckDB's read_json guesses each key's type from a sample,
# so one numeric ticket id turned the others into quoted JSON text, one nested
# value made a whole column unreadable, a naive time after the sample was read
# as a typed timestamp (no --source-tz asked), and a key first seen after the
# sample refused the file. Here every line is one row, numbered as in the file
# (blank lines count), and every value is the JSON value as text: a string
# unquoted, a number or boolean as written, an object or array as JSON.
# A raw CR is dropped: JSON strings cannot hold one, so only line ends lose it.
# A byte order mark at the start is dropped too, as for a CSV file: it would
# stand before the first line's object, which was then read without its keys.
JSON_LINES_SQL = """
CREATE OR REPLACE TEMP TABLE json_lines AS
SELECT
    _line,
    line AS _raw,
    CASE WHEN json_valid(line) AND json_type(line::JSON) = 'OBJECT' THEN line::JSON END AS doc
FROM (
    SELECT generate_subscripts(lines, 1) AS _line, unnest(lines) AS line
    FROM (SELECT string_split(replace(
                     regexp_replace(content, '^\ufeff', ''), chr(13), ''), chr(10)) AS lines
          FROM read_text($path))
)
WHERE trim(line) <> ''
"""
JSON_KEYS_SQL = (
    "SELECT DISTINCT unnest(json_keys(doc)) AS k FROM json_lines WHERE doc IS NOT NULL ORDER BY k"
)


# What DuckDB's CSV errors mean, said for the person who has to mend the file;
# its own text adds reader settings and options this tool does not offer.
CSV_PROBLEMS = (
    (r"unterminated quote", "a quoted value is not closed: a quote is missing"),
    (r"Invalid unicode", "not UTF-8 text: save the export as UTF-8"),
)
# The longest line (record) the CSV reader takes: DuckDB's default, 2 MiB. 64 MiB
# would take any real value (a pasted log), but made every load of bench_load's
# 1M tickets 15-20% slower (13.1-14.7 s against 11.2-12.8 s in alternating runs,
# 2026-11-29), past its 3x target; 8 MiB still cost ~5%. A longer value loads
# through a mapping (docs/mapping.md); the error says so.
MAX_CSV_LINE_BYTES = 2 << 20
MAX_LINE = re.compile(r"Maximum line size")
COLUMN_COUNT = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _read_error(path: Path, fmt: str, exc: Exception) -> LoadError:
    """A reader error as one line naming the file, the line and the problem."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    where = str(path)
    if line:
        number = int(line.group(1))
        where = f"{path}, line {_csv_error_line(path, number) if fmt == 'csv' else number}"
    counts = COLUMN_COUNT.search(text)
    if counts:
        # DuckDB stops counting at the first value too many.
        expected, found = (int(g) for g in counts.groups())
        meaning = (
            f"more values than the {expected} columns the header names: quote a value that "
            "holds the separator, or remove the extra values"
            if found > expected
            else f"{found} value{'s' if found != 1 else ''} where the header names {expected} "
            "columns: add the missing ones, or remove the line if it is no row (a title, "
            "totals or footer line)"
        )
        return LoadError(f"{where}: {meaning}; nothing was loaded")
    if MAX_LINE.search(text):
        limit = f"{MAX_CSV_LINE_BYTES / (1 << 20):g} MiB"
        return LoadError(
            f"{where}: a line longer than the reader's limit of {limit}: either a value "
            f"longer than {limit} (load such a file with a mapping, docs/mapping.md), or a "
            "quote left open so that the lines after it read as one value; nothing was loaded"
        )
    for pattern, meaning in CSV_PROBLEMS:
        found = re.search(pattern, text)
        if found:
            return LoadError(f"{where}: {meaning}; nothing was loaded")
    mixed = _mixed_line_end(path) if fmt == "csv" and INVALID_STATE in text else None
    if mixed is not None:
        line, ends, first_ends = mixed
        return LoadError(
            f"{path}, line {line}: the line ends in {ends} where line 1 ends in {first_ends}: "
            "the file mixes Windows (CR LF) and Unix (LF) line ends, which the CSV reader "
            "refuses; save the export again so that every line ends the same way; nothing "
            "was loaded"
        )
    first = text.splitlines()[0] if text else type(exc).__name__
    return LoadError(f"{where}: cannot read as {fmt}: {first[:300]}")


# DuckDB's CSV error for, among others, a file that mixes CR LF and LF line ends.
INVALID_STATE = "state machine reached an invalid state"


def _mixed_line_end(path: Path) -> tuple[int, str, str] | None:
    """The first line whose end (CR LF or LF) differs from the first line's, with
    both ends, or None when all lines end alike. Only called once a load has failed."""
    names = {True: "CR LF", False: "LF"}
    first, lines, before = None, 0, b""
    with path.open("rb") as fh:
        while block := fh.read(CSV_SCAN_BLOCK):
            data = np.frombuffer(before + block, dtype=np.uint8)
            newlines = np.flatnonzero(data == 10)
            newlines = newlines[newlines >= len(before)]  # the carried byte is no line end
            crlf = (newlines > 0) & (data[np.maximum(newlines - 1, 0)] == 13)
            if first is None and len(crlf):
                first = bool(crlf[0])
            differs = np.flatnonzero(crlf != first)
            if len(differs):
                return lines + int(differs[0]) + 1, names[not first], names[first]
            lines += len(newlines)
            before = block[-1:]
    return None


# Below this size a CSV file is always read strictly (see _stage_csv): the time
# the sniffing reader saves there is a few milliseconds.
STRICT_CSV_BYTES = 16 << 20


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Stage a CSV file as the view `raw_file` (every column as text, `_line`).

    The file is read where it is checked: the check query keeps the rows in
    memory once instead of copying them into a table first. Two ways to read it:
    DuckDB's sniffing reader is the fast one on large files (told only the quote
    rules, RFC 4180), but given a file with a row longer than the header it can
    settle on a dialect that reads one column, or no rows at all. The strict
    reader is told the separator, the columns and the line ends from the header
    (read here) and names the line of a bad row; on large files it costs about
    a quarter more time and twice the memory. So: strict for small files, and
    for any file whose sniffed columns are not the header's."""
    separator, names, newline = _csv_header(path)
    source = _quote(str(path))
    limit = f"max_line_size = {MAX_CSV_LINE_BYTES}"
    sniffing = (
        f"read_csv({source}, all_varchar = true, header = true, quote = '\"', escape = '\"', "
        f"{limit})"
    )
    columns = "{" + ", ".join(f"{_quote(n)}: 'VARCHAR'" for n in names) + "}"
    strict = (
        f"read_csv({source}, header = true, auto_detect = false, delim = {_quote(separator)}, "
        f"quote = '\"', escape = '\"', columns = {columns}, new_line = {_quote(newline)}, "
        f"{limit})"
    )

    def stage(relation: str) -> list[str]:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW raw_file AS "
            f"SELECT (row_number() OVER () + 1)::BIGINT AS _line, r.* FROM {relation} r"
        )
        return _staged_columns(con)

    try:
        if path.stat().st_size >= STRICT_CSV_BYTES and _sniffed_columns(con, sniffing) == names:
            return stage(sniffing)
        return stage(strict)
    except duckdb.Error as exc:
        raise _read_error(path, "csv", exc) from None


def _sniffed_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str] | None:
    """The columns DuckDB's sniffing reader finds in the file, None when it fails.
    Asked on a cursor of its own: a failure aborts the transaction it happens in,
    and the load's own would then refuse the strict reader too ("transaction is
    aborted") instead of letting it say what is wrong."""
    try:
        with con.cursor() as probe:
            described = probe.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error:
        return None  # the strict reader says what is wrong, naming the line
    return [row[0] for row in described if row[0] not in ("_line", "_raw")]


CSV_SCAN_BLOCK = 1 << 26  # bytes read at a time when counting a CSV file's lines


def _csv_record_lines(path: Path, records: int) -> np.ndarray | None:
    """The line each record of a CSV file starts on (index 0: the header), or None
    when the record number is the line number, or when the lines cannot be told
    for sure. Records are what DuckDB's reader returns: a quoted value may span
    lines, and blank lines are skipped.

    Called only when a line number is reported (rejected or flagged rows, an
    error), and cheap in the common case: one pass counting newlines. Otherwise
    a second pass finds the newlines outside quoted values, as DuckDB reads
    quotes: a run of quotes at the start of a value (after a separator, a line
    end, the file's start or a BOM, spaces allowed) opens one when its length is
    odd ('""' is an empty value); inside one, a run of odd length closes it; any
    other quote is text (24" screen). Only runs of odd length change anything,
    so the state after each run is a parity since the last closing run: no loop
    over the file. The file is memory-mapped and scanned in blocks. Should the
    reading find another number of records than DuckDB did, the record numbers
    are kept: a wrong line is worse than a record number."""
    newlines, last = 0, b""
    with path.open("rb") as fh:
        while block := fh.read(CSV_SCAN_BLOCK):
            newlines += block.count(b"\n")
            last = block[-1:]
    physical = newlines + (0 if last in (b"\n", b"") else 1)
    if physical == records + 1:  # the header and one line per data record
        return None
    data, nl, inside = _csv_newlines(path)
    size = len(data)
    end = nl[~inside]
    place = np.flatnonzero(~inside)
    if len(end) == 0 or end[-1] < size - 1:  # a last record without a newline
        end = np.append(end, size)
        place = np.append(place, len(nl))
    crlf = (end > 0) & (data[np.maximum(end - 1, 0)] == 13)
    length = end - np.concatenate(([-1], end[:-1])) - 1
    blank = (length == 0) | ((length == 1) & crlf)
    # Record k starts on the line after the newline that ended record k - 1.
    start = np.concatenate(([1], place[:-1] + 2))[~blank]
    return start if len(start) == records + 1 else None


def _csv_newlines(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSV file's bytes (memory-mapped), the positions of its newlines, and
    which of them are inside a quoted value (see `_csv_record_lines`)."""
    data, (nl, inside), _ = _csv_outside_quotes(path, separators=False)
    return data, nl, inside


def _csv_outside_quotes(
    path: Path, *, separators: bool
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """The CSV file's bytes (memory-mapped), the positions of its newlines and
    which of them are inside a quoted value, and with `separators`, the same for
    its separators (see `_csv_record_lines`)."""
    separator, _, _ = _csv_header(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    size = len(data)
    found: dict[int, list[np.ndarray]] = {34: [], 10: []}
    if separators:
        found[ord(separator)] = []
    for offset in range(0, size, CSV_SCAN_BLOCK):
        block = np.asarray(data[offset : offset + CSV_SCAN_BLOCK])
        for byte, positions in found.items():
            positions.append(offset + np.flatnonzero(block == byte))
    quote, nl = (np.concatenate(found[b]) if found[b] else np.zeros(0, np.int64) for b in (34, 10))
    begin = 3 if bytes(data[:3]) == b"\xef\xbb\xbf" else 0
    # Runs of consecutive quotes, [first, last]; only odd ones change the state.
    cut = np.flatnonzero(np.diff(quote) != 1)
    first = quote[np.concatenate(([0], cut + 1))] if len(quote) else quote
    final = quote[np.concatenate((cut, [len(quote) - 1]))] if len(quote) else quote
    odd = (final - first) % 2 == 0
    first, final = first[odd], final[odd]
    # At a value's start: the byte before the run, spaces skipped, is a separator,
    # a line end, or there is none.
    edges = np.array([ord(separator), 10, 13], dtype=np.uint8)
    previous = first - 1
    has_previous = previous >= begin
    byte = np.where(has_previous, data[np.maximum(previous, 0)], 10)
    opens = np.isin(byte, edges)
    for k in np.flatnonzero(byte == 32):  # spaces before a quote: rare, walked back
        j = previous[k]
        while j >= begin and data[j] == 32:
            j -= 1
        opens[k] = j < begin or data[j] in edges
    # An opening run toggles; any other odd run closes (or is text when closed).
    closing = np.where(~opens, np.arange(len(first)), -1)
    last_close = np.maximum.accumulate(closing) if len(first) else closing
    toggles = np.cumsum(opens)
    since = toggles - np.where(last_close >= 0, toggles[np.maximum(last_close, 0)], 0)
    quoted_after = since % 2 == 1

    def inside(positions: np.ndarray) -> np.ndarray:
        # Inside a quoted value when the last odd run before it left one open.
        before = np.searchsorted(final, positions) - 1
        if not len(final):
            return np.zeros(len(positions), dtype=bool)
        return (before >= 0) & quoted_after[np.maximum(before, 0)]

    seps = None
    if separators:
        found_seps = found[ord(separator)]
        sep = np.concatenate(found_seps) if found_seps else np.zeros(0, np.int64)
        seps = (sep, inside(sep))
    return data, (nl, inside(nl)), seps


def _check_value_counts(
    con: duckdb.DuckDBPyConnection, path: Path, columns: int, count: SeparatorCount
) -> None:
    """Refuse a CSV file with a row of more values than the header has columns,
    also when the extra values are empty: DuckDB's reader drops those unseen, so
    'Refund, not received,' (an unquoted comma, and one at the end) loaded as
    category 'Refund', subject ' not received'. Each of the `checked` records has
    `columns` - 1 separators between its values, plus those its (quoted) values
    hold; more separators in the file than that mean a longer row, which is then
    looked for (a second reading, only then). The check costs a count of one byte
    while the file is hashed and, in a file with quotes, a look for the separator
    in each value (`_separators`, see `_normalise`)."""
    records, in_values = con.execute(
        "SELECT count(*), coalesce(sum(_separators), 0) FROM checked"
    ).fetchall()[0]
    if count.below_header <= records * (columns - 1) + in_values:
        return
    line = _first_long_record_line(path, columns)
    where = f"{path}" if line is None else f"{path}, line {line}"
    raise LoadError(
        f"{where}: more values than the {columns} columns the header names (empty ones too: "
        "a separator at the end of the line adds one): quote a value that holds the "
        "separator, or remove the extra values; nothing was loaded"
    )


def _first_long_record_line(path: Path, columns: int) -> int | None:
    """The line the first record with more than `columns` values starts on, read
    as DuckDB reads quotes (`_csv_record_lines`), or None if none is found."""
    _, (nl, nl_inside), seps = _csv_outside_quotes(path, separators=True)
    assert seps is not None
    ends, sep = nl[~nl_inside], seps[0][~seps[1]]
    # Record k (0: the header) holds the separators between the k-th and the
    # (k + 1)-th newline outside quotes.
    per_record = np.bincount(np.searchsorted(ends, sep), minlength=len(ends) + 1)
    long = np.flatnonzero(per_record[1:] > columns - 1)
    if not len(long):
        return None
    # Record k starts on the line after the newline that ended record k - 1.
    return int(np.flatnonzero(~nl_inside)[long[0]]) + 2


def _csv_error_line(path: Path, reported: int) -> int:
    """The file's line for a line DuckDB's CSV reader names in an error: it counts
    blank lines but not the line breaks inside quoted values, so after a subject
    over three lines it named a line two above the bad one."""
    _, _, inside = _csv_newlines(path)
    outside = np.flatnonzero(~inside)
    # Line n starts after the (n - 1)th newline outside quotes.
    if reported < 2 or reported - 2 >= len(outside):
        return reported
    return int(outside[reported - 2]) + 2


SEPARATORS = (",", ";", "\t", "|")


def _csv_header(path: Path) -> tuple[str, list[str], str]:
    """The separator (of `SEPARATORS`, the one that splits the header into the
    most names) and the header's names, made unique regardless of case, since
    DuckDB's names ignore it ('priority', 'Priority_1'): the loader then refuses a
    field named twice, naming both columns as the header writes them."""
    block = 1 << 16
    with path.open("rb") as fh:
        head = fh.read(block)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Not merely a character cut in two at the end of the block read.
        if len(head) < block or exc.reason != "unexpected end of data":
            raise undecodable(path, exc) from None
        text = exc.object[: exc.start].decode("utf-8")
    first = text.splitlines()[0] if text.strip() else ""
    # Told explicitly: without it DuckDB cannot split the file between threads.
    newline = "\\r\\n" if text[len(first) : len(first) + 2] == "\r\n" else "\\n"
    if not first.strip():
        raise LoadError(f"{path}: no header on line 1: nothing to load")
    best = max(SEPARATORS, key=lambda sep: len(next(csv.reader([first], delimiter=sep))))
    # DuckDB's names are case-insensitive: 'priority' and 'Priority' are one.
    names: list[str] = []
    taken: set[str] = set()
    for index, name in enumerate(next(csv.reader([first], delimiter=best))):
        # An unnamed column (a header ending in the separator, as some exports end
        # every line) is named as DuckDB's sniffing reader names it.
        name = name or f"column{index}"
        unique, n = name, 0
        while unique.lower() in taken:
            n += 1
            unique = f"{name}_{n}"
        taken.add(unique.lower())
        names.append(unique)
    return best, names, newline


def _stage_json_lines(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Stage a JSON-lines file as `raw_file` (see JSON_LINES_SQL). A line that is
    not a JSON object stays a row of NULLs with its text, to be rejected."""
    try:
        con.execute(JSON_LINES_SQL, {"path": str(path)})
    except duckdb.Error as exc:
        try:
            # DuckDB names no line: the file is decoded here to find it.
            path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as undecoded:
            raise undecodable(path, undecoded) from None
        raise LoadError(f"{path}: cannot read as JSON lines: {exc}") from None
    keys = [row[0] for row in con.execute(JSON_KEYS_SQL).fetchall()]
    keys = [k for k in keys if k not in ("_line", "_raw")]
    values = "".join(
        f", json_extract_string(doc, {_quote(_json_path(k))}) AS {_identifier(k)}" for k in keys
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE raw_staged AS SELECT _line, _raw{values} FROM json_lines"
    )
    con.execute("DROP TABLE json_lines")
    con.execute("CREATE OR REPLACE TEMP VIEW raw_file AS SELECT * FROM raw_staged")
    return keys


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _stage_frame(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> list[str]:
    """Stage rows a reader extracted: canonical text columns, `_line`, `_raw`, and
    `_rejected`, the rows the reader itself rejects ('reason_code:field', NULL
    for a row the loader checks; a frame without the column rejects none)."""
    if "_rejected" not in frame.columns:
        frame = frame.assign(_rejected=None)
    given = frame["_rejected"].dropna().unique()
    codes = {str(value).partition(":")[0] for value in given} - set(REASONS)
    if codes:
        # A reader's mistake, not the file's: a reason without a message to show.
        raise ValueError(f"reader rejected rows with unknown reason codes {sorted(codes)}")
    con.register("extracted", frame)
    # Cast: a column of Python None only is typed NULL (INTEGER), not text.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE raw_staged AS "
        "SELECT * REPLACE (CAST(_rejected AS VARCHAR) AS _rejected) FROM extracted"
    )
    con.execute("CREATE OR REPLACE TEMP VIEW raw_file AS SELECT * FROM raw_staged")
    con.unregister("extracted")
    return [c for c in frame.columns if not c.startswith("_")]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _normalise(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    columns: list[str],
    path: Path,
    *,
    reader_rejects: bool,
    header: bool,
    separator: str | None = None,
    id_prefix: str | None = None,
) -> tuple[str, ...]:
    """TEMP VIEW `raw`: `_line`, exactly the canonical columns of `kind` as text,
    and `_row`, the whole staged row (made into text only for rejected rows, by
    `sla_raw_text`), without the rows the reader rejected (`reader_rejects`: the
    rows were staged by `_stage_frame`, with `_rejected`). The staged rows are
    materialised once, inside the check query that reads this view. That also
    keeps the check's TRY_CASTs away from the CSV reader: DuckDB can push a cast
    into read_csv, which then fails on a bad cell instead of giving NULL
    (duckdb/duckdb#23818); the rejection tests would catch it.

    Returns the columns that are no field of `kind`, each with a near-miss hint
    ("did you mean ..."): read, not loaded. A field given twice ('priority' and
    'Priority ', or a repeated name the reader numbered 'priority_1') is refused:
    nothing says which of the two is meant. So is a file with a `header` that has
    no column for a required field: each row would be rejected as 'empty'.

    `_separators`: with a `separator` (a CSV file with quotes), how many times the
    values of the row hold it, for `_check_value_counts`; else NULL.

    `id_prefix`: put before every (non-empty, trimmed) ticket id, here in the view
    and only when given, so that a load without one does no work per row for it."""
    fields = KINDS[kind]
    names = {c.strip().lower() for c in columns}
    by_lower: dict[str, str] = {}
    ignored = []
    for c in columns:
        key = c.strip().lower()
        repeated = re.fullmatch(r"(.+)[._]\d+", key)
        shown = c  # as the header writes it: without the number a reader added to a repeat
        if repeated and repeated.group(1) in fields and repeated.group(1) in names:
            key = repeated.group(1)
            shown = c.strip()[: len(key)]
        if key in by_lower and key in fields:
            raise LoadError(
                f"{path}: columns {by_lower[key]!r} and {shown!r} are both field {key!r}: keep one"
            )
        by_lower.setdefault(key, c)
        if key not in fields:
            ignored.append(f"{c!r}{did_you_mean(key, fields)}")
    missing = [name for name in REQUIRED[kind] if name not in by_lower]
    if missing and header:
        raise LoadError(
            f"{path}: no column {missing[0]!r}, which every {kind} row needs (the file's "
            f"columns: {columns_named(columns)}); nothing was loaded"
        )
    select = []
    for name in fields:
        if name in by_lower:
            value = f"CAST(f.{_identifier(by_lower[name])} AS VARCHAR)"
            if name == "ticket_id" and id_prefix is not None:
                # After sla_text: a blank id stays NULL (missing), ' 7 ' becomes 'B-7'.
                value = f"{_quote(id_prefix)} || sla_text({value})"
            select.append(f'{value} AS "{name}"')
        else:
            select.append(f'NULL::VARCHAR AS "{name}"')
    staged = [r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE raw_file)").fetchall()]
    if "_raw" in staged:  # a reader kept each row's source text
        con.execute("CREATE OR REPLACE TEMP MACRO sla_raw_text(row) AS row._raw")
    else:
        # The row as read: the loader's own record number is no part of it.
        con.execute(
            "CREATE OR REPLACE TEMP MACRO sla_raw_text(row) AS "
            "json_remove(to_json(row), '$._line')::VARCHAR"
        )
    separators = "NULL::INTEGER"
    if separator is not None:
        # Every column the file has, not only the fields: an ignored one may hold it too.
        counted = [
            f"CASE WHEN contains(f.{_identifier(c)}, {_quote(separator)}) THEN "
            f"length(f.{_identifier(c)}) - length(replace(f.{_identifier(c)}, "
            f"{_quote(separator)}, '')) ELSE 0 END"
            for c in columns
        ]
        separators = "(" + " + ".join(counted or ["0"]) + ")::INTEGER"
    con.execute(
        "CREATE OR REPLACE TEMP VIEW raw AS "
        "WITH f AS MATERIALIZED (SELECT * FROM raw_file"
        + (" WHERE _rejected IS NULL" if reader_rejects else "")
        + ") SELECT f._line, "
        + ", ".join(select)
        + f", {separators} AS _separators, f AS _row FROM f"
    )
    return tuple(ignored)


# The raw text of not-applied rows is read again from the file, as for rows
# rejected after the check query: usually there are none.
KEEP_NOT_APPLIED_SQL = """
INSERT INTO not_applied_rows
SELECT $load_id, $file, n._line, n.ticket_id, 'updated_at', 'older_than_stored', n.message,
       sla_raw_text(f)
FROM not_applied n JOIN raw_file f ON f._line = n._line
"""


# The ticket ids a tickets reading names, accepted or rejected (`_drop_earlier_reading`).
READING_IDS_SQL = "SELECT ticket_id FROM checked"
# Rows a reader rejected itself (a skipped line, a time it cannot read) name their
# ticket too; staged without the prefix, which `raw` puts before the others' ids.
READER_REJECTED_IDS_SQL = (
    "SELECT {prefix}sla_text(CAST(ticket_id AS VARCHAR)) FROM raw_file WHERE _rejected IS NOT NULL"
)


@dataclass(frozen=True)
class EarlierTickets:
    """What a tickets file read again did to its earlier reading's tickets."""

    removed: int  # not named by the new reading: removed, with that reading's events
    kept: int  # named but rejected by the new reading: the stored version stays


def _drop_earlier_reading(
    con: duckdb.DuckDBPyConnection,
    sha: str,
    load_id: int,
    id_prefix: str | None,
    *,
    reader_rejects: bool,
) -> EarlierTickets:
    """Remove the tickets an earlier reading of this file stored that this reading
    does not name (`load_tickets_earlier.sql`: another id prefix, id column or id
    transform), after the merge; only called when the file was read before.
    `reader_rejects`: the rows were staged with the reader's own rejections
    (`_stage_frame`), whose ids count as named too."""
    ids = READING_IDS_SQL
    if reader_rejects and "ticket_id" in _staged_columns(con):
        prefix = f"{_quote(id_prefix)} || " if id_prefix is not None else ""
        ids += " UNION ALL " + READER_REJECTED_IDS_SQL.format(prefix=prefix)
    # Without NULLs: one would make every `NOT IN` unknown, and nothing would go.
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW reading_ids AS SELECT ticket_id FROM ({ids}) "
        "WHERE ticket_id IS NOT NULL"
    )
    params = {"sha": sha, "load_id": load_id}
    _run(con, "load_tickets_earlier.sql", params)
    removed = con.execute("SELECT count(*) FROM earlier_gone").fetchall()[0][0]
    # Still as an earlier reading stored them: those this reading named but rejected.
    kept = con.execute("SELECT tickets FROM earlier_kept").fetchall()[0][0]
    return EarlierTickets(removed, kept)


def _keep_not_applied(con: duckdb.DuckDBPyConnection, load_id: int, path: Path) -> int:
    """Keep the accepted rows the tickets merge did not apply (`not_applied`) in
    `not_applied_rows`; return how many there were."""
    count = con.execute("SELECT count(*) FROM not_applied").fetchall()[0][0]
    if count:
        con.execute(KEEP_NOT_APPLIED_SQL, {"load_id": load_id, "file": str(path)})
    return count


def _fill_raw_text(con: duckdb.DuckDBPyConnection) -> None:
    """Rows rejected after the check query (duplicates that disagree) get their
    raw text here; usually there are none, and the file is not read again."""
    missing = con.execute(
        "SELECT count(*) FROM checked WHERE problem IS NOT NULL AND raw_text IS NULL"
    ).fetchall()[0][0]
    if missing:
        con.execute(
            "UPDATE checked SET raw_text = sla_raw_text(f) FROM raw_file f "
            "WHERE f._line = checked._line AND checked.problem IS NOT NULL "
            "AND checked.raw_text IS NULL"
        )


SCRATCH_TABLES = (
    "checked",
    "dst_windows",
    "repeated",
    "not_applied",
    "kept_values",
    "maybe_repeated",
    "earlier_loads",
    "earlier_gone",
    "earlier_kept",
    "raw_staged",
)
SCRATCH_VIEWS = ("candidates", "reading_ids", "raw", "raw_file")


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, *, joined: bool) -> Iterator[None]:
    """One transaction around the block: committed when it ends, rolled back when
    it raises. `joined`: the caller already holds one (load_derived puts a file's
    tickets and events in one) and commits or rolls back everything itself."""
    if joined:
        yield
        return
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextlib.contextmanager
def _scratch_dropped(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Drop the scratch tables when the block ends well. When it raises, the
    rollback takes them away (they are made inside the transaction), and a drop in
    a transaction DuckDB has aborted would only hide the error with its own."""
    yield
    _drop_scratch(con)


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """A checked events file is millions of rows in memory: a library caller that
    keeps the connection open (load, then evaluate) should not carry it along."""
    for view in SCRATCH_VIEWS:
        con.execute(f"DROP VIEW IF EXISTS {view}")
    for table in SCRATCH_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")


LINED_TABLES = ("rejected_rows", "not_applied_rows", "flagged_rows")


def _lines_for_records(con: duckdb.DuckDBPyConnection, path: Path, load_id: int, read: int) -> None:
    """Rejected, not-applied and flagged rows of a canonical CSV load name the line
    their record starts on, not its record number (they differ after a quoted
    value spanning lines, or a blank line)."""
    numbers = con.execute(
        " UNION ".join(f"SELECT line_number FROM {t} WHERE load_id = $id" for t in LINED_TABLES),
        {"id": load_id},
    ).fetchall()
    if not numbers:
        return
    starts = _csv_record_lines(path, read)
    if starts is None:
        return
    record = np.array([n for (n,) in numbers if n is not None], dtype=np.int64)
    lines = pd.DataFrame({"record": record, "line": starts[record - 1]})
    con.register("record_lines", lines)
    for table in LINED_TABLES:
        con.execute(
            f"UPDATE {table} SET line_number = l.line FROM record_lines l "
            f"WHERE {table}.load_id = ? AND {table}.line_number = l.record",
            [load_id],
        )
    con.unregister("record_lines")


def _check_naive(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tz: str | None,
    source_columns: dict[str, str],
    *,
    csv_file: bool,
) -> None:
    """Without a source zone, a timestamp with no offset stops the load: its zone
    is unknown. The check query marked each row's first such field; the message
    names the export's column too when a reader renamed it (`source_columns`)."""
    if tz is not None:
        return
    row = con.execute(
        "SELECT _line, naive_field FROM checked WHERE naive_field IS NOT NULL "
        "ORDER BY _line LIMIT 1"
    ).fetchall()
    if not row:
        return
    line, name = row[0]
    value = con.execute(f'SELECT "{name}" FROM raw WHERE _line = ?', [line]).fetchall()[0][0]
    if name in source_columns:
        # As the export writes it: a mapping's format made '23-10-2026 17:00' into
        # ISO text, which the user would look for in the file in vain.
        written = con.execute(
            "SELECT json_extract_string(_raw, ?) FROM raw_file WHERE _line = ?",
            [_json_path(source_columns[name]), line],
        ).fetchall()
        value = written[0][0] if written and written[0][0] is not None else value
    if csv_file:
        # `checked` holds every record (`raw` is a view that would read the file again).
        records = con.execute("SELECT count(*) FROM checked").fetchall()[0][0]
        starts = _csv_record_lines(path, records)
        line = line if starts is None else int(starts[line - 1])
    raise naive_timestamp(path, line, name, source_columns.get(name, name), value)


# The timestamp fields of each kind as the check query leaves them in `checked`:
# (field, its instant, its text as read). A naive reading of these is flagged when
# the DST rule placed it (`_flag_dst_readings`).
DST_FIELDS = {
    "tickets": (
        ("created_at", "created_at", "created_raw"),
        ("first_response_at", "first_response_at", "first_response_raw"),
        ("resolved_at", "resolved_at", "resolved_raw"),
        ("closed_at", "closed_at", "closed_raw"),
        ("updated_at", "updated_given", "updated_raw"),
    ),
    "events": (("at", '"at"', "at_raw"),),
    "customers": (("valid_from", "valid_from", "from_raw"), ("valid_to", "valid_to", "to_raw")),
}
# What each DST flag says, the rule by which the reading was placed (load_macros.sql).
DST_RULES = {
    "dst_gap": (
        "a local time the clocks skip (spring forward), read with the offset from "
        "before the gap: 02:30 becomes 03:30 summer time"
    ),
    "dst_repeated": (
        "a local time that occurs twice (the clocks go back), read as the later one, standard time"
    ),
}
# The accepted rows whose naive reading of one field falls in a window of
# `dst_windows` (load_dst.sql): the UTC hour narrows the search to a hash probe,
# and only the few rows in a window are looked at further. In a gap, an instant
# there may also be an ordinary reading just after it (03:30 summer time is the
# instant 02:30 was read as): only a reading that is the instant with the offset
# from before the gap was placed by the rule. In a repeated hour every naive
# reading was (the earlier occurrence's instants are outside the window).
DST_FLAGS_SQL = """
INSERT INTO flagged_rows
SELECT $load_id, {ticket_id}, c._line, '{field}',
       CASE WHEN w.gap THEN 'dst_gap' ELSE 'dst_repeated' END,
       strftime(try_cast(c.{raw} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S') || ' in ' || $tz
       || CASE WHEN w.gap
               THEN ' does not occur (the clocks move forward): read with the offset from '
                    || 'before the gap, as '
               ELSE ' occurs twice (the clocks go back): read as the later one, standard '
                    || 'time, ' END
       || strftime(c.{instant}, '%Y-%m-%d %H:%M:%S') || ' UTC'
FROM checked c
JOIN dst_windows w ON w.bucket = floor(epoch(c.{instant}) / 3600)::BIGINT
WHERE c.problem IS NULL AND c.{instant} >= w.starts AND c.{instant} < w.ends
  AND NOT sla_has_offset(c.{raw})
  AND (NOT w.gap OR c.{instant}::TIMESTAMP + w.before = try_cast(c.{raw} AS TIMESTAMP))
"""


# The span (epoch seconds) the DST scan covers: a ticket's or event's time outside
# it is rejected (COUNTED_SPAN), and a plan's valid_to of 9999-12-31, a common
# "open-ended" convention, made the scan walk every day to that year (about 5 s
# for each customers load with a source zone).
DST_SCAN_SPAN = (int(COUNTED_SPAN[0].timestamp()), int(COUNTED_SPAN[1].timestamp()))


def _flag_dst_readings(con: duckdb.DuckDBPyConnection, kind: str, params: dict) -> None:
    """Flag the accepted naive readings the DST rule placed (`dst_gap`,
    `dst_repeated`): loaded as the rule reads them, and counted per load, so that
    the operator sees how many rows of a file a rule, not the file, made exact.
    Only a load with a source zone has naive readings to flag."""
    if params["tz"] is None:
        return
    fields = DST_FIELDS[kind]
    instants = ", ".join(instant for _, instant, _ in fields)
    lo, hi = con.execute(
        f"SELECT floor(epoch(min(least({instants}))))::BIGINT, "
        f"ceil(epoch(max(greatest({instants}))))::BIGINT FROM checked WHERE problem IS NULL"
    ).fetchall()[0]
    if lo is None:
        return
    lo, hi = max(lo, DST_SCAN_SPAN[0]), min(hi, DST_SCAN_SPAN[1])
    if lo > hi:
        return
    _run(con, "load_dst.sql", {**params, "lo": lo, "hi": hi})
    if not con.execute("SELECT count(*) FROM dst_windows").fetchall()[0][0]:
        return
    ticket_id = "NULL" if kind == "customers" else "c.ticket_id"
    for name, instant, raw in fields:
        sql = DST_FLAGS_SQL.format(ticket_id=ticket_id, field=name, instant=instant, raw=raw)
        con.execute(sql, bind(sql, params))


# Ticket fields a stored ticket keeps when a newer version of it comes from a file
# without their column (load_tickets_merge.sql). Not the required ones, nor
# `source_system` (its default is the load's source) or `updated_at` (the version).
KEPT_WHEN_ABSENT = tuple(
    name
    for name in TICKET_COLUMNS
    if name not in REQUIRED["tickets"] and name not in ("source_system", "updated_at")
)


def _params(
    kind: str,
    tz: str | None,
    load_id: int,
    source: str,
    started: dt.datetime,
    sha: str,
    *,
    derived: bool = False,
) -> dict:
    """The parameters of a kind's load SQL. `derived`: the events come from an
    export that also gave the tickets (`load_derived`), all of source `source`."""
    base = {"tz": tz, "load_id": load_id, "sha": sha}
    counted = {"counted_from": COUNTED_SPAN[0], "counted_to": COUNTED_SPAN[1]}
    if kind == "tickets":
        return {
            **base,
            **counted,
            "source": source,
            "priorities": list(PRIORITIES),
            "channels": list(CHANNELS),
            "statuses": list(STATUSES),
            "cause_domains": list(CAUSE_DOMAINS),
            "auto_response_seconds": AUTO_RESPONSE_SECONDS,
            "started": started,
        }
    if kind == "events":
        return {
            **base,
            **counted,
            # An events file of its own names no source system: its events may be
            # any desk's. A derived export's events are its own tickets'.
            "source": source if derived else None,
            "kinds": list(EVENT_KINDS),
            "actors": list(ACTOR_TYPES),
            "statuses": list(STATUSES),
            "priorities": list(PRIORITIES),
        }
    return {**base, "tiers": list(TIERS)}


def _run(con: duckdb.DuckDBPyConnection, sql_file: str, params: dict) -> None:
    """Run each statement of a SQL file with the parameters it uses."""
    # Comments go first: they may contain semicolons. (Our SQL has no "--" in strings.)
    text = re.sub(r"--[^\n]*", "", read_sql(sql_file))
    for statement in text.split(";"):
        body = statement.strip()
        if not body:
            continue
        con.execute(body, bind(body, params)).fetchall()


# How a file was read, beside its content: the same bytes read with another preset,
# mapping, source zone or ticket id prefix store other data. A load repeats an
# earlier one only when all of these agree (`_same_load`), and the evaluation's
# input fingerprint counts each such reading as an input of its own.
READING_SETTINGS = ("preset", "mapping", "source_tz", "id_prefix")
# The settings as a reload's reason names them.
SETTING_NAMES = {
    "preset": "preset",
    "mapping": "mapping",
    "source_tz": "source time zone",
    "id_prefix": "id prefix",
}
# Rejections that depend on what else is loaded, and the kind of load that can
# undo them: a file loaded again once what its rows lacked was loaded may fare
# better, so it is then not skipped as unchanged.
RETRY_REASONS = ("unknown_customer", "event_for_unknown_ticket", "event_before_creation")
DEPENDS_ON = {"tickets": "customers", "events": "tickets"}
# The id such a row lacked, as the check compared it (after the preset or mapping
# and --id-prefix): a ticket's customer, an event's ticket. Recorded with the row
# (rejected_rows.missing_id) so that a reload can tell whether it came since.
MISSING_ID = {"tickets": "c.customer_id", "events": "c.ticket_id"}
# The tickets rows rejected as another desk's, by their source system and the stored one.
OTHER_SOURCES_SQL = """
SELECT c.source_system, t.source_system, count(*) AS rows
FROM checked c JOIN tickets t USING (ticket_id)
WHERE split_part(c.problem, ':', 1) = 'id_from_other_source'
GROUP BY ALL ORDER BY rows DESC, 2, 1
"""
# The rows the check query rejected. Filled only for rejected rows, after the
# check: the accepted rows pay nothing for the missing id.
REJECTED_ROWS_SQL = """
INSERT INTO rejected_rows
    (load_id, file, line_number, field, reason_code, message, raw, missing_id, value)
SELECT ?, ?, c._line, split_part(c.problem, ':', 2), split_part(c.problem, ':', 1),
       r.message, c.raw_text,
       CASE WHEN list_contains(?, split_part(c.problem, ':', 1)) THEN {missing_id} END,
       c.value
FROM checked c
LEFT JOIN reasons r ON r.code = split_part(c.problem, ':', 1)
WHERE c.problem IS NOT NULL
"""
# Rows a reader rejected itself, with the text it staged for the field at fault
# (`_field_value_sql`): its raw record need not name the field.
READER_REJECTED_SQL = """
INSERT INTO rejected_rows (load_id, file, line_number, field, reason_code, message, raw, value)
SELECT ?, ?, f._line, nullif(split_part(f._rejected, ':', 2), ''),
       split_part(f._rejected, ':', 1), r.message, sla_raw_text(f), {value}
FROM raw_file f
LEFT JOIN reasons r ON r.code = split_part(f._rejected, ':', 1)
WHERE f._rejected IS NOT NULL
"""


def _field_value_sql(fields: tuple[str, ...], staged: list[str]) -> str:
    """SQL for the staged text of the field a reader's rejection names
    ('reason_code:field' in `f._rejected`), NULL for a field it did not stage."""
    cases = [
        f"WHEN {_quote(name)} THEN CAST(f.{_identifier(name)} AS VARCHAR)"
        for name in fields
        if name in staged
    ]
    if not cases:
        return "NULL::VARCHAR"
    return f"CASE split_part(f._rejected, ':', 2) {' '.join(cases)} END"


# The latest reading of the same content and kind, and how it compares with this
# one: each reading setting, the reader version that read it, and whether rows it
# rejected for want of other data may now be accepted. They may when the id a row
# lacked exists now: its customer (the check compares with `customers`) or its
# ticket, or, for an event before its ticket's creation, the ticket was stored
# again by a later load (with another created_at, perhaps). `mended`: how many
# such ids, and the first row's reason and id. A row rejected before the missing
# id was recorded (NULL) may have been mended by any load of the kind it waits
# for since (`legacy`). A row whose customer or ticket never came is no reason to
# read the whole file again.
_SAME_SETTINGS = ", ".join(
    f"l.{name} IS NOT DISTINCT FROM ${name} AS same_{name}" for name in READING_SETTINGS
)
SAME_LOAD_SQL = f"""
WITH latest AS (
    SELECT * FROM loads
    WHERE sha256 = $sha AND kind = $kind AND NOT unchanged AND finished_at IS NOT NULL
    ORDER BY load_id DESC
    LIMIT 1
),
waiting AS (
    SELECT r.line_number, r.reason_code, r.missing_id
    FROM rejected_rows r
    WHERE r.load_id = (SELECT load_id FROM latest) AND list_contains($retry, r.reason_code)
),
mended AS (
    SELECT w.* FROM waiting w SEMI JOIN customers c ON c.customer_id = w.missing_id
    WHERE w.reason_code = 'unknown_customer'
    UNION ALL
    SELECT w.* FROM waiting w SEMI JOIN tickets t ON t.ticket_id = w.missing_id
    WHERE w.reason_code = 'event_for_unknown_ticket'
    UNION ALL
    SELECT w.* FROM waiting w SEMI JOIN tickets t
        ON t.ticket_id = w.missing_id AND t.load_id > (SELECT load_id FROM latest)
    WHERE w.reason_code = 'event_before_creation'
)
SELECT l.load_id, l.reader_version, {_SAME_SETTINGS},
    (SELECT count(DISTINCT missing_id) FROM mended) AS mended_ids,
    (SELECT arg_min(reason_code, line_number) FROM mended) AS mended_reason,
    (SELECT arg_min(missing_id, line_number) FROM mended) AS mended_id,
    EXISTS (SELECT 1 FROM waiting WHERE missing_id IS NULL)
        AND EXISTS (SELECT 1 FROM loads d WHERE d.load_id > l.load_id AND d.kind = $depends
                    AND NOT d.unchanged AND d.finished_at IS NOT NULL) AS legacy
FROM latest l
"""


@dataclass(frozen=True)
class EarlierReading:
    """The latest earlier reading of a file's content (and kind), and why a new
    load reads the file again (None: it would repeat that reading, unchanged)."""

    load_id: int
    read_again: str | None


def _same_load(
    con: duckdb.DuckDBPyConnection,
    sha: str,
    kind: str,
    preset: str,
    recorded: str,
    source_tz: str | None,
    id_prefix: str | None,
) -> EarlierReading | None:
    """The latest real load of the same content and kind, if any, and why this
    load cannot repeat its result: read with another preset, mapping, source zone
    or ticket id prefix, by another version of the loader (READER_VERSION), or
    rows it rejected for want of other data may now be accepted (the customer or
    ticket a row lacked was loaded since: SAME_LOAD_SQL)."""
    rows = con.execute(
        SAME_LOAD_SQL,
        {
            "preset": preset,
            "mapping": recorded,
            "source_tz": source_tz,
            "id_prefix": id_prefix,
            "retry": list(RETRY_REASONS),
            "depends": DEPENDS_ON.get(kind),
            "sha": sha,
            "kind": kind,
        },
    ).fetchall()
    if not rows:
        return None
    load_id, reader_version, *same, mended_ids, mended_reason, mended_id, legacy = rows[0]
    why = []
    other = [
        SETTING_NAMES[name] for name, equal in zip(READING_SETTINGS, same, strict=True) if not equal
    ]
    if other:
        why.append(f"other settings than load #{load_id} ({', '.join(other)})")
    if reader_version != READER_VERSION:
        newer = reader_version is not None and reader_version > READER_VERSION
        why.append(
            f"load #{load_id} was read by {'a newer' if newer else 'an older'} version of "
            "the loader"
        )
    if mended_ids or legacy:
        why.append(_mended(load_id, kind, mended_reason, mended_id, mended_ids))
    return EarlierReading(load_id, "; ".join(why) or None)


def _mended(load_id: int, kind: str, reason: str | None, missing_id: str | None, ids: int) -> str:
    """Why a reading's rejected rows may fare otherwise now, naming the first row's
    customer or ticket (the operator can see it is there now); without a reason,
    rows rejected before the missing id was recorded, of which none can be named."""
    if reason == "event_before_creation":
        what = "events before their ticket's creation, and a later load stored the ticket again"
    else:
        what = f"rows for want of {DEPENDS_ON[kind]}, loaded since"
    if reason is None:
        return f"load #{load_id} rejected {what}"
    noun = "customer" if reason == "unknown_customer" else "ticket"
    others = f" and {ids - 1} other{'s' if ids > 2 else ''}" if ids > 1 else ""
    return f"load #{load_id} rejected {what} ({noun} {missing_id}{others})"


def _check_zone(source_tz: str | None) -> None:
    """An IANA name, as DuckDB's ICU knows them: pandas also takes '+01:00' and
    'dateutil/...', which DuckDB then fails on mid-load."""
    if source_tz is not None and not is_zone_name(source_tz):
        raise LoadError(
            f"unknown time zone {source_tz!r} for --source-tz: use an IANA name such as "
            "Europe/Amsterdam or UTC"
        )


def _check_id_prefix(id_prefix: str | None) -> None:
    """A prefix the stored ids visibly start with: an empty one changes nothing,
    and spaces at its ends would be trimmed from the id it makes."""
    if id_prefix is None:
        return
    if not id_prefix.strip():
        raise LoadError(
            "--id-prefix is empty: give the text to put before each ticket id (e.g. B-)"
        )
    if id_prefix != id_prefix.strip():
        raise LoadError(
            f"--id-prefix {id_prefix!r} starts or ends with a space: ticket ids are trimmed, "
            "so the stored ids would not start with it; leave the spaces out"
        )


def _check_reader(preset: str, mapping: str | Path | None) -> None:
    """A mapping file and a preset other than canonical each say how to read the
    export: given both, one of them was silently not used."""
    if mapping is not None and preset != "canonical":
        raise LoadError(
            f"--preset {preset} and --mapping {mapping} each say how to read the export: "
            "give one of them (a mapping file is for an export no preset reads)"
        )


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    kind: str | None = None,
    source_tz: str | None = None,
    source_system: str = "canonical",
    preset: str = "canonical",
    mapping: str | Path | None = None,
    frame: pd.DataFrame | None = None,
    in_transaction: bool = False,
    id_prefix: str | None = None,
) -> LoadSummary:
    """Load one canonical file (tickets, events or customers; CSV, Parquet, JSON
    lines or XLSX) in one transaction, or, with `in_transaction`, in the
    caller's (`load_derived` loads a file's tickets and events together).

    `frame`: rows a preset already extracted from the file (canonical text
    columns, `_line`, `_raw`, optionally `_rejected`: see `_stage_frame`), for
    presets that derive several kinds from one file (`load_derived`).

    `id_prefix`: text put before every ticket id the file gives (tickets and
    events alike), so that a second desk whose ids collide with another's keeps
    its own tickets ('B-' stores its ticket 1 as 'B-1'); recorded with the load.
    Not for a customers file, which names no tickets.

    Raises `LoadError` when the file cannot be read at all, its kind cannot be
    told, or it has naive timestamps and no `source_tz`. Bad rows never raise:
    they are rejected with a reason and kept."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"no such file: {path}")
    _check_reader(preset, mapping)
    spec = None
    if mapping is not None:
        spec, preset = read_mapping(mapping), "mapping"
    elif preset in MAPPING_PRESETS:
        spec = mapping_preset(preset)
    elif preset != "canonical" and frame is None:
        raise LoadError(
            f"preset {preset!r} is not available: use canonical, "
            f"{', '.join(MAPPING_PRESETS)}, or a mapping file (--mapping)"
        )
    if spec is not None:
        kind = kind or spec.kind
        source_tz = source_tz or spec.source_tz
        source_system = spec.source_system
    if frame is not None:
        source_system = preset
    if frame is not None:
        fmt = path.suffix.lower().lstrip(".") or "derived"
    else:
        fmt = spec.format if spec is not None else FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise LoadError(f"{path}: unknown file type {path.suffix!r} (csv, parquet, jsonl, xlsx)")
    _check_zone(source_tz)
    _check_id_prefix(id_prefix)
    if frame is None and path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty (no header, no rows): nothing to load")
    # A canonical CSV file's separators are counted while its hash is computed.
    canonical_csv = fmt == "csv" and frame is None and spec is None
    separator = _csv_header(path)[0] if canonical_csv else None
    sha, separator_count = _read_through(path, separator)
    started = dt.datetime.now(dt.UTC)
    con.execute("SET TimeZone = 'UTC'")
    _run(con, "load_macros.sql", {})

    # Only rows a reader extracted can carry its rejections: a column `_rejected`
    # in a canonical file is just a column.
    from_reader = frame is not None or spec is not None
    # A reader's canonical fields by the export's column names ({} for a canonical file).
    source_columns: dict[str, str] = {}
    with _transaction(con, joined=in_transaction), _scratch_dropped(con):
        if spec is not None and frame is None:
            frame = extract_mapped(path, spec)
        if frame is not None:
            source_columns = dict(frame.attrs.get("source_columns", {}))
            columns = _stage_frame(con, frame)
        else:
            columns = _stage(con, path, fmt)
        kind = kind or detect_kind(columns, path)
        if kind not in KINDS:
            raise LoadError(f"unknown kind {kind!r}: tickets, events or customers")
        if id_prefix is not None and kind == "customers":
            raise LoadError(
                f"{path}: --id-prefix is for tickets and events files: a customers file "
                "names no tickets; load it without the prefix"
            )
        # A file with a header (not JSON lines, whose keys are each line's, nor rows
        # a reader extracted) is refused whole when it lacks a required column.
        ignored = _normalise(
            con,
            kind,
            columns,
            path,
            reader_rejects=from_reader,
            header=not from_reader and fmt != "jsonl",
            separator=separator if separator_count and separator_count.quoted else None,
            id_prefix=id_prefix,
        )
        load_id = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchall()[0][0]
        recorded = json.dumps(
            spec.document if spec is not None else {"kind": kind, "columns": columns}
        )
        earlier = _same_load(con, sha, kind, preset, recorded, source_tz, id_prefix)
        read_again = earlier.read_again if earlier is not None else None
        unchanged_since = earlier.load_id if earlier is not None and read_again is None else None
        con.execute(
            "INSERT INTO loads (load_id, kind, path, sha256, format, preset, mapping, source_tz, "
            "id_prefix, unchanged, reader_version, read_again, started_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                load_id,
                kind,
                str(path),
                sha,
                fmt,
                preset,
                recorded,
                source_tz,
                id_prefix,
                unchanged_since is not None,
                READER_VERSION,
                read_again,
                started,
            ],
        )
        if unchanged_since is not None:
            con.execute("UPDATE loads SET finished_at = now() WHERE load_id = ?", [load_id])
            return LoadSummary(str(path), kind, load_id, sha, 0, 0, unchanged_since=unchanged_since)
        reasons = pd.DataFrame({"code": list(REASONS), "message": list(REASONS.values())})
        con.register("reasons", reasons)
        rejected_by_reader = 0
        if from_reader:
            # Rows the reader rejected (a skipped line, a snapshot it cannot place)
            # are kept as rejected with its reason, the check never sees them.
            con.execute(
                READER_REJECTED_SQL.format(value=_field_value_sql(KINDS[kind], columns)),
                [load_id, str(path)],
            )
            rejected_by_reader = con.execute(
                "SELECT count(*) FROM raw_file WHERE _rejected IS NOT NULL"
            ).fetchall()[0][0]
        params = _params(
            kind, source_tz, load_id, source_system, started, sha, derived=frame is not None
        )
        source_system_column = True
        if kind == "tickets":
            # Only a header names the columns a file has: a JSON line lacking a key
            # and a reader's rows carry empty values, not absent fields.
            present = {c.strip().lower() for c in columns}
            source_system_column = from_reader or "source_system" in present
            params["kept"] = (
                [f for f in KEPT_WHEN_ABSENT if f not in present]
                if not from_reader and fmt != "jsonl"
                else []
            )
        try:
            _run(con, f"load_{kind}.sql", params)
        except duckdb.InvalidInputException as exc:
            # The check query is where a CSV file is read: a malformed line surfaces here.
            raise _read_error(path, fmt, exc) from None
        if separator_count is not None:
            _check_value_counts(con, path, len(columns), separator_count)
        _check_naive(
            con, path, source_tz, source_columns, csv_file=fmt == "csv" and not from_reader
        )
        _flag_dst_readings(con, kind, params)
        not_applied = 0
        earlier_tickets = None
        if kind == "tickets":
            _run(con, "load_tickets_merge.sql", params)
            not_applied = _keep_not_applied(con, load_id, path)
            if earlier is not None:
                earlier_tickets = _drop_earlier_reading(
                    con, sha, load_id, id_prefix, reader_rejects=from_reader
                )
        else:
            _run(con, f"load_{kind}_merge.sql", params)
        _fill_raw_text(con)
        con.execute(
            REJECTED_ROWS_SQL.format(missing_id=MISSING_ID.get(kind, "NULL")),
            [load_id, str(path), list(RETRY_REASONS)],
        )
        con.unregister("reasons")
        read = con.execute("SELECT count(*) FROM checked").fetchall()[0][0] + rejected_by_reader
        if fmt == "csv" and not from_reader:
            _lines_for_records(con, path, load_id, read)
        rejected = dict(
            con.execute(
                "SELECT reason_code, count(*) FROM rejected_rows WHERE load_id = ? "
                "GROUP BY 1 ORDER BY 1",
                [load_id],
            ).fetchall()
        )
        flagged = dict(
            con.execute(
                "SELECT flag_code, count(*) FROM flagged_rows WHERE load_id = ? GROUP BY 1 "
                "ORDER BY 1",
                [load_id],
            ).fetchall()
        )
        n_rejected = sum(rejected.values())
        # Rejected rows are not merged: the stored tickets are still the other desk's.
        other_sources = (
            tuple(
                (str(this), str(stored), int(rows))
                for this, stored, rows in con.execute(OTHER_SOURCES_SQL).fetchall()
            )
            if kind == "tickets" and "id_from_other_source" in rejected
            else ()
        )
        con.execute(
            "UPDATE loads SET rows_read = ?, accepted = ?, rejected = ?, not_applied = ?, "
            "flagged = ?, earlier_removed = ?, earlier_kept = ?, finished_at = now() "
            "WHERE load_id = ?",
            [
                read,
                read - n_rejected,
                n_rejected,
                not_applied,
                sum(flagged.values()),
                earlier_tickets.removed if earlier_tickets is not None else None,
                earlier_tickets.kept if earlier_tickets is not None else None,
                load_id,
            ],
        )
    return LoadSummary(
        str(path),
        kind,
        load_id,
        sha,
        read,
        read - n_rejected,
        rejected,
        flagged,
        not_applied=not_applied,
        ignored_columns=ignored,
        read_again=read_again,
        earlier_removed=earlier_tickets.removed if earlier_tickets is not None else 0,
        earlier_kept=earlier_tickets.kept if earlier_tickets is not None else 0,
        other_sources=other_sources,
        source_system_column=source_system_column,
    )


DERIVED_PRESETS = ("servicenow", "zendesk")


def load_derived(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    preset: str,
    source_tz: str | None = None,
    id_prefix: str | None = None,
) -> list[LoadSummary]:
    """An export from which a preset derives tickets and events (ServiceNow
    snapshots, Zendesk incremental JSON): its tickets, then its events, as two
    loads of the same file in one transaction (a failure in the events leaves
    no tickets of the file behind). `id_prefix`: as for `load_file`, on the
    tickets and their events alike."""
    from pipeline.sources import servicenow, zendesk

    if preset not in DERIVED_PRESETS:
        raise LoadError(f"preset {preset!r} does not derive tickets and events")
    path = Path(path)
    # Checked before the reader reads naive times in it.
    _check_zone(source_tz)
    _check_id_prefix(id_prefix)
    if preset == "servicenow":
        tickets, events = servicenow.extract(path, source_tz)
    else:  # Zendesk times carry their offset: the zone is not needed
        tickets, events = zendesk.extract(path)
    with _transaction(con, joined=False):
        return [
            load_file(
                con,
                path,
                kind=kind,
                source_tz=source_tz,
                preset=preset,
                frame=frame,
                in_transaction=True,
                id_prefix=id_prefix,
            )
            for kind, frame in (("tickets", tickets), ("events", events))
            # An export without rows is still a load (of none): said, not passed over.
            if len(frame) or kind == "tickets"
        ]


def load_export(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    kind: str | None = None,
    source_tz: str | None = None,
    preset: str = "canonical",
    mapping: str | Path | None = None,
    id_prefix: str | None = None,
) -> list[LoadSummary]:
    """One export file, whatever its preset: the loads it made (two for a preset
    that derives tickets and events, else one). `id_prefix`: see `load_file`.

    Raises `LoadError` for a preset given with a mapping file, or a `kind` given
    with a preset that derives both kinds (it would not be used)."""
    _check_reader(preset, mapping)
    if preset in DERIVED_PRESETS and kind is not None:
        raise LoadError(
            f"--kind {kind}: preset {preset} reads tickets and their events from the one "
            "export; leave --kind out"
        )
    if preset in DERIVED_PRESETS:
        return load_derived(con, path, preset=preset, source_tz=source_tz, id_prefix=id_prefix)
    return [
        load_file(
            con,
            path,
            kind=kind,
            source_tz=source_tz,
            preset=preset,
            mapping=mapping,
            id_prefix=id_prefix,
        )
    ]


def load_servicenow(
    con: duckdb.DuckDBPyConnection, path: str | Path, *, source_tz: str | None = None
) -> list[LoadSummary]:
    """A ServiceNow incident export (one snapshot per update): tickets, then events."""
    return load_derived(con, path, preset="servicenow", source_tz=source_tz)
