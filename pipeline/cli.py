"""The `sla` command: a thin layer over the library.

Each command parses its options, calls one function in `pipeline`, and turns a
library error (`pipeline.errors.PipelineError`) into a clear message and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from pipeline import __version__
from pipeline.errors import PipelineError


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into `click.ClickException` (exit 1, message, no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@click.group()
@click.version_option(__version__, prog_name="sla")
def cli() -> None:
    """SLA compliance reporting on helpdesk ticket exports."""


# --- commands are registered below, one block per area ---------------------


def main() -> None:
    cli()
