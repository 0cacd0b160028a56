"""All exceptions of the pipeline, in one place.

Every error names what it is about (calendar and field, file/row/field, ...) so
that the CLI can show it as it is.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, known: Iterable[str]) -> str:
    """' (did you mean 'timezone'?)' for a near miss of a known name, else '': the
    hint every error about a misspelt key or value ends with."""
    close = difflib.get_close_matches(str(word), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class PipelineError(Exception):
    """Base class: an error the user can act on. The CLI prints it without a traceback."""


class CalendarError(PipelineError, ValueError):
    """A calendar definition is invalid. The message names the calendar and the field."""

    def __init__(self, calendar: str, field: str, message: str) -> None:
        self.calendar = calendar
        self.field = field
        self.message = message  # without the calendar and field, for callers that name them
        super().__init__(f"calendar {calendar!r}, field {field!r}: {message}")


class WorkingTimeError(PipelineError, ValueError):
    """Working time cannot be computed (e.g. a calendar that never opens)."""


class PolicyError(PipelineError, ValueError):
    """A policy file is invalid. The message names the file, the version (when the
    mistake is inside one) and the field."""

    def __init__(
        self,
        source: str,
        field: str,
        message: str,
        *,
        line: int | None = None,
        version: str | None = None,
    ) -> None:
        self.source = source
        self.field = field
        self.message = message  # without the file and field, for callers that name them
        self.line = line  # in the file, where it could be found
        # The `version` name of the [[versions]] table the field is in: an author
        # thinks of "2026.2", not of the table's index in `versions[1]`.
        self.version = version
        # "FILE, line N, version 'V', field 'x'", as a load error names a row.
        where = source if line is None else f"{source}, line {line}"
        if version is not None:
            where += f", version {version!r}"
        super().__init__(f"policy {where}, field {field!r}: {message}")


class EvaluationError(PipelineError):
    """An evaluation cannot run or cannot be found (e.g. nothing loaded, unknown id)."""


class WarehouseError(PipelineError):
    """The warehouse cannot be opened or is not in the expected state."""


class WarehouseBusyError(WarehouseError):
    """Another process holds the warehouse file."""


class LoadError(PipelineError):
    """A file cannot be loaded at all (unreadable, unknown format, naive timestamps
    without a source time zone). Bad rows do not raise: they are rejected and kept."""


class AuditError(PipelineError):
    """An audit request cannot be answered (unknown ticket, evaluation or manifest)."""


class RetentionError(PipelineError):
    """A prune or compaction cannot be done safely (an unreadable manifest, a
    missing report folder, a warehouse in memory, too little disk space)."""


class PrunedEvaluationError(AuditError, EvaluationError):
    """An evaluation's result rows were pruned (`sla evaluations prune`): only its
    record is left, nothing of it can be read. An `AuditError` for the audits, an
    `EvaluationError` for the reports, as an unknown evaluation is to each."""
