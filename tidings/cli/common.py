"""Helpers shared by CLI commands: building the container, printing errors, reading dates."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import NoReturn

import typer
from rich.console import Console

from tidings import bootstrap
from tidings.bootstrap import Container

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def open_container(database_url: str | None = None, *, migrate: bool = True) -> Container:
    """Build the container from the environment; the embedded default migrates itself."""
    try:
        return bootstrap.open_container(database_url, migrate=migrate)
    except bootstrap.StartupError as exc:
        fail(str(exc))


def is_tty() -> bool:
    return sys.stdout.isatty()


def parse_when(value: str | None, option: str) -> datetime | None:
    """A --from/--to date (2027-01-31 or an ISO time, UTC when no zone is given)."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: a date like 2027-01-31, got {value!r}")
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
