"""CLI: tidings retention show | set KIND DAYS | dry-run | run | log (docs/privacy.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tidings.cli import common

if TYPE_CHECKING:
    from tidings.application.ports.privacy import RetentionSessions
    from tidings.bootstrap import Container

app = typer.Typer(
    help="Retention policies: what is deleted after how many days; dry run, run now, the log.",
    no_args_is_help=True,
)


def _sessions() -> tuple[Container, RetentionSessions]:
    from tidings.store.retention_sql import retention_sessions

    c = common.open_container()
    return c, retention_sessions(c.engine)


def _print_counts(counts: dict[str, int], verb: str) -> None:
    if not counts:
        common.console.print("no kind is enabled (tidings retention set KIND DAYS)")
        return
    table = Table("kind", verb, box=None)
    for kind, n in counts.items():
        table.add_row(kind, str(n))
    common.console.print(table)


@app.command("show")
def show() -> None:
    """Each kind and its days (off: kept for ever)."""
    from tidings.application.privacy import retention

    _, sessions = _sessions()
    table = Table("kind", "older than (days)", box=None)
    for kind, days in retention.load_policy(sessions).document().items():
        table.add_row(kind, "off" if days is None else str(days))
    common.console.print(table)


@app.command("set")
def set_(
    kind: Annotated[str, typer.Argument(help="events | traces | outbox | inbox | anonymous_contacts")],
    days: Annotated[str, typer.Argument(help="whole days to keep, or 'off'")],
) -> None:
    """Delete KIND rows older than DAYS days (``off``: keep them for ever)."""
    from tidings.application.privacy import retention
    from tidings.domain.retention import InvalidPolicy

    value: int | None
    if days.strip().lower() == "off":
        value = None
    elif days.strip().isdigit():
        value = int(days)
    else:
        common.fail(f"DAYS must be a whole number of days or 'off', not {days!r}")
    c, sessions = _sessions()
    try:
        retention.set_days(sessions, kind, value, c.clock.now())
    except InvalidPolicy as exc:
        common.fail(str(exc))
    common.console.print(f"{kind}: {'off' if value is None else f'older than {value} days'}")


def _run(dry_run: bool) -> None:
    from tidings.application.privacy import retention

    c, sessions = _sessions()
    report = retention.run_retention(sessions, c.clock, actor="cli", dry_run=dry_run)
    _print_counts(report.counts, "would delete" if dry_run else "deleted")


@app.command("dry-run")
def dry_run() -> None:
    """Count what a run would delete now, per kind (deletes nothing; logged)."""
    _run(True)


@app.command("run")
def run() -> None:
    """Apply the policy now, in batches (the worker does it on a schedule)."""
    _run(False)


@app.command("log")
def log(limit: Annotated[int, typer.Option(min=1, max=1000, help="how many runs")] = 20) -> None:
    """The latest runs: when, by whom, dry run or not, counts per kind."""
    from tidings.application.privacy import retention

    _, sessions = _sessions()
    table = Table("started", "by", "dry run", "counts", box=None)
    for r in retention.run_log(sessions, limit):
        counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items()) or "-"
        table.add_row(r["started_at"].isoformat(timespec="seconds"), r["actor"], "yes" if r["dry_run"] else "no",
                      counts)
    common.console.print(table)
