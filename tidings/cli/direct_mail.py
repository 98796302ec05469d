"""CLI: tidings direct-mail batch [--date] — the day's letters as a folder for the print vendor."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from tidings.cli import common

app = typer.Typer(help="Direct mail: daily batches of print-ready letters.", no_args_is_help=True)


@app.command("batch")
def batch(
    day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: today, UTC)")] = None,
) -> None:
    """Write addresses.csv and manifest.json for a day's letters (PDFs are rendered as they are sent)."""
    from tidings.channels.direct_mail import BatchFolder

    c = common.open_container()
    try:
        when = date.fromisoformat(day) if day else c.clock.now().date()
    except ValueError:
        common.fail(f"--date: {day!r} is not a date (use YYYY-MM-DD)")
    result = BatchFolder(c.settings.direct_mail_dir).build(when, c.clock.now())
    common.console.print(
        f"{result.letters} letter(s) for {when.isoformat()}: {result.csv_path}", highlight=False
    )
