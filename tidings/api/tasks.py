"""HTTP routes: sales tasks (list, create, read, update/complete), task routing (capacity, SLAs) and
the escalation pass on demand."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tidings.api.deps import RequireAdmin, RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.sales import tasks as service
from tidings.clock import utc
from tidings.store.sql_uow import joined

router = APIRouter(tags=["tasks"], route_class=StrictRoute)


def _error(exc: service.TaskError, where: str = "body") -> ApiError:
    code = "not_found" if exc.status == 404 else "validation_error"
    return ApiError(exc.status, code, f"{exc.field}: {exc}", [{"loc": [where, *exc.field.split(".")], "msg": str(exc)}])


class TaskIn(BaseModel):
    contact_id: int
    title: str = Field(min_length=1, max_length=300)
    body: str = ""
    owner: str | None = None
    team: str | None = None
    due_at: datetime | None = None


class TaskPatch(BaseModel):
    status: Literal["open", "done", "cancelled"] | None = None
    owner: str | None = None
    due_at: datetime | None = None
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = None


class Routing(BaseModel):
    teams: dict[str, list[str]] = Field(default_factory=dict, description="team -> rep emails (when no users)")
    rules: list[dict[str, Any]] = Field(default_factory=list, description="{attribute, equals, owner|team}")
    notify: dict[str, dict[str, Any]] = Field(default_factory=dict, description="team -> {webhook, email}")
    assignment: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="team -> {strategy: round_robin|least_loaded, max_open: n, reps: {email: n}} (capacity)",
    )
    sla: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="team -> {due_in: '5m', escalate_after: '10m', escalate_to: email, reassign: bool}",
    )


@router.get("/api/tasks", dependencies=[RequireRead])
def list_tasks(
    request: Request,
    owner: str | None = None,
    status: str | None = None,
    team: str | None = None,
    contact_id: int | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    c = container(request)
    with c.engine.connect() as conn:
        items = service.list_tasks(
            joined(conn), owner=owner, status=status, team=team, contact_id=contact_id, limit=min(max(limit, 1), 1000)
        )
    return {"items": [service.task_public(i) for i in items]}


@router.post("/api/tasks", status_code=201, dependencies=[RequireWrite])
def create_task(request: Request, body: TaskIn) -> dict[str, Any]:
    c = container(request)
    try:
        with c.engine.begin() as conn:
            task = service.create_task(
                joined(conn),
                contact_id=body.contact_id,
                title=body.title,
                body=body.body,
                owner=body.owner,
                team=body.team,
                now=c.clock.now(),
                due_at=utc(body.due_at) if body.due_at else None,
            )
    except service.TaskError as exc:
        raise _error(exc) from None
    return service.task_public(task)


@router.get("/api/tasks/{task_id}", dependencies=[RequireRead])
def get_task(request: Request, task_id: int) -> dict[str, Any]:
    c = container(request)
    with c.engine.connect() as conn:
        task = service.get_task(joined(conn), task_id)
    if task is None:
        raise ApiError(404, "not_found", f"no task {task_id}", [{"loc": ["path", "task_id"], "msg": "not found"}])
    return service.task_public(task)


@router.patch("/api/tasks/{task_id}", dependencies=[RequireWrite])
def update_task(request: Request, task_id: int, body: TaskPatch) -> dict[str, Any]:
    c = container(request)
    patch = body.model_dump(exclude_unset=True)
    if patch.get("due_at"):
        patch["due_at"] = utc(patch["due_at"])
    try:
        with c.engine.begin() as conn:
            task = service.update_task(joined(conn), task_id, patch, c.clock.now())
    except service.TaskError as exc:
        raise _error(exc, "path" if exc.field == "task_id" else "body") from None
    return service.task_public(task)


@router.get("/api/task-routing", dependencies=[RequireRead])
def get_routing(request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return service.get_routing(joined(conn))


@router.put("/api/task-routing", dependencies=[RequireAdmin])
def put_routing(request: Request, body: Routing) -> dict[str, Any]:
    c = container(request)
    try:
        with c.engine.begin() as conn:
            return service.set_routing(joined(conn), body.model_dump(), c.clock.now())
    except service.TaskError as exc:
        raise _error(exc) from None


@router.post("/api/tasks/escalate", dependencies=[RequireAdmin])
def escalate(request: Request) -> dict[str, Any]:
    """Run one escalation pass now (the worker runs it every TIDINGS_TASK_ESCALATION_SECONDS)."""
    from tidings.application.sales.escalation import escalation_pass

    c = container(request)
    with c.engine.begin() as conn:
        escalated = escalation_pass(joined(conn), c.clock.now())
    return {"escalated": escalated}
