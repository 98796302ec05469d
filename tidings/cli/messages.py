"""CLI: tidings messages uncertain | mark-sent | resend — messages that may or may not have gone out.

A message is uncertain when its sender stopped while handing it to a provider that cannot confirm
receipt (a remote SMTP relay). Nothing resends it automatically: an operator decides here, in the
API (``/api/messages/uncertain``) or on the web page ``/messages/uncertain``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tidings.cli import common

app = typer.Typer(help="Messages: the uncertain ones and what to do with them.", no_args_is_help=True)

IdsArg = Annotated[list[int] | None, typer.Argument(help="outbox ids (see `tidings messages uncertain`)")]
AllOpt = Annotated[bool, typer.Option("--all", help="every uncertain message")]
YesOpt = Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")]


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@app.command("uncertain")
def uncertain_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="at most this many")] = 500,
) -> None:
    """List uncertain messages: id, channel/provider, contact, age, reason."""
    from rich.table import Table

    from tidings.application.delivery.uncertain import list_uncertain
    from tidings.store.uncertain import SqlUncertainMessages

    c = common.open_container()
    with c.engine.connect() as conn:
        repo = SqlUncertainMessages(conn)
        items = list_uncertain(repo, c.clock.now(), limit=limit)
        total = repo.count_uncertain()
    if as_json:
        print(json.dumps({"items": items, "total": total}, default=str))
        return
    if not items:
        common.console.print("no uncertain messages: every message was sent, retried or decided")
        return
    table = Table("id", "channel/provider", "contact", "age", "reason")
    for i in items:
        table.add_row(
            str(i["id"]), f"{i['channel']}/{i['provider'] or '?'}", str(i["contact"]), _age(int(i["age_s"])),
            str(i["error"] or ""),
        )
    common.console.print(table)
    common.console.print(f"{total} uncertain; decide with `tidings messages mark-sent` or `tidings messages resend`")


def _decide(action: str, ids: list[int] | None, all_: bool, yes: bool) -> None:
    from tidings.application.delivery.uncertain import WARNINGS, UncertainError, resolve
    from tidings.store.uncertain import SqlUncertainMessages

    if bool(ids) == all_:
        common.fail("give message ids or --all (not both)")
    c = common.open_container()
    with c.engine.connect() as conn:
        n = SqlUncertainMessages(conn).count_uncertain() if all_ else len(ids or [])
    what = "mark as sent" if action == "mark_sent" else "resend"
    common.err_console.print(f"[bold yellow]warning:[/] {WARNINGS[action]}", highlight=False)
    if not yes and not typer.confirm(f"{what.capitalize()} {n} message{'s' if n != 1 else ''}?"):
        common.fail("nothing done")
    try:
        with c.engine.begin() as conn:
            result = resolve(SqlUncertainMessages(conn), action, None if all_ else ids, c.clock.now())
    except UncertainError as exc:
        common.fail(str(exc))
    common.console.print(f"{what}: {len(result.done)} message(s) {' '.join(map(str, result.done))}", highlight=False)
    if result.skipped:
        skipped = ", ".join(f"{i} ({s})" for i, s in result.skipped.items())
        common.fail(f"not uncertain, left alone: {skipped}")


@app.command("mark-sent")
def mark_sent(ids: IdsArg = None, all_: AllOpt = False, yes: YesOpt = False) -> None:
    """Record uncertain messages as sent (the journey goes on; nothing is sent)."""
    _decide("mark_sent", ids, all_, yes)


@app.command("resend")
def resend(ids: IdsArg = None, all_: AllOpt = False, yes: YesOpt = False) -> None:
    """Send uncertain messages again (a recipient whose provider had it gets it twice)."""
    _decide("resend", ids, all_, yes)
