"""CLI: tidings tasks list | complete ID | team NAME --reps a@x,b@x [--strategy --max-open] |
sla TEAM --due-in 5m --escalate-after 10m --escalate-to lead@x | escalate — sales tasks."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli import common
from tidings.store.sql_uow import joined

app = typer.Typer(
    help="Sales tasks: list, complete, team reps, capacity and SLAs, escalation.", no_args_is_help=True
)


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
    table = Table("id", "title", "contact", "owner", "team", "status", "due", "escalated")
    for t in items:
        table.add_row(
            str(t["id"]),
            str(t["title"]),
            str(t["contact_id"]),
            str(t["owner"] or "-"),
            str(t["team"] or "-"),
            str(t["status"]),
            str(t["due_at"] or ""),
            f"{t['escalated_at']} -> {t['escalated_to'] or '-'}" if t.get("escalated_at") else "",
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
    strategy: Annotated[str | None, typer.Option(help="round_robin | least_loaded")] = None,
    max_open: Annotated[int | None, typer.Option(help="most open tasks per rep (round robin skips full reps)")] = None,
    rep_max: Annotated[str | None, typer.Option(help="per-rep maxima: a@x=3,b@x=5")] = None,
) -> None:
    """Set a team's reps (used when no user account has this team), its strategy and capacity."""
    from tidings.application.sales.tasks import TaskError, get_routing, set_routing

    c = common.open_container()
    emails = [r.strip() for r in reps.split(",") if r.strip()]
    maxima: dict[str, int] = {}
    for part in (rep_max or "").split(","):
        rep, _, n = part.partition("=")
        if part.strip() and not n.strip().isdigit():
            common.fail(f"--rep-max: {part.strip()!r} is not email=number")
        if part.strip():
            maxima[rep.strip()] = int(n)
    try:
        with c.engine.begin() as conn:
            routing = get_routing(joined(conn))
            routing["teams"][name] = emails
            if strategy is not None or max_open is not None or maxima:
                entry = dict(routing["assignment"].get(name) or {})
                entry |= {k: v for k, v in (("strategy", strategy), ("max_open", max_open)) if v is not None}
                if maxima:
                    entry["reps"] = dict(entry.get("reps") or {}) | maxima
                routing["assignment"][name] = entry
            set_routing(joined(conn), routing, c.clock.now())
    except TaskError as exc:
        common.fail(f"{exc.field}: {exc}")
    common.console.print(f"team {name}: {', '.join(emails) or '(no reps)'}", highlight=False)


@app.command("sla")
def sla(
    team: Annotated[str, typer.Argument(help="team name")],
    due_in: Annotated[str | None, typer.Option(help="due time of a task created without one, e.g. 5m")] = None,
    escalate_after: Annotated[str | None, typer.Option(help="escalate a task this long past due, e.g. 10m")] = None,
    escalate_to: Annotated[str | None, typer.Option(help="who is told (email); default the owner")] = None,
    reassign: Annotated[bool, typer.Option(help="give the task to --escalate-to")] = False,
    clear: Annotated[bool, typer.Option(help="remove the team's SLA")] = False,
) -> None:
    """Set a team's task SLA: a default due time and the escalation of overdue tasks."""
    from tidings.application.sales.tasks import TaskError, get_routing, set_routing

    c = common.open_container()
    entry = {
        k: v
        for k, v in (("due_in", due_in), ("escalate_after", escalate_after), ("escalate_to", escalate_to))
        if v is not None
    } | ({"reassign": True} if reassign else {})
    try:
        with c.engine.begin() as conn:
            routing = get_routing(joined(conn))
            if clear:
                routing["sla"].pop(team, None)
            else:
                routing["sla"][team] = entry
            set_routing(joined(conn), routing, c.clock.now())
    except TaskError as exc:
        common.fail(f"{exc.field}: {exc}")
    shown = ", ".join(f"{k} {v}" for k, v in entry.items()) or "none"
    common.console.print(f"team {team} SLA: {'removed' if clear else shown}", highlight=False)


@app.command("escalate")
def escalate() -> None:
    """Escalate the overdue tasks now (the worker does it every TIDINGS_TASK_ESCALATION_SECONDS)."""
    from tidings.application.sales.escalation import escalation_pass

    c = common.open_container()
    with c.engine.begin() as conn:
        done = escalation_pass(joined(conn), c.clock.now())
    ids = f": {', '.join(str(i) for i in done)}" if done else ""
    common.console.print(f"{len(done)} task(s) escalated{ids}", highlight=False)
