"""CLI: tidings why CONTACT [--message ID] — why a contact got a message, from the trace."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from tidings.cli import common


def why(
    contact_id: Annotated[int, typer.Argument(help="contact id")],
    message: Annotated[int | None, typer.Option("--message", help="explain this message (outbox id)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Why did this contact get this? Journey, version, step, stimulus and conditions, from the trace."""
    from tidings.application.journeys.why import WhyNotFound
    from tidings.application.journeys.why import why as explain
    from tidings.store.traces_sql import SqlMessageTraces

    c = common.open_container()
    with c.engine.connect() as conn:
        try:
            data = explain(SqlMessageTraces(conn), contact_id, message)
        except WhyNotFound as exc:
            common.fail(str(exc))
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    if message is not None:
        _message(data["message"], detailed=True)
        return
    if not data["messages"] and not data["changes"]:
        common.console.print(f"contact {contact_id}: no journey has sent or changed anything yet")
    for m in data["messages"]:
        _message(m, detailed=False)
    if data["changes"]:
        common.console.print("[bold]changes[/]")
        for t in data["changes"]:
            _trace(t)


def _message(m: dict[str, Any], *, detailed: bool) -> None:
    common.console.print(
        f"[bold]message {m['message_id']}[/] {m['channel'] or m['kind']} '{m['template'] or ''}' "
        f"({m['status']}) at {m['created_at']}: journey '{m['journey']}' v{m['version']} "
        f"step '{m['step']}' on {m['stimulus']}",
        highlight=False,
    )
    if detailed:
        common.console.print(f"  {m.get('explanation', '')}", highlight=False)
        for t in m.get("path", []):
            _trace(t)


def _trace(t: dict[str, Any]) -> None:
    detail = json.dumps(t["detail"], default=str, sort_keys=True)
    if len(detail) > 300:
        detail = detail[:297] + "..."
    common.console.print(
        f"  {t['at']}  {t['journey'] or '-'} v{t['version'] or '-'}  {t['step'] or '-':16} "
        f"{t['stimulus']:>15} -> {t['action']:14} {detail}",
        highlight=False,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command("why")(why)
