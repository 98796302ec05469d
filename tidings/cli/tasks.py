"""CLI: tidings tasks list | complete ID | team NAME --reps a@x,b@x — sales tasks."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli import common
from tidings.store.sql_uow import joined

app = typer.Typer(help="Sales tasks: list, complete, team reps for round robin.", no_args_is_help=True)


@app.command("list")
def list_(
    owner: Annotated[str | None, typer.Option(help="only this owner's tasks")] = None,
    status: Annotated[str | None, typer.Option(help="open | done | cancelled")] = "open",
    team: Annotated[str | None, typer.Option(help="only this team's tasks")] = None,
) -> None:
    """List tasks (open ones by default), soonest due first."""
    from rich.table import Table

    from tidings.application.sales.tasks import list_tasks

    c = common.open_container()
    with c.engine.connect() as conn:
        items = list_tasks(joined(conn), owner=owner, status=status or None, team=team)
    table = Table("id", "title", "contact", "owner", "team", "status", "due")
    for t in items:
        table.add_row(
            str(t["id"]),
            str(t["title"]),
            str(t["contact_id"]),
            str(t["owner"] or "-"),
            str(t["team"] or "-"),
            str(t["status"]),
            str(t["due_at"] or ""),
        )
    common.console.print(table)


@app.command("complete")
def complete(task_id: Annotated[int, typer.Argument(help="task id (see list)")]) -> None:
    """Mark a task done: journeys waiting for task.completed go on."""
    from tidings.application.sales.tasks import TaskError, update_task

    c = common.open_container()
    try:
        with c.engine.begin() as conn:
            update_task(joined(conn), task_id, {"status": "done"}, c.clock.now())
    except TaskError as exc:
        common.fail(str(exc))
    common.console.print(f"task {task_id} done", highlight=False)


@app.command("team")
def team(
    name: Annotated[str, typer.Argument(help="team name")],
    reps: Annotated[str, typer.Option(help="comma-separated rep emails, in round-robin order")],
) -> None:
    """Set a team's reps (used when no user account has this team)."""
    from tidings.application.sales.tasks import TaskError, get_routing, set_routing

    c = common.open_container()
    emails = [r.strip() for r in reps.split(",") if r.strip()]
    try:
        with c.engine.begin() as conn:
            routing = get_routing(joined(conn))
            routing["teams"][name] = emails
            set_routing(joined(conn), routing, c.clock.now())
    except TaskError as exc:
        common.fail(f"{exc.field}: {exc}")
    common.console.print(f"team {name}: {', '.join(emails) or '(no reps)'}", highlight=False)
