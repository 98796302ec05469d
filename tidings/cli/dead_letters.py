"""CLI: tidings dead-letters list | retry ID — webhooks that gave up after their retries."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli import common
from tidings.store.sql_uow import joined

app = typer.Typer(help="Outgoing webhooks that gave up: list and retry.", no_args_is_help=True)


@app.command("list")
def list_(all_: Annotated[bool, typer.Option("--all", help="include already retried ones")] = False) -> None:
    """List dead letters, newest first."""
    from rich.table import Table

    from tidings.application.delivery.dead_letters import list_dead_letters

    c = common.open_container()
    with c.engine.connect() as conn:
        items = list_dead_letters(joined(conn), include_retried=all_)
    table = Table("id", "outbox", "contact", "kind", "target", "reason", "at", "retried")
    for i in items:
        target = (i.get("payload") or {}).get("url", "")
        table.add_row(
            str(i["id"]),
            str(i["outbox_id"]),
            str(i["contact_id"]),
            str(i.get("kind") or ""),
            str(target),
            str(i["reason"]),
            str(i["created_at"]),
            str(i["retried_at"] or ""),
        )
    common.console.print(table)


@app.command("retry")
def retry(dead_letter_id: Annotated[int, typer.Argument(help="dead letter id (see list)")]) -> None:
    """Send a dead letter again: its outbox row goes back to pending with fresh attempts."""
    from tidings.application.delivery.dead_letters import DeadLetterError
    from tidings.application.delivery.dead_letters import retry as do_retry

    c = common.open_container()
    try:
        with c.engine.begin() as conn:
            result = do_retry(joined(conn), dead_letter_id, c.clock.now())
    except DeadLetterError as exc:
        common.fail(str(exc))
    common.console.print(
        f"dead letter {dead_letter_id}: outbox row {result['outbox_id']} is pending again", highlight=False
    )
