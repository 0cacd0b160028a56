"""Reading any tabular export through a mapping file (TOML), no code needed.

A mapping names the file's format (separator, encoding, header row, rows to
skip, null markers, timestamp formats, source time zone), which of its columns
holds each canonical field, and how its labels translate into canonical values.
See docs/mapping.md. Built-in presets for exports that are plain tables
(Freshdesk, Jira Service Management) are mapping files shipped in
`pipeline/presets/`.

The reader only extracts: it returns the canonical columns as text, with each
row's line number and raw content; the loader's SQL checks and rejects. Rows a
mapping skips are returned too, with `_rejected` = 'skipped_by_mapping:', so the
loader keeps them as rejected with that reason instead of losing them.
"""

from __future__ import annotations

import _strptime
import difflib
import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import LoadError
from pipeline.instants import is_zone_name
from pipeline.sources.base import (
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    REQUIRED,
    TICKET_COLUMNS,
    columns_named,
    raw_json,
    read_csv_cells,
    read_xlsx_cells,
)

COLUMNS = {"tickets": TICKET_COLUMNS, "events": EVENT_COLUMNS, "customers": CUSTOMER_COLUMNS}
TIMESTAMPS = {
    "tickets": ("created_at", "first_response_at", "resolved_at", "closed_at", "updated_at"),
    "events": ("at",),
    "customers": ("valid_from", "valid_to"),
}
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1")
PRESETS = ("freshdesk", "jsm")
# How a time read with a mapping format is handed to the loader.
ISO_LOCAL = "%Y-%m-%dT%H:%M:%S.%f"
ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class Mapping:
    name: str
    kind: str
    source_system: str
    format: str
    separator: str
    encoding: str
    header_row: int
    skip_rows: tuple[int, ...]
    null_markers: tuple[str, ...]
    timestamp_formats: tuple[str, ...]
    source_tz: str | None
    repeated_columns: str
    columns: dict[str, str]
    values: dict[str, dict[str, str]]
    constants: dict[str, str]
    document: dict[str, Any] = field(repr=False)


def _error(name: str, where: str, message: str) -> LoadError:
    return LoadError(f"mapping {name}, field {where!r}: {message}")


# The keys a mapping may have: anything else is a typo ('timestamp_format',
# '[column]') that would otherwise be ignored without a word, and every row then
# rejected (or, for `kind`, read as another kind).
KEYS = ("kind", "source_system", "file", "columns", "values", "constants")
FILE_KEYS = (
    "format",
    "separator",
    "encoding",
    "decimal",
    "header_row",
    "skip_rows",
    "null_markers",
    "timestamp_formats",
    "source_tz",
    "repeated_columns",
)
# What a column the mapping reads that appears more than once in the header means:
# refuse the file (which copy is meant is unclear), or read the copies as one field
# that has several values (Jira repeats a column for each value of a multi-valued
# field): a row whose copies disagree is rejected (conflicting_values).
REPEATED_COLUMNS = ("refuse", "one_value")


def _check_keys(
    name: str, table: Any, allowed: tuple[str, ...], prefix: str, unknown: str = "unknown key"
) -> dict:
    """`table` as a dict whose keys are all `allowed`, else a `LoadError` naming the
    first unknown one (with a "did you mean" for a near miss)."""
    where = prefix.rstrip(".") or "(top level)"
    if not isinstance(table, dict):
        raise _error(name, where, f"a table ([{where}]), not {table!r}")
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise _error(name, f"{prefix}{key}", f"{unknown}: {hint}use {', '.join(allowed)}")
    return table


def _text_list(name: str, where: str, value: Any) -> tuple[str, ...]:
    # A lone string would be taken as a list of its characters.
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise _error(name, where, f'a list of texts (["..."]), not {value!r}')
    return tuple(value)


def _check_format(name: str, where: str, fmt: str) -> None:
    """A strptime format pandas can use: one without a directive ('dd-mm-yyyy')
    reads no value, and a bad one ('%H:%M%') stops pandas mid-load."""
    if "%" not in fmt:
        raise _error(
            name,
            where,
            f"{fmt!r} is no strptime format: write it with directives, "
            "e.g. %d-%m-%Y %H:%M for 31-12-2026 17:30",
        )
    try:
        pd.to_datetime(pd.Series(["x"]), format=fmt, errors="coerce")
    except ValueError as exc:
        raise _error(name, where, f"{fmt!r} is no strptime format: {exc}") from None


def parse_mapping(doc: dict[str, Any], name: str) -> Mapping:
    """Validate a mapping document. Raises `LoadError` naming the mapping and field."""
    _check_keys(name, doc, KEYS, "")
    kind = doc.get("kind", "tickets")
    if not isinstance(kind, str) or kind not in COLUMNS:
        raise _error(name, "kind", "use tickets, events or customers")
    file = _check_keys(name, doc.get("file", {}), FILE_KEYS, "file.")
    not_field = f"not a canonical {kind} field"
    fmt = file.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        raise _error(name, "file.format", "use csv or xlsx")
    encoding = file.get("encoding", "utf-8-sig")
    if encoding not in ENCODINGS:
        raise _error(name, "file.encoding", f"use one of {', '.join(ENCODINGS)}")
    separator = file.get("separator", ",")
    # pandas reads a longer separator as a regular expression.
    if not isinstance(separator, str) or len(separator) != 1:
        raise _error(name, "file.separator", f'one character (";" or "\\t"), not {separator!r}')
    columns = dict(_check_keys(name, doc.get("columns", {}), COLUMNS[kind], "columns.", not_field))
    for field_name, column in columns.items():
        if not isinstance(column, str):
            raise _error(name, f"columns.{field_name}", f"a column name in quotes, not {column!r}")
    constants = _check_keys(name, doc.get("constants", {}), COLUMNS[kind], "constants.", not_field)
    for field_name, constant in constants.items():
        if isinstance(constant, dict | list):
            raise _error(name, f"constants.{field_name}", f"one value, not {constant!r}")
    constants = {k: str(v) for k, v in constants.items()}
    values = _check_keys(name, doc.get("values", {}), COLUMNS[kind], "values.", not_field)
    for field_name, table in values.items():
        if not isinstance(table, dict):
            raise _error(
                name, f"values.{field_name}", f'a table ("label" = "value"), not {table!r}'
            )
        for label, value in table.items():
            if not isinstance(value, str):
                raise _error(
                    name, f"values.{field_name}.{label}", f"a canonical value, not {value!r}"
                )
    values = {f: {str(k).lower(): v for k, v in m.items()} for f, m in values.items()}
    header = file.get("header_row", 1)
    if not isinstance(header, int) or isinstance(header, bool) or header < 1:
        raise _error(name, "file.header_row", "a line number, 1 or more")
    skip_rows = file.get("skip_rows", [])
    if not isinstance(skip_rows, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in skip_rows
    ):
        raise _error(name, "file.skip_rows", f"a list of line numbers ([5]), not {skip_rows!r}")
    null_markers = _text_list(name, "file.null_markers", file.get("null_markers", []))
    formats = _text_list(name, "file.timestamp_formats", file.get("timestamp_formats", []))
    for i, timestamp_format in enumerate(formats):
        _check_format(name, f"file.timestamp_formats[{i}]", timestamp_format)
    tz = file.get("source_tz")
    # Checked as the loader checks --source-tz: pandas also takes '+01:00'.
    if tz is not None and (not isinstance(tz, str) or not is_zone_name(tz)):
        raise _error(
            name,
            "file.source_tz",
            f"unknown time zone {tz!r}: use an IANA name such as Europe/Amsterdam or UTC",
        )
    repeated = file.get("repeated_columns", "refuse")
    if repeated not in REPEATED_COLUMNS:
        raise _error(name, "file.repeated_columns", f"use {' or '.join(REPEATED_COLUMNS)}")
    for required in REQUIRED[kind]:
        if required not in columns and required not in constants:
            raise _error(
                name,
                f"columns.{required}",
                f"every {kind} row needs it: name the export's column that holds it",
            )
    return Mapping(
        name=name,
        kind=kind,
        source_system=str(doc.get("source_system", name)),
        format=fmt,
        separator=separator,
        encoding=encoding,
        header_row=header,
        skip_rows=tuple(skip_rows),
        null_markers=null_markers,
        timestamp_formats=formats,
        source_tz=tz,
        repeated_columns=repeated,
        columns=columns,
        values=values,
        constants=constants,
        document=json.loads(json.dumps(doc, default=str)),
    )


def read_mapping(path: str | Path) -> Mapping:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise LoadError(f"no such mapping file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LoadError(f"mapping {path} is not valid TOML: {exc}") from None
    return parse_mapping(doc, str(path))


def preset(name: str) -> Mapping:
    if name not in PRESETS:
        raise LoadError(f"no mapping preset {name!r} (mapping presets: {', '.join(PRESETS)})")
    text = resources.files("pipeline.presets").joinpath(f"{name}.toml").read_text("utf-8")
    return parse_mapping(tomllib.loads(text), name)


# A UTC offset as %z reads it: Z, or a sign, hours, minutes and optionally seconds.
OFFSET_TEXT = re.compile(r"(?:Z|([+-])(\d\d):?(\d\d)?(?::?(\d\d(?:\.\d+)?))?)")
# An offset at the end of a value (ISO formats end in %z).
OFFSET_AT_END = r"(Z|[+-]\d\d(?::?\d\d(?::?\d\d(?:\.\d+)?)?)?)\s*$"
# The largest offset a reading may carry, as the loader's `sla_has_offset`
# (load_macros.sql) and `pipeline.instants.OFFSET_SUFFIX` take them.
MAX_OFFSET_SECONDS = 18 * 3600


def _offset_seconds(texts: pd.Series) -> pd.Series:
    """Offsets written as text ('+0200', '-05:30', 'Z') in seconds, NaN for other
    text. Computed once per distinct text: a column holds a few offsets."""
    table = {}
    for text in pd.unique(texts.dropna()):
        found = OFFSET_TEXT.fullmatch(text)
        if found:
            sign, hours, minutes, seconds = found.groups()
            total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
            table[text] = -total if sign == "-" else total
    return texts.map(table).astype(float)


def _offset_pattern(fmt: str) -> str:
    """The regular expression strptime (and pandas, which vendors it) matches `fmt`
    with, its one group the %z offset wherever the format puts it. For RE2
    (pyarrow), which extracts far faster with one group than with one per field."""
    pattern = _strptime.TimeRE().pattern(fmt)
    pattern = re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern)  # a literal '(' is escaped: '\('
    pattern = re.sub(r"\(\?P<(?!z>)\w+>", "(?:", pattern).replace("(?P<z>", "(")
    return rf"(?i)^(?:{pattern})$"


def _written_offsets(values: pd.Series, fmt: str) -> pd.Series:
    """Each value's UTC offset in seconds, as written where `fmt` has %z; NaN where
    it cannot be told."""
    text = pa.array(values.astype(object), type=pa.string())
    try:
        # A value that does not match stays whole: no offset.
        written = pc.replace_substring_regex(text, _offset_pattern(fmt), r"\1")
    except (KeyError, ValueError, re.error, pa.ArrowInvalid):  # no %z group, or not RE2
        written = text
    offsets = _offset_seconds(pd.Series(written.to_pandas(), index=values.index, dtype=object))
    # pandas' ISO reader (for an ISO format, which ends in %z) also takes what
    # strptime's expression does not, such as '+02'.
    unknown = offsets.isna() & values.notna()
    if unknown.any():
        offsets[unknown] = _offset_seconds(values[unknown].str.extract(OFFSET_AT_END)[0])
    return offsets


def _parse_times(values: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Text in one of `formats` -> ISO text; anything else is left as it was, so the
    loader rejects it as unparseable with the raw value in view.

    A format with an offset (%z) gives instants, written in UTC: one column may
    hold several offsets (winter and summer time). strptime takes any offset up
    to 23:59:59, which no clock has: a value whose offset is beyond ±18:00 or not
    a whole number of minutes is left as it was, so that it is rejected as the
    loader rejects such an offset in an ISO time (`unparseable_timestamp`), not
    moved by up to a day. Fractions of a second are kept (to the microsecond, as
    the warehouse stores them)."""
    out = values.copy()
    pending = values.notna()
    for fmt in formats:
        aware = "%z" in fmt
        parsed = pd.to_datetime(values.where(pending), format=fmt, errors="coerce", utc=aware)
        hit = parsed.notna() & pending
        if aware and hit.any():
            offsets = _written_offsets(values.where(hit), fmt)
            refused = hit & ((offsets.abs() > MAX_OFFSET_SECONDS) | (offsets % 60 != 0))
            hit &= ~refused
            pending &= ~refused  # read, and refused: left as written for the loader
        out[hit] = parsed[hit].dt.strftime(ISO_UTC if aware else ISO_LOCAL)
        pending &= ~hit
    return out


SEPARATORS = {",": "','", ";": "';'", "\t": "a tab", "|": "'|'"}


def _separator_hint(columns: pd.Index, mapping: Mapping) -> str:
    """Why a named column is missing when the whole header came out as one column:
    another separator (Dutch Excel saves CSV with ';')."""
    if len(columns) != 1:
        return ""
    header = str(columns[0])
    for separator, name in SEPARATORS.items():
        if separator != mapping.separator and separator in header:
            expected = SEPARATORS.get(mapping.separator, repr(mapping.separator))
            return (
                f": the file seems separated by {name}, the mapping reads {expected}; "
                f"copy it into a mapping file with file.separator = {separator!r}"
                if mapping.name in PRESETS
                else f": the file seems separated by {name}, the mapping reads {expected} "
                f"(file.separator)"
            )
    return ""


def extract(path: str | Path, mapping: Mapping) -> pd.DataFrame:
    """The file's rows as canonical text columns plus `_line`, `_raw` and `_rejected`.

    Raises `LoadError` naming the file (and line or column) when it cannot be
    read with the mapping."""
    path = Path(path)
    one_value = mapping.repeated_columns == "one_value"
    options = {
        "what": f"a file read with mapping {mapping.name}",
        # Repeated columns are refused unless the mapping reads them as one value.
        "reads": set() if one_value else set(mapping.columns.values()),
        "header_row": mapping.header_row,
        "null_markers": mapping.null_markers,
    }
    if mapping.format == "xlsx":
        frame, lines = read_xlsx_cells(path, **options)
    else:
        frame, lines = read_csv_cells(
            path, separator=mapping.separator, encoding=mapping.encoding, **options
        )
    missing = [col for col in mapping.columns.values() if col not in frame.columns]
    if missing:
        raise LoadError(
            f"{path}: column {missing[0]!r} named by mapping {mapping.name} is not in the "
            f"file (its columns: {columns_named(frame.columns)})"
            + _separator_hint(frame.columns, mapping)
        )
    frame = frame.where(frame.notna() & (frame != ""), None)
    out = pd.DataFrame(index=frame.index)
    conflicting = pd.Series(None, index=frame.index, dtype=object)
    for name in COLUMNS[mapping.kind]:
        if name in mapping.columns:
            column, disagree = _one_value(frame, mapping.columns[name], with_copies=one_value)
            reason = f"conflicting_values:{name}"
            conflicting = conflicting.mask(conflicting.isna() & disagree, reason)
        elif name in mapping.constants:
            column = pd.Series(mapping.constants[name], index=frame.index, dtype=object)
        else:
            column = pd.Series(None, index=frame.index, dtype=object)
        if name in mapping.values:
            table = mapping.values[name]
            mapped = column.str.strip().str.lower().map(table)
            column = mapped.where(mapped.notna(), column)
        if name in TIMESTAMPS[mapping.kind] and mapping.timestamp_formats:
            column = _parse_times(column, mapping.timestamp_formats)
        out[name] = column.astype(object).where(column.notna(), None)
    if "source_system" in out.columns and out["source_system"].isna().all():
        out["source_system"] = mapping.source_system
    out["_line"] = lines
    out["_raw"] = raw_json(frame)
    out.attrs["source_columns"] = dict(mapping.columns)  # the export's names, for messages
    # A skipped line names no field: the whole row is left out.
    skipped = out["_line"].isin(mapping.skip_rows).to_numpy()
    out["_rejected"] = np.where(skipped, "skipped_by_mapping:", conflicting.to_numpy())
    return out.reset_index(drop=True)


def _one_value(
    frame: pd.DataFrame, column: str, *, with_copies: bool
) -> tuple[pd.Series, pd.Series]:
    """The values of `column`, read with its copies when the header repeats it
    (`Tags`, `Tags.1`, ... as `read_csv_cells` names them): a row's one value is
    the first its copies give; the second series marks rows whose copies give
    different values, which are rejected rather than read as one of them."""
    copies = [column] + [
        name for name in frame.columns if re.fullmatch(re.escape(column) + r"\.\d+", name)
    ]
    if len(copies) == 1 or not with_copies:
        return frame[column], pd.Series(data=False, index=frame.index)
    values = frame[copies]
    first = values.bfill(axis=1).iloc[:, 0]
    disagree = (values.notna() & values.ne(first, axis=0)).any(axis=1)
    return first, disagree
