"""CLI: tidings import contacts FILE / tidings export contacts FILE / tidings export events|messages.

Exit status of an import: 0 when the file was read and at least one row imported (rejected
rows, if any, are listed and written to FILE.rejected.csv); 1 when the file cannot be read
(missing, not CSV, no header, a --map naming an unknown column) or no row was imported.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tidings.cli import common

import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
export_app = typer.Typer(help="Export data to files.", no_args_is_help=True)
SHOW_REJECTED = 50


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")


def parse_maps(maps: list[str]) -> dict[str, str]:
    out = {}
    for m in maps:
        col, sep, target = m.partition("=")
        if not sep or not col.strip() or not target.strip():
            common.fail(f"--map {m!r}: use COLUMN=FIELD, e.g. --map 'E-mail=email'")
        out[col.strip()] = target.strip()
    return out


@import_app.command("contacts")
def import_contacts(
    file: Annotated[Path, typer.Argument(help="CSV file with a header row (UTF-8)")],
    map_: Annotated[
        list[str],
        typer.Option(
            "--map",
            help="COLUMN=FIELD (repeatable); FIELD: email, phone, "
            "first_name, ..., tags, consent_email, attributes.KEY, ignore",
        ),
    ] = [],  # noqa: B006
    tag: Annotated[
        list[str], typer.Option("--tag", help="add this tag to every imported contact (repeatable)")
    ] = [],  # noqa: B006
    consent_channel: Annotated[
        str | None,
        typer.Option(help="record consent on this channel for every row (email, sms, direct_mail, phone)"),
    ] = None,
    consent_source: Annotated[str, typer.Option(help="source recorded with the consent")] = "import",
    consent_status: Annotated[str, typer.Option(help="status recorded with --consent-channel")] = "granted",
    preset: Annotated[
        str | None,
        typer.Option(help="the file is a vendor's export: mailchimp, mautic or hubspot (mapping + consent proof)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check the whole file and report the counts; write nothing")
    ] = False,
) -> None:
    """Import contacts from CSV: auto-mapped columns, upsert by external_id / email / phone, a report of
    every rejected row (line number and reason, also written to FILE.rejected.csv)."""
    from tidings.application.ingest.imports import ImportFileError, ImportOptions, import_contacts, write_rejected
    from tidings.domain.channels import CONSENT_CHANNELS
    from tidings.domain.contacts import CONSENT_STATUSES
    from tidings.domain.imports.presets import PRESETS

    if preset is not None and preset not in PRESETS:
        common.fail(f"--preset must be one of {', '.join(PRESETS)}")
    if consent_channel and consent_channel not in CONSENT_CHANNELS:
        common.fail(f"--consent-channel must be one of {', '.join(CONSENT_CHANNELS)}")
    if consent_status not in CONSENT_STATUSES:
        common.fail(f"--consent-status must be one of {', '.join(CONSENT_STATUSES)}")
    if not file.is_file():
        common.fail(f"no such file: {file}")
    opts = ImportOptions(
        mapping=parse_maps(map_),
        tags=tag,
        consent_channel=consent_channel,
        consent_source=consent_source,
        consent_status=consent_status,
        preset=preset,
        dry_run=dry_run,
    )
    c = common.open_container()
    try:
        with open(file, encoding="utf-8-sig", newline="") as f:
            total = max(0, sum(1 for _ in f) - 1)
    except (OSError, UnicodeDecodeError) as exc:
        common.fail(f"cannot read {file}: {exc}")
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=common.err_console,
        transient=False,
        disable=not sys.stderr.isatty(),
    )
    try:
        with progress, open(file, encoding="utf-8-sig", newline="") as f:
            task = progress.add_task("rows", total=total)
            report = import_contacts(
                c.uow, f, opts, c.clock.now, progress=lambda n: progress.update(task, completed=n)
            )
    except ImportFileError as exc:
        common.fail(f"{file}: {exc}")
    except UnicodeDecodeError as exc:
        common.fail(f"{file} is not UTF-8 text ({exc}); rows before the bad byte were imported")
    out = common.console
    if dry_run:
        out.print("dry run: nothing was written")
    would = "would be " if dry_run else ""
    out.print(
        f"{report.rows} rows: {report.created} {would}created, {report.updated} {would}updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
        + (f", {report.suppressed} addresses {would}suppressed" if report.suppressed else "")
    )
    if report.rejected:
        table = Table("line", "reason", title="rejected rows")
        for r in report.rejected[:SHOW_REJECTED]:
            table.add_row(str(r.line), r.reason)
        out.print(table)
        if len(report.rejected) > SHOW_REJECTED:
            out.print(f"... and {len(report.rejected) - SHOW_REJECTED} more")
        if dry_run:
            if report.imported == 0:
                common.fail("no row would be imported")
            return
        rejected_path = f"{file}.rejected.csv"
        with open(file, encoding="utf-8-sig", newline="") as f:
            import csv

            header = next(csv.reader(f), [])
        write_rejected(rejected_path, header, report)
        out.print(f"every rejected row, with its line and reason: {rejected_path}")
    if report.imported == 0:
        common.fail("no row would be imported" if dry_run else "no row was imported")


@export_app.command("contacts")
def export_contacts(
    file: Annotated[str, typer.Argument(help="CSV file to write, or - for standard output")],
    tag: Annotated[str | None, typer.Option(help="only contacts with this tag")] = None,
    stage: Annotated[str | None, typer.Option(help="only this lifecycle stage")] = None,
) -> None:
    """Export contacts to CSV (a cell starting with = + - @ gets a leading ' so spreadsheets won't run it)."""
    from tidings.application.contacts.contacts import ContactFilter
    from tidings.application.ingest.exports import export_csv_chunks

    c = common.open_container()
    if _write_chunks(export_csv_chunks(c.uow, ContactFilter(tag=tag, stage=stage)), file):
        common.console.print(f"exported to {file}")


def _write_chunks(chunks: Iterable[str], file: str) -> bool:
    """Stream ``chunks`` to ``file`` (``-``: standard output); True when written to a file."""
    if file == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        return False
    try:
        with open(file, "w", encoding="utf-8", newline="") as f:
            for chunk in chunks:
                f.write(chunk)
    except OSError as exc:
        common.fail(f"cannot write {file}: {exc}")
    return True


def _export_rows(kind: str, fmt: str, since: str | None, until: str | None, out: str) -> None:
    from tidings.application.ingest.exports import FORMATS, export_rows
    from tidings.domain.contacts import InvalidValue
    from tidings.domain.imports.presets import parse_time
    from tidings.store import exports_sql

    if fmt not in FORMATS:
        common.fail(f"--format must be one of {', '.join(FORMATS)}")
    try:
        window = parse_time(since or "", "--since"), parse_time(until or "", "--until")
    except InvalidValue as exc:
        common.fail(f"{exc.field}: {exc.message}")
    c = common.open_container()
    if _write_chunks(export_rows(exports_sql.reader(c.engine), kind, fmt, *window), out):
        common.console.print(f"exported {kind} to {out}")


FormatOpt = Annotated[str, typer.Option("--format", help="csv or jsonl (JSON Lines)")]
SinceOpt = Annotated[str | None, typer.Option(help="from this time, inclusive (ISO 8601; UTC if no zone)")]
UntilOpt = Annotated[str | None, typer.Option(help="up to this time, exclusive")]
OutOpt = Annotated[str, typer.Option("--out", help="file to write, or - for standard output")]


@export_app.command("events")
def export_events(fmt: FormatOpt = "csv", since: SinceOpt = None, until: UntilOpt = None, out: OutOpt = "-") -> None:
    """Export events (by occurred_at) as CSV or JSON Lines, streamed; formula cells made inert."""
    _export_rows("events", fmt, since, until, out)


@export_app.command("messages")
def export_messages(
    fmt: FormatOpt = "csv", since: SinceOpt = None, until: UntilOpt = None, out: OutOpt = "-"
) -> None:
    """Export messages (outbox rows, by created_at) as CSV or JSON Lines, streamed; formula cells made inert."""
    _export_rows("messages", fmt, since, until, out)
