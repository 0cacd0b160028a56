"""The canonical columns and vocabularies every reader maps onto.

A reader (canonical file, mapping file, or a vendor preset) only *extracts*: it
turns a file into rows with these column names, every value still text, each
with the line it came from and its raw content. Parsing, validation, rejection
with reason codes and merging happen once, in the loader's SQL, so every source
is judged by the same rules.

`read_csv_cells`, `read_xlsx_cells` and `raw_json` are the reading the table
readers (and the loader, for a canonical workbook) share.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import LoadError

TICKET_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "source_system",
    "customer_id",
    "created_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "priority",
    "channel",
    "category",
    "status",
    "requires_it_release",
    "cause_domain",
    "subject",
    "updated_at",
)

EVENT_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "at",
    "kind",
    "old_value",
    "new_value",
    "actor_type",
)

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "name",
    "tier",
    "valid_from",
    "valid_to",
)

# The fields every row of a kind needs (the loader's check rejects a row without
# one): a file without the column is refused whole, naming it, not row by row.
REQUIRED: dict[str, tuple[str, ...]] = {
    "tickets": ("ticket_id", "customer_id", "created_at"),
    "events": ("ticket_id", "at", "kind"),
    "customers": ("customer_id", "tier", "valid_from"),
}

# Canonical vocabularies. Readers map their source's labels onto these.
PRIORITIES = ("low", "normal", "high", "critical")
CHANNELS = ("chat", "email", "phone", "outage_line", "web", "api", "other")
STATUSES = (
    "new",
    "open",
    "waiting_on_customer",
    "waiting_on_third_party",
    "resolved",
    "closed",
)
EVENT_KINDS = (
    "status_change",
    "agent_reply",
    "customer_reply",
    "internal_note",
    "priority_change",
    "reopen",
    "resolve",
    "close",
)
ACTOR_TYPES = ("agent", "customer", "system")
CAUSE_DOMAINS = ("provider", "customer", "unknown")
TIERS = ("pioneer", "professional", "business", "premium")


COLUMNS_NAMED = 12  # a file's columns an error names; a wide export has hundreds


def columns_named(columns: list[str] | tuple[str, ...] | pd.Index) -> str:
    """A file's columns for an error message: the first `COLUMNS_NAMED`, and how
    many there are in all when that is more (the list read as the whole header)."""
    names = [str(c) for c in columns]
    shown = ", ".join(names[:COLUMNS_NAMED])
    if len(names) > COLUMNS_NAMED:
        shown += f", ... ({len(names):,} in all)"
    return shown


# Byte order marks of UTF-16 (little and big endian): Excel's "Unicode text" and
# some helpdesks export so. Every other byte is 0x00 in such a file.
UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def utf16(path: Path, encoding: str, advice: str) -> LoadError:
    """The error for a UTF-16 file: 'line 1: byte 0xff' said nothing of what it is,
    and read as cp1252 or latin-1 its header came out as letters between NULs."""
    return LoadError(
        f"{path}: UTF-16 text (it starts with a UTF-16 byte order mark), not {encoding}: {advice}"
    )


def undecodable(
    path: Path,
    exc: UnicodeDecodeError,
    *,
    encoding: str = "UTF-8",
    advice: str = "save the export as UTF-8",
) -> LoadError:
    """The error for a file that is not `encoding` text, naming the line of the
    first byte that is not, and the byte.

    `exc` must come from decoding the file's bytes from their start: it holds
    those bytes (`exc.object`), less a byte order mark utf-8-sig took off, so that
    its position is in them (a position in `path.read_bytes()` would be three
    bytes off after a mark)."""
    data = exc.object
    if data[:2] in UTF16_MARKS:
        return utf16(path, encoding, advice)
    line = data.count(b"\n", 0, exc.start) + 1
    return LoadError(
        f"{path}, line {line}: not {encoding} text (byte 0x{data[exc.start]:02x}): {advice}"
    )


def naive_timestamp(path: Path, line: int, name: str, column: str, value: str) -> LoadError:
    """The error for a timestamp without an offset in a load without a source zone,
    naming the canonical field and, when the export calls it otherwise, its column."""
    field = f"field {name!r}" + (f" (column {column!r})" if column != name else "")
    return LoadError(
        f"{path}, line {line}, {field}: timestamp {value!r} has no UTC "
        "offset, so its time zone is unknown; pass --source-tz ZONE (e.g. "
        "Europe/Amsterdam or UTC) to state the zone of the export's naive timestamps"
    )


def read_csv_cells(
    path: Path,
    *,
    what: str,
    reads: Collection[str] = (),
    separator: str = ",",
    encoding: str = "utf-8-sig",
    header_row: int = 1,
    null_markers: Collection[str] = (),
) -> tuple[pd.DataFrame, np.ndarray]:
    """A CSV export as text cells named by its header, and each row's line in the file.

    `what` names the export in messages; `reads` are the columns the reader
    uses. Empty cells are "", cells equal to a null marker are NaN. Lines with no
    value at all (blank, or separators only) are not rows.

    Raises `LoadError` naming the file (and line) when it cannot be decoded or
    tokenised, when a row has more values than the header has columns, or when
    a column in `reads` appears twice in the header.
    """
    options = {
        "sep": separator,
        "encoding": encoding,
        "skiprows": header_row - 1,
        "header": None,
        "dtype": str,
        "keep_default_na": False,
        "na_filter": False,
        "skip_blank_lines": False,
    }
    with path.open("rb") as fh:
        if fh.read(2) in UTF16_MARKS:
            label = "UTF-8" if encoding.startswith("utf-8") else encoding
            raise utf16(path, label, f"save the export as {label}")
    try:
        # The header is read as the first row: pandas then expects every row to
        # have as many values as the header and stops at one with more. With the
        # header as names, a longer first row silently became the index and every
        # value moved one column to the left.
        cells = pd.read_csv(path, **options)
    except UnicodeDecodeError as exc:
        raise _undecodable_csv(path, what, encoding, exc) from None
    except pd.errors.EmptyDataError:
        raise LoadError(
            f"{path}: the file is empty (no header, no rows): nothing to load"
        ) from None
    except pd.errors.ParserError as exc:
        raise _ragged_row(path, what, exc, options, header_row, separator) from None
    lines = header_row + np.arange(len(cells)) + _line_breaks_before(cells)
    header = [str(name).strip() for name in cells.iloc[0]]
    _check_duplicates(path, what, header, reads, header_row)
    cells.columns = _unique(header)
    cells = cells.iloc[1:]
    filled = (cells != "").any(axis=1).to_numpy()
    cells, lines = cells[filled].reset_index(drop=True), lines[1:][filled]
    if null_markers:
        cells = cells.where(~cells.isin(list(null_markers)))
    return cells, lines


def read_xlsx_cells(
    path: Path,
    *,
    what: str,
    reads: Collection[str] = (),
    header_row: int = 1,
    null_markers: Collection[str] = (),
) -> tuple[pd.DataFrame, np.ndarray]:
    """The workbook's one sheet with data as text cells named by its header row,
    and each row's line (its row number in the sheet).

    As `read_csv_cells`: empty cells are "", cells equal to a null marker are
    NaN, and a column in `reads` named twice in the header is refused. Unlike
    there, a blank row below the header is kept as a row (the loader rejects it
    with its line), as the workbook readers always did.

    Raises `LoadError` naming the file when it is no XLSX workbook, has no
    header row, or has data (a value below the header row) on several sheets:
    reading only the first sheet would drop the others' rows unseen.
    """
    try:
        # Read with no header, every value as written ("NA" stays text): the
        # header row is picked here, as read_csv_cells picks it.
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=str, keep_default_na=False)
    except Exception as exc:  # openpyxl and zipfile raise many kinds for a bad file
        raise LoadError(f"{path}: cannot read as an XLSX workbook: {exc}") from None
    sheets = {name: cells.fillna("") for name, cells in sheets.items()}
    used = {
        name: cells
        for name, cells in sheets.items()
        if (cells.iloc[header_row:] != "").to_numpy().any()
    }
    if len(used) > 1:
        raise LoadError(
            f"{path}: the workbook has data on {len(used)} sheets ({', '.join(used)}): save "
            "each sheet as its own file (one table per file), so that no rows are left out"
        )
    cells = next(iter(used.values()), next(iter(sheets.values()), pd.DataFrame()))
    if len(cells) < header_row or (cells.iloc[header_row - 1] == "").all():
        raise LoadError(f"{path}: no header on line {header_row}: nothing to load")
    header = [name.strip() for name in cells.iloc[header_row - 1]]
    _check_duplicates(path, what, header, reads, header_row)
    cells = cells.iloc[header_row:].set_axis(_unique(header), axis=1).reset_index(drop=True)
    lines = header_row + 1 + np.arange(len(cells))
    if null_markers:
        cells = cells.where(~cells.isin(list(null_markers)))
    return cells, lines


def _undecodable_csv(path: Path, what: str, encoding: str, exc: UnicodeDecodeError) -> LoadError:
    """pandas decodes a file in chunks, so its error's position is in a chunk:
    the file is decoded again, whole, to find the line."""
    label = "UTF-8" if encoding.startswith("utf-8") else encoding
    try:
        path.read_bytes().decode(encoding)
    except UnicodeDecodeError as whole:
        return undecodable(path, whole, encoding=label, advice=f"save the export as {label}")
    return LoadError(f"{path}: cannot read {what} as {encoding}: {exc}")


def _line_breaks(cells: pd.DataFrame) -> np.ndarray:
    """For each row, the line breaks inside its quoted values."""
    breaks = np.zeros(len(cells), dtype=np.int64)
    for column in cells.columns:
        breaks += cells[column].str.count("\n").to_numpy(dtype=np.int64)
    return breaks


def _line_breaks_before(cells: pd.DataFrame) -> np.ndarray:
    """For each row, the line breaks inside quoted values of the rows before it:
    a value over two lines moves every later row one line down."""
    breaks = _line_breaks(cells)
    return np.cumsum(breaks) - breaks


def _ragged_row(
    path: Path,
    what: str,
    exc: pd.errors.ParserError,
    options: dict,
    header_row: int,
    separator: str,
) -> LoadError:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found is None:
        return LoadError(f"{path}: cannot read as {what}: {exc}")
    expected, record, saw = (int(g) for g in found.groups())
    # pandas counts records, not lines: read the rows before the bad one again to
    # find its line when values above it span several lines.
    try:
        before = pd.read_csv(path, **options, nrows=record - header_row)
    except (ValueError, UnicodeDecodeError):  # it was read up to there once already
        return LoadError(f"{path}, line {record}: cannot read as {what}: {exc}")
    line = header_row + len(before) + int(_line_breaks(before).sum())
    return LoadError(
        f"{path}, line {line}: {saw} values where the header (line {header_row}) of "
        f"{what} names {expected} columns: quote a value that holds the separator "
        f"{separator!r}, or remove the extra values; the file was not loaded"
    )


def _check_duplicates(
    path: Path, what: str, header: list[str], reads: Collection[str], header_row: int
) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen and name in reads:
            raise LoadError(
                f"{path}, line {header_row}: column {name!r} appears twice in the header of "
                f"{what}: which one to read is unclear; remove or rename one"
            )
        seen.add(name)


def _unique(names: list[str]) -> list[str]:
    """Column names made unique the way pandas does (`Tags`, `Tags.1`), for
    duplicated columns no reader reads."""
    counts: dict[str, int] = {}
    out = []
    for name in names:
        n = counts.get(name, 0)
        counts[name] = n + 1
        out.append(name if n == 0 else f"{name}.{n}")
    return out


def raw_json(frame: pd.DataFrame) -> list[str]:
    """Each row of `frame` as one line of JSON, the raw text kept for a rejected row."""
    if frame.empty:
        return []
    text = frame.to_json(orient="records", lines=True, force_ascii=False)
    # Split on "\n" alone: JSON escapes it inside values, but not U+2028, U+0085 or
    # the other characters str.splitlines() also takes as line ends.
    return text.removesuffix("\n").split("\n")
