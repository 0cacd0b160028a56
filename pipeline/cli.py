"""The `sla` command: a thin layer over the library.

Each command parses its options, calls one function in `pipeline`, and turns a
library error (`pipeline.errors.PipelineError`) into a clear message and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pipeline import __version__, policy_history
from pipeline.audit import audit_renderables, audit_ticket, render_audit_html
from pipeline.breach_register import breach_register, export_register
from pipeline.demo import generate
from pipeline.errors import LoadError, PipelineError
from pipeline.evaluate import evaluate
from pipeline.i18n import LOCALES, Messages
from pipeline.load import (
    DST_RULES,
    LoadSummary,
    load_export,
    load_file,
)
from pipeline.metrics import run_counts, stored_summary
from pipeline.policy import Policy
from pipeline.report_monthly import write_monthly_report
from pipeline.report_sales import (
    CustomerContext,
    TiersContext,
    build_customer_context,
    build_tiers_context,
    write_sales_report,
)
from pipeline.retention import (
    DEFAULT_KEEP_LATEST,
    DEFAULT_REPORT_FOLDERS,
    compact_warehouse,
    leftover_copy,
    list_evaluations,
    plan_prune,
    prune_evaluations,
    pruned_runs,
)
from pipeline.status import RowListing, list_rows, uncounted_loads, warehouse_status
from pipeline.verify import verify_manifest
from pipeline.warehouse import connect
from pipeline.whatif import whatif, whatif_renderables


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into `click.ClickException` (exit 1, message, no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from exc
        except BrokenPipeError:
            # The reader went away (`sla policy show | head`): nothing left to say.
            # Python's documented recipe: point stdout at devnull so that the flush
            # at exit does not fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None
        except OSError as exc:
            # A path the user gave that cannot be written or read (a file where a
            # folder should be, no permission, a full disk): say which, no traceback.
            problem = exc.strerror or str(exc)
            raise click.ClickException(
                f"{exc.filename}: {problem}" if exc.filename else problem
            ) from exc

    return wrapper


@click.group()
@click.version_option(__version__, prog_name="sla")
def cli() -> None:
    """SLA compliance reporting on helpdesk ticket exports."""


# --- commands are registered below, one block per area ---------------------

DB_OPTION = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Warehouse file (default: $SLA_DB or data/warehouse.duckdb).",
)
# Wider than any table the commands print: a table's own width is measured in it.
_UNBOUNDED = 10_000


def _policy_option(help_text: str) -> Callable[..., Any]:
    return click.option(
        "--policy",
        "policy_path",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help=help_text,
    )


POLICY_OPTION = _policy_option("Policy TOML file (default: the built-in policy).")
# For commands that print one text for people: the report commands' option, one language.
LANG_OPTION = click.option(
    "--lang", "lang", default="en", show_default=True, help="Language: en, nl."
)
# For commands that read a stored evaluation: which policy's, when it matters.
POLICY_FILTER_OPTION = _policy_option(
    "Read the latest evaluation made with this policy file (default: any policy)."
)


def _policy_hash(path: str | None, evaluation_id: int | None) -> str | None:
    """The hash that picks the evaluation to read; --evaluation names one outright."""
    if path is not None and evaluation_id is not None:
        raise click.UsageError("--evaluation names the evaluation: leave out --policy")
    return None if path is None else Policy.from_toml(path).hash


def _progress(*columns: Any) -> Progress:
    """A live progress line on stderr, gone when done; nothing at all when stderr is
    not a terminal (a log or a pipe wants the results, not the animation)."""
    console = Console(stderr=True)
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


@contextlib.contextmanager
def _working(text: str) -> Iterator[None]:
    """A spinner with the elapsed time for a step that reports nothing until done
    (a month's report on a large warehouse, a verification): 20-30 s of silence
    at 300,000 tickets, minutes beyond. `text` is shown as it is: a path with braces
    or brackets is not read as a format field or as markup."""
    with _progress(
        SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn()
    ) as progress:
        progress.add_task(text, total=None)
        yield


def _show(console: Console, *renderables: Any) -> None:
    """Print rich renderables whole. Rich fits a table to the console (80 columns
    when the output goes to a pipe or a file) by cutting its cells short with an
    ellipsis; an instant or a count cut short is wrong, so a table wider than the
    console is printed at its own width and the lines wrap instead."""
    for item in renderables:
        natural = Measurement.get(console, console.options.update_width(_UNBOUNDED), item)
        width = console.width
        if natural.maximum > width:
            console.width = natural.maximum
        try:
            console.print(item)
        finally:
            console.width = width


def _earlier_tickets_notes(removed: int, kept: int) -> list[str]:
    """What a tickets file read again did to its earlier reading's tickets, said."""
    notes = []
    if removed:
        notes.append(
            f"removed {removed:,} ticket(s) of the earlier reading that this reading does "
            "not name (with the events that reading stored for them)"
        )
    if kept:
        notes.append(
            f"kept {kept:,} ticket(s) of the earlier reading as stored: this reading rejected "
            "their rows, so nothing replaced them"
        )
    return notes


def _same_file(a: str, b: str) -> bool:
    """Whether two source systems are two paths to one existing file (relative
    ones from the current folder)."""
    try:
        return a != b and os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _print_load(summary: LoadSummary) -> None:
    console = Console(soft_wrap=True)
    if summary.unchanged_since is not None:
        console.print(
            f"{summary.path}: same content as load #{summary.unchanged_since}; nothing changed."
        )
        return
    split = (
        f" (loaded {summary.loaded:,}, not applied {summary.not_applied:,})"
        if summary.not_applied
        else ""
    )
    console.print(
        f"{summary.path} ({summary.kind}, load #{summary.load_id}): read {summary.rows_read:,}, "
        f"accepted {summary.accepted:,}{split}, rejected {summary.rejected_total:,}"
    )
    if summary.rows_read == 0:
        # "read 0" alone reads like a reader that missed the rows of a file.
        console.print("  the file holds no rows: a header only, or nothing")
    if summary.read_again is not None:
        console.print(f"  read again: {summary.read_again}")
    for note in _earlier_tickets_notes(summary.earlier_removed, summary.earlier_kept):
        console.print(f"  {note}")
    for column in summary.ignored_columns:
        console.print(f"  ignored column {column}: not a field of {summary.kind}")
    for code, count in summary.rejected.items():
        console.print(f"  rejected     {code:<28} {count:>8,}")
    if summary.not_applied:
        console.print(f"  not applied  {'older_than_stored':<28} {summary.not_applied:>8,}")
    for code, count in summary.flagged.items():
        console.print(f"  flagged      {code:<28} {count:>8,}")
        if code in DST_RULES:
            console.print(f"    {DST_RULES[code]}")
    for this, stored, rows in summary.other_sources:
        if _same_file(this, stored):
            # A mapping without source_system stores the path it was named by:
            # the same mapping named by another path looks like another desk.
            hint = (
                f"; both name the same mapping file: name it {stored} as before, or give "
                f'the mapping source_system = "{stored}" so that any path to it loads as '
                "one desk (docs/mapping.md)"
            )
        elif not summary.source_system_column:
            hint = (
                "; the file has no source_system column, so its rows are canonical: a "
                f"correction of {stored}'s tickets names source_system {stored}"
            )
        else:
            hint = ""
        console.print(
            f"  id_from_other_source: {rows:,} ticket id(s) stored from {stored}, which this "
            f"file's rows (from {this}) would replace{hint}"
        )
    if summary.rejected:
        console.print(
            "  rejected rows are kept with their line, field, reason and raw text: "
            f"sla status --rejected --file {shlex.quote(summary.path)}"
        )
    if summary.not_applied:
        console.print(
            "  not applied: a newer version of the ticket is stored; the rows are kept: "
            f"sla status --not-applied --file {shlex.quote(summary.path)}; to apply a "
            "correction, give the file an updated_at column (docs/canonical-format.md)"
        )


@cli.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(["tickets", "events", "customers"]),
    default=None,
    help="What the file holds (default: told from its header).",
)
@click.option(
    "--source-tz",
    default=None,
    help="Time zone of naive timestamps in the files (e.g. Europe/Amsterdam, UTC).",
)
@click.option(
    "--preset",
    default="canonical",
    show_default=True,
    type=click.Choice(["canonical", "freshdesk", "jsm", "zendesk", "servicenow"]),
    help="The export's format: docs/presets.md.",
)
@click.option(
    "--mapping",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="A mapping file (TOML) for any other export: docs/mapping.md.",
)
@click.option(
    "--id-prefix",
    default=None,
    metavar="TEXT",
    help="Put TEXT before every ticket id of the files (tickets and events): for a second "
    "desk whose ids collide with another's (--id-prefix B-: its ticket 1 is stored as B-1).",
)
@DB_OPTION
@handle_errors
def load_command(
    files: tuple[str, ...],
    kind: str | None,
    source_tz: str | None,
    preset: str,
    mapping: str | None,
    id_prefix: str | None,
    db: str | None,
) -> None:
    """Load exports into the warehouse: canonical CSV/Parquet/JSON lines/XLSX, a
    preset, or any table through a mapping file."""
    con = connect(db)
    for done, path in enumerate(files):
        # A live spinner with elapsed time while a big file loads; gone when done.
        with _working(f"loading {path}"):
            try:
                summaries = load_export(
                    con,
                    path,
                    kind=kind,
                    source_tz=source_tz,
                    preset=preset,
                    mapping=mapping,
                    id_prefix=id_prefix,
                )
            except LoadError as exc:
                # Each file is one load: the ones before stay loaded, the rest are not
                # tried. Said, so that nobody reloads or misses them by guesswork.
                if len(files) == 1:
                    raise
                rest = len(files) - done - 1
                again = "it and the rest" if rest else "it"
                raise LoadError(
                    f"{exc}\n{done} file(s) before it stay loaded; {rest} after it not tried: "
                    f"mend it and load {again} again"
                ) from None
        for summary in summaries:
            _print_load(summary)


@cli.command("customers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--source-tz", default=None, help="Time zone of naive dates in the file.")
@DB_OPTION
@handle_errors
def customers_command(file: str, source_tz: str | None, db: str | None) -> None:
    """Load customers and their plan history (CSV/XLSX from billing or CRM)."""
    _print_load(load_file(connect(db), file, kind="customers", source_tz=source_tz))


LISTED_ROWS = 20  # rows `sla status --rejected` shows unless --limit says otherwise
RAW_SHOWN = 160  # characters of a row's raw text shown in a listing (csv: all)


@cli.command("status")
@click.option(
    "--rejected",
    is_flag=True,
    help="List the outstanding rejected rows: file, line, field, reason, value, raw text.",
)
@click.option(
    "--not-applied",
    is_flag=True,
    help="List the accepted rows not applied because a newer version of the ticket is stored.",
)
@click.option(
    "--flagged",
    is_flag=True,
    help="List the outstanding flagged rows: loaded, but suspicious or placed by the DST rule.",
)
@click.option("--file", "file_", default=None, help="With a listing: only rows of this file.")
@click.option("--reason", default=None, help="With a listing: only rows with this reason code.")
@click.option(
    "--all",
    "include_superseded",
    is_flag=True,
    help="With a listing: also the rows of earlier readings a later reading of the same "
    "file superseded (kept for audit).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help=f"With a listing: at most N rows (default {LISTED_ROWS}; with --format csv: all).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv"]),
    default="text",
    show_default=True,
    help="With a listing: csv writes every matching row, raw text whole, to standard output.",
)
@DB_OPTION
@handle_errors
def status_command(
    file_: str | None,
    reason: str | None,
    limit: int | None,
    fmt: str,
    db: str | None,
    *,
    rejected: bool,
    not_applied: bool,
    flagged: bool,
    include_superseded: bool,
) -> None:
    """What is loaded: loads, counts, date range, outstanding rejected and not-applied
    rows by reason, flags; with --rejected, --not-applied or --flagged, the rows
    themselves."""
    chosen = {"rejected": rejected, "not_applied": not_applied, "flagged": flagged}
    listings = [name for name, given in chosen.items() if given]
    if len(listings) > 1:
        # One flag used to win over the others, the one given last, without a word.
        options = [f"--{name.replace('_', '-')}" for name in listings]
        raise click.UsageError(
            f"{', '.join(options[:-1])} and {options[-1]} are {len(options)} listings: give "
            "one (run sla status once for each)"
        )
    listing = listings[0] if listings else None
    if listing is None:
        given = {
            "--file": file_,
            "--reason": reason,
            "--all": include_superseded or None,
            "--limit": limit,
            "--format": None if fmt == "text" else fmt,
        }
        named = [name for name, value in given.items() if value is not None]
        if named:
            raise click.UsageError(
                f"{', '.join(named)} choose{'s' if len(named) == 1 else ''} rows of a listing: "
                "add --rejected, --not-applied or --flagged"
            )
        _print_status(connect(db, must_exist=True, reading=True))
        return
    con = connect(db, must_exist=True, reading=True)
    found = list_rows(
        con,
        listing,
        file=file_,
        reason=reason,
        limit=limit if limit is not None or fmt == "csv" else LISTED_ROWS,
        include_superseded=include_superseded,
    )
    if fmt == "csv":
        # No console: a terminal's width must not wrap the rows. Line ends as the
        # platform's text mode writes them, like any other standard output.
        found.rows.to_csv(sys.stdout, index=False)
        return
    _print_rows(found, include_superseded=include_superseded)
    uncounted = uncounted_loads(con) if listing == "not_applied" else []
    if uncounted:
        loads = ", ".join(f"#{load_id} ({path})" for load_id, path in uncounted)
        click.echo(
            f"not listed: the rows older than the stored version that load {loads} skipped "
            "before this warehouse was upgraded to keep them (not counted either); load the "
            "file again to list them"
        )


# The not-applied count of a tickets load made before they were counted
# (migration 053): unknown, which 0 would misstate.
NOT_COUNTED = "not counted"


def _print_status(con: Any) -> None:
    status = warehouse_status(con)
    console = Console(soft_wrap=True)
    table = Table(
        "load",
        "kind",
        "file",
        "sha256",
        "read",
        "accepted",
        "not applied",
        "rejected",
        "flagged",
        "source tz",
        "id prefix",
        "read again",
        title="Loads",
    )
    for row in status.loads.itertuples():
        table.add_row(
            str(row.load_id),
            row.kind,
            row.path,
            row.sha256,
            # A load skipped as unchanged read nothing; said here, whatever its zone.
            "unchanged" if row.unchanged else f"{row.rows_read:,}",
            f"{row.accepted:,}",
            NOT_COUNTED if pd.isna(row.not_applied) else f"{int(row.not_applied):,}",
            f"{row.rejected:,}",
            f"{row.flagged:,}",
            row.source_tz if isinstance(row.source_tz, str) and row.source_tz else "-",
            row.id_prefix if isinstance(row.id_prefix, str) else "-",
            "-" if pd.isna(row.superseded_by) else f"#{int(row.superseded_by)}",
        )
    _show(console, table)
    console.print(
        "read = accepted + rejected (unchanged: the same content as an earlier load, not read); "
        "not applied: accepted rows not stored, a newer version of the ticket was; read "
        "again: the file's later reading, whose rows replace this one's"
    )
    if status.loads["not_applied"].isna().any():
        console.print(
            f"{NOT_COUNTED}: a tickets load made before this warehouse was upgraded to keep "
            "not-applied rows skipped rows older than the stored version of their ticket "
            "without counting or keeping them; load the file again to count them"
        )
    for row in status.loads.itertuples():
        if isinstance(row.read_again, str):
            notes = _earlier_tickets_notes(
                0 if pd.isna(row.earlier_removed) else int(row.earlier_removed),
                0 if pd.isna(row.earlier_kept) else int(row.earlier_kept),
            )
            console.print(
                f"load #{row.load_id} read {row.path} again: " + "; ".join([row.read_again, *notes])
            )
    console.print(", ".join(f"{k}: {v:,}" for k, v in status.counts.items()))
    stored, pruned = pruned_runs(con)
    if pruned:
        console.print(
            f"evaluations: {stored:,} with their result rows stored, {pruned:,} pruned "
            "(record kept): sla evaluations list"
        )
    leftover = leftover_copy(con)
    if leftover is not None:
        copy, size = leftover
        console.print(
            f"{copy} ({size:,} bytes) is the copy of an interrupted compaction, not the "
            "warehouse: the next sla evaluations compact removes it, or delete it"
        )
    low, high = status.created_range
    later, latest = status.created_later
    if low is None and not later:
        console.print("no tickets loaded yet: sla customers FILE, then sla load FILE")
    elif low is not None:
        console.print(f"tickets created from {low} to {high}")
    if later:
        console.print(
            f"{later:,} ticket{'s' if later > 1 else ''} created after now "
            f"(the latest {latest}): flagged created_in_future when loaded"
        )
    outstanding = {
        "rejected": int(status.rejected["rows"].sum()),
        "not_applied": int(status.not_applied["rows"].sum()),
    }
    counted = [("rejected", r.reason_code, r.field, r.rows) for r in status.rejected.itertuples()]
    counted += [
        ("not applied", r.reason_code, r.field, r.rows) for r in status.not_applied.itertuples()
    ]
    counted += [("flagged", r.flag_code, r.field, r.rows) for r in status.flagged.itertuples()]
    for what, code, field, rows in counted:
        console.print(f"  {what:<12} {code:<28} {field or '':<20} {rows:>8,}")
    for code in sorted(set(status.flagged["flag_code"]) & set(DST_RULES)):
        console.print(f"{code}: {DST_RULES[code]}")
    if len(status.flagged):
        console.print(
            "flagged rows, with their line, field and what was read: sla status --flagged"
        )
    for what, option in (("rejected", "--rejected"), ("not_applied", "--not-applied")):
        shown = what.replace("_", " ")
        if outstanding[what]:
            console.print(f"{shown} rows, with their line, field and raw text: sla status {option}")
        if status.superseded[what]:
            console.print(
                f"{status.superseded[what]:,} {shown} row(s) of earlier readings no longer "
                f"count: the same file was read again since (kept: sla status {option} --all)"
            )


def _print_rows(found: RowListing, *, include_superseded: bool) -> None:
    """A listing, one row a block: where, why, the value at fault, the raw text."""
    console = Console(soft_wrap=True, highlight=False)
    shown = found.what.replace("_", " ")
    scope = "" if include_superseded else "outstanding "
    if found.matching == 0:
        console.print(f"no {scope}{shown} rows")
        return
    console.print(f"{found.matching:,} {scope}{shown} row(s)")
    for row in found.rows.itertuples():
        where = f"{row.file}, line {'?' if pd.isna(row.line_number) else int(row.line_number)}"
        field = f", field {row.field}" if isinstance(row.field, str) else ""
        if isinstance(row.source_column, str) and row.source_column != row.field:
            field += f" (column {row.source_column!r})"
        ticket = f", ticket {row.ticket_id}" if isinstance(row.ticket_id, str) else ""
        gone = (
            "" if pd.isna(row.superseded_by) else f" [superseded by load #{int(row.superseded_by)}]"
        )
        console.print(
            f"{where}{field}{ticket} (load #{row.load_id}): {row.reason_code}{gone}",
            markup=False,
        )
        detail = row.message if isinstance(row.message, str) else ""
        if isinstance(row.value, str):
            detail = f"{detail}; value {row.value!r}" if detail else f"value {row.value!r}"
        if detail:
            console.print(f"    {detail}", markup=False)
        if found.what == "flagged":
            continue  # a flagged row was loaded: no raw text is kept
        raw = row.raw if isinstance(row.raw, str) else ""
        if len(raw) > RAW_SHOWN:
            raw = raw[: RAW_SHOWN - 1] + "…"
        console.print(f"    raw: {raw}", markup=False)
    if found.more:
        console.print(
            f"… and {found.more:,} more: --limit {found.matching} shows them all, "
            "--format csv writes them all"
        )


# What --as-of takes (evaluate.INSTANT_FORM): the zone a reading without an
# offset is taken in was not said, nor that a date alone is its midnight.
AS_OF_FORMS = (
    "YYYY-MM-DDTHH:MM[:SS] with Z or an offset (+01:00), or without one in the policy's "
    "report zone (Europe/Amsterdam in the built-in policy); a date alone is its midnight"
)


@cli.command("evaluate")
@POLICY_OPTION
@click.option(
    "--from", "month_from", default=None, help="First month counted, YYYY-MM (default: all)."
)
@click.option("--to", "month_to", default=None, help="Last month counted, YYYY-MM (default: all).")
@click.option(
    "--as-of",
    default=None,
    help=f"Evaluate the state known at this instant: {AS_OF_FORMS} (default: now).",
)
@click.option(
    "--policy-version",
    default=None,
    help="Judge every ticket by this policy version instead of the one in force.",
)
@DB_OPTION
@handle_errors
def evaluate_command(
    policy_path: str | None,
    month_from: str | None,
    month_to: str | None,
    as_of: str | None,
    policy_version: str | None,
    db: str | None,
) -> None:
    """Evaluate every ticket and metric; store the run in sla_results."""
    con = connect(db, must_exist=True)
    # A live bar of tickets evaluated (a chunk of a million at a time); gone when done.
    with _progress(
        SpinnerColumn(),
        TextColumn("evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tickets"),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task("evaluate", total=None)
        run = evaluate(
            con,
            Policy.load(policy_path),
            month_from=month_from,
            month_to=month_to,
            as_of=as_of,
            force_version=policy_version,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console = Console(soft_wrap=True)
    console.print(
        f"evaluation #{run.evaluation_id}: {run.tickets_evaluated:,} tickets, {run.rows:,} "
        f"result rows, as of {run.as_of.isoformat()}, policy {run.policy.hash[:12]}"
    )
    if run.as_of > pd.Timestamp.now(tz="UTC"):
        # Allowed (a report of the month under way), but open tickets are then
        # measured up to an instant that has not come yet.
        console.print(Messages("en")("as_of_future"))
    _print_summary(console, stored_summary(con, run.evaluation_id))
    counts = run_counts(con, run.evaluation_id)
    if counts["outage_calls"]:
        console.print(
            f"outage line, out of hours: {counts['outage_calls']:,} calls, "
            f"{counts['billable_calls']:,} billable (cause: "
            f"{' or '.join(run.policy.billable_cause_domains())})"
        )
    if counts["no_policy_in_force"]:
        console.print(
            f"{counts['no_policy_in_force']:,} tickets created before "
            f"{run.policy.versions[0].effective_from}, when the policy's first version took "
            "effect: judged by none, stored as no_sla (no_policy_in_force)"
        )


def _print_summary(console: Console, summary) -> None:
    table = Table(
        "tier",
        "metric",
        "closed",
        "met",
        "breached",
        "open",
        "excluded",
        "compliance",
        "95% CI",
        title="Compliance",
    )
    for row in summary.itertuples():
        pct = "-" if row.compliance != row.compliance else f"{row.compliance:.1%}"
        ci = "-" if row.ci_low != row.ci_low else f"{row.ci_low:.1%}-{row.ci_high:.1%}"
        tier = row.tier + (" (benchmark only)" if row.benchmark_only else "")
        table.add_row(
            tier,
            row.metric,
            f"{row.closed:,}",
            f"{row.met:,}",
            f"{row.breached:,}",
            f"{row.open:,}",
            f"{row.excluded:,}",
            pct,
            ci,
        )
    _show(console, table)


@cli.command("whatif")
@click.option(
    "--policy",
    "other_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The other policy.",
)
@click.option(
    "--current",
    "current_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="The policy to compare with (default: the built-in one).",
)
@click.option(
    "--from", "month_from", default=None, help="First month counted, YYYY-MM (default: all)."
)
@click.option("--to", "month_to", default=None, help="Last month counted, YYYY-MM (default: all).")
@click.option(
    "--as-of",
    default=None,
    help=f"Both sides see the state known at this instant: {AS_OF_FORMS} (default: now).",
)
@LANG_OPTION
@DB_OPTION
@handle_errors
def whatif_command(
    other_path: str,
    current_path: str | None,
    month_from: str | None,
    month_to: str | None,
    as_of: str | None,
    lang: str,
    db: str | None,
) -> None:
    """Compliance under the current and another policy, side by side; stores nothing."""
    lang = _lang(lang)  # before the evaluations, which take a while
    side = whatif(
        connect(db, must_exist=True),
        Policy.from_toml(other_path),
        current=Policy.load(current_path),
        month_from=month_from,
        month_to=month_to,
        as_of=as_of,
    )
    _show(
        Console(soft_wrap=True),
        *whatif_renderables(side, other_path, month_from=month_from, month_to=month_to, lang=lang),
    )


@cli.group("report")
def report_group() -> None:
    """Render reports: monthly compliance, tier value and customer cases for sales."""


def report_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every report shares: languages, formats, output folder, policy, warehouse."""
    options = [
        click.option(
            "--lang",
            "langs",
            default="en",
            show_default=True,
            help="Languages, comma-separated: en, nl.",
        ),
        click.option(
            "--format",
            "formats",
            default="html,pdf",
            show_default=True,
            help="Formats, comma-separated: html, pdf.",
        ),
        click.option(
            "--out",
            default="reports",
            show_default=True,
            type=click.Path(file_okay=False),
            help="Folder to write into, created if needed (monthly: a folder per month in it).",
        ),
        POLICY_OPTION,
        DB_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return func


@report_group.command("monthly", short_help="Monthly compliance report for management.")
@click.option("--month", required=True, help="The month, YYYY-MM.")
@report_options
@handle_errors
def report_monthly_command(
    month: str, langs: str, formats: str, out: str, policy_path: str | None, db: str | None
) -> None:
    """Monthly compliance report for management (reports/MONTH/sla-report.LANG.html, .pdf)."""
    wanted = _formats(formats)
    with _working(f"rendering the report of {month}"):
        paths = write_monthly_report(
            connect(db, must_exist=True),
            month,
            langs=_langs(langs),
            formats=wanted,
            out_dir=out,
            policy=Policy.load(policy_path),
        )
    for path in paths:
        click.echo(f"wrote {path}")


def sales_report_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options the sales reports share: a month range, then those of every report."""
    func = report_options(func)
    func = click.option("--to", "month_to", required=True, help="Last month, YYYY-MM.")(func)
    return click.option("--from", "month_from", required=True, help="First month, YYYY-MM.")(func)


def _write_sales_reports(
    db: str | None,
    policy_path: str | None,
    formats: str,
    langs: str,
    out: str,
    *,
    build: Callable[..., TiersContext | CustomerContext],
    template: str,
    stem: str,
    params: dict,
) -> None:
    """A sales report's document(s) and manifest in each language asked for;
    `build(con, lang=..., policy=...)` makes a language's context."""
    con = connect(db, must_exist=True)
    wanted, policy = _formats(formats), Policy.load(policy_path)
    for lang in _langs(langs):
        with _working(f"rendering {stem}.{lang}"):
            context = build(con, lang=lang, policy=policy)
            written = write_sales_report(
                con, context, template, out, f"{stem}.{lang}", wanted, params
            )
        for path in written:
            click.echo(f"wrote {path}")


@report_group.command("tiers", short_help="What each tier is worth, for sales.")
@sales_report_options
@handle_errors
def report_tiers_command(
    month_from: str,
    month_to: str,
    langs: str,
    formats: str,
    out: str,
    policy_path: str | None,
    db: str | None,
) -> None:
    """Tier value for sales: promises against what customers experienced."""
    _write_sales_reports(
        db,
        policy_path,
        formats,
        langs,
        out,
        build=functools.partial(build_tiers_context, month_from=month_from, month_to=month_to),
        template="tiers.html.j2",
        stem=f"tiers-{month_from}-{month_to}",
        params={"report": "tiers", "month_from": month_from, "month_to": month_to},
    )


@report_group.command("customer", short_help="One customer's upgrade case, for sales.")
@click.argument("customer_id")
@sales_report_options
@handle_errors
def report_customer_command(
    customer_id: str,
    month_from: str,
    month_to: str,
    langs: str,
    formats: str,
    out: str,
    policy_path: str | None,
    db: str | None,
) -> None:
    """One customer's tickets and their honest upgrade case (names appear only here)."""
    _write_sales_reports(
        db,
        policy_path,
        formats,
        langs,
        out,
        build=functools.partial(
            build_customer_context,
            customer_id=customer_id,
            month_from=month_from,
            month_to=month_to,
        ),
        template="customer.html.j2",
        stem=f"customer-{customer_id}-{month_from}-{month_to}",
        params={
            "report": "customer",
            "customer_id": customer_id,
            "month_from": month_from,
            "month_to": month_to,
        },
    )


def _formats(text: str) -> tuple[str, ...]:
    return _choices(text, ("html", "pdf"), "--format", "format")


def _langs(text: str) -> tuple[str, ...]:
    return _choices(text, tuple(LOCALES), "--lang", "language")


def _lang(text: str) -> str:
    """The one language of a command that prints a single text (the reports take several)."""
    langs = _langs(text)
    if len(langs) > 1:
        raise click.BadParameter(
            f"this command writes one text: name one language of {', '.join(LOCALES)}",
            param_hint="--lang",
        )
    return langs[0]


def _choices(text: str, known: tuple[str, ...], option: str, what: str) -> tuple[str, ...]:
    """A comma-separated list of known values, at least one (an empty list would
    write a manifest listing no document, over the last one), each once: a value
    named twice rendered its documents twice."""
    wanted = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    if not wanted:
        raise click.BadParameter(f"name at least one {what}: {', '.join(known)}", param_hint=option)
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise click.BadParameter(
            f"unknown {what} {unknown[0]!r}: use {', '.join(known)}", param_hint=option
        )
    return wanted


@cli.group("audit")
def audit_group() -> None:
    """Audits: one ticket re-derived, the breach register, report verification."""


@audit_group.command("ticket")
@click.argument("ticket_id")
@click.option(
    "--evaluation",
    "evaluation_id",
    type=int,
    default=None,
    help="Evaluation id (default: the latest stored, not a verify's re-run).",
)
@POLICY_FILTER_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="text for the terminal, json for tools, html to keep.",
)
@click.option(
    "--lang",
    "lang",
    default="en",
    show_default=True,
    help="Language of the text and html: en, nl (json is the same in each).",
)
@DB_OPTION
@handle_errors
def audit_ticket_command(
    ticket_id: str,
    evaluation_id: int | None,
    policy_path: str | None,
    fmt: str,
    lang: str,
    db: str | None,
) -> None:
    """A ticket's full story as the evaluation saw it, and the arithmetic."""
    lang = _lang(lang)
    audit = audit_ticket(
        connect(db, must_exist=True, reading=True),
        ticket_id,
        evaluation_id=evaluation_id,
        policy_hash=_policy_hash(policy_path, evaluation_id),
        # JSON is for tools: its reasons stay in one language whatever is asked.
        lang="en" if fmt == "json" else lang,
    )
    if fmt == "json":
        click.echo(audit.to_json())
    elif fmt == "html":
        click.echo(render_audit_html(audit))
    else:
        _show(Console(soft_wrap=True), *audit_renderables(audit))


@audit_group.command("breaches")
@click.option("--from", "month_from", required=True, help="First month, YYYY-MM.")
@click.option("--to", "month_to", required=True, help="Last month, YYYY-MM.")
@click.option(
    "--tier",
    default=None,
    help="Only this tier's breaches: its key or label in the policy, in any case (premium or "
    "Premium in the built-in one).",
)
@click.option(
    "--evaluation",
    "evaluation_id",
    type=int,
    default=None,
    help="The evaluation to read (default: the latest stored that covers the months, not a "
    "verify's re-run).",
)
@POLICY_FILTER_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "parquet", "html"]),
    default="csv",
    show_default=True,
)
@click.option(
    "--out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Output file (default: reports/breaches-FROM-TO.FORMAT).",
)
@DB_OPTION
@handle_errors
def audit_breaches_command(
    month_from: str,
    month_to: str,
    tier: str | None,
    evaluation_id: int | None,
    policy_path: str | None,
    fmt: str,
    out: str | None,
    db: str | None,
) -> None:
    """The breach register: one row per breached ticket and metric."""
    target = Path(out or f"reports/breaches-{month_from}-{month_to}.{fmt}")
    if target.suffix.lower() != f".{fmt}":
        # An XLSX workbook named .csv opens as garbage (or not at all) elsewhere.
        raise click.BadParameter(
            f"{target.name} does not end in .{fmt}: name the file for its format",
            param_hint="--out",
        )
    policy_hash = _policy_hash(policy_path, evaluation_id)
    with _working(f"writing {target}"):
        frame = breach_register(
            connect(db, must_exist=True, reading=True),
            month_from=month_from,
            month_to=month_to,
            tier=tier,
            evaluation_id=evaluation_id,
            policy_hash=policy_hash,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        export_register(frame, target, fmt)
    # Which judgement this is: by default the latest evaluation covering the months,
    # which may be a run under another policy; the line says so.
    used = frame.attrs["evaluation"]
    # The monthly report counts the closed breaches and lists the open ones apart.
    still_open = int((frame["status"] == "open_breached").sum()) if len(frame) else 0
    counted = (
        f"{len(frame):,} breaches, {len(frame) - still_open:,} closed and {still_open:,} still open"
        if still_open
        else f"{len(frame):,} breaches"
    )
    click.echo(
        f"wrote {target} ({counted}; evaluation #{used['evaluation_id']}, as of "
        f"{used['as_of']}, policy {used['policy_hash'][:12]} from {used['policy_source']})"
    )


@audit_group.command("verify")
@click.argument("manifest", type=click.Path(dir_okay=False))
@DB_OPTION
@handle_errors
def audit_verify_command(manifest: str, db: str | None) -> None:
    """Re-evaluate a rendered report's month and confirm every figure and stored row."""
    with _working(f"re-evaluating and comparing {manifest}"):
        result = verify_manifest(connect(db, must_exist=True), manifest)
    if result.reproduced:
        click.echo(
            f"all {result.figures_checked} figures reproduced exactly "
            f"(re-evaluation #{result.new_evaluation_id})"
        )
        if result.rows_checked is not None:
            click.echo(
                f"and every one of the {result.rows_checked:,} stored result rows the report "
                "was read from"
            )
        elif result.pruned_at is not None:
            click.echo(_pruned_note(result))
        else:
            click.echo(
                "the report's evaluation is not in this warehouse: its stored rows were not "
                "compared"
            )
        if result.breach_rows_checked is not None:
            click.echo(
                f"the breach lists re-derived ({result.breach_rows_checked:,} rows) are the "
                "breaches.csv rendered"
            )
        if result.documents_checked:
            click.echo(f"documents as rendered: {', '.join(result.documents_checked)}")
        if result.documents_absent:
            absent = ", ".join(result.documents_absent)
            click.echo(f"not beside the manifest, not checked: {absent}")
        for line in result.reasons:
            click.echo(f"note: {line}")
        return
    for line in result.differences:
        click.echo(f"differs: {line}")
    # What did hold, so that one difference does not read as everything failing.
    if result.rows_reproduced:
        click.echo(
            f"reproduced: every one of the {result.rows_checked:,} stored result rows the "
            "report was read from"
        )
    if result.documents_checked:
        click.echo(f"documents as rendered: {', '.join(result.documents_checked)}")
    for line in result.reasons:
        click.echo(f"why: {line}")
    if result.pruned_at is not None:
        click.echo(_pruned_note(result))
    if result.documents_absent:
        click.echo(f"not beside the manifest, not checked: {', '.join(result.documents_absent)}")
    raise click.exceptions.Exit(1)


def _pruned_note(result: Any) -> str:
    return (
        f"the report's evaluation was pruned on {result.pruned_at:%Y-%m-%d %H:%M} UTC (sla "
        "evaluations prune): its stored result rows are gone and could not be compared; "
        "the figures were re-derived from the loaded data and compared with the manifest's"
    )


@cli.group("evaluations")
def evaluations_group() -> None:
    """Stored evaluation runs: list them, prune the rows no report needs, compact."""


def _size_text(size: int | None) -> str:
    return "-" if size is None else f"{size / 2**20:,.1f} MiB"


@evaluations_group.command("list")
@DB_OPTION
@handle_errors
def evaluations_list_command(db: str | None) -> None:
    """Every evaluation run: when, what made it, policy, as-of, months, rows, pruned."""
    runs = list_evaluations(connect(db, must_exist=True, reading=True))
    console = Console(soft_wrap=True)
    if runs.empty:
        console.print("no evaluations yet: sla evaluate")
        return
    _show(console, _runs_table(runs, title="Evaluations"))
    stored = runs[runs["pruned_at"].isna()]
    console.print(
        f"{len(runs):,} runs, {len(stored):,} with their rows stored "
        f"({int(stored['rows_stored'].sum()):,} rows), {len(runs) - len(stored):,} pruned "
        "(record kept, rows removed)"
    )


def _runs_table(runs: pd.DataFrame, *, title: str, kept: bool = False) -> Table:
    table = Table(
        "id",
        "stored at (UTC)",
        "made by",
        "policy",
        "as of (UTC)",
        "months",
        "rows",
        "rows now",
        *(("kept because",) if kept else ("pruned",)),
        title=title,
    )
    for row in runs.itertuples():
        start, end = (m if isinstance(m, str) else None for m in (row.month_from, row.month_to))
        months = (
            f"{start} to {end}"
            if start and end
            else f"from {start}"
            if start
            else f"to {end}"
            if end
            else "every month"
        )
        forced = f", forced {row.forced_version}" if isinstance(row.forced_version, str) else ""
        last = (
            (row.kept_because or "to prune")
            if kept
            else ("-" if pd.isna(row.pruned_at) else f"{pd.Timestamp(row.pruned_at):%Y-%m-%d}")
        )
        table.add_row(
            str(row.evaluation_id),
            f"{pd.Timestamp(row.started_at).tz_convert('UTC'):%Y-%m-%d %H:%M}",
            row.made_by,
            f"{row.policy_name} {row.policy_hash[:12]}{forced}",
            pd.Timestamp(row.as_of).tz_convert("UTC").isoformat(),
            months,
            "-" if pd.isna(row.rows_written) else f"{int(row.rows_written):,}",
            f"{int(row.rows_stored):,}",
            last,
        )
    return table


@evaluations_group.command("prune")
@click.option(
    "--reports",
    "report_folders",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Folder whose report manifests (manifest.json, *.manifest.json, at any depth) name "
    "runs to keep; repeat for several (default: reports).",
)
@click.option(
    "--keep-latest",
    type=click.IntRange(min=0),
    default=DEFAULT_KEEP_LATEST,
    show_default=True,
    help="Also keep the N most recent runs.",
)
@click.option(
    "--keep-since",
    default=None,
    help="Also keep every run stored on or after this day (YYYY-MM-DD, UTC).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed, remove nothing.")
@DB_OPTION
@handle_errors
def evaluations_prune_command(
    report_folders: tuple[str, ...],
    keep_latest: int,
    keep_since: str | None,
    db: str | None,
    *,
    dry_run: bool,
) -> None:
    """Remove the result rows of runs no report manifest names, keeping the latest
    and recent ones; each run's record (policy, as-of, inputs) is kept, marked pruned."""
    con = connect(db, must_exist=True)
    plan = plan_prune(
        con,
        report_folders=report_folders or DEFAULT_REPORT_FOLDERS,
        keep_latest=keep_latest,
        keep_since=_date(keep_since, option="--keep-since"),
    )
    console = Console(soft_wrap=True)
    if plan.runs.empty:
        console.print("no evaluations yet: nothing to prune")
        return
    _show(console, _runs_table(plan.runs, title="Evaluations", kept=True))
    named = len({m for paths in plan.manifests.values() for m in paths})
    console.print(
        f"{named:,} manifest(s) under {', '.join(plan.folders)} name "
        f"{len(plan.manifests):,} run(s)",
        markup=False,
    )
    if plan.unknown_manifest_runs:
        console.print(
            "named by a manifest but not in this warehouse (made elsewhere): "
            + ", ".join(f"#{e}" for e in plan.unknown_manifest_runs)
        )
    ids = plan.to_prune
    if not ids:
        console.print("nothing to prune: every stored run is kept")
        return
    estimate = "" if plan.estimated_bytes is None else f", about {_size_text(plan.estimated_bytes)}"
    listed = ", ".join(f"#{e}" for e in ids)
    if dry_run:
        console.print(
            f"would prune {len(ids):,} run(s) ({listed}): {plan.rows:,} result rows{estimate}; "
            "nothing was changed (leave out --dry-run to prune)"
        )
        return
    result = prune_evaluations(con, plan)
    console.print(
        f"pruned {len(result.pruned):,} run(s) ({listed}): {result.rows_removed:,} result rows "
        "removed; their records are kept, marked pruned"
    )
    if result.file_bytes_before is not None:
        console.print(
            f"warehouse file: {_size_text(result.file_bytes_before)} before, "
            f"{_size_text(result.file_bytes_after)} after. DuckDB reuses the freed space for "
            "later runs; to give it back to the disk: sla evaluations compact"
        )


@evaluations_group.command("compact")
@DB_OPTION
@handle_errors
def evaluations_compact_command(db: str | None) -> None:
    """Rewrite the warehouse into a fresh file and swap it in, giving the space of
    pruned rows back to the disk (needs as much free space as the file takes)."""
    con = connect(db, must_exist=True)
    with _working("compacting the warehouse"):
        result = compact_warehouse(con)
    click.echo(
        f"compacted {result.path}: {_size_text(result.bytes_before)} before, "
        f"{_size_text(result.bytes_after)} after"
    )


@cli.group("policy")
def policy_group() -> None:
    """Policy history: versions in force and what changed."""


@policy_group.command("show")
@click.option("--at", "at", default=None, help="A date, YYYY-MM-DD (default: today).")
@POLICY_OPTION
@LANG_OPTION
@handle_errors
def policy_show_command(at: str | None, policy_path: str | None, lang: str) -> None:
    """Which version was in force on a date, and its rules."""
    day = _date(at) or dt.date.today()
    for line in policy_history.show_lines(Policy.load(policy_path), day, lang=_lang(lang)):
        click.echo(line)


@policy_group.command("diff")
@click.argument("first")
@click.argument("second")
@POLICY_OPTION
@LANG_OPTION
@handle_errors
def policy_diff_command(first: str, second: str, policy_path: str | None, lang: str) -> None:
    """What changed between two versions, setting by setting. FIRST and SECOND
    are version names (2025.1): sla policy show lists them."""
    policy = Policy.load(policy_path)
    for line in policy_history.diff_lines(policy, first, second, lang=_lang(lang)):
        click.echo(line)


def _date(text: str | None, *, option: str = "--at") -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint=option) from None


@cli.command("demo-data")
@click.option(
    "--out",
    default="data/sample",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for customers.csv, tickets.csv and events.csv.",
)
# Ranges the generator takes: outside them it failed with a traceback.
@click.option(
    "--tickets",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="How many tickets.",
)
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=2_500,
    show_default=True,
    help="How many customers.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Random seed: the same seed, the same files.",
)
@click.option("--no-broken-rows", is_flag=True, help="Leave out the deliberately broken rows.")
@handle_errors
def demo_data_command(
    out: str, tickets: int, customers: int, seed: int, *, no_broken_rows: bool
) -> None:
    """Write a seeded, realistic demo export (canonical CSV)."""
    files = generate(
        out, n_tickets=tickets, n_customers=customers, seed=seed, broken_rows=not no_broken_rows
    )
    click.echo(f"wrote {files.customers}, {files.tickets}, {files.events}")


def main() -> None:
    cli()
