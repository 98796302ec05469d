"""CLI: tidings audiences export / sync — a segment as a hashed ad audience (docs/audiences.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidings.cli import common

app = typer.Typer(help="Ad audiences: a segment as hashed emails and phones for Meta or Google.",
                  no_args_is_help=True)

Platform = Annotated[str, typer.Option("--platform", help="meta | google (normalisation and column names)")]


@app.command("export")
def export(
    segment: Annotated[str, typer.Argument(help="segment key")],
    out: Annotated[Path, typer.Option("--out", help="the CSV file to write")],
    platform: Platform = "meta",
) -> None:
    """Write the segment's hashed customer file; prints what was exported and skipped."""
    from tidings.application.audiences.export import AudienceError, ExportCounts, csv_chunks

    c = common.open_container()
    counts = ExportCounts()
    try:
        chunks = csv_chunks(c.audience_members, segment, platform, counts)
    except AudienceError as exc:
        common.fail(f"{exc.field}: {exc.message}")
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            for text in chunks:
                fh.write(text)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        common.fail(f"cannot write {out}: {exc}")
    common.console.print(
        f"{out}: {counts.exported} exported, {counts.skipped_no_identifier} skipped without email/phone, "
        f"{counts.skipped_no_consent} skipped without consent", highlight=False)


@app.command("sync")
def sync(
    segment: Annotated[str, typer.Argument(help="segment key")],
    destination: Annotated[str, typer.Option("--destination", help="a name in TIDINGS_AUDIENCE_DESTINATIONS")],
    platform: Platform = "meta",
) -> None:
    """Send the destination what changed since the last sync (adds, then removes, in batches)."""
    from tidings.application.audiences.export import AudienceError
    from tidings.application.audiences.sync import sync_segment
    from tidings.application.ports.audiences import AudienceSyncError

    c = common.open_container()
    try:
        target = c.audience_destination(destination, platform)
    except KeyError:
        names = ", ".join(n for n, _ in c.settings.audience_destinations) or "none configured"
        common.fail(f"no audience destination {destination!r} (TIDINGS_AUDIENCE_DESTINATIONS: {names})")
    try:
        result = sync_segment(c.audience_members, c.synced_audiences, target, destination_name=destination,
                              segment_key=segment, platform=platform, clock=c.clock)
    except AudienceError as exc:
        common.fail(f"{exc.field}: {exc.message}")
    except AudienceSyncError as exc:
        common.fail(f"sync stopped: {exc} (batches already accepted are remembered)")
    k = result.counts
    common.console.print(
        f"{destination}: {result.added} hashes added, {result.removed} removed, {result.unchanged} unchanged "
        f"({k.exported} contacts, {k.skipped_no_identifier} without email/phone, "
        f"{k.skipped_no_consent} without consent)", highlight=False)
