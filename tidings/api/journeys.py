"""HTTP routes: journeys (documents, versions, pause/resume, migration), enrolments, signals, why.

A journey document is sent as YAML (``Content-Type: application/yaml`` or text) or JSON; a bad
one is refused whole with a 422 whose details name the line and step id of every problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.control.audit_names import checker
from tidings.application.journeys import journeys as js
from tidings.application.journeys import signals, why
from tidings.application.journeys.engine import EngineError
from tidings.domain import jsonvalues
from tidings.domain.journeys.model import JourneyError
from tidings.store import audit_sql
from tidings.store.api_reads_sql import SqlApiReads
from tidings.store.sql_uow import joined
from tidings.store.traces_sql import SqlMessageTraces

router = APIRouter(tags=["journeys"], route_class=StrictRoute)
T = TypeVar("T")


def _invalid(exc: JourneyError) -> ApiError:
    return ApiError(422, "invalid_journey", str(exc.problems[0]) if exc.problems else "invalid journey", exc.details())


def _run(fn: Callable[[], T]) -> T:
    """Map service errors to structured API errors."""
    try:
        return fn()
    except JourneyError as exc:
        raise _invalid(exc) from exc
    except js.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except js.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except why.WhyNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except EngineError as exc:
        status = {"not_found": 404, "conflict": 409}.get(exc.code, 422)
        raise ApiError(status, exc.code if status != 422 else "validation_error", str(exc)) from exc


async def _document_text(request: Request) -> str:
    """The document from the body: YAML text, a JSON document, or JSON ``{"source": "..."}``."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(
            422,
            "validation_error",
            "the body must be a journey document (YAML or JSON)",
            [{"loc": ["body"], "msg": "empty"}],
        )
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise ApiError(
            422, "validation_error", "the body must be UTF-8", [{"loc": ["body"], "msg": "not UTF-8"}]
        ) from exc
    if "json" in request.headers.get("content-type", ""):
        try:
            data = jsonvalues.loads(text)
        except ValueError as exc:
            raise ApiError(
                422, "validation_error", f"invalid JSON: {exc}", [{"loc": ["body"], "msg": str(exc)}]
            ) from exc
        if isinstance(data, dict) and isinstance(data.get("source"), str) and "steps" not in data:
            return str(data["source"])
        return json.dumps(data, indent=1)
    return text


def _published(p: js.Published) -> dict[str, Any]:
    return {
        "key": p.key,
        "version": p.version,
        "checksum": p.checksum,
        "created": p.created,
        "warnings": list(p.warnings),
        "name_warnings": [w.to_dict() for w in p.name_warnings],
    }


StrictQuery = Query(False, description="names nothing produces or defines are errors (422), not warnings")


@router.get("/api/journeys", dependencies=[RequireRead])
def list_journeys(request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return {"items": js.list_all(joined(conn))}


@router.post("/api/journeys/validate", dependencies=[RequireRead])
async def validate_journey(request: Request, strict: bool = StrictQuery) -> dict[str, Any]:
    text = await _document_text(request)
    c = container(request)

    def work() -> dict[str, Any]:
        from tidings.application.control import audit_names

        with c.engine.connect() as conn:
            doc = js.validate(joined(conn), text)
            warnings = audit_names.check(conn, doc, audit_sql, strict=strict)
        return {"valid": True, "key": doc.key, "steps": list(doc.steps), "triggers": len(doc.triggers),
                "name_warnings": [w.to_dict() for w in warnings]}  # fmt: skip

    return await run_in_threadpool(_run, work)


@router.post("/api/journeys", status_code=201, dependencies=[RequireWrite])
async def save_journey(
    request: Request, publish: bool = Query(False, description="publish it as well"), strict: bool = StrictQuery
) -> dict[str, Any]:
    """Validate and save a draft (and publish it when ``?publish=true``)."""
    text = await _document_text(request)
    c = container(request)

    def work() -> dict[str, Any]:
        with c.engine.begin() as conn:
            now = c.clock.now()
            if publish:
                names = partial(checker(audit_sql, strict=strict), conn)
                p = js.publish(joined(conn), now, text=text, check_names=names)
                return {**_published(p), "draft": False}
            return js.save_draft(joined(conn), text, now)

    return await run_in_threadpool(_run, work)


@router.get("/api/journeys/{key}", dependencies=[RequireRead])
def get_journey(key: str, request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return _run(lambda: js.describe(joined(conn), key))


@router.post("/api/journeys/{key}/publish", dependencies=[RequireWrite])
async def publish_journey(key: str, request: Request, strict: bool = StrictQuery) -> dict[str, Any]:
    """Publish the body's document, or the saved draft when the body is empty."""
    raw = await request.body()
    text = await _document_text(request) if raw.strip() else None
    c = container(request)

    def work() -> dict[str, Any]:
        with c.engine.begin() as conn:
            checks = partial(checker(audit_sql, strict=strict), conn)
            return _published(js.publish(joined(conn), c.clock.now(), text=text, key=key, check_names=checks))

    return await run_in_threadpool(_run, work)


@router.post("/api/journeys/{key}/pause", dependencies=[RequireWrite])
def pause_journey(key: str, request: Request) -> dict[str, Any]:
    c = container(request)
    with c.engine.begin() as conn:
        return _run(lambda: js.pause(joined(conn), key, c.clock.now()))


@router.post("/api/journeys/{key}/resume", dependencies=[RequireWrite])
def resume_journey(key: str, request: Request) -> dict[str, Any]:
    c = container(request)
    with c.engine.begin() as conn:
        return _run(lambda: js.resume(joined(conn), key, c.clock.now()))


@router.get("/api/journeys/{key}/versions", dependencies=[RequireRead])
def journey_versions(key: str, request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return {"items": _run(lambda: js.describe(joined(conn), key))["versions"]}


@router.get("/api/journeys/{key}/versions/{version}", dependencies=[RequireRead])
def journey_version(key: str, version: int, request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        row = _run(lambda: js._require(joined(conn), key))
        v = SqlApiReads(conn).journey_version(row["id"], version)
    if v is None:
        raise ApiError(404, "not_found", f"journey {key!r} has no version {version}")
    return {
        "key": key,
        "version": version,
        "checksum": v["checksum"],
        "published_at": v["published_at"].isoformat(),
        "document": v["document"],
        "source": v["source"],
    }


class MigrateBody(BaseModel):
    to_version: int | None = Field(default=None, description="target version (default: the current one)")
    from_version: int | None = Field(default=None, description="only enrolments on this version")
    mapping: dict[str, str] = Field(default_factory=dict, description="old step id -> new step id")


@router.post("/api/journeys/{key}/migrate", dependencies=[RequireWrite])
def migrate_journey(
    key: str,
    request: Request,
    body: MigrateBody | None = None,
    dry_run: bool = Query(True, description="preview who moves where without moving"),
) -> dict[str, Any]:
    c = container(request)
    b = body or MigrateBody()
    with c.engine.begin() as conn:
        return _run(
            lambda: js.migrate(
                joined(conn),
                key,
                c.clock.now(),
                to_version=b.to_version,
                from_version=b.from_version,
                mapping=b.mapping,
                dry_run=dry_run,
            )
        )


@router.get("/api/journeys/{key}/enrollments", dependencies=[RequireRead])
def journey_enrollments(
    key: str,
    request: Request,
    status: str | None = None,
    step: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    after_id: int = Query(0, ge=0),
) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        row = _run(lambda: js._require(joined(conn), key))
        rows = SqlApiReads(conn).enrollments_page(row["id"], status=status, step=step, after_id=after_id, limit=limit)
    items = [_enrollment(r, key) for r in rows]
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}


def _enrollment(r: Any, key: str) -> dict[str, Any]:
    state = r["state"] or {}
    waiting = state.get("waiting") or {}
    return {
        "id": r["id"],
        "journey": key,
        "contact_id": r["contact_id"],
        "version": r["version"],
        "key": r["enroll_key"],
        "status": r["status"],
        "end_reason": r["end_reason"],
        "step": r["step_id"],
        "waiting_until": waiting.get("until"),
        "entered_at": r["entered_at"].isoformat(),
        "ended_at": r["ended_at"].isoformat() if r["ended_at"] else None,
    }


class EnrollBody(BaseModel):
    contact_id: int
    key: str = Field(default="", max_length=200, description="enrolment key (order id...): once per key")


@router.post("/api/journeys/{key}/enroll", status_code=201, dependencies=[RequireWrite])
def enroll(key: str, body: EnrollBody, request: Request) -> dict[str, Any]:
    return _run(lambda: signals.enroll(container(request), key, body.contact_id, body.key))


@router.get("/api/enrollments/{enrollment_id}", dependencies=[RequireRead])
def get_enrollment(enrollment_id: int, request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        r = SqlApiReads(conn).enrollment(enrollment_id)
    if r is None:
        raise ApiError(404, "not_found", f"no enrolment {enrollment_id}")
    return {**_enrollment(r, r["journey_key"]), "state": r["state"]}


class SignalBody(BaseModel):
    signal: str = Field(description="e.g. reschedule, stop")
    data: dict[str, Any] = Field(default_factory=dict)


@router.post("/api/enrollments/{enrollment_id}/signal", dependencies=[RequireWrite])
def signal(enrollment_id: int, body: SignalBody, request: Request) -> dict[str, Any]:
    return _run(lambda: signals.send_signal(container(request), enrollment_id, body.signal, body.data))


@router.get("/api/contacts/{contact_id}/why", dependencies=[RequireRead])
def contact_why(contact_id: int, request: Request, message_id: int | None = None) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return _run(lambda: why.why(SqlMessageTraces(conn), contact_id, message_id))
