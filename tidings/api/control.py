"""HTTP routes: alerts, the global send policy, the kill switch, bulk stop by causing tag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tidings.api.deps import RequireAdmin, RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.control import alerts as al
from tidings.application.control import policies as pol
from tidings.application.control import sending as snd
from tidings.domain.control.policy import PolicyError
from tidings.store.control import SqlControl

router = APIRouter(tags=["control"], route_class=StrictRoute)
T = TypeVar("T")


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except PolicyError as exc:
        raise ApiError(
            422, "invalid_policy", str(exc.problems[0][1]) if exc.problems else str(exc), exc.details()
        ) from exc
    except snd.SendingError as exc:
        raise ApiError(422, "validation_error", str(exc), [{"loc": ["body", exc.field], "msg": str(exc)}]) from exc
    except al.AlertNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc


@router.get("/api/alerts", dependencies=[RequireRead])
def list_alerts(request: Request, all: bool = Query(False, description="include acknowledged")) -> dict[str, Any]:  # noqa: A002
    with container(request).engine.connect() as conn:
        return {"items": al.list_alerts(SqlControl(conn), include_acknowledged=all)}


class Ack(BaseModel):
    by: str = Field(default="api", max_length=320)


@router.post("/api/alerts/{alert_id}/acknowledge", dependencies=[RequireAdmin])
def acknowledge(alert_id: int, request: Request, body: Ack | None = None) -> dict[str, Any]:
    c = container(request)
    with c.engine.begin() as conn:
        return _run(lambda: al.acknowledge(SqlControl(conn), alert_id, (body or Ack()).by, c.clock.now()))


@router.get("/api/policies", dependencies=[RequireRead])
def show_policy(request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return pol.show(SqlControl(conn))


@router.put("/api/policies", dependencies=[RequireAdmin])
async def put_policy(request: Request) -> dict[str, Any]:
    """The policy document as JSON, or YAML text (``Content-Type: application/yaml``)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    c = container(request)

    def work() -> dict[str, Any]:
        doc = pol.parse_text(raw)  # JSON is YAML
        with c.engine.begin() as conn:
            return pol.save(SqlControl(conn), doc, c.clock.now(), by="api", source=raw)

    return await run_in_threadpool(lambda: _run(work))


class PauseBody(BaseModel):
    channel: str | None = Field(default=None, max_length=40)
    by: str | None = Field(default=None, max_length=320)


class ResumeBody(PauseBody):
    dry_run: bool = False


@router.get("/api/sending", dependencies=[RequireRead])
def sending_status(request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return snd.status(SqlControl(conn))


@router.post("/api/sending/pause", dependencies=[RequireAdmin])
def sending_pause(request: Request, body: PauseBody | None = None) -> dict[str, Any]:
    c, b = container(request), body or PauseBody()
    with c.engine.begin() as conn:
        return _run(lambda: snd.pause(SqlControl(conn), c.clock.now(), channel=b.channel, by=b.by or "api"))


@router.post("/api/sending/resume", dependencies=[RequireAdmin])
def sending_resume(request: Request, body: ResumeBody | None = None) -> dict[str, Any]:
    c, b = container(request), body or ResumeBody()
    with c.engine.begin() as conn:
        return _run(
            lambda: snd.resume(SqlControl(conn), c.clock.now(), channel=b.channel, by=b.by or "api", dry_run=b.dry_run)
        )


class StopBody(BaseModel):
    caused_by_tag: str = Field(..., min_length=1, max_length=200)
    apply: bool = False
    by: str | None = Field(default=None, max_length=320)


@router.post("/api/enrollments/stop", dependencies=[RequireAdmin])
def stop_enrolments(request: Request, body: StopBody) -> dict[str, Any]:
    """Preview (``apply: false``) or stop every running enrolment a tag caused."""
    c = container(request)
    with c.engine.begin() as conn:
        return _run(
            lambda: snd.stop_caused_by_tag(
                SqlControl(conn), body.caused_by_tag, c.clock.now(), apply=body.apply, by=body.by or "api"
            )
        )
