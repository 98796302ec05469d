"""CLI: tidings partitions list | ensure | drop --before YYYY-MM (PostgreSQL's monthly partitions
of events and traces; docs/scale-out.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tidings.cli import common

if TYPE_CHECKING:
    from tidings.bootstrap import Container

app = typer.Typer(
    help="Monthly partitions of events and traces (PostgreSQL): list, make ahead, drop old months.",
    no_args_is_help=True,
)


def _container() -> Container:
    c = common.open_container()
    if c.engine.dialect.name != "postgresql":
        common.fail("partitions are PostgreSQL's: on SQLite events and traces are plain tables")
    return c


@app.command("list")
def list_() -> None:
    """Every partition, its month (or DEFAULT) and the planner's row estimate."""
    from tidings.store import partitions

    c = _container()
    with c.engine.connect() as conn:
        parts = partitions.list_partitions(conn)
    table = Table("table", "partition", "month", "rows (estimate)", box=None)
    for p in parts:
        month = "DEFAULT" if p.month is None else f"{p.month[0]:04d}-{p.month[1]:02d}"
        table.add_row(p.table, p.name, month, "?" if p.rows_estimate < 0 else str(p.rows_estimate))
    common.console.print(table)


@app.command("ensure")
def ensure(
    months_ahead: Annotated[
        int | None, typer.Option(help="months after the current one (default: the setting)")
    ] = None,
) -> None:
    """Create this month's partitions and the next months' (what the worker does daily)."""
    from tidings.store import partitions

    c = _container()
    ahead = c.settings.partition_months_ahead if months_ahead is None else months_ahead
    with c.engine.begin() as conn:
        created = partitions.ensure_partitions(conn, c.clock.now(), ahead)
    common.console.print(f"created: {', '.join(created)}" if created else "nothing to create")


@app.command("drop")
def drop(
    before: Annotated[str, typer.Option(help="drop the months before this one: YYYY-MM")],
    table: Annotated[str, typer.Option(help="events | traces | all")] = "all",
    apply: Annotated[bool, typer.Option("--apply", help="drop them (default: a dry run that lists them)")] = False,
) -> None:
    """DETACH and DROP whole months before ``--before`` (their rows are gone, instantly). A month
    that holds a row retention protects (an unprocessed event, a trace of a running enrolment)
    is kept and named."""
    from tidings.store import partitions
    from tidings.store.retention_sql import holds_protected

    m = re.fullmatch(r"(\d{4})-(\d{2})", before)
    if not m or not 1 <= int(m.group(2)) <= 12:
        common.fail(f"--before: YYYY-MM, not {before!r}")
    if table not in ("events", "traces", "all"):
        common.fail(f"--table: events, traces or all, not {table!r}")
    cutoff = datetime(int(m.group(1)), int(m.group(2)), 1)
    tables = list(partitions.PARTITION_KEYS) if table == "all" else [table]
    c = _container()
    out = Table("partition", "rows", "outcome", box=None)
    with c.engine.begin() as conn:
        for t in tables:
            for p in partitions.months_before(conn, t, cutoff):
                if holds_protected(conn, t, p.name):
                    out.add_row(p.name, "", "kept: holds rows retention protects")
                elif apply:
                    out.add_row(p.name, str(partitions.drop_partition(conn, t, p.name)), "dropped")
                else:
                    rows = partitions.row_count(conn, p.name)
                    out.add_row(p.name, str(rows), "would drop (dry run; --apply drops)")
    if not out.row_count:
        common.console.print(f"no month partition before {before}")
        return
    common.console.print(out)
