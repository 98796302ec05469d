"""CLI: tidings direct-mail batch [--date] — the day's letters as a folder for the print vendor."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from tidings.cli import common

app = typer.Typer(help="Direct mail: daily batches of print-ready letters.", no_args_is_help=True)


@app.command("batch")
def batch(
    day: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD (default: today in TIDINGS_DIRECT_MAIL_TIMEZONE)")
    ] = None,
) -> None:
    """Write addresses.csv and manifest.json for a day's letters (PDFs are rendered as they are sent)."""
    from zoneinfo import ZoneInfo

    from tidings.channels.direct_mail import BatchFolder
    from tidings.domain.print_schedule import local_day

    c = common.open_container()
    try:
        when = date.fromisoformat(day) if day else local_day(c.clock.now(), ZoneInfo(c.settings.direct_mail_timezone))
    except ValueError:
        common.fail(f"--date: {day!r} is not a date (use YYYY-MM-DD)")
    result = BatchFolder(c.settings.direct_mail_dir).build(when, c.clock.now())
    common.console.print(
        f"{result.letters} letter(s) for {when.isoformat()}: {result.csv_path}", highlight=False
    )
