"""Helpers shared by CLI commands: building the container, printing errors."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

from tidings.bootstrap import Container, build
from tidings.masking import redact
from tidings.settings import Settings

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def open_container(database_url: str | None = None, *, migrate: bool = True) -> Container:
    """Build the container from the environment; the embedded default migrates itself."""
    settings = Settings.from_env(database_url=database_url) if database_url else Settings.from_env()
    if migrate:
        from tidings.store.db import create_engine
        from tidings.store.migrate import upgrade

        engine = create_engine(settings.database_url)
        try:
            upgrade(engine)
        except Exception as exc:  # pragma: no cover - reported to the user
            fail(redact(f"could not prepare the database at {settings.database_url}: {exc}", settings.database_url))
        return build(settings, engine=engine)
    return build(settings)


def is_tty() -> bool:
    return sys.stdout.isatty()
