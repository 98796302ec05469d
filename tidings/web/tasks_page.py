"""Page: sales tasks — mine, my team's, everyone's; open / overdue / done; complete one.

Completing goes through ``services.tasks.update_task`` (as ``PATCH /api/tasks/{id}`` does), which
records ``task.completed`` for the contact and enqueues it, so journeys waiting for it move on.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.sales import tasks as tasks_service
from tidings.domain.statuses import TaskStatus
from tidings.store import web_reads_sql as queries
from tidings.store.sql_uow import joined
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

SCOPES = ("mine", "team", "all")


def _scope(value: str | None, session: Session) -> str:
    if value == "team" and not session.user.team:
        return "all"
    return value if value in SCOPES else "mine"


def _show(value: str | None) -> str:
    return value if value in queries.TASK_SHOWS else "open"


def _who(scope: str, session: Session) -> tuple[str | None, str | None]:
    """(owner, team) to filter on."""
    if scope == "mine":
        return session.user.email, None
    if scope == "team":
        return None, session.user.team
    return None, None


@router.get("/tasks")
def tasks_page(request: Request, session: Session = Viewer) -> Response:
    p = request.query_params
    scope, show = _scope(p.get("scope"), session), _show(p.get("show"))
    c = container(request)
    now = c.clock.now()
    owner, team = _who(scope, session)
    # "Mine" also holds my team's overdue tasks that nobody owns: someone has to pick them up.
    unassigned_of = session.user.team if scope == "mine" else None
    with c.engine.connect() as conn:
        rows = queries.task_list(conn, show, now, owner=owner, team=team, unassigned_of=unassigned_of)
        counts = queries.task_counts(conn, now, owner=owner, team=team, unassigned_of=unassigned_of)
    return render(
        request,
        "tasks.html",
        {
            "rows": rows,
            "counts": counts,
            "scope": scope,
            "show": show,
            "shows": queries.TASK_SHOWS,
            "notice": p.get("notice", ""),
        },
        page="tasks",
    )


@router.post("/tasks/{task_id}/complete")
def complete_task(task_id: int, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    scope, show = _scope(str(form.get("scope", "")), session), _show(str(form.get("show", "")))
    c = container(request)
    try:
        with c.engine.begin() as conn:
            before = tasks_service.get_task(joined(conn), task_id)
            if before is None:
                raise PageNotFound(f"Task {task_id}")
            if before["status"] == TaskStatus.DONE:
                notice = f"“{before['title']}” was already done."
            else:
                tasks_service.update_task(joined(conn), task_id, {"status": TaskStatus.DONE}, c.clock.now())
                notice = f"Done: “{before['title']}”."
    except tasks_service.TaskError as exc:
        if exc.status == 404:
            raise PageNotFound(f"Task {task_id}") from None
        notice = f"Not completed: {exc}"
    query = urlencode({"scope": scope, "show": show, "notice": notice})
    return RedirectResponse(f"/tasks?{query}", status_code=303)
